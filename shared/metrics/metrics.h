/* metrics.h - Prometheus metrics of one daemon (issue 20, doc/metrics.md):
 * counters over fixed label sets, histograms, gauges read at scrape, and
 * their text exposition (format 0.0.4).
 *
 * Every series exists from registration on (a label value is an index
 * into the fixed list it was registered with), so the hot path only adds
 * to an atomic: no lock, no allocation.  The registry itself is built
 * before the daemon's threads start and never changes after.
 */
#ifndef OM_METRICS_H
#define OM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct om_metrics;
struct om_metric;

struct om_metrics *om_metrics_new(void);
void om_metrics_free(struct om_metrics **m);

/* A counter over up to two labels (label NULL: none), each with count
   values; a value NULL is a hole (an enum's "none"): adding there is
   ignored and the series is not shown. */
struct om_metric *om_metrics_counter(struct om_metrics *m, const char *name,
				     const char *help,
				     const char *label1, const char *const *values1,
				     size_t count1,
				     const char *label2, const char *const *values2,
				     size_t count2);
/* Adds n to the series (i1, i2); an index out of range or a hole: ignored. */
void om_metric_add(struct om_metric *c, size_t i1, size_t i2, uint64_t n);

/* A histogram of seconds with the given upper bounds (ascending; +Inf is
   added).  Observations are kept in microseconds. */
struct om_metric *om_metrics_histogram(struct om_metrics *m, const char *name,
				       const char *help, const double *bounds,
				       size_t count);
void om_metric_observe_us(struct om_metric *h, uint64_t us);

/* A gauge read at scrape: fn returns 0 with *value_r, or -1 to leave the
   gauge out of this scrape (unknown now).  fn runs on the scraping
   thread. */
typedef int om_metric_gauge_fn(void *context, double *value_r);
struct om_metric *om_metrics_gauge(struct om_metrics *m, const char *name,
				   const char *help, om_metric_gauge_fn *fn,
				   void *context);

/* The same for a count kept elsewhere (a store's rows) that only grows:
   shown as a counter. */
struct om_metric *om_metrics_counter_read(struct om_metrics *m, const char *name,
					  const char *help, om_metric_gauge_fn *fn,
					  void *context);

/* Appends the exposition of every metric, in registration order. */
void om_metrics_render(struct om_metrics *m, struct om_buf *out);

/* A label value or HELP text escaped as the format says (\\, \n, and for
   label values \"). */
void om_metrics_escape(struct om_buf *out, const char *text, int label);

#endif
