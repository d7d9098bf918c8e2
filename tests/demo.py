#!/usr/bin/env python3
"""The demo: mails through real Postfix -> Dovecot LMTP (omamori) ->
omamori-scand, and what each mailbox received, read back over IMAP: five
for the virus check (the fifth, too deep to check, goes to Quarantine below a
notice), then Japanese spam and ham for the spam filter (a
tagged subject, the Quarantine folder) after the Japanese prior, and a
phishing naming a brand from a stranger's domain with its reasons, and BEC
from a lookalike of a partner's domain; then the quarantine digest
`omamorictl cron` sends alice, the page its release link opens in
omamori-web, and the release itself (the POST the page's button makes),
after which the mail is in her INBOX; last, the outbound path: an
authenticated sender's mail through omamori-filter (forced BCC, ZIP
encryption with the password notice, a temporary hold released by the
sender) as the external sink keeps it, the password mailed to the
recipients from the notice's page; the compromised-account brake holding a
sudden burst until the administrator lifts it; omamori's own SPF/DKIM/DMARC
results on inbound mail; attachment isolation; an audit rule; then the
administrators' tools: a domain admin's panel (login, the settings page),
a policy group that may write only inside the domain (5.7.1 at RCPT), the
message trace of a quarantined mail, the month's billing CSV and the
self-test of a mailbox (the demo's exit status is the self-test's); last,
the same stack on PostgreSQL, where a list edit is pushed to policyd."""
import base64
import html.parser
import io
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))
from omtest import (EICAR, PASSWORD, SRCDIR, Stack, decoded, header_of, send_as,  # noqa: E402
                    sure_fixture, train_classifier, wait_sink)


class PageText(html.parser.HTMLParser):
    """What a browser shows of a page (roughly), and its forms' fields."""

    def __init__(self):
        super().__init__()
        self.lines, self.forms, self.skip = [""], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("style", "head"):
            self.skip += 1
        if tag in ("p", "div", "li", "h1", "h2", "dt", "dd", "br", "tr", "form", "header", "footer"):
            self.lines.append("")
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif self.forms and tag == "input" and a.get("type") == "hidden":
            self.forms[-1]["fields"][a.get("name")] = a.get("value", "")
        elif self.forms and tag == "button":
            self.forms[-1]["op"] = a.get("value")
            self.lines[-1] += "[ "
        if tag == "li":
            self.lines[-1] += "  - "

    def handle_endtag(self, tag):
        if tag in ("style", "head"):
            self.skip -= 1
        if tag == "button":
            self.lines[-1] += " ]  "

    def handle_data(self, data):
        if not self.skip:
            self.lines[-1] += " ".join(data.split())


def page(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=30) as r:
        p = PageText()
        p.feed(r.read().decode("utf-8"))
        return r.status, p


def mail(subject, parts, to):
    out = ("From: Hanako <hanako@remote.test>\nTo: %s\nSubject: %s\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=\"DEMO\"\n\n" % (to, subject)).encode()
    for p in parts:
        out += b"--DEMO\n" + p
    return out + b"--DEMO--\n"


def text(t):
    return b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + \
        t.encode() + b"\n"


def attachment(name, data):
    return (b"Content-Type: application/octet-stream; name=\"" + name + b"\"\n"
            b"Content-Disposition: attachment; filename=\"" + name + b"\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data))


def nested_zip(depth, data):
    """A zip in a zip ... depth times: deeper than libclamav unpacks."""
    name = b"invoice.exe"
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name.decode(), data)
        data, name = buf.getvalue(), b"level%d.zip" % i
    return data


def show(st, user, mailbox="INBOX"):
    print("=" * 72)
    print("Mailbox %s (%s, read over IMAP)" % (user, mailbox))
    for raw in st.fetch_all(user, mailbox):
        msg = message_from_bytes(raw, policy=policy.default)
        print("-" * 72)
        print("Subject:         %s" % msg["Subject"])
        print("X-Omamori-Virus: %s" % (msg["X-Omamori-Virus"] or "(none: not subscribed)"))
        if msg["X-Omamori-Spam"]:
            print("X-Omamori-Spam:  %s" % msg["X-Omamori-Spam"])
        if msg["X-Omamori-Spam-Reason"]:
            print("Spam reasons:    %s" % msg["X-Omamori-Spam-Reason"])
        names = [p.get_filename() for p in msg.iter_attachments()]
        print("Attachments:     %s" % (", ".join(n for n in names if n) or "(none)"))
        body = msg.get_body(("plain",))
        lines = body.get_content().strip().splitlines() if body else []
        for line in lines[:12]:
            print("  | " + line)
        if len(lines) > 12:
            print("  | ... (%d more lines)" % (len(lines) - 12))


# From: 楽天カード <info@rakuten-card.co.jp.verify.example>, Subject: 【楽天カード】
# ご利用確認のお願い; a card phishing written for the demo
BRAND_PHISH = ("From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@rakuten-card.co.jp.verify.example>\n"
               "To: carol@example.test\n"
               "Subject: =?UTF-8?B?44CQ5qW95aSp44Kr44O844OJ44CR44GU5Yip55So56K66KqN44Gu44GK6aGY44GE?=\n"
               "Date: Wed, 02 Dec 2026 09:00:00 +0900\n"
               "Message-ID: <demo-brand-phish@rakuten-card.co.jp.example>\n"
               "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
               "Content-Transfer-Encoding: 8bit\n\n"
               "お客様のカードに第三者による不正利用の可能性があるご利用を検知しました。\n"
               "ご利用を一時的に制限しております。24時間以内に下記よりご本人様確認をお願いします。\n"
               "http://rakuten-card.co.jp.example/login\n").encode()

# a partner's real mail (learned as ham, as a user moving it out of Junk
# teaches it), then BEC from a lookalike of its domain asking for replies on
# free mail (PHISH_LOOKALIKE_KNOWN, PHISH_BEC_SHAPE); written for the demo
PARTNER_MAIL = ("From: =?UTF-8?B?6auY5qmL?= <m.takahashi@aoba-shoji.example>\n"
                "To: carol@example.test\nSubject: =?UTF-8?B?44GK6KaL56mN44KK44Gu5Lu2?=\n"
                "Date: Tue, 01 Dec 2026 10:00:00 +0900\n"
                "Message-ID: <demo-partner@aoba-shoji.example>\n"
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                "Content-Transfer-Encoding: 8bit\n\n"
                "いつもお世話になっております。お見積りをお送りします。\n").encode()
BEC_MAIL = ("From: =?UTF-8?B?6auY5qmL?= <m.takahashi@aoba-shouji.example>\n"
            "Reply-To: aoba.takahashi@gmail.com\nTo: carol@example.test\n"
            "Subject: =?UTF-8?B?44GK5oyv6L6844G/5YWI5aSJ5pu044Gu44GK6aGY44GE?=\n"
            "Date: Wed, 02 Dec 2026 10:00:00 +0900\n"
            "Message-ID: <demo-bec@aoba-shouji.example>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            "いつもお世話になっております。弊社の口座が変更になりましたので、\n"
            "今月分のお支払いは下記の口座へお振込みをお願いいたします。\n").encode()


def spam_demo(st):
    print("=" * 72)
    print("Spam filter: the classifier learns omamori's Japanese/English fixture set")
    fixtures = train_classifier(st)
    print("learned %d spam and %d ham (train half of %s)" % (
        len(os.listdir(os.path.join(fixtures, "train", "spam"))),
        len(os.listdir(os.path.join(fixtures, "train", "ham"))), fixtures))
    for args in (("sub", "set", "alice@example.test", "spam", "on"),
                 ("mailbox", "set", "alice@example.test", "spam-action", "quarantine"),
                 ("sub", "set", "carol@example.test", "spam", "on"),
                 ("mailbox", "set", "carol@example.test", "spam-tag", "[MEIWAKU!!] ")):
        print(st.ctl(*args).stdout.decode().strip())
    # the Japanese prior an installation learns once (omamorictl prior): the
    # words of the project's hand-written Japanese set's train half
    prior = os.path.join(st.dir, "ja-eval")
    subprocess.run([sys.executable, os.path.join(SRCDIR, "tests", "data", "ja-eval", "build.py"),
                    prior], check=True, stdout=subprocess.DEVNULL)
    print(st.ctl("prior", os.path.join(prior, "train")).stdout.decode().strip())
    print(st.ctl("domain", "set", "example.test", "language", "ja").stdout.decode().strip())
    spam, ham = sure_fixture(st, "spam", "ja", True), sure_fixture(st, "ham", "ja", False)
    st.send(spam, ["alice@example.test", "carol@example.test"], sender="info@win-prize.example.click")
    st.send(ham, ["carol@example.test"], sender="yamada@sample.example.co.jp")
    # phishing naming a brand from a stranger's domain wearing the brand's
    # own (PHISH_BRAND_NAME, PHISH_BRAND_WORN):
    # its reasons, in the domain's Japanese, are in X-Omamori-Spam-Reason
    st.send(BRAND_PHISH, ["carol@example.test"], sender="info@rakuten-card.co.jp.example")
    # BEC from a lookalike of a partner whose real mail was learned as ham
    partner = os.path.join(st.dir, "partner.eml")
    with open(partner, "wb") as f:
        f.write(PARTNER_MAIL)
    print(st.ctl("learn", "ham", partner).stdout.decode().strip())
    st.send(BEC_MAIL, ["carol@example.test"], sender="m.takahashi@aoba-shouji.example")
    deadline = time.time() + 30
    while time.time() < deadline:
        if len(st.fetch_all("carol@example.test")) >= 4 and \
                len(st.fetch_all("alice@example.test", "Quarantine")) >= 2:
            break
        time.sleep(0.3)
    show(st, "carol@example.test")
    show(st, "alice@example.test", "Quarantine")


def digest_demo(st):
    print("=" * 72)
    print("Quarantine digest: omamorictl cron (a timer runs it every minute; here --at 15:00,")
    print("alice's domain sends digests daily at 15:00, the default)")
    print(st.ctl("cron", "--at", "15:00").stdout.decode().strip())
    digest = [m for m in st.fetch_all("alice@example.test") if header_of(m, "X-Omamori-Digest")]
    if not digest:
        print("(no digest arrived)")
        return
    text = decoded(digest[0])
    print("-" * 72)
    for line in text.splitlines()[:40]:
        print("  | " + line[:110])
    link = re.search(r"http://127\.0\.0\.1:\d+/m/\S+\?op=release", text)
    if not link:
        return
    print("=" * 72)
    print("The first release link, opened (GET: shows the mail, changes nothing):")
    print("  " + link.group(0)[:100] + "...")
    status, p = page(link.group(0))
    print("HTTP %d" % status)
    for line in p.lines:
        if line.strip():
            print("  | " + line.strip()[:110])
    form = [f for f in p.forms if f.get("op") == "release"][0]
    fields = dict(form["fields"], op="release")
    status, p = page(urllib.parse.urljoin(link.group(0), form["action"]), fields)
    print("-" * 72)
    print("The button pressed (POST with the page's one-time CSRF token): HTTP %d" % status)
    for line in p.lines:
        if line.strip():
            print("  | " + line.strip()[:110])
    print("-" * 72)
    print("alice's INBOX over IMAP now holds (subjects):")
    for m in st.fetch_all("alice@example.test"):
        msg = message_from_bytes(m, policy=policy.default)
        print("  - %s" % msg["Subject"])


def outbound_mail(to, subject, files=(), body="資料をお送りします。"):
    msg = EmailMessage()
    msg["From"] = "carol@example.test"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = "<%s@example.test>" % subject.split()[0]
    msg.set_content("%s\n\n%s\n" % (subject, body))
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def sink_summary(copy):
    msg = message_from_bytes(copy, policy=policy.default)
    names = [p.get_filename() for p in msg.iter_attachments()]
    print("  To:          %s" % msg["To"])
    print("  Cc:          %s" % (msg["Cc"] or "(none)"))
    print("  Attachments: %s" % (", ".join(n for n in names if n) or "(none)"))


def zip_button_demo(st, notice):
    """The notice's 【メール確認画面】 link: the page lists the recipients;
    its button mails them the password (seed 001's flow)."""
    link = re.search(r"https?://\S+/z/\S+", notice)
    if not link:
        print("   (no /z/ link in the notice)")
        return
    status, p = page(link.group(0))
    print("   carol opens the link (%d):" % status)
    for line in [ln for ln in p.lines if ln.strip()][:12]:
        print("  | " + line[:110])
    form = next((f for f in p.forms if f.get("op") == "send"), None)
    if form is None:
        print("   (no button on the page)")
        return
    fields = dict(form["fields"], op="send")
    status, _ = page(urllib.parse.urljoin(link.group(0), form["action"]), fields)
    print("   she presses the button (%d); the sink gets the password mail:" % status)
    deadline = time.time() + 20
    while time.time() < deadline:
        got = [open(os.path.join(st.OUTBOUND_SINK_DIR, n), "rb").read()
               for n in os.listdir(st.OUTBOUND_SINK_DIR) if not n.startswith(".")]
        got = [g for g in got if header_of(g, "X-Omamori-Notice") == "zip-password"
               and "zip-demo" in decoded(g)]
        if got:
            for line in decoded(got[0]).splitlines()[:16]:
                print("  | " + line[:110])
            return
        time.sleep(0.3)
    print("   (no password mail at the sink)")


def brake_demo(st):
    """A stolen password: dave suddenly sends far more than ever before."""
    print("=" * 72)
    print("The compromised-account brake: dave@example.test (no outbound subscription)")
    print("suddenly sends 8 mails in a row; for the demo the floor is 5 an hour")
    for args in (("mailbox", "set", "dave@example.test", "brake-min-messages", "5"),
                 ("domain", "set", "example.test", "outbound-admin", "alice@example.test")):
        print(st.ctl(*args).stdout.decode().strip())
    time.sleep(1.5)
    for i in range(8):
        to = ["victim%d@far.example" % i]
        msg = outbound_mail(to, "brake-demo-%d 請求書のご確認" % i).replace(
            b"carol@example.test", b"dave@example.test")
        send_as(st, "dave@example.test", to, msg)
    time.sleep(3)
    st.flush()
    out = [n for n in os.listdir(st.OUTBOUND_SINK_DIR)
           if "brake-demo" in open(os.path.join(st.OUTBOUND_SINK_DIR, n), "rb").read()
           .decode("utf-8", "replace")]
    print("   at the sink: %d of 8 (the rest is held for the administrator)" % len(out))
    print("   omamorictl brake list:")
    for line in st.ctl("brake", "list").stdout.decode().splitlines():
        print("  | " + line[:110])
    deadline = time.time() + 20
    alert = []
    while not alert and time.time() < deadline:
        # (alice subscribes to inbound-virus: scand drops X-Omamori-* headers
        # it did not write, so the alert is known by what it says)
        alert = [m for m in st.fetch_all("alice@example.test")
                 if "omamorictl brake show dave@example.test" in decoded(m)]
        time.sleep(0.3)
    if alert:
        print("   the administrator's alert (alice@example.test is outbound-admin here):")
        for line in decoded(alert[0]).splitlines()[:14]:
            print("  | " + line[:110])
    print("   the administrator checked with dave and it was him: lift, and send the held mail")
    print(st.ctl("brake", "lift", "dave@example.test", "--release").stdout.decode().strip())


def auth_demo(st):
    """omamori's own SPF, DKIM and DMARC (auth-check on) against the stack's
    DNS server: a forged From of a domain with p=reject, and a good one."""
    import smtplib
    print("=" * 72)
    print("Sender authentication (auth-check on for example.test; the stack's DNS server")
    print("on a loopback port holds the senders' SPF and DMARC records)")
    print(st.ctl("domain", "set", "example.test", "auth-check", "on").stdout.decode().strip())
    time.sleep(1.5)
    for mail_from, from_hdr, what in (
            ("bounce@spf-fail.test", "billing@spf-fail.test", "SPF fail"),
            ("bounce@spf-pass.test", "ceo@dmarc-reject.test", "DMARC fail, p=reject")):
        subject = "auth-demo %s" % what
        raw = ("From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\n\r\n"
               "Please pay the attached invoice today.\r\n" % (from_hdr, subject)).encode()
        with smtplib.SMTP("127.0.0.1", int(st.SMTP_PORT), timeout=60) as s:
            s.ehlo("xclient.test")
            # an outside client (TEST-NET-1 address; nothing leaves 127.0.0.1)
            s.docmd("XCLIENT", "ADDR=192.0.2.10 NAME=mail.client.test")
            s.ehlo("mail.client.test")
            s.sendmail(mail_from, ["alice@example.test"], raw)
        got = st.wait_for("alice@example.test", subject.encode())
        print("-" * 72)
        print("%s: MAIL FROM <%s>, From: %s - the delivered headers:" % (what, mail_from, from_hdr))
        msg = message_from_bytes(got[0], policy=policy.default)
        for name in ("Authentication-Results", "X-Omamori-Links"):
            for v in msg.get_all(name) or []:
                print("  %s: %s" % (name, " ".join(str(v).split())[:150]))


def outbound_demo(st):
    print("=" * 72)
    print("Outbound: carol@example.test sends as an authenticated user (XCLIENT LOGIN,")
    print("as a mail client with SMTP AUTH); policyd routes her mail to omamori-filter")
    for args in (("sub", "set", "carol@example.test", "outbound-bcc", "on"),
                 ("sub", "set", "carol@example.test", "outbound-zip", "on")):
        print(st.ctl(*args).stdout.decode().strip())
    time.sleep(1.5)
    many = ["client%02d@far.example" % i for i in range(12)]
    send_as(st, "carol@example.test", many, outbound_mail(many, "bcc-demo 12 recipients"))
    copy = wait_sink(st, "bcc-demo")[0]
    print("-" * 72)
    print("1. To 12 outside addresses (bcc-threshold 10): the copy the sink got")
    sink_summary(copy)
    send_as(st, "carol@example.test", ["partner@far.example"],
            outbound_mail(["partner@far.example"], "zip-demo 見積書送付",
                          [("見積書.xlsx", b"x" * 4000), ("仕様書.pdf", b"%PDF-1.4 demo")]))
    copy = wait_sink(st, "zip-demo")[0]
    print("-" * 72)
    print("2. With attachments (outbound-zip): the copy the sink got")
    sink_summary(copy)
    deadline = time.time() + 20
    notice = []
    while not notice and time.time() < deadline:
        notice = [m for m in st.fetch_all("carol@example.test") if b"zip-demo" in m]
        time.sleep(0.3)
    if notice:
        print("   and the password notice in carol's INBOX:")
        for line in decoded(notice[0]).splitlines()[:22]:
            print("  | " + line[:110])
        zip_button_demo(st, decoded(notice[0]))
    print(st.ctl("sub", "set", "carol@example.test", "outbound-zip", "off").stdout.decode().strip())
    print(st.ctl("sub", "set", "carol@example.test", "outbound-hold", "on").stdout.decode().strip())
    time.sleep(1.5)
    send_as(st, "carol@example.test", ["bob@example.test", "partner@far.example"],
            outbound_mail(["bob@example.test", "partner@far.example"], "hold-demo 契約書"))
    print("-" * 72)
    print("3. Temporary hold (outbound-hold, hold-when external): bob (inside) has it at once,")
    deadline = time.time() + 20
    while time.time() < deadline and not [m for m in st.fetch_all("bob@example.test")
                                          if b"hold-demo" in m]:
        time.sleep(0.3)
    print("   bob's INBOX: %s" % ("yes" if [m for m in st.fetch_all("bob@example.test")
                                           if b"hold-demo" in m] else "no"))
    time.sleep(2)
    print("   the sink (partner@far.example): %d copies while held" % len(
        [n for n in os.listdir(st.OUTBOUND_SINK_DIR) if "hold-demo" in
         open(os.path.join(st.OUTBOUND_SINK_DIR, n), "rb").read().decode("utf-8", "replace")]))
    listed = st.ctl("hold", "list", "carol@example.test").stdout.decode()
    print("   omamorictl hold list carol@example.test:")
    for line in listed.splitlines():
        print("  | " + line[:110])
    hid = next((f[0] for f in (line.split("\t") for line in listed.splitlines())
                if len(f) >= 2 and f[0] != "id" and f[1] == "held"), None)
    if hid:
        print(st.ctl("hold", "release", hid).stdout.decode().strip())
        copy = wait_sink(st, "hold-demo")[0]
        print("   released: the sink has it now")
        sink_summary(copy)


def isolation_demo(st):
    """Attachment isolation (attachments on for example.test): a program
    named .pdf leaves the mail; alice gets a notice and a link to a page."""
    print("=" * 72)
    print("Attachment analysis and isolation (attachments on for example.test, "
          "attachment-action isolate, the default)")
    print(st.ctl("domain", "set", "example.test", "attachments", "on").stdout.decode().strip())
    program = bytearray(512)
    program[0:2] = b"MZ"
    program[60] = 0x80
    program[0x80:0x84] = b"PE\0\0"
    st.send(mail("6. 請求書 (a program named .pdf)", [text("請求書を添付します。"),
                                                   attachment(b"seikyu.pdf", bytes(program))],
                 "alice@example.test"), ["alice@example.test"], sender="hanako@remote.test")
    got = st.wait_for("alice@example.test", "請求書 (a program".encode())
    msg = message_from_bytes(got[0], policy=policy.default)
    print("-" * 72)
    print("X-Omamori-Attachments: %s" % msg["X-Omamori-Attachments"])
    names = [p.get_filename() for p in msg.iter_attachments()]
    print("Attachments left in the mail: %s" % (", ".join(n for n in names if n) or "(none)"))
    body = decoded(got[0])
    for line in body.splitlines()[:14]:
        print("  | " + line[:110])
    links = re.findall(r"http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_\-.]+", body)
    if links:
        status, p = page(links[0])
        print("   the page behind the link (%d), as text:" % status)
        for line in [x for x in p.lines if x.strip()][:14]:
            print("  | " + line[:110])


def audit_demo(st):
    """An audit rule of the administrator's, as issue 17 writes it."""
    print("=" * 72)
    print("Audit rules (omamorictl audit add, the administrator's)")
    rule = 'direction out and body contains "関係者外秘" => hold'
    print("$ omamorictl audit add example.test '%s'" % rule)
    print(st.ctl("audit", "add", "example.test", rule).stdout.decode().strip())
    time.sleep(1.5)
    send_as(st, "carol@example.test", ["partner@far.example"],
            outbound_mail(["partner@far.example"], "audit-demo 社内資料",
                          body="この資料は関係者外秘です。"))
    deadline = time.time() + 20
    listed = ""
    while time.time() < deadline and "audit" not in listed:
        listed = st.ctl("hold", "list").stdout.decode()
        time.sleep(0.3)
    print("   omamorictl hold list (held for the administrator, the sink has nothing):")
    for line in listed.splitlines():
        if "audit" in line or line.startswith("id"):
            print("  | " + line[:110])


def run(st, *args):
    """omamorictl ARGS, shown as typed, then what it printed."""
    print("$ omamorictl " + " ".join("'%s'" % a if " " in a else a for a in args))
    out = st.ctl(*args).stdout.decode().replace("\r\n", "\n").strip()
    if out:
        print(out)


def admin_demo(st):
    """A domain's own administrator (issue 18): made with omamorictl admin
    add, she logs in with the panel's button and opens the settings page."""
    print("=" * 72)
    print("Domain administrators: alice becomes example.test's main admin")
    run(st, "admin", "add", "example.test", "alice@example.test")
    login = st.WEB_URL + "login"
    _, form = page(login)
    fields = dict(next(f for f in form.forms if "csrf" in f["fields"])["fields"],
                  user="alice@example.test", password=PASSWORD, panel="admin")
    req = urllib.request.Request(login, data=urllib.parse.urlencode(fields).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        panel = r.url.split("?")[0]
    print("   her login at /login with 「管理画面にログイン」: 303 to the admin token")
    print("   " + panel[:90] + "...")
    status, p = page(panel + "?domain=example.test&page=settings")
    lines = [x.strip() for x in p.lines if x.strip()]
    print("   GET ?domain=example.test&page=settings: HTTP %d, %d settings; its title and"
          % (status, len([x for x in lines if "(設定元:" in x])))
    print("   those set for the domain (the demo's changes; the others show their default):")
    for line in lines[1:3] + [x for x in lines if "(設定元:このドメイン)" in x]:
        print("  | " + line[:110])


def group_demo(st):
    """A policy group limited to internal mail: its member's external
    recipient is refused at RCPT with 5.7.1, an internal one accepted."""
    print("=" * 72)
    print("Policy groups: group B of example.test writes only inside the domain; bob joins it")
    run(st, "group", "set", "example.test", "B", "internal-only", "on")
    run(st, "mailbox", "set", "bob@example.test", "group", "B")
    time.sleep(1.5)
    with st.smtp(login="bob@example.test") as s:
        s.mail("bob@example.test")
        for rcpt in ("partner@far.example", "alice@example.test"):
            code, reply = s.rcpt(rcpt)
            print("   bob, logged in: RCPT TO:<%s> -> %d %s"
                  % (rcpt, code, " ".join(reply.decode().split())))
        s.rset()


def trace_demo(st):
    """The message trace of the spam alice's Quarantine got."""
    print("=" * 72)
    print("Message trace: what omamori did with the spam that went to alice's Quarantine")
    args = ("trace", "example.test", "--sender", "info@win-prize.example.click")
    print("$ omamorictl " + " ".join(args))
    out, deadline = "", time.time() + 15
    while " quarantine " not in out and time.time() < deadline:
        time.sleep(0.5)     # the daemons write their events in batches
        out = st.ctl(*args).stdout.decode()
    for line in out.splitlines():
        print("  | " + line[:150])


def billing_demo(st):
    """This month's billing export of the demo's domain, CSV."""
    print("=" * 72)
    print("Billing: this month's mailboxes per feature (on, paused, off; days), CSV")
    run(st, "billing", "--month", time.strftime("%Y-%m", time.gmtime()), "--format", "csv",
        "--domain", "example.test")


def report_demo(st):
    """This month's report of the demo's domain, as the admin gets it on
    the 1st (text here; CSV, JSON and HTML with charts exist too)."""
    print("=" * 72)
    print("Monthly report: what example.test received this month (text; html has SVG charts)")
    month = time.strftime("%Y-%m", time.gmtime())
    args = ("report", "example.test", "--month", month, "--lang", "en")
    print("$ omamorictl " + " ".join(args))
    lines = st.ctl(*args).stdout.decode().splitlines()
    quiet = [x for x in lines if re.fullmatch(r"\s+\d{4}-\d\d-\d\d(\s+0)+", x)]
    for line in [x for x in lines if x not in quiet][:40]:
        print("  | " + line[:110])
    print("   (%d days with no mail left out here)" % len(quiet))


def metrics_demo(st):
    """A few of the counters Prometheus scrapes from each daemon."""
    print("=" * 72)
    print("Metrics: each daemon's /metrics on loopback (Prometheus text format)")
    wanted = ("omamori_scand_messages_total", "omamori_policyd_requests_total",
              "omamori_web_clicks_total", "omamori_web_holds_pending", "omamori_digests_sent_total")
    for url in st.METRICS_URLS.split():
        status, body = 0, ""
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                status, body = r.status, r.read().decode()
        except OSError as e:
            print("   %s: %s" % (url, e))
            continue
        shown = [x for x in body.splitlines()
                 if x.startswith(wanted) and not x.endswith(" 0")]
        print("   %s -> HTTP %d, %d lines; counters that moved:" % (url, status, len(body.splitlines())))
        for line in shown[:8]:
            print("  | " + line[:110])


def selftest_demo(st):
    """omamorictl selftest: test mails through Postfix to alice, each held
    against her settings; returns its exit status."""
    print("=" * 72)
    print("Self-test before going live: test mails to alice through Postfix, checked")
    args = ("selftest", "example.test", "--mailbox", "alice@example.test",
            "--dmarc-domain", "dmarc-reject.test")
    print("$ omamorictl " + " ".join(args))
    proc = st.ctl(*args, check=False)
    for line in (proc.stdout + proc.stderr).decode().splitlines():
        print("  | " + line[:130])
    print("   exit status %d" % proc.returncode)
    return proc.returncode


def pg_demo():
    """The store on PostgreSQL (issue 21): a second stack whose every
    daemon and plugin uses a private PostgreSQL; a block-list edit made
    with omamorictl reaches the running policyd by LISTEN/NOTIFY, and an
    infected mail to alice is still stripped."""
    print("=" * 72)
    print("The same stack on PostgreSQL (store_path = postgresql:...), for many mail hosts")
    os.environ["OMAMORI_STORE"] = "postgresql"
    try:
        pg = Stack()
    finally:
        del os.environ["OMAMORI_STORE"]
    try:
        print("  store_path = " + pg.conf_value("store_path"))
        pg.ctl("sub", "set", "alice@example.test", "inbound-virus", "on")
        sender = "pusher@spam-pg.example"

        def rcpt_code():
            return pg.rcpt_code(sender, "alice@example.test")
        print("  RCPT from %s before the edit: %d" % (sender, rcpt_code()))
        print("$ omamorictl list add alice@example.test block " + sender)
        pg.ctl("list", "add", "alice@example.test", "block", sender)
        start = time.time()
        while rcpt_code() < 500 and time.time() - start < 5:
            time.sleep(0.01)
        print("  RCPT after it: %d, %.3f s after omamorictl returned (pushed, not polled)"
              % (rcpt_code(), time.time() - start))
        pg.send(mail("PG. Invoice (infected attachment)", [text("Please see the invoice."),
                                                           attachment(b"invoice.exe", EICAR)],
                     "alice@example.test"), ["alice@example.test"], sender="hanako@remote.test")
        deadline = time.time() + 30
        while time.time() < deadline and not pg.fetch_all("alice@example.test"):
            time.sleep(0.3)
        show(pg, "alice@example.test")
    finally:
        pg.down()


def main():
    st = Stack(extra_conf="spam_save_interval = 1\ntrusted_authserv_id = mx.example.test\n")
    try:
        print("Stack up in %s (SMTP %s, LMTP %s, IMAP %s)" %
              (st.dir, st.SMTP_PORT, st.LMTP_PORT, st.IMAP_PORT))
        print(st.ctl("sub", "set", "alice@example.test", "inbound-virus", "on").stdout.decode().strip())
        print("bob@example.test: no subscription (the control)")
        sends = [
            (mail("1. 会議資料 (clean)", [text("明日の会議資料です。"),
                                      attachment(b"agenda.txt", b"10:00 start\n")],
                  "alice@example.test"), ["alice@example.test"]),
            (mail("2. Invoice (infected attachment)", [text("Please see the invoice."),
                                                       attachment(b"invoice.exe", EICAR),
                                                       attachment(b"terms.txt", b"terms\n")],
                  "alice@example.test"), ["alice@example.test"]),
            (b"From: Hanako <hanako@remote.test>\nTo: alice@example.test\n"
             b"Subject: 3. infected body\n\n" + EICAR + b"\n", ["alice@example.test"]),
            (mail("4. Invoice to an unsubscribed mailbox", [text("Same virus, no protection."),
                                                            attachment(b"invoice.exe", EICAR)],
                  "bob@example.test"), ["bob@example.test"]),
            (mail("5. Archive nested 24 deep (too deep to check)",
                  [text("A zip in a zip in a zip..."), attachment(b"box.zip", nested_zip(24, EICAR))],
                  "alice@example.test"), ["alice@example.test"]),
        ]
        for msg, rcpts in sends:
            st.send(msg, rcpts, sender="hanako@remote.test")
        deadline = time.time() + 30
        while time.time() < deadline:
            if len(st.fetch_all("alice@example.test")) >= 3 and st.fetch_all("bob@example.test") \
                    and st.fetch_all("alice@example.test", "Quarantine"):
                break
            time.sleep(0.3)
        show(st, "alice@example.test")
        show(st, "bob@example.test")
        print("(5. went to Quarantine, not the INBOX: it could not be checked completely)")
        show(st, "alice@example.test", "Quarantine")
        spam_demo(st)
        digest_demo(st)
        outbound_demo(st)
        brake_demo(st)
        auth_demo(st)
        isolation_demo(st)
        audit_demo(st)
        admin_demo(st)
        group_demo(st)
        trace_demo(st)
        billing_demo(st)
        report_demo(st)
        metrics_demo(st)
        rc = selftest_demo(st)
        pg_demo()
        print("=" * 72)
        print("omamori-scand log:")
        for line in st.scand_log().splitlines():
            if " scan " in line:
                print("  " + line)
    finally:
        st.down()
    return rc


if __name__ == "__main__":
    sys.exit(main())
