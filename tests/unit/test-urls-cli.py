#!/usr/bin/env python3
"""omamorictl urls against a store of its own: feed files of every format
(written here, nothing downloaded) imported, lookups by exact URL, by host
and the names below it, by registrable domain, an IDN host and
percent-encoding variants, a feed imported again replacing its entries,
add/del/list/count and the errors an administrator sees.  Runs the built
omamorictl; reads the store with Python's sqlite3 only to look.  TAP."""
import os
import sqlite3
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tapplan import done, ok  # noqa: E402

BUILD = os.environ.get("OMAMORI_BUILDDIR",
                       os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CTL = os.path.join(BUILD, "cli", "omamorictl")



def ctl(conf, *args):
    p = subprocess.run([CTL, "-c", conf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def check(conf, url):
    """The verdict line and the matched entry of urls check."""
    rc, out, err = ctl(conf, "urls", "check", url)
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return rc, fields, out + err


URLHAUS = """################################################################
# abuse.ch URLhaus Database Dump (CSV)                         #
# Last updated: 2024-05-01 10:00:00 (UTC)                      #
#                                                              #
# Terms Of Use: https://urlhaus.abuse.ch/api/                  #
# For questions please contact urlhaus [at] abuse.ch           #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"2800001","2024-05-01 09:59:01","http://198.51.100.7:4711/i","online","2024-05-01 09:59:01","malware_download","32-bit,elf,mips,Mozi","https://urlhaus.abuse.ch/url/2800001/","geenensp"
"2800002","2024-05-01 09:58:00","https://dl.Malware.example:443/a/./b/../payload.exe","online","","malware_download","exe","https://urlhaus.abuse.ch/url/2800002/","anonymous"
"2800003","2024-05-01 09:57:00","this is no url","online","","malware_download","","https://urlhaus.abuse.ch/url/2800003/","anonymous"
"""

PHISHTANK_CSV = """phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target
8500001,https://login.bank-phish.example/auth?next=%2fhome,http://www.phishtank.com/phish_detail.php?phish_id=8500001,2024-05-01T09:00:00+00:00,yes,2024-05-01T09:10:00+00:00,yes,Other
8500002,"http://evil.example/a,b",http://www.phishtank.com/phish_detail.php?phish_id=8500002,2024-05-01T09:00:00+00:00,yes,2024-05-01T09:10:00+00:00,yes,"Bank, Inc."
"""

PHISHTANK_JSON = """[
{"phish_id":"8600001","url":"http:\\/\\/\\u30c6\\u30b9\\u30c8.\\u4f8b\\u3048.jp\\/login","phish_detail_url":"http:\\/\\/www.phishtank.com\\/phish_detail.php?phish_id=8600001","submission_time":"2024-05-01T09:00:00+00:00","verified":"yes","verification_time":"2024-05-01T09:10:00+00:00","online":"yes","details":[{"ip_address":"192.0.2.1","cidr_block":"192.0.2.0\\/24","announcing_network":"64500","rir":"apnic","country":"JP","detail_time":"2024-05-01T09:10:00+00:00"}],"target":"Other"},
{"phish_id":"8600002","url":"https:\\/\\/pay.example\\/%7euser\\/a%2fb"},
{"phish_id":"8600003"}
]
"""

OPENPHISH = """https://secure-login.phish.example/verify
http://203.0.113.5/wp/login.php
"""

PLAIN = """# the administrator's own list
evil.example.co.jp
a.example.jp
0.0.0.0 ads.example
http://exact.example/only/this
co.jp
"""


def main():
    work = tempfile.mkdtemp(prefix="om-test-urls-")
    db = os.path.join(work, "omamori.db")
    conf = os.path.join(work, "omamori.conf")
    with open(conf, "w") as f:
        f.write("store_path = %s\nlog = stderr\nweb_key_path = %s/web.key\nweb_user = root\n"
                % (db, work))
    files = {}
    for name, text in (("urlhaus.csv", URLHAUS), ("verified_online.csv", PHISHTANK_CSV),
                       ("verified_online.json", PHISHTANK_JSON), ("feed.txt", OPENPHISH),
                       ("mine.txt", PLAIN)):
        files[name] = os.path.join(work, name)
        with open(files[name], "w", encoding="utf-8") as f:
            f.write(text)
    rc, out, err = ctl(conf, "init")
    ok(rc == 0 and "schema version 26" in out, "a new store: %s" % out.strip())

    # each format imported, detected from its content
    rc, out, err = ctl(conf, "urls", "import", files["urlhaus.csv"])
    ok(rc == 0 and "imported 2 entries" in out and "format urlhaus" in out and
       "source urlhaus" in out, "URLhaus CSV imported (%s)" % out.strip())
    ok("urlhaus.csv:12: not a URL" in err and "1 bad lines skipped" in out,
       "its bad line is named with its number (%s)" % err.strip())
    rc, out, err = ctl(conf, "urls", "import", files["verified_online.csv"])
    ok(rc == 0 and "imported 2 entries" in out and "format phishtank-csv" in out,
       "PhishTank CSV imported (%s)" % out.strip())
    rc, out, err = ctl(conf, "urls", "import", files["verified_online.json"], "--source",
                       "phishtank-json", "--verdict", "warn")
    ok(rc == 0 and "imported 2 entries" in out and "format phishtank-json" in out and
       "verdict warn" in out and "verified_online.json:4: an object without" in err,
       "PhishTank JSON imported as warn, its object without a url named (%s %s)"
       % (out.strip(), err.strip()))
    rc, out, err = ctl(conf, "urls", "import", files["feed.txt"])
    ok(rc == 0 and "imported 2 entries" in out and "format openphish" in out,
       "OpenPhish text imported (%s)" % out.strip())
    rc, out, err = ctl(conf, "urls", "import", files["mine.txt"], "--source", "mine")
    ok(rc == 0 and "imported 4 entries" in out and "format list" in out and
       "mine.txt:6: co.jp is a public suffix" in err,
       "a plain list imported, a public suffix refused (%s %s)" % (out.strip(), err.strip()))

    # exact URLs, as each feed wrote them and in other spellings
    for url, source in (("http://198.51.100.7:4711/i", "urlhaus"),
                        ("HTTP://0xC6.51.25607:4711/i", "urlhaus"),
                        ("https://dl.malware.example/a/payload.exe", "urlhaus"),
                        ("https://login.bank-phish.example/auth?next=%2Fhome", "phishtank-csv"),
                        ("http://evil.example/a%2Cb", None),
                        ("http://evil.example/a,b", "phishtank-csv"),
                        ("https://pay.example/~user/a%2Fb", "phishtank-json"),
                        ("https://PAY.example./%7Euser/a%2fb#frag", "phishtank-json"),
                        ("https://secure-login.phish.example/verify", "openphish"),
                        ("http://203.0.113.5/wp/login.php", "openphish"),
                        ("http://exact.example/only/this", "mine"),
                        ("http://exact.example/only/that", None)):
        rc, fields, text = check(conf, url)
        got = fields.get("matched", "")
        if source is None:
            ok(rc == 0 and fields.get("verdict") == "none", "%s: not listed" % url)
        else:
            ok(rc == 0 and ("source %s" % source) in got and got.startswith("url "),
               "%s: the exact URL of %s (%s)" % (url, source, got or text.strip()))

    # IDN: the Japanese host as UTF-8, as punycode, percent-encoded
    for url in ("http://テスト.例え.jp/login", "http://xn--zckzah.xn--r8jz45g.jp/login",
                "http://%E3%83%86%E3%82%B9%E3%83%88.%E4%BE%8B%E3%81%88.jp/login"):
        rc, fields, text = check(conf, url)
        ok(fields.get("url") == "http://xn--zckzah.xn--r8jz45g.jp/login" and
           fields.get("verdict") == "warn" and "phishtank-json" in fields.get("matched", ""),
           "IDN %s matches the JSON feed's entry as punycode (%s)" % (url, text.strip()))

    # hosts and registrable domains
    rc, fields, text = check(conf, "http://a.b.evil.example.co.jp/x")
    ok(fields.get("verdict") == "block" and fields.get("domain") == "example.co.jp" and
       fields.get("matched", "").startswith("host evil.example.co.jp"),
       "a block on evil.example.co.jp blocks a.b.evil.example.co.jp (%s)" % text.strip())
    rc, fields, text = check(conf, "http://other.example.co.jp/")
    ok(fields.get("verdict") == "none", "but not its sibling other.example.co.jp")
    rc, fields, text = check(conf, "http://b.example.jp/")
    ok(fields.get("verdict") == "none",
       "a block on host a.example.jp does not block b.example.jp (%s)" % text.strip())
    rc, fields, text = check(conf, "https://www.a.example.jp/")
    ok(fields.get("verdict") == "block", "but it blocks www.a.example.jp")
    rc, fields, text = check(conf, "http://cdn.ads.example/banner.js")
    ok(fields.get("verdict") == "block" and fields.get("matched", "").startswith("domain ads.example"),
       "a registrable domain entry (from a hosts file line) covers every name in it (%s)"
       % text.strip())
    rc, fields, text = check(conf, "http://user:pw@cdn.ads.example/")
    ok("userinfo" in fields and fields.get("url") == "http://cdn.ads.example/",
       "user information dropped from the key but reported")

    # the administrator's entries: add, check, del
    rc, out, err = ctl(conf, "urls", "add", "Shop.Example.CO.JP.")
    ok(rc == 0 and "added domain example.co.jp (block)" not in out and
       "added host shop.example.co.jp (block)" in out, "a host below a registrable domain "
       "is a host entry (%s)" % out.strip())
    rc, out, err = ctl(conf, "urls", "add", "Example-Shop.CO.JP.")
    ok(rc == 0 and "added domain example-shop.co.jp (block)" in out,
       "a registrable domain is a domain entry (%s)" % out.strip())
    rc, out, err = ctl(conf, "urls", "add", "Phish.Example.CO.JP.", "--verdict", "warn")
    ok(rc == 0 and "added host phish.example.co.jp (warn)" in out,
       "urls add normalises and says the kind (%s)" % (out + err).strip())
    rc, fields, text = check(conf, "https://x.y.phish.example.co.jp/")
    ok(fields.get("verdict") == "warn" and "source admin" in fields.get("matched", ""),
       "the admin's host entry matches (%s)" % text.strip())
    rc, out, err = ctl(conf, "urls", "add", "http://一例.jp/パス?q=1")
    ok(rc == 0 and "added url http://xn--4gq80b.jp/%E3%83%91%E3%82%B9?q=1" in out,
       "an IDN URL with a Japanese path added normalised (%s)" % (out + err).strip())
    rc, fields, text = check(conf, "http://XN--4GQ80B.jp:80/%e3%83%91%e3%82%b9?q=1")
    ok(fields.get("verdict") == "block", "found by its other spelling (%s)" % text.strip())
    rc, out, err = ctl(conf, "urls", "del", "http://一例.jp/パス?q=1")
    ok(rc == 0 and "removed url" in out, "urls del")
    rc, fields, text = check(conf, "http://xn--4gq80b.jp/%E3%83%91%E3%82%B9?q=1")
    ok(fields.get("verdict") == "none", "gone after del")
    rc, out, err = ctl(conf, "urls", "del", "never-listed.example")
    ok(rc == 2 and "is not listed" in err, "del of what is not listed says so, exit 2")

    # a feed imported again replaces its entries, others untouched
    rc, out, err = ctl(conf, "urls", "count")
    before = dict(line.split("\t") for line in out.splitlines())
    with open(files["feed.txt"], "w") as f:
        f.write("https://new-phish.example/verify\n")
    rc, out, err = ctl(conf, "urls", "import", files["feed.txt"])
    ok(rc == 0 and "imported 1 entries" in out, "OpenPhish imported again")
    rc, fields, text = check(conf, "https://secure-login.phish.example/verify")
    ok(fields.get("verdict") == "none", "its old entries are gone")
    rc, fields, text = check(conf, "https://new-phish.example/verify")
    ok(fields.get("verdict") == "block", "its new one is there")
    rc, out, err = ctl(conf, "urls", "count")
    after = dict(line.split("\t") for line in out.splitlines())
    ok(after.get("openphish") == "1" and after.get("urlhaus") == before.get("urlhaus") == "2" and
       after.get("mine") == "4" and after.get("admin") == "3",
       "count by source: only that feed changed (%s)" % after)
    rc, out, err = ctl(conf, "urls", "list", "--source", "mine")
    lines = out.splitlines()
    ok(rc == 0 and len(lines) == 4 and "mine\thost\tevil.example.co.jp\tblock\t" in out,
       "list of one source (%s)" % lines)

    # a file with nothing valid changes nothing
    bad = os.path.join(work, "bad.txt")
    with open(bad, "w") as f:
        f.write("# nothing\nco.jp\nnot/a host\n")
    rc, out, err = ctl(conf, "urls", "import", bad, "--source", "mine")
    ok(rc == 2 and "no valid entry" in err and "nothing to import" in err,
       "an import with nothing valid fails and says why (%s)" % err.strip())
    rc, out, err = ctl(conf, "urls", "count", "--source", "mine")
    ok(out.strip() == "mine\t4", "and the source keeps its entries")

    # the store as a reader sees it: one row per entry and source
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM url_entries").fetchone()[0]
    con.close()
    ok(str(n) == after.get("total"), "the table holds what count says (%d)" % n)

    # errors an administrator can make
    for args, want in ((["urls", "import", files["urlhaus.csv"], "--format", "csv"], "--format is"),
                       (["urls", "import", files["urlhaus.csv"], "--source", "admin"], "source 'admin'"),
                       (["urls", "import", files["urlhaus.csv"], "--verdict", "deny"], "--verdict is"),
                       (["urls", "import", os.path.join(work, "missing.csv")], "missing.csv"),
                       (["urls", "add", "http://exa mple.com/"], "in host"),
                       (["urls", "add", "http://[::1/"], "IPv6"),
                       (["urls", "add", "x.example", "--expires", "0"], "--expires is"),
                       (["urls", "add", "http://" + "a" * 300 + ".example/"], "host longer than 253"),
                       (["urls", "check", "http://[zz]/"], "IPv6"),
                       (["urls", "add", "no-scheme/path"], "neither a URL"),
                       (["urls", "frob"], "unknown command"),
                       (["urls", "add", "a.example", "b.example"], "one argument")):
        rc, out, err = ctl(conf, *args)
        ok(rc == 2 and want in err, "%s: exit 2 with '%s' (%s)" % (" ".join(args)[:60], want,
                                                                   err.strip()[:200]))
    # the url-block lists take an IDN host in the form links are read in
    rc, out, err = ctl(conf, "list", "add", "*", "url-block", "例え.JP.")
    ok(rc == 0 and "xn--r8jz45g.jp" in out, "list add url-block stores an IDN host as "
       "punycode (%s)" % (out + err).strip())
    rc, out, err = ctl(conf, "list", "del", "*", "url-block", "xn--r8jz45g.jp")
    ok(rc == 0 and "- xn--r8jz45g.jp" in out, "and del finds it by either form")
    # a format forced: the JSON file read as a plain list is all bad
    rc, out, err = ctl(conf, "urls", "import", files["verified_online.json"], "--format",
                       "openphish", "--source", "forced")
    ok(rc == 2 and "not a URL" in err, "--format forces the reader (%s)" % err.strip()[:200])
    subprocess.run(["rm", "-rf", work], check=False)
    return done()


if __name__ == "__main__":
    sys.exit(main())
