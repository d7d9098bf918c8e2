#!/usr/bin/env python3
"""End-to-end: outbound-spam (issue 14 item 6) and the loops of omamori's own
notices, through real Postfix, omamori-policyd, omamori-filter, scand and
Dovecot.  The classifier is trained on omamori's fixture set.  carol
subscribes to outbound-spam and has put the spam's sender and the
recipients' domain on her own allow list (which must not count for her
outgoing mail): a spam fixture she sends is held for the administrator at
the default outbound-spam-threshold, never reaches the sink, the domain's
administrator (outbound-admin: alice) gets the alert, carol is not told,
omamori-web's user cannot release it over the control socket, root's
`hold release` sends it once.  A ham fixture goes out.  scand down: the
mail waits in Postfix's queue (451) and goes out once scand is back.  bob
(outbound-hold with hold-when any): his hold notice arrives in his INBOX,
is not held itself, and nothing from <> is FILTERed again.  TAP output."""
import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (sink, wait_sink, Tap, check, decoded, run_suite, send_as,  # noqa: E402
                    sure_fixtures, train_classifier)

tap = Tap()
SENDER = "carol@example.test"
LOOPER = "bob@example.test"
ADMIN = "alice@example.test"
OUTSIDE = "ext@far.example"
FIX = {}


def ctl(st, *args, check=True):
    proc = st.ctl(*args, check=check)
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def mk():
    return uuid.uuid4().hex


def with_marker(raw, marker):
    """The fixture with a unique Message-ID (the marker)."""
    head, body = raw.split(b"\n\n", 1)
    lines = [ln for ln in head.split(b"\n") if not ln.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: <" + marker.encode() + b"@e2e.test>")
    return b"\n".join(lines) + b"\n\n" + body


def fixture(st, kind, spam):
    if kind not in FIX:
        if not FIX:
            train_classifier(st)
        FIX[kind] = sure_fixtures(st, kind, "en", spam)[0]
    return FIX[kind]


def from_address(raw):
    m = re.search(rb"^From:.*?([\w.+-]+@[\w.-]+)", raw, re.M | re.I)
    check(m, "no From address in the fixture")
    return m.group(1).decode()


def never_at_sink(st, m, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        st.flush()
        check(not sink(st, m), "%s reached the sink" % m)
        time.sleep(0.5)


def hold_of(st, sender, marker, timeout=30):
    """The hold (id, state, reason) of sender whose held copy (the filter's
    spool file, read as root) has the Message-ID marker."""
    spool = os.path.join(st.dir, "outbound-spool")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in ctl(st, "hold", "list", sender).splitlines():
            f = line.split("\t")
            path = os.path.join(spool, "hold-" + f[0])
            if len(f) >= 8 and os.path.exists(path):
                with open(path, "rb") as held:
                    if marker.encode() in held.read():
                        return f[0], f[1], f[2]
        time.sleep(0.3)
    raise AssertionError("no hold of %s for %s:\n%s\nfilter log:\n%s" %
                         (sender, marker, ctl(st, "hold", "list", sender), st.tail("filter.log")))


def maillog(st):
    with open(os.path.join(st.dir, "log", "maillog"), encoding="utf-8", errors="replace") as f:
        return f.read()


def control_as_web(st, line):
    """One request on the filter's control socket as omamori-web's user."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
            "s.sendall(sys.argv[2].encode()+b'\\n')\nprint(s.recv(512).decode())\n")
    # the system interpreter: a per-user one under /root is not theirs to run
    return subprocess.run(["runuser", "-u", "omamori-web", "--", "/usr/bin/python3", "-c", code,
                           st.conf_value("filter_control"), line],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


@tap.case
def spam_is_held_for_the_administrator(st):
    raw = fixture(st, "spam", True)
    ctl(st, "list", "add", SENDER, "allow", from_address(raw))
    ctl(st, "list", "add", SENDER, "allow", "@far.example")
    time.sleep(1.5)
    m = mk()
    send_as(st, SENDER, [OUTSIDE], with_marker(raw, m))
    hid, state, reason = hold_of(st, SENDER, m)
    check(state == "admin" and reason == "spam", "hold %s: %s %s" % (hid, state, reason))
    never_at_sink(st, m, 5)
    shown = ctl(st, "hold", "show", hid)
    check("reason: spam" in shown and "spam-check: score=" in shown and
          "threshold=10.00" in shown and "expires: never" in shown, shown)
    alert = st.wait_for(ADMIN, b"X-Omamori-Alert: outbound-spam-alert")
    check(b"\nX-Omamori-Report: " in alert[0], "the alert is not sealed")
    text = decoded(alert[0])
    check(hid in text and SENDER in text and "Example ISP" in text,
          "the alert does not name the hold: %s" % text)
    check(not [x for x in st.fetch_all(SENDER) if hid.encode() in x],
          "the sender was told about the spam hold")
    # omamori-web acts for senders: never on the administrator's holds
    answer = control_as_web(st, "RELEASE " + hid)
    check(answer.startswith("STATE admin"), "web user's release: %r" % answer)
    never_at_sink(st, m, 2)
    out = ctl(st, "hold", "release", hid)
    check("sent as" in out, out)
    check(len(wait_sink(st, m, settle=2)) == 1, "not exactly one copy")
    again = ctl(st, "hold", "release", hid, check=False)
    check("it is sent" in again, again)


@tap.case
def ham_goes_out(st):
    m = mk()
    send_as(st, SENDER, [OUTSIDE], with_marker(fixture(st, "ham", False), m))
    check(len(wait_sink(st, m, settle=1)) == 1, "ham not sent once")
    check(m not in ctl(st, "hold", "list", SENDER), "ham held")


@tap.case
def scand_down_the_mail_waits(st):
    st.stop_scand()
    m = mk()
    try:
        send_as(st, SENDER, [OUTSIDE], with_marker(fixture(st, "ham", False), m))
        deadline = time.time() + 20
        while "outbound spam check unavailable" not in maillog(st):
            check(time.time() < deadline, "no 451 in the maillog:\n%s" % st.tail("maillog"))
            time.sleep(0.5)
        never_at_sink(st, m, 2)
    finally:
        st.restart_scand()
    st.flush()
    check(len(wait_sink(st, m, timeout=60, settle=1)) == 1, "not sent once scand was back")


@tap.case
def a_hold_notice_is_never_held_or_filtered_again(st):
    m = mk()
    data = ("From: %s\nTo: %s\nSubject: loop %s\nMessage-ID: <%s@example.test>\n\nbody\n"
            % (LOOPER, OUTSIDE, m, m)).encode()
    send_as(st, LOOPER, [OUTSIDE], data)
    notice = st.wait_for(LOOPER, b"X-Omamori-Hold:")
    check(len(notice) == 1, "%d notices" % len(notice))
    holds = [ln for ln in ctl(st, "hold", "list", LOOPER).splitlines() if ln.strip()]
    check(len(holds) == 1 and "\tsender\t" in holds[0], "holds of %s: %r" % (LOOPER, holds))
    never_at_sink(st, m, 2)
    log = maillog(st)
    filtered = [ln for ln in log.splitlines() if "triggers FILTER" in ln]
    check(filtered, "nothing was FILTERed at all")
    check(not [ln for ln in filtered if "from=<>" in ln],
          "a notice or alert from <> was FILTERed again: %r" %
          [ln for ln in filtered if "from=<>" in ln])


sys.exit(run_suite(tap, setup=(
    ("sub", "set", SENDER, "outbound-spam", "on"),
    ("sub", "set", LOOPER, "outbound-spam", "on"),
    ("sub", "set", LOOPER, "outbound-hold", "on"),
    ("mailbox", "set", LOOPER, "hold-when", "any"),
    ("domain", "set", "example.test", "outbound-admin", ADMIN),
)))
