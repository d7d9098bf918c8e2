/* web-mail.c - the quarantine pages of omamori-web: one quarantined mail
 * (/m/<token>, the digest's links) and a mailbox's whole quarantine
 * (/q/<token>, the page a login or the digest opens: a "session" token
 * from a login links to the user's settings, a digest's "box" token only
 * to the login page, so a forwarded digest never gives the settings away).
 *
 * What a page shows comes from the store's quarantine rows, so no page
 * opens the mailbox; what a button does goes through om_quarantine_act
 * (doveadm), the same code path as `omamorictl quarantine`.  A GET only
 * shows: every change is a POST that carries an unused CSRF value.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/quarantine.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* a quarantine page lists at most this many mails (newest first) */
#define WEB_BOX_MAX_ROWS 500

static const struct {
	enum om_quarantine_op op;
	enum web_text label;
	const char *class_name;
} web_mail_buttons[] = {
	{ OM_QUARANTINE_RELEASE, WT_OP_RELEASE, "" },
	{ OM_QUARANTINE_RELEASE_ALLOW, WT_OP_ALLOW, "" },
	{ OM_QUARANTINE_DELETE, WT_OP_DELETE, "del" },
};

/* The three buttons, one POST form each, to action (relative); id is the
   message's id for the list page (NULL on the mail's own page).  An
   admin-only message gets the note saying so and the delete button
   alone (a release POST would be refused anyway: 403). */
static void web_mail_forms(struct web_page *p, const char *action,
			   const char *id, const char *csrf, const char *highlight,
			   int admin_only)
{
	size_t i;
	const char *name, *cls;

	if (admin_only) {
		web_page_raw(p, "<p class=\"warn admin-only\">");
		web_page_t(p, WT_ADMIN_ONLY);
		web_page_raw(p, "</p>");
	}
	for (i = 0; i < OM_N_ELEMENTS(web_mail_buttons); i++) {
		if (admin_only && web_mail_buttons[i].op != OM_QUARANTINE_DELETE)
			continue;
		name = om_quarantine_op_name(web_mail_buttons[i].op);
		cls = highlight != NULL && strcmp(highlight, name) == 0 ? "hl" :
			web_mail_buttons[i].class_name;
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
		web_page_raw(p, name);
		web_page_raw(p, "\" class=\"");
		web_page_raw(p, cls);
		web_page_raw(p, "\">");
		web_page_t(p, web_mail_buttons[i].label);
		web_page_raw(p, "</button></form>");
	}
}

/* The reasons, one a line from om_quarantine_reasons_text, as a list (the
   score has a line of its own on the page). */
static void web_mail_reasons(struct web_page *p, const char *reasons)
{
	char *text = om_quarantine_reasons_text(reasons, "", p->lang);
	char *line, *save = NULL;

	web_page_raw(p, "<dt>");
	web_page_t(p, WT_REASONS);
	web_page_raw(p, "</dt><dd><ul>");
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		web_page_raw(p, "<li>");
		web_page_esc(p, line, 400);
		web_page_raw(p, "</li>");
	}
	web_page_raw(p, "</ul></dd>");
	free(text);
}

/* The details of item, as a definition list; dates in zone. */
static void web_mail_details(struct web_page *p, const struct web_request *req,
			     const char *zone,
			     const struct om_quarantine_item *item, int full)
{
	char date[64];

	web_page_date(req, zone, (time_t)item->received, p->lang, date, sizeof(date));
	web_page_raw(p, "<dl>");
	web_page_field(p, WT_SUBJECT, item->subject, WT_NO_SUBJECT);
	web_page_field(p, WT_FROM, item->from, WT_NULL_SENDER);
	if (full)
		web_page_field(p, WT_ENVELOPE_SENDER, item->sender, WT_NULL_SENDER);
	web_page_field(p, WT_RECEIVED, date, WT_NULL_SENDER);
	/* a score says something only when the spam check put the mail here
	   (a block-listed sender's mail may score 0.00) */
	if (full && item->score != NULL && item->score[0] != '\0' &&
	    strtod(item->score, NULL) > 0)
		web_page_field(p, WT_SCORE, item->score, WT_NULL_SENDER);
	if (full)
		web_mail_reasons(p, item->reasons);
	web_page_raw(p, "</dl>");
}

/* The page after an op: what was done, or why not. */
static void web_mail_result(const struct web_request *req, struct web_response *resp,
			    const char *lang, enum om_quarantine_op op,
			    enum om_quarantine_result result, const char *back)
{
	struct web_page p;
	enum web_text title = WT_DONE_TITLE, body;
	unsigned int status = 200;

	switch (result) {
	case OM_QUARANTINE_DONE:
		body = op == OM_QUARANTINE_DELETE ? WT_DONE_DELETE :
			op == OM_QUARANTINE_RELEASE_ALLOW ? WT_DONE_ALLOW : WT_DONE_RELEASE;
		break;
	case OM_QUARANTINE_NOT_ALLOWED:
		body = WT_DONE_NOT_ALLOWED;
		break;
	case OM_QUARANTINE_GONE:
		title = WT_GONE_TITLE;
		body = WT_GONE_BODY;
		status = 410;
		break;
	case OM_QUARANTINE_ADMIN_ONLY:
		title = WT_ADMIN_ONLY_TITLE;
		body = WT_ADMIN_ONLY;
		status = 403;
		break;
	case OM_QUARANTINE_FAILED:
	default:
		title = WT_ERROR_TITLE;
		body = WT_ERROR_BODY;
		status = 503;
		break;
	}
	web_page_begin(&p, req, lang, title);
	web_page_raw(&p, status == 200 ? "<p class=\"note\">" : "<p class=\"warn\">");
	web_page_t(&p, body);
	web_page_raw(&p, "</p>");
	if (back != NULL)
		web_page_link(&p, "", back, WT_TO_BOX);
	web_page_finish(&p, req, resp, status);
}

/* Spends the CSRF value, reads op, acts on mailbox's id, shows the result. */
static void web_mail_do(struct web_request *req, struct web_response *resp,
			struct om_store *store, const char *mailbox,
			const char *id, const char *lang, const char *back)
{
	const char *op_name = web_form_get(&req->form, "op");
	enum om_quarantine_op op;
	enum om_quarantine_result result;
	char *message = NULL;

	if (!web_link_csrf_spend(req, store, mailbox, WEB_FORM_MAIL, lang, resp))
		return;
	if (op_name == NULL || om_quarantine_op_parse(op_name, &op) < 0 ||
	    id == NULL || !om_quarantine_id_valid(id)) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	result = om_quarantine_act(req->server->config, store, mailbox, id, op,
				   &message);
	om_log_info("client=%s mailbox=%s id=%s op=%s result=%d: %s", req->address,
		    mailbox, id, op_name, (int)result, message != NULL ? message : "");
	free(message);
	web_mail_result(req, resp, lang, op, result, back);
}

/* ---- /m/<token> ---- */

void web_mail_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_quarantine_item item;
	struct om_store *store;
	struct web_settings settings;
	struct web_page p;
	const char *lang, *hl = req->query_op;
	char *csrf, *error = NULL;
	int ret;

	if (!web_link_check(req, WEB_ACTION_MAIL, &claims, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	lang = settings.language;
	if (store == NULL)
		return;
	if (!om_quarantine_id_valid(claims.message)) {
		web_page_message(req, resp, 400, lang, WT_BAD_LINK_TITLE,
				 WT_BAD_LINK_BODY, 1);
		return;
	}
	memset(&item, 0, sizeof(item));
	ret = om_quarantine_find(store, claims.mailbox, claims.message, &item, &error);
	if (ret < 0) {
		om_log_error("mailbox=%s store: %s", claims.mailbox, error);
		free(error);
	}
	if (!web_page_found(req, resp, lang, ret, WT_GONE_BODY))
		return;
	csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_MAIL);
	if (csrf == NULL) {
		om_quarantine_item_free(&item);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (hl != NULL && strcmp(hl, "release") != 0 && strcmp(hl, "allow") != 0)
		hl = NULL;
	web_page_begin_intro(&p, req, lang, WT_MAIL_TITLE, WT_MAIL_INTRO);
	web_page_raw(&p, "<div class=\"card\">");
	web_mail_details(&p, req, settings.timezone, &item, 1);
	web_page_raw(&p, "</div><div>");
	web_mail_forms(&p, req->token, NULL, csrf, hl, item.admin_only);
	web_page_raw(&p, "</div>");
	web_page_finish(&p, req, resp, 200);
	free(csrf);
	om_quarantine_item_free(&item);
}

void web_mail_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	const char *lang;

	store = web_link_store_for(req, WEB_ACTION_MAIL, NULL, &claims, &lang, resp);
	if (store == NULL)
		return;
	web_mail_do(req, resp, store, claims.mailbox, claims.message, lang, NULL);
}

/* ---- /q/<token> ---- */

struct web_box_rows {
	struct om_quarantine_item *items;
	size_t count;
};

static void web_box_row_cb(void *context, const struct om_store_quarantined *q)
{
	struct web_box_rows *rows = context;
	struct om_quarantine_item *item;

	if (rows->count == WEB_BOX_MAX_ROWS)
		return;
	item = &rows->items[rows->count++];
	om_quarantine_item_set(item, q);
}

static void web_box_rows_free(struct web_box_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->count; i++)
		om_quarantine_item_free(&rows->items[i]);
	free(rows->items);
}

/* One mail of the list: its summary, a link to its own page, buttons. */
static void web_box_item(struct web_page *p, struct web_request *req,
			 const char *zone, const struct om_token_claims *claims,
			 const struct om_quarantine_item *item, const char *csrf)
{
	char *mail_token = web_link_make(req, claims->mailbox, WEB_ACTION_MAIL,
					 item->id, claims->expires - req->now);

	web_page_raw(p, "<div class=\"card\">");
	web_mail_details(p, req, zone, item, 0);
	if (mail_token != NULL) {
		web_page_raw(p, "<p><a href=\"");
		web_page_esc(p, req->root, 0);
		web_page_raw(p, "m/");
		web_page_esc(p, mail_token, 0);
		web_page_raw(p, "\">");
		web_page_t(p, WT_REASONS);
		web_page_raw(p, "</a></p>");
	}
	web_mail_forms(p, req->token, item->id, csrf, NULL, item->admin_only);
	web_page_raw(p, "</div>");
	free(mail_token);
}

/* The way to the settings: /me under a login's session token; from a
   digest's box token, the login page (the settings need the password). */
static void web_box_settings_link(struct web_page *p, const struct web_request *req,
				  const struct om_token_claims *claims)
{
	int session = strcmp(claims->action, WEB_ACTION_SESSION) == 0;

	web_page_raw(p, "<p><a href=\"");
	web_page_esc(p, req->root, 0);
	if (session) {
		web_page_raw(p, "me/");
		web_page_esc(p, req->token, 0);
	} else {
		web_page_raw(p, "login");
	}
	web_page_raw(p, "\">");
	web_page_t(p, session ? WT_TO_ME : WT_LOGIN_FOR_SETTINGS);
	web_page_raw(p, "</a></p>");
}

void web_box_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_box_rows rows = { NULL, 0 };
	struct om_store *store;
	struct web_settings settings;
	struct web_page p;
	const char *lang;
	char *csrf, *error = NULL;
	size_t i;

	if (!web_link_check_either(req, WEB_ACTION_BOX, WEB_ACTION_SESSION, &claims,
				   resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	lang = settings.language;
	if (store == NULL)
		return;
	/* mail the user deleted or moved over IMAP is not listed */
	if (om_quarantine_reconcile(req->server->config, store, claims.mailbox,
				    &error) < 0) {
		om_log_warn("mailbox=%s reconcile: %s", claims.mailbox, error);
		om_free(&error);
	}
	rows.items = om_calloc(WEB_BOX_MAX_ROWS, sizeof(*rows.items));
	if (om_store_quarantine_each(store, claims.mailbox, web_box_row_cb, &rows,
				     &error) < 0 ||
	    (csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_MAIL)) == NULL) {
		om_log_error("mailbox=%s store: %s", claims.mailbox,
			     error != NULL ? error : "no csrf value");
		free(error);
		web_box_rows_free(&rows);
		web_page_unavailable(req, resp, lang);
		return;
	}
	web_page_begin(&p, req, lang, WT_BOX_TITLE);
	web_page_raw(&p, "<p>");
	web_page_t(&p, WT_MAILBOX);
	web_page_raw(&p, ": <b>");
	web_page_esc(&p, claims.mailbox, 0);
	web_page_raw(&p, "</b></p><p>");
	web_page_t(&p, rows.count == 0 ? WT_BOX_EMPTY : WT_BOX_INTRO);
	web_page_raw(&p, "</p>");
	for (i = 0; i < rows.count; i++)
		web_box_item(&p, req, settings.timezone, &claims, &rows.items[i], csrf);
	web_box_settings_link(&p, req, &claims);
	web_page_finish(&p, req, resp, 200);
	free(csrf);
	web_box_rows_free(&rows);
}

void web_box_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	const char *lang;

	store = web_link_store_for(req, WEB_ACTION_BOX, WEB_ACTION_SESSION, &claims,
				   &lang, resp);
	if (store == NULL)
		return;
	/* back to the list: the token's own name, relative to /q/ */
	web_mail_do(req, resp, store, claims.mailbox, web_form_get(&req->form, "id"),
		    lang, req->token);
}
