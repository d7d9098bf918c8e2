/* web-html.h - HTML-escaping of text that is not ours, for every page of
 * omamori-web (web-page.c is its one user).
 */
#ifndef WEB_HTML_H
#define WEB_HTML_H

#include <stddef.h>

#include "lib/util.h"

/* Appends text (NULL: nothing) to b as om_sanitize(text, max) gives it
   (control characters and bytes that are not UTF-8 become '?', bidi
   controls "[U+....]", and more than max bytes are cut with "..."), with
   & < > " ' as entities: safe in an element and in a quoted attribute. */
void web_html_esc(struct om_buf *b, const char *text, size_t max);

#endif
