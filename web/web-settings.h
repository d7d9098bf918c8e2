/* web-settings.h - the domain settings a page needs for a mailbox
 * (its language and timezone), from a per-thread cache that the store's
 * change counter and "config" revision keep exact (web-settings.c).
 */
#ifndef WEB_SETTINGS_H
#define WEB_SETTINGS_H

#include "crypto/token.h"
#include "web-zone.h"

struct om_store;

/* Mailboxes remembered per thread; a slot is overwritten by the next
   mailbox that hashes to it. */
#define WEB_SETTINGS_SLOTS 128

/* The effective values of a mailbox (om_settings_domain_value). */
struct web_settings {
	const char *language;		/* "ja" or "en" (static) */
	char timezone[WEB_ZONE_NAME_MAX];	/* a zone name, or "localtime" */
};

struct web_settings_slot {
	char mailbox[OM_TOKEN_FIELD_MAX];	/* "" for an empty slot */
	struct web_settings values;
};

/* One thread's cache; used by that thread (and its store handle) only. */
/* the server's recheck_ms */
#define WEB_SETTINGS_RECHECK_MS 250

struct web_settings_cache {
	long long counter;		/* om_store_change_counter checked at */
	long long revision;		/* the "config" revision the slots hold */
	/* how long a check holds (ms; 0: every use checks): the server keeps
	   values up to this long after a settings change, as policyd's
	   refresh interval does, and saves a store query a page */
	long recheck_ms;
	long long checked_ms;		/* when the last check was (monotonic) */
	struct web_settings_slot slots[WEB_SETTINGS_SLOTS];
	unsigned long hits, misses, drops;	/* tests and debugging */
};

/* Empties cache. */
void web_settings_cache_init(struct web_settings_cache *cache);

/* mailbox's language (its "language" setting, else default_language; "ja"
   or "en") and timezone (else "localtime") into *values_r, as
   om_settings_domain_value reads them.  store is the calling thread's
   handle, the one cache is used with.  Each call asks the store whether
   its configuration changed (a read: call it once per page), so a change
   committed before the call is always seen.  0, or -1 with *error_r
   (allocated) when the store could not be read (*values_r is then not
   set). */
int web_settings_get(struct web_settings_cache *cache, struct om_store *store,
		     const char *mailbox, const char *default_language,
		     struct web_settings *values_r, char **error_r);

#endif
