/* cmd-cron.c - omamorictl cron: omamori's periodic tasks, run every minute
 * by a systemd timer (conf/omamori-cron.timer).
 *
 * Each task has a time of day at which it is due; a run does the tasks due
 * at the current minute and nothing else, so the timer may fire as often as
 * it likes.  "--now" runs every task, "--at HH:MM" pretends it is that time.
 *
 * Quarantine retention runs hourly.  The Dovecot plugin applies
 * it when a user logs in over IMAP or gets quarantined mail; a mailbox
 * nobody opens would keep its spam forever.  Here it is applied to every
 * mailbox through doveadm, because Dovecot owns the mail (indexes, locks,
 * storage format).  The users come from Dovecot's userdb ("doveadm user
 * '*'"), are grouped by their retention (a domain setting, 1..14 days), and
 * each group is one "doveadm expunge -F USERFILE": at most 14 processes,
 * not one per mailbox.  The search is on the received date, as the
 * plugin's is.  doveadm runs through om_doveadm_run (posix_spawn, never a shell).  After a
 * group's expunge the store forgets the same mailboxes' rows past the
 * same retention, so digests and web pages never list mail that is gone.
 *
 * The quarantine digest runs every minute and decides per mailbox (its
 * schedule in its domain's timezone, quarantine/digest.c); --at gives it
 * today at HH:MM (local time) as the time, --now makes every schedule due.
 *
 * The monthly report (issue 20, doc/report.md) is due at minute 17 of
 * every hour and acts on the 1st of the month only (ctl_report_cron);
 * "--date YYYY-MM-DD" (for tests, with --at) pretends it is that day.
 */
#include "omamorictl.h"
#include "quarantine/doveadm.h"
#include "crypto/token.h"
#include "crypto/vault.h"
#include "store/store.h"
#include "lib/hash.h"
#include "quarantine/digest.h"
#include "store/settings.h"
#include "lib/util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the longest user name read from doveadm (Dovecot allows long ones, but a
   line longer than this means doveadm printed something else) */
#define CRON_MAX_USER_LEN 1024
#define CRON_MAX_DAYS 14		/* quarantine-retention's upper bound */
/* what doveadm may print: "user '*'" of a large site (a million users of
   about 30 bytes) fits */
#define CRON_MAX_DOVEADM_OUTPUT (256 * 1024 * 1024)

/* What a run was asked for: the time (real, or --at's) and --now. */
struct cron_run {
	time_t now;
	int all;
};

struct cron_task {
	const char *name;
	int hour;			/* -1: every hour */
	int minute;			/* -1: every minute */
	int (*run)(struct ctl *ctl, const struct cron_run *run);
};

static int cron_quarantine_retention(struct ctl *ctl, const struct cron_run *run);
static int cron_quarantine_digest(struct ctl *ctl, const struct cron_run *run);
static int cron_hold_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_zip_password_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_url_clicks_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_isolated_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_isolated_orphans(struct ctl *ctl, const struct cron_run *run);
static int cron_portal_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_events_expiry(struct ctl *ctl, const struct cron_run *run);
static int cron_monthly_report(struct ctl *ctl, const struct cron_run *run);

static const struct cron_task cron_tasks[] = {
	{ "quarantine-retention", -1, 0, cron_quarantine_retention },
	{ "quarantine-digest", -1, -1, cron_quarantine_digest },
	{ "hold-expiry", -1, -1, cron_hold_expiry },
	{ "zip-password-expiry", -1, -1, cron_zip_password_expiry },
	{ "url-clicks-expiry", -1, -1, cron_url_clicks_expiry },
	{ "isolated-expiry", -1, -1, cron_isolated_expiry },
	{ "isolated-orphans", -1, 7, cron_isolated_orphans },
	{ "portal-expiry", -1, -1, cron_portal_expiry },
	{ "events-expiry", -1, 13, cron_events_expiry },
	{ "monthly-report", -1, 17, cron_monthly_report },
};

/* issue 20: last month's report to each domain's admins, on the 1st */
static int cron_monthly_report(struct ctl *ctl, const struct cron_run *run)
{
	return ctl_report_cron(ctl, (long long)run->now);
}

/* issue 18: the message trace's events are kept trace_keep_days (13
   months by default: a year of monthly reports and the month before) */
static int cron_events_expiry(struct ctl *ctl, const struct cron_run *run)
{
	char *error = NULL;
	long long before = (long long)run->now -
		ctl->config->trace_keep_days * 86400LL;
	long n = om_store_events_expire(ctl_store(ctl, 0), before, &error);

	if (n < 0) {
		ctl_error("cron: events-expiry: %s", error);
		free(error);
		return -1;
	}
	if (n > 0)
		printf("events-expiry: %ld trace events forgotten\n", n);
	return 0;
}

/* outbound-hold's expiry (cmd-hold.c) */
static int cron_hold_expiry(struct ctl *ctl, const struct cron_run *run)
{
	return ctl_hold_cron(ctl, (long long)run->now);
}

/* outbound-zip: the passwords kept for the recipients' button are
   forgotten (sealed value and all) at their expiry (zip-password-days) */
static int cron_zip_password_expiry(struct ctl *ctl, const struct cron_run *run)
{
	char *error = NULL;
	int n = om_store_zip_expire(ctl_store(ctl, 0), (long long)run->now, &error);

	if (n < 0) {
		ctl_error("cron: zip-password-expiry: %s", error);
		free(error);
		return -1;
	}
	if (n > 0)
		printf("zip-password-expiry: %d kept passwords forgotten\n", n);
	return 0;
}

/* issue 15: the gate's clicks are kept url_clicks_days for the reports */
static int cron_url_clicks_expiry(struct ctl *ctl, const struct cron_run *run)
{
	char *error = NULL;
	long long before = (long long)run->now - ctl->config->url_clicks_days * 86400LL;
	long n = om_store_url_clicks_expire(ctl_store(ctl, 0), before, &error);

	if (n < 0) {
		ctl_error("cron: url-clicks-expiry: %s", error);
		free(error);
		return -1;
	}
	if (n > 0)
		printf("url-clicks-expiry: %ld clicks forgotten\n", n);
	return 0;
}

/* The ids of the isolated files due, copied out of the store's callback. */
struct cron_isolated {
	char **ids;
	size_t count, cap;
};

static void cron_isolated_cb(void *context, const struct om_store_isolated *f)
{
	struct cron_isolated *c = context;

	if (!om_vault_id_valid(f->id))
		return;		/* never a path made of anything else */
	if (c->count == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->ids = om_realloc(c->ids, c->cap * sizeof(*c->ids));
	}
	c->ids[c->count++] = om_strdup(f->id);
}

/* One expired isolated file: the file first, then its row (a file that
   cannot be removed keeps its row, and is tried again next minute). */
static int cron_isolated_forget(struct ctl *ctl, const char *id)
{
	char *path = om_asprintf("%s/%s", ctl->config->isolate_dir, id), *error = NULL;
	int ret = 0;

	if (unlink(path) < 0 && errno != ENOENT) {
		ctl_error("cron: isolated-expiry: %s: %s", path, strerror(errno));
		ret = -1;
	} else if (om_store_isolated_delete(ctl_store(ctl, 0), id, &error) < 0) {
		ctl_error("cron: isolated-expiry: %s", error);
		free(error);
		ret = -1;
	}
	free(path);
	return ret;
}

/* issue 16: isolated attachments past attachment-isolate-days are
   removed from isolate_dir and from the store */
static int cron_isolated_expiry(struct ctl *ctl, const struct cron_run *run)
{
	struct cron_isolated c = { NULL, 0, 0 };
	char *error = NULL;
	size_t i, done = 0;
	int ret = 0;

	if (om_store_isolated_due(ctl_store(ctl, 0), (long long)run->now,
				  cron_isolated_cb, &c, &error) < 0) {
		ctl_error("cron: isolated-expiry: %s", error);
		free(error);
		return -1;
	}
	for (i = 0; i < c.count; i++) {
		if (cron_isolated_forget(ctl, c.ids[i]) < 0)
			ret = -1;
		else
			done++;
		free(c.ids[i]);
	}
	free(c.ids);
	if (done > 0)
		printf("isolated-expiry: %zu isolated files removed\n", done);
	return ret;
}

/* ---- the encrypted delivery portal (issue 17, doc/portal.md) ---- */

static void cron_portal_cb(void *context, const struct om_store_portal *p)
{
	struct cron_isolated *c = context;

	if (!om_vault_id_valid(p->id))
		return;
	if (c->count == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->ids = om_realloc(c->ids, c->cap * sizeof(*c->ids));
	}
	c->ids[c->count++] = om_strdup(p->id);
}

/* Portal messages past their expiry: the ciphertext, then the row (its
   sealed key), its views and codes. */
static int cron_portal_expiry(struct ctl *ctl, const struct cron_run *run)
{
	struct cron_isolated c = { NULL, 0, 0 };
	char *error = NULL, *path;
	size_t i, done = 0;
	int ret = 0;

	if (om_store_portal_due(ctl_store(ctl, 0), (long long)run->now, cron_portal_cb, &c,
				&error) < 0) {
		ctl_error("cron: portal-expiry: %s", error);
		free(error);
		return -1;
	}
	for (i = 0; i < c.count; i++) {
		path = om_asprintf("%s/%s", ctl->config->portal_dir, c.ids[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			ctl_error("cron: portal-expiry: %s: %s", path, strerror(errno));
			ret = -1;
		} else if (om_store_portal_delete(ctl_store(ctl, 0), c.ids[i], &error) < 0) {
			ctl_error("cron: portal-expiry: %s", error);
			free(error);
			error = NULL;
			ret = -1;
		} else {
			done++;
		}
		free(path);
		free(c.ids[i]);
	}
	free(c.ids);
	if (done > 0)
		printf("portal-expiry: %zu portal messages removed\n", done);
	return ret;
}

static void cron_found_cb(void *context, const struct om_store_isolated *f)
{
	(void)f;
	*(int *)context = 1;
}

/* 1 when the isolated file name (an id) is an orphan to remove: a regular
   file older than a day without a row (scand stopped between writing it
   and recording it, or the store row went first); 0 keep; -1 the store
   could not say. */
static int cron_isolated_orphan(struct ctl *ctl, int dirfd, const char *name, time_t now)
{
	struct stat st;
	char *error = NULL;
	int found = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_mtime > now - 86400)
		return 0;
	if (om_store_isolated_get(ctl_store(ctl, 0), name, cron_found_cb, &found, &error) < 0) {
		ctl_error("cron: isolated-orphans: %s", error);
		free(error);
		return -1;
	}
	return !found;
}

/* Hourly: files of isolate_dir no row names (never a name that is not
   an id: nothing else in the directory is touched). */
static int cron_isolated_orphans(struct ctl *ctl, const struct cron_run *run)
{
	const char *dir = ctl->config->isolate_dir;
	struct dirent *d;
	size_t done = 0;
	int dirfd, ret = 0, r;
	DIR *dh;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT)
			return 0;
		ctl_error("cron: isolated-orphans: %s: %s", dir, strerror(errno));
		return -1;
	}
	dh = fdopendir(dirfd);
	if (dh == NULL) {
		ctl_error("cron: isolated-orphans: %s: %s", dir, strerror(errno));
		close(dirfd);
		return -1;
	}
	while ((d = readdir(dh)) != NULL) {
		if (!om_vault_id_valid(d->d_name))
			continue;
		r = cron_isolated_orphan(ctl, dirfd, d->d_name, run->now);
		if (r < 0) {
			ret = -1;
			break;
		}
		if (r == 1 && unlinkat(dirfd, d->d_name, 0) == 0)
			done++;
	}
	closedir(dh);
	if (done > 0)
		printf("isolated-orphans: %zu files without a record removed\n", done);
	return ret;
}

/* Prints "omamorictl: ..." to stderr and returns -1 (a task's failure). */
static int cron_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int cron_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vwarn(fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- running doveadm ---- */

/* Runs doveadm in-process (cron is root: no doveadm server needed), its
   output into *output_r when not NULL; 0, or -1 after saying what failed. */
static int cron_doveadm(const struct om_config *config, const char *const *args,
			const char *what, char **output_r)
{
	char *error = NULL;
	int status;

	fflush(stdout);
	status = om_doveadm_run(config, 0, args, NULL, 0, output_r,
				CRON_MAX_DOVEADM_OUTPUT, &error);
	if (status == 0)
		return 0;
	ctl_error("cron: doveadm %s failed: %s", what, error);
	free(error);
	return -1;
}

/* ---- quarantine retention ---- */

struct cron_retention {
	struct ctl *ctl;
	char dir[64];			/* private temporary directory */
	FILE *group[CRON_MAX_DAYS + 1];	/* users by retention in days */
	size_t count[CRON_MAX_DAYS + 1];
	struct om_hash *domains;	/* domain -> days (as a pointer) */
	int failed;
};

/* The retention of user's domain in days (looked up once per domain), or
   -1 when the store cannot be read. */
static long cron_retention_days(struct cron_retention *r, const char *user)
{
	const char *domain = om_settings_domain_of(user);
	char *value, *error = NULL;
	void *cached = om_hash_get(r->domains, domain);
	long days;

	if (cached != NULL)
		return (long)(intptr_t)cached;
	value = om_settings_domain_value(ctl_store(r->ctl, 0), user,
					 OM_SETTING_QUARANTINE_RETENTION,
					 "", &error);
	if (value == NULL) {
		ctl_fail(error);
		return -1;
	}
	days = om_settings_number(value, OM_DEFAULT_QUARANTINE_RETENTION);
	free(value);
	if (days < 1 || days > CRON_MAX_DAYS)
		days = OM_DEFAULT_QUARANTINE_RETENTION;
	(void)om_hash_set(r->domains, domain, (void *)(intptr_t)days);
	return days;
}

/* 1 if name is a user name doveadm -F can take back: printable, no tab. */
static int cron_user_valid(const char *name)
{
	const unsigned char *p;

	if (*name == '\0')
		return 0;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* Adds one user to the file of its retention group; 0 or -1. */
static int cron_retention_add(struct cron_retention *r, const char *user)
{
	char path[96];
	long days = cron_retention_days(r, user);
	int fd;

	if (days < 0)
		return -1;
	if (r->group[days] == NULL) {
		if ((size_t)snprintf(path, sizeof(path), "%s/users-%ld", r->dir,
				     days) >= sizeof(path))
			return cron_error("cron: temporary path too long");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || (r->group[days] = fdopen(fd, "w")) == NULL) {
			ctl_error("cron: %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	if (fprintf(r->group[days], "%s\n", user) < 0)
		return cron_error("cron: writing %s/users-%ld: %s", r->dir, days,
				 strerror(errno));
	r->count[days]++;
	return 0;
}

/* Reads "doveadm user '*'" into the groups; 0 or -1. */
static int cron_retention_read_users(struct cron_retention *r)
{
	const char *args[] = { "user", "*", NULL };
	char *output = NULL, *line, *next;
	int ret = 0;

	if (cron_doveadm(r->ctl->config, args, "user '*'", &output) < 0)
		return -1;
	for (line = output; *line != '\0' && ret == 0; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (strlen(line) > CRON_MAX_USER_LEN) {
			ctl_error("cron: doveadm user '*' printed a line longer "
				  "than %d bytes", CRON_MAX_USER_LEN);
			ret = -1;
		} else if (!cron_user_valid(line)) {
			ctl_error("cron: skipping user name with control "
				  "characters from doveadm user '*'");
			r->failed = 1;
		} else if (cron_retention_add(r, line) < 0) {
			ret = -1;
		}
	}
	free(output);
	return ret;
}

/* Closes the group files; 0, or -1 if one could not be written. */
static int cron_retention_close_groups(struct cron_retention *r)
{
	int days, ret = 0;

	for (days = 1; days <= CRON_MAX_DAYS; days++) {
		if (r->group[days] != NULL && fclose(r->group[days]) != 0) {
			ctl_error("cron: writing %s/users-%d: %s", r->dir, days,
				  strerror(errno));
			ret = -1;
		}
		r->group[days] = NULL;
	}
	return ret;
}

/* Forgets the store's rows of the users of one retention group that are
   past it (the expunge just removed their mail); 0 or -1. */
static int cron_retention_forget(struct cron_retention *r, int days)
{
	struct om_store *store = ctl_store(r->ctl, 0);
	long long before = (long long)time(NULL) - (long long)days * 86400;
	char path[96], line[CRON_MAX_USER_LEN + 2], *error = NULL;
	long forgot = 0;
	size_t len;
	FILE *in;
	int n, ret = 0;

	(void)snprintf(path, sizeof(path), "%s/users-%d", r->dir, days);
	if ((in = fopen(path, "r")) == NULL)
		return cron_error("cron: %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), in) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((n = om_store_quarantine_expire(store, line, before, &error)) < 0) {
			(void)ctl_fail(error);
			error = NULL;
			ret = -1;
			continue;
		}
		forgot += n;
	}
	(void)fclose(in);	/* read only: nothing to lose */
	if (forgot > 0)
		printf("quarantine-retention: %ld store rows older than %d days "
		       "forgotten\n", forgot, days);
	return ret;
}

/* One doveadm expunge for the users of one retention; 0 or -1. */
static int cron_retention_expunge(struct cron_retention *r, int days)
{
	const char *box = r->ctl->config->quarantine_mailbox;
	char path[96], before[32], what[160];
	char *glob = om_asprintf("%s*", box);
	/* the glob makes doveadm list the users' mailboxes, so that a user
	   without a Quarantine is no error; the exact name then picks it */
	const char *args[] = { "expunge", "-F", path, "mailbox", glob, "mailbox",
			       box, "before", before, NULL };
	int ret;

	(void)snprintf(path, sizeof(path), "%s/users-%d", r->dir, days);
	(void)snprintf(before, sizeof(before), "%ddays", days);
	(void)snprintf(what, sizeof(what), "expunge (%zu mailboxes, %d days)",
		       r->count[days], days);
	ret = cron_doveadm(r->ctl->config, args, what, NULL);
	free(glob);
	if (ret == 0)
		printf("quarantine-retention: %s older than %d days expunged "
		       "for %zu mailboxes\n", box, days, r->count[days]);
	return ret;
}

static void cron_retention_cleanup(struct cron_retention *r)
{
	char path[96];
	int days;

	(void)cron_retention_close_groups(r);
	for (days = 1; days <= CRON_MAX_DAYS; days++) {
		if (r->count[days] == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/users-%d", r->dir, days);
		if (unlink(path) < 0 && errno != ENOENT)
			ctl_error("cron: %s: %s", path, strerror(errno));
	}
	if (rmdir(r->dir) < 0)
		ctl_error("cron: %s: %s", r->dir, strerror(errno));
	om_hash_free(&r->domains, NULL);
}

/* The names doveadm is given must not be read as patterns or options. */
static int cron_retention_check_config(const struct om_config *config)
{
	const char *box = config->quarantine_mailbox;

	if (config->doveadm_path[0] != '/' && config->doveadm_path[0] != '\0')
		return cron_error("cron: %s: doveadm_path '%s' is not an absolute "
				 "path", config->path, config->doveadm_path);
	if (config->dovecot_config[0] != '\0' && config->dovecot_config[0] != '/')
		return cron_error("cron: %s: dovecot_config '%s' is not an "
				 "absolute path", config->path,
				 config->dovecot_config);
	if (*box == '\0' || strpbrk(box, "*%") != NULL || !cron_user_valid(box))
		return cron_error("cron: %s: quarantine_mailbox '%s' cannot be "
				 "searched by doveadm", config->path, box);
	return 0;
}

/* 1 (said on stdout) when this host has no Dovecot to ask: a host that
   runs only omamori-policyd or the filter (doc/scaling.md) has no
   mailboxes, and its hourly run must not fail for them.  Said so by an
   empty doveadm_path, or found so: no doveadm at its default place.  A
   doveadm_path the administrator wrote that is not there is a mistake,
   and fails the task as before (retention must not stop unnoticed). */
static int cron_no_dovecot_here(const struct om_config *config, const char *task)
{
	if (config->doveadm_path[0] != '\0' &&
	    (strcmp(config->doveadm_path, OM_DOVEADM_PATH_DEFAULT) != 0 ||
	     access(config->doveadm_path, F_OK) == 0 || errno != ENOENT))
		return 0;
	printf("%s: skipped: no Dovecot on this host (doveadm_path %s)\n", task,
	       config->doveadm_path[0] != '\0' ? "not found" : "empty");
	return 1;
}

static int cron_quarantine_retention(struct ctl *ctl, const struct cron_run *run)
{
	struct cron_retention r;
	const char *tmp = getenv("TMPDIR");
	size_t total = 0;
	int days, ret = 0;

	(void)run;	/* doveadm's "before" is from the real time, and so are
			   the rows forgotten with it */
	if (cron_retention_check_config(ctl->config) < 0)
		return -1;
	if (cron_no_dovecot_here(ctl->config, "quarantine-retention"))
		return 0;
	(void)ctl_store(ctl, 0);	/* exits on failure: before mkdtemp */
	memset(&r, 0, sizeof(r));
	r.ctl = ctl;
	if (tmp == NULL || tmp[0] != '/' ||
	    (size_t)snprintf(r.dir, sizeof(r.dir), "%s/omamori-cron.XXXXXX",
			     tmp) >= sizeof(r.dir))
		(void)snprintf(r.dir, sizeof(r.dir), "/tmp/omamori-cron.XXXXXX");
	if (mkdtemp(r.dir) == NULL)
		return cron_error("cron: mkdtemp %s: %s", r.dir, strerror(errno));
	r.domains = om_hash_new(64);
	if (cron_retention_read_users(&r) < 0 ||
	    cron_retention_close_groups(&r) < 0) {
		ctl_error("cron: quarantine-retention: nothing expunged");
		cron_retention_cleanup(&r);
		return -1;
	}
	for (days = 1; days <= CRON_MAX_DAYS; days++) {
		if (r.count[days] == 0)
			continue;
		total += r.count[days];
		if (cron_retention_expunge(&r, days) < 0 ||
		    cron_retention_forget(&r, days) < 0)
			ret = -1;
	}
	if (total == 0)
		printf("quarantine-retention: doveadm user '*' listed no users\n");
	if (r.failed)
		ret = -1;
	cron_retention_cleanup(&r);
	return ret;
}

/* ---- the quarantine digest ---- */

static int cron_quarantine_digest(struct ctl *ctl, const struct cron_run *run)
{
	struct om_link_keys keys;
	struct om_digest_env env;
	char *error = NULL;
	long sent = 0;
	int ret;

	if (cron_retention_check_config(ctl->config) < 0)
		return -1;
	if (cron_no_dovecot_here(ctl->config, "quarantine-digest"))
		return 0;
	if (om_link_keys_load(ctl->config->web_key_path,
			      OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_WEB), &keys, &error) < 0) {
		ctl_error("cron: quarantine-digest: %s (the digest's links are "
			  "signed with it%s)", error,
			  access(ctl->config->web_key_path, F_OK) < 0 ?
			  ": run omamorictl init to make it" : "");
		free(error);
		return -1;
	}
	memset(&env, 0, sizeof(env));
	env.config = ctl->config;
	env.store = ctl_store(ctl, 0);
	env.keys = &keys;
	env.now = run->now;
	env.force = run->all;
	/* a doveadm that exits before reading the digest must not kill us */
	(void)signal(SIGPIPE, SIG_IGN);
	ret = om_digest_run(&env, &sent, &error);
	explicit_bzero(&keys, sizeof(keys));
	if (sent > 0)
		printf("quarantine-digest: %ld digest%s sent\n", sent,
		       sent == 1 ? "" : "s");
	if (ret < 0) {
		ctl_error("cron: quarantine-digest: %s (every failed mailbox is "
			  "logged; its digest is tried again)", error);
		free(error);
		return -1;
	}
	return 0;
}

/* ---- the schedule ---- */

static int cron_due(const struct cron_task *task, int hour, int minute)
{
	return (task->hour < 0 || task->hour == hour) &&
		(task->minute < 0 || task->minute == minute);
}

/* Parses HH:MM (H:MM too); 0 or -1. */
static int cron_parse_time(const char *text, int *hour_r, int *minute_r)
{
	const char *colon = strchr(text, ':');
	unsigned long h, m;
	char hour[3];

	if (colon == NULL || colon == text || colon - text > 2 ||
	    strlen(colon + 1) != 2)
		return -1;
	memcpy(hour, text, (size_t)(colon - text));
	hour[colon - text] = '\0';
	if (om_parse_ulong(hour, 0, 23, &h) < 0 ||
	    om_parse_ulong(colon + 1, 0, 59, &m) < 0)
		return -1;
	*hour_r = (int)h;
	*minute_r = (int)m;
	return 0;
}

static int cron_usage(void)
{
	return ctl_error("usage: cron [--now | --at HH:MM [--date YYYY-MM-DD]]");
}

/* Day (YYYY-MM-DD) at hour:minute, local time (what --at and --date
   pretend; day NULL: today); -1 on error. */
static time_t cron_day_at(time_t now, const char *day, int hour, int minute)
{
	unsigned long y, m, d;
	char ys[5], ms[3], ds[3];
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return (time_t)-1;
	if (day != NULL) {
		if (strlen(day) != 10 || day[4] != '-' || day[7] != '-')
			return (time_t)-1;
		memcpy(ys, day, 4);
		ys[4] = '\0';
		memcpy(ms, day + 5, 2);
		ms[2] = '\0';
		memcpy(ds, day + 8, 2);
		ds[2] = '\0';
		if (om_parse_ulong(ys, 1970, 9999, &y) < 0 ||
		    om_parse_ulong(ms, 1, 12, &m) < 0 || om_parse_ulong(ds, 1, 31, &d) < 0)
			return (time_t)-1;
		tm.tm_year = (int)y - 1900;
		tm.tm_mon = (int)m - 1;
		tm.tm_mday = (int)d;
	}
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int ctl_cmd_cron(struct ctl *ctl, int argc, char **argv)
{
	struct cron_run run;
	struct tm tm;
	time_t now = time(NULL);
	int all = 0, hour, minute, ret = CTL_EXIT_OK;
	const char *day = NULL;
	size_t i;

	if (localtime_r(&now, &tm) == NULL)
		return ctl_error("cron: localtime: %s", strerror(errno));
	hour = tm.tm_hour;
	minute = tm.tm_min;
	if (argc == 4 && strcmp(argv[0], "--at") == 0 && strcmp(argv[2], "--date") == 0) {
		day = argv[3];
		argc = 2;
	}
	if (argc == 1 && strcmp(argv[0], "--now") == 0)
		all = 1;
	else if (argc == 2 && strcmp(argv[0], "--at") == 0) {
		if (cron_parse_time(argv[1], &hour, &minute) < 0)
			return ctl_error("cron: --at '%s': expected HH:MM "
					 "(00:00 to 23:59)", argv[1]);
		if ((now = cron_day_at(now, day, hour, minute)) == (time_t)-1)
			return ctl_error("cron: --at %s%s%s: no such local time",
					 argv[1], day != NULL ? " --date " : "",
					 day != NULL ? day : "");
	} else if (argc != 0)
		return cron_usage();
	run.now = now;
	run.all = all;
	for (i = 0; i < OM_N_ELEMENTS(cron_tasks); i++) {
		if (!all && !cron_due(&cron_tasks[i], hour, minute))
			continue;
		if (cron_tasks[i].run(ctl, &run) < 0) {
			ctl_error("cron: task %s failed", cron_tasks[i].name);
			ret = CTL_EXIT_ERROR;
		}
	}
	return ret;
}
