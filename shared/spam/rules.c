/* rules.c - fixed spam rules over a parsed message (see rules.h).
 *
 * Points follow SpamAssassin's scale (a threshold of 5 means "spam"): a
 * header anomaly alone never reaches it, a DMARC failure or a block-listed
 * link nearly does, and the classifier decides the rest.
 */
#include "spam/rules.h"
#include "mail/mime.h"
#include "mail/authres.h"
#include "lib/util.h"

#include <gmime/gmime.h>
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
	om_rules_add_reason(res, name, points, NULL, NULL);
}

int om_rules_fired(const struct om_rules_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->count; i++) {
		if (strcmp(res->hits[i].name, name) == 0)
			return 1;
	}
	return 0;
}

void om_rules_add_reason(struct om_rules_result *res, const char *name, double points,
			 const char *reason_ja, const char *reason_en)
{
	if (om_rules_fired(res, name) || res->count >= OM_RULES_MAX)
		return;
	(void)om_strlcpy(res->hits[res->count].name, name, OM_RULE_NAME_MAX);
	res->hits[res->count].points = points;
	res->hits[res->count].reason_ja = reason_ja;
	res->hits[res->count].reason_en = reason_en;
	res->count++;
	res->points += points;
}

static void om_rules_check_auth(const struct om_authres *auth,
				struct om_rules_result *res)
{
	if (auth->spf == OM_AUTH_FAIL)
		om_rules_add(res, "AUTH_SPF_FAIL", OM_RULE_SPF_FAIL);
	if (auth->spf == OM_AUTH_SOFTFAIL)
		om_rules_add(res, "AUTH_SPF_SOFTFAIL", OM_RULE_SPF_SOFTFAIL);
	if (auth->dkim == OM_AUTH_FAIL)
		om_rules_add(res, "AUTH_DKIM_FAIL", OM_RULE_DKIM_FAIL);
	if (auth->dmarc == OM_AUTH_FAIL)
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
			    const struct om_authres *auth,
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
	if (auth != NULL)
		om_rules_check_auth(auth, res);
}

struct om_rules_gtube {
	struct om_mime_msg *msg;
	int found;
};

static void om_rules_gtube_part(void *parent, void *part, void *data)
{
	struct om_rules_gtube *g = data;
	GMimeObject *obj = part;
	const char *text;

	(void)parent;
	if (g->found || !GMIME_IS_TEXT_PART(obj) || !om_mime_part_readable_text(obj))
		return;
	text = om_mime_part_text(g->msg, obj);
	if (text == NULL)
		return;
	g->found = strstr(text, OM_RULE_GTUBE_TEXT) != NULL;
}

void om_rules_check_body(struct om_mime_msg *msg, struct om_rules_result *res)
{
	struct om_rules_gtube g = { msg, 0 };

	om_mime_foreach_part(msg, om_rules_gtube_part, &g);
	if (g.found)
		om_rules_add(res, OM_RULE_GTUBE, OM_RULE_GTUBE_POINTS);
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
