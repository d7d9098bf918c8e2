/* reasons.h - the sentence a user reads for each rule of a spam verdict,
 * in Japanese and English: one table for the X-Omamori-Spam-Reason header
 * (spam/reasons.c) and the digest and quarantine pages
 * (quarantine/quarantine.c), so that a rule reads the same everywhere.
 * Each caller keeps only what it says its own way (the classifier's
 * reading, list hits, attachment findings).
 */
#ifndef OM_NOTICE_REASONS_H
#define OM_NOTICE_REASONS_H

struct om_rule_reason {
	const char *prefix;	/* a rule name, or its start ("MISSING_") */
	const char *ja, *en;
};

#include <stddef.h>

/* The entry for rule: the first whose prefix it starts with (a longer
   name comes before a shorter one it starts with); NULL if none. */
const struct om_rule_reason *om_rule_reason_find(const char *rule);
/* The same search in a caller's own table of count entries (what it says
   its own way), ordered by the same rule. */
const struct om_rule_reason *om_rule_reason_find_in(const struct om_rule_reason *table,
						    size_t count, const char *rule);
/* r's sentence in lang ("ja": Japanese, any other: English). */
const char *om_rule_reason_text(const struct om_rule_reason *r, const char *lang);

#endif
