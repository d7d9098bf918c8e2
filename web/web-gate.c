/* web-gate.c - the click-time gate (issue 15, doc/links.md): /u/<token>,
 * where scand's url-rewrite sends every link of a delivered mail.
 *
 * The token (crypto/token.h, a link token "U1": never a page's token) is
 * signed with the web key and carries the URL, the mailbox and the message;
 * nothing else decides where the gate sends anyone - no query string, no
 * header - so it is no open redirect.  At each click the URL is looked up in
 * the reputation store again (om_store_url_lookup: the URL, its host and
 * the names above it, its registrable domain), so a site listed after the
 * mail arrived is blocked: none -> 302 to the URL; warn -> a warning page,
 * with a "continue anyway" form (POST with a one-time CSRF value) when the
 * domain's url-warn-continue is on; block -> the block page.  The store
 * cannot answer: an error page, never the redirect (fail closed).
 *
 * Prefetch is never a click: HEAD, a request that says it is a prefetch or
 * preview (Purpose: prefetch, Sec-Purpose: prefetch..., X-Purpose:
 * preview, X-Moz: prefetch) or comes from a known link-preview agent gets a
 * page naming the destination's host, no redirect and no click recorded.
 * Every click is recorded (mailbox, host, verdict, time) for the reports.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/settings.h"
#include "store/store.h"
#include "url/url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A link token: the URL (up to OM_TOKEN_URL_MAX), base64 and a MAC. */
#define WEB_GATE_TOKEN_MAX 4096

/* Link-preview and crawler agents that fetch a link without a person
   (chat and social previews, mail scanners' fetchers, search crawlers):
   substrings of User-Agent, compared case-insensitively. */
static const char *const web_gate_preview_agents[] = {
	"Slackbot", "facebookexternalhit", "Facebot", "Twitterbot", "LinkedInBot",
	"Discordbot", "TelegramBot", "WhatsApp", "SkypeUriPreview", "Teams",
	"Microsoft Office Existence Discovery", "MicrosoftPreview", "Google-PageRenderer",
	"Googlebot", "bingbot", "Applebot", "redditbot", "Embedly", "Iframely",
	"Mastodon", "LINE-Parts", "Line/", "KAKAOTALK-scrap", "Pinterestbot",
	"vkShare", "W3C_Validator", "curl/", "Wget/", "python-requests",
};

/* 1 if p (a header value) contains word, case-insensitive. */
static int web_gate_has(const char *p, const char *word)
{
	size_t n = strlen(word);

	for (; p != NULL && *p != '\0'; p++) {
		if (strncasecmp(p, word, n) == 0)
			return 1;
	}
	return 0;
}

/* 1 when this request is no person's click (see the file's comment). */
static int web_gate_prefetch(const struct web_request *req)
{
	size_t i;

	if (req->method == WEB_HEAD || web_gate_has(req->purpose, "prefetch") ||
	    web_gate_has(req->purpose, "preview") ||
	    web_gate_has(req->sec_purpose, "prefetch") ||
	    web_gate_has(req->sec_purpose, "prerender") ||
	    web_gate_has(req->x_purpose, "preview") ||
	    web_gate_has(req->x_purpose, "prefetch") ||
	    web_gate_has(req->x_moz, "prefetch"))
		return 1;
	for (i = 0; i < OM_N_ELEMENTS(web_gate_preview_agents); i++) {
		if (web_gate_has(req->user_agent, web_gate_preview_agents[i]))
			return 1;
	}
	return 0;
}

/* A link token's characters: base64url and one dot. */
static int web_gate_token_ok(const char *token)
{
	size_t len = strnlen(token, WEB_GATE_TOKEN_MAX + 1);
	const char *dot = strchr(token, '.');

	return len > 0 && len <= WEB_GATE_TOKEN_MAX && dot != NULL && dot != token &&
		dot[1] != '\0' && strchr(dot + 1, '.') == NULL &&
		strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789-_.") == len;
}

/* The token's link and its URL parsed again (the url layer's form, the
   only one the gate sends anyone to): 1, or 0 with resp filled (400 not
   ours or changed, 410 expired). */
static int web_gate_link(struct web_request *req, struct om_token_url *link,
			 struct om_url *url, struct web_response *resp)
{
	enum om_token_result result = OM_TOKEN_BAD;
	struct om_link_keys keys;
	char *error = NULL;

	if (web_gate_token_ok(req->token)) {
		web_keys_get(req->server, &keys);
		result = om_token_url_check(&keys, req->token, req->now, link);
		web_keys_forget(&keys);
	}
	if (result == OM_TOKEN_OK &&
	    om_url_parse(link->url, strlen(link->url), url, &error) == 0) {
		if (strcmp(url->scheme, "http") == 0 || strcmp(url->scheme, "https") == 0)
			return 1;
		om_url_free(url);
	}
	free(error);
	if (result == OM_TOKEN_EXPIRED) {
		web_page_message(req, resp, 410, web_page_lang_browser(req),
				 WT_EXPIRED_TITLE, WT_GATE_EXPIRED_BODY, 0);
		return 0;
	}
	om_log_info("client=%s bad token on a link", req->address);
	web_page_message(req, resp, 400, web_page_lang_browser(req),
			 WT_BAD_LINK_TITLE, WT_BAD_LINK_BODY, 0);
	return 0;
}

struct web_gate_found {
	enum om_url_verdict verdict;
};

static void web_gate_found_cb(void *context, const struct om_store_url *u)
{
	struct web_gate_found *f = context;

	f->verdict = u->verdict;
}

/* The store's verdict for url now: 0 with *verdict_r, or -1 (logged). */
static int web_gate_verdict(struct web_request *req, struct om_store *store,
			    const struct om_url *url, enum om_url_verdict *verdict_r)
{
	struct web_gate_found found = { OM_URL_VERDICT_NONE };
	struct om_store_url_query q;
	struct om_url_keys keys;
	char *error = NULL;

	om_url_keys(req->server->psl, url, &keys);
	q.url = keys.url;
	q.hosts = keys.hosts;
	q.nhosts = keys.nhosts;
	q.domain = keys.domain;
	if (om_store_url_lookup(store, &q, (long long)req->now, web_gate_found_cb,
				&found, &error) < 0) {
		om_log_error("client=%s gate: store: %s", req->address, error);
		free(error);
		return -1;
	}
	*verdict_r = found.verdict;
	return 0;
}

/* Records a click (web-clicks.c: in the next batch; the answer goes on). */
static void web_gate_record(struct web_request *req, const char *mailbox,
			    const struct om_url *url, enum om_url_verdict verdict)
{
	web_clicks_add(&req->server->clicks, mailbox, url->host, verdict,
		       (long long)req->now);
	web_metrics_click(&req->server->metrics, verdict);
}

/* 1 if the mailbox's domain lets a warned user go on (url-warn-continue). */
static int web_gate_may_continue(struct om_store *store, const char *mailbox)
{
	char *error = NULL;
	char *value = om_settings_domain_value(store, mailbox, "url-warn-continue",
					       "on", &error);
	int may = value != NULL && strcmp(value, "on") == 0;

	free(value);
	free(error);
	return may;
}

static void web_gate_redirect(struct web_response *resp, unsigned int status,
			      const struct om_url *url)
{
	resp->status = status;
	resp->location = om_strdup(url->key);
	resp->body = (char *)"";
	resp->body_static = 1;
	resp->len = 0;
}

/* The destination as the pages show it: the host (and the URL, small). */
static void web_gate_destination(struct web_page *p, const struct om_url *url)
{
	web_page_raw(p, "<p>");
	web_page_t(p, WT_GATE_DEST);
	web_page_raw(p, ": <strong id=\"gate-host\">");
	web_page_esc(p, url->host, 300);
	web_page_raw(p, "</strong><br><small id=\"gate-url\">");
	web_page_esc(p, url->key, 600);
	web_page_raw(p, "</small></p>");
}

/* The page for a prefetch or preview: where the link leads, no redirect. */
static void web_gate_preview_page(struct web_request *req, struct web_response *resp,
				  const char *lang, const struct om_url *url)
{
	struct web_page p;

	web_page_begin(&p, req, lang, WT_GATE_PREVIEW_TITLE);
	web_page_raw(&p, "<p>");
	web_page_t(&p, WT_GATE_PREVIEW_BODY);
	web_page_raw(&p, "</p>");
	web_gate_destination(&p, url);
	web_page_finish(&p, req, resp, 200);
}

static void web_gate_block_page(struct web_request *req, struct web_response *resp,
				const char *lang, const struct om_url *url)
{
	struct web_page p;

	web_page_begin(&p, req, lang, WT_GATE_BLOCK_TITLE);
	web_page_raw(&p, "<p id=\"gate-blocked\" class=\"warn\">");
	web_page_t(&p, WT_GATE_BLOCK_BODY);
	web_page_raw(&p, "</p>");
	web_gate_destination(&p, url);
	web_page_finish(&p, req, resp, 403);
}

static void web_gate_warn_page(struct web_request *req, struct web_response *resp,
			       const char *lang, const struct om_url *url,
			       const char *mailbox, int may_continue)
{
	struct web_page p;
	char *csrf = may_continue ? web_link_csrf(req, mailbox, WEB_FORM_GATE) : NULL;

	web_page_begin(&p, req, lang, WT_GATE_WARN_TITLE);
	web_page_raw(&p, "<p id=\"gate-warned\" class=\"warn\">");
	web_page_t(&p, WT_GATE_WARN_BODY);
	web_page_raw(&p, "</p>");
	web_gate_destination(&p, url);
	if (csrf != NULL) {
		web_page_raw(&p, "<form method=\"post\" action=\"");
		web_page_esc(&p, req->token, 0);
		web_page_raw(&p, "\">");
		web_page_csrf(&p, csrf);
		web_page_raw(&p, "<button type=\"submit\" name=\"op\" value=\"continue\" "
			     "id=\"gate-continue\">");
		web_page_t(&p, WT_GATE_CONTINUE);
		web_page_raw(&p, "</button></form>");
	} else {
		web_page_raw(&p, "<p>");
		web_page_t(&p, WT_GATE_NO_CONTINUE);
		web_page_raw(&p, "</p>");
	}
	free(csrf);
	web_page_finish(&p, req, resp, 200);
}

void web_gate_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_url link;
	struct om_url url;
	struct om_store *store;
	enum om_url_verdict verdict;
	const char *lang;

	if (!web_gate_link(req, &link, &url, resp))
		return;
	store = web_page_store_for(req, resp, link.mailbox, &lang);
	if (store == NULL) {
		om_url_free(&url);
		return;
	}
	if (web_gate_prefetch(req)) {
		web_gate_preview_page(req, resp, lang, &url);
	} else if (web_gate_verdict(req, store, &url, &verdict) < 0) {
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
	} else {
		web_gate_record(req, link.mailbox, &url, verdict);
		om_log_info("client=%s gate mailbox=%s host=%s verdict=%s", req->address,
			    link.mailbox, url.host, verdict == OM_URL_VERDICT_NONE ? "none" :
			    om_url_verdict_name(verdict));
		if (verdict == OM_URL_VERDICT_BLOCK)
			web_gate_block_page(req, resp, lang, &url);
		else if (verdict == OM_URL_VERDICT_WARN)
			web_gate_warn_page(req, resp, lang, &url, link.mailbox,
					   web_gate_may_continue(store, link.mailbox));
		else
			web_gate_redirect(resp, 302, &url);
	}
	om_url_free(&url);
}

/* "Continue anyway" on the warning page: the CSRF value spent, the URL
   looked up again (blocked meanwhile: the block page), the domain's
   setting asked again; then a 303 to the URL. */
void web_gate_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_url link;
	struct om_url url;
	struct om_store *store;
	enum om_url_verdict verdict;
	const char *lang;

	if (!web_gate_link(req, &link, &url, resp))
		return;
	store = web_page_store_for(req, resp, link.mailbox, &lang);
	if (store == NULL || !web_link_csrf_spend(req, store, link.mailbox,
						    WEB_FORM_GATE, lang, resp)) {
		om_url_free(&url);
		return;
	}
	if (web_gate_verdict(req, store, &url, &verdict) < 0)
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
	else if (verdict == OM_URL_VERDICT_BLOCK)
		web_gate_block_page(req, resp, lang, &url);
	else if (verdict == OM_URL_VERDICT_WARN &&
		 !web_gate_may_continue(store, link.mailbox))
		web_gate_warn_page(req, resp, lang, &url, link.mailbox, 0);
	else {
		web_gate_record(req, link.mailbox, &url, verdict);
		om_log_info("client=%s gate mailbox=%s host=%s continued", req->address,
			    link.mailbox, url.host);
		web_gate_redirect(resp, 303, &url);
	}
	om_url_free(&url);
}
