/* test-csv.c - unit tests of csv.c: CSV as spreadsheets write it (quoted
 * fields with commas and doubled quotes, CRLF, a UTF-8 BOM) and the
 * malformed records it must refuse with their line. */
#include "tap.h"
#include "lib/csv.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

struct csv_case {
	const char *label;
	const char *input;
	const char *want;	/* records joined: fields by '|', records by '/';
				   NULL: refused */
	const char *error;	/* part of the error when refused */
};

static const struct csv_case csv_cases[] = {
	{ "plain", "a,b,c\nd,e,f\n", "a|b|c/d|e|f", NULL },
	{ "no final line end", "a,b,c", "a|b|c", NULL },
	{ "CRLF line ends", "a,b,c\r\nd,e,f\r\n", "a|b|c/d|e|f", NULL },
	{ "UTF-8 BOM skipped", "\xef\xbb\xbfscope,kind,entry\n", "scope|kind|entry", NULL },
	{ "quoted comma", "\"a,b\",c\n", "a,b|c", NULL },
	{ "doubled quotes", "\"say \"\"hi\"\"\",x\n", "say \"hi\"|x", NULL },
	{ "quoted empty", "\"\",x,\"\"\n", "|x|", NULL },
	{ "empty fields", ",,\n", "||", NULL },
	{ "empty line", "a\n\nb\n", "a//b", NULL },
	{ "quoted line end kept", "\"a\r\nb\",c\n", "a\r\nb|c", NULL },
	{ "bare CR inside a field", "a\rb,c\n", "a\rb|c", NULL },
	{ "every field quoted, CRLF", "\"u@d.example\",\"block\",\"@x.example\"\r\n",
	  "u@d.example|block|@x.example", NULL },
	{ "quote in unquoted field", "a\"b,c\n", NULL, "line 1: a quote inside" },
	{ "text after closing quote", "x\n\"a\"b,c\n", NULL, "line 2: text after" },
	{ "never closed", "a\n\"open,b\nc\n", NULL, "line 2: a quoted field is never closed" },
};

static char *csv_join(const char *input, char **error_r)
{
	size_t len = strlen(input), n, i;
	char *data = om_strdup(input), *fields[8];
	struct om_buf out;
	struct om_csv csv;
	unsigned int line;
	int ret, first = 1;

	om_buf_init(&out);
	if (om_csv_init(&csv, data, len, error_r) < 0) {
		free(data);
		om_buf_free(&out);
		return NULL;
	}
	while ((ret = om_csv_record(&csv, fields, 8, &n, &line, error_r)) > 0) {
		if (!first)
			om_buf_append_str(&out, "/");
		first = 0;
		for (i = 0; i < n && i < 8; i++) {
			if (i > 0)
				om_buf_append_str(&out, "|");
			om_buf_append_str(&out, fields[i]);
		}
	}
	free(data);
	if (ret < 0) {
		om_buf_free(&out);
		return NULL;
	}
	return om_buf_steal(&out, &len);
}

static void test_cases(void)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(csv_cases); i++) {
		const struct csv_case *c = &csv_cases[i];
		char *error = NULL, *got = csv_join(c->input, &error);

		if (c->want != NULL)
			TAP_OK(got != NULL && strcmp(got, c->want) == 0, "%s: got '%s'%s%s",
			       c->label, got != NULL ? got : "(refused)",
			       error != NULL ? ": " : "", error != NULL ? error : "");
		else
			TAP_OK(got == NULL && error != NULL && strstr(error, c->error) != NULL,
			       "%s refused: %s", c->label, error != NULL ? error : "(accepted)");
		free(got);
		free(error);
	}
}

static void test_nul_and_lines(void)
{
	char data[] = "a,b\nc,d\ne\0f\n";
	char *fields[4], *error = NULL;
	struct om_csv csv;
	unsigned int line;
	size_t n;

	TAP_OK(om_csv_init(&csv, data, sizeof(data) - 1, &error) < 0 &&
	       strstr(error, "line 3: a NUL byte") != NULL, "a NUL byte refused with its line");
	om_free(&error);
	{
		char multi[] = "\"a\nb\",x\nnext,y\n";

		TAP_OK(om_csv_init(&csv, multi, sizeof(multi) - 1, &error) == 0 &&
		       om_csv_record(&csv, fields, 4, &n, &line, &error) == 1 && line == 1 &&
		       om_csv_record(&csv, fields, 4, &n, &line, &error) == 1 && line == 3 &&
		       strcmp(fields[0], "next") == 0,
		       "a record after a quoted line end starts on its own line");
	}
	{
		char wide[] = "1,2,3,4,5\n";

		TAP_OK(om_csv_init(&csv, wide, sizeof(wide) - 1, &error) == 0 &&
		       om_csv_record(&csv, fields, 3, &n, &line, &error) == 1 && n == 5 &&
		       strcmp(fields[2], "3") == 0, "more fields than kept: counted");
	}
}

/* What omamori writes reads back the same, and no cell starts a formula. */
static void test_write(void)
{
	static const char *const fields[] = {
		"plain@example.jp", "a,b", "say \"hi\"", "=1+2@evil.test",
		"+SUM(1)@x.test", "-x@y.test", "@SUM(1+1)*cmd|x", "\tx", "line\nend",
		"@evil.test", "'@gmail.com", "'=x@y.test", "''-x", "'@evil.test", "",
	};
	char *got[OM_N_ELEMENTS(fields)], *error = NULL, *text;
	struct om_buf b;
	struct om_csv csv;
	unsigned int line;
	size_t i, n = 0, len;
	int same = 1;

	om_buf_init(&b);
	for (i = 0; i < OM_N_ELEMENTS(fields); i++) {
		om_csv_append_field(&b, fields[i]);
		om_buf_append_str(&b, i + 1 < OM_N_ELEMENTS(fields) ? "," : "\n");
	}
	TAP_OK(strstr(b.data, ",=") == NULL && strstr(b.data, ",+") == NULL &&
	       strstr(b.data, ",-") == NULL && strstr(b.data, ",@SUM") == NULL &&
	       strstr(b.data, "\"'=1+2@evil.test\"") != NULL &&
	       strstr(b.data, ",@evil.test,") != NULL,
	       "written: no cell begins a formula, a domain entry as it is (%s)", b.data);
	text = om_buf_steal(&b, &len);
	TAP_OK(om_csv_init(&csv, text, len, &error) == 0 &&
	       om_csv_record(&csv, got, OM_N_ELEMENTS(got), &n, &line, &error) == 1 &&
	       n == OM_N_ELEMENTS(fields), "written: read back as one record of %zu", n);
	for (i = 0; i < n && i < OM_N_ELEMENTS(fields); i++)
		same &= strcmp(got[i], fields[i]) == 0;
	TAP_OK(same, "written: every field reads back as it was");
	free(text);
	om_free(&error);
}

int main(void)
{
	test_cases();
	test_nul_and_lines();
	test_write();
	return tap_done();
}
