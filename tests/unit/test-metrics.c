/* test-metrics.c - unit tests of metrics/metrics.c: the text exposition
 * (HELP/TYPE lines, label values escaped, a histogram's cumulative buckets
 * with +Inf, _sum and _count), holes of a label set, adds out of range,
 * and gauges left out when unknown. */
#include "tap.h"
#include "metrics/metrics.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const colours[] = { NULL, "red", "say \"hi\"\\\n" };
static const char *const sizes[] = { "small", "large" };

static int gauge_seven(void *context __attribute__((unused)), double *value_r)
{
	*value_r = 7;
	return 0;
}

static int gauge_unknown(void *context __attribute__((unused)),
			 double *value_r __attribute__((unused)))
{
	return -1;
}

static char *render(struct om_metrics *m)
{
	struct om_buf out;

	om_buf_init(&out);
	om_metrics_render(m, &out);
	return om_buf_steal(&out, NULL);
}

static void test_counter(void)
{
	struct om_metrics *m = om_metrics_new();
	struct om_metric *c = om_metrics_counter(m, "x_total", "Help with \\ and\nline.",
						 "colour", colours, 3, "size", sizes, 2);
	char *text;

	om_metric_add(c, 1, 0, 2);
	om_metric_add(c, 1, 0, 1);
	om_metric_add(c, 2, 1, 5);
	om_metric_add(c, 0, 0, 9);	/* a hole: ignored */
	om_metric_add(c, 3, 0, 9);	/* out of range: ignored */
	om_metric_add(c, 1, 2, 9);
	text = render(m);
	TAP_OK(strstr(text, "# HELP x_total Help with \\\\ and\\nline.\n"
		      "# TYPE x_total counter\n") == text, "HELP escaped, then TYPE");
	TAP_OK(strstr(text, "x_total{colour=\"red\",size=\"small\"} 3\n") != NULL,
	       "adds sum up");
	TAP_OK(strstr(text, "x_total{colour=\"red\",size=\"large\"} 0\n") != NULL,
	       "a series never added to is shown as 0");
	TAP_OK(strstr(text, "x_total{colour=\"say \\\"hi\\\"\\\\\\n\",size=\"large\"} 5\n") != NULL,
	       "a label value escaped (quote, backslash, line end)");
	TAP_OK(strstr(text, " 9\n") == NULL, "holes and indexes out of range add nothing");
	free(text);
	om_metrics_free(&m);
	TAP_OK(m == NULL, "freed");
}

static void test_histogram_and_gauges(void)
{
	static const double bounds[] = { 0.01, 0.1, 1 };
	struct om_metrics *m = om_metrics_new();
	struct om_metric *h = om_metrics_histogram(m, "d_seconds", "D.", bounds, 3);
	char *text;

	(void)om_metrics_gauge(m, "g", "G.", gauge_seven, NULL);
	(void)om_metrics_gauge(m, "u", "U.", gauge_unknown, NULL);
	(void)om_metrics_counter_read(m, "r_total", "R.", gauge_seven, NULL);
	om_metric_observe_us(h, 10000);		/* exactly 0.01: in le=0.01 */
	om_metric_observe_us(h, 50000);
	om_metric_observe_us(h, 2500000);	/* past every bound */
	text = render(m);
	TAP_OK(strstr(text, "# TYPE d_seconds histogram\n"
		      "d_seconds_bucket{le=\"0.01\"} 1\n"
		      "d_seconds_bucket{le=\"0.1\"} 2\n"
		      "d_seconds_bucket{le=\"1\"} 2\n"
		      "d_seconds_bucket{le=\"+Inf\"} 3\n"
		      "d_seconds_sum 2.560000\n"
		      "d_seconds_count 3\n") != NULL, "cumulative buckets, +Inf, sum, count");
	TAP_OK(strstr(text, "# TYPE g gauge\ng 7\n") != NULL, "a gauge read at scrape");
	TAP_OK(strstr(text, "# TYPE u gauge\n# HELP") != NULL && strstr(text, "\nu ") == NULL,
	       "an unknown gauge has no sample");
	TAP_OK(strstr(text, "# TYPE r_total counter\nr_total 7\n") != NULL,
	       "a counter read at scrape");
	free(text);
	om_metrics_free(&m);
}

int main(void)
{
	test_counter();
	test_histogram_and_gauges();
	return tap_done();
}
