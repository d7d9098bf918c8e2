/* linkrw.h - the links of a message's readable parts: a banner put on top,
 * and every link disabled (defanged) or rewritten to the click-time gate
 * (issue 15, doc/links.md).
 *
 * Text parts: URLs (http, https, ftp, www.) found by a bounded scanner and
 * defanged - "hxxps://example[.]com/x" - so no mail client links them; or
 * rewritten as "hxxps://example[.]com/x <GATE>", the original still shown.
 * HTML parts: parsed and written again with libxml2's HTML parser (never a
 * pattern over the markup): an <a href> loses its href and shows the
 * defanged URL as text before its own text, or gets the gate's URL and
 * keeps its text; <area href> likewise; <form> becomes a <div> without
 * action, formaction attributes go, <meta http-equiv=refresh> and <base>
 * are removed; URLs in the HTML's text are defanged (or linked through the
 * gate).  mailto:, tel:, cid: and "#" links stay.  Other parts (attachments,
 * inline images, attached messages) are not touched: GMime writes them from
 * their original bytes.  A changed part is UTF-8 (its text was decoded from
 * its charset, ISO-2022-JP and Shift_JIS included) and labelled so, a
 * <meta charset> in its HTML too.
 */
#ifndef OM_LINKRW_H
#define OM_LINKRW_H

#include <stddef.h>

#include "lib/util.h"

struct om_mime_msg;

enum om_links_mode {
	OM_LINKS_KEEP = 0,	/* links as they are (a banner may still go on) */
	OM_LINKS_DISABLE,	/* every link defanged */
	OM_LINKS_REWRITE,	/* every http(s) link through the gate */
};

/* The gate's URL for url (allocated), or NULL: that link is disabled. */
typedef char *om_linkrw_gate_fn(void *context, const char *url);

struct om_linkrw {
	enum om_links_mode mode;
	const char *banner;		/* UTF-8 lines, or NULL / "": none */
	om_linkrw_gate_fn *gate;	/* OM_LINKS_REWRITE */
	void *context;
};

/* Longest URL the scanner takes in text; a longer run is cut there. */
#define OM_LINKRW_URL_MAX 8192

/* The defanged form of url (allocated): the scheme's "tt" as "xx" (ftp as
   fxp), every dot of the host as "[.]". */
char *om_linkrw_defang(const char *url, size_t len);

/* Finds the next URL in text[0..len): 1 with its [*start_r, *end_r), or 0.
   A URL starts with http://, https://, ftp:// or www. after a character
   that is no letter or digit, and ends before white space, a control, a
   byte over 0x7f, <>"'`, or trailing punctuation .,;:!? and an unmatched
   closing bracket. */
int om_linkrw_find_url(const char *text, size_t len, size_t *start_r,
		       size_t *end_r);

/* A text part's text (UTF-8) with its banner and links done (allocated);
   *links_r counts the links changed. */
char *om_linkrw_text(const struct om_linkrw *rw, const char *text,
		     size_t *links_r);

/* An HTML part's text with its banner and links done, UTF-8 (allocated).
   encoding names the bytes of html ("UTF-8"), or NULL to let libxml2 read
   the document's <meta charset> as a browser would. */
char *om_linkrw_html(const struct om_linkrw *rw, const char *html, size_t len,
		     const char *encoding, size_t *links_r);

/* Does rw to every readable part (text/plain and text/html, not an
   attachment, not inside an attached message) of msg; a message without
   one gets a text/plain part with the banner.  Returns the number of
   links changed. */
size_t om_linkrw_message(struct om_mime_msg *msg, const struct om_linkrw *rw);

#endif
