#!/usr/bin/env python3
"""Fault: every message counted, through the real stack, while it fails.

A mixed load goes in from several SMTP clients at once (threads): clean
English and Japanese mail, Japanese spam, EICAR as an attachment, in the
body and in a zip, and messages over the part limit (1 200 MIME parts), each
with its own marker in the Subject, the Message-ID and (where the body
allows) the body; some go to two mailboxes in one transaction.  The
mailboxes are subscribed to inbound-virus and spam: alice and carol
quarantine spam, bob tags it.  While the load runs, in this order:

1. omamori-scand is killed with SIGKILL while a scan is in flight and
   restarted a few seconds later;
2. the store is locked: a sqlite3 process holds BEGIN EXCLUSIVE longer than
   store_busy_timeout_ms (1000 here); the store is in WAL mode, so writers
   (omamorictl, policyd's counters) wait that long and fail, while delivery,
   which only reads, goes on;
3. carol's mail store is full from before the first message (a small tmpfs
   over her home, filled to the last byte) until the filler is deleted;

and all along an administrator runs `omamorictl learn` and `omamorictl list
add/del`.  Then Postfix's queue is flushed until empty, and every copy is
looked for where a user would look (INBOX and Quarantine over IMAP, the text
a mail client shows): each one delivered, quarantined or refused at SMTP
time, never twice, never lost, none with the EICAR bytes or their base64.

Short form in `make check` (4 clients x 30 messages); OMAMORI_FAULT_LONG=1
(tests/fault/run --long accounting): 8 clients x 250 = 2 000 messages, the
figures of doc/security.md ("Fault runs").  TAP output; the counts are TAP
comments."""
import base64
import email
import email.policy
import io
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from omtest import (EICAR, Tap, check, decoded, file_part, header_of, run_suite,  # noqa: E402
                    sure_fixtures, text_part, train_classifier)

tap = Tap()
LONG = bool(os.environ.get("OMAMORI_FAULT_LONG"))
CLIENTS, PER_CLIENT = (8, 250) if LONG else (4, 30)
PACE = 0.5 if LONG else 0.4         # seconds between two messages of one client
BUSY_MS = 1000                      # store_busy_timeout_ms of this stack
LOCK_SECONDS = 4                    # how long the store stays locked
SCAND_DOWN_SECONDS = 3
DRAIN_SECONDS = 600 if LONG else 90
ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
USERS = (ALICE, BOB, CAROL)
QUARANTINES_SPAM = (ALICE, CAROL)
FULL_USER = CAROL
SENDER = "sender@remote.test"
# the recipients of message n (by n % len): one mailbox, or two in one
# transaction (the full one beside another: a retry must not copy twice)
RCPT_SETS = ([ALICE], [BOB], [CAROL], [ALICE], [BOB], [CAROL], [ALICE, CAROL], [BOB, CAROL],
             [ALICE, BOB])
KINDS = ("clean-en", "clean-ja", "spam-ja", "eicar-attachment", "eicar-body", "eicar-zip",
         "over-limit")
MARKER_RE = re.compile(rb"acct[0-9a-f]{32}")
EICAR_ZIP = None                    # built once: its base64 is what must never arrive
RUN = {}                            # what the load case saw, for the cases after it


# ---- messages -------------------------------------------------------------

def new_marker():
    return "acct" + uuid.uuid4().hex


def zip_of(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def multipart(m, rcpts, parts):
    out = ("From: Sender <%s>\nTo: %s\nSubject: accounting %s\nMessage-ID: <%s@acct.test>\n"
           "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=\"BB\"\n\n"
           % (SENDER, ", ".join(rcpts), m, m)).encode()
    for p in parts:
        out += b"--BB\n" + p
    return out + b"--BB--\n"


def with_marker(raw, m):
    """A fixture with the marker at the end of its Subject, as its
    Message-ID and, in a single-part body the marker cannot break (not
    base64, not quoted-printable), as a last line."""
    head, body = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)
    lines, out, in_subject = head.split(b"\n"), [], False
    for line in lines:
        if in_subject and line[:1] in (b" ", b"\t"):
            out.append(line)
            continue
        if in_subject:
            out[-1] += b" " + m.encode()
            in_subject = False
        if line.lower().startswith(b"message-id:"):
            continue
        out.append(line)
        in_subject = line.lower().startswith(b"subject:")
    if in_subject:
        out[-1] += b" " + m.encode()
    out.append(b"Message-ID: <" + m.encode() + b"@acct.test>")
    low = head.lower()
    if b"multipart/" not in low and b"base64" not in low and b"quoted-printable" not in low:
        body = body.rstrip(b"\n") + b"\n" + m.encode() + b"\n"
    return b"\n".join(out) + b"\n\n" + body


def build(kind, m, rcpts, fixtures, n):
    mb = m.encode()
    if kind in ("clean-en", "clean-ja", "spam-ja"):
        pool = fixtures[kind]
        return with_marker(pool[n % len(pool)], m)
    if kind == "eicar-attachment":
        return multipart(m, rcpts, [text_part(b"see the attachment " + mb),
                                    file_part(b"eicar.com", EICAR)])
    if kind == "eicar-zip":
        return multipart(m, rcpts, [text_part(b"zipped " + mb),
                                    file_part(b"docs.zip", EICAR_ZIP)])
    if kind == "eicar-body":
        return ("From: Virus Sender <%s>\nTo: %s\nSubject: body %s\nMessage-ID: <%s@acct.test>\n"
                "Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n" % (SENDER, ", ".join(rcpts), m, m)
                ).encode() + EICAR + b"\n" + mb + b"\n"
    if kind == "over-limit":
        parts = [text_part(b"first part " + mb)]
        parts += [text_part(b"part %d" % i) for i in range(1, 1200)]
        return multipart(m, rcpts, parts)
    raise ValueError(kind)


# ---- what a user sees -------------------------------------------------------

def markers_in(raw):
    found = set(x.decode() for x in MARKER_RE.findall(raw))
    if not found:
        found = set(MARKER_RE.findall(decoded(raw).encode("utf-8", "replace")))
        found = set(x.decode() for x in found)
    return found


def fetch_all(st, user, mailbox):
    """Every message of user's mailbox (raw, LF line ends), in one session."""
    m = st.imap(user)
    try:
        typ, _ = m.select(mailbox, readonly=True)
        if typ != "OK":
            return []
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [item[1].replace(b"\r\n", b"\n") for item in data if isinstance(item, tuple)]
    finally:
        m.logout()


def infectious(raw):
    """Does this copy carry the virus as sent (bytes or base64)?"""
    return (EICAR in raw or base64.encodebytes(EICAR)[:40] in raw or
            base64.encodebytes(EICAR_ZIP)[:40] in raw)


# ---- the load ---------------------------------------------------------------

class Load:
    def __init__(self, st, fixtures):
        self.st = st
        self.fixtures = fixtures
        self.lock = threading.Lock()
        self.sent = {}          # marker -> {kind, rcpts, refused: {rcpt: reply}, error}
        self.total = CLIENTS * PER_CLIENT

    def client(self, c):
        s = None
        for i in range(PER_CLIENT):
            n = c * PER_CLIENT + i
            kind = KINDS[(n + c) % len(KINDS)]
            rcpts = RCPT_SETS[n % len(RCPT_SETS)]
            m = new_marker()
            rec = {"kind": kind, "rcpts": list(rcpts), "refused": {}, "error": None}
            with self.lock:
                self.sent[m] = rec
            raw = build(kind, m, rcpts, self.fixtures, n)
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", int(self.st.SMTP_PORT), timeout=120)
                refused = s.sendmail(SENDER, rcpts, raw)
                rec["refused"] = {r: "%d %s" % (v[0], v[1].decode(errors="replace"))
                                  for r, v in refused.items()}
            except smtplib.SMTPRecipientsRefused as e:
                rec["refused"] = {r: "%d %s" % (v[0], v[1].decode(errors="replace"))
                                  for r, v in e.recipients.items()}
                s = self.reset(s)
            except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
                rec["refused"] = {r: "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace"))
                                  for r in rcpts}
                s = self.reset(s)
            except (smtplib.SMTPException, OSError) as e:
                # no answer: the client cannot know; a real one would retry
                rec["error"] = repr(e)
                s = None
            if i % 10 == 9 and s is not None:
                s = self.reset(s, quit=True)
            time.sleep(PACE)
        if s is not None:
            self.reset(s, quit=True)

    @staticmethod
    def reset(s, quit=False):
        try:
            if quit:
                s.quit()
                return None
            s.rset()
            return s
        except (smtplib.SMTPException, OSError):
            return None


def wait_progress(progress, fraction, timeout=900):
    deadline = time.time() + timeout
    while progress() < fraction:
        check(time.time() < deadline, "delivery stuck at %.0f%%" % (100 * progress()))
        time.sleep(0.05)


def scan_in_flight(st):
    """A connection to scand's socket is open (a scan is asked or answered):
    accepted (state 03, connected) or still in the listen queue, not yet
    accepted (02: /proc/net/unix shows a connection scand has not taken,
    as while it is stopped, as connecting, with no inode)."""
    with open("/proc/net/unix") as f:
        return any(ln.split()[5:6] in (["02"], ["03"]) and
                   ln.rstrip().endswith(" " + st.SCAND_SOCKET) for ln in f)


def scand_debug(st, done):
    """What the test saw when no scan was in flight (for the failure's text)."""
    with open("/proc/net/unix") as f:
        lines = [ln.strip() for ln in f if st.SCAND_SOCKET in ln]
    try:
        with open("/proc/%d/stat" % st.scand_pid()) as f:
            stat = f.read().split()[2]
    except OSError as e:
        stat = repr(e)
    with open(st.MAILLOG, errors="replace") as f:
        lmtp = [ln.strip()[:220] for ln in f if "postfix/lmtp" in ln or "qmgr" in ln]
    return {"progress": done(), "socket_lines": lines, "scand_state": stat,
            "queue": st.queue()[-600:], "maillog": lmtp[-8:]}


class Deliveries:
    """Counts LMTP results as Postfix logs them (the maillog, read as it
    grows): faults are keyed on how far delivery has gone."""

    def __init__(self, st, copies):
        self.path, self.copies, self.offset, self.sent = st.MAILLOG, copies, 0, 0

    def progress(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        self.sent += len(re.findall(rb"postfix/lmtp\[\d+\]: \w+: to=<[^>]+>, .*status=sent",
                                    data[:end]))
        return self.sent / self.copies


def store_path(st):
    return st.conf_value("store_path")


def full_store_dir(st):
    return os.path.join(st.dir, "mail", "example.test", FULL_USER.split("@")[0])


def fill_mail_store(st):
    """carol's home on a tmpfs of its own, filled to the last byte before
    her first message; returns the filler's path."""
    home = full_store_dir(st)
    os.makedirs(home, exist_ok=True)
    os.chown(os.path.dirname(home), 5000, 5000)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", home],
                   check=True)
    os.chown(home, 5000, 5000)
    filler = os.path.join(home, "filler")
    chunk = b"\0" * (1 << 16)
    try:
        with open(filler, "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
    except OSError:
        pass
    try:                                    # the last bytes of the last page
        with open(filler, "ab") as f:
            while True:
                f.write(b"\0")
                f.flush()
    except OSError:
        pass
    return filler


def faults(st, load, ev):
    """The faults, in order, keyed on how far delivery has gone (the SMTP
    clients are still sending)."""
    try:
        done = Deliveries(st, sum(len(RCPT_SETS[n % len(RCPT_SETS)])
                                  for n in range(load.total))).progress
        # 1. scand killed while it scans, back a few seconds later; scans
        # are short: if none is caught in flight, scand is stopped until a
        # delivery waits on it, and killed then
        wait_progress(done, 0.15)
        deadline = time.time() + 5
        while not scan_in_flight(st) and time.time() < deadline:
            time.sleep(0.002)
        ev["scand_stopped"] = not scan_in_flight(st)
        if ev["scand_stopped"]:
            os.kill(st.scand_pid(), signal.SIGSTOP)
            deadline = time.time() + 30
            while not scan_in_flight(st) and time.time() < deadline:
                time.sleep(0.01)
        ev["scand_mid_scan"] = scan_in_flight(st)
        if not ev["scand_mid_scan"]:
            ev["scand_debug"] = scand_debug(st, done)
        ev["scand_down"] = time.time()
        st.kill_scand(signal.SIGKILL)
        time.sleep(SCAND_DOWN_SECONDS)
        st.restart_scand()
        ev["scand_up"] = time.time()

        # 2. the store locked past store_busy_timeout_ms
        wait_progress(done, 0.35)
        lock = subprocess.Popen(["sqlite3", store_path(st)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lock.stdin.write(".timeout 20000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n")
        lock.stdin.flush()
        answer = lock.stdout.readline().strip()
        ev["lock_on"] = time.time()
        ev["lock_answer"] = answer
        t = time.time()
        probe = st.ctl("list", "add", ALICE, "allow", "lock-probe@probe.example", check=False)
        ev["lock_probe"] = (probe.returncode, probe.stderr.decode(errors="replace").strip(),
                            time.time() - t)
        time.sleep(max(0.0, ev["lock_on"] + LOCK_SECONDS - time.time()))
        lock.stdin.write("COMMIT;\n.quit\n")
        lock.stdin.flush()
        lock.wait(timeout=30)
        ev["lock_off"] = time.time()

        # 3. carol's mail store gets its space back
        wait_progress(done, 0.42)
        os.unlink(ev["filler"])
        ev["full_off"] = time.time()
    except Exception as e:  # reported by the load case
        ev["error"] = repr(e)


def admin(st, stop, log):
    """An administrator at work during the load: list edits and learning."""
    train = os.path.join(st.dir, "fixtures", "train")
    spam = sorted(os.listdir(os.path.join(train, "spam")))
    ham = sorted(os.listdir(os.path.join(train, "ham")))
    pending_del = []
    i = 0
    while not stop.is_set():
        i += 1
        cmds = []
        entry = "noise%d@noise.example" % i
        cmds.append(("list", "add", BOB, "block", entry))
        cmds += [("list", "del", BOB, "block", e) for e in pending_del]
        if i % 5 == 1:
            cmds.append(("learn", "spam", os.path.join(train, "spam", spam[i % len(spam)])))
            cmds.append(("learn", "ham", os.path.join(train, "ham", ham[i % len(ham)])))
        pending_del = []
        for args in cmds:
            t = time.time()
            p = st.ctl(*args, check=False)
            log.append((args, p.returncode, p.stderr.decode(errors="replace").strip(), t,
                        time.time()))
            if args[:2] == ("list", "add") and p.returncode == 0:
                pending_del.append(args[4])
            elif args[:2] == ("list", "del") and p.returncode != 0:
                pending_del.append(args[4])
        time.sleep(0.2)
    for _ in range(20):                     # what is left to delete
        left = []
        for e in pending_del:
            p = st.ctl("list", "del", BOB, "block", e, check=False)
            log.append((("list", "del", BOB, "block", e), p.returncode,
                        p.stderr.decode(errors="replace").strip(), time.time(), time.time()))
            if p.returncode != 0:
                left.append(e)
        pending_del = left
        if not left:
            break
        time.sleep(0.5)


def queue_empty(st):
    return "Mail queue is empty" in st.queue()


def drain(st):
    """postqueue -f until the queue is empty twice in a row (bounded)."""
    deadline = time.time() + DRAIN_SECONDS
    empty = 0
    while time.time() < deadline:
        st.flush()
        time.sleep(1)
        empty = empty + 1 if queue_empty(st) else 0
        if empty >= 2:
            return True
    return False


def maillog_events(st):
    """Postfix's view: queue id -> marker, and every LMTP result."""
    qid_marker, results = {}, []
    year = time.localtime().tm_year
    cleanup = re.compile(r"postfix/cleanup\[\d+\]: (\w+): message-id=<(acct[0-9a-f]{32})@")
    lmtp = re.compile(r"postfix/lmtp\[\d+\]: (\w+): to=<([^>]+)>, .*?dsn=([\d.]+), "
                      r"status=(\w+) \((.*)\)$")
    with open(st.MAILLOG, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            mo = cleanup.search(line)
            if mo:
                qid_marker[mo.group(1)] = mo.group(2)
                continue
            mo = lmtp.search(line)
            if mo:
                t = time.mktime(time.strptime("%d %s" % (year, line[:15]), "%Y %b %d %H:%M:%S"))
                results.append({"qid": mo.group(1), "rcpt": mo.group(2), "dsn": mo.group(3),
                                "status": mo.group(4), "text": mo.group(5), "t": t})
    for r in results:
        r["marker"] = qid_marker.get(r["qid"])
    return results


@tap.case
def mixed_load_runs_through_every_fault(st):
    global EICAR_ZIP
    EICAR_ZIP = zip_of("readme.com", EICAR)
    t_start = time.time()
    fixtures = {"clean-en": sure_fixtures(st, "ham", "en", False, 6),
                "clean-ja": sure_fixtures(st, "ham", "ja", False, 6),
                "spam-ja": sure_fixtures(st, "spam", "ja", True, 6)}
    ev = {"filler": fill_mail_store(st), "full_on": time.time()}
    load = Load(st, fixtures)
    admin_log, stop = [], threading.Event()
    try:
        threads = [threading.Thread(target=load.client, args=(c,)) for c in range(CLIENTS)]
        fault_thread = threading.Thread(target=faults, args=(st, load, ev))
        admin_thread = threading.Thread(target=admin, args=(st, stop, admin_log))
        admin_thread.start()
        fault_thread.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_sent = time.time()
        fault_thread.join()
        stop.set()
        admin_thread.join()
        if os.path.exists(ev["filler"]):    # the fault thread failed before freeing it
            os.unlink(ev["filler"])
        drained = drain(st)
        t_drained = time.time()
        boxes = {}
        for user in USERS:
            for box in ("INBOX", "Quarantine"):
                boxes[(user, box)] = fetch_all(st, user, box)
        RUN.update(load=load, ev=ev, admin=admin_log, drained=drained, boxes=boxes,
                   queue=st.queue(), events=maillog_events(st), t_start=t_start,
                   t_sent=t_sent, t_drained=t_drained, scand_alive=st.scand_alive(),
                   noise_left=[ln for ln in st.ctl("list", "show", BOB).stdout.decode()
                               .splitlines() if "noise.example" in ln])
        RUN["accounting"] = account()
    finally:
        subprocess.run(["umount", "-l", full_store_dir(st)], check=False)
    check("error" not in ev, "a fault could not be set up: %s" % ev.get("error"))
    check(RUN["scand_alive"], "scand is not running after the load")
    print("# %d messages from %d clients sent in %.0f s, queue empty %.0f s later; "
          "%.0f s in all with the classifier's training"
          % (load.total, CLIENTS, t_sent - t_start, t_drained - t_sent,
             t_drained - RUN["suite_start"]), flush=True)


def account():
    """Every copy (marker, recipient) found where a user looks."""
    load = RUN["load"]
    where = {}                              # (marker, rcpt) -> [(box, raw)]
    stray = []
    for (user, box), msgs in RUN["boxes"].items():
        for raw in msgs:
            found = markers_in(raw)
            if not found:
                continue
            for m in found:
                rec = load.sent.get(m)
                if rec is None or user not in rec["rcpts"]:
                    stray.append((m, user, box))
                    continue
                where.setdefault((m, user), []).append((box, raw))
    acc = {"sent": 0, "delivered": 0, "quarantined": 0, "refused": 0, "held": 0,
           "lost": [], "duplicated": [], "infected": [], "refused_but_delivered": [],
           "send_errors": [], "stray": stray, "per_kind": {}, "misplaced": []}
    queued = set(re.findall(r"^(\w+)\*?\s", RUN["queue"], re.M))
    held = set(r["marker"] for r in RUN["events"] if r["qid"] in queued)
    for m, rec in load.sent.items():
        if rec["error"] is not None:
            acc["send_errors"].append((m, rec["kind"], rec["error"]))
        for rcpt in rec["rcpts"]:
            acc["sent"] += 1
            pk = acc["per_kind"].setdefault(rec["kind"], {"sent": 0, "INBOX": 0,
                                                          "Quarantine": 0, "refused": 0})
            pk["sent"] += 1
            copies = where.get((m, rcpt), [])
            if rcpt in rec["refused"]:
                acc["refused"] += 1
                pk["refused"] += 1
                if copies:
                    acc["refused_but_delivered"].append((m, rcpt, rec["refused"][rcpt]))
                continue
            if not copies:
                if m in held:
                    acc["held"] += 1
                else:
                    acc["lost"].append((m, rcpt, rec["kind"]))
                continue
            if len(copies) > 1:
                acc["duplicated"].append((m, rcpt, [b for b, _ in copies]))
            box, raw = copies[0]
            acc["delivered" if box == "INBOX" else "quarantined"] += 1
            pk[box] += 1
            for b, r in copies:
                if infectious(r):
                    acc["infected"].append((m, rcpt, b, rec["kind"]))
            want = expected(rec["kind"], rcpt, box, raw)
            if want is not None:
                acc["misplaced"].append((m, rcpt, rec["kind"], box, want))
    return acc


REPORT_SUBJECT = "ウイルスチェックの結果ご報告"
REMOVED_NOTICE = "ウイルス駆除のお知らせ"
LIMIT_NOTICE = "ウイルスチェックを最後まで行うことができませんでした"


def expected(kind, rcpt, box, raw):
    """None if the copy is where and as it should be, else what was wanted."""
    virus = header_of(raw, "X-Omamori-Virus") or ""
    spam = header_of(raw, "X-Omamori-Spam") or ""
    if kind.startswith("clean-"):
        if box != "INBOX" or virus != "clean" or not spam.startswith("no;"):
            return "INBOX, clean, not spam (virus %r, spam %r)" % (virus, spam)
    elif kind == "spam-ja":
        want = "Quarantine" if rcpt in QUARANTINES_SPAM else "INBOX"
        if box != want or not spam.startswith("yes;"):
            return "%s as spam (spam %r)" % (want, spam)
    elif kind == "eicar-body":
        subject = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])
        if not virus.startswith("infected (") or subject != REPORT_SUBJECT:
            return "the report (virus %r, subject %r)" % (virus, subject)
    elif kind.startswith("eicar-"):
        if not virus.startswith("infected (") or REMOVED_NOTICE not in decoded(raw):
            return "attachment removed, a notice (virus %r)" % virus
    elif kind == "over-limit":
        if box != "Quarantine" or not virus.startswith("unscanned (limit") or \
                LIMIT_NOTICE not in raw.decode("utf-8", "replace"):
            return "Quarantine below the notice, unscanned (limit) (virus %r)" % virus
    return None


def need_run():
    check("accounting" in RUN, "the load did not complete")
    return RUN


def results_between(t0, t1, rcpt=None):
    return [r for r in RUN["events"] if t0 <= r["t"] <= t1 and
            (rcpt is None or r["rcpt"] == rcpt)]


def found_once(marker, rcpt):
    acc = RUN["accounting"]
    return not any(m == marker and r == rcpt for m, r, _ in acc["lost"]) and \
        not any(d[0] == marker and d[1] == rcpt for d in acc["duplicated"])


@tap.case
def scand_killed_mid_scan_lmtp_451_kept_then_delivered_once(st):
    run = need_run()
    ev = run["ev"]
    check(ev.get("scand_mid_scan"), "scand had no scan in flight when it was killed: %r"
          % ev.get("scand_debug"))
    deferred = [r for r in run["events"] if r["status"] == "deferred" and
                "Virus scanner unavailable" in r["text"]]
    check(deferred, "no LMTP 451 while scand was down (%.1f s)"
          % (ev["scand_up"] - ev["scand_down"]))
    check(all(r["text"].startswith("host ") and "451 4.2.0" in r["text"] for r in deferred),
          "not a 451: %r" % deferred[:3])
    bad = [(r["marker"], r["rcpt"]) for r in deferred if not found_once(r["marker"], r["rcpt"])]
    check(not bad, "deferred while scand was down, then not delivered once: %r" % bad[:10])
    print("# scand SIGKILLed with a scan in flight%s, down %.1f s: %d LMTP 451 (%d "
          "messages), each delivered once after"
          % (" (stopped first until a delivery waited on it)" if ev["scand_stopped"] else "",
             ev["scand_up"] - ev["scand_down"], len(deferred),
             len(set(r["marker"] for r in deferred))), flush=True)


@tap.case
def store_locked_writers_refused_mail_kept_flowing(st):
    """BEGIN EXCLUSIVE on a WAL store stops writers (omamorictl, policyd's
    counters), not readers: the delivery path only reads, so mail goes on;
    a writer waits store_busy_timeout_ms and fails with a clear error."""
    run = need_run()
    ev = run["ev"]
    check(ev.get("lock_answer") == "locked", "sqlite3 did not get the lock: %r"
          % ev.get("lock_answer"))
    rc, err, took = ev["lock_probe"]
    check(rc == 2 and "database is locked" in err, "omamorictl list add during the lock: "
          "exit %d %r" % (rc, err))
    check(took >= BUSY_MS / 1000.0 * 0.9, "omamorictl gave up after %.2f s, before "
          "store_busy_timeout_ms" % took)
    during = results_between(ev["lock_on"] + 1, ev["lock_off"] - 1)
    sent = [r for r in during if r["status"] == "sent"]
    check(sent, "no delivery while the store was locked: %r" % during[:5])
    bad = [(r["marker"], r["rcpt"]) for r in during if not found_once(r["marker"], r["rcpt"])]
    check(not bad, "handled during the lock, then not delivered once: %r" % bad[:10])
    full = [r for r in during if r["rcpt"] == FULL_USER and ev["full_off"] > r["t"]]
    other = [r for r in during if r["status"] == "deferred" and r not in full]
    print("# store locked %.1f s (BEGIN EXCLUSIVE, store_busy_timeout_ms %d): a writer "
          "failed after %.1f s (%s); meanwhile %d deliveries, %d deferred (%s's full store "
          "left aside)" % (ev["lock_off"] - ev["lock_on"], BUSY_MS, took, err, len(sent),
                           len(other), FULL_USER), flush=True)


@tap.case
def mail_store_full_lmtp_451_kept_then_delivered_once(st):
    run = need_run()
    ev = run["ev"]
    deferred = [r for r in results_between(ev["full_on"], ev["full_off"] + 1, FULL_USER)
                if r["status"] == "deferred" and "Virus scanner unavailable" not in r["text"]]
    check(deferred, "no deferral for %s while the store was full" % FULL_USER)
    check(all("451 4." in r["text"] for r in deferred), "not a 451: %r" % deferred[:3])
    bad = [r["marker"] for r in deferred if not found_once(r["marker"], FULL_USER)]
    check(not bad, "deferred while the store was full, then not delivered once: %r" % bad[:10])
    sent = results_between(ev["full_on"], ev["full_off"] - 1, FULL_USER)
    check(not [r for r in sent if r["status"] == "sent"], "delivered into a full store?")
    others = [r for r in run["events"] if r["rcpt"] != FULL_USER and r["status"] == "sent" and
              ev["full_on"] <= r["t"] <= ev["full_off"]]
    check(others, "nobody else got mail while %s's store was full" % FULL_USER)
    print("# %s's mail store full %.1f s: %d LMTP 451 (%d messages), each delivered once "
          "after; %d deliveries to the others meanwhile"
          % (FULL_USER, ev["full_off"] - ev["full_on"], len(deferred),
             len(set(r["marker"] for r in deferred)), len(others)), flush=True)


@tap.case
def administrator_learned_and_edited_lists_meanwhile(st):
    run = need_run()
    ev = run["ev"]
    log = run["admin"]
    ok = [a for a in log if a[1] == 0]
    failed = [a for a in log if a[1] != 0]
    # a failure is only the store lock, while it was held (and a busy
    # timeout after: a writer queued behind it)
    slop = BUSY_MS / 1000.0 + 1
    wrong = [a for a in failed if not ("database is locked" in a[2] and
                                       ev["lock_on"] - slop <= a[4] <= ev["lock_off"] + slop)]
    check(not wrong, "administrator's commands failed: %r" % wrong[:5])
    learned = [a for a in ok if a[0][0] == "learn"]
    edits = [a for a in ok if a[0][0] == "list"]
    check(learned and edits, "learned %d, list edits %d" % (len(learned), len(edits)))
    check(not run["noise_left"], "list entries left behind: %r" % run["noise_left"][:5])
    print("# administrator: %d learn and %d list add/del done, %d refused while the store "
          "was locked" % (len(learned), len(edits), len(failed)), flush=True)


@tap.case
def queue_drained_nothing_bounced(st):
    run = need_run()
    check(run["drained"], "Postfix's queue not empty after %d s:\n%s"
          % (DRAIN_SECONDS, run["queue"][-3000:]))
    bounced = [r for r in run["events"] if r["status"] not in ("sent", "deferred")]
    check(not bounced, "LMTP results neither sent nor deferred: %r" % bounced[:5])


@tap.case
def every_copy_delivered_quarantined_or_refused_once(st):
    run = need_run()
    acc = run["accounting"]
    print("# sent %d delivered %d quarantined %d refused %d held %d lost %d duplicated %d "
          "infected-delivered %d" % (acc["sent"], acc["delivered"], acc["quarantined"],
                                     acc["refused"], acc["held"], len(acc["lost"]),
                                     len(acc["duplicated"]), len(acc["infected"])), flush=True)
    load = run["load"]
    print("# (%d messages, %d of them to two mailboxes in one transaction)"
          % (len(load.sent), sum(1 for r in load.sent.values() if len(r["rcpts"]) > 1)),
          flush=True)
    for kind in KINDS:
        pk = acc["per_kind"].get(kind, {})
        print("#   %-17s sent %4d  INBOX %4d  Quarantine %4d  refused %d"
              % (kind, pk.get("sent", 0), pk.get("INBOX", 0), pk.get("Quarantine", 0),
                 pk.get("refused", 0)), flush=True)
    check(not acc["send_errors"], "SMTP sessions broke without an answer: %r"
          % acc["send_errors"][:5])
    check(not acc["lost"], "lost: %r" % acc["lost"][:10])
    check(not acc["duplicated"], "duplicated: %r" % acc["duplicated"][:10])
    check(not acc["refused_but_delivered"], "refused at SMTP but delivered: %r"
          % acc["refused_but_delivered"][:10])
    check(not acc["stray"], "a marker in a mailbox it was not sent to: %r" % acc["stray"][:10])
    check(acc["held"] == 0, "%d copies still held in Postfix's queue" % acc["held"])
    check(acc["sent"] == acc["delivered"] + acc["quarantined"] + acc["refused"],
          "the counts do not add up")


@tap.case
def no_copy_delivered_with_the_virus(st):
    acc = need_run()["accounting"]
    check(not acc["infected"], "delivered with the virus: %r" % acc["infected"][:10])
    everything = [raw for msgs in RUN["boxes"].values() for raw in msgs]
    check(not [raw for raw in everything if infectious(raw)],
          "a copy in some mailbox carries EICAR")


@tap.case
def every_kind_lands_where_a_user_expects_it(st):
    acc = need_run()["accounting"]
    check(not acc["misplaced"], "%d misplaced, e.g. %r" % (len(acc["misplaced"]),
                                                           acc["misplaced"][:5]))


def prepare(st):
    RUN["suite_start"] = time.time()
    train_classifier(st)
    for user in USERS:
        st.ctl("sub", "set", user, "spam", "on")
    st.ctl("domain", "set", "example.test", "spam-action", "tag")
    for user in QUARANTINES_SPAM:
        st.ctl("mailbox", "set", user, "spam-action", "quarantine")
    time.sleep(1.6)     # policyd and scand pick the settings up


def main():
    return run_suite(tap, subscribe=USERS, prepare=prepare,
                     extra_conf="store_busy_timeout_ms = %d\n" % BUSY_MS)


if __name__ == "__main__":
    sys.exit(main())
