#!/usr/bin/python3
"""Password-protected Office Open XML documents made at run time for the
tests (issue 16 item 4; doc/attachments.md "Unlocking"): no encrypted
binary is committed.  Encryption per [MS-OFFCRYPTO] 2.3.4 with Debian's
python3-cryptography; the OLE compound file written by libgsf's
GsfOutfileMSOle through GObject introspection (gir1.2-gsf-1).

- agile(package, password): EncryptionInfo 4.4 with its XML descriptor,
  AES-256-CBC / SHA-512 by default, 4096-byte segments, dataIntegrity HMAC;
- standard(package, password): EncryptionInfo 3.2, AES-128-ECB, SHA-1;
- docx(text), xlsm(): small documents, the xlsm with a vbaProject.bin.

Also a command for the C unit test: officecrypt.py DIR writes its
fixtures into DIR (see tests/unit/test-office-decrypt.c)."""
import base64
import hashlib
import hmac
import io
import os
import struct
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gi  # noqa: E402
gi.require_version("Gsf", "1")
from gi.repository import Gsf  # noqa: E402
from omtest import EICAR  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

BK_VIN = bytes.fromhex("fea7d2763b4b9e79")
BK_VHASH = bytes.fromhex("d7aa0f6d3061344e")
BK_KEY = bytes.fromhex("146e0be7abacd0d6")
BK_HMAC_KEY = bytes.fromhex("5fb2ad010cb9e1f6")
BK_HMAC_VALUE = bytes.fromhex("a0677f02b22c8433")
HASHES = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}


def ole(streams):
    """An OLE compound file holding streams {name: bytes}."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ole")
        out = Gsf.OutputStdio.new(path)
        infile = Gsf.OutfileMSOle.new(out)
        for name, data in streams.items():
            child = infile.new_child(name, False)
            check = child.write(data)
            child.close()
            if not check:
                raise OSError("libgsf could not write the stream %s" % name)
        infile.close()
        del infile, out
        with open(path, "rb") as f:
            return f.read()


def _pad(data, n=16):
    return data + b"\0" * (-len(data) % n)


def _cbc(key, iv, data):
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(_pad(data)) + e.finalize()


def _ecb(key, data):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(_pad(data)) + e.finalize()


def _fit(data, n, fill=b"\x36"):
    return data[:n] if len(data) >= n else data + fill * (n - len(data))


def _spin(hname, salt, password, spin):
    h = hashlib.new(hname, salt + password.encode("utf-16-le")).digest()
    for i in range(spin):
        h = hashlib.new(hname, struct.pack("<I", i) + h).digest()
    return h


def agile(package, password, hash_alg="SHA512", key_bits=256, spin=100000,
          integrity=True, salts=None, tamper=False):
    """package encrypted with Agile encryption: the OLE file's bytes."""
    hname = HASHES[hash_alg]
    hsize = hashlib.new(hname).digest_size
    klen = key_bits // 8
    salts = salts or {}
    data_salt = salts.get("data") or os.urandom(16)
    pw_salt = salts.get("password") or os.urandom(16)
    secret = salts.get("secret") or os.urandom(klen)
    h = _spin(hname, pw_salt, password, spin)

    def key(block):
        return _fit(hashlib.new(hname, h + block).digest(), klen)

    verifier = os.urandom(16)
    evin = _cbc(key(BK_VIN), pw_salt, verifier)
    evhash = _cbc(key(BK_VHASH), pw_salt, hashlib.new(hname, verifier).digest())
    ekey = _cbc(key(BK_KEY), pw_salt, secret)
    enc = struct.pack("<Q", len(package))
    for i in range(0, len(package), 4096):
        iv = _fit(hashlib.new(hname, data_salt + struct.pack("<I", i // 4096)).digest(), 16)
        enc += _cbc(secret, iv, package[i:i + 4096])
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    params = ('saltSize="16" blockSize="16" keyBits="%d" hashSize="%d" cipherAlgorithm="AES" '
              'cipherChaining="ChainingModeCBC" hashAlgorithm="%s"' % (key_bits, hsize, hash_alg))
    integ = ""
    if integrity:
        hkey = os.urandom(hsize)
        mac = hmac.new(hkey, enc, hname).digest()
        iv1 = _fit(hashlib.new(hname, data_salt + BK_HMAC_KEY).digest(), 16)
        iv2 = _fit(hashlib.new(hname, data_salt + BK_HMAC_VALUE).digest(), 16)
        integ = '<dataIntegrity encryptedHmacKey="%s" encryptedHmacValue="%s"/>' % (
            b64(_cbc(secret, iv1, hkey)), b64(_cbc(secret, iv2, mac)))
    if tamper:     # one byte changed after the HMAC was made
        enc = enc[:-20] + bytes([enc[-20] ^ 1]) + enc[-19:]
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
           '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
           'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<keyData %s saltValue="%s"/>%s<keyEncryptors>'
           '<keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<p:encryptedKey spinCount="%d" %s saltValue="%s" encryptedVerifierHashInput="%s" '
           'encryptedVerifierHashValue="%s" encryptedKeyValue="%s"/></keyEncryptor>'
           '</keyEncryptors></encryption>' % (
               params, b64(data_salt), integ, spin, params, b64(pw_salt), b64(evin),
               b64(evhash), b64(ekey)))
    info = struct.pack("<HHI", 4, 4, 0x40) + xml.encode()
    return ole({"EncryptionInfo": info, "EncryptedPackage": enc})


def standard(package, password, key_bits=128):
    """package encrypted with Standard encryption (AES-ECB, SHA-1)."""
    salt = os.urandom(16)
    h = _spin("sha1", salt, password, 50000)
    h = hashlib.sha1(h + struct.pack("<I", 0)).digest()
    x1 = hashlib.sha1(bytes(b ^ 0x36 for b in _fit(h, 64, b"\0"))).digest()
    x2 = hashlib.sha1(bytes(b ^ 0x5c for b in _fit(h, 64, b"\0"))).digest()
    key = (x1 + x2)[:key_bits // 8]
    verifier = os.urandom(16)
    alg = {128: 0x660E, 192: 0x660F, 256: 0x6610}[key_bits]
    csp = "Microsoft Enhanced RSA and AES Cryptographic Provider\0".encode("utf-16-le")
    header = struct.pack("<IIIIIIII", 0x24, 0, alg, 0x8004, key_bits, 0x18, 0, 0) + csp
    ver = (struct.pack("<I", 16) + salt + _ecb(key, verifier) + struct.pack("<I", 20) +
           _ecb(key, hashlib.sha1(verifier).digest()))
    info = struct.pack("<HHII", 3, 2, 0x24, len(header)) + header + ver
    enc = struct.pack("<Q", len(package)) + _ecb(key, package)
    return ole({"EncryptionInfo": info, "EncryptedPackage": enc})


def _zip(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            # a fixed date: the same document twice is the same bytes
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


def docx(text):
    """A one-paragraph Word document (no macros)."""
    ct = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    doc = ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
           'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>%s</w:t>'
           '</w:r></w:p></w:body></w:document>' % text)
    return _zip([("[Content_Types].xml", ct), ("_rels/.rels", rels), ("word/document.xml", doc)])


def xlsm():
    """A macro-enabled workbook, as Excel lays it out (the VBA part a stub)."""
    ct = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType='
          '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '</Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wbrels = ('<?xml version="1.0" encoding="UTF-8"?>'
              '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
              '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
              '<Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/'
              'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
    return _zip([("[Content_Types].xml", ct), ("_rels/.rels", rels),
                 ("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/'
                  'spreadsheetml/2006/main"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
                  '</sheets></workbook>'),
                 ("xl/_rels/workbook.xml.rels", wbrels),
                 ("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>"),
                 ("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)])


def kat_verifier():
    """An Agile descriptor holding the password verifier of a document
    Office encrypted (SHA-512, AES-256, spinCount 100000, password
    "Password1234_"); its package is 16 bytes of nothing (no HMAC)."""
    b64 = lambda h: base64.b64encode(bytes.fromhex(h)).decode()  # noqa: E731
    params = ('saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
              'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512"')
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
           '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
           'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<keyData %s saltValue="%s"/><keyEncryptors>'
           '<keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<p:encryptedKey spinCount="100000" %s saltValue="%s" '
           'encryptedVerifierHashInput="%s" encryptedVerifierHashValue="%s" '
           'encryptedKeyValue="%s"/></keyEncryptor></keyEncryptors></encryption>' % (
               params, b64("00112233445566778899aabbccddeeff"), params,
               b64("cbca1c999343fbad92075634150034b0"),
               b64("39eea54e26e514798c284bc7714d38ac"),
               b64("14376d6d817334e6b0ff4fd8221a7c678e5d8a784e8f999f4c188930c36a4b29"
                   "c5b333605b5cd403b05003adcf18cca8cbab8debe373c65604a0becfae5c0ad0"),
               b64("a16cd5165a7ab9d271113ed386a78cf49692e8e527b0c5fc0055ed080b7cb94b")))
    info = struct.pack("<HHI", 4, 4, 0x40) + xml.encode()
    return ole({"EncryptionInfo": info,
                "EncryptedPackage": struct.pack("<Q", 16) + b"\0" * 16})


def legacy_doc():
    """An old-format Word document whose FIB says it is encrypted (RC4):
    only its flag matters here, nothing in it is really encrypted."""
    fib = b"\xec\xa5\xc1\x00" + b"\0" * 6 + struct.pack("<H", 0x0100) + b"\0" * 1012
    return ole({"WordDocument": fib, "1Table": b"\0" * 512})


def legacy_xls():
    """An old-format workbook with a FILEPASS record after its BOF."""
    bof = struct.pack("<HH", 0x0809, 16) + b"\0\x06\x05\x00" + b"\0" * 12
    filepass = struct.pack("<HH", 0x002F, 6) + b"\x01\x00\x01\x00\x01\x00"
    return ole({"Workbook": bof + filepass + b"\0" * 4096})


def ole_tree(tree):
    """An OLE compound file from {name: bytes, or {name: ...} a storage}."""
    def put(outfile, items):
        for name, data in items.items():
            child = outfile.new_child(name, isinstance(data, dict))
            if isinstance(data, dict):
                put(child, data)
            elif not child.write(data):
                raise OSError("libgsf could not write the stream %s" % name)
            child.close()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ole")
        out = Gsf.OutputStdio.new(path)
        infile = Gsf.OutfileMSOle.new(out)
        put(infile, tree)
        infile.close()
        del infile, out
        with open(path, "rb") as f:
            return f.read()


def rc4(key, data):
    """RC4 for the fixtures only (python3-cryptography keeps it in its
    decrepit/legacy corner): the key schedule and the keystream XORed."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray(data)
    i = j = 0
    for n in range(len(out)):
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out[n] ^= s[(s[i] + s[j]) % 256]
    return bytes(out)


class RC4Key:
    """[MS-OFFCRYPTO] 2.3.6.2 (RC4: MD5, 40-bit base, 128-bit block keys)
    or 2.3.5.2 (RC4 CryptoAPI: SHA-1, key_bits of the key, 40 padded)."""

    def __init__(self, password, salt, cryptoapi=False, key_bits=128):
        pw = password.encode("utf-16-le")
        self.cryptoapi, self.key_bits = cryptoapi, key_bits
        if cryptoapi:
            self.base = hashlib.sha1(salt + pw).digest()
        else:
            h0 = hashlib.md5(pw).digest()[:5]
            self.base = hashlib.md5((h0 + salt) * 16).digest()[:5]

    def block(self, n):
        b = struct.pack("<I", n)
        if not self.cryptoapi:
            return hashlib.md5(self.base + b).digest()
        h = hashlib.sha1(self.base + b).digest()
        return h[:5] + b"\0" * 11 if self.key_bits == 40 else h[:self.key_bits // 8]

    def stream(self, length, block_size):
        """The keystream of a stream of length bytes."""
        out = b""
        for n in range(0, length, block_size):
            out += rc4(self.block(n // block_size), b"\0" * min(block_size, length - n))
        return out


def rc4_header(password, cryptoapi=False, key_bits=128, salt=None, verifier=None):
    """(EncryptionHeader bytes, RC4Key): version 1.1 RC4, or 4.2 RC4
    CryptoAPI (algID 0x6801, SHA-1)."""
    salt = salt or os.urandom(16)
    verifier = verifier or os.urandom(16)
    key = RC4Key(password, salt, cryptoapi, key_bits)
    if not cryptoapi:
        enc = rc4(key.block(0), verifier + hashlib.md5(verifier).digest())
        return struct.pack("<HH", 1, 1) + salt + enc, key
    enc = rc4(key.block(0), verifier + hashlib.sha1(verifier).digest())
    csp = "Microsoft Enhanced Cryptographic Provider v1.0\0".encode("utf-16-le")
    header = struct.pack("<IIIIIIII", 0x04, 0, 0x6801, 0x8004, key_bits, 1, 0, 0) + csp
    return (struct.pack("<HHII", 4, 2, 0x04, len(header)) + header +
            struct.pack("<I", 16) + salt + enc[:16] + struct.pack("<I", 20) + enc[16:]), key


WORD_TEXT = b"omamori-rc4-plain-WordDocument"


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def rc4_doc(password, cryptoapi=False, macro=False, data=None, key_bits=128):
    """An old-format Word document encrypted with RC4 (or RC4 CryptoAPI):
    its FIB says fEncrypted and 1Table, the 1Table stream starts with the
    EncryptionHeader (lKey bytes), WordDocument after its first 68 bytes,
    the table and the Data stream encrypted in 512-byte blocks.  WORD_TEXT
    is in the WordDocument stream; a Macros storage with a _VBA_PROJECT
    stream when macro (not encrypted, as Word leaves it)."""
    header, key = rc4_header(password, cryptoapi, key_bits)
    fib = bytearray(b"\xec\xa5\xc1\x00" + b"\0" * 64)
    struct.pack_into("<H", fib, 0x0a, 0x0100 | 0x0200)
    struct.pack_into("<I", fib, 0x0e, len(header))
    word = bytes(fib) + WORD_TEXT + b"\0" * (1500 - len(WORD_TEXT))
    ks = key.stream(len(word), 512)
    word = word[:0x44] + _xor(word[0x44:], ks[0x44:])
    table = header + b"table-plain" * 40
    ks = key.stream(len(table), 512)
    table = header + _xor(table[len(header):], ks[len(header):])
    tree = {"WordDocument": word, "1Table": table}
    if data is not None:
        tree["Data"] = _xor(data, key.stream(len(data), 512))
    if macro:
        tree["Macros"] = {"VBA": {"_VBA_PROJECT": b"\xcc\x61" + b"\0" * 60,
                                  "dir": b"\x01" + b"\0" * 40}}
    return ole_tree(tree)


XLS_TEXT = b"omamori-rc4-plain-Workbook"


def _rec(rtype, body):
    return struct.pack("<HH", rtype, len(body)) + body


def rc4_xls(password, cryptoapi=False, macro=False, key_bits=128):
    """An old-format workbook encrypted with RC4 (or RC4 CryptoAPI): BOF,
    FILEPASS (wEncryptionType 1 and the EncryptionHeader), a BoundSheet8
    whose lbPlyPos points at the sheet's BOF, the record data after
    FILEPASS encrypted at its stream position in 1024-byte blocks (BOF
    and BoundSheet8's lbPlyPos left plain).  A LABEL-like record holds
    XLS_TEXT; _VBA_PROJECT_CUR when macro."""
    header, key = rc4_header(password, cryptoapi, key_bits)
    bof = _rec(0x0809, b"\x00\x06\x05\x00" + b"\0" * 12)
    records = [(0x0809, bof[4:]), (0x002F, struct.pack("<H", 1) + header)]
    records.append((0x0085, b"\0\0\0\0" + b"\0\0\x05\x00S1\0"))  # lbPlyPos fixed below
    records.append((0x0204, XLS_TEXT))
    records.append((0x000A, b""))
    sheet_at = sum(4 + len(b) for _, b in records)
    records += [(0x0809, b"\x00\x06\x10\x00" + b"\0" * 12), (0x0204, b"sheet-cell" * 30),
                (0x000A, b"")]
    records[2] = (0x0085, struct.pack("<I", sheet_at) + records[2][1][4:])
    plain = b"".join(_rec(t, b) for t, b in records)
    ks = key.stream(len(plain), 1024)
    out = bytearray(plain)
    off = 0
    for t, b in records:
        start = off + 4 + (4 if t == 0x0085 else 0)
        if t not in (0x0809, 0x002F):
            out[start:off + 4 + len(b)] = _xor(out[start:off + 4 + len(b)], ks[start:off + 4 + len(b)])
        off += 4 + len(b)
    tree = {"Workbook": bytes(out)}
    if macro:
        tree["_VBA_PROJECT_CUR"] = {"VBA": {"_VBA_PROJECT": b"\xcc\x61" + b"\0" * 60}}
    return ole_tree(tree)


def _workbook(data):
    infile = Gsf.InfileMSOle.new(Gsf.InputMemory.new(data, False))
    child = infile.child_by_name("Workbook") if infile else None
    return bytes(child.read(child.size)) if child is not None else None


def xls_filepass(data):
    """True when the Workbook stream of the compound file data has a
    FILEPASS record, False when its records hold none, None unreadable."""
    wb = _workbook(data)
    if wb is None:
        return None
    off = 0
    while off + 4 <= len(wb):
        rtype, size = struct.unpack_from("<HH", wb, off)
        if rtype == 0x002F:
            return True
        off += 4 + size
    return False if off == len(wb) else None


def xls_sheet_positions(data):
    """The record types BoundSheet8's lbPlyPos point at (a BOF, 0x0809,
    each, in a sound workbook)."""
    wb = _workbook(data) or b""
    out, off = [], 0
    while off + 4 <= len(wb):
        rtype, size = struct.unpack_from("<HH", wb, off)
        if rtype == 0x0085 and size >= 4:
            at = struct.unpack_from("<I", wb, off + 4)[0]
            out.append(struct.unpack_from("<H", wb, at)[0] if at + 2 <= len(wb) else None)
        off += 4 + size
    return out


# Values of a .doc Word encrypted with RC4, password "password1" (quoted by
# msoffcrypto-tool's doctests of its RC4 key and verifier): the salt, the
# encrypted verifier and its hash, and block 0's key
KAT_RC4_SALT = bytes.fromhex("e8772c1d91c56a37964761b280183217")
KAT_RC4_VERIFIER = bytes.fromhex("c9e997d454973d310bb1ba701426837e")
KAT_RC4_VERIFIER_HASH = bytes.fromhex("b1de178f07e989c44dae5e4cf96ac407")
KAT_RC4_KEY0 = bytes.fromhex("20bf32ddf540858c513744af0f24e03c")


def kat_rc4_doc():
    """A .doc whose EncryptionHeader is the known one above: its verifier
    accepts password1 (the rest of the file is not Word's)."""
    header = struct.pack("<HH", 1, 1) + KAT_RC4_SALT + KAT_RC4_VERIFIER + KAT_RC4_VERIFIER_HASH
    fib = bytearray(b"\xec\xa5\xc1\x00" + b"\0" * 64)
    struct.pack_into("<H", fib, 0x0a, 0x0100 | 0x0200)
    struct.pack_into("<I", fib, 0x0e, len(header))
    return ole_tree({"WordDocument": bytes(fib) + b"\0" * 600, "1Table": header + b"\0" * 600})


PPT_TEXT = b"omamori-rc4-plain-PowerPoint"


def _ppt_rec(rtype, body, ver=0):
    return struct.pack("<HHI", ver, rtype, len(body)) + body


def rc4_ppt(password, key_bits=128):
    """An old-format presentation encrypted with RC4 CryptoAPI ([MS-PPT]
    2.3.7): persist object 1 (a DocumentContainer holding PPT_TEXT in a
    TextBytesAtom) encrypted with the key of block 1, header included;
    persist object 2 the CryptSession10Container (plain); the persist
    directory and the UserEditAtom (encryptSessionPersistIdRef 2) plain;
    the Current User atom's headerToken says encrypted; an
    EncryptedSummary stream."""
    header, key = rc4_header(password, True, key_bits)
    obj1 = _ppt_rec(0x03E8, _ppt_rec(0x0FA8, PPT_TEXT) + b"\0" * 100, 0x0F)
    obj2 = _ppt_rec(0x2F14, header, 0x0F)
    doc = rc4(key.block(1), obj1) + obj2
    dir_at = len(doc)
    doc += _ppt_rec(0x1772, struct.pack("<III", 1 | (2 << 20), 0, len(obj1)))
    edit_at = len(doc)
    doc += _ppt_rec(0x0FF5, struct.pack("<IHBBIIIIHHI", 0, 0, 0, 3, 0, dir_at, 1, 2, 1, 0, 2))
    user = b"alice"
    cu = _ppt_rec(0x0FF6, struct.pack("<IIIHHBBH", 0x14, 0xF3D1C4DF, edit_at, len(user),
                                      0x03F4, 3, 0, 0) + user + struct.pack("<I", 8))
    return ole_tree({"PowerPoint Document": doc, "Current User": cu,
                     "EncryptedSummary": os.urandom(200)})


def main(out_dir):
    """The unit test's fixtures: PASSWORD opens each; plain.docx is what
    the docx ones hold, plain.xlsm what the xlsm one holds."""
    password = "パスワード-k8Pw"
    # the generator's key derivation against the known answer
    if RC4Key("password1", KAT_RC4_SALT).block(0) != KAT_RC4_KEY0:
        raise SystemExit("officecrypt.py: the RC4 key of the known answer differs")
    big = docx(os.urandom(6000).hex())  # several 4096-byte segments
    files = {
        "plain.docx": big,
        "plain.xlsm": xlsm(),
        "agile-sha512.docx": agile(big, password),
        "agile-sha1-aes128.docx": agile(big, password, "SHA1", 128, spin=1000),
        "agile-sha256-nohmac.docx": agile(big, password, "SHA256", 256, spin=1000,
                                         integrity=False),
        "agile-macro.xlsm": agile(xlsm(), password, spin=1000),
        "standard.docx": standard(big, password),
        "standard-aes256.docx": standard(big, password, 256),
        "agile-eicar.docx": agile(_zip([("[Content_Types].xml", "<Types/>"),
                                        ("word/embeddings/readme.txt", EICAR)]),
                                  password, spin=1000),
        "agile-tampered.docx": agile(big, password, spin=1000, tamper=True),
        # one over omamori's spinCount bound (OM_OFFICE_SPIN_WORKER_MAX)
        "agile-spin-over.docx": agile(docx("x"), password, "SHA1", 128, spin=1000001),
        # [MS-OFFCRYPTO] values of a file Office wrote (msoffcrypto-tool's
        # doctest of verify_password): its password is Password1234_
        "kat-verifier.docx": kat_verifier(),
        "legacy-encrypted.doc": legacy_doc(),
        "legacy-encrypted.xls": legacy_xls(),
        "not-encrypted.doc": ole({"WordDocument": b"\xec\xa5" + b"\0" * 1022}),
        "rc4.doc": rc4_doc(password),
        "rc4-macro.doc": rc4_doc(password, macro=True),
        "rc4-eicar.doc": rc4_doc(password, data=EICAR.encode() if isinstance(EICAR, str)
                                 else EICAR),
        "rc4capi.doc": rc4_doc(password, cryptoapi=True),
        "rc4capi40.doc": rc4_doc(password, cryptoapi=True, key_bits=40),
        "rc4.xls": rc4_xls(password),
        "rc4capi-macro.xls": rc4_xls(password, cryptoapi=True, macro=True),
        "rc4.ppt": rc4_ppt(password),
        "rc4-40.ppt": rc4_ppt(password, 40),
        "kat-rc4.doc": kat_rc4_doc(),
    }
    for name, data in files.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out_dir, "password"), "w", encoding="utf-8") as f:
        f.write(password)


if __name__ == "__main__":
    main(sys.argv[1])
