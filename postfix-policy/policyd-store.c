/* policyd-store.c - omamori-policyd's store thread (doc/policyd.md).
 *
 * After start-up the event loop never calls the store: a store that
 * hangs (PostgreSQL taking the connection and never answering) would hold
 * every Postfix request up.  This thread, with its own store handle (as
 * the trace writer has its own), does the loop's store work as typed jobs:
 * the loop takes what is to be written out of memory into a job, or asks
 * what changed since the revision it applied last; the thread writes or
 * reads it and hands the job back through done_fd (an eventfd in the
 * loop's epoll); the loop applies the result in memory.  The policy's
 * data belongs to the loop alone, so requests take no lock.  A mutex
 * guards only the two job lists.
 *
 * The thread also watches its handle's change descriptor (PostgreSQL's
 * LISTEN/NOTIFY) between jobs and hands back a NOTIFY job when a change
 * was notified, so a list edit is applied at once.
 */
#include "policyd-store.h"
#include "decide/brake.h"
#include "decide/policy.h"
#include "lib/util.h"
#include "store/snapshot.h"
#include "store/store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* The thread looks at its change descriptor at least this often (ms). */
#define POLICYD_STORE_POLL_MS 1000

struct policyd_store {
	struct om_store *store;		/* the thread's alone */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t ended_cond;
	struct policyd_job *todo, *done;	/* under lock */
	int stop, ended;			/* under lock */
	int wake_fd;		/* eventfd: loop -> thread */
	int done_fd;		/* eventfd: thread -> loop */
	long long counter;	/* the thread's: change counter at its last read */
};

static void policyd_store_signal(int fd)
{
	uint64_t one = 1;

	/* an eventfd at its maximum is readable already: nothing lost */
	(void)!write(fd, &one, sizeof(one));
}

static void policyd_job_append(struct policyd_job **list, struct policyd_job *job)
{
	job->next = NULL;
	while (*list != NULL)
		list = &(*list)->next;
	*list = job;
}

void policyd_job_free(struct policyd_job **jobp)
{
	struct policyd_job *job = *jobp;

	if (job == NULL)
		return;
	om_snapshot_changes_free(&job->snap);
	om_brake_changes_free(&job->brake);
	om_policy_save_free(&job->save);
	om_brake_batch_free(&job->batch);
	om_brake_trips_free(&job->trips);
	free(job->snap_error);
	free(job->brake_error);
	free(job->rates_error);
	free(job->correspondents_error);
	free(job->batch_error);
	free(job->trips_error);
	free(job);
	*jobp = NULL;
}

/* ---- the thread ---- */

static void policyd_store_refresh(struct policyd_store *st, struct policyd_job *job)
{
	long long counter = om_store_change_counter(st->store);

	/* the counter is free to read; the revisions are read only when
	   somebody committed something */
	job->changed = job->force || counter < 0 || counter != st->counter;
	if (!job->changed)
		return;
	if (om_brake_read_changes(st->store, job->brake_since, &job->brake,
				  &job->brake_error) < 0)
		job->brake = NULL;
	if (om_snapshot_read_changes(st->store, job->force ? -1 : job->config_since,
				     &job->snap, &job->snap_error) >= 0)
		st->counter = counter;
}

/* Our own write moves the counter: no re-read for it, unless somebody
   else's change was already waiting. */
static void policyd_store_written(struct policyd_store *st, long long before)
{
	if (before >= 0 && before == st->counter)
		st->counter = om_store_change_counter(st->store);
}

static void policyd_store_save(struct policyd_store *st, struct policyd_job *job)
{
	long long before = om_store_change_counter(st->store);

	if (job->batch != NULL)
		(void)om_brake_write_batch(st->store, job->batch, &job->batch_error);
	if (job->save != NULL)
		(void)om_policy_write_save(st->store, job->save, &job->rates_error,
					   &job->correspondents_error);
	policyd_store_written(st, before);
}

static void policyd_store_trips(struct policyd_store *st, struct policyd_job *job)
{
	long long before = om_store_change_counter(st->store);

	(void)om_brake_write_trips(st->store, job->trips, &job->trips_error);
	policyd_store_written(st, before);
}

static void policyd_store_run(struct policyd_store *st, struct policyd_job *job)
{
	switch (job->kind) {
	case POLICYD_JOB_REFRESH:
		policyd_store_refresh(st, job);
		break;
	case POLICYD_JOB_SAVE:
		policyd_store_save(st, job);
		break;
	case POLICYD_JOB_TRIPS:
		policyd_store_trips(st, job);
		break;
	default:
		break;
	}
}

static void policyd_store_hand_back(struct policyd_store *st, struct policyd_job *job)
{
	pthread_mutex_lock(&st->lock);
	policyd_job_append(&st->done, job);
	pthread_mutex_unlock(&st->lock);
	policyd_store_signal(st->done_fd);
}

/* Between jobs: waits for one, or for a change notified on the store's
   descriptor (then a NOTIFY job goes to the loop). */
static void policyd_store_wait(struct policyd_store *st)
{
	struct pollfd pfd[2];
	struct policyd_job *job;
	uint64_t n;
	long long counter;

	pfd[0].fd = st->wake_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = om_store_change_fd(st->store);	/* -1: ignored */
	pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	if (poll(pfd, 2, POLICYD_STORE_POLL_MS) <= 0)
		return;
	if ((pfd[0].revents & POLLIN) != 0)
		(void)!read(st->wake_fd, &n, sizeof(n));
	if (pfd[1].fd < 0 || pfd[1].revents == 0)
		return;
	/* the counter read takes the notification off the socket */
	counter = om_store_change_counter(st->store);
	if (counter >= 0 && counter == st->counter)
		return;
	job = om_calloc(1, sizeof(*job));
	job->kind = POLICYD_JOB_NOTIFY;
	policyd_store_hand_back(st, job);
}

static void *policyd_store_main(void *arg)
{
	struct policyd_store *st = arg;
	struct policyd_job *jobs, *job;
	int stop;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		jobs = st->todo;
		st->todo = NULL;
		stop = st->stop;
		pthread_mutex_unlock(&st->lock);
		while ((job = jobs) != NULL) {
			jobs = job->next;
			policyd_store_run(st, job);
			policyd_store_hand_back(st, job);
		}
		if (stop)
			break;
		policyd_store_wait(st);
	}
	om_store_close(&st->store);
	pthread_mutex_lock(&st->lock);
	st->ended = 1;
	pthread_cond_signal(&st->ended_cond);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* ---- the loop's side ---- */

int policyd_store_start(const char *store_path, long busy_timeout_ms,
			struct policyd_store **store_r, int *done_fd_r,
			char **error_r)
{
	struct policyd_store *st = om_calloc(1, sizeof(*st));
	int err;

	st->counter = -1;
	st->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	st->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->wake_fd < 0 || st->done_fd < 0) {
		*error_r = om_asprintf("eventfd: %s", strerror(errno));
		goto fail;
	}
	if (om_store_open(store_path, 0, busy_timeout_ms, &st->store, error_r) < 0)
		goto fail;
	if ((err = pthread_mutex_init(&st->lock, NULL)) != 0 ||
	    (err = pthread_cond_init(&st->ended_cond, NULL)) != 0 ||
	    (err = pthread_create(&st->thread, NULL, policyd_store_main, st)) != 0) {
		*error_r = om_asprintf("store thread: %s", strerror(err));
		om_store_close(&st->store);
		goto fail;
	}
	*store_r = st;
	*done_fd_r = st->done_fd;
	return 0;
fail:
	if (st->wake_fd >= 0)
		close(st->wake_fd);
	if (st->done_fd >= 0)
		close(st->done_fd);
	free(st);
	return -1;
}

void policyd_store_post(struct policyd_store *st, struct policyd_job *job)
{
	pthread_mutex_lock(&st->lock);
	policyd_job_append(&st->todo, job);
	pthread_mutex_unlock(&st->lock);
	policyd_store_signal(st->wake_fd);
}

struct policyd_job *policyd_store_done(struct policyd_store *st)
{
	struct policyd_job *jobs;
	uint64_t n;

	(void)!read(st->done_fd, &n, sizeof(n));
	pthread_mutex_lock(&st->lock);
	jobs = st->done;
	st->done = NULL;
	pthread_mutex_unlock(&st->lock);
	return jobs;
}

int policyd_store_stop(struct policyd_store **stp, long timeout_ms)
{
	struct policyd_store *st = *stp;
	struct policyd_job *job;
	struct timespec until;
	int ended;

	if (st == NULL)
		return 0;
	om_deadline_after_ms(&until, timeout_ms);
	pthread_mutex_lock(&st->lock);
	st->stop = 1;
	pthread_mutex_unlock(&st->lock);
	policyd_store_signal(st->wake_fd);
	pthread_mutex_lock(&st->lock);
	while (!st->ended) {
		if (pthread_cond_timedwait(&st->ended_cond, &st->lock, &until) == ETIMEDOUT)
			break;
	}
	ended = st->ended;
	pthread_mutex_unlock(&st->lock);
	if (!ended)
		return -1;	/* stuck in the store: left to the exit */
	(void)pthread_join(st->thread, NULL);
	while ((job = st->done) != NULL) {
		st->done = job->next;
		policyd_job_free(&job);
	}
	pthread_cond_destroy(&st->ended_cond);
	pthread_mutex_destroy(&st->lock);
	close(st->wake_fd);
	close(st->done_fd);
	free(st);
	*stp = NULL;
	return 0;
}
