/* web-login.c - the login page of omamori-web (/login) and the brand logo
 * (/logo).
 *
 * A login is a mailbox's own mail password, checked by Dovecot
 * (web-auth.c); on success the browser is sent (303, a relative path of
 * ours, never a URL from the request) to the quarantine page under a new
 * "session" token (an hour), the only token that opens the settings.
 *
 * Two brakes on guessing, both ours: a failed login costs the client
 * WEB_LOGIN_FAILURE_COST rate tokens, and an account with
 * WEB_LOCKOUT_FAILURES failures in WEB_LOCKOUT_SECONDS gets 429 "too many
 * attempts" without Dovecot being asked (web-lockout.c).  Dovecot is not
 * told the client's address (no rip=): its per-address penalty would
 * delay every user behind the proxy and hold our threads; the address is
 * in our own log lines.
 */
#include "web.h"
#include "web-auth.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static void web_login_page(struct web_request *req, struct web_response *resp,
			   const char *lang, unsigned int status, int failed,
			   const char *user)
{
	struct web_page p;
	char *csrf = web_link_csrf(req, "", WEB_FORM_LOGIN);

	if (csrf == NULL) {
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return;
	}
	web_page_begin(&p, req, lang, WT_LOGIN_TITLE);
	if (failed) {
		web_page_raw(&p, "<p class=\"warn\">");
		web_page_t(&p, WT_LOGIN_FAILED);
		web_page_raw(&p, "</p>");
	}
	web_page_raw(&p, "<div class=\"card\"><p>");
	web_page_t(&p, WT_LOGIN_INTRO);
	web_page_raw(&p, "</p><form method=\"post\" action=\"login\">");
	web_page_csrf(&p, csrf);
	web_page_raw(&p, "<label>");
	web_page_t(&p, WT_USER);
	web_page_raw(&p, "<input type=\"email\" name=\"user\" autocomplete=\"username\" "
		     "maxlength=\"254\" required value=\"");
	web_page_esc(&p, user != NULL ? user : "", 254);
	web_page_raw(&p, "\"></label><label>");
	web_page_t(&p, WT_PASSWORD);
	web_page_raw(&p, "<input type=\"password\" name=\"password\" "
		     "autocomplete=\"current-password\" maxlength=\"1024\" required>"
		     "</label><button type=\"submit\" class=\"hl\">");
	web_page_t(&p, WT_LOGIN_BUTTON);
	/* a domain's administrator logs in with the same mail password to
	   the admin panel (/a/, web-admin.c) */
	web_page_raw(&p, "</button> <button type=\"submit\" name=\"panel\" "
		     "value=\"admin\" id=\"admin-login\">");
	web_page_t(&p, WT_ADMIN_BUTTON);
	web_page_raw(&p, "</button></form></div>");
	web_page_finish(&p, req, resp, status);
	free(csrf);
}

void web_login_show(struct web_request *req, struct web_response *resp)
{
	web_login_page(req, resp, web_page_lang_browser(req), 200, 0, NULL);
}

static void web_login_count_role(void *context, const struct om_store_admin *a)
{
	(void)a;
	(*(int *)context)++;
}

/* After the right password, the admin panel's button: an "admin" token
   (an hour) for a mailbox that holds a role (store/admins.h), else 403. */
static void web_login_admin(struct web_request *req, struct web_response *resp,
			    struct om_store *store, const char *mailbox,
			    const char *clean, const char *lang)
{
	char *error = NULL, *token;
	int roles = 0;

	/* from here the mailbox is known: its domain's language */
	lang = web_page_lang_mailbox(req, store, mailbox);
	if (om_store_admin_of(store, mailbox, web_login_count_role, &roles, &error) < 0) {
		om_log_error("client=%s admin login mailbox=%s: %s", req->address,
			     mailbox, error);
		free(error);
		web_page_unavailable(req, resp, lang);
		return;
	}
	if (roles == 0) {
		om_log_info("client=%s login user=%s mailbox=%s admin=refused (no role)",
			    req->address, clean, mailbox);
		web_page_message(req, resp, 403, lang, WT_ADMIN_TITLE,
				 WT_ADMIN_NOT_ADMIN, 1);
		return;
	}
	token = web_link_make(req, mailbox, WEB_ACTION_ADMIN, "", WEB_SESSION_SECONDS);
	if (token == NULL) {
		web_page_unavailable(req, resp, lang);
		return;
	}
	om_log_info("client=%s login user=%s mailbox=%s result=ok admin=yes",
		    req->address, clean, mailbox);
	resp->status = 303;
	resp->location = om_asprintf("a/%s", token);
	resp->body = (char *)"";
	resp->body_static = 1;
	resp->content_type = "text/plain; charset=utf-8";
	free(token);
}

void web_login_post(struct web_request *req, struct web_response *resp)
{
	const struct om_config *config = req->server->config;
	const char *lang = web_page_lang_browser(req);
	const char *user = web_form_get(&req->form, "user");
	const char *password = web_form_get(&req->form, "password");
	const char *panel;
	struct om_store *store = web_store(req->server);
	char *mailbox = NULL, *error = NULL, *token, *clean;
	uint64_t now_ms = om_now_ms();
	double now = (double)now_ms / 1000.0;
	int ret;

	if (store == NULL) {
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return;
	}
	if (!web_link_csrf_spend(req, store, "", WEB_FORM_LOGIN, lang, resp))
		return;
	if (user == NULL || password == NULL || *user == '\0') {
		web_login_page(req, resp, lang, 400, 1, user);
		return;
	}
	clean = om_sanitize(user, 254);
	if (web_lockout_blocked(&req->server->logins, user, now)) {
		om_log_info("client=%s login user=%s result=locked", req->address, clean);
		web_rate_penalty(&req->server->rate, req->client, now,
				 WEB_LOGIN_FAILURE_COST);
		free(clean);
		web_page_message(req, resp, 429, lang, WT_LOGIN_LOCKED_TITLE,
				 WT_LOGIN_LOCKED_BODY, 0);
		return;
	}
	ret = web_auth_check(config->dovecot_auth_socket, user, password,
			     &mailbox, &error);
	if (ret < 0) {
		om_log_error("client=%s login user=%s: %s", req->address, clean, error);
		free(error);
		free(clean);
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return;
	}
	if (ret == 0) {
		om_log_info("client=%s login user=%s result=fail failures=%u",
			    req->address, clean,
			    web_lockout_fail(&req->server->logins, user, now));
		web_rate_penalty(&req->server->rate, req->client, now,
				 WEB_LOGIN_FAILURE_COST);
		free(clean);
		web_login_page(req, resp, lang, 403, 1, user);
		return;
	}
	web_lockout_clear(&req->server->logins, user);
	panel = web_form_get(&req->form, "panel");
	if (panel != NULL && strcmp(panel, "admin") == 0) {
		web_login_admin(req, resp, store, mailbox, clean, lang);
		free(clean);
		free(mailbox);
		return;
	}
	token = web_link_make(req, mailbox, WEB_ACTION_SESSION, "", WEB_SESSION_SECONDS);
	om_log_info("client=%s login user=%s mailbox=%s result=ok", req->address,
		    clean, mailbox);
	free(clean);
	free(mailbox);
	if (token == NULL) {
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return;
	}
	/* relative to /login: the quarantine page, under the proxy's prefix */
	resp->status = 303;
	resp->location = om_asprintf("q/%s", token);
	resp->body = (char *)"";
	resp->body_static = 1;
	resp->content_type = "text/plain; charset=utf-8";
	free(token);
}

void web_logo(struct web_request *req, struct web_response *resp)
{
	if (req->server->logo == NULL) {
		web_page_message(req, resp, 404, web_page_lang_browser(req),
				 WT_NOT_FOUND_TITLE, WT_NOT_FOUND_BODY, 0);
		return;
	}
	resp->status = 200;
	resp->body = req->server->logo;
	resp->len = req->server->logo_len;
	resp->body_static = 1;
	resp->cacheable = 1;
	resp->content_type = req->server->logo_type;
}
