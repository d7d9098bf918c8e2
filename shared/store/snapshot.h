/* snapshot.h - an in-memory copy of the store's configuration: subscriptions,
 * domain (and mailbox) settings, allow/block/URL lists.
 *
 * omamori-policyd and omamori-scand answer from it without a database read
 * per request; it is reloaded only when the store's "config" revision
 * moves (a trigger bumps it on every change), so classifier saves and rate
 * counters never cause a reload.
 */
#ifndef OM_SNAPSHOT_H
#define OM_SNAPSHOT_H

#include <stddef.h>

#include "store/settings.h"

struct om_store;
struct om_snapshot;

struct om_snapshot *om_snapshot_new(void);
void om_snapshot_free(struct om_snapshot **snap);
/* Loads everything from the store.  0, or -1 (the old contents stay). */
int om_snapshot_load(struct om_snapshot *snap, struct om_store *store,
		     char **error_r);
/* Reloads if the store changed since.  0 unchanged, 1 reloaded, -1 error. */
int om_snapshot_refresh(struct om_snapshot *snap, struct om_store *store,
			char **error_r);
/* The settings source (subscriptions and settings) backed by snap. */
const struct om_settings_source *om_snapshot_source(const struct om_snapshot *snap);
/* Entries on all lists. */
size_t om_snapshot_list_entries(const struct om_snapshot *snap);

/* Where address (an address; matched whole and by "@domain") is on the
   kind ("allow" or "block") list for recipient: "mailbox", "domain",
   "global", or NULL if nowhere.  The mailbox's own list is consulted only
   when with_mailbox is set. */
const char *om_snapshot_listed(const struct om_snapshot *snap,
			       const char *kind, const char *recipient,
			       const char *address, int with_mailbox);
/* 1 if host, or a domain it is under, is on a url-block list of the
   recipient's domain or the global one. */
int om_snapshot_url_blocked(const struct om_snapshot *snap,
			    const char *recipient, const char *host);

#endif
