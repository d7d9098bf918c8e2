#!/usr/bin/env python3
"""Fault suite: an answer omamori cannot read is never a delivery.

The real omamori-scand is stopped and a stand-in takes its socket (same
path, mode 0660, omamori:omamori, as Dovecot's delivery processes reach the
real one).  The stand-in reads each request frame and answers what a newer
or broken scand might: a well-formed SCAN_RESULT whose action this version
does not know ("deliver-all"), a verdict it does not know, a frame whose
field runs past its end, bytes that are no frame at all.  Each time Dovecot
must answer LMTP 451 (Postfix logs it and keeps the message), nothing may
reach the INBOX or Quarantine, not even with scand_failure_action = accept;
omamorictl scan exits 2 (error), never 0 (clean) or 1.  Then the real scand
comes back, the queue is flushed, and every message is delivered exactly
once with a real verdict.  TAP output."""
import contextlib
import os
import pwd
import re
import socket
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import omtest  # noqa: E402
from omtest import Tap, check, header_of, proto_version, run_suite  # noqa: E402

PROTO_VERSION = proto_version()

tap = Tap()
ALICE = "alice@example.test"
SCAN_RESULT = 2


def marker():
    return uuid.uuid4().hex.encode()


def mail(m):
    return (b"From: Sender <sender@remote.test>\nTo: alice@example.test\n"
            b"Subject: failclosed " + m + b"\nMessage-ID: <" + m + b"@remote.test>\n\n"
            b"a plain message " + m + b"\n")


def frame(ftype, fields):
    """A frame of the build's protocol version (doc/protocol.md)."""
    body = b"".join(struct.pack(">HI", tag, len(v)) + v for tag, v in fields)
    return b"OMSC" + struct.pack(">HHI", PROTO_VERSION, ftype, len(body)) + body


UNKNOWN_ACTION = frame(SCAN_RESULT, [(16, b"clean"), (17, b"deliver-all")])
UNKNOWN_VERDICT = frame(SCAN_RESULT, [(16, b"harmless"), (17, b"deliver")])
# a valid header, then a field whose length runs past the frame
GARBLED = b"OMSC" + struct.pack(">HHI", PROTO_VERSION, SCAN_RESULT, 10) + struct.pack(">HI", 17, 200) + b"dell"
NOT_A_FRAME = b"220 hello, I am not omamori-scand\r\n"


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data


class StandIn:
    """Listens on scand's socket and answers every request with answer."""

    def __init__(self, path, answer):
        self.path, self.answer, self.requests = path, answer, 0
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        omamori = pwd.getpwnam("omamori")
        os.chown(path, omamori.pw_uid, omamori.pw_gid)
        os.chmod(path, 0o660)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return          # closed: the test is over
            with conn:
                try:
                    conn.settimeout(30)
                    head = read_exact(conn, 12)
                    read_exact(conn, struct.unpack(">I", head[8:12])[0])
                    self.requests += 1
                    conn.sendall(self.answer)
                    conn.shutdown(socket.SHUT_WR)
                except (OSError, EOFError):
                    pass

    def close(self):
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@contextlib.contextmanager
def stand_in(st, answer):
    """The real scand stopped and the stand-in on its socket; the real
    scand started again at the end, whatever happened."""
    st.stop_scand()
    fake = StandIn(st.SCAND_SOCKET, answer)
    try:
        yield fake
    finally:
        fake.close()
        st.restart_scand()


def read_log(path, since=0):
    with open(path, errors="replace") as f:
        f.seek(since)
        return f.read()


def queue_id(st, m, timeout=30):
    """Postfix's queue id of the message with marker m (from the maillog)."""
    want = re.compile(r"postfix/cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=<%s@remote.test>"
                      % m.decode())
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = want.search(read_log(st.MAILLOG))
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError("message %s never reached Postfix's cleanup" % m.decode())


def wait_451(st, m, timeout=40):
    """LMTP answered 451 for m, Postfix deferred it and keeps it queued."""
    qid = queue_id(st, m)
    want = re.compile(r"%s: to=<%s>.*status=deferred .*451 4\.2\.0" % (qid, re.escape(ALICE)))
    deadline = time.time() + timeout
    while time.time() < deadline:
        if want.search(read_log(st.MAILLOG)):
            check(qid in st.queue(), "%s deferred but not in the queue:\n%s" % (qid, st.queue()))
            return qid
        time.sleep(0.3)
    raise AssertionError("no LMTP 451 for %s (%s); maillog tail:\n%s"
                         % (m.decode(), qid, st.tail("maillog")))


def in_box(st, m, mailbox="INBOX"):
    return omtest.in_box(st, ALICE, m, mailbox)


def nowhere_for(st, m, seconds):
    omtest.nowhere_for(st, ALICE, m, seconds, "delivered on an answer omamori cannot read")


def delivered_once_clean(st, m, timeout=40):
    """After the real scand is back: flushed, delivered once, verdict from
    a real scan."""
    st.flush()
    got = st.wait_for(ALICE, m, timeout=timeout)
    time.sleep(1)          # a second copy would show up by now
    got = in_box(st, m)
    check(len(got) == 1, "delivered %d times" % len(got))
    check(not in_box(st, m, "Quarantine"), "also in Quarantine")
    check(header_of(got[0], "X-Omamori-Virus") == "clean",
          "verdict %r" % header_of(got[0], "X-Omamori-Virus"))
    return got[0]


def refused_then_delivered(st, answer, why):
    """Sends a message while the stand-in answers answer: 451, kept, the
    plugin's log names why; then delivered once by the real scand."""
    m = marker()
    dovecot_log = os.path.join(st.dir, "log", "dovecot.log")
    since = os.path.getsize(dovecot_log)
    with stand_in(st, answer) as fake:
        st.send(mail(m), [ALICE])
        wait_451(st, m)
        nowhere_for(st, m, 3)
        check(fake.requests >= 1, "the stand-in was never asked")
        log = read_log(dovecot_log, since)
        check(why in log and "message kept for a retry" in log,
              "dovecot.log does not say %r:\n%s" % (why, log[-2000:]))
        check("delivered unscanned" not in log, "accept applied to a bad answer")
    delivered_once_clean(st, m)


@tap.case
def an_unknown_action_is_a_451_not_a_delivery(st):
    refused_then_delivered(st, UNKNOWN_ACTION, "unknown action 'deliver-all'")


@tap.case
def an_unknown_verdict_is_a_451(st):
    refused_then_delivered(st, UNKNOWN_VERDICT, "unknown verdict 'harmless'")


@tap.case
def a_garbled_frame_is_a_451(st):
    refused_then_delivered(st, GARBLED, "runs past the frame")


@tap.case
def bytes_that_are_no_frame_are_a_451(st):
    refused_then_delivered(st, NOT_A_FRAME, "bad magic")


def set_conf(st, name, value):
    """Replaces one omamori.conf parameter (the plugins reload on mtime)."""
    time.sleep(1.1)
    with open(st.OMAMORI_CONF) as f:
        lines = [ln for ln in f.read().splitlines() if not ln.startswith(name + " ")]
    if value is not None:
        lines.append("%s = %s" % (name, value))
    with open(st.OMAMORI_CONF, "w") as f:
        f.write("\n".join(lines) + "\n")


@tap.case
def accept_is_for_a_missing_scanner_not_for_an_unreadable_answer(st):
    """scand_failure_action = accept delivers unscanned when scand is not
    there; an answer it cannot read is still a 451 (it was a delivery
    "unscanned (scanner unavailable)" for a garbled frame)."""
    set_conf(st, "scand_failure_action", "accept")
    try:
        refused_then_delivered(st, UNKNOWN_ACTION, "unknown action 'deliver-all'")
        refused_then_delivered(st, GARBLED, "runs past the frame")
    finally:
        set_conf(st, "scand_failure_action", None)


@tap.case
def omamorictl_scan_exits_2_on_an_unknown_action(st):
    eml = os.path.join(st.dir, "failclosed.eml")
    with open(eml, "wb") as f:
        f.write(mail(marker()))
    with stand_in(st, UNKNOWN_ACTION):
        proc = st.ctl("scan", "--mailbox", ALICE, eml, check=False)
    check(proc.returncode == 2, "exit %d, stdout %r" % (proc.returncode, proc.stdout[:200]))
    check(b"unknown action 'deliver-all'" in proc.stderr, "stderr %r" % proc.stderr)
    check(proc.stdout == b"", "printed a verdict: %r" % proc.stdout[:200])
    # the real scand again: exit 0, clean
    proc = st.ctl("scan", "--mailbox", ALICE, eml, check=False)
    check(proc.returncode == 0 and b'"verdict":"clean"' in proc.stdout,
          "real scand: exit %d %r" % (proc.returncode, proc.stdout[:200]))


def main():
    return run_suite(tap, subscribe=[ALICE])


if __name__ == "__main__":
    sys.exit(main())
