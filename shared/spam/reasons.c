/* reasons.c - the reasons a spam verdict gives its recipient (reasons.h).
 *
 * A reason is a sentence, not a rule name: the user deciding whether to
 * trust a quarantined mail should not need to know what DMARC or BAYES_99
 * is.  The rules are ranked by the points they added; the classifier's
 * three readings count as one reason ("many recipients marked similar
 * mail as spam": it learned from what users moved into Junk), followed,
 * when its words are telling, by a reason quoting the strongest of them.
 */
#include "spam/reasons.h"
#include "notice/reasons.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

/* The classifier's three readings: what it learned from what users
   moved into Junk; every other rule's sentence is notice/reasons.c's. */
static const struct om_rule_reason om_spam_reason_bayes = {
	"BAYES", "多くの利用者が迷惑メールと判定したメールに似ています",
	"Many recipients marked similar mail as spam"
};

static int om_spam_reason_ja(const char *lang)
{
	return lang != NULL && strcmp(lang, "ja") == 0;
}

static const struct om_rule_reason *om_spam_reason_find(const char *rule)
{
	const struct om_rule_reason *r = om_rule_reason_find_in(&om_spam_reason_bayes, 1, rule);

	return r != NULL ? r : om_rule_reason_find(rule);
}

const char *om_spam_reason_of(const char *rule, const char *lang)
{
	const struct om_rule_reason *r = om_spam_reason_find(rule);

	return r == NULL ? NULL : om_rule_reason_text(r, lang);
}

/* The reasons being gathered. */
struct om_spam_reasons {
	const struct om_rule_reason *used[OM_SPAM_REASONS_MAX];
	struct om_buf text;
	size_t count;
};

static void om_spam_reasons_add(struct om_spam_reasons *rs,
				const struct om_rule_reason *r, const char *line)
{
	size_t i;

	if (rs->count >= OM_SPAM_REASONS_MAX)
		return;
	for (i = 0; r != NULL && i < rs->count; i++) {
		if (rs->used[i] == r)
			return;
	}
	if (rs->count > 0)
		om_buf_append_str(&rs->text, OM_SPAM_REASONS_SEP);
	om_buf_append_str(&rs->text, line);
	rs->used[rs->count++] = r;
}

/* The classifier's words, quoted: 「当選」「無料」 or "winner", "free". */
static void om_spam_reasons_words(struct om_spam_reasons *rs,
				  const struct om_spam_report *report, int ja)
{
	struct om_buf line;
	size_t i;

	if (report->top_tokens[0][0] == '\0')
		return;
	om_buf_init(&line);
	om_buf_append_str(&line, ja ? "迷惑メールによく使われる言葉があります: " :
			  "It uses words common in spam: ");
	for (i = 0; i < OM_SPAM_TOP_TOKENS && report->top_tokens[i][0] != '\0'; i++) {
		if (ja)
			om_buf_printf(&line, "「%s」", report->top_tokens[i]);
		else
			om_buf_printf(&line, "%s\"%s\"", i > 0 ? ", " : "",
				      report->top_tokens[i]);
	}
	om_spam_reasons_add(rs, NULL, line.data);
	om_buf_free(&line);
}

/* A hit's reason in the language: its own (a rule of the administrator's
   file) or the table's; NULL for none. */
static const char *om_spam_hit_reason(const struct om_rule_hit *hit, int ja)
{
	const struct om_rule_reason *r;

	if (hit->reason_ja != NULL && hit->reason_en != NULL)
		return ja ? hit->reason_ja : hit->reason_en;
	r = om_spam_reason_find(hit->name);
	return r == NULL ? NULL : ja ? r->ja : r->en;
}

/* Index of the strongest rule not yet taken that has a reason (the
   classifier's readings as one, by their sum), or -1. */
static int om_spam_reasons_next(const struct om_rules_result *rules,
				const int *taken, double bayes)
{
	double best = 0.0, points;
	int found = -1;
	size_t i;

	for (i = 0; i < rules->count; i++) {
		if (taken[i] || om_spam_hit_reason(&rules->hits[i], 0) == NULL)
			continue;
		points = strncmp(rules->hits[i].name, "BAYES", 5) == 0 ?
			bayes : rules->hits[i].points;
		if (points > best) {
			best = points;
			found = (int)i;
		}
	}
	return found;
}

char *om_spam_reasons(const struct om_spam_report *report, const char *listed,
		      const char *lang)
{
	const struct om_rules_result *rules = &report->rules;
	struct om_spam_reasons rs;
	int taken[OM_RULES_MAX] = { 0 }, ja = om_spam_reason_ja(lang), next;
	const struct om_rule_reason *r;
	double bayes = 0.0;
	size_t i;

	memset(&rs, 0, sizeof(rs));
	om_buf_init(&rs.text);
	if (listed != NULL && strncmp(listed, "block:", 6) == 0)
		om_spam_reasons_add(&rs, NULL, ja ? "差出人が受信拒否リストに登録されています" :
				    "Its sender is on a block list");
	for (i = 0; i < rules->count; i++) {
		if (strncmp(rules->hits[i].name, "BAYES", 5) == 0)
			bayes += rules->hits[i].points;
	}
	while ((next = om_spam_reasons_next(rules, taken, bayes)) >= 0) {
		taken[next] = 1;
		r = om_spam_reason_find(rules->hits[next].name);
		om_spam_reasons_add(&rs, r, om_spam_hit_reason(&rules->hits[next], ja));
		if (strncmp(rules->hits[next].name, "BAYES", 5) != 0)
			continue;
		for (i = 0; i < rules->count; i++) {
			if (strncmp(rules->hits[i].name, "BAYES", 5) == 0)
				taken[i] = 1;	/* the readings are one reason */
		}
		om_spam_reasons_words(&rs, report, ja);
	}
	if (rs.count == 0) {
		om_buf_free(&rs.text);
		return NULL;
	}
	return om_buf_steal(&rs.text, NULL);
}
