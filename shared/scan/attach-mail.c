/* attach-mail.c - the attachment analysis over one message (attach-mail.h).
 *
 * Seed 004's exceptions are no attachments: inline text, inline images of
 * multipart/related, delivery and read notifications, S/MIME parts.  An
 * attached message's parts are analysed like the others (what is risky
 * inside an .eml counts).  The action of each finding is its class's
 * setting (attachment-action-<class>), "default" meaning the domain's
 * attachment-action; the strictest of the message's findings decides
 * quarantine, and every attachment whose own action is remove is taken out.
 */
#include "scan/attach-mail.h"
#include "scan/attach.h"
#include "scan/scan.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "notice/wrap.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "lib/util.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_ATT_BODY_TEXT_MAX (64u * 1024)	/* body bytes read for passwords */
#define OM_ATT_HEADER_MAX 900

enum om_att_action {
	OM_ATT_IGNORE = 0, OM_ATT_WARN, OM_ATT_REMOVE, OM_ATT_QUARANTINE
};

struct om_att_mail {
	struct om_mime_leaf *leaves;
	size_t count;
	struct om_att_report *reports;	/* per leaf; count 0: nothing */
	char **passwords;		/* the body's, once asked for */
	int any;
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
	om_att_analyze(set->attachment_rules, leaf->filename, leaf->content_type,
		       data != NULL ? data : "", len, NULL, set->engine, rep);
	/* an encrypted archive: again, with the body's passwords (read only
	   now: most mail has no encrypted archive) */
	if (om_att_report_has(rep, OM_ATT_ENCRYPTED)) {
		if (am->passwords == NULL)
			am->passwords = om_att_body_passwords(set->attachment_rules,
							      am->leaves, am->count);
		om_att_report_free(rep);
		om_att_analyze(set->attachment_rules, leaf->filename,
			       leaf->content_type, data != NULL ? data : "", len,
			       am->passwords, set->engine, rep);
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
	if (strcmp(word, "remove") == 0)
		return OM_ATT_REMOVE;
	return -1;
}

static const char *om_att_action_word(int action)
{
	static const char *const words[] = { "ignore", "warn", "remove", "quarantine" };

	return action >= 0 && action <= OM_ATT_QUARANTINE ? words[action] : "?";
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
		def = OM_ATT_REMOVE;
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
				      leaf_actions[i] != OM_ATT_REMOVE ? "" :
				      en ? " (removed)" : "（削除しました）");
		}
	}
	return om_buf_steal(&b, NULL);
}

/* The X-Omamori-Attachments value: "NAME where (action); ...". */
static char *om_att_header_value(const struct om_att_mail *am,
				 const int *leaf_actions)
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
	}
	value = om_sanitize(b.data != NULL ? b.data : "", OM_ATT_HEADER_MAX);
	om_buf_free(&b);
	return value;
}

static char *om_att_render(const struct om_scan_settings *set, const char *name,
			   const char *findings, const char *result,
			   char **error_r)
{
	char *when = om_notify_time_text(set->now);
	struct om_notify_var vars[] = {
		{ "detected_at", when }, { "findings", findings },
		{ "result", result }, { NULL, NULL }
	};
	char *text;

	text = om_notify_render_branded(set->templates_dir, set->language, name,
					vars, &set->brand, error_r);
	free(when);
	return text;
}

/* The whole mail into Quarantine, under a notice saying why. */
static int om_att_quarantine(const struct om_scan_settings *set,
			     const struct om_scan_request *req,
			     struct om_scan_result *res, const char *findings,
			     char **error_r)
{
	struct om_buf out;
	char *notice = om_att_render(set, "attachment-quarantine", findings, "",
				     error_r);

	if (notice == NULL)
		return -1;
	om_buf_init(&out);
	om_wrap_message(req->message, req->message_len, notice, &out);
	free(notice);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
	res->action = OM_ACTION_QUARANTINE;
	return 0;
}

/* Attachments removed as remove says, a notice at the top. */
static int om_att_notice(const struct om_att_mail *am,
			 const struct om_scan_settings *set,
			 struct om_mime_msg *msg, struct om_scan_result *res,
			 const char *findings, const int *leaf_actions,
			 char **error_r)
{
	int en = strcmp(set->language, "en") == 0, removed = 0;
	struct om_buf out;
	char *notice;
	size_t i;

	for (i = 0; i < am->count; i++)
		removed |= leaf_actions[i] == OM_ATT_REMOVE;
	notice = om_att_render(set, "attachment-notice", findings,
			       !removed ? (en ? "The attachments were delivered as they are.\n" :
					   "添付ファイルはそのまま配送しています。\n") :
			       (en ? "The attachments marked (removed) were taken out of this mail.\n" :
				"（削除しました）とある添付ファイルは、このメールから取り除きました。\n"),
			       error_r);
	if (notice == NULL)
		return -1;
	for (i = 0; i < am->count; i++) {
		if (leaf_actions[i] == OM_ATT_REMOVE)
			(void)om_mime_remove_unit(msg, &am->leaves[i]);
	}
	om_mime_add_notice(msg, notice);
	free(notice);
	om_buf_init(&out);
	om_mime_write(msg, &out);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
	if (removed)
		res->action = OM_ACTION_STRIP;
	return 0;
}

int om_att_mail_apply(struct om_att_mail *am, const struct om_scan_settings *set,
		      const struct om_scan_request *req, struct om_mime_msg *msg,
		      struct om_scan_result *res, char **error_r)
{
	int actions[OM_ATT_KIND_COUNT], *leaf_actions, worst = OM_ATT_IGNORE, ret;
	char *findings;
	size_t i;

	if (!am->any || msg == NULL || res->action != OM_ACTION_DELIVER)
		return 0;
	if (om_att_class_actions(set, req, actions, error_r) < 0)
		return -1;
	leaf_actions = om_calloc(am->count + 1, sizeof(int));
	for (i = 0; i < am->count; i++) {
		leaf_actions[i] = om_att_leaf_action(&am->reports[i], actions);
		if (leaf_actions[i] > worst)
			worst = leaf_actions[i];
	}
	res->attachments = om_att_header_value(am, leaf_actions);
	findings = om_att_findings_text(am, leaf_actions, set->language);
	if (worst == OM_ATT_IGNORE)
		ret = 0;
	else if (worst == OM_ATT_QUARANTINE)
		ret = om_att_quarantine(set, req, res, findings, error_r);
	else
		ret = om_att_notice(am, set, msg, res, findings, leaf_actions, error_r);
	free(findings);
	free(leaf_actions);
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
	om_att_passwords_free(am->passwords);
	free(am);
	*amp = NULL;
}
