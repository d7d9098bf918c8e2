/* audit-in.c - audit rules on incoming mail (issue 17 item 3, seed 003
 * メール監査, doc/audit.md): after the scan, a message for a mailbox whose
 * domain has audit rules is run through them (rules saying "direction
 * out" never match here), and the deciding rule's action is written into
 * scand's answer:
 *
 *   send        delivered as the scan decided
 *   hold        quarantine-admin: into the recipient's Quarantine, which
 *               only the administrator may release (omamorictl quarantine)
 *   delete      discard: not delivered, LMTP answers 250 as for any
 *               delivery (the sender learns nothing of the rule); logged
 *   notify      the domain's administrator (outbound-admin, else
 *               virus-admin-copy) gets audit-in-alert; also for hold and
 *               for delete with notify, as omamori-filter does outbound
 *   add-header  the field is put first in what is delivered or held
 *
 * The rules come from the store and are kept parsed in the worker's
 * cache, which is emptied whenever the worker's snapshot moves
 * (audit_rules changes move the store's config revision, schema v22) and
 * filled again at once with every domain's rules in one read (up to
 * SCAND_AUDIT_MAX_DOMAINS domains; beyond, one read per domain as it is
 * met): no store read per message, and a worker whose store goes away
 * (PostgreSQL, issue 21) still knows every domain's rules.  A rule that does not parse or a
 * message the audit reader cannot read fails closed: scand answers an
 * error, the delivery is retried.
 */
#include "scand.h"
#include "audit/audit.h"
#include "crypto/report.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "scan/scan.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define SCAND_AUDIT_MAX_RULES 1000
#define SCAND_AUDIT_MAX_DOMAINS 1000	/* cached; more empties the cache */

/* One domain's parsed rules (count 0: the domain has none). */
struct scand_audit_rules {
	struct om_audit_rule **rules;
	size_t count;
};

struct scand_audit_cache {
	struct om_hash *domains;	/* domain -> struct scand_audit_rules */
	/* filled with every domain's rules: a domain not in it has none */
	int complete;
};

/* what a domain without rules has */
static const struct scand_audit_rules scand_audit_none = { NULL, 0 };

static void scand_audit_rules_free(void *value)
{
	struct scand_audit_rules *r = value;
	size_t i;

	for (i = 0; i < r->count; i++)
		om_audit_rule_free(&r->rules[i]);
	free(r->rules);
	free(r);
}

void scand_audit_cache_clear(struct scand_audit_cache *cache)
{
	if (cache == NULL)
		return;
	cache->complete = 0;
	if (cache->domains != NULL)
		om_hash_free(&cache->domains, scand_audit_rules_free);
}

void scand_audit_cache_free(struct scand_audit_cache **cachep)
{
	if (*cachep == NULL)
		return;
	scand_audit_cache_clear(*cachep);
	free(*cachep);
	*cachep = NULL;
}

struct scand_audit_load {
	struct scand_audit_rules *rules;
	const char *domain;
	/* every domain's rules: the cache they go to (NULL: one domain's) */
	struct om_hash *domains;
	int too_many;
	char *error;
};

static struct scand_audit_rules *scand_audit_rules_new(void)
{
	struct scand_audit_rules *r = om_calloc(1, sizeof(*r));

	r->rules = om_calloc(SCAND_AUDIT_MAX_RULES, sizeof(*r->rules));
	return r;
}

/* For a read of every domain: the rules of row's domain, made as its
   first row comes (NULL past SCAND_AUDIT_MAX_DOMAINS domains). */
static struct scand_audit_rules *
scand_audit_rules_for_row(struct scand_audit_load *load,
			  const struct om_store_audit_rule *row)
{
	struct scand_audit_rules *r = om_hash_get(load->domains, row->domain);

	if (r != NULL)
		return r;
	if (om_hash_count(load->domains) >= SCAND_AUDIT_MAX_DOMAINS) {
		load->too_many = 1;
		return NULL;
	}
	r = scand_audit_rules_new();
	(void)om_hash_set(load->domains, row->domain, r);
	return r;
}

static void scand_audit_row_cb(void *context, const struct om_store_audit_rule *row)
{
	struct scand_audit_load *load = context;
	struct scand_audit_rules *r = load->rules;
	char *error = NULL;

	if (load->error != NULL || load->too_many)
		return;
	if (load->domains != NULL) {
		load->domain = row->domain;
		if ((r = scand_audit_rules_for_row(load, row)) == NULL)
			return;
	}
	if (r->count == SCAND_AUDIT_MAX_RULES)
		return;
	r->rules[r->count] = om_audit_parse(row->rule, &error);
	if (r->rules[r->count] == NULL) {
		load->error = om_asprintf("audit rule %lld of %s: %s", row->position,
					  load->domain, error);
		free(error);
		return;
	}
	r->count++;
}

int scand_audit_cache_fill(struct scand_audit_cache **cachep, struct om_store *store,
			   char **error_r)
{
	struct scand_audit_cache *cache;
	struct scand_audit_load load;

	if (*cachep == NULL)
		*cachep = om_calloc(1, sizeof(**cachep));
	cache = *cachep;
	scand_audit_cache_clear(cache);
	memset(&load, 0, sizeof(load));
	load.domains = om_hash_new(64);
	if (om_store_audit_list(store, NULL, scand_audit_row_cb, &load, error_r) < 0 ||
	    load.error != NULL) {
		if (load.error != NULL)
			*error_r = load.error;
		om_hash_free(&load.domains, scand_audit_rules_free);
		return -1;
	}
	cache->domains = load.domains;
	/* beyond the bound, the domains read are kept and the others are
	   read as they are met */
	cache->complete = !load.too_many;
	return 0;
}

/* domain's parsed rules, from the cache or the store: NULL with *error_r
   (a store error, a rule that does not parse). */
static const struct scand_audit_rules *
scand_audit_rules_of(struct scand_audit_cache *cache, struct om_store *store,
		     const char *domain, char **error_r)
{
	struct scand_audit_load load;
	struct scand_audit_rules *r;

	if (cache->domains != NULL &&
	    (r = om_hash_get(cache->domains, domain)) != NULL)
		return r;
	if (cache->complete)
		return &scand_audit_none;
	if (cache->domains == NULL && scand_audit_cache_fill(&cache, store, error_r) == 0)
		return scand_audit_rules_of(cache, store, domain, error_r);
	om_free(error_r);
	r = scand_audit_rules_new();
	memset(&load, 0, sizeof(load));
	load.rules = r;
	load.domain = domain;
	if (om_store_audit_list(store, domain, scand_audit_row_cb, &load, error_r) < 0 ||
	    load.error != NULL) {
		if (load.error != NULL)
			*error_r = load.error;
		scand_audit_rules_free(r);
		return NULL;
	}
	if (cache->domains == NULL ||
	    om_hash_count(cache->domains) >= SCAND_AUDIT_MAX_DOMAINS) {
		scand_audit_cache_clear(cache);
		cache->domains = om_hash_new(64);
	}
	(void)om_hash_set(cache->domains, domain, r);
	return r;
}

/* 1 for the actions that put the message somewhere: only these are
   audited (a tempfail is retried and audited then). */
static int scand_audit_delivers(enum om_action action)
{
	switch (action) {
	case OM_ACTION_DELIVER:
	case OM_ACTION_STRIP:
	case OM_ACTION_REPLACE:
	case OM_ACTION_QUARANTINE:
	case OM_ACTION_QUARANTINE_ADMIN:
		return 1;
	case OM_ACTION_NONE:
	case OM_ACTION_TEMPFAIL:
	case OM_ACTION_DISCARD:
		break;
	}
	return 0;
}

/* One domain setting of the recipient's from the snapshot (NULL on
   error, logged). */
static char *scand_audit_setting(const struct om_snapshot *snap, const char *mailbox,
				 const char *name, const char *def)
{
	char *error = NULL, *value;

	value = om_settings_domain_value_from(om_snapshot_source(snap), mailbox, name,
					      def, &error);
	if (value == NULL) {
		om_log_warn("audit: %s of %s: %s", name, mailbox, error);
		free(error);
	}
	return value;
}

/* The administrator told of incoming audit findings: outbound-admin, else
   virus-admin-copy; NULL when neither names an address. */
static char *scand_audit_admin(const struct om_snapshot *snap, const char *mailbox)
{
	static const char *const names[] = { OM_SETTING_OUTBOUND_ADMIN,
					     "virus-admin-copy" };
	char *value;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(names); i++) {
		value = scand_audit_setting(snap, mailbox, names[i], "off");
		if (value == NULL)
			return NULL;
		if (strcmp(value, "off") != 0 && strchr(value, '@') != NULL)
			return value;
		free(value);
	}
	return NULL;
}

/* The message with the add-header fields first (their line ending that
   of the message's first line), into res->message: on scand's rewrite
   when there is one, else on the original. */
static void scand_audit_add_headers(const struct om_scan_request *req,
				    struct om_scan_result *res,
				    const struct om_audit_result *ar)
{
	const char *base = res->message != NULL ? res->message : req->message;
	size_t base_len = res->message != NULL ? res->message_len : req->message_len;
	const char *nl = memchr(base, '\n', base_len);
	const char *eol = nl != NULL && nl > base && nl[-1] == '\r' ? "\r\n" : "\n";
	struct om_buf out;
	size_t i;

	if (ar->header_count == 0)
		return;
	om_buf_init(&out);
	for (i = 0; i < ar->header_count; i++)
		om_buf_printf(&out, "%s%s", ar->headers[i], eol);
	om_buf_append(&out, base, base_len);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
}

/* The administrator's alert (audit-in-alert), sealed as scand's reports
   are, in res's admin copy - unless a virus report holds it already. */
static void scand_audit_alert(const struct om_scan_settings *set,
			      const struct om_scan_request *req,
			      struct om_scan_result *res,
			      const struct om_audit_result *ar, const char *summary)
{
	struct om_mime_msg *msg;
	struct om_buf out;
	char *admin, *subject = NULL, *error = NULL, *text, *seal, *rule, *sender;
	const char *subj, *body;

	if (res->admin_address != NULL || set->snap == NULL)
		return;
	admin = scand_audit_admin(set->snap, req->mailbox);
	if (admin == NULL) {
		om_log_warn("audit: no outbound-admin nor virus-admin-copy for %s: "
			    "the administrator is not told", req->mailbox);
		return;
	}
	msg = om_mime_parse(req->message, req->message_len, &error);
	om_free(&error);
	if (msg != NULL)
		subject = om_mime_header_decoded(msg, "Subject");
	om_mime_free(&msg);
	rule = om_asprintf("%d", ar->fired);
	sender = om_sanitize(req->mail_from != NULL && *req->mail_from != '\0' ?
			     req->mail_from : "<>", 300);
	{
		struct om_notify_var vars[] = {
			{ "sender", sender },
			{ "recipient", req->mailbox },
			{ "subject", subject != NULL ? subject : "" },
			{ "action", om_audit_verdict_name(ar->verdict) },
			{ "rule", rule },
			{ "rules", summary },
			{ NULL, NULL }
		};

		text = om_notify_render_branded(set->templates_dir, set->language,
						"audit-in-alert", vars, &set->brand, &error);
	}
	if (text == NULL || om_notify_split_mail(text, &subj, &body) < 0) {
		om_log_error("audit: alert for %s: %s", req->mailbox,
			     error != NULL ? error : "no Subject line");
	} else {
		om_buf_init(&out);
		om_buf_append_str(&out, "Auto-Submitted: auto-generated\n");
		if (set->report_key != NULL) {
			seal = om_report_seal(set->report_key, admin, set->now);
			om_buf_printf(&out, OM_REPORT_HEADER ": %s\n", seal);
			free(seal);
		}
		om_mime_build_text_mail(set->notice_from, admin, subj, body, &out);
		res->admin_address = admin;
		admin = NULL;
		res->admin_message = om_buf_steal(&out, &res->admin_message_len);
	}
	free(error);
	free(text);
	free(rule);
	free(sender);
	free(subject);
	free(admin);
}

/* The deciding rule's action in res. */
static void scand_audit_decide(const struct om_scan_request *req,
			       struct om_scan_result *res,
			       const struct om_audit_result *ar)
{
	char *why = om_asprintf("audit: rule %d (%s)", ar->fired,
				om_audit_verdict_name(ar->verdict));

	switch (ar->verdict) {
	case OM_AUDIT_SEND:
		scand_audit_add_headers(req, res, ar);
		free(why);
		return;
	case OM_AUDIT_HOLD:
		scand_audit_add_headers(req, res, ar);
		res->action = OM_ACTION_QUARANTINE_ADMIN;
		break;
	case OM_AUDIT_DELETE:
		om_free(&res->message);
		res->message_len = 0;
		res->action = OM_ACTION_DISCARD;
		break;
	}
	/* the reason field says why (the plugin's quarantine row: "audit:
	   rule-N"), unless it says why the mail is unscanned */
	if (res->verdict != OM_VERDICT_UNSCANNED) {
		free(res->reason);
		res->reason = why;
	} else {
		free(why);
	}
}

int scand_audit_apply(struct scand_audit_cache **cachep,
		      const struct om_scan_settings *set,
		      const struct om_scan_request *req,
		      struct om_scan_result *res, char **error_r)
{
	const struct scand_audit_rules *rules;
	struct om_audit_result ar;
	struct om_audit_msg *m;
	const char *domain;
	char *internal, *summary, *mailbox, *session;

	if (req->direction != OM_DIRECTION_IN || set->store == NULL ||
	    set->snap == NULL || req->mailbox == NULL ||
	    !scand_audit_delivers(res->action))
		return 0;
	domain = om_settings_domain_of(req->mailbox);
	if (domain == NULL || *domain == '\0')
		return 0;
	if (*cachep == NULL)
		*cachep = om_calloc(1, sizeof(**cachep));
	rules = scand_audit_rules_of(*cachep, set->store, domain, error_r);
	if (rules == NULL)
		return -1;
	if (rules->count == 0)
		return 0;
	internal = om_settings_domain_value_from(om_snapshot_source(set->snap),
						 req->mailbox,
						 OM_SETTING_INTERNAL_DOMAINS, "none",
						 error_r);
	if (internal == NULL)
		return -1;
	m = om_audit_msg_read(req->message, req->message_len, OM_AUDIT_DIR_IN, domain,
			      strcmp(internal, "none") == 0 ? "" : internal,
			      req->mail_from != NULL ? req->mail_from : "",
			      req->rcpts, req->rcpt_count, error_r);
	free(internal);
	if (m == NULL)
		return -1;
	om_audit_run(rules->rules, rules->count, m, &ar);
	om_audit_msg_free(&m);
	summary = om_sanitize(ar.summary != NULL ? ar.summary : "", 1000);
	mailbox = om_sanitize(req->mailbox, 128);
	session = om_sanitize(req->session_id != NULL ? req->session_id : "-", 64);
	om_log_info("%s audit mailbox=%s direction=in: %s (%s)", session, mailbox,
		    om_audit_verdict_name(ar.verdict), summary);
	free(session);
	free(mailbox);
	scand_audit_decide(req, res, &ar);
	if (ar.notify || ar.verdict == OM_AUDIT_HOLD)
		scand_audit_alert(set, req, res, &ar, summary);
	free(summary);
	om_audit_result_free(&ar);
	return 0;
}
