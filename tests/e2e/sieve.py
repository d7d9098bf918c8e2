#!/usr/bin/env python3
"""End-to-end: the vnd.omamori Sieve extension (sieve-ext/) with real
Dovecot, Pigeonhole, Postfix and scand.  sieve-test runs of each test and
command, including compile and run-time failures; ManageSieve uploads
(accepted and refused); a user's script at LMTP delivery (verdict, lists,
the 300-entry limit, the domain switch); the shipped imapsieve example.
TAP output."""
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (PASSWORD, Tap, check, header_of, run_suite, sure_fixture,  # noqa: E402
                    train_classifier)

tap = Tap()
HAM = b"From: Yamada <yamada@partner.example>\nTo: alice@example.test\nSubject: minutes\n" \
      b"Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <m1@partner.example>\n\nminutes attached\n"


def sieve_test(st, script, message, user="alice@example.test", sender="a@remote.test",
               conf=None):
    """Runs sieve-test on script (text) and message (bytes), with the
    stack's dovecot.conf or conf; returns (exit status, output: trace,
    result and errors)."""
    d = tempfile.mkdtemp(prefix="sieve-", dir=st.dir)
    os.chmod(d, 0o777)
    sp, mp = os.path.join(d, "t.sieve"), os.path.join(d, "t.eml")
    with open(sp, "w") as f:
        f.write(script)
    with open(mp, "wb") as f:
        f.write(message)
    proc = subprocess.run(["sieve-test", "-c", conf or st.DOVECOT_CONF, "-u", user, "-f", sender,
                           "-r", user, "-t", "-", "-Tlevel=tests", sp, mp],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


REQ = 'require ["vnd.omamori", "fileinto", "relational", "comparator-i;ascii-numeric"];\n'


def files_into(out, folder):
    return re.search(r"store message in folder: %s\b" % re.escape(folder), out) is not None


class ManageSieve:
    """A minimal ManageSieve (RFC 5804) client over a real socket."""

    def __init__(self, port, user):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        self.f = self.s.makefile("rb")
        self.response()
        auth = base64.b64encode(b"\0" + user.encode() + b"\0" + PASSWORD.encode()).decode()
        ok, text = self.command('AUTHENTICATE "PLAIN" "%s"' % auth)
        check(ok, "ManageSieve login: %s" % text)

    def response(self):
        lines = []
        while True:
            line = self.f.readline().decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            m = re.search(r"\{(\d+)\}$", line)
            if m:   # a literal follows (a capability, or an error text)
                lines.append(self.f.read(int(m.group(1))).decode("utf-8", "replace"))
                rest = self.f.readline().decode("utf-8", "replace").rstrip("\r\n")
                lines.append(rest)
            if line.startswith("OK") or line.startswith("NO") or line.startswith("BYE"):
                return line.startswith("OK"), "\n".join(lines)

    def command(self, text, literal=None):
        if literal is None:
            self.s.sendall(text.encode() + b"\r\n")
        else:
            data = literal.encode()
            self.s.sendall(text.encode() + b" {%d+}\r\n" % len(data) + data + b"\r\n")
        return self.response()

    def put(self, name, script):
        return self.command('PUTSCRIPT "%s"' % name, script)

    def activate(self, name):
        return self.command('SETACTIVE "%s"' % name)

    def close(self):
        self.command("LOGOUT")
        self.s.close()


def install_script(st, user, script):
    ms = ManageSieve(st.SIEVE_PORT, user)
    try:
        ok, text = ms.put("omamori", script)
        check(ok, "upload refused: %s" % text)
        ok, text = ms.activate("omamori")
        check(ok, "SETACTIVE: %s" % text)
    finally:
        ms.close()


def with_marker(raw, marker):
    head, body = raw.split(b"\n\n", 1)
    lines = [l for l in head.split(b"\n") if not l.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: <" + marker.encode() + b"@e2e.test>")
    return b"\n".join(lines) + b"\n\n" + body


def arrived(st, user, marker, folder, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [m for m in st.fetch_all(user, folder) if marker.encode() in m]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError("%s not in %s/%s; maillog:\n%s" % (marker, user, folder, st.tail("maillog")))


def list_of(st, scope):
    return st.ctl("list", "show", scope).stdout.decode()


# ---- sieve-test ----------------------------------------------------------

@tap.case
def sieve_test_verdict_on_spam_and_ham(st):
    script = REQ + 'if omamori_verdict "spam" { fileinto "Junk"; }\n' \
        'elsif omamori_verdict :matches "cl*" { fileinto "Clean"; }\n'
    rc, out = sieve_test(st, script, sure_fixture(st, "spam", "ja", True))
    check(rc == 0 and files_into(out, "Junk"), "spam: rc %d\n%s" % (rc, out))
    rc, out = sieve_test(st, script, sure_fixture(st, "ham", "ja", False))
    check(rc == 0 and files_into(out, "Clean"), "ham: rc %d\n%s" % (rc, out))


@tap.case
def sieve_test_score_with_relational(st):
    script = REQ + 'if omamori_score :value "ge" :comparator "i;ascii-numeric" "5" ' \
        '{ fileinto "High"; } else { fileinto "Low"; }\n'
    rc, out = sieve_test(st, script, sure_fixture(st, "spam", "en", True))
    check(rc == 0 and files_into(out, "High"), "spam: %s" % out)
    rc, out = sieve_test(st, script, sure_fixture(st, "ham", "en", False))
    check(rc == 0 and files_into(out, "Low"), "ham (negative score is 0): %s" % out)


@tap.case
def sieve_test_list_add_listed_remove(st):
    add = REQ + 'omamori_list :add :block ["worm@evil.example", "@junk.example"];\n'
    rc, out = sieve_test(st, add, HAM)
    check(rc == 0, out)
    shown = list_of(st, "alice@example.test")
    check("\tblock\tworm@evil.example" in shown and "\tblock\t@junk.example" in shown, shown)
    listed = REQ + 'if omamori_listed :block ["x@junk.example"] { fileinto "Blocked"; }\n'
    rc, out = sieve_test(st, listed, HAM)
    check(rc == 0 and files_into(out, "Blocked"), "by @domain: %s" % out)
    sender = REQ + 'if omamori_listed :block { fileinto "Blocked"; }\n'
    rc, out = sieve_test(st, sender, HAM, sender="worm@evil.example")
    check(rc == 0 and files_into(out, "Blocked"), "envelope sender: %s" % out)
    rc, out = sieve_test(st, sender, HAM, sender="someone@else.example")
    check(rc == 0 and not files_into(out, "Blocked"), "not listed: %s" % out)
    rc, out = sieve_test(st, REQ + 'omamori_list :remove :block "worm@evil.example";\n', HAM)
    check(rc == 0 and "\tworm@evil.example" not in list_of(st, "alice@example.test"), out)


def unreadable_lists_conf(st):
    """A dovecot.conf beside the stack's whose omamori.conf names a store
    whose lists cannot be read (a SQLite store with its lists table gone,
    whatever the stack's own backend)."""
    d = tempfile.mkdtemp(prefix="sieve-broken-", dir=st.dir)
    os.chmod(d, 0o777)
    db = os.path.join(d, "broken.db")
    with open(st.OMAMORI_CONF) as f:
        conf = re.sub(r"(?m)^store_path *=.*$", "store_path = " + db, f.read())
    omamori_conf = os.path.join(d, "omamori.conf")
    with open(omamori_conf, "w") as f:
        f.write(conf)
    os.chmod(omamori_conf, 0o644)
    subprocess.run([st.OMAMORICTL, "-c", omamori_conf, "init"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                    "c.execute('DROP TABLE list_entries'); c.commit()", db], check=True)
    os.chmod(db, 0o666)
    with open(st.DOVECOT_CONF) as f:
        dovecot = f.read().replace(st.OMAMORI_CONF, omamori_conf)
    check(omamori_conf in dovecot, "dovecot.conf does not name omamori.conf")
    path = os.path.join(os.path.dirname(st.DOVECOT_CONF), "dovecot-broken-lists.conf")
    with open(path, "w") as f:
        f.write(dovecot)
    return path


@tap.case
def sieve_test_listed_fails_when_the_lists_cannot_be_read(st):
    # never "not listed" for a list it could not read: the script stops
    # with a temporary failure (at delivery: LMTP 4xx, tried again)
    script = REQ + 'if omamori_listed :block { fileinto "Blocked"; } else { fileinto "Read"; }\n'
    rc, out = sieve_test(st, script, HAM, sender="worm@evil.example",
                         conf=unreadable_lists_conf(st))
    check(rc != 0 and "final result: temporary failure" in out and
          not files_into(out, "Read") and not files_into(out, "Blocked"),
          "omamori_listed on a store whose lists cannot be read: exit %d\n%s" % (rc, out))
    rc, out = sieve_test(st, script, HAM, sender="worm@evil.example")
    check(rc == 0 and files_into(out, "Read"), "the same script on the stack's store: %s" % out)


@tap.case
def sieve_test_compile_errors(st):
    cases = [
        ('omamori_list :add :maybe "a@b.example";\n', "unknown tagged argument ':maybe'"),
        ('omamori_list :allow "a@b.example";\n', "exactly one of :add and :remove"),
        ('omamori_list :add :allow :block "a@b.example";\n', "exactly one of :allow and :block"),
        ('omamori_list :add :allow "not an address";\n', "neither an address"),
        ('if omamori_listed :allow "a@b.example" "c@d.example" { keep; }\n', "at most one list"),
        ('if omamori_verdict { keep; }\n', "omamori_verdict"),
    ]
    for body, want in cases:
        rc, out = sieve_test(st, REQ + body, HAM)
        check(rc != 0 and want in out, "%r: rc %d, wanted %r in\n%s" % (body, rc, want, out))
    rc, out = sieve_test(st, 'if omamori_verdict "spam" { keep; }\n', HAM)
    check(rc != 0 and "unknown test 'omamori_verdict'" in out, "without require: %s" % out)


@tap.case
def sieve_test_refusals_write_nothing(st):
    st.fill_list("bob@example.test", "block", 299)
    two = REQ + 'omamori_list :add :block ["n1@many.example", "n2@many.example"];\n'
    rc, out = sieve_test(st, two, HAM, user="bob@example.test")
    check("refused" in out and "300" in out, "two over the limit: %s" % out)
    blocks = [l for l in list_of(st, "bob@example.test").splitlines() if "\tblock\t" in l]
    check(len(blocks) == 299, "half-written: %d entries" % len(blocks))
    st.ctl("domain", "set", "example.test", "user-allow-lists", "off")
    try:
        rc, out = sieve_test(st, REQ + 'omamori_list :add :allow "pal@x.example";\n', HAM,
                             user="bob@example.test")
        check("user-allow-lists off" in out, out)
        check("pal@x.example" not in list_of(st, "bob@example.test"), "written anyway")
    finally:
        st.ctl("domain", "set", "example.test", "user-allow-lists", "on")


# ---- ManageSieve ---------------------------------------------------------

@tap.case
def managesieve_accepts_and_refuses(st):
    ms = ManageSieve(st.SIEVE_PORT, "carol@example.test")
    try:
        ok, text = ms.put("good", REQ + 'if omamori_verdict "spam" { fileinto "Junk"; }\n'
                          'if omamori_listed :allow { keep; }\n')
        check(ok, "valid script refused: %s" % text)
        ok, text = ms.put("bad", REQ + 'omamori_list :add :maybe "a@b.example";\n')
        check(not ok and "unknown tagged argument" in text, "unknown tag: %s" % text)
        ok, text = ms.put("bad2", REQ + 'omamori_list :add :allow "not an address";\n')
        check(not ok and "neither an address" in text, "malformed address: %s" % text)
    finally:
        ms.close()


# ---- LMTP delivery -------------------------------------------------------

@tap.case
def delivery_files_spam_and_allow_lists_a_sender(st):
    # bob's domain tags spam; bob files it himself and trusts a partner
    install_script(st, "bob@example.test", REQ.replace('"fileinto"', '"fileinto", "mailbox", "envelope"') +
                   'if envelope :is "from" "vip@partner.example" {\n'
                   '  omamori_list :add :allow "vip@partner.example";\n}\n'
                   'if omamori_verdict "spam" { fileinto :create "MySpam"; }\n')
    spam = sure_fixture(st, "spam", "en", True)
    own_scans = st.scand_log().count("sieve scan mailbox=bob@example.test")
    m1 = uuid.uuid4().hex
    st.send(with_marker(spam, m1), ["bob@example.test"], sender="stranger@remote.test")
    got = arrived(st, "bob@example.test", m1, "MySpam")
    check(header_of(got, "Subject").startswith("[SPAM] "), "domain action tag not applied")
    # Sieve got the delivery's own verdict (omamori-verdict.h), not a scan of its own
    check(st.scand_log().count("sieve scan mailbox=bob@example.test") == own_scans,
          "the Sieve extension asked scand again inside a delivery")
    m2 = uuid.uuid4().hex
    st.send(with_marker(spam, m2), ["bob@example.test"], sender="vip@partner.example")
    arrived(st, "bob@example.test", m2, "MySpam")
    check("\tallow\tvip@partner.example" in list_of(st, "bob@example.test"), "not allow-listed")
    m3 = uuid.uuid4().hex
    st.send(with_marker(spam, m3), ["bob@example.test"], sender="vip@partner.example")
    got = arrived(st, "bob@example.test", m3, "INBOX")
    check(header_of(got, "Subject") == header_of(spam, "Subject"),
          "the allow-listed sender's next mail was tagged")
    check("listed=allow:mailbox" in header_of(got, "X-Omamori-Spam"), header_of(got, "X-Omamori-Spam"))


@tap.case
def delivery_refusals_keep_the_message(st):
    st.fill_list("carol@example.test", "block", 300)
    install_script(st, "carol@example.test", REQ + 'omamori_list :add :block "one-more@many.example";\n'
                   'fileinto "NeverReached";\n')
    marker = uuid.uuid4().hex
    st.send(with_marker(HAM, marker), ["carol@example.test"])
    arrived(st, "carol@example.test", marker, "INBOX")
    blocks = [l for l in list_of(st, "carol@example.test").splitlines() if "\tblock\t" in l]
    check(len(blocks) == 300, "%d entries after the refused 301st" % len(blocks))
    st.ctl("domain", "set", "example.test", "user-allow-lists", "off")
    try:
        install_script(st, "carol@example.test", REQ + 'omamori_list :add :allow "pal@x.example";\n')
        marker = uuid.uuid4().hex
        st.send(with_marker(HAM, marker), ["carol@example.test"])
        arrived(st, "carol@example.test", marker, "INBOX")
        check("pal@x.example" not in list_of(st, "carol@example.test"), "allow entry written")
    finally:
        st.ctl("domain", "set", "example.test", "user-allow-lists", "on")


# ---- imapsieve -----------------------------------------------------------

@tap.case
def imapsieve_example_allows_a_rescued_sender(st):
    # learn-allow-sender on (the default) lets the shipped Sieve script add
    # the sender; off, it adds nothing (tests/fault/lists.py)
    raw = with_marker(sure_fixture(st, "spam", "ja", True), uuid.uuid4().hex)
    raw = re.sub(rb"(?m)^From: .*$", b"From: Rescued <rescued@news.example>", raw, count=1)
    m = st.imap("alice@example.test")
    try:
        m.create("Quarantine")
        typ, resp = m.append("Quarantine", None, None, raw.replace(b"\n", b"\r\n"))
        check(typ == "OK", "APPEND: %r" % resp)
        m.select("Quarantine")
        typ, data = m.uid("SEARCH", None, "FROM", "rescued@news.example")
        typ, resp = m.uid("MOVE", data[0].split()[-1], "INBOX")
        check(typ == "OK", "MOVE: %r" % resp)
    finally:
        m.logout()
    deadline = time.time() + 10
    while "\tallow\trescued@news.example" not in list_of(st, "alice@example.test"):
        check(time.time() < deadline, "imapsieve did not allow-list the sender:\n%s"
              % st.tail("dovecot.log"))
        time.sleep(0.3)


def prepare(st):
    train_classifier(st)
    for user in ("alice", "bob", "carol"):
        st.ctl("sub", "set", user + "@example.test", "spam", "on")
    st.ctl("domain", "set", "example.test", "spam-action", "tag")


def main():
    return run_suite(tap, extra_conf="spam_save_interval = 1\n", prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
