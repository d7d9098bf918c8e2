/* test-policy.c - unit tests of policy.c: the request parser fed a byte at a
 * time, pipelined requests, every malformed case, and the decisions against
 * a snapshot of a real store. */
#include "tap.h"
#include "decide/policy.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static const char req_text[] =
	"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=Bad@Spam.Example\n"
	"recipient=alice@example.jp\ninstance=i1\nsize=100\nunknown=ignored\n\n";

static void test_fragmented(void)
{
	size_t len = strlen(req_text), i, used = 0, scanned = 0;
	struct om_policy_request req;
	char buf[512];
	const char *error;
	int ret = 0;

	for (i = 1; i <= len; i++) {
		memcpy(buf, req_text, i);
		ret = om_policy_parse(buf, i, 4096, &scanned, &req, &used, &error);
		if (ret != 0)
			break;
	}
	TAP_OK(ret == 1 && i == len && used == len && scanned == 0,
	       "parsed only once the empty line arrived");
	TAP_OK(strcmp(req.sender, "bad@spam.example") == 0 && req.size == 100 &&
	       strcmp(req.protocol_state, "RCPT") == 0,
	       "attributes read (the sender as a key: lower case), unknown ignored");
}

static void test_pipelined(void)
{
	struct om_policy_request req;
	char buf[1024];
	const char *error;
	size_t used, len, scanned = 0;

	len = (size_t)snprintf(buf, sizeof(buf), "%s%s", req_text, req_text);
	TAP_OK(om_policy_parse(buf, len, 4096, &scanned, &req, &used, &error) == 1 &&
	       used == len / 2, "first of two pipelined requests");
	TAP_OK(om_policy_parse(buf + used, len - used, 4096, &scanned, &req, &used, &error) == 1 &&
	       strcmp(req.instance, "i1") == 0, "second pipelined request");
}

struct bad_case {
	const char *label, *text;
	size_t max;
	const char *error;
};

static const struct bad_case bad_cases[] = {
	{ "no request=", "protocol_state=RCPT\n\n", 4096, "request=" },
	{ "line without =", "request=smtpd_access_policy\nbroken\n\n", 4096, "without '='" },
	{ "oversized, unfinished", "request=smtpd_access_policy\nx=aaaaaaaaaaaaaaaaaaaaaaaaaaaa", 16,
	  "too large" },
	{ "oversized, complete", "request=smtpd_access_policy\nx=aaaaaaaaaaaaaa\n\n", 16, "too large" },
	{ "size with junk", "request=smtpd_access_policy\nsize=12abc\n\n", 4096, "size is not" },
	{ "negative size", "request=smtpd_access_policy\nsize=-1\n\n", 4096, "size is not" },
	{ "size overflowing", "request=smtpd_access_policy\nsize=99999999999999999999999\n\n",
	  4096, "size is not" },
	{ "recipient_count with a space", "request=smtpd_access_policy\nrecipient_count= 3\n\n",
	  4096, "recipient_count is not" },
};

static void test_malformed(void)
{
	struct om_policy_request req;
	const char *error;
	char buf[256];
	size_t used, i, len, scanned;

	for (i = 0; i < OM_N_ELEMENTS(bad_cases); i++) {
		len = strlen(bad_cases[i].text);
		memcpy(buf, bad_cases[i].text, len);
		error = "";
		scanned = 0;
		TAP_OK(om_policy_parse(buf, len, bad_cases[i].max, &scanned, &req, &used, &error) < 0 &&
		       strstr(error, bad_cases[i].error) != NULL, "refused: %s (%s)",
		       bad_cases[i].label, error);
	}
	memcpy(buf, "request=smtpd_access_policy\nsender=a\0b\n\n", 41);
	scanned = 0;
	TAP_OK(om_policy_parse(buf, 41, 4096, &scanned, &req, &used, &error) < 0 &&
	       strstr(error, "NUL") != NULL, "refused: NUL byte");
	len = (size_t)snprintf(buf, sizeof(buf), "%s",
			       "request=smtpd_access_policy\nsize=\nrecipient_count=12\n\n");
	scanned = 0;
	TAP_OK(om_policy_parse(buf, len, 4096, &scanned, &req, &used, &error) == 1 &&
	       req.size == 0 && req.recipient_count == 12,
	       "an empty size is 0, recipient_count read");
}

static struct om_policy_decision dec;	/* the last decision, reason included */
static char answer[512];		/* its text, as policyd writes it */

/* The text of d, as policyd writes it after "action=". */
static const char *answer_of(const struct om_policy_decision *d)
{
	struct om_buf b;

	om_buf_init(&b);
	om_policy_action_text(d, &b);
	if (om_strlcpy(answer, b.data, sizeof(answer)) < 0)
		abort();
	om_buf_free(&b);
	return answer;
}

static const char *decide(struct om_policy *policy, const char *state,
			  const char *sender, const char *rcpt, const char *user,
			  const char *instance, long long size, long now)
{
	struct om_policy_request req;

	memset(&req, 0, sizeof(req));
	req.request = "smtpd_access_policy";
	req.protocol_state = state;
	req.sender = sender;
	req.recipient = rcpt;
	req.sasl_username = user;
	req.instance = instance;
	req.client_address = "127.0.0.1";
	req.helo_name = "Mail.X.example";
	req.size = size;
	om_policy_decide(policy, &req, (time_t)now, &dec);
	return answer_of(&dec);
}

/* Every answer is one of a fixed set; a decision nobody made (a FILTER
   without its destination, a number that is no kind) defers. */
static void test_answers(void)
{
	struct om_policy_decision d;

	memset(&d, 0, sizeof(d));
	TAP_OK(d.kind == OM_POLICY_DUNNO && strcmp(answer_of(&d), "DUNNO") == 0,
	       "a zeroed decision is DUNNO");
	d.kind = OM_POLICY_REJECT_BLOCKED;
	TAP_OK(strcmp(answer_of(&d), "REJECT 5.7.1 Sender address is on the "
			  "recipient's block list") == 0, "block list: REJECT 5.7.1");
	d.kind = OM_POLICY_DEFER_RATE;
	TAP_OK(strncmp(answer_of(&d), "450 4.7.1 ", 10) == 0, "rate: 450 4.7.1");
	d.kind = OM_POLICY_FILTER;
	(void)om_strlcpy(d.filter, "smtp-omamori:[127.0.0.1]:10025", sizeof(d.filter));
	TAP_OK(strcmp(answer_of(&d), "FILTER smtp-omamori:[127.0.0.1]:10025") == 0,
	       "FILTER with its destination");
	d.filter[0] = '\0';
	TAP_OK(strcmp(answer_of(&d), "DEFER_IF_PERMIT Service unavailable") == 0,
	       "FILTER without a destination defers, never a bare FILTER");
	d.kind = (enum om_policy_kind)99;
	TAP_OK(strcmp(answer_of(&d), "DEFER_IF_PERMIT Service unavailable") == 0,
	       "a number that is no answer defers");
}

struct stored_rate {
	const char *user;
	struct om_store_rate *rate;
	int found;
};

static void stored_rate_cb(void *context, const struct om_store_rate *rate)
{
	struct stored_rate *s = context;

	if (strcmp(rate->user, s->user) == 0) {
		*s->rate = *rate;
		s->rate->user = NULL;
		s->found = 1;
	}
}

/* user's counter in the store: 1 found, 0 not, -1 error */
static int stored_rate(struct om_store *store, const char *user, struct om_store_rate *rate_r)
{
	struct stored_rate s = { user, rate_r, 0 };
	char *error = NULL;
	int ret = om_store_rates_each(store, stored_rate_cb, &s, &error);

	free(error);
	return ret < 0 ? -1 : s.found;
}

static void test_decisions(struct om_store *store)
{
	struct om_store_rate stored;
	struct om_policy *policy = om_policy_new(), *again;
	char *error = NULL;

	om_store_list_add(store, "alice@example.jp", "block", "@spam.example", 300, &error);
	om_store_domain_set(store, "example.jp", OM_SETTING_MAX_RECIPIENTS, "2", &error);
	om_store_domain_set(store, "example.jp", OM_SETTING_RATE_MESSAGES, "2", &error);
	om_store_domain_set(store, "example.jp", OM_SETTING_RATE_WINDOW, "60", &error);
	om_store_subscription_set(store, "out@example.jp", OM_FEATURE_OUTBOUND_VIRUS, "on", &error);
	TAP_OK(om_policy_load(policy, store, &error) == 0, "snapshot loads");
	TAP_OK(strncmp(decide(policy, "RCPT", "Bad@SPAM.example", "alice@example.jp", "", "m1", 0, 1000),
		       "REJECT 5.7.1", 12) == 0, "blocked domain rejected (case-insensitive)");
	TAP_OK(strcmp(decide(policy, "RCPT", "bad@spam.example", "bob@example.jp", "", "m1", 0, 1000),
		      "DUNNO") == 0, "same sender, other recipient: DUNNO");
	decide(policy, "RCPT", "a@x.example", "bob@example.jp", "", "m2", 0, 1000);
	decide(policy, "RCPT", "a@x.example", "carol@example.jp", "", "m2", 0, 1000);
	TAP_OK(strncmp(decide(policy, "RCPT", "a@x.example", "dave@example.jp", "", "m2", 0, 1000),
		       "452 4.5.3", 9) == 0, "third recipient over max-recipients 2");
	TAP_OK(strncmp(decide(policy, "RCPT", "a@x.example", "bob@example.jp", "", "m3",
			      20L * 1024 * 1024, 1000), "552 5.3.4", 9) == 0,
	       "declared size over the 15 MB default");
	TAP_OK(strncmp(decide(policy, "END-OF-MESSAGE", "a@x.example", "", "", "m2",
			      16L * 1024 * 1024, 1000), "552 5.3.4", 9) == 0,
	       "actual size checked at END-OF-MESSAGE");
	TAP_OK(strcmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r1", 0, 1200),
		      "DUNNO") == 0 &&
	       strcmp(decide(policy, "RCPT", "u@example.jp", "y@far.example", "u@example.jp", "r1", 0, 1200),
		      "DUNNO") == 0 &&
	       strcmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r2", 0, 1201),
		      "DUNNO") == 0, "two messages within the rate");
	TAP_OK(strncmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r3", 0, 1202),
		       "450 4.7.1", 9) == 0, "third message in the window deferred");
	decide(policy, "RCPT", "e@example.jp", "x@far.example", "Ev\"e\n@example.jp", "q1", 0, 1200);
	decide(policy, "RCPT", "e@example.jp", "x@far.example", "Ev\"e\n@example.jp", "q2", 0, 1200);
	TAP_OK(strncmp(decide(policy, "RCPT", "e@example.jp", "x@far.example", "Ev\"e\n@example.jp",
			      "q3", 0, 1200), "450 4.7.1", 9) == 0 &&
	       strncmp(dec.reason, "ev?e?@example.jp: 2 messages", 28) == 0,
	       "a rate refusal quotes the user sanitised");
	TAP_OK(strcmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r4", 0, 1260),
		      "DUNNO") == 0, "next window: accepted again");
	TAP_OK(om_policy_save_rates(policy, store, 1260, &error) == 0, "rate counters saved");
	TAP_OK(om_policy_save_correspondents(policy, store, &error) == 0 &&
	       om_store_correspondent_known(store, "u@example.jp", "x@far.example", &error) == 1 &&
	       om_store_correspondent_known(store, "u@example.jp", "y@far.example", &error) == 1 &&
	       om_store_correspondent_known(store, "bob@example.jp", "a@x.example", &error) == 0,
	       "whom authenticated senders wrote to is saved (and only theirs)");
	again = om_policy_new();
	TAP_OK(om_policy_load(again, store, &error) == 0 &&
	       om_policy_load_rates(again, store, &error) == 0 &&
	       strcmp(decide(again, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r5", 0, 1261),
		      "DUNNO") == 0 &&
	       strncmp(decide(again, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "r6", 0, 1262),
		       "450 4.7.1", 9) == 0, "restored counters continue the window");
	/* two mail hosts on one store: policy and again */
	TAP_OK(strcmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "h1", 0, 1320),
		      "DUNNO") == 0 &&
	       strcmp(decide(again, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "h2", 0, 1321),
		      "DUNNO") == 0, "two hosts each accept a message of a new window");
	TAP_OK(om_policy_save_rates(policy, store, 1322, &error) == 0 &&
	       om_policy_save_rates(again, store, 1322, &error) == 0 &&
	       stored_rate(store, "u@example.jp", &stored) == 1 &&
	       stored.window_start == 1320 && stored.messages == 2 && stored.recipients == 2,
	       "the store adds both hosts' counts (not the last writer's)");
	TAP_OK(strncmp(decide(again, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "h3", 0, 1323),
		       "450 4.7.1", 9) == 0, "after its merge a host counts the other's messages too");
	TAP_OK(om_policy_save_rates(again, store, 1324, &error) == 0 &&
	       stored_rate(store, "u@example.jp", &stored) == 1 && stored.messages == 2,
	       "a deferred recipient adds nothing");
	TAP_OK(strcmp(decide(policy, "RCPT", "out@example.jp", "x@far.example", "out@example.jp", "o1", 0, 1300),
		      "DUNNO") == 0 && strstr(dec.reason, "no outbound_filter") != NULL,
	       "outbound subscriber, no outbound_filter: DUNNO, not a FILTER to nowhere");
	om_policy_set_outbound_filter(policy, "omamori-out:dummy");
	TAP_OK(strcmp(decide(policy, "RCPT", "out@example.jp", "x@far.example", "out@example.jp", "o2", 0, 1300),
		      "FILTER omamori-out:dummy") == 0, "outbound subscriber: FILTER to outbound_filter");
	TAP_OK(strcmp(decide(policy, "RCPT", "u@example.jp", "x@far.example", "u@example.jp", "o3", 0, 1300),
		      "DUNNO") == 0, "not subscribed: no FILTER");
	om_policy_free(&again);
	om_policy_free(&policy);
	TAP_OK(policy == NULL, "free sets the pointer to NULL");
}

/* policyd's store thread: the save in steps.  What a failed write took
   is given back (merged next time), what is counted while a merge is in
   flight decides and is merged next time; nothing twice. */
static void test_save_in_steps(struct om_store *store)
{
	struct om_store_rate stored;
	struct om_policy *policy = om_policy_new();
	struct om_policy_save *s;
	char *error = NULL, *rates_error = NULL, *corr_error = NULL;

	om_store_domain_set(store, "steps.jp", OM_SETTING_RATE_MESSAGES, "5", &error);
	om_store_domain_set(store, "steps.jp", OM_SETTING_RATE_WINDOW, "60", &error);
	TAP_OK(om_policy_load(policy, store, &error) == 0, "steps: snapshot loads");
	decide(policy, "RCPT", "w@steps.jp", "p@far.example", "w@steps.jp", "s1", 0, 2400);
	decide(policy, "RCPT", "w@steps.jp", "q@far.example", "w@steps.jp", "s2", 0, 2400);
	s = om_policy_take_save(policy, 2401);
	decide(policy, "RCPT", "w@steps.jp", "p@far.example", "w@steps.jp", "s3", 0, 2401);
	/* the write failed (never written): everything is given back */
	om_policy_save_done(policy, &s);
	TAP_OK(s == NULL && stored_rate(store, "w@steps.jp", &stored) == 0 &&
	       om_store_correspondent_known(store, "w@steps.jp", "q@far.example", &error) == 0,
	       "steps: a save not written leaves the store as it was");
	s = om_policy_take_save(policy, 2402);
	TAP_OK(om_policy_write_save(store, s, &rates_error, &corr_error) == 0 &&
	       rates_error == NULL && corr_error == NULL, "steps: the next save is written");
	decide(policy, "RCPT", "w@steps.jp", "p@far.example", "w@steps.jp", "s4", 0, 2402);
	om_policy_save_done(policy, &s);
	TAP_OK(stored_rate(store, "w@steps.jp", &stored) == 1 && stored.messages == 3 &&
	       stored.recipients == 3 &&
	       om_store_correspondent_known(store, "w@steps.jp", "q@far.example", &error) == 1,
	       "steps: what the failed save took is in the store, once");
	TAP_OK(strcmp(decide(policy, "RCPT", "w@steps.jp", "p@far.example", "w@steps.jp", "s5",
			     0, 2403), "DUNNO") == 0 &&
	       strncmp(decide(policy, "RCPT", "w@steps.jp", "p@far.example", "w@steps.jp", "s6",
			      0, 2403), "450 4.7.1", 9) == 0,
	       "steps: the message counted during the write still decides (5th accepted, 6th not)");
	s = om_policy_take_save(policy, 2404);
	TAP_OK(om_policy_write_save(store, s, &rates_error, &corr_error) == 0, "steps: saved again");
	om_policy_save_done(policy, &s);
	TAP_OK(stored_rate(store, "w@steps.jp", &stored) == 1 && stored.messages == 5 &&
	       stored.recipients == 5, "steps: 5 messages stored, each once");
	free(error);
	om_policy_free(&policy);
}

struct block_case {
	const char *label, *sender, *rcpt, *reason;
};

/* A refusal's reason names the list (whose, block) and the entry that
   matched, the client's text sanitised. */
static const struct block_case block_cases[] = {
	{ "mailbox list, domain entry", "Bad@SPAM.example", "alice@example.jp",
	  "block list of mailbox alice@example.jp: entry @spam.example" },
	{ "mailbox list, address entry", "one@Whole.example", "alice@example.jp",
	  "block list of mailbox alice@example.jp: entry one@whole.example" },
	{ "domain list", "x@dom.example", "bob@example.jp",
	  "block list of domain example.jp: entry @dom.example" },
	{ "global list", "worm@evil.example", "bob@other.jp",
	  "block list of global *: entry worm@evil.example" },
	{ "control characters and quotes sanitised", "q\"\x01@evil2.example", "bob@other.jp",
	  "block list of global *: entry q??@evil2.example" },
};

static void test_block_reasons(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	char *error = NULL;
	size_t i;

	TAP_OK(om_store_list_add(store, "alice@example.jp", "block", "one@whole.example", 300, &error) == 0 &&
	       om_store_list_add(store, "example.jp", "block", "@dom.example", 300, &error) == 0 &&
	       om_store_list_add(store, "*", "block", "worm@evil.example", 300, &error) == 0 &&
	       om_store_list_add(store, "*", "block", "q\"\x01@evil2.example", 300, &error) == 0 &&
	       om_policy_load(policy, store, &error) == 0, "block lists loaded");
	for (i = 0; i < OM_N_ELEMENTS(block_cases); i++) {
		const struct block_case *c = &block_cases[i];

		TAP_OK(strncmp(decide(policy, "RCPT", c->sender, c->rcpt, "", "b1", 0, 1400),
			       "REJECT 5.7.1", 12) == 0 && strcmp(dec.reason, c->reason) == 0,
		       "block reason: %s (%s)", c->label, dec.reason);
	}
	om_policy_free(&policy);
}

/* Settings are resolved once per mailbox and snapshot: a change in the
   store must reach the next decision after a refresh, not stay cached. */
static void test_settings_change(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	char *error = NULL;

	TAP_OK(om_store_domain_set(store, "change.jp", OM_SETTING_MAX_RECIPIENTS, "1", &error) == 0 &&
	       om_policy_load(policy, store, &error) == 0, "domain limit 1 loaded");
	decide(policy, "RCPT", "a@x.example", "one@change.jp", "", "c1", 0, 2000);
	TAP_OK(strncmp(decide(policy, "RCPT", "a@x.example", "one@change.jp", "", "c1", 0, 2000),
		       "452 4.5.3", 9) == 0, "second recipient over the limit of 1");
	TAP_OK(om_store_domain_set(store, "change.jp", OM_SETTING_MAX_RECIPIENTS, "3", &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1, "limit raised to 3: refresh reloads");
	TAP_OK(strcmp(decide(policy, "RCPT", "a@x.example", "one@change.jp", "", "c2", 0, 2001), "DUNNO") == 0 &&
	       strcmp(decide(policy, "RCPT", "a@x.example", "one@change.jp", "", "c2", 0, 2001), "DUNNO") == 0 &&
	       strncmp(decide(policy, "RCPT", "a@x.example", "one@change.jp", "", "c2", 0, 2001),
		       "DUNNO", 5) == 0, "the raised limit applies at once");
	TAP_OK(om_policy_refresh(policy, store, &error) == 0, "nothing changed: no reload");
	om_policy_free(&policy);
}

/* A refresh reads the changed scopes only; what it re-reads reaches the
   next decision: a mailbox's new block entry, its new subscription (its
   resolved settings forgotten), a global limit (every mailbox's). */
static void test_scoped_refresh(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	char *error = NULL;

	om_policy_set_outbound_filter(policy, "omamori-out:dummy");
	TAP_OK(om_policy_load(policy, store, &error) == 0 &&
	       strcmp(decide(policy, "RCPT", "x@new.example", "pat@scoped.jp", "", "s1", 0, 5000),
		      "DUNNO") == 0 &&
	       strcmp(decide(policy, "RCPT", "pat@scoped.jp", "y@far.example", "pat@scoped.jp",
			     "s2", 0, 5000), "DUNNO") == 0, "pat: not blocked, not routed");
	TAP_OK(om_store_list_add(store, "pat@scoped.jp", "block", "@new.example", 300, &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1 &&
	       strncmp(decide(policy, "RCPT", "x@new.example", "pat@scoped.jp", "", "s3", 0, 5001),
		       "REJECT 5.7.1", 12) == 0, "pat's new block entry applies after a refresh");
	TAP_OK(om_store_subscription_set(store, "pat@scoped.jp", OM_FEATURE_OUTBOUND_VIRUS, "on",
					 &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1 &&
	       strcmp(decide(policy, "RCPT", "pat@scoped.jp", "y@far.example", "pat@scoped.jp",
			     "s4", 0, 5002), "FILTER omamori-out:dummy") == 0,
	       "pat's new subscription: its resolved settings are read again");
	decide(policy, "RCPT", "a@x.example", "one@other-scope.jp", "", "s5", 0, 5003);
	TAP_OK(om_store_domain_set(store, "*", OM_SETTING_MAX_RECIPIENTS, "1", &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1 &&
	       strncmp(decide(policy, "RCPT", "a@x.example", "one@other-scope.jp", "", "s5", 0, 5003),
		       "452 4.5.3", 9) == 0, "a global limit reaches every mailbox, resolved before or not");
	om_store_domain_delete(store, "*", OM_SETTING_MAX_RECIPIENTS, &error);
	om_policy_free(&policy);
}

/* internal-only (issue 18): a policy group's member is refused outside
   its domain and internal-domains, at RCPT, with a reply naming the
   domain and group; a change of the group (its own scope) reaches the
   resolved members at the next refresh. */
static void test_internal_only(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL;

	TAP_OK(om_settings_group_scope("grp.jp", "B", scope, sizeof(scope)) == 0 &&
	       om_store_group_add(store, "grp.jp", "B", &error) == 1 &&
	       om_store_domain_set(store, scope, OM_SETTING_INTERNAL_ONLY, "on", &error) == 0 &&
	       om_store_domain_set(store, scope, OM_SETTING_INTERNAL_DOMAINS, "partner.jp",
				   &error) == 0 &&
	       om_store_domain_set(store, "taro@grp.jp", OM_SETTING_GROUP, "B", &error) == 0 &&
	       om_policy_load(policy, store, &error) == 0, "group B of grp.jp: internal-only");
	TAP_OK(strcmp(decide(policy, "RCPT", "taro@grp.jp", "x@far.example", "taro@grp.jp",
			     "g1", 0, 6000), "REJECT 5.7.1 Your account may send mail only "
		      "inside grp.jp (policy group B)") == 0 &&
	       dec.kind == OM_POLICY_REJECT_INTERNAL_ONLY &&
	       strstr(dec.reason, "policy group B of grp.jp") != NULL,
	       "a member writing outside: %s (%s)", answer, dec.reason);
	TAP_OK(strcmp(decide(policy, "RCPT", "taro@grp.jp", "hanako@GRP.jp", "taro@grp.jp",
			     "g1", 0, 6000), "DUNNO") == 0 &&
	       strcmp(decide(policy, "RCPT", "taro@grp.jp", "y@partner.jp", "taro@grp.jp",
			     "g1", 0, 6000), "DUNNO") == 0,
	       "inside: its domain (any case) and the group's internal-domains");
	TAP_OK(strcmp(decide(policy, "RCPT", "jiro@grp.jp", "x@far.example", "jiro@grp.jp",
			     "g2", 0, 6000), "DUNNO") == 0, "a mailbox in no group writes outside");
	TAP_OK(strncmp(decide(policy, "RCPT", "taro@grp.jp", "x@far.example", "", "g3", 0,
			      6000), "REJECT 5.7.1 Your account", 25) == 0,
	       "without a login, a member's envelope sender is held to it too");
	TAP_OK(strcmp(decide(policy, "RCPT", "someone@far.example", "x@far.example", "",
			     "g4", 0, 6000), "DUNNO") == 0, "other senders are not");
	TAP_OK(om_store_domain_set(store, scope, OM_SETTING_INTERNAL_ONLY, "off", &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1 &&
	       strcmp(decide(policy, "RCPT", "taro@grp.jp", "x@far.example", "taro@grp.jp",
			     "g5", 0, 6001), "DUNNO") == 0,
	       "the group changed: its member is resolved again");
	TAP_OK(om_store_domain_set(store, scope, OM_SETTING_INTERNAL_ONLY, "on", &error) == 0 &&
	       om_store_domain_delete(store, "taro@grp.jp", OM_SETTING_GROUP, &error) == 0 &&
	       om_policy_refresh(policy, store, &error) == 1 &&
	       strcmp(decide(policy, "RCPT", "taro@grp.jp", "x@far.example", "taro@grp.jp",
			     "g6", 0, 6002), "DUNNO") == 0,
	       "out of the group: free again");
	om_policy_free(&policy);
}

/* Per-message state is bounded: forgotten after END-OF-MESSAGE, and the
   oldest go first when a client opens transaction after transaction. */
/* omamori's SPF check at DATA (issue 15): the result the SPF function
   gives, asked only when a recipient's domain has auth-check on and the
   client did not authenticate; PREPEND with omamori's id and the MAIL
   FROM domain (lower case), a REJECT only for fail and only when every
   recipient's domain has spf-reject on; a sender's odd domain never
   reaches the header. */
static enum om_ar_result fake_spf_result;
static int fake_spf_calls;

static enum om_ar_result fake_spf(void *context, const char *ip, const char *helo,
				  const char *sender, char *why, size_t why_size)
{
	(void)context; (void)ip; (void)helo; (void)sender;
	fake_spf_calls++;
	snprintf(why, why_size, "fake");
	return fake_spf_result;
}

static void test_spf_at_data(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	char *error = NULL;

	TAP_OK(om_store_domain_set(store, "auth.jp", OM_SETTING_AUTH_CHECK, "on", &error) == 0 &&
	       om_store_domain_set(store, "strict.jp", OM_SETTING_AUTH_CHECK, "on", &error) == 0 &&
	       om_store_domain_set(store, "strict.jp", OM_SETTING_SPF_REJECT, "on", &error) == 0 &&
	       om_policy_load(policy, store, &error) == 0, "auth-check domains loaded");
	decide(policy, "RCPT", "a@Far.Example", "u@auth.jp", "", "s1", 0, 3000);
	TAP_OK(strcmp(decide(policy, "DATA", "a@Far.Example", "", "", "s1", 0, 3000),
		      "DUNNO") == 0, "no SPF function: DUNNO at DATA");
	om_policy_set_spf(policy, "mx.auth.jp", fake_spf, NULL);
	fake_spf_result = OM_AR_FAIL;
	TAP_OK(strcmp(decide(policy, "DATA", "a@Far.Example", "", "", "s1", 0, 3000),
		      "PREPEND Authentication-Results: mx.auth.jp; spf=fail "
		      "smtp.mailfrom=far.example") == 0, "fail: PREPEND (%s)", answer_of(&dec));
	fake_spf_calls = 0;
	decide(policy, "RCPT", "a@far.example", "u@other.jp", "", "s2", 0, 3000);
	TAP_OK(strcmp(decide(policy, "DATA", "a@far.example", "", "", "s2", 0, 3000),
		      "DUNNO") == 0 && fake_spf_calls == 0,
	       "no recipient with auth-check: DUNNO, SPF not asked");
	decide(policy, "RCPT", "a@far.example", "u@auth.jp", "u@auth.jp", "s3", 0, 3000);
	TAP_OK(strcmp(decide(policy, "DATA", "a@far.example", "", "u@auth.jp", "s3", 0, 3000),
		      "DUNNO") == 0 && fake_spf_calls == 0, "authenticated: DUNNO");
	decide(policy, "RCPT", "a@far.example", "u@strict.jp", "", "s4", 0, 3000);
	TAP_OK(strncmp(decide(policy, "DATA", "a@far.example", "", "", "s4", 0, 3000),
		       "550 5.7.23", 10) == 0, "fail, every domain spf-reject: 550 5.7.23");
	decide(policy, "RCPT", "a@far.example", "u@strict.jp", "", "s5", 0, 3000);
	decide(policy, "RCPT", "a@far.example", "v@auth.jp", "", "s5", 0, 3000);
	TAP_OK(strncmp(decide(policy, "DATA", "a@far.example", "", "", "s5", 0, 3000),
		       "PREPEND", 7) == 0, "fail, one domain without spf-reject: PREPEND");
	fake_spf_result = OM_AR_SOFTFAIL;
	decide(policy, "RCPT", "a@far.example", "u@strict.jp", "", "s6", 0, 3000);
	TAP_OK(strncmp(decide(policy, "DATA", "a@far.example", "", "", "s6", 0, 3000),
		       "PREPEND", 7) == 0, "softfail is never refused");
	fake_spf_result = OM_AR_RESULT_NONE;
	decide(policy, "RCPT", "", "u@auth.jp", "", "s7", 0, 3000);
	TAP_OK(strcmp(decide(policy, "DATA", "", "", "", "s7", 0, 3000),
		      "PREPEND Authentication-Results: mx.auth.jp; spf=temperror "
		      "smtp.helo=mail.x.example") == 0,
	       "nothing decided is temperror; null sender: smtp.helo (%s)", answer_of(&dec));
	fake_spf_result = OM_AR_PASS;
	decide(policy, "RCPT", "a@evil;dmarc=pass", "u@auth.jp", "", "s8", 0, 3000);
	TAP_OK(strcmp(decide(policy, "DATA", "a@evil;dmarc=pass", "", "", "s8", 0, 3000),
		      "PREPEND Authentication-Results: mx.auth.jp; spf=pass") == 0,
	       "a domain a header may not carry is left out (%s)", answer_of(&dec));
	om_policy_free(&policy);
}

static void test_message_state_bounded(struct om_store *store)
{
	struct om_policy *policy = om_policy_new();
	size_t entries, instances, users, i;
	char *error = NULL, id[32];

	TAP_OK(om_store_domain_set(store, "bound.jp", OM_SETTING_MAX_RECIPIENTS, "2", &error) == 0 &&
	       om_policy_load(policy, store, &error) == 0, "limit 2 for bound.jp");
	decide(policy, "RCPT", "a@x.example", "one@bound.jp", "", "e1", 0, 3000);
	decide(policy, "END-OF-MESSAGE", "a@x.example", "", "", "e1", 100, 3001);
	om_policy_stats(policy, &entries, &instances, &users);
	TAP_OK(instances == 0, "END-OF-MESSAGE forgets the message");
	for (i = 0; i < 60000; i++) {
		snprintf(id, sizeof(id), "flood%zu", i);
		decide(policy, "RCPT", "a@x.example", "one@bound.jp", "", id, 0,
		       (long)(4000 + i / 100));
	}
	om_policy_stats(policy, &entries, &instances, &users);
	TAP_OK(instances > 0 && instances <= 20000, "60 000 open messages: at most 20 000 kept");
	TAP_OK(strcmp(decide(policy, "RCPT", "a@x.example", "two@bound.jp", "", "flood59999", 0, 4600),
		      "DUNNO") == 0 &&
	       strncmp(decide(policy, "RCPT", "a@x.example", "three@bound.jp", "", "flood59999", 0, 4600),
		       "452 4.5.3", 9) == 0, "the newest message's recipient count is kept");
	om_policy_free(&policy);
}

int main(void)
{
	char dir[] = "/tmp/om-test-policy-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL;

	test_fragmented();
	test_pipelined();
	test_malformed();
	test_answers();
	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/o.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0)
		abort();
	test_decisions(store);
	test_save_in_steps(store);
	test_block_reasons(store);
	test_settings_change(store);
	test_scoped_refresh(store);
	test_internal_only(store);
	test_spf_at_data(store);
	test_message_state_bounded(store);
	om_store_close(&store);
	tap_remove_tree(dir);
	free(path);
	return tap_done();
}
