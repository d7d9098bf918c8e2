/* test-phish.c - unit tests of spam/phish.c (the phishing-shape rules:
 * link text against href, From against the link domains, lookalikes of
 * the recipient's domain, Reply-To to free mail) and spam/reasons.c (the
 * reasons a user reads), with Japanese and English mail.
 */
#include "tap.h"
#include "spam/phish.h"
#include "spam/reasons.h"
#include "spam/rules.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fired(const struct om_rules_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->count; i++) {
		if (strcmp(res->hits[i].name, name) == 0)
			return 1;
	}
	return 0;
}

static void test_lookalike(void)
{
	TAP_OK(om_phish_lookalike("examp1e.co.jp", "example.co.jp"), "digit for a letter: 1/l");
	TAP_OK(om_phish_lookalike("g00gle.com", "google.com"), "two zeros for o");
	TAP_OK(om_phish_lookalike("rnicrosoft.com", "microsoft.com"), "rn for m");
	TAP_OK(om_phish_lookalike("aoba-shouji.co.jp", "aoba-shoji.co.jp"), "one letter inserted");
	TAP_OK(om_phish_lookalike("aoba-sohji.co.jp", "aoba-shoji.co.jp"), "two letters swapped");
	TAP_OK(om_phish_lookalike("kitahama-kogyou.jp", "kitahama-kogyo.jp"), "kogyou / kogyo");
	/* xn--exmple-4nf.jp: "exаmple.jp" with a Cyrillic а */
	TAP_OK(om_phish_lookalike("xn--exmple-4nf.jp", "example.jp"),
	       "IDN homoglyph: Cyrillic a, decoded by libidn2");
	TAP_OK(!om_phish_lookalike("example.jp", "example.jp"), "the same domain is no lookalike");
	TAP_OK(!om_phish_lookalike("EXAMPLE.jp", "example.jp"), "case does not count");
	TAP_OK(!om_phish_lookalike("abd.jp", "abc.jp"), "short names: one edit means nothing");
	TAP_OK(!om_phish_lookalike("sakura-bank.jp", "example.jp"), "an unrelated domain");
	TAP_OK(!om_phish_lookalike("xn--r8jz45g.jp", "example.jp"), "a Japanese IDN is not Latin");
	TAP_OK(!om_phish_lookalike(NULL, "example.jp"), "no candidate");
}

static void test_text_host(void)
{
	char *h;

	h = om_phish_text_host("https://www.mybank.example.jp/login");
	TAP_OK(h != NULL && strcmp(h, "www.mybank.example.jp") == 0, "a URL as text: %s", h ? h : "-");
	free(h);
	h = om_phish_text_host("  www.Post-Office.example/track  ");
	TAP_OK(h != NULL && strcmp(h, "www.post-office.example") == 0, "a bare host with a path");
	free(h);
	h = om_phish_text_host("こちら https://mypage.example.co.jp/ から");
	TAP_OK(h != NULL && strcmp(h, "mypage.example.co.jp") == 0, "a URL inside Japanese text");
	free(h);
	h = om_phish_text_host("こちらをクリック");
	TAP_OK(h == NULL, "Japanese text shows no host");
	free(h);
	h = om_phish_text_host("Click here");
	TAP_OK(h == NULL, "English text shows no host");
	free(h);
	h = om_phish_text_host("support@bank.example");
	TAP_OK(h == NULL, "an address is no link text host");
	free(h);
	h = om_phish_text_host("v1.2");
	TAP_OK(h == NULL, "a version number is no host");
	free(h);
}

static const char *freemail_file(void)
{
	static char path[] = "/tmp/test-phish-XXXXXX";
	const char list[] = "# test list\ngmail.example\n  Outlook.example \r\nyahoo.co.jp\n";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, list, sizeof(list) - 1) != (ssize_t)(sizeof(list) - 1))
		return NULL;
	close(fd);
	return path;
}

static void test_mismatch(const struct om_phish *phish)
{
	TAP_OK(om_phish_text_mismatch(phish, "https://www.bank.example.jp/",
				      "http://bank-login.example.net/x", NULL),
	       "text shows bank.example.jp, href goes elsewhere");
	TAP_OK(!om_phish_text_mismatch(phish, "https://www.bank.example/",
				       "https://secure.bank.example/login", NULL),
	       "the same registrable domain");
	TAP_OK(!om_phish_text_mismatch(phish, "ログインはこちら", "http://evil.example/", NULL),
	       "text without a host is no mismatch (the other rules read it)");
	TAP_OK(om_phish_text_mismatch(phish, "www.japanpost.example.jp",
				      "http://japanpost-redelivery.example.top/", NULL),
	       "a www. host as the text");
	TAP_OK(!om_phish_text_mismatch(phish, "https://x.example/", "mailto:a@b.example", NULL),
	       "a mailto href is not a site");
	TAP_OK(!om_phish_text_mismatch(phish, "Walmart.com", "http://www.lindows.com/walmart",
				       "lindows.com"),
	       "a shop's name linking to the sender's own site");
	TAP_OK(om_phish_text_mismatch(phish, "Walmart.com", "http://walmart-deals.example/",
				      "lindows.com"),
	       "... but not to a third site");
	TAP_OK(!om_phish_text_mismatch(phish, "Node.js", "https://nodejs.example/", NULL),
	       "a product name that only looks like a host (no such top-level domain)");
	TAP_OK(om_phish_text_mismatch(phish, "https://www.sakura-card.example.jp/security/",
				      "https://sakura-card-jp.example/verify", "sakura-card-jp.example"),
	       "a spelled-out address counts even when the sender links to its own (look-alike) site");
}

static void test_domain_in_host(const struct om_phish *phish)
{
	TAP_OK(om_phish_domain_in_host(phish, "mail.rakuten-card.co.jp.example"),
	       "ja: a card company's .co.jp domain worn before another");
	TAP_OK(om_phish_domain_in_host(phish, "nta.go.jp.kanpu.example"),
	       "ja: the tax office's go.jp domain worn before another");
	TAP_OK(om_phish_domain_in_host(phish, "paypal.com.account-login.example"),
	       "en: a .com domain worn before another");
	TAP_OK(!om_phish_domain_in_host(phish, "www.ringo-shop.example.jp"),
	       "ja: an ordinary sub-domain");
	TAP_OK(!om_phish_domain_in_host(phish, "mail.example.co.jp"),
	       "ja: co.jp is the host's own suffix");
	TAP_OK(!om_phish_domain_in_host(phish, "shop.example.com.au"),
	       "en: com.au is the host's own suffix");
	TAP_OK(!om_phish_domain_in_host(phish, "lists.sourceforge.net"),
	       "en: an ordinary host");
	TAP_OK(!om_phish_domain_in_host(phish, "mail.google.com"),
	       "en: a label that is also a new generic top-level domain (google)");
	TAP_OK(!om_phish_domain_in_host(phish, "resona-net.secure.example"),
	       "ja: secure is a word before it is a top-level domain");
	TAP_OK(!om_phish_domain_in_host(phish, "192.0.2.1"), "an address");
}

static void test_freemail(const struct om_phish *phish)
{
	TAP_OK(om_phish_freemail(phish, "gmail.example"), "listed");
	TAP_OK(om_phish_freemail(phish, "outlook.example"), "case and spaces of the file");
	TAP_OK(om_phish_freemail(phish, "mail.yahoo.co.jp"), "a name under a listed one");
	TAP_OK(!om_phish_freemail(phish, "example.co.jp"), "a company domain");
}

static void check_message(const struct om_phish *phish, const char *raw,
			  const char *recipient, struct om_rules_result *res)
{
	char *error = NULL;
	struct om_mime_msg *msg = om_mime_parse(raw, strlen(raw), &error);

	memset(res, 0, sizeof(*res));
	free(error);
	if (msg == NULL)
		return;
	om_phish_check(phish, msg, recipient, NULL, 0, res, NULL);
	om_mime_free(&msg);
}

/* PHISH_BRAND_NAME through om_phish_check, with the shipped spam.rules:
   the display name read from an RFC 2047 From. */
static void test_brand_messages(struct om_phish *phish)
{
	struct om_rules_result res;
	char *error = NULL;

	TAP_OK(om_phish_load_rules(phish, TEMPLATES_DIR "/../conf/spam.rules", &error) == 0,
	       "the shipped spam.rules loads: %s", error != NULL ? error : "ok");
	free(error);
	/* From: 楽天カード <info@mail.rakuten-card.co.jp.example> */
	check_message(phish,
		"From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@rakuten-card.co.jp.verify.example>\n"
		"To: user@example.co.jp\nSubject: statement\n\nok\n", NULL, &res);
	TAP_OK(fired(&res, "PHISH_BRAND_NAME") && fired(&res, "PHISH_BRAND_WORN"),
	       "ja: 楽天カード from a stranger's domain wearing rakuten-card.co.jp");
	check_message(phish,
		"From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@rakuten-card-info.example>\n"
		"To: user@example.co.jp\nSubject: statement\n\nok\n", NULL, &res);
	TAP_OK(fired(&res, "PHISH_BRAND_NAME") && !fired(&res, "PHISH_BRAND_WORN"),
	       "ja: 楽天カード from a stranger's domain wearing none of the brand's");
	check_message(phish,
		"From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@mail.rakuten-card.co.jp>\n"
		"To: user@example.co.jp\nSubject: statement\n\nok\n", NULL, &res);
	TAP_OK(!fired(&res, "PHISH_BRAND_NAME") && !fired(&res, "PHISH_BRAND_WORN"),
	       "ja: 楽天カード from its own domain");
	check_message(phish,
		"From: \"Netflix\" <info@netflix-jp-billing.example>\nTo: bob@example.com\n"
		"Subject: payment\n\nok\n", NULL, &res);
	TAP_OK(fired(&res, "PHISH_BRAND_NAME") && !fired(&res, "PHISH_BRAND_WORN"),
	       "en: Netflix from a stranger's domain (wearing none of Netflix's)");
	check_message(phish,
		"From: Lockergnome Apple Core <subscriptions@lockergnome.com>\nTo: bob@example.com\n"
		"Subject: news\n\nok\n", NULL, &res);
	TAP_OK(!fired(&res, "PHISH_BRAND_NAME"), "en: a newsletter about Apple");
	check_message(phish, "From: info@netflix-jp-billing.example\nTo: bob@example.com\n"
		      "Subject: payment\n\nok\n", NULL, &res);
	TAP_OK(!fired(&res, "PHISH_BRAND_NAME"), "no display name: nothing claimed");
}

/* Sites under the rules' site-suffixes names, and the names a sender's
   site goes by (the classifier's memory of them: spam.h). */
static void test_sites(struct om_phish *phish)
{
	static const struct { const char *from, *site, *name, *worn; } senders[] = {
		{ "m.takahashi@aoba-shoji.co.jp", "aoba-shoji.co.jp", "aoba-shojl", NULL },
		{ "info@mail.sakura-card.example.jp", "sakura-card.example.jp", "sakura-card", "mail" },
		{ "=?UTF-8?B?5qW95aSp?= <x@M.Rakuten.co.jp>", "rakuten.co.jp", "rakuten", "m" },
		{ "a@rnicrosoft.com", "rnicrosoft.com", "mlcrosoft", NULL },	/* rn as m */
		{ "a@towa-sys.co.jp.mail-gw.test", "mail-gw.test", "mall-gw", "towa-sys.co.jp" },
		{ "a@lsil.com", "lsil.com", NULL, NULL },	/* four letters: no name */
		{ "a@[192.0.2.1]", NULL, NULL, NULL },
		{ "nobody", NULL, NULL, NULL },
	};
#define SAME(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && strcmp((a), (b)) == 0)
	struct om_phish_sender sender;
	struct om_rules_result res;
	struct om_mime_msg *msg;
	char path[] = "/tmp/test-phish-rules-XXXXXX", *raw, *error = NULL;
	const char rules[] = "site-suffixes example.jp example.co.jp\n";
	int fd = mkstemp(path);
	size_t i;

	TAP_OK(fd >= 0 && write(fd, rules, sizeof(rules) - 1) == (ssize_t)(sizeof(rules) - 1) &&
	       om_phish_load_rules(phish, path, &error) == 0,
	       "a rules file with site-suffixes loads: %s", error != NULL ? error : "ok");
	free(error);
	if (fd >= 0) {
		close(fd);
		(void)unlink(path);
	}
	for (i = 0; i < OM_N_ELEMENTS(senders); i++) {
		raw = om_asprintf("From: %s\nTo: x@example.jp\nSubject: s\n\nbody\n", senders[i].from);
		msg = om_mime_parse(raw, strlen(raw), &error);
		om_free(&error);
		(void)om_phish_sender_read(phish, msg, &sender);
		TAP_OK(SAME(senders[i].site, sender.site) && SAME(senders[i].name, sender.name) &&
		       SAME(senders[i].worn, sender.worn),
		       "the sender of %s: site %s, name %s, worn %s", senders[i].from,
		       sender.site != NULL ? sender.site : "-", sender.name != NULL ? sender.name : "-",
		       sender.worn != NULL ? sender.worn : "-");
		om_phish_sender_free(&sender);
		om_mime_free(&msg);
		free(raw);
	}
	/* without the line every company under example.co.jp is one site */
	check_message(phish, "From: =?UTF-8?B?5p2R5LiK?= <murakami@aoba-shouji.example.co.jp>\n"
		      "Reply-To: aoba@gmail.example\nTo: m.takahashi@aoba-shoji.example.co.jp\n"
		      "Subject: =?UTF-8?B?5oyv6L6844G/5YWI?=\n\nok\n", NULL, &res);
	TAP_OK(fired(&res, "PHISH_LOOKALIKE"),
	       "ja BEC: aoba-shouji looks like the recipient's aoba-shoji under a site-suffixes name");
	check_message(phish, "From: =?UTF-8?B?5p2R5LiK?= <murakami@aoba-shoji.example.co.jp>\n"
		      "To: m.takahashi@aoba-shoji.example.co.jp\nSubject: s\n\nok\n", NULL, &res);
	TAP_OK(!fired(&res, "PHISH_LOOKALIKE"), "ja: a colleague is no lookalike");
	check_message(phish, "From: info@sakura-card.example.jp\nTo: a@example.co.jp\n"
		      "MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n\n"
		      "<a href=\"https://minato-bank.example.jp/login\">https://minato-bank.example.jp/</a>\n",
		      NULL, &res);
	TAP_OK(fired(&res, "PHISH_FROM_UNRELATED"),
	       "two companies under example.jp are two sites: From unrelated to the link");
}

static void test_messages(const struct om_phish *phish)
{
	struct om_rules_result res;

	/* Japanese postal phishing: link text and href differ, From unrelated */
	check_message(phish,
		"From: =?UTF-8?B?5pel5pys6YO15L6/?= <info@post.example.jp>\n"
		"To: user@example.co.jp\nSubject: =?UTF-8?B?5LiN5Zyo6YCj57Wh?=\n"
		"MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n\n"
		"<p>お荷物をお届けにあがりましたが、ご不在でした。</p>"
		"<p><a href=\"http://redelivery-post.example.top/jp\">https://www.post.example.jp/redelivery</a></p>\n",
		"user@example.co.jp", &res);
	TAP_OK(fired(&res, "PHISH_LINK_TEXT"), "ja: link text shows post.example.jp, goes elsewhere");
	TAP_OK(fired(&res, "PHISH_FROM_UNRELATED"), "ja: From unrelated to every link");
	TAP_OK(!fired(&res, "PHISH_FREEMAIL_REPLYTO") && !fired(&res, "PHISH_LOOKALIKE") &&
	       !fired(&res, "PHISH_DOMAIN_IN_HOST"), "ja: nothing else");

	/* Japanese card phishing from and linking to a host wearing the
	   card company's domain */
	check_message(phish,
		"From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@mail.sakura-card.co.jp.example>\n"
		"To: user@example.co.jp\nSubject: =?UTF-8?B?5LiN5Zyo6YCj57Wh?=\n"
		"MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n\n"
		"<p>ご利用明細の確認をお願いします。</p>"
		"<p><a href=\"http://sakura-card.co.jp.example/login\">ログイン</a></p>\n",
		"user@example.co.jp", &res);
	TAP_OK(fired(&res, "PHISH_DOMAIN_IN_HOST"), "ja: From and link wear sakura-card.co.jp");

	/* English: only the link wears the domain */
	check_message(phish,
		"From: service@pay-notice.example\nTo: bob@example.com\nSubject: limited\n"
		"MIME-Version: 1.0\nContent-Type: text/html\n\n"
		"<a href=\"https://paypal.com.secure-check.example/x\">Restore access</a>\n",
		NULL, &res);
	TAP_OK(fired(&res, "PHISH_DOMAIN_IN_HOST"), "en: a link wearing paypal.com");

	/* a legitimate Japanese shipping notice linking to its own site */
	check_message(phish,
		"From: shop@mail.ringo-shop.example.jp\nTo: user@example.co.jp\n"
		"Subject: =?UTF-8?B?55m66YCB44Gu44GK55+l44KJ44Gb?=\n"
		"MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n\n"
		"<p>ご注文の商品を発送しました。</p><a href=\"https://www.ringo-shop.example.jp/track?id=1\">"
		"https://www.ringo-shop.example.jp/track</a> <a href=\"https://www.ringo-shop.example.jp/\">"
		"配送状況を見る</a>\n", "user@example.co.jp", &res);
	TAP_OK(res.count == 0, "ja ham: its own links, nothing fires (%zu)", res.count);

	/* BEC: a lookalike of the recipient's domain and a free-mail Reply-To */
	check_message(phish,
		"From: Murakami <murakami@aoba-shouji.co.jp>\n"
		"Reply-To: t.murakami.aoba@gmail.example\n"
		"To: m.takahashi@aoba-shoji.co.jp\nSubject: =?ISO-2022-JP?B?GyRCOyk2YhsoQg==?=\n"
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n"
		"お世話になっております。振込先の口座が変わりましたのでご連絡いたします。\n",
		"m.takahashi@aoba-shoji.co.jp", &res);
	TAP_OK(fired(&res, "PHISH_LOOKALIKE"), "ja BEC: a lookalike of the recipient's domain");
	TAP_OK(fired(&res, "PHISH_FREEMAIL_REPLYTO"), "ja BEC: Reply-To on free mail");
	TAP_OK(!fired(&res, "PHISH_FROM_UNRELATED"), "no links: From cannot be unrelated to them");

	/* English: the recipient's domain looked-alike in a link */
	check_message(phish,
		"From: IT Helpdesk <helpdesk@example.com>\nTo: bob@example.com\n"
		"Subject: Password expiry\n\nYour password expires today. Keep it at "
		"https://examp1e.com/owa/reset\n", NULL, &res);
	TAP_OK(fired(&res, "PHISH_LOOKALIKE"), "en: a link to a lookalike (recipient from To)");

	/* English: a mail from free mail replying to free mail: nothing */
	check_message(phish,
		"From: Alice <alice@gmail.example>\nReply-To: alice.work@outlook.example\n"
		"To: bob@example.com\nSubject: lunch\n\nSee you at noon.\n", NULL, &res);
	TAP_OK(!fired(&res, "PHISH_FREEMAIL_REPLYTO"), "en: From itself on free mail");

	/* English: a company replying through the same company */
	check_message(phish,
		"From: sales@acme.example\nReply-To: orders@acme.example\nTo: bob@example.com\n"
		"Subject: order\n\nThanks, https://www.acme.example/orders\n", NULL, &res);
	TAP_OK(res.count == 0, "en ham: nothing fires");
}

static void check_partner(const struct om_phish *phish, const char *raw,
			  struct om_rules_result *res)
{
	static const char *const partners[] = { "keiri@minato-kogyo.co.jp",
						"orders@acme-widgets.example" };
	char *error = NULL;
	struct om_mime_msg *msg = om_mime_parse(raw, strlen(raw), &error);

	memset(res, 0, sizeof(*res));
	free(error);
	if (msg == NULL)
		return;
	om_phish_check(phish, msg, "sato@example.co.jp", partners, 2, res, NULL);
	om_mime_free(&msg);
}

/* Lookalikes of the domains the recipient writes to (BEC copying a
   thread): fired for a near miss, never for the partner itself. */
static void test_partners(const struct om_phish *phish)
{
	struct om_rules_result res;

	check_partner(phish,
		"From: 経理部 <keiri@minato-kougyo.co.jp>\nTo: sato@example.co.jp\n"
		"Subject: =?UTF-8?B?5oyv6L6857Wm5YWI5aSJ5pu0?=\nMIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=UTF-8\n\n"
		"いつもお世話になっております。今月より振込先口座を変更いたしました。\n", &res);
	TAP_OK(fired(&res, "PHISH_LOOKALIKE_PARTNER"),
	       "ja BEC: minato-kougyo.co.jp looks like the partner minato-kogyo.co.jp");
	check_partner(phish,
		"From: 経理部 <keiri@minato-kogyo.co.jp>\nTo: sato@example.co.jp\n"
		"Subject: invoice\n\n請求書を送付します。\n", &res);
	TAP_OK(!fired(&res, "PHISH_LOOKALIKE_PARTNER"), "ja: the partner itself");
	check_partner(phish,
		"From: Orders <orders@acme-widgets.example>\n"
		"Reply-To: orders@acme-vvidgets.example\nTo: sato@example.co.jp\n"
		"Subject: new bank details\n\nPlease update our bank details.\n", &res);
	TAP_OK(!fired(&res, "PHISH_LOOKALIKE_PARTNER"),
	       "en: From is the partner itself (its Reply-To is another rule's business)");
	check_partner(phish,
		"From: Orders <orders@acme-vvidgets.example>\nTo: sato@example.co.jp\n"
		"Subject: new bank details\n\nPlease update our bank details.\n", &res);
	TAP_OK(fired(&res, "PHISH_LOOKALIKE_PARTNER"), "en: vv for w in a partner's domain");
	check_partner(phish,
		"From: News <news@unrelated-shop.example>\nTo: sato@example.co.jp\n"
		"Subject: sale\n\nSale today.\n", &res);
	TAP_OK(!fired(&res, "PHISH_LOOKALIKE_PARTNER"), "en: a stranger's domain");
}

static void test_reasons(void)
{
	static const struct { const char *rule, *en; } lookalikes[] = {
		{ "PHISH_LOOKALIKE", "It uses a domain made to look like your own" },
		{ "PHISH_LOOKALIKE_PARTNER",
		  "It comes from a domain made to look like one you correspond with" },
		{ "PHISH_LOOKALIKE_KNOWN",
		  "It comes from a domain made to look like one genuine mail came from" },
		{ "PHISH_BEC_SHAPE", "It comes from a lookalike domain and wants replies "
		  "on free mail (the shape of business email fraud)" },
	};
	struct om_spam_report report;
	const char *reason;
	char *ja, *en;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(lookalikes); i++) {
		reason = om_spam_reason_of(lookalikes[i].rule, "en");
		TAP_OK(reason != NULL && strcmp(reason, lookalikes[i].en) == 0,
		       "%s has its own reason (not a shorter name's): %s", lookalikes[i].rule,
		       reason != NULL ? reason : "-");
	}
	reason = om_spam_reason_of("PHISH_LOOKALIKE_KNOWN", "ja");
	TAP_OK(reason != NULL && strstr(reason, "正規のメールが届いたドメイン") != NULL,
	       "PHISH_LOOKALIKE_KNOWN in Japanese: %s", reason != NULL ? reason : "-");

	memset(&report, 0, sizeof(report));
	om_rules_add(&report.rules, "BAYES_99", 9.3);
	om_rules_add(&report.rules, "BAYES_HEAD_50", 1.3);
	om_rules_add(&report.rules, "PHISH_LINK_TEXT", 2.5);
	om_rules_add(&report.rules, "PHISH_FROM_UNRELATED", 0.5);
	om_rules_add(&report.rules, "MISSING_DATE", 1.0);
	memcpy(report.top_tokens[0], "当選", sizeof("当選"));
	memcpy(report.top_tokens[1], "free", 5);
	ja = om_spam_reasons(&report, NULL, "ja");
	en = om_spam_reasons(&report, NULL, "en");
	TAP_OK(ja != NULL && strcmp(ja, "多くの利用者が迷惑メールと判定したメールに似ています; "
				    "迷惑メールによく使われる言葉があります: 「当選」「free」; "
				    "リンクの表示と、実際のリンク先のサイトが違います") == 0,
	       "ja: the classifier first (its three readings as one), its words, then the link: %s",
	       ja ? ja : "-");
	TAP_OK(en != NULL && strcmp(en, "Many recipients marked similar mail as spam; "
				    "It uses words common in spam: \"当選\", \"free\"; "
				    "The link text shows one site but leads to another") == 0,
	       "en: %s", en ? en : "-");
	free(ja);
	free(en);
	memset(&report, 0, sizeof(report));
	om_rules_add(&report.rules, "PHISH_FROM_UNRELATED", 0.5);
	om_rules_add(&report.rules, "BAYES_00", -5.3);
	ja = om_spam_reasons(&report, "block:mailbox", "ja");
	TAP_OK(ja != NULL && strcmp(ja, "差出人が受信拒否リストに登録されています; "
				    "差出人のドメインが、リンク先のドメインと一致しません") == 0,
	       "a block list first; a rule that took points off is no reason: %s", ja ? ja : "-");
	free(ja);
	memset(&report, 0, sizeof(report));
	TAP_OK(om_spam_reasons(&report, "allow:mailbox", "en") == NULL, "nothing fired: no reason");
	TAP_OK(strcmp(om_spam_reason_of("URL_BLOCKLISTED", "en"),
		      "It links to a site on a block list") == 0, "one rule's reason");
	TAP_OK(strcmp(om_spam_reason_of("PHISH_DOMAIN_IN_HOST", "ja"),
		      "別の会社のドメイン名を自分のドメインの前に付けて、その会社を装っています") == 0,
	       "ja: the domain worn as a sub-domain");
	TAP_OK(strcmp(om_spam_reason_of("PHISH_BRAND_NAME", "ja"),
		      "差出人名は有名な会社やサービスを名乗っていますが、"
		      "その会社のドメインから送られていません") == 0,
	       "ja: a brand's name from another domain");
	TAP_OK(strcmp(om_spam_reason_of("PHISH_BRAND_NAME", "en"),
		      "The sender's name is a well-known company's, but the mail does not "
		      "come from that company's domain") == 0,
	       "en: a brand's name from another domain");
	TAP_OK(strcmp(om_spam_reason_of("PHISH_DOMAIN_IN_HOST", "en"),
		      "It puts another company's domain name in front of its own to pass for it") == 0,
	       "en: the domain worn as a sub-domain");
}

int main(void)
{
	const char *list;
	struct om_phish *phish;
	char *error = NULL;

	om_mime_global_init();
	test_lookalike();
	test_text_host();
	list = freemail_file();
	phish = list != NULL ? om_phish_new(list, &error) : NULL;
	TAP_OK(phish != NULL, "the Public Suffix List and the free-mail list load: %s",
	       error != NULL ? error : "ok");
	free(error);
	if (phish != NULL) {
		test_mismatch(phish);
		test_freemail(phish);
		test_domain_in_host(phish);
		test_messages(phish);
		test_partners(phish);
		test_brand_messages(phish);
		test_sites(phish);
	}
	om_phish_free(&phish);
	if (list != NULL)
		(void)unlink(list);
	TAP_OK(om_phish_new("/nonexistent/freemail", &error) == NULL && error != NULL,
	       "a missing list is an error the caller sees");
	free(error);
	test_reasons();
	return tap_done();
}
