#!/usr/bin/python3
"""A real browser through outbound-hold's pages: headless Chromium (Debian's
chromium + chromium-driver, driven by python3-selenium) opens the link of
the hold notice omamori-filter put in the sender's INBOX, sees the held mail
(subject, recipients inside and outside, the attachment), clicks "今すぐ送信"
(send now), and the test finds exactly one copy at the sink (the Internet)
while the internal recipient had its copy before; then the sender's list
page from the notice, where a second held mail is cancelled with its
button and never arrives; a hold whose copy another host keeps is asked
for, and its page says that host sends it.  Phone-sized window; screenshots under
tests/browser/screenshots/ of the build tree (hold-*.png).

Run with /usr/bin/python3 (Debian's python3-selenium).  TAP."""
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (attachment_mail, send_as, sink, Tap, check, decoded,  # noqa: E402
                    header_of, run_suite, wait_mail, wait_sink)
from chrome import By, body_text, browser, press, quit_browser, shot  # noqa: E402


tap = Tap()
SENDER = "carol@example.test"
INSIDE = "bob@example.test"
OUTSIDE = "partner@far.example"
state = {}


def send(st, m, subject):
    send_as(st, SENDER, [INSIDE, OUTSIDE],
            attachment_mail(SENDER, [INSIDE, OUTSIDE], subject, m, b"quote " + m.encode(),
                            b"mitsumori.xlsx", b"y" * 5000))


def notice_links(st, m):
    text = decoded(wait_mail(st, SENDER, lambda raw: header_of(raw, "X-Omamori-Hold") and
                             m in decoded(raw), "hold notice for %s" % m))
    one = re.search(r"https?://127\.0\.0\.1:\d+/h/[A-Za-z0-9_.~-]+", text)
    many = re.search(r"https?://127\.0\.0\.1:\d+/hl/[A-Za-z0-9_.~-]+", text)
    check(one and many, "no links in the notice:\n%s" % text)
    return one.group(0), many.group(0)


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
    press("send", "今すぐ送信", "hold-2-sent")
    check("送信しました" in body_text(), "result page: %r" % body_text()[:300])
    got = wait_sink(st, m, timeout=30, settle=2)
    check(len(got) == 1, "%d copies at the sink" % len(got))
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
    press("cancel", "送信を取り消す", "hold-5-cancelled", within=cards[0])
    check("取り消しました" in body_text(), "result page: %r" % body_text()[:300])
    time.sleep(4)
    check(not sink(st, m), "a cancelled mail reached the sink")


@tap.case
def a_hold_kept_by_another_host_is_asked_for_and_shown_so(st):
    # as on a site of several mail hosts (tests/multihost case 4 does it
    # for real between three): the held copy is in another host's spool,
    # so this host's omamori-filter records the request for that host,
    # and the page says who sends it
    m = uuid.uuid4().hex
    send(st, m, "別のサーバーのメール")
    one, _ = notice_links(st, m)
    # the one still held (the earlier cases sent or cancelled theirs)
    rows = st.sql("SELECT id, subject FROM holds WHERE mailbox = ? AND state = 1", (SENDER,))
    check(len(rows) == 1, "held rows: %r" % rows)
    st.sql("UPDATE holds SET node = ? WHERE id = ?", ("mx-far", rows[0][0]))
    browser().get(one)
    press("send", "今すぐ送信", "hold-6-asked")
    page = body_text()
    check("このメールを預かっているサーバーが数秒以内に送信します" in page,
          "the page after asking: %r" % page[:300])
    shot("hold-6-asked")   # again: press's may be of the page before
    browser().get(one)
    shot("hold-7-asked-state")
    page = body_text()
    check("送信処理中（このメールを預かっているサーバーが送信します）" in page,
          "the held mail's page once asked: %r" % page[:400])
    check(not browser().find_elements(By.CSS_SELECTOR, "button[value=send]"),
          "the page still offers to send a mail another host is sending")
    state_rows = st.sql("SELECT state, asked_by FROM holds WHERE id = ?", (rows[0][0],))
    check(state_rows and int(state_rows[0][0]) == 6 and state_rows[0][1],
          "not recorded as asked of its host (state 6, release-asked): %r" % state_rows)
    time.sleep(2)
    check(not sink(st, m), "this host sent a mail whose copy is another host's")


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", SENDER, "outbound-hold", "on")])
    finally:
        quit_browser()
    sys.exit(rc)
