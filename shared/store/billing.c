/* billing.c - the billing export's figures from the history of
 * subscription states (billing.h).
 *
 * The month's history is read once (each mailbox's feature: its state
 * when the month began and its changes in it), ordered by mailbox,
 * feature and time, and each mailbox's feature is turned into the days of
 * the month it was on and paused; where a mailbox has no subscription of
 * its own, its policy group's setting of the feature (while it was in a
 * group that had one), else its domain's (then the global) feature
 * setting or "default" decides, as it did at each moment (the change log
 * says when each changed, and when the mailbox joined and left groups).  No SQL here (the store reads the rows), so the counting is a
 * pure function the unit tests drive with chosen times.
 */
#include "store/billing.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_DAY 86400LL

/* Days from 1970-01-01 to year-month-01 (proleptic Gregorian). */
static long long om_billing_days_from_civil(long long y, unsigned int m)
{
	long long era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

int om_billing_month(const char *text, long long now, long long *start_r,
		     long long *end_r, char **error_r)
{
	unsigned int year, month;
	char end;

	if (strlen(text) != 7 || text[4] != '-' ||
	    strspn(text, "0123456789") != 4 || strspn(text + 5, "0123456789") != 2 ||
	    sscanf(text, "%4u-%2u%c", &year, &month, &end) != 2 ||
	    month < 1 || month > 12 || year < 1970) {
		*error_r = om_asprintf("month '%.20s' is not of the form YYYY-MM "
				       "(1970-01 or later), e.g. 2026-11", text);
		return -1;
	}
	*start_r = om_billing_days_from_civil(year, month) * OM_DAY;
	*end_r = om_billing_days_from_civil(month == 12 ? year + 1 : year,
					    month == 12 ? 1 : month + 1) * OM_DAY;
	if (*start_r > now) {
		*error_r = om_asprintf("month %s has not begun yet: nothing to bill",
				       text);
		return -1;
	}
	return 0;
}

/* The bits of the days [from, to) touches, to > from, within [start, end). */
static uint32_t om_billing_span(long long from, long long to, long long start,
				long long end)
{
	long long first, last, d;
	uint32_t bits = 0;

	if (from < start)
		from = start;
	if (to > end)
		to = end;
	if (to <= from)
		return 0;
	first = (from - start) / OM_DAY;
	last = (to - 1 - start) / OM_DAY;
	for (d = first; d <= last && d < OM_BILLING_DAYS_MAX; d++)
		bits |= (uint32_t)1 << d;
	return bits;
}

static int om_billing_popcount(uint32_t bits)
{
	int n = 0;

	for (; bits != 0; bits &= bits - 1)
		n++;
	return n;
}

enum om_sub_state om_billing_days(const struct om_billing_change *changes, size_t n,
				  long long start, long long end, int *days_on_r,
				  int *days_paused_r)
{
	uint32_t on = 0, paused = 0, bits;
	long long to;
	size_t i;

	for (i = 0; i < n; i++) {
		to = i + 1 < n ? changes[i + 1].at : end;
		/* a state changed again within the second it was set still
		   held at that moment */
		if (to <= changes[i].at)
			to = changes[i].at + 1;
		bits = om_billing_span(changes[i].at, to, start, end);
		if (changes[i].state == OM_SUB_ON)
			on |= bits;
		else if (changes[i].state == OM_SUB_PAUSED)
			paused |= bits;
	}
	*days_on_r = om_billing_popcount(on);
	*days_paused_r = om_billing_popcount(paused);
	return on != 0 ? OM_SUB_ON : paused != 0 ? OM_SUB_PAUSED : OM_SUB_OFF;
}

/* ---- the domain and global levels: their feature settings over time ----
 *
 * A mailbox without its own subscription row follows its domain's
 * setting of the feature, else the domain's "default" (all-on, all-off),
 * then the same two globally (settings.c's order).  Those settings change
 * through om_settings_domain_change, which records each change (old ->
 * new, when) in the change log: a setting's value at a time is the old
 * value of the first change after it, the new value of the last change
 * before it, or today's value after the last change (and when none was
 * recorded). */

#define OM_BILLING_LEVEL_NAMES (OM_BILLING_FEATURES_MAX + 1)	/* + "default" */
#define OM_BILLING_FEATURES_MAX 31
/* The changes of a scope read for one report at most (the change log of a
   domain holds its lists and admins too). */
#define OM_BILLING_LOG_MAX 1000000L

struct om_billing_level_change {
	long long at, id;
	char *old_value, *new_value;	/* NULL: unset */
};

struct om_billing_setting {
	struct om_billing_level_change *changes;	/* oldest first */
	size_t count, cap;
	char *now;		/* today's value, NULL unset */
};

/* A policy group's features over time ("setting F of group G"). */
struct om_billing_group {
	char *name;
	struct om_billing_setting settings[OM_BILLING_FEATURES_MAX];
};

/* A mailbox's group over time ("setting group of M"). */
struct om_billing_member {
	char *mailbox;
	struct om_billing_setting group;
};

struct om_billing_scope {
	char *domain;		/* a domain, or "*" */
	struct om_billing_setting settings[OM_BILLING_LEVEL_NAMES];
	struct om_billing_group *groups;	/* a domain's, past ones too */
	size_t n_groups;
	struct om_billing_member *members;	/* mailboxes ever in a group */
	size_t n_members, cap_members;
	int members_sorted;	/* by mailbox, case-insensitive, one each */
};

/* The name of level setting i: the i-th feature, or "default" past them. */
static const char *om_billing_level_name(unsigned int i)
{
	const char *feature = i < OM_BILLING_FEATURES_MAX ? om_settings_feature_nth(i) : NULL;

	return feature != NULL ? feature : "default";
}

static int om_billing_level_index(const char *name)
{
	unsigned int i;
	const char *f;

	for (i = 0; i < OM_BILLING_FEATURES_MAX && (f = om_settings_feature_nth(i)) != NULL;
	     i++) {
		if (strcmp(f, name) == 0)
			return (int)i;
	}
	return strcmp(name, "default") == 0 ? OM_BILLING_FEATURES_MAX : -1;
}

static char *om_billing_value_dup(const char *value)
{
	return value != NULL && *value != '\0' ? om_strdup(value) : NULL;
}

static struct om_billing_group *om_billing_group_get(struct om_billing_scope *scope,
						     const char *name, int add)
{
	size_t i;

	for (i = 0; i < scope->n_groups; i++) {
		if (strcasecmp(scope->groups[i].name, name) == 0)
			return &scope->groups[i];
	}
	if (!add)
		return NULL;
	scope->groups = om_realloc(scope->groups, (scope->n_groups + 1) *
				   sizeof(*scope->groups));
	memset(&scope->groups[scope->n_groups], 0, sizeof(*scope->groups));
	scope->groups[scope->n_groups].name = om_strdup(name);
	return &scope->groups[scope->n_groups++];
}

static int om_billing_member_cmp(const void *p1, const void *p2)
{
	const struct om_billing_member *a = p1, *b = p2;

	return strcasecmp(a->mailbox, b->mailbox);
}

/* The member entry of mailbox (members sorted), or NULL. */
static const struct om_billing_member *
om_billing_member_get(const struct om_billing_scope *scope, const char *mailbox)
{
	struct om_billing_member key;

	if (!scope->members_sorted || scope->n_members == 0)
		return NULL;
	key.mailbox = (char *)mailbox;
	return bsearch(&key, scope->members, scope->n_members, sizeof(key),
		       om_billing_member_cmp);
}

/* An entry for mailbox while loading (the last one again if it is the
   same mailbox); om_billing_members_merge makes them one a mailbox. */
static struct om_billing_member *om_billing_member_add(struct om_billing_scope *scope,
						       const char *mailbox)
{
	if (scope->n_members > 0 &&
	    strcasecmp(scope->members[scope->n_members - 1].mailbox, mailbox) == 0)
		return &scope->members[scope->n_members - 1];
	if (scope->n_members == scope->cap_members) {
		scope->cap_members = scope->cap_members == 0 ? 16 : scope->cap_members * 2;
		scope->members = om_realloc(scope->members, scope->cap_members *
					    sizeof(*scope->members));
	}
	memset(&scope->members[scope->n_members], 0, sizeof(*scope->members));
	scope->members[scope->n_members].mailbox = om_strdup(mailbox);
	return &scope->members[scope->n_members++];
}

static void om_billing_setting_add(struct om_billing_setting *set,
				   const struct om_store_change *c)
{
	if (set->count == set->cap) {
		set->cap = set->cap == 0 ? 8 : set->cap * 2;
		set->changes = om_realloc(set->changes, set->cap * sizeof(*set->changes));
	}
	/* in the log's order: put in time order afterwards */
	set->changes[set->count].at = c->at;
	set->changes[set->count].id = c->id;
	set->changes[set->count].old_value = om_billing_value_dup(c->old_value);
	set->changes[set->count].new_value = om_billing_value_dup(c->new_value);
	set->count++;
}

/* Splits "NAME of REST" (what past "setting "): the name in buf. */
static const char *om_billing_of(const char *what, char *buf, size_t size)
{
	const char *of = strstr(what, " of ");
	size_t len;

	if (of == NULL || (len = (size_t)(of - what)) >= size)
		return NULL;
	memcpy(buf, what, len);
	buf[len] = '\0';
	return of + 4;
}

/* The log's "setting F", "setting F of group G" and "setting group of M". */
static void om_billing_log_cb(void *context, const struct om_store_change *c)
{
	struct om_billing_scope *scope = context;
	const char *rest;
	char name[64];
	int i;

	if (strncmp(c->what, "setting ", 8) != 0)
		return;
	rest = om_billing_of(c->what + 8, name, sizeof(name));
	if (rest == NULL) {
		if ((i = om_billing_level_index(c->what + 8)) >= 0)
			om_billing_setting_add(&scope->settings[i], c);
	} else if (strncmp(rest, "group ", 6) == 0) {
		if ((i = om_billing_level_index(name)) >= 0 && i < OM_BILLING_FEATURES_MAX)
			om_billing_setting_add(&om_billing_group_get(scope, rest + 6, 1)->
					       settings[i], c);
	} else if (strcmp(name, OM_SETTING_GROUP) == 0) {
		om_billing_setting_add(&om_billing_member_add(scope, rest)->group, c);
	}
}

static void om_billing_setting_free(struct om_billing_setting *set)
{
	size_t j;

	for (j = 0; j < set->count; j++) {
		free(set->changes[j].old_value);
		free(set->changes[j].new_value);
	}
	free(set->changes);
	free(set->now);
}

static void om_billing_scope_free(struct om_billing_scope *scope)
{
	unsigned int i;
	size_t j;

	for (i = 0; i < OM_BILLING_LEVEL_NAMES; i++)
		om_billing_setting_free(&scope->settings[i]);
	for (j = 0; j < scope->n_groups; j++) {
		for (i = 0; i < OM_BILLING_FEATURES_MAX; i++)
			om_billing_setting_free(&scope->groups[j].settings[i]);
		free(scope->groups[j].name);
	}
	free(scope->groups);
	for (j = 0; j < scope->n_members; j++) {
		om_billing_setting_free(&scope->members[j].group);
		free(scope->members[j].mailbox);
	}
	free(scope->members);
	free(scope->domain);
	memset(scope, 0, sizeof(*scope));
}

/* Time order; the log's order within a second. */
static int om_billing_level_cmp(const void *p1, const void *p2)
{
	const struct om_billing_level_change *a = p1, *b = p2;

	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void om_billing_setting_sort(struct om_billing_setting *set)
{
	if (set->count > 1)
		qsort(set->changes, set->count, sizeof(*set->changes), om_billing_level_cmp);
}

/* Sorts the members and makes the entries of one mailbox one (their
   changes together). */
static void om_billing_members_merge(struct om_billing_scope *scope)
{
	struct om_billing_member *to, *from;
	size_t i, n = 0, k;

	if (scope->n_members > 1)
		qsort(scope->members, scope->n_members, sizeof(*scope->members),
		      om_billing_member_cmp);
	for (i = 0; i < scope->n_members; i++) {
		from = &scope->members[i];
		if (n > 0 && strcasecmp(scope->members[n - 1].mailbox, from->mailbox) == 0) {
			to = &scope->members[n - 1];
			for (k = 0; k < from->group.count; k++) {
				if (to->group.count == to->group.cap) {
					to->group.cap = to->group.cap == 0 ? 8 : to->group.cap * 2;
					to->group.changes = om_realloc(to->group.changes,
						to->group.cap * sizeof(*to->group.changes));
				}
				to->group.changes[to->group.count++] = from->group.changes[k];
			}
			free(from->group.changes);
			free(from->group.now);
			free(from->mailbox);
			continue;
		}
		if (n != i)
			scope->members[n] = *from;
		n++;
	}
	scope->n_members = n;
	scope->members_sorted = 1;
}

static void om_billing_group_cb(void *context, const char *domain, const char *name)
{
	(void)domain;
	(void)om_billing_group_get(context, name, 1);
}

static void om_billing_member_cb(void *context, const char *mailbox, const char *name)
{
	(void)name;
	(void)om_billing_member_add(context, mailbox);
}

/* A domain's groups and members: their histories in time order and
   today's values (groups and members of today added).  0 or -1. */
static int om_billing_groups_load(struct om_store *store, struct om_billing_scope *scope,
				  char **error_r)
{
	char buf[OM_GROUP_SCOPE_MAX];
	struct om_billing_group *g;
	size_t j, n;
	unsigned int i;
	int ret;

	if (om_store_group_list(store, scope->domain, om_billing_group_cb, scope, error_r) < 0)
		return -1;
	n = scope->n_groups;
	for (j = 0; j < n; j++) {
		if (om_store_group_members(store, scope->domain, scope->groups[j].name,
					   om_billing_member_cb, scope, error_r) < 0)
			return -1;
	}
	for (j = 0; j < scope->n_groups; j++) {
		g = &scope->groups[j];
		if (om_settings_group_scope(scope->domain, g->name, buf, sizeof(buf)) < 0)
			continue;	/* no such group can be today's */
		for (i = 0; i < OM_BILLING_FEATURES_MAX &&
		     om_settings_feature_nth(i) != NULL; i++) {
			om_billing_setting_sort(&g->settings[i]);
			ret = om_store_domain_get(store, buf, om_settings_feature_nth(i),
						  &g->settings[i].now, error_r);
			if (ret < 0)
				return -1;
			if (ret == 0)
				g->settings[i].now = NULL;
		}
	}
	om_billing_members_merge(scope);
	for (j = 0; j < scope->n_members; j++) {
		om_billing_setting_sort(&scope->members[j].group);
		ret = om_store_domain_get(store, scope->members[j].mailbox, OM_SETTING_GROUP,
					  &scope->members[j].group.now, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			scope->members[j].group.now = NULL;
	}
	return 0;
}

/* Reads domain's level: its change log's setting changes and today's
   values, and (a domain) its groups'.  0 or -1. */
static int om_billing_scope_load(struct om_store *store, const char *domain,
				 struct om_billing_scope *scope, char **error_r)
{
	struct om_billing_setting *set;
	unsigned int i;
	int ret;

	memset(scope, 0, sizeof(*scope));
	scope->domain = om_strdup(domain);
	if (*domain == '\0')
		return 0;	/* a user name without a domain: no domain level */
	if (om_store_change_list(store, domain, OM_BILLING_LOG_MAX, om_billing_log_cb, scope,
				 error_r) < 0)
		return -1;
	for (i = 0; i < OM_BILLING_LEVEL_NAMES; i++) {
		set = &scope->settings[i];
		if (set->count > 1)
			qsort(set->changes, set->count, sizeof(*set->changes),
			      om_billing_level_cmp);
		if (i != OM_BILLING_FEATURES_MAX &&
		    om_settings_feature_nth(i) == NULL)
			continue;
		ret = om_store_domain_get(store, domain, om_billing_level_name(i), &set->now,
					  error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			set->now = NULL;
	}
	return strcmp(domain, OM_GLOBAL_DOMAIN) == 0 ? 0 :
		om_billing_groups_load(store, scope, error_r);
}

/* The value of a level setting at t (NULL: unset). */
static const char *om_billing_value_at(const struct om_billing_setting *set, long long t)
{
	size_t i;

	if (set->count == 0)
		return set->now;
	if (t < set->changes[0].at)
		return set->changes[0].old_value;
	for (i = 1; i < set->count && set->changes[i].at <= t; i++)
		;
	return i == set->count ? set->now : set->changes[i - 1].new_value;
}

/* A level's say on feature at t: 1 with *state_r, or 0 (unset). */
static int om_billing_level_at(const struct om_billing_scope *scope, unsigned int feature,
			       long long t, enum om_sub_state *state_r)
{
	const char *v = om_billing_value_at(&scope->settings[feature], t);
	int state;

	if (v == NULL && om_settings_default_covers(om_billing_level_name(feature))) {
		v = om_billing_value_at(&scope->settings[OM_BILLING_FEATURES_MAX], t);
		if (v != NULL) {
			*state_r = strcmp(v, "all-on") == 0 ? OM_SUB_ON : OM_SUB_OFF;
			return 1;
		}
	}
	if (v == NULL)
		return 0;
	state = om_settings_state_parse(v);
	*state_r = state < 0 ? OM_SUB_OFF : (enum om_sub_state)state;
	return 1;
}

/* The say of mailbox's group on feature at t: 1 with *state_r while the
   mailbox was in a group with a value of its own, else 0. */
static int om_billing_group_at(const struct om_billing_scope *scope, const char *mailbox,
			       unsigned int feature, long long t,
			       enum om_sub_state *state_r)
{
	const struct om_billing_member *m;
	const struct om_billing_group *g;
	const char *name, *v;
	int state;

	if (feature >= OM_BILLING_FEATURES_MAX ||
	    (m = om_billing_member_get(scope, mailbox)) == NULL ||
	    (name = om_billing_value_at(&m->group, t)) == NULL ||
	    (g = om_billing_group_get((struct om_billing_scope *)scope, name, 0)) == NULL ||
	    (v = om_billing_value_at(&g->settings[feature], t)) == NULL)
		return 0;
	state = om_settings_state_parse(v);
	*state_r = state < 0 ? OM_SUB_OFF : (enum om_sub_state)state;
	return 1;
}

/* ---- the report, from the store's history ---- */

struct om_billing_reader {
	struct om_store *store;
	struct om_billing_report *report;
	const char *domain;
	char *mailbox, *feature;	/* the key being read */
	struct om_billing_change *changes;	/* its own changes */
	size_t count, cap;
	size_t cap_rows;
	char *seen_mailbox;		/* the mailbox of the features in seen */
	uint32_t seen;			/* features with rows of their own */
	struct om_billing_scope domain_level, global;
	char **seen_all;		/* every mailbox with rows of its own */
	size_t n_seen_all;
	char **group_domains;		/* domains with groups (no domain given) */
	size_t n_group_domains;
	int failed;
	char *error;
};

/* The mailbox's domain level, read when the domain changes. */
static int om_billing_domain_level(struct om_billing_reader *r, const char *mailbox)
{
	const char *domain = om_settings_domain_of(mailbox);

	if (r->domain_level.domain != NULL && strcasecmp(r->domain_level.domain, domain) == 0)
		return 0;
	om_billing_scope_free(&r->domain_level);
	return om_billing_scope_load(r->store, domain, &r->domain_level, &r->error);
}

/* The state at t: own (own, n: the key's own changes, ordered), else its
   group's, else the domain's level, else the global one, else off. */
static enum om_sub_state om_billing_state_at(const struct om_billing_reader *r,
					     const char *mailbox, unsigned int feature,
					     const struct om_billing_change *own, size_t n,
					     long long t)
{
	enum om_sub_state state;
	size_t i;

	for (i = n; i > 0; i--) {
		if (own[i - 1].at <= t)
			return own[i - 1].state;
	}
	if (om_billing_group_at(&r->domain_level, mailbox, feature, t, &state) ||
	    om_billing_level_at(&r->domain_level, feature, t, &state) ||
	    om_billing_level_at(&r->global, feature, t, &state))
		return state;
	return OM_SUB_OFF;
}

static int om_billing_time_cmp(const void *p1, const void *p2)
{
	long long a = *(const long long *)p1, b = *(const long long *)p2;

	return a < b ? -1 : a > b;
}

/* The level changes of feature in (start, end), in time order (both
   levels, the feature's setting and "default").  Allocated; the count in
   *n_r. */
static void om_billing_times_add(const struct om_billing_setting *set, long long start,
				 long long end, long long *times, size_t *count)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (set->changes[i].at > start && set->changes[i].at < end)
			times[(*count)++] = set->changes[i].at;
	}
}

static long long *om_billing_level_times(const struct om_billing_reader *r,
					 const char *mailbox, unsigned int feature,
					 size_t *n_r)
{
	const struct om_billing_scope *scopes[2] = { &r->domain_level, &r->global };
	const struct om_billing_scope *d = &r->domain_level;
	const struct om_billing_member *m =
		om_billing_member_get(d, mailbox);
	long long start = r->report->start, end = r->report->end, *times;
	size_t cap = 1, count = 0, j, k;

	for (k = 0; k < 2; k++) {
		cap += scopes[k]->settings[feature].count +
			scopes[k]->settings[OM_BILLING_FEATURES_MAX].count;
	}
	if (m != NULL) {
		/* its joining and leaving, its groups' changes */
		cap += m->group.count;
		for (j = 0; j < d->n_groups; j++)
			cap += d->groups[j].settings[feature].count;
	}
	times = om_malloc(cap * sizeof(*times));
	for (k = 0; k < 2; k++) {
		om_billing_times_add(&scopes[k]->settings[feature], start, end, times, &count);
		om_billing_times_add(&scopes[k]->settings[OM_BILLING_FEATURES_MAX], start, end,
				     times, &count);
	}
	if (m != NULL) {
		om_billing_times_add(&m->group, start, end, times, &count);
		for (j = 0; j < d->n_groups; j++)
			om_billing_times_add(&d->groups[j].settings[feature], start, end,
					     times, &count);
	}
	qsort(times, count, sizeof(*times), om_billing_time_cmp);
	*n_r = count;
	return times;
}

/* The key's states through the month, for om_billing_days: the state at
   its start, each own change in it (several in one second kept: each held
   at that moment), and, while it has no row of its own yet, each change
   of its levels.  Allocated; the count in *n_r. */
static struct om_billing_change *
om_billing_sequence(const struct om_billing_reader *r, const char *mailbox,
		    unsigned int feature, const struct om_billing_change *own, size_t n,
		    size_t *n_r)
{
	long long start = r->report->start, *times;
	struct om_billing_change *seq;
	size_t n_times, count = 0, i = 0, j = 0;

	times = om_billing_level_times(r, mailbox, feature, &n_times);
	seq = om_malloc((1 + n + n_times) * sizeof(*seq));
	while (i < n && own[i].at < start)
		i++;
	seq[count].at = start;
	seq[count++].state = om_billing_state_at(r, mailbox, feature, own, i, start);
	while (i < n || j < n_times) {
		if (j < n_times && (i == n || times[j] < own[i].at)) {
			/* a level's change: it matters while no own row is */
			if (i == 0) {
				seq[count].at = times[j];
				seq[count++].state = om_billing_state_at(r, mailbox, feature,
									 own, 0, times[j]);
			}
			j++;
		} else {
			seq[count++] = own[i++];
		}
	}
	free(times);
	*n_r = count;
	return seq;
}

/* Adds the row of mailbox's feature from own (its own changes, maybe
   none), unless it has none and was off all month. */
static void om_billing_add(struct om_billing_reader *r, const char *mailbox,
			   const char *feature, const struct om_billing_change *own, size_t n)
{
	struct om_billing_report *rep = r->report;
	struct om_billing_change *states;
	struct om_billing_row row;
	size_t count;
	int f = om_billing_level_index(feature);

	memset(&row, 0, sizeof(row));
	if (f < 0 || f >= OM_BILLING_FEATURES_MAX) {
		/* a feature this build does not know: its own rows only */
		row.state = om_billing_days(own, n, rep->start, rep->end, &row.days_on,
					    &row.days_paused);
	} else {
		states = om_billing_sequence(r, mailbox, (unsigned int)f, own, n, &count);
		row.state = om_billing_days(states, count, rep->start, rep->end,
					    &row.days_on, &row.days_paused);
		free(states);
	}
	if (n == 0 && row.state == OM_SUB_OFF)
		return;
	if (rep->count == r->cap_rows) {
		r->cap_rows = r->cap_rows == 0 ? 64 : r->cap_rows * 2;
		rep->rows = om_realloc(rep->rows, r->cap_rows * sizeof(*rep->rows));
	}
	row.domain = om_strdup(om_settings_domain_of(mailbox));
	row.mailbox = om_strdup(mailbox);
	row.feature = om_strdup(feature);
	rep->rows[rep->count++] = row;
}

/* Ends the key being read: its row in the report. */
static void om_billing_flush(struct om_billing_reader *r)
{
	int f;

	if (r->mailbox == NULL)
		return;
	if (!r->failed && om_billing_domain_level(r, r->mailbox) < 0)
		r->failed = 1;
	if (!r->failed)
		om_billing_add(r, r->mailbox, r->feature, r->changes, r->count);
	f = om_billing_level_index(r->feature);
	if (f >= 0 && f < OM_BILLING_FEATURES_MAX)
		r->seen |= (uint32_t)1 << f;
	free(r->mailbox);
	free(r->feature);
	r->mailbox = r->feature = NULL;
	r->count = 0;
}

/* Ends the mailbox of seen: a row for each feature it has no row of its
   own for and got on or paused from its domain or the global level. */
static void om_billing_flush_mailbox(struct om_billing_reader *r)
{
	unsigned int i;

	if (r->seen_mailbox == NULL)
		return;
	if (!r->failed && om_billing_domain_level(r, r->seen_mailbox) < 0)
		r->failed = 1;
	for (i = 0; i < OM_BILLING_FEATURES_MAX && !r->failed &&
	     om_settings_feature_nth(i) != NULL; i++) {
		if ((r->seen & ((uint32_t)1 << i)) == 0)
			om_billing_add(r, r->seen_mailbox, om_settings_feature_nth(i), NULL, 0);
	}
	free(r->seen_mailbox);
	r->seen_mailbox = NULL;
	r->seen = 0;
}

static void om_billing_change(void *context, const struct om_store_sub_change *c)
{
	struct om_billing_reader *r = context;
	int state = om_settings_state_parse(c->state);

	if (r->domain != NULL &&
	    strcasecmp(om_settings_domain_of(c->mailbox), r->domain) != 0)
		return;
	if (r->mailbox == NULL || strcmp(r->mailbox, c->mailbox) != 0 ||
	    strcmp(r->feature, c->feature) != 0) {
		om_billing_flush(r);
		if (r->seen_mailbox != NULL && strcmp(r->seen_mailbox, c->mailbox) != 0)
			om_billing_flush_mailbox(r);
		if (r->seen_mailbox == NULL) {
			r->seen_mailbox = om_strdup(c->mailbox);
			r->seen_all = om_realloc(r->seen_all, (r->n_seen_all + 1) *
						 sizeof(*r->seen_all));
			r->seen_all[r->n_seen_all++] = om_strdup(c->mailbox);
		}
		r->mailbox = om_strdup(c->mailbox);
		r->feature = om_strdup(c->feature);
	}
	if (r->count == r->cap) {
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
		r->changes = om_realloc(r->changes, r->cap * sizeof(*r->changes));
	}
	r->changes[r->count].at = c->at;
	r->changes[r->count].state = state < 0 ? OM_SUB_OFF : (enum om_sub_state)state;
	r->count++;
}

static int om_billing_row_cmp(const void *p1, const void *p2)
{
	const struct om_billing_row *a = p1, *b = p2;
	int ret = strcmp(a->domain, b->domain);

	if (ret == 0)
		ret = strcmp(a->feature, b->feature);
	return ret != 0 ? ret : strcmp(a->mailbox, b->mailbox);
}

static int om_billing_name_cmp(const void *p1, const void *p2)
{
	return strcasecmp(*(char *const *)p1, *(char *const *)p2);
}

/* Each mailbox of domain that was in one of its groups and has no rows
   of its own (seen_all sorted): the features its group (or domain) gave
   it. */
static void om_billing_members(struct om_billing_reader *r, const char *domain)
{
	char *probe = om_asprintf("postmaster@%s", domain), *mailbox;
	size_t i;

	if (om_billing_domain_level(r, probe) < 0)
		r->failed = 1;
	free(probe);
	for (i = 0; !r->failed && i < r->domain_level.n_members; i++) {
		mailbox = r->domain_level.members[i].mailbox;
		if (r->n_seen_all > 0 &&
		    bsearch(&mailbox, r->seen_all, r->n_seen_all, sizeof(*r->seen_all),
			    om_billing_name_cmp) != NULL)
			continue;
		r->seen_mailbox = om_strdup(mailbox);
		r->seen = 0;
		om_billing_flush_mailbox(r);
	}
}

static void om_billing_domain_cb(void *context, const char *domain, const char *name)
{
	struct om_billing_reader *r = context;

	(void)name;
	if (r->n_group_domains > 0 &&
	    strcasecmp(r->group_domains[r->n_group_domains - 1], domain) == 0)
		return;	/* ordered: a domain's groups come together */
	r->group_domains = om_realloc(r->group_domains, (r->n_group_domains + 1) *
				      sizeof(*r->group_domains));
	r->group_domains[r->n_group_domains++] = om_strdup(domain);
}

/* The group members without rows of their own, of domain or (NULL) of
   every domain with groups today.  0 or -1. */
static int om_billing_group_members(struct om_billing_reader *r, const char *domain,
				    char **error_r)
{
	size_t i;

	if (r->n_seen_all > 1)
		qsort(r->seen_all, r->n_seen_all, sizeof(*r->seen_all), om_billing_name_cmp);
	if (domain != NULL)
		om_billing_members(r, domain);
	else if (om_store_group_list(r->store, NULL, om_billing_domain_cb, r, error_r) < 0)
		return -1;
	for (i = 0; i < r->n_group_domains && !r->failed; i++)
		om_billing_members(r, r->group_domains[i]);
	return 0;
}

static void om_billing_reader_free(struct om_billing_reader *r)
{
	size_t i;

	for (i = 0; i < r->n_seen_all; i++)
		free(r->seen_all[i]);
	free(r->seen_all);
	for (i = 0; i < r->n_group_domains; i++)
		free(r->group_domains[i]);
	free(r->group_domains);
	free(r->mailbox);
	free(r->feature);
	free(r->seen_mailbox);
	free(r->changes);
	om_billing_scope_free(&r->domain_level);
	om_billing_scope_free(&r->global);
}

int om_billing_report(struct om_store *store, const char *month, const char *domain,
		      long long now, struct om_billing_report *report, char **error_r)
{
	struct om_billing_reader r;
	long long end;

	memset(report, 0, sizeof(*report));
	if (om_billing_month(month, now, &report->start, &end, error_r) < 0)
		return -1;
	/* the month in progress up to now, this second included */
	report->end = end <= now ? end : now + 1;
	(void)om_strlcpy(report->month, month, sizeof(report->month));
	memset(&r, 0, sizeof(r));
	r.store = store;
	r.report = report;
	r.domain = domain;
	if (om_billing_scope_load(store, OM_GLOBAL_DOMAIN, &r.global, error_r) < 0 ||
	    om_store_sub_history(store, report->start, report->end, om_billing_change, &r,
				 error_r) < 0) {
		om_billing_reader_free(&r);
		om_billing_report_free(report);
		return -1;
	}
	om_billing_flush(&r);
	om_billing_flush_mailbox(&r);
	if (!r.failed && om_billing_group_members(&r, domain, error_r) < 0) {
		om_billing_reader_free(&r);
		om_billing_report_free(report);
		return -1;
	}
	if (r.failed) {
		*error_r = r.error != NULL ? r.error : om_strdup("billing: reading a domain failed");
		om_billing_reader_free(&r);
		om_billing_report_free(report);
		return -1;
	}
	om_billing_reader_free(&r);
	if (report->count > 0)
		qsort(report->rows, report->count, sizeof(*report->rows),
		      om_billing_row_cmp);
	return 0;
}

void om_billing_report_free(struct om_billing_report *report)
{
	size_t i;

	for (i = 0; i < report->count; i++) {
		free(report->rows[i].domain);
		free(report->rows[i].mailbox);
		free(report->rows[i].feature);
	}
	free(report->rows);
	report->rows = NULL;
	report->count = 0;
}
