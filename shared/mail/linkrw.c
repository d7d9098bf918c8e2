/* linkrw.c - banner, disabled links and links through the click-time gate in
 * a message's readable parts (see linkrw.h).
 *
 * HTML goes through libxml2's HTML parser, the one a browser-like reading of
 * broken markup needs: the tree is changed node by node (iteratively, so a
 * deeply nested document costs no stack) and written again.  Text is read
 * by a small scanner with fixed rules, the same for text parts and for the
 * text of HTML.
 */
#include "mail/linkrw.h"
#include "mail/mime.h"

#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An HTML part over this is not parsed: the banner and a note go out in
   its place (fail closed: no part goes out with its links live). */
#define OM_LINKRW_HTML_MAX (32 * 1024 * 1024)

static pthread_once_t om_linkrw_once = PTHREAD_ONCE_INIT;

static void om_linkrw_init(void)
{
	xmlInitParser();
}

/* libxml2's messages about hostile mail ("encoding error", broken
   markup) are no daemon's log lines: dropped. */
static void om_linkrw_quiet(void *context, const char *fmt, ...)
{
	(void)context;
	(void)fmt;
}

/* ---- URLs in text ---- */

static int om_linkrw_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* Length of the URL prefix at p ("https://", "www."), or 0. */
static size_t om_linkrw_prefix(const char *p, size_t left)
{
	static const char *const prefixes[] = {
		"http://", "https://", "ftp://", "www."
	};
	size_t i, n;

	for (i = 0; i < OM_N_ELEMENTS(prefixes); i++) {
		n = strlen(prefixes[i]);
		if (left >= n && strncasecmp(p, prefixes[i], n) == 0)
			return n;
	}
	return 0;
}

static int om_linkrw_url_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("<>\"'`", c) == NULL;
}

/* Shortens [start, end) by trailing punctuation and unmatched brackets. */
static size_t om_linkrw_trim(const char *text, size_t start, size_t end)
{
	size_t i, open, close;
	char c;

	while (end > start) {
		c = text[end - 1];
		if (strchr(".,;:!?", c) != NULL) {
			end--;
			continue;
		}
		if (c == ')' || c == ']' || c == '}') {
			char o = c == ')' ? '(' : c == ']' ? '[' : '{';

			open = close = 0;
			for (i = start; i < end; i++) {
				open += text[i] == o;
				close += text[i] == c;
			}
			if (close > open) {
				end--;
				continue;
			}
		}
		break;
	}
	return end;
}

int om_linkrw_find_url(const char *text, size_t len, size_t *start_r,
		       size_t *end_r)
{
	size_t i, n, end;
	int in_host;

	for (i = 0; i < len; i++) {
		if (i > 0 && om_linkrw_alnum((unsigned char)text[i - 1]))
			continue;
		n = om_linkrw_prefix(text + i, len - i);
		if (n == 0)
			continue;
		end = i + n;
		in_host = 1;
		while (end < len && end - i < OM_LINKRW_URL_MAX &&
		       (om_linkrw_url_char((unsigned char)text[end]) ||
			(in_host && (unsigned char)text[end] >= 0x80))) {
			if (strchr("/?#\\", text[end]) != NULL)
				in_host = 0;
			end++;
		}
		end = om_linkrw_trim(text, i, end);
		/* a prefix alone ("http://" then a space) is no link */
		if (end <= i + n)
			continue;
		*start_r = i;
		*end_r = end;
		return 1;
	}
	return 0;
}

char *om_linkrw_defang(const char *url, size_t len)
{
	struct om_buf b;
	size_t i = 0, host_end;
	const char *sep;

	om_buf_init(&b);
	om_buf_append(&b, "", 0);	/* terminated even for "" */
	om_buf_reserve(&b, len + 16);
	if (len >= 4 && strncasecmp(url, "http", 4) == 0 &&
	    (len > 4 && (url[4] == ':' || url[4] == 's' || url[4] == 'S'))) {
		om_buf_append(&b, url, 1);
		om_buf_append_str(&b, "xx");
		i = 3;
	} else if (len >= 3 && strncasecmp(url, "ftp", 3) == 0) {
		om_buf_append(&b, url, 1);
		om_buf_append_str(&b, "x");
		i = 2;
	}
	/* the host: after "://" (or from the start: www.), to / ? # */
	sep = memmem(url, len, "://", 3);
	if (sep != NULL) {
		om_buf_append(&b, url + i, (size_t)(sep + 3 - url) - i);
		i = (size_t)(sep + 3 - url);
	}
	host_end = i;
	while (host_end < len && strchr("/?#\\", url[host_end]) == NULL)
		host_end++;
	/* the host's dots bracketed; a URL inside it all (?u=http://...,
	   even a host that spells one) dead too */
	while (i < len) {
		size_t n = om_linkrw_prefix(url + i, len - i);

		if (n == 4) {		/* www. */
			om_buf_append(&b, url + i, 3);
			om_buf_append_str(&b, "[.]");
			i += 4;
		} else if (n > 0) {	/* http https ftp: the t's */
			om_buf_append(&b, url + i, 1);
			om_buf_append_str(&b, url[i] == 'h' || url[i] == 'H' ? "xx" : "x");
			i += url[i] == 'h' || url[i] == 'H' ? 3 : 2;
		} else if (i < host_end && url[i] == '.') {
			om_buf_append_str(&b, "[.]");
			i++;
		} else {
			om_buf_append(&b, url + i, 1);
			i++;
		}
	}
	return om_buf_steal(&b, NULL);
}

/* The URL the gate is asked for: "www." links are http. */
static char *om_linkrw_gate_of(const struct om_linkrw *rw, const char *url,
			       size_t len)
{
	char *full, *gate;

	if (rw->gate == NULL)
		return NULL;
	full = strncasecmp(url, "www.", 4) == 0 ?
		om_asprintf("http://%.*s", (int)len, url) : om_strndup(url, len);
	gate = strncasecmp(full, "http://", 7) == 0 ||
		strncasecmp(full, "https://", 8) == 0 ?
		rw->gate(rw->context, full) : NULL;
	free(full);
	return gate;
}

char *om_linkrw_text(const struct om_linkrw *rw, const char *text,
		     size_t *links_r)
{
	size_t len = strlen(text), at = 0, start, end;
	struct om_buf b;
	char *defanged, *gate;

	*links_r = 0;
	om_buf_init(&b);
	if (rw->banner != NULL && *rw->banner != '\0')
		om_buf_printf(&b, "%s\n\n", rw->banner);
	while (rw->mode != OM_LINKS_KEEP &&
	       om_linkrw_find_url(text + at, len - at, &start, &end)) {
		om_buf_append(&b, text + at, start);
		defanged = om_linkrw_defang(text + at + start, end - start);
		om_buf_append_str(&b, defanged);
		free(defanged);
		if (rw->mode == OM_LINKS_REWRITE) {
			gate = om_linkrw_gate_of(rw, text + at + start, end - start);
			if (gate != NULL)
				om_buf_printf(&b, " <%s>", gate);
			free(gate);
		}
		(*links_r)++;
		at += end;
	}
	om_buf_append(&b, text + at, len - at);
	return om_buf_steal(&b, NULL);
}

/* ---- HTML ---- */

struct om_linkrw_html {
	const struct om_linkrw *rw;
	htmlDocPtr doc;
	size_t links;
};

static int om_linkrw_is(xmlNodePtr node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && node->name != NULL &&
		strcasecmp((const char *)node->name, name) == 0;
}

/* The attribute's value, trimmed (allocated), or NULL. */
static char *om_linkrw_attr(xmlNodePtr node, const char *name)
{
	xmlChar *value = xmlGetProp(node, (const xmlChar *)name);
	const char *p, *e;
	char *copy;

	if (value == NULL)
		return NULL;
	p = (const char *)value;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n' || e[-1] == '\f'))
		e--;
	copy = om_strndup(p, (size_t)(e - p));
	xmlFree(value);
	return copy;
}

/* 1 for a link that is no web page and stays: mail, phone, an inline
   part, a place in the same message. */
static int om_linkrw_harmless(const char *href)
{
	return strncasecmp(href, "mailto:", 7) == 0 ||
		strncasecmp(href, "tel:", 4) == 0 ||
		strncasecmp(href, "cid:", 4) == 0 || href[0] == '#';
}

/* Removes the attributes named, and every event handler (on...). */
static void om_linkrw_strip_attrs(xmlNodePtr node, const char *const *names)
{
	xmlAttrPtr attr = node->properties, next;
	size_t i;
	int drop;

	for (; attr != NULL; attr = next) {
		next = attr->next;
		drop = attr->name != NULL &&
			strncasecmp((const char *)attr->name, "on", 2) == 0;
		for (i = 0; names[i] != NULL && !drop; i++)
			drop = attr->name != NULL &&
				strcasecmp((const char *)attr->name, names[i]) == 0;
		if (drop)
			(void)xmlRemoveProp(attr);
	}
}

/* An <a> or <area> without its link: an <a> becomes a <span> that shows
   the URL, defanged, in brackets before its text. */
static void om_linkrw_disable_link(struct om_linkrw_html *h, xmlNodePtr node,
				   const char *href)
{
	static const char *const link_attrs[] = {
		"href", "target", "ping", "rel", "download", NULL
	};
	char *defanged, *shown;
	xmlNodePtr text;

	om_linkrw_strip_attrs(node, link_attrs);
	h->links++;
	if (!om_linkrw_is(node, "a"))
		return;
	xmlNodeSetName(node, (const xmlChar *)"span");
	defanged = om_linkrw_defang(href, strlen(href));
	shown = om_asprintf("[%s]", defanged);
	text = xmlNewDocText(h->doc, (const xmlChar *)shown);
	if (text != NULL) {
		if (node->children != NULL)
			(void)xmlAddPrevSibling(node->children, text);
		else
			(void)xmlAddChild(node, text);
	}
	free(defanged);
	free(shown);
}

/* <a href> and <area href>: through the gate, or disabled. */
static void om_linkrw_link(struct om_linkrw_html *h, xmlNodePtr node)
{
	char *href = om_linkrw_attr(node, "href"), *gate = NULL;
	static const char *const ping[] = { "ping", NULL };

	if (href == NULL || om_linkrw_harmless(href)) {
		free(href);
		return;
	}
	if (h->rw->mode == OM_LINKS_REWRITE)
		gate = om_linkrw_gate_of(h->rw, href, strlen(href));
	if (gate != NULL) {
		(void)xmlSetProp(node, (const xmlChar *)"href", (const xmlChar *)gate);
		om_linkrw_strip_attrs(node, ping);
		h->links++;
	} else {
		om_linkrw_disable_link(h, node, href);
	}
	free(gate);
	free(href);
}

/* <form>: a <div>, nothing to send anywhere. */
static void om_linkrw_form(struct om_linkrw_html *h, xmlNodePtr node)
{
	static const char *const form_attrs[] = {
		"action", "method", "target", "enctype", NULL
	};

	om_linkrw_strip_attrs(node, form_attrs);
	xmlNodeSetName(node, (const xmlChar *)"div");
	h->links++;
}

/* <meta>: a refresh goes; a declared charset says UTF-8 (what we write). */
static int om_linkrw_meta(xmlNodePtr node)
{
	char *equiv = om_linkrw_attr(node, "http-equiv");
	int remove = 0;

	if (equiv != NULL && strcasecmp(equiv, "refresh") == 0) {
		remove = 1;
	} else if (equiv != NULL && strcasecmp(equiv, "content-type") == 0) {
		(void)xmlSetProp(node, (const xmlChar *)"content",
				 (const xmlChar *)"text/html; charset=UTF-8");
	} else if (xmlHasProp(node, (const xmlChar *)"charset") != NULL) {
		(void)xmlSetProp(node, (const xmlChar *)"charset", (const xmlChar *)"UTF-8");
	}
	free(equiv);
	return remove;
}

/* A text node's URLs: defanged, or (outside a link) made links through
   the gate showing the URL as their text: the node keeps the text before
   the first link, each link and the text after it follow.  Returns the
   last node of what the text became (the walk goes on after it). */
static xmlNodePtr om_linkrw_text_node(struct om_linkrw_html *h, xmlNodePtr node,
				      int in_link)
{
	size_t len, at = 0, start, end;
	struct om_buf first, seg;
	char *text, *defanged, *gate, *url;
	xmlNodePtr last = node, a, t;
	int linked = 0;

	if (node->content == NULL || (h->rw->mode == OM_LINKS_REWRITE && in_link))
		return node;
	/* our own copy: libxml2 may merge text nodes as we add them */
	text = om_strdup((const char *)node->content);
	len = strlen(text);
	if (!om_linkrw_find_url(text, len, &start, &end)) {
		free(text);
		return node;
	}
	om_buf_init(&first);
	om_buf_init(&seg);
	while (om_linkrw_find_url(text + at, len - at, &start, &end)) {
		struct om_buf *out = linked ? &seg : &first;

		gate = h->rw->mode == OM_LINKS_REWRITE ?
			om_linkrw_gate_of(h->rw, text + at + start, end - start) : NULL;
		om_buf_append(out, text + at, start);
		if (gate == NULL) {
			defanged = om_linkrw_defang(text + at + start, end - start);
			om_buf_append_str(out, defanged);
			free(defanged);
		} else {
			if (linked && seg.len > 0) {
				om_buf_append(&seg, "", 1);
				t = xmlNewDocText(h->doc, (const xmlChar *)seg.data);
				if (t != NULL)
					last = xmlAddNextSibling(last, t);
				om_buf_reset(&seg);
			}
			url = om_strndup(text + at + start, end - start);
			a = xmlNewDocNode(h->doc, NULL, (const xmlChar *)"a", NULL);
			if (a != NULL) {
				(void)xmlSetProp(a, (const xmlChar *)"href", (const xmlChar *)gate);
				(void)xmlAddChild(a, xmlNewDocText(h->doc, (const xmlChar *)url));
				last = xmlAddNextSibling(last, a);
			}
			linked = 1;
			free(url);
			free(gate);
		}
		h->links++;
		at += end;
	}
	om_buf_append(linked ? &seg : &first, text + at, len - at);
	if (linked && seg.len > 0) {
		om_buf_append(&seg, "", 1);
		t = xmlNewDocText(h->doc, (const xmlChar *)seg.data);
		if (t != NULL)
			last = xmlAddNextSibling(last, t);
	}
	om_buf_append(&first, "", 1);
	xmlNodeSetContent(node, (const xmlChar *)first.data);
	om_buf_free(&first);
	om_buf_free(&seg);
	free(text);
	return last;
}

/* 1 for the elements whose text is no prose (scripts, styles). */
static int om_linkrw_opaque(xmlNodePtr node)
{
	return om_linkrw_is(node, "script") || om_linkrw_is(node, "style");
}

/* Does one element; 1 if it is to be removed. */
static int om_linkrw_element(struct om_linkrw_html *h, xmlNodePtr node)
{
	/* formaction of <input>/<button>, and an href or action where no link should be (<meta href>, <div
	   action>): nothing a client could follow stays */
	static const char *const stray[] = { "href", "action", "formaction", NULL };

	if (om_linkrw_is(node, "meta")) {
		if (h->rw->mode != OM_LINKS_KEEP)
			om_linkrw_strip_attrs(node, stray);
		return om_linkrw_meta(node);
	}
	if (h->rw->mode == OM_LINKS_KEEP)
		return 0;
	if (om_linkrw_is(node, "base"))
		return 1;
	if (om_linkrw_is(node, "a") || om_linkrw_is(node, "area")) {
		om_linkrw_link(h, node);
		om_linkrw_strip_attrs(node, stray + 1);	/* its href is done */
		return 0;
	}
	if (om_linkrw_is(node, "form"))
		om_linkrw_form(h, node);
	if (!om_linkrw_is(node, "link"))
		om_linkrw_strip_attrs(node, stray);
	return 0;
}

/* The node after node in document order, its subtree skipped; *links
   is lowered for each <a> left on the way up. */
static xmlNodePtr om_linkrw_after(xmlNodePtr node, xmlNodePtr top, int *links)
{
	while (node != NULL && node != top) {
		if (node->next != NULL)
			return node->next;
		node = node->parent;
		if (node != NULL && node != top && om_linkrw_is(node, "a"))
			(*links)--;
	}
	return NULL;
}

/* Walks the whole tree under doc without recursion. */
static void om_linkrw_walk(struct om_linkrw_html *h)
{
	xmlNodePtr top = (xmlNodePtr)h->doc, node = h->doc->children, next;
	int links = 0;

	while (node != NULL) {
		if (node->type == XML_ELEMENT_NODE) {
			if (om_linkrw_element(h, node)) {
				next = om_linkrw_after(node, top, &links);
				xmlUnlinkNode(node);
				xmlFreeNode(node);
				node = next;
				continue;
			}
			if (node->children != NULL && !om_linkrw_opaque(node)) {
				if (om_linkrw_is(node, "a"))
					links++;
				node = node->children;
				continue;
			}
		} else if (node->type == XML_TEXT_NODE && h->rw->mode != OM_LINKS_KEEP) {
			node = om_linkrw_text_node(h, node, links > 0);
		}
		next = om_linkrw_after(node, top, &links);
		node = next;
	}
}

/* The first element called name in document order, or NULL. */
static xmlNodePtr om_linkrw_find(htmlDocPtr doc, const char *name)
{
	xmlNodePtr node = doc->children;
	int links = 0;

	while (node != NULL) {
		if (om_linkrw_is(node, name))
			return node;
		if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
			node = node->children;
			continue;
		}
		node = om_linkrw_after(node, (xmlNodePtr)doc, &links);
	}
	return NULL;
}

/* The banner as a <div>, its lines separated by <br>. */
static xmlNodePtr om_linkrw_banner_node(htmlDocPtr doc, const char *banner)
{
	xmlNodePtr div = xmlNewDocNode(doc, NULL, (const xmlChar *)"div", NULL);
	const char *p = banner, *nl;
	char *line;

	if (div == NULL)
		return NULL;
	(void)xmlSetProp(div, (const xmlChar *)"class", (const xmlChar *)"omamori-banner");
	(void)xmlSetProp(div, (const xmlChar *)"style", (const xmlChar *)
			 "border:2px solid #c00;background:#fff3f3;color:#000;"
			 "padding:8px;margin:0 0 12px 0;font-size:14px");
	while (*p != '\0') {
		nl = strchr(p, '\n');
		line = nl == NULL ? om_strdup(p) : om_strndup(p, (size_t)(nl - p));
		(void)xmlAddChild(div, xmlNewDocText(doc, (const xmlChar *)line));
		free(line);
		if (nl == NULL)
			break;
		(void)xmlAddChild(div, xmlNewDocNode(doc, NULL, (const xmlChar *)"br", NULL));
		p = nl + 1;
	}
	return div;
}

/* Puts the banner first in <body>; without one, before the first node
   that is no DOCTYPE, <head> or <html> start (a fragment). */
static void om_linkrw_put_banner(htmlDocPtr doc, const char *banner)
{
	xmlNodePtr div = om_linkrw_banner_node(doc, banner), body, html, at;

	if (div == NULL)
		return;
	body = om_linkrw_find(doc, "body");
	if (body != NULL) {
		if (body->children != NULL)
			(void)xmlAddPrevSibling(body->children, div);
		else
			(void)xmlAddChild(body, div);
		return;
	}
	html = om_linkrw_find(doc, "html");
	at = html != NULL ? html->children : doc->children;
	while (at != NULL && (at->type == XML_DTD_NODE || om_linkrw_is(at, "head")))
		at = at->next;
	if (at != NULL)
		(void)xmlAddPrevSibling(at, div);
	else
		(void)xmlAddChild(html != NULL ? html : (xmlNodePtr)doc, div);
}

/* The document written as UTF-8 (no encoder: libxml2 keeps the text's
   UTF-8 bytes in an HTML document). */
static char *om_linkrw_dump(htmlDocPtr doc)
{
	xmlOutputBufferPtr out = xmlAllocOutputBuffer(NULL);
	char *text;

	if (out == NULL)
		return NULL;
	htmlDocContentDumpFormatOutput(out, doc, NULL, 0);
	(void)xmlOutputBufferFlush(out);
	text = om_strndup((const char *)xmlOutputBufferGetContent(out),
			  xmlOutputBufferGetSize(out));
	(void)xmlOutputBufferClose(out);
	return text;
}

/* What goes out for a part that cannot be read as HTML (over
   OM_LINKRW_HTML_MAX, or nothing libxml2 could make a document of): the
   banner and a line saying so - never the part with its links live. */
static char *om_linkrw_html_fallback(const struct om_linkrw *rw, size_t len)
{
	htmlDocPtr doc = htmlNewDocNoDtD(NULL, NULL);
	char *text;

	if (doc == NULL)
		return om_strdup("");
	if (len > 0)
		(void)xmlAddChild((xmlNodePtr)doc, xmlNewDocText(doc, (const xmlChar *)
			"[HTML part not shown: too large or unreadable]"));
	if (rw->banner != NULL && *rw->banner != '\0')
		om_linkrw_put_banner(doc, rw->banner);
	text = om_linkrw_dump(doc);
	xmlFreeDoc(doc);
	return text != NULL ? text : om_strdup("");
}

char *om_linkrw_html(const struct om_linkrw *rw, const char *html, size_t len,
		     const char *encoding, size_t *links_r)
{
	struct om_linkrw_html h;
	int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED |
		HTML_PARSE_NODEFDTD;
	char *text;

	*links_r = 0;
	(void)pthread_once(&om_linkrw_once, om_linkrw_init);
	/* per thread in libxml2: set for the calling thread each time */
	xmlSetGenericErrorFunc(NULL, om_linkrw_quiet);
	if (encoding != NULL)
		options |= HTML_PARSE_IGNORE_ENC;
	memset(&h, 0, sizeof(h));
	h.rw = rw;
	h.doc = len == 0 || len > OM_LINKRW_HTML_MAX ? NULL :
		htmlReadMemory(html, (int)len, NULL, encoding, options);
	if (h.doc == NULL)
		return om_linkrw_html_fallback(rw, len);
	om_linkrw_walk(&h);
	if (rw->banner != NULL && *rw->banner != '\0')
		om_linkrw_put_banner(h.doc, rw->banner);
	text = om_linkrw_dump(h.doc);
	xmlFreeDoc(h.doc);
	*links_r = h.links;
	return text != NULL ? text : om_linkrw_html_fallback(rw, len);
}

/* ---- the message ---- */

struct om_linkrw_walk {
	const struct om_linkrw *rw;
	size_t parts, links;
};

/* The decoded bytes of a part (transfer encoding undone, charset not). */
static char *om_linkrw_part_bytes(GMimePart *part, size_t *len_r)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *stream;
	GByteArray *array;
	char *bytes;

	*len_r = 0;
	if (content == NULL)
		return om_strdup("");
	stream = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(content, stream);
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	bytes = om_strndup((const char *)array->data, array->len);
	*len_r = array->len;
	g_object_unref(stream);
	return bytes;
}

static void om_linkrw_part(void *parent, void *object, void *data)
{
	struct om_linkrw_walk *w = data;
	GMimeObject *part = object;
	GMimeContentType *ct;
	GMimeTextPart *tp;
	const char *charset;
	char *text, *changed;
	size_t len, links = 0;

	(void)parent;
	if (!GMIME_IS_TEXT_PART(part) || !om_mime_part_readable_text(part))
		return;
	tp = GMIME_TEXT_PART(part);
	ct = g_mime_object_get_content_type(part);
	charset = g_mime_object_get_content_type_parameter(part, "charset");
	if (g_mime_content_type_is_type(ct, "text", "html")) {
		if (charset == NULL) {
			/* no MIME charset: the document's own <meta>, as a
			   browser reads it */
			text = om_linkrw_part_bytes(GMIME_PART(tp), &len);
			changed = om_linkrw_html(w->rw, text, len, NULL, &links);
		} else {
			text = g_mime_text_part_get_text(tp);
			len = text != NULL ? strlen(text) : 0;
			changed = om_linkrw_html(w->rw, text != NULL ? text : "",
						 len, "UTF-8", &links);
		}
	} else {
		text = g_mime_text_part_get_text(tp);
		changed = om_linkrw_text(w->rw, text != NULL ? text : "", &links);
	}
	if (charset == NULL && g_mime_content_type_is_type(ct, "text", "html"))
		free(text);
	else
		g_free(text);
	g_mime_text_part_set_text(tp, changed);
	g_mime_text_part_set_charset(tp, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp), GMIME_CONTENT_ENCODING_BASE64);
	free(changed);
	w->parts++;
	w->links += links;
}

size_t om_linkrw_message(struct om_mime_msg *msg, const struct om_linkrw *rw)
{
	struct om_linkrw_walk w;

	memset(&w, 0, sizeof(w));
	w.rw = rw;
	om_mime_changed(msg);
	om_mime_foreach_part(msg, om_linkrw_part, &w);
	if (w.parts == 0 && rw->banner != NULL && *rw->banner != '\0')
		om_mime_add_notice(msg, rw->banner);
	return w.links;
}
