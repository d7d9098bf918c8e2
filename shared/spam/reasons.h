/* reasons.h - why a message is spam, in words its recipient can read
 * (issue 19): up to three short reasons in the recipient domain's
 * language, from the rules that fired (strongest first) and the
 * classifier's strongest spam words.  They travel in scand's answer and
 * become the X-Omamori-Spam-Reason header and omamorictl scan's output.
 */
#ifndef OM_SPAM_REASONS_H
#define OM_SPAM_REASONS_H

#include "spam/spam.h"

#define OM_SPAM_REASONS_MAX 3
/* between two reasons in the joined text */
#define OM_SPAM_REASONS_SEP "; "

/* The reason for one rule in lang ("ja", else English), or NULL for a
   rule no reason is written for. */
const char *om_spam_reason_of(const char *rule, const char *lang);

/* Up to OM_SPAM_REASONS_MAX reasons for report, joined by
   OM_SPAM_REASONS_SEP (UTF-8, allocated); listed (the list that decided,
   "block:mailbox"... or NULL) comes first.  NULL when nothing fired that
   has a reason. */
char *om_spam_reasons(const struct om_spam_report *report, const char *listed,
		      const char *lang);

#endif
