/* web-hold.c - the pages of outgoing mail held for its sender's
 * confirmation (outbound-hold, doc/outbound.md): one held mail
 * (/h/<token>, the notice's link: token action "hold", message the hold's
 * id) and the sender's list (/hl/<token>, action "holds").
 *
 * What a page shows comes from the store's holds row (envelope, decoded
 * subject, recipients, attachment names and sizes): no page opens the
 * message.  A GET only shows; "send now" and "cancel" are POSTs with an
 * unused CSRF value (web-link.c, as /m/ does), and they only ask
 * omamori-filter (quarantine/hold.h), which alone re-injects mail: its
 * claim in the store makes a second click, or cron at the same moment,
 * find the hold sent and send nothing.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/hold.h"
#include "store/settings.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WEB_ACTION_HOLD "hold"
#define WEB_ACTION_HOLDS "holds"
#define WEB_HOLD_LIST_SECONDS (24 * 60 * 60)	/* the list link on a /h/ page */
#define WEB_HOLD_MAX_ROWS 500

/* One hold, copied out of the store's callback. */
struct web_hold {
	char *id, *mailbox, *sender, *recipients, *delivered, *subject,
		*attachments, *expiry;
	long long created, expires;
	enum om_hold_state state;
};

struct web_hold_rows {
	struct web_hold *rows;
	size_t count;
};

static void web_hold_row_cb(void *context, const struct om_store_hold *h)
{
	struct web_hold_rows *r = context;
	struct web_hold *w;

	/* the administrator's holds (outbound spam, the brake) are not the
	   sender's to see or act on: a spammer is not told */
	if (r->count == WEB_HOLD_MAX_ROWS || strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0)
		return;
	r->rows = om_realloc(r->rows, (r->count + 1) * sizeof(*r->rows));
	w = &r->rows[r->count++];
	w->id = om_strdup(h->id);
	w->mailbox = om_strdup(h->mailbox);
	w->sender = om_strdup(h->sender);
	w->recipients = om_strdup(h->recipients);
	w->delivered = om_strdup(h->delivered);
	w->subject = om_strdup(h->subject);
	w->attachments = om_strdup(h->attachments);
	w->expiry = om_strdup(h->expiry);
	w->created = h->created;
	w->expires = h->expires;
	w->state = h->state;
}

static void web_hold_rows_free(struct web_hold_rows *r)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		free(r->rows[i].id);
		free(r->rows[i].mailbox);
		free(r->rows[i].sender);
		free(r->rows[i].recipients);
		free(r->rows[i].delivered);
		free(r->rows[i].subject);
		free(r->rows[i].attachments);
		free(r->rows[i].expiry);
	}
	free(r->rows);
	r->rows = NULL;
	r->count = 0;
}

/* The hold id of mailbox: 1 found (rows->rows[0]), 0 not (or another
   mailbox's), -1 the store failed (logged). */
static int web_hold_find(struct om_store *store, const char *mailbox, const char *id,
			 struct web_hold_rows *rows)
{
	char *error = NULL;

	memset(rows, 0, sizeof(*rows));
	if (!om_hold_id_valid(id))
		return 0;
	if (om_store_hold_list(store, OM_HOLD_BY_ID, id, 0, web_hold_row_cb, rows,
			       &error) < 0) {
		om_log_error("mailbox=%s hold=%s store: %s", mailbox, id, error);
		free(error);
		return -1;
	}
	if (rows->count == 0 || strcmp(rows->rows[0].mailbox, mailbox) != 0) {
		web_hold_rows_free(rows);
		return 0;
	}
	return 1;
}

/* The text of a hold's state now (held past its expiry: expired). */
static enum web_text web_hold_state_text(const struct web_hold *h, time_t now)
{
	switch (h->state) {
	case OM_HOLD_HELD:
		return h->expires <= (long long)now ? WT_HOLD_ST_EXPIRED : WT_HOLD_ST_HELD;
	case OM_HOLD_SENDING: return WT_HOLD_ST_SENDING;
	case OM_HOLD_RELEASE_ASKED: return WT_HOLD_ST_RELEASE_ASKED;
	case OM_HOLD_DISCARD_ASKED: return WT_HOLD_ST_DISCARD_ASKED;
	case OM_HOLD_SENT: return WT_HOLD_ST_SENT;
	case OM_HOLD_DISCARDED: return WT_HOLD_ST_DISCARDED;
	case OM_HOLD_ADMIN: return WT_HOLD_ST_ADMIN;
	case OM_HOLD_NONE: break;
	}
	return WT_HOLD_ST_EXPIRED;
}

static int web_hold_open(const struct web_hold *h, time_t now)
{
	return h->state == OM_HOLD_HELD && h->expires > (long long)now;
}

/* Each recipient of list (one a line) with inside/outside and state. */
void web_hold_recipients(struct web_page *p, const char *list,
				const char *sender, const char *internal,
				enum web_text state)
{
	const char *s, *at, *domain;
	size_t len;
	char *one;
	int inside;

	for (s = list; *s != '\0'; s += len + (s[len] == '\n')) {
		len = strcspn(s, "\n");
		if (len == 0)
			continue;
		one = om_strndup(s, len);
		at = strrchr(one, '@');
		domain = at != NULL ? at + 1 : "";
		at = strrchr(sender, '@');
		inside = *domain == '\0' ||
			(at != NULL && strcasecmp(domain, at + 1) == 0) ||
			om_settings_domain_in(internal, domain);
		web_page_raw(p, "<li>");
		web_page_esc(p, one, 300);
		web_page_raw(p, inside ? " <small>[" : " <strong>[");
		web_page_t(p, inside ? WT_HOLD_INTERNAL : WT_HOLD_EXTERNAL);
		web_page_raw(p, inside ? "]</small> " : "]</strong> ");
		web_page_raw(p, "<small>(");
		web_page_t(p, state);
		web_page_raw(p, ")</small></li>");
		free(one);
	}
}

static void web_hold_attachments(struct web_page *p, const char *list)
{
	const char *s, *tab;
	size_t len;
	char *name, size[64];
	long long bytes;

	if (*list == '\0') {
		web_page_t(p, WT_HOLD_NO_ATTACHMENTS);
		return;
	}
	web_page_raw(p, "<ul>");
	for (s = list; *s != '\0'; s += len + (s[len] == '\n')) {
		len = strcspn(s, "\n");
		tab = memchr(s, '\t', len);
		if (tab == NULL)
			continue;
		name = om_strndup(s, (size_t)(tab - s));
		bytes = strtoll(tab + 1, NULL, 10);
		if (bytes >= 1024 * 1024)
			snprintf(size, sizeof(size), "%.1f MB", (double)bytes / (1024.0 * 1024.0));
		else if (bytes >= 1024)
			snprintf(size, sizeof(size), "%.1f KB", (double)bytes / 1024.0);
		else
			snprintf(size, sizeof(size), "%lld B", bytes);
		web_page_raw(p, "<li>");
		web_page_esc(p, name, 200);
		web_page_raw(p, " (");
		web_page_esc(p, size, 0);
		web_page_raw(p, ")</li>");
		free(name);
	}
	web_page_raw(p, "</ul>");
}

/* The details of h, as a definition list. */
static void web_hold_details(struct web_page *p, const struct web_request *req,
			     const struct web_settings *settings, const char *internal,
			     const struct web_hold *h)
{
	char date[64], left[32];
	enum web_text after = strcmp(h->expiry, "discard") == 0 ? WT_HOLD_AFTER_DISCARD :
		strcmp(h->expiry, "admin") == 0 ? WT_HOLD_AFTER_ADMIN : WT_HOLD_AFTER_SEND;

	web_page_raw(p, "<dl>");
	web_page_field(p, WT_SUBJECT, h->subject, WT_NO_SUBJECT);
	web_page_dt(p, WT_HOLD_SENDER);
	web_page_esc(p, h->sender, 300);
	web_page_raw(p, "</dd>");
	web_page_date(req, settings->timezone, (time_t)h->created, p->lang, date,
		      sizeof(date));
	web_page_dt(p, WT_HOLD_DATE);
	web_page_esc(p, date, 0);
	web_page_raw(p, "</dd>");
	web_page_dt(p, WT_HOLD_RECIPIENTS);
	web_page_raw(p, "<ul>");
	web_hold_recipients(p, h->recipients, h->sender, internal,
			    h->state == OM_HOLD_SENT ? WT_HOLD_ST_SENT :
			    h->state == OM_HOLD_DISCARDED ? WT_HOLD_ST_DISCARDED :
			    WT_HOLD_WAITING);
	web_hold_recipients(p, h->delivered, h->sender, internal, WT_HOLD_DELIVERED);
	web_page_raw(p, "</ul></dd>");
	web_page_dt(p, WT_HOLD_ATTACHMENTS);
	web_hold_attachments(p, h->attachments);
	web_page_raw(p, "</dd>");
	web_page_dt(p, WT_HOLD_STATE);
	web_page_t(p, web_hold_state_text(h, req->now));
	web_page_raw(p, "</dd>");
	if (web_hold_open(h, req->now)) {
		web_page_dt(p, WT_HOLD_LEFT);
		snprintf(left, sizeof(left), "%lld ",
			 (h->expires - (long long)req->now + 59) / 60);
		web_page_esc(p, left, 0);
		web_page_t(p, WT_HOLD_MINUTES);
		web_page_raw(p, "<br><small>");
		web_page_t(p, after);
		web_page_raw(p, "</small></dd>");
	}
	web_page_raw(p, "</dl>");
}

/* The two buttons, a POST form each, to action; id for the list page. */
static void web_hold_forms(struct web_page *p, const char *action, const char *id,
			   const char *csrf)
{
	static const struct {
		const char *op;
		enum web_text label;
		const char *cls;
	} buttons[] = {
		{ "send", WT_HOLD_SEND, "hl" },
		{ "cancel", WT_HOLD_CANCEL, "del" },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(buttons); i++) {
		web_page_raw(p, "<form method=\"post\" action=\"");
		web_page_esc(p, action, 0);
		web_page_raw(p, "\">");
		web_page_csrf(p, csrf);
		if (id != NULL) {
			web_page_raw(p, "<input type=\"hidden\" name=\"id\" value=\"");
			web_page_esc(p, id, 0);
			web_page_raw(p, "\">");
		}
		web_page_raw(p, "<button type=\"submit\" name=\"op\" value=\"");
		web_page_raw(p, buttons[i].op);
		web_page_raw(p, "\" class=\"");
		web_page_raw(p, buttons[i].cls);
		web_page_raw(p, "\" id=\"hold-");
		web_page_raw(p, buttons[i].op);
		web_page_raw(p, "\">");
		web_page_t(p, buttons[i].label);
		web_page_raw(p, "</button></form>");
	}
}

/* internal-domains of mailbox ("none" when the store cannot say). */
char *web_hold_internal(struct om_store *store, const char *mailbox)
{
	char *error = NULL, *value;

	value = om_settings_domain_value(store, mailbox, OM_SETTING_INTERNAL_DOMAINS,
					 "none", &error);
	if (value == NULL) {
		free(error);
		value = om_strdup("none");
	}
	return value;
}

/* Checks the page token: genuine and for action; an expired "hold" token
   still shows the hold read-only (*expired_r = 1), so a late click sees
   what became of the mail.  1 go on, 0 answered. */
static int web_hold_token(struct web_request *req, const char *action,
			  struct om_token_claims *claims, int *expired_r,
			  struct web_response *resp)
{
	struct om_link_keys keys;
	enum om_token_result result = OM_TOKEN_BAD;

	*expired_r = 0;
	if (req->method != WEB_POST && strcmp(action, WEB_ACTION_HOLD) == 0 &&
	    web_parse_token_ok(req->token)) {
		web_keys_get(req->server, &keys);
		result = om_token_check(&keys, req->token, req->now, claims);
		web_keys_forget(&keys);
		if (result == OM_TOKEN_EXPIRED && strcmp(claims->action, action) == 0) {
			*expired_r = 1;
			return 1;
		}
	}
	return web_link_check(req, action, claims, resp);
}

/* The page after a button: what was done, or why not. */
static void web_hold_result(struct web_request *req, struct web_response *resp,
			    const char *lang, const char *op, enum om_hold_answer answer,
			    const char *text, const char *back)
{
	struct web_page p;
	unsigned int status = 200;
	enum web_text title = WT_DONE_TITLE, body;
	enum om_hold_state state = OM_HOLD_NONE;

	switch (answer) {
	case OM_HOLD_ANSWER_DONE:
		body = strcmp(op, "send") == 0 ? WT_HOLD_DONE_SENT : WT_HOLD_DONE_DISCARDED;
		break;
	case OM_HOLD_ANSWER_ASKED:
		/* the host whose spool has it does it (doc/scaling.md) */
		body = strcmp(op, "send") == 0 ? WT_HOLD_DONE_ASKED_SEND :
			WT_HOLD_DONE_ASKED_DISCARD;
		break;
	case OM_HOLD_ANSWER_STATE:
		title = WT_HOLD_NOT_NOW_TITLE;
		body = WT_HOLD_NOT_NOW_BODY;
		status = 409;
		if (strcmp(text, "sent") == 0)
			state = OM_HOLD_SENT;
		else if (strcmp(text, "discarded") == 0)
			state = OM_HOLD_DISCARDED;
		else if (strcmp(text, "sending") == 0)
			state = OM_HOLD_SENDING;
		else if (strcmp(text, "admin") == 0)
			state = OM_HOLD_ADMIN;
		else if (strcmp(text, "release-asked") == 0)
			state = OM_HOLD_RELEASE_ASKED;
		else if (strcmp(text, "discard-asked") == 0)
			state = OM_HOLD_DISCARD_ASKED;
		else {
			body = WT_HOLD_GONE_BODY;
			status = 410;
		}
		break;
	default:
		title = WT_ERROR_TITLE;
		body = WT_ERROR_BODY;
		status = 503;
		break;
	}
	web_page_begin_result(&p, req, lang, title, status, body);
	if (state != OM_HOLD_NONE) {
		struct web_hold h;

		memset(&h, 0, sizeof(h));
		h.state = state;
		web_page_raw(&p, " <strong>");
		web_page_t(&p, web_hold_state_text(&h, req->now));
		web_page_raw(&p, "</strong>");
	}
	web_page_raw(&p, "</p>");
	if (back != NULL)
		web_page_link(&p, "", back, WT_HOLD_TO_LIST);
	web_page_finish(&p, req, resp, status);
}

/* Spends the CSRF value, reads op, asks omamori-filter, shows the result. */
static void web_hold_do(struct web_request *req, struct web_response *resp,
			struct om_store *store, const char *mailbox, const char *id,
			const char *lang, const char *back)
{
	const char *op = web_form_get(&req->form, "op");
	struct web_hold_rows rows;
	enum om_hold_answer answer = OM_HOLD_ANSWER_NONE;
	char *text = NULL, *error = NULL;
	int ret;

	if (!web_link_csrf_spend(req, store, mailbox, WEB_FORM_HOLD, lang, resp))
		return;
	if (op == NULL || (strcmp(op, "send") != 0 && strcmp(op, "cancel") != 0) ||
	    id == NULL || !om_hold_id_valid(id)) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	/* the hold must be this mailbox's: a list token names no id */
	ret = web_hold_find(store, mailbox, id, &rows);
	if (ret < 0) {
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (ret == 0) {
		web_hold_result(req, resp, lang, op, OM_HOLD_ANSWER_STATE, "none", back);
		return;
	}
	web_hold_rows_free(&rows);
	if (om_hold_request(req->server->config, strcmp(op, "send") == 0 ?
			    OM_HOLD_OP_RELEASE : OM_HOLD_OP_DISCARD, id, &answer,
			    &text, &error) < 0) {
		om_log_error("client=%s mailbox=%s hold=%s op=%s: %s", req->address,
			     mailbox, id, op, error);
		free(error);
		answer = OM_HOLD_ANSWER_FAIL;
	}
	om_log_info("client=%s mailbox=%s hold=%s op=%s answer=%d %s", req->address,
		    mailbox, id, op, (int)answer, text != NULL ? text : "");
	web_hold_result(req, resp, lang, op, answer, text != NULL ? text : "", back);
	free(text);
}

/* ---- /h/<token> ---- */

void web_hold_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_hold_rows rows;
	struct web_settings settings;
	struct om_store *store;
	struct web_page p;
	char *csrf = NULL, *list, *internal;
	int expired, ret;

	if (!web_hold_token(req, WEB_ACTION_HOLD, &claims, &expired, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	if (store == NULL)
		return;
	ret = web_hold_find(store, claims.mailbox, claims.message, &rows);
	if (!web_page_found(req, resp, settings.language, ret, WT_HOLD_GONE_BODY))
		return;
	if (!expired && web_hold_open(&rows.rows[0], req->now)) {
		csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_HOLD);
		if (csrf == NULL) {
			web_hold_rows_free(&rows);
			web_page_unavailable(req, resp, settings.language);
			return;
		}
	}
	internal = web_hold_internal(store, claims.mailbox);
	web_page_begin_intro(&p, req, settings.language, WT_HOLD_TITLE, WT_HOLD_INTRO);
	web_page_raw(&p, "<div class=\"card\" id=\"hold\">");
	web_hold_details(&p, req, &settings, internal, &rows.rows[0]);
	web_page_raw(&p, "</div>");
	if (csrf != NULL) {
		web_page_raw(&p, "<div>");
		web_hold_forms(&p, req->token, NULL, csrf);
		web_page_raw(&p, "</div>");
	}
	list = expired ? NULL : web_link_make(req, claims.mailbox, WEB_ACTION_HOLDS, "",
					      WEB_HOLD_LIST_SECONDS);
	if (list != NULL)
		web_page_link(&p, "../hl/", list, WT_HOLD_TO_LIST);
	web_page_finish(&p, req, resp, expired ? 410 : 200);
	free(list);
	free(internal);
	free(csrf);
	web_hold_rows_free(&rows);
}

void web_hold_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	const char *lang;
	int expired;

	if (!web_hold_token(req, WEB_ACTION_HOLD, &claims, &expired, resp))
		return;
	store = web_page_store_for(req, resp, claims.mailbox, &lang);
	if (store == NULL)
		return;
	web_hold_do(req, resp, store, claims.mailbox, claims.message, lang, NULL);
}

/* ---- /hl/<token> ---- */

void web_holds_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_hold_rows rows;
	struct web_settings settings;
	struct om_store *store;
	struct web_page p;
	char *csrf, *error = NULL, *internal;
	size_t i, shown = 0;

	if (!web_link_check(req, WEB_ACTION_HOLDS, &claims, resp))
		return;
	store = web_store(req->server);
	web_page_mailbox(req, store, claims.mailbox, &settings);
	memset(&rows, 0, sizeof(rows));
	if (store == NULL ||
	    om_store_hold_list(store, OM_HOLD_BY_MAILBOX, claims.mailbox, 0,
			       web_hold_row_cb, &rows, &error) < 0) {
		if (error != NULL)
			om_log_error("mailbox=%s store: %s", claims.mailbox, error);
		free(error);
		web_hold_rows_free(&rows);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_HOLD);
	if (csrf == NULL) {
		web_hold_rows_free(&rows);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	internal = web_hold_internal(store, claims.mailbox);
	web_page_begin_intro(&p, req, settings.language, WT_HOLD_LIST_TITLE,
			     WT_HOLD_LIST_INTRO);
	for (i = 0; i < rows.count; i++) {
		/* those still on hold, and those the administrator keeps */
		if (rows.rows[i].state != OM_HOLD_HELD &&
		    rows.rows[i].state != OM_HOLD_ADMIN &&
		    rows.rows[i].state != OM_HOLD_SENDING &&
		    rows.rows[i].state != OM_HOLD_RELEASE_ASKED &&
		    rows.rows[i].state != OM_HOLD_DISCARD_ASKED)
			continue;
		shown++;
		web_page_raw(&p, "<div class=\"card\">");
		web_hold_details(&p, req, &settings, internal, &rows.rows[i]);
		if (web_hold_open(&rows.rows[i], req->now))
			web_hold_forms(&p, req->token, rows.rows[i].id, csrf);
		web_page_raw(&p, "</div>");
	}
	if (shown == 0) {
		web_page_raw(&p, "<p>");
		web_page_t(&p, WT_HOLD_LIST_EMPTY);
		web_page_raw(&p, "</p>");
	}
	web_page_finish(&p, req, resp, 200);
	free(internal);
	free(csrf);
	web_hold_rows_free(&rows);
}

void web_holds_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	const char *lang;

	store = web_link_store_for(req, WEB_ACTION_HOLDS, NULL, &claims, &lang, resp);
	if (store == NULL)
		return;
	web_hold_do(req, resp, store, claims.mailbox, web_form_get(&req->form, "id"),
		    lang, req->token);
}
