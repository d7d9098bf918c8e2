/* urls-bench.c - what the URL reputation store costs with a big feed: the
 * import of ENTRIES entries (the path of omamorictl urls import: a plain
 * list read by the url layer's feed reader, normalised, written in one
 * transaction), then LOOKUPS lookups of URLs as links give them (parsed,
 * normalised, the three indexed reads of om_store_url_lookup), half of
 * them listed (by exact URL, by a host above them or by their registrable
 * domain) and half not, and the process's memory.
 *
 *   bench/urls-bench [ENTRIES [LOOKUPS]]     (default 1000000 x 200000)
 *
 * The store lives in a private directory under $TMPDIR (default /dev/shm
 * when it exists, so SQLite's fsyncs do not time the disk) and is removed
 * at the end.  Prints the import time and rate, lookups per second (with
 * and without the normalising), hits found, the store's size and the
 * resident memory (VmRSS, VmHWM).  A benchmark, not a test; bench/urls
 * runs it from a build without sanitizers.  bench/links (issue 15, later)
 * reuses its store and lookups.
 */
#include "store/store.h"
#include "url/feed.h"
#include "url/url.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_ENTRIES 20000000UL
#define BENCH_MAX_LOOKUPS 100000000UL

struct bench {
	char dir[256];
	char *db;
	struct om_store *store;
	struct om_url_psl *psl;
	unsigned long entries, lookups;
};

static double bench_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_fail(char *error)
{
	fprintf(stderr, "urls-bench: %s\n", error != NULL ? error : "failed");
	free(error);
	return -1;
}

/* "VmRSS" or "VmHWM" of this process in kB, or -1. */
static long bench_memory(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Entry i of the feed: 80 % URLs, 15 % hosts, 5 % registrable domains,
   spread over many domains as real feeds are. */
static void bench_entry(struct om_buf *feed, unsigned long i)
{
	switch (i % 20) {
	case 0:
		om_buf_printf(feed, "bad%lu.example\n", i);		/* domain */
		break;
	case 1: case 2: case 3:
		om_buf_printf(feed, "cdn%lu.host%lu.example.co.jp\n", i % 7, i);
		break;
	default:
		om_buf_printf(feed, "http://site%lu.example/path/%lu/login.php?id=%lu\n",
			      i % 50000, i, i * 7);
		break;
	}
}

/* om_store_urls_import's reader over the feed (every line is valid). */
static int bench_next(void *context, struct om_store_url *u, char **error_r)
{
	struct om_feed_item item;

	while (om_feed_next(context, &item) == 1) {
		if (item.key == NULL) {
			*error_r = om_asprintf("line %u: %s", item.line, item.error);
			return -1;
		}
		u->kind = item.kind;
		u->key = item.key;
		return 1;
	}
	return 0;
}

static int bench_import(struct bench *b, double *seconds_r)
{
	struct om_buf feed;
	struct om_feed *reader;
	char *error = NULL;
	long count;
	double start;
	unsigned long i;

	om_buf_init(&feed);
	for (i = 0; i < b->entries; i++)
		bench_entry(&feed, i);
	start = bench_now();
	reader = om_feed_new(b->psl, feed.data, feed.len, OM_FEED_LIST);
	count = om_store_urls_import(b->store, "bench", OM_URL_VERDICT_BLOCK,
				     (long long)time(NULL), 0, bench_next, reader, &error);
	*seconds_r = bench_now() - start;
	om_feed_free(&reader);
	om_buf_free(&feed);
	if (count != (long)b->entries)
		return bench_fail(error != NULL ? error :
				  om_asprintf("imported %ld of %lu", count, b->entries));
	return 0;
}

/* Lookup i: a link as mail gives it.  Even i: listed (an exact URL in
   another spelling, a host below a listed one, a name in a listed
   domain); odd i: not listed. */
static char *bench_link(unsigned long i, unsigned long entries)
{
	unsigned long e = (i / 2 * 7919) % entries;

	if (i % 2 == 1)
		return om_asprintf("https://www.clean%lu.example/news/%lu.html", i % 90000, i);
	switch (e % 20) {
	case 0:
		return om_asprintf("http://mail.BAD%lu.example/x", e);
	case 1: case 2: case 3:
		return om_asprintf("http://a.cdn%lu.host%lu.example.co.jp/img.png", e % 7, e);
	default:
		return om_asprintf("HTTP://Site%lu.example:80/path/%lu/./login.php?id=%lu#top",
				   e % 50000, e, e * 7);
	}
}

static void bench_hit(void *context, const struct om_store_url *u)
{
	(void)u;
	(*(unsigned long *)context)++;
}

static int bench_lookups(struct bench *b, int parse_only, double *seconds_r,
			 unsigned long *hits_r)
{
	struct om_store_url_query q;
	struct om_url_keys keys;
	struct om_url url;
	char *link, *error = NULL;
	unsigned long i;
	double start = bench_now();

	*hits_r = 0;
	for (i = 0; i < b->lookups; i++) {
		link = bench_link(i, b->entries);
		if (om_url_parse(link, strlen(link), &url, &error) < 0) {
			free(link);
			return bench_fail(error);
		}
		free(link);
		om_url_keys(b->psl, &url, &keys);
		if (!parse_only) {
			q.url = keys.url;
			q.hosts = keys.hosts;
			q.nhosts = keys.nhosts;
			q.domain = keys.domain;
			if (om_store_url_lookup(b->store, &q, (long long)time(NULL), bench_hit,
						hits_r, &error) < 0) {
				om_url_free(&url);
				return bench_fail(error);
			}
		}
		om_url_free(&url);
	}
	*seconds_r = bench_now() - start;
	return 0;
}

static int bench_open(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	char *error = NULL;

	if (tmp == NULL || tmp[0] != '/')
		tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/omamori-urls-bench.XXXXXX",
			     tmp) >= sizeof(b->dir) || mkdtemp(b->dir) == NULL)
		return bench_fail(om_asprintf("cannot make a directory in %s", tmp));
	b->db = om_asprintf("%s/omamori.db", b->dir);
	if (om_store_open(b->db, OM_STORE_CREATE, 5000, &b->store, &error) < 0 ||
	    (b->psl = om_url_psl_open(&error)) == NULL)
		return bench_fail(error);
	return 0;
}

static void bench_close(struct bench *b)
{
	char *wal;

	om_store_close(&b->store);
	om_url_psl_close(&b->psl);
	wal = om_asprintf("%s-wal", b->db);
	(void)unlink(wal);
	free(wal);
	wal = om_asprintf("%s-shm", b->db);
	(void)unlink(wal);
	free(wal);
	(void)unlink(b->db);
	(void)rmdir(b->dir);
	free(b->db);
}

/* The store's size: its file and its write-ahead log. */
static long bench_store_kb(const char *path)
{
	struct stat st;
	char *wal = om_asprintf("%s-wal", path);
	long kb = 0;

	if (stat(path, &st) == 0)
		kb += (long)(st.st_size / 1024);
	if (stat(wal, &st) == 0)
		kb += (long)(st.st_size / 1024);
	free(wal);
	return kb;
}

int main(int argc, char **argv)
{
	struct bench b;
	double import_s, lookup_s, parse_s;
	unsigned long hits, ignored;
	int ret = 1;

	memset(&b, 0, sizeof(b));
	b.entries = 1000000;
	b.lookups = 200000;
	if ((argc > 1 && om_parse_ulong(argv[1], 1, BENCH_MAX_ENTRIES, &b.entries) < 0) ||
	    (argc > 2 && om_parse_ulong(argv[2], 1, BENCH_MAX_LOOKUPS, &b.lookups) < 0) ||
	    argc > 3) {
		fprintf(stderr, "usage: urls-bench [ENTRIES [LOOKUPS]]\n");
		return 2;
	}
	if (bench_open(&b) < 0)
		goto out;
	printf("rss at start: %ld kB\n", bench_memory("VmRSS"));
	if (bench_import(&b, &import_s) < 0)
		goto out;
	printf("import: %lu entries in %.2f s (%.0f entries/s), store %ld kB\n",
	       b.entries, import_s, (double)b.entries / import_s, bench_store_kb(b.db));
	printf("rss after import: %ld kB (peak %ld kB: the feed file in memory)\n",
	       bench_memory("VmRSS"), bench_memory("VmHWM"));
	if (bench_lookups(&b, 1, &parse_s, &ignored) < 0 ||
	    bench_lookups(&b, 0, &lookup_s, &hits) < 0)
		goto out;
	printf("normalise only: %lu URLs in %.2f s (%.0f/s)\n", b.lookups, parse_s,
	       (double)b.lookups / parse_s);
	printf("lookups: %lu in %.2f s (%.0f lookups/s, normalising included; "
	       "%.0f/s for the store's reads alone)\n", b.lookups, lookup_s,
	       (double)b.lookups / lookup_s,
	       lookup_s > parse_s ? (double)b.lookups / (lookup_s - parse_s) : 0.0);
	printf("hits: %lu of %lu (expected %lu: every listed one)\n", hits, b.lookups,
	       (b.lookups + 1) / 2);
	printf("rss after lookups: %ld kB\n", bench_memory("VmRSS"));
	ret = hits == (b.lookups + 1) / 2 ? 0 : 1;
out:
	bench_close(&b);
	return ret;
}
