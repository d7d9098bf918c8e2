/* test-verdict.c - unit tests of the spam decision pieces that need no
 * daemon: subject tagging (RFC 2047 kept intact), Authentication-Results
 * parsing, header rules, list entry syntax and the adding rules (limit,
 * user allow-list switch), snapshot lookups and the per-mailbox verdict. */
#include "tap.h"
#include "mail/authres.h"
#include "store/lists.h"
#include "mail/mime.h"
#include "spam/rules.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/util.h"
#include "decide/verdict.h"
#include "mail/subject.h"

#include <stdlib.h>
#include <string.h>

static int tag_is(const char *raw, const char *tag, const char *want)
{
	char *got = om_subject_tag(raw, tag);
	int ok = want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("# tag(%s, %s) = %s\n", raw != NULL ? raw : "(null)", tag,
		       got != NULL ? got : "(null)");
	free(got);
	return ok;
}

static void test_tagging(void)
{
	TAP_OK(tag_is(" Meeting today", "[SPAM] ", "[SPAM] Meeting today"), "English subject");
	TAP_OK(tag_is(" =?ISO-2022-JP?B?GyRCJD0kJCRrGyhC?=", "[MEIWAKU!!] ",
		      "[MEIWAKU!!] =?ISO-2022-JP?B?GyRCJD0kJCRrGyhC?="),
	       "encoded word kept whole after an ASCII tag");
	TAP_OK(tag_is(" =?UTF-8?B?44GC?=\r\n =?UTF-8?B?44GE?=", "[SPAM] ",
		      "[SPAM] =?UTF-8?B?44GC?= =?UTF-8?B?44GE?="), "folded subject unfolded");
	TAP_OK(tag_is(" [SPAM] again", "[SPAM] ", NULL), "already tagged: left alone");
	TAP_OK(tag_is(NULL, "[SPAM] ", "[SPAM] "), "no subject: the tag alone");
	TAP_OK(tag_is(" hello", "迷惑 ", "=?UTF-8?B?6L+35oORIA==?= hello"),
	       "UTF-8 tag as its own encoded word, space kept inside it");
	TAP_OK(tag_is(" =?UTF-8?B?44GC?=", "迷惑 ", "=?UTF-8?B?6L+35oORIA==?==?UTF-8?B?44GC?="),
	       "before another encoded word: no separating space to drop");
}

static int rules_of(const char *msg, const char *trusted, char *names, size_t size)
{
	struct om_rules_result res;
	struct om_mime_msg *parsed;
	char *error = NULL;

	memset(&res, 0, sizeof(res));
	parsed = om_mime_parse(msg, strlen(msg), &error);
	free(error);
	if (parsed == NULL)
		return -1;
	{
		struct om_authres_trust trust = { trusted, 1 };
		struct om_authres auth;

		(void)om_authres_check(msg, strlen(msg), &trust, &auth, NULL);
		om_rules_check_headers(parsed, &auth, &res);
	}
	om_mime_free(&parsed);
	om_rules_names(&res, names, size);
	return (int)res.count;
}

static void test_header_rules(void)
{
	char names[256];

	TAP_OK(rules_of("From: a@b.example\nTo: c@d.example\nSubject: hi\nDate: Mon, 1 Jan 2024 "
			"00:00:00 +0000\nMessage-ID: <1@b>\n\nbody\n", NULL, names, sizeof(names)) == 0,
	       "a proper message fires nothing");
	rules_of("To: c@d.example\n\nbody\n", NULL, names, sizeof(names));
	TAP_OK(strcmp(names, "MISSING_FROM,MISSING_DATE,MISSING_MESSAGE_ID,MISSING_SUBJECT") == 0,
	       "missing headers named");
	rules_of("From: a@b.example\nSubject: \xe3\x81\x82\nDate: yesterday\nMessage-ID: <1@b>\n"
		 "Content-Type: text/html\n\n<p>x</p>\n", NULL, names, sizeof(names));
	TAP_OK(strcmp(names, "INVALID_DATE,RAW_8BIT_HEADER,HTML_ONLY") == 0, "anomalies: %s", names);
	rules_of("From: a@b.example\nSubject: s\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
		 "Message-ID: <1@b>\nAuthentication-Results: mx.t; dkim=fail\n\nb\n",
		 "mx.t", names, sizeof(names));
	TAP_OK(strcmp(names, "AUTH_DKIM_FAIL") == 0, "trusted A-R header scored");
}

static void test_lists(struct om_store *store)
{
	char *error = NULL, *e;
	int i, ok = 1;

	e = om_lists_entry("allow", "Friend@Example.JP", &error);
	TAP_OK(e != NULL && strcmp(e, "friend@example.jp") == 0, "address lower-cased");
	free(e);
	e = om_lists_entry("block", "@Spam.Example", &error);
	TAP_OK(e != NULL && strcmp(e, "@spam.example") == 0, "@domain accepted");
	free(e);
	TAP_OK(om_lists_entry("block", "@bad domain", &error) == NULL && error != NULL,
	       "@domain with a space refused");
	om_free(&error);
	TAP_OK(om_lists_entry("url-block", "evil..example", &error) == NULL, "bad host refused");
	om_free(&error);
	TAP_OK(om_lists_entry("maybe", "a@b.c", &error) == NULL && strstr(error, "kind") != NULL,
	       "unknown kind refused");
	om_free(&error);
	for (i = 0; i < 3 && ok; i++) {
		char *addr = om_asprintf("s%d@x.example", i);

		ok = om_lists_add(store, "u@d.example", OM_KEY_MAILBOX, "block", addr, 3, &error) == 0;
		free(addr);
	}
	TAP_OK(ok, "three entries within a limit of 3");
	TAP_OK(om_lists_add(store, "u@d.example", OM_KEY_MAILBOX, "block", "s9@x.example", 3, &error) < 0 &&
	       strstr(error, "3") != NULL, "the fourth refused, saying the limit");
	om_free(&error);
	TAP_OK(om_lists_add(store, "u@d.example", OM_KEY_MAILBOX, "block", "s1@x.example", 3, &error) == 0,
	       "an entry already there is no new entry");
	TAP_OK(om_store_domain_set(store, "d.example", OM_SETTING_USER_ALLOW_LISTS, "off",
				   &error) == 0 &&
	       om_lists_add(store, "u@d.example", OM_KEY_MAILBOX, "allow", "f@x.example", 3, &error) < 0 &&
	       strstr(error, "user-allow-lists off") != NULL, "allow list forbidden by the domain");
	om_free(&error);
	TAP_OK(om_lists_add(store, "d.example", OM_KEY_DOMAIN, "allow", "f@x.example", 3, &error) == 0,
	       "the domain's own allow list still works");
	{
		const char *two[] = { "n1@x.example", "N2@X.example" };
		const char *bad[] = { "n3@x.example", "not an address" };
		const char *old[] = { "s0@x.example", "s2@x.example" };

		TAP_OK(om_lists_change(store, "u@d.example", OM_KEY_MAILBOX, "block", two, 2, 1, 3, &error) < 0 &&
		       om_lists_listed(store, "u@d.example", "block", "n1@x.example", &error) == 0,
		       "two over the limit: neither written");
		om_free(&error);
		TAP_OK(om_lists_change(store, "u@d.example", OM_KEY_MAILBOX, "block", bad, 2, 1, 10, &error) < 0 &&
		       om_lists_listed(store, "u@d.example", "block", "n3@x.example", &error) == 0,
		       "one malformed address: the good one not written either");
		om_free(&error);
		TAP_OK(om_lists_change(store, "u@d.example", OM_KEY_MAILBOX, "block", old, 2, 0, 3, &error) == 2 &&
		       om_lists_change(store, "u@d.example", OM_KEY_MAILBOX, "block", two, 2, 1, 3, &error) == 2,
		       "removing two makes room for two, normalised");
		TAP_OK(om_lists_listed(store, "u@d.example", "block", "N2@x.EXAMPLE", &error) == 1,
		       "listed, case-insensitive");
		TAP_OK(om_lists_change(store, "d.example", OM_KEY_DOMAIN, "block", old, 1, 1, 0, &error) == 1 &&
		       om_lists_listed(store, "d.example", "block", "anyone@x.example", &error) == 0,
		       "a domain's list has no per-mailbox limit");
		TAP_OK(om_store_list_add(store, "d.example", "block", "@y.example", 0, &error) == 0 &&
		       om_lists_listed(store, "d.example", "block", "who@y.example", &error) == 1,
		       "@domain entries match every address of the domain");
	}
}

static void test_snapshot_verdict(struct om_store *store)
{
	struct om_snapshot *snap = om_snapshot_new();
	struct om_spam_decision d;
	char *error = NULL;

	TAP_OK(om_store_list_add(store, "*", "url-block", "evil.example", 0, &error) == 0 &&
	       om_store_list_add(store, "v@d.example", "allow", "pal@x.example", 0, &error) == 0 &&
	       om_store_domain_set(store, "v@d.example", OM_SETTING_SPAM_THRESHOLD, "3", &error) == 0 &&
	       om_snapshot_load(snap, store, &error) == 0, "snapshot loads");
	TAP_OK(om_snapshot_url_blocked(snap, "v@d.example", "www.EVIL.example") &&
	       !om_snapshot_url_blocked(snap, "v@d.example", "notevil.example"),
	       "url-block matches the host and its subdomains only");
	TAP_OK(om_snapshot_listed(snap, "block", "u@d.example", "s1@x.example", 1) != NULL &&
	       strcmp(om_snapshot_listed(snap, "block", "u@d.example", "S1@X.example", 1),
		      "mailbox") == 0, "block entry found, case-insensitive");
	TAP_OK(om_snapshot_refresh(snap, store, &error) == 0, "unchanged store: no reload");
	TAP_OK(om_verdict_spam(snap, "v@d.example", "", "", 3.5, &d, &error) == 0 &&
	       d.is_spam && d.action == OM_SPAM_ACTION_TAG && strcmp(d.tag, "[SPAM] ") == 0,
	       "the mailbox's own threshold 3 applies, default action and tag");
	TAP_OK(om_verdict_spam(snap, "w@d.example", "", "", 3.5, &d, &error) == 0 && !d.is_spam,
	       "its domain neighbour keeps the default 5");
	TAP_OK(om_verdict_spam(snap, "v@d.example", "pal@x.example", "", 50, &d, &error) == 0 &&
	       d.is_spam && d.listed[0] == '\0',
	       "the user's allow list does not count while the domain forbids it");
	TAP_OK(om_store_domain_set(store, "d.example", OM_SETTING_USER_ALLOW_LISTS, "on",
				   &error) == 0 && om_snapshot_refresh(snap, store, &error) == 1,
	       "a change reloads the snapshot");
	TAP_OK(om_verdict_spam(snap, "v@d.example", "pal@x.example", "", 50, &d, &error) == 0 &&
	       !d.is_spam && strcmp(d.listed, "allow:mailbox") == 0,
	       "then the allow-listed sender is never spam");
	TAP_OK(om_verdict_spam(snap, "u@d.example", "", "s1@x.example", -10, &d, &error) == 0 &&
	       d.is_spam && d.action == OM_SPAM_ACTION_QUARANTINE &&
	       strcmp(d.listed, "block:mailbox") == 0, "block-listed From: quarantined");
	om_snapshot_free(&snap);
}

int main(void)
{
	char dir[] = "/tmp/om-test-verdict-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL;

	om_mime_global_init();
	test_tagging();
	test_header_rules();
	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/o.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0)
		abort();
	test_lists(store);
	test_snapshot_verdict(store);
	om_store_close(&store);
	tap_remove_tree(dir);
	free(path);
	return tap_done();
}
