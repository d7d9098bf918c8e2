#!/usr/bin/python3
"""End-to-end: the Prometheus endpoints (issue 20 item 4, doc/metrics.md) of
omamori-scand, omamori-policyd and omamori-web in a real stack.

Each URL of tests/stack's METRICS_URLS parses with prometheus_client's text
parser (Debian's python3-prometheus-client: run with /usr/bin/python3) and
holds its metrics, with no address in any label.  Known mail moves the
counters by exactly what it should: a clean message, an EICAR attachment
and a block-listed From (spam: delivered by scand's action, to Quarantine
by the mailbox's spam action) are one scan each, by verdict and action, and the latency histogram counts three more; a sender on the
block list is one REJECT at RCPT and the three delivered messages three
DUNNO answers each (RCPT, DATA, END-OF-MESSAGE); a click through the gate
is one allowed click.  A POST or another path is refused (405, 404), and a
scand told to listen off loopback does not start.  TAP."""
import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import BUILDDIR, EICAR, Tap, check, mixed_mail, run_suite  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

tap = Tap()
ALICE = "alice@example.test"


def urls(st):
    found = st.METRICS_URLS.split()
    check(len(found) == 3, "METRICS_URLS names one URL per daemon: %r" % found)
    return dict(zip(("scand", "policyd", "web"), found))


def scrape(url):
    """{(name, frozenset(labels)): value} of one endpoint, and its families."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        check(resp.status == 200, "%s: %s" % (url, resp.status))
        ctype = resp.headers.get("Content-Type", "")
        check(ctype.startswith("text/plain; version=0.0.4"), "%s: Content-Type %s" % (url, ctype))
        text = resp.read().decode("utf-8")
    families = list(text_string_to_metric_families(text))
    values = {}
    for fam in families:
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, families


def value(values, name, **labels):
    return values.get((name, frozenset(labels.items())), 0.0)


def mk():
    return "m" + uuid.uuid4().hex[:16]


def text_mail(m, sender_header, body="hello"):
    return ("From: %s\nTo: %s\nSubject: metrics %s\nMessage-ID: <%s@e2e.test>\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\n\n%s %s\n"
            % (sender_header, ALICE, m, m, body, m)).encode()


@tap.case
def every_endpoint_parses_and_names_no_address(st):
    want = {
        "scand": {"omamori_scand_messages", "omamori_scand_scan_duration_seconds",
                  "omamori_scand_queue_depth", "omamori_scand_workers_busy",
                  "omamori_classifier_tokens", "omamori_clamav_signatures",
                  "omamori_clamav_signature_age_seconds"},
        "policyd": {"omamori_policyd_requests", "omamori_policyd_trace_queue_depth"},
        "web": {"omamori_web_clicks", "omamori_web_holds_pending", "omamori_digests_sent"},
    }
    for daemon, url in urls(st).items():
        values, families = scrape(url)
        names = {f.name for f in families}
        check(want[daemon] <= names, "%s lacks %r" % (daemon, want[daemon] - names))
        for (name, labels) in values:
            check(name.startswith("omamori_"), "%s: %s" % (daemon, name))
            for k, v in labels:
                check("@" not in v, "%s: an address in a label: %s{%s=%s}" % (daemon, name, k, v))
    scand, _ = scrape(urls(st)["scand"])
    age = value(scand, "omamori_clamav_signature_age_seconds")
    check(0 <= age < 3600, "the stack's signatures were made minutes ago: %r" % age)
    check(value(scand, "omamori_clamav_signatures") > 0, "no signatures counted")


@tap.case
def known_mail_moves_the_counters_by_exactly_its_count(st):
    u = urls(st)
    before, _ = scrape(u["scand"])
    pbefore, _ = scrape(u["policyd"])
    clean, virus, spam = mk(), mk(), mk()
    st.send(text_mail(clean, "friend@remote.test"), [ALICE])
    st.send(mixed_mail(virus, [b"Content-Type: text/plain\n\nsee attached\n",
                               b"Content-Type: application/octet-stream; name=\"e.com\"\n"
                               b"Content-Disposition: attachment; filename=\"e.com\"\n\n"
                               + EICAR + b"\n"]), [ALICE])
    st.send(text_mail(spam, "ads@pest.example"), [ALICE], sender="bounce@mailer.example")
    st.wait_for(ALICE, clean.encode())
    st.wait_for(ALICE, virus.encode())
    st.wait_for(ALICE, spam.encode(), mailbox="Quarantine")
    # a sender on alice's block list: refused at RCPT, never scanned
    with st.smtp() as s:
        try:
            refused = s.sendmail("bad@reject.example", [ALICE], text_mail(mk(), "bad@reject.example"))
        except Exception as e:  # all recipients refused
            refused = getattr(e, "recipients", {ALICE: str(e)})
    check(ALICE in refused, "the blocked sender was accepted: %r" % refused)
    after, _ = scrape(u["scand"])
    pafter, _ = scrape(u["policyd"])

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    def pdelta(name, **labels):
        return value(pafter, name, **labels) - value(pbefore, name, **labels)

    M = "omamori_scand_messages_total"
    moved = {(dict(l)["verdict"], dict(l)["action"]): after[(n, l)] - before.get((n, l), 0)
             for (n, l) in after if n == M and after[(n, l)] != before.get((n, l), 0)}
    # a spam's delivery action is deliver: the plugin files it where the
    # mailbox's spam action says (quarantine here)
    check(moved == {("clean", "deliver"): 1, ("virus", "strip"): 1, ("spam", "deliver"): 1},
          "scans by verdict and action: %r" % moved)
    for action, n in (("quarantine", 1), ("deliver", 0), ("tag", 0), ("header", 0)):
        d = delta("omamori_scand_spam_actions_total", action=action)
        check(d == n, "spam action %s moved by %r" % (action, d))
    check(delta("omamori_scand_scan_duration_seconds_count") == 3,
          "the histogram counts %r scans" % delta("omamori_scand_scan_duration_seconds_count"))
    check(delta("omamori_scand_scan_duration_seconds_bucket", le="+Inf") == 3, "+Inf bucket")
    check(0 < delta("omamori_scand_scan_duration_seconds_sum") < 60, "the time spent")
    check(delta("omamori_scand_scan_errors_total") == 0, "a scan failed")
    check(pdelta("omamori_policyd_requests_total", action="reject_blocked") == 1,
          "one REJECT: %r" % pdelta("omamori_policyd_requests_total", action="reject_blocked"))
    check(pdelta("omamori_policyd_requests_total", action="dunno") == 9,
          "three messages, three DUNNO each: %r"
          % pdelta("omamori_policyd_requests_total", action="dunno"))


@tap.case
def a_click_through_the_gate_is_counted(st):
    u = urls(st)
    st.ctl("domain", "set", "example.test", "url-rewrite", "on")
    try:
        m = mk()
        st.send(text_mail(m, "friend@remote.test", "see https://shop.airnet.test/order?id=1"),
                [ALICE])
        raw = st.wait_for(ALICE, m.encode() + b"@e2e.test")[0]
    finally:
        st.ctl("domain", "set", "example.test", "url-rewrite", "off")
    import email
    import email.policy
    body = email.message_from_bytes(raw, policy=email.policy.default).get_body().get_content()
    link = re.search(r"http://127\.0\.0\.1:%s(/u/[^\s>]+)" % st.WEB_PORT, body)
    check(link is not None, "no gate link in %r" % body)
    before, _ = scrape(u["web"])
    conn = http.client.HTTPConnection("127.0.0.1", int(st.WEB_PORT), timeout=20)
    conn.request("GET", link.group(1))
    resp = conn.getresponse()
    resp.read()
    conn.close()
    check(resp.status == 302, "the gate answered %s" % resp.status)
    after, _ = scrape(u["web"])
    for verdict, n in (("allowed", 1), ("warn", 0), ("block", 0)):
        d = value(after, "omamori_web_clicks_total", verdict=verdict) - \
            value(before, "omamori_web_clicks_total", verdict=verdict)
        check(d == n, "clicks %s moved by %r" % (verdict, d))
    check(value(after, "omamori_web_holds_pending") == 0, "holds pending")


@tap.case
def only_get_of_metrics_answers(st):
    for url in urls(st).values():
        p = urllib.parse.urlsplit(url)
        for method, path, status in (("POST", "/metrics", 405), ("DELETE", "/metrics", 405),
                                     ("GET", "/", 404), ("GET", "/metrics/x", 404)):
            conn = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
            conn.request(method, path, body=b"x=1" if method == "POST" else None)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            check(resp.status == status, "%s %s %s: %s" % (url, method, path, resp.status))


@tap.case
def a_listener_off_loopback_is_refused(st):
    conf = os.path.join(st.dir, "etc", "omamori-remote-metrics.conf")
    with open(os.path.join(st.dir, "etc", "omamori.conf")) as f:
        text = "".join(ln for ln in f if not ln.startswith(("scand_metrics_listen",
                                                             "scand_socket")))
    with open(conf, "w") as f:
        f.write(text + "scand_socket = %s/run/remote.sock\n"
                "scand_metrics_listen = 0.0.0.0:%s\n" % (st.dir, st.SINK_PORT))
    proc = subprocess.run([os.path.join(BUILDDIR, "scand", "omamori-scand"), "-c", conf, "-f"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = proc.stdout.decode("utf-8", "replace")
    check(proc.returncode != 0 and "not a loopback address" in out,
          "scand started with 0.0.0.0 (%s): %s" % (proc.returncode, out[-500:]))


def prepare(st):
    st.ctl("sub", "set", ALICE, "spam", "on")
    st.ctl("mailbox", "set", ALICE, "spam-action", "quarantine")
    st.ctl("list", "add", ALICE, "block", "@pest.example")
    st.ctl("list", "add", ALICE, "block", "@reject.example")
    time.sleep(1.6)     # policyd picks store changes up every second


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=[ALICE], prepare=prepare))
