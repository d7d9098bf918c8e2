#!/usr/bin/env python3
"""End-to-end: hostile and oversized mail never crashes omamori-scand and is
never lost.  Each message goes through real Postfix and Dovecot to a
subscribed mailbox; the test checks it arrived (with some verdict) and that
scand is still the same running process.  TAP output."""
import base64
import io
import os
import sys
import time
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import EICAR, Tap, check, header_of, run_suite  # noqa: E402

tap = Tap()


def head(m, ctype=b"multipart/mixed; boundary=\"BB\""):
    return (b"From: hostile@remote.test\nTo: alice@example.test\nSubject: hostile " + m +
            b"\nMessage-ID: <" + m + b"@remote.test>\nMIME-Version: 1.0\n"
            b"Content-Type: " + ctype + b"\n\n")


def deliver_and_check(st, m, msg, timeout=60, expect=None, mailbox="INBOX"):
    pid = st.scand_pid()
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m, timeout=timeout, mailbox=mailbox)
    check(len(got) == 1, "delivered %d times" % len(got))
    if mailbox != "INBOX":
        check(not [x for x in st.fetch_all("alice@example.test") if m in x],
              "also in INBOX")
    v = header_of(got[0], "X-Omamori-Virus")
    check(v is not None, "no verdict header")
    if expect is not None:
        check(v.startswith(expect), "verdict %r, expected %r" % (v, expect))
    check(st.scand_alive() and st.scand_pid() == pid, "scand died or was restarted")
    return got[0], v


def quarantined_unscanned(st, m, msg, timeout=60):
    """Over a limit: in Quarantine, not the INBOX, below the notice (ja by
    default) with the original attached."""
    got, v = deliver_and_check(st, m, msg, timeout=timeout, mailbox="Quarantine",
                               expect="unscanned (limit")
    text = got.decode("utf-8", "replace")
    check("ウイルスチェックを最後まで行うことができませんでした" in text, "no notice: %r" % text[:600])
    check("Content-Type: message/rfc822" in text, "original not attached")
    check(header_of(got, "Subject") == "hostile " + m.decode(), "subject %r" % header_of(got, "Subject"))
    return got, v


def mk():
    return uuid.uuid4().hex.encode()


@tap.case
def missing_closing_boundary(st):
    m = mk()
    msg = head(m) + (b"--BB\nContent-Type: text/plain\n\nno end\n--BB\n"
                     b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                     + base64.encodebytes(EICAR))
    deliver_and_check(st, m, msg, expect="infected")


@tap.case
def broken_boundary_parameter(st):
    m = mk()
    msg = head(m, b"multipart/mixed; boundary=") + b"--\n--\nContent-Type: text/plain\n\nx\n"
    deliver_and_check(st, m, msg)


@tap.case
def ten_thousand_parts(st):
    m = mk()
    parts = b"".join(b"--BB\nContent-Type: text/plain\n\npart %d\n" % i for i in range(10000))
    quarantined_unscanned(st, m, head(m) + parts + b"--BB--\n")


@tap.case
def hundred_deep_nesting(st):
    m = mk()
    body = b"--B99\nContent-Type: text/plain\n\ndeep\n--B99--\n"
    for i in range(98, -1, -1):
        body = (b"--B%d\nContent-Type: multipart/mixed; boundary=\"B%d\"\n\n" % (i, i + 1) +
                body + b"--B%d--\n" % i)
    msg = head(m, b"multipart/mixed; boundary=\"B0\"") + body
    quarantined_unscanned(st, m, msg)


@tap.case
def fifty_megabyte_attachment(st):
    m = mk()
    big = os.urandom(1024) * (50 * 1024)
    msg = head(m) + (b"--BB\nContent-Type: text/plain\n\nbig\n--BB\n"
                     b"Content-Type: application/octet-stream; name=\"big.bin\"\n"
                     b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(big) +
                     b"--BB--\n")
    got, v = deliver_and_check(st, m, msg, timeout=180)
    # the stack's scan_max_size (80 MB) is above this message: scand scanned it
    check(v == "clean", "verdict %r" % v)
    check(len(got) > 50 * 1024 * 1024, "the big attachment did not arrive whole")


@tap.case
def invalid_base64(st):
    m = mk()
    msg = head(m) + (b"--BB\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
                     b"!!!!****@@@@ not base64 at all ====\n\x01\x02\n--BB--\n")
    deliver_and_check(st, m, msg)


@tap.case
def nul_bytes_in_body_and_headers(st):
    m = mk()
    msg = (b"From: hostile@remote.test\nTo: alice@example.test\nSubject: nul " + m +
           b"\nX-Weird: a\x00b\n\nbody with \x00 NUL \x00 bytes\n")
    deliver_and_check(st, m, msg)


@tap.case
def one_megabyte_header_line(st):
    m = mk()
    msg = (b"From: hostile@remote.test\nTo: alice@example.test\nSubject: long " + m +
           b"\nX-Long: " + b"A" * (1024 * 1024) + b"\n\nbody\n")
    deliver_and_check(st, m, msg, timeout=90)


def zip_bomb():
    """A nested zip expanding to 1 GiB of zeros (10 x 100 MiB)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = bytes(1024 * 1024)
            for _ in range(100):
                f.write(chunk)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as z:
        for i in range(10):
            z.writestr("part%d.zip" % i, inner.getvalue())
    return outer.getvalue()


@tap.case
def zip_bomb_attachment(st):
    m = mk()
    bomb = zip_bomb()
    msg = head(m) + (b"--BB\nContent-Type: text/plain\n\nbomb\n--BB\n"
                     b"Content-Type: application/zip; name=\"bomb.zip\"\n"
                     b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(bomb) +
                     b"--BB--\n")
    started = time.time()
    # its members are far over the file-size limit: not scanned whole
    quarantined_unscanned(st, m, msg, timeout=120)
    check(time.time() - started < 120, "zip bomb took too long")


@tap.case
def garbage_on_the_scand_socket(st):
    import socket
    pid = st.scand_pid()
    for payload in (b"GET / HTTP/1.0\r\n\r\n", b"OMSC\x00\x01\x00\x01\xff\xff\xff\xff",
                    b"OMSC\x00\x09\x00\x01\x00\x00\x00\x00",
                    b"OMSC\x00\x01\x00\x01\x00\x00\x00\x08\x00\x06\x00\x00\x10\x00ab"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(st.SCAND_SOCKET)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        try:
            answer = s.recv(4096)
        except OSError:
            answer = b""
        s.close()
        check(answer == b"" or answer[:4] == b"OMSC", "answer %r" % answer[:20])
    check(st.scand_alive() and st.scand_pid() == pid, "scand died on garbage")
    m = mk()
    deliver_and_check(st, m, head(m, b"text/plain") + b"still fine\n", expect="clean")


@tap.case
def idle_connections_do_not_hold_the_workers(st):
    # twice as many silent connections as scand has workers: before, each
    # pinned a worker for the 60 s idle timeout and deliveries waited
    import socket
    idle = []
    for _ in range(4):
        s = socket.socket(socket.AF_UNIX)
        s.connect(st.SCAND_SOCKET)
        idle.append(s)
    try:
        time.sleep(1)
        m = mk()
        deliver_and_check(st, m, head(m, b"text/plain") + b"not kept waiting\n",
                          timeout=30, expect="clean")
    finally:
        for s in idle:
            s.close()


def main():
    # scan_max_size above the 50 MB case, so scand really scans it
    # and policyd's size limit for the domain above it, too
    return run_suite(tap, subscribe=["alice@example.test"],
                     extra_conf="scan_max_size = 83886080",
                     setup=[("domain", "set", "example.test", "max-message-size", "104857600")])


if __name__ == "__main__":
    sys.exit(main())
