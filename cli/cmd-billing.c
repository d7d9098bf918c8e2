/* cmd-billing.c - omamorictl billing: the month's figures per domain and
 * feature, and per mailbox, as CSV or JSON (issue 18 item 5, doc/admin.md
 * "Billing export").
 *
 * Thin: the figures are store/billing.c's (from the history of
 * subscription states); this file only writes them.  A domain's line is
 * the sum of its mailboxes' lines, so either can be checked against the
 * other.
 */
#include "omamorictl.h"
#include "store/billing.h"
#include "lib/csv.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A domain's feature: the mailboxes on, paused and off, and their days. */
struct ctl_billing_total {
	long on, paused, off, days_on, days_paused;
};

/* The rows [i, end) of one domain and feature, and their total. */
static size_t ctl_billing_group_end(const struct om_billing_report *r, size_t i,
				    struct ctl_billing_total *t)
{
	size_t j;

	memset(t, 0, sizeof(*t));
	for (j = i; j < r->count && strcmp(r->rows[j].domain, r->rows[i].domain) == 0 &&
	     strcmp(r->rows[j].feature, r->rows[i].feature) == 0; j++) {
		t->on += r->rows[j].state == OM_SUB_ON;
		t->paused += r->rows[j].state == OM_SUB_PAUSED;
		t->off += r->rows[j].state == OM_SUB_OFF;
		t->days_on += r->rows[j].days_on;
		t->days_paused += r->rows[j].days_paused;
	}
	return j;
}

static void ctl_billing_csv_line(struct om_buf *b, const char *month, const char *kind,
				 const struct om_billing_row *row, const char *mailbox,
				 const struct ctl_billing_total *t)
{
	om_buf_printf(b, "%s,%s,", month, kind);
	om_csv_append_field(b, row->domain);
	om_buf_append_str(b, ",");
	om_csv_append_field(b, row->feature);
	om_buf_append_str(b, ",");
	om_csv_append_field(b, mailbox);
	om_buf_printf(b, ",%ld,%ld,%ld,%ld,%ld\r\n", t->on, t->paused, t->off,
		      t->days_on, t->days_paused);
}

static void ctl_billing_csv(const struct om_billing_report *r, struct om_buf *b)
{
	struct ctl_billing_total t, one;
	size_t i, j, end;

	om_buf_append_str(b, "month,row,domain,feature,mailbox,on,paused,off,"
			  "days_on,days_paused\r\n");
	for (i = 0; i < r->count; i = end) {
		end = ctl_billing_group_end(r, i, &t);
		ctl_billing_csv_line(b, r->month, "domain", &r->rows[i], "", &t);
		for (j = i; j < end; j++) {
			memset(&one, 0, sizeof(one));
			one.on = r->rows[j].state == OM_SUB_ON;
			one.paused = r->rows[j].state == OM_SUB_PAUSED;
			one.off = r->rows[j].state == OM_SUB_OFF;
			one.days_on = r->rows[j].days_on;
			one.days_paused = r->rows[j].days_paused;
			ctl_billing_csv_line(b, r->month, "mailbox", &r->rows[j],
					     r->rows[j].mailbox, &one);
		}
	}
}

static void ctl_billing_time(struct om_buf *b, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char text[32];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(text, sizeof(text), "%lld", t);
	om_buf_append_json_str(b, text);
}

static void ctl_billing_json_feature(const struct om_billing_report *r, size_t i,
				     size_t end, const struct ctl_billing_total *t,
				     struct om_buf *b)
{
	size_t j;

	om_buf_append_str(b, "{\"feature\":");
	om_buf_append_json_str(b, r->rows[i].feature);
	om_buf_printf(b, ",\"on\":%ld,\"paused\":%ld,\"off\":%ld,\"days_on\":%ld,"
		      "\"days_paused\":%ld,\"mailboxes\":[", t->on, t->paused, t->off,
		      t->days_on, t->days_paused);
	for (j = i; j < end; j++) {
		om_buf_append_str(b, j > i ? ",{\"mailbox\":" : "{\"mailbox\":");
		om_buf_append_json_str(b, r->rows[j].mailbox);
		om_buf_append_str(b, ",\"state\":");
		om_buf_append_json_str(b, om_settings_state_name(r->rows[j].state));
		om_buf_printf(b, ",\"days_on\":%d,\"days_paused\":%d}",
			      r->rows[j].days_on, r->rows[j].days_paused);
	}
	om_buf_append_str(b, "]}");
}

static void ctl_billing_json(const struct om_billing_report *r, struct om_buf *b)
{
	struct ctl_billing_total t;
	size_t i, end;

	om_buf_append_str(b, "{\"month\":");
	om_buf_append_json_str(b, r->month);
	om_buf_append_str(b, ",\"from\":");
	ctl_billing_time(b, r->start);
	om_buf_append_str(b, ",\"until\":");
	ctl_billing_time(b, r->end);
	om_buf_append_str(b, ",\"domains\":[");
	for (i = 0; i < r->count; i = end) {
		if (i == 0 || strcmp(r->rows[i].domain, r->rows[i - 1].domain) != 0) {
			om_buf_append_str(b, i > 0 ? "]},{\"domain\":" : "{\"domain\":");
			om_buf_append_json_str(b, r->rows[i].domain);
			om_buf_append_str(b, ",\"features\":[");
		} else {
			om_buf_append_str(b, ",");
		}
		end = ctl_billing_group_end(r, i, &t);
		ctl_billing_json_feature(r, i, end, &t, b);
	}
	om_buf_append_str(b, r->count > 0 ? "]}]}\n" : "]}\n");
}

int ctl_cmd_billing(struct ctl *ctl, int argc, char **argv)
{
	const char *month = NULL, *format = "csv", *domain = NULL;
	struct om_billing_report report;
	char *error = NULL, *text;
	struct om_buf b;
	size_t len;
	int i;

	for (i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--month") == 0)
			month = argv[i + 1];
		else if (strcmp(argv[i], "--format") == 0)
			format = argv[i + 1];
		else if (strcmp(argv[i], "--domain") == 0)
			domain = argv[i + 1];
		else
			break;
	}
	if (i != argc || month == NULL)
		return ctl_error("usage: billing --month YYYY-MM [--format csv|json] "
				 "[--domain DOMAIN]");
	if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return ctl_error("format must be csv or json, not '%s'", format);
	if (om_billing_report(ctl_store(ctl, 0), month, domain, (long long)time(NULL),
			      &report, &error) < 0)
		return ctl_fail(error);
	om_buf_init(&b);
	if (strcmp(format, "csv") == 0)
		ctl_billing_csv(&report, &b);
	else
		ctl_billing_json(&report, &b);
	om_billing_report_free(&report);
	text = om_buf_steal(&b, &len);
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
		free(text);
		return ctl_error("billing: cannot write the report");
	}
	free(text);
	return CTL_EXIT_OK;
}
