/* web-admin-report.c - the monthly report on a domain's admin panel
 * (/a/<token>?domain=D&page=report&month=YYYY-MM; issue 20 item 5,
 * doc/report.md).
 *
 * web-admin.c has checked the token and the admin's rights in the domain
 * before this is called (the main admin, or a deputy with the trace
 * right: the report counts the trace's rows).  The month is a GET form's
 * field (reading changes nothing); an empty or malformed one shows last
 * month.  The numbers are the store's, only the domain's rows
 * (om_store_report_month); the HTML and its SVG charts quarantine/
 * report.c's, which escapes every text that came from mail.
 */
#include "web.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/report.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void web_admin_report(struct web_page *p, struct om_store *store, const char *token,
		      const char *domain, const char *lang, const char *month)
{
	struct om_store_report *r;
	char value[16], *error = NULL, *body;
	int year, mon, bad = 0;

	if (month == NULL || *month == '\0' ||
	    (bad = om_report_month_parse(month, &year, &mon) < 0))
		om_report_last_month((long long)time(NULL), &year, &mon);
	(void)snprintf(value, sizeof(value), "%04d-%02d", year, mon);
	web_page_raw(p, "<h2>");
	web_page_t(p, WT_ADMIN_REPORT);
	web_page_raw(p, "</h2>");
	if (bad) {
		web_page_raw(p, "<p class=\"warn\" id=\"note\">");
		web_page_t(p, WT_ADMIN_REPORT_BAD_MONTH);
		web_page_raw(p, "</p>");
	}
	web_page_raw(p, "<form method=\"get\" action=\"");
	web_page_esc(p, token, 0);
	web_page_raw(p, "\" id=\"report-month\"><input type=\"hidden\" name=\"domain\" value=\"");
	web_page_esc(p, domain, 0);
	web_page_raw(p, "\"><input type=\"hidden\" name=\"page\" value=\"report\"><label>");
	web_page_t(p, WT_ADMIN_REPORT_MONTH);
	web_page_raw(p, " <input type=\"month\" name=\"month\" value=\"");
	web_page_raw(p, value);
	web_page_raw(p, "\" pattern=\"[0-9]{4}-[0-9]{2}\"></label> <button type=\"submit\">");
	web_page_t(p, WT_ADMIN_REPORT_SHOW);
	web_page_raw(p, "</button></form>");
	r = om_calloc(1, sizeof(*r));
	if (om_store_report_month(store, domain, year, mon, r, &error) < 0) {
		om_log_error("domain=%s report %s: %s", domain, value, error);
		free(error);
		web_page_raw(p, "<p class=\"warn\">");
		web_page_t(p, WT_ADMIN_REPORT_UNAVAILABLE);
		web_page_raw(p, "</p>");
		free(r);
		return;
	}
	/* markup of ours: every text from the store escaped by report.c */
	body = om_report_html_body(r, domain, lang);
	web_page_raw(p, "<div class=\"card\" id=\"report\">");
	web_page_raw(p, body);
	web_page_raw(p, "</div>");
	free(body);
	free(r);
}
