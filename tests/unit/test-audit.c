/* test-audit.c - audit rules (shared/audit/audit.c, shared/mail/text.c):
 * the grammar (every condition and action, errors with their position),
 * the evaluator (and/or/not, first match wins, continue), Japanese
 * keywords across charsets and full-width/half-width forms, and the text
 * of a message's parts (a Shift_JIS attachment, ISO-2022-JP body, HTML). */
#include "tap.h"

#include <string.h>

#include "audit/audit.h"
#include "lib/util.h"
#include "mail/text.h"

/* ---- the grammar ---- */

static const char *const good_rules[] = {
	"direction out and body contains \"関係者外秘\" => hold",
	"size > 10M => notify",
	"size >= 500K => notify, continue",
	"attachment => add-header \"X-Audit: attachment\", continue",
	"attachment-name matches \"\\.(exe|js)$\" => delete",
	"attachment-type is \"application/pdf\" and attachment-size > 1M => hold, notify",
	"not (sender-domain is \"example.jp\") => send",
	"recipient external and text contains \"社外秘\" => hold",
	"recipient is \"boss@partner.example\" or recipient-domain ends-with \".go.jp\" => notify",
	"header \"X-Mailer\" contains \"bulk\" => delete",
	"header \"X-Priority\" => notify",
	"subject starts-with \"[秘]\" => hold",
	"attachment-text matches \"\\d{4}-\\d{4}-\\d{4}-\\d{4}\" => hold",
	"DIRECTION IN AND SUBJECT CONTAINS \"x\" => SEND",
	NULL
};

/* a rule that must be refused, and the character the error names */
static const struct { const char *rule; const char *where; } bad_rules[] = {
	{ "direction sideways => hold", "at character 11" },
	{ "body contains 関係者外秘 => hold", "at character 15" },
	{ "body contains \"x\"", "the end of the rule" },
	{ "body contains \"x\" => explode", "at character 22" },
	{ "body has \"x\" => hold", "at character 6" },
	{ "body contains \"x => hold", "a string without its closing" },
	{ "size > lots => hold", "at character 8" },
	{ "size > 222222222222220M => hold", "at character 8" },	/* overflow (fuzz) */
	{ "(size > 1M => hold", "at character 12" },
	{ "subject matches \"(unclosed\" => hold", "not a regular expression" },
	{ "size > 1M => hold, send", "one of send, hold and delete" },
	{ "size > 1M => hold, continue", "continue goes on" },
	{ "size > 1M => add-header \"no colon\"", "add-header" },
	{ "size > 1M => add-header \"X-Bad: \xe6\x97\xa5\"", "printable" },
	{ "関係者 => hold", "at character 1" },
	{ "=> hold", "expected a condition" },
	{ NULL, NULL }
};

static void test_grammar(void)
{
	struct om_audit_rule *r;
	char *error = NULL;
	size_t i;

	for (i = 0; good_rules[i] != NULL; i++) {
		r = om_audit_parse(good_rules[i], &error);
		TAP_OK(r != NULL, "parses: %s%s%s", good_rules[i], error != NULL ? " -- " : "",
		       error != NULL ? error : "");
		om_free(&error);
		if (r != NULL)
			TAP_OK(strcmp(om_audit_rule_text(r), good_rules[i]) == 0,
			       "keeps its text");
		om_audit_rule_free(&r);
	}
	for (i = 0; bad_rules[i].rule != NULL; i++) {
		r = om_audit_parse(bad_rules[i].rule, &error);
		TAP_OK(r == NULL && error != NULL && strstr(error, bad_rules[i].where) != NULL,
		       "refused: %s -> %s", bad_rules[i].rule, error != NULL ? error : "(none)");
		om_free(&error);
		om_audit_rule_free(&r);
	}
}

/* ---- the evaluator ---- */

struct rules {
	struct om_audit_rule *r[8];
	size_t n;
};

static void rules_parse(struct rules *rs, const char *const *texts)
{
	char *error = NULL;

	rs->n = 0;
	for (; *texts != NULL; texts++) {
		rs->r[rs->n] = om_audit_parse(*texts, &error);
		if (rs->r[rs->n] == NULL) {
			TAP_OK(0, "rule %s: %s", *texts, error);
			om_free(&error);
			continue;
		}
		rs->n++;
	}
}

static void rules_free(struct rules *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		om_audit_rule_free(&rs->r[i]);
}

static struct om_audit_msg *facts_msg(enum om_audit_direction dir, const char *subject,
				      const char *body, const char *att_name,
				      const char *att_text, long long size)
{
	static char *rcpts[] = { "taro@example.jp", "yamada@partner.example" };
	struct om_audit_part parts[2];
	struct om_audit_header headers[] = { { "X-Mailer", "Bulk Sender 2.0" } };
	struct om_audit_facts f;

	memset(parts, 0, sizeof(parts));
	parts[0].type = "text/plain";
	parts[0].is_body = 1;
	parts[0].text = body;
	parts[0].size = (long long)strlen(body);
	parts[1].type = "text/plain";
	parts[1].filename = att_name;
	parts[1].text = att_text;
	parts[1].size = att_text != NULL ? (long long)strlen(att_text) : 0;
	memset(&f, 0, sizeof(f));
	f.direction = dir;
	f.domain = "example.jp";
	f.sender = "hanako@example.jp";
	f.rcpts = rcpts;
	f.rcpt_count = 2;
	f.size = size;
	f.subject = subject;
	f.parts = parts;
	f.part_count = att_name != NULL ? 2 : 1;
	f.headers = headers;
	f.header_count = 1;
	return om_audit_msg_new(&f);
}

static void run1(const char *rule, struct om_audit_msg *m, int want_match,
		 const char *label)
{
	const char *texts[] = { rule, NULL };
	struct om_audit_result res;
	struct rules rs;

	rules_parse(&rs, texts);
	om_audit_run(rs.r, rs.n, m, &res);
	TAP_OK((res.fired == 1) == want_match, "%s: %s %s", label, rule,
	       want_match ? "matches" : "does not match");
	om_audit_result_free(&res);
	rules_free(&rs);
}

static void test_conditions(void)
{
	struct om_audit_msg *m;

	/* the example of the issue, as written */
	m = facts_msg(OM_AUDIT_DIR_OUT, "見積書", "この資料は関係者外秘です。", NULL, NULL, 2000);
	run1("direction out and body contains \"関係者外秘\" => hold", m, 1, "example");
	run1("direction in and body contains \"関係者外秘\" => hold", m, 0, "direction");
	run1("subject is \"見積書\" => hold", m, 1, "subject is");
	run1("subject is \"見積\" => hold", m, 0, "subject is: whole");
	run1("subject contains \"見積\" => hold", m, 1, "subject contains");
	run1("sender is \"HANAKO@example.jp\" => hold", m, 1, "sender, caseless");
	run1("sender-domain is \"example.jp\" => hold", m, 1, "sender-domain");
	run1("recipient-domain is \"partner.example\" => hold", m, 1, "recipient-domain");
	run1("recipient is \"nobody@example.jp\" => hold", m, 0, "recipient");
	run1("recipient external => hold", m, 1, "recipient external");
	run1("size > 1K => hold", m, 1, "size >");
	run1("size > 10M => hold", m, 0, "size > 10M");
	run1("size = 2000 => hold", m, 1, "size =");
	run1("attachment => hold", m, 0, "no attachment");
	run1("header \"x-mailer\" contains \"bulk\" => hold", m, 1, "header");
	run1("header \"X-Priority\" => hold", m, 0, "header absent");
	run1("not body contains \"関係者外秘\" => hold", m, 0, "not");
	run1("body contains \"nothing\" or subject contains \"見積\" => hold", m, 1, "or");
	run1("body contains \"関係者外秘\" and not subject contains \"見積\" => hold", m, 0,
	     "and not");
	run1("(size > 10M or attachment) and direction out => hold", m, 0, "parentheses");
	om_audit_msg_free(&m);

	/* full-width and half-width forms: NFKC on both sides */
	m = facts_msg(OM_AUDIT_DIR_OUT, "ＣＯＮＦＩＤＥＮＴＩＡＬ", "ｶﾝｹｲｼｬｶﾞｲﾋ の件", NULL, NULL,
		      10);
	run1("subject contains \"confidential\" => hold", m, 1, "full-width subject");
	run1("body contains \"カンケイシャガイヒ\" => hold", m, 1, "half-width katakana body");
	run1("body contains \"ｶﾝｹｲｼｬｶﾞｲﾋ\" => hold", m, 1, "half-width keyword");
	om_audit_msg_free(&m);

	/* a keyword wrapped over two lines, and an attachment's text */
	m = facts_msg(OM_AUDIT_DIR_OUT, "件名", "本件は関係者\r\n外秘とします。\nsee\nyou",
		      "メモ.txt", "顧客番号 1234-5678-9012-3456 社外秘", 10);
	run1("body contains \"関係者外秘\" => hold", m, 1, "wrapped keyword");
	run1("body contains \"seeyou\" => hold", m, 0, "ASCII words stay apart");
	run1("body contains \"see you\" => hold", m, 1, "ASCII line break is a space");
	run1("attachment => hold", m, 1, "attachment present");
	run1("attachment-name ends-with \".TXT\" => hold", m, 1, "attachment-name");
	run1("attachment-type is \"text/plain\" => hold", m, 1, "attachment-type");
	run1("attachment-size < 100 => hold", m, 1, "attachment-size");
	run1("attachment-text contains \"社外秘\" => hold", m, 1, "attachment-text");
	run1("body contains \"社外秘\" => hold", m, 0, "body is not the attachments");
	run1("text contains \"社外秘\" => hold", m, 1, "text: subject, body, attachments");
	run1("attachment-text matches \"\\d{4}-\\d{4}-\\d{4}-\\d{4}\" => hold", m, 1, "regex");
	om_audit_msg_free(&m);
}

/* A long text is normalised in pieces: the result must be the whole's. */
static void test_normalize_pieces(void)
{
	struct om_buf in, want;
	char *got;
	int i;

	om_buf_init(&in);
	om_buf_init(&want);
	for (i = 0; i < 3000; i++) {
		om_buf_append_str(&in, i % 7 == 0 ? "漢ｶﾞ a" : "ｶﾞﾊﾟ");
		om_buf_append_str(&want, i % 7 == 0 ? "漢ガ a" : "ガパ");
	}
	got = om_audit_normalize(in.data);
	TAP_OK(strcmp(got, want.data) == 0, "a long text's NFKC in pieces is the whole's");
	free(got);
	om_buf_free(&in);
	om_buf_free(&want);
}

static void test_order(void)
{
	static const char *const texts[] = {
		"size > 1K => notify, add-header \"X-Audit: big\", continue",
		"body contains \"関係者外秘\" => hold",
		"body contains \"外秘\" => delete",
		"size > 1K => send",
		NULL
	};
	static const char *const texts2[] = {
		"size > 1M => hold",
		"size > 1K => notify",
		"size > 1K => delete",
		NULL
	};
	struct om_audit_result res;
	struct om_audit_msg *m;
	struct rules rs;

	m = facts_msg(OM_AUDIT_DIR_OUT, "s", "関係者外秘", NULL, NULL, 5000);
	rules_parse(&rs, texts);
	om_audit_run(rs.r, rs.n, m, &res);
	TAP_OK(res.fired == 2 && res.verdict == OM_AUDIT_HOLD,
	       "first match wins after a continue: rule %d %s", res.fired,
	       om_audit_verdict_name(res.verdict));
	TAP_OK(res.notify == 1, "the continue rule's notify is kept");
	TAP_OK(res.header_count == 1 && strcmp(res.headers[0], "X-Audit: big") == 0,
	       "the continue rule's header is kept");
	TAP_OK(strstr(res.why.data, "rule 3: not tried (rule 2 decided)") != NULL,
	       "later rules not tried");
	TAP_OK(strstr(res.why.data, "rule 2: matched: body contains \"関係者外秘\" "
		      "(\"関係者外秘\" in the body) => hold") != NULL, "why names the rule and the find");
	om_audit_result_free(&res);
	rules_free(&rs);

	rules_parse(&rs, texts2);
	om_audit_run(rs.r, rs.n, m, &res);
	TAP_OK(res.fired == 2 && res.verdict == OM_AUDIT_SEND && res.notify,
	       "notify alone sends and stops: rule %d", res.fired);
	om_audit_result_free(&res);
	om_audit_run(rs.r, 0, m, &res);
	TAP_OK(res.fired == 0 && res.verdict == OM_AUDIT_SEND && !res.notify,
	       "no rules: send");
	om_audit_result_free(&res);
	rules_free(&rs);
	om_audit_msg_free(&m);
}

/* ---- a message's text ---- */

static const char sjis_mail[] =
	"From: hanako@example.jp\n"
	"To: yamada@partner.example\n"
	"Subject: =?ISO-2022-JP?B?GyRCOCtAUT1xGyhC?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b\"\n"
	"\n"
	"--b\n"
	"Content-Type: text/plain; charset=ISO-2022-JP\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"\x1b$B4X78<T30Hk\x1b(B\n"
	"--b\n"
	"Content-Type: text/plain; charset=Shift_JIS\n"
	"Content-Disposition: attachment; filename=\"memo.txt\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"jtCKT4LWgsyOnYK/j2+CtYvWjn6BQorWjFeO0opPlOmCzI6Rl7+CxYK3gUI=\n"
	"--b\n"
	"Content-Type: text/html; charset=EUC-JP\n"
	"Content-Disposition: attachment; filename=\"page.html\"\n"
	"\n"
	"<html><head><script>var x = \"\xb4\xd8\xb7\xb8\";</script></head>"
	"<body><p>\xb4\xd8\xb7\xb8\xbc\xd4\xb3\xb0\xc8\xeb</p></body></html>\n"
	"--b\n"
	"Content-Type: text/plain\n"
	"Content-Disposition: attachment; filename=\"nolabel.txt\"\n"
	"\n"
	"\x8a\xd6\x8c\x57\x8e\xd2\x8a\x4f\x94\xe9 unlabelled\n"
	"--b--\n";

static void test_text(void)
{
	struct om_mail_text t;
	struct om_audit_msg *m;
	char *error = NULL;
	static char *rcpts[] = { "yamada@partner.example" };

	TAP_OK(om_mail_text_read(sjis_mail, sizeof(sjis_mail) - 1, 50, 4096, &t, &error) == 0,
	       "reads the message");
	TAP_OK(t.count == 4, "four parts (%zu)", t.count);
	if (t.count == 4) {
		TAP_OK(t.parts[0].is_body && t.parts[0].text != NULL &&
		       strstr(t.parts[0].text, "関係者外秘") != NULL,
		       "ISO-2022-JP body: %s", t.parts[0].text);
		TAP_OK(!t.parts[1].is_body && strstr(t.parts[1].text, "関係者外秘") != NULL,
		       "Shift_JIS attachment: %s", t.parts[1].text);
		TAP_OK(t.parts[2].how == OM_MAIL_TEXT_HTML &&
		       strstr(t.parts[2].text, "関係者外秘") != NULL &&
		       strstr(t.parts[2].text, "var x") == NULL,
		       "EUC-JP HTML, no script: %s", t.parts[2].text);
		TAP_OK(strstr(t.parts[3].text, "関係者外秘") != NULL,
		       "unlabelled Shift_JIS guessed: %s", t.parts[3].text);
	}
	TAP_OK(strcmp(t.subject, "見積書") == 0, "subject decoded: %s", t.subject);
	om_mail_text_free(&t);

	m = om_audit_msg_read(sjis_mail, sizeof(sjis_mail) - 1, OM_AUDIT_DIR_OUT,
			      "example.jp", "group.example partner.example", "hanako@example.jp",
			      rcpts, 1, &error);
	TAP_OK(m != NULL, "read for the rules");
	if (m != NULL) {
		run1("attachment-text contains \"関係者外秘\" => hold", m, 1,
		     "Shift_JIS attachment keyword");
		run1("attachment-name is \"memo.txt\" => hold", m, 1, "attachment name");
		run1("recipient external => hold", m, 0, "internal-domains are inside");
		om_audit_msg_free(&m);
	}
	free(error);
}

/* a one-page PDF (Helvetica, its text in the page's content stream) */
static const char pdf[] =
	"%PDF-1.4\n"
	"1 0 obj\n"
	"<< /Type /Catalog /Pages 2 0 R >>\n"
	"endobj\n"
	"2 0 obj\n"
	"<< /Type /Pages /Kids [3 0 R] /Count 1 >>\n"
	"endobj\n"
	"3 0 obj\n"
	"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\n"
	"endobj\n"
	"4 0 obj\n"
	"<< /Length 58 >>\n"
	"stream\n"
	"BT /F1 12 Tf 10 50 Td (Secret plan: KANKEISHA-GAIHI) Tj ET\n"
	"endstream\n"
	"endobj\n"
	"5 0 obj\n"
	"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\n"
	"endobj\n"
	"xref\n"
	"0 6\n"
	"0000000000 65535 f \n"
	"0000000009 00000 n \n"
	"0000000058 00000 n \n"
	"0000000115 00000 n \n"
	"0000000241 00000 n \n"
	"0000000349 00000 n \n"
	"trailer\n"
	"<< /Size 6 /Root 1 0 R >>\n"
	"startxref\n"
	"419\n"
	"%%EOF\n";

static void test_pdf(void)
{
	char *text = om_mail_text_of_pdf(pdf, sizeof(pdf) - 1, 4096);

	TAP_OK(text != NULL && strstr(text, "KANKEISHA-GAIHI") != NULL, "a PDF's text");
	free(text);
	TAP_OK(om_mail_text_of_pdf("not a pdf", 9, 100) == NULL, "a broken PDF has no text");
}

int main(void)
{
	test_grammar();
	test_conditions();
	test_order();
	test_normalize_pieces();
	test_text();
	test_pdf();
	return tap_done();
}
