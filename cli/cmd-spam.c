/* cmd-spam.c - omamorictl learn and classify: teach the spam classifier
 * from files, directories (one message per file) or mbox files, and score
 * messages with it.  Learning shows progress on a terminal and saves the
 * token counts once, at the end, in one transaction.
 */
#include "omamorictl.h"
#include "spam.h"
#include "util.h"

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

struct ctl_learning {
	struct om_spam_db *db;
	int is_spam, unlearn, tty;
	long done;
};

static void ctl_learn_one(void *context, const char *path, const char *msg, size_t len)
{
	struct ctl_learning *l = context;

	(void)path;
	om_spam_learn(l->db, msg, len, l->is_spam, l->unlearn);
	if (l->tty && ++l->done % 100 == 0) {
		fprintf(stderr, "\rlearned %ld messages", l->done);
		fflush(stderr);
	}
}

static int ctl_learn(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_learning l;
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
	l.db = om_spam_db_new();
	if (om_spam_db_load(l.db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	for (i = first; i < argc; i++) {
		n = ctl_each_message(argv[i], ctl_learn_one, &l);
		if (n < 0) {
			om_spam_db_free(&l.db);
			return CTL_EXIT_ERROR;
		}
		total += n;
	}
	if (om_spam_db_save(l.db, ctl_store(ctl, 0), &error) < 0)
		goto fail;
	om_spam_db_counts(l.db, &nspam, &nham);
	if (l.tty)
		fputc('\n', stderr);
	printf("%s %ld messages as %s; the classifier now knows %ld spam, %ld ham\n",
	       l.unlearn ? "unlearned" : "learned", total, argv[0], nspam, nham);
	om_spam_db_free(&l.db);
	return CTL_EXIT_OK;
fail:
	ret = ctl_error("%s", error);
	free(error);
	om_spam_db_free(&l.db);
	return ret;
}

struct ctl_classifying {
	const struct om_spam_db *db;
	const struct om_config *config;
	int with_rules;
};

/* "probability<TAB>path", or with --rules "score<TAB>probability<TAB>rules<TAB>path"
   (the score as a delivery gets it, without lists: those are per mailbox) */
static void ctl_classify_one(void *context, const char *path, const char *msg, size_t len)
{
	const struct ctl_classifying *c = context;
	struct om_spam_check_settings set = { c->config->trusted_authserv_id, NULL, NULL };
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
	struct ctl_classifying c = { db, ctl->config, 0 };
	char *error = NULL;
	int i, ret = CTL_EXIT_OK;

	if (argc >= 1 && strcmp(argv[0], "--rules") == 0) {
		c.with_rules = 1;
		argc--;
		argv++;
	}
	if (argc < 1) {
		om_spam_db_free(&db);
		return ctl_error("usage: classify [--rules] FILE|DIR|MBOX...");
	}
	if (om_spam_db_load(db, ctl_store(ctl, 0), &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
		om_spam_db_free(&db);
		return ret;
	}
	for (i = 0; i < argc; i++) {
		if (ctl_each_message(argv[i], ctl_classify_one, &c) < 0)
			ret = CTL_EXIT_ERROR;
	}
	om_spam_db_free(&db);
	return ret;
}

int ctl_cmd_learn(struct ctl *ctl, int argc, char **argv)
{
	return ctl_learn(ctl, argc, argv);
}

int ctl_cmd_classify(struct ctl *ctl, int argc, char **argv)
{
	return ctl_classify(ctl, argc, argv);
}
