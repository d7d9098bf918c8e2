/* test-report.c - the monthly report (issue 20 item 5): the store's counts
 * of a domain's month (local days in Asia/Tokyo: a row at 20:00 UTC on the
 * last day is the next month's; another domain's rows never counted; the
 * top lists bounded with their totals), the sent marks, and the pure
 * renderings: text, CSV (a formula-like key quoted), JSON, HTML with SVG
 * and every text from mail escaped, in ja and en, and the mail. */
#include "tap.h"
#include "quarantine/report.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long jst(int y, int mo, int d, int h)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_isdst = -1;
	return (long long)mktime(&tm);
}

static void ev(struct om_store *store, long long at, const char *domain, int dir,
	       const char *sender, const char *step, const char *result,
	       const char *detail, int times)
{
	struct om_store_event e;
	char *error = NULL;
	int i;

	memset(&e, 0, sizeof(e));
	e.at = at;
	e.domain = domain;
	e.direction = dir == 1 ? OM_DIRECTION_IN : dir == 2 ? OM_DIRECTION_OUT :
		OM_DIRECTION_NONE;
	e.sender = sender;
	e.recipient = "taro@example.jp";
	e.step = step;
	e.result = result;
	e.detail = detail;
	for (i = 0; i < times; i++) {
		if (om_store_events_add(store, &e, 1, &error) < 0) {
			printf("# %s\n", error);
			abort();
		}
	}
}

static long long find(const struct om_report_list *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].count;
	}
	return -1;
}

static void fill(struct om_store *store)
{
	char name[64];
	int i;

	ev(store, jst(2026, 11, 1, 0), "example.jp", 1, "a@shop.example", "scan", "clean", "action deliver", 3);
	ev(store, jst(2026, 11, 1, 9), "example.jp", 1, "x@pest.example", "scan", "spam",
	   "score 9.10; rules BAYES_99; action deliver; spam action quarantine", 4);
	ev(store, jst(2026, 11, 15, 12), "example.jp", 1, "y@Pest.Example", "scan", "spam", "score 7", 2);
	ev(store, jst(2026, 11, 15, 12), "example.jp", 1, "z@<b>evil</b>.example", "scan", "spam", "", 1);
	ev(store, jst(2026, 11, 20, 3), "example.jp", 1, "v@bad.example", "scan", "virus",
	   "virus Eicar-Test-Signature; action quarantine", 2);
	ev(store, jst(2026, 11, 21, 3), "example.jp", 1, "v@bad.example", "scan", "virus",
	   "score 1; virus Win.Trojan.<script>; action quarantine", 1);
	ev(store, jst(2026, 11, 22, 3), "example.jp", 1, "", "scan", "unscanned", "too big", 1);
	ev(store, jst(2026, 11, 30, 23), "example.jp", 1, "a@shop.example", "scan", "clean", "", 1);
	/* the next month in Tokyo, still November in UTC */
	ev(store, jst(2026, 12, 1, 5), "example.jp", 1, "a@shop.example", "scan", "clean", "", 5);
	ev(store, jst(2026, 10, 31, 23), "example.jp", 1, "a@shop.example", "scan", "spam", "", 5);
	/* another domain */
	ev(store, jst(2026, 11, 10, 10), "example.org", 1, "x@pest.example", "scan", "spam", "", 7);
	ev(store, jst(2026, 11, 10, 10), "example.org", 1, "x@pest.example", "scan", "virus", "virus Other", 7);
	/* holds, clicks, outbound */
	ev(store, jst(2026, 11, 3, 10), "example.jp", 2, "taro@example.jp", "hold", "held", "", 3);
	ev(store, jst(2026, 11, 3, 10), "example.jp", 2, "taro@example.jp", "hold", "brake", "", 1);
	ev(store, jst(2026, 11, 4, 10), "example.jp", 1, "", "click", "block", "evil.example", 2);
	ev(store, jst(2026, 11, 4, 10), "example.jp", 1, "", "click", "allowed", "ok.example", 6);
	ev(store, jst(2026, 11, 4, 10), "example.jp", 2, "taro@example.jp", "scan", "clean", "", 4);
	ev(store, jst(2026, 11, 4, 10), "example.jp", 2, "taro@example.jp", "scan", "virus", "virus X", 1);
	/* policy answers are not counted */
	ev(store, jst(2026, 11, 4, 10), "example.jp", 1, "a@shop.example", "policy", "DUNNO", "", 9);
	/* twelve more spam domains: the list keeps ten, the total all */
	for (i = 0; i < 12; i++) {
		(void)snprintf(name, sizeof(name), "s@d%02d.example", i);
		ev(store, jst(2026, 11, 25, 1), "example.jp", 1, name, "scan", "spam", "", 1);
	}
}

static void test_counts(struct om_store *store, struct om_store_report *r)
{
	char *error = NULL;

	TAP_OK(om_store_report_month(store, "example.jp", 2026, 11, r, &error) == 0,
	       "the report of 2026-11");
	TAP_OK(r->days == 30, "November has 30 days (%d)", r->days);
	TAP_OK(r->received[0][OM_REPORT_CLEAN] == 3 && r->received[0][OM_REPORT_SPAM] == 4,
	       "1st: 3 clean, 4 spam (%lld, %lld)", r->received[0][OM_REPORT_CLEAN],
	       r->received[0][OM_REPORT_SPAM]);
	TAP_OK(r->received[14][OM_REPORT_SPAM] == 3, "15th: 3 spam");
	TAP_OK(r->received[19][OM_REPORT_VIRUS] == 2 && r->received[20][OM_REPORT_VIRUS] == 1,
	       "20th 2 viruses, 21st 1");
	TAP_OK(r->received[21][OM_REPORT_OTHER] == 1, "22nd: 1 unscanned as other");
	TAP_OK(r->received[29][OM_REPORT_CLEAN] == 1,
	       "30th 23:00 local is November's (%lld)", r->received[29][OM_REPORT_CLEAN]);
	TAP_OK(r->received_total[OM_REPORT_CLEAN] == 4 &&
	       r->received_total[OM_REPORT_SPAM] == 4 + 3 + 12 &&
	       r->received_total[OM_REPORT_VIRUS] == 3 &&
	       r->received_total[OM_REPORT_OTHER] == 1,
	       "totals 4 clean, 19 spam, 3 virus, 1 other: local month only, no other domain "
	       "(%lld %lld %lld %lld)", r->received_total[0], r->received_total[1],
	       r->received_total[2], r->received_total[3]);
	TAP_OK(r->viruses.total == 3 && find(&r->viruses, "Eicar-Test-Signature") == 2 &&
	       find(&r->viruses, "Win.Trojan.<script>") == 1 && find(&r->viruses, "Other") < 0,
	       "viruses by name from the detail");
	TAP_OK(r->spam_domains.n == OM_REPORT_TOP && r->spam_domains.total == 19 &&
	       strcmp(r->spam_domains.v[0].key, "pest.example") == 0 &&
	       r->spam_domains.v[0].count == 6,
	       "spam domains: top 10 listed, lower-cased, pest.example first with 6, total 19");
	TAP_OK(find(&r->holds, "held") == 3 && find(&r->holds, "brake") == 1 &&
	       r->holds.total == 4, "holds by kind");
	TAP_OK(find(&r->clicks, "block") == 2 && find(&r->clicks, "allowed") == 6,
	       "clicks by verdict");
	TAP_OK(find(&r->outbound, "clean") == 4 && find(&r->outbound, "virus") == 1,
	       "outbound scans by verdict");
	TAP_OK(om_store_report_month(store, "example.jp", 2026, 13, r, &error) < 0,
	       "month 13 refused");
	om_free(&error);
	TAP_OK(om_store_report_month(store, "example.org", 2026, 11, r, &error) == 0 &&
	       r->received_total[OM_REPORT_SPAM] == 7 && r->received_total[OM_REPORT_CLEAN] == 0 &&
	       r->holds.total == 0, "example.org sees only its own rows");
	TAP_OK(om_store_report_month(store, "example.jp", 2026, 11, r, &error) == 0, "again");
}

static void test_claims(struct om_store *store)
{
	char *error = NULL;

	TAP_OK(om_store_report_claim(store, "example.jp", "2026-11", "admin@example.jp", 1,
				     &error) == 1, "the first claim is taken");
	TAP_OK(om_store_report_claim(store, "example.jp", "2026-11", "admin@example.jp", 2,
				     &error) == 0, "the second is not");
	TAP_OK(om_store_report_claim(store, "example.jp", "2026-10", "admin@example.jp", 2,
				     &error) == 1, "another month is");
	TAP_OK(om_store_report_unclaim(store, "example.jp", "2026-11", "admin@example.jp",
				       &error) == 0 &&
	       om_store_report_claim(store, "example.jp", "2026-11", "admin@example.jp", 3,
				     &error) == 1, "a forgotten claim is taken again");
}

static void test_render(const struct om_store_report *r)
{
	char *text, *csv, *json, *html, *ja, *mail, *body;
	enum om_report_format f;
	int y, m;

	TAP_OK(om_report_month_parse("2026-11", &y, &m) == 0 && y == 2026 && m == 11 &&
	       om_report_month_parse("2026-1", &y, &m) < 0 &&
	       om_report_month_parse("2026-13", &y, &m) < 0 &&
	       om_report_month_parse("2026-+1", &y, &m) < 0, "months parsed");
	TAP_OK(om_report_format_parse("csv", &f) == 0 && f == OM_REPORT_FORMAT_CSV &&
	       om_report_format_parse("pdf", &f) < 0, "formats parsed");
	om_report_last_month(jst(2026, 1, 1, 0), &y, &m);
	TAP_OK(y == 2025 && m == 12, "the month before January is December");

	text = om_report_render(r, "example.jp", "en", OM_REPORT_FORMAT_TEXT);
	TAP_OK(strstr(text, "Monthly report for example.jp, 2026-11") != NULL &&
	       strstr(text, "Mail received: 27 (clean 4, spam 19, virus 3, other 1)") != NULL &&
	       strstr(text, "Clicks blocked: 2") != NULL &&
	       strstr(text, "  2026-11-01        3        4        0        0") != NULL &&
	       strstr(text, "2026-11-31") == NULL, "text: summary and days");
	TAP_OK(strstr(text, "others") != NULL, "text: the spam domains past the top 10 as others");
	csv = om_report_render(r, "example.jp", "en", OM_REPORT_FORMAT_CSV);
	TAP_OK(strstr(csv, "received,2026-11-15,spam,3\r\n") != NULL &&
	       strstr(csv, "virus,,Eicar-Test-Signature,2\r\n") != NULL &&
	       strstr(csv, "spam_domain,,total,19\r\n") != NULL &&
	       strstr(csv, "click,,block,2\r\n") != NULL, "csv rows");
	json = om_report_render(r, "example.jp", "en", OM_REPORT_FORMAT_JSON);
	TAP_OK(strstr(json, "\"received\": {\"clean\": 4, \"spam\": 19, \"virus\": 3, \"other\": 1}") != NULL &&
	       strstr(json, "{\"key\": \"Win.Trojan.<script>\", \"count\": 1}") != NULL,
	       "json totals and a list");
	html = om_report_render(r, "example.jp", "en", OM_REPORT_FORMAT_HTML);
	TAP_OK(strstr(html, "<svg class=\"chart-days\"") != NULL &&
	       strstr(html, "<svg class=\"viruses\"") != NULL &&
	       strstr(html, "<td class=\"n-spam\">19</td>") != NULL,
	       "html: the charts and the numbers");
	TAP_OK(strstr(html, "<script") == NULL && strstr(html, "Win.Trojan.&lt;script&gt;") != NULL &&
	       strstr(html, "&lt;b&gt;evil&lt;/b&gt;.example") != NULL &&
	       strstr(html, "src=") == NULL && strstr(html, "href=") == NULL &&
	       strstr(html, "url(") == NULL && strstr(html, "@import") == NULL,
	       "html: texts from mail escaped, no script, nothing loaded");
	ja = om_report_render(r, "example.jp", "ja", OM_REPORT_FORMAT_HTML);
	TAP_OK(strstr(ja, "lang=\"ja\"") != NULL && strstr(ja, "月次レポート") != NULL &&
	       strstr(ja, "迷惑メール") != NULL, "html in Japanese");
	body = om_report_html_body(r, "example.jp", "ja");
	TAP_OK(strncmp(body, "<div class=\"omamori-report\">", 28) == 0 &&
	       strstr(body, "<html") == NULL, "the body alone for the web page");
	mail = om_report_mail(r, "example.jp", "ja", "postmaster@example.jp",
			      "admin@example.jp", "Tue, 01 Dec 2026 00:17:00 +0900", "example.jp");
	TAP_OK(strstr(mail, "To: <admin@example.jp>\n") != NULL &&
	       strstr(mail, "Subject: =?UTF-8?B?") != NULL &&
	       strstr(mail, "Message-ID: <omamori-report-202611-example.jp@example.jp>") != NULL &&
	       strstr(mail, "Content-Type: text/plain; charset=utf-8") != NULL &&
	       strstr(mail, "Content-Type: text/html; charset=utf-8") != NULL &&
	       strstr(mail, "月次") == NULL, "the mail: headers, both parts, base64");
	free(text);
	free(csv);
	free(json);
	free(html);
	free(ja);
	free(body);
	free(mail);
}

static void test_csv_formula(void)
{
	struct om_store_report *r = om_calloc(1, sizeof(*r));
	char *csv;

	r->year = 2026;
	r->month = 2;
	r->days = 28;
	(void)snprintf(r->spam_domains.v[0].key, sizeof(r->spam_domains.v[0].key),
		       "=cmd|' /c calc'!A1,\"x\"");
	r->spam_domains.v[0].count = 1;
	r->spam_domains.n = 1;
	r->spam_domains.total = 1;
	csv = om_report_render(r, "example.jp", "en", OM_REPORT_FORMAT_CSV);
	TAP_OK(strstr(csv, "spam_domain,,\"'=cmd|' /c calc'!A1,\"\"x\"\"\",1\r\n") != NULL,
	       "csv: a formula-like key quoted and defused");
	TAP_OK(strstr(csv, "2026-02-28") != NULL && strstr(csv, "2026-02-29") == NULL,
	       "csv: the month's days only");
	free(csv);
	free(r);
}

int main(void)
{
	char dir[] = "/tmp/om-test-report-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL;
	struct om_store_report *r = om_calloc(1, sizeof(*r));

	if (setenv("TZ", "Asia/Tokyo", 1) < 0 || mkdtemp(dir) == NULL)
		abort();
	tzset();
	path = om_asprintf("%s/omamori.db", dir);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) == 0,
	       "create the store");
	fill(store);
	test_counts(store, r);
	test_claims(store);
	test_render(r);
	test_csv_formula();
	om_store_close(&store);
	(void)unlink(path);
	(void)rmdir(dir);
	free(path);
	free(r);
	return tap_done();
}
