#!/usr/bin/env python3
"""End-to-end on PostgreSQL (issue 21): the database hangs, and policyd
answers all the same.  A stack on a private PostgreSQL
(OMAMORI_STORE=postgresql) whose policyd saves every second and looks for
changes every second.  The server is frozen (SIGSTOP on the postmaster and
every backend: it keeps its connections and never answers, the worst a
database can do to a client) for 12 s, while policy requests go straight
to policyd's socket: each is answered within a second with the right
action (a block-listed sender refused, an authenticated sender's
messages counted and its rate limit applied), although several save and
refresh timers pass.  After the thaw the messages counted during the
freeze reach the store's rate counters (each once), and a block entry
added then is enforced within a second.  A SIGTERM while the server is
frozen ends policyd within its bounded wait for the final save (10 s).
TAP output."""
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import EICAR, Tap, check, run_suite, until  # noqa: E402
from pg_outage import copies, first_attempt, mail, virus_mail  # noqa: E402

tap = Tap()
PG_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pg.py")
RUN = uuid.uuid4().hex[:6]
BLOCKED = "blocked-%s@freeze.example" % RUN
COUNTED = "dave-%s@rate.test" % RUN      # counted, far below its limit
LIMITED = "erin-%s@limit.test" % RUN     # 3 messages a day
FREEZE = 12.0
state = {}


def ask(st, sender, rcpt, login="", instance=None):
    """One request on a fresh connection to policyd: (answer, seconds)."""
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nsender=%s\n"
           "recipient=%s\nsasl_username=%s\ninstance=%s\nclient_address=127.0.0.1\n\n"
           % (sender, rcpt, login, instance or uuid.uuid4().hex[:12])).encode()
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", int(st.POLICY_PORT)), timeout=5)
    try:
        s.sendall(req)
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        data = ("error %s" % e).encode()
    finally:
        s.close()
    return data.decode(errors="replace").strip(), time.monotonic() - start


def freeze(st, stop):
    """tests/pg.py freeze (the postmaster first, then every backend) or
    thaw."""
    subprocess.run([sys.executable, PG_PY, "freeze" if stop else "thaw",
                    os.path.join(st.dir, "pg")], check=True)


def stored_messages(st, user):
    rows = st.sql("SELECT messages FROM rate_counters WHERE \"user\" = ?", (user,))
    return int(rows[0][0]) if rows else 0


@tap.case
def before_the_freeze(st):
    check(st.STORE == "postgresql", "STORE=%s" % st.STORE)
    st.ctl("list", "add", "alice@example.test", "block", BLOCKED)
    check(until(lambda: ask(st, BLOCKED, "alice@example.test")[0].startswith("action=REJECT"),
                5, 0.2) is not None, "the block entry was not enforced before the freeze")
    for _ in range(3):
        answer, _ = ask(st, COUNTED, "bob@example.test", COUNTED)
        check(answer == "action=DUNNO", "before: %s" % answer)
    check(until(lambda: stored_messages(st, COUNTED) == 3, 10, 0.2) is not None,
          "the first 3 messages did not reach the store: %d" % stored_messages(st, COUNTED))
    # alice's delivery process reads her subscriptions before the freeze
    w = uuid.uuid4().hex
    st.send(mail(w), ["alice@example.test"])
    check(until(lambda: copies(st, "alice@example.test", w) == 1, 40, 0.2) is not None,
          "alice's first message did not arrive")


@tap.case
def frozen_policyd_answers_every_request_within_a_second(st):
    pid = st.policyd_pid()
    freeze(st, True)
    try:
        answers(st, pid)
    finally:
        freeze(st, False)   # never a stopped server left behind


def answers(st, pid):
    start = time.monotonic()
    counted = limited = 0
    slowest = 0.0
    wrong = []
    while time.monotonic() - start < FREEZE:
        answer, took = ask(st, BLOCKED, "alice@example.test")
        slowest = max(slowest, took)
        if not answer.startswith("action=REJECT"):
            wrong.append("blocked sender: %s" % answer)
        answer, took = ask(st, COUNTED, "bob@example.test", COUNTED)
        slowest = max(slowest, took)
        counted += 1
        if answer != "action=DUNNO":
            wrong.append("counted sender: %s" % answer)
        if limited < 5:
            answer, took = ask(st, LIMITED, "bob@example.test", LIMITED)
            slowest = max(slowest, took)
            want = "action=DUNNO" if limited < 3 else "action=450 4.7.1"
            if not answer.startswith(want):
                wrong.append("limited sender's message %d: %s" % (limited + 1, answer))
            limited += 1
        time.sleep(0.2)
    state["counted"] = counted
    print("# %d rounds in %.0f s of freeze, slowest answer %.3f s"
          % (counted, FREEZE, slowest))
    check(wrong == [], wrong[:5])
    check(slowest < 1.0, "an answer took %.3f s" % slowest)
    os.kill(pid, 0)     # the same policyd all along
    check(st.policyd_pid() == pid, "policyd was restarted")


@tap.case
def frozen_mail_for_a_recipient_read_before_is_scanned_and_delivered(st):
    # alice's delivery process read her subscriptions before the freeze
    # (before_the_freeze); scand scans with its snapshot.  What a hung
    # store costs a delivery is bounded: the store calls a scan makes
    # beside its decision (the trace's events, the correspondents) wait at
    # most the store's answer deadline, then the reconnect pause skips them.
    # A list edit just before the freeze leaves every scand worker's
    # snapshot behind the store: each scan in the freeze tries to bring it
    # up to date first, and must give up in a moment and scan with it
    st.ctl("list", "add", "carol@example.test", "block", "edit-%s@freeze.example" % RUN)
    time.sleep(1.0)     # the change's notification reaches every listener
    markers = [uuid.uuid4().hex for _ in range(2)]
    freeze(st, True)
    try:
        start = time.monotonic()
        st.send(mail(markers[0]), ["alice@example.test"])
        st.send(virus_mail(markers[1]), ["alice@example.test"])
        done = until(lambda: all(first_attempt(st, m) is not None for m in markers), 120, 0.2)
        took = time.monotonic() - start
        results = [first_attempt(st, m) for m in markers]
    finally:
        freeze(st, False)
    print("# mail sent while the database hung: %s, %.1f s after it was sent"
          % (results, took))
    check(done is not None and results == ["sent", "sent"],
          "mail for alice while the database hung: %s after %.1f s" % (results, took))
    # each bounded wait is 2 s (the delivery plugin's and scand's store
    # checks, the correspondents): far below the stack's scan_timeout (30 s)
    check(took < 15, "the mail took %.1f s to go through a frozen store" % took)
    got = until(lambda: all(copies(st, "alice@example.test", m) == 1 for m in markers), 30, 0.5)
    check(got is not None, "not each once in alice's folders")
    inbox = [x for x in st.fetch_all("alice@example.test") if markers[1].encode() in x]
    check(len(inbox) == 1 and EICAR not in inbox[0], "the virus mail still carries EICAR")


@tap.case
def after_the_thaw_the_counts_reach_the_store_and_a_list_edit_is_enforced(st):
    want = 3 + state.get("counted", 0)
    took = until(lambda: stored_messages(st, COUNTED) >= want, 60, 0.5)
    got = stored_messages(st, COUNTED)
    check(took is not None and got == want,
          "rate counter in the store: %d, counted %d" % (got, want))
    print("# the freeze's %d messages reached the store %.1f s after the thaw"
          % (want - 3, took or -1))
    late = "late-%s@freeze.example" % RUN
    check(ask(st, late, "alice@example.test")[0] == "action=DUNNO", "refused before")
    st.ctl("list", "add", "alice@example.test", "block", late)
    took = until(lambda: ask(st, late, "alice@example.test")[0].startswith("action=REJECT"),
                 5, 0.05)
    check(took is not None and took < 1.0, "a list edit after the thaw enforced after %s s"
          % took)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@tap.case
def a_stop_while_frozen_waits_at_most_ten_seconds(st):
    pid = st.policyd_pid()
    freeze(st, True)
    try:
        start = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        gone = until(lambda: not alive(pid), 40, 0.1)
        took = time.monotonic() - start
    finally:
        freeze(st, False)
    print("# SIGTERM with the store frozen: policyd gone after %.1f s" % took)
    check(gone is not None and took < 12.0, "policyd still there %.1f s after SIGTERM" % took)
    st.restart_policyd()
    check(until(lambda: ask(st, BLOCKED, "alice@example.test")[0].startswith("action=REJECT"),
                10, 0.2) is not None, "the restarted policyd does not refuse the blocked sender")


def main():
    os.environ["OMAMORI_STORE"] = "postgresql"
    # one LMTP process: the one that read alice's subscriptions takes
    # every delivery (as in pg_outage.py)
    os.environ["OMAMORI_LMTP_PROCESS_LIMIT"] = "1"
    return run_suite(tap, extra_conf="policyd_save_interval = 1\n"
                     "policyd_refresh_interval = 1", setup=[
                         ("sub", "set", "alice@example.test", "inbound-virus", "on"),
                         ("sub", "set", "alice@example.test", "spam", "on"),
                         ("domain", "set", "rate.test", "rate-messages", "100000"),
                         ("domain", "set", "rate.test", "rate-window", "86400"),
                         ("domain", "set", "rate.test", "brake", "off"),
                         ("domain", "set", "limit.test", "rate-messages", "3"),
                         ("domain", "set", "limit.test", "rate-window", "86400"),
                         ("domain", "set", "limit.test", "brake", "off")])


if __name__ == "__main__":
    sys.exit(main())
