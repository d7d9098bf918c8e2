/* test-store.c - unit tests of store.c and settings.c on a real SQLite file:
 * schema, subscriptions, domain settings and the lookup order. */
#include "tap.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	char dir[] = "/tmp/om-test-store-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL, *again = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/omamori.db", dir);
	TAP_OK(om_store_open(path, 0, 1000, &store, &error) < 0 &&
	       strstr(error, "omamorictl init") != NULL, "open without create fails with a hint");
	om_free(&error);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) == 0,
	       "create the store");
	TAP_OK(om_store_schema_version(store) == 4, "schema version 4");
	test_rows(store);
	test_lookup_order(store);
	test_checks();
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &again, &error) == 0 &&
	       om_store_schema_version(again) == 4, "re-running the migration is harmless");
	{
		long long before = om_store_change_counter(again);

		om_store_domain_set(store, "example.jp", "language", "ja", &error);
		TAP_OK(before >= 0 && om_store_change_counter(again) != before,
		       "another connection's commit moves the change counter");
	}
	om_store_close(&again);
	om_store_close(&store);
	TAP_OK(store == NULL, "close sets the pointer to NULL");
	tap_remove_tree(dir);
	free(path);
	return tap_done();
}
