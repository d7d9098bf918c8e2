/* spf.c - SPF with libspf2 over omamori's resolver (see spf.h).
 *
 * libspf2's DNS layers are a chain of SPF_dns_server_t; ours is the only
 * one, its lookup() answering from om_dns_query in the form libspf2's own
 * resolv layer makes (spf_dns_resolv.c): A and AAAA as in_addr/in6_addr,
 * MX and PTR names as text, TXT strings joined.  A lookup that failed is
 * TRY_AGAIN, which libspf2 turns into temperror.  Records of the old SPF
 * type (99) are never asked for: NO_DATA.
 */
#include "auth/spf.h"
#include "dns/dns.h"
#include "lib/util.h"

#include <sys/types.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

struct om_spf {
	SPF_server_t *server;
	SPF_dns_server_t layer;	/* ours: layer.hook is the om_dns */
};

static SPF_dns_rr_t *om_spf_dns_lookup(SPF_dns_server_t *layer, const char *domain,
				       ns_type type, int should_cache)
{
	struct om_dns_answer answer;
	SPF_dns_rr_t *rr;
	size_t i, len;
	int n = 0;

	(void)should_cache;
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx &&
	    type != ns_t_ptr && type != ns_t_txt)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	switch (om_dns_query(layer->hook, domain, (int)type, &answer)) {
	case OM_DNS_FOUND:
		break;
	case OM_DNS_NXDOMAIN:
		om_dns_answer_free(&answer);
		return SPF_dns_rr_new_init(layer, domain, type, 0, HOST_NOT_FOUND);
	case OM_DNS_NODATA:
		om_dns_answer_free(&answer);
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	case OM_DNS_TEMPFAIL:
	default:
		om_dns_answer_free(&answer);
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	}
	rr = SPF_dns_rr_new_init(layer, domain, type, (int)answer.ttl, NETDB_SUCCESS);
	if (rr == NULL) {
		om_dns_answer_free(&answer);
		return NULL;
	}
	for (i = 0; i < answer.count; i++) {
		len = type == ns_t_a ? sizeof(struct in_addr) :
			type == ns_t_aaaa ? sizeof(struct in6_addr) :
			strlen(answer.records[i].text) + 1;
		if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS)
			break;
		if (type == ns_t_a)
			memcpy(&rr->rr[n]->a, answer.records[i].addr, len);
		else if (type == ns_t_aaaa)
			memcpy(&rr->rr[n]->aaaa, answer.records[i].addr, len);
		else
			memcpy(rr->rr[n]->txt, answer.records[i].text, len);
		n++;
	}
	rr->num_rr = n;
	if (n == 0)
		rr->herrno = TRY_AGAIN;
	om_dns_answer_free(&answer);
	return rr;
}

int om_spf_new(struct om_dns *dns, const char *receiver, struct om_spf **spf_r,
	       char **error_r)
{
	struct om_spf *spf = om_calloc(1, sizeof(*spf));

	/* destroy NULL: the layer is ours, SPF_server_free leaves it */
	spf->layer.destroy = NULL;
	spf->layer.lookup = om_spf_dns_lookup;
	spf->layer.get_spf = NULL;
	spf->layer.get_exp = NULL;
	spf->layer.add_cache = NULL;
	spf->layer.layer_below = NULL;
	spf->layer.name = "omamori";
	spf->layer.debug = 0;
	spf->layer.hook = dns;
	spf->server = SPF_server_new_dns(&spf->layer, 0);
	if (spf->server == NULL) {
		free(spf);
		*error_r = om_strdup("SPF_server_new_dns failed");
		return -1;
	}
	if (SPF_server_set_rec_dom(spf->server, *receiver != '\0' ? receiver :
				   "localhost") != SPF_E_SUCCESS) {
		SPF_server_free(spf->server);
		free(spf);
		*error_r = om_strdup("SPF_server_set_rec_dom failed");
		return -1;
	}
	*spf_r = spf;
	return 0;
}

void om_spf_free(struct om_spf **spfp)
{
	struct om_spf *spf = *spfp;

	if (spf == NULL)
		return;
	SPF_server_free(spf->server);
	free(spf);
	*spfp = NULL;
}

static enum om_ar_result om_spf_result(SPF_result_t result)
{
	switch (result) {
	case SPF_RESULT_PASS:
		return OM_AR_PASS;
	case SPF_RESULT_FAIL:
		return OM_AR_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return OM_AR_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return OM_AR_NEUTRAL;
	case SPF_RESULT_NONE:
		return OM_AR_NONE;
	case SPF_RESULT_PERMERROR:
		return OM_AR_PERMERROR;
	case SPF_RESULT_TEMPERROR:
	case SPF_RESULT_INVALID:
	default:
		return OM_AR_TEMPERROR;
	}
}

static void om_spf_why(char *why, size_t why_size, const char *text)
{
	if (why_size > 0)
		snprintf(why, why_size, "%s", text != NULL ? text : "");
}

enum om_ar_result om_spf_check(struct om_spf *spf, const char *client_ip,
			       const char *helo, const char *mail_from,
			       char *why, size_t why_size)
{
	SPF_request_t *req = SPF_request_new(spf->server);
	SPF_response_t *resp = NULL;
	enum om_ar_result result;
	char *postmaster = NULL;
	const char *from = mail_from;

	if (req == NULL) {
		om_spf_why(why, why_size, "SPF_request_new failed");
		return OM_AR_TEMPERROR;
	}
	if (SPF_request_set_ipv4_str(req, client_ip) != SPF_E_SUCCESS &&
	    SPF_request_set_ipv6_str(req, client_ip) != SPF_E_SUCCESS) {
		SPF_request_free(req);
		om_spf_why(why, why_size, "client address is not an IP address");
		return OM_AR_PERMERROR;
	}
	if (*helo != '\0')
		(void)SPF_request_set_helo_dom(req, helo);
	if (*from == '\0') {
		if (*helo == '\0') {
			SPF_request_free(req);
			om_spf_why(why, why_size, "no MAIL FROM and no HELO");
			return OM_AR_NONE;
		}
		from = postmaster = om_asprintf("postmaster@%s", helo);
	}
	if (SPF_request_set_env_from(req, from) != 0) {
		SPF_request_free(req);
		free(postmaster);
		om_spf_why(why, why_size, "MAIL FROM has no usable domain");
		return OM_AR_NONE;
	}
	(void)SPF_request_query_mailfrom(req, &resp);
	if (resp == NULL) {
		result = OM_AR_TEMPERROR;
		om_spf_why(why, why_size, "no SPF response");
	} else {
		result = om_spf_result(SPF_response_result(resp));
		om_spf_why(why, why_size, SPF_response_get_header_comment(resp));
		SPF_response_free(resp);
	}
	SPF_request_free(req);
	free(postmaster);
	return result;
}
