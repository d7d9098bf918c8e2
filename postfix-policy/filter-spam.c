/* filter-spam.c - outbound-spam in omamori-filter: outgoing mail scored for
 * spam and, at the sender's outbound-spam-threshold, held for the
 * administrator instead of sent from the ISP's addresses (issue 14 item 6,
 * seed 001; doc/outbound.md).
 *
 * scand scores the message with the spam check, direction out: the global
 * classifier and rules only.  The sender's own allow lists never apply
 * (a spammer could list anybody), and nothing here learns: a scan request
 * never teaches the classifier, only a learn request does, and the
 * filter sends none.  scand unreachable is a tempfail: outgoing mail is
 * never sent unchecked.  The sender hears the usual 250 (a spammer is not
 * told); the domain's administrator gets an alert.
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "proto/proto.h"
#include "store/settings.h"
#include "store/store.h"


/* The sender's outbound-spam-threshold (a broken value: the default). */
static int filter_spam_threshold(struct filter_worker *w, const char *sender,
				 double *threshold_r, char **error_r)
{
	char *value;

	value = om_settings_domain_value(w->store, sender, OM_SETTING_OUTBOUND_SPAM_THRESHOLD,
					 OM_DEFAULT_OUTBOUND_SPAM_THRESHOLD, error_r);
	if (value == NULL)
		return -1;
	if (om_settings_decimal(value, threshold_r) < 0 &&
	    om_settings_decimal(OM_DEFAULT_OUTBOUND_SPAM_THRESHOLD, threshold_r) < 0) {
		free(value);
		*error_r = om_strdup("outbound-spam-threshold unreadable");
		return -1;
	}
	free(value);
	return 0;
}

int filter_spam_check(struct filter_worker *w, const struct filter_envelope *env,
		      const char *qid, const char *msg, size_t len, char **details_r,
		      char **error_r)
{
	const struct om_config *config = w->daemon->config;
	struct om_scan_request req;
	struct om_scan_result res;
	double threshold, score;
	char *rules;
	int ret;

	*details_r = NULL;
	if (*env->sender == '\0')
		return 0;	/* a bounce is nobody's outgoing mail */
	if (filter_spam_threshold(w, env->sender, &threshold, error_r) < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.session_id = (char *)qid;
	req.mailbox = env->sender;
	req.direction = OM_DIRECTION_OUT;
	req.mail_from = env->sender;
	req.checks = OM_CHECK_SPAM;
	req.rcpts = env->rcpts;
	req.rcpt_count = env->rcpt_count;
	req.message = msg;
	req.message_len = len;
	if (om_scand_scan(config->scand_socket, (int)config->scan_timeout_ms, &req,
			  &res, error_r) < 0)
		return -1;
	if (res.verdict == OM_VERDICT_UNSCANNED) {
		/* over scand's limits (size, parts): not scored, as spam
		   checkers skip large mail; said in the log */
		rules = om_sanitize(res.reason != NULL ? res.reason : "limit", 200);
		om_log_info("%s: from=<%s> outbound spam not scored: %s", qid, env->sender,
			    rules);
		free(rules);
		om_scan_result_free(&res);
		return 0;
	}
	if (res.spam_score == NULL || om_parse_decimal(res.spam_score, &score) < 0) {
		/* no score from a scan that ran: never sent unchecked */
		om_scan_result_free(&res);
		*error_r = om_strdup("scand gave no spam score");
		return -1;
	}
	rules = om_sanitize(res.spam_rules != NULL && *res.spam_rules != '\0' ?
			    res.spam_rules : "-", 400);
	ret = score >= threshold;
	om_log_info("%s: from=<%s> outbound spam score=%.2f threshold=%.2f rules=%s%s",
		    qid, env->sender, score, threshold, rules,
		    ret ? ": held for the administrator" : "");
	if (ret)
		*details_r = om_asprintf("score=%.2f threshold=%.2f rules=%s", score,
					 threshold, rules);
	free(rules);
	om_scan_result_free(&res);
	return ret;
}

int filter_spam_alert(struct filter_worker *w, const struct filter_envelope *env,
		      const char *id, const char *details, const char *msg, size_t len)
{
	char *subject = filter_subject(msg, len), *count, *sender, *tag;
	int ret;

	count = om_asprintf("%zu", env->rcpt_count);
	sender = om_sanitize(env->sender, 300);
	tag = om_asprintf("hold %s", id);
	{
		struct om_notify_var vars[] = {
			{ "sender", sender },
			{ "subject", subject },
			{ "recipients", count },
			{ "details", details },
			{ "hold_id", id },
			{ NULL, NULL }
		};

		ret = filter_hold_alert(w, env->sender, "outbound-spam-alert", vars, tag);
	}
	free(tag);
	free(sender);
	free(count);
	free(subject);
	return ret;
}
