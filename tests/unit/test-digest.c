/* test-digest.c - the quarantine digest (quarantine/digest.c): when a
 * digest is due (daily slots in a zone with and without DST, every N
 * hours, off, known senders, --now), the message it renders (headers,
 * encodings, escaping, signed links) and a run against a stand-in doveadm
 * (sent once, a crashed run's digest found or saved, a failure left
 * pending). */
#include "tap.h"
#include "quarantine/digest.h"
#include "crypto/token.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/om-config.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR 3600
#define DAY 86400

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

/* ---- when ---- */

static void test_due_tokyo(void)
{
	const char *d = "daily 15:00", *tz = "Asia/Tokyo";
	time_t slot = utc(2026, 12, 1, 6, 0, 0);	/* 15:00 JST */
	time_t yesterday = slot - DAY + 5;

	TAP_OK(om_digest_due(d, tz, slot + 30, yesterday, 0, 0, 0),
	       "Tokyo 15:00:30, last yesterday 15:00: due");
	TAP_OK(om_digest_due(d, tz, slot + 30, 0, 0, 0, 0),
	       "Tokyo 15:00:30, never sent: due in the slot's minute");
	TAP_OK(!om_digest_due(d, tz, slot + 40, slot + 5, 0, 0, 0),
	       "Tokyo 15:00:40, sent at 15:00:05: not twice in a slot");
	TAP_OK(!om_digest_due(d, tz, slot - 60, yesterday, 0, 0, 0),
	       "Tokyo 14:59, last yesterday: not yet");
	TAP_OK(!om_digest_due(d, tz, slot - 60, 0, 0, 0, 0),
	       "Tokyo 14:59, never sent: not yet");
	TAP_OK(om_digest_due(d, tz, slot + 2 * HOUR, yesterday, 0, 0, 0),
	       "Tokyo 17:00, last yesterday 15:00: catch-up after downtime");
	TAP_OK(!om_digest_due(d, tz, slot + 2 * HOUR, slot + 10, 0, 0, 0),
	       "Tokyo 17:00, sent at 15:00: nothing more today");
	TAP_OK(!om_digest_due(d, tz, slot + 2 * HOUR, 0, 0, 0, 0),
	       "Tokyo 17:00, never sent: waits for the next slot");
	TAP_OK(om_digest_due(d, tz, slot + DAY - 6 * HOUR, slot - 2 * DAY, 0, 0, 0),
	       "Tokyo 09:00 next day, last two days ago: yesterday's slot caught up");
	TAP_OK(!om_digest_due(d, tz, slot + DAY - 6 * HOUR, slot + 10, 0, 0, 0),
	       "Tokyo 09:00 next day, sent yesterday 15:00: not due");
	TAP_OK(!om_digest_due(d, tz, slot + 30, slot + HOUR, 0, 0, 0),
	       "a last digest after now (a pretended time): not due");
	/* the same instant is 06:00 in UTC: the zone decides */
	TAP_OK(!om_digest_due(d, "UTC", slot + 30, 0, 0, 0, 0),
	       "06:00:30 UTC is not 15:00 in UTC");
	TAP_OK(om_digest_due("daily 06:00", "UTC", slot + 30, 0, 0, 0, 0),
	       "daily 06:00 in UTC at 06:00:30 UTC: due");
	TAP_OK(om_digest_due("daily 00:00", "UTC", utc(2026, 12, 2, 0, 0, 59), 0, 0, 0, 0) &&
	       !om_digest_due("daily 00:00", "UTC", utc(2026, 12, 2, 0, 1, 0), 0, 0, 0, 0),
	       "daily 00:00 UTC: the minute, not the next");
	TAP_OK(om_digest_due("daily 23:59", "UTC", utc(2026, 12, 2, 0, 30, 0),
			     utc(2026, 11, 30, 23, 59, 5), 0, 0, 0) &&
	       !om_digest_due("daily 23:59", "UTC", utc(2026, 12, 2, 0, 30, 0),
			      utc(2026, 12, 1, 23, 59, 5), 0, 0, 0),
	       "daily 23:59 UTC: yesterday's slot across midnight");
}

static void test_due_dst(void)
{
	const char *tz = "America/New_York";

	/* 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist */
	TAP_OK(om_digest_due("daily 02:30", tz, utc(2026, 3, 8, 7, 0, 10),
			     utc(2026, 3, 7, 7, 30, 5), 0, 0, 0),
	       "spring forward: a slot in the gap is due right after it");
	TAP_OK(!om_digest_due("daily 02:30", tz, utc(2026, 3, 8, 6, 59, 0),
			      utc(2026, 3, 7, 7, 30, 5), 0, 0, 0),
	       "spring forward: not before the gap");
	TAP_OK(!om_digest_due("daily 02:30", tz, utc(2026, 3, 8, 8, 0, 0),
			      utc(2026, 3, 8, 7, 0, 10), 0, 0, 0),
	       "spring forward: once");
	/* 2026-11-01: 01:00-01:59 happens twice (EDT, then EST) */
	TAP_OK(om_digest_due("daily 01:30", tz, utc(2026, 11, 1, 5, 30, 10),
			     utc(2026, 10, 31, 5, 30, 5), 0, 0, 0),
	       "fall back: the first 01:30 is due");
	TAP_OK(!om_digest_due("daily 01:30", tz, utc(2026, 11, 1, 6, 30, 10),
			      utc(2026, 11, 1, 5, 30, 5), 0, 0, 0),
	       "fall back: the second 01:30 is the same slot");
	TAP_OK(om_digest_due("daily 15:00", tz, utc(2026, 7, 1, 19, 0, 10), 0, 0, 0, 0) &&
	       !om_digest_due("daily 15:00", tz, utc(2026, 7, 1, 20, 0, 10), 0, 0, 0, 0) &&
	       om_digest_due("daily 15:00", tz, utc(2026, 12, 1, 20, 0, 10), 0, 0, 0, 0),
	       "15:00 is 19:00 UTC in summer, 20:00 in winter");
}

static void test_due_other(void)
{
	time_t now = utc(2026, 12, 1, 6, 0, 0);
	const char *old = getenv("TZ");

	TAP_OK(om_digest_due("every 6", "UTC", now, 0, 0, 0, 0),
	       "every 6, never sent: due");
	TAP_OK(!om_digest_due("every 6", "UTC", now, now - 6 * HOUR + 1, 0, 0, 0) &&
	       om_digest_due("every 6", "UTC", now, now - 6 * HOUR, 0, 0, 0),
	       "every 6: due six hours after the last");
	TAP_OK(om_digest_due("every 24", "UTC", now, now - DAY, 0, 0, 0) &&
	       !om_digest_due("every 1", "UTC", now, now - 10, 0, 0, 0),
	       "every 24 and every 1");
	TAP_OK(om_digest_due("every 6", "UTC", now, now - 10, 0, 0, 1) &&
	       om_digest_due("daily 15:00", "UTC", now, now - 10, 0, 0, 1),
	       "--now: every schedule due");
	TAP_OK(!om_digest_due("off", "UTC", now, 0, 0, 0, 1) &&
	       !om_digest_due("off", "UTC", now, 0, 5, 0, 0),
	       "off: not even with --now, nor known senders without the setting");
	TAP_OK(om_digest_due("off", "UTC", now, now - 10, 1, 1, 0) &&
	       om_digest_due("daily 15:00", "UTC", now, now - 10, 2, 1, 0) &&
	       !om_digest_due("daily 15:00", "UTC", now, now - 10, 0, 1, 0),
	       "known senders told at once when asked, whatever the schedule");
	TAP_OK(om_digest_due("nonsense", "Asia/Tokyo", now + 30, 0, 0, 0, 0) &&
	       om_digest_due(NULL, "Asia/Tokyo", now + 30, 0, 0, 0, 0),
	       "an unreadable schedule is the default, daily 15:00");
	(void)setenv("TZ", "UTC", 1);
	tzset();
	TAP_OK(om_digest_due("daily 06:00", "localtime", now + 30, 0, 0, 0, 0) &&
	       om_digest_due("daily 06:00", "Nowhere/City", now + 30, 0, 0, 0, 0),
	       "localtime and an unknown zone: the process's own");
	(void)om_digest_due("daily 15:00", "Asia/Tokyo", now, 0, 0, 0, 0);
	TAP_OK(getenv("TZ") != NULL && strcmp(getenv("TZ"), "UTC") == 0,
	       "TZ is given back as it was");
	(void)unsetenv("TZ");
	tzset();
	(void)om_digest_due("daily 15:00", "Asia/Tokyo", now, 0, 0, 0, 0);
	TAP_OK(getenv("TZ") == NULL, "an unset TZ stays unset");
	if (old != NULL)
		(void)setenv("TZ", old, 1);
	tzset();
}

/* ---- the message ---- */

struct fixture {
	char dir[64];
	struct om_config *config;
	struct om_store *store;
	struct om_link_keys keys;
	struct om_digest_env env;
};

static void add_row(struct om_store *store, const char *id, const char *mailbox,
		    long long received, const char *sender, const char *subject)
{
	struct om_store_quarantined q = {
		.id = id, .mailbox = mailbox, .received = received,
		.sender = sender, .from = "Spammer <s@spam.example>",
		.from_address = "s@spam.example",
		.subject = subject, .score = "12.5", .reasons = "BAYES_99",
		.size = 1234, .digest = 0,
	};
	char *error = NULL;

	if (om_store_quarantine_add(store, &q, &error) < 0) {
		printf("# %s\n", error);
		free(error);
	}
}

/* The fake doveadm: logs its arguments, keeps what it saves, finds a
   message when "found" exists, fails when "fail" exists. */
static const char fake_doveadm[] =
	"#!/bin/sh\n"
	"dir=$(dirname \"$0\")\n"
	"echo \"$*\" >> \"$dir/doveadm.log\"\n"
	"if [ -f \"$dir/fail\" ]; then echo 'Error: mailbox broken' >&2; exit 75; fi\n"
	"case \" $* \" in\n"
	"*\" save \"*) n=$(ls \"$dir\" | grep -c '^saved-'); cat > \"$dir/saved-$n\";;\n"
	"*\" search \"*) if [ -f \"$dir/found\" ]; then echo 'abcdef 1'; fi;;\n"
	"esac\n"
	"exit 0\n";

static int fixture_open(struct fixture *f)
{
	char *path, *error = NULL;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test-digest.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->config = om_config_defaults();
	free(f->config->web_url);
	f->config->web_url = om_strdup("https://mail.example.jp/omamori/");
	free(f->config->brand_name);
	f->config->brand_name = om_strdup("Example ISP");
	free(f->config->brand_support);
	f->config->brand_support = om_strdup("support@example.jp 0120-000-000");
	free(f->config->doveadm_path);
	f->config->doveadm_path = om_asprintf("%s/doveadm", f->dir);
	free(f->config->dovecot_config);
	f->config->dovecot_config = om_strdup("");
	if ((fp = fopen(f->config->doveadm_path, "w")) == NULL ||
	    fputs(fake_doveadm, fp) < 0 || fclose(fp) != 0 ||
	    chmod(f->config->doveadm_path, 0700) < 0)
		return -1;
	path = om_asprintf("%s/web.key", f->dir);
	if (om_token_keys_create(path, &error) < 0 ||
	    om_link_keys_load(path, OM_LINK_SIGNERS_ALL, &f->keys, &error) < 0) {
		printf("# %s\n", error);
		free(error);
		free(path);
		return -1;
	}
	free(path);
	path = om_asprintf("%s/omamori.db", f->dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &f->store, &error) < 0) {
		printf("# %s\n", error);
		free(error);
		free(path);
		return -1;
	}
	free(path);
	f->env.config = f->config;
	f->env.store = f->store;
	f->env.keys = &f->keys;
	return 0;
}

static void fixture_close(struct fixture *f)
{
	om_store_close(&f->store);
	om_config_free(&f->config);
	tap_remove_tree(f->dir);
}

static int b64_value(int c)
{
	const char *p = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789+/", c);

	return c != '\0' && p != NULL ? (int)(p - "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "abcdefghijklmnopqrstuvwxyz0123456789+/") : -1;
}

/* Decodes base64 from p up to end (line breaks skipped). */
static char *b64_decode(const char *p, const char *end)
{
	struct om_buf out;
	unsigned int acc = 0;
	int bits = 0, v;
	char c;

	om_buf_init(&out);
	for (; p < end && *p != '='; p++) {
		if ((v = b64_value(*p)) < 0)
			continue;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (char)((acc >> bits) & 0xff);
			om_buf_append(&out, &c, 1);
		}
	}
	om_buf_append(&out, "", 0);
	return om_buf_steal(&out, NULL);
}

/* The decoded body of the part whose Content-Type is type. */
static char *part_of(const char *message, const char *type)
{
	const char *p = strstr(message, type), *body, *end;

	if (p == NULL || (body = strstr(p, "\n\n")) == NULL ||
	    (end = strstr(body, "\n--=_omamori-digest-")) == NULL)
		return om_strdup("");
	return b64_decode(body + 2, end);
}

static int lines_within(const char *text, size_t max)
{
	const char *eol;

	for (; *text != '\0'; text = *eol != '\0' ? eol + 1 : eol) {
		eol = strchr(text, '\n');
		if (eol == NULL)
			eol = text + strlen(text);
		if ((size_t)(eol - text) > max)
			return 0;
	}
	return 1;
}

/* The token after prefix in text: checks its claims. */
static int link_ok(const struct fixture *f, const char *text, const char *prefix,
		   const char *action, const char *message, time_t expires)
{
	struct om_token_claims c;
	const char *p = strstr(text, prefix);
	char token[1024];
	size_t len;

	if (p == NULL)
		return 0;
	p += strlen(prefix);
	len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		     "0123456789-_.");
	if (len == 0 || len >= sizeof(token))
		return 0;
	memcpy(token, p, len);
	token[len] = '\0';
	return om_token_check(&f->keys, token, f->env.now, &c) == OM_TOKEN_OK &&
		strcmp(c.mailbox, "taro@example.jp") == 0 &&
		strcmp(c.action, action) == 0 && strcmp(c.message, message) == 0 &&
		c.expires == expires;
}

#define ID1 "0123456789abcdef0123456789abcd01"
#define ID2 "0123456789abcdef0123456789abcd02"
#define ID3 "0123456789abcdef0123456789abcd03"
#define ID4 "0123456789abcdef0123456789abcd04"

static void test_render(struct fixture *f)
{
	time_t now = utc(2026, 12, 1, 6, 0, 10);
	long long digest = 0;
	char *msg, *text, *html, *error = NULL;

	f->env.now = now;
	(void)om_store_domain_set(f->store, "example.jp", OM_SETTING_TIMEZONE,
				  "Asia/Tokyo", &error);
	add_row(f->store, ID1, "taro@example.jp", now - 3 * HOUR, "s@spam.example",
		"\xe3\x81\x8a\xe5\xbe\x97\xe3\x81\xaa\xe6\x83\x85\xe5\xa0\xb1");
	add_row(f->store, ID2, "taro@example.jp", now - 2 * HOUR, "",
		"<script>alert(1)</script> & \"win\"");
	add_row(f->store, ID3, "taro@example.jp", now - HOUR, "x@spam.example",
		"invoice\xe2\x80\xaegpj.exe\x01");
	TAP_OK(om_store_digest_claim(f->store, "taro@example.jp", now, &digest,
				     &error) == 3, "three rows claimed");
	msg = om_digest_render(&f->env, digest, "taro@example.jp", "ja", &error);
	TAP_OK(msg != NULL, "rendered (ja)");
	if (msg == NULL) {
		printf("# %s\n", error);
		free(error);
		return;
	}
	text = part_of(msg, "text/plain");
	html = part_of(msg, "text/html");
	TAP_OK(strstr(msg, "From: Example ISP <postmaster@example.jp>\n") != NULL &&
	       strstr(msg, "To: <taro@example.jp>\n") != NULL,
	       "From is notice_from in the mailbox's domain, with the brand");
	{
		char *id = om_asprintf("Message-ID: <omamori-digest-%lld@example.jp>\n"
				       "X-Omamori-Digest: %lld\n", digest, digest);

		TAP_OK(strstr(msg, id) != NULL, "Message-ID and X-Omamori-Digest from the id");
		free(id);
	}
	{
		const char *s = strstr(msg, "Subject: =?UTF-8?B?"), *e;
		char *subject = NULL;
		struct om_buf dec;

		om_buf_init(&dec);
		while (s != NULL && (s = strstr(s, "=?UTF-8?B?")) != NULL &&
		       s < strstr(msg, "\nDate:")) {
			s += 10;
			e = strstr(s, "?=");
			subject = b64_decode(s, e);
			om_buf_append_str(&dec, subject);
			free(subject);
			s = e;
		}
		TAP_OK(dec.data != NULL && strcmp(dec.data, "【迷惑メール隔離のお知らせ】3件") == 0,
		       "Subject: RFC 2047, Japanese, with the count");
		om_buf_free(&dec);
	}
	TAP_OK(strstr(msg, "Date: Tue, 01 Dec 2026 15:00:10 +0900\n") != NULL,
	       "Date in the domain's zone");
	TAP_OK(strstr(msg, "Content-Type: multipart/alternative;") != NULL &&
	       strstr(msg, "Content-Type: text/plain; charset=utf-8") != NULL &&
	       strstr(msg, "Content-Type: text/html; charset=utf-8") != NULL &&
	       strstr(msg, "MIME-Version: 1.0\n") != NULL,
	       "multipart/alternative, text and HTML in UTF-8");
	TAP_OK(lines_within(msg, 76), "no line over 76 characters");
	if (getenv("DIGEST_DUMP") != NULL)
		printf("%s", msg);
	TAP_OK(strstr(text, "Example ISP") != NULL &&
	       strstr(text, "support@example.jp 0120-000-000") != NULL &&
	       strstr(text, "隔離フォルダに以下のメールを保管しています") != NULL &&
	       strstr(text, " 3 件") != NULL && strstr(text, "2026/12/01 12:00") != NULL,
	       "text: brand, support, count and since when (Tokyo time)");
	TAP_OK(strstr(text, "お得な情報") != NULL &&
	       strstr(text, "2026/12/01 14:00") != NULL &&
	       strstr(text, "s@spam.example") != NULL &&
	       strstr(text, "受信箱に戻す") != NULL &&
	       strstr(text, "差出人を許可して受信箱に戻す") != NULL &&
	       strstr(text, "隔離フォルダを開く") != NULL,
	       "text: each mail with date, sender, subject and its actions");
	TAP_OK(strstr(text, "\xe2\x80\xae") == NULL && strstr(text, "\x01") == NULL &&
	       strstr(html, "\xe2\x80\xae") == NULL && strstr(html, "\x01") == NULL,
	       "no bidi or control character from a mail reaches either part");
	TAP_OK(strstr(html, "<script>") == NULL &&
	       strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;win&quot;") != NULL &&
	       strstr(html, "Spammer &lt;s@spam.example&gt;") != NULL,
	       "HTML: the mail's text escaped");
	TAP_OK(strstr(text, "https://mail.example.jp/omamori/m/") != NULL &&
	       strstr(text, "?op=release") != NULL && strstr(text, "?op=allow") != NULL,
	       "text: release and allow links");
	TAP_OK(link_ok(f, text, "https://mail.example.jp/omamori/m/", "mail", ID3,
		       now - HOUR + 14 * DAY),
	       "the newest mail's link: its id, until it leaves Quarantine");
	TAP_OK(link_ok(f, text, "https://mail.example.jp/omamori/q/", "box", "",
		       now + 14 * DAY) &&
	       link_ok(f, html, "href=\"https://mail.example.jp/omamori/q/", "box", "",
		       now + 14 * DAY),
	       "the quarantine page's link, in both parts");
	free(text);
	free(html);
	free(msg);

	(void)om_store_domain_set(f->store, "example.jp",
				  OM_SETTING_QUARANTINE_RETENTION, "3", &error);
	msg = om_digest_render(&f->env, digest, "taro@example.jp", "en", &error);
	text = msg != NULL ? part_of(msg, "text/plain") : om_strdup("");
	TAP_OK(msg != NULL && strstr(msg, "Subject: Quarantine digest: 3 messages\n") != NULL &&
	       strstr(text, "Release to Inbox") != NULL &&
	       strstr(text, "Release and allow this From address") != NULL &&
	       strstr(text, "deleted 3 days after") != NULL,
	       "English: plain ASCII subject, English actions");
	TAP_OK(link_ok(f, text, "https://mail.example.jp/omamori/m/", "mail", ID3,
		       now - HOUR + 3 * DAY), "links expire with the domain's retention");
	free(text);
	free(msg);
	(void)om_store_domain_delete(f->store, "example.jp",
				     OM_SETTING_QUARANTINE_RETENTION, &error);
	TAP_OK(om_store_digest_sent(f->store, digest, now, &error) == 0, "marked sent");
}

/* ---- a run ---- */

static int count_saved(const struct fixture *f)
{
	char *path;
	int n = 0;

	for (;; n++) {
		path = om_asprintf("%s/saved-%d", f->dir, n);
		if (access(path, F_OK) < 0) {
			free(path);
			return n;
		}
		free(path);
	}
}

static int touch(const struct fixture *f, const char *name, int on)
{
	char *path = om_asprintf("%s/%s", f->dir, name);
	FILE *fp;
	int ret = 0;

	if (on) {
		if ((fp = fopen(path, "w")) == NULL || fclose(fp) != 0)
			ret = -1;
	} else if (unlink(path) < 0)
		ret = -1;
	free(path);
	return ret;
}

static void pending_cb(void *context, const struct om_store_digest *d)
{
	(void)d;
	(*(int *)context)++;
}

static void test_run(struct fixture *f)
{
	time_t slot = utc(2026, 12, 2, 6, 0, 0);	/* 15:00 JST, the next day */
	char *error = NULL, *saved;
	long long digest = 0;
	long sent = -1;
	int pending = 0;

	add_row(f->store, ID4, "taro@example.jp", slot - HOUR, "a@spam.example", "one");
	add_row(f->store, "0123456789abcdef0123456789abcd05", "hanako@example.jp",
		slot - HOUR, "b@spam.example", "two");
	(void)om_store_domain_set(f->store, "hanako@example.jp", OM_SETTING_DIGEST,
				  "off", &error);
	f->env.now = slot - 60;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 0 &&
	       count_saved(f) == 0, "14:59 Tokyo: nothing sent");
	f->env.now = slot + 5;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 1 &&
	       count_saved(f) == 1, "15:00 Tokyo: one digest (hanako's is off)");
	saved = NULL;
	{
		char *path = om_asprintf("%s/saved-0", f->dir);
		size_t len;

		if (om_read_file(path, 1 << 20, &saved, &len, &error) < 0)
			saved = om_strdup("");
		free(path);
	}
	TAP_OK(strstr(saved, "To: <taro@example.jp>") != NULL, "saved for taro");
	free(saved);
	f->env.now = slot + 40;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 0 &&
	       count_saved(f) == 1, "a second run in the slot sends nothing");

	/* a run that died after claiming: pending, found in INBOX */
	add_row(f->store, "0123456789abcdef0123456789abcd06", "taro@example.jp",
		slot + 60, "c@spam.example", "three");
	(void)om_store_digest_claim(f->store, "taro@example.jp", slot + 70, &digest,
				    &error);
	(void)touch(f, "found", 1);
	f->env.now = slot + 70 + 299;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 0 &&
	       om_store_digest_pending(f->store, slot + DAY, pending_cb, &pending,
				       &error) == 1,
	       "a pending digest younger than five minutes is left to its run");
	f->env.now = slot + 70 + 301;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 0 &&
	       count_saved(f) == 1 &&
	       om_store_digest_pending(f->store, slot + DAY, pending_cb, &pending,
				       &error) == 0,
	       "an older pending digest found in INBOX: marked sent, not saved again");
	(void)touch(f, "found", 0);

	/* the same, not found: saved */
	add_row(f->store, "0123456789abcdef0123456789abcd07", "taro@example.jp",
		slot + 600, "d@spam.example", "four");
	(void)om_store_digest_claim(f->store, "taro@example.jp", slot + 610, &digest,
				    &error);
	f->env.now = slot + 1000;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 1 &&
	       count_saved(f) == 2, "a pending digest not in INBOX: saved");

	/* doveadm fails: reported, left pending, the run goes on */
	add_row(f->store, "0123456789abcdef0123456789abcd08", "taro@example.jp",
		slot + 2000, "e@spam.example", "five");
	(void)touch(f, "fail", 1);
	f->env.now = slot + DAY + 5;
	f->env.force = 0;
	TAP_OK(om_digest_run(&f->env, &sent, &error) < 0 && error != NULL &&
	       strstr(error, "taro@example.jp") != NULL && sent == 0,
	       "a failure names the mailbox: %s", error != NULL ? error : "");
	om_free(&error);
	pending = 0;
	TAP_OK(om_store_digest_pending(f->store, slot + 2 * DAY, pending_cb, &pending,
				       &error) == 1, "its digest stays pending");
	(void)touch(f, "fail", 0);
	f->env.now = slot + DAY + 400;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 1 &&
	       count_saved(f) == 3, "the next run finishes it");
	f->env.force = 1;
	TAP_OK(om_digest_run(&f->env, &sent, &error) == 0 && sent == 0,
	       "--now with nothing new: nothing");
}

int main(void)
{
	struct fixture f;

	test_due_tokyo();
	test_due_dst();
	test_due_other();
	if (fixture_open(&f) < 0) {
		TAP_OK(0, "scratch store, keys and fake doveadm");
		return tap_done();
	}
	test_render(&f);
	test_run(&f);
	fixture_close(&f);
	return tap_done();
}
