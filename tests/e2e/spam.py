#!/usr/bin/env python3
"""End-to-end: spam filtering through real Postfix, Dovecot and scand.

The classifier is trained with `omamorictl learn` on omamori's own fixture
set (tests/fixtures/spamgen.py: Japanese and English, ISO-2022-JP,
Shift_JIS, UTF-8); messages then go in over SMTP and are read back over
IMAP: spam in the Quarantine folder (\\Junk), tagged subjects (English,
Japanese RFC 2047, [MEIWAKU!!]), header-only marking, allow and block
lists, the user allow-list switch, the 300-entry limit, learning from IMAP
MOVE, quarantine retention, and omamorictl scan's JSON.  TAP output."""
import email
import email.header
import email.policy
import imaplib
import json
import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, header_of, run_suite, sure_fixture, train_classifier  # noqa: E402

tap = Tap()
FIXTURES = {}


def decoded(value):
    return str(email.header.make_header(email.header.decode_header(value)))


def fixture(st, kind, lang, want_spam):
    """A test-set fixture the trained classifier is sure about."""
    key = (kind, lang)
    if key not in FIXTURES:
        FIXTURES[key] = sure_fixture(st, kind, lang, want_spam)
    return FIXTURES[key]


def with_marker(raw, marker, sender=None):
    """The message with a unique Message-ID (the marker) and optionally
    another From address."""
    head, body = raw.split(b"\n\n", 1)
    lines = [l for l in head.split(b"\n") if not l.lower().startswith(b"message-id:")]
    if sender is not None:
        lines = [b"From: " + sender.encode() if l.lower().startswith(b"from:") else l
                 for l in lines]
    lines.append(b"Message-ID: <" + marker.encode() + b"@e2e.test>")
    return b"\n".join(lines) + b"\n\n" + body


def mk():
    return uuid.uuid4().hex


def deliver(st, raw, rcpt, sender="sender@remote.test"):
    marker = mk()
    st.send(with_marker(raw, marker), [rcpt], sender=sender)
    return marker


def where(st, user, marker, timeout=30):
    """Waits for the message; returns (mailbox, raw)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Quarantine"):
            found = [m for m in st.fetch_all(user, box) if marker.encode() in m]
            if found:
                return box, found[0]
        time.sleep(0.3)
    raise AssertionError("%s never arrived for %s; maillog:\n%s" %
                         (marker, user, st.tail("maillog")))


def scan(st, raw, mailbox=None):
    args = ["scan"] + (["--mailbox", mailbox] if mailbox else []) + ["-"]
    proc = st.ctl(*args, check=False, stdin=raw)
    check(proc.returncode in (0, 1), "scan failed: %s" % proc.stderr.decode())
    return json.loads(proc.stdout)


def imap_move(st, user, marker, src, dest):
    m = st.imap(user)
    try:
        m.select(src)
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", marker)
        uids = data[0].split()
        check(len(uids) == 1, "message %s not in %s/%s" % (marker, user, src))
        typ, resp = m.uid("MOVE", uids[0], dest)
        check(typ == "OK", "MOVE failed: %r" % resp)
    finally:
        m.logout()


@tap.case
def spam_lands_in_quarantine_marked_junk(st):
    raw = fixture(st, "spam", "ja", True)
    marker = deliver(st, raw, "alice@example.test")
    box, got = where(st, "alice@example.test", marker)
    check(box == "Quarantine", "spam went to %s" % box)
    check(header_of(got, "X-Spam-Flag") == "YES", "no X-Spam-Flag")
    check(header_of(got, "X-Omamori-Spam").startswith("yes; score="), header_of(got, "X-Omamori-Spam"))
    check(decoded(header_of(got, "Subject")) == decoded(header_of(raw, "Subject")),
          "a quarantined subject must stay untagged (seed 000)")
    m = st.imap("alice@example.test")
    try:
        typ, data = m.list()
        line = [l for l in data if l.endswith(b"Quarantine")]
        check(line and b"\\Junk" in line[0], "Quarantine lacks \\Junk: %r" % data)
    finally:
        m.logout()


@tap.case
def ham_reaches_inbox(st):
    raw = fixture(st, "ham", "ja", False)
    marker = deliver(st, raw, "alice@example.test")
    box, got = where(st, "alice@example.test", marker)
    check(box == "INBOX", "ham went to %s" % box)
    check(header_of(got, "X-Omamori-Spam").startswith("no; score="), header_of(got, "X-Omamori-Spam"))
    check(header_of(got, "X-Spam-Flag") is None, "ham carries X-Spam-Flag")


@tap.case
def tag_action_tags_english_subject(st):
    raw = fixture(st, "spam", "en", True)
    marker = deliver(st, raw, "bob@example.test")
    box, got = where(st, "bob@example.test", marker)
    check(box == "INBOX", "tagged spam went to %s" % box)
    want = "[SPAM] " + header_of(raw, "Subject")
    check(header_of(got, "Subject") == want, "subject %r, wanted %r" % (header_of(got, "Subject"), want))
    check(header_of(got, "X-Spam-Flag") == "YES", "no X-Spam-Flag")


@tap.case
def the_tag_replaces_the_first_subject_alone(st):
    # a message with two Subject fields (the first folded): the first is
    # tagged, its continuation line goes with it, the second stays as sent
    raw = fixture(st, "spam", "en", True)
    head, body = raw.split(b"\n\n", 1)
    lines = [l for l in head.split(b"\n") if not l.lower().startswith(b"subject:")]
    raw2 = b"\n".join(lines + [b"Subject: first line of it", b"  and its fold",
                               b"Subject: the second one"]) + b"\n\n" + body
    marker = deliver(st, raw2, "bob@example.test")
    box, got = where(st, "bob@example.test", marker)
    subjects = email.message_from_bytes(got, policy=email.policy.compat32).get_all("Subject")
    check(box == "INBOX" and len(subjects) == 2, "%s, subjects %r" % (box, subjects))
    check(re.sub(r"\s+", " ", subjects[0]) == "[SPAM] first line of it and its fold",
          "first %r" % subjects[0])
    check(subjects[1] == "the second one", "second %r" % subjects[1])


@tap.case
def meiwaku_tag_keeps_japanese_encoded_subject(st):
    st.ctl("mailbox", "set", "carol@example.test", "spam-tag", "[MEIWAKU!!] ")
    raw = fixture(st, "spam", "ja", True)
    marker = deliver(st, raw, "carol@example.test")
    box, got = where(st, "carol@example.test", marker)
    original = header_of(raw, "Subject")
    subject = header_of(got, "Subject")
    check(box == "INBOX", "tagged spam went to %s" % box)
    check(subject == "[MEIWAKU!!] " + original,
          "raw subject %r: the encoded word must follow the tag intact" % subject)
    check(decoded(subject) == "[MEIWAKU!!] " + decoded(original),
          "decoded %r" % decoded(subject))
    st.ctl("mailbox", "unset", "carol@example.test", "spam-tag")


@tap.case
def japanese_tag_becomes_its_own_encoded_word(st):
    st.ctl("mailbox", "set", "carol@example.test", "spam-tag", "【迷惑】")
    raw = fixture(st, "spam", "ja", True)
    marker = deliver(st, raw, "carol@example.test")
    box, got = where(st, "carol@example.test", marker)
    subject = header_of(got, "Subject")
    check(all(ord(c) < 128 for c in subject), "raw 8-bit in the subject: %r" % subject)
    check(decoded(subject) == "【迷惑】" + decoded(header_of(raw, "Subject")),
          "decoded %r" % decoded(subject))
    st.ctl("mailbox", "unset", "carol@example.test", "spam-tag")


@tap.case
def header_action_marks_without_touching_subject(st):
    st.ctl("mailbox", "set", "carol@example.test", "spam-action", "header")
    raw = fixture(st, "spam", "en", True)
    marker = deliver(st, raw, "carol@example.test")
    box, got = where(st, "carol@example.test", marker)
    check(box == "INBOX", "went to %s" % box)
    check(header_of(got, "Subject") == header_of(raw, "Subject"), "subject changed")
    check(header_of(got, "X-Spam-Flag") == "YES", "no X-Spam-Flag")
    check(re.match(r"^-?\d+\.\d\d$", header_of(got, "X-Spam-Score") or ""),
          "X-Spam-Score %r" % header_of(got, "X-Spam-Score"))
    st.ctl("mailbox", "unset", "carol@example.test", "spam-action")


@tap.case
def forged_spam_headers_are_removed(st):
    raw = fixture(st, "ham", "en", False)
    raw = b"X-Spam-Flag: NO\nX-Spam-Score: -100\n" + raw
    marker = deliver(st, raw, "bob@example.test")
    box, got = where(st, "bob@example.test", marker)
    check(header_of(got, "X-Spam-Flag") is None and header_of(got, "X-Spam-Score") is None,
          "sender's X-Spam headers delivered")


@tap.case
def allow_listed_sender_reaches_inbox_untagged(st):
    raw = fixture(st, "spam", "en", True)
    st.ctl("list", "add", "bob@example.test", "allow", "friend@remote.test")
    marker = mk()
    st.send(with_marker(raw, marker, sender="friend@remote.test"), ["bob@example.test"],
            sender="friend@remote.test")
    box, got = where(st, "bob@example.test", marker)
    check(box == "INBOX", "went to %s" % box)
    check(header_of(got, "Subject") == header_of(raw, "Subject"), "allow-listed mail was tagged")
    check("listed=allow:mailbox" in header_of(got, "X-Omamori-Spam"), header_of(got, "X-Omamori-Spam"))


@tap.case
def block_listed_from_is_quarantined(st):
    # envelope sender differs, so omamori-policyd lets it in; the From matches
    raw = fixture(st, "ham", "en", False)
    st.ctl("list", "add", "bob@example.test", "block", "@pest.example")
    marker = mk()
    st.send(with_marker(raw, marker, sender="x@pest.example"), ["bob@example.test"],
            sender="bounce@mailer.example")
    box, got = where(st, "bob@example.test", marker)
    check(box == "Quarantine", "block-listed From went to %s" % box)


@tap.case
def domain_forbids_user_allow_lists(st):
    st.ctl("domain", "set", "example.test", "user-allow-lists", "off")
    try:
        proc = st.ctl("list", "add", "bob@example.test", "allow", "new@remote.test", check=False)
        check(proc.returncode == 2 and b"user-allow-lists off" in proc.stderr,
              "allow entry accepted: %r" % proc.stderr)
        shown = st.ctl("list", "show", "bob@example.test").stdout
        check(b"new@remote.test" not in shown, "entry written anyway")
        # nor through an import (nothing of the file is written)
        path = os.path.join(st.dir, "allow-import.csv")
        with open(path, "w") as f:
            f.write("example.test,block,@imp-ok.example\nbob@example.test,allow,imp@remote.test\n")
        proc = st.ctl("list", "import", path, check=False)
        check(proc.returncode == 2 and b"line 2" in proc.stderr and
              b"user-allow-lists off" in proc.stderr, "import: %r" % proc.stderr)
        check(b"imp-ok.example" not in st.ctl("list", "show", "example.test").stdout and
              b"imp@remote.test" not in st.ctl("list", "show", "bob@example.test").stdout,
              "the import wrote part of the file")
        # bob's existing allow entry no longer counts
        raw = fixture(st, "spam", "en", True)
        marker = mk()
        st.send(with_marker(raw, marker, sender="friend@remote.test"), ["bob@example.test"],
                sender="friend@remote.test")
        box, got = where(st, "bob@example.test", marker)
        check(header_of(got, "Subject").startswith("[SPAM] "), "user allow list still applied")
    finally:
        st.ctl("domain", "set", "example.test", "user-allow-lists", "on")


@tap.case
def entry_301_is_refused(st):
    st.fill_list("carol@example.test", "block", 300)
    proc = st.ctl("list", "add", "carol@example.test", "block", "one-more@many.example", check=False)
    check(proc.returncode == 2 and b"300" in proc.stderr, "301st: rc %d %r" % (proc.returncode, proc.stderr))
    shown = st.ctl("list", "show", "carol@example.test").stdout.decode().splitlines()
    check(len([l for l in shown if "\tblock\t" in l]) == 300, "%d entries" % len(shown))
    exported = st.ctl("list", "export", "carol@example.test").stdout.decode()
    check(exported.startswith("scope,kind,entry\n") and exported.count("\n") == 301,
          "export has %d lines" % exported.count("\n"))


NOVEL = b"zorblax frobnicate quuxify wibblewobble snorkeldorf plonkton gribbleware\n"


@tap.case
def move_out_of_quarantine_learns_ham_and_allows_sender(st):
    # a newsletter the classifier has not seen, looking like the spam it has
    raw = fixture(st, "spam", "en", True).replace(b"\n\n", b"\n\n" + NOVEL, 1)
    sender = "rescued@newsletter.example"
    raw = with_marker(raw, mk(), sender=sender)
    before = float(scan(st, raw, "alice@example.test")["score"])
    marker = mk()
    st.send(with_marker(raw, marker), ["alice@example.test"], sender=sender)
    box, _ = where(st, "alice@example.test", marker)
    check(box == "Quarantine", "went to %s" % box)
    imap_move(st, "alice@example.test", marker, "Quarantine", "INBOX")
    time.sleep(0.5)
    shown = st.ctl("list", "show", "alice@example.test").stdout.decode()
    check("alice@example.test\tallow\t" + sender in shown, "sender not allow-listed: %r" % shown)
    after_scan = scan(st, raw, "alice@example.test")
    after = float(after_scan["score"])
    check(after < before, "score did not drop after learning ham: %.2f -> %.2f" % (before, after))
    marker = mk()
    st.send(with_marker(raw, marker), ["alice@example.test"], sender=sender)
    box, got = where(st, "alice@example.test", marker)
    check(box == "INBOX", "next mail from the rescued sender went to %s" % box)


@tap.case
def move_into_quarantine_learns_spam(st):
    raw = fixture(st, "ham", "en", False)
    marker = deliver(st, raw, "alice@example.test")
    box, got = where(st, "alice@example.test", marker)
    check(box == "INBOX", "went to %s" % box)
    before = float(scan(st, got, "alice@example.test")["score"])
    imap_move(st, "alice@example.test", marker, "INBOX", "Quarantine")
    time.sleep(0.5)
    after = float(scan(st, got, "alice@example.test")["score"])
    check(after > before, "score did not rise after learning spam: %.2f -> %.2f" % (before, after))


@tap.case
def quarantine_retention_expunges_old_mail(st):
    st.ctl("domain", "set", "example.test", "quarantine-retention", "2")
    m = st.imap("alice@example.test")
    old, recent = mk(), mk()
    try:
        for marker, days in ((old, 3), (recent, 1)):
            msg = ("From: x@remote.test\r\nSubject: old %s\r\nMessage-ID: <%s@e2e.test>\r\n\r\nold\r\n"
                   % (marker, marker)).encode()
            date = imaplib.Time2Internaldate(time.time() - days * 86400)
            typ, resp = m.append("Quarantine", None, date, msg)
            check(typ == "OK", "APPEND: %r" % resp)
    finally:
        m.logout()
    # quarantined for certain (a block-listed From), whatever the classifier
    # learned from the cases before: the delivery is what runs retention
    blocked = "retention-%s@remote.test" % mk()
    st.ctl("list", "add", "alice@example.test", "block", blocked)
    time.sleep(1.2)
    marker = deliver(st, with_marker(fixture(st, "ham", "en", False), mk(), sender=blocked),
                     "alice@example.test")
    box, _ = where(st, "alice@example.test", marker)
    check(box == "Quarantine", "went to %s" % box)
    st.ctl("list", "del", "alice@example.test", "block", blocked)
    held = b"".join(st.fetch_all("alice@example.test", "Quarantine"))
    check(old.encode() not in held, "3-day-old mail kept with a 2-day retention")
    check(recent.encode() in held, "1-day-old mail expunged")


@tap.case
def quarantine_retention_also_applies_at_imap_login(st):
    st.ctl("domain", "set", "example.test", "quarantine-retention", "2")
    old, recent = mk(), mk()
    m = st.imap("alice@example.test")
    try:
        for marker, days in ((old, 4), (recent, 1)):
            msg = ("From: x@remote.test\r\nSubject: aged %s\r\nMessage-ID: <%s@e2e.test>\r\n\r\nx\r\n"
                   % (marker, marker)).encode()
            typ, resp = m.append("Quarantine", None,
                                 imaplib.Time2Internaldate(time.time() - days * 86400), msg)
            check(typ == "OK", "APPEND: %r" % resp)
        typ, data = m.select("Quarantine", readonly=True)
        typ, data = m.search(None, "HEADER", "Message-ID", old)
        check(data[0].split(), "the old message was not even appended")
    finally:
        m.logout()
    # no new spam arrives; the next login keeps the folder to its retention
    held = b"".join(st.fetch_all("alice@example.test", "Quarantine"))
    check(old.encode() not in held, "4-day-old mail kept past a 2-day retention")
    check(recent.encode() in held, "1-day-old mail expunged")


@tap.case
def scan_json_has_score_rules_and_mailbox_threshold(st):
    raw = fixture(st, "spam", "en", True)
    res = scan(st, raw, "bob@example.test")
    check(res["verdict"] == "spam" and res["spam_action"] == "tag", res)
    check(any(r.startswith("BAYES_") for r in res["rules"]), res["rules"])
    st.ctl("mailbox", "set", "bob@example.test", "spam-threshold", "50")
    res = scan(st, raw, "bob@example.test")
    check(res["verdict"] == "clean" and res["score"] < 50, "threshold 50: %r" % res)
    st.ctl("mailbox", "unset", "bob@example.test", "spam-threshold")
    check(scan(st, raw)["verdict"] == "spam", "global default threshold")


@tap.case
def trusted_authentication_results_and_blocked_links_score(st):
    raw = fixture(st, "ham", "en", False)
    forged = b"Authentication-Results: other.example; dmarc=fail\n" + raw
    trusted = b"Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=x; dmarc=fail\n" + raw
    check("AUTH_DMARC_FAIL" not in scan(st, forged)["rules"], "untrusted A-R counted")
    rules = scan(st, trusted)["rules"]
    check("AUTH_DMARC_FAIL" in rules and "AUTH_SPF_FAIL" in rules, rules)
    st.ctl("list", "add", "*", "url-block", "evil.example")
    linked = raw.replace(b"\n\n", b"\n\nhttp://www.evil.example/login\n", 1)
    time.sleep(0.2)
    res = scan(st, linked)
    check("URL_BLOCKLISTED" in res["rules"], res["rules"])


@tap.case
def a_blocked_link_counts_past_the_token_cap(st):
    # more links than the classifier reads tokens: the blocked one is last
    links = b"".join(b"http://h%d.example/\n" % i for i in range(25000))
    linked = (b"From: news@remote.test\nTo: bob@example.test\nSubject: many links\n\n" +
              links + b"http://www.last-e2e.example/\n")
    st.ctl("list", "add", "*", "url-block", "last-e2e.example")
    try:
        time.sleep(0.2)
        box, got = where(st, "bob@example.test", deliver(st, linked, "bob@example.test"))
        spam = header_of(got, "X-Omamori-Spam") or ""
        check("URL_BLOCKLISTED" in spam, "X-Omamori-Spam: %r" % spam)
    finally:
        st.ctl("list", "del", "*", "url-block", "last-e2e.example")


@tap.case
def train_learns_again_what_is_unsure(st):
    fixtures = os.path.join(st.dir, "fixtures", "train")
    proc = st.ctl("train", "--rounds", "2", os.path.join(fixtures, "spam"),
                  os.path.join(fixtures, "ham"))
    out = proc.stdout.decode()
    check(re.search(r"^learned 134 spam, 134 ham$", out, re.M) and "round 1:" in out and
          "the classifier now counts" in out, out)
    proc = st.ctl("train", "--rounds", "99", fixtures, fixtures, check=False)
    check(proc.returncode == 2 and b"usage: train" in proc.stderr, proc.stderr)


@tap.case
def prune_forgets_rare_tokens_and_scand_follows(st):
    reloads = st.scand_log().count("classifier reloaded")
    out = st.ctl("prune").stdout.decode()
    m = re.search(r"^forgot (\d+) tokens seen in at most 1 message; (\d+) left$", out, re.M)
    check(m and int(m.group(1)) > 0 and int(m.group(2)) > 0, out)
    check(st.wait_scand_log("classifier reloaded", reloads + 1, timeout=30)
          .count("classifier reloaded") > reloads, "scand never reloaded after prune")
    # the verdicts scand gives now come from the pruned table
    spam_marker = deliver(st, fixture(st, "spam", "ja", True), "carol@example.test")
    ham_marker = deliver(st, fixture(st, "ham", "en", False), "carol@example.test")
    _, got = where(st, "carol@example.test", spam_marker)
    check(header_of(got, "X-Spam-Flag") == "YES", header_of(got, "X-Omamori-Spam"))
    _, got = where(st, "carol@example.test", ham_marker)
    check(header_of(got, "X-Omamori-Spam").startswith("no; "), header_of(got, "X-Omamori-Spam"))
    proc = st.ctl("prune", "--max-count", "0", check=False)
    check(proc.returncode == 2 and b"usage: prune" in proc.stderr, proc.stderr)


def prepare(st):
    """Fixtures generated and learned; alice quarantines, bob and carol tag."""
    train_classifier(st)
    for user in ("alice", "bob", "carol"):
        st.ctl("sub", "set", user + "@example.test", "spam", "on")
    st.ctl("domain", "set", "example.test", "spam-action", "tag")
    st.ctl("mailbox", "set", "alice@example.test", "spam-action", "quarantine")


def main():
    extra = "trusted_authserv_id = mx.example.test\nspam_save_interval = 1\n"
    return run_suite(tap, extra_conf=extra, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
