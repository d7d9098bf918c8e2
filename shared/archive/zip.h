/* zip.h - one AES-256 encrypted ZIP archive made in memory (libzip), and
 * the random passwords for it.
 *
 * omamori-filter's outbound-zip (doc/outbound.md) puts every attachment of
 * a message into one archive: the files are added with their UTF-8 names
 * (the ZIP's UTF-8 flag set, so Japanese names open as they were), each
 * entry deflated and encrypted with WinZip AES-256 under one password.
 * The whole archive is built in memory: its inputs are a message's
 * decoded parts, already bounded by the caller's limits, and the caller
 * passes those limits here too.
 */
#ifndef OM_ARCHIVE_ZIP_H
#define OM_ARCHIVE_ZIP_H

#include <stddef.h>

#include "lib/util.h"

/* Characters of a password: no 0/O/o, 1/l/I/i, 5/S, 2/Z, 8/B, u/v, no
   symbols (read aloud or copied by hand without doubt) */
#define OM_ZIP_PASSWORD_ALPHABET "ACDEFGHJKLMNPQRTWXYabcdefghjkmnpqrstwxyz34679"
/* 16 of those 45 characters: about 88 bits */
#define OM_ZIP_PASSWORD_LEN 16
/* the longest file name kept in an archive (bytes); longer ones are cut
   at a character boundary before the extension */
#define OM_ZIP_NAME_MAX 200

struct om_zip;

/* Starts an archive of at most max_entries files and max_bytes bytes of
   content (both > 0). */
struct om_zip *om_zip_new(size_t max_entries, size_t max_bytes);
/* Wipes the contents and frees the archive; sets *zip to NULL. */
void om_zip_free(struct om_zip **zip);

/* Adds a file (data is copied).  name is UTF-8 from a message: it is made
   safe (no directories, no control characters, no leading dots; empty
   becomes "attachment") and unique in the archive ("a.pdf", "a (2).pdf").
   Returns 0, or -1 with *error_r (allocated) when a limit would be
   exceeded. */
int om_zip_add(struct om_zip *zip, const char *name, const void *data,
	       size_t len, char **error_r);
/* The number of files added. */
size_t om_zip_count(const struct om_zip *zip);
/* The name the i-th file got in the archive (owned by zip). */
const char *om_zip_name(const struct om_zip *zip, size_t i);

/* Writes the archive, every entry AES-256 encrypted with password, into
   out.  Returns 0, or -1 with *error_r (allocated). */
int om_zip_write(struct om_zip *zip, const char *password, struct om_buf *out,
		 char **error_r);

/* A new random password (OM_ZIP_PASSWORD_LEN characters of
   OM_ZIP_PASSWORD_ALPHABET, from libsodium's randombytes), allocated;
   give it back to om_zip_password_free, which wipes it. */
char *om_zip_password_new(void);
void om_zip_password_free(char **password);
/* 1 if s could be a password of ours (length and alphabet). */
int om_zip_password_valid(const char *s);

/* Reading (issue 17, audit rules' Office text): each member of the ZIP
   archive data (len bytes, read in memory, never written anywhere) whose
   name starts with prefix and ends with suffix, in the archive's order, is
   given to cb whole; at most max bytes in all (the member that would go
   past is cut there: a ZIP bomb stops).  The number of members read, 0
   none matched, or -1 with *error_r (not a ZIP, broken, encrypted). */
typedef void om_zip_member_cb(void *context, const char *name, const char *data,
			      size_t len);
int om_zip_each_member(const void *data, size_t len, const char *prefix,
		       const char *suffix, size_t max, om_zip_member_cb *cb,
		       void *context, char **error_r);

#endif
