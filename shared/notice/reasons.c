/* reasons.c - the sentence a user reads for each rule (reasons.h).
 *
 * A reason is a sentence, not a rule name: the user deciding whether to
 * trust a quarantined mail should not need to know what DMARC or
 * PHISH_LOOKALIKE is.  Matched by prefix in order, so a longer name
 * stands before the shorter one it starts with.
 */
#include "notice/reasons.h"
#include "lib/util.h"

#include <string.h>

static const struct om_rule_reason om_rule_reasons[] = {
	{ "GTUBE", "迷惑メール対策の試験用の文字列 (GTUBE) が含まれています",
	  "It carries the spam filter test string (GTUBE)" },
	{ "URL_BLOCKLISTED", "危険と登録されたサイトへのリンクがあります",
	  "It links to a site on a block list" },
	{ "PHISH_LINK_TEXT", "リンクの表示と、実際のリンク先のサイトが違います",
	  "The link text shows one site but leads to another" },
	/* a longer name before the shorter one it starts with (prefixes) */
	{ "PHISH_LOOKALIKE_PARTNER", "やり取りのある相手のドメインによく似せた、別のドメインから届いています",
	  "It comes from a domain made to look like one you correspond with" },
	{ "PHISH_LOOKALIKE_KNOWN", "これまでに正規のメールが届いたドメインによく似せた、別のドメインから届いています",
	  "It comes from a domain made to look like one genuine mail came from" },
	{ "PHISH_LOOKALIKE", "お使いのドメインによく似せた、別のドメインが使われています",
	  "It uses a domain made to look like your own" },
	{ "PHISH_BEC_SHAPE", "よく似せたドメインから届き、返信先はフリーメールです (取引先を装う詐欺の手口)",
	  "It comes from a lookalike domain and wants replies on free mail (the shape of business email fraud)" },
	{ "PHISH_FREEMAIL_REPLYTO", "返信先が差出人の会社ではなく、フリーメールのアドレスです",
	  "Replies would go to a free-mail address, not to the sender's company" },
	{ "PHISH_DOMAIN_IN_HOST", "別の会社のドメイン名を自分のドメインの前に付けて、その会社を装っています",
	  "It puts another company's domain name in front of its own to pass for it" },
	{ "PHISH_BRAND_WORN", "有名な会社のドメイン名を、別のドメインの前に付けて名乗っています",
	  "It wears a well-known company's domain name in front of another domain" },
	{ "PHISH_BRAND_NAME", "差出人名は有名な会社やサービスを名乗っていますが、その会社のドメインから送られていません",
	  "The sender's name is a well-known company's, but the mail does not come from that company's domain" },
	{ "PHISH_FROM_UNRELATED", "差出人のドメインが、リンク先のドメインと一致しません",
	  "The sender's domain matches none of the sites it links to" },
	{ "AUTH_DMARC_FAIL", "差出人のドメインが定めるなりすまし対策の確認に失敗しました (DMARC)",
	  "It failed its sender domain's anti-spoofing check (DMARC)" },
	{ "AUTH_SPF_FAIL", "差出人のドメインが認めていないサーバーから送られています (SPF)",
	  "It came from a server its sender's domain does not allow (SPF)" },
	{ "AUTH_SPF_SOFTFAIL", "差出人のドメインが送信元サーバーを保証していません (SPF)",
	  "Its sender's domain does not vouch for the server (SPF)" },
	{ "AUTH_DKIM_FAIL", "電子署名の検証に失敗しました (DKIM)",
	  "Its signature does not verify (DKIM)" },
	{ "MISSING_", "通常のメールにある項目 (日付・差出人など) が欠けています",
	  "It lacks parts every normal mail has (date, sender...)" },
	{ "INVALID_DATE", "日付の形式が正しくありません", "Its date is malformed" },
	{ "RAW_8BIT_HEADER", "件名や差出人が正しく符号化されていません",
	  "Its subject or sender is not properly encoded" },
	{ "HTML_ONLY", "本文が HTML だけで作られています", "Its body is HTML only" },
};

const struct om_rule_reason *om_rule_reason_find_in(const struct om_rule_reason *table,
						    size_t count, const char *rule)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strncmp(rule, table[i].prefix, strlen(table[i].prefix)) == 0)
			return &table[i];
	}
	return NULL;
}

const struct om_rule_reason *om_rule_reason_find(const char *rule)
{
	return om_rule_reason_find_in(om_rule_reasons, OM_N_ELEMENTS(om_rule_reasons), rule);
}

const char *om_rule_reason_text(const struct om_rule_reason *r, const char *lang)
{
	return lang != NULL && strcmp(lang, "ja") == 0 ? r->ja : r->en;
}
