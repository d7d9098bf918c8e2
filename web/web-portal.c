/* web-portal.c - the encrypted delivery portal's recipient page (issue 17,
 * seed 001's メール+添付ファイル暗号化; doc/portal.md): /p/<token>, the
 * portal notice's link (token action "portal", mailbox the external
 * recipient, message the portal id).
 *
 * GET shows who sent what until when, and two forms: "send me a
 * one-time code" and "open" with the code.  Every state change is a
 * POST with an unused CSRF value (web-link.c):
 *   op=code  asks omamori-filter (control socket, PORTALCODE) to mail a
 *            new 6-digit code, valid 10 minutes, to the recipient;
 *   op=open  checks the code against its hash in the store; five wrong
 *            or late answers lock the link for good; the right one
 *            decrypts the message (crypto/vault.h, the isolation key) and
 *            shows it: the text body escaped, else the HTML body
 *            sanitised with libxml2 (mail/sanitize.h: no script, no
 *            image, no style), the attachments with a download button
 *            each, whose form carries a "portal-open" token (30 minutes)
 *            that stands for the code;
 *   op=file  (that token, index) sends one attachment as a download.
 * Every view, download, code asked and wrong code is a portal_views row.
 * A revoked (key wiped) or expired message, a recipient not on the
 * message's list, a file that does not open: refused.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "web-html.h"
#include "crypto/vault.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/portal.h"
#include "quarantine/hold.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define WEB_PORTAL_ACTION "portal"
#define WEB_PORTAL_OPEN_ACTION "portal-open"
#define WEB_PORTAL_OPEN_SECONDS (30 * 60)
#define WEB_PORTAL_CODE_TRIES 5
#define WEB_PORTAL_MAX_PARTS 200
#define WEB_PORTAL_MAX_DEPTH 20

struct web_portal {
	int found, listed;
	char *id, *sender, *subject, *sealed;
	const char *recipient;
	long long size, expires;
};

static void web_portal_row_cb(void *context, const struct om_store_portal *p)
{
	struct web_portal *w = context;
	const char *line = p->recipients;
	size_t n = strlen(w->recipient);

	w->found = !p->revoked && *p->sealed != '\0';
	w->id = om_strdup(p->id);
	w->sender = om_strdup(p->sender);
	w->subject = om_strdup(p->subject);
	w->sealed = om_strdup(p->sealed);
	w->size = p->size;
	w->expires = p->expires;
	while (line != NULL && *line != '\0') {
		if (strncasecmp(line, w->recipient, n) == 0 && line[n] == '\n')
			w->listed = 1;
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
}

static void web_portal_free(struct web_portal *w)
{
	free(w->id);
	free(w->sender);
	free(w->subject);
	if (w->sealed != NULL)
		explicit_bzero(w->sealed, strlen(w->sealed));
	free(w->sealed);
	memset(w, 0, sizeof(*w));
}

/* The message id for recipient, when it can be opened: 1, 0 gone (revoked,
   expired, not this recipient's), -1 the store failed (logged). */
static int web_portal_find(const struct web_request *req, struct om_store *store,
			   const char *recipient, const char *id, struct web_portal *row)
{
	char *error = NULL;

	memset(row, 0, sizeof(*row));
	row->recipient = recipient;
	if (!om_vault_id_valid(id))
		return 0;
	if (om_store_portal_get(store, id, web_portal_row_cb, row, &error) < 0) {
		om_log_error("portal=%s store: %s", id, error);
		free(error);
		web_portal_free(row);
		return -1;
	}
	if (!row->found || !row->listed || row->expires <= (long long)req->now) {
		web_portal_free(row);
		return 0;
	}
	return 1;
}

static void web_portal_record(struct om_store *store, const char *id, const char *recipient,
			      const char *what, long long at)
{
	char *error = NULL;

	if (om_store_portal_view_add(store, id, recipient, what, at, &error) < 0) {
		om_log_error("portal=%s recording \"%s\": %s", id, what, error);
		free(error);
	}
}

static void web_portal_details(struct web_page *p, const struct web_request *req,
			       const struct web_settings *settings,
			       const struct web_portal *w)
{
	char date[64];

	web_page_raw(p, "<div class=\"card\" id=\"portal\"><dl>");
	web_page_dt(p, WT_PORTAL_SENDER);
	web_page_raw(p, "<span id=\"portal-sender\">");
	web_page_esc(p, w->sender, 254);
	web_page_raw(p, "</span></dd>");
	web_page_field(p, WT_PORTAL_SUBJECT, w->subject, WT_NO_SUBJECT);
	web_page_dt(p, WT_PORTAL_UNTIL);
	web_page_date(req, settings->timezone, (time_t)w->expires, p->lang, date,
		      sizeof(date));
	web_page_esc(p, date, 0);
	web_page_raw(p, "</dd></dl></div>");
}

/* The two forms: ask for a code, open with a code. */
static void web_portal_forms(struct web_page *p, const struct web_request *req,
			     const char *csrf_code, const char *csrf_open)
{
	web_page_raw(p, "<form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf_code);
	web_page_raw(p, "<p><button type=\"submit\" name=\"op\" value=\"code\" "
		     "id=\"portal-send-code\">");
	web_page_t(p, WT_PORTAL_SEND_CODE);
	web_page_raw(p, "</button></p></form><form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf_open);
	web_page_raw(p, "<p><label for=\"portal-code\">");
	web_page_t(p, WT_PORTAL_CODE);
	web_page_raw(p, "</label> <input type=\"text\" name=\"code\" id=\"portal-code\" "
		     "inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" "
		     "pattern=\"[0-9]{6}\"> <button type=\"submit\" name=\"op\" value=\"open\" "
		     "class=\"hl\" id=\"portal-open\">");
	web_page_t(p, WT_PORTAL_OPEN);
	web_page_raw(p, "</button></p></form>");
}

/* The page with its forms, after note (a text id, or WT_COUNT for none,
   a warning when warn). */
static void web_portal_page(struct web_request *req, struct web_response *resp,
			    struct om_store *store, const char *recipient,
			    const struct web_portal *row, enum web_text note, int warn,
			    unsigned int status)
{
	struct web_settings settings;
	struct web_page p;
	char *csrf1, *csrf2;

	web_page_mailbox(req, store, recipient, &settings);
	csrf1 = web_link_csrf(req, recipient, WEB_FORM_PORTAL);
	csrf2 = web_link_csrf(req, recipient, WEB_FORM_PORTAL);
	if (csrf1 == NULL || csrf2 == NULL) {
		free(csrf1);
		free(csrf2);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	web_page_begin_intro(&p, req, settings.language, WT_PORTAL_TITLE, WT_PORTAL_INTRO);
	if (note != WT_COUNT) {
		web_page_raw(&p, warn ? "<p class=\"warn\" id=\"result\">" :
			     "<p class=\"note\" id=\"result\">");
		web_page_t(&p, note);
		web_page_raw(&p, "</p>");
	}
	web_portal_details(&p, req, &settings, row);
	web_portal_forms(&p, req, csrf1, csrf2);
	web_page_finish(&p, req, resp, status);
	free(csrf1);
	free(csrf2);
}

/* ---- GET /p/<token> ---- */

void web_portal_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_settings settings;
	struct om_store *store;
	struct web_portal row;
	int ret;

	if (!web_link_check(req, WEB_PORTAL_ACTION, &claims, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	if (store == NULL)
		return;
	ret = web_portal_find(req, store, claims.mailbox, claims.message, &row);
	if (!web_page_found(req, resp, settings.language, ret, WT_PORTAL_GONE_BODY))
		return;
	web_portal_page(req, resp, store, claims.mailbox, &row, WT_COUNT, 0, 200);
	web_portal_free(&row);
}

/* ---- the message, decrypted ---- */

/* The message's bytes; 0, or -1 (logged). */
static int web_portal_read(const struct web_request *req, const struct web_portal *w,
			   struct om_buf *out)
{
	return web_vault_file_read(req->server, req->server->config->portal_dir, "portal",
				   w->id, w->sealed, (size_t)w->size, out);
}

/* The message's pack (quarantine/portal.h), decrypted. */
struct web_portal_msg {
	struct om_buf raw;
};

static void web_portal_msg_free(struct web_portal_msg *m)
{
	if (m->raw.data != NULL)
		explicit_bzero(m->raw.data, m->raw.len);
	om_buf_free(&m->raw);
}

static int web_portal_msg_open(const struct web_request *req, const struct web_portal *w,
			       struct web_portal_msg *m)
{
	memset(m, 0, sizeof(*m));
	om_buf_init(&m->raw);
	return web_portal_read(req, w, &m->raw);
}

/* The n-th part of kind (0 the first): 1, 0 none, -1 malformed. */
static int web_portal_part(const struct web_portal_msg *m, char kind, size_t n,
			   struct om_portal_part *part)
{
	size_t pos = 0, seen = 0;
	int ret;

	while ((ret = om_portal_next(m->raw.data, m->raw.len, &pos, part)) == 1) {
		if (part->kind == kind && seen++ == n)
			return 1;
	}
	return ret;
}

/* text escaped line by line (om_sanitize turns a line end into '?'). */
static void web_portal_text(struct web_page *p, const char *text, size_t len)
{
	const char *end, *stop = text + len;
	char *line;

	while (text < stop) {
		end = memchr(text, '\n', (size_t)(stop - text));
		line = om_strndup(text, end != NULL ? (size_t)(end - text) : (size_t)(stop - text));
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		web_html_esc(&p->buf, line, 64 * 1024);
		om_buf_append_str(&p->buf, "\n");
		free(line);
		if (end == NULL)
			break;
		text = end + 1;
	}
}

/* The "show images" form (op=images, the open token): the page again
   with the HTML body's remote images. */
static void web_portal_images_form(struct web_page *p, struct web_request *req,
				   const char *open_token, const char *recipient)
{
	char *csrf = web_link_csrf(req, recipient, WEB_FORM_PORTAL);

	if (csrf == NULL || open_token == NULL) {
		free(csrf);
		return;
	}
	web_page_raw(p, "<form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf);
	web_page_raw(p, "<input type=\"hidden\" name=\"open\" value=\"");
	web_page_esc(p, open_token, 0);
	web_page_raw(p, "\"><button type=\"submit\" name=\"op\" value=\"images\" "
		     "id=\"portal-show-images\">");
	web_page_t(p, WT_PORTAL_SHOW_IMAGES);
	web_page_raw(p, "</button></form>");
	free(csrf);
}

/* The text body escaped in a <pre>, else the HTML one (sanitised by
   omamori-filter when it kept the message: mail/sanitize.h): without
   images, with a "show images" button when it has remote ones; with
   images (asked), the version that keeps them (*images_shown_r 1). */
static void web_portal_body(struct web_page *p, struct web_request *req,
			    struct web_portal_msg *m, int images, const char *open_token,
			    const char *recipient, int *images_shown_r)
{
	struct om_portal_part part, with_images;
	char *html;
	int has_images;

	*images_shown_r = 0;
	if (web_portal_part(m, OM_PORTAL_TEXT, 0, &part) == 1) {
		web_page_raw(p, "<pre class=\"card\" id=\"portal-text\" "
			     "style=\"white-space:pre-wrap\">");
		web_portal_text(p, part.data, part.len);
		web_page_raw(p, "</pre>");
	} else if (web_portal_part(m, OM_PORTAL_HTML, 0, &part) == 1) {
		has_images = web_portal_part(m, OM_PORTAL_HTML_IMAGES, 0, &with_images) == 1;
		if (images && has_images) {
			part = with_images;
			*images_shown_r = 1;
		}
		html = om_strndup(part.data, part.len);
		web_page_raw(p, "<p><small>");
		web_page_t(p, *images_shown_r ? WT_PORTAL_IMAGES_NOTE : WT_PORTAL_HTML_NOTE);
		web_page_raw(p, "</small></p>");
		if (has_images && !*images_shown_r)
			web_portal_images_form(p, req, open_token, recipient);
		web_page_raw(p, "<div class=\"card\" id=\"portal-html\">");
		web_page_raw(p, html);
		web_page_raw(p, "</div>");
		free(html);
	} else {
		web_page_raw(p, "<p id=\"portal-text\">");
		web_page_t(p, WT_PORTAL_NO_BODY);
		web_page_raw(p, "</p>");
	}
}

/* The attachments, a download form each (op=file, n, the open token). */
static void web_portal_files(struct web_page *p, const struct web_request *req,
			     struct web_portal_msg *m, const char *open_token,
			     const char *recipient)
{
	struct om_portal_part part;
	char *csrf, *name, n[24];
	size_t i;

	for (i = 0; i < WEB_PORTAL_MAX_PARTS &&
		     web_portal_part(m, OM_PORTAL_FILE, i, &part) == 1; i++) {
		csrf = web_link_csrf((struct web_request *)req, recipient,
				     WEB_FORM_PORTAL);
		if (csrf == NULL)
			break;
		if (i == 0) {
			web_page_raw(p, "<h2>");
			web_page_t(p, WT_PORTAL_ATTACHMENTS);
			web_page_raw(p, "</h2><ul id=\"portal-files\">");
		}
		web_page_raw(p, "<li><form method=\"post\" action=\"");
		web_page_esc(p, req->token, 0);
		web_page_raw(p, "\">");
		web_page_csrf(p, csrf);
		(void)snprintf(n, sizeof(n), "%zu", i);
		web_page_raw(p, "<input type=\"hidden\" name=\"n\" value=\"");
		web_page_raw(p, n);
		web_page_raw(p, "\"><input type=\"hidden\" name=\"open\" value=\"");
		web_page_esc(p, open_token, 0);
		web_page_raw(p, "\"><span class=\"portal-file\">");
		name = om_strndup(part.name, part.name_len);
		web_page_esc(p, name, 250);
		free(name);
		web_page_raw(p, "</span> <button type=\"submit\" name=\"op\" value=\"file\" "
			     "class=\"portal-download\">");
		web_page_t(p, WT_PORTAL_DOWNLOAD);
		web_page_raw(p, "</button></form></li>");
		free(csrf);
	}
	if (i > 0)
		web_page_raw(p, "</ul>");
}

/* The CSP of a page showing remote images the reader asked for. */
static const char web_portal_images_csp[] =
	"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: http:; "
	"form-action 'self'; frame-ancestors 'none'";

static void web_portal_show_message(struct web_request *req, struct web_response *resp,
				    struct om_store *store, const char *recipient,
				    const struct web_portal *row, int images)
{
	struct web_settings settings;
	struct web_portal_msg m;
	struct web_page p;
	char *open_token;
	int images_shown;

	web_page_mailbox(req, store, recipient, &settings);
	if (web_portal_msg_open(req, row, &m) < 0) {
		web_portal_msg_free(&m);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	open_token = web_link_make(req, recipient, WEB_PORTAL_OPEN_ACTION, row->id,
				   WEB_PORTAL_OPEN_SECONDS);
	web_page_begin(&p, req, settings.language, WT_PORTAL_TITLE);
	web_portal_details(&p, req, &settings, row);
	web_portal_body(&p, req, &m, images, open_token, recipient, &images_shown);
	web_portal_record(store, row->id, recipient, images_shown ? "view images" : "view",
			  (long long)req->now);
	om_log_info("client=%s portal=%s recipient=%s viewed%s", req->address, row->id,
		    recipient, images_shown ? " with images" : "");
	if (open_token != NULL)
		web_portal_files(&p, req, &m, open_token, recipient);
	web_page_finish(&p, req, resp, 200);
	if (images_shown)
		resp->csp = web_portal_images_csp;
	free(open_token);
	web_portal_msg_free(&m);
}

/* ---- POST /p/<token> ---- */

static void web_portal_ask_code(struct web_request *req, struct web_response *resp,
				struct om_store *store, const char *recipient,
				const struct web_portal *row, const char *lang)
{
	enum om_hold_answer answer = OM_HOLD_ANSWER_NONE;
	char *text = NULL, *error = NULL;

	if (om_hold_portal_code(req->server->config, row->id, recipient, &answer, &text,
				&error) < 0) {
		om_log_error("portal=%s code: %s", row->id, error);
		free(error);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (answer == OM_HOLD_ANSWER_DONE)
		web_portal_page(req, resp, store, recipient, row, WT_PORTAL_CODE_SENT, 0, 200);
	else if (answer == OM_HOLD_ANSWER_STATE && text != NULL && strcmp(text, "locked") == 0)
		web_page_message(req, resp, 403, lang, WT_PORTAL_TITLE, WT_PORTAL_LOCKED, 0);
	else if (answer == OM_HOLD_ANSWER_STATE)
		web_page_message(req, resp, 410, lang, WT_GONE_TITLE, WT_PORTAL_GONE_BODY, 0);
	else
		web_page_unavailable(req, resp, lang);
	free(text);
}

static void web_portal_open(struct web_request *req, struct web_response *resp,
			    struct om_store *store, const char *recipient,
			    const struct web_portal *row, const char *lang)
{
	const char *code = web_form_get(&req->form, "code");
	char hash[OM_VAULT_CODE_HASH_LEN + 1], *error = NULL;
	unsigned char key[OM_VAULT_CODE_KEY_LEN];
	struct om_link_keys keys;
	int ret, tries = 0;

	if (code == NULL || strlen(code) != 6 || strspn(code, "0123456789") != 6)
		code = "-";
	web_keys_get(req->server, &keys);
	ret = om_vault_code_key(&keys, key);
	web_keys_forget(&keys);
	if (ret < 0) {
		om_log_error("portal %s: no outbound link key: no code can be checked", row->id);
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return;
	}
	om_vault_code_hash(key, row->id, recipient, code, hash);
	explicit_bzero(key, sizeof(key));
	ret = om_store_portal_code_check(store, row->id, recipient, hash,
					 (long long)req->now, WEB_PORTAL_CODE_TRIES, &tries,
					 &error);
	if (ret < 0) {
		om_log_error("portal=%s code check: %s", row->id, error);
		free(error);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (ret == OM_STORE_CODE_OK) {
		web_portal_show_message(req, resp, store, recipient, row, 0);
		return;
	}
	om_log_info("client=%s portal=%s recipient=%s wrong code (%d)%s", req->address,
		    row->id, recipient, tries, ret == OM_STORE_CODE_LOCKED ? ": locked" : "");
	web_portal_record(store, row->id, recipient,
			  ret == OM_STORE_CODE_LOCKED ? "locked" : "code wrong",
			  (long long)req->now);
	if (ret == OM_STORE_CODE_LOCKED)
		web_page_message(req, resp, 403, lang, WT_PORTAL_TITLE, WT_PORTAL_LOCKED, 0);
	else
		web_portal_page(req, resp, store, recipient, row, WT_PORTAL_CODE_WRONG, 1, 403);
}

/* 1 when the form's open token stands for a right code of this
   recipient and message. */
static int web_portal_opened(struct web_request *req, const char *recipient,
			     const char *id)
{
	const char *token = web_form_get(&req->form, "open");
	struct om_token_claims c;
	struct om_link_keys keys;
	enum om_token_result r;

	if (token == NULL)
		return 0;
	web_keys_get(req->server, &keys);
	r = om_token_check(&keys, token, req->now, &c);
	web_keys_forget(&keys);
	return r == OM_TOKEN_OK && strcmp(c.action, WEB_PORTAL_OPEN_ACTION) == 0 &&
		strcmp(c.mailbox, recipient) == 0 && strcmp(c.message, id) == 0;
}

static void web_portal_file(struct web_request *req, struct web_response *resp,
			    struct om_store *store, const char *recipient,
			    const struct web_portal *row, const char *lang)
{
	const char *n_text = web_form_get(&req->form, "n");
	struct web_portal_msg m;
	struct om_portal_part part;
	char *what, *name;
	long n;

	if (!web_portal_opened(req, recipient, row->id)) {
		web_page_message(req, resp, 403, lang, WT_PORTAL_TITLE, WT_PORTAL_CODE_WRONG, 0);
		return;
	}
	if (n_text == NULL || om_parse_long(n_text, 0, WEB_PORTAL_MAX_PARTS, &n) < 0) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	if (web_portal_msg_open(req, row, &m) < 0) {
		web_portal_msg_free(&m);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (web_portal_part(&m, OM_PORTAL_FILE, (size_t)n, &part) != 1) {
		web_portal_msg_free(&m);
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	name = om_strndup(part.name, part.name_len);
	what = om_asprintf("file %s", name);
	web_portal_record(store, row->id, recipient, what, (long long)req->now);
	om_log_info("client=%s portal=%s recipient=%s downloaded part %ld (%zu bytes)",
		    req->address, row->id, recipient, n, part.len);
	free(what);
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->disposition = web_attachment_disposition(name);
	resp->body = om_malloc(part.len + 1);
	memcpy(resp->body, part.data, part.len);
	resp->len = part.len;
	free(name);
	web_portal_msg_free(&m);
}

/* op=images: the message again, its remote images shown (the open token
   stands for the right code; still sanitised; recorded "view images"). */
static void web_portal_images(struct web_request *req, struct web_response *resp,
			      struct om_store *store, const char *recipient,
			      const struct web_portal *row, const char *lang)
{
	if (!web_portal_opened(req, recipient, row->id)) {
		web_page_message(req, resp, 403, lang, WT_PORTAL_TITLE, WT_PORTAL_CODE_WRONG, 0);
		return;
	}
	web_portal_show_message(req, resp, store, recipient, row, 1);
}

void web_portal_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	struct web_portal row;
	const char *lang, *op;
	int ret;

	store = web_link_store_for(req, WEB_PORTAL_ACTION, NULL, &claims, &lang, resp);
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox,
						    WEB_FORM_PORTAL, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	if (op == NULL || (strcmp(op, "code") != 0 && strcmp(op, "open") != 0 &&
			   strcmp(op, "file") != 0 && strcmp(op, "images") != 0)) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	ret = web_portal_find(req, store, claims.mailbox, claims.message, &row);
	if (!web_page_found(req, resp, lang, ret, WT_PORTAL_GONE_BODY))
		return;
	if (strcmp(op, "code") == 0)
		web_portal_ask_code(req, resp, store, claims.mailbox, &row, lang);
	else if (strcmp(op, "open") == 0)
		web_portal_open(req, resp, store, claims.mailbox, &row, lang);
	else if (strcmp(op, "images") == 0)
		web_portal_images(req, resp, store, claims.mailbox, &row, lang);
	else
		web_portal_file(req, resp, store, claims.mailbox, &row, lang);
	web_portal_free(&row);
}

/* ---- /ps/<token>: the sender's page (action "portal-sender") ---- */

#define WEB_PORTAL_SENDER_ACTION "portal-sender"
#define WEB_PORTAL_SENDER_MAX 200	/* messages listed */

/* One of the sender's messages, copied out of the callback. */
struct web_portal_sent {
	char *id, *subject, *recipients;
	long long created, expires;
	int revoked;
};

struct web_portal_sent_list {
	struct web_portal_sent *items;
	size_t count;
};

static void web_portal_sent_cb(void *context, const struct om_store_portal *p)
{
	struct web_portal_sent_list *l = context;
	struct web_portal_sent *s;

	if (l->count >= WEB_PORTAL_SENDER_MAX)
		return;
	l->items = om_realloc(l->items, (l->count + 1) * sizeof(*l->items));
	s = &l->items[l->count++];
	s->id = om_strdup(p->id);
	s->subject = om_strdup(p->subject);
	s->recipients = om_strdup(p->recipients);
	s->created = p->created;
	s->expires = p->expires;
	s->revoked = p->revoked || *p->sealed == '\0';
}

static void web_portal_sent_free(struct web_portal_sent_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++) {
		free(l->items[i].id);
		free(l->items[i].subject);
		free(l->items[i].recipients);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

struct web_portal_views_ctx {
	struct web_page *p;
	const struct web_request *req;
	const struct web_settings *settings;
	size_t n;
};

static void web_portal_view_cb(void *context, const char *recipient, const char *what,
			       long long at)
{
	struct web_portal_views_ctx *c = context;
	char date[64];

	if (c->n++ == 0)
		web_page_raw(c->p, "<ul class=\"portal-views\">");
	web_page_date(c->req, c->settings->timezone, (time_t)at, c->p->lang, date,
		      sizeof(date));
	web_page_raw(c->p, "<li>");
	web_page_esc(c->p, date, 0);
	web_page_raw(c->p, " ");
	web_page_esc(c->p, recipient, 254);
	web_page_raw(c->p, ": ");
	web_page_esc(c->p, what, 300);
	web_page_raw(c->p, "</li>");
}

static void web_portal_sent_forms(struct web_page *p, const struct web_request *req,
				  const char *sender, const struct web_portal_sent *s)
{
	char *csrf1 = web_link_csrf((struct web_request *)req, sender,
				    WEB_FORM_PORTAL_SENDER);
	char *csrf2 = web_link_csrf((struct web_request *)req, sender,
				    WEB_FORM_PORTAL_SENDER);

	if (csrf1 != NULL && csrf2 != NULL) {
		web_page_raw(p, "<form method=\"post\" action=\"");
		web_page_esc(p, req->token, 0);
		web_page_raw(p, "\">");
		web_page_csrf(p, csrf1);
		web_page_raw(p, "<input type=\"hidden\" name=\"id\" value=\"");
		web_page_esc(p, s->id, 0);
		web_page_raw(p, "\"><button type=\"submit\" name=\"op\" value=\"revoke\" "
			     "class=\"portal-revoke\">");
		web_page_t(p, WT_PORTAL_REVOKE);
		web_page_raw(p, "</button></form><form method=\"post\" action=\"");
		web_page_esc(p, req->token, 0);
		web_page_raw(p, "\">");
		web_page_csrf(p, csrf2);
		web_page_raw(p, "<input type=\"hidden\" name=\"id\" value=\"");
		web_page_esc(p, s->id, 0);
		web_page_raw(p, "\"><label>");
		web_page_t(p, WT_PORTAL_EXPIRY_DAYS);
		web_page_raw(p, " <input type=\"number\" name=\"days\" min=\"1\" max=\"365\" "
			     "value=\"7\" class=\"portal-days\"></label> <button type=\"submit\" "
			     "name=\"op\" value=\"expiry\" class=\"portal-expiry\">");
		web_page_t(p, WT_PORTAL_SET_EXPIRY);
		web_page_raw(p, "</button></form>");
	}
	free(csrf1);
	free(csrf2);
}

static void web_portal_sent_item(struct web_page *p, const struct web_request *req,
				 struct om_store *store, const struct web_settings *settings,
				 const char *sender, const struct web_portal_sent *s)
{
	struct web_portal_views_ctx c = { p, req, settings, 0 };
	char date[64], *error = NULL;

	web_page_raw(p, "<div class=\"card portal-sent\" id=\"sent-");
	web_page_esc(p, s->id, 0);
	web_page_raw(p, "\"><dl>");
	web_page_field(p, WT_PORTAL_SUBJECT, s->subject, WT_NO_SUBJECT);
	web_page_field(p, WT_PORTAL_RECIPIENTS, s->recipients, WT_NO_SUBJECT);
	web_page_dt(p, WT_PORTAL_UNTIL);
	web_page_raw(p, "<span class=\"portal-until\">");
	if (s->revoked) {
		web_page_t(p, WT_PORTAL_REVOKED);
	} else {
		web_page_date(req, settings->timezone, (time_t)s->expires, p->lang, date,
			      sizeof(date));
		web_page_esc(p, date, 0);
	}
	web_page_raw(p, "</span></dd>");
	web_page_dt(p, WT_PORTAL_HISTORY);
	if (om_store_portal_views(store, s->id, web_portal_view_cb, &c, &error) < 0) {
		om_log_error("portal=%s views: %s", s->id, error);
		free(error);
	}
	if (c.n == 0)
		web_page_t(p, WT_PORTAL_NOT_OPENED);
	else
		web_page_raw(p, "</ul>");
	web_page_raw(p, "</dd></dl>");
	if (!s->revoked)
		web_portal_sent_forms(p, req, sender, s);
	web_page_raw(p, "</div>");
}

static void web_portal_sent_page(struct web_request *req, struct web_response *resp,
				 struct om_store *store, const char *sender,
				 enum web_text note)
{
	struct web_portal_sent_list l = { NULL, 0 };
	struct web_settings settings;
	struct web_page p;
	char *error = NULL;
	size_t i;

	web_page_mailbox(req, store, sender, &settings);
	if (om_store_portal_by_sender(store, sender, web_portal_sent_cb, &l, &error) < 0) {
		om_log_error("portal sender=%s: %s", sender, error);
		free(error);
		web_portal_sent_free(&l);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	web_page_begin_intro(&p, req, settings.language, WT_PORTAL_SENT_TITLE,
			     WT_PORTAL_SENT_INTRO);
	if (note != WT_COUNT) {
		web_page_raw(&p, "<p class=\"note\" id=\"result\">");
		web_page_t(&p, note);
		web_page_raw(&p, "</p>");
	}
	if (l.count == 0) {
		web_page_raw(&p, "<p>");
		web_page_t(&p, WT_PORTAL_SENT_EMPTY);
		web_page_raw(&p, "</p>");
	}
	for (i = 0; i < l.count; i++)
		web_portal_sent_item(&p, req, store, &settings, sender, &l.items[i]);
	web_page_finish(&p, req, resp, 200);
	web_portal_sent_free(&l);
}

void web_portal_sender_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_settings settings;
	struct om_store *store;

	if (!web_link_check(req, WEB_PORTAL_SENDER_ACTION, &claims, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	if (store == NULL)
		return;
	web_portal_sent_page(req, resp, store, claims.mailbox, WT_COUNT);
}

struct web_portal_owner {
	int found;
	char *sender;
};

static void web_portal_owner_cb(void *context, const struct om_store_portal *p)
{
	struct web_portal_owner *o = context;

	o->found = 1;
	o->sender = om_strdup(p->sender);
}

void web_portal_sender_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_portal_owner owner = { 0, NULL };
	struct om_store *store;
	const char *lang, *op, *id, *days_text;
	char *error = NULL;
	long days = 0;
	int ret;

	store = web_link_store_for(req, WEB_PORTAL_SENDER_ACTION, NULL, &claims, &lang, resp);
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox,
						    WEB_FORM_PORTAL_SENDER, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	id = web_form_get(&req->form, "id");
	days_text = web_form_get(&req->form, "days");
	if (op == NULL || id == NULL || !om_vault_id_valid(id) ||
	    (strcmp(op, "revoke") != 0 && strcmp(op, "expiry") != 0) ||
	    (strcmp(op, "expiry") == 0 &&
	     (days_text == NULL || om_parse_long(days_text, 1, 365, &days) < 0))) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	/* only the sender's own message */
	if (om_store_portal_get(store, id, web_portal_owner_cb, &owner, &error) < 0) {
		om_log_error("portal=%s: %s", id, error);
		free(error);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (!owner.found || strcmp(owner.sender, claims.mailbox) != 0) {
		free(owner.sender);
		web_page_message(req, resp, 410, lang, WT_GONE_TITLE, WT_PORTAL_GONE_BODY, 0);
		return;
	}
	free(owner.sender);
	ret = strcmp(op, "revoke") == 0 ? om_store_portal_revoke(store, id, &error) :
		om_store_portal_set_expires(store, id, (long long)req->now + days * 86400,
					    &error);
	if (ret < 0) {
		om_log_error("portal=%s %s: %s", id, op, error);
		free(error);
		web_page_unavailable(req, resp, lang);
		return;
	}
	om_log_info("client=%s portal=%s sender=%s %s%s", req->address, id, claims.mailbox, op,
		    ret == 0 ? " (nothing changed)" : "");
	web_portal_sent_page(req, resp, store, claims.mailbox,
			     strcmp(op, "revoke") == 0 ? WT_PORTAL_DONE_REVOKE :
			     WT_PORTAL_DONE_EXPIRY);
}
