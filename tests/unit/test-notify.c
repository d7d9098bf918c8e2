/* test-notify.c - unit tests of notify.c: placeholders, sanitised values,
 * mail templates from templates/ in both languages. */
#include "tap.h"
#include "notice/notify.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#ifndef TEMPLATES_DIR
#define TEMPLATES_DIR "templates"
#endif

static void test_expand(void)
{
	struct om_notify_var vars[] = { { "a", "1" }, { "evil", "x\r\nBcc: y\x01" }, { NULL, NULL } };
	char *out;

	out = om_notify_expand("{{a}}-{{b}}-{{a}}", vars);
	TAP_OK(strcmp(out, "1-{{b}}-1") == 0, "known placeholders replaced, unknown kept");
	free(out);
	out = om_notify_expand("v={{evil}}", vars);
	TAP_OK(strcmp(out, "v=x?\nBcc: y?") == 0, "values sanitised (CR and controls)");
	free(out);
	out = om_notify_expand("open {{a", vars);
	TAP_OK(strcmp(out, "open {{a") == 0, "unterminated placeholder kept");
	free(out);
}

static void test_templates(void)
{
	struct om_notify_var vars[] = { { "virus", "Eicar" }, { "filename", "x.exe" },
					{ NULL, NULL } };
	const char *subject, *body;
	char *text, *error = NULL;

	text = om_notify_render(TEMPLATES_DIR, "ja", "virus-report", vars, &error);
	TAP_OK(text != NULL && om_notify_split_mail(text, &subject, &body) == 0 &&
	       strcmp(subject, "\xe3\x82\xa6\xe3\x82\xa4\xe3\x83\xab\xe3\x82\xb9\xe3\x83\x81"
		      "\xe3\x82\xa7\xe3\x83\x83\xe3\x82\xaf\xe3\x81\xae\xe7\xb5\x90\xe6\x9e\x9c"
		      "\xe3\x81\x94\xe5\xa0\xb1\xe5\x91\x8a") == 0 &&
	       strstr(body, "Eicar") != NULL && strstr(body, "x.exe") != NULL,
	       "ja report: seed subject, values in");
	free(text);
	text = om_notify_render(TEMPLATES_DIR, "en", "virus-report", vars, &error);
	TAP_OK(text != NULL && strncmp(text, "Subject: Virus check report\n", 28) == 0,
	       "en report");
	free(text);
	text = om_notify_render(TEMPLATES_DIR, "xx", "virus-notice", vars, &error);
	TAP_OK(text != NULL && strstr(text, "\xe3\x82\xa6\xe3\x82\xa4\xe3\x83\xab\xe3\x82\xb9") != NULL,
	       "unknown language falls back to ja");
	free(text);
	text = om_notify_render(TEMPLATES_DIR, "ja", "no-such-template", vars, &error);
	TAP_OK(text == NULL && error != NULL && strstr(error, "no-such-template") != NULL,
	       "missing template is an error naming it");
	free(error);
}

/* The notice above a message not scanned whole says why in words, then the
   technical reason, in the domain's language. */
static void test_unscanned(void)
{
	char *error = NULL, *ja, *en;

	struct om_notify_brand brand = { "Example ISP", "0120-000-000" };

	ja = om_notify_unscanned(TEMPLATES_DIR, "ja",
				 "limit: box.zip: Heuristics.Limits.Exceeded.MaxRecursion",
				 0, &brand, &error);
	en = om_notify_unscanned(TEMPLATES_DIR, "en", "limit: more than 1000 MIME parts",
				 0, NULL, &error);
	TAP_OK(ja != NULL && strstr(ja, "\xe7\x90\x86\xe7\x94\xb1: \xe5\x9c\xa7\xe7\xb8\xae") != NULL &&
	       strstr(ja, "(limit: box.zip: Heuristics.Limits.Exceeded.MaxRecursion)") != NULL,
	       "ja: the reason in words, then the technical one");
	TAP_OK(en != NULL && strstr(en, "Reason: too many parts in the message "
				    "(limit: more than 1000 MIME parts)") != NULL,
	       "en: the reason in words, then the technical one");
	TAP_OK(ja != NULL && strstr(ja, "Example ISP") != NULL &&
	       strstr(ja, "0120-000-000") != NULL, "ja: the ISP and its support below the notice");
	TAP_OK(en != NULL && strstr(en, "Support:") == NULL, "no brand: no footer");
	free(ja);
	free(en);
	free(error);
}

int main(void)
{
	test_expand();
	test_templates();
	test_unscanned();
	return tap_done();
}
