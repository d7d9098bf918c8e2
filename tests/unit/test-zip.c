/* test-zip.c - the AES-256 ZIP of outbound-zip (archive/zip.c): libzip
 * reads back with the password what went in, byte for byte and with its
 * UTF-8 name; the wrong password or none opens nothing; names are made
 * safe and unique; limits hold; passwords are long, random and free of
 * characters one mistakes for another. */
#include "tap.h"
#include "archive/zip.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

static zip_t *open_archive(const struct om_buf *b)
{
	zip_error_t err;
	zip_source_t *src;
	zip_t *za;

	zip_error_init(&err);
	src = zip_source_buffer_create(b->data, b->len, 0, &err);
	za = src != NULL ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
	if (za == NULL && src != NULL)
		zip_source_free(src);
	zip_error_fini(&err);
	return za;
}

/* The i-th entry's content with password (NULL: none), or -1. */
static int read_entry(zip_t *za, zip_uint64_t i, const char *password,
		      struct om_buf *out)
{
	zip_file_t *f;
	zip_int64_t n;
	char buf[4096];
	int ret = 0;

	om_buf_reset(out);
	f = password != NULL ? zip_fopen_index_encrypted(za, i, 0, password) :
		zip_fopen_index(za, i, 0);
	if (f == NULL)
		return -1;
	while ((n = zip_fread(f, buf, sizeof(buf))) > 0)
		om_buf_append(out, buf, (size_t)n);
	if (n < 0)
		ret = -1;
	if (zip_fclose(f) != 0)
		ret = -1;
	return ret;
}

static void test_round_trip(void)
{
	static const char pdf[] = "%PDF-1.4\n\x00\x01\x02binary\xff\xfe";
	const char *names[] = { "report.pdf", "見積書_2024年.xlsx", "empty.txt" };
	const void *data[] = { pdf, "", "" };
	size_t lens[] = { sizeof(pdf) - 1, 0, 0 };
	struct om_buf big, out, got;
	struct om_zip *zip;
	char *pw = om_zip_password_new(), *error = NULL;
	zip_t *za;
	zip_stat_t st;
	size_t i;
	int ok;

	om_buf_init(&big);
	om_buf_init(&out);
	om_buf_init(&got);
	for (i = 0; i < 100000; i++)
		om_buf_printf(&big, "line %zu of a large sheet\n", i);
	data[1] = big.data;
	lens[1] = big.len;

	zip = om_zip_new(10, 10 * 1024 * 1024);
	for (i = 0; i < 3; i++)
		TAP_OK(om_zip_add(zip, names[i], data[i], lens[i], &error) == 0,
		       "add %s", names[i]);
	TAP_OK(om_zip_write(zip, pw, &out, &error) == 0, "archive written (%s)",
	       error != NULL ? error : "ok");
	TAP_OK(out.len > 30 && memcmp(out.data, "PK\x03\x04", 4) == 0 &&
	       out.len < big.len, "a ZIP, deflated (%zu bytes for %zu)", out.len, big.len);
	/* the first local header: general purpose flags (bit 0 encrypted, bit
	   11 UTF-8 names) and method 99 (WinZip AES) */
	TAP_OK(((unsigned char)out.data[6] & 0x01) != 0 &&
	       ((unsigned char)out.data[8] | (unsigned char)out.data[9] << 8) == 99,
	       "the entry is AES encrypted (method 99)");
	za = open_archive(&out);
	TAP_OK(za != NULL && zip_get_num_entries(za, 0) == 3, "libzip opens it: 3 entries");
	if (za == NULL)
		goto out;
	for (i = 0; i < 3; i++) {
		ok = zip_stat_index(za, i, 0, &st) == 0 && strcmp(st.name, names[i]) == 0 &&
			(st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 &&
			st.encryption_method == ZIP_EM_AES_256;
		TAP_OK(ok, "entry %zu: name %s and AES-256", i, names[i]);
		TAP_OK(read_entry(za, i, pw, &got) == 0 && got.len == lens[i] &&
		       memcmp(got.data, data[i], lens[i]) == 0,
		       "entry %zu: the password gives back the same bytes", i);
		TAP_OK(read_entry(za, i, NULL, &got) < 0, "entry %zu: no password, no content", i);
	}
	TAP_OK(read_entry(za, 0, "ACDEFGHJKLMNPQRT", &got) < 0 &&
	       read_entry(za, 1, "wrong", &got) < 0, "a wrong password opens nothing");
	/* bit 11 on the Japanese name's central directory entry */
	TAP_OK(zip_get_name(za, 1, ZIP_FL_ENC_STRICT) != NULL &&
	       strcmp(zip_get_name(za, 1, ZIP_FL_ENC_STRICT), names[1]) == 0,
	       "the Japanese name is marked UTF-8 (read back strictly as UTF-8)");
	zip_close(za);
out:
	om_zip_free(&zip);
	TAP_OK(zip == NULL, "om_zip_free sets NULL");
	om_zip_password_free(&pw);
	om_buf_free(&big);
	om_buf_free(&out);
	om_buf_free(&got);
	free(error);
}

static const struct {
	const char *label, *in, *want;
} name_rows[] = {
	{ "plain", "a.pdf", "a.pdf" },
	{ "same again", "a.pdf", "a (2).pdf" },
	{ "same, other case", "A.PDF", "A (3).PDF" },
	{ "a path", "../../etc/passwd", "etc_passwd" },
	{ "Windows path", "C:\\Users\\taro\\x.doc", "C__Users_taro_x.doc" },
	{ "hidden file", ".profile", "profile" },
	{ "empty", "", "attachment" },
	{ "control characters", "a\x01" "b.txt", "a_b.txt" },
	{ "Japanese kept", "請求書.pdf", "請求書.pdf" },
	{ "no extension, twice", "README", "README" },
	{ "no extension, again", "README", "README (2)" },
};

static void test_names(void)
{
	struct om_zip *zip = om_zip_new(100, 1000);
	char *error = NULL;
	size_t i;

	int added;

	for (i = 0; i < OM_N_ELEMENTS(name_rows); i++) {
		added = om_zip_add(zip, name_rows[i].in, "x", 1, &error) == 0;
		TAP_OK(added && strcmp(om_zip_name(zip, i), name_rows[i].want) == 0,
		       "name %s: \"%s\" -> \"%s\" (got \"%s\")", name_rows[i].label,
		       name_rows[i].in, name_rows[i].want, om_zip_name(zip, i));
	}
	om_zip_free(&zip);
}

static void test_limits(void)
{
	struct om_zip *zip = om_zip_new(2, 10);
	char *error = NULL;

	TAP_OK(om_zip_add(zip, "a", "12345", 5, &error) == 0 &&
	       om_zip_add(zip, "b", "12345", 5, &error) == 0, "up to the limits: added");
	TAP_OK(om_zip_add(zip, "c", "", 0, &error) < 0 && error != NULL &&
	       strstr(error, "2 files") != NULL, "a third file: refused");
	om_free(&error);
	om_zip_free(&zip);
	zip = om_zip_new(5, 10);
	TAP_OK(om_zip_add(zip, "a", "123456", 6, &error) == 0 &&
	       om_zip_add(zip, "b", "12345", 5, &error) < 0 && error != NULL &&
	       strstr(error, "10 bytes") != NULL, "over the byte limit: refused");
	om_free(&error);
	TAP_OK(om_zip_count(zip) == 1, "the refused file is not in it");
	om_zip_free(&zip);
}

static void test_passwords(void)
{
	char *a = om_zip_password_new(), *b = om_zip_password_new();
	const char *p;
	int clean = 1;

	TAP_OK(strlen(a) == OM_ZIP_PASSWORD_LEN && OM_ZIP_PASSWORD_LEN >= 12,
	       "a password has %d characters", OM_ZIP_PASSWORD_LEN);
	TAP_OK(strcmp(a, b) != 0, "two passwords differ");
	TAP_OK(om_zip_password_valid(a) && om_zip_password_valid(b) &&
	       !om_zip_password_valid("short") &&
	       !om_zip_password_valid("0OlI1ACDEFGHJKLM"), "the valid test");
	for (p = "0Oo1lIi"; *p != '\0'; p++) {
		if (strchr(OM_ZIP_PASSWORD_ALPHABET, *p) != NULL)
			clean = 0;
	}
	TAP_OK(clean, "no 0/O/o/1/l/I/i in the alphabet");
	om_zip_password_free(&a);
	om_zip_password_free(&b);
	TAP_OK(a == NULL && b == NULL, "om_zip_password_free sets NULL");
}

int main(void)
{
	test_round_trip();
	test_names();
	test_limits();
	test_passwords();
	return tap_done();
}
