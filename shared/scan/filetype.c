/* filetype.c - libmagic's MIME type of a file (filetype.h).
 *
 * One magic_t per handle, loaded from the system database (Debian's
 * libmagic-mgc) when the handle is made.  Compressed files are not
 * opened (MAGIC_NO_CHECK_COMPRESS: the archive listing does that, with
 * its own limits), and at most OM_FILETYPE_BYTES are looked at.  What
 * libmagic answers is checked before it goes into a store row or a page:
 * a type/subtype of plain characters, or application/octet-stream.
 */
#include "scan/filetype.h"
#include "lib/util.h"

#include <ctype.h>
#include <magic.h>
#include <stdlib.h>
#include <string.h>

struct om_filetype {
	magic_t magic;
};

int om_filetype_new(struct om_filetype **ft_r, char **error_r)
{
	struct om_filetype *ft;
	size_t bytes = OM_FILETYPE_BYTES;
	magic_t m;

	m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS |
		       MAGIC_NO_CHECK_ENCODING | MAGIC_ERROR);
	if (m == NULL) {
		*error_r = om_strdup("libmagic: magic_open failed");
		return -1;
	}
	if (magic_load(m, NULL) < 0) {
		*error_r = om_asprintf("libmagic: cannot load the magic database: %s",
				       magic_error(m) != NULL ? magic_error(m) : "?");
		magic_close(m);
		return -1;
	}
	if (magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes) < 0) {
		*error_r = om_strdup("libmagic: cannot set the bytes limit");
		magic_close(m);
		return -1;
	}
	ft = om_calloc(1, sizeof(*ft));
	ft->magic = m;
	*ft_r = ft;
	return 0;
}

void om_filetype_free(struct om_filetype **ft)
{
	if (*ft == NULL)
		return;
	magic_close((*ft)->magic);
	free(*ft);
	*ft = NULL;
}

/* 1 when s is "type/subtype" of [a-z0-9.+-] and fits. */
static int om_filetype_mime_ok(const char *s)
{
	size_t i, slashes = 0;

	if (s == NULL || s[0] == '\0' || strlen(s) > OM_FILETYPE_MIME_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/')
			slashes++;
		else if (!isalnum(c) && strchr(".+-_", c) == NULL)
			return 0;
	}
	return slashes == 1 && s[0] != '/' && s[i - 1] != '/';
}

void om_filetype_mime(struct om_filetype *ft, const char *data, size_t len,
		      char mime[OM_FILETYPE_MIME_MAX + 1])
{
	const char *answer;
	size_t i;

	answer = magic_buffer(ft->magic, data, len < OM_FILETYPE_BYTES ? len :
			      OM_FILETYPE_BYTES);
	if (!om_filetype_mime_ok(answer))
		answer = "application/octet-stream";
	(void)om_strlcpy(mime, answer, OM_FILETYPE_MIME_MAX + 1);
	for (i = 0; mime[i] != '\0'; i++)
		mime[i] = (char)tolower((unsigned char)mime[i]);
}

int om_filetype_is_program(const char *mime)
{
	static const char *const programs[] = {
		"application/x-dosexec", "application/x-msdownload",
		"application/vnd.microsoft.portable-executable",
		"application/x-executable", "application/x-pie-executable",
		"application/x-sharedlib", "application/x-mach-binary",
		"application/x-ms-shortcut", "application/x-msi",
		"application/x-ms-installer", NULL
	};
	size_t i;

	for (i = 0; programs[i] != NULL; i++) {
		if (strcmp(mime, programs[i]) == 0)
			return 1;
	}
	return 0;
}
