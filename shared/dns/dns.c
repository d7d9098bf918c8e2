/* dns.c - omamori's resolver (see dns.h): ldns as a stub resolver with a
 * bounded time per lookup, answers read into plain records.
 *
 * Only the answer section's records of the type asked count (a recursive
 * server follows CNAMEs and sends the target's records with them).  A
 * truncated UDP answer is asked again over TCP (ldns' fallback).  Nothing
 * is cached here: the recursive server caches, and policyd caches SPF
 * results per (client, domain, HELO).
 */
#include "dns/dns.h"
#include "lib/util.h"

#include <ldns/ldns.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct om_dns {
	ldns_resolver *res;
	char *description;
};

/* One "ADDRESS[@PORT]" word into res; *port (0 = not said yet) must be
   the same for every word. */
static int om_dns_add_server(ldns_resolver *res, const char *word,
			     unsigned long *port, char **error_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *at = strchr(word, '@');
	size_t host_len = at != NULL ? (size_t)(at - word) : strlen(word);
	unsigned long p = 53;
	ldns_rdf *addr = NULL;

	if (host_len == 0 || host_len >= sizeof(host)) {
		*error_r = om_asprintf("dns_resolver: '%s' is not ADDRESS[@PORT]", word);
		return -1;
	}
	memcpy(host, word, host_len);
	host[host_len] = '\0';
	if (at != NULL && om_parse_ulong(at + 1, 1, 65535, &p) < 0) {
		*error_r = om_asprintf("dns_resolver: bad port in '%s'", word);
		return -1;
	}
	if (*port != 0 && *port != p) {
		*error_r = om_strdup("dns_resolver: every server must use the same port");
		return -1;
	}
	*port = p;
	if (ldns_str2rdf_a(&addr, host) != LDNS_STATUS_OK &&
	    ldns_str2rdf_aaaa(&addr, host) != LDNS_STATUS_OK) {
		*error_r = om_asprintf("dns_resolver: '%s' is not an IP address", host);
		return -1;
	}
	if (ldns_resolver_push_nameserver(res, addr) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(addr);
		*error_r = om_asprintf("dns_resolver: cannot use '%s'", host);
		return -1;
	}
	ldns_rdf_deep_free(addr);
	return 0;
}

static int om_dns_from_spec(ldns_resolver *res, const char *spec, char **error_r)
{
	char *copy = om_strdup(spec), *save = NULL, *word;
	unsigned long port = 0;
	int ret = 0;

	for (word = strtok_r(copy, " ,\t", &save); word != NULL && ret == 0;
	     word = strtok_r(NULL, " ,\t", &save))
		ret = om_dns_add_server(res, word, &port, error_r);
	free(copy);
	if (ret == 0 && port == 0) {
		*error_r = om_strdup("dns_resolver names no server");
		ret = -1;
	}
	if (ret == 0)
		ldns_resolver_set_port(res, (uint16_t)port);
	return ret;
}

int om_dns_new(const char *spec, long timeout_ms, struct om_dns **dns_r,
	       char **error_r)
{
	struct timeval tv;
	ldns_resolver *res = NULL;
	struct om_dns *dns;

	if (*spec == '\0') {
		if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
			*error_r = om_strdup("dns_resolver is empty and /etc/resolv.conf "
					     "cannot be read");
			return -1;
		}
	} else {
		res = ldns_resolver_new();
		if (res == NULL || om_dns_from_spec(res, spec, error_r) < 0) {
			if (res == NULL)
				*error_r = om_strdup("ldns_resolver_new failed");
			if (res != NULL)
				ldns_resolver_deep_free(res);
			return -1;
		}
	}
	if (ldns_resolver_nameserver_count(res) == 0) {
		ldns_resolver_deep_free(res);
		*error_r = om_strdup("no DNS server to ask (dns_resolver, /etc/resolv.conf)");
		return -1;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	ldns_resolver_set_timeout(res, tv);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_retrans(res, 0);
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_dnsrch(res, false);
	ldns_resolver_set_defnames(res, false);
	ldns_resolver_set_fallback(res, true);
	ldns_resolver_set_usevc(res, false);
	ldns_resolver_set_fail(res, false);
	ldns_resolver_set_random(res, true);
	dns = om_calloc(1, sizeof(*dns));
	dns->res = res;
	dns->description = *spec != '\0' ? om_strdup(spec) :
		om_asprintf("/etc/resolv.conf: %zu servers",
			    ldns_resolver_nameserver_count(res));
	*dns_r = dns;
	return 0;
}

void om_dns_free(struct om_dns **dnsp)
{
	struct om_dns *dns = *dnsp;

	if (dns == NULL)
		return;
	ldns_resolver_deep_free(dns->res);
	free(dns->description);
	free(dns);
	*dnsp = NULL;
}

const char *om_dns_describe(const struct om_dns *dns)
{
	return dns->description;
}

const char *om_dns_rcode_name(enum om_dns_rcode rcode)
{
	switch (rcode) {
	case OM_DNS_TEMPFAIL:
		return "tempfail";
	case OM_DNS_FOUND:
		return "found";
	case OM_DNS_NODATA:
		return "nodata";
	case OM_DNS_NXDOMAIN:
		return "nxdomain";
	}
	return "tempfail";
}

void om_dns_answer_free(struct om_dns_answer *answer)
{
	size_t i;

	for (i = 0; i < answer->count; i++)
		free(answer->records[i].text);
	free(answer->records);
	memset(answer, 0, sizeof(*answer));
}

/* A TXT record's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2). */
static char *om_dns_txt_text(const ldns_rr *rr)
{
	struct om_buf b;
	size_t i, n;
	const ldns_rdf *rdf;
	const uint8_t *data;

	om_buf_init(&b);
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		rdf = ldns_rr_rdf(rr, i);
		data = ldns_rdf_data(rdf);
		if (ldns_rdf_size(rdf) < 1)
			continue;
		n = data[0];
		if (n + 1 > ldns_rdf_size(rdf) || b.len + n > OM_DNS_TXT_MAX)
			break;
		om_buf_append(&b, (const char *)data + 1, n);
	}
	om_buf_append(&b, "", 0);
	if (b.data == NULL)
		return om_strdup("");
	return b.data;
}

/* A domain name rdf as text, lower case kept, without the final dot. */
static char *om_dns_name_text(const ldns_rdf *rdf)
{
	char *text = rdf != NULL ? ldns_rdf2str(rdf) : NULL, *copy;
	size_t len;

	if (text == NULL)
		return om_strdup("");
	len = strlen(text);
	if (len > 1 && text[len - 1] == '.')
		text[len - 1] = '\0';
	copy = om_strdup(text);
	free(text);
	return copy;
}

/* One record of the answer into rec; 0, or -1 to skip it. */
static int om_dns_record(const ldns_rr *rr, int type, struct om_dns_record *rec)
{
	const ldns_rdf *rdf = ldns_rr_rdf(rr, type == OM_DNS_MX ? 1 : 0);

	memset(rec, 0, sizeof(*rec));
	if (rdf == NULL)
		return -1;
	switch (type) {
	case OM_DNS_A:
	case OM_DNS_AAAA:
		if (ldns_rdf_size(rdf) != (type == OM_DNS_A ? 4u : 16u))
			return -1;
		memcpy(rec->addr, ldns_rdf_data(rdf), ldns_rdf_size(rdf));
		rec->text = om_strdup("");
		return 0;
	case OM_DNS_TXT:
		rec->text = om_dns_txt_text(rr);
		return 0;
	case OM_DNS_MX:
		if (ldns_rr_rdf(rr, 0) != NULL &&
		    ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 2)
			rec->preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		rec->text = om_dns_name_text(rdf);
		return 0;
	default:
		rec->text = om_dns_name_text(rdf);
		return 0;
	}
}

enum om_dns_rcode om_dns_query(struct om_dns *dns, const char *name, int type,
			       struct om_dns_answer *answer_r)
{
	ldns_rdf *qname;
	ldns_pkt *pkt = NULL;
	ldns_rr_list *rrs;
	ldns_rr *rr;
	ldns_status status;
	size_t i, n;

	memset(answer_r, 0, sizeof(*answer_r));
	answer_r->rcode = OM_DNS_TEMPFAIL;
	/* ldns marks a server that did not answer as unreachable for good;
	   each lookup tries them all again (a restarted server is used) */
	for (i = 0; i < ldns_resolver_nameserver_count(dns->res); i++)
		ldns_resolver_set_nameserver_rtt(dns->res, i, LDNS_RESOLV_RTT_MIN);
	if (*name == '\0' || strlen(name) > 253)
		return answer_r->rcode = OM_DNS_NXDOMAIN;
	qname = ldns_dname_new_frm_str(name);
	if (qname == NULL)
		return answer_r->rcode = OM_DNS_NXDOMAIN;
	status = ldns_resolver_query_status(&pkt, dns->res, qname,
					    (ldns_rr_type)type, LDNS_RR_CLASS_IN,
					    LDNS_RD);
	ldns_rdf_deep_free(qname);
	if (status != LDNS_STATUS_OK || pkt == NULL) {
		if (pkt != NULL)
			ldns_pkt_free(pkt);
		return OM_DNS_TEMPFAIL;
	}
	switch (ldns_pkt_get_rcode(pkt)) {
	case LDNS_RCODE_NOERROR:
		break;
	case LDNS_RCODE_NXDOMAIN:
		ldns_pkt_free(pkt);
		return answer_r->rcode = OM_DNS_NXDOMAIN;
	default:
		ldns_pkt_free(pkt);
		return OM_DNS_TEMPFAIL;
	}
	if (ldns_pkt_tc(pkt)) {
		/* still truncated after the TCP fallback: no whole answer */
		ldns_pkt_free(pkt);
		return OM_DNS_TEMPFAIL;
	}
	rrs = ldns_pkt_rr_list_by_type(pkt, (ldns_rr_type)type, LDNS_SECTION_ANSWER);
	n = rrs != NULL ? ldns_rr_list_rr_count(rrs) : 0;
	if (n > OM_DNS_MAX_RECORDS)
		n = OM_DNS_MAX_RECORDS;
	answer_r->records = om_calloc(n + 1, sizeof(*answer_r->records));
	answer_r->ttl = UINT_MAX;
	for (i = 0; i < n; i++) {
		rr = ldns_rr_list_rr(rrs, i);
		if (om_dns_record(rr, type, &answer_r->records[answer_r->count]) < 0)
			continue;
		if (ldns_rr_ttl(rr) < answer_r->ttl)
			answer_r->ttl = ldns_rr_ttl(rr);
		answer_r->count++;
	}
	if (rrs != NULL)
		ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(pkt);
	if (answer_r->count == 0)
		answer_r->ttl = 0;
	answer_r->rcode = answer_r->count > 0 ? OM_DNS_FOUND : OM_DNS_NODATA;
	return answer_r->rcode;
}
