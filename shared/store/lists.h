/* lists.h - the rules of allow, block and URL block lists, in one place for
 * every writer (omamorictl, the Dovecot plugin learning from IMAP moves,
 * the Sieve extension): what an entry looks like, the per-mailbox limit,
 * and the domain switch that forbids users' own allow lists.
 */
#ifndef OM_LISTS_H
#define OM_LISTS_H

#include <stddef.h>

#include "store/settings.h"

struct om_store;

/* 1 if kind is "allow", "block" or "url-block". */
int om_lists_kind_valid(const char *kind);
/* The stored form of entry for kind (folded as lookups fold addresses:
   lower case, no trailing dot; no wildcards): an address or
   "@domain" for allow/block, a host name for url-block.  Allocated, or
   NULL with *error_r saying what is wrong. */
char *om_lists_entry(const char *kind, const char *entry, char **error_r);
/* A mailbox's allow list needs its domain's consent (user-allow-lists):
   0, or -1 with *error_r when scope (of type) may not have kind's entry
   for that reason (or the store cannot say).  Every writer checks it:
   om_lists_add and om_lists_change do, `list import` for each row. */
int om_lists_allowed(struct om_store *store, const char *scope,
		     enum om_settings_key type, const char *kind, char **error_r);
/* Adds entry (already normalised) to scope's kind list.  type says what
   scope is, never guessed from its spelling: every user path (Sieve, the
   imap plugin) passes OM_KEY_MAILBOX with the user name, with or without
   a domain; an administrator's word goes through om_settings_key_parse().
   A mailbox scope holds at most max entries per kind (0: no limit), and
   its allow list is refused while its domain's user-allow-lists setting
   is off.  Returns 0 (also when already there), or -1 with *error_r;
   nothing is written on error. */
int om_lists_add(struct om_store *store, const char *scope,
		 enum om_settings_key type, const char *kind,
		 const char *entry, long max, char **error_r);

/* Adds or removes several entries (as written by a user: normalised here)
   at once, with the same rules; all or nothing.  Returns how many were
   added or removed, or -1 with *error_r. */
int om_lists_change(struct om_store *store, const char *scope,
		    enum om_settings_key type, const char *kind,
		    const char *const *entries, size_t count, int add, long max,
		    char **error_r);

/* 1 if the user's domain lets omamori learn allow entries from what the
   user does in IMAP (learn-allow-sender, default on): a message moved out
   of Quarantine, by the imap plugin or an imapsieve script; 0 if not; -1
   with *error_r. */
int om_lists_learning_allowed(struct om_store *store, const char *user,
			      char **error_r);

/* 1 if address (or its @domain) is on scope's kind list, 0 if not (an
   address that could be no list entry is on none), -1 with *error_r when
   the store could not be read or kind is unknown: the caller cannot tell,
   and must not take it for "not listed". */
int om_lists_listed(struct om_store *store, const char *scope, const char *kind,
		    const char *address, char **error_r);

#endif
