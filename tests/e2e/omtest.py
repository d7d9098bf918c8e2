"""omtest - shared helpers of omamori's end-to-end tests.

Starts the private stack (tests/stack) in a temporary directory, talks to it
with real clients (smtplib, imaplib), and reports in TAP so that automake's
TAP driver counts every case.  Nothing here mocks a server.
"""
import base64
import email
import email.policy
import html.parser
import imaplib
import os
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
STACK = os.path.join(SRCDIR, "tests", "stack")
BUILDDIR = os.environ.get("OMAMORI_BUILDDIR", SRCDIR)
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
PASSWORD = "secret"
# a second local domain of the stack, for the mailboxes a test asks for
# (run_suite(mailboxes=...)): external to example.test's senders for
# omamori, yet its mail is in Dovecot, read over IMAP
OUTSIDE = "outside.test"


class Stack:
    """A running stack; its KEY=VALUE lines are attributes (SMTP_PORT, ...).
    mailboxes: addresses on other domains (OUTSIDE) delivered to the stack's
    Dovecot too, read over IMAP like alice@example.test; mail to any other
    domain still goes to the outbound sink."""

    def __init__(self, extra_conf=None, mailboxes=(), env_extra=None, prefix="omamori-e2e-"):
        """env_extra: more tests/stack variables (a value None removes
        one), such as tests/multihost's OMAMORI_STACK_ADDR."""
        self.dir = tempfile.mkdtemp(prefix=prefix)
        env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
        for key, value in (env_extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        if extra_conf:
            env["OMAMORI_EXTRA_CONF"] = extra_conf
        if mailboxes:
            env["OMAMORI_EXTRA_MAILBOXES"] = " ".join(mailboxes)
        out = subprocess.run([STACK, "up", self.dir], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        self.env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        for key, value in self.env.items():
            setattr(self, key, value)
        # the address the stack's servers listen on (tests/stack's STACK_ADDR)
        self.addr = self.env.get("STACK_ADDR", "127.0.0.1")

    # --- the store, as the test's own hands --------------------------------
    def sql(self, query, params=(), dicts=False):
        """Runs query (placeholders ?) on the stack's store, SQLite or
        PostgreSQL (STORE=postgresql, through psql: no Python driver in
        Debian's base), committed; the rows as tuples (dicts: as dicts by
        column name).  PostgreSQL's values come back as text, integers as
        int."""
        if getattr(self, "STORE", "sqlite") != "postgresql":
            path = self.OMAMORI_CONF and self.conf_value("store_path")
            if path.startswith("sqlite:"):
                path = path[len("sqlite:"):]
            con = sqlite3.connect(path, timeout=10)
            try:
                if dicts:
                    con.row_factory = sqlite3.Row
                rows = con.execute(query, tuple(params)).fetchall()
                con.commit()
                return [dict(r) for r in rows] if dicts else rows
            finally:
                con.close()
        return pg_sql(self.PG_CONNINFO, query, params, dicts)

    def sql_many(self, query, rows):
        """Runs query once per tuple of rows in one transaction (sqlite3's
        executemany; on PostgreSQL one psql for them all)."""
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        if getattr(self, "STORE", "sqlite") != "postgresql":
            path = self.conf_value("store_path")
            if path.startswith("sqlite:"):
                path = path[len("sqlite:"):]
            con = sqlite3.connect(path, timeout=10)
            try:
                with con:
                    con.executemany(query, rows)
            finally:
                con.close()
            return
        pg_script(self.PG_CONNINFO, [(query, r) for r in rows])

    def fill_list(self, scope, kind, count, domain="many.example"):
        """Puts count entries on scope's kind list with `omamorictl list
        import` (a mailbox's list keeps its limit, list_max_entries, in an
        import too: count must stay within it)."""
        path = os.path.join(self.dir, "fill-%s-%s.csv" % (scope, kind))
        with open(path, "w") as f:
            f.write("scope,kind,entry\n")
            f.writelines("%s,%s,user%d@%s\n" % (scope, kind, i, domain) for i in range(count))
        self.ctl("list", "import", path)

    def down(self, keep=False):
        subprocess.run([STACK, "down", self.dir], check=False)
        if not keep and not os.environ.get("OMAMORI_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- omamorictl -------------------------------------------------------
    def ctl(self, *args, check=True, stdin=None):
        proc = subprocess.run([self.OMAMORICTL, "-c", self.OMAMORI_CONF] + list(args),
                              input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if check and proc.returncode != 0:
            raise AssertionError("omamorictl %s failed (%d): %s" %
                                 (" ".join(args), proc.returncode, proc.stderr.decode()))
        return proc

    # --- SMTP ---------------------------------------------------------------
    def send(self, msg_bytes, rcpts, sender="sender@remote.test"):
        """The refused recipients (smtplib's sendmail)."""
        with smtplib.SMTP(self.addr, int(self.SMTP_PORT), timeout=120) as s:
            return s.sendmail(sender, rcpts, msg_bytes)

    # --- IMAP ---------------------------------------------------------------
    def imap(self, user):
        m = imaplib.IMAP4(self.addr, int(self.IMAP_PORT))
        m.login(user, PASSWORD)
        return m

    def fetch_all(self, user, mailbox="INBOX"):
        """Every message of a mailbox, raw bytes (LF line ends), in order."""
        m = self.imap(user)
        try:
            typ, _ = m.select(mailbox, readonly=True)
            if typ != "OK":
                return []
            typ, data = m.uid("SEARCH", None, "ALL")
            uids = data[0].split()
            result = []
            for uid in uids:
                typ, parts = m.uid("FETCH", uid, "(BODY.PEEK[])")
                result.append(parts[0][1].replace(b"\r\n", b"\n"))
            return result
        finally:
            m.logout()

    def wait_for(self, user, marker, timeout=30, mailbox="INBOX"):
        """Waits until a message containing marker (bytes) is in mailbox."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in self.fetch_all(user, mailbox) if marker in m]
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError("no message with %r reached %s/%s in %ds; maillog tail:\n%s"
                             % (marker, user, mailbox, timeout, self.tail("maillog")))

    def tail(self, name, lines=15):
        path = os.path.join(self.dir, "log", name)
        try:
            with open(path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no %s)" % name

    def scand_log(self):
        with open(os.path.join(self.dir, "log", "scand.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_scand_log(self, text, count=1, timeout=10):
        """scand's log once text is in it count times, or at the timeout:
        scand writes its log through a thread of its own, so a line comes a
        few milliseconds after what it tells."""
        deadline = time.time() + timeout
        while True:
            log = self.scand_log()
            if log.count(text) >= count or time.time() >= deadline:
                return log
            time.sleep(0.05)

    def scand_pid(self):
        with open(os.path.join(self.dir, "run", "scand.pid")) as f:
            return int(f.read())

    def scand_alive(self):
        try:
            os.kill(self.scand_pid(), 0)
            return True
        except OSError:
            return False

    def conf_value(self, name):
        """A parameter of the stack's omamori.conf, as written there."""
        with open(self.OMAMORI_CONF) as f:
            for ln in f:
                if ln.split("=", 1)[0].strip() == name:
                    return ln.split("=", 1)[1].strip()
        raise AssertionError("no %s in the stack's configuration" % name)

    def stop_scand(self, why="scand did not stop"):
        """SIGTERM to scand, and wait (10 s at most) until it is gone."""
        os.kill(self.scand_pid(), signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline and self.scand_alive():
            time.sleep(0.1)
        check(not self.scand_alive(), why)

    def restart_scand(self):
        env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
        subprocess.run([STACK, "restart-scand", self.dir], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    def policyd_pid(self):
        with open(os.path.join(self.dir, "run", "policyd.pid")) as f:
            return int(f.read())

    def restart_policyd(self):
        env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
        subprocess.run([STACK, "restart-policyd", self.dir], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    def smtp(self, login=None):
        """An SMTP session; login simulates SASL with XCLIENT LOGIN=."""
        s = smtplib.SMTP(self.addr, int(self.SMTP_PORT), timeout=60)
        if login is not None:
            s.ehlo()
            code, msg = s.docmd("XCLIENT", "LOGIN=" + login)
            if code != 220:
                raise AssertionError("XCLIENT refused: %d %r" % (code, msg))
        s.ehlo()
        return s

    def rcpt_code(self, sender, rcpt):
        """The stack's answer to RCPT TO:<rcpt> after MAIL FROM:<sender>
        (policyd's, through Postfix); nothing is sent (RSET after it)."""
        with self.smtp() as s:
            s.mail(sender)
            code, _ = s.rcpt(rcpt)
            s.rset()
        return code

    def kill_scand(self, sig=signal.SIGKILL):
        os.kill(self.scand_pid(), sig)

    def queue(self):
        """Postfix queue as text (postqueue -p)."""
        return subprocess.run(["postqueue", "-c", self.POSTFIX_DIR, "-p"],
                              stdout=subprocess.PIPE, text=True).stdout

    def flush(self):
        subprocess.run(["postqueue", "-c", self.POSTFIX_DIR, "-f"], check=False)


def pg_sql(conninfo, query, params, dicts):
    """Stack.sql on PostgreSQL: each ? becomes a psql variable, quoted by
    psql (:'pN'), so nothing is spliced by hand."""
    return pg_script(conninfo, [(query, params)], dicts)


# psql's unaligned output with separators no value of the tests holds, so
# that a value with a newline (recipients, findings) stays one value, and
# NULL told apart from '' (None, as sqlite3 gives it)
PG_FIELD, PG_RECORD, PG_NULL = "\x1f", "\x1e", "\x02"


def pg_script(conninfo, statements, dicts=False):
    """Runs statements, (query, params) pairs with ? placeholders, in one
    psql and one transaction; the last statement's rows."""
    sys.path.insert(0, os.path.dirname(HERE))
    import pg  # tests/pg.py
    args = [os.path.join(pg.pg_bindir(), "psql"), "-X", "-q", "-A",
            "-F", PG_FIELD, "-R", PG_RECORD, "-P", "footer=off", "-P", "null=" + PG_NULL,
            "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    if not dicts:
        args.append("-t")
    script, n = [], 0
    for query, params in statements:
        parts = query.split("?")
        if len(parts) - 1 != len(params):
            raise AssertionError("%d placeholders, %d values" % (len(parts) - 1, len(params)))
        script.append(parts[0] + "".join(":'p%d'%s" % (n + i, part)
                                         for i, part in enumerate(parts[1:])) + ";\n")
        for value in params:
            args += ["-v", "p%d=%s" % (n, value)]
            n += 1
    # one transaction; only the last statement's rows are printed
    text = ("BEGIN;\n\\o /dev/null\n" + "".join(script[:-1]) + "\\o\n" + script[-1] +
            "\\o /dev/null\nCOMMIT;\n")
    p = subprocess.run(args, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise AssertionError("psql: %s" % p.stderr)
    out = p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout
    records = out.split(PG_RECORD) if out else []

    def value(v):
        if v == PG_NULL:
            return None
        return int(v) if re.fullmatch(r"-?[0-9]+", v) else v
    if dicts:
        if not records:
            return []
        names = records[0].split(PG_FIELD)
        return [dict(zip(names, map(value, r.split(PG_FIELD)))) for r in records[1:]]
    return [tuple(map(value, r.split(PG_FIELD))) for r in records]


class Tap:
    """Runs test functions and prints TAP (one line per case)."""

    def __init__(self):
        self.cases = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def run(self, *args):
        print("1..%d" % len(self.cases), flush=True)
        failed = 0
        for n, fn in enumerate(self.cases, 1):
            name = fn.__name__
            try:
                fn(*args)
                print("ok %d - %s" % (n, name), flush=True)
            except Exception:  # a failed check or a broken server alike
                failed += 1
                print("not ok %d - %s" % (n, name), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
        return 1 if failed else 0


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def header_of(raw, name):
    """First value of a header in raw message bytes (unfolded), or None."""
    head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    lines = head.split(b"\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower().encode() + b":"):
            value = line.split(b":", 1)[1]
            j = i + 1
            while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
                value += lines[j]
                j += 1
            return value.strip().decode("utf-8", "replace")
    return None


def body_of(raw):
    raw = raw.replace(b"\r\n", b"\n")
    return raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""


def train_classifier(st):
    """Omamori's fixture set generated into the stack and learned; waits
    until scand has loaded it.  Returns the fixture directory."""
    out = os.path.join(st.dir, "fixtures")
    subprocess.run([sys.executable, os.path.join(SRCDIR, "tests", "fixtures", "spamgen.py"), out],
                   check=True)
    st.ctl("learn", "spam", os.path.join(out, "train", "spam"))
    learned = st.ctl("learn", "ham", os.path.join(out, "train", "ham")).stdout.decode()
    # scand must hold both halves, not just the spam learned first
    m = re.search(r"knows (\d+) spam, (\d+) ham", learned)
    check(m, "learn said: %r" % learned)
    want = "classifier reloaded: %s spam, %s ham" % (m.group(1), m.group(2))
    check(want in st.wait_scand_log(want, timeout=30), "scand never loaded %r" % want)
    return out


def sure_fixtures(st, kind, lang, spam, count=1):
    """Up to count test-set fixtures of lang the trained classifier is sure
    about (probability over 0.99 for spam, under 0.01 for ham), as bytes."""
    d = os.path.join(st.dir, "fixtures", "test", kind)
    out = st.ctl("classify", d).stdout.decode().splitlines()
    sure = sorted(path for p, path in (line.split("\t", 1) for line in out)
                  if os.path.basename(path).startswith(lang + "-") and
                  (float(p) > 0.99 if spam else float(p) < 0.01))
    check(sure, "no %s %s fixture the classifier is sure of" % (lang, kind))
    result = []
    for path in sure[:count]:
        with open(path, "rb") as f:
            result.append(f.read())
    return result


def sure_fixture(st, kind, lang, spam):
    """The first of sure_fixtures."""
    return sure_fixtures(st, kind, lang, spam)[0]


# --- building and reading messages (e2e and fault tests) -------------------
def text_part(text):
    """A text/plain MIME part (bytes, with its header)."""
    return b"Content-Type: text/plain; charset=utf-8\n\n" + text + b"\n"


def mixed_mail(marker, parts, to="alice@example.test", subject="test", extra_headers=b"",
               preamble=b""):
    """A multipart/mixed message from sender@remote.test; parts are raw
    MIME part bytes, marker (str or bytes) in the subject and Message-ID."""
    m = marker.encode() if isinstance(marker, str) else marker
    out = (b"From: Sender <sender@remote.test>\nTo: " + to.encode() + b"\n"
           b"Subject: " + subject.encode() + b" " + m + b"\n"
           b"Message-ID: <" + m + b"@remote.test>\n" + extra_headers +
           b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n" +
           preamble)
    for p in parts:
        out += b"--BB\n" + p
    return out + b"--BB--\n"


def windows_program(tag=b""):
    """A Windows program's header ("MZ", e_lfanew at 0x80, "PE\\0\\0"), tag
    inside."""
    b = bytearray(512)
    b[0:2] = b"MZ"
    b[60] = 0x80
    b[0x80:0x84] = b"PE\0\0"
    b[0x100:0x100 + len(tag)] = tag
    return bytes(b)


# crypto/token.h: who signs each kind of token (omamori-web every other)
LINK_SIGNERS = {"web": 1, "scan": 2, "outbound": 3}
LINK_SIGNER_OF = {"isolated": "scan", "hold": "outbound", "holds": "outbound",
                  "portal": "outbound", "portal-sender": "outbound",
                  "zip-password": "outbound"}


def link_key(st, signer):
    """The stack's link key of signer ("web", "scan", "outbound"), derived
    from the web key file as libsodium's crypto_kdf_derive_from_key does
    (BLAKE2b keyed with the file's key, the subkey id in the salt, the
    context "omamolnk" as personalisation); "file": the file's own key."""
    import hashlib
    import struct

    with open(st.conf_value("web_key_path")) as f:
        key = bytes.fromhex(f.read().split()[0])
    if signer == "file":
        return key
    return hashlib.blake2b(b"", digest_size=32, key=key,
                           salt=struct.pack("<Q", LINK_SIGNERS[signer]) + bytes(8),
                           person=b"omamolnk" + bytes(8)).digest()


def web_token(st, mailbox, action, message="", lifetime=3600, signer=None):
    """A token as omamori makes them, signed with the key of the action's
    signer (or of signer: "web", "scan", "outbound", "file")."""
    import hashlib
    import hmac

    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    key = link_key(st, signer or LINK_SIGNER_OF.get(action, "web"))
    text = ("1\n%d\n%s\n%s\n%s" % (int(time.time()) + lifetime, action, mailbox,
                                     message)).encode()
    return b64(text) + "." + b64(hmac.new(key, text, hashlib.sha512).digest()[:32])


def file_part(name, data):
    """An attachment part, base64."""
    return (b"Content-Type: application/octet-stream; name=\"" + name + b"\"\n"
            b"Content-Disposition: attachment; filename=\"" + name + b"\"\n"
            b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data))


# --- omamori-web's pages, as a browser without scripts sees them -------------
def http(url, data=None, timeout=60):
    """(status, headers, body text) of a GET, or a POST of data (a dict)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body),
                                    timeout=timeout) as r:
            return r.status, r.headers, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, its named inputs (fields; the
    hidden ones also in hidden), its named buttons as (name, value) in
    order, and op: the last button's value."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"),
                               "fields": {}, "hidden": {}, "buttons": [], "op": None})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
            if a.get("type") == "hidden":
                self.forms[-1]["hidden"][a["name"]] = a.get("value", "")
        elif self.forms and tag == "button":
            self.forms[-1]["op"] = a.get("value")
            if a.get("name"):
                self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))


def forms_of(page):
    """The forms of page (text), as Forms reads them."""
    p = Forms()
    p.feed(page)
    return p.forms


def attachment_mail(sender, rcpts, subject, m, text, name, data):
    """A mail from sender To all of rcpts, Subject "subject m", Message-ID
    <m@example.test>: a text part (text, bytes) and the attachment name
    (bytes) holding data."""
    bnd = "b-" + m
    raw = ("From: %s\nTo: %s\nSubject: %s %s\nMessage-ID: <%s@example.test>\n"
           "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n"
           % (sender, ", ".join(rcpts), subject, m, m, bnd)).encode()
    for p in (text_part(text), file_part(name, data)):
        raw += b"--" + bnd.encode() + b"\n" + p
    return raw + b"--" + bnd.encode() + b"--\n"


def until(cond, limit, step=0.02):
    """Seconds until cond() held (checked every step seconds), or None
    after limit seconds."""
    start = time.time()
    while time.time() - start < limit:
        if cond():
            return time.time() - start
        time.sleep(step)
    return None


def wait_mail(st, user, wanted, what, timeout=40):
    """The first mail in user's INBOX for which wanted(raw) is true, waiting
    up to timeout seconds; what names it in the failure."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for raw in st.fetch_all(user):
            if wanted(raw):
                return raw
        time.sleep(0.3)
    raise AssertionError("no %s in %s's INBOX" % (what, user))


def decoded(raw):
    """What a mail client shows: the Subject and every text part decoded."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = [str(msg.get("Subject", ""))]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                out.append(part.get_content())
            except (LookupError, UnicodeError):
                pass
    return "\n".join(out)


def in_box(st, user, m, mailbox="INBOX"):
    """The messages of a mailbox holding the marker m (bytes)."""
    return [x for x in st.fetch_all(user, mailbox) if m in x]


def nowhere_for(st, user, m, seconds, why):
    """m reaches neither user's INBOX nor Quarantine for seconds."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        check(not in_box(st, user, m) and not in_box(st, user, m, "Quarantine"), why)
        time.sleep(0.5)


def proto_version():
    """OM_PROTO_VERSION as shared/proto/proto.h defines it (so a fake
    scand here speaks the version the build does)."""
    with open(os.path.join(SRCDIR, "shared", "proto", "proto.h")) as f:
        return int(re.search(r"#define OM_PROTO_VERSION (\d+)", f.read()).group(1))


def install_sandbox_script(sb_dir, text):
    """Writes text as the sandbox command sb_dir/sandbox (sandbox_command
    of doc/attachments.md) with a state directory sb_dir/state it may write
    in: scand runs it as the omamori user.  Returns the script's path."""
    state = os.path.join(sb_dir, "state")
    script = os.path.join(sb_dir, "sandbox")
    os.makedirs(state)
    with open(script, "w") as f:
        f.write(text)
    os.chmod(script, 0o755)
    os.chmod(sb_dir, 0o755)
    os.chmod(state, 0o777)
    return script


def require_root():
    if os.geteuid() != 0:
        print("Bail out! e2e tests need root (Postfix and Dovecot run as root)")
        sys.exit(1)


def run_suite(tap, subscribe=(), extra_conf=None, setup=(), prepare=None, mailboxes=()):
    """Starts a stack (with the extra mailboxes, Stack's), subscribes
    mailboxes to inbound-virus, runs the omamorictl commands in setup and
    then prepare(stack), runs the cases, stops the stack; returns the exit
    status."""
    require_root()
    st = Stack(extra_conf=extra_conf, mailboxes=mailboxes)
    try:
        for mailbox in subscribe:
            st.ctl("sub", "set", mailbox, "inbound-virus", "on")
        for args in setup:
            st.ctl(*args)
        if setup:
            time.sleep(1.6)     # policyd picks store changes up every second
        if prepare is not None:
            prepare(st)
        return tap.run(st)
    finally:
        st.down()


# --- the outbound path (tests/stack's external sink) -------------------------
def send_as(st, login, rcpts, data):
    """Sends data as the authenticated user login (XCLIENT LOGIN), as a mail
    client of the ISP's customers does; every recipient must be accepted."""
    with st.smtp(login=login) as s:
        refused = s.sendmail(login, list(rcpts), data)
    check(refused == {}, "refused: %r" % refused)


def sink(st, m):
    """The copies at the stack's outbound sink holding marker m (str)."""
    out = []
    for name in os.listdir(st.OUTBOUND_SINK_DIR):
        if name.startswith("."):
            continue
        with open(os.path.join(st.OUTBOUND_SINK_DIR, name), "rb") as f:
            data = f.read()
        if m.encode() in data:
            out.append(data)
    return out


def wait_sink(st, m, count=1, timeout=40, settle=0):
    """Waits until count copies of m are at the sink; then, with settle,
    that many seconds more (a duplicate would be there by then).  Returns
    the copies."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(sink(st, m)) >= count:
            time.sleep(settle)
            return sink(st, m)
        time.sleep(0.3)
    raise AssertionError("%d of %d copies of %s at the sink; maillog:\n%s\nfilter log:\n%s"
                         % (len(sink(st, m)), count, m, st.tail("maillog"), st.tail("filter.log")))
