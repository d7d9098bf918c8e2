/* filter-zip.c - outbound-zip in omamori-filter: the attachments of a
 * subscriber's mail go out in one AES-256 ZIP, and the sender gets the
 * password.
 *
 * When the sender's mailbox subscribes to outbound-zip and its domain's
 * zip-recipients holds ("external": a recipient outside the sender's
 * domain; "all"), every attachment of the message (mail/mime.c's rule:
 * not the readable body, named or marked attachment) is taken out and put
 * into attachments.zip (archive/zip.c), under a new random password; the
 * text and HTML bodies stay as they were.  The recipients' copy is this
 * rewrite.  Attachments together under zip-min-size bytes, and a signed
 * or encrypted message (a signature covers its parts), go as they are.
 *
 * The password notice (templates/<lang>/zip-password.txt: date, subject,
 * archive name, password, the recipients; seed 001) goes to the sender's
 * INBOX through the filter's own re-injection, from the null sender:
 * Postfix's omamori-reinject smtpd asks no policy, so it is never
 * filtered again.  It is sent before the message: a notice that cannot be
 * sent is a 451 and nothing went out.  The password is kept in the
 * filter's spool beside the message (QID-HASH.zip-password, 0600 like
 * the message itself) until the message is sent, so that a retry after
 * a failed re-injection uses the same password, and a second notice, if
 * any, says the same thing.
 *
 * The recipients' button (seed 001's メール確認画面 → ＜通知＞): the
 * password is also kept zip-password-days in the store (zip_passwords),
 * sealed under zip_key_path (crypto/seal.h), and the notice carries a
 * signed link (action "zip-password") to omamori-web's /z/ page.  The
 * page's POST asks this process over the control socket (ZIPPASS ID,
 * filter-hold.c serves it): the row is claimed kept -> sending in one
 * write transaction, the password unsealed and mailed to the archive's
 * recipients (templates/<lang>/zip-password-recipient.txt) from the
 * sender's address through the re-injection, which asks no policy (never
 * filtered again), then marked sent (the seal wiped): a second request
 * finds it sent and sends nothing.  A zippw-ID.sent file in the spool,
 * made at Postfix's 250, lets a restart after a crash tell sent from not.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/zip.h"
#include "crypto/seal.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "mail/recipients.h"
#include "notice/notify.h"
#include "quarantine/hold.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_ZIP_NAME "attachments.zip"
#define FILTER_ZIP_PASSWORD_SUFFIX ".zip-password"
#define FILTER_ZIP_NOTICE_TIMEOUT_MS 120000
#define FILTER_ZIP_TEXT_MAX 200		/* bytes of a subject or file name */
#define FILTER_ZIP_LIST_MAX 50		/* recipients and files named */
#define FILTER_ZIP_SENT_PREFIX "zippw-"	/* zippw-ID.sent: mailed, store not told */

/* 1 if a recipient's domain is not the sender's. */
static int filter_zip_external(const struct filter_envelope *env)
{
	const char *mine = om_settings_domain_of(env->sender);
	size_t i;

	for (i = 0; i < env->rcpt_count; i++) {
		if (strcasecmp(om_settings_domain_of(env->rcpts[i]), mine) != 0)
			return 1;
	}
	return 0;
}

/* 1 when the sender's settings ask for a ZIP of this message, 0 not,
   -1 error. */
static int filter_zip_wanted(struct om_store *store, const struct filter_envelope *env,
			     long *min_size_r, char **error_r)
{
	enum om_sub_state state;
	const char *source;
	char *value;
	int all;

	if (*env->sender == '\0')
		return 0;
	if (om_settings_subscription(store, env->sender, OM_FEATURE_OUTBOUND_ZIP,
				     &state, &source, error_r) < 0)
		return -1;
	if (state != OM_SUB_ON)
		return 0;
	value = om_settings_domain_value(store, env->sender, OM_SETTING_ZIP_RECIPIENTS,
					 OM_DEFAULT_ZIP_RECIPIENTS, error_r);
	if (value == NULL)
		return -1;
	all = strcmp(value, "all") == 0;
	free(value);
	if (!all && !filter_zip_external(env))
		return 0;
	value = om_settings_domain_value(store, env->sender, OM_SETTING_ZIP_MIN_SIZE,
					 "", error_r);
	if (value == NULL)
		return -1;
	*min_size_r = om_settings_number(value, OM_DEFAULT_ZIP_MIN_SIZE);
	free(value);
	return 1;
}

/* ---- the password, kept in the spool until the message is sent ---- */

static char *filter_zip_password_path(const char *spool_name)
{
	return om_asprintf("%s%s", spool_name, FILTER_ZIP_PASSWORD_SUFFIX);
}

/* The password of an earlier attempt at this message, or a new one
   written (fsync'd) beside the message.  NULL with *error_r. */
static char *filter_zip_password(struct filter_worker *w, const char *spool_name,
				 char **error_r)
{
	int dir = w->daemon->spool_fd, fd;
	char *name = filter_zip_password_path(spool_name), *pw = NULL;
	char buf[OM_ZIP_PASSWORD_LEN + 2];
	ssize_t n;

	fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (om_zip_password_valid(buf))
				pw = om_strdup(buf);
		}
		explicit_bzero(buf, sizeof(buf));
		if (pw != NULL) {
			free(name);
			return pw;
		}
	}
	pw = om_zip_password_new();
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, pw, strlen(pw)) != (ssize_t)strlen(pw) ||
	    fsync(fd) < 0 || fsync(dir) < 0) {
		*error_r = om_asprintf("spool %s/%s: %s", w->daemon->config->filter_spool,
				       name, strerror(errno));
		if (fd >= 0)
			close(fd);
		om_zip_password_free(&pw);
		free(name);
		return NULL;
	}
	close(fd);
	free(name);
	return pw;
}

void filter_zip_forget(struct filter_worker *w, const char *spool_name)
{
	char *name = filter_zip_password_path(spool_name);
	struct stat st;

	/* the message's spool file is gone: sent or refused for good */
	if (fstatat(w->daemon->spool_fd, spool_name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT && unlinkat(w->daemon->spool_fd, name, 0) < 0 &&
	    errno != ENOENT)
		om_log_warn("removing spool file %s: %s", name, strerror(errno));
	free(name);
}

/* ---- the notice ---- */

/* "  name\n" lines, at most FILTER_ZIP_LIST_MAX, sanitised. */
static void filter_zip_list_add(struct om_buf *b, const char *item, size_t i,
				size_t count, const char *sep)
{
	char *clean;

	if (i == FILTER_ZIP_LIST_MAX) {
		om_buf_printf(b, "%s... (%zu)", sep, count);
		return;
	}
	if (i > FILTER_ZIP_LIST_MAX)
		return;
	clean = om_sanitize(item, FILTER_ZIP_TEXT_MAX);
	om_buf_printf(b, "%s%s", i > 0 || *sep == '\n' ? sep : "", clean);
	free(clean);
}

/* Wipes and frees what held a password: the rendered text (may be
   NULL) and the mail made of it. */
static void filter_zip_wipe(char *text, struct om_buf *mail)
{
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (mail->data != NULL)
		explicit_bzero(mail->data, mail->len);
	om_buf_free(mail);
}

static int filter_zip_header_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == '<' || *s == '>' || *s == 0x7f)
			return 0;
	}
	return 1;
}

/* Renders and sends the password notice to the sender; 0 or -1. */
/* What the notice says besides the archive. */
struct filter_zip_notice_info {
	const char *subject;	/* decoded, sanitised */
	const char *link;	/* the /z/ page, or NULL when none is kept */
	long days;		/* zip-password-days */
};

static int filter_zip_notice(struct filter_worker *w, const struct filter_envelope *env,
			     const char *qid, const struct filter_zip_notice_info *info,
			     const struct om_zip *zip, const char *password,
			     char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf rcpts, files, mail;
	char *lang, *date, *text, *from, *sent_as = NULL, *why = NULL, days[24];
	const char *subj, *body, *subject = info->subject;
	size_t i;
	int ret = -1;

	lang = om_settings_domain_value(w->store, env->sender, "language",
					config->default_language, error_r);
	if (lang == NULL)
		return -1;
	snprintf(days, sizeof(days), "%ld", info->days);
	date = om_notify_time_text(time(NULL));
	om_buf_init(&rcpts);
	om_buf_init(&files);
	om_buf_init(&mail);
	for (i = 0; i < env->rcpt_count; i++)
		filter_zip_list_add(&rcpts, env->rcpts[i], i, env->rcpt_count, "\n  ");
	if (rcpts.len > 0)
		memmove(rcpts.data, rcpts.data + 1, rcpts.len--);	/* the first "\n" */
	for (i = 0; i < om_zip_count(zip); i++)
		filter_zip_list_add(&files, om_zip_name(zip, i), i, om_zip_count(zip), ", ");
	{
		struct om_notify_var vars[] = {
			{ "date", date }, { "subject", subject },
			{ "recipients", rcpts.data }, { "archive", FILTER_ZIP_NAME },
			{ "files", files.data }, { "password", password },
			{ "link", info->link != NULL ? info->link : "-" },
			{ "days", days },
			{ NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang, "zip-password",
						vars, &brand, error_r);
	}
	from = filter_notice_from(config, env->sender);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		*error_r = om_strdup("templates zip-password.txt: no Subject line");
	} else if (!filter_zip_header_safe(from) || !filter_zip_header_safe(env->sender)) {
		*error_r = om_strdup("the sender or notice_from cannot stand in a header");
	} else {
		om_buf_append_str(&mail, "Auto-Submitted: auto-generated\n");
		om_mime_build_text_mail(from, env->sender, subj, body, &mail);
		switch (filter_smtp_notice(config->filter_reinject, FILTER_ZIP_NOTICE_TIMEOUT_MS,
					   env->sender, &mail, &sent_as, &why)) {
		case 1:
			om_log_info("%s: zip password notice to <%s> sent as %s", qid,
				    env->sender, sent_as);
			free(sent_as);
			ret = 0;
			break;
		case 0:
			*error_r = om_asprintf("password notice refused: %s", why);
			free(why);
			break;
		default:
			*error_r = why;
			break;
		}
	}
	filter_zip_wipe(text, &mail);
	om_buf_free(&rcpts);
	om_buf_free(&files);
	free(from);
	free(date);
	free(lang);
	return ret;
}

/* ---- the password kept for the recipients' button ---- */

int filter_zip_setup(struct filter_daemon *d, char **error_r)
{
	char *error = NULL;

	(void)error_r;
	if (om_token_keys_load(d->config->zip_key_path, &d->zip_keys, &error) == 0) {
		d->have_zip_keys = 1;
		return 0;
	}
	om_log_warn("zip_key_path: %s: zip passwords are not kept, the notices have "
		    "no link to send them to the recipients (omamorictl init makes "
		    "the key)", error);
	free(error);
	return 0;
}

/* The kept password's id: the message's spool name cut to "QID-" and 16
   hex digits of its hash (as a hold's id). */
static char *filter_zip_id(const char *spool_name)
{
	return om_strndup(spool_name, strcspn(spool_name, "-") + 1 + 16);
}

/* Seals and records the password for the recipients' button, and makes
   the notice's link to it.  0 (*link_r: allocated, or NULL when no key
   is configured) or -1 with *error_r (the store failed: tempfail). */
static int filter_zip_keep(struct filter_worker *w, const struct filter_envelope *env,
			   const char *spool_name, const char *subject,
			   const char *password, long days, char **link_r,
			   char **error_r)
{
	struct filter_daemon *d = w->daemon;
	struct om_store_zip rec;
	struct om_buf rcpts;
	char *id, *sealed;
	size_t i;
	int ret = -1;

	*link_r = NULL;
	if (!d->have_zip_keys)
		return 0;
	id = filter_zip_id(spool_name);
	sealed = om_seal(&d->zip_keys, id, password, error_r);
	if (sealed == NULL) {
		free(id);
		return -1;
	}
	om_buf_init(&rcpts);
	for (i = 0; i < env->rcpt_count; i++)
		om_buf_printf(&rcpts, "%s\n", env->rcpts[i]);
	memset(&rec, 0, sizeof(rec));
	rec.id = id;
	rec.mailbox = env->sender;
	rec.recipients = rcpts.data != NULL ? rcpts.data : "";
	rec.subject = subject;
	rec.archive = FILTER_ZIP_NAME;
	rec.sealed = sealed;
	rec.created = (long long)time(NULL);
	rec.expires = rec.created + days * 86400;
	/* a retry finds the row of its first attempt (same id, same password) */
	if (om_store_zip_add(w->store, &rec, error_r) >= 0) {
		*link_r = filter_link(d, "z/", env->sender, OM_ZIP_TOKEN_ACTION, id,
				      (time_t)rec.expires);
		if (*link_r == NULL)
			om_log_warn("zip %s: no link can be made (web_key_path)", id);
		ret = 0;
	}
	free(sealed);
	om_buf_free(&rcpts);
	free(id);
	return ret;
}

/* ---- ZIPPASS: the password to the recipients ---- */

/* One kept password, copied out of the store's callback. */
struct filter_zip_row {
	int found;
	char *mailbox, *recipients, *subject, *archive, *sealed;
	long long created;
};

static void filter_zip_row_cb(void *context, const struct om_store_zip *z)
{
	struct filter_zip_row *r = context;

	r->found = 1;
	r->mailbox = om_strdup(z->mailbox);
	r->recipients = om_strdup(z->recipients);
	r->subject = om_strdup(z->subject);
	r->archive = om_strdup(z->archive);
	r->sealed = om_strdup(z->sealed);
	r->created = z->created;
}

static void filter_zip_row_free(struct filter_zip_row *r)
{
	free(r->mailbox);
	free(r->recipients);
	free(r->subject);
	free(r->archive);
	free(r->sealed);
	memset(r, 0, sizeof(*r));
}

/* The recipients' mail (templates/<lang>/zip-password-recipient.txt):
   From the sender, To the one recipient or undisclosed-recipients:;,
   marked as omamori's.  0 (out filled) or -1. */
static int filter_zip_recipient_mail(struct filter_daemon *d, struct om_store *store,
				     const struct filter_zip_row *row, const char *password,
				     char *const *rcpts, size_t count, struct om_buf *out,
				     char **error_r)
{
	const struct om_config *config = d->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	char *lang, *date, *text = NULL;
	const char *subj, *body;
	struct om_buf mail;
	int ret = -1;

	lang = om_settings_domain_value(store, row->mailbox, "language",
					config->default_language, error_r);
	if (lang == NULL)
		return -1;
	date = om_notify_time_text((time_t)row->created);
	{
		struct om_notify_var vars[] = {
			{ "date", date }, { "subject", row->subject },
			{ "archive", row->archive }, { "password", password },
			{ "sender", row->mailbox }, { NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang,
						"zip-password-recipient", vars, &brand, error_r);
	}
	om_buf_init(&mail);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		*error_r = om_strdup("templates zip-password-recipient.txt: no Subject line");
	} else if (!filter_zip_header_safe(row->mailbox) || !filter_zip_header_safe(rcpts[0])) {
		*error_r = om_strdup("an address cannot stand in a header");
	} else {
		/* the re-injection asks no policy: never filtered again (no
		   loop); the header only says what it is, it is trusted by
		   nothing */
		om_buf_append_str(&mail, "Auto-Submitted: auto-generated\n"
				  "X-Omamori-Notice: zip-password\n");
		om_mime_build_text_mail(row->mailbox, rcpts[0], subj, body, &mail);
		if (count > 1)
			om_recipients_hide(mail.data, mail.len, out);
		else
			om_buf_append(out, mail.data, mail.len);
		ret = 0;
	}
	filter_zip_wipe(text, &mail);
	free(date);
	free(lang);
	return ret;
}

/* zippw-ID.sent: made at Postfix's 250, before the store is told. */
static void filter_zip_sent_mark(struct filter_daemon *d, const char *id, int make)
{
	char name[OM_HOLD_LINE_MAX + 16];
	int fd;

	snprintf(name, sizeof(name), FILTER_ZIP_SENT_PREFIX "%s.sent", id);
	if (!make) {
		if (unlinkat(d->spool_fd, name, 0) < 0 && errno != ENOENT)
			om_log_warn("zip %s: removing %s: %s", id, name, strerror(errno));
		return;
	}
	fd = openat(d->spool_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fsync(d->spool_fd) < 0)
		om_log_warn("zip %s: marking sent in the spool: %s", id, strerror(errno));
	if (fd >= 0)
		(void)close(fd);
}

/* Puts a claimed row back (not sent), with why; answers FAIL. */
static void filter_zip_back(struct om_store *store, const char *id, const char *why,
			    const char *answer_text, struct om_buf *answer)
{
	char *error = NULL;

	if (om_store_zip_finish(store, id, OM_ZIP_KEPT, 0, why, (long long)time(NULL),
				&error) < 0) {
		om_log_error("zip %s: putting back: %s", id, error);
		free(error);
	}
	om_buf_printf(answer, "FAIL %s\n", answer_text);
}

void filter_zip_password_send(struct filter_daemon *d, struct om_store *store,
			      const char *id, struct om_buf *answer)
{
	struct filter_zip_row row;
	struct filter_reply *replies = NULL;
	struct filter_smtp_result res;
	enum om_zip_state state;
	struct om_buf mail;
	char **rcpts = NULL, *error = NULL, *password = NULL, *result = NULL;
	const char *why;
	size_t count = 0, i, ok = 0;
	long long now = (long long)time(NULL);
	int ret;

	memset(&row, 0, sizeof(row));
	om_buf_init(&mail);
	/* the archive must have gone out: not while its message is held,
	   never when the sender cancelled it */
	if (om_hold_zip_gate(store, id, &why, &error) < 0) {
		om_log_error("zip %s: %s", id, error);
		free(error);
		om_buf_append_str(answer, "FAIL store unavailable\n");
		return;
	}
	if (why != NULL) {
		om_buf_printf(answer, "STATE %s\n", why);
		return;
	}
	ret = om_store_zip_claim(store, id, now, &state, &error);
	if (ret < 0) {
		om_log_error("zip %s: %s", id, error);
		free(error);
		om_buf_append_str(answer, "FAIL store unavailable\n");
		return;
	}
	if (ret == 0) {
		om_buf_printf(answer, "STATE %s\n", state == OM_ZIP_NONE ? "none" :
			      state == OM_ZIP_KEPT ? "expired" : om_store_zip_state_name(state));
		return;
	}
	if (om_store_zip_get(store, id, filter_zip_row_cb, &row, &error) <= 0) {
		om_log_error("zip %s: %s", id, error != NULL ? error : "not recorded");
		om_free(&error);
		filter_zip_back(store, id, "store", "the record cannot be read", answer);
		goto out;
	}
	if (!d->have_zip_keys ||
	    (password = om_unseal(&d->zip_keys, id, row.sealed, &error)) == NULL) {
		om_log_error("zip %s: %s", id, error != NULL ? error : "no zip_key_path key");
		om_free(&error);
		filter_zip_back(store, id, "unseal", "the password cannot be read", answer);
		goto out;
	}
	rcpts = om_split_lines(row.recipients, &count);
	if (count == 0 ||
	    filter_zip_recipient_mail(d, store, &row, password, rcpts, count, &mail,
				      &error) < 0) {
		om_log_error("zip %s: password mail: %s", id,
			     error != NULL ? error : "no recipients");
		om_free(&error);
		filter_zip_back(store, id, "mail", "the password mail cannot be made", answer);
		goto out;
	}
	om_seal_forget(&password);
	replies = om_calloc(count, sizeof(*replies));
	if (filter_smtp_send(d->config->filter_reinject, FILTER_ZIP_NOTICE_TIMEOUT_MS,
			     row.mailbox, rcpts, count, NULL, 1, 0, mail.data, mail.len,
			     replies, &res, &error) < 0) {
		om_log_error("zip %s: password mail: %s", id, error);
		om_free(&error);
		filter_zip_back(store, id, "re-injection", "re-injection into Postfix failed",
				answer);
		goto out;
	}
	if (res.final_code != 250) {
		om_log_error("zip %s: password mail refused by Postfix: %d %s", id,
			     res.final_code, res.final_text != NULL ? res.final_text : "");
		filter_smtp_result_free(&res);
		filter_zip_back(store, id, "refused", "Postfix refused the password mail", answer);
		goto out;
	}
	/* sent: the spool's mark first (survives a crash), then the store */
	filter_zip_sent_mark(d, id, 1);
	for (i = 0; i < count; i++)
		ok += replies[i].code == 250;
	result = om_asprintf("sent as %s (%zu of %zu recipients)",
			     res.queue_id != NULL ? res.queue_id : "?", ok, count);
	now = (long long)time(NULL);
	if (om_store_zip_finish(store, id, OM_ZIP_SENT, now, result, now, &error) < 0) {
		om_log_error("zip %s: marking sent: %s", id, error);
		om_free(&error);
	} else {
		filter_zip_sent_mark(d, id, 0);
	}
	/* never the password in a log */
	om_log_info("zip %s: password mailed to the recipients: from=<%s> %s", id,
		    row.mailbox, result);
	om_buf_printf(answer, "OK %s\n", result);
	filter_smtp_result_free(&res);
out:
	om_seal_forget(&password);
	for (i = 0; replies != NULL && i < count; i++)
		free(replies[i].text);
	free(replies);
	free(rcpts);
	free(result);
	filter_zip_wipe(NULL, &mail);
	filter_zip_row_free(&row);
}

struct filter_zip_ids {
	char **ids;
	size_t count;
};

static void filter_zip_ids_cb(void *context, const struct om_store_zip *z)
{
	struct filter_zip_ids *r = context;

	r->ids = om_realloc(r->ids, (r->count + 1) * sizeof(*r->ids));
	r->ids[r->count++] = om_strdup(z->id);
}

void filter_zip_recover(struct filter_daemon *d)
{
	struct filter_zip_ids r = { NULL, 0 };
	struct om_store *store = NULL;
	char *error = NULL, name[OM_HOLD_LINE_MAX + 16];
	struct stat st;
	long long now = (long long)time(NULL);
	size_t i;
	int sent;

	if (om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
			  &store, &error) < 0 ||
	    om_store_zip_list(store, OM_ZIP_SENDING, filter_zip_ids_cb, &r, &error) < 0) {
		om_log_error("zip passwords: recovery: %s", error);
		free(error);
		om_store_close(&store);
		return;
	}
	for (i = 0; i < r.count; i++) {
		snprintf(name, sizeof(name), FILTER_ZIP_SENT_PREFIX "%s.sent", r.ids[i]);
		sent = fstatat(d->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (om_store_zip_finish(store, r.ids[i], sent ? OM_ZIP_SENT : OM_ZIP_KEPT,
					sent ? (long long)st.st_mtime : 0,
					sent ? "sent before the last stop" :
					"interrupted: kept again", now, &error) < 0) {
			om_log_error("zip %s: recovery: %s", r.ids[i], error);
			om_free(&error);
		} else {
			om_log_info("zip %s: found sending at start: %s", r.ids[i],
				    sent ? "it was sent" : "kept again");
			if (sent)
				filter_zip_sent_mark(d, r.ids[i], 0);
		}
		free(r.ids[i]);
	}
	free(r.ids);
	om_store_close(&store);
}

/* ---- the rewrite ---- */

int filter_zip(struct filter_worker *w, const struct filter_envelope *env,
	       const char *qid, const char *spool_name, const char *msg, size_t len,
	       struct om_buf *out, char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct om_mime_attachment *list = NULL;
	struct om_mime_msg *mime = NULL;
	struct om_zip *zip = NULL;
	struct om_buf archive;
	const char *skip = NULL;
	size_t count = 0, i, total = 0;
	long min_size = 0;
	struct filter_zip_notice_info info = { NULL, NULL, OM_DEFAULT_ZIP_PASSWORD_DAYS };
	char *password = NULL, *raw_subject, *subject = NULL, *link = NULL, *days;
	int ret;

	ret = filter_zip_wanted(w->store, env, &min_size, error_r);
	if (ret <= 0)
		return ret;
	om_buf_init(&archive);
	ret = -1;
	mime = om_mime_parse(msg, len, error_r);
	if (mime == NULL)
		goto out;
	if (om_mime_take_attachments(mime, (size_t)config->scan_max_parts,
				     (unsigned int)config->scan_max_depth,
				     &list, &count, &skip, error_r) < 0)
		goto out;
	for (i = 0; i < count; i++)
		total += list[i].data.len;
	if (count == 0 || total < (size_t)min_size) {
		if (skip != NULL || count > 0)
			om_log_info("%s: zip: not applied (%s)", qid, skip != NULL ? skip :
				    "attachments under zip-min-size");
		ret = 0;
		goto out;
	}
	zip = om_zip_new((size_t)config->scan_max_parts, (size_t)config->scan_max_size);
	for (i = 0; i < count; i++) {
		if (om_zip_add(zip, list[i].filename != NULL ? list[i].filename : "attachment",
			       list[i].data.data, list[i].data.len, error_r) < 0)
			goto out;
	}
	password = filter_zip_password(w, spool_name, error_r);
	if (password == NULL || om_zip_write(zip, password, &archive, error_r) < 0)
		goto out;
	om_mime_add_attachment(mime, FILTER_ZIP_NAME, "application", "zip",
			       archive.data, archive.len);
	raw_subject = om_mime_header_decoded(mime, "Subject");
	subject = om_sanitize(raw_subject != NULL ? raw_subject : "", FILTER_ZIP_TEXT_MAX);
	free(raw_subject);
	days = om_settings_domain_value(w->store, env->sender, OM_SETTING_ZIP_PASSWORD_DAYS,
					"", error_r);
	if (days == NULL)
		goto out;
	info.days = om_settings_number(days, OM_DEFAULT_ZIP_PASSWORD_DAYS);
	free(days);
	if (info.days < 1 || info.days > 30)
		info.days = OM_DEFAULT_ZIP_PASSWORD_DAYS;
	if (filter_zip_keep(w, env, spool_name, subject, password, info.days, &link,
			    error_r) < 0)
		goto out;
	info.subject = subject;
	info.link = link;
	if (filter_zip_notice(w, env, qid, &info, zip, password, error_r) < 0)
		goto out;
	om_buf_reset(out);
	om_mime_write(mime, out);
	om_log_info("%s: zip: %zu attachments (%zu bytes) into %s (%zu bytes)", qid,
		    count, total, FILTER_ZIP_NAME, archive.len);
	ret = 1;
out:
	free(subject);
	free(link);
	om_zip_password_free(&password);
	om_zip_free(&zip);
	om_buf_free(&archive);
	om_mime_attachments_free(&list, count);
	om_mime_free(&mime);
	return ret;
}
