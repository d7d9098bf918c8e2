#!/usr/bin/env python3
"""End-to-end on PostgreSQL (issue 21): store changes are pushed, not
polled.  A stack on a private PostgreSQL (OMAMORI_STORE=postgresql) whose
policyd looks at the store only once an hour (policyd_refresh_interval =
3600), so only a notification (LISTEN/NOTIFY, store-pgsql.c) can tell it:
a block-list entry (a mailbox's, a domain's) added and removed with
omamorictl is enforced by the running policyd within one second.  TAP
output."""
import os
import smtplib
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from omtest import Tap, check, run_suite, until  # noqa: E402
import pg  # noqa: E402  (tests/pg.py)

tap = Tap()


def msg(m, frm):
    return ("From: %s\nSubject: push %s\nMessage-ID: <%s@remote.test>\n\nbody %s\n"
            % (frm, m, m, m)).encode()


def refused_for(st, sender, rcpt):
    """Whether policyd refuses sender's mail to rcpt (RCPT answered 5xx);
    nothing is sent (RSET after RCPT)."""
    return 500 <= st.rcpt_code(sender, rcpt) < 600


def psql(st, sql):
    port = st.PG_CONNINFO.split("port=")[1].split()[0]
    server = pg.PgServer()
    server.port = int(port)
    return server.psql(sql)


@tap.case
def the_stack_runs_on_postgresql(st):
    check(st.STORE == "postgresql" and st.PG_CONNINFO, "STORE=%s" % st.STORE)
    check(st.conf_value("store_path").startswith("postgresql:"),
          "store_path = %s" % st.conf_value("store_path"))
    st.ctl("list", "add", "bob@example.test", "allow", "friend@pg.example")
    check(psql(st, "SELECT entry FROM list_entries WHERE scope = 'bob@example.test'")
          == ["friend@pg.example"], "omamorictl's entry is a row in PostgreSQL")


@tap.case
def a_block_entry_is_enforced_by_a_running_policyd_within_a_second(st):
    sender = "spammer-%s@push.example" % uuid.uuid4().hex[:8]
    check(not refused_for(st, sender, "alice@example.test"), "refused before the entry")
    st.ctl("list", "add", "alice@example.test", "block", sender)
    took = until(lambda: refused_for(st, sender, "alice@example.test"), 5)
    check(took is not None and took < 1.0,
          "policyd enforced the entry after %s s (refresh interval 3600 s)" % took)
    print("# a mailbox's block entry enforced %.3f s after omamorictl returned" % took)
    st.ctl("list", "del", "alice@example.test", "block", sender)
    took = until(lambda: not refused_for(st, sender, "alice@example.test"), 5)
    check(took is not None and took < 1.0,
          "policyd dropped the entry after %s s" % took)


@tap.case
def a_domain_block_is_enforced_within_a_second_too(st):
    sender = "x-%s@bulk-%s.example" % (uuid.uuid4().hex[:6], uuid.uuid4().hex[:6])
    domain = "@" + sender.split("@")[1]
    st.ctl("list", "add", "example.test", "block", domain)
    took = until(lambda: refused_for(st, sender, "carol@example.test"), 5)
    check(took is not None and took < 1.0, "domain entry enforced after %s s" % took)
    # and the mail itself: refused for carol, delivered to nobody
    m = uuid.uuid4().hex
    try:
        with st.smtp() as s:
            refused = s.sendmail(sender, ["carol@example.test", "dave@example.test"],
                                 msg(m, sender))
    except smtplib.SMTPRecipientsRefused as e:
        refused = e.recipients
    check(set(refused) == {"carol@example.test", "dave@example.test"},
          "refused %r" % refused)
    st.ctl("list", "del", "example.test", "block", domain)


def main():
    os.environ["OMAMORI_STORE"] = "postgresql"
    return run_suite(tap, extra_conf="policyd_refresh_interval = 3600")


if __name__ == "__main__":
    sys.exit(main())
