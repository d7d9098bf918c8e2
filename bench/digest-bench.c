/* digest-bench.c - what the quarantine digest costs per mailbox: a scratch
 * store with MAILBOXES mailboxes of ROWS quarantined mails each, then the
 * claim and the rendering of every mailbox's digest (the run's work
 * without doveadm, which a real run adds per digest saved).
 *
 *   bench/digest-bench [MAILBOXES [ROWS]]     (default 10000 x 20)
 *
 * The store lives in a private directory under $TMPDIR (default /dev/shm
 * when it exists, so SQLite's fsyncs do not time the disk); it is removed
 * at the end.  Prints the fill time, the total seconds of claim + render
 * and the cost per mailbox in microseconds.  A benchmark, not a test
 * (tests/unit/test-digest-bench.sh runs a tiny form in make check).
 */
#include "quarantine/digest.h"
#include "crypto/token.h"
#include "store/store.h"
#include "lib/om-config.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_MAILBOXES 1000000UL
#define BENCH_MAX_ROWS 1000UL

struct bench {
	char dir[256];
	char *db, *key;
	struct om_config *config;
	struct om_store *store;
	struct om_link_keys keys;
	unsigned long mailboxes, rows;
};

/* Monotonic microseconds (one claim or render takes less than a ms). */
static uint64_t bench_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int bench_fail(char *error)
{
	fprintf(stderr, "digest-bench: %s\n", error != NULL ? error : "failed");
	free(error);
	return -1;
}

static int bench_open(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	char *error = NULL;

	if (tmp == NULL || tmp[0] != '/')
		tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/omamori-digest-bench.XXXXXX",
			     tmp) >= sizeof(b->dir) || mkdtemp(b->dir) == NULL)
		return bench_fail(om_asprintf("cannot make a directory in %s", tmp));
	b->db = om_asprintf("%s/omamori.db", b->dir);
	b->key = om_asprintf("%s/web.key", b->dir);
	if (om_token_keys_create(b->key, &error) < 0 ||
	    om_link_keys_load(b->key, OM_LINK_SIGNERS_ALL, &b->keys, &error) < 0 ||
	    om_store_open(b->db, OM_STORE_CREATE, 5000, &b->store, &error) < 0)
		return bench_fail(error);
	b->config = om_config_defaults();
	free(b->config->web_url);
	b->config->web_url = om_strdup("https://mail.example.jp/omamori/");
	return 0;
}

static void bench_close(struct bench *b)
{
	char *wal;

	om_store_close(&b->store);
	om_config_free(&b->config);
	(void)unlink(b->db);
	wal = om_asprintf("%s-wal", b->db);
	(void)unlink(wal);
	free(wal);
	wal = om_asprintf("%s-shm", b->db);
	(void)unlink(wal);
	free(wal);
	(void)unlink(b->key);
	if (rmdir(b->dir) < 0)
		fprintf(stderr, "digest-bench: cannot remove %s\n", b->dir);
	free(b->db);
	free(b->key);
}

/* Mailbox i's j-th quarantined mail; 0 or -1. */
static int bench_add(struct bench *b, unsigned long i, unsigned long j, time_t now)
{
	char id[OM_QUARANTINE_ID_LEN + 1], mailbox[64], sender[64], subject[96];
	struct om_store_quarantined q;
	char *error = NULL;

	(void)snprintf(id, sizeof(id), "%016lx%016lx", i, j);
	(void)snprintf(mailbox, sizeof(mailbox), "user%lu@example.jp", i);
	(void)snprintf(sender, sizeof(sender), "pest%lu@spam%lu.example", j, i % 97);
	(void)snprintf(subject, sizeof(subject),
		       "【重要】お客様のアカウント確認 No.%lu <%lu>", j, i);
	memset(&q, 0, sizeof(q));
	q.id = id;
	q.mailbox = mailbox;
	q.received = (long long)now - (long long)(j + 1) * 600;
	q.sender = sender;
	q.from = sender;
	q.from_address = sender;
	q.subject = subject;
	q.score = "12.5";
	q.reasons = "BAYES_99 URL_SHORTENER";
	q.size = 4096;
	if (om_store_quarantine_add(b->store, &q, &error) < 0)
		return bench_fail(error);
	return 0;
}

/* Claims and renders every mailbox's digest; 0 or -1. */
static int bench_digests(struct bench *b, time_t now, uint64_t *claim_us,
			 uint64_t *render_us, size_t *bytes)
{
	struct om_digest_env env;
	char mailbox[64], *message, *error = NULL;
	long long digest = 0;
	uint64_t t0, t1, t2;
	unsigned long i;

	memset(&env, 0, sizeof(env));
	env.config = b->config;
	env.store = b->store;
	env.keys = &b->keys;
	env.now = now;
	for (i = 0; i < b->mailboxes; i++) {
		(void)snprintf(mailbox, sizeof(mailbox), "user%lu@example.jp", i);
		t0 = bench_now_us();
		if (om_store_digest_claim(b->store, mailbox, (long long)now, &digest,
					  &error) != (int)b->rows)
			return bench_fail(error != NULL ? error :
					  om_asprintf("%s: not all rows claimed", mailbox));
		t1 = bench_now_us();
		message = om_digest_render(&env, digest, mailbox, "ja", &error);
		if (message == NULL)
			return bench_fail(error);
		t2 = bench_now_us();
		*bytes += strlen(message);
		free(message);
		*claim_us += t1 - t0;
		*render_us += t2 - t1;
	}
	return 0;
}

static int bench_parse(int argc, char **argv, struct bench *b)
{
	b->mailboxes = 10000;
	b->rows = 20;
	if (argc > 3 ||
	    (argc > 1 && om_parse_ulong(argv[1], 1, BENCH_MAX_MAILBOXES,
					&b->mailboxes) < 0) ||
	    (argc > 2 && om_parse_ulong(argv[2], 1, BENCH_MAX_ROWS, &b->rows) < 0)) {
		fprintf(stderr, "usage: digest-bench [MAILBOXES (1..%lu) [ROWS (1..%lu)]]\n",
			BENCH_MAX_MAILBOXES, BENCH_MAX_ROWS);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b;
	time_t now = time(NULL);
	uint64_t t0, fill_us, claim_us = 0, render_us = 0, total;
	size_t bytes = 0;
	unsigned long i, j;
	int ret = 0;

	memset(&b, 0, sizeof(b));
	if (bench_parse(argc, argv, &b) < 0)
		return 2;
	if (bench_open(&b) < 0)
		return 1;
	t0 = bench_now_us();
	for (i = 0; i < b.mailboxes && ret == 0; i++) {
		for (j = 0; j < b.rows && ret == 0; j++)
			ret = bench_add(&b, i, j, now);
	}
	fill_us = bench_now_us() - t0;
	if (ret == 0)
		ret = bench_digests(&b, now, &claim_us, &render_us, &bytes);
	if (ret == 0) {
		total = claim_us + render_us;
		printf("digest-bench: %lu mailboxes x %lu quarantined mails "
		       "(store filled in %.1f s)\n", b.mailboxes, b.rows,
		       (double)fill_us / 1e6);
		printf("claim + render: %.2f s total, %.0f us per mailbox "
		       "(claim %.0f us, render %.0f us), %zu bytes per digest\n",
		       (double)total / 1e6, (double)total / (double)b.mailboxes,
		       (double)claim_us / (double)b.mailboxes,
		       (double)render_us / (double)b.mailboxes,
		       bytes / b.mailboxes);
	}
	bench_close(&b);
	return ret == 0 ? 0 : 1;
}
