#!/usr/bin/python3
"""A real browser through the click-time gate (issue 15, doc/links.md):
with url-rewrite on for example.test, a mail to alice whose link points at
a tiny HTTP site this test runs on loopback arrives with the link rewritten
to omamori-web's /u/<token>; headless Chromium (Debian's chromium +
chromium-driver, python3-selenium) opens that link and lands on the local
site (the gate's 302); after `omamorictl urls add` of the site's URL the
same link shows the block page (re-checked at click, ja); a token with one
character changed is refused (400) and never reaches the site.  The site
counts its visits: only the clean click reached it.  Phone-sized window;
screenshots under tests/browser/screenshots/ of the build tree (links-*.png).

Run with /usr/bin/python3 (Debian's python3-selenium).  TAP."""
import email
import email.policy
import http.server
import os
import re
import sys
import threading
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402
from chrome import body_text, browser, quit_browser, shot  # noqa: E402

tap = Tap()
USER = "alice@example.test"
state = {"visits": 0}


class Site(http.server.BaseHTTPRequestHandler):
    """The "Internet" site a mail links to: one page, visits counted."""

    def do_GET(self):
        if self.path.startswith("/landing"):
            state["visits"] += 1
        body = "<html><body><h1 id=site>LOCAL TEST SITE</h1></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["site"] = "http://127.0.0.1:%d/landing.html" % server.server_address[1]


def gate_link(st):
    """Mails alice an HTML mail linking the site; the gate's link in it."""
    m = uuid.uuid4().hex[:12]
    html = ("<html><body><p>ご注文の確認は<a href=\"%s\">こちら</a> %s</p></body></html>"
            % (state["site"], m))
    raw = ("From: shop@remote.test\r\nTo: %s\r\nSubject: order %s\r\n"
           "Message-ID: <%s@remote.test>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
           % (USER, m, m, html)).encode()
    st.send(raw, [USER], sender="shop@remote.test")
    got = email.message_from_bytes(st.wait_for(USER, m.encode())[0], policy=email.policy.default)
    body = got.get_body(("html",)).get_content()
    found = re.search(r'href="(http://127\.0\.0\.1:\d+/u/[A-Za-z0-9_.-]+)">こちら</a>', body)
    check(found is not None, "no gate link in the delivered HTML: %r" % body[:500])
    check(got["X-Omamori-Links"] == "rewritten", "X-Omamori-Links: rewritten")
    return found.group(1)


@tap.case
def clean_link_reaches_the_site(st):
    state["link"] = gate_link(st)
    browser().get(state["link"])
    shot("links-1-clean")
    check("LOCAL TEST SITE" in body_text(), "the site: %r" % body_text()[:200])
    check(browser().current_url == state["site"], "at %s" % browser().current_url)
    check(state["visits"] == 1, "one visit: %d" % state["visits"])


@tap.case
def blocked_after_delivery(st):
    st.ctl("urls", "add", state["site"])
    browser().get(state["link"])
    shot("links-2-blocked")
    page = body_text()
    check("このリンクは危険なため開けません" in page and "127.0.0.1" in page,
          "the block page: %r" % page[:300])
    check(state["visits"] == 1, "the site not visited again: %d" % state["visits"])


@tap.case
def tampered_token_refused(st):
    link = state["link"]
    at = link.index("/u/") + 3 + 10      # a character inside the claims
    bad = link[:at] + ("A" if link[at] != "A" else "B") + link[at + 1:]
    browser().get(bad)
    shot("links-3-tampered")
    page = body_text()
    check("LOCAL TEST SITE" not in page and state["visits"] == 1, "never reaches the site")
    check("このリンクは無効です" in page or "not valid" in page or "無効" in page,
          "the bad-link page: %r" % page[:300])


if __name__ == "__main__":
    start_site()
    try:
        rc = run_suite(tap, subscribe=(USER,),
                       setup=[("domain", "set", "example.test", "url-rewrite", "on")])
    finally:
        quit_browser()
    sys.exit(rc)
