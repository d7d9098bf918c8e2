/* attach-mail.c - the attachment analysis over one message (attach-mail.h).
 *
 * Seed 004's exceptions are no attachments: inline text, inline images of
 * multipart/related, delivery and read notifications, S/MIME parts.  An
 * attached message's parts are analysed like the others (what is risky
 * inside an .eml counts).  The action of each finding is its class's
 * setting (attachment-action-<class>), "default" meaning the domain's
 * attachment-action; the strictest of the message's findings decides
 * quarantine, and every attachment whose own action is remove is taken out.
 * Isolate takes the attachment out too, and keeps it: encrypted into
 * isolate_dir (crypto/vault.h), a row in the store, and the notice links
 * to omamori-web's page for it (/f/<token>, signed for the recipient).
 * The domain may isolate seed 004's archive types, or every attachment
 * (zero trust), whatever was found.  Isolation that cannot be done (no
 * key, no store) removes instead; one that fails midway tempfails.
 * With a sandbox hook (sandbox.h), the files with a finding go to it
 * first: its verdict by file hash is kept in the store; while it is
 * pending the mail is deferred (tempfail), up to sandbox_max_wait from the
 * file's first sending, then delivered with ATT_SANDBOX_UNKNOWN (a
 * warning); "malicious" is the finding ATT_SANDBOX, with its action.
 */
#include "scan/attach-mail.h"
#include "scan/attach.h"
#include "scan/av.h"
#include "scan/filetype.h"
#include "scan/sandbox.h"
#include "scan/unmacro.h"
#include "scan/geo.h"
#include "scan/scan.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "notice/wrap.h"
#include "crypto/token.h"
#include "crypto/vault.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#define OM_ATT_BODY_TEXT_MAX (64u * 1024)	/* body bytes read for passwords */
#define OM_ATT_HEADER_MAX 900

enum om_att_action {
	OM_ATT_IGNORE = 0, OM_ATT_WARN, OM_ATT_ISOLATE, OM_ATT_REMOVE, OM_ATT_QUARANTINE,
	/* the whole mail into Quarantine, released only by the
	   administrator (seeds 001, 003) */
	OM_ATT_QUARANTINE_ADMIN
};

/* Why a leaf is isolated (the store's "why"). */
enum om_att_why { OM_ATT_WHY_NONE = 0, OM_ATT_WHY_FINDING, OM_ATT_WHY_ARCHIVE,
		  OM_ATT_WHY_ALL };

/* The domain's isolation switches. */
struct om_att_policy {
	int actions[OM_ATT_KIND_COUNT];
	int archives;		/* 0 off, 1 on, 2 with-zip */
	int all;
	long days;
};

struct om_att_mail {
	struct om_mime_leaf *leaves;
	size_t count;
	struct om_att_report *reports;	/* per leaf; count 0: nothing */
	char **passwords;		/* the body's, once asked for */
	unsigned char *analysed;	/* per leaf: an attachment, analysed */
	int any;
	int any_attachment;
};

int om_att_mail_enabled(const struct om_scan_settings *set,
			const struct om_scan_request *req)
{
	enum om_sub_state state;
	const char *source;
	char *error = NULL, *key;
	int ret;

	if (set->attachment_rules == NULL || set->snap == NULL ||
	    req->direction == OM_DIRECTION_OUT || req->mailbox == NULL)
		return 0;
	/* the domain's subscription (its own, global, default): the delivery
	   plugin scans once per message and domain, so a mailbox's own row
	   is not asked */
	key = om_asprintf("@%s", om_settings_domain_of(req->mailbox));
	ret = om_settings_subscription_from(om_snapshot_source(set->snap), key,
					    OM_FEATURE_ATTACHMENTS, &state,
					    &source, &error);
	free(key);
	free(error);
	return ret == 0 && state == OM_SUB_ON;
}

static int om_att_type_is(GMimeObject *obj, const char *type, const char *sub)
{
	GMimeContentType *ct = obj != NULL ? g_mime_object_get_content_type(obj) : NULL;

	return ct != NULL && g_mime_content_type_is_type(ct, type, sub);
}

/* 1 if the leaf is one of seed 004's exceptions (no attachment). */
static int om_att_leaf_exempt(const struct om_mime_leaf *leaf)
{
	GMimeObject *obj = leaf->object;
	GMimeObject *parent = leaf->unit == leaf->object ? leaf->unit_parent : NULL;
	const char *disp = obj != NULL ? g_mime_object_get_disposition(obj) : NULL;
	int attachment = disp != NULL && strcasecmp(disp, "attachment") == 0;

	if (obj == NULL || leaf->is_body)
		return 1;
	if (om_att_type_is(obj, "text", "*") && !attachment)
		return 1;
	if (om_att_type_is(obj, "image", "*") && !attachment &&
	    g_mime_object_get_content_id(obj) != NULL &&
	    parent != NULL && om_att_type_is(parent, "multipart", "related"))
		return 1;
	if (om_att_type_is(obj, "message", "disposition-notification") ||
	    om_att_type_is(obj, "message", "delivery-status") ||
	    om_att_type_is(obj, "text", "rfc822-headers"))
		return 1;
	if (om_att_type_is(obj, "application", "pkcs7-mime") ||
	    om_att_type_is(obj, "application", "x-pkcs7-mime") ||
	    om_att_type_is(obj, "application", "pkcs7-signature") ||
	    om_att_type_is(obj, "application", "x-pkcs7-signature") ||
	    (parent != NULL && om_att_type_is(parent, "multipart", "signed")))
		return 1;
	return 0;
}

/* The passwords written in the readable text of the message. */
static char **om_att_body_passwords(const struct om_att_rules *rules,
				    struct om_mime_leaf *leaves, size_t count)
{
	struct om_buf text, part;
	char **list, *error = NULL;
	size_t i, n;

	(void)rules;
	om_buf_init(&text);
	om_buf_init(&part);
	for (i = 0; i < count && text.len < OM_ATT_BODY_TEXT_MAX; i++) {
		if (!leaves[i].is_body)
			continue;
		om_buf_reset(&part);
		if (om_mime_leaf_decode(&leaves[i], &part, &error) == 0) {
			n = part.len;
			if (n > OM_ATT_BODY_TEXT_MAX - text.len)
				n = OM_ATT_BODY_TEXT_MAX - text.len;
			om_buf_append(&text, part.data, n);
			om_buf_append(&text, "\n", 1);
		}
		om_free(&error);
	}
	list = om_att_passwords(text.data != NULL ? text.data : "", text.len, 16, &n);
	om_buf_free(&text);
	om_buf_free(&part);
	return list;
}

struct om_att_mail *om_att_mail_new(struct om_mime_leaf *leaves, size_t count)
{
	struct om_att_mail *am = om_calloc(1, sizeof(*am));

	am->leaves = leaves;
	am->count = count;
	am->reports = om_calloc(count + 1, sizeof(*am->reports));
	am->analysed = om_calloc(count + 1, 1);
	return am;
}

void om_att_mail_leaf(struct om_att_mail *am, const struct om_scan_settings *set,
		      size_t i, const char *data, size_t len, char **virus_r)
{
	struct om_att_report *rep;
	struct om_mime_leaf *leaf;

	if (i >= am->count || om_att_leaf_exempt(&am->leaves[i]))
		return;
	rep = &am->reports[i];
	leaf = &am->leaves[i];
	am->analysed[i] = 1;
	am->any_attachment = 1;
	om_att_analyze(set->attachment_rules, leaf->filename, leaf->content_type,
		       data != NULL ? data : "", len, NULL, set->engine, set->filetype, rep);
	/* an encrypted archive: again, with the body's passwords (read only
	   now: most mail has no encrypted archive) */
	if (om_att_report_has(rep, OM_ATT_ENCRYPTED)) {
		if (am->passwords == NULL)
			am->passwords = om_att_body_passwords(set->attachment_rules,
							      am->leaves, am->count);
		om_att_report_free(rep);
		om_att_analyze(set->attachment_rules, leaf->filename,
			       leaf->content_type, data != NULL ? data : "", len,
			       am->passwords, set->engine, set->filetype, rep);
	}
	if (rep->virus != NULL && *virus_r == NULL)
		*virus_r = om_asprintf("%s (%s)", rep->virus, rep->virus_member);
	if (rep->count > 0)
		am->any = 1;
}

static int om_att_action_parse(const char *word)
{
	if (strcmp(word, "ignore") == 0)
		return OM_ATT_IGNORE;
	if (strcmp(word, "warn") == 0)
		return OM_ATT_WARN;
	if (strcmp(word, "quarantine") == 0)
		return OM_ATT_QUARANTINE;
	if (strcmp(word, "quarantine-admin") == 0)
		return OM_ATT_QUARANTINE_ADMIN;
	if (strcmp(word, "isolate") == 0)
		return OM_ATT_ISOLATE;
	if (strcmp(word, "remove") == 0)
		return OM_ATT_REMOVE;
	return -1;
}

static const char *om_att_action_word(int action)
{
	static const char *const words[] = { "ignore", "warn", "isolate", "remove",
					     "quarantine", "quarantine-admin" };

	return action >= 0 && action <= OM_ATT_QUARANTINE_ADMIN ? words[action] : "?";
}

/* One domain setting of the recipient, parsed by the caller. */
static char *om_att_setting(const struct om_scan_settings *set,
			    const struct om_scan_request *req, const char *name,
			    char **error_r)
{
	return om_settings_domain_value_from(om_snapshot_source(set->snap), req->mailbox,
					     name, om_settings_default(name), error_r);
}

/* The isolation switches of the recipient's domain.  0 or -1. */
static int om_att_isolation_policy(const struct om_scan_settings *set,
				   const struct om_scan_request *req,
				   struct om_att_policy *pol, char **error_r)
{
	char *archives, *all, *days;

	archives = om_att_setting(set, req, OM_SETTING_ATTACHMENT_ISOLATE_ARCHIVES, error_r);
	if (archives == NULL)
		return -1;
	all = om_att_setting(set, req, OM_SETTING_ATTACHMENT_ISOLATE_ALL, error_r);
	if (all == NULL) {
		free(archives);
		return -1;
	}
	days = om_att_setting(set, req, OM_SETTING_ATTACHMENT_ISOLATE_DAYS, error_r);
	if (days == NULL) {
		free(archives);
		free(all);
		return -1;
	}
	pol->archives = strcmp(archives, "with-zip") == 0 ? 2 : strcmp(archives, "on") == 0;
	pol->all = strcmp(all, "on") == 0;
	pol->days = om_settings_number(days, OM_DEFAULT_ATTACHMENT_ISOLATE_DAYS);
	if (pol->days < 1)
		pol->days = OM_DEFAULT_ATTACHMENT_ISOLATE_DAYS;
	free(archives);
	free(all);
	free(days);
	return 0;
}

/* The action of each class for the recipient: actions[class index]. */
static int om_att_class_actions(const struct om_scan_settings *set,
				const struct om_scan_request *req,
				int actions[OM_ATT_KIND_COUNT], char **error_r)
{
	const struct om_settings_source *src = om_snapshot_source(set->snap);
	char *base, *value, *name;
	int def, k;

	base = om_settings_domain_value_from(src, req->mailbox,
					     OM_SETTING_ATTACHMENT_ACTION,
					     OM_DEFAULT_ATTACHMENT_ACTION, error_r);
	if (base == NULL)
		return -1;
	def = om_att_action_parse(base);
	free(base);
	if (def < 0)
		def = OM_ATT_ISOLATE;
	for (k = 0; k < OM_ATT_KIND_COUNT; k++) {
		name = om_asprintf("%s%s", OM_SETTING_ATTACHMENT_ACTION_PREFIX,
				   om_att_kind_class((enum om_att_kind)k));
		value = om_settings_domain_value_from(src, req->mailbox, name,
						      "default", error_r);
		free(name);
		if (value == NULL)
			return -1;
		actions[k] = om_att_action_parse(value);
		if (actions[k] < 0)
			actions[k] = def;
		free(value);
	}
	/* no verdict in time: a warning beside the other findings' actions */
	actions[OM_ATT_SANDBOX_UNKNOWN] = OM_ATT_WARN;
	return 0;
}

/* A leaf's action: the strictest of its findings'. */
static int om_att_leaf_action(const struct om_att_report *rep,
			      const int actions[OM_ATT_KIND_COUNT])
{
	int action = OM_ATT_IGNORE;
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if (actions[rep->findings[i].kind] > action)
			action = actions[rep->findings[i].kind];
	}
	return action;
}

/* 1 when the leaf's name has one of seed 004's archive extensions (7z
   bz2 wim rar lzh Z gz tar, and zip with with-zip). */
static int om_att_leaf_archive(const struct om_mime_leaf *leaf, int archives)
{
	static const char *const exts[] = {
		"7z", "bz2", "wim", "rar", "lzh", "lha", "z", "gz", "tgz", "tar", NULL
	};
	const char *dot = leaf->filename != NULL ? strrchr(leaf->filename, '.') : NULL;
	size_t i;

	if (archives == 0 || dot == NULL || strchr(dot, '/') != NULL)
		return 0;
	dot++;
	if (archives == 2 && strcasecmp(dot, "zip") == 0)
		return 1;
	for (i = 0; exts[i] != NULL; i++) {
		if (strcasecmp(dot, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* 1 when this scand can isolate: a key, a directory, the store, and the
   link key for the page's link. */
static int om_att_can_isolate(const struct om_scan_settings *set)
{
	return set->isolate_pk != NULL && set->isolate_dir != NULL &&
		set->isolate_dir[0] != '\0' && set->store != NULL &&
		set->link_keys != NULL && set->web_url != NULL && set->web_url[0] != '\0';
}

/* The findings as the notice lists them, in the recipient's language. */
static char *om_att_findings_text(const struct om_att_mail *am,
				  const int *leaf_actions, const char *lang)
{
	int en = strcmp(lang, "en") == 0;
	struct om_buf b;
	size_t i, j;

	om_buf_init(&b);
	for (i = 0; i < am->count; i++) {
		const struct om_att_report *rep = &am->reports[i];

		if (leaf_actions[i] == OM_ATT_IGNORE)
			continue;
		for (j = 0; j < rep->count; j++) {
			om_buf_printf(&b, "  - %s: %s [%s]%s\n", rep->findings[j].where,
				      om_att_kind_reason(rep->findings[j].kind, lang),
				      om_att_kind_name(rep->findings[j].kind),
				      leaf_actions[i] == OM_ATT_REMOVE ?
				      (en ? " (removed)" : "（削除しました）") :
				      leaf_actions[i] == OM_ATT_ISOLATE ?
				      (en ? " (isolated)" : "（分離しました）") : "");
		}
	}
	return om_buf_steal(&b, NULL);
}

/* The X-Omamori-Attachments value: "NAME where (action); ...", and
   ISOLATED_ARCHIVE / ISOLATED_ALL for a file the domain isolates
   whatever was found. */
static char *om_att_header_value(const struct om_att_mail *am,
				 const int *leaf_actions, const unsigned char *whys)
{
	struct om_buf b;
	char *value;
	size_t i, j;

	om_buf_init(&b);
	for (i = 0; i < am->count; i++) {
		for (j = 0; j < am->reports[i].count; j++) {
			om_buf_printf(&b, "%s%s %s (%s)", b.len > 0 ? "; " : "",
				      om_att_kind_name(am->reports[i].findings[j].kind),
				      am->reports[i].findings[j].where,
				      om_att_action_word(leaf_actions[i]));
		}
		if (whys[i] == OM_ATT_WHY_ARCHIVE || whys[i] == OM_ATT_WHY_ALL)
			om_buf_printf(&b, "%s%s %s (%s)", b.len > 0 ? "; " : "",
				      whys[i] == OM_ATT_WHY_ALL ? "ISOLATED_ALL" :
				      "ISOLATED_ARCHIVE",
				      am->leaves[i].filename != NULL ?
				      am->leaves[i].filename : "(no name)",
				      om_att_action_word(leaf_actions[i]));
	}
	value = om_sanitize(b.data != NULL ? b.data : "", OM_ATT_HEADER_MAX);
	om_buf_free(&b);
	return value;
}

/* "  受信経路の国: CN → US → JP\n" (seed 004), or "" without a country
   database or a public hop it knows. */
static char *om_att_received_text(const struct om_scan_settings *set,
				  struct om_mime_msg *msg)
{
	char path[OM_GEO_PATH_MAX];
	struct om_buf b;
	const char *p;

	if (set->geo == NULL || msg == NULL ||
	    om_geo_received_path(set->geo, msg, path) == 0)
		return om_strdup("");
	om_buf_init(&b);
	om_buf_append_str(&b, strcmp(set->language, "en") == 0 ?
			  "  Countries the mail passed: " : "  受信経路の国: ");
	for (p = path; *p != '\0'; p++) {
		if (*p == ' ')
			om_buf_append_str(&b, " → ");
		else
			om_buf_append(&b, p, 1);
	}
	om_buf_append_str(&b, "\n");
	return om_buf_steal(&b, NULL);
}

static char *om_att_render(const struct om_scan_settings *set, struct om_mime_msg *msg,
			   const char *name, const char *findings, const char *result,
			   const char *isolated, long days, char **error_r)
{
	char *when = om_notify_time_text(set->now), daytext[24];
	char *received = om_att_received_text(set, msg);
	struct om_notify_var vars[] = {
		{ "detected_at", when }, { "findings", findings },
		{ "result", result }, { "isolated", isolated }, { "days", daytext },
		{ "received", received }, { NULL, NULL }
	};
	char *text;

	(void)snprintf(daytext, sizeof(daytext), "%ld", days);
	text = om_notify_render_branded(set->templates_dir, set->language, name,
					vars, &set->brand, error_r);
	free(when);
	free(received);
	return text;
}

/* The whole mail into Quarantine, under a notice saying why (admin: only
   the administrator may release it, and the notice says so). */
static int om_att_quarantine(const struct om_scan_settings *set,
			     const struct om_scan_request *req, struct om_mime_msg *msg,
			     struct om_scan_result *res, const char *findings,
			     int admin, char **error_r)
{
	struct om_buf out;
	char *notice = om_att_render(set, msg, admin ? "attachment-quarantine-admin" :
				     "attachment-quarantine", findings, "", "", 0, error_r);

	if (notice == NULL)
		return -1;
	om_buf_init(&out);
	om_wrap_message(req->message, req->message_len, notice, &out);
	free(notice);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
	res->action = admin ? OM_ACTION_QUARANTINE_ADMIN : OM_ACTION_QUARANTINE;
	return 0;
}

/* ---- isolation ---- */

/* The store's findings of one report: "NAME\twhere\tja\ten" lines. */
static char *om_att_findings_lines(const struct om_att_report *rep)
{
	struct om_buf b;
	char *where;
	size_t j;

	om_buf_init(&b);
	for (j = 0; j < rep->count; j++) {
		where = om_sanitize(rep->findings[j].where, 300);
		om_buf_printf(&b, "%s\t%s\t%s\t%s\n", om_att_kind_name(rep->findings[j].kind),
			      where, om_att_kind_reason(rep->findings[j].kind, "ja"),
			      om_att_kind_reason(rep->findings[j].kind, "en"));
		free(where);
	}
	om_buf_append(&b, "", 0);
	return om_buf_steal(&b, NULL);
}

/* The findings of leaf i, and for a leaf inside an attached message those
   of every leaf of that message. */
static char *om_att_findings_unit(const struct om_att_mail *am, size_t i)
{
	struct om_buf b;
	char *one;
	size_t j;

	if (!am->leaves[i].in_attached_message)
		return om_att_findings_lines(&am->reports[i]);
	om_buf_init(&b);
	for (j = 0; j < am->count; j++) {
		if (am->leaves[j].unit != am->leaves[i].unit)
			continue;
		one = om_att_findings_lines(&am->reports[j]);
		om_buf_append_str(&b, one);
		free(one);
	}
	om_buf_append(&b, "", 0);
	return om_buf_steal(&b, NULL);
}

/* 1 when an earlier leaf of the same attached message was isolated: the
   message is kept once. */
static int om_att_unit_done(const struct om_att_mail *am, const int *leaf_actions,
			    size_t i)
{
	size_t j;

	if (!am->leaves[i].in_attached_message)
		return 0;
	for (j = 0; j < i; j++) {
		if (am->leaves[j].unit == am->leaves[i].unit &&
		    leaf_actions[j] == OM_ATT_ISOLATE)
			return 1;
	}
	return 0;
}

/* Writes data encrypted as isolate_dir/id; *sealed_r its sealed key.  0,
   or -1 with *error_r and nothing left on disk. */
static int om_att_isolate_write(const struct om_scan_settings *set, const char *id,
				const struct om_buf *data, char **sealed_r,
				char **error_r)
{
	char *path = om_asprintf("%s/%s", set->isolate_dir, id);
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		*error_r = om_asprintf("isolate: %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/* omamori-web reads it through the directory's group, whatever the
	   umask */
	if (fchmod(fd, 0640) < 0) {
		*error_r = om_asprintf("isolate: %s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		free(path);
		return -1;
	}
	ret = om_vault_write(fd, set->isolate_pk, id, data->data != NULL ? data->data : "",
			     data->len, sealed_r, error_r);
	if (close(fd) < 0 && ret == 0) {
		*error_r = om_asprintf("isolate: %s: %s", path, strerror(errno));
		om_free(sealed_r);
		ret = -1;
	}
	if (ret < 0)
		(void)unlink(path);
	free(path);
	return ret;
}

/* The page's link for id: web_url "f/" token (allocated), or NULL. */
static char *om_att_isolate_link(const struct om_scan_settings *set,
				 const char *mailbox, const char *id, long long expires)
{
	struct om_token_claims claims;
	size_t len = strlen(set->web_url);
	char *token, *url;

	memset(&claims, 0, sizeof(claims));
	if (om_strlcpy(claims.mailbox, mailbox, sizeof(claims.mailbox)) < 0 ||
	    om_strlcpy(claims.action, OM_VAULT_TOKEN_ACTION, sizeof(claims.action)) < 0 ||
	    om_strlcpy(claims.message, id, sizeof(claims.message)) < 0)
		return NULL;
	claims.expires = (time_t)expires;
	token = om_token_make(set->link_keys, &claims);
	if (token == NULL)
		return NULL;
	url = om_asprintf("%s%sf/%s", set->web_url,
			  len > 0 && set->web_url[len - 1] == '/' ? "" : "/", token);
	free(token);
	return url;
}

/* 1 when every finding of rep is ATT_MACRO (a copy without the macros
   then has nothing left to warn of). */
static int om_att_only_macros(const struct om_att_report *rep)
{
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if (rep->findings[i].kind != OM_ATT_MACRO)
			return 0;
	}
	return rep->count > 0 && rep->virus == NULL;
}

/* 1 when copy, analysed again and scanned with libclamav, is clean. */
static int om_att_copy_clean(const struct om_scan_settings *set, const char *name,
			     const struct om_buf *copy)
{
	struct om_att_report rep;
	char *virus = NULL, *error = NULL;
	int clean;

	if (set->engine == NULL)
		return 0;
	om_att_analyze(set->attachment_rules, name, NULL, copy->data, copy->len, NULL,
		       set->engine, set->filetype, &rep);
	clean = rep.count == 0 && rep.virus == NULL;
	om_att_report_free(&rep);
	if (clean)
		clean = om_av_scan_buffer(set->engine, copy->data, copy->len, 0, &virus,
					  &error) == OM_AV_CLEAN;
	free(virus);
	free(error);
	return clean;
}

/* The macro-free copy of an isolated file, written, its row to record. */
struct om_att_copy {
	struct om_store_isolated row;
	char id[OM_VAULT_NEW_ID_LEN + 1];
	char mime[OM_FILETYPE_MIME_MAX + 1];
	char *name, *sealed;
};

static void om_att_copy_free(struct om_att_copy *c)
{
	free(c->name);
	free(c->sealed);
	memset(c, 0, sizeof(*c));
}

/* Removes the file of id from isolate_dir. */
static void om_att_isolate_unlink(const struct om_scan_settings *set, const char *id)
{
	char *path = om_asprintf("%s/%s", set->isolate_dir, id);

	(void)unlink(path);
	free(path);
}

/* Leaf i had macros and nothing else: its macro-free copy (unmacro.h),
   analysed and scanned again, is written beside the original (orig,
   data) under the id derived from the original's (vault.h), for the
   page's "download with macros removed"; its row into c, recorded by the
   caller with the original's in one transaction.  1, or 0 when no copy
   can be made, it is not clean, or writing it failed (logged: the
   original is isolated all the same). */
static int om_att_unmacro_write(const struct om_att_mail *am, size_t i,
				const struct om_scan_settings *set,
				const struct om_store_isolated *orig,
				const struct om_buf *data, struct om_att_copy *c)
{
	char *cname = NULL, *error = NULL;
	struct om_buf copy;
	int made = 0;

	memset(c, 0, sizeof(*c));
	if (!om_att_only_macros(&am->reports[i]))
		return 0;
	om_buf_init(&copy);
	if (om_unmacro_ooxml(orig->name, data->data != NULL ? data->data : "", data->len,
			     &copy, &cname, &error) <= 0 ||
	    !om_att_copy_clean(set, cname, &copy) ||
	    om_vault_derived_id(orig->id, "unmacro", c->id) < 0 ||
	    om_att_isolate_write(set, c->id, &copy, &c->sealed, &error) < 0) {
		if (error != NULL)
			om_log_warn("mailbox=%s isolated=%s no copy without macros: %s",
				    orig->mailbox, orig->id, error);
	} else {
		c->name = om_sanitize(cname, 250);
		c->row = *orig;
		c->row.id = c->id;
		c->row.name = c->name;
		c->row.size = (long long)copy.len;
		if (set->filetype != NULL)
			om_filetype_mime(set->filetype, copy.data, copy.len, c->mime);
		c->row.true_type = set->filetype != NULL ? c->mime :
			om_att_true_type(copy.data, copy.len);
		c->row.findings = "";
		c->row.scan = "clean";
		c->row.why = "unmacro";
		c->row.sealed = c->sealed;
		made = 1;
	}
	free(error);
	free(cname);
	om_buf_free(&copy);
	return made;
}

/* One leaf into isolation: the file, its row, its line in the notice's
   list ("  - name\n    link\n").  0, or -1 with *error_r. */
static int om_att_isolate_leaf(const struct om_att_mail *am, size_t i,
			       const struct om_scan_settings *set,
			       const struct om_scan_request *req, long days,
			       enum om_att_why why, const char *subject,
			       const char *received, struct om_buf *list, char **error_r)
{
	static const char *const whys[] = { "finding", "finding", "archive", "all" };
	const struct om_mime_leaf *leaf = &am->leaves[i];
	char id[OM_VAULT_NEW_ID_LEN + 1], *sealed = NULL, *name, *findings, *link;
	char *unit_name = NULL, mime[OM_FILETYPE_MIME_MAX + 1];
	struct om_store_isolated row, rows[2];
	struct om_att_copy copy;
	int has_copy;
	struct om_buf data;
	int ret;

	om_buf_init(&data);
	/* inside an attached message: the unit that leaves the mail is the
	   whole attached message, so that is what is kept */
	om_mime_unit_message(leaf, &data, &unit_name);
	if (unit_name == NULL && om_mime_leaf_decode(leaf, &data, error_r) < 0) {
		om_buf_free(&data);
		return -1;
	}
	if (om_vault_new_id(id) < 0) {
		free(unit_name);
		om_buf_free(&data);
		*error_r = om_strdup("isolate: no random id");
		return -1;
	}
	if (om_att_isolate_write(set, id, &data, &sealed, error_r) < 0) {
		free(unit_name);
		om_buf_free(&data);
		return -1;
	}
	name = om_sanitize(unit_name != NULL ? unit_name :
			   leaf->filename != NULL ? leaf->filename : "(no name)", 250);
	findings = om_att_findings_unit(am, i);
	memset(&row, 0, sizeof(row));
	row.id = id;
	row.mailbox = req->mailbox;
	row.name = name;
	row.size = (long long)data.len;
	/* the page shows libmagic's MIME type; the table's word without it */
	if (set->filetype != NULL)
		om_filetype_mime(set->filetype, data.data != NULL ? data.data : "",
				 data.len, mime);
	row.true_type = set->filetype != NULL ? mime :
		om_att_true_type(data.data != NULL ? data.data : "", data.len);
	row.findings = findings;
	row.scan = om_att_report_has(&am->reports[i], OM_ATT_ENCRYPTED) ?
		"encrypted" : "clean";
	row.why = whys[why];
	row.subject = subject;
	row.sealed = sealed;
	row.created = (long long)set->now;
	row.expires = (long long)set->now + (long long)days * 86400;
	row.received = received;
	/* the file and its macro-free copy recorded in one transaction: one
	   commit (one sync of the store) for both */
	has_copy = unit_name == NULL && om_att_unmacro_write(am, i, set, &row, &data, &copy);
	rows[0] = row;
	if (has_copy)
		rows[1] = copy.row;
	ret = om_store_isolated_add_all(set->store, rows, has_copy ? 2 : 1, error_r);
	link = ret < 0 ? NULL : om_att_isolate_link(set, req->mailbox, id, row.expires);
	if (ret == 0 && link == NULL) {
		char *ignored = NULL;

		*error_r = om_strdup("isolate: no link could be made for the page");
		(void)om_store_isolated_delete(set->store, id, &ignored);
		om_free(&ignored);
		if (has_copy)
			(void)om_store_isolated_delete(set->store, copy.id, &ignored);
		free(ignored);
		ret = -1;
	}
	if (ret < 0) {
		om_att_isolate_unlink(set, id);
		if (has_copy)
			om_att_isolate_unlink(set, copy.id);
	} else {
		om_buf_printf(list, "  - %s\n    %s\n", name, link);
		om_log_info("mailbox=%s isolated=%s name=%s why=%s", req->mailbox, id, name,
			    row.why);
		if (has_copy)
			om_log_info("mailbox=%s isolated=%s unmacro=%s name=%s", req->mailbox,
				    id, copy.id, copy.name);
	}
	if (has_copy)
		om_att_copy_free(&copy);
	om_buf_free(&data);
	free(unit_name);
	free(link);
	free(name);
	free(findings);
	free(sealed);
	return ret;
}

/* Every leaf whose action is isolate, into isolation; the notice's list
   into *list_r.  0, or -1 with *error_r. */
static int om_att_isolate_all(const struct om_att_mail *am,
			      const struct om_scan_settings *set,
			      const struct om_scan_request *req,
			      struct om_mime_msg *msg, const int *leaf_actions,
			      const unsigned char *whys, long days, char **list_r,
			      char **error_r)
{
	char *subject = NULL, *clean, received[OM_GEO_PATH_MAX];
	struct om_buf list;
	size_t i;
	int ret = 0;

	(void)om_geo_received_path(set->geo, msg, received);
	om_buf_init(&list);
	subject = om_mime_header_decoded(msg, "Subject");
	clean = om_sanitize(subject != NULL ? subject : "", 250);
	free(subject);
	for (i = 0; i < am->count && ret == 0; i++) {
		if (leaf_actions[i] == OM_ATT_ISOLATE && !om_att_unit_done(am, leaf_actions, i))
			ret = om_att_isolate_leaf(am, i, set, req, days,
						  (enum om_att_why)whys[i], clean,
						  received, &list, error_r);
	}
	free(clean);
	om_buf_append(&list, "", 0);
	*list_r = om_buf_steal(&list, NULL);
	return ret;
}

/* Attachments removed or isolated as their actions say, a notice at the
   top. */
static int om_att_notice(const struct om_att_mail *am,
			 const struct om_scan_settings *set,
			 const struct om_scan_request *req,
			 struct om_mime_msg *msg, struct om_scan_result *res,
			 const char *findings, const int *leaf_actions,
			 const unsigned char *whys, long days, char **error_r)
{
	int en = strcmp(set->language, "en") == 0, removed = 0, isolated = 0;
	char *notice, *list = NULL;
	struct om_buf out;
	size_t i;

	for (i = 0; i < am->count; i++) {
		removed |= leaf_actions[i] == OM_ATT_REMOVE;
		isolated |= leaf_actions[i] == OM_ATT_ISOLATE;
	}
	if (isolated && om_att_isolate_all(am, set, req, msg, leaf_actions, whys, days,
					   &list, error_r) < 0) {
		free(list);
		return -1;
	}
	notice = om_att_render(set, msg, isolated ? "attachment-isolate" : "attachment-notice",
			       findings,
			       removed ? (en ? "The attachments marked (removed) were taken out of this mail.\n" :
					  "（削除しました）とある添付ファイルは、このメールから取り除きました。\n") :
			       isolated ? "" :
			       (en ? "The attachments were delivered as they are.\n" :
				"添付ファイルはそのまま配送しています。\n"),
			       list != NULL ? list : "", days, error_r);
	free(list);
	if (notice == NULL)
		return -1;
	for (i = 0; i < am->count; i++) {
		if (leaf_actions[i] == OM_ATT_REMOVE || leaf_actions[i] == OM_ATT_ISOLATE)
			(void)om_mime_remove_unit(msg, &am->leaves[i]);
	}
	om_mime_add_notice(msg, notice);
	free(notice);
	om_buf_init(&out);
	om_mime_write(msg, &out);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
	if (removed || isolated)
		res->action = OM_ACTION_STRIP;
	return 0;
}

/* Each leaf's action and why (isolation by policy raises warn and
   ignore to isolate); the message's worst into *worst_r. */
static void om_att_leaf_actions(const struct om_att_mail *am,
				const struct om_att_policy *pol, int can_isolate,
				int *leaf_actions, unsigned char *whys, int *worst_r)
{
	size_t i;

	*worst_r = OM_ATT_IGNORE;
	for (i = 0; i < am->count; i++) {
		leaf_actions[i] = om_att_leaf_action(&am->reports[i], pol->actions);
		whys[i] = leaf_actions[i] == OM_ATT_ISOLATE ? OM_ATT_WHY_FINDING : OM_ATT_WHY_NONE;
		if (am->analysed[i] && leaf_actions[i] < OM_ATT_ISOLATE) {
			if (pol->all) {
				leaf_actions[i] = OM_ATT_ISOLATE;
				whys[i] = OM_ATT_WHY_ALL;
			} else if (om_att_leaf_archive(&am->leaves[i], pol->archives)) {
				leaf_actions[i] = OM_ATT_ISOLATE;
				whys[i] = OM_ATT_WHY_ARCHIVE;
			}
		}
		/* isolation this scand cannot do: removed, never delivered */
		if (leaf_actions[i] == OM_ATT_ISOLATE && !can_isolate)
			leaf_actions[i] = OM_ATT_REMOVE;
		if (leaf_actions[i] > *worst_r)
			*worst_r = leaf_actions[i];
	}
}

/* ---- the sandbox hook ---- */

struct om_att_cached {
	int found;
	enum om_sandbox_verdict verdict;
	long long first_seen;
};

static void om_att_cached_cb(void *context, const char *verdict, long long first_seen)
{
	struct om_att_cached *c = context;

	c->found = 1;
	c->verdict = om_sandbox_verdict_parse(verdict, strlen(verdict));
	c->first_seen = first_seen;
}

/* One run of the sandbox (the HTTP endpoint or the command). */
static enum om_sandbox_verdict om_att_sandbox_ask(const struct om_scan_settings *set,
						  const char *name, const char *hash,
						  const struct om_buf *data, char **why_r)
{
	if (set->sandbox_url != NULL && set->sandbox_url[0] != '\0')
		return om_sandbox_post(set->sandbox_url, name, hash,
				       data->data != NULL ? data->data : "", data->len,
				       set->sandbox_timeout, why_r);
	return om_sandbox_run(set->sandbox_command, name, hash,
			      data->data != NULL ? data->data : "", data->len,
			      set->sandbox_timeout, set->sandbox_temp_dir, why_r);
}

/* The sandbox's verdict of one file: the store's when final, else the
   command's (recorded).  Pending past sandbox_max_wait is unknown.  0, or
   -1 with *error_r (the store failed: the caller tempfails). */
static int om_att_sandbox_verdict(const struct om_scan_settings *set,
				  const struct om_scan_request *req, const char *name,
				  const struct om_buf *data, enum om_sandbox_verdict *v_r,
				  char **error_r)
{
	char hash[OM_SANDBOX_HASH_LEN + 1], *why = NULL;
	struct om_att_cached c;
	enum om_sandbox_verdict v;
	long long first;

	memset(&c, 0, sizeof(c));
	om_sandbox_hash(data->data, data->len, hash);
	if (om_store_sandbox_get(set->store, hash, om_att_cached_cb, &c, error_r) < 0)
		return -1;
	if (c.found && c.verdict != OM_SANDBOX_PENDING && c.verdict != OM_SANDBOX_FAILED) {
		*v_r = c.verdict;
		om_log_info("mailbox=%s sandbox=%s name=%s verdict=%s (cached)", req->mailbox,
			    hash, name, om_sandbox_verdict_word(c.verdict));
		return 0;
	}
	first = c.found ? c.first_seen : (long long)set->now;
	if (set->sandbox_gate != NULL && !om_sandbox_gate_enter(set->sandbox_gate)) {
		/* every slot taken: not sent now, the mail waits as for a
		   pending verdict (the clock of sandbox_max_wait runs) */
		om_log_info("mailbox=%s sandbox=%s name=%s busy (sandbox_max_concurrent "
			    "runs at once): deferred", req->mailbox, hash, name);
		v = OM_SANDBOX_PENDING;
	} else {
		v = om_att_sandbox_ask(set, name, hash, data, &why);
		if (set->sandbox_gate != NULL)
			om_sandbox_gate_leave(set->sandbox_gate);
	}
	if (v == OM_SANDBOX_FAILED) {
		om_log_warn("mailbox=%s sandbox=%s name=%s: %s", req->mailbox, hash,
			       name, why != NULL ? why : "failed");
		v = OM_SANDBOX_PENDING;
	}
	free(why);
	if (v == OM_SANDBOX_PENDING && (long long)set->now - first >= set->sandbox_max_wait)
		*v_r = OM_SANDBOX_UNKNOWN;	/* delivered with a warning, not cached */
	else
		*v_r = v;
	om_log_info("mailbox=%s sandbox=%s name=%s verdict=%s waited=%llds", req->mailbox,
		    hash, name, om_sandbox_verdict_word(*v_r),
		    (long long)set->now - first);
	if (c.found && v == OM_SANDBOX_PENDING)
		return 0;
	return om_store_sandbox_put(set->store, hash, om_sandbox_verdict_word(v), first,
				    (long long)set->now, error_r);
}

/* Every file with a finding the domain does not ignore to the sandbox
   (seeds 000, 003: only those); its verdict a finding.  A verdict
   pending: res->action tempfail.  0 or -1. */
static int om_att_sandbox(struct om_att_mail *am, const struct om_scan_settings *set,
			  const struct om_scan_request *req, struct om_scan_result *res,
			  const int actions[OM_ATT_KIND_COUNT], char **error_r)
{
	enum om_sandbox_verdict v = OM_SANDBOX_PENDING;
	const char *name;
	struct om_buf data;
	char *pending = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; i < am->count && ret == 0; i++) {
		if (!am->analysed[i] || am->reports[i].count == 0 ||
		    om_att_leaf_action(&am->reports[i], actions) == OM_ATT_IGNORE)
			continue;
		name = am->leaves[i].filename != NULL ? am->leaves[i].filename : "(no name)";
		om_buf_init(&data);
		ret = om_mime_leaf_decode(&am->leaves[i], &data, error_r);
		if (ret == 0)
			ret = om_att_sandbox_verdict(set, req, name, &data, &v, error_r);
		om_buf_free(&data);
		if (ret < 0)
			break;
		if (v == OM_SANDBOX_MALICIOUS)
			om_att_report_add(&am->reports[i], OM_ATT_SANDBOX, name);
		else if (v == OM_SANDBOX_UNKNOWN)
			om_att_report_add(&am->reports[i], OM_ATT_SANDBOX_UNKNOWN, name);
		else if (v == OM_SANDBOX_PENDING && pending == NULL)
			pending = om_sanitize(name, 200);
	}
	if (ret == 0 && pending != NULL) {
		res->action = OM_ACTION_TEMPFAIL;
		free(res->reason);
		res->reason = om_asprintf("sandbox: verdict pending for %s", pending);
	}
	free(pending);
	return ret;
}

int om_att_mail_apply(struct om_att_mail *am, const struct om_scan_settings *set,
		      const struct om_scan_request *req, struct om_mime_msg *msg,
		      struct om_scan_result *res, char **error_r)
{
	struct om_att_policy pol;
	int *leaf_actions, worst, ret;
	unsigned char *whys;
	char *findings;

	if (!am->any_attachment || msg == NULL || res->action != OM_ACTION_DELIVER)
		return 0;
	memset(&pol, 0, sizeof(pol));
	if (om_att_isolation_policy(set, req, &pol, error_r) < 0)
		return -1;
	if (!am->any && !pol.all && pol.archives == 0)
		return 0;
	if (om_att_class_actions(set, req, pol.actions, error_r) < 0)
		return -1;
	/* the sandbox before the actions: a verdict pending defers the whole
	   mail */
	if (am->any && set->store != NULL &&
	    ((set->sandbox_command != NULL && set->sandbox_command[0] != '\0') ||
	     (set->sandbox_url != NULL && set->sandbox_url[0] != '\0'))) {
		if (om_att_sandbox(am, set, req, res, pol.actions, error_r) < 0)
			return -1;
		if (res->action == OM_ACTION_TEMPFAIL)
			return 0;
	}
	leaf_actions = om_calloc(am->count + 1, sizeof(int));
	whys = om_calloc(am->count + 1, 1);
	om_att_leaf_actions(am, &pol, om_att_can_isolate(set), leaf_actions, whys, &worst);
	res->attachments = om_att_header_value(am, leaf_actions, whys);
	findings = om_att_findings_text(am, leaf_actions, set->language);
	if (worst == OM_ATT_IGNORE)
		ret = 0;
	else if (worst == OM_ATT_QUARANTINE || worst == OM_ATT_QUARANTINE_ADMIN)
		ret = om_att_quarantine(set, req, msg, res, findings,
					worst == OM_ATT_QUARANTINE_ADMIN, error_r);
	else
		ret = om_att_notice(am, set, req, msg, res, findings, leaf_actions, whys,
				    pol.days, error_r);
	free(findings);
	free(leaf_actions);
	free(whys);
	return ret;
}

void om_att_mail_free(struct om_att_mail **amp)
{
	struct om_att_mail *am = *amp;
	size_t i;

	if (am == NULL)
		return;
	for (i = 0; i < am->count; i++)
		om_att_report_free(&am->reports[i]);
	free(am->reports);
	free(am->analysed);
	om_att_passwords_free(am->passwords);
	free(am);
	*amp = NULL;
}
