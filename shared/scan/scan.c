/* scan.c - one message through the scanner: parse (GMime), scan each decoded
 * leaf and the raw message (libclamav), decide, rewrite.
 *
 * Decision (inbound): no virus -> deliver unchanged; a virus only in
 * attachments -> those attachments removed and a notice put at the top of
 * the body (action "strip"); a virus in the readable body, in a single-part
 * message, or found only in the raw message -> the message replaced by the
 * report of templates/<lang>/virus-report.txt (action "replace").  Over a
 * limit -> "unscanned" with the configured limit action.
 *
 * The spam check (when asked for) runs on clean mail only: the classifier
 * and rules give a score, and the recipient's lists, threshold and action
 * (verdict.c) turn it into the verdict "spam" and what to do with it.
 * Without it, every link of clean mail is still checked against the
 * url-block lists (links.h): a listed host quarantines the message.
 *
 * Inbound mail that goes on to the inbox then gets its banner and links
 * as its domain wants them, and loses every Authentication-Results header
 * that is not our MTA's (authlinks.h).
 */
#include "scan/scan.h"
#include "spam/reasons.h"
#include "scan/av.h"
#include "scan/attach-mail.h"
#include "scan/authlinks.h"
#include "scan/geo.h"
#include "scan/partners.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "store/snapshot.h"
#include "spam/links.h"
#include "spam/spam.h"
#include "lib/util.h"
#include "decide/verdict.h"
#include "mail/subject.h"
#include "notice/wrap.h"
#include "crypto/report.h"
#include "auth/auth.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct om_scan_run {
	const struct om_scan_settings *set;
	const struct om_scan_request *req;
	struct om_scan_result *res;
	struct om_mime_msg *msg;
	struct om_mime_leaf *leaves;
	size_t leaf_count;
	char **viruses;		/* per leaf, NULL if clean */
	char *raw_virus;	/* found in the raw message only */
	int raw_scanned;	/* the raw scan ran without error */
	char *scan_error;	/* libclamav could not do its work */
	char *limit;		/* a part was not scanned whole: why */
	struct om_att_mail *att;	/* the attachment analysis, or NULL */
};

/* The message as the user finds it in Quarantine when it could not be
   scanned whole: a notice saying why, the original attached below it. */
static int om_scan_wrap_unscanned(struct om_scan_run *run, const char *reason,
				  char **error_r)
{
	const struct om_scan_request *req = run->req;
	struct om_buf out;
	char *notice;

	notice = om_notify_unscanned(run->set->templates_dir, run->set->language,
				     reason, run->set->now, &run->set->brand, error_r);
	if (notice == NULL)
		return -1;
	om_buf_init(&out);
	om_wrap_message(req->message, req->message_len, notice, &out);
	free(notice);
	run->res->message = om_buf_steal(&out, &run->res->message_len);
	return 0;
}

static enum om_action om_scan_limit_action(enum om_limit_action action)
{
	switch (action) {
	case OM_LIMIT_DELIVER: return OM_ACTION_DELIVER;
	case OM_LIMIT_TEMPFAIL: return OM_ACTION_TEMPFAIL;
	case OM_LIMIT_QUARANTINE: break;
	}
	return OM_ACTION_QUARANTINE;
}

/* The verdict "unscanned": the configured limit action (quarantine, with
   the original wrapped below a notice saying why), or a scanner failure
   (tempfail, whatever the limit action: a scanner that could not work
   never lets mail through). */
static int om_scan_unscanned(struct om_scan_run *run, const char *reason,
			     int failure, char **error_r)
{
	struct om_scan_result *res = run->res;

	om_free(&res->reason);
	res->verdict = OM_VERDICT_UNSCANNED;
	res->action = failure ? OM_ACTION_TEMPFAIL :
		om_scan_limit_action(run->set->limit_action);
	res->reason = om_strdup(reason);
	if (res->action == OM_ACTION_QUARANTINE)
		return om_scan_wrap_unscanned(run, reason, error_r);
	return 0;
}

/* A part's name for a notice: its file name or position, one line. */
static char *om_part_label(const struct om_mime_leaf *leaf)
{
	char *raw, *label;

	raw = leaf->filename != NULL ? om_strdup(leaf->filename) :
		om_asprintf("part %s (%s)", leaf->path, leaf->content_type);
	label = om_sanitize(raw, 200);
	free(raw);
	return label;
}

/* A body text leaf sent as is (7bit/8bit): its bytes are in the raw
   message, which is scanned whole, so a second scan would find nothing
   new.  Attachments and encoded parts are always scanned decoded. */
static int om_scan_leaf_covered_by_raw(const struct om_mime_leaf *leaf)
{
	return leaf->is_body && !leaf->encoded && leaf->unit_parent != NULL;
}

/* The first part not scanned whole, with its limit. */
static void om_scan_note_limit(struct om_scan_run *run,
			       const struct om_mime_leaf *leaf, const char *what)
{
	char *label;

	if (run->limit != NULL)
		return;
	label = leaf != NULL ? om_part_label(leaf) : om_strdup("message");
	run->limit = om_asprintf("limit: %s: %s", label, what);
	free(label);
}

/* Scans every leaf decoded; records part verdicts. */
static void om_scan_leaves(struct om_scan_run *run)
{
	struct om_buf data;
	char *virus, *error;
	enum om_verdict verdict;
	size_t i;
	int ret;

	run->viruses = om_calloc(run->leaf_count + 1, sizeof(char *));
	om_buf_init(&data);
	for (i = 0; i < run->leaf_count; i++) {
		struct om_mime_leaf *leaf = &run->leaves[i];

		om_buf_reset(&data);
		virus = NULL;
		error = NULL;
		if (om_scan_leaf_covered_by_raw(leaf) && run->raw_scanned) {
			om_scan_result_add_part(run->res, leaf->path, leaf->content_type,
						leaf->filename, OM_VERDICT_CLEAN, NULL);
			continue;
		}
		ret = om_mime_leaf_decode(leaf, &data, &error);
		if (ret == 0)
			ret = om_av_scan_buffer(run->set->engine, data.data,
						data.len, 0, &virus, &error);
		verdict = ret == OM_AV_VIRUS ? OM_VERDICT_VIRUS : ret == OM_AV_CLEAN ?
			OM_VERDICT_CLEAN : OM_VERDICT_UNSCANNED;
		om_scan_result_add_part(run->res, leaf->path, leaf->content_type,
					leaf->filename, verdict,
					ret == OM_AV_VIRUS ? virus : NULL);
		if (ret == OM_AV_VIRUS)
			run->viruses[i] = virus;
		else if (ret == OM_AV_LIMIT)
			om_scan_note_limit(run, leaf, virus);
		else if (ret < 0 && run->scan_error == NULL)
			run->scan_error = om_asprintf("part %s: %s", leaf->path, error);
		/* the attachment analysis, on the same decoded bytes */
		if (run->att != NULL && ret >= 0) {
			om_att_mail_leaf(run->att, run->set, i, data.data, data.len,
					 &run->viruses[i]);
			/* a virus in an encrypted archive it opened: the part's
			   verdict says so too */
			if (ret != OM_AV_VIRUS && run->viruses[i] != NULL) {
				struct om_scan_part *part =
					&run->res->parts[run->res->part_count - 1];

				part->verdict = OM_VERDICT_VIRUS;
				free(part->virus);
				part->virus = om_strdup(run->viruses[i]);
			}
		}
		if (ret != OM_AV_VIRUS)
			free(virus);
		free(error);
	}
	om_buf_free(&data);
}

static int om_scan_any_leaf_virus(const struct om_scan_run *run,
				  int body_only)
{
	size_t i;

	for (i = 0; i < run->leaf_count; i++) {
		if (run->viruses[i] != NULL &&
		    (!body_only || run->leaves[i].is_body ||
		     run->leaves[i].unit_parent == NULL))
			return 1;
	}
	return 0;
}

static const char *om_scan_first_virus(const struct om_scan_run *run)
{
	size_t i;

	for (i = 0; i < run->leaf_count; i++) {
		if (run->viruses[i] != NULL)
			return run->viruses[i];
	}
	return run->raw_virus;
}

/* The infected parts, each as "<before>name (virus)<after>" when
   with_virus, else "name" joined by ", ". */
static char *om_scan_infected_list(const struct om_scan_run *run,
				   int with_virus)
{
	struct om_buf b;
	char *label, *virus;
	size_t i;

	om_buf_init(&b);
	for (i = 0; i < run->leaf_count; i++) {
		if (run->viruses[i] == NULL)
			continue;
		label = om_part_label(&run->leaves[i]);
		if (with_virus) {
			virus = om_sanitize(run->viruses[i], 200);
			om_buf_printf(&b, "  - %s (%s)\n", label, virus);
			free(virus);
		} else {
			om_buf_printf(&b, "%s%s", b.len > 0 ? ", " : "", label);
		}
		free(label);
	}
	return om_buf_steal(&b, NULL);
}

/* Comma-separated labels of the infected parts. */
static char *om_scan_infected_labels(const struct om_scan_run *run)
{
	char *labels = om_scan_infected_list(run, 0);

	if (*labels != '\0')
		return labels;
	free(labels);
	return om_strdup("(message body)");
}

static char *om_scan_sender(const struct om_scan_run *run)
{
	char *from;

	if (run->req->mail_from != NULL && run->req->mail_from[0] != '\0')
		return om_strdup(run->req->mail_from);
	from = run->msg != NULL ? om_mime_header_decoded(run->msg, "From") : NULL;
	return from != NULL ? from : om_strdup("<>");
}


/* What the report says was done, in the report's language. */
static const char *om_scan_result_text(const struct om_scan_run *run,
				       int replaced)
{
	int ja = strcmp(run->set->language, "en") != 0;

	if (replaced)
		return ja ? "メール本文が感染していたため、メール全体を削除し、この報告に置き換えました" :
			"the message body was infected, so the whole message was removed and "
			"replaced by this report";
	return ja ? "感染していた添付ファイルを削除し、残りのメールにお知らせを付けて受信者に配送しました" :
		"the infected attachments were removed and the rest of the message was "
		"delivered to the recipient with a notice";
}

/* Renders the report and builds it as a mail to "to"; an administrator's
   copy is sealed (report.h) so that its own spam check lets it through. */
static int om_scan_build_report(struct om_scan_run *run, const char *to,
				int replaced, struct om_buf *out, char **error_r)
{
	char *when = om_notify_time_text(run->set->now);
	char *files = om_scan_infected_labels(run);
	char *sender = om_scan_sender(run);
	char *subject = run->msg != NULL ?
		om_mime_header_decoded(run->msg, "Subject") : NULL;
	struct om_notify_var vars[] = {
		{ "detected_at", when }, { "filename", files },
		{ "virus", om_scan_first_virus(run) }, { "sender", sender },
		{ "recipient", run->req->mailbox },
		{ "subject", subject != NULL ? subject : "" },
		{ "result", om_scan_result_text(run, replaced) }, { NULL, NULL }
	};
	char *seal;
	const char *subj, *body;
	char *text;
	int ret = -1;

	text = om_notify_render_branded(run->set->templates_dir, run->set->language,
					"virus-report", vars, &run->set->brand, error_r);
	if (text != NULL && om_notify_split_mail(text, &subj, &body) == 0) {
		if (run->set->report_key != NULL &&
		    strcmp(to, run->req->mailbox) != 0) {
			seal = om_report_seal(run->set->report_key, to, run->set->now);
			om_buf_printf(out, OM_REPORT_HEADER ": %s\n", seal);
			free(seal);
		}
		om_mime_build_text_mail(run->set->notice_from, to, subj, body, out);
		ret = 0;
	} else if (text != NULL) {
		*error_r = om_strdup("template virus-report has no Subject line");
	}
	free(text);
	free(when);
	free(files);
	free(sender);
	free(subject);
	return ret;
}

/* The administrator's copy of the report (domain setting
   virus-admin-copy), for a replaced message and a stripped one alike. */
static int om_scan_admin_copy(struct om_scan_run *run, int replaced,
			      char **error_r)
{
	struct om_buf out;

	if (run->set->admin_copy == NULL)
		return 0;
	om_buf_init(&out);
	if (om_scan_build_report(run, run->set->admin_copy, replaced, &out,
				 error_r) < 0) {
		om_buf_free(&out);
		return -1;
	}
	run->res->admin_address = om_strdup(run->set->admin_copy);
	run->res->admin_message = om_buf_steal(&out, &run->res->admin_message_len);
	return 0;
}

static int om_scan_replace(struct om_scan_run *run, char **error_r)
{
	struct om_scan_result *res = run->res;
	struct om_buf out;

	om_buf_init(&out);
	if (om_scan_build_report(run, run->req->mailbox, 1, &out, error_r) < 0) {
		om_buf_free(&out);
		return -1;
	}
	res->action = OM_ACTION_REPLACE;
	res->message = om_buf_steal(&out, &res->message_len);
	return om_scan_admin_copy(run, 1, error_r);
}

static int om_scan_strip(struct om_scan_run *run, char **error_r)
{
	char *when = om_notify_time_text(run->set->now);
	char *removed = om_scan_infected_list(run, 1);
	struct om_notify_var vars[] = {
		{ "detected_at", when }, { "removed", removed }, { NULL, NULL }
	};
	struct om_buf out;
	char *notice;
	size_t i;

	notice = om_notify_render_branded(run->set->templates_dir, run->set->language,
					  "virus-notice", vars, &run->set->brand, error_r);
	free(when);
	free(removed);
	if (notice == NULL)
		return -1;
	for (i = 0; i < run->leaf_count; i++) {
		if (run->viruses[i] != NULL)
			(void)om_mime_remove_unit(run->msg, &run->leaves[i]);
	}
	om_mime_add_notice(run->msg, notice);
	free(notice);
	om_buf_init(&out);
	om_mime_write(run->msg, &out);
	run->res->action = OM_ACTION_STRIP;
	run->res->message = om_buf_steal(&out, &run->res->message_len);
	return om_scan_admin_copy(run, 0, error_r);
}

/* A virus found: the report replaces the message when the body is
   infected, or when something else in it could not be scanned (nothing
   unscanned goes through beside a virus); else the infected attachments
   are removed.  No virus: a scanner failure tempfails, a limit takes the
   limit action, else clean. */
static int om_scan_decide(struct om_scan_run *run, char **error_r)
{
	struct om_scan_result *res = run->res;
	const char *virus = om_scan_first_virus(run);

	if (virus == NULL) {
		if (run->scan_error != NULL)
			return om_scan_unscanned(run, run->scan_error, 1, error_r);
		if (run->limit != NULL)
			return om_scan_unscanned(run, run->limit, 0, error_r);
		res->verdict = OM_VERDICT_CLEAN;
		res->action = OM_ACTION_DELIVER;
		return 0;
	}
	res->verdict = OM_VERDICT_VIRUS;
	res->virus = om_strdup(virus);
	if (run->msg == NULL || run->raw_virus != NULL ||
	    run->scan_error != NULL || run->limit != NULL ||
	    om_scan_any_leaf_virus(run, 1))
		return om_scan_replace(run, error_r);
	return om_scan_strip(run, error_r);
}

static void om_scan_run_free(struct om_scan_run *run)
{
	size_t i;

	if (run->viruses != NULL) {
		for (i = 0; i < run->leaf_count; i++)
			free(run->viruses[i]);
		free(run->viruses);
	}
	om_att_mail_free(&run->att);
	om_mime_leaves_free(&run->leaves, run->leaf_count);
	om_mime_free(&run->msg);
	free(run->raw_virus);
	free(run->scan_error);
	free(run->limit);
}

/* 1 if the message has a uuencode "begin NNN " line, which GMime leaves
   inside the text part it is in. */
static int om_scan_has_uuencode(const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while ((p = memmem(p, (size_t)(end - p), "begin ", 6)) != NULL) {
		if ((p == data || p[-1] == '\n') && end - p > 10 &&
		    p[6] >= '0' && p[6] <= '7' && p[7] >= '0' && p[7] <= '7' &&
		    p[8] >= '0' && p[8] <= '7' && p[9] == ' ')
			return 1;
		p += 6;
	}
	return 0;
}

/* Scans the raw message: its headers and every part sent as is.  Without a
   parsed tree (GMime gave up) or with uuencoded text, libclamav's own mail
   parser runs too.  A virus found here that no part shows counts as a virus
   of the body. */
static void om_scan_raw(struct om_scan_run *run, int force_mail)
{
	const struct om_scan_request *req = run->req;
	char *virus = NULL, *error = NULL;
	int mail, ret;

	mail = force_mail || run->msg == NULL ||
		om_scan_has_uuencode(req->message, req->message_len);
	ret = om_av_scan_buffer(run->set->engine, req->message, req->message_len,
				mail, &virus, &error);
	if (ret == OM_AV_VIRUS)
		run->raw_virus = virus;
	else if (ret == OM_AV_LIMIT)
		om_scan_note_limit(run, NULL, virus);
	if (ret == OM_AV_VIRUS || ret == OM_AV_CLEAN)
		run->raw_scanned = 1;
	if (ret < 0 && run->scan_error == NULL)
		run->scan_error = om_asprintf("message: %s", error);
	if (ret != OM_AV_VIRUS)
		free(virus);
	free(error);
}

/* A raw finding that a part explains belongs to that part. */
static void om_scan_attribute_raw(struct om_scan_run *run)
{
	if (run->raw_virus != NULL && om_scan_any_leaf_virus(run, 0))
		om_free(&run->raw_virus);
}

/* 0 if host is on no url-block list of the recipient's; else 2 when it is
   on the global list, 1 when on its domain's only. */
static int om_scan_url_blocked(void *context, const char *host)
{
	const struct om_scan_run *run = context;

	if (!om_snapshot_url_blocked(run->set->snap, run->req->mailbox, host))
		return 0;
	return om_snapshot_url_blocked(run->set->snap, "", host) ? 2 : 1;
}

/* A path through several countries (seed 004: 複数の国を経由 = 不審メー
   ルの可能性大) adds OM_GEO_RULE's points. */
static void om_scan_geo_rule(struct om_scan_run *run, struct om_spam_report *report)
{
	char path[OM_GEO_PATH_MAX];

	if (run->set->geo == NULL || run->msg == NULL)
		return;
	if (om_geo_received_path(run->set->geo, run->msg, path) < OM_GEO_RULE_MIN)
		return;
	om_rules_add(&report->rules, OM_GEO_RULE, OM_GEO_RULE_POINTS);
	report->score = report->rules.points;
}

/* seconds a scan waits for them from a database that does not answer */
#define OM_SCAN_CORRESPONDENTS_WAIT 2

/* The addresses the recipient has written to (phish.h: their lookalikes
   are BEC), from the worker's memory of them (partners.h) or, without
   one, from the store into temp; none when there is no store or it cannot
   say (logged: the rule is off for this mail, nothing else changes). */
static void om_scan_correspondents(const struct om_scan_run *run,
				   struct om_partners **temp,
				   const char *const **list_r, size_t *count_r)
{
	struct om_partners *cache = run->set->partners;
	char *error = NULL;

	*list_r = NULL;
	*count_r = 0;
	if (run->set->store == NULL || run->req->mailbox == NULL ||
	    *run->req->mailbox == '\0')
		return;
	if (cache == NULL)
		cache = *temp = om_partners_new();
	if (om_partners_get(cache, run->set->store, run->req->mailbox, om_now_ms(),
			    OM_SCAN_CORRESPONDENTS_WAIT, list_r, count_r, &error) < 0) {
		om_log_warn("correspondents of %s: %s", run->req->mailbox, error);
		free(error);
	}
}

/* The spam fields of the result, and the verdict "spam" when it is. */
static int om_scan_spam(struct om_scan_run *run, char **error_r)
{
	const struct om_scan_settings *set = run->set;
	const struct om_scan_request *req = run->req;
	struct om_scan_result *res = run->res;
	/* the links' own pass only where a url-block list could match */
	struct om_spam_check_settings cs = {
		set->trusted_authserv_id,
		om_snapshot_url_blocks_apply(set->snap, req->mailbox) ?
			om_scan_url_blocked : NULL, run, set->authserv_hops,
		set->phish, req->mailbox != NULL ? req->mailbox : "", NULL, 0
	};
	struct om_spam_report report;
	struct om_spam_decision d;
	char rules[512], *from, *subject;
	int ret;

	struct om_partners *partners = NULL;

	om_scan_correspondents(run, &partners, &cs.correspondents,
			       &cs.correspondent_count);
	om_spam_check_parsed(set->spam_db, run->msg, req->message,
			     req->message_len, &cs, &report);
	om_partners_free(&partners);
	om_scan_geo_rule(run, &report);
	om_rules_names(&report.rules, rules, sizeof(rules));
	res->spam_score = om_asprintf("%.2f", report.score);
	res->spam_rules = om_strdup(rules);
	/* outgoing mail (omamori-filter's outbound-spam): the score alone,
	   from the global classifier and rules - never the sender's own
	   lists (a spammer could allow anybody) nor a recipient's; the
	   filter compares it with outbound-spam-threshold */
	if (req->direction == OM_DIRECTION_OUT)
		return 0;
	from = run->msg != NULL ? om_mime_from_address(run->msg) : NULL;
	ret = om_verdict_spam(set->snap, req->mailbox, req->mail_from, from,
			      report.score, &d, error_r);
	free(from);
	if (ret < 0)
		return -1;
	if (d.listed[0] != '\0')
		res->spam_listed = om_strdup(d.listed);
	if (!d.is_spam)
		return 0;
	res->verdict = OM_VERDICT_SPAM;
	res->spam_action = d.action;
	res->spam_tag = om_strdup(d.tag);
	res->spam_reason = om_spam_reasons(&report, d.listed[0] != '\0' ? d.listed : NULL,
					   set->language);
	if (d.action == OM_SPAM_ACTION_TAG) {
		subject = run->msg != NULL ? om_mime_header_raw(run->msg, "Subject") : NULL;
		res->spam_subject = om_subject_tag(subject, d.tag);
		free(subject);
	}
	return 0;
}

/* A mailbox without the spam check (inbound-virus alone): a link on a
   url-block list (its domain's or the global one: the administrator's)
   still keeps clean mail out of the inbox.  Verdict spam, spam action
   quarantine, listed "url-block:domain" or "url-block:global", the rule
   URL_BLOCKLISTED.  Allow lists belong to the spam check and do not apply
   here, so the answer depends on the recipient's domain alone, as the
   delivery plugin's cache of a virus-only scan assumes. */
static void om_scan_links(struct om_scan_run *run)
{
	const struct om_scan_request *req = run->req;
	struct om_scan_result *res = run->res;
	int where;

	/* no url-block list for this recipient: no link to read */
	if (!om_snapshot_url_blocks_apply(run->set->snap, req->mailbox))
		return;
	where = om_links_each(run->msg, req->message, req->message_len,
			      om_scan_url_blocked, run);
	if (where == 0)
		return;
	res->spam_score = om_asprintf("%.2f", OM_SPAM_URL_BLOCKED_POINTS);
	res->spam_rules = om_strdup("URL_BLOCKLISTED");
	res->spam_listed = om_strdup(where == 2 ? "url-block:global" : "url-block:domain");
	res->spam_reason = om_strdup(om_spam_reason_of("URL_BLOCKLISTED", run->set->language));
	res->verdict = OM_VERDICT_SPAM;
	res->spam_action = OM_SPAM_ACTION_QUARANTINE;
}

/* The virus half: every leaf and the raw message.  0, or -1 (a template
   missing). */
static int om_scan_virus(struct om_scan_run *run, char **error_r)
{
	const struct om_scan_settings *set = run->set;
	char *reason = NULL;

	if (run->msg != NULL &&
	    om_mime_collect(run->msg, set->max_parts, set->max_depth,
			    &run->leaves, &run->leaf_count, &reason) != 0) {
		/* too many parts or too deep for us: libclamav's own mail
		   parser still looks for a virus (found: the report replaces
		   the message); the limit stands either way */
		run->limit = reason != NULL ? reason : om_strdup("limit");
		om_scan_raw(run, 1);
		return om_scan_decide(run, error_r);
	}
	om_scan_raw(run, 0);
	if (om_att_mail_enabled(set, run->req))
		run->att = om_att_mail_new(run->leaves, run->leaf_count);
	om_scan_leaves(run);
	om_scan_attribute_raw(run);
	return om_scan_decide(run, error_r);
}

struct om_scan_spf {
	const char *id;
	int found;
	enum om_ar_result result;
	char domain[OM_AR_DOMAIN_MAX + 1];
};

/* The first (topmost) Authentication-Results header of omamori's id that
   has an SPF result: the one policyd prepended at DATA, above everything
   the sender wrote (doc/auth.md). */
static void om_scan_spf_header(void *context, const char *name, const char *value)
{
	struct om_scan_spf *spf = context;

	if (spf->found || value == NULL ||
	    strcasecmp(name, "Authentication-Results") != 0)
		return;
	spf->found = om_ar_read_spf(value, spf->id, &spf->result, spf->domain,
				    sizeof(spf->domain));
}

/* omamori's DKIM and DMARC of an incoming message, when the recipient's
   domain asks for them: the header value in res->auth_results. */
static void om_scan_auth(struct om_scan_run *run)
{
	const struct om_scan_settings *set = run->set;
	const struct om_scan_request *req = run->req;
	struct om_scan_spf spf;
	struct om_auth_message msg;
	struct om_auth_checks ar;
	char *error = NULL, *value, *from;
	int on;

	if (set->auth == NULL || set->snap == NULL || run->msg == NULL ||
	    req->direction == OM_DIRECTION_OUT)
		return;
	value = om_settings_domain_value_from(om_snapshot_source(set->snap),
					      req->mailbox, OM_SETTING_AUTH_CHECK,
					      OM_DEFAULT_AUTH_CHECK, &error);
	free(error);
	on = value != NULL && strcmp(value, "on") == 0;
	free(value);
	if (!on)
		return;
	memset(&spf, 0, sizeof(spf));
	spf.id = set->own_authserv_id;
	om_mime_foreach_header_named(run->msg, "Authentication-Results",
				     om_scan_spf_header, &spf);
	from = om_mime_from_address(run->msg);
	memset(&msg, 0, sizeof(msg));
	msg.message = req->message;
	msg.len = req->message_len;
	msg.from_address = from;
	msg.spf = spf.found ? spf.result : OM_AR_RESULT_NONE;
	msg.spf_domain = spf.domain;
	om_auth_verify(set->auth, &msg, &ar);
	free(from);
	free(run->res->auth_results);
	run->res->auth_results = ar.header_value;
	ar.header_value = NULL;
	om_auth_checks_free(&ar);
}

/* Postfix's queue id in a Received header it wrote ("... by mx (Postfix)
   with ESMTP id 4jYDJ04jDMz1bY7f for ..."), or NULL. */
static char *om_scan_postfix_queue_id(const char *received)
{
	const char *p = strstr(received, "(Postfix) with ");
	size_t len = 0;

	if (p == NULL || (p = strstr(p, " id ")) == NULL)
		return NULL;
	p += 4;
	while ((p[len] >= '0' && p[len] <= '9') || (p[len] >= 'A' && p[len] <= 'Z') ||
	       (p[len] >= 'a' && p[len] <= 'z'))
		len++;
	return len > 0 && len < 64 ? om_strndup(p, len) : NULL;
}

static void om_scan_trace_header(void *context, const char *name, const char *value)
{
	struct om_scan_result *res = context;

	if (res->trace_queue_id == NULL && strcasecmp(name, "Received") == 0)
		res->trace_queue_id = om_scan_postfix_queue_id(value);
}

/* What the message trace keeps of the message (proto.h): read from the
   parsed message, before any rewrite. */
static void om_scan_trace_fields(struct om_scan_run *run)
{
	struct om_scan_result *res = run->res;

	if (run->msg == NULL)
		return;
	res->trace_message_id = om_mime_header_raw(run->msg, "Message-ID");
	res->trace_subject = om_mime_header_decoded(run->msg, "Subject");
	om_mime_foreach_header_named(run->msg, "Received", om_scan_trace_header, res);
}

int om_scan_message(const struct om_scan_settings *set,
		    const struct om_scan_request *req,
		    struct om_scan_result *res, char **error_r)
{
	int checks = req->checks != 0 ? req->checks : OM_CHECK_VIRUS;
	struct om_scan_run run;
	char *reason = NULL, *perror = NULL;
	int ret = 0;

	memset(&run, 0, sizeof(run));
	run.set = set;
	run.req = req;
	run.res = res;
	if (req->message_len > set->max_size) {
		reason = om_asprintf("limit: message of %zu bytes is over %zu",
				     req->message_len, set->max_size);
		ret = om_scan_unscanned(&run, reason, 0, error_r);
		free(reason);
		return ret;
	}
	run.msg = om_mime_parse(req->message, req->message_len, &perror);
	free(perror);
	om_scan_trace_fields(&run);
	if ((checks & OM_CHECK_VIRUS) != 0) {
		ret = om_scan_virus(&run, error_r);
	} else {
		res->verdict = OM_VERDICT_CLEAN;
		res->action = OM_ACTION_DELIVER;
	}
	/* omamori's own DKIM and DMARC, whatever the verdict: the message
	   delivered (or quarantined) carries them */
	if (ret == 0)
		om_scan_auth(&run);
	/* clean mail: the spam check with its links, or the links alone */
	if (ret == 0 && set->snap != NULL && res->verdict == OM_VERDICT_CLEAN) {
		if ((checks & OM_CHECK_SPAM) != 0 && set->spam_db != NULL)
			ret = om_scan_spam(&run, error_r);
		else
			om_scan_links(&run);
	}
	/* mail about to be delivered as is: what the attachment analysis
	   found, with the domain's action (attach-mail.h) */
	if (ret == 0 && run.att != NULL)
		ret = om_att_mail_apply(run.att, set, req, run.msg, res, error_r);
	/* inbound mail that goes to the inbox: sender authentication, the
	   banner, the links, and no A-R header that is not ours */
	if (ret == 0 && set->snap != NULL && req->direction == OM_DIRECTION_IN &&
	    (res->action == OM_ACTION_DELIVER || res->action == OM_ACTION_STRIP) &&
	    res->spam_action != OM_SPAM_ACTION_QUARANTINE)
		ret = om_authlinks_run(set, req, run.msg, res, error_r);
	om_scan_run_free(&run);
	return ret;
}

char *om_scan_notice_from(const char *notice_from, const char *recipient)
{
	const char *at = strrchr(recipient, '@');

	if (strchr(notice_from, '@') != NULL || at == NULL)
		return om_strdup(notice_from);
	return om_asprintf("%s%s", notice_from, at);
}
