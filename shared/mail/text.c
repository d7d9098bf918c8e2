/* text.c - the readable text of a message as UTF-8 (text.h): what audit
 * rules look for words in.  Japanese mail comes in ISO-2022-JP, Shift_JIS
 * (often Windows' CP932, with its extra characters), EUC-JP and UTF-8,
 * labelled or not; every part is converted here once, so a rule's
 * keyword is compared with one encoding only.
 *
 * Untrusted input throughout: every size is bounded (max_parts parts,
 * max_text bytes of text per part, OM_MAIL_TEXT_PDF_PAGES pages), a
 * conversion that fails goes on with U+FFFD, and libxml2 and poppler read
 * only from memory (no network, no files).
 */
#include "mail/text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <poppler.h>

#include "archive/zip.h"
#include "lib/util.h"
#include "mail/mime.h"

#define OM_MAIL_TEXT_DEPTH 20		/* MIME nesting read */
#define OM_MAIL_TEXT_PDF_PAGES 200	/* pages of a PDF read */
#define OM_MAIL_TEXT_HTML_MAX (16u * 1024 * 1024)	/* HTML bytes parsed */
#define OM_MAIL_TEXT_OOXML_MAX (32u * 1024 * 1024)	/* XML bytes unzipped */

/* The module's state: libxml2 initialised once, and one PDF read at a
   time - poppler's process-wide parameters (its GlobalParams, font and
   CMap caches) are made on first use and are not documented as safe to
   use from several threads at once; omamori-filter's workers are threads.
   PDFs are rare in outgoing mail: serialising them costs little. */
static pthread_once_t om_mail_text_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t om_mail_text_pdf_lock = PTHREAD_MUTEX_INITIALIZER;

static void om_mail_text_init(void)
{
	xmlInitParser();
}

/* iconv's name for a MIME charset: Shift_JIS as CP932 (a superset that
   Windows writes under that label, with ① and ㈱), ISO-2022-JP as its
   extension -2 (a superset: JIS X 0212 and more). */
static const char *om_mail_text_iconv_name(const char *charset)
{
	static const char *const sjis[] = { "shift_jis", "shift-jis", "sjis", "x-sjis",
					    "windows-31j", "ms_kanji", "cp932", NULL };
	size_t i;

	for (i = 0; sjis[i] != NULL; i++) {
		if (strcasecmp(charset, sjis[i]) == 0)
			return "CP932";
	}
	if (strcasecmp(charset, "iso-2022-jp") == 0)
		return "ISO-2022-JP-2";
	return charset;
}

/* bytes converted from charset, or NULL when iconv knows no such charset
   or (strict) a byte sequence is not of it. */
static char *om_mail_text_convert(const char *bytes, size_t len, const char *charset,
				  int strict)
{
	GError *err = NULL;
	gsize written = 0;
	gchar *out;
	char *copy;

	if (strict)
		out = g_convert(bytes, (gssize)len, "UTF-8", charset, NULL, &written, &err);
	else
		out = g_convert_with_fallback(bytes, (gssize)len, "UTF-8", charset,
					      "\xef\xbf\xbd", NULL, &written, &err);
	if (out == NULL) {
		g_clear_error(&err);
		return NULL;
	}
	copy = om_strndup(out, written);
	g_free(out);
	return copy;
}

/* The charset of unlabelled Japanese bytes. */
static const char *om_mail_text_guess(const char *bytes, size_t len)
{
	static const char *const tries[] = { "CP932", "EUC-JP", NULL };
	size_t i;
	char *out;

	if (g_utf8_validate(bytes, (gssize)len, NULL))
		return "UTF-8";
	if (memmem(bytes, len, "\x1b$B", 3) != NULL || memmem(bytes, len, "\x1b$@", 3) != NULL)
		return "ISO-2022-JP-2";
	for (i = 0; tries[i] != NULL; i++) {
		out = om_mail_text_convert(bytes, len, tries[i], 1);
		if (out != NULL) {
			free(out);
			return tries[i];
		}
	}
	return "ISO-8859-1";
}

/* s cut to at most max bytes at a character boundary (s: valid UTF-8). */
static void om_mail_text_cut(char *s, size_t max)
{
	size_t len = strlen(s);
	const char *end;

	if (len <= max)
		return;
	end = g_utf8_find_prev_char(s, s + max + 1);
	s[end != NULL ? (size_t)(end - s) : 0] = '\0';
}

/* Invalid UTF-8 made valid (U+FFFD), allocated. */
static char *om_mail_text_valid(const char *s, size_t len)
{
	gchar *valid = g_utf8_make_valid(s, (gssize)len);
	char *copy = om_strdup(valid);

	g_free(valid);
	return copy;
}

char *om_mail_text_to_utf8(const char *bytes, size_t len, const char *charset,
			   size_t max)
{
	const char *name;
	char *out = NULL;

	if (charset != NULL && *charset != '\0') {
		name = om_mail_text_iconv_name(charset);
		if (strcasecmp(name, "utf-8") != 0 && strcasecmp(name, "us-ascii") != 0)
			out = om_mail_text_convert(bytes, len, name, 0);
	}
	if (out == NULL) {
		/* no label, UTF-8, or one iconv does not know: guess */
		name = charset != NULL && *charset != '\0' &&
			(strcasecmp(charset, "utf-8") == 0 ||
			 strcasecmp(charset, "us-ascii") == 0) &&
			g_utf8_validate(bytes, (gssize)len, NULL) ?
			"UTF-8" : om_mail_text_guess(bytes, len);
		out = strcmp(name, "UTF-8") == 0 ? om_mail_text_valid(bytes, len) :
			om_mail_text_convert(bytes, len, name, 0);
		if (out == NULL)
			out = om_mail_text_valid(bytes, len);
	}
	om_mail_text_cut(out, max);
	return out;
}

/* ---- HTML ---- */

static void om_mail_text_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Appends the text under node: text nodes, a space between elements,
   nothing of script, style or comments. */
static void om_mail_text_walk(xmlNode *node, struct om_buf *out, size_t max,
			      unsigned int depth)
{
	xmlNode *n;

	for (n = node; n != NULL && out->len < max; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL)
				om_buf_append_str(out, (const char *)n->content);
		} else if (n->type == XML_ELEMENT_NODE && depth < 256) {
			if (n->name != NULL &&
			    (xmlStrcasecmp(n->name, (const xmlChar *)"script") == 0 ||
			     xmlStrcasecmp(n->name, (const xmlChar *)"style") == 0))
				continue;
			om_mail_text_walk(n->children, out, max, depth + 1);
			om_buf_append_str(out, " ");
		}
	}
}

char *om_mail_text_of_html(const char *html, size_t len, const char *charset,
			   size_t max)
{
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
		HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED | HTML_PARSE_NODEFDTD;
	struct om_buf out;
	char *utf8 = NULL, *text;
	htmlDocPtr doc;

	if (len == 0 || len > OM_MAIL_TEXT_HTML_MAX)
		return om_strdup("");
	(void)pthread_once(&om_mail_text_once, om_mail_text_init);
	/* per thread in libxml2: set for the calling thread each time */
	xmlSetGenericErrorFunc(NULL, om_mail_text_quiet);
	if (charset != NULL && *charset != '\0') {
		utf8 = om_mail_text_to_utf8(html, len, charset, OM_MAIL_TEXT_HTML_MAX);
		options |= HTML_PARSE_IGNORE_ENC;
		doc = htmlReadMemory(utf8, (int)strlen(utf8), NULL, "UTF-8", options);
	} else {
		doc = htmlReadMemory(html, (int)len, NULL, NULL, options);
	}
	free(utf8);
	if (doc == NULL)
		return om_strdup("");
	om_buf_init(&out);
	om_mail_text_walk(xmlDocGetRootElement(doc), &out, max, 0);
	xmlFreeDoc(doc);
	text = om_mail_text_valid(out.data != NULL ? out.data : "", out.len);
	om_buf_free(&out);
	om_mail_text_cut(text, max);
	return text;
}

/* ---- PDF ---- */

static char *om_mail_text_of_pdf_locked(const char *pdf, size_t len, size_t max);

char *om_mail_text_of_pdf(const char *pdf, size_t len, size_t max)
{
	char *text;

	if (pthread_mutex_lock(&om_mail_text_pdf_lock) != 0)
		return NULL;
	text = om_mail_text_of_pdf_locked(pdf, len, max);
	(void)pthread_mutex_unlock(&om_mail_text_pdf_lock);
	return text;
}

static char *om_mail_text_of_pdf_locked(const char *pdf, size_t len, size_t max)
{
	PopplerDocument *doc;
	GBytes *bytes;
	GError *err = NULL;
	struct om_buf out;
	int i, pages;
	char *text;

	if (len == 0 || len > G_MAXINT)
		return NULL;
	bytes = g_bytes_new(pdf, len);
	doc = poppler_document_new_from_bytes(bytes, NULL, &err);
	g_bytes_unref(bytes);
	if (doc == NULL) {
		g_clear_error(&err);
		return NULL;
	}
	om_buf_init(&out);
	pages = poppler_document_get_n_pages(doc);
	for (i = 0; i < pages && i < OM_MAIL_TEXT_PDF_PAGES && out.len < max; i++) {
		PopplerPage *page = poppler_document_get_page(doc, i);
		char *page_text;

		if (page == NULL)
			continue;
		page_text = poppler_page_get_text(page);
		if (page_text != NULL) {
			om_buf_append_str(&out, page_text);
			om_buf_append_str(&out, "\n");
		}
		g_free(page_text);
		g_object_unref(page);
	}
	g_object_unref(doc);
	text = om_mail_text_valid(out.data != NULL ? out.data : "", out.len);
	om_buf_free(&out);
	om_mail_text_cut(text, max);
	return text;
}

/* 1 if a page of doc has a link whose action runs something. */
static int om_mail_pdf_links_active(PopplerDocument *doc)
{
	int i, pages = poppler_document_get_n_pages(doc), active = 0;
	GList *maps, *l;

	for (i = 0; i < pages && i < OM_MAIL_TEXT_PDF_PAGES && !active; i++) {
		PopplerPage *page = poppler_document_get_page(doc, i);

		if (page == NULL)
			continue;
		maps = poppler_page_get_link_mapping(page);
		for (l = maps; l != NULL && !active; l = l->next) {
			const PopplerLinkMapping *m = l->data;

			if (m->action != NULL &&
			    (m->action->type == POPPLER_ACTION_LAUNCH ||
			     m->action->type == POPPLER_ACTION_JAVASCRIPT))
				active = 1;
		}
		poppler_page_free_link_mapping(maps);
		g_object_unref(page);
	}
	return active;
}

int om_mail_pdf_unlock(const char *pdf, size_t len, const char *password,
		       int *active_r)
{
	PopplerDocument *doc;
	GBytes *bytes;
	GError *err = NULL;
	int ret;

	*active_r = 0;
	if (len == 0 || len > G_MAXINT)
		return -1;
	if (pthread_mutex_lock(&om_mail_text_pdf_lock) != 0)
		return -1;
	bytes = g_bytes_new(pdf, len);
	doc = poppler_document_new_from_bytes(bytes, password, &err);
	g_bytes_unref(bytes);
	if (doc == NULL) {
		ret = err != NULL && g_error_matches(err, POPPLER_ERROR,
						     POPPLER_ERROR_ENCRYPTED) ? 0 : -1;
		g_clear_error(&err);
	} else {
		*active_r = poppler_document_has_javascript(doc) ||
			om_mail_pdf_links_active(doc);
		g_object_unref(doc);
		ret = 1;
	}
	(void)pthread_mutex_unlock(&om_mail_text_pdf_lock);
	return ret;
}

/* ---- Office documents (OOXML: docx, xlsx, pptx) ---- */

/* The parts of an OOXML package that hold its text: Word's body, headers
   and footers, Excel's shared strings, PowerPoint's slides. */
static const struct {
	const char *prefix, *suffix;
} om_mail_text_ooxml_parts[] = {
	{ "word/document.xml", "" }, { "word/header", ".xml" }, { "word/footer", ".xml" },
	{ "xl/sharedStrings.xml", "" }, { "ppt/slides/slide", ".xml" },
};

struct om_mail_text_ooxml {
	struct om_buf out;
	size_t max;
};

/* Appends the text of an OOXML part: the content of its <t> elements (w:t,
   a:t, Excel's t), runs of one paragraph joined as they are, a line end
   after each paragraph (<p>, Excel's <si>), a tab or break as a space. */
static void om_mail_text_ooxml_walk(xmlNode *node, struct om_buf *out, size_t max,
				    unsigned int depth)
{
	xmlNode *n;
	xmlChar *content;

	for (n = node; n != NULL && out->len < max; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || n->name == NULL || depth > 256)
			continue;
		if (xmlStrcmp(n->name, (const xmlChar *)"t") == 0) {
			content = xmlNodeGetContent(n);
			if (content != NULL)
				om_buf_append_str(out, (const char *)content);
			xmlFree(content);
			continue;
		}
		if (xmlStrcmp(n->name, (const xmlChar *)"tab") == 0 ||
		    xmlStrcmp(n->name, (const xmlChar *)"br") == 0)
			om_buf_append_str(out, " ");
		om_mail_text_ooxml_walk(n->children, out, max, depth + 1);
		if (xmlStrcmp(n->name, (const xmlChar *)"p") == 0 ||
		    xmlStrcmp(n->name, (const xmlChar *)"si") == 0)
			om_buf_append_str(out, "\n");
	}
}

static void om_mail_text_ooxml_member(void *context, const char *name, const char *data,
				      size_t len)
{
	struct om_mail_text_ooxml *o = context;
	xmlDocPtr doc;

	(void)name;
	if (len == 0 || len > (size_t)G_MAXINT || o->out.len >= o->max)
		return;
	/* no network, no DTD, no entity expansion: only the elements */
	doc = xmlReadMemory(data, (int)len, NULL, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
			    XML_PARSE_RECOVER);
	if (doc == NULL)
		return;
	/* OOXML parts have no DOCTYPE: one that does is not read (no entity
	   of a sender's is ever expanded) */
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		return;
	}
	om_mail_text_ooxml_walk(xmlDocGetRootElement(doc), &o->out, o->max, 0);
	om_buf_append_str(&o->out, "\n");
	xmlFreeDoc(doc);
}

char *om_mail_text_of_ooxml(const char *zip, size_t len, size_t max)
{
	struct om_mail_text_ooxml o;
	char *error = NULL, *text;
	size_t i;
	int found = 0, ret;

	(void)pthread_once(&om_mail_text_once, om_mail_text_init);
	xmlSetGenericErrorFunc(NULL, om_mail_text_quiet);
	om_buf_init(&o.out);
	o.max = max;
	for (i = 0; i < OM_N_ELEMENTS(om_mail_text_ooxml_parts); i++) {
		ret = om_zip_each_member(zip, len, om_mail_text_ooxml_parts[i].prefix,
					 om_mail_text_ooxml_parts[i].suffix,
					 OM_MAIL_TEXT_OOXML_MAX, om_mail_text_ooxml_member, &o,
					 &error);
		if (ret < 0) {
			/* not a ZIP, broken or encrypted: no text */
			free(error);
			om_buf_free(&o.out);
			return NULL;
		}
		found += ret;
	}
	if (found == 0) {
		om_buf_free(&o.out);
		return NULL;
	}
	text = om_mail_text_valid(o.out.data != NULL ? o.out.data : "", o.out.len);
	om_buf_free(&o.out);
	om_mail_text_cut(text, max);
	return text;
}

/* ---- a message ---- */

static int om_mail_text_name_ends(const char *name, const char *suffix)
{
	size_t n, s = strlen(suffix);

	if (name == NULL)
		return 0;
	n = strlen(name);
	return n >= s && strcasecmp(name + n - s, suffix) == 0;
}

/* How to read a part of type (lower case) named name. */
static enum om_mail_text_how om_mail_text_how_of(const char *type, const char *name)
{
	if (strcmp(type, "text/html") == 0 || om_mail_text_name_ends(name, ".html") ||
	    om_mail_text_name_ends(name, ".htm"))
		return OM_MAIL_TEXT_HTML;
	if (strcmp(type, "application/pdf") == 0 || om_mail_text_name_ends(name, ".pdf"))
		return OM_MAIL_TEXT_PDF;
	if (strncmp(type, "application/vnd.openxmlformats-officedocument.", 46) == 0 ||
	    om_mail_text_name_ends(name, ".docx") || om_mail_text_name_ends(name, ".docm") ||
	    om_mail_text_name_ends(name, ".xlsx") || om_mail_text_name_ends(name, ".xlsm") ||
	    om_mail_text_name_ends(name, ".pptx") || om_mail_text_name_ends(name, ".pptm"))
		return OM_MAIL_TEXT_OFFICE;
	if (strncmp(type, "text/", 5) == 0 || om_mail_text_name_ends(name, ".txt") ||
	    om_mail_text_name_ends(name, ".csv"))
		return OM_MAIL_TEXT_PLAIN;
	return OM_MAIL_TEXT_NONE;
}

static void om_mail_text_part_read(const struct om_mime_leaf *leaf,
				   struct om_mail_text_part *p, size_t max_text)
{
	const char *charset = NULL;
	struct om_buf data;
	char *error = NULL;

	p->filename = leaf->filename != NULL ? om_strdup(leaf->filename) : NULL;
	p->content_type = g_ascii_strdown(leaf->content_type != NULL ?
					  leaf->content_type : "", -1);
	p->is_body = leaf->is_body;
	om_buf_init(&data);
	if (om_mime_leaf_decode(leaf, &data, &error) < 0) {
		free(error);
		om_buf_free(&data);
		return;
	}
	p->size = data.len;
	p->how = om_mail_text_how_of(p->content_type, p->filename);
	if (GMIME_IS_OBJECT(leaf->object))
		charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(leaf->object),
								   "charset");
	switch (p->how) {
	case OM_MAIL_TEXT_PLAIN:
		p->text = om_mail_text_to_utf8(data.data != NULL ? data.data : "", data.len,
					       charset, max_text);
		break;
	case OM_MAIL_TEXT_HTML:
		p->text = om_mail_text_of_html(data.data != NULL ? data.data : "", data.len,
					       charset, max_text);
		break;
	case OM_MAIL_TEXT_PDF:
		p->text = om_mail_text_of_pdf(data.data != NULL ? data.data : "", data.len,
					      max_text);
		if (p->text == NULL)
			p->how = OM_MAIL_TEXT_NONE;
		break;
	case OM_MAIL_TEXT_OFFICE:
		p->text = om_mail_text_of_ooxml(data.data != NULL ? data.data : "", data.len,
						max_text);
		if (p->text == NULL)
			p->how = OM_MAIL_TEXT_NONE;
		break;
	case OM_MAIL_TEXT_NONE:
		break;
	}
	om_buf_free(&data);
}

struct om_mail_text_headers {
	struct om_mail_text *t;
	size_t alloc;
};

static void om_mail_text_header_cb(void *context, const char *name, const char *value)
{
	struct om_mail_text_headers *h = context;
	struct om_mail_text *t = h->t;

	if (t->header_count == h->alloc) {
		h->alloc = h->alloc == 0 ? 16 : h->alloc * 2;
		t->headers = om_realloc(t->headers, h->alloc * sizeof(*t->headers));
	}
	t->headers[t->header_count].name = om_strdup(name != NULL ? name : "");
	t->headers[t->header_count].value = om_mail_text_valid(value != NULL ? value : "",
								value != NULL ? strlen(value) : 0);
	t->header_count++;
}

int om_mail_text_read(const char *msg, size_t len, size_t max_parts,
		      size_t max_text, struct om_mail_text *out, char **error_r)
{
	struct om_mail_text_headers h;
	struct om_mime_leaf *leaves = NULL;
	struct om_mime_msg *m;
	size_t count = 0, i;
	char *reason = NULL, *subject;
	int ret;

	memset(out, 0, sizeof(*out));
	om_mime_global_init();
	m = om_mime_parse(msg, len, error_r);
	if (m == NULL)
		return -1;
	subject = om_mime_header_decoded(m, "Subject");
	out->subject = om_mail_text_valid(subject != NULL ? subject : "",
					  subject != NULL ? strlen(subject) : 0);
	free(subject);
	memset(&h, 0, sizeof(h));
	h.t = out;
	om_mime_foreach_header(m, om_mail_text_header_cb, &h);
	ret = om_mime_collect(m, max_parts, OM_MAIL_TEXT_DEPTH, &leaves, &count, &reason);
	if (ret < 0) {
		*error_r = reason != NULL ? reason : om_strdup("cannot read the MIME parts");
		om_mime_free(&m);
		om_mail_text_free(out);
		return -1;
	}
	if (ret > 0)
		out->limited = reason;
	out->parts = om_calloc(count > 0 ? count : 1, sizeof(*out->parts));
	for (i = 0; i < count; i++)
		om_mail_text_part_read(&leaves[i], &out->parts[i], max_text);
	out->count = count;
	om_mime_leaves_free(&leaves, count);
	om_mime_free(&m);
	return 0;
}

void om_mail_text_free(struct om_mail_text *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		free(t->parts[i].filename);
		g_free(t->parts[i].content_type);
		free(t->parts[i].text);
	}
	free(t->parts);
	for (i = 0; i < t->header_count; i++) {
		free(t->headers[i].name);
		free(t->headers[i].value);
	}
	free(t->headers);
	free(t->subject);
	free(t->limited);
	memset(t, 0, sizeof(*t));
}
