#!/usr/bin/python3
"""A domain's admin panel in a real browser (issue 18): alice, the main
admin of example.test, logs in at /login with her own mail password
(Dovecot) through the admin button, opens her domain's settings, changes
the spam action to quarantine on the page, and the next spam through the
real Postfix lands in bob's Quarantine (IMAP).  The same admin asking for
example.org - the URL or the form's hidden field tampered with - gets 403
and nothing of example.org; carol, a deputy with only the lists right, is
refused the settings (403); the change log page shows alice's change with
old -> new.  Also omamorictl admin add|del|list and the change log written
by omamorictl domain set.  Screenshots under tests/browser/screenshots/
(admin-*).  Run with /usr/bin/python3.  TAP."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, run_suite, send_as  # noqa: E402
from chrome import By, admin_login, body_text, browser, quit_browser, shot, status_of  # noqa: E402


tap = Tap()
ADMIN = "alice@example.test"
DEPUTY = "carol@example.test"
USER = "bob@example.test"
SENDER = "junk@pest-admin.example"
HOLDER = "dave@example.test"
ORG_SECRET = "ORG-SECRET-TAG"
state = {}




def setting_card(name):
    return browser().find_element(By.ID, "s-" + name)


@tap.case
def omamorictl_admin_roles_and_their_limits(st):
    out = st.ctl("admin", "add", "example.test", "dave@example.test", "admin", check=False)
    check(out.returncode == 2 and b"main admin" in out.stderr,
          "a second main admin: %r" % out.stderr)
    for i in range(1, 4):
        st.ctl("admin", "add", "example.test", "d%d@example.test" % i, "deputy",
               "--rights", "trace")
    out = st.ctl("admin", "add", "example.test", "d4@example.test", "deputy", check=False)
    check(out.returncode == 2 and b"4 deputies" in out.stderr,
          "a fifth deputy: %r" % out.stderr)
    out = st.ctl("admin", "add", "example.test", "x@example.test", "deputy", "--rights",
                 "settings,root", check=False)
    check(out.returncode == 2 and b"'root'" in out.stderr, "an unknown right: %r" % out.stderr)
    out = st.ctl("admin", "add", "example.test", "not-an-address", check=False)
    check(out.returncode == 2 and b"address" in out.stderr, "a bad address: %r" % out.stderr)
    for i in range(1, 4):
        st.ctl("admin", "del", "example.test", "d%d@example.test" % i)
    listed = st.ctl("admin", "list", "example.test").stdout.decode()
    check("example.test\t%s\tadmin" % ADMIN in listed and
          "example.test\t%s\tdeputy\tlists" % DEPUTY in listed and "d1@" not in listed,
          "admin list: %r" % listed)
    log = st.ctl("admin", "log", "example.test").stdout.decode()
    check(re.search(r"omamorictl \(uid \d+\)\texample.test\tadmin d3@example.test\t"
                    r"deputy trace -> \(none\)", log), "admin log: %r" % log)
    check(re.search(r"omamorictl \(uid \d+\)\texample.test\tsetting spam-action\t"
                    r"\(none\) -> tag", log), "domain set not in the log: %r" % log)


@tap.case
def the_admin_logs_in_and_sees_her_domain(st):
    url = admin_login(st, ADMIN, "admin-1-home")
    state["panel"] = url
    links = [a for a in browser().find_elements(By.TAG_NAME, "a") if a.text == "example.test"]
    check(links, "no link to example.test: %r" % body_text()[:300])
    check("example.org" not in body_text(), "another domain on the home page")
    links[0].click()
    shot("admin-2-settings")
    card = setting_card("spam-action")
    check("tag" in card.find_element(By.CSS_SELECTOR, "code.value").text and
          "このドメイン" in card.text, "spam-action card: %r" % card.text)
    for name in ("quarantine-retention", "user-allow-lists", "digest", "outbound-zip",
                 "attachment-action", "language", "spam-threshold"):
        setting_card(name)


@tap.case
def the_admin_changes_the_spam_action_on_the_page(st):
    card = setting_card("spam-action")
    select = card.find_element(By.NAME, "value")
    browser().execute_script("arguments[0].value = 'quarantine';", select)
    card.find_element(By.CSS_SELECTOR, "button").click()
    shot("admin-3-saved")
    check("変更しました" in body_text(), "no note: %r" % body_text()[:300])
    check("quarantine" in setting_card("spam-action").find_element(
        By.CSS_SELECTOR, "code.value").text, "the page does not show the new value")
    got = st.ctl("domain", "get", "example.test", "spam-action").stdout.decode()
    check("\tquarantine\t(domain example.test)" in got, "store: %r" % got)


@tap.case
def a_bad_value_gets_omamorictls_message(st):
    card = setting_card("quarantine-retention")
    field = card.find_element(By.NAME, "value")
    field.clear()
    field.send_keys("99")
    card.find_element(By.CSS_SELECTOR, "button").click()
    shot("admin-4-bad-value")
    note = browser().find_element(By.ID, "note").text
    check("quarantine-retention" in note and "1..14" in note, "note: %r" % note)
    got = st.ctl("domain", "get", "example.test", "quarantine-retention").stdout.decode()
    check("\t99\t" not in got, "a bad value was stored: %r" % got)


@tap.case
def the_next_spam_follows_the_new_action(st):
    time.sleep(1.6)     # the readers pick store changes up every second
    marker = "adm%d" % int(time.time() * 1000)
    raw = ("From: Junk <%s>\r\nTo: %s\r\nSubject: Offer %s\r\nMessage-ID: <%s@e2e.test>\r\n"
           "Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\nBuy.\r\n"
           % (SENDER, USER, marker, marker)).encode()
    st.send(raw, [USER], sender="bounce@mailer.example")
    deadline = time.time() + 60
    while not [m for m in st.fetch_all(USER, "Quarantine") if marker.encode() in m]:
        check(not [m for m in st.fetch_all(USER) if marker.encode() in m],
              "the spam reached INBOX: the page's spam action was not followed")
        check(time.time() < deadline, "the spam never reached Quarantine")
        time.sleep(0.5)


@tap.case
def another_domain_is_403_and_shows_nothing(st):
    panel = state["panel"]
    for page in ("settings", "audit", "lists", "lists-csv"):
        code, body = status_of("%s?domain=example.org&page=%s" % (panel, page))
        check(code == 403, "example.org %s: %d" % (page, code))
        check(ORG_SECRET not in body and "example.org" not in body,
              "example.org data on the 403 page")
    browser().get(panel + "?domain=example.org&page=settings")
    shot("admin-5-other-domain")
    check(ORG_SECRET not in browser().page_source, "example.org data shown")
    # the form's hidden domain changed to example.org: refused before acting
    browser().get(panel + "?domain=example.test&page=settings")
    card = setting_card("spam-tag")
    browser().execute_script(
        "arguments[0].querySelector('input[name=domain]').value = 'example.org';"
        "arguments[0].querySelector('input[name=value]').value = 'HACKED';",
        card.find_element(By.TAG_NAME, "form"))
    card.find_element(By.CSS_SELECTOR, "button").click()
    shot("admin-6-tampered-form")
    check("HACKED" not in st.ctl("domain", "get", "example.org", "spam-tag").stdout.decode(),
          "a tampered form changed example.org")
    check(ORG_SECRET not in browser().page_source, "example.org data after the POST")
    check("権限がありません" in body_text(), "no refusal: %r" % body_text()[:300])


@tap.case
def other_tokens_never_open_the_panel(st):
    token = state["panel"].rsplit("/a/", 1)[1]
    code, _ = status_of(st.WEB_URL + "me/" + token)
    check(code == 400, "an admin token opened /me/: %d" % code)
    code, _ = status_of(st.WEB_URL + "a/" + token[:-2] + "xx?domain=example.test")
    check(code == 400, "a forged token: %d" % code)


@tap.case
def the_change_log_shows_old_and_new(st):
    browser().get(state["panel"] + "?domain=example.test&page=audit")
    shot("admin-7-audit")
    rows = [r.text for r in browser().find_elements(By.CSS_SELECTOR, "#log li")]
    mine = [r for r in rows if ADMIN in r and "setting spam-action" in r]
    check(mine and "tag → quarantine" in mine[0], "log rows: %r" % rows[:5])
    check(rows.index(mine[0]) == 0, "not newest first: %r" % rows[:4])
    check([r for r in rows if "omamorictl (uid" in r], "omamorictl's changes missing")
    check(not [r for r in rows if "HACKED" in r or ORG_SECRET in r], "example.org in the log")


@tap.case
def the_admin_edits_the_domains_block_list(st):
    browser().get(state["panel"] + "?domain=example.test&page=lists")
    form = [f for f in browser().find_elements(By.TAG_NAME, "form")
            if f.find_elements(By.NAME, "entry") and
            f.find_elements(By.CSS_SELECTOR, "input[type=text]")][0]
    form.find_element(By.NAME, "entry").send_keys("@spam-admin.example")
    browser().execute_script("arguments[0].querySelector('select').value = 'block';", form)
    form.find_element(By.CSS_SELECTOR, "button").click()
    shot("admin-8-lists")
    shown = st.ctl("list", "show", "example.test").stdout.decode()
    check("block\t@spam-admin.example" in shown, "not added: %r" % shown)
    code, csv = status_of(state["panel"] + "?domain=example.test&page=lists-csv")
    check(code == 200 and "example.test,block,@spam-admin.example" in csv, "csv: %r" % csv)
    area = browser().find_element(By.NAME, "csv")
    area.send_keys("scope,kind,entry\nexample.test,allow,friend@imp-admin.example\n"
                   "block,@imp-admin.example\n")
    area.find_element(By.XPATH, "./ancestor::form").find_element(
        By.CSS_SELECTOR, "button").click()
    shot("admin-8b-lists-imported")
    shown = st.ctl("list", "show", "example.test").stdout.decode()
    check("allow\tfriend@imp-admin.example" in shown and "block\t@imp-admin.example" in shown,
          "not imported: %r" % shown)
    area = browser().find_element(By.NAME, "csv")
    area.send_keys("example.org,block,@x-admin.example\n")
    area.find_element(By.XPATH, "./ancestor::form").find_element(
        By.CSS_SELECTOR, "button").click()
    check("x-admin.example" not in st.ctl("list", "show", "example.org").stdout.decode() and
          "line 1" in browser().find_element(By.ID, "note").text,
          "a line for another domain: %r" % body_text()[:300])
    # a bad line anywhere in the file: nothing of it is added
    area = browser().find_element(By.NAME, "csv")
    area.send_keys("block,first-ok@half-admin.example\nbogus,second@half-admin.example\n")
    area.find_element(By.XPATH, "./ancestor::form").find_element(
        By.CSS_SELECTOR, "button").click()
    shot("admin-8c-lists-bad-line")
    check("half-admin.example" not in st.ctl("list", "show", "example.test").stdout.decode() and
          "line 2" in browser().find_element(By.ID, "note").text,
          "a file with a bad line was imported in part: %r" % body_text()[:300])
    log = st.ctl("admin", "log", "example.test").stdout.decode()
    check("%s\texample.test\tlist block\t(none) -> @imp-admin.example" % ADMIN in log,
          "import not in the change log: %r" % log[:600])


@tap.case
def the_admin_discards_mail_held_for_her(st):
    marker = "admhold%d" % int(time.time() * 1000)
    raw = ("From: %s\r\nTo: ext@far.example\r\nSubject: admin-hold %s\r\n"
           "Message-ID: <%s@example.test>\r\n\r\nhello\r\n" % (HOLDER, marker, marker)).encode()
    send_as(st, HOLDER, ["ext@far.example"], raw)
    hid, deadline = None, time.time() + 60
    while hid is None:
        for line in st.ctl("hold", "list", HOLDER).stdout.decode().splitlines():
            f = line.split("\t")
            if marker in line and f[1] == "admin":
                hid = f[0]
        check(hid is not None or time.time() < deadline, "no hold for the administrator")
        time.sleep(0.3)
    browser().get(state["panel"] + "?domain=example.test&page=holds")
    items = [li for li in browser().find_elements(By.CSS_SELECTOR, "li.hold")
             if marker in li.text]
    shot("admin-9a-holds")
    check(len(items) == 1, "the held mail is not listed: %r" % body_text()[:400])
    check("%s → ext@far.example" % HOLDER in items[0].text and
          "ext@far.example?" not in items[0].text,
          "sender and recipients: %r" % items[0].text)
    [b for b in items[0].find_elements(By.TAG_NAME, "button")
     if b.get_attribute("class") == "del"][0].click()
    shot("admin-9b-discarded")
    check("変更しました" in body_text(), "no note: %r" % body_text()[:300])
    shown = st.ctl("hold", "show", hid).stdout.decode()
    check(re.search(r"state:\s*discarded", shown), "hold after discard: %r" % shown)
    code, _ = status_of(state["panel"] + "?domain=example.org&page=holds")
    check(code == 403, "example.org's holds: %d" % code)


@tap.case
def a_deputy_without_the_settings_right_is_refused(st):
    url = admin_login(st, DEPUTY, "admin-9-deputy-home")
    code, body = status_of(url + "?domain=example.test&page=settings")
    check(code == 403 and "spam-action" not in body, "deputy settings: %d" % code)
    code, _ = status_of(url + "?domain=example.test&page=lists")
    check(code == 200, "deputy lists: %d" % code)
    code, body = status_of(url + "?domain=example.test&page=holds")
    check(code == 403 and "admin-hold" not in body, "deputy holds: %d" % code)
    browser().get(url + "?domain=example.test&page=settings")
    shot("admin-10-deputy-refused")
    check("権限がありません" in body_text(), "no refusal: %r" % body_text()[:300])


@tap.case
def a_session_token_does_not_open_the_panel(st):
    browser().get(st.WEB_URL + "login")
    browser().find_element(By.NAME, "user").send_keys(ADMIN)
    browser().find_element(By.NAME, "password").send_keys("secret")
    browser().find_element(By.CSS_SELECTOR, "form button").click()
    deadline = time.time() + 15
    while "/q/" not in browser().current_url and time.time() < deadline:
        time.sleep(0.2)
    check("/q/" in browser().current_url, "the plain login: %s" % browser().current_url)
    token = browser().current_url.split("/q/", 1)[1].split("?")[0]
    code, body = status_of(st.WEB_URL + "a/" + token + "?domain=example.test")
    check(code == 400 and "spam-action" not in body, "a session token on /a/: %d" % code)


@tap.case
def a_plain_user_gets_no_panel(st):
    browser().get(st.WEB_URL + "login")
    browser().find_element(By.NAME, "user").send_keys(USER)
    browser().find_element(By.NAME, "password").send_keys("secret")
    browser().find_element(By.ID, "admin-login").click()
    shot("admin-11-plain-user")
    check("/a/" not in browser().current_url, "a plain user reached the panel")
    check("管理者の権限がありません" in body_text(), "page: %r" % body_text()[:300])


def prepare(st):
    st.ctl("list", "add", USER, "block", SENDER)
    st.ctl("domain", "set", "example.test", "spam-action", "tag")
    st.ctl("domain", "set", "example.org", "spam-tag", ORG_SECRET)
    st.ctl("admin", "add", "example.test", ADMIN)
    st.ctl("admin", "add", "example.test", DEPUTY, "deputy", "--rights", "lists")
    st.ctl("admin", "add", "example.org", "boss@example.org", "admin")
    st.ctl("audit", "add", "example.test", 'subject contains "admin-hold" => hold')
    time.sleep(1.2)


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", USER, "spam", "on")], prepare=prepare)
    finally:
        quit_browser()
    sys.exit(rc)
