/* ar.h - Authentication-Results header fields (RFC 8601) as omamori writes
 * and reads its own: pure functions, so the unit tests cover them without
 * a DNS server.
 *
 * omamori writes one header per check site, with trusted_authserv_id:
 *   policyd:  "<id>; spf=fail smtp.mailfrom=example.jp"
 *   scand:    "<id>; dkim=pass header.d=example.jp header.s=sel;
 *              dmarc=fail (p=reject dis=none) policy.dmarc=reject
 *              header.from=example.jp"
 * (OpenDMARC's form for the policy comment, RFC 7489 11.2's policy.dmarc).
 */
#ifndef OM_AR_H
#define OM_AR_H

#include <stddef.h>

#include "lib/values.h"

#define OM_AR_DOMAIN_MAX 253

/* 1 if s is a domain name omamori may write into a header: 1..253 bytes
   of letters, digits, '-', '_' and '.', not starting with '.'. */
int om_ar_domain_ok(const char *s);

/* The domain of an address ("user@Example.JP" -> "example.jp", lower
   case) into out; 0, or -1 when there is none a header may carry. */
int om_ar_address_domain(const char *address, char *out, size_t out_size);

/* Reads the SPF result of one Authentication-Results value if its
   authserv-id is id: 1 with *result_r and the checked domain
   (smtp.mailfrom's domain, else smtp.helo) in domain (lower case, "" when
   neither is given or usable); 0 when the value is not id's or has no
   spf= result. */
int om_ar_read_spf(const char *value, const char *id, enum om_ar_result *result_r,
		   char *domain, size_t domain_size);

#endif
