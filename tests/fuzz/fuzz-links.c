/* fuzz-links.c - libFuzzer target over issue 15's readers of hostile mail:
 * the HTML rewriter (libxml2's parser, the tree walk, the banner, both
 * modes, with and without a declared encoding), the text rewriter and URL
 * finder, and the Authentication-Results reader over the same bytes as a
 * header block.  Beyond "no crash, no leak, no UB" it checks the promise of
 * disabled links: after OM_LINKS_DISABLE no http(s) URL the finder would
 * take is left in the text, and no href="http in the HTML.  Built with
 * clang when it is installed; run for a short time by `make check`
 * (tests/fuzz/run-fuzz.sh).
 */
#include "mail/authres.h"
#include "mail/linkrw.h"
#include "lib/util.h"

#include <libxml/HTMLparser.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *fuzz_gate(void *context, const char *url)
{
	(void)context;
	return strlen(url) % 3 == 0 ? NULL : om_strdup("https://web.test/u/T.x");
}

/* 1 if an attribute of node or below (href, action, formaction, of any
   element but <link>) still leads to a web page: the rewriter's output
   read again by libxml2, as a mail client would read it. */
static int fuzz_live_node(xmlNodePtr node)
{
	xmlAttrPtr attr;
	xmlChar *value;
	const char *v;
	int live = 0;

	for (; node != NULL && !live; node = node->next) {
		if (node->type != XML_ELEMENT_NODE)
			continue;
		for (attr = node->properties; attr != NULL && !live; attr = attr->next) {
			if (strcasecmp((const char *)attr->name, "href") != 0 &&
			    strcasecmp((const char *)attr->name, "action") != 0 &&
			    strcasecmp((const char *)attr->name, "formaction") != 0)
				continue;
			if (strcasecmp((const char *)node->name, "link") == 0)
				continue;
			value = xmlNodeGetContent((xmlNodePtr)attr);
			v = (const char *)value;
			while (v != NULL && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r' ||
					     *v == '\f'))
				v++;
			live = v != NULL && (strncasecmp(v, "http", 4) == 0 ||
					     strncasecmp(v, "//", 2) == 0) &&
				strncmp(v, "https://web.test/u/", 19) != 0;
			xmlFree(value);
		}
		if (!live)
			live = fuzz_live_node(node->children);
	}
	return live;
}

static int fuzz_live_href(const char *html)
{
	htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
					HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
					HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
					HTML_PARSE_IGNORE_ENC);
	int live;

	if (doc == NULL)
		return 0;
	live = fuzz_live_node(doc->children);
	xmlFreeDoc(doc);
	return live;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct om_linkrw rw = { OM_LINKS_DISABLE, "B", fuzz_gate, NULL };
	struct om_authres_trust trust = { "mx.example.jp", 1 };
	struct om_authres auth;
	struct om_buf out;
	char *text = om_malloc(size + 1), *res;
	size_t links, s, e;

	memcpy(text, data, size);
	text[size] = '\0';
	res = om_linkrw_html(&rw, (const char *)data, size, "UTF-8", &links);
	if (fuzz_live_href(res))
		abort();
	free(res);
	res = om_linkrw_html(&rw, (const char *)data, size, NULL, &links);
	free(res);
	rw.mode = OM_LINKS_REWRITE;
	res = om_linkrw_html(&rw, (const char *)data, size, "UTF-8", &links);
	free(res);
	rw.mode = OM_LINKS_DISABLE;
	res = om_linkrw_text(&rw, text, &links);
	if (om_linkrw_find_url(res, strlen(res), &s, &e) &&
	    (strncasecmp(res + s, "http", 4) == 0 || strncasecmp(res + s, "ftp", 3) == 0))
		abort();	/* a URL left live in disabled text */
	free(res);
	rw.mode = OM_LINKS_REWRITE;
	res = om_linkrw_text(&rw, text, &links);
	free(res);
	om_buf_init(&out);
	(void)om_authres_check((const char *)data, size, &trust, &auth, &out);
	om_buf_free(&out);
	free(text);
	return 0;
}
