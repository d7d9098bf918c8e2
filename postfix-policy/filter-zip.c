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
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/zip.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_ZIP_NAME "attachments.zip"
#define FILTER_ZIP_PASSWORD_SUFFIX ".zip-password"
#define FILTER_ZIP_NOTICE_TIMEOUT_MS 120000
#define FILTER_ZIP_TEXT_MAX 200		/* bytes of a subject or file name */
#define FILTER_ZIP_LIST_MAX 50		/* recipients and files named */

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

/* notice_from, with the sender's domain when it has none. */
static char *filter_zip_from(const struct om_config *config, const char *sender)
{
	const char *at = strrchr(sender, '@');

	if (strchr(config->notice_from, '@') != NULL || at == NULL)
		return om_strdup(config->notice_from);
	return om_asprintf("%s%s", config->notice_from, at);
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
static int filter_zip_notice(struct filter_worker *w, const struct filter_envelope *env,
			     const char *qid, struct om_mime_msg *mime,
			     const struct om_zip *zip, const char *password,
			     char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct filter_reply reply = { 0, NULL };
	struct filter_smtp_result res;
	struct om_buf rcpts, files, mail;
	char *lang, *raw_subject, *subject, *date, *text, *from, *rcpt;
	const char *subj, *body;
	size_t i;
	int ret = -1;

	lang = om_settings_domain_value(w->store, env->sender, "language",
					config->default_language, error_r);
	if (lang == NULL)
		return -1;
	raw_subject = om_mime_header_decoded(mime, "Subject");
	subject = om_sanitize(raw_subject != NULL ? raw_subject : "", FILTER_ZIP_TEXT_MAX);
	free(raw_subject);
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
			{ NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang, "zip-password",
						vars, &brand, error_r);
	}
	from = filter_zip_from(config, env->sender);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		*error_r = om_strdup("templates zip-password.txt: no Subject line");
	} else if (!filter_zip_header_safe(from) || !filter_zip_header_safe(env->sender)) {
		*error_r = om_strdup("the sender or notice_from cannot stand in a header");
	} else {
		om_buf_append_str(&mail, "Auto-Submitted: auto-generated\n");
		om_mime_build_text_mail(from, env->sender, subj, body, &mail);
		rcpt = env->sender;
		if (filter_smtp_send(config->filter_reinject, FILTER_ZIP_NOTICE_TIMEOUT_MS,
				     "", &rcpt, 1, NULL, 1, 0, mail.data, mail.len,
				     &reply, &res, error_r) == 0) {
			if (res.final_code == 250) {
				om_log_info("%s: zip password notice to <%s> sent as %s", qid,
					    env->sender, res.queue_id != NULL ? res.queue_id : "?");
				ret = 0;
			} else {
				*error_r = om_asprintf("password notice refused: %d %s",
						       res.final_code != 0 ? res.final_code : reply.code,
						       res.final_text != NULL ? res.final_text :
						       reply.text != NULL ? reply.text : "");
			}
			filter_smtp_result_free(&res);
		}
	}
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (mail.data != NULL)
		explicit_bzero(mail.data, mail.len);
	om_buf_free(&mail);
	om_buf_free(&rcpts);
	om_buf_free(&files);
	free(reply.text);
	free(from);
	free(date);
	free(subject);
	free(lang);
	return ret;
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
	char *password = NULL;
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
	if (filter_zip_notice(w, env, qid, mime, zip, password, error_r) < 0)
		goto out;
	om_buf_reset(out);
	om_mime_write(mime, out);
	om_log_info("%s: zip: %zu attachments (%zu bytes) into %s (%zu bytes)", qid,
		    count, total, FILTER_ZIP_NAME, archive.len);
	ret = 1;
out:
	om_zip_password_free(&password);
	om_zip_free(&zip);
	om_buf_free(&archive);
	om_mime_attachments_free(&list, count);
	om_mime_free(&mime);
	return ret;
}
