/* links.h - the hosts of a message's links, every one of them.
 *
 * The url-block lists (doc/spam.md) must see each link of a message,
 * however many tokens the classifier reads (tokenize.c stops at its cap)
 * and whether or not the spam check runs.  The links are found where the
 * classifier looks for them: every text part decoded by GMime (an HTML
 * part through libxml2: its text and the targets of its links), the text
 * around a multipart's parts, attached messages (message/rfc822, which
 * the classifier does not enter); a message GMime cannot read is read as
 * plain text.  Each part is read once: the work is bounded
 * by the message's size, not by a count of links.
 */
#ifndef OM_LINKS_H
#define OM_LINKS_H

#include <stddef.h>

struct om_buf;
struct om_mime_msg;

/* The longest host a link pass reports (DNS's limit: a longer one cannot
   be looked up, so no browser can follow the link). */
#define OM_LINKS_HOST_MAX 253

/* Called with a link's host: no user or port, normalised by the url layer
   (url/url.h: %XX decoded, lower case, no trailing dot, an IDN host as
   punycode, an IPv4 address as a dotted quad; a host it refuses as it was
   written, decoded and in lower case).  A nonzero return stops the pass. */
typedef int om_links_cb(void *context, const char *host);

/* Calls cb once for each distinct host of an http(s) link in the message
   (msg NULL: data read as plain text).  Returns cb's first nonzero return,
   or 0 when cb never stopped the pass. */
int om_links_each(struct om_mime_msg *msg, const char *data, size_t len,
		  om_links_cb *cb, void *context);

/* Calls cb for each http(s) link in text, in order, repeats included.
   Returns as om_links_each. */
int om_links_in_text(const char *text, om_links_cb *cb, void *context);

/* The same for a text part of msg (a GMimeObject of om_mime_foreach_part),
   as om_links_each reads it: an HTML part's text and link targets, any
   other its text.  The hosts are found once per message and kept with the
   part (mail/mime.h's om_mime_part_memo); each call replays them. */
int om_links_in_part(struct om_mime_msg *msg, void *part, om_links_cb *cb,
		     void *context);

/* Appends an HTML document's text and the targets of its links (href),
   separated by spaces, to out; *links_r counts the links.  Script and
   style elements are left out. */
void om_links_html_text(const char *html, struct om_buf *out, size_t *links_r);
/* The same for an HTML part of msg, from the document mail/mime.h parses
   once per message (om_mime_part_html), the text itself also made once
   and kept with the part. */
void om_links_html_part_text(struct om_mime_msg *msg, void *part,
			     struct om_buf *out, size_t *links_r);

#endif
