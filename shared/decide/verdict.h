/* verdict.h - what a spam score means for one mailbox: its allow and block
 * lists, its threshold and action (mailbox, then domain, then global
 * settings), and the subject tag that action may add.
 *
 * Used by omamori-scand for every delivery and by `omamorictl scan`, so
 * both say the same; the subject tagging is here too (pure, unit-tested)
 * for the Dovecot plugin that applies it.
 */
#ifndef OM_VERDICT_H
#define OM_VERDICT_H

#include <stddef.h>

#include "lib/values.h"

struct om_snapshot;

#define OM_VERDICT_TAG_MAX 80

struct om_spam_decision {
	int is_spam;
	enum om_spam_action action;	/* set even when not spam */
	double threshold;
	char tag[OM_VERDICT_TAG_MAX];
	char listed[32];	/* "allow:mailbox", "block:global", ... or "" */
};

/* Decides for mailbox ("" for the global defaults) a message from sender
   (envelope) with From address from (either may be "" or NULL) that
   scored score.  An allow-listed sender is never spam; a block-listed one
   is spam and quarantined.  The mailbox's own allow list counts only when
   its domain allows user allow lists.  Returns 0, or -1 with *error_r. */
int om_verdict_spam(const struct om_snapshot *snap, const char *mailbox,
		    const char *sender, const char *from, double score,
		    struct om_spam_decision *d, char **error_r);


#endif
