/* policyd-trace.h - omamori-policyd's answers for the message trace
 * (doc/trace.md): queued in memory, written in batches from the event
 * loop, never a store write per request.
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
/* 1 when a batch is due (OM_EVENTS_FLUSH_COUNT events wait). */
int policyd_trace_due(struct policyd_trace *trace);
/* Writes what waits (final: every message's answers, even those whose
   queue id never came); failures and drops are logged, never returned. */
void policyd_trace_flush(struct policyd_trace *trace, struct om_store *store,
			 time_t now, int final);

#endif
