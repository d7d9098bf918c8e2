#!/usr/bin/env python3
"""End-to-end: inbound virus protection through real Postfix -> Dovecot LMTP
(omamori plugins) -> omamori-scand, read back over IMAP.  TAP output."""
import base64
import io
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import mixed_mail, EICAR, Tap, check, header_of, run_suite  # noqa: E402

tap = Tap()
REPORT_SUBJECT_JA = "ウイルスチェックの結果ご報告"


def b64(data):
    return base64.encodebytes(data)


def mixed(marker, parts, subject="test", extra_headers=b""):
    """A multipart/mixed message; parts are raw MIME part bytes."""
    return mixed_mail(marker, parts, subject=subject, extra_headers=extra_headers,
                      preamble=b"preamble\n")

def text_part(text):
    return b"Content-Type: text/plain; charset=us-ascii\n\n" + text + b"\n"


def file_part(name, data, ctype=b"application/octet-stream"):
    return (b"Content-Type: " + ctype + b"; name=\"" + name + b"\"\n"
            b"Content-Disposition: attachment; filename=\"" + name + b"\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(data))


def marker():
    return uuid.uuid4().hex.encode()


def zip_of(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def verdict(raw):
    return header_of(raw, "X-Omamori-Virus")


@tap.case
def clean_mail_is_delivered_with_verdict_header(st):
    m = marker()
    msg = mixed(m, [text_part(b"plain clean text"),
                    file_part(b"report.pdf", b"%PDF-1.4 not a virus " * 20)])
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(verdict(got) == "clean", "verdict header: %r" % verdict(got))
    check(msg.split(b"\n\n", 1)[1] in got, "body changed for a clean mail")


@tap.case
def infected_attachment_is_removed_and_notice_added(st):
    m = marker()
    keep = b"keep this attachment exactly\n" * 50
    msg = mixed(m, [text_part(b"Hello Alice, see attached."),
                    file_part(b"eicar.com", EICAR),
                    file_part(b"keep.txt", keep, b"text/plain")])
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(verdict(got) == "infected (Omamori.Test.EICAR-1.UNOFFICIAL)",
          "verdict header: %r" % verdict(got))
    check(b64(EICAR) not in got and b"eicar.com\"" not in got,
          "the infected attachment is still there")
    check(file_part(b"keep.txt", keep, b"text/plain") in got,
          "the clean attachment was not kept byte for byte")
    from email import message_from_bytes, policy
    parsed = message_from_bytes(got, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    check(text.startswith("【ウイルス駆除のお知らせ】"), "notice not at the top: %r" % text[:80])
    check("eicar.com" in text and "Omamori.Test.EICAR-1" in text,
          "notice does not name file and virus")
    check("Hello Alice, see attached." in text, "original text lost")


@tap.case
def notice_goes_into_plain_and_html_alternatives(st):
    m = marker()
    alt = (b"Content-Type: multipart/alternative; boundary=\"AA\"\n\n"
           b"--AA\nContent-Type: text/plain; charset=utf-8\n\nplain body\n"
           b"--AA\nContent-Type: text/html; charset=utf-8\n\n"
           b"<html><body><p>html body</p></body></html>\n--AA--\n")
    msg = mixed(m, [alt, file_part(b"invoice.exe", EICAR)])
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    from email import message_from_bytes, policy
    parsed = message_from_bytes(got, policy=policy.default)
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    check("invoice.exe" in plain and plain.index("invoice.exe") < plain.index("plain body"),
          "plain part lacks the notice on top")
    check("omamori-notice" in html and html.index("invoice.exe") < html.index("html body"),
          "html part lacks the notice on top")
    check(html.index("<body>") < html.index("omamori-notice"), "notice placed before <body>")
    check("invoice.exe" not in [p.get_filename() for p in parsed.iter_attachments()],
          "infected attachment still attached")


@tap.case
def virus_inside_zip_is_removed(st):
    m = marker()
    msg = mixed(m, [text_part(b"zipped"), file_part(b"docs.zip", zip_of("readme.com", EICAR),
                                                    b"application/zip")])
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(verdict(got).startswith("infected (Omamori.Test.EICAR"), "verdict %r" % verdict(got))
    check(b"docs.zip\"" not in got, "zip still attached")
    check("docs.zip" in body_text(got), "notice does not name docs.zip")


def body_text(raw):
    from email import message_from_bytes, policy
    parsed = message_from_bytes(raw, policy=policy.default)
    body = parsed.get_body(("plain",))
    return body.get_content() if body is not None else ""


@tap.case
def virus_inside_attached_message_is_removed(st):
    m = marker()
    inner = mixed(b"inner", [text_part(b"inner text"), file_part(b"inner.com", EICAR)])
    rfc822 = (b"Content-Type: message/rfc822\nContent-Disposition: attachment; "
              b"filename=\"fwd.eml\"\n\n" + inner + b"\n")
    msg = mixed(m, [text_part(b"forwarding this"), rfc822,
                    file_part(b"fine.txt", b"fine\n", b"text/plain")])
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(verdict(got).startswith("infected ("), "verdict %r" % verdict(got))
    check(b"message/rfc822" not in got and b64(EICAR) not in got, "attached message kept")
    check(b"fine.txt" in got, "the clean attachment was removed too")
    check("forwarding this" in body_text(got), "body text lost")


@tap.case
def infected_body_is_replaced_by_report(st):
    m = marker()
    msg = (b"From: Virus Sender <bad@remote.test>\nTo: alice@example.test\n"
           b"Subject: body " + m + b"\nMessage-ID: <" + m + b"@remote.test>\n\n" + EICAR + b"\n")
    st.send(msg, ["alice@example.test"], sender="bad@remote.test")
    report = wait_for_body(st, "alice@example.test", m)
    check(report is not None, "no report arrived")
    from email import message_from_bytes, policy
    parsed = message_from_bytes(report, policy=policy.default)
    check(parsed["Subject"] == REPORT_SUBJECT_JA, "subject %r" % parsed["Subject"])
    text = body_text(report)
    for needle in ("■ウイルス検出日時", "Omamori.Test.EICAR-1", "bad@remote.test",
                   "■ウイルス感染ファイルの処理結果"):
        check(needle in text, "report lacks %r" % needle)
    check(EICAR not in report, "the infected body is still there")
    check(verdict(report).startswith("infected ("), "verdict %r" % verdict(report))


def body_text_safe(raw):
    try:
        return body_text(raw)
    except Exception:
        return ""


def wait_for_body(st, user, m, timeout=30):
    """The message in user's INBOX whose decoded plain body contains m."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for raw in st.fetch_all(user):
            if m in body_text_safe(raw).encode():
                return raw
        time.sleep(0.3)
    return None


@tap.case
def report_language_follows_domain_setting(st):
    st.ctl("domain", "set", "example.test", "language", "en")
    try:
        m = marker()
        msg = (b"From: bad@remote.test\nTo: alice@example.test\nSubject: en " + m +
               b"\n\n" + EICAR + b"\n")
        st.send(msg, ["alice@example.test"], sender="bad@remote.test")
        found = wait_for_body(st, "alice@example.test", m)
        check(found is not None, "no report arrived")
        check(header_of(found, "Subject") == "Virus check report", "english subject")
    finally:
        st.ctl("domain", "unset", "example.test", "language")


@tap.case
def admin_gets_a_copy_of_the_report_when_the_domain_asks(st):
    st.ctl("domain", "set", "example.test", "virus-admin-copy", "carol@example.test")
    try:
        m = marker()
        msg = (b"From: bad@remote.test\nTo: alice@example.test\nSubject: admin " + m +
               b"\n\n" + EICAR + b"\n")
        st.send(msg, ["alice@example.test"], sender="bad@remote.test")
        copy = wait_for_body(st, "carol@example.test", m)
        check(copy is not None, "no admin copy reached carol; dovecot log:\n" + st.tail("dovecot.log"))
        check(header_of(copy, "To") == "carol@example.test", "copy To: %r" % header_of(copy, "To"))
        from email import message_from_bytes, policy
        check(message_from_bytes(copy, policy=policy.default)["Subject"] == REPORT_SUBJECT_JA,
              "copy subject")
        check(header_of(copy, "Return-Path") == "<>", "copy not from the null sender")
    finally:
        st.ctl("domain", "unset", "example.test", "virus-admin-copy")


@tap.case
def japanese_iso2022jp_clean_mail_is_byte_identical(st):
    # alice (subscribed) and bob (not) get the same LMTP transaction: alice's
    # copy without the verdict header must equal bob's to the byte
    m = marker()
    body = "こんにちは、テストです。\n日本語のメール本文。\n".encode("iso-2022-jp")
    subject = b"=?ISO-2022-JP?B?" + base64.b64encode("件名テスト".encode("iso-2022-jp")) + b"?="
    msg = (b"From: taro@remote.test\nTo: alice@example.test\nSubject: " + subject + b" " + m +
           b"\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n"
           b"Content-Transfer-Encoding: 7bit\n\n" + body)
    st.send(msg, ["alice@example.test", "bob@example.test"])
    alice = st.wait_for("alice@example.test", m)[0]
    bob = st.wait_for("bob@example.test", m)[0]
    check(verdict(alice) == "clean", "verdict %r" % verdict(alice))
    stripped = alice.replace(b"X-Omamori-Virus: clean\n", b"", 1)
    check(stripped == bob, "alice's copy differs from bob's beyond the verdict header")
    check(body in bob, "body not delivered as sent")


@tap.case
def forged_verdict_header_is_removed(st):
    m = marker()
    msg = mixed(m, [text_part(b"forged"), file_part(b"x.com", EICAR)],
                extra_headers=b"X-Omamori-Virus: clean\nX-Omamori-Spam: no\n")
    st.send(msg, ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(got.count(b"X-Omamori-Virus:") == 1, "more than one verdict header")
    check(b"X-Omamori-Spam" not in got, "foreign X-Omamori-* header kept")
    check(verdict(got).startswith("infected ("), "forged verdict survived")


@tap.case
def blocked_link_quarantines_mail_without_the_spam_check(st):
    # alice has inbound-virus only: an administrator's url-block list still
    # keeps a clean message with such a link (its last, behind others) out
    # of her inbox
    st.ctl("list", "add", "*", "url-block", "phish-e2e.example")
    try:
        time.sleep(0.2)
        m = marker()
        links = b"".join(b"http://h%d.example/\n" % i for i in range(50))
        st.send(mixed(m, [text_part(links + b"http://user@Login.Phish-E2E.example:443/x")]),
                ["alice@example.test"])
        got = st.wait_for("alice@example.test", m, mailbox="Quarantine")[0]
        spam = header_of(got, "X-Omamori-Spam") or ""
        check(verdict(got) == "clean", "verdict %r" % verdict(got))
        check(spam.startswith("yes;") and "rules=URL_BLOCKLISTED" in spam and
              "listed=url-block:global" in spam, "X-Omamori-Spam: %r" % spam)
        check(header_of(got, "X-Spam-Flag") == "YES", "no X-Spam-Flag: YES")
    finally:
        st.ctl("list", "del", "*", "url-block", "phish-e2e.example")
    time.sleep(0.2)
    m = marker()
    st.send(mixed(m, [text_part(b"http://login.phish-e2e.example/")]), ["alice@example.test"])
    got = st.wait_for("alice@example.test", m)[0]
    check(verdict(got) == "clean" and header_of(got, "X-Omamori-Spam") is None,
          "after the entry is gone: %r" % header_of(got, "X-Omamori-Spam"))


@tap.case
def off_and_paused_mailboxes_get_mail_untouched(st):
    st.ctl("sub", "set", "carol@example.test", "inbound-virus", "paused")
    m = marker()
    msg = mixed(m, [text_part(b"untouched"), file_part(b"eicar.com", EICAR)])
    scans_before = st.scand_log().count(" scan mailbox=")
    st.send(msg, ["bob@example.test", "carol@example.test"])
    for user in ("bob@example.test", "carol@example.test"):
        got = st.wait_for(user, m)[0]
        check(got.rstrip(b"\n").endswith(msg.split(b"\n\n", 1)[1].rstrip(b"\n")),
              "%s: body changed" % user)
        check(verdict(got) is None, "%s: got a verdict header" % user)
    check(st.scand_log().count(" scan mailbox=") == scans_before,
          "scand was asked for an unsubscribed mailbox")


@tap.case
def domain_default_protects_every_mailbox(st):
    st.ctl("domain", "set", "example.test", "inbound-virus", "on")
    try:
        out = st.ctl("sub", "get", "bob@example.test", "inbound-virus").stdout.decode()
        check("\ton\t(domain example.test)" in out, "sub get: %r" % out)
        m = marker()
        st.send(mixed(m, [text_part(b"x"), file_part(b"e.com", EICAR)]), ["bob@example.test"])
        got = st.wait_for("bob@example.test", m)[0]
        check(verdict(got).startswith("infected ("), "bob not protected by the domain default")
    finally:
        st.ctl("domain", "unset", "example.test", "inbound-virus")


@tap.case
def subscription_change_is_seen_by_the_next_delivery(st):
    """An LMTP process keeps what the store said of a mailbox between
    deliveries (the delivery plugin's cache): a subscription switched on,
    then off, must still hold for the very next message."""
    def deliver(text):
        m = marker()
        msg = mixed(m, [text_part(text), file_part(b"e.com", EICAR)])
        st.send(msg, ["bob@example.test"])
        return msg, st.wait_for("bob@example.test", m)[0]

    msg, got = deliver(b"before")
    check(verdict(got) is None, "unsubscribed bob got a verdict: %r" % verdict(got))
    st.ctl("sub", "set", "bob@example.test", "inbound-virus", "on")
    try:
        msg, got = deliver(b"subscribed")
        check(verdict(got) is not None and verdict(got).startswith("infected ("),
              "bob just subscribed, not cleaned: %r" % verdict(got))
        check(b64(EICAR) not in got, "bob just subscribed still has the virus")
    finally:
        st.ctl("sub", "del", "bob@example.test", "inbound-virus")
    msg, got = deliver(b"after")
    check(verdict(got) is None, "bob unsubscribed again got a verdict: %r" % verdict(got))
    check(b64(EICAR) in got, "bob unsubscribed again: the message was changed")


@tap.case
def several_recipients_are_scanned_once(st):
    st.ctl("sub", "set", "carol@example.test", "inbound-virus", "on")
    m = marker()
    before = st.scand_log().count(" scan mailbox=")
    st.send(mixed(m, [text_part(b"two"), file_part(b"e.com", EICAR)]),
            ["alice@example.test", "carol@example.test"])
    for user in ("alice@example.test", "carol@example.test"):
        got = st.wait_for(user, m)[0]
        check(verdict(got).startswith("infected ("), "%s not cleaned" % user)
        check(b64(EICAR) not in got, "%s still has the virus" % user)
    st.wait_scand_log(" scan mailbox=", before + 1)
    time.sleep(0.3)     # a second scan's line, had there been one, is in by now
    scans = st.scand_log().count(" scan mailbox=") - before
    check(scans == 1, "scanned %d times" % scans)


@tap.case
def scand_killed_mid_flight_then_delivered_exactly_once(st):
    m = marker()
    pid = st.scand_pid()
    os.kill(pid, signal.SIGSTOP)            # scand takes the request and hangs ...
    st.send(mixed(m, [text_part(b"retry me"), file_part(b"e.com", EICAR)]),
            ["alice@example.test"])
    deadline = time.time() + 20
    while time.time() < deadline:
        if subprocess.run(["ss", "-Hx", "state", "connected", "src", st.SCAND_SOCKET],
                          stdout=subprocess.PIPE, text=True).stdout.strip():
            break
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)            # ... and dies in the middle of it
    time.sleep(1)
    check(m not in b"".join(st.fetch_all("alice@example.test")), "delivered unscanned")
    deadline = time.time() + 20
    while time.time() < deadline and "4.2.0" not in open(
            os.path.join(st.dir, "log", "maillog"), errors="replace").read():
        time.sleep(0.2)
    check(st.queue().strip() and "alice@example.test" in st.queue(),
          "message not kept in Postfix's queue: %s" % st.queue())
    st.restart_scand()
    st.flush()
    got = st.wait_for("alice@example.test", m, timeout=40)
    check(len(got) == 1, "delivered %d times" % len(got))
    check(verdict(got[0]).startswith("infected ("), "not scanned after the retry")


@tap.case
def accept_unscanned_setting_delivers_when_scand_is_down(st):
    with open(st.OMAMORI_CONF) as f:
        original = f.read()
    st.kill_scand(signal.SIGTERM)
    deadline = time.time() + 10
    while time.time() < deadline and st.scand_alive():
        time.sleep(0.1)
    time.sleep(1.1)     # a new mtime for the plugin's reload check
    with open(st.OMAMORI_CONF, "a") as f:
        f.write("scand_failure_action = accept\n")
    try:
        m = marker()
        st.send(mixed(m, [text_part(b"while scand is down")]), ["alice@example.test"])
        got = st.wait_for("alice@example.test", m)[0]
        check(verdict(got) == "unscanned (scanner unavailable)", "verdict %r" % verdict(got))
    finally:
        time.sleep(1.1)
        with open(st.OMAMORI_CONF, "w") as f:
            f.write(original)
        st.restart_scand()
    m = marker()
    st.send(mixed(m, [text_part(b"scand back")]), ["alice@example.test"])
    check(verdict(st.wait_for("alice@example.test", m)[0]) == "clean", "not scanned again")


@tap.case
def omamorictl_scan_prints_json_and_exit_status(st):
    import json
    path = os.path.join(st.dir, "scan-me.eml")
    with open(path, "wb") as f:
        f.write(mixed(b"cli", [text_part(b"t"), file_part(b"a\xe3\x81\x82.com", EICAR)]))
    proc = st.ctl("scan", "--mailbox", "alice@example.test", path, check=False)
    check(proc.returncode == 1, "exit %d for a virus" % proc.returncode)
    res = json.loads(proc.stdout)
    check(res["verdict"] == "virus" and res["action"] == "strip", res)
    check(res["virus"].startswith("Omamori.Test.EICAR"), res)
    infected = [p for p in res["parts"] if p["verdict"] == "virus"]
    check(len(infected) == 1 and infected[0]["filename"] == "aあ.com", res["parts"])
    with open(path, "wb") as f:
        f.write(mixed(b"cli", [text_part(b"only text")]))
    proc = st.ctl("scan", path, check=False)
    check(proc.returncode == 0 and json.loads(proc.stdout)["verdict"] == "clean", proc.stdout)
    proc = st.ctl("scan", "--text", path, check=False)
    check(b"verdict: clean" in proc.stdout, proc.stdout)
    proc = st.ctl("scan", os.path.join(st.dir, "missing.eml"), check=False)
    check(proc.returncode == 2 and b"missing.eml" in proc.stderr, "missing file: %r" % proc.stderr)


@tap.case
def rfc2231_filename_is_decoded(st):
    part = (b"Content-Type: application/octet-stream\n"
            b"Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.exe\n"
            b"Content-Transfer-Encoding: base64\n\n" + b64(EICAR))
    path = os.path.join(st.dir, "rfc2231.eml")
    with open(path, "wb") as f:
        f.write(mixed(b"x", [text_part(b"t"), part]))
    import json
    res = json.loads(st.ctl("scan", path, check=False).stdout)
    names = [p["filename"] for p in res["parts"] if p["verdict"] == "virus"]
    check(names == ["請求書.exe"], names)


@tap.case
def signatures_reload_when_files_change_without_refusing_scans(st):
    import json
    sample = b"omamori-reload-canary-" + marker()
    path = os.path.join(st.dir, "canary.eml")
    with open(path, "wb") as f:
        f.write(mixed(b"c", [text_part(b"t"), file_part(b"canary.bin", sample)]))
    check(json.loads(st.ctl("scan", path, check=False).stdout)["verdict"] == "clean",
          "canary detected before its signature exists")
    with open(os.path.join(st.dir, "sigs", "canary.ndb"), "w") as f:
        f.write("Omamori.Test.Canary:0:*:%s\n" % sample.hex())
    # scans go on during the reload; none may fail
    deadline = time.time() + 20
    detected = False
    while time.time() < deadline:
        proc = st.ctl("scan", path, check=False)
        check(proc.returncode in (0, 1), "a scan failed during reload: %r" % proc.stderr)
        if json.loads(proc.stdout)["virus"] == "Omamori.Test.Canary.UNOFFICIAL":
            detected = True
            break
        time.sleep(0.1)
    check(detected, "new signature not picked up")
    check("signatures reloaded" in st.wait_scand_log("signatures reloaded"), "no reload logged")
    os.unlink(os.path.join(st.dir, "sigs", "canary.ndb"))
    os.kill(st.scand_pid(), signal.SIGHUP)
    deadline = time.time() + 20
    while time.time() < deadline:
        if json.loads(st.ctl("scan", path, check=False).stdout)["verdict"] == "clean":
            break
        time.sleep(0.2)
    check(json.loads(st.ctl("scan", path, check=False).stdout)["verdict"] == "clean",
          "signature still active after removal + SIGHUP")


@tap.case
def scand_stops_cleanly_on_sigterm(st):
    st.stop_scand("scand did not exit on SIGTERM")
    check("stopped" in st.scand_log().splitlines()[-1], "no clean stop logged")
    st.restart_scand()


def main():
    return run_suite(tap, subscribe=["alice@example.test"])


if __name__ == "__main__":
    sys.exit(main())
