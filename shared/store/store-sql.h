/* store-sql.h - SQL text both store backends share (store-sqlite.c and
 * store-pgsql.c include it; nothing else may): a statement written once
 * where the two query languages agree, its backend-specific parts (a
 * function's name, the time now) passed in as macro arguments.  Like
 * the backends, it is the only other place SQL may be
 * (tests/unit/test-layers.py).
 */
#ifndef OM_STORE_SQL_H
#define OM_STORE_SQL_H

/* A migration step (v26) that brings column key of table to the
   spelling store.c's om_store_key gives every key it is handed.  folded
   is the backend's SQL for that spelling of key; others the rest of the
   table's primary key (", kind, entry"), each starting with ", ".  Where
   several spellings of one key are there, the row already in the folded
   spelling stays (it is the one lookups have found), else the newest by
   the column time; the others go. */
#define OM_STORE_SQL_FOLD_KEY(table, key, folded, others, time) \
	"DELETE FROM " table " WHERE (" key others ") IN (SELECT " key others \
	"  FROM (SELECT " key others ", row_number() OVER (PARTITION BY " \
	folded others " ORDER BY " key " = " folded " DESC, " time " DESC, " \
	key " DESC) AS n FROM " table ") AS ranked WHERE n > 1);" \
	"UPDATE " table " SET " key " = " folded " WHERE " key " <> " folded ";"

/* v26's steps on every table whose keys lookups fold, fold(c) being the
   backend's SQL of om_address_key_fold for c and group_fold(c) the same
   for a domain_settings key, which folds a policy group scope's domain
   only; the subscription history is folded along (no duplicates there to
   drop).  The backend keeps the history trigger quiet around the first
   step (a duplicate dropped is not a subscription ended), and where one
   was dropped, the history gets the state that stays as its last row
   (at now, the backend's SQL for the time): the spellings' histories
   merged must end in the state there is. */
#define OM_STORE_SQL_FOLD_SUBSCRIPTIONS(fold) \
	"CREATE TEMP TABLE fold_dupes AS SELECT " fold("mailbox") " AS mailbox," \
	"  feature FROM subscriptions GROUP BY 1, 2 HAVING count(*) > 1;" \
	OM_STORE_SQL_FOLD_KEY("subscriptions", "mailbox", fold("mailbox"), \
			      ", feature", "updated")
#define OM_STORE_SQL_FOLD_REST(fold, group_fold, now) \
	"UPDATE subscription_history SET mailbox = " fold("mailbox") \
	"  WHERE mailbox <> " fold("mailbox") ";" \
	"INSERT INTO subscription_history(mailbox, feature, state, at)" \
	"  SELECT s.mailbox, s.feature, s.state, " now " FROM subscriptions AS s" \
	"  JOIN fold_dupes AS d ON d.mailbox = s.mailbox AND d.feature = s.feature;" \
	"DROP TABLE fold_dupes;" \
	OM_STORE_SQL_FOLD_KEY("domain_settings", "domain", group_fold("domain"), \
			      ", name", "updated") \
	OM_STORE_SQL_FOLD_KEY("list_entries", "scope", fold("scope"), \
			      ", kind, entry", "updated") \
	OM_STORE_SQL_FOLD_KEY("list_entries", "entry", fold("entry"), \
			      ", scope, kind", "updated") \
	OM_STORE_SQL_FOLD_KEY("admins", "domain", fold("domain"), ", address", \
			      "created") \
	OM_STORE_SQL_FOLD_KEY("admins", "address", fold("address"), ", domain", \
			      "created") \
	OM_STORE_SQL_FOLD_KEY("brakes", "login", fold("login"), "", "changed") \
	OM_STORE_SQL_FOLD_KEY("policy_groups", "domain", fold("domain"), ", name", \
			      "created")

#endif
