/* report.c - the monthly report (see report.h): words per language, and
 * four renderings of one struct om_store_report.
 *
 * The charts are SVG written here: a stacked bar per day (clean, spam,
 * virus, other) and horizontal bars for the lists.  Sizes are computed
 * from the counts only; every text is HTML-escaped (a virus name or a
 * sender's domain came from mail), so the page needs no script and
 * loads nothing.  The mail is made with the digest's own encoders
 * (quarantine/digest.h) and saved by the digest's doveadm path.
 */
#include "quarantine/report.h"
#include "quarantine/digest.h"
#include "lib/csv.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct report_words {
	const char *lang;
	const char *title[3];		/* before the domain, between, after the month */
	const char *received, *per_day, *day;
	const char *verdict[OM_REPORT_VERDICTS];
	const char *total;
	const char *viruses, *spam_domains, *holds, *clicks, *outbound;
	const char *blocked;		/* clicks blocked */
	const char *none, *more, *no_sender;
	const char *hold_kind_held, *click_block, *click_warn, *click_allowed;
};

static const struct report_words report_en = {
	"en", { "Monthly report for ", ", ", "" },
	"Mail received", "Mail received per day", "Day",
	{ "clean", "spam", "virus", "other" },
	"total",
	"Viruses by name", "Top spam senders' domains", "Outgoing mail held",
	"Links clicked", "Mail sent (outgoing scans)",
	"Clicks blocked", "none", "others", "(no sender)",
	"held for the sender", "blocked", "warned", "allowed",
};

static const struct report_words report_ja = {
	"ja", { "", " の月次レポート (", ")" },
	"受信したメール", "日ごとの受信メール", "日",
	{ "正常", "迷惑メール", "ウイルス", "その他" },
	"合計",
	"検出したウイルス", "迷惑メールの送信元ドメイン (上位)", "保留した送信メール",
	"クリックされたリンク", "送信したメール (送信時の検査)",
	"ブロックしたクリック", "なし", "その他", "(送信者なし)",
	"送信者の確認待ち", "ブロック", "警告", "許可",
};

static const char *const report_colors[OM_REPORT_VERDICTS] = {
	"#4caf50", "#ff9800", "#e53935", "#9e9e9e"
};
static const char *const report_verdict_keys[OM_REPORT_VERDICTS] = {
	"clean", "spam", "virus", "other"
};

static const struct report_words *report_words_of(const char *lang)
{
	return lang != NULL && strcmp(lang, "ja") == 0 ? &report_ja : &report_en;
}

int om_report_format_parse(const char *name, enum om_report_format *format_r)
{
	static const char *const names[] = { "text", "csv", "json", "html" };
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(names); i++) {
		if (strcmp(name, names[i]) == 0) {
			*format_r = (enum om_report_format)i;
			return 0;
		}
	}
	return -1;
}

int om_report_month_parse(const char *text, int *year_r, int *month_r)
{
	char ys[5], ms[3];
	long y, m;

	if (strlen(text) != 7 || text[4] != '-')
		return -1;
	memcpy(ys, text, 4);
	ys[4] = '\0';
	memcpy(ms, text + 5, 2);
	ms[2] = '\0';
	if (ms[0] < '0' || ms[0] > '9' || om_parse_long(ys, 1970, 9999, &y) < 0 ||
	    om_parse_long(ms, 1, 12, &m) < 0)
		return -1;
	*year_r = (int)y;
	*month_r = (int)m;
	return 0;
}

void om_report_last_month(long long now, int *year_r, int *month_r)
{
	time_t t = (time_t)now;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL) {
		*year_r = 1970;
		*month_r = 1;
		return;
	}
	*year_r = tm.tm_year + 1900;
	*month_r = tm.tm_mon;		/* 0..11: the month before, 1-based */
	if (*month_r == 0) {
		*month_r = 12;
		(*year_r)--;
	}
}

/* ---- helpers ---- */

static char *report_title(const struct report_words *w, const char *domain,
			  const struct om_store_report *r)
{
	return om_asprintf("%s%s%s%04d-%02d%s", w->title[0], domain, w->title[1],
			   r->year, r->month, w->title[2]);
}

static long long report_day_total(const struct om_store_report *r, int day)
{
	long long n = 0;
	int v;

	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		n += r->received[day][v];
	return n;
}

static long long report_received(const struct om_store_report *r)
{
	long long n = 0;
	int v;

	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		n += r->received_total[v];
	return n;
}

static long long report_find(const struct om_report_list *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].count;
	}
	return 0;
}

/* A list key as a reader sees it: a hold's or a click's word in lang. */
static const char *report_key_label(const struct report_words *w, const char *key,
				    int is_click)
{
	if (*key == '\0')
		return w->no_sender;
	if (is_click) {
		if (strcmp(key, "block") == 0)
			return w->click_block;
		if (strcmp(key, "warn") == 0)
			return w->click_warn;
		if (strcmp(key, "allowed") == 0)
			return w->click_allowed;
	} else if (strcmp(key, "held") == 0) {
		return w->hold_kind_held;
	}
	return key;
}

static void report_html_escape(struct om_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': om_buf_append_str(b, "&amp;"); break;
		case '<': om_buf_append_str(b, "&lt;"); break;
		case '>': om_buf_append_str(b, "&gt;"); break;
		case '"': om_buf_append_str(b, "&quot;"); break;
		case '\'': om_buf_append_str(b, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20)
				om_buf_append_str(b, " ");
			else
				om_buf_append(b, s, 1);
		}
	}
}

/* ---- text ---- */

/* Appends s and spaces up to width columns (a 3-byte UTF-8 character -
   kana, kanji - takes two on a terminal). */
static void report_pad(struct om_buf *b, const char *s, int width)
{
	const unsigned char *p;
	int cols = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x80 || (*p >= 0xc0 && *p < 0xe0) || *p >= 0xf0)
			cols++;
		else if (*p >= 0xe0)
			cols += 2;
	}
	om_buf_append_str(b, s);
	for (; cols < width; cols++)
		om_buf_append(b, " ", 1);
}

static void report_text_list(struct om_buf *b, const struct report_words *w,
			     const char *title, const struct om_report_list *l,
			     int is_click)
{
	long long listed = 0;
	size_t i;

	om_buf_printf(b, "\n%s (%s %lld)\n", title, w->total, l->total);
	if (l->n == 0)
		om_buf_printf(b, "  %s\n", w->none);
	for (i = 0; i < l->n; i++) {
		char *key = om_sanitize(report_key_label(w, l->v[i].key, is_click), 200);

		om_buf_append_str(b, "  ");
		report_pad(b, key, 40);
		om_buf_printf(b, " %8lld\n", l->v[i].count);
		listed += l->v[i].count;
		free(key);
	}
	if (l->total > listed) {
		om_buf_append_str(b, "  ");
		report_pad(b, w->more, 40);
		om_buf_printf(b, " %8lld\n", l->total - listed);
	}
}

static char *report_text(const struct om_store_report *r, const char *domain,
			 const struct report_words *w)
{
	struct om_buf b;
	char *title;
	int d, v;

	om_buf_init(&b);
	title = report_title(w, domain, r);
	om_buf_append_str(&b, title);
	free(title);
	om_buf_printf(&b, "\n\n%s: %lld (", w->received, report_received(r));
	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		om_buf_printf(&b, "%s%s %lld", v > 0 ? ", " : "", w->verdict[v],
			      r->received_total[v]);
	om_buf_printf(&b, ")\n%s: %lld\n\n%s\n  ", w->blocked,
		      report_find(&r->clicks, "block"), w->per_day);
	report_pad(&b, w->day, 10);
	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		om_buf_printf(&b, " %8s", report_verdict_keys[v]);
	om_buf_append_str(&b, "\n");
	for (d = 0; d < r->days; d++) {
		om_buf_printf(&b, "  %04d-%02d-%02d", r->year, r->month, d + 1);
		for (v = 0; v < OM_REPORT_VERDICTS; v++)
			om_buf_printf(&b, " %8lld", r->received[d][v]);
		om_buf_append_str(&b, "\n");
	}
	report_text_list(&b, w, w->viruses, &r->viruses, 0);
	report_text_list(&b, w, w->spam_domains, &r->spam_domains, 0);
	report_text_list(&b, w, w->holds, &r->holds, 0);
	report_text_list(&b, w, w->clicks, &r->clicks, 1);
	report_text_list(&b, w, w->outbound, &r->outbound, 0);
	return om_buf_steal(&b, NULL);
}

/* ---- CSV: section,date,key,count ---- */

static void report_csv_list(struct om_buf *b, const char *section,
			    const struct om_report_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		om_buf_printf(b, "%s,,", section);
		om_csv_append_field(b, l->v[i].key);
		om_buf_printf(b, ",%lld\r\n", l->v[i].count);
	}
	om_buf_printf(b, "%s,,total,%lld\r\n", section, l->total);
}

static char *report_csv(const struct om_store_report *r, const char *domain)
{
	struct om_buf b;
	int d, v;

	om_buf_init(&b);
	om_buf_append_str(&b, "section,date,key,count\r\n");
	om_buf_append_str(&b, "domain,,");
	om_csv_append_field(&b, domain);
	om_buf_printf(&b, ",\r\nmonth,%04d-%02d,,\r\n", r->year, r->month);
	for (d = 0; d < r->days; d++) {
		for (v = 0; v < OM_REPORT_VERDICTS; v++)
			om_buf_printf(&b, "received,%04d-%02d-%02d,%s,%lld\r\n", r->year,
				      r->month, d + 1, report_verdict_keys[v],
				      r->received[d][v]);
	}
	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		om_buf_printf(&b, "received,,%s,%lld\r\n", report_verdict_keys[v],
			      r->received_total[v]);
	report_csv_list(&b, "virus", &r->viruses);
	report_csv_list(&b, "spam_domain", &r->spam_domains);
	report_csv_list(&b, "hold", &r->holds);
	report_csv_list(&b, "click", &r->clicks);
	report_csv_list(&b, "outbound", &r->outbound);
	return om_buf_steal(&b, NULL);
}

/* ---- JSON ---- */

static void report_json_list(struct om_buf *b, const char *name,
			     const struct om_report_list *l)
{
	size_t i;

	om_buf_printf(b, ",\n  \"%s\": {\"total\": %lld, \"top\": [", name, l->total);
	for (i = 0; i < l->n; i++) {
		om_buf_append_str(b, i > 0 ? ", {\"key\": " : "{\"key\": ");
		om_buf_append_json_str(b, l->v[i].key);
		om_buf_printf(b, ", \"count\": %lld}", l->v[i].count);
	}
	om_buf_append_str(b, "]}");
}

static char *report_json(const struct om_store_report *r, const char *domain)
{
	struct om_buf b;
	int d, v;

	om_buf_init(&b);
	om_buf_append_str(&b, "{\n  \"domain\": ");
	om_buf_append_json_str(&b, domain);
	om_buf_printf(&b, ",\n  \"month\": \"%04d-%02d\",\n  \"received\": {", r->year,
		      r->month);
	for (v = 0; v < OM_REPORT_VERDICTS; v++)
		om_buf_printf(&b, "%s\"%s\": %lld", v > 0 ? ", " : "",
			      report_verdict_keys[v], r->received_total[v]);
	om_buf_append_str(&b, "},\n  \"days\": [");
	for (d = 0; d < r->days; d++) {
		om_buf_printf(&b, "%s\n    {\"date\": \"%04d-%02d-%02d\"", d > 0 ? "," : "",
			      r->year, r->month, d + 1);
		for (v = 0; v < OM_REPORT_VERDICTS; v++)
			om_buf_printf(&b, ", \"%s\": %lld", report_verdict_keys[v],
				      r->received[d][v]);
		om_buf_append_str(&b, "}");
	}
	om_buf_append_str(&b, "\n  ]");
	report_json_list(&b, "viruses", &r->viruses);
	report_json_list(&b, "spam_domains", &r->spam_domains);
	report_json_list(&b, "holds", &r->holds);
	report_json_list(&b, "clicks", &r->clicks);
	report_json_list(&b, "outbound", &r->outbound);
	om_buf_append_str(&b, "\n}\n");
	return om_buf_steal(&b, NULL);
}

/* ---- HTML and SVG ---- */

#define REPORT_BAR_W 18
#define REPORT_CHART_H 160
#define REPORT_LEFT 40
#define REPORT_HBAR_W 180
#define REPORT_LABEL_W 180	/* the lists' labels, right-aligned */

/* The stacked bars of mail received per day, with the scale's maximum. */
static void report_svg_days(struct om_buf *b, const struct om_store_report *r,
			    const struct report_words *w)
{
	long long max = 1, n;
	int d, v, width = REPORT_LEFT + r->days * (REPORT_BAR_W + 2) + 10;
	int x, y, h;

	for (d = 0; d < r->days; d++) {
		n = report_day_total(r, d);
		if (n > max)
			max = n;
	}
	om_buf_printf(b, "<svg class=\"chart-days\" xmlns=\"http://www.w3.org/2000/svg\" "
		      "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		      "style=\"max-width:100%%;height:auto\" role=\"img\" aria-label=\"",
		      width, REPORT_CHART_H + 60, width, REPORT_CHART_H + 60);
	report_html_escape(b, w->per_day);
	om_buf_append_str(b, "\">\n");
	om_buf_printf(b, "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
		      REPORT_LEFT - 2, REPORT_LEFT - 2, REPORT_CHART_H + 10);
	om_buf_printf(b, "<text x=\"%d\" y=\"18\" font-size=\"11\" text-anchor=\"end\">%lld</text>\n",
		      REPORT_LEFT - 6, max);
	om_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
		      REPORT_LEFT - 6, REPORT_CHART_H + 10);
	for (d = 0; d < r->days; d++) {
		x = REPORT_LEFT + d * (REPORT_BAR_W + 2);
		y = REPORT_CHART_H + 10;
		for (v = 0; v < OM_REPORT_VERDICTS; v++) {
			n = r->received[d][v];
			if (n == 0)
				continue;
			h = (int)((n * REPORT_CHART_H + max - 1) / max);
			y -= h;
			om_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				      "fill=\"%s\"><title>%02d %s %lld</title></rect>\n",
				      x, y, REPORT_BAR_W, h, report_colors[v], d + 1,
				      report_verdict_keys[v], n);
		}
		om_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"9\" "
			      "text-anchor=\"middle\">%d</text>\n", x + REPORT_BAR_W / 2,
			      REPORT_CHART_H + 24, d + 1);
	}
	x = REPORT_LEFT;
	for (v = 0; v < OM_REPORT_VERDICTS; v++) {
		om_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
			      "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">", x,
			      REPORT_CHART_H + 38, report_colors[v], x + 14,
			      REPORT_CHART_H + 47);
		report_html_escape(b, w->verdict[v]);
		om_buf_append_str(b, "</text>\n");
		x += 110;
	}
	om_buf_append_str(b, "</svg>\n");
}

/* Horizontal bars of a list, with its labels and counts. */
static void report_svg_list(struct om_buf *b, const struct report_words *w,
			    const char *cls, const struct om_report_list *l,
			    const char *color, int is_click)
{
	long long max = 1;
	size_t i;
	int h = (int)l->n * 22 + 8, len;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].count > max)
			max = l->v[i].count;
	}
	if (l->n == 0) {
		om_buf_append_str(b, "<p class=\"none\">");
		report_html_escape(b, w->none);
		om_buf_append_str(b, "</p>\n");
		return;
	}
	om_buf_printf(b, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" style=\"max-width:100%%;height:auto\">\n",
		      cls, REPORT_LABEL_W + REPORT_HBAR_W + 60, h,
		      REPORT_LABEL_W + REPORT_HBAR_W + 60, h);
	for (i = 0; i < l->n; i++) {
		len = (int)((l->v[i].count * REPORT_HBAR_W + max - 1) / max);
		om_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" "
			      "text-anchor=\"end\">", REPORT_LABEL_W - 6, (int)i * 22 + 19);
		report_html_escape(b, report_key_label(w, l->v[i].key, is_click));
		om_buf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" "
			      "fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%lld</text>\n",
			      REPORT_LABEL_W, (int)i * 22 + 6, len,
			      is_click && strcmp(l->v[i].key, "block") == 0 ? "#e53935" : color,
			      REPORT_LABEL_W + 4 + len, (int)i * 22 + 19, l->v[i].count);
	}
	om_buf_append_str(b, "</svg>\n");
}

static void report_html_section(struct om_buf *b, const struct report_words *w,
				const char *title, const char *cls,
				const struct om_report_list *l, const char *color,
				int is_click)
{
	om_buf_append_str(b, "<h2>");
	report_html_escape(b, title);
	om_buf_printf(b, "</h2>\n<p class=\"total\">%s <span class=\"n-%s\">%lld</span></p>\n",
		      w->total, cls, l->total);
	report_svg_list(b, w, cls, l, color, is_click);
}

static char *report_html_body_w(const struct om_store_report *r, const char *domain,
				const struct report_words *w)
{
	struct om_buf b;
	char *title = report_title(w, domain, r);
	int v;

	om_buf_init(&b);
	om_buf_append_str(&b, "<div class=\"omamori-report\">\n<h1>");
	report_html_escape(&b, title);
	om_buf_append_str(&b, "</h1>\n<table class=\"summary\">\n<tr><th>");
	report_html_escape(&b, w->received);
	om_buf_printf(&b, "</th><td class=\"n-received\">%lld</td></tr>\n",
		      report_received(r));
	for (v = 0; v < OM_REPORT_VERDICTS; v++) {
		om_buf_append_str(&b, "<tr><th>");
		report_html_escape(&b, w->verdict[v]);
		om_buf_printf(&b, "</th><td class=\"n-%s\">%lld</td></tr>\n",
			      report_verdict_keys[v], r->received_total[v]);
	}
	om_buf_append_str(&b, "<tr><th>");
	report_html_escape(&b, w->blocked);
	om_buf_printf(&b, "</th><td class=\"n-blocked\">%lld</td></tr>\n</table>\n<h2>",
		      report_find(&r->clicks, "block"));
	report_html_escape(&b, w->per_day);
	om_buf_append_str(&b, "</h2>\n");
	report_svg_days(&b, r, w);
	report_html_section(&b, w, w->viruses, "viruses", &r->viruses, "#e53935", 0);
	report_html_section(&b, w, w->spam_domains, "spam-domains", &r->spam_domains,
			    "#ff9800", 0);
	report_html_section(&b, w, w->holds, "holds", &r->holds, "#5c6bc0", 0);
	report_html_section(&b, w, w->clicks, "clicks", &r->clicks, "#26a69a", 1);
	report_html_section(&b, w, w->outbound, "outbound", &r->outbound, "#78909c", 0);
	om_buf_append_str(&b, "</div>\n");
	free(title);
	return om_buf_steal(&b, NULL);
}

char *om_report_html_body(const struct om_store_report *r, const char *domain,
			  const char *lang)
{
	return report_html_body_w(r, domain, report_words_of(lang));
}

static char *report_html(const struct om_store_report *r, const char *domain,
			 const struct report_words *w)
{
	char *body = report_html_body_w(r, domain, w), *title;
	struct om_buf b;

	om_buf_init(&b);
	title = report_title(w, domain, r);
	om_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
		      "<title>", w->lang);
	report_html_escape(&b, title);
	om_buf_append_str(&b, "</title>\n<style>body{font-family:sans-serif;margin:1em 2em}"
			  "table.summary th{text-align:left;padding-right:2em}"
			  "table.summary td{text-align:right}h2{font-size:1.1em;"
			  "margin-top:1.5em}</style></head>\n<body>\n");
	om_buf_append_str(&b, body);
	om_buf_append_str(&b, "</body></html>\n");
	free(body);
	free(title);
	return om_buf_steal(&b, NULL);
}

char *om_report_render(const struct om_store_report *r, const char *domain,
		       const char *lang, enum om_report_format format)
{
	const struct report_words *w = report_words_of(lang);

	switch (format) {
	case OM_REPORT_FORMAT_CSV:
		return report_csv(r, domain);
	case OM_REPORT_FORMAT_JSON:
		return report_json(r, domain);
	case OM_REPORT_FORMAT_HTML:
		return report_html(r, domain, w);
	case OM_REPORT_FORMAT_TEXT:
	default:
		return report_text(r, domain, w);
	}
}

/* ---- the mail ---- */

char *om_report_mail(const struct om_store_report *r, const char *domain,
		     const char *lang, const char *from, const char *to,
		     const char *date, const char *msgid_host)
{
	const struct report_words *w = report_words_of(lang);
	char *text = report_text(r, domain, w), *html = report_html(r, domain, w);
	char *subject = report_title(w, domain, r);
	char boundary[96];
	struct om_buf b;

	(void)snprintf(boundary, sizeof(boundary), "=_omamori-report-%04d%02d",
		       r->year, r->month);
	om_buf_init(&b);
	om_buf_printf(&b, "From: <%s>\nTo: <%s>\nSubject: ", from, to);
	om_digest_encoded_words(&b, subject);
	om_buf_printf(&b, "\nDate: %s\nMessage-ID: <omamori-report-%04d%02d-",
		      date, r->year, r->month);
	om_buf_printf(&b, "%s@%s>\n", domain, msgid_host);
	om_buf_printf(&b, "Auto-Submitted: auto-generated\nContent-Language: %s\n"
		      "MIME-Version: 1.0\nContent-Type: multipart/alternative;\n"
		      " boundary=\"%s\"\n\n--%s\nContent-Type: text/plain; charset=utf-8\n"
		      "Content-Transfer-Encoding: base64\n\n", w->lang, boundary,
		      boundary);
	om_digest_base64_body(&b, text);
	om_buf_printf(&b, "\n--%s\nContent-Type: text/html; charset=utf-8\n"
		      "Content-Transfer-Encoding: base64\n\n", boundary);
	om_digest_base64_body(&b, html);
	om_buf_printf(&b, "\n--%s--\n", boundary);
	free(text);
	free(html);
	free(subject);
	return om_buf_steal(&b, NULL);
}
