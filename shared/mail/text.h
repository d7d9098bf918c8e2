/* text.h - the readable text of a message, for rules that look for words
 * (audit rules, doc/audit.md): the decoded subject and header values, the
 * body's text and the text of each attachment, all as UTF-8.
 *
 * Charsets are converted with iconv (GLib's g_convert): the declared one,
 * Shift_JIS read as its superset CP932, and when none is declared a
 * guess (UTF-8, ISO-2022-JP by its escapes, CP932, EUC-JP).  HTML is read
 * with libxml2's HTML parser (text nodes, not script or style); PDF with
 * poppler-glib (each page's text); OOXML Office documents (docx, xlsx,
 * pptx and their macro forms) as the text of their XML parts, unzipped
 * in memory (archive/zip.h, libzip) and read with libxml2.  Old binary
 * Office files (.doc, .xls) are not read.
 */
#ifndef OM_MAIL_TEXT_H
#define OM_MAIL_TEXT_H

#include <stddef.h>

/* How a part's text was had. */
enum om_mail_text_how {
	OM_MAIL_TEXT_NONE = 0,	/* no text: a type not read (images, Office) */
	OM_MAIL_TEXT_PLAIN,	/* text/ *, charset converted */
	OM_MAIL_TEXT_HTML,	/* text/html through libxml2 */
	OM_MAIL_TEXT_PDF,	/* application/pdf through poppler */
	OM_MAIL_TEXT_OFFICE,	/* OOXML: its XML parts' text */
};

struct om_mail_text_part {
	char *filename;		/* decoded UTF-8, or NULL */
	char *content_type;	/* "text/plain", lower case */
	size_t size;		/* decoded bytes */
	int is_body;		/* the readable body, not an attachment */
	enum om_mail_text_how how;
	char *text;		/* UTF-8 (at most max_text bytes), or NULL */
};

struct om_mail_text_header {
	char *name;
	char *value;		/* decoded to UTF-8 */
};

struct om_mail_text {
	char *subject;		/* decoded, "" when none */
	struct om_mail_text_part *parts;
	size_t count;
	struct om_mail_text_header *headers;
	size_t header_count;
	char *limited;		/* why not every part was read, or NULL */
};

/* Reads msg (len bytes): at most max_parts parts, at most max_text bytes
   of text from each.  0 with *out filled (free with om_mail_text_free),
   or -1 with *error_r (allocated) when GMime cannot read it at all. */
int om_mail_text_read(const char *msg, size_t len, size_t max_parts,
		      size_t max_text, struct om_mail_text *out, char **error_r);
void om_mail_text_free(struct om_mail_text *t);

/* bytes (len) in charset (NULL: guessed) as UTF-8, at most max bytes
   (cut at a character), allocated; never NULL (undecodable bytes become
   U+FFFD). */
char *om_mail_text_to_utf8(const char *bytes, size_t len, const char *charset,
			   size_t max);
/* The text of an HTML document (UTF-8 bytes or with its own <meta>
   charset when charset is NULL), allocated. */
char *om_mail_text_of_html(const char *html, size_t len, const char *charset,
			   size_t max);
/* The text of a PDF's pages, allocated, or NULL when poppler cannot read
   it (encrypted, broken). */
char *om_mail_text_of_pdf(const char *pdf, size_t len, size_t max);
/* Opens a PDF with password (an isolated file's unlocking, scan/unlock.h):
   1 opened, and *active_r 1 when the decrypted document has JavaScript
   (its name tree, a link's or the open action's) or a launch action;
   0 the password is wrong; -1 poppler cannot read it at all. */
int om_mail_pdf_unlock(const char *pdf, size_t len, const char *password,
		       int *active_r);
/* The text of an OOXML document (a ZIP: word/document.xml and its headers
   and footers, xl/sharedStrings.xml, ppt/slides/slide*.xml), allocated,
   or NULL when it is none (not a ZIP, encrypted, no such part). */
char *om_mail_text_of_ooxml(const char *zip, size_t len, size_t max);

#endif
