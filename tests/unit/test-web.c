/* test-web.c - omamori-web's pure parsers (web/web-parse.c), its rate
 * buckets (web/web-rate.c) and its text tables (web/web-text.c): a form
 * body is read exactly or refused, the browser's language and the
 * client's address are picked as doc/web.md says, a bucket refills at its
 * rate, and no page text is missing in either language. */
#include "tap.h"
#include "web-parse.h"
#include "web-rate.h"
#include "web-text.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		"a=%", "a=%4", "a=%zz", "a=%00", "a=%0a", "a=%7f", "a=%C3", "a=%C3%28",
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
}

static void test_token_and_listen(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "example.jp:80",
		"127.0.0.1:80x", "[::1:80", ":80",
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

int main(void)
{
	test_form_good();
	test_form_bad();
	test_form_pieces();
	test_language();
	test_client();
	test_token_and_listen();
	test_bucket();
	test_rate_table();
	test_texts();
	return tap_done();
}
