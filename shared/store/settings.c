/* settings.c - names and values of subscriptions and domain settings, and the
 * lookup order mailbox -> policy group -> domain -> global -> default.
 *
 * Kept apart from the store so that the store stays a plain persistence layer
 * and the rules about what a value means live in one place.
 */
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const om_features[] = {
	OM_FEATURE_INBOUND_VIRUS, OM_FEATURE_OUTBOUND_VIRUS, OM_FEATURE_SPAM,
	OM_FEATURE_OUTBOUND_BCC, OM_FEATURE_OUTBOUND_HOLD, OM_FEATURE_OUTBOUND_ZIP,
	OM_FEATURE_OUTBOUND_SPAM, OM_FEATURE_ATTACHMENTS, OM_FEATURE_OUTBOUND_AUDIT,
	OM_FEATURE_OUTBOUND_PORTAL, NULL
};

enum om_setting_type {
	OM_SETTING_WORDS,	/* one of accepted */
	OM_SETTING_WORDS_OR_ADDRESS,
	OM_SETTING_INTEGER,	/* min..max */
	OM_SETTING_DECIMAL,	/* min..max, with decimals */
	OM_SETTING_DECIMAL_OR_WORDS,
	OM_SETTING_TEXT,	/* printable UTF-8 up to max bytes */
	OM_SETTING_SCHEDULE,	/* "daily HH:MM", "every N" (hours), "off" */
	OM_SETTING_ZONE,	/* a zone of the system's tz database */
	OM_SETTING_WORD_SET,	/* some of accepted, space-separated, or "none" */
	OM_SETTING_DOMAINS,	/* domain names, space-separated, or "none" */
	OM_SETTING_GROUP_NAME,	/* a policy group's name, or "none" */
};

struct om_domain_setting {
	const char *name;
	enum om_setting_type type;
	const char *accepted;	/* space-separated words, or NULL */
	long min, max;
	int per_mailbox;	/* a mailbox may refine the domain's value */
	const char *def;	/* built in (test-store checks the numbers
				   against settings.h) */
};

static const struct om_domain_setting om_domain_settings[] = {
	{ OM_FEATURE_INBOUND_VIRUS, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_VIRUS, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_SPAM, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_BCC, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_HOLD, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_ZIP, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_SPAM, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_AUDIT, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_FEATURE_OUTBOUND_PORTAL, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_SETTING_PORTAL_DAYS, OM_SETTING_INTEGER, NULL, 1, 365, 0, "14" },
	{ OM_SETTING_PORTAL_SUBJECT, OM_SETTING_WORDS, "show hide", 0, 0, 0, "show" },
	{ OM_SETTING_OUTBOUND_SPAM_THRESHOLD, OM_SETTING_DECIMAL, NULL, -100, 100, 1,
	  OM_DEFAULT_OUTBOUND_SPAM_THRESHOLD },
	{ OM_SETTING_OUTBOUND_ADMIN, OM_SETTING_WORDS_OR_ADDRESS, "off", 0, 0, 0, "off" },
	{ OM_SETTING_OUTBOUND_PATH, OM_SETTING_WORDS, "inline queue", 0, 0, 1,
	  OM_DEFAULT_OUTBOUND_PATH },
	{ OM_SETTING_BRAKE, OM_SETTING_WORDS, "on off", 0, 0, 1, OM_DEFAULT_BRAKE },
	{ OM_SETTING_AUTH_CHECK, OM_SETTING_WORDS, "on off", 0, 0, 0, OM_DEFAULT_AUTH_CHECK },
	{ OM_FEATURE_ATTACHMENTS, OM_SETTING_WORDS, "on paused off", 0, 0, 0, "off" },
	{ OM_SETTING_ATTACHMENT_ACTION, OM_SETTING_WORDS, "warn isolate remove quarantine quarantine-admin",
	  0, 0, 0, OM_DEFAULT_ATTACHMENT_ACTION },
	/* isolation (doc/attachments.md): seed 004's archive types isolated
	   outright (with-zip: zip too), every attachment isolated (zero
	   trust), how long an isolated file is kept, whether its page offers
	   the original despite a finding */
	{ OM_SETTING_ATTACHMENT_ISOLATE_ARCHIVES, OM_SETTING_WORDS, "off on with-zip", 0, 0, 0,
	  "off" },
	{ OM_SETTING_ATTACHMENT_ISOLATE_ALL, OM_SETTING_WORDS, "off on", 0, 0, 0, "off" },
	{ OM_SETTING_ATTACHMENT_ISOLATE_DAYS, OM_SETTING_INTEGER, NULL, 1, 365, 0, "30" },
	{ OM_SETTING_ATTACHMENT_ISOLATE_ORIGINAL, OM_SETTING_WORDS, "off on", 0, 0, 0, "off" },
	/* per class of finding (scan/attach.h); "default": attachment-action */
	{ "attachment-action-extension", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ "attachment-action-disguise", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ "attachment-action-encrypted", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ "attachment-action-macro", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ "attachment-action-active", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ "attachment-action-sandbox", OM_SETTING_WORDS, "default ignore warn isolate remove quarantine quarantine-admin", 0, 0, 0, "default" },
	{ OM_SETTING_SPF_REJECT, OM_SETTING_WORDS, "on off", 0, 0, 0, OM_DEFAULT_SPF_REJECT },
	{ OM_SETTING_BRAKE_FACTOR, OM_SETTING_INTEGER, NULL, 1, 1000, 1, "10" },
	{ OM_SETTING_BRAKE_MIN_MESSAGES, OM_SETTING_INTEGER, NULL, 1, 100000000L, 1, "100" },
	{ OM_SETTING_BRAKE_MIN_RECIPIENTS, OM_SETTING_INTEGER, NULL, 1, 100000000L, 1, "300" },
	{ OM_SETTING_OUTBOUND_VIRUS_ACTION, OM_SETTING_WORDS, "strip block", 0, 0, 0,
	  OM_DEFAULT_OUTBOUND_VIRUS_ACTION },
	{ OM_SETTING_BCC_THRESHOLD, OM_SETTING_INTEGER, NULL, 2, 1000, 0, "10" },
	{ OM_SETTING_BCC_NOTIFY, OM_SETTING_WORDS, "on off", 0, 0, 1, OM_DEFAULT_BCC_NOTIFY },
	{ OM_SETTING_HOLD_WHEN, OM_SETTING_WORD_SET, "external attachment any", 0, 0, 1,
	  OM_DEFAULT_HOLD_WHEN },
	{ OM_SETTING_HOLD_MIN_RECIPIENTS, OM_SETTING_INTEGER, NULL, 0, 1000, 1, "0" },
	{ OM_SETTING_HOLD_MINUTES, OM_SETTING_INTEGER, NULL, 1, 1440, 1, "10" },
	{ OM_SETTING_HOLD_EXPIRY, OM_SETTING_WORDS, "send discard admin", 0, 0, 1,
	  OM_DEFAULT_HOLD_EXPIRY },
	{ OM_SETTING_INTERNAL_DOMAINS, OM_SETTING_DOMAINS, NULL, 0, 0, 0, "none" },
	/* policy groups (issue 18): a mailbox's group, and a group's (or a
	   domain's) limit to recipients inside */
	{ OM_SETTING_GROUP, OM_SETTING_GROUP_NAME, NULL, 0, 0, 1, "none" },
	{ OM_SETTING_INTERNAL_ONLY, OM_SETTING_WORDS, "on off", 0, 0, 0, "off" },
	{ "language", OM_SETTING_WORDS, "ja en", 0, 0, 1, NULL },
	/* issue 15 (doc/links.md): the banner when sender authentication
	   fails, every link disabled, links through the click-time gate,
	   and whether its warning page lets the user go on */
	{ "auth-warning", OM_SETTING_WORDS, "off fail always", 0, 0, 0, "fail" },
	{ "link-disable", OM_SETTING_WORDS, "off on", 0, 0, 0, "off" },
	{ "url-rewrite", OM_SETTING_WORDS, "off on", 0, 0, 0, "off" },
	{ "url-warn-continue", OM_SETTING_WORDS, "on off", 0, 0, 0, "on" },
	{ OM_SETTING_ZIP_RECIPIENTS, OM_SETTING_WORDS, "external all", 0, 0, 0,
	  OM_DEFAULT_ZIP_RECIPIENTS },
	{ OM_SETTING_ZIP_MIN_SIZE, OM_SETTING_INTEGER, NULL, 0, 2147483647L, 0, "0" },
	{ OM_SETTING_ZIP_PASSWORD_DAYS, OM_SETTING_INTEGER, NULL, 1, 30, 0, "7" },
	{ "virus-admin-copy", OM_SETTING_WORDS_OR_ADDRESS, "off", 0, 0, 0, "off" },
	/* unset: no feature is on by default, as all-off */
	{ "default", OM_SETTING_WORDS, "all-on all-off", 0, 0, 0, "all-off" },
	{ OM_SETTING_MAX_RECIPIENTS, OM_SETTING_INTEGER, NULL, 1, 100000, 0, "1000" },
	{ OM_SETTING_MAX_MESSAGE_SIZE, OM_SETTING_INTEGER, NULL, 1024, 2147483647L, 0,
	  "15728640" },
	{ OM_SETTING_RATE_MESSAGES, OM_SETTING_INTEGER, NULL, 1, 100000000L, 0, "500" },
	{ OM_SETTING_RATE_RECIPIENTS, OM_SETTING_INTEGER, NULL, 1, 100000000L, 0, "5000" },
	{ OM_SETTING_RATE_WINDOW, OM_SETTING_INTEGER, NULL, 1, 604800, 0, "3600" },
	{ OM_SETTING_SPAM_ACTION, OM_SETTING_WORDS, "deliver tag header quarantine", 0, 0, 1,
	  OM_DEFAULT_SPAM_ACTION },
	{ OM_SETTING_SPAM_THRESHOLD, OM_SETTING_DECIMAL, NULL, -100, 100, 1,
	  OM_DEFAULT_SPAM_THRESHOLD },
	{ OM_SETTING_SPAM_QUARANTINE_THRESHOLD, OM_SETTING_DECIMAL_OR_WORDS, "off", -100, 100, 1,
	  "off" },
	{ OM_SETTING_SPAM_TAG, OM_SETTING_TEXT, NULL, 0, 64, 1, OM_DEFAULT_SPAM_TAG },
	{ OM_SETTING_QUARANTINE_RETENTION, OM_SETTING_INTEGER, NULL, 1, 14, 0, "14" },
	{ OM_SETTING_USER_ALLOW_LISTS, OM_SETTING_WORDS, "on off", 0, 0, 0, "on" },
	{ OM_SETTING_LEARN_ALLOW_SENDER, OM_SETTING_WORDS, "on off", 0, 0, 0, "on" },
	{ OM_SETTING_DIGEST, OM_SETTING_SCHEDULE, NULL, 0, 0, 1, OM_DEFAULT_DIGEST },
	{ OM_SETTING_DIGEST_KNOWN_SENDERS, OM_SETTING_WORDS, "on off", 0, 0, 1, "off" },
	{ OM_SETTING_TIMEZONE, OM_SETTING_ZONE, NULL, 0, 0, 0, "localtime" },
	{ OM_SETTING_USER_MAY_CHANGE, OM_SETTING_WORD_SET,
	  OM_FEATURE_INBOUND_VIRUS " " OM_FEATURE_SPAM " " OM_FEATURE_OUTBOUND_VIRUS
	  " lists digest", 0, 0, 0, OM_DEFAULT_USER_MAY_CHANGE },
};

int om_settings_feature_valid(const char *feature)
{
	int i;

	for (i = 0; om_features[i] != NULL; i++) {
		if (strcmp(om_features[i], feature) == 0)
			return 1;
	}
	return 0;
}

const char *om_settings_feature_names(void)
{
	return OM_FEATURE_INBOUND_VIRUS " " OM_FEATURE_OUTBOUND_VIRUS " "
		OM_FEATURE_SPAM " " OM_FEATURE_OUTBOUND_BCC " "
		OM_FEATURE_OUTBOUND_HOLD " " OM_FEATURE_OUTBOUND_ZIP " "
		OM_FEATURE_OUTBOUND_SPAM " " OM_FEATURE_ATTACHMENTS " "
		OM_FEATURE_OUTBOUND_PORTAL;
}

const char *om_settings_feature_nth(unsigned int i)
{
	return i < OM_N_ELEMENTS(om_features) ? om_features[i] : NULL;
}

int om_settings_feature_outbound(const char *feature)
{
	return strncmp(feature, "outbound-", 9) == 0;
}

long om_settings_number(const char *value, long def)
{
	long n;

	return om_parse_long(value, 0, LONG_MAX, &n) < 0 ? def : n;
}

int om_settings_state_parse(const char *text)
{
	if (strcmp(text, "on") == 0)
		return OM_SUB_ON;
	if (strcmp(text, "paused") == 0)
		return OM_SUB_PAUSED;
	if (strcmp(text, "off") == 0)
		return OM_SUB_OFF;
	return -1;
}

const char *om_settings_state_name(enum om_sub_state state)
{
	switch (state) {
	case OM_SUB_ON: return "on";
	case OM_SUB_PAUSED: return "paused";
	case OM_SUB_OFF: break;
	}
	return "off";
}

static int om_word_in(const char *words, const char *word)
{
	size_t n = strlen(word);
	const char *p = words;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* No spaces, controls or angle brackets, at most 254 bytes.  0 or -1. */
static int om_settings_name_ok(const char *name, const char *what, char **error_r)
{
	const unsigned char *p;

	if (strlen(name) > 254) {
		*error_r = om_asprintf("%s longer than 254 bytes", what);
		return -1;
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>') {
			*error_r = om_asprintf("%s contains a space, control character "
					       "or angle bracket", what);
			return -1;
		}
	}
	return 0;
}

int om_settings_domain_name_check(const char *domain, char **error_r)
{
	const char *p, *label = domain;

	if (*domain == '\0' || strlen(domain) > 253)
		goto bad;
	for (p = domain;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' || p[-1] == '-')
				goto bad;
			if (*p == '\0')
				return 0;
			label = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			goto bad;
		}
	}
bad:
	*error_r = om_asprintf("'%.80s' is not a domain name (labels of letters, "
			       "digits and '-', an IDN in its xn-- form)", domain);
	return -1;
}

int om_settings_mailbox_check(const char *mailbox, char **error_r)
{
	const char *at = strrchr(mailbox, '@');

	if (om_settings_name_ok(mailbox, "address", error_r) < 0)
		return -1;
	if (at == NULL || at == mailbox || at[1] == '\0' ||
	    memchr(mailbox, '@', (size_t)(at - mailbox)) != NULL) {
		*error_r = om_asprintf("'%.80s' is not an address of the form local@domain",
				       mailbox);
		return -1;
	}
	return om_settings_domain_name_check(at + 1, error_r);
}

int om_settings_key_parse(char *word, enum om_settings_key *type_r,
			  const char **key_r, char **error_r)
{
	char *key = word;

	if (strcmp(word, OM_GLOBAL_DOMAIN) == 0) {
		*type_r = OM_KEY_GLOBAL;
	} else if (strncmp(word, "user:", 5) == 0) {
		key = word + 5;
		*type_r = OM_KEY_MAILBOX;
	} else if (strncmp(word, "domain:", 7) == 0) {
		key = word + 7;
		*type_r = OM_KEY_DOMAIN;
	} else {
		*type_r = strchr(word, '@') == NULL && strchr(word, '.') != NULL ?
			OM_KEY_DOMAIN : OM_KEY_MAILBOX;
	}
	if (*key == '\0' || (key != word && strcmp(key, OM_GLOBAL_DOMAIN) == 0)) {
		*error_r = om_asprintf("'%.80s' names no mailbox or domain", word);
		return -1;
	}
	if (*type_r != OM_KEY_GLOBAL) {
		if (!om_utf8_valid(key, strlen(key))) {
			*error_r = om_strdup("a mailbox or domain name must be UTF-8 text");
			return -1;
		}
		om_address_key_fold(key);
		/* folded: "user:*." is "*", "user:..." nothing */
		if (*key == '\0' || strcmp(key, OM_GLOBAL_DOMAIN) == 0) {
			*error_r = om_asprintf("'%.80s' names no mailbox or domain", word);
			return -1;
		}
	}
	if (om_settings_name_ok(key, *type_r == OM_KEY_DOMAIN ? "domain" : "mailbox",
				error_r) < 0)
		return -1;
	if (*type_r == OM_KEY_DOMAIN && strchr(key, '@') != NULL) {
		*error_r = om_asprintf("'%.80s' is not a domain name", key);
		return -1;
	}
	if (*type_r == OM_KEY_DOMAIN && om_settings_domain_name_check(key, error_r) < 0)
		return -1;
	if (*type_r == OM_KEY_MAILBOX && strchr(key, '@') != NULL &&
	    om_settings_mailbox_check(key, error_r) < 0)
		return -1;
	*key_r = key;
	return 0;
}

const char *om_settings_key_type_name(enum om_settings_key type)
{
	switch (type) {
	case OM_KEY_MAILBOX: return "mailbox";
	case OM_KEY_DOMAIN: return "domain";
	case OM_KEY_GLOBAL: break;
	}
	return "global";
}

const char *om_settings_domain_of(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at == NULL ? "" : at + 1;
}

static const struct om_domain_setting *om_settings_find(const char *name)
{
	size_t i;

	/* asked several times a scan: the first letter alone passes over
	   most of the table without a call */
	for (i = 0; i < OM_N_ELEMENTS(om_domain_settings); i++) {
		if (om_domain_settings[i].name[0] == name[0] &&
		    strcmp(om_domain_settings[i].name, name) == 0)
			return &om_domain_settings[i];
	}
	return NULL;
}

const char *om_settings_domain_names(void)
{
	return "inbound-virus outbound-virus spam outbound-bcc outbound-hold "
		"outbound-zip outbound-virus-action bcc-threshold bcc-notify "
		"hold-when hold-min-recipients hold-minutes hold-expiry internal-domains "
		"language zip-recipients zip-min-size zip-password-days virus-admin-copy "
		"default max-recipients max-message-size rate-messages "
		"rate-recipients rate-window spam-action spam-threshold "
		"spam-quarantine-threshold spam-tag quarantine-retention "
		"user-allow-lists learn-allow-sender outbound-spam "
		"outbound-spam-threshold outbound-admin outbound-path brake brake-factor "
		"brake-min-messages brake-min-recipients auth-check spf-reject "
		"attachments attachment-action attachment-action-extension "
		"attachment-action-disguise attachment-action-encrypted "
		"attachment-action-macro attachment-action-active attachment-action-sandbox "
		"attachment-isolate-archives attachment-isolate-all "
		"attachment-isolate-days attachment-isolate-original "
		"outbound-portal portal-days portal-subject group internal-only";
}

int om_settings_domain_valid(const char *name)
{
	return om_settings_find(name) != NULL;
}

const char *om_settings_default(const char *name)
{
	const struct om_domain_setting *s = om_settings_find(name);

	return s != NULL ? s->def : NULL;
}

int om_settings_per_mailbox(const char *name)
{
	const struct om_domain_setting *s = om_settings_find(name);

	return s != NULL && s->per_mailbox;
}

int om_settings_decimal(const char *value, double *n_r)
{
	return om_parse_decimal(value, n_r);
}

/* Printable text: no control characters, valid enough to go in a header. */
static int om_settings_text_ok(const char *value, long max)
{
	const unsigned char *p;

	if ((long)strlen(value) > max)
		return 0;
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* "daily HH:MM", "every N" (1..24 hours) or "off". */
int om_settings_digest_parse(const char *value, struct om_digest_schedule *r)
{
	unsigned int h, m, n;
	char end;

	memset(r, 0, sizeof(*r));
	if (strcmp(value, "off") == 0) {
		r->kind = OM_DIGEST_OFF;
		return 0;
	}
	if (sscanf(value, "daily %2u:%2u%c", &h, &m, &end) == 2 &&
	    strlen(value) == 11 && h < 24 && m < 60) {
		r->kind = OM_DIGEST_DAILY;
		r->hour = (int)h;
		r->minute = (int)m;
		return 0;
	}
	if (sscanf(value, "every %2u%c", &n, &end) == 1 &&
	    strlen(value) <= 8 && value[6] >= '1' && value[6] <= '9' &&
	    n >= 1 && n <= 24) {
		r->kind = OM_DIGEST_EVERY;
		r->every_hours = (int)n;
		return 0;
	}
	return -1;
}

/* A name of the tz database (Asia/Tokyo, UTC) that the system has, or
   "localtime" (the system's own zone). */
int om_settings_timezone_valid(const char *value)
{
	const char *p;
	char path[320];

	if (strcmp(value, "localtime") == 0)
		return 1;
	if (value[0] == '\0' || value[0] == '/' || strlen(value) > 64 ||
	    strstr(value, "..") != NULL)
		return 0;
	for (p = value; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_+-", *p) != NULL))
			return 0;
	}
	if (snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", value) >=
	    (int)sizeof(path))
		return 0;
	return access(path, R_OK) == 0;
}

/* "none", or words of accepted, each once. */
static int om_settings_word_set_ok(const char *accepted, const char *value)
{
	char word[64];
	const char *p = value, *end;
	size_t len;

	if (strcmp(value, "none") == 0)
		return 1;
	if (*value == '\0')
		return 0;
	while (*p != '\0') {
		end = strchr(p, ' ');
		len = end == NULL ? strlen(p) : (size_t)(end - p);
		if (len == 0 || len >= sizeof(word))
			return 0;
		memcpy(word, p, len);
		word[len] = '\0';
		if (!om_word_in(accepted, word))
			return 0;
		p += len;
		if (*p == ' ')
			p++;
	}
	return 1;
}

int om_settings_user_may_change(const char *value, const char *what)
{
	return value != NULL && strcmp(value, "none") != 0 && om_word_in(value, what);
}

/* "none" or up to OM_INTERNAL_DOMAINS_MAX domain names (letters, digits,
   '-', '.'), one space between them. */
static int om_settings_domains_ok(const char *value)
{
	const char *p = value;
	size_t len, count = 0;

	if (strcmp(value, "none") == 0)
		return 1;
	if (*value == '\0' || strlen(value) > 4096)
		return 0;
	while (*p != '\0') {
		len = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "0123456789-.");
		if (len == 0 || len > 253 || p[0] == '.' || p[len - 1] == '.' ||
		    (p[len] != '\0' && p[len] != ' ') ||
		    ++count > OM_INTERNAL_DOMAINS_MAX)
			return 0;
		p += len;
		if (*p == ' ' && *++p == '\0')
			return 0;
	}
	return 1;
}

int om_settings_domain_in(const char *domains, const char *domain)
{
	size_t dlen = strlen(domain), len;
	const char *p = domains;

	while (p != NULL && *p != '\0') {
		len = strcspn(p, " ");
		if (len == dlen && strncasecmp(p, domain, len) == 0)
			return 1;
		p += len;
		if (*p == ' ')
			p++;
	}
	return 0;
}

static int om_settings_value_ok(const struct om_domain_setting *s,
				const char *value)
{
	char *ignored = NULL;
	double d;
	long n;

	switch (s->type) {
	case OM_SETTING_WORDS:
		return om_word_in(s->accepted, value);
	case OM_SETTING_WORDS_OR_ADDRESS:
		if (om_word_in(s->accepted, value))
			return 1;
		if (om_settings_mailbox_check(value, &ignored) == 0)
			return 1;
		free(ignored);
		return 0;
	case OM_SETTING_INTEGER:
		n = om_settings_number(value, -1);
		return n >= s->min && n <= s->max;
	case OM_SETTING_DECIMAL_OR_WORDS:
		if (om_word_in(s->accepted, value))
			return 1;
		/* fall through */
	case OM_SETTING_DECIMAL:
		return om_settings_decimal(value, &d) == 0 && d >= (double)s->min &&
			d <= (double)s->max;
	case OM_SETTING_TEXT:
		return om_settings_text_ok(value, s->max);
	case OM_SETTING_SCHEDULE: {
		struct om_digest_schedule sched;

		return om_settings_digest_parse(value, &sched) == 0;
	}
	case OM_SETTING_ZONE:
		return om_settings_timezone_valid(value);
	case OM_SETTING_WORD_SET:
		return om_settings_word_set_ok(s->accepted, value);
	case OM_SETTING_DOMAINS:
		return om_settings_domains_ok(value);
	case OM_SETTING_GROUP_NAME:
		return strcmp(value, "none") == 0 || om_settings_group_name_valid(value);
	}
	return 0;
}

static const char *om_settings_accepted_text(const struct om_domain_setting *s)
{
	switch (s->type) {
	case OM_SETTING_WORDS: return s->accepted;
	case OM_SETTING_WORDS_OR_ADDRESS: return "off, or an address";
	case OM_SETTING_INTEGER: return "a whole number in the range shown";
	case OM_SETTING_DECIMAL: return "a number in the range shown";
	case OM_SETTING_DECIMAL_OR_WORDS: return "off, or a number in the range shown";
	case OM_SETTING_TEXT: return "printable text up to the length shown";
	case OM_SETTING_SCHEDULE: return "daily HH:MM, every N (hours, 1..24), off";
	case OM_SETTING_ZONE: return "a tz database zone (Asia/Tokyo, UTC) or localtime";
	case OM_SETTING_WORD_SET: return "none, or some of these, space-separated";
	case OM_SETTING_DOMAINS: return "none, or domain names, space-separated (at most 100)";
	case OM_SETTING_GROUP_NAME: return "none, or a group name (1..16 letters, digits, - _)";
	}
	return "?";
}

const char *om_settings_domain_nth(unsigned int i)
{
	return i < OM_N_ELEMENTS(om_domain_settings) ? om_domain_settings[i].name : NULL;
}

const char *om_settings_domain_choices(const char *name)
{
	const struct om_domain_setting *s = om_settings_find(name);

	return s != NULL && s->type == OM_SETTING_WORDS ? s->accepted : NULL;
}

const char *om_settings_domain_accepted(const char *name, long *min_r, long *max_r)
{
	const struct om_domain_setting *s = om_settings_find(name);

	*min_r = s != NULL ? s->min : 0;
	*max_r = s != NULL ? s->max : 0;
	if (s == NULL)
		return "";
	return s->type == OM_SETTING_WORD_SET ? s->accepted : om_settings_accepted_text(s);
}

int om_settings_domain_check(const char *name, const char *value,
			     char **error_r)
{
	const struct om_domain_setting *s = om_settings_find(name);

	if (s == NULL) {
		*error_r = om_asprintf("unknown domain setting '%.60s' (known: %s)",
				       name, om_settings_domain_names());
		return -1;
	}
	if (!om_utf8_valid(value, strlen(value))) {
		*error_r = om_asprintf("domain setting %s: the value is not UTF-8 text", name);
		return -1;
	}
	if (om_settings_value_ok(s, value))
		return 0;
	if (s->max > 0)
		*error_r = om_asprintf("domain setting %s: '%.60s' is not accepted: %s (%ld..%ld)",
				       name, value, om_settings_accepted_text(s),
				       s->min, s->max);
	else
		*error_r = om_asprintf("domain setting %s: '%.60s' is not one of: %s",
				       name, value, om_settings_accepted_text(s));
	return -1;
}

/* ---- policy groups ---- */

int om_settings_group_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= OM_GROUP_NAME_MAX &&
		strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789-_") == len && strcmp(name, "none") != 0;
}

#define OM_GROUP_SCOPE_PREFIX "<group "

int om_settings_group_scope(const char *domain, const char *name, char *buf,
			    size_t size)
{
	int n;

	if (!om_settings_group_name_valid(name) || *domain == '\0')
		return -1;
	n = snprintf(buf, size, OM_GROUP_SCOPE_PREFIX "%s>@%s", name, domain);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

const char *om_settings_group_scope_domain(const char *scope)
{
	const char *end;

	if (strncmp(scope, OM_GROUP_SCOPE_PREFIX, sizeof(OM_GROUP_SCOPE_PREFIX) - 1) != 0 ||
	    (end = strstr(scope, ">@")) == NULL)
		return NULL;
	return end + 2;
}

int om_settings_scope_covers(const char *scope, const char *mailbox)
{
	const char *domain = om_settings_domain_of(mailbox);
	const char *group_domain = om_settings_group_scope_domain(scope);

	if (strcmp(scope, OM_GLOBAL_DOMAIN) == 0 || strcmp(scope, mailbox) == 0)
		return 1;
	if (group_domain != NULL)
		scope = group_domain;
	if (*scope == '@')
		scope++;
	return *domain != '\0' && strcmp(scope, domain) == 0;
}

int om_settings_per_group(const char *name)
{
	static const char *const prefixes[] = {
		"outbound-", "bcc-", "hold-", "zip-", "portal-"
	};
	size_t i;

	if (strcmp(name, OM_SETTING_INTERNAL_DOMAINS) == 0 ||
	    strcmp(name, OM_SETTING_INTERNAL_ONLY) == 0)
		return 1;
	if (!om_settings_domain_valid(name))
		return 0;
	for (i = 0; i < OM_N_ELEMENTS(prefixes); i++) {
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	return 0;
}

/* ---- lookup order, over any source (the store, or a snapshot of it) ---- */

static int om_store_source_sub(void *context, const char *mailbox,
			       const char *feature, char **state_r,
			       char **error_r)
{
	return om_store_subscription_get(context, mailbox, feature, state_r, error_r);
}

static int om_store_source_domain(void *context, const char *domain,
				  const char *name, char **value_r,
				  char **error_r)
{
	return om_store_domain_get(context, domain, name, value_r, error_r);
}

/* Looks a domain-level value up: domain, then global.  1/0/-1. */
static int om_settings_domain_lookup(const struct om_settings_source *src,
				     const char *domain, const char *name,
				     char **value_r, const char **source_r,
				     char **error_r)
{
	int ret;

	ret = src->domain_get(src->context, domain, name, value_r, error_r);
	if (ret != 0) {
		*source_r = "domain";
		return ret;
	}
	*source_r = "global";
	return src->domain_get(src->context, OM_GLOBAL_DOMAIN, name, value_r,
			       error_r);
}

/* mailbox as it is looked up (util.h: lower case, no trailing dot) into
   key; 0, or -1 with *error_r when it is too long to be an address. */
static int om_settings_key_of(const char *mailbox, char key[OM_ADDRESS_KEY_MAX],
			      char **error_r)
{
	if (om_address_key(mailbox, key, OM_ADDRESS_KEY_MAX) == 0)
		return 0;
	*error_r = om_asprintf("address too long to look up (%zu bytes)",
			       strlen(mailbox));
	return -1;
}

char *om_settings_group_of(const struct om_settings_source *src,
			   const char *mailbox, char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX], *group = NULL;
	int ret;

	*error_r = NULL;
	if (*mailbox == '\0' || om_settings_key_of(mailbox, key, error_r) < 0)
		return NULL;
	ret = src->domain_get(src->context, key, OM_SETTING_GROUP, &group, error_r);
	if (ret <= 0)
		return NULL;
	if (!om_settings_group_name_valid(group)) {
		free(group);	/* "none" */
		return NULL;
	}
	return group;
}

/* The value of name in mailbox's policy group, for a setting a group may
   carry: 1 found (*value_r allocated), 0 none, -1 error. */
static int om_settings_group_lookup(const struct om_settings_source *src,
				    const char *mailbox, const char *name,
				    char **value_r, char **error_r)
{
	char scope[OM_GROUP_SCOPE_MAX], *group;
	int ret;

	if (*mailbox == '\0' || !om_settings_per_group(name))
		return 0;
	group = om_settings_group_of(src, mailbox, error_r);
	if (group == NULL)
		return *error_r != NULL ? -1 : 0;
	ret = om_settings_group_scope(om_settings_domain_of(mailbox), group, scope,
				      sizeof(scope)) < 0 ? 0 :
		src->domain_get(src->context, scope, name, value_r, error_r);
	free(group);
	return ret;
}

int om_settings_default_covers(const char *feature)
{
	/* outbound-audit means "run this domain's audit rules": all-on
	   would send every such domain's mail after the queue for no rule;
	   outbound-portal would be on beside outbound-zip, which route.c
	   and the settings refuse */
	return strcmp(feature, OM_FEATURE_OUTBOUND_AUDIT) != 0 &&
		strcmp(feature, OM_FEATURE_OUTBOUND_PORTAL) != 0;
}

/* A feature's domain default: its own setting, else "default all-on". */
static int om_settings_domain_feature(const struct om_settings_source *src,
				      const char *domain, const char *feature,
				      char **value_r, const char **source_r,
				      char **error_r)
{
	char *all = NULL;
	int ret;

	ret = om_settings_domain_lookup(src, domain, feature, value_r,
					source_r, error_r);
	if (ret != 0)
		return ret;
	if (!om_settings_default_covers(feature))
		return 0;
	ret = om_settings_domain_lookup(src, domain, "default", &all,
					source_r, error_r);
	if (ret <= 0)
		return ret;
	*value_r = om_strdup(strcmp(all, "all-on") == 0 ? "on" : "off");
	free(all);
	return 1;
}

int om_settings_subscription_from(const struct om_settings_source *src,
				  const char *address, const char *feature,
				  enum om_sub_state *state_r,
				  const char **source_r, char **error_r)
{
	char mailbox[OM_ADDRESS_KEY_MAX], *value = NULL;
	int ret, state;

	*source_r = "default";
	*state_r = OM_SUB_OFF;
	if (om_settings_key_of(address, mailbox, error_r) < 0)
		return -1;
	ret = src->sub_get(src->context, mailbox, feature, &value, error_r);
	*source_r = "mailbox";
	if (ret == 0) {
		ret = om_settings_group_lookup(src, mailbox, feature, &value, error_r);
		*source_r = "group";
	}
	if (ret == 0) {
		ret = om_settings_domain_feature(src, om_settings_domain_of(mailbox),
						 feature, &value, source_r,
						 error_r);
	}
	if (ret < 0)
		return -1;
	if (ret == 0) {
		*source_r = "default";
		*state_r = OM_SUB_OFF;
		return 0;
	}
	state = om_settings_state_parse(value);
	free(value);
	*state_r = state < 0 ? OM_SUB_OFF : (enum om_sub_state)state;
	return 0;
}

char *om_settings_domain_value_from(const struct om_settings_source *src,
				    const char *address, const char *name,
				    const char *def, char **error_r)
{
	char mailbox[OM_ADDRESS_KEY_MAX], *value = NULL;
	const char *source;
	int ret = 0;

	if (om_settings_key_of(address, mailbox, error_r) < 0)
		return NULL;

	/* a mailbox's own value first, for the settings a mailbox may refine
	   (kept under the mailbox's name in the same table; a user name
	   without a domain is a mailbox too) */
	if (*mailbox != '\0' && om_settings_per_mailbox(name))
		ret = src->domain_get(src->context, mailbox, name, &value, error_r);
	if (ret == 0)
		ret = om_settings_group_lookup(src, mailbox, name, &value, error_r);
	if (ret == 0)
		ret = om_settings_domain_lookup(src, om_settings_domain_of(mailbox),
						name, &value, &source, error_r);
	if (ret < 0)
		return NULL;
	return ret == 0 ? om_strdup(def) : value;
}

void om_settings_store_source(struct om_store *store, struct om_settings_source *src)
{
	src->context = store;
	src->sub_get = om_store_source_sub;
	src->domain_get = om_store_source_domain;
}

int om_settings_subscription(struct om_store *store, const char *mailbox,
			     const char *feature, enum om_sub_state *state_r,
			     const char **source_r, char **error_r)
{
	const struct om_settings_source src = {
		store, om_store_source_sub, om_store_source_domain
	};

	return om_settings_subscription_from(&src, mailbox, feature, state_r,
					     source_r, error_r);
}

char *om_settings_domain_value(struct om_store *store, const char *mailbox,
			       const char *name, const char *def,
			       char **error_r)
{
	const struct om_settings_source src = {
		store, om_store_source_sub, om_store_source_domain
	};

	return om_settings_domain_value_from(&src, mailbox, name, def, error_r);
}

/* The levels below key: a mailbox's domain, then global; a domain's global
   level.  A feature's value may come from the "default" setting. */
static int om_settings_effective_below(const struct om_settings_source *src,
				       enum om_settings_key type, const char *key,
				       const char *name, char **value_r,
				       const char **source_r, char **error_r)
{
	const char *domain = type == OM_KEY_MAILBOX ? om_settings_domain_of(key) :
		type == OM_KEY_DOMAIN ? key : OM_GLOBAL_DOMAIN;
	int ret;

	ret = om_settings_feature_valid(name) ?
		om_settings_domain_feature(src, domain, name, value_r, source_r,
					   error_r) :
		om_settings_domain_lookup(src, domain, name, value_r, source_r,
					  error_r);
	if (type == OM_KEY_GLOBAL)
		*source_r = "global";
	return ret;
}

int om_settings_effective(struct om_store *store, enum om_settings_key type,
			  const char *key, const char *name, const char *def,
			  char **value_r, const char **source_r, char **error_r)
{
	const struct om_settings_source src = {
		store, om_store_source_sub, om_store_source_domain
	};
	int ret = 0;

	*value_r = NULL;
	*source_r = "mailbox";
	if (type == OM_KEY_MAILBOX && om_settings_per_mailbox(name))
		ret = src.domain_get(src.context, key, name, value_r, error_r);
	if (ret == 0 && type == OM_KEY_MAILBOX) {
		ret = om_settings_group_lookup(&src, key, name, value_r, error_r);
		*source_r = "group";
	}
	if (ret == 0)
		ret = om_settings_effective_below(&src, type, key, name, value_r,
						  source_r, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		*source_r = "default";
		*value_r = def != NULL ? om_strdup(def) : NULL;
	}
	return 0;
}
