#!/usr/bin/env python3
"""`omamorictl init` brings a store of schema version 5 (before the change
log) to the current version (7: quarantined mail, digests), keeping its
rows, and from then on every write records its scope.  The v5 store is
made by taking a new one back: v7's tables dropped, the change log and its
triggers dropped, v4's triggers put back, user_version 5 - what a site
upgrading from two releases back has.  Uses the built omamorictl
and Python's sqlite3 module (to look, as the test's own hands).  TAP."""
import os
import sqlite3
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tapplan import done, ok  # noqa: E402
import oldkeys  # noqa: E402

BUILD = os.environ.get("OMAMORI_BUILDDIR",
                       os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CTL = os.path.join(BUILD, "cli", "omamorictl")
TABLES = {"subscriptions": "mailbox", "domain_settings": "domain", "list_entries": "scope"}



def ctl(conf, *args):
    p = subprocess.run([CTL, "-c", conf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def back_to_v5(db):
    """The schema as release v5 left it."""
    con = sqlite3.connect(db)
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            con.execute("DROP TRIGGER %s_%s" % (table, event))
            con.execute("CREATE TRIGGER %s_%s AFTER %s ON %s BEGIN "
                        "UPDATE revisions SET value = value + 1 WHERE name = 'config'; END"
                        % (table, event, event.upper(), table))
    con.execute("DROP TABLE changes")
    for table in ("quarantine", "digests", "correspondents", "nonces", "outbound",
                  "holds", "zip_passwords", "sender_history", "brakes",
                  "url_entries", "url_clicks", "isolated_files",
                  "audit_rules", "sandbox_verdicts", "portal_messages",
                  "portal_views", "portal_codes", "policy_groups",
                  "subscription_history", "admins", "change_log", "events",
                  "report_sent"):
        con.execute("DROP TABLE %s" % table)
    for event in ("insert", "update", "delete"):
        con.execute("DROP TRIGGER subscriptions_history_%s" % event)
    con.execute("DELETE FROM revisions WHERE name = 'brake'")
    con.execute("PRAGMA user_version = 5")
    con.commit()
    con.close()


def main():
    work = tempfile.mkdtemp(prefix="om-test-migrate-")
    db = os.path.join(work, "omamori.db")
    conf = os.path.join(work, "omamori.conf")
    with open(conf, "w") as f:
        # the web key beside the store (init makes it), owned by root here
        f.write("store_path = %s\nlog = stderr\nweb_key_path = %s/web.key\nweb_user = root\n"
                "zip_key_path = %s/zip.key\nisolate_key_path = %s/isolate.key\n"
                % (db, work, work, work))
    rc, out = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "a new store is made at version 26")
    st = os.stat(os.path.join(work, "zip.key"))
    ok("zip key" in out and st.st_mode & 0o777 == 0o600 and st.st_uid == os.getuid(),
       "init makes the zip key, 0600, the caller's (root's)")
    st = os.stat(os.path.join(work, "isolate.key"))
    ok("isolation key" in out and st.st_mode & 0o777 == 0o600,
       "init makes the isolation key, 0600")
    ctl(conf, "list", "add", "taro@example.jp", "block", "@spam.example")
    ctl(conf, "sub", "set", "taro@example.jp", "spam", "on")
    ctl(conf, "domain", "set", "example.jp", "spam-threshold", "4")
    back_to_v5(db)
    rc, out = ctl(conf, "list", "show")
    ok(rc != 0 and "schema version 5" in out and "omamorictl init" in out,
       "a version 5 store is refused, saying what to run")
    rc, out = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "omamorictl init migrates 5 to 26")
    rc, out = ctl(conf, "list", "show", "taro@example.jp")
    ok(rc == 0 and "@spam.example" in out, "the lists are kept")
    rc, out = ctl(conf, "sub", "get", "taro@example.jp", "spam")
    ok(rc == 0 and "on" in out, "the subscriptions are kept")
    con = sqlite3.connect(db)
    ok(con.execute("SELECT count(*) FROM changes").fetchone()[0] == 0,
       "the change log starts empty (readers start with a full load)")
    con.close()
    ctl(conf, "list", "add", "hanako@example.jp", "block", "x@spam.example")
    ctl(conf, "domain", "set", "example.jp", "spam-threshold", "3")
    ctl(conf, "sub", "del", "taro@example.jp", "spam")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT scope FROM changes ORDER BY seq").fetchall()
    revision = con.execute("SELECT value FROM revisions WHERE name = 'config'").fetchone()[0]
    last = con.execute("SELECT max(seq) FROM changes").fetchone()[0]
    con.close()
    ok([r[0] for r in rows] == ["hanako@example.jp", "example.jp", "taro@example.jp"],
       "then a list, a setting and a subscription write record their scopes: %r" % rows)
    ok(revision == last, "with the config revision they made (%s)" % revision)
    rc, out = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "init again is harmless")
    keys_folded(conf, db)
    subprocess.run(["rm", "-rf", work], check=False)
    return done()


def keys_folded(conf, db):
    """v26 brings every key lookups fold to that spelling."""
    con = sqlite3.connect(db)
    for sql in oldkeys.ROWS:
        con.execute(sql)
    con.execute("PRAGMA user_version = 25")
    con.commit()
    con.close()
    rc, out = ctl(conf, "sub", "get", "jiro@example.jp", "inbound-virus")
    ok(rc != 0 and "schema version 25" in out, "a version 25 store is refused")
    rc, out = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "omamorictl init migrates 25 to 26: %s" % out)
    con = sqlite3.connect(db)
    for label, sql, want in oldkeys.EXPECT:
        got = [r[0] for r in con.execute(sql.format(order="rowid")).fetchall()]
        ok(got == want, "%s: %r" % (label, got))
    con.close()
    rc, out = ctl(conf, "sub", "get", "Jiro@EXAMPLE.jp", "inbound-virus")
    ok(rc == 0 and "on" in out, "the old subscription is found again: %s" % out.strip())
    rc, out = ctl(conf, "list", "show", "jiro@example.jp")
    ok(rc == 0 and "bad@spam.example" in out, "the old list entry is shown: %s" % out.strip())


if __name__ == "__main__":
    sys.exit(main())
