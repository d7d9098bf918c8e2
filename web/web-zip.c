/* web-zip.c - outbound-zip's "send the password to the recipients" page
 * (seed 001's メール確認画面: 宛先を確認して＜通知＞; doc/outbound.md):
 * /z/<token>, the password notice's link (token action "zip-password",
 * message the kept password's id, mailbox the sender).
 *
 * The page shows the store's zip_passwords row - date, subject, archive
 * name, the recipients (inside or outside, as the hold page marks them),
 * whether the password was mailed to them and when - never the password
 * (this process cannot open its seal: the key is root's, omamori-filter's).
 * A GET only shows; the button is a POST with an unused CSRF value
 * (web-link.c), which asks omamori-filter (quarantine/hold.h, ZIPPASS):
 * its claim in the store makes a second press find the password sent and
 * send nothing, and the page says so.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/hold.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One kept password's row (never its seal), copied out of the callback. */
struct web_zip {
	int found;
	char *mailbox, *recipients, *subject, *archive;
	long long created, expires, sent;
	enum om_zip_state state;
};

static void web_zip_row_cb(void *context, const struct om_store_zip *z)
{
	struct web_zip *w = context;

	w->found = 1;
	w->mailbox = om_strdup(z->mailbox);
	w->recipients = om_strdup(z->recipients);
	w->subject = om_strdup(z->subject);
	w->archive = om_strdup(z->archive);
	w->created = z->created;
	w->expires = z->expires;
	w->sent = z->sent;
	w->state = z->state;
}

static void web_zip_free(struct web_zip *w)
{
	free(w->mailbox);
	free(w->recipients);
	free(w->subject);
	free(w->archive);
	memset(w, 0, sizeof(*w));
}

/* The row of id if it is mailbox's: 1, 0 none (or another's), -1 the
   store failed (logged). */
static int web_zip_find(struct om_store *store, const char *mailbox, const char *id,
			struct web_zip *row)
{
	char *error = NULL;

	memset(row, 0, sizeof(*row));
	if (!om_hold_id_valid(id))
		return 0;
	if (om_store_zip_get(store, id, web_zip_row_cb, row, &error) < 0) {
		om_log_error("mailbox=%s zip=%s store: %s", mailbox, id, error);
		free(error);
		return -1;
	}
	if (!row->found || strcmp(row->mailbox, mailbox) != 0) {
		web_zip_free(row);
		return 0;
	}
	return 1;
}

static int web_zip_open(const struct web_zip *z, time_t now)
{
	return z->state == OM_ZIP_KEPT && z->expires > (long long)now;
}

static void web_zip_date(struct web_page *p, const struct web_request *req,
			 const struct web_settings *settings, long long when)
{
	char date[64];

	web_page_date(req, settings->timezone, (time_t)when, p->lang, date, sizeof(date));
	web_page_esc(p, date, 0);
}

/* The state of the password for the recipients: sent (when), being
   sent, not sent, or no longer kept. */
static void web_zip_state(struct web_page *p, const struct web_request *req,
			  const struct web_settings *settings, const struct web_zip *z)
{
	switch (z->state) {
	case OM_ZIP_SENT:
		web_page_raw(p, "<strong id=\"zip-sent\">");
		web_page_t(p, WT_ZIP_SENT_AT);
		web_zip_date(p, req, settings, z->sent);
		web_page_raw(p, "</strong>");
		return;
	case OM_ZIP_SENDING:
		web_page_raw(p, "<span id=\"zip-sending\">");
		web_page_t(p, WT_ZIP_SENDING);
		web_page_raw(p, "</span>");
		return;
	case OM_ZIP_KEPT:
	case OM_ZIP_NONE:
		break;
	}
	web_page_raw(p, "<span id=\"zip-not-sent\">");
	web_page_t(p, web_zip_open(z, req->now) ? WT_ZIP_NOT_SENT : WT_ZIP_EXPIRED_BODY);
	web_page_raw(p, "</span>");
}

static void web_zip_details(struct web_page *p, const struct web_request *req,
			    const struct web_settings *settings, const char *internal,
			    const struct web_zip *z)
{
	web_page_raw(p, "<dl>");
	web_page_dt(p, WT_HOLD_DATE);
	web_zip_date(p, req, settings, z->created);
	web_page_raw(p, "</dd>");
	web_page_field(p, WT_SUBJECT, z->subject, WT_NO_SUBJECT);
	web_page_dt(p, WT_ZIP_ARCHIVE);
	web_page_esc(p, z->archive, 200);
	web_page_raw(p, "</dd>");
	web_page_dt(p, WT_HOLD_RECIPIENTS);
	web_page_raw(p, "<ul id=\"zip-recipients\">");
	web_hold_recipients(p, z->recipients, z->mailbox, internal,
			    z->state == OM_ZIP_SENT ? WT_ZIP_RCPT_SENT : WT_ZIP_RECIPIENT);
	web_page_raw(p, "</ul></dd>");
	web_page_dt(p, WT_ZIP_STATE);
	web_zip_state(p, req, settings, z);
	web_page_raw(p, "</dd>");
	if (z->state != OM_ZIP_SENT) {
		web_page_dt(p, WT_ZIP_KEPT_UNTIL);
		web_zip_date(p, req, settings, z->expires);
		web_page_raw(p, "</dd>");
	}
	web_page_raw(p, "</dl>");
}

/* ---- GET /z/<token> ---- */

void web_zip_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_settings settings;
	struct web_zip row;
	struct om_store *store;
	struct web_page p;
	char *csrf = NULL, *internal, *error = NULL;
	const char *gate = NULL;
	int ret;

	if (!web_link_check(req, OM_ZIP_TOKEN_ACTION, &claims, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	if (store == NULL)
		return;
	ret = web_zip_find(store, claims.mailbox, claims.message, &row);
	if (!web_page_found(req, resp, settings.language, ret, WT_ZIP_GONE_BODY))
		return;
	if (om_hold_zip_gate(store, claims.message, &gate, &error) < 0) {
		om_log_error("web: zip %s: %s", claims.message, error);
		free(error);
		web_zip_free(&row);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	if (gate == NULL && web_zip_open(&row, req->now)) {
		csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_ZIP);
		if (csrf == NULL) {
			web_zip_free(&row);
			web_page_unavailable(req, resp, settings.language);
			return;
		}
	}
	internal = web_hold_internal(store, claims.mailbox);
	web_page_begin_intro(&p, req, settings.language, WT_ZIP_TITLE, WT_ZIP_INTRO);
	web_page_raw(&p, "<div class=\"card\" id=\"zip\">");
	web_zip_details(&p, req, &settings, internal, &row);
	web_page_raw(&p, "</div>");
	if (csrf != NULL) {
		web_page_raw(&p, "<form method=\"post\" action=\"");
		web_page_esc(&p, req->token, 0);
		web_page_raw(&p, "\">");
		web_page_csrf(&p, csrf);
		web_page_raw(&p, "<button type=\"submit\" name=\"op\" value=\"send\" "
			     "class=\"hl\" id=\"zip-send\">");
		web_page_t(&p, WT_ZIP_SEND);
		web_page_raw(&p, "</button></form><p><small>");
		web_page_t(&p, WT_ZIP_ONCE);
		web_page_raw(&p, "</small></p>");
	} else if (row.state == OM_ZIP_SENT) {
		web_page_raw(&p, "<p class=\"note\">");
		web_page_t(&p, WT_ZIP_ALREADY_BODY);
		web_page_raw(&p, "</p>");
	} else if (gate != NULL) {
		web_page_raw(&p, "<p class=\"warn\" id=\"zip-gate\">");
		web_page_t(&p, strcmp(gate, "held") == 0 ? WT_ZIP_HELD_BODY :
			   WT_ZIP_CANCELLED_BODY);
		web_page_raw(&p, "</p>");
	}
	web_page_finish(&p, req, resp, 200);
	free(internal);
	free(csrf);
	web_zip_free(&row);
}

/* ---- POST /z/<token> ---- */

/* The page after the button: what was done, or why not. */
static void web_zip_result(struct web_request *req, struct web_response *resp,
			   const char *lang, enum om_hold_answer answer, const char *text)
{
	struct web_page p;
	unsigned int status = 200;
	enum web_text title = WT_DONE_TITLE, body = WT_ZIP_DONE;

	if (answer == OM_HOLD_ANSWER_STATE) {
		if (strcmp(text, "sent") == 0 || strcmp(text, "sending") == 0) {
			title = WT_ZIP_ALREADY_TITLE;
			body = WT_ZIP_ALREADY_BODY;
			status = 409;
		} else if (strcmp(text, "held") == 0) {
			title = WT_ERROR_TITLE;
			body = WT_ZIP_HELD_BODY;
			status = 409;
		} else if (strcmp(text, "cancelled") == 0) {
			title = WT_GONE_TITLE;
			body = WT_ZIP_CANCELLED_BODY;
			status = 410;
		} else {
			title = WT_GONE_TITLE;
			body = strcmp(text, "expired") == 0 ? WT_ZIP_EXPIRED_BODY :
				WT_ZIP_GONE_BODY;
			status = 410;
		}
	} else if (answer != OM_HOLD_ANSWER_DONE) {
		title = WT_ERROR_TITLE;
		body = WT_ERROR_BODY;
		status = 503;
	}
	web_page_begin_result(&p, req, lang, title, status, body);
	web_page_raw(&p, "</p>");
	web_page_link(&p, "", req->token, WT_ZIP_TITLE);
	web_page_finish(&p, req, resp, status);
}

void web_zip_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	enum om_hold_answer answer = OM_HOLD_ANSWER_NONE;
	struct om_store *store;
	struct web_zip row;
	const char *lang, *op;
	char *text = NULL, *error = NULL;
	int ret;

	store = web_link_store_for(req, OM_ZIP_TOKEN_ACTION, NULL, &claims, &lang, resp);
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox,
						    WEB_FORM_ZIP, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	if (op == NULL || strcmp(op, "send") != 0) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	/* the row must be this mailbox's (the token says so; the store too) */
	ret = web_zip_find(store, claims.mailbox, claims.message, &row);
	if (ret < 0) {
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (ret == 0) {
		web_zip_result(req, resp, lang, OM_HOLD_ANSWER_STATE, "none");
		return;
	}
	web_zip_free(&row);
	if (om_hold_request(req->server->config, OM_HOLD_OP_ZIP_PASSWORD, claims.message,
			    &answer, &text, &error) < 0) {
		om_log_error("client=%s mailbox=%s zip=%s: %s", req->address, claims.mailbox,
			     claims.message, error);
		free(error);
		answer = OM_HOLD_ANSWER_FAIL;
	}
	om_log_info("client=%s mailbox=%s zip=%s op=send answer=%d %s", req->address,
		    claims.mailbox, claims.message, (int)answer, text != NULL ? text : "");
	web_zip_result(req, resp, lang, answer, text != NULL ? text : "");
	free(text);
}
