#!/usr/bin/env python3
"""End-to-end: policy groups and the billing export (issue 18 items 3 and
5) through real Postfix, omamori-policyd, omamori-submit and Dovecot.

`omamorictl group set example.test B internal-only on` and `omamorictl
mailbox set carol@example.test group B`, as an administrator writes them:
carol, logged in, gets 5.7.1 at RCPT with a text she understands for an
outside recipient (the whole message refused when it is the only one), and
still writes inside (bob gets the mail) and to the group's own
internal-domains; alice, in no group, writes outside as before.  Group A's
own outbound setting (outbound-bcc at bcc-threshold 2) hides the To list
of its member bob's mail, and not alice's.  `omamorictl mailbox get`
shows where a value comes from ("(group A)"); group del is refused while
mailboxes are in it.  The billing export of this month matches the
subscriptions set (CSV and JSON), mailboxes without a subscription of
their own counted on (paused) for the days their domain's setting of the
feature made them so, and members of a group with a feature on counted
on (the group's changes are in admin log).  TAP output."""
import calendar
import csv
import email
import email.policy
import email.utils
import io
import json
import os
import smtplib
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import send_as, wait_sink, sink, Tap, check, header_of, run_suite  # noqa: E402

tap = Tap()


def mk():
    return uuid.uuid4().hex


def mail(m, frm, to):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = "groups %s" % m
    msg["Message-ID"] = "<%s@example.test>" % m
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg.set_content("body %s\n" % m)
    return msg.as_bytes().replace(b"\r\n", b"\n")


def refresh():
    time.sleep(1.6)     # policyd looks at the store every second


@tap.case
def a_member_of_an_internal_only_group_is_refused_outside(st):
    m = mk()
    with st.smtp(login="carol@example.test") as s:
        s.mail("carol@example.test")
        code, text = s.rcpt("ext@far.example")
        text = text.decode()
        check(code // 100 == 5 and "5.7.1" in text and "<ext@far.example>" in text and
              "may send mail only inside example.test (policy group B)" in text,
              "RCPT answer: %d %s" % (code, text))
        code, text = s.rcpt("bob@example.test")
        check(code == 250, "an inside recipient refused too: %d %r" % (code, text))
        code, text = s.data(mail(m, "carol@example.test", "bob@example.test"))
        check(code == 250, "DATA: %d %r" % (code, text))
    inbox = st.wait_for("bob@example.test", m.encode())
    check(len(inbox) == 1, "bob did not get carol's mail")
    check(not sink(st, m), "a copy went outside")


@tap.case
def the_only_recipient_outside_refuses_the_message(st):
    m = mk()
    try:
        send_as(st, "carol@example.test", ["ext@far.example"],
                mail(m, "carol@example.test", "ext@far.example"))
        check(False, "accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["ext@far.example"]
        check(code // 100 == 5 and b"5.7.1" in text, "%d %r" % (code, text))


@tap.case
def the_groups_internal_domains_are_inside(st):
    m = mk()
    send_as(st, "carol@example.test", ["x@partner.example"],
            mail(m, "carol@example.test", "x@partner.example"))
    wait_sink(st, m)


@tap.case
def a_mailbox_in_no_group_writes_outside(st):
    m = mk()
    send_as(st, "alice@example.test", ["ext@far.example"],
            mail(m, "alice@example.test", "ext@far.example"))
    wait_sink(st, m)


@tap.case
def policy_test_shows_the_decision_and_why(st):
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username="
           "carol@example.test\nsender=carol@example.test\nrecipient=ext@far.example\n"
           "instance=groups.1\n\n")
    out = st.ctl("policy", "test", stdin=req.encode()).stdout.decode()
    check("action=REJECT 5.7.1 Your account may send mail only inside example.test "
          "(policy group B)" in out and "internal-only (policy group B of example.test)"
          in out, out)


@tap.case
def a_groups_own_outbound_setting_applies_to_its_member_only(st):
    to = ["r1@far.example", "r2@far.example"]
    m1, m2 = mk(), mk()
    send_as(st, "bob@example.test", to, mail(m1, "bob@example.test", ", ".join(to)))
    send_as(st, "alice@example.test", to, mail(m2, "alice@example.test", ", ".join(to)))
    raw = wait_sink(st, m1)[0]
    check(header_of(raw, "To") == "undisclosed-recipients:;",
          "group A's bcc-threshold 2 not applied: To %r" % header_of(raw, "To"))
    raw = wait_sink(st, m2)[0]
    check("r1@far.example" in (header_of(raw, "To") or ""),
          "alice's To list hidden: %r" % header_of(raw, "To"))
    out = st.ctl("mailbox", "show", "bob@example.test", "bcc-threshold").stdout.decode()
    check("\t2\t(group A)" in out, out)
    out = st.ctl("sub", "get", "bob@example.test", "outbound-bcc").stdout.decode()
    check("\ton\t(group A)" in out, out)


@tap.case
def group_commands_say_what_is_wrong(st):
    def fails(args, words):
        p = st.ctl(*args, check=False)
        err = p.stderr.decode()
        check(p.returncode == 2 and words in err, "%s: %d %r" % (" ".join(args),
                                                               p.returncode, err))
    fails(("mailbox", "set", "alice@example.test", "group", "Z"),
          "example.test has no policy group 'Z'")
    fails(("group", "set", "example.test", "B", "spam-action", "tag"),
          "not a setting a policy group may carry")
    fails(("group", "set", "example.test", "B", "no-such", "on"), "unknown setting")
    fails(("group", "set", "example.test", "B", "internal-only", "maybe"),
          "is not one of: on off")
    fails(("group", "del", "example.test", "B"), "carol@example.test")
    for name in ("C", "D"):
        st.ctl("group", "set", "example.test", name, "hold-minutes", "5")
    fails(("group", "set", "example.test", "E", "hold-minutes", "5"),
          "4 policy groups already")
    st.ctl("group", "del", "example.test", "D")
    out = st.ctl("group", "list", "example.test").stdout.decode()
    check(out.splitlines() == ["example.test\tA\t1 mailbox", "example.test\tB\t1 mailbox",
                               "example.test\tC\t0 mailboxes"], out)
    out = st.ctl("group", "show", "example.test", "B").stdout.decode()
    check("example.test\tB\tsetting\tinternal-only\ton" in out and
          "example.test\tB\tmailbox\tcarol@example.test" in out, out)
    # every group of the domain at once (each shown reads the store again
    # while the list is read: under ASan a use after free once)
    out = st.ctl("group", "show", "example.test").stdout.decode()
    check("example.test\tB\tsetting\tinternal-only\ton" in out and
          "example.test\tC\tsetting\thold-minutes\t5" in out and
          "example.test\tB\tmailbox\tcarol@example.test" in out, out)


@tap.case
def billing_counts_match_the_subscriptions(st):
    subs = [("a@bill.example", "inbound-virus", "on"), ("b@bill.example", "inbound-virus", "on"),
            ("c@bill.example", "inbound-virus", "paused"),
            ("d@bill.example", "inbound-virus", "off"), ("a@bill.example", "spam", "on"),
            ("b@bill.example", "spam", "paused"), ("z@other.example", "spam", "on")]
    for mailbox, feature, state in subs:
        st.ctl("sub", "set", mailbox, feature, state)
    month = time.strftime("%Y-%m", time.gmtime())
    out = st.ctl("billing", "--month", month, "--format", "csv", "--domain",
                 "bill.example").stdout.decode()
    rows = list(csv.DictReader(io.StringIO(out)))
    totals = {r["feature"]: (r["on"], r["paused"], r["off"], r["days_on"])
              for r in rows if r["row"] == "domain"}
    check(totals == {"inbound-virus": ("2", "1", "1", "2"), "spam": ("1", "1", "0", "1")},
          "domain rows: %r\n%s" % (totals, out))
    mine = {(r["mailbox"], r["feature"]): (r["on"], r["paused"], r["off"], r["days_on"],
                                           r["days_paused"])
            for r in rows if r["row"] == "mailbox"}
    check(mine[("c@bill.example", "inbound-virus")] == ("0", "1", "0", "0", "1") and
          mine[("a@bill.example", "spam")] == ("1", "0", "0", "1", "0") and
          len(mine) == 6 and all(r["month"] == month and r["domain"] == "bill.example"
                                 for r in rows), out)
    doc = json.loads(st.ctl("billing", "--month", month, "--format", "json").stdout)
    domains = {d["domain"]: d for d in doc["domains"]}
    spam = [f for f in domains["bill.example"]["features"] if f["feature"] == "spam"][0]
    check(doc["month"] == month and spam["on"] == 1 and spam["paused"] == 1 and
          spam["off"] == 0 and "other.example" in domains and
          {x["mailbox"]: x["state"] for x in spam["mailboxes"]} ==
          {"a@bill.example": "on", "b@bill.example": "paused"}, json.dumps(doc))
    for bad, words in (("2026-13", "YYYY-MM"), ("9999-01", "not begun")):
        p = st.ctl("billing", "--month", bad, "--format", "csv", check=False)
        check(p.returncode == 2 and words in p.stderr.decode(), p.stderr.decode())


def billing_rows(st, month, domain):
    out = st.ctl("billing", "--month", month, "--format", "csv", "--domain",
                 domain).stdout.decode()
    rows = list(csv.DictReader(io.StringIO(out)))
    totals = {r["feature"]: (r["on"], r["paused"], r["off"], r["days_on"], r["days_paused"])
              for r in rows if r["row"] == "domain"}
    mine = {(r["mailbox"], r["feature"]): (r["state"] if "state" in r else None,
                                           r["on"], r["paused"], r["off"], r["days_on"],
                                           r["days_paused"])
            for r in rows if r["row"] == "mailbox"}
    return totals, mine, out


@tap.case
def billing_counts_the_domain_default_this_month(st):
    """Real commands: the domain's setting turns spam on (inbound-virus
    paused) for the mailboxes without a subscription of their own."""
    for mailbox, feature, state in (("e@bill4.example", "spam", "on"),
                                    ("f@bill4.example", "inbound-virus", "on"),
                                    ("g@bill4.example", "spam", "off")):
        st.ctl("sub", "set", mailbox, feature, state)
    st.ctl("domain", "set", "bill4.example", "spam", "on")
    st.ctl("domain", "set", "bill4.example", "inbound-virus", "paused")
    got = st.ctl("sub", "get", "f@bill4.example", "spam").stdout.decode()
    check("on" in got and "domain" in got, "f's spam does not come from the domain: %r" % got)
    month = time.strftime("%Y-%m", time.gmtime())
    totals, mine, out = billing_rows(st, month, "bill4.example")
    check(totals == {"spam": ("2", "0", "1", "2", "0"),
                     "inbound-virus": ("1", "2", "0", "1", "2")},
          "domain rows: %r\n%s" % (totals, out))
    check(mine[("f@bill4.example", "spam")][1:] == ("1", "0", "0", "1", "0") and
          mine[("g@bill4.example", "spam")][1:] == ("0", "0", "1", "0", "0") and
          mine[("e@bill4.example", "inbound-virus")][1:] == ("0", "1", "0", "0", "1") and
          len(mine) == 6, out)


@tap.case
def billing_counts_the_days_a_domain_default_applied(st):
    """Last month, with chosen times: the domain's spam setting went on on
    its 11th day (the change log), f has no spam row (on from day 11), e
    its own on all month, g its own paused, h no row until its own off on
    day 21 (on days 11 to 21)."""
    now = time.gmtime()
    year, mon = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
    start = calendar.timegm((year, mon, 1, 0, 0, 0))
    days = calendar.monthrange(year, mon)[1]
    month = "%04d-%02d" % (year, mon)
    day = 86400
    # today's value, as an administrator sets it (recorded now) ...
    st.ctl("domain", "set", "bill3.example", "spam", "on")
    # ... and when it was first set, last month
    st.sql("INSERT INTO change_log(at, who, domain, what, old, new) VALUES "
           "(?, 'alice@bill3.example', 'bill3.example', 'setting spam', '', 'on')",
           (start + 10 * day,))
    st.sql_many("INSERT INTO subscription_history(mailbox, feature, state, at) "
                "VALUES (?, ?, ?, ?)", (
                    ("e@bill3.example", "spam", "on", start - 5 * day),
                    ("f@bill3.example", "inbound-virus", "on", start - 5 * day),
                    ("g@bill3.example", "spam", "paused", start - 5 * day),
                    ("h@bill3.example", "spam", "off", start + 20 * day + 3600)))
    totals, mine, out = billing_rows(st, month, "bill3.example")
    check(mine[("e@bill3.example", "spam")][1:] == ("1", "0", "0", str(days), "0") and
          mine[("f@bill3.example", "spam")][1:] == ("1", "0", "0", str(days - 10), "0") and
          mine[("g@bill3.example", "spam")][1:] == ("0", "1", "0", "0", str(days)) and
          mine[("h@bill3.example", "spam")][1:] == ("1", "0", "0", "11", "0"),
          "mailbox rows:\n%s" % out)
    check(totals == {"spam": ("3", "1", "0", str(days + days - 10 + 11), str(days)),
                     "inbound-virus": ("1", "0", "0", str(days), "0")},
          "domain rows: %r\n%s" % (totals, out))
    doc = json.loads(st.ctl("billing", "--month", month, "--format", "json", "--domain",
                            "bill3.example").stdout)
    spam = [f for f in doc["domains"][0]["features"] if f["feature"] == "spam"][0]
    check({x["mailbox"]: (x["state"], x["days_on"]) for x in spam["mailboxes"]} ==
          {"e@bill3.example": ("on", days), "f@bill3.example": ("on", days - 10),
           "g@bill3.example": ("paused", 0), "h@bill3.example": ("on", 11)},
          json.dumps(doc))


@tap.case
def billing_counts_a_groups_feature_for_its_members(st):
    """Real commands this month: group Z of bill5.example gets outbound-zip
    on, p and q join it (no subscription of their own): the CSV counts
    both on, s (in no group) not; admin log shows who changed what."""
    st.ctl("group", "set", "bill5.example", "Z", "outbound-zip", "on")
    st.ctl("mailbox", "set", "p@bill5.example", "group", "Z")
    st.ctl("mailbox", "set", "q@bill5.example", "group", "Z")
    st.ctl("sub", "set", "s@bill5.example", "spam", "on")
    st.ctl("group", "set", "bill5.example", "Y", "bcc-threshold", "3")
    st.ctl("group", "del", "bill5.example", "Y")
    month = time.strftime("%Y-%m", time.gmtime())
    totals, mine, out = billing_rows(st, month, "bill5.example")
    check(totals.get("outbound-zip") == ("2", "0", "0", "2", "0"),
          "outbound-zip domain row: %r\n%s" % (totals, out))
    check(mine.get(("p@bill5.example", "outbound-zip"), ())[1:] == ("1", "0", "0", "1", "0")
          and mine.get(("q@bill5.example", "outbound-zip"), ())[1:] ==
          ("1", "0", "0", "1", "0") and
          ("s@bill5.example", "outbound-zip") not in mine, out)
    log = st.ctl("admin", "log", "bill5.example").stdout.decode()
    for want in ("\tsetting outbound-zip of group Z\t(none) -> on",
                 "\tsetting group of p@bill5.example\t(none) -> Z",
                 "\tsetting group of q@bill5.example\t(none) -> Z",
                 "\tsetting bcc-threshold of group Y\t3 -> (none)",
                 "\tgroup Y\tY -> (none)"):
        check(want in log, "admin log lacks %r:\n%s" % (want, log))
    st.ctl("mailbox", "set", "q@bill5.example", "group", "none")
    log = st.ctl("admin", "log", "bill5.example").stdout.decode()
    check("\tsetting group of q@bill5.example\tZ -> (none)" in log, log)


if __name__ == "__main__":
    os.environ["OMAMORI_OUTBOUND_INLINE"] = "1"
    sys.exit(run_suite(tap, setup=[
        ("group", "set", "example.test", "B", "internal-only", "on"),
        ("group", "set", "example.test", "B", "internal-domains", "partner.example"),
        ("mailbox", "set", "carol@example.test", "group", "B"),
        ("group", "set", "example.test", "A", "outbound-bcc", "on"),
        ("group", "set", "example.test", "A", "bcc-threshold", "2"),
        ("mailbox", "set", "bob@example.test", "group", "A"),
    ]))
