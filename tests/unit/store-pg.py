#!/usr/bin/env python3
"""The store on PostgreSQL (issue 21): starts a private server
(tests/pg.py), runs the store's core cases in C against it
(tests/unit/test-store-pg: settings, lists, tokens merged from two handles
and two processes, a hold, the change counter), the SQLite backend's own
unit tests (test-store, test-snapshot) on an empty PostgreSQL store
(OMAMORI_TEST_STORE), then omamorictl with
store_path = postgresql:... - init, domain/mailbox/sub/list set - and looks
at the rows with psql, as the test's own hands; then a handle held open
(tests/unit/test-pg-freeze) while the server hangs (tests/pg.py freeze),
thaws, stops and starts again: each call bounded; and a slow answer whose
rows keep arriving is read whole.  TAP (the C cases'
lines renumbered into this one plan)."""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import pg  # noqa: E402  (tests/pg.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tapplan import done, ok  # noqa: E402
import oldkeys  # noqa: E402

BUILD = os.environ.get("OMAMORI_BUILDDIR", os.path.dirname(os.path.dirname(HERE)))
CTL = os.path.join(BUILD, "cli", "omamorictl")
CASES = os.path.join(BUILD, "tests", "unit", "test-store-pg")
FREEZE = os.path.join(BUILD, "tests", "unit", "test-pg-freeze")



def ctl(conf, *args):
    p = subprocess.run([CTL, "-c", conf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def c_cases(server, program, least, name, env=None):
    """A C test's TAP lines, counted here under name."""
    p = subprocess.run([program], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env, timeout=120)
    seen = 0
    for line in p.stdout.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            seen += 1
            good = line.startswith("ok ")
            label = line.split(" - ", 1)[1] if " - " in line else line
            ok(good, "%s: %s" % (name, label))
        elif line.startswith("#"):
            print(line)
    ok(p.returncode == 0 and seen >= least, "%s ran %d cases, exit %d"
       % (name, seen, p.returncode))


def sqlite_cases(server):
    """The SQLite backend's unit tests, each on an empty PostgreSQL store."""
    for test, least in (("test-store", 250), ("test-snapshot", 10)):
        server.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        env = dict(os.environ, OMAMORI_TEST_STORE="postgresql:" + server.conninfo)
        c_cases(server, os.path.join(BUILD, "tests", "unit", test), least, test, env)


def omamorictl(server):
    work = tempfile.mkdtemp(prefix="om-test-pg-")
    conf = os.path.join(work, "omamori.conf")
    with open(conf, "w") as f:
        f.write("store_path = postgresql:%s\nlog = stderr\nweb_key_path = %s/web.key\n"
                "web_user = root\n" % (server.conninfo, work))
    # a fresh database for omamorictl's own run
    server.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    rc, out, err = ctl(conf, "domain", "list")
    ok(rc != 0 and "omamorictl init" in err, "before init: refused, saying what to run")
    rc, out, err = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "omamorictl init makes the schema: " +
       (out + err).strip().replace("\n", " ")[:200])
    ok(server.psql("SELECT version FROM schema_version") == ["26"],
       "schema_version row 26")
    rc, out, err = ctl(conf, "init")
    ok(rc == 0, "init again is harmless")
    rc, out, err = ctl(conf, "domain", "set", "example.jp", "inbound-virus", "on")
    ok(rc == 0, "domain set: " + (out + err).strip()[:200])
    rc, out, err = ctl(conf, "mailbox", "set", "taro@example.jp", "spam-action", "quarantine")
    ok(rc == 0, "mailbox set: " + (out + err).strip()[:200])
    rc, out, err = ctl(conf, "sub", "set", "hanako@example.jp", "inbound-virus", "paused")
    ok(rc == 0, "sub set: " + (out + err).strip()[:200])
    rc, out, err = ctl(conf, "list", "add", "taro@example.jp", "block", "bad@spam.example")
    ok(rc == 0, "list add: " + (out + err).strip()[:200])
    rows = server.psql("SELECT domain, name, value FROM domain_settings ORDER BY 1, 2")
    ok("example.jp|inbound-virus|on" in rows and
       "taro@example.jp|spam-action|quarantine" in rows,
       "the settings are rows in PostgreSQL: %s" % rows)
    ok(server.psql("SELECT mailbox, feature, state FROM subscriptions") ==
       ["hanako@example.jp|inbound-virus|paused"], "the subscription is a row")
    ok(server.psql("SELECT scope, kind, entry FROM list_entries") ==
       ["taro@example.jp|block|bad@spam.example"], "the list entry is a row")
    changes = server.psql("SELECT scope FROM changes ORDER BY seq")
    ok(set(changes) >= {"example.jp", "taro@example.jp", "hanako@example.jp"},
       "the change log has each scope changed: %s" % changes)
    log = server.psql("SELECT domain, what, new FROM change_log ORDER BY id")
    ok(any(r.startswith("example.jp|") for r in log),
       "the domain's change is in its change log: %s" % log)
    rc, out, err = ctl(conf, "sub", "get", "hanako@example.jp", "inbound-virus")
    ok(rc == 0 and "paused" in out, "sub get reads it back: " + out.strip()[:200])
    rc, out, err = ctl(conf, "domain", "get", "example.jp", "inbound-virus")
    ok(rc == 0 and "on" in out, "domain get reads it back: " + out.strip()[:200])
    rc, out, err = ctl(conf, "list", "show", "taro@example.jp")
    ok(rc == 0 and "bad@spam.example" in out, "list show reads it back")


class Handle:
    """test-pg-freeze: one store handle held open; read() times one call."""

    def __init__(self, store_path):
        self.p = subprocess.Popen([FREEZE, store_path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.opened = self.p.stdout.readline().strip()

    def read(self, what="read"):
        """(ok, seconds the call took, its error or its count)"""
        self.p.stdin.write(what + "\n")
        self.p.stdin.flush()
        words = self.p.stdout.readline().strip().split(" ", 2)
        return (words[0] == "ok", int(words[1]) / 1000.0 if len(words) > 1 else -1,
                words[2] if len(words) > 2 else "")

    def close(self):
        self.p.stdin.close()
        return self.p.wait(timeout=30)


def keys_folded(server):
    """v26 brings every key lookups fold to that spelling (as test-migrate.py
    on SQLite), on the database omamorictl() made."""
    work = tempfile.mkdtemp(prefix="om-test-pg-")
    conf = os.path.join(work, "omamori.conf")
    with open(conf, "w") as f:
        f.write("store_path = postgresql:%s\nlog = stderr\nweb_key_path = %s/web.key\n"
                "web_user = root\n" % (server.conninfo, work))
    server.psql(";".join(oldkeys.ROWS) + ";UPDATE schema_version SET version = 25")
    rc, out, err = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "omamorictl init migrates 25 to 26: " +
       (out + err).strip()[:200])
    for label, sql, want in oldkeys.EXPECT:
        got = server.psql(sql.format(order="seq"))
        ok(got == want, "%s: %s" % (label, got))
    rc, out, err = ctl(conf, "sub", "get", "Jiro@EXAMPLE.jp", "inbound-virus")
    ok(rc == 0 and "on" in out, "the old subscription is found again: " + out.strip()[:200])
    subprocess.run(["rm", "-rf", work], check=False)


def hangs(server):
    """A server that hangs (SIGSTOP) or goes away: a call fails within the
    answer deadline (answer_timeout=3 in the conninfo), the next ones fail
    at once for a pause, and a call after it succeeds once the server is
    back; the handle is never left waiting."""
    server.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    with open(os.path.join(server.dir, "port"), "w") as f:
        f.write("%d\n" % server.port)
    bad = Handle("postgresql:%s answer_timeout=0" % server.conninfo)
    ok("answer_timeout must be 1 to 3600 seconds" in bad.opened,
       "answer_timeout=0 refused: " + bad.opened)
    bad.close()
    # omamori's keyword among libpq's, spaces around '=' and a quoted value
    h = Handle("postgresql:host=127.0.0.1 port=%d answer_timeout = 3 user='%s' "
               "dbname = '%s'" % (server.port, pg.USER, pg.DATABASE))
    ok(h.opened == "open", "a handle opened with answer_timeout = 3: " + h.opened)
    good, took, error = h.read()
    ok(good, "a read answers: %s" % error)
    thawed = False
    try:
        pids = pg.freeze(server.dir, True)
        ok(len(pids) >= 3, "the server frozen: postmaster and %d children"
           % (len(pids) - 1))
        good, took, error = h.read()
        ok(not good and "did not answer in 3 s" in error and 2.5 <= took <= 5,
           "frozen: the read fails after %.1f s (deadline 3 s): %s" % (took, error))
        good, took, error = h.read()
        # the connection was given up: a new one meets the frozen server
        # (its port still takes TCP) and gives up after connect_timeout 5 s
        ok(not good and took <= 8, "still frozen: the reconnect gives up after "
           "%.1f s: %s" % (took, error))
        good, took, error = h.read()
        ok(not good and took < 0.5 and "next attempt in 1 s" in error,
           "and the next read fails at once (%.2f s), waiting: %s" % (took, error))
        pg.freeze(server.dir, False)
        thawed = True
        time.sleep(1.2)
        good, took, error = h.read()
        ok(good, "thawed, after the pause: the read answers (%.2f s) %s" % (took, error))
        # a server gone (stopped as a crash): refused at once, then pauses
        ok(pg.outage(server.dir, True) == 0, "the server stopped")
        good, took, error = h.read()
        ok(not good, "stopped: the read meets the lost connection: %s" % error)
        good, took, error = h.read()
        ok(not good and took < 3 and "next attempt" not in error,
           "a new attempt, refused (%.2f s): %s" % (took, error))
        started = time.time()
        fast = []
        while time.time() - started < 0.8:
            fast.append(h.read())
            time.sleep(0.02)
        ok(len(fast) >= 5 and all(not g and t < 0.2 and "next attempt in 1 s" in e
                                  for g, t, e in fast),
           "%d reads in the next 0.8 s fail at once, naming the pause: %s"
           % (len(fast), fast[0][2] if fast else ""))
        time.sleep(1.2 - (time.time() - started))
        good, took, error = h.read()
        ok(not good and "next attempt" not in error,
           "after 1 s a new attempt (refused again): %s" % error)
        good, took, error = h.read()
        ok(not good and "next attempt in 2 s" in error,
           "the pause doubles while attempts fail: %s" % error)
        ok(pg.outage(server.dir, False) == 0, "the server started again")
        time.sleep(2.2)
        good, took, error = h.read()
        ok(good, "after the pause the read answers again (%.2f s) %s" % (took, error))
        good, took, error = h.read()
        ok(good and took < 0.5, "and the next one at once (%.2f s)" % took)
    finally:
        if not thawed:
            try:
                pg.freeze(server.dir, False)
            except (OSError, ValueError):
                pass
    ok(h.close() == 0, "the handle closes cleanly")


def steady(server):
    """The deadline counts silence, not the whole answer: five list entries
    of 20 kB (each leaves the server's buffer as a row of its own), each
    row 1.2 s after the one before, arrive whole in 6 s under
    answer_timeout=3; sorted after they are all read (6 s without a byte),
    the same answer is cut at 3 s."""
    server.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    first = Handle("postgresql:%s answer_timeout=3" % server.conninfo)  # the schema
    good, took, rows = first.read("list")
    ok(good and rows == "0", "a handle on a new store lists nothing: %s" % rows)
    first.close()
    server.psql(
        "INSERT INTO list_entries SELECT 's' || g, 'block', repeat('x', 20000) || g, 0"
        " FROM generate_series(1, 5) g;"
        "ALTER TABLE list_entries RENAME TO list_entries_rows;"
        "CREATE FUNCTION om_test_slow(t TEXT) RETURNS BOOLEAN LANGUAGE sql VOLATILE"
        " AS $$ SELECT pg_sleep(1.2) IS NOT NULL $$;"
        "CREATE VIEW list_entries AS SELECT * FROM list_entries_rows"
        " WHERE om_test_slow(entry);"
        "ALTER DATABASE %s SET enable_sort = off" % pg.DATABASE)
    try:
        # rows in the index's order: each sent once read, 1.2 s apart
        h = Handle("postgresql:%s answer_timeout=3" % server.conninfo)
        good, took, rows = h.read("list")
        ok(good and rows == "5" and took >= 5.5,
           "a list arriving a row every 1.2 s is read whole in %.1f s (answer_timeout=3): "
           "%s" % (took, rows))
        h.close()
        server.psql("ALTER DATABASE %s RESET enable_sort" % pg.DATABASE)
        h = Handle("postgresql:%s answer_timeout=3" % server.conninfo)
        good, took, error = h.read("list")
        ok(not good and "did not answer in 3 s" in error and 2.5 <= took <= 5,
           "the same rows sorted after all are read (6 s silent): cut after %.1f s: %s"
           % (took, error))
        h.close()
    finally:
        server.psql("ALTER DATABASE %s RESET enable_sort" % pg.DATABASE)


def main():
    if not os.access(CASES, os.X_OK):
        print("not ok 1 - %s is built (make check builds it)" % CASES)
        print("1..1")
        return 1
    try:
        server = pg.PgServer().start()
    except (RuntimeError, KeyError) as e:
        # the suite needs postgresql (tests/install-deps): not a pass
        print("not ok 1 - a private PostgreSQL started: %s" % e)
        print("1..1")
        return 1
    try:
        c_cases(server, CASES, 30, "test-store-pg",
                dict(os.environ, OMAMORI_PG=server.conninfo))
        sqlite_cases(server)
        omamorictl(server)
        keys_folded(server)
        hangs(server)
        steady(server)
    finally:
        server.stop()
    return done()


if __name__ == "__main__":
    sys.exit(main())
