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
attachments alone; an unsubscribed sender's mail is untouched.

The recipients' button (seed 001's メール確認画面): the notice's signed
/z/ link shows the archive's recipients (inside/outside) and changes
nothing; the POST with its CSRF value makes omamori-filter mail the
password to the recipients from the sender's address - the external
ones' copy at the sink (one mail, both addresses in its envelope) and the
internal one's in its INBOX - and that password opens the sink's archive
with bsdtar; a second POST sends nothing and says it was sent; a forged,
expired or other-action token (400/410) and a POST without CSRF (403)
send nothing; at the record's expiry the button refuses and cron forgets
it; the password is in no log.  TAP."""
import base64
import email
import hashlib
import urllib.parse
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
from omtest import (web_token, send_as, sink, wait_sink, Tap, check, decoded, forms_of,  # noqa: E402
                    header_of, http, run_suite)

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
    # a session of its own: without a password bsdtar asks /dev/tty, and
    # a test run from a terminal would wait there instead of failing
    return subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
                          start_new_session=True, env=dict(os.environ, LC_ALL="C.UTF-8"))


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
          "送信日時：" in text and "件名　　：" in text, "notice lacks an item:\n%s" % text)
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


# ---- the recipients' button (/z/) ----

SENDER = "carol@example.test"
OUTSIDE = ["ext@far.example", "ext2@far.example"]
INSIDE = "bob@example.test"


def send_form(page):
    forms = forms_of(page)
    fields = dict(forms[0]["fields"], **dict(forms[0]["buttons"])) if len(forms) == 1 else {}
    check(fields.get("op") == "send" and "csrf" in fields, "the page's form: %r" % forms)
    return forms[0]["action"], fields


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(st, mailbox, action, message, lifetime):
    return web_token(st, mailbox, action, message, lifetime)

def password_mails_at_sink(st, m):
    """The recipients' password mails at the sink about the mail m."""
    return [raw for raw in sink_all(st)
            if header_of(raw, "X-Omamori-Notice") == "zip-password" and m in decoded(raw)]


def sink_all(st):
    out = []
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        if not name.startswith("."):
            with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
                out.append(f.read())
    return out


def password_mails_in(st, user, m):
    return [raw for raw in st.fetch_all(user)
            if header_of(raw, "X-Omamori-Notice") == "zip-password" and m in decoded(raw)]


def zip_link(text):
    link = re.search(r"https?://127\.0\.0\.1:\d+/z/[A-Za-z0-9_.~-]+", text)
    check(link, "no /z/ link in the notice:\n%s" % text)
    return link.group(0)


def send_zipped(st, m):
    send_as(st, SENDER, OUTSIDE + [INSIDE],
            mail(m, SENDER, ", ".join(OUTSIDE + [INSIDE]), [("report.pdf", PDF, "application/pdf")]))
    raw = wait_sink(st, m)[0]
    notice = notice_for(st, SENDER, m)
    text = notice.get_body(preferencelist=("plain",)).get_content()
    pw = re.search(r"【パスワード】\n([A-Za-z0-9]{12,})\n", text).group(1)
    return raw, text, pw


def zip_rows(st):
    return st.sql("SELECT id, state, sent, sealed FROM zip_passwords")


@tap.case
def the_notice_page_sends_the_password_to_the_recipients_once(st):
    m = mk()
    raw, text, pw = send_zipped(st, m)
    link = zip_link(text)
    check("メール確認画面" in text and "パスワードを受信者に送信" in text, "notice wording:\n%s" % text)
    # at rest the password is sealed, never in clear
    rows = zip_rows(st)
    check(rows and all(pw not in (r[3] or "") for r in rows), "the password is in the store in clear")
    # GET: the recipients, inside and outside; nothing sent
    status, _, page = http(link)
    check(status == 200, "GET /z/: %d" % status)
    for want in OUTSIDE + [INSIDE, "attachments.zip", m, "パスワードを受信者に送信", "まだ送信していません"]:
        check(want in page, "%r not on the page:\n%s" % (want, page[:2000]))
    check(re.search(r"ext@far\.example <strong>\[社外\]", page) and
          re.search(r"bob@example\.test <small>\[社内\]", page), "inside/outside not marked")
    check(pw not in page, "the page shows the password")
    status, _, page2 = http(link)
    time.sleep(2)
    check(not password_mails_at_sink(st, m), "a GET sent the password")
    # a POST without CSRF, and one with another page's CSRF for nothing
    action, fields = send_form(page)
    _, fields2 = send_form(page2)
    status, _, _ = http(urllib.parse.urljoin(link, action), {"op": "send"})
    check(status == 403, "POST without csrf: %d" % status)
    time.sleep(2)
    check(not password_mails_at_sink(st, m), "a POST without CSRF sent the password")
    # the button
    status, _, result = http(urllib.parse.urljoin(link, action), fields)
    check(status == 200 and "パスワードを受信者に送信しました" in result,
          "POST: %d\n%s" % (status, result[:1000]))
    deadline = time.time() + 30
    while not password_mails_at_sink(st, m) and time.time() < deadline:
        time.sleep(0.3)
    time.sleep(2)
    got = password_mails_at_sink(st, m)
    check(len(got) == 1, "%d password mails at the sink" % len(got))
    envelope = got[0].split(b"\n", 1)[0]
    check(all(r.encode() in envelope for r in OUTSIDE) and INSIDE.encode() not in envelope,
          "the sink's envelope: %r" % envelope)
    body = decoded(got[0])
    for want in ("暗号化を解除する為のパスワードをお知らせします", "【対象メール情報】", "送信日時：",
                 "件名　　：", "【暗号化ファイル名】", "attachments.zip", "【パスワード】", SENDER):
        check(want in body, "%r not in the password mail:\n%s" % (want, body))
    check(re.search(r"【パスワード】\n%s\n" % pw, body), "not the notice's password:\n%s" % body)
    msg = email.message_from_bytes(got[0], policy=email.policy.default)
    check(SENDER in str(msg["From"]), "From: %s" % msg["From"])
    check(str(msg["To"]).startswith("undisclosed-recipients"), "To: %s" % msg["To"])
    check(str(msg.get("Auto-Submitted", "")) == "auto-generated", "no Auto-Submitted")
    inside = st.wait_for(INSIDE, b"X-Omamori-Notice: zip-password", timeout=30)
    check(any(m in decoded(x) and pw in decoded(x) for x in inside),
          "the internal recipient has no password mail")
    # the password of the mail opens the archive the recipients got
    att = attachments(message_of(raw))
    tmp = tempfile.mkdtemp(prefix="omamori-zippw-")
    try:
        archive = os.path.join(tmp, "attachments.zip")
        with open(archive, "wb") as f:
            f.write(att[0][2])
        sent_pw = re.search(r"【パスワード】\n([A-Za-z0-9]{12,})\n", body).group(1)
        r = bsdtar(archive, sent_pw, tmp)
        check(r.returncode == 0, "bsdtar with the mailed password: %r" % r.stderr)
        with open(os.path.join(tmp, "report.pdf"), "rb") as f:
            check(f.read() == PDF, "report.pdf differs")
    finally:
        shutil.rmtree(tmp)
    # a second press (a fresh CSRF value) sends nothing and says so
    status, _, again = http(urllib.parse.urljoin(link, action), fields2)
    check(status == 409 and "送信済み" in again, "second POST: %d\n%s" % (status, again[:800]))
    status, _, page3 = http(link)
    check(status == 200 and 'id="zip-sent"' in page3 and 'id="zip-send"' not in page3,
          "the page after sending:\n%s" % page3[:1500])
    time.sleep(3)
    check(len(password_mails_at_sink(st, m)) == 1, "the password was mailed twice")
    check(len(password_mails_in(st, INSIDE, m)) == 1, "the internal one got it twice")
    rows = [r for r in zip_rows(st) if r[1] == 3]
    check(rows and all(r[3] == "" for r in rows), "the seal is kept after sending")
    # never in a log
    for name in ("filter.log", "web.log", "maillog"):
        path = os.path.join(st.dir, "log", name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                check(pw not in f.read(), "the password is in %s" % name)


@tap.case
def no_password_for_a_held_or_cancelled_mail(st):
    """outbound-hold and outbound-zip together: while the mail is held its
    archive has not gone out, so the page offers no button and a POST sends
    nothing (409); after the sender cancels it, 410, and never a password."""
    m = mk()
    st.ctl("sub", "set", SENDER, "outbound-hold", "on")
    time.sleep(1.6)     # policyd picks store changes up every second
    try:
        send_as(st, SENDER, OUTSIDE, mail(m, SENDER, ", ".join(OUTSIDE),
                                          [("report.pdf", PDF, "application/pdf")]))
        notice = notice_for(st, SENDER, m)
        link = zip_link(notice.get_body(preferencelist=("plain",)).get_content())
        hid = None
        deadline = time.time() + 30
        while hid is None and time.time() < deadline:
            for line in st.ctl("hold", "list", SENDER).stdout.decode().splitlines():
                if m in line:
                    hid = line.split("\t")[0]
            time.sleep(0.3)
        check(hid is not None, "the mail was not held")
    finally:
        st.ctl("sub", "set", SENDER, "outbound-hold", "off")
    status, _, page = http(link)
    check(status == 200 and 'id="zip-gate"' in page and 'id="zip-send"' not in page
          and "一時保留中" in page, "GET while held: %d\n%s" % (status, page[:1500]))
    # a CSRF value of carol's from another mail's page, posted to this one
    other = mk()
    _, text, _ = send_zipped(st, other)
    other_link = zip_link(text)
    _, fields = send_form(http(other_link)[2])
    status, _, result = http(link, fields)
    check(status == 409 and "一時保留中" in result, "POST while held: %d\n%s" % (status, result[:800]))
    st.ctl("hold", "discard", hid)
    status, _, page = http(link)
    check(status == 200 and 'id="zip-send"' not in page and "取り消した" in page,
          "GET after cancelling: %d\n%s" % (status, page[:1500]))
    _, fields = send_form(http(other_link)[2])
    status, _, result = http(link, fields)
    check(status == 410 and "取り消した" in result, "POST after cancelling: %d\n%s"
          % (status, result[:800]))
    time.sleep(2)
    check(not [raw for raw in sink_all(st) if m.encode() in raw],
          "something of the cancelled mail went out")


@tap.case
def forged_expired_and_other_tokens_send_nothing(st):
    m = mk()
    _, text, _ = send_zipped(st, m)
    link = zip_link(text)
    status, _, page = http(link)
    check(status == 200, "GET: %d" % status)
    action, fields = send_form(page)
    tok = link.rsplit("/", 1)[1]
    zid = base64.urlsafe_b64decode(tok.split(".")[0] + "==").decode().split("\n")[4]
    base = link.rsplit("/z/", 1)[0]
    forged = tok[:-3] + ("AAA" if not tok.endswith("AAA") else "BBB")
    cases = [
        ("forged", base + "/z/" + forged, (400,)),
        ("expired", base + "/z/" + token(st, SENDER, "zip-password", zid, -60), (410,)),
        ("another action", base + "/z/" + token(st, SENDER, "hold", zid, 3600), (400,)),
        ("another mailbox", base + "/z/" + token(st, "bob@example.test", "zip-password", zid, 3600),
         (403, 410)),
    ]
    for what, url, want in cases:
        status, _, _ = http(url, fields)
        check(status in want, "%s token: POST %d" % (what, status))
    # the record past its expiry: the button refuses, cron forgets it
    st.sql("UPDATE zip_passwords SET expires = ? WHERE id = ?", (int(time.time()) - 5, zid))
    status, _, page = http(link)
    check(status == 200 and 'id="zip-send"' not in page, "an expired record offers the button")
    status, _, _ = http(urllib.parse.urljoin(link, action), fields)
    check(status in (403, 410), "POST on an expired record: %d" % status)
    time.sleep(3)
    check(not password_mails_at_sink(st, m), "a refused request sent the password")
    out = st.ctl("cron").stdout.decode()
    check("zip-password-expiry" in out, "cron said: %s" % out)
    check(not [r for r in zip_rows(st) if r[0] == zid], "cron kept the expired record")
    status, _, _ = http(link)
    check(status == 410, "GET of a forgotten record: %d" % status)


@tap.case
def zip_password_days_is_validated(st):
    for bad in ("0", "31", "x"):
        r = st.ctl("domain", "set", "example.test", "zip-password-days", bad, check=False)
        check(r.returncode != 0, "zip-password-days=%s accepted" % bad)
    r = st.ctl("domain", "set", "example.test", "zip-password-days", "30", check=False)
    check(r.returncode == 0, "zip-password-days=30 refused")
    st.ctl("domain", "unset", "example.test", "zip-password-days")


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
