/* test-links.c - unit tests of mail/authres.c (which Authentication-Results
 * headers are ours, what they say, the message without the others) and
 * mail/linkrw.c (the banner, defanged links, links through the gate: text,
 * HTML with nested tables, inline images, Japanese charsets, forms, meta
 * refresh, area; the other parts byte for byte).
 */
#include "tap.h"
#include "mail/authres.h"
#include "mail/linkrw.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static int has(const char *text, const char *what)
{
	return text != NULL && strstr(text, what) != NULL;
}

/* ---- Authentication-Results ---- */

static void test_authres_values(void)
{
	struct om_authres r;

	memset(&r, 0, sizeof(r));
	TAP_OK(om_authres_read_value("mx.example.jp; spf=fail smtp.mailfrom=a@b; dkim=pass "
				     "header.d=b; dmarc=fail (p=reject dis=none) header.from=b", &r) == 0 &&
	       r.spf == OM_AUTH_FAIL && r.dkim == OM_AUTH_PASS && r.dmarc == OM_AUTH_FAIL &&
	       r.dmarc_policy == OM_DMARC_POLICY_REJECT,
	       "spf, dkim, dmarc and OpenDMARC's p= in its comment");
	memset(&r, 0, sizeof(r));
	(void)om_authres_read_value("mx 1; dmarc=fail policy.dmarc=none header.from=b", &r);
	TAP_OK(r.dmarc == OM_AUTH_FAIL && r.dmarc_policy == OM_DMARC_POLICY_NONE,
	       "policy.dmarc= property");
	memset(&r, 0, sizeof(r));
	(void)om_authres_read_value("mx; dmarc=fail header.from=b", &r);
	TAP_OK(r.dmarc_policy == OM_DMARC_POLICY_UNKNOWN, "no policy recorded: unknown");
	memset(&r, 0, sizeof(r));
	(void)om_authres_read_value("mx; dkim=fail (bad; really) header.d=x; dkim=pass header.d=y", &r);
	TAP_OK(r.dkim == OM_AUTH_PASS, "one signature passing is a pass; ';' in a comment");
	memset(&r, 0, sizeof(r));
	(void)om_authres_read_value("mx; spf=failing; dkim=\"fail;x\"", &r);
	TAP_OK(r.spf == OM_AUTH_OTHER && r.dkim != OM_AUTH_FAIL, "a result must match whole");
	memset(&r, 0, sizeof(r));
	(void)om_authres_read_value("mx; SPF=SoftFail", &r);
	TAP_OK(r.spf == OM_AUTH_SOFTFAIL && om_authres_failed(&r) == 0,
	       "softfail read, and not a failure");
	TAP_OK(om_authres_id_trusted(" (c) MX.Example.JP 1; spf=pass", "other mx.example.jp"),
	       "id trusted from a list, any case, after a comment");
	TAP_OK(om_authres_id_trusted("mx.example.jp;spf=pass", "a,mx.example.jp"),
	       "comma-separated list");
	TAP_OK(!om_authres_id_trusted("mx.example.jp.evil; spf=pass", "mx.example.jp"),
	       "a longer id is another id");
	TAP_OK(!om_authres_id_trusted("mx.example.jp; spf=pass", ""), "none trusted by default");
}

static const char *ar_message =
	"Return-Path: <a@b.example>\n"
	"Delivered-To: u@example.jp\n"
	"Received: from mx.example.jp\n\tby box.example.jp with LMTP id 1\n"
	"Authentication-Results: mx.example.jp; spf=fail smtp.mailfrom=b.example\n"
	"Authentication-Results: other.example; dkim=pass\n"
	"Received: from evil.example by mx.example.jp (Postfix) with ESMTP\n"
	"Authentication-Results: mx.example.jp;\n\tspf=pass; dmarc=pass\n"
	"From: a@b.example\n"
	"Subject: s\n"
	"\n"
	"Authentication-Results: mx.example.jp; in the body\n";

static void test_authres_message(void)
{
	struct om_authres_trust trust = { "mx.example.jp", 1 };
	struct om_authres r;
	struct om_buf out;
	char *text;

	om_buf_init(&out);
	TAP_OK(om_authres_check(ar_message, strlen(ar_message), &trust, &r, &out) == 2,
	       "two A-R headers removed");
	om_buf_append(&out, "", 1);
	text = out.data;
	TAP_OK(r.trusted == 1 && r.spf == OM_AUTH_FAIL && r.dmarc == OM_AUTH_NONE,
	       "only the MTA's header read (the forged pass below its Received ignored)");
	TAP_OK(has(text, "Authentication-Results: mx.example.jp; spf=fail") &&
	       !has(text, "other.example") && !has(text, "spf=pass; dmarc=pass"),
	       "the other id's and the forged one removed, ours kept");
	TAP_OK(has(text, "Received: from evil.example") &&
	       has(text, "\n\nAuthentication-Results: mx.example.jp; in the body\n"),
	       "everything else as it was, the body too");
	TAP_OK(strlen(text) == strlen(ar_message) -
	       strlen("Authentication-Results: other.example; dkim=pass\n") -
	       strlen("Authentication-Results: mx.example.jp;\n\tspf=pass; dmarc=pass\n"),
	       "exactly those bytes gone");
	om_buf_reset(&out);
	trust.hops = 2;
	(void)om_authres_check(ar_message, strlen(ar_message), &trust, &r, &out);
	TAP_OK(r.trusted == 2 && r.spf == OM_AUTH_FAIL && r.dmarc == OM_AUTH_PASS,
	       "with two hops of ours, the lower one counts too");
	om_buf_reset(&out);
	trust.ids = NULL;
	trust.hops = 1;
	TAP_OK(om_authres_check(ar_message, strlen(ar_message), &trust, &r, &out) == 3 &&
	       r.trusted == 0 && r.spf == OM_AUTH_NONE, "no id trusted: all removed, none read");
	om_buf_reset(&out);
	trust.ids = "mx.example.jp";
	TAP_OK(om_authres_check("From: a\n\nb\n", 9, &trust, &r, &out) == 0 && out.len == 0,
	       "nothing to remove: no copy");
	om_buf_free(&out);
}

static void test_authres_decision(void)
{
	struct om_authres r;

	memset(&r, 0, sizeof(r));
	r.spf = OM_AUTH_FAIL;
	r.dkim = OM_AUTH_FAIL;
	TAP_OK(om_authres_failed(&r) == (OM_AUTHRES_SPF | OM_AUTHRES_DKIM), "failed checks named");
	TAP_OK(!om_authres_any_pass(&r), "no pass");
}

/* ---- text ---- */

static char *gate_fn(void *context, const char *url)
{
	int *calls = context;

	(*calls)++;
	if (strlen(url) > 100)
		return NULL;
	return om_asprintf("https://web.test/u/T%d", *calls);
}

static void test_find_defang(void)
{
	const char *t = "see (https://a.example/x_(y)). and www.b.example, xhttp://no "
		"http:// nothing";
	size_t s, e;
	char *d;

	TAP_OK(om_linkrw_find_url(t, strlen(t), &s, &e) &&
	       strncmp(t + s, "https://a.example/x_(y)", e - s) == 0 && e - s == 23,
	       "URL found, balanced bracket kept, trailing ). dropped");
	t += e;
	TAP_OK(om_linkrw_find_url(t, strlen(t), &s, &e) &&
	       strncmp(t + s, "www.b.example", e - s) == 0 && e - s == 13, "www. found");
	t += e;
	TAP_OK(!om_linkrw_find_url(t, strlen(t), &s, &e), "inside a word, or a bare scheme: none");
	t = "日本語https://例.jp/は";
	TAP_OK(om_linkrw_find_url(t, strlen(t), &s, &e) && e - s == 15,
	       "after Japanese text; an IDN host taken, the path stops at Japanese text");
	d = om_linkrw_defang("https://a.b.example:8080/p.q?x=1.2", 34);
	TAP_OK(strcmp(d, "hxxps://a[.]b[.]example:8080/p.q?x=1.2") == 0, "defanged: %s", d);
	free(d);
	d = om_linkrw_defang("HTTP://x.y/", 11);
	TAP_OK(strcmp(d, "HxxP://x[.]y/") == 0, "case kept: %s", d);
	free(d);
	d = om_linkrw_defang("https://a.x/r?u=http://b.y/&w=www.c.z", 37);
	TAP_OK(strcmp(d, "hxxps://a[.]x/r?u=hxxp://b.y/&w=www[.]c.z") == 0,
	       "a URL inside a URL dead too: %s", d);
	free(d);
	d = om_linkrw_defang("", 0);
	TAP_OK(strcmp(d, "") == 0, "an empty URL defanged is empty");
	free(d);
	d = om_linkrw_defang("ftp://x.y", 9);
	TAP_OK(strcmp(d, "fxp://x[.]y") == 0, "ftp: %s", d);
	free(d);
	d = om_linkrw_defang("www.x.y/a.b", 11);
	TAP_OK(strcmp(d, "www[.]x[.]y/a.b") == 0, "www: %s", d);
	free(d);
}

static void test_text(void)
{
	struct om_linkrw rw = { OM_LINKS_DISABLE, "注意！なりすましメールの可能性があります。", NULL, NULL };
	size_t links;
	int calls = 0;
	char *out;

	out = om_linkrw_text(&rw, "詳細は https://example.airnet.jp/order?id=1 から\n"
			     "<https://faq.airnet.jp>\n", &links);
	TAP_OK(links == 2 && strncmp(out, "注意！", strlen("注意！")) == 0 &&
	       has(out, "詳細は hxxps://example[.]airnet[.]jp/order?id=1 から\n") &&
	       has(out, "<hxxps://faq[.]airnet[.]jp>") && !has(out, "https://"),
	       "banner first, every URL defanged");
	free(out);
	rw.mode = OM_LINKS_REWRITE;
	rw.banner = NULL;
	rw.gate = gate_fn;
	rw.context = &calls;
	out = om_linkrw_text(&rw, "go https://a.example/x now, www.b.example and "
			     "https://c.example/" "0123456789012345678901234567890123456789"
			     "0123456789012345678901234567890123456789012345678901234567890\n", &links);
	TAP_OK(links == 3 && has(out, "go hxxps://a[.]example/x <https://web.test/u/T1> now,") &&
	       has(out, "www[.]b[.]example <https://web.test/u/T2>"),
	       "rewritten: the original shown defanged, the gate's link beside it");
	TAP_OK(has(out, "hxxps://c[.]example/0123") && !has(out, "T3>"),
	       "a link the gate refuses is only defanged");
	free(out);
	rw.mode = OM_LINKS_KEEP;
	rw.banner = "B";
	out = om_linkrw_text(&rw, "https://a.example/\n", &links);
	TAP_OK(links == 0 && strcmp(out, "B\n\nhttps://a.example/\n") == 0,
	       "keep: banner, links as they were");
	free(out);
}

/* ---- HTML ---- */

static const char *html_doc =
	"<!DOCTYPE html><html><head><meta charset=\"shift_jis\">"
	"<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">"
	"<base href=\"https://evil.example/\"><title>t</title>"
	"<style>a{color:red}</style></head><body>"
	"<table><tr><td><table><tr><td>"
	"<a href=\"https://example.airnet.jp/\" onclick=\"x()\">こちら</a>"
	"</td></tr></table></td></tr></table>"
	"<img src=\"cid:logo@x\" alt=\"logo\">"
	"<map name=m><area href=\"https://evil.example/area\" shape=rect coords=\"0,0,1,1\"></map>"
	"<form action=\"https://evil.example/post\" method=post><input name=p>"
	"<button formaction=\"https://evil.example/b\">送信</button></form>"
	"<p>text https://plain.example/p and <a href=\"mailto:a@b.example\">mail</a>"
	" <a href=\"#top\">top</a> <a href=\"javascript:alert(1)\">js</a></p>"
	"</body></html>";

static void test_html_disable(void)
{
	struct om_linkrw rw = { OM_LINKS_DISABLE, "注意！\nリンクは無効です", NULL, NULL };
	size_t links;
	char *out = om_linkrw_html(&rw, html_doc, strlen(html_doc), "UTF-8", &links);

	TAP_OK(out != NULL && !has(out, "href=\"https") && !has(out, "href=\"javascript"),
	       "no web link left");
	TAP_OK(has(out, "<span>[hxxps://example[.]airnet[.]jp/]こちら</span>") &&
	       !has(out, "onclick"), "the anchor shows its URL defanged, then its text");
	TAP_OK(has(out, "<table><tr><td><table><tr><td><span>"), "nested tables intact");
	TAP_OK(has(out, "src=\"cid:logo@x\""), "inline image kept");
	TAP_OK(!has(out, "refresh") && !has(out, "<base"), "meta refresh and base removed");
	TAP_OK(has(out, "<area shape=\"rect\" coords=\"0,0,1,1\">") || has(out, "<area shape=rect"),
	       "area without href");
	TAP_OK(!has(out, "<form") && !has(out, "action=") && !has(out, "formaction") &&
	       has(out, "<div><input name=\"p\">"), "form neutralised");
	TAP_OK(has(out, "text hxxps://plain[.]example/p and"), "URL in text defanged");
	TAP_OK(has(out, "href=\"mailto:a@b.example\"") && has(out, "href=\"#top\""),
	       "mailto and # kept");
	TAP_OK(has(out, "<meta charset=\"UTF-8\">"), "declared charset now UTF-8");
	TAP_OK(has(out, "<body><div class=\"omamori-banner\"") &&
	       has(out, "注意！<br>リンクは無効です</div>"), "banner first in body");
	TAP_OK(has(out, "<style>a{color:red}</style>"), "style untouched");
	TAP_OK(links == 5, "links counted: %zu", links);
	free(out);
}

static void test_html_rewrite(void)
{
	int calls = 0;
	struct om_linkrw rw = { OM_LINKS_REWRITE, NULL, gate_fn, &calls };
	size_t links;
	char *out = om_linkrw_html(&rw, html_doc, strlen(html_doc), "UTF-8", &links);

	TAP_OK(has(out, "<a href=\"https://web.test/u/T1\">こちら</a>"),
	       "anchor through the gate, its text kept");
	TAP_OK(has(out, "<area href=\"https://web.test/u/T2\""), "area through the gate");
	TAP_OK(!has(out, "<form") && !has(out, "evil.example/post"), "form still neutralised");
	TAP_OK(has(out, "text <a href=\"https://web.test/u/T3\">https://plain.example/p</a> and"),
	       "URL in text made a link through the gate showing the URL");
	TAP_OK(has(out, "<span>[javascript:alert(1)]js</span>"), "javascript: disabled");
	free(out);
	/* a fragment: no html/body */
	out = om_linkrw_html(&rw, "<p>hi <a href=\"http://x.example/\">x</a></p>", 42, "UTF-8", &links);
	TAP_OK(out != NULL && strncmp(out, "<p>hi <a href=\"https://web.test/u/T", 35) == 0,
	       "fragment kept a fragment: %s", out);
	free(out);
	rw.banner = "B";
	out = om_linkrw_html(&rw, "", 0, "UTF-8", &links);
	TAP_OK(has(out, "omamori-banner") && has(out, ">B</div>"), "empty HTML: the banner");
	free(out);
}

static void test_html_deep(void)
{
	struct om_linkrw rw = { OM_LINKS_DISABLE, "B", NULL, NULL };
	struct om_buf b;
	size_t links, i;
	char *out;

	om_buf_init(&b);
	for (i = 0; i < 5000; i++)
		om_buf_append_str(&b, "<div><a href=\"http://d.example/\">");
	om_buf_append_str(&b, "x");
	out = om_linkrw_html(&rw, b.data, b.len, "UTF-8", &links);
	TAP_OK(out != NULL && !has(out, "href=\"http"), "5000 nested links: no crash, none left");
	free(out);
	om_buf_free(&b);
}

/* ---- a whole message ---- */

static const char *mail_msg =
	"From: a@b.example\nTo: u@example.jp\nSubject: s\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"M\"\n\n"
	"preamble\n"
	"--M\nContent-Type: multipart/alternative; boundary=\"A\"\n\n"
	"--A\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
	"\x1b$B>\\:Y$O\x1b(B https://example.airnet.jp/ \x1b$B$+$i\x1b(B\n"
	"--A\nContent-Type: multipart/related; boundary=\"R\"\n\n"
	"--R\nContent-Type: text/html; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
	"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">"
	"</head><body><a href=\"https://example.airnet.jp/\">\x82\xb1\x82\xbf\x82\xe7</a>"
	"<img src=\"cid:img1@x\"></body></html>\n"
	"--R\nContent-Type: image/png\nContent-ID: <img1@x>\nContent-Transfer-Encoding: base64\n\n"
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n"
	"--R--\n"
	"--A--\n"
	"--M\nContent-Type: application/pdf; name=\"a.pdf\"\nContent-Disposition: attachment; filename=\"a.pdf\"\n"
	"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKaHR0cHM6Ly9ldmlsLmV4YW1wbGUv\n"
	"--M\nContent-Type: message/rfc822\n\n"
	"Subject: inner\nContent-Type: text/plain\n\nhttps://inner.example/\n"
	"--M--\n"
	"epilogue\n";

static char *decoded_part(struct om_mime_msg *msg, const char *path)
{
	struct om_mime_leaf *leaves = NULL;
	size_t n = 0, i;
	char *reason = NULL, *error = NULL, *text = NULL;
	struct om_buf b;

	if (om_mime_collect(msg, 100, 10, &leaves, &n, &reason) != 0) {
		free(reason);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(leaves[i].path, path) != 0)
			continue;
		om_buf_init(&b);
		if (om_mime_leaf_decode(&leaves[i], &b, &error) == 0) {
			om_buf_append(&b, "", 1);
			text = om_buf_steal(&b, NULL);
		} else {
			om_buf_free(&b);
			free(error);
		}
	}
	om_mime_leaves_free(&leaves, n);
	return text;
}

static void test_message(void)
{
	struct om_linkrw rw = { OM_LINKS_DISABLE, "注意！なりすましメールの可能性があります。", NULL, NULL };
	struct om_mime_msg *msg, *again;
	char *error = NULL, *plain, *html, *out;
	struct om_buf b;
	size_t links;

	om_mime_global_init();
	msg = om_mime_parse(mail_msg, strlen(mail_msg), &error);
	TAP_OK(msg != NULL, "parsed");
	if (msg == NULL)
		return;
	links = om_linkrw_message(msg, &rw);
	om_buf_init(&b);
	om_mime_write(msg, &b);
	om_buf_append(&b, "", 1);
	out = b.data;
	TAP_OK(links == 2, "two links disabled (the attachment and the attached message "
	       "untouched): %zu", links);
	TAP_OK(has(out, "Content-Type: application/pdf; name=\"a.pdf\"\nContent-Disposition: "
		   "attachment; filename=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\n"
		   "JVBERi0xLjQKaHR0cHM6Ly9ldmlsLmV4YW1wbGUv\n--M"), "attachment byte for byte");
	TAP_OK(has(out, "Content-Type: image/png\nContent-ID: <img1@x>\nContent-Transfer-Encoding: "
		   "base64\n\niVBORw0KGgo"), "inline image byte for byte");
	TAP_OK(has(out, "Subject: inner\nContent-Type: text/plain\n\nhttps://inner.example/\n"),
	       "attached message byte for byte");
	TAP_OK(has(out, "preamble\n") && has(out, "epilogue"), "preamble and epilogue kept");
	again = om_mime_parse(out, b.len - 1, &error);
	plain = again != NULL ? decoded_part(again, "1.1") : NULL;
	html = again != NULL ? decoded_part(again, "1.2.1") : NULL;
	TAP_OK(has(plain, "注意！なりすまし") && has(plain, "詳細は hxxps://example[.]airnet[.]jp/ から"),
	       "ISO-2022-JP text readable as UTF-8 with its banner");
	TAP_OK(has(html, "[hxxps://example[.]airnet[.]jp/]こちら") &&
	       has(html, "content=\"text/html; charset=UTF-8\"") && has(html, "cid:img1@x"),
	       "Shift_JIS HTML readable as UTF-8, its meta relabelled, cid kept");
	TAP_OK(has(out, "Content-Type: text/html; charset=utf-8") &&
	       has(out, "Content-Type: text/plain; charset=utf-8"), "parts labelled utf-8");
	free(plain);
	free(html);
	om_mime_free(&again);
	om_buf_free(&b);
	om_mime_free(&msg);
}

static void test_message_no_text(void)
{
	static const char m[] = "From: a@b\nContent-Type: application/pdf\n"
		"Content-Transfer-Encoding: base64\n\nJVBERi0=\n";
	struct om_linkrw rw = { OM_LINKS_DISABLE, "BANNER", NULL, NULL };
	char *error = NULL;
	struct om_mime_msg *msg = om_mime_parse(m, sizeof(m) - 1, &error);
	struct om_buf b;

	if (msg == NULL) {
		TAP_OK(0, "parsed");
		return;
	}
	(void)om_linkrw_message(msg, &rw);
	om_buf_init(&b);
	om_mime_write(msg, &b);
	om_buf_append(&b, "", 1);
	TAP_OK(has(b.data, "JVBERi0="), "a message without text keeps its part");
	om_buf_free(&b);
	om_mime_free(&msg);
}

int main(void)
{
	test_authres_values();
	test_authres_message();
	test_authres_decision();
	test_find_defang();
	test_text();
	test_html_disable();
	test_html_rewrite();
	test_html_deep();
	test_message();
	test_message_no_text();
	return tap_done();
}
