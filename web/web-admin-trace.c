/* web-admin-trace.c - the admin panel's message trace (/a/<token>?page=
 * trace, issue 18 item 4, doc/trace.md): a search form (sender,
 * recipient, subject, Message-ID, since/until days) and each message
 * found with its steps, newest message first, as `omamorictl trace`
 * prints them.
 *
 * The search is the store's own (om_store_trace_search, the domain a
 * condition of every statement); the domain is the one web-admin.c
 * checked the admin's trace right in, never another field of the
 * request.  A search changes nothing, so it is a GET; every text shown
 * is escaped.  Times and days are in the admin's timezone setting.
 */
#include "web-admin-trace.h"
#include "web-zone.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The page shows fewer messages than omamorictl's default: one page. */
#define WEB_TRACE_MAX_MESSAGES 50

/* The message being shown: its steps' rows are kept until the message
   ends, so that its heading can name the Message-ID and subject the
   later steps brought (policyd's answer knows neither). */
struct web_trace_show {
	struct web_page *p;
	const struct web_request *req;
	const char *zone;
	unsigned int message;	/* the one whose steps are being kept */
	struct web_page rows;	/* its rows, HTML */
	char *sender, *message_id, *subject;
	int outbound;
};

/* when in zone as "YYYY-MM-DD HH:MM:SS" (seconds: steps of one message
   are often within a minute). */
static void web_trace_time(const struct web_trace_show *s, long long when,
			   char *buf, size_t size)
{
	struct web_thread *thread = web_thread(s->req->server);
	struct tm tm;

	if (thread == NULL ||
	    web_zone_local(&thread->zones, &s->req->server->tz_lock, s->zone,
			   (time_t)when, &tm) < 0 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, size, "%lld", when);
}

static void web_trace_cell(struct web_page *p, const char *class, const char *text,
			   size_t max)
{
	web_page_raw(p, "<td class=\"");
	web_page_raw(p, class);
	web_page_raw(p, "\">");
	web_page_esc(p, text, max);
	web_page_raw(p, "</td>");
}

/* A labelled line of a message's heading (value escaped). */
static void web_trace_line(struct web_page *p, enum web_text label, const char *class,
			   const char *before, const char *value, const char *after)
{
	web_page_raw(p, "<br>");
	web_page_t(p, label);
	web_page_raw(p, ": <span class=\"");
	web_page_raw(p, class);
	web_page_raw(p, "\">");
	web_page_raw(p, before);
	web_page_esc(p, value, 320);
	web_page_raw(p, after);
	web_page_raw(p, "</span>");
}

/* Ends the message kept: its heading (envelope sender, Message-ID,
   subject) and its table of steps. */
static void web_trace_flush(struct web_trace_show *s)
{
	struct web_page *p = s->p;
	char n[16];

	if (s->message == 0)
		return;
	(void)snprintf(n, sizeof(n), "%u", s->message);
	web_page_raw(p, "<div class=\"card msg\"><p><b>");
	web_page_t(p, WT_TRACE_MESSAGE);
	web_page_raw(p, " ");
	web_page_raw(p, n);
	web_page_raw(p, "</b>");
	if (s->outbound) {
		web_page_raw(p, " (");
		web_page_t(p, WT_TRACE_OUTBOUND);
		web_page_raw(p, ")");
	}
	web_trace_line(p, WT_TRACE_SENDER, "sender", "",
		       s->sender != NULL ? s->sender : "<>", "");
	if (s->message_id != NULL)
		web_trace_line(p, WT_TRACE_MESSAGE_ID, "mid", "&lt;", s->message_id, "&gt;");
	if (s->subject != NULL)
		web_trace_line(p, WT_TRACE_SUBJECT_IS, "subject", "", s->subject, "");
	web_page_raw(p, "</p><table class=\"steps\"><thead><tr><th>");
	web_page_t(p, WT_ADMIN_WHEN);
	web_page_raw(p, "</th><th>");
	web_page_t(p, WT_TRACE_STEP);
	web_page_raw(p, "</th><th>");
	web_page_t(p, WT_TRACE_RESULT);
	web_page_raw(p, "</th><th>");
	web_page_t(p, WT_TRACE_RECIPIENT);
	web_page_raw(p, "</th><th>");
	web_page_t(p, WT_TRACE_DETAIL);
	web_page_raw(p, "</th></tr></thead><tbody>");
	om_buf_append(&p->buf, s->rows.buf.data, s->rows.buf.len);
	web_page_raw(p, "</tbody></table></div>");
	om_buf_reset(&s->rows.buf);
	free(s->sender);
	free(s->message_id);
	free(s->subject);
	s->sender = s->message_id = s->subject = NULL;
	s->outbound = 0;
}

/* The first non-empty value of a message's field. */
static void web_trace_keep(char **field, const char *value)
{
	if (*field == NULL && *value != '\0')
		*field = om_strdup(value);
}

static void web_trace_event_cb(void *context, unsigned int message,
			       const struct om_store_event *ev)
{
	struct web_trace_show *s = context;
	struct web_page *p = &s->rows;
	char when[64], more[OM_EVENT_TEXT_MAX + 32];

	if (message != s->message) {
		web_trace_flush(s);
		s->message = message;
	}
	web_trace_keep(&s->sender, ev->sender);
	web_trace_keep(&s->message_id, ev->message_id);
	web_trace_keep(&s->subject, ev->subject);
	s->outbound |= ev->direction == OM_DIRECTION_OUT;
	web_trace_time(s, ev->at, when, sizeof(when));
	web_page_raw(p, "<tr class=\"step\">");
	web_trace_cell(p, "at", when, 0);
	web_trace_cell(p, "step", ev->step, 40);
	web_trace_cell(p, "result", ev->result, 80);
	if (ev->recipients > 1) {
		/* policyd's accepted recipients of a message: one row, the
		   others named in its detail (schema v23) */
		(void)snprintf(more, sizeof(more), "%s (+%lld)", ev->recipient,
			       ev->recipients - 1);
		web_trace_cell(p, "rcpt", more, sizeof(more));
	} else {
		web_trace_cell(p, "rcpt", ev->recipient, 320);
	}
	web_page_raw(p, "<td class=\"detail\">");
	web_page_esc(p, ev->detail, 600);
	if (*ev->queue_id != '\0') {
		web_page_raw(p, " <small>queue ");
		web_page_esc(p, ev->queue_id, 40);
		web_page_raw(p, "</small>");
	}
	web_page_raw(p, "</td></tr>");
}

/* A day "YYYY-MM-DD" of zone: the unix time its day starts (next: the
   day after's).  0, or -1 for anything else. */
static int web_trace_day(const struct web_request *req, const char *zone,
			 const char *text, int next, long long *time_r)
{
	struct web_thread *thread = web_thread(req->server);
	struct tm tm, local;
	long y, m, d;
	char ys[5], ms[3], ds[3];
	time_t utc, t;
	int i;

	if (thread == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		return -1;
	memcpy(ys, text, 4);
	ys[4] = '\0';
	memcpy(ms, text + 5, 2);
	ms[2] = '\0';
	memcpy(ds, text + 8, 2);
	ds[2] = '\0';
	if (om_parse_long(ys, 1970, 9999, &y) < 0 || om_parse_long(ms, 1, 12, &m) < 0 ||
	    om_parse_long(ds, 1, 31, &d) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	utc = timegm(&tm);
	if (utc == (time_t)-1 || tm.tm_mday != (int)d)
		return -1;		/* 2026-02-30 */
	if (next)
		utc += 86400;
	/* midnight in zone: the UTC midnight less the zone's offset, the
	   offset taken again at the result (it may differ across a day) */
	t = utc;
	for (i = 0; i < 2; i++) {
		if (web_zone_local(&thread->zones, &req->server->tz_lock, zone, t,
				   &local) < 0)
			return -1;
		t = utc - local.tm_gmtoff;
	}
	*time_r = (long long)t;
	return 0;
}

/* A text field of the form: NULL when absent or empty, -1 when over the
   store's bound for it. */
static int web_trace_field(const char *value, const char **field_r)
{
	*field_r = value != NULL && *value != '\0' ? value : NULL;
	return value != NULL && strlen(value) > OM_EVENT_TEXT_MAX ? -1 : 0;
}

static void web_trace_input(struct web_page *p, const char *type, const char *name,
			    enum web_text label, const char *value)
{
	web_page_raw(p, "<label>");
	web_page_t(p, label);
	web_page_raw(p, " <input type=\"");
	web_page_raw(p, type);
	web_page_raw(p, "\" name=\"");
	web_page_raw(p, name);
	web_page_raw(p, "\" maxlength=\"320\" value=\"");
	web_page_esc(p, value != NULL ? value : "", 320);
	web_page_raw(p, "\"></label><br>");
}

/* The search form (GET, to this page of domain). */
static void web_trace_form(struct web_page *p, const struct web_request *req,
			   const char *domain)
{
	web_page_raw(p, "<div class=\"card\"><form method=\"get\" id=\"trace-form\" "
		     "action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\"><input type=\"hidden\" name=\"domain\" value=\"");
	web_page_esc(p, domain, 0);
	web_page_raw(p, "\"><input type=\"hidden\" name=\"page\" value=\"trace\">");
	web_trace_input(p, "text", "sender", WT_TRACE_SENDER, req->query_trace.sender);
	web_trace_input(p, "text", "recipient", WT_TRACE_RECIPIENT,
			req->query_trace.recipient);
	web_trace_input(p, "text", "subject", WT_TRACE_SUBJECT, req->query_trace.subject);
	web_trace_input(p, "text", "mid", WT_TRACE_MESSAGE_ID, req->query_trace.message_id);
	web_trace_input(p, "date", "since", WT_TRACE_SINCE, req->query_trace.since);
	web_trace_input(p, "date", "until", WT_TRACE_UNTIL, req->query_trace.until);
	web_page_raw(p, "<button type=\"submit\" id=\"trace-search\">");
	web_page_t(p, WT_TRACE_SEARCH);
	web_page_raw(p, "</button></form></div>");
}

static void web_trace_note(struct web_page *p, const char *class, enum web_text text)
{
	web_page_raw(p, "<p class=\"");
	web_page_raw(p, class);
	web_page_raw(p, "\" id=\"trace-note\">");
	web_page_t(p, text);
	web_page_raw(p, "</p>");
}

int web_admin_trace(struct web_page *p, const struct web_request *req,
		    struct om_store *store, const char *zone, const char *domain)
{
	const struct web_trace_fields *f = &req->query_trace;
	struct web_trace_show s;
	struct om_trace_query q;
	char *error = NULL;
	long n;

	web_page_raw(p, "<h2>");
	web_page_t(p, WT_TRACE_TITLE);
	web_page_raw(p, "</h2><p>");
	web_page_t(p, WT_TRACE_INTRO);
	web_page_raw(p, "</p>");
	web_trace_form(p, req, domain);
	memset(&s, 0, sizeof(s));
	s.p = p;
	s.req = req;
	s.zone = zone;
	s.rows.lang = p->lang;
	om_buf_init(&s.rows.buf);
	memset(&q, 0, sizeof(q));
	q.max_messages = WEB_TRACE_MAX_MESSAGES;
	if (web_trace_field(f->sender, &q.sender) < 0 ||
	    web_trace_field(f->recipient, &q.recipient) < 0 ||
	    web_trace_field(f->subject, &q.subject) < 0 ||
	    web_trace_field(f->message_id, &q.message_id) < 0 ||
	    (f->since != NULL && *f->since != '\0' &&
	     web_trace_day(req, zone, f->since, 0, &q.since) < 0) ||
	    (f->until != NULL && *f->until != '\0' &&
	     web_trace_day(req, zone, f->until, 1, &q.until) < 0) ||
	    (q.since != 0 && q.until != 0 && q.since >= q.until)) {
		web_trace_note(p, "warn", WT_TRACE_BAD_QUERY);
		om_buf_free(&s.rows.buf);
		return 400;
	}
	web_page_raw(p, "<div id=\"trace\">");
	n = om_store_trace_search(store, domain, &q, web_trace_event_cb, &s, &error);
	web_trace_flush(&s);
	om_buf_free(&s.rows.buf);
	web_page_raw(p, "</div>");
	if (n < 0) {
		om_log_error("domain=%s trace: %s", domain, error);
		free(error);
		web_trace_note(p, "warn", WT_ERROR_BODY);
		return 503;
	}
	if (n == 0)
		web_trace_note(p, "note", WT_TRACE_NONE);
	else if (n >= WEB_TRACE_MAX_MESSAGES)
		web_trace_note(p, "note", WT_TRACE_MORE);
	return 200;
}
