/* store.c - SQLite backend of the omamori store; every SQL statement lives here.
 *
 * WAL mode so readers (Dovecot delivery processes, scand workers) never block
 * the writer (omamorictl), a busy timeout for the short write locks, a schema
 * versioned in PRAGMA user_version with forward-only migrations, and prepared
 * statements only, prepared once per handle and reused.
 */
#include "store/store.h"
#include "lib/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum om_stmt_id {
	OM_SQL_SUB_SET,
	OM_SQL_SUB_GET,
	OM_SQL_SUB_DELETE,
	OM_SQL_SUB_LIST_ONE,
	OM_SQL_SUB_LIST_ALL,
	OM_SQL_DOM_SET,
	OM_SQL_DOM_GET,
	OM_SQL_DOM_DELETE,
	OM_SQL_DOM_LIST_ONE,
	OM_SQL_DOM_LIST_ALL,
	OM_SQL_DATA_VERSION,
	OM_SQL_LIST_ADD,
	OM_SQL_LIST_DELETE,
	OM_SQL_LIST_COUNT,
	OM_SQL_LIST_HAS,
	OM_SQL_LIST_ALL,
	OM_SQL_LIST_ONE,
	OM_SQL_RATE_SAVE,
	OM_SQL_RATE_ALL,
	OM_SQL_RATE_EXPIRE,
	OM_SQL_SPAM_TOTALS,
	OM_SQL_SPAM_TOTALS_SET,
	OM_SQL_SPAM_TOKENS,
	OM_SQL_SPAM_TOKEN_SET,
	OM_SQL_SPAM_PRUNE,
	OM_SQL_SPAM_TOKEN_COUNT,
	OM_SQL_SPAM_REVISION_BUMP,
	OM_SQL_REVISION,
	OM_SQL_SECRET,
	OM_SQL_BEGIN_READ,
	OM_SQL_BEGIN,
	OM_SQL_COMMIT,
	OM_SQL_ROLLBACK,
	OM_SQL_COUNT
};

static const char *const om_sql_text[OM_SQL_COUNT] = {
	[OM_SQL_SUB_SET] =
		"INSERT INTO subscriptions(mailbox, feature, state, updated) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(mailbox, feature) "
		"DO UPDATE SET state = excluded.state, updated = excluded.updated",
	[OM_SQL_SUB_GET] =
		"SELECT state FROM subscriptions WHERE mailbox = ?1 AND feature = ?2",
	[OM_SQL_SUB_DELETE] =
		"DELETE FROM subscriptions WHERE mailbox = ?1 AND feature = ?2",
	[OM_SQL_SUB_LIST_ONE] =
		"SELECT mailbox, feature, state FROM subscriptions "
		"WHERE mailbox = ?1 ORDER BY mailbox, feature",
	[OM_SQL_SUB_LIST_ALL] =
		"SELECT mailbox, feature, state FROM subscriptions "
		"ORDER BY mailbox, feature",
	[OM_SQL_DOM_SET] =
		"INSERT INTO domain_settings(domain, name, value, updated) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(domain, name) "
		"DO UPDATE SET value = excluded.value, updated = excluded.updated",
	[OM_SQL_DOM_GET] =
		"SELECT value FROM domain_settings WHERE domain = ?1 AND name = ?2",
	[OM_SQL_DOM_DELETE] =
		"DELETE FROM domain_settings WHERE domain = ?1 AND name = ?2",
	[OM_SQL_DOM_LIST_ONE] =
		"SELECT domain, name, value FROM domain_settings "
		"WHERE domain = ?1 ORDER BY domain, name",
	[OM_SQL_DOM_LIST_ALL] =
		"SELECT domain, name, value FROM domain_settings "
		"ORDER BY domain, name",
	[OM_SQL_DATA_VERSION] = "PRAGMA data_version",
	[OM_SQL_LIST_ADD] =
		"INSERT INTO list_entries(scope, kind, entry, updated) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(scope, kind, entry) "
		"DO UPDATE SET updated = excluded.updated",
	[OM_SQL_LIST_DELETE] =
		"DELETE FROM list_entries WHERE scope = ?1 AND kind = ?2 AND entry = ?3",
	[OM_SQL_LIST_HAS] =
		"SELECT 1 FROM list_entries WHERE scope = ?1 AND kind = ?2 AND entry = ?3",
	[OM_SQL_LIST_COUNT] =
		"SELECT count(*) FROM list_entries WHERE scope = ?1 AND kind = ?2",
	[OM_SQL_LIST_ALL] =
		"SELECT scope, kind, entry FROM list_entries ORDER BY scope, kind, entry",
	[OM_SQL_LIST_ONE] =
		"SELECT scope, kind, entry FROM list_entries WHERE scope = ?1 "
		"ORDER BY scope, kind, entry",
	[OM_SQL_RATE_SAVE] =
		"INSERT INTO rate_counters(user, window_start, messages, recipients) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(user) DO UPDATE SET "
		"window_start = excluded.window_start, messages = excluded.messages, "
		"recipients = excluded.recipients",
	[OM_SQL_RATE_ALL] =
		"SELECT user, window_start, messages, recipients FROM rate_counters",
	[OM_SQL_RATE_EXPIRE] = "DELETE FROM rate_counters WHERE window_start < ?1",
	[OM_SQL_SPAM_TOTALS] = "SELECT nspam, nham FROM spam_totals WHERE id = 1",
	/* counts are saved as changes, so several learners (omamori-scand,
	   omamorictl learn) add up instead of overwriting each other */
	[OM_SQL_SPAM_TOTALS_SET] =
		"INSERT INTO spam_totals(id, nspam, nham) VALUES (1, max(0, ?1), max(0, ?2)) "
		"ON CONFLICT(id) DO UPDATE SET nspam = max(0, nspam + ?1), "
		"nham = max(0, nham + ?2)",
	[OM_SQL_SPAM_TOKENS] = "SELECT token, spam, ham FROM spam_tokens",
	[OM_SQL_SPAM_TOKEN_SET] =
		"INSERT INTO spam_tokens(token, spam, ham) VALUES (?1, max(0, ?2), max(0, ?3)) "
		"ON CONFLICT(token) DO UPDATE SET spam = max(0, spam + ?2), "
		"ham = max(0, ham + ?3)",
	[OM_SQL_SPAM_PRUNE] = "DELETE FROM spam_tokens WHERE spam + ham <= ?1",
	[OM_SQL_SPAM_TOKEN_COUNT] = "SELECT count(*) FROM spam_tokens",
	/* token deletions have no trigger: the pruner tells the readers */
	[OM_SQL_SPAM_REVISION_BUMP] = "UPDATE revisions SET value = value + 1 WHERE name = 'spam'",
	[OM_SQL_REVISION] = "SELECT value FROM revisions WHERE name = ?1",
	[OM_SQL_SECRET] = "SELECT value FROM secrets WHERE name = ?1",
	[OM_SQL_BEGIN_READ] = "BEGIN",
	[OM_SQL_BEGIN] = "BEGIN IMMEDIATE",
	[OM_SQL_COMMIT] = "COMMIT",
	[OM_SQL_ROLLBACK] = "ROLLBACK",
};

/* Forward-only migrations; migration i brings the schema to version i+1. */
static const char *const om_migrations[] = {
	"CREATE TABLE subscriptions ("
	"  mailbox TEXT NOT NULL,"
	"  feature TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('on', 'paused', 'off')),"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox, feature));"
	"CREATE TABLE domain_settings ("
	"  domain TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, name));",
	"CREATE TABLE list_entries ("
	"  scope TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),"
	"  entry TEXT NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (scope, kind, entry));"
	"CREATE TABLE rate_counters ("
	"  user TEXT PRIMARY KEY,"
	"  window_start INTEGER NOT NULL,"
	"  messages INTEGER NOT NULL,"
	"  recipients INTEGER NOT NULL);",
	"CREATE TABLE spam_tokens ("
	"  token TEXT PRIMARY KEY,"
	"  spam INTEGER NOT NULL,"
	"  ham INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE spam_totals ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  nspam INTEGER NOT NULL,"
	"  nham INTEGER NOT NULL);",
	/* v4: URL host block lists; revision counters bumped by triggers, so
	   a reader knows which of its caches a commit made stale */
	"CREATE TABLE list_entries_v4 ("
	"  scope TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block', 'url-block')),"
	"  entry TEXT NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (scope, kind, entry));"
	"INSERT INTO list_entries_v4 SELECT scope, kind, entry, updated FROM list_entries;"
	"DROP TABLE list_entries;"
	"ALTER TABLE list_entries_v4 RENAME TO list_entries;"
	"CREATE TABLE revisions ("
	"  name TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"INSERT INTO revisions(name, value) VALUES ('config', 0), ('spam', 0);"
	"CREATE TRIGGER subscriptions_insert AFTER INSERT ON subscriptions BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER subscriptions_update AFTER UPDATE ON subscriptions BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER subscriptions_delete AFTER DELETE ON subscriptions BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER domain_settings_insert AFTER INSERT ON domain_settings BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER domain_settings_update AFTER UPDATE ON domain_settings BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER domain_settings_delete AFTER DELETE ON domain_settings BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER list_entries_insert AFTER INSERT ON list_entries BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER list_entries_update AFTER UPDATE ON list_entries BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER list_entries_delete AFTER DELETE ON list_entries BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'; END;"
	"CREATE TRIGGER spam_totals_insert AFTER INSERT ON spam_totals BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'spam'; END;"
	"CREATE TRIGGER spam_totals_update AFTER UPDATE ON spam_totals BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'spam'; END;",
	/* v5: keys made once per site (SQLite's randomblob is ChaCha20 seeded
	   from the system's entropy): report-key seals omamori's own reports
	   (report.h) */
	"CREATE TABLE secrets ("
	"  name TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL);"
	"INSERT INTO secrets(name, value) VALUES ('report-key', randomblob(32));",
};

struct om_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[OM_SQL_COUNT];
	long long own_writes;
};

static char *om_store_error(struct om_store *store, const char *what)
{
	return om_asprintf("store: %s: %s", what, sqlite3_errmsg(store->db));
}

/* Runs a statement that returns no rows (PRAGMA, DDL, BEGIN/COMMIT). */
static int om_store_exec(struct om_store *store, const char *sql,
			 char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(store->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = om_asprintf("store: %s", msg != NULL ? msg :
				       sqlite3_errmsg(store->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int om_store_pragma_int(struct om_store *store, const char *sql,
			       int *value_r, char **error_r)
{
	sqlite3_stmt *stmt;
	int ret;

	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		*error_r = om_store_error(store, sql);
		return -1;
	}
	ret = sqlite3_step(stmt);
	if (ret == SQLITE_ROW)
		*value_r = sqlite3_column_int(stmt, 0);
	else
		*error_r = om_store_error(store, sql);
	sqlite3_finalize(stmt);
	return ret == SQLITE_ROW ? 0 : -1;
}

static int om_store_migrate(struct om_store *store, char **error_r)
{
	int version;
	size_t i;
	char *sql;

	if (om_store_exec(store, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (om_store_pragma_int(store, "PRAGMA user_version", &version,
				error_r) < 0)
		goto fail;
	if (version > (int)OM_N_ELEMENTS(om_migrations)) {
		*error_r = om_asprintf("store: schema version %d is newer than "
				       "this program knows (%zu)", version,
				       OM_N_ELEMENTS(om_migrations));
		goto fail;
	}
	for (i = (size_t)version; i < OM_N_ELEMENTS(om_migrations); i++) {
		if (om_store_exec(store, om_migrations[i], error_r) < 0)
			goto fail;
	}
	sql = om_asprintf("PRAGMA user_version = %zu",
			  OM_N_ELEMENTS(om_migrations));
	if (om_store_exec(store, sql, error_r) < 0) {
		free(sql);
		goto fail;
	}
	free(sql);
	return om_store_exec(store, "COMMIT", error_r);
fail:
	(void)sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int om_store_prepare_all(struct om_store *store, char **error_r)
{
	int i;

	for (i = 0; i < OM_SQL_COUNT; i++) {
		if (sqlite3_prepare_v3(store->db, om_sql_text[i], -1,
				       SQLITE_PREPARE_PERSISTENT,
				       &store->stmts[i], NULL) != SQLITE_OK) {
			*error_r = om_store_error(store, "prepare");
			return -1;
		}
	}
	return 0;
}

int om_store_open(const char *path, int flags, long busy_timeout_ms,
		  struct om_store **store_r, char **error_r)
{
	struct om_store *store = om_calloc(1, sizeof(*store));
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int version;

	if ((flags & OM_STORE_CREATE) != 0)
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &store->db, oflags, NULL) != SQLITE_OK) {
		*error_r = om_asprintf("store %s: %s%s", path,
				       store->db == NULL ? "out of memory" :
				       sqlite3_errmsg(store->db),
				       (flags & OM_STORE_CREATE) != 0 ? "" :
				       " (create it with: omamorictl init)");
		om_store_close(&store);
		return -1;
	}
	sqlite3_busy_timeout(store->db, (int)busy_timeout_ms);
	if (om_store_exec(store, "PRAGMA journal_mode = WAL", error_r) < 0 ||
	    om_store_exec(store, "PRAGMA foreign_keys = ON", error_r) < 0)
		goto fail;
	if ((flags & OM_STORE_CREATE) != 0) {
		if (om_store_migrate(store, error_r) < 0)
			goto fail;
	} else {
		if (om_store_pragma_int(store, "PRAGMA user_version", &version,
					error_r) < 0)
			goto fail;
		if (version != (int)OM_N_ELEMENTS(om_migrations)) {
			*error_r = om_asprintf("store %s: schema version %d, this "
					       "program needs %zu (run: omamorictl init)",
					       path, version,
					       OM_N_ELEMENTS(om_migrations));
			goto fail;
		}
	}
	if (om_store_prepare_all(store, error_r) < 0)
		goto fail;
	*store_r = store;
	return 0;
fail:
	om_store_close(&store);
	return -1;
}

void om_store_close(struct om_store **storep)
{
	struct om_store *store = *storep;
	int i;

	if (store == NULL)
		return;
	for (i = 0; i < OM_SQL_COUNT; i++)
		sqlite3_finalize(store->stmts[i]);
	sqlite3_close(store->db);
	free(store);
	*storep = NULL;
}

int om_store_schema_version(struct om_store *store)
{
	char *error = NULL;
	int version = -1;

	if (om_store_pragma_int(store, "PRAGMA user_version", &version,
				&error) < 0)
		free(error);
	return version;
}

/* Binds up to three text parameters and an optional time to statement id. */
static sqlite3_stmt *om_store_bind(struct om_store *store, enum om_stmt_id id,
				   const char *a, const char *b, const char *c,
				   int with_time)
{
	sqlite3_stmt *stmt = store->stmts[id];
	int ok = SQLITE_OK;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (a != NULL)
		ok |= sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		ok |= sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);
	if (c != NULL)
		ok |= sqlite3_bind_text(stmt, 3, c, -1, SQLITE_STATIC);
	if (with_time)
		ok |= sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL));
	return ok == SQLITE_OK ? stmt : NULL;
}

/* Runs a write statement (with_time: its ?4 is the current time); 0 or -1. */
static int om_store_write(struct om_store *store, enum om_stmt_id id,
			  const char *a, const char *b, const char *c,
			  int with_time, char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, id, a, b, c, with_time);
	int ret;

	if (stmt == NULL) {
		*error_r = om_store_error(store, "bind");
		return -1;
	}
	ret = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "write");
		return -1;
	}
	store->own_writes++;
	return 0;
}

/* Runs a one-value lookup; 1 found, 0 not found, -1 error. */
static int om_store_lookup(struct om_store *store, enum om_stmt_id id,
			   const char *a, const char *b, char **value_r,
			   char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, id, a, b, NULL, 0);
	int ret;

	if (stmt == NULL) {
		*error_r = om_store_error(store, "bind");
		return -1;
	}
	ret = sqlite3_step(stmt);
	if (ret == SQLITE_ROW) {
		*value_r = om_strdup((const char *)sqlite3_column_text(stmt, 0));
		sqlite3_reset(stmt);
		return 1;
	}
	sqlite3_reset(stmt);
	if (ret == SQLITE_DONE)
		return 0;
	*error_r = om_store_error(store, "read");
	return -1;
}

/* Iterates a three-column listing; returns the row count or -1. */
static int om_store_list(struct om_store *store, enum om_stmt_id id,
			 const char *key, om_store_row_cb *cb, void *context,
			 char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, id, key, NULL, NULL, 0);
	int ret, rows = 0;

	if (stmt == NULL) {
		*error_r = om_store_error(store, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, (const char *)sqlite3_column_text(stmt, 0),
		   (const char *)sqlite3_column_text(stmt, 1),
		   (const char *)sqlite3_column_text(stmt, 2));
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "list");
		return -1;
	}
	return rows;
}

/* Runs one of the transaction statements; 0 or -1. */
static int om_store_exec_stmt(struct om_store *store, enum om_stmt_id id,
			      char **error_r)
{
	sqlite3_stmt *stmt = store->stmts[id];
	int ret;

	sqlite3_reset(stmt);
	ret = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_store_error(store, om_sql_text[id]);
		return -1;
	}
	return 0;
}

/* Steps a statement that yields one number (or no row: 0); 0 or -1. */
static int om_store_read_number(sqlite3_stmt *stmt, long long *value_r)
{
	int ret = sqlite3_step(stmt);

	*value_r = ret == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	return ret == SQLITE_ROW || ret == SQLITE_DONE ? 0 : -1;
}

/* Rolls the open transaction back (whatever failed was reported already);
   returns -1 for the caller to pass on. */
static int om_store_rollback(struct om_store *store)
{
	char *ignored = NULL;

	(void)om_store_exec_stmt(store, OM_SQL_ROLLBACK, &ignored);
	free(ignored);
	return -1;
}

int om_store_subscription_set(struct om_store *store, const char *mailbox,
			      const char *feature, const char *state,
			      char **error_r)
{
	return om_store_write(store, OM_SQL_SUB_SET, mailbox, feature, state, 1,
			      error_r);
}

int om_store_subscription_get(struct om_store *store, const char *mailbox,
			      const char *feature, char **state_r,
			      char **error_r)
{
	return om_store_lookup(store, OM_SQL_SUB_GET, mailbox, feature,
			       state_r, error_r);
}

int om_store_subscription_delete(struct om_store *store, const char *mailbox,
				 const char *feature, char **error_r)
{
	return om_store_write(store, OM_SQL_SUB_DELETE, mailbox, feature, NULL, 0,
			      error_r);
}

int om_store_subscription_list(struct om_store *store, const char *mailbox,
			       om_store_row_cb *cb, void *context,
			       char **error_r)
{
	return om_store_list(store, mailbox != NULL ? OM_SQL_SUB_LIST_ONE :
			     OM_SQL_SUB_LIST_ALL, mailbox, cb, context, error_r);
}

int om_store_domain_set(struct om_store *store, const char *domain,
			const char *name, const char *value, char **error_r)
{
	return om_store_write(store, OM_SQL_DOM_SET, domain, name, value, 1,
			      error_r);
}

int om_store_domain_get(struct om_store *store, const char *domain,
			const char *name, char **value_r, char **error_r)
{
	return om_store_lookup(store, OM_SQL_DOM_GET, domain, name, value_r,
			       error_r);
}

int om_store_domain_delete(struct om_store *store, const char *domain,
			   const char *name, char **error_r)
{
	return om_store_write(store, OM_SQL_DOM_DELETE, domain, name, NULL, 0,
			      error_r);
}

int om_store_domain_list(struct om_store *store, const char *domain,
			 om_store_row_cb *cb, void *context, char **error_r)
{
	return om_store_list(store, domain != NULL ? OM_SQL_DOM_LIST_ONE :
			     OM_SQL_DOM_LIST_ALL, domain, cb, context, error_r);
}

long long om_store_change_counter(struct om_store *store)
{
	sqlite3_stmt *stmt = store->stmts[OM_SQL_DATA_VERSION];
	long long version = -1;

	/* a query, so that it starts a read and sees other connections'
	   commits (the file-control counter only moves inside one) */
	sqlite3_reset(stmt);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return version < 0 ? -1 : version + store->own_writes;
}

/* ---- allow/block lists ---- */

/* The number of entries of scope's kind list; -1 on error. */
static long om_store_list_count(struct om_store *store, const char *scope,
				const char *kind, char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, OM_SQL_LIST_COUNT, scope, kind, NULL, 0);
	long long count;

	if (stmt == NULL || om_store_read_number(stmt, &count) < 0) {
		*error_r = om_store_error(store, "count");
		return -1;
	}
	return (long)count;
}

int om_store_list_change(struct om_store *store, const char *scope,
			 const char *kind, const char *const *entries,
			 size_t count, int add, long max_entries, char **error_r)
{
	long before, after;
	size_t i;

	if (om_store_exec_stmt(store, OM_SQL_BEGIN, error_r) < 0)
		return -1;
	if ((before = om_store_list_count(store, scope, kind, error_r)) < 0)
		goto fail;
	for (i = 0; i < count; i++) {
		if (om_store_write(store, add ? OM_SQL_LIST_ADD : OM_SQL_LIST_DELETE,
				   scope, kind, entries[i], add, error_r) < 0)
			goto fail;
	}
	if ((after = om_store_list_count(store, scope, kind, error_r)) < 0)
		goto fail;
	/* an entry already there is not a new one; only growth is refused */
	if (add && max_entries > 0 && after > max_entries && after > before) {
		*error_r = om_asprintf("the %s list of %s is full (%ld entries, "
				       "the limit is %ld)", kind, scope, before,
				       max_entries);
		goto fail;
	}
	if (om_store_exec_stmt(store, OM_SQL_COMMIT, error_r) < 0)
		return -1;
	return (int)(add ? after - before : before - after);
fail:
	return om_store_rollback(store);
}

int om_store_list_add(struct om_store *store, const char *scope,
		      const char *kind, const char *entry, long max_entries,
		      char **error_r)
{
	return om_store_list_change(store, scope, kind, &entry, 1, 1, max_entries,
				    error_r) < 0 ? -1 : 0;
}

int om_store_list_has(struct om_store *store, const char *scope,
		      const char *kind, const char *entry, char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, OM_SQL_LIST_HAS, scope, kind, entry, 0);
	int ret = stmt == NULL ? SQLITE_ERROR : sqlite3_step(stmt);

	if (stmt != NULL)
		sqlite3_reset(stmt);
	if (ret != SQLITE_ROW && ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "list lookup");
		return -1;
	}
	return ret == SQLITE_ROW ? 1 : 0;
}

int om_store_list_delete(struct om_store *store, const char *scope,
			 const char *kind, const char *entry, char **error_r)
{
	int before = sqlite3_total_changes(store->db);

	if (om_store_write(store, OM_SQL_LIST_DELETE, scope, kind, entry, 0,
			   error_r) < 0)
		return -1;
	return sqlite3_total_changes(store->db) > before ? 1 : 0;
}

int om_store_list_each(struct om_store *store, const char *scope,
		       om_store_row_cb *cb, void *context, char **error_r)
{
	return om_store_list(store, scope != NULL ? OM_SQL_LIST_ONE :
			     OM_SQL_LIST_ALL, scope, cb, context, error_r);
}

/* ---- rate counters ---- */

int om_store_rates_save(struct om_store *store,
			const struct om_store_rate *rates, size_t count,
			long long expire_before, char **error_r)
{
	sqlite3_stmt *stmt;
	size_t i;
	int ok;

	if (om_store_exec_stmt(store, OM_SQL_BEGIN, error_r) < 0)
		return -1;
	for (i = 0; i < count; i++) {
		stmt = store->stmts[OM_SQL_RATE_SAVE];
		sqlite3_reset(stmt);
		ok = sqlite3_bind_text(stmt, 1, rates[i].user, -1, SQLITE_STATIC) == SQLITE_OK &&
			sqlite3_bind_int64(stmt, 2, rates[i].window_start) == SQLITE_OK &&
			sqlite3_bind_int64(stmt, 3, rates[i].messages) == SQLITE_OK &&
			sqlite3_bind_int64(stmt, 4, rates[i].recipients) == SQLITE_OK &&
			sqlite3_step(stmt) == SQLITE_DONE;
		sqlite3_reset(stmt);
		if (!ok) {
			*error_r = om_store_error(store, "save rate counters");
			goto fail;
		}
	}
	stmt = store->stmts[OM_SQL_RATE_EXPIRE];
	sqlite3_reset(stmt);
	if (sqlite3_bind_int64(stmt, 1, expire_before) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_DONE) {
		sqlite3_reset(stmt);
		*error_r = om_store_error(store, "expire rate counters");
		goto fail;
	}
	sqlite3_reset(stmt);
	store->own_writes++;
	return om_store_exec_stmt(store, OM_SQL_COMMIT, error_r);
fail:
	return om_store_rollback(store);
}

int om_store_rates_each(struct om_store *store, om_store_rate_cb *cb,
			void *context, char **error_r)
{
	sqlite3_stmt *stmt = store->stmts[OM_SQL_RATE_ALL];
	struct om_store_rate rate;
	int ret, rows = 0;

	sqlite3_reset(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		rate.user = (const char *)sqlite3_column_text(stmt, 0);
		rate.window_start = sqlite3_column_int64(stmt, 1);
		rate.messages = sqlite3_column_int64(stmt, 2);
		rate.recipients = sqlite3_column_int64(stmt, 3);
		cb(context, &rate);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "read rate counters");
		return -1;
	}
	return rows;
}

/* Adds one imported row; refuses it if it takes a limited list over
   max_entries.  0 or -1. */
static int om_store_list_import_row(struct om_store *store,
				    const struct om_store_list_row *row,
				    long max_entries, char **error_r)
{
	int limited = row->limited && max_entries > 0;
	long before = 0, after;

	if (limited &&
	    (before = om_store_list_count(store, row->scope, row->kind, error_r)) < 0)
		return -1;
	if (om_store_write(store, OM_SQL_LIST_ADD, row->scope, row->kind,
			   row->entry, 1, error_r) < 0)
		return -1;
	if (!limited)
		return 0;
	if ((after = om_store_list_count(store, row->scope, row->kind, error_r)) < 0)
		return -1;
	/* as for om_store_list_change(): only growth is refused */
	if (after > max_entries && after > before) {
		*error_r = om_asprintf("the %s list of %s is full (%ld entries, "
				       "the limit is %ld)", row->kind, row->scope,
				       before, max_entries);
		return -1;
	}
	return 0;
}

int om_store_list_import(struct om_store *store,
			 const struct om_store_list_row *rows, size_t count,
			 long max_entries, size_t *failed_row_r, char **error_r)
{
	size_t i;

	*failed_row_r = count;
	if (om_store_exec_stmt(store, OM_SQL_BEGIN, error_r) < 0)
		return -1;
	for (i = 0; i < count; i++) {
		if (om_store_list_import_row(store, &rows[i], max_entries, error_r) < 0) {
			*failed_row_r = i;
			return om_store_rollback(store);
		}
	}
	return om_store_exec_stmt(store, OM_SQL_COMMIT, error_r);
}

/* ---- revisions ---- */

int om_store_revision(struct om_store *store, const char *name,
		      long long *revision_r, char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, OM_SQL_REVISION, name, NULL,
					   NULL, 0);

	if (stmt == NULL || om_store_read_number(stmt, revision_r) < 0) {
		*error_r = om_store_error(store, "read revision");
		return -1;
	}
	return 0;
}

int om_store_secret(struct om_store *store, const char *name,
		    unsigned char *value, size_t len, char **error_r)
{
	sqlite3_stmt *stmt = om_store_bind(store, OM_SQL_SECRET, name, NULL,
					   NULL, 0);
	int ret = -1;

	if (stmt == NULL) {
		*error_r = om_store_error(store, "read secret");
		return -1;
	}
	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    (size_t)sqlite3_column_bytes(stmt, 0) == len) {
		memcpy(value, sqlite3_column_blob(stmt, 0), len);
		ret = 0;
	} else {
		*error_r = om_asprintf("store: no secret '%s' of %zu bytes", name, len);
	}
	sqlite3_reset(stmt);
	return ret;
}

/* ---- spam classifier tokens ---- */

static int om_store_spam_read(struct om_store *store, om_store_token_cb *cb,
			      void *context, struct om_store_spam_state *state_r,
			      char **error_r)
{
	sqlite3_stmt *stmt = store->stmts[OM_SQL_SPAM_TOTALS];
	int ret;

	state_r->nspam = state_r->nham = 0;
	sqlite3_reset(stmt);
	ret = sqlite3_step(stmt);
	if (ret == SQLITE_ROW) {
		state_r->nspam = (long)sqlite3_column_int64(stmt, 0);
		state_r->nham = (long)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_ROW && ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "read spam totals");
		return -1;
	}
	if (om_store_revision(store, "spam", &state_r->revision, error_r) < 0)
		return -1;
	if (cb == NULL)
		return 0;
	stmt = store->stmts[OM_SQL_SPAM_TOKENS];
	sqlite3_reset(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, (const char *)sqlite3_column_text(stmt, 0),
		   (long)sqlite3_column_int64(stmt, 1), (long)sqlite3_column_int64(stmt, 2));
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_store_error(store, "read spam tokens");
		return -1;
	}
	return 0;
}

int om_store_spam_load(struct om_store *store, om_store_token_cb *cb,
		       void *context, struct om_store_spam_state *state_r,
		       char **error_r)
{
	int ret;

	/* one read transaction: totals, revision and tokens agree */
	if (om_store_exec_stmt(store, OM_SQL_BEGIN_READ, error_r) < 0)
		return -1;
	ret = om_store_spam_read(store, cb, context, state_r, error_r);
	if (ret < 0) {
		return om_store_rollback(store);
	}
	return om_store_exec_stmt(store, OM_SQL_COMMIT, error_r);
}

static int om_store_spam_write(struct om_store *store,
			       const struct om_store_spam_token *rows,
			       size_t count, long dspam, long dham)
{
	sqlite3_stmt *stmt = store->stmts[OM_SQL_SPAM_TOKEN_SET];
	size_t i;
	int ok = 1;

	for (i = 0; i < count && ok; i++) {
		sqlite3_reset(stmt);
		ok = sqlite3_bind_text(stmt, 1, rows[i].token, -1, SQLITE_STATIC) == SQLITE_OK &&
			sqlite3_bind_int64(stmt, 2, rows[i].spam) == SQLITE_OK &&
			sqlite3_bind_int64(stmt, 3, rows[i].ham) == SQLITE_OK &&
			sqlite3_step(stmt) == SQLITE_DONE;
	}
	sqlite3_reset(stmt);
	if (!ok)
		return -1;
	stmt = store->stmts[OM_SQL_SPAM_TOTALS_SET];
	sqlite3_reset(stmt);
	ok = sqlite3_bind_int64(stmt, 1, dspam) == SQLITE_OK &&
		sqlite3_bind_int64(stmt, 2, dham) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	return ok ? 0 : -1;
}

/* Deletes the tokens seen in at most max_count messages. */
static int om_store_spam_delete_rare(struct om_store *store, long max_count,
				     long *removed_r)
{
	sqlite3_stmt *stmt = store->stmts[OM_SQL_SPAM_PRUNE];
	int ok;

	sqlite3_reset(stmt);
	ok = sqlite3_bind_int64(stmt, 1, max_count) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	*removed_r = ok ? (long)sqlite3_changes(store->db) : 0;
	return ok ? 0 : -1;
}

int om_store_spam_prune(struct om_store *store, long max_count, long *removed_r,
			long *left_r, char **error_r)
{
	long long left = 0;

	if (om_store_exec_stmt(store, OM_SQL_BEGIN, error_r) < 0)
		return -1;
	if (om_store_spam_delete_rare(store, max_count, removed_r) < 0 ||
	    om_store_read_number(store->stmts[OM_SQL_SPAM_TOKEN_COUNT], &left) < 0) {
		*error_r = om_store_error(store, "prune spam tokens");
		return om_store_rollback(store);
	}
	*left_r = (long)left;
	if (om_store_exec_stmt(store, OM_SQL_SPAM_REVISION_BUMP, error_r) < 0)
		return om_store_rollback(store);
	return om_store_exec_stmt(store, OM_SQL_COMMIT, error_r);
}

int om_store_spam_save(struct om_store *store,
		       const struct om_store_spam_token *rows, size_t count,
		       long dspam, long dham, long long *revision_before_r,
		       long long *revision_after_r, char **error_r)
{

	if (om_store_exec_stmt(store, OM_SQL_BEGIN, error_r) < 0)
		return -1;
	if (om_store_revision(store, "spam", revision_before_r, error_r) < 0)
		goto fail;
	if (om_store_spam_write(store, rows, count, dspam, dham) < 0) {
		*error_r = om_store_error(store, "save spam tokens");
		goto fail;
	}
	if (om_store_revision(store, "spam", revision_after_r, error_r) < 0)
		goto fail;
	store->own_writes++;
	return om_store_exec_stmt(store, OM_SQL_COMMIT, error_r);
fail:
	return om_store_rollback(store);
}
