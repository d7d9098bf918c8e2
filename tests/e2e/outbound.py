#!/usr/bin/env python3
"""End-to-end: the outbound path through real Postfix and omamori-filter.
An authenticated (XCLIENT LOGIN) subscriber's mail goes through the filter
once (the sink, standing for the Internet, gets one copy; internal
recipients get theirs through Dovecot), an unsubscribed sender's mail is
not touched, infected outbound mail is stripped (the notice in the sink's
copy) or bounced with the 5.7.1 text (the sender's bounce over IMAP) as
the domain's outbound-virus-action says, with the administrator's alert
in outbound wording (the authenticated sender, the account maybe
compromised, recipients, virus and file, what was done), 12 To/Cc
addresses arrive as undisclosed recipients and, with bcc-notify on, the
sender is told (12 addresses hidden; none with it off), a batch of 50
survives three kill -9 of the filter exactly once (omamori-dedup, the
re-injection's milter, drops a copy handed over twice), with omamori-dedup
down the copies wait, and with scand stopped mail waits in Postfix's queue
and goes out when it is back.  TAP output."""
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (send_as, sink, wait_sink, BUILDDIR, EICAR, STACK, Tap, check, decoded, file_part,  # noqa: E402
                    header_of, run_suite, text_part)

tap = Tap()


def mk():
    return uuid.uuid4().hex


def mail(m, frm, to, cc=None, parts=None):
    head = "From: %s\nTo: %s\n%sSubject: outbound %s\nMessage-ID: <%s@example.test>\n" % (
        frm, to, "Cc: %s\n" % cc if cc else "", m, m)
    if parts is None:
        return (head + "\nbody %s\n" % m).encode()
    bnd = b"b-" + m.encode()
    out = head.encode() + b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + bnd + b"\"\n\n"
    for p in parts:
        out += b"--" + bnd + b"\n" + p
    return out + b"--" + bnd + b"--\n"


def through_filter(raw):
    return b"from omamori-filter" in raw


def refresh():
    time.sleep(1.6)     # policyd looks at the store every second


@tap.case
def subscriber_mail_goes_out_once_through_the_filter(st):
    m = mk()
    send_as(st, "carol@example.test", ["bob@example.test", "ext@far.example"],
         mail(m, "carol@example.test", "ext@far.example", cc="bob@example.test"))
    got = wait_sink(st, m)
    time.sleep(2)
    got = sink(st, m)
    check(len(got) == 1, "%d copies at the sink" % len(got))
    check(through_filter(got[0]), "not re-injected by the filter:\n%r" % got[0][:600])
    check(b"to=<ext@far.example>" in got[0].split(b"\n", 1)[0], got[0][:200])
    inbox = st.wait_for("bob@example.test", m.encode())
    check(len(inbox) == 1 and through_filter(inbox[0]), "bob's copy: %r" % inbox)
    log = open(os.path.join(st.dir, "log", "maillog"), errors="replace").read()
    check("orig_client=localhost[127.0.0.1]" in log, "XFORWARD did not keep the client")


@tap.case
def unsubscribed_mail_is_not_touched(st):
    m = mk()
    send_as(st, "alice@example.test", ["ext@far.example"], mail(m, "alice@example.test", "ext@far.example"))
    got = wait_sink(st, m)
    check(not through_filter(got[0]), "an unsubscribed sender's mail went through the filter")


@tap.case
def twelve_to_cc_recipients_become_undisclosed(st):
    m = mk()
    to = ["r%d@far.example" % i for i in range(8)]
    cc = ["c%d@far.example" % i for i in range(3)] + ["bob@example.test"]
    send_as(st, "carol@example.test", to + cc,
         mail(m, "carol@example.test", ", ".join(to), cc=", ".join(cc)))
    got = wait_sink(st, m)
    envelope = got[0].split(b"\n", 1)[0]
    check(all(r.encode() in envelope for r in to + cc[:3]), "envelope changed: %r" % envelope)
    check(header_of(got[0], "To") == "undisclosed-recipients:;", header_of(got[0], "To"))
    check(header_of(got[0], "Cc") is None, "Cc kept: %r" % header_of(got[0], "Cc"))
    check(b"r3@far.example" not in got[0].split(b"\n", 1)[1], "the list is still in the message")
    inbox = st.wait_for("bob@example.test", m.encode())
    check(header_of(inbox[0], "To") == "undisclosed-recipients:;", "bob's copy keeps the list")
    # under the threshold: untouched
    m2 = mk()
    send_as(st, "carol@example.test", to[:3], mail(m2, "carol@example.test", ", ".join(to[:3])))
    got2 = wait_sink(st, m2)
    check(header_of(got2[0], "To") == ", ".join(to[:3]), header_of(got2[0], "To"))


def bcc_notices(st, m):
    return [raw for raw in st.fetch_all("carol@example.test")
            if header_of(raw, "X-Omamori-Notice") == "bcc" and m in decoded(raw)]


@tap.case
def bcc_notify_tells_the_sender_how_many_were_hidden(st):
    to = ["n%d@far.example" % i for i in range(9)]
    cc = ["d%d@far.example" % i for i in range(3)]
    # off (the default): no notice
    m0 = mk()
    send_as(st, "carol@example.test", to + cc,
            mail(m0, "carol@example.test", ", ".join(to), cc=", ".join(cc)))
    got = wait_sink(st, m0)
    check(header_of(got[0], "To") == "undisclosed-recipients:;", "not hidden")
    st.ctl("mailbox", "set", "carol@example.test", "bcc-notify", "on")
    try:
        refresh()
        m = mk()
        send_as(st, "carol@example.test", to + cc,
                mail(m, "carol@example.test", ", ".join(to), cc=", ".join(cc)))
        got = wait_sink(st, m, settle=1)
        check(len(got) == 1 and header_of(got[0], "To") == "undisclosed-recipients:;",
              "the mail: %d copies" % len(got))
        deadline = time.time() + 30
        while not bcc_notices(st, m) and time.time() < deadline:
            time.sleep(0.3)
        notices = bcc_notices(st, m)
        check(len(notices) == 1, "%d bcc notices in the sender's INBOX" % len(notices))
        text = decoded(notices[0])
        check("12" in text and "BCC" in text and "送信日時" in text and m in text and
              "Example ISP" in text, "the notice:\n%s" % text)
        check(header_of(notices[0], "Auto-Submitted") == "auto-generated", "no Auto-Submitted")
        # under the threshold: nothing hidden, no notice
        m2 = mk()
        send_as(st, "carol@example.test", to[:3], mail(m2, "carol@example.test", ", ".join(to[:3])))
        wait_sink(st, m2)
        time.sleep(3)
        check(not bcc_notices(st, m2), "a notice for a mail that was not changed")
    finally:
        st.ctl("mailbox", "unset", "carol@example.test", "bcc-notify")
    time.sleep(3)
    check(not bcc_notices(st, m0), "a notice with bcc-notify off")
    r = st.ctl("domain", "set", "example.test", "bcc-notify", "maybe", check=False)
    check(r.returncode != 0, "bcc-notify=maybe accepted")


@tap.case
def infected_outbound_mail_is_stripped_by_default(st):
    m = mk()
    data = mail(m, "dave@example.test", "ext@far.example",
                parts=[text_part(b"see attached " + m.encode()), file_part(b"eicar.com", EICAR)])
    send_as(st, "dave@example.test", ["ext@far.example"], data)
    got = wait_sink(st, m)
    check(b"EICAR-STANDARD" not in got[0] and b"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo" not in got[0],
          "the virus went out")
    check("Omamori.Test.EICAR" in decoded(got[0].split(b"\n", 1)[1]),
          "no notice in the recipient's copy:\n%r" % got[0][:1500])
    text = wait_admin_alert(st, m)
    check("削除" in text and "受信者に送信しました" in text, "the action (stripped):\n%s" % text)


@tap.case
def a_sender_spelled_otherwise_is_checked_as_itself(st):
    # dave's outbound-virus is his however the envelope spells him
    m = mk()
    data = mail(m, "dave@example.test", "ext@far.example",
                parts=[text_part(b"see attached " + m.encode()), file_part(b"eicar.com", EICAR)])
    with st.smtp(login="dave@example.test") as s:
        refused = s.sendmail("Dave@Example.TEST", ["ext@far.example"], data)
    check(refused == {}, "refused: %r" % refused)
    got = wait_sink(st, m)
    check(b"EICAR-STANDARD" not in got[0] and "EICAR-STANDARD" not in decoded(got[0]),
          "the virus went out")
    check("Omamori.Test.EICAR" in decoded(got[0].split(b"\n", 1)[1]),
          "no notice in the recipient's copy:\n%r" % got[0][:1500])


@tap.case
def infected_outbound_mail_is_bounced_with_block(st):
    st.ctl("domain", "set", "example.test", "outbound-virus-action", "block")
    try:
        m = mk()
        data = mail(m, "dave@example.test", "ext2@far.example",
                    parts=[text_part(b"blocked " + m.encode()), file_part(b"invoice.com", EICAR)])
        send_as(st, "dave@example.test", ["ext2@far.example"], data)
        bounce = st.wait_for("dave@example.test", b"5.7.1", timeout=40)
        text = bounce[0].decode("utf-8", "replace")
        check("virus Omamori.Test.EICAR" in text and "invoice.com" in text,
              "bounce text: %s" % text[:2000])
        time.sleep(2)
        check(not sink(st, m), "a blocked message reached the sink")
        text = wait_admin_alert(st, m)
        check("拒否" in text and "バウンス" in text and "invoice.com" in text,
              "the action (refused):\n%s" % text)
    finally:
        st.ctl("domain", "unset", "example.test", "outbound-virus-action")


def wait_admin_alert(st, m, timeout=30):
    """The administrator (virus-admin-copy: carol) gets the alert of the
    message with marker m in its subject, in outbound wording: an
    authenticated user of the domain (dave) sent it, maybe a compromised
    account, to whom, which virus in which file; never scand's inbound
    report ("a mail sent to you").  Returns its text."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for raw in st.fetch_all("carol@example.test"):
            text = decoded(raw)
            if "Omamori.Test.EICAR" in text and m in text:
                check(header_of(raw, "X-Omamori-Notice") == "outbound-virus",
                      "not the outbound alert:\n%s" % text)
                for want in ("送信メールからウイルスを検出しました", "dave@example.test",
                             "認証", "不正に利用されている可能性", "ext", "far.example",
                             "Omamori.Test.EICAR", "処理結果", "Example ISP"):
                    check(want in text, "%r not in the admin alert:\n%s" % (want, text))
                check("お客さまに届いたメール" not in text, "inbound wording:\n%s" % text)
                check(header_of(raw, "X-Omamori-Report"), "the alert is not sealed")
                return text
        time.sleep(0.3)
    raise AssertionError("no admin alert for %s" % m)


def sink_ids(st, prefix):
    ids = {}
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        if name.startswith("."):
            continue
        with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
            mid = header_of(f.read(), "Message-ID") or ""
        if mid.startswith("<" + prefix):
            ids[mid] = ids.get(mid, 0) + 1
    return ids


def log_text(st, name):
    with open(os.path.join(st.dir, "log", name), errors="replace") as f:
        return f.read()


@tap.case
def a_senders_seal_does_not_skip_the_checks(st):
    """After the queue alone: a sender's X-Omamori-Out-Checked claiming
    the virus check done before the queue (a made-up MAC) is taken out and
    the virus is stripped all the same."""
    m = uuid.uuid4().hex
    data = ("From: dave@example.test\nTo: ext2@far.example\nSubject: seal %s\n"
            "X-Omamori-Out-Checked: ABCDEF123 virus,bcc,zip sub-%s 1 %d %s\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
            "--b\nContent-Type: text/plain\n\nbody %s\n--b\n"
            "Content-Type: application/octet-stream\n"
            "Content-Disposition: attachment; filename=eicar.com\n\n"
            % (m, "0" * 32, int(time.time()), "ab" * 32, m)).encode() + EICAR + b"\n--b--\n"
    send_as(st, "dave@example.test", ["ext2@far.example"], data)
    raw = wait_sink(st, m)[0]
    check(EICAR not in raw, "the virus went out")
    check(b"X-Omamori-Out-Checked" not in raw, "the forged seal went out")
    with open(os.path.join(st.dir, "log", "filter.log"), errors="replace") as f:
        check("X-Omamori-Out-Checked field not made for this message" in f.read(),
              "the filter did not say the seal was not its own")


@tap.case
def kill_9_during_a_batch_loses_nothing_and_duplicates_nothing(st):
    prefix = "batch-" + mk()[:8]
    env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
    pidfile = os.path.join(st.dir, "run", "filter.pid")
    dedup_before = len(log_text(st, "dedup.log"))
    filter_before = len(log_text(st, "filter.log"))
    # the batch waits in Postfix's queue while the filter is away, so that
    # Postfix then delivers it over all its omamori-out connections at once
    os.kill(int(open(pidfile).read()), signal.SIGTERM)
    time.sleep(1)
    with st.smtp(login="carol@example.test") as s:
        for i in range(50):
            mid = "%s-%02d" % (prefix, i)
            s.sendmail("carol@example.test", ["ext@far.example"],
                       ("From: carol@example.test\nTo: ext@far.example\nSubject: %s\n"
                        "Message-ID: <%s@example.test>\n\nbatch %s\n" % (mid, mid, mid)).encode())
    time.sleep(1)
    kills = []
    # kill it hard in the middle of the batch, three times: each time some
    # deliveries are cut between Postfix queueing the re-injected copy and
    # the filter hearing so (the hand-off window)
    for at in (3, 15, 30):
        subprocess.run([STACK, "restart-filter", st.dir], env=env, check=True, stdout=subprocess.DEVNULL)
        st.flush()
        deadline = time.time() + 30
        while sum(sink_ids(st, prefix).values()) < at and time.time() < deadline:
            time.sleep(0.005)
        os.kill(int(open(pidfile).read()), signal.SIGKILL)
        kills.append(sum(sink_ids(st, prefix).values()))
        time.sleep(0.5)
    check(kills[0] < 50, "the first kill came after the batch: %r" % kills)
    subprocess.run([STACK, "restart-filter", st.dir], env=env, check=True, stdout=subprocess.DEVNULL)
    deadline = time.time() + 90
    while len(sink_ids(st, prefix)) < 50 and time.time() < deadline:
        st.flush()
        time.sleep(1)
    time.sleep(3)
    ids = sink_ids(st, prefix)
    check(len(ids) == 50, "%d of 50 arrived (at the kills: %r)" % (len(ids), kills))
    dups = {k: v for k, v in ids.items() if v != 1}
    check(not dups, "sent more than once: %r" % dups)
    # the log says which deliveries fell in the window: the milter dropped
    # the second copy, or the retry found the milter's mark first
    discarded = re.findall(r"duplicate of (\S+) discarded", log_text(st, "dedup.log")[dedup_before:])
    found = re.findall(r"already in Postfix as \S+ \(key (\S+)\)", log_text(st, "filter.log")[filter_before:])
    print("# at the sink when the filter was killed: %r; in the hand-off window: %d "
          "(%d second copies discarded by omamori-dedup, %d retries answered from "
          "its mark); 50 of 50 once" % (kills, len(discarded) + len(found), len(discarded), len(found)))
    for key in discarded:
        print("#   discarded: duplicate of %s" % key)


class UnixSMTP(smtplib.SMTP):
    """smtplib over a UNIX socket (the re-injection smtpd in public/)."""
    def connect(self, host="localhost", port=0, source_address=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(host)
        self.file = None
        return self.getreply()


@tap.case
def a_second_copy_with_the_same_key_is_discarded_by_the_milter(st):
    """The receiver is idempotent: two copies handed to omamori-reinject
    with one key (as when a killed filter's retry races its first copy
    still in Postfix's cleanup): the first is queued, the second gets 250
    and is dropped, the log names the key; a copy with a new key goes."""
    m = mk()
    key = "TESTQID%s-%s" % (m[:6].upper(), m)
    path = os.path.join(st.dir, "postfix", "spool", "public", "omamori-reinject")
    replies = []
    for attempt in ("00000000000000a1", "00000000000000b2"):
        data = ("X-Omamori-Out-Id: %s %s\n" % (key, attempt)).encode() + \
            mail(m, "carol@example.test", "ext@far.example")
        s = UnixSMTP(path)
        try:
            s.ehlo("test")
            s.mail("carol@example.test")
            s.rcpt("ext@far.example")
            replies.append(s.data(data))
            s.quit()
        finally:
            s.close()
    check(all(code == 250 for code, _ in replies), "replies %r" % replies)
    wait_sink(st, m)
    time.sleep(3)
    got = sink(st, m)
    check(len(got) == 1, "%d copies at the sink" % len(got))
    check(b"X-Omamori-Out-Id" not in got[0], "the key header went out")
    check("duplicate of %s discarded" % key in log_text(st, "dedup.log"),
          "omamori-dedup did not log the discard")
    mark = os.readlink(os.path.join(st.dir, "outbound-spool", key + ".queued"))
    check(mark.startswith("00000000000000a1 "), "the mark is not the first attempt's: %r" % mark)


@tap.case
def the_marks_and_the_milter_fail_closed(st):
    """omamori-dedup down: the filter's copies wait (milter_default_action
    = tempfail), nothing goes out unmarked; back up, they go out once.  A
    sender's own X-Omamori-Out-Id never reaches the milter."""
    env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
    os.kill(int(open(os.path.join(st.dir, "run", "dedup.pid")).read()), signal.SIGTERM)
    time.sleep(1)
    try:
        m = mk()
        data = mail(m, "carol@example.test", "ext@far.example").replace(
            b"Subject:", b"X-Omamori-Out-Id: forged-00 0123456789abcdef\nSubject:", 1)
        send_as(st, "carol@example.test", ["ext@far.example"], data)
        time.sleep(5)
        check(not sink(st, m), "went out while omamori-dedup was down")
        q = st.queue()
        check("carol@example.test" in q, "not waiting in Postfix's queue:\n%s" % q)
    finally:
        subprocess.run([STACK, "restart-dedup", st.dir], env=env, check=True, stdout=subprocess.DEVNULL)
    st.flush()
    got = wait_sink(st, m, timeout=60)
    time.sleep(2)
    got = sink(st, m)
    check(len(got) == 1, "%d copies" % len(got))
    check(b"X-Omamori-Out-Id" not in got[0], "the key header went out:\n%r" % got[0][:800])
    check("the sender's X-Omamori-Out-Id field removed" in log_text(st, "filter.log"),
          "the sender's field was not removed")


@tap.case
def scand_down_mail_waits_then_goes_out(st):
    st.stop_scand()
    try:
        m = mk()
        send_as(st, "dave@example.test", ["ext@far.example"], mail(m, "dave@example.test", "ext@far.example"))
        time.sleep(5)
        check(not sink(st, m), "sent unchecked while scand was down")
        q = st.queue()
        check("dave@example.test" in q, "not waiting in Postfix's queue:\n%s" % q)
        check("4.7.1" in q or "virus check unavailable" in q, "queue reason: %s" % q)
    finally:
        st.restart_scand()
    st.flush()
    got = wait_sink(st, m, timeout=60)
    check(len(got) == 1, "%d copies" % len(got))


if __name__ == "__main__":
    # the after-queue path alone (outbound_inline = 0, a site without the
    # submission milter): its Postfix hand-off, bounce, kill -9 and queue
    # waits are what this file tests; tests/e2e/submit.py the milter's
    os.environ["OMAMORI_OUTBOUND_INLINE"] = "0"
    sys.exit(run_suite(tap, setup=[
        # the after-queue path, whose Postfix hand-off, kill -9 and queue
        # waits this file tests (tests/e2e/submit.py: the before-queue path)
        ("domain", "set", "example.test", "outbound-path", "queue"),
        ("sub", "set", "carol@example.test", "outbound-bcc", "on"),
        ("sub", "set", "dave@example.test", "outbound-virus", "on"),
        ("domain", "set", "example.test", "virus-admin-copy", "carol@example.test"),
    ]))
