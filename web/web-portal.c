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
#include "mail/mime.h"
#include "mail/sanitize.h"
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
	web_page_raw(p, "<button type=\"submit\" name=\"op\" value=\"code\" "
		     "id=\"portal-send-code\">");
	web_page_t(p, WT_PORTAL_SEND_CODE);
	web_page_raw(p, "</button></form><form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf_open);
	web_page_raw(p, "<label for=\"portal-code\">");
	web_page_t(p, WT_PORTAL_CODE);
	web_page_raw(p, "</label> <input type=\"text\" name=\"code\" id=\"portal-code\" "
		     "inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" "
		     "pattern=\"[0-9]{6}\"> <button type=\"submit\" name=\"op\" value=\"open\" "
		     "class=\"hl\" id=\"portal-open\">");
	web_page_t(p, WT_PORTAL_OPEN);
	web_page_raw(p, "</button></form>");
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
	csrf1 = web_link_csrf(req, recipient);
	csrf2 = web_link_csrf(req, recipient);
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
	const struct om_config *config = req->server->config;
	char *path = om_asprintf("%s/%s", config->portal_dir, w->id), *error = NULL;
	struct om_token_keys keys;
	int fd, ret, has;

	web_isolate_keys_get(req->server, &keys, &has);
	if (!has) {
		om_log_error("portal=%s: no isolation key (isolate_key_path)", w->id);
		web_keys_forget(&keys);
		free(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		om_log_error("portal=%s: %s: %s", w->id, path, strerror(errno));
		web_keys_forget(&keys);
		free(path);
		return -1;
	}
	ret = om_vault_read(fd, &keys, w->id, w->sealed, (size_t)w->size + 1, out, &error);
	web_keys_forget(&keys);
	close(fd);
	if (ret < 0) {
		om_log_error("portal=%s: %s: %s", w->id, path, error);
		free(error);
	}
	free(path);
	return ret;
}

/* The parsed message and its leaves. */
struct web_portal_msg {
	struct om_buf raw;
	struct om_mime_msg *mime;
	struct om_mime_leaf *leaves;
	size_t count;
};

static void web_portal_msg_free(struct web_portal_msg *m)
{
	if (m->leaves != NULL)
		om_mime_leaves_free(&m->leaves, m->count);
	om_mime_free(&m->mime);
	if (m->raw.data != NULL)
		explicit_bzero(m->raw.data, m->raw.len);
	om_buf_free(&m->raw);
}

static int web_portal_msg_open(const struct web_request *req, const struct web_portal *w,
			       struct web_portal_msg *m)
{
	char *error = NULL, *reason = NULL;

	memset(m, 0, sizeof(*m));
	om_buf_init(&m->raw);
	if (web_portal_read(req, w, &m->raw) < 0)
		return -1;
	m->mime = om_mime_parse(m->raw.data, m->raw.len, &error);
	if (m->mime == NULL) {
		om_log_error("portal=%s: %s", w->id, error);
		free(error);
		return -1;
	}
	if (om_mime_collect(m->mime, WEB_PORTAL_MAX_PARTS, WEB_PORTAL_MAX_DEPTH, &m->leaves,
			    &m->count, &reason) < 0) {
		free(reason);
		return -1;
	}
	free(reason);	/* a limit: what was collected is shown */
	return 0;
}

/* 1 when leaf is an attachment (not the readable body). */
static int web_portal_is_file(const struct om_mime_leaf *leaf)
{
	return !leaf->is_body || leaf->filename != NULL;
}

static int web_portal_is_body(const struct om_mime_leaf *leaf, const char *type)
{
	return !web_portal_is_file(leaf) && strcasecmp(leaf->content_type, type) == 0;
}

/* text escaped line by line (om_sanitize turns a line end into '?'). */
static void web_portal_text(struct web_page *p, const char *text)
{
	const char *end;
	char *line;

	while (*text != '\0') {
		end = strchr(text, '\n');
		line = om_strndup(text, end != NULL ? (size_t)(end - text) : strlen(text));
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

/* The text body escaped in a <pre>, else the HTML one sanitised. */
static void web_portal_body(struct web_page *p, struct web_portal_msg *m)
{
	struct om_buf data;
	char *error = NULL, *clean;
	size_t i;
	const char *kinds[] = { "text/plain", "text/html" };
	size_t k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < m->count; i++) {
			if (!web_portal_is_body(&m->leaves[i], kinds[k]))
				continue;
			om_buf_init(&data);
			if (om_mime_leaf_decode(&m->leaves[i], &data, &error) < 0) {
				free(error);
				error = NULL;
				om_buf_free(&data);
				continue;
			}
			om_buf_append(&data, "", 1);
			if (k == 0) {
				web_page_raw(p, "<pre class=\"card\" id=\"portal-text\" "
					     "style=\"white-space:pre-wrap\">");
				web_portal_text(p, data.data);
				web_page_raw(p, "</pre>");
			} else {
				clean = om_html_sanitize(data.data, data.len - 1);
				web_page_raw(p, "<p><small>");
				web_page_t(p, WT_PORTAL_HTML_NOTE);
				web_page_raw(p, "</small></p><div class=\"card\" id=\"portal-html\">");
				if (clean != NULL)
					web_page_raw(p, clean);
				web_page_raw(p, "</div>");
				free(clean);
			}
			explicit_bzero(data.data, data.len);
			om_buf_free(&data);
			return;
		}
	}
	web_page_raw(p, "<p id=\"portal-text\">");
	web_page_t(p, WT_PORTAL_NO_BODY);
	web_page_raw(p, "</p>");
}

/* The attachments, a download form each (op=file, n, the open token). */
static void web_portal_files(struct web_page *p, const struct web_request *req,
			     struct web_portal_msg *m, const char *open_token,
			     const char *recipient)
{
	char *csrf, n[24];
	size_t i, shown = 0;

	for (i = 0; i < m->count; i++) {
		if (!web_portal_is_file(&m->leaves[i]))
			continue;
		csrf = web_link_csrf((struct web_request *)req, recipient);
		if (csrf == NULL)
			continue;
		if (shown++ == 0) {
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
		web_page_esc(p, m->leaves[i].filename != NULL ? m->leaves[i].filename :
			     m->leaves[i].content_type, 250);
		web_page_raw(p, "</span> <button type=\"submit\" name=\"op\" value=\"file\" "
			     "class=\"portal-download\">");
		web_page_t(p, WT_PORTAL_DOWNLOAD);
		web_page_raw(p, "</button></form></li>");
		free(csrf);
	}
	if (shown > 0)
		web_page_raw(p, "</ul>");
}

static void web_portal_show_message(struct web_request *req, struct web_response *resp,
				    struct om_store *store, const char *recipient,
				    const struct web_portal *row)
{
	struct web_settings settings;
	struct web_portal_msg m;
	struct web_page p;
	char *open_token;

	web_page_mailbox(req, store, recipient, &settings);
	if (web_portal_msg_open(req, row, &m) < 0) {
		web_portal_msg_free(&m);
		web_page_unavailable(req, resp, settings.language);
		return;
	}
	open_token = web_link_make(req, recipient, WEB_PORTAL_OPEN_ACTION, row->id,
				   WEB_PORTAL_OPEN_SECONDS);
	web_portal_record(store, row->id, recipient, "view", (long long)req->now);
	om_log_info("client=%s portal=%s recipient=%s viewed", req->address, row->id,
		    recipient);
	web_page_begin(&p, req, settings.language, WT_PORTAL_TITLE);
	web_portal_details(&p, req, &settings, row);
	web_portal_body(&p, &m);
	if (open_token != NULL)
		web_portal_files(&p, req, &m, open_token, recipient);
	web_page_finish(&p, req, resp, 200);
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
	int ret, tries = 0;

	if (code == NULL || strlen(code) != 6 || strspn(code, "0123456789") != 6)
		code = "-";
	om_vault_code_hash(row->id, recipient, code, hash);
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
		web_portal_show_message(req, resp, store, recipient, row);
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

/* Content-Disposition: attachment, ASCII fallback and RFC 8187 name. */
static char *web_portal_disposition(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	struct om_buf b;
	const unsigned char *s;

	om_buf_init(&b);
	om_buf_append_str(&b, "attachment; filename=\"");
	for (s = (const unsigned char *)name; *s != '\0'; s++)
		om_buf_append(&b, *s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\' &&
			      *s != '%' && *s != ';' ? (const char *)s : "_", 1);
	om_buf_append_str(&b, "\"; filename*=UTF-8''");
	for (s = (const unsigned char *)name; *s != '\0'; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL) {
			om_buf_append(&b, (const char *)s, 1);
		} else {
			char esc[3] = { '%', hex[*s >> 4], hex[*s & 15] };

			om_buf_append(&b, esc, 3);
		}
	}
	return om_buf_steal(&b, NULL);
}

/* 1 when the form's open token stands for a right code of this
   recipient and message. */
static int web_portal_opened(struct web_request *req, const char *recipient,
			     const char *id)
{
	const char *token = web_form_get(&req->form, "open");
	struct om_token_claims c;
	struct om_token_keys keys;
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
	struct om_buf data;
	char *error = NULL, *what;
	const char *name;
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
	if ((size_t)n >= m.count || !web_portal_is_file(&m.leaves[n])) {
		web_portal_msg_free(&m);
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	om_buf_init(&data);
	if (om_mime_leaf_decode(&m.leaves[n], &data, &error) < 0) {
		om_log_error("portal=%s part %ld: %s", row->id, n, error);
		free(error);
		om_buf_free(&data);
		web_portal_msg_free(&m);
		web_page_unavailable(req, resp, lang);
		return;
	}
	name = m.leaves[n].filename != NULL ? m.leaves[n].filename : "attachment.bin";
	what = om_asprintf("file %s", name);
	web_portal_record(store, row->id, recipient, what, (long long)req->now);
	om_log_info("client=%s portal=%s recipient=%s downloaded part %ld (%zu bytes)",
		    req->address, row->id, recipient, n, data.len);
	free(what);
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->disposition = web_portal_disposition(name);
	resp->body = om_buf_steal(&data, &resp->len);
	web_portal_msg_free(&m);
}

void web_portal_act(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	struct web_portal row;
	const char *lang, *op;
	int ret;

	store = web_link_store_for(req, WEB_PORTAL_ACTION, NULL, &claims, &lang, resp);
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	if (op == NULL || (strcmp(op, "code") != 0 && strcmp(op, "open") != 0 &&
			   strcmp(op, "file") != 0)) {
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
	else
		web_portal_file(req, resp, store, claims.mailbox, &row, lang);
	web_portal_free(&row);
}
