#!/usr/bin/python3
"""A real browser through outbound-zip's "send the password to the
recipients" page (seed 001's メール確認画面): headless Chromium (Debian's
chromium + chromium-driver, driven by python3-selenium) opens the /z/ link
of the password notice omamori-filter put in the sender's INBOX, sees the
mail (subject, attachments.zip, the recipients marked outside and inside,
"not sent yet"), presses 「パスワードを受信者に送信」, and the test finds
the password mail at the sink (the Internet) with the notice's password;
back on the page it says "sent" with no button, and the page never shows
the password.  Phone-sized window; screenshots under
tests/browser/screenshots/ of the build tree (zip-*.png).

Run with /usr/bin/python3 (Debian's python3-selenium).  TAP."""
import email
import email.policy
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (attachment_mail, send_as, Tap, check, decoded, header_of,  # noqa: E402
                    run_suite, wait_mail)
from chrome import By, body_text, browser, press, quit_browser, shot  # noqa: E402


tap = Tap()
SENDER = "carol@example.test"
INSIDE = "bob@example.test"
OUTSIDE = "partner@far.example"
state = {}


def send(st, m, subject):
    send_as(st, SENDER, [OUTSIDE, INSIDE],
            attachment_mail(SENDER, [OUTSIDE, INSIDE], subject, m,
                            b"see the quote " + m.encode(), b"mitsumori.xlsx", b"y" * 5000))


def notice(st, m):
    """The password notice about m: its /z/ link and its password."""
    text = decoded(wait_mail(st, SENDER, lambda raw: m in decoded(raw) and
                             "【パスワード】" in decoded(raw), "password notice for %s" % m))
    link = re.search(r"https?://127\.0\.0\.1:\d+/z/[A-Za-z0-9_.~-]+", text)
    pw = re.search(r"【パスワード】\n([A-Za-z0-9]{12,})\n", text)
    check(link and pw, "no link or password in the notice:\n%s" % text)
    return link.group(0), pw.group(1)


def password_mails(st, m):
    out = []
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        if name.startswith("."):
            continue
        with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
            raw = f.read()
        if header_of(raw, "X-Omamori-Notice") == "zip-password" and m in decoded(raw):
            out.append(raw)
    return out


@tap.case
def the_notice_link_shows_the_recipients(st):
    m = uuid.uuid4().hex
    state["m"] = m
    send(st, m, "お見積もり")
    link, pw = notice(st, m)
    state["link"], state["pw"] = link, pw
    browser().get(link)
    shot("zip-1-page")
    page = body_text()
    for want in ("パスワードの送信", "お見積もり", "attachments.zip", OUTSIDE, INSIDE, "社外",
                 "社内", "まだ送信していません"):
        check(want in page, "%r not on the page: %r" % (want, page[:800]))
    check(pw not in browser().page_source, "the page shows the password")
    time.sleep(1)
    check(not password_mails(st, m), "opening the page sent the password")


@tap.case
def pressing_the_button_sends_the_password_once(st):
    m, pw = state["m"], state["pw"]
    press("send", "パスワードを受信者に送信", "zip-2-sent")
    check("パスワードを受信者に送信しました" in body_text(), "result page: %r" % body_text()[:300])
    deadline = time.time() + 30
    while not password_mails(st, m):
        check(time.time() < deadline, "no password mail at the sink")
        time.sleep(0.3)
    time.sleep(2)
    got = password_mails(st, m)
    check(len(got) == 1, "%d password mails at the sink" % len(got))
    body = email.message_from_bytes(got[0], policy=email.policy.default) \
        .get_body(preferencelist=("plain",)).get_content()
    check("【パスワード】\n%s\n" % pw in body, "not the notice's password:\n%s" % body)
    # back to the page by the result's link: sent, no button
    back = [a for a in browser().find_elements(By.TAG_NAME, "a")
            if a.text == "パスワードの送信（メール確認画面）"]
    check(len(back) == 1, "no link back to the page on the result")
    back[0].click()
    shot("zip-3-after")
    page = body_text()
    check("送信済み" in page, "the page after sending: %r" % page[:600])
    check(not [b for b in browser().find_elements(By.TAG_NAME, "button")
               if b.get_attribute("value") == "send"], "the button is still there")
    time.sleep(2)
    check(len(password_mails(st, m)) == 1, "sent twice")


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", SENDER, "outbound-zip", "on")])
    finally:
        quit_browser()
    sys.exit(rc)
