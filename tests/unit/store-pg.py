#!/usr/bin/env python3
"""The store on PostgreSQL (issue 21): starts a private server
(tests/pg.py), runs the store's core cases in C against it
(tests/unit/test-store-pg: settings, lists, tokens merged from two handles
and two processes, a hold, the change counter), the SQLite backend's own
unit tests (test-store, test-snapshot) on an empty PostgreSQL store
(OMAMORI_TEST_STORE), then omamorictl with
store_path = postgresql:... - init, domain/mailbox/sub/list set - and looks
at the rows with psql, as the test's own hands.  TAP (the C cases'
lines renumbered into this one plan)."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import pg  # noqa: E402  (tests/pg.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tapplan import done, ok  # noqa: E402

BUILD = os.environ.get("OMAMORI_BUILDDIR", os.path.dirname(os.path.dirname(HERE)))
CTL = os.path.join(BUILD, "cli", "omamorictl")
CASES = os.path.join(BUILD, "tests", "unit", "test-store-pg")



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
    ok(rc == 0 and "schema version 25" in out, "omamorictl init makes the schema: " +
       (out + err).strip().replace("\n", " ")[:200])
    ok(server.psql("SELECT version FROM schema_version") == ["25"],
       "schema_version row 25")
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
    finally:
        server.stop()
    return done()


if __name__ == "__main__":
    sys.exit(main())
