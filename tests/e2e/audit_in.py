#!/usr/bin/env python3
"""End-to-end: audit rules on incoming mail and quarantine for the
administrator (issue 17 item 3, issue 16 item 2; doc/audit.md,
doc/attachments.md, doc/spam.md) through real Postfix, Dovecot LMTP and
omamori-scand.  The domain's rules (`omamorictl audit add`) run on mail
for bob: `direction in and subject contains "請求書" => hold` puts the mail
into his Quarantine as admin-only (the administrator is alerted); bob's
quarantine pages show the note and no release button, and his POST of a
release is refused (403) while `omamorictl quarantine release` moves it to
INBOX and says it was admin-only; a mail no rule matches is delivered; a
delete rule's mail is delivered nowhere and logged; add-header adds its
field (and a `direction out` rule does not touch incoming mail); an .exe
attachment under attachment-action quarantine-admin is admin-only too;
a Japanese word inside a .docx built here (its text read from
word/document.xml, split over two runs) holds the mail by
`attachment-text contains`, and `audit test` finds it in an .xlsx and a
.pptx; `audit test --in` shows the incoming case.  TAP output."""
import base64
import io
import os
import re
import sys
import tempfile
import time
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, decoded, file_part, forms_of, http, in_box,  # noqa: E402
                    mixed_mail, nowhere_for, run_suite, text_part, wait_mail, web_token,
                    windows_program)

tap = Tap()
DOMAIN = "example.test"
USER = "bob@example.test"
ADMIN = "carol@example.test"
RULES = [
    'direction in and subject contains "請求書" => hold',
    'direction in and attachment-text contains "社外秘" => hold',
    'direction in and subject contains "audit-drop" => delete',
    'direction out and subject contains "audit-tag" => delete',
    'subject contains "audit-tag" => add-header "X-Audit: inbound"',
]
state = {}


def mk():
    return uuid.uuid4().hex


def mail(subject, m, body="こんにちは\n"):
    """A mail for USER whose Subject (UTF-8, RFC 2047) is subject + m."""
    enc = "=?UTF-8?B?%s?=" % base64.b64encode(("%s %s" % (subject, m)).encode()).decode()
    return ("From: Partner <sales@partner.example>\nTo: %s\nSubject: %s\n"
            "Message-ID: <%s@partner.example>\nDate: Wed, 02 Dec 2026 10:00:00 +0900\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n%s" % (USER, enc, m, body)).encode()


def wait_in(st, m, mailbox, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m.encode(), mailbox)
        if got:
            return got[0]
        time.sleep(0.4)
    raise AssertionError("%s not in %s/%s; scand log:\n%s" % (m, USER, mailbox,
                                                             st.tail("scand.log")))


def listed_row(st, m):
    out = st.ctl("quarantine", "list", USER).stdout.decode("utf-8", "replace")
    rows = [line for line in out.splitlines() if m in line]
    check(rows, "%s not in quarantine list:\n%s" % (m, out))
    return rows[0]


@tap.case
def a_matching_mail_is_held_for_the_administrator(st):
    m = mk()
    st.send(mail("請求書", m), [USER])
    raw = wait_in(st, m, "Quarantine")
    qid = re.search(rb"X-Omamori-Quarantine-Id: ([0-9a-f]{32})", raw)
    check(qid, "no quarantine id")
    check(not in_box(st, USER, m.encode()), "the held mail reached INBOX")
    row = listed_row(st, m)
    check("admin-only" in row, "not admin-only: %r" % row)
    check("audit rule" in row or "matched an audit rule" in row, "no audit reason: %r" % row)
    alert = wait_mail(st, ADMIN, lambda r: m in decoded(r), "administrator's alert")
    check(USER in decoded(alert), "the alert does not name the recipient")
    state["held"] = (m, qid.group(1).decode())


@tap.case
def the_user_sees_the_note_and_cannot_release_it(st):
    m, qid = state["held"]
    url = st.conf_value("web_url") + "m/" + web_token(st, USER, "mail", qid)
    status, _, page = http(url)
    check(status == 200, "GET %d" % status)
    check("管理者のみが受信箱に戻せます" in page or "Only your administrator" in page,
          "no admin-only note on the page")
    ops = [f["op"] for f in forms_of(page)]
    check("release" not in ops and "allow" not in ops, "release buttons shown: %r" % ops)
    check("delete" in ops, "no delete button: %r" % ops)
    csrf = [f["hidden"]["csrf"] for f in forms_of(page) if "csrf" in f["hidden"]][0]
    status, _, result = http(url, {"op": "release", "csrf": csrf})
    check(status == 403, "a user's release POST: %d %s" % (status, result[:200]))
    status, _, page = http(url)
    csrf = [f["hidden"]["csrf"] for f in forms_of(page) if "csrf" in f["hidden"]][0]
    status, _, _ = http(url, {"op": "allow", "csrf": csrf})
    check(status == 403, "a user's allow POST: %d" % status)
    box = st.conf_value("web_url") + "q/" + web_token(st, USER, "box")
    status, _, page = http(box)
    check(status == 200 and m in page, "quarantine page %d lacks the mail" % status)
    row = page.split(m, 1)[1]
    action_row = forms_of(row)
    check(action_row and action_row[0]["op"] == "delete",
          "the list offers more than delete: %r" % [f["op"] for f in action_row])
    csrf = action_row[0]["hidden"]["csrf"]
    status, _, _ = http(box, {"op": "release", "csrf": csrf, "id": qid})
    check(status == 403, "a release POST on the list page: %d" % status)
    time.sleep(1)
    check(in_box(st, USER, m.encode(), "Quarantine"), "the mail left Quarantine")
    check(not in_box(st, USER, m.encode()), "the mail reached INBOX")


@tap.case
def the_administrator_releases_it_with_omamorictl(st):
    m, qid = state["held"]
    out = st.ctl("quarantine", "release", USER, qid).stdout.decode("utf-8", "replace")
    check("admin-only" in out, "release output does not say admin-only: %r" % out)
    wait_in(st, m, "INBOX", timeout=30)
    check(not in_box(st, USER, m.encode(), "Quarantine"), "still in Quarantine")


@tap.case
def a_mail_no_rule_matches_is_delivered(st):
    m = mk()
    st.send(mail("見積書", m), [USER])
    raw = wait_in(st, m, "INBOX")
    check(b"X-Audit" not in raw, "an unmatched mail got a header")


@tap.case
def a_delete_rule_drops_the_mail_and_logs_it(st):
    m = mk()
    st.send(mail("audit-drop", m), [USER])
    deadline = time.time() + 60
    while "audit: rule 3 (delete)" not in st.tail("dovecot.log", 400):
        check(time.time() < deadline, "no discard logged:\n%s" % st.tail("scand.log"))
        time.sleep(0.5)
    check(re.search(r"audit mailbox=bob@example.test direction=in: delete",
                    st.wait_scand_log("audit mailbox=bob@example.test direction=in: delete")),
          "scand did not log the delete")
    nowhere_for(st, USER, m.encode(), 3, "a deleted mail was delivered")


@tap.case
def add_header_adds_its_field_and_out_rules_stay_out(st):
    m = mk()
    st.send(mail("audit-tag", m), [USER])
    raw = wait_in(st, m, "INBOX")
    check(b"X-Audit: inbound" in raw, "no X-Audit header:\n%r" % raw[:600])


@tap.case
def an_attachment_finding_can_be_quarantined_for_the_administrator(st):
    st.ctl("domain", "set", DOMAIN, "attachment-action", "quarantine-admin")
    time.sleep(1.2)
    m = mk()
    st.send(mixed_mail(m.encode(), [text_part(b"invoice attached\n"),
                                    file_part(b"invoice.exe", windows_program())],
                       to=USER, subject="attach"), [USER])
    wait_in(st, m, "Quarantine")
    row = listed_row(st, m)
    check("admin-only" in row, "attachment quarantine not admin-only: %r" % row)
    st.ctl("domain", "set", DOMAIN, "attachment-action", "isolate")


def ooxml(kind, text):
    """A minimal Office document (docx, xlsx or pptx) holding text, built
    here: the ZIP and the XML part its text lives in."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    half = len(text) // 2
    parts = {
        "docx": ("word/document.xml",
                 '<w:document xmlns:w="%s"><w:body><w:p><w:r><w:t>%s</w:t></w:r>'
                 '<w:r><w:t>%s</w:t></w:r></w:p></w:body></w:document>'
                 % (w, text[:half], text[half:])),
        "xlsx": ("xl/sharedStrings.xml",
                 '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                 '<si><t>%s</t></si></sst>' % text),
        "pptx": ("ppt/slides/slide1.xml",
                 '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
                 'xmlns:a="%s"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>%s</a:t>'
                 '</a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>' % (a, text)),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        name, xml = parts[kind]
        z.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + xml)
    return buf.getvalue()


@tap.case
def a_japanese_word_inside_a_docx_holds_the_mail(st):
    m = mk()
    st.send(mixed_mail(m.encode(), [text_part(b"see the document\n"),
                                    file_part(b"memo.docx", ooxml("docx", "これは社外秘です"))],
                       to=USER, subject="docx"), [USER])
    wait_in(st, m, "Quarantine")
    row = listed_row(st, m)
    check("admin-only" in row and "audit" in row, "docx not held by the rule: %r" % row)
    check(not in_box(st, USER, m.encode()), "the docx mail reached INBOX")


@tap.case
def audit_test_reads_xlsx_and_pptx_text(st):
    for kind in ("xlsx", "pptx"):
        raw = mixed_mail(b"x", [text_part(b"hello\n"),
                                file_part(("report." + kind).encode(), ooxml(kind, "社外秘"))],
                         to=USER, subject="office")
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(raw)
            f.flush()
            out = st.ctl("audit", "test", DOMAIN, f.name, "--in", "--to", USER
                         ).stdout.decode("utf-8", "replace")
        check("fired: rule 2" in out and "社外秘" in out, "%s: %s" % (kind, out))


@tap.case
def audit_test_shows_the_incoming_case(st):
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(mail("請求書", "x"))
        f.flush()
        out = st.ctl("audit", "test", DOMAIN, f.name, "--in", "--to", USER
                     ).stdout.decode("utf-8", "replace")
    check("direction: in" in out and "fired: rule 1" in out and "action=hold" in out,
          "audit test --in: %s" % out)
    check("incoming: quarantine-admin" in out, "no incoming line: %s" % out)


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=[USER], setup=(
        ("domain", "set", DOMAIN, "outbound-admin", ADMIN),
        ("domain", "set", DOMAIN, "attachments", "on"),
    ) + tuple(("audit", "add", DOMAIN, rule) for rule in RULES)))
