#!/usr/bin/python3
"""A real browser unlocks an isolated encrypted file with its password
(issue 16 items 3 and 4: 「暗号化された圧縮ファイルはパスワードでページ上で開ける」;
doc/attachments.md "Unlocking").  Headless Chromium opens the /f/ link of
the isolation notice scand put in alice's mail.

- an encrypted zip (Info-ZIP's zip -P, made here) holding an EICAR test
  file and a clean report, its password NOT in the body, so the mail path
  isolated it as "encrypted, unscannable": a wrong password says so and
  shows nothing inside; the right one lists both members, the EICAR one
  as a virus with no download button, the report with one, whose download
  is byte for byte the report;
- an encrypted PDF with JavaScript (written here, encrypted by qpdf
  --encrypt): a wrong password says so; the right one shows the PDF's
  JavaScript finding, and no download button;
- encrypted Office documents (made here: tests/e2e/officecrypt.py, Agile
  AES-256/SHA-512 and Standard AES-128), isolated "encrypted,
  unscannable": an .xlsm with a vbaProject.bin refuses a wrong password,
  and with the right one shows its macro finding and no download of it,
  only of the macro-free copy (book.xlsx, no vbaProject.bin in it); a clean
  .docx (Agile, then Standard) downloads, byte for byte the decrypted
  document;
- old-format documents with their own RC4 encryption (made here too): a
  .doc with macros refuses a wrong password, and with the right one is
  decrypted and shows its macro finding, no download; a clean .xls (RC4
  CryptoAPI) downloads as the decrypted workbook (a compound file with
  the plain text, no FILEPASS record); an RC4 CryptoAPI .ppt refuses a
  wrong password and downloads decrypted with the right one; a .doc
  flagged encrypted with no encryption header says plainly that it
  cannot be opened there (422), the password not counted as wrong.

Phone-sized window; screenshots under tests/browser/screenshots/ of the
build tree (unlock-*.png).  Run with /usr/bin/python3.  TAP."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import EICAR, mixed_mail, Tap, check, decoded, file_part, run_suite, text_part, wait_mail  # noqa: E402
from chrome import By, body_text, browser, quit_browser, shot  # noqa: E402
import officecrypt  # noqa: E402

tap = Tap()
USER = "alice@example.test"
DOMAIN = "example.test"
DOWNLOADS = tempfile.mkdtemp(prefix="omamori-downloads-")
PASSWORD = "k8Pw-2026x"


def encrypted_zip(members, password):
    """A ZipCrypto archive of (name, bytes) made by Info-ZIP's zip -P."""
    with tempfile.TemporaryDirectory() as d:
        for name, data in members:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        subprocess.run(["zip", "-q", "-P", password, "out.zip"] + [n for n, _ in members],
                       cwd=d, check=True)
        with open(os.path.join(d, "out.zip"), "rb") as f:
            return f.read()


def pdf_with_javascript():
    """A one-page PDF whose open action runs JavaScript (offsets computed)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
            b"<< /S /JavaScript /JS (app.alert\\('unlock test'\\);) >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def encrypted_pdf(data, password):
    """data encrypted by qpdf (AES-256), user and owner password given."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.pdf"), os.path.join(d, "out.pdf")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["qpdf", "--encrypt", password, password + "-owner", "256", "--",
                        src, dst], check=True)
        with open(dst, "rb") as f:
            return f.read()


def link_of(st, m):
    raw = wait_mail(st, USER, lambda r: m.encode() in r, "mail %s" % m)
    found = re.findall(r"http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_\-.]+", decoded(raw))
    check(len(found) == 1, "not one /f/ link in the notice: %r" % decoded(raw)[:800])
    return found[0]


def allow_downloads():
    try:
        browser().execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": DOWNLOADS})
    except Exception:
        browser().execute_cdp_cmd("Page.setDownloadBehavior",
                                  {"behavior": "allow", "downloadPath": DOWNLOADS})


def wait_download(name):
    target = os.path.join(DOWNLOADS, name)
    deadline = time.time() + 30
    while not (os.path.exists(target) and
               not [n for n in os.listdir(DOWNLOADS) if n.endswith(".crdownload")]):
        check(time.time() < deadline, "no %s in %s: %r" % (name, DOWNLOADS, os.listdir(DOWNLOADS)))
        time.sleep(0.2)
    return target


def unlock(password, name):
    """Types password in the page's form, presses 「開いて検査する」."""
    forms = browser().find_elements(By.ID, "iso-unlock")
    check(len(forms) == 1, "no password form on the page: %r" % body_text()[:600])
    field = browser().find_element(By.ID, "iso-password")
    field.clear()
    field.send_keys(password)
    button = browser().find_element(By.ID, "iso-unlock-button")
    check(button.text == "開いて検査する", "the unlock button says %r" % button.text)
    button.click()
    shot(name)
    return body_text()


def member_row(name):
    rows = [r for r in browser().find_elements(By.CSS_SELECTOR, "tr.member")
            if r.find_element(By.CSS_SELECTOR, "td.m-name").text == name]
    check(len(rows) == 1, "not one row for %s: %r" % (name, body_text()[:800]))
    return rows[0]


@tap.case
def encrypted_zip_opens_with_its_password(st):
    m = uuid.uuid4().hex
    report = ("quarterly figures %s\n" % m).encode() * 30
    data = encrypted_zip([("eicar.txt", EICAR), ("report.txt", report)], PASSWORD)
    st.send(mixed_mail(m, [text_part("資料を送ります。パスワードは別途お送りします。".encode()),
                           file_part(b"docs.zip", data)], to=USER, subject="unlock"), [USER])
    state["zip"] = link = link_of(st, m)
    browser().get(link)
    shot("unlock-1-zip-page")
    page = body_text()
    check("docs.zip" in page and "パスワード" in page, "zip page: %r" % page[:800])
    page = unlock("wrong-" + PASSWORD, "unlock-2-zip-wrong")
    check("パスワードが違います" in page and "report.txt" not in page and
          "eicar.txt" not in page, "wrong password: %r" % page[:800])
    page = unlock(PASSWORD, "unlock-3-zip-opened")
    check("暗号化ファイルの中身" in page, "opened page: %r" % page[:800])
    check(PASSWORD not in browser().page_source,
          "the list page's HTML holds the password itself")
    virus = member_row("eicar.txt")
    check("ウイルスが見つかりました" in virus.text and "eicar" in virus.text.lower(),
          "EICAR member: %r" % virus.text)
    check(virus.find_elements(By.TAG_NAME, "button") == [] and
          "ダウンロードできません" in virus.text, "the EICAR member offers a download")
    clean = member_row("report.txt")
    check("問題は見つかりませんでした" in clean.text, "report member: %r" % clean.text)
    buttons = clean.find_elements(By.TAG_NAME, "button")
    check(len(buttons) == 1 and buttons[0].text == "ダウンロード",
          "report's buttons: %r" % [b.text for b in buttons])
    allow_downloads()
    buttons[0].click()
    with open(wait_download("report.txt"), "rb") as f:
        got = f.read()
    shot("unlock-4-zip-downloaded")
    check(got == report, "downloaded %d bytes, not the member's %d" % (len(got), len(report)))
    check(not os.path.exists(os.path.join(DOWNLOADS, "eicar.txt")), "the EICAR member was saved")


@tap.case
def member_download_of_the_virus_is_refused(st):
    """A forged POST for the EICAR member (index 0) with the page's ticket
    and a fresh CSRF value: 403, no bytes."""
    browser().get(state["zip"])
    unlock(PASSWORD, "unlock-5-zip-again")
    form = member_row("report.txt").find_element(By.TAG_NAME, "form")
    browser().execute_script(
        "arguments[0].querySelector('input[name=member]').value = '0';", form)
    form.find_element(By.TAG_NAME, "button").click()
    time.sleep(1)
    shot("unlock-6-virus-refused")
    page = body_text()
    check("ダウンロードできません" in page, "forged member POST: %r" % page[:600])
    check(not os.path.exists(os.path.join(DOWNLOADS, "eicar.txt")), "the EICAR member was saved")


@tap.case
def a_changed_ticket_is_refused(st):
    """The member buttons carry a ticket sealed for this file, mailbox and
    end: a page edited to stretch its end gets 400 and no bytes."""
    browser().get(state["zip"])
    unlock(PASSWORD, "unlock-5b-zip-again")
    form = member_row("report.txt").find_element(By.TAG_NAME, "form")
    until = form.find_element(By.CSS_SELECTOR, "input[name=until]").get_attribute("value")
    check(until.isdigit() and 0 < int(until) - time.time() <= 15 * 60 + 5,
          "the ticket's end is not within 15 minutes: %r" % until)
    browser().execute_script(
        "arguments[0].querySelector('input[name=until]').value = '%d';" % (int(until) + 86400),
        form)
    form.find_element(By.TAG_NAME, "button").click()
    time.sleep(1)
    shot("unlock-5c-ticket-changed")
    check("リクエストが正しくありません" in body_text(),
          "a stretched ticket: %r" % body_text()[:600])
    check(not os.path.exists(os.path.join(DOWNLOADS, "report (1).txt")),
          "the member was saved again with a changed ticket")


@tap.case
def encrypted_pdf_with_javascript_has_no_download(st):
    m = uuid.uuid4().hex
    data = encrypted_pdf(pdf_with_javascript(), PASSWORD)
    st.send(mixed_mail(m, [text_part(b"the contract"), file_part(b"contract.pdf", data)],
                       to=USER, subject="unlock pdf"), [USER])
    browser().get(link_of(st, m))
    shot("unlock-7-pdf-page")
    page = unlock("wrong-" + PASSWORD, "unlock-8-pdf-wrong")
    check("パスワードが違います" in page, "wrong PDF password: %r" % page[:800])
    page = unlock(PASSWORD, "unlock-9-pdf-opened")
    row = member_row("contract.pdf")
    check("開くと動く JavaScript や起動の指示を含む PDF です" in row.text,
          "PDF row: %r" % row.text)
    check(row.find_elements(By.TAG_NAME, "button") == [] and
          "ダウンロードできません" in row.text, "the PDF with JavaScript offers a download")


def office_page(m, name, data, shot_name):
    """Mails data as name; opens its isolation page, which must say it is
    encrypted and offer no download before the password."""
    st = state["st"]
    st.send(mixed_mail(m, [text_part("資料です。パスワードは電話でお伝えします。".encode()),
                           file_part(name.encode(), data)], to=USER,
                       subject="unlock office"), [USER])
    browser().get(link_of(st, m))
    shot(shot_name)
    page = body_text()
    check(name in page and "ATT_ENCRYPTED" in page and "暗号化" in page,
          "%s page: %r" % (name, page[:800]))
    check(browser().find_elements(By.ID, "iso-download") == [],
          "the encrypted %s offers a download before its password" % name)


@tap.case
def encrypted_xlsm_shows_its_macros(st):
    state["st"] = st
    m = uuid.uuid4().hex
    office_page(m, "book.xlsm", officecrypt.agile(officecrypt.xlsm(), PASSWORD),
                "unlock-10-xlsm-page")
    page = unlock("wrong-" + PASSWORD, "unlock-11-xlsm-wrong")
    check("パスワードが違います" in page and "マクロ" not in page,
          "wrong xlsm password: %r" % page[:800])
    page = unlock(PASSWORD, "unlock-12-xlsm-opened")
    check("暗号を解いた Office 文書を検査しました" in page, "opened xlsm: %r" % page[:800])
    row = member_row("book.xlsm")
    check("マクロ（プログラム）を含む Office 文書です" in row.text and "ATT_MACRO" in row.text,
          "xlsm row: %r" % row.text)
    check(row.find_elements(By.TAG_NAME, "button") == [] and
          "ダウンロードできません" in row.text, "the xlsm with macros offers a download")
    copy = member_row("book.xlsx")
    check("問題は見つかりませんでした" in copy.text, "macro-free copy: %r" % copy.text)
    buttons = copy.find_elements(By.TAG_NAME, "button")
    check(len(buttons) == 1, "the macro-free copy's buttons: %r" % [b.text for b in buttons])
    allow_downloads()
    buttons[0].click()
    with open(wait_download("book.xlsx"), "rb") as f:
        got = f.read()
    shot("unlock-13-xlsm-copy-downloaded")
    import io
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(got)).namelist()
    check("xl/vbaProject.bin" not in names and "xl/workbook.xml" in names,
          "the macro-free copy holds %r" % names)
    check(not os.path.exists(os.path.join(DOWNLOADS, "book.xlsm")), "the xlsm was saved")


def clean_docx_downloads(m, name, encrypt, prefix):
    plain = officecrypt.docx("議事録 %s" % m)
    office_page(m, name, encrypt(plain, PASSWORD), prefix + "-page")
    page = unlock(PASSWORD, prefix + "-opened")
    row = member_row(name)
    check("問題は見つかりませんでした" in row.text, "%s row: %r" % (name, row.text))
    buttons = row.find_elements(By.TAG_NAME, "button")
    check(len(buttons) == 1 and buttons[0].text == "ダウンロード",
          "%s buttons: %r" % (name, [b.text for b in buttons]))
    allow_downloads()
    buttons[0].click()
    with open(wait_download(name), "rb") as f:
        got = f.read()
    shot(prefix + "-downloaded")
    check(got == plain, "downloaded %d bytes, not the decrypted document's %d" %
          (len(got), len(plain)))


@tap.case
def encrypted_clean_docx_downloads_decrypted(st):
    clean_docx_downloads(uuid.uuid4().hex, "minutes.docx", officecrypt.agile,
                         "unlock-14-docx")


@tap.case
def standard_encrypted_docx_downloads_decrypted(st):
    clean_docx_downloads(uuid.uuid4().hex, "memo.docx", officecrypt.standard,
                         "unlock-15-docx-standard")


@tap.case
def legacy_encrypted_doc_without_header_says_it_cannot_be_opened(st):
    m = uuid.uuid4().hex
    office_page(m, "broken.doc", officecrypt.legacy_doc(), "unlock-16-doc-legacy-page")
    page = unlock(PASSWORD, "unlock-17-doc-legacy")
    check("この旧形式の Office 文書の暗号" in page and "このページでは解けません" in page and
          "パスワードが違います" not in page, "legacy doc: %r" % page[:800])
    check(browser().find_elements(By.CSS_SELECTOR, "tr.member") == [] and
          browser().find_elements(By.CSS_SELECTOR, "button.m-download") == [],
          "the legacy doc lists something")


@tap.case
def rc4_encrypted_ppt_unlocks(st):
    m = uuid.uuid4().hex
    office_page(m, "slides.ppt", officecrypt.rc4_ppt(PASSWORD), "unlock-24-ppt-page")
    page = unlock("wrong-" + PASSWORD, "unlock-25-ppt-wrong")
    check("パスワードが違います" in page, "wrong ppt password: %r" % page[:800])
    page = unlock(PASSWORD, "unlock-26-ppt-opened")
    check("暗号を解いた旧形式（.doc / .xls / .ppt）の Office 文書を検査しました" in page,
          "opened ppt: %r" % page[:800])
    row = member_row("slides.ppt")
    check("問題は見つかりませんでした" in row.text, "ppt row: %r" % row.text)
    buttons = row.find_elements(By.TAG_NAME, "button")
    check(len(buttons) == 1, "ppt buttons: %r" % [b.text for b in buttons])
    allow_downloads()
    buttons[0].click()
    with open(wait_download("slides.ppt"), "rb") as f:
        got = f.read()
    shot("unlock-27-ppt-downloaded")
    check(got[:8] == bytes.fromhex("d0cf11e0a1b11ae1") and officecrypt.PPT_TEXT in got,
          "the download is not the decrypted presentation: %r" % got[:64])


@tap.case
def rc4_encrypted_doc_unlocks_and_shows_its_macros(st):
    m = uuid.uuid4().hex
    office_page(m, "old.doc", officecrypt.rc4_doc(PASSWORD, macro=True), "unlock-18-doc-page")
    page = unlock("wrong-" + PASSWORD, "unlock-19-doc-wrong")
    check("パスワードが違います" in page and "マクロ" not in page,
          "wrong doc password: %r" % page[:800])
    check(browser().find_elements(By.CSS_SELECTOR, "tr.member") == [],
          "a wrong password lists something")
    page = unlock(PASSWORD, "unlock-20-doc-opened")
    check("暗号を解いた旧形式（.doc / .xls / .ppt）の Office 文書を検査しました" in page,
          "opened doc: %r" % page[:800])
    row = member_row("old.doc")
    check("マクロ（プログラム）を含む Office 文書です" in row.text and "ATT_MACRO" in row.text,
          "doc row: %r" % row.text)
    check(row.find_elements(By.TAG_NAME, "button") == [] and
          "ダウンロードできません" in row.text, "the doc with macros offers a download")


@tap.case
def rc4_encrypted_xls_downloads_decrypted(st):
    m = uuid.uuid4().hex
    office_page(m, "book.xls", officecrypt.rc4_xls(PASSWORD, cryptoapi=True),
                "unlock-21-xls-page")
    page = unlock(PASSWORD, "unlock-22-xls-opened")
    row = member_row("book.xls")
    check("問題は見つかりませんでした" in row.text, "xls row: %r" % row.text)
    buttons = row.find_elements(By.TAG_NAME, "button")
    check(len(buttons) == 1 and buttons[0].text == "ダウンロード",
          "xls buttons: %r" % [b.text for b in buttons])
    allow_downloads()
    buttons[0].click()
    with open(wait_download("book.xls"), "rb") as f:
        got = f.read()
    shot("unlock-23-xls-downloaded")
    check(got[:8] == bytes.fromhex("d0cf11e0a1b11ae1") and officecrypt.XLS_TEXT in got,
          "the download is not the decrypted workbook: %r" % got[:64])
    check(officecrypt.xls_filepass(got) is False,
          "the downloaded workbook still has its FILEPASS record")
    check(officecrypt.xls_sheet_positions(got) == [0x0809],
          "BoundSheet8 does not point at the sheet's BOF any more: %r" %
          officecrypt.xls_sheet_positions(got))


state = {}

if __name__ == "__main__":
    try:
        rc = run_suite(tap, subscribe=[USER],
                       setup=[("domain", "set", DOMAIN, "attachments", "on")])
    finally:
        quit_browser()
        shutil.rmtree(DOWNLOADS, ignore_errors=True)
    sys.exit(rc)
