#!/usr/bin/python3
"""A real browser on the encrypted delivery portal (issue 17, seed 001's
メール+添付ファイル暗号化; doc/portal.md): the recipients are mailboxes of
the stack's second domain (outside.test: external to the sender's
example.test for omamori, delivered by Postfix to Dovecot over LMTP).
The notice reaches the recipient's INBOX, read over IMAP; headless
Chromium opens its /p/ link and asks for a one-time code; the code mail
is read over IMAP too, the code entered, and the mail read.

- the notice and the code mail are in the recipient's mailbox, none at the
  outbound sink, and the mailbox never holds the body itself;

- the text body shown, the attachment downloaded byte for byte; the
  store records the code asked, the view and the download; the same code
  does not open it again (it is spent);
- an HTML-only mail: shown sanitised - no script element, no image (the
  remote one never fetched: no <img> in the page), the text kept; its
  "show images" button shows it again with the remote image (still no
  script), recorded as "view images";
- the one-time code is stored as BLAKE2b keyed with a key derived from
  omamori-web's link key (not the plain hash), and still opens the mail;
- five wrong codes lock the link: the right code then opens nothing, and
  asking for a new code says it is locked and mails none;
- a tampered link is refused.

Phone-sized window; screenshots under tests/browser/screenshots/ of the
build tree (portal-*.png).  Run with /usr/bin/python3.  TAP."""
import email
import email.policy
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import OUTSIDE, Tap, check, decoded, link_key, run_suite, send_as  # noqa: E402
from chrome import By, body_text, browser, quit_browser, shot  # noqa: E402

tap = Tap()
SENDER = "carol@example.test"
DOWNLOADS = tempfile.mkdtemp(prefix="omamori-downloads-")
DATA = b"%PDF-1.4\n" + bytes(range(256)) * 30 + b"\n%%EOF\n"


# one mailbox per case, so that each case's notice and codes are its own
READERS = ["%s@%s" % (u, OUTSIDE) for u in ("reader", "html", "keyed", "guess", "tamper")]


def inbox_of(st, rcpt):
    """The mails in rcpt's INBOX (IMAP), in the order they arrived."""
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in st.fetch_all(rcpt)]


def at_sink_for(st, rcpt):
    """How many mails the outbound sink got for rcpt (its envelope line)."""
    n = 0
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        if name.startswith("."):
            continue
        with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
            env = f.readline()
        n += env.startswith(b"X-Sink-Envelope") and b"<" + rcpt.encode() + b">" in env
    return n


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def wait_for(st, rcpt, pred, what, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for msg in inbox_of(st, rcpt):
            if pred(msg):
                return msg
        time.sleep(0.3)
    raise AssertionError("no %s in %s's INBOX; filter log:\n%s\nmaillog:\n%s"
                         % (what, rcpt, st.tail("filter.log"), st.tail("maillog")))


def send_portal_mail(st, rcpt, html_only=False):
    m = uuid.uuid4().hex
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = SENDER
    msg["To"] = rcpt
    msg["Subject"] = "ご契約書 %s" % m
    if html_only:
        msg.set_content("<html><body><p>本文 <b>%s</b></p>"
                        "<script>document.title='pwned'</script>"
                        "<img src=\"http://127.0.0.1:9/track.gif\" alt=\"logo\">"
                        "<a href=\"javascript:alert(1)\">x</a>"
                        "<a href=\"https://example.org/\">site</a></body></html>" % m,
                        subtype="html")
    else:
        msg.set_content("ご契約書をお送りします。\n本文マーカー %s\n" % m)
        msg.add_attachment(DATA, maintype="application", subtype="pdf",
                           filename="keiyaku.pdf")
    send_as(st, SENDER, [rcpt], msg.as_bytes().replace(b"\r\n", b"\n"))
    notice = wait_for(st, rcpt, lambda x: "/p/" in text_of(x), "portal notice")
    link = re.search(r"(http://127\.0\.0\.1:\d+/p/[A-Za-z0-9_\-.]+)", text_of(notice))
    check(link, "no link in the notice:\n%s" % text_of(notice))
    return m, link.group(1)


def click(value):
    buttons = [b for b in browser().find_elements(By.TAG_NAME, "button")
               if b.get_attribute("value") == value]
    check(len(buttons) >= 1, "no %s button on: %r" % (value, body_text()[:400]))
    buttons[0].click()


def ask_code(st, rcpt, name):
    before = len(inbox_of(st, rcpt))
    click("code")
    shot(name)
    deadline = time.time() + 40
    while time.time() < deadline:
        mails = inbox_of(st, rcpt)
        if len(mails) > before:
            found = re.search(r"^\s*(\d{6})\s*$", text_of(mails[-1]), re.M)
            check(found, "no code in: %s" % text_of(mails[-1]))
            return found.group(1)
        time.sleep(0.3)
    raise AssertionError("no code mail in %s's INBOX; filter log:\n%s\nmaillog:\n%s"
                         % (rcpt, st.tail("filter.log"), st.tail("maillog")))


def enter_code(code, name):
    box = browser().find_element(By.ID, "portal-code")
    box.clear()
    box.send_keys(code)
    click("open")
    shot(name)


def views(st, m):
    # the order of insertion: SQLite's rowid, PostgreSQL's identity column
    order = "v.seq" if getattr(st, "STORE", "sqlite") == "postgresql" else "v.rowid"
    return [r[0] for r in st.sql(
        "SELECT v.what FROM portal_views v JOIN portal_messages p ON p.id = v.id "
        "WHERE p.subject LIKE ? ORDER BY v.at, " + order, ("%%%s%%" % m,))]


@tap.case
def recipient_reads_the_mail_after_the_code_and_downloads_the_file(st):
    rcpt = READERS[0]
    m, link = send_portal_mail(st, rcpt)
    browser().get(link)
    shot("portal-1-page")
    page = body_text()
    check(SENDER in page and m in page and "本文マーカー" not in page,
          "first page: %r" % page[:600])
    code = ask_code(st, rcpt, "portal-2-code-sent")
    enter_code(code, "portal-3-open")
    page = body_text()
    check("本文マーカー %s" % m in page and "keiyaku.pdf" in page, "open page: %r" % page[:800])
    try:
        browser().execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": DOWNLOADS})
    except Exception:
        browser().execute_cdp_cmd("Page.setDownloadBehavior",
                                  {"behavior": "allow", "downloadPath": DOWNLOADS})
    click("file")
    target = os.path.join(DOWNLOADS, "keiyaku.pdf")
    deadline = time.time() + 30
    while not (os.path.exists(target) and
               not [n for n in os.listdir(DOWNLOADS) if n.endswith(".crdownload")]):
        check(time.time() < deadline, "no download: %r" % os.listdir(DOWNLOADS))
        time.sleep(0.2)
    with open(target, "rb") as f:
        check(f.read() == DATA, "the download is not the attachment")
    got = views(st, m)
    check(got[:1] == ["code sent"] and "view" in got and "file keiyaku.pdf" in got,
          "views: %r" % got)
    # the notice and the code mail, in the reader's own mailbox: nothing
    # for the reader went out to the sink, and the body never came to it
    raws = st.fetch_all(rcpt)
    check(len(raws) == 2 and code in decoded(raws[1]) and "/p/" in decoded(raws[0]),
          "INBOX of %s: %r" % (rcpt, [decoded(r)[:200] for r in raws]))
    check(not [r for r in raws if "本文マーカー" in decoded(r)], "the body reached the mailbox")
    check(at_sink_for(st, rcpt) == 0, "mail for %s at the sink" % rcpt)
    # the code is spent: the same code, from the link again, opens nothing
    browser().get(link)
    enter_code(code, "portal-3b-code-again")
    page = body_text()
    check("コードが違うか、期限切れ" in page and "本文マーカー" not in page,
          "the code opened twice: %r" % page[:400])


@tap.case
def html_body_is_shown_without_script_or_image(st):
    rcpt = READERS[1]
    m, link = send_portal_mail(st, rcpt, html_only=True)
    browser().get(link)
    code = ask_code(st, rcpt, "portal-4-html-code")
    enter_code(code, "portal-5-html")
    check(m in body_text(), "html text not shown: %r" % body_text()[:500])
    html = browser().find_element(By.ID, "portal-html").get_attribute("innerHTML")
    check("<script" not in html and "<img" not in html and "javascript:" not in html and
          "track.gif" not in html, "not sanitised: %r" % html)
    check("[logo]" in html and "https://example.org/" in html, "alt/link lost: %r" % html)
    check(browser().title != "pwned", "a script ran")
    check(views(st, m).count("view") == 1 and "view images" not in views(st, m),
          "views before images: %r" % views(st, m))
    # remote images only when asked: the button shows the page again with
    # them, still without script, and the store records it
    click("images")
    shot("portal-5b-html-images")
    html = browser().find_element(By.ID, "portal-html").get_attribute("innerHTML")
    check("<img" in html and "track.gif" in html and "<script" not in html and
          "javascript:" not in html, "images view: %r" % html)
    check("no-referrer" in html, "image without referrerpolicy: %r" % html)
    check(browser().title != "pwned", "a script ran with images")
    check("view images" in views(st, m), "images view not recorded: %r" % views(st, m))


def code_row(st, rcpt):
    rows = st.sql("SELECT id, code FROM portal_codes WHERE recipient = ?", (rcpt,))
    return rows[0] if rows else None


@tap.case
def the_one_time_code_is_stored_as_a_keyed_hash(st):
    import hashlib
    rcpt = READERS[2]
    m, link = send_portal_mail(st, rcpt)
    browser().get(link)
    code = ask_code(st, rcpt, "portal-5c-keyed-code")
    pid, stored = code_row(st, rcpt)
    text = b"omamori-portal-code\n" + pid.encode() + b"\0" + rcpt.encode() + b"\0" + code.encode()
    check(stored != hashlib.blake2b(text, digest_size=32).hexdigest(),
          "the code's hash is unkeyed: the database alone finds the code")
    # keyed with the outbound daemons' link key (derived from the web key)
    key = hashlib.blake2b(b"omamori-portal-code-key", digest_size=32,
                          key=link_key(st, "outbound")).digest()
    check(stored == hashlib.blake2b(text, digest_size=32, key=key).hexdigest(),
          "the stored hash is not BLAKE2b keyed with the code key")
    enter_code(code, "portal-5d-keyed-open")
    check("本文マーカー" in body_text(), "the right code did not open: %r" % body_text()[:300])


@tap.case
def five_wrong_codes_lock_the_link(st):
    rcpt = READERS[3]
    m, link = send_portal_mail(st, rcpt)
    browser().get(link)
    code = ask_code(st, rcpt, "portal-6-lock-code")
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    for i in range(5):
        enter_code(wrong, "portal-7-wrong-%d" % (i + 1))
        page = body_text()
        if i < 4:
            check("コードが違う" in page and "本文マーカー" not in page,
                  "wrong code %d: %r" % (i + 1, page[:400]))
    check("ロックされました" in body_text(), "not locked: %r" % body_text()[:400])
    browser().get(link)
    enter_code(code, "portal-8-locked-right-code")
    page = body_text()
    check("ロックされました" in page and "本文マーカー" not in page, "opened after lock: %r" % page[:400])
    check(views(st, m).count("code wrong") == 4 and "locked" in views(st, m), "views %r" % views(st, m))
    # a locked link sends no more codes: the page says so, no mail comes
    browser().get(link)
    before = len(inbox_of(st, rcpt))
    click("code")
    shot("portal-8b-locked-ask-code")
    check("ロックされました" in body_text(), "asking on a locked link: %r" % body_text()[:400])
    time.sleep(3)
    check(len(inbox_of(st, rcpt)) == before, "a code was mailed on a locked link")


@tap.case
def tampered_link_is_refused(st):
    rcpt = READERS[4]
    m, link = send_portal_mail(st, rcpt)
    head, mac = link.rsplit(".", 1)
    browser().get(head + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    shot("portal-9-tampered")
    page = body_text()
    check(("このリンクは無効です" in page or "This link is not valid" in page) and m not in page,
          "tampered: %r" % page[:300])


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", SENDER, "outbound-portal", "on")],
                       mailboxes=READERS)
    finally:
        quit_browser()
        shutil.rmtree(DOWNLOADS, ignore_errors=True)
    sys.exit(rc)
