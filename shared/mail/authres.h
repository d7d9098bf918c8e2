/* authres.h - Authentication-Results headers (RFC 8601): which of them are
 * our MTA's, what they say, and the message without the others.
 *
 * The one place omamori reads an A-R header.  The spam rules (AUTH_*), the
 * banner and the disabled links (doc/links.md) all take their SPF, DKIM and
 * DMARC results from here, so a header counts for one exactly when it counts
 * for the other.
 *
 * Which headers are ours: an A-R header counts when its authserv-id is one
 * of trusted_authserv_id's AND it sits above the sender's headers - above the
 * hops-th Received header from the top (Dovecot's own "with LMTP" Received
 * header not counted): the MTA's milters and policy services put theirs
 * above the Received header it writes, everything a sender wrote is below
 * it.  Every other A-R header - another authserv-id, or ours where a sender
 * could have written it - is removed before delivery (RFC 8601 section 5),
 * so no forged "pass" reaches the user or a later filter.
 */
#ifndef OM_AUTHRES_H
#define OM_AUTHRES_H

#include <stddef.h>

#include "lib/util.h"

/* One method's result; 0 is "no result read". */
enum om_auth_result {
	OM_AUTH_NONE = 0,
	OM_AUTH_PASS,
	OM_AUTH_FAIL,
	OM_AUTH_SOFTFAIL,
	OM_AUTH_NEUTRAL,
	OM_AUTH_TEMPERROR,
	OM_AUTH_PERMERROR,
	OM_AUTH_OTHER,		/* "none", "policy", a word we do not know */
};

/* The sender domain's DMARC policy as the MTA recorded it. */
enum om_dmarc_policy {
	OM_DMARC_POLICY_UNKNOWN = 0,	/* not recorded: never taken for none */
	OM_DMARC_POLICY_NONE,
	OM_DMARC_POLICY_QUARANTINE,
	OM_DMARC_POLICY_REJECT,
};

struct om_authres {
	enum om_auth_result spf, dkim, dmarc;
	enum om_dmarc_policy dmarc_policy;
	unsigned int trusted;	/* A-R headers of ours read */
	unsigned int removed;	/* A-R headers that are not ours */
};

/* What decides which headers are ours. */
struct om_authres_trust {
	const char *ids;	/* authserv-ids, space or comma separated;
				   NULL or "": none is trusted */
	unsigned int hops;	/* Received headers (not "with LMTP") our own
				   MTAs write above the sender's headers */
};

/* 1 if the authserv-id of an A-R value is in ids (case-insensitive). */
int om_authres_id_trusted(const char *value, const char *ids);

/* Reads one A-R value into res (only its method results; nothing about
   trust): spf, dkim, dmarc and the DMARC policy (the property
   policy.dmarc=, or "p=" in the comment after dmarc= as OpenDMARC writes
   it).  Several results of one method: dkim passes if one signature
   passes (a list that broke one of two signatures is no forgery), spf
   and dmarc keep a fail over anything else.  0, or -1 when the value has
   no authserv-id. */
int om_authres_read_value(const char *value, struct om_authres *res);

/* Reads the header block of msg (raw bytes): the results of our A-R
   headers into *res_r (zeroed first), and - when out is not NULL and some
   A-R header is not ours - the message without those headers into out
   (every other byte as it was).  Returns res_r->removed. */
unsigned int om_authres_check(const char *msg, size_t len,
			      const struct om_authres_trust *trust,
			      struct om_authres *res_r, struct om_buf *out);

/* The checks that failed: spf fail, dkim fail (no signature passed),
   dmarc fail.  OM_AUTHRES_* bits. */
enum {
	OM_AUTHRES_SPF = 0x01,
	OM_AUTHRES_DKIM = 0x02,
	OM_AUTHRES_DMARC = 0x04,
};
unsigned int om_authres_failed(const struct om_authres *res);

/* 1 if any of spf, dkim, dmarc passed. */
int om_authres_any_pass(const struct om_authres *res);

#endif
