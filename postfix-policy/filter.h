/* filter.h - omamori-filter's parts: the daemon (filter.c), one LMTP
 * session with Postfix (filter-lmtp.c), what is done to one message
 * (filter-deliver.c) and the SMTP client that re-injects it into Postfix
 * (filter-smtp.c).
 */
#ifndef OM_FILTER_H
#define OM_FILTER_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "audit/audit.h"
#include "crypto/token.h"
#include "lib/om-config.h"
#include "lib/util.h"

struct om_store;
struct filter_audit_cache;
struct filter_hold_daemon;
struct filter_smtp_conn;

/* The daemon: read-only once the workers run, but for stopping. */
struct filter_daemon {
	const struct om_config *config;
	int listen_fd;
	int brake_fd;		/* filter_brake_listen, -1 when none */
	uid_t peer_uid;		/* filter_peer_user: Postfix's mail_owner */
	int spool_fd;		/* filter_spool, for fsync of new entries */
	volatile int stopping;	/* set by the main thread at SIGTERM */
	struct filter_hold_daemon *hold;	/* outbound-hold (filter-hold.c) */
	/* outbound-zip: the key kept passwords are sealed with
	   (zip_key_path, read as root); without it no password is kept and
	   the notice has no link to the recipients' button */
	struct om_token_keys zip_keys;
	int have_zip_keys;
	/* outbound-portal (filter-portal.c): the isolation key's public
	   half; without it portal mail is tempfailed */
	unsigned char portal_pk[32];
	int have_portal_pk;
};

/* One worker thread: one connection at a time, its own store handle. */
struct filter_worker {
	struct filter_daemon *daemon;
	unsigned int id;
	int listen_fd;		/* the socket it accepts on */
	int brake;		/* 1: the brake socket - every message is
				   held for the administrator */
	struct om_store *store;	/* opened on first use, reopened after an error */
	long long last_expire;	/* when this worker last forgot old records */
	struct filter_smtp_conn *reinject;	/* kept between messages */
	/* the site's report key, for the before-queue seal (filter-seal.c) */
	unsigned char report_key[32];
	int have_report_key;
	struct filter_audit_cache *audit_cache;	/* the last domain's parsed
						   audit rules (filter-audit.c) */
};

/* A transaction's envelope as Postfix gave it. */
struct filter_envelope {
	char *queue_id;		/* XFORWARD IDENT, "" when none */
	char *xforward;		/* "NAME=... ADDR=..." as received, to pass on */
	char *sender;		/* "" for <> */
	int body_8bit;		/* BODY=8BITMIME */
	int smtputf8;		/* SMTPUTF8 */
	char **rcpts;
	size_t rcpt_count, rcpt_alloc;
};

/* A reply for one recipient: an SMTP code and its text ("2.0.0 Ok"). */
struct filter_reply {
	int code;
	char *text;
};

void filter_envelope_reset(struct filter_envelope *env);
void filter_reply_set(struct filter_reply *r, int code, const char *fmt, ...)
	OM_ATTR_FORMAT(3, 4);

/* Serves one connection from Postfix until it quits, fails or the daemon
   stops. */
void filter_lmtp_session(struct filter_worker *w, int fd);

/* Acts on one message (msg: LF line ends) and fills replies[i] for each
   recipient: never a loss (an internal error is 4xx), never twice. */
void filter_deliver(struct filter_worker *w, const struct filter_envelope *env,
		    const char *msg, size_t len, struct filter_reply *replies);

/* The before-queue path (omamori-submit, the submission smtpd's milter):
   what filter_deliver does to a message of an inline sender
   (decide/route.h), but for the hand-off - outbound-virus (strip, or
   block), outbound-bcc (and its notice), outbound-zip (and its password
   notice, the password kept a day under a key of sender, recipients and
   content but the Received fields, so that a second submission gets the
   same one).  *reply: 250 (out: the rewritten message, left empty when
   unchanged), 4xx (the client tries again) or 5xx (refused). */
void filter_inline(struct filter_worker *w, const struct filter_envelope *env,
		   const char *msg, size_t len, struct om_buf *out,
		   struct filter_reply *reply);

/* msg's Subject, decoded and made safe for a notice (200 bytes at most;
   "" when the message cannot be parsed), allocated. */
char *filter_subject(const char *msg, size_t len);

/* The before-queue path's seal (filter-seal.c, doc/outbound.md "One
   decider"): which checks omamori-submit made on a message, verifiable by
   omamori-filter when policyd FILTERs it after all. */
#define FILTER_SEAL_HEADER "X-Omamori-Out-Checked"
#define FILTER_DONE_VIRUS 1u
#define FILTER_DONE_BCC 2u
#define FILTER_DONE_ZIP 4u
/* The seal's header line (allocated, LF-ended) for the message queued as
   qid from sender, done (FILTER_DONE_*), key (the before-queue key), or
   NULL (no queue id, no report key: the after-queue path checks again). */
char *filter_seal_make(struct filter_worker *w, const char *qid, const char *sender,
		       unsigned int done, const char *key);
/* 1 when value (the field's value) is a seal made for qid and sender
   (*done_r, *key_r allocated), else 0. */
int filter_seal_check(struct filter_worker *w, const char *value, const char *qid,
		      const char *sender, unsigned int *done_r, char **key_r);

/* outbound-spam (filter-spam.c): scand scores msg (spam check, direction
   out: the global classifier and rules, never the sender's own lists);
   1 spam at the sender's outbound-spam-threshold (*details_r allocated:
   score, threshold, rules), 0 not, -1 scand or the settings failed
   (*error_r: answer 4xx, never send unchecked). */
int filter_spam_check(struct filter_worker *w, const struct filter_envelope *env,
		      const char *qid, const char *msg, size_t len, char **details_r,
		      char **error_r);
/* The administrator's alert of held spam (templates/<lang>/
   outbound-spam-alert.txt); 1 sent, 0 nobody to tell, -1 not sent. */
int filter_spam_alert(struct filter_worker *w, const struct filter_envelope *env,
		      const char *id, const char *details, const char *msg, size_t len);
/* Audit rules (filter-audit.c, doc/audit.md): what the sender's
   domain's rules say of a message. */
struct filter_audit {
	enum om_audit_verdict verdict;	/* the deciding rule's, else send */
	int fired;		/* its number, 0 none */
	int notify;		/* the administrator is to be told */
	char *headers;		/* "Name: value\n"... to add, or NULL */
	char *summary;		/* the rules that matched and why (sanitised) */
};
/* Runs the rules of the sender's domain when the sender subscribes to
   outbound-audit: 1 ran (*out filled; free with filter_audit_free), 0 no
   rules apply, -1 the store or a rule failed (*error_r: answer 4xx,
   never send unchecked). */
int filter_audit_check(struct filter_worker *w, const struct filter_envelope *env,
		       const char *qid, const char *msg, size_t len,
		       struct filter_audit *out, char **error_r);
void filter_audit_free(struct filter_audit *a);
struct filter_audit_cache;
/* Frees a worker's parsed rules (NULL is fine). */
void filter_audit_cache_free(struct filter_audit_cache **cache);
/* The administrator's alert (templates/<lang>/audit-hold-alert.txt,
   audit-delete-alert.txt, audit-alert.txt by the verdict); hold_id the
   hold's, or NULL.  1 sent, 0 nobody to tell, -1 not sent. */
int filter_audit_alert(struct filter_worker *w, const struct filter_envelope *env,
		       const struct filter_audit *a, const char *hold_id,
		       const char *msg, size_t len);
/* The brake (filter-brake.c): a message from the brake socket is held
   unless the sender's brake was lifted since policyd routed it.  1 hold
   it (*details_r allocated: the trip's figures), 0 lifted: as usual, -1
   store error (*error_r). */
int filter_brake_holds(struct filter_worker *w, const char *sender, char **details_r,
		       char **error_r);
/* The administrator's alert of the trip, once per trip (the brake row's
   claim); sent with the first message held. */
void filter_brake_alert(struct filter_worker *w, const struct filter_envelope *env,
			const char *id);

/* outbound-zip (filter-zip.c): when the sender subscribes and its
   settings hold, the message's attachments into one AES-256 ZIP in out,
   the password notice sent to the sender.  Returns 1 rewritten (out
   filled), 0 nothing to do, -1 with *error_r (allocated): nothing was
   sent, the caller tempfails.  spool_name is the message's spool file:
   its password is kept beside it until filter_zip_forget. */
int filter_zip(struct filter_worker *w, const struct filter_envelope *env,
	       const char *qid, const char *spool_name, const char *msg, size_t len,
	       struct om_buf *out, char **error_r);
/* outbound-portal (filter-portal.c, doc/portal.md): when the sender
   subscribes and some recipients are external, the message is kept
   encrypted in portal_dir and each external recipient (portal[i] set,
   rcpt_count bytes) gets a notice with a link instead.  1 done (the
   caller sends the message to the others only), 0 nothing to do, -1
   with *error_r: tempfail (nothing went to an external recipient but,
   on a retry's second try, a notice). */
int filter_portal(struct filter_worker *w, const struct filter_envelope *env,
		  const char *qid, const char *spool_name, const char *msg, size_t len,
		  unsigned char *portal, char **error_r);
/* The before-queue path: 1 when the message has portal recipients (the
   milter cannot take them out: it must go after the queue), 0 not, -1. */
int filter_portal_inline_defer(struct filter_worker *w, const struct filter_envelope *env,
			       char **error_r);
/* The control socket's PORTALCODE ID RECIPIENT (quarantine/hold.h): a
   new 6-digit code (10 minutes) for recipient of portal message id, its
   hash stored, the code mailed to recipient; the answer line into
   answer (OK, STATE none|revoked|expired|locked, FAIL). */
void filter_portal_code_send(struct filter_daemon *d, struct om_store *store,
			     const char *args, struct om_buf *answer);
/* A held mail's release (filter-hold.c): 1 (refuse it) when sender
   subscribes to outbound-portal and a recipient is external - the held
   copy is the plaintext -, or when the settings cannot be read (-1 with
   *error_r is also a refusal); 0 go on. */
int filter_portal_blocks_release(struct om_store *store, const char *sender,
				 char **rcpts, size_t count, char **error_r);
/* As root: the isolation key's public half.  0 (a warning without it). */
int filter_portal_setup(struct filter_daemon *d, char **error_r);
/* Removes the kept password once the message's spool file is gone. */
void filter_zip_forget(struct filter_worker *w, const char *spool_name);
/* As root: reads zip_key_path (a warning when it cannot: the ZIP still
   goes out, its notice without the link).  0 (never fails). */
int filter_zip_setup(struct filter_daemon *d, char **error_r);
/* After the privilege drop: passwords a crash left "sending" are marked
   sent (the spool's zippw-ID.sent says so) or kept again. */
void filter_zip_recover(struct filter_daemon *d);
/* The control socket's ZIPPASS ID (quarantine/hold.h): mails the kept
   password of record id to the recipients of its archive, once; the
   answer line into answer. */
void filter_zip_password_send(struct filter_daemon *d, struct om_store *store,
			      const char *id, struct om_buf *answer);

/* A link to omamori-web: web_url + path + a token signed with the web key
   for mailbox, action and message until expires (allocated), or NULL
   (no key, a field not fit to sign). */
char *filter_link(struct filter_daemon *d, const char *path, const char *mailbox,
		  const char *action, const char *message, time_t expires);

/* The result of a re-injection. */
struct filter_smtp_result {
	int rcpt_codes_ok;	/* recipients accepted */
	int final_code;		/* the reply to the end of DATA (0: not reached) */
	char *final_text;
	char *queue_id;		/* Postfix's new queue id, if it said one */
};
/* Re-injects msg (LF line ends) into Postfix's smtpd at socket_path with
   the envelope (sender and recipients; xforward passed on when offered).
   rcpt_replies[i] gets each recipient's reply (a refused one is not
   sent).  Returns 0 with *res filled, or -1 with *error_r when no
   complete answer came (connection, timeout, protocol): the caller then
   knows nothing was accepted. */
int filter_smtp_send(const char *socket_path, int timeout_ms,
		     const char *sender, char *const *rcpts, size_t rcpt_count,
		     const char *xforward, int body_8bit, int smtputf8,
		     const char *msg, size_t len,
		     struct filter_reply *rcpt_replies,
		     struct filter_smtp_result *res, char **error_r);
void filter_smtp_result_free(struct filter_smtp_result *res);
/* Re-injects a notice (mail, from <>) to rcpt alone, within timeout_ms:
   1 accepted (*queue_id_r, when not NULL: Postfix's queue id or "?",
   allocated), 0 refused (*error_r: Postfix's "CODE TEXT"), -1 not sent
   (*error_r: why). */
int filter_smtp_notice(const char *socket_path, int timeout_ms, const char *rcpt,
		       const struct om_buf *mail, char **queue_id_r,
		       char **error_r);
/* The From of a notice about address's mail: notice_from, with the
   domain of address when it has none (allocated; filter-deliver.c). */
char *filter_notice_from(const struct om_config *config, const char *address);

/* One message to re-inject: the envelope, an optional header line put
   before the message ("Name: value\n", the exactly-once key), the message
   (LF line ends). */
struct filter_smtp_msg {
	const char *sender;
	char *const *rcpts;
	size_t rcpt_count;
	const char *xforward;
	int body_8bit, smtputf8;
	const char *header;
	const char *msg;
	size_t len;
};
/* As filter_smtp_send, on the connection *conn keeps between calls (made
   when NULL or gone stale; closed and set NULL after an error). */
int filter_smtp_send_cached(struct filter_smtp_conn **conn, const char *socket_path,
			    int timeout_ms, const struct filter_smtp_msg *m,
			    struct filter_reply *rcpt_replies,
			    struct filter_smtp_result *res, char **error_r);
/* A new re-injection attempt's id: OM_DEDUP_ATTEMPT_LEN (16) hex digits
   (the milter's mark keeps the one that got the copy queued).  0 or -1. */
int filter_attempt_id(char *out);
/* QUIT and close (a NULL *conn is fine). */
void filter_smtp_conn_close(struct filter_smtp_conn **conn);

/* The exactly-once records in filter_spool that have served their time
   (filter_retention days): KEY.queued marks and KEY.refused answers.
   Called by the main thread once an hour. */
void filter_spool_expire(struct filter_daemon *d);

/* The link key alone (web_key_path, read as root), for filter_link in a
   program without the control socket (omamori-submit).  0 (a warning
   when the key cannot be read: notices without links). */
int filter_link_setup(struct filter_daemon *d, char **error_r);
/* outbound-hold (filter-hold.c).  The privileged part, as root: the link
   key and the control socket (filter_control).  0 or -1 with *error_r. */
int filter_hold_setup(struct filter_daemon *d, char **error_r);
/* After the privilege drop: recovers holds a crash left sending, starts
   the control threads. */
void filter_hold_start(struct filter_daemon *d);
/* At stop: the control threads finish their request and end. */
void filter_hold_stop(struct filter_daemon *d);
/* omamori-web's link keys (web_key_path, read at start), or NULL when
   they could not be read: the portal's code hashes are keyed with them. */
const struct om_link_keys *filter_hold_keys(const struct filter_daemon *d);
/* Holds msg (what would go out) for the sender's confirmation when the
   sender subscribes to outbound-hold and its conditions hold.  held
   (rcpt_count bytes) gets 1 for each held recipient; the others go out
   now.  hold_id: the id to hold it under (filter-deliver.c's).
   Returns 1 held (*id_r: the hold's id, allocated; recorded and
   fsync'd in the spool, or found from an earlier attempt), 0 nothing
   held, -1 error (*error_r: answer 4xx). */
int filter_hold(struct filter_worker *w, const struct filter_envelope *env,
		const char *msg, size_t len, const char *qid, const char *hold_id,
		unsigned char *held, char **id_r, char **error_r);

/* Holds the whole message for the administrator (kind OM_HOLD_KIND_SPAM
   or OM_HOLD_KIND_BRAKE, details the figures): spool and store as
   filter_hold, no notice to the sender, never expires; released or
   discarded with omamorictl hold.  zip_at_release: held before its ZIP,
   which the release then makes (outbound-zip as the sender has it).  Returns 1 (*id_r allocated;
   *notified_r: a retry finds its alert sent) or -1 with *error_r. */
int filter_hold_admin(struct filter_worker *w, const struct filter_envelope *env,
		      const char *msg, size_t len, const char *qid, const char *hold_id,
		      const char *kind, const char *details, int zip_at_release,
		      char **id_r, int *notified_r, char **error_r);
/* Mails templates/<lang>/template_name.txt (vars, brand footer) to the
   administrator of mailbox's domain (outbound-admin, else
   virus-admin-copy), from <> through the re-injection.  1 sent, 0 no
   address to send to (logged), -1 not sent (logged).  tag: for logs. */
struct om_notify_var;
int filter_hold_alert(struct filter_worker *w, const char *mailbox,
		      const char *template_name, const struct om_notify_var *vars,
		      const char *tag);

/* "X-Omamori-Report: SEAL\n" for an alert to the administrator address to
   (crypto/report.h: the administrator's own spam check lets a sealed
   report through), or "" when the store has no report key (logged with
   tag).  Allocated. */
char *filter_report_seal_header(struct om_store *store, const char *to,
				const char *tag);

/* filter-trace.c: the message trace's steps (doc/trace.md), written at
   once, failures logged only */
struct filter_trace_msg {
	int described;
	char *message_id;	/* raw, or NULL */
	char *subject;		/* decoded */
};
/* Reads msg's Message-ID and Subject into t, once. */
void filter_trace_describe(struct filter_trace_msg *t, const char *msg, size_t len);
void filter_trace_msg_free(struct filter_trace_msg *t);
/* One step of the message from sender (its domain's row); queue_id "-",
   "noqid" or NULL: none; t NULL: no Message-ID nor subject. */
void filter_trace(struct om_store *store, const char *sender, const char *recipient,
		  const char *queue_id, const struct filter_trace_msg *t,
		  const char *step, const char *result, const char *detail);

#endif
