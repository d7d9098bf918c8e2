/* policyd-trace.c - omamori-policyd's answers as message trace events
 * (doc/trace.md).
 *
 * Every RCPT answer is recorded (DUNNO included: "accepted by the policy"
 * is what an administrator looks for first), and the answers at DATA and
 * END-OF-MESSAGE that are not DUNNO (an SPF refusal, a brake).  A row
 * belongs to the recipient's domain, or to the sender's for an
 * authenticated (outbound) sender.  A message's DUNNO answers at RCPT are
 * one row per domain and reason (schema v23: its first recipient, the
 * others named in the detail, their count in `recipients`), gathered
 * here until the message's END-OF-MESSAGE or its wait is over: a row per
 * message rather than per recipient.  Every other answer (a refusal, a
 * FILTER) keeps its own row.
 *
 * The first RCPT of a message has no queue id yet (Postfix opens the
 * queue file after the first valid recipient), and the queue id is what
 * ties policy answers to the scan of the same message.  So a message's
 * answers wait here, per Postfix instance, until a later request of the
 * same instance carries the queue id (the next RCPT, DATA or
 * END-OF-MESSAGE), or POLICYD_TRACE_WAIT seconds (then they are written
 * without it: a message refused at its only RCPT has none).  A message is
 * forgotten at its END-OF-MESSAGE, or POLICYD_TRACE_WAIT seconds after
 * its first answer.  Messages remembered are bounded by
 * POLICYD_TRACE_INSTANCES (past it, answers are written without waiting
 * for their queue id), answers per message by POLICYD_TRACE_PER_INSTANCE,
 * and the written queue by
 * OM_EVENTS_BOUND (store/events.h); what does not fit is dropped and
 * counted in the log.
 *
 * The writing is a thread's of its own, with its own store handle (as
 * scand's trace): the event loop only queues answers and, once
 * POLICYD_TRACE_BATCH wait, wakes the writer; a transaction's commit
 * never holds up a request.  The writer otherwise writes every
 * OM_EVENTS_FLUSH_MS.
 */
#include "policyd-trace.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Seconds a message's answers wait for its queue id. */
#define POLICYD_TRACE_WAIT 30
/* Messages whose answers wait at once, and answers per message. */
#define POLICYD_TRACE_INSTANCES 20000
#define POLICYD_TRACE_PER_INSTANCE 64
/* A message's rows of accepted recipients (domains x reasons); past it,
   a DUNNO answer is a row of its own. */
#define POLICYD_TRACE_GROUPS 4
/* Answers that wake the writer thread for a batch before its interval. */
#define POLICYD_TRACE_BATCH (OM_EVENTS_BOUND / 10)
/* An event's detail: the rest of an answer's text (at most a header,
   the longest of its parts) and its reason, whole (the store cuts it to
   its own bound, as before). */
#define POLICYD_TRACE_DETAIL_MAX (OM_POLICY_HEADER_MAX + OM_POLICY_REASON_MAX + 64)

/* One row of a message's accepted recipients: those of one domain
   (inbound) or all (outbound) with one reason. */
struct policyd_trace_group {
	struct om_store_event ev;	/* texts below; recipients: the count */
	char *sender, *first, *result, *detail;
	struct om_buf others;		/* "; also to a, b" */
};

/* One message's answers (one instance), waiting for its queue id. */
struct policyd_trace_instance {
	struct om_events *waiting;
	/* allocated at its first DUNNO: a message refused at its only RCPT,
	   or many that wait (polload's), carry none */
	struct policyd_trace_group *groups;
	size_t group_count;
	/* its accepted recipients, for a whole-message answer at DATA */
	char **recipients;
	size_t recipient_count;
	char queue_id[64];
	time_t first;
};

/* The thread that writes the ready queue. */
struct policyd_trace_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct om_store *store;	/* its own handle */
	int running;		/* the loop's view: started, not yet joined */
	int kicked, stop;	/* under lock */
};

struct policyd_trace {
	struct om_events *ready;	/* to write at the next flush */
	struct om_hash *instances;	/* instance -> policyd_trace_instance */
	unsigned long dropped;		/* the event loop's count */
	struct policyd_trace_writer writer;
	struct om_buf words;		/* an answer's text, reused */
};

static void policyd_trace_instance_free(void *value)
{
	struct policyd_trace_instance *inst = value;
	size_t i;

	if (inst == NULL)
		return;
	for (i = 0; i < inst->group_count; i++) {
		free(inst->groups[i].sender);
		free(inst->groups[i].first);
		free(inst->groups[i].result);
		free(inst->groups[i].detail);
		om_buf_free(&inst->groups[i].others);
	}
	free(inst->groups);
	om_events_free(&inst->waiting);
	for (i = 0; i < inst->recipient_count; i++)
		free(inst->recipients[i]);
	free(inst->recipients);
	free(inst);
}

struct policyd_trace *policyd_trace_new(void)
{
	struct policyd_trace *trace = om_calloc(1, sizeof(*trace));

	trace->ready = om_events_new(OM_EVENTS_BOUND);
	trace->instances = om_hash_new(256);
	om_buf_init(&trace->words);
	return trace;
}

void policyd_trace_free(struct policyd_trace **tracep)
{
	struct policyd_trace *trace = *tracep;

	if (trace == NULL)
		return;
	*tracep = NULL;
	policyd_trace_stop(trace);
	om_events_free(&trace->ready);
	om_hash_free(&trace->instances, policyd_trace_instance_free);
	om_buf_free(&trace->words);
	free(trace);
}

/* Moves one message's rows of accepted recipients to the ready queue,
   with its queue id when it has one (the message is done with). */
static void policyd_trace_release_groups(struct policyd_trace *trace,
					 struct policyd_trace_instance *inst)
{
	struct policyd_trace_group *g;
	struct om_buf detail;
	size_t i;

	om_buf_init(&detail);
	for (i = 0; i < inst->group_count; i++) {
		g = &inst->groups[i];
		om_buf_reset(&detail);
		om_buf_append(&detail, g->detail, strlen(g->detail));
		if (g->others.len > 0)
			om_buf_append(&detail, g->others.data, g->others.len);
		g->ev.sender = g->sender;
		g->ev.recipient = g->first;
		g->ev.result = g->result;
		g->ev.detail = detail.data;
		g->ev.queue_id = inst->queue_id;
		if (om_events_push(trace->ready, &g->ev) < 0)
			trace->dropped += om_events_take_dropped(trace->ready);
	}
	om_buf_free(&detail);
}

/* Moves one waiting message's answers to the ready queue, with its
   queue id when it has one. */
static void policyd_trace_release(struct policyd_trace *trace,
				  struct policyd_trace_instance *inst)
{
	/* what does not fit is counted by the ready queue */
	(void)om_events_move(inst->waiting, trace->ready, inst->queue_id);
	trace->dropped += om_events_take_dropped(inst->waiting);
}

static struct policyd_trace_instance *
policyd_trace_instance(struct policyd_trace *trace, const char *instance, time_t now)
{
	struct policyd_trace_instance *inst = om_hash_get(trace->instances, instance);

	if (inst != NULL || om_hash_count(trace->instances) >= POLICYD_TRACE_INSTANCES)
		return inst;
	inst = om_calloc(1, sizeof(*inst));
	inst->waiting = om_events_new(POLICYD_TRACE_PER_INSTANCE);
	inst->first = now;
	(void)om_hash_set(trace->instances, instance, inst);
	return inst;
}

static void policyd_trace_remember_recipient(struct policyd_trace_instance *inst,
					     const char *recipient)
{
	if (*recipient == '\0' || inst->recipient_count >= POLICYD_TRACE_PER_INSTANCE)
		return;
	inst->recipients = om_realloc(inst->recipients, (inst->recipient_count + 1) *
				      sizeof(*inst->recipients));
	inst->recipients[inst->recipient_count++] = om_strdup(recipient);
}

/* The event of an answer to req for recipient (its domain, or the
   sender's for an authenticated sender). */
static void policyd_trace_event(const struct om_policy_request *req,
				const char *recipient, const char *result,
				const char *detail, time_t now,
				struct om_store_event *ev)
{
	int outbound = *req->sasl_username != '\0';

	memset(ev, 0, sizeof(*ev));
	ev->at = (long long)now;
	ev->direction = outbound ? OM_DIRECTION_OUT : OM_DIRECTION_IN;
	ev->domain = om_store_event_domain(outbound ? req->sender : recipient);
	ev->sender = req->sender;
	ev->recipient = recipient;
	ev->queue_id = req->queue_id;
	ev->step = "policy";
	ev->result = result;
	ev->detail = detail;
	ev->recipients = 1;
}

/* Counts a DUNNO answer at RCPT in its message's row for its domain and
   reason: 1, or 0 when the message has no room for another row. */
static int policyd_trace_accept(struct policyd_trace_instance *inst,
				const struct om_policy_request *req,
				const char *result, const char *detail, time_t now)
{
	struct policyd_trace_group *g;
	struct om_store_event ev;
	size_t i;

	policyd_trace_event(req, req->recipient, result, detail, now, &ev);
	for (i = 0; i < inst->group_count; i++) {
		g = &inst->groups[i];
		if (g->ev.direction == ev.direction && strcmp(g->detail, detail) == 0 &&
		    strcmp(g->result, result) == 0 &&
		    strcasecmp(g->ev.domain, ev.domain) == 0)
			break;
	}
	if (i == inst->group_count) {
		if (inst->group_count >= POLICYD_TRACE_GROUPS)
			return 0;
		inst->groups = om_realloc(inst->groups, (inst->group_count + 1) *
					  sizeof(*inst->groups));
		g = &inst->groups[inst->group_count++];
		g->ev = ev;
		g->ev.recipients = 0;
		g->sender = om_strdup(req->sender);
		g->first = om_strdup(req->recipient);
		g->result = om_strdup(result);
		g->detail = om_strdup(detail);
		/* the domain is the first recipient's, or the sender's */
		g->ev.domain = om_store_event_domain(ev.direction == OM_DIRECTION_OUT ?
						     g->sender : g->first);
		om_buf_init(&g->others);
	} else if (g->others.len < OM_EVENT_DETAIL_MAX) {
		om_buf_append_str(&g->others, g->ev.recipients == 1 ? "; also to " : ", ");
		om_buf_append_str(&g->others, req->recipient);
	}
	g->ev.recipients++;
	return 1;
}

/* result: the answer's first word ("DUNNO", "REJECT", "FILTER", or the
   SMTP code); detail: the rest and the reason.  Made in trace->words and
   the caller's bounded buffers (an answer's text is a fixed text with at
   most a filter's destination or a header; the reason is at most
   OM_POLICY_REASON_MAX): no allocation per answer. */
static void policyd_trace_words(struct policyd_trace *trace,
				const struct om_policy_decision *dec,
				char *result, size_t result_size,
				char *detail, size_t detail_size)
{
	struct om_buf *action = &trace->words;
	const char *space;
	size_t n;

	om_buf_reset(action);
	om_policy_action_text(dec, action);
	space = strchr(action->data, ' ');
	n = space != NULL ? (size_t)(space - action->data) : action->len;
	if (n >= result_size)
		n = result_size - 1;
	memcpy(result, action->data, n);
	result[n] = '\0';
	if (space != NULL && *dec->reason != '\0')
		(void)snprintf(detail, detail_size, "%s (%s)", space + 1, dec->reason);
	else
		(void)om_strlcpy(detail, space != NULL ? space + 1 : dec->reason,
				 detail_size);
}

static int policyd_trace_is_state(const struct om_policy_request *req, const char *state)
{
	return strcmp(req->protocol_state, state) == 0;
}

void policyd_trace_answer(struct policyd_trace *trace,
			  const struct om_policy_request *req,
			  const struct om_policy_decision *dec, time_t now)
{
	struct policyd_trace_instance *inst = NULL;
	struct om_store_event ev;
	char result[64], detail[POLICYD_TRACE_DETAIL_MAX];
	size_t i;
	int rcpt = policyd_trace_is_state(req, "RCPT");

	if (!rcpt && dec->kind == OM_POLICY_DUNNO)
		goto queue_id;
	if (!rcpt && !policyd_trace_is_state(req, "DATA") &&
	    !policyd_trace_is_state(req, "END-OF-MESSAGE"))
		return;
	policyd_trace_words(trace, dec, result, sizeof(result), detail, sizeof(detail));
	if (*req->instance != '\0')
		inst = policyd_trace_instance(trace, req->instance, now);
	if (rcpt && inst != NULL && dec->kind == OM_POLICY_DUNNO &&
	    policyd_trace_accept(inst, req, result, detail, now)) {
		policyd_trace_remember_recipient(inst, req->recipient);
	} else if (rcpt || *req->recipient != '\0' || *req->sasl_username != '\0' ||
		   inst == NULL) {
		policyd_trace_event(req, req->recipient, result, detail, now, &ev);
		if (inst != NULL && *req->queue_id == '\0') {
			if (om_events_push(inst->waiting, &ev) < 0)
				trace->dropped += om_events_take_dropped(inst->waiting);
		} else if (om_events_push(trace->ready, &ev) < 0) {
			trace->dropped += om_events_take_dropped(trace->ready);
		}
		if (rcpt && inst != NULL && dec->kind == OM_POLICY_DUNNO)
			policyd_trace_remember_recipient(inst, req->recipient);
	} else {
		/* a whole-message answer to an inbound message with several
		   recipients: one row for each (its domain's) */
		for (i = 0; i < inst->recipient_count; i++) {
			policyd_trace_event(req, inst->recipients[i], result, detail,
					    now, &ev);
			if (om_events_push(trace->ready, &ev) < 0)
				trace->dropped += om_events_take_dropped(trace->ready);
		}
	}
queue_id:
	if (*req->instance == '\0' ||
	    (inst = om_hash_get(trace->instances, req->instance)) == NULL)
		return;
	if (*req->queue_id != '\0' && inst->queue_id[0] == '\0' &&
	    om_strlcpy(inst->queue_id, req->queue_id, sizeof(inst->queue_id)) == 0)
		policyd_trace_release(trace, inst);
	/* the message's last request: nothing more will come for it */
	if (policyd_trace_is_state(req, "END-OF-MESSAGE")) {
		policyd_trace_release_groups(trace, inst);
		policyd_trace_release(trace, inst);
		policyd_trace_instance_free(om_hash_delete(trace->instances, req->instance));
	}
}

size_t policyd_trace_pending(struct policyd_trace *trace)
{
	return om_events_pending(trace->ready);
}

int policyd_trace_due(struct policyd_trace *trace)
{
	/* the writer thread takes larger batches: fewer commits for the
	   same answers, still a tenth of the queue's bound */
	size_t due = trace->writer.running ? POLICYD_TRACE_BATCH :
		OM_EVENTS_FLUSH_COUNT;

	return om_events_pending(trace->ready) >= due;
}

struct policyd_trace_old {
	struct policyd_trace *trace;
	time_t before;
	char **keys;
	size_t count;
};

static void policyd_trace_collect_old(void *context, const char *key, void *value)
{
	struct policyd_trace_old *old = context;
	struct policyd_trace_instance *inst = value;

	if (inst->first < old->before) {
		old->keys = om_realloc(old->keys, (old->count + 1) * sizeof(*old->keys));
		old->keys[old->count++] = om_strdup(key);
	}
}

/* Writes the answers of messages older than the wait, with or without
   their queue id, and forgets those messages. */
static void policyd_trace_expire_before(struct policyd_trace *trace, time_t before)
{
	struct policyd_trace_old old = { trace, before, NULL, 0 };
	struct policyd_trace_instance *inst;
	size_t i;

	om_hash_each(trace->instances, policyd_trace_collect_old, &old);
	for (i = 0; i < old.count; i++) {
		inst = om_hash_delete(trace->instances, old.keys[i]);
		policyd_trace_release_groups(trace, inst);
		policyd_trace_release(trace, inst);
		policyd_trace_instance_free(inst);
		free(old.keys[i]);
	}
	free(old.keys);
}

void policyd_trace_flush(struct policyd_trace *trace, struct om_store *store,
			 time_t now, int final)
{
	char *error = NULL;
	long written;

	policyd_trace_expire_before(trace, final ? now + 1 : now - POLICYD_TRACE_WAIT);
	written = om_events_flush(trace->ready, store, &error);
	if (written < 0) {
		om_log_error("trace: writing events: %s (they are dropped; mail "
			     "is not affected)", error);
		free(error);
	}
	trace->dropped += om_events_take_dropped(trace->ready);
	if (trace->dropped > 0) {
		om_log_warn("trace: %lu events dropped (queue full or store not "
			    "writable; bound %d)", trace->dropped, OM_EVENTS_BOUND);
		trace->dropped = 0;
	}
}

/* ---- the writer thread ---- */

/* One batch: what the ready queue holds, in one transaction. */
static void policyd_trace_write(struct policyd_trace *trace, struct om_store *store)
{
	char *error = NULL;
	unsigned long dropped;

	if (om_events_flush(trace->ready, store, &error) < 0) {
		om_log_error("trace: writing events: %s (they are dropped; mail "
			     "is not affected)", error);
		free(error);
	}
	dropped = om_events_take_dropped(trace->ready);
	if (dropped > 0)
		om_log_warn("trace: %lu events dropped (queue full or store not "
			    "writable; bound %d)", dropped, OM_EVENTS_BOUND);
}

static void *policyd_trace_writer_main(void *arg)
{
	struct policyd_trace *trace = arg;
	struct policyd_trace_writer *w = &trace->writer;
	struct timespec until;
	int stop = 0;

	pthread_mutex_lock(&w->lock);
	while (!stop) {
		if (!w->kicked && !w->stop) {
			om_deadline_after_ms(&until, OM_EVENTS_FLUSH_MS);
			(void)pthread_cond_timedwait(&w->cond, &w->lock, &until);
		}
		stop = w->stop;
		w->kicked = 0;
		pthread_mutex_unlock(&w->lock);
		policyd_trace_write(trace, w->store);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int policyd_trace_start(struct policyd_trace *trace, const char *store_path,
			int busy_timeout_ms, char **error_r)
{
	struct policyd_trace_writer *w = &trace->writer;
	int err;

	if (om_store_open(store_path, OM_STORE_BULK, busy_timeout_ms, &w->store,
			  error_r) < 0)
		return -1;
	if ((err = pthread_mutex_init(&w->lock, NULL)) != 0 ||
	    (err = pthread_cond_init(&w->cond, NULL)) != 0 ||
	    (err = pthread_create(&w->thread, NULL, policyd_trace_writer_main,
				  trace)) != 0) {
		*error_r = om_asprintf("trace writer thread: %s", strerror(err));
		om_store_close(&w->store);
		return -1;
	}
	w->running = 1;
	return 0;
}

int policyd_trace_threaded(const struct policyd_trace *trace)
{
	return trace->writer.running;
}

void policyd_trace_kick(struct policyd_trace *trace)
{
	struct policyd_trace_writer *w = &trace->writer;

	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	if (!w->kicked) {
		w->kicked = 1;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

void policyd_trace_expire(struct policyd_trace *trace, time_t now)
{
	policyd_trace_expire_before(trace, now - POLICYD_TRACE_WAIT);
	trace->dropped += om_events_take_dropped(trace->ready);
	if (trace->dropped > 0) {
		om_log_warn("trace: %lu events dropped (queue full or store not "
			    "writable; bound %d)", trace->dropped, OM_EVENTS_BOUND);
		trace->dropped = 0;
	}
}

void policyd_trace_stop(struct policyd_trace *trace)
{
	struct policyd_trace_writer *w = &trace->writer;

	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	(void)pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	om_store_close(&w->store);
	w->running = 0;
}
