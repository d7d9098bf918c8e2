#!/usr/bin/python3
"""The admin panel's message trace in a real browser (issue 18: "the trace
shows a quarantined and a released mail step by step").  A spam (a
block-listed From) goes through the real Postfix, policyd, scand and
Dovecot into bob's Quarantine and is released with omamorictl quarantine;
alice, the main admin of example.test, logs in (Dovecot password, the
admin button), follows the panel's "trace" link, types the Message-ID in
the search form and sees one message with the steps policy, scan,
deliver, quarantine, release in that order.  boss, the admin of
example.org (a row of example.org with the same Message-ID in the
store), searching the same Message-ID sees only example.org's row, and
his URL tampered to example.test is 403; alice's URL tampered to
example.org is 403 with nothing of it; carol, a deputy without the trace
right, gets 403; dave, a deputy with it, sees the steps.  Screenshots
under tests/browser/screenshots/ (admin-trace-*).  Run with
/usr/bin/python3.  TAP."""
import os
import re
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402
from chrome import By, admin_login, body_text, browser, quit_browser, shot, status_of  # noqa: E402

tap = Tap()
ADMIN = "alice@example.test"
USER = "bob@example.test"
NOTRACE = "carol@example.test"
TRACER = "dave@example.test"
ORG_ADMIN = "boss@example.org"
SENDER_HEADER = "ads@pest-trace.example"
ORG_SECRET = "secret-of-example-org"
state = {}




def trace_url(panel, domain, mid):
    return "%s?%s" % (panel, urllib.parse.urlencode(
        {"domain": domain, "page": "trace", "mid": mid}))


def where(st, m, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Quarantine"):
            found = [raw for raw in st.fetch_all(USER, box) if m.encode() in raw]
            if found:
                return box, found[0]
        time.sleep(0.3)
    raise AssertionError("%s never arrived; maillog:\n%s" % (m, st.tail("maillog")))


def shown_steps():
    """[(message heading, [(step, result, recipient, detail)])] of the page."""
    out = []
    for card in browser().find_elements(By.CSS_SELECTOR, "#trace .msg"):
        rows = []
        for tr in card.find_elements(By.CSS_SELECTOR, "tr.step"):
            rows.append(tuple(tr.find_element(By.CSS_SELECTOR, "td." + c).text
                              for c in ("step", "result", "rcpt", "detail")))
        out.append((card.find_element(By.TAG_NAME, "p").text, rows))
    return out


@tap.case
def a_spam_is_quarantined_then_released(st):
    m = uuid.uuid4().hex
    raw = ("From: Ads <%s>\r\nTo: %s\r\nSubject: trace-web %s\r\n"
           "Message-ID: <%s@e2e.test>\r\nDate: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\n"
           "Buy now.\r\n" % (SENDER_HEADER, USER, m, m)).encode()
    st.send(raw, [USER], sender="bounce@mailer.example")
    box, got = where(st, m)
    check(box == "Quarantine", "the spam went to %s" % box)
    qid = re.search(rb"X-Omamori-Quarantine-Id: ([0-9a-f]{32})", got).group(1).decode()
    st.ctl("quarantine", "release", USER, qid)
    box, _ = where(st, m)
    check(box == "INBOX", "released to %s" % box)
    state.update(m=m, mid="<%s@e2e.test>" % m, qid=qid)
    # the daemons write their steps within a second or two
    deadline = time.time() + 60
    while "release" not in st.ctl("trace", "example.test", "--message-id",
                                  state["mid"]).stdout.decode():
        check(time.time() < deadline, "the release step was never recorded")
        time.sleep(1)
    # a row of example.org with the same Message-ID (the stack has one
    # mail domain): neither domain's page may show the other's
    st.sql("INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
           "subject, queue_id, step, result, detail) VALUES (?, 'example.org', 1, "
           "'bounce@mailer.example', 'jiro@example.org', ?, 'theirs', 'QORG', "
           "'scan', 'spam', ?)", (int(time.time()), state["mid"][1:-1], ORG_SECRET))


@tap.case
def the_admin_searches_by_message_id_and_sees_each_step(st):
    check(state.get("mid"), "no spam traced")
    panel = admin_login(st, ADMIN, "admin-trace-1-home")
    state["panel"] = panel
    browser().get(panel + "?domain=example.test&page=settings")
    links = [a for a in browser().find_elements(By.TAG_NAME, "a")
             if a.text == "メール配送状況の確認"]
    check(len(links) == 1, "no trace link in the navigation: %r" % body_text()[:400])
    links[0].click()
    form = browser().find_element(By.ID, "trace-form")
    form.find_element(By.NAME, "mid").send_keys(state["mid"])
    form.find_element(By.ID, "trace-search").click()
    deadline = time.time() + 15
    while "mid=" not in browser().current_url and time.time() < deadline:
        time.sleep(0.2)
    browser().execute_script("document.getElementById('trace').scrollIntoView();")
    shot("admin-trace-2-steps")
    messages = shown_steps()
    check(len(messages) == 1, "one message expected: %r" % body_text()[:800])
    heading, rows = messages[0]
    check("bounce@mailer.example" in heading and state["mid"] in heading and
          "trace-web " + state["m"] in heading, "the message's heading: %r" % heading)
    steps = [r[0] for r in rows]
    wanted = ["policy", "scan", "deliver", "quarantine", "release"]
    at = [steps.index(s) if s in steps else -1 for s in wanted]
    check(-1 not in at and at == sorted(at), "steps %r, wanted %r in order" % (steps, wanted))
    by = dict((r[0], r) for r in rows)
    check(by["policy"][1] == "DUNNO" and by["scan"][1] == "spam" and
          by["deliver"][1] == "Quarantine" and by["release"][1] == "INBOX",
          "results: %r" % rows)
    check(by["quarantine"][2] == USER and state["qid"] in by["quarantine"][3] and
          state["qid"] in by["release"][3], "recipient and quarantine id: %r" % rows)
    check("listed block:mailbox" in by["scan"][3], "the scan's detail: %r" % (by["scan"],))
    check(ORG_SECRET not in browser().page_source and
          "jiro@example.org" not in browser().page_source, "example.org's row shown")


@tap.case
def searches_by_sender_subject_and_dates(st):
    panel = state["panel"]
    today = time.strftime("%Y-%m-%d")
    q = urllib.parse.urlencode({"domain": "example.test", "page": "trace",
                                "sender": "bounce@mailer.example",
                                "subject": "TRACE-WEB " + state["m"][:8],
                                "since": today, "until": today})
    browser().get(panel + "?" + q)
    check([h for h, _ in shown_steps() if state["m"] in h],
          "not found by sender, subject and today: %r" % body_text()[:600])
    q = urllib.parse.urlencode({"domain": "example.test", "page": "trace",
                                "mid": state["mid"], "until": "2020-01-01"})
    browser().get(panel + "?" + q)
    check(not shown_steps() and "条件に合うメールはありません" in body_text(),
          "a range before it: %r" % body_text()[:400])
    code, _ = status_of(panel + "?domain=example.test&page=trace&since=2026-13-01")
    check(code == 400, "a bad date: %d" % code)
    code, body = status_of(trace_url(panel, "example.test", "<x\"><script>alert(1)</script>"))
    check(code == 200 and "<script>alert" not in body and "&lt;script&gt;" in body,
          "the search field not escaped: %d" % code)


@tap.case
def url_tampering_with_the_domain_is_refused(st):
    code, body = status_of(trace_url(state["panel"], "example.org", state["mid"]))
    check(code == 403 and ORG_SECRET not in body and "example.org" not in body,
          "alice asking for example.org's trace: %d" % code)
    browser().get(trace_url(state["panel"], "example.org", state["mid"]))
    shot("admin-trace-3-tampered")
    check("権限がありません" in body_text() and ORG_SECRET not in browser().page_source,
          "no refusal: %r" % body_text()[:300])


@tap.case
def another_domains_admin_sees_nothing_of_it(st):
    panel = admin_login(st, ORG_ADMIN, "admin-trace-4-org-home")
    browser().get(trace_url(panel, "example.org", state["mid"]))
    shot("admin-trace-5-org-search")
    messages = shown_steps()
    src = browser().page_source
    check(len(messages) == 1 and [r[0] for r in messages[0][1]] == ["scan"] and
          ORG_SECRET in src, "example.org's own row: %r" % body_text()[:600])
    check(USER not in src and state["qid"] not in src and "release" not in src and
          "trace-web" not in src, "example.test's steps shown to example.org")
    code, body = status_of(trace_url(panel, "example.test", state["mid"]))
    check(code == 403 and state["qid"] not in body and USER not in body,
          "example.org's admin asking for example.test: %d" % code)


@tap.case
def a_deputy_needs_the_trace_right(st):
    panel = admin_login(st, NOTRACE, "admin-trace-6-deputy")
    code, body = status_of(trace_url(panel, "example.test", state["mid"]))
    check(code == 403 and state["qid"] not in body and USER not in body,
          "a deputy without the trace right: %d" % code)
    browser().get(panel + "?domain=example.test&page=lists")
    check(not [a for a in browser().find_elements(By.TAG_NAME, "a")
               if a.text == "メール配送状況の確認"], "a trace link without the right")
    panel = admin_login(st, TRACER, "admin-trace-7-deputy-trace")
    code, body = status_of(trace_url(panel, "example.test", state["mid"]))
    check(code == 200 and state["qid"] in body, "a deputy with the trace right: %d" % code)


def prepare(st):
    st.ctl("list", "add", USER, "block", "@pest-trace.example")
    st.ctl("mailbox", "set", USER, "spam-action", "quarantine")
    st.ctl("admin", "add", "example.test", ADMIN)
    st.ctl("admin", "add", "example.test", NOTRACE, "deputy", "--rights", "lists")
    st.ctl("admin", "add", "example.test", TRACER, "deputy", "--rights", "trace")
    st.ctl("admin", "add", "example.org", ORG_ADMIN, "admin")
    # a mailbox of example.org that can log in (Dovecot reads its
    # passwd-file again when it changes)
    with open(os.path.join(st.dir, "dovecot", "users"), "a") as f:
        f.write("%s:{PLAIN}secret::::::\n" % ORG_ADMIN)
    time.sleep(1.6)     # policyd picks store changes up every second


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", USER, "spam", "on")], prepare=prepare)
    finally:
        quit_browser()
    sys.exit(rc)
