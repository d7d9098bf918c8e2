#!/usr/bin/env python3
"""End-to-end: the message trace (issue 18 item 4, doc/trace.md) through
real Postfix, omamori-policyd, Dovecot, omamori-scand and omamori-filter.

A spam (a block-listed From) is quarantined and then released with
omamorictl: `omamorictl trace example.test --message-id` shows its steps
in order - policyd's answer, scand's verdict with the rule, where the
delivery put it, the quarantine, the release.  A clean mail found by its
subject shows the policy answer, the clean verdict and INBOX, and no
quarantine.  A mail to two recipients shows one policy row with both.
An outbound mail held for its sender shows the hold and,
once released, the send.  Another domain's search shows none of
example.test's mail, and example.test's none of another domain's row
(put there by the test's own hands: the stack has one domain).  TAP."""
import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite, wait_sink  # noqa: E402

tap = Tap()
ALICE = "alice@example.test"
CAROL = "carol@example.test"
OUTSIDE = "ext@far.example"
# the spam, kept for the isolation case
SPAM = {}


def mk():
    return uuid.uuid4().hex


def trace(st, domain, *args):
    proc = st.ctl("trace", domain, *args)
    return proc.stdout.decode("utf-8", "replace")


def wait_trace(st, domain, args, wanted, timeout=60):
    """The trace's output once every line pattern of wanted is in it (the
    daemons write their events every second; policyd's wait for the queue
    id)."""
    deadline = time.time() + timeout
    while True:
        out = trace(st, domain, *args)
        if all(re.search(w, out, re.M) for w in wanted):
            return out
        if time.time() > deadline:
            raise AssertionError("trace %s %s never showed %r:\n%s\nscand log:\n%s"
                                 % (domain, " ".join(args), wanted, out, st.scand_log()))
        time.sleep(1)


def in_order(out, patterns):
    """The lines matching patterns come in that order."""
    at = -1
    for p in patterns:
        m = re.search(p, out[at + 1:], re.M)
        check(m is not None, "%r not after the previous step in:\n%s" % (p, out))
        at += 1 + m.start()


def message(m, sender_header, subject):
    return ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@e2e.test>\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\n\nhello %s\n"
            % (sender_header, ALICE, subject, m, m)).encode()


def where(st, m, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Quarantine"):
            found = [raw for raw in st.fetch_all(ALICE, box) if m.encode() in raw]
            if found:
                return box, found[0]
        time.sleep(0.3)
    raise AssertionError("%s never arrived; maillog:\n%s" % (m, st.tail("maillog")))


@tap.case
def spam_quarantined_then_released_step_by_step(st):
    m = mk()
    st.send(message(m, "ads@pest.example", "trace spam " + m), [ALICE],
            sender="bounce@mailer.example")
    box, raw = where(st, m)
    check(box == "Quarantine", "the spam went to %s" % box)
    qid = re.search(rb"X-Omamori-Quarantine-Id: ([0-9a-f]{32})", raw).group(1).decode()
    st.ctl("quarantine", "release", ALICE, qid)
    box, _ = where(st, m)
    check(box == "INBOX", "released to %s" % box)
    mid = "<%s@e2e.test>" % m
    out = wait_trace(st, "example.test", ["--message-id", mid],
                     [r"^\s.*policy\s+DUNNO\s+to=<%s>" % ALICE,
                      r"^\s.*scan\s+spam\s.*listed block:mailbox",
                      r"^\s.*deliver\s+Quarantine",
                      r"^\s.*quarantine\s+Quarantine.*id %s" % qid,
                      r"^\s.*release\s+INBOX.*id %s" % qid])
    check(out.count("\nmessage ") + out.startswith("message ") == 1,
          "one message, not several:\n%s" % out)
    check("from <bounce@mailer.example>" in out and "trace spam " + m in out,
          "the envelope sender and the subject:\n%s" % out)
    in_order(out, [r"policy\s+DUNNO", r"scan\s+spam", r"deliver\s+Quarantine",
                   r"quarantine\s+Quarantine", r"release\s+INBOX"])
    # the policy answer is tied to the message by Postfix's queue id
    q = re.search(r"policy\s+DUNNO.* queue=(\w+)", out)
    check(q is not None and re.search(r"scan\s+spam.* queue=%s" % q.group(1), out),
          "the policy answer and the scan share a queue id:\n%s" % out)
    SPAM.update(m=m, mid=mid)


@tap.case
def clean_mail_found_by_subject(st):
    m = mk()
    st.send(message(m, "friend@remote.test", "trace clean " + m), [ALICE],
            sender="friend@remote.test")
    box, _ = where(st, m)
    check(box == "INBOX", "clean mail went to %s" % box)
    out = wait_trace(st, "example.test", ["--subject", "TRACE CLEAN " + m[:8]],
                     [r"policy\s+DUNNO", r"scan\s+clean", r"deliver\s+INBOX"])
    in_order(out, [r"policy\s+DUNNO", r"scan\s+clean", r"deliver\s+INBOX"])
    check("quarantine" not in out and "spam" not in out, "a clean mail's trace:\n%s" % out)
    out = trace(st, "example.test", "--sender", "friend@remote.test",
                "--since", time.strftime("%Y-%m-%d"), "--until", time.strftime("%Y-%m-%d"))
    check(m in out, "by sender and today's date:\n%s" % out)
    out = trace(st, "example.test", "--sender", "friend@remote.test", "--until", "2020-01-01")
    check(m not in out and "no message" in out, "a date range before it:\n%s" % out)


@tap.case
def two_recipients_one_policy_row(st):
    """policyd's accepted recipients of a message are one row (schema v23):
    the first recipient, the count, the other named; each recipient's own
    search shows it."""
    m = mk()
    data = ("From: friend@remote.test\nTo: %s, %s\nSubject: trace two %s\n"
            "Message-ID: <%s@e2e.test>\n\nhello %s\n" % (ALICE, CAROL, m, m, m)).encode()
    with st.smtp() as s:
        check(s.sendmail("friend@remote.test", [ALICE, CAROL], data) == {}, "refused")
    mid = "<%s@e2e.test>" % m
    out = wait_trace(st, "example.test", ["--message-id", mid],
                     [r"policy\s+DUNNO\s+to=<%s> recipients=2 .*also to %s" % (ALICE, CAROL),
                      r"deliver\s+INBOX\s+to=<%s>" % ALICE])
    check(len(re.findall(r"\spolicy\s", out)) == 1, "one policy row:\n%s" % out)
    # carol has no scan of her own (no subscription): the policy row is
    # her only step, found through the detail that names her
    today = time.strftime("%Y-%m-%d")
    for rcpt in (ALICE, CAROL):
        out = trace(st, "example.test", "--recipient", rcpt, "--since", today,
                    "--until", today)
        check(re.search(r"policy\s+DUNNO\s+to=<%s> recipients=2 queue=\w+ .*also to %s"
                        % (ALICE, CAROL), out),
              "the search by %s shows the policy row:\n%s" % (rcpt, out))


@tap.case
def another_domain_sees_nothing_of_example_test(st):
    check(SPAM, "no spam traced")
    for domain in ("remote.test", "pest.example", "mailer.example", "example.org"):
        out = trace(st, domain, "--message-id", SPAM["mid"])
        check(SPAM["m"] not in out and "no message" in out,
              "%s sees example.test's mail:\n%s" % (domain, out))
    # the other way round: a row of example.org with the same Message-ID
    st.sql("INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
           "subject, queue_id, step, result, detail) VALUES (?, 'example.org', 1, "
           "'bounce@mailer.example', 'jiro@example.org', ?, 'theirs', 'QORG', "
           "'scan', 'spam', 'secret of example.org')",
           (int(time.time()), SPAM["mid"][1:-1]))
    out = trace(st, "example.test", "--message-id", SPAM["mid"])
    check("jiro@example.org" not in out and "secret of example.org" not in out and
          "release" in out, "example.test sees example.org's row:\n%s" % out)
    out = trace(st, "example.org", "--message-id", SPAM["mid"])
    check("secret of example.org" in out and ALICE not in out and "release" not in out,
          "example.org's search:\n%s" % out)


@tap.case
def outbound_held_then_sent(st):
    m = mk()
    data = ("From: %s\nTo: %s\nSubject: trace hold %s\nMessage-ID: <%s@example.test>\n"
            "\nbody %s\n" % (CAROL, OUTSIDE, m, m, m)).encode()
    with st.smtp(login=CAROL) as s:
        check(s.sendmail(CAROL, [OUTSIDE], data) == {}, "refused")
    mid = "<%s@example.test>" % m
    out = wait_trace(st, "example.test", ["--message-id", mid], [r"hold\s+held"])
    hid = re.search(r"hold\s+held.*id (\S+)", out).group(1)
    st.ctl("hold", "release", hid)
    wait_sink(st, m)
    out = wait_trace(st, "example.test", ["--message-id", mid],
                     [r"policy\s+FILTER", r"hold\s+held", r"send\s+sent"])
    in_order(out, [r"policy\s+FILTER", r"hold\s+held", r"send\s+sent"])
    check("(outbound)" in out, "not shown as outbound:\n%s" % out)
    out = trace(st, "far.example", "--message-id", mid)
    check(m not in out, "the recipient's domain sees the sender's steps:\n%s" % out)


@tap.case
def events_are_kept_trace_keep_days(st):
    # a site keeping its trace 30 days: cron forgets a row of 31 days ago
    # and keeps one of 29
    now = int(time.time())
    for days, mark in ((31, "old-trace-row"), (29, "new-trace-row")):
        st.sql("INSERT INTO events(at, domain, direction, sender, recipient, message_id, "
               "subject, queue_id, step, result, detail) VALUES (?, 'keep.test', 1, "
               "'a@far.example', 'b@keep.test', ?, 'kept?', 'QKEEP', 'scan', 'clean', '')",
               (now - days * 86400, mark + "@keep.test"))
    conf = os.path.join(st.dir, "etc", "omamori-keep30.conf")
    with open(st.OMAMORI_CONF) as f, open(conf, "w") as g:
        g.write(f.read() + "trace_keep_days = 30\n")
    proc = subprocess.run([st.OMAMORICTL, "-c", conf, "cron", "--at", "00:13"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check("events-expiry: " in proc.stdout, "cron: %r %r" % (proc.stdout, proc.stderr))
    left = [r[0] for r in st.sql("SELECT message_id FROM events WHERE domain = 'keep.test'")]
    check(left == ["new-trace-row@keep.test"], "rows left: %r" % left)


def prepare(st):
    st.ctl("sub", "set", ALICE, "spam", "on")
    st.ctl("mailbox", "set", ALICE, "spam-action", "quarantine")
    st.ctl("list", "add", ALICE, "block", "@pest.example")
    st.ctl("sub", "set", CAROL, "outbound-hold", "on")
    st.ctl("domain", "set", "example.test", "hold-minutes", "5")
    time.sleep(1.6)     # policyd picks store changes up every second


if __name__ == "__main__":
    sys.exit(run_suite(tap, prepare=prepare))
