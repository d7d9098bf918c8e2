/* sanitize.c - HTML mail bodies made safe to show (sanitize.h): libxml2's
 * HTML parser, an allow-list walk, the tree written back out.
 */
#include "mail/sanitize.h"

#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>

#include "lib/util.h"

#define OM_SANITIZE_MAX_DEPTH 200

/* Kept with their text. */
static const char *const om_html_allowed[] = {
	"a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "dd", "del",
	"div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
	"ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike",
	"strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
	"tt", "u", "ul", NULL
};
/* Dropped with everything inside. */
static const char *const om_html_dropped[] = {
	"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
	"form", "input", "button", "select", "textarea", "meta", "link", "base", "title",
	"head", "svg", "math", "template", "noscript", "audio", "video", "source",
	"canvas", "param", NULL
};
static const char *const om_html_attrs[] = {
	"href", "colspan", "rowspan", "align", "valign", "width", "height", "border",
	"cellpadding", "cellspacing", "color", "size", "face", "title", "dir", "lang",
	NULL
};

static int om_html_in(const char *const *list, const char *name)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcasecmp(list[i], name) == 0)
			return 1;
	}
	return 0;
}

static int om_html_href_ok(const xmlChar *value)
{
	const char *v = (const char *)value;

	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	return strncasecmp(v, "http://", 7) == 0 || strncasecmp(v, "https://", 8) == 0 ||
		strncasecmp(v, "mailto:", 7) == 0;
}

/* Keeps the allowed attributes (a bad href is dropped). */
static void om_html_attributes(xmlNodePtr node)
{
	xmlAttrPtr attr = node->properties, next;
	xmlChar *value;
	int keep;

	for (; attr != NULL; attr = next) {
		next = attr->next;
		keep = om_html_in(om_html_attrs, (const char *)attr->name);
		if (keep && strcasecmp((const char *)attr->name, "href") == 0) {
			value = xmlNodeGetContent((xmlNodePtr)attr);
			keep = value != NULL && strcasecmp((const char *)node->name, "a") == 0 &&
				om_html_href_ok(value);
			xmlFree(value);
		}
		if (!keep)
			xmlRemoveProp(attr);
	}
	if (strcasecmp((const char *)node->name, "a") == 0 &&
	    xmlHasProp(node, BAD_CAST "href") != NULL) {
		xmlSetProp(node, BAD_CAST "rel", BAD_CAST "noopener noreferrer nofollow");
		xmlSetProp(node, BAD_CAST "target", BAD_CAST "_blank");
	}
}

static void om_html_walk(xmlNodePtr node, unsigned int depth, int images);

/* An element that is not allowed: its children take its place. */
static void om_html_unwrap(xmlNodePtr node, unsigned int depth, int images)
{
	xmlNodePtr child, next;

	om_html_walk(node, depth + 1, images);
	for (child = node->children; child != NULL; child = next) {
		next = child->next;
		xmlUnlinkNode(child);
		if (xmlAddPrevSibling(node, child) == NULL)
			xmlFreeNode(child);
	}
	xmlUnlinkNode(node);
	xmlFreeNode(node);
}

static const char *const om_html_image_attrs[] = {
	"src", "alt", "width", "height", "title", NULL
};

/* A remote image the reader asked to see: an http or https src, kept with
   its size and alt text only, fetched without a referrer.  0 if it is no
   such image (cid:, data:, none). */
static int om_html_remote_image(xmlNodePtr node)
{
	xmlChar *src = xmlGetProp(node, BAD_CAST "src");
	xmlAttrPtr attr, next;
	const char *v;
	int remote;

	if (src == NULL)
		return 0;
	for (v = (const char *)src; *v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'; v++)
		;
	remote = strncasecmp(v, "http://", 7) == 0 || strncasecmp(v, "https://", 8) == 0;
	xmlFree(src);
	if (!remote)
		return 0;
	for (attr = node->properties; attr != NULL; attr = next) {
		next = attr->next;
		if (!om_html_in(om_html_image_attrs, (const char *)attr->name))
			xmlRemoveProp(attr);
	}
	xmlNodeSetName(node, BAD_CAST "img");
	xmlSetProp(node, BAD_CAST "referrerpolicy", BAD_CAST "no-referrer");
	return 1;
}

/* An image: its alt text, in brackets, instead (with images, a remote
   one stays). */
static void om_html_image(xmlNodePtr node, int images)
{
	xmlChar *alt;
	xmlNodePtr text;
	char *s;

	if (images && om_html_remote_image(node))
		return;
	alt = xmlGetProp(node, BAD_CAST "alt");

	if (alt != NULL && *alt != '\0') {
		s = om_asprintf("[%s]", (const char *)alt);
		text = xmlNewText(BAD_CAST s);
		free(s);
		if (text != NULL && xmlAddPrevSibling(node, text) == NULL)
			xmlFreeNode(text);
	}
	xmlFree(alt);
	xmlUnlinkNode(node);
	xmlFreeNode(node);
}

static void om_html_walk(xmlNodePtr parent, unsigned int depth, int images)
{
	xmlNodePtr node = parent->children, next;
	const char *name;

	for (; node != NULL; node = next) {
		next = node->next;
		if (node->type == XML_TEXT_NODE)
			continue;
		if (node->type != XML_ELEMENT_NODE || depth > OM_SANITIZE_MAX_DEPTH) {
			xmlUnlinkNode(node);
			xmlFreeNode(node);
			continue;
		}
		name = (const char *)node->name;
		if (strcasecmp(name, "img") == 0 || strcasecmp(name, "image") == 0) {
			om_html_image(node, images);
		} else if (om_html_in(om_html_dropped, name)) {
			xmlUnlinkNode(node);
			xmlFreeNode(node);
		} else if (om_html_in(om_html_allowed, name)) {
			om_html_attributes(node);
			om_html_walk(node, depth + 1, images);
		} else {
			om_html_unwrap(node, depth, images);
		}
	}
}

char *om_html_sanitize(const char *html, size_t len)
{
	return om_html_sanitize_images(html, len, 0);
}

char *om_html_sanitize_images(const char *html, size_t len, int remote_images)
{
	htmlDocPtr doc;
	xmlNodePtr root, body = NULL, n;
	xmlBufferPtr buf;
	struct om_buf out;

	if (len > (size_t)1 << 30)
		return NULL;
	doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
			     HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
			     HTML_PARSE_RECOVER);
	if (doc == NULL)
		return NULL;
	root = xmlDocGetRootElement(doc);
	for (n = root != NULL ? root->children : NULL; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, "body") == 0)
			body = n;
	}
	if (body == NULL)
		body = root;
	om_buf_init(&out);
	if (body != NULL) {
		om_html_walk(body, 0, remote_images);
		buf = xmlBufferCreate();
		for (n = body->children; buf != NULL && n != NULL; n = n->next)
			(void)htmlNodeDump(buf, doc, n);
		if (buf != NULL) {
			om_buf_append(&out, (const char *)xmlBufferContent(buf),
				      (size_t)xmlBufferLength(buf));
			xmlBufferFree(buf);
		}
	}
	xmlFreeDoc(doc);
	if (out.len == 0) {
		om_buf_free(&out);
		return om_strdup("");
	}
	return om_buf_steal(&out, NULL);
}
