/* authres.c - Authentication-Results headers: ours or not, what they say,
 * the message without the others (see authres.h).
 *
 * Works on the raw header block, not on GMime's view of it: the position of
 * a header among the Received headers decides whether it is ours, and the
 * headers removed must leave every other byte of the message as it was.
 */
#include "mail/authres.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An A-R value is a few hundred bytes; more is no MTA's. */
#define OM_AUTHRES_VALUE_MAX 16384
/* Longest word we compare (a method, a result, a policy). */
#define OM_AUTHRES_WORD_MAX 32

static int om_authres_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int om_authres_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* The authserv-id at the start of value: its start and length. */
static size_t om_authres_id(const char *value, const char **id_r)
{
	const char *p = value;
	int depth = 0;

	/* comments may come first (CFWS) */
	while (*p != '\0') {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !om_authres_space(*p))
			break;
		if (*p == '\\' && p[1] != '\0')
			p++;
		p++;
	}
	*id_r = p;
	return strcspn(p, " \t\r\n;(");
}

int om_authres_id_trusted(const char *value, const char *ids)
{
	const char *id, *p = ids;
	size_t idlen = om_authres_id(value, &id), n;

	if (ids == NULL || idlen == 0)
		return 0;
	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n > 0 && n == idlen && strncasecmp(p, id, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* One resinfo of a value, split into its text outside comments and the
   text of its comments (both lower case), each bounded by the value. */
struct om_authres_segment {
	char *text;
	char *comments;
};

/* Splits value at the ';' outside comments and quoted strings; calls fn
   for each piece after the first (the authserv-id). */
static void om_authres_each_resinfo(const char *value,
				    void (*fn)(const struct om_authres_segment *seg,
					       void *context),
				    void *context)
{
	size_t len = strlen(value), t = 0, c = 0;
	struct om_authres_segment seg;
	int depth = 0, quoted = 0, first = 1;
	const char *p;

	seg.text = om_malloc(len + 1);
	seg.comments = om_malloc(len + 2);
	for (p = value;; p++) {
		if (*p == '\0' || (*p == ';' && depth == 0 && !quoted)) {
			seg.text[t] = '\0';
			seg.comments[c] = '\0';
			if (!first)
				fn(&seg, context);
			first = 0;
			t = c = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (*p == '\\' && p[1] != '\0' && (depth > 0 || quoted)) {
			p++;
		} else if (!quoted && *p == '(') {
			if (depth++ == 0)
				seg.comments[c++] = ' ';
			continue;
		} else if (!quoted && *p == ')' && depth > 0) {
			depth--;
			continue;
		} else if (depth == 0 && *p == '"') {
			/* kept: a quoted string is no result word */
			quoted = !quoted;
		}
		if (depth > 0)
			seg.comments[c++] = (char)tolower((unsigned char)*p);
		else
			seg.text[t++] = (char)tolower((unsigned char)*p);
	}
	free(seg.text);
	free(seg.comments);
}

/* The word at p into word (bounded); returns the position after it. */
static const char *om_authres_word(const char *p, char *word, size_t size)
{
	size_t n = 0;

	while (om_authres_word_char(*p)) {
		if (n + 1 < size)
			word[n++] = *p;
		p++;
	}
	word[n] = '\0';
	return p;
}

static enum om_auth_result om_authres_result_word(const char *word)
{
	static const struct { const char *word; enum om_auth_result result; } map[] = {
		{ "pass", OM_AUTH_PASS }, { "fail", OM_AUTH_FAIL },
		{ "hardfail", OM_AUTH_FAIL }, { "softfail", OM_AUTH_SOFTFAIL },
		{ "neutral", OM_AUTH_NEUTRAL }, { "temperror", OM_AUTH_TEMPERROR },
		{ "permerror", OM_AUTH_PERMERROR },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(map); i++) {
		if (strcmp(word, map[i].word) == 0)
			return map[i].result;
	}
	return OM_AUTH_OTHER;
}

static enum om_dmarc_policy om_authres_policy_word(const char *word)
{
	if (strcmp(word, "none") == 0)
		return OM_DMARC_POLICY_NONE;
	if (strcmp(word, "quarantine") == 0)
		return OM_DMARC_POLICY_QUARANTINE;
	if (strcmp(word, "reject") == 0)
		return OM_DMARC_POLICY_REJECT;
	return OM_DMARC_POLICY_UNKNOWN;
}

/* The value of "name=" where it starts a word of text; NULL if absent. */
static const char *om_authres_find_prop(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || !om_authres_word_char(p[-1])) && p[n] == '=')
			return p + n + 1;
		p += n;
	}
	return NULL;
}

/* Folds one more result of a method into what was read before. */
static enum om_auth_result om_authres_fold(enum om_auth_result old,
					   enum om_auth_result new, int pass_wins)
{
	if (old == OM_AUTH_NONE)
		return new;
	if (pass_wins)
		return old == OM_AUTH_PASS || new == OM_AUTH_PASS ? OM_AUTH_PASS :
			old == OM_AUTH_FAIL || new == OM_AUTH_FAIL ? OM_AUTH_FAIL : old;
	return old == OM_AUTH_FAIL || new == OM_AUTH_FAIL ? OM_AUTH_FAIL :
		old == OM_AUTH_PASS || new == OM_AUTH_PASS ? OM_AUTH_PASS : old;
}

static void om_authres_resinfo(const struct om_authres_segment *seg, void *context)
{
	struct om_authres *res = context;
	char method[OM_AUTHRES_WORD_MAX], word[OM_AUTHRES_WORD_MAX];
	const char *p = seg->text, *prop;
	enum om_auth_result result;
	enum om_dmarc_policy policy = OM_DMARC_POLICY_UNKNOWN;

	while (om_authres_space(*p))
		p++;
	p = om_authres_word(p, method, sizeof(method));
	if (*p == '/') {	/* method/version */
		p = om_authres_word(p + 1, word, sizeof(word));
	}
	while (om_authres_space(*p))
		p++;
	if (*p != '=' || method[0] == '\0')
		return;
	p++;
	while (om_authres_space(*p))
		p++;
	(void)om_authres_word(p, word, sizeof(word));
	result = om_authres_result_word(word);
	if (strcmp(method, "spf") == 0) {
		res->spf = om_authres_fold(res->spf, result, 0);
	} else if (strcmp(method, "dkim") == 0) {
		res->dkim = om_authres_fold(res->dkim, result, 1);
	} else if (strcmp(method, "dmarc") == 0) {
		res->dmarc = om_authres_fold(res->dmarc, result, 0);
		prop = om_authres_find_prop(seg->text, "policy.dmarc");
		if (prop == NULL)
			prop = om_authres_find_prop(seg->comments, "p");
		if (prop != NULL) {
			(void)om_authres_word(prop, word, sizeof(word));
			policy = om_authres_policy_word(word);
		}
		if (policy != OM_DMARC_POLICY_UNKNOWN)
			res->dmarc_policy = policy;
	}
}

int om_authres_read_value(const char *value, struct om_authres *res)
{
	const char *id;

	if (om_authres_id(value, &id) == 0)
		return -1;
	om_authres_each_resinfo(value, om_authres_resinfo, res);
	return 0;
}

/* ---- the header block ---- */

/* One header of the raw block: [start, end) with its continuation lines;
   name_len bytes of name before the ':'. */
struct om_authres_header {
	const char *start, *end;
	size_t name_len;
	const char *value;	/* after the ':' */
};

/* The header at p; 0 at the end of the header block (or of the data). */
static int om_authres_next(const char *p, const char *end,
			   struct om_authres_header *h)
{
	const char *nl, *colon;

	if (p >= end || *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
		return 0;
	h->start = p;
	do {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl == NULL ? end : nl + 1;
	} while (p < end && (*p == ' ' || *p == '\t'));
	h->end = p;
	colon = memchr(h->start, ':', (size_t)(h->end - h->start));
	h->name_len = colon == NULL ? 0 : (size_t)(colon - h->start);
	h->value = colon == NULL ? h->end : colon + 1;
	return 1;
}

static int om_authres_named(const struct om_authres_header *h, const char *name)
{
	size_t n = strlen(name), len = h->name_len;

	while (len > 0 && (h->start[len - 1] == ' ' || h->start[len - 1] == '\t'))
		len--;
	return len == n && strncasecmp(h->start, name, n) == 0;
}

/* The value unfolded, NUL-terminated (allocated), bounded. */
static char *om_authres_value_text(const struct om_authres_header *h)
{
	size_t len = (size_t)(h->end - h->value), i, o = 0;
	char *text;

	if (len > OM_AUTHRES_VALUE_MAX)
		len = OM_AUTHRES_VALUE_MAX;
	text = om_malloc(len + 1);
	for (i = 0; i < len; i++) {
		char c = h->value[i];

		if (c == '\0')
			break;
		text[o++] = c == '\r' || c == '\n' ? ' ' : c;
	}
	text[o] = '\0';
	return text;
}

/* 1 for Dovecot LMTP's own Received header ("... by host with LMTP id"):
   it is written after the MTA's, at delivery, and is no hop of the MTA. */
static int om_authres_lmtp_received(const struct om_authres_header *h)
{
	const char *p;

	for (p = h->value; p + 9 <= h->end; p++) {
		/* the first letter alone first: most bytes are not a 'w' */
		if ((*p | 0x20) != 'w')
			continue;
		if (strncasecmp(p, "with", 4) == 0 && om_authres_space(p[4])) {
			const char *q = p + 5;

			while (q < h->end && om_authres_space(*q))
				q++;
			if (h->end - q >= 4 && strncasecmp(q, "LMTP", 4) == 0 &&
			    (q + 4 == h->end || !om_authres_word_char(q[4])))
				return 1;
		}
	}
	return 0;
}

unsigned int om_authres_check(const char *msg, size_t len,
			      const struct om_authres_trust *trust,
			      struct om_authres *res_r, struct om_buf *out)
{
	const char *p = msg, *end = msg + len, *copied = msg;
	struct om_authres_header h;
	unsigned int received = 0;
	char *value;
	int ours;

	memset(res_r, 0, sizeof(*res_r));
	while (om_authres_next(p, end, &h)) {
		p = h.end;
		if (om_authres_named(&h, "Received")) {
			if (!om_authres_lmtp_received(&h))
				received++;
			continue;
		}
		if (!om_authres_named(&h, "Authentication-Results"))
			continue;
		value = om_authres_value_text(&h);
		ours = received < trust->hops && trust->ids != NULL &&
			om_authres_id_trusted(value, trust->ids) &&
			om_authres_read_value(value, res_r) == 0;
		free(value);
		if (ours) {
			res_r->trusted++;
			continue;
		}
		res_r->removed++;
		if (out != NULL) {
			om_buf_append(out, copied, (size_t)(h.start - copied));
			copied = h.end;
		}
	}
	if (out != NULL && res_r->removed > 0)
		om_buf_append(out, copied, (size_t)(end - copied));
	else if (out != NULL)
		om_buf_reset(out);
	return res_r->removed;
}

unsigned int om_authres_failed(const struct om_authres *res)
{
	unsigned int bits = 0;

	if (res->spf == OM_AUTH_FAIL)
		bits |= OM_AUTHRES_SPF;
	if (res->dkim == OM_AUTH_FAIL)
		bits |= OM_AUTHRES_DKIM;
	if (res->dmarc == OM_AUTH_FAIL)
		bits |= OM_AUTHRES_DMARC;
	return bits;
}

int om_authres_any_pass(const struct om_authres *res)
{
	return res->spf == OM_AUTH_PASS || res->dkim == OM_AUTH_PASS ||
		res->dmarc == OM_AUTH_PASS;
}
