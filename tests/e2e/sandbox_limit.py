#!/usr/bin/env python3
"""End-to-end: sandbox_max_concurrent (issue 16, doc/attachments.md
"Sandbox") through real Postfix -> Dovecot LMTP -> scand.

omamori.conf: sandbox_max_concurrent = 1 (scand has 4 workers).  The test's
sandbox command (no shell) records how many runs of it go on at once and
takes 3 s to answer "clean".  Three mails, each with its own program named
.pdf (ATT_EXT_MISMATCH, attachment-action warn), are sent at once:

- never more than one run goes on at once;
- a mail over the cap is deferred (scand logs "busy", Postfix's maillog
  LMTP 451 "Attachment under analysis"), not delivered unchecked;
- all three arrive in the end, each with its finding's warning and after
  the sandbox ran on its own file.
TAP."""
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, header_of, in_box, run_suite, text_part,  # noqa: E402
                    file_part, windows_program, install_sandbox_script)

tap = Tap()
USER = "alice@example.test"
SB_DIR = tempfile.mkdtemp(prefix="om-sandbox-limit-")
STATE = os.path.join(SB_DIR, "state")
SCRIPT = os.path.join(SB_DIR, "sandbox")

SCRIPT_TEXT = r'''#!/usr/bin/python3
import fcntl, os, sys, time
state = %r
data = sys.stdin.buffer.read()
h = os.environ.get("OMAMORI_SANDBOX_SHA256", "")

def bump(delta):
    with open(os.path.join(state, "lock"), "a+") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        path = os.path.join(state, "running")
        n = int(open(path).read() or 0) if os.path.exists(path) else 0
        n += delta
        open(path, "w").write(str(n))
        if delta > 0:
            with open(os.path.join(state, "calls"), "a") as f:
                f.write("%%s %%d\n" %% (h, n))

bump(1)
time.sleep(3)
bump(-1)
print("clean")
''' % STATE



def calls():
    try:
        with open(os.path.join(STATE, "calls")) as f:
            return [ln.split() for ln in f]
    except OSError:
        return []


def mail(m, data):
    out = (b"From: Sender <sender@remote.test>\nTo: " + USER.encode() + b"\n"
           b"Subject: sandbox limit " + m + b"\n"
           b"Message-ID: <" + m + b"@remote.test>\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n")
    for p in (text_part(b"the invoice"), file_part(b"invoice.pdf", data)):
        out += b"--BB\n" + p
    return out + b"--BB--\n"


@tap.case
def over_the_cap_waits_and_nothing_is_delivered_unchecked(st):
    marks = [uuid.uuid4().hex.encode() for _ in range(3)]
    files = {m: windows_program(b"LIMIT-" + m) for m in marks}
    for m in marks:
        st.send(mail(m, files[m]), [USER])
    got = {}
    deadline = time.time() + 120
    while len(got) < len(marks) and time.time() < deadline:
        for m in marks:
            if m not in got:
                found = in_box(st, USER, m, "INBOX")
                if found:
                    got[m] = found[0]
        time.sleep(0.5)
    check(len(got) == len(marks), "delivered %d of %d; maillog:\n%s"
          % (len(got), len(marks), st.tail("maillog")))
    seen = calls()
    check(seen and max(int(c[1]) for c in seen) == 1,
          "more than one sandbox run at once: %r" % seen)
    for m in marks:
        h = hashlib.sha256(files[m]).hexdigest()
        check(any(c[0] == h for c in seen), "the sandbox never saw %s" % m.decode())
        hdr = header_of(got[m], "X-Omamori-Attachments") or ""
        check("ATT_EXT_MISMATCH invoice.pdf (warn)" in hdr, "header: %r" % hdr)
    check("busy (sandbox_max_concurrent" in st.scand_log(), "scand never logged a busy sandbox")
    with open(os.path.join(st.dir, "log", "maillog"), "rb") as f:
        check(b"Attachment under analysis" in f.read(), "no LMTP 451 in the maillog")


def prepare(st):
    for cls in ("extension", "disguise", "encrypted", "macro", "active", "sandbox"):
        st.ctl("domain", "set", "example.test", "attachment-action-" + cls, "default")
    st.ctl("domain", "set", "example.test", "attachment-action", "warn")
    time.sleep(1.2)


if __name__ == "__main__":
    install_sandbox_script(SB_DIR, SCRIPT_TEXT)
    try:
        sys.exit(run_suite(tap, subscribe=[USER],
                           extra_conf="sandbox_command = %s\nsandbox_max_concurrent = 1\n"
                           "sandbox_max_wait = 300\n" % SCRIPT,
                           setup=[("domain", "set", "example.test", "attachments", "on")],
                           prepare=prepare))
    finally:
        shutil.rmtree(SB_DIR, ignore_errors=True)
