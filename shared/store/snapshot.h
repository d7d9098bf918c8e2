/* snapshot.h - an in-memory copy of the store's configuration: subscriptions,
 * domain (and mailbox) settings, allow/block/URL lists.
 *
 * omamori-policyd and omamori-scand answer from it without a database read
 * per request.  It is refreshed only when the store's "config" revision
 * moves (every change moves it; classifier saves and rate counters do
 * not), and then by scope: the rows of the mailboxes, domains or global
 * level that changed since are read again, the rest stays.  One user's
 * list edit costs the reading of that user's rows, whatever the store
 * holds.
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
/* Brings snap up to date if the store changed since it was read: re-reads
   the scopes changed since (or everything: a snapshot never loaded, more
   than a thousand scopes changed).  The result is what om_snapshot_load
   would give.  0 unchanged, 1 updated, -1 error (the old contents stay). */
int om_snapshot_refresh(struct om_snapshot *snap, struct om_store *store,
			char **error_r);
/* What an update read again: cb(context, scope, settings) for each scope
   re-read (a mailbox, a domain, "*"; settings is 1 when its subscriptions
   or settings differ from before, 0 when only its lists did), or once
   cb(context, NULL, 1) after everything was read. */
typedef void om_snapshot_changed_cb(void *context, const char *scope,
				    int settings);
/* om_snapshot_refresh, telling cb what changed. */
int om_snapshot_update(struct om_snapshot *snap, struct om_store *store,
		       om_snapshot_changed_cb *cb, void *context,
		       char **error_r);
/* om_snapshot_update in two steps, for a daemon that reads the store on a
   thread of its own and applies in memory on its event loop (policyd):
   what changed since revision since (-1: never loaded), read from store
   into *changes_r (the changed scopes' rows, or everything: more than a
   thousand scopes changed, a store that went back), touching no
   snapshot.  0 nothing changed (*changes_r NULL), 1 read, -1 error. */
struct om_snapshot_changes;
int om_snapshot_read_changes(struct om_store *store, long long since,
			     struct om_snapshot_changes **changes_r,
			     char **error_r);
/* Applies what om_snapshot_read_changes read, telling cb as
   om_snapshot_update does (the changed nodes move into snap).  1
   applied, 0 read from another revision than snap's (nothing done: read
   again from om_snapshot_revision). */
int om_snapshot_apply_changes(struct om_snapshot *snap,
			      struct om_snapshot_changes *changes,
			      om_snapshot_changed_cb *cb, void *context);
void om_snapshot_changes_free(struct om_snapshot_changes **changes);
/* The "config" revision snap was read at, -1 never loaded. */
long long om_snapshot_revision(const struct om_snapshot *snap);
/* How many scopes the last load or update read again, -1 for all. */
int om_snapshot_last_scopes(const struct om_snapshot *snap);
/* Every row, one line each ("scope\tkind\tname[\tvalue]\n"), sorted: two
   snapshots with the same contents dump the same text (tests,
   debugging).  Allocated. */
char *om_snapshot_dump(const struct om_snapshot *snap);
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
/* 1 if the recipient's domain or the global scope has a url-block list at
   all (else no link can be blocked, and the links need not be read). */
int om_snapshot_url_blocks_apply(const struct om_snapshot *snap,
				 const char *recipient);
/* 1 if host, or a domain it is under, is on a url-block list of the
   recipient's domain or the global one. */
int om_snapshot_url_blocked(const struct om_snapshot *snap,
			    const char *recipient, const char *host);

#endif
