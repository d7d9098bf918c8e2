#!/usr/bin/env python3
"""End-to-end: outbound-portal (issue 17, doc/portal.md) through real
Postfix, omamori-policyd, omamori-filter and Dovecot.

- An authenticated subscriber's mail to an external recipient: the copy
  at the sink is only the notice (sender, subject, expiry, a /p/ link
  signed for that recipient), none of the body; the message is kept in
  portal_dir encrypted (no plain byte of its body marker in the file),
  one portal_messages row with a sealed key; after the filter no file of
  the whole stack (Postfix's queue, the filter's spool, the store, the
  portal dir, the logs) holds the body marker.
- A mail to an internal and an external recipient: the internal one gets
  the message in its INBOX, the external one only the notice.
- portal-subject hide: the notice says 件名非表示, not the subject.
- omamorictl refuses outbound-zip and outbound-portal both on (mailbox
  and domain).
- An unsubscribed sender's mail goes out as it is.  TAP."""
import email
import email.policy
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, check, decoded, forms_of, http, run_suite,  # noqa: E402
                    send_as, wait_mail, wait_sink)

tap = Tap()

SENDER = "carol@example.test"


def mk():
    return uuid.uuid4().hex


def mail(subject_id, body_marker, to, frm=SENDER):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = to
    msg["Subject"] = "見積のご送付 %s" % subject_id
    msg["Message-ID"] = "<%s@example.test>" % subject_id
    msg.set_content("見積書をお送りします。\n機密 %s\n" % body_marker)
    msg.add_attachment(("添付 %s\n" % body_marker).encode() * 50, maintype="application",
                       subtype="octet-stream", filename="mitsumori.bin")
    return msg.as_bytes().replace(b"\r\n", b"\n")


def portal_rows(st, subject_id):
    return st.sql("SELECT id, sender, subject, recipients, sealed, expires, revoked "
                  "FROM portal_messages WHERE subject LIKE ?", ("%%%s%%" % subject_id,))


def text_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    return msg, (part.get_content() if part is not None else "")


def files_holding(root, needle):
    """Every regular file under root whose bytes hold needle."""
    found = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            try:
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                with open(p, "rb") as f:
                    if needle in f.read():
                        found.append(p)
            except OSError:
                continue
    return found


def notice_at_sink(st, rcpt, timeout=40):
    """The copy at the outbound sink whose envelope names rcpt (each test
    uses its own external address)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for name in os.listdir(st.OUTBOUND_SINK_DIR):
            if name.startswith("."):
                continue
            with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
                data = f.read()
            env = data.split(b"\n", 1)[0]
            if env.startswith(b"X-Sink-Envelope") and rcpt.encode() in env:
                return data
        time.sleep(0.3)
    raise AssertionError("nothing for %s at the sink; filter log:\n%s"
                         % (rcpt, st.tail("filter.log")))


@tap.case
def external_copy_is_only_the_notice_and_nothing_plain_is_kept(st):
    sid, body = mk(), mk()
    send_as(st, SENDER, ["ext@far.example"], mail(sid, body, "ext@far.example"))
    raw = notice_at_sink(st, "ext@far.example")
    msg, text = text_of(raw)
    check(body.encode() not in raw, "the body went out to the external recipient")
    check(b"mitsumori.bin" not in raw, "the attachment went out")
    check(SENDER in text and sid in text, "notice lacks sender or subject:\n%s" % text)
    link = re.search(r"(http://127\.0\.0\.1:\d+/p/\S+)", text)
    check(link, "no /p/ link in the notice:\n%s" % text)
    check(str(msg.get("Auto-Submitted", "")) == "auto-generated", "no Auto-Submitted")
    env = [line for line in raw.split(b"\n") if line.startswith(b"X-Sink-Envelope")]
    check(env and b"ext@far.example" in env[0], "envelope: %r" % env)
    rows = portal_rows(st, sid)
    check(len(rows) == 1, "portal rows: %r" % rows)
    pid, sender, _, rcpts, sealed, expires, revoked = rows[0]
    check(sender == SENDER and rcpts == "ext@far.example\n" and len(sealed) > 64 and
          revoked == 0, "row: %r" % (rows[0],))
    check(13 * 86400 < expires - time.time() <= 14 * 86400, "expiry %r" % expires)
    path = os.path.join(st.dir, "portal", pid)
    check(os.path.isfile(path), "no %s" % path)
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) > 1000 and body.encode() not in data and b"mitsumori" not in data,
          "the kept file is not encrypted")
    check(os.stat(path).st_mode & 0o777 == 0o640, "mode %o" % os.stat(path).st_mode)
    # the queue file is removed once delivered: give Postfix a moment
    deadline = time.time() + 20
    while time.time() < deadline:
        left = files_holding(st.dir, body.encode())
        if not left:
            break
        time.sleep(0.5)
    check(not left, "plaintext of the body left on disk: %r" % left)


@tap.case
def internal_recipient_gets_the_message_external_only_the_notice(st):
    sid, body = mk(), mk()
    send_as(st, SENDER, ["bob@example.test", "ext2@far.example"],
            mail(sid, body, "bob@example.test, ext2@far.example"))
    raw = notice_at_sink(st, "ext2@far.example")
    check(body.encode() not in raw, "the body went out")
    check(sid in text_of(raw)[1], "the notice is not about this mail")
    inbox = wait_mail(st, "bob@example.test", lambda r: sid.encode() in r, "bob's copy")
    check(body.encode() in inbox, "bob's copy lacks the body")
    rows = portal_rows(st, sid)
    check(len(rows) == 1 and rows[0][3] == "ext2@far.example\n", "rows %r" % rows)


@tap.case
def hidden_subject_says_kenmei_hihyouji(st):
    st.ctl("domain", "set", "example.test", "portal-subject", "hide")
    st.ctl("domain", "set", "example.test", "language", "ja")
    try:
        sid, body = mk(), mk()
        send_as(st, SENDER, ["ext3@far.example"], mail(sid, body, "ext3@far.example"))
        raw = notice_at_sink(st, "ext3@far.example")
        _, text = text_of(raw)
        check("件名非表示" in text and sid not in text and body not in text,
              "notice:\n%s" % text)
        check(len(portal_rows(st, sid)) == 1, "the row keeps the real subject")
    finally:
        st.ctl("domain", "unset", "example.test", "portal-subject")
        st.ctl("domain", "unset", "example.test", "language")


def sender_page(st, sid):
    """The /ps/ link of the sender's notice about the mail sid."""
    raw = wait_mail(st, SENDER, lambda r: sid in decoded(r) and "/ps/" in decoded(r),
                    "sender notice for %s" % sid)
    link = re.search(r"(http://127\.0\.0\.1:\d+/ps/[A-Za-z0-9_\-.]+)", decoded(raw))
    check(link, "no /ps/ link: %r" % decoded(raw)[:600])
    return link.group(1)


def post_form(url, page, pid, op, extra=None):
    forms = [f for f in forms_of(page) if f["op"] == op and f["hidden"].get("id") == pid]
    check(len(forms) == 1, "no %s form for %s" % (op, pid))
    data = dict(forms[0]["fields"])
    data["op"] = op
    data.update(extra or {})
    return http(url, data)


@tap.case
def sender_revokes_and_the_link_is_refused(st):
    sid, body = mk(), mk()
    send_as(st, SENDER, ["ext5@far.example"], mail(sid, body, "ext5@far.example"))
    _, rtext = text_of(notice_at_sink(st, "ext5@far.example"))
    rlink = re.search(r"(http://127\.0\.0\.1:\d+/p/\S+)", rtext).group(1)
    code, _, page = http(rlink)
    check(code == 200 and sid in page, "recipient page before revoke: %d" % code)
    pid = portal_rows(st, sid)[0][0]
    slink = sender_page(st, sid)
    code, _, page = http(slink)
    check(code == 200 and sid in page and "ext5@far.example" in page,
          "sender page: %d %r" % (code, page[:300]))
    # a POST without its CSRF value changes nothing
    code, _, _ = http(slink, {"op": "revoke", "id": pid})
    check(code == 403 and portal_rows(st, sid)[0][6] == 0, "revoked without CSRF: %d" % code)
    # change the expiry: 1 day from now
    code, _, page = post_form(slink, page, pid, "expiry", {"days": "1"})
    row = portal_rows(st, sid)[0]
    check(code == 200 and abs(row[5] - (time.time() + 86400)) < 120, "expiry: %d %r" % (code, row))
    code, _, page = post_form(slink, page, pid, "revoke")
    row = portal_rows(st, sid)[0]
    check(code == 200 and row[6] == 1 and row[4] == "", "revoke: %d %r" % (code, row))
    code, _, page = http(rlink)
    check(code == 410 and body not in page and sid not in page, "opened after revoke: %d" % code)
    # another sender's token cannot touch it: the sender page lists only
    # the sender's own (a forged id for another message is refused 410)


@tap.case
def cron_removes_expired_ciphertext_and_rows(st):
    sid, body = mk(), mk()
    send_as(st, SENDER, ["ext6@far.example"], mail(sid, body, "ext6@far.example"))
    notice_at_sink(st, "ext6@far.example")
    pid = portal_rows(st, sid)[0][0]
    path = os.path.join(st.dir, "portal", pid)
    st.ctl("cron", "--now")
    check(os.path.exists(path) and portal_rows(st, sid), "cron removed before the expiry")
    st.sql("INSERT INTO portal_views(id, recipient, what, at) VALUES (?, ?, 'view', 1)",
           (pid, "ext6@far.example"))
    st.sql("UPDATE portal_messages SET expires = ? WHERE id = ?", (int(time.time()) - 10, pid))
    out = st.ctl("cron", "--now").stdout.decode()
    check("portal-expiry: 1 portal messages removed" in out, "cron said %r" % out)
    check(not os.path.exists(path), "ciphertext left after expiry")
    left = [st.sql("SELECT count(*) FROM %s WHERE id = ?" % t, (pid,))[0][0]
            for t in ("portal_messages", "portal_views", "portal_codes")]
    check(left == [0, 0, 0], "rows left: %r" % left)


@tap.case
def a_held_mail_is_not_released_in_clear_once_the_portal_is_on(st):
    """A hold made before outbound-portal was turned on: its release would
    send the plaintext to the external recipient; it is refused and stays
    held (fail closed)."""
    sender = "dave@example.test"
    st.ctl("sub", "set", sender, "outbound-hold", "on")
    time.sleep(1.6)
    sid, body = mk(), mk()
    send_as(st, sender, ["ext7@far.example"], mail(sid, body, "ext7@far.example", frm=sender))
    hid = None
    deadline = time.time() + 40
    while hid is None and time.time() < deadline:
        for line in st.ctl("hold", "list", sender).stdout.decode().splitlines():
            f = line.split("\t")
            if len(f) >= 7 and f[1] == "held":
                hid = f[0]
        time.sleep(0.3)
    check(hid, "no hold; filter log:\n%s" % st.tail("filter.log"))
    st.ctl("sub", "set", sender, "outbound-portal", "on")
    r = st.ctl("hold", "release", hid, check=False)
    out = (r.stdout + r.stderr).decode()
    check(r.returncode != 0 and "outbound-portal" in out, "release: %d %r" % (r.returncode, out))
    time.sleep(3)
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
            check(body.encode() not in f.read(), "the held plaintext went out")
    rows = st.ctl("hold", "list", sender).stdout.decode()
    check(hid in rows and "\theld\t" in rows, "not held again: %r" % rows)
    st.ctl("hold", "discard", hid)


@tap.case
def zip_and_portal_cannot_both_be_on(st):
    r = st.ctl("sub", "set", SENDER, "outbound-zip", "on", check=False)
    check(r.returncode != 0 and b"cannot both be on" in r.stderr,
          "zip on beside portal: %r %r" % (r.returncode, r.stderr))
    st.ctl("domain", "set", "zip.example", "outbound-zip", "on")
    r = st.ctl("domain", "set", "zip.example", "outbound-portal", "on", check=False)
    check(r.returncode != 0, "portal on beside a domain's zip")
    st.ctl("domain", "set", "zip.example", "outbound-zip", "off")
    st.ctl("domain", "set", "zip.example", "outbound-portal", "on")
    r = st.ctl("sub", "set", "dan@zip.example", "outbound-zip", "on", check=False)
    check(r.returncode != 0, "a mailbox's zip on beside its domain's portal")


@tap.case
def unsubscribed_sender_mail_goes_as_it_is(st):
    sid, body = mk(), mk()
    send_as(st, "alice@example.test", ["ext4@far.example"],
            mail(sid, body, "ext4@far.example", frm="alice@example.test"))
    raw = wait_sink(st, sid)[0]
    check(body.encode() in raw, "an unsubscribed sender's mail was changed")
    check(portal_rows(st, sid) == [], "a portal row for an unsubscribed sender")


if __name__ == "__main__":
    sys.exit(run_suite(tap, setup=[
        ("sub", "set", SENDER, "outbound-portal", "on"),
    ]))
