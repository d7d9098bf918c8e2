/* rules.c - fixed spam rules over a parsed message (see rules.h).
 *
 * Points follow SpamAssassin's scale (a threshold of 5 means "spam"): a
 * header anomaly alone never reaches it, a DMARC failure or a block-listed
 * link nearly does, and the classifier decides the rest.
 */
#include "spam/rules.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_RULE_MISSING_FROM 2.0
#define OM_RULE_MISSING_DATE 1.0
#define OM_RULE_INVALID_DATE 1.0
#define OM_RULE_MISSING_MESSAGE_ID 1.0
#define OM_RULE_MISSING_SUBJECT 0.5
#define OM_RULE_RAW_8BIT_HEADER 1.0
#define OM_RULE_HTML_ONLY 0.7
#define OM_RULE_SPF_FAIL 1.5
#define OM_RULE_SPF_SOFTFAIL 0.5
#define OM_RULE_DKIM_FAIL 1.5
#define OM_RULE_DMARC_FAIL 3.5

void om_rules_add(struct om_rules_result *res, const char *name, double points)
{
	size_t i;

	for (i = 0; i < res->count; i++) {
		if (strcmp(res->hits[i].name, name) == 0)
			return;
	}
	if (res->count >= OM_RULES_MAX)
		return;
	(void)om_strlcpy(res->hits[res->count].name, name, OM_RULE_NAME_MAX);
	res->hits[res->count].points = points;
	res->count++;
	res->points += points;
}

/* Copies value without RFC 5322 comments "(...)" (nested), lower-cased. */
static char *om_rules_uncomment(const char *value)
{
	char *out = om_malloc(strlen(value) + 1), *o = out;
	int depth = 0;

	for (; *value != '\0'; value++) {
		if (*value == '\\' && depth > 0 && value[1] != '\0') {
			value++;
			continue;
		}
		if (*value == '(') {
			depth++;
			continue;
		}
		if (*value == ')' && depth > 0) {
			depth--;
			continue;
		}
		if (depth == 0)
			*o++ = (char)tolower((unsigned char)*value);
	}
	*o = '\0';
	return out;
}

/* "method=result ..." at the start of one resinfo: the result bit, or 0. */
static unsigned int om_rules_resinfo(const char *p)
{
	static const struct { const char *method_result; unsigned int bit; } map[] = {
		{ "spf=fail", OM_AUTH_SPF_FAIL },
		{ "spf=softfail", OM_AUTH_SPF_SOFTFAIL },
		{ "dkim=fail", OM_AUTH_DKIM_FAIL },
		{ "dmarc=fail", OM_AUTH_DMARC_FAIL },
	};
	size_t i, n;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	for (i = 0; i < OM_N_ELEMENTS(map); i++) {
		n = strlen(map[i].method_result);
		if (strncmp(p, map[i].method_result, n) == 0 &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\t' || p[n] == ';' ||
		     p[n] == '\r' || p[n] == '\n'))
			return map[i].bit;
	}
	return 0;
}

unsigned int om_rules_auth_results(const char *value, const char *trusted_id)
{
	char *text, *p, *id, *semi;
	unsigned int bits = 0;
	size_t idlen;

	if (trusted_id == NULL || *trusted_id == '\0')
		return 0;
	text = om_rules_uncomment(value);
	p = text;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	/* authserv-id [version] ";" resinfo ... */
	id = p;
	idlen = strcspn(id, " \t\r\n;");
	if (idlen != strlen(trusted_id) || strncasecmp(id, trusted_id, idlen) != 0) {
		free(text);
		return 0;
	}
	semi = strchr(id, ';');
	while (semi != NULL) {
		p = semi + 1;
		bits |= om_rules_resinfo(p);
		semi = strchr(p, ';');
	}
	free(text);
	return bits;
}

struct om_rules_auth_scan {
	const char *trusted_id;
	unsigned int bits;
};

static void om_rules_auth_header(void *context, const char *name, const char *value)
{
	struct om_rules_auth_scan *scan = context;

	if (value != NULL && strcasecmp(name, "Authentication-Results") == 0)
		scan->bits |= om_rules_auth_results(value, scan->trusted_id);
}

static void om_rules_check_auth(struct om_mime_msg *msg, const char *trusted_id,
				struct om_rules_result *res)
{
	struct om_rules_auth_scan scan = { trusted_id, 0 };

	if (trusted_id == NULL || *trusted_id == '\0')
		return;
	om_mime_foreach_header(msg, om_rules_auth_header, &scan);
	if ((scan.bits & OM_AUTH_SPF_FAIL) != 0)
		om_rules_add(res, "AUTH_SPF_FAIL", OM_RULE_SPF_FAIL);
	if ((scan.bits & OM_AUTH_SPF_SOFTFAIL) != 0)
		om_rules_add(res, "AUTH_SPF_SOFTFAIL", OM_RULE_SPF_SOFTFAIL);
	if ((scan.bits & OM_AUTH_DKIM_FAIL) != 0)
		om_rules_add(res, "AUTH_DKIM_FAIL", OM_RULE_DKIM_FAIL);
	if ((scan.bits & OM_AUTH_DMARC_FAIL) != 0)
		om_rules_add(res, "AUTH_DMARC_FAIL", OM_RULE_DMARC_FAIL);
}

/* 1 if a raw header value has bytes over 0x7f (not RFC 2047 encoded). */
static int om_rules_raw_8bit(struct om_mime_msg *msg, const char *name)
{
	char *raw = om_mime_header_raw(msg, name);
	const unsigned char *p;
	int found = 0;

	if (raw == NULL)
		return 0;
	for (p = (const unsigned char *)raw; *p != '\0' && !found; p++)
		found = *p >= 0x80;
	free(raw);
	return found;
}

static int om_rules_has_header(struct om_mime_msg *msg, const char *name)
{
	char *raw = om_mime_header_raw(msg, name);

	free(raw);
	return raw != NULL;
}

void om_rules_check_headers(struct om_mime_msg *msg,
			    const char *trusted_authserv_id,
			    struct om_rules_result *res)
{
	char *from = om_mime_from_address(msg);

	if (from == NULL)
		om_rules_add(res, "MISSING_FROM", OM_RULE_MISSING_FROM);
	free(from);
	if (!om_rules_has_header(msg, "Date"))
		om_rules_add(res, "MISSING_DATE", OM_RULE_MISSING_DATE);
	else if (!om_mime_date_valid(msg))
		om_rules_add(res, "INVALID_DATE", OM_RULE_INVALID_DATE);
	if (!om_rules_has_header(msg, "Message-ID"))
		om_rules_add(res, "MISSING_MESSAGE_ID", OM_RULE_MISSING_MESSAGE_ID);
	if (!om_rules_has_header(msg, "Subject"))
		om_rules_add(res, "MISSING_SUBJECT", OM_RULE_MISSING_SUBJECT);
	if (om_rules_raw_8bit(msg, "Subject") || om_rules_raw_8bit(msg, "From"))
		om_rules_add(res, "RAW_8BIT_HEADER", OM_RULE_RAW_8BIT_HEADER);
	if (om_mime_body_is_html_only(msg))
		om_rules_add(res, "HTML_ONLY", OM_RULE_HTML_ONLY);
	om_rules_check_auth(msg, trusted_authserv_id, res);
}

void om_rules_names(const struct om_rules_result *res, char *buf, size_t size)
{
	size_t i, used = 0, n;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < res->count; i++) {
		n = strlen(res->hits[i].name) + (i > 0 ? 1 : 0);
		if (used + n + 1 > size)
			break;
		if (i > 0)
			buf[used++] = ',';
		memcpy(buf + used, res->hits[i].name, n - (i > 0 ? 1 : 0));
		used += n - (i > 0 ? 1 : 0);
		buf[used] = '\0';
	}
}
