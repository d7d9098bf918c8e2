/* unmacro.c - the macro-free copy of an OOXML document (unmacro.h).
 *
 * libarchive reads the zip member by member and writes a new one: the
 * VBA parts are left out, [Content_Types].xml and every .rels part lose
 * the elements that name them (Override, Default, Relationship: cut as
 * text, from "<Tag" to its end, when they mention vbaProject or
 * vbaData), and the main part's macro-enabled content type is replaced
 * by the plain one.  Everything else is copied byte for byte.  The input
 * is hostile: members are read to a limit, their count too, and a copy
 * whose members together (uncompressed) or whose zip would pass
 * OM_UNMACRO_TOTAL_MAX is not made.
 */
#include "scan/unmacro.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_UNMACRO_MEMBER_MAX (32u * 1024 * 1024)
#define OM_UNMACRO_TOTAL_MAX (64u * 1024 * 1024)
#define OM_UNMACRO_MEMBERS_MAX 2000

/* The macro-enabled main parts and their plain forms. */
static const struct { const char *macro, *plain; } om_unmacro_types[] = {
	{ "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml" },
	{ "application/vnd.ms-excel.template.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml" },
	{ "application/vnd.ms-word.document.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml" },
	{ "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
	  "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml" },
	{ "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml" },
	{ "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml" },
	{ "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
	  "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml" },
};

/* The macro-free extensions. */
static const struct { const char *macro, *plain; } om_unmacro_exts[] = {
	{ "xlsm", "xlsx" }, { "xltm", "xltx" }, { "docm", "docx" }, { "dotm", "dotx" },
	{ "pptm", "pptx" }, { "ppsm", "ppsx" }, { "potm", "potx" },
};

/* The member's base name. */
static const char *om_unmacro_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* 1 for a VBA part: vbaProject*.bin, vbaData.xml, their .rels. */
static int om_unmacro_is_vba(const char *path)
{
	const char *base = om_unmacro_base(path);

	return strncasecmp(base, "vbaProject", 10) == 0 ||
		strcasecmp(base, "vbaData.xml") == 0 ||
		strcasecmp(base, "vbaData.xml.rels") == 0;
}

/* 1 for a part whose elements may name a VBA part. */
static int om_unmacro_is_index(const char *path)
{
	size_t n = strlen(path);

	return strcmp(path, "[Content_Types].xml") == 0 ||
		(n > 5 && strcasecmp(path + n - 5, ".rels") == 0);
}

/* Cuts from xml every <tag ...> element (self-closed, or up to </tag>)
   that mentions vbaProject or vbaData. */
static void om_unmacro_cut(struct om_buf *xml, const char *tag)
{
	char open[32], close[40];
	size_t olen, pos = 0, start, end;
	char *p, *gt, *cl;

	(void)snprintf(open, sizeof(open), "<%s", tag);
	(void)snprintf(close, sizeof(close), "</%s>", tag);
	olen = strlen(open);
	while (pos < xml->len &&
	       (p = memmem(xml->data + pos, xml->len - pos, open, olen)) != NULL) {
		start = (size_t)(p - xml->data);
		if (start + olen >= xml->len ||
		    (!isspace((unsigned char)p[olen]) && p[olen] != '/' && p[olen] != '>')) {
			pos = start + olen;
			continue;
		}
		gt = memchr(p, '>', xml->len - start);
		if (gt == NULL)
			return;
		end = (size_t)(gt - xml->data) + 1;
		if (gt[-1] != '/') {
			cl = memmem(gt, xml->len - end + 1, close, strlen(close));
			if (cl != NULL)
				end = (size_t)(cl - xml->data) + strlen(close);
		}
		if (memmem(p, end - start, "vbaProject", 10) != NULL ||
		    memmem(p, end - start, "vbaData", 7) != NULL) {
			memmove(xml->data + start, xml->data + end, xml->len - end);
			xml->len -= end - start;
			pos = start;
		} else {
			pos = end;
		}
	}
}

/* Replaces every from in b by to. */
static void om_unmacro_replace(struct om_buf *b, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), pos = 0, at;
	struct om_buf out;
	char *p;

	if (memmem(b->data, b->len, from, flen) == NULL)
		return;
	om_buf_init(&out);
	while ((p = memmem(b->data + pos, b->len - pos, from, flen)) != NULL) {
		at = (size_t)(p - b->data);
		om_buf_append(&out, b->data + pos, at - pos);
		om_buf_append(&out, to, tlen);
		pos = at + flen;
	}
	om_buf_append(&out, b->data + pos, b->len - pos);
	om_buf_reset(b);
	om_buf_append(b, out.data, out.len);
	om_buf_free(&out);
}

/* [Content_Types].xml: 1 when it names a macro-enabled main part (or
   none that is an add-in), its VBA entries cut and the type made plain;
   0 for an add-in (no plain form). */
static int om_unmacro_types_part(struct om_buf *xml)
{
	size_t i;

	if (memmem(xml->data, xml->len, "addin.macroEnabled", 18) != NULL)
		return 0;
	om_unmacro_cut(xml, "Override");
	om_unmacro_cut(xml, "Default");
	for (i = 0; i < sizeof(om_unmacro_types) / sizeof(om_unmacro_types[0]); i++)
		om_unmacro_replace(xml, om_unmacro_types[i].macro, om_unmacro_types[i].plain);
	return 1;
}

/* The copy's name: the macro-free extension for a macro-enabled one. */
static char *om_unmacro_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	for (i = 0; dot != NULL && i < sizeof(om_unmacro_exts) / sizeof(om_unmacro_exts[0]);
	     i++) {
		if (strcasecmp(dot + 1, om_unmacro_exts[i].macro) == 0)
			return om_asprintf("%.*s.%s", (int)(dot - name), name,
					   om_unmacro_exts[i].plain);
	}
	return om_strdup(name);
}

/* libarchive's writer into an om_buf. */
static la_ssize_t om_unmacro_write_cb(struct archive *a, void *context,
				      const void *data, size_t len)
{
	struct om_buf *out = context;

	(void)a;
	if (out->len + len > OM_UNMACRO_TOTAL_MAX)
		return -1;
	om_buf_append(out, data, len);
	return (la_ssize_t)len;
}

/* Reads the current member whole (to the limit): 0, or -1. */
static int om_unmacro_read(struct archive *in, struct om_buf *member)
{
	char block[16384];
	la_ssize_t n;

	om_buf_reset(member);
	while ((n = archive_read_data(in, block, sizeof(block))) > 0) {
		if (member->len + (size_t)n > OM_UNMACRO_MEMBER_MAX)
			return -1;
		om_buf_append(member, block, (size_t)n);
	}
	return n == 0 ? 0 : -1;
}

/* Writes one member to the copy: 0, or -1. */
static int om_unmacro_put(struct archive *out, const char *path,
			  const struct om_buf *member)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	if (e == NULL)
		return -1;
	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)member->len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	if (archive_write_header(out, e) != ARCHIVE_OK ||
	    (member->len > 0 &&
	     archive_write_data(out, member->data, member->len) != (la_ssize_t)member->len))
		ret = -1;
	archive_entry_free(e);
	return ret;
}

/* Copies in to out without the VBA parts: 1 a copy, 0 none possible,
   -1 a write failed. */
static int om_unmacro_copy(struct archive *in, struct archive *out, int *had_vba)
{
	struct archive_entry *entry;
	struct om_buf member;
	const char *path;
	size_t members = 0, total = 0;
	int ret = 1, r;

	om_buf_init(&member);
	while (ret == 1 && (r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		path = archive_entry_pathname(entry);
		if (++members > OM_UNMACRO_MEMBERS_MAX || path == NULL ||
		    archive_entry_is_encrypted(entry)) {
			ret = 0;
			break;
		}
		if (archive_entry_filetype(entry) != AE_IFREG)
			continue;
		if (om_unmacro_is_vba(path)) {
			*had_vba = 1;
			continue;
		}
		/* a bomb of many members each under the limit: bounded too */
		if (om_unmacro_read(in, &member) < 0 ||
		    (total += member.len) > OM_UNMACRO_TOTAL_MAX) {
			ret = 0;
			break;
		}
		if (strcmp(path, "[Content_Types].xml") == 0) {
			if (!om_unmacro_types_part(&member)) {
				ret = 0;
				break;
			}
		} else if (om_unmacro_is_index(path)) {
			om_unmacro_cut(&member, "Relationship");
		}
		if (om_unmacro_put(out, path, &member) < 0)
			ret = -1;
	}
	if (ret == 1 && r != ARCHIVE_EOF)
		ret = 0;
	om_buf_free(&member);
	return ret;
}

int om_unmacro_ooxml(const char *name, const char *data, size_t len,
		     struct om_buf *out, char **name_r, char **error_r)
{
	struct archive *in, *wr;
	int had_vba = 0, ret;

	*name_r = NULL;
	if (len < 4 || memcmp(data, "PK\x03\x04", 4) != 0)
		return 0;
	in = archive_read_new();
	wr = archive_write_new();
	if (in == NULL || wr == NULL) {
		if (in != NULL)
			(void)archive_read_free(in);
		if (wr != NULL)
			(void)archive_write_free(wr);
		*error_r = om_strdup("unmacro: libarchive failed");
		return -1;
	}
	(void)archive_read_support_format_zip(in);
	om_buf_reset(out);
	if (archive_read_open_memory(in, data, len) != ARCHIVE_OK) {
		ret = 0;
	} else if (archive_write_set_format_zip(wr) != ARCHIVE_OK ||
		   archive_write_set_bytes_in_last_block(wr, 1) != ARCHIVE_OK ||
		   archive_write_open(wr, out, NULL, om_unmacro_write_cb, NULL) != ARCHIVE_OK) {
		*error_r = om_asprintf("unmacro: %s", archive_error_string(wr) != NULL ?
				       archive_error_string(wr) : "cannot write a zip");
		ret = -1;
	} else {
		ret = om_unmacro_copy(in, wr, &had_vba);
		if (archive_write_close(wr) != ARCHIVE_OK && ret == 1)
			ret = -1;
		if (ret == -1)
			*error_r = om_strdup("unmacro: writing the copy failed");
	}
	(void)archive_read_free(in);
	(void)archive_write_free(wr);
	if (ret == 1 && !had_vba)
		ret = 0;	/* nothing to remove: no copy */
	if (ret != 1) {
		om_buf_reset(out);
		return ret;
	}
	*name_r = om_unmacro_name(name != NULL ? name : "document");
	return 1;
}
