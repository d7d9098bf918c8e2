#!/usr/bin/env python3
"""End-to-end: omamori's own SPF, DKIM and DMARC (issue 15 item 1) through
real Postfix, omamori-policyd, Dovecot and omamori-scand, against the
stack's DNS server (unbound on a loopback port with test zones and DKIM
keys).  Each message comes from an outside client: XCLIENT gives Postfix a
TEST-NET-1 address (192.0.2.10; libspf2 passes every loopback client), no
packet goes anywhere but 127.0.0.1.  What a user sees over IMAP: the
Authentication-Results headers with omamori's authserv-id - policyd's
spf= (prepended at DATA), scand's dkim= and dmarc= (with OpenDMARC's
"(p=... dis=none)" and policy.dmarc=) - for: SPF fail, softfail, none,
pass; a good DKIM signature; a signed message whose body was altered; a
DMARC fail under p=reject (and through the organizational domain from
the Public Suffix List), under p=quarantine, and the DMARC-only fail under
p=none; all pass; the DNS server stopped: temperror everywhere, never
pass.  spf-reject refuses an SPF fail at DATA.  auth-check off: no header.
TAP."""
import email
import email.policy
import os
import smtplib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite, STACK, BUILDDIR  # noqa: E402

try:
    import dkim
except ImportError:     # Debian's python3-dkim, for another python3 too
    sys.path.append("/usr/lib/python3/dist-packages")
    import dkim

ID = "mx.example.test"
CLIENT = "192.0.2.10"
tap = Tap()


def message(sender_from, marker, body="Hello from the test.\n"):
    return ("From: %s\r\nTo: alice@example.test\r\nSubject: auth %s\r\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <%s@auth.test>\r\n\r\n%s" % (
                sender_from, marker, marker, body.replace("\n", "\r\n"))).encode()


def sign(st, raw, domain):
    with open(st.DKIM_KEY, "rb") as f:
        key = f.read()
    sig = dkim.sign(raw, b"sel", domain.encode(), key,
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    return sig + raw


def send_outside(st, mail_from, raw, helo="mail.client.test", rcpt="alice@example.test"):
    """Sends as an outside client (XCLIENT ADDR=TEST-NET-1); returns the
    refusal (code, text) of DATA, or None."""
    with smtplib.SMTP("127.0.0.1", int(st.SMTP_PORT), timeout=60) as s:
        s.ehlo("xclient.test")
        code, msg = s.docmd("XCLIENT", "ADDR=%s NAME=%s REVERSE_NAME=%s" %
                            (CLIENT, helo, helo))
        check(code == 220, "XCLIENT refused: %d %r" % (code, msg))
        s.ehlo(helo)
        try:
            s.sendmail(mail_from, [rcpt], raw)
        except smtplib.SMTPDataError as e:
            return (e.smtp_code, e.smtp_error)
    return None


def auth_results(raw):
    """Every Authentication-Results value of the message, top first."""
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out, cur = [], None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += " " + line.strip()
            continue
        if cur is not None:
            out.append(cur)
            cur = None
        if line.lower().startswith("authentication-results:"):
            cur = line.split(":", 1)[1].strip()
    if cur is not None:
        out.append(cur)
    return out


def results(raw):
    """{'spf': ..., 'dkim': [...], 'dmarc': ...} read from omamori's own
    headers, and the raw values."""
    got = {"spf": None, "dkim": [], "dmarc": None}
    ours = [v for v in auth_results(raw) if v.split(";", 1)[0].strip() == ID]
    for v in ours:
        for part in v.split(";")[1:]:
            part = part.strip()
            method, _, rest = part.partition("=")
            word = rest.split(" ", 1)[0]
            if method == "spf":
                got["spf"] = word
            elif method == "dkim":
                got["dkim"].append(word)
            elif method == "dmarc":
                got["dmarc"] = word
    return got, ours


def deliver(st, mail_from, from_hdr, signed_by=None, alter=False, helo="mail.client.test"):
    marker = "auth-" + uuid.uuid4().hex[:10]
    raw = message(from_hdr, marker)
    if signed_by:
        raw = sign(st, raw, signed_by)
        if alter:
            raw = raw.replace(b"Hello from the test.", b"Hello from the forger.")
    refused = send_outside(st, mail_from, raw, helo=helo)
    check(refused is None, "refused: %r" % (refused,))
    got = st.wait_for("alice@example.test", marker.encode())[0]
    return results(got)


@tap.case
def spf_fail_is_in_the_header(st):
    (r, ours) = deliver(st, "bounce@spf-fail.test", "someone@spf-fail.test")
    check(r["spf"] == "fail", "spf=fail expected: %r" % ours)
    check(any("smtp.mailfrom=spf-fail.test" in v for v in ours), repr(ours))
    check(r["dkim"] == ["none"], "no signature: dkim=none: %r" % ours)
    check(r["dmarc"] == "none", "no DMARC record: dmarc=none: %r" % ours)


@tap.case
def spf_softfail_none_and_pass(st):
    for domain, want in (("spf-soft.test", "softfail"), ("spf-none.test", "none"),
                         ("spf-pass.test", "pass")):
        (r, ours) = deliver(st, "bounce@" + domain, "someone@" + domain)
        check(r["spf"] == want, "%s: spf=%s expected: %r" % (domain, want, ours))


@tap.case
def dkim_good_signature_passes(st):
    (r, ours) = deliver(st, "bounce@spf-pass.test", "news@dkim.test", signed_by="dkim.test")
    check(r["dkim"] == ["pass"], "dkim=pass expected: %r" % ours)
    check(any("header.d=dkim.test header.s=sel" in v for v in ours), repr(ours))


@tap.case
def dkim_altered_body_fails(st):
    (r, ours) = deliver(st, "bounce@spf-pass.test", "news@dkim.test",
                        signed_by="dkim.test", alter=True)
    check(r["dkim"] == ["fail"], "dkim=fail expected: %r" % ours)


@tap.case
def own_dkim_fail_brings_the_banner(st):
    """omamori's own DKIM result (scand, not yet a header in the message it
    reads) counts for auth-warning: a broken signature gets the banner and
    its links disabled."""
    st.ctl("domain", "set", "example.test", "auth-warning", "fail")
    time.sleep(1.6)     # scand's snapshot
    try:
        marker = "auth-" + uuid.uuid4().hex[:10]
        raw = sign(st, message("news@dkim.test", marker,
                               "Hello from the test.\nLog in at https://bank.example/login\n"),
                   "dkim.test")
        raw = raw.replace(b"Hello from the test.", b"Hello from the forger.")
        check(send_outside(st, "bounce@spf-pass.test", raw) is None, "refused")
        got = st.wait_for("alice@example.test", marker.encode())[0]
        r, ours = results(got)
        check(r["dkim"] == ["fail"], "dkim=fail expected: %r" % ours)
        msg = email.message_from_bytes(got, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        check("なりすまし" in text, "no banner: %r" % text[:300])
        check("hxxps://bank[.]example/login" in text and "https://bank.example" not in text,
              "the link was not disabled: %r" % text[:400])
        check(msg["X-Omamori-Links"] == "disabled", "X-Omamori-Links: %r" % msg["X-Omamori-Links"])
    finally:
        st.ctl("domain", "set", "example.test", "auth-warning", "fail")   # the default


@tap.case
def dmarc_fail_reject(st):
    # SPF passes for spf-pass.test, which is not the From domain; no signature
    (r, ours) = deliver(st, "bounce@spf-pass.test", "ceo@dmarc-reject.test")
    check(r["spf"] == "pass", repr(ours))
    check(r["dmarc"] == "fail", "dmarc=fail expected: %r" % ours)
    check(any("(p=reject dis=none)" in v and "policy.dmarc=reject" in v and
              "header.from=dmarc-reject.test" in v for v in ours), repr(ours))


@tap.case
def dmarc_subdomain_uses_the_organizational_record(st):
    (r, ours) = deliver(st, "bounce@spf-pass.test", "ceo@mail.dmarc-reject.test")
    check(r["dmarc"] == "fail" and any("p=reject" in v for v in ours),
          "the organizational domain's p=reject: %r" % ours)


@tap.case
def dmarc_fail_quarantine(st):
    (r, ours) = deliver(st, "bounce@spf-pass.test", "ceo@dmarc-quar.test")
    check(r["dmarc"] == "fail" and any("(p=quarantine dis=none)" in v for v in ours),
          repr(ours))


@tap.case
def dmarc_only_fail_with_p_none(st):
    # SPF and DKIM both pass, for domains not aligned with From
    (r, ours) = deliver(st, "bounce@spf-pass.test", "info@dmarc-none.test",
                        signed_by="dkim.test")
    check(r["spf"] == "pass" and r["dkim"] == ["pass"], repr(ours))
    check(r["dmarc"] == "fail", "dmarc=fail expected: %r" % ours)
    check(any("(p=none dis=none)" in v and "policy.dmarc=none" in v for v in ours),
          repr(ours))


@tap.case
def all_pass(st):
    (r, ours) = deliver(st, "bounce@all-pass.test", "info@all-pass.test",
                        signed_by="all-pass.test")
    check(r == {"spf": "pass", "dkim": ["pass"], "dmarc": "pass"}, repr(ours))
    check(any("dmarc=pass (p=reject dis=none)" in v for v in ours), repr(ours))


@tap.case
def omamori_headers_are_on_top(st):
    (r, ours) = deliver(st, "bounce@spf-pass.test", "x@spf-pass.test")
    marker = "auth-forged-" + uuid.uuid4().hex[:8]
    raw = ("Authentication-Results: %s; spf=pass smtp.mailfrom=dmarc-reject.test; "
           "dkim=pass header.d=dmarc-reject.test; dmarc=pass header.from=dmarc-reject.test\r\n"
           % ID).encode() + message("ceo@dmarc-reject.test", marker)
    check(send_outside(st, "bounce@spf-fail.test", raw) is None, "refused")
    got = st.wait_for("alice@example.test", marker.encode())[0]
    values = auth_results(got)
    # scand's header first, policyd's next; the sender's forgery (our id
    # below the MTA's Received) removed before delivery (doc/links.md)
    check(values[0].startswith(ID + "; dkim=none; dmarc=fail"), repr(values))
    check(values[1].startswith(ID + "; spf=fail"), repr(values))
    check(len(values) == 2 and not any("dmarc=pass" in v for v in values), repr(values))


@tap.case
def spf_reject_refuses_at_data(st):
    st.ctl("domain", "set", "example.test", "spf-reject", "on")
    time.sleep(1.6)
    try:
        refused = send_outside(st, "bounce@spf-fail.test",
                               message("x@spf-fail.test", "refused-" + uuid.uuid4().hex))
        check(refused is not None and refused[0] == 550 and b"5.7.23" in refused[1],
              "550 5.7.23 expected: %r" % (refused,))
        # softfail is not refused
        (r, ours) = deliver(st, "bounce@spf-soft.test", "x@spf-soft.test")
        check(r["spf"] == "softfail", repr(ours))
    finally:
        st.ctl("domain", "set", "example.test", "spf-reject", "off")
        time.sleep(1.6)


@tap.case
def auth_check_off_adds_nothing(st):
    st.ctl("domain", "set", "example.test", "auth-check", "off")
    time.sleep(1.6)
    try:
        (r, ours) = deliver(st, "bounce@spf-fail.test", "x@spf-fail.test")
        check(ours == [], "no header of omamori's: %r" % ours)
    finally:
        st.ctl("domain", "set", "example.test", "auth-check", "on")
        time.sleep(1.6)


@tap.case
def dns_down_is_temperror_never_pass(st):
    env = dict(os.environ, OMAMORI_BUILDDIR=BUILDDIR)
    subprocess.run([STACK, "stop-dns", st.dir], env=env, check=True)
    try:
        (r, ours) = deliver(st, "bounce@down.test", "info@down.test", signed_by="down.test")
        check(r["spf"] == "temperror", "spf=temperror expected: %r" % ours)
        check(r["dkim"] == ["temperror"], "dkim=temperror expected: %r" % ours)
        check(r["dmarc"] == "temperror", "dmarc=temperror expected: %r" % ours)
        check(not any("=pass" in v for v in ours), "nothing passes: %r" % ours)
    finally:
        subprocess.run([STACK, "start-dns", st.dir], env=env, check=True)
    # back up: the same mail passes (nothing was cached from the failure)
    (r, ours) = deliver(st, "bounce@down.test", "info@down.test", signed_by="down.test")
    check(r == {"spf": "pass", "dkim": ["pass"], "dmarc": "pass"}, repr(ours))


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=["alice@example.test"],
                       extra_conf="trusted_authserv_id = %s\n" % ID,
                       setup=[("domain", "set", "example.test", "auth-check", "on")]))
