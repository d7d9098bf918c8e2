#!/usr/bin/env python3
"""End-to-end: audit rules (issue 17 items 3, 4; doc/audit.md) through real
Postfix, omamori-policyd (which routes a domain with audit rules to the
filter), omamori-filter and Dovecot.  The domain's rules are added with
`omamorictl audit add` (the first turns outbound-audit on for the domain):
a 関係者外秘 keyword in a Shift_JIS text attachment holds the mail for the
administrator (`hold list` shows it with reason audit, the external sink
never gets it, the administrator's alert names the hold, root's release
sends it once); the issue's example rule as written holds an ISO-2022-JP
body; a mail over the size limit goes out and the administrator is
notified; rules in order - the first match wins (a delete before a hold:
deleted, not held), a rule with continue adds its header and lets the
next rules decide; a mail no rule matches goes out untouched;
`omamorictl audit test` names the rule that fires and why.  TAP output."""
import base64
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (sink, wait_sink, wait_mail, Tap, check, decoded, run_suite,  # noqa: E402
                    send_as)

tap = Tap()
DOMAIN = "example.test"
SENDER = "carol@example.test"
ADMIN = "alice@example.test"
OUTSIDE = "ext@far.example"
KEYWORD = "関係者外秘"
RULES = [
    'subject contains "audit-continue" => add-header "X-Audit: seen", notify, continue',
    'direction out and body contains "関係者外秘" => hold',
    'direction out and attachment-text contains "関係者外秘" => hold',
    'size > 200K => notify',
    'subject contains "audit-order" => delete',
    'subject contains "audit-order" => hold',
]


def ctl(st, *args, check=True):
    proc = st.ctl(*args, check=check)
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def mk():
    return uuid.uuid4().hex


def plain(subject, m, body="hello\n"):
    return ("From: %s\nTo: %s\nSubject: %s %s\nMessage-ID: <%s@example.test>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n%s" % (SENDER, OUTSIDE, subject, m, m, body)
            ).encode()


def with_attachment(subject, m, name, ctype, data):
    """A UTF-8 body without the keyword and one base64 attachment."""
    bnd = "b-" + m
    raw = ("From: %s\nTo: %s\nSubject: %s %s\nMessage-ID: <%s@example.test>\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n"
           "--%s\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
           "資料をお送りします。\n"
           "--%s\nContent-Type: %s\nContent-Disposition: attachment; filename=\"%s\"\n"
           "Content-Transfer-Encoding: base64\n\n"
           % (SENDER, OUTSIDE, subject, m, m, bnd, bnd, bnd, ctype, name)).encode()
    raw += base64.encodebytes(data) + ("--%s--\n" % bnd).encode()
    return raw


def never_at_sink(st, m, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        st.flush()
        check(not sink(st, m), "%s reached the sink" % m)
        time.sleep(0.5)


def hold_of(st, marker, timeout=30):
    """The hold (id, state, reason) of SENDER whose held copy has marker."""
    spool = os.path.join(st.dir, "outbound-spool")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in ctl(st, "hold", "list", SENDER).splitlines():
            f = line.split("\t")
            path = os.path.join(spool, "hold-" + f[0])
            if len(f) >= 8 and os.path.exists(path):
                with open(path, "rb") as held:
                    if marker.encode() in held.read():
                        return f[0], f[1], f[2]
        time.sleep(0.3)
    raise AssertionError("no hold for %s:\n%s\nfilter log:\n%s" %
                         (marker, ctl(st, "hold", "list", SENDER), st.tail("filter.log")))


def no_hold(st, marker):
    spool = os.path.join(st.dir, "outbound-spool")
    for line in ctl(st, "hold", "list", SENDER).splitlines():
        path = os.path.join(spool, "hold-" + line.split("\t")[0])
        if os.path.exists(path):
            with open(path, "rb") as held:
                check(marker.encode() not in held.read(), "%s was held" % marker)


def maillog(st):
    with open(os.path.join(st.dir, "log", "maillog"), encoding="utf-8", errors="replace") as f:
        return f.read()


def wait_deleted(st, before):
    """Waits for more than before "deleted by audit rule 5" replies in the
    maillog (Postfix logs the filter's 250 for the original)."""
    deadline = time.time() + 20
    while maillog(st).count("deleted by audit rule 5") <= before:
        check(time.time() < deadline, "no delete in the maillog:\n%s" % st.tail("maillog"))
        time.sleep(0.5)


def alert(st, name, needle):
    """The administrator's alert name whose text holds needle."""
    raw = wait_mail(st, ADMIN, lambda r: ("X-Omamori-Alert: " + name).encode() in r and
                    needle in decoded(r), "%s alert naming %s" % (name, needle))
    return decoded(raw)


@tap.case
def rules_are_stored_in_order(st):
    shown = ctl(st, "audit", "show", DOMAIN)
    lines = shown.strip().splitlines()
    check(len(lines) == len(RULES), shown)
    for i, rule in enumerate(RULES):
        check(lines[i] == "%d\t%s" % (i + 1, rule), "line %d: %r" % (i + 1, lines[i]))
    check("outbound-audit\ton" in ctl(st, "domain", "get", DOMAIN, "outbound-audit"),
          "the first rule did not turn outbound-audit on")
    bad = ctl(st, "audit", "add", DOMAIN, "body contains 関係者外秘 => hold", check=False)
    check("at character 15" in bad and "expected a string in double quotes" in bad, bad)


@tap.case
def keyword_in_a_shift_jis_attachment_is_held_for_the_administrator(st):
    m = mk()
    text = ("社外への持ち出し禁止。" + KEYWORD + "の資料です。\r\n").encode("shift_jis")
    send_as(st, SENDER, [OUTSIDE], with_attachment("見積", m, "memo.txt",
                                                   "text/plain; charset=Shift_JIS", text))
    hid, state, reason = hold_of(st, m)
    check(state == "admin" and reason == "audit", "hold %s: %s %s" % (hid, state, reason))
    never_at_sink(st, m, 4)
    shown = ctl(st, "hold", "show", hid)
    check("reason: audit" in shown and "audit: rule 3 (hold)" in shown and
          "in attachment memo.txt" in shown and "expires: never" in shown, shown)
    text = alert(st, "audit-hold-alert", hid)
    check(SENDER in text and "rule 3" in text, text)
    check(not [x for x in st.fetch_all(SENDER) if hid.encode() in x],
          "the sender was told about the audit hold")
    out = ctl(st, "hold", "release", hid)
    check("sent as" in out, out)
    got = wait_sink(st, m, settle=2)
    check(len(got) == 1, "not exactly one copy after release")
    check(b"attachments.zip" in got[0] and "memo.txt" not in decoded(got[0]),
          "released without its ZIP (outbound-zip is on)")


@tap.case
def the_issues_example_holds_an_iso_2022_jp_body(st):
    m = mk()
    body = ("本件は" + KEYWORD + "です。\n").encode("iso-2022-jp")
    raw = ("From: %s\nTo: %s\nSubject: jis %s\nMessage-ID: <%s@example.test>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n"
           "Content-Transfer-Encoding: 7bit\n\n" % (SENDER, OUTSIDE, m, m)).encode() + body
    send_as(st, SENDER, [OUTSIDE], raw)
    hid, state, reason = hold_of(st, m)
    check(state == "admin" and reason == "audit", "hold %s: %s %s" % (hid, state, reason))
    check("audit: rule 2 (hold)" in ctl(st, "hold", "show", hid), "not rule 2")
    never_at_sink(st, m, 3)
    out = ctl(st, "hold", "discard", hid)
    check("discard" in out, out)
    never_at_sink(st, m, 2)


@tap.case
def size_over_the_limit_notifies_the_administrator(st):
    m = mk()
    data = os.urandom(300 * 1024)
    send_as(st, SENDER, [OUTSIDE], with_attachment("big", m, "data.bin",
                                                   "application/octet-stream", data))
    copies = wait_sink(st, m, settle=1)
    check(len(copies) == 1, "%d copies" % len(copies))
    text = alert(st, "audit-alert", m)
    check("rule 4" in text and "size > 200K" in text, text)
    no_hold(st, m)


@tap.case
def first_match_wins(st):
    m = mk()
    before = maillog(st).count("deleted by audit rule 5")
    send_as(st, SENDER, [OUTSIDE], plain("audit-order", m))
    wait_deleted(st, before)
    never_at_sink(st, m, 3)
    no_hold(st, m)


@tap.case
def continue_adds_its_header_and_lets_later_rules_decide(st):
    m = mk()
    send_as(st, SENDER, [OUTSIDE], plain("audit-continue", m))
    copies = wait_sink(st, m, settle=1)
    check(len(copies) == 1 and b"\nX-Audit: seen\n" in b"\n" + copies[0],
          "no X-Audit header: %r" % copies[0][:400])
    alert(st, "audit-alert", m)
    m2 = mk()
    before = maillog(st).count("deleted by audit rule 5")
    send_as(st, SENDER, [OUTSIDE], plain("audit-continue audit-order", m2))
    wait_deleted(st, before)
    never_at_sink(st, m2, 3)
    no_hold(st, m2)


@tap.case
def no_rule_matches_the_mail_goes_out_untouched(st):
    m = mk()
    raw = plain("ordinary", m, "nothing to see\n")
    send_as(st, SENDER, [OUTSIDE], raw)
    copies = wait_sink(st, m, settle=1)
    check(len(copies) == 1 and b"X-Audit" not in copies[0], "changed or duplicated")
    no_hold(st, m)


@tap.case
def audit_test_names_the_rule_and_why(st):
    path = os.path.join(st.dir, "audit-test.eml")
    text = (KEYWORD + "\r\n").encode("shift_jis")
    with open(path, "wb") as f:
        f.write(with_attachment("t", mk(), "memo.txt", "text/plain; charset=Shift_JIS", text))
    out = ctl(st, "audit", "test", DOMAIN, path, "--to", OUTSIDE)
    check("rule 2: no match" in out and
          'rule 3: matched: direction out; attachment-text contains "関係者外秘" '
          '("関係者外秘" in attachment memo.txt) => hold' in out and
          "rule 4: not tried (rule 3 decided)" in out and "action=hold" in out and
          "fired: rule 3" in out, out)
    rules = os.path.join(st.dir, "audit-rules.txt")
    with open(rules, "w") as f:
        f.write("# a file of rules\nsize > 1G => hold\n\nrecipient external => notify\n")
    out = ctl(st, "audit", "test", rules, path, "--to", OUTSIDE)
    check("rule 2: matched: recipient external (ext@far.example) => send, notify" in out and
          "action=send" in out and "notify: yes" in out, out)


@tap.case
def a_rule_added_applies_to_the_next_mail(st):
    """omamori-filter's workers keep the rules they parsed; a change in the
    store is seen at the next message (its texts are read every time)."""
    ctl(st, "audit", "add", DOMAIN, "--at", "1", 'subject contains "audit-late" => delete')
    m = mk()
    before = maillog(st).count("deleted by audit rule 1")
    send_as(st, SENDER, [OUTSIDE], plain("audit-late", m))
    deadline = time.time() + 20
    while maillog(st).count("deleted by audit rule 1") <= before:
        check(time.time() < deadline, "not deleted by the new rule 1:\n%s" % st.tail("filter.log"))
        time.sleep(0.5)
    never_at_sink(st, m, 2)
    ctl(st, "audit", "del", DOMAIN, "1")
    m2 = mk()
    send_as(st, SENDER, [OUTSIDE], plain("audit-late", m2))
    check(len(wait_sink(st, m2, settle=1)) == 1, "the removed rule still applied")


sys.exit(run_suite(tap, setup=(
    ("domain", "set", DOMAIN, "outbound-admin", ADMIN),
    # outbound-zip too: omamori-submit must leave the ZIP to the filter,
    # after the rules have read the attachment as the sender wrote it
    ("sub", "set", SENDER, "outbound-zip", "on"),
) + tuple(("audit", "add", DOMAIN, rule) for rule in RULES)))
