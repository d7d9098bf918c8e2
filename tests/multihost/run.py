#!/usr/bin/env python3
"""tests/multihost - three mail hosts on one PostgreSQL (issue 21 item 3).

Hosts A, B and C are three tests/stack stacks, each its own Postfix,
Dovecot (with the omamori plugins), omamori-policyd, -scand, -web, -filter,
-dedup and -submit, with its own configuration, spool and mail store, bound
to its own loopback address (127.0.0.11, .12, .13: OMAMORI_STACK_ADDR), and
one PostgreSQL started here (tests/pg.py) that all three join
(OMAMORI_PG_CONNINFO).  The hosts share their link keys (OMAMORI_KEYS_FROM),
as a site's hosts do.  The cases check what an ISP running several hosts
would: mail to every host lands in that host's mailboxes; a block-list edit
made on A is enforced by C's policyd within a second; the classifier
trained through B scores a message on A as on B; a hold made on A is
released from C's web page and reaches the Internet once; a host killed
with SIGKILL while mail is sent loses none.  TAP output; times and counts
as comments.  Needs root, like the e2e tests.
"""
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
sys.path.insert(0, os.path.dirname(HERE))
from omtest import (BUILDDIR, STACK, Stack, Tap, check, decoded, until,  # noqa: E402
                    forms_of, header_of, http, require_root, sink, sure_fixtures,
                    train_classifier, wait_mail)
import pg  # noqa: E402  (tests/pg.py)

ADDRS = {"A": "127.0.0.11", "B": "127.0.0.12", "C": "127.0.0.13"}
# policyd looks at the store once an hour by itself: what it enforces
# within a second was pushed to it (LISTEN/NOTIFY)
CONF = "policyd_refresh_interval = 3600"


class Gap(AssertionError):
    """A case failing on a known product gap: reported "not ok # TODO"
    (automake counts it XFAIL, never a pass; once the gap is closed the
    case passes as XPASS, which fails make check until the mark goes)."""


class HostTap(Tap):
    def run(self, *args):
        print("1..%d" % len(self.cases), flush=True)
        failed = 0
        for n, fn in enumerate(self.cases, 1):
            try:
                fn(*args)
                print("ok %d - %s" % (n, fn.__name__), flush=True)
            except Gap as e:
                print("not ok %d - %s # TODO %s" % (n, fn.__name__, str(e).splitlines()[0]),
                      flush=True)
                for line in str(e).splitlines()[1:]:
                    print("# " + line, flush=True)
            except Exception:  # a failed check or a broken server alike
                failed += 1
                print("not ok %d - %s" % (n, fn.__name__), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
        return 1 if failed else 0


tap = HostTap()


class Host(Stack):
    """One mail host: a stack on its own address, on the shared store."""

    def __init__(self, name, addr, conninfo, keys_from=None):
        self.name = name
        super().__init__(extra_conf=CONF, prefix="omamori-mh-%s-" % name,
                         env_extra={"OMAMORI_STACK_ADDR": addr,
                                    "OMAMORI_PG_CONNINFO": conninfo,
                                    "OMAMORI_KEYS_FROM": keys_from,
                                    "OMAMORI_STORE": None})
        check(self.addr == addr, "host %s on %s" % (name, self.addr))

    # Stack's clients (send, imap, smtp) reach this host's address

    def stack(self, *args):
        env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
        subprocess.run([STACK] + list(args) + [self.dir], env=env, check=True,
                       stdout=subprocess.DEVNULL)


def mk():
    return uuid.uuid4().hex


def plain(m, to="alice@example.test", frm="sender@remote.test", subject="multihost"):
    return ("From: %s\nTo: %s\nSubject: %s %s\nMessage-ID: <%s@remote.test>\n\n"
            "body %s\n" % (frm, to, subject, m, m, m)).encode()


def count_in(h, user, m, mailbox="INBOX"):
    return sum(1 for x in h.fetch_all(user, mailbox) if m.encode() in x)


# --- 1 -----------------------------------------------------------------------
@tap.case
def mail_to_every_host_lands_in_its_own_mailboxes(hosts):
    marks = {}
    for name, h in hosts.items():
        m = mk()
        marks[name] = m
        refused = h.send(plain(m, "alice@example.test, bob@example.test"),
                         ["alice@example.test", "bob@example.test"])
        check(refused == {}, "host %s refused %r" % (name, refused))
    started = time.time()
    for name, h in hosts.items():
        for user in ("alice@example.test", "bob@example.test"):
            h.wait_for(user, marks[name].encode())
    took = time.time() - started
    for name, h in hosts.items():
        for other, m in marks.items():
            n = count_in(h, "alice@example.test", m)
            check(n == (1 if other == name else 0),
                  "%s's alice has %d copies of the mail sent to %s" % (name, n, other))
    print("# 3 hosts x 2 mailboxes: each copy in its host's own Dovecot, "
          "none in another's; all read over IMAP %.2f s after the last send" % took)


# --- 2 -----------------------------------------------------------------------
def refused_for(h, sender, rcpt):
    """Whether h's policyd refuses sender's mail to rcpt (RCPT 5xx)."""
    return 500 <= h.rcpt_code(sender, rcpt) < 600


@tap.case
def a_block_edit_on_a_is_enforced_by_c_within_a_second(hosts):
    a, c = hosts["A"], hosts["C"]
    sender = "spammer-%s@push.example" % mk()[:8]
    check(not refused_for(c, sender, "alice@example.test"), "C refused before the entry")
    a.ctl("list", "add", "alice@example.test", "block", sender)
    took = until(lambda: refused_for(c, sender, "alice@example.test"), 5)
    check(took is not None and took < 1.0,
          "C's policyd enforced A's entry after %s s" % took)
    print("# block entry added with A's omamorictl, enforced by C's policyd "
          "%.3f s later" % took)
    a.ctl("list", "del", "alice@example.test", "block", sender)
    gone = until(lambda: not refused_for(c, sender, "alice@example.test"), 5)
    check(gone is not None and gone < 1.0, "C dropped the entry after %s s" % gone)
    print("# removed with A's omamorictl, C accepts again %.3f s later" % gone)


# --- 3 -----------------------------------------------------------------------
def scan_score(h, raw):
    """omamorictl scan on host h (its own scand): (verdict, score)."""
    import json
    proc = h.ctl("scan", "--mailbox", "alice@example.test", "-", check=False, stdin=raw)
    check(proc.returncode in (0, 1), "scan on %s failed: %s" % (h.name, proc.stderr.decode()))
    res = json.loads(proc.stdout)
    return res["verdict"], res["score"]


@tap.case
def the_classifier_trained_through_b_scores_the_same_on_a(hosts):
    a, b = hosts["A"], hosts["B"]
    b.ctl("sub", "set", "alice@example.test", "spam", "on")
    b.ctl("domain", "set", "example.test", "spam-action", "tag")
    # the fixture set learned with B's omamorictl, into B's scand
    started = time.time()
    train_classifier(b)
    trained = time.time()
    want = re.findall(r"classifier reloaded: \d+ spam, \d+ ham", b.scand_log())[-1]
    took = until(lambda: want in a.scand_log(), 30, 0.1)
    # pushed (the ":spam" notification wakes A's scand within its
    # second's tick), not found at its save timer (10 s)
    check(took is not None and took < 3, "A's scand loaded %r after %s s" % (want, took))
    print("# trained through B in %.1f s (%s); A's scand loaded the same %.2f s later"
          % (trained - started, want, took))
    raws = (sure_fixtures(b, "spam", "en", True)[0], sure_fixtures(b, "ham", "en", False)[0])
    for raw, kind in zip(raws, ("spam", "ham")):
        on_a, on_b = scan_score(a, raw), scan_score(b, raw)
        check(on_a == on_b, "%s fixture: A scores %r, B %r" % (kind, on_a, on_b))
        m = mk()
        tagged = b"X-Multihost: " + m.encode() + b"\n" + raw
        for h in (a, b):
            check(h.send(tagged, ["alice@example.test"]) == {}, "refused")
        got = [wait_mail(h, "alice@example.test", lambda x: m.encode() in x,
                         "the %s fixture %s" % (kind, m)) for h in (a, b)]
        ha, hb = (header_of(g, "X-Omamori-Spam") for g in got)
        check(ha and ha == hb, "X-Omamori-Spam on A %r, on B %r" % (ha, hb))
        check(ha.startswith("yes;" if kind == "spam" else "no;"), "%s: %s" % (kind, ha))
        print("# %s fixture: scand on A and on B: %s score %s; delivered on both with "
              "X-Omamori-Spam: %s" % (kind, on_a[0], on_a[1], ha))


# --- 4 -----------------------------------------------------------------------
SENDER = "carol@example.test"
OUTSIDE = "ext@far.example"


def hold_id(h, m):
    for line in h.ctl("hold", "list", SENDER).stdout.decode().splitlines():
        if m in line:
            return line.split("\t")[0]
    return None


def hold_state(h, hid):
    out = h.ctl("hold", "show", hid).stdout.decode()
    return re.search(r"^state: (\S+)", out, re.M).group(1)


def at_sinks(hosts, m):
    return {name: len(sink(h, m)) for name, h in hosts.items()}


@tap.case
def a_hold_made_on_a_is_released_from_cs_web_and_sent_once(hosts):
    a, c = hosts["A"], hosts["C"]
    a.ctl("sub", "set", SENDER, "outbound-hold", "on")
    a.ctl("domain", "set", "example.test", "hold-minutes", "5")
    time.sleep(1.6)
    m = mk()
    raw = ("From: %s\nTo: %s\nSubject: hold %s\nMessage-ID: <%s@example.test>\n\n"
           "body %s\n" % (SENDER, OUTSIDE, m, m, m)).encode()
    with a.smtp(login=SENDER) as s:
        check(s.sendmail(SENDER, [OUTSIDE], raw) == {}, "refused")
    check(until(lambda: hold_id(a, m), 40, 0.3) is not None,
          "no hold on A; filter log:\n%s" % a.tail("filter.log", 30))
    hid = hold_id(a, m)
    check(hold_id(c, m) == hid, "C's omamorictl does not see A's hold")
    notice = wait_mail(a, SENDER, lambda x: header_of(x, "X-Omamori-Hold") and m in decoded(x),
                       "hold notice for %s" % m)
    links = re.findall(r"https?://[0-9.]+:\d+/h/[A-Za-z0-9_.~-]+", decoded(notice))
    check(links and links[0].startswith(a.WEB_URL), "links: %r" % links)
    on_c = c.WEB_URL + links[0][len(a.WEB_URL):]
    time.sleep(2)
    check(sum(at_sinks(hosts, m).values()) == 0, "sent before the release")
    status, _, page = http(on_c)
    check(status == 200 and m in page, "GET on C: %d" % status)
    send = [f for f in forms_of(page) if f["op"] == "send"]
    check(send, "no send form on C's page")
    fields = dict(send[0]["fields"], op="send")
    status, _, result = http(urllib.parse.urljoin(on_c, send[0]["action"]), fields)
    took = until(lambda: sum(at_sinks(hosts, m).values()) >= 1, 20, 0.3)
    # C's filter asks A through the store; the page says it is being sent
    check(status == 200, "POST send on C: %d\n%s" % (status, result[:600]))
    check("within seconds" in result or "数秒以内に送信します" in result,
          "C's page does not say the mail is being sent:\n%s" % result[:600])
    check(took is not None, "never at a sink; state on A: %s; C's filter log:\n%s\n"
          "A's filter log:\n%s" % (hold_state(a, hid), c.tail("filter.log", 20),
                                   a.tail("filter.log", 20)))
    check(("hold %s: release asked of the node holding its copy" % hid)
          in c.tail("filter.log", 200), "C's filter did not ask A")
    check(("hold %s: release asked by another node" % hid) in a.tail("filter.log", 200),
          "A's filter did not take C's request")
    time.sleep(3)
    counts = at_sinks(hosts, m)
    check(sum(counts.values()) == 1 and counts["A"] == 1,
          "copies at the sinks (A's Postfix sends it): %r" % counts)
    check(hold_state(a, hid) == "sent", "state: %s" % hold_state(a, hid))
    status, _, _ = http(urllib.parse.urljoin(on_c, send[0]["action"]), fields)
    check(status in (403, 409), "the same POST again on C: %d" % status)
    time.sleep(1)
    check(at_sinks(hosts, m) == counts, "sent again: %r" % at_sinks(hosts, m))
    print("# hold %s made on A, released on C's page (signed link, POST + CSRF): at the "
          "Internet %.2f s later, copies per host's sink %r" % (hid, took, counts))


# --- 5 -----------------------------------------------------------------------
def descendants(pid):
    """pid and every process below it."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def read_pid(path):
    with open(path) as f:
        return int(f.read().split()[0])


def daemon_pids(h):
    """The host's daemons by name: Postfix's and Dovecot's masters and every
    process tests/stack started (policyd, scand, filter, dedup, submit, web,
    the sink, the DNS server); those running."""
    pids = {}
    where = {"postfix": ("postfix", "spool", "pid", "master.pid"),
             "dovecot": ("dovecot", "run", "master.pid")}
    for name in sorted(os.listdir(os.path.join(h.dir, "run"))):
        if name.endswith(".pid"):
            where[name[:-4]] = ("run", name)
    for name, path in where.items():
        try:
            pid = read_pid(os.path.join(h.dir, *path))
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            continue
        pids[name] = pid
    return pids


def kill_host(h, parts):
    """SIGKILL to the host's parts (postfix, dovecot, policyd, scand), with
    every process they started; how many processes."""
    running = daemon_pids(h)
    roots = [running[p] for p in parts]
    pids = [p for r in roots for p in descendants(r)]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def queued_markers(h, markers):
    """The markers found in the files of h's Postfix queue."""
    found = set()
    spool = os.path.join(h.dir, "postfix", "spool")
    for q in ("maildrop", "incoming", "active", "deferred", "hold"):
        for root, _, files in os.walk(os.path.join(spool, q)):
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                found.update(m for m in markers if m.encode() in data)
    return found


class Sender(threading.Thread):
    """Sends count messages to one host, one every gap seconds; a message
    the host did not take (refused connection, dropped session, 4xx) is
    sent again until it is, as a sending MTA retries."""

    def __init__(self, h, count, gap=0.1):
        super().__init__()
        self.h, self.count, self.gap = h, count, gap
        self.fate = []      # [marker, rcpt, attempts, accepted at, errors]
        self.sent = 0

    def run(self):
        t0 = time.time()
        for i in range(self.count):
            m = mk()
            rcpt = ("alice@example.test", "dave@example.test")[i % 2]
            entry = [m, rcpt, 0, None, []]
            self.fate.append(entry)
            while entry[3] is None and time.time() - t0 < 90:
                entry[2] += 1
                try:
                    check(self.h.send(plain(m, rcpt), [rcpt]) == {}, "refused")
                    entry[3] = time.time()
                except (OSError, smtplib.SMTPException, AssertionError) as e:
                    entry[4].append(type(e).__name__)
                    time.sleep(0.3)
            self.sent += 1
            time.sleep(self.gap)


@tap.case
def a_host_killed_mid_run_loses_no_mail(hosts):
    b = hosts["B"]
    per_host = 24
    senders = {name: Sender(h, per_host) for name, h in hosts.items()}
    for s in senders.values():
        s.start()
    check(until(lambda: senders["B"].sent >= per_host // 3, 60, 0.05) is not None,
          "B's sender did not get going")
    # Dovecot and scand first, Postfix and policyd a second later: what
    # Postfix took meanwhile waits in its queue when it dies too
    killed_at = time.time()
    n = kill_host(b, ("dovecot", "scand"))
    sent_before = senders["B"].sent
    time.sleep(1.0)
    n += kill_host(b, ("postfix", "policyd"))
    sent_at_kill = senders["B"].sent
    mine = [e[0] for e in senders["B"].fate]
    in_queue = queued_markers(b, mine)
    time.sleep(3)
    b.stack("restart-scand")
    b.stack("start-dovecot")
    b.stack("restart-policyd")
    b.stack("start-postfix")
    down = time.time() - killed_at
    for s in senders.values():
        s.join()
    fates = [(name, e) for name, s in senders.items() for e in s.fate]
    check(all(e[3] is not None for _, e in fates), "not taken by a host: %r" %
          [e[0] for _, e in fates if e[3] is None])

    def copies():
        out = {}
        for name, h in hosts.items():
            for user in ("alice@example.test", "dave@example.test"):
                boxes = h.fetch_all(user) + h.fetch_all(user, "Quarantine")
                for fname, e in fates:
                    if fname == name and e[1] == user:
                        out[e[0]] = sum(1 for x in boxes if e[0].encode() in x)
        return out
    took = until(lambda: all(v >= 1 for v in copies().values()), 60, 1)
    time.sleep(3)
    got = copies()
    print("# B killed with SIGKILL (%d processes): Dovecot and scand after %d of its %d "
          "messages, Postfix and policyd 1 s later after %d; down %.1f s; in B's Postfix "
          "queue files at the kill: %d" % (n, sent_before, per_host, sent_at_kill, down,
                                            len(in_queue)))
    for name, e in fates:
        if name == "B" or e[2] > 1:
            print("#   %s %s to %-18s attempts %d%s%s -> %d cop%s" % (
                name, e[0][:8], e[1], e[2],
                " (%s)" % ",".join(sorted(set(e[4]))) if e[4] else "",
                " queued at the kill" if e[0] in in_queue else "",
                got.get(e[0], 0), "y" if got.get(e[0], 0) == 1 else "ies"))
    retried = sum(1 for _, e in fates if e[2] > 1)
    print("# %d messages to 3 hosts, %d sent again by the sender; delivered once: %d, "
          "twice or more: %d, lost: %d; all in %.1f s after the restart"
          % (len(fates), retried, sum(1 for v in got.values() if v == 1),
             sum(1 for v in got.values() if v > 1), sum(1 for v in got.values() if v == 0),
             took if took is not None else -1))
    check(took is not None and all(v == 1 for v in got.values()),
          "copies: %r" % {k[:8]: v for k, v in got.items() if v != 1})


def main():
    require_root()
    started = time.time()
    server = pg.PgServer(max_connections=900)
    hosts = {}
    try:
        server.start()
        print("# one PostgreSQL: %s" % server.conninfo, flush=True)
        for name, addr in ADDRS.items():
            keys = os.path.join(hosts["A"].dir, "etc") if hosts else None
            hosts[name] = Host(name, addr, server.conninfo, keys)
        print("# 3 hosts up in %.1f s: %s" % (time.time() - started, ", ".join(
            "%s %s (smtp %s, imap %s, web %s)" % (n, h.STACK_ADDR, h.SMTP_PORT, h.IMAP_PORT,
                                                   h.WEB_PORT) for n, h in hosts.items())),
              flush=True)
        rc = tap.run(hosts)
        print("# PostgreSQL connections at the end: %s" %
              server.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'omamori'"),
              flush=True)
        print("# whole run %.1f s" % (time.time() - started))
        return rc
    finally:
        for h in hosts.values():
            h.down()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
