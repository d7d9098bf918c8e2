/* report.h - the monthly report of a domain (issue 20 item 5, seeds 001
 * and 003: 月次レポート, doc/report.md): a month's numbers from the store
 * (om_store_report_month) rendered as text, CSV, JSON or HTML with SVG
 * charts drawn here (no script, nothing fetched), in Japanese or English;
 * and the same as a mail (HTML + text alternative) for omamorictl cron.
 *
 * Pure: data in, an allocated string out; every text that came from
 * mail (a virus name, a sender's domain) is escaped for the format.
 */
#ifndef OM_REPORT_H
#define OM_REPORT_H

#include "store/store.h"

enum om_report_format {
	OM_REPORT_FORMAT_TEXT, OM_REPORT_FORMAT_CSV, OM_REPORT_FORMAT_JSON,
	OM_REPORT_FORMAT_HTML
};

/* "text", "csv", "json", "html": 0, or -1. */
int om_report_format_parse(const char *name, enum om_report_format *format_r);
/* "YYYY-MM" (1970..9999, 01..12): 0, or -1. */
int om_report_month_parse(const char *text, int *year_r, int *month_r);
/* The month before the local month of now. */
void om_report_last_month(long long now, int *year_r, int *month_r);

/* The report of domain in lang ("ja"; anything else English). */
char *om_report_render(const struct om_store_report *r, const char *domain,
		       const char *lang, enum om_report_format format);
/* The HTML body alone (no <html> page around it), for omamori-web's page. */
char *om_report_html_body(const struct om_store_report *r, const char *domain,
			  const char *lang);

/* The report as a message (RFC 5322, multipart/alternative text + HTML,
   UTF-8, base64) from `from` to `to`; msgid_host names the Message-ID's
   domain, date an RFC 5322 date. */
char *om_report_mail(const struct om_store_report *r, const char *domain,
		     const char *lang, const char *from, const char *to,
		     const char *date, const char *msgid_host);

#endif
