/* web-clicks.c - the gate's clicks, written to the store in batches.
 *
 * Every click through /u/ is recorded (mailbox, host, verdict, time) for
 * the reports.  Written at each click, a click cost a write transaction
 * and its fsync on the request's thread, and many clicks at once queued on
 * SQLite's one writer (bench/links: 0.04x a no-op redirect, requests
 * failing at 50 connections).  Here a click is put in a bounded queue and
 * the request goes on; one thread of its own writes what has come in one
 * transaction, at the latest WEB_CLICKS_DELAY_MS after the first, or at
 * once when WEB_CLICKS_BATCH are waiting.  At stop the queue is written
 * before the process ends.  A click is a record for the reports, not
 * mail: when the store cannot take them the batch is logged and dropped,
 * and past WEB_CLICKS_MAX waiting a new click is counted and dropped (the
 * gate's answer never waits on the store).
 */
#include "web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#define WEB_CLICKS_BATCH 256	/* written at once when this many wait */
#define WEB_CLICKS_MAX 65536	/* waiting at most; more are dropped */
#define WEB_CLICKS_DELAY_MS 200	/* the longest a click waits */

/* The same clicks as steps of the message trace (doc/trace.md), in the
   same batch: the mailbox's domain, the host, the gate's verdict.  A
   click carries no Message-ID: it shows as an entry of its own. */
static void web_clicks_trace(struct om_store *store, const struct om_store_click *rows,
			     size_t count)
{
	struct om_store_event *events = om_calloc(count, sizeof(*events));
	const char *verdict;
	char *error = NULL;
	size_t i;

	for (i = 0; i < count; i++) {
		verdict = om_url_verdict_name(rows[i].verdict);
		events[i].at = rows[i].at;
		events[i].domain = om_store_event_domain(rows[i].mailbox);
		events[i].direction = OM_DIRECTION_IN;
		events[i].recipient = rows[i].mailbox;
		events[i].step = "click";
		events[i].result = verdict != NULL ? verdict : "allowed";
		events[i].detail = rows[i].host;
	}
	if (om_store_events_add(store, events, count, &error) < 0) {
		om_log_error("gate: %zu clicks not recorded in the trace: %s", count, error);
		free(error);
	}
	free(events);
}

struct web_click {
	char *mailbox;
	char *host;
	enum om_url_verdict verdict;
	long long at;
};

static void web_clicks_free_items(struct web_click *items, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(items[i].mailbox);
		free(items[i].host);
	}
	free(items);
}

void web_clicks_add(struct web_clicks *c, const char *mailbox, const char *host,
		    enum om_url_verdict verdict, long long at)
{
	struct web_click *k;

	pthread_mutex_lock(&c->lock);
	if (c->count >= WEB_CLICKS_MAX) {
		c->dropped++;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (c->count == c->alloc) {
		c->alloc = c->alloc == 0 ? 64 : c->alloc * 2;
		c->items = om_realloc(c->items, c->alloc * sizeof(*c->items));
	}
	k = &c->items[c->count++];
	k->mailbox = om_strdup(mailbox);
	k->host = om_strdup(host);
	k->verdict = verdict;
	k->at = at;
	if (c->count == 1 || c->count >= WEB_CLICKS_BATCH)
		pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Writes items in one transaction; logged when it cannot. */
static void web_clicks_write(struct web_clicks *c, struct web_click *items, size_t count)
{
	struct om_store_click *rows;
	char *error = NULL;
	size_t i;

	if (count == 0)
		return;
	if (c->store == NULL &&
	    om_store_open(c->config->store_path, 0, c->config->store_busy_timeout_ms,
			  &c->store, &error) < 0) {
		om_log_error("gate: %zu clicks not recorded: %s", count, error);
		free(error);
		c->store = NULL;
		return;
	}
	rows = om_calloc(count, sizeof(*rows));
	for (i = 0; i < count; i++) {
		rows[i].mailbox = items[i].mailbox;
		rows[i].host = items[i].host;
		rows[i].verdict = items[i].verdict;
		rows[i].at = items[i].at;
	}
	if (om_store_url_clicks_add(c->store, rows, count, &error) < 0) {
		om_log_error("gate: %zu clicks not recorded: %s", count, error);
		free(error);
		om_store_close(&c->store);	/* opened again next time */
	} else {
		web_clicks_trace(c->store, rows, count);
	}
	free(rows);
}

static void *web_clicks_run(void *arg)
{
	struct web_clicks *c = arg;
	struct web_click *items;
	struct timespec until;
	size_t count, dropped;
	int stopping;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->count == 0 && !c->stopping)
			pthread_cond_wait(&c->cond, &c->lock);
		/* the first click waits WEB_CLICKS_DELAY_MS for others, unless
		   a batch is full or the server stops */
		om_deadline_after_ms(&until, WEB_CLICKS_DELAY_MS);
		while (c->count < WEB_CLICKS_BATCH && !c->stopping &&
		       pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT)
			;
		items = c->items;
		count = c->count;
		dropped = c->dropped;
		stopping = c->stopping;
		c->items = NULL;
		c->count = c->alloc = c->dropped = 0;
		pthread_mutex_unlock(&c->lock);
		if (dropped > 0)
			om_log_error("gate: %zu clicks not recorded: more than %d waiting",
				     dropped, WEB_CLICKS_MAX);
		web_clicks_write(c, items, count);
		web_clicks_free_items(items, count);
		pthread_mutex_lock(&c->lock);
		if (stopping && c->count == 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int web_clicks_start(struct web_clicks *c, const struct om_config *config, char **error_r)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->config = config;
	if (pthread_mutex_init(&c->lock, NULL) != 0 ||
	    pthread_cond_init(&c->cond, NULL) != 0) {
		*error_r = om_strdup("gate: cannot make the click recorder's lock");
		return -1;
	}
	err = pthread_create(&c->thread, NULL, web_clicks_run, c);
	if (err != 0) {
		*error_r = om_asprintf("gate: click recorder: %s", strerror(err));
		return -1;
	}
	c->started = 1;
	return 0;
}

void web_clicks_stop(struct web_clicks *c)
{
	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	(void)pthread_join(c->thread, NULL);
	c->started = 0;
	web_clicks_free_items(c->items, c->count);
	c->items = NULL;
	c->count = 0;
	om_store_close(&c->store);
}
