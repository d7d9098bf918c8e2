/* scand.h - omamori-scand internals shared by its three files: the engine
 * holder (engine.c), the worker pool (workers.c) and the main loop (scand.c).
 */
#ifndef SCAND_H
#define SCAND_H

#include <pthread.h>
#include <signal.h>

#include "av.h"
#include "om-config.h"

struct scand_engine_ref {
	struct om_av_engine *engine;
	unsigned int refs;
	unsigned int generation;
	unsigned int signatures;
};

/* The current engine, swapped by a reload while scans go on. */
struct scand_engines {
	pthread_mutex_t lock;
	struct scand_engine_ref *current;
	struct om_av_watch *watch;
	struct om_av_limits limits;
	char *dirs;
};

/* Queue of accepted connections waiting for a worker. */
struct scand_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *fds;
	size_t head, count, cap;
	int closing;
};

struct scand {
	struct om_config *config;
	struct scand_engines engines;
	struct scand_queue queue;
	pthread_t *workers;
	size_t worker_count;
	volatile sig_atomic_t stopping;
};

/* engine.c */
int scand_engines_init(struct scand_engines *engines,
		       const struct om_config *config, char **error_r);
/* Loads the signatures again; on failure the old engine stays. */
int scand_engines_reload(struct scand_engines *engines, char **error_r);
/* 1 if the signature files changed since the last load. */
int scand_engines_changed(struct scand_engines *engines);
struct scand_engine_ref *scand_engines_acquire(struct scand_engines *engines);
void scand_engines_release(struct scand_engines *engines,
			   struct scand_engine_ref **ref);
void scand_engines_deinit(struct scand_engines *engines);

/* workers.c */
int scand_workers_start(struct scand *scand, char **error_r);
/* Hands an accepted connection to the pool (closes it when closing). */
void scand_workers_push(struct scand *scand, int fd);
/* Stops taking connections, lets running requests finish, joins. */
void scand_workers_stop(struct scand *scand);

#endif
