#!/usr/bin/env python3
"""End-to-end: omamorictl cron applies quarantine retention to mailboxes
nobody logs in to, through the real Dovecot (doveadm), with each domain's
own retention.  TAP output.

Spam is quarantined by real LMTP deliveries (a block-listed From), then
aged: the file's mtime is set back and Dovecot's cache of the received date
dropped, which is what Dovecot would see for mail that arrived that many
days ago.  Nobody logs in over IMAP (that would expunge too, through the
plugin): what is left is read with doveadm, as an administrator would."""
import os
import smtplib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402

tap = Tap()
# mailbox -> its domain's retention in days (third.test sets none: 14)
USERS = {"bob@example.test": 2, "carol@example.test": 2,
         "dave@other.test": 7, "frank@third.test": 14}
NEW_USERS = ("dave@other.test", "frank@third.test")


def doveadm(st, *args):
    return subprocess.run(["doveadm", "-c", st.DOVECOT_CONF] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=True).stdout


def quarantined(st, user, box="Quarantine"):
    """Message-IDs in user's Quarantine, read by doveadm (no IMAP login)."""
    out = doveadm(st, "fetch", "-u", user, "hdr.message-id", "mailbox", box, "all")
    return {line.split("<", 1)[1].split("@", 1)[0]
            for line in out.splitlines() if "<" in line}


def quarantine(st, user):
    """Delivers spam from a block-listed sender over LMTP; returns its marker."""
    marker = uuid.uuid4().hex
    msg = ("From: x@pest.example\r\nTo: %s\r\nSubject: offer %s\r\n"
           "Message-ID: <%s@e2e.test>\r\n\r\nbuy now\r\n" % (user, marker, marker))
    with smtplib.LMTP("127.0.0.1", int(st.LMTP_PORT)) as lmtp:
        lmtp.sendmail("bounce@mailer.example", [user], msg.encode())
    check(marker in quarantined(st, user), "%s not quarantined for %s" % (marker, user))
    return marker


def maildir(st, user, box):
    local, domain = user.split("@")
    return os.path.join(st.dir, "mail", domain, local, "Maildir", "." + box)


def age(st, user, marker, days, box="Quarantine"):
    """Makes the message look received days ago."""
    d = maildir(st, user, box)
    when = time.time() - days * 86400
    hits = 0
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(d, sub)):
            path = os.path.join(d, sub, name)
            with open(path, "rb") as f:
                if marker.encode() in f.read():
                    os.utime(path, (when, when))
                    hits += 1
    check(hits == 1, "%s found %d times in %s" % (marker, hits, d))
    cache = os.path.join(d, "dovecot.index.cache")
    if os.path.exists(cache):
        os.unlink(cache)
    # and the row the delivery plugin wrote for it (what digests and
    # omamori-web list), by the test's own hands on the store file
    if box == "Quarantine":
        st.sql("UPDATE quarantine SET received = ? WHERE mailbox = ? AND subject = ?",
               (int(when), user, "offer " + marker))


def listed(st, user):
    """The subjects of user's quarantine rows in the store, read as they
    are (not through `omamorictl quarantine list`, which would also drop
    rows of mail gone from the folder)."""
    return {r[0] for r in st.sql("SELECT subject FROM quarantine WHERE mailbox = ?", (user,))}


def cron(st, *args, conf=None):
    return subprocess.run([st.OMAMORICTL, "-c", conf or st.OMAMORI_CONF, "cron"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fill(st):
    """Per mailbox: one message just past its retention, one just inside."""
    sets = {}
    for user, days in USERS.items():
        old, recent = quarantine(st, user), quarantine(st, user)
        sets[user] = (old, recent)
    for user, days in USERS.items():
        old, recent = sets[user]
        age(st, user, old, days + 1)
        age(st, user, recent, days - 1)
    return sets


@tap.case
def not_due_at_a_time_does_nothing(st):
    sets = fill(st)
    proc = cron(st, "--at", "12:34")
    check(proc.returncode == 0, "exit %d: %s" % (proc.returncode, proc.stderr))
    check(proc.stdout == "", "said %r" % proc.stdout)
    for user, (old, recent) in sets.items():
        check({old, recent} <= quarantined(st, user), "%s lost mail at 12:34" % user)


@tap.case
def now_keeps_each_domain_to_its_retention(st):
    # a 3-day-old message: gone at example.test (2 days), kept at other.test
    # (7); delivered first, as a quarantined delivery applies retention too
    mid = quarantine(st, "dave@other.test")
    sets = fill(st)
    age(st, "dave@other.test", mid, 3)
    # a folder that only starts like the Quarantine is not the Quarantine
    doveadm(st, "mailbox", "create", "-u", "bob@example.test", "QuarantineOld")
    subprocess.run(["doveadm", "-c", st.DOVECOT_CONF, "save", "-u", "bob@example.test",
                    "-m", "QuarantineOld"], input=b"Message-ID: <keepme@e2e.test>\n\nx\n",
                   check=True)
    age(st, "bob@example.test", "keepme", 30, box="QuarantineOld")
    proc = cron(st, "--now")
    check(proc.returncode == 0, "exit %d: %s" % (proc.returncode, proc.stderr))
    for user, (old, recent) in sets.items():
        held = quarantined(st, user)
        check(old not in held, "%s kept mail past %d days" % (user, USERS[user]))
        check(recent in held, "%s lost mail inside %d days" % (user, USERS[user]))
    check(mid in quarantined(st, "dave@other.test"), "7-day domain lost 3-day-old mail")
    for user, (old, recent) in sets.items():
        shown = listed(st, user)
        check("offer " + old not in shown and "offer " + recent in shown,
              "%s: store rows after retention: %r" % (user, shown))
    check("keepme" in quarantined(st, "bob@example.test", "QuarantineOld"),
          "a folder beside the Quarantine was expunged")
    # alice and dave (no Quarantine folder) are in the 2-day group without an error
    for line in ("older than 2 days expunged for 4 mailboxes",
                 "older than 7 days expunged for 1 mailboxes",
                 "older than 14 days expunged for 1 mailboxes"):
        check(line in proc.stdout, "no %r in %r" % (line, proc.stdout))


@tap.case
def hourly_at_minute_zero(st):
    old = quarantine(st, "carol@example.test")
    age(st, "carol@example.test", old, 5)
    proc = cron(st, "--at", "07:01")
    check(proc.returncode == 0 and old in quarantined(st, "carol@example.test"),
          "ran at 07:01: %r" % proc.stdout)
    proc = cron(st, "--at", "07:00")
    check(proc.returncode == 0, "exit %d: %s" % (proc.returncode, proc.stderr))
    check(old not in quarantined(st, "carol@example.test"), "not expunged at 07:00")


def conf_with(st, name, lines):
    """A copy of the stack's omamori.conf with lines appended (the last
    line of a parameter counts); its path."""
    path = os.path.join(st.dir, "etc", name)
    with open(st.OMAMORI_CONF) as f, open(path, "w") as g:
        g.write(f.read() + lines)
    return path


@tap.case
def doveadm_failure_is_an_error(st):
    old = quarantine(st, "bob@example.test")
    age(st, "bob@example.test", old, 5)
    bad = conf_with(st, "omamori-bad.conf", "dovecot_config = %s/missing.conf\n" % st.dir)
    proc = cron(st, "--now", conf=bad)
    check(proc.returncode == 2, "exit %d" % proc.returncode)
    check("doveadm user '*' failed" in proc.stderr and "nothing expunged" in proc.stderr,
          proc.stderr)
    check(old in quarantined(st, "bob@example.test"), "expunged anyway")
    with open(bad, "w") as g:
        g.write("doveadm_path = doveadm\n")
    proc = cron(st, "--now", conf=bad)
    check(proc.returncode == 2 and "not an absolute path" in proc.stderr, proc.stderr)


@tap.case
def a_host_without_dovecot_skips_the_mailbox_tasks(st):
    # a policyd-only host (doc/scaling.md): its hourly run must not fail
    old = quarantine(st, "bob@example.test")
    age(st, "bob@example.test", old, 5)
    bare = conf_with(st, "omamori-bare.conf", "doveadm_path =\n")
    proc = cron(st, "--now", conf=bare)
    check("quarantine-retention: skipped: no Dovecot on this host" in proc.stdout and
          "quarantine-digest: skipped: no Dovecot on this host" in proc.stdout and
          "task quarantine-retention failed" not in proc.stderr and
          "task quarantine-digest failed" not in proc.stderr,
          "stdout %r stderr %r" % (proc.stdout, proc.stderr))
    check(old in quarantined(st, "bob@example.test"), "expunged without doveadm?")
    # a doveadm_path written wrong is a mistake, not a host without Dovecot
    bare = conf_with(st, "omamori-typo.conf", "doveadm_path = %s/typo/doveadm\n" % st.dir)
    proc = cron(st, "--now", conf=bare)
    check(proc.returncode == 2 and "task quarantine-retention failed" in proc.stderr,
          "a wrong doveadm_path: %d %r" % (proc.returncode, proc.stderr))


@tap.case
def bad_arguments_are_refused(st):
    for args in (["--at", "24:00"], ["--at", "7:5"], ["--at"], ["--later"], ["--now", "x"]):
        proc = cron(st, *args)
        check(proc.returncode == 2 and proc.stderr.startswith("omamorictl: ") and "cron" in proc.stderr,
              "%r: exit %d %r" % (args, proc.returncode, proc.stderr))


def prepare(st):
    with open(st.OMAMORI_CONF, "a") as f:
        f.write("dovecot_config = %s\n" % st.DOVECOT_CONF)
    with open(os.path.join(st.dir, "dovecot", "users"), "a") as f:
        for user in NEW_USERS:
            f.write("%s:{PLAIN}secret::::::\n" % user)
    for domain in ("example.test", "other.test", "third.test"):
        st.ctl("domain", "set", domain, "spam-action", "quarantine")
    st.ctl("domain", "set", "example.test", "quarantine-retention", "2")
    st.ctl("domain", "set", "other.test", "quarantine-retention", "7")
    for user in USERS:
        st.ctl("sub", "set", user, "spam", "on")
        st.ctl("list", "add", user, "block", "@pest.example")


def main():
    return run_suite(tap, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
