/* snapshot.c - the store's configuration in hash maps (see snapshot.h).
 * Keys are "scope\tentry" for lists and "key\tname" for settings, looked up
 * with om_hash_get2 so a request builds no strings.
 */
#include "store/snapshot.h"
#include "lib/hash.h"
#include "store/store.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define OM_SNAPSHOT_ADDR_MAX 256

enum om_snapshot_list { OM_LIST_ALLOW, OM_LIST_BLOCK, OM_LIST_URL, OM_LIST_COUNT };

static const char *const om_snapshot_list_names[OM_LIST_COUNT] = {
	"allow", "block", "url-block"
};

struct om_snapshot {
	struct om_hash *lists[OM_LIST_COUNT];	/* "scope\tentry" -> (void *)1 */
	struct om_hash *subs;			/* "mailbox\tfeature" -> state */
	struct om_hash *settings;		/* "domain\tname" -> value */
	long long revision;
	struct om_settings_source source;
};

/* A copy of the value held under (a, b): 1, or 0 if none. */
static int om_snapshot_copy_value(const struct om_hash *map, const char *a,
				  const char *b, char **value_r)
{
	const char *v = om_hash_get2(map, a, b);

	if (v == NULL)
		return 0;
	*value_r = om_strdup(v);
	return 1;
}

static int om_snapshot_sub_get(void *context, const char *mailbox,
			       const char *feature, char **state_r,
			       char **error_r)
{
	const struct om_snapshot *snap = context;

	(void)error_r;
	return om_snapshot_copy_value(snap->subs, mailbox, feature, state_r);
}

static int om_snapshot_setting_get(void *context, const char *domain,
				   const char *name, char **value_r,
				   char **error_r)
{
	const struct om_snapshot *snap = context;

	(void)error_r;
	return om_snapshot_copy_value(snap->settings, domain, name, value_r);
}

struct om_snapshot *om_snapshot_new(void)
{
	struct om_snapshot *snap = om_calloc(1, sizeof(*snap));
	int i;

	for (i = 0; i < OM_LIST_COUNT; i++)
		snap->lists[i] = om_hash_new(16);
	snap->subs = om_hash_new(16);
	snap->settings = om_hash_new(16);
	snap->revision = -1;
	snap->source.context = snap;
	snap->source.sub_get = om_snapshot_sub_get;
	snap->source.domain_get = om_snapshot_setting_get;
	return snap;
}

static void om_snapshot_clear(struct om_hash **lists, struct om_hash **subs,
			      struct om_hash **settings)
{
	int i;

	for (i = 0; i < OM_LIST_COUNT; i++)
		om_hash_free(&lists[i], NULL);
	om_hash_free(subs, free);
	om_hash_free(settings, free);
}

void om_snapshot_free(struct om_snapshot **snapp)
{
	struct om_snapshot *snap = *snapp;

	if (snap == NULL)
		return;
	om_snapshot_clear(snap->lists, &snap->subs, &snap->settings);
	free(snap);
	*snapp = NULL;
}

static void om_snapshot_add_list(void *context, const char *scope,
				 const char *kind, const char *entry)
{
	struct om_hash **lists = context;
	char *key;
	int i;

	for (i = 0; i < OM_LIST_COUNT; i++) {
		if (strcmp(kind, om_snapshot_list_names[i]) == 0) {
			key = om_asprintf("%s\t%s", scope, entry);
			om_hash_set(lists[i], key, (void *)1);
			free(key);
			return;
		}
	}
}

static void om_snapshot_add_pair(void *context, const char *a, const char *b,
				 const char *value)
{
	struct om_hash *map = context;
	char *key = om_asprintf("%s\t%s", a, b);

	free(om_hash_set(map, key, om_strdup(value)));
	free(key);
}

int om_snapshot_load(struct om_snapshot *snap, struct om_store *store,
		     char **error_r)
{
	struct om_hash *lists[OM_LIST_COUNT], *subs, *settings;
	long long revision;
	int i;

	for (i = 0; i < OM_LIST_COUNT; i++)
		lists[i] = om_hash_new(1024);
	subs = om_hash_new(1024);
	settings = om_hash_new(64);
	/* the revision first: a change during the load reloads next time */
	if (om_store_revision(store, "config", &revision, error_r) < 0 ||
	    om_store_list_each(store, NULL, om_snapshot_add_list, lists, error_r) < 0 ||
	    om_store_subscription_list(store, NULL, om_snapshot_add_pair, subs, error_r) < 0 ||
	    om_store_domain_list(store, NULL, om_snapshot_add_pair, settings, error_r) < 0) {
		om_snapshot_clear(lists, &subs, &settings);
		return -1;
	}
	om_snapshot_clear(snap->lists, &snap->subs, &snap->settings);
	for (i = 0; i < OM_LIST_COUNT; i++)
		snap->lists[i] = lists[i];
	snap->subs = subs;
	snap->settings = settings;
	snap->revision = revision;
	return 0;
}

int om_snapshot_refresh(struct om_snapshot *snap, struct om_store *store,
			char **error_r)
{
	long long revision;

	if (om_store_revision(store, "config", &revision, error_r) < 0)
		return -1;
	if (revision == snap->revision)
		return 0;
	return om_snapshot_load(snap, store, error_r) < 0 ? -1 : 1;
}

const struct om_settings_source *om_snapshot_source(const struct om_snapshot *snap)
{
	return &snap->source;
}

size_t om_snapshot_list_entries(const struct om_snapshot *snap)
{
	size_t n = 0;
	int i;

	for (i = 0; i < OM_LIST_COUNT; i++)
		n += om_hash_count(snap->lists[i]);
	return n;
}

/* Lower-cased copy of in into buf; 0, or -1 if it does not fit. */
static int om_snapshot_lower(const char *in, char *buf, size_t size)
{
	size_t i, n = strlen(in);

	if (n >= size)
		return -1;
	for (i = 0; i <= n; i++)
		buf[i] = (char)tolower((unsigned char)in[i]);
	return 0;
}

const char *om_snapshot_listed(const struct om_snapshot *snap,
			       const char *kind, const char *recipient,
			       const char *address, int with_mailbox)
{
	static const char *const names[] = { "mailbox", "domain", "global" };
	char a[OM_SNAPSHOT_ADDR_MAX], r[OM_SNAPSHOT_ADDR_MAX];
	const struct om_hash *list;
	const char *scopes[3], *adomain;
	size_t i;

	list = snap->lists[strcmp(kind, "allow") == 0 ? OM_LIST_ALLOW : OM_LIST_BLOCK];
	if (*address == '\0' || om_hash_count(list) == 0 ||
	    om_snapshot_lower(address, a, sizeof(a)) < 0 ||
	    om_snapshot_lower(recipient, r, sizeof(r)) < 0)
		return NULL;
	adomain = strrchr(a, '@');
	scopes[0] = r;
	scopes[1] = om_settings_domain_of(r);
	scopes[2] = OM_GLOBAL_DOMAIN;
	for (i = with_mailbox ? 0 : 1; i < 3; i++) {
		if (*scopes[i] == '\0')
			continue;
		if (om_hash_get2(list, scopes[i], a) != NULL ||
		    (adomain != NULL && om_hash_get2(list, scopes[i], adomain) != NULL))
			return names[i];
	}
	return NULL;
}

int om_snapshot_url_blocked(const struct om_snapshot *snap,
			    const char *recipient, const char *host)
{
	const struct om_hash *list = snap->lists[OM_LIST_URL];
	char h[OM_SNAPSHOT_ADDR_MAX], r[OM_SNAPSHOT_ADDR_MAX];
	const char *p, *domain;

	if (om_hash_count(list) == 0 || om_snapshot_lower(host, h, sizeof(h)) < 0 ||
	    om_snapshot_lower(recipient, r, sizeof(r)) < 0)
		return 0;
	domain = strchr(r, '@') != NULL ? om_settings_domain_of(r) : r;
	/* the host, then each domain it is under: a.b.example.com, b.example.com... */
	p = h;
	while (*p != '\0') {
		if ((*domain != '\0' && om_hash_get2(list, domain, p) != NULL) ||
		    om_hash_get2(list, OM_GLOBAL_DOMAIN, p) != NULL)
			return 1;
		p = strchr(p, '.');
		if (p == NULL)
			break;
		p++;
	}
	return 0;
}
