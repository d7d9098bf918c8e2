/* settings.c - names and values of subscriptions and domain settings, and the
 * lookup order mailbox -> domain -> global -> default.
 *
 * Kept apart from the store so that the store stays a plain persistence layer
 * and the rules about what a value means live in one place.
 */
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *const om_features[] = { OM_FEATURE_INBOUND_VIRUS, NULL };

struct om_domain_setting {
	const char *name;
	const char *accepted;	/* space-separated words, or NULL */
	int address_allowed;	/* also accept an e-mail address */
};

static const struct om_domain_setting om_domain_settings[] = {
	{ OM_FEATURE_INBOUND_VIRUS, "on paused off", 0 },
	{ "language", "ja en", 0 },
	{ "virus-admin-copy", "off", 1 },
	{ "default", "all-on all-off", 0 },
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
	return OM_FEATURE_INBOUND_VIRUS;
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

int om_settings_mailbox_check(const char *mailbox, char **error_r)
{
	const char *at = strrchr(mailbox, '@');
	const unsigned char *p;

	if (strlen(mailbox) > 254) {
		*error_r = om_strdup("address longer than 254 bytes");
		return -1;
	}
	if (at == NULL || at == mailbox || at[1] == '\0') {
		*error_r = om_asprintf("'%.80s' is not an address of the form local@domain",
				       mailbox);
		return -1;
	}
	for (p = (const unsigned char *)mailbox; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>') {
			*error_r = om_strdup("address contains a space, control character or angle bracket");
			return -1;
		}
	}
	return 0;
}

const char *om_settings_domain_of(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at == NULL ? "" : at + 1;
}

int om_settings_domain_check(const char *name, const char *value,
			     char **error_r)
{
	const struct om_domain_setting *s = NULL;
	char *ignored = NULL;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_domain_settings); i++) {
		if (strcmp(om_domain_settings[i].name, name) == 0)
			s = &om_domain_settings[i];
	}
	if (s == NULL) {
		*error_r = om_asprintf("unknown domain setting '%.60s' (known: "
				       "inbound-virus, language, virus-admin-copy, default)",
				       name);
		return -1;
	}
	if (om_word_in(s->accepted, value))
		return 0;
	if (s->address_allowed && om_settings_mailbox_check(value, &ignored) == 0)
		return 0;
	free(ignored);
	*error_r = om_asprintf("domain setting %s: '%.60s' is not one of: %s%s",
			       name, value, s->accepted,
			       s->address_allowed ? ", or an address" : "");
	return -1;
}

/* Looks a domain-level value up: domain, then global.  1/0/-1. */
static int om_settings_domain_lookup(struct om_store *store,
				     const char *domain, const char *name,
				     char **value_r, const char **source_r,
				     char **error_r)
{
	int ret;

	ret = om_store_domain_get(store, domain, name, value_r, error_r);
	if (ret != 0) {
		*source_r = "domain";
		return ret;
	}
	*source_r = "global";
	return om_store_domain_get(store, OM_GLOBAL_DOMAIN, name, value_r,
				   error_r);
}

/* A feature's domain default: its own setting, else "default all-on". */
static int om_settings_domain_feature(struct om_store *store,
				      const char *domain, const char *feature,
				      char **value_r, const char **source_r,
				      char **error_r)
{
	char *all = NULL;
	int ret;

	ret = om_settings_domain_lookup(store, domain, feature, value_r,
					source_r, error_r);
	if (ret != 0)
		return ret;
	ret = om_settings_domain_lookup(store, domain, "default", &all,
					source_r, error_r);
	if (ret <= 0)
		return ret;
	*value_r = om_strdup(strcmp(all, "all-on") == 0 ? "on" : "off");
	free(all);
	return 1;
}

int om_settings_subscription(struct om_store *store, const char *mailbox,
			     const char *feature, enum om_sub_state *state_r,
			     const char **source_r, char **error_r)
{
	char *value = NULL;
	int ret, state;

	ret = om_store_subscription_get(store, mailbox, feature, &value,
					error_r);
	*source_r = "mailbox";
	if (ret == 0) {
		ret = om_settings_domain_feature(store,
						 om_settings_domain_of(mailbox),
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

char *om_settings_domain_value(struct om_store *store, const char *mailbox,
			       const char *name, const char *def,
			       char **error_r)
{
	const char *source;
	char *value = NULL;
	int ret;

	ret = om_settings_domain_lookup(store, om_settings_domain_of(mailbox),
					name, &value, &source, error_r);
	if (ret < 0)
		return NULL;
	return ret == 0 ? om_strdup(def) : value;
}
