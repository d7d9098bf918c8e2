/* settings.h - the vocabulary of subscriptions and domain settings, and how
 * an effective value is found: mailbox, then its domain, then global ("*"),
 * then the built-in default.
 */
#ifndef OM_SETTINGS_H
#define OM_SETTINGS_H

struct om_store;

#define OM_FEATURE_INBOUND_VIRUS "inbound-virus"
#define OM_GLOBAL_DOMAIN "*"

enum om_sub_state { OM_SUB_OFF = 0, OM_SUB_ON, OM_SUB_PAUSED };

/* 1 if feature is a known feature name. */
int om_settings_feature_valid(const char *feature);
/* Space-separated list of the known features. */
const char *om_settings_feature_names(void);
/* Parses "on", "paused", "off"; -1 if none of them. */
int om_settings_state_parse(const char *text);
const char *om_settings_state_name(enum om_sub_state state);

/* Checks that name is a domain setting and value valid for it; returns 0 or
   -1 with *error_r (allocated) saying what is accepted. */
int om_settings_domain_check(const char *name, const char *value,
			     char **error_r);

/* Checks a mailbox address (local@domain, no spaces or controls, at most 254
   bytes); returns 0 or -1 with *error_r. */
int om_settings_mailbox_check(const char *mailbox, char **error_r);
/* The domain part of an address (pointer into it), or "" if none. */
const char *om_settings_domain_of(const char *mailbox);

/* The effective subscription of mailbox to feature.  *source_r (static) is
   "mailbox", "domain", "global" or "default".  Returns 0 or -1. */
int om_settings_subscription(struct om_store *store, const char *mailbox,
			     const char *feature, enum om_sub_state *state_r,
			     const char **source_r, char **error_r);

/* The effective value of a domain setting for mailbox's domain (domain, then
   global, then def).  Returns an allocated string, or NULL with *error_r. */
char *om_settings_domain_value(struct om_store *store, const char *mailbox,
			       const char *name, const char *def,
			       char **error_r);

#endif
