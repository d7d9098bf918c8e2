#!/usr/bin/env python3
"""The layer rule of doc/architecture.md, checked on every #include.

libomamori is shared/<layer>/; a file may include headers of the layers
its own layer (or program) may use, and the libraries of the field only
where they belong: sqlite3.h only in the store's SQLite backend
(shared/store/store-sqlite.c), libpq-fe.h only in its PostgreSQL backend
(shared/store/store-pgsql.c), GMime, libxml2, libclamav and libarchive
never in a Dovecot process.  The store's backend seam holds too: its
private header only in the store's dispatcher and backends, and no SQL (a
string literal starting with an SQL statement) outside the two backends,
no sqlite3 call outside the SQLite backend, no libpq call outside the
PostgreSQL one.  A header of ours is always
named with its layer ("store/lists.h"), so it cannot be mistaken for one of
Dovecot's (settings.h, hash.h).  One TAP line per file, so a wrong include
names its file and line.  Pure text: it runs nothing it reads."""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# what each layer or program may include of ours (its own layer always)
OURS = {
    "lib": set(),
    "crypto": {"lib"},
    "store": {"lib"},
    "proto": {"lib"},
    "notice": {"lib"},
    "decide": {"lib", "store"},
    "mail": {"lib"},
    "archive": {"lib"},
    # URLs parsed and normalised, registrable domains, feeds (issue 15)
    "url": {"lib"},
    # every DNS lookup (ldns), and SPF/DKIM/DMARC over it (issue 15)
    "dns": {"lib"},
    "auth": {"lib", "dns", "url"},
    "spam": {"lib", "mail", "store", "url", "notice"},
    "scan": {"lib", "crypto", "store", "proto", "notice", "decide", "mail", "spam", "url",
             "auth", "dns"},
    "quarantine": {"lib", "crypto", "store", "notice", "mail"},
    # audit rules (issue 17): the grammar and evaluator over a message's
    # text (mail/text.c)
    "audit": {"lib", "mail"},
    # scand runs the audit rules of incoming mail (issue 17, scand/audit-in.c)
    "scand": {"lib", "crypto", "store", "proto", "notice", "decide", "mail", "spam", "scan",
              "url", "auth", "dns", "audit", "metrics"},
    "cli": {"lib", "crypto", "store", "proto", "notice", "decide", "mail", "spam", "scan",
            "quarantine", "url", "auth", "dns", "audit"},
    # omamori-policyd: its SPF check at DATA (auth/spf.h over dns/)
    "postfix-policy": {"lib", "store", "decide", "auth", "dns", "metrics"},
    # omamori-filter, the second program of postfix-policy/: it asks scand
    # (proto), rewrites headers and MIME (mail), ZIPs attachments (archive)
    # and renders the password notice (notice); outbound-hold signs its
    # notice's links (crypto) and serves the control protocol of
    # quarantine/hold.h; never decides policyd's answers
    "omamori-filter": {"lib", "crypto", "store", "proto", "mail", "archive", "notice",
                       "quarantine", "audit"},
    # omamori-submit, the submission smtpd's milter: omamori-filter's checks
    # before the queue, and the route policyd asks too (decide/route.c)
    "omamori-submit": {"lib", "crypto", "store", "proto", "mail", "archive", "notice",
                       "quarantine", "decide", "audit"},
    "dovecot-plugin": {"lib", "crypto", "store", "proto", "notice"},
    "sieve-ext": {"lib", "store", "proto"},
    "web": {"lib", "crypto", "store", "decide", "notice", "quarantine", "url", "proto", "metrics"},
    # Prometheus metrics (issue 20): the registry and /metrics endpoint
    "metrics": {"lib"},
}

# single files that may use one more layer than their folder: mail/text.c,
# built into the audit layer's library (doc/architecture.md), reads the
# text of Office documents (OOXML: ZIP + XML) through archive/zip.h
# (libzip lives in archive alone)
FILE_OURS = {"shared/mail/text.c": {"archive"}}

# system headers of the field's libraries, and who may include them (a
# layer or program, or a single file)
SQLITE_BACKEND = "shared/store/store-sqlite.c"
OFFICE_DECRYPT = "shared/scan/office-decrypt.c"
OFFICE_RC4 = "shared/scan/office-rc4.c"
PGSQL_BACKEND = "shared/store/store-pgsql.c"
# SQL text the two backends share, included by them alone
SHARED_SQL = "shared/store/store-sql.h"
BACKENDS = (SQLITE_BACKEND, PGSQL_BACKEND, SHARED_SQL)
FIELD = [
    (re.compile(r"^sqlite3\.h$"), {SQLITE_BACKEND}),
    (re.compile(r"^libpq-fe\.h$"), {PGSQL_BACKEND}),
    (re.compile(r"^gmime/"), {"mail", "spam", "scan"}),
    (re.compile(r"^glib"), {"mail", "spam", "scan", "audit"}),
    # PDF text for audit rules: poppler-glib in mail/text.c alone
    (re.compile(r"^poppler"), {"shared/mail/text.c"}),
    # an encrypted Office document's XML descriptor (issue 16 item 4)
    (re.compile(r"^libxml/"), {"mail", "spam", OFFICE_DECRYPT}),
    (re.compile(r"^gsf/"), {OFFICE_DECRYPT, OFFICE_RC4}),
    (re.compile(r"^openssl/"), {OFFICE_DECRYPT, OFFICE_RC4}),
    (re.compile(r"^clamav\.h$"), {"scan"}),
    (re.compile(r"^archive(_entry)?\.h$"), {"scan"}),
    (re.compile(r"^magic\.h$"), {"scan"}),
    (re.compile(r"^sodium\.h$"), {"crypto", "spam", "archive"}),
    (re.compile(r"^zip\.h$"), {"archive"}),
    (re.compile(r"^idn2\.h$"), {"url"}),
    (re.compile(r"^libpsl\.h$"), {"url"}),
    (re.compile(r"^ldns/"), {"dns"}),
    (re.compile(r"^microhttpd\.h$"), {"web", "metrics"}),
    (re.compile(r"^spf2/"), {"auth"}),
    (re.compile(r"^opendkim/"), {"auth"}),
    (re.compile(r"^opendmarc/"), {"auth"}),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# the store's seam: who may include its private header
STORE_PRIVATE = "store/store-private.h"
STORE_SEAM = re.compile(r"^shared/store/store(-[a-z0-9]+)?\.c$")

# SQL and SQLite's API, allowed in the SQLite backend only
SQL_TEXT = re.compile(r'"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|BEGIN|'
                      r'COMMIT|ROLLBACK|REPLACE|WITH|VACUUM|ATTACH)\b')
SQLITE_API = re.compile(r"\b(sqlite3_[a-z0-9_]+|SQLITE_[A-Z0-9_]+)\b")
PQ_API = re.compile(r"\b(PQ[a-z][A-Za-z0-9_]*|PGRES_[A-Z_]+|PGconn|PGresult)\b")


def unit_of(path):
    """The layer or program a source file belongs to."""
    rel = os.path.relpath(path, TOP).split(os.sep)
    if rel[0] == "postfix-policy" and rel[-1].startswith("filter"):
        return "omamori-filter"
    if rel[0] == "postfix-policy" and rel[-1].startswith("submit"):
        return "omamori-submit"
    return rel[1] if rel[0] == "shared" else rel[0]


def sources():
    for top in ["shared", "scand", "cli", "postfix-policy", "dovecot-plugin", "sieve-ext", "web"]:
        for d, _, names in os.walk(os.path.join(TOP, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield os.path.join(d, n)


def sql_problems(rel, no, line):
    """SQL text outside the backends, an sqlite3 call outside the SQLite
    backend, a libpq call outside the PostgreSQL one."""
    where = "%s:%d: %s" % (rel, no, line.strip())
    found = []
    if rel not in BACKENDS and SQL_TEXT.search(line):
        found.append("%s: SQL belongs to %s only" % (where, " and ".join(BACKENDS)))
    for api, backend in ((SQLITE_API, SQLITE_BACKEND), (PQ_API, PGSQL_BACKEND)):
        m = api.search(line)
        if m and rel != backend:
            found.append("%s: %s belongs to %s only" % (where, m.group(1), backend))
    return found


def problems(path):
    unit = unit_of(path)
    rel = os.path.relpath(path, TOP)
    here = os.path.dirname(path)
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, 1):
            found += sql_problems(rel, no, line)
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            where = "%s:%d: %s" % (rel, no, line.strip())
            if kind == "<":
                for pattern, allowed in FIELD:
                    if pattern.search(name) and unit not in allowed and rel not in allowed:
                        found.append("%s: <%s> belongs to %s only" % (where, name, ", ".join(sorted(allowed))))
                continue
            if name == STORE_PRIVATE and not STORE_SEAM.match(rel):
                found.append("%s: the store's backend seam is for the store and its "
                             "backends only; use store/store.h" % where)
            first = name.split("/")[0]
            if "/" in name and os.path.isdir(os.path.join(TOP, "shared", first)):
                if first != unit and first not in OURS[unit] and \
                        first not in FILE_OURS.get(rel, ()):
                    found.append("%s: %s may not use the %s layer" % (where, unit, first))
                continue
            if os.path.exists(os.path.join(here, name)):
                continue        # a file of its own folder
            if unit == "sieve-ext" and os.path.exists(os.path.join(TOP, "dovecot-plugin", name)):
                continue        # the plugin header both sides include
            base = os.path.basename(name)
            ours = [d for d in OURS if os.path.exists(os.path.join(TOP, "shared", d, base))]
            if ours and unit not in ("dovecot-plugin", "sieve-ext"):
                found.append("%s: name the layer: \"%s/%s\"" % (where, ours[0], base))
            elif unit not in ("dovecot-plugin", "sieve-ext"):
                found.append("%s: no such header of ours" % where)
    return found


def main():
    files = list(sources())
    print("1..%d" % (len(files) + 1))
    failed = 0
    for n, path in enumerate(files, 1):
        bad = problems(path)
        status = "ok" if not bad else "not ok"
        failed += bool(bad)
        print("%s %d - %s" % (status, n, os.path.relpath(path, TOP)))
        for b in bad:
            print("# " + b)
    units = {unit_of(p) for p in files}
    missing = sorted(units - set(OURS))
    print("%s %d - every folder has a rule%s" % ("ok" if not missing else "not ok", len(files) + 1,
                                                  (": " + ", ".join(missing)) if missing else ""))
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
