"""chrome - the headless Chromium the browser tests share (Debian's chromium
and chromium-driver, driven by python3-selenium): one phone-sized browser
per test file, started on first use, and screenshots under the build
tree's tests/browser/screenshots/ so a person can look at every page.

Import it after omtest (tests/e2e on sys.path).  Run the tests with
/usr/bin/python3: Debian's python3-selenium is not seen by other
interpreters (a pyenv shim first on PATH)."""
import os
import sys
import time
import urllib.error
import urllib.request

from omtest import BUILDDIR, check

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("Bail out! %s cannot import selenium: install python3-selenium and run "
          "this with /usr/bin/python3" % sys.executable)
    sys.exit(1)

__all__ = ["By", "SHOTS", "admin_login", "body_text", "browser", "press", "quit_browser",
           "shot", "status_of"]

SHOTS = os.path.join(BUILDDIR, "tests", "browser", "screenshots")
_driver = []


def browser():
    """The test file's browser (420x860, Japanese first)."""
    if not _driver:
        o = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--window-size=420,860", "--lang=ja"):
            o.add_argument(a)
        _driver.append(webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o))
    return _driver[0]


def shot(name):
    """Saves the page as SHOTS/name.png; returns the path."""
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    check(browser().save_screenshot(path), "screenshot %s not saved" % path)
    return path


def press(value, label, name, within=None):
    """Clicks the one button of value on the page (or inside the element
    within), which must say label, and saves the screenshot name."""
    buttons = [b for b in (within or browser()).find_elements(By.TAG_NAME, "button")
               if b.get_attribute("value") == value]
    check(len(buttons) == 1 and buttons[0].text == label,
          "the %s button: %r" % (value, [b.text for b in buttons]))
    buttons[0].click()
    shot(name)


def body_text():
    return browser().find_element(By.TAG_NAME, "body").text


def quit_browser():
    if _driver:
        _driver.pop().quit()


def status_of(url):
    """The HTTP status and body of a GET of url without the browser (no
    redirect to follow: what a tampered URL gets)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def admin_login(st, user, name):
    """Logs user in on st's /login with the admin button (password
    "secret", as tests/stack makes them); returns the /a/<token> URL."""
    browser().get(st.WEB_URL + "login")
    browser().find_element(By.NAME, "user").send_keys(user)
    browser().find_element(By.NAME, "password").send_keys("secret")
    browser().find_element(By.ID, "admin-login").click()
    deadline = time.time() + 15
    while "/a/" not in browser().current_url and time.time() < deadline:
        time.sleep(0.2)
    shot(name)
    check("/a/" in browser().current_url, "not on the admin panel: %s %r"
          % (browser().current_url, body_text()[:300]))
    return browser().current_url.split("?")[0]
