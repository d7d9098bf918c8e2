/* cmd-report.c - omamorictl report: a domain's monthly report (issue 20
 * item 5, seeds 001 and 003: 月次レポート; doc/report.md).
 *
 *	report DOMAIN --month YYYY-MM [--format text|csv|json|html]
 *	       [--lang ja|en]
 *
 * The numbers are the store's (om_store_report_month, from the trace's
 * events of DOMAIN only), the rendering quarantine/report.c's; this file
 * reads the options and prints.  The language is the domain's "language"
 * setting unless --lang says otherwise; days are the server's local days.
 *
 * ctl_report_cron is omamorictl cron's task monthly-report: on the 1st
 * (local time), last month's report to each domain's main admin and its
 * deputies with the trace right, in their language, saved into their
 * INBOX the digest's way (om_digest_save_inbox).  The store's claim
 * (report_sent, v22) is taken before the mail is saved and forgotten if
 * saving fails, so an hourly run sends each report once.
 */
#include "omamorictl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "quarantine/digest.h"
#include "quarantine/report.h"
#include "store/settings.h"
#include "store/store.h"

static const char *const ctl_report_usage =
	"usage: omamorictl report DOMAIN --month YYYY-MM "
	"[--format text|csv|json|html] [--lang ja|en]";

/* 1 if year-month is after the local month now (billing refuses it too:
   a month not begun has nothing to count). */
static int ctl_report_not_begun(int year, int month)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return 0;
	return year > tm.tm_year + 1900 ||
		(year == tm.tm_year + 1900 && month > tm.tm_mon + 1);
}

int ctl_cmd_report(struct ctl *ctl, int argc, char **argv)
{
	enum om_report_format format = OM_REPORT_FORMAT_TEXT;
	struct om_store_report *r;
	enum om_settings_key type;
	const char *domain, *opt, *lang = NULL, *source;
	char *error = NULL, *value = NULL, *out;
	int i, year = 0, month = 0;

	if (argc < 1)
		return ctl_error("%s", ctl_report_usage);
	if (om_settings_key_parse(argv[0], &type, &domain, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("report: '%s' is not a domain (example.jp, or domain:NAME)",
				 argv[0]);
	for (i = 1; i < argc; i += 2) {
		opt = argv[i];
		if (i + 1 >= argc)
			return ctl_error("report: %s needs a value\n%s", opt, ctl_report_usage);
		if (strcmp(opt, "--month") == 0) {
			if (om_report_month_parse(argv[i + 1], &year, &month) < 0)
				return ctl_error("report: --month '%s' is not a month YYYY-MM",
						 argv[i + 1]);
		} else if (strcmp(opt, "--format") == 0) {
			if (om_report_format_parse(argv[i + 1], &format) < 0)
				return ctl_error("report: --format is text, csv, json or html");
		} else if (strcmp(opt, "--lang") == 0) {
			if (strcmp(argv[i + 1], "ja") != 0 && strcmp(argv[i + 1], "en") != 0)
				return ctl_error("report: --lang is ja or en");
			lang = argv[i + 1];
		} else {
			return ctl_error("report: unknown option %s\n%s", opt, ctl_report_usage);
		}
	}
	if (year == 0)
		return ctl_error("report: --month is needed\n%s", ctl_report_usage);
	if (ctl_report_not_begun(year, month))
		return ctl_error("report: month %04d-%02d has not begun yet: nothing to "
				 "report", year, month);
	if (lang == NULL) {
		if (om_settings_effective(ctl_store(ctl, 0), OM_KEY_DOMAIN, domain,
					  "language", ctl->config->default_language,
					  &value, &source, &error) < 0)
			return ctl_fail(error);
		lang = value;
	}
	r = om_calloc(1, sizeof(*r));
	if (om_store_report_month(ctl_store(ctl, 0), domain, year, month, r, &error) < 0) {
		free(r);
		free(value);
		return ctl_fail(error);
	}
	out = om_report_render(r, domain, lang, format);
	fputs(out, stdout);
	free(out);
	free(r);
	free(value);
	return CTL_EXIT_OK;
}

/* ---- omamorictl cron: last month's report to the domains' admins ---- */

/* Who gets a domain's report: its main admin and the deputies with the
   trace right (the report counts the trace's rows). */
struct ctl_report_to {
	char **domain, **address;
	size_t n, cap;
};

static void ctl_report_to_cb(void *context, const struct om_store_admin *a)
{
	struct ctl_report_to *t = context;

	if (strcmp(a->domain, "*") == 0 ||
	    !(strcmp(a->role, "admin") == 0 ||
	      (strcmp(a->role, "deputy") == 0 && strstr(a->rights, "trace") != NULL)))
		return;
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->domain = om_realloc(t->domain, t->cap * sizeof(*t->domain));
		t->address = om_realloc(t->address, t->cap * sizeof(*t->address));
	}
	t->domain[t->n] = om_strdup(a->domain);
	t->address[t->n] = om_strdup(a->address);
	t->n++;
}

/* Sends domain's report of month to address unless it was sent before:
   1 sent, 0 sent before, -1 (its claim forgotten: tried next run). */
static int ctl_report_send(struct ctl *ctl, const char *domain, const char *address,
			   const char *month, const struct om_store_report *r,
			   long long now)
{
	struct om_store *store = ctl_store(ctl, 0);
	char *error = NULL, *lang = NULL, *from = NULL, *date = NULL, *mail = NULL;
	const char *at;
	int ret;

	ret = om_store_report_claim(store, domain, month, address, now, &error);
	if (ret <= 0)
		goto out;
	lang = om_settings_domain_value(store, address, "language",
					ctl->config->default_language, &error);
	from = lang == NULL ? NULL : om_digest_sender(ctl->config, address, &error);
	if (from == NULL) {
		ret = -1;
	} else {
		at = strrchr(from, '@');
		date = om_digest_date_header((time_t)now);
		mail = om_report_mail(r, domain, lang, from, address, date,
				      at != NULL && at[1] != '\0' ? at + 1 : "localhost");
		ret = om_digest_save_inbox(ctl->config, address, mail, &error) < 0 ? -1 : 1;
	}
	if (ret < 0) {
		char *e2 = NULL;

		if (om_store_report_unclaim(store, domain, month, address, &e2) < 0) {
			ctl_error("cron: monthly-report: %s", e2);
			free(e2);
		}
	}
out:
	if (ret < 0) {
		ctl_error("cron: monthly-report: %s %s to %s: %s", domain, month, address,
			  error != NULL ? error : "failed");
		free(error);
	}
	free(lang);
	free(from);
	free(date);
	free(mail);
	return ret;
}

/* A month in which nothing of the domain was recorded (it was not yet in
   service, or omamori was not on its path) gets no report: an admin would
   read an empty page as a fault, and a fresh domain's first 1st would
   otherwise bring one. */
static int ctl_report_is_empty(const struct om_store_report *r)
{
	size_t v;

	for (v = 0; v < OM_REPORT_VERDICTS; v++) {
		if (r->received_total[v] != 0)
			return 0;
	}
	return r->viruses.total == 0 && r->spam_domains.total == 0 &&
		r->holds.total == 0 && r->clicks.total == 0 && r->outbound.total == 0;
}

int ctl_report_cron(struct ctl *ctl, long long now)
{
	struct ctl_report_to to = { NULL, NULL, 0, 0 };
	struct om_store_report *r = om_calloc(1, sizeof(*r));
	char month[16], *error = NULL;
	const char *last = "";
	size_t i, sent = 0;
	int year, mon, ret = 0, s;
	time_t t = (time_t)now;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || tm.tm_mday != 1) {
		free(r);
		return 0;	/* on the 1st only */
	}
	om_report_last_month(now, &year, &mon);
	(void)snprintf(month, sizeof(month), "%04d-%02d", year, mon);
	if (om_store_admin_list(ctl_store(ctl, 0), NULL, ctl_report_to_cb, &to, &error) < 0) {
		ctl_error("cron: monthly-report: %s", error);
		free(error);
		free(r);
		return -1;
	}
	for (i = 0; i < to.n; i++) {
		/* the list is by domain: one report per domain */
		if (strcmp(last, to.domain[i]) != 0 &&
		    om_store_report_month(ctl_store(ctl, 0), to.domain[i], year, mon, r,
					  &error) < 0) {
			ctl_error("cron: monthly-report: %s", error);
			free(error);
			error = NULL;
			ret = -1;
			last = "";
			continue;
		}
		last = to.domain[i];
		if (ctl_report_is_empty(r))
			continue;
		s = ctl_report_send(ctl, to.domain[i], to.address[i], month, r, now);
		if (s < 0)
			ret = -1;
		else
			sent += (size_t)s;
	}
	for (i = 0; i < to.n; i++) {
		free(to.domain[i]);
		free(to.address[i]);
	}
	free(to.domain);
	free(to.address);
	free(r);
	if (sent > 0)
		printf("monthly-report: %zu report%s of %s sent\n", sent,
		       sent == 1 ? "" : "s", month);
	return ret;
}
