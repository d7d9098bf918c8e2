/* office-decrypt.h - a password-protected Office Open XML document
 * (docx, xlsx, pptx, docm, xlsm...) decrypted in memory (issue 16 item 4,
 * doc/attachments.md "Unlocking"), per [MS-OFFCRYPTO]: an OLE compound
 * file (libgsf) whose "EncryptionInfo" stream says how the
 * "EncryptedPackage" stream - the document's zip - was encrypted:
 * Agile encryption (version 4.4, an XML descriptor read with libxml2:
 * SHA-1/SHA-256/SHA-384/SHA-512, AES-128/192/256-CBC, 4096-byte segments)
 * or Standard encryption (version 3.2/4.2: AES-ECB, a SHA-1 key).  The
 * password is checked with the verifier hashes before any byte of the
 * package is decrypted; Agile's dataIntegrity HMAC is checked too.
 * Pure: bytes and a password in, bytes out; nothing written anywhere.
 */
#ifndef OM_SCAN_OFFICE_DECRYPT_H
#define OM_SCAN_OFFICE_DECRYPT_H

#include <stddef.h>

#include "lib/util.h"

enum om_office_status {
	OM_OFFICE_NONE = 0,
	OM_OFFICE_DECRYPTED,	/* out holds the package (an OOXML zip) */
	OM_OFFICE_WRONG,	/* the verifier says the password is wrong */
	OM_OFFICE_NOT_OOXML,	/* an OLE file with no EncryptedPackage: a
				   legacy .doc/.xls (RC4), or not encrypted */
	OM_OFFICE_UNSUPPORTED,	/* an encryption this code does not do
				   (RC4 CryptoAPI, a certificate only, an
				   unknown algorithm) */
	OM_OFFICE_DAMAGED,	/* not an OLE file, streams or descriptor
				   malformed, over the limits, HMAC wrong */
};

/* [MS-OFFCRYPTO] 2.3.4.11: spinCount MUST NOT be more than 10,000,000 */
#define OM_OFFICE_SPIN_MAX 10000000u
/* omamori's own bound (doc/attachments.md "Unlocking"): Office writes
   100,000; a crafted 10,000,000 would hold a scand worker for tens of
   seconds per attempt, so more than ten times Office's is refused */
#define OM_OFFICE_SPIN_WORKER_MAX 1000000u
/* Office's passwords are at most 255 UTF-16 code units */
#define OM_OFFICE_PASSWORD_MAX 255

/* Decrypts data (len bytes) with password (UTF-8): OM_OFFICE_DECRYPTED
   with the decrypted package in out (at most max bytes), or another
   status with out empty and *error_r (allocated) saying why. */
enum om_office_status om_office_decrypt(const char *data, size_t len,
					const char *password, size_t max,
					struct om_buf *out, char **error_r);

/* Agile's key step alone ([MS-OFFCRYPTO] 2.3.4.11, 2.3.4.13): the
   package key encrypted_key (enc_len bytes) decrypted with the key the
   password, salt (16 bytes), SHA-512 and spin give, into key (key_bits/8
   bytes): 0, or -1.  For the known-answer test with values of a file
   Office wrote (tests/unit/test-office-decrypt.c). */
int om_office_agile_sha512_key(const char *password, const unsigned char salt[16],
			       unsigned long spin, unsigned int key_bits,
			       const unsigned char *encrypted_key, size_t enc_len,
			       unsigned char *key);

/* 1 when data is an old-format Office document (OLE) whose own
   encryption is on - Word's FIB fEncrypted, Excel's FILEPASS record
   among the first records of the Workbook stream, PowerPoint's
   EncryptedSummary stream - which om_office_legacy_decrypt opens;
   else 0. */
int om_office_legacy_encrypted(const char *data, size_t len);

/* office-rc4.c: an old-format Word, Excel or PowerPoint document (.doc,
   .xls, .ppt) encrypted with RC4 or RC4 CryptoAPI ([MS-OFFCRYPTO] 2.3.5,
   2.3.6) decrypted with password: OM_OFFICE_DECRYPTED with out a plain
   compound file (fEncrypted cleared, FILEPASS removed, the persist
   objects decrypted; at most about max bytes of streams),
   OM_OFFICE_WRONG (the verifier), OM_OFFICE_NOT_OOXML (not such an
   encrypted document), OM_OFFICE_UNSUPPORTED (XOR obfuscation, another
   algorithm, no RC4 in OpenSSL), OM_OFFICE_DAMAGED; *error_r says why
   when not decrypted. */
enum om_office_status om_office_legacy_decrypt(const char *data, size_t len,
					       const char *password, size_t max,
					       struct om_buf *out, char **error_r);

/* The password (UTF-8) as UTF-16LE bytes, allocated, *len_r of them; NULL
   when it is not UTF-8 or longer than OM_OFFICE_PASSWORD_MAX. */
unsigned char *om_office_password_utf16(const char *password, size_t *len_r);

const char *om_office_status_name(enum om_office_status status);

#endif
