/* policyd-trace.h - omamori-policyd's answers for the message trace
 * (doc/trace.md): queued in memory, written in batches by a writer thread
 * with a store handle of its own, never a store write on the event loop.
 */
#ifndef POLICYD_TRACE_H
#define POLICYD_TRACE_H

#include <time.h>

#include "decide/policy.h"
#include "store/store.h"

struct policyd_trace;

struct policyd_trace *policyd_trace_new(void);
void policyd_trace_free(struct policyd_trace **trace);
/* Records the answer dec to req (what is recorded: doc/trace.md). */
void policyd_trace_answer(struct policyd_trace *trace,
			  const struct om_policy_request *req,
			  const struct om_policy_decision *dec, time_t now);
/* Answers waiting to be written (for the metrics' scrape: any thread). */
size_t policyd_trace_pending(struct policyd_trace *trace);
/* 1 when a batch is due (OM_EVENTS_FLUSH_COUNT events wait; with the
   writer thread, POLICYD_TRACE_BATCH). */
int policyd_trace_due(struct policyd_trace *trace);
/* Starts the writer thread, with its own store handle (store_path, as
   om_store_open): from then on policyd_trace_kick and policyd_trace_expire
   hand the answers over and the thread writes them.  0, or -1 with
   *error_r (allocated; the caller may go on writing with
   policyd_trace_flush from the loop). */
int policyd_trace_start(struct policyd_trace *trace, const char *store_path,
			int busy_timeout_ms, char **error_r);
/* Wakes the writer for a batch now (policyd_trace_due);
   without a writer, does nothing. */
void policyd_trace_kick(struct policyd_trace *trace);
/* Moves the answers of messages whose queue id did not come within the
   wait to the written queue (the event loop's half of a flush). */
void policyd_trace_expire(struct policyd_trace *trace, time_t now);
/* 1 if the writer thread runs. */
int policyd_trace_threaded(const struct policyd_trace *trace);
/* Stops the writer thread (after its last batch) and closes its store;
   nothing when none runs. */
void policyd_trace_stop(struct policyd_trace *trace);
/* Writes what waits with store, on the calling thread (final: every message's answers, even those whose
   queue id never came); failures and drops are logged, never returned. */
void policyd_trace_flush(struct policyd_trace *trace, struct om_store *store,
			 time_t now, int final);

#endif
