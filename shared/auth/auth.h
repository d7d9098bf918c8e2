/* auth.h - DKIM (RFC 6376) and DMARC (RFC 7489) of one delivered message,
 * for omamori-scand (issue 15, doc/auth.md).
 *
 * libopendkim verifies the signatures, asking for keys through omamori's
 * resolver (dns/dns.h) by its key lookup hook; libopendmarc evaluates the
 * policy from the record looked up here (_dmarc.<From domain>, then
 * _dmarc.<organizational domain> from the Public Suffix List through the
 * url layer), the DKIM results and the SPF result policyd wrote in its
 * Authentication-Results header.  The result is the value of one
 * Authentication-Results header (ar.h) that scand's caller adds to the
 * delivered message, where a trusted one goes.
 *
 * One handle per thread.
 */
#ifndef OM_AUTH_H
#define OM_AUTH_H

#include <stddef.h>

#include "lib/values.h"
#include "auth/ar.h"

struct om_dns;
struct om_auth;

/* dns is borrowed.  authserv_id: the id written (trusted_authserv_id).
   0, or -1 with *error_r (allocated). */
int om_auth_new(struct om_dns *dns, const char *authserv_id,
		struct om_auth **auth_r, char **error_r);
void om_auth_free(struct om_auth **auth);

struct om_auth_message {
	const char *message;		/* the raw message, LF or CRLF */
	size_t len;
	const char *from_address;	/* the From header's address, or NULL */
	/* policyd's SPF result (its header, trusted id), or
	   OM_AR_RESULT_NONE when the message has none; the domain it
	   checked ("" if unknown) */
	enum om_ar_result spf;
	const char *spf_domain;
};

/* Most signatures of a message that are verified and reported. */
#define OM_AUTH_MAX_SIGNATURES 8

struct om_auth_checks {
	/* the best DKIM result (pass over fail over the rest), none when
	   the message carries no signature */
	enum om_ar_result dkim;
	/* pass, fail, none (no record), temperror, permerror */
	enum om_ar_result dmarc;
	/* the policy of the record that applied, "reject", "quarantine",
	   "none"; "" without a record */
	char dmarc_policy[16];
	char from_domain[OM_AR_DOMAIN_MAX + 1];
	char *header_value;	/* the Authentication-Results value */
};

/* Checks msg; fills res (free with om_auth_checks_free).  Never fails:
   what cannot be decided is temperror or permerror in the header. */
void om_auth_verify(struct om_auth *auth, const struct om_auth_message *msg,
		    struct om_auth_checks *res);
void om_auth_checks_free(struct om_auth_checks *res);

#endif
