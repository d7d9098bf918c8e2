#!/usr/bin/env python3
"""End-to-end: outbound-zip through real Postfix, omamori-filter and
Dovecot.  An authenticated subscriber's mail with two attachments (one
with a Japanese file name) to an external recipient reaches the sink with
one attachments.zip and no plain attachment, the text body unchanged; the
sender's INBOX has the password notice (date, subject, archive name,
password, recipients); bsdtar extracts the archive with that password,
both files byte-identical and the Japanese name intact, and extracts
nothing without it or with a wrong one.  With zip-recipients=external an
internal-only mail is not zipped (=all: it is); zip-min-size leaves small
attachments alone; an unsubscribed sender's mail is untouched.  TAP."""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import send_as, wait_sink, Tap, check, run_suite  # noqa: E402

tap = Tap()

JA_NAME = "見積書_2024年度.xlsx"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
XLSX = ("シート1 金額 " * 500).encode("utf-8") + b"\x00\x01\xff"


def mk():
    return uuid.uuid4().hex


def mail(m, frm, to, files, body=None):
    """multipart/mixed: a text part, then each (name, bytes, type) base64,
    the name RFC 2231-encoded (as Thunderbird and Outlook send it)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = "ご紹介資料 %s" % m
    msg["Message-ID"] = "<%s@example.test>" % m
    msg.set_content(body if body is not None else "資料を添付します。\nmarker %s\n" % m)
    for name, data, ctype in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\r\n", b"\n")


def message_of(raw):
    """The sink's file: its X-Sink-Envelope line is one more header."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def attachments(msg):
    return [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
            for p in msg.iter_attachments()]


def body_text(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def notice_for(st, user, m, timeout=30):
    """The password notice in user's INBOX about the mail with marker m."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for raw in st.fetch_all(user):
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            subject = str(msg.get("Subject", ""))
            if m in subject and ("パスワード" in subject or "Password" in subject):
                return msg
        time.sleep(0.5)
    raise AssertionError("no password notice for %s in %s's INBOX; filter log:\n%s"
                         % (m, user, st.tail("filter.log")))


def bsdtar(archive, password, into):
    args = ["bsdtar", "-x", "-f", archive, "-C", into]
    if password is not None:
        args[1:1] = ["--passphrase", password]
    return subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))


@tap.case
def external_mail_goes_out_with_one_zip_and_the_sender_gets_the_password(st):
    m = mk()
    files = [("report.pdf", PDF, "application/pdf"),
             (JA_NAME, XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    send_as(st, "carol@example.test", ["ext@far.example"],
         mail(m, "carol@example.test", "ext@far.example", files))
    raw = wait_sink(st, m)[0]
    msg = message_of(raw)
    att = attachments(msg)
    check(len(att) == 1 and att[0][0] == "attachments.zip" and att[0][1] == "application/zip",
          "attachments at the sink: %r" % [(a[0], a[1]) for a in att])
    check(b"report.pdf" not in raw and JA_NAME.encode() not in raw and PDF[:64] not in raw,
          "a plain attachment's name or bytes went out")
    check("資料を添付します。" in body_text(msg) and m in body_text(msg),
          "text body changed: %r" % body_text(msg))

    notice = notice_for(st, "carol@example.test", m)
    text = notice.get_body(preferencelist=("plain",)).get_content()
    pw = re.search(r"【パスワード】\n([A-Za-z0-9]{12,})\n", text)
    check(pw, "no password in the notice:\n%s" % text)
    pw = pw.group(1)
    check("attachments.zip" in text and "ext@far.example" in text and m in text and
          "送信日時：" in text and "題名" in text, "notice lacks an item:\n%s" % text)
    check(str(notice.get("Auto-Submitted", "")) == "auto-generated", "no Auto-Submitted")
    check(pw.encode() not in raw, "the password went out with the mail")

    tmp = tempfile.mkdtemp(prefix="omamori-zip-")
    try:
        archive = os.path.join(tmp, "attachments.zip")
        with open(archive, "wb") as f:
            f.write(att[0][2])
        for what, password in (("no", None), ("a wrong", "ACDEFGHJKLMNPQRT")):
            out = os.path.join(tmp, what.replace(" ", "-"))
            os.mkdir(out)
            r = bsdtar(archive, password, out)
            got = {}
            for name in os.listdir(out):
                with open(os.path.join(out, name), "rb") as f:
                    got[name] = f.read()
            check(r.returncode != 0 and got.get("report.pdf") != PDF and
                  got.get(JA_NAME) != XLSX,
                  "%s password extracted it: rc=%d %r" % (what, r.returncode, r.stderr))
        out = os.path.join(tmp, "ok")
        os.mkdir(out)
        r = bsdtar(archive, pw, out)
        check(r.returncode == 0, "bsdtar with the password: %r" % r.stderr)
        names = sorted(os.listdir(out))
        check(names == sorted(["report.pdf", JA_NAME]), "names: %r" % names)
        with open(os.path.join(out, "report.pdf"), "rb") as f:
            check(f.read() == PDF, "report.pdf differs")
        with open(os.path.join(out, JA_NAME), "rb") as f:
            check(f.read() == XLSX, "%s differs" % JA_NAME)
    finally:
        shutil.rmtree(tmp)


@tap.case
def internal_only_mail_is_not_zipped_with_external(st):
    m = mk()
    send_as(st, "carol@example.test", ["bob@example.test"],
         mail(m, "carol@example.test", "bob@example.test", [("a.pdf", PDF, "application/pdf")]))
    inbox = st.wait_for("bob@example.test", m.encode())
    att = attachments(email.message_from_bytes(inbox[0], policy=email.policy.default))
    check([a[0] for a in att] == ["a.pdf"] and att[0][2] == PDF, "zipped: %r" % [a[0] for a in att])


@tap.case
def internal_mail_is_zipped_with_all(st):
    st.ctl("domain", "set", "example.test", "zip-recipients", "all")
    try:
        time.sleep(1.6)
        m = mk()
        send_as(st, "carol@example.test", ["bob@example.test"],
             mail(m, "carol@example.test", "bob@example.test", [("a.pdf", PDF, "application/pdf")]))
        inbox = st.wait_for("bob@example.test", m.encode())
        att = attachments(email.message_from_bytes(inbox[0], policy=email.policy.default))
        check([a[0] for a in att] == ["attachments.zip"], "not zipped: %r" % [a[0] for a in att])
        notice_for(st, "carol@example.test", m)
    finally:
        st.ctl("domain", "unset", "example.test", "zip-recipients")


@tap.case
def attachments_under_zip_min_size_go_as_they_are(st):
    st.ctl("domain", "set", "example.test", "zip-min-size", "100000")
    try:
        time.sleep(1.6)
        m = mk()
        send_as(st, "carol@example.test", ["ext@far.example"],
             mail(m, "carol@example.test", "ext@far.example", [("small.txt", b"tiny", "text/plain")]))
        att = attachments(message_of(wait_sink(st, m)[0]))
        check([a[0] for a in att] == ["small.txt"], "zipped: %r" % [a[0] for a in att])
    finally:
        st.ctl("domain", "unset", "example.test", "zip-min-size")


@tap.case
def unsubscribed_sender_mail_is_untouched(st):
    m = mk()
    send_as(st, "alice@example.test", ["ext@far.example"],
         mail(m, "alice@example.test", "ext@far.example", [("a.pdf", PDF, "application/pdf")]))
    raw = wait_sink(st, m)[0]
    check(b"from omamori-filter" not in raw, "went through the filter")
    att = attachments(message_of(raw))
    check([a[0] for a in att] == ["a.pdf"] and att[0][2] == PDF, "changed: %r" % [a[0] for a in att])


@tap.case
def settings_are_validated(st):
    r = st.ctl("domain", "set", "example.test", "zip-recipients", "some", check=False)
    check(r.returncode != 0, "zip-recipients=some accepted")
    r = st.ctl("domain", "set", "example.test", "zip-min-size", "-1", check=False)
    check(r.returncode != 0, "zip-min-size=-1 accepted")


if __name__ == "__main__":
    if shutil.which("bsdtar") is None:
        print("Bail out! bsdtar missing: apt-get install libarchive-tools (tests/install-deps)")
        sys.exit(1)
    sys.exit(run_suite(tap, setup=[
        ("sub", "set", "carol@example.test", "outbound-zip", "on"),
    ]))
