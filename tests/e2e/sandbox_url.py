#!/usr/bin/env python3
"""End-to-end: the sandbox hook's HTTP form (sandbox_url, issue 16 item 4)
through real Postfix -> Dovecot LMTP -> scand, read back over IMAP.

The test runs its own sandbox endpoint on 127.0.0.1 (http.server in a
thread): a POST of the file, X-Omamori-SHA256 and X-Omamori-Name beside it;
it answers "pending" the first time it sees a file and "malicious" the
next.  omamori.conf: sandbox_url.

- a program named .pdf: the first delivery is deferred, the retry gets
  "malicious": ATT_SANDBOX, attachment-action-sandbox remove takes it out;
  the endpoint got the file's exact bytes and hash;
- a second mail with the same file: no new POST (the cached verdict).
TAP."""
import hashlib
import http.server
import os
import socket
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, decoded, header_of, in_box,  # noqa: E402
                    run_suite, text_part, file_part)

tap = Tap()
USER = "alice@example.test"
CALLS = []
SEEN = set()


class Sandbox(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        h = self.headers.get("X-Omamori-SHA256", "")
        CALLS.append((h, self.headers.get("X-Omamori-Name", ""), data))
        answer = b"malicious\n" if h in SEEN else b"pending\n"
        SEEN.add(h)
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program(tail):
    b = bytearray(512)
    b[0:2] = b"MZ"
    b[60] = 0x80
    b[0x80:0x84] = b"PE\0\0"
    return bytes(b) + tail


def mixed(m, parts):
    out = (b"From: Sender <sender@remote.test>\nTo: " + USER.encode() + b"\n"
           b"Subject: sandbox-url " + m + b"\nMessage-ID: <" + m + b"@remote.test>\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n")
    for p in parts:
        out += b"--BB\n" + p
    return out + b"--BB--\n"


def deliver(st, raw, m, timeout=60):
    st.send(raw, [USER])
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m, "INBOX")
        if got:
            return got[0]
        time.sleep(0.3)
    raise AssertionError("%s not in the INBOX; maillog:\n%s" % (m.decode(), st.tail("maillog")))


FILE = program(b"HTTP-SANDBOX " + uuid.uuid4().hex.encode())
HASH = hashlib.sha256(FILE).hexdigest()


@tap.case
def pending_over_http_then_malicious_is_removed(st):
    m = uuid.uuid4().hex.encode()
    got = deliver(st, mixed(m, [text_part(b"invoice"), file_part(b"bill.pdf", FILE)]), m)
    mine = [c for c in CALLS if c[0] == HASH]
    check(len(mine) == 2, "POSTs for the file: %d" % len(mine))
    check(all(c[2] == FILE and c[1] == "bill.pdf" for c in mine),
          "the endpoint did not get the file, its name and hash")
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_SANDBOX bill.pdf (remove)" in hdr, "header: %r" % hdr)
    check(b'filename="bill.pdf"' not in got, "the file is still attached")
    check("危険と判定" in decoded(got), "no sandbox reason in the notice")


@tap.case
def cached_verdict_no_second_post(st):
    n = len(CALLS)
    m = uuid.uuid4().hex.encode()
    got = deliver(st, mixed(m, [text_part(b"again"), file_part(b"bill2.pdf", FILE)]), m)
    check(len(CALLS) == n, "POSTed again")
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_SANDBOX bill2.pdf (remove)" in hdr, "header: %r" % hdr)


def prepare(st):
    st.ctl("domain", "set", "example.test", "attachment-action", "warn")
    st.ctl("domain", "set", "example.test", "attachment-action-sandbox", "remove")
    time.sleep(1.2)


if __name__ == "__main__":
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sandbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sys.exit(run_suite(tap, subscribe=[USER],
                           extra_conf="sandbox_url = http://127.0.0.1:%d/analyse\n"
                           "sandbox_max_wait = 600\n" % port,
                           setup=[("domain", "set", "example.test", "attachments", "on")],
                           prepare=prepare))
    finally:
        server.shutdown()
