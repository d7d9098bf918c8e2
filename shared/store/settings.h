/* settings.h - the vocabulary of subscriptions and domain settings, and how
 * an effective value is found: mailbox, then its policy group (outbound
 * settings), then its domain, then global ("*"), then the built-in default.
 */
#ifndef OM_SETTINGS_H
#define OM_SETTINGS_H

#include <stddef.h>

struct om_store;

#define OM_FEATURE_INBOUND_VIRUS "inbound-virus"
#define OM_FEATURE_OUTBOUND_VIRUS "outbound-virus"
/* outgoing mail of authenticated senders (omamori-filter, issue 14): To/Cc
   turned into Bcc at bcc-threshold addresses; hold and ZIP encryption are
   declared, their behaviour comes in the next slice (the mail passes) */
#define OM_FEATURE_OUTBOUND_BCC "outbound-bcc"
#define OM_FEATURE_OUTBOUND_HOLD "outbound-hold"
#define OM_FEATURE_OUTBOUND_ZIP "outbound-zip"
/* the encrypted delivery portal (issue 17, doc/portal.md): an external
   recipient gets a notice with a link instead of the message, which is
   kept encrypted for portal-days; exclusive with outbound-zip (seed 001);
   portal-subject hide: the notice says 件名非表示 */
#define OM_FEATURE_OUTBOUND_PORTAL "outbound-portal"
#define OM_SETTING_PORTAL_DAYS "portal-days"
#define OM_SETTING_PORTAL_SUBJECT "portal-subject"
/* outgoing mail scored for spam (issue 14 item 6): held for the
   administrator at outbound-spam-threshold */
#define OM_FEATURE_OUTBOUND_SPAM "outbound-spam"
/* the domain's audit rules over outgoing mail (issue 17, doc/audit.md):
   omamorictl audit add turns it on for the domain; a mailbox may be left
   out with sub set ... off */
#define OM_FEATURE_OUTBOUND_AUDIT "outbound-audit"
#define OM_FEATURE_SPAM "spam"
/* incoming attachments analysed for targeted attacks (issue 16,
   scan/attach.h): what to do with a finding is attachment-action, and
   attachment-action-<class> for one class of finding */
#define OM_FEATURE_ATTACHMENTS "attachments"
#define OM_SETTING_ATTACHMENT_ACTION "attachment-action"
#define OM_SETTING_ATTACHMENT_ACTION_PREFIX "attachment-action-"
#define OM_DEFAULT_ATTACHMENT_ACTION "isolate"
#define OM_SETTING_ATTACHMENT_ISOLATE_ARCHIVES "attachment-isolate-archives"
#define OM_SETTING_ATTACHMENT_ISOLATE_ALL "attachment-isolate-all"
#define OM_SETTING_ATTACHMENT_ISOLATE_DAYS "attachment-isolate-days"
#define OM_SETTING_ATTACHMENT_ISOLATE_ORIGINAL "attachment-isolate-original"
#define OM_DEFAULT_ATTACHMENT_ISOLATE_DAYS 30
#define OM_GLOBAL_DOMAIN "*"

/* spam handling (omamori-scand, the Dovecot plugin); the first four may be
   refined per mailbox */
#define OM_SETTING_SPAM_ACTION "spam-action"
#define OM_SETTING_SPAM_THRESHOLD "spam-threshold"
#define OM_SETTING_SPAM_QUARANTINE_THRESHOLD "spam-quarantine-threshold"
#define OM_SETTING_SPAM_TAG "spam-tag"
#define OM_SETTING_QUARANTINE_RETENTION "quarantine-retention"
#define OM_SETTING_USER_ALLOW_LISTS "user-allow-lists"
#define OM_SETTING_LEARN_ALLOW_SENDER "learn-allow-sender"
#define OM_DEFAULT_SPAM_ACTION "tag"
#define OM_DEFAULT_SPAM_THRESHOLD "5"
#define OM_DEFAULT_SPAM_TAG "[SPAM] "
#define OM_DEFAULT_QUARANTINE_RETENTION 14		/* days, seed 003: 1..14 */

/* the quarantine digest (omamorictl cron) and the user's own page
   (omamori-web): when digests go out ("daily HH:MM" in the domain's
   timezone, "every N" hours, "off"; a mailbox may refine), whether mail
   from senders the mailbox has written to is told at once, and which
   features a mailbox's owner may change on the web (seed 002: inbound
   checks may be paused by users, outbound ones not) */
#define OM_SETTING_DIGEST "digest"
#define OM_SETTING_DIGEST_KNOWN_SENDERS "digest-known-senders"
#define OM_SETTING_TIMEZONE "timezone"
#define OM_SETTING_USER_MAY_CHANGE "user-may-change"
#define OM_DEFAULT_DIGEST "daily 15:00"			/* seed 000 */
#define OM_DEFAULT_USER_MAY_CHANGE "inbound-virus spam lists digest"

enum om_digest_kind { OM_DIGEST_OFF = 0, OM_DIGEST_DAILY, OM_DIGEST_EVERY };
struct om_digest_schedule {
	enum om_digest_kind kind;
	int hour, minute;		/* daily */
	int every_hours;		/* every */
};
/* Parses a digest setting; 0, or -1 if value is none of the forms. */
int om_settings_digest_parse(const char *value, struct om_digest_schedule *r);
/* 1 if value names a zone the system has ("localtime": its own). */
int om_settings_timezone_valid(const char *value);
/* 1 if a user-may-change value (space-separated words) lets users change
   what ("spam", "inbound-virus", "lists", "digest"...). */
int om_settings_user_may_change(const char *value, const char *what);


/* outbound virus (omamori-filter): "strip" the infected part and tell
   the recipients (seed 002), or "block" the message, bounced to the sender
   with an alert to the domain's virus-admin-copy address (seed 003) */
#define OM_SETTING_OUTBOUND_VIRUS_ACTION "outbound-virus-action"
#define OM_DEFAULT_OUTBOUND_VIRUS_ACTION "strip"
/* To + Cc addresses from which outbound-bcc hides the list (seed 001) */
#define OM_SETTING_BCC_THRESHOLD "bcc-threshold"
#define OM_DEFAULT_BCC_THRESHOLD 10
/* "on": when outbound-bcc hid the list, the sender is told (a notice) */
#define OM_SETTING_BCC_NOTIFY "bcc-notify"
#define OM_DEFAULT_BCC_NOTIFY "off"
/* outbound-hold (omamori-filter, doc/outbound.md): which mail is held -
   "external" (a recipient outside the sender's domain and the
   internal-domains), "attachment" (it has one), "any" (every mail); all
   the words must hold, and hold-min-recipients (0: off) too.  Held for
   hold-minutes; then hold-expiry sends it, discards it, or keeps it for
   the administrator ("admin", seed 001). */
#define OM_SETTING_HOLD_WHEN "hold-when"
#define OM_DEFAULT_HOLD_WHEN "external"
#define OM_SETTING_HOLD_MIN_RECIPIENTS "hold-min-recipients"
#define OM_SETTING_HOLD_MINUTES "hold-minutes"
#define OM_DEFAULT_HOLD_MINUTES 10
#define OM_SETTING_HOLD_EXPIRY "hold-expiry"
#define OM_DEFAULT_HOLD_EXPIRY "send"
/* domains counted internal besides the sender's own ("none") */
#define OM_SETTING_INTERNAL_DOMAINS "internal-domains"
#define OM_INTERNAL_DOMAINS_MAX 100
/* outbound-zip (seed 001): "external" zips a mail with a recipient
   outside the sender's domain, "all" every mail; attachments together
   under zip-min-size bytes (decoded) go as they are */
#define OM_SETTING_ZIP_RECIPIENTS "zip-recipients"
#define OM_DEFAULT_ZIP_RECIPIENTS "external"
#define OM_SETTING_ZIP_MIN_SIZE "zip-min-size"
#define OM_DEFAULT_ZIP_MIN_SIZE 0
/* days an archive's password is kept (sealed) for the sender's "send the
   password to the recipients" button (omamori-web's /z/ page) */
#define OM_SETTING_ZIP_PASSWORD_DAYS "zip-password-days"
#define OM_DEFAULT_ZIP_PASSWORD_DAYS 7

/* outbound-spam (omamori-filter): the score from which an outgoing mail
   is held for the administrator - higher than the inbound spam-threshold,
   since a false positive stops a customer's own mail.  The domain's
   administrator (alerts of outbound spam and of the brake) is
   outbound-admin, else virus-admin-copy. */
/* outbound-path: "inline" (outbound-virus, -bcc, -zip checked by the
   submission milter before the queue, decide/route.h) or "queue" (every
   outbound subscriber's mail through the after-queue filter) */
#define OM_SETTING_OUTBOUND_PATH "outbound-path"
#define OM_DEFAULT_OUTBOUND_PATH "inline"
#define OM_SETTING_OUTBOUND_SPAM_THRESHOLD "outbound-spam-threshold"
#define OM_DEFAULT_OUTBOUND_SPAM_THRESHOLD "10"
#define OM_SETTING_OUTBOUND_ADMIN "outbound-admin"
/* the compromised-account brake (omamori-policyd, every SASL login): on
   when the sliding hour's messages or distinct recipients go over
   max(brake-min-*, brake-factor x the login's peak hour of the last
   brake_history_days days) */
/* omamori's own sender authentication (issue 15, doc/auth.md): SPF in
   omamori-policyd, DKIM and DMARC in omamori-scand, each result in an
   Authentication-Results header of trusted_authserv_id; spf-reject refuses
   an SPF fail at DATA when every recipient's domain says so */
#define OM_SETTING_AUTH_CHECK "auth-check"
#define OM_SETTING_SPF_REJECT "spf-reject"
#define OM_DEFAULT_AUTH_CHECK "off"
#define OM_DEFAULT_SPF_REJECT "off"
#define OM_SETTING_BRAKE "brake"
#define OM_SETTING_BRAKE_FACTOR "brake-factor"
#define OM_SETTING_BRAKE_MIN_MESSAGES "brake-min-messages"
#define OM_SETTING_BRAKE_MIN_RECIPIENTS "brake-min-recipients"
#define OM_DEFAULT_BRAKE "on"
#define OM_DEFAULT_BRAKE_FACTOR 10
#define OM_DEFAULT_BRAKE_MIN_MESSAGES 100
#define OM_DEFAULT_BRAKE_MIN_RECIPIENTS 300

/* envelope limits (omamori-policyd), per domain, then global, then these */
#define OM_SETTING_MAX_RECIPIENTS "max-recipients"
#define OM_SETTING_MAX_MESSAGE_SIZE "max-message-size"
#define OM_SETTING_RATE_MESSAGES "rate-messages"
#define OM_SETTING_RATE_RECIPIENTS "rate-recipients"
#define OM_SETTING_RATE_WINDOW "rate-window"
#define OM_DEFAULT_MAX_RECIPIENTS 1000			/* seed 003 */
#define OM_DEFAULT_MAX_MESSAGE_SIZE (15L * 1024 * 1024)
#define OM_DEFAULT_RATE_MESSAGES 500
#define OM_DEFAULT_RATE_RECIPIENTS 5000
#define OM_DEFAULT_RATE_WINDOW 3600

/* policy groups (issue 18, doc/admin.md "Policy groups"): up to
   OM_GROUPS_MAX named groups per domain; a mailbox is in at most one
   (its own setting "group"); a group carries outbound settings
   (om_settings_per_group) kept in domain_settings under the group's
   scope, "<group NAME>@domain" (no key an administrator writes can take
   that form: key_parse refuses spaces and angle brackets), and
   internal-only: its members may write only inside their domain and its
   internal-domains (omamori-policyd, 5.7.1 at RCPT) */
#define OM_SETTING_GROUP "group"
#define OM_SETTING_INTERNAL_ONLY "internal-only"
#define OM_GROUPS_MAX 4
#define OM_GROUP_NAME_MAX 16
#define OM_GROUP_SCOPE_MAX 300
/* 1 if name is a group name: 1..16 letters, digits, '-', '_'. */
int om_settings_group_name_valid(const char *name);
/* The scope a group's settings are kept under, "<group NAME>@domain", in
   buf; 0, or -1 for a bad name or a scope that does not fit. */
int om_settings_group_scope(const char *domain, const char *name, char *buf,
			    size_t size);
/* The domain of a group's scope (pointer into it), or NULL when scope is
   not a group's. */
const char *om_settings_group_scope_domain(const char *scope);
/* 1 if a change recorded under scope (om_store_changes) may change what
   mailbox's settings and subscriptions resolve to: the mailbox itself, its
   domain ("example.jp" or "@example.jp"), a policy group of its domain
   (groups are resolved by the mailbox's own setting), or the global
   level. */
int om_settings_scope_covers(const char *scope, const char *mailbox);
/* 1 if a policy group may carry setting (or feature) name: the outbound
   features and their conditions, internal-domains and internal-only. */
int om_settings_per_group(const char *name);
/* 1 if a domain's "default all-on" turns feature on: every feature but
   outbound-audit (on only where the domain has rules: audit add sets it)
   and outbound-portal (the alternative to outbound-zip, which all-on
   turns on: the two cannot both be on). */
int om_settings_default_covers(const char *feature);

enum om_sub_state { OM_SUB_OFF = 0, OM_SUB_ON, OM_SUB_PAUSED };

/* 1 if feature is a known feature name. */
int om_settings_feature_valid(const char *feature);
/* Space-separated list of the known features. */
const char *om_settings_feature_names(void);
/* The i-th known feature (0, 1, ...), or NULL past the last. */
const char *om_settings_feature_nth(unsigned int i);
/* 1 if the feature acts on outgoing mail (sent through omamori-filter). */
int om_settings_feature_outbound(const char *feature);
/* A non-negative decimal value, or def when value is NULL or malformed. */
long om_settings_number(const char *value, long def);
/* Parses "on", "paused", "off"; -1 if none of them. */
int om_settings_state_parse(const char *text);
const char *om_settings_state_name(enum om_sub_state state);

/* 1 if domain is one of domains (space-separated, case-insensitive). */
int om_settings_domain_in(const char *domains, const char *domain);

/* Space-separated names of every domain setting. */
const char *om_settings_domain_names(void);
/* The i-th domain setting of settings.c's table (0, 1, ...), or NULL past
   the last: the list omamori-web's admin page is made from. */
const char *om_settings_domain_nth(unsigned int i);
/* The words a setting takes when it takes only one of some words (static,
   space-separated; a page offers them as a choice), else NULL. */
const char *om_settings_domain_choices(const char *name);
/* What a setting accepts, in words (static; "" for an unknown name), and
   its range (*min_r..*max_r, both 0 when it has none). */
const char *om_settings_domain_accepted(const char *name, long *min_r, long *max_r);
/* 1 if name is a domain setting. */
int om_settings_domain_valid(const char *name);
/* 1 if a mailbox may refine the domain's value of setting name. */
int om_settings_per_mailbox(const char *name);
/* Parses a decimal number (om_parse_decimal: "-1.5", "5"; no exponent,
   no inf or nan); 0, or -1 if value is not one. */
int om_settings_decimal(const char *value, double *n_r);

/* Checks that name is a domain setting and value valid for it; returns 0 or
   -1 with *error_r (allocated) saying what is accepted. */
int om_settings_domain_check(const char *name, const char *value,
			     char **error_r);

/* Checks a mailbox address (local@domain, no spaces or controls, at most 254
   bytes); returns 0 or -1 with *error_r.  For list entries and addresses
   in settings; a mailbox as a key is om_settings_key_parse()'s. */
int om_settings_mailbox_check(const char *mailbox, char **error_r);
/* Checks a domain name as omamori keeps one: labels of ASCII letters,
   digits, '-' and '_' (an IDN in its xn-- form), 1..63 bytes, none
   beginning or ending with '-', dots between them, at most 253 bytes (so
   no "*", "..", trailing dot or quote).  0, or -1 with *error_r. */
int om_settings_domain_name_check(const char *domain, char **error_r);
/* The domain part of an address (pointer into it), or "" if none (a
   Dovecot user name without a domain). */
const char *om_settings_domain_of(const char *mailbox);

/* What a key (of a subscription, a setting or a list) names.  A mailbox is
   the user name Dovecot logs in with: local@domain, or a name without a
   domain ("dave"); either way it is a mailbox, with the per-mailbox list
   limit and the user-allow-lists switch. */
enum om_settings_key { OM_KEY_MAILBOX, OM_KEY_DOMAIN, OM_KEY_GLOBAL };

/* Reads an administrator's word for a key: "*" the global level;
   "user:NAME" a mailbox, "domain:NAME" a domain (explicit forms); else a
   word with '@' a mailbox, a word with a dot a domain, and a word with
   neither a mailbox (a user name without a domain).  The key is folded in
   word as lookups fold it (om_address_key: lower case, no trailing dot)
   and *key_r points into word: the key as stored.  Returns 0, or -1 with
   *error_r (allocated) for an empty key, spaces, control characters,
   angle brackets, text that is not UTF-8, more than 254 bytes, or a
   domain (alone or after '@') that om_settings_domain_name_check refuses. */
int om_settings_key_parse(char *word, enum om_settings_key *type_r,
			  const char **key_r, char **error_r);
/* "mailbox", "domain" or "global". */
const char *om_settings_key_type_name(enum om_settings_key type);

/* The built-in default of a domain setting (static), or NULL for language
   (omamori.conf's default_language) and for unknown names. */
const char *om_settings_default(const char *name);

/* Where values come from: the store, or an in-memory snapshot of it.
   Both getters return 1 found (value allocated), 0 not found, -1 error. */
struct om_settings_source {
	void *context;
	int (*sub_get)(void *context, const char *mailbox, const char *feature,
		       char **state_r, char **error_r);
	int (*domain_get)(void *context, const char *domain, const char *name,
			  char **value_r, char **error_r);
};
/* In these, as in om_settings_subscription and om_settings_domain_value,
   mailbox is looked up in the form om_address_key gives (lower case, no
   trailing dot): "Alice@Example.TEST" has alice@example.test's settings. */
int om_settings_subscription_from(const struct om_settings_source *src,
				  const char *mailbox, const char *feature,
				  enum om_sub_state *state_r,
				  const char **source_r, char **error_r);
char *om_settings_domain_value_from(const struct om_settings_source *src,
				    const char *mailbox, const char *name,
				    const char *def, char **error_r);

/* The policy group of mailbox (allocated), or NULL with *error_r NULL when
   it is in none (or NULL with *error_r set on a read error). */
char *om_settings_group_of(const struct om_settings_source *src,
			   const char *mailbox, char **error_r);

/* The store as a settings source (for the _from functions). */
void om_settings_store_source(struct om_store *store, struct om_settings_source *src);

/* The effective subscription of mailbox to feature.  *source_r (static) is
   "mailbox", "group" (its policy group's, outbound features), "domain",
   "global" or "default".  Returns 0 or -1. */
int om_settings_subscription(struct om_store *store, const char *mailbox,
			     const char *feature, enum om_sub_state *state_r,
			     const char **source_r, char **error_r);

/* The effective value of a domain setting for mailbox (its own value for a
   per-mailbox setting, then its policy group's for a setting a group may
   carry, then its domain, then global, then def).  Returns an allocated string, or NULL with *error_r. */
char *om_settings_domain_value(struct om_store *store, const char *mailbox,
			       const char *name, const char *def,
			       char **error_r);

/* The value of setting name in effect for key and where it comes from,
   as `omamorictl domain get` and `mailbox get` show it: for a mailbox its
   own value (settings a mailbox may refine), then its domain's, the
   global one, then def; for a domain the same from its own value; for
   "*" the global one, then def.  A feature's domain value also comes from
   the "default" setting, as for subscriptions.  *value_r is allocated
   (def copied; NULL when def is NULL and nothing is set); *source_r
   (static) is "mailbox", "group" (the mailbox's policy group:
   om_settings_group_of names it), "domain", "global" or "default".
   0 or -1. */
int om_settings_effective(struct om_store *store, enum om_settings_key type,
			  const char *key, const char *name, const char *def,
			  char **value_r, const char **source_r, char **error_r);

#endif
