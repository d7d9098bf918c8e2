/* cmd-spam.c - omamorictl learn, train, classify and prune: teach the
 * spam classifier from files, directories (one message per file) or mbox
 * files, score messages with it, and forget its rare tokens.  Learning
 * shows progress on a terminal and saves the token counts once, at the end,
 * in one transaction; then scand is told (a SYNC request) and the command
 * returns once scand scores with the new table, so the next delivery sees
 * what was learned.
 */
#include "omamorictl.h"
#include "store/settings.h"
#include "spam/spam.h"
#include "spam/phish.h"
#include "store/store.h"
#include "proto/proto.h"
#include "lib/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_MESSAGE_MAX (64u * 1024 * 1024)

typedef void ctl_message_fn(void *context, const char *path, const char *msg,
			    size_t len);

/* Calls fn for each message of an mbox (split at "From " lines). */
static size_t ctl_each_mbox(const char *path, const char *data, size_t len,
			    ctl_message_fn *fn, void *context)
{
	const char *p = data, *end = data + len, *next, *body;
	size_t n = 0;

	while (p < end) {
		next = p;
		do {
			next = memchr(next, '\n', (size_t)(end - next));
			if (next == NULL) {
				next = end;
				break;
			}
			next++;
		} while (next < end && strncmp(next, "From ", 5) != 0);
		body = memchr(p, '\n', (size_t)(next - p));
		body = body != NULL ? body + 1 : next;
		fn(context, path, body, (size_t)(next - body));
		n++;
		p = next;
	}
	return n;
}

/* Calls fn for each message in path (file, mbox or directory); returns the
   count, or -1 (message printed) if path cannot be read. */
static long ctl_each_message(const char *path, ctl_message_fn *fn, void *context)
{
	struct dirent *de;
	struct stat st;
	char *data, *error = NULL, *child;
	size_t len;
	long n = 0, sub;
	DIR *dir;

	if (stat(path, &st) < 0)
		return ctl_error("%s: cannot stat", path), -1;
	if (S_ISDIR(st.st_mode)) {
		if ((dir = opendir(path)) == NULL)
			return ctl_error("%s: cannot open", path), -1;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			child = om_asprintf("%s/%s", path, de->d_name);
			sub = ctl_each_message(child, fn, context);
			free(child);
			if (sub > 0)
				n += sub;
		}
		closedir(dir);
		return n;
	}
	if (om_read_file(path, CTL_MESSAGE_MAX, &data, &len, &error) < 0) {
		ctl_error("%s", error);
		free(error);
		return -1;
	}
	if (len > 5 && strncmp(data, "From ", 5) == 0)
		n = (long)ctl_each_mbox(path, data, len, fn, context);
	else {
		fn(context, path, data, len);
		n = 1;
	}
	free(data);
	return n;
}

/* A reload of a large table takes a while; it is still one request. */
#define CTL_SYNC_TIMEOUT_MS 120000

/* Tells scand the store's token table changed and waits until it uses it.
   scand not running is no error (it loads the table when it starts); one
   that cannot reload is said (it retries every spam_save_interval). */
static void ctl_sync_scand(struct ctl *ctl)
{
	char *error = NULL;
	struct stat st;

	/* no socket: no scand on this machine (a bench, a fresh install) */
	if (stat(ctl->config->scand_socket, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (om_scand_sync(ctl->config->scand_socket, CTL_SYNC_TIMEOUT_MS, &error) < 0) {
		fprintf(stderr, "omamorictl: scand not told (%s); it notices within "
			"spam_save_interval (%ld s)\n", error,
			ctl->config->spam_save_interval);
		free(error);
	}
}

/* The phishing-shape rules as scand reads them (the free-mail list, the
   spam rules with their site-suffixes): for classify --rules, and for
   learn and train, which keep the sites ham comes from
   (PHISH_LOOKALIKE_KNOWN).  Without the free-mail list only its rule is
   off, without the Public Suffix List all of them and the sites (both
   said, *phish_r NULL); a rules file with an error is an error (-1,
   said). */
static int ctl_phish_open(struct ctl *ctl, struct om_phish **phish_r)
{
	struct om_phish *phish;
	char *error = NULL;

	phish = om_phish_new(ctl->config->freemail_domains, &error);
	if (phish == NULL) {
		fprintf(stderr, "omamorictl: %s (PHISH_FREEMAIL_REPLYTO off)\n", error);
		om_free(&error);
		phish = om_phish_new(NULL, &error);
		if (phish == NULL)
			fprintf(stderr, "omamorictl: %s (the phishing rules and the sites "
				"ham came from off)\n", error);
		om_free(&error);
	}
	if (phish != NULL &&
	    om_phish_load_rules(phish, ctl->config->spam_rules, &error) < 0) {
		fprintf(stderr, "omamorictl: %s\n", error);
		om_free(&error);
		om_phish_free(&phish);
		return -1;
	}
	*phish_r = phish;
	return 0;
}

struct ctl_learning {
	const struct om_phish *phish;	/* NULL: no sites kept */
	struct om_spam_db *db;
	int is_spam, unlearn, tty;
	int words_only;		/* om_spam_learn_words (a prior) */
	long done;
};

static void ctl_learn_one(void *context, const char *path, const char *msg, size_t len)
{
	struct ctl_learning *l = context;

	(void)path;
	if (l->words_only)
		om_spam_learn_words(l->db, msg, len, l->is_spam, l->unlearn);
	else
		om_spam_learn_message(l->db, l->phish, msg, len, l->is_spam, l->unlearn);
	if (l->tty && ++l->done % 100 == 0) {
		fprintf(stderr, "\rlearned %ld messages", l->done);
		fflush(stderr);
	}
}

/* Saves what *db learned and frees it: CTL_EXIT_OK and the classifier's
   counts after the save, or the error said. */
static int ctl_learning_save(struct ctl *ctl, struct om_spam_db **db, long *nspam_r,
			     long *nham_r)
{
	char *error = NULL;
	int ret = CTL_EXIT_OK;

	if (om_spam_db_save(*db, ctl_store(ctl, 0), &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
	} else {
		om_spam_db_counts(*db, nspam_r, nham_r);
	}
	om_spam_db_free(db);
	return ret;
}

static int ctl_learn(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_learning l;
	struct om_phish *phish = NULL;
	char *error = NULL;
	long total = 0, n, nspam, nham;
	int i, first = 1, ret;

	memset(&l, 0, sizeof(l));
	if (argc < 2 || (strcmp(argv[0], "spam") != 0 && strcmp(argv[0], "ham") != 0))
		return ctl_error("usage: learn spam|ham [--unlearn] FILE|DIR|MBOX...");
	l.is_spam = strcmp(argv[0], "spam") == 0;
	if (strcmp(argv[1], "--unlearn") == 0) {
		l.unlearn = 1;
		first = 2;
	}
	if (first >= argc)
		return ctl_error("learn: no message given");
	l.tty = isatty(STDERR_FILENO);
	if (ctl_phish_open(ctl, &phish) < 0)
		return CTL_EXIT_ERROR;
	l.phish = phish;
	l.db = om_spam_db_new();
	if (om_spam_db_load(l.db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	for (i = first; i < argc; i++) {
		n = ctl_each_message(argv[i], ctl_learn_one, &l);
		if (n < 0) {
			om_spam_db_free(&l.db);
			om_phish_free(&phish);
			return CTL_EXIT_ERROR;
		}
		total += n;
	}
	om_phish_free(&phish);
	if ((ret = ctl_learning_save(ctl, &l.db, &nspam, &nham)) != CTL_EXIT_OK)
		return ret;
	if (l.tty)
		fputc('\n', stderr);
	printf("%s %ld messages as %s; the classifier now knows %ld spam, %ld ham\n",
	       l.unlearn ? "unlearned" : "learned", total, argv[0], nspam, nham);
	ctl_sync_scand(ctl);
	return CTL_EXIT_OK;
fail:
	ret = ctl_error("%s", error);
	free(error);
	om_spam_db_free(&l.db);
	om_phish_free(&phish);
	return ret;
}

/* ---- prior: the words of a labelled set, by default the shipped one ---- */

/* prior [--unlearn] [DIR]: learns the words (om_spam_learn_words: text,
   links, Subject; no sender, recipient or relay) of every message under
   DIR/spam and DIR/ham, by default the Japanese set shipped with omamori
   (OM_PRIOR_DIR, the train half of tests/data/ja-eval): a new classifier
   then knows Japanese spam's and ham's vocabulary before its users have
   taught it any (doc/spam.md, issue 19). */
static int ctl_prior(struct ctl *ctl, int argc, char **argv)
{
	static const char *const kinds[] = { "spam", "ham" };
	struct ctl_learning l;
	const char *dir = OM_PRIOR_DIR;
	char *error = NULL, *path;
	long counts[2], nspam, nham;
	size_t k;
	int ret;

	memset(&l, 0, sizeof(l));
	if (argc > 0 && strcmp(argv[0], "--unlearn") == 0) {
		l.unlearn = 1;
		argc--;
		argv++;
	}
	if (argc > 1 || (argc == 1 && argv[0][0] == '-'))
		return ctl_error("usage: prior [--unlearn] [DIR]  (DIR/spam and DIR/ham; "
				 "default %s)", OM_PRIOR_DIR);
	if (argc == 1)
		dir = argv[0];
	l.words_only = 1;
	l.db = om_spam_db_new();
	if (om_spam_db_load(l.db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	for (k = 0; k < OM_N_ELEMENTS(kinds); k++) {
		l.is_spam = k == 0;
		path = om_asprintf("%s/%s", dir, kinds[k]);
		counts[k] = ctl_each_message(path, ctl_learn_one, &l);
		free(path);
		if (counts[k] < 0) {
			om_spam_db_free(&l.db);
			return CTL_EXIT_ERROR;
		}
	}
	if ((ret = ctl_learning_save(ctl, &l.db, &nspam, &nham)) != CTL_EXIT_OK)
		return ret;
	printf("%s the words of %ld spam and %ld ham of %s; the classifier now knows "
	       "%ld spam, %ld ham\n", l.unlearn ? "unlearned" : "learned", counts[0],
	       counts[1], dir, nspam, nham);
	ctl_sync_scand(ctl);
	return CTL_EXIT_OK;
fail:
	ret = ctl_error("%s", error);
	free(error);
	om_spam_db_free(&l.db);
	return ret;
}

/* ---- train: learn, then learn again what is still unsure ---- */

#define CTL_TRAIN_SURE_SPAM 0.99
#define CTL_TRAIN_SURE_HAM 0.01

struct ctl_retraining {
	struct om_spam_db *db;
	int is_spam;
	long relearned;
};

static void ctl_retrain_one(void *context, const char *path, const char *msg, size_t len)
{
	struct ctl_retraining *r = context;
	double p = om_spam_score(r->db, msg, len);

	(void)path;
	if (r->is_spam ? p < CTL_TRAIN_SURE_SPAM : p > CTL_TRAIN_SURE_HAM) {
		om_spam_learn(r->db, msg, len, r->is_spam, 0);
		r->relearned++;
	}
}

/* One pass over a corpus; the number of messages learned, or -1. */
static long ctl_train_pass(struct om_spam_db *db, const struct om_phish *phish,
			   const char *path, int is_spam, int again)
{
	struct ctl_learning l;
	struct ctl_retraining r = { db, is_spam, 0 };

	if (again)
		return ctl_each_message(path, ctl_retrain_one, &r) < 0 ? -1 : r.relearned;
	memset(&l, 0, sizeof(l));
	l.db = db;
	l.phish = phish;
	l.is_spam = is_spam;
	return ctl_each_message(path, ctl_learn_one, &l);
}

/* train [--rounds N] SPAM HAM: learns both, then up to N rounds learning
   again every message the classifier is still unsure of (train on error,
   as bogofilter's bogominitrain does); saves once. */
static int ctl_train(struct ctl *ctl, int argc, char **argv)
{
	struct om_spam_db *db;
	struct om_phish *phish = NULL;
	long rounds = 3, round, spam, ham, nspam, nham;
	char *error = NULL;

	if (argc == 4 && strcmp(argv[0], "--rounds") == 0) {
		rounds = om_settings_number(argv[1], -1);
		argc -= 2;
		argv += 2;
	}
	if (argc != 2 || rounds < 0 || rounds > 20)
		return ctl_error("usage: train [--rounds 0..20] SPAM HAM  "
				 "(each a FILE, DIR or MBOX)");
	if (ctl_phish_open(ctl, &phish) < 0)
		return CTL_EXIT_ERROR;
	db = om_spam_db_new();
	if (om_spam_db_load(db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	for (round = 0; round <= rounds; round++) {
		spam = ctl_train_pass(db, phish, argv[0], 1, round > 0);
		ham = spam < 0 ? -1 : ctl_train_pass(db, phish, argv[1], 0, round > 0);
		if (spam < 0 || ham < 0) {
			om_spam_db_free(&db);
			om_phish_free(&phish);
			return CTL_EXIT_ERROR;
		}
		if (round == 0)
			printf("learned %ld spam, %ld ham\n", spam, ham);
		else
			printf("round %ld: %ld spam, %ld ham the classifier was unsure "
			       "of learned again\n", round, spam, ham);
		if (round > 0 && spam == 0 && ham == 0)
			break;
	}
	if (om_spam_db_save(db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	om_spam_db_counts(db, &nspam, &nham);
	printf("the classifier now counts %ld spam, %ld ham\n", nspam, nham);
	om_spam_db_free(&db);
	om_phish_free(&phish);
	ctl_sync_scand(ctl);
	return CTL_EXIT_OK;
fail:
	om_spam_db_free(&db);
	om_phish_free(&phish);
	return ctl_fail(error);
}

struct ctl_classifying {
	const struct om_spam_db *db;
	const struct om_config *config;
	int with_rules;
	const struct om_phish *phish;	/* NULL: those rules off */
};

/* "probability<TAB>path", or with --rules "score<TAB>probability<TAB>rules<TAB>path"
   (the score as a delivery gets it, without lists: those are per mailbox) */
static void ctl_classify_one(void *context, const char *path, const char *msg, size_t len)
{
	const struct ctl_classifying *c = context;
	/* no mailbox: lookalikes of the first To address's domain */
	struct om_spam_check_settings set = { c->config->trusted_authserv_id, NULL, NULL,
		(unsigned int)c->config->trusted_authserv_hops, c->phish, NULL, NULL, 0 };
	struct om_spam_report report;
	char rules[512];

	if (!c->with_rules) {
		printf("%.6f\t%s\n", om_spam_score(c->db, msg, len), path);
		return;
	}
	om_spam_check(c->db, msg, len, &set, &report);
	om_rules_names(&report.rules, rules, sizeof(rules));
	printf("%.2f\t%.6f\t%s\t%s\n", report.score, report.probability,
	       rules[0] != '\0' ? rules : "-", path);
}

static int ctl_classify(struct ctl *ctl, int argc, char **argv)
{
	struct om_spam_db *db = om_spam_db_new();
	struct ctl_classifying c = { db, ctl->config, 0, NULL };
	struct om_phish *phish = NULL;
	char *error = NULL;
	int i, ret = CTL_EXIT_OK;

	if (argc >= 1 && strcmp(argv[0], "--rules") == 0) {
		c.with_rules = 1;
		argc--;
		argv++;
		if (ctl_phish_open(ctl, &phish) < 0) {
			om_spam_db_free(&db);
			return CTL_EXIT_ERROR;
		}
		c.phish = phish;
	}
	if (argc < 1) {
		om_phish_free(&phish);
		om_spam_db_free(&db);
		return ctl_error("usage: classify [--rules] FILE|DIR|MBOX...");
	}
	if (om_spam_db_load(db, ctl_store(ctl, 0), &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
		om_phish_free(&phish);
		om_spam_db_free(&db);
		return ret;
	}
	for (i = 0; i < argc; i++) {
		if (ctl_each_message(argv[i], ctl_classify_one, &c) < 0)
			ret = CTL_EXIT_ERROR;
	}
	om_phish_free(&phish);
	om_spam_db_free(&db);
	return ret;
}

int ctl_cmd_learn(struct ctl *ctl, int argc, char **argv)
{
	return ctl_learn(ctl, argc, argv);
}

int ctl_cmd_prior(struct ctl *ctl, int argc, char **argv)
{
	return ctl_prior(ctl, argc, argv);
}

int ctl_cmd_train(struct ctl *ctl, int argc, char **argv)
{
	return ctl_train(ctl, argc, argv);
}

int ctl_cmd_classify(struct ctl *ctl, int argc, char **argv)
{
	return ctl_classify(ctl, argc, argv);
}

/* prune [--max-count N]: forgets the tokens seen in at most N messages
   (default 1), but not the sites ham came from (PHISH_LOOKALIKE_KNOWN's
   memory: the store keeps them).  Most tokens are seen once and never
   again, word pairs above all; they take most of the store and of
   scand's memory.  scand is told and reloads before the command returns. */
int ctl_cmd_prune(struct ctl *ctl, int argc, char **argv)
{
	long max_count = 1, removed, left;
	char *error = NULL;

	if (argc == 2 && strcmp(argv[0], "--max-count") == 0) {
		max_count = om_settings_number(argv[1], -1);
		argc -= 2;
	}
	if (argc != 0 || max_count < 1 || max_count > 1000)
		return ctl_error("usage: prune [--max-count 1..1000]");
	if (om_store_spam_prune(ctl_store(ctl, 0), max_count, &removed, &left, &error) < 0)
		return ctl_fail(error);
	printf("forgot %ld tokens seen in at most %ld message%s; %ld left\n", removed,
	       max_count, max_count == 1 ? "" : "s", left);
	ctl_sync_scand(ctl);
	return CTL_EXIT_OK;
}
