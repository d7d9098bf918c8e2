/* policy.c - the decisions of omamori-policyd, from memory.
 *
 * The store is read into a snapshot (hash maps) when it changes, so a
 * request costs a few hash lookups and never a database read or write; rate
 * counters live here too and are saved in batches.  Decisions per request
 * state (Postfix SMTPD_POLICY_README): at RCPT, block lists (REJECT for that
 * recipient only), the recipient count per message, the declared size, the
 * authenticated sender's rate, then outbound routing (FILTER, whole
 * message, only to the filter omamori.conf names; a login the
 * compromised-account brake holds, brake.c, goes to brake_filter); at MAIL and
 * END-OF-MESSAGE, the message size.  A refusal's reason names the rule and,
 * for a block list, the list and the entry that matched, so the log says
 * why without a second lookup.
 */
#include "decide/policy.h"
#include "decide/brake.h"
#include "decide/route.h"
#include "lib/hash.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "lib/util.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OM_POLICY_INSTANCE_TTL 600
/* Messages in progress kept at most.  Each smtpd process has at most one
   message in progress, so this is far above any real set of Postfix
   servers; it bounds the memory a client opening transaction after
   transaction (and never finishing one) can make us spend. */
#define OM_POLICY_INSTANCES_MAX 20000

struct om_policy_instance {
	long recipients;
	/* of those, how many have auth-check on, and spf-reject on */
	long auth_recipients;
	long spf_reject_recipients;
	long long size_limit;	/* smallest limit among its recipients */
	time_t seen;
};

/* A sender's counts in its current window: every host's as of the last
   merge plus this host's since (what decides), and this host's since the
   last merge alone (what the next merge adds to the store). */
struct om_policy_rate {
	long long window_start;
	long long messages;
	long long recipients;
	long long unmerged_messages;
	long long unmerged_recipients;
	/* taken into a merge that is being written (om_policy_take_save):
	   part of what decides, no longer of what the next merge adds */
	long long inflight_messages;
	long long inflight_recipients;
	char last_instance[64];
};

/* A mailbox's settings as the decisions need them, resolved once per
   snapshot (mailbox -> domain -> global -> default) instead of per request. */
struct om_policy_mailbox {
	long long max_recipients;
	long long max_message_size;
	long long rate_window;
	long long rate_messages;
	long long rate_recipients;
	int outbound;
	int auth_check;		/* auth-check on (issue 15) */
	int spf_reject;		/* spf-reject on */
	struct om_brake_limits brake;
	/* internal-only (issue 18): it may write only inside its domain and
	   internal-domains; from its policy group (group: its name) or its
	   domain (group "") */
	int internal_only;
	char group[OM_GROUP_NAME_MAX + 1];
};

/* Resolved mailboxes kept at most; past it the cache starts again. */
#define OM_POLICY_MAILBOX_CACHE_MAX 65536

struct om_policy {
	struct om_snapshot *snap;	/* lists and settings */
	struct om_hash *instances;	/* instance -> om_policy_instance */
	struct om_hash *rates;		/* sasl user -> om_policy_rate */
	struct om_hash *mailboxes;	/* address -> om_policy_mailbox */
	/* "user\trecipient" -> time (as a pointer), not yet saved: whom
	   authenticated senders wrote to (digests tell mail from them at once) */
	struct om_hash *correspondents;
	char *outbound_filter;		/* "transport:nexthop", "" = none */
	int outbound_inline;		/* the submission milter checks INLINE mail */
	struct om_brake *brake;		/* the compromised-account brake */
	char *brake_filter;		/* where braked mail goes, "" = defer */
	/* omamori's SPF check at DATA: none until policyd sets one */
	om_policy_spf_fn *spf;
	void *spf_context;
	char *authserv_id;
};

/* Correspondents kept between saves at most; more are dropped (one is
   learned again the next time it is written to). */
#define OM_POLICY_CORRESPONDENTS_MAX 65536

/* ---- parsing ---- */

static void om_policy_request_init(struct om_policy_request *req)
{
	memset(req, 0, sizeof(*req));
	req->request = req->protocol_state = req->sender = req->recipient = "";
	req->sasl_username = req->instance = req->client_address = "";
	req->helo_name = req->queue_id = "";
}

/* A number attribute: decimal digits in 0..LONG_MAX (checked, never
   atol), or empty for 0 (unknown).  0 or -1. */
static int om_policy_attribute_number(const char *value, long *n_r)
{
	unsigned long n;

	if (*value == '\0') {
		*n_r = 0;
		return 0;
	}
	if (om_parse_ulong(value, 0, LONG_MAX, &n) < 0)
		return -1;
	*n_r = (long)n;
	return 0;
}

/* The attributes the decisions use; Postfix sends some twenty more, and
   those are skipped on their length before any string compare.  0, or -1
   with *error_r (static) for a number attribute that is no number. */
static int om_policy_attribute(struct om_policy_request *req,
			       const char *name, size_t name_len,
			       char *value, const char **error_r)
{
	/* the addresses and the login are keys of lists, settings, rate
	   limits and the brake: folded here as they are stored (lower case,
	   no trailing dot), so "Alice@Example.TEST." is alice@example.test */
	const struct {
		const char *name;
		size_t len;
		const char **field;
		int address;
	} text_attributes[] = {
		{ "request", 7, &req->request, 0 },
		{ "protocol_state", 14, &req->protocol_state, 0 },
		{ "sender", 6, &req->sender, 1 },
		{ "recipient", 9, &req->recipient, 1 },
		{ "sasl_username", 13, &req->sasl_username, 1 },
		{ "instance", 8, &req->instance, 0 },
		{ "client_address", 14, &req->client_address, 0 },
		{ "helo_name", 9, &req->helo_name, 0 },
		{ "queue_id", 8, &req->queue_id, 0 },
	};
	size_t i;
	long n;

	for (i = 0; i < OM_N_ELEMENTS(text_attributes); i++) {
		if (name_len == text_attributes[i].len &&
		    memcmp(name, text_attributes[i].name, name_len) == 0) {
			if (text_attributes[i].address)
				om_address_key_fold(value);
			*text_attributes[i].field = value;
			return 0;
		}
	}
	if (name_len == 4 && memcmp(name, "size", 4) == 0) {
		if (om_policy_attribute_number(value, &n) < 0) {
			*error_r = "size is not a number";
			return -1;
		}
		req->size = n;
	} else if (name_len == 15 && memcmp(name, "recipient_count", 15) == 0) {
		if (om_policy_attribute_number(value, &n) < 0) {
			*error_r = "recipient_count is not a number";
			return -1;
		}
		req->recipient_count = n;
	}
	return 0;
}

/* Looks for the request's end (an empty line, "\n" or "\r\n") from
   *scanned on, line by line, and for NUL bytes in what is new.  Returns
   the request's length, or 0 with *scanned moved to the start of the last
   incomplete line, so that input arriving in pieces is read once. */
static size_t om_policy_request_end(const char *buf, size_t len, size_t *scanned,
				    int *nul_r)
{
	const char *p = buf + *scanned, *end = buf + len, *nl;

	*nul_r = memchr(p, '\0', (size_t)(end - p)) != NULL;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl == p || (nl == p + 1 && *p == '\r'))
			return (size_t)(nl + 1 - buf);
		p = nl + 1;
	}
	*scanned = (size_t)(p - buf);
	return 0;
}

int om_policy_parse(char *buf, size_t len, size_t max_request, size_t *scanned,
		    struct om_policy_request *req, size_t *used_r,
		    const char **error_r)
{
	int nul;
	size_t total = om_policy_request_end(buf, len, scanned, &nul);
	char *line = buf, *end, *nl, *eq;

	om_policy_request_init(req);
	if (nul) {
		*error_r = "NUL byte in request";
		return -1;
	}
	if (total == 0 ? len > max_request : total > max_request) {
		*error_r = "request too large";
		return -1;
	}
	if (total == 0)
		return 0;
	*scanned = 0;	/* the next request starts afresh */
	/* the request is whole: split it in place */
	end = buf + total;
	while ((nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*line == '\0')
			break;
		eq = memchr(line, '=', (size_t)(nl - line));
		if (eq == NULL) {
			*error_r = "attribute line without '='";
			return -1;
		}
		*eq = '\0';
		if (om_policy_attribute(req, line, (size_t)(eq - line), eq + 1,
					error_r) < 0)
			return -1;
		line = nl + 1;
	}
	if (*req->request == '\0') {
		*error_r = "request without request=";
		return -1;
	}
	*used_r = total;
	return 1;
}

/* ---- snapshot ---- */

struct om_policy *om_policy_new(void)
{
	struct om_policy *policy = om_calloc(1, sizeof(*policy));

	policy->snap = om_snapshot_new();
	policy->instances = om_hash_new(256);
	policy->rates = om_hash_new(256);
	policy->mailboxes = om_hash_new(256);
	policy->correspondents = om_hash_new(256);
	policy->outbound_filter = om_strdup("");
	policy->brake = om_brake_new(14);
	policy->brake_filter = om_strdup("");
	policy->authserv_id = om_strdup("");
	return policy;
}

void om_policy_set_spf(struct om_policy *policy, const char *authserv_id,
		       om_policy_spf_fn *spf, void *context)
{
	free(policy->authserv_id);
	policy->authserv_id = om_strdup(authserv_id);
	policy->spf = spf;
	policy->spf_context = context;
}

void om_policy_set_brake(struct om_policy *policy, const char *filter,
			 long history_days)
{
	free(policy->brake_filter);
	policy->brake_filter = om_strdup(filter);
	om_brake_set_history_days(policy->brake, history_days);
}

struct om_brake *om_policy_brake(struct om_policy *policy)
{
	return policy->brake;
}

void om_policy_set_outbound_inline(struct om_policy *policy, int on)
{
	policy->outbound_inline = on;
}

void om_policy_set_outbound_filter(struct om_policy *policy, const char *filter)
{
	free(policy->outbound_filter);
	policy->outbound_filter = om_strdup(filter);
}

void om_policy_free(struct om_policy **policyp)
{
	struct om_policy *policy = *policyp;

	if (policy == NULL)
		return;
	om_snapshot_free(&policy->snap);
	om_hash_free(&policy->instances, free);
	om_hash_free(&policy->rates, free);
	om_hash_free(&policy->mailboxes, free);
	om_hash_free(&policy->correspondents, NULL);
	free(policy->outbound_filter);
	om_brake_free(&policy->brake);
	free(policy->brake_filter);
	free(policy->authserv_id);
	free(policy);
	*policyp = NULL;
}

/* Forgets the resolved mailboxes: the settings behind them changed. */
static void om_policy_forget_mailboxes(struct om_policy *policy)
{
	om_hash_free(&policy->mailboxes, free);
	policy->mailboxes = om_hash_new(256);
}

int om_policy_load(struct om_policy *policy, struct om_store *store,
		   char **error_r)
{
	if (om_snapshot_load(policy->snap, store, error_r) < 0)
		return -1;
	om_policy_forget_mailboxes(policy);
	return 0;
}

struct om_policy_forget {
	const char *scope;
	char **keys;
	size_t count;
};

static void om_policy_forget_collect(void *context, const char *mailbox,
				     void *value)
{
	struct om_policy_forget *f = context;

	(void)value;
	if (strcmp(mailbox, f->scope) != 0 &&
	    strcmp(om_settings_domain_of(mailbox), f->scope) != 0)
		return;
	f->keys = om_realloc(f->keys, (f->count + 1) * sizeof(char *));
	f->keys[f->count++] = om_strdup(mailbox);
}

/* Forgets the resolved mailboxes whose settings may come from scope: the
   mailbox itself, or the mailboxes of that domain; all of them for the
   global level. */
static void om_policy_forget_scope(struct om_policy *policy, const char *scope)
{
	struct om_policy_forget f = { scope, NULL, 0 };
	size_t i;

	if (strcmp(scope, OM_GLOBAL_DOMAIN) == 0) {
		om_policy_forget_mailboxes(policy);
		return;
	}
	/* a policy group's settings: every mailbox of its domain (a group's
	   members are the domain's mailboxes whose setting says so) */
	if (om_settings_group_scope_domain(scope) != NULL)
		f.scope = om_settings_group_scope_domain(scope);
	om_hash_each(policy->mailboxes, om_policy_forget_collect, &f);
	for (i = 0; i < f.count; i++) {
		free(om_hash_delete(policy->mailboxes, f.keys[i]));
		free(f.keys[i]);
	}
	free(f.keys);
}

/* What a snapshot update re-read: a scope whose lists alone changed
   leaves the resolved settings as they are. */
static void om_policy_changed(void *context, const char *scope, int settings)
{
	struct om_policy *policy = context;

	if (!settings)
		return;
	if (scope == NULL)
		om_policy_forget_mailboxes(policy);
	else
		om_policy_forget_scope(policy, scope);
}

int om_policy_refresh(struct om_policy *policy, struct om_store *store,
		      char **error_r)
{
	return om_snapshot_update(policy->snap, store, om_policy_changed, policy,
				  error_r);
}

/* ---- rate counters ---- */

static void om_policy_rate_restore(void *context, const struct om_store_rate *r)
{
	struct om_policy *policy = context;
	struct om_policy_rate *rate = om_calloc(1, sizeof(*rate));

	rate->window_start = r->window_start;
	rate->messages = r->messages;
	rate->recipients = r->recipients;
	free(om_hash_set(policy->rates, r->user, rate));
}

int om_policy_load_rates(struct om_policy *policy, struct om_store *store,
			 char **error_r)
{
	return om_store_rates_each(store, om_policy_rate_restore, policy,
				   error_r) < 0 ? -1 : 0;
}

struct om_rate_collect {
	struct om_store_rate *rates;
	size_t count;
};

/* The senders this host counted since the last merge: their increments. */
static void om_policy_rate_collect(void *context, const char *user, void *value)
{
	struct om_rate_collect *c = context;
	const struct om_policy_rate *rate = value;

	if (rate->unmerged_messages == 0 && rate->unmerged_recipients == 0)
		return;
	c->rates[c->count].user = user;
	c->rates[c->count].window_start = rate->window_start;
	c->rates[c->count].messages = rate->unmerged_messages;
	c->rates[c->count].recipients = rate->unmerged_recipients;
	c->count++;
}

/* A merged counter (every host's): what decides from now on.  No request
   is answered during the merge, so nothing was counted meanwhile. */
static void om_policy_rate_merged(void *context, const struct om_store_rate *stored)
{
	struct om_policy *policy = context;
	struct om_policy_rate *rate = om_hash_get(policy->rates, stored->user);

	if (rate == NULL || stored->window_start < rate->window_start)
		return;
	rate->window_start = stored->window_start;
	rate->messages = stored->messages;
	rate->recipients = stored->recipients;
	rate->unmerged_messages = rate->unmerged_recipients = 0;
}

int om_policy_save_rates(struct om_policy *policy, struct om_store *store,
			 time_t now, char **error_r)
{
	struct om_rate_collect c;
	int ret;

	c.rates = om_calloc(om_hash_count(policy->rates) + 1, sizeof(*c.rates));
	c.count = 0;
	om_hash_each(policy->rates, om_policy_rate_collect, &c);
	/* a window longer than a week is refused by the settings; on an
	   error the increments stay unmerged, for the next save */
	ret = om_store_rates_merge(store, c.rates, c.count, (long long)now - 8 * 86400,
				   om_policy_rate_merged, policy, error_r);
	free(c.rates);
	return ret;
}

/* ---- correspondents ---- */

/* Notes that user wrote to recipient (lower-cased), to be saved. */
static void om_policy_note_correspondent(struct om_policy *policy,
					 const char *user, const char *recipient,
					 time_t now)
{
	char key[600], *p;

	if (*recipient == '\0' ||
	    om_hash_count(policy->correspondents) >= OM_POLICY_CORRESPONDENTS_MAX ||
	    (size_t)snprintf(key, sizeof(key), "%s\t%s", user, recipient) >= sizeof(key))
		return;
	for (p = strchr(key, '\t'); *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	(void)om_hash_set(policy->correspondents, key, (void *)(intptr_t)now);
}

struct om_correspondent_collect {
	struct om_store_correspondent *rows;
	char **keys;
	size_t count;
};

static void om_policy_correspondent_collect(void *context, const char *key,
					    void *value)
{
	struct om_correspondent_collect *c = context;
	char *copy = om_strdup(key), *tab = strchr(copy, '\t');

	*tab = '\0';
	c->keys[c->count] = copy;
	c->rows[c->count].mailbox = copy;
	c->rows[c->count].address = tab + 1;
	c->rows[c->count].last = (long long)(intptr_t)value;
	c->count++;
}

int om_policy_save_correspondents(struct om_policy *policy,
				  struct om_store *store, char **error_r)
{
	size_t n = om_hash_count(policy->correspondents), i;
	struct om_correspondent_collect c;
	int ret;

	if (n == 0)
		return 0;
	c.rows = om_calloc(n, sizeof(*c.rows));
	c.keys = om_calloc(n, sizeof(*c.keys));
	c.count = 0;
	om_hash_each(policy->correspondents, om_policy_correspondent_collect, &c);
	ret = om_store_correspondents_save(store, c.rows, c.count, error_r);
	for (i = 0; i < c.count; i++)
		free(c.keys[i]);
	free(c.keys);
	free(c.rows);
	if (ret == 0) {
		om_hash_free(&policy->correspondents, NULL);
		policy->correspondents = om_hash_new(256);
	}
	return ret;
}

/* ---- the same saves and refresh in steps (policyd's store thread) ---- */

struct om_policy_save {
	struct om_store_rate *rates;		/* users allocated */
	size_t rate_count;
	long long expire_before;
	struct om_store_rate *merged;		/* as stored, users allocated */
	size_t merged_count;
	int rates_done;
	struct om_store_correspondent *correspondents;	/* mailboxes allocated */
	size_t correspondent_count;
	int correspondents_done;
};

static void om_policy_rate_take(void *context, const char *user, void *value)
{
	struct om_policy_save *s = context;
	struct om_policy_rate *rate = value;
	struct om_store_rate *row;

	if (rate->unmerged_messages == 0 && rate->unmerged_recipients == 0)
		return;
	row = &s->rates[s->rate_count++];
	row->user = om_strdup(user);
	row->window_start = rate->window_start;
	row->messages = rate->unmerged_messages;
	row->recipients = rate->unmerged_recipients;
	rate->inflight_messages += rate->unmerged_messages;
	rate->inflight_recipients += rate->unmerged_recipients;
	rate->unmerged_messages = rate->unmerged_recipients = 0;
}

static void om_policy_correspondent_take(void *context, const char *key,
					 void *value)
{
	struct om_policy_save *s = context;
	struct om_store_correspondent *row = &s->correspondents[s->correspondent_count++];
	char *copy = om_strdup(key), *tab = strchr(copy, '\t');

	*tab = '\0';
	row->mailbox = copy;
	row->address = tab + 1;
	row->last = (long long)(intptr_t)value;
}

struct om_policy_save *om_policy_take_save(struct om_policy *policy, time_t now)
{
	struct om_policy_save *s = om_calloc(1, sizeof(*s));

	s->rates = om_calloc(om_hash_count(policy->rates) + 1, sizeof(*s->rates));
	om_hash_each(policy->rates, om_policy_rate_take, s);
	s->expire_before = (long long)now - 8 * 86400;
	s->correspondents = om_calloc(om_hash_count(policy->correspondents) + 1,
				      sizeof(*s->correspondents));
	om_hash_each(policy->correspondents, om_policy_correspondent_take, s);
	om_hash_free(&policy->correspondents, NULL);
	policy->correspondents = om_hash_new(256);
	return s;
}

static void om_policy_save_merged(void *context, const struct om_store_rate *stored)
{
	struct om_policy_save *s = context;
	struct om_store_rate *row;

	s->merged = om_realloc(s->merged, (s->merged_count + 1) * sizeof(*s->merged));
	row = &s->merged[s->merged_count++];
	*row = *stored;
	row->user = om_strdup(stored->user);
}

int om_policy_write_save(struct om_store *store, struct om_policy_save *s,
			 char **rates_error_r, char **correspondents_error_r)
{
	int ret = 0;

	*rates_error_r = *correspondents_error_r = NULL;
	/* rows always go (an empty merge still expires old windows and
	   brings the other hosts' counts) */
	if (om_store_rates_merge(store, s->rates, s->rate_count, s->expire_before,
				 om_policy_save_merged, s, rates_error_r) == 0)
		s->rates_done = 1;
	else
		ret = -1;
	if (s->correspondent_count == 0 ||
	    om_store_correspondents_save(store, s->correspondents,
					 s->correspondent_count,
					 correspondents_error_r) == 0)
		s->correspondents_done = 1;
	else
		ret = -1;
	return ret;
}

/* The increments taken: merged (what decides is every host's as
   stored, plus what this host counted meanwhile), or given back to be
   merged next time. */
static void om_policy_rates_done(struct om_policy *policy, struct om_policy_save *s)
{
	struct om_policy_rate *rate;
	const struct om_store_rate *row;
	size_t i;

	for (i = 0; i < s->rate_count; i++) {
		row = &s->rates[i];
		rate = om_hash_get(policy->rates, row->user);
		if (rate == NULL || rate->window_start != row->window_start)
			continue;	/* a new window since: the old no longer decides */
		if (!s->rates_done) {
			rate->unmerged_messages += rate->inflight_messages;
			rate->unmerged_recipients += rate->inflight_recipients;
		}
		rate->inflight_messages = rate->inflight_recipients = 0;
	}
	if (!s->rates_done)
		return;
	for (i = 0; i < s->merged_count; i++) {
		row = &s->merged[i];
		rate = om_hash_get(policy->rates, row->user);
		if (rate == NULL || row->window_start < rate->window_start)
			continue;
		if (row->window_start > rate->window_start) {
			rate->window_start = row->window_start;
			rate->unmerged_messages = rate->unmerged_recipients = 0;
		}
		rate->messages = row->messages + rate->unmerged_messages;
		rate->recipients = row->recipients + rate->unmerged_recipients;
	}
}

void om_policy_save_done(struct om_policy *policy, struct om_policy_save **sp)
{
	struct om_policy_save *s = *sp;
	char key[600];
	size_t i;

	om_policy_rates_done(policy, s);
	for (i = 0; !s->correspondents_done && i < s->correspondent_count; i++) {
		/* given back, unless noted again since (that one is newer) */
		if (om_hash_count(policy->correspondents) >= OM_POLICY_CORRESPONDENTS_MAX)
			break;
		if ((size_t)snprintf(key, sizeof(key), "%s\t%s", s->correspondents[i].mailbox,
				     s->correspondents[i].address) >= sizeof(key) ||
		    om_hash_get(policy->correspondents, key) != NULL)
			continue;
		(void)om_hash_set(policy->correspondents, key,
				  (void *)(intptr_t)s->correspondents[i].last);
	}
	om_policy_save_free(sp);
}

void om_policy_save_free(struct om_policy_save **sp)
{
	struct om_policy_save *s = *sp;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->rate_count; i++)
		free((char *)s->rates[i].user);
	for (i = 0; i < s->merged_count; i++)
		free((char *)s->merged[i].user);
	for (i = 0; i < s->correspondent_count; i++)
		free((char *)s->correspondents[i].mailbox);
	free(s->rates);
	free(s->merged);
	free(s->correspondents);
	free(s);
	*sp = NULL;
}

long long om_policy_revision(const struct om_policy *policy)
{
	return om_snapshot_revision(policy->snap);
}

int om_policy_apply_changes(struct om_policy *policy,
			    struct om_snapshot_changes *changes)
{
	return om_snapshot_apply_changes(policy->snap, changes, om_policy_changed,
					 policy);
}

/* ---- per-message state ---- */

struct om_expire {
	struct om_hash *map;
	time_t before;
	char **keys;
	size_t count, cap;
};

static void om_policy_expire_collect(void *context, const char *key, void *value)
{
	struct om_expire *e = context;
	const struct om_policy_instance *inst = value;

	if (inst->seen >= e->before)
		return;
	if (e->count == e->cap) {
		e->cap = e->cap == 0 ? 64 : e->cap * 2;
		e->keys = om_realloc(e->keys, e->cap * sizeof(char *));
	}
	e->keys[e->count++] = om_strdup(key);
}

/* Forgets messages last seen before the given time. */
static void om_policy_expire_before(struct om_policy *policy, time_t before)
{
	struct om_expire e = { policy->instances, before, NULL, 0, 0 };
	size_t i;

	om_hash_each(policy->instances, om_policy_expire_collect, &e);
	for (i = 0; i < e.count; i++) {
		free(om_hash_delete(policy->instances, e.keys[i]));
		free(e.keys[i]);
	}
	free(e.keys);
}

void om_policy_expire(struct om_policy *policy, time_t now)
{
	om_policy_expire_before(policy, now - OM_POLICY_INSTANCE_TTL);
}

struct om_age_histogram {
	size_t counts[OM_POLICY_INSTANCE_TTL + 1];	/* by age in seconds */
	time_t now;
};

static void om_policy_age_count(void *context, const char *key, void *value)
{
	struct om_age_histogram *h = context;
	const struct om_policy_instance *inst = value;
	time_t age = h->now - inst->seen;

	(void)key;
	if (age < 0)
		age = 0;
	h->counts[age > OM_POLICY_INSTANCE_TTL ? OM_POLICY_INSTANCE_TTL : age]++;
}

/* At the limit: the oldest quarter goes (ages counted in one pass, then
   one pass to remove), so a flood of new messages costs a few slot visits
   per message.  At worst a slow message's recipient count starts again. */
static void om_policy_make_room(struct om_policy *policy, time_t now)
{
	struct om_age_histogram *h = om_calloc(1, sizeof(*h));
	size_t goal = om_hash_count(policy->instances) / 4, freed = 0;
	time_t age;

	h->now = now;
	om_hash_each(policy->instances, om_policy_age_count, h);
	for (age = OM_POLICY_INSTANCE_TTL; age > 0; age--) {
		freed += h->counts[age];
		if (freed >= goal)
			break;
	}
	free(h);
	/* forgets those seen at least age seconds ago (all of them at 0) */
	om_policy_expire_before(policy, now - age + 1);
}

void om_policy_stats(const struct om_policy *policy, size_t *entries_r,
		     size_t *instances_r, size_t *users_r)
{
	*entries_r = om_snapshot_list_entries(policy->snap);
	*instances_r = om_hash_count(policy->instances);
	*users_r = om_hash_count(policy->rates);
}

/* ---- decisions ---- */

static long long om_policy_number(struct om_policy *policy, const char *mailbox,
				  const char *name, long long def)
{
	char *error = NULL, *value;
	long long n;

	value = om_settings_domain_value_from(om_snapshot_source(policy->snap),
					      mailbox, name,
					      "", &error);
	free(error);
	n = om_settings_number(value, (long)def);
	free(value);
	return n;
}

/* 1 if a word setting is "on" for mailbox (def when unset or unreadable). */
static int om_policy_word_on(struct om_policy *policy, const char *mailbox,
			     const char *name, const char *def)
{
	char *error = NULL, *value;
	int on;

	value = om_settings_domain_value_from(om_snapshot_source(policy->snap),
					      mailbox, name, def, &error);
	free(error);
	on = strcmp(value != NULL ? value : def, "on") == 0;
	free(value);
	return on;
}

/* 1 if the mailbox takes an outbound feature (any "outbound-*" on). */
static int om_policy_outbound(struct om_policy *policy, const char *mailbox)
{
	enum om_sub_state state;
	const char *source, *feature;
	char *error = NULL;
	unsigned int i;

	for (i = 0; (feature = om_settings_feature_nth(i)) != NULL; i++) {
		if (!om_settings_feature_outbound(feature))
			continue;
		if (om_settings_subscription_from(om_snapshot_source(policy->snap),
						  mailbox, feature, &state,
						  &source, &error) < 0) {
			free(error);
			return 0;
		}
		if (state == OM_SUB_ON)
			return 1;
	}
	return 0;
}

/* internal-only for mailbox: its policy group's value (mb->group names
   the group), else the domain's or global one. */
static void om_policy_internal_only(struct om_policy *policy, const char *mailbox,
				    struct om_policy_mailbox *mb)
{
	const struct om_settings_source *src = om_snapshot_source(policy->snap);
	char scope[OM_GROUP_SCOPE_MAX], *group, *value = NULL, *error = NULL;
	int ret = 0;

	group = om_settings_group_of(src, mailbox, &error);
	free(error);
	error = NULL;
	if (group != NULL &&
	    om_settings_group_scope(om_settings_domain_of(mailbox), group, scope,
				    sizeof(scope)) == 0)
		ret = src->domain_get(src->context, scope, OM_SETTING_INTERNAL_ONLY,
				      &value, &error);
	free(error);
	if (ret > 0) {
		mb->internal_only = strcmp(value, "on") == 0;
		(void)om_strlcpy(mb->group, group, sizeof(mb->group));
	} else {
		mb->internal_only = om_policy_word_on(policy, mailbox,
						      OM_SETTING_INTERNAL_ONLY, "off");
	}
	free(value);
	free(group);
}

/* The mailbox's settings, resolved on first use after each reload. */
static const struct om_policy_mailbox *
om_policy_mailbox(struct om_policy *policy, const char *mailbox)
{
	struct om_policy_mailbox *mb = om_hash_get(policy->mailboxes, mailbox);

	if (mb != NULL)
		return mb;
	if (om_hash_count(policy->mailboxes) >= OM_POLICY_MAILBOX_CACHE_MAX)
		om_policy_forget_mailboxes(policy);
	mb = om_calloc(1, sizeof(*mb));
	mb->max_recipients = om_policy_number(policy, mailbox, OM_SETTING_MAX_RECIPIENTS,
					      OM_DEFAULT_MAX_RECIPIENTS);
	mb->max_message_size = om_policy_number(policy, mailbox, OM_SETTING_MAX_MESSAGE_SIZE,
						OM_DEFAULT_MAX_MESSAGE_SIZE);
	mb->rate_window = om_policy_number(policy, mailbox, OM_SETTING_RATE_WINDOW,
					   OM_DEFAULT_RATE_WINDOW);
	mb->rate_messages = om_policy_number(policy, mailbox, OM_SETTING_RATE_MESSAGES,
					     OM_DEFAULT_RATE_MESSAGES);
	mb->rate_recipients = om_policy_number(policy, mailbox, OM_SETTING_RATE_RECIPIENTS,
					       OM_DEFAULT_RATE_RECIPIENTS);
	mb->outbound = *mailbox != '\0' && om_policy_outbound(policy, mailbox);
	mb->auth_check = om_policy_word_on(policy, mailbox, OM_SETTING_AUTH_CHECK,
					   OM_DEFAULT_AUTH_CHECK);
	mb->spf_reject = om_policy_word_on(policy, mailbox, OM_SETTING_SPF_REJECT,
					   OM_DEFAULT_SPF_REJECT);
	mb->brake.on = om_policy_word_on(policy, mailbox, OM_SETTING_BRAKE,
					 OM_DEFAULT_BRAKE);
	mb->brake.factor = om_policy_number(policy, mailbox, OM_SETTING_BRAKE_FACTOR,
					    OM_DEFAULT_BRAKE_FACTOR);
	mb->brake.min_messages = om_policy_number(policy, mailbox,
						  OM_SETTING_BRAKE_MIN_MESSAGES,
						  OM_DEFAULT_BRAKE_MIN_MESSAGES);
	mb->brake.min_recipients = om_policy_number(policy, mailbox,
						    OM_SETTING_BRAKE_MIN_RECIPIENTS,
						    OM_DEFAULT_BRAKE_MIN_RECIPIENTS);
	if (*om_settings_domain_of(mailbox) != '\0')
		om_policy_internal_only(policy, mailbox, mb);
	om_hash_set(policy->mailboxes, mailbox, mb);
	return mb;
}

/* Text of the client's for a reason that is logged in quotes: sanitised,
   cut at maxbytes, lower-cased as list entries are, no '"'. */
static char *om_policy_reason_text(const char *s, size_t maxbytes)
{
	char *text = om_sanitize(s, maxbytes), *p;

	for (p = text; *p != '\0'; p++) {
		if (*p == '"')
			*p = '?';
		else if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return text;
}

/* The entry of the where list that matched sender: its "@domain" when that
   alone is listed there, else the whole address. */
static const char *om_policy_block_entry(struct om_policy *policy,
					 const char *sender, const char *recipient,
					 const char *where)
{
	const char *at = strrchr(sender, '@'), *domain_where;

	if (at == NULL || at == sender)
		return sender;
	domain_where = om_snapshot_listed(policy->snap, "block", recipient, at, 1);
	return domain_where != NULL && strcmp(domain_where, where) == 0 ? at : sender;
}

/* 1 if sender is on a block list that applies to recipient, with the list
   and the entry that matched in why: "block list of domain example.jp:
   entry @spam.example". */
static int om_policy_blocked(struct om_policy *policy, const char *sender,
			     const char *recipient, char *why, size_t why_size)
{
	const char *where, *owner;
	char *entry, *owner_text;

	where = om_snapshot_listed(policy->snap, "block", recipient, sender, 1);
	if (where == NULL)
		return 0;
	entry = om_policy_reason_text(om_policy_block_entry(policy, sender, recipient,
							    where), 100);
	owner = strcmp(where, "mailbox") == 0 ? recipient :
		strcmp(where, "domain") == 0 ? om_settings_domain_of(recipient) : "*";
	owner_text = om_policy_reason_text(owner, 100);
	snprintf(why, why_size, "block list of %s %s: entry %s", where,
		 owner_text, entry);
	free(entry);
	free(owner_text);
	return 1;
}

static void om_policy_say(struct om_policy_decision *out,
			  enum om_policy_kind kind, const char *reason)
{
	out->kind = kind;
	out->filter[0] = '\0';
	out->header[0] = '\0';
	out->inside[0] = '\0';
	out->braked = out->tripped = 0;
	if (om_strlcpy(out->reason, reason, sizeof(out->reason)) < 0)
		(void)om_strlcpy(out->reason, "(reason too long)", sizeof(out->reason));
}

/* The text of every answer but FILTER's, whole. */
static const char *om_policy_kind_text(enum om_policy_kind kind)
{
	switch (kind) {
	case OM_POLICY_DUNNO:
		return "DUNNO";
	case OM_POLICY_REJECT_BLOCKED:
		return "REJECT 5.7.1 Sender address is on the recipient's block list";
	case OM_POLICY_DEFER_RECIPIENTS:
		return "452 4.5.3 Too many recipients";
	case OM_POLICY_REJECT_SIZE:
		return "552 5.3.4 Message size exceeds the recipient's limit";
	case OM_POLICY_REJECT_FIXED_SIZE:
		return "552 5.3.4 Message size exceeds the fixed limit";
	case OM_POLICY_DEFER_RATE:
		return "450 4.7.1 Sending rate limit reached, try again later";
	case OM_POLICY_FILTER:
		return "FILTER";
	case OM_POLICY_DEFER_BRAKE:
		return "450 4.7.1 Sending suspended for this account, contact your provider";
	case OM_POLICY_PREPEND_AUTH:
		return "PREPEND";
	case OM_POLICY_REJECT_SPF:
		return "550 5.7.23 SPF validation failed";
	case OM_POLICY_REJECT_INTERNAL_ONLY:
		return "REJECT 5.7.1 Your account may send mail only inside";
	}
	return NULL;
}

const char *om_policy_kind_name(enum om_policy_kind kind)
{
	switch (kind) {
	case OM_POLICY_DUNNO: return "dunno";
	case OM_POLICY_REJECT_BLOCKED: return "reject_blocked";
	case OM_POLICY_DEFER_RECIPIENTS: return "defer_recipients";
	case OM_POLICY_REJECT_SIZE: return "reject_size";
	case OM_POLICY_REJECT_FIXED_SIZE: return "reject_fixed_size";
	case OM_POLICY_DEFER_RATE: return "defer_rate";
	case OM_POLICY_FILTER: return "filter";
	case OM_POLICY_DEFER_BRAKE: return "defer_brake";
	case OM_POLICY_PREPEND_AUTH: return "prepend_auth";
	case OM_POLICY_REJECT_SPF: return "reject_spf";
	case OM_POLICY_REJECT_INTERNAL_ONLY: return "reject_internal_only";
	}
	return NULL;
}

void om_policy_action_text(const struct om_policy_decision *dec,
			   struct om_buf *out)
{
	const char *text = om_policy_kind_text(dec->kind);

	if (dec->kind == OM_POLICY_FILTER && dec->filter[0] != '\0') {
		om_buf_printf(out, "%s %s", text, dec->filter);
		return;
	}
	if (dec->kind == OM_POLICY_REJECT_INTERNAL_ONLY) {
		om_buf_printf(out, "%s %s", text, dec->inside[0] != '\0' ? dec->inside :
			      "its own domain");
		return;
	}
	if (dec->kind == OM_POLICY_PREPEND_AUTH) {
		/* a PREPEND without its header has nothing to add */
		if (dec->header[0] != '\0')
			om_buf_printf(out, "%s %s", text, dec->header);
		else
			om_buf_append_str(out, "DUNNO");
		return;
	}
	/* a FILTER without its destination, or a number that is no answer:
	   what Postfix does when policyd cannot answer (README, doc/policyd.md:
	   default_action), never a pass nobody decided */
	if (dec->kind == OM_POLICY_FILTER || text == NULL)
		text = "DEFER_IF_PERMIT Service unavailable";
	om_buf_append_str(out, text);
}

static struct om_policy_instance *om_policy_instance(struct om_policy *policy,
						     const char *instance,
						     time_t now)
{
	struct om_policy_instance *inst;

	if (*instance == '\0')
		return NULL;
	inst = om_hash_get(policy->instances, instance);
	if (inst == NULL) {
		if (om_hash_count(policy->instances) >= OM_POLICY_INSTANCES_MAX)
			om_policy_make_room(policy, now);
		inst = om_calloc(1, sizeof(*inst));
		om_hash_set(policy->instances, instance, inst);
	}
	inst->seen = now;
	return inst;
}

/* The sender's rate: 1 if this recipient would go over a limit. */
static int om_policy_rate_exceeded(struct om_policy *policy,
				   const struct om_policy_request *req,
				   time_t now, char *why, size_t why_size)
{
	const char *user = req->sasl_username;
	const struct om_policy_mailbox *mb = om_policy_mailbox(policy, user);
	long long window = mb->rate_window, max_msgs = mb->rate_messages;
	long long max_rcpts = mb->rate_recipients;
	long long start = window > 0 ? (long long)now - (long long)now % window : 0;
	struct om_policy_rate *rate = om_hash_get(policy->rates, user);
	char *user_text;
	int new_message;

	if (rate == NULL) {
		rate = om_calloc(1, sizeof(*rate));
		om_hash_set(policy->rates, user, rate);
	}
	if (rate->window_start != start) {
		/* a new window (what was not merged of the old one no longer
		   decides anything) */
		rate->window_start = start;
		rate->messages = rate->recipients = 0;
		rate->unmerged_messages = rate->unmerged_recipients = 0;
		rate->inflight_messages = rate->inflight_recipients = 0;
		rate->last_instance[0] = '\0';
	}
	new_message = strcmp(rate->last_instance, req->instance) != 0;
	if ((new_message && rate->messages + 1 > max_msgs) ||
	    rate->recipients + 1 > max_rcpts) {
		user_text = om_policy_reason_text(user, 100);
		snprintf(why, why_size, "%s: %lld messages, %lld recipients in this "
			 "%llds window (limits %lld, %lld)", user_text, rate->messages,
			 rate->recipients, window, max_msgs, max_rcpts);
		free(user_text);
		return 1;
	}
	if (new_message) {
		rate->messages++;
		rate->unmerged_messages++;
		(void)om_strlcpy(rate->last_instance, req->instance,
				 sizeof(rate->last_instance));
	}
	rate->recipients++;
	rate->unmerged_recipients++;
	return 0;
}

/* An outbound subscriber's message: FILTER to the configured filter, or
   DUNNO (and why) when omamori.conf names none. */
static void om_policy_route_outbound(struct om_policy *policy, const char *why,
				     struct om_policy_decision *out)
{
	if (*policy->outbound_filter == '\0') {
		om_policy_say(out, OM_POLICY_DUNNO, "authenticated sender subscribes "
			      "to an outbound feature, but omamori.conf names no "
			      "outbound_filter: not routed");
		return;
	}
	om_policy_say(out, OM_POLICY_FILTER, why);
	if (om_strlcpy(out->filter, policy->outbound_filter,
		       sizeof(out->filter)) < 0) {
		/* config.c bounds the length; never a cut transport name */
		om_policy_say(out, OM_POLICY_DUNNO, "outbound_filter too long: not routed");
	}
}

/* An outbound subscriber's recipient: FILTER when it needs the
   after-queue path (decide/route.h: a hold may be met, outbound-spam,
   outbound-path queue, or outbound_inline = 0), else DUNNO - the
   submission milter, omamori-submit, checks it before the queue (it asks
   the same decision, so a message is checked by one of them). */
static void om_policy_route_outbound_or_inline(struct om_policy *policy,
					       const struct om_policy_request *req,
					       struct om_policy_decision *out)
{
	const char *why;
	char text[OM_POLICY_REASON_MAX];

	if (om_route_rcpt_conf(om_snapshot_source(policy->snap), policy->outbound_inline,
			       req->sasl_username, req->sender, req->recipient,
			       &why) == OM_ROUTE_QUEUE) {
		snprintf(text, sizeof(text), "outbound, after the queue: %s", why);
		om_policy_route_outbound(policy, text, out);
		return;
	}
	snprintf(text, sizeof(text), "outbound, checked before the queue by "
		 "omamori-submit: %s", why);
	om_policy_say(out, OM_POLICY_DUNNO, text);
}

/* The brake holds this login's mail: FILTER to brake_filter (the
   filter's brake socket, where every message is held for the
   administrator), or 450 when omamori.conf names none. */
static void om_policy_route_brake(struct om_policy *policy, const char *why,
				  int tripped, struct om_policy_decision *out)
{
	if (*policy->brake_filter == '\0' ||
	    strlen(policy->brake_filter) >= sizeof(out->filter)) {
		om_policy_say(out, OM_POLICY_DEFER_BRAKE, why);
	} else {
		om_policy_say(out, OM_POLICY_FILTER, why);
		(void)om_strlcpy(out->filter, policy->brake_filter, sizeof(out->filter));
	}
	out->braked = 1;
	out->tripped = tripped;
}

static int om_policy_header_domain(const char *s);

/* The mailbox internal-only is looked up for: the SASL login, else the
   envelope sender when its mailbox is in a policy group (a device that
   sends without logging in); NULL for none. */
static const char *om_policy_sender_mailbox(struct om_policy *policy,
					    const struct om_policy_request *req)
{
	char *group, *error = NULL;

	if (*req->sasl_username != '\0')
		return req->sasl_username;
	if (*req->sender == '\0')
		return NULL;
	group = om_settings_group_of(om_snapshot_source(policy->snap), req->sender,
				     &error);
	free(error);
	if (group == NULL)
		return NULL;
	free(group);
	return req->sender;
}

/* 1 (out filled) if the sender may write only inside its domain and the
   recipient is outside it and its internal-domains. */
static int om_policy_outside_refused(struct om_policy *policy,
				     const struct om_policy_request *req,
				     struct om_policy_decision *out)
{
	const char *mailbox = om_policy_sender_mailbox(policy, req), *domain;
	const struct om_policy_mailbox *mb;
	char why[OM_POLICY_REASON_MAX], group[OM_GROUP_NAME_MAX + 1];
	char *rcpt_text, *domain_text;

	if (mailbox == NULL)
		return 0;
	mb = om_policy_mailbox(policy, mailbox);
	if (!mb->internal_only ||
	    om_route_inside(om_snapshot_source(policy->snap), mailbox, req->recipient))
		return 0;
	(void)om_strlcpy(group, mb->group, sizeof(group));
	domain = om_settings_domain_of(mailbox);
	rcpt_text = om_policy_reason_text(om_settings_domain_of(req->recipient), 100);
	domain_text = om_policy_reason_text(domain, 100);
	snprintf(why, sizeof(why), "internal-only (%s%s of %s): recipient domain %s "
		 "is outside %s and its internal-domains", *group != '\0' ?
		 "policy group " : "domain setting", group, domain_text, rcpt_text,
		 domain_text);
	free(rcpt_text);
	free(domain_text);
	om_policy_say(out, OM_POLICY_REJECT_INTERNAL_ONLY, why);
	/* the reply names only a checked domain and group name */
	if (om_policy_header_domain(domain) &&
	    snprintf(out->inside, sizeof(out->inside), "%s (%s%s)", domain,
		     *group != '\0' ? "policy group " : "domain policy", group) >=
	    (int)sizeof(out->inside))
		out->inside[0] = '\0';
	return 1;
}

static void om_policy_decide_rcpt(struct om_policy *policy,
				  const struct om_policy_request *req,
				  time_t now, struct om_policy_decision *out)
{
	struct om_policy_instance *inst = om_policy_instance(policy, req->instance, now);
	const struct om_policy_mailbox *mb;
	long long max_rcpts, max_size;
	int auth_check, spf_reject;
	char why[OM_POLICY_REASON_MAX];

	if (om_policy_blocked(policy, req->sender, req->recipient, why, sizeof(why))) {
		om_policy_say(out, OM_POLICY_REJECT_BLOCKED, why);
		return;
	}
	if (om_policy_outside_refused(policy, req, out))
		return;
	mb = om_policy_mailbox(policy, req->recipient);
	max_rcpts = mb->max_recipients;
	max_size = mb->max_message_size;
	/* copied: a later lookup may start the mailbox cache again */
	auth_check = mb->auth_check;
	spf_reject = mb->spf_reject;
	if (inst != NULL && inst->recipients + 1 > max_rcpts) {
		snprintf(why, sizeof(why), "recipient %ld of this message, limit %lld",
			 inst->recipients + 1, max_rcpts);
		om_policy_say(out, OM_POLICY_DEFER_RECIPIENTS, why);
		return;
	}
	if (req->size > max_size) {
		snprintf(why, sizeof(why), "declared size %lld over %lld", req->size, max_size);
		om_policy_say(out, OM_POLICY_REJECT_SIZE, why);
		return;
	}
	if (*req->sasl_username != '\0' &&
	    om_brake_braked(policy->brake, req->sasl_username)) {
		om_policy_route_brake(policy, "brake: this login is braked", 0, out);
		return;
	}
	if (*req->sasl_username != '\0' &&
	    om_policy_rate_exceeded(policy, req, now, why, sizeof(why))) {
		om_policy_say(out, OM_POLICY_DEFER_RATE, why);
		return;
	}
	if (*req->sasl_username != '\0' &&
	    om_brake_count(policy->brake, req->sasl_username, req->instance,
			   req->recipient,
			   &om_policy_mailbox(policy, req->sasl_username)->brake,
			   now, why, sizeof(why))) {
		om_policy_route_brake(policy, why, 1, out);
		return;
	}
	if (inst != NULL) {
		inst->recipients++;
		if (inst->size_limit == 0 || max_size < inst->size_limit)
			inst->size_limit = max_size;
		inst->auth_recipients += auth_check;
		inst->spf_reject_recipients += spf_reject;
	}
	if (*req->sasl_username != '\0')
		om_policy_note_correspondent(policy, req->sasl_username,
					     req->recipient, now);
	if (*req->sasl_username != '\0' &&
	    om_policy_mailbox(policy, req->sasl_username)->outbound) {
		om_policy_route_outbound_or_inline(policy, req, out);
		return;
	}
	om_policy_say(out, OM_POLICY_DUNNO, "no rule applies");
}

/* At MAIL and END-OF-MESSAGE; after END-OF-MESSAGE the message is over
   and its state is forgotten at once. */
static void om_policy_decide_size(struct om_policy *policy,
				  const struct om_policy_request *req,
				  time_t now, int message_over,
				  struct om_policy_decision *out)
{
	struct om_policy_instance *inst = om_policy_instance(policy, req->instance, now);
	long long limit = inst != NULL && inst->size_limit > 0 ? inst->size_limit :
		om_policy_mailbox(policy, "")->max_message_size;
	char why[200];

	if (message_over && inst != NULL)
		free(om_hash_delete(policy->instances, req->instance));
	if (req->size > limit) {
		snprintf(why, sizeof(why), "size %lld over %lld", req->size, limit);
		om_policy_say(out, OM_POLICY_REJECT_FIXED_SIZE, why);
		return;
	}
	om_policy_say(out, OM_POLICY_DUNNO, "size within the limit");
}

/* 1 if s may go into a header as a domain: 1..253 bytes of letters,
   digits, '-', '_', '.'. */
static int om_policy_header_domain(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > 253 || *s == '.')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	}
	return 1;
}

/* The Authentication-Results field of an SPF result: the MAIL FROM
   domain (lower case) when it is a clean domain name, else the HELO
   name for the null sender; no property for anything else. */
static void om_policy_spf_header(const struct om_policy *policy,
				 const struct om_policy_request *req,
				 enum om_ar_result result, char *out, size_t size)
{
	const char *at = strrchr(req->sender, '@');
	char domain[254], *p;
	const char *property = NULL;
	int n;

	domain[0] = '\0';
	if (*req->sender != '\0' && at != NULL &&
	    om_strlcpy(domain, at + 1, sizeof(domain)) == 0 &&
	    om_policy_header_domain(domain))
		property = "smtp.mailfrom";
	else if (*req->sender == '\0' &&
		 om_strlcpy(domain, req->helo_name, sizeof(domain)) == 0 &&
		 om_policy_header_domain(domain))
		property = "smtp.helo";
	for (p = domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	n = snprintf(out, size, "Authentication-Results: %s; spf=%s%s%s%s%s",
		     policy->authserv_id, om_ar_result_name(result),
		     property != NULL ? " " : "", property != NULL ? property : "",
		     property != NULL ? "=" : "", property != NULL ? domain : "");
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
}

/* At DATA: omamori's SPF check of a message from a client that did not
   authenticate, when one of its recipients' domains asks for it. */
static void om_policy_decide_data(struct om_policy *policy,
				  const struct om_policy_request *req,
				  struct om_policy_decision *out)
{
	struct om_policy_instance *inst = *req->instance != '\0' ?
		om_hash_get(policy->instances, req->instance) : NULL;
	enum om_ar_result result;
	char why[160], reason[OM_POLICY_REASON_MAX], *why_text;

	if (policy->spf == NULL || *policy->authserv_id == '\0') {
		om_policy_say(out, OM_POLICY_DUNNO, "no SPF check configured");
		return;
	}
	if (*req->sasl_username != '\0') {
		om_policy_say(out, OM_POLICY_DUNNO, "authenticated sender: no SPF check");
		return;
	}
	if (inst == NULL || inst->auth_recipients == 0) {
		om_policy_say(out, OM_POLICY_DUNNO, "no recipient with auth-check on");
		return;
	}
	why[0] = '\0';
	result = policy->spf(policy->spf_context, req->client_address,
			     req->helo_name, req->sender, why, sizeof(why));
	if (result == OM_AR_RESULT_NONE)
		result = OM_AR_TEMPERROR;
	why_text = om_policy_reason_text(why, 120);
	snprintf(reason, sizeof(reason), "spf=%s: %s", om_ar_result_name(result),
		 why_text);
	free(why_text);
	if (result == OM_AR_FAIL &&
	    inst->spf_reject_recipients == inst->recipients) {
		om_policy_say(out, OM_POLICY_REJECT_SPF, reason);
		return;
	}
	om_policy_say(out, OM_POLICY_PREPEND_AUTH, reason);
	om_policy_spf_header(policy, req, result, out->header, sizeof(out->header));
}

void om_policy_decide(struct om_policy *policy,
		      const struct om_policy_request *req, time_t now,
		      struct om_policy_decision *out)
{
	if (strcmp(req->request, "smtpd_access_policy") != 0) {
		om_policy_say(out, OM_POLICY_DUNNO, "not an smtpd_access_policy request");
		return;
	}
	if (strcmp(req->protocol_state, "RCPT") == 0)
		om_policy_decide_rcpt(policy, req, now, out);
	else if (strcmp(req->protocol_state, "MAIL") == 0)
		om_policy_decide_size(policy, req, now, 0, out);
	else if (strcmp(req->protocol_state, "DATA") == 0)
		om_policy_decide_data(policy, req, out);
	else if (strcmp(req->protocol_state, "END-OF-MESSAGE") == 0)
		om_policy_decide_size(policy, req, now, 1, out);
	else
		om_policy_say(out, OM_POLICY_DUNNO, "nothing to decide in this state");
}
