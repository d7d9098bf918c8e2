/* test-office-decrypt.c - encrypted Office Open XML documents opened with
 * their password (scan/office-decrypt.h).  The encrypted files are made
 * at run time by tests/e2e/officecrypt.py (python3-cryptography, libgsf's
 * OLE writer): Agile SHA-512/AES-256, SHA-1/AES-128, SHA-256 without
 * dataIntegrity, a tampered package, Standard AES-128 and AES-256, a
 * legacy OLE document.  Known answers from a file Office encrypted
 * ([MS-OFFCRYPTO] values, quoted by msoffcrypto-tool's doctests): its
 * password verifier and its package key, so the derivation is checked
 * against Office itself, not only against our own generator.  Then the
 * isolation page's path in scand (scan/unlock.h): the decrypted document
 * scanned (a test engine knowing EICAR) and analysed (macros), the
 * macro-free copy offered, bytes handed out only when clean.
 */
#include "tap.h"
#include "scan/office-decrypt.h"
#include "scan/attach.h"
#include "scan/av.h"
#include "scan/unlock.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

typedef enum om_office_status office_decrypt_fn(const char *data, size_t len,
						 const char *password, size_t max,
						 struct om_buf *out, char **error_r);

/* name decrypted with pw by decrypt: the status, the bytes in out */
static enum om_office_status decrypt_file(office_decrypt_fn *decrypt, const char *name,
					  const char *pw, size_t max, struct om_buf *out)
{
	struct om_buf in;
	char *error = NULL;
	enum om_office_status status;

	om_buf_init(&in);
	if (read_file(name, &in) < 0) {
		om_buf_free(&in);
		return OM_OFFICE_NONE;
	}
	status = decrypt(in.data, in.len, pw, max, out, &error);
	if (status != OM_OFFICE_DECRYPTED)
		printf("# %s: %s: %s\n", name, om_office_status_name(status),
		       error != NULL ? error : "(no reason)");
	TAP_OK((status == OM_OFFICE_DECRYPTED) == (error == NULL),
	       "%s: a reason exactly when not decrypted", name);
	free(error);
	om_buf_free(&in);
	return status;
}

/* OOXML (office-decrypt.c) */
static enum om_office_status open_with(const char *name, const char *pw, size_t max,
				       struct om_buf *out)
{
	return decrypt_file(om_office_decrypt, name, pw, max, out);
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
	status = open_with("agile-spin-over.docx", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_UNSUPPORTED && out.len == 0,
	       "a spinCount over omamori's bound (1,000,000) is refused before any hashing");
	status = open_with("agile-tampered.docx", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED && out.len == 0,
	       "a package changed after encryption fails its HMAC");
	status = open_with("not-encrypted.doc", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_NOT_OOXML, "an OLE document without EncryptedPackage: "
	       "not an encrypted OOXML document");
	status = open_with("plain.docx", password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED, "a zip is not an OLE file");
	TAP_OK(read_file("legacy-encrypted.doc", &in) == 0 &&
	       om_office_legacy_encrypted(in.data, in.len) == 1,
	       "an old Word document's FIB fEncrypted is seen");
	TAP_OK(read_file("legacy-encrypted.xls", &in) == 0 &&
	       om_office_legacy_encrypted(in.data, in.len) == 1,
	       "an old workbook's FILEPASS record is seen");
	TAP_OK(read_file("not-encrypted.doc", &in) == 0 &&
	       om_office_legacy_encrypted(in.data, in.len) == 0,
	       "an old document without encryption is not said to be encrypted");
	TAP_OK(read_file("agile-sha512.docx", &in) == 0 &&
	       om_office_legacy_encrypted(in.data, in.len) == 0 &&
	       om_office_legacy_encrypted("PK\3\4", 4) == 0,
	       "nor an encrypted OOXML document, nor a zip");
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
	struct timespec t0, t1;
	struct om_buf out;
	enum om_office_status status;

	/* the package key of a document Office encrypted with
	   "Password1234_" (SHA-512, AES-256, spinCount 100000) */
	TAP_OK(hex("4c725d45dc610f939412a04da7910466", salt, 16) == 0 &&
	       hex("a16cd5165a7ab9d271113ed386a78cf49692e8e527b0c5fc0055ed080b7cb94b", enc, 32) == 0 &&
	       hex("40206609d9faadf24b076aebf2c435b74292c8b8a7aa81bc679be89711b02ac2", want, 32) == 0,
	       "known-answer values read");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	TAP_OK(om_office_agile_sha512_key("Password1234_", salt, 100000, 256, enc, 32, key) == 0 &&
	       memcmp(key, want, 32) == 0, "Office's package key is unwrapped from the password");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the cost of one password try at Office's default spinCount */
	printf("# SHA-512, spinCount 100000: %.0f ms\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
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

static const char eicar[] =
	"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/* A libclamav engine with one signature: EICAR (as test-attach's). */
static struct om_av_engine *make_engine(void)
{
	struct om_av_limits limits = { 64 * 1024 * 1024, 32 * 1024 * 1024, 16, 1000, "/tmp" };
	struct om_av_engine *engine = NULL;
	unsigned int sigs = 0;
	char path[512], *error = NULL;
	FILE *f;
	size_t i;

	(void)snprintf(path, sizeof(path), "%s/sigs", dir);
	if (mkdir(path, 0700) < 0)
		return NULL;
	(void)snprintf(path, sizeof(path), "%s/sigs/test.ndb", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return NULL;
	fprintf(f, "Omamori.Test.EICAR-1:0:*:");
	for (i = 0; i < strlen(eicar); i++)
		fprintf(f, "%02x", (unsigned char)eicar[i]);
	fprintf(f, "\n");
	fclose(f);
	(void)snprintf(path, sizeof(path), "%s/sigs", dir);
	if (om_av_engine_load(path, &limits, &engine, &sigs, &error) < 0) {
		printf("# engine: %s\n", error);
		free(error);
		return NULL;
	}
	return engine;
}

static void unlock(const struct om_unlock_env *env, const char *name, const char *as,
		   const char *pw, long member, struct om_unlock_result *res)
{
	struct om_unlock_request req;
	struct om_buf in;

	om_buf_init(&in);
	TAP_OK(read_file(name, &in) == 0, "%s read", name);
	memset(&req, 0, sizeof(req));
	req.name = (char *)as;
	req.password = (char *)pw;
	req.member = member;
	req.data = in.data;
	req.data_len = in.len;
	om_unlock_open(env, &req, res);
	om_buf_free(&in);
}

static void test_unlock(void)
{
	static const char rules_text[] = "risky-extensions exe scr js vbs\narchive-depth 4\n";
	struct om_att_rules *rules = NULL;
	struct om_unlock_env env;
	struct om_unlock_result res;
	struct om_av_engine *av;
	struct om_buf plain;
	char *error = NULL;

	om_buf_init(&plain);
	memset(&env, 0, sizeof(env));
	env.av = av = make_engine();
	TAP_OK(env.av != NULL, "the test engine loads");
	TAP_OK(om_att_rules_parse(rules_text, "test", &rules, &error) == 0, "the rules parse");
	free(error);
	if (av == NULL || rules == NULL) {
		if (av != NULL)
			om_av_engine_free(&av);
		om_att_rules_free(&rules);
		return;
	}
	env.rules = rules;

	unlock(&env, "agile-macro.xlsm", "book.xlsm", password, -1, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && strcmp(res.kind, "office") == 0 &&
	       res.entry_count == 2, "the xlsm opens: %s, %zu entries",
	       om_unlock_status_name(res.status), res.entry_count);
	TAP_OK(res.entry_count == 2 && strcmp(res.entries[0].name, "book.xlsm") == 0 &&
	       strstr(res.entries[0].findings, "ATT_MACRO") != NULL,
	       "its first entry is the document, with its macro finding");
	TAP_OK(res.entry_count == 2 && strcmp(res.entries[1].name, "book.xlsx") == 0 &&
	       res.entries[1].verdict == OM_VERDICT_CLEAN && res.entries[1].findings[0] == '\0',
	       "its second the macro-free copy, clean, nothing found");
	TAP_OK(res.data == NULL, "no bytes when none were asked for");
	om_unlock_result_free(&res);
	unlock(&env, "agile-macro.xlsm", "book.xlsm", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.data == NULL,
	       "the document with macros is not handed out");
	om_unlock_result_free(&res);
	unlock(&env, "agile-macro.xlsm", "book.xlsm", password, 1, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.data != NULL && res.data_len > 4 &&
	       memcmp(res.data, "PK", 2) == 0 &&
	       memmem(res.data, res.data_len, "vbaProject.bin", 14) == NULL,
	       "the macro-free copy is, a zip without vbaProject.bin");
	om_unlock_result_free(&res);

	TAP_OK(read_file("plain.docx", &plain) == 0, "plain.docx read");
	unlock(&env, "agile-sha512.docx", "minutes.docx", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.entry_count == 1 &&
	       res.entries[0].verdict == OM_VERDICT_CLEAN && res.entries[0].findings[0] == '\0',
	       "a clean docx: one entry, nothing found");
	TAP_OK(res.data != NULL && res.data_len == plain.len &&
	       memcmp(res.data, plain.data, plain.len) == 0,
	       "its bytes are the decrypted document");
	om_unlock_result_free(&res);
	unlock(&env, "standard.docx", "memo.docx", "wrong", 0, &res);
	TAP_OK(res.status == OM_UNLOCK_WRONG && res.entry_count == 0 && res.data == NULL,
	       "a wrong password: wrong-password, nothing inside");
	om_unlock_result_free(&res);
	unlock(&env, "agile-eicar.docx", "virus.docx", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.entry_count == 1 &&
	       res.entries[0].verdict == OM_VERDICT_VIRUS && res.data == NULL,
	       "EICAR inside the encrypted document is found, nothing handed out");
	om_unlock_result_free(&res);
	unlock(&env, "legacy-encrypted.doc", "old.doc", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_UNSUPPORTED && strcmp(res.kind, "ole-legacy") == 0,
	       "a .doc flagged encrypted with no encryption header: unsupported, legacy kind");
	om_unlock_result_free(&res);
	unlock(&env, "rc4.ppt", "old.ppt", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && strcmp(res.kind, "office-legacy") == 0 &&
	       res.entry_count == 1 && res.entries[0].verdict == OM_VERDICT_CLEAN &&
	       res.data != NULL && om_office_legacy_encrypted(res.data, res.data_len) == 0,
	       "an RC4 CryptoAPI .ppt: opened, clean, no longer flagged encrypted");
	om_unlock_result_free(&res);
	unlock(&env, "rc4.doc", "old.doc", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && strcmp(res.kind, "office-legacy") == 0 &&
	       res.entry_count == 1 && res.entries[0].verdict == OM_VERDICT_CLEAN &&
	       res.entries[0].findings[0] == '\0' && res.data != NULL &&
	       om_office_legacy_encrypted(res.data, res.data_len) == 0,
	       "an RC4 .doc: opened, clean, its bytes a plain compound file");
	om_unlock_result_free(&res);
	unlock(&env, "rc4.doc", "old.doc", "wrong", 0, &res);
	TAP_OK(res.status == OM_UNLOCK_WRONG && res.entry_count == 0 && res.data == NULL &&
	       strcmp(res.kind, "office-legacy") == 0, "an RC4 .doc, wrong password: refused");
	om_unlock_result_free(&res);
	unlock(&env, "rc4-macro.doc", "macro.doc", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.entry_count == 1 &&
	       strstr(res.entries[0].findings, "ATT_MACRO") != NULL && res.data == NULL,
	       "an RC4 .doc with macros: the macro found, nothing handed out");
	om_unlock_result_free(&res);
	unlock(&env, "rc4-eicar.doc", "virus.doc", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.entry_count == 1 &&
	       res.entries[0].verdict == OM_VERDICT_VIRUS && res.data == NULL,
	       "EICAR in an RC4 .doc's encrypted Data stream is found once decrypted");
	om_unlock_result_free(&res);
	unlock(&env, "rc4capi-macro.xls", "book.xls", password, 0, &res);
	TAP_OK(res.status == OM_UNLOCK_OPENED && res.entry_count == 1 &&
	       strstr(res.entries[0].findings, "ATT_MACRO") != NULL && res.data == NULL,
	       "an RC4 CryptoAPI .xls with macros: opened, the macro found");
	om_unlock_result_free(&res);
	om_buf_free(&plain);
	om_av_engine_free(&av);
	om_att_rules_free(&rules);
}

/* old formats (office-rc4.c): name decrypted with pw */
static enum om_office_status legacy_with(const char *name, const char *pw, size_t max,
					 struct om_buf *out)
{
	return decrypt_file(om_office_legacy_decrypt, name, pw, max, out);
}

/* name: opens with the password into a compound file no longer
   encrypted holding text (a mini-stream piece: contiguous); a wrong
   password and the empty one decrypt nothing */
static void test_legacy(const char *name, const char *text)
{
	struct om_buf out;
	enum om_office_status status;

	om_buf_init(&out);
	status = legacy_with(name, password, 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_DECRYPTED && out.len > 512 &&
	       memcmp(out.data, "\xd0\xcf\x11\xe0", 4) == 0,
	       "%s opens with its password into a compound file", name);
	TAP_OK(memmem(out.data, out.len, text, strlen(text)) != NULL,
	       "%s: the plain text is there", name);
	TAP_OK(om_office_legacy_encrypted(out.data, out.len) == 0,
	       "%s: the result no longer says it is encrypted", name);
	status = legacy_with(name, "パスワード-k8pw", 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_WRONG && out.len == 0,
	       "%s: a wrong password (one letter's case) is refused, no bytes", name);
	status = legacy_with(name, "", 32u * 1024 * 1024, &out);
	TAP_OK(status == OM_OFFICE_WRONG && out.len == 0, "%s: the empty password is refused",
	       name);
	status = legacy_with(name, password, 100, &out);
	TAP_OK(status == OM_OFFICE_DAMAGED && out.len == 0,
	       "%s: streams over the limit are refused", name);
	om_buf_free(&out);
}

static void test_legacy_refused(void)
{
	struct om_buf out;

	om_buf_init(&out);
	TAP_OK(legacy_with("not-encrypted.doc", password, 32u * 1024 * 1024, &out) ==
	       OM_OFFICE_NOT_OOXML, "a .doc not encrypted: not this format's business");
	TAP_OK(legacy_with("legacy-encrypted.doc", password, 32u * 1024 * 1024, &out) ==
	       OM_OFFICE_DAMAGED, "a .doc flagged encrypted with no header: damaged");
	TAP_OK(legacy_with("standard.docx", password, 32u * 1024 * 1024, &out) ==
	       OM_OFFICE_NOT_OOXML, "an OOXML container: not an old format");
	om_buf_free(&out);
}

/* The verifier of a .doc Word encrypted with RC4 (officecrypt.py's
   KAT_RC4_*): password1 passes it, a near miss does not. */
static void test_legacy_known_answer(void)
{
	struct om_buf out;

	om_buf_init(&out);
	TAP_OK(legacy_with("kat-rc4.doc", "password1", 32u * 1024 * 1024, &out) ==
	       OM_OFFICE_DECRYPTED, "Word's RC4 verifier accepts password1 (known answer)");
	TAP_OK(legacy_with("kat-rc4.doc", "password2", 32u * 1024 * 1024, &out) ==
	       OM_OFFICE_WRONG && out.len == 0, "and refuses password2");
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
	test_legacy("rc4.doc", "omamori-rc4-plain-WordDocument");
	test_legacy("rc4capi.doc", "omamori-rc4-plain-WordDocument");
	test_legacy("rc4capi40.doc", "omamori-rc4-plain-WordDocument");
	test_legacy("rc4.xls", "omamori-rc4-plain-Workbook");
	test_legacy("rc4capi-macro.xls", "omamori-rc4-plain-Workbook");
	test_legacy("rc4.ppt", "omamori-rc4-plain-PowerPoint");
	test_legacy("rc4-40.ppt", "omamori-rc4-plain-PowerPoint");
	test_legacy_refused();
	test_legacy_known_answer();
	test_known_answers();
	test_unlock();
	tap_remove_tree(dir);
	return tap_done();
}
