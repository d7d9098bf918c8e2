/* cmd-trace.c - omamorictl trace: what omamori did with a domain's mail
 * (issue 18 item 4, seeds 001 and 004: the administrator checks what
 * happened to a mail; doc/trace.md).
 *
 *	trace DOMAIN [--sender A] [--recipient A] [--subject S]
 *	      [--message-id ID] [--since YYYY-MM-DD] [--until YYYY-MM-DD]
 *	      [--max N]
 *
 * Prints each message found, newest first, with its steps in the order
 * they happened (time, step, result, detail), from the store's events of
 * DOMAIN only (om_store_trace_search: the domain is a condition of every
 * statement).  Dates are the server's local days; --until includes its
 * day.  The search is the store's; this file only prints, so omamori-web's
 * page can show the same search its own way.
 */
#include "omamorictl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "store/settings.h"
#include "store/store.h"

/* A YYYY-MM-DD day's start in local time (next: the day after's). 0 or
   an exit status. */
static int ctl_trace_day(const char *option, const char *text, int next,
			 long long *time_r)
{
	struct tm tm;
	long y, m, d;
	char ys[5], ms[3], ds[3];
	time_t t;

	if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
		goto bad;
	memcpy(ys, text, 4);
	ys[4] = '\0';
	memcpy(ms, text + 5, 2);
	ms[2] = '\0';
	memcpy(ds, text + 8, 2);
	ds[2] = '\0';
	if (om_parse_long(ys, 1970, 9999, &y) < 0 || om_parse_long(ms, 1, 12, &m) < 0 ||
	    om_parse_long(ds, 1, 31, &d) < 0)
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d + (next ? 1 : 0);
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || (tm.tm_mday != (int)d + (next ? 1 : 0) && !next))
		goto bad;
	*time_r = (long long)t;
	return 0;
bad:
	return ctl_error("trace: %s '%s' is not a date YYYY-MM-DD", option, text);
}

struct ctl_trace_print {
	unsigned int message;	/* the one whose steps are being printed */
};

static void ctl_trace_time(long long at, char *out, size_t size)
{
	time_t t = (time_t)at;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "%lld", at);
}

static void ctl_trace_event(void *context, unsigned int message,
			    const struct om_store_event *ev)
{
	struct ctl_trace_print *p = context;
	char when[32];

	if (message != p->message) {
		p->message = message;
		printf("%smessage %u: from <%s>%s%s%s%s\n", message > 1 ? "\n" : "",
		       message, ev->sender,
		       *ev->message_id != '\0' ? " message-id <" : "", ev->message_id,
		       *ev->message_id != '\0' ? ">" : "",
		       ev->direction == OM_DIRECTION_OUT ? " (outbound)" : "");
	}
	ctl_trace_time(ev->at, when, sizeof(when));
	printf("  %s  %-10s %-12s", when, ev->step, ev->result);
	if (*ev->recipient != '\0')
		printf(" to=<%s>", ev->recipient);
	/* policyd's accepted recipients of a message are one row (v23) */
	if (ev->recipients > 1)
		printf(" recipients=%lld", ev->recipients);
	if (*ev->queue_id != '\0')
		printf(" queue=%s", ev->queue_id);
	if (*ev->subject != '\0')
		printf(" subject=\"%s\"", ev->subject);
	if (*ev->detail != '\0')
		printf(" %s", ev->detail);
	putchar('\n');
}

static const char *const ctl_trace_usage =
	"usage: omamorictl trace DOMAIN [--sender A] [--recipient A] [--subject S] "
	"[--message-id ID] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--max N]";

int ctl_cmd_trace(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_trace_print print = { 0 };
	struct om_trace_query q;
	enum om_settings_key type;
	const char *domain, *opt;
	char *error = NULL;
	unsigned long max;
	long n;
	int i, ret;

	if (argc < 1)
		return ctl_error("%s", ctl_trace_usage);
	if (om_settings_key_parse(argv[0], &type, &domain, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("trace: '%s' is not a domain (example.jp, or domain:NAME)",
				 argv[0]);
	memset(&q, 0, sizeof(q));
	for (i = 1; i < argc; i += 2) {
		opt = argv[i];
		if (i + 1 >= argc)
			return ctl_error("trace: %s needs a value\n%s", opt, ctl_trace_usage);
		if (strcmp(opt, "--sender") == 0) {
			q.sender = argv[i + 1];
		} else if (strcmp(opt, "--recipient") == 0) {
			q.recipient = argv[i + 1];
		} else if (strcmp(opt, "--subject") == 0) {
			q.subject = argv[i + 1];
		} else if (strcmp(opt, "--message-id") == 0) {
			q.message_id = argv[i + 1];
		} else if (strcmp(opt, "--since") == 0) {
			if ((ret = ctl_trace_day(opt, argv[i + 1], 0, &q.since)) != 0)
				return ret;
		} else if (strcmp(opt, "--until") == 0) {
			/* the day is checked as it is, then its end taken */
			if ((ret = ctl_trace_day(opt, argv[i + 1], 0, &q.until)) != 0 ||
			    (ret = ctl_trace_day(opt, argv[i + 1], 1, &q.until)) != 0)
				return ret;
		} else if (strcmp(opt, "--max") == 0) {
			if (om_parse_ulong(argv[i + 1], 1, OM_TRACE_MAX_MESSAGES_LIMIT, &max) < 0)
				return ctl_error("trace: --max is a number from 1 to %d",
						 OM_TRACE_MAX_MESSAGES_LIMIT);
			q.max_messages = (size_t)max;
		} else {
			return ctl_error("trace: unknown option %s\n%s", opt, ctl_trace_usage);
		}
	}
	n = om_store_trace_search(ctl_store(ctl, 0), domain, &q, ctl_trace_event, &print,
				  &error);
	if (n < 0)
		return ctl_fail(error);
	if (n == 0)
		printf("no message of %s found\n", domain);
	return CTL_EXIT_OK;
}
