/* store-sqlite.c - the SQLite backend of the omamori store (store-private.h);
 * every SQL statement and every sqlite3 call of the project lives here.
 *
 * WAL mode so readers (Dovecot delivery processes, scand workers) never block
 * the writer (omamorictl), a busy timeout for the short write locks, a schema
 * versioned in PRAGMA user_version with forward-only migrations, and prepared
 * statements only, prepared once per handle and reused.  Triggers keep the
 * revision counters and the change log (which scope changed at which
 * revision), so no writer can forget them.
 */
#include "store/store-private.h"
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
	OM_SQL_CHANGES,
	OM_SQL_SECRET,
	OM_SQL_Q_ADD,
	OM_SQL_Q_GET,
	OM_SQL_Q_EACH,
	OM_SQL_Q_DELETE,
	OM_SQL_Q_EXPIRE,
	OM_SQL_Q_UNLISTED,
	OM_SQL_D_NEW,
	OM_SQL_D_MARK,
	OM_SQL_D_ITEMS,
	OM_SQL_D_SENT,
	OM_SQL_D_PENDING,
	OM_SQL_D_LAST,
	OM_SQL_D_DUE,
	OM_SQL_C_SAVE,
	OM_SQL_C_KNOWN,
	OM_SQL_N_USE,
	OM_SQL_N_EXPIRE,
	OM_SQL_OB_ADD,
	OM_SQL_OB_GET,
	OM_SQL_OB_FINISH,
	OM_SQL_OB_EXPIRE,
	OM_SQL_H_ADD,
	OM_SQL_H_GET,
	OM_SQL_H_MAILBOX,
	OM_SQL_H_STATE,
	OM_SQL_H_DUE,
	OM_SQL_H_BRAKED,
	OM_SQL_H_MOVE,
	OM_SQL_H_SET,
	OM_SQL_H_NOTIFIED,
	OM_SQL_H_EXPIRE,
	OM_SQL_Z_ADD,
	OM_SQL_Z_GET,
	OM_SQL_Z_STATE,
	OM_SQL_Z_MOVE,
	OM_SQL_Z_SET,
	OM_SQL_Z_EXPIRE,
	OM_SQL_HIST_PUT,
	OM_SQL_HIST_EXPIRE,
	OM_SQL_HIST_PEAKS,
	OM_SQL_HIST_HOUR,
	OM_SQL_HIST_LOGIN,
	OM_SQL_BRAKE_TRIP,
	OM_SQL_BRAKE_GET,
	OM_SQL_BRAKE_ON,
	OM_SQL_BRAKE_LIFT,
	OM_SQL_BRAKE_ALERT,
	OM_SQL_BRAKE_UNALERT,
	OM_SQL_URL_FIND,
	OM_SQL_URL_PUT,
	OM_SQL_URL_DEL,
	OM_SQL_URL_DEL_ANY,
	OM_SQL_URL_DROP_SOURCE,
	OM_SQL_URL_COUNT,
	OM_SQL_URL_COUNT_ALL,
	OM_SQL_URL_EACH,
	OM_SQL_URL_EACH_ALL,
	OM_SQL_URL_SOURCES,
	OM_SQL_URL_CLICK_ADD,
	OM_SQL_URL_CLICKS_EXPIRE,
	OM_SQL_URL_CLICKS_COUNT,
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
	[OM_SQL_CHANGES] =
		"SELECT scope FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[OM_SQL_SECRET] = "SELECT value FROM secrets WHERE name = ?1",
	[OM_SQL_Q_ADD] =
		"INSERT INTO quarantine(id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_SQL_Q_GET] =
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address FROM quarantine WHERE mailbox = ?1 AND id = ?2",
	[OM_SQL_Q_EACH] =
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address FROM quarantine WHERE mailbox = ?1 "
		"ORDER BY received DESC, id",
	[OM_SQL_Q_DELETE] = "DELETE FROM quarantine WHERE mailbox = ?1 AND id = ?2",
	[OM_SQL_Q_EXPIRE] =
		"DELETE FROM quarantine WHERE mailbox = ?1 AND received < ?2",
	[OM_SQL_Q_UNLISTED] =
		"SELECT count(*) FROM quarantine WHERE mailbox = ?1 AND digest = 0",
	[OM_SQL_D_NEW] = "INSERT INTO digests(mailbox, created) VALUES (?1, ?2)",
	[OM_SQL_D_MARK] =
		"UPDATE quarantine SET digest = ?2 WHERE mailbox = ?1 AND digest = 0",
	[OM_SQL_D_ITEMS] =
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address FROM quarantine WHERE digest = ?1 "
		"ORDER BY received DESC, id",
	[OM_SQL_D_SENT] = "UPDATE digests SET sent = ?2 WHERE id = ?1",
	[OM_SQL_D_PENDING] =
		"SELECT id, mailbox, created, sent FROM digests "
		"WHERE sent = 0 AND created < ?1 ORDER BY id",
	[OM_SQL_D_LAST] = "SELECT max(created) FROM digests WHERE mailbox = ?1",
	[OM_SQL_D_DUE] =
		"SELECT q.mailbox, count(*), sum(EXISTS (SELECT 1 FROM correspondents c "
		"  WHERE c.mailbox = q.mailbox AND c.address = lower(q.sender))) "
		"FROM quarantine q WHERE q.digest = 0 GROUP BY q.mailbox ORDER BY q.mailbox",
	[OM_SQL_C_SAVE] =
		"INSERT INTO correspondents(mailbox, address, last) VALUES (?1, ?2, ?3) "
		"ON CONFLICT(mailbox, address) DO UPDATE SET last = max(last, excluded.last)",
	[OM_SQL_C_KNOWN] =
		"SELECT 1 FROM correspondents WHERE mailbox = ?1 AND address = ?2",
	[OM_SQL_N_USE] =
		"INSERT INTO nonces(nonce, expires) VALUES (?1, ?2) "
		"ON CONFLICT(nonce) DO NOTHING",
	[OM_SQL_N_EXPIRE] = "DELETE FROM nonces WHERE expires < ?1",
	[OM_SQL_OB_ADD] =
		"INSERT INTO outbound(queue_id, hash, sender, recipients, state, "
		"reply, received, updated) VALUES (?1, ?2, ?3, ?4, 1, '', ?5, ?5) "
		"ON CONFLICT(queue_id, hash) DO NOTHING",
	[OM_SQL_OB_GET] =
		"SELECT state, reply FROM outbound WHERE queue_id = ?1 AND hash = ?2",
	[OM_SQL_OB_FINISH] =
		"UPDATE outbound SET state = ?3, reply = ?4, updated = ?5 "
		"WHERE queue_id = ?1 AND hash = ?2",
	[OM_SQL_OB_EXPIRE] = "DELETE FROM outbound WHERE updated < ?1",
	[OM_SQL_H_ADD] =
		"INSERT INTO holds(id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?10, 0, '', ?14, ?15) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_SQL_H_GET] = "SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details FROM holds WHERE id = ?1",
	[OM_SQL_H_MAILBOX] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details FROM holds WHERE mailbox = ?1 ORDER BY created DESC, id LIMIT 500",
	[OM_SQL_H_STATE] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details FROM holds WHERE state = ?1 ORDER BY created, id",
	[OM_SQL_H_DUE] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details FROM holds WHERE state = 1 AND expires <= ?1 ORDER BY expires, id",
	[OM_SQL_H_BRAKED] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details FROM holds WHERE sender = ?1 AND kind = 'brake' AND state = 5 ORDER BY created, id",
	[OM_SQL_H_MOVE] =
		"UPDATE holds SET state = ?2, changed = ?3 WHERE id = ?1 AND state IN (?4, ?5)",
	[OM_SQL_H_SET] =
		"UPDATE holds SET state = ?2, changed = ?3, result = ?4 WHERE id = ?1",
	[OM_SQL_H_NOTIFIED] = "UPDATE holds SET notified = 1 WHERE id = ?1",
	[OM_SQL_H_EXPIRE] =
		"DELETE FROM holds WHERE state IN (3, 4) AND changed < ?1",
	[OM_SQL_Z_ADD] =
		"INSERT INTO zip_passwords(id, mailbox, recipients, subject, archive, sealed, "
		"created, expires, state, changed, sent, result) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?7, 0, '') ON CONFLICT(id) DO NOTHING",
	[OM_SQL_Z_GET] =
		"SELECT id, mailbox, recipients, subject, archive, sealed, created, expires, "
		"state, changed, sent, result FROM zip_passwords WHERE id = ?1",
	[OM_SQL_Z_STATE] =
		"SELECT id, mailbox, recipients, subject, archive, sealed, created, expires, "
		"state, changed, sent, result FROM zip_passwords WHERE state = ?1 ORDER BY created, id",
	[OM_SQL_Z_MOVE] =
		"UPDATE zip_passwords SET state = ?2, changed = ?3 "
		"WHERE id = ?1 AND state = ?4 AND expires > ?3",
	[OM_SQL_Z_SET] =
		"UPDATE zip_passwords SET state = ?2, changed = ?3, sent = ?4, result = ?5, "
		"sealed = CASE WHEN ?2 = 3 THEN '' ELSE sealed END WHERE id = ?1",
	[OM_SQL_Z_EXPIRE] = "DELETE FROM zip_passwords WHERE expires <= ?1",
	[OM_SQL_HIST_PUT] =
		"INSERT INTO sender_history(login, hour, messages, recipients) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(login, hour) DO UPDATE SET "
		"messages = max(messages, excluded.messages), "
		"recipients = max(recipients, excluded.recipients)",
	[OM_SQL_HIST_EXPIRE] = "DELETE FROM sender_history WHERE hour < ?1",
	[OM_SQL_HIST_PEAKS] =
		"SELECT login, 0, max(messages), max(recipients) FROM sender_history "
		"WHERE hour >= ?1 AND hour < ?2 GROUP BY login",
	[OM_SQL_HIST_HOUR] =
		"SELECT login, hour, messages, recipients FROM sender_history WHERE hour = ?1",
	[OM_SQL_HIST_LOGIN] =
		"SELECT login, hour, messages, recipients FROM sender_history "
		"WHERE login = ?1 AND hour >= ?2 ORDER BY hour DESC",
	/* a new trip, or again after a lift; a login braked now stays as it is */
	[OM_SQL_BRAKE_TRIP] =
		"INSERT INTO brakes(login, state, since, messages, recipients, "
		"limit_messages, limit_recipients, peak_messages, peak_recipients, "
		"alerted, changed) VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9) "
		"ON CONFLICT(login) DO UPDATE SET state = 1, since = excluded.since, "
		"messages = excluded.messages, recipients = excluded.recipients, "
		"limit_messages = excluded.limit_messages, "
		"limit_recipients = excluded.limit_recipients, "
		"peak_messages = excluded.peak_messages, "
		"peak_recipients = excluded.peak_recipients, alerted = 0, "
		"changed = excluded.changed WHERE brakes.state != 1",
	[OM_SQL_BRAKE_GET] =
		"SELECT login, state, since, messages, recipients, limit_messages, "
		"limit_recipients, peak_messages, peak_recipients, alerted, changed "
		"FROM brakes WHERE login = ?1",
	[OM_SQL_BRAKE_ON] =
		"SELECT login, state, since, messages, recipients, limit_messages, "
		"limit_recipients, peak_messages, peak_recipients, alerted, changed "
		"FROM brakes WHERE state = 1 ORDER BY since, login",
	[OM_SQL_BRAKE_LIFT] =
		"UPDATE brakes SET state = 2, changed = ?2 WHERE login = ?1 AND state = 1",
	[OM_SQL_BRAKE_ALERT] =
		"UPDATE brakes SET alerted = 1 WHERE login = ?1 AND state = 1 AND alerted = 0",
	[OM_SQL_BRAKE_UNALERT] =
		"UPDATE brakes SET alerted = 0 WHERE login = ?1 AND state = 1",
	/* the URL reputation store: one indexed read of up to
	   OM_SQLITE_URL_KEYS keys (unused ones NULL), the entry that
	   decides first (block, then the longest key) */
	[OM_SQL_URL_FIND] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"WHERE kind = ?1 AND key IN (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
		"AND (expires = 0 OR expires > ?2) "
		"ORDER BY verdict DESC, length(key) DESC LIMIT 1",
	[OM_SQL_URL_PUT] =
		"INSERT INTO url_entries(kind, key, source, verdict, added, expires) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(kind, key, source) DO UPDATE "
		"SET verdict = excluded.verdict, added = excluded.added, "
		"expires = excluded.expires",
	[OM_SQL_URL_DEL] =
		"DELETE FROM url_entries WHERE kind = ?1 AND key = ?2 AND source = ?3",
	[OM_SQL_URL_DEL_ANY] = "DELETE FROM url_entries WHERE kind = ?1 AND key = ?2",
	[OM_SQL_URL_DROP_SOURCE] = "DELETE FROM url_entries WHERE source = ?1",
	[OM_SQL_URL_COUNT] = "SELECT count(*) FROM url_entries WHERE source = ?1",
	[OM_SQL_URL_COUNT_ALL] = "SELECT count(*) FROM url_entries",
	[OM_SQL_URL_EACH] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"WHERE source = ?1 ORDER BY source, kind, key",
	[OM_SQL_URL_EACH_ALL] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"ORDER BY source, kind, key",
	[OM_SQL_URL_SOURCES] =
		"SELECT source, count(*) FROM url_entries GROUP BY source ORDER BY source",
	[OM_SQL_URL_CLICK_ADD] =
		"INSERT INTO url_clicks(mailbox, host, verdict, at) VALUES (?1, ?2, ?3, ?4)",
	[OM_SQL_URL_CLICKS_EXPIRE] = "DELETE FROM url_clicks WHERE at < ?1",
	[OM_SQL_URL_CLICKS_COUNT] = "SELECT count(*) FROM url_clicks WHERE mailbox = ?1",
	[OM_SQL_BEGIN_READ] = "BEGIN",
	[OM_SQL_BEGIN] = "BEGIN IMMEDIATE",
	[OM_SQL_COMMIT] = "COMMIT",
	[OM_SQL_ROLLBACK] = "ROLLBACK",
};

/* The statements of a table of settings, by what they do. */
enum om_table_op {
	OM_TABLE_SET,
	OM_TABLE_GET,
	OM_TABLE_DELETE,
	OM_TABLE_LIST_ONE,
	OM_TABLE_LIST_ALL,
	OM_TABLE_OPS
};

static const enum om_stmt_id om_table_stmts[][OM_TABLE_OPS] = {
	[OM_STORE_SUBSCRIPTIONS] = { OM_SQL_SUB_SET, OM_SQL_SUB_GET, OM_SQL_SUB_DELETE,
				     OM_SQL_SUB_LIST_ONE, OM_SQL_SUB_LIST_ALL },
	[OM_STORE_DOMAIN_SETTINGS] = { OM_SQL_DOM_SET, OM_SQL_DOM_GET, OM_SQL_DOM_DELETE,
				       OM_SQL_DOM_LIST_ONE, OM_SQL_DOM_LIST_ALL },
};

/* v6: a trigger that moves the "config" revision and records the scope it
   changed (row: new or old; column: the table's scope column) with it. */
#define OM_CHANGE_TRIGGER(table, event, row, column) \
	"CREATE TRIGGER " table "_" event " AFTER " event " ON " table " BEGIN " \
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config';" \
	"  INSERT INTO changes(scope, seq) SELECT " row "." column ", value" \
	"    FROM revisions WHERE name = 'config'" \
	"    ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq; END;"
/* an update records both scopes, in case the key itself changed */
#define OM_CHANGE_TRIGGERS(table, column) \
	"DROP TRIGGER " table "_insert; DROP TRIGGER " table "_update;" \
	"DROP TRIGGER " table "_delete;" \
	OM_CHANGE_TRIGGER(table, "insert", "new", column) \
	OM_CHANGE_TRIGGER(table, "delete", "old", column) \
	"CREATE TRIGGER " table "_update AFTER UPDATE ON " table " BEGIN " \
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config';" \
	"  INSERT INTO changes(scope, seq) SELECT old." column ", value" \
	"    FROM revisions WHERE name = 'config'" \
	"    ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq;" \
	"  INSERT INTO changes(scope, seq) SELECT new." column ", value" \
	"    FROM revisions WHERE name = 'config'" \
	"    ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq; END;"

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
	/* v6: the change log - the scope of every change, with the config
	   revision it made - so that a reader re-reads what changed, not
	   everything.  One row per scope (the last change), so it grows with
	   the scopes there are, not with the writes. */
	"CREATE TABLE changes ("
	"  scope TEXT PRIMARY KEY,"
	"  seq INTEGER NOT NULL);"
	"CREATE INDEX changes_seq ON changes(seq);"
	OM_CHANGE_TRIGGERS("subscriptions", "mailbox")
	OM_CHANGE_TRIGGERS("domain_settings", "domain")
	OM_CHANGE_TRIGGERS("list_entries", "scope"),
	/* v7 (issue 13): quarantined mail as the Dovecot plugin recorded it,
	   the digests that told mailboxes about it (a row is marked with its
	   digest in the transaction that makes the digest: told once), the
	   addresses mailboxes wrote to, and the web forms' one-time values */
	"CREATE TABLE quarantine ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  received INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  from_header TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  score TEXT NOT NULL,"
	"  reasons TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  digest INTEGER NOT NULL DEFAULT 0,"
	"  from_address TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX quarantine_mailbox ON quarantine(mailbox, received);"
	"CREATE INDEX quarantine_digest ON quarantine(digest, mailbox);"
	"CREATE TABLE digests ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  mailbox TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  sent INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX digests_mailbox ON digests(mailbox, created);"
	"CREATE INDEX digests_pending ON digests(sent) WHERE sent = 0;"
	"CREATE TABLE correspondents ("
	"  mailbox TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  last INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox, address)) WITHOUT ROWID;"
	"CREATE TABLE nonces ("
	"  nonce TEXT PRIMARY KEY,"
	"  expires INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX nonces_expires ON nonces(expires);",
	/* v8: outbound mail through omamori-filter (issue 14); state 1
	   pending, 2 sent, 3 refused (enum om_outbound_state) */
	"CREATE TABLE outbound ("
	"  queue_id TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipients INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  reply TEXT NOT NULL DEFAULT '',"
	"  received INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (queue_id, hash)) WITHOUT ROWID;"
	"CREATE INDEX outbound_updated ON outbound(updated);",
	/* v9: outbound mail held for its sender's confirmation (outbound-hold,
	   doc/outbound.md); state 1 held, 2 sending, 3 sent, 4 discarded,
	   5 kept for the administrator (enum om_hold_state); recipients and
	   delivered one per line, attachments "name TAB size" per line */
	"CREATE TABLE holds ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  delivered TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  attachments TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  expiry TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  changed INTEGER NOT NULL,"
	"  notified INTEGER NOT NULL,"
	"  result TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX holds_mailbox ON holds(mailbox, created);"
	"CREATE INDEX holds_state ON holds(state, expires);",
	/* v10: the passwords of outbound-zip's archives, kept zip-password-days
	   so that the sender can have them mailed to the recipients (omamori-
	   web's /z/ page); sealed (crypto/seal.h) under omamori-filter's
	   zip_key_path, never in clear; state 1 kept, 2 sending, 3 sent (enum
	   om_zip_state; the seal is wiped then); recipients one per line;
	   cron forgets a row at its expiry */
	"CREATE TABLE zip_passwords ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  archive TEXT NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  changed INTEGER NOT NULL,"
	"  sent INTEGER NOT NULL,"
	"  result TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX zip_passwords_expires ON zip_passwords(expires);",
	/* v11 (issue 14 items 6, 7): holds for the administrator alone -
	   kind 'sender' (outbound-hold), 'spam' (outbound-spam), 'brake' (the
	   compromised-account brake) with their figures in details; what
	   omamori-policyd saw of each SASL login per clock hour; the brakes,
	   state 1 on, 2 lifted (enum om_brake_state), whose every change
	   moves the 'brake' revision so that policyd learns of a lift */
	"ALTER TABLE holds ADD COLUMN kind TEXT NOT NULL DEFAULT 'sender';"
	"ALTER TABLE holds ADD COLUMN details TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX holds_sender ON holds(sender, kind, state);"
	"CREATE TABLE sender_history ("
	"  login TEXT NOT NULL,"
	"  hour INTEGER NOT NULL,"
	"  messages INTEGER NOT NULL,"
	"  recipients INTEGER NOT NULL,"
	"  PRIMARY KEY (login, hour)) WITHOUT ROWID;"
	"CREATE INDEX sender_history_hour ON sender_history(hour);"
	"CREATE TABLE brakes ("
	"  login TEXT PRIMARY KEY,"
	"  state INTEGER NOT NULL,"
	"  since INTEGER NOT NULL,"
	"  messages INTEGER NOT NULL,"
	"  recipients INTEGER NOT NULL,"
	"  limit_messages INTEGER NOT NULL,"
	"  limit_recipients INTEGER NOT NULL,"
	"  peak_messages INTEGER NOT NULL,"
	"  peak_recipients INTEGER NOT NULL,"
	"  alerted INTEGER NOT NULL,"
	"  changed INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO revisions(name, value) VALUES ('brake', 0);"
	"CREATE TRIGGER brakes_insert AFTER INSERT ON brakes BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'brake'; END;"
	"CREATE TRIGGER brakes_update AFTER UPDATE ON brakes BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'brake'; END;"
	"CREATE TRIGGER brakes_delete AFTER DELETE ON brakes BEGIN "
	"  UPDATE revisions SET value = value + 1 WHERE name = 'brake'; END;",
	/* v12 (issue 15): the URL reputation store (doc/links.md); kind 1 url,
	   2 host, 3 domain (enum om_url_kind), verdict 1 warn, 2 block (enum
	   om_url_verdict), expires 0 never.  One row per entry and source,
	   so a feed's import replaces its own rows only; a lookup is a point
	   read of the primary key per kind */
	"CREATE TABLE url_entries ("
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),"
	"  key TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  verdict INTEGER NOT NULL CHECK (verdict IN (1, 2)),"
	"  added INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, key, source)) WITHOUT ROWID;"
	"CREATE INDEX url_entries_source ON url_entries(source);",
	/* v13 (issue 15): clicks through the gate (omamori-web /u/), for the
	   reports: the mailbox, the URL's host, the verdict (0 none, 1 warn,
	   2 block: enum om_url_verdict), when; expired by omamorictl cron
	   after url_clicks_days */
	"CREATE TABLE url_clicks ("
	"  mailbox TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  verdict INTEGER NOT NULL CHECK (verdict IN (0, 1, 2)),"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX url_clicks_at ON url_clicks(at);"
	"CREATE INDEX url_clicks_mailbox ON url_clicks(mailbox, at);",
};

struct om_store_sqlite {
	struct om_store store;
	sqlite3 *db;
	sqlite3_stmt *stmts[OM_SQL_COUNT];
};

static struct om_store_sqlite *om_sqlite(struct om_store *store)
{
	return (struct om_store_sqlite *)store;
}

static char *om_sqlite_error(struct om_store_sqlite *s, const char *what)
{
	return om_asprintf("store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Runs a statement that returns no rows (PRAGMA, DDL, BEGIN/COMMIT). */
static int om_sqlite_exec(struct om_store_sqlite *s, const char *sql,
			  char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = om_asprintf("store: %s", msg != NULL ? msg :
				       sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int om_sqlite_pragma_int(struct om_store_sqlite *s, const char *sql,
				int *value_r, char **error_r)
{
	sqlite3_stmt *stmt;
	int ret;

	if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		*error_r = om_sqlite_error(s, sql);
		return -1;
	}
	ret = sqlite3_step(stmt);
	if (ret == SQLITE_ROW)
		*value_r = sqlite3_column_int(stmt, 0);
	else
		*error_r = om_sqlite_error(s, sql);
	sqlite3_finalize(stmt);
	return ret == SQLITE_ROW ? 0 : -1;
}

static int om_sqlite_migrate(struct om_store_sqlite *s, char **error_r)
{
	int version;
	size_t i;
	char *sql;

	if (om_sqlite_exec(s, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (om_sqlite_pragma_int(s, "PRAGMA user_version", &version, error_r) < 0)
		goto fail;
	if (version > (int)OM_N_ELEMENTS(om_migrations)) {
		*error_r = om_asprintf("store: schema version %d is newer than "
				       "this program knows (%zu)", version,
				       OM_N_ELEMENTS(om_migrations));
		goto fail;
	}
	for (i = (size_t)version; i < OM_N_ELEMENTS(om_migrations); i++) {
		if (om_sqlite_exec(s, om_migrations[i], error_r) < 0)
			goto fail;
	}
	sql = om_asprintf("PRAGMA user_version = %zu",
			  OM_N_ELEMENTS(om_migrations));
	if (om_sqlite_exec(s, sql, error_r) < 0) {
		free(sql);
		goto fail;
	}
	free(sql);
	return om_sqlite_exec(s, "COMMIT", error_r);
fail:
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Without OM_STORE_CREATE: the schema must be the one this program has. */
static int om_sqlite_check_version(struct om_store_sqlite *s, const char *path,
				   char **error_r)
{
	int version;

	if (om_sqlite_pragma_int(s, "PRAGMA user_version", &version, error_r) < 0)
		return -1;
	if (version != (int)OM_N_ELEMENTS(om_migrations)) {
		*error_r = om_asprintf("store %s: schema version %d, this "
				       "program needs %zu (run: omamorictl init)",
				       path, version, OM_N_ELEMENTS(om_migrations));
		return -1;
	}
	return 0;
}

static int om_sqlite_prepare_all(struct om_store_sqlite *s, char **error_r)
{
	int i;

	for (i = 0; i < OM_SQL_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, om_sql_text[i], -1,
				       SQLITE_PREPARE_PERSISTENT,
				       &s->stmts[i], NULL) != SQLITE_OK) {
			*error_r = om_sqlite_error(s, "prepare");
			return -1;
		}
	}
	return 0;
}

static void om_sqlite_close(struct om_store *store)
{
	struct om_store_sqlite *s = om_sqlite(store);
	int i;

	for (i = 0; i < OM_SQL_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s);
}

static int om_sqlite_open(const char *path, int flags, long busy_timeout_ms,
			  struct om_store **store_r, char **error_r)
{
	struct om_store_sqlite *s = om_calloc(1, sizeof(*s));
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	if ((flags & OM_STORE_CREATE) != 0)
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		*error_r = om_asprintf("store %s: %s%s", path,
				       s->db == NULL ? "out of memory" :
				       sqlite3_errmsg(s->db),
				       (flags & OM_STORE_CREATE) != 0 ? "" :
				       " (create it with: omamorictl init)");
		om_sqlite_close(&s->store);
		return -1;
	}
	sqlite3_busy_timeout(s->db, (int)busy_timeout_ms);
	if (om_sqlite_exec(s, "PRAGMA journal_mode = WAL", error_r) < 0 ||
	    om_sqlite_exec(s, "PRAGMA foreign_keys = ON", error_r) < 0 ||
	    ((flags & OM_STORE_CREATE) != 0 ? om_sqlite_migrate(s, error_r) :
	     om_sqlite_check_version(s, path, error_r)) < 0 ||
	    om_sqlite_prepare_all(s, error_r) < 0) {
		om_sqlite_close(&s->store);
		return -1;
	}
	*store_r = &s->store;
	return 0;
}

static int om_sqlite_schema_version(struct om_store *store)
{
	char *error = NULL;
	int version = -1;

	if (om_sqlite_pragma_int(om_sqlite(store), "PRAGMA user_version",
				 &version, &error) < 0)
		free(error);
	return version;
}

/* Binds up to three text parameters and an optional time to statement id. */
static sqlite3_stmt *om_sqlite_bind(struct om_store_sqlite *s, enum om_stmt_id id,
				    const char *a, const char *b, const char *c,
				    int with_time)
{
	sqlite3_stmt *stmt = s->stmts[id];
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
static int om_sqlite_write(struct om_store_sqlite *s, enum om_stmt_id id,
			   const char *a, const char *b, const char *c,
			   int with_time, char **error_r)
{
	sqlite3_stmt *stmt = om_sqlite_bind(s, id, a, b, c, with_time);
	int ret;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	ret = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "write");
		return -1;
	}
	return 0;
}

/* Runs a one-value lookup; 1 found, 0 not found, -1 error. */
static int om_sqlite_lookup(struct om_store_sqlite *s, enum om_stmt_id id,
			    const char *a, const char *b, char **value_r,
			    char **error_r)
{
	sqlite3_stmt *stmt = om_sqlite_bind(s, id, a, b, NULL, 0);
	int ret;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
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
	*error_r = om_sqlite_error(s, "read");
	return -1;
}

/* Iterates a three-column listing; returns the row count or -1. */
static int om_sqlite_list(struct om_store_sqlite *s, enum om_stmt_id id,
			  const char *key, om_store_row_cb *cb, void *context,
			  char **error_r)
{
	sqlite3_stmt *stmt = om_sqlite_bind(s, id, key, NULL, NULL, 0);
	int ret, rows = 0;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
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
		*error_r = om_sqlite_error(s, "list");
		return -1;
	}
	return rows;
}

/* Runs one of the transaction statements; 0 or -1. */
static int om_sqlite_exec_stmt(struct om_store_sqlite *s, enum om_stmt_id id,
			       char **error_r)
{
	sqlite3_stmt *stmt = s->stmts[id];
	int ret;

	sqlite3_reset(stmt);
	ret = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, om_sql_text[id]);
		return -1;
	}
	return 0;
}

/* Steps a statement that yields one number (or no row: 0); 0 or -1. */
static int om_sqlite_read_number(sqlite3_stmt *stmt, long long *value_r)
{
	int ret = sqlite3_step(stmt);

	*value_r = ret == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	return ret == SQLITE_ROW || ret == SQLITE_DONE ? 0 : -1;
}

/* ---- transactions ---- */

static int om_sqlite_begin(struct om_store *store, int write, char **error_r)
{
	return om_sqlite_exec_stmt(om_sqlite(store), write ? OM_SQL_BEGIN :
				   OM_SQL_BEGIN_READ, error_r);
}

static int om_sqlite_commit(struct om_store *store, char **error_r)
{
	return om_sqlite_exec_stmt(om_sqlite(store), OM_SQL_COMMIT, error_r);
}

static void om_sqlite_rollback(struct om_store *store)
{
	char *ignored = NULL;

	(void)om_sqlite_exec_stmt(om_sqlite(store), OM_SQL_ROLLBACK, &ignored);
	free(ignored);
}

/* ---- subscriptions and domain settings ---- */

static int om_sqlite_row_set(struct om_store *store, enum om_store_table table,
			     const char *key, const char *name,
			     const char *value, char **error_r)
{
	return om_sqlite_write(om_sqlite(store), om_table_stmts[table][OM_TABLE_SET], key,
			       name, value, 1, error_r);
}

static int om_sqlite_row_get(struct om_store *store, enum om_store_table table,
			     const char *key, const char *name, char **value_r,
			     char **error_r)
{
	return om_sqlite_lookup(om_sqlite(store), om_table_stmts[table][OM_TABLE_GET], key,
				name, value_r, error_r);
}

static int om_sqlite_row_delete(struct om_store *store, enum om_store_table table,
				const char *key, const char *name,
				char **error_r)
{
	return om_sqlite_write(om_sqlite(store), om_table_stmts[table][OM_TABLE_DELETE], key,
			       name, NULL, 0, error_r);
}

static int om_sqlite_row_list(struct om_store *store, enum om_store_table table,
			      const char *key, om_store_row_cb *cb,
			      void *context, char **error_r)
{
	enum om_table_op op = key != NULL ? OM_TABLE_LIST_ONE : OM_TABLE_LIST_ALL;

	return om_sqlite_list(om_sqlite(store), om_table_stmts[table][op], key, cb,
			      context, error_r);
}

/* ---- allow/block lists ---- */

static int om_sqlite_list_put(struct om_store *store, const char *scope,
			      const char *kind, const char *entry,
			      char **error_r)
{
	return om_sqlite_write(om_sqlite(store), OM_SQL_LIST_ADD, scope, kind,
			       entry, 1, error_r);
}

static int om_sqlite_list_remove(struct om_store *store, const char *scope,
				 const char *kind, const char *entry,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	if (om_sqlite_write(s, OM_SQL_LIST_DELETE, scope, kind, entry, 0,
			    error_r) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static long om_sqlite_list_count(struct om_store *store, const char *scope,
				 const char *kind, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_LIST_COUNT, scope, kind, NULL, 0);
	long long count;

	if (stmt == NULL || om_sqlite_read_number(stmt, &count) < 0) {
		*error_r = om_sqlite_error(s, "count");
		return -1;
	}
	return (long)count;
}

static int om_sqlite_list_has(struct om_store *store, const char *scope,
			      const char *kind, const char *entry,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_LIST_HAS, scope, kind, entry, 0);
	int ret = stmt == NULL ? SQLITE_ERROR : sqlite3_step(stmt);

	if (stmt != NULL)
		sqlite3_reset(stmt);
	if (ret != SQLITE_ROW && ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "list lookup");
		return -1;
	}
	return ret == SQLITE_ROW ? 1 : 0;
}

static int om_sqlite_list_each(struct om_store *store, const char *scope,
			       om_store_row_cb *cb, void *context,
			       char **error_r)
{
	return om_sqlite_list(om_sqlite(store), scope != NULL ? OM_SQL_LIST_ONE :
			      OM_SQL_LIST_ALL, scope, cb, context, error_r);
}

/* ---- rate counters ---- */

static int om_sqlite_rate_put(struct om_store *store,
			      const struct om_store_rate *rate, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_RATE_SAVE];
	int ok;

	sqlite3_reset(stmt);
	ok = sqlite3_bind_text(stmt, 1, rate->user, -1, SQLITE_STATIC) == SQLITE_OK &&
		sqlite3_bind_int64(stmt, 2, rate->window_start) == SQLITE_OK &&
		sqlite3_bind_int64(stmt, 3, rate->messages) == SQLITE_OK &&
		sqlite3_bind_int64(stmt, 4, rate->recipients) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	if (!ok) {
		*error_r = om_sqlite_error(s, "save rate counters");
		return -1;
	}
	return 0;
}

static int om_sqlite_rates_expire(struct om_store *store, long long expire_before,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_RATE_EXPIRE];
	int ok;

	sqlite3_reset(stmt);
	ok = sqlite3_bind_int64(stmt, 1, expire_before) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	if (!ok) {
		*error_r = om_sqlite_error(s, "expire rate counters");
		return -1;
	}
	return 0;
}

static int om_sqlite_rates_each(struct om_store *store, om_store_rate_cb *cb,
				void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_RATE_ALL];
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
		*error_r = om_sqlite_error(s, "read rate counters");
		return -1;
	}
	return rows;
}

/* ---- revisions, the change log, secrets ---- */

static int om_sqlite_revision(struct om_store *store, const char *name,
			      long long *revision_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_REVISION, name, NULL, NULL, 0);

	if (stmt == NULL || om_sqlite_read_number(stmt, revision_r) < 0) {
		*error_r = om_sqlite_error(s, "read revision");
		return -1;
	}
	return 0;
}

static int om_sqlite_changes(struct om_store *store, long long since,
			     size_t limit, om_store_scope_cb *cb, void *context,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_CHANGES];
	int ret, rows = 0;

	sqlite3_reset(stmt);
	if (sqlite3_bind_int64(stmt, 1, since) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit) != SQLITE_OK) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, (const char *)sqlite3_column_text(stmt, 0));
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read changes");
		return -1;
	}
	return rows;
}

static long long om_sqlite_data_version(struct om_store *store)
{
	sqlite3_stmt *stmt = om_sqlite(store)->stmts[OM_SQL_DATA_VERSION];
	long long version = -1;

	/* a query, so that it starts a read and sees other connections'
	   commits (the file-control counter only moves inside one) */
	sqlite3_reset(stmt);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return version;
}

static int om_sqlite_secret(struct om_store *store, const char *name,
			    unsigned char *value, size_t len, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_SECRET, name, NULL, NULL, 0);
	int ret = -1;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "read secret");
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

static int om_sqlite_spam_totals(struct om_store *store,
				 struct om_store_spam_state *state_r,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_SPAM_TOTALS];
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
		*error_r = om_sqlite_error(s, "read spam totals");
		return -1;
	}
	return 0;
}

static int om_sqlite_spam_tokens(struct om_store *store, om_store_token_cb *cb,
				 void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_SPAM_TOKENS];
	int ret;

	sqlite3_reset(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, (const char *)sqlite3_column_text(stmt, 0),
		   (long)sqlite3_column_int64(stmt, 1), (long)sqlite3_column_int64(stmt, 2));
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read spam tokens");
		return -1;
	}
	return 0;
}

static int om_sqlite_spam_write(struct om_store_sqlite *s,
				const struct om_store_spam_token *rows,
				size_t count, long dspam, long dham)
{
	sqlite3_stmt *stmt = s->stmts[OM_SQL_SPAM_TOKEN_SET];
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
	stmt = s->stmts[OM_SQL_SPAM_TOTALS_SET];
	sqlite3_reset(stmt);
	ok = sqlite3_bind_int64(stmt, 1, dspam) == SQLITE_OK &&
		sqlite3_bind_int64(stmt, 2, dham) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	return ok ? 0 : -1;
}

static int om_sqlite_spam_add(struct om_store *store,
			      const struct om_store_spam_token *rows,
			      size_t count, long dspam, long dham,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	if (om_sqlite_spam_write(s, rows, count, dspam, dham) < 0) {
		*error_r = om_sqlite_error(s, "save spam tokens");
		return -1;
	}
	return 0;
}

/* Deletes the tokens seen in at most max_count messages. */
static int om_sqlite_spam_delete_rare(struct om_store_sqlite *s, long max_count,
				      long *removed_r)
{
	sqlite3_stmt *stmt = s->stmts[OM_SQL_SPAM_PRUNE];
	int ok;

	sqlite3_reset(stmt);
	ok = sqlite3_bind_int64(stmt, 1, max_count) == SQLITE_OK &&
		sqlite3_step(stmt) == SQLITE_DONE;
	sqlite3_reset(stmt);
	*removed_r = ok ? (long)sqlite3_changes(s->db) : 0;
	return ok ? 0 : -1;
}

static int om_sqlite_spam_prune(struct om_store *store, long max_count,
				long *removed_r, long *left_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long long left = 0;

	if (om_sqlite_spam_delete_rare(s, max_count, removed_r) < 0 ||
	    om_sqlite_read_number(s->stmts[OM_SQL_SPAM_TOKEN_COUNT], &left) < 0) {
		*error_r = om_sqlite_error(s, "prune spam tokens");
		return -1;
	}
	*left_r = (long)left;
	return om_sqlite_exec_stmt(s, OM_SQL_SPAM_REVISION_BUMP, error_r);
}

/* ---- quarantined mail, digests, correspondents, nonces ---- */

static int om_sqlite_bind_q(sqlite3_stmt *stmt, const struct om_store_quarantined *q)
{
	int ok = SQLITE_OK;

	ok |= sqlite3_bind_text(stmt, 1, q->id, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 2, q->mailbox, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int64(stmt, 3, q->received);
	ok |= sqlite3_bind_text(stmt, 4, q->sender, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 5, q->from, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 6, q->subject, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 7, q->score, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 8, q->reasons, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int64(stmt, 9, q->size);
	ok |= sqlite3_bind_int64(stmt, 10, q->digest);
	ok |= sqlite3_bind_text(stmt, 11, q->from_address, -1, SQLITE_STATIC);
	return ok == SQLITE_OK ? 0 : -1;
}

static const char *om_sqlite_text(sqlite3_stmt *stmt, int col)
{
	const char *text = (const char *)sqlite3_column_text(stmt, col);

	return text != NULL ? text : "";
}

/* Steps a statement yielding quarantine rows (column order of
   OM_SQL_Q_GET) into cb; the count or -1. */
static int om_sqlite_q_rows(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			    om_store_quarantined_cb *cb, void *context,
			    char **error_r)
{
	struct om_store_quarantined q;
	int ret, rows = 0;

	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		q.id = om_sqlite_text(stmt, 0);
		q.mailbox = om_sqlite_text(stmt, 1);
		q.received = sqlite3_column_int64(stmt, 2);
		q.sender = om_sqlite_text(stmt, 3);
		q.from = om_sqlite_text(stmt, 4);
		q.subject = om_sqlite_text(stmt, 5);
		q.score = om_sqlite_text(stmt, 6);
		q.reasons = om_sqlite_text(stmt, 7);
		q.size = sqlite3_column_int64(stmt, 8);
		q.digest = sqlite3_column_int64(stmt, 9);
		q.from_address = om_sqlite_text(stmt, 10);
		cb(context, &q);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read quarantine");
		return -1;
	}
	return rows;
}

/* Resets stmt and binds ?1 text (may be NULL: unbound) and ?2 number. */
static sqlite3_stmt *om_sqlite_bind_tn(struct om_store_sqlite *s,
				       enum om_stmt_id id, const char *text,
				       long long number)
{
	sqlite3_stmt *stmt = s->stmts[id];
	int ok = SQLITE_OK;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (text != NULL)
		ok |= sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
	else
		ok |= sqlite3_bind_int64(stmt, 1, number);
	if (text != NULL)
		ok |= sqlite3_bind_int64(stmt, 2, number);
	return ok == SQLITE_OK ? stmt : NULL;
}

/* Runs a bound write statement; the rows it changed, or -1. */
static int om_sqlite_step_write(struct om_store_sqlite *s, sqlite3_stmt *stmt,
				const char *what, char **error_r)
{
	int ret;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, what);
		return -1;
	}
	ret = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, what);
		return -1;
	}
	return sqlite3_changes(s->db);
}

static int om_sqlite_quarantine_add(struct om_store *store,
				    const struct om_store_quarantined *q,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_Q_ADD];

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (om_sqlite_bind_q(stmt, q) < 0)
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "record quarantined mail",
				    error_r) < 0 ? -1 : 0;
}

static int om_sqlite_quarantine_get(struct om_store *store, const char *mailbox,
				    const char *id, om_store_quarantined_cb *cb,
				    void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Q_GET, mailbox, id, NULL, 0);

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	return om_sqlite_q_rows(s, stmt, cb, context, error_r);
}

static int om_sqlite_quarantine_each(struct om_store *store, const char *mailbox,
				     om_store_quarantined_cb *cb, void *context,
				     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Q_EACH, mailbox, NULL, NULL, 0);

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	return om_sqlite_q_rows(s, stmt, cb, context, error_r);
}

static int om_sqlite_quarantine_delete(struct om_store *store, const char *mailbox,
				       const char *id, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_Q_DELETE, mailbox,
						      id, NULL, 0),
				    "forget quarantined mail", error_r);
}

static int om_sqlite_quarantine_expire(struct om_store *store, const char *mailbox,
				       long long before, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_Q_EXPIRE,
							 mailbox, before),
				    "expire quarantined mail", error_r);
}

/* Inside the caller's write transaction. */
static int om_sqlite_digest_claim(struct om_store *store, const char *mailbox,
				  long long now, long long *digest_r,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long long unlisted = 0;
	sqlite3_stmt *stmt;

	*digest_r = 0;
	stmt = om_sqlite_bind(s, OM_SQL_Q_UNLISTED, mailbox, NULL, NULL, 0);
	if (stmt == NULL || om_sqlite_read_number(stmt, &unlisted) < 0) {
		*error_r = om_sqlite_error(s, "count unlisted quarantined mail");
		return -1;
	}
	if (unlisted == 0)
		return 0;
	if (om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_D_NEW, mailbox, now),
				 "make a digest", error_r) < 0)
		return -1;
	*digest_r = (long long)sqlite3_last_insert_rowid(s->db);
	stmt = om_sqlite_bind_tn(s, OM_SQL_D_MARK, mailbox, *digest_r);
	return om_sqlite_step_write(s, stmt, "mark digested mail", error_r);
}

static int om_sqlite_digest_items(struct om_store *store, long long digest,
				  om_store_quarantined_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind_tn(s, OM_SQL_D_ITEMS, NULL, digest);

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	return om_sqlite_q_rows(s, stmt, cb, context, error_r);
}

static int om_sqlite_digest_sent(struct om_store *store, long long digest,
				 long long sent, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_D_SENT];

	sqlite3_reset(stmt);
	if (sqlite3_bind_int64(stmt, 1, digest) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, sent) != SQLITE_OK)
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "mark a digest sent", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_digest_pending(struct om_store *store, long long before,
				    om_store_digest_cb *cb, void *context,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind_tn(s, OM_SQL_D_PENDING, NULL, before);
	struct om_store_digest d;
	int ret, rows = 0;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		d.id = sqlite3_column_int64(stmt, 0);
		d.mailbox = om_sqlite_text(stmt, 1);
		d.created = sqlite3_column_int64(stmt, 2);
		d.sent = sqlite3_column_int64(stmt, 3);
		cb(context, &d);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read pending digests");
		return -1;
	}
	return rows;
}

static int om_sqlite_digest_last(struct om_store *store, const char *mailbox,
				 long long *created_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_D_LAST, mailbox, NULL, NULL, 0);

	if (stmt == NULL || om_sqlite_read_number(stmt, created_r) < 0) {
		*error_r = om_sqlite_error(s, "read the last digest");
		return -1;
	}
	return 0;
}

static int om_sqlite_digest_due(struct om_store *store, om_store_unlisted_cb *cb,
				void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_D_DUE];
	int ret, rows = 0;

	sqlite3_reset(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, om_sqlite_text(stmt, 0), (long)sqlite3_column_int64(stmt, 1),
		   (long)sqlite3_column_int64(stmt, 2));
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read mailboxes due a digest");
		return -1;
	}
	return rows;
}

static int om_sqlite_correspondent_put(struct om_store *store,
				       const struct om_store_correspondent *c,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_C_SAVE, c->mailbox, c->address,
					    NULL, 0);

	if (stmt != NULL && sqlite3_bind_int64(stmt, 3, c->last) != SQLITE_OK)
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "save correspondents", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_correspondent_known(struct om_store *store,
					 const char *mailbox, const char *address,
					 char **error_r)
{
	char *value = NULL;
	int ret = om_sqlite_lookup(om_sqlite(store), OM_SQL_C_KNOWN, mailbox,
				   address, &value, error_r);

	free(value);
	return ret;
}

/* Inside the caller's write transaction. */
static int om_sqlite_nonce_use(struct om_store *store, const char *nonce,
			       long long expires, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	int changed;

	if (om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_N_EXPIRE, NULL, now),
				 "forget used form values", error_r) < 0)
		return -1;
	changed = om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_N_USE, nonce,
							    expires),
				       "use a form value", error_r);
	return changed < 0 ? -1 : changed > 0;
}

/* ---- outbound mail ---- */

/* Inside the caller's write transaction. */
static int om_sqlite_outbound_claim(struct om_store *store,
				    const struct om_store_outbound *m,
				    enum om_outbound_state *state_r,
				    char **reply_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_OB_ADD, m->queue_id,
					    m->hash, m->sender, 0);
	int ret, state;

	if (stmt != NULL &&
	    (sqlite3_bind_int64(stmt, 4, m->recipients) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 5, m->received) != SQLITE_OK))
		stmt = NULL;
	if (om_sqlite_step_write(s, stmt, "record outbound mail", error_r) < 0)
		return -1;
	stmt = om_sqlite_bind(s, OM_SQL_OB_GET, m->queue_id, m->hash, NULL, 0);
	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	ret = sqlite3_step(stmt);
	if (ret != SQLITE_ROW) {
		*error_r = om_sqlite_error(s, "read outbound mail");
		sqlite3_reset(stmt);
		return -1;
	}
	state = sqlite3_column_int(stmt, 0);
	if (state == OM_OUTBOUND_REFUSED)
		*reply_r = om_strdup(om_sqlite_text(stmt, 1));
	sqlite3_reset(stmt);
	switch (state) {
	case OM_OUTBOUND_PENDING:
	case OM_OUTBOUND_SENT:
	case OM_OUTBOUND_REFUSED:
		*state_r = (enum om_outbound_state)state;
		return 0;
	default:
		break;
	}
	om_free(reply_r);
	*error_r = om_asprintf("store: outbound mail in unknown state %d", state);
	return -1;
}

static int om_sqlite_outbound_finish(struct om_store *store,
				     const char *queue_id, const char *hash,
				     enum om_outbound_state state,
				     const char *reply, long long now,
				     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_OB_FINISH, queue_id, hash,
					    NULL, 0);
	int ret;

	if (stmt != NULL &&
	    (sqlite3_bind_int(stmt, 3, (int)state) != SQLITE_OK ||
	     sqlite3_bind_text(stmt, 4, reply, -1, SQLITE_STATIC) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 5, now) != SQLITE_OK))
		stmt = NULL;
	ret = om_sqlite_step_write(s, stmt, "mark outbound mail", error_r);
	if (ret == 0) {
		*error_r = om_strdup("store: outbound mail to mark is not recorded");
		return -1;
	}
	return ret < 0 ? -1 : 0;
}

static int om_sqlite_outbound_expire(struct om_store *store, long long before,
				     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_OB_EXPIRE, NULL,
							 before),
				    "forget outbound mail", error_r);
}

/* ---- held outbound mail ---- */

static int om_sqlite_hold_add(struct om_store *store, const struct om_store_hold *h,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_H_ADD];
	int ok = SQLITE_OK;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	ok |= sqlite3_bind_text(stmt, 1, h->id, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 2, h->mailbox, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 3, h->sender, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 4, h->recipients, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 5, h->delivered, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 6, h->subject, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 7, h->attachments, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int64(stmt, 8, h->size);
	ok |= sqlite3_bind_int(stmt, 9, h->flags);
	ok |= sqlite3_bind_int64(stmt, 10, h->created);
	ok |= sqlite3_bind_int64(stmt, 11, h->expires);
	ok |= sqlite3_bind_text(stmt, 12, h->expiry, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int(stmt, 13, h->kind != NULL &&
			       strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0 ?
			       OM_HOLD_ADMIN : OM_HOLD_HELD);
	ok |= sqlite3_bind_text(stmt, 14, h->kind != NULL ? h->kind : OM_HOLD_KIND_SENDER,
				-1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 15, h->details != NULL ? h->details : "", -1,
				SQLITE_STATIC);
	return om_sqlite_step_write(s, ok == SQLITE_OK ? stmt : NULL, "record a hold",
				    error_r);
}

/* Steps a statement yielding hold rows (column order of OM_SQL_H_GET)
   into cb; the count or -1. */
static int om_sqlite_h_rows(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			    om_store_hold_cb *cb, void *context, char **error_r)
{
	struct om_store_hold h;
	int ret, rows = 0, state;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		h.id = om_sqlite_text(stmt, 0);
		h.mailbox = om_sqlite_text(stmt, 1);
		h.sender = om_sqlite_text(stmt, 2);
		h.recipients = om_sqlite_text(stmt, 3);
		h.delivered = om_sqlite_text(stmt, 4);
		h.subject = om_sqlite_text(stmt, 5);
		h.attachments = om_sqlite_text(stmt, 6);
		h.size = sqlite3_column_int64(stmt, 7);
		h.flags = sqlite3_column_int(stmt, 8);
		h.created = sqlite3_column_int64(stmt, 9);
		h.expires = sqlite3_column_int64(stmt, 10);
		h.expiry = om_sqlite_text(stmt, 11);
		state = sqlite3_column_int(stmt, 12);
		h.state = (enum om_hold_state)state;
		h.changed = sqlite3_column_int64(stmt, 13);
		h.notified = sqlite3_column_int(stmt, 14);
		h.result = om_sqlite_text(stmt, 15);
		h.kind = om_sqlite_text(stmt, 16);
		h.details = om_sqlite_text(stmt, 17);
		cb(context, &h);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read holds");
		return -1;
	}
	return rows;
}

static int om_sqlite_hold_list(struct om_store *store, enum om_hold_query query,
			       const char *text, long long number,
			       om_store_hold_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = NULL;

	switch (query) {
	case OM_HOLD_BY_ID:
		stmt = om_sqlite_bind(s, OM_SQL_H_GET, text, NULL, NULL, 0);
		break;
	case OM_HOLD_BY_MAILBOX:
		stmt = om_sqlite_bind(s, OM_SQL_H_MAILBOX, text, NULL, NULL, 0);
		break;
	case OM_HOLD_BY_STATE:
		stmt = om_sqlite_bind_tn(s, OM_SQL_H_STATE, NULL, number);
		break;
	case OM_HOLD_DUE:
		stmt = om_sqlite_bind_tn(s, OM_SQL_H_DUE, NULL, number);
		break;
	case OM_HOLD_BRAKED:
		stmt = om_sqlite_bind(s, OM_SQL_H_BRAKED, text, NULL, NULL, 0);
		break;
	}
	return om_sqlite_h_rows(s, stmt, cb, context, error_r);
}

/* Inside the caller's write transaction: 1 moved, 0 not in a from state. */
static int om_sqlite_hold_move(struct om_store *store, const char *id,
			       enum om_hold_state from1, enum om_hold_state from2,
			       enum om_hold_state to, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_MOVE, id, NULL, NULL, 0);

	if (stmt != NULL &&
	    (sqlite3_bind_int(stmt, 2, (int)to) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 3, now) != SQLITE_OK ||
	     sqlite3_bind_int(stmt, 4, (int)from1) != SQLITE_OK ||
	     sqlite3_bind_int(stmt, 5, (int)from2) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "move a hold", error_r);
}

static int om_sqlite_hold_set(struct om_store *store, const char *id,
			      enum om_hold_state state, const char *result,
			      long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_SET, id, NULL, NULL, 0);

	if (stmt != NULL &&
	    (sqlite3_bind_int(stmt, 2, (int)state) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 3, now) != SQLITE_OK ||
	     sqlite3_bind_text(stmt, 4, result, -1, SQLITE_STATIC) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "mark a hold", error_r);
}

static int om_sqlite_hold_notified(struct om_store *store, const char *id,
				   char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_H_NOTIFIED, id, NULL,
						      NULL, 0),
				    "mark a hold notified", error_r);
}

static int om_sqlite_hold_expire(struct om_store *store, long long before,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_H_EXPIRE, NULL,
							 before),
				    "forget holds", error_r);
}

/* ---- outbound-zip's passwords ---- */

static int om_sqlite_zip_add(struct om_store *store, const struct om_store_zip *z,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_Z_ADD];
	int ok = SQLITE_OK;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	ok |= sqlite3_bind_text(stmt, 1, z->id, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 2, z->mailbox, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 3, z->recipients, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 4, z->subject, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 5, z->archive, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 6, z->sealed, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int64(stmt, 7, z->created);
	ok |= sqlite3_bind_int64(stmt, 8, z->expires);
	return om_sqlite_step_write(s, ok == SQLITE_OK ? stmt : NULL,
				    "record a zip password", error_r);
}

static int om_sqlite_zip_list(struct om_store *store, const char *id, int state,
			      om_store_zip_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = id != NULL ?
		om_sqlite_bind(s, OM_SQL_Z_GET, id, NULL, NULL, 0) :
		om_sqlite_bind_tn(s, OM_SQL_Z_STATE, NULL, state);
	struct om_store_zip z;
	int ret, rows = 0, zstate;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		z.id = om_sqlite_text(stmt, 0);
		z.mailbox = om_sqlite_text(stmt, 1);
		z.recipients = om_sqlite_text(stmt, 2);
		z.subject = om_sqlite_text(stmt, 3);
		z.archive = om_sqlite_text(stmt, 4);
		z.sealed = om_sqlite_text(stmt, 5);
		z.created = sqlite3_column_int64(stmt, 6);
		z.expires = sqlite3_column_int64(stmt, 7);
		zstate = sqlite3_column_int(stmt, 8);
		z.state = (enum om_zip_state)zstate;
		z.changed = sqlite3_column_int64(stmt, 9);
		z.sent = sqlite3_column_int64(stmt, 10);
		z.result = om_sqlite_text(stmt, 11);
		cb(context, &z);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read zip passwords");
		return -1;
	}
	return rows;
}

/* Inside the caller's write transaction: 1 moved, 0 not (another state,
   or past its expiry). */
static int om_sqlite_zip_move(struct om_store *store, const char *id,
			      enum om_zip_state from, enum om_zip_state to,
			      long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Z_MOVE, id, NULL, NULL, 0);

	if (stmt != NULL &&
	    (sqlite3_bind_int(stmt, 2, (int)to) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 3, now) != SQLITE_OK ||
	     sqlite3_bind_int(stmt, 4, (int)from) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "claim a zip password", error_r);
}

static int om_sqlite_zip_set(struct om_store *store, const char *id,
			     enum om_zip_state state, long long sent,
			     const char *result, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Z_SET, id, NULL, NULL, 0);

	if (stmt != NULL &&
	    (sqlite3_bind_int(stmt, 2, (int)state) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 3, now) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 4, sent) != SQLITE_OK ||
	     sqlite3_bind_text(stmt, 5, result, -1, SQLITE_STATIC) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "mark a zip password", error_r);
}

static int om_sqlite_zip_expire(struct om_store *store, long long now,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_Z_EXPIRE, NULL, now),
				    "forget zip passwords", error_r);
}

/* ---- the compromised-account brake ---- */

/* Inside the caller's write transaction. */
static int om_sqlite_history_put(struct om_store *store,
				 const struct om_store_history *h, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind_tn(s, OM_SQL_HIST_PUT, h->login, h->hour);

	if (stmt != NULL &&
	    (sqlite3_bind_int64(stmt, 3, h->messages) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 4, h->recipients) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "save sender history", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_history_expire(struct om_store *store, long long before,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_HIST_EXPIRE, NULL,
							 before),
				    "forget sender history", error_r);
}

/* Steps a statement yielding history rows into cb; the count or -1. */
static int om_sqlite_history_step(struct om_store_sqlite *s, sqlite3_stmt *stmt,
				  om_store_history_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_history h;
	int ret, rows = 0;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		h.login = om_sqlite_text(stmt, 0);
		h.hour = sqlite3_column_int64(stmt, 1);
		h.messages = sqlite3_column_int64(stmt, 2);
		h.recipients = sqlite3_column_int64(stmt, 3);
		cb(context, &h);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read sender history");
		return -1;
	}
	return rows;
}

static int om_sqlite_history_peaks(struct om_store *store, long long since,
				   long long before, om_store_history_cb *cb,
				   void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind_tn(s, OM_SQL_HIST_PEAKS, NULL, since);

	if (stmt != NULL && sqlite3_bind_int64(stmt, 2, before) != SQLITE_OK)
		stmt = NULL;
	return om_sqlite_history_step(s, stmt, cb, context, error_r);
}

static int om_sqlite_history_rows(struct om_store *store, const char *login,
				  long long hour, om_store_history_cb *cb,
				  void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_history_step(s, login != NULL ?
				      om_sqlite_bind_tn(s, OM_SQL_HIST_LOGIN, login, hour) :
				      om_sqlite_bind_tn(s, OM_SQL_HIST_HOUR, NULL, hour),
				      cb, context, error_r);
}

static int om_sqlite_brake_trip(struct om_store *store, const struct om_store_brake *b,
				long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind_tn(s, OM_SQL_BRAKE_TRIP, b->login, b->since);

	if (stmt != NULL &&
	    (sqlite3_bind_int64(stmt, 3, b->messages) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 4, b->recipients) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 5, b->limit_messages) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 6, b->limit_recipients) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 7, b->peak_messages) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 8, b->peak_recipients) != SQLITE_OK ||
	     sqlite3_bind_int64(stmt, 9, now) != SQLITE_OK))
		stmt = NULL;
	return om_sqlite_step_write(s, stmt, "record a brake", error_r);
}

static int om_sqlite_brake_list(struct om_store *store, const char *login,
				om_store_brake_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = login != NULL ?
		om_sqlite_bind(s, OM_SQL_BRAKE_GET, login, NULL, NULL, 0) :
		om_sqlite_bind(s, OM_SQL_BRAKE_ON, NULL, NULL, NULL, 0);
	struct om_store_brake b;
	int ret, rows = 0, state;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		b.login = om_sqlite_text(stmt, 0);
		state = sqlite3_column_int(stmt, 1);
		b.state = (enum om_brake_state)state;
		b.since = sqlite3_column_int64(stmt, 2);
		b.messages = sqlite3_column_int64(stmt, 3);
		b.recipients = sqlite3_column_int64(stmt, 4);
		b.limit_messages = sqlite3_column_int64(stmt, 5);
		b.limit_recipients = sqlite3_column_int64(stmt, 6);
		b.peak_messages = sqlite3_column_int64(stmt, 7);
		b.peak_recipients = sqlite3_column_int64(stmt, 8);
		b.alerted = sqlite3_column_int(stmt, 9);
		b.changed = sqlite3_column_int64(stmt, 10);
		cb(context, &b);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read brakes");
		return -1;
	}
	return rows;
}

static int om_sqlite_brake_lift(struct om_store *store, const char *login,
				long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind_tn(s, OM_SQL_BRAKE_LIFT, login, now),
				    "lift a brake", error_r);
}

static int om_sqlite_brake_alert(struct om_store *store, const char *login,
				 int claim, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, claim ? OM_SQL_BRAKE_ALERT :
						      OM_SQL_BRAKE_UNALERT, login,
						      NULL, NULL, 0),
				    "mark a brake's alert", error_r);
}

/* ---- the URL reputation store ---- */

/* Keys one OM_SQL_URL_FIND reads (its ?3..?10). */
#define OM_SQLITE_URL_KEYS 8

/* Steps a statement yielding URL entries (column order of
   OM_SQL_URL_FIND) into cb; the count or -1. */
static long om_sqlite_url_rows(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			       om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_store_url u;
	long rows = 0;
	int ret, kind, verdict;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		kind = sqlite3_column_int(stmt, 0);
		verdict = sqlite3_column_int(stmt, 3);
		u.kind = (enum om_url_kind)kind;
		u.key = om_sqlite_text(stmt, 1);
		u.source = om_sqlite_text(stmt, 2);
		u.verdict = (enum om_url_verdict)verdict;
		u.added = sqlite3_column_int64(stmt, 4);
		u.expires = sqlite3_column_int64(stmt, 5);
		cb(context, &u);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read URL entries");
		return -1;
	}
	return rows;
}

static int om_sqlite_url_find(struct om_store *store, enum om_url_kind kind,
			      const char *const *keys, size_t count, long long now,
			      om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_URL_FIND];
	size_t i, n;
	long rows;
	int ok, found = 0;

	for (i = 0; i < count; i += OM_SQLITE_URL_KEYS) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		ok = sqlite3_bind_int(stmt, 1, (int)kind);
		ok |= sqlite3_bind_int64(stmt, 2, now);
		for (n = 0; n < OM_SQLITE_URL_KEYS && i + n < count; n++)
			ok |= sqlite3_bind_text(stmt, 3 + (int)n, keys[i + n], -1,
						SQLITE_STATIC);
		rows = om_sqlite_url_rows(s, ok == SQLITE_OK ? stmt : NULL, cb,
					  context, error_r);
		if (rows < 0)
			return -1;
		found |= rows > 0;
	}
	return found;
}

static int om_sqlite_url_put(struct om_store *store, const struct om_store_url *u,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_URL_PUT];
	int ok;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	ok = sqlite3_bind_int(stmt, 1, (int)u->kind);
	ok |= sqlite3_bind_text(stmt, 2, u->key, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 3, u->source, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int(stmt, 4, (int)u->verdict);
	ok |= sqlite3_bind_int64(stmt, 5, u->added);
	ok |= sqlite3_bind_int64(stmt, 6, u->expires);
	return om_sqlite_step_write(s, ok == SQLITE_OK ? stmt : NULL,
				    "write a URL entry", error_r) < 0 ? -1 : 0;
}

static int om_sqlite_url_remove(struct om_store *store, enum om_url_kind kind,
				const char *key, const char *source, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[source != NULL ? OM_SQL_URL_DEL : OM_SQL_URL_DEL_ANY];
	int ok;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	ok = sqlite3_bind_int(stmt, 1, (int)kind);
	ok |= sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	if (source != NULL)
		ok |= sqlite3_bind_text(stmt, 3, source, -1, SQLITE_STATIC);
	return om_sqlite_step_write(s, ok == SQLITE_OK ? stmt : NULL,
				    "remove a URL entry", error_r);
}

static int om_sqlite_url_click(struct om_store *store, const char *mailbox,
			       const char *host, enum om_url_verdict verdict,
			       long long at, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_URL_CLICK_ADD];
	int ok;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	ok = sqlite3_bind_text(stmt, 1, mailbox, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC);
	ok |= sqlite3_bind_int(stmt, 3, (int)verdict);
	ok |= sqlite3_bind_int64(stmt, 4, at);
	return om_sqlite_step_write(s, ok == SQLITE_OK ? stmt : NULL,
				    "record a click", error_r) < 0 ? -1 : 0;
}

static long om_sqlite_url_clicks_expire(struct om_store *store, long long before,
					char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_URL_CLICKS_EXPIRE];

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return om_sqlite_step_write(s, sqlite3_bind_int64(stmt, 1, before) == SQLITE_OK ?
				    stmt : NULL, "expire clicks", error_r);
}

static long om_sqlite_url_clicks_count(struct om_store *store, const char *mailbox,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_URL_CLICKS_COUNT, mailbox,
					    NULL, NULL, 0);
	long long n;

	if (stmt == NULL || om_sqlite_read_number(stmt, &n) < 0) {
		*error_r = om_sqlite_error(s, "count clicks");
		return -1;
	}
	return (long)n;
}

static long om_sqlite_urls_drop_source(struct om_store *store, const char *source,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_URL_DROP_SOURCE, source,
						      NULL, NULL, 0),
				    "remove a feed's URL entries", error_r);
}

static long om_sqlite_urls_count(struct om_store *store, const char *source,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, source != NULL ? OM_SQL_URL_COUNT :
					    OM_SQL_URL_COUNT_ALL, source, NULL, NULL, 0);
	long long n;

	if (stmt == NULL || om_sqlite_read_number(stmt, &n) < 0) {
		*error_r = om_sqlite_error(s, "count URL entries");
		return -1;
	}
	return (long)n;
}

static long om_sqlite_urls_each(struct om_store *store, const char *source,
				om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_url_rows(s, om_sqlite_bind(s, source != NULL ? OM_SQL_URL_EACH :
						    OM_SQL_URL_EACH_ALL, source, NULL,
						    NULL, 0), cb, context, error_r);
}

static int om_sqlite_urls_sources(struct om_store *store, om_store_url_source_cb *cb,
				  void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = s->stmts[OM_SQL_URL_SOURCES];
	int ret, rows = 0;

	sqlite3_reset(stmt);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		cb(context, om_sqlite_text(stmt, 0), (long)sqlite3_column_int64(stmt, 1));
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, "read URL sources");
		return -1;
	}
	return rows;
}

const struct om_store_backend om_store_backend_sqlite = {
	.name = "sqlite",
	.open = om_sqlite_open,
	.close = om_sqlite_close,
	.schema_version = om_sqlite_schema_version,
	.begin = om_sqlite_begin,
	.commit = om_sqlite_commit,
	.rollback = om_sqlite_rollback,
	.row_set = om_sqlite_row_set,
	.row_get = om_sqlite_row_get,
	.row_delete = om_sqlite_row_delete,
	.row_list = om_sqlite_row_list,
	.list_put = om_sqlite_list_put,
	.list_remove = om_sqlite_list_remove,
	.list_count = om_sqlite_list_count,
	.list_has = om_sqlite_list_has,
	.list_each = om_sqlite_list_each,
	.rate_put = om_sqlite_rate_put,
	.rates_expire = om_sqlite_rates_expire,
	.rates_each = om_sqlite_rates_each,
	.spam_totals = om_sqlite_spam_totals,
	.spam_tokens = om_sqlite_spam_tokens,
	.spam_add = om_sqlite_spam_add,
	.spam_prune = om_sqlite_spam_prune,
	.revision = om_sqlite_revision,
	.changes = om_sqlite_changes,
	.data_version = om_sqlite_data_version,
	.secret = om_sqlite_secret,
	.quarantine_add = om_sqlite_quarantine_add,
	.quarantine_get = om_sqlite_quarantine_get,
	.quarantine_each = om_sqlite_quarantine_each,
	.quarantine_delete = om_sqlite_quarantine_delete,
	.quarantine_expire = om_sqlite_quarantine_expire,
	.digest_claim = om_sqlite_digest_claim,
	.digest_items = om_sqlite_digest_items,
	.digest_sent = om_sqlite_digest_sent,
	.digest_pending = om_sqlite_digest_pending,
	.digest_last = om_sqlite_digest_last,
	.digest_due = om_sqlite_digest_due,
	.correspondent_put = om_sqlite_correspondent_put,
	.correspondent_known = om_sqlite_correspondent_known,
	.nonce_use = om_sqlite_nonce_use,
	.outbound_claim = om_sqlite_outbound_claim,
	.outbound_finish = om_sqlite_outbound_finish,
	.outbound_expire = om_sqlite_outbound_expire,
	.hold_add = om_sqlite_hold_add,
	.hold_list = om_sqlite_hold_list,
	.hold_move = om_sqlite_hold_move,
	.hold_set = om_sqlite_hold_set,
	.hold_notified = om_sqlite_hold_notified,
	.hold_expire = om_sqlite_hold_expire,
	.zip_add = om_sqlite_zip_add,
	.zip_list = om_sqlite_zip_list,
	.zip_move = om_sqlite_zip_move,
	.zip_set = om_sqlite_zip_set,
	.zip_expire = om_sqlite_zip_expire,
	.history_put = om_sqlite_history_put,
	.history_expire = om_sqlite_history_expire,
	.history_peaks = om_sqlite_history_peaks,
	.history_rows = om_sqlite_history_rows,
	.brake_trip = om_sqlite_brake_trip,
	.brake_list = om_sqlite_brake_list,
	.brake_lift = om_sqlite_brake_lift,
	.brake_alert = om_sqlite_brake_alert,
	.url_find = om_sqlite_url_find,
	.url_put = om_sqlite_url_put,
	.url_remove = om_sqlite_url_remove,
	.url_click = om_sqlite_url_click,
	.url_clicks_expire = om_sqlite_url_clicks_expire,
	.url_clicks_count = om_sqlite_url_clicks_count,
	.urls_drop_source = om_sqlite_urls_drop_source,
	.urls_count = om_sqlite_urls_count,
	.urls_each = om_sqlite_urls_each,
	.urls_sources = om_sqlite_urls_sources,
};
