/* web-page.c - the HTML of omamori-web's pages.
 *
 * One layout for every page, so the brand, the viewport and the escaping
 * are done once: a page is built in an om_buf from texts of web-text.c
 * (ours, escaped anyway) and values from the request or the store, which
 * always go through web_page_esc (web-html.c).  The CSS is inline (the
 * CSP allows 'unsafe-inline' styles only: there is no script at all).
 * A mailbox's language and timezone come from the thread's cache
 * (web-settings.c), dates from its zone offsets (web-zone.c).
 */
#include "web-page.h"
#include "web-html.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define WEB_PAGE_TEXT_MAX 4096
/* what a page's buffer starts with: the quarantine pages fit */
#define WEB_PAGE_RESERVE (8 * 1024)

static const char web_page_css[] =
	"body{font-family:sans-serif;margin:0;background:#f4f5f7;color:#222;"
	"line-height:1.5}"
	"header{background:#1f3b5a;color:#fff;padding:.6em 1em;display:flex;"
	"align-items:center;gap:.6em}"
	"header img{max-height:2em;max-width:8em}"
	"header span{font-weight:bold}"
	"main{max-width:40em;margin:0 auto;padding:1em}"
	"h1{font-size:1.3em;margin:.3em 0 .8em}"
	"h2{font-size:1.1em;margin:1.2em 0 .4em}"
	".card{background:#fff;border-radius:6px;padding:.8em 1em;margin:0 0 1em;"
	"box-shadow:0 1px 2px rgba(0,0,0,.1)}"
	"dl{margin:0}dt{font-size:.85em;color:#555}dd{margin:0 0 .5em;"
	"word-break:break-all}"
	"form{display:inline}"
	"button{font-size:1em;padding:.5em .9em;margin:.2em .2em .2em 0;"
	"border:1px solid #1f3b5a;border-radius:4px;background:#fff;color:#1f3b5a}"
	"button.hl{background:#1f3b5a;color:#fff}"
	"button.del{border-color:#a33;color:#a33}"
	"input[type=text],input[type=password],input[type=email]{font-size:1em;"
	"padding:.4em;width:100%;box-sizing:border-box;margin:.2em 0 .6em}"
	"input[type=number],input[type=time]{font-size:1em;padding:.3em}"
	"ul{padding-left:1.2em}"
	"table.steps{border-collapse:collapse;width:100%;font-size:.85em}"
	"table.steps th,table.steps td{border-top:1px solid #ddd;padding:.2em .3em;"
	"text-align:left;vertical-align:top;overflow-wrap:break-word}"
	"table.steps td.rcpt,table.steps td.detail,.msg p{overflow-wrap:anywhere}"
	".note{background:#eef6ee;border-left:4px solid #3a7;padding:.5em .8em}"
	".warn{background:#fbeeee;border-left:4px solid #a33;padding:.5em .8em}"
	"footer{max-width:40em;margin:0 auto;padding:1em;font-size:.85em;color:#555}"
	"a{color:#1f5a9a}";

void web_style(struct web_request *req, struct web_response *resp)
{
	(void)req;
	resp->status = 200;
	resp->body = (char *)web_page_css;
	resp->len = sizeof(web_page_css) - 1;
	resp->body_static = 1;
	resp->cacheable = 1;
	resp->content_type = "text/css; charset=utf-8";
}

void web_page_raw(struct web_page *p, const char *html)
{
	om_buf_append_str(&p->buf, html);
}

void web_page_esc(struct web_page *p, const char *text, size_t max)
{
	web_html_esc(&p->buf, text,
		     max > 0 && max < WEB_PAGE_TEXT_MAX ? max : WEB_PAGE_TEXT_MAX);
}

void web_page_t(struct web_page *p, enum web_text id)
{
	web_page_esc(p, web_text(p->lang, id), 0);
}

void web_page_csrf(struct web_page *p, const char *csrf)
{
	web_page_raw(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_page_esc(p, csrf, 0);
	web_page_raw(p, "\">");
}

void web_page_begin(struct web_page *p, const struct web_request *req,
		    const char *lang, enum web_text title)
{
	const struct om_config *config = req->server->config;

	om_buf_init(&p->buf);
	/* a page is a few KB: room for it at once, not by doubling */
	om_buf_reserve(&p->buf, WEB_PAGE_RESERVE);
	p->lang = strcmp(lang, "ja") == 0 ? "ja" : "en";
	web_page_raw(p, "<!DOCTYPE html>\n<html lang=\"");
	web_page_raw(p, p->lang);
	web_page_raw(p, "\"><head>"
		     "<meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width, "
		     "initial-scale=1\">"
		     "<meta name=\"referrer\" content=\"no-referrer\">"
		     "<meta name=\"robots\" content=\"noindex, nofollow\"><title>");
	web_page_t(p, title);
	web_page_raw(p, " - ");
	web_page_esc(p, config->brand_name, 200);
	/* the style sheet is one file browsers keep, not 1.5 KB in every
	   page */
	web_page_raw(p, "</title><link rel=\"stylesheet\" href=\"");
	web_page_esc(p, req->root, 0);
	web_page_raw(p, "style.css\"></head><body><header>");
	if (req->server->logo != NULL) {
		web_page_raw(p, "<img src=\"");
		web_page_esc(p, req->root, 0);
		web_page_raw(p, "logo\" alt=\"\">");
	}
	web_page_raw(p, "<span>");
	web_page_esc(p, config->brand_name, 200);
	web_page_raw(p, "</span></header><main><h1>");
	web_page_t(p, title);
	web_page_raw(p, "</h1>");
}

void web_page_finish(struct web_page *p, const struct web_request *req,
		     struct web_response *resp, unsigned int status)
{
	const struct om_config *config = req->server->config;

	web_page_raw(p, "</main><footer>");
	web_page_esc(p, config->brand_name, 200);
	if (config->brand_support[0] != '\0') {
		web_page_raw(p, " &middot; ");
		web_page_t(p, WT_SUPPORT);
		web_page_esc(p, config->brand_support, 400);
	}
	web_page_raw(p, "</footer></body></html>\n");
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	resp->body = om_buf_steal(&p->buf, &resp->len);
	resp->body_static = 0;
}

void web_page_message(const struct web_request *req, struct web_response *resp,
		      unsigned int status, const char *lang,
		      enum web_text title, enum web_text body, int login_link)
{
	struct web_page p;

	web_page_begin(&p, req, lang, title);
	web_page_raw(&p, "<div class=\"card\"><p>");
	web_page_t(&p, body);
	web_page_raw(&p, "</p>");
	if (login_link) {
		web_page_raw(&p, "<p><a href=\"");
		web_page_esc(&p, req->root, 0);
		web_page_raw(&p, "login\">");
		web_page_t(&p, WT_LOGIN_LINK);
		web_page_raw(&p, "</a></p>");
	}
	web_page_raw(&p, "</div>");
	web_page_finish(&p, req, resp, status);
}

void web_page_unavailable(const struct web_request *req,
			  struct web_response *resp, const char *lang)
{
	web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
}

int web_page_found(const struct web_request *req, struct web_response *resp,
		   const char *lang, int found, enum web_text gone_body)
{
	if (found < 0)
		web_page_unavailable(req, resp, lang);
	else if (found == 0)
		web_page_message(req, resp, 410, lang, WT_GONE_TITLE, gone_body, 0);
	return found > 0;
}

void web_page_begin_intro(struct web_page *p, const struct web_request *req,
			  const char *lang, enum web_text title,
			  enum web_text intro)
{
	web_page_begin(p, req, lang, title);
	web_page_raw(p, "<p>");
	web_page_t(p, intro);
	web_page_raw(p, "</p>");
}

void web_page_begin_result(struct web_page *p, const struct web_request *req,
			   const char *lang, enum web_text title,
			   unsigned int status, enum web_text body)
{
	web_page_begin(p, req, lang, title);
	web_page_raw(p, status == 200 ? "<p class=\"note\" id=\"result\">" :
		     "<p class=\"warn\" id=\"result\">");
	web_page_t(p, body);
}

void web_page_dt(struct web_page *p, enum web_text label)
{
	web_page_raw(p, "<dt>");
	web_page_t(p, label);
	web_page_raw(p, "</dt><dd>");
}

void web_page_field(struct web_page *p, enum web_text label,
		    const char *value, enum web_text if_empty)
{
	web_page_dt(p, label);
	if (value == NULL || value[0] == '\0')
		web_page_t(p, if_empty);
	else
		web_page_esc(p, value, 998);
	web_page_raw(p, "</dd>");
}

void web_page_link(struct web_page *p, const char *prefix, const char *href,
		   enum web_text label)
{
	web_page_raw(p, "<p><a href=\"");
	web_page_raw(p, prefix);
	web_page_esc(p, href, 0);
	web_page_raw(p, "\">");
	web_page_t(p, label);
	web_page_raw(p, "</a></p>");
}

const char *web_page_lang_browser(const struct web_request *req)
{
	return web_parse_language(req->accept_language,
				  req->server->config->default_language);
}

void web_page_mailbox(const struct web_request *req, struct om_store *store,
		      const char *mailbox, struct web_settings *values_r)
{
	struct web_thread *thread = web_thread(req->server);
	char *error = NULL;

	if (thread != NULL && store != NULL &&
	    web_settings_get(&thread->settings, store, mailbox,
			     req->server->config->default_language, values_r,
			     &error) == 0)
		return;
	free(error);
	values_r->language = web_page_lang_browser(req);
	(void)om_strlcpy(values_r->timezone, "localtime", sizeof(values_r->timezone));
}

struct om_store *web_page_store_settings(const struct web_request *req,
					 struct web_response *resp,
					 const char *mailbox,
					 struct web_settings *settings_r)
{
	struct om_store *store = web_store(req->server);

	web_page_mailbox(req, store, mailbox, settings_r);
	if (store == NULL)
		web_page_unavailable(req, resp, settings_r->language);
	return store;
}

const char *web_page_lang_mailbox(const struct web_request *req,
				  struct om_store *store, const char *mailbox)
{
	struct web_settings values;

	web_page_mailbox(req, store, mailbox, &values);
	return values.language;
}

void web_page_date(const struct web_request *req, const char *zone,
		   time_t when, const char *lang, char *buf, size_t size)
{
	struct web_thread *thread = web_thread(req->server);
	struct tm tm;
	int ja = strcmp(lang, "ja") == 0;

	if (thread == NULL ||
	    web_zone_local(&thread->zones, &req->server->tz_lock, zone, when,
			   &tm) < 0 ||
	    strftime(buf, size, ja ? "%Y年%m月%d日 %H:%M" : "%d %b %Y %H:%M", &tm) == 0)
		(void)om_strlcpy(buf, "?", size);
}

struct om_store *web_page_store_for(const struct web_request *req,
				    struct web_response *resp,
				    const char *mailbox, const char **lang_r)
{
	struct om_store *store = web_store(req->server);

	*lang_r = web_page_lang_mailbox(req, store, mailbox);
	if (store == NULL)
		web_page_unavailable(req, resp, *lang_r);
	return store;
}
