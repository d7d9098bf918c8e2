/* store.h - omamori's persistent state, in domain terms.
 *
 * Callers speak of subscriptions, domain settings and lists, never of SQL.
 * store.c dispatches each call to a backend (store-private.h): SQLite in
 * store-sqlite.c, which holds every SQL statement of the project; another
 * backend (PostgreSQL for sites with many mail hosts) is added beside it
 * without touching a caller.  A handle is used by one thread at a time; a
 * threaded program opens one per thread.
 */
#ifndef OM_STORE_H
#define OM_STORE_H

#include <stddef.h>

#include "lib/values.h"

struct om_store;

enum om_store_flags {
	OM_STORE_CREATE = 0x01,	/* create the file and schema if missing */
	/* a handle that writes rows in bulk (a trace writer thread): SQLite
	   keeps OM_STORE_BULK_CACHE_KB of its pages rather than its default
	   2 MB, so a batch's index inserts find their pages in memory instead
	   of re-reading them (pread) from the database and its WAL */
	OM_STORE_BULK = 0x02,
};
#define OM_STORE_BULK_CACHE_KB 32768

/* Opens the store named by location, omamori.conf's store_path:
   "BACKEND:WHERE" ("sqlite:/var/lib/omamori/omamori.db"), or a file path,
   which is SQLite's.  OM_STORE_CREATE creates it or migrates its schema;
   without it a schema of another version is refused.  Returns 0, or -1
   with *error_r (allocated). */
int om_store_open(const char *location, int flags, long busy_timeout_ms,
		  struct om_store **store_r, char **error_r);
void om_store_close(struct om_store **store);
/* The schema version of an open store. */
int om_store_schema_version(struct om_store *store);

/* Subscription of a mailbox to a feature (state is "on", "paused" or "off").
   set/delete return 0 or -1; get returns 1 found, 0 not found, -1 error and
   hands back an allocated state. */
int om_store_subscription_set(struct om_store *store, const char *mailbox,
			      const char *feature, const char *state,
			      char **error_r);
int om_store_subscription_get(struct om_store *store, const char *mailbox,
			      const char *feature, char **state_r,
			      char **error_r);
int om_store_subscription_delete(struct om_store *store, const char *mailbox,
				 const char *feature, char **error_r);
typedef void om_store_row_cb(void *context, const char *key,
			     const char *name, const char *value);
/* Calls cb(context, mailbox, feature, state) for each row, ordered; mailbox
   NULL lists all.  Returns the number of rows or -1. */
int om_store_subscription_list(struct om_store *store, const char *mailbox,
			       om_store_row_cb *cb, void *context,
			       char **error_r);

/* Domain settings ("*" is the global level).  Same return conventions. */
int om_store_domain_set(struct om_store *store, const char *domain,
			const char *name, const char *value, char **error_r);
int om_store_domain_get(struct om_store *store, const char *domain,
			const char *name, char **value_r, char **error_r);
int om_store_domain_delete(struct om_store *store, const char *domain,
			   const char *name, char **error_r);
int om_store_domain_list(struct om_store *store, const char *domain,
			 om_store_row_cb *cb, void *context, char **error_r);

/* Allow/block lists.  scope is a mailbox, a domain or "*" (global); kind
   is "allow", "block" or "url-block" (host names); entry an address or "@domain".  add refuses a new
   entry once scope has max_entries of that kind (0: no limit), saying so
   in *error_r, and writes nothing then; an existing entry is not counted
   twice.  delete returns 1 if removed, 0 if absent.  each calls
   cb(context, scope, kind, entry); scope NULL lists every scope. */
int om_store_list_add(struct om_store *store, const char *scope,
		      const char *kind, const char *entry, long max_entries,
		      char **error_r);
/* Adds (add) or removes count entries of scope's kind list in one
   transaction; an addition that would take the list over max_entries
   (0: no limit) is refused whole.  Returns the number of entries added or
   removed, or -1 with *error_r and nothing written. */
int om_store_list_change(struct om_store *store, const char *scope,
			 const char *kind, const char *const *entries,
			 size_t count, int add, long max_entries, char **error_r);
/* 1 if entry is on scope's kind list, 0 if not, -1 on error. */
int om_store_list_has(struct om_store *store, const char *scope,
		      const char *kind, const char *entry, char **error_r);
int om_store_list_delete(struct om_store *store, const char *scope,
			 const char *kind, const char *entry, char **error_r);
int om_store_list_each(struct om_store *store, const char *scope,
		       om_store_row_cb *cb, void *context, char **error_r);

/* Adds many entries in one transaction (all or none).  A row marked
   limited (a mailbox scope) may not take its scope's kind list over
   max_entries (0: no limit); an entry already there is not counted twice.
   Returns 0, or -1 with *error_r and nothing written; *failed_row_r is
   then the index of the row at fault (count when no row is). */
struct om_store_list_row {
	const char *scope;
	const char *kind;
	const char *entry;
	int limited;
};
int om_store_list_import(struct om_store *store,
			 const struct om_store_list_row *rows, size_t count,
			 long max_entries, size_t *failed_row_r, char **error_r);

/* Rate counters of authenticated senders, merged in batches by each
   omamori-policyd (never one write per request), so they survive a
   restart and add up across mail hosts sharing a store. */
struct om_store_rate {
	const char *user;
	long long window_start;
	long long messages;
	long long recipients;
};
typedef void om_store_rate_cb(void *context, const struct om_store_rate *rate);
/* Adds count increments (messages and recipients a host counted since
   its last merge, in the window starting at window_start) to the stored
   counters in one transaction: a counter of the same window grows by
   them, one of an older window is replaced, one of a newer window stays
   (the increments came too late for it); drops counters whose window
   started before expire_before.  After the commit, calls cb with each
   user's counter as now stored (every host's increments).  0 or -1
   (nothing added: the caller keeps its increments for the next try). */
int om_store_rates_merge(struct om_store *store,
			 const struct om_store_rate *increments, size_t count,
			 long long expire_before, om_store_rate_cb *cb,
			 void *context, char **error_r);
/* Calls cb for each saved counter; returns the count or -1. */
int om_store_rates_each(struct om_store *store, om_store_rate_cb *cb,
			void *context, char **error_r);

/* Spam classifier token counts.  spam.c keeps them in memory and saves
   its changes in batches: rows of a save hold changes (deltas), added to
   what is stored, so several learners never overwrite each other. */
struct om_store_spam_token {
	const char *token;
	long spam, ham;
};
struct om_store_spam_state {
	long nspam, nham;	/* messages learned */
	long long revision;	/* bumped by every save */
};
typedef void om_store_token_cb(void *context, const char *token, long spam,
			       long ham);
/* Reads totals, revision and (cb not NULL) every token, consistently.
   0 or -1. */
int om_store_spam_load(struct om_store *store, om_store_token_cb *cb,
		       void *context, struct om_store_spam_state *state_r,
		       char **error_r);
/* Adds the changes in one transaction; the spam revision just before and
   after it tell the caller whether anybody else saved in between.
   0 or -1. */
int om_store_spam_save(struct om_store *store,
		       const struct om_store_spam_token *rows, size_t count,
		       long dspam, long dham, long long *revision_before_r,
		       long long *revision_after_r, char **error_r);

/* Forgets the tokens seen in at most max_count messages (counts of spam
   and ham together), in one transaction that also bumps the spam revision
   so that scand reloads; *removed_r and *left_r count tokens.  0 or -1. */
int om_store_spam_prune(struct om_store *store, long max_count, long *removed_r,
			long *left_r, char **error_r);

/* A revision counter ("config": subscriptions, domain settings, lists;
   "spam": classifier), moved by every change.  0 or -1. */
int om_store_revision(struct om_store *store, const char *name,
		      long long *revision_r, char **error_r);

/* Who changed: every write to a subscription, a domain (or mailbox)
   setting or a list entry records its scope (the mailbox, the domain, or
   "*") with the "config" revision it made.  Calls cb(context, scope) for
   each scope changed after revision since, oldest change first, for at
   most limit + 1 scopes, and returns how many it called (more than limit:
   so much changed that the caller had better reload everything), or -1.
   A cache that re-reads those scopes' rows (om_store_list_each,
   om_store_subscription_list, om_store_domain_list with the scope), and
   remembers the revision read before them, stays exact. */
typedef void om_store_scope_cb(void *context, const char *scope);
int om_store_changes(struct om_store *store, long long since, size_t limit,
		     om_store_scope_cb *cb, void *context, char **error_r);

/* A cheap counter that changes whenever any connection commits a change
   (SQLite's data_version plus this handle's own writes); lets a cache know
   when to refresh. */
long long om_store_change_counter(struct om_store *store);

/* A descriptor that becomes readable when another handle's change may
   have been notified (PostgreSQL's LISTEN/NOTIFY), for an event loop to
   wake on and read om_store_change_counter; -1 when the backend has none
   (SQLite: read the counter on a timer) or the connection is lost.  It can
   change after any call that reconnects: ask again after each counter
   read.  Never read it directly. */
int om_store_change_fd(struct om_store *store);
/* How long a statement's answer may keep silent from now on (seconds; a
   server database that hangs: doc/store.md), returning the limit before
   (0: this backend has none, and seconds changes nothing).  For a read
   the caller can do without (a scan's correspondents), set short around
   it and put back after: a hung server then costs that much. */
int om_store_answer_timeout(struct om_store *store, int seconds);
/* om_store_answer_timeout to at most seconds: a shorter limit already set
   (an operator's answer_timeout) stays.  Returns the limit before, to put
   back with om_store_answer_timeout. */
int om_store_answer_timeout_at_most(struct om_store *store, int seconds);

/* One read transaction around several reads: one consistent view, and
   one lock of the database file instead of one per statement (a caller
   that asks many settings in a row: omamori-submit's route).  Nothing may
   write between begin and end.  0 or -1; end never fails (a commit that
   fails is rolled back: nothing was written). */
int om_store_read_begin(struct om_store *store, char **error_r);
void om_store_read_end(struct om_store *store);

/* A site secret made by the schema (for example "report-key") of exactly
   len bytes into value.  0, or -1 with *error_r. */
int om_store_secret(struct om_store *store, const char *name,
		    unsigned char *value, size_t len, char **error_r);

/* ---- quarantined mail, digests, one-time values (issue 13) ---- */

/* A message the Dovecot plugin saved into a mailbox's Quarantine folder,
   found there again by id: the X-Omamori-Quarantine-Id header the plugin
   puts on it.  Digests and web pages read these rows, so neither opens
   the mailbox; the mail itself only ever moves through Dovecot.  Text is
   UTF-8 (headers decoded), never NULL. */
#define OM_QUARANTINE_ID_LEN 32		/* lower-case hex digits */
struct om_store_quarantined {
	const char *id;
	const char *mailbox;
	long long received;	/* unix time */
	const char *sender;	/* envelope sender, "" for <> */
	const char *from;	/* From: header, decoded */
	const char *subject;	/* Subject: header, decoded */
	const char *score;	/* the spam score scand gave, "" when none */
	const char *reasons;	/* space-separated rule names, or
				   "unscanned:WHY" for mail not scanned whole */
	long long size;		/* bytes */
	long long digest;	/* the digest that listed it, 0: none yet */
	const char *from_address;	/* the From: header's address as
					   Dovecot parsed it, "" when none */
	int admin_only;		/* 1: only the administrator may release it
				   (omamorictl quarantine), not its user */
	const char *message_id;	/* v21: its Message-ID without <>, for the
				   trace; NULL or "" when none */
};
typedef void om_store_quarantined_cb(void *context,
				     const struct om_store_quarantined *q);
/* Records a quarantined message; an id already recorded is left as it is.
   0 or -1. */
int om_store_quarantine_add(struct om_store *store,
			    const struct om_store_quarantined *q, char **error_r);
/* The row of mailbox's message id: 1 (cb called), 0 none, -1 error. */
int om_store_quarantine_get(struct om_store *store, const char *mailbox,
			    const char *id, om_store_quarantined_cb *cb,
			    void *context, char **error_r);
/* mailbox's rows, newest first; the count or -1. */
int om_store_quarantine_each(struct om_store *store, const char *mailbox,
			     om_store_quarantined_cb *cb, void *context,
			     char **error_r);
/* Forgets one row (released, deleted, gone): 1, 0 if absent, -1. */
int om_store_quarantine_delete(struct om_store *store, const char *mailbox,
			       const char *id, char **error_r);
/* Forgets mailbox's rows received before before (retention); the number
   forgotten or -1. */
int om_store_quarantine_expire(struct om_store *store, const char *mailbox,
			       long long before, char **error_r);

/* Digests.  A digest lists the quarantined mail of one mailbox that no
   digest has listed yet.  claim makes it in one write transaction - the
   digest row (pending) and its mark on each row it lists - so two runs at
   once, or a run after a crash, never list a message twice: it returns
   how many rows it took (0: nothing new, no digest made, *digest_r 0) or
   -1.  The digest is sent, then marked sent; one left pending (its run
   died between) is found by om_store_digest_pending and finished by the
   next run. */
struct om_store_digest {
	long long id;
	const char *mailbox;
	long long created;
	long long sent;		/* 0: pending */
};
typedef void om_store_digest_cb(void *context, const struct om_store_digest *d);
int om_store_digest_claim(struct om_store *store, const char *mailbox,
			  long long now, long long *digest_r, char **error_r);
/* The rows digest lists, newest first (rows released or deleted since are
   gone); the count or -1. */
int om_store_digest_items(struct om_store *store, long long digest,
			  om_store_quarantined_cb *cb, void *context,
			  char **error_r);
int om_store_digest_sent(struct om_store *store, long long digest,
			 long long sent, char **error_r);
/* Digests still pending that were made before before; the count or -1. */
int om_store_digest_pending(struct om_store *store, long long before,
			    om_store_digest_cb *cb, void *context,
			    char **error_r);
/* When mailbox's last digest was made (0: never).  0 or -1. */
/* How many digests were ever sent (rows are kept: the count only grows;
   the metrics' omamori_digests_sent_total).  0 or -1. */
int om_store_digest_sent_count(struct om_store *store, long long *count_r,
			       char **error_r);
int om_store_digest_last(struct om_store *store, const char *mailbox,
			 long long *created_r, char **error_r);
/* Mailboxes with quarantined mail no digest has listed: cb gets the
   mailbox, how many such rows, and how many of them came from a sender
   the mailbox has written to (om_store_correspondents_save).  The count
   of mailboxes or -1. */
typedef void om_store_unlisted_cb(void *context, const char *mailbox,
				  long count, long known);
int om_store_digest_due(struct om_store *store, om_store_unlisted_cb *cb,
			void *context, char **error_r);

/* Addresses a mailbox has sent mail to (seen by omamori-policyd for
   authenticated senders, saved in batches): mail from them is what a
   mailbox may want to hear about at once (sign-up confirmations). */
struct om_store_correspondent {
	const char *mailbox;
	const char *address;	/* lower-case */
	long long last;		/* unix time of the last mail */
};
int om_store_correspondents_save(struct om_store *store,
				 const struct om_store_correspondent *rows,
				 size_t count, char **error_r);
/* 1 if mailbox has written to address, 0 if not, -1 error. */
int om_store_correspondent_known(struct om_store *store, const char *mailbox,
				 const char *address, char **error_r);
/* The addresses mailbox has written to, the most recent first, at most
   max: cb(context, address) each (the pointer lives until cb returns).
   The count or -1. */
typedef void om_store_address_cb(void *context, const char *address);
long om_store_correspondents_list(struct om_store *store, const char *mailbox,
				  long max, om_store_address_cb *cb, void *context,
				  char **error_r);

/* Uses the one-time value nonce (a web form's CSRF token), remembered
   until expires: 1 first use, 0 used before (a replay), -1 error.  Values
   past their expiry are forgotten on the way. */
int om_store_nonce_use(struct om_store *store, const char *nonce,
		       long long expires, long long now, char **error_r);

/* ---- outbound mail through omamori-filter (issue 14) ---- */

/* A message Postfix handed omamori-filter, recorded before the filter acts
   on it so that Postfix's retry of a message already sent is answered
   without sending it twice.  The key is Postfix's queue id (XFORWARD IDENT;
   "" when Postfix sent none) and a hash of the envelope and content: a
   queue file delivered in several batches of recipients is several
   messages. */
enum om_outbound_state {
	OM_OUTBOUND_NONE = 0,
	OM_OUTBOUND_PENDING,	/* recorded; not (known to be) sent yet */
	OM_OUTBOUND_SENT,	/* Postfix accepted the re-injected message */
	OM_OUTBOUND_REFUSED,	/* refused for good (reply says why) */
};
struct om_store_outbound {
	const char *queue_id;
	const char *hash;
	const char *sender;	/* envelope sender, "" for <> */
	long recipients;
	long long received;	/* unix time */
};
/* Records m as pending unless it is recorded already, and tells its state:
   pending (new, or an earlier attempt that did not finish), sent, or
   refused with *reply_r (allocated; NULL for the other states).  0 or -1. */
int om_store_outbound_claim(struct om_store *store,
			    const struct om_store_outbound *m,
			    enum om_outbound_state *state_r, char **reply_r,
			    char **error_r);
/* Marks the message sent, or refused with reply ("" allowed).  0 or -1. */
int om_store_outbound_finish(struct om_store *store, const char *queue_id,
			     const char *hash, enum om_outbound_state state,
			     const char *reply, long long now, char **error_r);
/* Forgets messages last changed before before; the number forgotten or
   -1. */
int om_store_outbound_expire(struct om_store *store, long long before,
			     char **error_r);

/* ---- outbound mail held for its sender (outbound-hold, issue 14) ---- */

/* A held copy's life: held (waiting), then sending (one releaser has
   claimed it) and sent, or discarded; at expiry with hold-expiry admin it
   is kept for the administrator, who sends or discards it. */
enum om_hold_state {
	OM_HOLD_NONE = 0,
	OM_HOLD_HELD,
	OM_HOLD_SENDING,
	OM_HOLD_SENT,
	OM_HOLD_DISCARDED,
	OM_HOLD_ADMIN,
	/* (schema v24) asked of the node whose spool has the copy by
	   another node's request: that node claims it (sending, discarded) */
	OM_HOLD_RELEASE_ASKED,
	OM_HOLD_DISCARD_ASKED,
};
#define OM_HOLD_FLAG_8BIT 1	/* BODY=8BITMIME */
#define OM_HOLD_FLAG_SMTPUTF8 2
/* held before its ZIP (for the administrator): outbound-zip is applied
   when it is released, as it would have been when it was sent */
#define OM_HOLD_FLAG_ZIP_AT_RELEASE 4
struct om_store_hold {
	const char *id;		/* omamori-filter's: [0-9A-Za-z-], < 64 bytes */
	const char *mailbox;	/* the sender's mailbox (the envelope sender) */
	const char *sender;	/* envelope sender */
	const char *recipients;	/* the held ones, one per line */
	const char *delivered;	/* those sent at once (internal), one per line */
	const char *subject;	/* decoded, sanitised */
	const char *attachments;	/* "name\tsize\n" per attachment */
	long long size;		/* bytes of the held message */
	int flags;		/* OM_HOLD_FLAG_* */
	long long created, expires;	/* unix time */
	const char *expiry;	/* what expiry does: send, discard, admin */
	enum om_hold_state state;	/* (read only: add makes it held) */
	long long changed;	/* (read only) */
	int notified;		/* (read only) the sender's notice went out */
	const char *result;	/* (read only) "sent as QID", why not... */
	/* why it is held (schema v11): OM_HOLD_KIND_SENDER (outbound-hold:
	   the sender decides), or for the administrator alone
	   OM_HOLD_KIND_SPAM (outbound-spam), OM_HOLD_KIND_BRAKE (the
	   compromised-account brake) and OM_HOLD_KIND_AUDIT (an audit
	   rule's hold, issue 17); NULL when adding means sender */
	const char *kind;
	const char *details;	/* spam: "score=... threshold=... rules=...";
				   brake: the figures; "" for sender */
	/* (schema v24) the node (omamori-filter's node_name) whose spool has
	   the held copy; NULL when adding means "" (any node: one host) */
	const char *node;
	const char *asked_by;	/* (read only) "node who" of the last request
				   another node made of the holding node */
	long long asked_at;	/* (read only) its time, 0 if none */
};
#define OM_HOLD_KIND_SENDER "sender"
#define OM_HOLD_KIND_SPAM "spam"
#define OM_HOLD_KIND_BRAKE "brake"
#define OM_HOLD_KIND_AUDIT "audit"
typedef void om_store_hold_cb(void *context, const struct om_store_hold *h);
enum om_hold_query {
	OM_HOLD_BY_ID,		/* text: the id */
	OM_HOLD_BY_MAILBOX,	/* text: the mailbox; newest first, at most 500 */
	OM_HOLD_BY_STATE,	/* number: the state */
	OM_HOLD_DUE,		/* number: now; held ones expired by then */
	OM_HOLD_BRAKED,		/* text: the envelope sender; its brake
				   holds kept for the administrator */
	OM_HOLD_ASKED,		/* text: a node; the holds asked of it */
};
/* Records h as held unless its id is recorded already (a retry): 1 added,
   0 there before, -1 error. */
int om_store_hold_add(struct om_store *store, const struct om_store_hold *h,
		      char **error_r);
/* The holds query and text/number select, into cb (whose pointers live
   until it returns); the count or -1. */
int om_store_hold_list(struct om_store *store, enum om_hold_query query,
		       const char *text, long long number,
		       om_store_hold_cb *cb, void *context, char **error_r);
/* Claims the hold for to (sending, discarded: from held or admin; admin:
   from held) in one write transaction (BEGIN IMMEDIATE), so that of two
   releasers at the same moment exactly one gets it: 1 claimed, 0 not (the
   hold is in another state: *state_r, OM_HOLD_NONE when unknown), -1
   error. */
int om_store_hold_claim(struct om_store *store, const char *id,
			enum om_hold_state to, long long now,
			enum om_hold_state *state_r, char **error_r);
/* om_store_hold_claim for the sender (omamori-web): only a hold of kind
   sender still held moves; one for the administrator (kind spam or
   brake, or state admin) is not claimed and *state_r says admin. */
int om_store_hold_claim_sender(struct om_store *store, const char *id,
			       enum om_hold_state to, long long now,
			       enum om_hold_state *state_r, char **error_r);
/* om_store_hold_claim (sender: om_store_hold_claim_sender) for to
   (sending or discarded) by node: when the hold's copy is on another
   node (its node set and not node), the hold is not claimed but asked of
   that node (release-asked, discard-asked, with by and now), in the same
   write transaction, so that of two requests on any hosts exactly one
   wins.  1 claimed here, 2 asked of the holding node, 0 not (*state_r as
   om_store_hold_claim's), -1 error. */
int om_store_hold_claim_on(struct om_store *store, const char *id,
			   enum om_hold_state to, int sender, const char *node,
			   const char *by, long long now,
			   enum om_hold_state *state_r, char **error_r);
/* The holding node takes a request another node made (release-asked to
   sending, discard-asked to discarded): 1 taken with *to_r, 0 not asked
   any more (*to_r its state), -1 error. */
int om_store_hold_take_asked(struct om_store *store, const char *id,
			     long long now, enum om_hold_state *to_r,
			     char **error_r);
/* Sets the state after the claimant's work (sent, back to held or admin,
   discarded) with result (text; "" allowed).  0 or -1. */
int om_store_hold_finish(struct om_store *store, const char *id,
			 enum om_hold_state state, const char *result,
			 long long now, char **error_r);
/* Records that the sender's notice went out.  0 or -1. */
int om_store_hold_notified(struct om_store *store, const char *id,
			   char **error_r);
/* Forgets sent and discarded holds last changed before before; the number
   forgotten or -1. */
int om_store_hold_expire(struct om_store *store, long long before,
			 char **error_r);
/* "held", "sending", "sent", "discarded", "admin", "release-asked",
   "discard-asked" ("?" otherwise). */
const char *om_store_hold_state_name(enum om_hold_state state);

/* ---- outbound-zip's passwords, for the recipients (issue 14) ---- */

/* The password of one archive, kept zip-password-days so that the sender
   can have omamori-filter mail it to the recipients (omamori-web's /z/
   page): kept, then sending (one request has claimed it), then sent (the
   seal is wiped).  Never the password in clear: sealed is what
   crypto/seal.h made of it. */
enum om_zip_state {
	OM_ZIP_NONE = 0,
	OM_ZIP_KEPT,
	OM_ZIP_SENDING,
	OM_ZIP_SENT,
};
struct om_store_zip {
	const char *id;		/* omamori-filter's: [0-9A-Za-z-], < 64 bytes */
	const char *mailbox;	/* the sender's (the envelope sender) */
	const char *recipients;	/* those the archive went to, one per line */
	const char *subject;	/* decoded, sanitised */
	const char *archive;	/* the archive's file name */
	const char *sealed;	/* the sealed password (text) */
	long long created, expires;	/* unix time */
	enum om_zip_state state;	/* (read only: add makes it kept) */
	long long changed;	/* (read only) */
	long long sent;		/* (read only) when it was mailed, 0: not */
	const char *result;	/* (read only) "sent as QID", why not... */
};
typedef void om_store_zip_cb(void *context, const struct om_store_zip *z);
/* Records z as kept unless its id is recorded already (a retry): 1
   added, 0 there before, -1 error. */
int om_store_zip_add(struct om_store *store, const struct om_store_zip *z,
		     char **error_r);
/* The row of id into cb (pointers live until it returns): 1, 0 none, -1. */
int om_store_zip_get(struct om_store *store, const char *id,
		     om_store_zip_cb *cb, void *context, char **error_r);
/* The rows in state, oldest first; the count or -1. */
int om_store_zip_list(struct om_store *store, enum om_zip_state state,
		      om_store_zip_cb *cb, void *context, char **error_r);
/* Claims a kept password, not past its expiry at now, for sending, in
   one write transaction (BEGIN IMMEDIATE): of two requests at the same
   moment exactly one gets it.  1 claimed, 0 not (*state_r: the row's
   state, OM_ZIP_NONE when unknown; a kept row past its expiry stays
   kept), -1 error. */
int om_store_zip_claim(struct om_store *store, const char *id, long long now,
		       enum om_zip_state *state_r, char **error_r);
/* Sets the state after the claimant's work: sent (at sent; the seal is
   wiped) or back to kept, with result ("" allowed).  0 or -1. */
int om_store_zip_finish(struct om_store *store, const char *id,
			enum om_zip_state state, long long sent,
			const char *result, long long now, char **error_r);
/* Forgets the rows whose expiry is at or before now; the number or -1. */
int om_store_zip_expire(struct om_store *store, long long now, char **error_r);
/* "kept", "sending", "sent" ("?" otherwise). */
const char *om_store_zip_state_name(enum om_zip_state state);

/* ---- the compromised-account brake (issue 14, doc/outbound.md) ---- */

/* What omamori-policyd saw of one SASL login in one clock hour: messages
   and distinct recipients.  Saved in batches (never one write per
   request), kept brake_history_days; the brake compares the current
   hour with the login's own peak. */
struct om_store_history {
	const char *login;
	long long hour;		/* unix time of the hour's start */
	long long messages;
	long long recipients;
};
typedef void om_store_history_cb(void *context, const struct om_store_history *h);
/* Saves count rows (absolute values: a login's hour keeps the higher of
   what it had and the row's - a restart in the middle of an hour saves
   two parts of it, and neither may lower the other) and
   forgets hours before expire_before, in one transaction.  0 or -1. */
int om_store_history_save(struct om_store *store,
			  const struct om_store_history *rows, size_t count,
			  long long expire_before, char **error_r);
/* Each login's peak over the hours in [since, before): cb gets the login,
   hour 0 and the highest messages and recipients of an hour (each its
   own maximum).  The count of logins or -1. */
int om_store_history_peaks(struct om_store *store, long long since,
			   long long before, om_store_history_cb *cb,
			   void *context, char **error_r);
/* The rows of the hour starting at hour (login NULL), or login's rows
   since hour, newest first; the count or -1. */
int om_store_history_rows(struct om_store *store, const char *login,
			  long long hour, om_store_history_cb *cb, void *context,
			  char **error_r);

/* A brake: a login whose sending jumped far above its own history; its
   mail is held for the administrator until `omamorictl brake lift`. */
enum om_brake_state {
	OM_BRAKE_NONE = 0,
	OM_BRAKE_ON,		/* braked: its mail is held */
	OM_BRAKE_LIFTED,	/* lifted by the administrator */
};
struct om_store_brake {
	const char *login;
	enum om_brake_state state;	/* (read only: trip makes it on) */
	long long since;	/* when it tripped */
	/* the sliding hour at the trip, the limits it went over and the
	   login's peak hour behind them */
	long long messages, recipients;
	long long limit_messages, limit_recipients;
	long long peak_messages, peak_recipients;
	int alerted;		/* (read only) the administrator was told */
	long long changed;	/* (read only) */
};
typedef void om_store_brake_cb(void *context, const struct om_store_brake *b);
/* Records b as braked unless the login is braked already: 1 recorded (a
   new trip: alerted 0), 0 braked before, -1 error. */
int om_store_brake_trip(struct om_store *store, const struct om_store_brake *b,
			char **error_r);
/* login's brake (1 or 0 rows), or with login NULL every login braked now;
   the count or -1. */
int om_store_brake_list(struct om_store *store, const char *login,
			om_store_brake_cb *cb, void *context, char **error_r);
/* Lifts login's brake: 1 lifted, 0 it was not braked, -1 error. */
int om_store_brake_lift(struct om_store *store, const char *login,
			long long now, char **error_r);
/* The alert of login's brake, once per trip: claim 1 takes it (1 taken:
   send it; 0 taken before or not braked), claim 0 gives it back after a
   failed send.  -1 error. */
int om_store_brake_alert(struct om_store *store, const char *login, int claim,
			 char **error_r);

/* ---- the URL reputation store (issue 15, doc/links.md) ---- */

/* An entry: a URL exactly, a host (and every name below it) or a
   registrable domain (and every name in it), with its verdict, from a
   feed (source: the feed's name) or the administrator ("admin").  Keys
   are normalised by the url layer (url/url.h) before they come here. */
#define OM_STORE_URL_ADMIN "admin"
struct om_store_url {
	enum om_url_kind kind;
	const char *key;
	enum om_url_verdict verdict;
	const char *source;
	long long added;	/* unix time */
	long long expires;	/* unix time; 0: never */
};
typedef void om_store_url_cb(void *context, const struct om_store_url *u);

/* What one URL is looked up by (url/url.h's om_url_keys): its key, its
   host and the names above it down to the registrable domain, the
   registrable domain; NULL or 0 for what it has not. */
struct om_store_url_query {
	const char *url;
	const char *const *hosts;
	size_t nhosts;
	const char *domain;
};
/* The entry that decides for the URL at time now (expired entries do not
   count): block over warn; between two of the same verdict the more
   precise (the URL, then the deepest host, then the domain).  Three
   indexed reads in one read transaction (so not inside another
   transaction of the handle).  1 (cb called once with it), 0 none, -1
   error. */
int om_store_url_lookup(struct om_store *store, const struct om_store_url_query *q,
			long long now, om_store_url_cb *cb, void *context,
			char **error_r);
/* Adds an entry, or updates the one of the same kind, key and source.
   0 or -1. */
int om_store_url_add(struct om_store *store, const struct om_store_url *u,
		     char **error_r);
/* Removes the entries of kind and key (of source, or of every source when
   source is NULL): the number removed or -1. */
int om_store_url_del(struct om_store *store, enum om_url_kind kind,
		     const char *key, const char *source, char **error_r);
/* A feed's entries replaced by those next gives, in one transaction: the
   readers see the old list or the new one, never half.  next returns 1
   with an entry (source, added and expires are the import's), 0 at the
   end, -1 with *error_r to stop.  Nothing valid (no entry at all) keeps
   the old entries and is an error.  The number of entries given, or -1
   with nothing changed. */
typedef int om_store_url_next_cb(void *context, struct om_store_url *u_r,
				 char **error_r);
long om_store_urls_import(struct om_store *store, const char *source,
			  enum om_url_verdict verdict, long long added,
			  long long expires, om_store_url_next_cb *next,
			  void *context, char **error_r);
/* The entries of source (NULL: all), or -1. */
long om_store_urls_count(struct om_store *store, const char *source,
			 char **error_r);
/* Each entry of source (NULL: all) ordered by source, kind and key; the
   count or -1. */
long om_store_urls_each(struct om_store *store, const char *source,
			om_store_url_cb *cb, void *context, char **error_r);
/* Each source with its entry count, ordered by source; the count of
   sources or -1. */
typedef void om_store_url_source_cb(void *context, const char *source, long count);
int om_store_urls_sources(struct om_store *store, om_store_url_source_cb *cb,
			  void *context, char **error_r);

/* Audit rules (issue 17, doc/audit.md): a domain's ordered rules, each
   its text as the administrator wrote it (shared/audit parses it).
   Positions are 1, 2, ... without gaps. */
struct om_store_audit_rule {
	const char *domain;
	long long position;
	const char *rule;
	long long created;
};
typedef void om_store_audit_cb(void *context, const struct om_store_audit_rule *r);
/* Puts rule at position (1-based; 0 or past the end: last), moving the
   later ones down, in one transaction.  The position given or -1. */
long long om_store_audit_add(struct om_store *store, const char *domain,
			     long long position, const char *rule, long long now,
			     char **error_r);
/* Removes the rule at position, moving the later ones up: 1 removed,
   0 no such rule, -1. */
int om_store_audit_del(struct om_store *store, const char *domain,
		       long long position, char **error_r);
/* Each rule of domain (NULL: of every domain) in order: the count or -1. */
long om_store_audit_list(struct om_store *store, const char *domain,
			 om_store_audit_cb *cb, void *context, char **error_r);

/* A click through the click-time gate (omamori-web /u/): the mailbox the
   link was made for, the URL's host, the verdict the gate gave (none,
   warn, block), when.  0 or -1. */
int om_store_url_click(struct om_store *store, const char *mailbox,
		       const char *host, enum om_url_verdict verdict,
		       long long at, char **error_r);
/* Several clicks in one transaction (omamori-web's click recorder: one
   write for many clicks).  0 or -1 (none recorded). */
struct om_store_click {
	const char *mailbox;
	const char *host;
	enum om_url_verdict verdict;
	long long at;
};
int om_store_url_clicks_add(struct om_store *store, const struct om_store_click *clicks,
			    size_t count, char **error_r);
/* Removes the clicks before `before` (omamorictl cron): the count or -1. */
long om_store_url_clicks_expire(struct om_store *store, long long before,
				char **error_r);
/* The clicks recorded for mailbox, or -1. */
long om_store_url_clicks_count(struct om_store *store, const char *mailbox,
			       char **error_r);

/* ---- isolated attachments (issue 16, doc/attachments.md) ---- */

/* One attachment taken out of a mail and kept encrypted in isolate_dir
   (crypto/vault.h) until expires, for its recipient's page (omamori-web
   /f/).  The file is isolate_dir/<id>; sealed is its key, sealed. */
struct om_store_isolated {
	const char *id;		/* [0-9a-f], 32 characters */
	const char *mailbox;	/* the recipient's */
	const char *name;	/* the decoded file name, sanitised */
	long long size;		/* bytes (decoded) */
	const char *true_type;	/* what the content is ("Windows program") */
	const char *findings;	/* one a line: NAME\twhere\tja\ten; "" none */
	const char *scan;	/* the virus scan's result ("clean") */
	const char *why;	/* "finding", "archive", "all" */
	const char *subject;	/* the mail's, decoded, sanitised */
	const char *sealed;	/* the file's key, sealed */
	long long created, expires;	/* unix time */
	const char *received;	/* the Received path's countries ("SE US
				   GB"), "" or NULL (as "") when unknown (v15) */
};
typedef void om_store_isolated_cb(void *context, const struct om_store_isolated *f);
/* Records f; 0 or -1. */
int om_store_isolated_add(struct om_store *store, const struct om_store_isolated *f,
			  char **error_r);
/* Records count rows in one transaction (one commit, one sync: a file
   and the copies made from it); 0, or -1 and none recorded. */
int om_store_isolated_add_all(struct om_store *store, const struct om_store_isolated *rows,
			      size_t count, char **error_r);
/* The row of id into cb (pointers live until it returns): 1, 0 none, -1. */
int om_store_isolated_get(struct om_store *store, const char *id,
			  om_store_isolated_cb *cb, void *context, char **error_r);
/* The rows whose expiry is at or before now, oldest first; the count or -1. */
int om_store_isolated_due(struct om_store *store, long long now,
			  om_store_isolated_cb *cb, void *context, char **error_r);
/* Forgets the row of id: 1, 0 none, -1. */
int om_store_isolated_delete(struct om_store *store, const char *id, char **error_r);

/* ---- the sandbox's verdicts (issue 16, doc/attachments.md) ---- */

/* verdict "pending", "clean", "malicious" or "unknown"; first_seen the
   unix time the file was first sent to the sandbox */
typedef void om_store_sandbox_cb(void *context, const char *verdict,
				 long long first_seen);
/* The verdict of the file whose SHA-256 (hex) is hash into cb (pointers
   live until it returns): 1, 0 none, -1. */
int om_store_sandbox_get(struct om_store *store, const char *hash,
			 om_store_sandbox_cb *cb, void *context, char **error_r);
/* Records the verdict of hash; first_seen is kept when the row exists.
   0 or -1. */
int om_store_sandbox_put(struct om_store *store, const char *hash, const char *verdict,
			 long long first_seen, long long now, char **error_r);
/* ---- the encrypted delivery portal (issue 17, doc/portal.md) ---- */

/* A message an outbound-portal sender sent to external recipients: kept
   encrypted in portal_dir/<id> (crypto/vault.h) until expires; the
   recipients got a notice with a link instead of the message. */
struct om_store_portal {
	const char *id;		/* [0-9a-f], 32 characters */
	const char *sender;
	const char *subject;	/* decoded, sanitised */
	const char *recipients;	/* the external ones, one a line */
	long long size;		/* bytes of the message */
	const char *sealed;	/* its key, sealed; "" once revoked */
	long long created, expires;
	int revoked;
};
typedef void om_store_portal_cb(void *context, const struct om_store_portal *p);
typedef void om_store_portal_view_cb(void *context, const char *recipient,
				     const char *what, long long at);
enum om_store_portal_which {
	OM_STORE_PORTAL_ONE, OM_STORE_PORTAL_SENDER, OM_STORE_PORTAL_DUE,
};
/* Records p (a row of the same id already there is kept: a retry).
   0 or -1. */
int om_store_portal_add(struct om_store *store, const struct om_store_portal *p,
			char **error_r);
/* The row of id: 1, 0 none, -1. */
int om_store_portal_get(struct om_store *store, const char *id, om_store_portal_cb *cb,
			void *context, char **error_r);
/* sender's rows, newest first: the count or -1. */
int om_store_portal_by_sender(struct om_store *store, const char *sender,
			      om_store_portal_cb *cb, void *context, char **error_r);
/* The rows expired at now: the count or -1. */
int om_store_portal_due(struct om_store *store, long long now, om_store_portal_cb *cb,
			void *context, char **error_r);
/* Revoke: the sealed key wiped (nobody can open it).  1, 0 none, -1. */
int om_store_portal_revoke(struct om_store *store, const char *id, char **error_r);
/* A new expiry (not for a revoked one).  1, 0 none, -1. */
int om_store_portal_set_expires(struct om_store *store, const char *id,
				long long expires, char **error_r);
/* Forgets the row, its views and codes: 1, 0 none, -1. */
int om_store_portal_delete(struct om_store *store, const char *id, char **error_r);
/* Records a view or download (what: "view", "file NAME", "code sent",
   "code wrong", "locked"). 0 or -1. */
int om_store_portal_view_add(struct om_store *store, const char *id,
			     const char *recipient, const char *what, long long at,
			     char **error_r);
/* The views of id, oldest first: the count or -1. */
int om_store_portal_views(struct om_store *store, const char *id,
			  om_store_portal_view_cb *cb, void *context, char **error_r);
/* A new one-time code (its hash, as text) for recipient of id, until
   expires: 1 set, 0 not when the link is locked (max_tries wrong answers
   were given: the wrong tries are kept, a new code does not unlock), -1
   with *error_r. */
int om_store_portal_code_set(struct om_store *store, const char *id,
			     const char *recipient, const char *code,
			     long long expires, int max_tries, char **error_r);
#define OM_STORE_CODE_OK 0
#define OM_STORE_CODE_WRONG 1
#define OM_STORE_CODE_EXPIRED 2
#define OM_STORE_CODE_LOCKED 3
#define OM_STORE_CODE_NONE 4
/* Checks code (its hash) for recipient of id at now: OM_STORE_CODE_*.  A
   right code is spent (it opens once); a wrong or expired one is counted
   (max_tries of them lock for good); with no code waiting (spent, or none
   asked since) the answer is OM_STORE_CODE_EXPIRED, not counted.
   *tries_r the count.  -1 on error. */
int om_store_portal_code_check(struct om_store *store, const char *id,
			       const char *recipient, const char *code, long long now,
			       int max_tries, int *tries_r, char **error_r);

/* Policy groups (issue 18, doc/admin.md "Policy groups"): up to
   OM_GROUPS_MAX (settings.h) named groups per domain.  A mailbox's group
   is its own setting "group" (om_store_domain_set under the mailbox); a
   group's settings are domain settings under its scope
   (om_settings_group_scope). */
typedef void om_store_group_cb(void *context, const char *domain, const char *name);
/* Adds group name to domain: 1 added, 0 it was there, -1 with *error_r
   (a fifth group is refused, naming the four). */
int om_store_group_add(struct om_store *store, const char *domain,
		       const char *name, char **error_r);
/* 1 if domain has group name, 0 if not, -1. */
int om_store_group_exists(struct om_store *store, const char *domain,
			  const char *name, char **error_r);
/* Deletes group name of domain and its settings, and records it in the
   change log (by who, at: each setting old -> "", then "group NAME"), in
   one transaction: 1 deleted, 0 no such group, -1 with *error_r - also
   while mailboxes are in it (the error names them: move them first). */
int om_store_group_delete(struct om_store *store, const char *domain,
			  const char *name, const char *who, long long at,
			  char **error_r);
/* cb(context, domain, name) for each group of domain (NULL: every
   domain's), ordered; the count or -1. */
long om_store_group_list(struct om_store *store, const char *domain,
			 om_store_group_cb *cb, void *context, char **error_r);
/* cb(context, mailbox, name) for each mailbox of domain in group name,
   ordered; the count or -1. */
long om_store_group_members(struct om_store *store, const char *domain,
			    const char *name, om_store_group_cb *cb, void *context,
			    char **error_r);

/* The history of subscription states (issue 18, the billing export): a
   trigger on subscriptions writes a row at each change of a mailbox's
   state of a feature (a deleted subscription as "off"), at the row's
   updated time. */
struct om_store_sub_change {
	const char *mailbox, *feature, *state;	/* on, paused, off */
	long long at;
};
typedef void om_store_sub_change_cb(void *context, const struct om_store_sub_change *c);
/* The changes in [since, until) and, for each mailbox and feature, its
   last change before since (the state at since), ordered by mailbox,
   feature, time: the count or -1.  Keys whose first change is at or after
   until are not read. */
long om_store_sub_history(struct om_store *store, long long since, long long until,
			  om_store_sub_change_cb *cb, void *context, char **error_r);
/* Writes a history row as it stands (imports of earlier billing data, and
   tests: the trigger writes the rows of every change).  0 or -1. */
int om_store_sub_history_put(struct om_store *store, const struct om_store_sub_change *c,
			     char **error_r);

/* ---- domain administrators and the change log (issue 18, doc/admin.md) ---- */

/* Who may administer a domain on omamori-web: an ISP operator (every
   domain; stored under domain "*"), the domain's main admin (one), its
   deputies (up to four, each with the rights the admin grants).  A plain
   user has no row.  The rules (roles, rights, addresses) are
   shared/store/admins.c's; the store keeps the limits per domain. */
#define OM_ADMIN_MAX_MAIN 1
#define OM_ADMIN_MAX_DEPUTIES 4
struct om_store_admin {
	const char *domain;	/* "*" for an operator */
	const char *address;	/* the mailbox that logs in */
	const char *role;	/* "operator", "admin", "deputy" */
	const char *rights;	/* a deputy's, space-separated; "" none */
	long long created;
};
typedef void om_store_admin_cb(void *context, const struct om_store_admin *a);

/* One change to a domain's settings, lists or admins, as the audit page
   shows it; old_value/new_value "" when there was or is none. */
struct om_store_change {
	long long id, at;
	const char *who;	/* the admin's address, or "omamorictl (uid N)" */
	const char *domain;	/* the domain changed ("*": global) */
	const char *what;	/* "setting spam-action", "admin x@y", "list block" */
	const char *old_value, *new_value;
};
typedef void om_store_change_cb(void *context, const struct om_store_change *c);

/* Records a (a->created: now) and its change (by who) in one write
   transaction; an address already there gets the new role and rights.
   Refused with *error_r when the domain would have a second main admin
   or a fifth deputy.  0 or -1. */
int om_store_admin_add(struct om_store *store, const struct om_store_admin *a,
		       const char *who, char **error_r);
/* Removes address's role in domain and records it (by who, at now):
   1 removed, 0 none (nothing recorded), -1. */
int om_store_admin_del(struct om_store *store, const char *domain, const char *address,
		       const char *who, long long now, char **error_r);
/* The admins of domain (NULL: every domain), by domain, role, address:
   the count or -1. */
long om_store_admin_list(struct om_store *store, const char *domain,
			 om_store_admin_cb *cb, void *context, char **error_r);
/* The roles address holds, by domain: the count or -1. */
long om_store_admin_of(struct om_store *store, const char *address,
		       om_store_admin_cb *cb, void *context, char **error_r);

/* Sets (value NULL: unsets) a domain-level setting of key (a domain, "*",
   or a mailbox's refinement) and records the change - log_domain, what,
   the old and the new value, who, now - in one write transaction.  The
   caller has checked the value: om_settings_domain_change() is the one
   path omamorictl and omamori-web take.  1 changed, 0 the same value
   (nothing written or recorded), -1. */
int om_store_domain_change(struct om_store *store, const char *key, const char *name,
			   const char *value, const char *who, const char *log_domain,
			   const char *what, long long now, char **error_r);
/* Records one change (c->id ignored).  0 or -1. */
int om_store_change_add(struct om_store *store, const struct om_store_change *c,
			char **error_r);
/* The changes of domain, newest first, at most limit: the count or -1. */
long om_store_change_list(struct om_store *store, const char *domain, long limit,
			  om_store_change_cb *cb, void *context, char **error_r);
/* ---- the message trace (issue 18 item 4, doc/trace.md; store-trace.c) ----
 *
 * One row per step omamori took for a message, of the one domain it
 * belongs to (the recipient's for inbound mail, the sender's for
 * outbound): written by policyd, scand, the delivery plugin, the
 * quarantine layer, omamori-filter and omamori-web, read by omamorictl
 * trace, the domain administrator's page and the monthly reports. */

/* Texts longer than these are cut at a UTF-8 character boundary (never
   refused: an event is a record of what happened). */
#define OM_EVENT_SUBJECT_MAX 200
#define OM_EVENT_DETAIL_MAX 600
#define OM_EVENT_TEXT_MAX 320	/* domain, addresses, Message-ID, ids, words */

struct om_store_event {
	long long id;		/* read: the row's; ignored when adding */
	long long at;		/* unix time */
	const char *domain;	/* the domain it belongs to (lower-cased here) */
	enum om_direction direction;
	const char *sender;	/* envelope sender, "" for <> */
	const char *recipient;	/* "" when the step is the whole message's */
	const char *message_id;	/* without <>, "" unknown */
	const char *subject;	/* decoded, "" unknown */
	const char *queue_id;	/* Postfix's, "" unknown */
	const char *step;	/* policy, scan, deliver, quarantine, release,
				   delete, hold, send, discard, zip, portal,
				   audit, click, ... (never empty) */
	const char *result;	/* the answer, verdict or action */
	const char *detail;	/* rules, virus name, reason ("" none) */
	/* recipients the row stands for: policyd's accepted recipients of
	   one message are one row (recipient: the first); 0 is 1 */
	long long recipients;
};
/* Adds count events in one transaction; NULL texts are "", texts over
   their bound are cut, Message-IDs lose their <>, domains are
   lower-cased.  0 or -1 (none added). */
int om_store_events_add(struct om_store *store, const struct om_store_event *events,
			size_t count, char **error_r);
/* Removes the events before `before` (omamorictl cron): the count or -1. */
long om_store_events_expire(struct om_store *store, long long before,
			    char **error_r);
/* The domain an address's events belong to: what follows its last '@'
   ("" when it has none).  Points into address. */
const char *om_store_event_domain(const char *address);

/* What a trace search asks for; NULL or "" fields match everything. */
struct om_trace_query {
	const char *sender;	/* envelope sender, exactly */
	const char *recipient;	/* exactly */
	const char *subject;	/* a substring (ASCII letters of any case) */
	const char *message_id;	/* with or without <> */
	long long since;	/* events at or after (unix time), 0: any */
	long long until;	/* events before, 0: any */
	size_t max_messages;	/* 0: OM_TRACE_MAX_MESSAGES */
};
#define OM_TRACE_MAX_MESSAGES 100
#define OM_TRACE_MAX_MESSAGES_LIMIT 1000
/* cb(context, message, event): message counts 1, 2, ... (newest message
   first); the events of one message come together, in the order they
   happened (time, then the order written). */
typedef void om_store_trace_cb(void *context, unsigned int message,
			       const struct om_store_event *event);
/* The messages of domain with an event matching q, each with all its
   steps of that domain: the events of one message are those sharing a
   Message-ID or a queue id, transitively.  Only domain's rows are ever
   read (the condition is in every statement).  The count of messages,
   or -1 (a bad query: since after until, no domain). */
long om_store_trace_search(struct om_store *store, const char *domain,
			   const struct om_trace_query *q, om_store_trace_cb *cb,
			   void *context, char **error_r);

/* ---- the monthly report (issue 20 item 5, doc/report.md; store-report.c) ----
 *
 * A domain's month counted from its events (the rows of the trace): the
 * inbound scans per local day by verdict, the viruses by name and the
 * spam's sender domains (the top OM_REPORT_TOP of each), the holds by
 * kind, the clicks by verdict and the outbound scans by verdict.  Every
 * statement has the domain as its first condition. */
#define OM_REPORT_TOP 10
#define OM_REPORT_KEY_MAX 128	/* a name, a domain, a result (cut) */
#define OM_REPORT_DAYS 31
enum om_report_verdict {
	OM_REPORT_CLEAN, OM_REPORT_SPAM, OM_REPORT_VIRUS,
	OM_REPORT_OTHER,	/* unscanned, error */
	OM_REPORT_VERDICTS
};
struct om_report_count {
	char key[OM_REPORT_KEY_MAX];
	long long count;
};
/* The largest counts first (then by key); total counts every row, listed
   or not. */
struct om_report_list {
	struct om_report_count v[OM_REPORT_TOP];
	size_t n;
	long long total;
};
struct om_store_report {
	int year, month, days;		/* days: of the month, 28..31 */
	long long since, until;		/* the month's local start, next month's */
	long long received[OM_REPORT_DAYS][OM_REPORT_VERDICTS]; /* [day - 1] */
	long long received_total[OM_REPORT_VERDICTS];
	struct om_report_list viruses;		/* inbound, by virus name */
	struct om_report_list spam_domains;	/* inbound spam, by sender's domain */
	struct om_report_list holds;		/* by kind: held, spam, brake, audit */
	struct om_report_list clicks;		/* by verdict: allowed, warn, block */
	struct om_report_list outbound;		/* outbound scans by verdict */
};
/* Fills r with domain's events of month (1..12) of year, days in the
   server's local time.  0, or -1 with *error_r (a bad month too). */
int om_store_report_month(struct om_store *store, const char *domain, int year,
			  int month, struct om_store_report *r, char **error_r);
/* The month's report is sent to recipient once: 1 when this call claims
   it (recorded at `at`), 0 when it was claimed before, -1. */
int om_store_report_claim(struct om_store *store, const char *domain, const char *month,
			  const char *recipient, long long at, char **error_r);
/* Forgets a claim whose mail could not be saved (tried again next run). */
int om_store_report_unclaim(struct om_store *store, const char *domain,
			    const char *month, const char *recipient, char **error_r);

#endif
