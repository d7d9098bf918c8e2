/* store-pgsql.c - the PostgreSQL backend of the omamori store
 * (store-private.h), for sites whose many mail hosts share one store
 * (issue 21); every SQL statement and every libpq call for it lives here.
 *
 * Chosen with store_path = postgresql:CONNINFO (libpq's "host=... dbname=..."
 * form).  The schema is the SQLite backend's current one (v25) written in
 * PostgreSQL's terms and made in one go by OM_STORE_CREATE; its version is
 * the one row of schema_version.  Later migrations are written for both
 * backends (om_pg_migrations: v23 on).  Statements are prepared once per connection (on first use) and
 * every value is a bound parameter, never spliced into the text.
 *
 * A write transaction takes one transaction-scoped advisory lock at BEGIN,
 * as SQLite's BEGIN IMMEDIATE takes the write lock: writers queue instead
 * of failing, and the dispatcher's transactions, which run the caller's
 * checks between statements (list limits, admin counts), never need a
 * replay as SERIALIZABLE's retries would.  Triggers (PL/pgSQL) keep the
 * revisions and the change log as SQLite's do; the revision row's lock
 * orders the "config" revisions by commit, which the snapshot's refresh by
 * scope relies on.  Token counts are saved as deltas added to the row
 * (count = count + delta), so learners on many hosts add up.
 *
 * Changes are pushed, not polled: a statement that records a change (the
 * triggers' change log: a scope's settings, lists, subscriptions, audit
 * rules; the spam and brake revisions) is followed by a pg_notify on one
 * channel with its scope, delivered at commit; every connection LISTENs,
 * and the change counter (om_store_change_counter, what every cache asks)
 * reads what arrived without a round trip.  A reconnect, which may have
 * missed some, moves it too.
 *
 * A lost connection fails the call that meets it and is made again by the
 * next one.  No call waits on the server unbounded: every answer is read
 * without blocking, and a server silent for answer_timeout (30 s) fails
 * the call and loses the connection; keepalives and tcp_user_timeout make
 * TCP notice a vanished host; after a failed attempt, calls fail at once
 * for a pause (1 s doubling to 30 s) instead of each trying to connect
 * (doc/store.md, "A server that hangs or vanishes").  Every function of the seam is here (doc/store.md); what issue
 * 21 still asks of the backend (counters batched across hosts, writes
 * queued while the server is away) is not.
 */
#include "store/store-private.h"
#include "store/store-sql.h"
#include "lib/util.h"

#include <libpq-fe.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define OM_PG_SCHEMA_VERSION 26
#define OM_PG_MAX_PARAMS 16
/* seconds a connection attempt may take (conninfo may say otherwise) */
#define OM_PG_CONNECT_TIMEOUT "5"
/* TCP's own bounds (conninfo may say otherwise): an idle connection is
   probed after 5 s of silence, every 2 s, given up after 3 probes
   unanswered; data sent and not acknowledged for 10 s gives the
   connection up: a host that vanishes (power off, packets dropped) is
   noticed in about 10 to 20 s instead of TCP's 15 minutes */
#define OM_PG_KEEPALIVES_IDLE "5"
#define OM_PG_KEEPALIVES_INTERVAL "2"
#define OM_PG_KEEPALIVES_COUNT "3"
#define OM_PG_TCP_USER_TIMEOUT "10000"
/* seconds a statement's answer may stay silent (no byte arrives) before
   the connection is given up; conninfo's answer_timeout=N (omamori's own
   keyword, taken out before libpq sees it) says otherwise */
#define OM_PG_ANSWER_TIMEOUT 30
#define OM_PG_ANSWER_TIMEOUT_MAX 3600
/* the pause after a failed connection attempt, doubling while they keep
   failing (seconds) */
#define OM_PG_RETRY_FIRST 1
#define OM_PG_RETRY_MAX 30
/* the channel of the changes (store.h: om_store_change_counter) */
#define OM_PG_CHANNEL "omamori_changes"
/* a safety net only: a notification lost with no reconnect seen (a
   write whose NOTIFY failed after its commit) is caught by comparing the
   revisions this often */
#define OM_PG_RECHECK_SECONDS 60
/* rows of `omamorictl list import` bound to one statement */
#define OM_PG_IMPORT_BATCH 5000

/* the list trigger's first statement (v25): rows written by an import,
   which records its changes once a batch (om_pgsql_list_import), are
   skipped; the setting is local to the import's transaction */
#define OM_PG_IMPORT_SKIP \
	"  IF current_setting('omamori.import', true) = 'on' THEN RETURN NULL; END IF;"
/* om_config_changed as v25 made it (the base schema has it too) */
#define OM_PG_CONFIG_CHANGED_V25 \
	"CREATE OR REPLACE FUNCTION om_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$" \
	" DECLARE rev BIGINT;" \
	" BEGIN" \
	OM_PG_IMPORT_SKIP \
	"  UPDATE revisions SET value = value + 1 WHERE name = 'config'" \
	"    RETURNING value INTO rev;" \
	"  IF TG_OP <> 'INSERT' THEN" \
	"    INSERT INTO changes(scope, seq) VALUES (to_jsonb(OLD) ->> TG_ARGV[0], rev)" \
	"      ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq;" \
	"  END IF;" \
	"  IF TG_OP <> 'DELETE' THEN" \
	"    INSERT INTO changes(scope, seq) VALUES (to_jsonb(NEW) ->> TG_ARGV[0], rev)" \
	"      ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq;" \
	"  END IF;" \
	"  RETURN NULL;" \
	" END $$;"

enum om_pg_stmt {
	OM_PG_BEGIN_READ, OM_PG_BEGIN, OM_PG_WRITE_LOCK, OM_PG_COMMIT, OM_PG_ROLLBACK,
	OM_PG_SCHEMA_VERSION_GET,
	OM_PG_SUB_SET, OM_PG_SUB_GET, OM_PG_SUB_DELETE, OM_PG_SUB_LIST_ONE,
	OM_PG_SUB_LIST_ALL,
	OM_PG_DOM_SET, OM_PG_DOM_GET, OM_PG_DOM_DELETE, OM_PG_DOM_LIST_ONE,
	OM_PG_DOM_LIST_ALL,
	OM_PG_LIST_ADD, OM_PG_LIST_DELETE, OM_PG_LIST_HAS, OM_PG_LIST_COUNT,
	OM_PG_LIST_ALL, OM_PG_LIST_ONE, OM_PG_LIST_IMPORT_OVER, OM_PG_LIST_IMPORT,
	OM_PG_LIST_IMPORT_QUIET, OM_PG_LIST_IMPORT_CHANGES,
	OM_PG_RATE_ADD, OM_PG_RATE_ALL, OM_PG_RATE_EXPIRE,
	OM_PG_SPAM_TOTALS, OM_PG_SPAM_TOTALS_SET, OM_PG_SPAM_TOKENS,
	OM_PG_SPAM_TOKENS_ADD, OM_PG_SPAM_TOKENS_NEW, OM_PG_SPAM_PRUNE,
	OM_PG_SPAM_TOKEN_COUNT,
	OM_PG_SPAM_REVISION_BUMP,
	OM_PG_REVISION, OM_PG_REVISIONS_SUM, OM_PG_CHANGES, OM_PG_SECRET,
	OM_PG_Q_ADD, OM_PG_Q_GET, OM_PG_Q_EACH, OM_PG_Q_DELETE, OM_PG_Q_EXPIRE,
	OM_PG_C_SAVE, OM_PG_C_KNOWN, OM_PG_C_LIST, OM_PG_N_USE, OM_PG_N_EXPIRE,
	OM_PG_H_ADD, OM_PG_H_GET, OM_PG_H_MAILBOX, OM_PG_H_STATE, OM_PG_H_DUE,
	OM_PG_H_BRAKED, OM_PG_H_ASKED, OM_PG_H_MOVE, OM_PG_H_ASK, OM_PG_H_SET, OM_PG_H_NOTIFIED, OM_PG_H_EXPIRE,
	OM_PG_SANDBOX_GET, OM_PG_SANDBOX_PUT,
	OM_PG_GROUP_INSERT, OM_PG_GROUP_REMOVE, OM_PG_GROUP_LIST, OM_PG_GROUP_LIST_ALL,
	OM_PG_GROUP_MEMBERS, OM_PG_DOM_DELETE_SCOPE, OM_PG_SUB_HISTORY_PUT,
	OM_PG_ADMIN_PUT, OM_PG_ADMIN_DELETE, OM_PG_ADMIN_COUNT, OM_PG_ADMIN_LIST,
	OM_PG_ADMIN_LIST_ALL, OM_PG_ADMIN_OF, OM_PG_CHANGE_ADD, OM_PG_CHANGE_LIST,
	OM_PG_EVENT_ADD, OM_PG_EVENTS_EXPIRE, OM_PG_REPORT_CLAIM, OM_PG_REPORT_UNCLAIM,
	OM_PG_D_UNLISTED, OM_PG_D_NEW, OM_PG_D_MARK, OM_PG_D_ITEMS, OM_PG_D_SENT,
	OM_PG_D_PENDING, OM_PG_D_LAST, OM_PG_D_SENT_COUNT, OM_PG_D_DUE,
	OM_PG_OB_ADD, OM_PG_OB_GET, OM_PG_OB_FINISH, OM_PG_OB_EXPIRE,
	OM_PG_Z_ADD, OM_PG_Z_GET, OM_PG_Z_STATE, OM_PG_Z_MOVE, OM_PG_Z_SET, OM_PG_Z_EXPIRE,
	OM_PG_HIST_PUT, OM_PG_HIST_EXPIRE, OM_PG_HIST_PEAKS, OM_PG_HIST_HOUR,
	OM_PG_HIST_LOGIN, OM_PG_BRAKE_TRIP, OM_PG_BRAKE_GET, OM_PG_BRAKE_ON,
	OM_PG_BRAKE_LIFT, OM_PG_BRAKE_ALERT, OM_PG_BRAKE_UNALERT,
	OM_PG_ISO_ADD, OM_PG_ISO_GET, OM_PG_ISO_DUE, OM_PG_ISO_DELETE,
	OM_PG_AUDIT_PARK, OM_PG_AUDIT_UNPARK_DOWN, OM_PG_AUDIT_UNPARK_UP,
	OM_PG_AUDIT_INSERT, OM_PG_AUDIT_DELETE, OM_PG_AUDIT_LAST, OM_PG_AUDIT_LIST,
	OM_PG_AUDIT_LIST_ALL,
	OM_PG_URL_FIND, OM_PG_URL_PUT, OM_PG_URL_DEL, OM_PG_URL_DEL_ANY,
	OM_PG_URL_DROP_SOURCE, OM_PG_URL_COUNT, OM_PG_URL_COUNT_ALL, OM_PG_URL_EACH,
	OM_PG_URL_EACH_ALL, OM_PG_URL_SOURCES, OM_PG_URL_CLICK_ADD,
	OM_PG_URL_CLICKS_EXPIRE, OM_PG_URL_CLICKS_COUNT,
	OM_PG_SUB_HISTORY,
	OM_PG_TRACE_FIND_MID, OM_PG_TRACE_FIND_RCPT, OM_PG_TRACE_FIND_SENDER,
	OM_PG_TRACE_FIND_DOMAIN, OM_PG_TRACE_BY_MID, OM_PG_TRACE_BY_QID, OM_PG_TRACE_BY_ID,
	OM_PG_REPORT_DAYS, OM_PG_REPORT_RESULTS, OM_PG_REPORT_VIRUSES,
	OM_PG_REPORT_SPAM_DOMAINS,
	OM_PG_PORTAL_ADD, OM_PG_PORTAL_GET, OM_PG_PORTAL_DUE, OM_PG_PORTAL_BY_SENDER,
	OM_PG_PORTAL_REVOKE, OM_PG_PORTAL_EXPIRES, OM_PG_PORTAL_DELETE,
	OM_PG_PORTAL_VIEWS_DELETE, OM_PG_PORTAL_CODES_DELETE, OM_PG_PORTAL_VIEW_ADD,
	OM_PG_PORTAL_VIEWS, OM_PG_PORTAL_CODE_SET, OM_PG_PORTAL_CODE_GET,
	OM_PG_PORTAL_CODE_TRIES,
	OM_PG_LISTEN, OM_PG_NOTIFY,
	OM_PG_COUNT
};

#define OM_PG_HOLD_COLUMNS \
	"SELECT id, mailbox, sender, recipients, delivered, subject, attachments, " \
	"size, flags, created, expires, expiry, state, changed, notified, result, " \
	"kind, details, node, asked_by, asked_at FROM holds "
#define OM_PG_Q_COLUMNS \
	"SELECT id, mailbox, received, sender, from_header, subject, score, " \
	"reasons, size, digest, from_address, admin_only, message_id FROM quarantine "

static const char *const om_pg_text[OM_PG_COUNT] = {
	[OM_PG_LISTEN] = "LISTEN " OM_PG_CHANNEL,
	/* inside a transaction it is sent at commit, never on rollback */
	[OM_PG_NOTIFY] = "SELECT pg_notify('" OM_PG_CHANNEL "', $1)",
	[OM_PG_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
	[OM_PG_BEGIN] = "BEGIN",
	/* one writer at a time, as SQLite's BEGIN IMMEDIATE: 'omamori' */
	[OM_PG_WRITE_LOCK] = "SELECT pg_advisory_xact_lock(7308604872753163337)",
	[OM_PG_COMMIT] = "COMMIT",
	[OM_PG_ROLLBACK] = "ROLLBACK",
	[OM_PG_SCHEMA_VERSION_GET] = "SELECT version FROM schema_version WHERE id = 1",
	[OM_PG_SUB_SET] =
		"INSERT INTO subscriptions(mailbox, feature, state, updated) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(mailbox, feature) "
		"DO UPDATE SET state = excluded.state, updated = excluded.updated",
	[OM_PG_SUB_GET] =
		"SELECT state FROM subscriptions WHERE mailbox = $1 AND feature = $2",
	[OM_PG_SUB_DELETE] =
		"DELETE FROM subscriptions WHERE mailbox = $1 AND feature = $2",
	[OM_PG_SUB_LIST_ONE] =
		"SELECT mailbox, feature, state FROM subscriptions "
		"WHERE mailbox = $1 ORDER BY mailbox, feature",
	[OM_PG_SUB_LIST_ALL] =
		"SELECT mailbox, feature, state FROM subscriptions ORDER BY mailbox, feature",
	[OM_PG_DOM_SET] =
		"INSERT INTO domain_settings(domain, name, value, updated) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(domain, name) "
		"DO UPDATE SET value = excluded.value, updated = excluded.updated",
	[OM_PG_DOM_GET] =
		"SELECT value FROM domain_settings WHERE domain = $1 AND name = $2",
	[OM_PG_DOM_DELETE] =
		"DELETE FROM domain_settings WHERE domain = $1 AND name = $2",
	[OM_PG_DOM_LIST_ONE] =
		"SELECT domain, name, value FROM domain_settings "
		"WHERE domain = $1 ORDER BY domain, name",
	[OM_PG_DOM_LIST_ALL] =
		"SELECT domain, name, value FROM domain_settings ORDER BY domain, name",
	[OM_PG_LIST_ADD] =
		"INSERT INTO list_entries(scope, kind, entry, updated) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(scope, kind, entry) "
		"DO UPDATE SET updated = excluded.updated",
	[OM_PG_LIST_DELETE] =
		"DELETE FROM list_entries WHERE scope = $1 AND kind = $2 AND entry = $3",
	[OM_PG_LIST_HAS] =
		"SELECT 1 FROM list_entries WHERE scope = $1 AND kind = $2 AND entry = $3",
	[OM_PG_LIST_COUNT] =
		"SELECT count(*) FROM list_entries WHERE scope = $1 AND kind = $2",
	[OM_PG_LIST_ALL] =
		"SELECT scope, kind, entry FROM list_entries ORDER BY scope, kind, entry",
	[OM_PG_LIST_ONE] =
		"SELECT scope, kind, entry FROM list_entries WHERE scope = $1 "
		"ORDER BY scope, kind, entry",
	/* an import's batch, in arrays ($1 scopes, $2 kinds, $3 entries, $4
	   limited): its first limited row whose entry is new to its list and
	   takes the list over $5, with the list's count before it */
	[OM_PG_LIST_IMPORT_OVER] =
		"WITH b AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
		"$4::boolean[]) WITH ORDINALITY AS b(scope, kind, entry, limited, n)), "
		"fresh AS (SELECT DISTINCT ON (scope, kind, entry) scope, kind, limited, n "
		"FROM b WHERE NOT EXISTS (SELECT 1 FROM list_entries e WHERE "
		"e.scope = b.scope AND e.kind = b.kind AND e.entry = b.entry) "
		"ORDER BY scope, kind, entry, n), "
		"ranked AS (SELECT scope, kind, limited, n, row_number() OVER "
		"(PARTITION BY scope, kind ORDER BY n) AS k FROM fresh), "
		"have AS (SELECT e.scope, e.kind, count(*) AS c FROM list_entries e "
		"WHERE (e.scope, e.kind) IN (SELECT scope, kind FROM ranked WHERE limited) "
		"GROUP BY e.scope, e.kind) "
		"SELECT r.n - 1, coalesce(h.c, 0) + r.k - 1 FROM ranked r LEFT JOIN have h "
		"ON h.scope = r.scope AND h.kind = r.kind "
		"WHERE r.limited AND coalesce(h.c, 0) + r.k > $5::bigint ORDER BY r.n LIMIT 1",
	/* an import's batch in one statement; a duplicate row once */
	[OM_PG_LIST_IMPORT] =
		"INSERT INTO list_entries(scope, kind, entry, updated) "
		"SELECT DISTINCT ON (scope, kind, entry) scope, kind, entry, $4::bigint "
		"FROM unnest($1::text[], $2::text[], $3::text[]) AS t(scope, kind, entry) "
		"ON CONFLICT(scope, kind, entry) DO UPDATE SET updated = excluded.updated",
	/* may this connection turn list_entries' trigger off (its owner)? */
	[OM_PG_LIST_IMPORT_QUIET] =
		"SELECT set_config('omamori.import', $1, true)",
	/* what list_entries_change does for each row, once for a batch: one
	   "config" revision, and the change log's row of every scope ($1) */
	[OM_PG_LIST_IMPORT_CHANGES] =
		"WITH rev AS (UPDATE revisions SET value = value + 1 WHERE name = 'config' "
		"RETURNING value) INSERT INTO changes(scope, seq) "
		"SELECT DISTINCT u.scope, rev.value FROM unnest($1::text[]) AS u(scope), rev "
		"ON CONFLICT(scope) DO UPDATE SET seq = excluded.seq",
	/* increments: added within the same window, replacing an older
	   one's counts, dropped for a newer one (om_store_rates_merge) */
	[OM_PG_RATE_ADD] =
		"INSERT INTO rate_counters(\"user\", window_start, messages, recipients) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(\"user\") DO UPDATE SET "
		"messages = CASE WHEN excluded.window_start = rate_counters.window_start "
		"THEN rate_counters.messages + excluded.messages "
		"WHEN excluded.window_start > rate_counters.window_start "
		"THEN excluded.messages ELSE rate_counters.messages END, "
		"recipients = CASE WHEN excluded.window_start = rate_counters.window_start "
		"THEN rate_counters.recipients + excluded.recipients "
		"WHEN excluded.window_start > rate_counters.window_start "
		"THEN excluded.recipients ELSE rate_counters.recipients END, "
		"window_start = GREATEST(rate_counters.window_start, excluded.window_start) "
		"RETURNING \"user\", window_start, messages, recipients",
	[OM_PG_RATE_ALL] =
		"SELECT \"user\", window_start, messages, recipients FROM rate_counters",
	[OM_PG_RATE_EXPIRE] = "DELETE FROM rate_counters WHERE window_start < $1",
	[OM_PG_SPAM_TOTALS] = "SELECT nspam, nham FROM spam_totals WHERE id = 1",
	/* changes added to what is there: learners on every host add up */
	[OM_PG_SPAM_TOTALS_SET] =
		"INSERT INTO spam_totals(id, nspam, nham) "
		"VALUES (1, greatest(0, $1::bigint), greatest(0, $2::bigint)) "
		"ON CONFLICT(id) DO UPDATE SET "
		"nspam = greatest(0, spam_totals.nspam + $1::bigint), "
		"nham = greatest(0, spam_totals.nham + $2::bigint)",
	[OM_PG_SPAM_TOKENS] = "SELECT token, spam, ham FROM spam_tokens",
	/* a batch of token changes, in arrays ($1 tokens, $2 spam, $3 ham
	   changes), in two statements under the writers' lock: the tokens
	   stored get their changes added, then the others are inserted (no
	   count below zero; a token twice in a batch, which a save never
	   sends, would add up) */
	[OM_PG_SPAM_TOKENS_ADD] =
		"UPDATE spam_tokens t SET spam = greatest(0, t.spam + u.s), "
		"ham = greatest(0, t.ham + u.h) "
		"FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(token, s, h) "
		"WHERE t.token = u.token",
	[OM_PG_SPAM_TOKENS_NEW] =
		"INSERT INTO spam_tokens(token, spam, ham) "
		"SELECT u.token, greatest(0, u.s), greatest(0, u.h) "
		"FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(token, s, h) "
		"WHERE NOT EXISTS (SELECT 1 FROM spam_tokens t WHERE t.token = u.token) "
		"ON CONFLICT(token) DO UPDATE SET "
		"spam = greatest(0, spam_tokens.spam + excluded.spam), "
		"ham = greatest(0, spam_tokens.ham + excluded.ham)",
	/* the classifier's memory of the sites ham came from (spam.c's
	   "site@:", "site#:", "site=:", "site~:" and "site^:" keys) outlives a prune
	   while ham counts it: a partner who wrote once is still one; a
	   site only spam came from goes like any rare token; and a
	   mailbox's "lesson@:" keys (what it taught with each message, a
	   count of one) stay, or a move out of Junk after a prune could no
	   longer take back the move in */
	[OM_PG_SPAM_PRUNE] =
		"DELETE FROM spam_tokens WHERE spam + ham <= $1 AND "
		"NOT (ham > 0 AND substr(token, 1, 5) IN ('site@', 'site#', 'site=', 'site~', 'site^')) "
		"AND substr(token, 1, 8) <> 'lesson@:'",
	[OM_PG_SPAM_TOKEN_COUNT] = "SELECT count(*) FROM spam_tokens",
	[OM_PG_SPAM_REVISION_BUMP] =
		"UPDATE revisions SET value = value + 1 WHERE name = 'spam'",
	[OM_PG_REVISION] = "SELECT value FROM revisions WHERE name = $1",
	[OM_PG_REVISIONS_SUM] = "SELECT coalesce(sum(value), 0) FROM revisions",
	[OM_PG_CHANGES] =
		"SELECT scope FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
	[OM_PG_SECRET] = "SELECT encode(value, 'hex') FROM secrets WHERE name = $1",
	[OM_PG_Q_ADD] =
		"INSERT INTO quarantine(id, mailbox, received, sender, from_header, "
		"subject, score, reasons, size, digest, from_address, admin_only, "
		"message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
		"coalesce($13, '')) ON CONFLICT(id) DO NOTHING",
	[OM_PG_Q_GET] = OM_PG_Q_COLUMNS "WHERE mailbox = $1 AND id = $2",
	[OM_PG_Q_EACH] = OM_PG_Q_COLUMNS "WHERE mailbox = $1 ORDER BY received DESC, id",
	[OM_PG_Q_DELETE] = "DELETE FROM quarantine WHERE mailbox = $1 AND id = $2",
	[OM_PG_Q_EXPIRE] = "DELETE FROM quarantine WHERE mailbox = $1 AND received < $2",
	[OM_PG_C_SAVE] =
		"INSERT INTO correspondents(mailbox, address, last) VALUES ($1, $2, $3) "
		"ON CONFLICT(mailbox, address) DO UPDATE SET "
		"last = greatest(correspondents.last, excluded.last)",
	[OM_PG_C_KNOWN] =
		"SELECT 1 FROM correspondents WHERE mailbox = $1 AND address = $2",
	[OM_PG_C_LIST] =
		"SELECT address FROM correspondents WHERE mailbox = $1 "
		"ORDER BY last DESC LIMIT $2",
	[OM_PG_N_USE] =
		"INSERT INTO nonces(nonce, expires) VALUES ($1, $2) "
		"ON CONFLICT(nonce) DO NOTHING",
	[OM_PG_N_EXPIRE] = "DELETE FROM nonces WHERE expires < $1",
	[OM_PG_H_ADD] =
		"INSERT INTO holds(id, mailbox, sender, recipients, delivered, subject, "
		"attachments, size, flags, created, expires, expiry, state, changed, "
		"notified, result, kind, details, node) VALUES ($1, $2, $3, $4, $5, $6, "
		"$7, $8, $9, $10, $11, $12, $13, $10, 0, '', $14, $15, $16) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_PG_H_GET] = OM_PG_HOLD_COLUMNS "WHERE id = $1",
	[OM_PG_H_MAILBOX] =
		OM_PG_HOLD_COLUMNS "WHERE mailbox = $1 ORDER BY created DESC, id LIMIT 500",
	[OM_PG_H_STATE] = OM_PG_HOLD_COLUMNS "WHERE state = $1 ORDER BY created, id",
	[OM_PG_H_DUE] =
		OM_PG_HOLD_COLUMNS "WHERE state = 1 AND expires <= $1 ORDER BY expires, id",
	[OM_PG_H_BRAKED] =
		OM_PG_HOLD_COLUMNS "WHERE sender = $1 AND kind = 'brake' AND state = 5 "
		"ORDER BY created, id",
	[OM_PG_H_ASKED] =
		OM_PG_HOLD_COLUMNS "WHERE node = $1 AND state IN (6, 7) ORDER BY changed, id",
	[OM_PG_H_MOVE] =
		"UPDATE holds SET state = $2, changed = $3 WHERE id = $1 AND state IN ($4, $5)",
	/* its NOTIFY (scope ":holds") wakes the holding node at once */
	[OM_PG_H_ASK] =
		"UPDATE holds SET state = $2, changed = $3, asked_by = $6, asked_at = $3 "
		"WHERE id = $1 AND state IN ($4, $5)",
	[OM_PG_H_SET] =
		"UPDATE holds SET state = $2, changed = $3, result = $4 WHERE id = $1",
	[OM_PG_H_NOTIFIED] = "UPDATE holds SET notified = 1 WHERE id = $1",
	[OM_PG_H_EXPIRE] = "DELETE FROM holds WHERE state IN (3, 4) AND changed < $1",
	[OM_PG_SANDBOX_GET] =
		"SELECT verdict, first_seen FROM sandbox_verdicts WHERE hash = $1",
	[OM_PG_SANDBOX_PUT] =
		"INSERT INTO sandbox_verdicts(hash, verdict, first_seen, updated) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(hash) "
		"DO UPDATE SET verdict = excluded.verdict, updated = excluded.updated",
	[OM_PG_GROUP_INSERT] =
		"INSERT INTO policy_groups(domain, name, created) VALUES ($1, $2, $3) "
		"ON CONFLICT(domain, name) DO NOTHING",
	[OM_PG_GROUP_REMOVE] = "DELETE FROM policy_groups WHERE domain = $1 AND name = $2",
	[OM_PG_GROUP_LIST] =
		"SELECT domain, name FROM policy_groups WHERE domain = $1 ORDER BY name",
	[OM_PG_GROUP_LIST_ALL] =
		"SELECT domain, name FROM policy_groups ORDER BY domain, name",
	/* the mailboxes of domain $1 (keys ending in "@" $1) whose own
	   setting "group" is $2 */
	[OM_PG_GROUP_MEMBERS] =
		"SELECT domain, value FROM domain_settings WHERE name = 'group' "
		"AND value = $2 AND length(domain) > length($1::text) + 1 "
		"AND right(domain, length($1::text) + 1) = '@' || $1::text "
		"ORDER BY domain",
	[OM_PG_DOM_DELETE_SCOPE] = "DELETE FROM domain_settings WHERE domain = $1",
	[OM_PG_SUB_HISTORY_PUT] =
		"INSERT INTO subscription_history(mailbox, feature, state, at) "
		"VALUES ($1, $2, $3, $4)",
	[OM_PG_ADMIN_PUT] =
		"INSERT INTO admins(domain, address, role, rights, created) "
		"VALUES ($1, $2, $3, $4, $5) ON CONFLICT(domain, address) "
		"DO UPDATE SET role = excluded.role, rights = excluded.rights",
	[OM_PG_ADMIN_DELETE] = "DELETE FROM admins WHERE domain = $1 AND address = $2",
	[OM_PG_ADMIN_COUNT] =
		"SELECT count(*) FROM admins WHERE domain = $1 AND role = $2 "
		"AND address IS DISTINCT FROM $3",
	[OM_PG_ADMIN_LIST] =
		"SELECT domain, address, role, rights, created FROM admins "
		"WHERE domain = $1 ORDER BY domain, role, address",
	[OM_PG_ADMIN_LIST_ALL] =
		"SELECT domain, address, role, rights, created FROM admins "
		"ORDER BY domain, role, address",
	[OM_PG_ADMIN_OF] =
		"SELECT domain, address, role, rights, created FROM admins "
		"WHERE address = $1 ORDER BY domain",
	[OM_PG_CHANGE_ADD] =
		"INSERT INTO change_log(at, who, domain, what, old, new) "
		"VALUES ($1, $2, $3, $4, $5, $6)",
	[OM_PG_CHANGE_LIST] =
		"SELECT id, at, who, domain, what, old, new FROM change_log "
		"WHERE domain = $1 ORDER BY id DESC LIMIT $2",
	[OM_PG_EVENT_ADD] =
		"INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
		"subject, queue_id, step, result, detail, recipients) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
	/* per domain, through (domain, at) (v23: no index on at alone);
	   the domains found by one index seek each (d), not a scan */
	[OM_PG_EVENTS_EXPIRE] =
		"WITH RECURSIVE d(name) AS (SELECT min(domain) FROM events UNION ALL "
		"  SELECT (SELECT min(domain) FROM events WHERE domain > d.name) FROM d "
		"  WHERE d.name IS NOT NULL) "
		"DELETE FROM events WHERE domain IN (SELECT name FROM d) AND at < $1",
	[OM_PG_REPORT_CLAIM] =
		"INSERT INTO report_sent(domain, month, recipient, at) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	[OM_PG_REPORT_UNCLAIM] =
		"DELETE FROM report_sent WHERE domain = $1 AND month = $2 AND recipient = $3",
	[OM_PG_D_UNLISTED] =
		"SELECT count(*) FROM quarantine WHERE mailbox = $1 AND digest = 0",
	[OM_PG_D_NEW] = "INSERT INTO digests(mailbox, created) VALUES ($1, $2) RETURNING id",
	[OM_PG_D_MARK] =
		"UPDATE quarantine SET digest = $2 WHERE mailbox = $1 AND digest = 0",
	[OM_PG_D_ITEMS] = OM_PG_Q_COLUMNS "WHERE digest = $1 ORDER BY received DESC, id",
	[OM_PG_D_SENT] = "UPDATE digests SET sent = $2 WHERE id = $1",
	[OM_PG_D_PENDING] =
		"SELECT id, mailbox, created, sent FROM digests "
		"WHERE sent = 0 AND created < $1 ORDER BY id",
	[OM_PG_D_LAST] = "SELECT max(created) FROM digests WHERE mailbox = $1",
	[OM_PG_D_SENT_COUNT] = "SELECT count(*) FROM digests WHERE sent > 0",
	[OM_PG_D_DUE] =
		"SELECT q.mailbox, count(*), count(*) FILTER (WHERE EXISTS ("
		"  SELECT 1 FROM correspondents c WHERE c.mailbox = q.mailbox "
		"  AND c.address = lower(q.sender))) "
		"FROM quarantine q WHERE q.digest = 0 GROUP BY q.mailbox ORDER BY q.mailbox",
	[OM_PG_OB_ADD] =
		"INSERT INTO outbound(queue_id, hash, sender, recipients, state, reply, "
		"received, updated) VALUES ($1, $2, $3, $4, 1, '', $5, $5) "
		"ON CONFLICT(queue_id, hash) DO NOTHING",
	[OM_PG_OB_GET] = "SELECT state, reply FROM outbound WHERE queue_id = $1 AND hash = $2",
	[OM_PG_OB_FINISH] =
		"UPDATE outbound SET state = $3, reply = $4, updated = $5 "
		"WHERE queue_id = $1 AND hash = $2",
	[OM_PG_OB_EXPIRE] = "DELETE FROM outbound WHERE updated < $1",
	[OM_PG_Z_ADD] =
		"INSERT INTO zip_passwords(id, mailbox, recipients, subject, archive, sealed, "
		"created, expires, state, changed, sent, result) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $7, 0, '') ON CONFLICT(id) DO NOTHING",
	[OM_PG_Z_GET] =
		"SELECT id, mailbox, recipients, subject, archive, sealed, created, expires, "
		"state, changed, sent, result FROM zip_passwords WHERE id = $1",
	[OM_PG_Z_STATE] =
		"SELECT id, mailbox, recipients, subject, archive, sealed, created, expires, "
		"state, changed, sent, result FROM zip_passwords WHERE state = $1 "
		"ORDER BY created, id",
	[OM_PG_Z_MOVE] =
		"UPDATE zip_passwords SET state = $2, changed = $3 "
		"WHERE id = $1 AND state = $4 AND expires > $3",
	[OM_PG_Z_SET] =
		"UPDATE zip_passwords SET state = $2, changed = $3, sent = $4, result = $5, "
		"sealed = CASE WHEN $2 = 3 THEN '' ELSE sealed END WHERE id = $1",
	[OM_PG_Z_EXPIRE] = "DELETE FROM zip_passwords WHERE expires <= $1",
	[OM_PG_HIST_PUT] =
		"INSERT INTO sender_history(login, hour, messages, recipients) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT(login, hour) DO UPDATE SET "
		"messages = greatest(sender_history.messages, excluded.messages), "
		"recipients = greatest(sender_history.recipients, excluded.recipients)",
	[OM_PG_HIST_EXPIRE] = "DELETE FROM sender_history WHERE hour < $1",
	[OM_PG_HIST_PEAKS] =
		"SELECT login, 0, max(messages), max(recipients) FROM sender_history "
		"WHERE hour >= $1 AND hour < $2 GROUP BY login",
	[OM_PG_HIST_HOUR] =
		"SELECT login, hour, messages, recipients FROM sender_history WHERE hour = $1",
	[OM_PG_HIST_LOGIN] =
		"SELECT login, hour, messages, recipients FROM sender_history "
		"WHERE login = $1 AND hour >= $2 ORDER BY hour DESC",
	/* a new trip, or again after a lift; a login braked now stays as it is */
	[OM_PG_BRAKE_TRIP] =
		"INSERT INTO brakes(login, state, since, messages, recipients, "
		"limit_messages, limit_recipients, peak_messages, peak_recipients, "
		"alerted, changed) VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, 0, $9) "
		"ON CONFLICT(login) DO UPDATE SET state = 1, since = excluded.since, "
		"messages = excluded.messages, recipients = excluded.recipients, "
		"limit_messages = excluded.limit_messages, "
		"limit_recipients = excluded.limit_recipients, "
		"peak_messages = excluded.peak_messages, "
		"peak_recipients = excluded.peak_recipients, alerted = 0, "
		"changed = excluded.changed WHERE brakes.state <> 1",
	[OM_PG_BRAKE_GET] =
		"SELECT login, state, since, messages, recipients, limit_messages, "
		"limit_recipients, peak_messages, peak_recipients, alerted, changed "
		"FROM brakes WHERE login = $1",
	[OM_PG_BRAKE_ON] =
		"SELECT login, state, since, messages, recipients, limit_messages, "
		"limit_recipients, peak_messages, peak_recipients, alerted, changed "
		"FROM brakes WHERE state = 1 ORDER BY since, login",
	[OM_PG_BRAKE_LIFT] =
		"UPDATE brakes SET state = 2, changed = $2 WHERE login = $1 AND state = 1",
	[OM_PG_BRAKE_ALERT] =
		"UPDATE brakes SET alerted = 1 WHERE login = $1 AND state = 1 AND alerted = 0",
	[OM_PG_BRAKE_UNALERT] =
		"UPDATE brakes SET alerted = 0 WHERE login = $1 AND state = 1",
	[OM_PG_ISO_ADD] =
		"INSERT INTO isolated_files(id, mailbox, name, size, true_type, findings, "
		"scan, why, subject, sealed, created, expires, received) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
	[OM_PG_ISO_GET] =
		"SELECT id, mailbox, name, size, true_type, findings, scan, why, subject, "
		"sealed, created, expires, received FROM isolated_files WHERE id = $1",
	[OM_PG_ISO_DUE] =
		"SELECT id, mailbox, name, size, true_type, findings, scan, why, subject, "
		"sealed, created, expires, received FROM isolated_files WHERE expires <= $1 "
		"ORDER BY expires, id",
	[OM_PG_ISO_DELETE] = "DELETE FROM isolated_files WHERE id = $1",
	/* a shift of positions in two steps (parked as negatives, then
	   back one place on), so that no step meets the primary key */
	[OM_PG_AUDIT_PARK] = "UPDATE audit_rules SET position = -position "
		"WHERE domain = $1 AND position >= $2",
	[OM_PG_AUDIT_UNPARK_DOWN] = "UPDATE audit_rules SET position = -position - 1 "
		"WHERE domain = $1 AND position < 0",
	[OM_PG_AUDIT_UNPARK_UP] = "UPDATE audit_rules SET position = -position + 1 "
		"WHERE domain = $1 AND position < 0",
	[OM_PG_AUDIT_INSERT] = "INSERT INTO audit_rules(domain, position, rule, created) "
		"VALUES ($1, $2, $3, $4)",
	[OM_PG_AUDIT_DELETE] = "DELETE FROM audit_rules WHERE domain = $1 AND position = $2",
	[OM_PG_AUDIT_LAST] = "SELECT coalesce(max(position), 0) FROM audit_rules "
		"WHERE domain = $1",
	[OM_PG_AUDIT_LIST] = "SELECT domain, position, rule, created FROM audit_rules "
		"WHERE domain = $1 ORDER BY position",
	[OM_PG_AUDIT_LIST_ALL] = "SELECT domain, position, rule, created FROM audit_rules "
		"ORDER BY domain, position",
	/* the URL reputation store: up to OM_PG_URL_KEYS keys a read (unused
	   ones NULL), the entry that decides first (block, then the longest
	   key) */
	[OM_PG_URL_FIND] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"WHERE kind = $1 AND key IN ($3, $4, $5, $6, $7, $8, $9, $10) "
		"AND (expires = 0 OR expires > $2) "
		"ORDER BY verdict DESC, length(key) DESC LIMIT 1",
	[OM_PG_URL_PUT] =
		"INSERT INTO url_entries(kind, key, source, verdict, added, expires) "
		"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(kind, key, source) DO UPDATE "
		"SET verdict = excluded.verdict, added = excluded.added, "
		"expires = excluded.expires",
	[OM_PG_URL_DEL] =
		"DELETE FROM url_entries WHERE kind = $1 AND key = $2 AND source = $3",
	[OM_PG_URL_DEL_ANY] = "DELETE FROM url_entries WHERE kind = $1 AND key = $2",
	[OM_PG_URL_DROP_SOURCE] = "DELETE FROM url_entries WHERE source = $1",
	[OM_PG_URL_COUNT] = "SELECT count(*) FROM url_entries WHERE source = $1",
	[OM_PG_URL_COUNT_ALL] = "SELECT count(*) FROM url_entries",
	[OM_PG_URL_EACH] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"WHERE source = $1 ORDER BY source, kind, key",
	[OM_PG_URL_EACH_ALL] =
		"SELECT kind, key, source, verdict, added, expires FROM url_entries "
		"ORDER BY source, kind, key",
	[OM_PG_URL_SOURCES] =
		"SELECT source, count(*) FROM url_entries GROUP BY source ORDER BY source",
	[OM_PG_URL_CLICK_ADD] =
		"INSERT INTO url_clicks(mailbox, host, verdict, at) VALUES ($1, $2, $3, $4)",
	[OM_PG_URL_CLICKS_EXPIRE] = "DELETE FROM url_clicks WHERE at < $1",
	[OM_PG_URL_CLICKS_COUNT] = "SELECT count(*) FROM url_clicks WHERE mailbox = $1",
	/* a month's changes ($1 <= at < $2) and, per mailbox and feature,
	   the last row before it (the state the month began with) */
	[OM_PG_SUB_HISTORY] =
		"SELECT mailbox, feature, state, at FROM ("
		"SELECT mailbox, feature, state, at, seq FROM subscription_history "
		"WHERE at >= $1 AND at < $2 "
		"UNION ALL "
		"SELECT mailbox, feature, state, at, seq FROM ("
		"SELECT mailbox, feature, state, at, seq, row_number() OVER ("
		"PARTITION BY mailbox, feature ORDER BY at DESC, seq DESC) AS n "
		"FROM subscription_history WHERE at < $1) AS before WHERE n = 1) AS month "
		"ORDER BY mailbox, feature, at, seq",
	/* the message trace (doc/trace.md): every statement has the domain
	   as $1, so a search never sees another domain's rows */
#define OM_PG_TRACE_FIND(lead) \
		"SELECT message_id, queue_id, " \
		"  CASE WHEN message_id = '' AND queue_id = '' THEN id ELSE 0 END AS lone, " \
		"  max(at) AS last FROM events WHERE domain = $1 AND " lead \
		"  AND at >= $2 AND at < $3 " \
		"  AND ($4::text IS NULL OR sender = $4) " \
		"  AND ($5::text IS NULL OR recipient = $5) " \
		"  AND ($6::text IS NULL OR strpos(lower(subject), lower($6)) > 0) " \
		"  AND ($7::text IS NULL OR message_id = $7) " \
		"GROUP BY message_id, queue_id, lone ORDER BY last DESC, lone DESC, " \
		"message_id COLLATE \"C\", queue_id COLLATE \"C\" LIMIT $8"
	[OM_PG_TRACE_FIND_MID] = OM_PG_TRACE_FIND("message_id = $7"),
	/* by recipient: its own rows, and policyd's rows of several
	   accepted recipients that name it in their detail (events_shared) */
#define OM_PG_TRACE_FIND_PART(lead) \
		"SELECT message_id, queue_id, " \
		"  CASE WHEN message_id = '' AND queue_id = '' THEN id ELSE 0 END AS lone, " \
		"  at FROM events WHERE domain = $1 AND " lead \
		"  AND at >= $2 AND at < $3 " \
		"  AND ($4::text IS NULL OR sender = $4) " \
		"  AND ($6::text IS NULL OR strpos(lower(subject), lower($6)) > 0) " \
		"  AND ($7::text IS NULL OR message_id = $7) "
	[OM_PG_TRACE_FIND_RCPT] =
		"SELECT message_id, queue_id, lone, max(at) AS last FROM ("
		OM_PG_TRACE_FIND_PART("recipient = $5::text") "UNION ALL "
		OM_PG_TRACE_FIND_PART("recipients > 1 AND "
				      "strpos(detail || ',', ' ' || $5::text || ',') > 0")
		") AS found GROUP BY message_id, queue_id, lone "
		"ORDER BY last DESC, lone DESC, message_id COLLATE \"C\", "
		"queue_id COLLATE \"C\" LIMIT $8",
	[OM_PG_TRACE_FIND_SENDER] = OM_PG_TRACE_FIND("sender = $4"),
	[OM_PG_TRACE_FIND_DOMAIN] = OM_PG_TRACE_FIND("TRUE"),
#define OM_PG_TRACE_ROWS \
		"SELECT id, at, direction, sender, recipient, message_id, subject, " \
		"queue_id, step, result, detail, recipients FROM events WHERE domain = $1 AND "
	[OM_PG_TRACE_BY_MID] = OM_PG_TRACE_ROWS "message_id = $2 ORDER BY at, id LIMIT $3",
	[OM_PG_TRACE_BY_QID] = OM_PG_TRACE_ROWS "queue_id = $2 ORDER BY at, id LIMIT $3",
	[OM_PG_TRACE_BY_ID] = OM_PG_TRACE_ROWS "id = $2 LIMIT $3",
	/* the monthly report (doc/report.md); days in the session's time
	   zone (the server's, unless the connection string sets one) */
#define OM_PG_REPORT_RANGE "FROM events WHERE domain = $1 AND at >= $2 AND at < $3 "
	[OM_PG_REPORT_DAYS] =
		"SELECT CAST(extract(day FROM to_timestamp(at)) AS BIGINT) AS day, "
		"  result, count(*) " OM_PG_REPORT_RANGE
		"  AND step = $4 AND direction = $5 GROUP BY day, result LIMIT $6",
	[OM_PG_REPORT_RESULTS] =
		"SELECT 0, result, count(*) AS n " OM_PG_REPORT_RANGE
		"  AND step = $4 AND ($5 = 0 OR direction = $5) "
		"GROUP BY result ORDER BY n DESC, result LIMIT $6",
	/* scand's detail "...; virus NAME; action ..." */
	[OM_PG_REPORT_VIRUSES] =
		"SELECT 0, CASE WHEN strpos(rest, ';') > 0 "
		"  THEN substr(rest, 1, strpos(rest, ';') - 1) ELSE rest END AS name, "
		"  count(*) AS n FROM ("
		"  SELECT substr(detail, strpos(detail, 'virus ') + 6) AS rest " OM_PG_REPORT_RANGE
		"  AND step = $4 AND direction = $5 AND result = 'virus' "
		"  AND strpos(detail, 'virus ') > 0) AS v "
		"GROUP BY name ORDER BY n DESC, name LIMIT $6",
	[OM_PG_REPORT_SPAM_DOMAINS] =
		"SELECT 0, CASE WHEN strpos(sender, '@') > 0 "
		"  THEN lower(substr(sender, strpos(sender, '@') + 1)) ELSE '' END AS d, "
		"  count(*) AS n " OM_PG_REPORT_RANGE
		"  AND step = $4 AND direction = $5 AND result = 'spam' "
		"GROUP BY d ORDER BY n DESC, d LIMIT $6",
#define OM_PG_PORTAL_COLUMNS \
		"SELECT id, sender, subject, recipients, size, sealed, created, expires, " \
		"revoked FROM portal_messages "
	[OM_PG_PORTAL_ADD] =
		"INSERT INTO portal_messages(id, sender, subject, recipients, size, sealed, "
		"created, expires, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0) "
		"ON CONFLICT(id) DO NOTHING",
	[OM_PG_PORTAL_GET] = OM_PG_PORTAL_COLUMNS "WHERE id = $1",
	[OM_PG_PORTAL_DUE] = OM_PG_PORTAL_COLUMNS "WHERE expires <= $1 ORDER BY expires, id",
	[OM_PG_PORTAL_BY_SENDER] =
		OM_PG_PORTAL_COLUMNS "WHERE sender = $1 ORDER BY created DESC, id",
	[OM_PG_PORTAL_REVOKE] =
		"UPDATE portal_messages SET sealed = '', revoked = 1 WHERE id = $1",
	[OM_PG_PORTAL_EXPIRES] =
		"UPDATE portal_messages SET expires = $2 WHERE id = $1 AND revoked = 0",
	[OM_PG_PORTAL_DELETE] = "DELETE FROM portal_messages WHERE id = $1",
	[OM_PG_PORTAL_VIEWS_DELETE] = "DELETE FROM portal_views WHERE id = $1",
	[OM_PG_PORTAL_CODES_DELETE] = "DELETE FROM portal_codes WHERE id = $1",
	[OM_PG_PORTAL_VIEW_ADD] =
		"INSERT INTO portal_views(id, recipient, what, at) VALUES ($1, $2, $3, $4)",
	[OM_PG_PORTAL_VIEWS] =
		"SELECT id, recipient, what, at FROM portal_views WHERE id = $1 "
		"ORDER BY at, seq",
	[OM_PG_PORTAL_CODE_SET] =
		"INSERT INTO portal_codes(id, recipient, code, expires, tries) "
		"VALUES ($1, $2, $3, $4, 0) ON CONFLICT(id, recipient) DO UPDATE SET "
		"code = excluded.code, expires = excluded.expires "
		"WHERE portal_codes.tries < $5",
	[OM_PG_PORTAL_CODE_GET] =
		"SELECT code, expires, tries FROM portal_codes WHERE id = $1 AND recipient = $2",
	[OM_PG_PORTAL_CODE_TRIES] =
		"UPDATE portal_codes SET tries = $3, "
		"code = CASE WHEN $4::integer <> 0 THEN '' ELSE code END "
		"WHERE id = $1 AND recipient = $2",
};

/* The schema of version 24 in one go (store-sqlite.c's migrations 1..24,
   doc/store.md); INTEGER is BIGINT, SQLite's rowid order an identity
   column.  The triggers do what SQLite's do. */
static const char om_pg_schema[] =
	"CREATE TABLE schema_version ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version INTEGER NOT NULL);"
	"CREATE TABLE subscriptions ("
	"  mailbox TEXT NOT NULL,"
	"  feature TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('on', 'paused', 'off')),"
	"  updated BIGINT NOT NULL,"
	"  PRIMARY KEY (mailbox, feature));"
	"CREATE TABLE domain_settings ("
	"  domain TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  PRIMARY KEY (domain, name));"
	"CREATE TABLE list_entries ("
	"  scope TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('allow', 'block', 'url-block')),"
	"  entry TEXT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  PRIMARY KEY (scope, kind, entry));"
	"CREATE TABLE rate_counters ("
	"  \"user\" TEXT PRIMARY KEY,"
	"  window_start BIGINT NOT NULL,"
	"  messages BIGINT NOT NULL,"
	"  recipients BIGINT NOT NULL);"
	"CREATE TABLE spam_tokens ("
	"  token TEXT PRIMARY KEY,"
	"  spam BIGINT NOT NULL,"
	"  ham BIGINT NOT NULL);"
	"CREATE TABLE spam_totals ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  nspam BIGINT NOT NULL,"
	"  nham BIGINT NOT NULL);"
	"CREATE TABLE revisions ("
	"  name TEXT PRIMARY KEY,"
	"  value BIGINT NOT NULL);"
	"INSERT INTO revisions(name, value) VALUES ('config', 0), ('spam', 0), ('brake', 0);"
	"CREATE TABLE secrets ("
	"  name TEXT PRIMARY KEY,"
	"  value BYTEA NOT NULL);"
	"CREATE TABLE changes ("
	"  scope TEXT PRIMARY KEY,"
	"  seq BIGINT NOT NULL);"
	"CREATE INDEX changes_seq ON changes(seq);"
	/* the config revision moves and the scope changed is recorded with
	   it (TG_ARGV[0]: the table's scope column; an update both scopes) */
	OM_PG_CONFIG_CHANGED_V25
	"CREATE FUNCTION om_revision_moved() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE revisions SET value = value + 1 WHERE name = TG_ARGV[0];"
	"  RETURN NULL;"
	" END $$;"
	"CREATE TRIGGER subscriptions_change AFTER INSERT OR UPDATE OR DELETE"
	"  ON subscriptions FOR EACH ROW EXECUTE FUNCTION om_config_changed('mailbox');"
	"CREATE TRIGGER domain_settings_change AFTER INSERT OR UPDATE OR DELETE"
	"  ON domain_settings FOR EACH ROW EXECUTE FUNCTION om_config_changed('domain');"
	"CREATE TRIGGER list_entries_change AFTER INSERT OR UPDATE OR DELETE"
	"  ON list_entries FOR EACH ROW EXECUTE FUNCTION om_config_changed('scope');"
	"CREATE TRIGGER spam_totals_change AFTER INSERT OR UPDATE"
	"  ON spam_totals FOR EACH ROW EXECUTE FUNCTION om_revision_moved('spam');"
	"CREATE TABLE quarantine ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  received BIGINT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  from_header TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  score TEXT NOT NULL,"
	"  reasons TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  digest BIGINT NOT NULL DEFAULT 0,"
	"  from_address TEXT NOT NULL DEFAULT '',"
	"  admin_only INTEGER NOT NULL DEFAULT 0,"
	"  message_id TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX quarantine_mailbox ON quarantine(mailbox, received);"
	"CREATE INDEX quarantine_digest ON quarantine(digest, mailbox);"
	"CREATE TABLE digests ("
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  sent BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX digests_mailbox ON digests(mailbox, created);"
	"CREATE INDEX digests_pending ON digests(sent) WHERE sent = 0;"
	"CREATE TABLE correspondents ("
	"  mailbox TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  last BIGINT NOT NULL,"
	"  PRIMARY KEY (mailbox, address));"
	"CREATE TABLE nonces ("
	"  nonce TEXT PRIMARY KEY,"
	"  expires BIGINT NOT NULL);"
	"CREATE INDEX nonces_expires ON nonces(expires);"
	"CREATE TABLE outbound ("
	"  queue_id TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipients BIGINT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  reply TEXT NOT NULL DEFAULT '',"
	"  received BIGINT NOT NULL,"
	"  updated BIGINT NOT NULL,"
	"  PRIMARY KEY (queue_id, hash));"
	"CREATE INDEX outbound_updated ON outbound(updated);"
	"CREATE TABLE holds ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  delivered TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  attachments TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  flags BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  expiry TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  changed BIGINT NOT NULL,"
	"  notified INTEGER NOT NULL,"
	"  result TEXT NOT NULL,"
	"  kind TEXT NOT NULL DEFAULT 'sender',"
	"  details TEXT NOT NULL DEFAULT '',"
	"  node TEXT NOT NULL DEFAULT '',"
	"  asked_by TEXT NOT NULL DEFAULT '',"
	"  asked_at BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX holds_mailbox ON holds(mailbox, created);"
	"CREATE INDEX holds_state ON holds(state, expires);"
	"CREATE INDEX holds_sender ON holds(sender, kind, state);"
	"CREATE INDEX holds_node ON holds(node, state);"
	"CREATE TABLE zip_passwords ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  archive TEXT NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  changed BIGINT NOT NULL,"
	"  sent BIGINT NOT NULL,"
	"  result TEXT NOT NULL);"
	"CREATE INDEX zip_passwords_expires ON zip_passwords(expires);"
	"CREATE TABLE sender_history ("
	"  login TEXT NOT NULL,"
	"  hour BIGINT NOT NULL,"
	"  messages BIGINT NOT NULL,"
	"  recipients BIGINT NOT NULL,"
	"  PRIMARY KEY (login, hour));"
	"CREATE INDEX sender_history_hour ON sender_history(hour);"
	"CREATE TABLE brakes ("
	"  login TEXT PRIMARY KEY,"
	"  state INTEGER NOT NULL,"
	"  since BIGINT NOT NULL,"
	"  messages BIGINT NOT NULL,"
	"  recipients BIGINT NOT NULL,"
	"  limit_messages BIGINT NOT NULL,"
	"  limit_recipients BIGINT NOT NULL,"
	"  peak_messages BIGINT NOT NULL,"
	"  peak_recipients BIGINT NOT NULL,"
	"  alerted INTEGER NOT NULL,"
	"  changed BIGINT NOT NULL);"
	"CREATE TRIGGER brakes_change AFTER INSERT OR UPDATE OR DELETE"
	"  ON brakes FOR EACH ROW EXECUTE FUNCTION om_revision_moved('brake');"
	"CREATE TABLE url_entries ("
	"  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),"
	"  key TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  verdict INTEGER NOT NULL CHECK (verdict IN (1, 2)),"
	"  added BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  PRIMARY KEY (kind, key, source));"
	"CREATE INDEX url_entries_source ON url_entries(source);"
	"CREATE TABLE url_clicks ("
	"  mailbox TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  verdict INTEGER NOT NULL CHECK (verdict IN (0, 1, 2)),"
	"  at BIGINT NOT NULL);"
	"CREATE INDEX url_clicks_at ON url_clicks(at);"
	"CREATE INDEX url_clicks_mailbox ON url_clicks(mailbox, at);"
	"CREATE TABLE isolated_files ("
	"  id TEXT PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  true_type TEXT NOT NULL,"
	"  findings TEXT NOT NULL,"
	"  scan TEXT NOT NULL,"
	"  why TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  received TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX isolated_files_expires ON isolated_files(expires);"
	"CREATE TABLE audit_rules ("
	"  domain TEXT NOT NULL,"
	"  position BIGINT NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  PRIMARY KEY (domain, position));"
	"CREATE TRIGGER audit_rules_change AFTER INSERT OR UPDATE OR DELETE"
	"  ON audit_rules FOR EACH ROW EXECUTE FUNCTION om_config_changed('domain');"
	"CREATE TABLE sandbox_verdicts ("
	"  hash TEXT PRIMARY KEY,"
	"  verdict TEXT NOT NULL CHECK (verdict IN ('pending', 'clean', 'malicious', 'unknown')),"
	"  first_seen BIGINT NOT NULL,"
	"  updated BIGINT NOT NULL);"
	"CREATE TABLE portal_messages ("
	"  id TEXT PRIMARY KEY,"
	"  sender TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  recipients TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  sealed TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX portal_messages_expires ON portal_messages(expires);"
	"CREATE INDEX portal_messages_sender ON portal_messages(sender, created);"
	"CREATE TABLE portal_views ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  id TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  at BIGINT NOT NULL);"
	"CREATE INDEX portal_views_id ON portal_views(id, at);"
	"CREATE TABLE portal_codes ("
	"  id TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  code TEXT NOT NULL,"
	"  expires BIGINT NOT NULL,"
	"  tries INTEGER NOT NULL,"
	"  PRIMARY KEY (id, recipient));"
	"CREATE TABLE admins ("
	"  domain TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'deputy')),"
	"  rights TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  PRIMARY KEY (domain, address));"
	"CREATE INDEX admins_address ON admins(address);"
	"CREATE TABLE change_log ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  at BIGINT NOT NULL,"
	"  who TEXT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  what TEXT NOT NULL,"
	"  old TEXT NOT NULL,"
	"  new TEXT NOT NULL);"
	"CREATE INDEX change_log_domain ON change_log(domain, id);"
	"CREATE TABLE policy_groups ("
	"  domain TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  PRIMARY KEY (domain, name));"
	"CREATE TABLE subscription_history ("
	"  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  feature TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('on', 'paused', 'off')),"
	"  at BIGINT NOT NULL);"
	"CREATE INDEX subscription_history_at ON subscription_history(at);"
	"CREATE FUNCTION om_subscription_history() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  IF TG_OP = 'DELETE' THEN"
	"    INSERT INTO subscription_history(mailbox, feature, state, at)"
	"      VALUES (OLD.mailbox, OLD.feature, 'off',"
	"              CAST(extract(epoch FROM now()) AS BIGINT));"
	"  ELSIF TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM NEW.state THEN"
	"    INSERT INTO subscription_history(mailbox, feature, state, at)"
	"      VALUES (NEW.mailbox, NEW.feature, NEW.state, NEW.updated);"
	"  END IF;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE TRIGGER subscriptions_history AFTER INSERT OR UPDATE OR DELETE"
	"  ON subscriptions FOR EACH ROW EXECUTE FUNCTION om_subscription_history();"
	"CREATE TABLE events ("
	"  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  at BIGINT NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  direction INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  queue_id TEXT NOT NULL,"
	"  step TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  recipients BIGINT NOT NULL DEFAULT 1);"
	"CREATE INDEX events_domain_at ON events(domain, at);"
	"CREATE INDEX events_message ON events(domain, message_id);"
	"CREATE INDEX events_queue ON events(domain, queue_id);"
	"CREATE INDEX events_recipient ON events(domain, recipient, at);"
	"CREATE INDEX events_shared ON events(domain, at) WHERE recipients > 1;"
	"CREATE TABLE report_sent ("
	"  domain TEXT NOT NULL,"
	"  month TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  at BIGINT NOT NULL,"
	"  PRIMARY KEY (domain, month, recipient));";

struct om_store_pgsql {
	struct om_store store;
	PGconn *conn;		/* NULL once given up (the next call connects) */
	char *conninfo;		/* without omamori's own keywords */
	int answer_timeout;	/* seconds (OM_PG_ANSWER_TIMEOUT) */
	/* conninfo's answer_timeout (or the default): what a connection
	   attempt is bounded by, whatever a caller set for its reads */
	int configured_answer_timeout;
	int retry_pause;	/* seconds; 0: the last attempt succeeded */
	long long retry_at;	/* no attempt before (om_pg_now_ms) */
	char *retry_error;	/* the last attempt's error */
	long busy_timeout_ms;
	int in_transaction;	/* between a BEGIN and its COMMIT/ROLLBACK */
	int listening;		/* LISTENs (since its first counter read) */
	long long notified;	/* notifications received, reconnects */
	long long revisions;	/* the revisions' sum at the last recheck */
	time_t rechecked;
	unsigned char prepared[OM_PG_COUNT];
	unsigned char nparams[OM_PG_COUNT];
};

static int om_pg_lock_timeout(struct om_store_pgsql *s, long busy_timeout_ms,
			      char **error_r);
static int om_pg_listen(struct om_store_pgsql *s, char **error_r);

static struct om_store_pgsql *om_pg(struct om_store *store)
{
	return (struct om_store_pgsql *)store;
}

/* libpq's message without its trailing newline. */
static char *om_pg_message(const char *what, const char *message)
{
	size_t len = message != NULL ? strlen(message) : 0;

	while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
		len--;
	return om_asprintf("store: %s: %.*s", what, (int)len,
			   message != NULL ? message : "");
}

/* ---- answers within a deadline ---- */

static long long om_pg_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return (long long)time(NULL) * 1000;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Gives the connection up (never reused with a statement in flight): the
   next call connects again (om_pg_reconnect); a transaction open on it
   is lost, which its next statement and its commit say. */
static void om_pg_drop(struct om_store_pgsql *s)
{
	PQfinish(s->conn);
	s->conn = NULL;
	memset(s->prepared, 0, sizeof(s->prepared));
}

/* No new connection for a while (doubling while attempts keep failing):
   after a failed attempt, or a server that stopped answering (a new
   connection to a hung server would wait out connect_timeout in the next
   call at once). */
static void om_pg_pause(struct om_store_pgsql *s, const char *why)
{
	s->retry_pause = s->retry_pause == 0 ? OM_PG_RETRY_FIRST :
		s->retry_pause * 2 > OM_PG_RETRY_MAX ? OM_PG_RETRY_MAX :
		s->retry_pause * 2;
	s->retry_at = om_pg_now_ms() + (long long)s->retry_pause * 1000;
	free(s->retry_error);
	s->retry_error = om_strdup(why);
}

/* The answer to what was just sent (sent: the PQsend* call's return): the
   last result (an error result kept over later ones), read without
   blocking; the wait gives up after silence_ms (om_pg_silence; 0: never)
   in which no byte arrived (nor could one leave), so a big answer
   arriving steadily is never cut and a silent server is.  NULL with
   *error_r when nothing came back (the connection is then given up). */
static PGresult *om_pg_answer(struct om_store_pgsql *s, int sent, const char *what,
			      long long silence_ms, char **error_r)
{
	long long now = om_pg_now_ms(), until = now + silence_ms;
	int deadline = silence_ms > 0;
	PGresult *res, *last = NULL;
	struct pollfd pfd;
	int flushing = 1, n;

	if (!sent)
		goto lost;
	for (;;) {
		if (flushing && (flushing = PQflush(s->conn)) < 0)
			goto lost;
		if (!flushing && !PQisBusy(s->conn)) {
			if ((res = PQgetResult(s->conn)) == NULL)
				return last;
			if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR &&
			    PQresultStatus(res) != PGRES_FATAL_ERROR) {
				PQclear(res);
			} else {
				PQclear(last);
				last = res;
			}
			continue;
		}
		now = om_pg_now_ms();
		if (deadline && now >= until) {
			PQclear(last);
			om_pg_drop(s);
			*error_r = om_asprintf("store: postgresql did not answer in %lld s "
					       "(%s); the connection is given up",
					       silence_ms / 1000, what);
			om_pg_pause(s, *error_r);
			return NULL;
		}
		pfd.fd = PQsocket(s->conn);
		pfd.events = POLLIN | (flushing ? POLLOUT : 0);
		pfd.revents = 0;
		n = poll(&pfd, 1, deadline ? (int)(until - now) : -1);
		if (n < 0 && errno != EINTR) {
			PQclear(last);
			om_pg_drop(s);
			*error_r = om_asprintf("store: postgresql (%s): poll: %s", what,
					       strerror(errno));
			return NULL;
		}
		if (n <= 0)
			continue;
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0 &&
		    PQconsumeInput(s->conn) == 0)
			goto lost;
		/* progress: the silence counts from here */
		until = om_pg_now_ms() + silence_ms;
	}
lost:
	PQclear(last);
	*error_r = om_pg_message(what, PQerrorMessage(s->conn));
	/* sent and not answered: the statement may still be in flight */
	if (sent || PQstatus(s->conn) != CONNECTION_OK)
		om_pg_drop(s);
	return NULL;
}

/* The silence a statement's answer may keep (ms): answer_timeout, and for
   one that waits for the writers' lock (locked), the lock's own limit
   (store_busy_timeout_ms) too, so a lock wait allowed is never cut. */
static long long om_pg_silence(const struct om_store_pgsql *s, int locked)
{
	return (long long)s->answer_timeout * 1000 +
		(locked && s->busy_timeout_ms > 0 ? s->busy_timeout_ms : 0);
}

/* A result of res's statement that succeeded (rows or a command's), or
   NULL with *error_r (res freed). */
static PGresult *om_pg_good(struct om_store_pgsql *s, PGresult *res,
			    const char *what, char **error_r)
{
	ExecStatusType status;

	if (res == NULL)
		return NULL;
	status = PQresultStatus(res);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
		return res;
	*error_r = om_pg_message(what, PQresultErrorMessage(res));
	PQclear(res);
	(void)s;
	return NULL;
}

/* A statement of fixed text with parameters (params: text or NULL), its
   answer within the deadline: a good result or NULL with *error_r. */
static PGresult *om_pg_params(struct om_store_pgsql *s, const char *sql, int count,
			      const char *const *params, const char *what,
			      char **error_r)
{
	int sent = PQsendQueryParams(s->conn, sql, count, NULL, params, NULL, NULL, 0);

	return om_pg_good(s, om_pg_answer(s, sent, what, om_pg_silence(s, 0), error_r),
			  what, error_r);
}

/* ---- parameters and columns (as store-sqlite.c's typed lists) ---- */

enum om_pg_type { OM_PG_END, OM_PG_TEXT, OM_PG_TEXT_NULL, OM_PG_INT64, OM_PG_INT };

struct om_pg_arg {
	enum om_pg_type type;
	const char *text;
	long long number;
};
#define OM_ARG_TEXT(value) { OM_PG_TEXT, .text = (value) }
#define OM_ARG_INT64(value) { OM_PG_INT64, .number = (value) }
#define OM_ARG_END { OM_PG_END, NULL, 0 }

struct om_pg_col {
	enum om_pg_type type;
	const char **text;
	long long *int64;
	int *integer;
};
#define OM_COL_TEXT(place) { OM_PG_TEXT, .text = (place) }
#define OM_COL_TEXT_NULL(place) { OM_PG_TEXT_NULL, .text = (place) }
#define OM_COL_INT64(place) { OM_PG_INT64, .int64 = (place) }
#define OM_COL_INT(place) { OM_PG_INT, .integer = (place) }
#define OM_COL_END { OM_PG_END, NULL, NULL, NULL }
#define OM_PG_LIST(type, ...) (const struct type[]){ __VA_ARGS__ }, \
	sizeof((const struct type[]){ __VA_ARGS__ }) / sizeof(struct type)

/* Prepares statement id on this connection once; 0 or -1. */
static int om_pg_prepare(struct om_store_pgsql *s, enum om_pg_stmt id,
			 const char *name, char **error_r)
{
	PGresult *res;
	int n;

	if (s->prepared[id])
		return 0;
	res = om_pg_good(s, om_pg_answer(s, PQsendPrepare(s->conn, name, om_pg_text[id],
							  0, NULL),
					 "prepare", om_pg_silence(s, 0), error_r),
			 "prepare", error_r);
	if (res == NULL)
		return -1;
	PQclear(res);
	res = om_pg_good(s, om_pg_answer(s, PQsendDescribePrepared(s->conn, name),
					 "describe", om_pg_silence(s, 0), error_r),
			 "describe", error_r);
	if (res == NULL)
		return -1;
	n = PQnparams(res);
	PQclear(res);
	if (n < 0 || n > OM_PG_MAX_PARAMS) {
		*error_r = om_asprintf("store: describe: %d parameters", n);
		return -1;
	}
	s->nparams[id] = (unsigned char)n;
	s->prepared[id] = 1;
	return 0;
}

/* Runs statement id with args bound to $1, $2... (as many as it takes;
   missing ones NULL, text NULL is NULL).  The result (rows or a
   command's), or NULL with *error_r naming what. */
/* A connection found lost is made again before the next statement, unless
   a transaction was open on it: its work is gone, and the caller's
   transaction must fail as a whole (its rollback ends it).  The statement
   that met the loss is never sent again (a write may have committed). */
static int om_pg_connect(struct om_store_pgsql *s, char **error_r);

static int om_pg_reconnect(struct om_store_pgsql *s, char **error_r)
{
	long long now;

	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->in_transaction) {
		*error_r = om_strdup("store: the connection to postgresql was lost "
				     "in a transaction");
		return -1;
	}
	/* after a failed attempt, calls fail at once for a pause (doubling
	   while attempts keep failing): a daemon calling often does not
	   spend connect_timeout in each call while the server is away */
	now = om_pg_now_ms();
	if (s->retry_pause > 0 && now < s->retry_at) {
		*error_r = om_asprintf("store: postgresql unreachable, next attempt "
				       "in %lld s: %s", (s->retry_at - now + 999) / 1000,
				       s->retry_error != NULL ? s->retry_error : "");
		return -1;
	}
	om_pg_drop(s);
	if (om_pg_connect(s, error_r) < 0) {
		om_pg_pause(s, *error_r);
		return -1;
	}
	s->retry_pause = 0;
	/* whatever was notified while away is unknown: the counter moves */
	s->notified++;
	return om_pg_lock_timeout(s, s->busy_timeout_ms, error_r) < 0 ? -1 :
		om_pg_listen(s, error_r);
}

/* What a change statement changed, for its notification: the scope in
   its first parameter, a revision's name (":spam", ":brake"; ":holds": a hold asked of its node), or NULL for
   a statement that records no change. */
static const char *om_pg_change_of(enum om_pg_stmt id, const char *first)
{
	switch (id) {
	case OM_PG_SUB_SET: case OM_PG_SUB_DELETE:
	case OM_PG_DOM_SET: case OM_PG_DOM_DELETE: case OM_PG_DOM_DELETE_SCOPE:
	case OM_PG_LIST_ADD: case OM_PG_LIST_DELETE:
	case OM_PG_AUDIT_PARK: case OM_PG_AUDIT_UNPARK_DOWN: case OM_PG_AUDIT_UNPARK_UP:
	case OM_PG_AUDIT_INSERT: case OM_PG_AUDIT_DELETE:
		return first != NULL ? first : "*";
	case OM_PG_SPAM_TOTALS_SET: case OM_PG_SPAM_REVISION_BUMP:
		return ":spam";
	case OM_PG_BRAKE_TRIP: case OM_PG_BRAKE_LIFT: case OM_PG_BRAKE_ALERT:
	case OM_PG_BRAKE_UNALERT:
		return ":brake";
	case OM_PG_H_ASK:
		return ":holds";
	default:
		return NULL;
	}
}

static PGresult *om_pg_run(struct om_store_pgsql *s, enum om_pg_stmt id,
			   const struct om_pg_arg *args, size_t count,
			   const char *what, char **error_r);

/* Tells every listener (other hosts, this one) what statement id changed.
   In a transaction, a failure fails the transaction; outside one the
   change has committed already, and the error says so (the listeners
   learn of it at their recheck). */
static int om_pg_notify(struct om_store_pgsql *s, enum om_pg_stmt id,
			const char *first, char **error_r)
{
	const char *scope = om_pg_change_of(id, first);
	PGresult *res;

	if (scope == NULL)
		return 0;
	res = om_pg_run(s, OM_PG_NOTIFY, OM_PG_LIST(om_pg_arg, OM_ARG_TEXT(scope)),
			"notify the change", error_r);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

static PGresult *om_pg_run(struct om_store_pgsql *s, enum om_pg_stmt id,
			   const struct om_pg_arg *args, size_t count,
			   const char *what, char **error_r)
{
	char numbers[OM_PG_MAX_PARAMS][24], name[16];
	const char *values[OM_PG_MAX_PARAMS];
	PGresult *res;
	size_t i;

	(void)snprintf(name, sizeof(name), "om%d", (int)id);
	if (om_pg_reconnect(s, error_r) < 0 || om_pg_prepare(s, id, name, error_r) < 0)
		return NULL;
	for (i = 0; i < s->nparams[id]; i++) {
		values[i] = NULL;
		if (i >= count || args[i].type == OM_PG_END) {
			count = i;
		} else if (args[i].type == OM_PG_INT64) {
			(void)snprintf(numbers[i], sizeof(numbers[i]), "%lld",
				       args[i].number);
			values[i] = numbers[i];
		} else {
			values[i] = args[i].text;
		}
	}
	res = om_pg_good(s, om_pg_answer(s, PQsendQueryPrepared(s->conn, name,
								 s->nparams[id], values,
								 NULL, NULL, 0),
					 what, om_pg_silence(s, id == OM_PG_WRITE_LOCK),
					 error_r), what, error_r);
	if (res == NULL)
		return NULL;
	if (om_pg_notify(s, id, s->nparams[id] > 0 && count > 0 ? values[0] : NULL,
			 error_r) < 0) {
		PQclear(res);
		return NULL;
	}
	return res;
}
#define om_pg_bind(s, id, what, error_r, ...) \
	om_pg_run((s), (id), OM_PG_LIST(om_pg_arg, __VA_ARGS__), (what), (error_r))

static long long om_pg_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Reads row's columns into cols' places; NULL text reads "" (TEXT_NULL:
   NULL). */
static void om_pg_columns(const PGresult *res, int row,
			  const struct om_pg_col *cols, size_t count)
{
	size_t i;

	for (i = 0; i < count && cols[i].type != OM_PG_END; i++) {
		switch (cols[i].type) {
		case OM_PG_TEXT:
			*cols[i].text = PQgetvalue(res, row, (int)i);
			break;
		case OM_PG_TEXT_NULL:
			*cols[i].text = PQgetisnull(res, row, (int)i) ? NULL :
				PQgetvalue(res, row, (int)i);
			break;
		case OM_PG_INT64:
			*cols[i].int64 = om_pg_int(res, row, (int)i);
			break;
		case OM_PG_INT:
			*cols[i].integer = (int)om_pg_int(res, row, (int)i);
			break;
		case OM_PG_END:
			break;
		}
	}
}
#define om_pg_read(res, row, ...) \
	om_pg_columns((res), (row), OM_PG_LIST(om_pg_col, __VA_ARGS__))

struct om_pg_reader {
	union {
		om_store_row_cb *row;
		om_store_rate_cb *rate;
		om_store_token_cb *token;
		om_store_scope_cb *scope;
		om_store_quarantined_cb *quarantined;
		om_store_hold_cb *hold;
		om_store_address_cb *address;
		om_store_sandbox_cb *sandbox;
		om_store_group_cb *group;
		om_store_admin_cb *admin;
		om_store_change_cb *change;
		om_store_digest_cb *digest;
		om_store_unlisted_cb *unlisted;
		om_store_zip_cb *zip;
		om_store_history_cb *history;
		om_store_brake_cb *brake;
		om_store_isolated_cb *isolated;
		om_store_audit_cb *audit;
		om_store_url_cb *url;
		om_store_url_source_cb *url_source;
		om_store_sub_change_cb *sub_change;
		om_store_portal_cb *portal;
		om_store_portal_view_cb *portal_view;
	} cb;
	void *context;
};
typedef void om_pg_row_fn(const PGresult *res, int row, const struct om_pg_reader *r);

/* Hands every row of a result (NULL: failed, *error_r set) to row, then
   frees it; the count of rows or -1. */
static long om_pg_each(PGresult *res, om_pg_row_fn *row, const struct om_pg_reader *r)
{
	int i, n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		row(res, i, r);
	PQclear(res);
	return n;
}

/* The rows a command changed (NULL: failed), freeing it; or -1. */
static int om_pg_changed(PGresult *res)
{
	int n;

	if (res == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

/* The one number of a result (no row: 0), freeing it; 0 or -1. */
static int om_pg_number(PGresult *res, long long *value_r)
{
	*value_r = 0;
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		*value_r = om_pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* A one-value lookup: 1 found (*value_r allocated), 0 not, -1. */
static int om_pg_lookup(PGresult *res, char **value_r)
{
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found && value_r != NULL)
		*value_r = om_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* ---- open, the schema, transactions ---- */

/* Runs one statement of fixed text with no parameters (the schema, its
   migrations: omamorictl init, whose index builds on a big table may
   rightly take minutes without a byte sent, so this one waits with no
   deadline; init is run by hand, and interrupted by hand). */
static int om_pg_exec_text(struct om_store_pgsql *s, const char *sql,
			   const char *what, char **error_r)
{
	PGresult *res = om_pg_good(s, om_pg_answer(s, PQsendQuery(s->conn, sql), what, 0,
						   error_r), what, error_r);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

static int om_pg_exec(struct om_store_pgsql *s, enum om_pg_stmt id, char **error_r)
{
	PGresult *res = om_pg_run(s, id, NULL, 0, om_pg_text[id], error_r);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* The schema's version: 0 none yet, or -1. */
static int om_pg_version(struct om_store_pgsql *s, int *version_r, char **error_r)
{
	const char *params[1] = { "schema_version" };
	PGresult *res;
	int exists;
	long long version;

	*version_r = 0;
	if (om_pg_reconnect(s, error_r) < 0)
		return -1;
	res = om_pg_params(s, "SELECT to_regclass($1) IS NOT NULL", 1, params, "schema",
			   error_r);
	if (res == NULL)
		return -1;
	exists = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists)
		return 0;
	if (om_pg_number(om_pg_run(s, OM_PG_SCHEMA_VERSION_GET, NULL, 0, "schema version",
				   error_r), &version) < 0)
		return -1;
	*version_r = (int)version;
	return 0;
}

/* The site's keys, from the system's random source (SQLite's randomblob
   in the other backend); written in the schema's transaction. */
static int om_pg_make_secrets(struct om_store_pgsql *s, char **error_r)
{
	unsigned char key[32];
	char hex[sizeof(key) * 2 + 1], version[16];
	const char *params[2] = { hex, version };
	PGresult *res;
	size_t i;

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		*error_r = om_asprintf("store: no random bytes for the site's keys");
		return -1;
	}
	for (i = 0; i < sizeof(key); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", key[i]);
	(void)snprintf(version, sizeof(version), "%d", OM_PG_SCHEMA_VERSION);
	res = om_pg_params(s, "WITH k AS (INSERT INTO secrets(name, value) "
			   "VALUES ('report-key', decode($1, 'hex'))) "
			   "INSERT INTO schema_version(id, version) VALUES (1, $2::integer)",
			   2, params, "make keys", error_r);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* v26: om_address_key_fold in SQL (translate: ASCII letters only, as it
   folds them, whatever the database's ctype), and its form for
   domain_settings keys (a policy group scope folds its domain) */
#define OM_PG_FOLD(c) \
	"rtrim(translate(" c ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', " \
	"'abcdefghijklmnopqrstuvwxyz'), '.')"
#define OM_PG_GROUP_FOLD(c) \
	"(CASE WHEN substr(" c ", 1, 7) = '<group ' AND strpos(" c ", '>@') > 0" \
	" THEN substr(" c ", 1, strpos(" c ", '>@') + 1) ||" \
	" " OM_PG_FOLD("substr(" c ", strpos(" c ", '>@') + 2)") \
	" ELSE " OM_PG_FOLD(c) " END)"

/* Migrations from the versions this backend was made at before (each
   brings version i to i+1, as store-sqlite.c's of the same number). */
static const struct {
	int from;
	const char *sql;
} om_pg_migrations[] = {
	/* v23 (issue 22 item 3): policyd's accepted recipients of a message
	   as one row with their count; no index on at alone or on sender */
	{ 22, "ALTER TABLE events ADD COLUMN recipients BIGINT NOT NULL DEFAULT 1;"
	      "CREATE INDEX events_shared ON events(domain, at) WHERE recipients > 1;"
	      "DROP INDEX events_at;"
	      "DROP INDEX events_sender;"
	      "UPDATE schema_version SET version = 23 WHERE id = 1;" },
	/* v24 (issue 21 item 3): the node holding a hold's copy, and a
	   release or discard asked of it by another node */
	{ 23, "ALTER TABLE holds ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	      "ALTER TABLE holds ADD COLUMN asked_by TEXT NOT NULL DEFAULT '';"
	      "ALTER TABLE holds ADD COLUMN asked_at BIGINT NOT NULL DEFAULT 0;"
	      "CREATE INDEX holds_node ON holds(node, state);"
	      "UPDATE schema_version SET version = 24 WHERE id = 1;" },
	/* v25 (issue 21): the list trigger skips an import's rows, which
	   records its changes once a batch, so an import no longer turns the
	   trigger off (ALTER TABLE's exclusive lock held readers back) */
	{ 24, OM_PG_CONFIG_CHANGED_V25
	      "UPDATE schema_version SET version = 25 WHERE id = 1;" },
	/* v26 (doc/store.md "Keys in one spelling"): the keys lookups fold
	   in that spelling, as store.c now writes them.  The change triggers
	   are quiet for it as for an import (a row each moved the one
	   revision row again: minutes for a few hundred thousand rows, every
	   config writer of every host waiting), and the revision moves once
	   at the end; the upgrade restarts the daemons, which load anew */
	{ 25, "SELECT set_config('omamori.import', 'on', true);"
	      "ALTER TABLE subscriptions DISABLE TRIGGER subscriptions_history;"
	      OM_STORE_SQL_FOLD_SUBSCRIPTIONS(OM_PG_FOLD)
	      "ALTER TABLE subscriptions ENABLE TRIGGER subscriptions_history;"
	      OM_STORE_SQL_FOLD_REST(OM_PG_FOLD, OM_PG_GROUP_FOLD,
				     "CAST(extract(epoch FROM now()) AS BIGINT)")
	      "SELECT set_config('omamori.import', 'off', true);"
	      "UPDATE revisions SET value = value + 1 WHERE name = 'config';"
	      "UPDATE schema_version SET version = 26 WHERE id = 1;" },
};

/* Brings a schema made by an earlier version to OM_PG_SCHEMA_VERSION,
   inside the caller's transaction; *version_r is where it got. */
static int om_pg_migrate(struct om_store_pgsql *s, int *version_r, char **error_r)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_pg_migrations); i++) {
		if (om_pg_migrations[i].from != *version_r)
			continue;
		if (om_pg_exec_text(s, om_pg_migrations[i].sql, "migrate the schema",
				    error_r) < 0)
			return -1;
		*version_r = om_pg_migrations[i].from + 1;
	}
	return 0;
}

static void om_pgsql_rollback(struct om_store *store);

/* OM_STORE_CREATE: makes the schema unless there is one, under the write
   lock (two inits at once make it once). */
static int om_pg_create(struct om_store_pgsql *s, char **error_r)
{
	int version;

	if (om_pg_exec(s, OM_PG_BEGIN, error_r) < 0)
		return -1;
	if (om_pg_exec(s, OM_PG_WRITE_LOCK, error_r) < 0 ||
	    om_pg_version(s, &version, error_r) < 0)
		goto fail;
	if (version == 0 &&
	    (om_pg_exec_text(s, om_pg_schema, "create the schema", error_r) < 0 ||
	     om_pg_make_secrets(s, error_r) < 0))
		goto fail;
	if (version != 0 && om_pg_migrate(s, &version, error_r) < 0)
		goto fail;
	if (version != 0 && version != OM_PG_SCHEMA_VERSION) {
		*error_r = om_asprintf("store: schema version %d; the postgresql "
				       "backend knows only %d", version,
				       OM_PG_SCHEMA_VERSION);
		goto fail;
	}
	return om_pg_exec(s, OM_PG_COMMIT, error_r);
fail:
	om_pgsql_rollback(&s->store);
	return -1;
}

static int om_pg_check_version(struct om_store_pgsql *s, char **error_r)
{
	int version;

	if (om_pg_version(s, &version, error_r) < 0)
		return -1;
	if (version != OM_PG_SCHEMA_VERSION) {
		*error_r = om_asprintf("store postgresql: schema version %d, this "
				       "program needs %d (run: omamorictl init)",
				       version, OM_PG_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static void om_pg_quiet(void *context, const char *message)
{
	(void)context;
	(void)message;
}

static void om_pgsql_close(struct om_store *store)
{
	struct om_store_pgsql *s = om_pg(store);

	PQfinish(s->conn);
	free(s->conninfo);
	free(s->retry_error);
	free(s);
}

/* Waits for the write lock at most busy_timeout_ms, as SQLite's busy
   timeout (0: no limit). */
static int om_pg_lock_timeout(struct om_store_pgsql *s, long busy_timeout_ms,
			      char **error_r)
{
	char value[32];
	const char *params[1] = { value };
	PGresult *res;

	(void)snprintf(value, sizeof(value), "%ld", busy_timeout_ms > 0 ?
		       busy_timeout_ms : 0);
	res = om_pg_params(s, "SELECT set_config('lock_timeout', $1, false)", 1, params,
			   "lock timeout", error_r);
	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* This connection hears of every change from now on (om_pgsql_data_version),
   again after a reconnect; a handle that never asks the counter never
   listens (nobody would read its notifications). */
static int om_pg_listen(struct om_store_pgsql *s, char **error_r)
{
	if (!s->listening)
		return 0;
	return om_pg_exec(s, OM_PG_LISTEN, error_r);
}

/* Connects to s->conninfo, non-blocking (om_pg_answer waits). */
static int om_pg_connect(struct om_store_pgsql *s, char **error_r)
{
	/* a connection attempt gives up after OM_PG_CONNECT_TIMEOUT seconds,
	   and TCP notices a vanished host (OM_PG_KEEPALIVES_*, tcp_user_timeout:
	   libpq 12 on), unless conninfo says otherwise: a daemon's loop must not
	   wait out TCP's own timeouts for a database host that drops packets */
	static const char *const keys[] = {
		"connect_timeout", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"dbname", NULL
	};
	char connect_timeout[16];
	const char *values[] = {
		connect_timeout, "1", OM_PG_KEEPALIVES_IDLE,
		OM_PG_KEEPALIVES_INTERVAL, OM_PG_KEEPALIVES_COUNT, OM_PG_TCP_USER_TIMEOUT,
		s->conninfo, NULL
	};

	/* an attempt waits no longer than the configured answer deadline
	   either, but a caller's shorter one for its reads does not shorten
	   it: the call that reconnects is often one made under such a
	   deadline (a cache's change counter), and a server slow to set up a
	   connection (2-5 s) would otherwise never be reconnected to there */
	(void)snprintf(connect_timeout, sizeof(connect_timeout), "%d",
		       s->configured_answer_timeout < atoi(OM_PG_CONNECT_TIMEOUT) ?
		       s->configured_answer_timeout : atoi(OM_PG_CONNECT_TIMEOUT));
	/* expand_dbname: conninfo's own keywords override the earlier ones */
	s->conn = PQconnectdbParams(keys, values, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		*error_r = om_pg_message("postgresql", s->conn != NULL ?
					 PQerrorMessage(s->conn) : "out of memory");
		om_pg_drop(s);
		return -1;
	}
	(void)PQsetNoticeProcessor(s->conn, om_pg_quiet, NULL);
	if (PQsetnonblocking(s->conn, 1) < 0) {
		*error_r = om_pg_message("postgresql", PQerrorMessage(s->conn));
		om_pg_drop(s);
		return -1;
	}
	return 0;
}

/* The end of a conninfo value starting at p (quoted: '...' with \
   escapes; else up to a space). */
static const char *om_pg_value_end(const char *p)
{
	if (*p == '\'') {
		for (p++; *p != '\0' && *p != '\''; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
		}
		return *p == '\'' ? p + 1 : p;
	}
	for (; *p != '\0' && *p != ' ' && *p != '\t' && *p != '\n'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
	}
	return p;
}

/* Takes omamori's own keyword answer_timeout=SECONDS (OM_PG_ANSWER_TIMEOUT)
   out of conninfo's key=value form into s (libpq refuses keywords it does
   not know); the rest is libpq's, as given.  A URI conninfo is libpq's
   whole.  0 or -1. */
static int om_pg_own_options(struct om_store_pgsql *s, const char *conninfo,
			     char **error_r)
{
	static const char key[] = "answer_timeout";
	const char *p = conninfo, *start, *value, *end;
	struct om_buf rest;
	char *stop;
	long n;

	s->answer_timeout = OM_PG_ANSWER_TIMEOUT;
	s->configured_answer_timeout = OM_PG_ANSWER_TIMEOUT;
	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
	    strncmp(conninfo, "postgres://", 11) == 0) {
		s->conninfo = om_strdup(conninfo);
		return 0;
	}
	om_buf_init(&rest);
	for (;;) {
		p += strspn(p, " \t\n");
		if (*p == '\0')
			break;
		start = p;
		p += strcspn(p, "= \t\n");
		value = p + strspn(p, " \t\n");
		if (*value != '=') {
			/* not key=value: libpq says what is wrong */
			om_buf_append_str(&rest, start);
			break;
		}
		value++;
		value += strspn(value, " \t\n");
		end = om_pg_value_end(value);
		if ((size_t)(p - start) == sizeof(key) - 1 &&
		    strncmp(start, key, sizeof(key) - 1) == 0) {
			errno = 0;
			n = strtol(value, &stop, 10);
			if (stop == value || stop != end || errno != 0 || n < 1 ||
			    n > OM_PG_ANSWER_TIMEOUT_MAX) {
				*error_r = om_asprintf("store: postgresql: %s must be 1 to "
						       "%d seconds", key,
						       OM_PG_ANSWER_TIMEOUT_MAX);
				om_buf_free(&rest);
				return -1;
			}
			s->answer_timeout = (int)n;
			s->configured_answer_timeout = (int)n;
		} else {
			if (rest.len > 0)
				om_buf_append(&rest, " ", 1);
			om_buf_append(&rest, start, (size_t)(end - start));
		}
		p = end;
	}
	om_buf_append(&rest, "", 1);
	s->conninfo = om_strdup(rest.data);
	om_buf_free(&rest);
	return 0;
}

static int om_pgsql_open(const char *conninfo, int flags, long busy_timeout_ms,
			 struct om_store **store_r, char **error_r)
{
	struct om_store_pgsql *s = om_calloc(1, sizeof(*s));

	if (om_pg_own_options(s, conninfo, error_r) < 0 ||
	    om_pg_connect(s, error_r) < 0) {
		om_pgsql_close(&s->store);
		return -1;
	}
	s->busy_timeout_ms = busy_timeout_ms;
	if (om_pg_lock_timeout(s, busy_timeout_ms, error_r) < 0 ||
	    ((flags & OM_STORE_CREATE) != 0 ? om_pg_create(s, error_r) :
	     om_pg_check_version(s, error_r)) < 0) {
		om_pgsql_close(&s->store);
		return -1;
	}
	*store_r = &s->store;
	return 0;
}

static int om_pgsql_schema_version(struct om_store *store)
{
	char *error = NULL;
	int version = -1;

	if (om_pg_version(om_pg(store), &version, &error) < 0) {
		free(error);
		return -1;
	}
	return version;
}

static int om_pgsql_begin(struct om_store *store, int write, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);

	if (om_pg_exec(s, write ? OM_PG_BEGIN : OM_PG_BEGIN_READ, error_r) < 0)
		return -1;
	s->in_transaction = 1;
	if (write && om_pg_exec(s, OM_PG_WRITE_LOCK, error_r) < 0) {
		om_pgsql_rollback(store);
		return -1;
	}
	return 0;
}

static int om_pgsql_commit(struct om_store *store, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	int ret;

	/* a connection lost here: the commit fails, the next call
	   reconnects (whether it committed cannot be known) */
	if (PQstatus(s->conn) == CONNECTION_OK) {
		ret = om_pg_exec(s, OM_PG_COMMIT, error_r);
	} else {
		*error_r = om_strdup("store: the connection to postgresql was lost "
				     "in a transaction");
		ret = -1;
	}
	s->in_transaction = 0;
	return ret;
}

static void om_pgsql_rollback(struct om_store *store)
{
	struct om_store_pgsql *s = om_pg(store);
	char *ignored = NULL;

	if (PQstatus(s->conn) == CONNECTION_OK)
		(void)om_pg_exec(s, OM_PG_ROLLBACK, &ignored);
	free(ignored);
	s->in_transaction = 0;
}

/* ---- subscriptions and domain settings ---- */

static const enum om_pg_stmt om_pg_table_stmts[][5] = {
	[OM_STORE_SUBSCRIPTIONS] = { OM_PG_SUB_SET, OM_PG_SUB_GET, OM_PG_SUB_DELETE,
				     OM_PG_SUB_LIST_ONE, OM_PG_SUB_LIST_ALL },
	[OM_STORE_DOMAIN_SETTINGS] = { OM_PG_DOM_SET, OM_PG_DOM_GET, OM_PG_DOM_DELETE,
				       OM_PG_DOM_LIST_ONE, OM_PG_DOM_LIST_ALL },
};

static int om_pgsql_row_set(struct om_store *store, enum om_store_table table,
			    const char *key, const char *name, const char *value,
			    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), om_pg_table_stmts[table][0],
					"write a setting", error_r, OM_ARG_TEXT(key),
					OM_ARG_TEXT(name), OM_ARG_TEXT(value),
					OM_ARG_INT64(time(NULL)), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_row_get(struct om_store *store, enum om_store_table table,
			    const char *key, const char *name, char **value_r,
			    char **error_r)
{
	return om_pg_lookup(om_pg_bind(om_pg(store), om_pg_table_stmts[table][1],
				       "read a setting", error_r, OM_ARG_TEXT(key),
				       OM_ARG_TEXT(name), OM_ARG_END), value_r);
}

static int om_pgsql_row_delete(struct om_store *store, enum om_store_table table,
			       const char *key, const char *name, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), om_pg_table_stmts[table][2],
					"delete a setting", error_r, OM_ARG_TEXT(key),
					OM_ARG_TEXT(name), OM_ARG_END)) < 0 ? -1 : 0;
}

static void om_pg_row_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.row(r->context, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
		  PQgetvalue(res, row, 2));
}

static int om_pgsql_row_list(struct om_store *store, enum om_store_table table,
			     const char *key, om_store_row_cb *cb, void *context,
			     char **error_r)
{
	struct om_pg_reader r = { .cb.row = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store),
					  om_pg_table_stmts[table][key != NULL ? 3 : 4],
					  "list settings", error_r, OM_ARG_TEXT(key),
					  OM_ARG_END), om_pg_row_row, &r);
}

/* ---- allow/block lists ---- */

static int om_pgsql_list_put(struct om_store *store, const char *scope,
			     const char *kind, const char *entry, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_LIST_ADD, "add a list entry",
					error_r, OM_ARG_TEXT(scope), OM_ARG_TEXT(kind),
					OM_ARG_TEXT(entry), OM_ARG_INT64(time(NULL)),
					OM_ARG_END)) < 0 ? -1 : 0;
}

/* Appends value to b as an element of an array literal: always quoted,
   so that no value reads as NULL. */
static void om_pg_array_item(struct om_buf *b, const char *value)
{
	const char *p;

	om_buf_append_str(b, b->len > 1 ? ",\"" : "\"");
	for (p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			om_buf_append(b, "\\", 1);
		om_buf_append(b, p, 1);
	}
	om_buf_append(b, "\"", 1);
}

/* One batch of an import: the arrays of rows[0..count) bound to one
   limit check (when a row is limited), one INSERT (the trigger skips its
   rows) and the trigger's work once for the batch.  0, 1 (*over_r,
   *before_r: the row over its limit, relative to rows) or -1. */
static int om_pg_import_batch(struct om_store_pgsql *s,
			      const struct om_store_list_row *rows, size_t count,
			      long max_entries, size_t *over_r,
			      long *before_r, char **error_r)
{
	struct om_buf a[4];
	PGresult *res;
	size_t i;
	int limited = 0, ret = 0;

	for (i = 0; i < 4; i++) {
		om_buf_init(&a[i]);
		om_buf_append(&a[i], "{", 1);
	}
	for (i = 0; i < count; i++) {
		om_pg_array_item(&a[0], rows[i].scope);
		om_pg_array_item(&a[1], rows[i].kind);
		om_pg_array_item(&a[2], rows[i].entry);
		om_buf_append_str(&a[3], i > 0 ? (rows[i].limited ? ",t" : ",f") :
				  (rows[i].limited ? "t" : "f"));
		limited |= rows[i].limited;
	}
	for (i = 0; i < 4; i++)
		om_buf_append(&a[i], "}", 1);
	if (limited && max_entries > 0) {
		res = om_pg_bind(s, OM_PG_LIST_IMPORT_OVER, "check an import's limits",
				 error_r, OM_ARG_TEXT(a[0].data), OM_ARG_TEXT(a[1].data),
				 OM_ARG_TEXT(a[2].data), OM_ARG_TEXT(a[3].data),
				 OM_ARG_INT64(max_entries), OM_ARG_END);
		if (res == NULL) {
			ret = -1;
		} else if (PQntuples(res) > 0) {
			*over_r = (size_t)om_pg_int(res, 0, 0);
			*before_r = (long)om_pg_int(res, 0, 1);
			ret = 1;
		}
		PQclear(res);
	}
	if (ret == 0 && om_pg_changed(om_pg_bind(s, OM_PG_LIST_IMPORT, "import list entries",
						 error_r, OM_ARG_TEXT(a[0].data),
						 OM_ARG_TEXT(a[1].data),
						 OM_ARG_TEXT(a[2].data),
						 OM_ARG_INT64(time(NULL)),
						 OM_ARG_END)) < 0)
		ret = -1;
	if (ret == 0 &&
	    om_pg_changed(om_pg_bind(s, OM_PG_LIST_IMPORT_CHANGES, "record an import's changes",
				     error_r, OM_ARG_TEXT(a[0].data), OM_ARG_END)) < 0)
		ret = -1;
	for (i = 0; i < 4; i++)
		om_buf_free(&a[i]);
	return ret;
}

/* Tells list_entries' row trigger to skip this transaction's rows
   (on) or to count them again (off): the import records its changes once
   a batch.  0 or -1. */
static int om_pg_import_quiet(struct om_store_pgsql *s, int on, char **error_r)
{
	PGresult *res = om_pg_bind(s, OM_PG_LIST_IMPORT_QUIET, "mark the import",
				   error_r, OM_ARG_TEXT(on ? "on" : "off"), OM_ARG_END);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

/* An import in batches of OM_PG_IMPORT_BATCH rows (a round trip or three
   each instead of two to four a row), then one notification: the scope
   when every row has the same one, else "*" (listeners read the change
   log, not the payload).  The row trigger would bump the "config"
   revision once a row, and PostgreSQL's updates of one row in one
   transaction grow slower with each (20 000 rows: 24 s in the trigger
   alone); so the import tells the trigger to skip its rows (a setting
   local to its transaction, v25) and does the trigger's work once a
   batch.  Readers are not held back meanwhile (no table lock). */
static int om_pgsql_list_import(struct om_store *store,
				const struct om_store_list_row *rows, size_t count,
				long max_entries, size_t *over_r, long *before_r,
				char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	const char *scope = count > 0 ? rows[0].scope : NULL;
	size_t start, n;
	int ret;

	if (count == 0)
		return 0;
	if (om_pg_import_quiet(s, 1, error_r) < 0)
		return -1;
	for (start = 0; start < count; start += n) {
		n = count - start < OM_PG_IMPORT_BATCH ? count - start : OM_PG_IMPORT_BATCH;
		ret = om_pg_import_batch(s, rows + start, n, max_entries, over_r,
					 before_r, error_r);
		if (ret == 1)
			*over_r += start;
		if (ret != 0)
			return ret;
	}
	if (om_pg_import_quiet(s, 0, error_r) < 0)
		return -1;
	for (start = 1; start < count; start++) {
		if (strcmp(rows[start].scope, scope) != 0) {
			scope = "*";
			break;
		}
	}
	return om_pg_notify(s, OM_PG_LIST_ADD, scope, error_r);
}

static int om_pgsql_list_remove(struct om_store *store, const char *scope,
				const char *kind, const char *entry, char **error_r)
{
	int n = om_pg_changed(om_pg_bind(om_pg(store), OM_PG_LIST_DELETE,
					 "remove a list entry", error_r,
					 OM_ARG_TEXT(scope), OM_ARG_TEXT(kind),
					 OM_ARG_TEXT(entry), OM_ARG_END));

	return n < 0 ? -1 : n > 0;
}

static long om_pgsql_list_count(struct om_store *store, const char *scope,
				const char *kind, char **error_r)
{
	long long n;

	if (om_pg_number(om_pg_bind(om_pg(store), OM_PG_LIST_COUNT, "count a list",
				    error_r, OM_ARG_TEXT(scope), OM_ARG_TEXT(kind),
				    OM_ARG_END), &n) < 0)
		return -1;
	return (long)n;
}

static int om_pgsql_list_has(struct om_store *store, const char *scope,
			     const char *kind, const char *entry, char **error_r)
{
	return om_pg_lookup(om_pg_bind(om_pg(store), OM_PG_LIST_HAS, "list lookup",
				       error_r, OM_ARG_TEXT(scope), OM_ARG_TEXT(kind),
				       OM_ARG_TEXT(entry), OM_ARG_END), NULL);
}

static int om_pgsql_list_each(struct om_store *store, const char *scope,
			      om_store_row_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.row = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), scope != NULL ? OM_PG_LIST_ONE :
					  OM_PG_LIST_ALL, "read lists", error_r,
					  OM_ARG_TEXT(scope), OM_ARG_END),
			       om_pg_row_row, &r);
}

/* ---- rate counters ---- */


static int om_pgsql_rates_expire(struct om_store *store, long long expire_before,
				 char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_RATE_EXPIRE,
					"expire rate counters", error_r,
					OM_ARG_INT64(expire_before), OM_ARG_END)) < 0 ?
		-1 : 0;
}

static void om_pg_rate_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_rate rate;

	om_pg_read(res, row, OM_COL_TEXT(&rate.user), OM_COL_INT64(&rate.window_start),
		   OM_COL_INT64(&rate.messages), OM_COL_INT64(&rate.recipients),
		   OM_COL_END);
	r->cb.rate(r->context, &rate);
}

static int om_pgsql_rate_add(struct om_store *store, const struct om_store_rate *increment,
			     om_store_rate_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.rate = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_RATE_ADD,
					  "add to rate counters", error_r,
					  OM_ARG_TEXT(increment->user),
					  OM_ARG_INT64(increment->window_start),
					  OM_ARG_INT64(increment->messages),
					  OM_ARG_INT64(increment->recipients), OM_ARG_END),
			       om_pg_rate_row, &r);
}

static int om_pgsql_rates_each(struct om_store *store, om_store_rate_cb *cb,
			       void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.rate = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_RATE_ALL,
					  "read rate counters", error_r, OM_ARG_END),
			       om_pg_rate_row, &r);
}

/* ---- the classifier's tokens ---- */

static int om_pgsql_spam_totals(struct om_store *store,
				struct om_store_spam_state *state_r, char **error_r)
{
	PGresult *res = om_pg_bind(om_pg(store), OM_PG_SPAM_TOTALS, "read spam totals",
				   error_r, OM_ARG_END);

	state_r->nspam = state_r->nham = 0;
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0) {
		state_r->nspam = (long)om_pg_int(res, 0, 0);
		state_r->nham = (long)om_pg_int(res, 0, 1);
	}
	PQclear(res);
	return 0;
}

/* A classifier token is bytes (a message in an unknown or mislabelled
   charset gives tokens that are no UTF-8), and spam_tokens.token is TEXT,
   which PostgreSQL takes only as UTF-8 (one such token failed a whole
   save): a token that is not well-formed UTF-8, or that begins with
   OM_PG_TOKEN_MARK, is stored as the mark and its bytes in hex. */
#define OM_PG_TOKEN_MARK '\x7f'

static void om_pg_token_item(struct om_buf *b, const char *token)
{
	static const char hex[] = "0123456789abcdef";
	char mark[2] = { OM_PG_TOKEN_MARK, '\0' };
	const unsigned char *p;

	if (token[0] != OM_PG_TOKEN_MARK && om_utf8_valid(token, strlen(token))) {
		om_pg_array_item(b, token);
		return;
	}
	om_buf_append_str(b, b->len > 1 ? ",\"" : "\"");
	om_buf_append_str(b, mark);
	for (p = (const unsigned char *)token; *p != '\0'; p++) {
		om_buf_append(b, &hex[*p >> 4], 1);
		om_buf_append(b, &hex[*p & 0x0f], 1);
	}
	om_buf_append(b, "\"", 1);
}

/* The token's bytes from what om_pg_token_item stored hex-encoded (the
   mark first), in a new string; NULL for a mark without good hex. */
static char *om_pg_token_decode(const char *stored)
{
	size_t i, n = strlen(stored + 1);
	char *out;

	if (n == 0 || n % 2 != 0)
		return NULL;
	out = om_malloc(n / 2 + 1);
	for (i = 0; i < n; i += 2) {
		int hi = om_hex_digit(stored[1 + i]), lo = om_hex_digit(stored[2 + i]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i / 2] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	return out;
}

static void om_pg_token_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	const char *stored = PQgetvalue(res, row, 0);
	char *decoded = NULL;

	if (stored[0] == OM_PG_TOKEN_MARK &&
	    (decoded = om_pg_token_decode(stored)) == NULL)
		return;		/* nothing om_pg_token_item wrote */
	r->cb.token(r->context, decoded != NULL ? decoded : stored,
		    (long)om_pg_int(res, row, 1), (long)om_pg_int(res, row, 2));
	free(decoded);
}

static int om_pgsql_spam_tokens(struct om_store *store, om_store_token_cb *cb,
				void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.token = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), OM_PG_SPAM_TOKENS, "read spam tokens",
				     error_r, OM_ARG_END), om_pg_token_row, &r) < 0 ?
		-1 : 0;
}

/* Token changes per statement: a save of a few thousand in one round
   trip (they were one each: 2000 took about 100 ms on loopback). */
#define OM_PG_TOKEN_BATCH 5000

/* rows[0..count) in two statements (OM_PG_SPAM_TOKENS_ADD, _NEW).  0 or
   -1. */
static int om_pg_spam_batch(struct om_store_pgsql *s,
			    const struct om_store_spam_token *rows, size_t count,
			    char **error_r)
{
	struct om_buf a[3];
	size_t i;
	int ret;

	for (i = 0; i < 3; i++) {
		om_buf_init(&a[i]);
		om_buf_append(&a[i], "{", 1);
	}
	for (i = 0; i < count; i++) {
		om_pg_token_item(&a[0], rows[i].token);
		om_buf_printf(&a[1], "%s%ld", i > 0 ? "," : "", rows[i].spam);
		om_buf_printf(&a[2], "%s%ld", i > 0 ? "," : "", rows[i].ham);
	}
	for (i = 0; i < 3; i++)
		om_buf_append(&a[i], "}", 1);
	ret = om_pg_changed(om_pg_bind(s, OM_PG_SPAM_TOKENS_ADD, "save spam tokens",
				       error_r, OM_ARG_TEXT(a[0].data),
				       OM_ARG_TEXT(a[1].data), OM_ARG_TEXT(a[2].data),
				       OM_ARG_END)) < 0 ||
		om_pg_changed(om_pg_bind(s, OM_PG_SPAM_TOKENS_NEW, "save new spam tokens",
					 error_r, OM_ARG_TEXT(a[0].data),
					 OM_ARG_TEXT(a[1].data), OM_ARG_TEXT(a[2].data),
					 OM_ARG_END)) < 0 ? -1 : 0;
	for (i = 0; i < 3; i++)
		om_buf_free(&a[i]);
	return ret;
}

static int om_pgsql_spam_add(struct om_store *store,
			     const struct om_store_spam_token *rows, size_t count,
			     long dspam, long dham, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	size_t i, n;

	for (i = 0; i < count; i += n) {
		n = count - i < OM_PG_TOKEN_BATCH ? count - i : OM_PG_TOKEN_BATCH;
		if (om_pg_spam_batch(s, rows + i, n, error_r) < 0)
			return -1;
	}
	return om_pg_changed(om_pg_bind(s, OM_PG_SPAM_TOTALS_SET, "save spam totals",
					error_r, OM_ARG_INT64(dspam), OM_ARG_INT64(dham),
					OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_spam_prune(struct om_store *store, long max_count,
			       long *removed_r, long *left_r, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	long long left;
	int removed;

	*removed_r = *left_r = 0;
	removed = om_pg_changed(om_pg_bind(s, OM_PG_SPAM_PRUNE, "prune spam tokens",
					   error_r, OM_ARG_INT64(max_count), OM_ARG_END));
	if (removed < 0 ||
	    om_pg_number(om_pg_bind(s, OM_PG_SPAM_TOKEN_COUNT, "count spam tokens",
				    error_r, OM_ARG_END), &left) < 0)
		return -1;
	*removed_r = removed;
	*left_r = (long)left;
	return om_pg_exec(s, OM_PG_SPAM_REVISION_BUMP, error_r);
}

/* ---- revisions, the change log, secrets ---- */

static int om_pgsql_revision(struct om_store *store, const char *name,
			     long long *revision_r, char **error_r)
{
	return om_pg_number(om_pg_bind(om_pg(store), OM_PG_REVISION, "read revision",
				       error_r, OM_ARG_TEXT(name), OM_ARG_END),
			    revision_r);
}

static void om_pg_scope_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.scope(r->context, PQgetvalue(res, row, 0));
}

static int om_pgsql_changes(struct om_store *store, long long since, size_t limit,
			    om_store_scope_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.scope = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_CHANGES, "read changes",
					  error_r, OM_ARG_INT64(since),
					  OM_ARG_INT64((long long)limit), OM_ARG_END),
			       om_pg_scope_row, &r);
}

/* The revisions' sum, compared every OM_PG_RECHECK_SECONDS (a safety net:
   the notifications are what moves the counter).  0 or -1. */
static int om_pg_recheck(struct om_store_pgsql *s)
{
	time_t now = time(NULL);
	char *error = NULL;
	long long sum;

	if (s->rechecked != 0 && now >= s->rechecked &&
	    now - s->rechecked < OM_PG_RECHECK_SECONDS)
		return 0;
	if (om_pg_number(om_pg_bind(s, OM_PG_REVISIONS_SUM, "revisions", &error,
				    OM_ARG_END), &sum) < 0) {
		free(error);
		return -1;
	}
	if (s->rechecked != 0 && sum != s->revisions)
		s->notified++;
	s->revisions = sum;
	s->rechecked = now;
	return 0;
}

/* How many changes this connection heard of (settings, lists, audit rules,
   classifier totals, brakes, on any host; quarantine, events and the like
   are not cached and notify nothing): what arrived is read off the socket
   without waiting and without a round trip; a lost connection is made
   again (and counts). */
static long long om_pgsql_data_version(struct om_store *store)
{
	struct om_store_pgsql *s = om_pg(store);
	char *error = NULL;
	PGnotify *n;

	if (!s->in_transaction && !s->listening) {
		/* the first read: listen, then compare the revisions once
		   (om_pg_recheck), so nothing committed before is missed */
		s->listening = 1;
		if (om_pg_listen(s, &error) < 0) {
			s->listening = 0;
			free(error);
			return -1;
		}
	}
	if (!s->in_transaction) {
		if (PQstatus(s->conn) != CONNECTION_OK || PQconsumeInput(s->conn) == 0) {
			/* PQconsumeInput failing marks the connection bad */
			if (om_pg_reconnect(s, &error) < 0) {
				free(error);
				return -1;
			}
		}
	}
	while ((n = PQnotifies(s->conn)) != NULL) {
		s->notified++;
		PQfreemem(n);
	}
	if (!s->in_transaction && om_pg_recheck(s) < 0)
		return -1;
	return s->notified;
}

static int om_pgsql_answer_timeout(struct om_store *store, int seconds)
{
	struct om_store_pgsql *s = om_pg(store);
	int before = s->answer_timeout;

	if (seconds > 0 && seconds <= OM_PG_ANSWER_TIMEOUT_MAX)
		s->answer_timeout = seconds;
	return before;
}

static int om_pgsql_change_fd(struct om_store *store)
{
	struct om_store_pgsql *s = om_pg(store);

	return PQstatus(s->conn) == CONNECTION_OK ? PQsocket(s->conn) : -1;
}

static int om_pg_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int om_pgsql_secret(struct om_store *store, const char *name,
			   unsigned char *value, size_t len, char **error_r)
{
	PGresult *res = om_pg_bind(om_pg(store), OM_PG_SECRET, "read secret", error_r,
				   OM_ARG_TEXT(name), OM_ARG_END);
	const char *hex;
	size_t i;
	int ok;

	if (res == NULL)
		return -1;
	hex = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
	ok = strlen(hex) == len * 2;
	for (i = 0; ok && i < len; i++) {
		int hi = om_pg_hex(hex[2 * i]), lo = om_pg_hex(hex[2 * i + 1]);

		ok = hi >= 0 && lo >= 0;
		value[i] = (unsigned char)(ok ? hi * 16 + lo : 0);
	}
	PQclear(res);
	if (!ok) {
		*error_r = om_asprintf("store: no secret '%s' of %zu bytes", name, len);
		return -1;
	}
	return 0;
}

/* ---- quarantined mail, correspondents, nonces ---- */

static void om_pg_q_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_quarantined q;

	memset(&q, 0, sizeof(q));
	om_pg_read(res, row, OM_COL_TEXT(&q.id), OM_COL_TEXT(&q.mailbox),
		   OM_COL_INT64(&q.received), OM_COL_TEXT(&q.sender),
		   OM_COL_TEXT(&q.from), OM_COL_TEXT(&q.subject),
		   OM_COL_TEXT(&q.score), OM_COL_TEXT(&q.reasons),
		   OM_COL_INT64(&q.size), OM_COL_INT64(&q.digest),
		   OM_COL_TEXT(&q.from_address), OM_COL_INT(&q.admin_only),
		   OM_COL_TEXT(&q.message_id), OM_COL_END);
	r->cb.quarantined(r->context, &q);
}

static int om_pgsql_quarantine_add(struct om_store *store,
				   const struct om_store_quarantined *q, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Q_ADD,
					"record quarantined mail", error_r,
					OM_ARG_TEXT(q->id), OM_ARG_TEXT(q->mailbox),
					OM_ARG_INT64(q->received), OM_ARG_TEXT(q->sender),
					OM_ARG_TEXT(q->from), OM_ARG_TEXT(q->subject),
					OM_ARG_TEXT(q->score), OM_ARG_TEXT(q->reasons),
					OM_ARG_INT64(q->size), OM_ARG_INT64(q->digest),
					OM_ARG_TEXT(q->from_address),
					OM_ARG_INT64(q->admin_only != 0),
					OM_ARG_TEXT(q->message_id), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_quarantine_get(struct om_store *store, const char *mailbox,
				   const char *id, om_store_quarantined_cb *cb,
				   void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.quarantined = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_Q_GET, "read quarantine",
					  error_r, OM_ARG_TEXT(mailbox), OM_ARG_TEXT(id),
					  OM_ARG_END), om_pg_q_row, &r);
}

static int om_pgsql_quarantine_each(struct om_store *store, const char *mailbox,
				    om_store_quarantined_cb *cb, void *context,
				    char **error_r)
{
	struct om_pg_reader r = { .cb.quarantined = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_Q_EACH, "read quarantine",
					  error_r, OM_ARG_TEXT(mailbox), OM_ARG_END),
			       om_pg_q_row, &r);
}

static int om_pgsql_quarantine_delete(struct om_store *store, const char *mailbox,
				      const char *id, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Q_DELETE,
					"forget quarantined mail", error_r,
					OM_ARG_TEXT(mailbox), OM_ARG_TEXT(id), OM_ARG_END));
}

static int om_pgsql_quarantine_expire(struct om_store *store, const char *mailbox,
				      long long before, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Q_EXPIRE,
					"expire quarantined mail", error_r,
					OM_ARG_TEXT(mailbox), OM_ARG_INT64(before),
					OM_ARG_END));
}

static int om_pgsql_correspondent_put(struct om_store *store,
				      const struct om_store_correspondent *c,
				      char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_C_SAVE,
					"save correspondents", error_r,
					OM_ARG_TEXT(c->mailbox), OM_ARG_TEXT(c->address),
					OM_ARG_INT64(c->last), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_correspondent_known(struct om_store *store, const char *mailbox,
					const char *address, char **error_r)
{
	return om_pg_lookup(om_pg_bind(om_pg(store), OM_PG_C_KNOWN,
				       "look up a correspondent", error_r,
				       OM_ARG_TEXT(mailbox), OM_ARG_TEXT(address),
				       OM_ARG_END), NULL);
}

static void om_pg_address_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.address(r->context, PQgetvalue(res, row, 0));
}

static long om_pgsql_correspondents_list(struct om_store *store, const char *mailbox,
					 long max, om_store_address_cb *cb,
					 void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.address = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), OM_PG_C_LIST, "list correspondents",
				     error_r, OM_ARG_TEXT(mailbox),
				     OM_ARG_INT64((long long)max), OM_ARG_END),
			  om_pg_address_row, &r);
}

/* Inside the caller's write transaction. */
static int om_pgsql_nonce_use(struct om_store *store, const char *nonce,
			      long long expires, long long now, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	int changed;

	if (om_pg_changed(om_pg_bind(s, OM_PG_N_EXPIRE, "forget used form values",
				     error_r, OM_ARG_INT64(now), OM_ARG_END)) < 0)
		return -1;
	changed = om_pg_changed(om_pg_bind(s, OM_PG_N_USE, "use a form value", error_r,
					   OM_ARG_TEXT(nonce), OM_ARG_INT64(expires),
					   OM_ARG_END));
	return changed < 0 ? -1 : changed > 0;
}

/* ---- held outbound mail ---- */

static int om_pgsql_hold_add(struct om_store *store, const struct om_store_hold *h,
			     char **error_r)
{
	int admin = h->kind != NULL && strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0;

	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_ADD, "record a hold",
					error_r, OM_ARG_TEXT(h->id),
					OM_ARG_TEXT(h->mailbox), OM_ARG_TEXT(h->sender),
					OM_ARG_TEXT(h->recipients),
					OM_ARG_TEXT(h->delivered), OM_ARG_TEXT(h->subject),
					OM_ARG_TEXT(h->attachments),
					OM_ARG_INT64(h->size), OM_ARG_INT64(h->flags),
					OM_ARG_INT64(h->created), OM_ARG_INT64(h->expires),
					OM_ARG_TEXT(h->expiry),
					OM_ARG_INT64(admin ? OM_HOLD_ADMIN : OM_HOLD_HELD),
					OM_ARG_TEXT(h->kind != NULL ? h->kind :
						    OM_HOLD_KIND_SENDER),
					OM_ARG_TEXT(h->details != NULL ? h->details : ""),
					OM_ARG_TEXT(h->node != NULL ? h->node : ""),
					OM_ARG_END));
}

static void om_pg_hold_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_hold h;
	int state;

	memset(&h, 0, sizeof(h));
	om_pg_read(res, row, OM_COL_TEXT(&h.id), OM_COL_TEXT(&h.mailbox),
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

static int om_pgsql_hold_list(struct om_store *store, enum om_hold_query query,
			      const char *text, long long number,
			      om_store_hold_cb *cb, void *context, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	struct om_pg_reader r = { .cb.hold = cb, .context = context };
	PGresult *res = NULL;

	switch (query) {
	case OM_HOLD_BY_ID:
		res = om_pg_bind(s, OM_PG_H_GET, "read holds", error_r,
				 OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_BY_MAILBOX:
		res = om_pg_bind(s, OM_PG_H_MAILBOX, "read holds", error_r,
				 OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_BY_STATE:
		res = om_pg_bind(s, OM_PG_H_STATE, "read holds", error_r,
				 OM_ARG_INT64(number), OM_ARG_END);
		break;
	case OM_HOLD_DUE:
		res = om_pg_bind(s, OM_PG_H_DUE, "read holds", error_r,
				 OM_ARG_INT64(number), OM_ARG_END);
		break;
	case OM_HOLD_BRAKED:
		res = om_pg_bind(s, OM_PG_H_BRAKED, "read holds", error_r,
				 OM_ARG_TEXT(text), OM_ARG_END);
		break;
	case OM_HOLD_ASKED:
		res = om_pg_bind(s, OM_PG_H_ASKED, "read holds", error_r,
				 OM_ARG_TEXT(text), OM_ARG_END);
		break;
	default:
		*error_r = om_asprintf("store: unknown hold query");
		return -1;
	}
	return (int)om_pg_each(res, om_pg_hold_row, &r);
}

/* Inside the caller's write transaction: 1 moved, 0 not in a from state. */
static int om_pgsql_hold_move(struct om_store *store, const char *id,
			      enum om_hold_state from1, enum om_hold_state from2,
			      enum om_hold_state to, long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_MOVE, "move a hold",
					error_r, OM_ARG_TEXT(id), OM_ARG_INT64(to),
					OM_ARG_INT64(now), OM_ARG_INT64(from1),
					OM_ARG_INT64(from2), OM_ARG_END));
}

/* As om_pgsql_hold_move, recording the request's by and time. */
static int om_pgsql_hold_ask(struct om_store *store, const char *id,
			     enum om_hold_state from1, enum om_hold_state from2,
			     enum om_hold_state to, const char *by, long long now,
			     char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_ASK,
					"ask a hold of its node", error_r,
					OM_ARG_TEXT(id), OM_ARG_INT64(to),
					OM_ARG_INT64(now), OM_ARG_INT64(from1),
					OM_ARG_INT64(from2), OM_ARG_TEXT(by),
					OM_ARG_END));
}

static int om_pgsql_hold_set(struct om_store *store, const char *id,
			     enum om_hold_state state, const char *result,
			     long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_SET, "mark a hold",
					error_r, OM_ARG_TEXT(id), OM_ARG_INT64(state),
					OM_ARG_INT64(now), OM_ARG_TEXT(result),
					OM_ARG_END));
}

static int om_pgsql_hold_notified(struct om_store *store, const char *id,
				  char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_NOTIFIED,
					"mark a hold notified", error_r,
					OM_ARG_TEXT(id), OM_ARG_END));
}

static int om_pgsql_hold_expire(struct om_store *store, long long before,
				char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_H_EXPIRE, "forget holds",
					error_r, OM_ARG_INT64(before), OM_ARG_END));
}

/* ---- the sandbox's verdicts ---- */

static void om_pg_sandbox_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.sandbox(r->context, PQgetvalue(res, row, 0), om_pg_int(res, row, 1));
}

static int om_pgsql_sandbox_get(struct om_store *store, const char *hash,
				om_store_sandbox_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.sandbox = cb, .context = context };
	long n = om_pg_each(om_pg_bind(om_pg(store), OM_PG_SANDBOX_GET,
				       "read a sandbox verdict", error_r,
				       OM_ARG_TEXT(hash), OM_ARG_END),
			    om_pg_sandbox_row, &r);

	return n < 0 ? -1 : n > 0;
}

static int om_pgsql_sandbox_put(struct om_store *store, const char *hash,
				const char *verdict, long long first_seen, long long now,
				char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_SANDBOX_PUT,
					"record a sandbox verdict", error_r,
					OM_ARG_TEXT(hash), OM_ARG_TEXT(verdict),
					OM_ARG_INT64(first_seen), OM_ARG_INT64(now),
					OM_ARG_END)) < 0 ? -1 : 0;
}

/* ---- policy groups, the history of subscription states ---- */

static int om_pgsql_group_insert(struct om_store *store, const char *domain,
				 const char *name, long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_GROUP_INSERT,
					"add a policy group", error_r, OM_ARG_TEXT(domain),
					OM_ARG_TEXT(name), OM_ARG_INT64(now), OM_ARG_END));
}

static int om_pgsql_group_remove(struct om_store *store, const char *domain,
				 const char *name, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_GROUP_REMOVE,
					"delete a policy group", error_r,
					OM_ARG_TEXT(domain), OM_ARG_TEXT(name), OM_ARG_END));
}

static int om_pgsql_scope_delete(struct om_store *store, const char *scope,
				 char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_DOM_DELETE_SCOPE,
					"delete a scope's settings", error_r,
					OM_ARG_TEXT(scope), OM_ARG_END));
}

static void om_pg_group_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.group(r->context, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
}

static long om_pgsql_group_list(struct om_store *store, const char *domain,
				om_store_group_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.group = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), domain != NULL ? OM_PG_GROUP_LIST :
				     OM_PG_GROUP_LIST_ALL, "read policy groups", error_r,
				     OM_ARG_TEXT(domain), OM_ARG_END),
			  om_pg_group_row, &r);
}

static long om_pgsql_group_members(struct om_store *store, const char *domain,
				   const char *name, om_store_group_cb *cb,
				   void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.group = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), OM_PG_GROUP_MEMBERS,
				     "read a group's mailboxes", error_r,
				     OM_ARG_TEXT(domain), OM_ARG_TEXT(name), OM_ARG_END),
			  om_pg_group_row, &r);
}

static int om_pgsql_sub_history_put(struct om_store *store,
				    const struct om_store_sub_change *c, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_SUB_HISTORY_PUT,
					"write subscription history", error_r,
					OM_ARG_TEXT(c->mailbox), OM_ARG_TEXT(c->feature),
					OM_ARG_TEXT(c->state), OM_ARG_INT64(c->at),
					OM_ARG_END)) < 0 ? -1 : 0;
}

/* ---- domain administrators and the change log ---- */

static int om_pgsql_admin_put(struct om_store *store, const struct om_store_admin *a,
			      char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_ADMIN_PUT,
					"record an administrator", error_r,
					OM_ARG_TEXT(a->domain), OM_ARG_TEXT(a->address),
					OM_ARG_TEXT(a->role), OM_ARG_TEXT(a->rights),
					OM_ARG_INT64(a->created), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_admin_delete(struct om_store *store, const char *domain,
				 const char *address, char **error_r)
{
	int n = om_pg_changed(om_pg_bind(om_pg(store), OM_PG_ADMIN_DELETE,
					 "remove an administrator", error_r,
					 OM_ARG_TEXT(domain), OM_ARG_TEXT(address),
					 OM_ARG_END));

	return n < 0 ? -1 : n > 0;
}

static long om_pgsql_admin_count(struct om_store *store, const char *domain,
				 const char *role, const char *except, char **error_r)
{
	long long n;

	if (om_pg_number(om_pg_bind(om_pg(store), OM_PG_ADMIN_COUNT,
				    "count administrators", error_r, OM_ARG_TEXT(domain),
				    OM_ARG_TEXT(role), OM_ARG_TEXT(except), OM_ARG_END),
			 &n) < 0)
		return -1;
	return (long)n;
}

static void om_pg_admin_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_admin a;

	memset(&a, 0, sizeof(a));
	om_pg_read(res, row, OM_COL_TEXT(&a.domain), OM_COL_TEXT(&a.address),
		   OM_COL_TEXT(&a.role), OM_COL_TEXT(&a.rights),
		   OM_COL_INT64(&a.created), OM_COL_END);
	r->cb.admin(r->context, &a);
}

static long om_pgsql_admin_list(struct om_store *store, int by_address,
				const char *key, om_store_admin_cb *cb, void *context,
				char **error_r)
{
	struct om_pg_reader r = { .cb.admin = cb, .context = context };
	enum om_pg_stmt id = by_address ? OM_PG_ADMIN_OF :
		key != NULL ? OM_PG_ADMIN_LIST : OM_PG_ADMIN_LIST_ALL;

	return om_pg_each(om_pg_bind(om_pg(store), id, "read administrators", error_r,
				     OM_ARG_TEXT(key), OM_ARG_END), om_pg_admin_row, &r);
}

static int om_pgsql_change_add(struct om_store *store, const struct om_store_change *c,
			       char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_CHANGE_ADD,
					"record a change", error_r, OM_ARG_INT64(c->at),
					OM_ARG_TEXT(c->who), OM_ARG_TEXT(c->domain),
					OM_ARG_TEXT(c->what), OM_ARG_TEXT(c->old_value),
					OM_ARG_TEXT(c->new_value), OM_ARG_END)) < 0 ? -1 : 0;
}

static void om_pg_change_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_change c;

	memset(&c, 0, sizeof(c));
	om_pg_read(res, row, OM_COL_INT64(&c.id), OM_COL_INT64(&c.at),
		   OM_COL_TEXT(&c.who), OM_COL_TEXT(&c.domain), OM_COL_TEXT(&c.what),
		   OM_COL_TEXT(&c.old_value), OM_COL_TEXT(&c.new_value), OM_COL_END);
	r->cb.change(r->context, &c);
}

static long om_pgsql_change_list(struct om_store *store, const char *domain,
				 long limit, om_store_change_cb *cb, void *context,
				 char **error_r)
{
	struct om_pg_reader r = { .cb.change = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), OM_PG_CHANGE_LIST,
				     "read the change log", error_r, OM_ARG_TEXT(domain),
				     OM_ARG_INT64(limit), OM_ARG_END),
			  om_pg_change_row, &r);
}

/* ---- the message trace's events, the monthly report's marks ---- */

static int om_pgsql_event_add(struct om_store *store, const struct om_store_event *ev,
			      char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_EVENT_ADD, "record an event",
					error_r, OM_ARG_INT64(ev->at),
					OM_ARG_TEXT(ev->domain),
					OM_ARG_INT64((long long)ev->direction),
					OM_ARG_TEXT(ev->sender), OM_ARG_TEXT(ev->recipient),
					OM_ARG_TEXT(ev->message_id),
					OM_ARG_TEXT(ev->subject), OM_ARG_TEXT(ev->queue_id),
					OM_ARG_TEXT(ev->step), OM_ARG_TEXT(ev->result),
					OM_ARG_TEXT(ev->detail),
					OM_ARG_INT64(ev->recipients > 1 ? ev->recipients : 1),
					OM_ARG_END)) < 0 ? -1 : 0;
}

static long om_pgsql_events_expire(struct om_store *store, long long before,
				   char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_EVENTS_EXPIRE,
					"expire events", error_r, OM_ARG_INT64(before),
					OM_ARG_END));
}

static int om_pgsql_report_claim(struct om_store *store, const char *domain,
				 const char *month, const char *recipient, long long at,
				 int claim, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	int n = claim ?
		om_pg_changed(om_pg_bind(s, OM_PG_REPORT_CLAIM, "claim a report",
					 error_r, OM_ARG_TEXT(domain), OM_ARG_TEXT(month),
					 OM_ARG_TEXT(recipient), OM_ARG_INT64(at),
					 OM_ARG_END)) :
		om_pg_changed(om_pg_bind(s, OM_PG_REPORT_UNCLAIM,
					 "forget a report's claim", error_r,
					 OM_ARG_TEXT(domain), OM_ARG_TEXT(month),
					 OM_ARG_TEXT(recipient), OM_ARG_END));

	return n < 0 ? -1 : n > 0;
}

/* ---- digests ---- */

/* Inside the caller's write transaction. */
static int om_pgsql_digest_claim(struct om_store *store, const char *mailbox,
				 long long now, long long *digest_r, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	long long unlisted;

	*digest_r = 0;
	if (om_pg_number(om_pg_bind(s, OM_PG_D_UNLISTED, "count unlisted quarantined mail",
				    error_r, OM_ARG_TEXT(mailbox), OM_ARG_END),
			 &unlisted) < 0)
		return -1;
	if (unlisted == 0)
		return 0;
	if (om_pg_number(om_pg_bind(s, OM_PG_D_NEW, "make a digest", error_r,
				    OM_ARG_TEXT(mailbox), OM_ARG_INT64(now), OM_ARG_END),
			 digest_r) < 0)
		return -1;
	return om_pg_changed(om_pg_bind(s, OM_PG_D_MARK, "mark digested mail", error_r,
					OM_ARG_TEXT(mailbox), OM_ARG_INT64(*digest_r),
					OM_ARG_END));
}

static int om_pgsql_digest_items(struct om_store *store, long long digest,
				 om_store_quarantined_cb *cb, void *context,
				 char **error_r)
{
	struct om_pg_reader r = { .cb.quarantined = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_D_ITEMS, "read a digest",
					  error_r, OM_ARG_INT64(digest), OM_ARG_END),
			       om_pg_q_row, &r);
}

static int om_pgsql_digest_sent(struct om_store *store, long long digest,
				long long sent, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_D_SENT, "mark a digest sent",
					error_r, OM_ARG_INT64(digest), OM_ARG_INT64(sent),
					OM_ARG_END)) < 0 ? -1 : 0;
}

static void om_pg_digest_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_digest d;

	memset(&d, 0, sizeof(d));
	om_pg_read(res, row, OM_COL_INT64(&d.id), OM_COL_TEXT(&d.mailbox),
		   OM_COL_INT64(&d.created), OM_COL_INT64(&d.sent), OM_COL_END);
	r->cb.digest(r->context, &d);
}

static int om_pgsql_digest_pending(struct om_store *store, long long before,
				   om_store_digest_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.digest = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_D_PENDING,
					  "read pending digests", error_r,
					  OM_ARG_INT64(before), OM_ARG_END),
			       om_pg_digest_row, &r);
}

static int om_pgsql_digest_last(struct om_store *store, const char *mailbox,
				long long *created_r, char **error_r)
{
	return om_pg_number(om_pg_bind(om_pg(store), OM_PG_D_LAST, "read the last digest",
				       error_r, OM_ARG_TEXT(mailbox), OM_ARG_END),
			    created_r);
}

static int om_pgsql_digest_sent_count(struct om_store *store, long long *count_r,
				      char **error_r)
{
	return om_pg_number(om_pg_bind(om_pg(store), OM_PG_D_SENT_COUNT,
				       "count the digests sent", error_r, OM_ARG_END),
			    count_r);
}

static void om_pg_unlisted_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	r->cb.unlisted(r->context, PQgetvalue(res, row, 0), (long)om_pg_int(res, row, 1),
		       (long)om_pg_int(res, row, 2));
}

static int om_pgsql_digest_due(struct om_store *store, om_store_unlisted_cb *cb,
			       void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.unlisted = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_D_DUE,
					  "read mailboxes due a digest", error_r,
					  OM_ARG_END), om_pg_unlisted_row, &r);
}

/* ---- outbound mail ---- */

/* Inside the caller's write transaction. */
static int om_pgsql_outbound_claim(struct om_store *store,
				   const struct om_store_outbound *m,
				   enum om_outbound_state *state_r, char **reply_r,
				   char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	PGresult *res;
	int state;

	if (om_pg_changed(om_pg_bind(s, OM_PG_OB_ADD, "record outbound mail", error_r,
				     OM_ARG_TEXT(m->queue_id), OM_ARG_TEXT(m->hash),
				     OM_ARG_TEXT(m->sender), OM_ARG_INT64(m->recipients),
				     OM_ARG_INT64(m->received), OM_ARG_END)) < 0)
		return -1;
	res = om_pg_bind(s, OM_PG_OB_GET, "read outbound mail", error_r,
			 OM_ARG_TEXT(m->queue_id), OM_ARG_TEXT(m->hash), OM_ARG_END);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*error_r = om_strdup("store: read outbound mail: no row");
		return -1;
	}
	state = (int)om_pg_int(res, 0, 0);
	if (state == OM_OUTBOUND_REFUSED)
		*reply_r = om_strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
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

static int om_pgsql_outbound_finish(struct om_store *store, const char *queue_id,
				    const char *hash, enum om_outbound_state state,
				    const char *reply, long long now, char **error_r)
{
	int ret = om_pg_changed(om_pg_bind(om_pg(store), OM_PG_OB_FINISH,
					   "mark outbound mail", error_r,
					   OM_ARG_TEXT(queue_id), OM_ARG_TEXT(hash),
					   OM_ARG_INT64(state), OM_ARG_TEXT(reply),
					   OM_ARG_INT64(now), OM_ARG_END));

	if (ret == 0) {
		*error_r = om_strdup("store: outbound mail to mark is not recorded");
		return -1;
	}
	return ret < 0 ? -1 : 0;
}

static int om_pgsql_outbound_expire(struct om_store *store, long long before,
				    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_OB_EXPIRE,
					"forget outbound mail", error_r,
					OM_ARG_INT64(before), OM_ARG_END));
}

/* ---- outbound-zip's passwords ---- */

static int om_pgsql_zip_add(struct om_store *store, const struct om_store_zip *z,
			    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Z_ADD, "record a zip password",
					error_r, OM_ARG_TEXT(z->id), OM_ARG_TEXT(z->mailbox),
					OM_ARG_TEXT(z->recipients), OM_ARG_TEXT(z->subject),
					OM_ARG_TEXT(z->archive), OM_ARG_TEXT(z->sealed),
					OM_ARG_INT64(z->created), OM_ARG_INT64(z->expires),
					OM_ARG_END));
}

static void om_pg_zip_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_zip z;
	int state;

	memset(&z, 0, sizeof(z));
	om_pg_read(res, row, OM_COL_TEXT(&z.id), OM_COL_TEXT(&z.mailbox),
		   OM_COL_TEXT(&z.recipients), OM_COL_TEXT(&z.subject),
		   OM_COL_TEXT(&z.archive), OM_COL_TEXT(&z.sealed),
		   OM_COL_INT64(&z.created), OM_COL_INT64(&z.expires),
		   OM_COL_INT(&state), OM_COL_INT64(&z.changed),
		   OM_COL_INT64(&z.sent), OM_COL_TEXT(&z.result), OM_COL_END);
	z.state = (enum om_zip_state)state;
	r->cb.zip(r->context, &z);
}

static int om_pgsql_zip_list(struct om_store *store, const char *id, int state,
			     om_store_zip_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.zip = cb, .context = context };
	PGresult *res = id != NULL ?
		om_pg_bind(om_pg(store), OM_PG_Z_GET, "read zip passwords", error_r,
			   OM_ARG_TEXT(id), OM_ARG_END) :
		om_pg_bind(om_pg(store), OM_PG_Z_STATE, "read zip passwords", error_r,
			   OM_ARG_INT64(state), OM_ARG_END);

	return (int)om_pg_each(res, om_pg_zip_row, &r);
}

/* Inside the caller's write transaction: 1 moved, 0 not. */
static int om_pgsql_zip_move(struct om_store *store, const char *id,
			     enum om_zip_state from, enum om_zip_state to,
			     long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Z_MOVE,
					"claim a zip password", error_r, OM_ARG_TEXT(id),
					OM_ARG_INT64(to), OM_ARG_INT64(now),
					OM_ARG_INT64(from), OM_ARG_END));
}

static int om_pgsql_zip_set(struct om_store *store, const char *id,
			    enum om_zip_state state, long long sent,
			    const char *result, long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Z_SET, "mark a zip password",
					error_r, OM_ARG_TEXT(id), OM_ARG_INT64(state),
					OM_ARG_INT64(now), OM_ARG_INT64(sent),
					OM_ARG_TEXT(result), OM_ARG_END));
}

static int om_pgsql_zip_expire(struct om_store *store, long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_Z_EXPIRE,
					"forget zip passwords", error_r, OM_ARG_INT64(now),
					OM_ARG_END));
}

/* ---- the brake: sender history and brakes ---- */

static int om_pgsql_history_put(struct om_store *store,
				const struct om_store_history *h, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_HIST_PUT,
					"save sender history", error_r,
					OM_ARG_TEXT(h->login), OM_ARG_INT64(h->hour),
					OM_ARG_INT64(h->messages),
					OM_ARG_INT64(h->recipients), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_history_expire(struct om_store *store, long long before,
				   char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_HIST_EXPIRE,
					"forget sender history", error_r,
					OM_ARG_INT64(before), OM_ARG_END));
}

static void om_pg_history_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_history h;

	memset(&h, 0, sizeof(h));
	om_pg_read(res, row, OM_COL_TEXT(&h.login), OM_COL_INT64(&h.hour),
		   OM_COL_INT64(&h.messages), OM_COL_INT64(&h.recipients), OM_COL_END);
	r->cb.history(r->context, &h);
}

static int om_pgsql_history_peaks(struct om_store *store, long long since,
				  long long before, om_store_history_cb *cb,
				  void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.history = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_HIST_PEAKS,
					  "read sender history", error_r,
					  OM_ARG_INT64(since), OM_ARG_INT64(before),
					  OM_ARG_END), om_pg_history_row, &r);
}

static int om_pgsql_history_rows(struct om_store *store, const char *login,
				 long long hour, om_store_history_cb *cb, void *context,
				 char **error_r)
{
	struct om_pg_reader r = { .cb.history = cb, .context = context };
	PGresult *res = login != NULL ?
		om_pg_bind(om_pg(store), OM_PG_HIST_LOGIN, "read sender history", error_r,
			   OM_ARG_TEXT(login), OM_ARG_INT64(hour), OM_ARG_END) :
		om_pg_bind(om_pg(store), OM_PG_HIST_HOUR, "read sender history", error_r,
			   OM_ARG_INT64(hour), OM_ARG_END);

	return (int)om_pg_each(res, om_pg_history_row, &r);
}

static int om_pgsql_brake_trip(struct om_store *store, const struct om_store_brake *b,
			       long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_BRAKE_TRIP, "record a brake",
					error_r, OM_ARG_TEXT(b->login),
					OM_ARG_INT64(b->since), OM_ARG_INT64(b->messages),
					OM_ARG_INT64(b->recipients),
					OM_ARG_INT64(b->limit_messages),
					OM_ARG_INT64(b->limit_recipients),
					OM_ARG_INT64(b->peak_messages),
					OM_ARG_INT64(b->peak_recipients),
					OM_ARG_INT64(now), OM_ARG_END));
}

static void om_pg_brake_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_brake b;
	int state;

	memset(&b, 0, sizeof(b));
	om_pg_read(res, row, OM_COL_TEXT(&b.login), OM_COL_INT(&state),
		   OM_COL_INT64(&b.since), OM_COL_INT64(&b.messages),
		   OM_COL_INT64(&b.recipients), OM_COL_INT64(&b.limit_messages),
		   OM_COL_INT64(&b.limit_recipients), OM_COL_INT64(&b.peak_messages),
		   OM_COL_INT64(&b.peak_recipients), OM_COL_INT(&b.alerted),
		   OM_COL_INT64(&b.changed), OM_COL_END);
	b.state = (enum om_brake_state)state;
	r->cb.brake(r->context, &b);
}

static int om_pgsql_brake_list(struct om_store *store, const char *login,
			       om_store_brake_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.brake = cb, .context = context };
	PGresult *res = login != NULL ?
		om_pg_bind(om_pg(store), OM_PG_BRAKE_GET, "read brakes", error_r,
			   OM_ARG_TEXT(login), OM_ARG_END) :
		om_pg_bind(om_pg(store), OM_PG_BRAKE_ON, "read brakes", error_r, OM_ARG_END);

	return (int)om_pg_each(res, om_pg_brake_row, &r);
}

static int om_pgsql_brake_lift(struct om_store *store, const char *login,
			       long long now, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_BRAKE_LIFT, "lift a brake",
					error_r, OM_ARG_TEXT(login), OM_ARG_INT64(now),
					OM_ARG_END));
}

static int om_pgsql_brake_alert(struct om_store *store, const char *login, int claim,
				char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), claim ? OM_PG_BRAKE_ALERT :
					OM_PG_BRAKE_UNALERT, "mark a brake's alert",
					error_r, OM_ARG_TEXT(login), OM_ARG_END));
}

/* ---- isolated attachments ---- */

static int om_pgsql_isolated_add(struct om_store *store,
				 const struct om_store_isolated *f, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_ISO_ADD,
					"record an isolated file", error_r,
					OM_ARG_TEXT(f->id), OM_ARG_TEXT(f->mailbox),
					OM_ARG_TEXT(f->name), OM_ARG_INT64(f->size),
					OM_ARG_TEXT(f->true_type), OM_ARG_TEXT(f->findings),
					OM_ARG_TEXT(f->scan), OM_ARG_TEXT(f->why),
					OM_ARG_TEXT(f->subject), OM_ARG_TEXT(f->sealed),
					OM_ARG_INT64(f->created), OM_ARG_INT64(f->expires),
					OM_ARG_TEXT(f->received != NULL ? f->received : ""),
					OM_ARG_END));
}

static void om_pg_isolated_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_isolated f;

	memset(&f, 0, sizeof(f));
	om_pg_read(res, row, OM_COL_TEXT(&f.id), OM_COL_TEXT(&f.mailbox),
		   OM_COL_TEXT(&f.name), OM_COL_INT64(&f.size),
		   OM_COL_TEXT(&f.true_type), OM_COL_TEXT(&f.findings),
		   OM_COL_TEXT(&f.scan), OM_COL_TEXT(&f.why),
		   OM_COL_TEXT(&f.subject), OM_COL_TEXT(&f.sealed),
		   OM_COL_INT64(&f.created), OM_COL_INT64(&f.expires),
		   OM_COL_TEXT(&f.received), OM_COL_END);
	r->cb.isolated(r->context, &f);
}

static int om_pgsql_isolated_list(struct om_store *store, const char *id,
				  long long due, om_store_isolated_cb *cb, void *context,
				  char **error_r)
{
	struct om_pg_reader r = { .cb.isolated = cb, .context = context };
	PGresult *res = id != NULL ?
		om_pg_bind(om_pg(store), OM_PG_ISO_GET, "read isolated files", error_r,
			   OM_ARG_TEXT(id), OM_ARG_END) :
		om_pg_bind(om_pg(store), OM_PG_ISO_DUE, "read isolated files", error_r,
			   OM_ARG_INT64(due), OM_ARG_END);

	return (int)om_pg_each(res, om_pg_isolated_row, &r);
}

static int om_pgsql_isolated_delete(struct om_store *store, const char *id,
				    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_ISO_DELETE,
					"forget an isolated file", error_r,
					OM_ARG_TEXT(id), OM_ARG_END));
}

/* ---- audit rules ---- */

static int om_pgsql_audit_shift(struct om_store *store, const char *domain,
				long long from, int shift, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);

	/* make room: from.. park, then +1; close the gap: from+1.. park,
	   then -1 */
	if (om_pg_changed(om_pg_bind(s, OM_PG_AUDIT_PARK, "move audit rules", error_r,
				     OM_ARG_TEXT(domain),
				     OM_ARG_INT64(shift > 0 ? from : from + 1),
				     OM_ARG_END)) < 0)
		return -1;
	return om_pg_changed(om_pg_bind(s, shift > 0 ? OM_PG_AUDIT_UNPARK_UP :
					OM_PG_AUDIT_UNPARK_DOWN, "move audit rules",
					error_r, OM_ARG_TEXT(domain), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_audit_insert(struct om_store *store, const char *domain,
				 long long position, const char *rule, long long now,
				 char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_AUDIT_INSERT,
					"add an audit rule", error_r, OM_ARG_TEXT(domain),
					OM_ARG_INT64(position), OM_ARG_TEXT(rule),
					OM_ARG_INT64(now), OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_audit_delete(struct om_store *store, const char *domain,
				 long long position, char **error_r)
{
	int n = om_pg_changed(om_pg_bind(om_pg(store), OM_PG_AUDIT_DELETE,
					 "remove an audit rule", error_r,
					 OM_ARG_TEXT(domain), OM_ARG_INT64(position),
					 OM_ARG_END));

	return n < 0 ? -1 : n > 0;
}

static long long om_pgsql_audit_last(struct om_store *store, const char *domain,
				     char **error_r)
{
	long long n;

	if (om_pg_number(om_pg_bind(om_pg(store), OM_PG_AUDIT_LAST, "read audit rules",
				    error_r, OM_ARG_TEXT(domain), OM_ARG_END), &n) < 0)
		return -1;
	return n;
}

static void om_pg_audit_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_audit_rule a;

	memset(&a, 0, sizeof(a));
	om_pg_read(res, row, OM_COL_TEXT(&a.domain), OM_COL_INT64(&a.position),
		   OM_COL_TEXT(&a.rule), OM_COL_INT64(&a.created), OM_COL_END);
	r->cb.audit(r->context, &a);
}

static long om_pgsql_audit_list(struct om_store *store, const char *domain,
				om_store_audit_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.audit = cb, .context = context };
	PGresult *res = domain != NULL ?
		om_pg_bind(om_pg(store), OM_PG_AUDIT_LIST, "read audit rules", error_r,
			   OM_ARG_TEXT(domain), OM_ARG_END) :
		om_pg_bind(om_pg(store), OM_PG_AUDIT_LIST_ALL, "read audit rules", error_r,
			   OM_ARG_END);

	return om_pg_each(res, om_pg_audit_row, &r);
}

/* ---- the URL reputation store ---- */

/* Keys one OM_PG_URL_FIND reads (its $3..$10). */
#define OM_PG_URL_KEYS 8

static void om_pg_url_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_url u;
	int kind, verdict;

	memset(&u, 0, sizeof(u));
	om_pg_read(res, row, OM_COL_INT(&kind), OM_COL_TEXT(&u.key),
		   OM_COL_TEXT(&u.source), OM_COL_INT(&verdict),
		   OM_COL_INT64(&u.added), OM_COL_INT64(&u.expires), OM_COL_END);
	u.kind = (enum om_url_kind)kind;
	u.verdict = (enum om_url_verdict)verdict;
	r->cb.url(r->context, &u);
}

static int om_pgsql_url_find(struct om_store *store, enum om_url_kind kind,
			     const char *const *keys, size_t count, long long now,
			     om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.url = cb, .context = context };
	struct om_pg_arg args[2 + OM_PG_URL_KEYS + 1] = {
		OM_ARG_INT64(kind), OM_ARG_INT64(now),
	};
	const struct om_pg_arg end = OM_ARG_END;
	size_t i, n;
	long rows;
	int found = 0;

	for (i = 0; i < count; i += OM_PG_URL_KEYS) {
		for (n = 0; n < OM_PG_URL_KEYS && i + n < count; n++) {
			args[2 + n].type = OM_PG_TEXT;
			args[2 + n].text = keys[i + n];
		}
		args[2 + n] = end;
		rows = om_pg_each(om_pg_run(om_pg(store), OM_PG_URL_FIND, args,
					    OM_N_ELEMENTS(args), "read URL entries",
					    error_r), om_pg_url_row, &r);
		if (rows < 0)
			return -1;
		found |= rows > 0;
	}
	return found;
}

static int om_pgsql_url_put(struct om_store *store, const struct om_store_url *u,
			    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_URL_PUT, "write a URL entry",
					error_r, OM_ARG_INT64(u->kind), OM_ARG_TEXT(u->key),
					OM_ARG_TEXT(u->source), OM_ARG_INT64(u->verdict),
					OM_ARG_INT64(u->added), OM_ARG_INT64(u->expires),
					OM_ARG_END)) < 0 ? -1 : 0;
}

static int om_pgsql_url_remove(struct om_store *store, enum om_url_kind kind,
			       const char *key, const char *source, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), source != NULL ? OM_PG_URL_DEL :
					OM_PG_URL_DEL_ANY, "remove a URL entry", error_r,
					OM_ARG_INT64(kind), OM_ARG_TEXT(key),
					OM_ARG_TEXT(source), OM_ARG_END));
}

static long om_pgsql_urls_drop_source(struct om_store *store, const char *source,
				      char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_URL_DROP_SOURCE,
					"remove a feed's URL entries", error_r,
					OM_ARG_TEXT(source), OM_ARG_END));
}

static long om_pgsql_urls_count(struct om_store *store, const char *source,
				char **error_r)
{
	long long n;

	if (om_pg_number(om_pg_bind(om_pg(store), source != NULL ? OM_PG_URL_COUNT :
				    OM_PG_URL_COUNT_ALL, "count URL entries", error_r,
				    OM_ARG_TEXT(source), OM_ARG_END), &n) < 0)
		return -1;
	return (long)n;
}

static long om_pgsql_urls_each(struct om_store *store, const char *source,
			       om_store_url_cb *cb, void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.url = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), source != NULL ? OM_PG_URL_EACH :
				     OM_PG_URL_EACH_ALL, "read URL entries", error_r,
				     OM_ARG_TEXT(source), OM_ARG_END), om_pg_url_row, &r);
}

static void om_pg_url_source_row(const PGresult *res, int row,
				 const struct om_pg_reader *r)
{
	r->cb.url_source(r->context, PQgetvalue(res, row, 0),
			 (long)om_pg_int(res, row, 1));
}

static int om_pgsql_urls_sources(struct om_store *store, om_store_url_source_cb *cb,
				 void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.url_source = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_URL_SOURCES,
					  "read URL sources", error_r, OM_ARG_END),
			       om_pg_url_source_row, &r);
}

static int om_pgsql_url_click(struct om_store *store, const char *mailbox,
			      const char *host, enum om_url_verdict verdict,
			      long long at, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_URL_CLICK_ADD,
					"record a click", error_r, OM_ARG_TEXT(mailbox),
					OM_ARG_TEXT(host), OM_ARG_INT64((long long)verdict),
					OM_ARG_INT64(at), OM_ARG_END)) < 0 ? -1 : 0;
}

static long om_pgsql_url_clicks_expire(struct om_store *store, long long before,
				       char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_URL_CLICKS_EXPIRE,
					"expire clicks", error_r, OM_ARG_INT64(before),
					OM_ARG_END));
}

static long om_pgsql_url_clicks_count(struct om_store *store, const char *mailbox,
				      char **error_r)
{
	long long n;

	if (om_pg_number(om_pg_bind(om_pg(store), OM_PG_URL_CLICKS_COUNT, "count clicks",
				    error_r, OM_ARG_TEXT(mailbox), OM_ARG_END), &n) < 0)
		return -1;
	return (long)n;
}

/* ---- the history of subscription states ---- */

static void om_pg_sub_change_row(const PGresult *res, int row,
				 const struct om_pg_reader *r)
{
	struct om_store_sub_change c;

	memset(&c, 0, sizeof(c));
	om_pg_read(res, row, OM_COL_TEXT(&c.mailbox), OM_COL_TEXT(&c.feature),
		   OM_COL_TEXT(&c.state), OM_COL_INT64(&c.at), OM_COL_END);
	r->cb.sub_change(r->context, &c);
}

static long om_pgsql_sub_history(struct om_store *store, long long since,
				 long long until, om_store_sub_change_cb *cb,
				 void *context, char **error_r)
{
	struct om_pg_reader r = { .cb.sub_change = cb, .context = context };

	return om_pg_each(om_pg_bind(om_pg(store), OM_PG_SUB_HISTORY,
				     "read subscription history", error_r,
				     OM_ARG_INT64(since), OM_ARG_INT64(until), OM_ARG_END),
			  om_pg_sub_change_row, &r);
}

/* ---- the message trace's searches, the monthly report's counts ---- */

/* "" is "any": NULL, which the statement's "$N IS NULL" reads so. */
static const char *om_pg_any(const char *text)
{
	return text != NULL && *text != '\0' ? text : NULL;
}

static int om_pgsql_trace_find(struct om_store *store, const char *domain,
			       const struct om_trace_query *q, long long limit,
			       void (*cb)(void *context, const char *message_id,
					  const char *queue_id, long long lone),
			       void *context, char **error_r)
{
	enum om_pg_stmt id = OM_PG_TRACE_FIND_DOMAIN;
	PGresult *res;
	int i, n;

	if (om_pg_any(q->message_id) != NULL)
		id = OM_PG_TRACE_FIND_MID;
	else if (om_pg_any(q->recipient) != NULL)
		id = OM_PG_TRACE_FIND_RCPT;
	else if (om_pg_any(q->sender) != NULL)
		id = OM_PG_TRACE_FIND_SENDER;
	res = om_pg_bind(om_pg(store), id, "search events", error_r, OM_ARG_TEXT(domain),
			 OM_ARG_INT64(q->since), OM_ARG_INT64(q->until),
			 OM_ARG_TEXT(om_pg_any(q->sender)),
			 OM_ARG_TEXT(om_pg_any(q->recipient)),
			 OM_ARG_TEXT(om_pg_any(q->subject)),
			 OM_ARG_TEXT(om_pg_any(q->message_id)), OM_ARG_INT64(limit),
			 OM_ARG_END);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		cb(context, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		   om_pg_int(res, i, 2));
	PQclear(res);
	return n;
}

static int om_pgsql_trace_rows(struct om_store *store, const char *domain,
			       enum om_trace_by by, const char *key, long long row,
			       long long limit, om_store_trace_cb *cb, void *context,
			       char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	struct om_store_event ev;
	long long direction;
	PGresult *res;
	int i, n;

	switch (by) {
	case OM_TRACE_BY_MESSAGE_ID:
		res = om_pg_bind(s, OM_PG_TRACE_BY_MID, "read events", error_r,
				 OM_ARG_TEXT(domain), OM_ARG_TEXT(key), OM_ARG_INT64(limit),
				 OM_ARG_END);
		break;
	case OM_TRACE_BY_QUEUE_ID:
		res = om_pg_bind(s, OM_PG_TRACE_BY_QID, "read events", error_r,
				 OM_ARG_TEXT(domain), OM_ARG_TEXT(key), OM_ARG_INT64(limit),
				 OM_ARG_END);
		break;
	case OM_TRACE_BY_ROW:
	default:
		res = om_pg_bind(s, OM_PG_TRACE_BY_ID, "read events", error_r,
				 OM_ARG_TEXT(domain), OM_ARG_INT64(row), OM_ARG_INT64(limit),
				 OM_ARG_END);
		break;
	}
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		om_pg_read(res, i, OM_COL_INT64(&ev.id), OM_COL_INT64(&ev.at),
			   OM_COL_INT64(&direction), OM_COL_TEXT(&ev.sender),
			   OM_COL_TEXT(&ev.recipient), OM_COL_TEXT(&ev.message_id),
			   OM_COL_TEXT(&ev.subject), OM_COL_TEXT(&ev.queue_id),
			   OM_COL_TEXT(&ev.step), OM_COL_TEXT(&ev.result),
			   OM_COL_TEXT(&ev.detail), OM_COL_INT64(&ev.recipients),
			   OM_COL_END);
		ev.domain = "";
		ev.direction = direction == OM_DIRECTION_IN ? OM_DIRECTION_IN :
			direction == OM_DIRECTION_OUT ? OM_DIRECTION_OUT :
			OM_DIRECTION_NONE;
		cb(context, 0, &ev);
	}
	PQclear(res);
	return n;
}

static int om_pgsql_report_rows(struct om_store *store, enum om_report_query q,
				const char *domain, long long since, long long until,
				const char *step, int direction, long long limit,
				om_report_row_cb *cb, void *context, char **error_r)
{
	enum om_pg_stmt id;
	PGresult *res;
	int i, n;

	switch (q) {
	case OM_REPORT_Q_DAYS:
		id = OM_PG_REPORT_DAYS;
		break;
	case OM_REPORT_Q_VIRUSES:
		id = OM_PG_REPORT_VIRUSES;
		break;
	case OM_REPORT_Q_SPAM_DOMAINS:
		id = OM_PG_REPORT_SPAM_DOMAINS;
		break;
	case OM_REPORT_Q_RESULTS:
	default:
		id = OM_PG_REPORT_RESULTS;
		break;
	}
	res = om_pg_bind(om_pg(store), id, "count events", error_r, OM_ARG_TEXT(domain),
			 OM_ARG_INT64(since), OM_ARG_INT64(until), OM_ARG_TEXT(step),
			 OM_ARG_INT64(direction), OM_ARG_INT64(limit), OM_ARG_END);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		cb(context, om_pg_int(res, i, 0), PQgetvalue(res, i, 1), om_pg_int(res, i, 2));
	PQclear(res);
	return n;
}

/* ---- the encrypted delivery portal ---- */

static int om_pgsql_portal_add(struct om_store *store, const struct om_store_portal *p,
			       char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_PORTAL_ADD,
					"record a portal message", error_r,
					OM_ARG_TEXT(p->id), OM_ARG_TEXT(p->sender),
					OM_ARG_TEXT(p->subject), OM_ARG_TEXT(p->recipients),
					OM_ARG_INT64(p->size), OM_ARG_TEXT(p->sealed),
					OM_ARG_INT64(p->created), OM_ARG_INT64(p->expires),
					OM_ARG_END));
}

static void om_pg_portal_row(const PGresult *res, int row, const struct om_pg_reader *r)
{
	struct om_store_portal p;

	memset(&p, 0, sizeof(p));
	om_pg_read(res, row, OM_COL_TEXT(&p.id), OM_COL_TEXT(&p.sender),
		   OM_COL_TEXT(&p.subject), OM_COL_TEXT(&p.recipients),
		   OM_COL_INT64(&p.size), OM_COL_TEXT(&p.sealed),
		   OM_COL_INT64(&p.created), OM_COL_INT64(&p.expires),
		   OM_COL_INT(&p.revoked), OM_COL_END);
	r->cb.portal(r->context, &p);
}

static int om_pgsql_portal_list(struct om_store *store, enum om_store_portal_which which,
				const char *key, long long due, om_store_portal_cb *cb,
				void *context, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	struct om_pg_reader r = { .cb.portal = cb, .context = context };
	PGresult *res;

	switch (which) {
	case OM_STORE_PORTAL_ONE:
		res = om_pg_bind(s, OM_PG_PORTAL_GET, "read portal messages", error_r,
				 OM_ARG_TEXT(key), OM_ARG_END);
		break;
	case OM_STORE_PORTAL_SENDER:
		res = om_pg_bind(s, OM_PG_PORTAL_BY_SENDER, "read portal messages",
				 error_r, OM_ARG_TEXT(key), OM_ARG_END);
		break;
	default:
		res = om_pg_bind(s, OM_PG_PORTAL_DUE, "read portal messages", error_r,
				 OM_ARG_INT64(due), OM_ARG_END);
		break;
	}
	return (int)om_pg_each(res, om_pg_portal_row, &r);
}

static int om_pgsql_portal_change(struct om_store *store, const char *id,
				  long long expires, int revoke, char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	int n = revoke ?
		om_pg_changed(om_pg_bind(s, OM_PG_PORTAL_REVOKE, "change a portal message",
					 error_r, OM_ARG_TEXT(id), OM_ARG_END)) :
		om_pg_changed(om_pg_bind(s, OM_PG_PORTAL_EXPIRES, "change a portal message",
					 error_r, OM_ARG_TEXT(id), OM_ARG_INT64(expires),
					 OM_ARG_END));

	return n < 0 ? -1 : n > 0;
}

/* The message, its views and codes, in one transaction. */
static int om_pgsql_portal_delete(struct om_store *store, const char *id,
				  char **error_r)
{
	static const enum om_pg_stmt order[] = {
		OM_PG_PORTAL_VIEWS_DELETE, OM_PG_PORTAL_CODES_DELETE, OM_PG_PORTAL_DELETE,
	};
	size_t i;
	int changed = 0;

	if (om_pgsql_begin(store, 1, error_r) < 0)
		return -1;
	for (i = 0; i < OM_N_ELEMENTS(order); i++) {
		changed = om_pg_changed(om_pg_bind(om_pg(store), order[i],
						   "forget a portal message", error_r,
						   OM_ARG_TEXT(id), OM_ARG_END));
		if (changed < 0) {
			om_pgsql_rollback(store);
			return -1;
		}
	}
	if (om_pgsql_commit(store, error_r) < 0) {
		om_pgsql_rollback(store);
		return -1;
	}
	return changed > 0;
}

static int om_pgsql_portal_view_add(struct om_store *store, const char *id,
				    const char *recipient, const char *what, long long at,
				    char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_PORTAL_VIEW_ADD,
					"record a portal view", error_r, OM_ARG_TEXT(id),
					OM_ARG_TEXT(recipient), OM_ARG_TEXT(what),
					OM_ARG_INT64(at), OM_ARG_END));
}

static void om_pg_portal_view_row(const PGresult *res, int row,
				  const struct om_pg_reader *r)
{
	r->cb.portal_view(r->context, PQgetvalue(res, row, 1), PQgetvalue(res, row, 2),
			  om_pg_int(res, row, 3));
}

static int om_pgsql_portal_views(struct om_store *store, const char *id,
				 om_store_portal_view_cb *cb, void *context,
				 char **error_r)
{
	struct om_pg_reader r = { .cb.portal_view = cb, .context = context };

	return (int)om_pg_each(om_pg_bind(om_pg(store), OM_PG_PORTAL_VIEWS,
					  "read portal views", error_r, OM_ARG_TEXT(id),
					  OM_ARG_END), om_pg_portal_view_row, &r);
}

static int om_pgsql_portal_code_set(struct om_store *store, const char *id,
				    const char *recipient, const char *code,
				    long long expires, int max_tries, char **error_r)
{
	return om_pg_changed(om_pg_bind(om_pg(store), OM_PG_PORTAL_CODE_SET,
					"record a portal code", error_r, OM_ARG_TEXT(id),
					OM_ARG_TEXT(recipient), OM_ARG_TEXT(code),
					OM_ARG_INT64(expires), OM_ARG_INT64(max_tries),
					OM_ARG_END));
}

/* Inside the write transaction it takes: reads the code's row, compares,
   counts a wrong answer (the code wiped at the limit). */
static int om_pgsql_portal_code_check(struct om_store *store, const char *id,
				      const char *recipient, const char *code,
				      long long now, int max_tries, int *tries_r,
				      char **error_r)
{
	struct om_store_pgsql *s = om_pg(store);
	long long expires = 0, tries = 0;
	struct om_store_code_row row;
	struct om_store_code_step step;
	const char *stored = "";
	char *kept = NULL;
	PGresult *res;
	int found;

	if (om_pgsql_begin(store, 1, error_r) < 0)
		return -1;
	res = om_pg_bind(s, OM_PG_PORTAL_CODE_GET, "read a portal code", error_r,
			 OM_ARG_TEXT(id), OM_ARG_TEXT(recipient), OM_ARG_END);
	if (res == NULL)
		goto fail;
	found = PQntuples(res) > 0;
	if (found) {
		om_pg_read(res, 0, OM_COL_TEXT(&stored), OM_COL_INT64(&expires),
			   OM_COL_INT64(&tries), OM_COL_END);
		kept = om_strdup(stored);
	}
	PQclear(res);
	row.found = found;
	row.code = found ? kept : "";
	row.expires = expires;
	row.tries = tries;
	om_store_code_decide(&row, code, now, max_tries, &step);
	if (step.write &&
	    om_pg_changed(om_pg_bind(s, OM_PG_PORTAL_CODE_TRIES, "record a portal code's use",
				     error_r, OM_ARG_TEXT(id), OM_ARG_TEXT(recipient),
				     OM_ARG_INT64(step.tries), OM_ARG_INT64(step.wipe),
				     OM_ARG_END)) < 0)
		goto fail;
	*tries_r = (int)step.tries;
	free(kept);
	if (om_pgsql_commit(store, error_r) < 0) {
		om_pgsql_rollback(store);
		return -1;
	}
	return step.result;
fail:
	free(kept);
	om_pgsql_rollback(store);
	return -1;
}


const struct om_store_backend om_store_backend_pgsql = {
	.name = "postgresql",
	.open = om_pgsql_open,
	.close = om_pgsql_close,
	.schema_version = om_pgsql_schema_version,
	.begin = om_pgsql_begin,
	.commit = om_pgsql_commit,
	.rollback = om_pgsql_rollback,
	.row_set = om_pgsql_row_set,
	.row_get = om_pgsql_row_get,
	.row_delete = om_pgsql_row_delete,
	.row_list = om_pgsql_row_list,
	.list_put = om_pgsql_list_put,
	.list_remove = om_pgsql_list_remove,
	.list_count = om_pgsql_list_count,
	.list_import = om_pgsql_list_import,
	.list_has = om_pgsql_list_has,
	.list_each = om_pgsql_list_each,
	.rate_add = om_pgsql_rate_add,
	.rates_expire = om_pgsql_rates_expire,
	.rates_each = om_pgsql_rates_each,
	.spam_totals = om_pgsql_spam_totals,
	.spam_tokens = om_pgsql_spam_tokens,
	.spam_add = om_pgsql_spam_add,
	.spam_prune = om_pgsql_spam_prune,
	.revision = om_pgsql_revision,
	.changes = om_pgsql_changes,
	.data_version = om_pgsql_data_version,
	.change_fd = om_pgsql_change_fd,
	.answer_timeout = om_pgsql_answer_timeout,
	.secret = om_pgsql_secret,
	.quarantine_add = om_pgsql_quarantine_add,
	.quarantine_get = om_pgsql_quarantine_get,
	.quarantine_each = om_pgsql_quarantine_each,
	.quarantine_delete = om_pgsql_quarantine_delete,
	.quarantine_expire = om_pgsql_quarantine_expire,
	.digest_claim = om_pgsql_digest_claim,
	.digest_items = om_pgsql_digest_items,
	.digest_sent = om_pgsql_digest_sent,
	.digest_pending = om_pgsql_digest_pending,
	.digest_last = om_pgsql_digest_last,
	.digest_sent_count = om_pgsql_digest_sent_count,
	.digest_due = om_pgsql_digest_due,
	.correspondent_put = om_pgsql_correspondent_put,
	.correspondent_known = om_pgsql_correspondent_known,
	.correspondents_list = om_pgsql_correspondents_list,
	.nonce_use = om_pgsql_nonce_use,
	.outbound_claim = om_pgsql_outbound_claim,
	.outbound_finish = om_pgsql_outbound_finish,
	.outbound_expire = om_pgsql_outbound_expire,
	.hold_add = om_pgsql_hold_add,
	.hold_list = om_pgsql_hold_list,
	.hold_move = om_pgsql_hold_move,
	.hold_ask = om_pgsql_hold_ask,
	.hold_set = om_pgsql_hold_set,
	.hold_notified = om_pgsql_hold_notified,
	.hold_expire = om_pgsql_hold_expire,
	.zip_add = om_pgsql_zip_add,
	.zip_list = om_pgsql_zip_list,
	.zip_move = om_pgsql_zip_move,
	.zip_set = om_pgsql_zip_set,
	.zip_expire = om_pgsql_zip_expire,
	.history_put = om_pgsql_history_put,
	.history_expire = om_pgsql_history_expire,
	.history_peaks = om_pgsql_history_peaks,
	.history_rows = om_pgsql_history_rows,
	.brake_trip = om_pgsql_brake_trip,
	.brake_list = om_pgsql_brake_list,
	.brake_lift = om_pgsql_brake_lift,
	.brake_alert = om_pgsql_brake_alert,
	.url_find = om_pgsql_url_find,
	.url_put = om_pgsql_url_put,
	.url_remove = om_pgsql_url_remove,
	.urls_drop_source = om_pgsql_urls_drop_source,
	.urls_count = om_pgsql_urls_count,
	.urls_each = om_pgsql_urls_each,
	.urls_sources = om_pgsql_urls_sources,
	.url_click = om_pgsql_url_click,
	.url_clicks_expire = om_pgsql_url_clicks_expire,
	.url_clicks_count = om_pgsql_url_clicks_count,
	.isolated_add = om_pgsql_isolated_add,
	.isolated_list = om_pgsql_isolated_list,
	.isolated_delete = om_pgsql_isolated_delete,
	.audit_shift = om_pgsql_audit_shift,
	.audit_insert = om_pgsql_audit_insert,
	.audit_delete = om_pgsql_audit_delete,
	.audit_last = om_pgsql_audit_last,
	.audit_list = om_pgsql_audit_list,
	.sandbox_get = om_pgsql_sandbox_get,
	.sandbox_put = om_pgsql_sandbox_put,
	.portal_add = om_pgsql_portal_add,
	.portal_list = om_pgsql_portal_list,
	.portal_change = om_pgsql_portal_change,
	.portal_delete = om_pgsql_portal_delete,
	.portal_view_add = om_pgsql_portal_view_add,
	.portal_views = om_pgsql_portal_views,
	.portal_code_set = om_pgsql_portal_code_set,
	.portal_code_check = om_pgsql_portal_code_check,
	.group_insert = om_pgsql_group_insert,
	.group_remove = om_pgsql_group_remove,
	.group_list = om_pgsql_group_list,
	.group_members = om_pgsql_group_members,
	.scope_delete = om_pgsql_scope_delete,
	.sub_history = om_pgsql_sub_history,
	.sub_history_put = om_pgsql_sub_history_put,
	.admin_put = om_pgsql_admin_put,
	.admin_delete = om_pgsql_admin_delete,
	.admin_count = om_pgsql_admin_count,
	.admin_list = om_pgsql_admin_list,
	.change_add = om_pgsql_change_add,
	.change_list = om_pgsql_change_list,
	.event_add = om_pgsql_event_add,
	.events_expire = om_pgsql_events_expire,
	.trace_find = om_pgsql_trace_find,
	.trace_rows = om_pgsql_trace_rows,
	.report_rows = om_pgsql_report_rows,
	.report_claim = om_pgsql_report_claim,
};
