/* filter-trace.c - omamori-filter's steps for the message trace
 * (doc/trace.md): hold, send, discard, zip, portal, audit, refuse.
 *
 * The filter works after the queue, one message per worker, and already
 * writes the store per message (its holds, its passwords): a step is
 * written at once, in one small transaction, and a failure is only
 * logged - no message waits for or fails on its trace.  A row belongs
 * to the sender's domain (outbound mail); the queue id is the one
 * Postfix gave the message before the filter (a hold's id starts with
 * it), which ties the filter's steps to policyd's answers and scand's
 * verdict; the Message-ID ties them to the rest.
 */
#include "filter.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The value of the first header field name in msg's header (unfolded,
   at most max bytes), or NULL. */
static char *filter_trace_field(const char *msg, size_t len, const char *name,
				size_t max)
{
	const char *p = msg, *end = msg + len, *eol;
	size_t name_len = strlen(name);
	struct om_buf value;

	while (p < end && *p != '\r' && *p != '\n') {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > name_len && p[name_len] == ':' &&
		    strncasecmp(p, name, name_len) == 0) {
			om_buf_init(&value);
			p += name_len + 1;
			for (;;) {
				om_buf_append(&value, p, (size_t)(eol - p));
				if (eol >= end || eol + 1 >= end ||
				    (eol[1] != ' ' && eol[1] != '\t') || value.len > max)
					break;
				p = eol + 1;
				eol = memchr(p, '\n', (size_t)(end - p));
				if (eol == NULL)
					eol = end;
			}
			return om_buf_steal(&value, NULL);
		}
		p = eol + 1;
	}
	return NULL;
}

void filter_trace_describe(struct filter_trace_msg *t, const char *msg, size_t len)
{
	if (t->described)
		return;
	t->described = 1;
	t->message_id = filter_trace_field(msg, len, "Message-ID", OM_EVENT_TEXT_MAX);
	t->subject = filter_subject(msg, len);
}

void filter_trace_msg_free(struct filter_trace_msg *t)
{
	free(t->message_id);
	free(t->subject);
	memset(t, 0, sizeof(*t));
}

void filter_trace(struct om_store *store, const char *sender, const char *recipient,
		  const char *queue_id, const struct filter_trace_msg *t,
		  const char *step, const char *result, const char *detail)
{
	struct om_store_event ev;
	char *error = NULL;

	if (store == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.at = (long long)time(NULL);
	ev.domain = om_store_event_domain(sender);
	ev.direction = OM_DIRECTION_OUT;
	ev.sender = sender;
	ev.recipient = recipient != NULL ? recipient : "";
	ev.queue_id = queue_id != NULL && strcmp(queue_id, "-") != 0 &&
		strcmp(queue_id, "noqid") != 0 ? queue_id : "";
	ev.message_id = t != NULL ? t->message_id : NULL;
	ev.subject = t != NULL ? t->subject : NULL;
	ev.step = step;
	ev.result = result;
	ev.detail = detail;
	if (om_store_events_add(store, &ev, 1, &error) < 0) {
		om_log_warn("trace: %s step of a message from <%s> not recorded: %s",
			    step, sender, error);
		free(error);
	}
}
