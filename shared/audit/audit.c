/* audit.c - audit rules: the parser, the evaluator and the normalised
 * message they run over (audit.h; grammar in doc/audit.md).
 *
 * A rule is parsed once into a tree (and/or/not over conditions); every
 * string test is compiled at parse time into one PCRE2 pattern through
 * GLib's GRegex (GLib 2.74 is built on PCRE2), caseless: "contains" and
 * "is" as an escaped literal, "matches" as the administrator wrote it.
 * Keywords and the message's texts are both NFKC-normalised with
 * g_utf8_normalize, so ＡＢＣ, ABC, ｶﾝｹｲ and カンケイ match each other; the
 * charsets (ISO-2022-JP, Shift_JIS, EUC-JP, UTF-8) were converted to
 * UTF-8 before (mail/text.c).  Line breaks inside Japanese text are
 * joined, since Japanese mail wraps a line anywhere, even inside a word.
 *
 * Untrusted input: the message (bounded by mail/text.h's limits) and the
 * administrator's rule text (bounded by OM_AUDIT_RULE_MAX).  PCRE2's own
 * match limit bounds a pathological pattern.
 */
#include "audit/audit.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "mail/text.h"

/* ---- normalising ---- */

/* 1 if the character at p (UTF-8) is outside ASCII. */
static int om_audit_wide(const char *p)
{
	return (unsigned char)*p >= 0x80;
}

/* Where a text may be cut for NFKC without changing the result: before
   a character that never combines with the one before it (ASCII, a CJK
   ideograph).  GLib's g_utf8_normalize moves the rest of its buffer at
   each composition (ガ is カ and ゛ composed again), so a long Japanese text
   is normalised in pieces of about OM_AUDIT_NFKC_PIECE bytes. */
#define OM_AUDIT_NFKC_PIECE 2048
#define OM_AUDIT_NFKC_PIECE_MAX 65536

static int om_audit_nfkc_cut(const char *p)
{
	gunichar c = g_utf8_get_char(p);

	return c < 0x80 || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff);
}

/* NFKC of s (valid UTF-8), allocated with g_malloc. */
static gchar *om_audit_nfkc(const char *s)
{
	const char *p = s, *cut;
	GString *out = g_string_sized_new(strlen(s) + 1);
	gchar *piece;
	size_t left;

	while (*p != '\0') {
		left = strlen(p);
		cut = p + left;
		if (left > OM_AUDIT_NFKC_PIECE) {
			cut = g_utf8_find_next_char(p + OM_AUDIT_NFKC_PIECE - 1, NULL);
			while (cut != NULL && *cut != '\0' && !om_audit_nfkc_cut(cut) &&
			       cut - p < OM_AUDIT_NFKC_PIECE_MAX)
				cut = g_utf8_next_char(cut);
			if (cut == NULL)
				cut = p + left;
		}
		piece = g_utf8_normalize(p, cut - p, G_NORMALIZE_NFKC);
		if (piece != NULL)
			g_string_append(out, piece);
		g_free(piece);
		p = cut;
	}
	return g_string_free(out, FALSE);
}

/* NFKC, then each run of line breaks (and the blanks around them) made
   one space, or nothing between two non-ASCII characters. */
char *om_audit_normalize(const char *s)
{
	struct om_buf out;
	const char *p, *q, *prev;
	gchar *nfkc;
	char *text;

	if (s == NULL)
		s = "";
	if (g_utf8_validate(s, -1, NULL)) {
		nfkc = om_audit_nfkc(s);
	} else {
		/* not valid UTF-8: made valid first */
		gchar *valid = g_utf8_make_valid(s, -1);

		nfkc = om_audit_nfkc(valid);
		g_free(valid);
	}
	om_buf_init(&out);
	om_buf_reserve(&out, strlen(nfkc) + 1);
	for (p = nfkc; *p != '\0';) {
		if (*p != '\r' && *p != '\n') {
			q = g_utf8_next_char(p);
			om_buf_append(&out, p, (size_t)(q - p));
			p = q;
			continue;
		}
		/* the line break run, and blanks after it */
		while (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t')
			p++;
		/* blanks before it */
		while (out.len > 0 && (out.data[out.len - 1] == ' ' ||
				       out.data[out.len - 1] == '\t'))
			out.data[--out.len] = '\0';
		prev = out.len > 0 ? g_utf8_find_prev_char(out.data, out.data + out.len) :
			NULL;
		if (prev != NULL && *p != '\0' && om_audit_wide(prev) && om_audit_wide(p))
			continue;	/* 関係者\n外秘: joined */
		if (out.len > 0 && *p != '\0')
			om_buf_append_str(&out, " ");
	}
	g_free(nfkc);
	text = om_buf_steal(&out, NULL);
	return text != NULL ? text : om_strdup("");
}

/* ---- the rule's tree ---- */

enum om_audit_field {
	OM_AF_DIRECTION,
	OM_AF_SENDER,
	OM_AF_SENDER_DOMAIN,
	OM_AF_RCPT,
	OM_AF_RCPT_DOMAIN,
	OM_AF_RCPT_EXTERNAL,
	OM_AF_SIZE,
	OM_AF_ATTACHMENT,
	OM_AF_ATT_NAME,
	OM_AF_ATT_TYPE,
	OM_AF_ATT_SIZE,
	OM_AF_ATT_TEXT,
	OM_AF_SUBJECT,
	OM_AF_BODY,
	OM_AF_TEXT,
	OM_AF_HEADER,
};

enum om_audit_op {
	OM_AO_PRESENT,		/* no operand */
	OM_AO_IS,
	OM_AO_CONTAINS,
	OM_AO_MATCHES,
	OM_AO_STARTS,
	OM_AO_ENDS,
	OM_AO_LT, OM_AO_LE, OM_AO_GT, OM_AO_GE, OM_AO_EQ,
};

/* What kind of operand a field takes. */
enum om_audit_arg { OM_AA_NONE, OM_AA_DIRECTION, OM_AA_STRING, OM_AA_NUMBER,
		    OM_AA_STRING_OR_NONE };

static const struct om_audit_field_def {
	const char *name;
	enum om_audit_field field;
	enum om_audit_arg arg;
} om_audit_fields[] = {
	{ "direction", OM_AF_DIRECTION, OM_AA_DIRECTION },
	{ "sender", OM_AF_SENDER, OM_AA_STRING },
	{ "sender-domain", OM_AF_SENDER_DOMAIN, OM_AA_STRING },
	{ "recipient", OM_AF_RCPT, OM_AA_STRING },
	{ "recipient-domain", OM_AF_RCPT_DOMAIN, OM_AA_STRING },
	{ "size", OM_AF_SIZE, OM_AA_NUMBER },
	{ "attachment", OM_AF_ATTACHMENT, OM_AA_NONE },
	{ "attachment-name", OM_AF_ATT_NAME, OM_AA_STRING },
	{ "attachment-type", OM_AF_ATT_TYPE, OM_AA_STRING },
	{ "attachment-size", OM_AF_ATT_SIZE, OM_AA_NUMBER },
	{ "attachment-text", OM_AF_ATT_TEXT, OM_AA_STRING },
	{ "subject", OM_AF_SUBJECT, OM_AA_STRING },
	{ "body", OM_AF_BODY, OM_AA_STRING },
	{ "text", OM_AF_TEXT, OM_AA_STRING },
	{ "header", OM_AF_HEADER, OM_AA_STRING_OR_NONE },
};

struct om_audit_atom {
	enum om_audit_field field;
	enum om_audit_op op;
	enum om_audit_direction direction;
	long long number;
	char *header;		/* header's name */
	GRegex *re;
	char *desc;		/* the condition as written */
};

enum om_audit_node_kind { OM_AN_ATOM, OM_AN_AND, OM_AN_OR, OM_AN_NOT };

struct om_audit_node {
	enum om_audit_node_kind kind;
	struct om_audit_node *a, *b;
	struct om_audit_atom atom;
};

struct om_audit_rule {
	char *text;
	struct om_audit_node *cond;
	enum om_audit_verdict verdict;
	int has_verdict;	/* send, hold or delete written */
	int notify;
	int cont;
	char **headers;
	size_t header_count;
};

static void om_audit_node_free(struct om_audit_node *n)
{
	if (n == NULL)
		return;
	om_audit_node_free(n->a);
	om_audit_node_free(n->b);
	if (n->atom.re != NULL)
		g_regex_unref(n->atom.re);
	free(n->atom.header);
	free(n->atom.desc);
	free(n);
}

void om_audit_rule_free(struct om_audit_rule **rulep)
{
	struct om_audit_rule *rule = *rulep;
	size_t i;

	if (rule == NULL)
		return;
	om_audit_node_free(rule->cond);
	for (i = 0; i < rule->header_count; i++)
		free(rule->headers[i]);
	free(rule->headers);
	free(rule->text);
	free(rule);
	*rulep = NULL;
}

const char *om_audit_rule_text(const struct om_audit_rule *rule)
{
	return rule->text;
}

/* ---- the lexer ---- */

enum om_audit_tok {
	OM_AT_END, OM_AT_WORD, OM_AT_STRING, OM_AT_NUMBER, OM_AT_ARROW,
	OM_AT_LPAREN, OM_AT_RPAREN, OM_AT_COMMA, OM_AT_CMP, OM_AT_BAD,
};

struct om_audit_parser {
	const char *text;
	const char *p;		/* next byte to read */
	enum om_audit_tok tok;
	const char *start;	/* the current token's first byte */
	const char *end;	/* one past its last */
	char *value;		/* a string's value (escapes undone) or a word */
	long long number;
	enum om_audit_op cmp;
	char *error;		/* the first error, allocated */
};

/* Character (1-based) at byte p of the rule. */
static long om_audit_column(const struct om_audit_parser *ps, const char *p)
{
	return g_utf8_pointer_to_offset(ps->text, p) + 1;
}

/* Records the first error, at the current token. */
static void om_audit_fail(struct om_audit_parser *ps, const char *what)
{
	char *near;
	size_t n;

	if (ps->error != NULL)
		return;
	if (ps->tok == OM_AT_END) {
		ps->error = om_asprintf("at character %ld (the end of the rule): %s",
					om_audit_column(ps, ps->start), what);
		return;
	}
	/* the token, or a few characters from it when it is one */
	n = (size_t)(ps->end - ps->start);
	if (g_utf8_strlen(ps->start, (gssize)n) < 2)
		n = (size_t)(g_utf8_offset_to_pointer(ps->start,
						      MIN(g_utf8_strlen(ps->start, -1), 12)) -
			     ps->start);
	if (n > 60)	/* at a character's start */
		n = (size_t)(g_utf8_find_prev_char(ps->start, ps->start + 61) - ps->start);
	near = om_strndup(ps->start, n);
	ps->error = om_asprintf("at character %ld (near \"%s\"): %s",
				om_audit_column(ps, ps->start), near, what);
	free(near);
}

static int om_audit_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* A number with an optional K, M or G (x1024), optionally followed by B. */
static void om_audit_lex_number(struct om_audit_parser *ps)
{
	long long n = 0, unit = 1;
	const char *p = ps->p;

	while (isdigit((unsigned char)*p)) {
		if (n > (1LL << 50)) {
			ps->tok = OM_AT_BAD;
			ps->end = p;
			return;
		}
		n = n * 10 + (*p++ - '0');
	}
	switch (*p) {
	case 'k': case 'K': unit = 1024; p++; break;
	case 'm': case 'M': unit = 1024 * 1024; p++; break;
	case 'g': case 'G': unit = 1024LL * 1024 * 1024; p++; break;
	default: break;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (n > LLONG_MAX / unit) {	/* 222222222222220M: no size at all */
		ps->tok = OM_AT_BAD;
		ps->end = p;
		return;
	}
	ps->tok = om_audit_word_char(*p) ? OM_AT_BAD : OM_AT_NUMBER;
	ps->number = n * unit;
	ps->p = ps->end = p;
}

/* A "string": \" and \\ are the quote and the backslash; any other
   backslash stays (a regular expression's \d, \.). */
static void om_audit_lex_string(struct om_audit_parser *ps)
{
	struct om_buf b;
	const char *p = ps->p + 1;

	om_buf_init(&b);
	for (;;) {
		if (*p == '\0') {
			ps->tok = OM_AT_BAD;
			ps->end = p;
			om_buf_free(&b);
			om_audit_fail(ps, "a string without its closing \"");
			return;
		}
		if (*p == '"')
			break;
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
			om_buf_append(&b, p + 1, 1);
			p += 2;
			continue;
		}
		om_buf_append(&b, p, 1);
		p++;
	}
	ps->tok = OM_AT_STRING;
	ps->value = om_buf_steal(&b, NULL);
	if (ps->value == NULL)
		ps->value = om_strdup("");
	ps->p = ps->end = p + 1;
}

static void om_audit_next(struct om_audit_parser *ps)
{
	const char *p = ps->p;

	om_free(&ps->value);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	ps->start = ps->p = p;
	ps->end = p + (*p != '\0' ? 1 : 0);
	if (*p == '\0') {
		ps->tok = OM_AT_END;
	} else if (*p == '"') {
		om_audit_lex_string(ps);
	} else if (p[0] == '=' && p[1] == '>') {
		ps->tok = OM_AT_ARROW;
		ps->p = ps->end = p + 2;
	} else if (*p == '(' || *p == ')' || *p == ',') {
		ps->tok = *p == '(' ? OM_AT_LPAREN : *p == ')' ? OM_AT_RPAREN : OM_AT_COMMA;
		ps->p = ps->end = p + 1;
	} else if (*p == '<' || *p == '>' || *p == '=') {
		ps->tok = OM_AT_CMP;
		if (p[1] == '=' && *p != '=') {
			ps->cmp = *p == '<' ? OM_AO_LE : OM_AO_GE;
			ps->p = ps->end = p + 2;
		} else {
			ps->cmp = *p == '<' ? OM_AO_LT : *p == '>' ? OM_AO_GT : OM_AO_EQ;
			ps->p = ps->end = p + 1;
		}
	} else if (isdigit((unsigned char)*p)) {
		om_audit_lex_number(ps);
	} else if (om_audit_word_char(*p)) {
		while (om_audit_word_char(*p))
			p++;
		ps->tok = OM_AT_WORD;
		ps->value = g_ascii_strdown(ps->start, p - ps->start);
		{
			/* GLib's string, ours to free with free() */
			char *copy = om_strdup(ps->value);

			g_free(ps->value);
			ps->value = copy;
		}
		ps->p = ps->end = p;
	} else {
		ps->tok = OM_AT_BAD;
		ps->end = g_utf8_next_char(p);
	}
}

static int om_audit_is_word(const struct om_audit_parser *ps, const char *word)
{
	return ps->tok == OM_AT_WORD && strcmp(ps->value, word) == 0;
}

/* ---- the parser ---- */

static struct om_audit_node *om_audit_parse_or(struct om_audit_parser *ps,
					       unsigned int depth);

static const struct om_audit_field_def *om_audit_field_find(const char *word)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_audit_fields); i++) {
		if (strcmp(om_audit_fields[i].name, word) == 0)
			return &om_audit_fields[i];
	}
	return NULL;
}

static int om_audit_string_op(const char *word, enum om_audit_op *op_r)
{
	static const struct { const char *name; enum om_audit_op op; } ops[] = {
		{ "is", OM_AO_IS }, { "contains", OM_AO_CONTAINS },
		{ "matches", OM_AO_MATCHES }, { "starts-with", OM_AO_STARTS },
		{ "ends-with", OM_AO_ENDS },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(ops); i++) {
		if (strcmp(ops[i].name, word) == 0) {
			*op_r = ops[i].op;
			return 1;
		}
	}
	return 0;
}

/* The pattern of a string test (op, the value as written), compiled;
   NULL with the parser's error at the string. */
static GRegex *om_audit_compile(struct om_audit_parser *ps, enum om_audit_op op,
				const char *value)
{
	gchar *nfkc = g_utf8_normalize(value, -1, G_NORMALIZE_NFKC), *esc, *pattern;
	GError *err = NULL;
	GRegex *re;

	if (nfkc == NULL) {
		om_audit_fail(ps, "the string is not valid UTF-8");
		return NULL;
	}
	if (op == OM_AO_MATCHES) {
		pattern = g_strdup(nfkc);
	} else {
		esc = g_regex_escape_string(nfkc, -1);
		pattern = g_strdup_printf("%s%s%s",
					  op == OM_AO_IS || op == OM_AO_STARTS ? "\\A" : "",
					  esc,
					  op == OM_AO_IS || op == OM_AO_ENDS ? "\\z" : "");
		g_free(esc);
	}
	g_free(nfkc);
	re = g_regex_new(pattern, G_REGEX_CASELESS, 0, &err);
	g_free(pattern);
	if (re == NULL) {
		char *what = om_asprintf("not a regular expression: %s",
					 err != NULL ? err->message : "?");

		om_audit_fail(ps, what);
		free(what);
		g_clear_error(&err);
	}
	return re;
}

static struct om_audit_node *om_audit_atom_new(enum om_audit_field field)
{
	struct om_audit_node *n = om_calloc(1, sizeof(*n));

	n->kind = OM_AN_ATOM;
	n->atom.field = field;
	return n;
}

/* "recipient external": any recipient outside the rules' domain. */
static struct om_audit_node *om_audit_parse_external(struct om_audit_parser *ps)
{
	om_audit_next(ps);
	return om_audit_atom_new(OM_AF_RCPT_EXTERNAL);
}

/* A condition: FIELD [OP] [OPERAND]. */
static struct om_audit_node *om_audit_parse_atom(struct om_audit_parser *ps)
{
	const struct om_audit_field_def *def;
	const char *begin = ps->start;
	struct om_audit_node *n;

	if (ps->tok != OM_AT_WORD || (def = om_audit_field_find(ps->value)) == NULL) {
		om_audit_fail(ps, "expected a condition (direction, sender, sender-domain, "
			      "recipient, recipient-domain, size, attachment, "
			      "attachment-name, attachment-type, attachment-size, "
			      "attachment-text, subject, body, text, header), \"not\" or \"(\"");
		return NULL;
	}
	om_audit_next(ps);
	if (def->field == OM_AF_RCPT && om_audit_is_word(ps, "external")) {
		n = om_audit_parse_external(ps);
		n->atom.desc = om_strndup(begin, (size_t)(ps->start - begin));
		goto trim;
	}
	n = om_audit_atom_new(def->field);
	switch (def->arg) {
	case OM_AA_NONE:
		n->atom.op = OM_AO_PRESENT;
		break;
	case OM_AA_DIRECTION:
		if (om_audit_is_word(ps, "in") || om_audit_is_word(ps, "out")) {
			n->atom.direction = strcmp(ps->value, "in") == 0 ?
				OM_AUDIT_DIR_IN : OM_AUDIT_DIR_OUT;
			om_audit_next(ps);
		} else {
			om_audit_fail(ps, "expected in or out after direction");
		}
		break;
	case OM_AA_NUMBER:
		if (ps->tok != OM_AT_CMP) {
			om_audit_fail(ps, "expected <, <=, >, >= or = and a size (10M, 500K)");
			break;
		}
		n->atom.op = ps->cmp;
		om_audit_next(ps);
		if (ps->tok != OM_AT_NUMBER) {
			om_audit_fail(ps, "expected a size: digits, then K, M or G if you like");
			break;
		}
		n->atom.number = ps->number;
		om_audit_next(ps);
		break;
	case OM_AA_STRING_OR_NONE:
		if (ps->tok != OM_AT_STRING) {
			om_audit_fail(ps, "expected the header's name in quotes: "
				      "header \"X-Mailer\" contains \"...\"");
			break;
		}
		n->atom.header = om_strdup(ps->value);
		om_audit_next(ps);
		if (ps->tok != OM_AT_WORD || !om_audit_string_op(ps->value, &n->atom.op)) {
			n->atom.op = OM_AO_PRESENT;	/* header "X" alone: present */
			break;
		}
		/* fall through: its operator and string */
		/* FALLTHROUGH */
	case OM_AA_STRING:
		if (def->arg == OM_AA_STRING &&
		    (ps->tok != OM_AT_WORD || !om_audit_string_op(ps->value, &n->atom.op))) {
			om_audit_fail(ps, "expected is, contains, matches, starts-with or "
				      "ends-with");
			break;
		}
		om_audit_next(ps);
		if (ps->tok != OM_AT_STRING) {
			om_audit_fail(ps, "expected a string in double quotes");
			break;
		}
		n->atom.re = om_audit_compile(ps, n->atom.op, ps->value);
		if (n->atom.re != NULL)
			om_audit_next(ps);
		break;
	}
	n->atom.desc = om_strndup(begin, (size_t)(ps->start - begin));
trim:
	/* the description without the blanks before the next token */
	{
		size_t len = strlen(n->atom.desc);

		while (len > 0 && isspace((unsigned char)n->atom.desc[len - 1]))
			n->atom.desc[--len] = '\0';
	}
	return n;
}

static struct om_audit_node *om_audit_node_new(enum om_audit_node_kind kind,
					       struct om_audit_node *a,
					       struct om_audit_node *b)
{
	struct om_audit_node *n = om_calloc(1, sizeof(*n));

	n->kind = kind;
	n->a = a;
	n->b = b;
	return n;
}

static struct om_audit_node *om_audit_parse_unary(struct om_audit_parser *ps,
						  unsigned int depth)
{
	struct om_audit_node *n;

	if (depth > 64) {
		om_audit_fail(ps, "nested too deep");
		return NULL;
	}
	if (om_audit_is_word(ps, "not")) {
		om_audit_next(ps);
		n = om_audit_parse_unary(ps, depth + 1);
		return n == NULL ? NULL : om_audit_node_new(OM_AN_NOT, n, NULL);
	}
	if (ps->tok == OM_AT_LPAREN) {
		om_audit_next(ps);
		n = om_audit_parse_or(ps, depth + 1);
		if (n == NULL)
			return NULL;
		if (ps->tok != OM_AT_RPAREN) {
			om_audit_fail(ps, "expected \")\", \"and\" or \"or\"");
			om_audit_node_free(n);
			return NULL;
		}
		om_audit_next(ps);
		return n;
	}
	return om_audit_parse_atom(ps);
}

static struct om_audit_node *om_audit_parse_and(struct om_audit_parser *ps,
						unsigned int depth)
{
	struct om_audit_node *n = om_audit_parse_unary(ps, depth), *m;

	while (n != NULL && ps->error == NULL && om_audit_is_word(ps, "and")) {
		om_audit_next(ps);
		m = om_audit_parse_unary(ps, depth);
		if (m == NULL) {
			om_audit_node_free(n);
			return NULL;
		}
		n = om_audit_node_new(OM_AN_AND, n, m);
	}
	return n;
}

static struct om_audit_node *om_audit_parse_or(struct om_audit_parser *ps,
					       unsigned int depth)
{
	struct om_audit_node *n = om_audit_parse_and(ps, depth), *m;

	while (n != NULL && ps->error == NULL && om_audit_is_word(ps, "or")) {
		om_audit_next(ps);
		m = om_audit_parse_and(ps, depth);
		if (m == NULL) {
			om_audit_node_free(n);
			return NULL;
		}
		n = om_audit_node_new(OM_AN_OR, n, m);
	}
	return n;
}

/* "Name: value": a field name of printable ASCII without ':', a value of
   printable ASCII (no line break: one field). */
static int om_audit_header_ok(const char *h)
{
	const char *colon = strchr(h, ':'), *p;

	if (colon == NULL || colon == h)
		return 0;
	for (p = h; p < colon; p++) {
		if (*p <= ' ' || *p > '~')
			return 0;
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if ((*p < ' ' || *p > '~') && *p != '\t')
			return 0;
	}
	return colon[1] == ' ' && colon[2] != '\0';
}

static void om_audit_parse_action(struct om_audit_parser *ps, struct om_audit_rule *r)
{
	static const struct { const char *name; enum om_audit_verdict v; } verdicts[] = {
		{ "send", OM_AUDIT_SEND }, { "hold", OM_AUDIT_HOLD },
		{ "delete", OM_AUDIT_DELETE },
	};
	size_t i;

	if (ps->tok != OM_AT_WORD) {
		om_audit_fail(ps, "expected an action: send, hold, delete, notify, "
			      "add-header \"Name: value\" or continue");
		return;
	}
	for (i = 0; i < OM_N_ELEMENTS(verdicts); i++) {
		if (strcmp(ps->value, verdicts[i].name) != 0)
			continue;
		if (r->has_verdict || r->cont) {
			om_audit_fail(ps, r->cont ? "continue goes on to the next rules: "
				      "it cannot be said with send, hold or delete" :
				      "one of send, hold and delete only");
			return;
		}
		r->verdict = verdicts[i].v;
		r->has_verdict = 1;
		om_audit_next(ps);
		return;
	}
	if (strcmp(ps->value, "notify") == 0) {
		r->notify = 1;
		om_audit_next(ps);
	} else if (strcmp(ps->value, "continue") == 0) {
		if (r->has_verdict) {
			om_audit_fail(ps, "continue goes on to the next rules: it cannot "
				      "be said with send, hold or delete");
			return;
		}
		r->cont = 1;
		om_audit_next(ps);
	} else if (strcmp(ps->value, "add-header") == 0) {
		om_audit_next(ps);
		if (ps->tok != OM_AT_STRING || !om_audit_header_ok(ps->value)) {
			om_audit_fail(ps, "expected a header field in quotes, printable "
				      "ASCII: add-header \"X-Audit: checked\"");
			return;
		}
		r->headers = om_realloc(r->headers, (r->header_count + 1) * sizeof(char *));
		r->headers[r->header_count++] = om_strdup(ps->value);
		om_audit_next(ps);
	} else {
		om_audit_fail(ps, "expected an action: send, hold, delete, notify, "
			      "add-header \"Name: value\" or continue");
	}
}

struct om_audit_rule *om_audit_parse(const char *text, char **error_r)
{
	struct om_audit_parser ps;
	struct om_audit_rule *r;

	if (strlen(text) > OM_AUDIT_RULE_MAX) {
		*error_r = om_asprintf("a rule is at most %d bytes", OM_AUDIT_RULE_MAX);
		return NULL;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		*error_r = om_strdup("the rule is not valid UTF-8");
		return NULL;
	}
	memset(&ps, 0, sizeof(ps));
	ps.text = ps.p = text;
	r = om_calloc(1, sizeof(*r));
	r->text = om_strdup(text);
	om_audit_next(&ps);
	r->cond = om_audit_parse_or(&ps, 0);
	if (ps.error == NULL && ps.tok != OM_AT_ARROW)
		om_audit_fail(&ps, "expected \"and\", \"or\" or \"=>\" and the action");
	if (ps.error == NULL) {
		om_audit_next(&ps);
		om_audit_parse_action(&ps, r);
		while (ps.error == NULL && ps.tok == OM_AT_COMMA) {
			om_audit_next(&ps);
			om_audit_parse_action(&ps, r);
		}
		if (ps.error == NULL && ps.tok != OM_AT_END)
			om_audit_fail(&ps, "expected \",\" and another action, or the end");
	}
	om_free(&ps.value);
	if (ps.error != NULL) {
		*error_r = ps.error;
		om_audit_rule_free(&r);
		return NULL;
	}
	return r;
}

/* ---- the message ---- */

struct om_audit_mpart {
	char *filename;		/* normalised, or NULL */
	char *type;
	long long size;
	int is_body;
	char *text;		/* normalised, or NULL */
	char *label;		/* "the body", "attachment NAME" */
};

struct om_audit_msg {
	enum om_audit_direction direction;
	char *domain;
	char *internal;		/* space-separated, or "" */
	char *sender;
	char **rcpts;
	size_t rcpt_count;
	long long size;
	char *subject;
	struct om_audit_mpart *parts;
	size_t part_count;
	char **header_names;
	char **header_values;
	size_t header_count;
};

struct om_audit_msg *om_audit_msg_new(const struct om_audit_facts *f)
{
	struct om_audit_msg *m = om_calloc(1, sizeof(*m));
	size_t i;

	m->direction = f->direction;
	m->domain = om_strdup(f->domain != NULL ? f->domain : "");
	m->internal = om_strdup(f->internal != NULL ? f->internal : "");
	m->sender = om_audit_normalize(f->sender);
	m->rcpts = om_calloc(f->rcpt_count + 1, sizeof(char *));
	for (i = 0; i < f->rcpt_count; i++)
		m->rcpts[i] = om_audit_normalize(f->rcpts[i]);
	m->rcpt_count = f->rcpt_count;
	m->size = f->size;
	m->subject = om_audit_normalize(f->subject);
	m->parts = om_calloc(f->part_count + 1, sizeof(*m->parts));
	for (i = 0; i < f->part_count; i++) {
		const struct om_audit_part *p = &f->parts[i];
		struct om_audit_mpart *q = &m->parts[i];

		q->filename = p->filename != NULL ? om_audit_normalize(p->filename) : NULL;
		q->type = om_strdup(p->type != NULL ? p->type : "");
		q->size = p->size;
		q->is_body = p->is_body;
		q->text = p->text != NULL ? om_audit_normalize(p->text) : NULL;
		q->label = p->is_body ? om_strdup("the body") :
			om_asprintf("attachment %s", q->filename != NULL ? q->filename :
				    q->type);
	}
	m->part_count = f->part_count;
	m->header_names = om_calloc(f->header_count + 1, sizeof(char *));
	m->header_values = om_calloc(f->header_count + 1, sizeof(char *));
	for (i = 0; i < f->header_count; i++) {
		m->header_names[i] = om_strdup(f->headers[i].name);
		m->header_values[i] = om_audit_normalize(f->headers[i].value);
	}
	m->header_count = f->header_count;
	return m;
}

void om_audit_msg_free(struct om_audit_msg **mp)
{
	struct om_audit_msg *m = *mp;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->rcpt_count; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	for (i = 0; i < m->part_count; i++) {
		free(m->parts[i].filename);
		free(m->parts[i].type);
		free(m->parts[i].text);
		free(m->parts[i].label);
	}
	free(m->parts);
	for (i = 0; i < m->header_count; i++) {
		free(m->header_names[i]);
		free(m->header_values[i]);
	}
	free(m->header_names);
	free(m->header_values);
	free(m->domain);
	free(m->internal);
	free(m->sender);
	free(m->subject);
	free(m);
	*mp = NULL;
}

struct om_audit_msg *om_audit_msg_read(const char *msg, size_t len,
				       enum om_audit_direction direction,
				       const char *domain, const char *internal,
				       const char *sender,
				       char *const *rcpts, size_t rcpt_count,
				       char **error_r)
{
	struct om_audit_facts f;
	struct om_audit_part *parts;
	struct om_audit_header *headers;
	struct om_audit_msg *m;
	struct om_mail_text t;
	size_t i;

	if (om_mail_text_read(msg, len, OM_AUDIT_MAX_PARTS, OM_AUDIT_TEXT_MAX, &t,
			      error_r) < 0)
		return NULL;
	parts = om_calloc(t.count + 1, sizeof(*parts));
	for (i = 0; i < t.count; i++) {
		parts[i].filename = t.parts[i].filename;
		parts[i].type = t.parts[i].content_type;
		parts[i].size = (long long)t.parts[i].size;
		parts[i].is_body = t.parts[i].is_body;
		parts[i].text = t.parts[i].text;
	}
	headers = om_calloc(t.header_count + 1, sizeof(*headers));
	for (i = 0; i < t.header_count; i++) {
		headers[i].name = t.headers[i].name;
		headers[i].value = t.headers[i].value;
	}
	memset(&f, 0, sizeof(f));
	f.direction = direction;
	f.domain = domain;
	f.internal = internal;
	f.sender = sender;
	f.rcpts = rcpts;
	f.rcpt_count = rcpt_count;
	f.size = (long long)len;
	f.subject = t.subject;
	f.parts = parts;
	f.part_count = t.count;
	f.headers = headers;
	f.header_count = t.header_count;
	m = om_audit_msg_new(&f);
	free(parts);
	free(headers);
	om_mail_text_free(&t);
	return m;
}

/* ---- the evaluator ---- */

static const char *om_audit_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/* 1 if domain is the rules' domain or one of its internal ones. */
static int om_audit_inside(const struct om_audit_msg *m, const char *domain)
{
	const char *p = m->internal, *end;
	size_t n = strlen(domain);

	if (strcasecmp(domain, m->domain) == 0)
		return 1;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) == n && n > 0 && strncasecmp(p, domain, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* 1 if re matches s; what it found, and where, into why. */
static int om_audit_re(const GRegex *re, const char *s, const char *where,
		       struct om_buf *why)
{
	GMatchInfo *info = NULL;
	gchar *found;
	char *clean;
	int ok;

	if (s == NULL)
		return 0;
	ok = g_regex_match(re, s, 0, &info);
	if (ok && why != NULL) {
		found = g_match_info_fetch(info, 0);
		clean = om_sanitize(found != NULL ? found : "", 80);
		om_buf_printf(why, " (\"%s\" in %s)", clean, where);
		free(clean);
		g_free(found);
	}
	g_match_info_free(info);
	return ok;
}

static int om_audit_cmp(enum om_audit_op op, long long a, long long b)
{
	switch (op) {
	case OM_AO_LT: return a < b;
	case OM_AO_LE: return a <= b;
	case OM_AO_GT: return a > b;
	case OM_AO_GE: return a >= b;
	case OM_AO_EQ: return a == b;
	default: return 0;
	}
}

/* The texts a field searches: body parts, attachments, or all. */
static int om_audit_parts_text(const struct om_audit_atom *a, const struct om_audit_msg *m,
			       int body, int attachments, struct om_buf *why)
{
	size_t i;

	for (i = 0; i < m->part_count; i++) {
		const struct om_audit_mpart *p = &m->parts[i];

		if ((p->is_body && !body) || (!p->is_body && !attachments))
			continue;
		if (om_audit_re(a->re, p->text, p->label, why))
			return 1;
	}
	return 0;
}

/* 1 if atom a holds for m; what made it true appended to why. */
static int om_audit_atom_eval(const struct om_audit_atom *a, const struct om_audit_msg *m,
			      struct om_buf *why)
{
	size_t i;
	char *where;

	switch (a->field) {
	case OM_AF_DIRECTION:
		return m->direction == a->direction;
	case OM_AF_SENDER:
		return om_audit_re(a->re, m->sender, "the sender", why);
	case OM_AF_SENDER_DOMAIN:
		return om_audit_re(a->re, om_audit_domain_of(m->sender), "the sender's domain",
				   why);
	case OM_AF_RCPT:
	case OM_AF_RCPT_DOMAIN:
		for (i = 0; i < m->rcpt_count; i++) {
			const char *s = a->field == OM_AF_RCPT ? m->rcpts[i] :
				om_audit_domain_of(m->rcpts[i]);

			where = om_asprintf("recipient %s", m->rcpts[i]);
			if (om_audit_re(a->re, s, where, why)) {
				free(where);
				return 1;
			}
			free(where);
		}
		return 0;
	case OM_AF_RCPT_EXTERNAL:
		for (i = 0; i < m->rcpt_count; i++) {
			if (!om_audit_inside(m, om_audit_domain_of(m->rcpts[i]))) {
				char *clean = om_sanitize(m->rcpts[i], 100);

				om_buf_printf(why, " (%s)", clean);
				free(clean);
				return 1;
			}
		}
		return 0;
	case OM_AF_SIZE:
		if (!om_audit_cmp(a->op, m->size, a->number))
			return 0;
		om_buf_printf(why, " (%lld bytes)", m->size);
		return 1;
	case OM_AF_ATTACHMENT:
		for (i = 0; i < m->part_count; i++) {
			if (!m->parts[i].is_body) {
				char *clean = om_sanitize(m->parts[i].label, 120);

				om_buf_printf(why, " (%s)", clean);
				free(clean);
				return 1;
			}
		}
		return 0;
	case OM_AF_ATT_NAME:
	case OM_AF_ATT_TYPE:
		for (i = 0; i < m->part_count; i++) {
			const struct om_audit_mpart *p = &m->parts[i];

			if (!p->is_body &&
			    om_audit_re(a->re, a->field == OM_AF_ATT_NAME ? p->filename : p->type,
					p->label, why))
				return 1;
		}
		return 0;
	case OM_AF_ATT_SIZE:
		for (i = 0; i < m->part_count; i++) {
			const struct om_audit_mpart *p = &m->parts[i];

			if (!p->is_body && om_audit_cmp(a->op, p->size, a->number)) {
				char *clean = om_sanitize(p->label, 120);

				om_buf_printf(why, " (%s: %lld bytes)", clean, p->size);
				free(clean);
				return 1;
			}
		}
		return 0;
	case OM_AF_ATT_TEXT:
		return om_audit_parts_text(a, m, 0, 1, why);
	case OM_AF_SUBJECT:
		return om_audit_re(a->re, m->subject, "the subject", why);
	case OM_AF_BODY:
		return om_audit_parts_text(a, m, 1, 0, why);
	case OM_AF_TEXT:
		return om_audit_re(a->re, m->subject, "the subject", why) ||
			om_audit_parts_text(a, m, 1, 1, why);
	case OM_AF_HEADER:
		for (i = 0; i < m->header_count; i++) {
			if (strcasecmp(m->header_names[i], a->header) != 0)
				continue;
			if (a->op == OM_AO_PRESENT)
				return 1;
			where = om_asprintf("header %s", a->header);
			if (om_audit_re(a->re, m->header_values[i], where, why)) {
				free(where);
				return 1;
			}
			free(where);
		}
		return 0;
	}
	return 0;
}

static int om_audit_eval(const struct om_audit_node *n, const struct om_audit_msg *m,
			 struct om_buf *why)
{
	struct om_buf scratch;
	size_t mark = why->len;
	int ok;

	switch (n->kind) {
	case OM_AN_ATOM:
		if (why->len > 0)
			om_buf_append_str(why, "; ");
		om_buf_append_str(why, n->atom.desc);
		ok = om_audit_atom_eval(&n->atom, m, why);
		break;
	case OM_AN_AND:
		ok = om_audit_eval(n->a, m, why) && om_audit_eval(n->b, m, why);
		break;
	case OM_AN_OR:
		ok = om_audit_eval(n->a, m, why);
		if (!ok) {
			/* what the false side said is no reason */
			why->len = mark;
			if (why->data != NULL)
				why->data[mark] = '\0';
			ok = om_audit_eval(n->b, m, why);
		}
		break;
	case OM_AN_NOT:
		om_buf_init(&scratch);
		ok = !om_audit_eval(n->a, m, &scratch);
		om_buf_free(&scratch);
		if (ok) {
			if (why->len > 0)
				om_buf_append_str(why, "; ");
			om_buf_append_str(why, "not: ");
			om_buf_append_str(why, n->a->kind == OM_AN_ATOM ? n->a->atom.desc :
					  "(...)");
		}
		break;
	default:
		ok = 0;
		break;
	}
	if (!ok) {
		why->len = mark;
		if (why->data != NULL)
			why->data[mark] = '\0';
	}
	return ok;
}

const char *om_audit_verdict_name(enum om_audit_verdict verdict)
{
	switch (verdict) {
	case OM_AUDIT_SEND: return "send";
	case OM_AUDIT_HOLD: return "hold";
	case OM_AUDIT_DELETE: return "delete";
	}
	return "send";
}

/* The actions of rule r as words: "hold, notify". */
static char *om_audit_actions_text(const struct om_audit_rule *r)
{
	struct om_buf b;
	char *text;

	om_buf_init(&b);
	if (r->has_verdict || !r->cont)
		om_buf_append_str(&b, om_audit_verdict_name(r->verdict));
	if (r->notify)
		om_buf_printf(&b, "%snotify", b.len > 0 ? ", " : "");
	if (r->header_count > 0)
		om_buf_printf(&b, "%sadd-header", b.len > 0 ? ", " : "");
	if (r->cont)
		om_buf_printf(&b, "%scontinue", b.len > 0 ? ", " : "");
	text = om_buf_steal(&b, NULL);
	return text != NULL ? text : om_strdup("");
}

void om_audit_run(struct om_audit_rule *const *rules, size_t count,
		  const struct om_audit_msg *msg, struct om_audit_result *res)
{
	struct om_buf reason, summary;
	size_t i, j;
	char *actions;

	memset(res, 0, sizeof(*res));
	om_buf_init(&res->why);
	om_buf_init(&summary);
	for (i = 0; i < count; i++) {
		const struct om_audit_rule *r = rules[i];

		if (res->fired != 0) {
			om_buf_printf(&res->why, "rule %zu: not tried (rule %d decided)\n",
				      i + 1, res->fired);
			continue;
		}
		om_buf_init(&reason);
		if (!om_audit_eval(r->cond, msg, &reason)) {
			om_buf_printf(&res->why, "rule %zu: no match\n", i + 1);
			om_buf_free(&reason);
			continue;
		}
		actions = om_audit_actions_text(r);
		om_buf_printf(&res->why, "rule %zu: matched: %s => %s\n", i + 1,
			      reason.data != NULL ? reason.data : "", actions);
		om_buf_printf(&summary, "%srule %zu (%s): %s", summary.len > 0 ? "; " : "",
			      i + 1, actions, reason.data != NULL ? reason.data : "");
		free(actions);
		om_buf_free(&reason);
		res->notify |= r->notify;
		for (j = 0; j < r->header_count; j++) {
			res->headers = om_realloc(res->headers,
						  (res->header_count + 1) * sizeof(char *));
			res->headers[res->header_count++] = om_strdup(r->headers[j]);
		}
		if (!r->cont) {
			res->fired = (int)i + 1;
			res->verdict = r->verdict;
		}
	}
	if (res->fired == 0)
		om_buf_printf(&res->why, "no rule decided: send\n");
	res->summary = om_buf_steal(&summary, NULL);
	if (res->summary == NULL)
		res->summary = om_strdup("no rule matched");
}

void om_audit_result_free(struct om_audit_result *res)
{
	size_t i;

	for (i = 0; i < res->header_count; i++)
		free(res->headers[i]);
	free(res->headers);
	om_buf_free(&res->why);
	free(res->summary);
	memset(res, 0, sizeof(*res));
}
