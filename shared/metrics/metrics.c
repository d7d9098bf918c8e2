/* metrics.c - the registry of a daemon's Prometheus metrics and their text
 * exposition (format 0.0.4: # HELP and # TYPE lines, label values escaped,
 * a histogram's cumulative _bucket{le=...} with +Inf, _sum and _count).
 *
 * Updates are relaxed atomic adds on memory allocated at registration:
 * scand's workers and policyd's loop never wait on a scrape.  A scrape
 * reads each atomic once; a histogram read while a scan is observed may
 * be one observation apart between its buckets and _count, which the
 * format tolerates (the next scrape is consistent again).
 */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum om_metric_kind { OM_METRIC_COUNTER, OM_METRIC_HISTOGRAM, OM_METRIC_GAUGE };

struct om_metric {
	struct om_metric *next;
	enum om_metric_kind kind;
	char *name, *help;
	/* counter: up to two labels over fixed values */
	const char *label[2];
	const char *const *values[2];
	size_t count[2];
	_Atomic uint64_t *cells;	/* count[0] * count[1] */
	/* histogram (seconds; observed in microseconds) */
	double *bounds;
	size_t nbounds;
	_Atomic uint64_t *buckets;	/* nbounds + 1 (the last: +Inf) */
	_Atomic uint64_t sum_us;
	/* gauge */
	om_metric_gauge_fn *fn;
	void *context;
	int read_counter;	/* a counter read by fn */
};

struct om_metrics {
	struct om_metric *first, **tail;
};

struct om_metrics *om_metrics_new(void)
{
	struct om_metrics *m = om_calloc(1, sizeof(*m));

	m->tail = &m->first;
	return m;
}

void om_metrics_free(struct om_metrics **mp)
{
	struct om_metric *x, *next;

	if (*mp == NULL)
		return;
	for (x = (*mp)->first; x != NULL; x = next) {
		next = x->next;
		free(x->name);
		free(x->help);
		free(x->cells);
		free(x->bounds);
		free(x->buckets);
		free(x);
	}
	om_free(mp);
}

static struct om_metric *metric_add(struct om_metrics *m, enum om_metric_kind kind,
				    const char *name, const char *help)
{
	struct om_metric *x = om_calloc(1, sizeof(*x));

	x->kind = kind;
	x->name = om_strdup(name);
	x->help = om_strdup(help);
	*m->tail = x;
	m->tail = &x->next;
	return x;
}

struct om_metric *om_metrics_counter(struct om_metrics *m, const char *name,
				     const char *help,
				     const char *label1, const char *const *values1,
				     size_t count1,
				     const char *label2, const char *const *values2,
				     size_t count2)
{
	struct om_metric *x = metric_add(m, OM_METRIC_COUNTER, name, help);

	x->label[0] = label1;
	x->values[0] = values1;
	x->count[0] = label1 == NULL ? 1 : count1;
	x->label[1] = label2;
	x->values[1] = values2;
	x->count[1] = label2 == NULL ? 1 : count2;
	x->cells = om_calloc(x->count[0] * x->count[1], sizeof(*x->cells));
	return x;
}

static int counter_hole(const struct om_metric *x, size_t l, size_t i)
{
	return x->label[l] != NULL && x->values[l][i] == NULL;
}

void om_metric_add(struct om_metric *x, size_t i1, size_t i2, uint64_t n)
{
	if (x == NULL || x->kind != OM_METRIC_COUNTER ||
	    i1 >= x->count[0] || i2 >= x->count[1] ||
	    counter_hole(x, 0, i1) || counter_hole(x, 1, i2))
		return;
	atomic_fetch_add_explicit(&x->cells[i1 * x->count[1] + i2], n,
				  memory_order_relaxed);
}

struct om_metric *om_metrics_histogram(struct om_metrics *m, const char *name,
				       const char *help, const double *bounds,
				       size_t count)
{
	struct om_metric *x = metric_add(m, OM_METRIC_HISTOGRAM, name, help);

	x->bounds = om_calloc(count == 0 ? 1 : count, sizeof(double));
	memcpy(x->bounds, bounds, count * sizeof(double));
	x->nbounds = count;
	x->buckets = om_calloc(count + 1, sizeof(*x->buckets));
	return x;
}

void om_metric_observe_us(struct om_metric *x, uint64_t us)
{
	size_t i;

	if (x == NULL || x->kind != OM_METRIC_HISTOGRAM)
		return;
	for (i = 0; i < x->nbounds; i++) {
		if ((double)us <= x->bounds[i] * 1e6)
			break;
	}
	atomic_fetch_add_explicit(&x->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->sum_us, us, memory_order_relaxed);
}

struct om_metric *om_metrics_gauge(struct om_metrics *m, const char *name,
				   const char *help, om_metric_gauge_fn *fn,
				   void *context)
{
	struct om_metric *x = metric_add(m, OM_METRIC_GAUGE, name, help);

	x->fn = fn;
	x->context = context;
	return x;
}

void om_metrics_escape(struct om_buf *out, const char *text, int label)
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (*p == '\\')
			om_buf_append_str(out, "\\\\");
		else if (*p == '\n')
			om_buf_append_str(out, "\\n");
		else if (*p == '"' && label)
			om_buf_append_str(out, "\\\"");
		else
			om_buf_append(out, p, 1);
	}
}

struct om_metric *om_metrics_counter_read(struct om_metrics *m, const char *name,
					  const char *help, om_metric_gauge_fn *fn,
					  void *context)
{
	struct om_metric *x = om_metrics_gauge(m, name, help, fn, context);

	x->read_counter = 1;
	return x;
}

static void render_head(struct om_buf *out, const struct om_metric *x,
			const char *type)
{
	om_buf_printf(out, "# HELP %s ", x->name);
	om_metrics_escape(out, x->help, 0);
	om_buf_printf(out, "\n# TYPE %s %s\n", x->name, type);
}

static void render_label(struct om_buf *out, const char *name,
			 const char *value, int first)
{
	om_buf_printf(out, "%s%s=\"", first ? "" : ",", name);
	om_metrics_escape(out, value, 1);
	om_buf_append_str(out, "\"");
}

static void render_counter(struct om_buf *out, const struct om_metric *x)
{
	size_t i, j;
	uint64_t v;

	render_head(out, x, "counter");
	for (i = 0; i < x->count[0]; i++) {
		if (counter_hole(x, 0, i))
			continue;
		for (j = 0; j < x->count[1]; j++) {
			if (counter_hole(x, 1, j))
				continue;
			v = atomic_load_explicit(&x->cells[i * x->count[1] + j],
						 memory_order_relaxed);
			om_buf_append_str(out, x->name);
			if (x->label[0] != NULL) {
				om_buf_append_str(out, "{");
				render_label(out, x->label[0], x->values[0][i], 1);
				if (x->label[1] != NULL)
					render_label(out, x->label[1], x->values[1][j], 0);
				om_buf_append_str(out, "}");
			}
			om_buf_printf(out, " %llu\n", (unsigned long long)v);
		}
	}
}

static void render_histogram(struct om_buf *out, const struct om_metric *x)
{
	uint64_t cumulative = 0, sum;
	size_t i;

	render_head(out, x, "histogram");
	for (i = 0; i <= x->nbounds; i++) {
		cumulative += atomic_load_explicit(&x->buckets[i], memory_order_relaxed);
		if (i < x->nbounds)
			om_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", x->name,
				      x->bounds[i], (unsigned long long)cumulative);
		else
			om_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", x->name,
				      (unsigned long long)cumulative);
	}
	sum = atomic_load_explicit(&x->sum_us, memory_order_relaxed);
	om_buf_printf(out, "%s_sum %llu.%06llu\n", x->name,
		      (unsigned long long)(sum / 1000000),
		      (unsigned long long)(sum % 1000000));
	/* _count is the +Inf bucket, so the two always agree */
	om_buf_printf(out, "%s_count %llu\n", x->name, (unsigned long long)cumulative);
}

static void render_gauge(struct om_buf *out, const struct om_metric *x)
{
	double v;

	render_head(out, x, x->read_counter ? "counter" : "gauge");
	if (x->fn(x->context, &v) == 0)
		om_buf_printf(out, "%s %.17g\n", x->name, v);
}

void om_metrics_render(struct om_metrics *m, struct om_buf *out)
{
	const struct om_metric *x;

	for (x = m->first; x != NULL; x = x->next) {
		switch (x->kind) {
		case OM_METRIC_COUNTER:
			render_counter(out, x);
			break;
		case OM_METRIC_HISTOGRAM:
			render_histogram(out, x);
			break;
		case OM_METRIC_GAUGE:
			render_gauge(out, x);
			break;
		}
	}
}
