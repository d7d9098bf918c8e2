#!/usr/bin/env python3
"""End-to-end on PostgreSQL (issue 21): the database goes away and comes
back.  A stack on a private PostgreSQL (OMAMORI_STORE=postgresql); the
server is stopped at once, as a crash would (tests/pg.py pause: pg_ctl
-m immediate, data kept), and started again on its port (resume).
While it is away: policyd answers from memory (a block-listed sender is
still refused, anyone else accepted), a message moved into Junk is learned
by scand in memory, omamorictl says plainly that the store cannot be
reached, and mail sent meanwhile is never lost: delivered at once or
deferred by the delivery (LMTP 4xx) and delivered when the database is
back, each message once.  A delivery process that had read alice's
subscriptions before goes on with them: scand scans with its snapshot
(an EICAR attachment is removed while the database is away); a new
delivery process started meanwhile (the old one ended) asks scand for
alice's subscriptions and delivers as promptly; and spam
that would go to Quarantine is deferred until the store can record it
(digests and omamori-web list Quarantine from the store), and so is mail
whose Sieve script asks omamori_listed (the list cannot be read; it is
never filed as if the sender were on no list).  After it: the learning is in the store, the
counts of the classifier moved by one, and a list edit is pushed to the
running policyd again (it connected and listened again by itself).
TAP output."""
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import EICAR, Tap, check, run_suite, until  # noqa: E402
from sieve import REQ, install_script  # noqa: E402

tap = Tap()
HERE = os.path.dirname(os.path.abspath(__file__))
PG_PY = os.path.join(os.path.dirname(HERE), "pg.py")
BLOCKED = "blocked-%s@outage.example" % uuid.uuid4().hex[:6]
# what the outage cases leave for the ones after it
state = {}


def pg(st, what):
    subprocess.run([sys.executable, PG_PY, what, os.path.join(st.dir, "pg")], check=True)


def refused_for(st, sender, rcpt):
    """policyd's answer to RCPT (nothing is sent): 'refused' (5xx),
    'deferred' (4xx) or 'accepted'."""
    code = st.rcpt_code(sender, rcpt)
    return "refused" if 500 <= code < 600 else "deferred" if 400 <= code < 500 else "accepted"


def mail(marker, to="alice@example.test"):
    return ("From: friend@remote.test\nTo: %s\nSubject: outage %s\n"
            "Message-ID: <%s@remote.test>\n\nsent while the database was away: %s\n"
            % (to, marker, marker, marker)).encode()


def copies(st, user, marker):
    return sum(1 for box in ("INBOX", "Junk", "Quarantine")
               for m in st.fetch_all(user, box) if marker.encode() in m)


def virus_mail(marker):
    return ("From: friend@remote.test\nTo: alice@example.test\nSubject: outage virus %s\n"
            "Message-ID: <%s@remote.test>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
            "see the attachment %s\n--b\nContent-Type: application/octet-stream; name=x.com\n"
            "Content-Disposition: attachment; filename=x.com\n\n"
            % (marker, marker, marker)).encode() + EICAR + b"\n--b--\n"


def spam_mail(marker):
    return ("From: friend@remote.test\nTo: alice@example.test\nSubject: outage spam %s\n"
            "Message-ID: <%s@remote.test>\n\n%s\nXJS*C4JDBQADN1.NSBN3*2IDNEN*"
            "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n" % (marker, marker, marker)).encode()


def where(st, user, marker):
    """The folders holding marker's message, one entry per copy."""
    return [box for box in ("INBOX", "Junk", "Quarantine", "Friends")
            for m in st.fetch_all(user, box) if marker.encode() in m]


def first_attempt(st, marker):
    """Postfix's first LMTP result for marker's message: 'sent',
    'deferred', ... or None (not tried yet)."""
    qid = None
    with open(st.MAILLOG, errors="replace") as f:
        for line in f:
            if qid is None and ("message-id=<%s@" % marker) in line:
                qid = line.split(": ")[1]
            elif qid is not None and (" %s: to=<" % qid) in line and "postfix/lmtp" in line:
                return line.split("status=")[1].split()[0]
    return None


def sent_at_once(st, marker):
    return first_attempt(st, marker) == "sent"


def send_one_by_one(st, messages):
    """Sends each message once the one before it was tried by the delivery
    (the one LMTP process of this stack takes each)."""
    for marker, raw in messages:
        st.send(raw, ["alice@example.test"])
        check(until(lambda: first_attempt(st, marker) is not None, 30, 0.1) is not None,
              "no delivery attempt for %s" % marker)


def nspam(st):
    rows = st.sql("SELECT nspam FROM spam_totals WHERE id = 1")
    return int(rows[0][0]) if rows else 0   # no row until something is learned


@tap.case
def before_the_outage(st):
    check(st.STORE == "postgresql", "STORE=%s" % st.STORE)
    st.ctl("list", "add", "alice@example.test", "block", BLOCKED)
    check(until(lambda: refused_for(st, BLOCKED, "alice@example.test") == "refused", 5, 0.2)
          is not None, "the block entry was not enforced before the outage")
    # a message bob will move into Junk while the database is away
    m = uuid.uuid4().hex
    st.send(mail(m, "bob@example.test"), ["bob@example.test"])
    check(until(lambda: copies(st, "bob@example.test", m) == 1, 40, 0.2) is not None,
          "bob's message did not arrive")
    state["junk"] = m
    state["nspam"] = nspam(st)
    # carol files her friends' mail with Sieve, from her own allow list
    st.ctl("list", "add", "carol@example.test", "allow", "friend@remote.test")
    install_script(st, "carol@example.test", REQ.replace('"fileinto"', '"fileinto", "mailbox"') +
                   'if omamori_listed :allow { fileinto :create "Friends"; }\n')
    f = uuid.uuid4().hex
    st.send(mail(f, "carol@example.test"), ["carol@example.test"],
            sender="friend@remote.test")
    check(until(lambda: where(st, "carol@example.test", f) == ["Friends"], 40, 0.2)
          is not None, "carol's Sieve did not file her friend's mail before the outage: %r"
          % where(st, "carol@example.test", f))
    # alice's delivery process reads her subscriptions (main()'s setup)
    # once before, after the last change (a change empties its cache)
    w = uuid.uuid4().hex
    st.send(mail(w), ["alice@example.test"])
    check(until(lambda: copies(st, "alice@example.test", w) == 1, 40, 0.2) is not None,
          "alice's first message did not arrive")
    # another mailbox's settings change, and the delivery process sees it
    # (a delivery to dave) before the outage: it forgets dave's answers
    # only, not alice's
    st.ctl("mailbox", "set", "dave@example.test", "spam-action", "tag")
    d = uuid.uuid4().hex
    st.send(mail(d, "dave@example.test"), ["dave@example.test"])
    check(until(lambda: copies(st, "dave@example.test", d) == 1, 40, 0.2) is not None,
          "dave's message did not arrive")


@tap.case
def while_away_policyd_answers_from_memory(st):
    pg(st, "pause")
    state["paused"] = time.time()
    time.sleep(2)   # every daemon has met the lost connection
    check(refused_for(st, BLOCKED, "alice@example.test") == "refused",
          "the block-listed sender was not refused from memory")
    answer = refused_for(st, "friend@remote.test", "alice@example.test")
    check(answer == "accepted", "another sender's RCPT was %s" % answer)


@tap.case
def while_away_omamorictl_says_the_store_is_unreachable(st):
    p = st.ctl("list", "add", "alice@example.test", "block", "x@late.example", check=False)
    err = p.stderr.decode()
    check(p.returncode != 0, "omamorictl succeeded without its store")
    check("postgresql" in err.lower() or "connect" in err.lower(),
          "omamorictl's error does not say why: %r" % err)


@tap.case
def while_away_mail_is_accepted_and_a_junk_move_is_learned(st):
    markers = [uuid.uuid4().hex for _ in range(3)]
    state["virus"], state["spam"] = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        send_one_by_one(st, [(m, mail(m)) for m in markers] +
                        [(state["virus"], virus_mail(state["virus"])),
                         (state["spam"], spam_mail(state["spam"]))])
    except smtplib.SMTPException as e:
        raise AssertionError("Postfix refused mail while the database was away: %r" % e)
    state["mail"] = markers
    imap = st.imap("bob@example.test")
    try:
        imap.create("Junk")
        imap.select("INBOX")
        typ, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", state["junk"])
        uids = data[0].split()
        check(len(uids) == 1, "bob's message not in INBOX: %r" % data)
        typ, resp = imap.uid("MOVE", uids[0], "Junk")
        check(typ == "OK", "the move into Junk failed while the database was away: %r" % resp)
    finally:
        imap.logout()
    time.sleep(1)
    delivered = {m: copies(st, "alice@example.test", m) for m in markers}
    print("# while the database was away: %d of 3 messages delivered at once (the "
          "delivery process had read alice's subscriptions before)" % sum(delivered.values()))
    check(all(c <= 1 for c in delivered.values()), "copies: %r" % delivered)
    check(all(sent_at_once(st, m) and delivered[m] == 1 for m in markers),
          "alice's delivery process had read her subscriptions, yet nothing was delivered "
          "while the database was away: %r, sent at once %r"
          % (delivered, [sent_at_once(st, m) for m in markers]))
    inbox = [m for m in st.fetch_all("alice@example.test") if state["virus"].encode() in m]
    check(sent_at_once(st, state["virus"]) and len(inbox) == 1,
          "the virus mail was not delivered while the database was away: %s, %d in INBOX"
          % (first_attempt(st, state["virus"]), len(inbox)))
    check(EICAR not in inbox[0], "the virus mail delivered while the database was away "
          "still carries EICAR")
    print("# the EICAR mail sent meanwhile was scanned with what scand had: delivered "
          "at once, its attachment removed")
    saved = where(st, "alice@example.test", state["spam"])
    check(saved == [], "spam for Quarantine saved (in %s) while the store could not record "
          "it; its first LMTP result: %s" % (saved, first_attempt(st, state["spam"])))
    check(not sent_at_once(st, state["spam"]), "the spam was not deferred")
    print("# spam for Quarantine deferred while the store cannot record it")
    state["friend"] = uuid.uuid4().hex
    st.send(mail(state["friend"], "carol@example.test"), ["carol@example.test"],
            sender="friend@remote.test")
    check(until(lambda: first_attempt(st, state["friend"]) is not None, 30, 0.1) is not None,
          "no delivery attempt for carol's mail")
    time.sleep(1)
    check(where(st, "carol@example.test", state["friend"]) == [] and
          not sent_at_once(st, state["friend"]),
          "carol's mail, whose Sieve asks her allow list, was not deferred while the list "
          "could not be read: %s, in %r" % (first_attempt(st, state["friend"]),
                                            where(st, "carol@example.test", state["friend"])))
    print("# mail whose Sieve script asks omamori_listed deferred while the list cannot "
          "be read")


def lmtp_pids(st):
    """This stack's LMTP processes alive now, from its dovecot log's
    "lmtp(PID)" and "<PID><session>" line prefixes."""
    pids = set()
    with open(os.path.join(st.dir, "log", "dovecot.log"), errors="replace") as f:
        for line in f:
            for m in re.finditer(r"lmtp\((\d+)\)|lmtp\([^)]*\)<(\d+)>", line):
                pids.add(int(m.group(1) or m.group(2)))
    alive = set()
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"lmtp" in f.read():
                    alive.add(pid)
        except OSError:
            pass
    return alive


@tap.case
def while_away_a_new_delivery_process_asks_scand(st):
    old = lmtp_pids(st)
    check(len(old) == 1, "not one LMTP process of this stack alive: %r" % old)
    pid = old.pop()
    logpath = os.path.join(st.dir, "log", "dovecot.log")
    start = os.path.getsize(logpath)
    os.kill(pid, signal.SIGTERM)
    check(until(lambda: not os.path.exists("/proc/%d" % pid), 10, 0.05) is not None,
          "the LMTP process %d did not end" % pid)
    print("# the LMTP process that had read alice's subscriptions ended (pid %d)" % pid)
    clean, virus = uuid.uuid4().hex, uuid.uuid4().hex
    state["new_process"] = [clean, virus]
    send_one_by_one(st, [(clean, mail(clean)), (virus, virus_mail(virus))])
    time.sleep(1)
    check(sent_at_once(st, clean) and copies(st, "alice@example.test", clean) == 1,
          "a new delivery process did not deliver alice's clean mail at once while the "
          "database was away: first attempt %s, %d copies"
          % (first_attempt(st, clean), copies(st, "alice@example.test", clean)))
    inbox = [m for m in st.fetch_all("alice@example.test") if virus.encode() in m]
    check(sent_at_once(st, virus) and len(inbox) == 1,
          "a new delivery process did not deliver the EICAR mail at once: %s, %d in INBOX"
          % (first_attempt(st, virus), len(inbox)))
    check(EICAR not in inbox[0], "the EICAR mail delivered by the new process still "
          "carries EICAR")
    with open(logpath, errors="replace") as f:
        f.seek(start)
        lines = [l for l in f.read().splitlines()
                 if "the subscriptions of alice@example.test from scand" in l]
    check(len(lines) == 1, "the new process's 'from scand' line, once: %r" % lines)
    check(("(%d)" % pid) not in lines[0] and ("<%d>" % pid) not in lines[0],
          "the 'from scand' line is the old process's: %s" % lines[0])
    print("# a delivery process started while the database was away asked scand for "
          "alice's subscriptions: the clean mail and the EICAR mail (its attachment "
          "removed) delivered at once")


@tap.case
def after_it_nothing_is_lost_and_changes_are_pushed_again(st):
    pg(st, "resume")
    resumed = time.time()
    print("# the database was away %.1f s" % (resumed - state["paused"]))
    markers = state["mail"]

    def all_once():
        st.flush()
        return all(copies(st, "alice@example.test", m) == 1 for m in markers)
    took = until(all_once, 90, step=1)
    check(took is not None, "not every message arrived once: %r; queue:\n%s" % (
        {m: copies(st, "alice@example.test", m) for m in markers}, st.queue()))
    print("# every message sent during the outage delivered once, %.1f s after the "
          "database came back" % took)
    took = until(lambda: (st.flush(), where(st, "alice@example.test", state["spam"]))[1]
                 == ["Quarantine"], 60, step=1)
    check(took is not None, "the deferred spam is not in Quarantine once: %r"
          % where(st, "alice@example.test", state["spam"]))
    listed = st.ctl("quarantine", "list", "alice@example.test").stdout.decode()
    check(("outage spam %s" % state["spam"]) in listed,
          "the spam in Quarantine is not listed by omamorictl quarantine list:\n%s" % listed)
    inbox = [m for m in st.fetch_all("alice@example.test") if state["virus"].encode() in m]
    check(len(inbox) == 1 and EICAR not in inbox[0], "the virus mail: %d copies, EICAR %s"
          % (len(inbox), any(EICAR in m for m in inbox)))
    print("# the deferred spam is in Quarantine and listed; the virus mail arrived once, "
          "without EICAR")
    took = until(lambda: (st.flush(), where(st, "carol@example.test", state["friend"]))[1]
                 == ["Friends"], 60, step=1)
    check(took is not None, "carol's deferred mail is not in Friends once: %r"
          % where(st, "carol@example.test", state["friend"]))
    print("# carol's deferred mail filed by her Sieve into Friends once, %.1f s after" % took)
    took = until(lambda: nspam(st) == state["nspam"] + 1, 30, step=0.5)
    check(took is not None, "the Junk move made while away was not saved: nspam %d, was %d"
          % (nspam(st), state["nspam"]))
    print("# the Junk move made while away reached the store %.1f s after it came back" % took)
    sender = "late-%s@outage.example" % uuid.uuid4().hex[:6]
    st.ctl("list", "add", "alice@example.test", "block", sender)
    took = until(lambda: refused_for(st, sender, "alice@example.test") == "refused", 10,
                 step=0.05)
    check(took is not None and took < 2, "a list edit after the outage was enforced after %s s"
          % took)
    print("# a list edit after the outage enforced %.3f s after omamorictl returned" % took)


def main():
    os.environ["OMAMORI_STORE"] = "postgresql"
    # one LMTP process: the one that read alice's subscriptions before the
    # outage takes every delivery (a process started during the outage,
    # with nothing read, asks scand: doc/store.md)
    os.environ["OMAMORI_LMTP_PROCESS_LIMIT"] = "1"
    # set up at the start, so that every scand worker has read them long
    # before the outage (an idle worker looks for changes once a second)
    return run_suite(tap, extra_conf="spam_save_interval = 2", setup=[
        ("sub", "set", "alice@example.test", "inbound-virus", "on"),
        ("sub", "set", "alice@example.test", "spam", "on"),
        ("mailbox", "set", "alice@example.test", "spam-action", "quarantine")])


if __name__ == "__main__":
    sys.exit(main())
