/* dns.h - every DNS lookup of omamori, through one small resolver it
 * controls (issue 15): SPF in omamori-policyd, DKIM keys and DMARC records
 * in omamori-scand.
 *
 * A stub resolver (ldns) asking the servers omamori.conf's dns_resolver
 * names ("127.0.0.1@5353"), or those of /etc/resolv.conf when it is empty,
 * with a bounded time per lookup (dns_timeout_ms, one retry), so that the
 * tests use a DNS server on a free loopback port and a server that does
 * not answer costs a known time.  Lookups that cannot be answered (a
 * timeout, SERVFAIL, a refused or garbled answer) are OM_DNS_TEMPFAIL,
 * the value 0, so a result nobody filled in is never "not found" - and so
 * never an SPF "none" or a missing DMARC record that would let mail pass.
 * One handle per thread.
 */
#ifndef OM_DNS_H
#define OM_DNS_H

#include <stddef.h>

/* the record types omamori asks for */
#define OM_DNS_A	1
#define OM_DNS_PTR	12
#define OM_DNS_MX	15
#define OM_DNS_TXT	16
#define OM_DNS_AAAA	28

enum om_dns_rcode {
	OM_DNS_TEMPFAIL = 0,	/* no usable answer: try again later */
	OM_DNS_FOUND,		/* at least one record of the type */
	OM_DNS_NODATA,		/* the name exists, no record of the type */
	OM_DNS_NXDOMAIN,	/* the name does not exist */
};

struct om_dns_record {
	/* TXT: the strings joined; MX, PTR: the name without the final dot;
	   A, AAAA: "" (see addr) */
	char *text;
	unsigned char addr[16];	/* A: 4 bytes, AAAA: 16 */
	unsigned int preference;	/* MX */
};

struct om_dns_answer {
	enum om_dns_rcode rcode;
	struct om_dns_record *records;
	size_t count;
	unsigned int ttl;	/* the smallest of the records' */
};

struct om_dns;

/* Most names a lookup answer is read for, most bytes a TXT record joined. */
#define OM_DNS_MAX_RECORDS 64
#define OM_DNS_TXT_MAX 8192

/* spec: "" for /etc/resolv.conf's servers, or "ADDRESS[@PORT]" words
   (IPv4 or IPv6, separated by spaces or commas; one port for all).
   timeout_ms: the most one server may take for one try.  0, or -1 with
   *error_r (allocated). */
int om_dns_new(const char *spec, long timeout_ms, struct om_dns **dns_r,
	       char **error_r);
void om_dns_free(struct om_dns **dns);
/* What the handle asks ("127.0.0.1@5353", "resolv.conf: 2 servers"). */
const char *om_dns_describe(const struct om_dns *dns);

/* Looks name up (type OM_DNS_*); fills *answer_r (free it with
   om_dns_answer_free) and returns its rcode. */
enum om_dns_rcode om_dns_query(struct om_dns *dns, const char *name, int type,
			       struct om_dns_answer *answer_r);
void om_dns_answer_free(struct om_dns_answer *answer);

/* The rcode's word for logs ("tempfail", "found", ...). */
const char *om_dns_rcode_name(enum om_dns_rcode rcode);

#endif
