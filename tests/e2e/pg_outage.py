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
back, each message once.  After it: the learning is in the store, the
counts of the classifier moved by one, and a list edit is pushed to the
running policyd again (it connected and listened again by itself).
TAP output."""
import os
import smtplib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite, until  # noqa: E402

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
    for m in markers:
        try:
            st.send(mail(m), ["alice@example.test"])
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
    time.sleep(3)
    delivered = {m: copies(st, "alice@example.test", m) for m in markers}
    print("# while the database was away: %d of 3 delivered at once, the rest in "
          "Postfix's queue" % sum(delivered.values()))
    check(all(c <= 1 for c in delivered.values()), "copies: %r" % delivered)


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
    return run_suite(tap, extra_conf="spam_save_interval = 2")


if __name__ == "__main__":
    sys.exit(main())
