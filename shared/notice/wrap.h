/* wrap.h - a message put below a notice as an attachment (message/rfc822),
 * the way a message omamori could not scan whole reaches Quarantine: the
 * user reads why first, and the original is there, unchanged, to open or
 * release.
 *
 * libc only: omamori-scand wraps what it could not scan, and the delivery
 * plugin wraps a message over scan_max_size that it never sent to scand
 * (streaming the original between head and tail).
 */
#ifndef OM_WRAP_H
#define OM_WRAP_H

#include <stddef.h>

#include "lib/util.h"

/* Everything before the original (the wrapper's header, copying the
   original's From, To, Cc, Subject, Date and Message-ID, then the notice
   part and the attachment's part header) into head, and everything after
   it into tail.  header is the original's header block (or the whole
   message: only its header is read). */
void om_wrap_head_tail(const char *header, size_t header_len,
		       const char *notice, struct om_buf *head,
		       struct om_buf *tail);

/* The whole wrapped message into out. */
void om_wrap_message(const char *message, size_t len, const char *notice,
		     struct om_buf *out);

#endif
