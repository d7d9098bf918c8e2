#!/usr/bin/env python3
"""End-to-end: what the Dovecot plugin records of quarantined mail.

Through real Postfix, Dovecot and scand: a message quarantined as spam (a
block-listed From, so no trained classifier is needed) and one over
scan_max_size (the plugin's own wrapper) both reach Quarantine with one
X-Omamori-Quarantine-Id of 32 lower-case hex digits, and the store (read
straight from its SQLite file) holds a row under that id with the decoded
From and Subject, the envelope sender, score and reasons.  A sender's
forged X-Omamori-Quarantine-Id never survives, and `doveadm move` out of
Quarantine (omamori-web's release) is learned as ham like an IMAP move.
TAP output."""
import email.header
import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, file_part, header_of, run_suite, text_part  # noqa: E402

tap = Tap()
ALICE = "alice@example.test"
FORGED = "0123456789abcdef0123456789abcdef"
ID_RE = re.compile(r"^[0-9a-f]{32}$")
SUBJECT = "迷惑メールのお知らせ 第%s号"
FROM_NAME = "宣伝 太郎"
# recorded by the spam case, released by the doveadm case
RELEASE = {}


def mk():
    return uuid.uuid4().hex


def encoded(text):
    return email.header.Header(text, "iso-2022-jp").encode()


def message(marker, subject, from_header, parts=None, extra=b""):
    """A message with the marker as Message-ID (a multipart one with parts)."""
    head = ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@e2e.test>\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\nMIME-Version: 1.0\n"
            % (from_header, ALICE, subject, marker)).encode() + extra
    if parts is None:
        return head + b"Content-Type: text/plain; charset=us-ascii\n\nhello " + \
            marker.encode() + b"\n"
    body = b"".join(b"--b0\n" + p for p in parts) + b"--b0--\n"
    return head + b'Content-Type: multipart/mixed; boundary="b0"\n\n' + body


def ids_of(raw):
    """Every X-Omamori-Quarantine-Id value in the top-level header."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\n")
            if l.lower().startswith(b"x-omamori-quarantine-id:")]


def where(st, marker, timeout=60):
    """(mailbox, raw) of the message once it has arrived."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Quarantine"):
            found = [m for m in st.fetch_all(ALICE, box) if marker.encode() in m]
            if found:
                return box, found[0]
        time.sleep(0.3)
    raise AssertionError("%s never arrived; maillog:\n%s" % (marker, st.tail("maillog")))


def row(st, qid):
    """The store's row of a quarantined message, as a dict, or None."""
    rows = st.sql("SELECT * FROM quarantine WHERE id = ?", (qid,), dicts=True)
    return rows[0] if rows else None


def one_id(raw):
    ids = ids_of(raw)
    check(len(ids) == 1, "X-Omamori-Quarantine-Id headers: %r" % ids)
    check(ID_RE.match(ids[0]), "id %r is not 32 lower-case hex digits" % ids[0])
    check(ids[0] != FORGED, "the sender's forged id survived")
    return ids[0]


@tap.case
def spam_in_quarantine_has_an_id_and_a_store_row(st):
    marker = mk()
    subject = SUBJECT % marker[:6]
    raw = message(marker, encoded(subject),
                  "%s <ads@pest.example>" % encoded(FROM_NAME),
                  extra=("X-Omamori-Quarantine-Id: %s\n" % FORGED).encode())
    before = int(time.time())
    st.send(raw, [ALICE], sender="bounce@mailer.example")
    box, got = where(st, marker)
    check(box == "Quarantine", "block-listed spam went to %s" % box)
    qid = one_id(got)
    r = row(st, qid)
    check(r is not None, "no store row for %s; dovecot.log:\n%s" % (qid, st.tail("dovecot.log")))
    check(r["mailbox"] == ALICE, r)
    check(r["subject"] == subject, "subject %r, wanted %r" % (r["subject"], subject))
    check(r["from_header"] == "%s <ads@pest.example>" % FROM_NAME, "from %r" % r["from_header"])
    check(r["sender"] == "bounce@mailer.example", "sender %r" % r["sender"])
    check(re.match(r"^-?\d+\.\d\d$", r["score"]), "score %r" % r["score"])
    check("listed:block:mailbox" in r["reasons"].split(), "reasons %r" % r["reasons"])
    check(before - 2 <= r["received"] <= time.time() + 2, "received %r" % r["received"])
    check(r["size"] >= len(raw), "size %r for %d bytes" % (r["size"], len(raw)))
    check(r["digest"] == 0, "digest %r" % r["digest"])
    RELEASE.update(marker=marker, id=qid)


@tap.case
def forged_id_on_delivered_mail_is_removed(st):
    marker = mk()
    raw = message(marker, "ordinary " + marker, "friend@remote.test",
                  extra=("X-Omamori-Quarantine-Id: %s\n" % FORGED).encode())
    st.send(raw, [ALICE], sender="friend@remote.test")
    box, got = where(st, marker)
    check(FORGED.encode() not in got, "the forged id reached %s" % box)
    if box == "INBOX":
        check(ids_of(got) == [], "a quarantine id in the INBOX: %r" % ids_of(got))
    else:
        one_id(got)


@tap.case
def over_scan_max_size_wrapper_has_an_id_and_unscanned_row(st):
    marker = mk()
    big = os.urandom(96 * 1024)
    raw = message(marker, "big " + marker, "someone@remote.test",
                  parts=[text_part(b"too big to check"), file_part(b"big.bin", big)],
                  extra=("X-Omamori-Quarantine-Id: %s\n" % FORGED).encode())
    st.send(raw, [ALICE], sender="")
    box, got = where(st, marker)
    check(box == "Quarantine", "over scan_max_size went to %s" % box)
    check((header_of(got, "X-Omamori-Virus") or "").startswith("unscanned (limit"),
          header_of(got, "X-Omamori-Virus"))
    qid = one_id(got)
    r = row(st, qid)
    check(r is not None, "no store row for %s" % qid)
    check(r["reasons"] == "unscanned:limit", "reasons %r" % r["reasons"])
    check(r["score"] == "", "score %r" % r["score"])
    check(r["sender"] == "", "null sender recorded as %r" % r["sender"])
    check(r["subject"] == "big " + marker and r["from_header"] == "someone@remote.test", r)
    check(r["size"] >= len(raw), "size %r for %d bytes" % (r["size"], len(raw)))


def dovecot_log(st):
    with open(os.path.join(st.dir, "log", "dovecot.log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


@tap.case
def doveadm_move_out_of_quarantine_learns_ham_only(st):
    check(RELEASE, "nothing quarantined to release")
    marker = RELEASE["marker"]
    learned = dovecot_log(st).count("message learned as ham")
    proc = subprocess.run(["doveadm", "-c", st.DOVECOT_CONF, "move", "-u", ALICE, "INBOX",
                           "mailbox", "Quarantine", "header", "Message-ID", marker],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(proc.returncode == 0, "doveadm move: %d %s" % (proc.returncode, proc.stdout))
    box, got = where(st, marker)
    check(box == "INBOX", "released mail is in %s" % box)
    deadline = time.time() + 10
    while (dovecot_log(st) + proc.stdout).count("message learned as ham") <= learned:
        check(time.time() < deadline, "doveadm move not learned as ham: %s\n%s"
              % (proc.stdout, st.tail("dovecot.log")))
        time.sleep(0.2)
    # a release through doveadm does what its button said, no more: the
    # sender is allowed only by "release and allow" (the quarantine layer)
    shown = st.ctl("list", "show", ALICE).stdout.decode()
    check(ALICE + "\tallow\tads@pest.example" not in shown,
          "a plain release allow-listed the sender: %r" % shown)


def prepare(st):
    """alice checks spam, quarantines it, and blocks @pest.example."""
    st.ctl("sub", "set", ALICE, "spam", "on")
    st.ctl("mailbox", "set", ALICE, "spam-action", "quarantine")
    st.ctl("list", "add", ALICE, "block", "@pest.example")
    time.sleep(1.6)     # policyd picks store changes up every second


def main():
    return run_suite(tap, extra_conf="scan_max_size = 65536\n", prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
