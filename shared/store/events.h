/* events.h - the message trace's events queued in memory and written in
 * batches (doc/trace.md), so that a daemon on the mail path never waits
 * on a store write per message or per request.
 *
 * A queue holds at most `bound` events; an event pushed to a full queue
 * is dropped and counted (the owner logs the count).  Pushing copies the
 * texts, so the caller's may go at once.  Safe between threads (scand's
 * workers push, its main thread writes).
 */
#ifndef OM_EVENTS_H
#define OM_EVENTS_H

#include <stddef.h>

#include "store/store.h"

/* policyd and scand: write every OM_EVENTS_FLUSH_MS or once this many
   wait, and never hold more than OM_EVENTS_BOUND. */
#define OM_EVENTS_FLUSH_MS 1000
#define OM_EVENTS_FLUSH_COUNT 100
#define OM_EVENTS_BOUND 10000

struct om_events;

struct om_events *om_events_new(size_t bound);
void om_events_free(struct om_events **events);
/* Queues a copy of ev; 0, or -1 when the queue is full (ev dropped and
   counted). */
int om_events_push(struct om_events *events, const struct om_store_event *ev);
/* Events waiting. */
size_t om_events_pending(struct om_events *events);
/* Writes every queued event to store in one transaction and empties the
   queue: the count written, or -1 (*error_r; the events are dropped and
   counted, never retried forever). */
long om_events_flush(struct om_events *events, struct om_store *store,
		     char **error_r);
/* Moves every event of from to to, with queue_id for those that have
   none ("" or NULL: as they are): the count that did not fit in to
   (dropped, counted there). */
size_t om_events_move(struct om_events *from, struct om_events *to,
		      const char *queue_id);
/* The events dropped since the last call (full queue or failed write),
   and zeroes the count. */
unsigned long om_events_take_dropped(struct om_events *events);

#endif
