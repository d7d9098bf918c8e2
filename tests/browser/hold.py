#!/usr/bin/python3
"""A real browser through outbound-hold's pages: headless Chromium (Debian's
chromium + chromium-driver, driven by python3-selenium) opens the link of
the hold notice omamori-filter put in the sender's INBOX, sees the held mail
(subject, recipients inside and outside, the attachment), clicks "今すぐ送信"
(send now), and the test finds exactly one copy at the sink (the Internet)
while the internal recipient had its copy before; then the sender's list
page from the notice, where a second held mail is cancelled with its
button and never arrives.  Phone-sized window; screenshots under
tests/browser/screenshots/ of the build tree (hold-*.png).

Run with /usr/bin/python3 (Debian's python3-selenium).  TAP."""
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import sink, Tap, check, decoded, file_part, header_of, run_suite, text_part  # noqa: E402
from chrome import By, body_text, browser, quit_browser, shot  # noqa: E402


tap = Tap()
SENDER = "carol@example.test"
INSIDE = "bob@example.test"
OUTSIDE = "partner@far.example"
state = {}


def send(st, m, subject):
    bnd = "b-" + m
    raw = ("From: %s\nTo: %s, %s\nSubject: %s %s\nMessage-ID: <%s@example.test>\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n"
           % (SENDER, INSIDE, OUTSIDE, subject, m, m, bnd)).encode()
    for p in (text_part(b"quote " + m.encode()), file_part(b"mitsumori.xlsx", b"y" * 5000)):
        raw += b"--" + bnd.encode() + b"\n" + p
    raw += b"--" + bnd.encode() + b"--\n"
    with st.smtp(login=SENDER) as s:
        check(s.sendmail(SENDER, [INSIDE, OUTSIDE], raw) == {}, "refused")


def notice_links(st, m):
    deadline = time.time() + 40
    while time.time() < deadline:
        for raw in st.fetch_all(SENDER):
            if header_of(raw, "X-Omamori-Hold") and m in decoded(raw):
                text = decoded(raw)
                one = re.search(r"https?://127\.0\.0\.1:\d+/h/[A-Za-z0-9_.~-]+", text)
                many = re.search(r"https?://127\.0\.0\.1:\d+/hl/[A-Za-z0-9_.~-]+", text)
                check(one and many, "no links in the notice:\n%s" % text)
                return one.group(0), many.group(0)
        time.sleep(0.3)
    raise AssertionError("no hold notice for %s" % m)


@tap.case
def the_notice_link_shows_the_held_mail(st):
    m = uuid.uuid4().hex
    state["m"] = m
    send(st, m, "お見積もり")
    check(st.wait_for(INSIDE, m.encode()), "the internal recipient has nothing")
    one, many = notice_links(st, m)
    state["many"] = many
    browser().get(one)
    shot("hold-1-page")
    page = body_text()
    for want in ("お見積もり", SENDER, INSIDE, OUTSIDE, "mitsumori.xlsx", "社外", "社内"):
        check(want in page, "%r not on the page: %r" % (want, page[:600]))
    check(not sink(st, m), "opening the page sent the mail")


@tap.case
def clicking_send_now_sends_one_copy(st):
    m = state["m"]
    buttons = [b for b in browser().find_elements(By.TAG_NAME, "button")
               if b.get_attribute("value") == "send"]
    check(len(buttons) == 1 and buttons[0].text == "今すぐ送信",
          "send button: %r" % [b.text for b in buttons])
    buttons[0].click()
    shot("hold-2-sent")
    check("送信しました" in body_text(), "result page: %r" % body_text()[:300])
    deadline = time.time() + 30
    while not sink(st, m):
        check(time.time() < deadline, "nothing at the sink")
        time.sleep(0.3)
    time.sleep(2)
    check(len(sink(st, m)) == 1, "%d copies at the sink" % len(sink(st, m)))
    browser().back()
    browser().refresh()
    shot("hold-3-after-back")
    check("送信済み" in body_text(), "the page after sending: %r" % body_text()[:300])


@tap.case
def the_list_page_cancels_a_held_mail(st):
    m = uuid.uuid4().hex
    send(st, m, "取り消すメール")
    _, many = notice_links(st, m)
    browser().get(many)
    shot("hold-4-list")
    cards = [c for c in browser().find_elements(By.CSS_SELECTOR, "div.card")
             if m in c.text]
    check(len(cards) == 1, "%d cards for the mail on the list" % len(cards))
    cancel = [b for b in cards[0].find_elements(By.TAG_NAME, "button")
              if b.get_attribute("value") == "cancel"]
    check(cancel and cancel[0].text == "送信を取り消す", "no cancel button")
    cancel[0].click()
    shot("hold-5-cancelled")
    check("取り消しました" in body_text(), "result page: %r" % body_text()[:300])
    time.sleep(4)
    check(not sink(st, m), "a cancelled mail reached the sink")


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", SENDER, "outbound-hold", "on")])
    finally:
        quit_browser()
    sys.exit(rc)
