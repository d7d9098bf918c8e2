/* test-office-decrypt.c - encrypted Office Open XML documents opened with
 * their password (scan/office-decrypt.h).  The encrypted files are made
 * at run time by tests/e2e/officecrypt.py (python3-cryptography, libgsf's
 * OLE writer): Agile SHA-512/AES-256, SHA-1/AES-128, SHA-256 without
 * dataIntegrity, a tampered package, Standard AES-128 and AES-256, a
 * legacy OLE document.  Known answers from a file Office encrypted
 * ([MS-OFFCRYPTO] values, quoted by msoffcrypto-tool's doctests): its
 * password verifier and its package key, so the derivation is checked
 * against Office itself, not only against our own generator.
 */
#include "tap.h"
#include "scan/office-decrypt.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/omamori-office-XXXXXX";
static char password[256];

static int read_file(const char *name, struct om_buf *out)
{
	char path[512], block[8192];
	FILE *f;
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	om_buf_reset(out);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	while ((n = fread(block, 1, sizeof(block), f)) > 0)
		om_buf_append(out, block, n);
	fclose(f);
	return 0;
}

/* name decrypted with pw: the status, the bytes in out */
static enum om_office_status open_with(const char *name, const char *pw, size_t max,
				       struct om_buf *out)
{
	struct om_buf in;
	char *error = NULL;
	enum om_office_status status;

	om_buf_init(&in);
	if (read_file(name, &in) < 0) {
		om_buf_free(&in);
		return OM_OFFICE_NONE;
	}
	status = om_office_decrypt(in.data, in.len, pw, max, out, &error);
	if (status != OM_OFFICE_DECRYPTED)
		printf("# %s: %s: %s\n", name, om_office_status_name(status),
		       error != NULL ? error : "(no reason)");
	TAP_OK((status == OM_OFFICE_DECRYPTED) == (error == NULL),
	       "%s: a reason exactly when not decrypted", name);
	free(error);
	om_buf_free(&in);
	return status;
}

static void test_decrypts(const char *name, const char *plain_name)
{
	struct om_buf out, plain;
	enum om_office_status status;

	om_buf_init(&out);
	om_buf_init(&plain);
	TAP_OK(read_file(plain_name, &plain) == 0 && plain.len > 0, "%s read", plain_name);
	status = open_with(name, password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DECRYPTED, "%s opens with its password", name);
	TAP_OK(out.len == plain.len && plain.len > 0 &&
	       memcmp(out.data, plain.data, plain.len) == 0,
	       "%s: the decrypted bytes are the document (%zu, %zu bytes)", name,
	       out.len, plain.len);
	status = open_with(name, "パスワード-k8pw", 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_WRONG && out.len == 0,
	       "%s: a wrong password (one letter's case) is refused, no bytes", name);
	status = open_with(name, "", 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_WRONG && out.len == 0, "%s: the empty password is refused",
	       name);
	status = open_with(name, password, plain.len - 1, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED && out.len == 0,
	       "%s: a package over the limit is refused", name);
	om_buf_free(&out);
	om_buf_free(&plain);
}

static void test_refused(void)
{
	struct om_buf out, in;
	char *error = NULL;
	enum om_office_status status;
	size_t cut;

	om_buf_init(&out);
	om_buf_init(&in);
	status = open_with("agile-tampered.docx", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED && out.len == 0,
	       "a package changed after encryption fails its HMAC");
	status = open_with("not-encrypted.doc", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_NOT_OOXML, "an OLE document without EncryptedPackage: "
	       "not an encrypted OOXML document");
	status = open_with("plain.docx", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED, "a zip is not an OLE file");
	TAP_OK(read_file("agile-sha512.docx", &in) == 0, "read agile-sha512.docx");
	for (cut = 0; cut < in.len; cut += 509) {
		status = om_office_decrypt(in.data, cut, password, 32u * 1024 * 1024, &out, &error);
		free(error);
		error = NULL;
		if (status == OM_OFFICE_DECRYPTED)
			break;
	}
	TAP_OK(cut >= in.len, "no truncation of the file decrypts (cut at %zu of %zu)", cut,
	       in.len);
	om_buf_free(&out);
	om_buf_free(&in);
}

static int hex(const char *s, unsigned char *out, size_t n)
{
	size_t i;
	unsigned int v;

	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static void test_known_answers(void)
{
	unsigned char salt[16], enc[32], want[32], key[32];
	struct om_buf out;
	enum om_office_status status;

	/* the package key of a document Office encrypted with
	   "Password1234_" (SHA-512, AES-256, spinCount 100000) */
	TAP_OK(hex("4c725d45dc610f939412a04da7910466", salt, 16) == 0 &&
	       hex("a16cd5165a7ab9d271113ed386a78cf49692e8e527b0c5fc0055ed080b7cb94b", enc, 32) == 0 &&
	       hex("40206609d9faadf24b076aebf2c435b74292c8b8a7aa81bc679be89711b02ac2", want, 32) == 0,
	       "known-answer values read");
	TAP_OK(om_office_agile_sha512_key("Password1234_", salt, 100000, 256, enc, 32, key) == 0 &&
	       memcmp(key, want, 32) == 0, "Office's package key is unwrapped from the password");
	TAP_OK(om_office_agile_sha512_key("Password1234", salt, 100000, 256, enc, 32, key) == 0 &&
	       memcmp(key, want, 32) != 0, "another password unwraps another key");
	/* the password verifier of such a document, through the whole path */
	om_buf_init(&out);
	status = open_with("kat-verifier.docx", "Password1234_", 1024, &out);
	TAP_OK(status == OM_OFFICE_DECRYPTED && out.len == 16,
	       "Office's verifier accepts Password1234_");
	status = open_with("kat-verifier.docx", "Password1234", 1024, &out);
	TAP_OK(status == OM_OFFICE_WRONG, "Office's verifier refuses Password1234");
	om_buf_free(&out);
}

int main(void)
{
	char cmd[1024];
	FILE *f;
	size_t n;

	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "mkdtemp");
		return tap_done();
	}
	(void)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/e2e/officecrypt.py' '%s'",
		       TOP_SRCDIR, dir);
	TAP_OK(system(cmd) == 0, "the fixtures are made (officecrypt.py)");
	(void)snprintf(cmd, sizeof(cmd), "%s/password", dir);
	f = fopen(cmd, "r");
	n = f != NULL ? fread(password, 1, sizeof(password) - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	password[n] = '\0';
	TAP_OK(n > 0, "the fixtures' password read");

	test_decrypts("agile-sha512.docx", "plain.docx");
	test_decrypts("agile-sha1-aes128.docx", "plain.docx");
	test_decrypts("agile-sha256-nohmac.docx", "plain.docx");
	test_decrypts("agile-macro.xlsm", "plain.xlsm");
	test_decrypts("standard.docx", "plain.docx");
	test_decrypts("standard-aes256.docx", "plain.docx");
	test_refused();
	test_known_answers();
	tap_remove_tree(dir);
	return tap_done();
}
