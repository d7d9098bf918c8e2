#!/usr/bin/python3
"""The monthly report on a domain's admin panel in a real browser (issue
20 item 5): alice, the main admin of example.test, logs in through the
admin button, opens the report page, chooses 2026-11 in the month form
(GET) and sees the month's numbers - mail received, spam, viruses, clicks
blocked - and the SVG charts drawn by omamori (the day chart's bars, the
virus's name).  The events are written into the stack's store by the test
(doc/trace.md's rows).  The same token asking for example.org's report
gets 403 and none of its numbers; carol, a deputy without the trace right,
is refused; a malformed month shows last month with a note.  Screenshots
under tests/browser/screenshots/ (report-*).  Run with /usr/bin/python3.
TAP."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402
from chrome import By, admin_login, body_text, browser, quit_browser, shot, status_of  # noqa: E402

tap = Tap()
ADMIN = "alice@example.test"
DEPUTY = "carol@example.test"
ORG_VIRUS = "Org.Secret.Virus"
state = {}


def local(y, mo, d, h):
    return int(time.mktime((y, mo, d, h, 0, 0, 0, 0, -1)))




def number(cls):
    return browser().find_element(By.CSS_SELECTOR, "#report td.n-" + cls).text


@tap.case
def the_admin_chooses_a_month_and_sees_its_numbers(st):
    panel = admin_login(st, ADMIN, "report-1-home")
    state["panel"] = panel
    browser().get(panel + "?domain=example.test&page=settings")
    links = [a for a in browser().find_elements(By.TAG_NAME, "a") if a.text == "月次レポート"]
    check(links, "no link to the report: %r" % body_text()[:300])
    links[0].click()
    form = browser().find_element(By.ID, "report-month")
    field = form.find_element(By.NAME, "month")
    browser().execute_script("arguments[0].value = '2026-11';", field)
    form.find_element(By.CSS_SELECTOR, "button").click()
    deadline = time.time() + 15
    while "month=2026-11" not in browser().current_url and time.time() < deadline:
        time.sleep(0.2)
    check("month=2026-11" in browser().current_url, "GET form: %s" % browser().current_url)
    shot("report-2-november")
    check("example.test の月次レポート (2026-11)" in body_text(), "title: %r" % body_text()[:300])
    got = {k: number(k) for k in ("received", "clean", "spam", "virus", "other", "blocked")}
    check(got == {"received": "10", "clean": "5", "spam": "3", "virus": "2", "other": "0",
                  "blocked": "4"}, "numbers shown: %r" % got)
    svg = browser().find_element(By.CSS_SELECTOR, "#report svg.chart-days")
    bars = svg.find_elements(By.TAG_NAME, "rect")
    # day 2: clean and spam, day 10: virus, and the legend's 4 squares
    check(len(bars) == 3 + 4, "day chart bars: %d" % len(bars))
    card = browser().find_element(By.ID, "report")
    check(0 < svg.size["width"] <= card.size["width"],
          "the chart is wider than its card: %r > %r" % (svg.size, card.size))
    virus = browser().find_element(By.CSS_SELECTOR, "#report svg.viruses")
    check("Eicar-Test-Signature" in virus.text and "2" in virus.text, "virus chart: %r"
          % virus.text)
    check("pest.example" in browser().find_element(
        By.CSS_SELECTOR, "#report svg.spam-domains").text, "spam domains chart")
    check(ORG_VIRUS not in browser().page_source, "example.org's rows on the page")
    browser().execute_script("window.scrollTo(0, document.body.scrollHeight / 2);")
    shot("report-3-charts")


@tap.case
def another_domains_report_is_403(st):
    code, body = status_of(state["panel"] + "?domain=example.org&page=report&month=2026-11")
    check(code == 403 and ORG_VIRUS not in body, "example.org's report: %d" % code)


@tap.case
def a_bad_month_shows_last_month_with_a_note(st):
    browser().get(state["panel"] + "?domain=example.test&page=report&month=2026-13")
    shot("report-4-bad-month")
    check("YYYY-MM" in browser().find_element(By.ID, "note").text, "no note: %r"
          % body_text()[:300])
    check(browser().find_elements(By.CSS_SELECTOR, "#report svg.chart-days"),
          "no report shown")


@tap.case
def a_deputy_without_the_trace_right_is_refused(st):
    url = admin_login(st, DEPUTY, "report-5-deputy")
    code, body = status_of(url + "?domain=example.test&page=report&month=2026-11")
    check(code == 403 and "Eicar" not in body, "deputy without trace: %d" % code)
    browser().get(url + "?domain=example.test&page=lists")
    check(not [a for a in browser().find_elements(By.TAG_NAME, "a")
               if a.text == "月次レポート"], "the deputy is offered the report")


def prepare(st):
    st.ctl("admin", "add", "example.test", ADMIN)
    st.ctl("admin", "add", "example.test", DEPUTY, "deputy", "--rights", "lists")
    rows = []
    for _ in range(5):
        rows.append((local(2026, 11, 2, 9), "example.test", 1, "a@shop.example", "scan",
                     "clean", "action deliver"))
    for _ in range(3):
        rows.append((local(2026, 11, 2, 10), "example.test", 1, "x@pest.example", "scan",
                     "spam", "score 9.00; action deliver"))
    for _ in range(2):
        rows.append((local(2026, 11, 10, 11), "example.test", 1, "v@bad.example", "scan",
                     "virus", "virus Eicar-Test-Signature; action quarantine"))
    for _ in range(4):
        rows.append((local(2026, 11, 12, 12), "example.test", 1, "", "click", "block",
                     "evil.example"))
    rows.append((local(2026, 11, 12, 12), "example.org", 1, "v@bad.example", "scan",
                 "virus", "virus " + ORG_VIRUS))
    st.sql_many("INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
                "subject, queue_id, step, result, detail) "
                "VALUES (?, ?, ?, ?, 'alice@example.test', '', '', '', ?, ?, ?)", rows)


if __name__ == "__main__":
    try:
        rc = run_suite(tap, prepare=prepare)
    finally:
        quit_browser()
    sys.exit(rc)
