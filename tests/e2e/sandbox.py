#!/usr/bin/env python3
"""End-to-end: the sandbox hook of omamori-scand (issue 16 item 4) through
real Postfix -> Dovecot LMTP -> scand, read back over IMAP.

The test writes its own sandbox command (a Python script, run by scand with
no shell): it logs every call (hash, name, bytes read from stdin), answers
"pending" the first time it sees a file and "malicious" (a file holding
SANDBOX-BAD) or "clean" the next; a file holding SANDBOX-NEVER is pending
for ever.  omamori.conf: sandbox_command, sandbox_max_wait = 12 s.  The
stack's Postfix retries deferred mail every 2-4 s.

- a program named .pdf (ATT_EXT_MISMATCH, warn) the sandbox finds
  malicious: the first delivery is deferred (LMTP 451 "Attachment under
  analysis"), the retry gets the verdict: ATT_SANDBOX, whose class action
  (attachment-action-sandbox remove) takes the file out;
- a second mail with the same file is delivered without a new call (the
  verdict cached by hash in the store) and with the same action;
- a file without any finding never reaches the sandbox;
- a file the sandbox never decides is deferred until sandbox_max_wait, then
  delivered with ATT_SANDBOX_UNKNOWN (a warning) beside its finding.
TAP."""
import os
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, decoded, header_of, in_box,  # noqa: E402
                    run_suite, text_part, file_part, install_sandbox_script)

tap = Tap()
USER = "alice@example.test"
MAX_WAIT = 12
SB_DIR = tempfile.mkdtemp(prefix="om-sandbox-")
STATE = os.path.join(SB_DIR, "state")
SCRIPT = os.path.join(SB_DIR, "sandbox")

SCRIPT_TEXT = r'''#!/usr/bin/python3
import hashlib, os, sys
state = %r
data = sys.stdin.buffer.read()
h = os.environ.get("OMAMORI_SANDBOX_SHA256", "")
with open(os.environ["OMAMORI_SANDBOX_FILE"], "rb") as f:
    same = f.read() == data
ok = h == hashlib.sha256(data).hexdigest() and same
with open(os.path.join(state, "calls"), "a") as f:
    f.write("%%s %%s %%d %%s\n" %% (h, os.environ.get("OMAMORI_SANDBOX_NAME", "?"),
                                len(data), "ok" if ok else "mismatch"))
seen = os.path.join(state, h)
if b"SANDBOX-NEVER" in data:
    print("pending")
elif os.path.exists(seen):
    print("malicious" if b"SANDBOX-BAD" in data else "clean")
else:
    open(seen, "w").close()
    print("pending")
''' % STATE



def calls(h=None):
    try:
        with open(os.path.join(STATE, "calls")) as f:
            lines = [ln.split() for ln in f]
    except OSError:
        return []
    return [ln for ln in lines if h is None or ln[0] == h]


def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def marker():
    return uuid.uuid4().hex.encode()


def mixed(m, parts):
    out = (b"From: Sender <sender@remote.test>\nTo: " + USER.encode() + b"\n"
           b"Subject: sandbox " + m + b"\n"
           b"Message-ID: <" + m + b"@remote.test>\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n")
    for p in parts:
        out += b"--BB\n" + p
    return out + b"--BB--\n"


def program(tail):
    """A Windows program's header ("MZ", e_lfanew 0x80, "PE\\0\\0"), then tail."""
    b = bytearray(512)
    b[0:2] = b"MZ"
    b[60] = 0x80
    b[0x80:0x84] = b"PE\0\0"
    return bytes(b) + tail


def deliver(st, raw, m, timeout=60):
    st.send(raw, [USER])
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m, "INBOX")
        if got:
            return got[0]
        time.sleep(0.3)
    raise AssertionError("%s not in the INBOX; maillog:\n%s" % (m.decode(), st.tail("maillog")))


def maillog(st):
    with open(os.path.join(st.dir, "log", "maillog"), "rb") as f:
        return f.read().decode("utf-8", "replace")


FILE_BAD = program(b"SANDBOX-BAD " + marker())


@tap.case
def pending_defers_then_malicious_is_acted_on(st):
    m = marker()
    h = sha256(FILE_BAD)
    before = maillog(st).count("Attachment under analysis")
    got = deliver(st, mixed(m, [text_part(b"see the invoice"),
                                file_part(b"invoice.pdf", FILE_BAD)]), m)
    mine = calls(h)
    check(len(mine) == 2, "sandbox calls for the file: %r" % mine)
    check(all(c[3] == "ok" and c[2] == str(len(FILE_BAD)) and c[1] == "invoice.pdf"
              for c in mine), "the command did not get the file: %r" % mine)
    check(maillog(st).count("Attachment under analysis") > before,
          "no LMTP 451 'Attachment under analysis' in the maillog")
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_SANDBOX invoice.pdf (remove)" in hdr and "ATT_EXT_MISMATCH" in hdr,
          "header: %r" % hdr)
    text = decoded(got)
    check("サンドボックス" in text and "危険と判定" in text, "notice lacks the sandbox reason")
    check(b'filename="invoice.pdf"' not in got, "the malicious file is still attached")


@tap.case
def second_mail_with_the_same_file_uses_the_cached_verdict(st):
    m = marker()
    h = sha256(FILE_BAD)
    n = len(calls(h))
    start = time.time()
    got = deliver(st, mixed(m, [text_part(b"again"), file_part(b"copy.pdf", FILE_BAD)]), m)
    check(len(calls(h)) == n, "the sandbox was asked again: %r" % calls(h))
    check(time.time() - start < 15, "the mail waited although the verdict was cached")
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_SANDBOX copy.pdf (remove)" in hdr, "header: %r" % hdr)


@tap.case
def file_without_finding_is_not_sent(st):
    m = marker()
    data = b"%PDF-1.4\n% plain report " + m + b"\n%%EOF\n"
    got = deliver(st, mixed(m, [text_part(b"report"), file_part(b"report.pdf", data)]), m)
    check(calls(sha256(data)) == [], "a file with no finding reached the sandbox")
    check(header_of(got, "X-Omamori-Attachments") is None, "a finding on a plain PDF")


@tap.case
def never_decided_is_delivered_with_a_warning_after_max_wait(st):
    m = marker()
    data = program(b"SANDBOX-NEVER " + m)
    start = time.time()
    got = deliver(st, mixed(m, [text_part(b"slow"), file_part(b"slow.pdf", data)]), m,
                  timeout=MAX_WAIT + 40)
    waited = time.time() - start
    check(waited >= MAX_WAIT - 1, "delivered after %.1fs, before sandbox_max_wait" % waited)
    check(len(calls(sha256(data))) >= 2, "not asked again while pending: %r"
          % calls(sha256(data)))
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_SANDBOX_UNKNOWN slow.pdf (warn)" in hdr, "header: %r" % hdr)
    text = decoded(got)
    check("時間内に終わらず" in text, "notice lacks the no-verdict warning")
    check(b'filename="slow.pdf"' in got, "a warned file was taken out")


def prepare(st):
    for cls in ("extension", "disguise", "encrypted", "macro", "active"):
        st.ctl("domain", "set", "example.test", "attachment-action-" + cls, "default")
    st.ctl("domain", "set", "example.test", "attachment-action", "warn")
    st.ctl("domain", "set", "example.test", "attachment-action-sandbox", "remove")
    time.sleep(1.2)


if __name__ == "__main__":
    install_sandbox_script(SB_DIR, SCRIPT_TEXT)
    try:
        sys.exit(run_suite(tap, subscribe=[USER],
                           extra_conf="sandbox_command = %s\nsandbox_max_wait = %d\n"
                           % (SCRIPT, MAX_WAIT),
                           setup=[("domain", "set", "example.test", "attachments", "on")],
                           prepare=prepare))
    finally:
        import shutil
        shutil.rmtree(SB_DIR, ignore_errors=True)
