/* scand.h - omamori-scand internals shared by its three files: the engine
 * holder (engine.c), the worker pool (workers.c) and the main loop (scand.c).
 */
#ifndef SCAND_H
#define SCAND_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "scan/av.h"
#include "scan/attach.h"
#include "lib/om-config.h"
#include "crypto/token.h"
#include "spam/phish.h"
#include "spam/spam.h"

struct om_spam_db;
struct om_store;
struct om_sandbox_gate;
struct om_events;
struct om_scan_request;
struct om_scan_result;

struct scand_engine_ref {
	struct om_av_engine *engine;
	unsigned int refs;
	unsigned int generation;
	unsigned int signatures;
	struct om_att_rules *rules;	/* attachment analysis, or NULL: off */
};

/* The current engine, swapped by a reload while scans go on. */
struct scand_engines {
	pthread_mutex_t lock;
	struct scand_engine_ref *current;
	struct om_av_watch *watch;
	struct om_av_limits limits;
	char *dirs;
	char *rules_path;	/* attachment_rules, "" for none */
};

/* Queue of accepted connections waiting for a worker. */
struct scand_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *fds;
	size_t head, count, cap;
	int closing;
};

/* The spam classifier, shared by the workers. */
struct scand_classifier {
	pthread_rwlock_t lock;
	/* one save-or-reload at a time: scand's timer and a worker answering
	   omamorictl's sync request; held over the store, never by a scan */
	pthread_mutex_t sync_lock;
	struct om_spam_db *db;
	struct om_store *store;		/* for saves and reloads only */
	/* the store's change counter last looked at by
	   scand_classifier_watch (under sync_lock) */
	long long watched;
	/* learning per mailbox this hour (scand_classifier_may_learn): one
	   table for every customer, so one mailbox's moves are bounded */
	pthread_mutex_t learned_lock;
	struct om_hash *learned;	/* mailbox -> count (a long, owned) */
	long long learned_hour;		/* the hour the counts are of */
};

/* The store keeper (keeper.c): the classifier's saves and reloads and
   the trace's writes, off the thread that accepts connections. */
struct scand_keeper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* on CLOCK_MONOTONIC */
	int stopping;		/* under lock */
	int started;
};

/* The Prometheus metrics (metrics.c, doc/metrics.md): the registry, the
   series the workers add to, and the label values they are indexed by. */
#define SCAND_METRICS_LABELS 16
struct om_metrics;
struct om_metric;
struct om_metrics_server;
struct scand_metrics {
	struct om_metrics *registry;
	struct om_metric *messages;	/* {verdict, action} */
	struct om_metric *spam;		/* {action}: the mailbox's spam action */
	struct om_metric *errors;	/* scans answered with an error */
	struct om_metric *duration;	/* seconds, a histogram */
	struct om_metrics_server *server;
	int listen_fd;			/* before it is served, or -1 */
	_Atomic unsigned int busy;	/* workers serving a request */
	const char *verdicts[SCAND_METRICS_LABELS];
	const char *actions[SCAND_METRICS_LABELS];
	const char *spam_actions[SCAND_METRICS_LABELS];
};

struct scand {
	struct om_config *config;
	/* the web key (web_key_path), read as root: signs the links of the
	   click-time gate (url-rewrite); has_link_keys 0 without it */
	struct om_link_keys link_keys;
	int has_link_keys;
	/* the public half of the isolation key (isolate_key_path, read as
	   root, its secret half forgotten: crypto/vault.h); has_isolate_pk 0
	   without it (isolation then falls back to remove) */
	unsigned char isolate_pk[32];
	int has_isolate_pk;
	/* the country database of the Received path (scan/geo.h), or NULL */
	struct om_geo *geo;
	struct scand_engines engines;
	struct scand_classifier classifier;
	/* the phishing-shape rules' Public Suffix List and free-mail list
	   (spam/phish.h), read-only once loaded; NULL: those rules are off */
	struct om_phish *phish;
	/* the cap on sandbox runs at once (sandbox_max_concurrent), shared
	   by the workers */
	struct om_sandbox_gate *sandbox_gate;
	struct scand_queue queue;
	/* the message trace's events (trace.c), written by the keeper
	   thread with a store handle of its own (the main thread's once the
	   keeper has stopped) */
	struct om_events *events;
	struct om_store *trace_store;
	struct scand_keeper keeper;
	struct scand_metrics metrics;
	pthread_t *workers;
	size_t worker_count;
	volatile sig_atomic_t stopping;
};

/* trace.c: a scan's steps queued (res NULL: it failed with error), and
   the queue written (the keeper thread; the main thread after it) */
void scand_trace_scan(struct scand *scand, const struct om_scan_request *req,
		      const struct om_scan_result *res, const char *error);
void scand_trace_flush(struct scand *scand);

/* metrics.c: the listener made as root (a value refused is fatal), the
   registry and its endpoint once the workers run; a scan's result (res
   NULL: it failed) and how long it took */
void scand_metrics_listen(struct scand *scand);
void scand_metrics_start(struct scand *scand);
void scand_metrics_scan(struct scand *scand, const struct om_scan_result *res,
			uint64_t us);
void scand_metrics_stop(struct scand *scand);

/* keeper.c: started once the classifier and the trace's queue exist;
   stopped (joined) before they are written a last time and freed */
int scand_keeper_start(struct scand *s, char **error_r);
void scand_keeper_stop(struct scand *s);

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

/* classifier.c */
int scand_classifier_init(struct scand_classifier *c,
			  const struct om_config *config, char **error_r);
/* The table to score with, read-locked until scand_classifier_done(). */
const struct om_spam_db *scand_classifier_read(struct scand_classifier *c);
void scand_classifier_done(struct scand_classifier *c);
/* 1 when mailbox may teach the classifier once more this hour (counted
   now), 0 when it has taught max_per_hour messages already (0: no bound;
   "": omamorictl's, not bounded); *count_r its count of asks this hour
   (refused ones too: the first refused is max_per_hour + 1).  One
   customer's moves into and out of Junk teach every customer's
   classifier: this bounds what one can do to it (doc/spam.md). */
int scand_classifier_may_learn(struct scand_classifier *c, const char *mailbox,
			       long max_per_hour, time_t now, long *count_r);
/* Learns a message, and its sender's site when phish is not NULL
   (PHISH_LOOKALIKE_KNOWN, spam.h), once for mailbox
   (om_spam_lesson_learn_once: a copy taught again counts once, a move
   back corrects it). */
enum om_spam_lesson_outcome
scand_classifier_learn(struct scand_classifier *c, const struct om_phish *phish,
		       const char *mailbox, const char *msg, size_t len, int is_spam);
/* Saves what was learned, or reloads what others saved. */
void scand_classifier_sync(struct scand_classifier *c);
/* Called every second: on a store that pushes its changes (PostgreSQL's
   notifications, such as another host's classifier save), syncs as soon
   as one came instead of at the save timer. */
void scand_classifier_watch(struct scand_classifier *c);
/* The same, now, for a client that changed the store (a SYNC request):
   0 once scans use the store's table, or -1 with *error_r. */
int scand_classifier_sync_now(struct scand_classifier *c, char **error_r);
void scand_classifier_deinit(struct scand_classifier *c);

/* workers.c */
int scand_workers_start(struct scand *scand, char **error_r);
/* Hands an accepted connection to the pool (closes it when closing). */
void scand_workers_push(struct scand *scand, int fd);
/* Stops taking connections, lets running requests finish, joins. */
void scand_workers_stop(struct scand *scand);

/* audit-in.c: audit rules on incoming mail (doc/audit.md), a worker's
   cache of parsed rules per domain, emptied when its snapshot moves. */
struct om_scan_settings;
struct om_scan_request;
struct om_scan_result;
struct scand_audit_cache;
void scand_audit_cache_clear(struct scand_audit_cache *cache);
void scand_audit_cache_free(struct scand_audit_cache **cache);
/* Reads every domain's rules into the cache (made if *cache is NULL):
   0, or -1 with *error_r (the cache is then empty, and read a domain at a
   time as they are met). */
int scand_audit_cache_fill(struct scand_audit_cache **cache, struct om_store *store,
			   char **error_r);
/* Runs the recipient domain's rules over an incoming message scanned into
   res, and writes the deciding rule's action into res.  0, or -1 with
   *error_r (a store error, a rule that does not parse, a message that
   cannot be read): the delivery must be retried, never go unaudited. */
int scand_audit_apply(struct scand_audit_cache **cache,
		      const struct om_scan_settings *set,
		      const struct om_scan_request *req,
		      struct om_scan_result *res, char **error_r);

#endif
