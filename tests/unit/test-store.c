/* test-store.c - unit tests of store.c and settings.c on a real SQLite file:
 * the backend chosen by store_path's form, schema, subscriptions, domain
 * settings and the lookup order; how keys are named (a user name without a
 * domain is a mailbox), the values in effect with their source, the list
 * limit in imports, and the change log (which scopes changed). */
#include "tap.h"
#include "store/events.h"
#include "store/billing.h"
#include "store/admins.h"
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void count_row(void *context, const char *a, const char *b, const char *c)
{
	(void)a; (void)b; (void)c;
	(*(int *)context)++;
}

static const char *effective(struct om_store *store, const char *mailbox,
			     const char **source_r)
{
	enum om_sub_state state;
	char *error = NULL;

	if (om_settings_subscription(store, mailbox, OM_FEATURE_INBOUND_VIRUS,
				     &state, source_r, &error) < 0) {
		free(error);
		return "error";
	}
	return om_settings_state_name(state);
}

static void test_lookup_order(struct om_store *store)
{
	const char *source;
	char *error = NULL;

	TAP_OK(strcmp(effective(store, "a@example.jp", &source), "off") == 0 &&
	       strcmp(source, "default") == 0, "nothing set: off (default)");
	om_store_domain_set(store, "*", OM_FEATURE_INBOUND_VIRUS, "on", &error);
	TAP_OK(strcmp(effective(store, "a@example.jp", &source), "on") == 0 &&
	       strcmp(source, "global") == 0, "global on");
	om_store_domain_set(store, "example.jp", OM_FEATURE_INBOUND_VIRUS, "off", &error);
	TAP_OK(strcmp(effective(store, "a@example.jp", &source), "off") == 0 &&
	       strcmp(source, "domain") == 0, "domain beats global");
	om_store_subscription_set(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS, "paused", &error);
	TAP_OK(strcmp(effective(store, "a@example.jp", &source), "paused") == 0 &&
	       strcmp(source, "mailbox") == 0, "mailbox beats domain");
	om_store_subscription_delete(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS, &error);
	om_store_domain_delete(store, "example.jp", OM_FEATURE_INBOUND_VIRUS, &error);
	om_store_domain_delete(store, "*", OM_FEATURE_INBOUND_VIRUS, &error);
	om_store_domain_set(store, "example.jp", "default", "all-on", &error);
	TAP_OK(strcmp(effective(store, "b@example.jp", &source), "on") == 0,
	       "domain default all-on turns features on");
	TAP_OK(strcmp(effective(store, "b@other.jp", &source), "off") == 0,
	       "another domain is not affected");
}

static void test_rows(struct om_store *store)
{
	char *error = NULL, *value = NULL;
	long long before;
	int rows = 0, ret;

	before = om_store_change_counter(store);
	TAP_OK(om_store_subscription_set(store, "x@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 "on", &error) == 0, "subscription set");
	TAP_OK(om_store_change_counter(store) != before, "change counter moves on a write");
	ret = om_store_subscription_get(store, "x@example.jp", OM_FEATURE_INBOUND_VIRUS,
					&value, &error);
	TAP_OK(ret == 1 && strcmp(value, "on") == 0, "subscription get");
	free(value);
	TAP_OK(om_store_subscription_set(store, "x@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 "bogus", &error) < 0 && error != NULL,
	       "a state outside on/paused/off is refused by the schema");
	om_free(&error);
	ret = om_store_subscription_get(store, "nobody@example.jp", OM_FEATURE_INBOUND_VIRUS,
					&value, &error);
	TAP_OK(ret == 0, "missing subscription: not found");
	om_store_subscription_set(store, "y@example.jp", OM_FEATURE_INBOUND_VIRUS, "off", &error);
	TAP_OK(om_store_subscription_list(store, NULL, count_row, &rows, &error) == 2 && rows == 2,
	       "list all");
	rows = 0;
	TAP_OK(om_store_subscription_list(store, "y@example.jp", count_row, &rows, &error) == 1,
	       "list one mailbox");
	TAP_OK(om_store_domain_set(store, "example.jp", "language", "en", &error) == 0 &&
	       om_store_domain_get(store, "example.jp", "language", &value, &error) == 1 &&
	       strcmp(value, "en") == 0, "domain setting round trip");
	free(value);
}

static void test_checks(void)
{
	char *error = NULL;

	TAP_OK(om_settings_domain_check("language", "en", &error) == 0, "language en accepted");
	TAP_OK(om_settings_domain_check("language", "fr", &error) < 0 &&
	       strstr(error, "ja en") != NULL, "language fr refused with the choices");
	om_free(&error);
	TAP_OK(om_settings_domain_check("virus-admin-copy", "admin@example.jp", &error) == 0,
	       "admin copy takes an address");
	TAP_OK(om_settings_domain_check("colour", "red", &error) < 0, "unknown setting refused");
	om_free(&error);
	TAP_OK(om_settings_mailbox_check("no-at-sign", &error) < 0, "mailbox without @ refused");
	om_free(&error);
	TAP_OK(om_settings_mailbox_check("a b@example.jp", &error) < 0, "mailbox with space refused");
	om_free(&error);
}

struct key_case {
	const char *word;
	int type;		/* enum om_settings_key, or -1: refused */
	const char *key;
};

static const struct key_case key_cases[] = {
	{ "*", OM_KEY_GLOBAL, "*" },
	{ "taro@example.jp", OM_KEY_MAILBOX, "taro@example.jp" },
	{ "example.jp", OM_KEY_DOMAIN, "example.jp" },
	{ "dave", OM_KEY_MAILBOX, "dave" },
	{ "user:taro.yamada", OM_KEY_MAILBOX, "taro.yamada" },
	{ "user:taro@example.jp", OM_KEY_MAILBOX, "taro@example.jp" },
	{ "domain:localhost", OM_KEY_DOMAIN, "localhost" },
	{ "domain:a@b.example", -1, NULL },
	{ "user:", -1, NULL },
	{ "user:*", -1, NULL },
	{ "", -1, NULL },
	{ "a b", -1, NULL },
	{ "@example.jp", -1, NULL },
	/* folded as lookups fold them; names that cannot be refused */
	{ "Taro@Example.JP.", OM_KEY_MAILBOX, "taro@example.jp" },
	{ "Example.JP.", OM_KEY_DOMAIN, "example.jp" },
	{ "user:Dave", OM_KEY_MAILBOX, "dave" },
	{ "*.example.jp", -1, NULL },
	{ "ex..example.jp", -1, NULL },
	{ "-ex.example.jp", -1, NULL },
	{ "ex-.example.jp", -1, NULL },
	{ "a@@example.jp", -1, NULL },
	{ "a@*", -1, NULL },
	{ "a@ex..jp", -1, NULL },
	{ "\xff@example.jp", -1, NULL },
	{ "ex'.example.jp", -1, NULL },
	{ "user:*.", -1, NULL },
	{ "user:...", -1, NULL },
};

static void test_keys(void)
{
	enum om_settings_key type;
	const char *key;
	char *error = NULL;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(key_cases); i++) {
		const struct key_case *c = &key_cases[i];
		char *word = om_strdup(c->word);	/* folded in place */

		ret = om_settings_key_parse(word, &type, &key, &error);
		if (c->type < 0)
			TAP_OK(ret < 0 && error != NULL, "key '%s' refused",
			       om_utf8_valid(c->word, strlen(c->word)) ? c->word : "(not UTF-8)");
		else
			TAP_OK(ret == 0 && (int)type == c->type && strcmp(key, c->key) == 0,
			       "key '%s' is the %s '%s'", c->word,
			       om_settings_key_type_name((enum om_settings_key)c->type), c->key);
		om_free(&error);
		free(word);
	}
}

/* The table's defaults are the numbers the programs use. */
static void test_defaults(void)
{
	static const struct { const char *name; long want; } numbers[] = {
		{ OM_SETTING_MAX_RECIPIENTS, OM_DEFAULT_MAX_RECIPIENTS },
		{ OM_SETTING_MAX_MESSAGE_SIZE, OM_DEFAULT_MAX_MESSAGE_SIZE },
		{ OM_SETTING_RATE_MESSAGES, OM_DEFAULT_RATE_MESSAGES },
		{ OM_SETTING_RATE_RECIPIENTS, OM_DEFAULT_RATE_RECIPIENTS },
		{ OM_SETTING_RATE_WINDOW, OM_DEFAULT_RATE_WINDOW },
		{ OM_SETTING_QUARANTINE_RETENTION, OM_DEFAULT_QUARANTINE_RETENTION },
		{ OM_SETTING_ZIP_PASSWORD_DAYS, OM_DEFAULT_ZIP_PASSWORD_DAYS },
		{ OM_SETTING_BCC_THRESHOLD, OM_DEFAULT_BCC_THRESHOLD },
		{ OM_SETTING_BRAKE_FACTOR, OM_DEFAULT_BRAKE_FACTOR },
		{ OM_SETTING_BRAKE_MIN_MESSAGES, OM_DEFAULT_BRAKE_MIN_MESSAGES },
		{ OM_SETTING_BRAKE_MIN_RECIPIENTS, OM_DEFAULT_BRAKE_MIN_RECIPIENTS },
	};
	size_t i;
	int ok = 1;

	for (i = 0; i < OM_N_ELEMENTS(numbers); i++)
		ok &= om_settings_number(om_settings_default(numbers[i].name), -1) ==
			numbers[i].want;
	TAP_OK(ok, "number defaults match settings.h");
	TAP_OK(strcmp(om_settings_default(OM_SETTING_SPAM_THRESHOLD),
		      OM_DEFAULT_SPAM_THRESHOLD) == 0 &&
	       om_settings_default("language") == NULL &&
	       om_settings_default("colour") == NULL, "text defaults; language from omamori.conf");
}

static int effective_is(struct om_store *store, enum om_settings_key type,
			const char *key, const char *name, const char *want,
			const char *want_source)
{
	const char *source;
	char *value = NULL, *error = NULL;
	int ok;

	if (om_settings_effective(store, type, key, name, om_settings_default(name),
				  &value, &source, &error) < 0) {
		free(error);
		return 0;
	}
	ok = value != NULL && strcmp(value, want) == 0 && strcmp(source, want_source) == 0;
	free(value);
	return ok;
}

static void test_effective(struct om_store *store)
{
	char *error = NULL;

	TAP_OK(effective_is(store, OM_KEY_DOMAIN, "fx.example", OM_SETTING_SPAM_THRESHOLD,
			    "5", "default"), "nothing set: the default, said so");
	om_store_domain_set(store, "*", OM_SETTING_SPAM_THRESHOLD, "7", &error);
	om_store_domain_set(store, "fx.example", OM_SETTING_SPAM_ACTION, "quarantine", &error);
	om_store_domain_set(store, "u@fx.example", OM_SETTING_SPAM_TAG, "[M] ", &error);
	om_store_domain_set(store, "fx.example", "default", "all-on", &error);
	om_store_domain_set(store, "dave", OM_SETTING_SPAM_ACTION, "header", &error);
	TAP_OK(effective_is(store, OM_KEY_DOMAIN, "fx.example", OM_SETTING_SPAM_THRESHOLD,
			    "7", "global") &&
	       effective_is(store, OM_KEY_GLOBAL, "*", OM_SETTING_SPAM_THRESHOLD, "7", "global"),
	       "global value, for a domain and for *");
	TAP_OK(effective_is(store, OM_KEY_MAILBOX, "u@fx.example", OM_SETTING_SPAM_ACTION,
			    "quarantine", "domain") &&
	       effective_is(store, OM_KEY_MAILBOX, "u@fx.example", OM_SETTING_SPAM_TAG,
			    "[M] ", "mailbox"), "a mailbox's own value, then its domain's");
	TAP_OK(effective_is(store, OM_KEY_DOMAIN, "fx.example", OM_FEATURE_SPAM, "on", "domain"),
	       "a feature from the domain's default all-on");
	TAP_OK(effective_is(store, OM_KEY_MAILBOX, "dave", OM_SETTING_SPAM_ACTION,
			    "header", "mailbox") &&
	       effective_is(store, OM_KEY_MAILBOX, "dave", OM_SETTING_SPAM_THRESHOLD,
			    "7", "global"), "a user without a domain: own value, then global");
	{
		char *v = om_settings_domain_value(store, "dave", OM_SETTING_SPAM_ACTION,
						   "tag", &error);

		TAP_OK(v != NULL && strcmp(v, "header") == 0,
		       "delivery lookups see a domainless user's own value");
		free(v);
	}
}

/* A user name without a domain is a mailbox scope for lists too. */
static void test_bare_user_lists(struct om_store *store)
{
	char *error = NULL;

	TAP_OK(om_lists_add(store, "dave", OM_KEY_MAILBOX, "block", "a@x.example", 1,
			    &error) == 0 &&
	       om_lists_add(store, "dave", OM_KEY_MAILBOX, "block", "b@x.example", 1,
			    &error) < 0 && strstr(error, "dave") != NULL,
	       "the per-mailbox limit holds for dave");
	om_free(&error);
	om_store_domain_set(store, "*", OM_SETTING_USER_ALLOW_LISTS, "off", &error);
	TAP_OK(om_lists_add(store, "dave", OM_KEY_MAILBOX, "allow", "f@x.example", 10,
			    &error) < 0 && strstr(error, "user-allow-lists off") != NULL,
	       "the global user-allow-lists switch holds for dave");
	om_free(&error);
	om_store_domain_set(store, "*", OM_SETTING_LEARN_ALLOW_SENDER, "off", &error);
	TAP_OK(om_lists_learning_allowed(store, "dave", &error) == 0 &&
	       om_lists_learning_allowed(store, "x@fx.example", &error) == 0,
	       "learn-allow-sender off, read for any user");
	om_store_domain_delete(store, "*", OM_SETTING_LEARN_ALLOW_SENDER, &error);
	om_store_domain_delete(store, "*", OM_SETTING_USER_ALLOW_LISTS, &error);
	TAP_OK(om_lists_learning_allowed(store, "dave", &error) == 1, "learning on by default");
}

/* Whoever writes a key (the web's /me page and the IMAP plugin under
   Dovecot's user name as given), it is kept as lookups read it. */
static void test_keys_one_spelling(struct om_store *store)
{
	struct om_store_list_row rows[] = {
		{ "Imp2@X.Example", "block", "Z@Y.Example.", 1 },
	};
	char *error = NULL, *value = NULL;
	size_t failed;

	TAP_OK(om_store_subscription_set(store, "Kana@Example.JP.", "spam", "on",
					 &error) == 0 &&
	       om_store_subscription_get(store, "kana@example.jp", "spam", &value,
					 &error) == 1 && strcmp(value, "on") == 0,
	       "a subscription written in capitals is read folded");
	om_free(&value);
	TAP_OK(om_store_domain_set(store, "<group Sales>@Grp.Example.JP", "spam", "on",
				   &error) == 0 &&
	       om_store_domain_get(store, "<group Sales>@grp.example.jp", "spam", &value,
				   &error) == 1 &&
	       om_store_domain_get(store, "<group sales>@grp.example.jp", "spam", &value,
				   &error) == 0,
	       "a group scope folds its domain and keeps its name");
	om_free(&value);
	TAP_OK(om_store_list_add(store, "Kana@Example.JP", "block", "Bad@Spam.Example.", 0,
				 &error) == 0 &&
	       om_store_list_has(store, "kana@example.jp", "block", "bad@spam.example",
				 &error) == 1 &&
	       om_store_list_delete(store, "KANA@example.jp", "block", "BAD@spam.example",
				    &error) == 1,
	       "a list entry written in capitals is found and removed folded");
	TAP_OK(om_store_list_import(store, rows, 1, 0, &failed, &error) == 0 &&
	       om_store_list_has(store, "imp2@x.example", "block", "z@y.example",
				 &error) == 1,
	       "an import's rows are kept folded");
	om_free(&error);
}

static void test_import_limit(struct om_store *store)
{
	struct om_store_list_row rows[] = {
		{ "imp@x.example", "block", "a@y.example", 1 },
		{ "imp@x.example", "block", "a@y.example", 1 },	/* not counted twice */
		{ "x.example", "block", "d@y.example", 0 },
		{ "imp@x.example", "block", "b@y.example", 1 },
		{ "imp@x.example", "block", "c@y.example", 1 },
	};
	char *error = NULL;
	size_t failed = 99;

	TAP_OK(om_store_list_import(store, rows, 4, 2, &failed, &error) == 0,
	       "an import within the limit");
	TAP_OK(om_store_list_import(store, rows + 4, 1, 2, &failed, &error) < 0 &&
	       failed == 0 && strstr(error, "imp@x.example") != NULL,
	       "the row over the limit named, with the mailbox");
	om_free(&error);
	TAP_OK(om_lists_listed(store, "imp@x.example", "block", "c@y.example", &error) == 0,
	       "nothing of the refused import written");
	TAP_OK(om_store_list_import(store, rows + 2, 1, 1, &failed, &error) == 0,
	       "a domain row is not limited");
	/* an address that can be no entry is on no list; an error is kept
	   for what the caller cannot decide (Sieve defers the delivery) */
	TAP_OK(om_lists_listed(store, "imp@x.example", "block", "not an address",
			       &error) == 0, "a malformed address is on no list");
	TAP_OK(om_store_list_add(store, "imp@x.example", "block", "@evil.example", 0,
				 &error) == 0 &&
	       om_lists_listed(store, "imp@x.example", "block", "*@evil.example", &error) == 1 &&
	       om_lists_listed(store, "imp@x.example", "block", "\xff@Evil.Example", &error) == 1,
	       "an address no entry could be still has its domain's entry");
	TAP_OK(om_lists_listed(store, "imp@x.example", "maybe", "c@y.example",
			       &error) < 0 && strstr(error, "maybe") != NULL,
	       "an unknown list kind is an error, not 'not listed'");
	om_free(&error);
}

struct backend_case {
	const char *label;
	const char *prefix, *suffix;	/* the location: prefix dir suffix */
	int ok;
	const char *error;		/* part of the error when refused */
};

static const struct backend_case backend_cases[] = {
	{ "a plain path is SQLite", "", "/omamori.db", 1, NULL },
	{ "sqlite: said explicitly", "sqlite:", "/omamori.db", 1, NULL },
	{ "a ':' further in the path is part of it", "", "/odd:name.db", 1, NULL },
	{ "an unknown backend refused, naming what there is", "pgsql:host=db", "", 0,
	  "no store backend 'pgsql' (this build has: sqlite, postgresql)" },
	{ "sqlite: without a path refused", "sqlite:", NULL, 0, "empty location" },
};

static void test_backends(const char *dir)
{
	struct om_store *store = NULL;
	char *location, *error = NULL;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(backend_cases); i++) {
		const struct backend_case *c = &backend_cases[i];

		location = c->suffix == NULL ? om_strdup(c->prefix) :
			om_asprintf("%s%s%s", c->prefix, dir, c->suffix);
		ret = om_store_open(location, OM_STORE_CREATE, 1000, &store, &error);
		if (c->ok)
			TAP_OK(ret == 0 && om_store_schema_version(store) == 26, "%s", c->label);
		else
			TAP_OK(ret < 0 && store == NULL && strstr(error, c->error) != NULL,
			       "%s (%s)", c->label, error != NULL ? error : "");
		om_store_close(&store);
		om_free(&error);
		free(location);
	}
}

struct scopes_seen {
	char text[512];
};

static void add_scope(void *context, const char *scope)
{
	struct scopes_seen *seen = context;
	size_t len = strlen(seen->text);

	snprintf(seen->text + len, sizeof(seen->text) - len, "%s%s",
		 len > 0 ? " " : "", scope);
}

/* The scopes changed after revision since, oldest first, or "error". */
static const char *changed_since(struct om_store *store, long long since,
				 size_t limit, struct scopes_seen *seen)
{
	char *error = NULL;

	seen->text[0] = '\0';
	if (om_store_changes(store, since, limit, add_scope, seen, &error) < 0) {
		free(error);
		return "error";
	}
	return seen->text;
}

/* Every write records its scope with the revision it made; a reader
   asks which scopes changed after the revision it read at. */
static void test_changes(struct om_store *store)
{
	struct scopes_seen seen;
	long long start, now;
	char *error = NULL;
	const char *entries[] = { "a@c.example", "b@c.example" };

	TAP_OK(om_store_revision(store, "config", &start, &error) == 0,
	       "config revision read");
	TAP_OK(strcmp(changed_since(store, start, 10, &seen), "") == 0,
	       "nothing changed since: no scope");
	om_store_list_add(store, "one@c.example", "block", "x@y.example", 0, &error);
	om_store_subscription_set(store, "two@c.example", OM_FEATURE_SPAM, "on", &error);
	om_store_domain_set(store, "c.example", OM_SETTING_SPAM_THRESHOLD, "4", &error);
	om_store_domain_set(store, "*", OM_SETTING_SPAM_THRESHOLD, "6", &error);
	TAP_OK(strcmp(changed_since(store, start, 10, &seen),
		      "one@c.example two@c.example c.example *") == 0,
	       "a list, a subscription, a domain and the global setting: their "
	       "scopes, in order (%s)", seen.text);
	om_store_list_add(store, "one@c.example", "block", "z@y.example", 0, &error);
	TAP_OK(strcmp(changed_since(store, start, 10, &seen),
		      "two@c.example c.example * one@c.example") == 0,
	       "a scope changed again moves to the end, once");
	TAP_OK(om_store_revision(store, "config", &now, &error) == 0 &&
	       strcmp(changed_since(store, now, 10, &seen), "") == 0,
	       "nothing after the current revision");
	TAP_OK(strcmp(changed_since(store, start, 2, &seen),
		      "two@c.example c.example *") == 0,
	       "limit 2: three scopes, so the reader knows there are more");
	om_store_list_change(store, "three@c.example", "allow", entries, 2, 1, 0, &error);
	om_store_list_change(store, "three@c.example", "allow", entries, 2, 0, 0, &error);
	om_store_subscription_delete(store, "two@c.example", OM_FEATURE_SPAM, &error);
	TAP_OK(strcmp(changed_since(store, now, 10, &seen), "three@c.example two@c.example") == 0,
	       "deletions are changes of their scope too");
	om_store_domain_delete(store, "c.example", OM_SETTING_SPAM_THRESHOLD, &error);
	om_store_domain_delete(store, "*", OM_SETTING_SPAM_THRESHOLD, &error);
}

/* An import longer than a backend's batch (PostgreSQL's: 5 000 rows):
   the row over its limit found across batches, named by its index,
   nothing written; a malformed row before it is the one at fault; a
   whole import changes its scopes and the config revision. */
#define BULK_ROWS 11000
static void test_import_batches(struct om_store *store)
{
	struct om_store_list_row *rows = om_calloc(BULK_ROWS, sizeof(*rows));
	char **entries = om_calloc(BULK_ROWS, sizeof(char *));
	struct scopes_seen seen;
	long long start, now;
	char *error = NULL;
	size_t i, failed = 0;
	int ret;

	for (i = 0; i < BULK_ROWS; i++) {
		int limited = i == 10 || i == 5003 || i == 10500;

		entries[i] = om_asprintf("e%zu@y.example", i);
		rows[i].scope = limited ? "bulk@x.example" : "bulk.example";
		rows[i].kind = "block";
		rows[i].entry = entries[i];
		rows[i].limited = limited;
	}
	ret = om_store_list_import(store, rows, BULK_ROWS, 2, &failed, &error);
	TAP_OK(ret < 0 && failed == 10500 && error != NULL &&
	       strstr(error, "bulk@x.example") != NULL && strstr(error, "(2 entries") != NULL,
	       "a long import: the third mailbox row, in the third batch, is over "
	       "the limit of 2 (%zu: %s)", failed, error != NULL ? error : "");
	om_free(&error);
	TAP_OK(om_lists_listed(store, "bulk.example", "block", "e0@y.example", &error) == 0 &&
	       om_lists_listed(store, "bulk@x.example", "block", "e10@y.example", &error) == 0,
	       "nothing of the refused long import written");
	rows[7000].entry = NULL;
	ret = om_store_list_import(store, rows, BULK_ROWS, 2, &failed, &error);
	TAP_OK(ret < 0 && failed == 7000, "a row without an entry before the one over "
	       "the limit is the one at fault (%zu)", failed);
	om_free(&error);
	rows[7000].entry = entries[7000];
	TAP_OK(om_store_revision(store, "config", &start, &error) == 0,
	       "config revision read");
	ret = om_store_list_import(store, rows, 10500, 2, &failed, &error);
	TAP_OK(ret == 0 && om_lists_listed(store, "bulk.example", "block",
					   "e10499@y.example", &error) == 1 &&
	       om_lists_listed(store, "bulk@x.example", "block", "e5003@y.example",
			       &error) == 1,
	       "a long import within the limit, every row written");
	TAP_OK(om_store_list_import(store, rows + 10500, 1, 2, &failed, &error) < 0 &&
	       failed == 0, "then the third mailbox row alone is refused");
	om_free(&error);
	changed_since(store, start, 10, &seen);
	TAP_OK(om_store_revision(store, "config", &now, &error) == 0 && now > start &&
	       strstr(seen.text, "bulk.example") != NULL &&
	       strstr(seen.text, "bulk@x.example") != NULL,
	       "the import moved the config revision and changed both scopes (%s)",
	       seen.text);
	for (i = 0; i < BULK_ROWS; i++)
		free(entries[i]);
	free(entries);
	free(rows);
}

static void add_quarantined(struct om_store *store, const char *id,
			    const char *mailbox, long long received,
			    const char *sender)
{
	struct om_store_quarantined q = {
		.id = id, .mailbox = mailbox, .received = received,
		.sender = sender, .from = "Spammer <s@spam.example>",
		.from_address = "s@spam.example",
		.subject = "\xe3\x81\x8a\xe5\xbe\x97\xe3\x81\xaa\xe6\x83\x85\xe5\xa0\xb1",
		.score = "12.5", .reasons = "BAYES_99 URL_SHORTENER",
		.size = 1234, .digest = 0,
	};
	char *error = NULL;

	if (om_store_quarantine_add(store, &q, &error) < 0) {
		printf("# %s\n", error);
		free(error);
	}
}

struct q_seen {
	char ids[256];
	long long digest, size;
	char subject[64];
	int admin_only;
};

static void q_seen_cb(void *context, const struct om_store_quarantined *q)
{
	struct q_seen *seen = context;
	size_t len = strlen(seen->ids);

	snprintf(seen->ids + len, sizeof(seen->ids) - len, "%s%s",
		 len > 0 ? " " : "", q->id);
	seen->digest = q->digest;
	seen->size = q->size;
	seen->admin_only = q->admin_only;
	snprintf(seen->subject, sizeof(seen->subject), "%s", q->subject);
}

static void test_quarantine(struct om_store *store)
{
	struct q_seen seen;
	char *error = NULL;

	add_quarantined(store, "aaaa", "q@example.jp", 1000, "s@spam.example");
	add_quarantined(store, "bbbb", "q@example.jp", 2000, "s@spam.example");
	add_quarantined(store, "cccc", "other@example.jp", 1500, "");
	add_quarantined(store, "aaaa", "q@example.jp", 9999, "x@y.example");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_quarantine_each(store, "q@example.jp", q_seen_cb, &seen,
					&error) == 2 &&
	       strcmp(seen.ids, "bbbb aaaa") == 0,
	       "a mailbox's quarantined mail, newest first, an id recorded once: %s",
	       seen.ids);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_quarantine_get(store, "q@example.jp", "aaaa", q_seen_cb,
				       &seen, &error) == 1 && seen.size == 1234 &&
	       strcmp(seen.subject, "\xe3\x81\x8a\xe5\xbe\x97\xe3\x81\xaa\xe6\x83\x85\xe5\xa0\xb1") == 0,
	       "one row by mailbox and id, UTF-8 kept");
	TAP_OK(om_store_quarantine_get(store, "other@example.jp", "aaaa", q_seen_cb,
				       &seen, &error) == 0,
	       "another mailbox cannot name it");
	TAP_OK(om_store_quarantine_delete(store, "other@example.jp", "aaaa", &error) == 0 &&
	       om_store_quarantine_delete(store, "q@example.jp", "bbbb", &error) == 1 &&
	       om_store_quarantine_delete(store, "q@example.jp", "bbbb", &error) == 0,
	       "delete: only the owner's row, once");
	add_quarantined(store, "bbbb", "q@example.jp", 2000, "s@spam.example");
	TAP_OK(om_store_quarantine_expire(store, "q@example.jp", 1500, &error) == 1,
	       "retention forgets rows received before its limit");
	add_quarantined(store, "aaaa", "q@example.jp", 1000, "s@spam.example");
	{
		struct om_store_quarantined q = {
			.id = "dddd", .mailbox = "q@example.jp", .received = 3000,
			.sender = "", .from = "", .from_address = "", .subject = "",
			.score = "", .reasons = "audit:rule-1", .admin_only = 1,
		};

		memset(&seen, 0, sizeof(seen));
		TAP_OK(om_store_quarantine_add(store, &q, &error) == 0 &&
		       om_store_quarantine_get(store, "q@example.jp", "dddd", q_seen_cb,
					       &seen, &error) == 1 && seen.admin_only == 1,
		       "an admin-only row keeps its flag (v20)");
		memset(&seen, 0, sizeof(seen));
		TAP_OK(om_store_quarantine_get(store, "q@example.jp", "aaaa", q_seen_cb,
					       &seen, &error) == 1 && seen.admin_only == 0,
		       "other rows are not admin-only");
		(void)om_store_quarantine_delete(store, "q@example.jp", "dddd", &error);
	}
}

struct due_seen {
	char text[256];
};

static void due_cb(void *context, const char *mailbox, long count, long known)
{
	struct due_seen *seen = context;
	size_t len = strlen(seen->text);

	snprintf(seen->text + len, sizeof(seen->text) - len, "%s%s=%ld/%ld",
		 len > 0 ? " " : "", mailbox, count, known);
}

static void pending_cb(void *context, const struct om_store_digest *d)
{
	*(long long *)context = d->id;
}

static void count_cb(void *context, const char *address)
{
	(void)address;
	(*(long *)context)++;
}

static void test_digests(struct om_store *store)
{
	struct om_store_correspondent c = { "q@example.jp", "s@spam.example", 500 };
	struct due_seen due;
	struct q_seen seen;
	long long digest = -1, second = -1, last = -1, pending = 0;
	char *error = NULL;

	memset(&due, 0, sizeof(due));
	TAP_OK(om_store_digest_due(store, due_cb, &due, &error) == 2 &&
	       strcmp(due.text, "other@example.jp=1/0 q@example.jp=2/0") == 0,
	       "mailboxes with mail no digest listed: %s", due.text);
	TAP_OK(om_store_correspondents_save(store, &c, 1, &error) == 0 &&
	       om_store_correspondent_known(store, "q@example.jp", "s@spam.example",
					    &error) == 1 &&
	       om_store_correspondent_known(store, "other@example.jp",
					    "s@spam.example", &error) == 0,
	       "a correspondent is known to its mailbox only");
	{
		long listed = 0;

		TAP_OK(om_store_correspondents_list(store, "q@example.jp", 10, count_cb,
						    &listed, &error) == 1 && listed == 1 &&
		       om_store_correspondents_list(store, "other@example.jp", 10, count_cb,
						    &listed, &error) == 0,
		       "a mailbox's correspondents listed, no one else's");
	}
	memset(&due, 0, sizeof(due));
	om_store_digest_due(store, due_cb, &due, &error);
	TAP_OK(strcmp(due.text, "other@example.jp=1/0 q@example.jp=2/2") == 0,
	       "mail from known senders counted: %s", due.text);
	TAP_OK(om_store_digest_last(store, "q@example.jp", &last, &error) == 0 &&
	       last == 0, "no digest yet");
	TAP_OK(om_store_digest_claim(store, "q@example.jp", 3000, &digest, &error) == 2 &&
	       digest > 0, "a claim takes the two rows into a digest");
	TAP_OK(om_store_digest_claim(store, "q@example.jp", 3001, &second, &error) == 0 &&
	       second == 0, "a second claim finds nothing new and makes no digest");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_digest_items(store, digest, q_seen_cb, &seen, &error) == 2 &&
	       strcmp(seen.ids, "bbbb aaaa") == 0 && seen.digest == digest,
	       "the digest lists them, marked with its id");
	TAP_OK(om_store_digest_pending(store, 3500, pending_cb, &pending, &error) == 1 &&
	       pending == digest, "unsent, it is pending");
	TAP_OK(om_store_digest_pending(store, 2500, pending_cb, &pending, &error) == 0,
	       "but not one made after the given time");
	TAP_OK(om_store_digest_sent(store, digest, 3002, &error) == 0 &&
	       om_store_digest_pending(store, 9999, pending_cb, &pending, &error) == 0,
	       "sent, it is no longer pending");
	TAP_OK(om_store_digest_last(store, "q@example.jp", &last, &error) == 0 &&
	       last == 3000, "the last digest's time");
	memset(&due, 0, sizeof(due));
	om_store_digest_due(store, due_cb, &due, &error);
	TAP_OK(strcmp(due.text, "other@example.jp=1/0") == 0,
	       "only the other mailbox is still due: %s", due.text);
}

static void test_nonces(struct om_store *store)
{
	char *error = NULL;

	TAP_OK(om_store_nonce_use(store, "n1", 2000, 1000, &error) == 1,
	       "a form value's first use");
	TAP_OK(om_store_nonce_use(store, "n1", 2000, 1001, &error) == 0,
	       "its second use is a replay");
	TAP_OK(om_store_nonce_use(store, "n2", 3000, 2500, &error) == 1 &&
	       om_store_nonce_use(store, "n1", 4000, 2600, &error) == 1,
	       "past expiry it is forgotten (the token carrying it has expired too)");
}

/* Outbound mail: claimed once, a retry of a sent message is told so. */
/* ---- audit rules (schema v15) ---- */

static void audit_cb(void *context, const struct om_store_audit_rule *r)
{
	struct om_buf *b = context;

	om_buf_printf(b, "%lld:%s;", r->position, r->rule);
}

static char *audit_rules(struct om_store *store, const char *domain)
{
	struct om_buf b;
	char *error = NULL;

	om_buf_init(&b);
	if (om_store_audit_list(store, domain, audit_cb, &b, &error) < 0) {
		om_buf_printf(&b, "error %s", error);
		free(error);
	}
	return om_buf_steal(&b, NULL);
}

static void test_audit(struct om_store *store)
{
	char *error = NULL, *list;

	TAP_OK(om_store_audit_add(store, "example.jp", 0, "size > 1M => notify", 1, &error) == 1 &&
	       om_store_audit_add(store, "example.jp", 0, "attachment => hold", 2, &error) == 2 &&
	       om_store_audit_add(store, "example.jp", 1, "direction in => send", 3, &error) == 1 &&
	       om_store_audit_add(store, "other.example", 9, "x", 4, &error) == 1,
	       "audit rules added, one in front");
	list = audit_rules(store, "example.jp");
	TAP_OK(strcmp(list, "1:direction in => send;2:size > 1M => notify;3:attachment => hold;")
	       == 0, "in order, the later ones moved down: %s", list);
	free(list);
	TAP_OK(om_store_audit_del(store, "example.jp", 2, &error) == 1 &&
	       om_store_audit_del(store, "example.jp", 7, &error) == 0,
	       "a rule removed; a missing one is 0");
	list = audit_rules(store, "example.jp");
	TAP_OK(strcmp(list, "1:direction in => send;2:attachment => hold;") == 0,
	       "the gap closed: %s", list);
	free(list);
	list = audit_rules(store, "other.example");
	TAP_OK(strcmp(list, "1:x;") == 0, "domains apart: %s", list);
	free(list);
	{
		long long before = 0, after = 0;

		TAP_OK(om_store_revision(store, "config", &before, &error) == 0 &&
		       om_store_audit_add(store, "other.example", 0, "y", 5, &error) == 2 &&
		       om_store_revision(store, "config", &after, &error) == 0 &&
		       after > before,
		       "an audit rule added moves the config revision (scand's cache, v20)");
	}
}

/* ---- policy groups (schema v19) ---- */

static void group_names(void *context, const char *domain, const char *name)
{
	char *list = *(char **)context, *more;

	more = om_asprintf("%s%s%s", list != NULL ? list : "", list != NULL ? " " : "",
			   name);
	(void)domain;
	free(list);
	*(char **)context = more;
}

static char *effective_setting(struct om_store *store, const char *mailbox,
			       const char *name, const char **source_r)
{
	char *value = NULL, *error = NULL;

	if (om_settings_effective(store, OM_KEY_MAILBOX, mailbox, name,
				  om_settings_default(name), &value, source_r, &error) < 0) {
		free(error);
		return om_strdup("error");
	}
	return value;
}

static char *changes_of(struct om_store *store, const char *domain);

static void test_groups(struct om_store *store)
{
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL, *list = NULL, *value, *log_text;
	const char *source = "";
	enum om_sub_state state;
	int ret;

	TAP_OK(om_settings_group_name_valid("B") && om_settings_group_name_valid("sales-1") &&
	       !om_settings_group_name_valid("") && !om_settings_group_name_valid("none") &&
	       !om_settings_group_name_valid("a b") &&
	       !om_settings_group_name_valid("seventeen-chars-x"),
	       "group names: short words only");
	TAP_OK(om_settings_group_scope("g.example", "B", scope, sizeof(scope)) == 0 &&
	       strcmp(scope, "<group B>@g.example") == 0 &&
	       strcmp(om_settings_group_scope_domain(scope), "g.example") == 0 &&
	       om_settings_group_scope_domain("taro@g.example") == NULL,
	       "a group's scope is no key an administrator can write: %s", scope);
	TAP_OK(om_settings_scope_covers("taro@g.example", "taro@g.example") &&
	       om_settings_scope_covers("g.example", "taro@g.example") &&
	       om_settings_scope_covers("@g.example", "taro@g.example") &&
	       om_settings_scope_covers(scope, "taro@g.example") &&
	       om_settings_scope_covers(OM_GLOBAL_DOMAIN, "taro@g.example") &&
	       om_settings_scope_covers(OM_GLOBAL_DOMAIN, "dave") &&
	       !om_settings_scope_covers("hanako@g.example", "taro@g.example") &&
	       !om_settings_scope_covers("h.example", "taro@g.example") &&
	       !om_settings_scope_covers("sub.g.example", "taro@g.example") &&
	       !om_settings_scope_covers("", "dave") &&
	       !om_settings_scope_covers("g.example", "dave"),
	       "a change's scope covers its mailbox, its domain, its domain's groups, "
	       "and everyone from the global level; nobody else");
	TAP_OK(om_settings_per_group("hold-when") && om_settings_per_group("outbound-zip") &&
	       om_settings_per_group("internal-only") &&
	       om_settings_per_group("internal-domains") &&
	       !om_settings_per_group("spam-action") && !om_settings_per_group("group") &&
	       !om_settings_per_group("outbound-nonsense"),
	       "a group carries outbound settings only");
	TAP_OK(om_store_group_add(store, "g.example", "A", &error) == 1 &&
	       om_store_group_add(store, "g.example", "B", &error) == 1 &&
	       om_store_group_add(store, "g.example", "B", &error) == 0 &&
	       om_store_group_add(store, "g.example", "C", &error) == 1 &&
	       om_store_group_add(store, "g.example", "D", &error) == 1 &&
	       om_store_group_add(store, "other.example", "B", &error) == 1,
	       "four groups a domain; adding one twice is harmless");
	ret = om_store_group_add(store, "g.example", "E", &error);
	TAP_OK(ret < 0 && strstr(error, "4 policy groups already (A B C D)") != NULL,
	       "a fifth is refused, naming the four: %s", error != NULL ? error : "");
	om_free(&error);
	TAP_OK(om_store_group_add(store, "g.example", "x y", &error) < 0 &&
	       strstr(error, "not a group name") != NULL, "a bad name is refused");
	om_free(&error);
	TAP_OK(om_store_group_exists(store, "g.example", "B", &error) == 1 &&
	       om_store_group_exists(store, "g.example", "E", &error) == 0 &&
	       om_store_group_exists(store, "h.example", "B", &error) == 0,
	       "exists: by domain");
	ret = (int)om_store_group_list(store, "g.example", group_names, &list, &error);
	TAP_OK(ret == 4 && strcmp(list, "A B C D") == 0, "list: %s", list != NULL ? list : "");
	om_free(&list);

	/* taro is in B; B holds external mail and is internal-only */
	TAP_OK(om_store_domain_set(store, scope, "hold-when", "any", &error) == 0 &&
	       om_store_domain_set(store, scope, "outbound-hold", "on", &error) == 0 &&
	       om_store_domain_set(store, scope, "internal-only", "on", &error) == 0 &&
	       om_store_domain_set(store, "g.example", "hold-when", "attachment", &error) == 0 &&
	       om_store_domain_set(store, "taro@g.example", "group", "B", &error) == 0 &&
	       om_store_domain_set(store, "jiro@g.example", "group", "A", &error) == 0,
	       "group B's settings and members");
	value = effective_setting(store, "taro@g.example", "hold-when", &source);
	TAP_OK(strcmp(value, "any") == 0 && strcmp(source, "group") == 0,
	       "a member sees its group's value: %s (%s)", value, source);
	free(value);
	value = effective_setting(store, "hanako@g.example", "hold-when", &source);
	TAP_OK(strcmp(value, "attachment") == 0 && strcmp(source, "domain") == 0,
	       "a mailbox in no group the domain's: %s (%s)", value, source);
	free(value);
	value = effective_setting(store, "jiro@g.example", "hold-when", &source);
	TAP_OK(strcmp(value, "attachment") == 0 && strcmp(source, "domain") == 0,
	       "a group without the setting: the domain's: %s (%s)", value, source);
	free(value);
	om_store_domain_set(store, "taro@g.example", "hold-when", "external", &error);
	value = effective_setting(store, "taro@g.example", "hold-when", &source);
	TAP_OK(strcmp(value, "external") == 0 && strcmp(source, "mailbox") == 0,
	       "the mailbox's own value before its group's: %s (%s)", value, source);
	free(value);
	value = om_settings_domain_value(store, "taro@g.example", "internal-only", "off",
					 &error);
	TAP_OK(value != NULL && strcmp(value, "on") == 0, "internal-only through the group");
	free(value);
	value = om_settings_domain_value(store, "hanako@g.example", "internal-only", "off",
					 &error);
	TAP_OK(value != NULL && strcmp(value, "off") == 0, "not for others");
	free(value);
	ret = om_settings_subscription(store, "taro@g.example", OM_FEATURE_OUTBOUND_HOLD,
				       &state, &source, &error);
	TAP_OK(ret == 0 && state == OM_SUB_ON && strcmp(source, "group") == 0,
	       "a group's feature: on (%s)", source);
	TAP_OK(om_settings_subscription(store, "hanako@g.example", OM_FEATURE_OUTBOUND_HOLD,
					&state, &source, &error) == 0 && state == OM_SUB_OFF,
	       "not a non-member's");
	value = om_settings_domain_value(store, "taro@other.example", "internal-only", "off",
					 &error);
	TAP_OK(value != NULL && strcmp(value, "off") == 0,
	       "a group of the same name in another domain is another group");
	free(value);

	TAP_OK(om_store_group_members(store, "g.example", "B", group_names, &list,
				      &error) == 1 && strcmp(list, "B") == 0,
	       "members of B: one");
	om_free(&list);
	ret = om_store_group_delete(store, "g.example", "B", "t", 1000, &error);
	TAP_OK(ret < 0 && strstr(error, "taro@g.example") != NULL &&
	       strstr(error, "move them") != NULL,
	       "a group with mailboxes is not deleted: %s", error != NULL ? error : "");
	om_free(&error);
	om_store_domain_delete(store, "taro@g.example", "group", &error);
	TAP_OK(om_store_group_delete(store, "g.example", "B", "t", 1000, &error) == 1 &&
	       om_store_group_exists(store, "g.example", "B", &error) == 0 &&
	       om_store_domain_get(store, scope, "hold-when", &value, &error) == 0,
	       "an empty group is deleted with its settings");
	log_text = changes_of(store, "g.example");
	TAP_OK(strstr(log_text, "t|setting hold-when of group B|") != NULL &&
	       strstr(log_text, "t|group B|B>;") != NULL,
	       "the deletion and each setting it took are in the change log: %s", log_text);
	free(log_text);
	TAP_OK(om_store_group_delete(store, "g.example", "B", "t", 1000, &error) == 0,
	       "deleting it again: 0");
	TAP_OK(om_store_group_add(store, "g.example", "E", &error) == 1,
	       "and there is room for another");
}

/* ---- the history of subscription states, the billing export (v19) ---- */

static void test_billing_days(void)
{
	/* 2026-11: 1793491200 .. 1796083200 (30 days) */
	const long long nov = 1793491200LL, dec = 1796083200LL, day = 86400;
	struct om_billing_change on_all[] = { { nov - 5 * day, OM_SUB_ON } };
	struct om_billing_change mixed[] = {
		{ nov - day, OM_SUB_OFF },
		{ nov + 2 * day + 3600, OM_SUB_ON },	/* 3rd, partly */
		{ nov + 4 * day + 60, OM_SUB_PAUSED },	/* 5th: on and paused */
		{ nov + 9 * day, OM_SUB_OFF },		/* 10th on: off */
	};
	struct om_billing_change later[] = { { dec + day, OM_SUB_ON } };
	long long start = 0, end = 0;
	char *error = NULL;
	int on = 0, paused = 0, ret;
	enum om_sub_state st;

	ret = om_billing_month("2026-11", nov + 10, &start, &end, &error);
	TAP_OK(ret == 0 && start == nov && end == dec, "2026-11 is %lld..%lld", start, end);
	ret = om_billing_month("2026-13", dec, &start, &end, &error);
	TAP_OK(ret < 0 && strstr(error, "YYYY-MM") != NULL, "a malformed month: %s", error);
	om_free(&error);
	TAP_OK(om_billing_month("2026-1", dec, &start, &end, &error) < 0, "2026-1 too");
	om_free(&error);
	ret = om_billing_month("2026-12", nov + 10, &start, &end, &error);
	TAP_OK(ret < 0 && strstr(error, "not begun") != NULL, "a month to come: %s", error);
	om_free(&error);
	TAP_OK(om_billing_month("2024-02", dec, &start, &end, &error) == 0 &&
	       end - start == 29 * day, "a leap February has 29 days");
	st = om_billing_days(on_all, 1, nov, dec, &on, &paused);
	TAP_OK(st == OM_SUB_ON && on == 30 && paused == 0, "on all month: 30 days (%d)", on);
	st = om_billing_days(mixed, 4, nov, dec, &on, &paused);
	TAP_OK(st == OM_SUB_ON && on == 3 && paused == 5, "on from the 3rd to the 5th, "
	       "paused the 5th to the 9th: %d on, %d paused", on, paused);
	TAP_OK(om_billing_days(mixed + 3, 1, nov, dec, &on, &paused) == OM_SUB_OFF &&
	       on == 0 && paused == 0, "off: no days");
	st = om_billing_days(mixed, 4, nov, nov + 3 * day + 1, &on, &paused);
	TAP_OK(st == OM_SUB_ON && on == 2, "the month in progress counts to now: %d", on);
	TAP_OK(om_billing_days(later, 1, nov, dec, &on, &paused) == OM_SUB_OFF && on == 0,
	       "a later change does not count");
}

static void test_billing(struct om_store *store)
{
	const long long nov = 1793491200LL, day = 86400;
	struct om_store_sub_change rows[] = {
		{ "a@bill.example", "inbound-virus", "on", nov - 40 * day },
		{ "b@bill.example", "inbound-virus", "on", nov + 10 * day },
		{ "b@bill.example", "inbound-virus", "paused", nov + 20 * day },
		{ "c@bill.example", "inbound-virus", "paused", nov - day },
		{ "d@bill.example", "inbound-virus", "off", nov - day },
		{ "a@bill.example", "spam", "on", nov + 29 * day + 1 },
		{ "x@other-bill.example", "spam", "on", nov },
	};
	struct om_billing_report r;
	char *error = NULL, *state = NULL;
	size_t i;
	int ok = 1;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++)
		ok &= om_store_sub_history_put(store, &rows[i], &error) == 0;
	TAP_OK(ok, "history rows written with chosen times");
	i = om_billing_report(store, "2026-11", "Bill.Example", nov + 40 * day, &r,
			      &error) == 0;
	TAP_OK(i && r.count == 5, "a month of one domain: %zu mailbox features", r.count);
	if (r.count == 5) {
		TAP_OK(strcmp(r.rows[0].mailbox, "a@bill.example") == 0 &&
		       strcmp(r.rows[0].feature, "inbound-virus") == 0 &&
		       r.rows[0].state == OM_SUB_ON && r.rows[0].days_on == 30,
		       "a: on all month (%d)", r.rows[0].days_on);
		TAP_OK(r.rows[1].state == OM_SUB_ON && r.rows[1].days_on == 10 &&
		       r.rows[1].days_paused == 10, "b: on 10 days, paused 10 (%d, %d)",
		       r.rows[1].days_on, r.rows[1].days_paused);
		TAP_OK(r.rows[2].state == OM_SUB_PAUSED && r.rows[2].days_paused == 30,
		       "c: paused");
		TAP_OK(r.rows[3].state == OM_SUB_OFF && r.rows[3].days_on == 0, "d: off");
		TAP_OK(strcmp(r.rows[4].feature, "spam") == 0 && r.rows[4].days_on == 1,
		       "a's spam: on the last day (%d)", r.rows[4].days_on);
	}
	om_billing_report_free(&r);
	/* a domain's setting of a feature, recorded in the change log: on
	   from November 11th for m, which has no spam row; n's own paused
	   row wins; a domain default all-on from the 26th turns on what m
	   has no row of (inbound-virus), but never outbound-audit */
	{
		struct om_store_change c1 = { 0, nov + 10 * day, "t", "dflt.example",
					      "setting spam", "", "on" };
		struct om_store_change c2 = { 0, nov + 25 * day, "t", "dflt.example",
					      "setting default", "", "all-on" };
		struct om_store_sub_change own[] = {
			{ "m@dflt.example", "attachments", "off", nov - day },
			{ "n@dflt.example", "spam", "paused", nov - day },
		};
		const char *want[][3] = {
			{ "m@dflt.example", "attachments", "0" },
			{ "m@dflt.example", "inbound-virus", "5" },
			{ "m@dflt.example", "spam", "20" },
			{ "n@dflt.example", "attachments", "5" },
			{ "n@dflt.example", "spam", "0" },
		};
		size_t k;
		int good = 1, audit = 0;

		ok = om_store_change_add(store, &c1, &error) == 0 &&
			om_store_change_add(store, &c2, &error) == 0 &&
			om_store_domain_set(store, "dflt.example", "spam", "on", &error) == 0 &&
			om_store_domain_set(store, "dflt.example", "default", "all-on",
					    &error) == 0 &&
			om_store_sub_history_put(store, &own[0], &error) == 0 &&
			om_store_sub_history_put(store, &own[1], &error) == 0;
		TAP_OK(ok, "a domain's spam on and default all-on, recorded with chosen times");
		ok = om_billing_report(store, "2026-11", "dflt.example", nov + 40 * day, &r,
				       &error) == 0;
		for (k = 0; ok && k < OM_N_ELEMENTS(want); k++) {
			size_t j;
			int found = 0;

			for (j = 0; j < r.count; j++) {
				if (strcmp(r.rows[j].mailbox, want[k][0]) == 0 &&
				    strcmp(r.rows[j].feature, want[k][1]) == 0) {
					found = r.rows[j].days_on == atoi(want[k][2]);
				}
				audit |= strcmp(r.rows[j].feature, "outbound-audit") == 0;
			}
			good &= found;
		}
		TAP_OK(ok && good && !audit && r.count >= OM_N_ELEMENTS(want),
		       "days from the domain's setting and default (%zu rows)", r.count);
		good = 0;
		for (k = 0; k < r.count; k++) {
			if (strcmp(r.rows[k].mailbox, "n@dflt.example") == 0 &&
			    strcmp(r.rows[k].feature, "spam") == 0)
				good = r.rows[k].state == OM_SUB_PAUSED &&
					r.rows[k].days_paused == 30;
		}
		TAP_OK(good, "n's own paused row wins over the domain's on");
		om_billing_report_free(&r);
	}
	/* the trigger: a change through the store is history */
	TAP_OK(om_store_subscription_set(store, "t@bill2.example", "spam", "on", &error) == 0 &&
	       om_store_subscription_set(store, "t@bill2.example", "spam", "on", &error) == 0 &&
	       om_store_subscription_set(store, "t@bill2.example", "spam", "paused",
					 &error) == 0 &&
	       om_store_subscription_delete(store, "t@bill2.example", "spam", &error) == 0,
	       "a subscription set, set again, paused, deleted");
	TAP_OK(om_billing_report(store, "2026-11", "bill2.example", 4102444800LL, &r,
				 &error) == 0 && r.count == 0,
	       "this month's changes are not November's");
	om_billing_report_free(&r);
	{
		long long now = (long long)time(NULL), start, end;
		char month[16];
		time_t t = (time_t)now;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(month, sizeof(month), "%Y-%m", &tm);
		(void)om_billing_month(month, now, &start, &end, &error);
		TAP_OK(om_billing_report(store, month, "bill2.example", now + 1, &r,
					 &error) == 0 && r.count == 1 &&
		       r.rows[0].state == OM_SUB_ON && r.rows[0].days_on == 1 &&
		       r.rows[0].days_paused == 1,
		       "this month: on, paused and off today - one day on, one paused");
		om_billing_report_free(&r);
	}
	(void)state;
}

static char *changes_of(struct om_store *store, const char *domain);

/* The days on of report row mailbox/feature (its state in *state_r), -1
   when there is no such row. */
static int billing_days_on(const struct om_billing_report *r, const char *mailbox,
			   const char *feature, enum om_sub_state *state_r)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		if (strcmp(r->rows[i].mailbox, mailbox) == 0 &&
		    strcmp(r->rows[i].feature, feature) == 0) {
			*state_r = r->rows[i].state;
			return r->rows[i].days_on;
		}
	}
	return -1;
}

/* A policy group's feature bills its members while they are in it: B gets
   outbound-zip on November 3rd, j joins B on the 5th and leaves on the
   20th (on days 5..20, off after); m was in B before the month (on from
   the 3rd); k is in B but has its own row off (its own row wins); the
   domain's setting decides for j outside B (off). */
static void test_billing_groups(struct om_store *store)
{
	const long long nov = 1793491200LL, day = 86400;
	struct om_store_change log[] = {
		{ 0, nov - 2 * day, "t", "grp.example", "setting group of m@grp.example",
		  "", "B" },
		{ 0, nov - 2 * day, "t", "grp.example", "setting group of k@grp.example",
		  "", "B" },
		{ 0, nov + 2 * day, "t", "grp.example", "setting outbound-zip of group B",
		  "", "on" },
		{ 0, nov + 4 * day, "t", "grp.example", "setting group of j@grp.example",
		  "", "B" },
		{ 0, nov + 19 * day + 3600, "t", "grp.example",
		  "setting group of j@grp.example", "B", "" },
	};
	struct om_store_sub_change own[] = {
		{ "m@grp.example", "spam", "on", nov - day },
		{ "k@grp.example", "outbound-zip", "off", nov - day },
	};
	struct om_billing_report r;
	enum om_sub_state st = OM_SUB_OFF, st_m = OM_SUB_OFF;
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL, *log_text;
	size_t i;
	int ok = 1, days;

	for (i = 0; i < OM_N_ELEMENTS(log); i++)
		ok &= om_store_change_add(store, &log[i], &error) == 0;
	for (i = 0; i < OM_N_ELEMENTS(own); i++)
		ok &= om_store_sub_history_put(store, &own[i], &error) == 0;
	ok &= om_store_group_add(store, "grp.example", "B", &error) >= 0 &&
		om_settings_group_scope("grp.example", "B", scope, sizeof(scope)) == 0 &&
		om_store_domain_set(store, scope, "outbound-zip", "on", &error) == 0 &&
		om_store_domain_set(store, "m@grp.example", "group", "B", &error) == 0 &&
		om_store_domain_set(store, "k@grp.example", "group", "B", &error) == 0;
	TAP_OK(ok, "group B, its members and their history written with chosen times");
	ok = om_billing_report(store, "2026-11", "grp.example", nov + 40 * day, &r,
			       &error) == 0;
	TAP_OK(ok, "billing a domain with a group: %s", ok ? "ok" : error);
	days = billing_days_on(&r, "j@grp.example", "outbound-zip", &st);
	TAP_OK(days == 16 && st == OM_SUB_ON,
	       "j: on from the day it joined B (5th) to the day it left (20th): %d", days);
	days = billing_days_on(&r, "m@grp.example", "outbound-zip", &st_m);
	TAP_OK(days == 28 && st_m == OM_SUB_ON,
	       "m: on from the day B got outbound-zip (3rd): %d", days);
	days = billing_days_on(&r, "k@grp.example", "outbound-zip", &st);
	TAP_OK(days == 0, "k's own row (off) wins over its group's on: %d", days);
	days = billing_days_on(&r, "j@grp.example", "spam", &st);
	TAP_OK(days == -1, "no row for what neither j nor its group had");
	om_billing_report_free(&r);
	/* December: j is in no group, m still in B */
	ok = om_billing_report(store, "2026-12", "grp.example", nov + 40 * day, &r,
			       &error) == 0;
	TAP_OK(ok && billing_days_on(&r, "j@grp.example", "outbound-zip", &st) == -1 &&
	       billing_days_on(&r, "m@grp.example", "outbound-zip", &st_m) == 11,
	       "off after leaving B; m on every day of December so far");
	om_billing_report_free(&r);
	/* the recorded path: a group's setting and a member's joining, old -> new */
	TAP_OK(om_admins_group_setting(store, "boss@grp2.example", "grp2.example", "C",
				       "outbound-zip", "on", &error) == 1 &&
	       om_admins_group_setting(store, "boss@grp2.example", "grp2.example", "C",
				       "outbound-zip", "on", &error) == 0 &&
	       om_admins_group_member(store, "boss@grp2.example", "u@grp2.example", "C",
				      &error) == 1 &&
	       om_admins_group_member(store, "root", "u@grp2.example", NULL, &error) == 1,
	       "group setting and membership changed through the recorded path");
	log_text = changes_of(store, "grp2.example");
	TAP_OK(log_text != NULL &&
	       strstr(log_text, "boss@grp2.example|setting outbound-zip of group C|>on;") !=
	       NULL &&
	       strstr(log_text, "boss@grp2.example|setting group of u@grp2.example|>C;") !=
	       NULL &&
	       strstr(log_text, "root|setting group of u@grp2.example|C>;") != NULL,
	       "the change log has them: %s", log_text != NULL ? log_text : "?");
	free(log_text);
}

/* ---- domain administrators and the change log (schema v18) ---- */


static void change_cb(void *context, const struct om_store_change *c)
{
	om_buf_printf(context, "%s|%s|%s>%s;", c->who, c->what, c->old_value, c->new_value);
}

static char *changes_of(struct om_store *store, const char *domain)
{
	struct om_buf b;
	char *error = NULL;

	om_buf_init(&b);
	if (om_store_change_list(store, domain, 100, change_cb, &b, &error) < 0) {
		om_buf_printf(&b, "error %s", error);
		free(error);
	}
	return om_buf_steal(&b, NULL);
}

static int admin_refused(struct om_store *store, const char *domain, const char *address,
			 const char *role, const char *rights, const char *want)
{
	char *error = NULL;
	int ok;

	ok = om_admins_add(store, "t", domain, address, role, rights, &error) < 0 &&
		error != NULL && strstr(error, want) != NULL;
	if (!ok)
		fprintf(stderr, "# error: %s\n", error != NULL ? error : "(none)");
	free(error);
	return ok;
}

static void test_admins(struct om_store *store)
{
	static const char *const deputies[] = {
		"d1@a.test", "d2@a.test", "d3@a.test", "d4@a.test"
	};
	char *error = NULL, *log;
	size_t i;
	int ok = 1;

	TAP_OK(om_admins_add(store, "root", "a.test", "boss@a.test", "admin", NULL, &error) == 0,
	       "a main admin added");
	TAP_OK(admin_refused(store, "a.test", "other@a.test", "admin", NULL, "main admin"),
	       "a second main admin is refused");
	TAP_OK(om_admins_add(store, "root", "a.test", "boss@a.test", "admin", NULL, &error) == 0,
	       "the same main admin again is no second one");
	for (i = 0; i < OM_N_ELEMENTS(deputies); i++)
		ok &= om_admins_add(store, "boss@a.test", "a.test", deputies[i], "deputy",
				    i == 0 ? "lists" : "settings,trace", &error) == 0;
	TAP_OK(ok, "four deputies added");
	TAP_OK(admin_refused(store, "a.test", "d5@a.test", "deputy", "lists", "4 deputies"),
	       "a fifth deputy is refused");
	TAP_OK(admin_refused(store, "a.test", "x@a.test", "deputy", "settings,root", "'root'"),
	       "an unknown right is refused");
	TAP_OK(admin_refused(store, "a.test", "x@a.test", "deputy", "lists lists", "repeated"),
	       "a right twice is refused");
	TAP_OK(admin_refused(store, "a.test", "not an address", "admin", NULL, "address"),
	       "a bad address is refused");
	TAP_OK(admin_refused(store, "a.test", "op@isp.test", "operator", NULL, "\"*\""),
	       "an operator is of \"*\" only");
	TAP_OK(admin_refused(store, "*", "x@a.test", "admin", NULL, "domain"),
	       "an admin of \"*\" is refused");
	TAP_OK(admin_refused(store, "a.test", "x@a.test", "chief", NULL, "unknown role"),
	       "an unknown role is refused");
	TAP_OK(om_admins_add(store, "root", "*", "op@isp.test", "operator", NULL, &error) == 0,
	       "an operator added");
	TAP_OK(om_admins_rights_of(store, "boss@a.test", "a.test", &error) ==
	       (OM_ADMIN_ALL | OM_ADMIN_MAIN) &&
	       om_admins_rights_of(store, "boss@a.test", "b.test", &error) == OM_ADMIN_NONE &&
	       om_admins_rights_of(store, "d1@a.test", "a.test", &error) == OM_ADMIN_LISTS &&
	       om_admins_rights_of(store, "d2@a.test", "a.test", &error) ==
	       (OM_ADMIN_SETTINGS | OM_ADMIN_TRACE) &&
	       om_admins_rights_of(store, "op@isp.test", "b.test", &error) ==
	       (OM_ADMIN_ALL | OM_ADMIN_MAIN) &&
	       om_admins_rights_of(store, "nobody@a.test", "a.test", &error) == OM_ADMIN_NONE &&
	       om_admins_rights_of(store, "boss@a.test", "*", &error) == OM_ADMIN_NONE,
	       "rights: the admin all of its domain only, a deputy its own, an operator all");
	TAP_OK(om_admins_del(store, "root", "a.test", "d4@a.test", &error) == 1 &&
	       om_admins_del(store, "root", "a.test", "d4@a.test", &error) == 0 &&
	       om_admins_add(store, "root", "a.test", "d5@a.test", "deputy", "", &error) == 0,
	       "a deputy removed makes room for another");
	TAP_OK(om_settings_domain_change(store, "boss@a.test", OM_KEY_DOMAIN, "a.test",
					 "spam-action", "quarantine", &error) == 1 &&
	       om_settings_domain_change(store, "boss@a.test", OM_KEY_DOMAIN, "a.test",
					 "spam-action", "quarantine", &error) == 0 &&
	       om_settings_domain_change(store, "root", OM_KEY_DOMAIN, "a.test",
					 "spam-action", "tag", &error) == 1,
	       "a setting changed, the same value again is no change");
	TAP_OK(om_settings_domain_change(store, "x", OM_KEY_DOMAIN, "a.test", "spam-action",
					 "bogus", &error) < 0 &&
	       strstr(error, "is not one of") != NULL, "a bad value: the check's message");
	om_free(&error);
	TAP_OK(om_settings_domain_change(store, "root", OM_KEY_DOMAIN, "a.test",
					 "spam-action", NULL, &error) == 1,
	       "unset is a change too");
	TAP_OK(om_settings_domain_change(store, "x", OM_KEY_DOMAIN, "z.test",
					 OM_FEATURE_OUTBOUND_ZIP, "on", &error) == 1 &&
	       om_settings_domain_change(store, "x", OM_KEY_DOMAIN, "z.test",
					 OM_FEATURE_OUTBOUND_PORTAL, "on", &error) < 0 &&
	       strstr(error, "cannot both be on") != NULL,
	       "outbound-zip and outbound-portal exclude each other on this path too");
	om_free(&error);
	log = changes_of(store, "a.test");
	TAP_OK(strncmp(log, "root|setting spam-action|tag>;root|setting spam-action|quarantine>tag;"
		       "boss@a.test|setting spam-action|>quarantine;root|admin d5@a.test|>deputy;"
		       "root|admin d4@a.test|deputy settings trace>;", 180) == 0,
	       "the change log, newest first, who and old -> new: %s", log);
	free(log);
	log = changes_of(store, "b.test");
	TAP_OK(*log == '\0', "another domain's log is apart: %s", log);
	free(log);
}

/* ---- holds for the administrator, the brake (schema v11) ---- */

struct hold_seen {
	char kind[16], details[64];
	enum om_hold_state state;
	int count;
};

static void hold_seen_cb(void *context, const struct om_store_hold *h)
{
	struct hold_seen *seen = context;

	(void)om_strlcpy(seen->kind, h->kind, sizeof(seen->kind));
	(void)om_strlcpy(seen->details, h->details, sizeof(seen->details));
	seen->state = h->state;
	seen->count++;
}

static void test_admin_holds(struct om_store *store)
{
	struct om_store_hold h;
	struct hold_seen seen;
	enum om_hold_state state;
	char *error = NULL;

	memset(&h, 0, sizeof(h));
	h.mailbox = h.sender = "spammer@example.jp";
	h.recipients = "a@far.example\n";
	h.delivered = h.subject = h.attachments = "";
	h.expiry = "admin";
	h.created = h.expires = 100;
	h.id = "Q1-00aa";
	h.kind = OM_HOLD_KIND_SPAM;
	h.details = "score=9.50 threshold=8";
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a spam hold recorded");
	h.id = "Q2-00bb";
	h.kind = OM_HOLD_KIND_BRAKE;
	h.details = "messages=120";
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a brake hold recorded");
	h.id = "Q3-00cc";
	h.kind = NULL;
	h.details = NULL;
	h.expiry = "send";
	h.expires = 700;
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a sender hold recorded");
	h.id = "Q4-00dd";
	h.kind = "other";
	TAP_OK(om_store_hold_add(store, &h, &error) < 0, "an unknown kind refused");
	om_free(&error);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_BY_ID, "Q1-00aa", 0, hold_seen_cb, &seen,
				  &error) == 1 && strcmp(seen.kind, "spam") == 0 &&
	       strcmp(seen.details, "score=9.50 threshold=8") == 0 &&
	       seen.state == OM_HOLD_ADMIN, "a spam hold is the administrator's at once");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_BY_ID, "Q3-00cc", 0, hold_seen_cb, &seen,
				  &error) == 1 && strcmp(seen.kind, "sender") == 0 &&
	       seen.state == OM_HOLD_HELD, "a sender hold without a kind is the sender's");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_DUE, NULL, 1000, hold_seen_cb, &seen,
				  &error) == 1 && strcmp(seen.kind, "sender") == 0,
	       "only the sender's hold expires");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_BRAKED, "spammer@example.jp", 0,
				  hold_seen_cb, &seen, &error) == 1 &&
	       strcmp(seen.kind, "brake") == 0, "the sender's brake holds");
	TAP_OK(om_store_hold_claim_sender(store, "Q1-00aa", OM_HOLD_SENDING, 200, &state,
					  &error) == 0 && state == OM_HOLD_ADMIN,
	       "the sender cannot claim a spam hold");
	TAP_OK(om_store_hold_claim(store, "Q3-00cc", OM_HOLD_ADMIN, 200, &state,
				   &error) == 1, "a sender hold kept for the administrator");
	TAP_OK(om_store_hold_claim_sender(store, "Q3-00cc", OM_HOLD_DISCARDED, 200, &state,
					  &error) == 0 && state == OM_HOLD_ADMIN,
	       "then the sender cannot claim it");
	TAP_OK(om_store_hold_claim(store, "Q1-00aa", OM_HOLD_SENDING, 200, &state,
				   &error) == 1, "the administrator's claim takes a spam hold");
}

struct hold_node_seen {
	char node[64], asked_by[64];
	long long asked_at;
	enum om_hold_state state;
	int count;
};

static void hold_node_cb(void *context, const struct om_store_hold *h)
{
	struct hold_node_seen *seen = context;

	(void)om_strlcpy(seen->node, h->node, sizeof(seen->node));
	(void)om_strlcpy(seen->asked_by, h->asked_by, sizeof(seen->asked_by));
	seen->asked_at = h->asked_at;
	seen->state = h->state;
	seen->count++;
}

/* A hold made on node A, released or discarded on node C (schema v24):
   C's claim asks A (once), A takes the request (once). */
static void test_asked_holds(struct om_store *store)
{
	struct om_store_hold h;
	struct hold_node_seen seen;
	enum om_hold_state state;
	char *error = NULL;

	memset(&h, 0, sizeof(h));
	h.mailbox = h.sender = "far@example.jp";
	h.recipients = "x@far.example\n";
	h.delivered = h.subject = h.attachments = "";
	h.expiry = "send";
	h.created = 100;
	h.expires = 900;
	h.node = "mx-a";
	h.id = "N1-00aa";
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a hold recorded on node mx-a");
	h.id = "N2-00bb";
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a second one");
	h.id = "N3-00cc";
	h.kind = OM_HOLD_KIND_SPAM;
	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a spam hold on mx-a");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_BY_ID, "N1-00aa", 0, hold_node_cb, &seen,
				  &error) == 1 && strcmp(seen.node, "mx-a") == 0 &&
	       seen.asked_at == 0 && *seen.asked_by == '\0', "the hold names its node");
	TAP_OK(om_store_hold_claim_on(store, "N1-00aa", OM_HOLD_SENDING, 1, "mx-c",
				      "mx-c sender", 200, &state, &error) == 2 &&
	       state == OM_HOLD_RELEASE_ASKED, "a release on mx-c is asked of mx-a");
	TAP_OK(om_store_hold_claim_on(store, "N1-00aa", OM_HOLD_SENDING, 1, "mx-b",
				      "mx-b sender", 201, &state, &error) == 0 &&
	       state == OM_HOLD_RELEASE_ASKED, "a second click (another host) is refused");
	TAP_OK(om_store_hold_claim_on(store, "N1-00aa", OM_HOLD_DISCARDED, 0, "mx-a",
				      "mx-a root", 202, &state, &error) == 0 &&
	       state == OM_HOLD_RELEASE_ASKED, "and so is a discard on the holding node");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_BY_ID, "N1-00aa", 0, hold_node_cb, &seen,
				  &error) == 1 && strcmp(seen.asked_by, "mx-c sender") == 0 &&
	       seen.asked_at == 200, "who asked and when are recorded");
	TAP_OK(om_store_hold_claim_on(store, "N3-00cc", OM_HOLD_SENDING, 1, "mx-c",
				      "mx-c sender", 200, &state, &error) == 0 &&
	       state == OM_HOLD_ADMIN, "the sender cannot ask for a spam hold");
	TAP_OK(om_store_hold_claim_on(store, "N3-00cc", OM_HOLD_DISCARDED, 0, "mx-c",
				      "mx-c root", 200, &state, &error) == 2 &&
	       state == OM_HOLD_DISCARD_ASKED, "root's discard on mx-c is asked of mx-a");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_ASKED, "mx-a", 0, hold_node_cb, &seen,
				  &error) == 2, "mx-a has two requests");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_hold_list(store, OM_HOLD_ASKED, "mx-c", 0, hold_node_cb, &seen,
				  &error) == 0, "mx-c none");
	TAP_OK(om_store_hold_take_asked(store, "N1-00aa", 300, &state, &error) == 1 &&
	       state == OM_HOLD_SENDING, "mx-a takes the release: sending");
	TAP_OK(om_store_hold_take_asked(store, "N1-00aa", 301, &state, &error) == 0 &&
	       state == OM_HOLD_SENDING, "taken once only");
	TAP_OK(om_store_hold_take_asked(store, "N3-00cc", 300, &state, &error) == 1 &&
	       state == OM_HOLD_DISCARDED, "mx-a takes the discard");
	TAP_OK(om_store_hold_take_asked(store, "N2-00bb", 300, &state, &error) == 0 &&
	       state == OM_HOLD_HELD, "a hold nobody asked for is not taken");
	TAP_OK(om_store_hold_finish(store, "N1-00aa", OM_HOLD_SENT, "sent as X", 302,
				    &error) == 0, "sent");
	TAP_OK(om_store_hold_claim_on(store, "N1-00aa", OM_HOLD_SENDING, 1, "mx-c",
				      "mx-c sender", 400, &state, &error) == 0 &&
	       state == OM_HOLD_SENT, "a request after the send fails: sent");
	TAP_OK(om_store_hold_claim_on(store, "N2-00bb", OM_HOLD_SENDING, 1, "mx-a",
				      "mx-a sender", 400, &state, &error) == 1 &&
	       state == OM_HOLD_SENDING, "on its own node a hold is claimed at once");
	TAP_OK(om_store_hold_claim_on(store, "N9-none", OM_HOLD_SENDING, 1, "mx-c",
				      "mx-c sender", 400, &state, &error) == 0 &&
	       state == OM_HOLD_NONE, "an unknown hold: none");
	TAP_OK(strcmp(om_store_hold_state_name(OM_HOLD_RELEASE_ASKED), "release-asked") == 0 &&
	       strcmp(om_store_hold_state_name(OM_HOLD_DISCARD_ASKED), "discard-asked") == 0,
	       "the states' names");
}

struct peaks_seen {
	char text[256];
};

static void peaks_cb(void *context, const struct om_store_history *h)
{
	struct peaks_seen *seen = context;
	size_t len = strlen(seen->text);

	snprintf(seen->text + len, sizeof(seen->text) - len, "%s=%lld/%lld@%lld ",
		 h->login, h->messages, h->recipients, h->hour);
}

static void brake_cb(void *context, const struct om_store_brake *b)
{
	struct om_store_brake *copy = context;

	*copy = *b;
	copy->login = NULL;
}

static void test_brake(struct om_store *store)
{
	const struct om_store_history rows[] = {
		{ "u1@example.jp", 3600, 5, 50 },
		{ "u1@example.jp", 7200, 40, 8 },
		{ "u2@example.jp", 7200, 3, 3 },
		{ "u1@example.jp", 10800, 900, 900 },
		{ "old@example.jp", 0, 1000, 1000 },
	};
	struct om_store_history again = { "u2@example.jp", 7200, 4, 4 };
	struct om_store_brake b, seen;
	struct peaks_seen peaks;
	char *error = NULL;

	TAP_OK(om_store_history_save(store, rows, OM_N_ELEMENTS(rows), 0, &error) == 0 &&
	       om_store_history_save(store, &again, 1, 3600, &error) == 0,
	       "history saved in batches, old hours forgotten");
	memset(&peaks, 0, sizeof(peaks));
	TAP_OK(om_store_history_peaks(store, 0, 10800, peaks_cb, &peaks, &error) == 2 &&
	       strcmp(peaks.text, "u1@example.jp=40/50@0 u2@example.jp=4/4@0 ") == 0,
	       "peaks per login, each figure its own maximum, the current hour "
	       "left out: %s", peaks.text);
	memset(&peaks, 0, sizeof(peaks));
	TAP_OK(om_store_history_rows(store, NULL, 10800, peaks_cb, &peaks, &error) == 1 &&
	       strcmp(peaks.text, "u1@example.jp=900/900@10800 ") == 0,
	       "one hour's rows: %s", peaks.text);
	memset(&b, 0, sizeof(b));
	b.login = "u1@example.jp";
	b.since = 11000;
	b.messages = 120;
	b.limit_messages = 100;
	TAP_OK(om_store_brake_trip(store, &b, &error) == 1, "a trip recorded");
	b.messages = 500;
	TAP_OK(om_store_brake_trip(store, &b, &error) == 0, "braked already: kept as it was");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_brake_list(store, NULL, brake_cb, &seen, &error) == 1 &&
	       seen.state == OM_BRAKE_ON && seen.messages == 120 && !seen.alerted,
	       "the braked logins");
	TAP_OK(om_store_brake_alert(store, "u1@example.jp", 1, &error) == 1 &&
	       om_store_brake_alert(store, "u1@example.jp", 1, &error) == 0,
	       "the alert is taken once");
	TAP_OK(om_store_brake_alert(store, "u1@example.jp", 0, &error) == 1 &&
	       om_store_brake_alert(store, "U1@Example.JP.", 1, &error) == 1,
	       "given back after a failed send, taken again (the login spelled otherwise: "
	       "the filter asks with the envelope sender as typed)");
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_brake_list(store, "U1@EXAMPLE.jp", brake_cb, &seen, &error) == 1,
	       "the brake's row found for the login spelled otherwise");
	TAP_OK(om_store_brake_lift(store, "u1@example.jp", 12000, &error) == 1 &&
	       om_store_brake_lift(store, "u1@example.jp", 12000, &error) == 0 &&
	       om_store_brake_list(store, NULL, brake_cb, &seen, &error) == 0,
	       "lifted once; no longer braked");
	TAP_OK(om_store_brake_trip(store, &b, &error) == 1 &&
	       om_store_brake_list(store, "u1@example.jp", brake_cb, &seen, &error) == 1 &&
	       seen.state == OM_BRAKE_ON && seen.messages == 500 && !seen.alerted,
	       "a new trip after a lift, with a new alert to send");
}

/* What a merge hands back, as "user=window/messages/recipients ". */
struct rates_seen {
	char text[256];
};

static void rates_cb(void *context, const struct om_store_rate *rate)
{
	struct rates_seen *seen = context;
	size_t len = strlen(seen->text);

	snprintf(seen->text + len, sizeof(seen->text) - len, "%s=%lld/%lld/%lld ",
		 rate->user, rate->window_start, rate->messages, rate->recipients);
}

/* Two hosts' increments add up; an old window's come too late; a new
   window's replace; expired windows go. */
static void test_rates(struct om_store *store)
{
	const struct om_store_rate host_a[] = {
		{ "s1@example.jp", 3600, 2, 5 }, { "s2@example.jp", 3600, 1, 1 },
	};
	const struct om_store_rate host_b[] = { { "s1@example.jp", 3600, 3, 3 } };
	const struct om_store_rate late[] = { { "s1@example.jp", 0, 9, 9 } };
	const struct om_store_rate next[] = { { "s1@example.jp", 7200, 1, 4 } };
	struct rates_seen seen;
	char *error = NULL;

	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_rates_merge(store, host_a, 2, 0, rates_cb, &seen, &error) == 0 &&
	       strcmp(seen.text, "s1@example.jp=3600/2/5 s2@example.jp=3600/1/1 ") == 0,
	       "rate counters: a first merge stores the increments: %s", seen.text);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_rates_merge(store, host_b, 1, 0, rates_cb, &seen, &error) == 0 &&
	       strcmp(seen.text, "s1@example.jp=3600/5/8 ") == 0,
	       "another host's increments of the same window are added: %s", seen.text);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_rates_merge(store, late, 1, 0, rates_cb, &seen, &error) == 0 &&
	       strcmp(seen.text, "s1@example.jp=3600/5/8 ") == 0,
	       "increments of an older window change nothing: %s", seen.text);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_rates_merge(store, next, 1, 3600, rates_cb, &seen, &error) == 0 &&
	       strcmp(seen.text, "s1@example.jp=7200/1/4 ") == 0,
	       "a newer window's replace the counts: %s", seen.text);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_rates_merge(store, NULL, 0, 7200, rates_cb, &seen, &error) == 0 &&
	       om_store_rates_each(store, rates_cb, &seen, &error) == 1 &&
	       strcmp(seen.text, "s1@example.jp=7200/1/4 ") == 0,
	       "windows started before the expiry are dropped: %s", seen.text);
	free(error);
}

static void test_outbound(struct om_store *store)
{
	struct om_store_outbound m = { "4abcQID", "00ff", "alice@example.jp", 2, 1000 };
	enum om_outbound_state state;
	char *reply = NULL, *error = NULL;

	TAP_OK(om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_PENDING && reply == NULL, "outbound: new is pending");
	TAP_OK(om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_PENDING, "outbound: an unfinished one stays pending");
	TAP_OK(om_store_outbound_finish(store, "4abcQID", "00ff", OM_OUTBOUND_SENT,
					NULL, 1001, &error) == 0, "outbound: marked sent");
	TAP_OK(om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_SENT, "outbound: a retry sees sent");
	m.hash = "11ee";
	TAP_OK(om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_PENDING, "outbound: another batch of the queue file is new");
	TAP_OK(om_store_outbound_finish(store, "4abcQID", "11ee", OM_OUTBOUND_REFUSED,
					"5.7.1 virus", 1002, &error) == 0 &&
	       om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_REFUSED && reply != NULL &&
	       strcmp(reply, "5.7.1 virus") == 0, "outbound: refused keeps its reply");
	om_free(&reply);
	TAP_OK(om_store_outbound_finish(store, "nope", "00", OM_OUTBOUND_SENT,
					NULL, 1, &error) < 0, "outbound: marking an unknown one fails");
	om_free(&error);
	TAP_OK(om_store_outbound_finish(store, "4abcQID", "00ff", OM_OUTBOUND_PENDING,
					NULL, 1, &error) < 0, "outbound: finish needs sent or refused");
	om_free(&error);
	TAP_OK(om_store_outbound_expire(store, 1002, &error) == 1, "outbound: expiry forgets old rows");
	m.hash = "00ff";
	TAP_OK(om_store_outbound_claim(store, &m, &state, &reply, &error) == 0 &&
	       state == OM_OUTBOUND_PENDING, "outbound: forgotten is new again");
}

static void zip_cb(void *context, const struct om_store_zip *z)
{
	struct om_store_zip *out = context;

	out->state = z->state;
	out->sent = z->sent;
	out->expires = z->expires;
	out->sealed = strcmp(z->sealed, "") == 0 ? "" : "sealed";
	out->recipients = strcmp(z->recipients, "a@x.example\nb@y.example\n") == 0 ?
		"ok" : "bad";
}

static void test_zip_passwords(struct om_store *store)
{
	struct om_store_zip z = { .id = "QID1-0123456789abcdef", .mailbox = "taro@example.jp",
				  .recipients = "a@x.example\nb@y.example\n",
				  .subject = "見積", .archive = "attachments.zip",
				  .sealed = "00ff", .created = 1000, .expires = 2000 };
	struct om_store_zip got;
	enum om_zip_state state;
	char *error = NULL;

	TAP_OK(om_store_zip_add(store, &z, &error) == 1, "zip: a password is recorded");
	TAP_OK(om_store_zip_add(store, &z, &error) == 0, "zip: a retry records nothing more");
	memset(&got, 0, sizeof(got));
	TAP_OK(om_store_zip_get(store, z.id, zip_cb, &got, &error) == 1 &&
	       got.state == OM_ZIP_KEPT && got.sent == 0 && strcmp(got.sealed, "sealed") == 0 &&
	       strcmp(got.recipients, "ok") == 0, "zip: read back, kept");
	TAP_OK(om_store_zip_claim(store, z.id, 2000, &state, &error) == 0 &&
	       state == OM_ZIP_KEPT, "zip: no claim at its expiry");
	TAP_OK(om_store_zip_claim(store, z.id, 1500, &state, &error) == 1 &&
	       state == OM_ZIP_SENDING, "zip: claimed for sending");
	TAP_OK(om_store_zip_claim(store, z.id, 1500, &state, &error) == 0 &&
	       state == OM_ZIP_SENDING, "zip: a second claim gets nothing");
	TAP_OK(om_store_zip_finish(store, z.id, OM_ZIP_SENT, 1501, "sent as X", 1501,
				   &error) == 0, "zip: marked sent");
	memset(&got, 0, sizeof(got));
	TAP_OK(om_store_zip_get(store, z.id, zip_cb, &got, &error) == 1 &&
	       got.state == OM_ZIP_SENT && got.sent == 1501 && strcmp(got.sealed, "") == 0,
	       "zip: sent, its time kept, the seal wiped");
	TAP_OK(om_store_zip_claim(store, z.id, 1600, &state, &error) == 0 &&
	       state == OM_ZIP_SENT, "zip: a sent one is never claimed again");
	TAP_OK(om_store_zip_finish(store, "nope", OM_ZIP_KEPT, 0, "", 1, &error) < 0,
	       "zip: finishing an unknown row fails");
	om_free(&error);
	TAP_OK(om_store_zip_expire(store, 1999, &error) == 0 &&
	       om_store_zip_expire(store, 2000, &error) == 1 &&
	       om_store_zip_get(store, z.id, zip_cb, &got, &error) == 0,
	       "zip: forgotten at its expiry");
}

static void isolated_cb(void *context, const struct om_store_isolated *f)
{
	long long *got = context;

	got[0]++;
	got[1] = f->size;
	got[2] = strcmp(f->findings, "ATT_X\ta.exe\tja\ten\n") == 0 &&
		strcmp(f->why, "finding") == 0 && strcmp(f->true_type, "program") == 0;
}

static void test_isolated(struct om_store *store)
{
	struct om_store_isolated f = {
		.id = "0123456789abcdef0123456789abcdef", .mailbox = "taro@example.jp",
		.name = "a.exe", .size = 512, .true_type = "program",
		.findings = "ATT_X\ta.exe\tja\ten\n", .scan = "clean", .why = "finding",
		.subject = "見積", .sealed = "00ff", .created = 1000, .expires = 2000
	};
	long long got[3] = { 0, 0, 0 };
	char *error = NULL;

	TAP_OK(om_store_isolated_add(store, &f, &error) == 0, "isolated: recorded");
	TAP_OK(om_store_isolated_add(store, &f, &error) < 0, "isolated: an id is used once");
	om_free(&error);
	TAP_OK(om_store_isolated_get(store, f.id, isolated_cb, got, &error) == 1 &&
	       got[1] == 512 && got[2] == 1, "isolated: read back");
	got[0] = 0;
	TAP_OK(om_store_isolated_due(store, 1999, isolated_cb, got, &error) == 0 &&
	       om_store_isolated_due(store, 2000, isolated_cb, got, &error) == 1,
	       "isolated: due at its expiry, not before");
	TAP_OK(om_store_isolated_delete(store, f.id, &error) == 1 &&
	       om_store_isolated_get(store, f.id, isolated_cb, got, &error) == 0 &&
	       om_store_isolated_delete(store, f.id, &error) == 0, "isolated: forgotten");
}

static void test_clicks(struct om_store *store)
{
	struct om_store_click batch[3] = {
		{ "taro@example.jp", "a.example", OM_URL_VERDICT_NONE, 100 },
		{ "taro@example.jp", "b.example", OM_URL_VERDICT_BLOCK, 101 },
		{ "hanako@example.jp", "a.example", OM_URL_VERDICT_WARN, 102 },
	};
	struct om_store_click bad[2] = {
		{ "taro@example.jp", "c.example", OM_URL_VERDICT_NONE, 103 },
		{ "taro@example.jp", NULL, OM_URL_VERDICT_NONE, 104 },
	};
	char *error = NULL;

	TAP_OK(om_store_url_clicks_add(store, batch, 3, &error) == 0 &&
	       om_store_url_clicks_count(store, "taro@example.jp", &error) == 2 &&
	       om_store_url_clicks_count(store, "hanako@example.jp", &error) == 1,
	       "clicks: a batch in one write");
	TAP_OK(om_store_url_clicks_add(store, bad, 2, &error) < 0 && error != NULL,
	       "clicks: a batch with a click without its host is refused");
	om_free(&error);
	TAP_OK(om_store_url_clicks_count(store, "taro@example.jp", &error) == 2,
	       "clicks: nothing of a refused batch");
}

struct sandbox_got {
	int count;
	char verdict[16];
	long long first_seen;
};

static void sandbox_cb(void *context, const char *verdict, long long first_seen)
{
	struct sandbox_got *got = context;

	got->count++;
	(void)om_strlcpy(got->verdict, verdict, sizeof(got->verdict));
	got->first_seen = first_seen;
}

static void test_sandbox(struct om_store *store)
{
	const char *hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct sandbox_got got;
	char *error = NULL;

	memset(&got, 0, sizeof(got));
	TAP_OK(om_store_sandbox_get(store, hash, sandbox_cb, &got, &error) == 0 &&
	       got.count == 0, "sandbox: no verdict yet");
	TAP_OK(om_store_sandbox_put(store, hash, "pending", 1000, 1000, &error) == 0 &&
	       om_store_sandbox_put(store, hash, "malicious", 1600, 1600, &error) == 0,
	       "sandbox: recorded, then updated");
	TAP_OK(om_store_sandbox_get(store, hash, sandbox_cb, &got, &error) == 1 &&
	       strcmp(got.verdict, "malicious") == 0 && got.first_seen == 1000,
	       "sandbox: the new verdict, the first time kept");
	TAP_OK(om_store_sandbox_put(store, hash, "bogus", 1, 1, &error) < 0,
	       "sandbox: a verdict that is none is refused");
	om_free(&error);
}

static void portal_cb(void *context, const struct om_store_portal *p)
{
	long long *got = context;

	got[0]++;
	got[1] = p->expires;
	got[2] = p->revoked;
}

static void portal_view_cb(void *context, const char *recipient, const char *what,
			   long long at)
{
	(void)recipient;
	(void)what;
	(void)at;
	(*(long long *)context)++;
}

/* issue 17: the portal's rows, its code check (5 wrong answers lock), revoke */
static void test_portal(struct om_store *store)
{
	struct om_store_portal p = {
		.id = "abcdef0123456789abcdef0123456789", .sender = "taro@example.jp",
		.subject = "見積", .recipients = "a@far.example\n", .size = 100,
		.sealed = "00ff", .created = 1000, .expires = 2000
	};
	const char *r = "a@far.example";
	long long got[3] = { 0, 0, 0 }, views = 0;
	char *error = NULL;
	int tries = 0, i, ret = -1;

	TAP_OK(om_store_portal_add(store, &p, &error) == 0 &&
	       om_store_portal_add(store, &p, &error) == 0, "portal: recorded, a retry kept");
	TAP_OK(om_store_portal_get(store, p.id, portal_cb, got, &error) == 1 && got[1] == 2000,
	       "portal: read back");
	TAP_OK(om_store_portal_by_sender(store, "taro@example.jp", portal_cb, got, &error) == 1 &&
	       om_store_portal_by_sender(store, "jiro@example.jp", portal_cb, got, &error) == 0,
	       "portal: by sender, only the sender's");
	TAP_OK(om_store_portal_code_check(store, p.id, r, "h1", 1500, 5, &tries, &error) ==
	       OM_STORE_CODE_NONE, "portal: no code yet");
	TAP_OK(om_store_portal_code_set(store, p.id, r, "h1", 1600, 5, &error) == 1 &&
	       om_store_portal_code_check(store, p.id, r, "h1", 1500, 5, &tries, &error) ==
	       OM_STORE_CODE_OK, "portal: the right code");
	TAP_OK(om_store_portal_code_check(store, p.id, r, "h1", 1501, 5, &tries, &error) ==
	       OM_STORE_CODE_EXPIRED && tries == 0,
	       "portal: the right code opens once (spent, the second use not counted)");
	TAP_OK(om_store_portal_code_set(store, p.id, r, "h1b", 1600, 5, &error) == 1 &&
	       om_store_portal_code_check(store, p.id, r, "h1b", 1600, 5, &tries, &error) ==
	       OM_STORE_CODE_EXPIRED && tries == 1, "portal: a late code counts");
	TAP_OK(om_store_portal_code_set(store, p.id, r, "h1c", 1600, 5, &error) == 1,
	       "portal: a new code after a late one");
	for (i = 0; i < 4; i++)
		ret = om_store_portal_code_check(store, p.id, r, "bad", 1500, 5, &tries, &error);
	TAP_OK(ret == OM_STORE_CODE_LOCKED && tries == 5, "portal: the fifth wrong locks");
	TAP_OK(om_store_portal_code_set(store, p.id, r, "h2", 1700, 5, &error) == 0 &&
	       om_store_portal_code_check(store, p.id, r, "h2", 1500, 5, &tries, &error) ==
	       OM_STORE_CODE_LOCKED, "portal: a locked link takes no new code, nor unlocks");
	TAP_OK(om_store_portal_view_add(store, p.id, r, "view", 1500, &error) == 0 &&
	       om_store_portal_views(store, p.id, portal_view_cb, &views, &error) == 1,
	       "portal: views recorded");
	TAP_OK(om_store_portal_set_expires(store, p.id, 3000, &error) == 1 &&
	       om_store_portal_due(store, 2500, portal_cb, got, &error) == 0,
	       "portal: expiry changed");
	TAP_OK(om_store_portal_revoke(store, p.id, &error) == 1 &&
	       om_store_portal_get(store, p.id, portal_cb, got, &error) == 1 && got[2] == 1 &&
	       om_store_portal_set_expires(store, p.id, 4000, &error) == 0,
	       "portal: revoked, its expiry then fixed");
	TAP_OK(om_store_portal_delete(store, p.id, &error) == 1 &&
	       om_store_portal_get(store, p.id, portal_cb, got, &error) == 0 &&
	       om_store_portal_views(store, p.id, portal_view_cb, &views, &error) == 0 &&
	       om_store_portal_code_check(store, p.id, r, "h2", 1500, 5, &tries, &error) ==
	       OM_STORE_CODE_NONE, "portal: forgotten with its views and codes");
	om_free(&error);
}

/* ---- the message trace (schema v21) ---- */

struct trace_seen {
	char text[4096];
	unsigned int messages;
	int other_domain;	/* a row of another domain came back */
	long long recipients;	/* the rows' recipients, summed (v23) */
};

static void trace_cb(void *context, unsigned int message, const struct om_store_event *ev)
{
	struct trace_seen *t = context;
	size_t len = strlen(t->text);

	if (message > t->messages)
		t->messages = message;
	if (strstr(ev->recipient, "example.org") != NULL ||
	    strstr(ev->sender, "@example.org") != NULL)
		t->other_domain = 1;
	t->recipients += ev->recipients;
	snprintf(t->text + len, sizeof(t->text) - len, "%u:%s/%s ", message, ev->step,
		 ev->result);
}

static long trace(struct om_store *store, const char *domain,
		  const struct om_trace_query *q, struct trace_seen *t)
{
	char *error = NULL;
	long n;

	memset(t, 0, sizeof(*t));
	n = om_store_trace_search(store, domain, q, trace_cb, t, &error);
	free(error);
	return n;
}

static void test_trace(struct om_store *store)
{
	/* one spam to taro@example.test: the policy answers had only the
	   queue id, the scan both, the quarantine and release the
	   Message-ID; then a clean mail, one of example.org's, and an
	   old one */
	const struct om_store_event events[] = {
		{ .at = 1000, .domain = "Example.TEST", .direction = OM_DIRECTION_IN,
		  .sender = "spam@bad.test", .recipient = "taro@example.test",
		  .step = "policy", .result = "DUNNO", .queue_id = "QA",
		  .recipients = 3 },
		{ .at = 1001, .domain = "example.test", .direction = OM_DIRECTION_IN,
		  .sender = "spam@bad.test", .recipient = "taro@example.test",
		  .message_id = "<spam1@bad.test>", .subject = "Cheap PILLS now",
		  .queue_id = "QA", .step = "scan", .result = "spam",
		  .detail = "score 12.00; rules GTUBE" },
		{ .at = 1001, .domain = "example.test", .sender = "spam@bad.test",
		  .recipient = "taro@example.test", .message_id = "spam1@bad.test",
		  .step = "quarantine", .result = "Quarantine" },
		{ .at = 1500, .domain = "example.test", .sender = "spam@bad.test",
		  .recipient = "taro@example.test", .message_id = "spam1@bad.test",
		  .step = "release", .result = "INBOX" },
		{ .at = 2000, .domain = "example.test", .direction = OM_DIRECTION_IN,
		  .sender = "Friend@Good.TEST", .recipient = "hanako@example.test",
		  .message_id = "ok1@good.test", .subject = "会議の件",
		  .queue_id = "QB", .step = "scan", .result = "clean" },
		{ .at = 2000, .domain = "example.org", .direction = OM_DIRECTION_IN,
		  .sender = "spam@bad.test", .recipient = "jiro@example.org",
		  .message_id = "spam1@bad.test", .subject = "Cheap PILLS now",
		  .queue_id = "QC", .step = "scan", .result = "spam" },
		{ .at = 2500, .domain = "example.test", .direction = OM_DIRECTION_IN,
		  .sender = "news@good.test", .recipient = "ichiro@example.test",
		  .queue_id = "QD", .step = "policy", .result = "DUNNO",
		  .detail = "no rule applies; also to saburo@example.test, hanako@example.test",
		  .recipients = 3 },
		{ .at = 10, .domain = "example.test", .sender = "old@good.test",
		  .recipient = "taro@example.test", .step = "policy", .result = "REJECT" },
	};
	struct om_store_event bad = { .at = 1, .domain = "example.test" };
	struct om_trace_query q;
	struct trace_seen t;
	char *error = NULL, *long_subject;
	struct om_store_event big;

	TAP_OK(om_store_events_add(store, events, OM_N_ELEMENTS(events), &error) == 0,
	       "events added in one batch");
	om_free(&error);
	TAP_OK(om_store_events_add(store, &bad, 1, &error) < 0, "an event without a step is refused");
	om_free(&error);
	TAP_OK(strcmp(om_store_event_domain("a@b@Example.JP"), "Example.JP") == 0 &&
	       *om_store_event_domain("postmaster") == '\0', "an address's domain");

	memset(&q, 0, sizeof(q));
	q.message_id = "<spam1@bad.test>";
	TAP_OK(trace(store, "example.test", &q, &t) == 1 &&
	       strcmp(t.text, "1:policy/DUNNO 1:scan/spam 1:quarantine/Quarantine "
		      "1:release/INBOX ") == 0 && !t.other_domain,
	       "by Message-ID: one message, the policy answer linked by queue id, "
	       "steps in order (%s)", t.text);
	TAP_OK(t.recipients == 3 + 3, "the policy row's 3 recipients read back, "
	       "every other row counts 1 (%lld)", t.recipients);
	TAP_OK(trace(store, "example.org", &q, &t) == 1 &&
	       strcmp(t.text, "1:scan/spam ") == 0,
	       "the same Message-ID at example.org shows only example.org's row (%s)", t.text);
	TAP_OK(trace(store, "EXAMPLE.TEST", &q, &t) == 1 && !t.other_domain,
	       "the domain is matched whatever its case");
	TAP_OK(trace(store, "other.test", &q, &t) == 0 && t.text[0] == '\0',
	       "a domain with no rows sees nothing");

	memset(&q, 0, sizeof(q));
	q.subject = "pills";
	TAP_OK(trace(store, "example.test", &q, &t) == 1 &&
	       strncmp(t.text, "1:policy/DUNNO", 14) == 0 && !t.other_domain,
	       "by subject (any case): the message with its subject-less policy step");
	q.subject = "会議";
	TAP_OK(trace(store, "example.test", &q, &t) == 1 &&
	       strcmp(t.text, "1:scan/clean ") == 0, "by a Japanese subject");

	memset(&q, 0, sizeof(q));
	q.sender = "friend@good.test";
	TAP_OK(trace(store, "example.test", &q, &t) == 1 &&
	       strcmp(t.text, "1:scan/clean ") == 0, "by sender (a row written in other letters)");
	q.sender = "FRIEND@good.test.";
	TAP_OK(trace(store, "example.test", &q, &t) == 1,
	       "by sender spelled otherwise (letters, a trailing dot)");
	memset(&q, 0, sizeof(q));
	q.recipient = "Taro@Example.TEST.";
	TAP_OK(trace(store, "example.test", &q, &t) == 2,
	       "by recipient spelled otherwise (%s)", t.text);
	q.recipient = "taro@example.test";
	TAP_OK(trace(store, "example.test", &q, &t) == 2 &&
	       strstr(t.text, "2:policy/REJECT") != NULL,
	       "by recipient: the newest message first, the old refusal second (%s)", t.text);
	q.recipient = "jiro@example.org";
	TAP_OK(trace(store, "example.test", &q, &t) == 0,
	       "another domain's recipient is not found from example.test");
	q.recipient = "hanako@example.test";
	TAP_OK(trace(store, "example.test", &q, &t) == 2 &&
	       strstr(t.text, "policy/DUNNO") != NULL,
	       "by recipient: also a policy row that names it among its recipients (%s)",
	       t.text);
	q.recipient = "ako@example.test";
	TAP_OK(trace(store, "example.test", &q, &t) == 0,
	       "a part of a named recipient is not found (%s)", t.text);

	memset(&q, 0, sizeof(q));
	q.since = 1500;
	q.until = 2001;
	TAP_OK(trace(store, "example.test", &q, &t) == 2 && !t.other_domain,
	       "by date range: two messages had a step in it (%s)", t.text);
	q.since = 3000;
	q.until = 2000;
	TAP_OK(om_store_trace_search(store, "example.test", &q, trace_cb, &t, &error) < 0 &&
	       error != NULL, "a range that ends before it starts is refused");
	om_free(&error);
	memset(&q, 0, sizeof(q));
	q.max_messages = 1;
	TAP_OK(trace(store, "example.test", &q, &t) == 1, "at most max_messages");
	TAP_OK(om_store_trace_search(store, "", &q, trace_cb, &t, &error) < 0,
	       "a search without a domain is refused");
	om_free(&error);

	long_subject = om_calloc(1, 1001);
	memset(long_subject, 'x', 1000);
	memset(&big, 0, sizeof(big));
	big.at = 3000;
	big.domain = "example.test";
	big.subject = long_subject;
	big.detail = long_subject;
	big.message_id = "big@x";
	big.step = "scan";
	TAP_OK(om_store_events_add(store, &big, 1, &error) == 0, "a long subject is kept");
	om_free(&error);
	free(long_subject);

	TAP_OK(om_store_events_expire(store, 1000, &error) == 1,
	       "expiry removes the rows before its time only");
	memset(&q, 0, sizeof(q));
	q.recipient = "taro@example.test";
	TAP_OK(trace(store, "example.test", &q, &t) == 1, "the old message is gone");
	TAP_OK(om_store_events_expire(store, 1000, &error) == 0, "expiring again removes nothing");
}

static void subject_len_cb(void *context, unsigned int message, const struct om_store_event *ev)
{
	(void)message;
	*(size_t *)context = strlen(ev->subject) + strlen(ev->detail) * 10000;
}

static void test_trace_bounds(struct om_store *store)
{
	struct om_trace_query q;
	char *error = NULL;
	size_t lens = 0;
	long n;

	memset(&q, 0, sizeof(q));
	q.message_id = "big@x";
	n = om_store_trace_search(store, "example.test", &q, subject_len_cb, &lens, &error);
	TAP_OK(n == 1 && lens % 10000 <= OM_EVENT_SUBJECT_MAX && lens / 10000 <= OM_EVENT_DETAIL_MAX &&
	       lens % 10000 > 100, "subject and detail are cut to their bounds (%zu)", lens);
	free(error);
}

/* the bounded queue policyd and scand batch their events through */
static void test_events_queue(struct om_store *store)
{
	struct om_events *queue = om_events_new(2), *waiting = om_events_new(8);
	struct om_store_event ev;
	struct om_trace_query q;
	struct trace_seen t;
	char *error = NULL;

	memset(&ev, 0, sizeof(ev));
	ev.at = 5000;
	ev.domain = "queue.test";
	ev.recipient = "a@queue.test";
	ev.step = "policy";
	ev.result = "DUNNO";
	TAP_OK(om_events_push(waiting, &ev) == 0, "an answer waits for its queue id");
	TAP_OK(om_events_move(waiting, queue, "QQ1") == 0 && om_events_pending(waiting) == 0 &&
	       om_events_pending(queue) == 1, "moved to the queue with the queue id");
	ev.step = "scan";
	ev.result = "clean";
	ev.queue_id = "QQ1";
	ev.message_id = "q1@queue.test";
	TAP_OK(om_events_push(queue, &ev) == 0, "a second event fits");
	TAP_OK(om_events_push(queue, &ev) < 0 && om_events_take_dropped(queue) == 1 &&
	       om_events_take_dropped(queue) == 0, "past the bound: dropped and counted once");
	TAP_OK(om_events_flush(queue, store, &error) == 2 && om_events_pending(queue) == 0,
	       "a flush writes the batch and empties the queue");
	om_free(&error);
	memset(&q, 0, sizeof(q));
	q.message_id = "q1@queue.test";
	TAP_OK(trace(store, "queue.test", &q, &t) == 1 &&
	       strcmp(t.text, "1:policy/DUNNO 1:scan/clean ") == 0,
	       "the waiting answer got the queue id that ties it to the scan (%s)", t.text);
	TAP_OK(om_events_flush(queue, store, &error) == 0, "an empty flush writes nothing");
	om_events_free(&queue);
	om_events_free(&waiting);
	TAP_OK(queue == NULL, "free sets the pointer to NULL");
}

int main(void)
{
	char dir[] = "/tmp/om-test-store-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL, *again = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	/* OMAMORI_TEST_STORE: another backend's empty store (store-pg.py
	   runs these cases on PostgreSQL that way); else a new SQLite file */
	path = getenv("OMAMORI_TEST_STORE") != NULL ?
		om_strdup(getenv("OMAMORI_TEST_STORE")) :
		om_asprintf("%s/omamori.db", dir);
	TAP_OK(om_store_open(path, 0, 1000, &store, &error) < 0 &&
	       strstr(error, "omamorictl init") != NULL, "open without create fails with a hint");
	om_free(&error);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) == 0,
	       "create the store");
	TAP_OK(om_store_schema_version(store) == 26, "schema version 26");
	test_rows(store);
	test_lookup_order(store);
	test_checks();
	test_keys();
	test_defaults();
	test_effective(store);
	test_bare_user_lists(store);
	test_keys_one_spelling(store);
	test_import_limit(store);
	test_import_batches(store);
	test_changes(store);
	test_quarantine(store);
	test_digests(store);
	test_nonces(store);
	test_outbound(store);
	test_zip_passwords(store);
	test_isolated(store);
	test_clicks(store);
	test_sandbox(store);
	test_portal(store);
	test_admin_holds(store);
	test_asked_holds(store);
	test_brake(store);
	test_rates(store);
	test_audit(store);
	test_admins(store);
	test_groups(store);
	test_billing_days();
	test_billing(store);
	test_billing_groups(store);
	test_trace(store);
	test_trace_bounds(store);
	test_events_queue(store);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &again, &error) == 0 &&
	       om_store_schema_version(again) == 26, "re-running the migration is harmless");
	{
		long long before = om_store_change_counter(again), now = before;
		int i;

		om_store_domain_set(store, "example.jp", "language", "ja", &error);
		/* at once with SQLite; PostgreSQL's notification travels (a
		   second at most) */
		for (i = 0; i < 100 && (now = om_store_change_counter(again)) == before; i++)
			usleep(10000);
		TAP_OK(before >= 0 && now >= 0 && now != before,
		       "another connection's commit moves the change counter");
	}
	om_store_close(&again);
	om_store_close(&store);
	TAP_OK(store == NULL, "close sets the pointer to NULL");
	test_backends(dir);
	tap_remove_tree(dir);
	free(path);
	return tap_done();
}
