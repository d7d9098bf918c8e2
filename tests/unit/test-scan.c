/* test-scan.c - the scan of one message (scan.c) with real libclamav and a
 * signature database written by the test: each decision path, and the
 * url-block lists for a mailbox without the spam check. */
#include "tap.h"
#include "scan/av.h"
#include "mail/mime.h"
#include "scan/scan.h"
#include "scan/partners.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TEMPLATES_DIR
#define TEMPLATES_DIR "templates"
#endif

static const char eicar[] =
	"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/* base64 of the string above */
static const char eicar_b64[] =
	"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\n"
	"LUZJTEUhJEgrSCo=\n";

static struct om_av_engine *make_engine_in(char *dir, const char *temp_dir)
{
	struct om_av_limits limits = { 1 << 26, 1 << 26, 16, 1000, temp_dir };
	struct om_av_engine *engine = NULL;
	unsigned int sigs = 0;
	char *path, *error = NULL;
	FILE *f;
	size_t i;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/test.ndb", dir);
	f = fopen(path, "w");
	fprintf(f, "Omamori.Test.EICAR-1:0:*:");
	for (i = 0; i < strlen(eicar); i++)
		fprintf(f, "%02x", (unsigned char)eicar[i]);
	fprintf(f, "\n");
	fclose(f);
	free(path);
	TAP_OK(om_av_engine_load(dir, &limits, &engine, &sigs, &error) == 0 && sigs == 1,
	       "engine loads the generated signature (%s)", error ? error : "ok");
	free(error);
	return engine;
}

static struct om_av_engine *make_engine(char *dir)
{
	return make_engine_in(dir, NULL);
}

/* Scans msg for taro@example.jp: checks NULL (virus), lists from snap
   (may be NULL). */
static void scan_full(const struct om_av_engine *engine, const struct om_snapshot *snap,
		      int checks, const char *msg,
		      enum om_limit_action limit_action, struct om_scan_result *res)
{
	struct om_scan_settings set = {
		.engine = engine, .max_size = 1 << 20, .max_parts = 100, .max_depth = 10,
		.limit_action = limit_action, .templates_dir = TEMPLATES_DIR,
		.language = "ja", .notice_from = "postmaster@example.jp", .snap = snap,
	};
	struct om_scan_request req;
	char *error = NULL;

	memset(&req, 0, sizeof(req));
	req.mailbox = (char *)"taro@example.jp";
	req.direction = OM_DIRECTION_IN;
	req.mail_from = (char *)"hanako@remote.test";
	req.checks = checks;
	req.message = msg;
	req.message_len = strlen(msg);
	om_scan_result_init(res);
	if (om_scan_message(&set, &req, res, &error) < 0) {
		TAP_OK(0, "scan failed: %s", error);
		free(error);
	}
}

static void scan_with(const struct om_av_engine *engine, const char *msg,
		      enum om_limit_action limit_action, struct om_scan_result *res)
{
	scan_full(engine, NULL, 0, msg, limit_action, res);
}

static void scan(const struct om_av_engine *engine, const char *msg,
		 struct om_scan_result *res)
{
	scan_with(engine, msg, OM_LIMIT_DELIVER, res);
}

static void test_paths(const struct om_av_engine *engine)
{
	struct om_scan_result res;
	char *msg;

	scan(engine, "Subject: hi\n\nclean text\n", &res);
	TAP_OK(res.verdict == OM_VERDICT_CLEAN && res.action == OM_ACTION_DELIVER &&
	       res.message == NULL, "clean: deliver unchanged");
	om_scan_result_free(&res);

	msg = om_asprintf("Subject: a\nContent-Type: multipart/mixed; boundary=\"B\"\n\n"
			  "--B\nContent-Type: text/plain\n\nhello\n--B\n"
			  "Content-Type: application/octet-stream; name=\"e.com\"\n"
			  "Content-Transfer-Encoding: base64\n\n%s--B--\n", eicar_b64);
	scan(engine, msg, &res);
	TAP_OK(res.verdict == OM_VERDICT_VIRUS && res.action == OM_ACTION_STRIP &&
	       res.message != NULL && strstr(res.message, "WDVPIVAl") == NULL,
	       "infected attachment: strip");
	TAP_OK(res.part_count == 2 && res.parts[1].verdict == OM_VERDICT_VIRUS &&
	       strcmp(res.parts[1].filename, "e.com") == 0, "the infected part is named");
	om_scan_result_free(&res);
	free(msg);

	msg = om_asprintf("Subject: body\nFrom: x@remote.test\n\n%s\n", eicar);
	scan(engine, msg, &res);
	TAP_OK(res.action == OM_ACTION_REPLACE && res.message != NULL &&
	       strstr(res.message, "EICAR-STANDARD") == NULL &&
	       strstr(res.message, "Subject: =?") != NULL, "infected body: replaced by the report");
	om_scan_result_free(&res);
	free(msg);

	msg = om_asprintf("From: x@remote.test\nSubject: uu\nMIME-Version: 1.0\n\nsee file\nbegin 644 e.com\n%s\n`\nend\n",
			  "M6#5/(5`E0$%06S1<4%I8-30H4%XI-T-#*3=])$5)0T%2+5-404Y$05)$+4%.\n"
			  "75$E625)54RU415-4+49)3$4A)$@K2\"H`");
	scan(engine, msg, &res);
	TAP_OK(res.verdict == OM_VERDICT_VIRUS && res.action == OM_ACTION_REPLACE,
	       "uuencoded virus in the body text: found in the raw message, replaced");
	om_scan_result_free(&res);
	free(msg);
}

static void test_limits(const struct om_av_engine *engine)
{
	struct om_scan_result res;
	struct om_buf m;
	int i;

	om_buf_init(&m);
	om_buf_append_str(&m, "Content-Type: multipart/mixed; boundary=\"Z\"\n\n");
	for (i = 0; i < 200; i++)
		om_buf_append_str(&m, "--Z\nContent-Type: text/plain\n\nx\n");
	om_buf_append_str(&m, "--Z--\n");
	scan(engine, m.data, &res);
	TAP_OK(res.verdict == OM_VERDICT_UNSCANNED && res.action == OM_ACTION_DELIVER &&
	       strstr(res.reason, "limit") != NULL, "over the part limit: unscanned, delivered");
	om_scan_result_free(&res);

	/* the default: Quarantine, below a notice, the original attached */
	scan_with(engine, m.data, OM_LIMIT_QUARANTINE, &res);
	TAP_OK(res.verdict == OM_VERDICT_UNSCANNED &&
	       res.action == OM_ACTION_QUARANTINE && res.message != NULL,
	       "over the part limit, quarantine: unscanned, quarantined");
	TAP_OK(res.message != NULL &&
	       strstr(res.message, "Content-Type: message/rfc822") != NULL &&
	       strstr(res.message, "\xe3\x82\xa6\xe3\x82\xa4\xe3\x83\xab\xe3\x82\xb9") != NULL &&
	       strstr(res.message, "more than 100 MIME parts") != NULL &&
	       strstr(res.message, m.data) != NULL,
	       "the notice says why (ja) and the original is attached unchanged");
	om_scan_result_free(&res);

	scan_with(engine, m.data, OM_LIMIT_TEMPFAIL, &res);
	TAP_OK(res.action == OM_ACTION_TEMPFAIL, "over the part limit, tempfail");
	om_scan_result_free(&res);
	om_buf_free(&m);
}

/* A virus-only scan for taro@example.jp with lists from snap. */
static void scan_virus_only(const struct om_av_engine *engine,
			    const struct om_snapshot *snap, const char *msg,
			    struct om_scan_result *res)
{
	scan_full(engine, snap, OM_CHECK_VIRUS, msg, OM_LIMIT_QUARANTINE, res);
}

static int result_is(const struct om_scan_result *res, enum om_verdict verdict,
		     enum om_spam_action spam_action, const char *listed)
{
	return res->verdict == verdict && res->spam_action == spam_action &&
		(listed == NULL ? res->spam_listed == NULL :
		 res->spam_listed != NULL && strcmp(res->spam_listed, listed) == 0);
}

/* A mailbox subscribed to inbound-virus alone: a link on a url-block list
   quarantines clean mail as spam, however the link is written and wherever
   it stands, whatever the mailbox's allow list; a virus stays a virus. */
static void test_url_block_without_spam_check(const struct om_av_engine *engine)
{
	char dir[] = "/tmp/om-test-urlblock-XXXXXX";
	struct om_snapshot *snap = om_snapshot_new();
	struct om_store *store = NULL;
	struct om_scan_result res;
	char *path, *msg, *error = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/o.db", dir);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) == 0 &&
	       om_store_list_add(store, "*", "url-block", "evil.example", 0, &error) == 0 &&
	       om_store_list_add(store, "example.jp", "url-block", "phish.example", 0, &error) == 0 &&
	       om_snapshot_load(snap, store, &error) == 0, "url-block lists loaded (%s)",
	       error != NULL ? error : "ok");
	scan_virus_only(engine, snap, "Subject: hi\n\nsee http://www.example.org/\n", &res);
	TAP_OK(result_is(&res, OM_VERDICT_CLEAN, OM_SPAM_ACTION_NONE, NULL) && res.spam_score == NULL,
	       "no blocked link: clean, no spam fields");
	om_scan_result_free(&res);
	scan_virus_only(engine, snap, "Subject: hi\nContent-Type: text/html\n\n"
			"<a href=\"http://bank.example@WWW.Evil.Example:8080/x\">bank</a>\n", &res);
	TAP_OK(result_is(&res, OM_VERDICT_SPAM, OM_SPAM_ACTION_QUARANTINE, "url-block:global") &&
	       res.spam_rules != NULL && strcmp(res.spam_rules, "URL_BLOCKLISTED") == 0 &&
	       res.action == OM_ACTION_DELIVER && res.message == NULL,
	       "a globally blocked link: spam, quarantined, unchanged");
	om_scan_result_free(&res);
	scan_virus_only(engine, snap, "Subject: hi\n\nhttp://login.phish.example/\n", &res);
	TAP_OK(result_is(&res, OM_VERDICT_SPAM, OM_SPAM_ACTION_QUARANTINE, "url-block:domain"),
	       "the recipient domain's list: url-block:domain");
	om_scan_result_free(&res);
	TAP_OK(om_store_list_add(store, "taro@example.jp", "allow", "hanako@remote.test", 0,
				 &error) == 0 && om_snapshot_load(snap, store, &error) == 0,
	       "sender allow-listed");
	scan_virus_only(engine, snap, "Subject: hi\n\nhttp://evil.example/\n", &res);
	TAP_OK(result_is(&res, OM_VERDICT_SPAM, OM_SPAM_ACTION_QUARANTINE, "url-block:global"),
	       "an allow list (the spam check's) does not lift the administrator's url-block");
	om_scan_result_free(&res);
	msg = om_asprintf("Subject: a\nContent-Type: multipart/mixed; boundary=\"B\"\n\n"
			  "--B\nContent-Type: text/plain\n\nhttp://evil.example/\n--B\n"
			  "Content-Type: application/octet-stream; name=\"e.com\"\n"
			  "Content-Transfer-Encoding: base64\n\n%s--B--\n", eicar_b64);
	scan_virus_only(engine, snap, msg, &res);
	TAP_OK(res.verdict == OM_VERDICT_VIRUS && res.spam_listed == NULL,
	       "a virus stays a virus");
	om_scan_result_free(&res);
	free(msg);
	free(error);
	free(path);
	om_snapshot_free(&snap);
	om_store_close(&store);
	tap_remove_tree(dir);
}

/* libclamav answers "clean" when it cannot make its scratch directory; the
   scan must fail instead, whatever the limit action says. */
static void test_scratch_failure(void)
{
	char dir[] = "/tmp/om-test-sigs-XXXXXX";
	struct om_av_engine *engine = make_engine_in(dir, "/nonexistent/omamori-scratch");
	struct om_scan_result res;
	char *msg;

	if (engine == NULL)
		return;
	msg = om_asprintf("Subject: a\nContent-Type: multipart/mixed; boundary=\"B\"\n\n"
			  "--B\nContent-Type: text/plain\n\nhello\n--B\n"
			  "Content-Type: application/octet-stream; name=\"e.com\"\n"
			  "Content-Transfer-Encoding: base64\n\n%s--B--\n", eicar_b64);
	scan_with(engine, msg, OM_LIMIT_DELIVER, &res);
	TAP_OK(res.verdict == OM_VERDICT_UNSCANNED && res.action == OM_ACTION_TEMPFAIL &&
	       res.reason != NULL && strstr(res.reason, "libclamav") != NULL,
	       "no scratch directory: tempfail, never clean (%s)",
	       res.reason != NULL ? res.reason : om_verdict_name(res.verdict));
	om_scan_result_free(&res);
	free(msg);
	om_av_engine_free(&engine);
	tap_remove_tree(dir);
}

/* The worker's memory of correspondents (partners.c): a list read is used
   for OM_PARTNERS_TTL_MS, then read again; mailboxes do not share one. */
static int partners_has(const char *const *list, size_t count, const char *address)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(list[i], address) == 0)
			return 1;
	}
	return 0;
}

static void partner_save(struct om_store *store, const char *mailbox,
			 const char *address, long long when)
{
	struct om_store_correspondent c = { mailbox, address, when };
	char *error = NULL;

	if (om_store_correspondents_save(store, &c, 1, &error) < 0) {
		TAP_OK(0, "correspondent saved: %s", error);
		free(error);
	}
}

/* Runs one statement on the store's file through a handle of its own. */
static int partners_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int ret;

	ret = sqlite3_open(path, &db);
	if (ret == SQLITE_OK)
		ret = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return ret == SQLITE_OK ? 0 : -1;
}

/* A store that cannot answer (here: its table gone): the read fails with
   an error, nothing is remembered (the next call asks the store again, and
   a list read before is not handed out as if it were current), and once the
   store answers again so does the cache. */
static void test_partners_store_failure(struct om_partners *cache,
					struct om_store *store, const char *path,
					uint64_t now)
{
	const char *const *list = NULL;
	size_t count = 99;
	char *error = NULL;
	int ret;

	if (partners_sql(path, "ALTER TABLE correspondents RENAME TO away") < 0) {
		TAP_OK(0, "the correspondents table renamed away");
		return;
	}
	ret = om_partners_get(cache, store, "alice@example.jp", now, 1, &list, &count, &error);
	TAP_OK(ret < 0 && error != NULL && list == NULL && count == 0,
	       "a store that fails: an error, no list (%d, %zu: %s)", ret, count,
	       error != NULL ? error : "no error");
	om_free(&error);
	ret = om_partners_get(cache, store, "alice@example.jp", now + 1, 1, &list, &count,
			      &error);
	TAP_OK(ret < 0 && count == 0, "a failed read is not remembered: the store is "
	       "asked again (%d)", ret);
	om_free(&error);
	if (partners_sql(path, "ALTER TABLE away RENAME TO correspondents") < 0) {
		TAP_OK(0, "the correspondents table renamed back");
		return;
	}
	ret = om_partners_get(cache, store, "alice@example.jp", now + 2, 1, &list, &count,
			      &error);
	TAP_OK(ret == 0 && count == 2, "the store answers again: so does the cache (%zu: %s)",
	       count, error != NULL ? error : "");
	om_free(&error);
}

static void test_partners(void)
{
	char dir[] = "/tmp/om-test-partners-XXXXXX";
	struct om_partners *cache = om_partners_new();
	struct om_store *store = NULL;
	const char *const *list;
	size_t count;
	char path[256], *error = NULL;
	uint64_t t0 = 1000000;
	int ret;

	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "mkdtemp");
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/omamori.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0) {
		TAP_OK(0, "store opened: %s", error);
		free(error);
		tap_remove_tree(dir);
		return;
	}
	partner_save(store, "alice@example.jp", "ken@aoba-shoji.co.jp", 100);
	ret = om_partners_get(cache, store, "alice@example.jp", t0, 2, &list, &count, &error);
	TAP_OK(ret == 0 && count == 1 && partners_has(list, count, "ken@aoba-shoji.co.jp"),
	       "a mailbox's correspondents read from the store (%zu)", count);
	ret = om_partners_get(cache, store, "bob@example.jp", t0, 2, &list, &count, &error);
	TAP_OK(ret == 0 && count == 0, "another mailbox's are its own (%zu)", count);
	partner_save(store, "alice@example.jp", "yui@minato-kogyo.co.jp", 200);
	ret = om_partners_get(cache, store, "alice@example.jp", t0 + OM_PARTNERS_TTL_MS - 1,
			      2, &list, &count, &error);
	TAP_OK(ret == 0 && count == 1, "within %d ms the list read is used (%zu)",
	       OM_PARTNERS_TTL_MS, count);
	ret = om_partners_get(cache, store, "alice@example.jp", t0 + OM_PARTNERS_TTL_MS,
			      2, &list, &count, &error);
	TAP_OK(ret == 0 && count == 2 && partners_has(list, count, "yui@minato-kogyo.co.jp"),
	       "after it, the store is read again (%zu)", count);
	ret = om_partners_get(cache, store, "alice@example.jp", t0 - 1, 2, &list, &count,
			      &error);
	TAP_OK(ret == 0 && count == 2, "a clock that went back reads again (%zu)", count);
	test_partners_store_failure(cache, store, path, t0 + 10 * OM_PARTNERS_TTL_MS);
	om_store_close(&store);
	tap_remove_tree(dir);
	free(error);
	om_partners_free(&cache);
	TAP_OK(cache == NULL, "the memory freed");
}

int main(void)
{
	char dir[] = "/tmp/om-test-sigs-XXXXXX";
	struct om_av_engine *engine;

	om_mime_global_init();
	engine = make_engine(dir);
	if (engine != NULL) {
		test_paths(engine);
		test_limits(engine);
		test_url_block_without_spam_check(engine);
	}
	test_scratch_failure();
	test_partners();
	om_av_engine_free(&engine);
	tap_remove_tree(dir);
	return tap_done();
}
