/* test-mime.c - unit tests of mime.c on GMime: leaves, decoding, names,
 * removal with the other parts kept byte for byte, notices in any charset,
 * the Date against the arrival, recipients. */
#include "tap.h"
#include "mail/mime.h"
#include "mail/sanitize.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

static const char sample[] =
	"From: a@example.jp\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\n"
	"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"X\"\n\n"
	"--X\nContent-Type: multipart/alternative; boundary=\"Y\"\n\n"
	"--Y\nContent-Type: text/plain; charset=ISO-2022-JP\n\n\x1b$B$3$s$K$A$O\x1b(B\n"
	"--Y\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>hi</p></body></html>\n"
	"--Y--\n"
	"--X\nContent-Type: application/octet-stream; name=\"=?UTF-8?B?6KuL5rGC5pu4LmV4ZQ==?=\"\n"
	"Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n"
	"--X\nContent-Type: text/plain; name=\"q.txt\"\nContent-Disposition: attachment; filename=\"q.txt\"\n"
	"Content-Transfer-Encoding: quoted-printable\n\na=3Db soft=\nbreak\n"
	"--X\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"u.bin\"\n"
	"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 u.bin\n#86)C\n`\nend\n"
	"--X--\n";

static struct om_mime_leaf *find(struct om_mime_leaf *leaves, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(leaves[i].path, path) == 0)
			return &leaves[i];
	}
	return NULL;
}

static int decoded_is(const struct om_mime_leaf *leaf, const char *want)
{
	struct om_buf b;
	char *error = NULL;
	int ok;

	om_buf_init(&b);
	ok = leaf != NULL && om_mime_leaf_decode(leaf, &b, &error) == 0 &&
		b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
	om_buf_free(&b);
	free(error);
	return ok;
}

static void test_collect(void)
{
	struct om_mime_msg *msg;
	struct om_mime_leaf *leaves = NULL, *l;
	size_t n = 0;
	char *error = NULL, *reason = NULL, *subject;

	msg = om_mime_parse(sample, strlen(sample), &error);
	TAP_OK(msg != NULL, "sample parses");
	TAP_OK(om_mime_collect(msg, 100, 10, &leaves, &n, &reason) == 0 && n == 5,
	       "five leaves (got %zu)", n);
	l = find(leaves, n, "1.1");
	TAP_OK(l != NULL && l->is_body && strcmp(l->content_type, "text/plain") == 0,
	       "1.1 is the plain body");
	TAP_OK(find(leaves, n, "1.2") != NULL && find(leaves, n, "1.2")->is_body, "1.2 is the html body");
	l = find(leaves, n, "2");
	TAP_OK(l != NULL && !l->is_body && l->filename != NULL &&
	       strcmp(l->filename, "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.exe") == 0,
	       "RFC 2047 file name decoded");
	TAP_OK(decoded_is(l, "hello world"), "base64 decoded");
	/* the newline before a boundary belongs to the boundary */
	TAP_OK(decoded_is(find(leaves, n, "3"), "a=b softbreak"), "quoted-printable decoded");
	TAP_OK(decoded_is(find(leaves, n, "4"), "abc"), "uuencode decoded");
	subject = om_mime_header_decoded(msg, "Subject");
	TAP_OK(subject != NULL && strcmp(subject, "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88") == 0,
	       "ISO-2022-JP subject decoded to UTF-8");
	free(subject);
	om_mime_leaves_free(&leaves, n);
	om_mime_free(&msg);
}

static void test_remove_and_notice(void)
{
	struct om_mime_msg *msg, *again;
	struct om_mime_leaf *leaves = NULL, *l2 = NULL;
	struct om_buf out;
	size_t n = 0, n2 = 0;
	char *error = NULL, *reason = NULL;
	const char *qp = "Content-Type: text/plain; name=\"q.txt\"\nContent-Disposition: attachment; "
		"filename=\"q.txt\"\nContent-Transfer-Encoding: quoted-printable\n\na=3Db soft=\nbreak\n";

	msg = om_mime_parse(sample, strlen(sample), &error);
	om_mime_collect(msg, 100, 10, &leaves, &n, &reason);
	TAP_OK(om_mime_remove_unit(msg, find(leaves, n, "2")) == 1, "attachment removed");
	TAP_OK(om_mime_remove_unit(msg, find(leaves, n, "2")) == 0, "second removal is a no-op");
	om_mime_add_notice(msg, "\xe3\x80\x90\xe6\xb3\xa8\xe6\x84\x8f\xe3\x80\x91 notice <&>");
	om_buf_init(&out);
	om_mime_write(msg, &out);
	TAP_OK(strstr(out.data, qp) != NULL, "the untouched attachment is byte for byte the same");
	TAP_OK(strstr(out.data, "aGVsbG8gd29ybGQ=") == NULL, "removed attachment is gone");
	again = om_mime_parse(out.data, out.len, &error);
	om_mime_collect(again, 100, 10, &l2, &n2, &reason);
	TAP_OK(n2 == 4, "four leaves after removal");
	{
		struct om_buf b;
		om_buf_init(&b);
		om_mime_leaf_decode(find(l2, n2, "1.1"), &b, &error);
		TAP_OK(strncmp(b.data, "\xe3\x80\x90\xe6\xb3\xa8\xe6\x84\x8f\xe3\x80\x91 notice <&>", 22) == 0,
		       "notice at the top of the plain body");
		om_buf_reset(&b);
		om_mime_leaf_decode(find(l2, n2, "1.2"), &b, &error);
		TAP_OK(strstr(b.data, "<body><div class=\"omamori-notice\"") != NULL &&
		       strstr(b.data, "notice &lt;&amp;&gt;") != NULL,
		       "notice escaped, just inside <body> of the html body");
		om_buf_free(&b);
	}
	om_mime_leaves_free(&l2, n2);
	om_mime_free(&again);
	om_mime_leaves_free(&leaves, n);
	om_mime_free(&msg);
	om_buf_free(&out);
}

static void test_limits(void)
{
	struct om_buf m;
	struct om_mime_msg *msg;
	struct om_mime_leaf *leaves = NULL;
	size_t n = 0, i;
	char *error = NULL, *reason = NULL;

	om_buf_init(&m);
	om_buf_append_str(&m, "Content-Type: multipart/mixed; boundary=\"Z\"\n\n");
	for (i = 0; i < 50; i++)
		om_buf_append_str(&m, "--Z\nContent-Type: text/plain\n\nx\n");
	om_buf_append_str(&m, "--Z--\n");
	msg = om_mime_parse(m.data, m.len, &error);
	TAP_OK(om_mime_collect(msg, 20, 10, &leaves, &n, &reason) == 1 &&
	       strstr(reason, "more than 20 MIME parts") != NULL, "part limit reported");
	free(reason);
	om_mime_free(&msg);
	om_buf_free(&m);
}

static long skew_of(const char *text, int *ok_r)
{
	char *error = NULL;
	struct om_mime_msg *msg = om_mime_parse(text, strlen(text), &error);
	long skew = 0;

	*ok_r = msg != NULL && om_mime_date_skew(msg, &skew) == 0;
	free(error);
	om_mime_free(&msg);
	return skew;
}

/* The Date against the arrival (the topmost Received), and recipients. */
static void test_date_skew_and_recipients(void)
{
	static const char future[] = "Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0900\n"
		"Received: from c by a; Mon, 1 Jan 2001 00:00:00 +0000\n"
		"Date: Tue, 24 Nov 2026 02:00:00 +0000\nTo: x@example.jp\n\nhi\n";
	static const char no_hop[] = "Date: Tue, 24 Nov 2026 02:00:00 +0000\n\nhi\n";
	static const char many[] = "To: a@example.jp, b@example.jp\nCc: c@example.jp, "
		"\"D\" <d@example.jp>\nSubject: x\n\nhi\n";
	char *error = NULL;
	struct om_mime_msg *msg;
	int ok;
	long skew = skew_of(future, &ok);

	TAP_OK(ok && skew == 3600, "Date an hour after the topmost Received: +3600 s");
	skew_of(no_hop, &ok);
	TAP_OK(!ok, "no Received header: no skew");
	msg = om_mime_parse(many, strlen(many), &error);
	TAP_OK(msg != NULL && om_mime_recipient_count(msg) == 4, "four recipients in To and Cc");
	om_mime_free(&msg);
	free(error);
}

struct named_seen {
	char text[256];
	int calls;
};

static void named_cb(void *context, const char *name, const char *value)
{
	struct named_seen *seen = context;
	size_t n = strlen(seen->text);

	seen->calls++;
	(void)snprintf(seen->text + n, sizeof(seen->text) - n, "%s=%s;", name, value);
}

/* only the headers of the name asked for, in order, whatever their case,
   their values decoded */
static void test_foreach_header_named(void)
{
	static const char hdrs[] = "Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0900\n"
		"Subject: =?UTF-8?B?5Lu25ZCN?=\nreceived: from c by a\n"
		"X-Other: x\n\nhi\n";
	struct named_seen seen;
	char *error = NULL;
	struct om_mime_msg *msg = om_mime_parse(hdrs, strlen(hdrs), &error);

	memset(&seen, 0, sizeof(seen));
	TAP_OK(msg != NULL, "a message of four headers parses");
	if (msg == NULL)
		return;
	om_mime_foreach_header_named(msg, "RECEIVED", named_cb, &seen);
	TAP_OK(seen.calls == 2 && strcmp(seen.text, "Received=from a by b; Tue, 24 Nov 2026 "
					  "10:00:00 +0900;received=from c by a;") == 0,
	       "both Received headers, top first, and nothing else");
	memset(&seen, 0, sizeof(seen));
	om_mime_foreach_header_named(msg, "subject", named_cb, &seen);
	TAP_OK(seen.calls == 1 && strcmp(seen.text, "Subject=\xe4\xbb\xb6\xe5\x90\x8d;") == 0,
	       "a Subject decoded from RFC 2047");
	memset(&seen, 0, sizeof(seen));
	om_mime_foreach_header_named(msg, "Date", named_cb, &seen);
	TAP_OK(seen.calls == 0, "no Date header: no call");
	om_mime_free(&msg);
	free(error);
}

/* outbound-zip's half in mail/: attachments out (named or marked, an
   attached message whole), the HTML's inline image and the bodies stay,
   a signed message is left alone, one attachment in */
static const char zip_msg[] =
	"From: a@example.jp\nTo: b@far.example\nSubject: s\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"o\"\n\n"
	"--o\nContent-Type: multipart/related; boundary=\"r\"\n\n"
	"--r\nContent-Type: text/html; charset=utf-8\n\n<p>body <img src=\"cid:i1\"></p>\n"
	"--r\nContent-Type: image/png; name=\"logo.png\"\nContent-ID: <i1>\n"
	"Content-Transfer-Encoding: base64\n\naGVsbG8=\n--r--\n"
	"--o\nContent-Type: application/pdf; name=\"a.pdf\"\n"
	"Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D.pdf\n"
	"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n"
	"--o\nContent-Type: message/rfc822\n\nFrom: x@y\nSubject: inner\n\ninner body\n"
	"--o\nContent-Type: text/plain; name=\"notes.txt\"\n\nplain file\n--o--\n";

static void test_take_attachments(void)
{
	static const char signed_msg[] =
		"From: a@example.jp\nMIME-Version: 1.0\n"
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"s\"\n\n"
		"--s\nContent-Type: text/plain\n\nsigned\n"
		"--s\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\n\nxx\n--s--\n";
	struct om_mime_msg *msg;
	struct om_mime_attachment *list = NULL;
	struct om_buf out;
	const char *skip = NULL;
	char *error = NULL;
	size_t n = 0;
	int ret;

	msg = om_mime_parse(zip_msg, sizeof(zip_msg) - 1, &error);
	ret = msg != NULL ? om_mime_take_attachments(msg, 100, 10, &list, &n, &skip, &error) : -1;
	TAP_OK(ret == 0 && n == 3, "three attachments taken (%zu)", n);
	if (n == 3) {
		TAP_OK(strcmp(list[0].filename, "見積.pdf") == 0 &&
		       list[0].data.len == 8 && memcmp(list[0].data.data, "%PDF-1.4", 8) == 0,
		       "the PDF: RFC 2231 name decoded, content decoded");
		TAP_OK(strcmp(list[1].filename, "message.eml") == 0 &&
		       strstr(list[1].data.data, "inner body") != NULL,
		       "the attached message whole, as message.eml");
		TAP_OK(strcmp(list[2].filename, "notes.txt") == 0, "a named text part");
	}
	om_buf_init(&out);
	if (msg != NULL) {
		om_mime_add_attachment(msg, "attachments.zip", "application", "zip", "PK", 2);
		om_mime_write(msg, &out);
	}
	TAP_OK(strstr(out.data, "attachments.zip") != NULL && strstr(out.data, "UEs=") != NULL &&
	       strstr(out.data, "cid:i1") != NULL && strstr(out.data, "aGVsbG8=") != NULL &&
	       strstr(out.data, "JVBERi0xLjQ=") == NULL && strstr(out.data, "inner body") == NULL,
	       "rewritten: the zip in, the HTML and its image kept, the files out");
	om_mime_attachments_free(&list, n);
	TAP_OK(list == NULL, "om_mime_attachments_free sets NULL");
	om_mime_free(&msg);
	om_buf_free(&out);

	msg = om_mime_parse(signed_msg, sizeof(signed_msg) - 1, &error);
	ret = msg != NULL ? om_mime_take_attachments(msg, 100, 10, &list, &n, &skip, &error) : -1;
	TAP_OK(ret == 0 && n == 0 && list == NULL && skip != NULL,
	       "a signed message is left alone (%s)", skip != NULL ? skip : "-");
	om_mime_free(&msg);

	/* a single-part message gets a multipart/mixed around it */
	msg = om_mime_parse("From: a@b\nSubject: s\n\nonly text\n",
			    strlen("From: a@b\nSubject: s\n\nonly text\n"), &error);
	om_buf_init(&out);
	if (msg != NULL) {
		om_mime_add_attachment(msg, "attachments.zip", "application", "zip", "PK", 2);
		om_mime_write(msg, &out);
	}
	TAP_OK(strstr(out.data, "multipart/mixed") != NULL && strstr(out.data, "only text") != NULL &&
	       strstr(out.data, "attachments.zip") != NULL, "a single part becomes mixed");
	om_mime_free(&msg);
	om_buf_free(&out);
	free(error);
}

/* The portal's HTML sanitiser (mail/sanitize.h): no script, style,
   image, event handler, javascript: link; the text and plain markup kept. */
static void test_html_sanitize(void)
{
	static const char html[] =
		"<html><head><title>t</title><style>p{}</style></head><body>"
		"<p onclick=\"x()\" style=\"background:url(http://e/x)\">Hello <b>world</b></p>"
		"<script>alert(1)</script><img src=\"http://track.example/p.gif\" alt=\"logo\">"
		"<a href=\"javascript:alert(1)\">bad</a><a href=\"https://ok.example/\">good</a>"
		"<iframe src=\"http://e/\"></iframe><form><input name=a></form>"
		"<svg><script>1</script></svg><custom>kept text</custom>"
		"<table><tr><td colspan=\"2\" onmouseover=\"y()\">cell</td></tr></table>"
		"</body></html>";
	char *out = om_html_sanitize(html, sizeof(html) - 1);

	TAP_OK(out != NULL, "sanitised");
	if (out == NULL)
		return;
	TAP_OK(strstr(out, "<p>Hello <b>world</b></p>") != NULL, "text and markup kept: %s", out);
	TAP_OK(strstr(out, "script") == NULL && strstr(out, "alert") == NULL, "no script: %s", out);
	TAP_OK(strstr(out, "<img") == NULL && strstr(out, "track.example") == NULL &&
	       strstr(out, "[logo]") != NULL, "image dropped, alt kept: %s", out);
	TAP_OK(strstr(out, "onclick") == NULL && strstr(out, "onmouseover") == NULL &&
	       strstr(out, "style") == NULL && strstr(out, "url(") == NULL,
	       "no handler or style: %s", out);
	TAP_OK(strstr(out, "javascript") == NULL && strstr(out, "href=\"https://ok.example/\"") != NULL &&
	       strstr(out, "noopener") != NULL, "links: %s", out);
	TAP_OK(strstr(out, "iframe") == NULL && strstr(out, "<form") == NULL &&
	       strstr(out, "<input") == NULL && strstr(out, "<svg") == NULL &&
	       strstr(out, "<title") == NULL, "active elements dropped: %s", out);
	TAP_OK(strstr(out, "kept text") != NULL && strstr(out, "<custom") == NULL,
	       "unknown element unwrapped: %s", out);
	TAP_OK(strstr(out, "colspan=\"2\"") != NULL, "table attributes kept: %s", out);
	free(out);
	out = om_html_sanitize("", 0);
	TAP_OK(out != NULL || 1, "empty input does not crash");
	free(out);
	/* remote images, only when the reader asks (issue 17) */
	{
		static const char imgs[] =
			"<p>x</p><img src=\"https://img.example/a.png\" alt=\"a\" onerror=\"x()\" "
			"style=\"width:1px\" width=\"10\"><img src=\"cid:part1\" alt=\"inline\">"
			"<img src=\"data:image/png;base64,AAAA\" alt=\"data\">"
			"<img src=\" javascript:alert(1)\" alt=\"js\">";

		out = om_html_sanitize_images(imgs, sizeof(imgs) - 1, 1);
		if (out == NULL)
			out = om_strdup("(null)");
		TAP_OK( strstr(out, "src=\"https://img.example/a.png\"") != NULL &&
		       strstr(out, "referrerpolicy=\"no-referrer\"") != NULL &&
		       strstr(out, "width=\"10\"") != NULL,
		       "with images: a remote image kept, without a referrer: %s", out);
		TAP_OK(strstr(out, "onerror") == NULL && strstr(out, "style") == NULL &&
		       strstr(out, "cid:") == NULL && strstr(out, "data:") == NULL &&
		       strstr(out, "javascript") == NULL && strstr(out, "[inline]") != NULL &&
		       strstr(out, "[data]") != NULL && strstr(out, "[js]") != NULL,
		       "with images: no handler, style, cid, data or javascript image: %s", out);
		free(out);
		out = om_html_sanitize_images(imgs, sizeof(imgs) - 1, 0);
		if (out == NULL)
			out = om_strdup("(null)");
		TAP_OK(strstr(out, "<img") == NULL && strstr(out, "[a]") != NULL,
		       "without: no image: %s", out);
		free(out);
	}
}

int main(void)
{
	om_mime_global_init();
	test_collect();
	test_remove_and_notice();
	test_limits();
	test_date_skew_and_recipients();
	test_foreach_header_named();
	test_take_attachments();
	test_html_sanitize();
	return tap_done();
}
