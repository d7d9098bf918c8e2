/* test-store-pg.c - the store's core cases against the PostgreSQL backend
 * (issue 21): store_path "postgresql:" + $OMAMORI_PG, a server of the
 * test's own (tests/unit/store-pg.py starts it with tests/pg.py and runs
 * this).  The schema made once and again, settings and their lookup order,
 * lists and their limit, the change log, token learning merged from two
 * handles and from two processes at once, a hold claimed once, the change
 * counter moved by another handle's commit, quarantined mail listed once
 * by a digest, a trace search kept to its domain, a click, a portal code,
 * and the site key.  TAP. */
#include "tap.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *location;

static struct om_store *open_store(int flags)
{
	struct om_store *store = NULL;
	char *error = NULL;

	if (om_store_open(location, flags, 5000, &store, &error) < 0) {
		printf("# open %s: %s\n", location, error);
		free(error);
		return NULL;
	}
	return store;
}

static const char *effective(struct om_store *store, const char *mailbox)
{
	enum om_sub_state state;
	const char *source;
	char *error = NULL;

	if (om_settings_subscription(store, mailbox, OM_FEATURE_INBOUND_VIRUS,
				     &state, &source, &error) < 0) {
		printf("# %s\n", error);
		free(error);
		return "error";
	}
	return om_settings_state_name(state);
}

static void count_row(void *context, const char *a, const char *b, const char *c)
{
	(void)a; (void)b; (void)c;
	(*(int *)context)++;
}

static void test_settings(struct om_store *store)
{
	char *error = NULL, *value = NULL;
	int rows = 0;

	TAP_OK(strcmp(effective(store, "a@example.jp"), "off") == 0, "nothing set: off");
	TAP_OK(om_store_domain_set(store, "example.jp", OM_FEATURE_INBOUND_VIRUS, "on",
				   &error) == 0, "domain setting written");
	TAP_OK(strcmp(effective(store, "a@example.jp"), "on") == 0, "the domain's on applies");
	TAP_OK(om_store_subscription_set(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 "paused", &error) == 0 &&
	       strcmp(effective(store, "a@example.jp"), "paused") == 0,
	       "the mailbox's own row beats the domain");
	TAP_OK(om_store_subscription_set(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 "off", &error) == 0 &&
	       om_store_subscription_get(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 &value, &error) == 1 && strcmp(value, "off") == 0,
	       "a second write replaces the value (upsert)");
	free(value);
	TAP_OK(om_store_subscription_list(store, NULL, count_row, &rows, &error) == 1 &&
	       rows == 1, "one subscription row listed");
	TAP_OK(om_store_subscription_set(store, "a@example.jp", OM_FEATURE_INBOUND_VIRUS,
					 "maybe", &error) < 0,
	       "a state the schema does not know is refused");
	free(error);
	error = NULL;
	TAP_OK(om_store_domain_delete(store, "example.jp", OM_FEATURE_INBOUND_VIRUS,
				      &error) == 0 &&
	       om_store_domain_get(store, "example.jp", OM_FEATURE_INBOUND_VIRUS,
				   &value, &error) == 0, "a deleted setting is gone");
}

static void scope_seen(void *context, const char *scope)
{
	if (strcmp(scope, "b@example.jp") == 0)
		(*(int *)context)++;
}

static void test_lists(struct om_store *store)
{
	const char *entries[] = { "x@spam.example", "y@spam.example", "z@spam.example" };
	long long before, after;
	char *error = NULL;
	int seen = 0;

	TAP_OK(om_store_revision(store, "config", &before, &error) == 0, "config revision read");
	TAP_OK(om_store_list_add(store, "b@example.jp", "block", "x@spam.example", 2,
				 &error) == 0 &&
	       om_store_list_has(store, "b@example.jp", "block", "x@spam.example",
				 &error) == 1, "a block entry added and found");
	TAP_OK(om_store_list_change(store, "b@example.jp", "block", entries, 3, 1, 2,
				    &error) < 0 && strstr(error, "is full") != NULL,
	       "an addition past the limit is refused");
	free(error);
	error = NULL;
	TAP_OK(om_store_list_has(store, "b@example.jp", "block", "y@spam.example",
				 &error) == 0, "the refused addition left nothing behind");
	TAP_OK(om_store_revision(store, "config", &after, &error) == 0 && after > before,
	       "the config revision moved");
	TAP_OK(om_store_changes(store, before, 100, scope_seen, &seen, &error) >= 1 &&
	       seen == 1, "the change log names the scope changed");
	TAP_OK(om_store_list_delete(store, "b@example.jp", "block", "x@spam.example",
				    &error) == 1 &&
	       om_store_list_has(store, "b@example.jp", "block", "x@spam.example",
				 &error) == 0, "an entry removed");
}

struct token_sum {
	const char *token;
	long spam, ham;
};

static void token_row(void *context, const char *token, long spam, long ham)
{
	struct token_sum *t = context;

	if (strcmp(token, t->token) == 0) {
		t->spam = spam;
		t->ham = ham;
	}
}

static int learn(struct om_store *store, const char *token, long spam, long ham)
{
	struct om_store_spam_token row = { token, spam, ham };
	long long before, after;
	char *error = NULL;

	if (om_store_spam_save(store, &row, 1, spam > 0, ham > 0, &before, &after,
			       &error) < 0) {
		printf("# learn: %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

/* Learns n times in a child process of its own (its own connection). */
static pid_t learn_in_child(long n)
{
	pid_t pid = fork();
	struct om_store *store;
	long i;

	if (pid != 0)
		return pid;
	store = open_store(0);
	for (i = 0; store != NULL && i < n; i++) {
		if (learn(store, "race", 1, 0) < 0)
			_exit(1);
	}
	om_store_close(&store);
	_exit(store == NULL && i == n ? 0 : 1);
}

/* Tokens of mail in an unknown charset are bytes, not UTF-8 (TEXT
   refuses them): each is saved with the others and read back as it was. */
static void test_byte_tokens(struct om_store *a)
{
	static const char *const tokens[] = {
		"\xa3\xa4latin1",		/* 8-bit, not UTF-8 */
		"sjis:\x83\x65\x83\x58",	/* Shift_JIS bytes */
		"\xed\xa0\x80surrogate",	/* a surrogate's UTF-8 form */
		"\x7fmark",			/* valid, but the store's mark */
		"\xe6\x97\xa5\xe6\x9c\xac",	/* 日本 (UTF-8: stored as it is) */
	};
	struct om_store_spam_token rows[OM_N_ELEMENTS(tokens)];
	struct om_store_spam_state state;
	long long before, after;
	char *error = NULL;
	size_t i;
	int ok;

	for (i = 0; i < OM_N_ELEMENTS(tokens); i++) {
		rows[i].token = tokens[i];
		rows[i].spam = 2;
		rows[i].ham = 1;
	}
	ok = om_store_spam_save(a, rows, OM_N_ELEMENTS(rows), 1, 0, &before, &after,
				&error) == 0;
	TAP_OK(ok, "tokens that are no UTF-8 are saved with the others: %s",
	       ok ? "yes" : error);
	om_free(&error);
	for (i = 0; i < OM_N_ELEMENTS(tokens); i++) {
		struct token_sum t = { tokens[i], -1, -1 };

		ok = om_store_spam_load(a, token_row, &t, &state, &error) == 0;
		om_free(&error);
		TAP_OK(ok && t.spam == 2 && t.ham == 1, "token %zu read back as it was saved "
		       "(%ld spam, %ld ham)", i, t.spam, t.ham);
	}
}

static void test_tokens(struct om_store *a, struct om_store *b)
{
	struct om_store_spam_state state;
	struct token_sum t = { "viagra", 0, 0 };
	char *error = NULL;
	pid_t p1, p2;
	int st1 = -1, st2 = -1;

	TAP_OK(learn(a, "viagra", 1, 0) == 0 && learn(b, "viagra", 2, 0) == 0 &&
	       learn(b, "viagra", 0, 1) == 0, "two handles learn the same token");
	TAP_OK(om_store_spam_load(a, token_row, &t, &state, &error) == 0 &&
	       t.spam == 3 && t.ham == 1, "their counts add up (3 spam, 1 ham)");
	TAP_OK(state.nspam == 2 && state.nham == 1, "and so do the message totals");
	p1 = learn_in_child(100);
	p2 = learn_in_child(100);
	(void)waitpid(p1, &st1, 0);
	(void)waitpid(p2, &st2, 0);
	t.token = "race";
	t.spam = -1;
	if (om_store_spam_load(a, token_row, &t, &state, &error) < 0) {
		printf("# %s\n", error);
		free(error);
	}
	TAP_OK(st1 == 0 && st2 == 0 && t.spam == 200,
	       "two processes learning at once: 100 + 100 = %ld", t.spam);
	test_byte_tokens(a);
}

static void count_token(void *context, const char *token, long spam, long ham)
{
	(void)spam; (void)ham;
	if (strncmp(token, "bulk", 4) == 0)
		(*(long *)context)++;
}

/* One message of 2000 tokens learned: all saved; the time it took is a
   figure for doc/store.md (one round trip a batch). */
static void test_token_batch(struct om_store *store)
{
	struct om_store_spam_token rows[2000];
	char names[2000][16];
	struct om_store_spam_state state;
	struct timespec t0, t1;
	long long before, after;
	char *error = NULL;
	long seen = 0;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(rows); i++) {
		(void)snprintf(names[i], sizeof(names[i]), "bulk%zu", i);
		rows[i].token = names[i];
		rows[i].spam = 1;
		rows[i].ham = 0;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	TAP_OK(om_store_spam_save(store, rows, OM_N_ELEMENTS(rows), 1, 0, &before,
				  &after, &error) == 0, "a message of 2000 tokens learned");
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# figure: 2000 tokens saved in %.0f ms\n",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (om_store_spam_load(store, count_token, &seen, &state, &error) < 0) {
		printf("# %s\n", error);
		free(error);
	}
	TAP_OK(seen == 2000, "all 2000 are there (%ld)", seen);
}

/* Tokens an array literal must quote, and a change below zero, in one
   save: each stored as it is, the count never negative. */
static void test_token_quoting(struct om_store *store)
{
	static const char *const odd[] = {
		"say\"hi\"", "back\\slash", "{a,b}", "NULL", "", "日本語の件名",
		" lead space", "semi;colon'quote",
	};
	struct om_store_spam_token rows[OM_N_ELEMENTS(odd) + 1];
	struct om_store_spam_state state;
	struct token_sum t;
	long long before, after;
	char *error = NULL;
	size_t i;
	int all = 1;

	for (i = 0; i < OM_N_ELEMENTS(odd); i++) {
		rows[i].token = odd[i];
		rows[i].spam = (long)i + 1;
		rows[i].ham = 0;
	}
	rows[i].token = "bulk0";
	rows[i].spam = -5;
	rows[i].ham = 0;
	TAP_OK(om_store_spam_save(store, rows, OM_N_ELEMENTS(rows), 0, 0, &before,
				  &after, &error) == 0, "odd tokens saved in one batch");
	for (i = 0; i < OM_N_ELEMENTS(odd); i++) {
		t.token = odd[i];
		t.spam = t.ham = -1;
		if (om_store_spam_load(store, token_row, &t, &state, &error) < 0 ||
		    t.spam != (long)i + 1) {
			printf("# %s: %ld\n", odd[i], t.spam);
			all = 0;
		}
	}
	TAP_OK(all, "each odd token stored as it was written, with its count");
	t.token = "bulk0";
	t.spam = -1;
	if (om_store_spam_load(store, token_row, &t, &state, &error) < 0)
		t.spam = -1;
	TAP_OK(t.spam == 0, "a change below zero leaves 0 (%ld)", t.spam);
	free(error);
}

/* In a process of its own, adds the groups PREFIX1..3 to each of DOMAINS
   domains; exits 0 when every refusal was the limit's. */
#define WRITER_DOMAINS 30
static pid_t groups_in_child(const char *prefix, const int gate[2])
{
	pid_t pid = fork();
	struct om_store *store;
	char *domain, *name, *error = NULL;
	char byte;
	int d, g, bad = 0;

	if (pid != 0)
		return pid;
	(void)close(gate[1]);
	store = open_store(0);
	/* both start when the parent closes the gate's other end */
	if (read(gate[0], &byte, 1) < 0)
		_exit(1);
	for (d = 0; store != NULL && d < WRITER_DOMAINS; d++) {
		domain = om_asprintf("w%d.example", d);
		for (g = 1; g <= 3; g++) {
			name = om_asprintf("%s%d", prefix, g);
			if (om_store_group_add(store, domain, name, &error) < 0) {
				if (strstr(error, "the most") == NULL) {
					printf("# %s: %s\n", name, error);
					bad++;
				}
				om_free(&error);
			}
			free(name);
		}
		free(domain);
	}
	om_store_close(&store);
	_exit(store == NULL && bad == 0 ? 0 : 1);
}

static void count_group(void *context, const char *domain, const char *name)
{
	(void)domain; (void)name;
	(*(int *)context)++;
}

/* Two writers at once against the limit of four groups a domain, which
   store.c checks by counting inside its write transaction: the lock taken
   at BEGIN makes each count see the other's insert, as SQLite's BEGIN
   IMMEDIATE does (without it both see three and both add). */
static void test_writers(struct om_store *store)
{
	int gate[2], st1 = -1, st2 = -1, d, n, wrong = 0;
	char *domain, *error = NULL;
	pid_t p1, p2;

	if (pipe(gate) < 0)
		abort();
	p1 = groups_in_child("a", gate);
	p2 = groups_in_child("b", gate);
	(void)usleep(300 * 1000);	/* both connected */
	(void)close(gate[1]);
	(void)close(gate[0]);
	(void)waitpid(p1, &st1, 0);
	(void)waitpid(p2, &st2, 0);
	for (d = 0; d < WRITER_DOMAINS; d++) {
		domain = om_asprintf("w%d.example", d);
		n = 0;
		if (om_store_group_list(store, domain, count_group, &n, &error) < 0)
			om_free(&error);
		if (n != 4)
			printf("# %s: %d groups\n", domain, n);
		wrong += n != 4;
		free(domain);
	}
	TAP_OK(st1 == 0 && st2 == 0 && wrong == 0,
	       "two writers at once: every one of %d domains has exactly 4 groups "
	       "(%d wrong)", WRITER_DOMAINS, wrong);
}

static void hold_row(void *context, const struct om_store_hold *h)
{
	*(enum om_hold_state *)context = h->state;
}

static void test_hold(struct om_store *store, struct om_store *other)
{
	struct om_store_hold h = {
		.id = "h1-pg", .mailbox = "a@example.jp", .sender = "a@example.jp",
		.recipients = "c@other.example\n", .delivered = "", .subject = "hello",
		.attachments = "", .size = 100, .created = time(NULL),
		.expires = time(NULL) + 3600, .expiry = "send",
	};
	enum om_hold_state state = OM_HOLD_NONE, got = OM_HOLD_NONE;
	char *error = NULL;

	TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a hold recorded");
	TAP_OK(om_store_hold_list(other, OM_HOLD_BY_ID, "h1-pg", 0, hold_row, &got,
				  &error) == 1 && got == OM_HOLD_HELD,
	       "another handle sees it held");
	TAP_OK(om_store_hold_claim(other, "h1-pg", OM_HOLD_SENDING, time(NULL), &state,
				   &error) == 1, "released from the other handle");
	TAP_OK(om_store_hold_claim(store, "h1-pg", OM_HOLD_DISCARDED, time(NULL), &state,
				   &error) == 0 && state == OM_HOLD_SENDING,
	       "a second claim finds it taken (sending)");
	free(error);
}

static void q_row(void *context, const struct om_store_quarantined *q)
{
	(void)q;
	(*(int *)context)++;
}

static void test_digest(struct om_store *store, struct om_store *other)
{
	struct om_store_quarantined q = {
		.id = "0123456789abcdef0123456789abcdef", .mailbox = "a@example.jp",
		.received = time(NULL), .sender = "s@spam.example", .from = "S",
		.subject = "win", .score = "9.0", .reasons = "BAYES", .size = 10,
		.from_address = "s@spam.example", .message_id = "m1@spam.example",
	};
	long long digest = 0, again = 0;
	char *error = NULL;
	int items = 0;

	TAP_OK(om_store_quarantine_add(store, &q, &error) == 0 &&
	       om_store_quarantine_get(other, "a@example.jp", q.id, q_row, &items,
				       &error) == 1, "a quarantined message recorded and read");
	items = 0;
	TAP_OK(om_store_digest_claim(store, "a@example.jp", time(NULL), &digest,
				     &error) == 1 && digest > 0 &&
	       om_store_digest_items(other, digest, q_row, &items, &error) == 1,
	       "a digest lists it");
	TAP_OK(om_store_digest_claim(other, "a@example.jp", time(NULL), &again,
				     &error) == 0 && again == 0,
	       "a second digest run does not list it again");
}

static void trace_row(void *context, unsigned int message,
		      const struct om_store_event *ev)
{
	if (message == 1 && strcmp(ev->step, "scan") == 0)
		(*(int *)context)++;
}

static void test_trace(struct om_store *store, struct om_store *other)
{
	struct om_store_event ev[2] = {
		{ .at = time(NULL), .domain = "example.jp", .direction = OM_DIRECTION_IN,
		  .sender = "s@spam.example", .recipient = "a@example.jp",
		  .message_id = "t1@spam.example", .subject = "Win a prize",
		  .queue_id = "ABC123", .step = "policy", .result = "accept", .detail = "" },
		{ .at = time(NULL), .domain = "other.example", .direction = OM_DIRECTION_IN,
		  .sender = "s@spam.example", .recipient = "b@other.example",
		  .message_id = "t1@spam.example", .subject = "Win a prize",
		  .queue_id = "DEF456", .step = "scan", .result = "spam", .detail = "" },
	};
	struct om_trace_query q = { .subject = "PRIZE" };
	struct om_store_event scan = ev[0];
	char *error = NULL;
	int seen = 0;

	scan.step = "scan";
	scan.result = "spam";
	TAP_OK(om_store_events_add(store, ev, 2, &error) == 0 &&
	       om_store_events_add(store, &scan, 1, &error) == 0, "events recorded");
	TAP_OK(om_store_trace_search(other, "example.jp", &q, trace_row, &seen,
				     &error) == 1 && seen == 1,
	       "a trace by subject finds the domain's message and its scan step");
	seen = 0;
	TAP_OK(om_store_trace_search(other, "nowhere.example", &q, trace_row, &seen,
				     &error) == 0 && seen == 0,
	       "another domain's search sees none of it");
}

/* Whether h's change counter leaves before within a second (a
   notification travels: it is not there the instant the commit returns). */
static int counter_moves(struct om_store *h, long long before)
{
	long long now;
	int i;

	for (i = 0; i < 100; i++) {
		now = om_store_change_counter(h);
		if (now >= 0 && now != before)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void test_counter(struct om_store *store, struct om_store *other)
{
	long long before = om_store_change_counter(other), quiet;
	char *error = NULL;

	/* the first read compared the revisions; later ones, for a minute,
	   only read notifications off the socket */
	usleep(100000);
	quiet = om_store_change_counter(other);
	TAP_OK(before >= 0 && quiet == before, "nothing changed: the counter stays");
	TAP_OK(om_store_domain_set(store, "example.jp", "language", "ja", &error) == 0 &&
	       counter_moves(other, before),
	       "another handle's commit moves the change counter (notified)");
	before = om_store_change_counter(other);
	TAP_OK(om_store_list_add(store, "taro@example.jp", "block", "x@counter.example",
				 0, &error) == 0 && counter_moves(other, before),
	       "a list entry added on another handle moves it");
	/* a hold asked of its node (doc/scaling.md): the holding node's
	   filter is woken by the :holds notification */
	{
		struct om_store_hold h = {
			.id = "h2-pg", .mailbox = "a@example.jp", .sender = "a@example.jp",
			.recipients = "c@other.example\n", .delivered = "", .subject = "hi",
			.attachments = "", .size = 10, .created = time(NULL),
			.expires = time(NULL) + 3600, .expiry = "send", .node = "mx-a",
		};
		enum om_hold_state state = OM_HOLD_NONE;

		TAP_OK(om_store_hold_add(store, &h, &error) == 1, "a hold on node mx-a");
		usleep(100000);
		before = om_store_change_counter(other);
		TAP_OK(om_store_hold_claim_on(store, "h2-pg", OM_HOLD_SENDING, 1, "mx-c",
					      "mx-c sender", time(NULL), &state, &error) == 2 &&
		       state == OM_HOLD_RELEASE_ASKED && counter_moves(other, before),
		       "a release asked of another node notifies the other handle");
		TAP_OK(om_store_hold_claim_on(other, "h2-pg", OM_HOLD_SENDING, 1, "mx-b",
					      "mx-b sender", time(NULL), &state, &error) == 0 &&
		       state == OM_HOLD_RELEASE_ASKED, "a second request from another handle "
		       "loses");
		TAP_OK(om_store_hold_take_asked(other, "h2-pg", time(NULL), &state,
						&error) == 1 && state == OM_HOLD_SENDING &&
		       om_store_hold_take_asked(store, "h2-pg", time(NULL), &state,
						&error) == 0,
		       "the holding node takes it, once");
	}
	/* a transaction rolled back (two entries over a limit of one, refused
	   whole after both were written): nothing committed, nothing told */
	{
		const char *two[] = { "a@rollback.example", "b@rollback.example" };

		before = om_store_change_counter(other);
		TAP_OK(om_store_list_change(store, "jiro@example.jp", "block", two, 2, 1, 1,
					    &error) < 0, "a change refused whole");
		om_free(&error);
		usleep(300000);
		TAP_OK(om_store_change_counter(other) == before,
		       "a rolled-back change notifies nobody");
	}
}

static void test_rest(struct om_store *store)
{
	unsigned char key[32], zero[32] = { 0 };
	char *error = NULL;
	int tries = 0;
	long n;

	TAP_OK(om_store_secret(store, "report-key", key, sizeof(key), &error) == 0 &&
	       memcmp(key, zero, sizeof(key)) != 0, "the site's report key is there");
	TAP_OK(om_store_url_click(store, "a@example.jp", "evil.example",
				  OM_URL_VERDICT_BLOCK, time(NULL), &error) == 0 &&
	       om_store_url_clicks_count(store, "a@example.jp", &error) == 1,
	       "a click through the gate recorded and counted");
	n = om_store_portal_code_set(store, "p1", "x@other.example", "hash1",
				     time(NULL) + 600, 5, &error);
	TAP_OK(n == 1 && om_store_portal_code_check(store, "p1", "x@other.example",
						    "wrong", time(NULL), 5, &tries,
						    &error) == OM_STORE_CODE_WRONG &&
	       tries == 1 &&
	       om_store_portal_code_check(store, "p1", "x@other.example", "hash1",
					  time(NULL), 5, &tries, &error) == OM_STORE_CODE_OK &&
	       om_store_portal_code_check(store, "p1", "x@other.example", "hash1",
					  time(NULL), 5, &tries, &error) == OM_STORE_CODE_EXPIRED,
	       "a portal code: a wrong answer counted, the right one accepted once");
	n = om_store_portal_code_set(store, "p1", "x@other.example", "hash2",
				     time(NULL) + 600, 1, &error);
	TAP_OK(n == 0, "a portal code: none set on a locked link (%ld)", n);
}

/* The server drops every other connection (as a restart would): the next
   call fails, the one after it works on a new connection. */
static void test_lost_connection(struct om_store *store, const char *conninfo)
{
	char *command, *error = NULL, *value = NULL;
	int first, second;

	command = om_asprintf("psql -X -q -At '%s' -c \"SELECT count(pg_terminate_backend(pid)) "
			      "FROM pg_stat_activity WHERE datname = current_database() "
			      "AND pid <> pg_backend_pid()\" >/dev/null", conninfo);
	TAP_OK(system(command) == 0, "the server dropped the store's connections");
	free(command);
	first = om_store_domain_get(store, "example.jp", "language", &value, &error);
	printf("# after the loss: %d %s\n", first, error != NULL ? error : "");
	om_free(&error);
	om_free(&value);
	second = om_store_domain_get(store, "example.jp", "language", &value, &error);
	TAP_OK(first < 0 && second == 1 && value != NULL && strcmp(value, "ja") == 0,
	       "a lost connection: the call that met it fails, the next reconnects");
	om_free(&value);
	om_free(&error);
}

int main(void)
{
	const char *conninfo = getenv("OMAMORI_PG");
	struct om_store *store, *again, *other;

	if (conninfo == NULL) {
		printf("1..0 # SKIP OMAMORI_PG not set (run through store-pg.py)\n");
		return 77;
	}
	location = om_asprintf("postgresql:%s", conninfo);
	store = open_store(0);
	TAP_OK(store == NULL, "a database without the schema is refused");
	store = open_store(OM_STORE_CREATE);
	TAP_OK(store != NULL && om_store_schema_version(store) == 26,
	       "the schema made, version 26");
	if (store == NULL)
		return tap_done();
	again = open_store(OM_STORE_CREATE);
	TAP_OK(again != NULL && om_store_schema_version(again) == 26,
	       "making it again is harmless");
	om_store_close(&again);
	other = open_store(0);
	TAP_OK(other != NULL, "a second handle opens it");
	if (other == NULL)
		return tap_done();
	test_settings(store);
	test_lists(store);
	test_tokens(store, other);
	test_token_batch(store);
	test_token_quoting(store);
	test_writers(store);
	test_hold(store, other);
	test_digest(store, other);
	test_trace(store, other);
	test_counter(store, other);
	test_rest(store);
	test_lost_connection(store, conninfo);
	om_store_close(&other);
	om_store_close(&store);
	free(location);
	return tap_done();
}
