/* test-quarantine.c - unit tests of the pure parts of the quarantine layer:
 * op names, what a quarantine id looks like, and the plain-language reasons
 * a digest and a release page show (ja and en). */
#include "tap.h"
#include "quarantine/quarantine.h"
#include "quarantine/portal.h"

#include <stdlib.h>
#include <string.h>

static void test_ops(void)
{
	enum om_quarantine_op op;

	TAP_OK(om_quarantine_op_parse("release", &op) == 0 &&
	       op == OM_QUARANTINE_RELEASE, "release");
	TAP_OK(om_quarantine_op_parse("allow", &op) == 0 &&
	       op == OM_QUARANTINE_RELEASE_ALLOW, "allow");
	TAP_OK(om_quarantine_op_parse("delete", &op) == 0 &&
	       op == OM_QUARANTINE_DELETE, "delete");
	TAP_OK(om_quarantine_op_parse("Release", &op) < 0 &&
	       om_quarantine_op_parse("", &op) < 0, "anything else is refused");
	TAP_OK(strcmp(om_quarantine_op_name(OM_QUARANTINE_RELEASE_ALLOW), "allow") == 0,
	       "names round-trip");
}

static void test_ids(void)
{
	TAP_OK(om_quarantine_id_valid("0123456789abcdef0123456789abcdef"), "32 hex digits");
	TAP_OK(!om_quarantine_id_valid("0123456789ABCDEF0123456789abcdef"), "upper case refused");
	TAP_OK(!om_quarantine_id_valid("0123456789abcdef0123456789abcde"), "31 digits refused");
	TAP_OK(!om_quarantine_id_valid("0123456789abcdef0123456789abcdef0"), "33 refused");
	TAP_OK(!om_quarantine_id_valid("../../etc/passwd"), "a path refused");
	TAP_OK(!om_quarantine_id_valid(""), "empty refused");
}

static void test_reasons(void)
{
	char *ja = om_quarantine_reasons_text("BAYES_99 BAYES_HEAD_95 MISSING_DATE", "12.50", "ja");
	char *en = om_quarantine_reasons_text("BAYES_99 BAYES_HEAD_95 MISSING_DATE", "12.50", "en");
	char *listed = om_quarantine_reasons_text("listed:block:mailbox", "", "en");
	char *none = om_quarantine_reasons_text("", "", "en");
	char *unscanned = om_quarantine_reasons_text("unscanned:limit", "", "ja");
	char *phrase = om_quarantine_reasons_text("JA_DELIVERY_FEE JA_ODD_LINK_LOGIN", "7.00",
						  "ja");

	TAP_OK(strstr(ja, "学習した迷惑メール") != NULL && strstr(ja, "迷惑メールスコア: 12.50") != NULL,
	       "ja reads");
	TAP_OK(strstr(en, "spam learned before") != NULL, "en");
	TAP_OK(strstr(en, "Its wording") == strstr(en, "It"), "BAYES rules said once, first");
	TAP_OK(strstr(strstr(en, "Its wording") + 1, "Its wording") == NULL,
	       "three BAYES rules give one line");
	TAP_OK(strstr(en, "lacks parts") != NULL && strstr(en, "Spam score: 12.50") != NULL,
	       "missing parts and the score");
	TAP_OK(strstr(listed, "block list") != NULL, "a block-listed sender");
	TAP_OK(strstr(none, "marks of spam") != NULL && strstr(none, "score") == NULL,
	       "no rule, no score: a general line");
	TAP_OK(strstr(unscanned, "最後まで検査できませんでした") != NULL, "unscanned");
	TAP_OK(strstr(phrase, "よく見られる組み合わせ") != NULL &&
	       strstr(strstr(phrase, "組み合わせ") + 1, "組み合わせ") == NULL &&
	       strstr(phrase, "特徴が多く") == NULL,
	       "spam.rules' phrase rules: one line of their own");
	free(phrase);
	free(ja);
	free(en);
	free(listed);
	free(none);
	free(unscanned);
}

/* the portal's pack (quarantine/portal.h): what is packed is read back;
   a cut or lying pack is refused, never read past its end */
static void test_portal_pack(void)
{
	struct om_buf b;
	struct om_portal_part p;
	size_t pos = 0, i;
	int ok = 1;

	om_buf_init(&b);
	om_portal_pack(&b, OM_PORTAL_TEXT, "", "本文\n", strlen("本文\n"));
	om_portal_pack(&b, OM_PORTAL_FILE, "見積.pdf", "\0\1\2", 3);
	ok = om_portal_next(b.data, b.len, &pos, &p) == 1 && p.kind == 't' &&
		p.len == strlen("本文\n") && memcmp(p.data, "本文\n", p.len) == 0;
	ok = ok && om_portal_next(b.data, b.len, &pos, &p) == 1 && p.kind == 'f' &&
		p.name_len == strlen("見積.pdf") && p.len == 3 && p.data[2] == 2;
	ok = ok && om_portal_next(b.data, b.len, &pos, &p) == 0;
	TAP_OK(ok, "portal pack: parts read back, then the end");
	for (i = 1; i < b.len; i++) {
		pos = 0;
		while (om_portal_next(b.data, i, &pos, &p) == 1) {
			if (p.data + p.len > b.data + i)
				ok = 0;
		}
	}
	TAP_OK(ok, "portal pack: a cut pack never reads past its end");
	pos = 0;
	TAP_OK(om_portal_next("f 1 99999999999999999999\nx", 26, &pos, &p) == -1 &&
	       om_portal_next("x 0 0\n", 6, &pos, &p) == -1, "portal pack: a lying header refused");
	om_buf_free(&b);
}

int main(void)
{
	test_portal_pack();
	test_ops();
	test_ids();
	test_reasons();
	return tap_done();
}
