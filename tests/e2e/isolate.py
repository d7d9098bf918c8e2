#!/usr/bin/env python3
"""End-to-end: attachment isolation (issue 16, doc/attachments.md) through
real Postfix -> Dovecot LMTP -> scand -> the store and isolate_dir, the
page of omamori-web, and omamorictl cron.  The domain example.test is
subscribed to "attachments"; each mail is built here at run time:

- a program (MZ/PE) named invoice.pdf, attachment-action isolate (the
  default): the mail arrives with the isolation notice and a /f/ link, the
  file is no longer in it, X-Omamori-Attachments says (isolate); the file
  in isolate_dir holds no plain byte of it (a marker string is grepped
  for); the page names the file, its true type and the finding with its
  reason, and has no download button; a POST download of it is refused;
- a tampered token, a token of another action, a POST without CSRF;
- zero trust (attachment-isolate-all on): a clean text file is isolated,
  its page offers "download", the POST answers its exact bytes as an
  attachment (Content-Disposition, no-store, noindex);
- attachment-isolate-archives: a .7z name isolated, a .zip not unless
  with-zip; attachment-isolate-original on: the risky file's page offers
  the original, and gives it;
- a program inside an attached message: the whole .eml is isolated, and
  is what "original" gives back;
- one mail to two mailboxes: a file, a row and a link of each one's own;
- expiry: the row's expiry moved into the past, omamorictl cron removes
  the file and the row, the page says gone (410); a file without a row
  older than a day is removed, a younger one and a name that is no id
  are not;
- omamorictl refuses values the settings do not have;
- isolate-key rotate: files one rotation back still open, two back not.
TAP."""
import base64
import hashlib
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import (Tap, mixed_mail, web_token, windows_program, check, decoded, file_part, forms_of, header_of,  # noqa: E402
                    http, in_box, run_suite, text_part)

tap = Tap()
USER = "alice@example.test"
BOB = "bob@example.test"
DOMAIN = "example.test"


def marker():
    return uuid.uuid4().hex.encode()


def mixed(m, parts, subject="isolate"):
    return mixed_mail(m, parts, to=USER, subject=subject)

def program(tag=b""):
    return windows_program(tag)

def settings(st, **values):
    """attachment-action isolate, the classes default, and the isolation
    switches (name with _ for -) as given, else off."""
    base = {"attachment-action": "isolate", "attachment-isolate-all": "off",
            "attachment-isolate-archives": "off", "attachment-isolate-original": "off"}
    base.update({k.replace("_", "-"): v for k, v in values.items()})
    for name, value in base.items():
        st.ctl("domain", "set", DOMAIN, name, value)
    time.sleep(1.2)     # scand's snapshot picks store changes up


def deliver(st, raw, m, timeout=40):
    st.send(raw, [USER])
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = in_box(st, USER, m)
        if got:
            return got[0]
        time.sleep(0.3)
    raise AssertionError("%s not in %s's INBOX" % (m.decode(), USER))


def links(raw):
    """The /f/ links of the notice."""
    return re.findall(r"http://127\.0\.0\.1:\d+/f/[A-Za-z0-9_\-.]+", decoded(raw))


def rows(st):
    return st.sql("SELECT id, mailbox, name, size, true_type, findings, scan, why, "
                  "expires FROM isolated_files ORDER BY created")


def row_of(st, name):
    got = [r for r in rows(st) if r[2] == name]
    check(len(got) >= 1, "no isolated_files row for %s: %r" % (name, rows(st)))
    return got[-1]


def spool(st):
    return os.path.join(st.dir, "isolated")


def raw_http(url, data=None):
    """(status, headers, body bytes) of a GET or a POST of data (a dict)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def post_button(url, page, op):
    """POSTs the page's form whose button is op (with its CSRF value)."""
    forms = [f for f in forms_of(page) if ("op", op) in f["buttons"]]
    check(len(forms) == 1, "no single %s form: %r" % (op, forms_of(page)))
    action = urllib.parse.urljoin(url, forms[0]["action"])
    return raw_http(action, dict(forms[0]["hidden"], op=op))


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# libmagic's MIME type of a Windows program (the row's true type)
PROGRAM_MIME = ("application/vnd.microsoft.portable-executable", "application/x-dosexec")


def token(st, mailbox, action, message, lifetime):
    return web_token(st, mailbox, action, message, lifetime)

@tap.case
def program_named_pdf_is_isolated_with_notice_and_link(st):
    settings(st)
    # isolate is the default: no attachment-action set for the domain
    st.ctl("domain", "unset", DOMAIN, "attachment-action")
    time.sleep(1.2)
    m = marker()
    tag = b"ISOLATION-MARKER-" + m
    raw = mixed(m, [text_part(b"see the invoice"), file_part(b"invoice.pdf", program(tag))])
    got = deliver(st, raw, m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ATT_EXT_MISMATCH invoice.pdf (isolate)" in hdr, "header: %r" % hdr)
    text = decoded(got)
    check("添付ファイルを分離しました" in text and "invoice.pdf" in text and
          "拡張子と中身の種類が一致しません" in text and "（分離しました）" in text,
          "no isolation notice naming file and reason: %r" % text[:600])
    check(b'filename="invoice.pdf"' not in got and b"TVq" not in got,
          "the attachment is still in the mail")
    check("see the invoice" in text, "the body text is gone")
    check(len(links(got)) == 1, "not one /f/ link: %r" % links(got))
    r = row_of(st, "invoice.pdf")
    check(r[1] == USER and r[3] == 512 and r[4] in PROGRAM_MIME and r[6] == "clean" and
          r[7] == "finding" and r[5].startswith("ATT_EXT_MISMATCH\tinvoice.pdf\t"),
          "row: %r" % (r,))
    check(abs(r[8] - time.time() - 30 * 86400) < 120, "not kept 30 days: %r" % r[8])
    path = os.path.join(spool(st), r[0])
    check(os.path.isfile(path) and os.stat(path).st_mode & 0o777 == 0o640,
          "the file is not in isolate_dir, 0640")


@tap.case
def spool_holds_no_plain_text(st):
    """Every file of isolate_dir, grepped for the markers the mails carried
    (and for the program header): nothing."""
    settings(st, attachment_isolate_all="on")
    m = marker()
    plain = b"PLAINTEXT-MARKER-" + m + b"\n" + b"x" * 200000
    deliver(st, mixed(m, [text_part(b"big text"), file_part(b"notes.txt", plain)]), m)
    names = os.listdir(spool(st))
    check(len(names) >= 2, "isolate_dir: %r" % names)
    for name in names:
        with open(os.path.join(spool(st), name), "rb") as f:
            data = f.read()
        check(b"PLAINTEXT-MARKER-" not in data and b"ISOLATION-MARKER-" not in data and
              b"PE\0\0" not in data and data.startswith(b"OMV1"),
              "plain bytes in %s" % name)


@tap.case
def page_of_risky_file_has_no_download(st):
    raw = [x for x in st.fetch_all(USER) if b"invoice.pdf" in x][0]
    url = links(raw)[0]
    status, headers, page = http(url)
    check(status == 200, "page status %d" % status)
    check("invoice.pdf" in page and "プログラム" in page and
          "拡張子と中身の種類が一致しません" in page and "ATT_EXT_MISMATCH" in page and
          "ウイルスは見つかりませんでした" in page, "page lacks name/type/finding/scan")
    check('id="iso-download"' not in page and 'id="iso-original"' not in page and
          'id="iso-no-download"' in page, "a risky file offers a download")
    check(headers.get("Cache-Control") == "no-store" and
          "noindex" in (headers.get("X-Robots-Tag") or "") and
          'name="robots" content="noindex' in page, "page is cacheable or indexable")
    # a POST download of it with a genuine CSRF value from another page
    # of the same mailbox is refused all the same
    settings(st, attachment_isolate_original="on")
    status, _, page2 = http(url)
    check('id="iso-original"' in page2, "original not offered when the domain allows it")
    forms = [f for f in forms_of(page2) if ("op", "original") in f["buttons"]]
    status, _, _ = raw_http(urllib.parse.urljoin(url, forms[0]["action"]),
                            dict(forms[0]["hidden"], op="download"))
    check(status == 403, "download of a risky file answered %d" % status)
    settings(st)
    status, _, _ = raw_http(url, {"op": "download"})
    check(status == 403, "POST without CSRF answered %d" % status)


@tap.case
def tampered_and_foreign_tokens_refused(st):
    raw = [x for x in st.fetch_all(USER) if b"invoice.pdf" in x][0]
    url = links(raw)[0]
    tok = url.rsplit("/", 1)[1]
    claims, mac = tok.split(".")
    pad = claims + "=" * (-len(claims) % 4)
    text = base64.urlsafe_b64decode(pad).replace(USER.encode(), b"bob@example.test")
    forged = url.rsplit("/", 1)[0] + "/" + b64(text) + "." + mac
    status, _, page = http(forged)
    check(status == 400 and "invoice.pdf" not in page, "forged mailbox: %d" % status)
    flipped = url[:-3] + ("AAA" if url[-3:] != "AAA" else "BBB")
    status, _, _ = http(flipped)
    check(status == 400, "changed MAC: %d" % status)
    fid = row_of(st, "invoice.pdf")[0]
    base = url.rsplit("/f/", 1)[0]
    status, _, _ = http(base + "/f/" + token(st, USER, "zip-password", fid, 600))
    check(status == 400, "another action's token: %d" % status)
    status, _, _ = http(base + "/f/" + token(st, USER, "isolated", fid, -60))
    check(status == 410, "expired token: %d" % status)
    status, _, page = http(base + "/f/" + token(st, "bob@example.test", "isolated", fid, 600))
    check(status == 410 and "invoice.pdf" not in page,
          "another mailbox's genuine token shows the file: %d" % status)


@tap.case
def zero_trust_clean_file_downloads_exact_bytes(st):
    settings(st, attachment_isolate_all="on")
    m = marker()
    data = ("議事録 " + m.decode() + "\n").encode() * 50
    name = "議事録.txt"
    part = (b"Content-Type: text/plain; charset=utf-8\n"
            b"Content-Disposition: attachment; filename*=UTF-8''" +
            urllib.parse.quote(name).encode() + b"\n"
            b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data))
    got = deliver(st, mixed(m, [text_part(b"minutes"), part]), m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ISOLATED_ALL" in hdr and "(isolate)" in hdr, "header: %r" % hdr)
    check(data not in got, "the file is still in the mail")
    url = links(got)[0]
    status, _, page = http(url)
    check(status == 200 and 'id="iso-download"' in page and 'id="iso-no-findings"' in page
          and "すべての添付ファイルを分離する設定のため" in page, "no download for a clean file")
    status, headers, body = post_button(url, page, "download")
    check(status == 200 and body == data, "download: %d, %d bytes" % (status, len(body)))
    disp = headers.get("Content-Disposition") or ""
    check(disp.startswith("attachment;") and urllib.parse.quote(name) in disp,
          "Content-Disposition: %r" % disp)
    check(headers.get("Content-Type") == "application/octet-stream" and
          headers.get("Cache-Control") == "no-store", "download headers: %r" % dict(headers))
    status, _, _ = post_button(url, page, "download")
    check(status == 403, "a spent CSRF value downloaded again: %d" % status)


@tap.case
def archive_switch_isolates_seed_archives(st):
    settings(st, attachment_isolate_archives="on")
    m = marker()
    got = deliver(st, mixed(m, [text_part(b"archives"),
                                file_part(b"data.7z", b"7z\xbc\xaf\x27\x1c" + b"\0" * 40),
                                file_part(b"plain.zip", b"PK\x05\x06" + b"\0" * 18)]), m)
    hdr = header_of(got, "X-Omamori-Attachments") or ""
    check("ISOLATED_ARCHIVE data.7z (isolate)" in hdr and "plain.zip" not in hdr,
          "header: %r" % hdr)
    check(b'filename="plain.zip"' in got and b'filename="data.7z"' not in got,
          "7z not isolated or zip isolated without with-zip")
    settings(st, attachment_isolate_archives="with-zip")
    m = marker()
    got = deliver(st, mixed(m, [text_part(b"zip"),
                                file_part(b"plain.zip", b"PK\x05\x06" + b"\0" * 18)]), m)
    check(b'filename="plain.zip"' not in got and
          "ISOLATED_ARCHIVE plain.zip" in (header_of(got, "X-Omamori-Attachments") or ""),
          "with-zip did not isolate the zip")


@tap.case
def original_of_risky_file_when_domain_allows(st):
    settings(st, attachment_isolate_original="on")
    m = marker()
    exe = program(b"ORIGINAL-" + m)
    got = deliver(st, mixed(m, [text_part(b"tool"), file_part(b"setup.exe", exe)]), m)
    url = links(got)[0]
    status, _, page = http(url)
    check('id="iso-original"' in page and 'id="iso-download"' not in page,
          "original not offered")
    status, headers, body = post_button(url, page, "original")
    check(status == 200 and body == exe, "original: %d" % status)
    settings(st)


@tap.case
def attached_message_is_kept_whole(st):
    """A program inside a forwarded mail (.eml, message/rfc822): the whole
    attached message leaves the mail and is what the page gives back."""
    settings(st, attachment_isolate_original="on")
    m = marker()
    inner = (b"From: a@far.test\nTo: b@far.test\nSubject: inner " + m + b"\n"
             b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"II\"\n\n"
             b"--II\n" + text_part(b"inner text") + b"--II\n" +
             file_part(b"run.exe", program()) + b"--II--\n")
    part = (b"Content-Type: message/rfc822; name=\"fwd.eml\"\n"
            b"Content-Disposition: attachment; filename=\"fwd.eml\"\n\n" + inner)
    got = deliver(st, mixed(m, [text_part(b"forwarded"), part]), m)
    check(b"Subject: inner " + m not in got and b"message/rfc822" not in got,
          "the attached message is still in the mail")
    r = row_of(st, "fwd.eml")
    check(r[5].startswith("ATT_RISKY_EXT\trun.exe"), "row findings: %r" % (r[5],))
    url = links(got)[0]
    status, _, page = http(url)
    status, _, body = post_button(url, page, "original")
    check(status == 200 and b"Subject: inner " + m in body and b"inner text" in body,
          "the original is not the whole attached message: %d %r" % (status, body[:200]))
    settings(st)


@tap.case
def cron_removes_expired_file_and_row(st):
    r = row_of(st, "invoice.pdf")
    raw = [x for x in st.fetch_all(USER) if b"invoice.pdf" in x][0]
    url = links(raw)[0]
    path = os.path.join(spool(st), r[0])
    check(os.path.exists(path), "file missing before expiry")
    st.ctl("cron", "--now")
    check(os.path.exists(path), "cron removed a file before its expiry")
    st.sql("UPDATE isolated_files SET expires = ? WHERE id = ?", (int(time.time()) - 5, r[0]))
    status, _, _ = http(url)
    check(status == 410, "an expired file's page: %d" % status)
    out = st.ctl("cron", "--now").stdout.decode()
    check("isolated-expiry: 1 isolated files removed" in out, "cron said: %r" % out)
    check(not os.path.exists(path), "the file is still on disk")
    check(not [x for x in rows(st) if x[0] == r[0]], "the row is still in the store")
    # files without a row: removed when older than a day, kept younger;
    # a name that is not an id is never touched
    old, young, other = ("%032x" % 0xdead, "%032x" % 0xbeef, "README")
    for name in (old, young, other):
        with open(os.path.join(spool(st), name), "wb") as f:
            f.write(b"OMV1 orphan")
    long_ago = time.time() - 2 * 86400
    os.utime(os.path.join(spool(st), old), (long_ago, long_ago))
    os.utime(os.path.join(spool(st), other), (long_ago, long_ago))
    out = st.ctl("cron", "--now").stdout.decode()
    check("isolated-orphans: 1 files without a record removed" in out, "cron said: %r" % out)
    left = os.listdir(spool(st))
    check(old not in left and young in left and other in left, "orphans: %r" % left)
    for name in (young, other):
        os.unlink(os.path.join(spool(st), name))
    check(all(os.path.exists(os.path.join(spool(st), x[0])) for x in rows(st)),
          "cron removed a file that has its row")


@tap.case
def each_recipient_gets_a_file_and_link_of_their_own(st):
    """One mail to two mailboxes of the domain: two files, two rows, two
    links, each naming its own mailbox (the delivery plugin asks scand per
    recipient when the domain analyses attachments)."""
    settings(st)
    m = marker()
    raw = mixed(m, [text_part(b"for both"), file_part(b"both.exe", program())])
    raw = raw.replace(b"To: " + USER.encode(), b"To: " + USER.encode() + b", " + BOB.encode())
    st.send(raw, [USER, BOB])
    got = {}
    deadline = time.time() + 40
    while len(got) < 2 and time.time() < deadline:
        for who in (USER, BOB):
            mine = in_box(st, who, m)
            if mine:
                got[who] = mine[0]
        time.sleep(0.3)
    check(len(got) == 2, "not delivered to both: %r" % list(got))
    la, lb = links(got[USER])[0], links(got[BOB])[0]
    check(la != lb, "both got the same link")
    mine = sorted(r[1] for r in rows(st) if r[2] == "both.exe")
    check(mine == sorted([USER, BOB]), "rows: %r" % mine)
    for who, url in ((USER, la), (BOB, lb)):
        claims = url.rsplit("/", 1)[1].split(".")[0]
        text = base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)).decode()
        check(text.split("\n")[3] == who, "%s's link names %r" % (who, text))
        status, _, page = http(url)
        check(status == 200 and "both.exe" in page, "%s's page: %d" % (who, status))


@tap.case
def settings_are_validated(st):
    for name, bad in (("attachment-action", "delete"), ("attachment-isolate-all", "yes"),
                      ("attachment-isolate-archives", "all"), ("attachment-isolate-days", "0"),
                      ("attachment-isolate-days", "400"),
                      ("attachment-action-macro", "isolated")):
        proc = st.ctl("domain", "set", DOMAIN, name, bad, check=False)
        check(proc.returncode != 0, "%s %s accepted" % (name, bad))
    for name, good in (("attachment-isolate-days", "7"), ("attachment-action-macro", "isolate"),
                       ("attachment-isolate-archives", "with-zip")):
        check(st.ctl("domain", "set", DOMAIN, name, good, check=False).returncode == 0,
              "%s %s refused" % (name, good))
    out = st.ctl("domain", "get", "other.test", "attachment-action").stdout.decode()
    check("isolate" in out, "the default is not isolate: %r" % out)
    st.ctl("domain", "set", DOMAIN, "attachment-isolate-days", "30")
    st.ctl("domain", "set", DOMAIN, "attachment-action-macro", "default")
    st.ctl("domain", "set", DOMAIN, "attachment-isolate-archives", "off")


def web_reload(st):
    with open(os.path.join(st.dir, "run", "web.pid")) as f:
        os.kill(int(f.read()), signal.SIGHUP)
    time.sleep(1)


def zero_trust_file(st, tag):
    """A clean file isolated under zero trust: (its link, its bytes)."""
    settings(st, attachment_isolate_all="on")
    m = marker()
    data = b"rotation " + tag + b" " + m + b"\n"
    got = deliver(st, mixed(m, [text_part(b"file"), file_part(tag + b".txt", data)]), m)
    return links(got)[0], data


def download(url):
    status, _, page = http(url)
    check(status == 200, "page: %d" % status)
    return post_button(url, page, "download")


@tap.case
def isolate_key_rotation_keeps_files_one_rotation_back(st):
    """omamorictl isolate-key rotate: a file isolated before still opens
    (the previous key), one isolated after opens (scand restarted, web
    reloaded); after a second rotation the oldest no longer opens (503),
    as the doc says: rotate at most once per attachment-isolate-days."""
    a, data_a = zero_trust_file(st, b"before")
    out = st.ctl("isolate-key", "rotate").stdout.decode()
    check("rotated" in out, "rotate said %r" % out)
    key = st.conf_value("isolate_key_path")
    check(len(open(key).read().split()) == 2 and os.stat(key).st_mode & 0o777 == 0o600,
          "the key file does not hold two keys, 0600")
    st.restart_scand()
    web_reload(st)
    b, data_b = zero_trust_file(st, b"after")
    for url, data in ((a, data_a), (b, data_b)):
        status, _, body = download(url)
        check(status == 200 and body == data, "after one rotation: %d" % status)
    st.ctl("isolate-key", "rotate")
    st.restart_scand()
    web_reload(st)
    status, _, _ = download(a)
    check(status == 503, "a file two rotations old: %d" % status)
    status, _, body = download(b)
    check(status == 200 and body == data_b, "the file one rotation old: %d" % status)
    settings(st)


if __name__ == "__main__":
    sys.exit(run_suite(tap, subscribe=[USER, BOB],
                       setup=[("domain", "set", DOMAIN, "attachments", "on")]))
