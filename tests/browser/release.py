#!/usr/bin/python3
"""A real browser through issue 13's pages: headless Chromium (Debian's
chromium + chromium-driver, driven by python3-selenium) opens the link of a
digest omamorictl cron delivered, sees the mail, clicks "release and allow",
and the test checks the mailbox over IMAP; then the quarantine page from the
digest (which offers the login, not the settings), the login page with the
mailbox's own password (checked by Dovecot), and from the logged-in
quarantine page the user's own page (an allow entry added with the form).
Chromium's own Sec-Fetch-Site and Origin headers go with every POST, so
the cross-site check lets our own forms through.  A
phone-sized window; every page is saved as a screenshot under
tests/browser/screenshots/ of the build tree so a person can look.

Run with /usr/bin/python3: Debian's python3-selenium is not seen by other
interpreters (a pyenv shim first on PATH).  TAP."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import Tap, check, decoded, header_of, run_suite  # noqa: E402
from chrome import By, body_text, browser, press, quit_browser, shot  # noqa: E402


tap = Tap()
USER = "bob@example.test"
SENDER = "promo@pest-browser.example"
SUBJECT = "Browser test offer"
state = {}


def in_inbox(st, text):
    return [m for m in st.fetch_all(USER) if text.encode() in m]


def the_digest(st):
    got = [m for m in st.fetch_all(USER) if header_of(m, "X-Omamori-Digest")]
    check(len(got) == 1, "%d digests" % len(got))
    return decoded(got[0])


@tap.case
def digest_link_opens_the_mail_page(st):
    raw = ("From: Promo <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <b1@e2e.test>\r\n"
           "Date: Wed, 02 Dec 2026 10:00:00 +0900\r\n\r\nCheap.\r\n" % (SENDER, USER, SUBJECT)).encode()
    st.send(raw, [USER], sender="bounce@mailer.example")
    deadline = time.time() + 60
    while not [m for m in st.fetch_all(USER, "Quarantine") if SUBJECT.encode() in m]:
        check(time.time() < deadline, "not quarantined")
        time.sleep(0.5)
    st.ctl("cron", "--at", "15:00")
    text = the_digest(st)
    state["digest"] = text
    m = re.search(r"https?://127\.0\.0\.1:\d+/m/[A-Za-z0-9_.~-]+\?op=allow", text)
    check(m, "no allow link in the digest")
    browser().get(m.group(0))
    shot("1-mail-page")
    page = body_text()
    check(SUBJECT in page and SENDER in page, "page shows: %r" % page[:400])
    check("Example ISP" in page, "the ISP's name is not on the page")
    logos = browser().find_elements(By.CSS_SELECTOR, "header img")
    check(logos and browser().execute_script("return arguments[0].naturalWidth", logos[0]) > 0,
          "the ISP's logo did not load")
    check(not in_inbox(st, SUBJECT), "opening the page released the mail")


@tap.case
def clicking_release_and_allow_moves_the_mail(st):
    press("allow", "差出人を許可して戻す", "2-released")
    check(SUBJECT in body_text() or "許可" in body_text() or "allow" in body_text().lower(),
          "result page: %r" % body_text()[:300])
    deadline = time.time() + 20
    while not in_inbox(st, SUBJECT):
        check(time.time() < deadline, "the mail never reached INBOX")
        time.sleep(0.3)
    check(not [m for m in st.fetch_all(USER, "Quarantine") if SUBJECT.encode() in m],
          "still in Quarantine")
    check(SENDER in st.ctl("list", "show", USER).stdout.decode(), "sender not allowed")
    browser().back()
    browser().refresh()
    shot("3-after-back")


@tap.case
def the_digests_quarantine_page_asks_for_a_login_for_settings(st):
    m = re.search(r"https?://127\.0\.0\.1:\d+/q/[A-Za-z0-9_.~-]+", state["digest"])
    check(m, "no quarantine page link")
    browser().get(m.group(0))
    shot("4-quarantine-page")
    check("Example ISP" in body_text(), "no brand")
    hrefs = [a.get_attribute("href") or "" for a in browser().find_elements(By.TAG_NAME, "a")]
    check(not [h for h in hrefs if "/me/" in h],
          "a digest's quarantine page links to the settings")
    check([h for h in hrefs if h.endswith("/login")], "no link to the login page")
    check("ログイン" in body_text(), "no word of logging in")


@tap.case
def login_with_the_mail_password(st):
    url = st.WEB_URL + "login"
    browser().get(url)
    shot("5-login")
    browser().find_element(By.NAME, "user").send_keys(USER)
    browser().find_element(By.NAME, "password").send_keys("wrong")
    browser().find_element(By.CSS_SELECTOR, "form button").click()
    shot("6-login-failed")
    check("/q/" not in browser().current_url, "a wrong password logged in")
    browser().get(url)
    browser().find_element(By.NAME, "user").send_keys(USER)
    browser().find_element(By.NAME, "password").send_keys("secret")
    browser().find_element(By.CSS_SELECTOR, "form button").click()
    deadline = time.time() + 15
    while "/q/" not in browser().current_url and time.time() < deadline:
        time.sleep(0.2)
    shot("7-logged-in")
    check("/q/" in browser().current_url, "not on the quarantine page: %s"
          % browser().current_url)


@tap.case
def the_users_page_after_the_login(st):
    links = [a for a in browser().find_elements(By.TAG_NAME, "a")
             if "/me/" in (a.get_attribute("href") or "")]
    check(links, "no link to the user's page after the login")
    links[0].click()
    shot("8-user-page")
    buttons = [b for b in browser().find_elements(By.TAG_NAME, "button")
               if b.text == "オンにする"]
    check(buttons, "no known-senders button that says what it does")
    browser().execute_script("arguments[0].scrollIntoView({block: 'center'});", buttons[0])
    shot("8b-user-page-known-senders")
    browser().execute_script("window.scrollTo(0, 0);")
    fields = [i for i in browser().find_elements(By.TAG_NAME, "input")
              if i.get_attribute("type") in ("text", "email")]
    check(fields, "no text field on the user's page")
    fields[0].send_keys("friend@ok-browser.example")
    fields[0].find_element(By.XPATH, "./ancestor::form").find_element(
        By.CSS_SELECTOR, "button").click()
    shot("9-user-page-added")
    check("変更しました" in body_text(), "no note after the change: %r" % body_text()[:300])
    shown = st.ctl("list", "show", USER).stdout.decode()
    check("friend@ok-browser.example" in shown, "entry not added: %s" % shown)


def prepare(st):
    st.ctl("list", "add", USER, "block", SENDER)
    time.sleep(1.2)


if __name__ == "__main__":
    try:
        rc = run_suite(tap, setup=[("sub", "set", USER, "spam", "on")], prepare=prepare)
    finally:
        quit_browser()
    sys.exit(rc)
