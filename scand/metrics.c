/* metrics.c - omamori-scand's Prometheus metrics (doc/metrics.md): scans by
 * verdict and action, failed scans, the scan latency histogram, the
 * workers busy and connections waiting for one, the classifier's size and
 * the signatures' count and age.
 *
 * A worker adds to atomics only (scand_metrics_scan); everything else is
 * read when scraped, on the endpoint's own thread, with the locks a scan
 * takes for a moment at most (the queue's mutex, the engine's, the
 * classifier's read lock).  The listener is made before scand drops its
 * privileges; an address that is not loopback (without
 * metrics_allow_remote) stops the start, an address in use only the
 * metrics.
 */
#include "scand.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/values.h"
#include "metrics/metrics.h"
#include "metrics/metrics-http.h"
#include "proto/proto.h"
#include "spam/spam.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* seconds: a clean text message takes milliseconds, an archive or a
   sandbox run tens of seconds */
static const double scand_duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

static int scand_gauge_waiting(void *context, double *value_r)
{
	struct scand_queue *q = context;

	pthread_mutex_lock(&q->lock);
	*value_r = (double)q->count;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static int scand_gauge_busy(void *context, double *value_r)
{
	struct scand_metrics *m = context;

	*value_r = (double)atomic_load_explicit(&m->busy, memory_order_relaxed);
	return 0;
}

static int scand_gauge_workers(void *context, double *value_r)
{
	struct scand *scand = context;

	*value_r = (double)scand->config->scand_workers;
	return 0;
}

static int scand_gauge_tokens(void *context, double *value_r)
{
	struct scand_classifier *c = context;
	const struct om_spam_db *db = scand_classifier_read(c);

	size_t n = db != NULL ? om_spam_db_tokens(db) : 0;

	*value_r = (double)n;
	scand_classifier_done(c);
	return 0;
}

static int scand_gauge_signatures(void *context, double *value_r)
{
	struct scand_engines *engines = context;
	struct scand_engine_ref *ref = scand_engines_acquire(engines);

	*value_r = (double)ref->signatures;
	scand_engines_release(engines, &ref);
	return 0;
}

static int scand_gauge_signature_age(void *context, double *value_r)
{
	struct scand_engines *engines = context;
	struct scand_engine_ref *ref = scand_engines_acquire(engines);
	long long built = om_av_engine_db_time(ref->engine);
	long long now = (long long)time(NULL);

	scand_engines_release(engines, &ref);
	if (built <= 0)
		return -1;
	*value_r = now > built ? (double)(now - built) : 0;
	return 0;
}

/* names[i] = name(i) for every value of an enum, 0 ("none") a hole */
static size_t scand_metrics_names(const char **names, const char *(*name)(int))
{
	size_t i, n = 1;

	names[0] = NULL;
	for (i = 1; i < SCAND_METRICS_LABELS; i++) {
		names[i] = name((int)i);
		if (names[i] != NULL)
			n = i + 1;
	}
	return n;
}

static const char *scand_verdict_word(int v)
{
	return om_verdict_name((enum om_verdict)v);
}

static const char *scand_action_word(int v)
{
	return om_action_name((enum om_action)v);
}

static const char *scand_spam_action_word(int v)
{
	return om_spam_action_name((enum om_spam_action)v);
}

static void scand_metrics_register(struct scand *scand)
{
	struct scand_metrics *m = &scand->metrics;
	size_t nverdicts = scand_metrics_names(m->verdicts, scand_verdict_word);
	size_t nactions = scand_metrics_names(m->actions, scand_action_word);
	size_t nspam = scand_metrics_names(m->spam_actions, scand_spam_action_word);

	m->registry = om_metrics_new();
	m->messages = om_metrics_counter(m->registry, "omamori_scand_messages_total",
		"Messages scanned, by verdict and by the action the delivery takes.",
		"verdict", m->verdicts, nverdicts, "action", m->actions, nactions);
	/* a spam's action above is the delivery's (deliver: the plugin then
	   files it as the mailbox says); what the mailbox said is here */
	m->spam = om_metrics_counter(m->registry, "omamori_scand_spam_actions_total",
		"Spam verdicts, by the mailbox's spam action (deliver, tag, header, "
		"quarantine).",
		"action", m->spam_actions, nspam, NULL, NULL, 0);
	m->errors = om_metrics_counter(m->registry, "omamori_scand_scan_errors_total",
		"Scans answered with an error (the delivery retries).",
		NULL, NULL, 0, NULL, NULL, 0);
	m->duration = om_metrics_histogram(m->registry,
		"omamori_scand_scan_duration_seconds",
		"Time to scan one message, answered or failed.",
		scand_duration_bounds, OM_N_ELEMENTS(scand_duration_bounds));
	(void)om_metrics_gauge(m->registry, "omamori_scand_queue_depth",
		"Connections waiting for a free worker.",
		scand_gauge_waiting, &scand->queue);
	(void)om_metrics_gauge(m->registry, "omamori_scand_workers_busy",
		"Workers serving a request now.", scand_gauge_busy, m);
	(void)om_metrics_gauge(m->registry, "omamori_scand_workers",
		"Workers in the pool (scand_workers).", scand_gauge_workers, scand);
	(void)om_metrics_gauge(m->registry, "omamori_classifier_tokens",
		"Tokens in the spam classifier's table.",
		scand_gauge_tokens, &scand->classifier);
	(void)om_metrics_gauge(m->registry, "omamori_clamav_signatures",
		"ClamAV signatures loaded.", scand_gauge_signatures, &scand->engines);
	(void)om_metrics_gauge(m->registry, "omamori_clamav_signature_age_seconds",
		"Age of the loaded ClamAV databases (their build time, else the "
		"newest signature file's).",
		scand_gauge_signature_age, &scand->engines);
}

void scand_metrics_listen(struct scand *scand)
{
	const struct om_config *config = scand->config;
	char *error = NULL;
	int ret;

	scand->metrics.listen_fd = -1;
	ret = om_metrics_listen(config->scand_metrics_listen,
				config->metrics_allow_remote, &scand->metrics.listen_fd,
				&error);
	if (ret == -1)
		om_fatal("scand_metrics_listen: %s", error);
	if (ret == -2) {
		om_log_error("scand_metrics_listen: %s: running without metrics", error);
		free(error);
	}
}

void scand_metrics_start(struct scand *scand)
{
	struct scand_metrics *m = &scand->metrics;
	char *error = NULL;
	int fd = m->listen_fd;

	scand_metrics_register(scand);
	if (fd < 0)
		return;
	m->listen_fd = -1;
	if (om_metrics_serve(m->registry, fd, &m->server, &error) < 0) {
		om_log_error("scand_metrics_listen: %s: running without metrics", error);
		free(error);
		return;
	}
	om_log_info("metrics: http://%s/metrics", scand->config->scand_metrics_listen);
}

void scand_metrics_scan(struct scand *scand, const struct om_scan_result *res,
			uint64_t us)
{
	struct scand_metrics *m = &scand->metrics;

	if (res != NULL) {
		om_metric_add(m->messages, (size_t)res->verdict, (size_t)res->action, 1);
		if (res->verdict == OM_VERDICT_SPAM)
			om_metric_add(m->spam, (size_t)res->spam_action, 0, 1);
	} else
		om_metric_add(m->errors, 0, 0, 1);
	om_metric_observe_us(m->duration, us);
}

void scand_metrics_stop(struct scand *scand)
{
	struct scand_metrics *m = &scand->metrics;

	om_metrics_server_stop(&m->server);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->listen_fd = -1;
	om_metrics_free(&m->registry);
}
