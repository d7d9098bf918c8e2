/* lists.c - list entry syntax and the rules of adding (see lists.h). */
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int om_lists_kind_valid(const char *kind)
{
	return strcmp(kind, "allow") == 0 || strcmp(kind, "block") == 0 ||
		strcmp(kind, "url-block") == 0;
}

/* A DNS name: labels of letters, digits and '-', dots between them. */
static int om_lists_hostname_ok(const char *host)
{
	const char *p;
	size_t label = 0;

	if (*host == '\0' || strlen(host) > 253 || *host == '.')
		return 0;
	for (p = host; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

char *om_lists_entry(const char *kind, const char *entry_in, char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX], *error = NULL;
	const char *entry = key;

	if (!om_lists_kind_valid(kind)) {
		*error_r = om_asprintf("list kind must be allow, block or url-block, "
				       "not '%.40s'", kind);
		return NULL;
	}
	/* as lookups fold addresses (util.h): "Spam@Evil.Example." is
	   spam@evil.example */
	if (om_address_key(entry_in, key, sizeof(key)) < 0) {
		*error_r = om_strdup("list entry too long");
		return NULL;
	}
	if (!om_utf8_valid(entry, strlen(entry))) {
		*error_r = om_strdup("a list entry must be UTF-8 text");
		return NULL;
	}
	if (strncmp(entry, "*@", 2) == 0 || strncmp(entry, "@*.", 3) == 0 ||
	    strncmp(entry, "*.", 2) == 0) {
		*error_r = om_asprintf("'%.80s': lists take no wildcards (write %s%.80s)",
				       entry_in, strcmp(kind, "url-block") == 0 ? "" : "@",
				       entry[0] == '*' && entry[1] == '@' ? entry + 2 :
				       strchr(entry, '.') + 1);
		return NULL;
	}
	if (strcmp(kind, "url-block") == 0) {
		if (!om_lists_hostname_ok(entry)) {
			*error_r = om_asprintf("'%.80s' is not a host name", entry);
			return NULL;
		}
		return om_strdup(entry);
	}
	if (entry[0] == '@') {
		if (!om_lists_hostname_ok(entry + 1)) {
			*error_r = om_asprintf("'%.80s' is not @domain", entry);
			return NULL;
		}
		return om_strdup(entry);
	}
	if (om_settings_mailbox_check(entry, &error) < 0) {
		*error_r = om_asprintf("'%.80s' is neither an address (local@domain) "
				       "nor @domain", entry);
		free(error);
		return NULL;
	}
	return om_strdup(entry);
}

int om_lists_allowed(struct om_store *store, const char *scope,
		     enum om_settings_key type, const char *kind, char **error_r)
{
	char *allowed;
	int forbidden;

	if (type != OM_KEY_MAILBOX || strcmp(kind, "allow") != 0)
		return 0;
	allowed = om_settings_domain_value(store, scope, OM_SETTING_USER_ALLOW_LISTS,
					   "on", error_r);
	if (allowed == NULL)
		return -1;
	forbidden = strcmp(allowed, "on") != 0;
	free(allowed);
	if (forbidden) {
		*error_r = om_asprintf("%s: the %s %s does not allow users' "
				       "own allow lists (user-allow-lists off)", scope,
				       *om_settings_domain_of(scope) != '\0' ? "domain" :
				       "global setting",
				       *om_settings_domain_of(scope) != '\0' ?
				       om_settings_domain_of(scope) : "*");
		return -1;
	}
	return 0;
}

int om_lists_add(struct om_store *store, const char *scope,
		 enum om_settings_key type, const char *kind,
		 const char *entry, long max, char **error_r)
{
	if (om_lists_allowed(store, scope, type, kind, error_r) < 0)
		return -1;
	return om_store_list_add(store, scope, kind, entry,
				 type == OM_KEY_MAILBOX ? max : 0, error_r);
}

int om_lists_change(struct om_store *store, const char *scope,
		    enum om_settings_key type, const char *kind,
		    const char *const *entries, size_t count, int add, long max,
		    char **error_r)
{
	const char **normalised = om_calloc(count + 1, sizeof(char *));
	size_t i;
	int ret = 0;

	if (add && om_lists_allowed(store, scope, type, kind, error_r) < 0)
		ret = -1;
	for (i = 0; i < count && ret == 0; i++) {
		normalised[i] = om_lists_entry(kind, entries[i], error_r);
		if (normalised[i] == NULL)
			ret = -1;
	}
	if (ret == 0)
		ret = om_store_list_change(store, scope, kind, normalised, count, add,
					   type == OM_KEY_MAILBOX ? max : 0, error_r);
	for (i = 0; i < count; i++)
		free((char *)normalised[i]);
	free(normalised);
	return ret;
}

int om_lists_listed(struct om_store *store, const char *scope, const char *kind,
		    const char *address, char **error_r)
{
	char *entry, *malformed = NULL;
	const char *at;
	int ret;

	if (!om_lists_kind_valid(kind)) {
		*error_r = om_asprintf("list kind must be allow, block or url-block, "
				       "not '%.40s'", kind);
		return -1;
	}
	entry = om_lists_entry(kind, address, &malformed);
	if (entry == NULL) {
		/* an address no one could list (a '*' or '@' in its local part,
		   a byte that is not UTF-8) is still of its domain: an
		   "@domain" entry applies to it */
		free(malformed);
		at = strrchr(address, '@');
		if (at == NULL || at == address)
			return 0;
		entry = om_lists_entry(kind, at, &malformed);
		if (entry == NULL) {
			free(malformed);
			return 0;
		}
		ret = om_store_list_has(store, scope, kind, entry, error_r);
		free(entry);
		return ret;
	}
	ret = om_store_list_has(store, scope, kind, entry, error_r);
	at = strrchr(entry, '@');
	if (ret == 0 && at != NULL && at != entry)
		ret = om_store_list_has(store, scope, kind, at, error_r);
	free(entry);
	return ret;
}

int om_lists_learning_allowed(struct om_store *store, const char *user,
			      char **error_r)
{
	char *setting = om_settings_domain_value(store, user,
						 OM_SETTING_LEARN_ALLOW_SENDER,
						 "on", error_r);
	int on;

	if (setting == NULL)
		return -1;
	on = strcmp(setting, "on") == 0;
	free(setting);
	return on;
}
