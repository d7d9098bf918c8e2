/* zip.c - one AES-256 encrypted ZIP archive made in memory with libzip,
 * and the random passwords for it (libsodium's randombytes).
 *
 * libzip writes WinZip AES entries (method 99), which 7-Zip, bsdtar
 * (libarchive), WinRAR and Lhaplus open; the legacy "ZipCrypto" of PKWARE
 * is broken by a known-plaintext attack and is never used, even though
 * the ZIP folders built into Windows' Explorer and macOS's Archive Utility
 * may open only that (doc/outbound.md).  Names are given to libzip as UTF-8
 * (ZIP_FL_ENC_UTF_8), which writes them with the general purpose flag bit
 * 11 so that extractors do not read them as CP437 or Shift_JIS.
 * doc/libraries.md says why libzip and not libarchive for writing.
 */
#include "archive/zip.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "lib/log.h"

struct om_zip_entry {
	char *name;		/* as it is in the archive */
	unsigned char *data;
	size_t len;
};

struct om_zip {
	struct om_zip_entry *entries;
	size_t count, cap;
	size_t max_entries, max_bytes, bytes;
};

struct om_zip *om_zip_new(size_t max_entries, size_t max_bytes)
{
	struct om_zip *zip = om_calloc(1, sizeof(*zip));

	zip->max_entries = max_entries;
	zip->max_bytes = max_bytes;
	return zip;
}

void om_zip_free(struct om_zip **zipp)
{
	struct om_zip *zip = *zipp;
	size_t i;

	if (zip == NULL)
		return;
	for (i = 0; i < zip->count; i++) {
		free(zip->entries[i].name);
		if (zip->entries[i].data != NULL)
			sodium_memzero(zip->entries[i].data, zip->entries[i].len);
		free(zip->entries[i].data);
	}
	free(zip->entries);
	free(zip);
	*zipp = NULL;
}

size_t om_zip_count(const struct om_zip *zip)
{
	return zip->count;
}

const char *om_zip_name(const struct om_zip *zip, size_t i)
{
	return i < zip->count ? zip->entries[i].name : NULL;
}

/* A name that is one file in the current directory on every extractor:
   no path separators nor characters Windows refuses, no leading dot or
   space, valid UTF-8 (om_sanitize) and not too long. */
static char *om_zip_safe_name(const char *name)
{
	char *clean = om_sanitize(name != NULL ? name : "", OM_ZIP_NAME_MAX), *p, *out;
	const char *start;

	for (p = clean; *p != '\0'; p++) {
		if (strchr("/\\:*?\"<>|", *p) != NULL)
			*p = '_';
	}
	for (start = clean; *start == '.' || *start == ' ' || *start == '_'; start++)
		;
	out = om_strdup(*start != '\0' ? start : "attachment");
	free(clean);
	return out;
}

static int om_zip_has(const struct om_zip *zip, const char *name)
{
	size_t i;

	for (i = 0; i < zip->count; i++) {
		if (strcasecmp(zip->entries[i].name, name) == 0)
			return 1;
	}
	return 0;
}

/* "a.pdf", then "a (2).pdf", "a (3).pdf"... */
static char *om_zip_unique_name(const struct om_zip *zip, char *name)
{
	const char *dot = strrchr(name, '.');
	size_t stem = dot != NULL && dot != name ? (size_t)(dot - name) : strlen(name);
	unsigned int n;
	char *candidate;

	if (!om_zip_has(zip, name))
		return name;
	for (n = 2;; n++) {
		candidate = om_asprintf("%.*s (%u)%s", (int)stem, name, n, name + stem);
		if (!om_zip_has(zip, candidate))
			break;
		free(candidate);
	}
	free(name);
	return candidate;
}

int om_zip_add(struct om_zip *zip, const char *name, const void *data,
	       size_t len, char **error_r)
{
	struct om_zip_entry *e;

	if (zip->count >= zip->max_entries) {
		*error_r = om_asprintf("more than %zu files for one archive",
				       zip->max_entries);
		return -1;
	}
	if (len > zip->max_bytes - zip->bytes) {
		*error_r = om_asprintf("more than %zu bytes for one archive",
				       zip->max_bytes);
		return -1;
	}
	if (zip->count == zip->cap) {
		zip->cap = zip->cap == 0 ? 8 : zip->cap * 2;
		zip->entries = om_realloc(zip->entries, zip->cap * sizeof(*zip->entries));
	}
	e = &zip->entries[zip->count];
	e->name = om_zip_unique_name(zip, om_zip_safe_name(name));
	e->data = om_malloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(e->data, data, len);
	e->len = len;
	zip->bytes += len;
	zip->count++;
	return 0;
}

static char *om_zip_error(const char *what, zip_error_t *err)
{
	char *text = om_asprintf("%s: %s", what, zip_error_strerror(err));

	zip_error_fini(err);
	return text;
}

/* Copies what the source holds (the finished archive) into out. */
static int om_zip_source_copy(zip_source_t *src, struct om_buf *out, char **error_r)
{
	zip_stat_t st;
	zip_int64_t n;
	char buf[65536];

	zip_stat_init(&st);
	if (zip_source_stat(src, &st) < 0 || (st.valid & ZIP_STAT_SIZE) == 0 ||
	    zip_source_open(src) < 0) {
		*error_r = om_zip_error("reading the archive back",
					zip_source_error(src));
		return -1;
	}
	om_buf_reserve(out, (size_t)st.size);
	while ((n = zip_source_read(src, buf, sizeof(buf))) > 0)
		om_buf_append(out, buf, (size_t)n);
	if (n < 0) {
		*error_r = om_zip_error("reading the archive back",
					zip_source_error(src));
		(void)zip_source_close(src);
		return -1;
	}
	(void)zip_source_close(src);
	return 0;
}

int om_zip_write(struct om_zip *zip, const char *password, struct om_buf *out,
		 char **error_r)
{
	zip_source_t *mem, *file;
	zip_error_t err;
	zip_t *za;
	zip_int64_t idx;
	size_t i;
	int ret;

	zip_error_init(&err);
	mem = zip_source_buffer_create(NULL, 0, 0, &err);
	if (mem == NULL) {
		*error_r = om_zip_error("zip_source_buffer_create", &err);
		return -1;
	}
	zip_source_keep(mem);	/* it outlives zip_close: the archive is in it */
	za = zip_open_from_source(mem, ZIP_TRUNCATE, &err);
	if (za == NULL) {
		*error_r = om_zip_error("zip_open_from_source", &err);
		zip_source_free(mem);
		return -1;
	}
	for (i = 0; i < zip->count; i++) {
		/* the data stays ours (freep 0) and lives until zip_close */
		file = zip_source_buffer(za, zip->entries[i].data, zip->entries[i].len, 0);
		if (file == NULL)
			goto failed;
		idx = zip_file_add(za, zip->entries[i].name, file, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(file);
			goto failed;
		}
		if (zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256,
					    password) < 0)
			goto failed;
	}
	if (zip_close(za) < 0)
		goto failed;
	zip_error_fini(&err);
	ret = om_zip_source_copy(mem, out, error_r);
	zip_source_free(mem);
	return ret;
failed:
	*error_r = om_asprintf("writing the archive: %s", zip_strerror(za));
	zip_discard(za);
	zip_source_free(mem);
	zip_error_fini(&err);
	return -1;
}

char *om_zip_password_new(void)
{
	static const char alphabet[] = OM_ZIP_PASSWORD_ALPHABET;
	char *pw = om_malloc(OM_ZIP_PASSWORD_LEN + 1);
	size_t i;

	if (sodium_init() < 0)
		om_fatal("libsodium cannot start: no random passwords");
	for (i = 0; i < OM_ZIP_PASSWORD_LEN; i++)
		pw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	pw[OM_ZIP_PASSWORD_LEN] = '\0';
	return pw;
}

void om_zip_password_free(char **pwp)
{
	if (*pwp == NULL)
		return;
	sodium_memzero(*pwp, strlen(*pwp));
	free(*pwp);
	*pwp = NULL;
}

int om_zip_password_valid(const char *s)
{
	size_t i;

	if (strlen(s) != OM_ZIP_PASSWORD_LEN)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (strchr(OM_ZIP_PASSWORD_ALPHABET, s[i]) == NULL)
			return 0;
	}
	return 1;
}

/* ---- reading members (Office documents' XML) ---- */

static int om_zip_name_fits(const char *name, const char *prefix, const char *suffix)
{
	size_t n = strlen(name), p = strlen(prefix), s = strlen(suffix);

	return n >= p + s && strncmp(name, prefix, p) == 0 &&
		strcmp(name + n - s, suffix) == 0;
}

/* Reads member i of za into out, at most room bytes.  0 or -1. */
static int om_zip_read_one(zip_t *za, zip_uint64_t i, size_t room, struct om_buf *out,
			   char **error_r)
{
	zip_file_t *zf = zip_fopen_index(za, i, 0);
	zip_int64_t n = 0;
	char buf[16384];

	if (zf == NULL) {
		*error_r = om_zip_error("opening a member", zip_get_error(za));
		return -1;
	}
	while (room > 0 &&
	       (n = zip_fread(zf, buf, room < sizeof(buf) ? room : sizeof(buf))) > 0) {
		om_buf_append(out, buf, (size_t)n);
		room -= (size_t)n;
	}
	if (room > 0 && n < 0) {
		*error_r = om_zip_error("reading a member", zip_file_get_error(zf));
		(void)zip_fclose(zf);
		return -1;
	}
	(void)zip_fclose(zf);
	return 0;
}

int om_zip_each_member(const void *data, size_t len, const char *prefix,
		       const char *suffix, size_t max, om_zip_member_cb *cb,
		       void *context, char **error_r)
{
	zip_error_t err;
	zip_source_t *src;
	zip_t *za;
	zip_int64_t count, i;
	struct om_buf member;
	const char *name;
	size_t used = 0;
	int read = 0;

	zip_error_init(&err);
	src = zip_source_buffer_create(data, len, 0, &err);
	if (src == NULL) {
		*error_r = om_zip_error("reading a ZIP", &err);
		return -1;
	}
	za = zip_open_from_source(src, ZIP_RDONLY, &err);
	if (za == NULL) {
		zip_source_free(src);
		*error_r = om_zip_error("reading a ZIP", &err);
		return -1;
	}
	zip_error_fini(&err);
	count = zip_get_num_entries(za, 0);
	for (i = 0; i < count && used < max; i++) {
		name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (name == NULL || !om_zip_name_fits(name, prefix, suffix))
			continue;
		om_buf_init(&member);
		if (om_zip_read_one(za, (zip_uint64_t)i, max - used, &member, error_r) < 0) {
			om_buf_free(&member);
			zip_discard(za);
			return -1;
		}
		used += member.len;
		cb(context, name, member.data != NULL ? member.data : "", member.len);
		om_buf_free(&member);
		read++;
	}
	zip_discard(za);
	return read;
}
