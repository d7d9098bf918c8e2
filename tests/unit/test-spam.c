/* test-spam.c - unit tests of tokenize.c, links.c and spam.c: Japanese in
 * every charset it arrives in, broken charsets that must still yield
 * tokens, every link of a message however many tokens it has, the GTUBE
 * test string in every readable form, and learning, scoring and
 * unlearning on a real store. */
#include "tap.h"
#include "mail/mime.h"
#include "spam/links.h"
#include "spam/phish.h"
#include "spam/reasons.h"
#include "spam/rules.h"
#include "spam/spam.h"
#include "spam/spamtable.h"
#include "store/store.h"
#include "spam/tokenize.h"
#include "lib/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct collected {
	struct om_buf all;	/* tokens joined by '|' */
	int count;
};

static void collect(void *context, const char *token)
{
	struct collected *c = context;

	om_buf_printf(&c->all, "|%s", token);
	c->count++;
}

static int has_token(const char *msg, size_t len, const char *token)
{
	struct collected c = { { NULL, 0, 0 }, 0 };
	char *needle = om_asprintf("|%s", token);
	int found;

	om_tokenize_message(msg, len, collect, &c);
	om_buf_append(&c.all, "|", 1);
	found = strstr(c.all.data, needle) != NULL &&
		(strstr(c.all.data, needle)[strlen(needle)] == '|');
	free(needle);
	om_buf_free(&c.all);
	return found;
}

/* "無料でお金" (free money) in UTF-8 */
#define JA_UTF8 "\xe7\x84\xa1\xe6\x96\x99\xe3\x81\xa7\xe3\x81\x8a\xe9\x87\x91"

static void test_charsets(void)
{
	static const char iso[] =
		"Subject: x\nContent-Type: text/plain; charset=ISO-2022-JP\n\n"
		"\x1b$BL5NA$G$*6b\x1b(B\n";
	static const char sjis[] =
		"Subject: x\nContent-Type: text/plain; charset=Shift_JIS\n\n"
		"\x96\xb3\x97\xbf\x82\xc5\x82\xa8\x8b\xe0\n";
	static const char eucjp[] =
		"Subject: x\nContent-Type: text/plain; charset=EUC-JP\n\n"
		"\xcc\xb5\xce\xc1\xa4\xc7\xa4\xaa\xb6\xe2\n";
	static const char utf8[] =
		"Subject: x\nContent-Type: text/plain; charset=UTF-8\n\n" JA_UTF8 "\n";
	/* bigram 無料 */
	const char *bigram = "\xe7\x84\xa1\xe6\x96\x99";

	TAP_OK(has_token(iso, strlen(iso), bigram), "ISO-2022-JP body gives the bigram");
	TAP_OK(has_token(sjis, strlen(sjis), bigram), "Shift_JIS body gives the bigram");
	TAP_OK(has_token(eucjp, strlen(eucjp), bigram), "EUC-JP body gives the bigram");
	TAP_OK(has_token(utf8, strlen(utf8), bigram), "UTF-8 body gives the bigram");
	TAP_OK(has_token(sjis, strlen(sjis), OM_TOKEN_CJK_MESSAGE) &&
	       !has_token("Subject: x\n\nplain words\n", 24, OM_TOKEN_CJK_MESSAGE),
	       "mail with CJK text, and only that, counts as such");
}

static void test_broken(void)
{
	static const char mislabelled[] =	/* Shift_JIS bytes labelled UTF-8 */
		"Subject: buy cheap\nContent-Type: text/plain; charset=UTF-8\n\n"
		"\x96\xb3\x97\xbf viagra offer\n";
	static const char unknown[] =
		"Subject: x\nContent-Type: text/plain; charset=x-no-such-charset\n\nhello winner\n";
	static const char truncated[] =
		"Subject: x\nContent-Type: text/plain; charset=ISO-2022-JP\n\n\x1b$BL5NA\x1b$ money\n";

	TAP_OK(has_token(mislabelled, strlen(mislabelled), "viagra") &&
	       has_token(mislabelled, strlen(mislabelled), "subj:cheap"),
	       "mislabelled Shift_JIS: no crash, the Latin words remain");
	TAP_OK(has_token(unknown, strlen(unknown), "winner"), "unknown charset still tokenized");
	TAP_OK(has_token(truncated, strlen(truncated), "money"),
	       "truncated ISO-2022-JP escape: no crash, tokens remain");
}

static void test_kinds(void)
{
	static const char html[] =
		"From: Promo <promo@deals.example>\nSubject: =?UTF-8?B?54Sh5paZ?= Offer\n"
		"Content-Type: text/html\n\n<html><body><p>Click <a href=\"http://Win.Example.COM/x\">here</a>"
		"</p><script>var hidden=1;</script></body></html>\n";

	TAP_OK(has_token(html, strlen(html), "url:win.example.com"), "URL host from an HTML link");
	TAP_OK(has_token(html, strlen(html), "click"), "HTML text words");
	TAP_OK(!has_token(html, strlen(html), "hidden"), "script contents ignored");
	TAP_OK(has_token(html, strlen(html), "subj:offer") &&
	       has_token(html, strlen(html), "subj:\xe7\x84\xa1\xe6\x96\x99"),
	       "RFC 2047 subject decoded, Latin word and Japanese bigram");
	TAP_OK(has_token(html, strlen(html), "from:promo@deals.example"), "sender address token");
	TAP_OK(has_token("Subject: x\n\n\xef\xbc\xb6\xef\xbc\xa9\xef\xbc\xb0 deal\n", 28, "vip"),
	       "full-width ASCII folded to ASCII");
}

static void test_token_places(void)
{
	/* "無料" as a bigram: body */
	static const char bigram[] = "\xe7\x84\xa1\xe6\x96\x99";
	/* the delimiter lines do not match the boundary parameter: GMime
	   finds no parts, the text is all in the prologue */
	static const char broken[] = "Subject: hi\nMIME-Version: 1.0\n"
		"Content-Type: multipart/alternative; boundary=\"=Multipart Boundary 07\"\n\n"
		"--= Multipart Boundary 07\nContent-Type: text/plain\n\n"
		"professional website development http://cheap-sites.example/\n"
		"--= Multipart Boundary 07--\n";

	TAP_OK(om_token_is_header("received:from") && om_token_is_header("subj:cheap") &&
	       om_token_is_header("hdr:x-mailer:yes") && om_token_is_header("list-id:fork"),
	       "header tokens are known by their header prefix");
	TAP_OK(!om_token_is_header("viagra") && !om_token_is_header("url:example.com") &&
	       !om_token_is_header("html:link") && !om_token_is_header("part:attachment") &&
	       !om_token_is_header(bigram) && !om_token_is_header("o'reilly"),
	       "words, bigrams, links and part tokens are body tokens");
	TAP_OK(has_token(broken, strlen(broken), "website") &&
	       has_token(broken, strlen(broken), "url:cheap-sites.example"),
	       "text of a multipart whose boundaries are broken is still tokenized");
	{
		/* field names RFC 5322 allows whose words would be the
		   classifier's own keys: a sender cannot write them */
		static const char forged[] = "Subject: hi\nSite@: rnicrosoft.com\n"
			"Lesson@: 00112233445566778899aabbccddeeff\nList-Id: fork\n\nhello\n";

		TAP_OK(!has_token(forged, strlen(forged), "site@:rnicrosoft.com") &&
		       !has_token(forged, strlen(forged),
				  "lesson@:00112233445566778899aabbccddeeff") &&
		       has_token(forged, strlen(forged), "list-id:fork"),
		       "a header named Site@ or Lesson@ makes no key of the classifier's");
	}
}

/* Word pairs in the body, Received networks, link domains and the form
   tokens (Date against arrival, Message-ID shape and host, recipients). */
static void test_more_tokens(void)
{
	static const char msg[] =
		"Received: from mx.example.net (mx.example.net [192.0.2.77])\n"
		"\tby mail.example.jp (Postfix 3.7.11.2.9) with ESMTP id 4F1;\n"
		"\tTue, 24 Nov 2026 10:00:00 +0900\n"
		"Date: Mon, 5 Oct 2026 08:00:00 +0900\n"
		"Message-ID: <20261005.1234@relay.Example.NET>\n"
		"From: a@example.net\nTo: b@example.jp, c@example.jp\n"
		"Subject: lowest mortgage rates\n"
		"Content-Type: text/html\n\n"
		"<p>Cheap meds, at <a href=\"http://www.win.example.com/x\">our shop</a></p>\n";
	size_t n = strlen(msg);

	TAP_OK(has_token(msg, n, "cheap meds") && has_token(msg, n, "our shop") &&
	       !has_token(msg, n, "subj:lowest mortgage"),
	       "word pairs from the body, not from headers");
	TAP_OK(has_token(msg, n, "ip:192") && has_token(msg, n, "ip:192.0") &&
	       has_token(msg, n, "ip:192.0.2") && !has_token(msg, n, "ip:3") &&
	       !has_token(msg, n, "ip:7"),
	       "Received networks from addresses, not from version numbers");
	TAP_OK(has_token(msg, n, "url:www.win.example.com") &&
	       has_token(msg, n, "url:win.example.com") &&
	       has_token(msg, n, "url:example.com") && !has_token(msg, n, "url:com"),
	       "a link gives its host and its parent domains");
	TAP_OK(has_token(msg, n, "meta:date:past-month") &&
	       has_token(msg, n, "meta:msgid-host:relay.example.net") &&
	       has_token(msg, n, "meta:msgid-shape:<d.d@a.Aa.A>") &&
	       has_token(msg, n, "meta:rcpts:2-3"),
	       "Date seven weeks before arrival, Message-ID host and shape, two recipients");
	TAP_OK(has_token("Subject: x\n\nhi\n", 14, "meta:date:unknown") &&
	       has_token("Subject: x\n\nhi\n", 14, "meta:msgid-shape:none"),
	       "no Date and no Message-ID have tokens of their own");
}

/* ---- links.c ---- */

struct host_case {
	const char *label, *text, *want;	/* want: hosts joined by '|' */
};

static const struct host_case host_cases[] = {
	{ "plain link", "see http://Win.Example.COM/x now", "win.example.com" },
	{ "https, query, fragment", "https://a.example?x=1 and https://b.example#top",
	  "a.example|b.example" },
	{ "user information is not the host",
	  "http://bank.example@evil.example/login", "evil.example" },
	{ "user and password, port", "http://u:p@evil.example:8080/", "evil.example" },
	{ "port alone", "http://evil.example:80/", "evil.example" },
	{ "trailing dot", "http://evil.example./", "evil.example" },
	{ "escaped host", "http://ev%69l%2Eexample/", "evil.example" },
	{ "backslash ends the host", "http://evil.example\\path", "evil.example" },
	{ "not http", "ftp://files.example/ and mailto:x@y.example", "" },
	{ "scheme in a word", "xhttp://other.example/", "other.example" },
	{ "empty host", "http:///path http://:80/", "" },
	{ "repeats reported in order", "http://a.example http://b.example http://a.example",
	  "a.example|b.example|a.example" },
	/* the url layer's normal form (url/url.h) */
	{ "IDN host as punycode", "http://\xe4\xbe\x8b\xe3\x81\x88.JP/x", "xn--r8jz45g.jp" },
	{ "escaped IDN host as punycode", "http://%E4%BE%8B%E3%81%88.jp/", "xn--r8jz45g.jp" },
	{ "hex IPv4 as a dotted quad", "http://0xC0000201/ http://0300.0.2.1:8080/",
	  "192.0.2.1|192.0.2.1" },
	{ "IPv6 in brackets, port after it", "http://[2001:DB8::0:1]:8080/", "[2001:db8::1]" },
	{ "a host IDNA refuses is read as written", "http://\xff\xfe.example/", "\xff\xfe.example" },
	{ "an IPv4 address out of range as written", "http://1.2.3.999/", "1.2.3.999" },
};

static int join_host(void *context, const char *host)
{
	struct om_buf *b = context;

	om_buf_printf(b, "%s%s", b->len > 0 ? "|" : "", host);
	return 0;
}

static int find_evil(void *context, const char *host)
{
	int *calls = context;

	(*calls)++;
	return strcmp(host, "evil.example") == 0 ? 7 : 0;
}

static void test_link_hosts(void)
{
	struct om_buf b;
	char *longest, *too_long;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(host_cases); i++) {
		om_buf_init(&b);
		(void)om_links_in_text(host_cases[i].text, join_host, &b);
		TAP_OK(strcmp(b.data != NULL ? b.data : "", host_cases[i].want) == 0,
		       "link host: %s (%s)", host_cases[i].label, b.data != NULL ? b.data : "");
		om_buf_free(&b);
	}
	longest = om_malloc(OM_LINKS_HOST_MAX + 32);
	memcpy(longest, "http://", 7);
	memset(longest + 7, 'a', OM_LINKS_HOST_MAX - 8);
	memcpy(longest + 7 + OM_LINKS_HOST_MAX - 8, ".example/", 10);
	too_long = om_asprintf("http://a%s", longest + 7);
	om_buf_init(&b);
	(void)om_links_in_text(longest, join_host, &b);
	TAP_OK(b.len == OM_LINKS_HOST_MAX, "a host of %d bytes is read", OM_LINKS_HOST_MAX);
	om_buf_reset(&b);
	(void)om_links_in_text(too_long, join_host, &b);
	TAP_OK(b.len == 0, "a longer one is no host");
	om_buf_free(&b);
	free(longest);
	free(too_long);
}

struct part_hosts {
	struct om_mime_msg *msg;
	struct om_buf hosts;
};

static void part_hosts_cb(void *parent, void *part, void *data)
{
	struct part_hosts *ph = data;

	(void)parent;
	(void)om_links_in_part(ph->msg, part, join_host, &ph->hosts);
}

/* A message in which each kind of place holds a link. */
static void test_link_places(void)
{
	static const char msg[] =
		"From: a@example.net\nSubject: links\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"prologue http://prologue.example/\n"
		"--b\nContent-Type: text/plain\n\nplain http://plain.example/ http://plain.example/\n"
		"--b\nContent-Type: text/html\n\n<a href=\"http://HREF.example/\">x</a>"
		"<script>http://script.example/</script>\n"
		"--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
		"aHR0cDovL2Jhc2U2NC5leGFtcGxlLw==\n"
		"--b\nContent-Type: message/rfc822\n\nSubject: inner\n\nhttp://inner.example/\n"
		"--b--\nepilogue http://epilogue.example/\n";
	static const char with_nul[] = "not mime\0http://after-nul.example/";
	struct om_mime_msg *parsed;
	char *error = NULL;
	struct om_buf b;

	parsed = om_mime_parse(msg, strlen(msg), &error);
	free(error);
	om_buf_init(&b);
	TAP_OK(parsed != NULL && om_links_each(parsed, msg, strlen(msg), join_host, &b) == 0,
	       "links pass over a parsed message");
	TAP_OK(b.data != NULL && strstr(b.data, "prologue.example") != NULL &&
	       strstr(b.data, "plain.example") != NULL && strstr(b.data, "href.example") != NULL &&
	       strstr(b.data, "base64.example") != NULL && strstr(b.data, "inner.example") != NULL &&
	       strstr(b.data, "epilogue.example") != NULL && strstr(b.data, "script.example") == NULL,
	       "every place of a link, decoded; no script (%s)", b.data != NULL ? b.data : "");
	TAP_OK(b.data != NULL && strstr(strstr(b.data, "plain.example") + 1,
					"plain.example") == NULL, "each host once");
	{
		/* a second pass replays what the first found (links.c keeps
		   each part's hosts with the part): the same hosts, in order */
		struct om_buf again;
		struct part_hosts ph;

		om_buf_init(&again);
		(void)om_links_each(parsed, msg, strlen(msg), join_host, &again);
		TAP_OK(again.data != NULL && b.data != NULL && strcmp(again.data, b.data) == 0,
		       "a second pass over the message finds the same (%s)",
		       again.data != NULL ? again.data : "");
		om_buf_free(&again);
		memset(&ph, 0, sizeof(ph));
		ph.msg = parsed;
		om_buf_init(&ph.hosts);
		om_mime_foreach_part(parsed, part_hosts_cb, &ph);
		om_mime_foreach_part(parsed, part_hosts_cb, &ph);
		TAP_OK(ph.hosts.data != NULL &&
		       strcmp(ph.hosts.data, "plain.example|plain.example|href.example|"
			      "base64.example|plain.example|plain.example|href.example|"
			      "base64.example") == 0,
		       "each text part's links, repeats included, twice alike (%s)",
		       ph.hosts.data != NULL ? ph.hosts.data : "");
		om_buf_free(&ph.hosts);
	}
	om_mime_free(&parsed);
	om_buf_free(&b);
	om_buf_init(&b);
	(void)om_links_each(NULL, with_nul, sizeof(with_nul) - 1, join_host, &b);
	TAP_OK(b.data != NULL && strcmp(b.data, "after-nul.example") == 0,
	       "unparsed data: read as text past a NUL byte");
	om_buf_free(&b);
}

/* More links than the classifier reads tokens: the last one, blocked,
   still counts, and the pass stops at it. */
static void test_links_past_the_token_cap(void)
{
	struct om_spam_db *db = om_spam_db_new();
	int calls = 0;
	struct om_spam_check_settings set = { NULL, find_evil, &calls, 1, NULL, NULL, NULL, 0 };
	struct om_spam_report report;
	struct om_buf msg;
	int i;

	om_buf_init(&msg);
	om_buf_append_str(&msg, "From: a@example.net\nSubject: many links\n\n");
	for (i = 0; i < 25000; i++)
		om_buf_printf(&msg, "http://h%d.example/\n", i);
	om_buf_append_str(&msg, "http://www.evil.example/ http://evil.example/\n");
	TAP_OK(!has_token(msg.data, msg.len, "url:evil.example"),
	       "the classifier's tokens stop before the last link");
	om_spam_check(db, msg.data, msg.len, &set, &report);
	TAP_OK(report.rules.count > 0 &&
	       strcmp(report.rules.hits[report.rules.count - 1].name, "URL_BLOCKLISTED") == 0 &&
	       report.score >= 10.0, "the blocked last link still scores URL_BLOCKLISTED");
	TAP_OK(calls == 25002, "each host asked once, up to the blocked one (%d)", calls);
	om_buf_free(&msg);
	om_spam_db_free(&db);
}

/* The in-memory token table: counts under hashed keys, growth, bounds. */
static void test_token_table(void)
{
	struct om_spam_table *table = om_spam_table_new(0), *other = om_spam_table_new(0);
	const struct om_spam_counts *c;
	char token[32];
	uint64_t key = om_spam_table_key(table, "viagra");
	int i, all_found = 1;

	TAP_OK(om_spam_table_get(table, key) == NULL, "an unknown token has no counts");
	om_spam_table_add(table, key, 2, 1);
	om_spam_table_add(table, om_spam_table_key(table, "viagra"), 1, -5);
	c = om_spam_table_get(table, key);
	TAP_OK(c != NULL && c->spam == 3 && c->ham == 0,
	       "the same token gets the same key; counts add and stop at zero");
	/* 200 000: past the size mapped on its own (OM_SPAM_HUGE_BYTES, 2 MB
	   of 16-byte slots), and grown again there */
	for (i = 0; i < 200000; i++) {
		snprintf(token, sizeof(token), "token%d", i);
		om_spam_table_add(table, om_spam_table_key(table, token), i, 1);
	}
	for (i = 0; i < 200000; i++) {
		snprintf(token, sizeof(token), "token%d", i);
		c = om_spam_table_get(table, om_spam_table_key(table, token));
		if (c == NULL || c->spam != (uint32_t)i || c->ham != 1)
			all_found = 0;
	}
	TAP_OK(all_found && om_spam_table_count(table) == 200001,
	       "200 000 tokens kept through the table's growth");
	TAP_OK(om_spam_table_key(table, "viagra") != om_spam_table_key(other, "viagra"),
	       "each table has its own hash key");
	om_spam_table_free(&table);
	om_spam_table_free(&other);
	TAP_OK(table == NULL, "freed");
}

/* 1 if the report has the rule prefix + two digits ("BAYES_HEAD_" +
   "05") with points of the sign wanted (+1 or -1). */
static int has_rule(const struct om_spam_report *report, const char *prefix, int sign)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < report->rules.count; i++) {
		if (strncmp(report->rules.hits[i].name, prefix, n) == 0 &&
		    strlen(report->rules.hits[i].name) == n + 2 &&
		    report->rules.hits[i].points * sign > 0)
			return 1;
	}
	return 0;
}

/* The points of the report's BAYES rules, and how many there are. */
static double bayes_points(const struct om_spam_report *report, int *count_r)
{
	double points = 0.0;
	size_t i;

	*count_r = 0;
	for (i = 0; i < report->rules.count; i++) {
		if (strncmp(report->rules.hits[i].name, "BAYES", 5) == 0) {
			points += report->rules.hits[i].points;
			(*count_r)++;
		}
	}
	return points;
}

/* Spam posted through a mailing list: the list's headers are all ham's,
   the body is all spam's.  The body alone must still say spam. */
static void test_readings(void)
{
	static const char list_ham[] = "From: dev@example.org\nSubject: [dev] build fails\n"
		"List-Id: developers <dev.lists.example.org>\nX-Mailman-Version: 2.0\n"
		"Precedence: bulk\nSender: dev-admin@lists.example.org\n\n"
		"the build fails on the new compiler, patch attached, please review\n";
	static const char spam[] = "From: sales@offers.example\nSubject: lowest mortgage rates\n\n"
		"refinance today lowest mortgage rates guaranteed approval free quote\n";
	static const char list_spam[] = "From: sales@offers.example\nSubject: [dev] hello\n"
		"List-Id: developers <dev.lists.example.org>\nX-Mailman-Version: 2.0\n"
		"Precedence: bulk\nSender: dev-admin@lists.example.org\n\n"
		"refinance today lowest mortgage rates guaranteed approval free quote\n";
	static const char unknown[] = "Zzyzx: quux\n\nxylophone zeppelin quixotic\n";
	struct om_spam_db *db = om_spam_db_new();
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	struct om_spam_report report;
	int i, readings;

	for (i = 0; i < 20; i++) {
		om_spam_learn(db, list_ham, strlen(list_ham), 0, 0);
		om_spam_learn(db, spam, strlen(spam), 1, 0);
	}
	om_spam_check(db, list_spam, strlen(list_spam), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", 1) && has_rule(&report, "BAYES_HEAD_", -1),
	       "list spam: the body reading is spam, the header reading ham");
	om_spam_check(db, list_ham, strlen(list_ham), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", -1) && has_rule(&report, "BAYES_HEAD_", -1) &&
	       has_rule(&report, "BAYES_", -1) && report.score < 0,
	       "list ham: all three readings ham");
	om_spam_check(db, spam, strlen(spam), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", 1) && has_rule(&report, "BAYES_HEAD_", 1) &&
	       has_rule(&report, "BAYES_", 1) && report.score >= 5,
	       "plain spam: all three readings spam, score over the threshold");
	om_spam_check(db, unknown, strlen(unknown), &set, &report);
	TAP_OK(report.trained && bayes_points(&report, &readings) == 0.0 && readings == 3,
	       "nothing the classifier knows: three readings, no points either way");
	om_spam_db_free(&db);
}

/* The GTUBE string, put together here so that a test's own source is not
   what a spam filter would catch. */
static char *gtube(void)
{
	return om_asprintf("%s%s", "XJS*C4JDBQADN1.NSBN3*2IDNEN*",
			   "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X");
}

/* The report of an untrained classifier on the message before, text,
   after (text: the GTUBE string or something in its place). */
static void gtube_check(const char *before, const char *text, const char *after,
			struct om_spam_report *report)
{
	struct om_spam_db *db = om_spam_db_new();
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	char *msg = om_asprintf("%s%s%s", before, text, after);

	om_spam_check(db, msg, strlen(msg), &set, report);
	free(msg);
	om_spam_db_free(&db);
}

static int gtube_fired(const struct om_spam_report *report)
{
	size_t i;

	for (i = 0; i < report->rules.count; i++) {
		if (strcmp(report->rules.hits[i].name, "GTUBE") == 0)
			return 1;
	}
	return 0;
}

#define GTUBE_HEAD "From: a@b.example\nTo: c@d.example\nSubject: test\n" \
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <1@b.example>\n"

static void test_gtube(void)
{
	/* the GTUBE string in base64 */
	static const char b64[] = "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJE"
		"LUFOVEktVUJFLVRFU1QtRU1BSUwqQy4zNFg=";
	struct om_spam_report report;
	char *g = gtube(), *wrong, *ja, *en;

	gtube_check(GTUBE_HEAD "\nThis is the GTUBE:\n", g, "\n", &report);
	TAP_OK(gtube_fired(&report) && report.score >= OM_RULE_GTUBE_POINTS &&
	       report.score > 100.0, "plain text: GTUBE, score %.1f over any threshold",
	       report.score);
	ja = om_spam_reasons(&report, NULL, "ja");
	en = om_spam_reasons(&report, NULL, "en");
	TAP_OK(ja != NULL && strstr(ja, "GTUBE") != NULL && strstr(ja, "試験用") != NULL &&
	       en != NULL && strncmp(en, "It carries the spam filter test string (GTUBE)", 46) == 0,
	       "its reason in ja and en, first: %s / %s", ja != NULL ? ja : "-",
	       en != NULL ? en : "-");
	free(ja);
	free(en);
	wrong = om_strdup(g);
	wrong[10] = 'x';
	gtube_check(GTUBE_HEAD "\n", wrong, "\n", &report);
	TAP_OK(!gtube_fired(&report) && report.score < 5.0, "one character changed: nothing");
	free(wrong);
	gtube_check(GTUBE_HEAD "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
		    "Content-Transfer-Encoding: base64\n\n", b64, "\n", &report);
	TAP_OK(gtube_fired(&report), "base64 text part: decoded, GTUBE");
	gtube_check(GTUBE_HEAD "MIME-Version: 1.0\nContent-Type: multipart/alternative; "
		    "boundary=\"A\"\n\n--A\nContent-Type: text/plain\n\nhello\n--A\n"
		    "Content-Type: text/html\n\n<html><body><p>", g,
		    "</p></body></html>\n--A--\n", &report);
	TAP_OK(gtube_fired(&report), "HTML part of an alternative: GTUBE");
	gtube_check(GTUBE_HEAD "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"M\"\n\n"
		    "--M\nContent-Type: text/plain\n\nsee the file\n--M\n"
		    "Content-Type: text/plain; name=\"g.txt\"\n"
		    "Content-Disposition: attachment; filename=\"g.txt\"\n\n", g, "\n--M--\n",
		    &report);
	TAP_OK(!gtube_fired(&report), "only in an attachment: not the readable body, nothing");
	free(g);
}

/* A new store in a new temporary directory (dir: a mkdtemp template). */
static struct om_store *temp_store_open(char *dir)
{
	struct om_store *store = NULL;
	char *path, *error = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/o.db", dir);
	if (om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) < 0)
		abort();
	free(path);
	return store;
}

static void temp_store_close(struct om_store **store, const char *dir)
{
	om_store_close(store);
	tap_remove_tree(dir);
}

static void test_learning(void)
{
	char dir[] = "/tmp/om-test-spam-XXXXXX", *error = NULL;
	static const char spam[] = "Subject: cheap pills\n\nbuy cheap pills now, "
		"limited offer, click here for viagra\n";
	static const char ham[] = "Subject: meeting notes\n\nthe project meeting "
		"is moved to thursday, agenda attached\n";
	static const char new_spam[] = "Subject: pills offer\n\ncheap viagra pills, click\n";
	struct om_spam_db *db = om_spam_db_new(), *again = om_spam_db_new();
	struct om_store *store = temp_store_open(dir);
	long ns, nh;
	int i;

	TAP_OK(om_spam_score(db, new_spam, strlen(new_spam)) == 0.5, "untrained: 0.5");
	for (i = 0; i < 20; i++) {
		om_spam_learn(db, spam, strlen(spam), 1, 0);
		om_spam_learn(db, ham, strlen(ham), 0, 0);
	}
	TAP_OK(om_spam_score(db, new_spam, strlen(new_spam)) > 0.9, "similar spam scores high");
	TAP_OK(om_spam_score(db, ham, strlen(ham)) < 0.1, "ham scores low");
	TAP_OK(om_spam_db_save(db, store, &error) >= 0 && om_spam_db_load(again, store, &error) == 0,
	       "token counts saved and loaded");
	om_spam_db_counts(again, &ns, &nh);
	TAP_OK(ns == 20 && nh == 20 &&
	       om_spam_score(again, new_spam, strlen(new_spam)) > 0.9, "loaded counts score the same");
	for (i = 0; i < 20; i++)
		om_spam_learn(again, spam, strlen(spam), 1, 1);
	om_spam_db_counts(again, &ns, &nh);
	TAP_OK(ns == 0 && om_spam_score(again, new_spam, strlen(new_spam)) == 0.5,
	       "unlearning takes it back");
	/* two learners on one store: their changes add up */
	om_spam_learn(db, spam, strlen(spam), 1, 0);
	TAP_OK(om_spam_db_save(again, store, &error) == 0, "second learner saves its unlearning");
	TAP_OK(om_spam_db_save(db, store, &error) == 1,
	       "first learner saves, sees the other's save and reloads");
	om_spam_db_counts(db, &ns, &nh);
	TAP_OK(ns == 1 && nh == 20, "counts add up (20 - 20 + 1 spam, 20 ham)");
	TAP_OK(om_spam_db_sync(again, store, &error) == 1, "the other learner reloads on sync");
	om_spam_db_counts(again, &ns, &nh);
	TAP_OK(ns == 1 && nh == 20 && om_spam_db_sync(again, store, &error) == 0,
	       "and then has nothing to do");
	om_spam_db_free(&db);
	om_spam_db_free(&again);
	temp_store_close(&store, dir);
}

/* The points of the report's rule called name (0 when it did not fire). */
static double rule_points(const struct om_spam_report *report, const char *name_prefix)
{
	double points = 0.0;
	size_t i;

	for (i = 0; i < report->rules.count; i++) {
		if (strncmp(report->rules.hits[i].name, name_prefix, strlen(name_prefix)) == 0)
			points += report->rules.hits[i].points;
	}
	return points;
}

/* om_spam_learn_words (omamorictl prior): what a message says is learned,
   Subject included; who sent it to whom through which server is not. */
static void test_learning_words(void)
{
	static const char spam[] = "From: promo@pills.example\nTo: alice@example.jp\n"
		"Received: from mx.pills.example (mx.pills.example [203.0.113.9])\n"
		"\tby mx1.example.jp; Mon, 2 Dec 2024 10:00:00 +0900\n"
		"Subject: cheap pills\n\nbuy cheap pills now, limited offer, click here\n";
	static const char ham[] = "From: boss@work.example\nTo: alice@example.jp\n"
		"Subject: meeting notes\n\nthe project meeting is moved to thursday\n";
	/* the spam's sender and server, the ham's words */
	static const char probe[] = "From: promo@pills.example\nTo: alice@example.jp\n"
		"Received: from mx.pills.example (mx.pills.example [203.0.113.9])\n"
		"\tby mx1.example.jp; Mon, 2 Dec 2024 10:00:00 +0900\n"
		"Subject: hello\n\nthe project meeting is moved to thursday\n";
	static const char other_spam[] = "From: x@elsewhere.example\nSubject: pills\n\n"
		"cheap pills now, click here\n";
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	struct om_spam_db *words = om_spam_db_new(), *full = om_spam_db_new();
	struct om_spam_report report;
	long ns, nh;
	int i;

	for (i = 0; i < 20; i++) {
		om_spam_learn_words(words, spam, strlen(spam), 1, 0);
		om_spam_learn_words(words, ham, strlen(ham), 0, 0);
		om_spam_learn(full, spam, strlen(spam), 1, 0);
		om_spam_learn(full, ham, strlen(ham), 0, 0);
	}
	om_spam_db_counts(words, &ns, &nh);
	TAP_OK(ns == 20 && nh == 20, "words learned count as messages (20 spam, 20 ham)");
	TAP_OK(om_spam_db_tokens(words) < om_spam_db_tokens(full),
	       "fewer tokens than the whole messages (%zu < %zu)",
	       om_spam_db_tokens(words), om_spam_db_tokens(full));
	TAP_OK(om_spam_score(words, other_spam, strlen(other_spam)) > 0.9,
	       "the spam's words from another sender score high");
	om_spam_check(full, probe, strlen(probe), &set, &report);
	TAP_OK(rule_points(&report, "BAYES_HEAD") > 0,
	       "learned whole: the spam's sender and server lean the headers to spam (%.2f)",
	       rule_points(&report, "BAYES_HEAD"));
	om_spam_check(words, probe, strlen(probe), &set, &report);
	TAP_OK(rule_points(&report, "BAYES_HEAD") == 0,
	       "learned as words: the spam's sender and server tell nothing (%.2f)",
	       rule_points(&report, "BAYES_HEAD"));
	om_spam_check(words, spam, strlen(spam), &set, &report);
	TAP_OK(rule_points(&report, "BAYES_HEAD") > 0,
	       "learned as words: its Subject still tells (%.2f)", rule_points(&report, "BAYES_HEAD"));
	for (i = 0; i < 20; i++)
		om_spam_learn_words(words, spam, strlen(spam), 1, 1);
	om_spam_db_counts(words, &ns, &nh);
	TAP_OK(ns == 0 && nh == 20, "unlearning the words takes them back");
	om_spam_db_free(&words);
	om_spam_db_free(&full);
}

/* The memory of the sites ham came from (PHISH_LOOKALIKE_KNOWN) and the
   BEC shape, learned and scored as a mailbox teaches and scand scores. */
static const char *sender_freemail(void)
{
	static char path[] = "/tmp/test-spam-freemail-XXXXXX";
	const char list[] = "gmail.example\n";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, list, sizeof(list) - 1) != (ssize_t)(sizeof(list) - 1))
		return NULL;
	close(fd);
	return path;
}

static void sender_mail(struct om_spam_db *db, const struct om_phish *phish,
			const char *from, int is_spam, int unlearn)
{
	char *raw = om_asprintf("From: %s\nTo: kobayashi@example.jp\nSubject: "
				"=?UTF-8?B?44GK6KaL56mN44KK?=\n\nいつもお世話になっております。\n", from);

	om_spam_learn_message(db, phish, raw, strlen(raw), is_spam, unlearn);
	free(raw);
}

/* a sender from site, whose folded name is name (phish.h) */
static int sender_like(const struct om_spam_db *db, const char *site, const char *name)
{
	return om_spam_sender_lookalike(db, site, name, NULL);
}

static void test_sender_memory(void)
{
	static const struct {
		const char *site, *name;
		int like;
		const char *why;
	} senders[] = {
		{ "aoba-shoji.co.jp", "aoba-shojl", 0, "the partner itself" },
		{ "aoba-shouji.co.jp", "aoba-shoujl", 1, "a letter added (shouji)" },
		{ "aoba-shji.co.jp", "aoba-shjl", 1, "a letter left out" },
		{ "aoba-shojo.co.jp", "aoba-shojo", 1, "a letter changed" },
		{ "aoba-sohji.co.jp", "aoba-sohjl", 1, "two neighbours swapped" },
		{ "aoba-shoji.com", "aoba-shojl", 0,
		  "the partner's name under another suffix: most often the same people's" },
		{ "aoba-sh0ji.co.jp", "aoba-shojl", 1, "0 drawn for o" },
		{ "aoba-shoji-jp.example", "aoba-shojl-jp", 1, "a word added to a long name" },
		{ "pay-aoba-shoji.example", "pay-aoba-shojl", 1, "a word before a long name" },
		{ "kawabe-food.co.jp", "kawabe-food", 1, "kawabe-food of kawabe-foods" },
		{ "linux-jp.example", "llnux-jp", 0, "a word added to a short name (linux.ie)" },
		{ "eikos.example", "elkos", 0, "a letter moved to the end is two edits (seiko)" },
		{ "minato-bank.co.jp", "mlnato-bank", 0, "a stranger" },
		{ "spammer-cp.example", "spammer-cp", 0, "no lookalike of a site only spam came from" },
	};
	const char *list = sender_freemail();
	struct om_phish *phish = list != NULL ? om_phish_new(list, NULL) : NULL;
	struct om_spam_db *db = om_spam_db_new();
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	struct om_spam_report report;
	size_t i;
	char *raw;

	TAP_OK(phish != NULL, "the phishing rules' lists load");
	if (phish == NULL) {
		om_spam_db_free(&db);
		return;
	}
	set.phish = phish;
	sender_mail(db, phish, "=?UTF-8?B?6auY5qmL?= <m.takahashi@aoba-shoji.co.jp>", 0, 0);
	sender_mail(db, phish, "hasegawa@kawabe-foods.co.jp", 0, 0);
	sender_mail(db, phish, "a@linux.ie", 0, 0);
	sender_mail(db, phish, "a@seiko.example", 0, 0);
	sender_mail(db, phish, "x@spammer-co.example", 1, 0);
	for (i = 0; i < OM_N_ELEMENTS(senders); i++)
		TAP_OK(sender_like(db, senders[i].site, senders[i].name) == senders[i].like,
		       "%s %s: %s", senders[i].site,
		       senders[i].like ? "looks like a site ham came from" : "does not",
		       senders[i].why);
	TAP_OK(om_spam_sender_lookalike(db, "mail-gw.example", "mall-gw", "aoba-shoji.co.jp"),
	       "a partner's site worn before another (aoba-shoji.co.jp.mail-gw.example)");
	TAP_OK(om_spam_sender_lookalike(db, "gw.example", NULL, "www.aoba-shoji.co.jp"),
	       "... with labels before it, and a site too short to be named");
	TAP_OK(!om_spam_sender_lookalike(db, "cybozu.example", "cybozu", "aoba-shoji"),
	       "the partner's name alone before a service's site: a tenant, not worn");
	TAP_OK(!om_spam_sender_lookalike(db, "aoba-shoji.co.jp", "aoba-shojl", "mail"),
	       "the partner's own host (mail.aoba-shoji.co.jp)");
	/* users moving the lookalike into Junk must not wear the partner's keys
	   down: spam teaches only the site as it is */
	for (i = 0; i < 3; i++)
		sender_mail(db, phish, "x@aoba-shojo.co.jp", 1, 0);
	TAP_OK(sender_like(db, "aoba-shojo.co.jp", "aoba-shojo"),
	       "a lookalike learned as spam three times still looks like the partner");
	TAP_OK(sender_like(db, "aoba-shoji.co.jp", "aoba-shojl") == 0,
	       "... and the partner is still itself");
	/* a site much ham and more spam came from (free mail) is itself */
	for (i = 0; i < 5; i++)
		sender_mail(db, phish, "x@mailbox-site.example", 1, 0);
	for (i = 0; i < 3; i++)
		sender_mail(db, phish, "y@mailbox-site.example", 0, 0);
	TAP_OK(!sender_like(db, "mailbox-site.example", "mallbox-slte"),
	       "a site 3 ham and 5 spam came from is itself");
	TAP_OK(sender_like(db, "mallbox-site.example", "mallbox-slte"),
	       "... and its lookalikes are still lookalikes");
	/* a whole BEC mail, with and without the free-mail Reply-To */
	raw = om_asprintf("From: =?UTF-8?B?5p2R5LiK?= <murakami@aoba-shouji.co.jp>\n"
			  "To: kobayashi@example.jp\nSubject: =?UTF-8?B?5oyv6L6844G/5YWI?=\n\n"
			  "お振込先が変更になりました。\n");
	om_spam_check(db, raw, strlen(raw), &set, &report);
	TAP_OK(rule_points(&report, "PHISH_LOOKALIKE_KNOWN") == OM_PHISH_LOOKALIKE_KNOWN_POINTS &&
	       rule_points(&report, "PHISH_BEC_SHAPE") == 0,
	       "ja: from aoba-shouji.co.jp after ham from aoba-shoji.co.jp: PHISH_LOOKALIKE_KNOWN");
	free(raw);
	raw = om_asprintf("From: =?UTF-8?B?5p2R5LiK?= <murakami@aoba-shouji.co.jp>\n"
			  "Reply-To: aoba.murakami@gmail.example\n"
			  "To: kobayashi@example.jp\nSubject: =?UTF-8?B?5oyv6L6844G/5YWI?=\n\n"
			  "お振込先が変更になりました。\n");
	om_spam_check(db, raw, strlen(raw), &set, &report);
	TAP_OK(rule_points(&report, "PHISH_BEC_SHAPE") == OM_PHISH_BEC_SHAPE_POINTS &&
	       rule_points(&report, "PHISH_FREEMAIL_REPLYTO") > 0,
	       "... and with a Reply-To on free mail: PHISH_BEC_SHAPE too");
	free(raw);
	raw = om_asprintf("From: =?UTF-8?B?6auY5qmL?= <m.takahashi@aoba-shoji.co.jp>\n"
			  "Reply-To: takahashi@gmail.example\n"
			  "To: kobayashi@example.jp\nSubject: hello\n\nok\n");
	om_spam_check(db, raw, strlen(raw), &set, &report);
	TAP_OK(rule_points(&report, "PHISH_LOOKALIKE_KNOWN") == 0 &&
	       rule_points(&report, "PHISH_BEC_SHAPE") == 0,
	       "the partner itself with a free-mail Reply-To: no lookalike, no BEC shape");
	free(raw);
	raw = om_asprintf("From: Billing <billing@kawabe-food.com>\nTo: bob@example.com\n"
			  "Subject: invoice\n\nplease find the invoice attached\n");
	om_spam_check(db, raw, strlen(raw), &set, &report);
	TAP_OK(rule_points(&report, "PHISH_LOOKALIKE_KNOWN") > 0,
	       "en: kawabe-food.com after ham from kawabe-foods.co.jp");
	free(raw);
	sender_mail(db, phish, "hasegawa@kawabe-foods.co.jp", 0, 1);
	TAP_OK(!sender_like(db, "kawabe-food.co.jp", "kawabe-food"),
	       "unlearning the ham forgets the site");
	sender_mail(db, phish, "hasegawa@kawabe-foods.co.jp", 0, 1);
	sender_mail(db, phish, "hasegawa@kawabe-foods.co.jp", 0, 0);
	TAP_OK(sender_like(db, "kawabe-food.co.jp", "kawabe-food"),
	       "unlearning it twice took it back once: learned again, it is known again");
	raw = om_strdup("From: a@minato-bank.co.jp\n\nx\n");
	om_spam_learn(db, raw, strlen(raw), 0, 0);
	TAP_OK(!sender_like(db, "mlnato-bamk.co.jp", "mlnato-bamk"),
	       "om_spam_learn keeps no site (the prior's way)");
	om_spam_learn_message(db, phish, raw, strlen(raw), 0, 0);
	TAP_OK(sender_like(db, "mlnato-bamk.co.jp", "mlnato-bamk"), "... om_spam_learn_message does");
	free(raw);
	om_spam_db_free(&db);
	om_phish_free(&phish);
	(void)unlink(list);
}

/* scand's way: changes taken out under its lock and written without it,
   a failed write given back, a fresh table swapped in with what was
   learned meanwhile carried over. */
static void test_learning_in_steps(void)
{
	char dir[] = "/tmp/om-test-spam2-XXXXXX", *error = NULL;
	static const char spam[] = "Subject: cheap pills\n\nbuy cheap pills now\n";
	static const char ham[] = "Subject: minutes\n\nthe meeting minutes are attached\n";
	struct om_spam_db *shared = om_spam_db_new(), *other = om_spam_db_new(), *fresh;
	struct om_spam_changes *changes;
	struct om_store *store = temp_store_open(dir);
	long long before, after;
	long ns, nh;

	if (om_spam_db_load(shared, store, &error) < 0 || om_spam_db_load(other, store, &error) < 0)
		abort();
	om_spam_learn(shared, spam, strlen(spam), 1, 0);
	changes = om_spam_db_take_changes(shared);
	TAP_OK(changes != NULL && om_spam_db_take_changes(shared) == NULL,
	       "changes taken out once");
	om_spam_db_return_changes(shared, changes);	/* as after a failed write */
	om_spam_changes_free(&changes);
	changes = om_spam_db_take_changes(shared);
	TAP_OK(changes != NULL && om_spam_changes_save(changes, store, &before, &after, &error) == 0 &&
	       om_spam_db_saved(shared, before, after) == 0,
	       "given back after a failure, written by the next save");
	om_spam_changes_free(&changes);
	TAP_OK(om_spam_db_stale(shared, store, &error) == 0, "own save: not stale");
	om_spam_learn(other, ham, strlen(ham), 0, 0);
	TAP_OK(om_spam_db_save(other, store, &error) == 1, "another learner saves (and reloads)");
	TAP_OK(om_spam_db_stale(shared, store, &error) == 1, "then the shared table is stale");
	om_spam_learn(shared, ham, strlen(ham), 0, 0);	/* learned while reloading */
	fresh = om_spam_db_load_new(store, &error);
	TAP_OK(fresh != NULL, "fresh table loaded");
	om_spam_db_carry_changes(fresh, shared);
	om_spam_db_counts(fresh, &ns, &nh);
	TAP_OK(ns == 1 && nh == 2, "fresh table: saved 1 spam + 1 ham, carried 1 ham");
	TAP_OK(om_spam_db_save(fresh, store, &error) == 0 && om_spam_db_load(other, store, &error) == 0,
	       "the carried change is saved");
	om_spam_db_counts(other, &ns, &nh);
	TAP_OK(ns == 1 && nh == 2, "and the store has all three");
	om_spam_db_free(&fresh);
	om_spam_db_free(&shared);
	om_spam_db_free(&other);
	temp_store_close(&store, dir);
}

/* A mailbox teaches with one message once: a copy taught again counts
   nothing, a move back corrects it, another mailbox counts on its own,
   and the memory is saved and loaded with the tokens. */
static void test_learning_once(void)
{
	char dir[] = "/tmp/om-test-spam3-XXXXXX", *error = NULL;
	static const char msg[] = "Subject: cheap pills\n\nbuy cheap pills now\n";
	static const char other[] = "Subject: free prize\n\nclaim your free prize today\n";
	struct om_spam_db *db = om_spam_db_new(), *again = om_spam_db_new();
	double score;
	struct om_spam_lesson *lesson = om_spam_lesson_read(NULL, msg, strlen(msg));
	struct om_store *store = temp_store_open(dir);
	enum om_spam_lesson_outcome o1, o2, o3, o4, o5;
	long ns, nh;

	if (om_spam_db_load(db, store, &error) < 0)
		abort();
	o1 = om_spam_lesson_learn_once(db, lesson, "bob@example.jp", 1);
	o2 = om_spam_lesson_learn_once(db, lesson, "Bob@Example.JP.", 1);
	om_spam_db_counts(db, &ns, &nh);
	TAP_OK(o1 == OM_SPAM_LESSON_NEW && o2 == OM_SPAM_LESSON_REPEATED && ns == 1 && nh == 0,
	       "a copy taught again (its mailbox spelled otherwise) counts once: %s, %s, "
	       "%ld spam", om_spam_lesson_outcome_name(o1), om_spam_lesson_outcome_name(o2), ns);
	o3 = om_spam_lesson_learn_once(db, lesson, "bob@example.jp", 0);
	om_spam_db_counts(db, &ns, &nh);
	TAP_OK(o3 == OM_SPAM_LESSON_CORRECTED && ns == 0 && nh == 1,
	       "a move back corrects it: 0 spam, 1 ham");
	/* another spam of other words: the message's own words now read ham
	   (unlearned from spam), not half and half */
	om_spam_learn(db, other, strlen(other), 1, 0);
	score = om_spam_score(db, msg, strlen(msg));
	TAP_OK(score < 0.2, "its words are ham's alone now (%.3f)", score);
	o4 = om_spam_lesson_learn_once(db, lesson, "carol@example.jp", 1);
	om_spam_db_counts(db, &ns, &nh);
	TAP_OK(o4 == OM_SPAM_LESSON_NEW && ns == 2 && nh == 1,
	       "another mailbox teaches on its own");
	TAP_OK(om_spam_db_save(db, store, &error) == 0 && om_spam_db_load(again, store, &error) == 0,
	       "saved and loaded");
	o5 = om_spam_lesson_learn_once(again, lesson, "carol@example.jp", 1);
	om_spam_db_counts(again, &ns, &nh);
	TAP_OK(o5 == OM_SPAM_LESSON_REPEATED && ns == 2 && nh == 1,
	       "the memory is kept with the tokens: repeated after a reload");
	om_spam_lesson_free(&lesson);
	om_spam_db_free(&db);
	om_spam_db_free(&again);
	temp_store_close(&store, dir);
	free(error);
}

/* Pruning forgets the tokens of one message and keeps the rest; readers
   see the spam revision move. */
static void test_prune(void)
{
	char dir[] = "/tmp/om-test-prune-XXXXXX", *error = NULL;
	static const char spam[] = "Subject: cheap pills\n\nbuy cheap pills now, click here\n";
	static const char ham[] = "Subject: meeting notes\n\nthe project meeting is thursday\n";
	static const char once[] = "Subject: zebra quagga\n\nokapi narwhal\n";
	static const char partner[] = "From: a@minato-bank.co.jp\nSubject: hi\n\nhello\n";
	struct om_spam_db *db = om_spam_db_new(), *reader = NULL;
	struct om_phish *phish;
	struct om_store *store = temp_store_open(dir);
	long removed = 0, left = 0;
	int i;

	for (i = 0; i < 10; i++) {
		om_spam_learn(db, spam, strlen(spam), 1, 0);
		om_spam_learn(db, ham, strlen(ham), 0, 0);
	}
	om_spam_learn(db, once, strlen(once), 0, 0);
	/* a partner who wrote once, learned with the site it wrote from */
	phish = om_phish_new(NULL, &error);
	om_spam_learn_message(db, phish, partner, strlen(partner), 0, 0);
	TAP_OK(om_spam_db_save(db, store, &error) >= 0, "learned and saved");
	reader = om_spam_db_load_new(store, &error);
	TAP_OK(reader != NULL && om_spam_db_stale(reader, store, &error) == 0 &&
	       om_spam_score(reader, once, strlen(once)) < 0.1,
	       "a reader up to date; the message seen once scores as ham");
	TAP_OK(om_store_spam_prune(store, 1, &removed, &left, &error) == 0 && removed > 0 &&
	       left > 0, "prune removes some tokens and leaves others");
	TAP_OK(om_spam_db_stale(reader, store, &error) == 1, "the reader sees the spam revision move");
	om_spam_db_free(&reader);
	reader = om_spam_db_load_new(store, &error);
	TAP_OK(reader != NULL && om_spam_score(reader, spam, strlen(spam)) > 0.9 &&
	       om_spam_score(reader, ham, strlen(ham)) < 0.1,
	       "what was seen often still scores as before");
	TAP_OK(reader != NULL && om_spam_score(reader, once, strlen(once)) == 0.5,
	       "the message seen once is forgotten");
	TAP_OK(reader != NULL && om_spam_sender_lookalike(reader, "mlnato-bamk.co.jp", "mlnato-bamk", NULL),
	       "the site the partner wrote from once is still known");
	TAP_OK(om_store_spam_prune(store, 1, &removed, &left, &error) == 0 && removed == 0,
	       "a second prune finds nothing more");
	om_spam_db_free(&reader);
	om_spam_db_free(&db);
	om_phish_free(&phish);
	temp_store_close(&store, dir);
}

/* Japanese bytes under a label that does not describe them are read as
   what they are (issue 19): Shift_JIS labelled ISO-2022-JP, EUC-JP under
   an unknown name, UTF-8 labelled Shift_JIS, Shift_JIS with no charset. */
static void test_mislabelled_japanese(void)
{
	static const char sjis_as_iso[] =
		"Subject: x\nContent-Type: text/plain; charset=ISO-2022-JP\n\n"
		"\x96\xb3\x97\xbf\x82\xc5\x82\xa8\x8b\xe0\n";
	static const char euc_unknown[] =
		"Subject: x\nContent-Type: text/plain; charset=x-euc-jp-unknown\n\n"
		"\xcc\xb5\xce\xc1\xa4\xc7\xa4\xaa\xb6\xe2\n";
	static const char utf8_as_sjis[] =
		"Subject: x\nContent-Type: text/plain; charset=Shift_JIS\n\n" JA_UTF8 "\n";
	static const char sjis_none[] =
		"Subject: x\nContent-Type: text/plain\n\n"
		"\x96\xb3\x97\xbf\x82\xc5\x82\xa8\x8b\xe0\n";
	static const char latin1[] =	/* a label that fits: kept */
		"Subject: x\nContent-Type: text/plain; charset=ISO-8859-1\n\ncaf\xe9 cr\xe8me\n";
	const char *bigram = "\xe7\x84\xa1\xe6\x96\x99";	/* 無料 */

	TAP_OK(has_token(sjis_as_iso, strlen(sjis_as_iso), bigram),
	       "Shift_JIS labelled ISO-2022-JP gives the bigram");
	TAP_OK(has_token(euc_unknown, strlen(euc_unknown), bigram),
	       "EUC-JP under an unknown charset name gives the bigram");
	TAP_OK(has_token(utf8_as_sjis, strlen(utf8_as_sjis), bigram),
	       "UTF-8 labelled Shift_JIS gives the bigram");
	TAP_OK(has_token(sjis_none, strlen(sjis_none), bigram),
	       "Shift_JIS with no charset gives the bigram");
	TAP_OK(has_token(latin1, strlen(latin1), "caf\xc3\xa9"),
	       "ISO-8859-1 text keeps its label");
}

/* Japanese mail weighed by the balance of its telling tokens (issue 19):
   mostly spam's words with one of ham's is spam, and the other way round
   ham; the same for English mail (chi-square there). */
/* The header reading of mail in which CJK tokens told counts
   OM_SPAM_CJK_HEADER_WEIGHT of its points; English mail's all of them. */
static void test_cjk_header_weight(void)
{
	static const char ja_spam[] = "From: promo@pills.example\nSubject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe5\x8f\xa3\xe5\xba\xa7\xe5\x87\x8d\xe7\xb5\x90\xe3\x80\x82\n";	/* 口座凍結。 */
	static const char ja_ham[] = "From: boss@work.example\nSubject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x80\x82\n";				/* 会議。 */
	static const char en_spam[] = "From: promo@pills.example\nSubject: x\n\nfrozen account\n";
	static const char en_ham[] = "From: boss@work.example\nSubject: x\n\nmeeting minutes\n";
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	struct om_spam_db *db = om_spam_db_new();
	struct om_spam_report report;
	double ja, en;
	int i;

	for (i = 0; i < 20; i++) {
		om_spam_learn(db, ja_spam, strlen(ja_spam), 1, 0);
		om_spam_learn(db, ja_ham, strlen(ja_ham), 0, 0);
		om_spam_learn(db, en_spam, strlen(en_spam), 1, 0);
		om_spam_learn(db, en_ham, strlen(en_ham), 0, 0);
	}
	om_spam_check(db, ja_spam, strlen(ja_spam), &set, &report);
	ja = rule_points(&report, "BAYES_HEAD_99");
	om_spam_check(db, en_spam, strlen(en_spam), &set, &report);
	en = rule_points(&report, "BAYES_HEAD_99");
	TAP_OK(en > 9.0 && fabs(ja - en * OM_SPAM_CJK_HEADER_WEIGHT) < 0.01,
	       "a sure spam header: %.2f points in English mail, %.2f in Japanese", en, ja);
	om_spam_db_free(&db);
}

static void test_cjk_balance(void)
{
	static const char ja_spam[] = "Subject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe5\x8f\xa3\xe5\xba\xa7\xe5\x87\x8d\xe7\xb5\x90\xe3\x80\x82"	/* 口座凍結。 */
		"\xe8\x87\xb3\xe6\x80\xa5\xe3\x80\x81"					/* 至急、 */
		"\xe6\x9c\xac\xe4\xba\xba\xe7\xa2\xba\xe8\xaa\x8d\xe3\x80\x82\n";	/* 本人確認。 */
	static const char ja_ham[] = "Subject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x80\x82"					/* 会議。 */
		"\xe8\xad\xb0\xe4\xba\x8b\xe9\x8c\xb2\xe3\x80\x81"			/* 議事録、 */
		"\xe9\x80\x81\xe4\xbb\x98\xe8\x87\xb4\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99\n";	/* 送付致します */
	static const char ja_mostly_spam[] = "Subject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe5\x8f\xa3\xe5\xba\xa7\xe5\x87\x8d\xe7\xb5\x90\xe3\x80\x82"
		"\xe6\x9c\xac\xe4\xba\xba\xe7\xa2\xba\xe8\xaa\x8d\xe3\x80\x82"
		"\xe4\xbc\x9a\xe8\xad\xb0\n";						/* 会議 */
	static const char ja_mostly_ham[] = "Subject: x\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xe8\xad\xb0\xe4\xba\x8b\xe9\x8c\xb2\xe3\x80\x81"
		"\xe9\x80\x81\xe4\xbb\x98\xe8\x87\xb4\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82"
		"\xe8\x87\xb3\xe6\x80\xa5\n";						/* 至急 */
	static const char en_spam[] = "Subject: x\n\naccount frozen urgent verify identity now\n";
	static const char en_ham[] = "Subject: x\n\nminutes of the meeting attached herewith\n";
	static const char en_mostly_spam[] = "Subject: x\n\naccount frozen verify identity meeting\n";
	static const char en_mostly_ham[] = "Subject: x\n\nminutes meeting attached herewith urgent\n";
	struct om_spam_db *db = om_spam_db_new();
	struct om_spam_check_settings set = { NULL, NULL, NULL, 1, NULL, NULL, NULL, 0 };
	struct om_spam_report report;
	int i;

	for (i = 0; i < 5; i++) {
		om_spam_learn(db, ja_spam, strlen(ja_spam), 1, 0);
		om_spam_learn(db, ja_ham, strlen(ja_ham), 0, 0);
		om_spam_learn(db, en_spam, strlen(en_spam), 1, 0);
		om_spam_learn(db, en_ham, strlen(en_ham), 0, 0);
	}
	om_spam_check(db, ja_mostly_spam, strlen(ja_mostly_spam), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", 1) && report.probability > 0.5,
	       "Japanese: mostly spam's words with one of ham's reads spam (p %.2f)",
	       report.probability);
	om_spam_check(db, ja_mostly_ham, strlen(ja_mostly_ham), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", -1) && report.probability < 0.5,
	       "Japanese: mostly ham's words with one of spam's reads ham (p %.2f)",
	       report.probability);
	om_spam_check(db, en_mostly_spam, strlen(en_mostly_spam), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", 1),
	       "English: mostly spam's words with one of ham's reads spam (p %.2f)",
	       report.probability);
	om_spam_check(db, en_mostly_ham, strlen(en_mostly_ham), &set, &report);
	TAP_OK(has_rule(&report, "BAYES_BODY_", -1),
	       "English: mostly ham's words with one of spam's reads ham (p %.2f)",
	       report.probability);
	om_spam_db_free(&db);
}

int main(void)
{
	om_mime_global_init();
	test_charsets();
	test_broken();
	test_mislabelled_japanese();
	test_kinds();
	test_token_places();
	test_more_tokens();
	test_link_hosts();
	test_link_places();
	test_links_past_the_token_cap();
	test_token_table();
	test_readings();
	test_cjk_balance();
	test_cjk_header_weight();
	test_gtube();
	test_learning();
	test_learning_words();
	test_sender_memory();
	test_learning_in_steps();
	test_learning_once();
	test_prune();
	return tap_done();
}
