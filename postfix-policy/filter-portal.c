/* filter-portal.c - outbound-portal in omamori-filter: the encrypted
 * delivery portal, the PPAP alternative of seed 001 (メール+添付ファイル
 * 暗号化; doc/portal.md).
 *
 * When the sender subscribes to outbound-portal, the message is not sent
 * to its external recipients (outside the sender's domain and
 * internal-domains): it is written once, encrypted, to portal_dir/<id>
 * (crypto/vault.c: libsodium secretstream under a random key of its own,
 * that key sealed to the site's isolation key pair, whose secret half
 * only omamori-web holds), recorded in the store (portal_messages), and
 * each external recipient gets a short notice (templates/<lang>/
 * portal-notice.txt: the sender, the subject or 件名非表示, the expiry,
 * a link signed for that recipient to omamori-web's /p/ page).  Internal
 * recipients get the message as usual (the caller sends it to them).
 *
 * A retry of the same message (same spool name) finds the row and the
 * file: nothing is written twice; the notices go again (as the ZIP's
 * password notice does: a notice more, never a message lost).  Anything
 * that fails before the first notice is sent is an error: the caller
 * tempfails and nothing went out (fail closed: never the plaintext to an
 * external recipient because the portal was down).
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

#include "crypto/vault.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "mail/sanitize.h"
#include "quarantine/portal.h"
#include "quarantine/hold.h"
#include "notice/notify.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_PORTAL_NOTICE_TIMEOUT_MS 120000
#define FILTER_PORTAL_TEXT_MAX 200
#define FILTER_PORTAL_ACTION "portal"
#define FILTER_PORTAL_PATH "p/"
#define FILTER_PORTAL_SENDER_ACTION "portal-sender"
#define FILTER_PORTAL_SENDER_PATH "ps/"

int filter_portal_setup(struct filter_daemon *d, char **error_r)
{
	struct om_token_keys keys;
	char *error = NULL;

	(void)error_r;
	if (om_token_keys_load(d->config->isolate_key_path, &keys, &error) < 0) {
		om_log_warn("isolate_key_path: %s: outbound-portal mail is refused 4xx "
			    "until the key is there (omamorictl init makes it)", error);
		free(error);
		return 0;
	}
	if (om_vault_public_key(&keys, d->portal_pk) == 0)
		d->have_portal_pk = 1;
	explicit_bzero(&keys, sizeof(keys));
	return 0;
}

/* 1 if rcpt is inside for the sender: its domain or internal-domains. */
static int filter_portal_inside(const char *sender, const char *internal, const char *rcpt)
{
	const char *domain = om_settings_domain_of(rcpt);

	if (*domain == '\0')
		return 1;
	return strcasecmp(domain, om_settings_domain_of(sender)) == 0 ||
		om_settings_domain_in(internal, domain);
}

/* 1 when the sender subscribes (portal[i] set for each external
   recipient, at least one), 0 nothing to do, -1 error. */
static int filter_portal_wanted(struct om_store *store, const struct filter_envelope *env,
				unsigned char *portal, char **error_r)
{
	enum om_sub_state state;
	const char *source;
	char *internal;
	size_t i, n = 0;

	memset(portal, 0, env->rcpt_count);
	if (*env->sender == '\0')
		return 0;
	if (om_settings_subscription(store, env->sender, OM_FEATURE_OUTBOUND_PORTAL,
				     &state, &source, error_r) < 0)
		return -1;
	if (state != OM_SUB_ON)
		return 0;
	internal = om_settings_domain_value(store, env->sender, OM_SETTING_INTERNAL_DOMAINS,
					    "none", error_r);
	if (internal == NULL)
		return -1;
	for (i = 0; i < env->rcpt_count; i++) {
		portal[i] = !filter_portal_inside(env->sender, internal, env->rcpts[i]);
		n += portal[i];
	}
	free(internal);
	return n > 0 ? 1 : 0;
}

/* The message's id: 32 hex digits of the spool name's hash (a retry has
   the same). */
static void filter_portal_id(const char *spool_name, char id[OM_VAULT_NEW_ID_LEN + 1])
{
	const char *hash = strrchr(spool_name, '-');

	hash = hash != NULL ? hash + 1 : spool_name;
	snprintf(id, OM_VAULT_NEW_ID_LEN + 1, "%s", hash);
}

struct filter_portal_found {
	int found;
	long long expires;
};

static void filter_portal_found_cb(void *context, const struct om_store_portal *p)
{
	struct filter_portal_found *f = context;

	f->found = 1;
	f->expires = p->expires;
}

#define FILTER_PORTAL_MAX_PARTS 200
#define FILTER_PORTAL_MAX_DEPTH 20

/* 1 when leaf is an attachment (not the readable body). */
static int filter_portal_is_file(const struct om_mime_leaf *leaf)
{
	return !leaf->is_body || leaf->filename != NULL;
}

/* The message taken apart for the page (quarantine/portal.h): the first
   text body, the first HTML body sanitised, every attachment decoded.  A
   message GMime cannot read goes whole as message.eml. */
static void filter_portal_view(const char *msg, size_t len, struct om_buf *out)
{
	struct om_mime_msg *mime;
	struct om_mime_leaf *leaves = NULL;
	struct om_buf data;
	char *error = NULL, *reason = NULL, *clean, *name, *with_images;
	int have_text = 0, have_html = 0;
	size_t count = 0, i;

	mime = om_mime_parse(msg, len, &error);
	if (mime == NULL || om_mime_collect(mime, FILTER_PORTAL_MAX_PARTS,
					    FILTER_PORTAL_MAX_DEPTH, &leaves, &count,
					    &reason) < 0) {
		free(error);
		free(reason);
		om_mime_free(&mime);
		om_portal_pack(out, OM_PORTAL_FILE, "message.eml", msg, len);
		return;
	}
	free(reason);
	for (i = 0; i < count; i++) {
		om_buf_init(&data);
		if (om_mime_leaf_decode(&leaves[i], &data, &error) < 0) {
			om_free(&error);
			om_buf_free(&data);
			continue;
		}
		if (filter_portal_is_file(&leaves[i])) {
			name = om_sanitize(leaves[i].filename != NULL ? leaves[i].filename :
					   "attachment.bin", FILTER_PORTAL_TEXT_MAX);
			om_portal_pack(out, OM_PORTAL_FILE, name, data.data != NULL ? data.data : "",
				       data.len);
			free(name);
		} else if (!have_text && strcasecmp(leaves[i].content_type, "text/plain") == 0) {
			om_portal_pack(out, OM_PORTAL_TEXT, "", data.data != NULL ? data.data : "",
				       data.len);
			have_text = 1;
		} else if (!have_html && strcasecmp(leaves[i].content_type, "text/html") == 0) {
			clean = om_html_sanitize(data.data != NULL ? data.data : "", data.len);
			om_portal_pack(out, OM_PORTAL_HTML, "", clean != NULL ? clean : "",
				       clean != NULL ? strlen(clean) : 0);
			/* with its remote images, for "show images" */
			with_images = om_html_sanitize_images(data.data != NULL ? data.data : "",
							      data.len, 1);
			if (with_images != NULL && clean != NULL && strcmp(with_images, clean) != 0)
				om_portal_pack(out, OM_PORTAL_HTML_IMAGES, "", with_images,
					       strlen(with_images));
			free(with_images);
			free(clean);
			have_html = 1;
		}
		if (data.data != NULL)
			explicit_bzero(data.data, data.len);
		om_buf_free(&data);
	}
	om_mime_leaves_free(&leaves, count);
	om_mime_free(&mime);
}

/* Writes portal_dir/<id> (0640, fsync'd) and its row; *expires_r.  An
   earlier attempt's row and file are kept.  0 or -1. */
static int filter_portal_keep(struct filter_worker *w, const struct filter_envelope *env,
			      const char *id, const char *subject,
			      const unsigned char *portal, const char *msg, size_t len,
			      long long *expires_r, char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct filter_portal_found found = { 0, 0 };
	struct om_store_portal row;
	struct om_buf rcpts, view;
	size_t size;
	char *path, *sealed = NULL, *days;
	long long now = (long long)time(NULL);
	size_t i;
	int fd, dir, ret = -1;

	if (om_store_portal_get(w->store, id, filter_portal_found_cb, &found, error_r) < 0)
		return -1;
	path = om_asprintf("%s/%s", config->portal_dir, id);
	if (found.found) {	/* a retry: the file was written before the row */
		*expires_r = found.expires;
		free(path);
		return 0;
	}
	days = om_settings_domain_value(w->store, env->sender, OM_SETTING_PORTAL_DAYS, "14",
					error_r);
	if (days == NULL) {
		free(path);
		return -1;
	}
	*expires_r = now + om_settings_number(days, 14) * 86400;
	free(days);
	(void)unlink(path);	/* a file without its row: a crash before the row */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		*error_r = om_asprintf("portal %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	om_buf_init(&view);
	filter_portal_view(msg, len, &view);
	ret = om_vault_write(fd, w->daemon->portal_pk, id, view.data, view.len, &sealed,
			     error_r);
	size = view.len;
	if (view.data != NULL)
		explicit_bzero(view.data, view.len);
	om_buf_free(&view);
	if (ret < 0 || fsync(fd) < 0) {
		if (ret == 0)
			*error_r = om_asprintf("portal %s: %s", path, strerror(errno));
		close(fd);
		(void)unlink(path);
		free(sealed);
		free(path);
		return -1;
	}
	close(fd);
	dir = open(config->portal_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0) {
		(void)fsync(dir);
		close(dir);
	}
	om_buf_init(&rcpts);
	for (i = 0; i < env->rcpt_count; i++) {
		if (portal[i])
			om_buf_printf(&rcpts, "%s\n", env->rcpts[i]);
	}
	memset(&row, 0, sizeof(row));
	row.id = id;
	row.sender = env->sender;
	row.subject = subject;
	row.recipients = rcpts.data;
	row.size = (long long)size;
	row.sealed = sealed;
	row.created = now;
	row.expires = *expires_r;
	ret = om_store_portal_add(w->store, &row, error_r);
	if (ret < 0)
		(void)unlink(path);
	om_buf_free(&rcpts);
	free(sealed);
	free(path);
	return ret;
}

static int filter_portal_header_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == '<' || *s == '>' || *s == 0x7f)
			return 0;
	}
	return 1;
}

/* The notice to one external recipient; 0 sent, -1 not (*error_r). */
static int filter_portal_notice(struct filter_worker *w, const struct filter_envelope *env,
				const char *qid, const char *id, const char *rcpt,
				const char *subject, const char *lang, long long expires,
				char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf mail;
	char *link, *date, *text, *from, *sender, *sent_as = NULL, *why = NULL;
	const char *subj, *body;
	int ret = -1;

	link = filter_link(w->daemon, FILTER_PORTAL_PATH, rcpt, FILTER_PORTAL_ACTION, id,
			   (time_t)expires);
	if (link == NULL) {
		*error_r = om_strdup("no link key (web_key_path): the portal notice "
				     "cannot carry its link");
		return -1;
	}
	date = om_notify_time_text((time_t)expires);
	sender = om_sanitize(env->sender, FILTER_PORTAL_TEXT_MAX);
	{
		struct om_notify_var vars[] = {
			{ "sender", sender }, { "subject", subject },
			{ "expires", date }, { "link", link }, { NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang, "portal-notice",
						vars, &brand, error_r);
	}
	from = filter_notice_from(config, env->sender);
	om_buf_init(&mail);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		*error_r = om_strdup("templates portal-notice.txt: no Subject line");
	} else if (!filter_portal_header_safe(from) || !filter_portal_header_safe(rcpt) ||
		   !filter_portal_header_safe(env->sender)) {
		*error_r = om_strdup("an address cannot stand in a header");
	} else {
		om_buf_printf(&mail, "Auto-Submitted: auto-generated\nReply-To: <%s>\n",
			      env->sender);
		om_mime_build_text_mail(from, rcpt, subj, body, &mail);
		switch (filter_smtp_notice(config->filter_reinject,
					   FILTER_PORTAL_NOTICE_TIMEOUT_MS, rcpt, &mail,
					   &sent_as, &why)) {
		case 1:
			om_log_info("%s: portal %s: notice to <%s> sent as %s", qid, id, rcpt,
				    sent_as);
			free(sent_as);
			ret = 0;
			break;
		case 0:
			*error_r = om_asprintf("portal notice refused: %s", why);
			free(why);
			break;
		default:
			*error_r = why;
			break;
		}
	}
	om_buf_free(&mail);
	free(text);
	free(from);
	free(sender);
	free(date);
	free(link);
	return ret;
}

/* The message's subject, decoded and sanitised ("" when none). */
static char *filter_portal_raw_subject(const char *msg, size_t len)
{
	struct om_mime_msg *mime;
	char *raw, *subject, *error = NULL;

	mime = om_mime_parse(msg, len, &error);
	if (mime == NULL) {
		free(error);
		return om_strdup("");
	}
	raw = om_mime_header_decoded(mime, "Subject");
	subject = om_sanitize(raw != NULL ? raw : "", FILTER_PORTAL_TEXT_MAX);
	free(raw);
	om_mime_free(&mime);
	return subject;
}

/* The subject the notice shows: stored, or 件名非表示 / "(subject
   hidden)" when portal-subject is hide.  NULL with *error_r. */
static char *filter_portal_subject(struct filter_worker *w, const char *sender,
				   const char *lang, const char *stored, char **error_r)
{
	char *show;
	int hide;

	show = om_settings_domain_value(w->store, sender, OM_SETTING_PORTAL_SUBJECT, "show",
					error_r);
	if (show == NULL)
		return NULL;
	hide = strcmp(show, "hide") == 0;
	free(show);
	if (hide)
		return om_strdup(strcmp(lang, "ja") == 0 ? "件名非表示" : "(subject hidden)");
	return om_strdup(stored);
}

/* The sender's notice: the mail went through the portal, and the link
   to the sender's page (who opened it, revoke, expiry).  Logged only: the
   recipients' notices are out, the message is done. */
static void filter_portal_sender_notice(struct filter_worker *w,
					const struct filter_envelope *env,
					const char *qid, const char *id,
					const unsigned char *portal, const char *subject,
					const char *lang, long long expires)
{
	const struct om_config *config = w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf mail, rcpts;
	char *link, *date, *text, *from, *sent_as = NULL, *why = NULL, *error = NULL, *one;
	const char *subj, *body;
	size_t i;

	link = filter_link(w->daemon, FILTER_PORTAL_SENDER_PATH, env->sender,
			   FILTER_PORTAL_SENDER_ACTION, "", (time_t)expires);
	date = om_notify_time_text((time_t)expires);
	om_buf_init(&rcpts);
	for (i = 0; i < env->rcpt_count; i++) {
		if (!portal[i])
			continue;
		one = om_sanitize(env->rcpts[i], FILTER_PORTAL_TEXT_MAX);
		om_buf_printf(&rcpts, "  - %s\n", one);
		free(one);
	}
	{
		struct om_notify_var vars[] = {
			{ "subject", subject }, { "recipients", rcpts.data != NULL ? rcpts.data : "" },
			{ "expires", date }, { "link", link != NULL ? link : "-" },
			{ NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang, "portal-sender",
						vars, &brand, &error);
	}
	from = filter_notice_from(config, env->sender);
	om_buf_init(&mail);
	if (text == NULL) {
		/* error set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		error = om_strdup("templates portal-sender.txt: no Subject line");
	} else if (!filter_portal_header_safe(from) || !filter_portal_header_safe(env->sender)) {
		error = om_strdup("an address cannot stand in a header");
	} else {
		om_buf_append_str(&mail, "Auto-Submitted: auto-generated\n");
		om_mime_build_text_mail(from, env->sender, subj, body, &mail);
		if (filter_smtp_notice(config->filter_reinject, FILTER_PORTAL_NOTICE_TIMEOUT_MS,
				       env->sender, &mail, &sent_as, &why) == 1)
			om_log_info("%s: portal %s: sender notice to <%s> sent as %s", qid, id,
				    env->sender, sent_as);
		else
			error = why, why = NULL;
	}
	if (error != NULL)
		om_log_warn("%s: portal %s: sender notice to <%s> not sent: %s", qid, id,
			    env->sender, error);
	free(error);
	free(why);
	free(sent_as);
	om_buf_free(&mail);
	om_buf_free(&rcpts);
	free(text);
	free(from);
	free(date);
	free(link);
}

int filter_portal(struct filter_worker *w, const struct filter_envelope *env,
		  const char *qid, const char *spool_name, const char *msg, size_t len,
		  unsigned char *portal, char **error_r)
{
	const struct om_config *config = w->daemon->config;
	char id[OM_VAULT_NEW_ID_LEN + 1], *lang = NULL, *subject = NULL, *stored = NULL;
	long long expires = 0;
	size_t i, n = 0;
	int ret;

	ret = filter_portal_wanted(w->store, env, portal, error_r);
	if (ret <= 0)
		return ret;
	if (!w->daemon->have_portal_pk) {
		*error_r = om_asprintf("outbound-portal: no key (%s)", config->isolate_key_path);
		return -1;
	}
	filter_portal_id(spool_name, id);
	if (!om_vault_id_valid(id)) {
		*error_r = om_asprintf("outbound-portal: no id in %s", spool_name);
		return -1;
	}
	ret = -1;
	lang = om_settings_domain_value(w->store, env->sender, "language",
					config->default_language, error_r);
	if (lang == NULL)
		goto out;
	/* the store keeps the real subject for the sender's page; the
	   notice shows it, or not */
	stored = filter_portal_raw_subject(msg, len);
	subject = filter_portal_subject(w, env->sender, lang, stored, error_r);
	if (subject == NULL)
		goto out;
	if (filter_portal_keep(w, env, id, stored, portal, msg, len, &expires, error_r) < 0)
		goto out;
	for (i = 0; i < env->rcpt_count; i++) {
		if (!portal[i])
			continue;
		n++;
		if (filter_portal_notice(w, env, qid, id, env->rcpts[i], subject, lang,
					 expires, error_r) < 0)
			goto out;
	}
	filter_portal_sender_notice(w, env, qid, id, portal, stored, lang, expires);
	om_log_info("%s: portal %s: from=<%s> kept encrypted for %zu external "
		    "recipient(s) until %lld", qid, id, env->sender, n, expires);
	ret = 1;
out:
	free(lang);
	free(subject);
	free(stored);
	return ret;
}

int filter_portal_inline_defer(struct filter_worker *w, const struct filter_envelope *env,
			       char **error_r)
{
	unsigned char *portal;
	int ret;

	if (env->rcpt_count == 0)
		return 0;
	portal = om_calloc(env->rcpt_count, 1);
	ret = filter_portal_wanted(w->store, env, portal, error_r);
	free(portal);
	return ret;
}

/* ---- the one-time code (PORTALCODE, for omamori-web's /p/ page) ---- */

#define FILTER_PORTAL_CODE_SECONDS 600
#define FILTER_PORTAL_CODE_TRIES 5

struct filter_portal_row {
	int found, revoked, listed;
	long long expires;
	char *sender, *subject;
	const char *recipient;
};

static void filter_portal_row_cb(void *context, const struct om_store_portal *p)
{
	struct filter_portal_row *r = context;
	const char *line = p->recipients;
	size_t n = strlen(r->recipient);

	r->found = 1;
	r->revoked = p->revoked || *p->sealed == '\0';
	r->expires = p->expires;
	r->sender = om_strdup(p->sender);
	r->subject = om_strdup(p->subject);
	while (line != NULL && *line != '\0') {
		if (strncasecmp(line, r->recipient, n) == 0 && line[n] == '\n')
			r->listed = 1;
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
}

/* Renders and mails the code to rcpt; 0 or -1 (*error_r). */
static int filter_portal_code_mail(struct filter_daemon *d, struct om_store *store,
				   const struct filter_portal_row *row, const char *rcpt,
				   const char *code, char **error_r)
{
	const struct om_config *config = d->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf mail;
	char *lang, *text, *from, *sent_as = NULL, *why = NULL;
	const char *subj, *body;
	int ret = -1;

	lang = om_settings_domain_value(store, row->sender, "language",
					config->default_language, error_r);
	if (lang == NULL)
		return -1;
	{
		struct om_notify_var vars[] = {
			{ "sender", row->sender }, { "code", code }, { "minutes", "10" },
			{ NULL, NULL }
		};
		text = om_notify_render_branded(config->templates_dir, lang, "portal-code",
						vars, &brand, error_r);
	}
	from = filter_notice_from(config, row->sender);
	om_buf_init(&mail);
	if (text == NULL) {
		/* *error_r set */
	} else if (om_notify_split_mail(text, &subj, &body) < 0) {
		*error_r = om_strdup("templates portal-code.txt: no Subject line");
	} else if (!filter_portal_header_safe(from) || !filter_portal_header_safe(rcpt)) {
		*error_r = om_strdup("an address cannot stand in a header");
	} else {
		om_buf_append_str(&mail, "Auto-Submitted: auto-generated\n");
		om_mime_build_text_mail(from, rcpt, subj, body, &mail);
		switch (filter_smtp_notice(config->filter_reinject,
					   FILTER_PORTAL_NOTICE_TIMEOUT_MS, rcpt, &mail,
					   &sent_as, &why)) {
		case 1:
			free(sent_as);
			ret = 0;
			break;
		case 0:
			*error_r = om_asprintf("code mail refused: %s", why);
			free(why);
			break;
		default:
			*error_r = why;
			break;
		}
	}
	if (mail.data != NULL)
		explicit_bzero(mail.data, mail.len);
	om_buf_free(&mail);
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	free(text);
	free(from);
	free(lang);
	return ret;
}

void filter_portal_code_send(struct filter_daemon *d, struct om_store *store,
			     const char *args, struct om_buf *answer)
{
	struct filter_portal_row row;
	char id[OM_VAULT_ID_MAX + 1], code[8], hash[OM_VAULT_CODE_HASH_LEN + 1];
	unsigned char key[OM_VAULT_CODE_KEY_LEN];
	const struct om_link_keys *keys;
	const char *rcpt = strchr(args, ' ');
	char *error = NULL;
	long long now = (long long)time(NULL);

	memset(&row, 0, sizeof(row));
	if (rcpt == NULL || (size_t)(rcpt - args) > OM_VAULT_ID_MAX) {
		om_buf_append_str(answer, "STATE none\n");
		return;
	}
	snprintf(id, sizeof(id), "%.*s", (int)(rcpt - args), args);
	rcpt++;
	row.recipient = rcpt;
	if (!om_vault_id_valid(id)) {
		om_buf_append_str(answer, "STATE none\n");
		return;
	}
	if (om_store_portal_get(store, id, filter_portal_row_cb, &row, &error) < 0) {
		om_log_error("portal %s: %s", id, error);
		om_buf_append_str(answer, "FAIL store\n");
		goto out;
	}
	if (!row.found || !row.listed) {
		om_buf_append_str(answer, "STATE none\n");
		goto out;
	}
	if (row.revoked || row.expires <= now) {
		om_buf_printf(answer, "STATE %s\n", row.revoked ? "revoked" : "expired");
		goto out;
	}
	/* the code's hash is keyed with omamori-web's link key (its file,
	   not the store): without it no code is made */
	keys = filter_hold_keys(d);
	if (keys == NULL || om_vault_code_key(keys, key) < 0) {
		om_log_error("portal %s: no web_key_path key: no one-time code", id);
		om_buf_append_str(answer, "FAIL key\n");
		goto out;
	}
	/* a locked link stays locked (code_set keeps the wrong tries) and
	   gets no new code: no mail, so the link cannot be used to flood
	   the recipient */
	om_vault_code_new(code);
	om_vault_code_hash(key, id, rcpt, code, hash);
	explicit_bzero(key, sizeof(key));
	switch (om_store_portal_code_set(store, id, rcpt, hash,
					 now + FILTER_PORTAL_CODE_SECONDS,
					 FILTER_PORTAL_CODE_TRIES, &error)) {
	case 1:
		break;
	case 0:
		om_log_info("portal %s: <%s> asked a code on a locked link: none sent", id, rcpt);
		om_buf_append_str(answer, "STATE locked\n");
		goto out;
	default:
		om_log_error("portal %s: %s", id, error);
		om_buf_append_str(answer, "FAIL store\n");
		goto out;
	}
	if (filter_portal_code_mail(d, store, &row, rcpt, code, &error) < 0) {
		om_log_error("portal %s: code to <%s> not sent: %s", id, rcpt, error);
		om_buf_append_str(answer, "FAIL mail\n");
		goto out;
	}
	om_log_info("portal %s: a one-time code sent to <%s>", id, rcpt);
	(void)om_store_portal_view_add(store, id, rcpt, "code sent", now, &error);
	om_buf_append_str(answer, "OK sent\n");
out:
	explicit_bzero(code, sizeof(code));
	free(error);
	free(row.sender);
	free(row.subject);
}

int filter_portal_blocks_release(struct om_store *store, const char *sender,
				 char **rcpts, size_t count, char **error_r)
{
	struct filter_envelope env;
	unsigned char *portal;
	int ret;

	if (count == 0)
		return 0;
	memset(&env, 0, sizeof(env));
	env.sender = (char *)sender;
	env.rcpts = rcpts;
	env.rcpt_count = count;
	portal = om_calloc(count, 1);
	ret = filter_portal_wanted(store, &env, portal, error_r);
	free(portal);
	return ret != 0;
}
