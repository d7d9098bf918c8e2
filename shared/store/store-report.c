/* store-report.c - the monthly report's numbers (issue 20 item 5,
 * doc/report.md): a domain's month counted from the events the daemons
 * recorded for the message trace (doc/trace.md), and the marks that make
 * omamorictl cron mail each month's report once.
 *
 * The month is the server's local month (as the trace's days are): its
 * start and the next month's start come from mktime, the day of a row
 * from SQLite's 'localtime' (the same libc zone).  Counts are grouped by
 * the backend; lists are bounded (OM_REPORT_TOP), their totals count
 * every row all the same, so a report can say "and N more".
 */
#include "store/store-private.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rows read at most per list (the days' query: 31 days x a few results) */
#define OM_REPORT_ROWS_MAX 1000

static long long om_report_month_start(int year, int month)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = 1;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	return t == (time_t)-1 ? -1 : (long long)t;
}

static enum om_report_verdict om_report_verdict_of(const char *result)
{
	if (strcmp(result, "clean") == 0)
		return OM_REPORT_CLEAN;
	if (strcmp(result, "spam") == 0)
		return OM_REPORT_SPAM;
	if (strcmp(result, "virus") == 0)
		return OM_REPORT_VIRUS;
	return OM_REPORT_OTHER;
}

static void om_report_day_cb(void *context, long long day, const char *key,
			     long long count)
{
	struct om_store_report *r = context;
	enum om_report_verdict v = om_report_verdict_of(key);

	if (day < 1 || day > r->days)
		return;
	r->received[day - 1][v] += count;
	r->received_total[v] += count;
}

/* key cut to the list's bound at a UTF-8 character boundary */
static void om_report_key(char *dst, size_t size, const char *key)
{
	size_t len = strlen(key);

	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)key[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, key, len);
	dst[len] = '\0';
}

static void om_report_list_cb(void *context, long long day, const char *key,
			      long long count)
{
	struct om_report_list *l = context;

	(void)day;
	if (l->n < OM_REPORT_TOP) {
		om_report_key(l->v[l->n].key, sizeof(l->v[l->n].key), key);
		l->v[l->n].count = count;
		l->n++;
	}
	l->total += count;
}

static int om_report_list(struct om_store *store, enum om_report_query q,
			  const char *domain, const struct om_store_report *r,
			  const char *step, int direction, struct om_report_list *l,
			  char **error_r)
{
	return store->backend->report_rows(store, q, domain, r->since, r->until, step,
					   direction, OM_REPORT_ROWS_MAX,
					   om_report_list_cb, l, error_r) < 0 ? -1 : 0;
}

int om_store_report_month(struct om_store *store, const char *domain, int year,
			  int month, struct om_store_report *r, char **error_r)
{
	const struct om_store_backend *b = store->backend;

	memset(r, 0, sizeof(*r));
	if (domain == NULL || *domain == '\0' || year < 1970 || year > 9999 ||
	    month < 1 || month > 12) {
		*error_r = om_strdup("store: a report needs a domain and a month");
		return -1;
	}
	r->year = year;
	r->month = month;
	r->since = om_report_month_start(year, month);
	r->until = month == 12 ? om_report_month_start(year + 1, 1) :
		om_report_month_start(year, month + 1);
	if (r->since < 0 || r->until <= r->since) {
		*error_r = om_asprintf("store: no such local month %04d-%02d", year, month);
		return -1;
	}
	/* 28..31: the local days between the two starts (a DST day is 23
	   or 25 hours, never off by half a day) */
	r->days = (int)((r->until - r->since + 43200) / 86400);
	if (r->days > OM_REPORT_DAYS)
		r->days = OM_REPORT_DAYS;
	if (b->report_rows(store, OM_REPORT_Q_DAYS, domain, r->since, r->until, "scan",
			   OM_DIRECTION_IN, OM_REPORT_ROWS_MAX, om_report_day_cb, r,
			   error_r) < 0 ||
	    om_report_list(store, OM_REPORT_Q_VIRUSES, domain, r, "scan",
			   OM_DIRECTION_IN, &r->viruses, error_r) < 0 ||
	    om_report_list(store, OM_REPORT_Q_SPAM_DOMAINS, domain, r, "scan",
			   OM_DIRECTION_IN, &r->spam_domains, error_r) < 0 ||
	    om_report_list(store, OM_REPORT_Q_RESULTS, domain, r, "hold", 0,
			   &r->holds, error_r) < 0 ||
	    om_report_list(store, OM_REPORT_Q_RESULTS, domain, r, "click", 0,
			   &r->clicks, error_r) < 0 ||
	    om_report_list(store, OM_REPORT_Q_RESULTS, domain, r, "scan",
			   OM_DIRECTION_OUT, &r->outbound, error_r) < 0)
		return -1;
	return 0;
}

int om_store_report_claim(struct om_store *store, const char *domain, const char *month,
			  const char *recipient, long long at, char **error_r)
{
	int ret = store->backend->report_claim(store, domain, month, recipient, at, 1,
					       error_r);

	if (ret > 0)
		store->own_writes++;
	return ret;
}

int om_store_report_unclaim(struct om_store *store, const char *domain,
			    const char *month, const char *recipient, char **error_r)
{
	int ret = store->backend->report_claim(store, domain, month, recipient, 0, 0,
					       error_r);

	if (ret > 0)
		store->own_writes++;
	return ret < 0 ? -1 : 0;
}
