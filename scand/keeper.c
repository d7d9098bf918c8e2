/* keeper.c - omamori-scand's store keeper: the classifier's saves and
 * reloads (its save timer, and the notifications of a store that sends
 * them) and the message trace's writes, in a thread of their own.
 *
 * The main thread only accepts connections and reads signals.  When it
 * did this work itself, a store that hung (PostgreSQL taking the
 * connection and never answering) held it for the store's whole answer
 * deadline at the next save or trace write, and every connection waited
 * unaccepted in the backlog meanwhile: scans that need nothing from the
 * store too, until the delivery plugin gave up on scand and deferred the
 * mail (tests/e2e/pg_freeze.py).  Here a store that hangs holds up only
 * the next save and the next trace write; the trace's queue is bounded
 * (store/events.h), so what does not fit is dropped and counted, as
 * before.
 */
#include "scand.h"
#include "lib/util.h"
#include "store/events.h"

#include <errno.h>
#include <time.h>

/* How often the keeper looks at the store's notifications (ms). */
#define SCAND_KEEPER_TICK_MS 250

/* Sleeps until ms from now or a stop; 1 when told to stop.  Under lock. */
static int scand_keeper_sleep(struct scand_keeper *k, uint64_t ms)
{
	struct timespec until;

	if (k->stopping)
		return 1;
	(void)clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!k->stopping &&
	       pthread_cond_timedwait(&k->cond, &k->lock, &until) != ETIMEDOUT)
		;
	return k->stopping;
}

static void *scand_keeper_main(void *arg)
{
	struct scand *s = arg;
	struct scand_keeper *k = &s->keeper;
	uint64_t save_every = (uint64_t)s->config->spam_save_interval * 1000;
	uint64_t next_save = om_now_ms() + save_every;
	uint64_t next_trace = om_now_ms() + OM_EVENTS_FLUSH_MS;

	pthread_mutex_lock(&k->lock);
	while (!scand_keeper_sleep(k, SCAND_KEEPER_TICK_MS)) {
		pthread_mutex_unlock(&k->lock);
		if (om_now_ms() >= next_save) {
			next_save = om_now_ms() + save_every;
			scand_classifier_sync(&s->classifier);
		} else {
			scand_classifier_watch(&s->classifier);
		}
		if (om_now_ms() >= next_trace) {
			next_trace = om_now_ms() + OM_EVENTS_FLUSH_MS;
			scand_trace_flush(s);
		}
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int scand_keeper_start(struct scand *s, char **error_r)
{
	struct scand_keeper *k = &s->keeper;
	pthread_condattr_t attr;

	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&k->lock, NULL) != 0 ||
	    pthread_cond_init(&k->cond, &attr) != 0) {
		*error_r = om_strdup("cannot initialise the store keeper's lock");
		return -1;
	}
	(void)pthread_condattr_destroy(&attr);
	if (pthread_create(&k->thread, NULL, scand_keeper_main, s) != 0) {
		*error_r = om_strdup("cannot start the store keeper thread");
		return -1;
	}
	k->started = 1;
	return 0;
}

void scand_keeper_stop(struct scand *s)
{
	struct scand_keeper *k = &s->keeper;

	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = 1;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	(void)pthread_join(k->thread, NULL);
	k->started = 0;
	(void)pthread_cond_destroy(&k->cond);
	(void)pthread_mutex_destroy(&k->lock);
}
