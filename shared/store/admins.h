/* admins.h - the rules of domain administrators (issue 18, doc/admin.md)
 * and the one path every change of a domain's settings takes, so that
 * omamorictl and omamori-web check and record it alike.
 *
 * Roles: "operator" (the ISP: every domain, stored under "*"), "admin"
 * (a domain's main admin, one), "deputy" (up to four, with rights from
 * OM_ADMIN_RIGHTS).  A plain user has no role.
 */
#ifndef OM_ADMINS_H
#define OM_ADMINS_H

#include <stddef.h>

#include "store/settings.h"

struct om_store;

#define OM_ADMIN_RIGHTS "settings lists holds trace"
/* the longest "who" of the change log ("omamorictl (uid N)" or an address) */
#define OM_ADMIN_WHO_MAX 300

/* 1 if role is "operator", "admin" or "deputy". */
int om_admins_role_valid(const char *role);
/* Reads a --rights value (comma- or space-separated words of
   OM_ADMIN_RIGHTS, each once): the stored form (space-separated, in the
   order of OM_ADMIN_RIGHTS; allocated), or NULL with *error_r. */
char *om_admins_rights_parse(const char *text, char **error_r);

/* Adds (or changes) address as role of domain ("*" only and always for
   an operator; a domain name otherwise), rights only for a deputy, and
   records it by who.  Checks every word; the store refuses a second main
   admin and a fifth deputy.  0 or -1 with *error_r. */
int om_admins_add(struct om_store *store, const char *who, const char *domain,
		  const char *address, const char *role, const char *rights,
		  char **error_r);
/* Removes address's role in domain, recorded by who: 1, 0 none, -1. */
int om_admins_del(struct om_store *store, const char *who, const char *domain,
		  const char *address, char **error_r);

/* What address may do in domain: OM_ADMIN_NONE, or the role's bits
   (an operator and the main admin everything, a deputy its rights).
   -1 with *error_r. */
#define OM_ADMIN_NONE 0
#define OM_ADMIN_SETTINGS 0x01
#define OM_ADMIN_LISTS 0x02
#define OM_ADMIN_HOLDS 0x04
#define OM_ADMIN_TRACE 0x08
#define OM_ADMIN_ALL 0x0f
#define OM_ADMIN_MAIN 0x10	/* the main admin or an operator */
int om_admins_rights_of(struct om_store *store, const char *address,
			const char *domain, char **error_r);

/* Sets (value NULL: unsets) setting name of key (type: a domain, "*" or
   a mailbox's refinement) after om_settings_domain_check (a set), and
   records the change by who under key's domain.  The one path of
   `omamorictl domain|mailbox set|unset` and omamori-web's admin pages.
   1 changed, 0 the same value, -1 with *error_r (the check's message for
   a bad value). */
int om_settings_domain_change(struct om_store *store, const char *who,
			      enum om_settings_key type, const char *key,
			      const char *name, const char *value, char **error_r);

/* A policy group's setting (value NULL: unsets) and a mailbox's group
   (group NULL: none), written and recorded (who, when, old -> new) under
   the domain as om_settings_domain_change records: "setting NAME of group
   G" and "setting group of MAILBOX", which the billing export reads.  The
   caller has checked the name and value.  1 changed, 0 the same, -1. */
int om_admins_group_setting(struct om_store *store, const char *who,
			    const char *domain, const char *group, const char *name,
			    const char *value, char **error_r);
int om_admins_group_member(struct om_store *store, const char *who,
			   const char *mailbox, const char *group, char **error_r);
/* Deletes group of domain (store.h om_store_group_delete) and records each
   setting it had as unset and "group G" deleted.  1, 0 no such group, -1. */
int om_admins_group_delete(struct om_store *store, const char *who,
			   const char *domain, const char *group, char **error_r);

/* Adds or removes list entries of a domain or "*" (lists.h's
   om_lists_change) and records each entry changed by who.  The count
   changed or -1. */
int om_admins_lists_change(struct om_store *store, const char *who,
			   const char *scope, enum om_settings_key type,
			   const char *kind, const char *const *entries, size_t count,
			   int add, long max, char **error_r);

#endif
