/* rules.h - the spam rules that need no training: header anomalies, failed
 * sender authentication reported by a trusted Authentication-Results
 * header (RFC 8601), the GTUBE test string, and links to block-listed hosts.  Each rule that fires
 * adds its points to the message's spam score and its name to the report.
 */
#ifndef OM_RULES_H
#define OM_RULES_H

#include <stddef.h>

struct om_mime_msg;
struct om_authres;

#define OM_RULES_MAX 24
#define OM_RULE_NAME_MAX 32

struct om_rule_hit {
	char name[OM_RULE_NAME_MAX];
	double points;
	/* a rule of the administrator's file (spam/textrules.h) brings its
	   own reasons; they live as long as the loaded rules.  NULL: the
	   reason is spam/reasons.c's, by name. */
	const char *reason_ja, *reason_en;
};

struct om_rules_result {
	struct om_rule_hit hits[OM_RULES_MAX];
	size_t count;
	double points;
};

/* Adds a hit (ignored once OM_RULES_MAX hits are recorded, or if the same
   name already fired). */
void om_rules_add(struct om_rules_result *res, const char *name, double points);
/* 1 if the rule name has fired (is among res's hits). */
int om_rules_fired(const struct om_rules_result *res, const char *name);
/* The same, with the rule's reasons in Japanese and English. */
void om_rules_add_reason(struct om_rules_result *res, const char *name, double points,
			 const char *reason_ja, const char *reason_en);

/* Header rules and, when auth is not NULL, the authentication results
   our MTA recorded (mail/authres.h: the one reader of A-R headers). */
void om_rules_check_headers(struct om_mime_msg *msg,
			    const struct om_authres *auth,
			    struct om_rules_result *res);

/* GTUBE, the Generic Test for Unsolicited Bulk Email: a readable text
   part (plain or HTML, decoded) holding the test string SpamAssassin and
   rspamd know makes the message certain spam (OM_RULE_GTUBE_POINTS, over
   any threshold a domain may set), so that an administrator can check the
   whole spam path - omamorictl selftest does - without real spam. */
#define OM_RULE_GTUBE "GTUBE"
/* the string (spamassassin.apache.org/gtube/), as SpamAssassin's and
   rspamd's rules match it */
#define OM_RULE_GTUBE_TEXT \
	"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
#define OM_RULE_GTUBE_POINTS 1000.0
void om_rules_check_body(struct om_mime_msg *msg, struct om_rules_result *res);

/* Writes "NAME,NAME2" of the hits into buf (truncated to size). */
void om_rules_names(const struct om_rules_result *res, char *buf, size_t size);

#endif
