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
#include "store/store-sql.h"
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
	OM_SQL_RATE_ADD,
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
	OM_SQL_D_SENT_COUNT,
	OM_SQL_D_DUE,
	OM_SQL_C_SAVE,
	OM_SQL_C_KNOWN,
	OM_SQL_C_LIST,
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
	OM_SQL_H_ASKED,
	OM_SQL_H_MOVE,
	OM_SQL_H_ASK,
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
	OM_SQL_ISO_ADD,
	OM_SQL_ISO_GET,
	OM_SQL_ISO_DUE,
	OM_SQL_ISO_DELETE,
	OM_SQL_AUDIT_PARK,
	OM_SQL_AUDIT_UNPARK_DOWN,
	OM_SQL_AUDIT_UNPARK_UP,
	OM_SQL_AUDIT_INSERT,
	OM_SQL_AUDIT_DELETE,
	OM_SQL_AUDIT_LAST,
	OM_SQL_AUDIT_LIST,
	OM_SQL_AUDIT_LIST_ALL,
	OM_SQL_SANDBOX_GET,
	OM_SQL_SANDBOX_PUT,
	OM_SQL_PORTAL_ADD,
	OM_SQL_PORTAL_GET,
	OM_SQL_PORTAL_DUE,
	OM_SQL_PORTAL_BY_SENDER,
	OM_SQL_PORTAL_REVOKE,
	OM_SQL_PORTAL_EXPIRES,
	OM_SQL_PORTAL_DELETE,
	OM_SQL_PORTAL_VIEWS_DELETE,
	OM_SQL_PORTAL_CODES_DELETE,
	OM_SQL_PORTAL_VIEW_ADD,
	OM_SQL_PORTAL_VIEWS,
	OM_SQL_PORTAL_CODE_SET,
	OM_SQL_PORTAL_CODE_GET,
	OM_SQL_PORTAL_CODE_TRIES,
	OM_SQL_GROUP_INSERT,
	OM_SQL_GROUP_REMOVE,
	OM_SQL_GROUP_LIST,
	OM_SQL_GROUP_LIST_ALL,
	OM_SQL_GROUP_MEMBERS,
	OM_SQL_DOM_DELETE_SCOPE,
	OM_SQL_SUB_HISTORY,
	OM_SQL_SUB_HISTORY_PUT,
	OM_SQL_ADMIN_PUT,
	OM_SQL_ADMIN_DELETE,
	OM_SQL_ADMIN_COUNT,
	OM_SQL_ADMIN_LIST,
	OM_SQL_ADMIN_LIST_ALL,
	OM_SQL_ADMIN_OF,
	OM_SQL_CHANGE_ADD,
	OM_SQL_CHANGE_LIST,
	OM_SQL_EVENT_ADD,
	OM_SQL_EVENTS_EXPIRE,
	OM_SQL_TRACE_FIND_MID,
	OM_SQL_TRACE_FIND_RCPT,
	OM_SQL_TRACE_FIND_SENDER,
	OM_SQL_TRACE_FIND_DOMAIN,
	OM_SQL_TRACE_BY_MID,
	OM_SQL_TRACE_BY_QID,
	OM_SQL_TRACE_BY_ID,
	OM_SQL_REPORT_DAYS,
	OM_SQL_REPORT_RESULTS,
	OM_SQL_REPORT_VIRUSES,
	OM_SQL_REPORT_SPAM_DOMAINS,
	OM_SQL_REPORT_CLAIM,
	OM_SQL_REPORT_UNCLAIM,
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
	/* increments: added within the same window, replacing an older
	   one's counts, dropped for a newer one (om_store_rates_merge) */
	[OM_SQL_RATE_ADD] =
		"INSERT INTO rate_counters(user, window_start, messages, recipients) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(user) DO UPDATE SET "
		"messages = CASE WHEN excluded.window_start = rate_counters.window_start "
		"THEN rate_counters.messages + excluded.messages "
		"WHEN excluded.window_start > rate_counters.window_start "
		"THEN excluded.messages ELSE rate_counters.messages END, "
		"recipients = CASE WHEN excluded.window_start = rate_counters.window_start "
		"THEN rate_counters.recipients + excluded.recipients "
		"WHEN excluded.window_start > rate_counters.window_start "
		"THEN excluded.recipients ELSE rate_counters.recipients END, "
		"window_start = MAX(rate_counters.window_start, excluded.window_start) "
		"RETURNING user, window_start, messages, recipients",
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
	/* the classifier's memory of the sites ham came from (spam.c's
	   "site@:", "site#:", "site=:", "site~:" and "site^:" keys) outlives a prune
	   while ham counts it: a partner who wrote once is still one; a
	   site only spam came from goes like any rare token; and a
	   mailbox's "lesson@:" keys (what it taught with each message, a
	   count of one) stay, or a move out of Junk after a prune could no
	   longer take back the move in */
	[OM_SQL_SPAM_PRUNE] =
		"DELETE FROM spam_tokens WHERE spam + ham <= ?1 AND "
		"NOT (ham > 0 AND substr(token, 1, 5) IN ('site@', 'site#', 'site=', 'site~', 'site^')) "
		"AND substr(token, 1, 8) <> 'lesson@:'",
	[OM_SQL_SPAM_TOKEN_COUNT] = "SELECT count(*) FROM spam_tokens",
	/* token deletions have no trigger: the pruner tells the readers */
	[OM_SQL_SPAM_REVISION_BUMP] = "UPDATE revisions SET value = value + 1 WHERE name = 'spam'",
	[OM_SQL_REVISION] = "SELECT value FROM revisions WHERE name = ?1",
	[OM_SQL_CHANGES] =
		"SELECT scope FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[OM_SQL_SECRET] = "SELECT value FROM secrets WHERE name = ?1",
	[OM_SQL_Q_ADD] =
		"INSERT INTO quarantine(id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address, admin_only, message_id) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, coalesce(?13, '')) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_SQL_Q_GET] =
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address, admin_only, message_id FROM quarantine WHERE mailbox = ?1 AND id = ?2",
	[OM_SQL_Q_EACH] =
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address, admin_only, message_id FROM quarantine WHERE mailbox = ?1 "
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
		"SELECT id, mailbox, received, sender, from_header, subject, score, reasons, size, digest, from_address, admin_only, message_id FROM quarantine WHERE digest = ?1 "
		"ORDER BY received DESC, id",
	[OM_SQL_D_SENT] = "UPDATE digests SET sent = ?2 WHERE id = ?1",
	[OM_SQL_D_PENDING] =
		"SELECT id, mailbox, created, sent FROM digests "
		"WHERE sent = 0 AND created < ?1 ORDER BY id",
	[OM_SQL_D_LAST] = "SELECT max(created) FROM digests WHERE mailbox = ?1",
	[OM_SQL_D_SENT_COUNT] = "SELECT count(*) FROM digests WHERE sent > 0",
	[OM_SQL_D_DUE] =
		"SELECT q.mailbox, count(*), sum(EXISTS (SELECT 1 FROM correspondents c "
		"  WHERE c.mailbox = q.mailbox AND c.address = lower(q.sender))) "
		"FROM quarantine q WHERE q.digest = 0 GROUP BY q.mailbox ORDER BY q.mailbox",
	[OM_SQL_C_SAVE] =
		"INSERT INTO correspondents(mailbox, address, last) VALUES (?1, ?2, ?3) "
		"ON CONFLICT(mailbox, address) DO UPDATE SET last = max(last, excluded.last)",
	[OM_SQL_C_KNOWN] =
		"SELECT 1 FROM correspondents WHERE mailbox = ?1 AND address = ?2",
	[OM_SQL_C_LIST] =
		"SELECT address FROM correspondents WHERE mailbox = ?1 "
		"ORDER BY last DESC LIMIT ?2",
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
		"INSERT INTO holds(id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?10, 0, '', ?14, ?15, ?16) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_SQL_H_GET] = "SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE id = ?1",
	[OM_SQL_H_MAILBOX] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE mailbox = ?1 ORDER BY created DESC, id LIMIT 500",
	[OM_SQL_H_STATE] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE state = ?1 ORDER BY created, id",
	[OM_SQL_H_DUE] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE state = 1 AND expires <= ?1 ORDER BY expires, id",
	[OM_SQL_H_BRAKED] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE sender = ?1 AND kind = 'brake' AND state = 5 ORDER BY created, id",
	[OM_SQL_H_ASKED] =
		"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, size, flags, created, expires, expiry, state, changed, notified, result, kind, details, node, asked_by, asked_at FROM holds WHERE node = ?1 AND state IN (6, 7) ORDER BY changed, id",
	[OM_SQL_H_MOVE] =
		"UPDATE holds SET state = ?2, changed = ?3 WHERE id = ?1 AND state IN (?4, ?5)",
	[OM_SQL_H_ASK] =
		"UPDATE holds SET state = ?2, changed = ?3, asked_by = ?6, asked_at = ?3 "
		"WHERE id = ?1 AND state IN (?4, ?5)",
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
	[OM_SQL_ISO_ADD] =
		"INSERT INTO isolated_files(id, mailbox, name, size, true_type, findings, "
		"scan, why, subject, sealed, created, expires, received) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[OM_SQL_ISO_GET] =
		"SELECT id, mailbox, name, size, true_type, findings, scan, why, subject, "
		"sealed, created, expires, received FROM isolated_files WHERE id = ?1",
	[OM_SQL_ISO_DUE] =
		"SELECT id, mailbox, name, size, true_type, findings, scan, why, subject, "
		"sealed, created, expires, received FROM isolated_files WHERE expires <= ?1 "
		"ORDER BY expires, id",
	[OM_SQL_ISO_DELETE] = "DELETE FROM isolated_files WHERE id = ?1",
	/* a shift of positions in two steps (parked as negatives, then
	   back one place on), so that no step meets the primary key */
	[OM_SQL_AUDIT_PARK] = "UPDATE audit_rules SET position = -position "
		"WHERE domain = ?1 AND position >= ?2",
	[OM_SQL_AUDIT_UNPARK_DOWN] = "UPDATE audit_rules SET position = -position - 1 "
		"WHERE domain = ?1 AND position < 0",
	[OM_SQL_AUDIT_UNPARK_UP] = "UPDATE audit_rules SET position = -position + 1 "
		"WHERE domain = ?1 AND position < 0",
	[OM_SQL_AUDIT_INSERT] = "INSERT INTO audit_rules(domain, position, rule, created) "
		"VALUES (?1, ?2, ?3, ?4)",
	[OM_SQL_AUDIT_DELETE] = "DELETE FROM audit_rules WHERE domain = ?1 AND position = ?2",
	[OM_SQL_AUDIT_LAST] = "SELECT coalesce(max(position), 0) FROM audit_rules "
		"WHERE domain = ?1",
	[OM_SQL_AUDIT_LIST] = "SELECT domain, position, rule, created FROM audit_rules "
		"WHERE domain = ?1 ORDER BY position",
	[OM_SQL_AUDIT_LIST_ALL] = "SELECT domain, position, rule, created FROM audit_rules "
		"ORDER BY domain, position",
	[OM_SQL_SANDBOX_GET] =
		"SELECT verdict, first_seen FROM sandbox_verdicts WHERE hash = ?1",
	[OM_SQL_SANDBOX_PUT] =
		"INSERT INTO sandbox_verdicts(hash, verdict, first_seen, updated) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(hash) "
		"DO UPDATE SET verdict = excluded.verdict, updated = excluded.updated",
	[OM_SQL_PORTAL_ADD] =
		"INSERT INTO portal_messages(id, sender, subject, recipients, size, sealed, created, expires, revoked) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0) ON CONFLICT(id) DO NOTHING",
	[OM_SQL_PORTAL_GET] = "SELECT id, sender, subject, recipients, size, sealed, created, expires, revoked FROM portal_messages WHERE id = ?1",
	[OM_SQL_PORTAL_DUE] =
		"SELECT id, sender, subject, recipients, size, sealed, created, expires, revoked FROM portal_messages WHERE expires <= ?1 ORDER BY expires, id",
	[OM_SQL_PORTAL_BY_SENDER] =
		"SELECT id, sender, subject, recipients, size, sealed, created, expires, revoked FROM portal_messages WHERE sender = ?1 ORDER BY created DESC, id",
	[OM_SQL_PORTAL_REVOKE] =
		"UPDATE portal_messages SET sealed = '', revoked = 1 WHERE id = ?1",
	[OM_SQL_PORTAL_EXPIRES] =
		"UPDATE portal_messages SET expires = ?2 WHERE id = ?1 AND revoked = 0",
	[OM_SQL_PORTAL_DELETE] = "DELETE FROM portal_messages WHERE id = ?1",
	[OM_SQL_PORTAL_VIEWS_DELETE] = "DELETE FROM portal_views WHERE id = ?1",
	[OM_SQL_PORTAL_CODES_DELETE] = "DELETE FROM portal_codes WHERE id = ?1",
	[OM_SQL_PORTAL_VIEW_ADD] =
		"INSERT INTO portal_views(id, recipient, what, at) VALUES (?1, ?2, ?3, ?4)",
	[OM_SQL_PORTAL_VIEWS] =
		"SELECT id, recipient, what, at FROM portal_views WHERE id = ?1 ORDER BY at, rowid",
	[OM_SQL_PORTAL_CODE_SET] =
		"INSERT INTO portal_codes(id, recipient, code, expires, tries) "
		"VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT(id, recipient) DO UPDATE SET "
		"code = excluded.code, expires = excluded.expires "
		"WHERE portal_codes.tries < ?5",
	[OM_SQL_PORTAL_CODE_GET] =
		"SELECT code, expires, tries FROM portal_codes WHERE id = ?1 AND recipient = ?2",
	[OM_SQL_PORTAL_CODE_TRIES] =
		"UPDATE portal_codes SET tries = ?3, code = CASE WHEN ?4 THEN '' ELSE code END "
		"WHERE id = ?1 AND recipient = ?2",
	[OM_SQL_GROUP_INSERT] =
		"INSERT INTO policy_groups(domain, name, created) VALUES (?1, ?2, ?3) "
		"ON CONFLICT(domain, name) DO NOTHING",
	[OM_SQL_GROUP_REMOVE] =
		"DELETE FROM policy_groups WHERE domain = ?1 AND name = ?2",
	[OM_SQL_GROUP_LIST] =
		"SELECT domain, name FROM policy_groups WHERE domain = ?1 ORDER BY name",
	[OM_SQL_GROUP_LIST_ALL] =
		"SELECT domain, name FROM policy_groups ORDER BY domain, name",
	/* the mailboxes of domain ?1 (keys ending in "@" ?1) whose own
	   setting "group" is ?2 */
	[OM_SQL_GROUP_MEMBERS] =
		"SELECT domain, value FROM domain_settings WHERE name = 'group' "
		"AND value = ?2 AND length(domain) > length(?1) + 1 "
		"AND substr(domain, length(domain) - length(?1)) = '@' || ?1 "
		"ORDER BY domain",
	[OM_SQL_DOM_DELETE_SCOPE] = "DELETE FROM domain_settings WHERE domain = ?1",
	/* a month's changes (?1 <= at < ?2) and, per mailbox and feature,
	   the last row before it (the state the month began with): the
	   billing export reads one month, not every year before it */
	[OM_SQL_SUB_HISTORY] =
		"SELECT mailbox, feature, state, at FROM ("
		"SELECT mailbox, feature, state, at, rowid AS r FROM subscription_history "
		"WHERE at >= ?1 AND at < ?2 "
		"UNION ALL "
		"SELECT mailbox, feature, state, at, r FROM ("
		"SELECT mailbox, feature, state, at, rowid AS r, row_number() OVER ("
		"PARTITION BY mailbox, feature ORDER BY at DESC, rowid DESC) AS n "
		"FROM subscription_history WHERE at < ?1) WHERE n = 1) "
		"ORDER BY mailbox, feature, at, r",
	[OM_SQL_SUB_HISTORY_PUT] =
		"INSERT INTO subscription_history(mailbox, feature, state, at) "
		"VALUES (?1, ?2, ?3, ?4)",
	[OM_SQL_ADMIN_PUT] =
		"INSERT INTO admins(domain, address, role, rights, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(domain, address) "
		"DO UPDATE SET role = excluded.role, rights = excluded.rights",
	[OM_SQL_ADMIN_DELETE] = "DELETE FROM admins WHERE domain = ?1 AND address = ?2",
	[OM_SQL_ADMIN_COUNT] =
		"SELECT count(*) FROM admins WHERE domain = ?1 AND role = ?2 AND address != ?3",
	[OM_SQL_ADMIN_LIST] =
		"SELECT domain, address, role, rights, created FROM admins "
		"WHERE domain = ?1 ORDER BY domain, role, address",
	[OM_SQL_ADMIN_LIST_ALL] =
		"SELECT domain, address, role, rights, created FROM admins "
		"ORDER BY domain, role, address",
	[OM_SQL_ADMIN_OF] =
		"SELECT domain, address, role, rights, created FROM admins "
		"WHERE address = ?1 ORDER BY domain",
	[OM_SQL_CHANGE_ADD] =
		"INSERT INTO change_log(at, who, domain, what, old, new) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[OM_SQL_CHANGE_LIST] =
		"SELECT id, at, who, domain, what, old, new FROM change_log "
		"WHERE domain = ?1 ORDER BY id DESC LIMIT ?2",
	/* the message trace (doc/trace.md): every statement has the domain
	   as ?1, so a search never sees another domain's rows */
	[OM_SQL_EVENT_ADD] =
		"INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
		"subject, queue_id, step, result, detail, recipients) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	/* per domain, through (domain, at): no index on at alone; the
	   domains found by one index seek each (d), not a scan */
	[OM_SQL_EVENTS_EXPIRE] =
		"WITH RECURSIVE d(name) AS (SELECT min(domain) FROM events UNION ALL "
		"  SELECT (SELECT min(domain) FROM events WHERE domain > d.name) FROM d "
		"  WHERE d.name IS NOT NULL) "
		"DELETE FROM events WHERE domain IN (SELECT name FROM d) AND at < ?1",
	/* the messages a search finds, newest first: its message_id,
	   queue_id, and the row's id when it has neither; the first
	   condition after the domain is the index's (the most selective
	   filter given), the others are checked on the rows it finds */
#define OM_TRACE_FIND(lead) \
		"SELECT message_id, queue_id, " \
		"  CASE WHEN message_id = '' AND queue_id = '' THEN id ELSE 0 END AS lone, " \
		"  max(at) AS last FROM events WHERE domain = ?1 AND " lead \
		"  AND at >= ?2 AND at < ?3 " \
		"  AND (?4 IS NULL OR sender = ?4) AND (?5 IS NULL OR recipient = ?5) " \
		"  AND (?6 IS NULL OR instr(lower(subject), lower(?6)) > 0) " \
		"  AND (?7 IS NULL OR message_id = ?7) " \
		"GROUP BY message_id, queue_id, lone " \
		"ORDER BY last DESC, lone DESC, message_id, queue_id LIMIT ?8"
	[OM_SQL_TRACE_FIND_MID] = OM_TRACE_FIND("message_id = ?7"),
	/* by recipient: its own rows (events_recipient), and policyd's rows
	   of several accepted recipients that name it in their detail
	   ("...; also to a, b": events_shared, rows of recipients > 1 only) */
#define OM_TRACE_FIND_PART(lead) \
		"SELECT message_id, queue_id, " \
		"  CASE WHEN message_id = '' AND queue_id = '' THEN id ELSE 0 END AS lone, " \
		"  at FROM events WHERE domain = ?1 AND " lead \
		"  AND at >= ?2 AND at < ?3 " \
		"  AND (?4 IS NULL OR sender = ?4) " \
		"  AND (?6 IS NULL OR instr(lower(subject), lower(?6)) > 0) " \
		"  AND (?7 IS NULL OR message_id = ?7) "
	[OM_SQL_TRACE_FIND_RCPT] =
		"SELECT message_id, queue_id, lone, max(at) AS last FROM ("
		OM_TRACE_FIND_PART("recipient = ?5") "UNION ALL "
		OM_TRACE_FIND_PART("recipients > 1 AND "
				   "instr(detail || ',', ' ' || ?5 || ',') > 0")
		") GROUP BY message_id, queue_id, lone "
		"ORDER BY last DESC, lone DESC, message_id, queue_id LIMIT ?8",
	[OM_SQL_TRACE_FIND_SENDER] = OM_TRACE_FIND("sender = ?4"),
	[OM_SQL_TRACE_FIND_DOMAIN] = OM_TRACE_FIND("1"),
#define OM_TRACE_ROWS \
		"SELECT id, at, direction, sender, recipient, message_id, subject, " \
		"queue_id, step, result, detail, recipients FROM events WHERE domain = ?1 AND "
	[OM_SQL_TRACE_BY_MID] = OM_TRACE_ROWS "message_id = ?2 ORDER BY at, id LIMIT ?3",
	[OM_SQL_TRACE_BY_QID] = OM_TRACE_ROWS "queue_id = ?2 ORDER BY at, id LIMIT ?3",
	[OM_SQL_TRACE_BY_ID] = OM_TRACE_ROWS "id = ?2 LIMIT ?3",
	/* the monthly report (doc/report.md): the domain and the month's
	   range first (the index events_domain_at), then the step */
#define OM_REPORT_RANGE "FROM events WHERE domain = ?1 AND at >= ?2 AND at < ?3 "
	[OM_SQL_REPORT_DAYS] =
		"SELECT CAST(strftime('%d', at, 'unixepoch', 'localtime') AS INTEGER) AS day, "
		"  result, count(*) " OM_REPORT_RANGE
		"  AND step = ?4 AND direction = ?5 GROUP BY day, result LIMIT ?6",
	[OM_SQL_REPORT_RESULTS] =
		"SELECT 0, result, count(*) AS n " OM_REPORT_RANGE
		"  AND step = ?4 AND (?5 = 0 OR direction = ?5) "
		"GROUP BY result ORDER BY n DESC, result LIMIT ?6",
	/* scand's detail "...; virus NAME; action ..." */
	[OM_SQL_REPORT_VIRUSES] =
		"SELECT 0, CASE WHEN instr(rest, ';') > 0 THEN substr(rest, 1, instr(rest, ';') - 1) "
		"  ELSE rest END AS name, count(*) AS n FROM ("
		"  SELECT substr(detail, instr(detail, 'virus ') + 6) AS rest " OM_REPORT_RANGE
		"  AND step = ?4 AND direction = ?5 AND result = 'virus' "
		"  AND instr(detail, 'virus ') > 0) "
		"GROUP BY name ORDER BY n DESC, name LIMIT ?6",
	[OM_SQL_REPORT_SPAM_DOMAINS] =
		"SELECT 0, CASE WHEN instr(sender, '@') > 0 "
		"  THEN lower(substr(sender, instr(sender, '@') + 1)) ELSE '' END AS d, "
		"  count(*) AS n " OM_REPORT_RANGE
		"  AND step = ?4 AND direction = ?5 AND result = 'spam' "
		"GROUP BY d ORDER BY n DESC, d LIMIT ?6",
	[OM_SQL_REPORT_CLAIM] =
		"INSERT OR IGNORE INTO report_sent(domain, month, recipient, at) "
		"VALUES (?1, ?2, ?3, ?4)",
	[OM_SQL_REPORT_UNCLAIM] =
		"DELETE FROM report_sent WHERE domain = ?1 AND month = ?2 AND recipient = ?3",
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

/* v19: a subscription deleted is one ended, for the billing history */
#define OM_SQ_HISTORY_DELETE_TRIGGER \
	"CREATE TRIGGER subscriptions_history_delete AFTER DELETE ON subscriptions BEGIN" \
	"  INSERT INTO subscription_history(mailbox, feature, state, at)" \
	"    VALUES (old.mailbox, old.feature, 'off'," \
	"            CAST(strftime('%s', 'now') AS INTEGER)); END;"
/* v26: om_address_key_fold in SQL (lower() folds ASCII only, as it does),
   and its form for domain_settings keys (a group scope folds its domain) */
#define OM_SQ_FOLD(c) "rtrim(lower(" c "), '.')"
#define OM_SQ_GROUP_FOLD(c) \
	"(CASE WHEN substr(" c ", 1, 7) = '<group ' AND instr(" c ", '>@') > 0" \
	" THEN substr(" c ", 1, instr(" c ", '>@') + 1) ||" \
	" " OM_SQ_FOLD("substr(" c ", instr(" c ", '>@') + 2)") \
	" ELSE " OM_SQ_FOLD(c) " END)"

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
	/* v14 (issue 16): isolated attachments (doc/attachments.md); the file
	   itself is isolate_dir/<id>, encrypted (crypto/vault.h) under a key
	   of its own, sealed here; findings one per line "NAME\twhere\tja
	   reason\ten reason"; why "finding", "archive" or "all"; removed
	   with the file by omamorictl cron once past expires */
	"CREATE TABLE isolated_files ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  true_type TEXT NOT NULL,"
	"  findings TEXT NOT NULL,"
	"  scan TEXT NOT NULL,"
	"  why TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX isolated_files_expires ON isolated_files(expires);",
	/* v15 (issue 17): audit rules, a domain's ordered list (positions 1,
	   2, ... without gaps), each the text the administrator wrote
	   (shared/audit parses it when it is used) */
	"CREATE TABLE audit_rules ("
	"  domain TEXT NOT NULL,"
	"  position INTEGER NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, position)) WITHOUT ROWID;",
	/* v16 (issue 16): the sandbox's verdicts by file (doc/attachments.md):
	   hash the SHA-256 of the decoded file (hex); verdict "pending",
	   "clean", "malicious" or "unknown"; first_seen when the file was
	   first sent to the sandbox (sandbox_max_wait counts from it, kept
	   when the verdict changes) */
	"CREATE TABLE sandbox_verdicts ("
	"  hash TEXT PRIMARY KEY,"
	"  verdict TEXT NOT NULL CHECK (verdict IN ('pending', 'clean', 'malicious', 'unknown')),"
	"  first_seen INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	/* and the countries of the Received path (scan/geo.h) an isolated
	   file's page shows: "SE US GB", "" unknown */
	"ALTER TABLE isolated_files ADD COLUMN received TEXT NOT NULL DEFAULT '';",
	/* v17 (issue 17): the encrypted delivery portal (doc/portal.md); the
	   message itself is portal_dir/<id>, encrypted (crypto/vault.h),
	   its key sealed here ('' once revoked: nobody can open it);
	   recipients one a line (the external ones, who got the notice);
	   every view and download of portal_views; the recipients'
	   one-time codes (a hash; tries counts wrong answers, 5 lock) */
	"CREATE TABLE portal_messages ("
	"  id TEXT PRIMARY KEY,"
	"  sender TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX portal_messages_expires ON portal_messages(expires);"
	"CREATE INDEX portal_messages_sender ON portal_messages(sender, created);"
	"CREATE TABLE portal_views ("
	"  id TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX portal_views_id ON portal_views(id, at);"
	"CREATE TABLE portal_codes ("
	"  id TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  code TEXT NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  tries INTEGER NOT NULL,"
	"  PRIMARY KEY (id, recipient));",
	/* v18 (issue 18): who administers which domain (doc/admin.md): an ISP
	   operator under domain "*", one main admin and up to four deputies
	   per domain, a deputy's rights space-separated (settings lists holds
	   trace); and the change log of domains' settings, lists and admins
	   (who: the admin's address or "omamorictl (uid N)"; old/new "" when
	   there was or is none) */
	"CREATE TABLE admins ("
	"  domain TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'deputy')),"
	"  rights TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, address)) WITHOUT ROWID;"
	"CREATE INDEX admins_address ON admins(address);"
	"CREATE TABLE change_log ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  old TEXT NOT NULL,"
	"  new TEXT NOT NULL);"
	"CREATE INDEX change_log_domain ON change_log(domain, id);",
	/* v19 (issue 18): policy groups (doc/admin.md "Policy groups"): a
	   domain's named groups (at most four, store.c); their settings are
	   domain_settings rows under "<group NAME>@domain", a mailbox's group
	   its own row "group".  And the history of subscription states for
	   the billing export: a row at each change of a state (a deleted
	   subscription counts as off from then), at the row's updated time;
	   the states there are now are its first rows */
	"CREATE TABLE policy_groups ("
	"  domain TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, name)) WITHOUT ROWID;"
	"CREATE TABLE subscription_history ("
	"  mailbox TEXT NOT NULL,"
	"  feature TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('on', 'paused', 'off')),"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX subscription_history_at ON subscription_history(at);"
	"CREATE TRIGGER subscriptions_history_insert AFTER INSERT ON subscriptions BEGIN"
	"  INSERT INTO subscription_history(mailbox, feature, state, at)"
	"    VALUES (new.mailbox, new.feature, new.state, new.updated); END;"
	"CREATE TRIGGER subscriptions_history_update AFTER UPDATE ON subscriptions"
	"  WHEN old.state IS NOT new.state BEGIN"
	"  INSERT INTO subscription_history(mailbox, feature, state, at)"
	"    VALUES (new.mailbox, new.feature, new.state, new.updated); END;"
	OM_SQ_HISTORY_DELETE_TRIGGER
	"INSERT INTO subscription_history(mailbox, feature, state, at)"
	"  SELECT mailbox, feature, state, updated FROM subscriptions;",
	/* v20 (issues 16, 17): quarantined mail only the administrator may
	   release (an attachment finding's quarantine-admin, an inbound
	   audit rule's hold): its user sees it and cannot release it */
	"ALTER TABLE quarantine ADD COLUMN admin_only INTEGER NOT NULL DEFAULT 0;"
	/* and audit rules move the config revision with their domain's
	   scope, so that omamori-scand's cache of parsed rules (incoming
	   mail) is refreshed with its snapshot */
	OM_CHANGE_TRIGGER("audit_rules", "insert", "new", "domain")
	OM_CHANGE_TRIGGER("audit_rules", "delete", "old", "domain")
	OM_CHANGE_TRIGGER("audit_rules", "update", "new", "domain"),
	/* v21 (issue 18): the message trace and the monthly reports' events
	   (doc/trace.md): one row per step omamori took for a message, of
	   the one domain it belongs to (the recipient's inbound, the
	   sender's outbound); direction 1 in, 2 out, 0 neither (enum
	   om_direction); message_id without its angle brackets, subject
	   decoded and bounded; removed by omamorictl cron after 13 months */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  direction INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  queue_id TEXT NOT NULL,"
	"  step TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  detail TEXT NOT NULL);"
	"CREATE INDEX events_at ON events(at);"
	"CREATE INDEX events_domain_at ON events(domain, at);"
	"CREATE INDEX events_message ON events(domain, message_id);"
	"CREATE INDEX events_queue ON events(domain, queue_id);"
	"CREATE INDEX events_sender ON events(domain, sender, at);"
	"CREATE INDEX events_recipient ON events(domain, recipient, at);"
	"ALTER TABLE quarantine ADD COLUMN message_id TEXT NOT NULL DEFAULT '';",
	/* v22 (issue 20 item 5, doc/report.md): the monthly reports mailed
	   by omamorictl cron, one row per domain, month (YYYY-MM) and
	   recipient, so that a run every minute sends each once */
	"CREATE TABLE report_sent ("
	"  domain TEXT NOT NULL,"
	"  month TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  PRIMARY KEY (domain, month, recipient));",
	/* v23 (issue 22 item 3, doc/store.md): policyd's accepted
	   recipients of a message are one row with their count (recipients,
	   1 for every other row); and the indexes a row costs are those the
	   trace's and the report's statements need (EXPLAIN QUERY PLAN):
	   (domain, at) serves the report, a search by domain, Message-ID or
	   sender and the expiry (per domain), (domain, recipient, at) a
	   search by recipient, with events_shared (only rows of several
	   recipients) for the recipients a row names in its detail;
	   (domain, message_id) and (domain, queue_id) the links between a
	   message's rows */
	"ALTER TABLE events ADD COLUMN recipients INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX events_shared ON events(domain, at) WHERE recipients > 1;"
	"DROP INDEX events_at;"
	"DROP INDEX events_sender;",
	/* v24 (issue 21 item 3, doc/scaling.md): a hold's copy is in the
	   spool of the node that made it (node: omamori-filter's node_name);
	   a release or discard asked on another node is recorded on the row
	   (states 6 release-asked, 7 discard-asked; who and when) for the
	   holding node to take */
	"ALTER TABLE holds ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE holds ADD COLUMN asked_by TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE holds ADD COLUMN asked_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX holds_node ON holds(node, state);",
	/* v25 (issue 21, doc/store.md): PostgreSQL's list trigger skips the
	   rows of an import, which records its changes once a batch; this
	   backend's import needs no change (the version moves with it) */
	"SELECT 1;",
	/* v26 (doc/store.md "Keys in one spelling"): the keys lookups fold
	   (mailboxes, domains, list scopes and entries, administrators,
	   brakes, policy groups' domains) in that spelling, as store.c now
	   writes them; rows written before in another spelling were found by
	   no lookup */
	"DROP TRIGGER subscriptions_history_delete;"
	OM_STORE_SQL_FOLD_SUBSCRIPTIONS(OM_SQ_FOLD)
	OM_SQ_HISTORY_DELETE_TRIGGER
	OM_STORE_SQL_FOLD_REST(OM_SQ_FOLD, OM_SQ_GROUP_FOLD,
			       "CAST(strftime('%s', 'now') AS INTEGER)"),
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

/* OM_STORE_BULK: a larger page cache (store.h says why). */
static int om_sqlite_bulk_cache(struct om_store_sqlite *s, int flags, char **error_r)
{
	char sql[64];

	if ((flags & OM_STORE_BULK) == 0)
		return 0;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", OM_STORE_BULK_CACHE_KB);
	return om_sqlite_exec(s, sql, error_r);
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
	    om_sqlite_bulk_cache(s, flags, error_r) < 0 ||
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

/* ---- parameters and columns ----
 *
 * As Postfix's attr_print()/attr_scan(): a statement's parameters are a
 * list of type-tagged values ending with OM_ARG_END, bound to ?1, ?2... in
 * order, and a row's columns a list of typed places ending with OM_COL_END,
 * read from column 0 on.  The macros make the list's elements and assign
 * the value (or the place) to a member of its own type, so a number given
 * as text, text as a number, or a place of the wrong type is a compile
 * error (-Werror).  Text NULL is left unbound, so the parameter is NULL
 * (every bind starts from clear bindings), and a statement may take fewer
 * parameters than the list when the missing ones are NULL texts at its
 * end.  Integers of every width go as OM_ARG_INT64 (SQLite keeps one
 * integer type). */

enum om_sql_type {
	OM_SQL_END,
	OM_SQL_TEXT,
	OM_SQL_TEXT_NULL,
	OM_SQL_INT64,
	OM_SQL_INT,
};

struct om_sql_arg {
	enum om_sql_type type;
	const char *text;
	long long number;
};
#define OM_ARG_TEXT(value) { OM_SQL_TEXT, .text = (value) }
#define OM_ARG_INT64(value) { OM_SQL_INT64, .number = (value) }
#define OM_ARG_END { OM_SQL_END, NULL, 0 }

struct om_sql_col {
	enum om_sql_type type;
	const char **text;	/* NULL column: "" (TEXT_NULL: NULL) */
	long long *int64;
	int *integer;
};
#define OM_COL_TEXT(place) { OM_SQL_TEXT, .text = (place) }
#define OM_COL_TEXT_NULL(place) { OM_SQL_TEXT_NULL, .text = (place) }
#define OM_COL_INT64(place) { OM_SQL_INT64, .int64 = (place) }
#define OM_COL_INT(place) { OM_SQL_INT, .integer = (place) }
#define OM_COL_END { OM_SQL_END, NULL, NULL, NULL }

/* Resets statement id and binds args (at most count, up to OM_SQL_END) to
   it; the statement, or NULL when a bind failed.  Use
   om_sqlite_bind(s, id, OM_ARG_...(v), ..., OM_ARG_END). */
static sqlite3_stmt *om_sqlite_bind_args(struct om_store_sqlite *s,
					 enum om_stmt_id id,
					 const struct om_sql_arg *args,
					 size_t count)
{
	sqlite3_stmt *stmt = s->stmts[id];
	int ok = SQLITE_OK;
	size_t i;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	for (i = 0; i < count && args[i].type != OM_SQL_END; i++) {
		if (args[i].type == OM_SQL_INT64)
			ok |= sqlite3_bind_int64(stmt, (int)i + 1, args[i].number);
		else if (args[i].type != OM_SQL_TEXT)
			ok |= SQLITE_MISUSE;
		else if (args[i].text != NULL)
			ok |= sqlite3_bind_text(stmt, (int)i + 1, args[i].text, -1,
						SQLITE_STATIC);
	}
	return ok == SQLITE_OK ? stmt : NULL;
}
#define OM_SQL_LIST(type, ...) (const struct type[]){ __VA_ARGS__ }, \
	sizeof((const struct type[]){ __VA_ARGS__ }) / sizeof(struct type)
#define om_sqlite_bind(s, id, ...) \
	om_sqlite_bind_args((s), (id), OM_SQL_LIST(om_sql_arg, __VA_ARGS__))

static const char *om_sqlite_text(sqlite3_stmt *stmt, int col)
{
	const char *text = (const char *)sqlite3_column_text(stmt, col);

	return text != NULL ? text : "";
}

/* Reads the current row's columns into cols' places (at most count, up to
   OM_SQL_END).  Use om_sqlite_read(stmt, OM_COL_...(&place), ...,
   OM_COL_END). */
static void om_sqlite_columns(sqlite3_stmt *stmt, const struct om_sql_col *cols,
			      size_t count)
{
	size_t i;

	for (i = 0; i < count && cols[i].type != OM_SQL_END; i++) {
		switch (cols[i].type) {
		case OM_SQL_TEXT:
			*cols[i].text = om_sqlite_text(stmt, (int)i);
			break;
		case OM_SQL_TEXT_NULL:
			*cols[i].text = (const char *)sqlite3_column_text(stmt, (int)i);
			break;
		case OM_SQL_INT64:
			*cols[i].int64 = sqlite3_column_int64(stmt, (int)i);
			break;
		case OM_SQL_INT:
			*cols[i].integer = sqlite3_column_int(stmt, (int)i);
			break;
		case OM_SQL_END:
			break;
		}
	}
}
#define om_sqlite_read(stmt, ...) \
	om_sqlite_columns((stmt), OM_SQL_LIST(om_sql_col, __VA_ARGS__))

/* The caller's callback and its context, as a row function gets them. */
struct om_sqlite_reader {
	union {
		om_store_row_cb *row;
		om_store_rate_cb *rate;
		om_store_token_cb *token;
		om_store_scope_cb *scope;
		om_store_quarantined_cb *quarantined;
		om_store_digest_cb *digest;
		om_store_unlisted_cb *unlisted;
		om_store_hold_cb *hold;
		om_store_zip_cb *zip;
		om_store_history_cb *history;
		om_store_brake_cb *brake;
		om_store_url_cb *url;
		om_store_url_source_cb *url_source;
		om_store_address_cb *address;
		om_store_isolated_cb *isolated;
		om_store_audit_cb *audit;
		om_store_sandbox_cb *sandbox;
		om_store_portal_cb *portal;
		om_store_portal_view_cb *portal_view;
		om_store_group_cb *group;
		om_store_sub_change_cb *sub_change;
		om_store_admin_cb *admin;
		om_store_change_cb *change;
	} cb;
	void *context;
};
typedef void om_sqlite_row_fn(sqlite3_stmt *stmt,
			      const struct om_sqlite_reader *reader);

/* Steps a bound statement (NULL: its bind failed) and hands every row to
   row; the count of rows, or -1 (what names the failed read). */
static long om_sqlite_each(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			   om_sqlite_row_fn *row,
			   const struct om_sqlite_reader *reader,
			   const char *what, char **error_r)
{
	long rows = 0;
	int ret;

	if (stmt == NULL) {
		*error_r = om_sqlite_error(s, "bind");
		return -1;
	}
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		row(stmt, reader);
		rows++;
	}
	sqlite3_reset(stmt);
	if (ret != SQLITE_DONE) {
		*error_r = om_sqlite_error(s, what);
		return -1;
	}
	return rows;
}

/* Runs a bound write statement (NULL: its bind failed); 0 or -1. */
static int om_sqlite_write(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			   char **error_r)
{
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

/* Runs a bound write statement (NULL: its bind failed); the rows it
   changed, or -1 (what names it in the error either way). */
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

/* Runs a bound one-value lookup; 1 found, 0 not found, -1 error. */
static int om_sqlite_lookup(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			    char **value_r, char **error_r)
{
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

/* A three-column listing's row. */
static void om_sqlite_row_row(sqlite3_stmt *stmt,
			      const struct om_sqlite_reader *r)
{
	r->cb.row(r->context, (const char *)sqlite3_column_text(stmt, 0),
		  (const char *)sqlite3_column_text(stmt, 1),
		  (const char *)sqlite3_column_text(stmt, 2));
}

/* Iterates a bound three-column listing; returns the row count or -1. */
static int om_sqlite_list(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			  om_store_row_cb *cb, void *context, char **error_r)
{
	struct om_sqlite_reader r = { .cb.row = cb, .context = context };

	return (int)om_sqlite_each(s, stmt, om_sqlite_row_row, &r, "list",
				   error_r);
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

/* Reads the one number a bound statement (NULL: its bind failed) yields;
   0 or -1 (what names the read in the error). */
static int om_sqlite_number(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			    long long *value_r, const char *what, char **error_r)
{
	if (stmt == NULL || om_sqlite_read_number(stmt, value_r) < 0) {
		*error_r = om_sqlite_error(s, what);
		return -1;
	}
	return 0;
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
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_write(s, om_sqlite_bind(s, om_table_stmts[table][OM_TABLE_SET],
						 OM_ARG_TEXT(key), OM_ARG_TEXT(name),
						 OM_ARG_TEXT(value),
						 OM_ARG_INT64(time(NULL)), OM_ARG_END),
			       error_r);
}

static int om_sqlite_row_get(struct om_store *store, enum om_store_table table,
			     const char *key, const char *name, char **value_r,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_lookup(s, om_sqlite_bind(s, om_table_stmts[table][OM_TABLE_GET],
						  OM_ARG_TEXT(key), OM_ARG_TEXT(name),
						  OM_ARG_END),
				value_r, error_r);
}

static int om_sqlite_row_delete(struct om_store *store, enum om_store_table table,
				const char *key, const char *name,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_write(s, om_sqlite_bind(s, om_table_stmts[table][OM_TABLE_DELETE],
						 OM_ARG_TEXT(key), OM_ARG_TEXT(name),
						 OM_ARG_END),
			       error_r);
}

static int om_sqlite_row_list(struct om_store *store, enum om_store_table table,
			      const char *key, om_store_row_cb *cb,
			      void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	enum om_table_op op = key != NULL ? OM_TABLE_LIST_ONE : OM_TABLE_LIST_ALL;

	return om_sqlite_list(s, om_sqlite_bind(s, om_table_stmts[table][op],
						OM_ARG_TEXT(key), OM_ARG_END),
			      cb, context, error_r);
}

/* ---- allow/block lists ---- */

static int om_sqlite_list_put(struct om_store *store, const char *scope,
			      const char *kind, const char *entry,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_write(s, om_sqlite_bind(s, OM_SQL_LIST_ADD, OM_ARG_TEXT(scope),
						 OM_ARG_TEXT(kind), OM_ARG_TEXT(entry),
						 OM_ARG_INT64(time(NULL)), OM_ARG_END),
			       error_r);
}

static int om_sqlite_list_remove(struct om_store *store, const char *scope,
				 const char *kind, const char *entry,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	if (om_sqlite_write(s, om_sqlite_bind(s, OM_SQL_LIST_DELETE, OM_ARG_TEXT(scope),
					      OM_ARG_TEXT(kind), OM_ARG_TEXT(entry),
					      OM_ARG_END),
			    error_r) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static long om_sqlite_list_count(struct om_store *store, const char *scope,
				 const char *kind, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long long count;

	if (om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_LIST_COUNT, OM_ARG_TEXT(scope),
					       OM_ARG_TEXT(kind), OM_ARG_END),
			     &count, "count", error_r) < 0)
		return -1;
	return (long)count;
}

static int om_sqlite_list_has(struct om_store *store, const char *scope,
			      const char *kind, const char *entry,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_LIST_HAS, OM_ARG_TEXT(scope),
					    OM_ARG_TEXT(kind), OM_ARG_TEXT(entry),
					    OM_ARG_END);
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
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_list(s, om_sqlite_bind(s, scope != NULL ? OM_SQL_LIST_ONE :
						OM_SQL_LIST_ALL, OM_ARG_TEXT(scope),
						OM_ARG_END),
			      cb, context, error_r);
}

/* ---- rate counters ---- */


static int om_sqlite_rates_expire(struct om_store *store, long long expire_before,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_RATE_EXPIRE,
					    OM_ARG_INT64(expire_before), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "expire rate counters", error_r) < 0 ?
		-1 : 0;
}

static void om_sqlite_rate_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_rate rate;

	om_sqlite_read(stmt, OM_COL_TEXT_NULL(&rate.user), OM_COL_INT64(&rate.window_start),
		       OM_COL_INT64(&rate.messages), OM_COL_INT64(&rate.recipients),
		       OM_COL_END);
	r->cb.rate(r->context, &rate);
}

static int om_sqlite_rate_add(struct om_store *store,
			      const struct om_store_rate *increment,
			      om_store_rate_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.rate = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_RATE_ADD,
						     OM_ARG_TEXT(increment->user),
						     OM_ARG_INT64(increment->window_start),
						     OM_ARG_INT64(increment->messages),
						     OM_ARG_INT64(increment->recipients),
						     OM_ARG_END),
				   om_sqlite_rate_row, &r, "add to rate counters",
				   error_r);
}

static int om_sqlite_rates_each(struct om_store *store, om_store_rate_cb *cb,
				void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.rate = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_RATE_ALL, OM_ARG_END),
				   om_sqlite_rate_row, &r, "read rate counters",
				   error_r);
}

/* ---- revisions, the change log, secrets ---- */

static int om_sqlite_revision(struct om_store *store, const char *name,
			      long long *revision_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_REVISION, OM_ARG_TEXT(name),
						  OM_ARG_END),
				revision_r, "read revision", error_r);
}

static void om_sqlite_scope_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	r->cb.scope(r->context, (const char *)sqlite3_column_text(stmt, 0));
}

static int om_sqlite_changes(struct om_store *store, long long since,
			     size_t limit, om_store_scope_cb *cb, void *context,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.scope = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_CHANGES, OM_ARG_INT64(since),
						     OM_ARG_INT64((long long)limit),
						     OM_ARG_END),
				   om_sqlite_scope_row, &r, "read changes", error_r);
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
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_SECRET, OM_ARG_TEXT(name),
					    OM_ARG_END);
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

/* The one row of spam_totals, into the reader's context. */
static void om_sqlite_totals_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_spam_state *state_r = r->context;

	state_r->nspam = (long)sqlite3_column_int64(stmt, 0);
	state_r->nham = (long)sqlite3_column_int64(stmt, 1);
}

static int om_sqlite_spam_totals(struct om_store *store,
				 struct om_store_spam_state *state_r,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .context = state_r };

	state_r->nspam = state_r->nham = 0;
	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_SPAM_TOTALS, OM_ARG_END),
			      om_sqlite_totals_row, &r, "read spam totals",
			      error_r) < 0 ? -1 : 0;
}

static void om_sqlite_token_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	r->cb.token(r->context, (const char *)sqlite3_column_text(stmt, 0),
		    (long)sqlite3_column_int64(stmt, 1),
		    (long)sqlite3_column_int64(stmt, 2));
}

static int om_sqlite_spam_tokens(struct om_store *store, om_store_token_cb *cb,
				 void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.token = cb, .context = context };

	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_SPAM_TOKENS, OM_ARG_END),
			      om_sqlite_token_row, &r, "read spam tokens",
			      error_r) < 0 ? -1 : 0;
}

/* Steps a bound write statement (NULL: its bind failed); 0 or -1. */
static int om_sqlite_step_done(sqlite3_stmt *stmt)
{
	int ok = stmt != NULL && sqlite3_step(stmt) == SQLITE_DONE;

	if (stmt != NULL)
		sqlite3_reset(stmt);
	return ok ? 0 : -1;
}

static int om_sqlite_spam_write(struct om_store_sqlite *s,
				const struct om_store_spam_token *rows,
				size_t count, long dspam, long dham)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (om_sqlite_step_done(om_sqlite_bind(s, OM_SQL_SPAM_TOKEN_SET,
						       OM_ARG_TEXT(rows[i].token),
						       OM_ARG_INT64(rows[i].spam),
						       OM_ARG_INT64(rows[i].ham),
						       OM_ARG_END)) < 0)
			return -1;
	}
	return om_sqlite_step_done(om_sqlite_bind(s, OM_SQL_SPAM_TOTALS_SET,
						  OM_ARG_INT64(dspam),
						  OM_ARG_INT64(dham), OM_ARG_END));
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
	int ok = om_sqlite_step_done(om_sqlite_bind(s, OM_SQL_SPAM_PRUNE,
						    OM_ARG_INT64(max_count),
						    OM_ARG_END)) == 0;

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

/* A quarantine row (column order of OM_SQL_Q_GET). */
static void om_sqlite_q_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_quarantined q;

	om_sqlite_read(stmt, OM_COL_TEXT(&q.id), OM_COL_TEXT(&q.mailbox),
		       OM_COL_INT64(&q.received), OM_COL_TEXT(&q.sender),
		       OM_COL_TEXT(&q.from), OM_COL_TEXT(&q.subject),
		       OM_COL_TEXT(&q.score), OM_COL_TEXT(&q.reasons),
		       OM_COL_INT64(&q.size), OM_COL_INT64(&q.digest),
		       OM_COL_TEXT(&q.from_address), OM_COL_INT(&q.admin_only),
		       OM_COL_TEXT(&q.message_id),
		       OM_COL_END);
	r->cb.quarantined(r->context, &q);
}

/* Steps a bound statement yielding quarantine rows into cb; the count or
   -1. */
static int om_sqlite_q_rows(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			    om_store_quarantined_cb *cb, void *context,
			    char **error_r)
{
	struct om_sqlite_reader r = { .cb.quarantined = cb, .context = context };

	return (int)om_sqlite_each(s, stmt, om_sqlite_q_row, &r, "read quarantine",
				   error_r);
}

static int om_sqlite_quarantine_add(struct om_store *store,
				    const struct om_store_quarantined *q,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Q_ADD, OM_ARG_TEXT(q->id),
					    OM_ARG_TEXT(q->mailbox),
					    OM_ARG_INT64(q->received),
					    OM_ARG_TEXT(q->sender), OM_ARG_TEXT(q->from),
					    OM_ARG_TEXT(q->subject), OM_ARG_TEXT(q->score),
					    OM_ARG_TEXT(q->reasons), OM_ARG_INT64(q->size),
					    OM_ARG_INT64(q->digest),
					    OM_ARG_TEXT(q->from_address),
					    OM_ARG_INT64(q->admin_only != 0),
					    OM_ARG_TEXT(q->message_id), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record quarantined mail",
				    error_r) < 0 ? -1 : 0;
}

static int om_sqlite_quarantine_get(struct om_store *store, const char *mailbox,
				    const char *id, om_store_quarantined_cb *cb,
				    void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_q_rows(s, om_sqlite_bind(s, OM_SQL_Q_GET, OM_ARG_TEXT(mailbox),
						  OM_ARG_TEXT(id), OM_ARG_END),
				cb, context, error_r);
}

static int om_sqlite_quarantine_each(struct om_store *store, const char *mailbox,
				     om_store_quarantined_cb *cb, void *context,
				     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_q_rows(s, om_sqlite_bind(s, OM_SQL_Q_EACH, OM_ARG_TEXT(mailbox),
						  OM_ARG_END),
				cb, context, error_r);
}

static int om_sqlite_quarantine_delete(struct om_store *store, const char *mailbox,
				       const char *id, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_Q_DELETE,
						      OM_ARG_TEXT(mailbox),
						      OM_ARG_TEXT(id), OM_ARG_END),
				    "forget quarantined mail", error_r);
}

static int om_sqlite_quarantine_expire(struct om_store *store, const char *mailbox,
				       long long before, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_Q_EXPIRE,
						      OM_ARG_TEXT(mailbox),
						      OM_ARG_INT64(before), OM_ARG_END),
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
	if (om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_Q_UNLISTED, OM_ARG_TEXT(mailbox),
					       OM_ARG_END),
			     &unlisted, "count unlisted quarantined mail", error_r) < 0)
		return -1;
	if (unlisted == 0)
		return 0;
	if (om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_D_NEW, OM_ARG_TEXT(mailbox),
						   OM_ARG_INT64(now), OM_ARG_END),
				 "make a digest", error_r) < 0)
		return -1;
	*digest_r = (long long)sqlite3_last_insert_rowid(s->db);
	stmt = om_sqlite_bind(s, OM_SQL_D_MARK, OM_ARG_TEXT(mailbox),
			      OM_ARG_INT64(*digest_r), OM_ARG_END);
	return om_sqlite_step_write(s, stmt, "mark digested mail", error_r);
}

static int om_sqlite_digest_items(struct om_store *store, long long digest,
				  om_store_quarantined_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_q_rows(s, om_sqlite_bind(s, OM_SQL_D_ITEMS, OM_ARG_INT64(digest),
						  OM_ARG_END),
				cb, context, error_r);
}

static int om_sqlite_digest_sent(struct om_store *store, long long digest,
				 long long sent, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_D_SENT, OM_ARG_INT64(digest),
					    OM_ARG_INT64(sent), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "mark a digest sent", error_r) < 0 ?
		-1 : 0;
}

static void om_sqlite_digest_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_digest d;

	om_sqlite_read(stmt, OM_COL_INT64(&d.id), OM_COL_TEXT(&d.mailbox),
		       OM_COL_INT64(&d.created), OM_COL_INT64(&d.sent), OM_COL_END);
	r->cb.digest(r->context, &d);
}

static int om_sqlite_digest_pending(struct om_store *store, long long before,
				    om_store_digest_cb *cb, void *context,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.digest = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_D_PENDING,
						     OM_ARG_INT64(before), OM_ARG_END),
				   om_sqlite_digest_row, &r, "read pending digests",
				   error_r);
}

static int om_sqlite_digest_last(struct om_store *store, const char *mailbox,
				 long long *created_r, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_D_LAST, OM_ARG_TEXT(mailbox),
						  OM_ARG_END),
				created_r, "read the last digest", error_r);
}

static int om_sqlite_digest_sent_count(struct om_store *store, long long *count_r,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_D_SENT_COUNT, OM_ARG_END),
				count_r, "count the digests sent", error_r);
}

static void om_sqlite_unlisted_row(sqlite3_stmt *stmt,
				   const struct om_sqlite_reader *r)
{
	r->cb.unlisted(r->context, om_sqlite_text(stmt, 0),
		       (long)sqlite3_column_int64(stmt, 1),
		       (long)sqlite3_column_int64(stmt, 2));
}

static int om_sqlite_digest_due(struct om_store *store, om_store_unlisted_cb *cb,
				void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.unlisted = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_D_DUE, OM_ARG_END),
				   om_sqlite_unlisted_row, &r,
				   "read mailboxes due a digest", error_r);
}

static int om_sqlite_correspondent_put(struct om_store *store,
				       const struct om_store_correspondent *c,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_C_SAVE, OM_ARG_TEXT(c->mailbox),
					    OM_ARG_TEXT(c->address),
					    OM_ARG_INT64(c->last), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "save correspondents", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_correspondent_known(struct om_store *store,
					 const char *mailbox, const char *address,
					 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	char *value = NULL;
	int ret = om_sqlite_lookup(s, om_sqlite_bind(s, OM_SQL_C_KNOWN,
						     OM_ARG_TEXT(mailbox),
						     OM_ARG_TEXT(address), OM_ARG_END),
				   &value, error_r);

	free(value);
	return ret;
}

static void om_sqlite_address_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	r->cb.address(r->context, om_sqlite_text(stmt, 0));
}

static long om_sqlite_correspondents_list(struct om_store *store, const char *mailbox,
					  long max, om_store_address_cb *cb, void *context,
					  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.address = cb, .context = context };

	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_C_LIST, OM_ARG_TEXT(mailbox),
						OM_ARG_INT64((long long)max), OM_ARG_END),
			      om_sqlite_address_row, &r, "list correspondents", error_r);
}

/* Inside the caller's write transaction. */
static int om_sqlite_nonce_use(struct om_store *store, const char *nonce,
			       long long expires, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	int changed;

	if (om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_N_EXPIRE, OM_ARG_INT64(now),
						   OM_ARG_END),
				 "forget used form values", error_r) < 0)
		return -1;
	changed = om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_N_USE,
							 OM_ARG_TEXT(nonce),
							 OM_ARG_INT64(expires),
							 OM_ARG_END),
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
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_OB_ADD, OM_ARG_TEXT(m->queue_id),
					    OM_ARG_TEXT(m->hash), OM_ARG_TEXT(m->sender),
					    OM_ARG_INT64(m->recipients),
					    OM_ARG_INT64(m->received), OM_ARG_END);
	int ret, state;

	if (om_sqlite_step_write(s, stmt, "record outbound mail", error_r) < 0)
		return -1;
	stmt = om_sqlite_bind(s, OM_SQL_OB_GET, OM_ARG_TEXT(m->queue_id),
			      OM_ARG_TEXT(m->hash), OM_ARG_END);
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
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_OB_FINISH, OM_ARG_TEXT(queue_id),
					    OM_ARG_TEXT(hash), OM_ARG_INT64(state),
					    OM_ARG_TEXT(reply), OM_ARG_INT64(now),
					    OM_ARG_END);
	int ret;

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

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_OB_EXPIRE,
						      OM_ARG_INT64(before), OM_ARG_END),
				    "forget outbound mail", error_r);
}

/* ---- held outbound mail ---- */

static int om_sqlite_hold_add(struct om_store *store, const struct om_store_hold *h,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	int admin = h->kind != NULL && strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0;
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_ADD, OM_ARG_TEXT(h->id),
					    OM_ARG_TEXT(h->mailbox), OM_ARG_TEXT(h->sender),
					    OM_ARG_TEXT(h->recipients),
					    OM_ARG_TEXT(h->delivered),
					    OM_ARG_TEXT(h->subject),
					    OM_ARG_TEXT(h->attachments),
					    OM_ARG_INT64(h->size), OM_ARG_INT64(h->flags),
					    OM_ARG_INT64(h->created),
					    OM_ARG_INT64(h->expires), OM_ARG_TEXT(h->expiry),
					    OM_ARG_INT64(admin ? OM_HOLD_ADMIN : OM_HOLD_HELD),
					    OM_ARG_TEXT(h->kind != NULL ? h->kind :
							OM_HOLD_KIND_SENDER),
					    OM_ARG_TEXT(h->details != NULL ? h->details : ""),
					    OM_ARG_TEXT(h->node != NULL ? h->node : ""),
					    OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record a hold", error_r);
}

/* A hold row (column order of OM_SQL_H_GET). */
static void om_sqlite_hold_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_hold h;
	int state;

	om_sqlite_read(stmt, OM_COL_TEXT(&h.id), OM_COL_TEXT(&h.mailbox),
		       OM_COL_TEXT(&h.sender), OM_COL_TEXT(&h.recipients),
		       OM_COL_TEXT(&h.delivered), OM_COL_TEXT(&h.subject),
		       OM_COL_TEXT(&h.attachments), OM_COL_INT64(&h.size),
		       OM_COL_INT(&h.flags), OM_COL_INT64(&h.created),
		       OM_COL_INT64(&h.expires), OM_COL_TEXT(&h.expiry),
		       OM_COL_INT(&state), OM_COL_INT64(&h.changed),
		       OM_COL_INT(&h.notified), OM_COL_TEXT(&h.result),
		       OM_COL_TEXT(&h.kind), OM_COL_TEXT(&h.details),
		       OM_COL_TEXT(&h.node), OM_COL_TEXT(&h.asked_by),
		       OM_COL_INT64(&h.asked_at), OM_COL_END);
	h.state = (enum om_hold_state)state;
	r->cb.hold(r->context, &h);
}

static int om_sqlite_hold_list(struct om_store *store, enum om_hold_query query,
			       const char *text, long long number,
			       om_store_hold_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.hold = cb, .context = context };
	sqlite3_stmt *stmt = NULL;

	switch (query) {
	case OM_HOLD_BY_ID:
		stmt = om_sqlite_bind(s, OM_SQL_H_GET, OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_BY_MAILBOX:
		stmt = om_sqlite_bind(s, OM_SQL_H_MAILBOX, OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_BY_STATE:
		stmt = om_sqlite_bind(s, OM_SQL_H_STATE, OM_ARG_INT64(number), OM_ARG_END);
		break;
	case OM_HOLD_DUE:
		stmt = om_sqlite_bind(s, OM_SQL_H_DUE, OM_ARG_INT64(number), OM_ARG_END);
		break;
	case OM_HOLD_BRAKED:
		stmt = om_sqlite_bind(s, OM_SQL_H_BRAKED, OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_ASKED:
		stmt = om_sqlite_bind(s, OM_SQL_H_ASKED, OM_ARG_TEXT(text), OM_ARG_END);
		break;
	}
	return (int)om_sqlite_each(s, stmt, om_sqlite_hold_row, &r, "read holds",
				   error_r);
}

/* Inside the caller's write transaction: 1 moved, 0 not in a from state. */
static int om_sqlite_hold_move(struct om_store *store, const char *id,
			       enum om_hold_state from1, enum om_hold_state from2,
			       enum om_hold_state to, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_MOVE, OM_ARG_TEXT(id),
					    OM_ARG_INT64(to), OM_ARG_INT64(now),
					    OM_ARG_INT64(from1), OM_ARG_INT64(from2),
					    OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "move a hold", error_r);
}

/* As om_sqlite_hold_move, recording the request's by and time. */
static int om_sqlite_hold_ask(struct om_store *store, const char *id,
			      enum om_hold_state from1, enum om_hold_state from2,
			      enum om_hold_state to, const char *by, long long now,
			      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_ASK, OM_ARG_TEXT(id),
					    OM_ARG_INT64(to), OM_ARG_INT64(now),
					    OM_ARG_INT64(from1), OM_ARG_INT64(from2),
					    OM_ARG_TEXT(by), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "ask a hold of its node", error_r);
}

static int om_sqlite_hold_set(struct om_store *store, const char *id,
			      enum om_hold_state state, const char *result,
			      long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_H_SET, OM_ARG_TEXT(id),
					    OM_ARG_INT64(state), OM_ARG_INT64(now),
					    OM_ARG_TEXT(result), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "mark a hold", error_r);
}

static int om_sqlite_hold_notified(struct om_store *store, const char *id,
				   char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_H_NOTIFIED,
						      OM_ARG_TEXT(id), OM_ARG_END),
				    "mark a hold notified", error_r);
}

static int om_sqlite_hold_expire(struct om_store *store, long long before,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_H_EXPIRE,
						      OM_ARG_INT64(before), OM_ARG_END),
				    "forget holds", error_r);
}

/* ---- outbound-zip's passwords ---- */

static int om_sqlite_zip_add(struct om_store *store, const struct om_store_zip *z,
			     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Z_ADD, OM_ARG_TEXT(z->id),
					    OM_ARG_TEXT(z->mailbox),
					    OM_ARG_TEXT(z->recipients),
					    OM_ARG_TEXT(z->subject), OM_ARG_TEXT(z->archive),
					    OM_ARG_TEXT(z->sealed), OM_ARG_INT64(z->created),
					    OM_ARG_INT64(z->expires), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record a zip password", error_r);
}

/* A zip password row (column order of OM_SQL_Z_GET). */
static void om_sqlite_zip_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_zip z;
	int state;

	om_sqlite_read(stmt, OM_COL_TEXT(&z.id), OM_COL_TEXT(&z.mailbox),
		       OM_COL_TEXT(&z.recipients), OM_COL_TEXT(&z.subject),
		       OM_COL_TEXT(&z.archive), OM_COL_TEXT(&z.sealed),
		       OM_COL_INT64(&z.created), OM_COL_INT64(&z.expires),
		       OM_COL_INT(&state), OM_COL_INT64(&z.changed),
		       OM_COL_INT64(&z.sent), OM_COL_TEXT(&z.result), OM_COL_END);
	z.state = (enum om_zip_state)state;
	r->cb.zip(r->context, &z);
}

static int om_sqlite_zip_list(struct om_store *store, const char *id, int state,
			      om_store_zip_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.zip = cb, .context = context };
	sqlite3_stmt *stmt = id != NULL ?
		om_sqlite_bind(s, OM_SQL_Z_GET, OM_ARG_TEXT(id), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_Z_STATE, OM_ARG_INT64(state), OM_ARG_END);

	return (int)om_sqlite_each(s, stmt, om_sqlite_zip_row, &r,
				   "read zip passwords", error_r);
}

/* Inside the caller's write transaction: 1 moved, 0 not (another state,
   or past its expiry). */
static int om_sqlite_zip_move(struct om_store *store, const char *id,
			      enum om_zip_state from, enum om_zip_state to,
			      long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Z_MOVE, OM_ARG_TEXT(id),
					    OM_ARG_INT64(to), OM_ARG_INT64(now),
					    OM_ARG_INT64(from), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "claim a zip password", error_r);
}

static int om_sqlite_zip_set(struct om_store *store, const char *id,
			     enum om_zip_state state, long long sent,
			     const char *result, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_Z_SET, OM_ARG_TEXT(id),
					    OM_ARG_INT64(state), OM_ARG_INT64(now),
					    OM_ARG_INT64(sent), OM_ARG_TEXT(result),
					    OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "mark a zip password", error_r);
}

static int om_sqlite_zip_expire(struct om_store *store, long long now,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_Z_EXPIRE,
						      OM_ARG_INT64(now), OM_ARG_END),
				    "forget zip passwords", error_r);
}

/* ---- isolated attachments ---- */

static int om_sqlite_isolated_add(struct om_store *store,
				  const struct om_store_isolated *f, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_ISO_ADD, OM_ARG_TEXT(f->id),
					    OM_ARG_TEXT(f->mailbox), OM_ARG_TEXT(f->name),
					    OM_ARG_INT64(f->size), OM_ARG_TEXT(f->true_type),
					    OM_ARG_TEXT(f->findings), OM_ARG_TEXT(f->scan),
					    OM_ARG_TEXT(f->why), OM_ARG_TEXT(f->subject),
					    OM_ARG_TEXT(f->sealed), OM_ARG_INT64(f->created),
					    OM_ARG_INT64(f->expires),
					    OM_ARG_TEXT(f->received != NULL ? f->received : ""),
					    OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record an isolated file", error_r);
}

/* An isolated file's row (column order of OM_SQL_ISO_GET). */
static void om_sqlite_isolated_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_isolated f;

	om_sqlite_read(stmt, OM_COL_TEXT(&f.id), OM_COL_TEXT(&f.mailbox),
		       OM_COL_TEXT(&f.name), OM_COL_INT64(&f.size),
		       OM_COL_TEXT(&f.true_type), OM_COL_TEXT(&f.findings),
		       OM_COL_TEXT(&f.scan), OM_COL_TEXT(&f.why),
		       OM_COL_TEXT(&f.subject), OM_COL_TEXT(&f.sealed),
		       OM_COL_INT64(&f.created), OM_COL_INT64(&f.expires),
		       OM_COL_TEXT(&f.received), OM_COL_END);
	r->cb.isolated(r->context, &f);
}

static int om_sqlite_isolated_list(struct om_store *store, const char *id,
				   long long due, om_store_isolated_cb *cb,
				   void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.isolated = cb, .context = context };
	sqlite3_stmt *stmt = id != NULL ?
		om_sqlite_bind(s, OM_SQL_ISO_GET, OM_ARG_TEXT(id), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_ISO_DUE, OM_ARG_INT64(due), OM_ARG_END);

	return (int)om_sqlite_each(s, stmt, om_sqlite_isolated_row, &r,
				   "read isolated files", error_r);
}

static int om_sqlite_isolated_delete(struct om_store *store, const char *id,
				     char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_ISO_DELETE,
						      OM_ARG_TEXT(id), OM_ARG_END),
				    "forget an isolated file", error_r);
}

/* ---- the sandbox's verdicts ---- */

static void om_sqlite_sandbox_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const char *verdict;
	long long first_seen;

	om_sqlite_read(stmt, OM_COL_TEXT(&verdict), OM_COL_INT64(&first_seen), OM_COL_END);
	r->cb.sandbox(r->context, verdict, first_seen);
}

static int om_sqlite_sandbox_get(struct om_store *store, const char *hash,
				 om_store_sandbox_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.sandbox = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_SANDBOX_GET,
						     OM_ARG_TEXT(hash), OM_ARG_END),
				   om_sqlite_sandbox_row, &r, "read a sandbox verdict",
				   error_r);
}

static int om_sqlite_sandbox_put(struct om_store *store, const char *hash,
				 const char *verdict, long long first_seen,
				 long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_SANDBOX_PUT, OM_ARG_TEXT(hash),
					    OM_ARG_TEXT(verdict), OM_ARG_INT64(first_seen),
					    OM_ARG_INT64(now), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record a sandbox verdict", error_r);
}

/* ---- the encrypted delivery portal ---- */

static int om_sqlite_portal_add(struct om_store *store, const struct om_store_portal *p,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_PORTAL_ADD, OM_ARG_TEXT(p->id),
					    OM_ARG_TEXT(p->sender), OM_ARG_TEXT(p->subject),
					    OM_ARG_TEXT(p->recipients), OM_ARG_INT64(p->size),
					    OM_ARG_TEXT(p->sealed), OM_ARG_INT64(p->created),
					    OM_ARG_INT64(p->expires), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record a portal message", error_r);
}

static void om_sqlite_portal_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_portal p;

	om_sqlite_read(stmt, OM_COL_TEXT(&p.id), OM_COL_TEXT(&p.sender),
		       OM_COL_TEXT(&p.subject), OM_COL_TEXT(&p.recipients),
		       OM_COL_INT64(&p.size), OM_COL_TEXT(&p.sealed),
		       OM_COL_INT64(&p.created), OM_COL_INT64(&p.expires),
		       OM_COL_INT(&p.revoked), OM_COL_END);
	r->cb.portal(r->context, &p);
}

static int om_sqlite_portal_list(struct om_store *store, enum om_store_portal_which which,
				 const char *key, long long due, om_store_portal_cb *cb,
				 void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.portal = cb, .context = context };
	sqlite3_stmt *stmt;

	switch (which) {
	case OM_STORE_PORTAL_ONE:
		stmt = om_sqlite_bind(s, OM_SQL_PORTAL_GET, OM_ARG_TEXT(key), OM_ARG_END);
		break;
	case OM_STORE_PORTAL_SENDER:
		stmt = om_sqlite_bind(s, OM_SQL_PORTAL_BY_SENDER, OM_ARG_TEXT(key),
				      OM_ARG_END);
		break;
	default:
		stmt = om_sqlite_bind(s, OM_SQL_PORTAL_DUE, OM_ARG_INT64(due), OM_ARG_END);
		break;
	}
	return (int)om_sqlite_each(s, stmt, om_sqlite_portal_row, &r,
				   "read portal messages", error_r);
}

static int om_sqlite_portal_change(struct om_store *store, const char *id,
				   long long expires, int revoke, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = revoke ?
		om_sqlite_bind(s, OM_SQL_PORTAL_REVOKE, OM_ARG_TEXT(id), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_PORTAL_EXPIRES, OM_ARG_TEXT(id),
			       OM_ARG_INT64(expires), OM_ARG_END);

	if (om_sqlite_step_write(s, stmt, "change a portal message", error_r) < 0)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

/* The message, its views and codes, in one transaction. */
static int om_sqlite_portal_delete(struct om_store *store, const char *id,
				   char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	static const enum om_stmt_id order[] = {
		OM_SQL_PORTAL_VIEWS_DELETE, OM_SQL_PORTAL_CODES_DELETE,
		OM_SQL_PORTAL_DELETE,
	};
	size_t i;
	int changed = 0;

	if (om_sqlite_exec(s, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	for (i = 0; i < OM_N_ELEMENTS(order); i++) {
		if (om_sqlite_step_write(s, om_sqlite_bind(s, order[i], OM_ARG_TEXT(id),
							   OM_ARG_END),
					 "forget a portal message", error_r) < 0) {
			(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		changed = sqlite3_changes(s->db) > 0;
	}
	if (om_sqlite_exec(s, "COMMIT", error_r) < 0) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return changed;
}

static int om_sqlite_portal_view_add(struct om_store *store, const char *id,
				     const char *recipient, const char *what,
				     long long at, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_PORTAL_VIEW_ADD,
						      OM_ARG_TEXT(id), OM_ARG_TEXT(recipient),
						      OM_ARG_TEXT(what), OM_ARG_INT64(at),
						      OM_ARG_END),
				    "record a portal view", error_r);
}

static void om_sqlite_portal_view_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const char *id, *recipient, *what;
	long long at;

	om_sqlite_read(stmt, OM_COL_TEXT(&id), OM_COL_TEXT(&recipient), OM_COL_TEXT(&what),
		       OM_COL_INT64(&at), OM_COL_END);
	r->cb.portal_view(r->context, recipient, what, at);
}

static int om_sqlite_portal_views(struct om_store *store, const char *id,
				  om_store_portal_view_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.portal_view = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_PORTAL_VIEWS,
						     OM_ARG_TEXT(id), OM_ARG_END),
				   om_sqlite_portal_view_row, &r,
				   "read portal views", error_r);
}

static int om_sqlite_portal_code_set(struct om_store *store, const char *id,
				     const char *recipient, const char *code,
				     long long expires, int max_tries, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_PORTAL_CODE_SET,
						      OM_ARG_TEXT(id), OM_ARG_TEXT(recipient),
						      OM_ARG_TEXT(code), OM_ARG_INT64(expires),
						      OM_ARG_INT64(max_tries), OM_ARG_END),
				    "record a portal code", error_r);
}

struct om_sqlite_portal_code {
	char *code;
	long long expires;
	long long tries;
	int found;
};

static void om_sqlite_portal_code_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_sqlite_portal_code *c = r->context;
	const char *code;

	om_sqlite_read(stmt, OM_COL_TEXT(&code), OM_COL_INT64(&c->expires),
		       OM_COL_INT64(&c->tries), OM_COL_END);
	c->code = om_strdup(code);
	c->found = 1;
}

/* Inside a write transaction: reads the code's row and writes what
   om_store_code_decide makes of it (a spent code, a wrong try). */
static int om_sqlite_portal_code_check(struct om_store *store, const char *id,
				       const char *recipient, const char *code,
				       long long now, int max_tries, int *tries_r,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_portal_code c;
	struct om_sqlite_reader r = { .context = &c };
	struct om_store_code_row row;
	struct om_store_code_step step;

	memset(&c, 0, sizeof(c));
	if (om_sqlite_exec(s, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_PORTAL_CODE_GET, OM_ARG_TEXT(id),
					     OM_ARG_TEXT(recipient), OM_ARG_END),
			   om_sqlite_portal_code_row, &r, "read a portal code", error_r) < 0)
		goto fail;
	row.found = c.found;
	row.code = c.found ? c.code : "";
	row.expires = c.expires;
	row.tries = c.tries;
	om_store_code_decide(&row, code, now, max_tries, &step);
	if (step.write &&
	    om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_PORTAL_CODE_TRIES,
						   OM_ARG_TEXT(id), OM_ARG_TEXT(recipient),
						   OM_ARG_INT64(step.tries),
						   OM_ARG_INT64(step.wipe), OM_ARG_END),
				 "record a portal code's use", error_r) < 0)
		goto fail;
	*tries_r = (int)step.tries;
	free(c.code);
	if (om_sqlite_exec(s, "COMMIT", error_r) < 0) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return step.result;
fail:
	free(c.code);
	(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* ---- the compromised-account brake ---- */

/* Inside the caller's write transaction. */
static int om_sqlite_history_put(struct om_store *store,
				 const struct om_store_history *h, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_HIST_PUT, OM_ARG_TEXT(h->login),
					    OM_ARG_INT64(h->hour),
					    OM_ARG_INT64(h->messages),
					    OM_ARG_INT64(h->recipients), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "save sender history", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_history_expire(struct om_store *store, long long before,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_HIST_EXPIRE,
						      OM_ARG_INT64(before), OM_ARG_END),
				    "forget sender history", error_r);
}

static void om_sqlite_history_row(sqlite3_stmt *stmt,
				  const struct om_sqlite_reader *r)
{
	struct om_store_history h;

	om_sqlite_read(stmt, OM_COL_TEXT(&h.login), OM_COL_INT64(&h.hour),
		       OM_COL_INT64(&h.messages), OM_COL_INT64(&h.recipients),
		       OM_COL_END);
	r->cb.history(r->context, &h);
}

/* Steps a bound statement yielding history rows into cb; the count or -1. */
static int om_sqlite_history_step(struct om_store_sqlite *s, sqlite3_stmt *stmt,
				  om_store_history_cb *cb, void *context,
				  char **error_r)
{
	struct om_sqlite_reader r = { .cb.history = cb, .context = context };

	return (int)om_sqlite_each(s, stmt, om_sqlite_history_row, &r,
				   "read sender history", error_r);
}

static int om_sqlite_history_peaks(struct om_store *store, long long since,
				   long long before, om_store_history_cb *cb,
				   void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_history_step(s, om_sqlite_bind(s, OM_SQL_HIST_PEAKS,
							OM_ARG_INT64(since),
							OM_ARG_INT64(before), OM_ARG_END),
				      cb, context, error_r);
}

static int om_sqlite_history_rows(struct om_store *store, const char *login,
				  long long hour, om_store_history_cb *cb,
				  void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_history_step(s, login != NULL ?
				      om_sqlite_bind(s, OM_SQL_HIST_LOGIN, OM_ARG_TEXT(login),
						     OM_ARG_INT64(hour), OM_ARG_END) :
				      om_sqlite_bind(s, OM_SQL_HIST_HOUR, OM_ARG_INT64(hour),
						     OM_ARG_END),
				      cb, context, error_r);
}

static int om_sqlite_brake_trip(struct om_store *store, const struct om_store_brake *b,
				long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_BRAKE_TRIP, OM_ARG_TEXT(b->login),
					    OM_ARG_INT64(b->since),
					    OM_ARG_INT64(b->messages),
					    OM_ARG_INT64(b->recipients),
					    OM_ARG_INT64(b->limit_messages),
					    OM_ARG_INT64(b->limit_recipients),
					    OM_ARG_INT64(b->peak_messages),
					    OM_ARG_INT64(b->peak_recipients),
					    OM_ARG_INT64(now), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "record a brake", error_r);
}

static void om_sqlite_brake_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_brake b;
	int state;

	om_sqlite_read(stmt, OM_COL_TEXT(&b.login), OM_COL_INT(&state),
		       OM_COL_INT64(&b.since), OM_COL_INT64(&b.messages),
		       OM_COL_INT64(&b.recipients), OM_COL_INT64(&b.limit_messages),
		       OM_COL_INT64(&b.limit_recipients), OM_COL_INT64(&b.peak_messages),
		       OM_COL_INT64(&b.peak_recipients), OM_COL_INT(&b.alerted),
		       OM_COL_INT64(&b.changed), OM_COL_END);
	b.state = (enum om_brake_state)state;
	r->cb.brake(r->context, &b);
}

static int om_sqlite_brake_list(struct om_store *store, const char *login,
				om_store_brake_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.brake = cb, .context = context };
	sqlite3_stmt *stmt = login != NULL ?
		om_sqlite_bind(s, OM_SQL_BRAKE_GET, OM_ARG_TEXT(login), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_BRAKE_ON, OM_ARG_END);

	return (int)om_sqlite_each(s, stmt, om_sqlite_brake_row, &r, "read brakes",
				   error_r);
}

static int om_sqlite_brake_lift(struct om_store *store, const char *login,
				long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_BRAKE_LIFT,
						      OM_ARG_TEXT(login),
						      OM_ARG_INT64(now), OM_ARG_END),
				    "lift a brake", error_r);
}

static int om_sqlite_brake_alert(struct om_store *store, const char *login,
				 int claim, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, claim ? OM_SQL_BRAKE_ALERT :
						      OM_SQL_BRAKE_UNALERT,
						      OM_ARG_TEXT(login), OM_ARG_END),
				    "mark a brake's alert", error_r);
}

/* ---- the URL reputation store ---- */

/* Keys one OM_SQL_URL_FIND reads (its ?3..?10). */
#define OM_SQLITE_URL_KEYS 8

/* A URL entry row (column order of OM_SQL_URL_FIND). */
static void om_sqlite_url_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_url u;
	int kind, verdict;

	om_sqlite_read(stmt, OM_COL_INT(&kind), OM_COL_TEXT(&u.key),
		       OM_COL_TEXT(&u.source), OM_COL_INT(&verdict),
		       OM_COL_INT64(&u.added), OM_COL_INT64(&u.expires), OM_COL_END);
	u.kind = (enum om_url_kind)kind;
	u.verdict = (enum om_url_verdict)verdict;
	r->cb.url(r->context, &u);
}

/* Steps a bound statement yielding URL entries into cb; the count or -1. */
static long om_sqlite_url_rows(struct om_store_sqlite *s, sqlite3_stmt *stmt,
			       om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_sqlite_reader r = { .cb.url = cb, .context = context };

	return om_sqlite_each(s, stmt, om_sqlite_url_row, &r, "read URL entries",
			      error_r);
}

static int om_sqlite_url_find(struct om_store *store, enum om_url_kind kind,
			      const char *const *keys, size_t count, long long now,
			      om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sql_arg args[2 + OM_SQLITE_URL_KEYS + 1] = {
		OM_ARG_INT64(kind), OM_ARG_INT64(now),
	};
	const struct om_sql_arg end = OM_ARG_END;
	size_t i, n;
	long rows;
	int found = 0;

	for (i = 0; i < count; i += OM_SQLITE_URL_KEYS) {
		for (n = 0; n < OM_SQLITE_URL_KEYS && i + n < count; n++) {
			args[2 + n].type = OM_SQL_TEXT;
			args[2 + n].text = keys[i + n];
		}
		args[2 + n] = end;
		rows = om_sqlite_url_rows(s, om_sqlite_bind_args(s, OM_SQL_URL_FIND, args,
								 OM_N_ELEMENTS(args)),
					  cb, context, error_r);
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
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_URL_PUT, OM_ARG_INT64(u->kind),
					    OM_ARG_TEXT(u->key), OM_ARG_TEXT(u->source),
					    OM_ARG_INT64(u->verdict),
					    OM_ARG_INT64(u->added),
					    OM_ARG_INT64(u->expires), OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "write a URL entry", error_r) < 0 ?
		-1 : 0;
}

static int om_sqlite_url_remove(struct om_store *store, enum om_url_kind kind,
				const char *key, const char *source, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, source != NULL ? OM_SQL_URL_DEL :
					    OM_SQL_URL_DEL_ANY, OM_ARG_INT64(kind),
					    OM_ARG_TEXT(key), OM_ARG_TEXT(source),
					    OM_ARG_END);

	return om_sqlite_step_write(s, stmt, "remove a URL entry", error_r);
}

static int om_sqlite_url_click(struct om_store *store, const char *mailbox,
			       const char *host, enum om_url_verdict verdict,
			       long long at, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_URL_CLICK_ADD,
						      OM_ARG_TEXT(mailbox), OM_ARG_TEXT(host),
						      OM_ARG_INT64((long long)verdict),
						      OM_ARG_INT64(at), OM_ARG_END),
				    "record a click", error_r) < 0 ? -1 : 0;
}

static long om_sqlite_url_clicks_expire(struct om_store *store, long long before,
					char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_URL_CLICKS_EXPIRE,
						      OM_ARG_INT64(before), OM_ARG_END),
				    "expire clicks", error_r);
}

static long om_sqlite_url_clicks_count(struct om_store *store, const char *mailbox,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_URL_CLICKS_COUNT,
					    OM_ARG_TEXT(mailbox), OM_ARG_END);
	long long n;

	if (stmt == NULL || om_sqlite_read_number(stmt, &n) < 0) {
		*error_r = om_sqlite_error(s, "count clicks");
		return -1;
	}
	return (long)n;
}

/* ---- audit rules ---- */

static int om_sqlite_audit_shift(struct om_store *store, const char *domain,
				 long long from, int shift, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	/* make room: from.. park, then +1; close the gap: from+1.. park,
	   then -1 */
	if (om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_AUDIT_PARK, OM_ARG_TEXT(domain),
						   OM_ARG_INT64(shift > 0 ? from : from + 1),
						   OM_ARG_END),
				 "move audit rules", error_r) < 0)
		return -1;
	return om_sqlite_step_write(s, om_sqlite_bind(s, shift > 0 ?
						      OM_SQL_AUDIT_UNPARK_UP :
						      OM_SQL_AUDIT_UNPARK_DOWN,
						      OM_ARG_TEXT(domain), OM_ARG_END),
				    "move audit rules", error_r) < 0 ? -1 : 0;
}

static int om_sqlite_audit_insert(struct om_store *store, const char *domain,
				  long long position, const char *rule, long long now,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_AUDIT_INSERT,
						      OM_ARG_TEXT(domain),
						      OM_ARG_INT64(position), OM_ARG_TEXT(rule),
						      OM_ARG_INT64(now), OM_ARG_END),
				    "add an audit rule", error_r) < 0 ? -1 : 0;
}

static int om_sqlite_audit_delete(struct om_store *store, const char *domain,
				  long long position, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long n = om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_AUDIT_DELETE,
							OM_ARG_TEXT(domain),
							OM_ARG_INT64(position), OM_ARG_END),
				      "remove an audit rule", error_r);

	return n < 0 ? -1 : n > 0;
}

static long long om_sqlite_audit_last(struct om_store *store, const char *domain,
				      char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = om_sqlite_bind(s, OM_SQL_AUDIT_LAST, OM_ARG_TEXT(domain),
					    OM_ARG_END);
	long long n;

	if (stmt == NULL || om_sqlite_read_number(stmt, &n) < 0) {
		*error_r = om_sqlite_error(s, "read audit rules");
		return -1;
	}
	return n;
}

static void om_sqlite_audit_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_audit_rule a;

	om_sqlite_read(stmt, OM_COL_TEXT(&a.domain), OM_COL_INT64(&a.position),
		       OM_COL_TEXT(&a.rule), OM_COL_INT64(&a.created), OM_COL_END);
	r->cb.audit(r->context, &a);
}

static long om_sqlite_audit_list(struct om_store *store, const char *domain,
				 om_store_audit_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.audit = cb, .context = context };
	sqlite3_stmt *stmt = domain != NULL ?
		om_sqlite_bind(s, OM_SQL_AUDIT_LIST, OM_ARG_TEXT(domain), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_AUDIT_LIST_ALL, OM_ARG_END);

	return om_sqlite_each(s, stmt, om_sqlite_audit_row, &r, "read audit rules", error_r);
}

/* ---- policy groups ---- */

static int om_sqlite_group_insert(struct om_store *store, const char *domain,
				  const char *name, long long now, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_GROUP_INSERT,
						      OM_ARG_TEXT(domain), OM_ARG_TEXT(name),
						      OM_ARG_INT64(now), OM_ARG_END),
				    "add a policy group", error_r);
}

static int om_sqlite_group_remove(struct om_store *store, const char *domain,
				  const char *name, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_GROUP_REMOVE,
						      OM_ARG_TEXT(domain), OM_ARG_TEXT(name),
						      OM_ARG_END),
				    "delete a policy group", error_r);
}

static int om_sqlite_scope_delete(struct om_store *store, const char *scope,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_DOM_DELETE_SCOPE,
						      OM_ARG_TEXT(scope), OM_ARG_END),
				    "delete a scope's settings", error_r);
}

static void om_sqlite_group_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const char *domain, *name;

	om_sqlite_read(stmt, OM_COL_TEXT(&domain), OM_COL_TEXT(&name), OM_COL_END);
	r->cb.group(r->context, domain, name);
}

static long om_sqlite_group_list(struct om_store *store, const char *domain,
				 om_store_group_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.group = cb, .context = context };
	sqlite3_stmt *stmt = domain != NULL ?
		om_sqlite_bind(s, OM_SQL_GROUP_LIST, OM_ARG_TEXT(domain), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_GROUP_LIST_ALL, OM_ARG_END);

	return om_sqlite_each(s, stmt, om_sqlite_group_row, &r, "read policy groups",
			      error_r);
}

static long om_sqlite_group_members(struct om_store *store, const char *domain,
				    const char *name, om_store_group_cb *cb,
				    void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.group = cb, .context = context };

	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_GROUP_MEMBERS, OM_ARG_TEXT(domain),
						OM_ARG_TEXT(name), OM_ARG_END),
			      om_sqlite_group_row, &r, "read a group's mailboxes", error_r);
}

/* ---- the history of subscription states ---- */

static void om_sqlite_sub_change_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_sub_change c;

	om_sqlite_read(stmt, OM_COL_TEXT(&c.mailbox), OM_COL_TEXT(&c.feature),
		       OM_COL_TEXT(&c.state), OM_COL_INT64(&c.at), OM_COL_END);
	r->cb.sub_change(r->context, &c);
}

static long om_sqlite_sub_history(struct om_store *store, long long since,
				  long long until, om_store_sub_change_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.sub_change = cb, .context = context };

	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_SUB_HISTORY, OM_ARG_INT64(since),
						OM_ARG_INT64(until), OM_ARG_END),
			      om_sqlite_sub_change_row, &r, "read subscription history",
			      error_r);
}

static int om_sqlite_sub_history_put(struct om_store *store,
				     const struct om_store_sub_change *c, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_SUB_HISTORY_PUT,
						      OM_ARG_TEXT(c->mailbox),
						      OM_ARG_TEXT(c->feature),
						      OM_ARG_TEXT(c->state),
						      OM_ARG_INT64(c->at), OM_ARG_END),
				    "write subscription history", error_r) < 0 ? -1 : 0;
}

static long om_sqlite_urls_drop_source(struct om_store *store, const char *source,
				       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_URL_DROP_SOURCE,
						      OM_ARG_TEXT(source), OM_ARG_END),
				    "remove a feed's URL entries", error_r);
}

static long om_sqlite_urls_count(struct om_store *store, const char *source,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long long n;

	if (om_sqlite_number(s, om_sqlite_bind(s, source != NULL ? OM_SQL_URL_COUNT :
					       OM_SQL_URL_COUNT_ALL, OM_ARG_TEXT(source),
					       OM_ARG_END),
			     &n, "count URL entries", error_r) < 0)
		return -1;
	return (long)n;
}

static long om_sqlite_urls_each(struct om_store *store, const char *source,
				om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_url_rows(s, om_sqlite_bind(s, source != NULL ? OM_SQL_URL_EACH :
						    OM_SQL_URL_EACH_ALL,
						    OM_ARG_TEXT(source), OM_ARG_END),
				  cb, context, error_r);
}

static void om_sqlite_url_source_row(sqlite3_stmt *stmt,
				     const struct om_sqlite_reader *r)
{
	r->cb.url_source(r->context, om_sqlite_text(stmt, 0),
			 (long)sqlite3_column_int64(stmt, 1));
}

static int om_sqlite_urls_sources(struct om_store *store, om_store_url_source_cb *cb,
				  void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.url_source = cb, .context = context };

	return (int)om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_URL_SOURCES, OM_ARG_END),
				   om_sqlite_url_source_row, &r, "read URL sources",
				   error_r);
}

/* ---- domain administrators and the change log (v18) ---- */

static int om_sqlite_admin_put(struct om_store *store, const struct om_store_admin *a,
			       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_ADMIN_PUT,
						      OM_ARG_TEXT(a->domain),
						      OM_ARG_TEXT(a->address),
						      OM_ARG_TEXT(a->role),
						      OM_ARG_TEXT(a->rights),
						      OM_ARG_INT64(a->created), OM_ARG_END),
				    "record an administrator", error_r) < 0 ? -1 : 0;
}

static int om_sqlite_admin_delete(struct om_store *store, const char *domain,
				  const char *address, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long n = om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_ADMIN_DELETE,
							OM_ARG_TEXT(domain),
							OM_ARG_TEXT(address), OM_ARG_END),
				      "remove an administrator", error_r);

	return n < 0 ? -1 : n > 0;
}

static long om_sqlite_admin_count(struct om_store *store, const char *domain,
				  const char *role, const char *except, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	long long n;

	if (om_sqlite_number(s, om_sqlite_bind(s, OM_SQL_ADMIN_COUNT, OM_ARG_TEXT(domain),
					       OM_ARG_TEXT(role), OM_ARG_TEXT(except),
					       OM_ARG_END),
			     &n, "count administrators", error_r) < 0)
		return -1;
	return (long)n;
}

static void om_sqlite_admin_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_admin a;

	om_sqlite_read(stmt, OM_COL_TEXT(&a.domain), OM_COL_TEXT(&a.address),
		       OM_COL_TEXT(&a.role), OM_COL_TEXT(&a.rights),
		       OM_COL_INT64(&a.created), OM_COL_END);
	r->cb.admin(r->context, &a);
}

static long om_sqlite_admin_list(struct om_store *store, int by_address,
				 const char *key, om_store_admin_cb *cb, void *context,
				 char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.admin = cb, .context = context };
	sqlite3_stmt *stmt = by_address ?
		om_sqlite_bind(s, OM_SQL_ADMIN_OF, OM_ARG_TEXT(key), OM_ARG_END) :
		key != NULL ?
		om_sqlite_bind(s, OM_SQL_ADMIN_LIST, OM_ARG_TEXT(key), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_ADMIN_LIST_ALL, OM_ARG_END);

	return om_sqlite_each(s, stmt, om_sqlite_admin_row, &r, "read administrators",
			      error_r);
}

static int om_sqlite_change_add(struct om_store *store, const struct om_store_change *c,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_CHANGE_ADD,
						      OM_ARG_INT64(c->at), OM_ARG_TEXT(c->who),
						      OM_ARG_TEXT(c->domain),
						      OM_ARG_TEXT(c->what),
						      OM_ARG_TEXT(c->old_value),
						      OM_ARG_TEXT(c->new_value), OM_ARG_END),
				    "record a change", error_r) < 0 ? -1 : 0;
}

static void om_sqlite_change_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	struct om_store_change c;

	om_sqlite_read(stmt, OM_COL_INT64(&c.id), OM_COL_INT64(&c.at),
		       OM_COL_TEXT(&c.who), OM_COL_TEXT(&c.domain), OM_COL_TEXT(&c.what),
		       OM_COL_TEXT(&c.old_value), OM_COL_TEXT(&c.new_value), OM_COL_END);
	r->cb.change(r->context, &c);
}

static long om_sqlite_change_list(struct om_store *store, const char *domain,
				  long limit, om_store_change_cb *cb, void *context,
				  char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_reader r = { .cb.change = cb, .context = context };

	return om_sqlite_each(s, om_sqlite_bind(s, OM_SQL_CHANGE_LIST, OM_ARG_TEXT(domain),
						OM_ARG_INT64(limit), OM_ARG_END),
			      om_sqlite_change_row, &r, "read the change log", error_r);
}

/* ---- the message trace (doc/trace.md) ---- */

static int om_sqlite_event_add(struct om_store *store, const struct om_store_event *ev,
			       char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_EVENT_ADD,
						      OM_ARG_INT64(ev->at),
						      OM_ARG_TEXT(ev->domain),
						      OM_ARG_INT64((long long)ev->direction),
						      OM_ARG_TEXT(ev->sender),
						      OM_ARG_TEXT(ev->recipient),
						      OM_ARG_TEXT(ev->message_id),
						      OM_ARG_TEXT(ev->subject),
						      OM_ARG_TEXT(ev->queue_id),
						      OM_ARG_TEXT(ev->step),
						      OM_ARG_TEXT(ev->result),
						      OM_ARG_TEXT(ev->detail),
						      OM_ARG_INT64(ev->recipients > 1 ?
								   ev->recipients : 1),
						      OM_ARG_END),
				    "record an event", error_r) < 0 ? -1 : 0;
}

static long om_sqlite_events_expire(struct om_store *store, long long before,
				    char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);

	return om_sqlite_step_write(s, om_sqlite_bind(s, OM_SQL_EVENTS_EXPIRE,
						      OM_ARG_INT64(before), OM_ARG_END),
				    "expire events", error_r);
}

struct om_sqlite_trace_find {
	void (*cb)(void *context, const char *message_id, const char *queue_id,
		   long long lone);
	void *context;
};

static void om_sqlite_trace_find_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const struct om_sqlite_trace_find *f = r->context;
	const char *message_id, *queue_id;
	long long lone;

	om_sqlite_read(stmt, OM_COL_TEXT(&message_id), OM_COL_TEXT(&queue_id),
		       OM_COL_INT64(&lone), OM_COL_END);
	f->cb(f->context, message_id, queue_id, lone);
}

/* "" is "any": NULL, which the statement's "?N IS NULL" reads so. */
static const char *om_sqlite_any(const char *text)
{
	return text != NULL && *text != '\0' ? text : NULL;
}

static int om_sqlite_trace_find(struct om_store *store, const char *domain,
				const struct om_trace_query *q, long long limit,
				void (*cb)(void *context, const char *message_id,
					   const char *queue_id, long long lone),
				void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_trace_find f = { cb, context };
	struct om_sqlite_reader r = { .context = &f };
	enum om_stmt_id id = OM_SQL_TRACE_FIND_DOMAIN;

	if (om_sqlite_any(q->message_id) != NULL)
		id = OM_SQL_TRACE_FIND_MID;
	else if (om_sqlite_any(q->recipient) != NULL)
		id = OM_SQL_TRACE_FIND_RCPT;
	else if (om_sqlite_any(q->sender) != NULL)
		id = OM_SQL_TRACE_FIND_SENDER;
	return (int)om_sqlite_each(s, om_sqlite_bind(s, id, OM_ARG_TEXT(domain),
						     OM_ARG_INT64(q->since),
						     OM_ARG_INT64(q->until),
						     OM_ARG_TEXT(om_sqlite_any(q->sender)),
						     OM_ARG_TEXT(om_sqlite_any(q->recipient)),
						     OM_ARG_TEXT(om_sqlite_any(q->subject)),
						     OM_ARG_TEXT(om_sqlite_any(q->message_id)),
						     OM_ARG_INT64(limit), OM_ARG_END),
				   om_sqlite_trace_find_row, &r, "search events", error_r);
}

struct om_sqlite_trace_rows {
	om_store_trace_cb *cb;
	void *context;
};

static void om_sqlite_trace_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const struct om_sqlite_trace_rows *t = r->context;
	struct om_store_event ev;
	long long direction;

	om_sqlite_read(stmt, OM_COL_INT64(&ev.id), OM_COL_INT64(&ev.at),
		       OM_COL_INT64(&direction), OM_COL_TEXT(&ev.sender),
		       OM_COL_TEXT(&ev.recipient), OM_COL_TEXT(&ev.message_id),
		       OM_COL_TEXT(&ev.subject), OM_COL_TEXT(&ev.queue_id),
		       OM_COL_TEXT(&ev.step), OM_COL_TEXT(&ev.result),
		       OM_COL_TEXT(&ev.detail), OM_COL_INT64(&ev.recipients), OM_COL_END);
	ev.domain = "";
	ev.direction = direction == OM_DIRECTION_IN ? OM_DIRECTION_IN :
		direction == OM_DIRECTION_OUT ? OM_DIRECTION_OUT : OM_DIRECTION_NONE;
	t->cb(t->context, 0, &ev);
}

static int om_sqlite_trace_rows(struct om_store *store, const char *domain,
				enum om_trace_by by, const char *key, long long row,
				long long limit, om_store_trace_cb *cb, void *context,
				char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_trace_rows t = { cb, context };
	struct om_sqlite_reader r = { .context = &t };
	sqlite3_stmt *stmt;

	switch (by) {
	case OM_TRACE_BY_MESSAGE_ID:
		stmt = om_sqlite_bind(s, OM_SQL_TRACE_BY_MID, OM_ARG_TEXT(domain),
				      OM_ARG_TEXT(key), OM_ARG_INT64(limit), OM_ARG_END);
		break;
	case OM_TRACE_BY_QUEUE_ID:
		stmt = om_sqlite_bind(s, OM_SQL_TRACE_BY_QID, OM_ARG_TEXT(domain),
				      OM_ARG_TEXT(key), OM_ARG_INT64(limit), OM_ARG_END);
		break;
	case OM_TRACE_BY_ROW:
	default:
		stmt = om_sqlite_bind(s, OM_SQL_TRACE_BY_ID, OM_ARG_TEXT(domain),
				      OM_ARG_INT64(row), OM_ARG_INT64(limit), OM_ARG_END);
		break;
	}
	return (int)om_sqlite_each(s, stmt, om_sqlite_trace_row, &r, "read events",
				   error_r);
}

struct om_sqlite_report_rows {
	om_report_row_cb *cb;
	void *context;
};

static void om_sqlite_report_row(sqlite3_stmt *stmt, const struct om_sqlite_reader *r)
{
	const struct om_sqlite_report_rows *t = r->context;
	long long day, count;
	const char *key;

	om_sqlite_read(stmt, OM_COL_INT64(&day), OM_COL_TEXT(&key), OM_COL_INT64(&count),
		       OM_COL_END);
	t->cb(t->context, day, key, count);
}

static int om_sqlite_report_rows(struct om_store *store, enum om_report_query q,
				 const char *domain, long long since, long long until,
				 const char *step, int direction, long long limit,
				 om_report_row_cb *cb, void *context, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	struct om_sqlite_report_rows t = { cb, context };
	struct om_sqlite_reader r = { .context = &t };
	enum om_stmt_id id;

	switch (q) {
	case OM_REPORT_Q_DAYS:
		id = OM_SQL_REPORT_DAYS;
		break;
	case OM_REPORT_Q_VIRUSES:
		id = OM_SQL_REPORT_VIRUSES;
		break;
	case OM_REPORT_Q_SPAM_DOMAINS:
		id = OM_SQL_REPORT_SPAM_DOMAINS;
		break;
	case OM_REPORT_Q_RESULTS:
	default:
		id = OM_SQL_REPORT_RESULTS;
		break;
	}
	return (int)om_sqlite_each(s, om_sqlite_bind(s, id, OM_ARG_TEXT(domain),
						     OM_ARG_INT64(since), OM_ARG_INT64(until),
						     OM_ARG_TEXT(step),
						     OM_ARG_INT64(direction),
						     OM_ARG_INT64(limit), OM_ARG_END),
				   om_sqlite_report_row, &r, "count events", error_r);
}

static int om_sqlite_report_claim(struct om_store *store, const char *domain,
				  const char *month, const char *recipient, long long at,
				  int claim, char **error_r)
{
	struct om_store_sqlite *s = om_sqlite(store);
	sqlite3_stmt *stmt = claim ?
		om_sqlite_bind(s, OM_SQL_REPORT_CLAIM, OM_ARG_TEXT(domain),
			       OM_ARG_TEXT(month), OM_ARG_TEXT(recipient),
			       OM_ARG_INT64(at), OM_ARG_END) :
		om_sqlite_bind(s, OM_SQL_REPORT_UNCLAIM, OM_ARG_TEXT(domain),
			       OM_ARG_TEXT(month), OM_ARG_TEXT(recipient), OM_ARG_END);
	int n = om_sqlite_step_write(s, stmt, claim ? "claim a report" :
				      "forget a report's claim", error_r);

	return n < 0 ? -1 : n > 0;
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
	.rate_add = om_sqlite_rate_add,
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
	.digest_sent_count = om_sqlite_digest_sent_count,
	.digest_due = om_sqlite_digest_due,
	.correspondent_put = om_sqlite_correspondent_put,
	.correspondent_known = om_sqlite_correspondent_known,
	.correspondents_list = om_sqlite_correspondents_list,
	.nonce_use = om_sqlite_nonce_use,
	.outbound_claim = om_sqlite_outbound_claim,
	.outbound_finish = om_sqlite_outbound_finish,
	.outbound_expire = om_sqlite_outbound_expire,
	.hold_add = om_sqlite_hold_add,
	.hold_list = om_sqlite_hold_list,
	.hold_move = om_sqlite_hold_move,
	.hold_ask = om_sqlite_hold_ask,
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
	.isolated_add = om_sqlite_isolated_add,
	.isolated_list = om_sqlite_isolated_list,
	.isolated_delete = om_sqlite_isolated_delete,
	.audit_shift = om_sqlite_audit_shift,
	.audit_insert = om_sqlite_audit_insert,
	.audit_delete = om_sqlite_audit_delete,
	.audit_last = om_sqlite_audit_last,
	.audit_list = om_sqlite_audit_list,
	.sandbox_get = om_sqlite_sandbox_get,
	.sandbox_put = om_sqlite_sandbox_put,
	.portal_add = om_sqlite_portal_add,
	.portal_list = om_sqlite_portal_list,
	.portal_change = om_sqlite_portal_change,
	.portal_delete = om_sqlite_portal_delete,
	.portal_view_add = om_sqlite_portal_view_add,
	.portal_views = om_sqlite_portal_views,
	.portal_code_set = om_sqlite_portal_code_set,
	.portal_code_check = om_sqlite_portal_code_check,
	.urls_drop_source = om_sqlite_urls_drop_source,
	.urls_count = om_sqlite_urls_count,
	.urls_each = om_sqlite_urls_each,
	.urls_sources = om_sqlite_urls_sources,
	.group_insert = om_sqlite_group_insert,
	.group_remove = om_sqlite_group_remove,
	.group_list = om_sqlite_group_list,
	.group_members = om_sqlite_group_members,
	.scope_delete = om_sqlite_scope_delete,
	.sub_history = om_sqlite_sub_history,
	.sub_history_put = om_sqlite_sub_history_put,
	.admin_put = om_sqlite_admin_put,
	.admin_delete = om_sqlite_admin_delete,
	.admin_count = om_sqlite_admin_count,
	.admin_list = om_sqlite_admin_list,
	.change_add = om_sqlite_change_add,
	.change_list = om_sqlite_change_list,
	.event_add = om_sqlite_event_add,
	.events_expire = om_sqlite_events_expire,
	.trace_find = om_sqlite_trace_find,
	.trace_rows = om_sqlite_trace_rows,
	.report_rows = om_sqlite_report_rows,
	.report_claim = om_sqlite_report_claim,
};
