#!/usr/bin/env python3
"""Fault: the holes of issue 11 in allow/block lists, each as reported,
through the real stack.

- `omamorictl list import` of 320 rows for one mailbox: refused, naming the
  mailbox and the row, and nothing imported (long form: 5000 rows).
- A Dovecot user name without a domain ("dave"): its lists are a mailbox's,
  so the per-mailbox limit and the user-allow-lists switch hold on the real
  IMAP path (a move out of Quarantine: omamori's imap plugin and the shipped
  imapsieve script) and in Sieve (sieve-test with the stack's Dovecot).
- learn-allow-sender off: a move out of Quarantine adds nothing, not even
  through the shipped imapsieve script (rescued-sender.sieve).
TAP output."""
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from omtest import PASSWORD, Tap, check, run_suite  # noqa: E402

tap = Tap()
LONG = bool(os.environ.get("OMAMORI_FAULT_LONG"))
LIMIT = 300     # list_max_entries, the default


def message(sender, marker):
    return ("From: Someone <%s>\r\nTo: user@example.test\r\nSubject: rescue me\r\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <%s@fault.test>\r\n\r\n"
            "a newsletter the user wants after all\r\n" % (sender, marker)).encode()


def entries(st, scope, kind):
    out = st.ctl("list", "show", scope).stdout.decode()
    return [line.split("\t")[2] for line in out.splitlines()
            if line.split("\t")[:2] == [scope.split(":", 1)[-1], kind]]


def write_csv(st, name, rows):
    path = os.path.join(st.dir, name)
    with open(path, "w") as f:
        f.write("scope,kind,entry\n")
        f.writelines("%s,%s,%s\n" % row for row in rows)
    return path


def rescue(st, user, sender):
    """APPENDs a message from sender to user's Quarantine and MOVEs it to the
    INBOX over real IMAP (imapsieve and omamori's imap plugin run then)."""
    marker = uuid.uuid4().hex
    m = st.imap(user)
    try:
        m.create("Quarantine")
        typ, resp = m.append("Quarantine", None, None, message(sender, marker))
        check(typ == "OK", "APPEND: %r" % resp)
        m.select("Quarantine")
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", marker)
        uids = data[0].split()
        check(len(uids) == 1, "appended message not found: %r" % data)
        typ, resp = m.uid("MOVE", uids[0], "INBOX")
        check(typ == "OK", "MOVE: %r" % resp)
    finally:
        m.logout()


def wait_listed(st, scope, entry, timeout=15):
    deadline = time.time() + timeout
    while entry not in entries(st, scope, "allow"):
        check(time.time() < deadline, "%s never allow-listed for %s; dovecot.log:\n%s"
              % (entry, scope, st.tail("dovecot.log")))
        time.sleep(0.3)


def settle():
    # the move's learning and imapsieve run before MOVE answers; a second
    # more covers a slow machine
    time.sleep(1.5)


def add_user_without_domain(st, name):
    with open(os.path.join(st.dir, "dovecot", "users"), "a") as f:
        f.write("%s:{PLAIN}%s::::::\n" % (name, PASSWORD))
    subprocess.run(["doveadm", "-c", st.DOVECOT_CONF, "reload"], check=True)
    deadline = time.time() + 15
    while True:
        try:
            st.imap(name).logout()
            return
        except Exception:
            check(time.time() < deadline, "user %s cannot log in" % name)
            time.sleep(0.3)


# ---- item 9: imports keep the per-mailbox limit -------------------------

@tap.case
def import_over_the_limit_is_refused_whole(st):
    count = 5000 if LONG else 320
    rows = [("bob@example.test", "block", "s%d@import.example" % i) for i in range(count)]
    path = write_csv(st, "over.csv", rows)
    proc = st.ctl("list", "import", path, check=False)
    err = proc.stderr.decode()
    check(proc.returncode == 2, "import of %d rows: exit %d, %s" % (count, proc.returncode, err))
    # header line 1, rows from line 2: row 301 is on line 302
    check("bob@example.test" in err and "line %d" % (LIMIT + 2) in err and
          "nothing imported" in err, "error does not name the mailbox and row: %r" % err)
    check(entries(st, "bob@example.test", "block") == [], "partially imported")


@tap.case
def import_within_the_limit_and_domains_unlimited(st):
    rows = [("bob@example.test", "block", "s%d@ok.example" % i) for i in range(LIMIT)]
    rows += [("example.test", "block", "d%d@ok.example" % i) for i in range(LIMIT + 20)]
    st.ctl("list", "import", write_csv(st, "ok.csv", rows))
    check(len(entries(st, "bob@example.test", "block")) == LIMIT, "mailbox rows")
    check(len(entries(st, "example.test", "block")) == LIMIT + 20, "domain rows")


@tap.case
def import_reads_spreadsheet_csv(st):
    path = os.path.join(st.dir, "excel.csv")
    with open(path, "wb") as f:
        f.write(b'\xef\xbb\xbf"scope","kind","entry"\r\n'
                b'"carol@example.test","block","Pest@Quoted.example"\r\n'
                b'carol@example.test,"allow","friend@quoted.example"\r\n')
    st.ctl("list", "import", path)
    check(entries(st, "carol@example.test", "block") == ["pest@quoted.example"], "quoted block")
    check(entries(st, "carol@example.test", "allow") == ["friend@quoted.example"], "allow")


# ---- item 8: a user name without a domain is a mailbox -------------------

@tap.case
def bare_user_limit_holds_on_imap_rescue(st):
    add_user_without_domain(st, "dave")
    st.ctl("list", "import", write_csv(st, "dave-room.csv",
           [("dave", "allow", "a%d@full.example" % i) for i in range(LIMIT - 1)]))
    rescue(st, "dave", "first@rescued.example")        # the last free place
    wait_listed(st, "dave", "first@rescued.example")
    rescue(st, "dave", "second@rescued.example")
    settle()
    allow = entries(st, "dave", "allow")
    check(len(allow) == LIMIT and "second@rescued.example" not in allow,
          "dave's allow list grew past the limit: %d entries" % len(allow))
    check("full" in st.tail("dovecot.log", 60), "no refusal logged:\n%s" % st.tail("dovecot.log"))


@tap.case
def bare_user_limit_holds_in_sieve(st):
    d = tempfile.mkdtemp(prefix="sieve-", dir=st.dir)
    os.chmod(d, 0o777)
    script, mail = os.path.join(d, "t.sieve"), os.path.join(d, "t.eml")
    with open(script, "w") as f:
        f.write('require "vnd.omamori";\nomamori_list :add :allow "one-more@sieve.example";\n')
    with open(mail, "wb") as f:
        f.write(message("x@remote.example", uuid.uuid4().hex))
    proc = subprocess.run(["sieve-test", "-c", st.DOVECOT_CONF, "-u", "dave", "-t", "-",
                           script, mail], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode("utf-8", "replace")
    check(re.search(r"refused.*full", out), "sieve-test did not refuse: %s" % out)
    check("one-more@sieve.example" not in entries(st, "dave", "allow"), "written past the limit")


@tap.case
def bare_user_obeys_user_allow_lists_off(st):
    # dave has no domain: the global switch is his
    st.ctl("domain", "set", "*", "user-allow-lists", "off")
    try:
        before = len(entries(st, "dave", "allow"))
        st.ctl("list", "del", "dave", "allow", "a0@full.example")
        rescue(st, "dave", "third@rescued.example")
        settle()
        allow = entries(st, "dave", "allow")
        check("third@rescued.example" not in allow and len(allow) == before - 1,
              "allow entry written with user-allow-lists off")
        proc = st.ctl("list", "add", "dave", "allow", "x@y.example", check=False)
        check(proc.returncode == 2 and b"user-allow-lists off" in proc.stderr,
              "omamorictl list add on dave: %r" % proc.stderr)
    finally:
        st.ctl("domain", "set", "*", "user-allow-lists", "on")


# ---- item 10: learn-allow-sender off holds for imapsieve -----------------

@tap.case
def rescue_allows_sender_when_learning_is_on(st):
    rescue(st, "alice@example.test", "wanted@news.example")
    wait_listed(st, "alice@example.test", "wanted@news.example")


@tap.case
def rescue_adds_nothing_with_learn_allow_sender_off(st):
    st.ctl("domain", "set", "example.test", "learn-allow-sender", "off")
    try:
        rescue(st, "alice@example.test", "unwanted@news.example")
        settle()
        allow = entries(st, "alice@example.test", "allow")
        check("unwanted@news.example" not in allow,
              "sender allow-listed with learn-allow-sender off: %r" % allow)
        check("learn-allow-sender off" in st.tail("dovecot.log", 60),
              "the skip is not logged:\n%s" % st.tail("dovecot.log"))
    finally:
        st.ctl("domain", "set", "example.test", "learn-allow-sender", "on")


def main():
    return run_suite(tap)


if __name__ == "__main__":
    sys.exit(main())
