/* store-private.h - the seam between the store's dispatcher (store.c) and
 * its backends (store-sqlite.c; PostgreSQL for sites with many mail hosts is
 * to come), as Dovecot's quota backends and OpenSMTPD's queue backends are
 * built: a table of functions per backend, and a handle whose first member
 * is the common part.
 *
 * Only store.c and the backends include this.  store.c keeps what every
 * backend shares (argument checks, transactions around several rows, the
 * list limits, this handle's own write count); a backend keeps its
 * connection, its schema and every statement of its query language, and
 * nothing else of the project knows them.
 *
 * Conventions of every function below: 0 (or a count) for success, -1 with
 * *error_r allocated for an error; lookups return 1 found, 0 not found.
 * Strings handed to callbacks live until the callback returns.
 */
#ifndef OM_STORE_PRIVATE_H
#define OM_STORE_PRIVATE_H

#include "store/store.h"

/* The part of a handle every backend has; a backend's own handle starts
   with it (struct om_store_sqlite { struct om_store store; ... }). */
struct om_store {
	const struct om_store_backend *backend;
	long long own_writes;	/* this handle's commits, for the change counter */
};

/* A table of key -> name -> value rows: the two tables of settings. */
enum om_store_table {
	OM_STORE_SUBSCRIPTIONS,		/* mailbox, feature, state */
	OM_STORE_DOMAIN_SETTINGS,	/* domain (or mailbox, or "*"), name, value */
};

/* The report's grouped counts (report_rows): per local day (1..31) and
   scan result; by result of a step (direction 0: any); inbound virus
   names; inbound spam's sender domains. */
enum om_report_query {
	OM_REPORT_Q_DAYS, OM_REPORT_Q_RESULTS, OM_REPORT_Q_VIRUSES,
	OM_REPORT_Q_SPAM_DOMAINS
};
typedef void om_report_row_cb(void *context, long long day, const char *key,
			      long long count);

/* How trace_rows finds a message's events. */
enum om_trace_by {
	OM_TRACE_BY_MESSAGE_ID,
	OM_TRACE_BY_QUEUE_ID,
	OM_TRACE_BY_ROW,
};

struct om_store_backend {
	/* the prefix of store_path that chooses it ("sqlite:/path") */
	const char *name;

	/* Opens location (store_path without the prefix), creating or
	   migrating the schema when flags has OM_STORE_CREATE, else refusing
	   a schema of another version.  Allocates the handle. */
	int (*open)(const char *location, int flags, long busy_timeout_ms,
		    struct om_store **store_r, char **error_r);
	void (*close)(struct om_store *store);
	int (*schema_version)(struct om_store *store);

	/* A transaction around several calls below (write: one writer at a
	   time, taken at once); rollback reports nothing. */
	int (*begin)(struct om_store *store, int write, char **error_r);
	int (*commit)(struct om_store *store, char **error_r);
	void (*rollback)(struct om_store *store);

	/* Settings tables.  list: key NULL for every row, ordered by key and
	   name; returns the row count. */
	int (*row_set)(struct om_store *store, enum om_store_table table,
		       const char *key, const char *name, const char *value,
		       char **error_r);
	int (*row_get)(struct om_store *store, enum om_store_table table,
		       const char *key, const char *name, char **value_r,
		       char **error_r);
	int (*row_delete)(struct om_store *store, enum om_store_table table,
			  const char *key, const char *name, char **error_r);
	int (*row_list)(struct om_store *store, enum om_store_table table,
			const char *key, om_store_row_cb *cb, void *context,
			char **error_r);

	/* Lists: put adds (or refreshes) an entry; remove returns 1 removed,
	   0 absent; count the entries of scope's kind list; each (scope NULL:
	   every scope) ordered by scope, kind, entry, returns the count. */
	int (*list_put)(struct om_store *store, const char *scope,
			const char *kind, const char *entry, char **error_r);
	int (*list_remove)(struct om_store *store, const char *scope,
			   const char *kind, const char *entry, char **error_r);
	long (*list_count)(struct om_store *store, const char *scope,
			   const char *kind, char **error_r);
	/* Optional (NULL: the dispatcher puts an import's rows one by one):
	   puts rows[0..count) (arguments checked) in the open transaction,
	   in few statements.  A limited row whose entry is new to its list
	   may not take the list over max_entries (> 0); such a row stops it:
	   1 with *over_r its index and *before_r its list's count before it
	   (what is written then is rolled back by the caller); 0 or -1. */
	int (*list_import)(struct om_store *store,
			   const struct om_store_list_row *rows, size_t count,
			   long max_entries, size_t *over_r, long *before_r,
			   char **error_r);
	int (*list_has)(struct om_store *store, const char *scope,
			const char *kind, const char *entry, char **error_r);
	int (*list_each)(struct om_store *store, const char *scope,
			 om_store_row_cb *cb, void *context, char **error_r);

	/* Rate counters: add one increment (om_store_rates_merge says how)
	   and give the counter as stored now to cb (returns the rows, 1),
	   drop those of windows started before expire_before, call cb for
	   each (returns the count). */
	int (*rate_add)(struct om_store *store, const struct om_store_rate *increment,
			om_store_rate_cb *cb, void *context, char **error_r);
	int (*rates_expire)(struct om_store *store, long long expire_before,
			    char **error_r);
	int (*rates_each)(struct om_store *store, om_store_rate_cb *cb,
			  void *context, char **error_r);

	/* Classifier: totals (nspam, nham; revision untouched), every token,
	   adding changes to tokens and totals, and forgetting rare tokens
	   (which must also move the "spam" revision). */
	int (*spam_totals)(struct om_store *store,
			   struct om_store_spam_state *state_r, char **error_r);
	int (*spam_tokens)(struct om_store *store, om_store_token_cb *cb,
			   void *context, char **error_r);
	int (*spam_add)(struct om_store *store,
			const struct om_store_spam_token *rows, size_t count,
			long dspam, long dham, char **error_r);
	int (*spam_prune)(struct om_store *store, long max_count,
			  long *removed_r, long *left_r, char **error_r);

	/* Change tracking (see store.h): a revision by name, the scopes
	   changed after a "config" revision (ordered by change, at most
	   limit; returns the count), and a counter that moves when another
	   handle commits. */
	int (*revision)(struct om_store *store, const char *name,
			long long *revision_r, char **error_r);
	int (*changes)(struct om_store *store, long long since, size_t limit,
		       om_store_scope_cb *cb, void *context, char **error_r);
	long long (*data_version)(struct om_store *store);
	/* the descriptor a change notification arrives on, or -1 (NULL: the
	   backend has none) */
	int (*change_fd)(struct om_store *store);
	/* the silence a statement's answer may keep from now on (seconds),
	   returning the one before (NULL: the backend waits as long as its
	   reads take; om_store_answer_timeout) */
	int (*answer_timeout)(struct om_store *store, int seconds);

	int (*secret)(struct om_store *store, const char *name,
		      unsigned char *value, size_t len, char **error_r);

	/* Quarantined mail, digests, correspondents, nonces (store.h says
	   what each means).  delete and expire return the rows removed;
	   digest_claim, correspondent_put and nonce_use run inside a write
	   transaction the dispatcher holds. */
	int (*quarantine_add)(struct om_store *store,
			      const struct om_store_quarantined *q,
			      char **error_r);
	int (*quarantine_get)(struct om_store *store, const char *mailbox,
			      const char *id, om_store_quarantined_cb *cb,
			      void *context, char **error_r);
	int (*quarantine_each)(struct om_store *store, const char *mailbox,
			       om_store_quarantined_cb *cb, void *context,
			       char **error_r);
	int (*quarantine_delete)(struct om_store *store, const char *mailbox,
				 const char *id, char **error_r);
	int (*quarantine_expire)(struct om_store *store, const char *mailbox,
				 long long before, char **error_r);
	int (*digest_claim)(struct om_store *store, const char *mailbox,
			    long long now, long long *digest_r, char **error_r);
	int (*digest_items)(struct om_store *store, long long digest,
			    om_store_quarantined_cb *cb, void *context,
			    char **error_r);
	int (*digest_sent)(struct om_store *store, long long digest,
			   long long sent, char **error_r);
	int (*digest_pending)(struct om_store *store, long long before,
			      om_store_digest_cb *cb, void *context,
			      char **error_r);
	int (*digest_last)(struct om_store *store, const char *mailbox,
			   long long *created_r, char **error_r);
	int (*digest_sent_count)(struct om_store *store, long long *count_r,
				 char **error_r);
	int (*digest_due)(struct om_store *store, om_store_unlisted_cb *cb,
			  void *context, char **error_r);
	int (*correspondent_put)(struct om_store *store,
				 const struct om_store_correspondent *c,
				 char **error_r);
	int (*correspondent_known)(struct om_store *store, const char *mailbox,
				   const char *address, char **error_r);
	long (*correspondents_list)(struct om_store *store, const char *mailbox,
				    long max, om_store_address_cb *cb, void *context,
				    char **error_r);
	int (*nonce_use)(struct om_store *store, const char *nonce,
			 long long expires, long long now, char **error_r);

	/* Outbound mail (store.h): claim runs inside a write transaction
	   the dispatcher holds; expire returns the rows removed. */
	int (*outbound_claim)(struct om_store *store,
			      const struct om_store_outbound *m,
			      enum om_outbound_state *state_r, char **reply_r,
			      char **error_r);
	int (*outbound_finish)(struct om_store *store, const char *queue_id,
			       const char *hash, enum om_outbound_state state,
			       const char *reply, long long now, char **error_r);
	int (*outbound_expire)(struct om_store *store, long long before,
			       char **error_r);

	/* Held outbound mail (store.h): move runs inside a write
	   transaction the dispatcher holds; add, move, set, notified and
	   expire return the rows changed, list the rows seen. */
	int (*hold_add)(struct om_store *store, const struct om_store_hold *h,
			char **error_r);
	int (*hold_list)(struct om_store *store, enum om_hold_query query,
			 const char *text, long long number,
			 om_store_hold_cb *cb, void *context, char **error_r);
	int (*hold_move)(struct om_store *store, const char *id,
			 enum om_hold_state from1, enum om_hold_state from2,
			 enum om_hold_state to, long long now, char **error_r);
	/* as move, recording by and now as the request (asked_by, at) */
	int (*hold_ask)(struct om_store *store, const char *id,
			enum om_hold_state from1, enum om_hold_state from2,
			enum om_hold_state to, const char *by, long long now,
			char **error_r);
	int (*hold_set)(struct om_store *store, const char *id,
			enum om_hold_state state, const char *result,
			long long now, char **error_r);
	int (*hold_notified)(struct om_store *store, const char *id,
			     char **error_r);
	int (*hold_expire)(struct om_store *store, long long before,
			   char **error_r);

	/* outbound-zip's passwords (store.h): move runs inside a write
	   transaction the dispatcher holds; list reads one id (id not NULL)
	   or the rows in state; add, move, set and expire return the rows
	   changed. */
	int (*zip_add)(struct om_store *store, const struct om_store_zip *z,
		       char **error_r);
	int (*zip_list)(struct om_store *store, const char *id, int state,
			om_store_zip_cb *cb, void *context, char **error_r);
	int (*zip_move)(struct om_store *store, const char *id,
			enum om_zip_state from, enum om_zip_state to,
			long long now, char **error_r);
	int (*zip_set)(struct om_store *store, const char *id,
		       enum om_zip_state state, long long sent,
		       const char *result, long long now, char **error_r);
	int (*zip_expire)(struct om_store *store, long long now, char **error_r);

	/* The brake (store.h): history_put and history_expire run inside a
	   write transaction the dispatcher holds; trip, lift and alert
	   return the rows changed, the readers the rows seen. */
	int (*history_put)(struct om_store *store, const struct om_store_history *h,
			   char **error_r);
	int (*history_expire)(struct om_store *store, long long before,
			      char **error_r);
	int (*history_peaks)(struct om_store *store, long long since,
			     long long before, om_store_history_cb *cb,
			     void *context, char **error_r);
	int (*history_rows)(struct om_store *store, const char *login,
			    long long hour, om_store_history_cb *cb,
			    void *context, char **error_r);
	int (*brake_trip)(struct om_store *store, const struct om_store_brake *b,
			  long long now, char **error_r);
	int (*brake_list)(struct om_store *store, const char *login,
			  om_store_brake_cb *cb, void *context, char **error_r);
	int (*brake_lift)(struct om_store *store, const char *login,
			  long long now, char **error_r);
	int (*brake_alert)(struct om_store *store, const char *login, int claim,
			   char **error_r);

	/* The URL reputation store (store.h): find calls cb with the entry
	   of kind among keys[0..count) that decides (block first, then the
	   longest key): 1, 0 none, -1; put adds or updates; remove (source
	   NULL: every source) and drop_source return the rows removed; each
	   and count with source NULL: all. */
	int (*url_find)(struct om_store *store, enum om_url_kind kind,
			const char *const *keys, size_t count, long long now,
			om_store_url_cb *cb, void *context, char **error_r);
	int (*url_put)(struct om_store *store, const struct om_store_url *u,
		       char **error_r);
	int (*url_remove)(struct om_store *store, enum om_url_kind kind,
			  const char *key, const char *source, char **error_r);
	long (*urls_drop_source)(struct om_store *store, const char *source,
				 char **error_r);
	long (*urls_count)(struct om_store *store, const char *source,
			   char **error_r);
	long (*urls_each)(struct om_store *store, const char *source,
			  om_store_url_cb *cb, void *context, char **error_r);
	int (*urls_sources)(struct om_store *store, om_store_url_source_cb *cb,
			    void *context, char **error_r);
	/* clicks through the gate: one recorded, those before a time
	   removed (the count), a mailbox's counted */
	int (*url_click)(struct om_store *store, const char *mailbox,
			 const char *host, enum om_url_verdict verdict,
			 long long at, char **error_r);
	long (*url_clicks_expire)(struct om_store *store, long long before,
				  char **error_r);
	long (*url_clicks_count)(struct om_store *store, const char *mailbox,
				 char **error_r);
	/* isolated attachments (store.h): list reads one id (id not NULL) or
	   the rows expired at due; add and delete return the rows changed */
	int (*isolated_add)(struct om_store *store, const struct om_store_isolated *f,
			    char **error_r);
	int (*isolated_list)(struct om_store *store, const char *id, long long due,
			     om_store_isolated_cb *cb, void *context, char **error_r);
	int (*isolated_delete)(struct om_store *store, const char *id, char **error_r);
	/* audit rules, inside the caller's transaction: make room at a
	   position (shift 1) or close the gap after one (shift -1), insert,
	   delete, the last position, each rule in order */
	int (*audit_shift)(struct om_store *store, const char *domain,
			   long long from, int shift, char **error_r);
	int (*audit_insert)(struct om_store *store, const char *domain,
			    long long position, const char *rule, long long now,
			    char **error_r);
	int (*audit_delete)(struct om_store *store, const char *domain,
			    long long position, char **error_r);
	long long (*audit_last)(struct om_store *store, const char *domain,
				char **error_r);
	long (*audit_list)(struct om_store *store, const char *domain,
			   om_store_audit_cb *cb, void *context, char **error_r);
	/* the sandbox's verdicts by file hash (store.h) */
	int (*sandbox_get)(struct om_store *store, const char *hash,
			   om_store_sandbox_cb *cb, void *context, char **error_r);
	int (*sandbox_put)(struct om_store *store, const char *hash, const char *verdict,
			   long long first_seen, long long now, char **error_r);
	/* the encrypted delivery portal (store.h) */
	int (*portal_add)(struct om_store *store, const struct om_store_portal *p,
			  char **error_r);
	int (*portal_list)(struct om_store *store, enum om_store_portal_which which,
			   const char *key, long long due, om_store_portal_cb *cb,
			   void *context, char **error_r);
	int (*portal_change)(struct om_store *store, const char *id, long long expires,
			     int revoke, char **error_r);
	int (*portal_delete)(struct om_store *store, const char *id, char **error_r);
	int (*portal_view_add)(struct om_store *store, const char *id,
			       const char *recipient, const char *what, long long at,
			       char **error_r);
	int (*portal_views)(struct om_store *store, const char *id,
			    om_store_portal_view_cb *cb, void *context, char **error_r);
	/* 1 set, 0 not (the link is locked: max_tries wrong answers) */
	int (*portal_code_set)(struct om_store *store, const char *id,
			       const char *recipient, const char *code,
			       long long expires, int max_tries, char **error_r);
	int (*portal_code_check)(struct om_store *store, const char *id,
				 const char *recipient, const char *code, long long now,
				 int max_tries, int *tries_r, char **error_r);
	/* policy groups (store.h): insert and remove return the rows
	   changed; scope_delete removes every domain setting under a scope */
	int (*group_insert)(struct om_store *store, const char *domain,
			    const char *name, long long now, char **error_r);
	int (*group_remove)(struct om_store *store, const char *domain,
			    const char *name, char **error_r);
	long (*group_list)(struct om_store *store, const char *domain,
			   om_store_group_cb *cb, void *context, char **error_r);
	long (*group_members)(struct om_store *store, const char *domain,
			      const char *name, om_store_group_cb *cb, void *context,
			      char **error_r);
	int (*scope_delete)(struct om_store *store, const char *scope, char **error_r);
	/* the history of subscription states (store.h) */
	long (*sub_history)(struct om_store *store, long long since, long long until,
			    om_store_sub_change_cb *cb, void *context, char **error_r);
	int (*sub_history_put)(struct om_store *store, const struct om_store_sub_change *c,
			       char **error_r);
	/* domain administrators and the change log (store.h), put, delete
	   and count inside the caller's transaction; list by domain (key
	   NULL: all) or (by_address) by address */
	int (*admin_put)(struct om_store *store, const struct om_store_admin *a,
			 char **error_r);
	int (*admin_delete)(struct om_store *store, const char *domain,
			    const char *address, char **error_r);
	long (*admin_count)(struct om_store *store, const char *domain,
			    const char *role, const char *except, char **error_r);
	long (*admin_list)(struct om_store *store, int by_address, const char *key,
			   om_store_admin_cb *cb, void *context, char **error_r);
	int (*change_add)(struct om_store *store, const struct om_store_change *c,
			  char **error_r);
	long (*change_list)(struct om_store *store, const char *domain, long limit,
			    om_store_change_cb *cb, void *context, char **error_r);
	/* the message trace (store-trace.c): one event; those before a
	   time; the messages a query finds (message_id, queue_id, and the
	   row id of one with neither, newest first, at most limit); the
	   events of domain with a Message-ID, a queue id or a row id (by) */
	int (*event_add)(struct om_store *store, const struct om_store_event *ev,
			 char **error_r);
	long (*events_expire)(struct om_store *store, long long before, char **error_r);
	int (*trace_find)(struct om_store *store, const char *domain,
			  const struct om_trace_query *q, long long limit,
			  void (*cb)(void *context, const char *message_id,
				     const char *queue_id, long long lone),
			  void *context, char **error_r);
	int (*trace_rows)(struct om_store *store, const char *domain,
			  enum om_trace_by by, const char *key, long long id,
			  long long limit, om_store_trace_cb *cb, void *context,
			  char **error_r);
	/* the monthly report (store-report.c): grouped counts of domain's
	   events in [since, until) of query q, at most limit rows, largest
	   first; the report's sent marks */
	int (*report_rows)(struct om_store *store, enum om_report_query q,
			   const char *domain, long long since, long long until,
			   const char *step, int direction, long long limit,
			   om_report_row_cb *cb, void *context, char **error_r);
	int (*report_claim)(struct om_store *store, const char *domain,
			    const char *month, const char *recipient, long long at,
			    int claim, char **error_r);
};

/* A portal code's row as a backend read it, and what a check of a code
   makes of it: the same rule for every backend (store.c). */
struct om_store_code_row {
	int found;
	const char *code;	/* its hash; "" once spent or locked */
	long long expires, tries;
};
struct om_store_code_step {
	int result;		/* OM_STORE_CODE_* */
	int write;		/* the row must be written: tries, wipe */
	long long tries;
	int wipe;		/* the code cleared */
};
void om_store_code_decide(const struct om_store_code_row *row, const char *code,
			  long long now, int max_tries, struct om_store_code_step *step_r);

extern const struct om_store_backend om_store_backend_sqlite;
extern const struct om_store_backend om_store_backend_pgsql;

#endif
