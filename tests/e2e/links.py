#!/usr/bin/env python3
"""End-to-end: issue 15's banner, disabled links and click-time gate through
real Postfix, scand and Dovecot, checked over IMAP (and the gate over HTTP).

The MTA's side of sender authentication is played by Postfix itself: a
check_sender_access map PREPENDs an Authentication-Results header with the
trusted authserv-id mx.links.test above Postfix's own Received header,
exactly where policyd-spf or a milter puts theirs.  Each case mails
alice@example.test (inbound-virus) an HTML mail - Shift_JIS HTML with
nested tables, an inline cid: image and a form, beside ISO-2022-JP text:

- SPF fail, DKIM fail, DMARC fail with p=reject: the banner (ja) naming
  the failed check at the top of both parts, every URL defanged, no live
  href, the form neutralised, the image part byte for byte, X-Omamori-Links:
  disabled;
- DMARC alone fails with p=none: the banner, links kept;
- all pass: no banner, links kept, no X-Omamori-Links;
- forged: the sender's own A-R headers (ours claiming "pass", another id's)
  are gone from the delivered mail, the MTA's fail stands (banner); a
  sender's trusted-looking "fail" alone (no MTA header) is no failure
  either: no banner, and it is removed;
- link-disable on: every link disabled, the policy banner;
- url-rewrite on: links go to the web's /u/ with the host still shown; the
  gate answers 302 to the original for a clean URL, a page (no redirect)
  to HEAD and to a prefetch, 400 to a tampered token, and after
  `omamorictl urls add` the block page (403) for the same link - re-checked
  at click; the clicks are in the store.  TAP."""
import email
import email.base64mime
import email.policy
import http.client
import os
import time
import subprocess
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402

tap = Tap()
USER = "alice@example.test"
AUTHSERV = "mx.links.test"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2213ebc"
                    "0000000049454e44ae426082")
# what the MTA says for each sender (Postfix PREPEND, above its Received)
MTA_RESULTS = {
    "spf-fail": "spf=fail smtp.mailfrom=remote.test",
    "dkim-fail": "spf=pass smtp.mailfrom=remote.test; dkim=fail header.d=remote.test",
    "dmarc-reject": "spf=pass smtp.mailfrom=remote.test; dkim=none; "
                    "dmarc=fail (p=reject dis=none) header.from=remote.test",
    "dmarc-none": "spf=pass smtp.mailfrom=remote.test; dkim=none; "
                  "dmarc=fail (p=none dis=none) header.from=remote.test",
    "pass": "spf=pass smtp.mailfrom=remote.test; dkim=pass header.d=remote.test; "
            "dmarc=pass (p=reject dis=none) header.from=remote.test",
    "forged": "spf=fail smtp.mailfrom=remote.test; dmarc=fail (p=reject dis=none) "
              "header.from=remote.test",
}


def mta_side(st):
    """Postfix PREPENDs our MTA's Authentication-Results per sender."""
    etc = os.path.join(st.dir, "postfix", "etc")
    path = os.path.join(etc, "authres_map")
    with open(path, "w") as f:
        for who, res in MTA_RESULTS.items():
            f.write("%s@remote.test PREPEND Authentication-Results: %s; %s\n"
                    % (who, AUTHSERV, res))
    subprocess.run(["postconf", "-c", etc, "-e",
                    "smtpd_sender_restrictions = check_sender_access texthash:" + path],
                   check=True)
    subprocess.run(["postfix", "-c", etc, "reload"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def html_mail(sender, marker, extra_headers=b""):
    html = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
            "charset=Shift_JIS\"><title>注文</title></head><body>"
            "<table><tr><td><table><tr><td>"
            "詳細は<a href=\"https://example.airnet.test/order?id=1\">こちら</a>から"
            "</td></tr></table></td></tr></table>"
            "<img src=\"cid:logo@links\" alt=\"logo\">"
            "<form action=\"https://evil.test/post\"><input name=\"card\"></form>"
            "<p>%s https://faq.airnet.test/</p></body></html>" % marker)
    text = "詳細は https://example.airnet.test/order?id=1 から\n%s\n" % marker
    boundary_a, boundary_r = "ALT" + marker, "REL" + marker
    png_b64 = email.base64mime.body_encode(PNG).encode()
    msg = (b"From: Airnet <" + sender.encode() + b">\r\n"
           b"To: " + USER.encode() + b"\r\n"
           b"Subject: order " + marker.encode() + b"\r\n"
           b"Message-ID: <" + marker.encode() + b"@remote.test>\r\n"
           b"MIME-Version: 1.0\r\n" + extra_headers +
           b"Content-Type: multipart/alternative; boundary=\"" + boundary_a.encode() + b"\"\r\n"
           b"\r\n--" + boundary_a.encode() + b"\r\n"
           b"Content-Type: text/plain; charset=ISO-2022-JP\r\n"
           b"Content-Transfer-Encoding: 7bit\r\n\r\n" + text.encode("iso-2022-jp") +
           b"\r\n--" + boundary_a.encode() + b"\r\n"
           b"Content-Type: multipart/related; boundary=\"" + boundary_r.encode() + b"\"\r\n"
           b"\r\n--" + boundary_r.encode() + b"\r\n"
           b"Content-Type: text/html; charset=Shift_JIS\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + html.encode("shift_jis") +
           b"\r\n--" + boundary_r.encode() + b"\r\n"
           b"Content-Type: image/png\r\nContent-ID: <logo@links>\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + png_b64 +
           b"\r\n--" + boundary_r.encode() + b"--\r\n"
           b"\r\n--" + boundary_a.encode() + b"--\r\n")
    return msg


def deliver(st, who, extra_headers=b""):
    marker = "m" + uuid.uuid4().hex[:12]
    sender = "%s@remote.test" % who
    st.send(html_mail(sender, marker, extra_headers), [USER], sender=sender)
    raw = st.wait_for(USER, marker.encode())[0]
    return marker, raw, email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg):
    """(text, html, png bytes) of a delivered mail, decoded."""
    text = html = png = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = part.get_content()
        elif ctype == "text/html":
            html = part.get_content()
        elif ctype == "image/png":
            png = part.get_payload(decode=True)
    return text, html, png


def authres(msg):
    return [str(v) for v in msg.get_all("Authentication-Results", [])]


def check_disabled(msg, failed_word, st_brand="Example ISP"):
    text, html, png = parts(msg)
    check(text is not None and html is not None, "both parts still there")
    check(text.startswith("<%s> 注意！なりすましメールの可能性があります。" % st_brand),
          "banner first in the text part: %r" % text[:120])
    check(failed_word in text and failed_word in html,
          "the banner names %s" % failed_word)
    check("hxxps://example[.]airnet[.]test/order?id=1" in text and "https://" not in text,
          "text URLs defanged: %r" % text)
    check("omamori-banner" in html and "なりすまし" in html, "banner in the HTML")
    check("href=\"http" not in html and "[hxxps://example[.]airnet[.]test/order?id=1]"
          "こちら" in html, "anchors disabled, URL shown as text before the anchor text")
    check("<form" not in html and "evil.test" not in html, "form neutralised")
    check("<table><tr><td><table><tr><td>" in html and "cid:logo@links" in html,
          "nested tables and the inline image reference intact")
    check("charset=UTF-8" in html, "the HTML's meta says UTF-8 (what it is now)")
    check(png == PNG, "the inline image byte for byte")
    check(msg["X-Omamori-Links"] == "disabled", "X-Omamori-Links: disabled")


@tap.case
def spf_fail_disables_links(st):
    _, _, msg = deliver(st, "spf-fail")
    check_disabled(msg, "(SPF)")
    check(authres(msg) and AUTHSERV in authres(msg)[0], "the MTA's own A-R kept")


@tap.case
def dkim_fail_disables_links(st):
    _, _, msg = deliver(st, "dkim-fail")
    check_disabled(msg, "(DKIM)")


@tap.case
def dmarc_reject_disables_links(st):
    _, _, msg = deliver(st, "dmarc-reject")
    check_disabled(msg, "(DMARC)")


@tap.case
def dmarc_none_banner_links_kept(st):
    _, _, msg = deliver(st, "dmarc-none")
    text, html, png = parts(msg)
    check("なりすまし" in text and "(DMARC)" in text and "p=none" in text,
          "banner says DMARC failed and why links stay: %r" % text[:300])
    check("https://example.airnet.test/order?id=1" in text, "text link kept")
    check("href=\"https://example.airnet.test/order?id=1\"" in html, "HTML link kept")
    check(png == PNG, "image intact")
    check(msg["X-Omamori-Links"] is None, "no X-Omamori-Links")


@tap.case
def all_pass_untouched(st):
    _, raw, msg = deliver(st, "pass")
    text, html, _ = parts(msg)
    check("なりすまし" not in text and "omamori-banner" not in html, "no banner")
    check("https://example.airnet.test/order?id=1" in text and
          "href=\"https://example.airnet.test/order?id=1\"" in html, "links kept")
    check(msg["X-Omamori-Links"] is None, "no X-Omamori-Links")


@tap.case
def forged_authres_removed(st):
    forged = (b"Authentication-Results: " + AUTHSERV.encode() +
              b"; spf=pass smtp.mailfrom=remote.test; dkim=pass; dmarc=pass\r\n"
              b"Authentication-Results: other.example; dmarc=pass\r\n")
    _, raw, msg = deliver(st, "forged", forged)
    ars = authres(msg)
    check(len(ars) == 1 and "spf=fail" in ars[0], "only the MTA's A-R left: %r" % ars)
    check(b"other.example" not in raw and b"dkim=pass" not in raw,
          "the sender's A-R headers are gone")
    check_disabled(msg, "(SPF)")
    # a sender's trusted-looking fail, no MTA header (a sender unknown to
    # the map): no failure counted, and the header removed
    forged_fail = (b"Authentication-Results: " + AUTHSERV.encode() +
                   b"; spf=fail smtp.mailfrom=remote.test\r\n")
    _, raw, msg = deliver(st, "nobody", forged_fail)
    text, _, _ = parts(msg)
    check("なりすまし" not in text, "a forged fail is no failure")
    check(not authres(msg), "and it is removed: %r" % authres(msg))


@tap.case
def link_disable_setting(st):
    st.ctl("domain", "set", "example.test", "link-disable", "on")
    try:
        _, _, msg = deliver(st, "pass")
        text, html, png = parts(msg)
        check("管理者の設定により無効化" in text, "the policy banner: %r" % text[:200])
        check("https://" not in text and "href=\"http" not in html, "every link disabled")
        check(png == PNG and msg["X-Omamori-Links"] == "disabled", "image intact, header")
    finally:
        st.ctl("domain", "set", "example.test", "link-disable", "off")


def gate_get(st, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", int(st.WEB_PORT), timeout=20)
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read().decode("utf-8", "replace")
    loc = resp.getheader("Location")
    conn.close()
    return resp.status, loc, body


@tap.case
def url_rewrite_and_gate(st):
    st.ctl("domain", "set", "example.test", "url-rewrite", "on")
    try:
        _, _, msg = deliver(st, "pass")
    finally:
        st.ctl("domain", "set", "example.test", "url-rewrite", "off")
    text, html, png = parts(msg)
    web = "http://127.0.0.1:%s/u/" % st.WEB_PORT
    check(msg["X-Omamori-Links"] == "rewritten", "X-Omamori-Links: rewritten")
    check("hxxps://example[.]airnet[.]test/order?id=1 <" + web in text,
          "text: the original shown defanged, the gate's link beside it: %r" % text)
    check(">こちら</a>" in html and "href=\"" + web in html and
          "href=\"https://example" not in html, "HTML: anchor text kept, href to the gate")
    check(png == PNG, "image intact")
    start = html.index("href=\"" + web) + len("href=\"")
    link = html[start:html.index("\"", start)]
    path = urllib.parse.urlsplit(link).path
    status, loc, _ = gate_get(st, path)
    check(status == 302 and loc == "https://example.airnet.test/order?id=1",
          "a clean URL: 302 to the original (%s %s)" % (status, loc))
    status, loc, _ = gate_get(st, path + "?url=https://evil.test/")
    check(status == 302 and loc == "https://example.airnet.test/order?id=1",
          "nothing from the query string")
    status, loc, body = gate_get(st, path, "HEAD")
    check(status == 200 and loc is None, "HEAD: a page, no redirect")
    status, loc, body = gate_get(st, path, headers={"Sec-Purpose": "prefetch"})
    check(status == 200 and loc is None and "example.airnet.test" in body,
          "prefetch: a page naming the host, no redirect")
    status, loc, body = gate_get(st, path, headers={"User-Agent": "Slackbot-LinkExpanding 1.0"})
    check(status == 200 and loc is None, "a preview agent: a page")
    token = path[len("/u/"):]
    head, mac = token.split(".")
    tampered = "/u/" + head[:-2] + ("A" if head[-2] != "A" else "B") + head[-1] + "." + mac
    status, loc, _ = gate_get(st, tampered)
    check(status == 400 and loc is None, "a tampered token: 400 (%s)" % status)
    st.ctl("urls", "add", "example.airnet.test")
    status, loc, body = gate_get(st, path)
    check(status == 403 and loc is None and "gate-blocked" in body,
          "listed after delivery: the block page (%s)" % status)
    st.ctl("urls", "del", "example.airnet.test")
    st.ctl("urls", "add", "https://example.airnet.test/order?id=1", "--verdict", "warn")
    status, loc, body = gate_get(st, path)
    check(status == 200 and loc is None and "gate-warned" in body and
          "gate-continue" in body, "warn: the warning page with continue")
    st.ctl("urls", "del", "https://example.airnet.test/order?id=1")
    # omamori-web writes clicks in batches, at most 200 ms after a click
    deadline = time.time() + 5
    while True:
        rows = st.sql("SELECT host, verdict FROM url_clicks WHERE mailbox = ?", (USER,))
        if len(rows) >= 4 or time.time() > deadline:
            break
        time.sleep(0.1)
    check(("example.airnet.test", 0) in rows and ("example.airnet.test", 2) in rows and
          ("example.airnet.test", 1) in rows, "clicks recorded, previews not: %r" % rows)
    check(len(rows) == 4, "two clean clicks, a block, a warn: %r" % rows)


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=(USER,),
                       extra_conf="trusted_authserv_id = other-ours.test " + AUTHSERV + "\n",
                       prepare=mta_side))
