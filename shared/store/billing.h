/* billing.h - the billing export (issue 18 item 5, seeds 002 and 004:
 * charged per mailbox per feature, paused ones too): from the history of
 * subscription states (store.h om_store_sub_history), per mailbox and
 * feature, the state a month had and the days it was on and paused.
 *
 * Days are UTC days; a day the subscription was on (paused) at any moment
 * counts as a day on (paused).  The month's state is "on" if it was on on
 * any day, else "paused" if paused on any day, else "off".  The month in
 * progress counts up to now.
 */
#ifndef OM_BILLING_H
#define OM_BILLING_H

#include <stddef.h>

#include "store/settings.h"

struct om_store;

#define OM_BILLING_DAYS_MAX 31

/* One mailbox's feature in a month. */
struct om_billing_row {
	char *domain, *mailbox, *feature;	/* domain "" for a user name
						   without a domain */
	enum om_sub_state state;
	int days_on, days_paused;
};

struct om_billing_report {
	long long start, end;	/* [start, end): the month, up to now */
	char month[8];		/* "YYYY-MM" */
	struct om_billing_row *rows;	/* ordered by domain, feature, mailbox */
	size_t count;
};

/* Reads "YYYY-MM" (1970-01 ..) into the month's first second and the first
   second of the next (UTC).  0, or -1 with *error_r (allocated) for a
   malformed month or one that has not begun at now. */
int om_billing_month(const char *text, long long now, long long *start_r,
		     long long *end_r, char **error_r);

/* A state change of one mailbox's feature, in time order. */
struct om_billing_change {
	long long at;
	enum om_sub_state state;
};
/* Marks the days of [start, end) (at most OM_BILLING_DAYS_MAX) on which
   the state was on and paused, given its changes (ordered; before the
   first, off); the counts in *days_on_r, *days_paused_r and the month's
   state as a return value. */
enum om_sub_state om_billing_days(const struct om_billing_change *changes, size_t n,
				  long long start, long long end, int *days_on_r,
				  int *days_paused_r);

/* The report of month (text "YYYY-MM") at now, of every mailbox with a
   subscription row at some time before the month's end (of domain only
   when not NULL, case-insensitive).  0, or -1 with *error_r. */
int om_billing_report(struct om_store *store, const char *month, const char *domain,
		      long long now, struct om_billing_report *report, char **error_r);
void om_billing_report_free(struct om_billing_report *report);

#endif
