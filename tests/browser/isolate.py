#!/usr/bin/python3
"""A real browser on an isolated attachment's page (issue 16, seed 004's
添付ファイル分離と安全確認): headless Chromium (Debian's chromium +
chromium-driver, driven by python3-selenium) opens the /f/ link of the
isolation notice scand put in alice's mail.

- a program named invoice.pdf: the page names the file, its true type
  (プログラム), the finding and its reason; there is no download button;
- a clean file isolated by zero trust (attachment-isolate-all on): the
  page has 「ダウンロード」, pressing it saves the file in the browser's
  download directory, byte for byte what the sender attached;
- a tampered link: "this link is not valid" (in the browser's language:
  nothing tells whose it was), nothing of the file shown;
- an .xlsm built here (vbaProject.bin, its relationship, the macro-enabled
  content type): no plain download, but 「マクロを除去してダウンロード」
  saves report.xlsx, a zip without vbaProject.bin whose content types and
  relationships no longer name it and whose workbook type is the plain
  one; an old-format .xls with macros: the page says they cannot be
  removed.

Phone-sized window; screenshots under tests/browser/screenshots/ of the
build tree (isolate-*.png).  Run with /usr/bin/python3.  TAP."""
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import mixed_mail, windows_program, Tap, check, decoded, file_part, run_suite, text_part, wait_mail  # noqa: E402
from chrome import By, body_text, browser, press, quit_browser, shot  # noqa: E402
from officecrypt import xlsm  # noqa: E402,F401  (the macro workbook, made as unlock.py makes it)

tap = Tap()
USER = "alice@example.test"
DOMAIN = "example.test"
DOWNLOADS = tempfile.mkdtemp(prefix="omamori-downloads-")
state = {}


def mixed(m, parts):
    return mixed_mail(m, parts, to=USER, subject="isolate")

def program():
    return windows_program()

def link_of(st, m):
    raw = wait_mail(st, USER, lambda r: m.encode() in r, "mail %s" % m)
    found = re.findall(r"http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_\-.]+", decoded(raw))
    check(len(found) == 1, "not one /f/ link in the notice: %r" % decoded(raw)[:800])
    return found[0]


def allow_downloads():
    """Downloads go to DOWNLOADS, without asking."""
    try:
        browser().execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": DOWNLOADS})
    except Exception:   # older Chromium: the page-level command
        browser().execute_cdp_cmd("Page.setDownloadBehavior",
                                  {"behavior": "allow", "downloadPath": DOWNLOADS})


@tap.case
def risky_file_page_has_no_download_button(st):
    m = uuid.uuid4().hex
    st.send(mixed(m, [text_part(b"invoice attached"), file_part(b"invoice.pdf", program())]),
            [USER])
    link = link_of(st, m)
    state["risky"] = link
    browser().get(link)
    shot("isolate-1-risky")
    page = body_text()
    for want in ("分離された添付ファイル", "invoice.pdf", "プログラム（実行ファイル）",
                 "拡張子と中身の種類が一致しません", "ウイルスは見つかりませんでした",
                 "ダウンロードできません"):
        check(want in page, "%r not on the page: %r" % (want, page[:800]))
    # the true type is libmagic's (its MIME type beside the plain words)
    check("application/vnd.microsoft.portable-executable" in page or
          "application/x-dosexec" in page, "libmagic's type not on the page: %r" % page[:800])
    buttons = [b.get_attribute("value") for b in browser().find_elements(By.TAG_NAME, "button")]
    check("download" not in buttons and "original" not in buttons,
          "a risky file offers %r" % buttons)


@tap.case
def tampered_link_is_refused(st):
    link = state["risky"]
    head, mac = link.rsplit(".", 1)
    bad = head + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    browser().get(bad)
    shot("isolate-2-tampered")
    page = body_text()
    # the language of a page for an unknown link is the browser's
    check(("このリンクは無効です" in page or "This link is not valid" in page) and
          "invoice.pdf" not in page,
          "tampered link: %r" % page[:400])


@tap.case
def clean_file_under_zero_trust_downloads_byte_for_byte(st):
    st.ctl("domain", "set", DOMAIN, "attachment-isolate-all", "on")
    time.sleep(1.2)
    m = uuid.uuid4().hex
    data = ("date,amount\n2026-12-01,%s\n" % m).encode() * 40
    st.send(mixed(m, [text_part(b"the figures"), file_part(b"figures.csv", data)]), [USER])
    link = link_of(st, m)
    browser().get(link)
    shot("isolate-3-clean")
    page = body_text()
    check("figures.csv" in page and "テキスト" in page and "text/" in page and
          "危険な要素は見つかりませんでした" in page and
          "すべての添付ファイルを分離する設定のため" in page, "clean page: %r" % page[:600])
    allow_downloads()
    press("download", "ダウンロード", "isolate-4-downloaded")
    target = os.path.join(DOWNLOADS, "figures.csv")
    deadline = time.time() + 30
    while not (os.path.exists(target) and
               not [n for n in os.listdir(DOWNLOADS) if n.endswith(".crdownload")]):
        check(time.time() < deadline, "no download in %s: %r" % (DOWNLOADS, os.listdir(DOWNLOADS)))
        time.sleep(0.2)
    with open(target, "rb") as f:
        got = f.read()
    check(got == data, "downloaded %d bytes, not the attachment's %d" % (len(got), len(data)))
    st.ctl("domain", "set", DOMAIN, "attachment-isolate-all", "off")


def wait_download(name):
    target = os.path.join(DOWNLOADS, name)
    deadline = time.time() + 30
    while not (os.path.exists(target) and
               not [n for n in os.listdir(DOWNLOADS) if n.endswith(".crdownload")]):
        check(time.time() < deadline, "no %s in %s: %r" % (name, DOWNLOADS, os.listdir(DOWNLOADS)))
        time.sleep(0.2)
    return target


@tap.case
def macro_workbook_downloads_without_its_macros(st):
    import zipfile
    m = uuid.uuid4().hex
    st.send(mixed(m, [text_part(b"the figures"), file_part(b"report.xlsm", xlsm())]), [USER])
    browser().get(link_of(st, m))
    shot("isolate-5-macro")
    page = body_text()
    check("report.xlsm" in page and "マクロ（プログラム）を含む Office 文書です" in page and
          "report.xlsx" in page, "macro page: %r" % page[:800])
    buttons = [b.get_attribute("value") for b in browser().find_elements(By.TAG_NAME, "button")]
    check("download" not in buttons, "the macro workbook itself offers a download")
    allow_downloads()
    press("unmacro", "マクロを除去してダウンロード", "isolate-6-unmacro")
    with zipfile.ZipFile(wait_download("report.xlsx")) as z:
        names = z.namelist()
        ct = z.read("[Content_Types].xml").decode()
        wbrels = z.read("xl/_rels/workbook.xml.rels").decode()
        check(z.testzip() is None, "the copy is a broken zip")
    check("xl/vbaProject.bin" not in names and "xl/workbook.xml" in names and
          "xl/worksheets/sheet1.xml" in names, "members of the copy: %r" % names)
    check("vbaProject" not in ct and "macroEnabled" not in ct and
          "spreadsheetml.sheet.main+xml" in ct, "content types of the copy: %r" % ct)
    check("vbaProject" not in wbrels and "worksheets/sheet1.xml" in wbrels,
          "relationships of the copy: %r" % wbrels)


@tap.case
def old_format_macros_cannot_be_removed(st):
    m = uuid.uuid4().hex
    ole = bytearray(4096)
    ole[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    vba = "_VBA_PROJECT".encode("utf-16-le")
    ole[2048:2048 + len(vba)] = vba
    st.send(mixed(m, [text_part(b"old sheet"), file_part(b"old.xls", bytes(ole))]), [USER])
    browser().get(link_of(st, m))
    shot("isolate-7-ole")
    page = body_text()
    check("old.xls" in page and "マクロを取り除けません" in page, "OLE page: %r" % page[:800])
    buttons = [b.get_attribute("value") for b in browser().find_elements(By.TAG_NAME, "button")]
    check("unmacro" not in buttons and "download" not in buttons, "OLE offers %r" % buttons)


if __name__ == "__main__":
    try:
        rc = run_suite(tap, subscribe=[USER],
                       setup=[("domain", "set", DOMAIN, "attachments", "on")])
    finally:
        quit_browser()
        shutil.rmtree(DOWNLOADS, ignore_errors=True)
    sys.exit(rc)
