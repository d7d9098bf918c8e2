#!/usr/bin/env python3
"""End-to-end: outbound-hold (一時保留) through real Postfix, omamori-filter,
Dovecot and omamori-web.  A subscribed sender writes to one internal and
one external recipient: the internal one has it at once over IMAP, the
sink (the Internet) has nothing; the sender's INBOX has the notice with the
signed link; the page (GET) shows envelope, subject, recipients and
attachments and changes nothing; "send now" sends exactly one copy and a
second POST is refused; a cancelled hold never arrives; at expiry
(omamorictl cron, the row's expiry set in the past by the test's own
hands) hold-expiry send sends, discard discards, admin keeps it for the
administrator; a restart of omamori-filter keeps the holds.  TAP output."""
import os
import pwd
import signal
import threading
import re
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (sink, wait_sink, BUILDDIR, STACK, Tap, check, decoded, file_part,  # noqa: E402
                    forms_of, header_of, http, run_suite, text_part, wait_mail)

tap = Tap()
SENDER = "carol@example.test"
INSIDE = "bob@example.test"
OUTSIDE = "ext@far.example"


def ctl(st, *args, check=True):
    """omamorictl's stdout and stderr, as text."""
    proc = st.ctl(*args, check=check)
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def mk():
    return uuid.uuid4().hex


def mail(m, attachment=True):
    bnd = "b-" + m
    head = ("From: %s\nTo: %s, %s\nSubject: =?UTF-8?B?5LiA5pmC5L+d55WZ?= %s\n"
            "Message-ID: <%s@example.test>\nMIME-Version: 1.0\n" % (SENDER, INSIDE, OUTSIDE, m, m))
    if not attachment:
        return (head + "\nbody %s\n" % m).encode()
    out = (head + "Content-Type: multipart/mixed; boundary=\"%s\"\n\n" % bnd).encode()
    for p in (text_part(b"body " + m.encode()), file_part(b"report.pdf", b"x" * 2048)):
        out += b"--" + bnd.encode() + b"\n" + p
    return out + b"--" + bnd.encode() + b"--\n"


def send(st, m, rcpts=(INSIDE, OUTSIDE), attachment=True):
    with st.smtp(login=SENDER) as s:
        refused = s.sendmail(SENDER, list(rcpts), mail(m, attachment))
    check(refused == {}, "refused: %r" % refused)


def never_at_sink(st, m, seconds=6):
    deadline = time.time() + seconds
    while time.time() < deadline:
        st.flush()
        check(not sink(st, m), "%s reached the sink" % m)
        time.sleep(0.5)


def hold_rows(st):
    """omamorictl hold list SENDER: {id: (state, line)}."""
    out = ctl(st, "hold", "list", SENDER)
    rows = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) >= 7:
            rows[f[0]] = (f[1], line)
    return rows


def wait_hold(st, m, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for hid, (state, line) in hold_rows(st).items():
            if m in line:
                return hid
        time.sleep(0.3)
    raise AssertionError("no hold for %s; filter log:\n%s" % (m, st.tail("filter.log", 30)))


def state_of(st, hid):
    out = ctl(st, "hold", "show", hid)
    return re.search(r"^state: (\S+)", out, re.M).group(1)


def notice(st, m, timeout=40):
    return wait_mail(st, SENDER, lambda raw: header_of(raw, "X-Omamori-Hold") and
                     m in decoded(raw), "hold notice for %s" % m, timeout)


def form(page, op):
    for f in forms_of(page):
        if f["op"] == op:
            fields = dict(f["fields"])
            fields["op"] = op
            return f["action"], fields
    raise AssertionError("no %s form in the page" % op)


def links(raw):
    text = decoded(raw)
    one = re.findall(r"https?://127\.0\.0\.1:\d+/h/[A-Za-z0-9_.~-]+", text)
    many = re.findall(r"https?://127\.0\.0\.1:\d+/hl/[A-Za-z0-9_.~-]+", text)
    check(one and many, "links in the notice:\n%s" % text)
    return one[0], many[0]


def expire(st, hid):
    """The test's own hands: the hold's expiry in the past (as cron.py ages
    quarantined mail)."""
    st.sql("UPDATE holds SET expires = ? WHERE id = ?", (int(time.time()) - 5, hid))


@tap.case
def internal_now_external_held_send_now_once(st):
    m = mk()
    send(st, m)
    inbox = st.wait_for(INSIDE, m.encode())
    check(len(inbox) == 1, "the internal recipient has %d copies" % len(inbox))
    hid = wait_hold(st, m)
    never_at_sink(st, m, 4)
    raw = notice(st, m)
    check(header_of(raw, "Auto-Submitted") == "auto-generated", "notice headers")
    text = decoded(raw)
    # what the end of the hold does, in words, not the setting's word
    check(("保留期限が来るとそのまま送信されます" in text or
           "when the hold ends it is sent" in text) and
          "（send）" not in text and "(send)" not in text,
          "the notice's end of hold:\n%s" % text)
    one, many = links(raw)
    # GET shows and changes nothing
    status, _, page = http(one)
    check(status == 200, "GET /h/: %d" % status)
    for want in (SENDER, m, "一時保留", INSIDE, OUTSIDE, "report.pdf", "2.0 KB"):
        check(want in page, "%r not on the page" % want)
    check("今すぐ送信" in page or "Send now" in page, "no send-now button")
    check("送信を取り消す" in page or "Cancel sending" in page, "no cancel button")
    check(re.search(r"社外|outside", page) and re.search(r"社内|inside", page),
          "recipients not marked inside/outside")
    status, _, page2 = http(one)
    check(status == 200 and state_of(st, hid) == "held", "a GET changed the hold")
    never_at_sink(st, m, 2)
    # send now
    action, fields = form(page, "send")
    _, fields2 = form(page2, "send")
    status, _, result = http(urllib.parse.urljoin(one, action), fields)
    check(status == 200, "POST send: %d\n%s" % (status, result[:800]))
    got = wait_sink(st, m, settle=2)
    check(len(got) == 1, "%d copies at the sink" % len(got))
    check(OUTSIDE.encode() in got[0].split(b"\n", 1)[0] and INSIDE.encode() not in got[0].split(b"\n", 1)[0],
          "the sink's envelope: %r" % got[0][:200])
    check(state_of(st, hid) == "sent", "state after send: %s" % state_of(st, hid))
    # a second POST (the same form value, and a fresh one) sends nothing
    status, _, _ = http(urllib.parse.urljoin(one, action), fields)
    check(status == 403, "the same form again: %d" % status)
    status, _, again = http(urllib.parse.urljoin(one, action), fields2)
    check(status == 409, "a second send: %d\n%s" % (status, again[:800]))
    time.sleep(3)
    check(len(sink(st, m)) == 1, "sent twice")
    check(len(st.wait_for(INSIDE, m.encode())) == 1, "the internal copy was sent again")
    # the page now says it was sent, with no buttons
    status, _, page = http(one)
    check(status == 200 and "hold-send" not in page and ("送信済み" in page or "Sent" in page),
          "the page of a sent hold:\n%s" % page[:1500])


@tap.case
def cancelled_never_arrives(st):
    m = mk()
    send(st, m)
    hid = wait_hold(st, m)
    raw = notice(st, m)
    _, many = links(raw)
    status, _, page = http(many)
    check(status == 200 and m in page, "GET /hl/: %d" % status)
    # the list's form for this hold
    mine = [f for f in forms_of(page) if f["fields"].get("id") == hid and f["op"] == "cancel"]
    check(len(mine) == 1, "no cancel form for %s on the list" % hid)
    fields = dict(mine[0]["fields"], op="cancel")
    status, _, result = http(urllib.parse.urljoin(many, mine[0]["action"]), fields)
    check(status == 200, "POST cancel: %d\n%s" % (status, result[:800]))
    check(state_of(st, hid) == "discarded", "state: %s" % state_of(st, hid))
    spool = os.path.join(st.dir, "outbound-spool", "hold-" + hid)
    check(not os.path.exists(spool), "the held copy is kept after cancel")
    expire(st, hid)
    ctl(st, "cron")
    never_at_sink(st, m, 5)


@tap.case
def expired_with_send_goes_out_at_cron(st):
    m = mk()
    send(st, m, rcpts=(OUTSIDE,), attachment=False)
    hid = wait_hold(st, m)
    ctl(st, "cron")
    never_at_sink(st, m, 2)
    check(state_of(st, hid) == "held", "cron before expiry did something")
    expire(st, hid)
    out = ctl(st, "cron")
    check(hid in out, "cron said: %s" % out)
    got = wait_sink(st, m, settle=2)
    check(len(got) == 1, "%d copies" % len(got))
    check(state_of(st, hid) == "sent", "state: %s" % state_of(st, hid))


@tap.case
def expired_with_discard_never_arrives(st):
    ctl(st, "domain", "set", "example.test", "hold-expiry", "discard")
    try:
        m = mk()
        send(st, m, rcpts=(OUTSIDE,), attachment=False)
        hid = wait_hold(st, m)
        text = decoded(notice(st, m))
        check("送信されずに破棄されます" in text or
              "it is discarded without being sent" in text,
              "the notice says the mail will be discarded:\n%s" % text)
        expire(st, hid)
        ctl(st, "cron")
        check(state_of(st, hid) == "discarded", "state: %s" % state_of(st, hid))
        never_at_sink(st, m, 5)
    finally:
        ctl(st, "domain", "unset", "example.test", "hold-expiry")


@tap.case
def expired_with_admin_waits_for_the_administrator(st):
    ctl(st, "domain", "set", "example.test", "hold-expiry", "admin")
    try:
        m = mk()
        send(st, m, rcpts=(OUTSIDE,), attachment=False)
        hid = wait_hold(st, m)
        expire(st, hid)
        ctl(st, "cron")
        check(state_of(st, hid) == "admin", "state: %s" % state_of(st, hid))
        check(hid in ctl(st, "hold", "list"), "not in the administrator's list")
        never_at_sink(st, m, 3)
        out = ctl(st, "hold", "release", hid)
        check("sent as" in out, out)
        check(len(wait_sink(st, m, settle=2)) == 1, "not exactly one copy")
    finally:
        ctl(st, "domain", "unset", "example.test", "hold-expiry")


@tap.case
def attachment_condition_and_internal_only_mail(st):
    ctl(st, "domain", "set", "example.test", "hold-when", "external attachment")
    try:
        m = mk()
        send(st, m, rcpts=(OUTSIDE,), attachment=False)
        check(len(wait_sink(st, m, settle=2)) == 1, "a mail without attachment was held")
        m2 = mk()
        send(st, m2, rcpts=(OUTSIDE,), attachment=True)
        wait_hold(st, m2)
        never_at_sink(st, m2, 3)
    finally:
        ctl(st, "domain", "unset", "example.test", "hold-when")
    m3 = mk()
    send(st, m3, rcpts=(INSIDE,), attachment=False)
    st.wait_for(INSIDE, m3.encode())
    check(not any(m3 in line for _, line in hold_rows(st).values()), "internal-only mail held")


@tap.case
def restart_of_the_filter_keeps_holds(st):
    m = mk()
    send(st, m, rcpts=(OUTSIDE,), attachment=False)
    hid = wait_hold(st, m)
    env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
    subprocess.run([STACK, "restart-filter", st.dir], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    check(state_of(st, hid) == "held", "state after restart: %s" % state_of(st, hid))
    never_at_sink(st, m, 2)
    out = ctl(st, "hold", "release", hid)
    check("sent as" in out, out)
    check(len(wait_sink(st, m, settle=2)) == 1, "not exactly one copy")
    r = ctl(st, "hold", "release", hid, check=False)
    check("sent" in r or "not sent" in r or r == "", "second release: %r" % r)
    time.sleep(2)
    check(len(sink(st, m)) == 1, "sent twice")


@tap.case
def a_release_whose_copy_postfix_has_is_not_sent_again(st):
    """The release's key: a hold whose copy omamori-dedup marked (Postfix
    queued it, the filter was killed before the .sent rename) is recorded
    sent by the next release, not sent a second time."""
    m = mk()
    send(st, m, rcpts=(OUTSIDE,), attachment=False)
    hid = wait_hold(st, m)
    mark = os.path.join(st.dir, "outbound-spool", "hold-%s.queued" % hid)
    os.symlink("00000000000000aa TESTQID0001", mark)
    os.lchown(mark, pwd.getpwnam("omamori").pw_uid, -1)
    out = ctl(st, "hold", "release", hid)
    check("already queued as TESTQID0001" in out, out)
    check(state_of(st, hid) == "sent", "state: %s" % state_of(st, hid))
    never_at_sink(st, m, 4)


def log_text(st, name):
    with open(os.path.join(st.dir, "log", name), errors="replace") as f:
        return f.read()


@tap.case
def kill_9_during_releases_sends_each_once(st):
    """Twelve holds released at once while omamori-filter is killed with
    SIGKILL; restarted, the ones left held are released again: each at
    the sink exactly once."""
    env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
    ms = [mk() for _ in range(12)]
    for m in ms:
        send(st, m, rcpts=(OUTSIDE,), attachment=False)
    hids = [wait_hold(st, m) for m in ms]
    dedup_before = len(log_text(st, "dedup.log"))
    pidfile = os.path.join(st.dir, "run", "filter.pid")
    threads = [threading.Thread(target=ctl, args=(st, "hold", "release", h), kwargs={"check": False})
               for h in hids]
    for t in threads:
        t.start()
    time.sleep(0.15)
    os.kill(int(open(pidfile).read()), signal.SIGKILL)
    for t in threads:
        t.join()
    at_kill = sum(1 for m in ms if sink(st, m))
    subprocess.run([STACK, "restart-filter", st.dir], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    # the filter's sockets are up before its recovery has run: holds the
    # kill left "sending" turn "held" or "sent" a moment later (on
    # PostgreSQL, later still), so wait for that before releasing again
    deadline = time.time() + 30
    while any(state_of(st, h) == "sending" for h in hids) and time.time() < deadline:
        time.sleep(0.2)
    check(all(state_of(st, h) != "sending" for h in hids),
          "still sending 30 s after the restart: %r" % [state_of(st, h) for h in hids])
    for h in hids:
        if state_of(st, h) == "held":
            ctl(st, "hold", "release", h, check=False)
    for m in ms:
        wait_sink(st, m, timeout=60)
    time.sleep(3)
    counts = [len(sink(st, m)) for m in ms]
    check(all(c == 1 for c in counts), "copies at the sink: %r" % counts)
    check(all(state_of(st, h) == "sent" for h in hids), "states: %r" % [state_of(st, h) for h in hids])
    log = log_text(st, "filter.log")
    print("# at the sink when the filter was killed: %d of 12; recovered sent by the "
          "mark: %d; discarded by omamori-dedup: %d" % (
              at_kill, log.count("it was sent"),
              log_text(st, "dedup.log")[dedup_before:].count("duplicate of hold-")))


@tap.case
def a_hold_of_another_node_is_asked_of_it_and_sent_there_once(st):
    """Several hosts on one store (doc/scaling.md "A hold released on
    another host"): the hold names this stack's node; made another node's
    by the test's own hands, a release here is asked of that node through
    the store (nothing sent here, a second release refused); given back to
    this node, its filter's sweep (every 5 s; a direct UPDATE notifies
    nothing) takes the request and sends it once, state sent."""
    m = mk()
    send(st, m, rcpts=(OUTSIDE,), attachment=False)
    hid = wait_hold(st, m)
    node = st.sql("SELECT node FROM holds WHERE id = ?", (hid,))[0][0]
    check(node == "stack-" + st.addr, "the hold's node: %r" % node)
    st.sql("UPDATE holds SET node = 'elsewhere' WHERE id = ?", (hid,))
    out = ctl(st, "hold", "release", hid)
    check("asked of" in out, out)
    check(state_of(st, hid) == "release-asked", "state: %s" % state_of(st, hid))
    out = ctl(st, "hold", "release", hid, check=False)
    check("it is release-asked" in out, "a second release: %s" % out)
    asked = st.sql("SELECT asked_by FROM holds WHERE id = ?", (hid,))[0][0]
    check(asked == node + " root", "asked_by: %r" % asked)
    never_at_sink(st, m, 6)   # more than a sweep: not this node's
    check(state_of(st, hid) == "release-asked", "state: %s" % state_of(st, hid))
    started = time.time()
    st.sql("UPDATE holds SET node = ? WHERE id = ?", (node, hid))
    copies = wait_sink(st, m, timeout=20, settle=3)
    check(len(copies) == 1, "%d copies at the sink" % len(copies))
    check(state_of(st, hid) == "sent", "state: %s" % state_of(st, hid))
    check("hold %s: release asked by another node" % hid in log_text(st, "filter.log"),
          "the filter's log does not say it took the request")
    print("# a release asked of this node: sent %.1f s after the row became its own "
          "(the store's change counter, or the 5 s sweep)" % (time.time() - started - 3))


if __name__ == "__main__":
    sys.exit(run_suite(tap, setup=[
        ("sub", "set", SENDER, "outbound-hold", "on"),
        ("domain", "set", "example.test", "hold-minutes", "1"),
    ]))
