/* spam-scale.c - the classifier's memory and scan cost as its token table
 * grows (issue 22 item 4; run by bench/scale-scan, not a tool for admins).
 *
 *   spam-scale TRAIN_SPAM TRAIN_HAM TEST_DIR TOKENS...
 *
 * Learns the two training directories (one message a file), then pads the
 * table with made-up words (messages of 2000 random words, learned as spam
 * and ham in turn: each adds its words and word pairs) up to each TOKENS
 * in turn, ascending.  For each size it prints the table's tokens, the
 * process's resident memory above what it held with an empty table, and
 * the rate of om_spam_check (tokenizer, rules, classifier; one thread)
 * over the messages of TEST_DIR.  The made-up words are never in a test
 * message: they cost what a large site's table costs, memory and cache.
 */
#include "spam/spam.h"
#include "lib/util.h"

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct scale_msg {
	char *data;
	size_t len;
};

struct scale_set {
	struct scale_msg *msgs;
	size_t count;
};

static double scale_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident memory in KB (VmRSS), 0 if unknown. */
static long scale_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = atol(line + 6);
			break;
		}
	}
	fclose(f);
	return kb;
}

static int scale_read_file(const char *path, struct scale_msg *m)
{
	FILE *f = fopen(path, "rb");
	struct om_buf b;
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return -1;
	om_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		om_buf_append(&b, chunk, n);
	fclose(f);
	m->data = om_buf_steal(&b, &m->len);
	return 0;
}

static void scale_read_dir(const char *dir, struct scale_set *set)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *path;

	if (d == NULL) {
		fprintf(stderr, "spam-scale: cannot read %s\n", dir);
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		set->msgs = om_realloc(set->msgs, (set->count + 1) * sizeof(*set->msgs));
		path = om_asprintf("%s/%s", dir, de->d_name);
		if (scale_read_file(path, &set->msgs[set->count]) == 0)
			set->count++;
		free(path);
	}
	closedir(d);
}

static void scale_set_free(struct scale_set *set)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		free(set->msgs[i].data);
	free(set->msgs);
}

/* The unsaved changes dropped: the table alone, as a process that loaded
   it from the store holds it. */
static void scale_drop_changes(struct om_spam_db *db)
{
	struct om_spam_changes *changes = om_spam_db_take_changes(db);

	om_spam_changes_free(&changes);
}

static void scale_learn_set(struct om_spam_db *db, const struct scale_set *set,
			    int is_spam)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		om_spam_learn(db, set->msgs[i].data, set->msgs[i].len, is_spam, 0);
	scale_drop_changes(db);
}

/* xorshift64: the made-up words, the same on every run */
static unsigned long long scale_next(unsigned long long *state)
{
	unsigned long long x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static void scale_pad(struct om_spam_db *db, size_t tokens,
		      unsigned long long *state, unsigned long *made)
{
	struct om_buf msg;
	size_t i, since_drop = 0;

	om_buf_init(&msg);
	while (om_spam_db_tokens(db) < tokens) {
		om_buf_reset(&msg);
		om_buf_append_str(&msg, "Subject: words\n\n");
		for (i = 0; i < 2000; i++)
			om_buf_printf(&msg, "zq%011llx%s", scale_next(state) & 0xfffffffffffULL,
				      i % 12 == 11 ? "\n" : " ");
		om_spam_learn(db, msg.data, msg.len, (*made)++ % 2 == 0, 0);
		if (++since_drop == 100) {
			scale_drop_changes(db);
			since_drop = 0;
		}
	}
	scale_drop_changes(db);
	om_buf_free(&msg);
}

/* om_spam_check over the test set, at least once and for 2 s. */
static void scale_score(const struct om_spam_db *db, const struct scale_set *test,
			double *rate_r, double *mb_r)
{
	struct om_spam_report report;
	double start = scale_now(), elapsed;
	size_t done = 0, bytes = 0, i;

	do {
		for (i = 0; i < test->count; i++) {
			om_spam_check(db, test->msgs[i].data, test->msgs[i].len, NULL, &report);
			bytes += test->msgs[i].len;
		}
		done += test->count;
		elapsed = scale_now() - start;
	} while (elapsed < 2.0);
	*rate_r = (double)done / elapsed;
	*mb_r = (double)bytes / elapsed / 1e6;
}

int main(int argc, char **argv)
{
	struct scale_set spam = { NULL, 0 }, ham = { NULL, 0 }, test = { NULL, 0 };
	struct om_spam_db *db;
	unsigned long long state = 0x9e3779b97f4a7c15ULL;
	unsigned long made = 0;
	long base_kb;
	double rate, mb;
	int i;

	if (argc < 5) {
		fprintf(stderr, "usage: spam-scale TRAIN_SPAM TRAIN_HAM TEST_DIR TOKENS...\n");
		return 2;
	}
	scale_read_dir(argv[1], &spam);
	scale_read_dir(argv[2], &ham);
	scale_read_dir(argv[3], &test);
	db = om_spam_db_new();
	(void)malloc_trim(0);
	base_kb = scale_rss_kb();
	scale_learn_set(db, &spam, 1);
	scale_learn_set(db, &ham, 0);
	for (i = 4; i < argc; i++) {
		scale_pad(db, (size_t)atol(argv[i]), &state, &made);
		(void)malloc_trim(0);
		scale_score(db, &test, &rate, &mb);
		printf("tokens=%zu memory_mb=%.1f rate=%.1f mb_s=%.2f us_per_msg=%.1f\n",
		       om_spam_db_tokens(db), (double)(scale_rss_kb() - base_kb) / 1024.0,
		       rate, mb, 1e6 / rate);
		fflush(stdout);
	}
	om_spam_db_free(&db);
	scale_set_free(&spam);
	scale_set_free(&ham);
	scale_set_free(&test);
	return 0;
}
