/* web-me.c - the user's own page of omamori-web (/me/<token>): allow and
 * block lists, the quarantine digest's schedule, mail from known senders
 * at once, and pausing the features the domain lets users pause.
 *
 * The rules are the store's, not this page's: list edits go through
 * om_lists_add/om_lists_change (the per-mailbox limit, the domain's
 * user-allow-lists switch), exactly as Sieve and omamorictl edit lists;
 * settings are a mailbox's refinements of its domain's values, stored as
 * `omamorictl mailbox set` stores them; what a user may change at all is
 * the domain's user-may-change setting (seed 002: inbound checks yes,
 * outbound no), checked on every POST, not only by hiding a form.
 *
 * Only a login's "session" token opens this page: a digest's "box" token
 * (which anyone the digest is forwarded to holds for days) gets a 403 that
 * asks for the mail password.
 */
#include "web.h"
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* entries shown per list (the limit is list_max_entries, at most 300 by
   default; an administrator may set more) */
#define WEB_ME_MAX_ENTRIES 1000

static const struct {
	const char *feature;
	enum web_text label;
} web_me_features[] = {
	{ OM_FEATURE_INBOUND_VIRUS, WT_FEATURE_INBOUND },
	{ OM_FEATURE_SPAM, WT_FEATURE_SPAM },
	{ OM_FEATURE_OUTBOUND_VIRUS, WT_FEATURE_OUTBOUND },
};

/* What the page needs from the store, read once. */
struct web_me {
	struct web_request *req;
	struct om_store *store;
	const char *mailbox;
	const char *lang;
	char *may;		/* user-may-change */
	int allow_lists;	/* user-allow-lists on */
};

struct web_me_entries {
	const char *kind;
	char **entries;
	size_t count;
};

static void web_me_entry_cb(void *context, const char *scope, const char *kind,
			    const char *entry)
{
	struct web_me_entries *e = context;

	(void)scope;
	if (strcmp(kind, e->kind) == 0 && e->count < WEB_ME_MAX_ENTRIES)
		e->entries[e->count++] = om_strdup(entry);
}

static void web_me_entries_free(struct web_me_entries *e)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		free(e->entries[i]);
	free(e->entries);
}

/* A setting's value in effect for the mailbox (allocated), def if none. */
static char *web_me_value(struct web_me *me, const char *name, const char *def)
{
	char *error = NULL, *value;

	value = om_settings_domain_value(me->store, me->mailbox, name, def, &error);
	if (value == NULL) {
		om_log_error("mailbox=%s setting %s: %s", me->mailbox, name, error);
		free(error);
		value = om_strdup(def);
	}
	return value;
}

static int web_me_load(struct web_me *me)
{
	char *allow;

	me->may = web_me_value(me, OM_SETTING_USER_MAY_CHANGE, OM_DEFAULT_USER_MAY_CHANGE);
	allow = web_me_value(me, OM_SETTING_USER_ALLOW_LISTS, "on");
	me->allow_lists = strcmp(allow, "on") == 0;
	free(allow);
	return 0;
}

/* The start of a POST form of this page doing what. */
static void web_me_form(struct web_page *p, const struct web_request *req,
			const char *csrf, const char *what)
{
	web_page_raw(p, "<form method=\"post\" action=\"");
	web_page_esc(p, req->token, 0);
	web_page_raw(p, "\">");
	web_page_csrf(p, csrf);
	web_page_raw(p, "<input type=\"hidden\" name=\"do\" value=\"");
	web_page_raw(p, what);
	web_page_raw(p, "\">");
}

static void web_me_hidden(struct web_page *p, const char *name, const char *value)
{
	web_page_raw(p, "<input type=\"hidden\" name=\"");
	web_page_raw(p, name);
	web_page_raw(p, "\" value=\"");
	web_page_esc(p, value, 0);
	web_page_raw(p, "\">");
}

/* One list (allow or block) with its remove and add forms. */
static void web_me_list(struct web_page *p, struct web_me *me, const char *csrf,
			const char *kind, enum web_text title, enum web_text help)
{
	struct web_me_entries e = { kind, NULL, 0 };
	int may = om_settings_user_may_change(me->may, "lists");
	int locked_allow = strcmp(kind, "allow") == 0 && !me->allow_lists;
	char *error = NULL;
	size_t i;

	e.entries = om_calloc(WEB_ME_MAX_ENTRIES, sizeof(*e.entries));
	if (om_store_list_each(me->store, me->mailbox, web_me_entry_cb, &e, &error) < 0) {
		om_log_error("mailbox=%s lists: %s", me->mailbox, error);
		free(error);
	}
	web_page_raw(p, "<h2>");
	web_page_t(p, title);
	web_page_raw(p, "</h2><div class=\"card\"><p>");
	web_page_t(p, help);
	web_page_raw(p, "</p><ul>");
	if (e.count == 0) {
		web_page_raw(p, "<li>");
		web_page_t(p, WT_LIST_EMPTY);
		web_page_raw(p, "</li>");
	}
	for (i = 0; i < e.count; i++) {
		web_page_raw(p, "<li>");
		web_page_esc(p, e.entries[i], 300);
		if (may) {
			web_page_raw(p, " ");
			web_me_form(p, me->req, csrf, "list-del");
			web_me_hidden(p, "kind", kind);
			web_me_hidden(p, "entry", e.entries[i]);
			web_page_raw(p, "<button type=\"submit\" class=\"del\">");
			web_page_t(p, WT_REMOVE);
			web_page_raw(p, "</button></form>");
		}
		web_page_raw(p, "</li>");
	}
	web_page_raw(p, "</ul>");
	if (!may) {
		web_page_raw(p, "<p>");
		web_page_t(p, WT_LISTS_LOCKED);
		web_page_raw(p, "</p>");
	} else if (locked_allow) {
		web_page_raw(p, "<p>");
		web_page_t(p, WT_ALLOW_OFF);
		web_page_raw(p, "</p>");
	} else {
		web_me_form(p, me->req, csrf, "list-add");
		web_me_hidden(p, "kind", kind);
		web_page_raw(p, "<input type=\"text\" name=\"entry\" maxlength=\"254\" "
			     "required placeholder=\"");
		web_page_t(p, WT_ENTRY_HINT);
		web_page_raw(p, "\"><button type=\"submit\">");
		web_page_t(p, WT_ADD);
		web_page_raw(p, "</button></form>");
	}
	web_page_raw(p, "</div>");
	web_me_entries_free(&e);
}

static void web_me_radio(struct web_page *p, const char *value, int checked)
{
	web_page_raw(p, "<input type=\"radio\" name=\"when\" value=\"");
	web_page_raw(p, value);
	web_page_raw(p, checked ? "\" checked> " : "\"> ");
}

/* The digest's schedule and the known-senders switch. */
static void web_me_digest(struct web_page *p, struct web_me *me, const char *csrf)
{
	char *value = web_me_value(me, OM_SETTING_DIGEST, OM_DEFAULT_DIGEST);
	char *known = web_me_value(me, OM_SETTING_DIGEST_KNOWN_SENDERS, "off");
	struct om_digest_schedule s;
	char buf[32];

	if (om_settings_digest_parse(value, &s) < 0)
		(void)om_settings_digest_parse(OM_DEFAULT_DIGEST, &s);
	web_page_raw(p, "<h2>");
	web_page_t(p, WT_DIGEST);
	web_page_raw(p, "</h2><div class=\"card\"><p>");
	web_page_t(p, WT_DIGEST_HELP);
	web_page_raw(p, "</p>");
	web_me_form(p, me->req, csrf, "digest");
	web_page_raw(p, "<label>");
	web_me_radio(p, "daily", s.kind == OM_DIGEST_DAILY);
	web_page_t(p, WT_DIGEST_DAILY);
	snprintf(buf, sizeof(buf), "%02d:%02d", s.kind == OM_DIGEST_DAILY ? s.hour : 15,
		 s.kind == OM_DIGEST_DAILY ? s.minute : 0);
	web_page_raw(p, "</label> <input type=\"time\" name=\"time\" value=\"");
	web_page_raw(p, buf);
	web_page_raw(p, "\"><br><label>");
	web_me_radio(p, "every", s.kind == OM_DIGEST_EVERY);
	web_page_t(p, WT_DIGEST_EVERY_PRE);
	snprintf(buf, sizeof(buf), "%d", s.kind == OM_DIGEST_EVERY ? s.every_hours : 6);
	web_page_raw(p, "</label> <input type=\"number\" name=\"hours\" min=\"1\" "
		     "max=\"24\" value=\"");
	web_page_raw(p, buf);
	web_page_raw(p, "\"> ");
	web_page_t(p, WT_DIGEST_EVERY_POST);
	web_page_raw(p, "<br><label>");
	web_me_radio(p, "off", s.kind == OM_DIGEST_OFF);
	web_page_t(p, WT_DIGEST_OFF);
	web_page_raw(p, "</label><br><button type=\"submit\">");
	web_page_t(p, WT_SAVE);
	web_page_raw(p, "</button></form><hr><p>");
	web_page_t(p, WT_KNOWN);
	web_page_raw(p, ": <b>");
	web_page_t(p, strcmp(known, "on") == 0 ? WT_ON : WT_OFF);
	web_page_raw(p, "</b></p>");
	web_me_form(p, me->req, csrf, "known");
	web_me_hidden(p, "value", strcmp(known, "on") == 0 ? "off" : "on");
	web_page_raw(p, "<button type=\"submit\">");
	web_page_t(p, strcmp(known, "on") == 0 ? WT_TURN_OFF : WT_TURN_ON);
	web_page_raw(p, "</button></form></div>");
	free(value);
	free(known);
}

/* The features the user may pause or resume (those subscribed). */
static void web_me_features_section(struct web_page *p, struct web_me *me,
				    const char *csrf)
{
	enum om_sub_state state;
	const char *source;
	char *error = NULL;
	size_t i;
	int shown = 0;

	for (i = 0; i < OM_N_ELEMENTS(web_me_features); i++) {
		if (!om_settings_user_may_change(me->may, web_me_features[i].feature))
			continue;
		if (om_settings_subscription(me->store, me->mailbox,
					     web_me_features[i].feature, &state,
					     &source, &error) < 0) {
			om_log_error("mailbox=%s subscription: %s", me->mailbox, error);
			om_free(&error);
			continue;
		}
		if (state == OM_SUB_OFF)
			continue;
		if (!shown++) {
			web_page_raw(p, "<h2>");
			web_page_t(p, WT_FEATURES);
			web_page_raw(p, "</h2><div class=\"card\">");
		}
		web_page_raw(p, "<p>");
		web_page_t(p, web_me_features[i].label);
		web_page_raw(p, ": <b>");
		web_page_t(p, state == OM_SUB_ON ? WT_STATE_ON : WT_STATE_PAUSED);
		web_page_raw(p, "</b> ");
		web_me_form(p, me->req, csrf, "feature");
		web_me_hidden(p, "feature", web_me_features[i].feature);
		web_me_hidden(p, "state", state == OM_SUB_ON ? "paused" : "on");
		web_page_raw(p, "<button type=\"submit\">");
		web_page_t(p, state == OM_SUB_ON ? WT_PAUSE : WT_RESUME);
		web_page_raw(p, "</button></form></p>");
	}
	if (shown)
		web_page_raw(p, "</div>");
}

/* The page, with a note on top: saved (?done=1) or what went wrong. */
static void web_me_page(struct web_me *me, struct web_response *resp,
			unsigned int status, int has_note, enum web_text note)
{
	struct web_request *req = me->req;
	struct web_page p;
	char *csrf = web_link_csrf(req, me->mailbox, WEB_FORM_ME);

	if (csrf == NULL) {
		web_page_message(req, resp, 503, me->lang, WT_ERROR_TITLE,
				 WT_ERROR_BODY, 0);
		return;
	}
	web_page_begin(&p, req, me->lang, WT_ME_TITLE);
	if (has_note) {
		web_page_raw(&p, status == 200 ? "<p class=\"note\">" : "<p class=\"warn\">");
		web_page_t(&p, note);
		web_page_raw(&p, "</p>");
	}
	web_page_raw(&p, "<p>");
	web_page_t(&p, WT_MAILBOX);
	web_page_raw(&p, ": <b>");
	web_page_esc(&p, me->mailbox, 0);
	web_page_raw(&p, "</b></p>");
	web_me_list(&p, me, csrf, "allow", WT_ALLOW_LIST, WT_ALLOW_HELP);
	web_me_list(&p, me, csrf, "block", WT_BLOCK_LIST, WT_BLOCK_HELP);
	if (om_settings_user_may_change(me->may, "digest"))
		web_me_digest(&p, me, csrf);
	web_me_features_section(&p, me, csrf);
	web_page_raw(&p, "<p><a href=\"");
	web_page_esc(&p, req->root, 0);
	web_page_raw(&p, "q/");
	web_page_esc(&p, req->token, 0);
	web_page_raw(&p, "\">");
	web_page_t(&p, WT_TO_BOX);
	web_page_raw(&p, "</a></p>");
	web_page_finish(&p, req, resp, status);
	free(csrf);
}

/* Token, store, language and settings for both methods: 1, or 0 with resp
   filled. */
static int web_me_open(struct web_request *req, struct web_response *resp,
		       struct om_token_claims *claims, struct web_me *me)
{
	memset(me, 0, sizeof(*me));
	if (!web_link_check_either(req, WEB_ACTION_SESSION, WEB_ACTION_BOX, claims,
				   resp))
		return 0;
	me->req = req;
	me->mailbox = claims->mailbox;
	me->store = web_store(req->server);
	me->lang = web_page_lang_mailbox(req, me->store, claims->mailbox);
	if (strcmp(claims->action, WEB_ACTION_SESSION) != 0) {
		/* a digest's link: its holder may not be the mailbox's owner */
		om_log_info("client=%s mailbox=%s settings refused: not logged in",
			    req->address, me->mailbox);
		web_page_message(req, resp, 403, me->lang, WT_ME_TITLE,
				 WT_LOGIN_FOR_SETTINGS, 1);
		return 0;
	}
	if (me->store == NULL) {
		web_page_message(req, resp, 503, me->lang, WT_ERROR_TITLE,
				 WT_ERROR_BODY, 0);
		return 0;
	}
	return web_me_load(me) == 0;
}

void web_me_show(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_me me;

	if (!web_me_open(req, resp, &claims, &me))
		return;
	web_me_page(&me, resp, 200, req->query_done != NULL, WT_SAVED);
	free(me.may);
}

/* ---- changes: each returns 0 done, or an HTTP status with *note_r ---- */

static unsigned int web_me_list_change(struct web_me *me, int add,
				       enum web_text *note_r)
{
	const struct om_config *config = me->req->server->config;
	const char *kind = web_form_get(&me->req->form, "kind");
	const char *entry = web_form_get(&me->req->form, "entry");
	char *norm, *error = NULL;
	const char *entries[1];
	int ret;

	*note_r = WT_NOT_YOURS;
	if (!om_settings_user_may_change(me->may, "lists"))
		return 403;
	*note_r = WT_ENTRY_INVALID;
	if (kind == NULL || entry == NULL ||
	    (strcmp(kind, "allow") != 0 && strcmp(kind, "block") != 0))
		return 400;
	if ((norm = om_lists_entry(kind, entry, &error)) == NULL) {
		free(error);
		return 400;
	}
	*note_r = WT_ALLOW_OFF;
	if (add && strcmp(kind, "allow") == 0 && !me->allow_lists) {
		free(norm);
		return 403;
	}
	entries[0] = norm;
	ret = add ? om_lists_add(me->store, me->mailbox, OM_KEY_MAILBOX, kind, norm,
				 config->list_max_entries, &error) :
		om_lists_change(me->store, me->mailbox, OM_KEY_MAILBOX, kind, entries,
				1, 0, config->list_max_entries, &error);
	if (ret < 0) {
		om_log_info("client=%s mailbox=%s list %s %s refused: %s",
			    me->req->address, me->mailbox, kind, add ? "add" : "del", error);
		free(error);
		free(norm);
		*note_r = add ? WT_LIST_FULL : WT_ERROR_BODY;
		return add ? 409 : 503;
	}
	if (ret == 0 && !add) {
		free(norm);
		*note_r = WT_NOT_ON_LIST;
		return 409;
	}
	om_log_info("client=%s mailbox=%s list %s %s %s", me->req->address,
		    me->mailbox, kind, add ? "add" : "del", norm);
	free(norm);
	return 0;
}

/* The digest setting's value from the form (allocated), or NULL. */
static char *web_me_digest_value(const struct web_form *form)
{
	const char *when = web_form_get(form, "when");
	const char *time = web_form_get(form, "time");
	const char *hours = web_form_get(form, "hours");
	unsigned long n;
	char *value = NULL, *error = NULL;

	if (when == NULL)
		return NULL;
	if (strcmp(when, "off") == 0)
		value = om_strdup("off");
	else if (strcmp(when, "daily") == 0 && time != NULL && strlen(time) == 5)
		value = om_asprintf("daily %s", time);
	else if (strcmp(when, "every") == 0 && hours != NULL &&
		 om_parse_ulong(hours, 1, 24, &n) == 0)
		value = om_asprintf("every %lu", n);
	if (value != NULL &&
	    om_settings_domain_check(OM_SETTING_DIGEST, value, &error) < 0) {
		free(error);
		om_free(&value);
	}
	return value;
}

/* Stores a mailbox-level setting as `omamorictl mailbox set` does. */
static unsigned int web_me_set(struct web_me *me, const char *name,
			       const char *value, enum web_text *note_r)
{
	char *error = NULL;

	if (om_settings_domain_check(name, value, &error) < 0 ||
	    om_store_domain_set(me->store, me->mailbox, name, value, &error) < 0) {
		om_log_error("mailbox=%s setting %s: %s", me->mailbox, name, error);
		free(error);
		*note_r = WT_ERROR_BODY;
		return 503;
	}
	om_log_info("client=%s mailbox=%s set %s=%s", me->req->address, me->mailbox,
		    name, value);
	return 0;
}

static unsigned int web_me_digest_change(struct web_me *me, enum web_text *note_r)
{
	char *value;
	unsigned int status;

	*note_r = WT_NOT_YOURS;
	if (!om_settings_user_may_change(me->may, "digest"))
		return 403;
	*note_r = WT_DIGEST_INVALID;
	if ((value = web_me_digest_value(&me->req->form)) == NULL)
		return 400;
	status = web_me_set(me, OM_SETTING_DIGEST, value, note_r);
	free(value);
	return status;
}

static unsigned int web_me_known_change(struct web_me *me, enum web_text *note_r)
{
	const char *value = web_form_get(&me->req->form, "value");

	*note_r = WT_NOT_YOURS;
	if (!om_settings_user_may_change(me->may, "digest"))
		return 403;
	*note_r = WT_BAD_REQUEST_BODY;
	if (value == NULL || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0))
		return 400;
	return web_me_set(me, OM_SETTING_DIGEST_KNOWN_SENDERS, value, note_r);
}

/* Pause or resume a subscribed feature (never subscribe one: that is
   the ISP's, with its contract). */
static unsigned int web_me_feature_change(struct web_me *me, enum web_text *note_r)
{
	const char *feature = web_form_get(&me->req->form, "feature");
	const char *state = web_form_get(&me->req->form, "state");
	enum om_sub_state now;
	const char *source;
	char *error = NULL;

	*note_r = WT_BAD_REQUEST_BODY;
	if (feature == NULL || state == NULL || !om_settings_feature_valid(feature) ||
	    (strcmp(state, "on") != 0 && strcmp(state, "paused") != 0))
		return 400;
	*note_r = WT_NOT_YOURS;
	if (!om_settings_user_may_change(me->may, feature))
		return 403;
	if (om_settings_subscription(me->store, me->mailbox, feature, &now, &source,
				     &error) < 0 ||
	    (now != OM_SUB_OFF &&
	     om_store_subscription_set(me->store, me->mailbox, feature, state,
				       &error) < 0)) {
		om_log_error("mailbox=%s subscription %s: %s", me->mailbox, feature, error);
		free(error);
		*note_r = WT_ERROR_BODY;
		return 503;
	}
	if (now == OM_SUB_OFF)
		return 403;
	om_log_info("client=%s mailbox=%s feature %s %s", me->req->address,
		    me->mailbox, feature, state);
	return 0;
}

void web_me_change(struct web_request *req, struct web_response *resp)
{
	struct om_token_claims claims;
	struct web_me me;
	const char *what;
	enum web_text note = WT_BAD_REQUEST_BODY;
	unsigned int status = 400;

	if (!web_me_open(req, resp, &claims, &me))
		return;
	if (!web_link_csrf_spend(req, me.store, me.mailbox, WEB_FORM_ME, me.lang, resp)) {
		free(me.may);
		return;
	}
	what = web_form_get(&req->form, "do");
	if (what == NULL)
		status = 400;
	else if (strcmp(what, "list-add") == 0 || strcmp(what, "list-del") == 0)
		status = web_me_list_change(&me, strcmp(what, "list-add") == 0, &note);
	else if (strcmp(what, "digest") == 0)
		status = web_me_digest_change(&me, &note);
	else if (strcmp(what, "known") == 0)
		status = web_me_known_change(&me, &note);
	else if (strcmp(what, "feature") == 0)
		status = web_me_feature_change(&me, &note);
	if (status == 0) {
		/* after a change, a GET of the page (reloading it repeats
		   nothing); relative to /me/, so the proxy's prefix stays */
		resp->status = 303;
		resp->location = om_asprintf("%s?done=1", req->token);
		resp->body = (char *)"";
		resp->body_static = 1;
		resp->content_type = "text/plain; charset=utf-8";
	} else {
		web_me_page(&me, resp, status, 1, note);
	}
	free(me.may);
}
