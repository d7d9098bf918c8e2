/* filter-deliver.c - what omamori-filter does to one outbound message.
 *
 * Exactly once: each message has a key, KEY = Postfix's queue id and a
 * hash of envelope and content.  The copy re-injected into Postfix carries
 * "X-Omamori-Out-Id: KEY ATTEMPT"; omamori-dedup, the re-injection smtpd's
 * milter, marks KEY in the spool (KEY.queued) before Postfix commits the
 * copy and discards a second copy of a marked key (dedup-mark.h).  A retry
 * (the filter was killed before answering) finds the mark and answers 250
 * without sending again; a copy Postfix refused has its mark taken back;
 * a refusal for good is kept as KEY.refused.  Postfix hears 250 only after
 * the re-injection was accepted.  Every internal error is a 4xx reply:
 * Postfix keeps the message and retries, nothing is lost and nothing goes
 * out unchecked.  doc/outbound.md "Exactly once" has every crash point and
 * the one residual double fault.
 *
 * The features, by the sender's subscriptions: outbound-virus (scand,
 * direction out; the domain's outbound-virus-action strips or blocks),
 * outbound-bcc (To/Cc hidden at bcc-threshold addresses), outbound-zip
 * (attachments into one AES ZIP, filter-zip.c), outbound-hold
 * (filter-hold.c: the held recipients wait for what would go out, the
 * others get it now), outbound-spam (filter-spam.c: spam is held for the
 * administrator), outbound-audit (filter-audit.c: the domain's audit
 * rules send, hold for the administrator or delete, and notify).  A
 * message from the brake socket (filter-brake.c) is held for the
 * administrator whatever the sender subscribes to.
 *
 * Notices of its own: the administrator's alert of an outbound virus
 * (templates/<lang>/outbound-virus-alert.txt: an authenticated user of the
 * domain sent it; sent before the message's outcome, a 451 when it cannot
 * be sent), and with bcc-notify the sender's notice that the To/Cc list
 * was hidden (templates/<lang>/bcc-notice.txt: sent after the message went
 * out; a failure is logged and the mail is not touched - no tempfail, so
 * it is never sent twice for a notice).  Both go through the re-injection
 * smtpd from <>, which asks no policy: never filtered again.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/report.h"
#include "dedup-mark.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "mail/recipients.h"
#include "notice/notify.h"
#include "proto/proto.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_EXPIRE_INTERVAL 3600	/* seconds between expiry runs */
#define FILTER_REINJECT_TIMEOUT_MS 120000
#define FILTER_NOTICE_TEXT_MAX 200	/* bytes of a subject, name or address */
#define FILTER_NOTICE_LIST_MAX 50	/* recipients or viruses named */
#define FILTER_REFUSED_SUFFIX ".refused"
/* the before-queue path's spool names: "sub-HASH" (no queue id yet) */
#define FILTER_INLINE_PREFIX "sub-"
/* its ZIP passwords are kept this long for a client's second submission
   of the same message, then forgotten by the hourly sweep */
#define FILTER_INLINE_PASSWORD_SECONDS 86400
#define FILTER_ZIP_PASSWORD_SUFFIX ".zip-password"

/* What the sender's settings ask for. */
struct filter_plan {
	int virus;		/* outbound-virus on */
	int block;		/* outbound-virus-action block (else strip) */
	int bcc;		/* outbound-bcc on */
	int hold;		/* outbound-hold on */
	int bcc_notify;		/* bcc-notify on: the sender is told */
	int spam;		/* outbound-spam on */
	long bcc_threshold;
};

/* One message being handled. */
struct filter_job {
	struct filter_worker *w;
	const struct filter_envelope *env;
	struct filter_reply *replies;
	const char *qid;	/* Postfix's queue id, "-" when unknown */
	char hash[33];
	char spool_name[128];
	char hold_id[64];	/* a hold's and its ZIP password's id */
	int zipped;		/* outbound-zip done (here or before the queue) */
	const char *msg;	/* what goes out: the original or a rewrite */
	size_t len;
	struct om_buf rewrite;
	char *log_virus;	/* for the log line */
	int bcc_applied;
	/* held for the administrator: OM_HOLD_KIND_SPAM or _BRAKE, and the
	   figures */
	const char *admin_kind;
	char *admin_details;
	struct filter_audit audit;	/* the audit rules' outcome */
	int final;		/* answered for good: sent, refused, held */
	int inline_path;	/* omamori-submit, before the queue: the
				   client hears the answer, nothing is kept */
	struct filter_trace_msg trace;	/* its Message-ID and subject */
};

/* A step of the message trace (filter-trace.c); before the queue none:
   the after-queue filter records what happens to the message. */
static void filter_job_trace(struct filter_job *job, const char *step,
			     const char *result, const char *detail)
{
	const struct filter_envelope *env = job->env;

	if (job->inline_path)
		return;
	filter_trace_describe(&job->trace, job->msg, job->len);
	filter_trace(job->w->store, env->sender, env->rcpt_count == 1 ? env->rcpts[0] : "",
		     job->qid, &job->trace, step, result, detail);
}

/* ---- key of a message ---- */

static uint64_t filter_fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finaliser: spreads the second stream apart from the first */
static uint64_t filter_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 1 if the header field at p is a Received field (the MTA's own, which
   differs between two submissions of the same message). */
static int filter_is_received(const char *p, const char *end)
{
	return end - p > 9 && strncasecmp(p, "Received:", 9) == 0;
}

static size_t filter_field_len(const char *p, const char *end);

/* The before-queue path's key: 128 bits over sender, recipients and the
   message but its Received fields, so that a client's second submission
   of the same message (after a failure) has the same key - and its ZIP
   the same password. */
static void filter_hash_submitted(const struct filter_envelope *env, const char *msg,
				  size_t len, char out[33])
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	const char *p = msg, *end = msg + len;
	size_t i, n;

	a = filter_fnv(a, env->sender, strlen(env->sender) + 1);
	for (i = 0; i < env->rcpt_count; i++)
		a = filter_fnv(a, env->rcpts[i], strlen(env->rcpts[i]) + 1);
	b ^= a;
	for (; p < end && *p != '\n'; p += n) {
		n = filter_field_len(p, end);
		if (filter_is_received(p, end))
			continue;
		a = filter_fnv(a, p, n);
		b = filter_fnv(b, p, n);
	}
	a = filter_fnv(a, p, (size_t)(end - p));
	b = filter_fnv(b, p, (size_t)(end - p));
	b = filter_mix(b);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* 128 bits over sender, recipients and content: a key, not a seal (the
   queue id beside it is Postfix's, not the sender's). */
static void filter_hash(const struct filter_envelope *env, const char *msg,
			size_t len, char out[33])
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	size_t i;

	a = filter_fnv(a, env->sender, strlen(env->sender) + 1);
	for (i = 0; i < env->rcpt_count; i++)
		a = filter_fnv(a, env->rcpts[i], strlen(env->rcpts[i]) + 1);
	b = filter_fnv(b ^ a, msg, len);
	a = filter_fnv(a, msg, len);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a,
		 (unsigned long long)filter_mix(b));
}

/* Postfix's queue id when it is one ([0-9A-Za-z], as Postfix makes them),
   else "-". */
static const char *filter_qid(const struct filter_envelope *env)
{
	const char *p;

	if (env->queue_id == NULL || *env->queue_id == '\0' ||
	    strlen(env->queue_id) > 32)
		return "-";
	for (p = env->queue_id; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= 'a' && *p <= 'z')))
			return "-";
	}
	return env->queue_id;
}

/* ---- replies ---- */

static void filter_reply_all(struct filter_job *job, int code, const char *text)
{
	size_t i;

	for (i = 0; i < job->env->rcpt_count; i++)
		filter_reply_set(&job->replies[i], code, "%s", text);
}

static void filter_tempfail(struct filter_job *job, const char *text,
			    const char *why)
{
	char *clean = om_sanitize(why, 300);

	om_log_error("%s: %s: %s (%s)", job->qid, text, clean, job->inline_path ?
		     "the client is told to try again" : "Postfix keeps it and retries");
	free(clean);
	filter_reply_all(job, 451, text);
}

/* ---- the store and the spool ---- */

static int filter_store(struct filter_worker *w, char **error_r)
{
	const struct om_config *config = w->daemon->config;

	if (w->store != NULL)
		return 0;
	return om_store_open(config->store_path, 0, config->store_busy_timeout_ms,
			     &w->store, error_r);
}

/* Forgets records older than filter_retention, once an hour per worker. */
static void filter_expire(struct filter_worker *w)
{
	long long now = (long long)time(NULL);
	char *error = NULL;
	int n;

	if (now - w->last_expire < FILTER_EXPIRE_INTERVAL)
		return;
	w->last_expire = now;
	n = om_store_outbound_expire(w->store, now - w->daemon->config->filter_retention * 86400,
				     &error);
	if (n < 0) {
		om_log_warn("forgetting old outbound records: %s", error);
		free(error);
	} else if (n > 0) {
		om_log_info("forgot %d outbound records older than %ld days", n,
			    w->daemon->config->filter_retention);
	}
}

/* ---- the exactly-once records in the spool ---- */

/* The record of a refusal: filter_spool/KEY.refused holds "CODE text",
   fsync'd (file and directory), so that a retry gets the same answer
   without a second scan or a second alert to the administrator. */
static void filter_refused_write(struct filter_job *job, int code, const char *text)
{
	struct filter_daemon *d = job->w->daemon;
	char name[sizeof(job->spool_name) + 16], *line = om_asprintf("%d %s", code, text);
	int fd, saved = 0;

	snprintf(name, sizeof(name), "%s%s", job->spool_name, FILTER_REFUSED_SUFFIX);
	fd = openat(d->spool_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0 || om_write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0 ||
	    fsync(d->spool_fd) < 0)
		saved = errno;
	if (fd >= 0 && close(fd) < 0 && saved == 0)
		saved = errno;
	if (saved != 0)
		om_log_error("%s: recording the refusal in %s: %s (a retry checks "
			     "it again)", job->qid, name, strerror(saved));
	free(line);
}

/* 1 with *code_r and *text_r (allocated) if the message was refused
   before, 0 if not. */
static int filter_refused_read(struct filter_job *job, int *code_r, char **text_r)
{
	char name[sizeof(job->spool_name) + 16], buf[600];
	ssize_t n;
	long code;
	int fd;

	snprintf(name, sizeof(name), "%s%s", job->spool_name, FILTER_REFUSED_SUFFIX);
	fd = openat(job->w->daemon->spool_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n < 5)
		return 0;
	buf[n] = '\0';
	buf[3] = '\0';
	if (om_parse_long(buf, 500, 599, &code) < 0)
		code = 554;
	*code_r = (int)code;
	*text_r = om_strdup(buf[4] != '\0' ? buf + 4 : "5.7.1 Message refused");
	return 1;
}

int filter_attempt_id(char *out)
{
	unsigned char r[OM_DEDUP_ATTEMPT_LEN / 2];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* The length of the header field starting at p (with its continuation
   lines), in msg up to end. */
static size_t filter_field_len(const char *p, const char *end)
{
	const char *q = p, *nl;

	for (;;) {
		nl = memchr(q, '\n', (size_t)(end - q));
		if (nl == NULL)
			return (size_t)(end - p);
		q = nl + 1;
		if (q >= end || (*q != ' ' && *q != '\t'))
			return (size_t)(q - p);
	}
}

/* 1 if the field at p is named name. */
static int filter_is_field(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);
	const char *q = p + n;

	if ((size_t)(end - p) <= n || strncasecmp(p, name, n) != 0)
		return 0;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	return q < end && *q == ':';
}

/* The value of the field at p (n bytes), unfolded and trimmed
   (allocated). */
static char *filter_field_value(const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n), *end = p + n;
	struct om_buf b;

	om_buf_init(&b);
	for (p = colon + 1; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if ((*p == ' ' || *p == '\t') && (b.len == 0 || b.data[b.len - 1] == ' '))
			continue;
		om_buf_append(&b, *p == '\t' ? " " : p, 1);
	}
	while (b.len > 0 && b.data[b.len - 1] == ' ')
		b.len--;
	om_buf_append(&b, "", 0);
	return om_buf_steal(&b, NULL);
}

/* Takes every field named name out of what goes out (job->msg); the
   first one's value into *first_r (allocated) when first_r is not NULL.
   1 if there was one, else 0. */
static int filter_take_field(struct filter_job *job, const char *name, char **first_r)
{
	const char *p = job->msg, *end = job->msg + job->len;
	struct om_buf out;
	size_t n;
	int found = 0;

	if (first_r != NULL)
		*first_r = NULL;
	for (; p < end && *p != '\n' && *p != '\r'; p += n) {
		n = filter_field_len(p, end);
		if (filter_is_field(p, end, name)) {
			found = 1;
			break;
		}
	}
	if (!found)
		return 0;
	om_buf_init(&out);
	om_buf_reserve(&out, job->len);
	for (p = job->msg; p < end && *p != '\n' && *p != '\r'; p += n) {
		n = filter_field_len(p, end);
		if (!filter_is_field(p, end, name))
			om_buf_append(&out, p, n);
		else if (first_r != NULL && *first_r == NULL)
			*first_r = filter_field_value(p, n);
	}
	om_buf_append(&out, p, (size_t)(end - p));
	om_buf_free(&job->rewrite);
	job->rewrite = out;
	job->msg = job->rewrite.data;
	job->len = job->rewrite.len;
	return 1;
}

/* The sender's own X-Omamori-Out-Id fields are not the filter's: taken
   out of what goes out, so the only one the milter sees is the one the
   filter puts first. */
static void filter_strip_out_id(struct filter_job *job)
{
	if (filter_take_field(job, OM_DEDUP_HEADER, NULL))
		om_log_info("%s: the sender's %s field removed", job->qid, OM_DEDUP_HEADER);
}

/* The records' suffixes the hourly sweep forgets after filter_retention
   days (their mtime: when they were made). */
static int filter_spool_expirable(const char *name)
{
	static const char *const suffixes[] = { OM_DEDUP_MARK_SUFFIX,
		FILTER_REFUSED_SUFFIX };
	size_t i, n = strlen(name), k;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		k = strlen(suffixes[i]);
		if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/* 1 for the before-queue path's kept ZIP password (sub-HASH.zip-password):
   no message in the spool says when it is done, so a day. */
static int filter_inline_password(const char *name)
{
	size_t n = strlen(name), k = strlen(FILTER_ZIP_PASSWORD_SUFFIX);

	return strncmp(name, FILTER_INLINE_PREFIX, strlen(FILTER_INLINE_PREFIX)) == 0 &&
		n > k && strcmp(name + n - k, FILTER_ZIP_PASSWORD_SUFFIX) == 0;
}

void filter_spool_expire(struct filter_daemon *d)
{
	time_t before = time(NULL) - (time_t)d->config->filter_retention * 86400;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd = dup(d->spool_fd), n = 0;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		om_log_warn("forgetting old outbound records: %s", strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (filter_inline_password(de->d_name)) {
			if (fstatat(d->spool_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    st.st_mtime >= time(NULL) - FILTER_INLINE_PASSWORD_SECONDS)
				continue;
		} else if (!filter_spool_expirable(de->d_name) ||
			   fstatat(d->spool_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			   st.st_mtime >= before) {
			continue;
		}
		if (unlinkat(d->spool_fd, de->d_name, 0) < 0)
			om_log_warn("forgetting %s: %s", de->d_name, strerror(errno));
		else
			n++;
	}
	(void)closedir(dir);
	if (n > 0)
		om_log_info("forgot %d outbound records older than %ld days", n,
			    d->config->filter_retention);
}

/* ---- settings ---- */

static int filter_sub_on(struct om_store *store, const char *mailbox,
			 const char *feature, int *on_r, char **error_r)
{
	enum om_sub_state state;
	const char *source;

	if (om_settings_subscription(store, mailbox, feature, &state, &source,
				     error_r) < 0)
		return -1;
	*on_r = state == OM_SUB_ON;
	return 0;
}

static int filter_plan_for(struct om_store *store, const char *mailbox,
			   struct filter_plan *plan, char **error_r)
{
	char *value;

	memset(plan, 0, sizeof(*plan));
	if (*mailbox == '\0')
		return 0;	/* a bounce: nobody's subscription */
	if (filter_sub_on(store, mailbox, OM_FEATURE_OUTBOUND_VIRUS, &plan->virus, error_r) < 0 ||
	    filter_sub_on(store, mailbox, OM_FEATURE_OUTBOUND_BCC, &plan->bcc, error_r) < 0 ||
	    filter_sub_on(store, mailbox, OM_FEATURE_OUTBOUND_HOLD, &plan->hold, error_r) < 0 ||
	    filter_sub_on(store, mailbox, OM_FEATURE_OUTBOUND_SPAM, &plan->spam, error_r) < 0)
		return -1;
	if (plan->virus) {
		value = om_settings_domain_value(store, mailbox, OM_SETTING_OUTBOUND_VIRUS_ACTION,
						 OM_DEFAULT_OUTBOUND_VIRUS_ACTION, error_r);
		if (value == NULL)
			return -1;
		plan->block = strcmp(value, "block") == 0;
		free(value);
	}
	if (plan->bcc) {
		value = om_settings_domain_value(store, mailbox, OM_SETTING_BCC_THRESHOLD,
						 "", error_r);
		if (value == NULL)
			return -1;
		plan->bcc_threshold = om_settings_number(value, OM_DEFAULT_BCC_THRESHOLD);
		free(value);
		value = om_settings_domain_value(store, mailbox, OM_SETTING_BCC_NOTIFY,
						 OM_DEFAULT_BCC_NOTIFY, error_r);
		if (value == NULL)
			return -1;
		plan->bcc_notify = strcmp(value, "on") == 0;
		free(value);
	}
	return 0;
}

/* ---- notices of the filter's own ---- */

char *filter_notice_from(const struct om_config *config, const char *address)
{
	const char *at = strrchr(address, '@');

	if (strchr(config->notice_from, '@') != NULL || at == NULL)
		return om_strdup(config->notice_from);
	return om_asprintf("%s%s", config->notice_from, at);
}

/* The decoded, sanitised Subject of the message ("" when none). */
char *filter_subject(const char *msg, size_t len)
{
	struct om_mime_msg *mime;
	char *error = NULL, *raw, *subject;

	mime = om_mime_parse(msg, len, &error);
	if (mime == NULL) {
		free(error);
		return om_strdup("");
	}
	raw = om_mime_header_decoded(mime, "Subject");
	subject = om_sanitize(raw != NULL ? raw : "", FILTER_NOTICE_TEXT_MAX);
	free(raw);
	om_mime_free(&mime);
	return subject;
}

/* "  - item" lines of the envelope's recipients (at most
   FILTER_NOTICE_LIST_MAX named). */
static char *filter_rcpt_lines(const struct filter_envelope *env)
{
	struct om_buf b;
	char *clean;
	size_t i;

	om_buf_init(&b);
	for (i = 0; i < env->rcpt_count && i < FILTER_NOTICE_LIST_MAX; i++) {
		clean = om_sanitize(env->rcpts[i], FILTER_NOTICE_TEXT_MAX);
		om_buf_printf(&b, "%s  - %s", i > 0 ? "\n" : "", clean);
		free(clean);
	}
	if (env->rcpt_count > FILTER_NOTICE_LIST_MAX)
		om_buf_printf(&b, "\n  ... (%zu)", env->rcpt_count);
	if (b.data == NULL)
		om_buf_append_str(&b, "");
	return b.data;
}

/* Renders templates/<lang>/name.txt (brand footer) for rcpt, the
   language of mailbox's domain, with the extra headers, into out.
   0 or -1 with *error_r. */
static int filter_notice_build(struct filter_job *job, const char *mailbox,
			       const char *name, const struct om_notify_var *vars,
			       const char *rcpt, const char *headers,
			       struct om_buf *out, char **error_r)
{
	const struct om_config *config = job->w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	char *lang, *text = NULL, *from;
	const char *subject, *body;
	int ret = -1;

	lang = om_settings_domain_value(job->w->store, mailbox, "language",
					config->default_language, error_r);
	if (lang == NULL)
		return -1;
	text = om_notify_render_branded(config->templates_dir, lang, name, vars, &brand,
					error_r);
	from = filter_notice_from(config, mailbox);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subject, &body) < 0) {
		*error_r = om_asprintf("templates %s.txt: no Subject line", name);
	} else if (strpbrk(rcpt, " \t\r\n<>") != NULL || strpbrk(from, " \t\r\n<>") != NULL) {
		*error_r = om_strdup("an address cannot stand in a header");
	} else {
		om_buf_append_str(out, headers);
		om_mime_build_text_mail(from, rcpt, subject, body, out);
		ret = 0;
	}
	free(from);
	free(text);
	free(lang);
	return ret;
}

/* Re-injects a notice from <> to rcpt; 0 accepted, -1 not (*error_r). */
static int filter_notice_send(const char *rcpt, const struct om_buf *mail,
			      const struct om_config *config, char **error_r)
{
	char *why = NULL;
	int ret = filter_smtp_notice(config->filter_reinject, FILTER_REINJECT_TIMEOUT_MS,
				     rcpt, mail, NULL, &why);

	if (ret == 1)
		return 0;
	*error_r = ret == 0 ? om_asprintf("refused: %s", why) : why;
	if (ret == 0)
		free(why);
	return -1;
}

/* ---- outbound virus ---- */

/* ASCII for an SMTP reply: anything else becomes '?'. */
static char *filter_ascii(const char *s, size_t max)
{
	const char *src = s != NULL ? s : "";
	char *out = om_strndup(src, strnlen(src, max)), *p;

	for (p = out; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	}
	return out;
}

/* "virus NAME found in FILE", from the first infected part. */
static char *filter_virus_text(const struct om_scan_result *res)
{
	const char *file = "the message body";
	char *name, *where, *text;
	size_t i;

	for (i = 0; i < res->part_count; i++) {
		if (res->parts[i].verdict == OM_VERDICT_VIRUS) {
			if (res->parts[i].filename != NULL)
				file = res->parts[i].filename;
			break;
		}
	}
	name = filter_ascii(res->virus != NULL ? res->virus : "unknown", 100);
	where = filter_ascii(file, 100);
	text = om_asprintf("virus %s found in %s", name, where);
	free(name);
	free(where);
	return text;
}

/* What omamori did with an infected outbound message, for the alert. */
enum filter_virus_outcome {
	FILTER_VIRUS_STRIPPED,	/* the infected parts out, the rest sent */
	FILTER_VIRUS_REPLACED,	/* the whole message replaced by a notice */
	FILTER_VIRUS_REFUSED,	/* bounced to the sender */
};

/* The outcome in the alert's language: a short phrase each, like scand's
   report results (shared/scan/scan.c). */
static const char *filter_virus_outcome_text(enum filter_virus_outcome what,
					     const char *lang)
{
	int ja = strcmp(lang, "en") != 0;

	switch (what) {
	case FILTER_VIRUS_REFUSED:
		return ja ? "送信を拒否しました。メールは送信されず、送信者にエラー（バウンス）で理由を返しました。" :
			"refused: the mail was not sent, and the sender got it back as a bounce with the reason.";
	case FILTER_VIRUS_REPLACED:
		return ja ? "本文が感染していたため、メール全体を削除し、受信者にはその旨の通知だけを送信しました。" :
			"the message body was infected: the whole message was removed and the recipients got only a notice.";
	case FILTER_VIRUS_STRIPPED:
		break;
	}
	return ja ? "感染した部分を削除し、削除したことを知らせる注記を付けて、残りを受信者に送信しました。" :
		"the infected parts were removed and the rest was sent to the recipients, with a notice saying so.";
}

/* "  - VIRUS (FILE)" lines of the infected parts. */
static char *filter_virus_lines(const struct om_scan_result *res)
{
	struct om_buf b;
	char *name, *file;
	size_t i, n = 0;

	om_buf_init(&b);
	for (i = 0; i < res->part_count && n < FILTER_NOTICE_LIST_MAX; i++) {
		if (res->parts[i].verdict != OM_VERDICT_VIRUS)
			continue;
		name = om_sanitize(res->parts[i].virus != NULL ? res->parts[i].virus :
				   res->virus != NULL ? res->virus : "?", FILTER_NOTICE_TEXT_MAX);
		file = om_sanitize(res->parts[i].filename != NULL ? res->parts[i].filename :
				   "(message body)", FILTER_NOTICE_TEXT_MAX);
		om_buf_printf(&b, "%s  - %s (%s)", n > 0 ? "\n" : "", name, file);
		free(name);
		free(file);
		n++;
	}
	if (n == 0) {
		name = om_sanitize(res->virus != NULL ? res->virus : "?", FILTER_NOTICE_TEXT_MAX);
		om_buf_printf(&b, "  - %s", name);
		free(name);
	}
	return b.data;
}

char *filter_report_seal_header(struct om_store *store, const char *to,
				const char *tag)
{
	unsigned char key[OM_REPORT_KEY_LEN];
	char *error = NULL, *seal, *header;

	if (om_store_secret(store, OM_REPORT_KEY_NAME, key, sizeof(key), &error) < 0) {
		om_log_warn("%s: alert: no report key (%s): not sealed", tag, error);
		free(error);
		return om_strdup("");
	}
	seal = om_report_seal(key, to, time(NULL));
	explicit_bzero(key, sizeof(key));
	if (seal == NULL)
		return om_strdup("");
	header = om_asprintf("%s: %s\n", OM_REPORT_HEADER, seal);
	free(seal);
	return header;
}

/* The administrator's alert (virus-admin-copy: scand says where) in
   outbound wording (templates/<lang>/outbound-virus-alert.txt): which
   authenticated user of the domain sent what to whom, and what omamori
   did.  From the null sender, sealed (crypto/report.h) so that the
   administrator's own spam check lets it through.  0 sent (or none to
   send), -1 not sent. */
static int filter_admin_alert(struct filter_job *job, const struct om_scan_result *res,
			      enum filter_virus_outcome what)
{
	const struct om_config *config = job->w->daemon->config;
	char *error = NULL, *lang, *date, *sender, *rcpts, *subject, *viruses, *seal,
		*headers;
	struct om_buf mail;
	int ret = -1;

	if (res->admin_address == NULL)
		return 0;
	lang = om_settings_domain_value(job->w->store, job->env->sender, "language",
					config->default_language, &error);
	if (lang == NULL) {
		om_log_error("%s: admin alert: %s", job->qid, error);
		free(error);
		return -1;
	}
	seal = filter_report_seal_header(job->w->store, res->admin_address, job->qid);
	headers = om_asprintf("Auto-Submitted: auto-generated\nX-Omamori-Notice: "
			      "outbound-virus\n%s", seal);
	date = om_notify_time_text(time(NULL));
	sender = om_sanitize(job->env->sender, FILTER_NOTICE_TEXT_MAX);
	rcpts = filter_rcpt_lines(job->env);
	subject = filter_subject(job->msg, job->len);
	viruses = filter_virus_lines(res);
	om_buf_init(&mail);
	{
		struct om_notify_var vars[] = {
			{ "date", date }, { "sender", sender }, { "recipients", rcpts },
			{ "subject", subject }, { "viruses", viruses },
			{ "action", filter_virus_outcome_text(what, lang) },
			{ NULL, NULL }
		};

		if (filter_notice_build(job, job->env->sender, "outbound-virus-alert", vars,
					res->admin_address, headers, &mail, &error) < 0 ||
		    filter_notice_send(res->admin_address, &mail, config, &error) < 0) {
			om_log_error("%s: admin alert to %s: %s", job->qid, res->admin_address,
				     error);
			free(error);
		} else {
			om_log_info("%s: admin alert sent to %s", job->qid, res->admin_address);
			ret = 0;
		}
	}
	om_buf_free(&mail);
	free(viruses);
	free(subject);
	free(rcpts);
	free(sender);
	free(date);
	free(headers);
	free(seal);
	free(lang);
	return ret;
}

/* Refuses the message for good: recorded, then 5xx for every recipient. */
static void filter_refuse(struct filter_job *job, int code, const char *text)
{
	/* before the queue the client hears it (a client does not send a 5xx
	   again); after, a retry of the delivery finds the record */
	char result[16];

	if (!job->inline_path)
		filter_refused_write(job, code, text);
	job->final = 1;
	filter_reply_all(job, code, text);
	snprintf(result, sizeof(result), "%d", code);
	filter_job_trace(job, "refuse", result, text);
}

/* Asks scand; 0 go on (job->msg maybe rewritten), 1 answered (refused or
   tempfailed). */
static int filter_virus(struct filter_job *job, const struct filter_plan *plan)
{
	const struct om_config *config = job->w->daemon->config;
	struct om_scan_request req;
	struct om_scan_result res;
	char *error = NULL, *text, *reply;
	int ret = 1;

	memset(&req, 0, sizeof(req));
	req.session_id = (char *)job->qid;
	req.mailbox = job->env->sender;
	req.direction = OM_DIRECTION_OUT;
	req.mail_from = job->env->sender;
	req.checks = OM_CHECK_VIRUS;
	req.rcpts = job->env->rcpts;
	req.rcpt_count = job->env->rcpt_count;
	req.message = job->msg;
	req.message_len = job->len;
	if (om_scand_scan(config->scand_socket, (int)config->scan_timeout_ms, &req,
			  &res, &error) < 0) {
		filter_tempfail(job, "4.7.1 outbound virus check unavailable, try again later",
				error);
		free(error);
		return 1;
	}
	switch (res.verdict) {
	case OM_VERDICT_CLEAN:
		ret = 0;
		break;
	case OM_VERDICT_VIRUS:
		text = filter_virus_text(&res);
		job->log_virus = om_strdup(text);
		if (filter_admin_alert(job, &res, plan->block ? FILTER_VIRUS_REFUSED :
				       res.action == OM_ACTION_REPLACE ? FILTER_VIRUS_REPLACED :
				       FILTER_VIRUS_STRIPPED) < 0) {
			filter_tempfail(job, "4.3.0 virus alert to the administrator not sent",
					text);
		} else if (plan->block) {
			reply = om_asprintf("5.7.1 Message refused: %s", text);
			filter_refuse(job, 554, reply);
			free(reply);
		} else if (res.message != NULL &&
			   (res.action == OM_ACTION_STRIP || res.action == OM_ACTION_REPLACE)) {
			om_buf_reset(&job->rewrite);
			om_buf_append(&job->rewrite, res.message, res.message_len);
			job->msg = job->rewrite.data;
			job->len = job->rewrite.len;
			ret = 0;
		} else {
			filter_tempfail(job, "4.3.0 infected message without a rewrite", text);
		}
		free(text);
		break;
	case OM_VERDICT_UNSCANNED:
		if (res.action == OM_ACTION_DELIVER) {
			ret = 0;	/* scan_limit_action = deliver: the admin's choice */
			break;
		}
		text = filter_ascii(res.reason != NULL ? res.reason : "unknown", 120);
		reply = om_asprintf("5.7.1 Message could not be checked for viruses (%s)", text);
		filter_refuse(job, 554, reply);
		free(reply);
		free(text);
		break;
	case OM_VERDICT_SPAM:
	case OM_VERDICT_NONE:
		filter_tempfail(job, "4.3.0 unexpected answer of the virus check",
				"verdict spam or none for a virus-only check");
		break;
	}
	om_scan_result_free(&res);
	return ret;
}

/* ---- forced Bcc ---- */

static void filter_bcc(struct filter_job *job, const struct filter_plan *plan)
{
	struct om_buf out;
	size_t n = om_recipients_visible(job->msg, job->len);

	if (n < (size_t)plan->bcc_threshold)
		return;
	om_buf_init(&out);
	om_recipients_hide(job->msg, job->len, &out);
	om_buf_free(&job->rewrite);
	job->rewrite = out;
	job->msg = job->rewrite.data;
	job->len = job->rewrite.len;
	job->bcc_applied = (int)n;
}

/* The sender's notice that the To/Cc list was hidden (bcc-notify on),
   after the message went out: a failure is logged, the mail stands (no
   tempfail: a retry would send nothing new but could repeat the notice). */
static void filter_bcc_notice(struct filter_job *job)
{
	char *error = NULL, *date, *subject, count[24];
	struct om_buf mail;
	size_t i;
	int accepted = 0;

	for (i = 0; i < job->env->rcpt_count; i++)
		accepted |= job->replies[i].code == 250;
	if (!accepted)
		return;
	snprintf(count, sizeof(count), "%d", job->bcc_applied);
	date = om_notify_time_text(time(NULL));
	subject = filter_subject(job->msg, job->len);
	om_buf_init(&mail);
	{
		struct om_notify_var vars[] = {
			{ "date", date }, { "subject", subject }, { "count", count },
			{ NULL, NULL }
		};

		if (filter_notice_build(job, job->env->sender, "bcc-notice", vars,
					job->env->sender, "Auto-Submitted: auto-generated\n"
					"X-Omamori-Notice: bcc\n", &mail, &error) < 0 ||
		    filter_notice_send(job->env->sender, &mail, job->w->daemon->config,
				       &error) < 0) {
			om_log_error("%s: bcc notice to <%s> not sent (the mail went out): %s",
				     job->qid, job->env->sender, error);
			free(error);
		} else {
			om_log_info("%s: bcc notice sent to <%s> (%s addresses hidden)",
				    job->qid, job->env->sender, count);
		}
	}
	om_buf_free(&mail);
	free(subject);
	free(date);
}

/* ---- ZIP of the attachments (filter-zip.c) ---- */

/* 0 go on (job->msg maybe rewritten), 1 answered (tempfailed). */
static int filter_deliver_zip(struct filter_job *job)
{
	struct om_buf out;
	char *error = NULL;
	int ret;

	om_buf_init(&out);
	ret = filter_zip(job->w, job->env, job->qid, job->spool_name, job->msg,
			 job->len, &out, &error);
	if (ret < 0) {
		om_buf_free(&out);
		filter_tempfail(job, "4.3.0 attachment encryption failed", error);
		free(error);
		return 1;
	}
	if (ret > 0) {
		filter_job_trace(job, "zip", "zipped", "attachments in an AES-256 ZIP");
		om_buf_free(&job->rewrite);
		job->rewrite = out;
		job->msg = job->rewrite.data;
		job->len = job->rewrite.len;
	} else {
		om_buf_free(&out);
	}
	return 0;
}

/* ---- re-injection ---- */

/* After the end of DATA: what the milter's mark says about this attempt.
   250 and our mark: queued now.  250 and an earlier attempt's mark: this
   copy was discarded, the earlier one is in Postfix.  Refused: our mark
   (made before cleanup failed) is taken back, so that the retry is not
   mistaken for a duplicate.  No answer: the mark stays - Postfix most
   likely has the copy (doc/outbound.md: the residual). */
static const char *filter_sent_outcome(struct filter_job *job, const char *attempt,
				       const struct filter_smtp_result *res,
				       struct om_dedup_mark *mark)
{
	int d = job->w->daemon->spool_fd, ret;

	if (res->final_code != 250) {
		if (res->final_code != 0 &&
		    om_dedup_mark_clear(d, job->spool_name, attempt) < 0)
			om_log_error("%s: taking back the mark of %s: %s", job->qid,
				     job->spool_name, strerror(errno));
		return "";
	}
	ret = om_dedup_mark_read(d, job->spool_name, mark);
	if (ret < 0) {
		om_log_error("%s: reading the mark of %s: %s", job->qid,
			     job->spool_name, strerror(errno));
		return "sent as ";
	}
	if (ret == 0) {
		om_log_error("%s: Postfix took %s without the omamori-dedup milter's "
			     "mark: is smtpd_milters=unix:omamori/dedup set on "
			     "omamori-reinject? (a crash could now send it twice)",
			     job->qid, job->spool_name);
		return "sent as ";
	}
	if (strcmp(mark->attempt, attempt) != 0)
		return "already queued before as ";
	return "sent as ";
}

static void filter_send(struct filter_job *job)
{
	const struct filter_envelope *env = job->env;
	struct filter_smtp_result res;
	struct filter_smtp_msg m;
	struct om_dedup_mark mark;
	char attempt[OM_DEDUP_ATTEMPT_LEN + 1], *header, *error = NULL;
	const char *outcome, *qid;
	size_t i;

	if (filter_attempt_id(attempt) < 0) {
		filter_tempfail(job, "4.3.0 internal error", "getrandom failed");
		return;
	}
	header = om_asprintf("%s: %s %s\n", OM_DEDUP_HEADER, job->spool_name, attempt);
	memset(&m, 0, sizeof(m));
	m.sender = env->sender;
	m.rcpts = env->rcpts;
	m.rcpt_count = env->rcpt_count;
	m.xforward = env->xforward;
	m.body_8bit = env->body_8bit;
	m.smtputf8 = env->smtputf8;
	m.header = header;
	m.msg = job->msg;
	m.len = job->len;
	if (filter_smtp_send_cached(&job->w->reinject, job->w->daemon->config->filter_reinject,
				    FILTER_REINJECT_TIMEOUT_MS, &m, job->replies, &res,
				    &error) < 0) {
		filter_tempfail(job, "4.4.0 re-injection into Postfix failed", error);
		free(error);
		free(header);
		return;
	}
	free(header);
	memset(&mark, 0, sizeof(mark));
	outcome = filter_sent_outcome(job, attempt, &res, &mark);
	qid = *mark.queue_id != '\0' ? mark.queue_id :
		res.queue_id != NULL ? res.queue_id : "?";
	for (i = 0; i < env->rcpt_count; i++) {
		if (job->replies[i].code != 250 || res.final_code == 0)
			continue;	/* the recipient's own refusal */
		if (res.final_code == 250)
			filter_reply_set(&job->replies[i], 250, "2.0.0 Ok: %s%s",
					 outcome, qid);
		else
			filter_reply_set(&job->replies[i], res.final_code, "%s",
					 res.final_text != NULL ? res.final_text : "");
	}
	if (res.final_code == 250 || (res.final_code >= 500 && res.final_code < 600))
		job->final = 1;
	{
		char code[16], *detail;

		snprintf(code, sizeof(code), "%d", res.final_code);
		detail = res.final_code == 250 ?
			om_asprintf("%s%s (%zu recipients)", outcome, qid, env->rcpt_count) :
			om_strdup(res.final_text != NULL ? res.final_text : "");
		filter_job_trace(job, "send", res.final_code == 250 ? "sent" : code, detail);
		free(detail);
	}
	om_log_info("%s: from=<%s> nrcpt=%zu size=%zu virus=\"%s\" bcc=%d result=%d %s%s",
		    job->qid, env->sender, env->rcpt_count, job->len,
		    job->log_virus != NULL ? job->log_virus : "-", job->bcc_applied,
		    res.final_code, outcome, res.final_code == 250 ? qid : "");
	filter_smtp_result_free(&res);
}

/* ---- outbound-hold ---- */

/* The message is held for some recipients (filter-hold.c): the others
   are sent now, and the held ones hear 250 "held". */
static void filter_send_unheld(struct filter_job *job, const unsigned char *held,
			       const char *hold_id)
{
	const struct filter_envelope *env = job->env;
	struct filter_envelope now = *env;
	struct filter_reply *all = job->replies, *some;
	size_t i, n = 0;

	now.rcpts = om_calloc(env->rcpt_count, sizeof(*now.rcpts));
	some = om_calloc(env->rcpt_count, sizeof(*some));
	for (i = 0; i < env->rcpt_count; i++) {
		if (!held[i])
			now.rcpts[n++] = env->rcpts[i];
	}
	now.rcpt_count = n;
	if (n > 0) {
		job->env = &now;
		job->replies = some;
		filter_send(job);
		job->env = env;
		job->replies = all;
	} else {
		/* nothing goes now: the hold is the message's outcome (a retry
		   finds the hold's row and does not hold twice) */
		job->final = 1;
	}
	for (i = 0, n = 0; i < env->rcpt_count; i++) {
		if (held[i]) {
			filter_reply_set(&all[i], 250, "2.0.0 Ok: held as %s", hold_id);
		} else {
			filter_reply_set(&all[i], some[n].code, "%s",
					 some[n].text != NULL ? some[n].text : "");
			free(some[n].text);
			n++;
		}
	}
	free(some);
	free(now.rcpts);
}

/* ---- for the administrator: outbound spam, the brake ---- */

/* 0 go on (job->admin_kind set when spam), 1 answered (tempfailed). */
static int filter_deliver_spam(struct filter_job *job)
{
	char *error = NULL;
	int ret;

	ret = filter_spam_check(job->w, job->env, job->qid, job->msg, job->len,
				&job->admin_details, &error);
	if (ret < 0) {
		filter_tempfail(job, "4.7.1 outbound spam check unavailable, try again later",
				error);
		free(error);
		return 1;
	}
	if (ret > 0)
		job->admin_kind = OM_HOLD_KIND_SPAM;
	return 0;
}

/* A message from the brake socket: 0 go on (held unless lifted since),
   1 answered (tempfailed). */
static int filter_deliver_braked(struct filter_job *job)
{
	char *error = NULL;
	int ret;

	ret = filter_brake_holds(job->w, job->env->sender, &job->admin_details, &error);
	if (ret < 0) {
		filter_tempfail(job, "4.3.0 brake state unavailable", error);
		free(error);
		return 1;
	}
	if (ret > 0)
		job->admin_kind = OM_HOLD_KIND_BRAKE;
	else
		om_log_info("%s: from=<%s>: its brake was lifted since: handled as "
			    "usual", job->qid, job->env->sender);
	return 0;
}

/* Holds the whole message for the administrator (no notice to the
   sender, who hears the usual 250), then the administrator's alert. */
static void filter_deliver_admin(struct filter_job *job)
{
	unsigned char *held = om_calloc(job->env->rcpt_count + 1, 1);
	char *error = NULL, *id = NULL;
	int notified = 0;

	if (filter_hold_admin(job->w, job->env, job->msg, job->len, job->qid, job->hold_id,
			      job->admin_kind, job->admin_details, !job->zipped, &id,
			      &notified, &error) < 0) {
		filter_tempfail(job, "4.3.0 outbound hold unavailable", error);
		free(error);
		free(held);
		return;
	}
	if (strcmp(job->admin_kind, OM_HOLD_KIND_BRAKE) == 0) {
		filter_brake_alert(job->w, job->env, id);
	} else if (!notified &&
		   (strcmp(job->admin_kind, OM_HOLD_KIND_AUDIT) == 0 ?
		    filter_audit_alert(job->w, job->env, &job->audit, id, job->msg,
				       job->len) :
		    filter_spam_alert(job->w, job->env, id, job->admin_details, job->msg,
				      job->len)) > 0 &&
		   om_store_hold_notified(job->w->store, id, &error) < 0) {
		om_log_warn("hold %s: marking the alert sent: %s", id, error);
		om_free(&error);
	}
	{
		const char *why = job->admin_details != NULL ? job->admin_details : "";
		char *detail = om_asprintf("for the administrator, id %s%s%s", id,
					   *why != '\0' ? "; " : "", why);

		filter_job_trace(job, "hold", job->admin_kind, detail);
		free(detail);
	}
	memset(held, 1, job->env->rcpt_count);
	filter_send_unheld(job, held, id);
	free(id);
	free(held);
}

/* The sender's domain's audit rules (filter-audit.c): 0 go on (a hold
   for the administrator in job->admin_kind; the rules' header fields
   added), 1 answered (deleted, or tempfailed). */
static int filter_deliver_audit(struct filter_job *job)
{
	struct om_buf out;
	char *error = NULL, *reply;
	int ret;

	ret = filter_audit_check(job->w, job->env, job->qid, job->msg, job->len,
				 &job->audit, &error);
	if (ret < 0) {
		filter_tempfail(job, "4.3.0 audit rules unavailable, try again later", error);
		free(error);
		return 1;
	}
	if (ret == 0)
		return 0;
	if (job->audit.verdict == OM_AUDIT_DELETE) {
		if (job->audit.notify)
			(void)filter_audit_alert(job->w, job->env, &job->audit, NULL,
						 job->msg, job->len);
		/* recorded as an answer for good: a retry does not run the
		   rules (nor tell the administrator) again */
		reply = om_asprintf("2.0.0 Ok: deleted by audit rule %d", job->audit.fired);
		filter_job_trace(job, "audit", "delete", reply + 10);
		filter_refuse(job, 250, reply);
		free(reply);
		return 1;
	}
	if (job->audit.headers != NULL) {
		om_buf_init(&out);
		om_buf_append_str(&out, job->audit.headers);
		om_buf_append(&out, job->msg, job->len);
		om_buf_free(&job->rewrite);
		job->rewrite = out;
		job->msg = job->rewrite.data;
		job->len = job->rewrite.len;
	}
	if (job->audit.verdict == OM_AUDIT_HOLD) {
		filter_job_trace(job, "audit", "hold", job->audit.summary);
		job->admin_kind = OM_HOLD_KIND_AUDIT;
		job->admin_details = om_strdup(job->audit.summary);
	} else if (job->audit.notify) {
		/* told before it goes out; a failure is logged, the mail goes */
		(void)filter_audit_alert(job->w, job->env, &job->audit, NULL, job->msg,
					 job->len);
	}
	return 0;
}

/* ---- one message ---- */

/* Looks for an earlier attempt's outcome: 0 go on, 1 answered (sent or
   refused before, or an internal error).  No store write, no fsync: the
   records are the milter's mark (KEY.queued) and KEY.refused. */
static int filter_claim(struct filter_job *job)
{
	struct om_dedup_mark mark;
	char *text = NULL, *error = NULL, *reply;
	int code, ret;

	if (filter_store(job->w, &error) < 0) {
		filter_tempfail(job, "4.3.0 outbound store unavailable", error);
		free(error);
		return 1;
	}
	filter_expire(job->w);
	ret = om_dedup_mark_read(job->w->daemon->spool_fd, job->spool_name, &mark);
	if (ret < 0) {
		filter_tempfail(job, "4.3.0 outbound spool unavailable", strerror(errno));
		return 1;
	}
	if (ret > 0) {
		om_log_info("%s: already in Postfix as %s (key %s): answered without "
			    "sending again", job->qid, mark.queue_id, job->spool_name);
		reply = om_asprintf("2.0.0 Ok: already queued as %s", mark.queue_id);
		filter_reply_all(job, 250, reply);
		free(reply);
		job->final = 1;
		return 1;
	}
	if (filter_refused_read(job, &code, &text)) {
		om_log_info("%s: refused before (key %s): %d %s", job->qid,
			    job->spool_name, code, text);
		filter_reply_all(job, code, text);
		free(text);
		job->final = 1;
		return 1;
	}
	return 0;
}

/* 0 nothing held (send as usual), 1 held and answered. */
static int filter_deliver_hold(struct filter_job *job)
{
	unsigned char *held = om_calloc(job->env->rcpt_count + 1, 1);
	char *error = NULL, *id = NULL;
	int ret;

	ret = filter_hold(job->w, job->env, job->msg, job->len, job->qid, job->hold_id,
			  held, &id, &error);
	if (ret < 0) {
		filter_tempfail(job, "4.3.0 outbound hold unavailable", error);
		free(error);
	} else if (ret > 0) {
		char *detail = om_asprintf("for the sender's confirmation, id %s", id);

		filter_job_trace(job, "hold", "held", detail);
		free(detail);
		filter_send_unheld(job, held, id);
	}
	free(id);
	free(held);
	return ret != 0;
}

/* The checks omamori-submit made before the queue (filter-seal.c), from
   its seal, which is taken out of the message (a seal not made for this
   message is only taken out: everything is checked here).  When it
   zipped, its key is the hold's id, as it is the ZIP password's. */
static unsigned int filter_read_seal(struct filter_job *job)
{
	char *value = NULL, *key = NULL;
	unsigned int done = 0;

	if (!filter_take_field(job, FILTER_SEAL_HEADER, &value))
		return 0;
	if (value == NULL || strcmp(job->qid, "-") == 0 ||
	    !filter_seal_check(job->w, value, job->qid, job->env->sender, &done, &key)) {
		om_log_warn("%s: from=<%s>: a %s field not made for this message: "
			    "removed, every check made here", job->qid, job->env->sender,
			    FILTER_SEAL_HEADER);
		free(value);
		return 0;
	}
	om_log_info("%s: checked before the queue as %s (%s%s%s): not again", job->qid,
		    key, (done & FILTER_DONE_VIRUS) != 0 ? "virus " : "",
		    (done & FILTER_DONE_BCC) != 0 ? "bcc " : "",
		    (done & FILTER_DONE_ZIP) != 0 ? "zip" : "");
	if ((done & FILTER_DONE_ZIP) != 0)
		snprintf(job->hold_id, sizeof(job->hold_id), "%.*s",
			 (int)(strcspn(key, "-") + 1 + 16), key);
	free(value);
	free(key);
	return done;
}

/* ---- outbound-portal (filter-portal.c) ---- */

/* 0 go on (the message goes to the internal recipients only, when any),
   1 answered: every recipient went to the portal, or tempfailed. */
static int filter_deliver_portal(struct filter_job *job)
{
	unsigned char *portal = om_calloc(job->env->rcpt_count + 1, 1);
	char *error = NULL;
	int ret = filter_portal(job->w, job->env, job->qid, job->spool_name, job->msg,
				job->len, portal, &error);

	if (ret < 0) {
		filter_tempfail(job, "4.3.0 outbound portal unavailable", error);
		free(error);
	} else if (ret > 0) {
		filter_job_trace(job, "portal", "portal",
				 "external recipients get a link to the portal");
		filter_send_unheld(job, portal, "portal");
	}
	free(portal);
	return ret != 0;
}

static int filter_inline_portal(struct filter_job *job)
{
	char *error = NULL;
	int ret = filter_portal_inline_defer(job->w, job->env, &error);

	if (ret != 0)
		filter_tempfail(job, ret < 0 ? "4.3.0 outbound portal unavailable" :
				"4.7.0 outbound portal: try again in a moment", error != NULL ?
				error : "outbound-portal: external recipients are for "
				"omamori-filter, after the queue");
	free(error);
	return ret != 0;
}

void filter_deliver(struct filter_worker *w, const struct filter_envelope *env,
		    const char *msg, size_t len, struct filter_reply *replies)
{
	unsigned int done;
	struct filter_job job;
	struct filter_plan plan;
	char *error = NULL;

	memset(&job, 0, sizeof(job));
	job.w = w;
	job.env = env;
	job.replies = replies;
	job.qid = filter_qid(env);
	job.msg = msg;
	job.len = len;
	om_buf_init(&job.rewrite);
	filter_hash(env, msg, len, job.hash);
	snprintf(job.spool_name, sizeof(job.spool_name), "%s-%s",
		 strcmp(job.qid, "-") == 0 ? "noqid" : job.qid, job.hash);
	snprintf(job.hold_id, sizeof(job.hold_id), "%.*s",
		 (int)(strcspn(job.spool_name, "-") + 1 + 16), job.spool_name);
	if (filter_claim(&job) != 0)
		goto out;
	/* before anything keeps a copy (the hold): the milter must only ever
	   see the filter's own key */
	filter_strip_out_id(&job);
	done = filter_read_seal(&job);
	job.zipped = (done & FILTER_DONE_ZIP) != 0;
	if (filter_plan_for(w->store, env->sender, &plan, &error) < 0) {
		filter_tempfail(&job, "4.3.0 settings unavailable", error);
		free(error);
		goto out;
	}
	if ((done & FILTER_DONE_VIRUS) != 0)
		plan.virus = 0;
	if ((done & FILTER_DONE_BCC) != 0)
		plan.bcc = 0;
	if (plan.virus && filter_virus(&job, &plan) != 0)
		goto out;
	if (plan.spam && filter_deliver_spam(&job) != 0)
		goto out;
	if (w->brake && job.admin_kind == NULL && filter_deliver_braked(&job) != 0)
		goto out;
	if (job.admin_kind == NULL && filter_deliver_audit(&job) != 0)
		goto out;
	if (plan.bcc)
		filter_bcc(&job, &plan);
	/* the administrator's: held as it would go out but for the ZIP (whose
	   password notice would tell the sender) */
	if (job.admin_kind != NULL) {
		filter_deliver_admin(&job);
		goto out;
	}
	if ((done & FILTER_DONE_ZIP) == 0 && filter_deliver_zip(&job) != 0)
		goto out;
	job.zipped = 1;
	/* outbound-portal (filter-portal.c): external recipients get a notice */
	if (filter_deliver_portal(&job) != 0)
		goto out;
	/* the hold keeps what would go out: after the Bcc and the ZIP */
	if (!plan.hold || filter_deliver_hold(&job) == 0)
		filter_send(&job);
	/* told once, when the message is done (sent or held), not per retry */
	if (job.final && job.bcc_applied > 0 && plan.bcc_notify)
		filter_bcc_notice(&job);
out:
	/* the ZIP's password is kept for a retry until the message is done */
	if (job.final)
		filter_zip_forget(w, job.spool_name);
	free(job.log_virus);
	free(job.admin_details);
	filter_audit_free(&job.audit);
	filter_trace_msg_free(&job.trace);
	om_buf_free(&job.rewrite);
}

/* ---- the before-queue path (omamori-submit) ---- */

void filter_inline(struct filter_worker *w, const struct filter_envelope *env,
		   const char *msg, size_t len, struct om_buf *out,
		   struct filter_reply *reply)
{
	struct filter_job job;
	struct filter_plan plan;
	struct filter_reply *replies;
	char *error = NULL, *seal;
	size_t i;
	int audit = 0, txn;

	replies = om_calloc(env->rcpt_count > 0 ? env->rcpt_count : 1, sizeof(*replies));
	memset(&job, 0, sizeof(job));
	job.w = w;
	job.env = env;
	job.replies = replies;
	job.qid = filter_qid(env);
	job.msg = msg;
	job.len = len;
	job.inline_path = 1;
	om_buf_init(&job.rewrite);
	filter_hash_submitted(env, msg, len, job.hash);
	snprintf(job.spool_name, sizeof(job.spool_name), "%s%s", FILTER_INLINE_PREFIX,
		 job.hash);
	if (filter_store(w, &error) < 0) {
		filter_tempfail(&job, "4.3.0 outbound store unavailable", error);
		free(error);
		goto out;
	}
	/* a seal is the checks' own: the sender's is taken out */
	if (filter_take_field(&job, FILTER_SEAL_HEADER, NULL))
		om_log_info("%s: the sender's %s field removed", job.qid, FILTER_SEAL_HEADER);
	/* the settings in one read transaction (one lock, not one per read);
	   the audit rules read the message as the sender wrote it, after the
	   queue: its Bcc and ZIP are left to omamori-filter (doc/outbound.md
	   "One decider") */
	txn = om_store_read_begin(w->store, &error) == 0;
	om_free(&error);
	if (filter_plan_for(w->store, env->sender, &plan, &error) < 0 ||
	    filter_sub_on(w->store, env->sender, OM_FEATURE_OUTBOUND_AUDIT, &audit,
			  &error) < 0) {
		if (txn)
			om_store_read_end(w->store);
		filter_tempfail(&job, "4.3.0 settings unavailable", error);
		free(error);
		goto out;
	}
	if (txn)
		om_store_read_end(w->store);
	/* outbound-portal: the milter cannot take recipients out; policyd
	   routes such mail after the queue (omamori-submit then leaves it to
	   omamori-filter, unsealed), a stale snapshot tempfails; asked first,
	   so that nothing (a scan, an alert, a notice) is done twice */
	if (filter_inline_portal(&job) != 0)
		goto out;
	if (audit)
		plan.bcc = 0;
	if (plan.virus && filter_virus(&job, &plan) != 0)
		goto out;
	if (plan.bcc)
		filter_bcc(&job, &plan);
	if (!audit && filter_deliver_zip(&job) != 0)
		goto out;
	/* what goes on; the bcc notice says it went (the client hears 250
	   next; doc/outbound.md: a commit that fails after this) */
	for (i = 0; i < env->rcpt_count; i++)
		filter_reply_set(&replies[i], 250, "2.0.0 Ok");
	job.final = 1;
	if (job.bcc_applied > 0 && plan.bcc_notify)
		filter_bcc_notice(&job);
	/* the seal: what was done, for omamori-filter if policyd FILTERs the
	   message after all (a hold, outbound spam, a change it has not seen) */
	seal = filter_seal_make(w, job.qid, env->sender,
				(plan.virus ? FILTER_DONE_VIRUS : 0) |
				(plan.bcc ? FILTER_DONE_BCC : 0) | (audit ? 0 : FILTER_DONE_ZIP),
				job.spool_name);
	if (seal != NULL || job.msg != msg) {
		if (seal != NULL)
			om_buf_append_str(out, seal);
		om_buf_append(out, job.msg, job.len);
	}
	om_log_info("%s: from=<%s> nrcpt=%zu size=%zu virus=\"%s\" bcc=%d "
		    "checked before the queue%s%s", job.qid, env->sender, env->rcpt_count,
		    job.len, job.log_virus != NULL ? job.log_virus : "-", job.bcc_applied,
		    job.msg != msg ? ", rewritten" : "", seal != NULL ? ", sealed" : "");
	free(seal);
out:
	filter_reply_set(reply, replies[0].code != 0 ? replies[0].code : 451, "%s",
			 replies[0].text != NULL ? replies[0].text : "4.3.0 internal error");
	for (i = 0; i < (env->rcpt_count > 0 ? env->rcpt_count : 1); i++)
		free(replies[i].text);
	free(replies);
	free(job.log_virus);
	free(job.admin_details);
	om_buf_free(&job.rewrite);
}
