/* fuzz-audit.c - libFuzzer target over audit rules (shared/audit/audit.c)
 * and a message's text (shared/mail/text.c): the input is parsed as a rule
 * (a rule that parses is run over a small message, and its text must be
 * kept as given), and read as a whole message into the rules' normalised
 * form.  Beyond "no crash, no leak, no UB": a refused rule always says
 * where ("at character N").  Built with clang when it is installed; run for
 * a short time by `make check` (tests/fuzz/run-fuzz.sh).
 */
#include "audit/audit.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char fuzz_msg[] =
	"From: a@example.jp\nTo: b@far.example\nSubject: =?UTF-8?B?6Zai5L+C?=\n"
	"MIME-Version: 1.0\nContent-Type: text/plain; charset=Shift_JIS\n\n"
	"\x8a\xd6\x8c\x57\x8e\xd2\x8a\x4f\x94\xe9\n";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = om_strndup((const char *)data, size), *error = NULL;
	char *rcpts[] = { "b@far.example" };
	struct om_audit_rule *rule;
	struct om_audit_result res;
	struct om_audit_msg *m;

	rule = om_audit_parse(text, &error);
	if (rule == NULL) {
		if (error == NULL || (strlen(text) <= OM_AUDIT_RULE_MAX &&
				      strstr(error, "character") == NULL &&
				      strstr(error, "UTF-8") == NULL))
			abort();	/* a refusal that does not say where */
		free(error);
	} else {
		if (strcmp(om_audit_rule_text(rule), text) != 0)
			abort();
		m = om_audit_msg_read(fuzz_msg, sizeof(fuzz_msg) - 1, OM_AUDIT_DIR_OUT,
				      "example.jp", "", "a@example.jp", rcpts, 1, &error);
		if (m == NULL)
			abort();
		om_audit_run(&rule, 1, m, &res);
		om_audit_result_free(&res);
		om_audit_msg_free(&m);
		om_audit_rule_free(&rule);
	}
	m = om_audit_msg_read((const char *)data, size, OM_AUDIT_DIR_OUT, "example.jp",
			      "", "a@example.jp", rcpts, 1, &error);
	if (m == NULL)
		free(error);
	om_audit_msg_free(&m);
	free(text);
	return 0;
}
