/* sanitize.h - an HTML mail body made safe to show inside omamori-web's
 * portal page (issue 17, doc/portal.md).
 *
 * libxml2's HTML parser reads the body (as a browser would, forgiving);
 * the tree is walked and only an allow-list of presentational elements
 * survives with an allow-list of attributes: no script, style, iframe,
 * object, form, meta or link element, no event handler or style
 * attribute, no image at all (a remote image is a read receipt, and a
 * data: one can hide anything; its alt text is kept), links only to
 * http, https and mailto, opened apart (rel noopener noreferrer).  The
 * rest of an element that is not allowed is dropped with its content when
 * it is active (script, style...) and unwrapped (its text kept) otherwise.
 */
#ifndef OM_MAIL_SANITIZE_H
#define OM_MAIL_SANITIZE_H

#include <stddef.h>

/* The sanitised body of html (len bytes, UTF-8 or as its meta says):
   allocated HTML for a <div>, "" for nothing, NULL when libxml2 cannot
   read it at all. */
char *om_html_sanitize(const char *html, size_t len);
/* The same; with remote_images, an <img> whose src is http or https stays
   (src, alt, width, height, title; referrerpolicy no-referrer) - what the
   portal shows when its reader asks for the images (issue 17). */
char *om_html_sanitize_images(const char *html, size_t len, int remote_images);

#endif
