/* recipients.h - the visible recipient list of a message (To and Cc), and
 * the forced-Bcc rewrite of omamori-filter (seed 001: at N addresses or
 * more the recipients see "undisclosed-recipients" and no list).
 *
 * Raw header work, not GMime: the rewrite must leave every other byte of
 * the message as it was (signatures over other headers, the body), and
 * counting needs only the address-list grammar of RFC 5322 (quoted
 * strings, comments, angle addresses, groups).
 */
#ifndef OM_MAIL_RECIPIENTS_H
#define OM_MAIL_RECIPIENTS_H

#include <stddef.h>

#include "lib/util.h"

/* How many addresses the To and Cc fields of the message's header hold
   (every To and Cc field; a group counts its members, an empty group
   none). */
size_t om_recipients_visible(const char *msg, size_t len);

/* Appends to out the message with every To and Cc field removed and
   "To: undisclosed-recipients:;" where the first of them was (at the end
   of the header when there was none).  Line ends follow the message's
   first header line (CRLF or LF). */
void om_recipients_hide(const char *msg, size_t len, struct om_buf *out);

#endif
