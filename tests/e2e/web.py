#!/usr/bin/env python3
"""omamori-web's own rules, over plain HTTP against the real stack: every
response carries the security headers; unknown paths are 404 and wrong
methods 405; a bad, tampered, expired or misused token is refused and
shows nothing; a GET changes nothing; a POST without our page's CSRF value
(none, forged, another mailbox's) does nothing, a good one acts once and a
replay of it is refused; the domain's user-allow-lists switch holds on the
web as in Sieve; a client over web_rate_limit gets 429, and an
X-Forwarded-For from a client that is not a trusted proxy does not change
who it is.  Tokens for the test are signed here with the stack's key file
(crypto/token.c's format).  TAP."""
import base64
import hashlib
import hmac
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite  # noqa: E402

tap = Tap()
USER = "alice@example.test"
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
RATE = 60


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(url, data=None, method=None, headers=None):
    """(status, headers, body text); data (a dict) is POSTed urlencoded."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(st, mailbox, action, message="", lifetime=3600):
    """A token as omamori-web makes them, signed with the stack's key."""
    with open(st.conf_value("web_key_path")) as f:
        key = bytes.fromhex(f.read().split()[0])
    text = ("1\n%d\n%s\n%s\n%s" % (int(time.time()) + lifetime, action, mailbox,
                                     message)).encode()
    return b64(text) + "." + b64(hmac.new(key, text, hashlib.sha512).digest()[:32])


def url(st, path):
    return st.WEB_URL + path


def listed(st):
    return st.ctl("list", "show", USER).stdout.decode()


def form_with(page, what, kind):
    """The hidden fields of the user page's form doing what for kind."""
    for form in re.findall(r"<form .*?</form>", page, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)"', form))
        if fields.get("do") == what and fields.get("kind") == kind:
            return fields
    raise AssertionError("no %s form for %s" % (what, kind))


def check_headers(headers, what):
    check(headers.get("Content-Security-Policy") == CSP, "%s: CSP %r" %
          (what, headers.get("Content-Security-Policy")))
    check(headers.get("X-Frame-Options") == "DENY", "%s: X-Frame-Options" % what)
    check(headers.get("Referrer-Policy") == "no-referrer", "%s: Referrer-Policy" % what)
    check(headers.get("Cache-Control") == "no-store", "%s: Cache-Control" % what)
    check(headers.get("X-Content-Type-Options") == "nosniff", "%s: nosniff" % what)
    check("charset=utf-8" in headers.get("Content-Type", ""), "%s: charset" % what)


@tap.case
def every_response_has_the_security_headers(st):
    for path, want in (("login", 200), ("nope", 404), ("m/not.valid", 400)):
        status, headers, page = http(url(st, path))
        check(status == want, "%s: %d" % (path, status))
        check_headers(headers, path)
        check("Example ISP" in page, "%s: no brand" % path)
    _, _, page = http(url(st, "login"), headers={"Accept-Language": "en-GB,en;q=0.9"})
    check("Log in" in page and 'lang="en"' in page, "English not chosen")
    _, _, page = http(url(st, "login"), headers={"Accept-Language": "ja,en;q=0.5"})
    check("ログイン" in page and 'lang="ja"' in page, "Japanese not chosen")


@tap.case
def unknown_paths_are_404_and_wrong_methods_405(st):
    for path in ("", "m/", "q/a/b", "admin", "me"):
        status, _, _ = http(url(st, path))
        check(status in (404,), "GET /%s: %d" % (path, status))
    status, headers, _ = http(url(st, "login"), method="PUT", data={})
    check(status == 405 and "POST" in headers.get("Allow", ""), "PUT /login: %d" % status)
    status, headers, _ = http(url(st, "logo"), data={"a": "b"})
    check(status == 405 and headers.get("Allow") == "GET, HEAD", "POST /logo: %d" % status)
    status, _, _ = http(url(st, "m/" + token(st, USER, "mail", "0" * 32)), method="DELETE")
    check(status == 405, "DELETE /m/: %d" % status)
    status, _, _ = http(url(st, "logo"))
    check(status == 404, "no logo configured: %d" % status)


@tap.case
def bad_expired_and_misused_tokens_are_refused(st):
    good = token(st, USER, "box")
    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    for path in ("q/" + flipped, "q/garbage", "me/" + flipped, "q/" + "A" * 3000 + ".x",
                 "m/" + good,                          # a box token as a mail link
                 "q/" + token(st, USER, "mail", "0" * 32),   # and the other way
                 "me/" + token(st, USER, "csrf", "ab" * 16)):
        status, _, page = http(url(st, path))
        check(status == 400, "%s...: %d" % (path[:20], status))
        check(USER not in page, "a bad token showed the mailbox")
    status, _, page = http(url(st, "q/" + token(st, USER, "box", lifetime=-5)))
    check(status == 410 and "有効期限" in page, "expired: %d" % status)
    status, _, _ = http(url(st, "q/" + flipped), {"id": "0" * 32, "op": "delete"})
    check(status == 400, "POST with a tampered token: %d" % status)


@tap.case
def a_get_changes_nothing(st):
    before = listed(st)
    box = url(st, "me/" + token(st, USER, "box"))
    for _ in range(3):
        status, _, page = http(box + "?do=list-add&kind=block&entry=get%40evil.example")
        check(status == 200, "GET /me: %d" % status)
    check(listed(st) == before, "a GET changed the lists")
    status, _, _ = http(url(st, "m/" + token(st, USER, "mail", "f" * 32)) + "?op=release")
    check(status == 410, "a mail not in quarantine: %d" % status)


@tap.case
def posts_without_our_csrf_value_do_nothing(st):
    me = url(st, "me/" + token(st, USER, "box"))
    fields = {"do": "list-add", "kind": "block", "entry": "nocsrf@evil.example"}
    for csrf in (None, "forged.token", token(st, "bob@example.test", "csrf", "ab" * 16),
                 token(st, USER, "csrf", "cd" * 16, lifetime=-5),
                 token(st, USER, "box")):
        data = dict(fields)
        if csrf is not None:
            data["csrf"] = csrf
        status, _, page = http(me, data)
        check(status == 403, "csrf %r: %d" % (csrf and csrf[:12], status))
    status, _, _ = http(me, dict(fields, csrf=token(st, USER, "csrf", "ef" * 16)),
                        headers={"Content-Type": "text/plain"})
    check(status == 415, "a body that is not a form: %d" % status)
    status, _, _ = http(me, {"do": "x" * 20000})
    check(status == 413, "a body over the limit: %d" % status)
    check("nocsrf@evil.example" not in listed(st), "an entry was added anyway")


@tap.case
def a_good_form_acts_once_and_its_replay_is_refused(st):
    me = url(st, "me/" + token(st, USER, "box"))
    status, _, page = http(me)
    fields = form_with(page, "list-add", "block")
    fields["entry"] = "Once@Evil.Example"
    status, headers, _ = http(me, fields)
    check(status == 303, "POST: %d" % status)
    loc = headers.get("Location", "")
    check(not loc.startswith(("http", "/")) and loc.endswith("?done=1"), "Location %r" % loc)
    check("once@evil.example" in listed(st), "entry not added: %s" % listed(st))
    _, _, page = http(urllib.parse.urljoin(me, loc))
    check("変更しました" in page, "no note after the change")
    st.ctl("list", "del", USER, "block", "once@evil.example")
    status, _, page = http(me, fields)
    check(status == 403, "replay: %d" % status)
    check("once@evil.example" not in listed(st), "the replay added the entry again")


@tap.case
def the_domains_switch_holds_on_the_web(st):
    st.ctl("domain", "set", "example.test", "user-allow-lists", "off")
    me = url(st, "me/" + token(st, USER, "box"))
    _, _, page = http(me)
    fields = form_with(page, "list-add", "block")     # the allow form is gone
    check('name="kind" value="allow"' not in page.split("許可リスト")[1].split("拒否リスト")[0]
          or "使えません" in page, "allow form offered while switched off")
    fields.update(kind="allow", entry="friend@ok.example")
    status, _, _ = http(me, fields)
    check(status == 403, "allow add while off: %d" % status)
    check("friend@ok.example" not in listed(st), "allow entry added while off")
    st.ctl("domain", "set", "example.test", "user-allow-lists", "on")


@tap.case
def the_rate_limit_answers_429(st):
    time.sleep(60.0 * 5 / RATE)     # a few tokens back after the cases above
    codes = []
    for _ in range(RATE + 10):
        status, headers, _ = http(url(st, "login"))
        codes.append(status)
        if status == 429:
            check_headers(headers, "429")
            break
    check(429 in codes, "no 429 in %d requests" % len(codes))
    status, _, _ = http(url(st, "login"), headers={"X-Forwarded-For": "10.9.8.7"})
    check(status == 429, "X-Forwarded-For from an untrusted peer escaped the limit: %d"
          % status)


if __name__ == "__main__":
    sys.exit(run_suite(tap, extra_conf="web_rate_limit = %d" % RATE))
