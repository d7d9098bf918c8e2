/* web-admin.c - a domain's admin panel in omamori-web (/a/<token>, issue
 * 18): the domain's settings, its change log, its allow and block lists.
 *
 * Only a login's "admin" token opens it (an hour, made at /login for a
 * mailbox that holds a role); no other token does.  The domain managed is
 * a query field (GET) or a form field (POST), and the admin's rights in
 * it are read from the store on EVERY request: an admin of one domain
 * asking for another gets 403 and nothing of it, a deputy without the
 * right of a section gets 403.  Changes go through the store layer's one
 * recorded path (store/admins.h: om_settings_domain_change, checked by
 * om_settings_domain_check with omamorictl's messages; lists through
 * om_lists_change), so each lands in the change log with who, old and new.
 * The settings form is made from settings.c's own table, never a copy.
 * The message trace section (page=trace, the trace right) is
 * web-admin-trace.c; the monthly report (page=report, issue 20) is
 * web-admin-report.c's and needs the same right (it counts the same rows).
 */
#include "web.h"
#include "web-admin-trace.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/csv.h"
#include "lib/log.h"
#include "lib/util.h"
#include "quarantine/hold.h"
#include "store/admins.h"
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WEB_ADMIN_LOG_ROWS 500
#define WEB_ADMIN_LIST_ROWS 5000
#define WEB_ADMIN_IMPORT_MAX 1000

enum web_admin_page { WEB_ADMIN_HOME, WEB_ADMIN_SETTINGS, WEB_ADMIN_AUDIT,
		      WEB_ADMIN_LISTS, WEB_ADMIN_LISTS_CSV, WEB_ADMIN_HOLDS,
		      WEB_ADMIN_REPORT, WEB_ADMIN_TRACE };

struct web_admin {
	struct web_request *req;
	struct om_store *store;
	const char *mailbox;	/* the admin's */
	const char *lang;
	const char *domain;	/* the domain managed, NULL on the home page */
	enum web_admin_page page;
	int rights;		/* store/admins.h bits in domain */
};

/* A domain name as this page takes it: letters, digits, '-', '.'. */
static int web_admin_domain_ok(const char *domain)
{
	size_t len = strlen(domain);

	return len > 0 && len <= 253 && domain[0] != '.' && domain[0] != '-' &&
		strspn(domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789-.") == len && strchr(domain, '.') != NULL;
}

static int web_admin_page_parse(const char *text, enum web_admin_page *page_r)
{
	if (text == NULL || strcmp(text, "settings") == 0)
		*page_r = WEB_ADMIN_SETTINGS;
	else if (strcmp(text, "audit") == 0)
		*page_r = WEB_ADMIN_AUDIT;
	else if (strcmp(text, "lists") == 0)
		*page_r = WEB_ADMIN_LISTS;
	else if (strcmp(text, "lists-csv") == 0)
		*page_r = WEB_ADMIN_LISTS_CSV;
	else if (strcmp(text, "holds") == 0)
		*page_r = WEB_ADMIN_HOLDS;
	else if (strcmp(text, "report") == 0)
		*page_r = WEB_ADMIN_REPORT;
	else if (strcmp(text, "trace") == 0)
		*page_r = WEB_ADMIN_TRACE;
	else
		return -1;
	return 0;
}

static const char *web_admin_page_name(enum web_admin_page page)
{
	switch (page) {
	case WEB_ADMIN_AUDIT: return "audit";
	case WEB_ADMIN_LISTS: return "lists";
	case WEB_ADMIN_LISTS_CSV: return "lists-csv";
	case WEB_ADMIN_HOLDS: return "holds";
	case WEB_ADMIN_REPORT: return "report";
	case WEB_ADMIN_TRACE: return "trace";
	case WEB_ADMIN_HOME:
	case WEB_ADMIN_SETTINGS: break;
	}
	return "settings";
}

/* The right a page needs (the change log: any role in the domain). */
static int web_admin_page_allowed(enum web_admin_page page, int rights)
{
	switch (page) {
	case WEB_ADMIN_SETTINGS: return (rights & OM_ADMIN_SETTINGS) != 0;
	case WEB_ADMIN_LISTS:
	case WEB_ADMIN_LISTS_CSV: return (rights & OM_ADMIN_LISTS) != 0;
	case WEB_ADMIN_AUDIT: return rights != OM_ADMIN_NONE;
	case WEB_ADMIN_HOLDS: return (rights & OM_ADMIN_HOLDS) != 0;
	case WEB_ADMIN_REPORT: return (rights & OM_ADMIN_TRACE) != 0;
	case WEB_ADMIN_TRACE: return (rights & OM_ADMIN_TRACE) != 0;
	case WEB_ADMIN_HOME: break;
	}
	return 1;
}

/* Token, store, language, and (domain not NULL) the admin's rights in
   domain for page: 1, or 0 with resp filled (400, 403, 410, 503). */
static int web_admin_open(struct web_request *req, struct web_response *resp,
			  struct om_token_claims *claims, struct web_admin *a,
			  const char *domain, const char *page)
{
	char *error = NULL;

	memset(a, 0, sizeof(*a));
	if (!web_link_check(req, WEB_ACTION_ADMIN, claims, resp))
		return 0;
	a->req = req;
	a->mailbox = claims->mailbox;
	a->store = web_page_store_for(req, resp, claims->mailbox, &a->lang);
	if (a->store == NULL)
		return 0;
	if (domain == NULL) {
		a->page = WEB_ADMIN_HOME;
		return 1;
	}
	if (!web_admin_domain_ok(domain) || web_admin_page_parse(page, &a->page) < 0) {
		web_page_message(req, resp, 400, a->lang, WT_BAD_REQUEST_TITLE,
				 WT_BAD_REQUEST_BODY, 0);
		return 0;
	}
	a->rights = om_admins_rights_of(a->store, a->mailbox, domain, &error);
	if (a->rights < 0) {
		om_log_error("admin=%s domain=%s rights: %s", a->mailbox, domain, error);
		free(error);
		web_page_unavailable(req, resp, a->lang);
		return 0;
	}
	if (!web_admin_page_allowed(a->page, a->rights) || a->rights == OM_ADMIN_NONE) {
		om_log_info("client=%s admin=%s domain=%s page=%s refused: no right",
			    req->address, a->mailbox, domain, web_admin_page_name(a->page));
		web_page_message(req, resp, 403, a->lang, WT_ADMIN_TITLE,
				 WT_ADMIN_FORBIDDEN, 0);
		return 0;
	}
	a->domain = domain;
	return 1;
}

/* href to page of the domain: "<token>?domain=D&page=P". */
static void web_admin_href(struct web_page *p, const struct web_admin *a,
			   const char *domain, const char *page)
{
	web_page_esc(p, a->req->token, 0);
	web_page_raw(p, "?domain=");
	web_page_esc(p, domain, 0);
	web_page_raw(p, "&amp;page=");
	web_page_raw(p, page);
}

static void web_admin_link(struct web_page *p, const struct web_admin *a,
			   const char *page, enum web_text label)
{
	web_page_raw(p, "<a href=\"");
	web_admin_href(p, a, a->domain, page);
	web_page_raw(p, "\">");
	web_page_t(p, label);
	web_page_raw(p, "</a> ");
}

/* The start of a POST form of the page: csrf, domain, page, do. */
static void web_admin_form(struct web_page *p, const struct web_admin *a,
			   const char *csrf, const char *what)
{
	web_page_raw(p, "<form method=\"post\" action=\"");
	web_page_esc(p, a->req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf);
	web_page_raw(p, "<input type=\"hidden\" name=\"domain\" value=\"");
	web_page_esc(p, a->domain, 0);
	web_page_raw(p, "\"><input type=\"hidden\" name=\"page\" value=\"");
	web_page_raw(p, web_admin_page_name(a->page));
	web_page_raw(p, "\"><input type=\"hidden\" name=\"do\" value=\"");
	web_page_raw(p, what);
	web_page_raw(p, "\">");
}

static void web_admin_hidden(struct web_page *p, const char *name, const char *value)
{
	web_page_raw(p, "<input type=\"hidden\" name=\"");
	web_page_raw(p, name);
	web_page_raw(p, "\" value=\"");
	web_page_esc(p, value, 0);
	web_page_raw(p, "\">");
}

/* The domain's heading and the sections the admin may open. */
static void web_admin_nav(struct web_page *p, const struct web_admin *a)
{
	web_page_raw(p, "<p>");
	web_page_t(p, WT_ADMIN_DOMAIN);
	web_page_raw(p, ": <b id=\"domain\">");
	web_page_esc(p, a->domain, 0);
	web_page_raw(p, "</b></p><p>");
	if (a->rights & OM_ADMIN_SETTINGS)
		web_admin_link(p, a, "settings", WT_ADMIN_SETTINGS);
	if (a->rights & OM_ADMIN_LISTS)
		web_admin_link(p, a, "lists", WT_ADMIN_LISTS);
	if (a->rights & OM_ADMIN_HOLDS)
		web_admin_link(p, a, "holds", WT_ADMIN_HOLDS);
	if (a->rights & OM_ADMIN_TRACE) {
		web_admin_link(p, a, "trace", WT_TRACE_TITLE);
		web_admin_link(p, a, "report", WT_ADMIN_REPORT);
	}
	web_admin_link(p, a, "audit", WT_ADMIN_AUDIT);
	web_page_raw(p, "<a href=\"");
	web_page_esc(p, a->req->token, 0);
	web_page_raw(p, "\">");
	web_page_t(p, WT_ADMIN_TO_DOMAINS);
	web_page_raw(p, "</a></p>");
}

/* ---- the home page: the domains the admin holds a role in ---- */

static void web_admin_role_cb(void *context, const struct om_store_admin *r)
{
	struct om_buf *b = context;

	/* rows of "domain\trole\trights\n"; every field came through the
	   store's checks (no tab or line end in an address or domain) */
	om_buf_printf(b, "%s\t%s\t%s\n", r->domain, r->role, r->rights);
}

static void web_admin_home(struct web_admin *a, struct web_response *resp)
{
	struct web_page p;
	struct om_buf roles;
	char *error = NULL, *text, *line, *next, *role, *rights;
	int operator = 0;

	om_buf_init(&roles);
	if (om_store_admin_of(a->store, a->mailbox, web_admin_role_cb, &roles, &error) < 0) {
		om_log_error("admin=%s roles: %s", a->mailbox, error);
		free(error);
		om_buf_free(&roles);
		web_page_unavailable(a->req, resp, a->lang);
		return;
	}
	text = om_buf_steal(&roles, NULL);
	web_page_begin_intro(&p, a->req, a->lang, WT_ADMIN_TITLE, WT_ADMIN_INTRO);
	web_page_raw(&p, "<div class=\"card\"><ul>");
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		role = strchr(line, '\t');
		*role++ = '\0';
		rights = strchr(role, '\t');
		*rights++ = '\0';
		if (strcmp(line, OM_GLOBAL_DOMAIN) == 0) {
			operator = 1;
			continue;
		}
		web_page_raw(&p, "<li><a href=\"");
		web_admin_href(&p, a, line, strcmp(role, "deputy") == 0 &&
			       strstr(rights, "settings") == NULL ? "audit" : "settings");
		web_page_raw(&p, "\">");
		web_page_esc(&p, line, 0);
		web_page_raw(&p, "</a> (");
		web_page_esc(&p, role, 0);
		if (*rights != '\0') {
			web_page_raw(&p, ": ");
			web_page_esc(&p, rights, 0);
		}
		web_page_raw(&p, ")</li>");
	}
	web_page_raw(&p, "</ul>");
	if (operator) {
		/* an operator may open any domain: a GET form (nothing acts) */
		web_page_raw(&p, "<form method=\"get\" action=\"");
		web_page_esc(&p, a->req->token, 0);
		web_page_raw(&p, "\"><label>");
		web_page_t(&p, WT_ADMIN_DOMAIN);
		web_page_raw(&p, " <input type=\"text\" name=\"domain\" maxlength=\"253\" "
			     "required></label><input type=\"hidden\" name=\"page\" "
			     "value=\"settings\"><button type=\"submit\">");
		web_page_t(&p, WT_ADMIN_OPEN);
		web_page_raw(&p, "</button></form>");
	}
	web_page_raw(&p, "</div>");
	web_page_finish(&p, a->req, resp, 200);
	free(text);
}

/* ---- the settings page ---- */

static enum web_text web_admin_source_text(const char *source)
{
	if (strcmp(source, "domain") == 0)
		return WT_ADMIN_SRC_DOMAIN;
	if (strcmp(source, "global") == 0)
		return WT_ADMIN_SRC_GLOBAL;
	return WT_ADMIN_SRC_DEFAULT;
}

/* The value input of setting name: a choice of its words, or text. */
static void web_admin_input(struct web_page *p, const char *name, const char *value)
{
	const char *choices = om_settings_domain_choices(name), *w, *end;
	char word[64];
	size_t len;

	if (choices == NULL) {
		web_page_raw(p, "<input type=\"text\" name=\"value\" maxlength=\"4096\" "
			     "value=\"");
		web_page_esc(p, value, 0);
		web_page_raw(p, "\">");
		return;
	}
	web_page_raw(p, "<select name=\"value\">");
	for (w = choices; *w != '\0'; w = *end == ' ' ? end + 1 : end) {
		end = strchr(w, ' ');
		if (end == NULL)
			end = w + strlen(w);
		len = (size_t)(end - w);
		if (len == 0 || len >= sizeof(word))
			break;
		memcpy(word, w, len);
		word[len] = '\0';
		web_page_raw(p, "<option");
		if (strcmp(word, value) == 0)
			web_page_raw(p, " selected");
		web_page_raw(p, ">");
		web_page_esc(p, word, 0);
		web_page_raw(p, "</option>");
	}
	web_page_raw(p, "</select>");
}

/* One setting: its value in effect, where it comes from, what it takes,
   its form (and an unset button when the domain has its own value). */
static void web_admin_setting(struct web_page *p, struct web_admin *a,
			      const char *csrf, const char *name)
{
	const char *def = strcmp(name, "language") == 0 ?
		a->req->server->config->default_language : om_settings_default(name);
	const char *source, *accepted;
	char *value = NULL, *error = NULL, range[64];
	long min, max;

	if (om_settings_effective(a->store, OM_KEY_DOMAIN, a->domain, name, def, &value,
				  &source, &error) < 0) {
		om_log_error("domain=%s setting %s: %s", a->domain, name, error);
		free(error);
		return;
	}
	accepted = om_settings_domain_accepted(name, &min, &max);
	web_page_raw(p, "<div class=\"card\" id=\"s-");
	web_page_esc(p, name, 0);
	web_page_raw(p, "\"><p><b>");
	web_page_esc(p, name, 0);
	web_page_raw(p, "</b> = <code class=\"value\">");
	web_page_esc(p, value != NULL ? value : "", 0);
	web_page_raw(p, "</code> <small>(");
	web_page_t(p, WT_ADMIN_SOURCE);
	web_page_raw(p, ": <span class=\"source\">");
	web_page_t(p, web_admin_source_text(source));
	web_page_raw(p, "</span>)</small><br><small>");
	web_page_t(p, WT_ADMIN_ACCEPTS);
	web_page_raw(p, ": ");
	web_page_esc(p, accepted, 0);
	if (max > 0) {
		(void)snprintf(range, sizeof(range), " (%ld..%ld)", min, max);
		web_page_esc(p, range, 0);
	}
	web_page_raw(p, "</small></p>");
	web_admin_form(p, a, csrf, "set");
	web_admin_hidden(p, "name", name);
	web_admin_input(p, name, value != NULL ? value : "");
	web_page_raw(p, " <button type=\"submit\">");
	web_page_t(p, WT_SAVE);
	web_page_raw(p, "</button></form>");
	if (strcmp(source, "domain") == 0) {
		web_admin_form(p, a, csrf, "unset");
		web_admin_hidden(p, "name", name);
		web_page_raw(p, "<button type=\"submit\" class=\"del\">");
		web_page_t(p, WT_ADMIN_UNSET);
		web_page_raw(p, "</button></form>");
	}
	web_page_raw(p, "</div>");
	free(value);
}

/* ---- the change log ---- */

struct web_admin_log {
	struct web_page *p;
	const struct web_admin *a;
	const char *zone;
	size_t rows;
};

static void web_admin_value(struct web_page *p, const char *value)
{
	if (*value == '\0')
		web_page_t(p, WT_ADMIN_NONE);
	else
		web_page_esc(p, value, 300);
}

static void web_admin_log_cb(void *context, const struct om_store_change *c)
{
	struct web_admin_log *l = context;
	char when[64];

	web_page_date(l->a->req, l->zone, (time_t)c->at, l->a->lang, when, sizeof(when));
	web_page_raw(l->p, "<li><small>");
	web_page_esc(l->p, when, 0);
	web_page_raw(l->p, " · ");
	web_page_esc(l->p, c->who, 300);
	web_page_raw(l->p, "</small><br><b>");
	web_page_esc(l->p, c->what, 300);
	web_page_raw(l->p, "</b>: <span class=\"change\">");
	web_admin_value(l->p, c->old_value);
	web_page_raw(l->p, " → ");
	web_admin_value(l->p, c->new_value);
	web_page_raw(l->p, "</span></li>");
	l->rows++;
}

static void web_admin_audit(struct web_page *p, struct web_admin *a)
{
	struct web_settings settings;
	struct web_admin_log l = { p, a, NULL, 0 };
	char *error = NULL;
	long n;

	web_page_mailbox(a->req, a->store, a->mailbox, &settings);
	l.zone = settings.timezone;
	web_page_raw(p, "<h2>");
	web_page_t(p, WT_ADMIN_AUDIT);
	web_page_raw(p, "</h2><div class=\"card\"><p><small>");
	web_page_t(p, WT_ADMIN_WHEN);
	web_page_raw(p, " · ");
	web_page_t(p, WT_ADMIN_WHO);
	web_page_raw(p, "</small> / ");
	web_page_t(p, WT_ADMIN_WHAT);
	web_page_raw(p, ": ");
	web_page_t(p, WT_ADMIN_CHANGE);
	web_page_raw(p, "</p><ul id=\"log\">");
	n = om_store_change_list(a->store, a->domain, WEB_ADMIN_LOG_ROWS, web_admin_log_cb,
				 &l, &error);
	web_page_raw(p, "</ul>");
	if (n < 0) {
		om_log_error("domain=%s change log: %s", a->domain, error);
		free(error);
		web_page_raw(p, "<p class=\"warn\">");
		web_page_t(p, WT_ERROR_BODY);
		web_page_raw(p, "</p>");
	} else if (l.rows == 0) {
		web_page_raw(p, "<p>");
		web_page_t(p, WT_ADMIN_AUDIT_EMPTY);
		web_page_raw(p, "</p>");
	}
	web_page_raw(p, "</div>");
}

/* ---- the domain's lists ---- */

struct web_admin_entries {
	struct web_page *p;
	const struct web_admin *a;
	const char *csrf;
	struct om_buf *csv;
	size_t rows;
};

static void web_admin_entry_cb(void *context, const char *scope, const char *kind,
			       const char *entry)
{
	struct web_admin_entries *e = context;

	if (e->rows++ >= WEB_ADMIN_LIST_ROWS)
		return;
	if (e->csv != NULL) {
		om_csv_append_field(e->csv, scope);
		om_buf_append_str(e->csv, ",");
		om_csv_append_field(e->csv, kind);
		om_buf_append_str(e->csv, ",");
		om_csv_append_field(e->csv, entry);
		om_buf_append_str(e->csv, "\n");
		return;
	}
	web_page_raw(e->p, "<li>");
	web_page_esc(e->p, kind, 0);
	web_page_raw(e->p, ": <span class=\"entry\">");
	web_page_esc(e->p, entry, 300);
	web_page_raw(e->p, "</span> ");
	web_admin_form(e->p, e->a, e->csrf, "list-del");
	web_admin_hidden(e->p, "kind", kind);
	web_admin_hidden(e->p, "entry", entry);
	web_page_raw(e->p, "<button type=\"submit\" class=\"del\">");
	web_page_t(e->p, WT_REMOVE);
	web_page_raw(e->p, "</button></form></li>");
}

static void web_admin_lists(struct web_page *p, struct web_admin *a, const char *csrf)
{
	struct web_admin_entries e = { p, a, csrf, NULL, 0 };
	char *error = NULL;

	web_page_raw(p, "<h2>");
	web_page_t(p, WT_ADMIN_LISTS);
	web_page_raw(p, "</h2><div class=\"card\"><ul id=\"entries\">");
	if (om_store_list_each(a->store, a->domain, web_admin_entry_cb, &e, &error) < 0) {
		om_log_error("domain=%s lists: %s", a->domain, error);
		free(error);
	}
	if (e.rows == 0) {
		web_page_raw(p, "<li>");
		web_page_t(p, WT_LIST_EMPTY);
		web_page_raw(p, "</li>");
	}
	web_page_raw(p, "</ul>");
	web_admin_form(p, a, csrf, "list-add");
	web_page_raw(p, "<select name=\"kind\"><option>allow</option><option>block"
		     "</option><option>url-block</option></select> <input type=\"text\" "
		     "name=\"entry\" maxlength=\"254\" required placeholder=\"");
	web_page_t(p, WT_ENTRY_HINT);
	web_page_raw(p, "\"> <button type=\"submit\">");
	web_page_t(p, WT_ADD);
	web_page_raw(p, "</button></form><hr><p><a href=\"");
	web_admin_href(p, a, a->domain, "lists-csv");
	web_page_raw(p, "\">");
	web_page_t(p, WT_ADMIN_EXPORT);
	web_page_raw(p, "</a></p>");
	web_admin_form(p, a, csrf, "list-import");
	web_page_raw(p, "<label>");
	web_page_t(p, WT_ADMIN_IMPORT);
	web_page_raw(p, "<textarea name=\"csv\" rows=\"5\" cols=\"40\"></textarea></label>"
		     "<button type=\"submit\">");
	web_page_t(p, WT_ADD);
	web_page_raw(p, "</button></form></div>");
}

/* The lists as CSV, as `omamorictl list export` writes them (its import
   reads it back). */
static void web_admin_lists_csv(struct web_admin *a, struct web_response *resp)
{
	struct om_buf csv;
	struct web_admin_entries e = { NULL, a, NULL, &csv, 0 };
	char *error = NULL;

	om_buf_init(&csv);
	om_buf_printf(&csv, "scope,kind,entry\n");
	if (om_store_list_each(a->store, a->domain, web_admin_entry_cb, &e, &error) < 0) {
		om_log_error("domain=%s lists: %s", a->domain, error);
		free(error);
		om_buf_free(&csv);
		web_page_unavailable(a->req, resp, a->lang);
		return;
	}
	resp->status = 200;
	resp->body = om_buf_steal(&csv, &resp->len);
	resp->content_type = "text/csv; charset=utf-8";
	resp->disposition = om_asprintf("attachment; filename=\"lists-%s.csv\"", a->domain);
}

/* ---- mail held for the administrator (hold state admin) ---- */

/* 1 if a hold's sender mailbox is of domain. */
static int web_admin_hold_ours(const struct om_store_hold *h, const char *domain)
{
	return strcasecmp(om_settings_domain_of(h->mailbox), domain) == 0;
}

struct web_admin_holds {
	struct web_page *p;
	const struct web_admin *a;
	const char *csrf;
	size_t rows;
};

/* A hold's recipients (one a line) as "a, b, c", at most 20. */
static void web_admin_recipients(struct web_page *p, const char *list)
{
	const char *line = list, *end;
	char *one;
	int n = 0;

	for (; *line != '\0' && n < 20; line = *end == '\n' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (end == line)
			continue;
		one = om_strndup(line, (size_t)(end - line));
		if (n++ > 0)
			web_page_raw(p, ", ");
		web_page_esc(p, one, 254);
		free(one);
	}
	if (*line != '\0')
		web_page_raw(p, ", ...");
}

static void web_admin_hold_cb(void *context, const struct om_store_hold *h)
{
	struct web_admin_holds *l = context;
	char when[64];

	if (!web_admin_hold_ours(h, l->a->domain) || l->rows >= 500)
		return;
	l->rows++;
	web_page_date(l->a->req, "localtime", (time_t)h->created, l->a->lang, when,
		      sizeof(when));
	web_page_raw(l->p, "<li class=\"hold\"><small>");
	web_page_esc(l->p, when, 0);
	web_page_raw(l->p, " · ");
	web_page_esc(l->p, h->kind != NULL ? h->kind : "", 40);
	web_page_raw(l->p, "</small><br><b>");
	web_page_esc(l->p, h->subject, 200);
	web_page_raw(l->p, "</b><br>");
	web_page_esc(l->p, h->sender, 254);
	web_page_raw(l->p, " → ");
	web_admin_recipients(l->p, h->recipients);
	web_page_raw(l->p, " ");
	web_admin_form(l->p, l->a, l->csrf, "hold-send");
	web_admin_hidden(l->p, "id", h->id);
	web_page_raw(l->p, "<button type=\"submit\" class=\"hl\">");
	web_page_t(l->p, WT_HOLD_SEND);
	web_page_raw(l->p, "</button></form>");
	web_admin_form(l->p, l->a, l->csrf, "hold-discard");
	web_admin_hidden(l->p, "id", h->id);
	web_page_raw(l->p, "<button type=\"submit\" class=\"del\">");
	web_page_t(l->p, WT_HOLD_CANCEL);
	web_page_raw(l->p, "</button></form></li>");
}

static void web_admin_holds(struct web_page *p, struct web_admin *a, const char *csrf)
{
	struct web_admin_holds l = { p, a, csrf, 0 };
	char *error = NULL;

	web_page_raw(p, "<h2>");
	web_page_t(p, WT_ADMIN_HOLDS);
	web_page_raw(p, "</h2><div class=\"card\"><ul id=\"holds\">");
	if (om_store_hold_list(a->store, OM_HOLD_BY_STATE, NULL, OM_HOLD_ADMIN,
			       web_admin_hold_cb, &l, &error) < 0) {
		om_log_error("domain=%s holds: %s", a->domain, error);
		free(error);
	}
	if (l.rows == 0) {
		web_page_raw(p, "<li>");
		web_page_t(p, WT_HOLD_LIST_EMPTY);
		web_page_raw(p, "</li>");
	}
	web_page_raw(p, "</ul></div>");
}

/* ---- the page ---- */

static void web_admin_page(struct web_admin *a, struct web_response *resp,
			   unsigned int status, enum web_text note, const char *detail)
{
	struct web_page p;
	struct web_settings settings;
	char *csrf = web_link_csrf(a->req, a->mailbox, WEB_FORM_ADMIN);
	const char *name;
	unsigned int i;
	int trace_status;

	if (csrf == NULL) {
		web_page_unavailable(a->req, resp, a->lang);
		return;
	}
	if (a->page == WEB_ADMIN_LISTS_CSV)
		a->page = WEB_ADMIN_LISTS;
	web_page_begin(&p, a->req, a->lang, a->page == WEB_ADMIN_AUDIT ? WT_ADMIN_AUDIT :
		       a->page == WEB_ADMIN_LISTS ? WT_ADMIN_LISTS :
		       a->page == WEB_ADMIN_HOLDS ? WT_ADMIN_HOLDS :
		       a->page == WEB_ADMIN_REPORT ? WT_ADMIN_REPORT :
		       a->page == WEB_ADMIN_TRACE ? WT_TRACE_TITLE : WT_ADMIN_SETTINGS);
	if (status != 200 || note == WT_SAVED) {
		web_page_raw(&p, status == 200 ? "<p class=\"note\" id=\"note\">" :
			     "<p class=\"warn\" id=\"note\">");
		web_page_t(&p, note);
		if (detail != NULL) {
			web_page_raw(&p, " ");
			web_page_esc(&p, detail, 500);
		}
		web_page_raw(&p, "</p>");
	}
	web_admin_nav(&p, a);
	if (a->page == WEB_ADMIN_AUDIT) {
		web_admin_audit(&p, a);
	} else if (a->page == WEB_ADMIN_LISTS) {
		web_admin_lists(&p, a, csrf);
	} else if (a->page == WEB_ADMIN_HOLDS) {
		web_admin_holds(&p, a, csrf);
	} else if (a->page == WEB_ADMIN_REPORT) {
		web_admin_report(&p, a->store, a->req->token, a->domain, a->lang,
				 a->req->query_month);
	} else if (a->page == WEB_ADMIN_TRACE) {
		/* a search (GET) only: a POST naming page=trace did nothing */
		web_page_mailbox(a->req, a->store, a->mailbox, &settings);
		trace_status = web_admin_trace(&p, a->req, a->store, settings.timezone,
					       a->domain);
		if (status == 200)
			status = (unsigned int)trace_status;
	} else if (a->page == WEB_ADMIN_SETTINGS) {
		/* only the section whose right was checked: a refused POST
		   naming page=lists-csv shows no settings */
		web_page_raw(&p, "<p>");
		web_page_t(&p, WT_ADMIN_SETTINGS_INTRO);
		web_page_raw(&p, "</p>");
		for (i = 0; (name = om_settings_domain_nth(i)) != NULL; i++) {
			if (strcmp(name, OM_SETTING_GROUP) == 0)
				continue;	/* a mailbox's, not a domain's */
			web_admin_setting(&p, a, csrf, name);
		}
	}
	web_page_finish(&p, a->req, resp, status);
	free(csrf);
}

void web_admin_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_admin a;

	if (!web_admin_open(req, resp, &claims, &a, req->query_domain, req->query_page))
		return;
	if (a.page == WEB_ADMIN_HOME)
		web_admin_home(&a, resp);
	else if (a.page == WEB_ADMIN_LISTS_CSV)
		web_admin_lists_csv(&a, resp);
	else
		web_admin_page(&a, resp, 200, req->query_done != NULL ? WT_SAVED :
			       WT_ADMIN_TITLE, NULL);
}

/* ---- changes: each returns 0 done, or an HTTP status with *note_r
   (and *detail_r, allocated, the store layer's message) ---- */

static unsigned int web_admin_set(struct web_admin *a, int set, enum web_text *note_r,
				  char **detail_r)
{
	const char *name = web_form_get(&a->req->form, "name");
	const char *value = web_form_get(&a->req->form, "value");
	int ret;

	*note_r = WT_BAD_REQUEST_BODY;
	if (a->page != WEB_ADMIN_SETTINGS || name == NULL || (set && value == NULL))
		return 400;
	*note_r = WT_ADMIN_INVALID;
	ret = om_settings_domain_change(a->store, a->mailbox, OM_KEY_DOMAIN, a->domain,
					name, set ? value : NULL, detail_r);
	if (ret < 0)
		return 400;
	om_log_info("client=%s admin=%s domain=%s %s %s%s%s", a->req->address, a->mailbox,
		    a->domain, set ? "set" : "unset", name, set ? "=" : "", set ? value : "");
	return 0;
}

static unsigned int web_admin_list_change(struct web_admin *a, int add,
					  enum web_text *note_r, char **detail_r)
{
	const char *kind = web_form_get(&a->req->form, "kind");
	const char *entry = web_form_get(&a->req->form, "entry");
	const char *entries[1];
	int ret;

	*note_r = WT_BAD_REQUEST_BODY;
	if (a->page != WEB_ADMIN_LISTS || kind == NULL || entry == NULL)
		return 400;
	entries[0] = entry;
	*note_r = WT_ADMIN_INVALID;
	ret = om_admins_lists_change(a->store, a->mailbox, a->domain, OM_KEY_DOMAIN, kind,
				     entries, 1, add, 0, detail_r);
	if (ret < 0)
		return 400;
	if (ret == 0 && !add) {
		*note_r = WT_NOT_ON_LIST;
		return 409;
	}
	om_log_info("client=%s admin=%s domain=%s list %s %s %s", a->req->address,
		    a->mailbox, a->domain, kind, add ? "add" : "del", entry);
	return 0;
}

/* Adds the checked lines of an import, each kind's in one transaction
   (om_admins_lists_change): a store error leaves no list half-changed.
   0 or 400 with *detail_r. */
static unsigned int web_admin_list_add_by_kind(struct web_admin *a, const char **kinds,
					       const char **entries, size_t count,
					       char **detail_r)
{
	static const char *const all_kinds[] = { "allow", "block", "url-block" };
	const char **same = om_calloc(count + 1, sizeof(*same));
	size_t k, i, n;
	unsigned int status = 0;

	for (k = 0; k < OM_N_ELEMENTS(all_kinds) && status == 0; k++) {
		for (i = 0, n = 0; i < count; i++) {
			if (strcmp(kinds[i], all_kinds[k]) == 0)
				same[n++] = entries[i];
		}
		if (n > 0 && om_admins_lists_change(a->store, a->mailbox, a->domain,
						    OM_KEY_DOMAIN, all_kinds[k], same, n, 1,
						    0, detail_r) < 0)
			status = 400;
	}
	free(same);
	return status;
}

/* The textarea's CSV: "kind,entry" or "scope,kind,entry" of this domain
   (omamorictl list export's form, its header skipped; the scope folded
   as keys are), added a kind at a time; all are checked before any is
   added. */
static unsigned int web_admin_list_import(struct web_admin *a, enum web_text *note_r,
					  char **detail_r)
{
	const char *text = web_form_get(&a->req->form, "csv");
	char *data, *fields[3], *error = NULL;
	const char *kinds[WEB_ADMIN_IMPORT_MAX], *entries[WEB_ADMIN_IMPORT_MAX];
	unsigned int lines[WEB_ADMIN_IMPORT_MAX];
	struct om_csv csv;
	size_t n, count = 0, i;
	unsigned int line, status = 0;
	int ret;

	*note_r = WT_BAD_REQUEST_BODY;
	if (a->page != WEB_ADMIN_LISTS || text == NULL)
		return 400;
	data = om_strdup(text);
	*note_r = WT_ADMIN_INVALID;
	if (om_csv_init(&csv, data, strlen(data), detail_r) < 0) {
		free(data);
		return 400;
	}
	while ((ret = om_csv_record(&csv, fields, 3, &n, &line, &error)) > 0) {
		if (n == 1 && *fields[0] == '\0')
			continue;
		if (n == 3 && strcmp(fields[0], "scope") == 0)
			continue;
		if (n == 3)
			om_address_key_fold(fields[0]);	/* Example.JP is this domain */
		if ((n != 2 && n != 3) || (n == 3 && strcmp(fields[0], a->domain) != 0) ||
		    count == WEB_ADMIN_IMPORT_MAX) {
			*detail_r = om_asprintf("line %u: write kind,entry (or %s,kind,entry); "
						"at most %d lines", line, a->domain,
						WEB_ADMIN_IMPORT_MAX);
			status = 400;
			break;
		}
		lines[count] = line;
		kinds[count] = fields[n - 2];
		entries[count++] = fields[n - 1];
	}
	if (ret < 0) {
		*detail_r = error;
		status = 400;
	}
	/* every line checked before any is added: a file with a bad line
	   changes nothing (as omamorictl list import) */
	for (i = 0; i < count && status == 0; i++) {
		char *entry;

		if (!om_lists_kind_valid(kinds[i])) {
			*detail_r = om_asprintf("line %u: unknown kind '%.40s' (allow, block, "
						"url-block)", lines[i], kinds[i]);
			status = 400;
		} else if ((entry = om_lists_entry(kinds[i], entries[i], &error)) == NULL) {
			*detail_r = om_asprintf("line %u: %s", lines[i], error);
			om_free(&error);
			status = 400;
		} else {
			free(entry);
		}
	}
	if (status == 0)
		status = web_admin_list_add_by_kind(a, kinds, entries, count, detail_r);
	if (status == 0)
		om_log_info("client=%s admin=%s domain=%s list import %zu entries",
			    a->req->address, a->mailbox, a->domain, count);
	free(data);
	return status;
}

/* The hold of the form's id, read again: one of this domain's, kept for
   the administrator, or 410; then omamori-filter asked over
   filter_control, as `omamorictl hold release|discard` asks it, and the
   outcome recorded in the change log. */
struct web_admin_hold_row {
	const char *domain;
	int ours;
};

static void web_admin_hold_row_cb(void *context, const struct om_store_hold *h)
{
	struct web_admin_hold_row *r = context;

	r->ours = web_admin_hold_ours(h, r->domain) && h->state == OM_HOLD_ADMIN;
}

static unsigned int web_admin_hold_act(struct web_admin *a, int send,
				       enum web_text *note_r, char **detail_r)
{
	const char *id = web_form_get(&a->req->form, "id");
	struct web_admin_hold_row row = { a->domain, 0 };
	struct om_store_change c;
	enum om_hold_answer answer;
	char *text = NULL, *error = NULL, *what;

	*note_r = WT_BAD_REQUEST_BODY;
	if (a->page != WEB_ADMIN_HOLDS || id == NULL || !om_hold_id_valid(id))
		return 400;
	if (om_store_hold_list(a->store, OM_HOLD_BY_ID, id, 0, web_admin_hold_row_cb, &row,
			       &error) < 0) {
		om_log_error("domain=%s hold %s: %s", a->domain, id, error);
		free(error);
		*note_r = WT_ERROR_BODY;
		return 503;
	}
	*note_r = WT_HOLD_GONE_BODY;
	if (!row.ours)
		return 410;
	if (om_hold_admin_request(a->req->server->config, send, id, a->mailbox, &answer,
				  &text, &error) < 0) {
		om_log_error("domain=%s hold %s: %s", a->domain, id, error);
		free(error);
		*note_r = WT_ERROR_BODY;
		return 503;
	}
	/* ASKED: the node holding its copy does it (doc/scaling.md) */
	if (answer != OM_HOLD_ANSWER_DONE && answer != OM_HOLD_ANSWER_ASKED) {
		*note_r = answer == OM_HOLD_ANSWER_STATE ? WT_HOLD_NOT_NOW_BODY : WT_ERROR_BODY;
		*detail_r = text;
		return answer == OM_HOLD_ANSWER_STATE ? 409 : 503;
	}
	what = om_asprintf("hold %s", id);
	c = (struct om_store_change){ 0, (long long)a->req->now, a->mailbox, a->domain,
				      what, "admin", send ? "sent" : "discarded" };
	if (om_store_change_add(a->store, &c, &error) < 0) {
		om_log_error("domain=%s hold %s: not recorded: %s", a->domain, id, error);
		free(error);
	}
	om_log_info("client=%s admin=%s domain=%s hold %s %s: %s", a->req->address,
		    a->mailbox, a->domain, id, send ? "sent" : "discarded", text);
	free(what);
	free(text);
	return 0;
}

void web_admin_change(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_admin a;
	const char *what = web_form_get(&req->form, "do");
	const char *domain = web_form_get(&req->form, "domain");
	const char *name;
	enum web_text note = WT_BAD_REQUEST_BODY;
	unsigned int status = 400;
	char *detail = NULL;

	/* the token, then the domain's rights, then the form's csrf: nothing
	   of a domain not the admin's is read or changed */
	if (!web_admin_open(req, resp, &claims, &a, domain != NULL ? domain : "",
			    web_form_get(&req->form, "page")))
		return;
	if (!web_link_csrf_spend(req, a.store, a.mailbox, WEB_FORM_ADMIN, a.lang, resp))
		return;
	if (what == NULL)
		status = 400;
	else if (strcmp(what, "set") == 0 || strcmp(what, "unset") == 0)
		status = web_admin_set(&a, strcmp(what, "set") == 0, &note, &detail);
	else if (strcmp(what, "list-add") == 0 || strcmp(what, "list-del") == 0)
		status = web_admin_list_change(&a, strcmp(what, "list-add") == 0, &note,
					       &detail);
	else if (strcmp(what, "list-import") == 0)
		status = web_admin_list_import(&a, &note, &detail);
	else if (strcmp(what, "hold-send") == 0 || strcmp(what, "hold-discard") == 0)
		status = web_admin_hold_act(&a, strcmp(what, "hold-send") == 0, &note, &detail);
	if (status == 0) {
		/* relative to /a/: the same section again, reloading repeats
		   nothing; the domain was checked as a plain name above */
		resp->status = 303;
		name = web_form_get(&req->form, "name");
		resp->location = om_asprintf("%s?domain=%s&page=%s&done=1%s%s", req->token,
					     a.domain, web_admin_page_name(a.page),
					     a.page == WEB_ADMIN_SETTINGS ? "#s-" : "",
					     a.page == WEB_ADMIN_SETTINGS ? name : "");
		resp->body = (char *)"";
		resp->body_static = 1;
		resp->content_type = "text/plain; charset=utf-8";
	} else {
		web_admin_page(&a, resp, status, note, detail);
	}
	free(detail);
}
