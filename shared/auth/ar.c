/* ar.c - reading and checking the pieces of Authentication-Results headers
 * omamori writes (see ar.h).
 *
 * Reading is strict where it matters: the authserv-id must be the whole
 * first token, a result must be one of RFC 8601's words followed by a
 * delimiter, and comments "( ... )" (nested, with quoted pairs) are
 * skipped before anything is compared, so "(spf=pass)" never counts.
 */
#include "auth/ar.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int om_ar_domain_ok(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > OM_AR_DOMAIN_MAX || *s == '.')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	}
	return 1;
}

int om_ar_address_domain(const char *address, char *out, size_t out_size)
{
	const char *at = strrchr(address, '@');
	size_t i, n;

	if (at == NULL || out_size == 0)
		return -1;
	n = strlen(at + 1);
	if (n > 0 && at[n] == '>')
		n--;
	if (n == 0 || n >= out_size)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)at[1 + i]);
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return om_ar_domain_ok(out) ? 0 : -1;
}

/* value without comments, lower case, whitespace runs as one space. */
static char *om_ar_uncomment(const char *value)
{
	char *out = om_malloc(strlen(value) + 1), *o = out;
	int depth = 0, quoted = 0;

	for (; *value != '\0'; value++) {
		if (*value == '\\' && (depth > 0 || quoted) && value[1] != '\0') {
			value++;
			if (depth == 0)
				*o++ = (char)tolower((unsigned char)*value);
			continue;
		}
		if (*value == '"' && depth == 0) {
			quoted = !quoted;
			continue;
		}
		if (!quoted && *value == '(') {
			depth++;
			continue;
		}
		if (!quoted && *value == ')' && depth > 0) {
			depth--;
			continue;
		}
		if (depth > 0)
			continue;
		if (*value == '\r' || *value == '\n' || *value == '\t')
			*o++ = ' ';
		else
			*o++ = (char)tolower((unsigned char)*value);
	}
	*o = '\0';
	return out;
}

/* The value of "name=" in one resinfo (text up to the next ';'), copied
   into out when it is a usable domain (the part after '@' of an
   address).  0 or -1. */
static int om_ar_property(const char *resinfo, const char *name, char *out,
			  size_t out_size)
{
	size_t n = strlen(name), len;
	const char *p = resinfo, *v, *at;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == resinfo || p[-1] == ' ') && p[n] == '=')
			break;
		p += n;
	}
	if (p == NULL)
		return -1;
	v = p + n + 1;
	len = strcspn(v, " ;");
	at = memchr(v, '@', len);
	if (at != NULL) {
		len -= (size_t)(at + 1 - v);
		v = at + 1;
	}
	if (len == 0 || len >= out_size)
		return -1;
	memcpy(out, v, len);
	out[len] = '\0';
	return om_ar_domain_ok(out) ? 0 : -1;
}

int om_ar_read_spf(const char *value, const char *id, enum om_ar_result *result_r,
		   char *domain, size_t domain_size)
{
	char *text, *p, *semi, word[16];
	size_t idlen, n;
	int found = 0;

	if (id == NULL || *id == '\0' || domain_size == 0)
		return 0;
	domain[0] = '\0';
	text = om_ar_uncomment(value);
	p = text + strspn(text, " ");
	idlen = strcspn(p, " ;");
	if (idlen != strlen(id) || strncasecmp(p, id, idlen) != 0) {
		free(text);
		return 0;
	}
	for (semi = strchr(p, ';'); semi != NULL && !found; semi = strchr(p, ';')) {
		p = semi + 1;
		p += strspn(p, " ");
		if (strncmp(p, "spf=", 4) != 0)
			continue;
		n = strcspn(p + 4, " ;");
		if (n == 0 || n >= sizeof(word))
			continue;
		memcpy(word, p + 4, n);
		word[n] = '\0';
		if (om_ar_result_parse(word, result_r) < 0)
			continue;
		found = 1;
		semi = strchr(p, ';');
		if (semi != NULL)
			*semi = '\0';
		if (om_ar_property(p, "smtp.mailfrom", domain, domain_size) < 0 &&
		    om_ar_property(p, "smtp.helo", domain, domain_size) < 0)
			domain[0] = '\0';
	}
	free(text);
	return found;
}
