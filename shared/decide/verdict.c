/* verdict.c - per-mailbox spam decision and subject tagging (see
 * verdict.h).
 */
#include "decide/verdict.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *om_verdict_setting(const struct om_snapshot *snap,
				const char *mailbox, const char *name,
				const char *def, char **error_r)
{
	return om_settings_domain_value_from(om_snapshot_source(snap), mailbox,
					     name, def, error_r);
}

/* Looks sender and from up on kind's lists; fills d->listed. */
static int om_verdict_listed(const struct om_snapshot *snap, const char *kind,
			     const char *mailbox, const char *sender,
			     const char *from, int with_mailbox,
			     struct om_spam_decision *d)
{
	const char *where = NULL;

	if (sender != NULL && *sender != '\0')
		where = om_snapshot_listed(snap, kind, mailbox, sender, with_mailbox);
	if (where == NULL && from != NULL && *from != '\0')
		where = om_snapshot_listed(snap, kind, mailbox, from, with_mailbox);
	if (where == NULL)
		return 0;
	snprintf(d->listed, sizeof(d->listed), "%s:%s", kind, where);
	return 1;
}

/* The spam-action setting's value; tag for a word of no action (the
   setting is checked when it is set, so only a store edited by hand). */
static enum om_spam_action om_verdict_action(const char *value)
{
	enum om_spam_action action;

	if (om_spam_action_parse(value, &action) < 0)
		return OM_SPAM_ACTION_TAG;
	return action;
}

/* Threshold, action, tag and quarantine threshold of mailbox. */
static int om_verdict_settings(const struct om_snapshot *snap, const char *mailbox,
			       double score, struct om_spam_decision *d,
			       char **error_r)
{
	char *threshold, *action, *tag, *quarantine;
	double q;
	int ret = 0;

	threshold = om_verdict_setting(snap, mailbox, OM_SETTING_SPAM_THRESHOLD,
				       OM_DEFAULT_SPAM_THRESHOLD, error_r);
	action = om_verdict_setting(snap, mailbox, OM_SETTING_SPAM_ACTION,
				    OM_DEFAULT_SPAM_ACTION, error_r);
	tag = om_verdict_setting(snap, mailbox, OM_SETTING_SPAM_TAG,
				 OM_DEFAULT_SPAM_TAG, error_r);
	quarantine = om_verdict_setting(snap, mailbox, OM_SETTING_SPAM_QUARANTINE_THRESHOLD,
					"off", error_r);
	if (threshold == NULL || action == NULL || tag == NULL || quarantine == NULL) {
		ret = -1;
	} else {
		if (om_settings_decimal(threshold, &d->threshold) < 0)
			d->threshold = 5.0;
		d->action = om_verdict_action(action);
		(void)om_strlcpy(d->tag, tag, sizeof(d->tag));
		d->is_spam = score >= d->threshold;
		if (om_settings_decimal(quarantine, &q) == 0 && score >= q) {
			d->is_spam = 1;
			d->action = OM_SPAM_ACTION_QUARANTINE;
		}
	}
	free(threshold);
	free(action);
	free(tag);
	free(quarantine);
	return ret;
}

int om_verdict_spam(const struct om_snapshot *snap, const char *mailbox,
		    const char *sender, const char *from, double score,
		    struct om_spam_decision *d, char **error_r)
{
	char *user_lists;
	int with_mailbox;

	memset(d, 0, sizeof(*d));
	if (om_verdict_settings(snap, mailbox, score, d, error_r) < 0)
		return -1;
	user_lists = om_verdict_setting(snap, mailbox, OM_SETTING_USER_ALLOW_LISTS,
					"on", error_r);
	if (user_lists == NULL)
		return -1;
	with_mailbox = strcmp(user_lists, "on") == 0;
	free(user_lists);
	if (om_verdict_listed(snap, "allow", mailbox, sender, from, with_mailbox, d)) {
		d->is_spam = 0;
		return 0;
	}
	if (om_verdict_listed(snap, "block", mailbox, sender, from, 1, d)) {
		d->is_spam = 1;
		d->action = OM_SPAM_ACTION_QUARANTINE;
	}
	return 0;
}
