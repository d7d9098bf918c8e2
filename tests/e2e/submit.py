#!/usr/bin/env python3
"""End-to-end: the before-queue path of outbound mail (omamori-submit, the
submission smtpd's milter) through real Postfix, scand and Dovecot.

carol subscribes to outbound-virus, outbound-bcc and outbound-zip: her
mail is checked before Postfix queues it - 12 To/Cc addresses arrive as
undisclosed recipients, attachments in one attachments.zip that opens
with the password of the notice, and the maillog shows one queue id for
it and no "triggers FILTER" (the after-queue filter never saw it).  A
virus with outbound-virus-action block is a 554 5.7.1 at the end of DATA
(nothing queued, the administrator's alert sent); with strip the virus is
gone from the sink's copy.  scand down: the client gets a 451 and nothing
goes out; the same message sent again once scand is back goes out once.
Two submissions of the same message carry the same ZIP password.  alice,
subscribed to outbound-spam and outbound-zip, is FILTERed (the after-queue
path: content decides); the milter zips and seals her mail, the filter
finds the seal and does not zip it again.  With outbound-hold (hold-when
external) an inside recipient goes inline, an outside one is FILTERed.
One decider: outbound-hold turned on and a mail sent in the same second
(policyd has not seen it) never goes out unchecked - held, or zipped with
its virus removed; a sender's own X-Omamori-Out-Checked seal is taken out
and the checks run.  TAP output."""
import email
import email.policy
import email.utils
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (send_as, sink, wait_sink, EICAR, Tap, check, decoded,  # noqa: E402
                    header_of, run_suite)

tap = Tap()
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def mk():
    return uuid.uuid4().hex


def mail(m, frm, to, cc=None, files=()):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = frm
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "submit %s" % m
    msg["Message-ID"] = "<%s@example.test>" % m
    # as every mail program does (without one, Postfix's cleanup adds the
    # time of each submission, and a retry is another message)
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg.set_content("body %s\n" % m)
    for name, data, ctype in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\r\n", b"\n")


def log_text(st, name):
    with open(os.path.join(st.dir, "log", name), errors="replace") as f:
        return f.read()


def queue_ids_of(st, m):
    """Postfix's queue ids whose message-id is m's, and the maillog lines
    of those ids."""
    log = log_text(st, "maillog")
    ids = set(re.findall(r" ([0-9A-Za-z]{10,}): message-id=<%s@example.test>" % m, log))
    lines = [line for line in log.splitlines() if any(" %s:" % i in line for i in ids)]
    return ids, lines


def filter_lines(st, sender):
    """How many times Postfix logged a FILTER for sender's recipients
    (smtpd logs it at RCPT, before the queue id: "NOQUEUE: filter:")."""
    return sum(1 for line in log_text(st, "maillog").splitlines()
               if "triggers FILTER" in line and "from=<%s>" % sender in line)


def through_filter(raw):
    return b"from omamori-filter" in raw


def zips(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [(p.get_filename(), p.get_payload(decode=True)) for p in msg.iter_attachments()]


def notices_for(st, user, m):
    out = []
    for raw in st.fetch_all(user):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        subject = str(msg.get("Subject", ""))
        if m in subject and ("パスワード" in subject or "Password" in subject):
            out.append(msg)
    return out


def wait_notices(st, user, m, count=1, timeout=30):
    deadline = time.time() + timeout
    got = []
    while time.time() < deadline:
        got = notices_for(st, user, m)
        if len(got) >= count:
            return got
        time.sleep(0.5)
    return got


def password_of(notice):
    text = notice.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"【パスワード】\n([A-Za-z0-9]{12,})\n", text)
    return found.group(1) if found else None


def bsdtar_opens(data, password):
    tmp = tempfile.mkdtemp(prefix="omamori-submit-")
    try:
        archive = os.path.join(tmp, "a.zip")
        with open(archive, "wb") as f:
            f.write(data)
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        r = subprocess.run(["bsdtar", "--passphrase", password, "-x", "-f", archive, "-C", out],
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
        return r.returncode == 0, sorted(os.listdir(out)), tmp
    except Exception:
        shutil.rmtree(tmp)
        raise


def refresh():
    time.sleep(1.6)     # policyd looks at the store every second


@tap.case
def bcc_and_zip_are_done_before_the_queue_once(st):
    m = mk()
    to = ["r%d@far.example" % i for i in range(9)]
    cc = ["c%d@far.example" % i for i in range(3)]
    filtered = filter_lines(st, "carol@example.test")
    send_as(st, "carol@example.test", to + cc,
            mail(m, "carol@example.test", ", ".join(to), cc=", ".join(cc),
                 files=[("report.pdf", PDF, "application/pdf")]))
    got = wait_sink(st, m, count=1, settle=3)
    check(len(got) == 1, "%d copies at the sink" % len(got))
    raw = got[0]
    check(not through_filter(raw), "went through the after-queue filter")
    check(header_of(raw, "To") == "undisclosed-recipients:;", "To: %r" % header_of(raw, "To"))
    check(header_of(raw, "Cc") is None, "Cc kept")
    att = zips(raw)
    check([a[0] for a in att] == ["attachments.zip"], "attachments: %r" % [a[0] for a in att])
    ids, lines = queue_ids_of(st, m)
    check(len(ids) == 1, "queue ids of the message: %r" % ids)
    check(filter_lines(st, "carol@example.test") == filtered, "FILTERed")
    check("checked before the queue, rewritten" in log_text(st, "submit.log"),
          "omamori-submit did not log the check")
    notices = wait_notices(st, "carol@example.test", m)
    check(len(notices) == 1, "%d password notices" % len(notices))
    pw = password_of(notices[0])
    ok, names, tmp = bsdtar_opens(att[0][1], pw)
    shutil.rmtree(tmp)
    check(ok and names == ["report.pdf"], "bsdtar with the notice's password: %r %r" % (ok, names))
    time.sleep(2)
    check(len(notices_for(st, "carol@example.test", m)) == 1, "a second password notice")


@tap.case
def a_second_submission_gets_the_same_password(st):
    m = mk()
    data = mail(m, "carol@example.test", "ext@far.example",
                files=[("report.pdf", PDF, "application/pdf")])
    send_as(st, "carol@example.test", ["ext@far.example"], data)
    send_as(st, "carol@example.test", ["ext@far.example"], data)
    wait_sink(st, m, count=2)
    notices = wait_notices(st, "carol@example.test", m, count=2)
    check(len(notices) == 2, "%d notices" % len(notices))
    pws = {password_of(n) for n in notices}
    check(len(pws) == 1 and None not in pws, "passwords: %r" % pws)
    pw = pws.pop()
    for raw in sink(st, m):
        ok, names, tmp = bsdtar_opens(zips(raw)[0][1], pw)
        shutil.rmtree(tmp)
        check(ok and names == ["report.pdf"], "an archive does not open with the notice's password")


@tap.case
def a_virus_with_block_is_a_5xx_at_the_end_of_data(st):
    st.ctl("domain", "set", "example.test", "outbound-virus-action", "block")
    refresh()
    try:
        m = mk()
        data = mail(m, "carol@example.test", "ext@far.example",
                    files=[("eicar.com", EICAR, "application/octet-stream")])
        try:
            send_as(st, "carol@example.test", ["ext@far.example"], data)
            check(False, "the infected mail was accepted")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 554, "code %r" % e.smtp_code)
            check(b"5.7.1" in e.smtp_error and b"virus" in e.smtp_error, e.smtp_error)
        time.sleep(3)
        check(not sink(st, m), "the infected mail went out")
        _, lines = queue_ids_of(st, m)
        check(any("milter-reject: END-OF-MESSAGE" in line and "5.7.1" in line for line in lines),
              "no milter-reject in the maillog: %s" % lines)
        alerts = [raw for raw in st.fetch_all("bob@example.test")
                  if header_of(raw, "X-Omamori-Notice") == "outbound-virus" and
                  m in decoded(raw)]
        deadline = time.time() + 20
        while not alerts and time.time() < deadline:
            time.sleep(0.5)
            alerts = [raw for raw in st.fetch_all("bob@example.test")
                      if header_of(raw, "X-Omamori-Notice") == "outbound-virus" and
                      m in decoded(raw)]
        check(len(alerts) == 1, "%d alerts to the administrator" % len(alerts))
    finally:
        st.ctl("domain", "set", "example.test", "outbound-virus-action", "strip")
        refresh()


@tap.case
def a_virus_with_strip_is_removed_before_the_queue(st):
    m = mk()
    send_as(st, "carol@example.test", ["ext@far.example"],
            mail(m, "carol@example.test", "ext@far.example",
                 files=[("eicar.com", EICAR, "application/octet-stream")]))
    raw = wait_sink(st, m)[0]
    check(EICAR not in raw and EICAR not in decoded(raw).encode(), "the virus went out")
    check(not through_filter(raw), "went through the after-queue filter")


def send_spelled(st, login, sender, rcpt, data):
    """Sends data logged in as login with sender as the envelope sender
    (login's own address spelled otherwise)."""
    with st.smtp(login=login) as s:
        refused = s.sendmail(sender, [rcpt], data)
    check(refused == {}, "refused: %r" % refused)


@tap.case
def a_sender_spelled_otherwise_is_checked_as_itself(st):
    # carol's settings are hers however her mail client spells her
    # address: the virus is stripped, and with scand down nothing goes out
    for sender in ("Carol@Example.TEST", "CAROL@example.test"):
        m = mk()
        send_spelled(st, "carol@example.test", sender, "ext@far.example",
                     mail(m, "carol@example.test", "ext@far.example",
                          files=[("eicar.com", EICAR, "application/octet-stream")]))
        raw = wait_sink(st, m)[0]
        check(EICAR not in raw and EICAR not in decoded(raw).encode(),
              "the virus went out from %s" % sender)
    m = mk()
    st.stop_scand()
    try:
        try:
            send_spelled(st, "carol@example.test", "Carol@Example.TEST", "ext@far.example",
                         mail(m, "carol@example.test", "ext@far.example"))
            check(False, "accepted while scand was down")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 451, "code %r %r" % (e.smtp_code, e.smtp_error))
        time.sleep(2)
        check(not sink(st, m), "sent unchecked while scand was down")
    finally:
        st.restart_scand()


@tap.case
def scand_down_is_a_4xx_and_the_retry_goes_out_once(st):
    m = mk()
    data = mail(m, "carol@example.test", "ext@far.example")
    st.stop_scand()
    try:
        try:
            send_as(st, "carol@example.test", ["ext@far.example"], data)
            check(False, "accepted while scand was down")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 451, "code %r %r" % (e.smtp_code, e.smtp_error))
            check(b"4.7.1" in e.smtp_error, e.smtp_error)
        time.sleep(3)
        check(not sink(st, m), "sent unchecked while scand was down")
        check("carol@example.test" not in st.queue(), "queued while scand was down")
    finally:
        st.restart_scand()
    send_as(st, "carol@example.test", ["ext@far.example"], data)
    got = wait_sink(st, m, settle=3)
    check(len(got) == 1, "%d copies" % len(got))


@tap.case
def a_filtered_message_is_zipped_once(st):
    """alice: outbound-spam (after the queue: content decides) and
    outbound-zip.  policyd FILTERs her mail; omamori-submit zips it and
    seals it, the filter scores it and, finding the seal, does not zip it
    again."""
    m = mk()
    filtered = filter_lines(st, "alice@example.test")
    send_as(st, "alice@example.test", ["ext@far.example"],
            mail(m, "alice@example.test", "ext@far.example",
                 files=[("report.pdf", PDF, "application/pdf")]))
    got = wait_sink(st, m, settle=3)
    check(len(got) == 1, "%d copies" % len(got))
    check(through_filter(got[0]), "not through the after-queue filter")
    att = zips(got[0])
    check([a[0] for a in att] == ["attachments.zip"], "attachments %r" % [a[0] for a in att])
    notices = wait_notices(st, "alice@example.test", m)
    check(len(notices) == 1, "%d notices" % len(notices))
    ok, names, tmp = bsdtar_opens(att[0][1], password_of(notices[0]))
    shutil.rmtree(tmp)
    check(ok and names == ["report.pdf"], "inside the zip: %r (zipped twice?)" % names)
    ids, lines = queue_ids_of(st, m)
    check(filter_lines(st, "alice@example.test") == filtered + 1, "not FILTERed")
    check(len(ids) == 2, "queue ids (the original, the filter's copy): %r" % ids)
    time.sleep(2)
    check(len(notices_for(st, "alice@example.test", m)) == 1, "a second notice")
    check(re.search(r"checked before the queue as sub-[0-9a-f]{32} \(zip\): not again",
                    log_text(st, "filter.log")), "the filter did not find the seal")
    check(header_of(got[0], "X-Omamori-Out-Checked") is None, "the seal went out")


@tap.case
def hold_routes_outside_recipients_after_the_queue_only(st):
    st.ctl("sub", "set", "dave@example.test", "outbound-hold", "on")
    st.ctl("sub", "set", "dave@example.test", "outbound-bcc", "on")
    refresh()
    try:
        m = mk()
        filtered = filter_lines(st, "dave@example.test")
        send_as(st, "dave@example.test", ["bob@example.test"],
                mail(m, "dave@example.test", "bob@example.test"))
        inbox = st.wait_for("bob@example.test", m.encode())
        check(len(inbox) == 1 and not through_filter(inbox[0]), "inside: %r" % inbox[:1])
        ids, lines = queue_ids_of(st, m)
        check(len(ids) == 1 and filter_lines(st, "dave@example.test") == filtered,
              "the inside mail was FILTERed: %s" % lines)
        m2 = mk()
        send_as(st, "dave@example.test", ["ext@far.example"],
                mail(m2, "dave@example.test", "ext@far.example"))
        deadline = time.time() + 20
        while time.time() < deadline and "held as" not in "\n".join(queue_ids_of(st, m2)[1]):
            time.sleep(0.5)
        _, lines = queue_ids_of(st, m2)
        check(any("held as" in line for line in lines), "not held: %s" % lines)
        check(filter_lines(st, "dave@example.test") == filtered + 1,
              "the outside mail was not FILTERed")
        check(not sink(st, m2), "the held mail went out")
    finally:
        st.ctl("sub", "set", "dave@example.test", "outbound-hold", "off")
        st.ctl("sub", "set", "dave@example.test", "outbound-bcc", "off")
        refresh()


@tap.case
def a_hold_policyd_has_not_seen_yet_sends_nothing_unchecked(st):
    """outbound-hold turned on for carol and a mail sent at once, before
    policyd's next look at the store: whichever path it takes, it is never
    out unchecked - held after the queue, or zipped with its virus gone."""
    sealed = log_text(st, "submit.log").count("from=<carol@example.test> nrcpt=1")
    st.ctl("sub", "set", "carol@example.test", "outbound-hold", "on")
    try:
        m = mk()
        send_as(st, "carol@example.test", ["ext@far.example"],
                mail(m, "carol@example.test", "ext@far.example",
                     files=[("report.pdf", PDF, "application/pdf"),
                            ("eicar.com", EICAR, "application/octet-stream")]))
        deadline = time.time() + 20
        held = out = False
        while time.time() < deadline and not (held or out):
            held = "held as" in "\n".join(queue_ids_of(st, m)[1])
            out = bool(sink(st, m))
            time.sleep(0.5)
        check(held or out, "neither held nor sent")
        for raw in sink(st, m):
            check(EICAR not in raw and EICAR not in decoded(raw).encode(),
                  "the virus went out")
            check([a[0] for a in zips(raw)] == ["attachments.zip"], "not zipped")
        lines = [line for line in log_text(st, "submit.log").splitlines()
                 if "from=<carol@example.test> nrcpt=1" in line]
        check(len(lines) == sealed + 1 and
              lines[-1].endswith("checked before the queue, rewritten, sealed"),
              "omamori-submit did not check and seal it: %r" % lines[-1:])
    finally:
        st.ctl("sub", "set", "carol@example.test", "outbound-hold", "off")
        refresh()


@tap.case
def a_senders_seal_is_taken_out_and_the_checks_run(st):
    """A client's own X-Omamori-Out-Checked (claiming virus, bcc and zip
    done) is removed by the milter, which checks the mail all the same."""
    m = mk()
    data = mail(m, "carol@example.test", "ext@far.example",
                files=[("eicar.com", EICAR, "application/octet-stream")])
    forged = ("X-Omamori-Out-Checked: ABCDEF123 virus,bcc,zip sub-%s 1 %d %s\n"
              % ("0" * 32, int(time.time()), "ab" * 32)).encode()
    send_as(st, "carol@example.test", ["ext@far.example"], forged + data)
    raw = wait_sink(st, m)[0]
    check(EICAR not in raw and EICAR not in decoded(raw).encode(), "the virus went out")
    seals = [v for v in email.message_from_bytes(raw).get_all("X-Omamori-Out-Checked", [])]
    check(len(seals) == 1 and "ABCDEF123" not in seals[0], "seals: %r" % seals)
    check("the sender's X-Omamori-Out-Checked field removed" in log_text(st, "submit.log"),
          "the milter did not say it removed the seal")


@tap.case
def unauthenticated_mail_is_not_touched(st):
    m = mk()
    with st.smtp() as s:
        s.sendmail("someone@far.example", ["bob@example.test"],
                   mail(m, "someone@far.example", "bob@example.test"))
    inbox = st.wait_for("bob@example.test", m.encode())
    check(len(inbox) == 1, "not delivered")
    check("someone@far.example" not in log_text(st, "submit.log"), "the milter looked at it")


if __name__ == "__main__":
    # the before-queue path (omamori.conf outbound_inline = 1, the
    # stack's default too)
    os.environ["OMAMORI_OUTBOUND_INLINE"] = "1"
    sys.exit(run_suite(tap, setup=[
        ("sub", "set", "carol@example.test", "outbound-bcc", "on"),
        ("sub", "set", "carol@example.test", "outbound-virus", "on"),
        ("sub", "set", "carol@example.test", "outbound-zip", "on"),
        ("sub", "set", "alice@example.test", "outbound-spam", "on"),
        ("sub", "set", "alice@example.test", "outbound-zip", "on"),
        ("domain", "set", "example.test", "virus-admin-copy", "bob@example.test"),
    ]))
