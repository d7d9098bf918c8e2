/* workers.c - omamori-scand's worker pool: each worker takes a connection,
 * reads framed requests, scans, answers, until the client closes.
 *
 * Each worker owns its own store handle (SQLite handles are per thread) and
 * an in-memory snapshot of the settings and lists, reloaded when the
 * store's configuration revision moves - asked only when the store's
 * change counter moved (SQLite's data_version, PostgreSQL's
 * notifications), so a scan with nothing changed costs no store read.
 * While the store cannot be read (PostgreSQL away), a worker holding a
 * snapshot scans with it and asks the store again once a second.  The
 * classifier is shared (classifier.c).
 */
#include "scand.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "proto/proto.h"
#include "crypto/report.h"
#include "auth/auth.h"
#include "dns/dns.h"
#include "scan/filetype.h"
#include "scan/partners.h"
#include "scan/scan.h"
#include "scan/unlock.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCAND_IDLE_TIMEOUT_MS 60000
#define SCAND_IDLE_SLICE_MS 250

struct scand_worker {
	struct scand *scand;
	struct om_store *store;
	/* the store's settings and lists, reloaded when they change */
	struct om_snapshot *snap;
	/* om_store_change_counter() when the snapshot was last brought up to
	   date (-1: never) */
	long long counter;
	/* when the store last failed to refresh a snapshot we kept (0: it
	   answers): asked again SCAND_STORE_RETRY_SECONDS later */
	time_t store_failed;
	/* the site's key sealing administrators' report copies */
	unsigned char report_key[OM_REPORT_KEY_LEN];
	/* omamori's own DKIM and DMARC (issue 15): a resolver and the
	   libraries' handles of its own; NULL without trusted_authserv_id */
	struct om_dns *dns;
	struct om_auth *auth;
	/* libmagic's handle (not thread-safe: one per worker, loaded at
	   start) */
	struct om_filetype *filetype;
	/* the audit rules of incoming mail, parsed (audit-in.c) */
	struct scand_audit_cache *audit;
	/* recipients' correspondents, remembered a moment (partners.h) */
	struct om_partners *partners;
	unsigned int id;
};

/* ---- connection queue ---- */

void scand_workers_push(struct scand *scand, int fd)
{
	struct scand_queue *q = &scand->queue;

	pthread_mutex_lock(&q->lock);
	if (q->closing) {
		pthread_mutex_unlock(&q->lock);
		close(fd);
		return;
	}
	if (q->count == q->cap) {
		size_t i, ncap = q->cap == 0 ? 64 : q->cap * 2;
		int *nfds = om_malloc(ncap * sizeof(int));

		for (i = 0; i < q->count; i++)
			nfds[i] = q->fds[(q->head + i) % q->cap];
		free(q->fds);
		q->fds = nfds;
		q->head = 0;
		q->cap = ncap;
	}
	q->fds[(q->head + q->count) % q->cap] = fd;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Next connection, or -1 when the pool is closing. */
/* The next connection: its fd, -1 when the pool closes, or
   SCAND_QUEUE_IDLE after idle_ms without one. */
#define SCAND_QUEUE_IDLE (-2)
static int scand_queue_pop(struct scand_queue *q, long idle_ms)
{
	struct timespec until;
	int fd = -1;

	om_deadline_after_ms(&until, idle_ms);
	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closing) {
		if (pthread_cond_timedwait(&q->cond, &q->lock, &until) == ETIMEDOUT &&
		    q->count == 0 && !q->closing) {
			pthread_mutex_unlock(&q->lock);
			return SCAND_QUEUE_IDLE;
		}
	}
	if (q->count > 0 && !q->closing) {
		fd = q->fds[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return fd;
}

/* 1 if connections wait for a worker. */
static int scand_queue_waiting(struct scand_queue *q)
{
	int waiting;

	pthread_mutex_lock(&q->lock);
	waiting = q->count > 0;
	pthread_mutex_unlock(&q->lock);
	return waiting;
}

/* ---- one request ---- */

static int scand_worker_store(struct scand_worker *w, char **error_r)
{
	const struct om_config *config = w->scand->config;

	if (w->store != NULL)
		return 0;
	if (om_store_open(config->store_path, 0, config->store_busy_timeout_ms,
			  &w->store, error_r) < 0)
		return -1;
	if (om_store_secret(w->store, OM_REPORT_KEY_NAME, w->report_key,
			    sizeof(w->report_key), error_r) < 0) {
		om_store_close(&w->store);
		return -1;
	}
	return 0;
}

/* A store that cannot be read (PostgreSQL away, issue 21) while the worker
   holds a snapshot: the snapshot keeps deciding, and the store is asked
   again at most once a second (a reconnect may take connect_timeout).
   1 when the snapshot is to be used as it is. */
#define SCAND_STORE_RETRY_SECONDS 1
/* The store's answer deadline (s) while the worker holds a snapshot it
   could scan with: for the change counter's occasional round trip (a
   one-row statement), and for reading what changed (a mailbox's rows,
   read in a moment by a server that answers).  A hung server costs a
   scan these, not the store's whole answer_timeout (30 s by default),
   which a delivery plugin waiting scan_timeout_ms may not outlast. */
#define SCAND_STORE_COUNTER_WAIT 2
#define SCAND_STORE_REFRESH_WAIT 10
/* how often an idle worker looks for a change */
#define SCAND_IDLE_REFRESH_MS 1000
static int scand_worker_keep_snapshot(struct scand_worker *w, const char *error)
{
	time_t now = time(NULL);

	if (w->snap == NULL || w->store == NULL)
		return 0;
	if (error == NULL)
		return w->store_failed != 0 &&
			now - w->store_failed < SCAND_STORE_RETRY_SECONDS;
	if (w->store_failed == 0)
		om_log_warn("worker %u: the store cannot be read (%s): scanning with "
			    "the settings and lists read before", w->id, error);
	w->store_failed = now;
	w->counter = -1;
	return 1;
}

/* Every domain's audit rules into the worker's cache; a failure leaves it
   empty, read a domain at a time as scans meet them (logged). */
static void scand_worker_audit_fill(struct scand_worker *w)
{
	char *error = NULL;

	if (scand_audit_cache_fill(&w->audit, w->store, &error) < 0) {
		om_log_warn("worker %u: audit rules not read: %s", w->id, error);
		free(error);
	}
}

/* The store's change counter; with a snapshot held, waiting at most
   SCAND_STORE_COUNTER_WAIT for it. */
static long long scand_worker_change_counter(struct scand_worker *w)
{
	long long counter;
	int before;

	if (w->snap == NULL)
		return om_store_change_counter(w->store);
	before = om_store_answer_timeout_at_most(w->store, SCAND_STORE_COUNTER_WAIT);
	counter = om_store_change_counter(w->store);
	(void)om_store_answer_timeout(w->store, before);
	return counter;
}

/* The held snapshot brought up to date, waiting at most
   SCAND_STORE_REFRESH_WAIT for the store: om_snapshot_refresh's value. */
static int scand_worker_refresh(struct scand_worker *w, char **error_r)
{
	int before, ret;

	before = om_store_answer_timeout_at_most(w->store, SCAND_STORE_REFRESH_WAIT);
	ret = om_snapshot_refresh(w->snap, w->store, error_r);
	(void)om_store_answer_timeout(w->store, before);
	return ret;
}

/* The worker's snapshot, fresh (or, while the store cannot be read, the
   last one).  0 or -1. */
static int scand_worker_snapshot(struct scand_worker *w, char **error_r)
{
	long long counter;

	if (scand_worker_keep_snapshot(w, NULL))
		return 0;
	if (scand_worker_store(w, error_r) < 0)
		return -1;
	/* read before the snapshot: a change committed meanwhile moves it
	   again and is read next time */
	counter = scand_worker_change_counter(w);
	if (w->snap == NULL) {
		w->snap = om_snapshot_new();
		if (om_snapshot_load(w->snap, w->store, error_r) < 0)
			goto fail;
		scand_worker_audit_fill(w);
		w->counter = counter;
		return 0;
	}
	if (counter >= 0 && counter == w->counter)
		return 0;
	switch (scand_worker_refresh(w, error_r)) {
	case 1:
		/* the configuration moved (audit rules too, schema v22): read
		   them again now, while the store answers */
		scand_worker_audit_fill(w);
		/* fall through */
	case 0:
		if (w->store_failed != 0)
			om_log_info("worker %u: the store answers again", w->id);
		w->store_failed = 0;
		w->counter = counter;
		return 0;
	default:
		break;
	}
	if (scand_worker_keep_snapshot(w, *error_r)) {
		om_free(error_r);
		return 0;
	}
fail:
	/* a store that failed once is reopened next time */
	w->counter = -1;
	scand_audit_cache_clear(w->audit);
	om_snapshot_free(&w->snap);
	om_store_close(&w->store);
	return -1;
}

/* The recipient's language and admin copy address (NULL: off). */
static int scand_domain_settings(struct scand_worker *w, const char *mailbox,
				 char **lang_r, char **admin_r, char **error_r)
{
	const struct om_settings_source *src;
	char *admin;

	if (scand_worker_snapshot(w, error_r) < 0)
		return -1;
	src = om_snapshot_source(w->snap);
	*lang_r = om_settings_domain_value_from(src, mailbox, "language",
						w->scand->config->default_language,
						error_r);
	if (*lang_r == NULL)
		return -1;
	admin = om_settings_domain_value_from(src, mailbox, "virus-admin-copy",
					      "off", error_r);
	if (admin == NULL) {
		om_free(lang_r);
		return -1;
	}
	if (strcmp(admin, "off") == 0)
		om_free(&admin);
	*admin_r = admin;
	return 0;
}

/* A value's name for a log line; "-" for none. */
static const char *scand_word(const char *name)
{
	return name != NULL ? name : "-";
}

static void scand_log_result(const struct om_scan_request *req,
			     const struct om_scan_result *res, uint64_t ms)
{
	char *session = om_sanitize(req->session_id != NULL ? req->session_id : "-", 64);
	char *mailbox = om_sanitize(req->mailbox, 128);
	char *virus = om_sanitize(res->virus != NULL ? res->virus : "-", 128);
	char *reason = om_sanitize(res->reason != NULL ? res->reason : "-", 160);

	om_log_info("%s scan mailbox=%s direction=%s size=%zu verdict=%s "
		    "action=%s virus=%s reason=\"%s\" spam_score=%s rules=%s "
		    "spam_action=%s ms=%llu", session, mailbox,
		    scand_word(om_direction_name(req->direction)), req->message_len,
		    scand_word(om_verdict_name(res->verdict)),
		    scand_word(om_action_name(res->action)),
		    virus, reason, res->spam_score != NULL ? res->spam_score : "-",
		    res->spam_rules != NULL && *res->spam_rules != '\0' ?
		    res->spam_rules : "-",
		    scand_word(om_spam_action_name(res->spam_action)),
		    (unsigned long long)ms);
	free(session);
	free(mailbox);
	free(virus);
	free(reason);
}

/* A scan that failed: the mailbox and the error (which may quote it)
   come from the client. */
static void scand_log_failure(const struct om_scan_request *req,
			      const char *error)
{
	char *mailbox = om_sanitize(req->mailbox, 128);
	char *clean = om_sanitize(error, 300);

	om_log_error("scan mailbox=%s: %s", mailbox, clean);
	free(mailbox);
	free(clean);
}

/* A monotonic clock in microseconds, for the scan latency histogram. */
static uint64_t scand_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Scans one decoded request; answers a result or an error frame in out. */
static void scand_handle_scan(struct scand_worker *w,
			      const struct om_scan_request *req,
			      struct om_buf *out)
{
	const struct om_config *config = w->scand->config;
	struct om_scan_settings set;
	struct scand_engine_ref *ref;
	struct om_scan_result res;
	char *lang = NULL, *admin = NULL, *from, *error = NULL;
	uint64_t start = om_now_ms(), start_us = scand_now_us();
	int ret;

	if (scand_domain_settings(w, req->mailbox, &lang, &admin, &error) < 0) {
		scand_metrics_scan(w->scand, NULL, scand_now_us() - start_us);
		scand_log_failure(req, error);
		om_proto_encode_error(error, out);
		free(error);
		return;
	}
	from = om_scan_notice_from(config->notice_from, req->mailbox);
	memset(&set, 0, sizeof(set));
	set.max_size = (size_t)config->scan_max_size;
	set.max_parts = (size_t)config->scan_max_parts;
	set.max_depth = (unsigned int)config->scan_max_depth;
	set.limit_action = config->scan_limit_action;
	set.templates_dir = config->templates_dir;
	set.language = lang;
	set.notice_from = from;
	set.brand.name = config->brand_name;
	set.brand.support = config->brand_support;
	set.admin_copy = admin;
	set.report_key = w->report_key;
	set.now = time(NULL);
	set.snap = w->snap;
	set.trusted_authserv_id = config->trusted_authserv_id;
	set.own_authserv_id = config->own_authserv_id;
	set.auth = w->auth;
	set.authserv_hops = (unsigned int)config->trusted_authserv_hops;
	set.link_keys = w->scand->has_link_keys ? &w->scand->link_keys : NULL;
	set.web_url = config->web_url;
	set.link_lifetime = (time_t)config->url_token_days * 86400;
	set.isolate_pk = w->scand->has_isolate_pk ? w->scand->isolate_pk : NULL;
	set.isolate_dir = config->isolate_dir;
	set.store = w->store;
	if (w->partners == NULL)
		w->partners = om_partners_new();
	set.partners = w->partners;
	set.geo = w->scand->geo;
	set.sandbox_command = config->sandbox_command;
	set.sandbox_url = config->sandbox_url;
	set.sandbox_max_wait = config->sandbox_max_wait;
	set.sandbox_timeout = config->sandbox_timeout;
	set.sandbox_temp_dir = config->scan_temp_dir[0] != '\0' ? config->scan_temp_dir : NULL;
	set.sandbox_gate = w->scand->sandbox_gate;
	ref = scand_engines_acquire(&w->scand->engines);
	set.engine = ref->engine;
	set.attachment_rules = ref->rules;
	set.filetype = w->filetype;
	set.phish = w->scand->phish;
	set.spam_db = scand_classifier_read(&w->scand->classifier);
	om_scan_result_init(&res);
	ret = om_scan_message(&set, req, &res, &error);
	/* the recipient domain's audit rules over what is to be delivered */
	if (ret == 0)
		ret = scand_audit_apply(&w->audit, &set, req, &res, &error);
	scand_classifier_done(&w->scand->classifier);
	scand_engines_release(&w->scand->engines, &ref);
	scand_metrics_scan(w->scand, ret < 0 ? NULL : &res, scand_now_us() - start_us);
	if (ret < 0) {
		scand_log_failure(req, error);
		scand_trace_scan(w->scand, req, NULL, error);
		om_proto_encode_error(error, out);
		free(error);
	} else {
		scand_log_result(req, &res, om_now_ms() - start);
		scand_trace_scan(w->scand, req, &res, NULL);
		om_proto_encode_result(&res, out);
	}
	om_scan_result_free(&res);
	free(lang);
	free(admin);
	free(from);
}

/* Learns one message as spam or ham (from the plugin in imap). */
static void scand_handle_learn(struct scand_worker *w,
			       const struct om_scan_request *req,
			       struct om_buf *out)
{
	char *session = om_sanitize(req->session_id != NULL ? req->session_id : "-", 64);
	char *mailbox = om_sanitize(req->mailbox, 128);
	enum om_spam_lesson_outcome outcome;
	long count = 0;

	if ((size_t)w->scand->config->scan_max_size < req->message_len) {
		om_proto_encode_error("message too large to learn", out);
	} else if (!scand_classifier_may_learn(&w->scand->classifier, req->mailbox,
					       w->scand->config->learn_max_per_hour,
					       time(NULL), &count)) {
		/* logged once when the bound is passed, not for every move */
		if (count == w->scand->config->learn_max_per_hour + 1)
			om_log_warn("%s learn mailbox=%s refused: %ld messages this hour "
				    "(learn_max_per_hour)", session, mailbox, count - 1);
		om_proto_encode_error("this mailbox has taught the classifier enough "
				      "this hour (learn_max_per_hour)", out);
	} else {
		outcome = scand_classifier_learn(&w->scand->classifier, w->scand->phish,
						 req->mailbox, req->message,
						 req->message_len,
						 req->learn == OM_LEARN_SPAM);
		om_log_info("%s learn mailbox=%s as=%s size=%zu lesson=%s", session,
			    mailbox, scand_word(om_learn_name(req->learn)),
			    req->message_len, om_spam_lesson_outcome_name(outcome));
		om_proto_encode_empty(OM_MSG_LEARN_RESULT, out);
	}
	free(session);
	free(mailbox);
}

/* omamorictl changed the token table in the store: scans use it from the
   answer on. */
static void scand_handle_sync(struct scand_worker *w, struct om_buf *out)
{
	char *error = NULL;

	if (scand_classifier_sync_now(&w->scand->classifier, &error) < 0) {
		om_log_error("classifier sync: %s", error);
		om_proto_encode_error("cannot reload the classifier", out);
		free(error);
		return;
	}
	om_log_info("classifier synced on request");
	om_proto_encode_empty(OM_MSG_SYNC_RESULT, out);
}

/* Opens an isolated file with the password its recipient typed on
   omamori-web's page (scan/unlock.h); answers what is inside. */
static void scand_handle_unlock(struct scand_worker *w,
				const struct om_unlock_request *req,
				struct om_buf *out)
{
	struct scand_engine_ref *ref;
	struct om_unlock_env env;
	struct om_unlock_result res;
	char *mailbox = om_sanitize(req->mailbox, 128);
	uint64_t start = om_now_ms();

	if ((size_t)w->scand->config->scan_max_size < req->data_len) {
		om_proto_encode_error("file too large to unlock", out);
		free(mailbox);
		return;
	}
	ref = scand_engines_acquire(&w->scand->engines);
	env.av = ref->engine;
	env.rules = ref->rules;
	env.ft = w->filetype;
	om_unlock_open(&env, req, &res);
	scand_engines_release(&w->scand->engines, &ref);
	/* never the password, nor a member's name (the recipient's data) */
	om_log_info("unlock mailbox=%s size=%zu kind=%s status=%s entries=%zu "
		    "member=%ld sent=%zu ms=%llu", mailbox, req->data_len,
		    res.kind != NULL ? res.kind : "-", om_unlock_status_name(res.status),
		    res.entry_count, req->member, res.data_len,
		    (unsigned long long)(om_now_ms() - start));
	om_proto_encode_unlock_result(&res, out);
	om_unlock_result_free(&res);
	free(mailbox);
}

/* The checks mailbox's inbound-virus and spam subscriptions ask for (the
   delivery plugin while the store cannot be read, issue 21), resolved as
   the plugin does, from the worker's snapshot as it is: never the store
   (it is away when this is asked).  No snapshot: an ERROR frame. */
static void scand_handle_checks(struct scand_worker *w, const char *mailbox,
				struct om_buf *out)
{
	const struct om_settings_source *src;
	enum om_sub_state virus, spam;
	const char *source;
	char *error = NULL, *clean = om_sanitize(mailbox, 128);

	if (w->snap == NULL) {
		om_log_warn("checks mailbox=%s: no settings read yet", clean);
		om_proto_encode_error("scand has read no settings yet", out);
		free(clean);
		return;
	}
	src = om_snapshot_source(w->snap);
	if (om_settings_subscription_from(src, mailbox, OM_FEATURE_INBOUND_VIRUS,
					  &virus, &source, &error) < 0 ||
	    om_settings_subscription_from(src, mailbox, OM_FEATURE_SPAM,
					  &spam, &source, &error) < 0) {
		om_log_warn("checks mailbox=%s: %s", clean, error);
		om_proto_encode_error("cannot resolve the subscriptions", out);
		free(error);
		free(clean);
		return;
	}
	/* off or paused: that check does not run */
	om_proto_encode_checks_result((virus == OM_SUB_ON ? OM_CHECK_VIRUS : 0) |
				      (spam == OM_SUB_ON ? OM_CHECK_SPAM : 0), out);
	om_log_info("checks mailbox=%s virus=%s spam=%s", clean,
		    virus == OM_SUB_ON ? "on" : "off",
		    spam == OM_SUB_ON ? "on" : "off");
	free(clean);
}

/* Answers a request that cannot be decoded; the connection is closed. */
static int scand_bad_request(const char *what, char *error, struct om_buf *out)
{
	om_log_warn("bad %s request: %s", what, error);
	om_proto_encode_error(error, out);
	free(error);
	return -1;
}

/* May this peer make a request of this kind?  PING: anyone who could
   connect.  SCAN, LEARN and SYNC: root, scand's user or a member of its group
   (Dovecot's mail processes, omamorictl run by root or that group) - even
   when an administrator made the socket itself wider. */
static int scand_peer_may(const struct om_daemon_peer *peer, uint16_t type)
{
	if (type == OM_MSG_PING)
		return 1;
	return peer->in_group;
}

static int scand_refuse_peer(const struct om_daemon_peer *peer, uint16_t type,
			     char *body, struct om_buf *out)
{
	free(body);
	om_log_warn("refused a %s request from uid %ld pid %ld: not root, "
		    "scand's user or its group",
		    type == OM_MSG_LEARN_REQUEST ? "learn" :
		    type == OM_MSG_SYNC_REQUEST ? "sync" :
		    type == OM_MSG_UNLOCK_REQUEST ? "unlock" :
		    type == OM_MSG_CHECKS_REQUEST ? "checks" : "scan",
		    (long)peer->uid, (long)peer->pid);
	om_proto_encode_error("permission denied", out);
	return -1;
}

/* Handles one frame; returns 0 to keep the connection, -1 to close it. */
static int scand_handle_frame(struct scand_worker *w,
			      const struct om_daemon_peer *peer, uint16_t type,
			      char *body, size_t len, struct om_buf *out)
{
	struct om_scan_request req;
	char *error = NULL;
	int ret;

	if (!scand_peer_may(peer, type))
		return scand_refuse_peer(peer, type, body, out);
	switch (type) {
	case OM_MSG_PING:
		free(body);
		om_proto_encode_empty(OM_MSG_PONG, out);
		return 0;
	case OM_MSG_SYNC_REQUEST:
		free(body);
		if (len != 0) {
			om_proto_encode_error("sync request with a body", out);
			return -1;
		}
		scand_handle_sync(w, out);
		return 0;
	case OM_MSG_SCAN_REQUEST:
	case OM_MSG_LEARN_REQUEST:
		if (om_proto_decode_request(body, len, &req, &error) < 0)
			return scand_bad_request("scan", error, out);
		if ((type == OM_MSG_LEARN_REQUEST) != (req.learn != OM_LEARN_NONE)) {
			om_scan_request_free(&req);
			return scand_bad_request("scan", om_strdup(
				"the learn field belongs to learn requests only"), out);
		}
		if (type == OM_MSG_LEARN_REQUEST)
			scand_handle_learn(w, &req, out);
		else
			scand_handle_scan(w, &req, out);
		om_scan_request_free(&req);
		return 0;
	case OM_MSG_UNLOCK_REQUEST: {
		struct om_unlock_request ureq;

		if (om_proto_decode_unlock_request(body, len, &ureq, &error) < 0)
			return scand_bad_request("unlock", error, out);
		scand_handle_unlock(w, &ureq, out);
		om_unlock_request_free(&ureq);
		return 0;
	}
	case OM_MSG_CHECKS_REQUEST: {
		char *mailbox;

		error = NULL;
		ret = om_proto_decode_checks_request(body, len, &mailbox, &error);
		free(body);
		if (ret < 0)
			return scand_bad_request("checks", error, out);
		scand_handle_checks(w, mailbox, out);
		free(mailbox);
		return 0;
	}
	default:
		free(body);
		om_log_warn("unexpected frame type %u", type);
		om_proto_encode_error("unexpected frame type", out);
		return -1;
	}
}

/* Waits until fd is readable; 1 ready, 0 idle too long or stopping.  An
   idle connection gives its worker up after one slice when others wait
   (our own clients send one request per connection; a persistent one
   that pauses just reconnects). */
static int scand_wait_request(struct scand_worker *w, int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int waited = 0, ret;

	while (!w->scand->stopping && waited < SCAND_IDLE_TIMEOUT_MS) {
		ret = poll(&pfd, 1, SCAND_IDLE_SLICE_MS);
		if (ret > 0)
			return 1;
		if (ret < 0 && errno != EINTR)
			return 0;
		waited += SCAND_IDLE_SLICE_MS;
		if (scand_queue_waiting(&w->scand->queue))
			return 0;
	}
	return 0;
}

static void scand_serve_connection(struct scand_worker *w, int fd)
{
	const struct om_config *config = w->scand->config;
	size_t max_body = (size_t)config->scan_max_size + OM_PROTO_OVERHEAD;
	struct om_daemon_peer peer;
	struct om_buf out;
	char *body = NULL, *error = NULL;
	uint16_t type;
	size_t len;
	int ret, requeue = 0;

	if (om_daemon_peer(fd, &peer, &error) < 0) {
		om_log_warn("client: %s", error);
		free(error);
		close(fd);
		return;
	}
	om_buf_init(&out);
	while (scand_wait_request(w, fd) > 0) {
		ret = om_proto_read_frame(fd, (int)config->scan_timeout_ms,
					  max_body, &type, &body, &len, &error);
		if (ret <= 0) {
			if (ret < 0) {
				om_log_warn("client: %s", error);
				om_buf_reset(&out);
				om_proto_encode_error(error, &out);
				(void)om_proto_write_all(fd, out.data, out.len,
							 1000, &error);
			}
			break;
		}
		om_buf_reset(&out);
		atomic_fetch_add_explicit(&w->scand->metrics.busy, 1, memory_order_relaxed);
		ret = scand_handle_frame(w, &peer, type, body, len, &out);
		atomic_fetch_sub_explicit(&w->scand->metrics.busy, 1, memory_order_relaxed);
		if (om_proto_write_all(fd, out.data, out.len,
				       (int)config->scan_timeout_ms, &error) < 0) {
			om_log_warn("client: answer not sent: %s", error);
			break;
		}
		if (ret < 0)
			break;
		/* round robin: back in line behind the waiting ones */
		requeue = scand_queue_waiting(&w->scand->queue);
		if (requeue)
			break;
	}
	free(error);
	om_buf_free(&out);
	if (requeue)
		scand_workers_push(w->scand, fd);
	else
		close(fd);
}

static void *scand_worker_main(void *arg)
{
	struct scand_worker *w = arg;
	char *error = NULL;
	int fd;

	/* the snapshot before the first request, not at it: a worker that
	   has read its settings and lists goes on scanning while the store is
	   away (issue 21); a failure here is met again at the first scan */
	if (scand_worker_snapshot(w, &error) < 0) {
		om_log_warn("worker %u: settings and lists not read at start: %s",
			    w->id, error);
		free(error);
	}
	/* an idle worker keeps its snapshot fresh (a change counter read a
	   second; a reload only when it moved), so that what it decides with
	   when the store goes away is what the store said last */
	while ((fd = scand_queue_pop(&w->scand->queue, SCAND_IDLE_REFRESH_MS)) != -1) {
		if (fd >= 0) {
			scand_serve_connection(w, fd);
		} else if (scand_worker_snapshot(w, &error) < 0) {
			om_free(&error);
		}
	}
	om_snapshot_free(&w->snap);
	scand_audit_cache_free(&w->audit);
	om_partners_free(&w->partners);
	om_store_close(&w->store);
	om_auth_free(&w->auth);
	om_dns_free(&w->dns);
	om_filetype_free(&w->filetype);
	free(w);
	return NULL;
}

/* The worker's resolver and DKIM/DMARC handles, when omamori has an
   authserv-id to write its results under.  0 or -1. */
static int scand_worker_auth(struct scand_worker *w, char **error_r)
{
	const struct om_config *config = w->scand->config;

	if (*config->trusted_authserv_id == '\0')
		return 0;
	if (om_dns_new(config->dns_resolver, config->dns_timeout_ms, &w->dns,
		       error_r) < 0)
		return -1;
	if (om_auth_new(w->dns, config->own_authserv_id, &w->auth, error_r) < 0) {
		om_dns_free(&w->dns);
		return -1;
	}
	return 0;
}

int scand_workers_start(struct scand *scand, char **error_r)
{
	struct scand_queue *q = &scand->queue;
	struct scand_worker *w;
	size_t i;
	int ret;

	if (pthread_mutex_init(&q->lock, NULL) != 0 ||
	    pthread_cond_init(&q->cond, NULL) != 0) {
		*error_r = om_strdup("cannot initialise the connection queue");
		return -1;
	}
	scand->worker_count = (size_t)scand->config->scand_workers;
	scand->workers = om_calloc(scand->worker_count, sizeof(pthread_t));
	for (i = 0; i < scand->worker_count; i++) {
		w = om_calloc(1, sizeof(*w));
		w->scand = scand;
		w->id = (unsigned int)i;
		if (om_filetype_new(&w->filetype, error_r) < 0) {
			free(w);
			scand->worker_count = i;
			return -1;
		}
		if (scand_worker_auth(w, error_r) < 0) {
			om_filetype_free(&w->filetype);
			free(w);
			scand->worker_count = i;
			return -1;
		}
		ret = pthread_create(&scand->workers[i], NULL, scand_worker_main, w);
		if (ret != 0) {
			*error_r = om_asprintf("pthread_create: %s", strerror(ret));
			om_auth_free(&w->auth);
			om_dns_free(&w->dns);
			om_filetype_free(&w->filetype);
			free(w);
			scand->worker_count = i;
			return -1;
		}
	}
	return 0;
}

void scand_workers_stop(struct scand *scand)
{
	struct scand_queue *q = &scand->queue;
	size_t i;

	pthread_mutex_lock(&q->lock);
	q->closing = 1;
	for (i = 0; i < q->count; i++)
		close(q->fds[(q->head + i) % q->cap]);
	q->count = 0;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < scand->worker_count; i++)
		(void)pthread_join(scand->workers[i], NULL);
	free(scand->workers);
	scand->workers = NULL;
	free(q->fds);
	q->fds = NULL;
}
