/* portal.h - a message of the encrypted delivery portal as omamori-filter
 * keeps it (issue 17, doc/portal.md): already taken apart, so that
 * omamori-web, which shows it, never parses a message (doc/architecture.md).
 *
 * omamori-filter (which has the mail layer) reads the MIME message once and
 * packs what the recipient's page shows: the text body, the HTML body
 * already sanitised (mail/sanitize.h), and each attachment, decoded, with
 * its name.  The pack is then encrypted whole (crypto/vault.h).  A part is
 * "K NAMELEN DATALEN\n", the name's bytes, the data's bytes; K is t (text
 * body), h (sanitised HTML body), i (the same with its remote images) or
 * f (a file).  libc only.
 */
#ifndef OM_QUARANTINE_PORTAL_H
#define OM_QUARANTINE_PORTAL_H

#include <stddef.h>

#include "lib/util.h"

#define OM_PORTAL_TEXT 't'
#define OM_PORTAL_HTML 'h'
#define OM_PORTAL_FILE 'f'
/* the HTML body sanitised with its remote images kept, shown only when
   the reader asks (present only when it differs from 'h') */
#define OM_PORTAL_HTML_IMAGES 'i'

/* Appends one part to out (name: "" for a body). */
void om_portal_pack(struct om_buf *out, char kind, const char *name, const void *data,
		    size_t len);

struct om_portal_part {
	char kind;
	const char *name;	/* not NUL-terminated: name_len bytes */
	size_t name_len;
	const char *data;
	size_t len;
};

/* The part at *pos of buf (len bytes), *pos moved past it: 1, 0 at the
   end, -1 a malformed pack. */
int om_portal_next(const char *buf, size_t len, size_t *pos, struct om_portal_part *part);

#endif
