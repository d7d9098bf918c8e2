#!/usr/bin/env python3
"""End-to-end (issue 19): learning that applies at once, and the reasons a
user reads, through real Postfix, Dovecot and scand.

scand saves and polls the store only every spam_save_interval, set here to
an hour: whatever changes a verdict within a second was told to scand, not
found by a poll.  A message moved into Junk over real IMAP changes the
verdict of the next similar mail at once; so does `omamorictl learn`.  The
X-Omamori-Spam-Reason header is RFC 2047 and decodes to Japanese when the
recipient's domain speaks Japanese and to English when it speaks English;
omamorictl scan --text shows the same reasons.  `omamorictl prior` (the
Japanese set's words) reaches scand at once too; a brand's name from a
stranger's domain is a reason the recipient reads, and so is a lookalike
of a site ham came from (learned from a move out of Junk).  TAP output."""
import contextlib
import email.header
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import SRCDIR, Tap, check, header_of, run_suite, sure_fixture, train_classifier  # noqa: E402

tap = Tap()


LEARN_MAX = 12     # learn_max_per_hour of this stack: above every other case's moves


def mk():
    return uuid.uuid4().hex


def novel_mail(seed, marker):
    """A mail of words the classifier has never seen, from a sender it has
    never seen: seed makes every word, name and host unique to a case."""
    words = " ".join("%s%s%d" % (w, seed, i) for i in range(3)
                     for w in ("zorblax", "quuxify", "plonkton", "gribble", "snorkel",
                               "frobnik", "wibbler", "dorfmax"))
    return ("From: %s <%s@%s.example>\nTo: bob@example.test\n"
            "Subject: %s %s\nDate: Wed, 02 Dec 2026 09:00:00 +0000\n"
            "Message-ID: <%s@%s.example>\n\n%s\n%s\n"
            % (seed, seed, seed, seed, words.split()[0], marker, seed, words, words)).encode()


def scan(st, raw, mailbox="bob@example.test", text=False):
    args = ["scan", "--mailbox", mailbox] + (["--text"] if text else []) + ["-"]
    proc = st.ctl(*args, check=False, stdin=raw)
    check(proc.returncode in (0, 1), "scan failed: %s" % proc.stderr.decode())
    return proc.stdout.decode() if text else json.loads(proc.stdout)


def where(st, user, marker, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for box in ("INBOX", "Junk", "Quarantine"):
            found = [m for m in st.fetch_all(user, box) if marker.encode() in m]
            if found:
                return box, found[0]
        time.sleep(0.2)
    raise AssertionError("%s never arrived; maillog:\n%s" % (marker, st.tail("maillog")))


def decoded(value):
    return str(email.header.make_header(email.header.decode_header(value)))


@tap.case
def a_move_into_junk_changes_the_next_verdict_at_once(st):
    seed = "j" + mk()[:6]
    first = mk()
    st.send(novel_mail(seed, first), ["bob@example.test"])
    box, got = where(st, "bob@example.test", first)
    check(box == "INBOX" and header_of(got, "X-Omamori-Spam").startswith("no; "),
          "the unknown mail was spam already: %s %s" % (box, header_of(got, "X-Omamori-Spam")))
    m = st.imap("bob@example.test")
    try:
        m.create("Junk")
        m.select("INBOX")
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", first)
        uids = data[0].split()
        check(len(uids) == 1, "not found in INBOX: %r" % data)
        typ, resp = m.uid("MOVE", uids[0], "Junk")
        check(typ == "OK", "MOVE failed: %r" % resp)
        moved = time.time()
    finally:
        m.logout()
    # the next similar mail, at once: no sleep
    second = mk()
    raw = novel_mail(seed, second)
    res = scan(st, raw)
    took = time.time() - moved
    check(res["verdict"] == "spam", "not spam right after the move: %r" % res)
    check(took < 1.0, "the verdict changed only after %.2f s" % took)
    st.send(raw, ["bob@example.test"])
    box, got = where(st, "bob@example.test", second)
    check(header_of(got, "X-Spam-Flag") == "YES" and
          header_of(got, "X-Omamori-Spam").startswith("yes; "),
          "next similar mail delivered as %s" % header_of(got, "X-Omamori-Spam"))


@tap.case
def omamorictl_learn_changes_the_next_verdict_at_once(st):
    seed = "l" + mk()[:6]
    raw = novel_mail(seed, mk())
    before = scan(st, raw)
    # the words are new; the header may lean to spam already (the case
    # before taught the classifier this header's shape)
    check("BAYES_BODY_50" in before["rules"], "the words were known: %r" % before)
    path = os.path.join(st.dir, "learn-%s.eml" % seed)
    with open(path, "wb") as f:
        f.write(novel_mail(seed, mk()))
    st.ctl("learn", "spam", path)
    learned = time.time()
    after = scan(st, raw)
    took = time.time() - learned
    check(after["verdict"] == "spam" and "BAYES_BODY_99" in after["rules"] and
          after["score"] > before["score"],
          "learn did not reach scand: %r -> %r" % (before, after))
    check(took < 1.0, "scan took %.2f s" % took)
    check("classifier synced on request" in st.wait_scand_log("classifier synced on request"),
          "scand was not told")


def spam_reason_of(st, raw, user):
    marker = mk()
    head, body = raw.split(b"\n\n", 1)
    lines = [l for l in head.split(b"\n") if not l.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: <" + marker.encode() + b"@e2e.test>")
    # a sender's own reason is never delivered
    lines.append(b"X-Omamori-Spam-Reason: trust me, this is fine")
    st.send(b"\n".join(lines) + b"\n\n" + body, [user])
    box, got = where(st, user, marker)
    values = [l for l in got.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
              if l.lower().startswith(b"x-omamori-spam-reason:")]
    check(len(values) == 1, "X-Omamori-Spam-Reason headers: %r" % values)
    raw_value = header_of(got, "X-Omamori-Spam-Reason")
    # plain ASCII stays as it is; anything else is in encoded words
    check(raw_value.isascii(), "8-bit header: %r" % raw_value)
    value = decoded(raw_value)
    check(value.isascii() or "=?UTF-8?" in raw_value.upper(), "not RFC 2047: %r" % raw_value)
    return value


def set_language(st, lang, raw):
    st.ctl("domain", "set", "example.test", "language", lang)
    deadline = time.time() + 10
    want = "迷惑" if lang == "ja" else "spam"
    while want not in (scan(st, raw, "carol@example.test").get("spam_reason") or ""):
        check(time.time() < deadline, "scand never took language %s" % lang)
        time.sleep(0.2)


@tap.case
def the_reason_header_is_in_the_domains_language(st):
    raw = sure_fixture(st, "spam", "en", True)
    set_language(st, "ja", raw)
    ja = spam_reason_of(st, raw, "carol@example.test")
    check("迷惑メール" in ja, "ja domain: %r" % ja)
    check(1 <= len(ja.split("; ")) <= 3, "one to three reasons: %r" % ja)
    set_language(st, "en", raw)
    en = spam_reason_of(st, raw, "carol@example.test")
    check("spam" in en and en.split("; ")[0].isascii(), "en domain: %r" % en)
    text = scan(st, raw, "carol@example.test", text=True)
    check("why:" in text and en.split("; ")[0] in text, "scan --text: %r" % text)


@contextlib.contextmanager
def low_threshold(st, user):
    """user's spam threshold at 2 for the block: one training-free rule with
    the classifier's lean is then spam, so its reason is shown."""
    st.ctl("mailbox", "set", user, "spam-threshold", "2")
    try:
        time.sleep(0.3)
        yield
    finally:
        st.ctl("mailbox", "unset", user, "spam-threshold")


@tap.case
def a_phishing_shape_is_a_reason(st):
    st.ctl("domain", "set", "example.test", "language", "ja")
    raw = ("From: =?UTF-8?B?6YO15L6/5bGA?= <info@post-office.example>\n"
           "To: carol@example.test\nSubject: =?UTF-8?B?44GK6I2354mp44Gu44GK5bGK44GR?=\n"
           "Date: Wed, 02 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@post-office.example>\n"
           "MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n\n"
           "<p>お荷物をお届けにあがりましたが、ご不在でした。</p>"
           "<p><a href=\"http://redelivery.example.top/jp\">https://www.post-office.example/redelivery</a></p>\n"
           % mk()).encode()
    time.sleep(0.3)
    res = scan(st, raw, "carol@example.test")
    check("PHISH_LINK_TEXT" in res["rules"] and "PHISH_FROM_UNRELATED" in res["rules"],
          "rules: %r" % res["rules"])
    with low_threshold(st, "carol@example.test"):
        res = scan(st, raw, "carol@example.test")
        check(res["verdict"] == "spam" and
              "リンクの表示と、実際のリンク先のサイトが違います" in (res["spam_reason"] or ""),
              "reason: %r" % res)


# a dating spam written for this test (not in tests/data/ja-eval): its
# words are the set's spam's kind, none of its sentences are the set's
DATING_SPAM = """はじめまして、さやかです。
プロフィールを見て気になったので、思い切って連絡してみました。
今夜会える人を探しています。無料登録だけで、すぐにメッセージのやり取りができます。
登録はこちらから、写真も見られますよ。
http://sayaka-deai.example/touroku
返事待ってますね。"""


@tap.case
def omamorictl_prior_reaches_scand_at_once(st):
    raw = ("From: =?UTF-8?B?44GV44KE44GL?= <sayaka@deai-club.example>\n"
           "To: bob@example.test\nSubject: =?UTF-8?B?5LuK5aSc5Lya44GI44G+44Gb44KT44GL?=\n"
           "Date: Wed, 02 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@deai-club.example>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
           "Content-Transfer-Encoding: 8bit\n\n%s\n" % (mk(), DATING_SPAM)).encode()
    before = scan(st, raw)
    prior = os.path.join(st.dir, "ja-eval")
    subprocess.run([sys.executable, os.path.join(SRCDIR, "tests", "data", "ja-eval", "build.py"),
                    prior], check=True, stdout=subprocess.DEVNULL)
    out = st.ctl("prior", os.path.join(prior, "train")).stdout.decode()
    check("the words of 78 spam and 77 ham" in out, "prior said: %r" % out)
    learned = time.time()
    after = scan(st, raw)
    took = time.time() - learned
    # the same bytes scored twice: only what scand learned can move them
    bayes = lambda res: [r for r in res["rules"] if r.startswith("BAYES")]
    check(after["score"] > before["score"] and bayes(after) != bayes(before),
          "the prior did not reach scand: %r -> %r" % (before, after))
    check(took < 1.0, "scan took %.2f s" % took)
    # a directory without spam/ and ham/ is refused, and nothing is learned
    proc = st.ctl("prior", st.dir + "/no-such-prior", check=False)
    check(proc.returncode != 0 and b"cannot stat" in proc.stderr,
          "a missing prior: %r" % proc.stderr)


@tap.case
def a_brand_name_from_a_strangers_domain_is_a_reason(st):
    st.ctl("domain", "set", "example.test", "language", "ja")
    # From: 楽天カード <info@rakuten-card.co.jp.verify.example>
    raw = ("From: =?UTF-8?B?5qW95aSp44Kr44O844OJ?= <info@rakuten-card.co.jp.verify.example>\n"
           "To: carol@example.test\nSubject: =?UTF-8?B?44GU5Yip55So5piO57Sw?=\n"
           "Date: Wed, 02 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@rakuten-card.co.jp.example>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n"
           "ご利用明細をご確認ください。\n" % mk()).encode()
    res = scan(st, raw, "carol@example.test")
    check("PHISH_BRAND_NAME" in res["rules"] and "PHISH_BRAND_WORN" in res["rules"],
          "rules: %r" % res["rules"])
    genuine = raw.replace(b"rakuten-card.co.jp.verify.example", b"rakuten-card.co.jp")
    rules = scan(st, genuine, "carol@example.test")["rules"]
    check("PHISH_BRAND_NAME" not in rules and "PHISH_BRAND_WORN" not in rules,
          "the brand's own domain is the brand: %r" % rules)
    # the same name from a stranger's domain that wears none of the brand's
    plain = raw.replace(b"rakuten-card.co.jp.verify.example", b"rakuten-card-info.example")
    check("PHISH_BRAND_WORN" not in scan(st, plain, "carol@example.test")["rules"],
          "rakuten-card-info.example wears no domain of the brand")
    with low_threshold(st, "carol@example.test"):
        value = spam_reason_of(st, raw, "carol@example.test")
        check("有名な会社のドメイン名を、別のドメインの前に付けて名乗っています" in value,
              "delivered reason (worn): %r" % value)
        value = spam_reason_of(st, plain, "carol@example.test")
        check("差出人名は有名な会社やサービスを名乗っていますが" in value,
              "delivered reason: %r" % value)


@tap.case
def a_lookalike_of_a_site_ham_came_from_is_a_reason(st):
    """A partner's mail moved out of Junk (learned as ham by scand, with the
    site it came from); then mail from a lookalike of that site asking for
    replies on free mail carries the BEC reasons, at once."""
    st.ctl("domain", "set", "example.test", "language", "ja")
    partner = "aoba%s-shoji.example" % mk()[:4]
    fake = partner.replace("-shoji", "-shouji")
    genuine = ("From: =?UTF-8?B?6auY5qmL?= <m.takahashi@%s>\nTo: carol@example.test\n"
               "Subject: =?UTF-8?B?44GK6KaL56mN44KK44Gu5Lu2?=\n"
               "Date: Wed, 02 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@%s>\n"
               "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n"
               "いつもお世話になっております。お見積りをお送りします。\n"
               % (partner, mk(), partner)).encode()
    bec = ("From: =?UTF-8?B?6auY5qmL?= <m.takahashi@%s>\nReply-To: aoba.takahashi@gmail.com\n"
           "To: carol@example.test\nSubject: =?UTF-8?B?44GK5oyv6L6844G/5YWI5aSJ5pu044Gu44GK6aGY44GE?=\n"
           "Date: Wed, 02 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@%s>\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n"
           "いつもお世話になっております。お振込先が変更になりました。\n"
           % (fake, mk(), fake)).encode()
    before = scan(st, bec, "carol@example.test")
    check("PHISH_LOOKALIKE_KNOWN" not in before["rules"], "a stranger's site: %r" % before)
    m = st.imap("carol@example.test")
    try:
        m.create("Junk")
        typ, resp = m.append("Junk", None, None, genuine)
        check(typ == "OK", "APPEND failed: %r" % resp)
        m.select("Junk")
        typ, data = m.uid("SEARCH", None, "FROM", partner)
        uids = data[0].split()
        check(len(uids) == 1, "not found in Junk: %r" % data)
        typ, resp = m.uid("MOVE", uids[-1], "INBOX")
        check(typ == "OK", "MOVE failed: %r" % resp)
        moved = time.time()
    finally:
        m.logout()
    after = scan(st, bec, "carol@example.test")
    took = time.time() - moved
    check("PHISH_LOOKALIKE_KNOWN" in after["rules"] and "PHISH_BEC_SHAPE" in after["rules"],
          "the partner's site was not learned from the move: %r" % after)
    check(took < 1.0, "scan took %.2f s" % took)
    check("PHISH_LOOKALIKE_KNOWN" not in scan(st, genuine, "carol@example.test")["rules"],
          "the partner itself is no lookalike")
    with low_threshold(st, "carol@example.test"):
        value = spam_reason_of(st, bec, "carol@example.test")
        check("これまでに正規のメールが届いたドメインによく似せた" in value,
              "delivered reason: %r" % value)


@tap.case
def one_mailbox_teaches_at_most_learn_max_per_hour(st):
    # the classifier is every customer's: dave copying one mail into Junk
    # over and over teaches it LEARN_MAX times this hour, no more; the
    # copies themselves all succeed, and scand says so once
    st.ctl("sub", "set", "dave@example.test", "spam", "on")
    time.sleep(1.2)
    if 3600 - time.time() % 3600 < 60:     # the counts start again each hour
        time.sleep(3600 - time.time() % 3600 + 1)
    mid = mk()
    raw = novel_mail("d" + mid[:6], mid)
    m = st.imap("dave@example.test")
    try:
        m.create("Junk")
        typ, resp = m.append("INBOX", None, None, raw)
        check(typ == "OK", "APPEND failed: %r" % resp)
        m.select("INBOX")
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", mid)
        uid = data[0].split()[0]
        for i in range(LEARN_MAX + 5):
            typ, resp = m.uid("COPY", uid, "Junk")
            check(typ == "OK", "COPY %d failed: %r" % (i + 1, resp))
    finally:
        m.logout()
    log = st.wait_scand_log("learn mailbox=dave@example.test refused", timeout=10)
    learned = log.count("learn mailbox=dave@example.test as=spam")
    refused = log.count("learn mailbox=dave@example.test refused")
    check(learned == LEARN_MAX and refused == 1,
          "learned %d times, refused logged %d times" % (learned, refused))
    # and of those, one copy of one message counted once
    new = log.count("learn mailbox=dave@example.test as=spam size=%d lesson=new" % len(raw))
    repeated = log.count("lesson=repeated")
    check(new == 1 and repeated == LEARN_MAX - 1,
          "the same message counted %d times, %d repeats not counted" % (new, repeated))


def body(res):
    """The body reading's bucket (BAYES_BODY_nn), 50 when it is not there."""
    for rule in res["rules"]:
        if rule.startswith("BAYES_BODY_"):
            return int(rule[len("BAYES_BODY_"):])
    return 50


@tap.case
def a_move_back_out_of_junk_corrects_the_lesson(st):
    # a mail moved into Junk by mistake and back: the mistake is taken
    # back, and the move back teaches ham, so the next similar mail's words
    # read ham and it scores lower than before the mistake (left in as spam
    # too, its words would be half spam, half ham: no information, the score
    # as before).  The earlier cases taught this stack's novel mails as
    # spam: their headers may read spam already, so the body is compared
    seed = "k" + mk()[:6]
    first = mk()
    st.send(novel_mail(seed, first), ["carol@example.test"])
    box, got = where(st, "carol@example.test", first)
    check(box == "INBOX", "delivered to %s" % box)
    before = scan(st, novel_mail(seed, mk()), mailbox="carol@example.test")
    m = st.imap("carol@example.test")
    try:
        m.create("Junk")
        for src, dst in (("INBOX", "Junk"), ("Junk", "INBOX")):
            m.select(src)
            typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", first)
            uids = data[0].split()
            check(len(uids) == 1, "not found in %s: %r" % (src, data))
            typ, resp = m.uid("MOVE", uids[0], dst)
            check(typ == "OK", "MOVE to %s failed: %r" % (dst, resp))
            if dst == "Junk":
                res = scan(st, novel_mail(seed, mk()), mailbox="carol@example.test")
                check(res["score"] > before["score"] and body(res) > body(before),
                      "not spammier after the move: %r, before: %r" % (res, before))
    finally:
        m.logout()
    after = scan(st, novel_mail(seed, mk()), mailbox="carol@example.test")
    check(after["score"] < before["score"] and body(after) < body(before),
          "after the move back: %r, before the mistake: %r" % (after, before))
    log = st.wait_scand_log("learn mailbox=carol@example.test as=ham", timeout=10)
    check("lesson=corrected" in log, "scand did not correct the lesson:\n%s" % log[-2000:])


def prepare(st):
    train_classifier(st)
    for user in ("bob", "carol"):
        st.ctl("sub", "set", user + "@example.test", "spam", "on")
    st.ctl("domain", "set", "example.test", "spam-action", "tag")


def main():
    # an hour between saves: nothing in these cases can come from a poll
    extra = "spam_save_interval = 3600\nlearn_max_per_hour = %d\n" % LEARN_MAX
    return run_suite(tap, extra_conf=extra, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
