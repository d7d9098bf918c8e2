/* scale-fill.c - bench/scale's store: an ISP's worth of configuration and
 * classifier written through the store's own functions (issue 21 item 4).
 * Not a tool for admins: a real migration imports lists with
 * `omamorictl list import` and learns from real mail.
 *
 *   scale-fill STORE MAILBOXES LIST_ENTRIES TOKENS
 *
 * STORE is a store_path (sqlite:/path or postgresql:CONNINFO), created if
 * missing.  Writes MAILBOXES mailboxes user<N>@d<N % 1000>.example (a
 * thousand domains, each with its language and spam action), each
 * subscribed to inbound-virus and spam with its own spam-threshold;
 * LIST_ENTRIES block entries spread over them (in transactions of 100 000
 * rows); TOKENS classifier tokens with made-up counts (saves of 200 000
 * rows, the way scand's learner saves deltas).  Prints what it wrote and
 * the seconds each part took.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define FILL_DOMAINS 1000
#define FILL_LIST_BATCH 100000
#define FILL_TOKEN_BATCH 200000

static double fill_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fill_fail(const char *what, char *error)
{
	fprintf(stderr, "scale-fill: %s: %s\n", what, error != NULL ? error : "failed");
	free(error);
	return -1;
}

static int fill_domains(struct om_store *store)
{
	char domain[64], *error = NULL;
	int i;

	for (i = 0; i < FILL_DOMAINS; i++) {
		snprintf(domain, sizeof(domain), "d%d.example", i);
		if (om_store_domain_set(store, domain, "language", i % 2 == 0 ? "ja" : "en",
					&error) < 0 ||
		    om_store_domain_set(store, domain, "spam-action", "quarantine", &error) < 0)
			return fill_fail(domain, error);
	}
	return 0;
}

static int fill_mailboxes(struct om_store *store, long mailboxes)
{
	char mailbox[64], threshold[16], *error = NULL;
	long i;

	for (i = 0; i < mailboxes; i++) {
		snprintf(mailbox, sizeof(mailbox), "user%ld@d%ld.example", i, i % FILL_DOMAINS);
		snprintf(threshold, sizeof(threshold), "%ld", 4 + i % 4);
		if (om_store_subscription_set(store, mailbox, "inbound-virus", "on", &error) < 0 ||
		    om_store_subscription_set(store, mailbox, "spam", "on", &error) < 0 ||
		    om_store_domain_set(store, mailbox, "spam-threshold", threshold, &error) < 0)
			return fill_fail(mailbox, error);
	}
	return 0;
}

/* Entries spread over the mailboxes, ten a mailbox as far as they go. */
static int fill_lists(struct om_store *store, long mailboxes, long entries)
{
	struct om_store_list_row *rows;
	char (*scopes)[64], (*values)[64], *error = NULL;
	size_t failed;
	long done = 0;
	int ret = 0;

	rows = calloc(FILL_LIST_BATCH, sizeof(*rows));
	scopes = calloc(FILL_LIST_BATCH, sizeof(*scopes));
	values = calloc(FILL_LIST_BATCH, sizeof(*values));
	if (rows == NULL || scopes == NULL || values == NULL) {
		ret = fill_fail("list rows", NULL);
		goto out;
	}
	while (done < entries && ret == 0) {
		size_t n = 0;

		for (; n < FILL_LIST_BATCH && done < entries; n++, done++) {
			long mb = done % (mailboxes > 0 ? mailboxes : 1);

			snprintf(scopes[n], sizeof(scopes[n]), "user%ld@d%ld.example", mb,
				 mb % FILL_DOMAINS);
			snprintf(values[n], sizeof(values[n]), "spammer%ld@junk%ld.example", done,
				 done % 97);
			rows[n] = (struct om_store_list_row){ scopes[n], "block", values[n], 1 };
		}
		if (om_store_list_import(store, rows, n, 0, &failed, &error) < 0)
			ret = fill_fail("list import", error);
	}
out:
	free(rows);
	free(scopes);
	free(values);
	return ret;
}

static int fill_tokens(struct om_store *store, long tokens)
{
	struct om_store_spam_token *rows;
	char (*names)[24], *error = NULL;
	long long before, after;
	long done = 0;
	int ret = 0;

	rows = calloc(FILL_TOKEN_BATCH, sizeof(*rows));
	names = calloc(FILL_TOKEN_BATCH, sizeof(*names));
	if (rows == NULL || names == NULL) {
		ret = fill_fail("token rows", NULL);
		goto out;
	}
	while (done < tokens && ret == 0) {
		size_t n = 0;

		for (; n < FILL_TOKEN_BATCH && done < tokens; n++, done++) {
			snprintf(names[n], sizeof(names[n]), "w%08lx", (unsigned long)done * 2654435761UL);
			rows[n] = (struct om_store_spam_token){ names[n], 1 + done % 7, 1 + done % 5 };
		}
		if (om_store_spam_save(store, rows, n, done == (long)n ? 5000 : 0,
				       done == (long)n ? 5000 : 0, &before, &after, &error) < 0)
			ret = fill_fail("token save", error);
	}
out:
	free(rows);
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	struct om_store *store = NULL;
	char *error = NULL;
	long mailboxes, entries, tokens;
	double t0, t1, t2, t3;

	if (argc != 5) {
		fprintf(stderr, "usage: scale-fill STORE MAILBOXES LIST_ENTRIES TOKENS\n");
		return 2;
	}
	mailboxes = atol(argv[2]);
	entries = atol(argv[3]);
	tokens = atol(argv[4]);
	if (mailboxes < 1 || entries < 0 || tokens < 0) {
		fprintf(stderr, "scale-fill: MAILBOXES >= 1, the others >= 0\n");
		return 2;
	}
	if (om_store_open(argv[1], OM_STORE_CREATE, 60000, &store, &error) < 0)
		return fill_fail(argv[1], error) < 0 ? 1 : 1;
	t0 = fill_now();
	if (fill_domains(store) < 0 || fill_mailboxes(store, mailboxes) < 0) {
		om_store_close(&store);
		return 1;
	}
	t1 = fill_now();
	if (fill_lists(store, mailboxes, entries) < 0) {
		om_store_close(&store);
		return 1;
	}
	t2 = fill_now();
	if (fill_tokens(store, tokens) < 0) {
		om_store_close(&store);
		return 1;
	}
	t3 = fill_now();
	om_store_close(&store);
	printf("mailboxes=%ld settings_s=%.1f list_entries=%ld lists_s=%.1f tokens=%ld tokens_s=%.1f\n",
	       mailboxes, t1 - t0, entries, t2 - t1, tokens, t3 - t2);
	return 0;
}
