/* filter-audit.c - audit rules in omamori-filter (issue 17, seed 003
 * メール監査, doc/audit.md): a subscriber's outgoing mail is run through
 * the rules of the sender's domain, in order; the deciding rule sends it,
 * holds it for the administrator (a hold of kind audit: omamorictl hold
 * list|show|release|discard) or deletes it, and notify tells the
 * domain's administrator (outbound-admin, else virus-admin-copy).
 *
 * The rules' texts are read from the store for each message (a change
 * applies from the next message) and parsed when they differ from what
 * the worker parsed last (its cache holds one domain's rules).  A rule
 * was checked when it was added; one that no longer parses - a store
 * written by a newer omamori - fails closed: the mail waits, 4xx.  The
 * message's text is read once (mail/text.c) and only when the domain has
 * rules.  The sender never learns what the rules said: a held or deleted
 * mail is answered as sent.
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_AUDIT_MAX_RULES 1000

/* A worker's parsed rules of the last domain it audited, reused while the
   store holds the same texts (read for every message: a change takes
   effect at the next message). */
struct filter_audit_cache {
	char *domain;
	char **texts;
	struct om_audit_rule **rules;
	size_t count;
};

/* The rule texts of a domain as the store has them now. */
struct filter_audit_rows {
	char **texts;
	size_t count;
};

static void filter_audit_row_cb(void *context, const struct om_store_audit_rule *r)
{
	struct filter_audit_rows *rows = context;

	if (rows->count == FILTER_AUDIT_MAX_RULES)
		return;
	rows->texts[rows->count++] = om_strdup(r->rule);
}

static void filter_audit_texts_free(char **texts, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(texts[i]);
	free(texts);
}

void filter_audit_cache_free(struct filter_audit_cache **cachep)
{
	struct filter_audit_cache *c = *cachep;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++)
		om_audit_rule_free(&c->rules[i]);
	free(c->rules);
	filter_audit_texts_free(c->texts, c->count);
	free(c->domain);
	free(c);
	*cachep = NULL;
}

static int filter_audit_cache_fits(const struct filter_audit_cache *c, const char *domain,
				   const struct filter_audit_rows *rows)
{
	size_t i;

	if (c == NULL || strcmp(c->domain, domain) != 0 || c->count != rows->count)
		return 0;
	for (i = 0; i < c->count; i++) {
		if (strcmp(c->texts[i], rows->texts[i]) != 0)
			return 0;
	}
	return 1;
}

/* The parsed rules of domain (rows: its texts now, taken over), from the
   worker's cache or parsed again: NULL with *error_r when one does not
   parse (a store written by a newer omamori). */
static struct filter_audit_cache *filter_audit_rules(struct filter_worker *w,
						     const char *domain,
						     struct filter_audit_rows *rows,
						     char **error_r)
{
	struct filter_audit_cache *c;
	char *error = NULL;
	size_t i;

	if (filter_audit_cache_fits(w->audit_cache, domain, rows)) {
		filter_audit_texts_free(rows->texts, rows->count);
		return w->audit_cache;
	}
	filter_audit_cache_free(&w->audit_cache);
	c = om_calloc(1, sizeof(*c));
	c->domain = om_strdup(domain);
	c->rules = om_calloc(rows->count + 1, sizeof(*c->rules));
	for (i = 0; i < rows->count; i++) {
		c->rules[i] = om_audit_parse(rows->texts[i], &error);
		if (c->rules[i] == NULL) {
			*error_r = om_asprintf("audit rule %zu of %s: %s", i + 1, domain, error);
			free(error);
			/* all the texts, the i rules parsed */
			c->texts = rows->texts;
			c->count = rows->count;
			filter_audit_cache_free(&c);
			return NULL;
		}
	}
	c->texts = rows->texts;
	c->count = rows->count;
	w->audit_cache = c;
	return c;
}

void filter_audit_free(struct filter_audit *a)
{
	free(a->headers);
	free(a->summary);
	memset(a, 0, sizeof(*a));
}

int filter_audit_check(struct filter_worker *w, const struct filter_envelope *env,
		       const char *qid, const char *msg, size_t len,
		       struct filter_audit *out, char **error_r)
{
	struct filter_audit_rows rows;
	struct filter_audit_cache *rules;
	struct om_audit_result res;
	struct om_audit_msg *m;
	enum om_sub_state state;
	const char *source, *domain;
	char sender_key[OM_ADDRESS_KEY_MAX], *internal;
	struct om_buf headers;
	size_t i;
	long n;

	memset(out, 0, sizeof(out[0]));
	if (*env->sender == '\0')
		return 0;	/* a bounce is nobody's outgoing mail */
	if (om_settings_subscription(w->store, env->sender, OM_FEATURE_OUTBOUND_AUDIT,
				     &state, &source, error_r) < 0)
		return -1;
	if (state != OM_SUB_ON)
		return 0;
	/* the rules are kept under the domain's stored name: "Example.TEST"
	   is example.test (the subscription above fitted, so this does) */
	(void)om_address_key(env->sender, sender_key, sizeof(sender_key));
	domain = om_settings_domain_of(sender_key);
	rows.count = 0;
	rows.texts = om_calloc(FILTER_AUDIT_MAX_RULES, sizeof(*rows.texts));
	n = om_store_audit_list(w->store, domain, filter_audit_row_cb, &rows, error_r);
	if (n < 0) {
		filter_audit_texts_free(rows.texts, rows.count);
		return -1;
	}
	if (rows.count == 0) {
		filter_audit_texts_free(rows.texts, rows.count);
		return 0;
	}
	rules = filter_audit_rules(w, domain, &rows, error_r);
	if (rules == NULL)
		return -1;
	internal = om_settings_domain_value(w->store, env->sender,
					    OM_SETTING_INTERNAL_DOMAINS, "none", error_r);
	if (internal == NULL)
		return -1;
	m = om_audit_msg_read(msg, len, OM_AUDIT_DIR_OUT, domain,
			      strcmp(internal, "none") == 0 ? "" : internal, env->sender,
			      env->rcpts, env->rcpt_count, error_r);
	free(internal);
	if (m == NULL)
		return -1;
	om_audit_run(rules->rules, rules->count, m, &res);
	out->verdict = res.verdict;
	out->fired = res.fired;
	out->notify = res.notify;
	out->summary = om_sanitize(res.summary, 1000);
	om_buf_init(&headers);
	for (i = 0; i < res.header_count; i++)
		om_buf_printf(&headers, "%s\n", res.headers[i]);
	out->headers = res.header_count > 0 ? om_buf_steal(&headers, NULL) : NULL;
	om_buf_free(&headers);
	om_log_info("%s: from=<%s> audit: %s (%s)", qid, env->sender,
		    om_audit_verdict_name(res.verdict), out->summary);
	om_audit_result_free(&res);
	om_audit_msg_free(&m);
	return 1;
}

int filter_audit_alert(struct filter_worker *w, const struct filter_envelope *env,
		       const struct filter_audit *a, const char *hold_id,
		       const char *msg, size_t len)
{
	char *subject = filter_subject(msg, len), *count, *sender, *tag, *rule;
	const char *template_name;
	int ret;

	template_name = a->verdict == OM_AUDIT_HOLD ? "audit-hold-alert" :
		a->verdict == OM_AUDIT_DELETE ? "audit-delete-alert" : "audit-alert";
	count = om_asprintf("%zu", env->rcpt_count);
	sender = om_sanitize(env->sender, 300);
	rule = om_asprintf("%d", a->fired);
	tag = hold_id != NULL ? om_asprintf("hold %s", hold_id) :
		om_asprintf("audit %s", env->queue_id);
	{
		struct om_notify_var vars[] = {
			{ "sender", sender },
			{ "subject", subject },
			{ "recipients", count },
			{ "rules", a->summary != NULL ? a->summary : "" },
			{ "rule", rule },
			{ "hold_id", hold_id != NULL ? hold_id : "-" },
			{ NULL, NULL }
		};

		ret = filter_hold_alert(w, env->sender, template_name, vars, tag);
	}
	free(tag);
	free(rule);
	free(sender);
	free(count);
	free(subject);
	return ret;
}
