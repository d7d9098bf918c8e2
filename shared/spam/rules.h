/* rules.h - the spam rules that need no training: header anomalies, failed
 * sender authentication reported by a trusted Authentication-Results
 * header (RFC 8601), and links to block-listed hosts.  Each rule that fires
 * adds its points to the message's spam score and its name to the report.
 */
#ifndef OM_RULES_H
#define OM_RULES_H

#include <stddef.h>

struct om_mime_msg;

#define OM_RULES_MAX 24
#define OM_RULE_NAME_MAX 32

struct om_rule_hit {
	char name[OM_RULE_NAME_MAX];
	double points;
};

struct om_rules_result {
	struct om_rule_hit hits[OM_RULES_MAX];
	size_t count;
	double points;
};

/* Adds a hit (ignored once OM_RULES_MAX hits are recorded, or if the same
   name already fired). */
void om_rules_add(struct om_rules_result *res, const char *name, double points);

/* Header rules and, when trusted_authserv_id is not NULL or "", the
   authentication results that server (and only it) recorded. */
void om_rules_check_headers(struct om_mime_msg *msg,
			    const char *trusted_authserv_id,
			    struct om_rules_result *res);

/* What an Authentication-Results value says, if its authserv-id is
   trusted_id (case-insensitive): bits of OM_AUTH_*; 0 otherwise.  Pure
   (unit-tested). */
enum {
	OM_AUTH_SPF_FAIL = 0x01,
	OM_AUTH_SPF_SOFTFAIL = 0x02,
	OM_AUTH_DKIM_FAIL = 0x04,
	OM_AUTH_DMARC_FAIL = 0x08,
};
unsigned int om_rules_auth_results(const char *value, const char *trusted_id);

/* Writes "NAME,NAME2" of the hits into buf (truncated to size). */
void om_rules_names(const struct om_rules_result *res, char *buf, size_t size);

#endif
