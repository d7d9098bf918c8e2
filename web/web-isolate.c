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
 *
 * An encrypted file (an archive, a PDF, an Office document:
 * ATT_ENCRYPTED) has a password form (doc/attachments.md "Unlocking"):
 * the POST hands the decrypted
 * vault bytes and the password to omamori-scand over its socket
 * (proto.h OM_MSG_UNLOCK_*), which opens, scans and analyses them in
 * memory - this process parses nothing - and the page lists what is
 * inside, a download button beside each member with nothing found (a
 * second POST, which asks scand again and gets that member's bytes only
 * if clean).  That second POST carries an unlock ticket, never the
 * password: the password sealed (crypto/seal.h) under the web's key with
 * the file's id, the mailbox and the ticket's end (15 minutes) as
 * associated data, so the page's HTML holds nothing a reader of it could
 * use, and a ticket opens only that file, for that mailbox, until then.
 * Wrong passwords count per file in the login lockout table (5 in 15
 * minutes) and cost the client's rate bucket as a failed login.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "crypto/seal.h"
#include "crypto/vault.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "web-lockout.h"
#include "web-rate.h"
#include "store/settings.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* 1 when the file is encrypted: the page offers its password form. */
static int web_iso_locked(const struct web_iso *w)
{
	return strstr(w->findings, "ATT_ENCRYPTED") != NULL ||
		strcmp(w->scan, "encrypted") == 0;
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

/* The password form of an encrypted file. */
static void web_iso_unlock_form(struct web_page *p, const struct web_request *req,
				const char *csrf)
{
	web_page_raw(p, "<div class=\"card\" id=\"iso-unlock\"><p>");
	web_page_t(p, WT_ISO_UNLOCK_NOTE);
	web_page_raw(p, "</p><form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf);
	web_page_raw(p, "<input type=\"hidden\" name=\"op\" value=\"unlock\"><label>");
	web_page_t(p, WT_ISO_UNLOCK_PASSWORD);
	web_page_raw(p, " <input type=\"password\" name=\"password\" id=\"iso-password\" "
		     "autocomplete=\"off\" maxlength=\"200\" required></label> "
		     "<button type=\"submit\" class=\"hl\" id=\"iso-unlock-button\">");
	web_page_t(p, WT_ISO_UNLOCK);
	web_page_raw(p, "</button></form></div>");
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
	int ret, safe, original, unmacro, locked;

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
	locked = web_iso_locked(&row);
	if (safe || original || unmacro || locked) {
		csrf = web_link_csrf(req, claims.mailbox, WEB_FORM_ISOLATED);
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
	if (locked)
		web_iso_unlock_form(&p, req, csrf);
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

/* ---- POST /f/<token> op=unlock, op=member: the password ---- */

#define WEB_ISO_PASSWORD_MAX 200

/* The lockout table's key of a file: its id, apart from accounts. */
static void web_iso_lock_key(const struct web_iso *w, char key[64])
{
	(void)snprintf(key, 64, "isolated:%s", w->id);
}

/* The member index of the form (0 .. OM_UNLOCK_MAX_ENTRIES-1), or -1. */
static long web_iso_member_index(const struct web_request *req)
{
	const char *text = web_form_get(&req->form, "member");
	char *end;
	long n;

	if (text == NULL || *text < '0' || *text > '9')
		return -1;
	n = strtol(text, &end, 10);
	if (*end != '\0' || n < 0 || n >= OM_UNLOCK_MAX_ENTRIES)
		return -1;
	return n;
}

/* The unlock ticket of a list page (see the top): the sealed password and
   its end, wall-clock seconds since the epoch (not the lockout's monotonic
   clock: a ticket outlives a restart and means the same on every host). */
struct web_iso_ticket {
	char *sealed;
	long long until;
};
#define WEB_ISO_TICKET_SECONDS (15 * 60)

/* What a ticket is sealed for: the file, the mailbox, its end. */
static void web_iso_ticket_ad(const struct web_iso *row, const char *mailbox,
			      long long until, char *ad, size_t size)
{
	(void)snprintf(ad, size, "unlock-ticket\n%s\n%s\n%lld", row->id, mailbox, until);
}

/* A new ticket for password (ticket_r->sealed allocated); -1 logged. */
static int web_iso_ticket_make(struct web_request *req, const struct web_iso *row,
			       const char *mailbox, const char *password, long long now,
			       struct web_iso_ticket *ticket_r)
{
	struct om_token_keys keys;
	char ad[512], *error = NULL;

	ticket_r->until = now + WEB_ISO_TICKET_SECONDS;
	web_iso_ticket_ad(row, mailbox, ticket_r->until, ad, sizeof(ad));
	ticket_r->sealed = web_own_keys_get(req->server, &keys) < 0 ? NULL :
		om_seal(&keys, ad, password, &error);
	web_key_file_forget(&keys);
	if (ticket_r->sealed == NULL) {
		om_log_error("mailbox=%s isolated=%s unlock ticket: %s", mailbox, row->id,
			     error != NULL ? error : "no link key");
		free(error);
		return -1;
	}
	return 0;
}

/* The password of the form's ticket (allocated; om_seal_forget it): NULL
   with *expired_r 1 past its end, 0 for a ticket that does not open for
   this file and mailbox (another file's, changed, missing). */
static char *web_iso_ticket_open(struct web_request *req, const struct web_iso *row,
				 const char *mailbox, long long now, int *expired_r)
{
	const char *sealed = web_form_get(&req->form, "ticket");
	const char *text = web_form_get(&req->form, "until");
	struct om_token_keys keys;
	char ad[512], *end, *error = NULL, *password;
	long long until;

	*expired_r = 0;
	if (sealed == NULL || text == NULL || *text < '0' || *text > '9')
		return NULL;
	errno = 0;
	until = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return NULL;
	web_iso_ticket_ad(row, mailbox, until, ad, sizeof(ad));
	password = web_own_keys_get(req->server, &keys) < 0 ? NULL :
		om_unseal(&keys, ad, sealed, &error);
	web_key_file_forget(&keys);
	free(error);
	if (password != NULL && until < now) {
		om_seal_forget(&password);
		*expired_r = 1;
	}
	return password;
}

/* One member's row of the list: name, size, result, its button. */
static void web_iso_member_row(struct web_page *p, const struct web_request *req,
			       const char *csrf, const struct web_iso_ticket *ticket,
			       size_t i, const struct om_unlock_entry *e)
{
	char text[48];
	int clean = e->verdict == OM_VERDICT_CLEAN && e->findings[0] == '\0';

	(void)snprintf(text, sizeof(text), "%zu", i);
	web_page_raw(p, "<tr class=\"member\" id=\"iso-member-");
	web_page_raw(p, text);
	web_page_raw(p, "\"><td class=\"m-name\">");
	web_page_esc(p, e->name, 250);
	(void)snprintf(text, sizeof(text), "%lld ", e->size);
	web_page_raw(p, "</td><td class=\"m-size\">");
	web_page_esc(p, text, 0);
	web_page_t(p, WT_ISO_BYTES);
	web_page_raw(p, "</td><td class=\"m-result\">");
	if (e->verdict == OM_VERDICT_VIRUS) {
		web_page_raw(p, "<strong class=\"m-virus\">");
		web_page_t(p, WT_ISO_MEMBER_VIRUS);
		web_page_raw(p, " ");
		web_page_esc(p, e->virus != NULL ? e->virus : "?", 120);
		web_page_raw(p, "</strong>");
	} else if (e->verdict == OM_VERDICT_UNSCANNED) {
		web_page_raw(p, "<span class=\"m-unscanned\">");
		web_page_t(p, WT_ISO_MEMBER_UNSCANNED);
		web_page_raw(p, "</span>");
	} else if (e->findings[0] == '\0') {
		web_page_raw(p, "<span class=\"m-clean\">");
		web_page_t(p, WT_ISO_MEMBER_CLEAN);
		web_page_raw(p, "</span>");
	}
	if (e->findings[0] != '\0')
		web_iso_findings(p, e->findings, p->lang);
	web_page_raw(p, "</td><td>");
	if (clean) {
		(void)snprintf(text, sizeof(text), "%zu", i);
		web_page_raw(p, "<form method=\"post\" action=\"");
		web_page_esc(p, req->token, 0);
		web_page_raw(p, "\">");
		web_page_csrf(p, csrf);
		web_page_raw(p, "<input type=\"hidden\" name=\"op\" value=\"member\">"
			     "<input type=\"hidden\" name=\"member\" value=\"");
		web_page_raw(p, text);
		web_page_raw(p, "\"><input type=\"hidden\" name=\"ticket\" value=\"");
		web_page_esc(p, ticket->sealed, 0);
		(void)snprintf(text, sizeof(text), "%lld", ticket->until);
		web_page_raw(p, "\"><input type=\"hidden\" name=\"until\" value=\"");
		web_page_raw(p, text);
		web_page_raw(p, "\"><button type=\"submit\" class=\"hl m-download\">");
		web_page_t(p, WT_ISO_MEMBER_DOWNLOAD);
		web_page_raw(p, "</button></form>");
	} else {
		web_page_raw(p, "<span class=\"m-no-download\">");
		web_page_t(p, WT_ISO_MEMBER_NO_DOWNLOAD);
		web_page_raw(p, "</span>");
	}
	web_page_raw(p, "</td></tr>");
}

/* The page after a password: what is inside, or why nothing is. */
static void web_iso_unlock_page(struct web_request *req, struct web_response *resp,
				const char *lang, const char *csrf,
				const struct web_iso_ticket *ticket,
				const struct om_unlock_result *res)
{
	int kind_known = res->kind != NULL;
	struct web_page p;
	unsigned int status;
	enum web_text body;
	size_t i;

	status = res->status == OM_UNLOCK_OPENED ? 200 :
		res->status == OM_UNLOCK_WRONG ? 403 : 422;
	body = res->status == OM_UNLOCK_OPENED ? WT_ISO_UNLOCK_INTRO :
		res->status == OM_UNLOCK_WRONG ? WT_ISO_UNLOCK_WRONG :
		kind_known && strcmp(res->kind, "ole-legacy") == 0 ? WT_ISO_UNLOCK_OLD_OFFICE :
		WT_ISO_UNLOCK_UNSUPPORTED;
	web_page_begin_result(&p, req, lang, WT_ISO_UNLOCK_TITLE, status, body);
	web_page_raw(&p, "</p>");
	if (res->status == OM_UNLOCK_OPENED && kind_known && strcmp(res->kind, "office") == 0) {
		web_page_raw(&p, "<p id=\"iso-office-note\">");
		web_page_t(&p, WT_ISO_UNLOCK_OFFICE_NOTE);
		web_page_raw(&p, "</p>");
	} else if (res->status == OM_UNLOCK_OPENED && kind_known &&
		   strcmp(res->kind, "office-legacy") == 0) {
		web_page_raw(&p, "<p id=\"iso-office-legacy-note\">");
		web_page_t(&p, WT_ISO_UNLOCK_LEGACY_NOTE);
		web_page_raw(&p, "</p>");
	}
	if (res->status == OM_UNLOCK_WRONG) {
		web_iso_unlock_form(&p, req, csrf);
	} else if (res->status == OM_UNLOCK_OPENED && res->entry_count == 0) {
		web_page_raw(&p, "<p id=\"iso-members-empty\">");
		web_page_t(&p, WT_ISO_UNLOCK_EMPTY);
		web_page_raw(&p, "</p>");
	} else if (res->status == OM_UNLOCK_OPENED) {
		web_page_raw(&p, "<table id=\"iso-members\"><tr><th>");
		web_page_t(&p, WT_ISO_MEMBER_NAME);
		web_page_raw(&p, "</th><th>");
		web_page_t(&p, WT_ISO_SIZE);
		web_page_raw(&p, "</th><th>");
		web_page_t(&p, WT_ISO_MEMBER_RESULT);
		web_page_raw(&p, "</th><th></th></tr>");
		for (i = 0; i < res->entry_count; i++)
			web_iso_member_row(&p, req, csrf, ticket, i, &res->entries[i]);
		web_page_raw(&p, "</table>");
	}
	web_page_raw(&p, "<p><a href=\"");
	web_page_esc(&p, req->token, 0);
	web_page_raw(&p, "\">");
	web_page_t(&p, WT_ISO_TITLE);
	web_page_raw(&p, "</a></p>");
	web_page_finish(&p, req, resp, status);
}

/* Asks scand to open row's file with password; 0 with *res_r, -1 failed
   (logged). */
static int web_iso_ask_unlock(struct web_request *req, const struct web_iso *row,
			      const char *password, long member,
			      struct om_unlock_result *res_r)
{
	const struct om_config *config = req->server->config;
	struct om_unlock_request ureq;
	struct om_buf data;
	char *error = NULL;
	int ret;

	om_buf_init(&data);
	if (web_iso_read(req, row, &data) < 0) {
		om_buf_free(&data);
		return -1;
	}
	memset(&ureq, 0, sizeof(ureq));
	ureq.mailbox = row->mailbox;
	ureq.name = row->name;
	ureq.password = (char *)password;
	ureq.member = member;
	ureq.data = data.data != NULL ? data.data : "";
	ureq.data_len = data.len;
	ret = om_scand_unlock(config->scand_socket, (int)config->scan_timeout_ms,
			      &ureq, res_r, &error);
	if (data.data != NULL)
		explicit_bzero(data.data, data.len);
	om_buf_free(&data);
	if (ret < 0) {
		om_log_error("mailbox=%s isolated=%s unlock: %s", row->mailbox, row->id, error);
		free(error);
		return -1;
	}
	return 0;
}

/* The password of the POST: typed (op=unlock) or the ticket's (op=member,
   whose index goes to *member_r); NULL after answering the request. */
static char *web_iso_unlock_password(struct web_request *req, struct web_response *resp,
				     const struct web_iso *row, const char *mailbox,
				     const char *lang, int member_op, long *member_r,
				     long long now)
{
	const char *typed = web_form_get(&req->form, "password");
	char *password;
	int expired = 0;

	if (!member_op) {
		if (typed == NULL || *typed == '\0' || strlen(typed) > WEB_ISO_PASSWORD_MAX) {
			web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
					 WT_BAD_REQUEST_BODY, 0);
			return NULL;
		}
		return om_strdup(typed);
	}
	*member_r = web_iso_member_index(req);
	password = *member_r < 0 ? NULL : web_iso_ticket_open(req, row, mailbox, now, &expired);
	if (password == NULL) {
		om_log_info("client=%s mailbox=%s isolated=%s op=member ticket=%s",
			    req->address, mailbox, row->id, expired ? "expired" : "refused");
		if (expired)
			web_page_message(req, resp, 403, lang, WT_ISO_UNLOCK_TITLE,
					 WT_ISO_UNLOCK_EXPIRED, 0);
		else
			web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
					 WT_BAD_REQUEST_BODY, 0);
	}
	return password;
}

/* The member's bytes as the answer, if scand gave them (clean only). */
static void web_iso_member_answer(struct web_request *req, struct web_response *resp,
				  const char *lang, const char *mailbox,
				  const struct web_iso *row, long member,
				  struct om_unlock_result *res)
{
	const char *name, *base;

	if (res->data == NULL || (size_t)member >= res->entry_count) {
		om_log_info("client=%s mailbox=%s isolated=%s member=%ld refused",
			    req->address, mailbox, row->id, member);
		web_page_message(req, resp, 403, lang, WT_ISO_TITLE, WT_ISO_NO_DOWNLOAD, 0);
		return;
	}
	name = res->entries[member].name;
	base = strrchr(name, '/');
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->disposition = web_attachment_disposition(base != NULL && base[1] != '\0' ?
						base + 1 : name);
	resp->body = res->data;
	resp->len = res->data_len;
	res->data = NULL;
}

/* The list page after the right password: a ticket for its buttons. */
static void web_iso_list_answer(struct web_request *req, struct web_response *resp,
				const char *lang, const char *mailbox,
				const struct web_iso *row, const char *password,
				long long now, const struct om_unlock_result *res)
{
	struct web_iso_ticket ticket = { NULL, 0 };
	char *csrf = web_link_csrf(req, mailbox, WEB_FORM_ISOLATED);

	if (csrf == NULL || (res->status == OM_UNLOCK_OPENED &&
			     web_iso_ticket_make(req, row, mailbox, password, now, &ticket) < 0))
		web_page_unavailable(req, resp, lang);
	else
		web_iso_unlock_page(req, resp, lang, csrf, &ticket, res);
	free(ticket.sealed);
	free(csrf);
}

static void web_iso_unlock(struct web_request *req, struct web_response *resp,
			   struct om_store *store, const struct om_token_claims *claims,
			   const char *lang, int member_op)
{
	uint64_t now_ms = om_now_ms();
	double now = (double)now_ms / 1000.0;
	struct om_unlock_result res;
	struct web_iso row;
	long member = -1;
	char key[64], *password;
	int ret;

	if (!member_op && web_form_get(&req->form, "password") == NULL) {
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	ret = web_iso_find(req, store, claims->mailbox, claims->message, &row);
	if (!web_page_found(req, resp, lang, ret, WT_ISO_GONE_BODY))
		return;
	if (!web_iso_locked(&row)) {
		web_iso_free(&row);
		web_page_message(req, resp, 400, lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return;
	}
	password = web_iso_unlock_password(req, resp, &row, claims->mailbox, lang, member_op,
					   &member, (long long)time(NULL));
	if (password == NULL) {
		web_iso_free(&row);
		return;
	}
	web_iso_lock_key(&row, key);
	if (web_lockout_blocked(&req->server->logins, key, now)) {
		om_log_info("client=%s mailbox=%s isolated=%s unlock=locked", req->address,
			    claims->mailbox, row.id);
		web_rate_penalty(&req->server->rate, req->client, now, WEB_LOGIN_FAILURE_COST);
		web_page_message(req, resp, 429, lang, WT_ISO_UNLOCK_TITLE,
				 WT_ISO_UNLOCK_LOCKED, 0);
	} else if (web_iso_ask_unlock(req, &row, password, member, &res) < 0) {
		web_page_unavailable(req, resp, lang);
	} else {
		om_log_info("client=%s mailbox=%s isolated=%s op=%s unlock=%s entries=%zu",
			    req->address, claims->mailbox, row.id, member_op ? "member" : "unlock",
			    om_unlock_status_name(res.status), res.entry_count);
		if (res.status == OM_UNLOCK_WRONG) {
			(void)web_lockout_fail(&req->server->logins, key, now);
			web_rate_penalty(&req->server->rate, req->client, now,
					 WEB_LOGIN_FAILURE_COST);
		} else if (res.status == OM_UNLOCK_OPENED) {
			web_lockout_clear(&req->server->logins, key);
		}
		if (member_op && res.status == OM_UNLOCK_OPENED)
			web_iso_member_answer(req, resp, lang, claims->mailbox, &row, member, &res);
		else
			web_iso_list_answer(req, resp, lang, claims->mailbox, &row, password,
					    (long long)time(NULL), &res);
		om_unlock_result_free(&res);
	}
	om_seal_forget(&password);
	web_iso_free(&row);
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
	if (store == NULL || !web_link_csrf_spend(req, store, claims.mailbox,
						    WEB_FORM_ISOLATED, lang, resp))
		return;
	op = web_form_get(&req->form, "op");
	if (op != NULL && (strcmp(op, "unlock") == 0 || strcmp(op, "member") == 0)) {
		web_iso_unlock(req, resp, store, &claims, lang, strcmp(op, "member") == 0);
		return;
	}
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
	resp->disposition = web_attachment_disposition(row.name);
	resp->body = om_buf_steal(&data, &resp->len);
	web_iso_free(&row);
}
