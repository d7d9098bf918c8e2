/* snapshot.c - the store's configuration in memory, by scope (see
 * snapshot.h).
 *
 * One hash map from scope (a mailbox, a domain or "*") to everything the
 * store holds under that scope: its allow, block and URL block lists, its
 * subscriptions and its settings, packed in one allocation as sorted arrays.
 * Keeping a scope's rows together is what lets a refresh replace one
 * mailbox's rows (after a Sieve omamori_list :add, an IMAP move out of
 * Quarantine, an omamorictl list add) without reading, or touching, the
 * hundred thousand others: the store's change log says which scopes
 * changed since the revision this snapshot was read at.
 */
#include "store/snapshot.h"
#include "lib/hash.h"
#include "store/store.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define OM_SNAPSHOT_ADDR_MAX 256
/* More changed scopes than this since the last refresh (an import, a
   migration) and reading everything is cheaper than scope by scope. */
#define OM_SNAPSHOT_SCOPES_MAX 1000

/* The parts of a scope; the list kinds first. */
enum om_snapshot_part {
	OM_PART_ALLOW,
	OM_PART_BLOCK,
	OM_PART_URL,
	OM_PART_SUBS,		/* feature -> state */
	OM_PART_SETTINGS,	/* name -> value */
	OM_PART_COUNT
};
#define OM_PART_LISTS (OM_PART_URL + 1)

static const char *const om_snapshot_part_names[OM_PART_COUNT] = {
	"allow", "block", "url-block", "subscription", "setting"
};

struct om_snapshot_row {
	const char *name;	/* list entry, feature or setting name */
	const char *value;	/* NULL for list entries */
};

/* Everything under one scope, in one allocation: the rows of part p are
   rows[first[p] .. first[p + 1]), sorted by name; the strings follow. */
struct om_snapshot_scope {
	unsigned int first[OM_PART_COUNT + 1];
	struct om_snapshot_row rows[];
};

struct om_snapshot {
	struct om_hash *scopes;		/* scope -> struct om_snapshot_scope */
	size_t counts[OM_PART_COUNT];	/* rows of each part, every scope */
	long long revision;		/* the "config" revision read at */
	int last_scopes;		/* scopes the last refresh read, -1: all */
	struct om_settings_source source;
};

/* ---- building scopes from the store's rows ---- */

struct om_snapshot_raw {
	char *scope, *name, *value;
	enum om_snapshot_part part;
};

struct om_snapshot_build {
	struct om_snapshot_raw *rows;
	size_t count, cap;
};

static void om_snapshot_build_add(struct om_snapshot_build *b, const char *scope,
				  enum om_snapshot_part part, const char *name,
				  const char *value)
{
	struct om_snapshot_raw *raw;

	if (b->count == b->cap) {
		b->cap = b->cap == 0 ? 64 : b->cap * 2;
		b->rows = om_realloc(b->rows, b->cap * sizeof(*b->rows));
	}
	raw = &b->rows[b->count++];
	raw->scope = om_strdup(scope);
	raw->part = part;
	raw->name = om_strdup(name);
	raw->value = value != NULL ? om_strdup(value) : NULL;
}

static void om_snapshot_build_free(struct om_snapshot_build *b)
{
	size_t i;

	for (i = 0; i < b->count; i++) {
		free(b->rows[i].scope);
		free(b->rows[i].name);
		free(b->rows[i].value);
	}
	free(b->rows);
	memset(b, 0, sizeof(*b));
}

static void om_snapshot_add_list(void *context, const char *scope,
				 const char *kind, const char *entry)
{
	int i;

	for (i = 0; i < OM_PART_LISTS; i++) {
		if (strcmp(kind, om_snapshot_part_names[i]) == 0) {
			om_snapshot_build_add(context, scope, (enum om_snapshot_part)i,
					      entry, NULL);
			return;
		}
	}
}

static void om_snapshot_add_sub(void *context, const char *mailbox,
				const char *feature, const char *state)
{
	om_snapshot_build_add(context, mailbox, OM_PART_SUBS, feature, state);
}

static void om_snapshot_add_setting(void *context, const char *domain,
				    const char *name, const char *value)
{
	om_snapshot_build_add(context, domain, OM_PART_SETTINGS, name, value);
}

/* Reads scope's rows (NULL: every scope's) into b.  0 or -1. */
static int om_snapshot_read(struct om_store *store, const char *scope,
			    struct om_snapshot_build *b, char **error_r)
{
	if (om_store_list_each(store, scope, om_snapshot_add_list, b, error_r) < 0 ||
	    om_store_subscription_list(store, scope, om_snapshot_add_sub, b, error_r) < 0 ||
	    om_store_domain_list(store, scope, om_snapshot_add_setting, b, error_r) < 0)
		return -1;
	return 0;
}

/* Orders rows by scope, part and name (the lookup order: strcmp, whatever
   order the backend listed them in). */
static int om_snapshot_raw_cmp(const void *p1, const void *p2)
{
	const struct om_snapshot_raw *a = p1, *b = p2;
	int ret = strcmp(a->scope, b->scope);

	if (ret != 0)
		return ret;
	if (a->part != b->part)
		return a->part < b->part ? -1 : 1;
	return strcmp(a->name, b->name);
}

static size_t om_snapshot_text_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* Copies s to *p, advancing it; NULL stays NULL. */
static const char *om_snapshot_put_text(char **p, const char *s)
{
	size_t n = om_snapshot_text_size(s);
	char *copy = *p;

	if (s == NULL)
		return NULL;
	memcpy(copy, s, n);
	*p += n;
	return copy;
}

/* One scope's rows raw[0 .. n), sorted, packed in one allocation. */
static struct om_snapshot_scope *om_snapshot_pack(const struct om_snapshot_raw *raw,
						  size_t n)
{
	struct om_snapshot_scope *node;
	size_t i, size = sizeof(*node) + n * sizeof(node->rows[0]);
	unsigned int part;
	char *text;

	for (i = 0; i < n; i++)
		size += om_snapshot_text_size(raw[i].name) + om_snapshot_text_size(raw[i].value);
	node = om_malloc(size);
	text = (char *)&node->rows[n];
	for (part = 0, i = 0; part <= OM_PART_COUNT; part++) {
		while (i < n && (unsigned int)raw[i].part < part)
			i++;
		node->first[part] = (unsigned int)i;
	}
	for (i = 0; i < n; i++) {
		node->rows[i].name = om_snapshot_put_text(&text, raw[i].name);
		node->rows[i].value = om_snapshot_put_text(&text, raw[i].value);
	}
	return node;
}

static unsigned int om_snapshot_part_size(const struct om_snapshot_scope *node,
					  enum om_snapshot_part part)
{
	return node == NULL ? 0 : node->first[part + 1] - node->first[part];
}

/* The row named name in part of scope, or NULL. */
static const struct om_snapshot_row *
om_snapshot_find(const struct om_snapshot *snap, const char *scope,
		 enum om_snapshot_part part, const char *name)
{
	const struct om_snapshot_scope *node = om_hash_get(snap->scopes, scope);
	unsigned int lo, hi, mid;
	int cmp;

	if (node == NULL)
		return NULL;
	lo = node->first[part];
	hi = node->first[part + 1];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(name, node->rows[mid].name);
		if (cmp == 0)
			return &node->rows[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- the settings source ---- */

/* A copy of the value of name in part of scope: 1, or 0 if none. */
static int om_snapshot_copy_value(const struct om_snapshot *snap, const char *scope,
				  enum om_snapshot_part part, const char *name,
				  char **value_r)
{
	const struct om_snapshot_row *row = om_snapshot_find(snap, scope, part, name);

	if (row == NULL)
		return 0;
	*value_r = om_strdup(row->value);
	return 1;
}

static int om_snapshot_sub_get(void *context, const char *mailbox,
			       const char *feature, char **state_r,
			       char **error_r)
{
	(void)error_r;
	return om_snapshot_copy_value(context, mailbox, OM_PART_SUBS, feature, state_r);
}

static int om_snapshot_setting_get(void *context, const char *domain,
				   const char *name, char **value_r,
				   char **error_r)
{
	(void)error_r;
	return om_snapshot_copy_value(context, domain, OM_PART_SETTINGS, name, value_r);
}

/* ---- the snapshot ---- */

struct om_snapshot *om_snapshot_new(void)
{
	struct om_snapshot *snap = om_calloc(1, sizeof(*snap));

	snap->scopes = om_hash_new(16);
	snap->revision = -1;
	snap->last_scopes = -1;
	snap->source.context = snap;
	snap->source.sub_get = om_snapshot_sub_get;
	snap->source.domain_get = om_snapshot_setting_get;
	return snap;
}

void om_snapshot_free(struct om_snapshot **snapp)
{
	struct om_snapshot *snap = *snapp;

	if (snap == NULL)
		return;
	om_hash_free(&snap->scopes, free);
	free(snap);
	*snapp = NULL;
}

/* Adds (sign 1) or takes away (-1) node's rows from the counts. */
static void om_snapshot_count(struct om_snapshot *snap,
			      const struct om_snapshot_scope *node, int sign)
{
	int part;

	for (part = 0; part < OM_PART_COUNT; part++) {
		if (sign > 0)
			snap->counts[part] += om_snapshot_part_size(node, (enum om_snapshot_part)part);
		else
			snap->counts[part] -= om_snapshot_part_size(node, (enum om_snapshot_part)part);
	}
}

int om_snapshot_load(struct om_snapshot *snap, struct om_store *store,
		     char **error_r)
{
	struct om_snapshot_build b = { NULL, 0, 0 };
	struct om_snapshot_scope *node;
	struct om_hash *scopes;
	long long revision;
	size_t i, j;

	/* the revision first: a change during the load is read again next
	   time, since its change is recorded after this revision */
	if (om_store_revision(store, "config", &revision, error_r) < 0 ||
	    om_snapshot_read(store, NULL, &b, error_r) < 0) {
		om_snapshot_build_free(&b);
		return -1;
	}
	if (b.count > 0)
		qsort(b.rows, b.count, sizeof(b.rows[0]), om_snapshot_raw_cmp);
	om_hash_free(&snap->scopes, free);
	memset(snap->counts, 0, sizeof(snap->counts));
	scopes = om_hash_new(1024);
	for (i = 0; i < b.count; i = j) {
		for (j = i + 1; j < b.count && strcmp(b.rows[j].scope, b.rows[i].scope) == 0; j++)
			;
		node = om_snapshot_pack(&b.rows[i], j - i);
		om_snapshot_count(snap, node, 1);
		free(om_hash_set(scopes, b.rows[i].scope, node));
	}
	om_snapshot_build_free(&b);
	snap->scopes = scopes;
	snap->revision = revision;
	snap->last_scopes = -1;
	return 0;
}

/* 1 if part holds the same rows in both (either may be NULL). */
static int om_snapshot_same_part(const struct om_snapshot_scope *a,
				 const struct om_snapshot_scope *b,
				 enum om_snapshot_part part)
{
	unsigned int n = om_snapshot_part_size(a, part), i;
	const struct om_snapshot_row *ra, *rb;

	if (n != om_snapshot_part_size(b, part))
		return 0;
	for (i = 0; i < n; i++) {
		ra = &a->rows[a->first[part] + i];
		rb = &b->rows[b->first[part] + i];
		if (strcmp(ra->name, rb->name) != 0 ||
		    (ra->value == NULL) != (rb->value == NULL) ||
		    (ra->value != NULL && strcmp(ra->value, rb->value) != 0))
			return 0;
	}
	return 1;
}

struct om_snapshot_changed {
	char **scopes;
	size_t count;
	struct om_snapshot_scope **nodes;	/* what each is now, NULL: nothing */
};

static void om_snapshot_collect_scope(void *context, const char *scope)
{
	struct om_snapshot_changed *c = context;

	c->scopes = om_realloc(c->scopes, (c->count + 1) * sizeof(char *));
	c->scopes[c->count++] = om_strdup(scope);
}

static void om_snapshot_changed_free(struct om_snapshot_changed *c)
{
	size_t i;

	for (i = 0; i < c->count; i++) {
		free(c->scopes[i]);
		if (c->nodes != NULL)
			free(c->nodes[i]);
	}
	free(c->scopes);
	free(c->nodes);
}

/* Reads the rows of every changed scope; nothing is applied until all
   are read.  0 or -1. */
static int om_snapshot_read_scopes(struct om_store *store,
				   struct om_snapshot_changed *c, char **error_r)
{
	struct om_snapshot_build b = { NULL, 0, 0 };
	size_t i;

	c->nodes = om_calloc(c->count + 1, sizeof(*c->nodes));
	for (i = 0; i < c->count; i++) {
		if (om_snapshot_read(store, c->scopes[i], &b, error_r) < 0) {
			om_snapshot_build_free(&b);
			return -1;
		}
		if (b.count > 0) {
			qsort(b.rows, b.count, sizeof(b.rows[0]), om_snapshot_raw_cmp);
			c->nodes[i] = om_snapshot_pack(b.rows, b.count);
		}
		om_snapshot_build_free(&b);
	}
	return 0;
}

/* Puts the scopes read in place of the old ones, telling cb. */
static void om_snapshot_apply(struct om_snapshot *snap,
			      struct om_snapshot_changed *c,
			      om_snapshot_changed_cb *cb, void *context)
{
	struct om_snapshot_scope *old;
	int settings;
	size_t i;

	for (i = 0; i < c->count; i++) {
		old = c->nodes[i] != NULL ?
			om_hash_set(snap->scopes, c->scopes[i], c->nodes[i]) :
			om_hash_delete(snap->scopes, c->scopes[i]);
		om_snapshot_count(snap, old, -1);
		om_snapshot_count(snap, c->nodes[i], 1);
		settings = !om_snapshot_same_part(old, c->nodes[i], OM_PART_SUBS) ||
			!om_snapshot_same_part(old, c->nodes[i], OM_PART_SETTINGS);
		c->nodes[i] = NULL;	/* the map has it now */
		free(old);
		if (cb != NULL)
			cb(context, c->scopes[i], settings);
	}
}

/* What changed in the store since a revision, read but not applied: the
   changed scopes' new contents, or a whole new snapshot. */
struct om_snapshot_changes {
	long long since;		/* the revision it was read from */
	long long revision;		/* the revision it brings */
	int scopes;			/* scopes read, -1: whole */
	struct om_snapshot_changed c;
	struct om_snapshot *whole;	/* everything, or NULL */
};

void om_snapshot_changes_free(struct om_snapshot_changes **changesp)
{
	struct om_snapshot_changes *ch = *changesp;

	if (ch == NULL)
		return;
	om_snapshot_changed_free(&ch->c);
	om_snapshot_free(&ch->whole);
	free(ch);
	*changesp = NULL;
}

/* The changed scopes since ch->since: 1 read, 0 too many (read
   everything instead), -1 error. */
static int om_snapshot_read_scope_changes(struct om_store *store,
					  struct om_snapshot_changes *ch,
					  char **error_r)
{
	int n;

	n = om_store_changes(store, ch->since, OM_SNAPSHOT_SCOPES_MAX,
			     om_snapshot_collect_scope, &ch->c, error_r);
	if (n < 0)
		return -1;
	if (n <= OM_SNAPSHOT_SCOPES_MAX) {
		if (om_snapshot_read_scopes(store, &ch->c, error_r) < 0)
			return -1;
		ch->scopes = n;
		return 1;
	}
	om_snapshot_changed_free(&ch->c);
	memset(&ch->c, 0, sizeof(ch->c));
	return 0;
}

int om_snapshot_read_changes(struct om_store *store, long long since,
			     struct om_snapshot_changes **changes_r,
			     char **error_r)
{
	struct om_snapshot_changes *ch;
	long long revision;
	int ret = 0;

	*changes_r = NULL;
	/* the revision before the changes: whatever is committed meanwhile
	   has a later one, and is read (again) next time */
	if (om_store_revision(store, "config", &revision, error_r) < 0)
		return -1;
	if (revision == since)
		return 0;
	ch = om_calloc(1, sizeof(*ch));
	ch->since = since;
	ch->revision = revision;
	/* never loaded, or a store that went back (another file): all */
	if (since >= 0 && revision > since)
		ret = om_snapshot_read_scope_changes(store, ch, error_r);
	if (ret == 0) {
		ch->whole = om_snapshot_new();
		ret = om_snapshot_load(ch->whole, store, error_r) < 0 ? -1 : 1;
		ch->revision = ch->whole->revision;
		ch->scopes = -1;
	}
	if (ret < 0) {
		om_snapshot_changes_free(&ch);
		return -1;
	}
	*changes_r = ch;
	return 1;
}

int om_snapshot_apply_changes(struct om_snapshot *snap,
			      struct om_snapshot_changes *ch,
			      om_snapshot_changed_cb *cb, void *context)
{
	struct om_hash *scopes;

	if (ch->whole != NULL) {
		scopes = snap->scopes;
		snap->scopes = ch->whole->scopes;
		ch->whole->scopes = scopes;
		memcpy(snap->counts, ch->whole->counts, sizeof(snap->counts));
		snap->revision = ch->revision;
		snap->last_scopes = -1;
		if (cb != NULL)
			cb(context, NULL, 1);
		return 1;
	}
	/* read from another revision than snap's: applying would skip (or
	   repeat) the changes in between */
	if (ch->since != snap->revision)
		return 0;
	om_snapshot_apply(snap, &ch->c, cb, context);
	snap->revision = ch->revision;
	snap->last_scopes = ch->scopes;
	return 1;
}

long long om_snapshot_revision(const struct om_snapshot *snap)
{
	return snap->revision;
}

int om_snapshot_update(struct om_snapshot *snap, struct om_store *store,
		       om_snapshot_changed_cb *cb, void *context,
		       char **error_r)
{
	struct om_snapshot_changes *ch;
	int ret;

	ret = om_snapshot_read_changes(store, snap->revision, &ch, error_r);
	if (ret <= 0)
		return ret;
	(void)om_snapshot_apply_changes(snap, ch, cb, context);
	om_snapshot_changes_free(&ch);
	return 1;
}

int om_snapshot_refresh(struct om_snapshot *snap, struct om_store *store,
			char **error_r)
{
	return om_snapshot_update(snap, store, NULL, NULL, error_r);
}

int om_snapshot_last_scopes(const struct om_snapshot *snap)
{
	return snap->last_scopes;
}

const struct om_settings_source *om_snapshot_source(const struct om_snapshot *snap)
{
	return &snap->source;
}

size_t om_snapshot_list_entries(const struct om_snapshot *snap)
{
	return snap->counts[OM_PART_ALLOW] + snap->counts[OM_PART_BLOCK] +
		snap->counts[OM_PART_URL];
}

struct om_snapshot_dump {
	char **lines;
	size_t count;
};

static void om_snapshot_dump_scope(void *context, const char *scope, void *value)
{
	struct om_snapshot_dump *d = context;
	const struct om_snapshot_scope *node = value;
	unsigned int part, i;

	for (part = 0; part < OM_PART_COUNT; part++) {
		for (i = node->first[part]; i < node->first[part + 1]; i++) {
			d->lines = om_realloc(d->lines, (d->count + 1) * sizeof(char *));
			d->lines[d->count++] = om_asprintf("%s\t%s\t%s%s%s\n", scope,
							   om_snapshot_part_names[part],
							   node->rows[i].name,
							   node->rows[i].value != NULL ? "\t" : "",
							   node->rows[i].value != NULL ?
							   node->rows[i].value : "");
		}
	}
}

static int om_snapshot_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *om_snapshot_dump(const struct om_snapshot *snap)
{
	struct om_snapshot_dump d = { NULL, 0 };
	struct om_buf out;
	size_t i;

	om_buf_init(&out);
	om_hash_each(snap->scopes, om_snapshot_dump_scope, &d);
	if (d.count > 0)
		qsort(d.lines, d.count, sizeof(char *), om_snapshot_line_cmp);
	for (i = 0; i < d.count; i++) {
		om_buf_append_str(&out, d.lines[i]);
		free(d.lines[i]);
	}
	free(d.lines);
	return om_buf_steal(&out, NULL);
}

const char *om_snapshot_listed(const struct om_snapshot *snap,
			       const char *kind, const char *recipient,
			       const char *address, int with_mailbox)
{
	static const char *const names[] = { "mailbox", "domain", "global" };
	enum om_snapshot_part part = strcmp(kind, "allow") == 0 ? OM_PART_ALLOW :
		OM_PART_BLOCK;
	char a[OM_SNAPSHOT_ADDR_MAX], r[OM_SNAPSHOT_ADDR_MAX];
	const char *scopes[3], *adomain;
	size_t i;

	if (*address == '\0' || snap->counts[part] == 0 ||
	    om_address_key(address, a, sizeof(a)) < 0 ||
	    om_address_key(recipient, r, sizeof(r)) < 0)
		return NULL;
	adomain = strrchr(a, '@');
	scopes[0] = r;
	scopes[1] = om_settings_domain_of(r);
	scopes[2] = OM_GLOBAL_DOMAIN;
	for (i = with_mailbox ? 0 : 1; i < 3; i++) {
		if (*scopes[i] == '\0')
			continue;
		if (om_snapshot_find(snap, scopes[i], part, a) != NULL ||
		    (adomain != NULL && om_snapshot_find(snap, scopes[i], part, adomain) != NULL))
			return names[i];
	}
	return NULL;
}

/* 1 if scope has rows of part. */
static int om_snapshot_scope_has(const struct om_snapshot *snap, const char *scope,
				 enum om_snapshot_part part)
{
	const struct om_snapshot_scope *node = om_hash_get(snap->scopes, scope);

	return node != NULL && node->first[part + 1] > node->first[part];
}

int om_snapshot_url_blocks_apply(const struct om_snapshot *snap,
				 const char *recipient)
{
	char r[OM_SNAPSHOT_ADDR_MAX];
	const char *domain;

	if (snap->counts[OM_PART_URL] == 0)
		return 0;
	if (om_snapshot_scope_has(snap, OM_GLOBAL_DOMAIN, OM_PART_URL))
		return 1;
	if (om_address_key(recipient, r, sizeof(r)) < 0)
		return 1;	/* cannot tell: look at the links */
	domain = strchr(r, '@') != NULL ? om_settings_domain_of(r) : r;
	return *domain != '\0' && om_snapshot_scope_has(snap, domain, OM_PART_URL);
}

int om_snapshot_url_blocked(const struct om_snapshot *snap,
			    const char *recipient, const char *host)
{
	char h[OM_SNAPSHOT_ADDR_MAX], r[OM_SNAPSHOT_ADDR_MAX];
	const char *p, *domain;

	if (snap->counts[OM_PART_URL] == 0 ||
	    om_address_key(host, h, sizeof(h)) < 0 ||
	    om_address_key(recipient, r, sizeof(r)) < 0)
		return 0;
	domain = strchr(r, '@') != NULL ? om_settings_domain_of(r) : r;
	/* the host, then each domain it is under: a.b.example.com, b.example.com... */
	p = h;
	while (*p != '\0') {
		if ((*domain != '\0' && om_snapshot_find(snap, domain, OM_PART_URL, p) != NULL) ||
		    om_snapshot_find(snap, OM_GLOBAL_DOMAIN, OM_PART_URL, p) != NULL)
			return 1;
		p = strchr(p, '.');
		if (p == NULL)
			break;
		p++;
	}
	return 0;
}
