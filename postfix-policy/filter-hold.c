/* filter-hold.c - outbound-hold in omamori-filter: outgoing mail held for
 * its sender's confirmation (一時保留; seeds 001, 003; doc/outbound.md).
 *
 * When the sender's mailbox subscribes to outbound-hold and the mail meets
 * the hold-when conditions, the copy for the held recipients (the external
 * ones, or all when hold-when does not say "external") is written to
 * filter_spool/hold-ID (fsync'd, file and directory) and recorded in the
 * store (holds) before Postfix hears 250; the other recipients get the mail
 * at once (filter-deliver.c).  The id (the caller's) comes from Postfix's
 * queue id and the message's hash, or from the before-queue key when
 * omamori-submit zipped the message (its ZIP password has the same id, so
 * the recipients' button waits for the hold), so a retry of the same
 * delivery finds the hold and does not make a second one.  The sender gets a notice (templates/<lang>/
 * hold-notice.txt) with signed links to omamori-web's /h/ and /hl/ pages;
 * it goes out through the re-injection smtpd from <>, which asks no policy,
 * so it is never filtered nor held itself.
 *
 * Releasing and discarding are this process's too (it alone may re-inject
 * and touch the spool): omamori-web, omamorictl hold and omamorictl cron
 * ask over filter_control (quarantine/hold.h).  A release claims the hold
 * in one write transaction (held -> sending), re-injects it, renames the
 * spool file .sent at Postfix's 250 and records sent: two requests at the
 * same moment send it once.  The released copy carries the exactly-once
 * key "hold-ID" (X-Omamori-Out-Id, dedup-mark.h): omamori-dedup marks it
 * when Postfix queues the copy and discards a second copy, so a kill -9
 * between Postfix's queueing and the .sent rename does not send it twice.
 * At start-up a hold left "sending" by a crash is sent (its .sent file or
 * the milter's mark says so) or held again (this node's holds only).
 *
 * Several hosts on one store (doc/scaling.md): a hold records its node
 * (node_name, else the hostname), whose spool alone has the copy.  A
 * request here for another node's hold is recorded in the store instead
 * (release-asked, discard-asked: the same once-only claim) and answered
 * ASKED; a thread takes this node's requests at start-up, at the store's
 * change notification and every 5 s, and releases or discards them as a
 * local request does.
 *
 * The same socket serves outbound-zip's ZIPPASS (filter-zip.c: the
 * archive's password mailed to its recipients, once).
 *
 * SECURITY: the control socket is made as root (filter_user's, mode 0660)
 * and only root and web_user may use it (peer credentials on every
 * connection); a request names a hold (or kept password's) id and
 * nothing else.  The link key
 * (web_key_path) is read as root before the privilege drop.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/token.h"
#include "dedup-mark.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "quarantine/hold.h"
#include "store/admins.h"
#include "store/settings.h"
#include "store/store.h"

#define FILTER_HOLD_THREADS 2
#define FILTER_HOLD_SUBJECT_MAX 200
#define FILTER_HOLD_NAME_MAX 120
#define FILTER_HOLD_ATTACHMENTS_MAX 50
#define FILTER_HOLD_MAX_PARTS 200
#define FILTER_HOLD_REINJECT_TIMEOUT_MS 120000
#define FILTER_HOLD_LIST_GRACE 86400	/* the /hl/ link outlives the hold */
#define FILTER_HOLD_ASKED_SWEEP_MS 5000	/* requests of other nodes, at least */

struct filter_hold_daemon {
	struct filter_daemon *d;
	int control_fd;
	uid_t web_uid;
	struct om_link_keys keys;	/* the outbound daemons' alone */
	int have_keys;
	pthread_t threads[FILTER_HOLD_THREADS];
	int started;
	char node[256];		/* node_name, or the hostname */
	pthread_t asked_thread;	/* takes what other nodes asked of this one */
	int asked_started;
};

/* What the sender's settings ask for. */
struct filter_hold_plan {
	int external, attachment;
	long min_rcpts, minutes;
	char *expiry;
	char *internal;		/* internal-domains */
};

/* This host's node name (what its holds record: their copy is in its
   spool), "" before the setup. */
static const char *filter_hold_node(const struct filter_daemon *d)
{
	return d->hold != NULL ? d->hold->node : "";
}

/* ---- the decision ---- */

static const char *filter_hold_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/* 1 if rcpt is inside: the sender's domain or one of internal-domains. */
static int filter_hold_internal(const char *sender, const char *internal,
				const char *rcpt)
{
	const char *domain = filter_hold_domain(rcpt);

	if (*domain == '\0')
		return 1;	/* a local name: never leaves */
	return strcasecmp(domain, filter_hold_domain(sender)) == 0 ||
		om_settings_domain_in(internal, domain);
}

static int filter_hold_plan_for(struct om_store *store, const char *mailbox,
				struct filter_hold_plan *plan, char **error_r)
{
	char *value, *word, *save = NULL;

	memset(plan, 0, sizeof(*plan));
	value = om_settings_domain_value(store, mailbox, OM_SETTING_HOLD_WHEN,
					 OM_DEFAULT_HOLD_WHEN, error_r);
	if (value == NULL)
		return -1;
	if (strcmp(value, "none") == 0)
		plan->min_rcpts = -1;	/* never */
	for (word = strtok_r(value, " ", &save); word != NULL;
	     word = strtok_r(NULL, " ", &save)) {
		if (strcmp(word, "external") == 0)
			plan->external = 1;
		else if (strcmp(word, "attachment") == 0)
			plan->attachment = 1;
	}
	free(value);
	if (plan->min_rcpts < 0)
		return 0;
	value = om_settings_domain_value(store, mailbox, OM_SETTING_HOLD_MIN_RECIPIENTS,
					 "0", error_r);
	if (value == NULL)
		return -1;
	plan->min_rcpts = om_settings_number(value, 0);
	free(value);
	value = om_settings_domain_value(store, mailbox, OM_SETTING_HOLD_MINUTES, "", error_r);
	if (value == NULL)
		return -1;
	plan->minutes = om_settings_number(value, OM_DEFAULT_HOLD_MINUTES);
	if (plan->minutes < 1 || plan->minutes > 1440)
		plan->minutes = OM_DEFAULT_HOLD_MINUTES;
	free(value);
	plan->expiry = om_settings_domain_value(store, mailbox, OM_SETTING_HOLD_EXPIRY,
						OM_DEFAULT_HOLD_EXPIRY, error_r);
	if (plan->expiry == NULL)
		return -1;
	plan->internal = om_settings_domain_value(store, mailbox,
						  OM_SETTING_INTERNAL_DOMAINS, "none",
						  error_r);
	if (plan->internal == NULL) {
		om_free(&plan->expiry);
		return -1;
	}
	return 0;
}

static void filter_hold_plan_free(struct filter_hold_plan *plan)
{
	om_free(&plan->expiry);
	om_free(&plan->internal);
}

/* The decoded subject and the attachments ("name\tsize\n" each) of msg;
   *count_r the number of attachments. */
static void filter_hold_describe(const char *msg, size_t len, char **subject_r,
				 struct om_buf *attachments, size_t *count_r)
{
	struct om_mime_leaf *leaves = NULL;
	struct om_mime_msg *m;
	struct om_buf decoded;
	char *error = NULL, *reason = NULL, *raw, *name;
	size_t i, count = 0;

	*subject_r = NULL;
	*count_r = 0;
	m = om_mime_parse(msg, len, &error);
	if (m == NULL) {
		free(error);
		*subject_r = om_strdup("");
		return;
	}
	raw = om_mime_header_decoded(m, "Subject");
	*subject_r = om_sanitize(raw != NULL ? raw : "", FILTER_HOLD_SUBJECT_MAX);
	free(raw);
	if (om_mime_collect(m, FILTER_HOLD_MAX_PARTS, 20, &leaves, &count, &reason) < 0)
		count = 0;
	free(reason);
	om_buf_init(&decoded);
	for (i = 0; i < count; i++) {
		if (leaves[i].filename == NULL || leaves[i].is_body)
			continue;
		(*count_r)++;
		if (*count_r > FILTER_HOLD_ATTACHMENTS_MAX)
			continue;
		om_buf_reset(&decoded);
		if (om_mime_leaf_decode(&leaves[i], &decoded, &error) < 0)
			om_free(&error);
		name = om_sanitize(leaves[i].filename, FILTER_HOLD_NAME_MAX);
		/* a tab or newline in a name would break the list */
		for (raw = name; *raw != '\0'; raw++) {
			if (*raw == '\t' || *raw == '\n')
				*raw = ' ';
		}
		om_buf_printf(attachments, "%s\t%zu\n", name, decoded.len);
		free(name);
	}
	om_buf_free(&decoded);
	om_mime_leaves_free(&leaves, count);
	om_mime_free(&m);
}

/* ---- the spool ---- */

/* filter_spool/hold-ID: the sender on the first line, then the message;
   durable (file and directory fsync'd) when this returns 0. */
static int filter_hold_spool_write(struct filter_daemon *d, const char *id,
				   const char *sender, const char *msg,
				   size_t len, char **error_r)
{
	char name[OM_HOLD_LINE_MAX + 16];
	int fd, saved;

	snprintf(name, sizeof(name), "hold-%s", id);
	fd = openat(d->spool_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = om_asprintf("spool %s/%s: %s", d->config->filter_spool,
				       name, strerror(errno));
		return -1;
	}
	if (om_write_all(fd, sender, strlen(sender)) < 0 ||
	    om_write_all(fd, "\n", 1) < 0 ||
	    om_write_all(fd, msg, len) < 0 ||
	    fsync(fd) < 0 || fsync(d->spool_fd) < 0) {
		saved = errno;
		close(fd);
		*error_r = om_asprintf("spool %s/%s: %s", d->config->filter_spool,
				       name, strerror(saved));
		return -1;
	}
	if (close(fd) < 0) {
		*error_r = om_asprintf("spool %s/%s: close: %s", d->config->filter_spool,
				       name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads filter_spool/hold-ID (or its .sent) into out, without the sender
   line; 0 or -1. */
static int filter_hold_spool_read(struct filter_daemon *d, const char *id,
				  struct om_buf *out, char **error_r)
{
	char name[OM_HOLD_LINE_MAX + 16], buf[65536], *nl;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "hold-%s", id);
	fd = openat(d->spool_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = om_asprintf("spool %s/%s: %s", d->config->filter_spool,
				       name, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = om_asprintf("spool %s/%s: %s", d->config->filter_spool,
					       name, strerror(errno));
			close(fd);
			return -1;
		}
		om_buf_append(out, buf, (size_t)n);
	}
	close(fd);
	nl = out->len > 0 ? memchr(out->data, '\n', out->len) : NULL;
	if (nl == NULL) {
		*error_r = om_asprintf("spool %s/%s: no sender line", d->config->filter_spool,
				       name);
		return -1;
	}
	n = nl + 1 - out->data;
	memmove(out->data, out->data + n, out->len - (size_t)n);
	out->len -= (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}

static void filter_hold_spool_unlink(struct filter_daemon *d, const char *id,
				     const char *suffix)
{
	char name[OM_HOLD_LINE_MAX + 16];

	snprintf(name, sizeof(name), "hold-%s%s", id, suffix);
	if (unlinkat(d->spool_fd, name, 0) < 0 && errno != ENOENT)
		om_log_warn("hold %s: removing %s: %s", id, name, strerror(errno));
}

/* ---- the sender's notice ---- */

static char *filter_hold_token(const struct filter_hold_daemon *h,
			       const char *mailbox, const char *action,
			       const char *message, time_t expires)
{
	struct om_token_claims c;

	memset(&c, 0, sizeof(c));
	if (om_strlcpy(c.mailbox, mailbox, sizeof(c.mailbox)) < 0 ||
	    om_strlcpy(c.action, action, sizeof(c.action)) < 0 ||
	    om_strlcpy(c.message, message, sizeof(c.message)) < 0)
		return NULL;
	c.expires = expires;
	return om_token_make(&h->keys, &c);
}

/* web_url + path + token, with one "/" between. */
static char *filter_hold_link(const struct om_config *config, const char *path,
			      const char *token)
{
	size_t len = strlen(config->web_url);

	return om_asprintf("%s%s%s%s", config->web_url,
			   len > 0 && config->web_url[len - 1] == '/' ? "" : "/",
			   path, token);
}

char *filter_link(struct filter_daemon *d, const char *path, const char *mailbox,
		  const char *action, const char *message, time_t expires)
{
	struct filter_hold_daemon *h = d->hold;
	char *token, *link;

	if (h == NULL || !h->have_keys)
		return NULL;
	token = filter_hold_token(h, mailbox, action, message, expires);
	if (token == NULL)
		return NULL;
	link = filter_hold_link(d->config, path, token);
	free(token);
	return link;
}

/* The list of held recipients for a notice: "  - a@b" lines. */
static char *filter_hold_rcpt_lines(const char *recipients)
{
	struct om_buf b;
	const char *p = recipients;
	size_t len;
	char *one;

	om_buf_init(&b);
	while (*p != '\0') {
		len = strcspn(p, "\n");
		one = om_strndup(p, len);
		om_buf_printf(&b, "  - %s\n", one);
		free(one);
		p += len;
		if (*p == '\n')
			p++;
	}
	if (b.data == NULL)
		om_buf_append_str(&b, "");
	return b.data;
}

/* Sends the notice to the sender's mailbox through the re-injection, from
   <>; 0 sent, -1 not (logged; the hold stands all the same). */
static int filter_hold_notify(struct filter_worker *w, const struct om_store_hold *hold)
{
	const struct om_config *config = w->daemon->config;
	struct filter_hold_daemon *h = w->daemon->hold;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf mail;
	char *lang, *tok1, *tok2, *link1 = NULL, *link2 = NULL, *text = NULL,
		*error = NULL, *rcpts, *expires, *minutes, *from, *qid = NULL;
	const char *subject, *body;
	int ret = -1;

	if (h == NULL || !h->have_keys) {
		om_log_warn("hold %s: no link key (web_key_path): no notice sent", hold->id);
		return -1;
	}
	lang = om_settings_domain_value(w->store, hold->mailbox, "language",
					config->default_language, &error);
	if (lang == NULL) {
		om_log_warn("hold %s: notice: %s", hold->id, error);
		free(error);
		return -1;
	}
	tok1 = filter_hold_token(h, hold->mailbox, "hold", hold->id, (time_t)hold->expires);
	tok2 = filter_hold_token(h, hold->mailbox, "holds", "",
				 (time_t)hold->expires + FILTER_HOLD_LIST_GRACE);
	if (tok1 != NULL && tok2 != NULL) {
		link1 = filter_hold_link(config, "h/", tok1);
		link2 = filter_hold_link(config, "hl/", tok2);
	}
	rcpts = filter_hold_rcpt_lines(hold->recipients);
	expires = om_notify_time_text((time_t)hold->expires);
	minutes = om_asprintf("%lld", (hold->expires - hold->created + 59) / 60);
	{
		struct om_notify_var vars[] = {
			{ "subject", hold->subject },
			{ "recipients", rcpts },
			{ "expires", expires },
			{ "minutes", minutes },
			{ "expiry", om_notify_hold_expiry_text(hold->expiry, lang) },
			{ "hold_link", link1 != NULL ? link1 : "" },
			{ "list_link", link2 != NULL ? link2 : "" },
			{ NULL, NULL }
		};

		if (link1 != NULL)
			text = om_notify_render_branded(config->templates_dir, lang,
							"hold-notice", vars, &brand, &error);
		else
			error = om_strdup("a link token cannot be made for this mailbox");
	}
	if (text == NULL || om_notify_split_mail(text, &subject, &body) < 0) {
		om_log_warn("hold %s: notice: %s", hold->id,
			    error != NULL ? error : "no Subject line in hold-notice.txt");
		goto out;
	}
	from = filter_notice_from(config, hold->mailbox);
	om_buf_init(&mail);
	/* never answered automatically, and never held: the re-injection asks
	   no policy, so no FILTER applies to it */
	om_buf_printf(&mail, "Auto-Submitted: auto-generated\nX-Omamori-Hold: %s\n", hold->id);
	om_mime_build_text_mail(from, hold->mailbox, subject, body, &mail);
	switch (filter_smtp_notice(config->filter_reinject, FILTER_HOLD_REINJECT_TIMEOUT_MS,
				   hold->mailbox, &mail, &qid, &error)) {
	case 1:
		om_log_info("hold %s: notice sent to %s as %s", hold->id,
			    hold->mailbox, qid);
		ret = 0;
		break;
	case 0:
		om_log_warn("hold %s: notice to %s refused: %s", hold->id,
			    hold->mailbox, error);
		break;
	default:
		om_log_warn("hold %s: notice to %s: %s", hold->id, hold->mailbox, error);
		break;
	}
	free(qid);
	om_buf_free(&mail);
	free(from);
out:
	free(error);
	free(text);
	free(lang);
	free(tok1);
	free(tok2);
	free(link1);
	free(link2);
	free(rcpts);
	free(expires);
	free(minutes);
	return ret;
}

/* ---- holding one message (called by filter-deliver.c) ---- */

struct filter_hold_found {
	int found;
	int notified;
	enum om_hold_state state;
};

static void filter_hold_found_cb(void *context, const struct om_store_hold *h)
{
	struct filter_hold_found *f = context;

	f->found = 1;
	f->notified = h->notified;
	f->state = h->state;
}

int filter_hold(struct filter_worker *w, const struct filter_envelope *env,
		const char *msg, size_t len, const char *qid, const char *hold_id,
		unsigned char *held, char **id_r, char **error_r)
{
	struct filter_hold_plan plan;
	struct filter_hold_found found = { 0, 0, OM_HOLD_NONE };
	struct om_store_hold hold;
	struct om_buf rcpts, delivered, attachments;
	char *subject = NULL, id[OM_HOLD_ID_MAX + 1];
	size_t i, nheld = 0, nattach = 0;
	long long now = (long long)time(NULL);
	int ret = -1;

	*id_r = NULL;
	memset(held, 0, env->rcpt_count);
	if (*env->sender == '\0')
		return 0;
	if (filter_hold_plan_for(w->store, env->sender, &plan, error_r) < 0)
		return -1;
	om_buf_init(&rcpts);
	om_buf_init(&delivered);
	om_buf_init(&attachments);
	if (plan.min_rcpts < 0 || (long)env->rcpt_count < plan.min_rcpts) {
		ret = 0;
		goto out;
	}
	for (i = 0; i < env->rcpt_count; i++) {
		held[i] = !plan.external ||
			!filter_hold_internal(env->sender, plan.internal, env->rcpts[i]);
		if (held[i])
			nheld++;
	}
	if (nheld == 0) {
		ret = 0;
		goto out;
	}
	filter_hold_describe(msg, len, &subject, &attachments, &nattach);
	if (plan.attachment && nattach == 0) {
		memset(held, 0, env->rcpt_count);
		ret = 0;
		goto out;
	}
	for (i = 0; i < env->rcpt_count; i++)
		om_buf_printf(held[i] ? &rcpts : &delivered, "%s\n", env->rcpts[i]);
	snprintf(id, sizeof(id), "%s", hold_id);
	/* a retry finds its hold: nothing is written or recorded twice */
	if (om_store_hold_list(w->store, OM_HOLD_BY_ID, id, 0, filter_hold_found_cb,
			       &found, error_r) < 0)
		goto out;
	memset(&hold, 0, sizeof(hold));
	hold.id = id;
	hold.mailbox = env->sender;
	hold.sender = env->sender;
	hold.recipients = rcpts.data != NULL ? rcpts.data : "";
	hold.delivered = delivered.data != NULL ? delivered.data : "";
	hold.subject = subject;
	hold.attachments = attachments.data != NULL ? attachments.data : "";
	hold.size = (long long)len;
	hold.flags = (env->body_8bit ? OM_HOLD_FLAG_8BIT : 0) |
		(env->smtputf8 ? OM_HOLD_FLAG_SMTPUTF8 : 0);
	hold.created = now;
	hold.expires = now + plan.minutes * 60;
	hold.expiry = plan.expiry;
	hold.node = filter_hold_node(w->daemon);
	if (!found.found) {
		if (filter_hold_spool_write(w->daemon, id, env->sender, msg, len, error_r) < 0 ||
		    om_store_hold_add(w->store, &hold, error_r) < 0)
			goto out;
		om_log_info("%s: hold %s: from=<%s> held=%zu now=%zu expires=%lld expiry=%s "
			    "attachments=%zu", qid, id, env->sender, nheld,
			    env->rcpt_count - nheld, hold.expires, plan.expiry, nattach);
	} else {
		om_log_info("%s: hold %s recorded before (%s): not held again", qid, id,
			    om_store_hold_state_name(found.state));
	}
	if (!found.notified && filter_hold_notify(w, &hold) == 0 &&
	    om_store_hold_notified(w->store, id, error_r) < 0) {
		om_log_warn("hold %s: marking notified: %s", id, *error_r);
		om_free(error_r);
	}
	*id_r = om_strdup(id);
	ret = 1;
out:
	free(subject);
	om_buf_free(&rcpts);
	om_buf_free(&delivered);
	om_buf_free(&attachments);
	filter_hold_plan_free(&plan);
	return ret;
}

/* ---- holds for the administrator (outbound-spam, the brake) ---- */

int filter_hold_admin(struct filter_worker *w, const struct filter_envelope *env,
		      const char *msg, size_t len, const char *qid, const char *hold_id,
		      const char *kind, const char *details, int zip_at_release,
		      char **id_r, int *notified_r, char **error_r)
{
	struct filter_hold_found found = { 0, 0, OM_HOLD_NONE };
	struct om_store_hold hold;
	struct om_buf rcpts, attachments;
	char *subject = NULL, id[OM_HOLD_ID_MAX + 1];
	size_t i, nattach = 0;
	long long now = (long long)time(NULL);
	int ret = -1;

	*id_r = NULL;
	*notified_r = 0;
	om_buf_init(&rcpts);
	om_buf_init(&attachments);
	for (i = 0; i < env->rcpt_count; i++)
		om_buf_printf(&rcpts, "%s\n", env->rcpts[i]);
	snprintf(id, sizeof(id), "%s", hold_id);
	if (om_store_hold_list(w->store, OM_HOLD_BY_ID, id, 0, filter_hold_found_cb,
			       &found, error_r) < 0)
		goto out;
	if (!found.found) {
		filter_hold_describe(msg, len, &subject, &attachments, &nattach);
		memset(&hold, 0, sizeof(hold));
		hold.id = id;
		hold.mailbox = env->sender;
		hold.sender = env->sender;
		hold.recipients = rcpts.data != NULL ? rcpts.data : "";
		hold.delivered = "";
		hold.subject = subject;
		hold.attachments = attachments.data != NULL ? attachments.data : "";
		hold.size = (long long)len;
		hold.flags = (env->body_8bit ? OM_HOLD_FLAG_8BIT : 0) |
			(env->smtputf8 ? OM_HOLD_FLAG_SMTPUTF8 : 0) |
			(zip_at_release ? OM_HOLD_FLAG_ZIP_AT_RELEASE : 0);
		/* never due: the administrator's until released or discarded */
		hold.created = hold.expires = now;
		hold.expiry = "admin";
		hold.kind = kind;
		hold.details = details;
		hold.node = filter_hold_node(w->daemon);
		if (filter_hold_spool_write(w->daemon, id, env->sender, msg, len, error_r) < 0 ||
		    om_store_hold_add(w->store, &hold, error_r) < 0)
			goto out;
		om_log_info("%s: hold %s: for the administrator (%s): from=<%s> nrcpt=%zu %s",
			    qid, id, kind, env->sender, env->rcpt_count, details);
	} else {
		*notified_r = found.notified;
		om_log_info("%s: hold %s recorded before (%s): not held again", qid, id,
			    om_store_hold_state_name(found.state));
	}
	*id_r = om_strdup(id);
	ret = 1;
out:
	free(subject);
	om_buf_free(&rcpts);
	om_buf_free(&attachments);
	return ret;
}

/* The address of mailbox's domain administrator: outbound-admin, else
   virus-admin-copy; NULL when neither is set (or on error, logged). */
static char *filter_hold_admin_address(struct om_store *store, const char *mailbox)
{
	static const char *const names[] = { OM_SETTING_OUTBOUND_ADMIN, "virus-admin-copy" };
	char *value, *error = NULL;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(names); i++) {
		value = om_settings_domain_value(store, mailbox, names[i], "off", &error);
		if (value == NULL) {
			om_log_warn("%s of %s: %s", names[i], mailbox, error);
			free(error);
			return NULL;
		}
		if (strcmp(value, "off") != 0 && strchr(value, '@') != NULL)
			return value;
		free(value);
	}
	return NULL;
}

int filter_hold_alert(struct filter_worker *w, const char *mailbox,
		      const char *template_name, const struct om_notify_var *vars,
		      const char *tag)
{
	const struct om_config *config = w->daemon->config;
	struct om_notify_brand brand = { config->brand_name, config->brand_support };
	struct om_buf mail;
	char *admin, *lang, *text = NULL, *error = NULL, *from, *qid = NULL, *seal;
	const char *subject, *body;
	int ret = -1;

	admin = filter_hold_admin_address(w->store, mailbox);
	if (admin == NULL) {
		om_log_warn("%s: no outbound-admin nor virus-admin-copy for %s: "
			    "the administrator is not told", tag, mailbox);
		return 0;
	}
	lang = om_settings_domain_value(w->store, mailbox, "language",
					config->default_language, &error);
	if (lang != NULL)
		text = om_notify_render_branded(config->templates_dir, lang, template_name,
						vars, &brand, &error);
	if (text == NULL || om_notify_split_mail(text, &subject, &body) < 0) {
		om_log_error("%s: alert %s: %s", tag, template_name,
			     error != NULL ? error : "no Subject line");
		goto out;
	}
	from = filter_notice_from(config, mailbox);
	om_buf_init(&mail);
	/* from <>, through the re-injection, which asks no policy: never
	   filtered, held or braked itself */
	seal = filter_report_seal_header(w->store, admin, tag);
	om_buf_printf(&mail, "Auto-Submitted: auto-generated\nX-Omamori-Alert: %s\n%s",
		      template_name, seal);
	free(seal);
	om_mime_build_text_mail(from, admin, subject, body, &mail);
	switch (filter_smtp_notice(config->filter_reinject, FILTER_HOLD_REINJECT_TIMEOUT_MS,
				   admin, &mail, &qid, &error)) {
	case 1:
		om_log_info("%s: alert %s sent to %s as %s", tag, template_name,
			    admin, qid);
		ret = 1;
		break;
	case 0:
		om_log_error("%s: alert to %s refused: %s", tag, admin, error);
		break;
	default:
		om_log_error("%s: alert to %s: %s", tag, admin, error);
		break;
	}
	free(qid);
	om_buf_free(&mail);
	free(from);
out:
	free(error);
	free(text);
	free(lang);
	free(admin);
	return ret;
}

/* ---- release and discard (the control socket) ---- */

struct filter_hold_copy {
	int found;
	char *sender, *recipients;
	int flags;
};

static void filter_hold_copy_cb(void *context, const struct om_store_hold *h)
{
	struct filter_hold_copy *c = context;

	c->found = 1;
	c->sender = om_strdup(h->sender);
	c->recipients = om_strdup(h->recipients);
	c->flags = h->flags;
}

/* The release's exactly-once key (dedup-mark.h): "hold-ID".  The copy
   carries it, omamori-dedup marks it when Postfix queues the copy and
   discards a second copy: a kill -9 between Postfix's queueing and the
   .sent rename cannot send a hold twice.  0, or -1 when the id cannot be
   a key (then the release goes without one, as before). */
static int filter_hold_key(const char *id, char *key, size_t size)
{
	int n = snprintf(key, size, "hold-%s", id);

	return n > 0 && (size_t)n < size && om_dedup_key_ok(key) ? 0 : -1;
}

/* 1 if the hold's copy is in Postfix already (the mark of an earlier
   release whose answer was lost), with its queue id in qid. */
static int filter_hold_queued(struct filter_daemon *d, const char *id, char *qid,
			      size_t size)
{
	char key[OM_DEDUP_KEY_MAX + 1];
	struct om_dedup_mark mark;

	if (filter_hold_key(id, key, sizeof(key)) < 0 ||
	    om_dedup_mark_read(d->spool_fd, key, &mark) <= 0)
		return 0;
	snprintf(qid, size, "%s", mark.queue_id);
	return 1;
}

/* Re-injects the held copy with its key; 0 with *res (and *outcome_r:
   "sent as " or "already queued before as ", *qid_r the copy's queue
   id) or -1 with *error_r.  A refused copy's mark is taken back. */
static int filter_hold_reinject(struct filter_daemon *d, const char *id,
				const struct filter_hold_copy *copy, char *const *rcpts,
				size_t count, const struct om_buf *msg,
				struct filter_reply *replies, struct filter_smtp_result *res,
				const char **outcome_r, char *qid, size_t qid_size,
				char **error_r)
{
	struct filter_smtp_conn *conn = NULL;
	struct filter_smtp_msg m;
	struct om_dedup_mark mark;
	char key[OM_DEDUP_KEY_MAX + 1], attempt[OM_DEDUP_ATTEMPT_LEN + 1], *header = NULL;
	int keyed, ret;

	keyed = filter_hold_key(id, key, sizeof(key)) == 0 &&
		filter_attempt_id(attempt) == 0;
	if (!keyed)
		om_log_warn("hold %s: released without an exactly-once key", id);
	else
		header = om_asprintf("%s: %s %s\n", OM_DEDUP_HEADER, key, attempt);
	memset(&m, 0, sizeof(m));
	m.sender = copy->sender;
	m.rcpts = rcpts;
	m.rcpt_count = count;
	m.body_8bit = (copy->flags & OM_HOLD_FLAG_8BIT) != 0;
	m.smtputf8 = (copy->flags & OM_HOLD_FLAG_SMTPUTF8) != 0;
	m.header = header;
	m.msg = msg->data;
	m.len = msg->len;
	ret = filter_smtp_send_cached(&conn, d->config->filter_reinject,
				      FILTER_HOLD_REINJECT_TIMEOUT_MS, &m, replies, res,
				      error_r);
	filter_smtp_conn_close(&conn);
	free(header);
	if (ret < 0)
		return -1;
	*outcome_r = "sent as ";
	snprintf(qid, qid_size, "%s", res->queue_id != NULL ? res->queue_id : "?");
	if (!keyed)
		return 0;
	if (res->final_code != 250) {
		if (res->final_code != 0 &&
		    om_dedup_mark_clear(d->spool_fd, key, attempt) < 0)
			om_log_error("hold %s: taking back the mark: %s", id, strerror(errno));
		return 0;
	}
	if (om_dedup_mark_read(d->spool_fd, key, &mark) > 0) {
		if (strcmp(mark.attempt, attempt) != 0)
			*outcome_r = "already queued before as ";
		snprintf(qid, qid_size, "%s", mark.queue_id);
	}
	return 0;
}

/* outbound-zip of a mail held before it (for the administrator): the
   sender's settings now, the password notice now (filter-zip.c; its
   password is kept under the hold's id, so that a second release after a
   failed one gets the same).  msg rewritten when zipped.  0 or -1. */
static int filter_hold_zip(struct filter_daemon *d, struct om_store *store,
			   const char *id, const struct filter_hold_copy *copy,
			   char **rcpts, size_t count, struct om_buf *msg,
			   char **error_r)
{
	struct filter_worker w;
	struct filter_envelope env;
	struct om_buf out;
	int ret;

	memset(&w, 0, sizeof(w));
	w.daemon = d;
	w.store = store;
	memset(&env, 0, sizeof(env));
	env.queue_id = (char *)"";
	env.xforward = (char *)"";
	env.sender = copy->sender;
	env.rcpts = rcpts;
	env.rcpt_count = count;
	env.body_8bit = (copy->flags & OM_HOLD_FLAG_8BIT) != 0;
	env.smtputf8 = (copy->flags & OM_HOLD_FLAG_SMTPUTF8) != 0;
	om_buf_init(&out);
	ret = filter_zip(&w, &env, id, id, msg->data, msg->len, &out, error_r);
	if (ret > 0) {
		om_buf_free(msg);
		*msg = out;
	} else {
		om_buf_free(&out);
	}
	return ret < 0 ? -1 : 0;
}

/* Sends a hold already claimed (state sending); writes the answer line. */
/* The message trace's step of a hold (filter-trace.c): the held copy's
   Message-ID ties it to the message's other steps (a hold's id is not
   always made of the queue id: omamori-submit's are not). */
static void filter_hold_trace(struct om_store *store, const char *sender,
			      const struct om_buf *msg, const char *step,
			      const char *result, const char *detail)
{
	struct filter_trace_msg t;

	memset(&t, 0, sizeof(t));
	if (msg != NULL && msg->len > 0)
		filter_trace_describe(&t, msg->data, msg->len);
	filter_trace(store, sender, "", NULL, &t, step, result, detail);
	filter_trace_msg_free(&t);
}

static void filter_hold_send(struct filter_daemon *d, struct om_store *store,
			     const char *id, struct om_buf *answer)
{
	struct filter_hold_copy copy = { 0, NULL, NULL, 0 };
	struct filter_reply *replies = NULL;
	struct filter_smtp_result res;
	struct om_buf msg;
	char **rcpts = NULL, *error = NULL, *result = NULL, sent[OM_HOLD_LINE_MAX + 16],
		name[OM_HOLD_LINE_MAX + 16], qid[OM_DEDUP_QID_MAX + 1];
	const char *outcome = "sent as ";
	size_t count = 0, i, ok = 0;
	long long now;
	int before;

	om_buf_init(&msg);
	memset(&res, 0, sizeof(res));
	if (om_store_hold_list(store, OM_HOLD_BY_ID, id, 0, filter_hold_copy_cb, &copy,
			       &error) < 0 || !copy.found ||
	    filter_hold_spool_read(d, id, &msg, &error) < 0) {
		om_log_error("hold %s: release: %s", id, error != NULL ? error : "not recorded");
		om_buf_printf(answer, "FAIL %s\n", "the held mail cannot be read");
		goto back;
	}
	rcpts = om_split_lines(copy.recipients, &count);
	replies = om_calloc(count > 0 ? count : 1, sizeof(*replies));
	/* an earlier release's copy is in Postfix (killed before the
	   rename): recorded sent, not sent again */
	before = filter_hold_queued(d, id, qid, sizeof(qid));
	/* outbound-portal: a held copy is the plaintext; never to an external
	   recipient (doc/portal.md): refused, fail closed */
	if (!before && filter_portal_blocks_release(store, copy.sender, rcpts, count,
						    &error) != 0) {
		om_log_error("hold %s: release refused: %s", id, error != NULL ? error :
			     "outbound-portal: external recipients");
		om_buf_printf(answer, "FAIL %s\n", "outbound-portal is on for the sender: "
			      "the held mail would reach external recipients in clear");
		goto back;
	}
	if (!before && (copy.flags & OM_HOLD_FLAG_ZIP_AT_RELEASE) != 0 &&
	    filter_hold_zip(d, store, id, &copy, rcpts, count, &msg, &error) < 0) {
		om_log_error("hold %s: release: the ZIP: %s", id, error);
		om_buf_printf(answer, "FAIL %s\n", "the attachments' ZIP failed");
		goto back;
	}
	if (before) {
		outcome = "already queued as ";
		for (i = 0; i < count; i++)
			replies[i].code = 250;
		om_log_info("hold %s: already in Postfix as %s: not sent again", id, qid);
	} else if (count == 0 ||
		   filter_hold_reinject(d, id, &copy, rcpts, count, &msg, replies, &res,
					&outcome, qid, sizeof(qid), &error) < 0) {
		om_log_error("hold %s: release: %s", id, error != NULL ? error : "no recipients");
		om_buf_printf(answer, "FAIL %s\n", "re-injection into Postfix failed");
		goto back;
	}
	if (!before && res.final_code != 250) {
		om_log_error("hold %s: release refused by Postfix: %d %s", id,
			     res.final_code, res.final_text != NULL ? res.final_text : "");
		filter_smtp_result_free(&res);
		om_buf_printf(answer, "FAIL %s\n", "Postfix refused the held mail");
		goto back;
	}
	/* sent: the rename first (survives a crash), then the store */
	snprintf(name, sizeof(name), "hold-%s", id);
	snprintf(sent, sizeof(sent), "hold-%s.sent", id);
	if (renameat(d->spool_fd, name, d->spool_fd, sent) < 0)
		om_log_warn("hold %s: marking sent: %s", id, strerror(errno));
	for (i = 0; i < count; i++)
		ok += replies[i].code == 250;
	result = om_asprintf("%s%s (%zu of %zu recipients)", outcome, qid, ok, count);
	now = (long long)time(NULL);
	if (om_store_hold_finish(store, id, OM_HOLD_SENT, result, now, &error) < 0) {
		om_log_error("hold %s: marking sent: %s", id, error);
		om_free(&error);
	} else {
		filter_hold_spool_unlink(d, id, ".sent");
	}
	if ((copy.flags & OM_HOLD_FLAG_ZIP_AT_RELEASE) != 0) {
		struct filter_worker w = { .daemon = d, .store = store };

		filter_zip_forget(&w, id);	/* the password kept for a retry */
	}
	om_log_info("hold %s: released: from=<%s> %s", id, copy.sender, result);
	filter_hold_trace(store, copy.sender, &msg, "send", "sent", result);
	om_buf_printf(answer, "OK %s\n", result);
	if (!before)
		filter_smtp_result_free(&res);
	goto out;
back:
	/* not sent: held again, for the next click or cron */
	om_free(&error);
	if (om_store_hold_finish(store, id, OM_HOLD_HELD, "release failed",
				 (long long)time(NULL), &error) < 0) {
		om_log_error("hold %s: putting back: %s", id, error);
		om_free(&error);
	}
out:
	for (i = 0; replies != NULL && i < count; i++)
		free(replies[i].text);
	free(replies);
	free(rcpts);
	free(result);
	free(copy.sender);
	free(copy.recipients);
	om_buf_free(&msg);
}

static void filter_hold_act(struct filter_daemon *d, struct om_store *store,
			    const char *id, int release, int by_root,
			    struct om_buf *answer);

struct filter_hold_admin_row {
	enum om_hold_state state;
	char *mailbox;
};

static void filter_hold_admin_row_cb(void *context, const struct om_store_hold *h)
{
	struct filter_hold_admin_row *r = context;

	r->state = h->state;
	free(r->mailbox);
	r->mailbox = om_strdup(h->mailbox);
}

/* ADMIN-RELEASE|ADMIN-DISCARD <id> <admin> (issue 18): acted on only when
   the hold is kept for the administrator and the store says admin holds
   the holds right in its sender's domain; else "STATE none" (nothing said
   of a hold that is not this admin's). */
static void filter_hold_admin_command(struct filter_daemon *d, struct om_store *store,
				      const char *line, struct om_buf *answer)
{
	struct filter_hold_admin_row row = { OM_HOLD_NONE, NULL };
	char *copy = om_strdup(line + 14), *admin, *error = NULL;
	int release = line[6] == 'R', rights = 0;

	admin = strchr(copy, ' ');
	if (admin != NULL)
		*admin++ = '\0';
	if (admin == NULL || !om_hold_id_valid(copy) ||
	    om_store_hold_list(store, OM_HOLD_BY_ID, copy, 0, filter_hold_admin_row_cb,
			       &row, &error) < 0 ||
	    (row.mailbox != NULL &&
	     (rights = om_admins_rights_of(store, admin, om_settings_domain_of(row.mailbox),
					   &error)) < 0)) {
		if (error != NULL) {
			om_log_error("hold %s: %s", copy, error);
			free(error);
			om_buf_append_str(answer, "FAIL store unavailable\n");
		} else {
			om_buf_append_str(answer, "STATE none\n");
		}
	} else if (row.mailbox == NULL || row.state != OM_HOLD_ADMIN ||
		   (rights & OM_ADMIN_HOLDS) == 0) {
		om_log_info("hold %s: %s by %s refused (state %s, right %s)", copy,
			    release ? "release" : "discard", admin,
			    om_store_hold_state_name(row.state),
			    (rights & OM_ADMIN_HOLDS) != 0 ? "yes" : "no");
		om_buf_printf(answer, "STATE %s\n", row.mailbox != NULL &&
			      (rights & OM_ADMIN_HOLDS) != 0 ?
			      om_store_hold_state_name(row.state) : "none");
	} else {
		om_log_info("hold %s: %s by the domain administrator %s", copy,
			    release ? "release" : "discard", admin);
		filter_hold_act(d, store, copy, release, 1, answer);
	}
	free(row.mailbox);
	free(copy);
}
static void filter_hold_discarded(struct filter_daemon *d, struct om_store *store,
				  const char *id, int by_root);

static void filter_hold_command(struct filter_daemon *d, struct om_store *store,
				const char *line, int by_root, struct om_buf *answer)
{
	const char *id;
	int release;

	if (strncmp(line, "ZIPPASS ", 8) == 0) {
		if (!om_hold_id_valid(line + 8))
			om_buf_append_str(answer, "STATE none\n");
		else
			filter_zip_password_send(d, store, line + 8, answer);
		return;
	}
	if (strncmp(line, "PORTALCODE ", 11) == 0) {
		filter_portal_code_send(d, store, line + 11, answer);
		return;
	}
	if (strncmp(line, "ADMIN-RELEASE ", 14) == 0 || strncmp(line, "ADMIN-DISCARD ", 14) == 0) {
		filter_hold_admin_command(d, store, line, answer);
		return;
	}
	if (strncmp(line, "RELEASE ", 8) == 0) {
		release = 1;
		id = line + 8;
	} else if (strncmp(line, "DISCARD ", 8) == 0) {
		release = 0;
		id = line + 8;
	} else {
		om_buf_append_str(answer, "FAIL unknown command\n");
		return;
	}
	if (!om_hold_id_valid(id)) {
		om_buf_append_str(answer, "STATE none\n");
		return;
	}
	filter_hold_act(d, store, id, release, by_root, answer);
}

/* Claims hold id (by_root: also one kept for the administrator) and sends
   or discards it, answering as the control protocol says. */
static void filter_hold_act(struct filter_daemon *d, struct om_store *store,
			    const char *id, int release, int by_root,
			    struct om_buf *answer)
{
	const char *node = filter_hold_node(d);
	enum om_hold_state state;
	char *error = NULL, *by;
	int ret;

	/* omamori-web acts for the sender: only on the sender's own holds
	   still waiting; the administrator's (spam, brake, kept at expiry)
	   are root's (omamorictl), or a domain administrator's whose right
	   the store confirms (ADMIN-*).  A hold whose copy is in another
	   node's spool is asked of that node, in the same claim. */
	by = om_asprintf("%s %s", node, by_root ? "root" : "sender");
	ret = om_store_hold_claim_on(store, id, release ? OM_HOLD_SENDING :
				     OM_HOLD_DISCARDED, !by_root, node, by,
				     (long long)time(NULL), &state, &error);
	free(by);
	if (ret < 0) {
		om_log_error("hold %s: %s", id, error);
		free(error);
		om_buf_append_str(answer, "FAIL store unavailable\n");
		return;
	}
	if (ret == 2) {
		om_log_info("hold %s: %s asked of the node holding its copy", id,
			    release ? "release" : "discard");
		om_buf_append_str(answer, "ASKED the host holding it\n");
		return;
	}
	if (ret == 0) {
		om_buf_printf(answer, "STATE %s\n", state == OM_HOLD_NONE ? "none" :
			      om_store_hold_state_name(state));
		return;
	}
	if (release) {
		filter_hold_send(d, store, id, answer);
		return;
	}
	filter_hold_discarded(d, store, id, by_root);
	filter_hold_spool_unlink(d, id, "");
	om_log_info("hold %s: discarded", id);
	om_buf_append_str(answer, "OK discarded\n");
}

/* A discard's step of the trace: the hold's sender read again (the
   claim changed only its state). */
static void filter_hold_discarded(struct filter_daemon *d, struct om_store *store,
				  const char *id, int by_root)
{
	struct filter_hold_copy copy = { 0, NULL, NULL, 0 };
	char *error = NULL, *detail;
	struct om_buf msg;

	om_buf_init(&msg);
	if (om_store_hold_list(store, OM_HOLD_BY_ID, id, 0, filter_hold_copy_cb, &copy,
			       &error) < 0 || !copy.found) {
		om_free(&error);
		return;
	}
	if (filter_hold_spool_read(d, id, &msg, &error) < 0)
		om_free(&error);	/* the step without its Message-ID */
	detail = om_asprintf("id %s, %s", id, by_root ?
			     "by the administrator or at expiry" : "by the sender");
	filter_hold_trace(store, copy.sender, &msg, "discard", "discarded", detail);
	free(detail);
	om_buf_free(&msg);
	free(copy.sender);
	free(copy.recipients);
}

/* 1 if root or web_user is at the other end (*root_r: root). */
static int filter_hold_peer_ok(struct filter_hold_daemon *h, int fd, int *root_r)
{
	struct om_daemon_peer peer;
	char *error = NULL;

	if (om_daemon_peer(fd, &peer, &error) < 0) {
		om_log_warn("control: peer credentials: %s", error);
		free(error);
		return 0;
	}
	*root_r = peer.uid == 0;
	if (peer.uid == 0 || peer.uid == h->web_uid)
		return 1;
	om_log_warn("control: refused uid %lu pid %ld: only root and %s may ask",
		    (unsigned long)peer.uid, (long)peer.pid, h->d->config->web_user);
	return 0;
}

/* One request: a line in (10 s), the work, a line out. */
static void filter_hold_serve(struct filter_hold_daemon *h, struct om_store **store,
			      int fd, int by_root)
{
	char line[OM_HOLD_LINE_MAX + 1], *error = NULL;
	struct pollfd pfd = { fd, POLLIN, 0 };
	struct om_buf answer;
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, 10000) <= 0)
			return;
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
		line[len] = '\0';
		if (memchr(line, '\n', len) != NULL)
			break;
		if (len >= sizeof(line) - 1)
			return;
	}
	line[strcspn(line, "\r\n")] = '\0';
	om_buf_init(&answer);
	if (*store == NULL &&
	    om_store_open(h->d->config->store_path, 0, h->d->config->store_busy_timeout_ms,
			  store, &error) < 0) {
		om_log_error("control: %s", error);
		free(error);
		om_buf_append_str(&answer, "FAIL store unavailable\n");
	} else {
		filter_hold_command(h->d, *store, line, by_root, &answer);
	}
	(void)om_write_all(fd, answer.data, answer.len);
	om_buf_free(&answer);
}

static void *filter_hold_run(void *arg)
{
	struct filter_hold_daemon *h = arg;
	struct om_store *store = NULL;
	int fd, by_root = 0;

	while (!h->d->stopping) {
		fd = accept4(h->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (!h->d->stopping)
				om_log_error("control: accept: %s", strerror(errno));
			break;
		}
		if (filter_hold_peer_ok(h, fd, &by_root))
			filter_hold_serve(h, &store, fd, by_root);
		close(fd);
	}
	om_store_close(&store);
	return NULL;
}

/* ---- start and stop ---- */

int filter_link_setup(struct filter_daemon *d, char **error_r)
{
	const struct om_config *c = d->config;
	struct filter_hold_daemon *h = om_calloc(1, sizeof(*h));
	struct passwd *pw = getpwnam(c->web_user);
	char *error = NULL;

	(void)error_r;
	h->d = d;
	h->control_fd = -1;
	h->web_uid = pw != NULL ? pw->pw_uid : 0;	/* unknown: root alone */
	d->hold = h;
	/* the node its holds record: node_name, else the hostname */
	if (*c->node_name != '\0')
		snprintf(h->node, sizeof(h->node), "%s", c->node_name);
	else if (gethostname(h->node, sizeof(h->node) - 1) < 0)
		snprintf(h->node, sizeof(h->node), "%s", "localhost");
	/* the key is web_user's (mode 0600): read now, as root; of it only
	   the outbound signer's keys are kept (crypto/token.h) */
	if (om_link_keys_load(c->web_key_path, OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_OUTBOUND),
			      &h->keys, &error) == 0) {
		h->have_keys = 1;
	} else {
		om_log_warn("web_key_path: %s: hold notices will have no links "
			    "(no notice is sent)", error);
		free(error);
	}
	return 0;
}

const struct om_link_keys *filter_hold_keys(const struct filter_daemon *d)
{
	return d->hold != NULL && d->hold->have_keys ? &d->hold->keys : NULL;
}

int filter_hold_setup(struct filter_daemon *d, char **error_r)
{
	const struct om_config *c = d->config;
	struct filter_hold_daemon *h;
	int flags;

	if (filter_link_setup(d, error_r) < 0)
		return -1;
	h = d->hold;
	h->control_fd = om_daemon_listen_unix(c->filter_control, 0660,
					      FILTER_HOLD_THREADS * 4, error_r);
	if (h->control_fd < 0)
		return -1;
	flags = fcntl(h->control_fd, F_GETFL);
	if (flags < 0 || fcntl(h->control_fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		*error_r = om_asprintf("%s: fcntl: %s", c->filter_control, strerror(errno));
		return -1;
	}
	return om_daemon_give_socket(c->filter_control, c->filter_user, error_r);
}

struct filter_hold_recover {
	char **ids;
	size_t count;
	const char *node;	/* this one */
};

static void filter_hold_recover_cb(void *context, const struct om_store_hold *h)
{
	struct filter_hold_recover *r = context;

	/* another node's: its copy (and its crash) is that node's */
	if (h->node != NULL && *h->node != '\0' && strcmp(h->node, r->node) != 0)
		return;
	r->ids = om_realloc(r->ids, (r->count + 1) * sizeof(*r->ids));
	r->ids[r->count++] = om_strdup(h->id);
}

/* Holds a crash left "sending": sent if the .sent file says so, else held
   again (the window doc/outbound.md names). */
static void filter_hold_recover(struct filter_daemon *d)
{
	struct filter_hold_recover r = { NULL, 0, filter_hold_node(d) };
	struct om_store *store = NULL;
	char *error = NULL, name[OM_HOLD_LINE_MAX + 16], qid[OM_DEDUP_QID_MAX + 1];
	struct stat st;
	size_t i;
	int sent;

	if (om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
			  &store, &error) < 0 ||
	    om_store_hold_list(store, OM_HOLD_BY_STATE, NULL, OM_HOLD_SENDING,
			       filter_hold_recover_cb, &r, &error) < 0) {
		om_log_error("holds: recovery: %s", error);
		free(error);
		om_store_close(&store);
		return;
	}
	for (i = 0; i < r.count; i++) {
		snprintf(name, sizeof(name), "hold-%s.sent", r.ids[i]);
		/* sent: the .sent rename, or the milter's mark of the copy
		   (killed between Postfix's queueing and the rename) */
		sent = fstatat(d->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
			filter_hold_queued(d, r.ids[i], qid, sizeof(qid));
		if (om_store_hold_finish(store, r.ids[i], sent ? OM_HOLD_SENT : OM_HOLD_HELD,
					 sent ? "sent before the last stop" :
					 "interrupted: held again",
					 (long long)time(NULL), &error) < 0) {
			om_log_error("hold %s: recovery: %s", r.ids[i], error);
			om_free(&error);
		} else {
			om_log_info("hold %s: found sending at start: %s", r.ids[i],
				    sent ? "it was sent" : "held again");
			if (sent)
				filter_hold_spool_unlink(d, r.ids[i], ".sent");
		}
		free(r.ids[i]);
	}
	free(r.ids);
	om_store_close(&store);
}

/* ---- what other nodes asked of this one ---- */

/* Takes each hold another node asked of this one (its copy is in this
   spool) and sends or discards it as a local request would: the take is
   the once-only claim (release-asked -> sending), then filter_hold_send
   with its dedup key and .sent rename. */
static void filter_hold_asked_sweep(struct filter_daemon *d, struct om_store *store)
{
	struct filter_hold_recover r = { NULL, 0, filter_hold_node(d) };
	struct om_buf answer;
	enum om_hold_state to;
	char *error = NULL;
	size_t i;
	int ret;

	if (om_store_hold_list(store, OM_HOLD_ASKED, r.node, 0, filter_hold_recover_cb,
			       &r, &error) < 0) {
		om_log_error("holds asked of %s: %s", r.node, error);
		free(error);
		return;
	}
	for (i = 0; i < r.count; i++) {
		ret = om_store_hold_take_asked(store, r.ids[i], (long long)time(NULL),
					       &to, &error);
		if (ret < 0) {
			om_log_error("hold %s: taking the request: %s", r.ids[i], error);
			om_free(&error);
		} else if (ret > 0) {
			om_buf_init(&answer);
			om_log_info("hold %s: %s asked by another node", r.ids[i],
				    to == OM_HOLD_SENDING ? "release" : "discard");
			if (to == OM_HOLD_SENDING) {
				filter_hold_send(d, store, r.ids[i], &answer);
			} else {
				filter_hold_discarded(d, store, r.ids[i], 0);
				filter_hold_spool_unlink(d, r.ids[i], "");
				om_log_info("hold %s: discarded", r.ids[i]);
			}
			om_buf_free(&answer);
		}
		free(r.ids[i]);
	}
	free(r.ids);
}

/* The thread: a sweep at start, at each change the store notifies
   (PostgreSQL: a request's NOTIFY wakes it at once) and every
   FILTER_HOLD_ASKED_SWEEP_MS (SQLite, or a notification missed). */
static void *filter_hold_asked_run(void *arg)
{
	struct filter_daemon *d = arg;
	struct om_store *store = NULL;
	long long counter = -1, now, last = 0;
	char *error = NULL;
	struct pollfd pfd;
	int fd, due;

	while (!d->stopping) {
		if (store == NULL &&
		    om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
				  &store, &error) < 0) {
			om_log_error("holds asked of this node: %s", error);
			om_free(&error);
			sleep(1);
			continue;
		}
		now = (long long)om_now_ms();
		due = now - last >= FILTER_HOLD_ASKED_SWEEP_MS;
		if (!due && om_store_change_counter(store) != counter)
			due = 1;
		if (due) {
			counter = om_store_change_counter(store);
			last = now;
			filter_hold_asked_sweep(d, store);
		}
		fd = om_store_change_fd(store);
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		/* a short wait: the stop is seen within it */
		if (fd >= 0)
			(void)poll(&pfd, 1, 500);
		else
			(void)poll(NULL, 0, 500);
	}
	om_store_close(&store);
	return NULL;
}

void filter_hold_start(struct filter_daemon *d)
{
	struct filter_hold_daemon *h = d->hold;
	int i;

	om_mime_global_init();
	filter_hold_recover(d);
	filter_zip_recover(d);
	for (i = 0; i < FILTER_HOLD_THREADS; i++) {
		if (pthread_create(&h->threads[i], NULL, filter_hold_run, h) != 0)
			om_fatal("pthread_create failed");
		h->started++;
	}
	if (pthread_create(&h->asked_thread, NULL, filter_hold_asked_run, d) != 0)
		om_fatal("pthread_create failed");
	h->asked_started = 1;
}

void filter_hold_stop(struct filter_daemon *d)
{
	struct filter_hold_daemon *h = d->hold;
	struct stat st;
	int i;

	if (h == NULL)
		return;
	if (h->control_fd >= 0 && shutdown(h->control_fd, SHUT_RDWR) < 0)
		om_log_warn("control: shutdown: %s", strerror(errno));
	for (i = 0; i < h->started; i++)
		pthread_join(h->threads[i], NULL);
	if (h->asked_started)
		pthread_join(h->asked_thread, NULL);
	if (h->control_fd >= 0) {
		close(h->control_fd);
		if (lstat(d->config->filter_control, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(d->config->filter_control);
	}
	explicit_bzero(&h->keys, sizeof(h->keys));
	free(h);
	d->hold = NULL;
}
