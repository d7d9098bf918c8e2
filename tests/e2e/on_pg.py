#!/usr/bin/env python3
"""The e2e suite on PostgreSQL (issue 21): runs e2e tests with
OMAMORI_STORE=postgresql, so each starts its stack on a private PostgreSQL
(tests/stack, tests/pg.py), and reports their cases as one TAP plan
("ok N - policy.py: case").  make check runs SUBSET, chosen to reach every
store area the daemons use in about five minutes (doc/store.md says which
and why); `tests/e2e/on_pg.py --all` (make check-pg) runs the whole e2e
suite, given by Makefile.am's e2e_tests, on PostgreSQL.

    tests/e2e/on_pg.py                # the subset (make check)
    tests/e2e/on_pg.py --all          # every e2e test (make check-pg)
    tests/e2e/on_pg.py policy.py ...  # these
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))

# every store area the daemons use, once, in about five minutes: lists
# through policyd and the push of a list edit (pg_push.py), the database
# lost and back (pg_outage.py), frozen (pg_freeze.py: policyd answers
# all the same; policy.py, 110 s
# more, adds rate counters), lists through Sieve and the Dovecot plugin,
# the quarantine and its release from IMAP, outbound holds and their
# release from the web, learning (IMAP moves through scand, the
# classifier's tokens), settings and subscriptions through the web, URL
# verdicts and clicks
SUBSET = ["pg_push.py", "pg_outage.py", "pg_freeze.py", "sieve.py", "quarantine.py", "hold.py", "learn.py", "web.py",
          "links.py"]


def all_e2e():
    """Makefile.am's e2e_tests, in its order."""
    with open(os.path.join(SRCDIR, "Makefile.am")) as f:
        text = f.read()
    m = re.search(r"^e2e_tests = ((?:.*\\\n)*.*)$", text, re.M)
    names = re.findall(r"tests/e2e/(\w+\.py)", m.group(1)) if m else []
    first = ["pg_push.py", "pg_outage.py", "pg_freeze.py"]
    return first + [n for n in names if n not in first]


class Plan:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def line(self, good, label, directive=""):
        self.count += 1
        self.failed += not good
        print("%sok %d - %s%s" % ("" if good else "not ", self.count, label, directive),
              flush=True)


def run_one(plan, name, env):
    """One e2e test's cases, renumbered into plan; its time and result."""
    started = time.time()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, name)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = planned = 0
    for line in p.stdout:
        line = line.rstrip("\n")
        m = re.match(r"(not )?ok \d+ ?-? ?(.*?)(\s+#\s*(SKIP|TODO).*)?$", line)
        if m:
            seen += 1
            plan.line(m.group(1) is None, "%s: %s" % (name, m.group(2)),
                      " # " + m.group(3).strip().lstrip("#").strip() if m.group(3) else "")
        elif re.match(r"1\.\.\d+", line):
            planned = int(line[3:])
        elif line.startswith("Bail out!"):
            print("# %s: %s" % (name, line), flush=True)
        else:
            print("# %s" % line, flush=True)
    rc = p.wait()
    took = time.time() - started
    plan.line(rc == 0 and seen == planned and seen > 0,
              "%s on PostgreSQL: %d of %d cases ran, exit %d, %.0f s"
              % (name, seen, planned, rc, took))
    return took


def main(argv):
    if argv and argv[0] == "--all":
        names = all_e2e()
    elif argv:
        names = [os.path.basename(a) for a in argv]
    else:
        names = SUBSET
    env = dict(os.environ, OMAMORI_STORE="postgresql")
    plan = Plan()
    total = 0.0
    for name in names:
        total += run_one(plan, name, env)
    print("# %d tests on PostgreSQL in %.0f s" % (len(names), total), flush=True)
    print("1..%d" % plan.count, flush=True)
    return 1 if plan.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
