#!/usr/bin/env python3
"""Issue 13 end to end: spam quarantined by the real delivery path, one
digest per mailbox from `omamorictl cron`, and the digest's links acted on
through omamori-web - the way a user's mail client and browser would, with
plain HTTP (urllib) here and a real browser in tests/browser/.

Three mails from block-listed senders go to alice's Quarantine (through
Postfix, Dovecot LMTP and omamori-scand); `cron --at 15:00` puts exactly one
digest in her INBOX listing all three, a second run sends nothing; the
release link's GET changes nothing; a POST without the page's CSRF token,
with a tampered or expired token, or replayed, does nothing; the POST of
"release and allow" moves the mail to INBOX through Dovecot, puts the
sender on alice's allow list and teaches the classifier a ham.  TAP."""
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, decoded, forms_of, header_of, http, in_box, run_suite  # noqa: E402

tap = Tap()
USER = "alice@example.test"
SENDERS = ["news%d@pest%d.example" % (i, i) for i in range(3)]
SUBJECTS = ["Quarantined offer number %d" % i for i in range(3)]
state = {}


def quarantined(st):
    return st.fetch_all(USER, "Quarantine")


def digests(st):
    return [m for m in st.fetch_all(USER) if header_of(m, "X-Omamori-Digest")]


def links(digest):
    text = decoded(digest)
    return re.findall(r"https?://127\.0\.0\.1:\d+/[mq]/[A-Za-z0-9_.~-]+(?:\?op=[a-z]+)?", text)


def form_for(page, op):
    """(action, fields) of the form whose button does op."""
    for f in forms_of(page):
        for name, value in f["buttons"]:
            if value == op or f["hidden"].get("op") == op:
                fields = dict(f["hidden"])
                fields[name] = value
                return f["action"], fields
    raise AssertionError("no form for %s in the page" % op)


def absolute(st, action, base):
    return urllib.parse.urljoin(base, action) if action else base


def hams_learned(st):
    with open(os.path.join(st.dir, "log", "dovecot.log"), errors="replace") as f:
        return f.read().count("message learned as ham")


@tap.case
def three_spams_are_quarantined_and_recorded(st):
    for sender, subject in zip(SENDERS, SUBJECTS):
        raw = ("From: Pest <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@e2e.test>\r\n"
               "Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\nBuy now.\r\n"
               % (sender, USER, subject, sender)).encode()
        st.send(raw, [USER], sender="bounce@mailer.example")
    deadline = time.time() + 60
    while len([m for m in quarantined(st) if b"Quarantined offer" in m]) < 3:
        check(time.time() < deadline, "not all three reached Quarantine")
        time.sleep(0.5)
    listed = st.ctl("quarantine", "list", USER).stdout.decode()
    for subject in SUBJECTS:
        check(subject in listed, "%r not in quarantine list: %s" % (subject, listed))
    for m in quarantined(st):
        qid = header_of(m, "X-Omamori-Quarantine-Id")
        check(qid and re.fullmatch(r"[0-9a-f]{32}", qid), "quarantine id %r" % qid)


@tap.case
def cron_sends_exactly_one_digest_listing_all_three(st):
    st.ctl("cron", "--at", "15:00")
    got = digests(st)
    check(len(got) == 1, "%d digests in INBOX" % len(got))
    text = decoded(got[0])
    for subject in SUBJECTS:
        check(subject in text, "%r missing from the digest" % subject)
    found = links(got[0])
    check(len(set(u for u in found if "?op=allow" in u)) == 3, "allow links: %r" % found)
    check(any("/q/" in u for u in found), "no quarantine page link")
    state["digest"] = got[0]
    st.ctl("cron", "--at", "15:00")
    st.ctl("cron", "--now")
    check(len(digests(st)) == 1, "a second run sent another digest")


def release_link(st, subject, op="allow"):
    """The digest's op link for the quarantined mail with subject."""
    text = decoded(state["digest"])
    block = text.split(subject, 1)[1]
    m = re.search(r"https?://127\.0\.0\.1:\d+/m/[A-Za-z0-9_.~-]+\?op=" + op, block)
    check(m, "no %s link after %r" % (op, subject))
    return m.group(0)


@tap.case
def the_release_page_get_changes_nothing(st):
    url = release_link(st, SUBJECTS[0])
    for _ in range(3):      # a link scanner, a preview, the user
        status, headers, page = http(url)
        check(status == 200, "GET %d" % status)
    check(SUBJECTS[0] in page and SENDERS[0] in page, "page lacks subject or sender")
    check("no-store" in headers.get("Cache-Control", ""), "cacheable page")
    check(headers.get("X-Frame-Options", "").upper() == "DENY", "frameable page")
    check(len([m for m in quarantined(st) if SUBJECTS[0].encode() in m]) == 1,
          "a GET moved the mail")
    state["page"] = page


@tap.case
def posts_without_a_good_csrf_token_do_nothing(st):
    url = release_link(st, SUBJECTS[0])
    status, _, _ = http(url.split("?")[0], {"op": "release"})
    check(status in (400, 403), "POST without csrf: %d" % status)
    status, _, _ = http(url.split("?")[0], {"op": "release", "csrf": "forged.token"})
    check(status in (400, 403), "POST with a forged csrf: %d" % status)
    check(len([m for m in quarantined(st) if SUBJECTS[0].encode() in m]) == 1,
          "the mail moved anyway")
    check(not [m for m in st.fetch_all(USER) if SUBJECTS[0].encode() in m],
          "the mail reached INBOX")


@tap.case
def tampered_and_expired_tokens_are_refused(st):
    url = release_link(st, SUBJECTS[1])
    base, _ = url.split("?")
    token = base.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    status, _, page = http(base.rsplit("/", 1)[0] + "/" + flipped)
    check(status in (400, 403), "tampered token: %d" % status)
    other = re.sub(r"[0-9a-f]{32}", "0" * 32, page)
    check(SUBJECTS[1] not in page, "a tampered token showed the mail")
    del other
    link = st.ctl("quarantine", "link", USER, "0").stdout.decode().strip()
    time.sleep(1.2)
    status, _, page = http(link)
    check(status == 410, "expired token: %d" % status)
    check(SUBJECTS[1] not in page and SUBJECTS[2] not in page, "an expired link listed mail")


@tap.case
def release_and_allow_moves_the_mail_allows_the_sender_and_learns_ham(st):
    url = release_link(st, SUBJECTS[0])
    status, _, page = http(url)
    check(status == 200, "GET %d" % status)
    action, fields = form_for(page, "allow")
    hams = hams_learned(st)
    target = absolute(st, action, url)
    status, _, result = http(target, fields)
    check(status == 200, "POST %d: %s" % (status, result[:300]))
    deadline = time.time() + 20
    while not [m for m in st.fetch_all(USER) if SUBJECTS[0].encode() in m]:
        check(time.time() < deadline, "released mail not in INBOX")
        time.sleep(0.3)
    check(not [m for m in quarantined(st) if SUBJECTS[0].encode() in m],
          "released mail still in Quarantine")
    shown = st.ctl("list", "show", USER).stdout.decode()
    check("allow\t" + SENDERS[0] in shown,
          "sender not allowed: %s" % shown)
    deadline = time.time() + 20
    while hams_learned(st) <= hams:
        check(time.time() < deadline, "the release was not learned as ham")
        time.sleep(0.3)
    state["replay"] = (target, fields)


@tap.case
def a_replayed_form_is_refused(st):
    target, fields = state["replay"]
    status, _, _ = http(target, fields)
    check(status in (403, 409, 410), "replayed POST: %d" % status)


@tap.case
def delete_from_the_quarantine_page(st):
    box = [u for u in links(state["digest"]) if "/q/" in u][0]
    status, _, page = http(box)
    check(status == 200, "quarantine page GET %d" % status)
    check(SUBJECTS[2] in page and SUBJECTS[1] in page, "page lacks the remaining mail")
    check(SUBJECTS[0] not in page, "the released mail is still listed")
    # the delete form of the row of SUBJECTS[2]
    row = page.split(SUBJECTS[2], 1)[1]
    action, fields = form_for(row, "delete")
    status, _, _ = http(absolute(st, action, box), fields)
    check(status == 200, "delete POST %d" % status)
    check(not [m for m in quarantined(st) if SUBJECTS[2].encode() in m], "not deleted")
    check(not [m for m in st.fetch_all(USER) if SUBJECTS[2].encode() in m],
          "a deleted mail reached INBOX")
    listed = st.ctl("quarantine", "list", USER).stdout.decode()
    check(SUBJECTS[2] not in listed and SUBJECTS[1] in listed, listed)


@tap.case
def the_helpdesk_releases_with_omamorictl(st):
    listed = st.ctl("quarantine", "list", USER).stdout.decode().splitlines()
    row = [l for l in listed if SUBJECTS[1] in l]
    check(row, "not listed: %r" % listed)
    qid = row[0].split("\t")[0]
    st.ctl("quarantine", "release", USER, qid)
    check([m for m in st.fetch_all(USER) if SUBJECTS[1].encode() in m], "not in INBOX")
    proc = st.ctl("quarantine", "release", USER, qid, check=False)
    check(proc.returncode == 2 and b"no such message" in proc.stderr, proc.stderr)
    for args, said in ((("list", "al?ce@example.test"), b"not a pattern"),
                       (("list", "nobody@example.test"), b"knows no user"),
                       (("link", "nobody@example.test"), b"knows no user"),
                       (("link", USER, "400"), b"0..336"),
                       (("release", USER, "../../etc"), b"not a quarantine id")):
        proc = st.ctl("quarantine", *args, check=False)
        check(proc.returncode == 2 and said in proc.stderr, "%r: %d %r" % (args, proc.returncode,
                                                                      proc.stderr))


def prepare(st):
    for sender in SENDERS:
        st.ctl("list", "add", USER, "block", sender)
    time.sleep(1.2)


if __name__ == "__main__":
    sys.exit(run_suite(tap, setup=[("sub", "set", USER, "spam", "on")], prepare=prepare))
