#!/usr/bin/env python3
"""End-to-end: `omamorictl selftest` (issue 18 item 6) on the test stack -
real Postfix (the stack's omamori.conf names its smtpd as selftest_smtp),
omamori-policyd, Dovecot and omamori-scand, the stack's DNS server for
DMARC.  A subscribed mailbox passes every step (clean, EICAR, GTUBE, a
DMARC fail under dmarc-reject.test's p=reject) and the test mails are gone
afterwards; with the domain's spam action changed to quarantine, the
GTUBE step expects the Quarantine folder, and with --keep the mails are
where the report says (read over IMAP); a mailbox without the spam
subscription gets "not applicable" and no spam mail; unknown domain,
mailbox outside the domain, Postfix not reachable: clear errors, exit 2;
omamori-scand stopped: exit 1 and the report names the clean mail
deferred in Postfix's queue.  TAP."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite, in_box, header_of  # noqa: E402

ID = "mx.example.test"
tap = Tap()


def selftest(st, *args, conf=None):
    """omamorictl selftest example.test ARGS: (exit status, stdout, stderr)."""
    cmd = ["selftest", "example.test"] + list(args)
    if conf is None:
        p = st.ctl(*cmd, check=False)
    else:
        import subprocess
        p = subprocess.run([st.OMAMORICTL, "-c", conf] + cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def steps(out):
    """The report's blocks: title -> its lines."""
    blocks, title = {}, None
    for line in out.splitlines():
        if line.startswith("["):
            title = line.split("] ", 1)[1]
            blocks[title] = []
        elif title is not None and line.startswith("  "):
            blocks[title].append(line.strip())
    return blocks


def selftest_mails(st, user, box="INBOX"):
    return in_box(st, user, b"omamori-selftest-", box)


@tap.case
def errors_are_clear(st):
    code, _, err = selftest(st, "--mailbox", "alice@example.test", "x")
    check(code == 2 and "usage" in err, "two domains: usage (%d %r)" % (code, err))
    p = st.ctl("selftest", "unknown.example", "--mailbox", "a@unknown.example", check=False)
    err = p.stderr.decode()
    check(p.returncode == 2 and "unknown domain unknown.example" in err, err)
    code, _, err = selftest(st, "--mailbox", "alice@example.org")
    check(code == 2 and "not in domain example.test" in err, err)
    code, _, err = selftest(st, "--mailbox", "nobody@example.test")
    check(code == 2 and "Dovecot knows no user nobody@example.test" in err, err)
    bad = os.path.join(st.dir, "no-postfix.conf")
    with open(st.OMAMORI_CONF) as f, open(bad, "w") as g:
        for line in f:
            g.write("selftest_smtp = 127.0.0.1:1\n" if line.startswith("selftest_smtp") else line)
    code, _, err = selftest(st, "--mailbox", "alice@example.test", conf=bad)
    check(code == 2 and "Postfix not reachable" in err and "127.0.0.1:1" in err, err)
    check(not selftest_mails(st, "alice@example.test"), "nothing was sent")


@tap.case
def every_step_passes_and_the_mails_are_removed(st):
    code, out, err = selftest(st, "--mailbox", "alice@example.test", "--dmarc-domain",
                              "dmarc-reject.test", "--timeout", "60")
    check(code == 0, "exit %d:\n%s%s" % (code, out, err))
    b = steps(out)
    check(list(b) == ["clean mail", "EICAR virus", "GTUBE spam", "DMARC failure"], out)
    for title, lines in b.items():
        check(any(x.startswith("OK: ") for x in lines), "%s not OK:\n%s" % (title, out))
    check("found:    INBOX" in b["GTUBE spam"] and
          any('Subject: [SPAM] omamori self-test' in x for x in b["GTUBE spam"]),
          "GTUBE tagged in the INBOX (spam-action tag):\n" + out)
    check(any("X-Omamori-Virus: infected" in x for x in b["EICAR virus"]), out)
    check(any("dmarc=fail" in x and "banner" in x for x in b["DMARC failure"]), out)
    check("4 OK, 0 FAIL, 0 not applicable" in out, out)
    check("test mails removed" in out, out)
    check(not selftest_mails(st, "alice@example.test") and
          not selftest_mails(st, "alice@example.test", "Quarantine"),
          "the test mails are still in alice's mailbox")


@tap.case
def the_spam_step_follows_the_spam_action(st):
    st.ctl("domain", "set", "example.test", "spam-action", "quarantine")
    try:
        code, out, err = selftest(st, "--mailbox", "alice@example.test", "--keep")
        check(code == 0, "exit %d:\n%s%s" % (code, out, err))
        g = steps(out)["GTUBE spam"]
        check("found:    Quarantine" in g and
              any(x.startswith("expected: Quarantine") for x in g) and
              any(x.startswith("OK: ") for x in g), out)
        # what the report says is where the mails are
        run = out.split("(run ", 1)[1].split(",", 1)[0].encode()
        q = [m for m in selftest_mails(st, "alice@example.test", "Quarantine") if run in m]
        inbox = [m for m in selftest_mails(st, "alice@example.test") if run in m]
        check(len(q) == 1 and b"-gtube@" in q[0], "the GTUBE mail in Quarantine")
        check(sorted(header_of(m, "Message-ID").split("-")[3].split("@")[0] for m in inbox)
              == ["clean", "dmarc", "eicar"], "the clean, EICAR and DMARC mail in the INBOX")
        check("kept in alice@example.test (--keep)" in out, out)
    finally:
        st.ctl("domain", "unset", "example.test", "spam-action")


@tap.case
def a_feature_not_subscribed_is_not_applicable(st):
    code, out, err = selftest(st, "--mailbox", "bob@example.test")
    check(code == 0, "exit %d:\n%s%s" % (code, out, err))
    b = steps(out)
    check(b["GTUBE spam"] == ["not applicable: spam is not on for bob@example.test "
                              "(default)"], out)
    check(any(x.startswith("OK: ") for x in b["EICAR virus"]), out)
    check("2 OK, 0 FAIL, 2 not applicable" in out, out)
    check(not selftest_mails(st, "bob@example.test"), "bob's test mails removed")


@tap.case
def scand_stopped_the_report_names_the_failing_step(st):
    st.stop_scand()
    try:
        code, out, _ = selftest(st, "--mailbox", "alice@example.test", "--timeout", "8")
        check(code == 1, "exit %d:\n%s" % (code, out))
        clean = steps(out)["clean mail"]
        check("found:    nowhere" in clean, out)
        fail = [x for x in clean if x.startswith("FAIL: ")]
        check(fail and fail[0].startswith("FAIL: clean mail not delivered within 8 s: "
                                          "Postfix queue shows it deferred") and
              "4.2.0" in fail[0] and "(is omamori-scand running?)" in fail[0], out)
        check("0 OK, 4 FAIL" in out and "still in Postfix's queue" in out, out)
    finally:
        st.restart_scand()


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=["alice@example.test", "bob@example.test"],
                       extra_conf="trusted_authserv_id = %s\n" % ID,
                       setup=[("sub", "set", "alice@example.test", "spam", "on"),
                              ("domain", "set", "example.test", "auth-check", "on")]))
