/* brake.h - the compromised-account brake of omamori-policyd (issue 14
 * item 7, doc/outbound.md): a SASL login whose sending jumps far above its
 * own history has its mail held for the administrator.
 *
 * From the requests policyd already sees, per login: the messages of the
 * sliding hour (twelve five-minute slots), its distinct recipients (each
 * with the time last seen), and the counts of the clock hour, which become
 * the login's history (store table sender_history) when the hour is over.
 * The brake trips when the sliding hour's messages or distinct recipients
 * go over max(floor, factor x the login's peak hour of the history);
 * the peak leaves out the current hour and every hour in which the login
 * was braked, so a burst never raises its own limit.
 *
 * Everything is in memory; the store is written in batches (finished
 * hours, at policyd's save interval) and once per trip (the brake row,
 * right after the answer), never per request.  A lift is learned from the
 * store's "brake" revision.
 */
#ifndef OM_BRAKE_H
#define OM_BRAKE_H

#include <stddef.h>
#include <time.h>

struct om_store;
struct om_store_brake;
struct om_brake;

/* The settings of one login (brake, brake-factor, brake-min-messages,
   brake-min-recipients). */
struct om_brake_limits {
	int on;
	long long factor;
	long long min_messages;
	long long min_recipients;
};

struct om_brake *om_brake_new(long history_days);
void om_brake_free(struct om_brake **brake);
/* brake_history_days again (SIGHUP). */
void om_brake_set_history_days(struct om_brake *brake, long history_days);

/* 1 if login is braked now: every recipient of its mail is held. */
int om_brake_braked(const struct om_brake *brake, const char *login);

/* Counts one recipient the policy accepts for login (instance: Postfix's
   message) and tells whether the brake trips now: 1 tripped (why says
   the figures), 0 not.  A braked login is not counted. */
int om_brake_count(struct om_brake *brake, const char *login, const char *instance,
		   const char *recipient, const struct om_brake_limits *limits,
		   time_t now, char *why, size_t why_size);

/* At start: the peaks of the history and the logins braked now.  0 or -1. */
int om_brake_load(struct om_brake *brake, struct om_store *store, time_t now,
		  char **error_r);
/* Writes the trips not yet in the store (one write each, right after a
   trip; kept for the next call on failure); cb(context, trip) for each
   written.  The number written or -1. */
typedef void om_brake_trip_cb(void *context, const struct om_store_brake *trip);
int om_brake_save_trips(struct om_brake *brake, struct om_store *store,
			om_brake_trip_cb *cb, void *context, char **error_r);
/* 1 if a trip waits to be written. */
int om_brake_trips_pending(const struct om_brake *brake);
/* The batch: the hours that ended (all of them with final set: at exit,
   the current ones too), the old history forgotten, the peaks read again
   once an hour, the recipients older than the sliding hour forgotten.
   0 or -1 (the rows stay for the next call). */
int om_brake_save(struct om_brake *brake, struct om_store *store, time_t now,
		  int final, char **error_r);
/* Learns lifts (and brakes set elsewhere) when the store's "brake"
   revision moved: a lifted login starts a new sliding hour.  0 unchanged,
   1 re-read, -1 error. */
int om_brake_refresh(struct om_brake *brake, struct om_store *store,
		     char **error_r);
/* Logins in memory. */
size_t om_brake_logins(const struct om_brake *brake);

/* The same store work in three steps, for a daemon whose store calls run
   on a thread of their own (policyd): the loop takes what is to be
   written out of memory (take), the thread writes or reads it with its
   store handle and touches no om_brake (write/read), the loop applies the
   result (done/apply).  What a failed write took is given back, to be
   written next time: nothing is lost, nothing written twice. */
struct om_brake_changes;
struct om_brake_trips_job;
struct om_brake_batch;
/* The "brake" revision the brakes in memory were read at. */
long long om_brake_revision(const struct om_brake *brake);
/* The brakes on now, if the "brake" revision is no longer since.  0
   unchanged (*changes_r NULL), 1 read, -1 error. */
int om_brake_read_changes(struct om_store *store, long long since,
			  struct om_brake_changes **changes_r, char **error_r);
/* What om_brake_refresh does after its reads. */
void om_brake_apply_changes(struct om_brake *brake,
			    const struct om_brake_changes *changes);
void om_brake_changes_free(struct om_brake_changes **changes);
/* The trips not yet written nor being written, NULL for none. */
struct om_brake_trips_job *om_brake_take_trips(struct om_brake *brake);
int om_brake_write_trips(struct om_store *store, struct om_brake_trips_job *trips,
			 char **error_r);
/* The written ones are in the store (cb for each); the others are taken
   again.  Frees trips. */
void om_brake_trips_done(struct om_brake *brake, struct om_brake_trips_job **trips,
			 om_brake_trip_cb *cb, void *context);
void om_brake_trips_free(struct om_brake_trips_job **trips);
/* om_brake_save's batch: the sweep now, the finished hours taken (and
   the peaks to read, once an hour). */
struct om_brake_batch *om_brake_take_batch(struct om_brake *brake, time_t now,
					   int final);
int om_brake_write_batch(struct om_store *store, struct om_brake_batch *batch,
			 char **error_r);
/* Rows not written given back; peaks read applied.  Frees batch. */
void om_brake_batch_done(struct om_brake *brake, struct om_brake_batch **batch);
void om_brake_batch_free(struct om_brake_batch **batch);

#endif
