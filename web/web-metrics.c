/* web-metrics.c - omamori-web's Prometheus metrics (doc/metrics.md): the
 * gate's clicks by verdict (counted as they are recorded), and two figures
 * of the store read at scrape: outbound mail held (for its sender or the
 * administrator) and digests sent by omamorictl cron.
 *
 * The store figures are read on the endpoint's one thread with a store
 * handle of its own, at most every WEB_METRICS_CACHE seconds, so a scraper
 * polling fast costs the store nothing more.  A figure the store could not
 * give is left out of the scrape (and logged), never shown as 0.
 */
#include "web.h"
#include "lib/log.h"
#include "metrics/metrics.h"
#include "metrics/metrics-http.h"
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

#define WEB_METRICS_CACHE 5	/* seconds */

static const char *const web_click_verdicts[] = {
	[OM_URL_VERDICT_NONE] = "allowed",
	[OM_URL_VERDICT_WARN] = "warn",
	[OM_URL_VERDICT_BLOCK] = "block",
};

static void web_metrics_hold_cb(void *context __attribute__((unused)),
				const struct om_store_hold *h __attribute__((unused)))
{
}

/* Reads the store's figures unless they are fresh; 0, or -1 (logged). */
static int web_metrics_read(struct web_metrics *m)
{
	long long digests = 0;
	time_t now = time(NULL);
	char *error = NULL;
	int held, admin;

	if (m->have && now - m->read_at < WEB_METRICS_CACHE && now >= m->read_at)
		return 0;
	m->have = 0;
	if (m->store == NULL &&
	    om_store_open(m->config->store_path, 0, m->config->store_busy_timeout_ms,
			  &m->store, &error) < 0)
		goto fail;
	held = om_store_hold_list(m->store, OM_HOLD_BY_STATE, NULL, OM_HOLD_HELD,
				  web_metrics_hold_cb, NULL, &error);
	if (held < 0)
		goto fail;
	admin = om_store_hold_list(m->store, OM_HOLD_BY_STATE, NULL, OM_HOLD_ADMIN,
				   web_metrics_hold_cb, NULL, &error);
	if (admin < 0 || om_store_digest_sent_count(m->store, &digests, &error) < 0)
		goto fail;
	m->holds = (double)held + (double)admin;
	m->digests = (double)digests;
	m->read_at = now;
	m->have = 1;
	return 0;
fail:
	om_log_error("metrics: store: %s", error);
	free(error);
	om_store_close(&m->store);
	return -1;
}

static int web_metrics_holds(void *context, double *value_r)
{
	struct web_metrics *m = context;

	if (web_metrics_read(m) < 0)
		return -1;
	*value_r = m->holds;
	return 0;
}

static int web_metrics_digests(void *context, double *value_r)
{
	struct web_metrics *m = context;

	if (web_metrics_read(m) < 0)
		return -1;
	*value_r = m->digests;
	return 0;
}

int web_metrics_listen(struct web_metrics *m, const struct om_config *config,
		       char **error_r)
{
	int ret;

	m->config = config;
	m->listen_fd = -1;
	m->registry = om_metrics_new();
	m->clicks = om_metrics_counter(m->registry, "omamori_web_clicks_total",
		"Clicks through the link gate (/u/), by the gate's verdict.",
		"verdict", web_click_verdicts, OM_N_ELEMENTS(web_click_verdicts),
		NULL, NULL, 0);
	(void)om_metrics_gauge(m->registry, "omamori_web_holds_pending",
		"Outbound messages held, waiting for their sender or the "
		"administrator (read from the store, cached a few seconds).",
		web_metrics_holds, m);
	/* a counter read from the store: digests rows are never deleted */
	(void)om_metrics_counter_read(m->registry, "omamori_digests_sent_total",
		"Quarantine digests sent by omamorictl cron, ever (from the store).",
		web_metrics_digests, m);
	ret = om_metrics_listen(config->web_metrics_listen, config->metrics_allow_remote,
				&m->listen_fd, error_r);
	if (ret == -1)
		return -1;
	if (ret == -2) {
		om_log_error("web_metrics_listen: %s: running without metrics", *error_r);
		om_free(error_r);
	}
	return 0;
}

void web_metrics_start(struct web_metrics *m)
{
	char *error = NULL;
	int fd = m->listen_fd;

	if (fd < 0)
		return;
	m->listen_fd = -1;
	if (om_metrics_serve(m->registry, fd, &m->server, &error) < 0) {
		om_log_error("web_metrics_listen: %s: running without metrics", error);
		free(error);
	}
}

void web_metrics_click(struct web_metrics *m, enum om_url_verdict verdict)
{
	om_metric_add(m->clicks, (size_t)verdict, 0, 1);
}

void web_metrics_stop(struct web_metrics *m)
{
	om_metrics_server_stop(&m->server);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->listen_fd = -1;
	om_store_close(&m->store);
	om_metrics_free(&m->registry);
}
