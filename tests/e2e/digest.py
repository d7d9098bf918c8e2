#!/usr/bin/env python3
"""End-to-end: the quarantine digest from `omamorictl cron`, against the
real stack (Postfix, Dovecot LMTP with the omamori plugin, omamori-scand,
omamori-policyd, doveadm).

Mail from block-listed senders goes to Quarantine the real way and the
plugin records it in the store.  alice (daily 15:00, the default): `cron
--at 14:00` sends nothing, `--at 15:00` puts exactly one digest in her
INBOX (read over IMAP) listing all three subjects with their links, in
Japanese; running again at 15:00, at 14:00 or with --now sends nothing
more.  bob ("every 2" hours): a digest at once, then not within two hours.
carol (digest-known-senders on): mail from an address she has written to
(seen by policyd, saved in batches) is told at once, other mail waits for
15:00.  TAP."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, decoded, header_of, in_box, run_suite  # noqa: E402

tap = Tap()
ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
PESTS = ["offers%d@pest%d.example" % (i, i) for i in range(4)]
FRIEND = "friend@pen.example"
SUBJECTS = ["Digest offer number %d" % i for i in range(3)]


def send_spam(st, sender, rcpt, subject, envelope="bounce@mailer.example"):
    """A mail whose From is block-listed (the plugin quarantines it; policyd
    would refuse a block-listed envelope sender at RCPT)."""
    raw = ("From: Pest <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%d@e2e.test>\r\n"
           "Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\nBuy now.\r\n"
           % (sender, rcpt, subject, sender, int(time.time() * 1000))).encode()
    st.send(raw, [rcpt], sender=envelope)
    st.wait_for(rcpt, subject.encode(), timeout=60, mailbox="Quarantine")
    deadline = time.time() + 30
    while subject not in st.ctl("quarantine", "list", rcpt).stdout.decode():
        check(time.time() < deadline, "%r not recorded in the store" % subject)
        time.sleep(0.3)


def digests(st, user):
    return [m for m in st.fetch_all(user) if header_of(m, "X-Omamori-Digest")]


def cron(st, *args):
    proc = st.ctl("cron", *args, check=False)
    check(proc.returncode == 0, "cron %s: exit %d: %s" % (" ".join(args), proc.returncode,
                                                          proc.stderr.decode()))
    return proc.stdout.decode()


@tap.case
def three_spams_are_quarantined_and_recorded(st):
    for sender, subject in zip(PESTS, SUBJECTS):
        send_spam(st, sender, ALICE, subject)


@tap.case
def before_the_slot_nothing_is_sent(st):
    out = cron(st, "--at", "14:00")
    check(not digests(st, ALICE), "a digest before 15:00")
    check("digest" not in out, "said %r" % out)


@tap.case
def at_the_slot_exactly_one_digest_lists_all_three(st):
    out = cron(st, "--at", "15:00")
    check("quarantine-digest: 1 digest sent" in out, "said %r" % out)
    got = digests(st, ALICE)
    check(len(got) == 1, "%d digests in INBOX" % len(got))
    raw = got[0]
    text = decoded(raw)
    for subject in SUBJECTS:
        check(subject in text, "%r missing from the digest" % subject)
    check("【迷惑メール隔離のお知らせ】3件" in text, "Japanese subject: %r" % text[:200])
    check("Example ISP" in text and "0120-000-000" in text, "brand or support missing")
    check(re.search(rb"^Message-ID: <omamori-digest-\d+@", raw, re.M), "Message-ID")
    check(b"multipart/alternative" in raw and b"text/html" in raw, "not text + HTML")
    urls = re.findall(r"https?://127\.0\.0\.1:\d+/[mq]/[A-Za-z0-9_.~-]+(?:\?op=[a-z]+)?", text)
    check(len([u for u in urls if u.endswith("?op=release")]) == 6 and
          len([u for u in urls if u.endswith("?op=allow")]) == 6,
          "release/allow links in both parts: %r" % urls)
    check(len([u for u in urls if "/q/" in u]) == 2, "quarantine page links: %r" % urls)
    check(len(in_box(st, ALICE, b"Digest offer", "Quarantine")) == 3, "Quarantine changed")


@tap.case
def a_digest_is_sent_once(st):
    for args in (["--at", "15:00"], ["--at", "14:00"], ["--now"], ["--at", "15:01"]):
        out = cron(st, *args)
        check("digest" not in out, "%r said %r" % (args, out))
    check(len(digests(st, ALICE)) == 1, "%d digests" % len(digests(st, ALICE)))


@tap.case
def every_two_hours(st):
    send_spam(st, PESTS[3], BOB, "Bob offer one")
    cron(st, "--at", "10:00")
    check(len(digests(st, BOB)) == 1, "no digest at once for every 2")
    # a sender's URL in the subject: in omamori's own mail it must not read
    # as a link beside the release links
    send_spam(st, PESTS[3], BOB, "Bob offer two: release at https://evil.example/login")
    cron(st, "--at", "11:00")
    check(len(digests(st, BOB)) == 1, "a digest within two hours")
    cron(st, "--at", "12:00")
    got = digests(st, BOB)
    check(len(got) == 2, "%d digests two hours on" % len(got))
    check(any("Bob offer two" in decoded(m) and "Bob offer one" not in decoded(m)
              for m in got), "the second digest lists only what is new")
    second = [decoded(m) for m in got if "Bob offer two" in decoded(m)][0]
    check("hxxps://evil[.]example/login" in second and "evil.example" not in second,
          "the sender's URL is not defanged: %r" % second[:800])
    check(len(digests(st, ALICE)) == 1, "alice got another")


@tap.case
def a_known_sender_is_told_at_once(st):
    # known by its envelope sender, the address carol wrote to
    send_spam(st, PESTS[1], CAROL, "Please confirm your sign-up", envelope=FRIEND)
    cron(st, "--at", "10:30")
    got = digests(st, CAROL)
    check(len(got) == 1 and "Please confirm your sign-up" in decoded(got[0]),
          "%d digests for carol" % len(got))
    send_spam(st, PESTS[0], CAROL, "Carol unknown offer")
    cron(st, "--at", "10:31")
    check(len(digests(st, CAROL)) == 1, "an unknown sender was told at once")
    cron(st, "--at", "15:00")
    got = digests(st, CAROL)
    check(len(got) == 2 and "Carol unknown offer" in decoded(got[1]),
          "the rest waits for 15:00: %d digests" % len(got))


def prepare(st):
    for sender in PESTS:
        for user in (ALICE, BOB, CAROL):
            st.ctl("list", "add", user, "block", sender)
    st.ctl("mailbox", "set", BOB, "digest", "every 2")
    st.ctl("mailbox", "set", CAROL, "digest-known-senders", "on")
    # carol writes to her friend: policyd remembers it (authenticated
    # sender) and saves it with its rate counters
    with st.smtp(login=CAROL) as s:
        s.sendmail(CAROL, [FRIEND], b"From: <carol@example.test>\r\nSubject: hi\r\n\r\nhi\r\n")
    # (every policyd_save_interval, 5 s by default): wait until it is saved,
    # reading the store as it is, never writing it
    deadline = time.time() + 30
    while True:
        known = st.sql("SELECT count(*) FROM correspondents WHERE mailbox = ? "
                       "AND address = ?", (CAROL, FRIEND))[0][0]
        if known:
            break
        check(time.time() < deadline, "policyd never saved carol's correspondent")
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(run_suite(tap, setup=[("sub", "set", u, "spam", "on") for u in (ALICE, BOB, CAROL)],
                       prepare=prepare))
