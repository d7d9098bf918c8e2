#!/usr/bin/env python3
"""End-to-end: the Received path's countries (issue 16 item 5, seed 004)
through real Postfix -> Dovecot LMTP -> scand, read back over IMAP.

The test writes a MaxMind DB country database (tests/e2e/mmdb.py: Debian 12
has the reader, libmaxminddb, but no country database, and the test has no
network) and names it in omamori.conf's geoip_database.  alice has the
spam check and the attachment analysis (action warn); each mail carries a
program named .pdf and Received headers the "sender's side" wrote:

- a path SE -> (10.0.0.5, private: skipped) -> US -> GB: the attachment
  notice shows "SE → US → GB", and the spam rules name RECEIVED_COUNTRIES;
- a path through GB alone: the notice shows GB, the rule does not fire;
- public addresses the database does not know, and private ones: no line;
- isolated (attachment-action isolate): the notice and the file's page on
  omamori-web show the path.
TAP."""
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, decoded, header_of, in_box,  # noqa: E402
                    run_suite, text_part, file_part)
import mmdb  # noqa: E402

tap = Tap()
USER = "alice@example.test"
DB_DIR = tempfile.mkdtemp(prefix="om-geoip-")
DB = os.path.join(DB_DIR, "countries.mmdb")


def program():
    b = bytearray(512)
    b[0:2] = b"MZ"
    b[60] = 0x80
    b[0x80:0x84] = b"PE\0\0"
    return bytes(b)


def hop(frm, ip, by):
    return ("Received: from %s (%s [%s])\n\tby %s with ESMTP id X1;\n"
            "\tTue, 1 Dec 2026 10:00:00 +0900\n" % (frm, frm, ip, by)).encode()


def mail(m, hops):
    out = b"".join(hops)
    out += (b"From: Sender <sender@remote.test>\nTo: " + USER.encode() + b"\n"
            b"Subject: geo " + m + b"\nMessage-ID: <" + m + b"@remote.test>\n"
            b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n")
    for p in (text_part(b"invoice attached"), file_part(b"invoice.pdf", program())):
        out += b"--BB\n" + p
    return out + b"--BB--\n"


def deliver(st, raw, m, timeout=40):
    st.send(raw, [USER])
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m, "INBOX")
        if got:
            return got[0]
        time.sleep(0.3)
    raise AssertionError("%s not delivered; maillog:\n%s" % (m.decode(), st.tail("maillog")))


@tap.case
def three_countries_shown_and_scored(st):
    m = uuid.uuid4().hex.encode()
    raw = mail(m, [hop("mx.relay.example", "81.2.69.1", "in.example.test"),
                   hop("relay.example", "45.1.1.1", "mx.relay.example"),
                   hop("client", "10.0.0.5", "relay.example"),
                   hop("origin.example", "89.160.20.1", "client")])
    got = deliver(st, raw, m)
    text = decoded(got)
    check("受信経路の国: SE → US → GB" in text, "no path in the notice:\n" + text)
    spam = header_of(got, "X-Omamori-Spam") or ""
    check("RECEIVED_COUNTRIES" in spam, "rule did not fire: %r" % spam)


@tap.case
def one_country_shown_not_scored(st):
    m = uuid.uuid4().hex.encode()
    raw = mail(m, [hop("mx.relay.example", "81.2.69.1", "in.example.test"),
                   hop("origin.example", "81.9.9.9", "mx.relay.example")])
    got = deliver(st, raw, m)
    text = decoded(got)
    check("受信経路の国: GB\n" in text, "no GB in the notice:\n" + text)
    spam = header_of(got, "X-Omamori-Spam") or ""
    check(spam != "" and "RECEIVED_COUNTRIES" not in spam, "header: %r" % spam)


@tap.case
def unknown_and_private_addresses_show_nothing(st):
    m = uuid.uuid4().hex.encode()
    raw = mail(m, [hop("a.example", "8.8.8.8", "in.example.test"),
                   hop("b.example", "192.168.1.1", "a.example"),
                   hop("c.example", "IPv6:2001:db8::1", "b.example")])
    got = deliver(st, raw, m)
    text = decoded(got)
    check("拡張子と中身の種類が一致しません" in text, "no attachment notice")
    check("受信経路の国" not in text, "a path from addresses no country is known for")


@tap.case
def isolated_file_page_shows_the_path(st):
    st.ctl("domain", "set", "example.test", "attachment-action", "isolate")
    time.sleep(1.2)
    try:
        m = uuid.uuid4().hex.encode()
        raw = mail(m, [hop("mx.relay.example", "81.2.69.1", "in.example.test"),
                       hop("relay.example", "45.1.1.1", "mx.relay.example"),
                       hop("origin.example", "89.160.20.1", "relay.example")])
        got = deliver(st, raw, m)
        text = decoded(got)
        check("受信経路の国: SE → US → GB" in text, "no path in the notice")
        urls = re.findall(r"http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_\-.]+", text)
        check(len(urls) == 1, "not one /f/ link: %r" % urls)
        with urllib.request.urlopen(urls[0], timeout=60) as r:
            page = r.read().decode()
        check('<span id="iso-received">SE &rarr; US &rarr; GB</span>' in page,
              "the page does not show the path")
    finally:
        st.ctl("domain", "set", "example.test", "attachment-action", "warn")
        time.sleep(1.2)


def prepare(st):
    st.ctl("sub", "set", USER, "spam", "on")
    st.ctl("domain", "set", "example.test", "attachment-action", "warn")
    time.sleep(1.2)


if __name__ == "__main__":
    mmdb.write(DB, [("81.0.0.0/8", "GB"), ("89.160.0.0/16", "SE"), ("45.0.0.0/8", "US"),
                    ("1.2.3.0/24", "JP")])
    os.chmod(DB_DIR, 0o755)
    os.chmod(DB, 0o644)
    try:
        sys.exit(run_suite(tap, subscribe=[USER], extra_conf="geoip_database = %s\n" % DB,
                           setup=[("domain", "set", "example.test", "attachments", "on")],
                           prepare=prepare))
    finally:
        shutil.rmtree(DB_DIR, ignore_errors=True)
