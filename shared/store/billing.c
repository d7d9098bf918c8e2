/* billing.c - the billing export's figures from the history of
 * subscription states (billing.h).
 *
 * The history is read once, ordered by mailbox, feature and time, and each
 * mailbox's feature is turned into the days of the month it was on and
 * paused; no SQL here (the store reads the rows), so the counting is a
 * pure function the unit tests drive with chosen times.
 */
#include "store/billing.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_DAY 86400LL

/* Days from 1970-01-01 to year-month-01 (proleptic Gregorian). */
static long long om_billing_days_from_civil(long long y, unsigned int m)
{
	long long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

int om_billing_month(const char *text, long long now, long long *start_r,
		     long long *end_r, char **error_r)
{
	unsigned int year, month;
	char end;

	if (strlen(text) != 7 || text[4] != '-' ||
	    strspn(text, "0123456789") != 4 || strspn(text + 5, "0123456789") != 2 ||
	    sscanf(text, "%4u-%2u%c", &year, &month, &end) != 2 ||
	    month < 1 || month > 12 || year < 1970) {
		*error_r = om_asprintf("month '%.20s' is not of the form YYYY-MM "
				       "(1970-01 or later), e.g. 2026-11", text);
		return -1;
	}
	*start_r = om_billing_days_from_civil(year, month) * OM_DAY;
	*end_r = om_billing_days_from_civil(month == 12 ? year + 1 : year,
					    month == 12 ? 1 : month + 1) * OM_DAY;
	if (*start_r > now) {
		*error_r = om_asprintf("month %s has not begun yet: nothing to bill",
				       text);
		return -1;
	}
	return 0;
}

/* The bits of the days [from, to) touches, to > from, within [start, end). */
static uint32_t om_billing_span(long long from, long long to, long long start,
				long long end)
{
	long long first, last, d;
	uint32_t bits = 0;

	if (from < start)
		from = start;
	if (to > end)
		to = end;
	if (to <= from)
		return 0;
	first = (from - start) / OM_DAY;
	last = (to - 1 - start) / OM_DAY;
	for (d = first; d <= last && d < OM_BILLING_DAYS_MAX; d++)
		bits |= (uint32_t)1 << d;
	return bits;
}

static int om_billing_popcount(uint32_t bits)
{
	int n = 0;

	for (; bits != 0; bits &= bits - 1)
		n++;
	return n;
}

enum om_sub_state om_billing_days(const struct om_billing_change *changes, size_t n,
				  long long start, long long end, int *days_on_r,
				  int *days_paused_r)
{
	uint32_t on = 0, paused = 0, bits;
	long long to;
	size_t i;

	for (i = 0; i < n; i++) {
		to = i + 1 < n ? changes[i + 1].at : end;
		/* a state changed again within the second it was set still
		   held at that moment */
		if (to <= changes[i].at)
			to = changes[i].at + 1;
		bits = om_billing_span(changes[i].at, to, start, end);
		if (changes[i].state == OM_SUB_ON)
			on |= bits;
		else if (changes[i].state == OM_SUB_PAUSED)
			paused |= bits;
	}
	*days_on_r = om_billing_popcount(on);
	*days_paused_r = om_billing_popcount(paused);
	return on != 0 ? OM_SUB_ON : paused != 0 ? OM_SUB_PAUSED : OM_SUB_OFF;
}

/* ---- the report, from the store's history ---- */

struct om_billing_reader {
	struct om_billing_report *report;
	const char *domain;
	char *mailbox, *feature;	/* the key being read */
	struct om_billing_change *changes;
	size_t count, cap;
	size_t cap_rows;
};

/* Ends the key being read: its row in the report. */
static void om_billing_flush(struct om_billing_reader *r)
{
	struct om_billing_report *rep = r->report;
	struct om_billing_row *row;

	if (r->mailbox == NULL)
		return;
	if (rep->count == r->cap_rows) {
		r->cap_rows = r->cap_rows == 0 ? 64 : r->cap_rows * 2;
		rep->rows = om_realloc(rep->rows, r->cap_rows * sizeof(*rep->rows));
	}
	row = &rep->rows[rep->count++];
	row->domain = om_strdup(om_settings_domain_of(r->mailbox));
	row->mailbox = r->mailbox;
	row->feature = r->feature;
	row->state = om_billing_days(r->changes, r->count, rep->start, rep->end,
				     &row->days_on, &row->days_paused);
	r->mailbox = r->feature = NULL;
	r->count = 0;
}

static void om_billing_change(void *context, const struct om_store_sub_change *c)
{
	struct om_billing_reader *r = context;
	int state = om_settings_state_parse(c->state);

	if (r->domain != NULL &&
	    strcasecmp(om_settings_domain_of(c->mailbox), r->domain) != 0)
		return;
	if (r->mailbox == NULL || strcmp(r->mailbox, c->mailbox) != 0 ||
	    strcmp(r->feature, c->feature) != 0) {
		om_billing_flush(r);
		r->mailbox = om_strdup(c->mailbox);
		r->feature = om_strdup(c->feature);
	}
	if (r->count == r->cap) {
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
		r->changes = om_realloc(r->changes, r->cap * sizeof(*r->changes));
	}
	r->changes[r->count].at = c->at;
	r->changes[r->count].state = state < 0 ? OM_SUB_OFF : (enum om_sub_state)state;
	r->count++;
}

static int om_billing_row_cmp(const void *p1, const void *p2)
{
	const struct om_billing_row *a = p1, *b = p2;
	int ret = strcmp(a->domain, b->domain);

	if (ret == 0)
		ret = strcmp(a->feature, b->feature);
	return ret != 0 ? ret : strcmp(a->mailbox, b->mailbox);
}

int om_billing_report(struct om_store *store, const char *month, const char *domain,
		      long long now, struct om_billing_report *report, char **error_r)
{
	struct om_billing_reader r;
	long long end;

	memset(report, 0, sizeof(*report));
	if (om_billing_month(month, now, &report->start, &end, error_r) < 0)
		return -1;
	/* the month in progress up to now, this second included */
	report->end = end <= now ? end : now + 1;
	(void)om_strlcpy(report->month, month, sizeof(report->month));
	memset(&r, 0, sizeof(r));
	r.report = report;
	r.domain = domain;
	if (om_store_sub_history(store, report->end, om_billing_change, &r, error_r) < 0) {
		free(r.mailbox);
		free(r.feature);
		free(r.changes);
		om_billing_report_free(report);
		return -1;
	}
	om_billing_flush(&r);
	free(r.changes);
	if (report->count > 0)
		qsort(report->rows, report->count, sizeof(*report->rows),
		      om_billing_row_cmp);
	return 0;
}

void om_billing_report_free(struct om_billing_report *report)
{
	size_t i;

	for (i = 0; i < report->count; i++) {
		free(report->rows[i].domain);
		free(report->rows[i].mailbox);
		free(report->rows[i].feature);
	}
	free(report->rows);
	report->rows = NULL;
	report->count = 0;
}
