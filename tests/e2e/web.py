#!/usr/bin/env python3
"""omamori-web's own rules, over plain HTTP against the real stack: every
response carries the security headers; unknown paths are 404 and wrong
methods 405; a bad, tampered, expired or misused token is refused and
shows nothing; a GET changes nothing; a POST without our page's CSRF value
(none, forged, another mailbox's) does nothing, a good one acts once and a
replay of it is refused; a POST the browser says comes from another site
is refused whatever it carries; the domain's user-allow-lists switch holds
on the web as in Sieve; only a login's session token opens the settings (a
digest's box token opens the quarantine list, which then links to the
login page); the settings page answers bad input with 400 and says when an
entry to remove is not listed; a client over web_rate_limit gets 429, and
an X-Forwarded-For from a client that is not a trusted proxy does not
change who it is.

A second omamori-web of the same stack listens on a UNIX socket (mode
0660, group web_socket_group) with web_trusted_proxies = unix: there the
last X-Forwarded-For entry is the client, so one client's 429 leaves
another alone, and five failed logins of one account from five clients
block that account (429 "too many attempts", even for the right
password) and no other.  Tokens for the test are signed here with the
stack's key file (crypto/token.c's format).  TAP."""
import base64
import grp
import hashlib
import http.client as httpclient
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import web_token, BUILDDIR, PASSWORD, Tap, check, run_suite  # noqa: E402

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


def token(st, mailbox, action, message="", lifetime=3600, signer=None):
    return web_token(st, mailbox, action, message, lifetime, signer)

def url(st, path):
    return st.WEB_URL + path


def claims(tok):
    """(expiry, action, mailbox) of a token's signed text."""
    text = base64.urlsafe_b64decode(tok.split(".")[0] + "==").decode()
    _, expires, action, mailbox, _ = text.split("\n", 4)
    return int(expires), action, mailbox


def csrf_of(page):
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    check(m, "no csrf field in the page")
    return m.group(1)


# --- the second omamori-web, on a UNIX socket ---------------------------------
UNIX = {}
SOCKET_GROUP = "omamori"


class UnixHTTPConnection(httpclient.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self.unix_path)
        self.sock = sock


def uhttp(path, data=None, client="198.51.100.1", headers=None):
    """(status, headers, body) from the UNIX socket's omamori-web, as the
    proxy would ask: the client in X-Forwarded-For, Host its name."""
    conn = UnixHTTPConnection(UNIX["socket"])
    h = {"X-Forwarded-For": client, "Host": "mail.example.test"}
    h.update(headers or {})
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data)
        h["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request("POST" if data is not None else "GET", "/" + path, body=body,
                     headers=h)
        r = conn.getresponse()
        return r.status, r.headers, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def start_unix_web(st):
    """omamori-web again, with the stack's configuration but listening on a
    UNIX socket and believing its peers' X-Forwarded-For; it stops before
    the stack does."""
    down = st.down

    def stop_then_down(keep=False):
        stop_unix_web()
        down(keep)
    st.down = stop_then_down
    rundir = os.path.join(st.dir, "run", "web-unix")
    os.makedirs(rundir, exist_ok=True)
    conf = os.path.join(st.dir, "etc", "omamori-unix.conf")
    change = {"web_listen": "unix:" + os.path.join(rundir, "web.sock"),
              "web_trusted_proxies": "unix", "web_socket_group": SOCKET_GROUP}
    with open(st.OMAMORI_CONF) as f:
        lines = [ln for ln in f if ln.split("=", 1)[0].strip() not in change]
    with open(conf, "w") as f:
        f.writelines(lines)
        f.writelines("%s = %s\n" % kv for kv in change.items())
    os.chmod(conf, 0o644)
    UNIX["socket"] = os.path.join(rundir, "web.sock")
    UNIX["log"] = os.path.join(st.dir, "log", "web-unix.log")
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    with open(UNIX["log"], "ab") as log:
        UNIX["proc"] = subprocess.Popen([os.path.join(BUILDDIR, "web", "omamori-web"),
                                         "-c", conf, "-f"], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, env=env)
    deadline = time.time() + 20
    while True:
        try:
            if uhttp("style.css")[0] == 200:
                return
        except OSError:
            pass
        if UNIX["proc"].poll() is not None or time.time() > deadline:
            with open(UNIX["log"]) as f:
                raise AssertionError("omamori-web on a UNIX socket did not start:\n"
                                     + f.read()[-2000:])
        time.sleep(0.2)


def stop_unix_web():
    proc = UNIX.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def unix_log():
    with open(UNIX["log"], encoding="utf-8", errors="replace") as f:
        return f.read()


def ulogin(user, password, client):
    """A login through the UNIX socket: (status, headers, page)."""
    _, _, page = uhttp("login", client=client)
    return uhttp("login", {"user": user, "password": password, "csrf": csrf_of(page)},
                 client=client)


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
    # the stack's brand_logo (an SVG): served, and browsers may keep it
    status, headers, body = http(url(st, "logo"))
    check(status == 200 and headers.get("Content-Type", "").startswith("image/svg+xml") and
          "max-age" in headers.get("Cache-Control", ""), "GET /logo: %d %r" % (status, headers))


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
    # the keys scand and the filter keep (or the file's own key, which
    # they once kept) make no login's, digest's or administrator's token
    for signer in ("scan", "outbound", "file"):
        for path in ("me/" + token(st, USER, "session", signer=signer),
                     "q/" + token(st, USER, "box", signer=signer),
                     "a/" + token(st, USER, "admin", signer=signer)):
            status, _, page = http(url(st, path))
            check(status == 400 and USER not in page,
                  "%s token signed with %s's key: %d" % (path[:2], signer, status))


@tap.case
def a_get_changes_nothing(st):
    before = listed(st)
    box = url(st, "me/" + token(st, USER, "session"))
    for _ in range(3):
        status, _, page = http(box + "?do=list-add&kind=block&entry=get%40evil.example")
        check(status == 200, "GET /me: %d" % status)
    check(listed(st) == before, "a GET changed the lists")
    status, _, _ = http(url(st, "m/" + token(st, USER, "mail", "f" * 32)) + "?op=release")
    check(status == 410, "a mail not in quarantine: %d" % status)


@tap.case
def posts_without_our_csrf_value_do_nothing(st):
    me = url(st, "me/" + token(st, USER, "session"))
    fields = {"do": "list-add", "kind": "block", "entry": "nocsrf@evil.example"}
    for csrf in (None, "forged.token", token(st, "bob@example.test", "csrf", "ab" * 16),
                 token(st, USER, "csrf", "cd" * 16, lifetime=-5),
                 token(st, USER, "box")):
        data = dict(fields)
        if csrf is not None:
            data["csrf"] = csrf
        status, _, page = http(me, data)
        check(status == 403, "csrf %r: %d" % (csrf and csrf[:12], status))
    # a genuine value of this very mailbox made for another page's forms
    # (the quarantine pages', which a forwarded digest link shows, or the
    # admin panel's): refused here; the same made for this page's forms is
    # taken (so the refusal is the form's, not the value's shape)
    for form in ("mail", "admin", "hold"):
        csrf = token(st, USER, "csrf", form + ":" + "ab" * 16)
        status, _, page = http(me, dict(fields, csrf=csrf))
        check(status == 403, "a csrf value of the %s forms: %d" % (form, status))
    good = dict(fields, entry="me-form@evil.example",
                csrf=token(st, USER, "csrf", "me:" + "ab" * 16))
    status, _, _ = http(me, good)
    check(status in (200, 303) and "me-form@evil.example" in listed(st),
          "a value of this page's forms: %d" % status)
    st.ctl("list", "del", USER, "block", "me-form@evil.example")
    status, _, _ = http(me, dict(fields, csrf=token(st, USER, "csrf", "ef" * 16)),
                        headers={"Content-Type": "text/plain"})
    check(status == 415, "a body that is not a form: %d" % status)
    status, _, _ = http(me, {"do": "x" * 20000})
    check(status == 413, "a body over the limit: %d" % status)
    check("nocsrf@evil.example" not in listed(st), "an entry was added anyway")


@tap.case
def a_good_form_acts_once_and_its_replay_is_refused(st):
    me = url(st, "me/" + token(st, USER, "session"))
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
    me = url(st, "me/" + token(st, USER, "session"))
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
def the_unix_socket_is_the_proxys_alone(st):
    mode = os.stat(UNIX["socket"])
    check(stat.S_ISSOCK(mode.st_mode), "not a socket")
    check(stat.S_IMODE(mode.st_mode) == 0o660, "mode %o" % stat.S_IMODE(mode.st_mode))
    check(mode.st_gid == grp.getgrnam(SOCKET_GROUP).gr_gid, "group %d" % mode.st_gid)
    status, headers, page = uhttp("login")
    check(status == 200 and "Example ISP" in page, "GET /login over the socket: %d" % status)
    check_headers(headers, "unix socket")


@tap.case
def behind_the_unix_socket_each_client_has_its_own_limit(st):
    codes = []
    for _ in range(RATE + 10):
        codes.append(uhttp("login", client="203.0.113.50")[0])
        if codes[-1] == 429:
            break
    check(codes[-1] == 429, "no 429 for one client in %d requests" % len(codes))
    status, _, _ = uhttp("login", client="203.0.113.51")
    check(status == 200, "another client behind the proxy was limited too: %d" % status)
    check("client=203.0.113.50 rate limit" in unix_log(),
          "the log does not name the forwarded client")


@tap.case
def a_login_gives_an_hours_session_that_opens_the_settings(st):
    status, headers, _ = ulogin(USER, PASSWORD, "198.51.100.10")
    check(status == 303, "login: %d" % status)
    loc = headers.get("Location", "")
    check(loc.startswith("q/"), "Location %r" % loc)
    expires, action, mailbox = claims(loc[2:])
    check(action == "session" and mailbox == USER, "token %s for %s" % (action, mailbox))
    check(abs(expires - (time.time() + 3600)) < 120, "session lasts %d s"
          % (expires - time.time()))
    status, _, page = uhttp(loc, client="198.51.100.10")
    check(status == 200 and ('href="../me/%s"' % loc[2:]) in page,
          "the logged-in quarantine page does not link to the settings")
    status, _, page = uhttp("me/" + loc[2:], client="198.51.100.10")
    check(status == 200 and USER in page, "settings with the session: %d" % status)


@tap.case
def a_digests_box_token_does_not_open_the_settings(st):
    box = token(st, USER, "box")
    status, _, page = http(url(st, "q/" + box))
    check(status == 200, "quarantine page with a box token: %d" % status)
    check("me/" not in page and 'href="../login"' in page,
          "a digest's quarantine page links to the settings, not to the login")
    check("ログイン" in page, "no login text on the digest's quarantine page")
    status, _, page = http(url(st, "me/" + box))
    check(status == 403 and "ログイン" in page and USER not in page,
          "GET /me with a box token: %d" % status)
    _, _, good = http(url(st, "me/" + token(st, USER, "session")))
    fields = form_with(good, "list-add", "block")
    fields["entry"] = "boxtoken@evil.example"
    status, _, _ = http(url(st, "me/" + box), fields)
    check(status == 403, "POST /me with a box token: %d" % status)
    check("boxtoken@evil.example" not in listed(st), "a box token changed the lists")


@tap.case
def the_settings_page_says_what_went_wrong(st):
    me = "me/" + token(st, USER, "session")
    client = "198.51.100.20"
    _, _, page = uhttp(me, client=client)
    check('<button type="submit">オンにする</button>' in page,
          "the known-senders button does not say what it does")
    fields = {"csrf": csrf_of(page), "do": "feature", "feature": "spam", "state": "off"}
    status, _, page = uhttp(me, fields, client=client)
    check(status == 400, "feature state=off: %d" % status)
    fields = {"csrf": csrf_of(page), "do": "feature", "feature": "nonsense", "state": "on"}
    status, _, page = uhttp(me, fields, client=client)
    check(status == 400, "an unknown feature: %d" % status)
    fields = {"csrf": csrf_of(page), "do": "list-del", "kind": "block",
              "entry": "never-listed@nowhere.example"}
    status, _, page = uhttp(me, fields, client=client)
    check(status == 409 and "リストにありません" in page and "変更しました" not in page,
          "removing an entry not listed: %d" % status)


@tap.case
def a_post_from_another_site_is_refused(st):
    me = "me/" + token(st, USER, "session")
    client = "198.51.100.30"
    for i, headers in enumerate(({"Sec-Fetch-Site": "cross-site"},
                                 {"Sec-Fetch-Site": "same-site"},
                                 {"Origin": "https://evil.example"},
                                 {"Origin": "https://mail.example.test.evil.example"})):
        _, _, page = uhttp(me, client=client)
        fields = form_with(page, "list-add", "block")
        fields["entry"] = "xsite%d@evil.example" % i
        status, _, _ = uhttp(me, fields, client=client, headers=headers)
        check(status == 403, "%r: %d" % (headers, status))
    check("xsite" not in listed(st), "a cross-site POST changed the lists")
    _, _, page = uhttp("login", client=client)
    status, _, _ = uhttp("login", {"user": USER, "password": PASSWORD,
                                   "csrf": csrf_of(page)},
                         client=client, headers={"Sec-Fetch-Site": "cross-site"})
    check(status == 403, "a cross-site login: %d" % status)
    for i, headers in enumerate(({"Sec-Fetch-Site": "same-origin",
                                  "Origin": "https://mail.example.test"},
                                 {"Origin": "null"}, {})):
        _, _, page = uhttp(me, client=client)
        fields = form_with(page, "list-add", "block")
        fields["entry"] = "same%d@ok.example" % i
        status, _, _ = uhttp(me, fields, client=client, headers=headers)
        check(status == 303, "%r: %d" % (headers, status))
        st.ctl("list", "del", USER, "block", "same%d@ok.example" % i)


@tap.case
def five_failures_block_the_account_not_the_others(st):
    user = "carol@example.test"
    for i in range(5):
        t0 = time.time()
        status, _, page = ulogin(user, "wrong%d" % i, "192.0.2.%d" % (10 + i))
        check(status == 403, "failure %d: %d; omamori-web said:\n%s"
              % (i, status, unix_log()[-1500:]))
        # Dovecot's auth_failure_delay (2 s), never its growing penalty
        check(time.time() - t0 < 4.5, "failure %d took %.1f s" % (i, time.time() - t0))
    t0 = time.time()
    status, _, page = ulogin(user, PASSWORD, "192.0.2.20")
    check(status == 429 and "試行が多すぎます" in page,
          "the right password after five failures: %d" % status)
    check(time.time() - t0 < 2, "the locked login waited")
    check("user=%s result=locked" % user in unix_log(), "no 'locked' log line")
    status, _, _ = ulogin("bob@example.test", PASSWORD, "192.0.2.21")
    check(status == 303, "another account was blocked too: %d" % status)


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
    try:
        rc = run_suite(tap, extra_conf="web_rate_limit = %d" % RATE, prepare=start_unix_web)
    finally:
        stop_unix_web()
    sys.exit(rc)
