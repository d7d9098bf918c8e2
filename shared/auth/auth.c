/* auth.c - DKIM and DMARC of one message (see auth.h).
 *
 * DKIM: the header fields go to libopendkim one by one (folds as CRLF,
 * as the signer canonicalised them), the body as it is with
 * DKIM_LIBFLAGS_FIXCRLF (Dovecot hands LF lines); keys come from our key
 * lookup hook, which asks omamori's resolver and remembers which
 * signatures it could not get a key for because DNS failed (temperror,
 * never fail nor pass).  DMARC: libopendmarc gets the From domain, the
 * record looked up here, each signature's outcome and policyd's SPF
 * result; its alignment and policy decide.  libopendmarc keeps one
 * process-wide Public Suffix List of its own (for relaxed alignment),
 * loaded once from the same file libpsl reads.
 */
#include "auth/auth.h"
#include "dns/dns.h"
#include "url/url.h"
#include "lib/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>

#define OM_AUTH_PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"
/* a DKIM key record, as libopendkim's own lookup reads it at most */
#define OM_AUTH_KEY_MAX 4096

struct om_auth {
	struct om_dns *dns;
	struct om_url_psl *psl;
	DKIM_LIB *dkim_lib;
	char *authserv_id;
	/* signatures whose key lookup failed for DNS, this message */
	DKIM_SIGINFO *key_tempfail[OM_AUTH_MAX_SIGNATURES];
	size_t key_tempfail_count;
};

static pthread_once_t om_auth_dmarc_once = PTHREAD_ONCE_INIT;
static int om_auth_dmarc_ready;

/* libopendmarc's one-time set-up (its list of suffixes is global). */
static void om_auth_dmarc_init(void)
{
	OPENDMARC_LIB_T lib;

	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	(void)om_strlcpy((char *)lib.tld_source_file, OM_AUTH_PSL_FILE,
			 sizeof(lib.tld_source_file));
	om_auth_dmarc_ready = opendmarc_policy_library_init(&lib) == DMARC_PARSE_OKAY;
}

/* libopendkim's key lookup: the TXT record of selector._domainkey.d. */
static DKIM_CBSTAT om_auth_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig,
				      u_char *buf, size_t buflen)
{
	struct om_auth *auth = dkim_get_user_context(dkim);
	const char *selector = (const char *)dkim_sig_getselector(sig);
	const char *domain = (const char *)dkim_sig_getdomain(sig);
	struct om_dns_answer answer;
	enum om_dns_rcode rcode;
	char name[512];
	int n;

	if (auth == NULL || selector == NULL || domain == NULL)
		return DKIM_CBSTAT_ERROR;
	n = snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
	if (n < 0 || (size_t)n >= sizeof(name))
		return DKIM_CBSTAT_NOTFOUND;
	rcode = om_dns_query(auth->dns, name, OM_DNS_TXT, &answer);
	if (rcode == OM_DNS_FOUND && strlen(answer.records[0].text) < buflen) {
		memcpy(buf, answer.records[0].text, strlen(answer.records[0].text) + 1);
		om_dns_answer_free(&answer);
		return DKIM_CBSTAT_CONTINUE;
	}
	om_dns_answer_free(&answer);
	if (rcode == OM_DNS_TEMPFAIL) {
		if (auth->key_tempfail_count < OM_AUTH_MAX_SIGNATURES)
			auth->key_tempfail[auth->key_tempfail_count++] = sig;
		return DKIM_CBSTAT_TRYAGAIN;
	}
	return DKIM_CBSTAT_NOTFOUND;
}

int om_auth_new(struct om_dns *dns, const char *authserv_id,
		struct om_auth **auth_r, char **error_r)
{
	struct om_auth *auth;
	unsigned int flags = 0;

	if (pthread_once(&om_auth_dmarc_once, om_auth_dmarc_init) != 0 ||
	    !om_auth_dmarc_ready) {
		*error_r = om_strdup("libopendmarc: cannot load " OM_AUTH_PSL_FILE
				     " (Debian's publicsuffix)");
		return -1;
	}
	auth = om_calloc(1, sizeof(*auth));
	auth->dns = dns;
	auth->authserv_id = om_strdup(authserv_id);
	auth->psl = om_url_psl_open(error_r);
	if (auth->psl == NULL) {
		om_auth_free(&auth);
		return -1;
	}
	auth->dkim_lib = dkim_init(NULL, NULL);
	if (auth->dkim_lib == NULL) {
		om_auth_free(&auth);
		*error_r = om_strdup("dkim_init failed");
		return -1;
	}
	if (dkim_options(auth->dkim_lib, DKIM_OP_GETOPT, DKIM_OPTS_FLAGS, &flags,
			 sizeof(flags)) != DKIM_STAT_OK ||
	    (flags |= DKIM_LIBFLAGS_FIXCRLF,
	     dkim_options(auth->dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
			  sizeof(flags)) != DKIM_STAT_OK) ||
	    dkim_set_key_lookup(auth->dkim_lib, om_auth_key_lookup) != DKIM_STAT_OK) {
		om_auth_free(&auth);
		*error_r = om_strdup("libopendkim: cannot set its options");
		return -1;
	}
	*auth_r = auth;
	return 0;
}

void om_auth_free(struct om_auth **authp)
{
	struct om_auth *auth = *authp;

	if (auth == NULL)
		return;
	if (auth->dkim_lib != NULL)
		dkim_close(auth->dkim_lib);
	om_url_psl_close(&auth->psl);
	free(auth->authserv_id);
	free(auth);
	*authp = NULL;
}

void om_auth_checks_free(struct om_auth_checks *res)
{
	free(res->header_value);
	memset(res, 0, sizeof(*res));
}

/* ---- DKIM ---- */

struct om_auth_sig {
	enum om_ar_result result;
	const char *why;	/* libopendkim's static text, or NULL */
	char domain[OM_AR_DOMAIN_MAX + 1];	/* "" if none a header may carry */
	char selector[OM_AR_DOMAIN_MAX + 1];
};

/* Feeds the header block to dkim, each field with its folds as CRLF;
   returns where the body starts. */
static size_t om_auth_feed_headers(DKIM *dkim, const char *msg, size_t len,
				   DKIM_STAT *status_r)
{
	struct om_buf field;
	size_t pos = 0, eol, line_len;
	const char *nl;

	om_buf_init(&field);
	*status_r = DKIM_STAT_OK;
	while (pos < len) {
		nl = memchr(msg + pos, '\n', len - pos);
		eol = nl != NULL ? (size_t)(nl - msg) : len;
		line_len = eol - pos;
		if (line_len > 0 && msg[eol - 1] == '\r')
			line_len--;
		if (line_len > 0 && (msg[pos] == ' ' || msg[pos] == '\t') &&
		    field.len > 0) {
			om_buf_append(&field, "\r\n", 2);
			om_buf_append(&field, msg + pos, line_len);
		} else {
			if (field.len > 0 &&
			    dkim_header(dkim, (u_char *)field.data, field.len) != DKIM_STAT_OK)
				*status_r = DKIM_STAT_SYNTAX;
			om_buf_reset(&field);
			if (line_len == 0) {
				pos = nl != NULL ? eol + 1 : len;
				break;
			}
			om_buf_append(&field, msg + pos, line_len);
		}
		pos = nl != NULL ? eol + 1 : len;
	}
	if (field.len > 0 &&
	    dkim_header(dkim, (u_char *)field.data, field.len) != DKIM_STAT_OK)
		*status_r = DKIM_STAT_SYNTAX;
	om_buf_free(&field);
	return pos;
}

static int om_auth_key_failed(const struct om_auth *auth, DKIM_SIGINFO *sig)
{
	size_t i;

	for (i = 0; i < auth->key_tempfail_count; i++) {
		if (auth->key_tempfail[i] == sig)
			return 1;
	}
	return 0;
}

static enum om_ar_result om_auth_sig_result(const struct om_auth *auth,
					    DKIM_SIGINFO *sig)
{
	if (DKIM_SIG_CHECK(sig))
		return OM_AR_PASS;
	if (om_auth_key_failed(auth, sig))
		return OM_AR_TEMPERROR;
	switch (dkim_sig_geterror(sig)) {
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_CORRUPT_B:
	case DKIM_SIGERROR_CORRUPT_BH:
		return OM_AR_FAIL;
	case DKIM_SIGERROR_KEYFAIL:
		return OM_AR_TEMPERROR;
	default:
		return OM_AR_PERMERROR;
	}
}

static void om_auth_copy_token(char *out, size_t out_size, const unsigned char *in)
{
	size_t i;

	out[0] = '\0';
	if (in == NULL || om_strlcpy(out, (const char *)in, out_size) < 0) {
		out[0] = '\0';
		return;
	}
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	if (!om_ar_domain_ok(out))
		out[0] = '\0';
}

/* Verifies every signature; returns how many are in sigs. */
static size_t om_auth_dkim(struct om_auth *auth, const struct om_auth_message *msg,
			   struct om_auth_sig *sigs)
{
	DKIM_SIGINFO **list = NULL;
	DKIM_STAT status;
	DKIM *dkim;
	size_t body, count = 0;
	int nsigs = 0, i;

	auth->key_tempfail_count = 0;
	dkim = dkim_verify(auth->dkim_lib, (const unsigned char *)"omamori", NULL,
			   &status);
	if (dkim == NULL)
		return 0;
	(void)dkim_set_user_context(dkim, auth);
	body = om_auth_feed_headers(dkim, msg->message, msg->len, &status);
	status = dkim_eoh(dkim);
	if (status == DKIM_STAT_NOSIG) {
		dkim_free(dkim);
		return 0;
	}
	if (body < msg->len)
		(void)dkim_body(dkim, (u_char *)msg->message + body, msg->len - body);
	(void)dkim_eom(dkim, NULL);
	if (dkim_getsiglist(dkim, &list, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (i = 0; i < nsigs && count < OM_AUTH_MAX_SIGNATURES; i++) {
		if ((dkim_sig_getflags(list[i]) & DKIM_SIGFLAG_IGNORE) != 0)
			continue;
		sigs[count].result = om_auth_sig_result(auth, list[i]);
		if (sigs[count].result != OM_AR_PASS)
			sigs[count].why = om_auth_key_failed(auth, list[i]) ?
				"key lookup failed" :
				dkim_sig_geterrorstr(dkim_sig_geterror(list[i]));
		om_auth_copy_token(sigs[count].domain, sizeof(sigs[count].domain),
				   dkim_sig_getdomain(list[i]));
		om_auth_copy_token(sigs[count].selector, sizeof(sigs[count].selector),
				   dkim_sig_getselector(list[i]));
		count++;
	}
	dkim_free(dkim);
	return count;
}

/* pass over fail over temperror over permerror; none without any. */
static enum om_ar_result om_auth_dkim_best(const struct om_auth_sig *sigs, size_t n)
{
	static const enum om_ar_result order[] = {
		OM_AR_PASS, OM_AR_FAIL, OM_AR_TEMPERROR, OM_AR_PERMERROR
	};
	size_t i, j;

	for (j = 0; j < OM_N_ELEMENTS(order); j++) {
		for (i = 0; i < n; i++) {
			if (sigs[i].result == order[j])
				return order[j];
		}
	}
	return OM_AR_NONE;
}

/* ---- DMARC ---- */

/* The DMARC record of _dmarc.domain into *record_r (allocated): FOUND
   with one, NODATA/NXDOMAIN without, TEMPFAIL. */
static enum om_dns_rcode om_auth_dmarc_record(struct om_auth *auth,
					      const char *domain, char **record_r)
{
	struct om_dns_answer answer;
	enum om_dns_rcode rcode;
	char name[300];
	size_t i, found = 0;
	const char *record = NULL;

	*record_r = NULL;
	if ((size_t)snprintf(name, sizeof(name), "_dmarc.%s", domain) >= sizeof(name))
		return OM_DNS_NXDOMAIN;
	rcode = om_dns_query(auth->dns, name, OM_DNS_TXT, &answer);
	if (rcode != OM_DNS_FOUND) {
		om_dns_answer_free(&answer);
		return rcode;
	}
	for (i = 0; i < answer.count; i++) {
		const char *t = answer.records[i].text;

		t += strspn(t, " \t");
		if (strncasecmp(t, "v=DMARC1", 8) == 0 &&
		    (t[8] == ';' || t[8] == ' ' || t[8] == '\t' || t[8] == '\0')) {
			record = answer.records[i].text;
			found++;
		}
	}
	/* RFC 7489 6.6.3: more than one record is no record */
	if (found == 1)
		*record_r = om_strdup(record);
	om_dns_answer_free(&answer);
	return found == 1 ? OM_DNS_FOUND : OM_DNS_NODATA;
}

static int om_auth_dmarc_spf_outcome(enum om_ar_result spf)
{
	switch (spf) {
	case OM_AR_PASS:
		return DMARC_POLICY_SPF_OUTCOME_PASS;
	case OM_AR_TEMPERROR:
		return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
	case OM_AR_FAIL:
	case OM_AR_SOFTFAIL:
	case OM_AR_NEUTRAL:
	case OM_AR_PERMERROR:
	case OM_AR_POLICY:
		return DMARC_POLICY_SPF_OUTCOME_FAIL;
	case OM_AR_NONE:
	case OM_AR_RESULT_NONE:
	default:
		return DMARC_POLICY_SPF_OUTCOME_NONE;
	}
}

static int om_auth_dmarc_dkim_outcome(enum om_ar_result dkim)
{
	switch (dkim) {
	case OM_AR_PASS:
		return DMARC_POLICY_DKIM_OUTCOME_PASS;
	case OM_AR_TEMPERROR:
		return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
	case OM_AR_NONE:
		return DMARC_POLICY_DKIM_OUTCOME_NONE;
	default:
		return DMARC_POLICY_DKIM_OUTCOME_FAIL;
	}
}

static const char *om_auth_policy_word(int p)
{
	switch (p) {
	case DMARC_RECORD_P_REJECT:
		return "reject";
	case DMARC_RECORD_P_QUARANTINE:
		return "quarantine";
	case DMARC_RECORD_P_NONE:
		return "none";
	default:
		return "";
	}
}

/* The DMARC result for from_domain; the policy word that applied in
   res->dmarc_policy. */
static enum om_ar_result om_auth_dmarc(struct om_auth *auth,
				       const struct om_auth_message *msg,
				       const struct om_auth_sig *sigs, size_t nsigs,
				       struct om_auth_checks *res)
{
	const char *org = NULL, *from = res->from_domain;
	char *record = NULL;
	enum om_dns_rcode rcode;
	DMARC_POLICY_T *pctx;
	int policy, p = 0, sp = 0, tempfail = 0;
	size_t i;

	rcode = om_auth_dmarc_record(auth, from, &record);
	if (rcode == OM_DNS_NXDOMAIN || rcode == OM_DNS_NODATA) {
		org = om_url_registrable_domain(auth->psl, from, OM_URL_HOST_NAME);
		if (org != NULL && strcmp(org, from) != 0)
			rcode = om_auth_dmarc_record(auth, org, &record);
		else
			org = NULL;
	}
	if (rcode == OM_DNS_TEMPFAIL)
		return OM_AR_TEMPERROR;
	if (rcode != OM_DNS_FOUND)
		return OM_AR_NONE;
	pctx = opendmarc_policy_connect_init((u_char *)"0.0.0.0", 0);
	if (pctx == NULL) {
		free(record);
		return OM_AR_TEMPERROR;
	}
	if (opendmarc_policy_store_from_domain(pctx, (u_char *)from) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_store_dmarc(pctx, (u_char *)record, (u_char *)from,
					 (u_char *)org) != DMARC_PARSE_OKAY) {
		free(record);
		(void)opendmarc_policy_connect_shutdown(pctx);
		return OM_AR_PERMERROR;
	}
	free(record);
	for (i = 0; i < nsigs; i++) {
		if (sigs[i].domain[0] == '\0')
			continue;
		tempfail |= sigs[i].result == OM_AR_TEMPERROR;
		(void)opendmarc_policy_store_dkim(pctx, (u_char *)sigs[i].domain,
						  (u_char *)sigs[i].selector,
						  om_auth_dmarc_dkim_outcome(sigs[i].result),
						  NULL);
	}
	if (msg->spf != OM_AR_RESULT_NONE && msg->spf_domain != NULL &&
	    *msg->spf_domain != '\0') {
		tempfail |= msg->spf == OM_AR_TEMPERROR;
		(void)opendmarc_policy_store_spf(pctx, (u_char *)msg->spf_domain,
						 om_auth_dmarc_spf_outcome(msg->spf),
						 DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
	}
	policy = opendmarc_get_policy_to_enforce(pctx);
	(void)opendmarc_policy_fetch_p(pctx, &p);
	(void)opendmarc_policy_fetch_sp(pctx, &sp);
	(void)opendmarc_policy_connect_shutdown(pctx);
	/* a subdomain's mail under its organisation's record: sp= if said */
	(void)om_strlcpy(res->dmarc_policy,
			 om_auth_policy_word(org != NULL && sp != DMARC_RECORD_P_UNSPECIFIED ?
					     sp : p), sizeof(res->dmarc_policy));
	switch (policy) {
	case DMARC_POLICY_PASS:
		return OM_AR_PASS;
	case DMARC_POLICY_REJECT:
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
		/* no aligned pass; one that DNS kept from passing is no fail */
		return tempfail ? OM_AR_TEMPERROR : OM_AR_FAIL;
	case DMARC_POLICY_ABSENT:
		res->dmarc_policy[0] = '\0';
		return OM_AR_NONE;
	default:
		return OM_AR_PERMERROR;
	}
}

/* ---- the header ---- */

static void om_auth_header(const struct om_auth *auth, const struct om_auth_sig *sigs,
			   size_t nsigs, struct om_auth_checks *res)
{
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	om_buf_append_str(&b, auth->authserv_id);
	if (nsigs == 0)
		om_buf_append_str(&b, "; dkim=none");
	for (i = 0; i < nsigs; i++) {
		om_buf_printf(&b, "; dkim=%s", om_ar_result_name(sigs[i].result));
		/* OpenDKIM's reason as a comment, as it writes one: static
		   text of the library's, never the sender's */
		if (sigs[i].why != NULL && strpbrk(sigs[i].why, "()\\\r\n") == NULL)
			om_buf_printf(&b, " (%s)", sigs[i].why);
		if (sigs[i].domain[0] != '\0')
			om_buf_printf(&b, " header.d=%s", sigs[i].domain);
		if (sigs[i].selector[0] != '\0')
			om_buf_printf(&b, " header.s=%s", sigs[i].selector);
	}
	om_buf_printf(&b, "; dmarc=%s", om_ar_result_name(res->dmarc));
	if (res->dmarc_policy[0] != '\0')
		om_buf_printf(&b, " (p=%s dis=none) policy.dmarc=%s", res->dmarc_policy,
			      res->dmarc_policy);
	if (res->from_domain[0] != '\0')
		om_buf_printf(&b, " header.from=%s", res->from_domain);
	res->header_value = b.data != NULL ? b.data : om_strdup("");
}

void om_auth_verify(struct om_auth *auth, const struct om_auth_message *msg,
		    struct om_auth_checks *res)
{
	struct om_auth_sig sigs[OM_AUTH_MAX_SIGNATURES];
	size_t nsigs;

	memset(res, 0, sizeof(*res));
	memset(sigs, 0, sizeof(sigs));
	nsigs = om_auth_dkim(auth, msg, sigs);
	res->dkim = om_auth_dkim_best(sigs, nsigs);
	if (msg->from_address == NULL ||
	    om_ar_address_domain(msg->from_address, res->from_domain,
				 sizeof(res->from_domain)) < 0) {
		res->from_domain[0] = '\0';
		res->dmarc = OM_AR_PERMERROR;	/* RFC 7489 6.6.1: no From domain */
	} else {
		res->dmarc = om_auth_dmarc(auth, msg, sigs, nsigs, res);
	}
	om_auth_header(auth, sigs, nsigs, res);
}
