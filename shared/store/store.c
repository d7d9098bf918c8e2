/* store.c - the omamori store's dispatcher (see store.h, store-private.h).
 *
 * Chooses the backend by the form of store_path ("sqlite:PATH", or a plain
 * path for SQLite; "postgresql:CONNINFO" for store-pgsql.c), checks
 * arguments, and keeps what every backend shares: the transactions around
 * several rows, the per-list entry limits of additions and imports, and
 * the count of this handle's own writes.  All
 * SQL is in the backends; nothing here knows a query language.
 */
#include "store/store-private.h"
#include "store/settings.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every backend there is; the first one takes plain paths. */
static const struct om_store_backend *const om_store_backends[] = {
	&om_store_backend_sqlite,
	&om_store_backend_pgsql,
};

#define OM_STORE_BACKEND_NAME_MAX 16

/* The backend location names and where, in it.  NULL with *error_r for a
   "name:" prefix of no known backend. */
static const struct om_store_backend *
om_store_backend_find(const char *location, const char **where_r,
		      char **error_r)
{
	size_t i, len = strspn(location, "abcdefghijklmnopqrstuvwxyz0123456789");

	*where_r = location;
	/* a path (absolute, relative, or with a ':' further on) is SQLite's */
	if (len == 0 || location[len] != ':')
		return om_store_backends[0];
	for (i = 0; i < OM_N_ELEMENTS(om_store_backends); i++) {
		if (strlen(om_store_backends[i]->name) == len &&
		    strncmp(location, om_store_backends[i]->name, len) == 0) {
			*where_r = location + len + 1;
			return om_store_backends[i];
		}
	}
	*error_r = om_asprintf("store %s: no store backend '%.*s' (this build "
			       "has: sqlite, postgresql)", location,
			       (int)(len < OM_STORE_BACKEND_NAME_MAX ? len :
				     OM_STORE_BACKEND_NAME_MAX), location);
	return NULL;
}

/* An argument a caller must give; -1 with *error_r if missing. */
static int om_store_need(const void *value, const char *what, char **error_r)
{
	if (value != NULL)
		return 0;
	*error_r = om_asprintf("store: no %s given", what);
	return -1;
}

int om_store_open(const char *location, int flags, long busy_timeout_ms,
		  struct om_store **store_r, char **error_r)
{
	const struct om_store_backend *backend;
	const char *where;

	*store_r = NULL;
	if (om_store_need(location, "store_path", error_r) < 0 ||
	    (backend = om_store_backend_find(location, &where, error_r)) == NULL)
		return -1;
	if (*where == '\0') {
		*error_r = om_asprintf("store %s: empty location", location);
		return -1;
	}
	if (backend->open(where, flags, busy_timeout_ms, store_r, error_r) < 0)
		return -1;
	(*store_r)->backend = backend;
	(*store_r)->own_writes = 0;
	return 0;
}

void om_store_close(struct om_store **storep)
{
	struct om_store *store = *storep;

	if (store == NULL)
		return;
	*storep = NULL;
	store->backend->close(store);
}

int om_store_schema_version(struct om_store *store)
{
	return store->backend->schema_version(store);
}

/* Counts a write of this handle's (see om_store_change_counter). */
static int om_store_wrote(struct om_store *store, int ret)
{
	if (ret >= 0)
		store->own_writes++;
	return ret;
}

/* Ends the transaction of a write that succeeded (ret >= 0: commits and
   returns ret) or failed (rolls back, -1). */
static int om_store_finish(struct om_store *store, int ret, char **error_r)
{
	if (ret < 0) {
		store->backend->rollback(store);
		return -1;
	}
	if (store->backend->commit(store, error_r) < 0)
		return -1;
	return om_store_wrote(store, ret);
}

/* Checks and writes row i of a batch (rows: the caller's array). */
typedef int om_store_put_row_fn(struct om_store *store, const void *rows,
				size_t i, char **error_r);
typedef int om_store_expire_fn(struct om_store *store, long long before,
			       char **error_r);

/* Writes count rows with put, then (expire not NULL) forgets the rows from
   before expire_before, in one write transaction; 0 or -1. */
static int om_store_save_batch(struct om_store *store, const void *rows,
			       size_t count, om_store_put_row_fn *put,
			       om_store_expire_fn *expire,
			       long long expire_before, char **error_r)
{
	size_t i;
	int ret = 0;

	if (store->backend->begin(store, 1, error_r) < 0)
		return -1;
	for (i = 0; i < count && ret == 0; i++) {
		if (put(store, rows, i, error_r) < 0)
			ret = -1;
	}
	if (ret == 0 && expire != NULL && expire(store, expire_before, error_r) < 0)
		ret = -1;
	return om_store_finish(store, ret, error_r);
}

/* ---- keys in one spelling ---- */

/* A key as every lookup reads it (om_address_key_fold: ASCII lower case,
   no trailing dot), whoever writes it: the web's /me page and the IMAP
   plugin write under Dovecot's user name as Dovecot gives it, the
   command line under what was typed.  A policy group's scope "<group
   NAME>@domain" keeps its name as written and folds its domain.
   Allocated; NULL for NULL (om_store_need refuses it then). */
static char *om_store_key(const char *key)
{
	char *folded, *domain;

	if (key == NULL)
		return NULL;
	folded = om_strdup(key);
	domain = (char *)om_settings_group_scope_domain(folded);
	om_address_key_fold(domain != NULL ? domain : folded);
	return folded;
}

/* ---- subscriptions and domain settings ---- */

static int om_store_row_set(struct om_store *store, enum om_store_table table,
			    const char *key_in, const char *name, const char *value,
			    char **error_r)
{
	char *key = om_store_key(key_in);
	int ret = -1;

	if (om_store_need(key, "key", error_r) == 0 &&
	    om_store_need(name, "name", error_r) == 0 &&
	    om_store_need(value, "value", error_r) == 0)
		ret = om_store_wrote(store, store->backend->row_set(store, table, key,
								     name, value,
								     error_r));
	free(key);
	return ret;
}

static int om_store_row_get(struct om_store *store, enum om_store_table table,
			    const char *key_in, const char *name, char **value_r,
			    char **error_r)
{
	char *key = om_store_key(key_in);
	int ret = -1;

	if (om_store_need(key, "key", error_r) == 0 &&
	    om_store_need(name, "name", error_r) == 0)
		ret = store->backend->row_get(store, table, key, name, value_r,
					      error_r);
	free(key);
	return ret;
}

static int om_store_row_delete(struct om_store *store, enum om_store_table table,
			       const char *key_in, const char *name, char **error_r)
{
	char *key = om_store_key(key_in);
	int ret = -1;

	if (om_store_need(key, "key", error_r) == 0 &&
	    om_store_need(name, "name", error_r) == 0)
		ret = om_store_wrote(store, store->backend->row_delete(store, table,
									key, name,
									error_r));
	free(key);
	return ret;
}

/* The rows of table under key (all keys: NULL). */
static int om_store_row_list(struct om_store *store, enum om_store_table table,
			     const char *key_in, om_store_row_cb *cb,
			     void *context, char **error_r)
{
	char *key = om_store_key(key_in);
	int ret;

	ret = store->backend->row_list(store, table, key, cb, context, error_r);
	free(key);
	return ret;
}

int om_store_subscription_set(struct om_store *store, const char *mailbox,
			      const char *feature, const char *state,
			      char **error_r)
{
	return om_store_row_set(store, OM_STORE_SUBSCRIPTIONS, mailbox, feature,
				state, error_r);
}

int om_store_subscription_get(struct om_store *store, const char *mailbox,
			      const char *feature, char **state_r,
			      char **error_r)
{
	return om_store_row_get(store, OM_STORE_SUBSCRIPTIONS, mailbox, feature,
				state_r, error_r);
}

int om_store_subscription_delete(struct om_store *store, const char *mailbox,
				 const char *feature, char **error_r)
{
	return om_store_row_delete(store, OM_STORE_SUBSCRIPTIONS, mailbox, feature,
				   error_r);
}

int om_store_subscription_list(struct om_store *store, const char *mailbox,
			       om_store_row_cb *cb, void *context,
			       char **error_r)
{
	return om_store_row_list(store, OM_STORE_SUBSCRIPTIONS, mailbox, cb,
				 context, error_r);
}

int om_store_domain_set(struct om_store *store, const char *domain,
			const char *name, const char *value, char **error_r)
{
	return om_store_row_set(store, OM_STORE_DOMAIN_SETTINGS, domain, name,
				value, error_r);
}

int om_store_domain_get(struct om_store *store, const char *domain,
			const char *name, char **value_r, char **error_r)
{
	return om_store_row_get(store, OM_STORE_DOMAIN_SETTINGS, domain, name,
				value_r, error_r);
}

int om_store_domain_delete(struct om_store *store, const char *domain,
			   const char *name, char **error_r)
{
	return om_store_row_delete(store, OM_STORE_DOMAIN_SETTINGS, domain, name,
				   error_r);
}

int om_store_domain_list(struct om_store *store, const char *domain,
			 om_store_row_cb *cb, void *context, char **error_r)
{
	return om_store_row_list(store, OM_STORE_DOMAIN_SETTINGS, domain, cb,
				 context, error_r);
}

/* ---- allow/block lists ---- */

static int om_store_list_args(const char *scope, const char *kind,
			      char **error_r)
{
	return om_store_need(scope, "list scope", error_r) < 0 ||
		om_store_need(kind, "list kind", error_r) < 0 ? -1 : 0;
}

/* The refusal of an addition that takes scope's kind list over
   max_entries: only growth is refused, an entry already there is not a
   new one.  0, or -1 with *error_r. */
static int om_store_list_limit(const char *scope, const char *kind,
			       long before, long after, long max_entries,
			       char **error_r)
{
	if (max_entries <= 0 || after <= max_entries || after <= before)
		return 0;
	*error_r = om_asprintf("the %s list of %s is full (%ld entries, "
			       "the limit is %ld)", kind, scope, before,
			       max_entries);
	return -1;
}

/* The writes of om_store_list_change inside its transaction; the number
   of entries added or removed, or -1. */
static int om_store_list_change_rows(struct om_store *store, const char *scope,
				     const char *kind, const char *const *entries,
				     size_t count, int add, long max_entries,
				     char **error_r)
{
	const struct om_store_backend *b = store->backend;
	long before, after;
	size_t i;

	if ((before = b->list_count(store, scope, kind, error_r)) < 0)
		return -1;
	for (i = 0; i < count; i++) {
		if (om_store_need(entries[i], "list entry", error_r) < 0 ||
		    (add ? b->list_put(store, scope, kind, entries[i], error_r) :
		     b->list_remove(store, scope, kind, entries[i], error_r)) < 0)
			return -1;
	}
	if ((after = b->list_count(store, scope, kind, error_r)) < 0)
		return -1;
	if (add && om_store_list_limit(scope, kind, before, after, max_entries,
				       error_r) < 0)
		return -1;
	return (int)(add ? after - before : before - after);
}

/* count keys folded (om_store_key; NULL stays NULL); om_free_strings
   frees them. */
static char **om_store_keys(const char *const *keys, size_t count)
{
	char **folded = om_calloc(count + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < count; i++)
		folded[i] = om_store_key(keys[i]);
	return folded;
}

int om_store_list_change(struct om_store *store, const char *scope_in,
			 const char *kind, const char *const *entries_in,
			 size_t count, int add, long max_entries, char **error_r)
{
	char *scope, **entries;
	int ret;

	if (om_store_list_args(scope_in, kind, error_r) < 0 ||
	    (count > 0 && om_store_need(entries_in, "list entries", error_r) < 0))
		return -1;
	if (store->backend->begin(store, 1, error_r) < 0)
		return -1;
	scope = om_store_key(scope_in);
	entries = om_store_keys(entries_in, count);
	ret = om_store_list_change_rows(store, scope, kind,
					(const char *const *)entries, count, add,
					max_entries, error_r);
	om_free_strings(entries, count);
	free(scope);
	return om_store_finish(store, ret, error_r);
}

int om_store_list_add(struct om_store *store, const char *scope,
		      const char *kind, const char *entry, long max_entries,
		      char **error_r)
{
	return om_store_list_change(store, scope, kind, &entry, 1, 1, max_entries,
				    error_r) < 0 ? -1 : 0;
}

/* The arguments of one entry of scope's kind list checked, and its scope
   and entry folded (om_store_key; the caller frees them).  0 or -1. */
static int om_store_list_entry_args(const char *scope_in, const char *kind,
				    const char *entry_in, char **scope_r,
				    char **entry_r, char **error_r)
{
	if (om_store_list_args(scope_in, kind, error_r) < 0 ||
	    om_store_need(entry_in, "list entry", error_r) < 0)
		return -1;
	*scope_r = om_store_key(scope_in);
	*entry_r = om_store_key(entry_in);
	return 0;
}

int om_store_list_has(struct om_store *store, const char *scope_in,
		      const char *kind, const char *entry_in, char **error_r)
{
	char *scope, *entry;
	int ret;

	if (om_store_list_entry_args(scope_in, kind, entry_in, &scope, &entry,
				     error_r) < 0)
		return -1;
	ret = store->backend->list_has(store, scope, kind, entry, error_r);
	free(entry);
	free(scope);
	return ret;
}

int om_store_list_delete(struct om_store *store, const char *scope_in,
			 const char *kind, const char *entry_in, char **error_r)
{
	char *scope, *entry;
	int ret;

	if (om_store_list_entry_args(scope_in, kind, entry_in, &scope, &entry,
				     error_r) < 0)
		return -1;
	ret = om_store_wrote(store, store->backend->list_remove(store, scope, kind,
								 entry, error_r));
	free(entry);
	free(scope);
	return ret;
}

int om_store_list_each(struct om_store *store, const char *scope_in,
		       om_store_row_cb *cb, void *context, char **error_r)
{
	char *scope = om_store_key(scope_in);
	int ret;

	ret = store->backend->list_each(store, scope, cb, context, error_r);
	free(scope);
	return ret;
}

/* Adds one imported row; refuses it if it takes a limited list over
   max_entries.  0 or -1. */
static int om_store_list_import_row(struct om_store *store,
				    const struct om_store_list_row *row,
				    long max_entries, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int limited = row->limited && max_entries > 0;
	long before = 0, after;

	if (om_store_list_args(row->scope, row->kind, error_r) < 0 ||
	    om_store_need(row->entry, "list entry", error_r) < 0)
		return -1;
	if (limited && (before = b->list_count(store, row->scope, row->kind,
					       error_r)) < 0)
		return -1;
	if (b->list_put(store, row->scope, row->kind, row->entry, error_r) < 0)
		return -1;
	if (!limited)
		return 0;
	if ((after = b->list_count(store, row->scope, row->kind, error_r)) < 0)
		return -1;
	return om_store_list_limit(row->scope, row->kind, before, after,
				   max_entries, error_r);
}

/* An import through the backend's batches: the rows before the first
   malformed one go in; then the first row over its limit, or else the
   malformed one, is the one at fault, as row by row.  0 or -1. */
static int om_store_list_import_batched(struct om_store *store,
					const struct om_store_list_row *rows,
					size_t count, long max_entries,
					size_t *failed_row_r, char **error_r)
{
	size_t valid, over;
	long before;
	char *error = NULL;
	int ret;

	for (valid = 0; valid < count; valid++) {
		if (om_store_list_args(rows[valid].scope, rows[valid].kind, &error) < 0 ||
		    om_store_need(rows[valid].entry, "list entry", &error) < 0)
			break;
	}
	ret = store->backend->list_import(store, rows, valid, max_entries, &over,
					  &before, error_r);
	if (ret == 1) {
		*failed_row_r = over;
		free(error);
		return om_store_list_limit(rows[over].scope, rows[over].kind, before,
					   before + 1, max_entries, error_r);
	}
	if (ret < 0 || valid == count) {
		free(error);
		return ret;
	}
	*failed_row_r = valid;
	*error_r = error;
	return -1;
}

/* An import's rows with their scopes and entries folded (om_store_key);
   *keys_r holds the copies, two a row. */
static struct om_store_list_row *
om_store_list_rows_folded(const struct om_store_list_row *rows, size_t count,
			  char ***keys_r)
{
	struct om_store_list_row *folded = om_calloc(count + 1, sizeof(*folded));
	char **keys = om_calloc(2 * count + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < count; i++) {
		folded[i] = rows[i];
		folded[i].scope = keys[2 * i] = om_store_key(rows[i].scope);
		folded[i].entry = keys[2 * i + 1] = om_store_key(rows[i].entry);
	}
	*keys_r = keys;
	return folded;
}

int om_store_list_import(struct om_store *store,
			 const struct om_store_list_row *rows_in, size_t count,
			 long max_entries, size_t *failed_row_r, char **error_r)
{
	struct om_store_list_row *rows;
	char **keys;
	size_t i;
	int ret = 0;

	*failed_row_r = count;
	if (store->backend->begin(store, 1, error_r) < 0)
		return -1;
	rows = om_store_list_rows_folded(rows_in, count, &keys);
	if (store->backend->list_import != NULL)
		ret = om_store_list_import_batched(store, rows, count, max_entries,
						   failed_row_r, error_r);
	for (i = 0; store->backend->list_import == NULL && i < count && ret == 0; i++) {
		ret = om_store_list_import_row(store, &rows[i], max_entries, error_r);
		if (ret < 0)
			*failed_row_r = i;
	}
	om_free_strings(keys, 2 * count);
	free(rows);
	return om_store_finish(store, ret, error_r) < 0 ? -1 : 0;
}

/* ---- rate counters ---- */

/* Keeps a counter as stored now, its user the increment's (the same). */
static void om_store_rate_now(void *context, const struct om_store_rate *rate)
{
	struct om_store_rate *now = context;

	now->window_start = rate->window_start;
	now->messages = rate->messages;
	now->recipients = rate->recipients;
}

int om_store_rates_merge(struct om_store *store,
			 const struct om_store_rate *increments, size_t count,
			 long long expire_before, om_store_rate_cb *cb,
			 void *context, char **error_r)
{
	struct om_store_rate *now = om_calloc(count + 1, sizeof(*now));
	size_t i;
	int ret = 0;

	if (store->backend->begin(store, 1, error_r) < 0) {
		free(now);
		return -1;
	}
	for (i = 0; i < count && ret == 0; i++) {
		now[i].user = increments[i].user;
		if (om_store_need(increments[i].user, "rate counter user", error_r) < 0)
			ret = -1;
		else if (store->backend->rate_add(store, &increments[i], om_store_rate_now,
						  &now[i], error_r) != 1) {
			if (*error_r == NULL)
				*error_r = om_strdup("rate counter: no row after the merge");
			ret = -1;
		}
	}
	if (ret == 0 && store->backend->rates_expire(store, expire_before, error_r) < 0)
		ret = -1;
	ret = om_store_finish(store, ret, error_r);
	/* only what was committed reaches the caller */
	for (i = 0; ret == 0 && i < count; i++)
		cb(context, &now[i]);
	free(now);
	return ret;
}

int om_store_rates_each(struct om_store *store, om_store_rate_cb *cb,
			void *context, char **error_r)
{
	return store->backend->rates_each(store, cb, context, error_r);
}

/* ---- revisions, changes, secrets ---- */

int om_store_revision(struct om_store *store, const char *name,
		      long long *revision_r, char **error_r)
{
	if (om_store_need(name, "revision name", error_r) < 0)
		return -1;
	return store->backend->revision(store, name, revision_r, error_r);
}

int om_store_changes(struct om_store *store, long long since, size_t limit,
		     om_store_scope_cb *cb, void *context, char **error_r)
{
	/* one more than asked for says "more than limit" */
	return store->backend->changes(store, since, limit + 1, cb, context,
				       error_r);
}

long long om_store_change_counter(struct om_store *store)
{
	long long version = store->backend->data_version(store);

	return version < 0 ? -1 : version + store->own_writes;
}

int om_store_change_fd(struct om_store *store)
{
	return store->backend->change_fd != NULL ? store->backend->change_fd(store) : -1;
}

int om_store_answer_timeout(struct om_store *store, int seconds)
{
	return store->backend->answer_timeout != NULL ?
		store->backend->answer_timeout(store, seconds) : 0;
}

int om_store_answer_timeout_at_most(struct om_store *store, int seconds)
{
	int before = om_store_answer_timeout(store, seconds);

	if (before > 0 && before < seconds)
		(void)om_store_answer_timeout(store, before);
	return before;
}

int om_store_secret(struct om_store *store, const char *name,
		    unsigned char *value, size_t len, char **error_r)
{
	if (om_store_need(name, "secret name", error_r) < 0)
		return -1;
	return store->backend->secret(store, name, value, len, error_r);
}

/* ---- spam classifier tokens ---- */

/* Totals, revision and (cb not NULL) tokens. */
static int om_store_spam_read(struct om_store *store, om_store_token_cb *cb,
			      void *context, struct om_store_spam_state *state_r,
			      char **error_r)
{
	const struct om_store_backend *b = store->backend;

	if (b->spam_totals(store, state_r, error_r) < 0 ||
	    b->revision(store, "spam", &state_r->revision, error_r) < 0)
		return -1;
	return cb == NULL ? 0 : b->spam_tokens(store, cb, context, error_r);
}

int om_store_read_begin(struct om_store *store, char **error_r)
{
	return store->backend->begin(store, 0, error_r);
}

void om_store_read_end(struct om_store *store)
{
	char *error = NULL;

	if (store->backend->commit(store, &error) < 0) {
		free(error);
		store->backend->rollback(store);
	}
}

int om_store_spam_load(struct om_store *store, om_store_token_cb *cb,
		       void *context, struct om_store_spam_state *state_r,
		       char **error_r)
{
	int ret;

	/* one read transaction: totals, revision and tokens agree */
	if (store->backend->begin(store, 0, error_r) < 0)
		return -1;
	ret = om_store_spam_read(store, cb, context, state_r, error_r);
	if (ret < 0) {
		store->backend->rollback(store);
		return -1;
	}
	return store->backend->commit(store, error_r);
}

int om_store_spam_save(struct om_store *store,
		       const struct om_store_spam_token *rows, size_t count,
		       long dspam, long dham, long long *revision_before_r,
		       long long *revision_after_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	if (count > 0 && om_store_need(rows, "spam tokens", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->revision(store, "spam", revision_before_r, error_r) < 0 ||
		b->spam_add(store, rows, count, dspam, dham, error_r) < 0 ||
		b->revision(store, "spam", revision_after_r, error_r) < 0 ? -1 : 0;
	return om_store_finish(store, ret, error_r);
}

int om_store_spam_prune(struct om_store *store, long max_count, long *removed_r,
			long *left_r, char **error_r)
{
	int ret;

	if (store->backend->begin(store, 1, error_r) < 0)
		return -1;
	ret = store->backend->spam_prune(store, max_count, removed_r, left_r,
					 error_r);
	return om_store_finish(store, ret, error_r);
}

/* ---- quarantined mail, digests, correspondents, nonces ---- */

static int om_store_quarantined_check(const struct om_store_quarantined *q,
				      char **error_r)
{
	if (om_store_need(q->id, "quarantine id", error_r) < 0 ||
	    om_store_need(q->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(q->sender, "sender", error_r) < 0 ||
	    om_store_need(q->from, "From", error_r) < 0 ||
	    om_store_need(q->subject, "Subject", error_r) < 0 ||
	    om_store_need(q->from_address, "From address", error_r) < 0 ||
	    om_store_need(q->score, "score", error_r) < 0 ||
	    om_store_need(q->reasons, "reasons", error_r) < 0)
		return -1;
	return 0;
}

int om_store_quarantine_add(struct om_store *store,
			    const struct om_store_quarantined *q, char **error_r)
{
	if (om_store_quarantined_check(q, error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->quarantine_add(store, q, error_r));
}

int om_store_quarantine_get(struct om_store *store, const char *mailbox,
			    const char *id, om_store_quarantined_cb *cb,
			    void *context, char **error_r)
{
	int ret;

	if (om_store_need(mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(id, "quarantine id", error_r) < 0)
		return -1;
	ret = store->backend->quarantine_get(store, mailbox, id, cb, context, error_r);
	return ret < 0 ? -1 : ret > 0;
}

int om_store_quarantine_each(struct om_store *store, const char *mailbox,
			     om_store_quarantined_cb *cb, void *context,
			     char **error_r)
{
	if (om_store_need(mailbox, "mailbox", error_r) < 0)
		return -1;
	return store->backend->quarantine_each(store, mailbox, cb, context, error_r);
}

int om_store_quarantine_delete(struct om_store *store, const char *mailbox,
			       const char *id, char **error_r)
{
	int ret;

	if (om_store_need(mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(id, "quarantine id", error_r) < 0)
		return -1;
	ret = om_store_wrote(store, store->backend->quarantine_delete(store, mailbox,
								      id, error_r));
	return ret < 0 ? -1 : ret > 0;
}

int om_store_quarantine_expire(struct om_store *store, const char *mailbox,
			       long long before, char **error_r)
{
	if (om_store_need(mailbox, "mailbox", error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->quarantine_expire(store, mailbox,
								       before, error_r));
}

int om_store_digest_claim(struct om_store *store, const char *mailbox,
			  long long now, long long *digest_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	*digest_r = 0;
	if (om_store_need(mailbox, "mailbox", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->digest_claim(store, mailbox, now, digest_r, error_r);
	ret = om_store_finish(store, ret, error_r);
	if (ret < 0)
		*digest_r = 0;
	return ret;
}

int om_store_digest_items(struct om_store *store, long long digest,
			  om_store_quarantined_cb *cb, void *context,
			  char **error_r)
{
	return store->backend->digest_items(store, digest, cb, context, error_r);
}

int om_store_digest_sent(struct om_store *store, long long digest,
			 long long sent, char **error_r)
{
	return om_store_wrote(store, store->backend->digest_sent(store, digest, sent,
								 error_r));
}

int om_store_digest_pending(struct om_store *store, long long before,
			    om_store_digest_cb *cb, void *context,
			    char **error_r)
{
	return store->backend->digest_pending(store, before, cb, context, error_r);
}

int om_store_digest_sent_count(struct om_store *store, long long *count_r,
			       char **error_r)
{
	*count_r = 0;
	return store->backend->digest_sent_count(store, count_r, error_r);
}

int om_store_digest_last(struct om_store *store, const char *mailbox,
			 long long *created_r, char **error_r)
{
	*created_r = 0;
	if (om_store_need(mailbox, "mailbox", error_r) < 0)
		return -1;
	return store->backend->digest_last(store, mailbox, created_r, error_r);
}

int om_store_digest_due(struct om_store *store, om_store_unlisted_cb *cb,
			void *context, char **error_r)
{
	return store->backend->digest_due(store, cb, context, error_r);
}

static int om_store_correspondent_put(struct om_store *store, const void *rows,
				      size_t i, char **error_r)
{
	const struct om_store_correspondent *c =
		(const struct om_store_correspondent *)rows + i;

	if (om_store_need(c->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(c->address, "address", error_r) < 0)
		return -1;
	return store->backend->correspondent_put(store, c, error_r);
}

int om_store_correspondents_save(struct om_store *store,
				 const struct om_store_correspondent *rows,
				 size_t count, char **error_r)
{
	return om_store_save_batch(store, rows, count, om_store_correspondent_put,
				   NULL, 0, error_r);
}

int om_store_correspondent_known(struct om_store *store, const char *mailbox,
				 const char *address, char **error_r)
{
	if (om_store_need(mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(address, "address", error_r) < 0)
		return -1;
	return store->backend->correspondent_known(store, mailbox, address, error_r);
}

long om_store_correspondents_list(struct om_store *store, const char *mailbox,
				  long max, om_store_address_cb *cb, void *context,
				  char **error_r)
{
	if (om_store_need(mailbox, "correspondents' mailbox", error_r) < 0)
		return -1;
	return store->backend->correspondents_list(store, mailbox, max, cb, context,
						   error_r);
}

int om_store_nonce_use(struct om_store *store, const char *nonce,
		       long long expires, long long now, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	if (om_store_need(nonce, "nonce", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->nonce_use(store, nonce, expires, now, error_r);
	return om_store_finish(store, ret, error_r);
}

int om_store_outbound_claim(struct om_store *store,
			    const struct om_store_outbound *m,
			    enum om_outbound_state *state_r, char **reply_r,
			    char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	*state_r = OM_OUTBOUND_NONE;
	*reply_r = NULL;
	if (om_store_need(m->queue_id, "queue id", error_r) < 0 ||
	    om_store_need(m->hash, "hash", error_r) < 0 ||
	    om_store_need(m->sender, "sender", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->outbound_claim(store, m, state_r, reply_r, error_r);
	ret = om_store_finish(store, ret, error_r);
	if (ret < 0) {
		*state_r = OM_OUTBOUND_NONE;
		om_free(reply_r);
	}
	return ret;
}

int om_store_outbound_finish(struct om_store *store, const char *queue_id,
			     const char *hash, enum om_outbound_state state,
			     const char *reply, long long now, char **error_r)
{
	int ret;

	if (om_store_need(queue_id, "queue id", error_r) < 0 ||
	    om_store_need(hash, "hash", error_r) < 0)
		return -1;
	if (state != OM_OUTBOUND_SENT && state != OM_OUTBOUND_REFUSED) {
		*error_r = om_strdup("store: an outbound message ends sent or refused");
		return -1;
	}
	ret = store->backend->outbound_finish(store, queue_id, hash, state,
					      reply != NULL ? reply : "", now,
					      error_r);
	if (ret == 0)
		store->own_writes++;
	return ret;
}

int om_store_outbound_expire(struct om_store *store, long long before,
			     char **error_r)
{
	int ret = store->backend->outbound_expire(store, before, error_r);

	if (ret > 0)
		store->own_writes++;
	return ret;
}

/* ---- held outbound mail ---- */

int om_store_hold_add(struct om_store *store, const struct om_store_hold *h,
		      char **error_r)
{
	int ret;

	if (om_store_need(h->id, "hold id", error_r) < 0 ||
	    om_store_need(h->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(h->sender, "sender", error_r) < 0 ||
	    om_store_need(h->recipients, "recipients", error_r) < 0 ||
	    om_store_need(h->delivered, "delivered", error_r) < 0 ||
	    om_store_need(h->subject, "subject", error_r) < 0 ||
	    om_store_need(h->attachments, "attachments", error_r) < 0 ||
	    om_store_need(h->expiry, "expiry", error_r) < 0)
		return -1;
	if (h->node != NULL && strlen(h->node) > 255) {
		*error_r = om_strdup("store: a node name is at most 255 bytes");
		return -1;
	}
	if (h->kind != NULL && strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0 &&
	    strcmp(h->kind, OM_HOLD_KIND_SPAM) != 0 &&
	    strcmp(h->kind, OM_HOLD_KIND_BRAKE) != 0 &&
	    strcmp(h->kind, OM_HOLD_KIND_AUDIT) != 0) {
		*error_r = om_asprintf("store: no hold kind '%.40s'", h->kind);
		return -1;
	}
	ret = store->backend->hold_add(store, h, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : ret > 0);
}

int om_store_hold_list(struct om_store *store, enum om_hold_query query,
		       const char *text, long long number,
		       om_store_hold_cb *cb, void *context, char **error_r)
{
	if ((query == OM_HOLD_BY_ID || query == OM_HOLD_BY_MAILBOX ||
	     query == OM_HOLD_BRAKED || query == OM_HOLD_ASKED) &&
	    om_store_need(text, "hold key", error_r) < 0)
		return -1;
	return store->backend->hold_list(store, query, text, number, cb, context,
					 error_r);
}

static void om_store_hold_state_cb(void *context, const struct om_store_hold *h)
{
	*(enum om_hold_state *)context = h->state;
}

int om_store_hold_claim(struct om_store *store, const char *id,
			enum om_hold_state to, long long now,
			enum om_hold_state *state_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	enum om_hold_state from2;
	int ret;

	*state_r = OM_HOLD_NONE;
	switch (to) {
	case OM_HOLD_SENDING:
	case OM_HOLD_DISCARDED:
		from2 = OM_HOLD_ADMIN;
		break;
	case OM_HOLD_ADMIN:
		from2 = OM_HOLD_HELD;
		break;
	default:
		*error_r = om_strdup("store: a hold is claimed for sending, discarding "
				     "or the administrator");
		return -1;
	}
	if (om_store_need(id, "hold id", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->hold_move(store, id, OM_HOLD_HELD, from2, to, now, error_r);
	if (ret >= 0 &&
	    b->hold_list(store, OM_HOLD_BY_ID, id, 0, om_store_hold_state_cb,
			 state_r, error_r) < 0)
		ret = -1;
	ret = om_store_finish(store, ret < 0 ? -1 : ret > 0, error_r);
	if (ret < 0)
		*state_r = OM_HOLD_NONE;
	return ret;
}

struct om_store_hold_seen {
	enum om_hold_state state;
	int sender;	/* kind sender */
};

static void om_store_hold_seen_cb(void *context, const struct om_store_hold *h)
{
	struct om_store_hold_seen *seen = context;

	seen->state = h->state;
	seen->sender = h->kind != NULL && strcmp(h->kind, OM_HOLD_KIND_SENDER) == 0;
}

int om_store_hold_claim_sender(struct om_store *store, const char *id,
			       enum om_hold_state to, long long now,
			       enum om_hold_state *state_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_hold_seen seen = { OM_HOLD_NONE, 0 };
	int ret;

	*state_r = OM_HOLD_NONE;
	if (to != OM_HOLD_SENDING && to != OM_HOLD_DISCARDED) {
		*error_r = om_strdup("store: a sender sends or discards a hold");
		return -1;
	}
	if (om_store_need(id, "hold id", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	/* the kind never changes, the state is read again in the same
	   write transaction: nothing moves between the look and the move */
	ret = b->hold_list(store, OM_HOLD_BY_ID, id, 0, om_store_hold_seen_cb,
			   &seen, error_r);
	if (ret > 0 && !seen.sender) {
		seen.state = OM_HOLD_ADMIN;
		ret = 0;
	} else if (ret > 0) {
		ret = b->hold_move(store, id, OM_HOLD_HELD, OM_HOLD_HELD, to, now,
				   error_r);
	}
	ret = om_store_finish(store, ret < 0 ? -1 : ret > 0, error_r);
	*state_r = ret < 0 ? OM_HOLD_NONE : ret > 0 ? to : seen.state;
	return ret;
}

struct om_store_hold_where {
	enum om_hold_state state;
	int sender;		/* kind sender */
	char node[256];		/* its node ("" any) */
};

static void om_store_hold_where_cb(void *context, const struct om_store_hold *h)
{
	struct om_store_hold_where *w = context;

	w->state = h->state;
	w->sender = h->kind != NULL && strcmp(h->kind, OM_HOLD_KIND_SENDER) == 0;
	snprintf(w->node, sizeof(w->node), "%s", h->node != NULL ? h->node : "");
}

int om_store_hold_claim_on(struct om_store *store, const char *id,
			   enum om_hold_state to, int sender, const char *node,
			   const char *by, long long now,
			   enum om_hold_state *state_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_hold_where where = { OM_HOLD_NONE, 0, "" };
	enum om_hold_state from2 = sender ? OM_HOLD_HELD : OM_HOLD_ADMIN, asked;
	int ret, here;

	*state_r = OM_HOLD_NONE;
	if (to != OM_HOLD_SENDING && to != OM_HOLD_DISCARDED) {
		*error_r = om_strdup("store: a hold is claimed on a node for sending "
				     "or discarding");
		return -1;
	}
	if (om_store_need(id, "hold id", error_r) < 0 ||
	    om_store_need(node, "node", error_r) < 0 ||
	    om_store_need(by, "requester", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	/* read and moved in one write transaction: nothing moves between */
	ret = b->hold_list(store, OM_HOLD_BY_ID, id, 0, om_store_hold_where_cb,
			   &where, error_r);
	here = where.node[0] == '\0' || strcmp(where.node, node) == 0;
	asked = to == OM_HOLD_SENDING ? OM_HOLD_RELEASE_ASKED : OM_HOLD_DISCARD_ASKED;
	if (ret > 0 && sender && !where.sender) {
		where.state = OM_HOLD_ADMIN;
		ret = 0;
	} else if (ret > 0 && here) {
		ret = b->hold_move(store, id, OM_HOLD_HELD, from2, to, now, error_r);
	} else if (ret > 0) {
		ret = b->hold_ask(store, id, OM_HOLD_HELD, from2, asked, by, now, error_r);
	}
	ret = om_store_finish(store, ret < 0 ? -1 : ret > 0, error_r);
	*state_r = ret < 0 ? OM_HOLD_NONE : ret > 0 ? (here ? to : asked) : where.state;
	return ret > 0 && !here ? 2 : ret;
}

int om_store_hold_take_asked(struct om_store *store, const char *id,
			     long long now, enum om_hold_state *to_r,
			     char **error_r)
{
	const struct om_store_backend *b = store->backend;
	enum om_hold_state state = OM_HOLD_NONE;
	int ret;

	*to_r = OM_HOLD_NONE;
	if (om_store_need(id, "hold id", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->hold_list(store, OM_HOLD_BY_ID, id, 0, om_store_hold_state_cb,
			   &state, error_r);
	if (ret > 0 && state == OM_HOLD_RELEASE_ASKED)
		*to_r = OM_HOLD_SENDING;
	else if (ret > 0 && state == OM_HOLD_DISCARD_ASKED)
		*to_r = OM_HOLD_DISCARDED;
	else if (ret > 0)
		ret = 0;
	if (ret > 0)
		ret = b->hold_move(store, id, state, state, *to_r, now, error_r);
	ret = om_store_finish(store, ret < 0 ? -1 : ret > 0, error_r);
	if (ret <= 0)
		*to_r = ret < 0 ? OM_HOLD_NONE : state;
	return ret;
}

int om_store_hold_finish(struct om_store *store, const char *id,
			 enum om_hold_state state, const char *result,
			 long long now, char **error_r)
{
	int ret;

	if (om_store_need(id, "hold id", error_r) < 0)
		return -1;
	ret = store->backend->hold_set(store, id, state, result != NULL ? result : "",
				       now, error_r);
	if (ret == 0) {
		*error_r = om_strdup("store: the hold to mark is not recorded");
		return -1;
	}
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

int om_store_hold_notified(struct om_store *store, const char *id,
			   char **error_r)
{
	int ret;

	if (om_store_need(id, "hold id", error_r) < 0)
		return -1;
	ret = store->backend->hold_notified(store, id, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

int om_store_hold_expire(struct om_store *store, long long before,
			 char **error_r)
{
	int ret = store->backend->hold_expire(store, before, error_r);

	if (ret > 0)
		store->own_writes++;
	return ret;
}

const char *om_store_hold_state_name(enum om_hold_state state)
{
	switch (state) {
	case OM_HOLD_HELD: return "held";
	case OM_HOLD_SENDING: return "sending";
	case OM_HOLD_SENT: return "sent";
	case OM_HOLD_DISCARDED: return "discarded";
	case OM_HOLD_ADMIN: return "admin";
	case OM_HOLD_RELEASE_ASKED: return "release-asked";
	case OM_HOLD_DISCARD_ASKED: return "discard-asked";
	case OM_HOLD_NONE: break;
	}
	return "?";
}

/* ---- outbound-zip's passwords ---- */

int om_store_zip_add(struct om_store *store, const struct om_store_zip *z,
		     char **error_r)
{
	int ret;

	if (om_store_need(z->id, "zip id", error_r) < 0 ||
	    om_store_need(z->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(z->recipients, "recipients", error_r) < 0 ||
	    om_store_need(z->subject, "subject", error_r) < 0 ||
	    om_store_need(z->archive, "archive", error_r) < 0 ||
	    om_store_need(z->sealed, "sealed password", error_r) < 0)
		return -1;
	ret = store->backend->zip_add(store, z, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : ret > 0);
}

int om_store_zip_get(struct om_store *store, const char *id,
		     om_store_zip_cb *cb, void *context, char **error_r)
{
	if (om_store_need(id, "zip id", error_r) < 0)
		return -1;
	return store->backend->zip_list(store, id, 0, cb, context, error_r);
}

int om_store_zip_list(struct om_store *store, enum om_zip_state state,
		      om_store_zip_cb *cb, void *context, char **error_r)
{
	return store->backend->zip_list(store, NULL, (int)state, cb, context, error_r);
}

static void om_store_zip_state_cb(void *context, const struct om_store_zip *z)
{
	*(enum om_zip_state *)context = z->state;
}

int om_store_zip_claim(struct om_store *store, const char *id, long long now,
		       enum om_zip_state *state_r, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	*state_r = OM_ZIP_NONE;
	if (om_store_need(id, "zip id", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->zip_move(store, id, OM_ZIP_KEPT, OM_ZIP_SENDING, now, error_r);
	if (ret >= 0 &&
	    b->zip_list(store, id, 0, om_store_zip_state_cb, state_r, error_r) < 0)
		ret = -1;
	ret = om_store_finish(store, ret < 0 ? -1 : ret > 0, error_r);
	if (ret < 0)
		*state_r = OM_ZIP_NONE;
	return ret;
}

int om_store_zip_finish(struct om_store *store, const char *id,
			enum om_zip_state state, long long sent,
			const char *result, long long now, char **error_r)
{
	int ret;

	if (om_store_need(id, "zip id", error_r) < 0)
		return -1;
	if (state != OM_ZIP_SENT && state != OM_ZIP_KEPT) {
		*error_r = om_strdup("store: a zip password ends sent or kept");
		return -1;
	}
	ret = store->backend->zip_set(store, id, state, state == OM_ZIP_SENT ? sent : 0,
				      result != NULL ? result : "", now, error_r);
	if (ret == 0) {
		*error_r = om_strdup("store: the zip password to mark is not recorded");
		return -1;
	}
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

int om_store_zip_expire(struct om_store *store, long long now, char **error_r)
{
	int ret = store->backend->zip_expire(store, now, error_r);

	if (ret > 0)
		store->own_writes++;
	return ret;
}

const char *om_store_zip_state_name(enum om_zip_state state)
{
	switch (state) {
	case OM_ZIP_KEPT: return "kept";
	case OM_ZIP_SENDING: return "sending";
	case OM_ZIP_SENT: return "sent";
	case OM_ZIP_NONE: break;
	}
	return "?";
}

/* ---- the compromised-account brake ---- */

static int om_store_history_put(struct om_store *store, const void *rows,
				size_t i, char **error_r)
{
	const struct om_store_history *h = (const struct om_store_history *)rows + i;

	if (om_store_need(h->login, "login", error_r) < 0)
		return -1;
	return store->backend->history_put(store, h, error_r);
}

int om_store_history_save(struct om_store *store,
			  const struct om_store_history *rows, size_t count,
			  long long expire_before, char **error_r)
{
	return om_store_save_batch(store, rows, count, om_store_history_put,
				   store->backend->history_expire, expire_before,
				   error_r);
}

int om_store_history_peaks(struct om_store *store, long long since,
			   long long before, om_store_history_cb *cb,
			   void *context, char **error_r)
{
	return store->backend->history_peaks(store, since, before, cb, context,
					     error_r);
}

int om_store_history_rows(struct om_store *store, const char *login,
			  long long hour, om_store_history_cb *cb, void *context,
			  char **error_r)
{
	return store->backend->history_rows(store, login, hour, cb, context,
					    error_r);
}

int om_store_brake_trip(struct om_store *store, const struct om_store_brake *b,
			char **error_r)
{
	int ret;

	if (om_store_need(b->login, "login", error_r) < 0)
		return -1;
	ret = store->backend->brake_trip(store, b, (long long)time(NULL), error_r);
	return om_store_wrote(store, ret < 0 ? -1 : ret > 0);
}

/* A login as the brake's rows keep it: folded as policyd folds the
   logins it counts (util.h om_address_key); NULL stays NULL, and one too
   long to fold is looked up as given (it names no row). */
static const char *om_store_login_key(const char *login, char key[OM_ADDRESS_KEY_MAX])
{
	if (login == NULL || om_address_key(login, key, OM_ADDRESS_KEY_MAX) < 0)
		return login;
	return key;
}

int om_store_brake_list(struct om_store *store, const char *login,
			om_store_brake_cb *cb, void *context, char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX];

	return store->backend->brake_list(store, om_store_login_key(login, key), cb,
					  context, error_r);
}

int om_store_brake_lift(struct om_store *store, const char *login,
			long long now, char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX];
	int ret;

	if (om_store_need(login, "login", error_r) < 0)
		return -1;
	ret = store->backend->brake_lift(store, om_store_login_key(login, key), now, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : ret > 0);
}

int om_store_brake_alert(struct om_store *store, const char *login, int claim,
			 char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX];
	int ret;

	if (om_store_need(login, "login", error_r) < 0)
		return -1;
	ret = store->backend->brake_alert(store, om_store_login_key(login, key), claim,
					  error_r);
	return om_store_wrote(store, ret < 0 ? -1 : ret > 0);
}

/* ---- the URL reputation store ---- */

/* An entry kept past its callback: the one that decides so far. */
struct om_store_url_best {
	struct om_store_url u;
	char *key, *source;
	int found;
};

static void om_store_url_keep(void *context, const struct om_store_url *u)
{
	struct om_store_url_best *best = context;

	/* a later read wins only with a stronger verdict: the reads go
	   from the most precise (the URL) to the least (the domain) */
	if (best->found && u->verdict <= best->u.verdict)
		return;
	free(best->key);
	free(best->source);
	best->u = *u;
	best->key = om_strdup(u->key);
	best->source = om_strdup(u->source);
	best->u.key = best->key;
	best->u.source = best->source;
	best->found = 1;
}

int om_store_url_lookup(struct om_store *store, const struct om_store_url_query *q,
			long long now, om_store_url_cb *cb, void *context,
			char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_url_best best;
	int ret = 0;

	memset(&best, 0, sizeof(best));
	/* one read transaction: the three reads see one state of the store
	   (an import between them cannot make a URL half listed), and take
	   the snapshot once */
	if (b->begin(store, 0, error_r) < 0)
		return -1;
	if (q->url != NULL)
		ret = b->url_find(store, OM_URL_KIND_URL, &q->url, 1, now,
				  om_store_url_keep, &best, error_r);
	if (ret >= 0 && q->nhosts > 0)
		ret = b->url_find(store, OM_URL_KIND_HOST, q->hosts, q->nhosts, now,
				  om_store_url_keep, &best, error_r);
	if (ret >= 0 && q->domain != NULL)
		ret = b->url_find(store, OM_URL_KIND_DOMAIN, &q->domain, 1, now,
				  om_store_url_keep, &best, error_r);
	if (ret >= 0)
		ret = b->commit(store, error_r) < 0 ? -1 : ret;
	else
		b->rollback(store);
	if (ret >= 0 && best.found)
		cb(context, &best.u);
	free(best.key);
	free(best.source);
	return ret < 0 ? -1 : best.found;
}

/* An entry's fields a caller must give right.  0 or -1. */
static int om_store_url_check(const struct om_store_url *u, char **error_r)
{
	if (om_url_kind_name(u->kind) == NULL) {
		*error_r = om_strdup("store: an URL entry is a url, a host or a domain");
		return -1;
	}
	if (om_url_verdict_name(u->verdict) == NULL) {
		*error_r = om_strdup("store: an URL entry's verdict is block or warn");
		return -1;
	}
	if (om_store_need(u->key, "URL entry", error_r) < 0 ||
	    om_store_need(u->source, "URL entry source", error_r) < 0)
		return -1;
	if (*u->key == '\0' || *u->source == '\0') {
		*error_r = om_strdup("store: an empty URL entry or source");
		return -1;
	}
	return 0;
}

int om_store_url_add(struct om_store *store, const struct om_store_url *u,
		     char **error_r)
{
	if (om_store_url_check(u, error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->url_put(store, u, error_r));
}

int om_store_url_del(struct om_store *store, enum om_url_kind kind,
		     const char *key, const char *source, char **error_r)
{
	int ret;

	if (om_store_need(key, "URL entry", error_r) < 0)
		return -1;
	ret = store->backend->url_remove(store, kind, key, source, error_r);
	if (ret > 0)
		store->own_writes++;
	return ret;
}

long om_store_urls_import(struct om_store *store, const char *source,
			  enum om_url_verdict verdict, long long added,
			  long long expires, om_store_url_next_cb *next,
			  void *context, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_url u;
	long count = 0;
	int ret;

	if (om_store_need(source, "source", error_r) < 0 ||
	    b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->urls_drop_source(store, source, error_r) < 0 ? -1 : 0;
	while (ret == 0) {
		memset(&u, 0, sizeof(u));
		ret = next(context, &u, error_r);
		if (ret <= 0)
			break;
		u.source = source;
		u.verdict = verdict;
		u.added = added;
		u.expires = expires;
		ret = om_store_url_check(&u, error_r) < 0 ||
			b->url_put(store, &u, error_r) < 0 ? -1 : 0;
		count++;
	}
	if (ret == 0 && count == 0) {
		*error_r = om_asprintf("store: nothing to import for %s (its entries "
				       "are kept)", source);
		ret = -1;
	}
	if (om_store_finish(store, ret, error_r) < 0)
		return -1;
	return count;
}

long om_store_urls_count(struct om_store *store, const char *source,
			 char **error_r)
{
	return store->backend->urls_count(store, source, error_r);
}

long om_store_urls_each(struct om_store *store, const char *source,
			om_store_url_cb *cb, void *context, char **error_r)
{
	return store->backend->urls_each(store, source, cb, context, error_r);
}

int om_store_urls_sources(struct om_store *store, om_store_url_source_cb *cb,
			  void *context, char **error_r)
{
	return store->backend->urls_sources(store, cb, context, error_r);
}

static int om_store_click_valid(const char *mailbox, const char *host,
				enum om_url_verdict verdict, char **error_r)
{
	if (om_store_need(mailbox, "click mailbox", error_r) < 0 ||
	    om_store_need(host, "click host", error_r) < 0)
		return -1;
	if (verdict != OM_URL_VERDICT_NONE && om_url_verdict_name(verdict) == NULL) {
		*error_r = om_strdup("store: a click's verdict is none, warn or block");
		return -1;
	}
	return 0;
}

int om_store_url_click(struct om_store *store, const char *mailbox,
		       const char *host, enum om_url_verdict verdict,
		       long long at, char **error_r)
{
	if (om_store_click_valid(mailbox, host, verdict, error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->url_click(store, mailbox, host,
							       verdict, at, error_r));
}

int om_store_url_clicks_add(struct om_store *store, const struct om_store_click *clicks,
			    size_t count, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	size_t i;
	int ret = 0;

	for (i = 0; i < count; i++) {
		if (om_store_click_valid(clicks[i].mailbox, clicks[i].host,
					 clicks[i].verdict, error_r) < 0)
			return -1;
	}
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	for (i = 0; i < count && ret == 0; i++)
		ret = b->url_click(store, clicks[i].mailbox, clicks[i].host,
				   clicks[i].verdict, clicks[i].at, error_r);
	return om_store_finish(store, ret, error_r);
}

long om_store_url_clicks_expire(struct om_store *store, long long before,
				char **error_r)
{
	long n = store->backend->url_clicks_expire(store, before, error_r);

	return om_store_wrote(store, n < 0 ? -1 : 0) < 0 ? -1 : n;
}

long om_store_url_clicks_count(struct om_store *store, const char *mailbox,
			       char **error_r)
{
	if (om_store_need(mailbox, "click mailbox", error_r) < 0)
		return -1;
	return store->backend->url_clicks_count(store, mailbox, error_r);
}

/* ---- isolated attachments ---- */

/* 0 when f has every field a row needs; -1 with *error_r. */
static int om_store_isolated_check(const struct om_store_isolated *f, char **error_r)
{
	if (om_store_need(f->id, "isolated id", error_r) < 0 ||
	    om_store_need(f->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(f->name, "file name", error_r) < 0 ||
	    om_store_need(f->true_type, "true type", error_r) < 0 ||
	    om_store_need(f->findings, "findings", error_r) < 0 ||
	    om_store_need(f->scan, "scan result", error_r) < 0 ||
	    om_store_need(f->why, "why", error_r) < 0 ||
	    om_store_need(f->subject, "subject", error_r) < 0 ||
	    om_store_need(f->sealed, "sealed key", error_r) < 0)
		return -1;
	return 0;
}

int om_store_isolated_add(struct om_store *store, const struct om_store_isolated *f,
			  char **error_r)
{
	int ret;

	if (om_store_isolated_check(f, error_r) < 0)
		return -1;
	ret = store->backend->isolated_add(store, f, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

static int om_store_isolated_put(struct om_store *store, const void *rows, size_t i,
				 char **error_r)
{
	const struct om_store_isolated *f = (const struct om_store_isolated *)rows + i;

	if (om_store_isolated_check(f, error_r) < 0)
		return -1;
	return store->backend->isolated_add(store, f, error_r) < 0 ? -1 : 0;
}

int om_store_isolated_add_all(struct om_store *store, const struct om_store_isolated *rows,
			      size_t count, char **error_r)
{
	return om_store_save_batch(store, rows, count, om_store_isolated_put, NULL, 0,
				   error_r);
}

int om_store_isolated_get(struct om_store *store, const char *id,
			  om_store_isolated_cb *cb, void *context, char **error_r)
{
	if (om_store_need(id, "isolated id", error_r) < 0)
		return -1;
	return store->backend->isolated_list(store, id, 0, cb, context, error_r);
}

int om_store_isolated_due(struct om_store *store, long long now,
			  om_store_isolated_cb *cb, void *context, char **error_r)
{
	return store->backend->isolated_list(store, NULL, now, cb, context, error_r);
}

int om_store_isolated_delete(struct om_store *store, const char *id, char **error_r)
{
	int ret;

	if (om_store_need(id, "isolated id", error_r) < 0)
		return -1;
	ret = store->backend->isolated_delete(store, id, error_r);
	return om_store_wrote(store, ret) < 0 ? -1 : ret;
}

/* ---- audit rules ---- */

long long om_store_audit_add(struct om_store *store, const char *domain,
			     long long position, const char *rule, long long now,
			     char **error_r)
{
	const struct om_store_backend *b = store->backend;
	long long last;
	int ret = 0;

	if (om_store_need(domain, "audit domain", error_r) < 0 ||
	    om_store_need(rule, "audit rule", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	last = b->audit_last(store, domain, error_r);
	if (last < 0)
		ret = -1;
	else if (position <= 0 || position > last)
		position = last + 1;
	else
		ret = b->audit_shift(store, domain, position, 1, error_r);
	if (ret == 0)
		ret = b->audit_insert(store, domain, position, rule, now, error_r);
	return om_store_finish(store, ret, error_r) < 0 ? -1 : position;
}

int om_store_audit_del(struct om_store *store, const char *domain,
		       long long position, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	int ret;

	if (om_store_need(domain, "audit domain", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->audit_delete(store, domain, position, error_r);
	if (ret > 0 && b->audit_shift(store, domain, position, -1, error_r) < 0)
		ret = -1;
	return om_store_finish(store, ret, error_r);
}

long om_store_audit_list(struct om_store *store, const char *domain,
			 om_store_audit_cb *cb, void *context, char **error_r)
{
	return store->backend->audit_list(store, domain, cb, context, error_r);
}

/* ---- the sandbox's verdicts ---- */

int om_store_sandbox_get(struct om_store *store, const char *hash,
			 om_store_sandbox_cb *cb, void *context, char **error_r)
{
	if (om_store_need(hash, "file hash", error_r) < 0)
		return -1;
	return store->backend->sandbox_get(store, hash, cb, context, error_r);
}

int om_store_sandbox_put(struct om_store *store, const char *hash, const char *verdict,
			 long long first_seen, long long now, char **error_r)
{
	int ret;

	if (om_store_need(hash, "file hash", error_r) < 0 ||
	    om_store_need(verdict, "sandbox verdict", error_r) < 0)
		return -1;
	ret = store->backend->sandbox_put(store, hash, verdict, first_seen, now, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}
/* ---- the encrypted delivery portal ---- */

int om_store_portal_add(struct om_store *store, const struct om_store_portal *p,
			char **error_r)
{
	int ret;

	if (om_store_need(p->id, "portal id", error_r) < 0 ||
	    om_store_need(p->sender, "sender", error_r) < 0 ||
	    om_store_need(p->subject, "subject", error_r) < 0 ||
	    om_store_need(p->recipients, "recipients", error_r) < 0 ||
	    om_store_need(p->sealed, "sealed key", error_r) < 0)
		return -1;
	ret = store->backend->portal_add(store, p, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

int om_store_portal_get(struct om_store *store, const char *id, om_store_portal_cb *cb,
			void *context, char **error_r)
{
	if (om_store_need(id, "portal id", error_r) < 0)
		return -1;
	return store->backend->portal_list(store, OM_STORE_PORTAL_ONE, id, 0, cb, context,
					   error_r);
}

int om_store_portal_by_sender(struct om_store *store, const char *sender,
			      om_store_portal_cb *cb, void *context, char **error_r)
{
	if (om_store_need(sender, "sender", error_r) < 0)
		return -1;
	return store->backend->portal_list(store, OM_STORE_PORTAL_SENDER, sender, 0, cb,
					   context, error_r);
}

int om_store_portal_due(struct om_store *store, long long now, om_store_portal_cb *cb,
			void *context, char **error_r)
{
	return store->backend->portal_list(store, OM_STORE_PORTAL_DUE, NULL, now, cb,
					   context, error_r);
}

int om_store_portal_revoke(struct om_store *store, const char *id, char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0)
		return -1;
	ret = store->backend->portal_change(store, id, 0, 1, error_r);
	return om_store_wrote(store, ret) < 0 ? -1 : ret;
}

int om_store_portal_set_expires(struct om_store *store, const char *id,
				long long expires, char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0)
		return -1;
	ret = store->backend->portal_change(store, id, expires, 0, error_r);
	return om_store_wrote(store, ret) < 0 ? -1 : ret;
}

int om_store_portal_delete(struct om_store *store, const char *id, char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0)
		return -1;
	ret = store->backend->portal_delete(store, id, error_r);
	return om_store_wrote(store, ret) < 0 ? -1 : ret;
}

int om_store_portal_view_add(struct om_store *store, const char *id,
			     const char *recipient, const char *what, long long at,
			     char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0 ||
	    om_store_need(recipient, "recipient", error_r) < 0 ||
	    om_store_need(what, "what", error_r) < 0)
		return -1;
	ret = store->backend->portal_view_add(store, id, recipient, what, at, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0);
}

int om_store_portal_views(struct om_store *store, const char *id,
			  om_store_portal_view_cb *cb, void *context, char **error_r)
{
	if (om_store_need(id, "portal id", error_r) < 0)
		return -1;
	return store->backend->portal_views(store, id, cb, context, error_r);
}

int om_store_portal_code_set(struct om_store *store, const char *id,
			     const char *recipient, const char *code,
			     long long expires, int max_tries, char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0 ||
	    om_store_need(recipient, "recipient", error_r) < 0 ||
	    om_store_need(code, "code", error_r) < 0)
		return -1;
	ret = store->backend->portal_code_set(store, id, recipient, code, expires, max_tries,
					      error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0) < 0 ? -1 : ret > 0;
}

void om_store_code_decide(const struct om_store_code_row *row, const char *code,
			  long long now, int max_tries, struct om_store_code_step *step_r)
{
	memset(step_r, 0, sizeof(*step_r));
	step_r->tries = row->tries;
	if (!row->found) {
		step_r->result = OM_STORE_CODE_NONE;
	} else if (row->tries >= max_tries) {
		step_r->result = OM_STORE_CODE_LOCKED;
	} else if (*row->code == '\0') {
		/* spent, or none asked: nothing to guess, nothing counted */
		step_r->result = OM_STORE_CODE_EXPIRED;
	} else if (row->expires > now && strcmp(row->code, code) == 0) {
		/* right: spent now, so it opens once */
		step_r->result = OM_STORE_CODE_OK;
		step_r->write = step_r->wipe = 1;
	} else {
		step_r->tries++;
		step_r->write = 1;
		step_r->wipe = step_r->tries >= max_tries;
		step_r->result = step_r->wipe ? OM_STORE_CODE_LOCKED :
			row->expires <= now ? OM_STORE_CODE_EXPIRED : OM_STORE_CODE_WRONG;
	}
}

int om_store_portal_code_check(struct om_store *store, const char *id,
			       const char *recipient, const char *code, long long now,
			       int max_tries, int *tries_r, char **error_r)
{
	int ret;

	if (om_store_need(id, "portal id", error_r) < 0 ||
	    om_store_need(recipient, "recipient", error_r) < 0 ||
	    om_store_need(code, "code", error_r) < 0)
		return -1;
	ret = store->backend->portal_code_check(store, id, recipient, code, now, max_tries,
						tries_r, error_r);
	return om_store_wrote(store, ret < 0 ? -1 : 0) < 0 ? -1 : ret;
}

/* ---- policy groups ---- */

/* The names of a domain's groups, space-separated, for errors. */
struct om_store_group_names {
	char text[512];
	long count;
	int found, cut;
	const char *want;
};

static void om_store_group_name_add(void *context, const char *domain, const char *name)
{
	struct om_store_group_names *n = context;
	size_t len = strlen(n->text);

	(void)domain;
	if (n->want != NULL && strcmp(n->want, name) == 0)
		n->found = 1;
	if (!n->cut && len + strlen(name) + 2 < sizeof(n->text))
		(void)snprintf(n->text + len, sizeof(n->text) - len, "%s%s",
			       len > 0 ? " " : "", name);
	else
		n->cut = 1;
	n->count++;
}

/* A group's mailboxes, for the error of a refused delete. */
static void om_store_group_member_add(void *context, const char *mailbox,
				      const char *name)
{
	(void)name;
	om_store_group_name_add(context, NULL, mailbox);
}

static int om_store_group_args(const char *domain, const char *name, char **error_r)
{
	if (om_store_need(domain, "group domain", error_r) < 0 ||
	    om_store_need(name, "group name", error_r) < 0)
		return -1;
	if (!om_settings_group_name_valid(name)) {
		*error_r = om_asprintf("'%.40s' is not a group name: 1 to %d letters, "
				       "digits, '-' or '_' (and not \"none\")", name,
				       OM_GROUP_NAME_MAX);
		return -1;
	}
	return 0;
}

int om_store_group_add(struct om_store *store, const char *domain,
		       const char *name, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_group_names n;
	int ret = 0;

	if (om_store_group_args(domain, name, error_r) < 0)
		return -1;
	memset(&n, 0, sizeof(n));
	n.want = name;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	if (b->group_list(store, domain, om_store_group_name_add, &n, error_r) < 0) {
		ret = -1;
	} else if (n.found) {
		ret = 0;
	} else if (n.count >= OM_GROUPS_MAX) {
		*error_r = om_asprintf("%s has %d policy groups already (%s), the most "
				       "a domain may have: delete one first", domain,
				       OM_GROUPS_MAX, n.text);
		ret = -1;
	} else {
		ret = b->group_insert(store, domain, name, (long long)time(NULL),
				      error_r) < 0 ? -1 : 1;
	}
	return om_store_finish(store, ret, error_r);
}

int om_store_group_exists(struct om_store *store, const char *domain,
			  const char *name, char **error_r)
{
	struct om_store_group_names n;

	if (om_store_group_args(domain, name, error_r) < 0)
		return -1;
	memset(&n, 0, sizeof(n));
	n.want = name;
	if (store->backend->group_list(store, domain, om_store_group_name_add, &n,
				       error_r) < 0)
		return -1;
	return n.found;
}

/* A deleted group's settings, read in its transaction for the change log. */
struct om_store_group_settings {
	char **names, **values;
	size_t count, cap;
};

static void om_store_group_setting_add(void *context, const char *key,
				       const char *name, const char *value)
{
	struct om_store_group_settings *g = context;

	(void)key;
	if (g->count == g->cap) {
		g->cap = g->cap == 0 ? 8 : g->cap * 2;
		g->names = om_realloc(g->names, g->cap * sizeof(*g->names));
		g->values = om_realloc(g->values, g->cap * sizeof(*g->values));
	}
	g->names[g->count] = om_strdup(name);
	g->values[g->count++] = om_strdup(value != NULL ? value : "");
}

/* The change log of a deleted group, in its transaction: each setting it
   had (old value -> ""), then the group itself. */
static int om_store_group_delete_log(struct om_store *store, const char *domain,
				     const char *name, const char *scope,
				     const char *who, long long at, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_group_settings g = { NULL, NULL, 0, 0 };
	struct om_store_change c;
	char *what;
	size_t i;
	int ret;

	ret = b->row_list(store, OM_STORE_DOMAIN_SETTINGS, scope, om_store_group_setting_add,
			  &g, error_r) < 0 ? -1 : 0;
	for (i = 0; i < g.count; i++) {
		if (ret == 0) {
			what = om_asprintf("setting %s of group %s", g.names[i], name);
			c = (struct om_store_change){ 0, at, who, domain, what, g.values[i], "" };
			ret = b->change_add(store, &c, error_r) < 0 ? -1 : 0;
			free(what);
		}
		free(g.names[i]);
		free(g.values[i]);
	}
	free(g.names);
	free(g.values);
	if (ret == 0) {
		what = om_asprintf("group %s", name);
		c = (struct om_store_change){ 0, at, who, domain, what, name, "" };
		ret = b->change_add(store, &c, error_r) < 0 ? -1 : 0;
		free(what);
	}
	return ret;
}

int om_store_group_delete(struct om_store *store, const char *domain,
			  const char *name, const char *who, long long at,
			  char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_group_names members;
	char scope[OM_GROUP_SCOPE_MAX];
	long n;
	int ret;

	if (om_store_group_args(domain, name, error_r) < 0 ||
	    om_store_need(who, "who", error_r) < 0)
		return -1;
	if (om_settings_group_scope(domain, name, scope, sizeof(scope)) < 0) {
		*error_r = om_asprintf("domain name too long: %.60s", domain);
		return -1;
	}
	memset(&members, 0, sizeof(members));
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	n = b->group_members(store, domain, name, om_store_group_member_add, &members,
			     error_r);
	if (n < 0) {
		ret = -1;
	} else if (n > 0) {
		*error_r = om_asprintf("policy group %s of %s still has %ld mailbox%s "
				       "(%s%s): move them first (omamorictl mailbox "
				       "set MAILBOX group OTHER|none)", name, domain, n,
				       n == 1 ? "" : "es", members.text,
				       members.cut ? " ..." : "");
		ret = -1;
	} else {
		ret = b->group_remove(store, domain, name, error_r);
		if (ret > 0 && (om_store_group_delete_log(store, domain, name, scope, who, at,
							  error_r) < 0 ||
				b->scope_delete(store, scope, error_r) < 0))
			ret = -1;
	}
	return om_store_finish(store, ret, error_r);
}

long om_store_group_list(struct om_store *store, const char *domain,
			 om_store_group_cb *cb, void *context, char **error_r)
{
	return store->backend->group_list(store, domain, cb, context, error_r);
}

long om_store_group_members(struct om_store *store, const char *domain,
			    const char *name, om_store_group_cb *cb, void *context,
			    char **error_r)
{
	if (om_store_group_args(domain, name, error_r) < 0)
		return -1;
	return store->backend->group_members(store, domain, name, cb, context, error_r);
}

/* ---- the history of subscription states ---- */

long om_store_sub_history(struct om_store *store, long long since, long long until,
			  om_store_sub_change_cb *cb, void *context, char **error_r)
{
	return store->backend->sub_history(store, since, until, cb, context, error_r);
}

int om_store_sub_history_put(struct om_store *store, const struct om_store_sub_change *c,
			     char **error_r)
{
	if (om_store_need(c->mailbox, "mailbox", error_r) < 0 ||
	    om_store_need(c->feature, "feature", error_r) < 0 ||
	    om_store_need(c->state, "state", error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->sub_history_put(store, c, error_r));
}

/* ---- domain administrators and the change log ---- */

/* The role and rights address held in a domain, as text ("" none). */
struct om_store_admin_find {
	const char *domain;
	char *found;
};

static void om_store_admin_find_cb(void *context, const struct om_store_admin *a)
{
	struct om_store_admin_find *f = context;

	if (strcmp(a->domain, f->domain) != 0 || f->found != NULL)
		return;
	f->found = *a->rights != '\0' ? om_asprintf("%s %s", a->role, a->rights) :
		om_strdup(a->role);
}

/* The limit of role in domain, refused for an address that would be one
   more (an address already there may change its rights).  0 or -1. */
static int om_store_admin_limit(struct om_store *store, const struct om_store_admin *a,
				char **error_r)
{
	long max = strcmp(a->role, "admin") == 0 ? OM_ADMIN_MAX_MAIN :
		strcmp(a->role, "deputy") == 0 ? OM_ADMIN_MAX_DEPUTIES : 0;
	long n;

	if (max == 0)
		return 0;
	n = store->backend->admin_count(store, a->domain, a->role, a->address, error_r);
	if (n < 0)
		return -1;
	if (n < max)
		return 0;
	*error_r = max == 1 ?
		om_asprintf("%s already has its main admin (one per domain): remove "
			    "that one first or add %s as a deputy", a->domain, a->address) :
		om_asprintf("%s already has %ld deputies (at most %ld)", a->domain, n, max);
	return -1;
}

int om_store_admin_add(struct om_store *store, const struct om_store_admin *a,
		       const char *who, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_admin_find f = { NULL, NULL };
	struct om_store_change c;
	char *what, *now_value;
	int ret;

	if (om_store_need(a->domain, "admin domain", error_r) < 0 ||
	    om_store_need(a->address, "admin address", error_r) < 0 ||
	    om_store_need(a->role, "admin role", error_r) < 0 ||
	    om_store_need(a->rights, "admin rights", error_r) < 0 ||
	    om_store_need(who, "who", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	f.domain = a->domain;
	ret = b->admin_list(store, 1, a->address, om_store_admin_find_cb, &f,
			    error_r) < 0 ? -1 : 0;
	if (ret == 0)
		ret = om_store_admin_limit(store, a, error_r);
	if (ret == 0)
		ret = b->admin_put(store, a, error_r);
	what = om_asprintf("admin %s", a->address);
	now_value = *a->rights != '\0' ? om_asprintf("%s %s", a->role, a->rights) :
		om_strdup(a->role);
	c = (struct om_store_change){ 0, a->created, who, a->domain, what,
				      f.found != NULL ? f.found : "", now_value };
	if (ret == 0)
		ret = b->change_add(store, &c, error_r);
	free(what);
	free(now_value);
	free(f.found);
	return om_store_finish(store, ret, error_r);
}

int om_store_admin_del(struct om_store *store, const char *domain, const char *address,
		       const char *who, long long now, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_admin_find f = { domain, NULL };
	struct om_store_change c;
	char *what;
	int ret;

	if (om_store_need(domain, "admin domain", error_r) < 0 ||
	    om_store_need(address, "admin address", error_r) < 0 ||
	    om_store_need(who, "who", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->admin_list(store, 1, address, om_store_admin_find_cb, &f,
			    error_r) < 0 ? -1 : 0;
	if (ret == 0)
		ret = b->admin_delete(store, domain, address, error_r);
	what = om_asprintf("admin %s", address);
	c = (struct om_store_change){ 0, now, who, domain, what,
				      f.found != NULL ? f.found : "", "" };
	if (ret > 0 && b->change_add(store, &c, error_r) < 0)
		ret = -1;
	free(what);
	free(f.found);
	return om_store_finish(store, ret, error_r);
}

long om_store_admin_list(struct om_store *store, const char *domain,
			 om_store_admin_cb *cb, void *context, char **error_r)
{
	return store->backend->admin_list(store, 0, domain, cb, context, error_r);
}

long om_store_admin_of(struct om_store *store, const char *address,
		       om_store_admin_cb *cb, void *context, char **error_r)
{
	char key[OM_ADDRESS_KEY_MAX];

	if (om_store_need(address, "admin address", error_r) < 0)
		return -1;
	/* admins are kept folded (admins.c); a login may be spelled otherwise */
	if (om_address_key(address, key, sizeof(key)) < 0) {
		*error_r = om_strdup("admin address too long");
		return -1;
	}
	return store->backend->admin_list(store, 1, key, cb, context, error_r);
}

int om_store_domain_change(struct om_store *store, const char *key, const char *name,
			   const char *value, const char *who, const char *log_domain,
			   const char *what, long long now, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_store_change c;
	char *old = NULL;
	int ret;

	if (om_store_need(key, "key", error_r) < 0 ||
	    om_store_need(name, "name", error_r) < 0 ||
	    om_store_need(who, "who", error_r) < 0 ||
	    om_store_need(log_domain, "domain", error_r) < 0 ||
	    om_store_need(what, "what", error_r) < 0)
		return -1;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	ret = b->row_get(store, OM_STORE_DOMAIN_SETTINGS, key, name, &old, error_r);
	if (ret >= 0) {
		if ((ret == 0 && value == NULL) ||
		    (ret > 0 && value != NULL && strcmp(old, value) == 0)) {
			free(old);
			b->rollback(store);
			return 0;
		}
		ret = value != NULL ?
			b->row_set(store, OM_STORE_DOMAIN_SETTINGS, key, name, value, error_r) :
			b->row_delete(store, OM_STORE_DOMAIN_SETTINGS, key, name, error_r);
	}
	c = (struct om_store_change){ 0, now, who, log_domain, what,
				      old != NULL ? old : "", value != NULL ? value : "" };
	if (ret >= 0)
		ret = b->change_add(store, &c, error_r);
	free(old);
	return om_store_finish(store, ret < 0 ? -1 : 1, error_r);
}

int om_store_change_add(struct om_store *store, const struct om_store_change *c,
			char **error_r)
{
	if (om_store_need(c->who, "who", error_r) < 0 ||
	    om_store_need(c->domain, "domain", error_r) < 0 ||
	    om_store_need(c->what, "what", error_r) < 0 ||
	    om_store_need(c->old_value, "old value", error_r) < 0 ||
	    om_store_need(c->new_value, "new value", error_r) < 0)
		return -1;
	return om_store_wrote(store, store->backend->change_add(store, c, error_r));
}

long om_store_change_list(struct om_store *store, const char *domain, long limit,
			  om_store_change_cb *cb, void *context, char **error_r)
{
	if (om_store_need(domain, "domain", error_r) < 0)
		return -1;
	return store->backend->change_list(store, domain, limit, cb, context, error_r);
}
