/* csv.c - a CSV record reader for imports from spreadsheets (see csv.h).
 *
 * Fields are unquoted in place, so a record costs no allocation and a
 * malformed one is refused with its line, never half read.
 */
#include "lib/csv.h"
#include "lib/util.h"

#include <string.h>

int om_csv_init(struct om_csv *csv, char *data, size_t len, char **error_r)
{
	const char *nul = memchr(data, '\0', len), *p;
	unsigned int line = 1;

	if (nul != NULL) {
		for (p = data; p < nul; p++)
			line += *p == '\n';
		*error_r = om_asprintf("line %u: a NUL byte", line);
		return -1;
	}
	csv->pos = data;
	csv->end = data + len;
	csv->line = 1;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		csv->pos += 3;
	return 0;
}

/* At a record's end: LF, CRLF, or the end of data. */
static int om_csv_at_eol(const struct om_csv *csv, const char *p)
{
	return p == csv->end || *p == '\n' ||
		(*p == '\r' && (p + 1 == csv->end || p[1] == '\n'));
}

/* Moves past the line end at p (if any); returns where the next record
   starts. */
static char *om_csv_skip_eol(struct om_csv *csv, char *p)
{
	if (p < csv->end && *p == '\r')
		p++;
	if (p < csv->end && *p == '\n') {
		p++;
		csv->line++;
	}
	return p;
}

/* Reads a quoted field starting after its opening quote at *pp into out;
   leaves *pp after the closing quote.  0 or -1. */
static int om_csv_quoted(struct om_csv *csv, char **pp, char *out, char **out_end_r,
			 unsigned int start_line, char **error_r)
{
	char *p = *pp;

	for (;;) {
		if (p == csv->end) {
			*error_r = om_asprintf("line %u: a quoted field is never closed",
					       start_line);
			return -1;
		}
		if (*p == '"' && p + 1 < csv->end && p[1] == '"') {
			*out++ = '"';
			p += 2;
		} else if (*p == '"') {
			*pp = p + 1;
			*out_end_r = out;
			return 0;
		} else {
			if (*p == '\n')
				csv->line++;
			*out++ = *p++;
		}
	}
}

/* Reads one field at *pp (quoted or not); leaves *pp at the separator or
   line end after it.  Returns the field, NUL-terminated in place, or NULL
   with *error_r. */
static char *om_csv_field(struct om_csv *csv, char **pp, unsigned int start_line,
			  char **error_r)
{
	char *p = *pp, *field = p, *out;

	if (p < csv->end && *p == '"') {
		p++;
		if (om_csv_quoted(csv, &p, field, &out, start_line, error_r) < 0)
			return NULL;
		if (p < csv->end && *p != ',' && !om_csv_at_eol(csv, p)) {
			*error_r = om_asprintf("line %u: text after a closing quote",
					       csv->line);
			return NULL;
		}
	} else {
		while (p < csv->end && *p != ',' && !om_csv_at_eol(csv, p)) {
			if (*p == '"') {
				*error_r = om_asprintf("line %u: a quote inside an "
						       "unquoted field", csv->line);
				return NULL;
			}
			p++;
		}
		out = p;
	}
	*pp = p;
	/* a quoted field ends before its closing quote; an unquoted one is
	   ended by the caller, at the separator it has read past */
	if (out != p)
		*out = '\0';
	return field;
}

/* The characters a spreadsheet starts a formula with. */
#define OM_CSV_FORMULA_START "=+-@\t\r"

/* 1 when a spreadsheet could read s as a formula: it begins with = + - a
   tab or a CR, or with @ and holds more than a domain name's characters
   (a list's "@example.jp" is no formula and stays as it is). */
static int om_csv_formula(const char *s)
{
	/* a value of quotes before what would be guarded is guarded too:
	   om_csv_unguard takes one ' off exactly when what follows it would
	   be, so every value reads back as it was written */
	while (*s == '\'')
		s++;
	if (*s == '\0' || strchr(OM_CSV_FORMULA_START, *s) == NULL)
		return 0;
	return *s != '@' ||
		strspn(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789.-_") != strlen(s + 1);
}

/* A field om_csv_append_field guarded ("'=...") back as it was. */
static void om_csv_unguard(char *field)
{
	if (field[0] == '\'' && om_csv_formula(field + 1))
		memmove(field, field + 1, strlen(field));
}

void om_csv_append_field(struct om_buf *b, const char *s)
{
	int formula = om_csv_formula(s);

	if (!formula && strpbrk(s, ",\"\r\n") == NULL) {
		om_buf_append_str(b, s);
		return;
	}
	om_buf_append_str(b, formula ? "\"'" : "\"");
	for (; *s != '\0'; s++)
		om_buf_append(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	om_buf_append_str(b, "\"");
}

int om_csv_record(struct om_csv *csv, char **fields, size_t max,
		  size_t *count_r, unsigned int *line_r, char **error_r)
{
	char *p = csv->pos, *field, *stop;
	size_t n = 0;
	int last;

	if (p >= csv->end)
		return 0;
	*line_r = csv->line;
	for (;;) {
		field = om_csv_field(csv, &p, *line_r, error_r);
		if (field == NULL)
			return -1;
		stop = p;
		last = om_csv_at_eol(csv, p);
		p = last ? om_csv_skip_eol(csv, p) : p + 1;
		*stop = '\0';	/* the separator, the line end, or the NUL after
				   the data */
		om_csv_unguard(field);
		if (n < max)
			fields[n] = field;
		n++;
		if (last)
			break;
	}
	*count_r = n;
	csv->pos = p;
	return 1;
}
