/* spf.h - SPF (RFC 7208) of one SMTP client for omamori-policyd, with
 * libspf2 asking omamori's own resolver (dns/dns.h) through a DNS layer
 * of ours: the tests point it at a DNS server on loopback, and a server
 * that does not answer gives temperror, never pass.
 */
#ifndef OM_SPF_H
#define OM_SPF_H

#include <stddef.h>

#include "lib/values.h"

struct om_dns;
struct om_spf;

/* dns is borrowed (it must outlive the handle); receiver names this host
   in explanations (trusted_authserv_id, or "localhost").  0, or -1 with
   *error_r (allocated). */
int om_spf_new(struct om_dns *dns, const char *receiver, struct om_spf **spf_r,
	       char **error_r);
void om_spf_free(struct om_spf **spf);

/* The SPF result for client_ip (IPv4 or IPv6 text), helo and the MAIL FROM
   address (its domain is checked; "" checks postmaster@helo, RFC 7208
   2.4).  why gets libspf2's one-line comment, for logs.  Never
   OM_AR_RESULT_NONE: anything that could not be decided is temperror
   (DNS) or permerror (a broken record). */
enum om_ar_result om_spf_check(struct om_spf *spf, const char *client_ip,
			       const char *helo, const char *mail_from,
			       char *why, size_t why_size);

#endif
