/* filetype.h - what a file really is, by libmagic (issue 16): the MIME
 * type of its first bytes ("application/x-dosexec", "application/pdf",
 * "text/plain"), for the analysis's "lying extension" finding where its
 * own table of signatures (attach.c) knows nothing, and for the true type
 * the isolation page shows.
 *
 * A handle loads the magic database once; it is not thread-safe, so each
 * scand worker owns one, made at start and never per message.
 */
#ifndef OM_SCAN_FILETYPE_H
#define OM_SCAN_FILETYPE_H

#include <stddef.h>

struct om_filetype;

/* bytes of a file libmagic looks at (the rest never changes its answer
   for the types the analysis compares, and costs time) */
#define OM_FILETYPE_BYTES (256u * 1024)
#define OM_FILETYPE_MIME_MAX 100

/* Loads the system's magic database: 0, or -1 with *error_r. */
int om_filetype_new(struct om_filetype **ft_r, char **error_r);
void om_filetype_free(struct om_filetype **ft);

/* The MIME type of data (its first OM_FILETYPE_BYTES) into mime (at most
   OM_FILETYPE_MIME_MAX bytes, lower case, only [a-z0-9.+/-]);
   "application/octet-stream" when libmagic has no answer. */
void om_filetype_mime(struct om_filetype *ft, const char *data, size_t len,
		      char mime[OM_FILETYPE_MIME_MAX + 1]);

/* 1 for a MIME type of something that runs: Windows, ELF and Mach-O
   programs and libraries, Windows shortcuts (.lnk), MSI installers. */
int om_filetype_is_program(const char *mime);

#endif
