/* links.c - every link host of a message (see links.h), for the url-block
 * lists and for the classifier's "url:" tokens alike, so both read a link
 * the same way.
 *
 * A host is what a browser would connect to: after "http://" or
 * "https://", without the user information before an '@' (a link to
 * "http://bank.example@evil.example/" goes to evil.example), without a
 * port, normalised by the url layer (url/url.h, the one place omamori
 * reads URLs): %XX escapes decoded, lower case, no trailing dot, an IDN
 * host as punycode, "http://0x7f.1/" as 127.0.0.1.
 */
#include "spam/links.h"
#include "lib/hash.h"
#include "mail/mime.h"
#include "lib/util.h"
#include "url/url.h"

#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How deep attached messages are followed (scand refuses mail nested
   deeper than scan_max_depth before this pass). */
#define OM_LINKS_DEPTH_MAX 64

/* One pass over a message: each host reported once. */
struct om_links_pass {
	struct om_hash *seen;
	om_links_cb *cb;
	void *context;
	int stop;		/* the callback's nonzero answer */
	unsigned int depth;	/* attached messages entered */
	struct om_mime_msg *msg;	/* its parts' texts, decoded once */
};

/* Where the authority starting at p ends: at the path, query or fragment,
   or where the text around the link resumes. */
static const char *om_links_authority_end(const char *p)
{
	while (*p != '\0' && strchr("/\\?#\"'<> \t\r\n", *p) == NULL)
		p++;
	return p;
}

/* The host as the url-block lists read it before the url layer: %XX
   decoded, lower case, no trailing dot.  Kept for a host the url layer
   refuses (a name IDNA rejects, an IPv4 address out of range), so that no
   link the lists matched before escapes them now.  1, or 0 when empty or
   longer than OM_LINKS_HOST_MAX. */
static int om_links_host_raw(const char *p, const char *end,
			     char host[OM_LINKS_HOST_MAX + 1])
{
	const char *q;
	size_t n = 0;
	int hi, lo;
	char c;

	for (q = p; q < end; q++) {
		c = *q;
		if (c == '%' && end - q > 2 && (hi = om_hex_digit(q[1])) >= 0 &&
		    (lo = om_hex_digit(q[2])) >= 0) {
			c = (char)(hi * 16 + lo);
			q += 2;
		}
		if (n == OM_LINKS_HOST_MAX)
			return 0;
		host[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	while (n > 0 && host[n - 1] == '.')
		n--;
	host[n] = '\0';
	return n > 0;
}

/* The host of the link whose authority starts at p, into host: the url
   layer's normal form (IDN as punycode, IPv4 forms as a dotted quad, IPv6
   in brackets).  1, or 0 when there is none or it is longer than
   OM_LINKS_HOST_MAX. */
static int om_links_host(const char *p, char host[OM_LINKS_HOST_MAX + 1])
{
	const char *end = om_links_authority_end(p), *q, *host_end;
	enum om_url_host_type type;
	char *normal = NULL, *error = NULL;
	int ret;

	for (q = p; q < end; q++) {
		if (*q == '@')
			p = q + 1;	/* user information before it */
	}
	host_end = p < end && *p == '[' ? memchr(p, ']', (size_t)(end - p)) : NULL;
	host_end = host_end != NULL ? host_end + 1 : memchr(p, ':', (size_t)(end - p));
	if (host_end == NULL)
		host_end = end;
	if (host_end == p)
		return 0;
	if (om_url_host(p, (size_t)(host_end - p), &normal, &type, &error) < 0) {
		free(error);
		return om_links_host_raw(p, host_end, host);
	}
	ret = om_strlcpy(host, normal, OM_LINKS_HOST_MAX + 1) == 0;
	free(normal);
	return ret;
}

int om_links_in_text(const char *text, om_links_cb *cb, void *context)
{
	char host[OM_LINKS_HOST_MAX + 1];
	const char *p = text, *end = text + strlen(text);
	int http, ret;

	/* memmem with the length known: strstr would measure the rest of
	   the text again at each link (quadratic under ASan's interceptor) */
	while ((p = memmem(p, (size_t)(end - p), "://", 3)) != NULL) {
		http = (p - text >= 4 && strncasecmp(p - 4, "http", 4) == 0) ||
			(p - text >= 5 && strncasecmp(p - 5, "https", 5) == 0);
		p += 3;
		if (http && om_links_host(p, host) && (ret = cb(context, host)) != 0)
			return ret;
	}
	return 0;
}

static void om_links_html_node(xmlNode *node, struct om_buf *out, size_t *links_r)
{
	xmlChar *href;

	for (; node != NULL; node = node->next) {
		if (node->type == XML_TEXT_NODE && node->content != NULL) {
			om_buf_append_str(out, (const char *)node->content);
			om_buf_append(out, " ", 1);
		} else if (node->type == XML_ELEMENT_NODE) {
			if (xmlStrcasecmp(node->name, (const xmlChar *)"script") == 0 ||
			    xmlStrcasecmp(node->name, (const xmlChar *)"style") == 0)
				continue;
			href = xmlGetProp(node, (const xmlChar *)"href");
			if (href != NULL) {
				om_buf_append_str(out, " ");
				om_buf_append_str(out, (const char *)href);
				om_buf_append_str(out, " ");
				(*links_r)++;
				xmlFree(href);
			}
			om_links_html_node(node->children, out, links_r);
		}
	}
}

void om_links_html_text(const char *html, struct om_buf *out, size_t *links_r)
{
	htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
					HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					HTML_PARSE_NONET | HTML_PARSE_RECOVER);

	*links_r = 0;
	if (doc == NULL)
		return;
	om_links_html_node(xmlDocGetRootElement(doc), out, links_r);
	xmlFreeDoc(doc);
}

/* What the passes of one scan (the tokenizer, the phrase rules, the
   phishing shapes, url-block) read of a text part, worked out once and
   kept with the part (om_mime_part_memo). */
struct om_links_memo {
	struct om_buf html;	/* an HTML part's text and link targets */
	size_t html_links;
	int html_done;
	char **hosts;		/* om_links_in_part's hosts, in order */
	size_t host_count, host_alloc;
	int hosts_done;
};

static void om_links_memo_free(void *data)
{
	struct om_links_memo *memo = data;
	size_t i;

	om_buf_free(&memo->html);
	for (i = 0; i < memo->host_count; i++)
		free(memo->hosts[i]);
	free(memo->hosts);
	free(memo);
}

/* part's memo, made empty on first use; NULL for a part that is no text
   part (it has none). */
static struct om_links_memo *om_links_memo_of(struct om_mime_msg *msg, void *part)
{
	struct om_links_memo *memo = om_mime_part_memo(msg, part);

	if (memo == NULL) {
		memo = om_calloc(1, sizeof(*memo));
		om_buf_init(&memo->html);
		if (om_mime_part_memo_set(msg, part, memo, om_links_memo_free) < 0) {
			om_links_memo_free(memo);
			return NULL;
		}
	}
	return memo;
}

static const struct om_links_memo *om_links_memo_html(struct om_mime_msg *msg, void *part)
{
	struct om_links_memo *memo = om_links_memo_of(msg, part);
	htmlDocPtr doc;

	if (memo == NULL)
		return NULL;
	if (!memo->html_done) {
		doc = om_mime_part_html(msg, part);
		if (doc != NULL)
			om_links_html_node(xmlDocGetRootElement(doc), &memo->html,
					   &memo->html_links);
		memo->html_done = 1;
	}
	return memo;
}

void om_links_html_part_text(struct om_mime_msg *msg, void *part,
			     struct om_buf *out, size_t *links_r)
{
	const struct om_links_memo *memo;

	*links_r = 0;
	if (om_mime_part_text(msg, part) == NULL ||
	    (memo = om_links_memo_html(msg, part)) == NULL)
		return;
	om_buf_append(out, memo->html.data, memo->html.len);
	*links_r = memo->html_links;
}

static int om_links_memo_add(void *context, const char *host)
{
	struct om_links_memo *memo = context;

	/* doubled, not one more each time: a part of 100 000 links would
	   otherwise copy the array 100 000 times */
	if (memo->host_count == memo->host_alloc) {
		memo->host_alloc = memo->host_alloc == 0 ? 16 : memo->host_alloc * 2;
		memo->hosts = om_realloc(memo->hosts, memo->host_alloc * sizeof(*memo->hosts));
	}
	memo->hosts[memo->host_count++] = om_strdup(host);
	return 0;
}

int om_links_in_part(struct om_mime_msg *msg, void *part, om_links_cb *cb,
		     void *context)
{
	struct om_links_memo *memo;
	const char *text = om_mime_part_text(msg, part);
	size_t i;
	int ret;

	if (text == NULL || (memo = om_links_memo_of(msg, part)) == NULL)
		return 0;
	if (!memo->hosts_done) {
		if (g_mime_content_type_is_type(g_mime_object_get_content_type(part),
						"text", "html"))
			text = om_links_memo_html(msg, part)->html.data;
		if (text != NULL)
			(void)om_links_in_text(text, om_links_memo_add, memo);
		memo->hosts_done = 1;
	}
	for (i = 0; i < memo->host_count; i++) {
		if ((ret = cb(context, memo->hosts[i])) != 0)
			return ret;
	}
	return 0;
}

/* Passes a host on to the caller's callback the first time it is seen. */
static int om_links_once(void *context, const char *host)
{
	struct om_links_pass *pass = context;

	if (om_hash_get(pass->seen, host) != NULL)
		return 0;
	om_hash_set(pass->seen, host, (void *)1);
	return pass->cb(pass->context, host);
}

static void om_links_text(struct om_links_pass *pass, const char *text)
{
	if (pass->stop == 0 && text != NULL)
		pass->stop = om_links_in_text(text, om_links_once, pass);
}

static void om_links_part(GMimeObject *parent, GMimeObject *part, gpointer data);

static void om_links_attached(struct om_links_pass *pass, GMimeMessagePart *part)
{
	GMimeMessage *inner = g_mime_message_part_get_message(part);

	if (inner == NULL || pass->depth >= OM_LINKS_DEPTH_MAX)
		return;
	pass->depth++;
	g_mime_message_foreach(inner, om_links_part, pass);
	pass->depth--;
}

static void om_links_part(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct om_links_pass *pass = data;

	(void)parent;
	if (pass->stop != 0)
		return;
	if (GMIME_IS_MESSAGE_PART(part)) {
		/* GMime's traversal does not enter an attached message; mail
		   clients show it inline */
		om_links_attached(pass, GMIME_MESSAGE_PART(part));
		return;
	}
	if (GMIME_IS_MULTIPART(part)) {
		om_links_text(pass, g_mime_multipart_get_prologue(GMIME_MULTIPART(part)));
		om_links_text(pass, g_mime_multipart_get_epilogue(GMIME_MULTIPART(part)));
		return;
	}
	if (!GMIME_IS_TEXT_PART(part))
		return;
	/* an HTML part's text and link targets, or the plain text */
	pass->stop = om_links_in_part(pass->msg, part, om_links_once, pass);
}

/* om_mime_foreach_part's callback: GMime's objects behind void. */
static void om_links_mime_part(void *parent, void *part, void *data)
{
	om_links_part(parent, part, data);
}

int om_links_each(struct om_mime_msg *msg, const char *data, size_t len,
		  om_links_cb *cb, void *context)
{
	struct om_links_pass pass = { om_hash_new(64), cb, context, 0, 0, msg };
	char *text, *p;

	if (msg != NULL) {
		om_mime_foreach_part(msg, om_links_mime_part, &pass);
	} else {
		/* plain text, a NUL byte no end to it */
		text = om_strndup(data, len);
		for (p = text; p < text + len; p++) {
			if (*p == '\0')
				*p = ' ';
		}
		text[len] = '\0';
		om_links_text(&pass, text);
		free(text);
	}
	om_hash_free(&pass.seen, NULL);
	return pass.stop;
}
