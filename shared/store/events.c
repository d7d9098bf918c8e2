/* events.c - a bounded in-memory queue of trace events, written to the
 * store in one transaction at a time (events.h, doc/trace.md).
 *
 * The daemons on the mail path (omamori-policyd, omamori-scand) must not
 * write the store per request: they push here and flush from a timer.
 * The queue is bounded so that a store that cannot be written (locked,
 * disk full) costs memory up to the bound and then dropped events,
 * counted and logged by the owner; mail is never delayed for a trace.
 */
#include "store/events.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* An event with its own copies of the texts: all nine in one block (one
   allocation a push, not nine), and a queue id set after the push in a
   block of its own. */
struct om_events_item {
	struct om_store_event ev;
	char *texts;
	char *queue_id;
};

/* A queue's first array: a message's waiting answers (policyd keeps up to
   20 000 messages) are one or two events, so a queue grows from a few
   slots rather than holding its bound's worth from the first push. */
#define OM_EVENTS_FIRST_CAP 4

struct om_events {
	pthread_mutex_t lock;
	struct om_events_item *items;
	size_t count, cap, bound;
	unsigned long dropped;
};

struct om_events *om_events_new(size_t bound)
{
	struct om_events *events = om_calloc(1, sizeof(*events));

	pthread_mutex_init(&events->lock, NULL);
	events->bound = bound > 0 ? bound : OM_EVENTS_BOUND;
	return events;
}

static void om_events_item_free(struct om_events_item *item)
{
	free(item->texts);
	free(item->queue_id);
}

static void om_events_items_free(struct om_events_item *items, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		om_events_item_free(&items[i]);
	free(items);
}

void om_events_free(struct om_events **eventsp)
{
	struct om_events *events = *eventsp;

	if (events == NULL)
		return;
	*eventsp = NULL;
	om_events_items_free(events->items, events->count);
	pthread_mutex_destroy(&events->lock);
	free(events);
}

/* Copies the texts of ev (NULL stays NULL) into one block of item's. */
static void om_events_keep(struct om_events_item *item, const struct om_store_event *ev)
{
	const char **fields[] = {
		&item->ev.domain, &item->ev.sender, &item->ev.recipient,
		&item->ev.message_id, &item->ev.subject, &item->ev.queue_id,
		&item->ev.step, &item->ev.result, &item->ev.detail,
	};
	size_t lens[OM_N_ELEMENTS(fields)], total = 0, i;
	char *p;

	item->ev = *ev;
	item->queue_id = NULL;
	for (i = 0; i < OM_N_ELEMENTS(fields); i++) {
		lens[i] = *fields[i] != NULL ? strlen(*fields[i]) + 1 : 0;
		total += lens[i];
	}
	p = item->texts = om_malloc(total > 0 ? total : 1);
	for (i = 0; i < OM_N_ELEMENTS(fields); i++) {
		if (*fields[i] == NULL)
			continue;
		memcpy(p, *fields[i], lens[i]);
		*fields[i] = p;
		p += lens[i];
	}
}

/* Room for n more items (under the queue's lock). */
static void om_events_grow(struct om_events *events, size_t n)
{
	size_t cap = events->cap;

	if (events->count + n <= cap)
		return;
	if (cap == 0)
		cap = OM_EVENTS_FIRST_CAP;
	while (cap < events->count + n)
		cap *= 2;
	events->items = om_realloc(events->items, cap * sizeof(*events->items));
	events->cap = cap;
}

int om_events_push(struct om_events *events, const struct om_store_event *ev)
{
	struct om_events_item *item;

	pthread_mutex_lock(&events->lock);
	if (events->count >= events->bound) {
		events->dropped++;
		pthread_mutex_unlock(&events->lock);
		return -1;
	}
	om_events_grow(events, 1);
	item = &events->items[events->count++];
	om_events_keep(item, ev);
	pthread_mutex_unlock(&events->lock);
	return 0;
}

size_t om_events_pending(struct om_events *events)
{
	size_t count;

	pthread_mutex_lock(&events->lock);
	count = events->count;
	pthread_mutex_unlock(&events->lock);
	return count;
}

long om_events_flush(struct om_events *events, struct om_store *store,
		     char **error_r)
{
	struct om_events_item *items;
	struct om_store_event *batch;
	size_t count, i;
	int ret;

	/* take the queue, so pushers wait only for the swap, not the write */
	pthread_mutex_lock(&events->lock);
	items = events->items;
	count = events->count;
	events->items = NULL;
	events->count = events->cap = 0;
	pthread_mutex_unlock(&events->lock);
	if (count == 0)
		return 0;
	batch = om_malloc(count * sizeof(*batch));
	for (i = 0; i < count; i++)
		batch[i] = items[i].ev;
	ret = om_store_events_add(store, batch, count, error_r);
	free(batch);
	om_events_items_free(items, count);
	if (ret < 0) {
		pthread_mutex_lock(&events->lock);
		events->dropped += count;
		pthread_mutex_unlock(&events->lock);
		return -1;
	}
	return (long)count;
}

size_t om_events_move(struct om_events *from, struct om_events *to,
		      const char *queue_id)
{
	struct om_events_item *items;
	size_t count, i, fit;

	pthread_mutex_lock(&from->lock);
	items = from->items;
	count = from->count;
	from->items = NULL;
	from->count = from->cap = 0;
	pthread_mutex_unlock(&from->lock);
	if (count == 0) {
		free(items);
		return 0;
	}
	for (i = 0; i < count; i++) {
		if (queue_id == NULL || *queue_id == '\0' ||
		    (items[i].ev.queue_id != NULL && *items[i].ev.queue_id != '\0'))
			continue;
		free(items[i].queue_id);
		items[i].ev.queue_id = items[i].queue_id = om_strdup(queue_id);
	}
	/* the items and their texts change hands: no copy */
	pthread_mutex_lock(&to->lock);
	fit = to->bound > to->count ? to->bound - to->count : 0;
	if (fit > count)
		fit = count;
	om_events_grow(to, fit);
	memcpy(to->items + to->count, items, fit * sizeof(*items));
	to->count += fit;
	to->dropped += count - fit;
	pthread_mutex_unlock(&to->lock);
	for (i = fit; i < count; i++)
		om_events_item_free(&items[i]);
	free(items);
	return count - fit;
}

unsigned long om_events_take_dropped(struct om_events *events)
{
	unsigned long dropped;

	pthread_mutex_lock(&events->lock);
	dropped = events->dropped;
	events->dropped = 0;
	pthread_mutex_unlock(&events->lock);
	return dropped;
}
