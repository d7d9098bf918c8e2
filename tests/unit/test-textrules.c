/* test-textrules.c - unit tests of spam/textrules.c (the phrase rules of
 * conf/spam.rules, issue 19 fifth round): for each shipped rule a Japanese
 * and an English spam that fire it and a ham with the same words that
 * must not (each rule needs a combination); the file's syntax; a whole
 * message (Subject, HTML text, an IP link); and the reasons it carries.
 */
#include "tap.h"
#include "spam/textrules.h"
#include "spam/reasons.h"
#include "spam/rules.h"
#include "spam/spam.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIPPED TEMPLATES_DIR "/../conf/spam.rules"

static int fires(const struct om_textrules *rules, const char *name, const char *text,
		 size_t links, int odd)
{
	struct om_textrules_facts facts = { text, links, odd, 0, 0 };
	struct om_rules_result res;
	size_t i;

	memset(&res, 0, sizeof(res));
	om_textrules_match(rules, &facts, &res);
	for (i = 0; i < res.count; i++) {
		if (strcmp(res.hits[i].name, name) == 0)
			return 1;
	}
	return 0;
}

struct rule_case {
	const char *rule;
	const char *ja, *en;	/* spam that fires it (en NULL: none written) */
	const char *ham;	/* real mail with some of the words: must not */
	int needs_link;		/* the spam without a link must not fire */
};

static const struct rule_case cases[] = {
	{ "JA_ACCOUNT_SUSPEND",
	  "お客様のアカウントが停止されました。２４時間以内に下記より手続きしてください。",
	  "Your account has been suspended. Restore it within 24 hours.",
	  "パスワード再設定のご案内です。30分以内に以下のリンクから新しいパスワードを設定してください。", 1 },
	{ "JA_ACCOUNT_ALARM",
	  "第三者による不正ログインを検知しました。ご本人様確認をお願いします。",
	  "We noticed unusual sign-in activity. Please verify your account.",
	  "ログインコードは 123456 です。お心当たりのない場合は、このメールを破棄してください。", 1 },
	{ "JA_VERIFY_OR_LOSE",
	  "カード情報の本人確認が必要です。本日中に完了しない場合、ご利用を停止します。",
	  "Please confirm your identity immediately or your account will be locked.",
	  "カード情報の登録が完了しました。ご利用明細は会員サイトでご確認いただけます。", 1 },
	{ "JA_DELIVERY_FEE",
	  "お荷物をお届けできませんでした。再配達には配送料 300 円のお支払いが必要です。",
	  "Your parcel could not be delivered. Pay the delivery fee to reschedule.",
	  "お届けに伺いましたがご不在でした。再配達のお申し込みは下記のページから承ります。", 1 },
	{ "JA_ODD_LINK_LOGIN",
	  "こちらからログインしてください。",
	  "Please sign in here to keep your mailbox.",
	  NULL, 1 },
	{ "JA_MONEY_PROMISE",
	  "スマホだけで稼げる方法。月収100万円も夢ではありません。",
	  "Build passive income: earn while you sleep.",
	  "昨年の年収をもとに、今年度の住民税が決まりました。", 0 },
	{ "JA_SIDE_JOB",
	  "スキマ時間の副業で日給3万円。詳しくはこちら。",
	  "Work from home and earn $500 per day.",
	  "在宅勤務の手当と報酬規程の改定についてお知らせします。", 1 },
	{ "JA_INVESTMENT",
	  "FX自動売買で勝率90%、月利20%。LINEで無料参加できます。",
	  "Invest now: guaranteed returns, join our free group.",
	  "投資信託のご案内です。元本保証はありません。無料セミナーにもご参加いただけます。", 1 },
	{ "JA_DATING",
	  "近くに住む人妻があなたに会いたがっています。会員登録は無料です。",
	  "Meet local singles tonight. Sign up free.",
	  "同窓会でみんなに会いたいね。出欠は下記のフォームでお知らせください。", 1 },
	{ "JA_ROMANCE_MONEY",
	  "あなたのことを愛しています。荷物の関税を払うため、少しだけ送金してもらえませんか。",
	  "My dear, I love you. Please send money for the customs fee.",
	  "結婚式の会費は、当日までにお振り込みください。", 0 },
	{ "JA_PRIZE_FEE",
	  "おめでとうございます、100万円が当選しました。受取手続きの手数料をお振込ください。",
	  "You have won a prize. A processing fee of $50 is needed.",
	  "キャンペーンに当選されました。賞品は送料無料でお届けします。", 1 },
	{ "JA_UNPAID_LEGAL",
	  "未払いの利用料金があります。ご連絡がない場合は法的手続きに移行します。",
	  "Your unpaid balance will be passed to a debt collector.",
	  "お支払いが確認できませんでした。次回のお引き落とし日は 10 日です。", 1 },
	{ "JA_TAX_OFFICE",
	  "国税庁からのお知らせ: 未納の税金があり、差押えの対象となります。",
	  "Tax office notice: your tax refund is pending.",
	  "確定申告を e-Tax で提出しました。還付金は1か月ほどで振り込まれます。", 1 },
	{ "JA_BEC_ACCOUNT",
	  "振込先の口座が変更になりました。本件は内密に、至急お手続きください。",
	  "Our bank account has changed; the wire transfer is urgent.",
	  "振込先口座変更のお知らせ。来月のお支払い分から新しい口座へお願いいたします。", 0 },
	{ "JA_CRYPTO",
	  "ビットコインで確実に儲かる方法を教えます。",
	  "Bitcoin: double your money in a week.",
	  "暗号資産の利益は雑所得です。必ず期限までに確定申告してください。", 0 },
	{ "JA_PHARMA",
	  "バイアグラが処方箋不要、格安でお届けします。",
	  "Buy viagra without prescription.",
	  "ジェネリック医薬品に切り替えると、お薬代が格安になります。", 1 },
	{ "JA_SEO",
	  "SEO対策で検索順位1ページ目を保証します。",
	  "Our SEO services guarantee the first page of Google.",
	  "御社サイトの検索順位は先月と同じでした。", 0 },
};

static void test_shipped(const struct om_textrules *rules)
{
	const struct rule_case *c;
	size_t i;

	TAP_OK(om_textrules_count(rules) == OM_N_ELEMENTS(cases),
	       "every shipped rule has its cases here (%zu rules)", om_textrules_count(rules));
	for (i = 0; i < OM_N_ELEMENTS(cases); i++) {
		c = &cases[i];
		TAP_OK(fires(rules, c->rule, c->ja, 1, 1), "%s: ja spam", c->rule);
		if (c->en != NULL)
			TAP_OK(fires(rules, c->rule, c->en, 1, 1), "%s: en spam", c->rule);
		if (c->ham != NULL)
			TAP_OK(!fires(rules, c->rule, c->ham, 1, 0), "%s: ham does not fire", c->rule);
		if (c->needs_link)
			TAP_OK(!fires(rules, c->rule, c->ja, 0, 0), "%s: not without a link", c->rule);
	}
	TAP_OK(!fires(rules, "JA_ODD_LINK_LOGIN", "こちらからログインしてください。", 1, 0),
	       "JA_ODD_LINK_LOGIN: an ordinary link with the same words does not fire");
	TAP_OK(om_textrules_host_is(rules, "bit.ly", 's'), "bit.ly is a shortener");
	TAP_OK(!om_textrules_host_is(rules, "x.bit.ly", 's'), "a shortener is its own host only");
	TAP_OK(om_textrules_host_is(rules, "login-bank.web.app", 'f'), "a host under free hosting");
	TAP_OK(!om_textrules_host_is(rules, "bank.example.co.jp", 'f'), "a company host is not");
}

static void test_normalise(void)
{
	char *n = om_textrules_normalise("２４時間 以内\nAccount　Has Been");

	TAP_OK(strcmp(n, "24時間以内accounthasbeen") == 0,
	       "full-width digits, case and every space (also U+3000) normalised: %s", n);
	free(n);
}

static void test_syntax(void)
{
	static const char *const bad[] = {
		"text a|b\n",					/* before any rule */
		"rule X 2\ntext a\nreason-ja ja\n",		/* no reason-en */
		"rule X 2\nreason-ja ja\nreason-en en\n",	/* no text, no link */
		"rule lower 2\ntext a\nreason-ja ja\nreason-en en\n",
		"rule BAYES_X 2\ntext a\nreason-ja ja\nreason-en en\n",
		"rule X two\ntext a\nreason-ja ja\nreason-en en\n",
		"rule X 2\ntext a\nlink sometimes\nreason-ja ja\nreason-en en\n",
		"rule X 2\ntext a\nfrobnicate\nreason-ja ja\nreason-en en\n",
		"brand\n",					/* no name */
		"brand 楽天\n",					/* no domain */
	};
	struct om_textrules *rules;
	char *error = NULL;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(bad); i++) {
		rules = om_textrules_parse(bad[i], &error);
		TAP_OK(rules == NULL && error != NULL && strncmp(error, "line ", 5) == 0,
		       "refused with its line: %s", error != NULL ? error : "(accepted)");
		om_textrules_free(&rules);
		om_free(&error);
	}
	rules = om_textrules_parse("# comment\n\nrule X 1.5\n  text a b|c\n  link ip\n"
				   "  reason-ja 日本語\n  reason-en English\n", &error);
	TAP_OK(rules != NULL && om_textrules_count(rules) == 1, "a rule with comments and indentation");
	if (rules != NULL) {
		TAP_OK(fires(rules, "X", "xx AB yy", 1, 1), "phrase with a space matches without it");
		TAP_OK(!fires(rules, "X", "xx AB yy", 1, 0), "link ip: not without an IP link");
	}
	om_textrules_free(&rules);
	free(error);
	error = NULL;
	TAP_OK(om_textrules_load("/nonexistent/spam.rules", &error) == NULL && error != NULL,
	       "a missing file is an error the caller sees");
	free(error);
}

/* The three-byte prefilter passes over a phrase only when its first
   three bytes are nowhere in the text: a phrase at the very start or end,
   one whose start occurs only elsewhere, one of two bytes, a Japanese
   phrase and a text shorter than three bytes each match as strstr does. */
static void test_prefilter(void)
{
	static const struct { const char *text; int want; } texts[] = {
		{ "abcdef", 1 }, { "zzzabc", 1 }, { "abxabcde", 1 },
		{ "abx zzz", 0 }, { "xyq", 1 }, { "q", 0 },
		{ "本日中に停止", 1 }, { "本日の停止", 0 }, { "ab", 0 },
	};
	struct om_textrules *rules;
	char *error = NULL;
	size_t i;

	rules = om_textrules_parse("rule P 1\n  text abc|xy|本日中\n"
				   "  reason-ja 日本語\n  reason-en English\n", &error);
	TAP_OK(rules != NULL, "a rule of short and long phrases: %s",
	       error != NULL ? error : "ok");
	for (i = 0; rules != NULL && i < OM_N_ELEMENTS(texts); i++)
		TAP_OK(fires(rules, "P", texts[i].text, 0, 0) == texts[i].want,
		       "\"%s\": %s", texts[i].text, texts[i].want ? "fires" : "does not fire");
	om_textrules_free(&rules);
	free(error);
}

/* site-suffixes: the sites of names the Public Suffix List does not know
   (an ISP's customer sub-domains; the Japanese set's reserved names). */
static void test_site_suffixes(void)
{
	static const struct { const char *host, *want; } hosts[] = {
		{ "aoba-shoji.example.co.jp", "aoba-shoji.example.co.jp" },
		{ "mail.aoba-shoji.example.co.jp", "aoba-shoji.example.co.jp" },
		{ "shop1.customers.isp.example", "shop1.customers.isp.example" },
		{ "www.shop1.customers.isp.example", "shop1.customers.isp.example" },
		{ "example.co.jp", NULL },		/* the name itself */
		{ "customers.isp.example", NULL },
		{ "isp.example", NULL },
		{ "aoba-shoji.co.jp", NULL },		/* the Public Suffix List's */
		{ "example.co.jp.evil.example", NULL },
	};
	struct om_textrules *rules;
	const char *site;
	char *error = NULL;
	size_t i;

	rules = om_textrules_parse("site-suffixes example.co.jp Customers.ISP.example\n", &error);
	TAP_OK(rules != NULL, "site-suffixes parse: %s", error != NULL ? error : "ok");
	for (i = 0; rules != NULL && i < OM_N_ELEMENTS(hosts); i++) {
		site = om_textrules_site(rules, hosts[i].host);
		TAP_OK(hosts[i].want == NULL ? site == NULL :
		       site != NULL && strcmp(site, hosts[i].want) == 0,
		       "%s: site %s", hosts[i].host, site != NULL ? site : "(the list's)");
	}
	om_textrules_free(&rules);
	free(error);
	TAP_OK(om_textrules_site(NULL, "a.example.co.jp") == NULL, "no rules: the list's");
}

/* The registrable domain of the test hosts below (all under a one-label
   suffix but amazon.com.au): the Public Suffix List's part, which phish.c
   gives the rules. */
static const char *last_two_labels(const char *host)
{
	const char *p = host + strlen(host), *dots[3] = { NULL, NULL, NULL };
	int n = 0;

	if (strcmp(host, "amazon.com.au") == 0)
		return host;
	while (p > host && n < 2) {
		p--;
		if (*p == '.')
			dots[n++] = p;
	}
	return n == 2 ? dots[1] + 1 : host;
}

/* PHISH_BRAND_NAME's half in the rules file: a From display name naming a
   brand of the shipped "brand" lines, on a domain not the brand's. */
static void test_brands(const struct om_textrules *rules)
{
	static const struct {
		const char *name, *host, *brand;	/* brand NULL: none claimed */
		int worn;				/* the brand's domain worn */
		const char *why;
	} brand_cases[] = {
		{ "楽天カード", "rakuten-card.co.jp.verify.example", "楽天", 1,
		  "ja: 楽天カード on a domain wearing rakuten-card.co.jp" },
		{ "楽天カード", "mail.rakuten-card.co.jp.example", "楽天", 0,
		  "ja: ... but rakuten-card.co.jp reaching into the site (jp.example) is not worn" },
		{ "Amazon", "amazon.com.au", "Amazon", 0,
		  "en: amazon.com.au is a site of its own, wearing nothing (not on the line)" },
		{ "【楽天カード】", "mail.rakuten-card.co.jp", NULL, 0,
		  "ja: the brand's own domain (under one listed)" },
		{ "イオンカード", "aeon-card.net.example", "イオンカード", 0,
		  "ja: イオンカード elsewhere" },
		{ "ライオン株式会社", "lion.example.jp", NULL, 0,
		  "ja: イオン inside another name is not イオンカード" },
		{ "楽市モール", "rakuichi-mall.login-secure.test", NULL, 0,
		  "ja: a name the file does not list" },
		{ "日本郵便 再配達センター", "post-jp.example", "日本郵便", 0,
		  "ja: 日本郵便 with words after it" },
		{ "NTTドコモ", "docomo-jp.bill-check.example", "ドコモ", 0,
		  "ja: ドコモ inside NTTドコモ" },
		{ "Apple Support", "apple-id-support.example", "Apple", 0,
		  "en: Apple as the name's first word" },
		{ "Apple", "email.apple.com", NULL, 0, "en: Apple's own mail" },
		{ "Lockergnome Apple Core", "lockergnome.com", NULL, 0,
		  "en: a newsletter about Apple (not its first word)" },
		{ "Pineapple Express", "pineapple.example", NULL, 0, "en: apple inside a word" },
		{ "Amazon.co.jp", "amazon-co-jp.verify-center.example", "Amazon", 0,
		  "en: Amazon.co.jp from a stranger" },
		{ "\xef\xbc\xa1\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x9a\xef\xbd\x8f\xef\xbd\x8e",
		  "x.example", "Amazon", 0, "full-width Ａｍａｚｏｎ is Amazon" },
		{ "au PAY ポイント", "au-point-cp.example", "au PAY", 0,
		  "a name of two words (au_PAY in the file)" },
		{ "PayPal via Friends", "lists.friends.example", NULL, 0,
		  "\"via\": a mailing list that rewrote From" },
		{ "佐藤 恵", "outlook.example", NULL, 0, "a person's name" },
		{ "えきねっと", "eki-net.com.verify-account.example", "えきねっと", 1,
		  "ja: えきねっと wearing eki-net.com before a stranger's domain" },
		{ "えきねっと", "eki-net.jp.verify-account.example", "えきねっと", 0,
		  "ja: eki-net.jp is not one of its domains: claimed, nothing worn" },
		{ "Amazon", "mail.amazon.co.jp", NULL, 0, "en: Amazon's own sub-domain wears nothing" },
		{ "Amazon", "amazon.co.jp-account.example", "Amazon", 0,
		  "en: amazon.co.jp-account is not amazon.co.jp worn (labels, not letters)" },
	};
	const char *got;
	size_t i;
	int worn;

	for (i = 0; i < OM_N_ELEMENTS(brand_cases); i++) {
		got = om_textrules_brand_impostor(rules, brand_cases[i].name, brand_cases[i].host,
						  last_two_labels(brand_cases[i].host), &worn);
		TAP_OK((brand_cases[i].brand == NULL ? got == NULL :
			got != NULL && strcmp(got, brand_cases[i].brand) == 0) &&
		       worn == brand_cases[i].worn,
		       "%s (%s%s)", brand_cases[i].why, got != NULL ? got : "none",
		       worn ? ", its domain worn" : "");
	}
	TAP_OK(om_textrules_brand_impostor(rules, NULL, "x.example", NULL, NULL) == NULL &&
	       om_textrules_brand_impostor(rules, "Amazon", NULL, NULL, NULL) == NULL,
	       "no display name or no domain: none claimed");
}

static void test_message(const struct om_textrules *rules)
{
	static const char raw[] =
		"From: =?UTF-8?B?5qW95biC44Oi44O844Or?= <info@rakuichi-secure.example>\r\n"
		"To: sato@example.jp\r\n"
		"Subject: =?UTF-8?B?44CQ6YeN6KaB44CR44Ki44Kr44Km44Oz44OI44GM5YGc5q2i44GV44KM44G+44GX44Gf?=\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n"
		"<html><body><p>24時間以内に\r\n<a href=\"http://192.0.2.7/login\">こちら</a>"
		"からログインしてください。</p></body></html>\r\n";
	struct om_spam_report report;
	struct om_mime_msg *msg;
	char *error = NULL, *why;
	size_t i;
	int suspend = 0, odd = 0;

	msg = om_mime_parse(raw, sizeof(raw) - 1, &error);
	free(error);
	TAP_OK(msg != NULL, "the message parses");
	if (msg == NULL)
		return;
	memset(&report, 0, sizeof(report));
	om_textrules_check(rules, msg, &report.rules);
	om_mime_free(&msg);
	for (i = 0; i < report.rules.count; i++) {
		suspend |= strcmp(report.rules.hits[i].name, "JA_ACCOUNT_SUSPEND") == 0;
		odd |= strcmp(report.rules.hits[i].name, "JA_ODD_LINK_LOGIN") == 0;
	}
	TAP_OK(suspend, "the Subject's アカウントが停止 with the HTML's 24時間以内 and a link");
	TAP_OK(odd, "a link to a bare IP address with ログイン");
	why = om_spam_reasons(&report, NULL, "ja");
	TAP_OK(why != NULL && strstr(why, "アカウントの停止を告げて") != NULL,
	       "the rule's Japanese reason: %s", why != NULL ? why : "(none)");
	free(why);
	why = om_spam_reasons(&report, NULL, "en");
	TAP_OK(why != NULL && strstr(why, "threatens to suspend your account") != NULL,
	       "the rule's English reason: %s", why != NULL ? why : "(none)");
	free(why);
}

int main(void)
{
	struct om_textrules *rules;
	char *error = NULL;

	om_mime_global_init();
	test_normalise();
	test_syntax();
	test_prefilter();
	test_site_suffixes();
	rules = om_textrules_load(SHIPPED, &error);
	TAP_OK(rules != NULL, "conf/spam.rules loads: %s", error != NULL ? error : "ok");
	free(error);
	if (rules != NULL) {
		test_shipped(rules);
		test_brands(rules);
		test_message(rules);
	}
	om_textrules_free(&rules);
	return tap_done();
}
