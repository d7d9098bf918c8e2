/* test-snapshot.c - unit tests of snapshot.c on a real store: a change to
 * one scope (a mailbox, a domain, the global level) makes a refresh read
 * that scope alone, says whether its settings or only its lists changed,
 * and leaves the snapshot exactly as a full load would; many changes at
 * once, or a snapshot never loaded, read everything.  Lookups (lists, URL
 * blocks, subscriptions, settings) answer from the updated scopes. */
#include "tap.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAILBOXES 200

/* What an update said it read again. */
struct seen {
	char scopes[256];
	int calls, settings;
};

static void seen_scope(void *context, const char *scope, int settings)
{
	struct seen *s = context;
	size_t len = strlen(s->scopes);

	snprintf(s->scopes + len, sizeof(s->scopes) - len, "%s%s",
		 len > 0 ? " " : "", scope != NULL ? scope : "(all)");
	s->calls++;
	s->settings += settings;
}

/* 1 if snap holds exactly what a snapshot loaded afresh holds. */
static int same_as_full_load(const struct om_snapshot *snap, struct om_store *store)
{
	struct om_snapshot *fresh = om_snapshot_new();
	char *error = NULL, *want = NULL, *have;
	int same = 0;

	if (om_snapshot_load(fresh, store, &error) == 0) {
		want = om_snapshot_dump(fresh);
		have = om_snapshot_dump(snap);
		same = strcmp(want, have) == 0 &&
			om_snapshot_list_entries(snap) == om_snapshot_list_entries(fresh);
		if (!same)
			printf("# want:\n%s# have:\n%s", want, have);
		free(have);
		free(want);
	}
	free(error);
	om_snapshot_free(&fresh);
	return same;
}

static void fill(struct om_store *store)
{
	char mailbox[64], entry[64], *error = NULL;
	int i;

	for (i = 0; i < MAILBOXES; i++) {
		snprintf(mailbox, sizeof(mailbox), "user%d@a.example", i);
		snprintf(entry, sizeof(entry), "spammer%d@junk.example", i);
		if (om_store_list_add(store, mailbox, "block", entry, 0, &error) < 0 ||
		    (i % 10 == 0 &&
		     om_store_subscription_set(store, mailbox, OM_FEATURE_SPAM, "on", &error) < 0))
			abort();
	}
	if (om_store_list_add(store, "a.example", "block", "@dom.example", 0, &error) < 0 ||
	    om_store_list_add(store, "*", "block", "@global.example", 0, &error) < 0 ||
	    om_store_list_add(store, "*", "url-block", "evil.example", 0, &error) < 0 ||
	    om_store_domain_set(store, "a.example", OM_SETTING_SPAM_THRESHOLD, "4", &error) < 0 ||
	    om_store_domain_set(store, "*", OM_SETTING_SPAM_ACTION, "tag", &error) < 0)
		abort();
}

enum change_op { LIST_ADD, LIST_DEL, SUB_SET, SUB_DEL, SET, UNSET };

struct change_case {
	const char *label;
	enum change_op op;
	const char *scope, *name, *value;	/* list: kind, entry */
	int settings;			/* the update says settings changed */
};

static const struct change_case change_cases[] = {
	{ "a block entry for one mailbox", LIST_ADD, "user7@a.example", "block",
	  "new@junk.example", 0 },
	{ "an allow entry for one mailbox", LIST_ADD, "user8@a.example", "allow",
	  "friend@pal.example", 0 },
	{ "an entry removed", LIST_DEL, "user7@a.example", "block", "spammer7@junk.example", 0 },
	{ "a mailbox's last entry removed: its scope goes", LIST_DEL, "user9@a.example",
	  "block", "spammer9@junk.example", 0 },
	{ "a mailbox new to the store", LIST_ADD, "newcomer@b.example", "block",
	  "x@junk.example", 0 },
	{ "a subscription", SUB_SET, "user11@a.example", OM_FEATURE_INBOUND_VIRUS, "on", 1 },
	{ "a subscription changed", SUB_SET, "user10@a.example", OM_FEATURE_SPAM, "paused", 1 },
	{ "a subscription removed", SUB_DEL, "user20@a.example", OM_FEATURE_SPAM, NULL, 1 },
	{ "a mailbox's own setting", SET, "user12@a.example", OM_SETTING_SPAM_THRESHOLD, "2", 1 },
	{ "a domain setting", SET, "a.example", OM_SETTING_SPAM_THRESHOLD, "3", 1 },
	{ "a domain list", LIST_ADD, "a.example", "block", "@more.example", 0 },
	{ "a global setting", SET, "*", OM_SETTING_SPAM_ACTION, "quarantine", 1 },
	{ "a global setting removed", UNSET, "*", OM_SETTING_SPAM_ACTION, NULL, 1 },
	{ "a global URL block", LIST_ADD, "*", "url-block", "phish.example", 0 },
	{ "an entry added again (no new row, still a change)", LIST_ADD, "user7@a.example",
	  "block", "new@junk.example", 0 },
};

static int apply(struct om_store *store, const struct change_case *c)
{
	char *error = NULL;
	int ret = -1;

	switch (c->op) {
	case LIST_ADD:
		ret = om_store_list_add(store, c->scope, c->name, c->value, 0, &error);
		break;
	case LIST_DEL:
		ret = om_store_list_delete(store, c->scope, c->name, c->value, &error);
		break;
	case SUB_SET:
		ret = om_store_subscription_set(store, c->scope, c->name, c->value, &error);
		break;
	case SUB_DEL:
		ret = om_store_subscription_delete(store, c->scope, c->name, &error);
		break;
	case SET:
		ret = om_store_domain_set(store, c->scope, c->name, c->value, &error);
		break;
	case UNSET:
		ret = om_store_domain_delete(store, c->scope, c->name, &error);
		break;
	}
	free(error);
	return ret;
}

/* Each change: one scope read again, the right flag, the same contents as
   a full load. */
static void test_one_scope(struct om_snapshot *snap, struct om_store *store)
{
	char *error = NULL;
	struct seen seen;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(change_cases); i++) {
		const struct change_case *c = &change_cases[i];

		memset(&seen, 0, sizeof(seen));
		TAP_OK(apply(store, c) >= 0 &&
		       (ret = om_snapshot_update(snap, store, seen_scope, &seen, &error)) == 1 &&
		       seen.calls == 1 && strcmp(seen.scopes, c->scope) == 0 &&
		       om_snapshot_last_scopes(snap) == 1 && seen.settings == c->settings &&
		       same_as_full_load(snap, store),
		       "%s: only %s read again (%s), settings %s, as a full load would",
		       c->label, c->scope, seen.scopes, c->settings ? "changed" : "unchanged");
		om_free(&error);
	}
}

/* The lookups see the updated scopes. */
static void test_lookups(struct om_snapshot *snap)
{
	const struct om_settings_source *src = om_snapshot_source(snap);
	enum om_sub_state state;
	const char *source;
	char *value, *error = NULL;

	TAP_OK(om_snapshot_listed(snap, "block", "user7@a.example", "NEW@junk.example", 1) != NULL &&
	       om_snapshot_listed(snap, "block", "user7@a.example", "spammer7@junk.example", 1) == NULL &&
	       om_snapshot_listed(snap, "block", "user6@a.example", "spammer6@junk.example", 1) != NULL,
	       "block lists: the added entry found, the removed one gone, the others kept");
	TAP_OK(strcmp(om_snapshot_listed(snap, "block", "user5@a.example", "x@more.example", 1),
		      "domain") == 0 &&
	       strcmp(om_snapshot_listed(snap, "allow", "user8@a.example", "friend@pal.example", 1),
		      "mailbox") == 0, "a domain's new entry, a mailbox's new allow entry");
	TAP_OK(om_snapshot_url_blocked(snap, "user1@a.example", "www.phish.example") &&
	       om_snapshot_url_blocked(snap, "user1@a.example", "evil.example"),
	       "URL blocks: the new one and the old one");
	TAP_OK(om_settings_subscription_from(src, "user10@a.example", OM_FEATURE_SPAM, &state,
					     &source, &error) == 0 && state == OM_SUB_PAUSED &&
	       om_settings_subscription_from(src, "user20@a.example", OM_FEATURE_SPAM, &state,
					     &source, &error) == 0 && state == OM_SUB_OFF,
	       "subscriptions: the changed one, the removed one");
	TAP_OK(om_settings_subscription_from(src, "User10@A.Example.", OM_FEATURE_SPAM, &state,
					     &source, &error) == 0 && state == OM_SUB_PAUSED &&
	       strcmp(source, "mailbox") == 0,
	       "a subscription found however the address is spelled");
	TAP_OK(om_snapshot_listed(snap, "block", "User7@A.example.", "New@Junk.Example.", 1) != NULL,
	       "a block entry found for a sender and recipient with trailing dots");
	value = om_settings_domain_value_from(src, "user12@a.example", OM_SETTING_SPAM_THRESHOLD,
					      "5", &error);
	TAP_OK(value != NULL && strcmp(value, "2") == 0, "a mailbox's own setting");
	free(value);
	value = om_settings_domain_value_from(src, "user13@a.example", OM_SETTING_SPAM_THRESHOLD,
					      "5", &error);
	TAP_OK(value != NULL && strcmp(value, "3") == 0, "its neighbour: the domain's new value");
	free(value);
	value = om_settings_domain_value_from(src, "user13@a.example", OM_SETTING_SPAM_ACTION,
					      "default", &error);
	TAP_OK(value != NULL && strcmp(value, "default") == 0, "a removed global setting is gone");
	free(value);
	free(error);
}

/* Another handle's commits, several scopes at once, nothing at all, and
   so much at once that everything is read. */
static void test_batches(struct om_snapshot *snap, struct om_store *store,
			 struct om_store *other)
{
	struct om_store_list_row *rows = om_calloc(1200, sizeof(*rows));
	char *error = NULL, **names = om_calloc(1200, sizeof(char *));
	struct seen seen;
	size_t i, failed;

	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_snapshot_update(snap, store, seen_scope, &seen, &error) == 0 && seen.calls == 0,
	       "nothing changed: nothing read");
	om_store_list_add(other, "user30@a.example", "block", "o@junk.example", 0, &error);
	om_store_list_add(other, "user31@a.example", "block", "o@junk.example", 0, &error);
	om_store_subscription_set(other, "user30@a.example", OM_FEATURE_INBOUND_VIRUS, "on", &error);
	TAP_OK(om_snapshot_update(snap, store, seen_scope, &seen, &error) == 1 &&
	       strcmp(seen.scopes, "user31@a.example user30@a.example") == 0 &&
	       seen.settings == 1 && om_snapshot_last_scopes(snap) == 2 &&
	       same_as_full_load(snap, store),
	       "another handle's three writes to two mailboxes: those two read (%s)", seen.scopes);
	for (i = 0; i < 1200; i++) {
		names[i] = om_asprintf("bulk%zu@c.example", i);
		rows[i].scope = names[i];
		rows[i].kind = "block";
		rows[i].entry = "@bulk.example";
	}
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_store_list_import(store, rows, 1200, 0, &failed, &error) == 0 &&
	       om_snapshot_update(snap, store, seen_scope, &seen, &error) == 1 &&
	       strcmp(seen.scopes, "(all)") == 0 && seen.settings == 1 &&
	       om_snapshot_last_scopes(snap) == -1 && same_as_full_load(snap, store),
	       "an import to 1200 mailboxes: everything read at once");
	for (i = 0; i < 1200; i++)
		free(names[i]);
	free(names);
	free(rows);
	free(error);
}

int main(void)
{
	char dir[] = "/tmp/om-test-snapshot-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL, *other = NULL;
	struct om_snapshot *snap = om_snapshot_new();
	struct seen seen;

	if (mkdtemp(dir) == NULL)
		abort();
	/* OMAMORI_TEST_STORE: another backend's empty store (store-pg.py) */
	path = getenv("OMAMORI_TEST_STORE") != NULL ?
		om_strdup(getenv("OMAMORI_TEST_STORE")) : om_asprintf("%s/o.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0 ||
	    om_store_open(path, 0, 1000, &other, &error) < 0)
		abort();
	fill(store);
	memset(&seen, 0, sizeof(seen));
	TAP_OK(om_snapshot_update(snap, store, seen_scope, &seen, &error) == 1 &&
	       strcmp(seen.scopes, "(all)") == 0 && om_snapshot_last_scopes(snap) == -1 &&
	       om_snapshot_list_entries(snap) == MAILBOXES + 3,
	       "a snapshot never loaded reads everything");
	test_one_scope(snap, store);
	test_lookups(snap);
	test_batches(snap, store, other);
	om_snapshot_free(&snap);
	TAP_OK(snap == NULL, "free sets the pointer to NULL");
	om_store_close(&other);
	om_store_close(&store);
	tap_remove_tree(dir);
	free(path);
	return tap_done();
}
