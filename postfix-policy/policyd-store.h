/* policyd-store.h - omamori-policyd's store thread: every store call after
 * start-up, so that a store that hangs never holds up an answer.
 */
#ifndef POLICYD_STORE_H
#define POLICYD_STORE_H

struct om_snapshot_changes;
struct om_brake_changes;
struct om_policy_save;
struct om_brake_batch;
struct om_brake_trips_job;
struct policyd_store;

enum policyd_job_kind {
	POLICYD_JOB_REFRESH = 0,	/* read what changed since */
	POLICYD_JOB_SAVE,		/* rates, correspondents, history */
	POLICYD_JOB_TRIPS,		/* brake rows, right after a trip */
	POLICYD_JOB_NOTIFY,		/* (from the thread) a change was
					   notified: a refresh is due */
	POLICYD_JOB_KINDS
};

/* A typed job: the loop fills the "in" part, the thread the "out" part
   and hands it back; the thread never touches the policy. */
struct policyd_job {
	enum policyd_job_kind kind;
	struct policyd_job *next;
	/* REFRESH in: the revisions applied last; force reads everything */
	int force;
	long long config_since, brake_since;
	/* REFRESH out: changed 0 when the store's change counter did not
	   move (nothing read) */
	int changed;
	struct om_snapshot_changes *snap;
	struct om_brake_changes *brake;
	char *snap_error, *brake_error;
	/* SAVE in (and out: what was written) */
	struct om_policy_save *save;
	struct om_brake_batch *batch;
	char *rates_error, *correspondents_error, *batch_error;
	/* TRIPS in/out */
	struct om_brake_trips_job *trips;
	char *trips_error;
};

/* Opens the thread's own store handle and starts it; done_fd_r is the
   descriptor that becomes readable when jobs are done (for the loop's
   epoll).  0, or -1 with *error_r. */
int policyd_store_start(const char *store_path, long busy_timeout_ms,
			struct policyd_store **store_r, int *done_fd_r,
			char **error_r);
/* Queues job for the thread (it owns it until it comes back). */
void policyd_store_post(struct policyd_store *st, struct policyd_job *job);
/* The jobs done (oldest first), NULL for none; clears done_fd. */
struct policyd_job *policyd_store_done(struct policyd_store *st);
/* Tells the thread to end once its queue is done, and waits at most
   timeout_ms for it: 0 ended (handle closed, freed), -1 still busy in the
   store (left running; the process is about to exit). */
int policyd_store_stop(struct policyd_store **st, long timeout_ms);
void policyd_job_free(struct policyd_job **job);

#endif
