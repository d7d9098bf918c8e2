/* admins.c - domain administrators' roles and rights, and the recorded
 * paths of domain changes (see admins.h).
 *
 * Kept in the store layer beside settings.c and lists.c, because
 * omamorictl and omamori-web both change a domain and must record every
 * change the same way: here, not in either program.
 */
#include "store/admins.h"
#include "store/lists.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int om_admins_role_valid(const char *role)
{
	return strcmp(role, "operator") == 0 || strcmp(role, "admin") == 0 ||
		strcmp(role, "deputy") == 0;
}

/* The bit of one right word, or 0. */
static int om_admins_right_bit(const char *word, size_t len)
{
	static const struct { const char *name; int bit; } rights[] = {
		{ "settings", OM_ADMIN_SETTINGS }, { "lists", OM_ADMIN_LISTS },
		{ "holds", OM_ADMIN_HOLDS }, { "trace", OM_ADMIN_TRACE },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(rights); i++) {
		if (strlen(rights[i].name) == len && strncmp(rights[i].name, word, len) == 0)
			return rights[i].bit;
	}
	return 0;
}

/* The bits of a rights text ("settings lists", or with commas); -1 for
   an unknown word or one twice (*bad_r: where). */
static int om_admins_rights_bits(const char *text, const char **bad_r, size_t *len_r)
{
	const char *p = text;
	int bits = 0, bit;
	size_t len;

	while (*p != '\0') {
		len = strcspn(p, ", ");
		if (len > 0) {
			bit = om_admins_right_bit(p, len);
			if (bit == 0 || (bits & bit) != 0) {
				*bad_r = p;
				*len_r = len;
				return -1;
			}
			bits |= bit;
		}
		p += len;
		if (*p != '\0')
			p++;
	}
	return bits;
}

static char *om_admins_rights_text(int bits)
{
	char *text = om_asprintf("%s%s%s%s", (bits & OM_ADMIN_SETTINGS) ? "settings " : "",
				 (bits & OM_ADMIN_LISTS) ? "lists " : "",
				 (bits & OM_ADMIN_HOLDS) ? "holds " : "",
				 (bits & OM_ADMIN_TRACE) ? "trace " : "");
	size_t len = strlen(text);

	if (len > 0)
		text[len - 1] = '\0';
	return text;
}

char *om_admins_rights_parse(const char *text, char **error_r)
{
	const char *bad = NULL;
	size_t len = 0;
	int bits;

	if (strlen(text) > 200) {
		*error_r = om_asprintf("rights: too long (known: %s)", OM_ADMIN_RIGHTS);
		return NULL;
	}
	bits = om_admins_rights_bits(text, &bad, &len);
	if (bits < 0) {
		*error_r = om_asprintf("unknown or repeated right '%.*s' (known: %s)",
				       (int)(len > 60 ? 60 : len), bad, OM_ADMIN_RIGHTS);
		return NULL;
	}
	return om_admins_rights_text(bits);
}

/* domain must be "*" exactly for an operator, a domain name otherwise. */
static int om_admins_domain_ok(char *domain, const char *role, char **error_r)
{
	enum om_settings_key type;
	const char *key;

	if (strcmp(role, "operator") == 0) {
		if (strcmp(domain, OM_GLOBAL_DOMAIN) == 0)
			return 0;
		*error_r = om_asprintf("an operator administers every domain: write the "
				       "domain as \"*\", not '%.80s'", domain);
		return -1;
	}
	if (om_settings_key_parse(domain, &type, &key, error_r) < 0)
		return -1;
	if (type != OM_KEY_DOMAIN || strcmp(key, domain) != 0) {
		*error_r = om_asprintf("'%.80s' is not a domain name (an admin or deputy "
				       "is of one domain; \"*\" is for operators)", domain);
		return -1;
	}
	return 0;
}

int om_admins_add(struct om_store *store, const char *who, const char *domain,
		  const char *address, const char *role, const char *rights,
		  char **error_r)
{
	char dom[OM_ADDRESS_KEY_MAX], addr[OM_ADDRESS_KEY_MAX];
	struct om_store_admin a;
	char *stored;
	int ret;

	/* kept as every lookup folds them (util.h om_address_key) */
	if (om_address_key(domain, dom, sizeof(dom)) < 0 ||
	    om_address_key(address, addr, sizeof(addr)) < 0) {
		*error_r = om_strdup("domain or address too long");
		return -1;
	}
	domain = dom;
	address = addr;
	if (!om_admins_role_valid(role)) {
		*error_r = om_asprintf("unknown role '%.40s' (known: admin deputy operator)",
				       role);
		return -1;
	}
	if (om_admins_domain_ok(dom, role, error_r) < 0 ||
	    om_settings_mailbox_check(address, error_r) < 0)
		return -1;
	if (rights != NULL && *rights != '\0' && strcmp(role, "deputy") != 0) {
		*error_r = om_asprintf("only a deputy has --rights (an %s may do "
				       "everything in its domain)", role);
		return -1;
	}
	stored = om_admins_rights_parse(rights != NULL ? rights : "", error_r);
	if (stored == NULL)
		return -1;
	a = (struct om_store_admin){ domain, address, role, stored, (long long)time(NULL) };
	ret = om_store_admin_add(store, &a, who, error_r);
	free(stored);
	return ret;
}

int om_admins_del(struct om_store *store, const char *who, const char *domain,
		  const char *address, char **error_r)
{
	char dom[OM_ADDRESS_KEY_MAX], addr[OM_ADDRESS_KEY_MAX];

	if (om_address_key(domain, dom, sizeof(dom)) < 0 ||
	    om_address_key(address, addr, sizeof(addr)) < 0) {
		*error_r = om_strdup("domain or address too long");
		return -1;
	}
	return om_store_admin_del(store, dom, addr, who, (long long)time(NULL), error_r);
}

struct om_admins_rights {
	const char *domain;
	int bits;
};

static void om_admins_rights_cb(void *context, const struct om_store_admin *a)
{
	struct om_admins_rights *r = context;
	const char *bad;
	size_t len;
	int bits;

	if (strcmp(a->role, "operator") == 0 && strcmp(a->domain, OM_GLOBAL_DOMAIN) == 0) {
		r->bits |= OM_ADMIN_ALL | OM_ADMIN_MAIN;
		return;
	}
	if (strcmp(a->domain, r->domain) != 0)
		return;
	if (strcmp(a->role, "admin") == 0) {
		r->bits |= OM_ADMIN_ALL | OM_ADMIN_MAIN;
	} else if (strcmp(a->role, "deputy") == 0) {
		bits = om_admins_rights_bits(a->rights, &bad, &len);
		if (bits > 0)
			r->bits |= bits;
	}
}

int om_admins_rights_of(struct om_store *store, const char *address,
			const char *domain, char **error_r)
{
	char dom[OM_ADDRESS_KEY_MAX];
	struct om_admins_rights r = { dom, OM_ADMIN_NONE };

	/* "*" is no domain one manages: nobody's rights reach it here */
	if (*domain == '\0' || strcmp(domain, OM_GLOBAL_DOMAIN) == 0 ||
	    om_address_key(domain, dom, sizeof(dom)) < 0)
		return OM_ADMIN_NONE;
	if (om_store_admin_of(store, address, om_admins_rights_cb, &r, error_r) < 0)
		return -1;
	return r.bits;
}

/* outbound-zip and outbound-portal exclude each other (seed 001): turning
   one on where the other is on for key (a domain: its postmaster's view)
   is refused.  0 or -1. */
static int om_settings_exclusive_ok(struct om_store *store, enum om_settings_key type,
				    const char *key, const char *name, const char *value,
				    char **error_r)
{
	const char *other = strcmp(name, OM_FEATURE_OUTBOUND_ZIP) == 0 ?
		OM_FEATURE_OUTBOUND_PORTAL : strcmp(name, OM_FEATURE_OUTBOUND_PORTAL) == 0 ?
		OM_FEATURE_OUTBOUND_ZIP : NULL;
	enum om_sub_state state;
	const char *source;
	char *mailbox;
	int ret;

	if (other == NULL || value == NULL || strcmp(value, "on") != 0 ||
	    type == OM_KEY_GLOBAL)
		return 0;
	mailbox = type == OM_KEY_MAILBOX ? om_strdup(key) : om_asprintf("postmaster@%s", key);
	ret = om_settings_subscription(store, mailbox, other, &state, &source, error_r);
	free(mailbox);
	if (ret < 0)
		return -1;
	if (state != OM_SUB_ON)
		return 0;
	*error_r = om_asprintf("%s: %s is on (%s); %s and %s cannot both be on: turn it "
			       "off first", key, other, source, OM_FEATURE_OUTBOUND_ZIP,
			       OM_FEATURE_OUTBOUND_PORTAL);
	return -1;
}

int om_settings_domain_change(struct om_store *store, const char *who,
			      enum om_settings_key type, const char *key,
			      const char *name, const char *value, char **error_r)
{
	const char *domain = type == OM_KEY_MAILBOX ? om_settings_domain_of(key) :
		type == OM_KEY_DOMAIN ? key : OM_GLOBAL_DOMAIN;
	char *what;
	int ret;

	if (value != NULL ? om_settings_domain_check(name, value, error_r) < 0 :
	    !om_settings_domain_valid(name)) {
		if (value == NULL)
			*error_r = om_asprintf("unknown domain setting '%.60s' (known: %s)",
					       name, om_settings_domain_names());
		return -1;
	}
	if (strcmp(name, OM_SETTING_GROUP) == 0) {
		/* a mailbox's group is set where the group's existence is
		   checked (omamorictl mailbox set MAILBOX group NAME); a
		   domain has groups, not a group */
		*error_r = om_asprintf("group is not set here: omamorictl mailbox set "
				       "MAILBOX group NAME puts a mailbox in a group");
		return -1;
	}
	if (om_settings_exclusive_ok(store, type, key, name, value, error_r) < 0)
		return -1;
	what = type == OM_KEY_MAILBOX ? om_asprintf("setting %s of %s", name, key) :
		om_asprintf("setting %s", name);
	ret = om_store_domain_change(store, key, name, value, who,
				     *domain != '\0' ? domain : key, what,
				     (long long)time(NULL), error_r);
	free(what);
	return ret;
}

int om_admins_group_setting(struct om_store *store, const char *who,
			    const char *domain, const char *group, const char *name,
			    const char *value, char **error_r)
{
	char scope[OM_GROUP_SCOPE_MAX], *what;
	int ret;

	if (om_settings_group_scope(domain, group, scope, sizeof(scope)) < 0) {
		*error_r = om_asprintf("domain name too long: %.60s", domain);
		return -1;
	}
	what = om_asprintf("setting %s of group %s", name, group);
	ret = om_store_domain_change(store, scope, name, value, who, domain, what,
				     (long long)time(NULL), error_r);
	free(what);
	return ret;
}

int om_admins_group_member(struct om_store *store, const char *who,
			   const char *mailbox, const char *group, char **error_r)
{
	const char *domain = om_settings_domain_of(mailbox);
	char *what;
	int ret;

	what = om_asprintf("setting %s of %s", OM_SETTING_GROUP, mailbox);
	ret = om_store_domain_change(store, mailbox, OM_SETTING_GROUP, group, who,
				     *domain != '\0' ? domain : mailbox, what,
				     (long long)time(NULL), error_r);
	free(what);
	return ret;
}

int om_admins_group_delete(struct om_store *store, const char *who,
			   const char *domain, const char *group, char **error_r)
{
	return om_store_group_delete(store, domain, group, who, (long long)time(NULL),
				     error_r);
}

int om_admins_lists_change(struct om_store *store, const char *who,
			   const char *scope, enum om_settings_key type,
			   const char *kind, const char *const *entries, size_t count,
			   int add, long max, char **error_r)
{
	struct om_store_change c;
	char *what, *entry, *ignored = NULL;
	size_t i;
	int ret;

	ret = om_lists_change(store, scope, type, kind, entries, count, add, max,
			      error_r);
	if (ret <= 0)
		return ret;
	what = om_asprintf("list %s", kind);
	for (i = 0; i < count; i++) {
		entry = om_lists_entry(kind, entries[i], &ignored);
		if (entry == NULL) {
			om_free(&ignored);
			continue;
		}
		c = (struct om_store_change){ 0, (long long)time(NULL), who, scope, what,
					      add ? "" : entry, add ? entry : "" };
		if (om_store_change_add(store, &c, error_r) < 0) {
			free(entry);
			free(what);
			return -1;
		}
		free(entry);
	}
	free(what);
	return ret;
}
