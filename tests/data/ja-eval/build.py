#!/usr/bin/env python3
"""build.py - turn the hand-written Japanese evaluation set into real mail.

Every mail of the set is written by hand, in UTF-8, one file per mail under
src/ham/ and src/spam/ (README.md says how and why).  This script does only
the mechanical part: it encodes each one as a mail program would send it -
the body in its target charset (ISO-2022-JP, Shift_JIS, EUC-JP, UTF-8) and
transfer encoding (7bit, 8bit, base64, quoted-printable), as text/plain,
text/html or multipart/alternative, the non-ASCII headers as RFC 2047 B or Q
words (or raw 8-bit, as some spamware does), a charset label that can lie
(mislabelled) or be missing or unknown - and adds what an MTA would have
added (Received, and Date / Message-ID when the source has none).

It then splits the set by a fixed rule (see split()) into
OUT/{train,test}/{ham,spam}/ and writes the learning-curve subsets of the
train half to OUT/curve-N/{ham,spam}/ (N = 10, 20, 50 of each kind).

  build.py OUT            build the .eml files
  build.py --check [OUT]  build (into a temporary dir without OUT), then parse
                          every .eml back, compare it with its source, and
                          print the table of charsets, encodings and types

Python standard library only; deterministic (no clock, no random).
"""
import base64
import collections
import email
import email.header
import email.policy
import email.utils
import hashlib
import html.parser
import os
import quopri
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
CURVE = (10, 20, 50)

CODECS = {"iso-2022-jp": "iso2022_jp", "shift_jis": "shift_jis", "euc-jp": "euc_jp",
          "utf-8": "utf-8"}
LABELS = {"iso-2022-jp": "ISO-2022-JP", "shift_jis": "Shift_JIS", "euc-jp": "EUC-JP",
          "utf-8": "UTF-8"}
# Windows writes these as its own code points (CP932); in JIS X 0208 they are
# the wave dash, double vertical line, minus sign: what a mail program sends
JIS_FORMS = str.maketrans({"\uff5e": "\u301c", "\u2225": "\u2016", "\uff0d": "\u2212"})
ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender")
ENCODED_HEADERS = ADDRESS_HEADERS + ("subject",)


class Mail:
    """One source file: its front line, headers (name, value) and body."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        text = open(path, encoding="utf-8").read()
        first, rest = text.split("\n", 1)
        if not first.startswith("# "):
            raise SystemExit("%s: the first line must be '# key=value ...'" % path)
        self.meta = dict(kv.split("=", 1) for kv in first[2:].split())
        head, _, body = rest.partition("\n\n")
        self.headers = []
        for line in head.split("\n"):
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
            elif line:
                n, _, v = line.partition(":")
                self.headers.append((n.strip(), v.strip()))
        self.body = body.rstrip("\n") + "\n"
        m = self.meta
        self.label = m["label"]
        self.category = m["cat"]
        self.charset = m.get("cs", "iso-2022-jp")          # the bytes
        self.declared = m.get("decl", self.charset)          # the label; "none": no charset
        self.cte = m.get("cte", "7bit" if self.charset == "iso-2022-jp" else "base64")
        self.type = m.get("type", "plain")                   # plain | html | alt
        self.hdr = m.get("hdr", "B")                         # B | Q | raw
        for key, value, allowed in (("cs", self.charset, CODECS), ("cte", self.cte,
                                    ("7bit", "8bit", "base64", "quoted-printable")),
                                    ("type", self.type, ("plain", "html", "alt")),
                                    ("hdr", self.hdr, ("B", "Q", "raw"))):
            if value not in allowed:
                raise SystemExit("%s: %s=%s not one of %s" % (path, key, value, list(allowed)))
        if self.label not in ("ham", "spam"):
            raise SystemExit("%s: label must be ham or spam" % path)
        if self.cte == "7bit" and self.charset != "iso-2022-jp":
            raise SystemExit("%s: 7bit needs ISO-2022-JP" % path)

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def mislabelled(self):
        return self.declared != self.charset

    def digest(self):
        return hashlib.md5(self.name.encode()).hexdigest()


def encode_bytes(text, charset, path):
    """text in charset; ISO-2022-JP line by line (back to ASCII before each
    line end, RFC 1468)."""
    codec = CODECS[charset]
    if charset != "utf-8":
        text = text.translate(JIS_FORMS)
    out = []
    for line in text.split("\n") if charset == "iso-2022-jp" else [text]:
        try:
            out.append(line.encode(codec))
        except UnicodeEncodeError as e:
            raise SystemExit("%s: %r cannot be written in %s" % (path, line[e.start:e.end], charset))
    return b"\n".join(out)


def encoded_words(text, charset, how, path):
    """RFC 2047 words for text, each within 75 characters, folded."""
    label = LABELS[charset]
    words, chunk = [], ""

    def word(s):
        raw = encode_bytes(s, charset, path)
        if how == "B":
            enc = base64.b64encode(raw).decode()
        else:
            enc = "".join(chr(b) if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5a or 0x61 <= b <= 0x7a)
                          else "_" if b == 0x20 else "=%02X" % b for b in raw)
        return "=?%s?%s?%s?=" % (label, how, enc)

    for ch in text:
        if len(word(chunk + ch)) > 75 and chunk:
            words.append(word(chunk))
            chunk = ""
        chunk += ch
    if chunk:
        words.append(word(chunk))
    return "\n ".join(words)


def encode_header(name, value, mail):
    """bytes of one header line; non-ASCII as the mail's hdr says."""
    if all(ord(c) < 128 for c in value):
        return ("%s: %s" % (name, value)).encode()
    hcs = mail.meta.get("hcs", mail.charset)
    if mail.hdr == "raw":
        return ("%s: " % name).encode() + encode_bytes(value, hcs, mail.path)
    if name.lower() in ADDRESS_HEADERS:
        out = []
        for addr in re.split(r",\s*(?=[^,]*<)", value):
            m = re.match(r'\s*"?([^"<]*?)"?\s*(<[^>]*>)\s*$', addr)
            if m and any(ord(c) >= 128 for c in m.group(1)):
                out.append(encoded_words(m.group(1), hcs, mail.hdr, mail.path) + " " + m.group(2))
            else:
                out.append(addr)
        return ("%s: %s" % (name, ",\n ".join(out))).encode()
    return ("%s: %s" % (name, encoded_words(value, hcs, mail.hdr, mail.path))).encode()


class TextOf(html.parser.HTMLParser):
    """The plain-text alternative a mail program writes beside HTML:
    paragraphs and breaks as lines, a link as its text and <href>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.href, self.skip = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self.skip += 1
        if tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"):
            self.out.append("\n")
        if tag == "a":
            self.href = dict(attrs).get("href")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self.skip -= 1
        if tag == "a" and self.href:
            self.out.append(" <%s>" % self.href)
            self.href = None
        if tag in ("p", "div", "tr", "li", "h1", "h2", "h3", "table"):
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data) if data.strip() else "")


def text_of_html(source):
    p = TextOf()
    p.feed(source)
    lines = [line.strip() for line in "".join(p.out).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return text + "\n"


def transfer(raw, cte):
    if cte == "base64":
        return base64.encodebytes(raw)
    if cte == "quoted-printable":
        return quopri.encodestring(raw)
    return raw


def part_bytes(mail, text, subtype):
    """Content-Type + Content-Transfer-Encoding lines and the encoded body."""
    ctype = "text/%s" % subtype
    if mail.declared != "none":
        label = LABELS.get(mail.declared, mail.declared)
        ctype += '; charset="%s"' % label if mail.meta.get("quote") else "; charset=%s" % label
    head = ("Content-Type: %s\nContent-Transfer-Encoding: %s\n" % (ctype, mail.cte)).encode()
    return head, transfer(encode_bytes(text, mail.charset, mail.path), mail.cte)


def when(mail):
    """A Date (from the name's digest when the source has none) and the
    arrival a few seconds to minutes later, as our MX writes it."""
    import datetime
    h = int(mail.digest(), 16)
    date = mail.header("Date")
    if date:
        sent = email.utils.parsedate_to_datetime(date)
    else:
        base = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
        sent = base + datetime.timedelta(seconds=h % (365 * 86400))
        date = email.utils.format_datetime(sent)
    arrival = sent + datetime.timedelta(seconds=2 + (h >> 40) % 300)
    return date, arrival


def received(mail, arrival):
    h = int(mail.digest(), 16)
    via = mail.meta.get("via")
    frm = email.utils.parseaddr(mail.header("From") or "")[1]
    domain = frm.rpartition("@")[2] or "unknown.invalid"
    if via:
        host, ip = via.split(",")
    else:
        host = "mail." + domain if h % 3 else "smtp%d.%s" % (h % 7 + 1, domain)
        net = ("192.0.2", "198.51.100", "203.0.113")[h % 3]
        ip = "%s.%d" % (net, 1 + (h >> 8) % 254)
    rcpt = email.utils.parseaddr(mail.header("To") or "")[1] or "undisclosed@example.jp"
    qid = mail.digest()[:10].upper()
    return ("Received: from %s (%s [%s])\n\tby mx1.example.jp (Postfix) with ESMTPS id %s\n"
            "\tfor <%s>; %s" % (host, host, ip, qid, rcpt, email.utils.format_datetime(arrival)))


def message_id(mail, date):
    h = mail.digest()
    frm = email.utils.parseaddr(mail.header("From") or "")[1]
    domain = frm.rpartition("@")[2] or "localhost"
    d = email.utils.parsedate_to_datetime(date).strftime("%Y%m%d%H%M%S")
    shape = int(h, 16) % 4
    if shape == 0:
        return "<%s.%s@%s>" % (d, h[:12], domain)
    if shape == 1:
        return "<%s-%s-%s@%s>" % (h[:8], h[8:12], h[12:16], domain)
    if shape == 2:
        return "<%s%s@mail.%s>" % (d, h[:6].upper(), domain)
    return "<%s@%s>" % (h[:20], domain)


def build_one(mail):
    date, arrival = when(mail)
    lines = [received(mail, arrival).encode()]
    have = {n.lower() for n, _ in mail.headers}
    for n, v in mail.headers:
        if n.lower() == "message-id" and v == "none":
            continue
        lines.append(encode_header(n, v, mail) if n.lower() in ENCODED_HEADERS
                     else ("%s: %s" % (n, v)).encode())
    if "date" not in have:
        lines.append(("Date: %s" % date).encode())
    if "message-id" not in have:
        lines.append(("Message-ID: %s" % message_id(mail, date)).encode())
    lines.append(b"MIME-Version: 1.0")
    if mail.type == "alt":
        boundary = "----=_Part_%s" % mail.digest()[:16]
        lines.append(('Content-Type: multipart/alternative;\n\tboundary="%s"' % boundary).encode())
        out = b"\n".join(lines) + b"\n\n"
        for text, sub in ((text_of_html(mail.body), "plain"), (mail.body, "html")):
            head, body = part_bytes(mail, text, sub)
            out += ("--%s\n" % boundary).encode() + head + b"\n" + body
            if not out.endswith(b"\n"):
                out += b"\n"
        return out + ("--%s--\n" % boundary).encode()
    head, body = part_bytes(mail, mail.body, "html" if mail.type == "html" else "plain")
    out = b"\n".join(lines) + b"\n" + head + b"\n" + body
    return out if out.endswith(b"\n") else out + b"\n"


def load():
    mails = []
    for kind in ("ham", "spam"):
        d = os.path.join(SRC, kind)
        for f in sorted(os.listdir(d)):
            if f.endswith(".txt"):
                m = Mail(os.path.join(d, f))
                if m.label != kind:
                    raise SystemExit("%s: label %s in src/%s" % (m.path, m.label, kind))
                mails.append(m)
    return mails


def split(mails):
    """The fixed split: within each (label, category), the files ordered by
    the md5 of their name go train, test, train, test ...  Then the curve
    subsets: the train half of a label ordered round-robin over its
    categories (categories by name, files in md5 order), the first N."""
    groups = collections.defaultdict(list)
    for m in mails:
        groups[(m.label, m.category)].append(m)
    part, curve_order = {}, collections.defaultdict(list)
    for key in sorted(groups):
        ordered = sorted(groups[key], key=Mail.digest)
        for i, m in enumerate(ordered):
            part[m.name] = "train" if i % 2 == 0 else "test"
    for label in ("ham", "spam"):
        queues = [[m for m in sorted(groups[k], key=Mail.digest) if part[m.name] == "train"]
                  for k in sorted(groups) if k[0] == label]
        while any(queues):
            for q in queues:
                if q:
                    curve_order[label].append(q.pop(0))
    return part, curve_order


def build(out):
    mails = load()
    part, curve_order = split(mails)
    for p in ["train", "test"] + ["curve-%d" % n for n in CURVE]:
        for kind in ("ham", "spam"):
            os.makedirs(os.path.join(out, p, kind), exist_ok=True)
    for m in mails:
        data = build_one(m)
        path = os.path.join(out, part[m.name], m.label, m.name + ".eml")
        with open(path, "wb") as f:
            f.write(data)
    for label in ("ham", "spam"):
        for n in CURVE:
            for m in curve_order[label][:n]:
                shutil.copy(os.path.join(out, "train", label, m.name + ".eml"),
                            os.path.join(out, "curve-%d" % n, label))
    return mails, part


def norm(s):
    s = s.translate(JIS_FORMS)
    return "\n".join(line.rstrip() for line in s.replace("\r\n", "\n").strip("\n").split("\n"))


def check(out):
    mails, part = build(out)
    problems = []
    for m in mails:
        path = os.path.join(out, part[m.name], m.label, m.name + ".eml")
        raw = open(path, "rb").read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        old = email.message_from_bytes(raw, policy=email.policy.compat32)
        if m.hdr != "raw":
            for n in ("Subject", "From"):
                want = m.header(n)
                raw_value = old.get_all(n, [None])[0]
                got = (str(email.header.make_header(email.header.decode_header(
                    re.sub(r"\r?\n[ \t]", " ", str(raw_value)))))
                    if raw_value is not None else None)
                if want is not None and norm(got.replace('"', "")) != norm(want.replace('"', "")):
                    problems.append("%s: %s %r != %r" % (m.name, n, got, want))
        parts = [p for p in msg.walk() if p.get_content_maintype() == "text"]
        want = ([("plain", text_of_html(m.body)), ("html", m.body)] if m.type == "alt"
                else [("html" if m.type == "html" else "plain", m.body)])
        if [p.get_content_subtype() for p in parts] != [w[0] for w in want]:
            problems.append("%s: parts %s" % (m.name, [p.get_content_type() for p in parts]))
            continue
        for p, (_, text) in zip(parts, want):
            if p["Content-Transfer-Encoding"] != m.cte:
                problems.append("%s: transfer encoding %s" % (m.name, p["Content-Transfer-Encoding"]))
            payload = p.get_payload(decode=True)
            if norm(payload.decode(CODECS[m.charset])) != norm(text):
                problems.append("%s: body does not decode back to the source" % m.name)
            declared = p.get_content_charset()
            if m.mislabelled():
                try:
                    same = declared in CODECS and norm(payload.decode(CODECS[declared])) == norm(text)
                except UnicodeDecodeError:
                    same = False
                if same:
                    problems.append("%s: mislabelled but reads right as %s" % (m.name, declared))
            elif declared != m.charset:
                problems.append("%s: charset label %s, wanted %s" % (m.name, declared, m.charset))
    table(mails, part)
    for p in problems:
        print("PROBLEM", p)
    print("%d mails checked, %d problems" % (len(mails), len(problems)))
    return not problems


def table(mails, part):
    def count(title, key):
        c = collections.Counter((key(m), m.label) for m in mails)
        print("%-34s %5s %5s" % (title, "ham", "spam"))
        for k in sorted({k for k, _ in c}):
            print("  %-32s %5d %5d" % (k, c[(k, "ham")], c[(k, "spam")]))
    count("charset / transfer encoding", lambda m: "%s %s" % (m.charset, m.cte))
    count("charset label (when not the bytes')", lambda m: ("%s as %s" % (m.charset, m.declared))
          if m.mislabelled() else "right")
    count("type", lambda m: {"plain": "text/plain", "html": "text/html",
                             "alt": "multipart/alternative"}[m.type])
    count("non-ASCII headers", lambda m: {"B": "RFC 2047 B", "Q": "RFC 2047 Q",
                                          "raw": "raw 8-bit"}[m.hdr])
    count("category", lambda m: m.category)
    count("split", lambda m: part[m.name])


def main():
    args = sys.argv[1:]
    if args[:1] == ["--check"]:
        out = args[1] if len(args) > 1 else tempfile.mkdtemp(prefix="ja-eval-")
        ok = check(out)
        if len(args) < 2:
            shutil.rmtree(out)
        sys.exit(0 if ok else 1)
    if len(args) != 1:
        raise SystemExit(__doc__)
    mails, _ = build(args[0])
    print("%d mails built into %s" % (len(mails), args[0]))


if __name__ == "__main__":
    main()
