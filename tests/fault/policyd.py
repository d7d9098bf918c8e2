#!/usr/bin/env python3
"""Fault: omamori-policyd under a local client holding idle connections.

A local user opens twice the TCP listener's cap of idle connections (4000
with OMAMORI_FAULT_LONG); real SMTP sessions through Postfix must still get
the block list's REJECT at RCPT (Postfix asks over unix:omamori/policy,
whose slots the TCP listener cannot take) and have clean mail delivered
(END-OF-MESSAGE goes over TCP in tests/stack: Postfix's new connection
takes the slot of the longest-idle one).  Idle connections are closed after
policyd_idle_timeout, Postfix recovers from its cached connection being
closed, caps beyond the open file limit stop the start with a clear error,
and a clean stop removes the daemon's own UNIX socket, never another's.
TAP output."""
import os
import pwd
import resource
import select
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from omtest import BUILDDIR, Tap, check, run_suite  # noqa: E402

LONG = bool(os.environ.get("OMAMORI_FAULT_LONG"))
CAP = 1000 if LONG else 50            # policyd_inet_max_connections
HOLDERS = 4 * CAP if LONG else 2 * CAP
IDLE = 6                              # policyd_idle_timeout, seconds
WAVE_GAP = 1.2                        # > the 1 s a connection must be idle to be taken

tap = Tap()
holders = []     # the idle connections of the local user, in waves


def mk():
    return uuid.uuid4().hex


def msg(m, frm):
    return ("From: %s\nSubject: fault %s\nMessage-ID: <%s@remote.test>\n\nbody %s\n"
            % (frm, m, m, m)).encode()


def closed_by_server(s):
    """True once the server closed the connection (EOF or reset)."""
    p = select.poll()           # select() stops at fd 1024
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return s.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def open_wave(port, count):
    wave = []
    for _ in range(count):
        wave.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    return wave


def policyd_log(st):
    with open(os.path.join(st.dir, "log", "policyd.log"), errors="replace") as f:
        return f.read()


def blocked_sender_refused(st):
    m = mk()
    with st.smtp() as s:
        try:
            s.sendmail("bad@spam.example", ["alice@example.test"], msg(m, "bad@spam.example"))
            check(False, "a blocked sender was accepted (default_action or no check)")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["alice@example.test"]
            check(code in (550, 554) and b"5.7.1" in text,
                  "blocked sender not refused by the block list: %d %r" % (code, text))


def clean_mail_delivered(st):
    m = mk()
    with st.smtp() as s:
        refused = s.sendmail("good@remote.test", ["bob@example.test"], msg(m, "good@remote.test"))
    check(refused == {}, "refused %r" % refused)
    st.wait_for("bob@example.test", m.encode(), timeout=60)


@tap.case
def idle_tcp_connections_do_not_starve_postfix(st):
    port = int(st.POLICY_PORT)
    waves = HOLDERS // CAP
    for i in range(waves):
        if i > 0:
            time.sleep(WAVE_GAP)
        holders.append(open_wave(port, CAP))
    time.sleep(WAVE_GAP)      # the last wave is now idle long enough to be taken
    blocked_sender_refused(st)
    clean_mail_delivered(st)
    time.sleep(0.3)
    for n, wave in enumerate(holders[:-1]):
        still = sum(1 for s in wave if not closed_by_server(s))
        check(still == 0, "wave %d: %d of its connections were not closed for newer ones"
              % (n, still))
    open_now = sum(1 for s in holders[-1] if not closed_by_server(s))
    # the END-OF-MESSAGE connection of Postfix took one slot of the last wave
    check(CAP - 2 <= open_now < CAP, "%d of the last wave open (cap %d)" % (open_now, CAP))
    log = policyd_log(st)
    check("at its cap of %d connections" % CAP in log, "no cap warning in the log")


@tap.case
def idle_connections_closed_after_the_timeout(st):
    port = int(st.POLICY_PORT)
    active = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b.example\n"
           b"recipient=bob@example.test\n\n")
    deadline = time.time() + IDLE + 2
    while time.time() < deadline:
        active.sendall(req)
        check(active.recv(100) == b"action=DUNNO\n\n", "the active connection was not answered")
        time.sleep(1)
    left = sum(1 for wave in holders for s in wave if not closed_by_server(s))
    check(left == 0, "%d idle connections still open after %d s" % (left, IDLE + 2))
    active.sendall(req)
    check(active.recv(100) == b"action=DUNNO\n\n", "a connection in use was closed as idle")
    active.close()
    for wave in holders:
        for s in wave:
            s.close()


@tap.case
def postfix_recovers_when_its_cached_connection_was_closed(st):
    # Postfix's smtpd processes keep their policy connections; after the
    # idle timeout policyd has closed them, and Postfix reconnects
    time.sleep(IDLE + 1)
    blocked_sender_refused(st)
    clean_mail_delivered(st)


def private_conf(st, name, extra):
    """A copy of the stack's omamori.conf for a second daemon in a
    directory the omamori user owns."""
    d = os.path.join(st.dir, name)
    os.makedirs(d, exist_ok=True)
    pw = pwd.getpwnam("omamori")
    os.chown(d, pw.pw_uid, pw.pw_gid)
    with open(st.OMAMORI_CONF) as f:
        text = f.read()
    path = os.path.join(d, "omamori.conf")
    with open(path, "w") as f:
        f.write(text + "policyd_listen = unix:%s/policy.sock\n%s" % (d, extra))
    return d, path


def start_policyd(conf, log, limit=None):
    def set_limit():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return subprocess.Popen([os.path.join(BUILDDIR, "postfix-policy", "omamori-policyd"), "-c", conf, "-f"],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=set_limit)


def wait_socket(path, proc):
    deadline = time.time() + 20
    while not os.path.exists(path):
        check(proc.poll() is None and time.time() < deadline, "no socket at %s" % path)
        time.sleep(0.1)


@tap.case
def caps_beyond_the_open_file_limit_stop_the_start(st):
    d, conf = private_conf(st, "fdlimit", "policyd_unix_max_connections = 1000\n")
    with open(os.path.join(d, "log"), "w+") as log:
        proc = start_policyd(conf, log, limit=256)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("started with caps over a 256 file limit")
        log.seek(0)
        out = log.read()
    check(code != 0 and "open file limit is 256" in out and
          "policyd_unix_max_connections = 1000" in out, "exit %d: %s" % (code, out))


@tap.case
def clean_stop_removes_its_own_socket_only(st):
    d, conf = private_conf(st, "sockets", "")
    path = os.path.join(d, "policy.sock")
    with open(os.path.join(d, "log"), "w+") as log:
        proc = start_policyd(conf, log)
        wait_socket(path, proc)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "no clean stop")
        check(not os.path.exists(path), "the socket was left behind")
        # a socket that replaced ours at the path (a newer daemon's) stays
        proc = start_policyd(conf, log)
        wait_socket(path, proc)
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(path)
        ino = os.stat(path).st_ino
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "no clean stop")
        check(os.path.exists(path) and os.stat(path).st_ino == ino,
              "another daemon's socket was removed")
        other.close()
        log.seek(0)
        check("no longer the socket this daemon bound" in log.read(), "not logged")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return run_suite(tap,
                     extra_conf="policyd_inet_max_connections = %d\npolicyd_idle_timeout = %d\n"
                     % (CAP, IDLE),
                     setup=[("list", "add", "alice@example.test", "block", "@spam.example")])


if __name__ == "__main__":
    sys.exit(main())
