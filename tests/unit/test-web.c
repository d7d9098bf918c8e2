/* test-web.c - omamori-web's pure parsers (web/web-parse.c), its rate
 * buckets (web/web-rate.c), its text tables (web/web-text.c) and its
 * per-thread caches (web/web-settings.c, web/web-zone.c): a form body is
 * read exactly or refused, the browser's language and the client's
 * address are picked as doc/web.md says (the UNIX socket's peers too), a
 * POST from another site is told apart, a bucket refills at its rate, an
 * account's failed logins block it for a window, no
 * page text is missing in either language, escaping gives what
 * om_sanitize and a character-by-character escape gave, a cached setting never
 * outlives a change of the store's configuration, and a cached zone
 * offset gives the date TZ would, DST and half-hour zones included. */
#include "tap.h"
#include "web-html.h"
#include "web-lockout.h"
#include "web-parse.h"
#include "web-rate.h"
#include "web-settings.h"
#include "web-text.h"
#include "web-zone.h"
#include "lib/util.h"
#include "store/settings.h"
#include "store/store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

static void test_form_good(void)
{
	static const struct {
		const char *body, *name, *value;
	} rows[] = {
		{ "op=release&csrf=a.b", "op", "release" },
		{ "op=release&csrf=a.b", "csrf", "a.b" },
		{ "entry=taro%40example.jp", "entry", "taro@example.jp" },
		{ "q=a+b%20c", "q", "a b c" },
		{ "x=", "x", "" },
		{ "u=%E6%97%A5%E6%9C%AC", "u", "日本" },
		{ "time=15%3A00", "time", "15:00" },
		{ "csv=allow%2Ca%40b.jp%0D%0Ablock%2C%40c.jp", "csv",
		  "allow,a@b.jp\r\nblock,@c.jp" },
	};
	struct web_form form;
	const char *error = NULL;
	size_t i;
	int ok;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++) {
		ok = web_form_parse(rows[i].body, strlen(rows[i].body), &form, &error) == 0;
		TAP_OK(ok && web_form_get(&form, rows[i].name) != NULL &&
		       strcmp(web_form_get(&form, rows[i].name), rows[i].value) == 0,
		       "form %s: %s = '%s'", rows[i].body, rows[i].name, rows[i].value);
		if (ok)
			web_form_free(&form);
	}
	TAP_OK(web_form_parse("", 0, &form, &error) == 0 && form.count == 0,
	       "an empty body is an empty form");
	TAP_OK(web_form_parse("a=1&b=2", 3, &form, &error) == 0 && form.count == 1 &&
	       web_form_get(&form, "b") == NULL, "only len bytes are read");
	web_form_free(&form);
}

static void test_form_bad(void)
{
	static const char *const bad[] = {
		"a=%", "a=%4", "a=%zz", "a=%00", "a=%0a", "a=%7f", "csv=x%00", "csv=%09", "a=%C3", "a=%C3%28",
		"a=%ED%A0%80",	/* a surrogate */
		"a=%C0%AF",	/* overlong '/' */
		"a", "=b", "A=b", "a b=c", "a=1&a=2", "a=1&&b=2", "a=1&", "&a=1",
		"a=\x01",
	};
	char big[WEB_FORM_MAX_VALUE + 8], many[400];
	struct web_form form;
	const char *error;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(bad); i++) {
		error = NULL;
		TAP_OK(web_form_parse(bad[i], strlen(bad[i]), &form, &error) < 0 &&
		       error != NULL && form.count == 0, "form refused: %s", bad[i]);
	}
	memset(big, 'x', sizeof(big));
	memcpy(big, "a=", 2);
	big[sizeof(big) - 1] = '\0';
	TAP_OK(web_form_parse(big, strlen(big), &form, &error) < 0,
	       "a value over %d bytes is refused", WEB_FORM_MAX_VALUE);
	many[0] = '\0';
	for (i = 0; i <= WEB_FORM_MAX_FIELDS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sf%zu=1",
			 i > 0 ? "&" : "", i);
	TAP_OK(web_form_parse(many, strlen(many), &form, &error) < 0,
	       "more than %d fields are refused", WEB_FORM_MAX_FIELDS);
}

/* A form fed in pieces of every size gives the same answer: the parser
   reads a length, never a NUL, so a cut copy must not pass for more. */
static void test_form_pieces(void)
{
	const char *body = "do=list-add&kind=block&entry=a%40b.example&csrf=x.y";
	struct web_form form;
	const char *error;
	size_t len, agree = 0;

	for (len = 0; len <= strlen(body); len++) {
		char *copy = om_strndup(body, len);
		int ret = web_form_parse(copy, len, &form, &error);

		if (ret == 0) {
			agree += form.count <= 4;
			web_form_free(&form);
		} else {
			agree++;
		}
		free(copy);
	}
	TAP_OK(agree == strlen(body) + 1, "every prefix parses or is refused cleanly");
}

static void test_language(void)
{
	static const struct {
		const char *header, *def, *want;
	} rows[] = {
		{ NULL, "ja", "ja" },
		{ "", "en", "en" },
		{ "en-US,en;q=0.9", "ja", "en" },
		{ "ja-JP", "en", "ja" },
		{ "fr, en;q=0.5, ja;q=0.8", "en", "ja" },
		{ "fr, de", "ja", "ja" },
		{ "ja;q=0, en;q=0.1", "ja", "en" },
		{ "EN", "ja", "en" },
		{ "jav, english", "en", "en" },	/* not "ja" */
		{ "en;q=1.0, ja;q=0.999", "ja", "en" },
		{ "en;q=abc, ja;q=0.2", "en", "ja" },
		{ "ja;q=2", "en", "en" },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++)
		TAP_OK(strcmp(web_parse_language(rows[i].header, rows[i].def),
			      rows[i].want) == 0,
		       "Accept-Language '%s' (default %s) -> %s",
		       rows[i].header != NULL ? rows[i].header : "(none)",
		       rows[i].def, rows[i].want);
}

static void test_client(void)
{
	static const struct {
		const char *peer, *trusted, *xff, *want;
	} rows[] = {
		{ "127.0.0.1", "", "203.0.113.9", "127.0.0.1" },
		{ "127.0.0.1", "127.0.0.1", "203.0.113.9", "203.0.113.9" },
		{ "127.0.0.1", "10.0.0.1 127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9" },
		{ "127.0.0.1", "127.0.0.1", " 203.0.113.9 ", "203.0.113.9" },
		{ "127.0.0.1", "127.0.0.1", "evil, not-an-ip", "127.0.0.1" },
		{ "127.0.0.1", "127.0.0.1", NULL, "127.0.0.1" },
		{ "127.0.0.1", "127.0.0.1", "2001:DB8::0:1", "2001:db8::1" },
		{ "192.0.2.1", "127.0.0.1", "203.0.113.9", "192.0.2.1" },
		{ "::1", "0:0::1", "198.51.100.7", "198.51.100.7" },
		{ "127.0.0.1", "127.0.0.1", "1.2.3.4,", "127.0.0.1" },
		/* the UNIX socket's peers: believed only when "unix" is listed */
		{ "unix", "", "203.0.113.9", "unix" },
		{ "unix", "127.0.0.1", "203.0.113.9", "unix" },
		{ "unix", "unixy unix0", "203.0.113.9", "unix" },
		{ "unix", "127.0.0.1 unix", "1.2.3.4, 203.0.113.9", "203.0.113.9" },
		{ "unix", "unix", "not-an-ip", "unix" },
		{ "unix", "unix", NULL, "unix" },
		/* "unix" trusts no TCP peer, loopback included */
		{ "127.0.0.1", "unix", "203.0.113.9", "127.0.0.1" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++)
		TAP_OK(web_parse_client(rows[i].peer, rows[i].trusted, rows[i].xff,
					buf, sizeof(buf)) == 0 &&
		       strcmp(buf, rows[i].want) == 0,
		       "client: peer %s, trusted '%s', X-Forwarded-For '%s' -> %s (%s)",
		       rows[i].peer, rows[i].trusted, rows[i].xff != NULL ? rows[i].xff : "",
		       rows[i].want, buf);
	TAP_OK(web_parse_rate_key("2001:db8:1:2:3:4:5:6", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "2001:db8:1:2::/64") == 0, "an IPv6 client is limited by its /64");
	TAP_OK(web_parse_rate_key("192.0.2.5", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "192.0.2.5") == 0, "an IPv4 client by its address");
	TAP_OK(web_parse_rate_key("unix", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "unix") == 0, "the UNIX socket's untrusted peers share a key");
}

static void test_post_origin(void)
{
	static const char url[] = "https://mail.isp.example/omamori/";
	static const struct {
		const char *site, *origin, *host;
		int want;
	} rows[] = {
		{ NULL, NULL, "mail.isp.example", 1 },		/* no browser headers */
		{ "same-origin", NULL, "mail.isp.example", 1 },
		{ "none", NULL, "mail.isp.example", 1 },	/* typed by the user */
		{ "cross-site", NULL, "mail.isp.example", 0 },
		{ "same-site", NULL, "mail.isp.example", 0 },
		{ "", NULL, "mail.isp.example", 0 },
		{ NULL, "https://mail.isp.example", "mail.isp.example", 1 },
		{ NULL, "https://MAIL.isp.example", "mail.isp.example", 1 },
		{ NULL, "http://127.0.0.1:8741", "127.0.0.1:8741", 1 },
		{ NULL, "https://mail.isp.example", "127.0.0.1:8741", 1 },	/* web_url's */
		{ NULL, "https://evil.example", "mail.isp.example", 0 },
		{ NULL, "https://mail.isp.example.evil.example", "mail.isp.example", 0 },
		{ NULL, "http://127.0.0.1:9999", "127.0.0.1:8741", 0 },
		{ NULL, "https://evil.example", NULL, 0 },
		{ NULL, "garbage", "mail.isp.example", 0 },
		/* our own pages send "null" under Referrer-Policy: no-referrer */
		{ NULL, "null", "mail.isp.example", 1 },
		{ "same-origin", "null", "mail.isp.example", 1 },
		{ "cross-site", "null", "mail.isp.example", 0 },
		{ "same-origin", "https://evil.example", "mail.isp.example", 0 },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++)
		TAP_OK(web_parse_post_origin(rows[i].site, rows[i].origin, rows[i].host,
					     url) == rows[i].want,
		       "POST with Sec-Fetch-Site %s, Origin %s, Host %s: %s",
		       rows[i].site != NULL ? rows[i].site : "(none)",
		       rows[i].origin != NULL ? rows[i].origin : "(none)",
		       rows[i].host != NULL ? rows[i].host : "(none)",
		       rows[i].want ? "allowed" : "refused");
}

static void test_lockout(void)
{
	struct web_lockout l;
	char key[32];
	unsigned int i;
	int ok = 1;

	TAP_OK(web_lockout_init(&l, 5, 900.0, 4) == 0, "login table");
	for (i = 1; i <= 4; i++)
		ok &= web_lockout_fail(&l, "Alice@Example.test", 100.0 + i) == i &&
			!web_lockout_blocked(&l, "alice@example.test", 100.0 + i);
	TAP_OK(ok, "four failures: the account may still try");
	TAP_OK(web_lockout_fail(&l, "alice@example.test", 110.0) == 5 &&
	       web_lockout_blocked(&l, "ALICE@example.test", 110.0) &&
	       web_lockout_blocked(&l, "alice@example.test", 1000.0),
	       "the fifth blocks the account (any case) until the window ends");
	TAP_OK(!web_lockout_blocked(&l, "bob@example.test", 110.0),
	       "other accounts are not blocked");
	TAP_OK(!web_lockout_blocked(&l, "alice@example.test", 101.0 + 900.0),
	       "15 minutes after the first failure, it may try again");
	TAP_OK(web_lockout_fail(&l, "alice@example.test", 1001.0) == 1,
	       "and a new window counts from one");
	web_lockout_clear(&l, "Alice@example.test");
	TAP_OK(!web_lockout_blocked(&l, "alice@example.test", 1001.0) &&
	       web_lockout_fail(&l, "alice@example.test", 1002.0) == 1,
	       "a good login forgets the failures");
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "u%u", i);
		ok &= web_lockout_fail(&l, key, 1002.0) == 1;
	}
	TAP_OK(ok && web_lockout_fail(&l, "new", 1003.0) == 0 &&
	       !web_lockout_blocked(&l, "new", 1003.0),
	       "a full table does not count a new account");
	TAP_OK(web_lockout_fail(&l, "new", 1002.0 + 900.0) == 1,
	       "accounts whose window passed are forgotten when the table fills");
	web_lockout_deinit(&l);
}

/* 1 if addr (AF_UNIX) names path. */
static int unix_path_is(const struct sockaddr_storage *addr, const char *path)
{
	struct sockaddr_un un;

	memcpy(&un, addr, sizeof(un));
	return strcmp(un.sun_path, path) == 0;
}

static void test_token_and_listen(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "example.jp:80",
		"127.0.0.1:80x", "[::1:80", ":80",
		"unix:", "unix:web.sock", "unix:run/web.sock", "unix:/run/../etc/x",
	};
	size_t i;
	struct sockaddr_storage addr;
	socklen_t len;
	char *error = NULL, *long_token;

	TAP_OK(web_parse_token_ok("abc-_.DEF09") && !web_parse_token_ok("") &&
	       !web_parse_token_ok("abc") && !web_parse_token_ok(".abc") &&
	       !web_parse_token_ok("abc.") && !web_parse_token_ok("a.b.c") &&
	       !web_parse_token_ok("a+b.c") && !web_parse_token_ok("a/b.c") &&
	       !web_parse_token_ok("a%2e.c"), "token text: base64url and one dot");
	long_token = om_malloc(2100);
	memset(long_token, 'A', 2099);
	long_token[10] = '.';
	long_token[2099] = '\0';
	TAP_OK(!web_parse_token_ok(long_token), "a token over 2048 bytes is refused");
	free(long_token);
	TAP_OK(web_parse_listen("127.0.0.1:8741", &addr, &len, &error) == 0 &&
	       addr.ss_family == AF_INET, "listen 127.0.0.1:8741");
	TAP_OK(web_parse_listen("[::1]:8741", &addr, &len, &error) == 0 &&
	       addr.ss_family == AF_INET6, "listen [::1]:8741");
	TAP_OK(web_parse_listen("localhost:80", &addr, &len, &error) == 0,
	       "listen localhost:80");
	TAP_OK(web_parse_listen("127.9.9.9:1", &addr, &len, &error) == 0,
	       "listen anywhere in 127/8");
	TAP_OK(web_parse_listen("unix:/run/omamori-web/web.sock", &addr, &len, &error) == 0 &&
	       addr.ss_family == AF_UNIX &&
	       unix_path_is(&addr, "/run/omamori-web/web.sock") &&
	       len == offsetof(struct sockaddr_un, sun_path) + sizeof("/run/omamori-web/web.sock"),
	       "listen unix:/run/omamori-web/web.sock");
	long_token = om_malloc(200);
	memset(long_token, 'a', 199);
	memcpy(long_token, "unix:/", 6);
	long_token[199] = '\0';
	TAP_OK(web_parse_listen(long_token, &addr, &len, &error) < 0 &&
	       strstr(error, "too long") != NULL, "a UNIX socket path too long is refused");
	om_free(&error);
	free(long_token);
	TAP_OK(web_parse_listen("0.0.0.0:8741", &addr, &len, &error) < 0 &&
	       strstr(error, "loopback") != NULL, "0.0.0.0 is refused: %s", error);
	om_free(&error);
	TAP_OK(web_parse_listen("192.0.2.1:8741", &addr, &len, &error) < 0, "a public address is refused");
	om_free(&error);
	TAP_OK(web_parse_listen("[::]:8741", &addr, &len, &error) < 0, "[::] is refused");
	om_free(&error);
	for (i = 0; i < OM_N_ELEMENTS(refused); i++) {
		TAP_OK(web_parse_listen(refused[i], &addr, &len, &error) < 0 && error != NULL,
		       "listen %s is refused", refused[i]);
		om_free(&error);
	}
}

static void test_bucket(void)
{
	struct web_bucket b;
	int i, taken = 0;

	web_bucket_init(&b, 100.0, 60);
	for (i = 0; i < 100; i++)
		taken += web_bucket_take(&b, 100.0, 60, 1.0);
	TAP_OK(taken == 60, "a full bucket of 60 gives 60 requests at once (%d)", taken);
	TAP_OK(!web_bucket_take(&b, 100.5, 60, 1.0), "half a second later: none yet");
	TAP_OK(web_bucket_take(&b, 101.0, 60, 1.0) && !web_bucket_take(&b, 101.0, 60, 1.0),
	       "one second later: one (60 a minute)");
	TAP_OK(!web_bucket_full(&b, 150.0, 60) && web_bucket_full(&b, 161.0, 60),
	       "full again after a minute");
	web_bucket_init(&b, 0.0, 60);
	web_bucket_charge(&b, 0.0, 60, 200.0);
	TAP_OK(b.tokens == -60.0, "a penalty leaves at most a minute's debt");
	TAP_OK(!web_bucket_take(&b, 60.0, 60, 1.0) && web_bucket_take(&b, 61.5, 60, 1.0),
	       "after the debt, requests come back");
	web_bucket_init(&b, 10.0, 60);
	TAP_OK(web_bucket_take(&b, 5.0, 60, 1.0) && b.tokens == 59.0,
	       "a clock going back gives nothing");
}

static void test_rate_table(void)
{
	struct web_rate r;
	char key[32];
	int i, ok = 1;

	TAP_OK(web_rate_init(&r, 2, 4) == 0, "rate table");
	TAP_OK(web_rate_allow(&r, "a", 0.0) && web_rate_allow(&r, "a", 0.0) &&
	       !web_rate_allow(&r, "a", 0.0) && web_rate_allow(&r, "b", 0.0),
	       "two a minute per client, clients apart");
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		ok &= web_rate_allow(&r, key, 0.0);
	}
	TAP_OK(ok && !web_rate_allow(&r, "new", 0.0),
	       "a full table refuses a new client (fails closed)");
	TAP_OK(web_rate_allow(&r, "new", 120.0),
	       "full buckets are forgotten when the table fills");
	web_rate_penalty(&r, "b", 120.0, 10.0);
	TAP_OK(!web_rate_allow(&r, "b", 120.0), "a penalty blocks the client");
	web_rate_deinit(&r);
}

static void test_texts(void)
{
	int id, missing = 0;

	for (id = 0; id < WT_COUNT; id++) {
		if (id == WT_DIGEST_EVERY_PRE)
			continue;	/* Japanese puts the number first */
		missing += web_text("ja", id)[0] == '\0';
		missing += web_text("en", id)[0] == '\0';
	}
	TAP_OK(missing == 0, "every page text exists in ja and en (%d missing)", missing);
	TAP_OK(strcmp(web_text("ja", WT_OP_RELEASE), "受信箱に戻す") == 0 &&
	       strcmp(web_text("en", WT_OP_RELEASE), "Release to inbox") == 0 &&
	       strcmp(web_text("xx", WT_OP_DELETE), "Delete") == 0,
	       "texts by language; another language is English");
}

/* ---- escaping ---- */

/* What web_page_esc did before web-html.c: om_sanitize, then each byte. */
static char *ref_esc(const char *text, size_t max)
{
	char *clean = om_sanitize(text != NULL ? text : "", max);
	struct om_buf b;
	const char *s;

	om_buf_init(&b);
	for (s = clean; *s != '\0'; s++) {
		switch (*s) {
		case '&': om_buf_append_str(&b, "&amp;"); break;
		case '<': om_buf_append_str(&b, "&lt;"); break;
		case '>': om_buf_append_str(&b, "&gt;"); break;
		case '"': om_buf_append_str(&b, "&quot;"); break;
		case '\'': om_buf_append_str(&b, "&#39;"); break;
		default: om_buf_append(&b, s, 1); break;
		}
	}
	free(clean);
	return om_buf_steal(&b, NULL);
}

/* 1 if web_html_esc(text, max) appended to a buffer holding "x" gives
   "x" and what ref_esc gives. */
static int esc_same(const char *text, size_t max)
{
	char *want = ref_esc(text, max), *got;
	struct om_buf b;
	int same;

	om_buf_init(&b);
	om_buf_append_str(&b, "x");
	web_html_esc(&b, text, max);
	got = om_buf_steal(&b, NULL);
	same = got[0] == 'x' && strcmp(got + 1, want) == 0;
	if (!same)
		printf("# max %zu: got [%s] want [%s]\n", max, got + 1, want);
	free(want);
	free(got);
	return same;
}

static void test_esc(void)
{
	static const char *const texts[] = {
		"", "plain", "<script>alert('x')</script>", "a&b\"c'd<e>f",
		"&&&", "'", "tab\there", "new\nline", "caf\xc3\xa9 <b>",
		"\xe8\xad\xa6\xe5\x91\x8a & \xe6\xb3\xa8\xe6\x84\x8f", "bad \xff\xfe byte",
		"invoice\xe2\x80\xaegpj.exe", "del\x7f", "c1 \xc2\x85 here",
		"0123456789", "012345678", "0123456", "01234567", "abc",
	};
	static const size_t maxes[] = { 1, 4, 7, 10, 11, 12, 13, 200, 4096 };
	char random_text[64];
	size_t t, m, i;
	int bad = 0, round;
	unsigned int seed = 12345;

	for (t = 0; t < OM_N_ELEMENTS(texts); t++) {
		for (m = 0; m < OM_N_ELEMENTS(maxes); m++)
			bad += !esc_same(texts[t], maxes[m]);
	}
	bad += !esc_same(NULL, 10);
	TAP_OK(bad == 0, "escaping: the table, at every length limit (%d differ)", bad);
	/* bytes of every kind: ASCII, specials, controls, UTF-8 pieces */
	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (sizeof(random_text) - 1));

		for (i = 0; i < len; i++) {
			static const char pool[] = "aZ9 &<>\"'\t\x7f\xc3\xa9\xe2\x80\xae\xff\x85";

			random_text[i] = rand_r(&seed) % 3 == 0 ?
				pool[(size_t)rand_r(&seed) % (sizeof(pool) - 1)] :
				(char)(0x20 + rand_r(&seed) % 0x5f);
		}
		random_text[len] = '\0';
		bad += !esc_same(random_text, (size_t)(1 + rand_r(&seed) % 70));
	}
	TAP_OK(bad == 0, "escaping: 20000 random texts as before (%d differ)", bad);
}

/* ---- the per-thread caches ---- */

/* What web-zone.c did for every date before its cache: TZ switched. */
static int ref_local(const char *zone, time_t when, struct tm *tm)
{
	const char *old = getenv("TZ");
	char *saved = old != NULL ? om_strdup(old) : NULL;
	int ret;

	if (strcmp(zone, "localtime") != 0 && om_settings_timezone_valid(zone))
		(void)setenv("TZ", zone, 1);
	tzset();
	ret = localtime_r(&when, tm) != NULL ? 0 : -1;
	if (saved != NULL)
		(void)setenv("TZ", saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	free(saved);
	return ret;
}

static int same_tm(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon &&
		a->tm_mday == b->tm_mday && a->tm_hour == b->tm_hour &&
		a->tm_min == b->tm_min && a->tm_sec == b->tm_sec &&
		a->tm_wday == b->tm_wday && a->tm_yday == b->tm_yday &&
		a->tm_isdst == b->tm_isdst && a->tm_gmtoff == b->tm_gmtoff;
}

static const char *zone_date(struct web_zone_cache *cache, pthread_mutex_t *lock,
			     const char *zone, time_t when, char *buf, size_t size)
{
	struct tm tm;

	if (web_zone_local(cache, lock, zone, when, &tm) < 0 ||
	    strftime(buf, size, "%d %b %Y %H:%M %z", &tm) == 0)
		(void)om_strlcpy(buf, "?", size);
	return buf;
}

static void test_zone_new_york(struct web_zone_cache *cache, pthread_mutex_t *lock)
{
	char summer[64], winter[64], again[64];
	unsigned long hits;

	/* 2024-07-01 12:00 UTC is EDT (-4), 2024-01-15 12:00 UTC EST (-5) */
	zone_date(cache, lock, "America/New_York", 1719835200, summer, sizeof(summer));
	zone_date(cache, lock, "America/New_York", 1705320000, winter, sizeof(winter));
	TAP_OK(strcmp(summer, "01 Jul 2024 08:00 -0400") == 0 &&
	       strcmp(winter, "15 Jan 2024 07:00 -0500") == 0,
	       "America/New_York in summer and winter: %s, %s", summer, winter);
	hits = cache->hits;
	zone_date(cache, lock, "America/New_York", 1719835200 + 1800, again, sizeof(again));
	TAP_OK(cache->hits == hits + 1 && strcmp(again, "01 Jul 2024 08:30 -0400") == 0,
	       "the same hour again comes from the cache: %s", again);
	/* 2024-03-10 07:00 UTC: 02:00 EST becomes 03:00 EDT */
	zone_date(cache, lock, "America/New_York", 1710053940, winter, sizeof(winter));
	zone_date(cache, lock, "America/New_York", 1710054000, summer, sizeof(summer));
	TAP_OK(strcmp(winter, "10 Mar 2024 01:59 -0500") == 0 &&
	       strcmp(summer, "10 Mar 2024 03:00 -0400") == 0,
	       "the spring-forward minute: %s, then %s", winter, summer);
}

/* Every 7 minutes over the days around 2024's changes of offset, in zones
   that change on the hour, at :30 UTC (Lord Howe, by 30 minutes), never,
   and a zone the system does not have: the cache gives what TZ gives. */
static void test_zone_sweep(struct web_zone_cache *cache, pthread_mutex_t *lock)
{
	static const char *const zones[] = {
		"America/New_York", "Europe/London", "Australia/Lord_Howe",
		"Asia/Kolkata", "Asia/Tokyo", "UTC", "localtime", "No/Such_Zone",
	};
	static const time_t starts[] = {
		1709856000,	/* 2024-03-08: New York, 03-31: London */
		1711670400,	/* 2024-03-29 */
		1712275200,	/* 2024-04-05: Lord Howe */
		1728000000,	/* 2024-10-04: Lord Howe */
		1729814400,	/* 2024-10-25: London */
		1730419200,	/* 2024-11-01: New York */
	};
	struct tm got, want;
	size_t z, s;
	time_t t;
	int n = 0, bad = 0;

	for (z = 0; z < OM_N_ELEMENTS(zones); z++) {
		for (s = 0; s < OM_N_ELEMENTS(starts); s++) {
			for (t = starts[s]; t < starts[s] + 4 * 86400; t += 7 * 60) {
				n++;
				if (web_zone_local(cache, lock, zones[z], t, &got) < 0 ||
				    ref_local(zones[z], t, &want) < 0 || !same_tm(&got, &want)) {
					if (bad++ < 3)
						printf("# %s at %lld differs\n", zones[z], (long long)t);
				}
			}
		}
	}
	TAP_OK(bad == 0 && cache->hits > cache->misses,
	       "%d dates in 8 zones as TZ gives them (%d differ; %lu hits, %lu misses)",
	       n, bad, cache->hits, cache->misses);
}

static void test_zone(void)
{
	pthread_mutex_t lock;
	struct web_zone_cache *cache = om_calloc(1, sizeof(*cache));

	if (pthread_mutex_init(&lock, NULL) != 0)
		abort();
	web_zone_cache_init(cache);
	test_zone_new_york(cache, &lock);
	test_zone_sweep(cache, &lock);
	pthread_mutex_destroy(&lock);
	free(cache);
}

/* get and the values it gave */
static int settings_is(struct web_settings_cache *cache, struct om_store *store,
		       const char *mailbox, const char *def, const char *lang,
		       const char *zone)
{
	struct web_settings v;
	char *error = NULL;

	if (web_settings_get(cache, store, mailbox, def, &v, &error) < 0) {
		printf("# %s\n", error);
		free(error);
		return 0;
	}
	return strcmp(v.language, lang) == 0 && strcmp(v.timezone, zone) == 0;
}

static void set(struct om_store *store, const char *scope, const char *name,
		const char *value)
{
	char *error = NULL;

	if (om_store_domain_set(store, scope, name, value, &error) < 0) {
		printf("# %s\n", error);
		abort();
	}
}

static void test_settings_changes(struct web_settings_cache *c, struct om_store *mine,
				  struct om_store *other)
{
	const char *u = "u@a.example";
	unsigned long drops, hits;
	char *error = NULL;

	TAP_OK(settings_is(c, mine, u, "en", "en", "localtime") &&
	       settings_is(c, mine, "v@b.example", "ja", "ja", "localtime") &&
	       settings_is(c, mine, u, "en", "en", "localtime") && c->hits == 1 &&
	       c->misses == 2, "defaults; a mailbox asked again is a hit");
	set(other, "a.example", "language", "ja");
	TAP_OK(settings_is(c, mine, u, "en", "ja", "localtime"),
	       "another connection's domain setting is seen at once");
	set(other, "*", OM_SETTING_TIMEZONE, "Asia/Tokyo");
	TAP_OK(settings_is(c, mine, u, "en", "ja", "Asia/Tokyo") &&
	       settings_is(c, mine, "v@b.example", "en", "en", "Asia/Tokyo"),
	       "a global setting is seen for every mailbox");
	set(other, u, "language", "en");
	TAP_OK(settings_is(c, mine, u, "en", "en", "Asia/Tokyo"),
	       "a mailbox's own language is seen at once");
	set(mine, "a.example", OM_SETTING_TIMEZONE, "America/New_York");
	TAP_OK(settings_is(c, mine, u, "en", "en", "America/New_York"),
	       "a change through the thread's own handle is seen at once");
	drops = c->drops;
	hits = c->hits;
	if (om_store_nonce_use(other, "00112233445566778899aabbccddeeff", 2000000000LL,
			       1700000000LL, &error) != 1)
		abort();
	TAP_OK(settings_is(c, mine, u, "en", "en", "America/New_York") &&
	       c->drops == drops && c->hits == hits + 1,
	       "a write that is not configuration keeps the cache");
}

static void test_settings(void)
{
	char dir[] = "/tmp/om-test-web-XXXXXX", *path, *error = NULL;
	struct om_store *mine = NULL, *other = NULL;
	struct web_settings_cache *cache = om_calloc(1, sizeof(*cache));

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/o.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &mine, &error) < 0 ||
	    om_store_open(path, 0, 1000, &other, &error) < 0)
		abort();
	web_settings_cache_init(cache);
	test_settings_changes(cache, mine, other);
	om_store_close(&other);
	om_store_close(&mine);
	tap_remove_tree(dir);
	free(path);
	free(cache);
}

int main(void)
{
	test_form_good();
	test_form_bad();
	test_form_pieces();
	test_language();
	test_client();
	test_post_origin();
	test_token_and_listen();
	test_bucket();
	test_rate_table();
	test_lockout();
	test_texts();
	test_esc();
	test_zone();
	test_settings();
	return tap_done();
}
