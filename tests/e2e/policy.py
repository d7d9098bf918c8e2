#!/usr/bin/env python3
"""End-to-end: omamori-policyd through real Postfix (check_policy_service):
block lists per recipient (the log naming the list and the entry), the
recipient limit, per-user rate limits and their recovery, outbound FILTER to
omamori-filter (and none without outbound_filter), the daemon killed
(Postfix's default action, DEFER_IF_PERMIT as shipped: mail waits) and
restarted (counters kept).  TAP output."""
import os
import signal
import smtplib
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402

tap = Tap()


def msg(m, frm="sender@remote.test"):
    return ("From: %s\nSubject: policy %s\nMessage-ID: <%s@remote.test>\n\nbody %s\n"
            % (frm, m, m, m)).encode()


def mk():
    return uuid.uuid4().hex


def refresh():
    time.sleep(1.6)     # policyd looks at the store every second


@tap.case
def blocked_sender_rejected_for_one_recipient_only(st):
    st.ctl("list", "add", "alice@example.test", "block", "@spam.example")
    refresh()
    m = mk()
    with st.smtp() as s:
        refused = s.sendmail("bad@spam.example", ["alice@example.test", "bob@example.test"],
                             msg(m, "bad@spam.example"))
    check(set(refused) == {"alice@example.test"}, "refused %r" % refused)
    code, text = refused["alice@example.test"]
    check(code in (550, 554) and b"5.7.1" in text, "reply %d %r" % (code, text))
    st.wait_for("bob@example.test", m.encode())
    time.sleep(1)
    check(not [x for x in st.fetch_all("alice@example.test") if m.encode() in x],
          "alice received a blocked sender's mail")
    log = open(os.path.join(st.dir, "log", "policyd.log"), errors="replace").read()
    check('recipient=<alice@example.test>' in log and
          'reason="block list of mailbox alice@example.test: entry @spam.example"' in log,
          "the REJECT's log line does not name the list and the entry:\n%s" % log[-2000:])


@tap.case
def global_and_domain_block_lists_apply(st):
    st.ctl("list", "add", "*", "block", "worm@evil.example")
    st.ctl("list", "add", "example.test", "block", "@junk.example")
    refresh()
    # the lists hold addresses as omamorictl stores them; a sender (or a
    # recipient) spelled in other letters or with the domain's trailing
    # dot is the same address, and is refused the same way at RCPT
    for sender, rcpt in (("worm@evil.example", "carol@example.test"),
                         ("x@junk.example", "carol@example.test"),
                         ("Worm@EVIL.example.", "carol@example.test"),
                         ("X@Junk.Example.", "Carol@Example.TEST.")):
        with st.smtp() as s:
            try:
                s.sendmail(sender, [rcpt], msg(mk(), sender))
                check(False, "%s was accepted for %s" % (sender, rcpt))
            except smtplib.SMTPRecipientsRefused as e:
                check(b"5.7.1" in e.recipients[rcpt][1], e.recipients)


@tap.case
def recipient_limit_per_message(st):
    st.ctl("domain", "set", "example.test", "max-recipients", "2")
    refresh()
    try:
        with st.smtp() as s:
            refused = s.sendmail("sender@remote.test",
                                 ["alice@example.test", "bob@example.test", "carol@example.test"],
                                 msg(mk()))
        check(list(refused) == ["carol@example.test"], "refused %r" % refused)
        check(refused["carol@example.test"][0] == 452 and
              b"4.5.3" in refused["carol@example.test"][1], refused)
    finally:
        st.ctl("domain", "unset", "example.test", "max-recipients")


@tap.case
def rate_limit_defers_then_recovers(st):
    st.ctl("domain", "set", "rate.test", "rate-messages", "2")
    st.ctl("domain", "set", "rate.test", "rate-window", "6")
    refresh()
    # align to the start of a window so the three sends share one
    time.sleep(6 - time.time() % 6 + 0.2)
    results = []
    # one counter for the login however it is spelled
    for login in ("dave@rate.test", "Dave@Rate.TEST", "DAVE@rate.test."):
        with st.smtp(login=login) as s:
            try:
                s.sendmail("dave@rate.test", ["bob@example.test"], msg(mk(), "dave@rate.test"))
                results.append("ok")
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients["bob@example.test"]
                results.append("%d %s" % (code, text.decode()[:5]))
    check(results[:2] == ["ok", "ok"] and results[2] == "450 4.7.1", results)
    time.sleep(6 - time.time() % 6 + 0.3)
    with st.smtp(login="dave@rate.test") as s:
        refused = s.sendmail("dave@rate.test", ["bob@example.test"], msg(mk(), "dave@rate.test"))
    check(refused == {}, "not recovered after the window: %r" % refused)


@tap.case
def authenticated_outbound_subscriber_goes_through_filter(st):
    st.ctl("sub", "set", "carol@example.test", "outbound-virus", "on")
    refresh()
    m = mk()
    with st.smtp(login="carol@example.test") as s:
        s.sendmail("carol@example.test", ["bob@example.test", "ext@far.example"],
                   msg(m, "carol@example.test"))
    deadline = time.time() + 20
    found = None
    while time.time() < deadline and found is None:
        for name in os.listdir(st.OUTBOUND_SINK_DIR):
            if name.startswith("."):
                continue
            with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
                data = f.read()
            if m.encode() in data:
                found = data
        time.sleep(0.2)
    check(found is not None, "the external copy did not reach the outbound sink")
    check(b"from omamori-filter" in found, "not re-injected by omamori-filter: %r" % found[:400])
    inbox = st.wait_for("bob@example.test", m.encode())
    check(b"from omamori-filter" in inbox[0], "delivered directly, bypassing the filter")
    m2 = mk()
    with st.smtp(login="alice@example.test") as s:     # not subscribed
        s.sendmail("alice@example.test", ["bob@example.test"], msg(m2, "alice@example.test"))
    st.wait_for("bob@example.test", m2.encode())


def set_conf_and_reload(st, text):
    with open(st.OMAMORI_CONF, "w") as f:
        f.write(text)
    os.kill(st.policyd_pid(), signal.SIGHUP)
    time.sleep(0.5)


@tap.case
def no_outbound_filter_means_no_filter(st):
    with open(st.OMAMORI_CONF) as f:
        original = f.read()
    without = "".join(line for line in original.splitlines(True)
                      if not line.startswith("outbound_filter"))
    try:
        set_conf_and_reload(st, without)
        sub = st.ctl("sub", "set", "alice@example.test", "outbound-virus", "on")
        check(b"warning" in sub.stderr and b"outbound_filter" in sub.stderr,
              "no warning from omamorictl: %r" % sub.stderr)
        dom = st.ctl("domain", "set", "example.test", "default", "all-on")
        check(b"outbound_filter" in dom.stderr, "no warning for default all-on: %r" % dom.stderr)
        refresh()
        req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=alice@example.test\n"
               b"recipient=x@far.example\nsasl_username=alice@example.test\ninstance=nf1\n")
        out = st.ctl("policy", "test", stdin=req).stdout.decode()
        check(out.startswith("action=DUNNO") and "no outbound_filter" in out, out)
        m = mk()
        with st.smtp(login="alice@example.test") as s:
            refused = s.sendmail("alice@example.test", ["bob@example.test"], msg(m, "alice@example.test"))
        check(refused == {}, refused)
        st.wait_for("bob@example.test", m.encode())
        got = st.wait_for("bob@example.test", m.encode())
        check(b"from omamori-filter" not in got[0], "routed to omamori-out without outbound_filter")
        log = open(os.path.join(st.dir, "log", "maillog"), errors="replace").read()
        check(not [line for line in log.splitlines() if "omamori-out" in line and m in line],
              "FILTER in the maillog")
    finally:
        st.ctl("domain", "unset", "example.test", "default")
        st.ctl("sub", "del", "alice@example.test", "outbound-virus")
        set_conf_and_reload(st, original)
    quiet = st.ctl("sub", "set", "alice@example.test", "outbound-virus", "off")
    check(b"warning" not in quiet.stderr, quiet.stderr)


@tap.case
def malformed_requests_get_no_answer(st):
    pid = st.policyd_pid()
    cases = [b"protocol_state=RCPT\n\n",                      # no request=
             b"request=smtpd_access_policy\nno equals sign\n\n",
             b"request=smtpd_access_policy\nsender=a\x00b\n\n",
             b"request=smtpd_access_policy\nx=" + b"A" * (1024 * 1024) + b"\n\n"]
    for payload in cases:
        s = socket.create_connection(("127.0.0.1", int(st.POLICY_PORT)), timeout=10)
        try:
            s.sendall(payload)
        except OSError:
            pass
        try:
            answer = s.recv(100)
        except OSError:
            answer = b""
        s.close()
        check(answer == b"", "answered %r to %r" % (answer[:40], payload[:40]))
    # a fragmented, pipelined pair still works
    s = socket.create_connection(("127.0.0.1", int(st.POLICY_PORT)), timeout=10)
    req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b.example\n"
           b"recipient=bob@example.test\ninstance=frag\nunknown_attr=x\n\n")
    for i in range(0, len(req), 7):
        s.sendall(req[i:i + 7])
        time.sleep(0.001)
    s.sendall(req.replace(b"frag", b"frag2"))
    data = b""
    while data.count(b"\n\n") < 2:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    check(data == b"action=DUNNO\n\naction=DUNNO\n\n", "answers %r" % data)
    os.kill(pid, 0)


@tap.case
def sighup_reloads_the_configuration(st):
    def ask(size):
        s = socket.create_connection(("127.0.0.1", int(st.POLICY_PORT)), timeout=10)
        req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nx=" + b"a" * size +
               b"\nrecipient=bob@example.test\n\n")
        try:
            s.sendall(req)
            return s.recv(100)
        except OSError:
            return b""
        finally:
            s.close()
    check(ask(3000) == b"action=DUNNO\n\n", "a 3 KB request is fine by default")
    with open(st.OMAMORI_CONF) as f:
        original = f.read()
    with open(st.OMAMORI_CONF, "a") as f:
        f.write("policyd_max_request = 2048\n")
    try:
        os.kill(st.policyd_pid(), signal.SIGHUP)
        time.sleep(0.5)
        check(ask(3000) == b"", "the new 2 KB limit was not applied")
        check(ask(100) == b"action=DUNNO\n\n", "small requests still answered")
    finally:
        with open(st.OMAMORI_CONF, "w") as f:
            f.write(original)
        os.kill(st.policyd_pid(), signal.SIGHUP)
        time.sleep(0.5)
    log = open(os.path.join(st.dir, "log", "policyd.log"), errors="replace").read()
    check("configuration reloaded (max_request=2048)" in log, "no reload logged")


@tap.case
def killed_daemon_means_default_action_and_restart_keeps_counters(st):
    st.ctl("domain", "set", "keep.test", "rate-messages", "2")
    st.ctl("domain", "set", "keep.test", "rate-window", "3600")
    refresh()
    for _ in range(2):
        with st.smtp(login="erin@keep.test") as s:
            check(s.sendmail("erin@keep.test", ["bob@example.test"], msg(mk(), "erin@keep.test")) == {},
                  "rate limited too early")
    time.sleep(2.5)     # past policyd_save_interval (1 s here)
    os.kill(st.policyd_pid(), signal.SIGKILL)
    time.sleep(0.5)
    # no policy server: Postfix applies default_action=DEFER_IF_PERMIT (the
    # shipped main.cf snippet's): a blocked sender is not let through, and
    # neither is anybody else - the mail waits
    for sender in ("bad@spam.example", "good@remote.test"):
        with st.smtp() as s:
            try:
                s.sendmail(sender, ["alice@example.test"], msg(mk(), sender))
                check(False, "%s accepted without the policy server" % sender)
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients["alice@example.test"]
                check(code == 450 and b"4.7.1" in text, "reply %d %r" % (code, text))
    log = open(os.path.join(st.dir, "log", "maillog"), errors="replace").read()
    check("problem talking to server" in log, "no policy failure in the maillog")
    # a SIGKILL loses at most policyd_save_interval of counting (SIGTERM
    # saves everything); restart and the third message is deferred
    st.restart_policyd()
    with st.smtp(login="erin@keep.test") as s:
        try:
            s.sendmail("erin@keep.test", ["bob@example.test"], msg(mk(), "erin@keep.test"))
            check(False, "counters were lost over the restart")
        except smtplib.SMTPRecipientsRefused as e:
            check(e.recipients["bob@example.test"][0] == 450, e.recipients)


@tap.case
def policy_test_prints_action_and_reason(st):
    req = (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=x@spam.example\n"
           b"recipient=alice@example.test\n")
    out = st.ctl("policy", "test", stdin=req).stdout.decode()
    check(out.startswith("action=REJECT 5.7.1") and "reason: block list" in out, out)
    bad = st.ctl("policy", "test", stdin=b"protocol_state=RCPT\n", check=False)
    check(bad.returncode == 2 and b"request=" in bad.stderr, bad.stderr)


@tap.case
def list_limit_refuses_the_301st_entry(st):
    for i in range(300):
        st.ctl("list", "add", "carol@example.test", "block", "s%d@x.example" % i)
    over = st.ctl("list", "add", "carol@example.test", "block", "s300@x.example", check=False)
    check(over.returncode == 2 and b"full" in over.stderr, over.stderr)
    shown = st.ctl("list", "show", "carol@example.test").stdout.decode().splitlines()
    check(len(shown) == 300, "list has %d entries" % len(shown))


def main():
    # policyd FILTERs every outbound subscriber's mail to omamori-filter
    # with outbound_inline = 0 (a site without the submission milter): the
    # routing this file tests; tests/e2e/submit.py the milter's
    os.environ["OMAMORI_OUTBOUND_INLINE"] = "0"
    # counters saved every second here, so a SIGKILL loses none that matter
    return run_suite(tap, extra_conf="policyd_save_interval = 1")


if __name__ == "__main__":
    sys.exit(main())
