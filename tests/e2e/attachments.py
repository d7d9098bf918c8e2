#!/usr/bin/env python3
"""End-to-end: the attachment analysis of omamori-scand (issue 16, first
slice) through real Postfix -> Dovecot LMTP -> scand, read back over IMAP.
(Isolation, the default action since the second slice, is
tests/e2e/isolate.py's; each case here sets its action.)
The domain example.test is subscribed to "attachments"; each case sets its
attachment-action and sends alice a mail built here at run time:

- warn: a program (MZ/PE bytes) named .pdf is delivered with the notice
  on top, the attachment kept, X-Omamori-Attachments naming ATT_EXT_MISMATCH;
- remove: an exe inside a zip inside a zip is taken out, the notice names
  docs.zip/inner.zip/payload.exe; an RFC 2231 name with a right-to-left
  override is taken out; an encrypted zip whose password is not in the
  body is taken out as ATT_ENCRYPTED;
- an encrypted zip (zip -P) whose password is in the Japanese body and
  holds EICAR: opened, the virus found, the zip removed as a virus;
- quarantine by a per-class override (attachment-action-macro): a macro
  .xlsm goes to Quarantine, under the notice, not to the INBOX;
- an HTML body with its inline image in multipart/related stays whole.
TAP."""
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (EICAR, mixed_mail, windows_program, Tap, check, decoded, header_of, in_box,  # noqa: E402
                    run_suite, text_part, file_part)

tap = Tap()
USER = "alice@example.test"


def marker():
    return uuid.uuid4().hex.encode()


def mixed(m, parts, subject="attach"):
    return mixed_mail(m, parts, to=USER, subject=subject)

def program():
    return windows_program()

def zip_of(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def encrypted_zip(name, data, password):
    """A ZipCrypto archive made by Info-ZIP's zip -P (Debian package zip)."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        subprocess.run(["zip", "-q", "-P", password, "out.zip", name], cwd=d, check=True)
        with open(os.path.join(d, "out.zip"), "rb") as f:
            return f.read()


def action(st, value, **per_class):
    st.ctl("domain", "set", "example.test", "attachment-action", value)
    for cls in ("extension", "disguise", "encrypted", "macro", "active"):
        st.ctl("domain", "set", "example.test", "attachment-action-" + cls,
               per_class.get(cls, "default"))
    time.sleep(1.2)     # scand's snapshot picks store changes up


def deliver(st, raw, m, mailbox="INBOX", timeout=40):
    st.send(raw, [USER])
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m, mailbox)
        if got:
            return got[0]
        time.sleep(0.3)
    raise AssertionError("%s not in %s's %s" % (m.decode(), USER, mailbox))


@tap.case
def warn_program_named_pdf_is_kept_with_notice(st):
    action(st, "warn")
    m = marker()
    raw = mixed(m, [text_part(b"see the invoice"), file_part(b"invoice.pdf", program())])
    got = deliver(st, raw, m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_EXT_MISMATCH invoice.pdf (warn)" in hdr, "header: %r" % hdr)
    text = decoded(got)
    check("添付ファイルに関するご注意" in text and "invoice.pdf" in text and
          "拡張子と中身の種類が一致しません" in text, "no notice naming file and reason")
    check(b'filename="invoice.pdf"' in got, "the attachment was not kept")


@tap.case
def remove_exe_in_zip_in_zip(st):
    action(st, "remove")
    m = marker()
    inner = zip_of([("payload.exe", program())])
    outer = zip_of([("inner.zip", inner)])
    raw = mixed(m, [text_part(b"documents"), file_part(b"docs.zip", outer)])
    got = deliver(st, raw, m)
    text = decoded(got)
    check("docs.zip/inner.zip/payload.exe" in text and "削除しました" in text,
          "notice does not name the member removed")
    check(b'filename="docs.zip"' not in got, "docs.zip still attached")
    check("documents" in text, "the body text is gone")
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_RISKY_EXT docs.zip/inner.zip/payload.exe (remove)" in hdr, "header: %r" % hdr)


@tap.case
def remove_rtlo_name_in_rfc2231(st):
    action(st, "remove")
    m = marker()
    part = (b"Content-Type: application/octet-stream\n"
            b"Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82"
            b"%E2%80%AEfdp.exe\n"
            b"Content-Transfer-Encoding: base64\n\naGVsbG8=\n")
    got = deliver(st, mixed(m, [text_part(b"hello"), part]), m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_RTLO" in hdr and "ATT_RISKY_EXT" in hdr, "header: %r" % hdr)
    check(b"%E2%80%AEfdp.exe" not in got, "the attachment is still there")


@tap.case
def encrypted_zip_without_password_is_removed(st):
    action(st, "remove")
    m = marker()
    z = encrypted_zip("見積.txt", b"nothing to see", "Kq7-33x")
    raw = mixed(m, [text_part("資料を送ります。パスワードは別途お送りします。".encode()),
                    file_part(b"estimate.zip", z)])
    got = deliver(st, raw, m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_ENCRYPTED estimate.zip (remove)" in hdr, "header: %r" % hdr)
    check("暗号化されていて中身を検査できません" in decoded(got), "no reason in the notice")
    check(b'filename="estimate.zip"' not in got, "the zip is still there")


@tap.case
def encrypted_zip_with_password_in_japanese_body_eicar_found(st):
    action(st, "warn")
    m = marker()
    z = encrypted_zip("invoice.txt", EICAR, "7xQ2pw")
    body = "お世話になっております。\nパスワードは 7xQ2pw です。\n".encode()
    raw = mixed(m, [text_part(body), file_part(b"invoice.zip", z)])
    got = deliver(st, raw, m)
    virus = header_of(got, "X-Omamori-Virus") or ""
    check(virus.startswith("infected"), "X-Omamori-Virus: %r" % virus)
    check(b'filename="invoice.zip"' not in got, "the infected zip is still there")
    check("ウイルス" in decoded(got), "no virus notice")


@tap.case
def macro_quarantined_by_class_override(st):
    action(st, "warn", macro="quarantine")
    m = marker()
    xlsm = zip_of([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<w/>"),
                   ("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0")])
    raw = mixed(m, [text_part(b"numbers"), file_part(b"report.xlsm", xlsm)])
    got = deliver(st, raw, m, mailbox="Quarantine")
    check("危険な添付ファイルのため隔離しました" in decoded(got) and
          "ATT_MACRO" in decoded(got), "no quarantine notice with the finding")
    check(not in_box(st, USER, m), "the mail reached the INBOX too")


@tap.case
def inline_image_of_related_stays(st):
    action(st, "remove")
    m = marker()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    related = (b"Content-Type: multipart/related; boundary=\"RR\"\n\n"
               b"--RR\nContent-Type: text/html; charset=utf-8\n\n"
               b"<html><body><img src=\"cid:logo@x\"></body></html>\n"
               b"--RR\nContent-Type: image/png\nContent-ID: <logo@x>\n"
               b"Content-Transfer-Encoding: base64\n\n" +
               __import__("base64").encodebytes(png) + b"--RR--\n")
    got = deliver(st, mixed(m, [related]), m)
    check(header_of(got, "X-Omamori-Attachments") is None, "inline image was flagged")
    check(b"Content-ID: <logo@x>" in got, "the inline image was removed")


@tap.case
def rules_file_reloaded_on_sighup_and_bad_one_refused(st):
    """An administrator adds docx to the risky list: after SIGHUP a .docx is
    ATT_RISKY_EXT; a broken file on the next SIGHUP is refused with its line
    in the log, scand goes on with the rules it had."""
    action(st, "warn")
    path = os.path.join(st.dir, "etc", "attachments.rules")
    with open(path, "rb") as f:
        shipped = f.read()
    doc = zip_of([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<d/>")])
    try:
        with open(path, "ab") as f:
            f.write(b"risky-extensions docx\n")
        os.kill(st.scand_pid(), signal.SIGHUP)
        time.sleep(2)
        m = marker()
        got = deliver(st, mixed(m, [text_part(b"doc"), file_part(b"letter.docx", doc)]), m)
        hdr = header_of(got, "X-Omamori-Attachments") or ""
        check("ATT_RISKY_EXT letter.docx (warn)" in hdr, "new rule not in effect: %r" % hdr)
        with open(path, "ab") as f:
            f.write(b"frobnicate 1\n")
        os.kill(st.scand_pid(), signal.SIGHUP)
        time.sleep(2)
        check("unknown keyword 'frobnicate'" in st.scand_log(), "bad rules not logged")
        check(st.scand_alive(), "scand died on a bad rules file")
        m = marker()
        got = deliver(st, mixed(m, [text_part(b"doc"), file_part(b"letter.docx", doc)]), m)
        hdr = header_of(got, "X-Omamori-Attachments") or ""
        check("ATT_RISKY_EXT letter.docx" in hdr, "old rules not kept: %r" % hdr)
    finally:
        with open(path, "wb") as f:
            f.write(shipped)
        os.kill(st.scand_pid(), signal.SIGHUP)
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=[USER],
                       setup=[("domain", "set", "example.test", "attachments", "on")]))
