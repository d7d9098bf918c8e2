/* policy.h - Postfix policy delegation: request parsing and the decisions of
 * omamori-policyd (block lists, recipient and size limits, per-user rate
 * limits, outbound routing), from an in-memory snapshot of the store.
 *
 * One module for the daemon and `omamorictl policy test`, so the tool shows
 * exactly what the daemon would answer.
 */
#ifndef OM_POLICY_H
#define OM_POLICY_H

#include <stddef.h>
#include <time.h>

#include "lib/om-config.h"
#include "lib/values.h"

struct om_store;
struct om_buf;
struct om_policy;

/* The attributes omamori uses; the rest are ignored.  Pointers point into
   the parsed buffer.  Absent text attributes are "". */
struct om_policy_request {
	const char *request;
	const char *protocol_state;
	const char *sender;
	const char *recipient;
	const char *sasl_username;
	const char *instance;
	const char *client_address;
	const char *helo_name;
	/* Postfix's queue id: "" until the queue file is opened (at the
	   first RCPT with smtpd_delay_open_until_valid_rcpt=yes); only for
	   the message trace */
	const char *queue_id;
	long long size;
	long recipient_count;
};

#define OM_POLICY_REASON_MAX 256

/* What omamori-policyd answers: one of a fixed set of answers, each with
   its text in policy.c (om_policy_action_text); nothing a request says
   becomes part of an answer. */
enum om_policy_kind {
	OM_POLICY_DUNNO = 0,		/* no opinion: Postfix goes on */
	OM_POLICY_REJECT_BLOCKED,	/* REJECT 5.7.1: on a block list */
	OM_POLICY_DEFER_RECIPIENTS,	/* 452 4.5.3: too many recipients */
	OM_POLICY_REJECT_SIZE,		/* 552 5.3.4: over the recipient's limit */
	OM_POLICY_REJECT_FIXED_SIZE,	/* 552 5.3.4: over the fixed limit */
	OM_POLICY_DEFER_RATE,		/* 450 4.7.1: sending rate limit */
	OM_POLICY_FILTER,		/* FILTER transport:nexthop */
	OM_POLICY_DEFER_BRAKE,		/* 450 4.7.1: braked, and no
					   brake_filter to hold its mail */
	OM_POLICY_PREPEND_AUTH,		/* PREPEND Authentication-Results:
					   omamori's SPF result (at DATA) */
	OM_POLICY_REJECT_SPF,		/* 550 5.7.23: SPF fail, and every
					   recipient's domain has spf-reject */
	OM_POLICY_REJECT_INTERNAL_ONLY,	/* REJECT 5.7.1: the sender's policy
					   group (or domain) has internal-only
					   on and the recipient is outside */
};

/* A kind's word for metrics labels ("reject_blocked"; dunno for
   OM_POLICY_DUNNO), NULL for a value of no kind. */
const char *om_policy_kind_name(enum om_policy_kind kind);
#define OM_POLICY_KIND_COUNT (OM_POLICY_REJECT_INTERNAL_ONLY + 1)

/* REJECT_INTERNAL_ONLY's domain and group, at most. */
#define OM_POLICY_INSIDE_MAX 300

/* An Authentication-Results header as policyd prepends it, at most. */
#define OM_POLICY_HEADER_MAX 640

struct om_policy_decision {
	enum om_policy_kind kind;
	int braked;		/* the brake holds this login's mail (FILTER
				   to brake_filter, or DEFER_BRAKE) */
	int tripped;		/* and this request tripped it */
	/* FILTER's transport:nexthop: omamori.conf's outbound_filter,
	   checked when the configuration is loaded; else "" */
	char filter[OM_OUTBOUND_FILTER_MAX + 1];
	/* PREPEND_AUTH's header field, made of omamori's words and checked
	   domain names only; else "" */
	char header[OM_POLICY_HEADER_MAX];
	/* REJECT_INTERNAL_ONLY's "example.jp (policy group B)": a checked
	   domain name and group name only; else "" */
	char inside[OM_POLICY_INSIDE_MAX];
	char reason[OM_POLICY_REASON_MAX];	/* why, for logs and policy test */
};

/* Parses one request at the start of buf[0..len): "name=value" lines and an
   empty line.  Lines are NUL-terminated in place.  Returns 1 with the bytes
   used in *used_r, 0 when more data is needed, -1 when the input is
   malformed (*error_r static): a line without '=', a NUL byte, a request
   larger than max_request, no request= attribute, a size= or
   recipient_count= that is not a number in 0..LONG_MAX (empty is 0).  *scanned (0 for a new
   request, kept by the caller between calls on the same request) lets
   input arriving in pieces be looked at once, not again at every piece. */
int om_policy_parse(char *buf, size_t len, size_t max_request, size_t *scanned,
		    struct om_policy_request *req, size_t *used_r,
		    const char **error_r);

struct om_policy *om_policy_new(void);
void om_policy_free(struct om_policy **policy);
/* Where mail of an authenticated sender whose mailbox subscribes to an
   outbound feature goes: "transport:nexthop" (omamori.conf's
   outbound_filter, checked there), answered as "FILTER transport:nexthop".
   "" (the default) routes nothing: such mail gets DUNNO, since a FILTER to
   a transport Postfix does not define would defer it for ever.  Copied. */
void om_policy_set_outbound_filter(struct om_policy *policy, const char *filter);
/* omamori.conf's outbound_inline: 1 routes to the filter only what needs
   the after-queue path (decide/route.h), the rest is omamori-submit's. */
void om_policy_set_outbound_inline(struct om_policy *policy, int on);
/* The compromised-account brake (brake.h): where a braked login's mail
   goes ("transport:nexthop", omamori.conf's brake_filter; "" defers it)
   and the days of history it compares.  Copied. */
void om_policy_set_brake(struct om_policy *policy, const char *filter,
			 long history_days);
/* omamori's own SPF check (issue 15, doc/auth.md): at DATA, for a message
   from a client that did not authenticate, one of whose recipients' domain
   has auth-check on, spf says the result for (client address, HELO, MAIL
   FROM), and the answer is PREPEND "Authentication-Results: <authserv_id>;
   spf=<result> smtp.mailfrom=<domain>" - or REJECT for a fail when every
   recipient's domain has spf-reject on.  No spf (the default, and
   omamorictl policy test) or an empty authserv_id: DUNNO at DATA.  The
   id is copied; context is the caller's. */
typedef enum om_ar_result om_policy_spf_fn(void *context, const char *client_address,
					   const char *helo, const char *sender,
					   char *why, size_t why_size);
void om_policy_set_spf(struct om_policy *policy, const char *authserv_id,
		       om_policy_spf_fn *spf, void *context);
/* The brake's figures, for policyd to load, save and refresh. */
struct om_brake *om_policy_brake(struct om_policy *policy);
/* Replaces the snapshot with the store's current lists and settings.
   0 or -1 (the old snapshot stays). */
int om_policy_load(struct om_policy *policy, struct om_store *store,
		   char **error_r);
/* Brings the snapshot up to date if the store's configuration changed
   since: the changed scopes only (om_snapshot_update), and only the
   mailboxes whose settings those touch are resolved again.  0 unchanged,
   1 updated, -1 error. */
int om_policy_refresh(struct om_policy *policy, struct om_store *store,
		      char **error_r);
/* Rate counters: restored at start; merged every few seconds and at exit
   (this host's increments added to the store's counters, which then hold
   every host's: om_store_rates_merge); on an error the increments are
   kept and merged at the next save. */
int om_policy_load_rates(struct om_policy *policy, struct om_store *store,
			 char **error_r);
int om_policy_save_rates(struct om_policy *policy, struct om_store *store,
			 time_t now, char **error_r);
/* Saves whom authenticated senders wrote to since the last save (what
   digests use to tell mail from those addresses at once), in one
   transaction; kept for the next save on failure.  0 or -1. */
int om_policy_save_correspondents(struct om_policy *policy,
				  struct om_store *store, char **error_r);
/* The saves and the refresh in steps, for policyd's store thread (the
   thread alone calls the store; the event loop alone touches the
   policy).  take: this host's rate increments since the last merge move
   "in flight" (they still decide), the correspondents noted move out.
   write (the thread): the merge and the correspondents, each 0 or -1
   with its own error.  done (the loop): the merged counters decide from
   now on, plus whatever was counted meanwhile (still unmerged); what
   failed is given back to be merged next time: nothing lost, nothing
   counted twice.  Frees s. */
struct om_policy_save;
struct om_snapshot_changes;
struct om_policy_save *om_policy_take_save(struct om_policy *policy, time_t now);
int om_policy_write_save(struct om_store *store, struct om_policy_save *s,
			 char **rates_error_r, char **correspondents_error_r);
void om_policy_save_done(struct om_policy *policy, struct om_policy_save **s);
void om_policy_save_free(struct om_policy_save **s);
/* The "config" revision of the lists and settings in memory (for
   om_snapshot_read_changes), and om_policy_refresh's apply step: 1
   applied, 0 read from another revision (read again). */
long long om_policy_revision(const struct om_policy *policy);
int om_policy_apply_changes(struct om_policy *policy,
			    struct om_snapshot_changes *changes);
/* Forgets per-message state not seen for a while. */
void om_policy_expire(struct om_policy *policy, time_t now);
/* Counts of what the snapshot holds (lists entries, instances, users). */
void om_policy_stats(const struct om_policy *policy, size_t *entries_r,
		     size_t *instances_r, size_t *users_r);

/* Decides one request (and updates the per-message and rate state). */
void om_policy_decide(struct om_policy *policy,
		      const struct om_policy_request *req, time_t now,
		      struct om_policy_decision *out);

/* Appends what follows "action=" for dec ("DUNNO", "REJECT 5.7.1 ...",
   "FILTER smtp-omamori:[127.0.0.1]:10025") to out: the only place an
   answer's text is made, at the moment it is written. */
void om_policy_action_text(const struct om_policy_decision *dec,
			   struct om_buf *out);

#endif
