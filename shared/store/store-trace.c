/* store-trace.c - the message trace's events in the store (issue 18 item 4,
 * doc/trace.md): adding them bounded and normalised, removing them after
 * 13 months, and the search that gives a domain's administrator each
 * message with all its steps.
 *
 * A message's events are tied together by what the steps knew of it: the
 * policy answers by Postfix's queue id, the scan by the queue id and the
 * Message-ID, the quarantine, release and outbound steps by the
 * Message-ID.  The search follows those links from the rows a query
 * matched (a few indexed reads per message, each with the domain as its
 * first condition), so a search by subject also shows the policy answer
 * that had no subject.  Kept apart from the backend so that a second
 * backend only has to read rows.
 */
#include "store/store-private.h"
#include "lib/hash.h"
#include "lib/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The links one message may have, and its rows: bounds against a
   Message-ID shared by thousands of messages (a sender may reuse one). */
#define OM_TRACE_KEYS_MAX 16
#define OM_TRACE_ROWS_MAX 500

const char *om_store_event_domain(const char *address)
{
	const char *at = address != NULL ? strrchr(address, '@') : NULL;

	return at != NULL ? at + 1 : "";
}

/* A Message-ID as stored: blanks and one pair of <> off, and made text as
   every other field is (om_sanitize: a byte that is not UTF-8 or a control
   character becomes '?', a cut one ends in "..."): a store that takes only
   UTF-8 (PostgreSQL) would refuse the row, and with it its batch. */
static char *om_trace_message_id(const char *text)
{
	char *raw, *clean;
	size_t len;

	if (text == NULL)
		return om_strdup("");
	while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
		text++;
	len = strlen(text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
			   text[len - 1] == '\r' || text[len - 1] == '\n'))
		len--;
	if (len >= 2 && text[0] == '<' && text[len - 1] == '>') {
		text++;
		len -= 2;
	}
	raw = om_strndup(text, len);
	clean = om_sanitize(raw, OM_EVENT_TEXT_MAX);
	free(raw);
	return clean;
}

static char *om_trace_text(const char *text, size_t max)
{
	return om_sanitize(text != NULL ? text : "", max);
}

/* An address or a domain as rows keep and searches look for it: folded
   as every lookup folds one (util.h om_address_key: lower case, no
   trailing dot), so "Alice@Example.TEST." finds alice@example.test. */
static char *om_trace_lower(const char *text)
{
	char *copy = om_trace_text(text, OM_EVENT_TEXT_MAX);

	om_address_key_fold(copy);
	return copy;
}

struct om_trace_owned {
	char *domain, *sender, *recipient, *message_id, *subject, *queue_id;
	char *step, *result, *detail;
};

static void om_trace_own(const struct om_store_event *in, struct om_trace_owned *o,
			 struct om_store_event *out)
{
	o->domain = om_trace_lower(in->domain);
	o->sender = om_trace_lower(in->sender);
	o->recipient = om_trace_lower(in->recipient);
	o->message_id = om_trace_message_id(in->message_id);
	o->subject = om_trace_text(in->subject, OM_EVENT_SUBJECT_MAX);
	o->queue_id = om_trace_text(in->queue_id, OM_EVENT_TEXT_MAX);
	o->step = om_trace_text(in->step, OM_EVENT_TEXT_MAX);
	o->result = om_trace_text(in->result, OM_EVENT_TEXT_MAX);
	o->detail = om_trace_text(in->detail, OM_EVENT_DETAIL_MAX);
	*out = *in;
	out->domain = o->domain;
	out->sender = o->sender;
	out->recipient = o->recipient;
	out->message_id = o->message_id;
	out->subject = o->subject;
	out->queue_id = o->queue_id;
	out->step = o->step;
	out->result = o->result;
	out->detail = o->detail;
}

static void om_trace_owned_free(struct om_trace_owned *o)
{
	free(o->domain);
	free(o->sender);
	free(o->recipient);
	free(o->message_id);
	free(o->subject);
	free(o->queue_id);
	free(o->step);
	free(o->result);
	free(o->detail);
}

int om_store_events_add(struct om_store *store, const struct om_store_event *events,
			size_t count, char **error_r)
{
	const struct om_store_backend *b = store->backend;
	struct om_trace_owned owned;
	struct om_store_event ev;
	size_t i;
	int ret = 0;

	for (i = 0; i < count; i++) {
		if (events[i].step == NULL || *events[i].step == '\0' ||
		    events[i].domain == NULL) {
			*error_r = om_strdup("store: an event needs its step and domain");
			return -1;
		}
	}
	if (count == 0)
		return 0;
	if (b->begin(store, 1, error_r) < 0)
		return -1;
	for (i = 0; i < count && ret == 0; i++) {
		om_trace_own(&events[i], &owned, &ev);
		ret = b->event_add(store, &ev, error_r);
		om_trace_owned_free(&owned);
	}
	if (ret < 0) {
		b->rollback(store);
		return -1;
	}
	if (b->commit(store, error_r) < 0)
		return -1;
	store->own_writes++;
	return 0;
}

long om_store_events_expire(struct om_store *store, long long before,
			    char **error_r)
{
	long n = store->backend->events_expire(store, before, error_r);

	if (n >= 0)
		store->own_writes++;
	return n;
}

/* ---- search ---- */

/* One event read, owned. */
struct om_trace_row {
	struct om_store_event ev;
	struct om_trace_owned owned;
};

/* The message being gathered: its keys (those read, and those to read)
   and rows. */
struct om_trace_message {
	char *mids[OM_TRACE_KEYS_MAX];
	size_t mid_count, mid_read;
	char *qids[OM_TRACE_KEYS_MAX];
	size_t qid_count, qid_read;
	struct om_trace_row *rows;
	size_t row_count;
	struct om_hash *row_ids;	/* "id" -> (void *)1 */
};

/* A matched message's first row: its keys. */
struct om_trace_seed {
	char *message_id, *queue_id;
	long long lone;
};

struct om_trace_seeds {
	struct om_trace_seed *items;
	size_t count;
};

static void om_trace_seed_cb(void *context, const char *message_id,
			     const char *queue_id, long long lone)
{
	struct om_trace_seeds *seeds = context;
	struct om_trace_seed *s;

	seeds->items = om_realloc(seeds->items, (seeds->count + 1) * sizeof(*seeds->items));
	s = &seeds->items[seeds->count++];
	s->message_id = om_strdup(message_id);
	s->queue_id = om_strdup(queue_id);
	s->lone = lone;
}

static void om_trace_key_add(char **keys, size_t *count, const char *key)
{
	size_t i;

	if (*key == '\0' || *count >= OM_TRACE_KEYS_MAX)
		return;
	for (i = 0; i < *count; i++) {
		if (strcmp(keys[i], key) == 0)
			return;
	}
	keys[(*count)++] = om_strdup(key);
}

static void om_trace_row_cb(void *context, unsigned int message,
			    const struct om_store_event *ev)
{
	struct om_trace_message *m = context;
	struct om_trace_row *row;
	char id[32];

	(void)message;
	snprintf(id, sizeof(id), "%lld", ev->id);
	if (m->row_count >= OM_TRACE_ROWS_MAX || om_hash_get(m->row_ids, id) != NULL)
		return;
	(void)om_hash_set(m->row_ids, id, (void *)1);
	m->rows = om_realloc(m->rows, (m->row_count + 1) * sizeof(*m->rows));
	row = &m->rows[m->row_count++];
	om_trace_own(ev, &row->owned, &row->ev);
	om_trace_key_add(m->mids, &m->mid_count, ev->message_id);
	om_trace_key_add(m->qids, &m->qid_count, ev->queue_id);
}

/* Steps of one second in the order they happen to a message (the writers
   are several processes, each writing when it can: a row id says nothing
   of the order across them). */
static int om_trace_step_rank(const char *step)
{
	static const char *const order[] = {
		"policy", "scan", "deliver", "quarantine", "audit", "zip", "portal",
		"hold", "refuse", "send", "discard", "release", "delete", "click",
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(order); i++) {
		if (strcmp(step, order[i]) == 0)
			return (int)i;
	}
	return (int)OM_N_ELEMENTS(order);
}

static int om_trace_row_order(const void *a, const void *b)
{
	const struct om_trace_row *x = a, *y = b;
	int rx, ry;

	if (x->ev.at != y->ev.at)
		return x->ev.at < y->ev.at ? -1 : 1;
	rx = om_trace_step_rank(x->ev.step);
	ry = om_trace_step_rank(y->ev.step);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->ev.id < y->ev.id ? -1 : x->ev.id > y->ev.id;
}

/* Reads the rows of every key until no new key turns up. */
static int om_trace_gather(struct om_store *store, const char *domain,
			   struct om_trace_message *m, char **error_r)
{
	const struct om_store_backend *b = store->backend;

	while (m->mid_read < m->mid_count || m->qid_read < m->qid_count) {
		if (m->mid_read < m->mid_count) {
			if (b->trace_rows(store, domain, OM_TRACE_BY_MESSAGE_ID,
					  m->mids[m->mid_read++], 0, OM_TRACE_ROWS_MAX,
					  om_trace_row_cb, m, error_r) < 0)
				return -1;
		} else if (b->trace_rows(store, domain, OM_TRACE_BY_QUEUE_ID,
					 m->qids[m->qid_read++], 0, OM_TRACE_ROWS_MAX,
					 om_trace_row_cb, m, error_r) < 0) {
			return -1;
		}
	}
	return 0;
}

static void om_trace_message_free(struct om_trace_message *m)
{
	size_t i;

	for (i = 0; i < m->mid_count; i++)
		free(m->mids[i]);
	for (i = 0; i < m->qid_count; i++)
		free(m->qids[i]);
	for (i = 0; i < m->row_count; i++)
		om_trace_owned_free(&m->rows[i].owned);
	free(m->rows);
	om_hash_free(&m->row_ids, NULL);
	memset(m, 0, sizeof(*m));
}

/* 1 if a key of seed was a message already shown (seen: "m:ID", "q:ID"). */
static int om_trace_seen(const struct om_hash *seen, const struct om_trace_seed *s)
{
	char *key;
	int found = 0;

	if (*s->message_id != '\0') {
		key = om_asprintf("m:%s", s->message_id);
		found = om_hash_get(seen, key) != NULL;
		free(key);
	}
	if (!found && *s->queue_id != '\0') {
		key = om_asprintf("q:%s", s->queue_id);
		found = om_hash_get(seen, key) != NULL;
		free(key);
	}
	return found;
}

static void om_trace_mark_seen(struct om_hash *seen, const struct om_trace_message *m)
{
	char *key;
	size_t i;

	for (i = 0; i < m->mid_count; i++) {
		key = om_asprintf("m:%s", m->mids[i]);
		(void)om_hash_set(seen, key, (void *)1);
		free(key);
	}
	for (i = 0; i < m->qid_count; i++) {
		key = om_asprintf("q:%s", m->qids[i]);
		(void)om_hash_set(seen, key, (void *)1);
		free(key);
	}
}

/* Gathers the message of one seed and hands its rows to cb; 1 shown, 0
   nothing (its rows were gone), -1 error. */
static int om_trace_show(struct om_store *store, const char *domain,
			 const struct om_trace_seed *s, struct om_hash *seen,
			 unsigned int number, om_store_trace_cb *cb, void *context,
			 char **error_r)
{
	struct om_trace_message m;
	size_t i;
	int ret = 0;

	memset(&m, 0, sizeof(m));
	m.row_ids = om_hash_new(64);
	om_trace_key_add(m.mids, &m.mid_count, s->message_id);
	om_trace_key_add(m.qids, &m.qid_count, s->queue_id);
	if (s->lone != 0)
		ret = store->backend->trace_rows(store, domain, OM_TRACE_BY_ROW, NULL,
						 s->lone, 1, om_trace_row_cb, &m, error_r);
	if (ret >= 0)
		ret = om_trace_gather(store, domain, &m, error_r);
	if (ret >= 0) {
		om_trace_mark_seen(seen, &m);
		qsort(m.rows, m.row_count, sizeof(*m.rows), om_trace_row_order);
		for (i = 0; i < m.row_count; i++) {
			m.rows[i].ev.domain = domain;
			cb(context, number, &m.rows[i].ev);
		}
		ret = m.row_count > 0 ? 1 : 0;
	}
	om_trace_message_free(&m);
	return ret;
}

long om_store_trace_search(struct om_store *store, const char *domain,
			   const struct om_trace_query *q, om_store_trace_cb *cb,
			   void *context, char **error_r)
{
	struct om_trace_query query = *q;
	struct om_trace_seeds seeds = { NULL, 0 };
	struct om_hash *seen;
	char *lower, *mid = NULL, *sender = NULL, *recipient = NULL;
	size_t i, max;
	long shown = 0;
	int ret;

	if (domain == NULL || *domain == '\0') {
		*error_r = om_strdup("store: a trace search needs its domain");
		return -1;
	}
	if (query.until == 0)
		query.until = LLONG_MAX;
	if (query.since > query.until) {
		*error_r = om_strdup("trace: the start of the date range is after its end");
		return -1;
	}
	max = query.max_messages == 0 ? OM_TRACE_MAX_MESSAGES : query.max_messages;
	if (max > OM_TRACE_MAX_MESSAGES_LIMIT)
		max = OM_TRACE_MAX_MESSAGES_LIMIT;
	if (query.message_id != NULL && *query.message_id != '\0') {
		mid = om_trace_message_id(query.message_id);
		query.message_id = mid;
	}
	if (query.sender != NULL && *query.sender != '\0')
		query.sender = sender = om_trace_lower(query.sender);
	if (query.recipient != NULL && *query.recipient != '\0')
		query.recipient = recipient = om_trace_lower(query.recipient);
	lower = om_trace_lower(domain);
	/* more seeds than messages: several rows of one message may each be
	   a seed (a message's own queue ids, a release without one) */
	ret = store->backend->trace_find(store, lower, &query, (long long)max * 4,
					 om_trace_seed_cb, &seeds, error_r);
	seen = om_hash_new(256);
	for (i = 0; ret >= 0 && i < seeds.count && (size_t)shown < max; i++) {
		if (om_trace_seen(seen, &seeds.items[i]))
			continue;
		ret = om_trace_show(store, lower, &seeds.items[i], seen,
				    (unsigned int)shown + 1, cb, context, error_r);
		if (ret > 0)
			shown++;
	}
	for (i = 0; i < seeds.count; i++) {
		free(seeds.items[i].message_id);
		free(seeds.items[i].queue_id);
	}
	free(seeds.items);
	om_hash_free(&seen, NULL);
	free(lower);
	free(sender);
	free(recipient);
	free(mid);
	return ret < 0 ? -1 : shown;
}
