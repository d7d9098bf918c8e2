/* cmd-selftest.c - omamorictl selftest DOMAIN --mailbox ADDRESS: test mail
 * through the real path before a domain goes live (seed 004: テストツール
 * にてテストメールの配送を行い、受信テストをお願いいたします).
 *
 * It sends, over SMTP to Postfix's smtpd (selftest_smtp), a clean mail, an
 * EICAR mail, a GTUBE spam and - where the domain's authentication checks
 * run - a mail failing DMARC, each with a Message-ID of its own; waits
 * (bounded) until Dovecot has each (doveadm, as the quarantine layer does);
 * and holds what it finds against what the mailbox's settings say, read
 * through the same code the delivery path uses (store/settings.h, the spam
 * verdict of decide/verdict.h, the banner plan of scan/authlinks.h).  A mail
 * that does not arrive is looked up in Postfix's queue to say why.  A step
 * whose feature is off is "not applicable", never a pass.  The test mails
 * are expunged afterwards unless --keep.
 *
 * Exit: 0 every step that applies held, 1 a step failed, 2 bad arguments,
 * an unknown domain or mailbox, or Postfix not reachable.
 */
#include "omamorictl.h"
#include "selftest-smtp.h"
#include "decide/verdict.h"
#include "lib/util.h"
#include "mail/authres.h"
#include "mail/mime.h"
#include "quarantine/doveadm.h"
#include "quarantine/quarantine.h"
#include "scan/authlinks.h"
#include "spam/rules.h"
#include "store/settings.h"
#include "store/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ST_HELO "selftest.omamori.invalid"
#define ST_LOCAL "omamori-selftest"
#define ST_FETCH_MAX (64 * 1024 * 1024)
#define ST_SEARCH_MAX 65536
#define ST_SMTP_TIMEOUT_MS 60000
#define ST_POLL_US 1000000
#define ST_EICAR_NAME "eicar-test.txt"

enum st_kind { ST_CLEAN, ST_EICAR, ST_GTUBE, ST_DMARC, ST_COUNT };
enum st_state { ST_NOT_APPLICABLE, ST_SENT, ST_FOUND, ST_OK, ST_FAIL };

struct st_step {
	const char *title;	/* "clean mail" */
	const char *word;	/* in its Message-ID */
	enum st_state state;
	char *why;		/* not applicable or FAIL: why */
	char *message_id;	/* "<omamori-selftest-RUN-word@DOMAIN>" */
	const char *sender;	/* envelope ("" the null sender) */
	char *from;
	struct om_buf mail;
	char *queue_id;
	char *expected;		/* what the settings say, in words */
	const char *expect_box;	/* INBOX, quarantine_mailbox; NULL either */
	const char *found_box;
	char *found;		/* the delivered message as fetched */
};

struct st_run {
	struct ctl *ctl;
	struct om_store *store;
	char *domain, *mailbox, *dmarc_domain;	/* argv's words, folded */
	long timeout;
	int keep;
	char id[17];		/* this run's random hex */
	char *lang, *auth_check, *auth_warning, *link_disable, *admin_copy;
	int virus_on, spam_on;
	const char *virus_source, *spam_source;
	struct om_spam_decision gtube;
	struct st_step steps[ST_COUNT];
};

static int st_usage(void)
{
	return ctl_error("usage: selftest DOMAIN --mailbox ADDRESS [--timeout SECONDS] "
			 "[--keep] [--dmarc-domain DOMAIN]");
}

static void st_set_why(struct st_step *step, enum st_state state, const char *fmt, ...)
	OM_ATTR_FORMAT(3, 4);
static void st_set_why(struct st_step *step, enum st_state state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(step->why);
	step->why = om_vasprintf(fmt, ap);
	va_end(ap);
	step->state = state;
}

/* ---- arguments and the mailbox's settings ---- */

static int st_args(struct st_run *run, int argc, char **argv)
{
	int i;

	run->timeout = run->ctl->config->selftest_timeout;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--keep") == 0) {
			run->keep = 1;
		} else if (strcmp(argv[i], "--mailbox") == 0 && i + 1 < argc) {
			run->mailbox = argv[++i];
		} else if (strcmp(argv[i], "--dmarc-domain") == 0 && i + 1 < argc) {
			run->dmarc_domain = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (om_parse_long(argv[++i], 5, 3600, &run->timeout) < 0)
				return ctl_error("selftest: --timeout '%s': seconds, 5..3600",
						 argv[i]);
		} else if (argv[i][0] == '-' || run->domain != NULL) {
			return st_usage();
		} else {
			run->domain = argv[i];
		}
	}
	if (run->domain == NULL || run->mailbox == NULL)
		return st_usage();
	return 0;
}

/* DOMAIN a domain, ADDRESS a mailbox in it, --dmarc-domain a domain. */
static int st_check_names(struct st_run *run)
{
	enum om_settings_key type;
	const char *key;
	char *error = NULL;

	if (om_settings_key_parse(run->domain, &type, &key, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("selftest: '%s' is not a domain", run->domain);
	run->domain += key - run->domain;
	if (om_settings_key_parse(run->mailbox, &type, &key, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_MAILBOX || strchr(key, '@') == NULL)
		return ctl_error("selftest: --mailbox '%s' is not an address (local@domain)",
				 run->mailbox);
	run->mailbox += key - run->mailbox;
	if (strcasecmp(om_settings_domain_of(key), run->domain) != 0)
		return ctl_error("selftest: mailbox %s is not in domain %s", key, run->domain);
	if (om_settings_mailbox_check(key, &error) < 0)
		return ctl_fail(error);
	if (run->dmarc_domain == NULL) {
		run->dmarc_domain = run->domain;
		return 0;
	}
	if (om_settings_key_parse(run->dmarc_domain, &type, &key, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("selftest: --dmarc-domain '%s' is not a domain",
				 run->dmarc_domain);
	run->dmarc_domain += key - run->dmarc_domain;
	return 0;
}

static void st_count_row(void *context, const char *key, const char *name,
			 const char *value)
{
	(void)key;
	(void)name;
	(void)value;
	(*(int *)context)++;
}

struct st_domain_rows {
	const char *domain;
	int count;
};

static void st_count_domain_row(void *context, const char *key, const char *name,
				const char *value)
{
	struct st_domain_rows *r = context;

	(void)name;
	(void)value;
	if (strcasecmp(om_settings_domain_of(key), r->domain) == 0)
		r->count++;
}

/* A domain omamori knows: settings of its own, or a mailbox of it
   subscribed.  Then a user Dovecot knows.  0 or exit status. */
static int st_check_known(struct st_run *run)
{
	struct st_domain_rows subs = { run->domain, 0 };
	char *error = NULL;
	int rows = 0, ret;

	if (om_store_domain_list(run->store, run->domain, st_count_row, &rows, &error) < 0 ||
	    om_store_subscription_list(run->store, NULL, st_count_domain_row, &subs,
				       &error) < 0)
		return ctl_fail(error);
	if (rows == 0 && subs.count == 0)
		return ctl_error("selftest: unknown domain %s: the store has no setting of it "
				 "and no subscription of a mailbox in it (omamorictl domain set "
				 "%s ... / sub set ... first)", run->domain, run->domain);
	ret = om_quarantine_user_exists(run->ctl->config, run->mailbox, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("selftest: Dovecot knows no user %s (mailbox not in domain "
				 "%s's user database)", run->mailbox, run->domain);
	return 0;
}

/* A setting in effect for the mailbox (allocated); NULL after an error. */
static char *st_setting(struct st_run *run, const char *name, const char *def)
{
	char *error = NULL, *value;

	value = om_settings_domain_value(run->store, run->mailbox, name, def, &error);
	if (value == NULL)
		(void)ctl_fail(error);
	return value;
}

static int st_subscribed(struct st_run *run, const char *feature, const char **source_r)
{
	enum om_sub_state state;
	char *error = NULL;

	if (om_settings_subscription(run->store, run->mailbox, feature, &state, source_r,
				     &error) < 0) {
		(void)ctl_fail(error);
		return -1;
	}
	return state == OM_SUB_ON;
}

/* What the GTUBE spam must get: the verdict for its score and sender. */
static int st_gtube_decision(struct st_run *run, const char *sender)
{
	struct om_snapshot *snap = om_snapshot_new();
	char *error = NULL;
	int ret;

	ret = om_snapshot_load(snap, run->store, &error);
	if (ret == 0)
		ret = om_verdict_spam(snap, run->mailbox, sender, sender,
				      OM_RULE_GTUBE_POINTS, &run->gtube, &error);
	om_snapshot_free(&snap);
	if (ret < 0)
		return ctl_fail(error);
	return 0;
}

static int st_read_settings(struct st_run *run)
{
	run->virus_on = st_subscribed(run, OM_FEATURE_INBOUND_VIRUS, &run->virus_source);
	run->spam_on = st_subscribed(run, OM_FEATURE_SPAM, &run->spam_source);
	if (run->virus_on < 0 || run->spam_on < 0)
		return CTL_EXIT_ERROR;
	run->lang = st_setting(run, "language", run->ctl->config->default_language);
	run->auth_check = st_setting(run, OM_SETTING_AUTH_CHECK, OM_DEFAULT_AUTH_CHECK);
	run->auth_warning = st_setting(run, "auth-warning", "fail");
	run->link_disable = st_setting(run, "link-disable", "off");
	run->admin_copy = st_setting(run, "virus-admin-copy", "off");
	if (run->lang == NULL || run->auth_check == NULL || run->auth_warning == NULL ||
	    run->link_disable == NULL || run->admin_copy == NULL)
		return CTL_EXIT_ERROR;
	return 0;
}

/* ---- the test mails ---- */

/* The EICAR test file, put together at run time from its reverse, so that
   neither omamorictl nor its source is what a virus scanner finds. */
static char *st_eicar(void)
{
	static const char reversed[] =
		"*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X";
	size_t i, n = sizeof(reversed) - 1;
	char *s = om_malloc(n + 1);

	for (i = 0; i < n; i++)
		s[i] = reversed[n - 1 - i];
	s[n] = '\0';
	return s;
}

static void st_mail_head(struct st_run *run, struct st_step *step, const char *content_type)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)om_strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000", sizeof(date));
	om_buf_printf(&step->mail, "From: omamori self-test <%s>\n"
		      "To: <%s>\n"
		      "Subject: omamori self-test %s: %s\n"
		      "Date: %s\n"
		      "Message-ID: %s\n"
		      "MIME-Version: 1.0\n"
		      "Content-Type: %s\n\n",
		      step->from, run->mailbox, run->id, step->title, date,
		      step->message_id, content_type);
}

#define ST_CLEAN_TEXT "This is a test mail of omamorictl selftest.\n" \
	"It must arrive unchanged in the INBOX.\n"

static void st_build(struct st_run *run, struct st_step *step, enum st_kind kind)
{
	char *eicar;

	om_buf_init(&step->mail);
	switch (kind) {
	case ST_CLEAN:
		st_mail_head(run, step, "text/plain; charset=us-ascii");
		om_buf_append_str(&step->mail, ST_CLEAN_TEXT);
		break;
	case ST_EICAR:
		eicar = st_eicar();
		st_mail_head(run, step, "multipart/mixed; boundary=\"=-omamori-selftest\"");
		om_buf_printf(&step->mail, "--=-omamori-selftest\n"
			      "Content-Type: text/plain; charset=us-ascii\n\n"
			      "The attached file is the EICAR anti-virus test file.\n"
			      "--=-omamori-selftest\n"
			      "Content-Type: text/plain; name=\"" ST_EICAR_NAME "\"\n"
			      "Content-Disposition: attachment; filename=\"" ST_EICAR_NAME "\"\n\n"
			      "%s\n--=-omamori-selftest--\n", eicar);
		free(eicar);
		break;
	case ST_GTUBE:
		st_mail_head(run, step, "text/plain; charset=us-ascii");
		om_buf_append_str(&step->mail, "This test mail carries the GTUBE spam test string:\n"
				  OM_RULE_GTUBE_TEXT "\n");
		break;
	case ST_DMARC:
		st_mail_head(run, step, "text/plain; charset=us-ascii");
		om_buf_append_str(&step->mail, "This test mail claims a sender domain whose "
				  "DMARC check it fails.\n");
		break;
	case ST_COUNT:
		break;
	}
}

/* Which steps apply, what each must get, and their mails. */
static void st_plan(struct st_run *run)
{
	static const char *const titles[ST_COUNT] = {
		"clean mail", "EICAR virus", "GTUBE spam", "DMARC failure"
	};
	static const char *const words[ST_COUNT] = { "clean", "eicar", "gtube", "dmarc" };
	const struct om_config *config = run->ctl->config;
	const char *qbox = config->quarantine_mailbox;
	struct st_step *s;
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		s = &run->steps[i];
		s->title = titles[i];
		s->word = words[i];
		s->state = ST_SENT;
		s->message_id = om_asprintf("<" ST_LOCAL "-%s-%s@%s>", run->id, s->word,
					    run->domain);
		s->sender = ST_LOCAL "@" ST_HELO;
		s->from = om_strdup(s->sender);
		s->expect_box = "INBOX";
	}
	s = &run->steps[ST_CLEAN];
	s->expected = om_asprintf("INBOX, unchanged%s%s", run->virus_on ?
				  ", X-Omamori-Virus: clean" : "", run->spam_on ?
				  ", X-Omamori-Spam: no" : "");
	s = &run->steps[ST_EICAR];
	if (!run->virus_on)
		st_set_why(s, ST_NOT_APPLICABLE, "inbound-virus is not on for %s (%s): no "
			   "virus mail sent", run->mailbox, run->virus_source);
	else
		s->expected = om_strdup("INBOX, X-Omamori-Virus: infected, the attachment "
					ST_EICAR_NAME " removed, the virus notice at the top");
	s = &run->steps[ST_GTUBE];
	if (!run->spam_on) {
		st_set_why(s, ST_NOT_APPLICABLE, "spam is not on for %s (%s)", run->mailbox,
			   run->spam_source);
	} else if (!run->gtube.is_spam) {
		st_set_why(s, ST_NOT_APPLICABLE, "the test sender %s is on an allow list (%s): "
			   "it is never spam", s->sender, run->gtube.listed);
	} else {
		if (run->gtube.action == OM_SPAM_ACTION_QUARANTINE)
			s->expect_box = qbox;
		s->expected = om_asprintf("%s, X-Omamori-Spam: yes (GTUBE), spam-action %s%s%s%s",
					  s->expect_box, om_spam_action_name(run->gtube.action),
					  run->gtube.action == OM_SPAM_ACTION_TAG ? ": subject tag \"" : "",
					  run->gtube.action == OM_SPAM_ACTION_TAG ? run->gtube.tag : "",
					  run->gtube.action == OM_SPAM_ACTION_TAG ? "\"" : "");
	}
	s = &run->steps[ST_DMARC];
	free(s->from);
	s->from = om_asprintf(ST_LOCAL "@%s", run->dmarc_domain);
	s->sender = "";		/* SPF then names the HELO: never aligned */
	s->expect_box = NULL;
	if (strcmp(run->auth_check, "on") != 0)
		st_set_why(s, ST_NOT_APPLICABLE, "auth-check is off for %s: omamori checks no "
			   "sender authentication", run->domain);
	else if (*config->trusted_authserv_id == '\0')
		st_set_why(s, ST_NOT_APPLICABLE, "trusted_authserv_id is empty in %s: no "
			   "check runs", config->path);
	else if (!run->virus_on && !run->spam_on)
		st_set_why(s, ST_NOT_APPLICABLE, "neither inbound-virus nor spam is on for %s: "
			   "no scan, no DKIM/DMARC check", run->mailbox);
	else
		s->expected = om_asprintf("dmarc=fail in %s's Authentication-Results, "
					  "auth-warning %s%s", config->own_authserv_id,
					  run->auth_warning, strcmp(run->auth_warning, "off") == 0 ?
					  " (no banner)" : ": the warning banner at the top");
	for (i = 0; i < ST_COUNT; i++) {
		if (run->steps[i].state != ST_NOT_APPLICABLE)
			st_build(run, &run->steps[i], (enum st_kind)i);
	}
}

/* ---- sending ---- */

/* Sends every step that applies.  0, or CTL_EXIT_ERROR when Postfix could
   not be reached (said). */
static int st_send(struct st_run *run)
{
	const struct om_config *config = run->ctl->config;
	struct ctl_smtp_result res;
	struct st_step *s;
	char *error = NULL;
	int i, ret;

	for (i = 0; i < ST_COUNT; i++) {
		s = &run->steps[i];
		if (s->state == ST_NOT_APPLICABLE)
			continue;
		ret = ctl_smtp_send(config->selftest_smtp, ST_HELO, s->sender, run->mailbox,
				    s->mail.data, s->mail.len, ST_SMTP_TIMEOUT_MS, &res, &error);
		if (ret < 0) {
			(void)ctl_error("selftest: Postfix not reachable: %s (selftest_smtp "
					"in %s)", error, config->path);
			free(error);
			return CTL_EXIT_ERROR;
		}
		if (ret == 0)
			/* the reply's line begins with its code */
			st_set_why(s, ST_FAIL, "Postfix refused it at %s: %s", res.stage,
				   res.reply);
		else
			s->queue_id = res.queue_id != NULL ? om_strdup(res.queue_id) : NULL;
		ctl_smtp_result_free(&res);
	}
	return 0;
}

/* ---- finding the mail in Dovecot ---- */

/* The UID of step's mail in box: 1 found (uid_r), 0 not, -1 error. */
static int st_search(struct st_run *run, const struct st_step *s, const char *box,
		     char *uid_r, size_t size, char **error_r)
{
	const char *args[] = {
		"search", "-u", run->mailbox, "mailbox", box, "header", "Message-ID",
		s->message_id, NULL
	};
	char *output = NULL, *p;
	int status;

	status = om_doveadm_run(run->ctl->config, 1, args, NULL, 0, &output,
				ST_SEARCH_MAX, error_r);
	if (status == 68 && *error_r != NULL && strstr(*error_r, "doesn't exist") != NULL) {
		om_free(error_r);	/* no such folder: nothing in it */
		return 0;
	}
	if (status != 0) {
		free(output);
		return -1;
	}
	/* "GUID UID" lines */
	p = output != NULL ? strchr(output, ' ') : NULL;
	if (p == NULL) {
		free(output);
		return 0;
	}
	p++;
	p[strspn(p, "0123456789")] = '\0';
	(void)om_strlcpy(uid_r, p, size);
	free(output);
	return *uid_r != '\0';
}

static int st_fetch(struct st_run *run, struct st_step *s, const char *box,
		    const char *uid, char **error_r)
{
	const char *args[] = {
		"fetch", "-u", run->mailbox, "text", "mailbox", box, "uid", uid, NULL
	};
	char *output = NULL;
	size_t skip;
	int status;

	status = om_doveadm_run(run->ctl->config, 1, args, NULL, 0, &output,
				ST_FETCH_MAX, error_r);
	if (status != 0) {
		free(output);
		return -1;
	}
	/* "text:\n" and the message */
	skip = strncmp(output, "text:\n", 6) == 0 ? 6 : 0;
	s->found = om_strdup(output + skip);
	free(output);
	return 0;
}

/* Looks for each sent step's mail until all are found or the time is up. */
static void st_wait(struct st_run *run)
{
	const char *boxes[2] = { "INBOX", run->ctl->config->quarantine_mailbox };
	uint64_t deadline = om_now_ms() + (uint64_t)run->timeout * 1000;
	char uid[32], *error = NULL;
	struct st_step *s;
	int i, b, pending, ret;

	do {
		pending = 0;
		for (i = 0; i < ST_COUNT; i++) {
			s = &run->steps[i];
			if (s->state != ST_SENT)
				continue;
			for (b = 0; b < 2 && s->state == ST_SENT; b++) {
				ret = st_search(run, s, boxes[b], uid, sizeof(uid), &error);
				if (ret > 0)
					ret = st_fetch(run, s, boxes[b], uid, &error) < 0 ? -1 : 1;
				if (ret < 0) {
					st_set_why(s, ST_FAIL, "doveadm: %s", error);
					om_free(&error);
				} else if (ret > 0) {
					s->found_box = boxes[b];
					s->state = ST_FOUND;
				}
			}
			pending += s->state == ST_SENT;
		}
		if (pending > 0 && om_now_ms() < deadline)
			(void)usleep(ST_POLL_US);
	} while (pending > 0 && om_now_ms() < deadline);
}

/* Why a mail did not arrive, from Postfix's queue. */
static void st_not_delivered(struct st_run *run, struct st_step *s)
{
	char *queue = NULL, *reason = NULL, *error = NULL;
	int ret;

	if (s->queue_id == NULL) {
		st_set_why(s, ST_FAIL, "%s not delivered within %ld s (Postfix gave no queue id)",
			   s->title, run->timeout);
		return;
	}
	ret = ctl_postqueue_find(run->ctl->config->selftest_postfix_config, s->queue_id,
				 &queue, &reason, &error);
	if (ret < 0)
		st_set_why(s, ST_FAIL, "%s not delivered within %ld s; Postfix's queue could "
			   "not be read: %s", s->title, run->timeout, error);
	else if (ret == 0)
		st_set_why(s, ST_FAIL, "%s not delivered within %ld s, and no longer in "
			   "Postfix's queue: look for queue id %s in the mail log", s->title,
			   run->timeout, s->queue_id);
	else
		st_set_why(s, ST_FAIL, "%s not delivered within %ld s: Postfix queue shows it "
			   "%s (queue id %s)%s%s%s", s->title, run->timeout, queue, s->queue_id,
			   *reason != '\0' ? ": " : "", reason,
			   strstr(reason, "canner") != NULL || strstr(reason, "4.2.0") != NULL ?
			   " (is omamori-scand running?)" : "");
	free(queue);
	free(reason);
	free(error);
}

/* ---- what was found against what was expected ---- */

/* The first header called name of raw (unfolded, allocated), or NULL. */
static char *st_header(const char *raw, const char *name)
{
	size_t n = strlen(name);
	const char *p = raw, *end;
	struct om_buf v;

	while (*p != '\0' && *p != '\n') {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			om_buf_init(&v);
			p += n + 1;
			do {
				p += strspn(p, " \t");
				end = strchr(p, '\n');
				if (end == NULL)
					end = p + strlen(p);
				om_buf_append(&v, p, (size_t)(end - p));
				p = *end != '\0' ? end + 1 : end;
			} while (*p == ' ' || *p == '\t');
			om_buf_append(&v, "", 0);
			return om_buf_steal(&v, NULL);
		}
		end = strchr(p, '\n');
		if (end == NULL)
			break;
		p = end + 1;
	}
	return NULL;
}

/* The body of raw (after the blank line), or "". */
static const char *st_body(const char *raw)
{
	const char *p = strstr(raw, "\n\n");

	return p != NULL ? p + 2 : "";
}

/* Every leaf of the message decoded (transfer encoding), joined. */
static char *st_decoded(const char *raw)
{
	struct om_mime_msg *msg;
	struct om_mime_leaf *leaves = NULL;
	struct om_buf out;
	char *error = NULL, *reason = NULL;
	size_t count = 0, i;

	om_buf_init(&out);
	msg = om_mime_parse(raw, strlen(raw), &error);
	if (msg != NULL && om_mime_collect(msg, 1000, 30, &leaves, &count, &reason) >= 0) {
		for (i = 0; i < count; i++) {
			if (om_mime_leaf_decode(&leaves[i], &out, &error) < 0)
				om_free(&error);
			om_buf_append(&out, "\n", 1);
		}
		om_mime_leaves_free(&leaves, count);
	}
	free(reason);
	free(error);
	om_mime_free(&msg);
	return om_buf_steal(&out, NULL);
}

/* The first line of a notice template of the mailbox's language. */
static char *st_template_line(struct st_run *run, const char *name)
{
	char *path = om_asprintf("%s/%s/%s", run->ctl->config->templates_dir, run->lang, name);
	char *data = NULL, *error = NULL, *line = NULL;
	size_t len;

	if (om_read_file(path, 1024 * 1024, &data, &len, &error) == 0)
		line = om_strndup(data, strcspn(data, "\n"));
	free(data);
	free(error);
	free(path);
	return line;
}

/* The banner the delivery must have put on s's mail, from its own
   Authentication-Results and the domain's settings (the plan of
   scan/authlinks.h); *auth_r gets the results.  The banner's first
   line (allocated), or NULL for none. */
static char *st_banner(struct st_run *run, const struct st_step *s, struct om_authres *auth_r)
{
	const struct om_config *config = run->ctl->config;
	struct om_authres_trust trust = { config->trusted_authserv_id,
					  (unsigned int)config->trusted_authserv_hops };
	struct om_authlinks_plan plan;
	char *text, *line;

	(void)om_authres_check(s->found, strlen(s->found), &trust, auth_r, NULL);
	om_authlinks_plan(auth_r, run->auth_warning, run->link_disable, "off", 1, &plan);
	text = om_authlinks_banner_text(&plan, run->lang, config->brand_name);
	if (text == NULL)
		return NULL;
	line = om_strndup(text, strcspn(text, "\n"));
	free(text);
	return line;
}

/* The body as sent (LF line ends) against the body as delivered. */
static int st_body_unchanged(const struct st_step *s)
{
	const char *sent = st_body(s->mail.data), *got = st_body(s->found);
	size_t n = strlen(sent);

	return strncmp(sent, got, n) == 0 && got[n + strspn(got + n, "\n")] == '\0';
}

static void st_check_clean(struct st_run *run, struct st_step *s)
{
	char *virus = st_header(s->found, "X-Omamori-Virus");
	char *spam = st_header(s->found, "X-Omamori-Spam");
	char *text = st_decoded(s->found);
	struct om_authres auth;
	char *banner = st_banner(run, s, &auth);

	if (run->virus_on && (virus == NULL || strcmp(virus, "clean") != 0))
		st_set_why(s, ST_FAIL, "X-Omamori-Virus is %s, not clean",
			   virus != NULL ? virus : "missing");
	else if (run->spam_on && (spam == NULL || strncmp(spam, "no;", 3) != 0))
		st_set_why(s, ST_FAIL, "X-Omamori-Spam is %s, not \"no\"",
			   spam != NULL ? spam : "missing");
	else if (banner == NULL && !st_body_unchanged(s))
		st_set_why(s, ST_FAIL, "its body was changed");
	else if (banner != NULL && (strstr(text, banner) == NULL ||
				    strstr(text, "It must arrive unchanged") == NULL))
		st_set_why(s, ST_FAIL, "the banner the settings ask for (auth-warning %s, "
			   "link-disable %s) or the text is missing", run->auth_warning,
			   run->link_disable);
	else
		st_set_why(s, ST_OK, "%s%s%s%s", banner != NULL ? "unchanged but for the banner "
			   "the settings ask for: " : "body unchanged",
			   banner != NULL ? banner : "", spam != NULL ? "; X-Omamori-Spam: " : "",
			   spam != NULL ? spam : "");
	free(banner);
	free(text);
	free(spam);
	free(virus);
}

static void st_check_eicar(struct st_run *run, struct st_step *s)
{
	char *virus = st_header(s->found, "X-Omamori-Virus");
	char *text = st_decoded(s->found), *eicar = st_eicar();
	char *notice = st_template_line(run, "virus-notice.txt");

	if (virus == NULL || strncmp(virus, "infected", 8) != 0)
		st_set_why(s, ST_FAIL, "X-Omamori-Virus is %s, not infected",
			   virus != NULL ? virus : "missing");
	else if (strstr(text, eicar) != NULL)
		st_set_why(s, ST_FAIL, "the EICAR file is still in the delivered mail");
	else if (notice != NULL && strstr(text, notice) == NULL)
		st_set_why(s, ST_FAIL, "the virus notice (\"%s\") is not in the mail", notice);
	else
		st_set_why(s, ST_OK, "X-Omamori-Virus: %s; attachment removed; notice \"%s\"",
			   virus, notice != NULL ? notice : "?");
	free(notice);
	free(eicar);
	free(text);
	free(virus);
}

static void st_check_gtube(struct st_run *run, struct st_step *s)
{
	char *spam = st_header(s->found, "X-Omamori-Spam");
	char *flag = st_header(s->found, "X-Spam-Flag");
	char *subject = st_header(s->found, "Subject");
	enum om_spam_action action = run->gtube.action;
	int flagged = flag != NULL && strcmp(flag, "YES") == 0;
	char *want_subject = om_asprintf("omamori self-test %s: %s", run->id, s->title);
	struct om_mime_msg *msg;
	char *decoded = NULL, *error = NULL;

	msg = om_mime_parse(s->found, strlen(s->found), &error);
	if (msg != NULL)
		decoded = om_mime_header_decoded(msg, "Subject");
	om_mime_free(&msg);
	free(error);
	if (spam == NULL || strncmp(spam, "yes;", 4) != 0 || strstr(spam, "GTUBE") == NULL)
		st_set_why(s, ST_FAIL, "X-Omamori-Spam is %s, not \"yes\" with GTUBE",
			   spam != NULL ? spam : "missing");
	else if (action == OM_SPAM_ACTION_TAG &&
		 (decoded == NULL || strncmp(decoded, run->gtube.tag, strlen(run->gtube.tag)) != 0))
		st_set_why(s, ST_FAIL, "the subject is \"%s\", without the tag \"%s\"",
			   decoded != NULL ? decoded : "", run->gtube.tag);
	else if ((action == OM_SPAM_ACTION_TAG || action == OM_SPAM_ACTION_HEADER) && !flagged)
		st_set_why(s, ST_FAIL, "no X-Spam-Flag: YES");
	else if (action == OM_SPAM_ACTION_HEADER &&
		 (subject == NULL || strcmp(subject, want_subject) != 0))
		st_set_why(s, ST_FAIL, "the subject was changed (\"%s\")", subject != NULL ? subject : "");
	else if (action == OM_SPAM_ACTION_DELIVER && flagged)
		st_set_why(s, ST_FAIL, "X-Spam-Flag set, while spam-action deliver adds none");
	else
		st_set_why(s, ST_OK, "X-Omamori-Spam: %s%s%s%s", spam,
			   action == OM_SPAM_ACTION_TAG ? "; Subject: " : "",
			   action == OM_SPAM_ACTION_TAG ? decoded : "",
			   flagged ? "; X-Spam-Flag: YES" : "");
	free(decoded);
	free(want_subject);
	free(subject);
	free(flag);
	free(spam);
}

static const char *st_auth_name(enum om_auth_result r)
{
	switch (r) {
	case OM_AUTH_PASS: return "pass";
	case OM_AUTH_FAIL: return "fail";
	case OM_AUTH_SOFTFAIL: return "softfail";
	case OM_AUTH_NEUTRAL: return "neutral";
	case OM_AUTH_TEMPERROR: return "temperror";
	case OM_AUTH_PERMERROR: return "permerror";
	case OM_AUTH_OTHER: return "none";
	case OM_AUTH_NONE: break;
	}
	return "no result";
}

static void st_check_dmarc(struct st_run *run, struct st_step *s)
{
	char *text = st_decoded(s->found);
	char *spam = st_header(s->found, "X-Omamori-Spam");
	struct om_authres auth;
	char *banner = st_banner(run, s, &auth);
	int quarantined = strcmp(s->found_box, "INBOX") != 0;

	if (auth.dmarc == OM_AUTH_OTHER || auth.dmarc == OM_AUTH_NONE)
		st_set_why(s, ST_NOT_APPLICABLE, "no DMARC result to fail: %s publishes no "
			   "DMARC record? (name a domain that does with --dmarc-domain)",
			   run->dmarc_domain);
	else if (auth.dmarc != OM_AUTH_FAIL)
		st_set_why(s, ST_FAIL, "DMARC did not fail (dmarc=%s)", st_auth_name(auth.dmarc));
	else if (quarantined && (spam == NULL || strncmp(spam, "yes;", 4) != 0))
		st_set_why(s, ST_FAIL, "in %s, though not scored as spam", s->found_box);
	else if (banner != NULL && strstr(text, banner) == NULL)
		st_set_why(s, ST_FAIL, "dmarc=fail, but the banner auth-warning %s asks for is "
			   "missing (\"%s\")", run->auth_warning, banner);
	else if (banner == NULL && strstr(st_body(s->found), "This test mail claims") !=
		 st_body(s->found))
		st_set_why(s, ST_FAIL, "dmarc=fail and auth-warning off, but the body was changed");
	else
		st_set_why(s, ST_OK, "dmarc=fail; %s%s%s%s", banner != NULL ? "banner: " : "no banner",
			   banner != NULL ? banner : "", quarantined ? "; quarantined as spam: " : "",
			   quarantined ? spam : "");
	free(banner);
	free(spam);
	free(text);
}

static void st_check(struct st_run *run)
{
	struct st_step *s;
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		s = &run->steps[i];
		if (s->state == ST_SENT) {
			st_not_delivered(run, s);
			continue;
		}
		if (s->state != ST_FOUND)
			continue;
		if (s->expect_box != NULL && strcmp(s->expect_box, s->found_box) != 0) {
			st_set_why(s, ST_FAIL, "in %s, not in %s", s->found_box, s->expect_box);
			continue;
		}
		switch ((enum st_kind)i) {
		case ST_CLEAN: st_check_clean(run, s); break;
		case ST_EICAR: st_check_eicar(run, s); break;
		case ST_GTUBE: st_check_gtube(run, s); break;
		case ST_DMARC: st_check_dmarc(run, s); break;
		case ST_COUNT: break;
		}
	}
}

/* ---- report and clean-up ---- */

static int st_report(struct st_run *run)
{
	int i, ok = 0, failed = 0, na = 0;
	struct st_step *s;

	for (i = 0; i < ST_COUNT; i++) {
		s = &run->steps[i];
		printf("[%d/%d] %s\n", i + 1, ST_COUNT, s->title);
		if (s->state == ST_NOT_APPLICABLE && s->mail.len == 0) {
			printf("  not applicable: %s\n", s->why);
			na++;
			continue;
		}
		printf("  sent:     %s, Message-ID %s%s%s\n", s->queue_id != NULL ?
		       "queued" : "not queued", s->message_id, s->queue_id != NULL ?
		       ", queue id " : "", s->queue_id != NULL ? s->queue_id : "");
		printf("  found:    %s\n", s->found_box != NULL ? s->found_box : "nowhere");
		printf("  expected: %s\n", s->expected != NULL ? s->expected : "-");
		switch (s->state) {
		case ST_OK: printf("  OK: %s\n", s->why); ok++; break;
		case ST_NOT_APPLICABLE: printf("  not applicable: %s\n", s->why); na++; break;
		default: printf("  FAIL: %s\n", s->why != NULL ? s->why : "?"); failed++; break;
		}
	}
	printf("selftest %s %s: %d OK, %d FAIL, %d not applicable\n", run->domain,
	       run->mailbox, ok, failed, na);
	if (run->virus_on && strcmp(run->admin_copy, "off") != 0)
		printf("note: virus-admin-copy %s got a copy of the virus report\n", run->admin_copy);
	return failed > 0 ? CTL_EXIT_NOT_CLEAN : CTL_EXIT_OK;
}

/* Expunges the test mails (by Message-ID) from INBOX and Quarantine, and
   forgets their quarantine rows. */
static void st_cleanup(struct st_run *run)
{
	const char *boxes[2] = { "INBOX", run->ctl->config->quarantine_mailbox };
	char *error = NULL;
	int i, b, removed = 0, failed = 0, queued = 0;
	struct st_step *s;

	for (i = 0; i < ST_COUNT; i++) {
		s = &run->steps[i];
		queued += s->state == ST_FAIL && s->found_box == NULL && s->queue_id != NULL;
		if (run->keep || s->found_box == NULL)
			continue;
		for (b = 0; b < 2; b++) {
			const char *args[] = { "expunge", "-u", run->mailbox, "mailbox", boxes[b],
					       "header", "Message-ID", s->message_id, NULL };

			if (strcmp(boxes[b], s->found_box) != 0)
				continue;
			if (om_doveadm_run(run->ctl->config, 1, args, NULL, 0, NULL, 0, &error) != 0) {
				printf("could not remove the %s: %s\n", s->title, error);
				om_free(&error);
				failed++;
			} else {
				removed++;
			}
		}
	}
	if (!run->keep && removed > 0 &&
	    om_quarantine_reconcile(run->ctl->config, run->store, run->mailbox, &error) < 0) {
		printf("quarantine rows not reconciled: %s\n", error);
		om_free(&error);
	}
	if (run->keep)
		printf("test mails kept in %s (--keep): Message-IDs %s-%s-*@%s\n", run->mailbox,
		       "<" ST_LOCAL, run->id, run->domain);
	else if (removed > 0 && failed == 0)
		printf("test mails removed from %s\n", run->mailbox);
	if (queued > 0)
		printf("%d test mail(s) still in Postfix's queue: they are delivered once the "
		       "fault is gone%s (postsuper -d QUEUEID removes one)\n", queued,
		       run->keep ? "" : " and not removed then");
}

static void st_free(struct st_run *run)
{
	int i;

	for (i = 0; i < ST_COUNT; i++) {
		free(run->steps[i].why);
		free(run->steps[i].message_id);
		free(run->steps[i].from);
		om_buf_free(&run->steps[i].mail);
		free(run->steps[i].queue_id);
		free(run->steps[i].expected);
		free(run->steps[i].found);
	}
	free(run->lang);
	free(run->auth_check);
	free(run->auth_warning);
	free(run->link_disable);
	free(run->admin_copy);
}

int ctl_cmd_selftest(struct ctl *ctl, int argc, char **argv)
{
	struct st_run run;
	unsigned char r[8];
	int ret, i;

	memset(&run, 0, sizeof(run));
	run.ctl = ctl;
	if ((ret = st_args(&run, argc, argv)) != 0 || (ret = st_check_names(&run)) != 0)
		return ret;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return ctl_error("selftest: no random bytes");
	for (i = 0; i < (int)sizeof(r); i++)
		(void)snprintf(run.id + 2 * i, 3, "%02x", r[i]);
	run.store = ctl_store(ctl, 0);
	om_mime_global_init();
	if ((ret = st_check_known(&run)) != 0 || (ret = st_read_settings(&run)) != 0 ||
	    (ret = st_gtube_decision(&run, ST_LOCAL "@" ST_HELO)) != 0) {
		st_free(&run);
		return ret;
	}
	st_plan(&run);
	printf("selftest %s: mail to %s through %s (run %s, waiting up to %ld s)\n",
	       run.domain, run.mailbox, ctl->config->selftest_smtp, run.id, run.timeout);
	fflush(stdout);
	if ((ret = st_send(&run)) != 0) {
		st_free(&run);
		return ret;
	}
	st_wait(&run);
	st_check(&run);
	ret = st_report(&run);
	st_cleanup(&run);
	st_free(&run);
	return ret;
}
