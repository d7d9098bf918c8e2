/* web-settings.c - a mailbox's language and timezone for omamori-web's
 * pages, without reading the settings table for every page.
 *
 * Each effective value is a chain of lookups (the mailbox's own value,
 * its domain's, the global one), and every quarantine page wanted two of
 * them.  Each pool thread keeps, next to its store handle, the values of
 * the mailboxes it served last (a small table indexed by a hash of the
 * mailbox), and checks before each use that the store's configuration is
 * still the one they were read from:
 *
 *   - om_store_change_counter (SQLite's data_version plus this handle's
 *     own writes: one query, but a read transaction all the same, so a
 *     page asks once for both values) unchanged: nothing was committed
 *     by anybody since the last check, the slots hold;
 *   - moved: something was committed.  The "config" revision, which the
 *     store's triggers move with every write to a subscription, a setting
 *     or a list, says whether it was configuration; if so, every slot is
 *     dropped (a domain's or the global value is behind many mailboxes,
 *     and such changes are rare next to page views: an exact per-scope
 *     update as om_snapshot_update does would not pay).  Quarantine rows,
 *     digests and nonces move the counter but not the revision, and the
 *     slots stay.
 *
 * The server checks at most every recheck_ms (WEB_SETTINGS_RECHECK_MS):
 * a language or timezone changed is seen within that, like policyd's
 * refresh interval; tests check at every use.
 *
 * The counter is read before the revision, and both before any value, so
 * a change committed meanwhile always shows at the next check: a value
 * served is never older than the last check.  A store that cannot say
 * (the counter or the revision cannot be read) is read directly and
 * nothing is kept.  Only this file decides what is cached; the values
 * themselves come from om_settings_domain_value, as before.
 */
#include "web-settings.h"
#include "lib/util.h"
#include "store/settings.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void web_settings_cache_init(struct web_settings_cache *cache)
{
	memset(cache, 0, sizeof(*cache));
	cache->counter = -1;
	cache->revision = -1;
}

static void web_settings_drop(struct web_settings_cache *cache)
{
	size_t i;

	for (i = 0; i < WEB_SETTINGS_SLOTS; i++)
		cache->slots[i].mailbox[0] = '\0';
	cache->drops++;
}

/* 1 if the slots hold the store's current configuration (after dropping
   them if it changed), 0 if the store cannot tell (all dropped). */
static int web_settings_valid(struct web_settings_cache *cache,
			      struct om_store *store)
{
	long long counter, revision, now_ms = 0;
	char *error = NULL;
	struct timespec ts;

	if (cache->recheck_ms > 0 && cache->counter >= 0 &&
	    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0) {
		now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now_ms - cache->checked_ms < cache->recheck_ms)
			return 1;
	}
	cache->checked_ms = now_ms;
	counter = om_store_change_counter(store);
	if (counter >= 0 && counter == cache->counter)
		return 1;
	if (counter < 0 ||
	    om_store_revision(store, "config", &revision, &error) < 0) {
		free(error);
		web_settings_drop(cache);
		cache->counter = -1;
		cache->revision = -1;
		return 0;
	}
	if (revision != cache->revision) {
		web_settings_drop(cache);
		cache->revision = revision;
	}
	cache->counter = counter;
	return 1;
}

static unsigned int web_settings_slot_of(const char *mailbox)
{
	unsigned long h = 2166136261UL;
	const unsigned char *p;

	for (p = (const unsigned char *)mailbox; *p != '\0'; p++)
		h = (h ^ *p) * 16777619UL;
	return (unsigned int)(h % WEB_SETTINGS_SLOTS);
}

/* The values from the store, as web-page.c read them one by one. */
static int web_settings_read(struct om_store *store, const char *mailbox,
			     const char *default_language,
			     struct web_settings *values_r, char **error_r)
{
	char *value;

	value = om_settings_domain_value(store, mailbox, "language",
					 default_language, error_r);
	if (value == NULL)
		return -1;
	values_r->language = strcmp(value, "ja") == 0 ? "ja" : "en";
	free(value);
	value = om_settings_domain_value(store, mailbox, OM_SETTING_TIMEZONE,
					 "localtime", error_r);
	if (value == NULL)
		return -1;
	/* longer than any zone name: not a zone, so the server's own, as
	   web_zone_local would take it */
	if (om_strlcpy(values_r->timezone, value, sizeof(values_r->timezone)) < 0)
		(void)om_strlcpy(values_r->timezone, "localtime",
				 sizeof(values_r->timezone));
	free(value);
	return 0;
}

int web_settings_get(struct web_settings_cache *cache, struct om_store *store,
		     const char *mailbox, const char *default_language,
		     struct web_settings *values_r, char **error_r)
{
	struct web_settings_slot *slot = NULL;
	struct web_settings values;
	int usable = web_settings_valid(cache, store);

	if (usable && mailbox[0] != '\0' &&
	    strlen(mailbox) < sizeof(cache->slots[0].mailbox))
		slot = &cache->slots[web_settings_slot_of(mailbox)];
	if (slot != NULL && strcmp(slot->mailbox, mailbox) == 0) {
		cache->hits++;
		*values_r = slot->values;
		return 0;
	}
	cache->misses++;
	if (web_settings_read(store, mailbox, default_language, &values,
			      error_r) < 0)
		return -1;
	if (slot != NULL && om_strlcpy(slot->mailbox, mailbox,
				       sizeof(slot->mailbox)) == 0)
		slot->values = values;
	*values_r = values;
	return 0;
}
