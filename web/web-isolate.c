/* web-isolate.c - an isolated attachment's page (issue 16, seed 004's
 * 添付ファイル分離と安全確認; doc/attachments.md "Isolation"): /f/<token>,
 * the isolation notice's link (token action "isolated", message the
 * file's id, mailbox the recipient).
 *
 * The page shows the store's isolated_files row: name, size, what the
 * content really is, the findings with their plain-language reasons,
 * the virus scan's result, why it was isolated, until when it is kept.
 * It offers "download" only when no finding remains and the scan says
 * clean, and "download the original" of a file with findings only when
 * the domain's attachment-isolate-original is on; "download with macros
 * removed" when scand kept a clean macro-free copy of an Office document
 * beside it (unmacro.h: its id derived from the original's, vault.h), and
 * a note that an old-format (OLE) document's macros cannot be removed.
 * A download is a POST
 * with an unused CSRF value (web-link.c): the file's bytes are never
 * behind a URL a proxy log, a browser history or a link preview could
 * replay, and each download is one deliberate press on the recipient's
 * own page; the answer is Content-Disposition: attachment, as
 * application/octet-stream (nosniff), so the browser saves it and never
 * renders it.  The file is opened here with the isolation key
 * (crypto/vault.h); a row that is another mailbox's, past its expiry, or a
 * file that does not open is refused.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "crypto/vault.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/settings.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One isolated file's row, copied out of the callback. */
struct web_iso {
	int found;
	char *mailbox, *name, *true_type, *findings, *scan, *why, *sealed, *id;
	char *received;
	long long size, created, expires;
};

static void web_iso_row_cb(void *context, const struct om_store_isolated *f)
{
	struct web_iso *w = context;

	w->found = 1;
	w->id = om_strdup(f->id);
	w->mailbox = om_strdup(f->mailbox);
	w->name = om_strdup(f->name);
	w->true_type = om_strdup(f->true_type);
	w->findings = om_strdup(f->findings);
	w->scan = om_strdup(f->scan);
	w->why = om_strdup(f->why);
	w->received = om_strdup(f->received != NULL ? f->received : "");
	w->sealed = om_strdup(f->sealed);
	w->size = f->size;
	w->created = f->created;
	w->expires = f->expires;
}

static void web_iso_free(struct web_iso *w)
{
	free(w->id);
	free(w->mailbox);
	free(w->name);
	free(w->true_type);
	free(w->findings);
	free(w->scan);
	free(w->why);
	free(w->received);
	if (w->sealed != NULL)
		explicit_bzero(w->sealed, strlen(w->sealed));
	free(w->sealed);
	memset(w, 0, sizeof(*w));
}

/* The row of id if it is mailbox's and not past its expiry: 1, 0 none
   (another's, expired), -1 the store failed (logged). */
static int web_iso_find(const struct web_request *req, struct om_store *store,
			const char *mailbox, const char *id, struct web_iso *row)
{
	char *error = NULL;

	memset(row, 0, sizeof(*row));
	if (!om_vault_id_valid(id))
		return 0;
	if (om_store_isolated_get(store, id, web_iso_row_cb, row, &error) < 0) {
		om_log_error("mailbox=%s isolated=%s store: %s", mailbox, id, error);
		free(error);
		return -1;
	}
	if (!row->found || strcmp(row->mailbox, mailbox) != 0 ||
	    row->expires <= (long long)req->now) {
		web_iso_free(row);
		return 0;
	}
	return 1;
}

/* 1 when the plain download is offered: nothing found, scanned clean. */
static int web_iso_safe(const struct web_iso *w)
{
	return w->findings[0] == '\0' && strcmp(w->scan, "clean") == 0;
}

/* 1 when the domain lets its users download the original of a file with
   findings (attachment-isolate-original; off when unreadable). */
static int web_iso_original_allowed(struct om_store *store, const char *mailbox)
{
	char *error = NULL;
	char *value = om_settings_domain_value(store, mailbox,
					       OM_SETTING_ATTACHMENT_ISOLATE_ORIGINAL,
					       "off", &error);
	int on = value != NULL && strcmp(value, "on") == 0;

	free(value);
	free(error);
	return on;
}

/* The macro-free copy of w (scand made it at isolation: unmacro.h), if
   there is one for the same mailbox, clean and not expired: 1 and its
   row in copy, 0 none, -1 the store failed. */
static int web_iso_unmacro(const struct web_request *req, struct om_store *store,
			   const struct web_iso *w, struct web_iso *copy)
{
	char cid[OM_VAULT_NEW_ID_LEN + 1];
	int ret;

	memset(copy, 0, sizeof(*copy));
	if (strstr(w->findings, "ATT_MACRO") == NULL ||
	    om_vault_derived_id(w->id, "unmacro", cid) < 0)
		return 0;
	ret = web_iso_find(req, store, w->mailbox, cid, copy);
	if (ret == 1 && (strcmp(copy->why, "unmacro") != 0 || !web_iso_safe(copy))) {
		web_iso_free(copy);
		return 0;
	}
	return ret;
}

/* 1 for an old-format (OLE) Office document with macros: no copy
   without them can be made (no Debian library rewrites the file). */
static int web_iso_ole_macros(const struct web_iso *w)
{
	static const char *const ole[] = {
		"ole", "application/msword", "application/vnd.ms-excel",
		"application/vnd.ms-powerpoint", "application/cdfv2",
		"application/x-ole-storage", NULL
	};
	size_t i;

	if (strstr(w->findings, "ATT_MACRO") == NULL)
		return 0;
	for (i = 0; ole[i] != NULL; i++) {
		if (strcmp(w->true_type, ole[i]) == 0)
			return 1;
	}
	return 0;
}

/* The word of the table below a MIME type libmagic gave falls under
   ("program", "pdf"...), or NULL. */
static const char *web_iso_mime_word(const char *mime)
{
	static const struct { const char *prefix, *word; } mimes[] = {
		{ "application/x-dosexec", "program" },
		{ "application/x-msdownload", "program" },
		{ "application/vnd.microsoft.portable-executable", "program" },
		{ "application/x-executable", "program" },
		{ "application/x-pie-executable", "program" },
		{ "application/x-sharedlib", "program" },
		{ "application/x-mach-binary", "program" },
		{ "application/x-ms-shortcut", "shortcut" },
		{ "application/x-msi", "program" },
		{ "application/vnd.openxmlformats-officedocument.", "office" },
		{ "application/vnd.ms-", "office" }, { "application/msword", "office" },
		{ "application/cdfv2", "ole" }, { "application/x-ole-storage", "ole" },
		{ "application/zip", "zip" }, { "application/pdf", "pdf" },
		{ "application/x-rar", "rar" }, { "application/vnd.rar", "rar" },
		{ "application/x-7z-compressed", "7z" }, { "application/gzip", "gzip" },
		{ "image/png", "png" }, { "image/jpeg", "jpeg" }, { "image/gif", "gif" },
		{ "text/html", "html" }, { "text/", "text" },
		{ "application/x-empty", "empty" },
	};
	size_t i;

	for (i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++) {
		if (strncmp(mime, mimes[i].prefix, strlen(mimes[i].prefix)) == 0)
			return mimes[i].word;
	}
	return NULL;
}

/* What the true type means, in lang: the row holds libmagic's MIME type
   (or, for files isolated before it, the analysis's word). */
static const char *web_iso_type_text(const char *type, const char *lang)
{
	static const struct { const char *word, *ja, *en; } types[] = {
		{ "program", "プログラム（実行ファイル）", "a program (executable)" },
		{ "shortcut", "Windows のショートカット（プログラムを起動します）",
		  "a Windows shortcut (it starts a program)" },
		{ "zip", "ZIP 形式（圧縮ファイル、Office 文書など）",
		  "ZIP (an archive, an Office document...)" },
		{ "office", "Office 文書", "an Office document" },
		{ "ole", "Office 文書（旧形式）", "an Office document (old format)" },
		{ "pdf", "PDF 文書", "a PDF document" },
		{ "rar", "RAR 圧縮ファイル", "a RAR archive" },
		{ "7z", "7z 圧縮ファイル", "a 7z archive" },
		{ "gzip", "gzip 圧縮ファイル", "a gzip file" },
		{ "png", "PNG 画像", "a PNG image" },
		{ "jpeg", "JPEG 画像", "a JPEG image" },
		{ "gif", "GIF 画像", "a GIF image" },
		{ "html", "HTML（ウェブページ）", "HTML (a web page)" },
		{ "text", "テキスト", "text" },
		{ "empty", "空のファイル", "an empty file" },
	};
	int en = strcmp(lang, "en") == 0;
	const char *word = strchr(type, '/') != NULL ? web_iso_mime_word(type) : type;
	size_t i;

	for (i = 0; word != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(types[i].word, word) == 0)
			return en ? types[i].en : types[i].ja;
	}
	return en ? "unknown" : "不明";
}

/* The findings as a list: "where: reason [NAME]" in the page's language. */
static void web_iso_findings(struct web_page *p, const char *findings, const char *lang)
{
	const char *line = findings, *end;
	char *copy, *fields[4], *save = NULL, *f;
	int n;

	web_page_raw(p, "<ul id=\"iso-findings\">");
	while (*line != '\0') {
		end = strchr(line, '\n');
		copy = om_strndup(line, end != NULL ? (size_t)(end - line) : strlen(line));
		n = 0;
		for (f = strtok_r(copy, "\t", &save); f != NULL && n < 4;
		     f = strtok_r(NULL, "\t", &save))
			fields[n++] = f;
		if (n == 4) {
			web_page_raw(p, "<li class=\"finding\"><strong>");
			web_page_esc(p, fields[1], 300);
			web_page_raw(p, "</strong>: ");
			web_page_esc(p, strcmp(lang, "en") == 0 ? fields[3] : fields[2], 400);
			web_page_raw(p, " <small>[");
			web_page_esc(p, fields[0], 40);
			web_page_raw(p, "]</small></li>");
		}
		free(copy);
		if (end == NULL)
			break;
		line = end + 1;
	}
	web_page_raw(p, "</ul>");
}

static void web_iso_date(struct web_page *p, const struct web_request *req,
			 const struct web_settings *settings, long long when)
{
	char date[64];

	web_page_date(req, settings->timezone, (time_t)when, p->lang, date, sizeof(date));
	web_page_esc(p, date, 0);
}

static void web_iso_details(struct web_page *p, const struct web_request *req,
			    const struct web_settings *settings, const struct web_iso *w)
{
	char size[40];

	web_page_raw(p, "<dl>");
	web_page_dt(p, WT_ISO_NAME);
	web_page_raw(p, "<span id=\"iso-name\">");
	web_page_esc(p, w->name, 250);
	web_page_raw(p, "</span></dd>");
	web_page_dt(p, WT_ISO_SIZE);
	(void)snprintf(size, sizeof(size), "%lld ", w->size);
	web_page_esc(p, size, 0);
	web_page_t(p, WT_ISO_BYTES);
	web_page_raw(p, "</dd>");
	web_page_dt(p, WT_ISO_TYPE);
	web_page_raw(p, "<span id=\"iso-type\">");
	web_page_esc(p, web_iso_type_text(w->true_type, p->lang), 0);
	if (strchr(w->true_type, '/') != NULL) {
		/* libmagic's own answer, for whoever knows MIME types */
		web_page_raw(p, " <code id=\"iso-mime\">");
		web_page_esc(p, w->true_type, 100);
		web_page_raw(p, "</code>");
	}
	web_page_raw(p, "</span></dd>");
	web_page_dt(p, WT_ISO_FINDINGS);
	if (w->findings[0] == '\0') {
		web_page_raw(p, "<span id=\"iso-no-findings\">");
		web_page_t(p, WT_ISO_NO_FINDINGS);
		web_page_raw(p, "</span>");
	} else {
		web_iso_findings(p, w->findings, p->lang);
	}
	web_page_raw(p, "</dd>");
	web_page_dt(p, WT_ISO_SCAN);
	web_page_raw(p, "<span id=\"iso-scan\">");
	web_page_t(p, strcmp(w->scan, "clean") == 0 ? WT_ISO_SCAN_CLEAN :
		   WT_ISO_SCAN_ENCRYPTED);
	web_page_raw(p, "</span></dd>");
	web_page_dt(p, WT_ISO_WHY);
	web_page_t(p, strcmp(w->why, "all") == 0 ? WT_ISO_WHY_ALL :
		   strcmp(w->why, "archive") == 0 ? WT_ISO_WHY_ARCHIVE : WT_ISO_WHY_FINDING);
	web_page_raw(p, "</dd>");
	if (w->received[0] != '\0') {
		/* seed 004: 受信経路を国旗で表示 (ISO codes here, no flags) */
		const char *c;

		web_page_dt(p, WT_ISO_RECEIVED);
		web_page_raw(p, "<span id=\"iso-received\">");
		for (c = w->received; *c != '\0'; c++) {
			if (*c == ' ')
				web_page_raw(p, " &rarr; ");
			else
				web_page_esc(p, (char[2]){ *c, '\0' }, 0);
		}
		web_page_raw(p, "</span></dd>");
	}
	web_page_dt(p, WT_ISO_KEPT_UNTIL);
	web_iso_date(p, req, settings, w->expires);
	web_page_raw(p, "</dd></dl>");
}

/* A POST form with one button (op). */
static void web_iso_button(struct web_page *p, const struct web_request *req,
			   const char *csrf, const char *op, const char *id,
			   enum web_text label, const char *class)
{
	web_page_raw(p, "<form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf);
	web_page_raw(p, "<button type=\"submit\" name=\"op\" value=\"");
	web_page_raw(p, op);
	web_page_raw(p, "\" class=\"");
	web_page_raw(p, class);
	web_page_raw(p, "\" id=\"");
	web_page_raw(p, id);
	web_page_raw(p, "\">");
	web_page_t(p, label);
	web_page_raw(p, "</button></form>");
}

/* ---- GET /f/<token> ---- */

void web_isolate_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_settings settings;
	struct om_store *store;
	struct web_iso row, copy;
	struct web_page p;
	char *csrf = NULL;
	int ret, safe, original, unmacro;

	if (!web_link_check(req, OM_VAULT_TOKEN_ACTION, &claims, resp))
		return;
	store = web_page_store_settings(req, resp, claims.mailbox, &settings);
	if (store == NULL)
		return;
	ret = web_iso_find(req, store, claims.mailbox, claims.message, &row);
	if (!web_page_found(req, resp, settings.language, ret, WT_ISO_GONE_BODY))
		return;
	safe = web_iso_safe(&row);
	original = !safe && web_iso_original_allowed(store, claims.mailbox);
	unmacro = !safe && web_iso_unmacro(req, store, &row, &copy) == 1;
	if (safe || original || unmacro) {
		csrf = web_link_csrf(req, claims.mailbox);
		if (csrf == NULL) {
			if (unmacro)
				web_iso_free(&copy);
			web_iso_free(&row);
			web_page_unavailable(req, resp, settings.language);
			return;
		}
	}
	web_page_begin_intro(&p, req, settings.language, WT_ISO_TITLE, WT_ISO_INTRO);
	web_page_raw(&p, "<div class=\"card\" id=\"isolated\">");
	web_iso_details(&p, req, &settings, &row);
	web_page_raw(&p, "</div>");
	if (safe) {
		web_iso_button(&p, req, csrf, "download", "iso-download", WT_ISO_DOWNLOAD, "hl");
	} else {
		web_page_raw(&p, "<p class=\"warn\" id=\"iso-no-download\">");
		web_page_t(&p, WT_ISO_NO_DOWNLOAD);
		web_page_raw(&p, "</p>");
		if (unmacro) {
			web_page_raw(&p, "<p id=\"iso-unmacro-note\">");
			web_page_t(&p, WT_ISO_UNMACRO_NOTE);
			web_page_raw(&p, " <span id=\"iso-unmacro-name\">");
			web_page_esc(&p, copy.name, 250);
			web_page_raw(&p, "</span></p>");
			web_iso_button(&p, req, csrf, "unmacro", "iso-unmacro",
				       WT_ISO_UNMACRO, "hl");
			web_iso_free(&copy);
		} else if (web_iso_ole_macros(&row)) {
			web_page_raw(&p, "<p id=\"iso-unmacro-ole\">");
			web_page_t(&p, WT_ISO_UNMACRO_OLE);
			web_page_raw(&p, "</p>");
		}
		if (original) {
			web_page_raw(&p, "<p><small>");
			web_page_t(&p, WT_ISO_ORIGINAL_WARN);
			web_page_raw(&p, "</small></p>");
			web_iso_button(&p, req, csrf, "original", "iso-original",
				       WT_ISO_ORIGINAL, "");
		}
	}
	web_page_finish(&p, req, resp, 200);
	free(csrf);
	web_iso_free(&row);
}

/* ---- POST /f/<token>: the download ---- */

/* The file's bytes, opened with the isolation key; 0, or -1 (logged). */
static int web_iso_read(const struct web_request *req, const struct web_iso *w,
			struct om_buf *out)
{
	return web_vault_file_read(req->server, req->server->config->isolate_dir, "isolated",
				   w->id, w->sealed,
				   (size_t)req->server->config->scan_max_size, out);
}

/* Content-Disposition for name: attachment, an ASCII fallback name and
   the UTF-8 one percent-encoded (RFC 6266, RFC 8187). */
static char *web_iso_disposition(const char *name)
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

void web_isolate_get(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct om_store *store;
	struct web_iso row;
	struct om_buf data;
	const char *lang, *op;
	int ret, allowed;

	store = web_link_store_for(req, OM_VAULT_TOKEN_ACTION, NULL, &claims, &lang, resp);
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	if (op == NULL || (strcmp(op, "download") != 0 && strcmp(op, "original") != 0 &&
			   strcmp(op, "unmacro") != 0)) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	ret = web_iso_find(req, store, claims.mailbox, claims.message, &row);
	if (!web_page_found(req, resp, lang, ret, WT_ISO_GONE_BODY))
		return;
	if (strcmp(op, "unmacro") == 0) {
		/* the macro-free copy is what is served, under its own name */
		struct web_iso copy;

		ret = web_iso_unmacro(req, store, &row, &copy);
		web_iso_free(&row);
		if (ret < 0) {
			web_page_unavailable(req, resp, lang);
			return;
		}
		allowed = ret == 1;
		row = copy;
	} else {
		allowed = strcmp(op, "download") == 0 ? web_iso_safe(&row) :
			web_iso_original_allowed(store, claims.mailbox);
	}
	if (!allowed) {
		om_log_info("client=%s mailbox=%s isolated=%s op=%s refused", req->address,
			    claims.mailbox, claims.message, op);
		web_page_message(req, resp, 403, lang, WT_ISO_TITLE, WT_ISO_NO_DOWNLOAD, 0);
		web_iso_free(&row);
		return;
	}
	om_buf_init(&data);
	if (web_iso_read(req, &row, &data) < 0) {
		om_buf_free(&data);
		web_iso_free(&row);
		web_page_unavailable(req, resp, lang);
		return;
	}
	om_log_info("client=%s mailbox=%s isolated=%s op=%s bytes=%zu", req->address,
		    claims.mailbox, row.id, op, data.len);
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->disposition = web_iso_disposition(row.name);
	resp->body = om_buf_steal(&data, &resp->len);
	web_iso_free(&row);
}
