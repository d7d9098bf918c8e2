/* trace.c - omamori-scand's steps for the message trace (doc/trace.md):
 * the verdict of each scan (score, rules, virus) and what the delivery
 * was told to do with the message.
 *
 * Workers push the events into one bounded in-memory queue
 * (store/events.h) and go on; the main thread writes the queue in one
 * transaction every OM_EVENTS_FLUSH_MS with a store handle of its own,
 * so no scan waits on a store write for the trace.  A queue that is full
 * (a store that cannot be written) drops events and the log says how
 * many.
 */
#include "scand.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "store/events.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Where the delivery puts the message, in the words of a folder or a
   verb: what the administrator asks ("where did it go?"). */
static const char *scand_trace_where(const struct om_scan_result *res)
{
	if (res->spam_action == OM_SPAM_ACTION_QUARANTINE)
		return "Quarantine";
	switch (res->action) {
	case OM_ACTION_QUARANTINE:
		return "Quarantine";
	case OM_ACTION_DELIVER:
	case OM_ACTION_STRIP:
	case OM_ACTION_REPLACE:
		return "INBOX";
	default:
		return om_action_name(res->action) != NULL ?
			om_action_name(res->action) : "-";
	}
}

/* "score 9.10; rules GTUBE,BAYES_99; virus X; action quarantine" */
static char *scand_trace_detail(const struct om_scan_result *res)
{
	struct om_buf b;
	const char *sep = "";

	om_buf_init(&b);
	if (res->spam_score != NULL) {
		om_buf_printf(&b, "score %s", res->spam_score);
		sep = "; ";
	}
	if (res->spam_rules != NULL && *res->spam_rules != '\0') {
		om_buf_printf(&b, "%srules %s", sep, res->spam_rules);
		sep = "; ";
	}
	if (res->spam_listed != NULL && *res->spam_listed != '\0') {
		om_buf_printf(&b, "%slisted %s", sep, res->spam_listed);
		sep = "; ";
	}
	if (res->virus != NULL) {
		om_buf_printf(&b, "%svirus %s", sep, res->virus);
		sep = "; ";
	}
	if (res->reason != NULL) {
		om_buf_printf(&b, "%s%s", sep, res->reason);
		sep = "; ";
	}
	om_buf_printf(&b, "%saction %s", sep, om_action_name(res->action) != NULL ?
		      om_action_name(res->action) : "-");
	if (res->spam_action != OM_SPAM_ACTION_NONE &&
	    om_spam_action_name(res->spam_action) != NULL)
		om_buf_printf(&b, "; spam action %s", om_spam_action_name(res->spam_action));
	return om_buf_steal(&b, NULL);
}

static void scand_trace_push(struct scand *scand, const struct om_store_event *ev)
{
	(void)om_events_push(scand->events, ev);
}

void scand_trace_scan(struct scand *scand, const struct om_scan_request *req,
		      const struct om_scan_result *res, const char *error)
{
	struct om_store_event ev;
	char *detail;

	memset(&ev, 0, sizeof(ev));
	ev.at = (long long)time(NULL);
	ev.direction = req->direction;
	ev.domain = om_store_event_domain(req->mailbox);
	ev.sender = req->mail_from != NULL ? req->mail_from : "";
	ev.recipient = req->direction == OM_DIRECTION_OUT ? "" : req->mailbox;
	ev.step = "scan";
	if (res == NULL) {
		/* the delivery tempfails: Postfix tries again later */
		ev.result = "error";
		ev.detail = error;
		scand_trace_push(scand, &ev);
		return;
	}
	ev.message_id = res->trace_message_id;
	ev.subject = res->trace_subject;
	ev.queue_id = res->trace_queue_id;
	ev.result = om_verdict_name(res->verdict) != NULL ?
		om_verdict_name(res->verdict) : "-";
	detail = scand_trace_detail(res);
	ev.detail = detail;
	scand_trace_push(scand, &ev);
	free(detail);
	if (req->direction == OM_DIRECTION_IN) {
		ev.step = "deliver";
		ev.result = scand_trace_where(res);
		ev.detail = res->spam_reason != NULL ? res->spam_reason : "";
		scand_trace_push(scand, &ev);
	}
}

void scand_trace_flush(struct scand *scand)
{
	char *error = NULL;
	unsigned long dropped;

	if (om_events_pending(scand->events) == 0)
		goto dropped;
	if (scand->trace_store == NULL &&
	    om_store_open(scand->config->store_path, 0,
			  scand->config->store_busy_timeout_ms, &scand->trace_store,
			  &error) < 0) {
		om_log_error("trace: %s (events kept until the bound, then dropped)",
			     error);
		free(error);
		goto dropped;
	}
	if (om_events_flush(scand->events, scand->trace_store, &error) < 0) {
		om_log_error("trace: writing events: %s (they are dropped; mail is "
			     "not affected)", error);
		free(error);
	}
dropped:
	dropped = om_events_take_dropped(scand->events);
	if (dropped > 0)
		om_log_warn("trace: %lu events dropped (queue full or store not "
			    "writable; bound %d)", dropped, OM_EVENTS_BOUND);
}
