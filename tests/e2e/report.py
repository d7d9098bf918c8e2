#!/usr/bin/env python3
"""End-to-end: the monthly report (issue 20 item 5, doc/report.md).

A month (2026-11) of events is generated straight into the stack's store -
the rows scand, omamori-filter and the gate write (doc/trace.md) - with a
seeded random mix per day, plus rows of another domain and of the months
around it.  `omamorictl report example.test --month 2026-11` in text, CSV
and JSON is checked number by number against what the test counted
itself; the domain's language gives the Japanese text.  Then `omamorictl
cron` on a pretended 1 December (--at 00:17 --date 2026-12-01) mails the
report to the main admin and the deputy with the trace right, and to no
other deputy; over IMAP it is in their INBOX, once, with the same numbers;
a second run and a run on the 2nd send nothing more; a month with nothing
recorded is not reported.  TAP."""
import collections
import csv
import email
import email.policy
import io
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402

tap = Tap()
DOMAIN = "example.test"
VERDICTS = ("clean", "spam", "virus", "other")
VIRUSES = ("Eicar-Test-Signature", "Win.Test.EICAR_HDB-1", "Doc.Dropper.Agent-1")
SPAM_DOMAINS = ["spam%02d.example" % i for i in range(14)]
EXPECT = {}


def local(y, mo, d, h=0, mi=0, s=0):
    return int(time.mktime((y, mo, d, h, mi, s, 0, 0, -1)))


def generate(st):
    """Rows for November 2026 and their counts as the report must show."""
    rnd = random.Random(20261101)
    rows = []
    days = collections.defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    viruses = collections.Counter()
    spam = collections.Counter()
    holds = collections.Counter()
    clicks = collections.Counter()
    outbound = collections.Counter()

    def row(at, domain, direction, sender, step, result, detail):
        rows.append((at, domain, direction, sender, "alice@example.test", step, result, detail))

    for day in range(1, 31):
        for _ in range(rnd.randint(0, 25)):
            at = local(2026, 11, day, rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59))
            v = rnd.choice(("clean", "clean", "clean", "spam", "spam", "virus", "unscanned",
                            "error"))
            if v == "spam":
                d = rnd.choice(SPAM_DOMAINS[:rnd.randint(1, len(SPAM_DOMAINS))])
                row(at, DOMAIN, 1, "x%d@%s" % (rnd.randint(0, 9), d.upper() if day == 3 else d),
                    "scan", "spam", "score 9.00; rules BAYES_99; action deliver")
                spam[d] += 1
            elif v == "virus":
                name = rnd.choice(VIRUSES)
                row(at, DOMAIN, 1, "v@bad.example", "scan", "virus",
                    "virus %s; action quarantine" % name)
                viruses[name] += 1
            else:
                row(at, DOMAIN, 1, "a@shop.example", "scan", v, "action deliver")
            days[day]["other" if v in ("unscanned", "error") else v] += 1
            # the steps around a scan that the report does not count as mail
            row(at, DOMAIN, 1, "a@shop.example", "policy", "DUNNO", "")
        for _ in range(rnd.randint(0, 3)):
            kind = rnd.choice(("held", "spam", "brake", "audit"))
            row(local(2026, 11, day, 12), DOMAIN, 2, "carol@example.test", "hold", kind, "")
            holds[kind] += 1
        for _ in range(rnd.randint(0, 4)):
            verdict = rnd.choice(("allowed", "warn", "block"))
            row(local(2026, 11, day, 13), DOMAIN, 1, "", "click", verdict, "evil.example")
            clicks[verdict] += 1
        for _ in range(rnd.randint(0, 5)):
            verdict = rnd.choice(("clean", "clean", "spam", "virus"))
            row(local(2026, 11, day, 14), DOMAIN, 2, "carol@example.test", "scan", verdict, "")
            outbound[verdict] += 1
    # not November, or not example.test: never counted
    row(local(2026, 10, 31, 23, 59, 59), DOMAIN, 1, "x@spam00.example", "scan", "spam", "")
    row(local(2026, 12, 1, 0, 0, 0), DOMAIN, 1, "x@spam00.example", "scan", "spam", "")
    row(local(2026, 11, 10, 10), "example.org", 1, "x@spam00.example", "scan", "spam", "")
    row(local(2026, 11, 10, 10), "example.org", 1, "v@bad.example", "scan", "virus",
        "virus Org.Only")
    st.sql_many("INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
                "subject, queue_id, step, result, detail) "
                "VALUES (?, ?, ?, ?, ?, '', '', '', ?, ?, ?)", rows)
    totals = dict.fromkeys(VERDICTS, 0)
    for d in days.values():
        for v in VERDICTS:
            totals[v] += d[v]
    EXPECT.update(days=days, totals=totals, viruses=viruses, spam=spam, holds=holds,
                  clicks=clicks, outbound=outbound)


def report(st, *args):
    proc = st.ctl("report", DOMAIN, "--month", "2026-11", *args)
    return proc.stdout.decode("utf-8")


def top(counter):
    """The report's order: the largest first, then by name."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


@tap.case
def text_numbers(st):
    out = report(st, "--lang", "en")
    t = EXPECT["totals"]
    line = "Mail received: %d (clean %d, spam %d, virus %d, other %d)" % (
        sum(t.values()), t["clean"], t["spam"], t["virus"], t["other"])
    check(line in out, "no %r in:\n%s" % (line, out))
    check("Clicks blocked: %d\n" % EXPECT["clicks"]["block"] in out, "clicks blocked:\n" + out)
    for day in range(1, 31):
        d = EXPECT["days"][day]
        want = "  2026-11-%02d %8d %8d %8d %8d\n" % (day, d["clean"], d["spam"], d["virus"],
                                                    d["other"])
        check(want in out, "day %d: no %r in:\n%s" % (day, want, out))
    check("2026-11-31" not in out and "Org.Only" not in out, "not November's rows:\n" + out)
    for name, n in EXPECT["viruses"].items():
        check("  %-40s %8d\n" % (name, n) in out, "virus %s %d:\n%s" % (name, n, out))


@tap.case
def csv_numbers(st):
    rows = list(csv.reader(io.StringIO(report(st, "--format", "csv"))))
    check(rows[0] == ["section", "date", "key", "count"], "header %r" % rows[0])
    got = collections.defaultdict(dict)
    for section, date, key, count in rows[1:]:
        got[section][(date, key)] = count
    for day in range(1, 31):
        for v in VERDICTS:
            want = str(EXPECT["days"][day][v])
            have = got["received"].get(("2026-11-%02d" % day, v))
            check(have == want, "received %d %s: %r, expected %s" % (day, v, have, want))
    for v in VERDICTS:
        check(got["received"][("", v)] == str(EXPECT["totals"][v]), "total %s" % v)
    spam = top(EXPECT["spam"])
    for d, n in spam[:10]:
        check(got["spam_domain"].get(("", d)) == str(n), "spam domain %s %d: %r"
              % (d, n, got["spam_domain"]))
    check(len(got["spam_domain"]) == min(10, len(spam)) + 1, "top 10 and the total only")
    check(got["spam_domain"][("", "total")] == str(sum(EXPECT["spam"].values())),
          "spam domains' total")
    for section, counter in (("virus", "viruses"), ("hold", "holds"), ("click", "clicks"),
                             ("outbound", "outbound")):
        want = {("", k): str(n) for k, n in EXPECT[counter].items()}
        want[("", "total")] = str(sum(EXPECT[counter].values()))
        check(got[section] == want, "%s: %r, expected %r" % (section, got[section], want))


@tap.case
def json_numbers(st):
    j = json.loads(report(st, "--format", "json"))
    check(j["domain"] == DOMAIN and j["month"] == "2026-11", "%r" % j)
    check(j["received"] == EXPECT["totals"], "received %r" % j["received"])
    check(len(j["days"]) == 30, "%d days" % len(j["days"]))
    for day, d in enumerate(j["days"], 1):
        check(d == dict(date="2026-11-%02d" % day, **EXPECT["days"][day]), "day %r" % d)
    check([(x["key"], x["count"]) for x in j["spam_domains"]["top"]] == top(EXPECT["spam"])[:10],
          "spam domains %r" % j["spam_domains"])
    check([(x["key"], x["count"]) for x in j["viruses"]["top"]] == top(EXPECT["viruses"]),
          "viruses %r" % j["viruses"])
    check(j["holds"]["total"] == sum(EXPECT["holds"].values()) and
          j["clicks"]["total"] == sum(EXPECT["clicks"].values()), "holds, clicks")


@tap.case
def html_and_japanese(st):
    html = report(st, "--format", "html")
    check("<svg" in html and "<script" not in html, "html without a chart or with a script")
    check('<td class="n-spam">%d</td>' % EXPECT["totals"]["spam"] in html, "spam total in html")
    st.ctl("domain", "set", DOMAIN, "language", "ja")
    out = report(st)
    t = EXPECT["totals"]
    check("%s の月次レポート (2026-11)" % DOMAIN in out and
          "受信したメール: %d (正常 %d, 迷惑メール %d, ウイルス %d, その他 %d)" % (
              sum(t.values()), t["clean"], t["spam"], t["virus"], t["other"]) in out,
          "the domain's language is Japanese:\n" + out)
    check(st.ctl("report", DOMAIN, "--month", "2026-13", check=False).returncode == 2,
          "a bad month is refused")
    later = st.ctl("report", DOMAIN, "--month", "2999-01", check=False)
    check(later.returncode == 2 and b"has not begun yet" in later.stderr,
          "a month not begun is refused, as billing refuses it: %r" % later.stderr)


def cron(st, day):
    return st.ctl("cron", "--at", "00:17", "--date", day).stdout.decode()


def reports_in(st, user):
    return [raw for raw in st.fetch_all(user)
            if b"<omamori-report-202611-example.test@" in raw]


@tap.case
def mailed_once_on_the_first(st):
    st.ctl("admin", "add", DOMAIN, "alice@example.test", "admin")
    st.ctl("admin", "add", DOMAIN, "bob@example.test", "deputy", "--rights", "trace")
    st.ctl("admin", "add", DOMAIN, "dave@example.test", "deputy", "--rights", "settings")
    out = cron(st, "2026-12-01")
    check("monthly-report: 2 reports of 2026-11 sent" in out, "cron said:\n" + out)
    for user in ("alice@example.test", "bob@example.test"):
        got = reports_in(st, user)
        check(len(got) == 1, "%s has %d reports" % (user, len(got)))
        msg = email.message_from_bytes(got[0], policy=email.policy.default)
        check("月次レポート" in str(msg["Subject"]), "subject %r" % msg["Subject"])
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        t = EXPECT["totals"]
        check("受信したメール: %d (" % sum(t.values()) in text, "text part:\n" + text)
        check("<svg" in html and '<td class="n-virus">%d</td>' % t["virus"] in html,
              "html part")
    check(reports_in(st, "dave@example.test") == [], "a deputy without trace got it")
    out = cron(st, "2026-12-01")
    check("monthly-report" not in out, "sent again:\n" + out)
    cron(st, "2026-12-02")
    for user in ("alice@example.test", "bob@example.test"):
        check(len(reports_in(st, user)) == 1, "%s got a second report" % user)


@tap.case
def no_report_for_a_month_with_nothing(st):
    """September 2026 has no event of example.test: its 1 October sends
    nothing, though the admins are there."""
    st.ctl("admin", "add", DOMAIN, "alice@example.test", "admin", check=False)
    out = cron(st, "2026-10-01")
    check("monthly-report" not in out, "an empty month was sent:\n" + out)
    got = [raw for raw in st.fetch_all("alice@example.test")
           if b"<omamori-report-202609-" in raw]
    check(got == [], "alice got %d reports of an empty month" % len(got))


if __name__ == "__main__":
    sys.exit(run_suite(tap, prepare=generate))
