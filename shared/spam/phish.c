/* phish.c - phishing-shape rules that need no training (see phish.h).
 *
 * They read what a classifier trained on little Japanese mail cannot:
 * a delivery notice worded exactly like the real one but linking to a
 * stranger's site, a BEC mail copying a business thread from a lookalike
 * of the recipient's domain with a free-mail Reply-To.  Every host and
 * registrable domain comes from the url layer (libidn2, libpsl); HTML is
 * read with libxml2's parser, never with patterns.  Points are kept below
 * the threshold alone: each is a hint the classifier's reading completes.
 */
#include "spam/phish.h"
#include "spam/links.h"
#include "spam/rules.h"
#include "spam/textrules.h"
#include "mail/mime.h"
#include "lib/hash.h"
#include "lib/util.h"
#include "url/url.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_PHISH_FREEMAIL_MAX (1024 * 1024)	/* bytes of the list file */
#define OM_PHISH_SKELETON_MAX 512
/* a name part shorter than this is too close to too many others for one
   edit to mean anything ("abc" and "abd" are different firms) */
#define OM_PHISH_EDIT_MIN 5
/* the names of sites ham came from are kept from this length on, and a
   sender's is compared with them from it on too (a four-letter name is
   one letter from too many: "lsil" from "lsll") */
#define OM_PHISH_SENDER_NAME_MIN OM_PHISH_EDIT_MIN

struct om_phish {
	struct om_url_psl *psl;
	struct om_hash *freemail;
	struct om_textrules *textrules;	/* the administrator's phrase rules */
};

/* ---- the free-mail list ---- */

static void om_phish_freemail_load(struct om_phish *phish, const char *data)
{
	const char *p = data, *eol;
	char line[OM_URL_HOST_MAX + 1];
	size_t n, i;

	while (*p != '\0') {
		eol = strchr(p, '\n');
		n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n > 0 && *p != '#' && n <= OM_URL_HOST_MAX) {
			memcpy(line, p, n);
			line[n] = '\0';
			for (i = 0; i < n; i++)
				line[i] = (char)tolower((unsigned char)line[i]);
			om_hash_set(phish->freemail, line, (void *)1);
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
}

struct om_phish *om_phish_new(const char *freemail_path, char **error_r)
{
	struct om_phish *phish = om_malloc(sizeof(*phish));
	char *data = NULL;
	size_t len;

	phish->psl = om_url_psl_open(error_r);
	phish->freemail = om_hash_new(64);
	phish->textrules = NULL;
	if (phish->psl == NULL) {
		om_phish_free(&phish);
		return NULL;
	}
	if (freemail_path != NULL && *freemail_path != '\0') {
		if (om_read_file(freemail_path, OM_PHISH_FREEMAIL_MAX, &data, &len,
				 error_r) < 0) {
			om_phish_free(&phish);
			return NULL;
		}
		om_phish_freemail_load(phish, data);
		free(data);
	}
	return phish;
}

int om_phish_load_rules(struct om_phish *phish, const char *path, char **error_r)
{
	struct om_textrules *rules;

	if (path == NULL || *path == '\0')
		return 0;
	rules = om_textrules_load(path, error_r);
	if (rules == NULL)
		return -1;
	om_textrules_free(&phish->textrules);
	phish->textrules = rules;
	return 0;
}

void om_phish_free(struct om_phish **phish)
{
	if (*phish == NULL)
		return;
	om_url_psl_close(&(*phish)->psl);
	om_hash_free(&(*phish)->freemail, NULL);
	om_textrules_free(&(*phish)->textrules);
	free(*phish);
	*phish = NULL;
}

int om_phish_freemail(const struct om_phish *phish, const char *domain)
{
	const char *p = domain;

	while (p != NULL && *p != '\0') {
		if (om_hash_get(phish->freemail, p) != NULL)
			return 1;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* ---- lookalikes ---- */

/* Letters of other scripts (and accented Latin) that are drawn like a
   Latin letter, by code point. */
static const struct { unsigned int cp; char ascii; } om_phish_confusables[] = {
	{ 0x0430, 'a' }, { 0x0435, 'e' }, { 0x043e, 'o' }, { 0x0440, 'p' },
	{ 0x0441, 'c' }, { 0x0443, 'y' }, { 0x0445, 'x' }, { 0x0456, 'i' },
	{ 0x0458, 'j' }, { 0x0455, 's' }, { 0x0501, 'd' }, { 0x04bb, 'h' },
	{ 0x0578, 'n' }, { 0x0585, 'o' }, { 0x0261, 'g' }, { 0x03bf, 'o' },
	{ 0x03b1, 'a' }, { 0x03b5, 'e' }, { 0x03c1, 'p' }, { 0x03bd, 'v' },
	{ 0x03ba, 'k' }, { 0x03b9, 'i' }, { 0x0131, 'i' }, { 0x00e0, 'a' },
	{ 0x00e1, 'a' }, { 0x00e2, 'a' }, { 0x00e3, 'a' }, { 0x00e4, 'a' },
	{ 0x00e5, 'a' }, { 0x00e7, 'c' }, { 0x00e8, 'e' }, { 0x00e9, 'e' },
	{ 0x00ea, 'e' }, { 0x00eb, 'e' }, { 0x00ec, 'i' }, { 0x00ed, 'i' },
	{ 0x00ee, 'i' }, { 0x00ef, 'i' }, { 0x00f1, 'n' }, { 0x00f2, 'o' },
	{ 0x00f3, 'o' }, { 0x00f4, 'o' }, { 0x00f5, 'o' }, { 0x00f6, 'o' },
	{ 0x00f9, 'u' }, { 0x00fa, 'u' }, { 0x00fb, 'u' }, { 0x00fc, 'u' },
	{ 0x00fd, 'y' }, { 0x00ff, 'y' },
};

/* One UTF-8 code point at *p (advanced); 0xfffd for a bad byte. */
static unsigned int om_phish_utf8(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned int cp;
	int more, i;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	more = s[0] >= 0xf0 ? 3 : s[0] >= 0xe0 ? 2 : s[0] >= 0xc0 ? 1 : -1;
	if (more < 0) {
		*p = s + 1;
		return 0xfffd;
	}
	cp = s[0] & (0x3f >> more);
	for (i = 1; i <= more; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p = s + i;
			return 0xfffd;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*p = s + more + 1;
	return cp;
}

static char om_phish_fold(unsigned int cp)
{
	size_t i;

	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	if (cp < 0x80)
		return (char)cp;
	for (i = 0; i < OM_N_ELEMENTS(om_phish_confusables); i++) {
		if (om_phish_confusables[i].cp == cp)
			return om_phish_confusables[i].ascii;
	}
	return '?';		/* drawn like no Latin letter */
}

/* What a reader sees: the domain decoded from punycode (the url layer), letters
   of other scripts folded to the Latin ones they look like, digits to the
   letters they pass for, rn to m, vv to w, i and 1 to l.  1, or 0 when it
   does not fit. */
static int om_phish_skeleton(const char *domain, char out[OM_PHISH_SKELETON_MAX])
{
	char *unicode = om_url_host_unicode(domain);
	const unsigned char *p = (const unsigned char *)unicode;
	size_t n = 0;
	char c;

	while (*p != '\0') {
		c = om_phish_fold(om_phish_utf8(&p));
		switch (c) {
		case '0': c = 'o'; break;
		case '1': case 'i': c = 'l'; break;
		case '3': c = 'e'; break;
		case '5': c = 's'; break;
		default: break;
		}
		if (n > 0 && ((c == 'n' && out[n - 1] == 'r') ||
			      (c == 'v' && out[n - 1] == 'v'))) {
			out[n - 1] = c == 'n' ? 'm' : 'w';
			continue;
		}
		if (n + 1 >= OM_PHISH_SKELETON_MAX) {
			free(unicode);
			return 0;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	free(unicode);
	return 1;
}

/* Damerau-Levenshtein distance of a and b, capped: 0, 1, or 2 meaning
   "more than 1". */
static int om_phish_one_edit(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0;

	if (strcmp(a, b) == 0)
		return 0;
	if (la > lb + 1 || lb > la + 1)
		return 2;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (la == lb) {
		if (strcmp(a + i + 1, b + i + 1) == 0)
			return 1;	/* one changed */
		if (i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		    strcmp(a + i + 2, b + i + 2) == 0)
			return 1;	/* two neighbours swapped */
		return 2;
	}
	/* one inserted in the longer */
	return strcmp(la > lb ? a + i + 1 : a + i, la > lb ? b + i : b + i + 1) == 0 ? 1 : 2;
}

/* Length of the first label. */
static size_t om_phish_name_len(const char *domain)
{
	const char *dot = strchr(domain, '.');

	return dot != NULL ? (size_t)(dot - domain) : strlen(domain);
}

int om_phish_lookalike(const char *candidate, const char *own)
{
	char a[OM_PHISH_SKELETON_MAX], b[OM_PHISH_SKELETON_MAX];

	if (candidate == NULL || own == NULL || strcasecmp(candidate, own) == 0)
		return 0;
	if (om_phish_skeleton(candidate, a) && om_phish_skeleton(own, b) &&
	    strchr(a, '?') == NULL && strcmp(a, b) == 0)
		return 1;
	return om_phish_name_len(own) >= OM_PHISH_EDIT_MIN &&
		om_phish_one_edit(candidate, own) == 1;
}

/* ---- link text against href ---- */

static int om_phish_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* A host name written bare ("www.bank.example/login"): letters, digits,
   dots and hyphens up to the end or a '/', with a dot and a last label of
   two or more letters.  The end of the name, or NULL. */
static const char *om_phish_bare_host(const char *p)
{
	const char *q = p, *dot = NULL;

	while (om_phish_host_char(*q)) {
		if (*q == '.')
			dot = q;
		q++;
	}
	if (dot == NULL || q - dot < 3 || dot == p)
		return NULL;
	if (*q != '\0' && *q != '/' && *q != ':')
		return NULL;
	for (dot++; dot < q; dot++) {
		if (!((*dot >= 'a' && *dot <= 'z') || (*dot >= 'A' && *dot <= 'Z')))
			return NULL;
	}
	return q;
}

char *om_phish_text_host(const char *text)
{
	const char *p = text, *end, *scheme;
	struct om_url url;
	char *host = NULL, *error = NULL, *copy;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	n = strlen(p);
	while (n > 0 && strchr(" \t\r\n", p[n - 1]) != NULL)
		n--;
	if (n == 0 || n > OM_URL_MAX)
		return NULL;
	copy = om_strndup(p, n);
	scheme = strstr(copy, "://");
	if (scheme != NULL) {
		while (scheme > copy && ((scheme[-1] >= 'a' && scheme[-1] <= 'z') ||
					 (scheme[-1] >= 'A' && scheme[-1] <= 'Z')))
			scheme--;
		end = scheme;
		while (*end != '\0' && strchr(" \t\r\n<>\"", *end) == NULL)
			end++;
		if (om_url_parse(scheme, (size_t)(end - scheme), &url, &error) == 0) {
			if (url.host_type != OM_URL_HOST_NONE)
				host = om_strdup(url.host);
			om_url_free(&url);
		}
	} else if (strchr(copy, '@') == NULL && strchr(copy, ' ') == NULL &&
		   om_phish_bare_host(copy) != NULL) {
		end = om_phish_bare_host(copy);
		if (om_url_host(copy, (size_t)(end - copy), &host, &url.host_type,
				&error) < 0)
			host = NULL;
	}
	free(error);
	free(copy);
	return host;
}

/* The registrable domain of a host name: under a name of the rules'
   site-suffixes lines, else the Public Suffix List's; NULL if none. */
static const char *om_phish_registrable(const struct om_phish *phish, const char *host,
					enum om_url_host_type type)
{
	const char *site = type == OM_URL_HOST_NAME ?
		om_textrules_site(phish->textrules, host) : NULL;

	return site != NULL ? site : om_url_registrable_domain(phish->psl, host, type);
}

/* The registrable domain of a normalised host, or the host itself (an IP
   address, a single label). */
static const char *om_phish_site(const struct om_phish *phish, const char *host)
{
	enum om_url_host_type type = host[0] == '[' ? OM_URL_HOST_IPV6 :
		(host[0] >= '0' && host[0] <= '9' && strspn(host, "0123456789.") ==
		 strlen(host)) ? OM_URL_HOST_IPV4 : OM_URL_HOST_NAME;
	const char *site = om_phish_registrable(phish, host, type);

	return site != NULL ? site : host;
}

int om_phish_text_mismatch(const struct om_phish *phish, const char *text,
			   const char *href, const char *from_site)
{
	struct om_url url;
	char *shown, *error = NULL;
	const char *href_site;
	int differ = 0, spelled;

	if (href == NULL || text == NULL)
		return 0;
	if (om_url_parse(href, strlen(href), &url, &error) < 0) {
		free(error);
		return 0;
	}
	shown = (strcmp(url.scheme, "http") == 0 || strcmp(url.scheme, "https") == 0) &&
		url.host_type != OM_URL_HOST_NONE ? om_phish_text_host(text) : NULL;
	if (shown != NULL) {
		href_site = om_phish_site(phish, url.host);
		differ = strcmp(om_phish_site(phish, shown), href_site) != 0;
		/* "Walmart.com" linking to the sender's own site is a name;
		   "https://www.bank.example/" is an address it does not go to */
		spelled = strstr(text, "://") != NULL || strncmp(shown, "www.", 4) == 0;
		if (differ && !spelled && ((from_site != NULL &&
					    strcasecmp(href_site, from_site) == 0) ||
					   !om_url_suffix_listed(phish->psl, shown)))
			differ = 0;	/* or "Node.js": no domain at all */
	}
	free(shown);
	om_url_free(&url);
	return differ;
}

/* ---- a domain worn as a sub-domain ---- */

/* 1 if the last label of name is a country code or one of the first
   generic top-level domains, where companies' names are: the new generic
   ones are words ("google", "secure", "mail") that ordinary host names
   hold (www.google.com). */
static int om_phish_brand_tld(const char *name)
{
	static const char *const generic[] = { "com", "net", "org", "edu", "gov", "info", "biz" };
	const char *last = strrchr(name, '.');
	size_t i;

	last = last != NULL ? last + 1 : name;
	if (strlen(last) == 2)
		return 1;
	for (i = 0; i < OM_N_ELEMENTS(generic); i++) {
		if (strcmp(last, generic[i]) == 0)
			return 1;
	}
	return 0;
}

int om_phish_domain_in_host(const struct om_phish *phish, const char *host)
{
	const char *reg, *suffix, *p;
	char *prefix;
	int found = 0;

	if (host == NULL || host[0] == '[' ||
	    strspn(host, "0123456789.") == strlen(host))
		return 0;
	reg = om_phish_registrable(phish, host, OM_URL_HOST_NAME);
	if (reg == NULL || (suffix = strchr(reg, '.')) == NULL)
		return 0;
	/* the labels left of the host's public suffix: "mail.bank.co.jp" of
	   "mail.bank.co.jp.example"; a name among them ending in a top-level
	   domain, with a label before it, is a domain worn as a prefix */
	prefix = om_strndup(host, (size_t)(suffix - host));
	for (p = strchr(prefix, '.'); p != NULL && !found; p = strchr(p + 1, '.')) {
		const char *end = strchr(p + 1, '.');
		char *name = om_strndup(prefix, end != NULL ? (size_t)(end - prefix) :
					strlen(prefix));

		found = om_phish_brand_tld(name) &&
			om_url_suffix_listed(phish->psl, name);
		free(name);
	}
	free(prefix);
	return found;
}

/* ---- over a message ---- */

struct om_phish_pass {
	const struct om_phish *phish;
	const char *from_site;		/* NULL: no From domain */
	const char *own_site;		/* the recipient's; NULL: unknown */
	unsigned int links;		/* HTML links (href) seen */
	int related, lookalike, text_mismatch;
	int domain_in_host;		/* an href host wears another domain */
	struct om_mime_msg *msg;	/* its parts' texts, decoded once */
};

/* Each link host: related to From?  a lookalike of the recipient's?
   1 when it is From's own site. */
static int om_phish_link(struct om_phish_pass *pass, const char *host)
{
	const char *site = om_phish_site(pass->phish, host);
	int own = pass->from_site != NULL && strcasecmp(site, pass->from_site) == 0;

	pass->links++;
	if (!pass->domain_in_host)
		pass->domain_in_host = om_phish_domain_in_host(pass->phish, host);
	if (own)
		pass->related = 1;
	if (pass->own_site != NULL && om_phish_lookalike(site, pass->own_site))
		pass->lookalike = 1;
	return own;
}

/* A link in plain text: a lookalike of the recipient's domain?  (Plain
   text's URLs are not compared with From: mailing lists and forwarded
   mail quote every kind of site.) */
static int om_phish_text_link(void *context, const char *host)
{
	struct om_phish_pass *pass = context;

	if (pass->own_site != NULL &&
	    om_phish_lookalike(om_phish_site(pass->phish, host), pass->own_site))
		pass->lookalike = 1;
	return 0;
}

/* An http(s) href's host, to om_phish_link: 1 when it is From's site
   (a sender's own link, tracking included, deceives nobody about where
   it goes), else 0. */
static int om_phish_href(struct om_phish_pass *pass, const char *href)
{
	struct om_url url;
	char *error = NULL;
	int own = 0;

	if (om_url_parse(href, strlen(href), &url, &error) < 0) {
		free(error);
		return 0;
	}
	if ((strcmp(url.scheme, "http") == 0 || strcmp(url.scheme, "https") == 0) &&
	    url.host_type != OM_URL_HOST_NONE)
		own = om_phish_link(pass, url.host);
	om_url_free(&url);
	return own;
}

static void om_phish_html_node(struct om_phish_pass *pass, xmlNode *node)
{
	xmlChar *href, *text;

	for (; node != NULL; node = node->next) {
		if (node->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcasecmp(node->name, (const xmlChar *)"a") == 0 &&
		    (href = xmlGetProp(node, (const xmlChar *)"href")) != NULL) {
			text = xmlNodeGetContent(node);
			(void)om_phish_href(pass, (const char *)href);
			if (!pass->text_mismatch)
				pass->text_mismatch = om_phish_text_mismatch(pass->phish,
					(const char *)text, (const char *)href, pass->from_site);
			xmlFree(text);
			xmlFree(href);
			continue;
		}
		om_phish_html_node(pass, node->children);
	}
}

/* Each readable text part: an HTML part's links (href and the text it
   shows), a plain part's URLs.  Attachments are not read: what the
   recipient sees and clicks is the body. */
static void om_phish_part(void *parent, void *part, void *data)
{
	struct om_phish_pass *pass = data;
	GMimeObject *obj = part;
	htmlDocPtr doc;
	const char *text;

	(void)parent;
	if (!GMIME_IS_TEXT_PART(obj) || !om_mime_part_readable_text(obj))
		return;
	text = om_mime_part_text(pass->msg, obj);
	if (text == NULL)
		return;
	if (!g_mime_content_type_is_type(g_mime_object_get_content_type(obj),
					 "text", "html")) {
		(void)om_links_in_part(pass->msg, obj, om_phish_text_link, pass);
		return;
	}
	/* parsed once per message, shared with the tokenizer and links */
	doc = om_mime_part_html(pass->msg, obj);
	if (doc != NULL)
		om_phish_html_node(pass, xmlDocGetRootElement(doc));
}

/* The normalised domain of an address ("Name <a@b.example>"), allocated,
   or NULL. */
static char *om_phish_address_domain(const char *address)
{
	const char *at, *end;
	enum om_url_host_type type;
	char *host = NULL, *error = NULL;

	if (address == NULL || (at = strrchr(address, '@')) == NULL)
		return NULL;
	at++;
	end = at;
	while (*end != '\0' && strchr(">) \t\r\n,;\"", *end) == NULL)
		end++;
	if (end == at || om_url_host(at, (size_t)(end - at), &host, &type, &error) < 0) {
		free(error);
		return NULL;
	}
	return host;
}

static char *om_phish_site_dup(const struct om_phish *phish, const char *host)
{
	return host != NULL ? om_strdup(om_phish_site(phish, host)) : NULL;
}

/* len bytes of a domain name as a reader sees them (om_phish_skeleton),
   allocated; NULL when a letter looks like no Latin one. */
static char *om_phish_folded(const char *domain, size_t len)
{
	char skeleton[OM_PHISH_SKELETON_MAX], *copy = om_strndup(domain, len), *folded = NULL;

	if (om_phish_skeleton(copy, skeleton) && strchr(skeleton, '?') == NULL)
		folded = om_strdup(skeleton);
	free(copy);
	return folded;
}

/* sender from the From's normalised host (NULL: none): 1, or 0 with every
   member NULL. */
static int om_phish_sender_of(const struct om_phish *phish, const char *host,
			      struct om_phish_sender *sender)
{
	const char *site;
	size_t n;

	memset(sender, 0, sizeof(*sender));
	if (host == NULL)
		return 0;
	site = om_phish_site(phish, host);
	n = om_phish_name_len(site);
	if (site[n] == '.') {
		sender->site = om_strdup(site);
		if (n >= OM_PHISH_SENDER_NAME_MIN)
			sender->name = om_phish_folded(site, n);
		/* the labels before the site: kumodrive.example of
		   kumodrive.example.docs-share.test (site points into host) */
		if (site > host + 1 && site[-1] == '.')
			sender->worn = om_strndup(host, (size_t)(site - host - 1));
	}
	return sender->site != NULL;
}

int om_phish_sender_read(const struct om_phish *phish, struct om_mime_msg *msg,
			 struct om_phish_sender *sender)
{
	char *from, *host;
	int ret;

	memset(sender, 0, sizeof(*sender));
	if (phish == NULL || msg == NULL)
		return 0;
	from = om_mime_from_address(msg);
	host = om_phish_address_domain(from);
	free(from);
	ret = om_phish_sender_of(phish, host, sender);
	free(host);
	return ret;
}

void om_phish_sender_free(struct om_phish_sender *sender)
{
	om_free(&sender->site);
	om_free(&sender->name);
	om_free(&sender->worn);
}

/* 1 if from_site or reply_site looks like the domain of one of the
   addresses the recipient has written to, and neither is one of them. */
static int om_phish_partner_lookalike(const struct om_phish *phish, const char *from_site,
				      const char *reply_site,
				      const char *const *correspondents, size_t count)
{
	const char *site;
	char *host;
	size_t i;
	int like = 0;

	for (i = 0; i < count; i++) {
		host = om_phish_address_domain(correspondents[i]);
		if (host == NULL)
			continue;
		site = om_phish_site(phish, host);
		if ((from_site != NULL && strcasecmp(from_site, site) == 0) ||
		    (reply_site != NULL && strcasecmp(reply_site, site) == 0)) {
			free(host);
			return 0;	/* a partner's own domain */
		}
		like |= om_phish_lookalike(from_site, site) ||
			om_phish_lookalike(reply_site, site);
		free(host);
	}
	return like;
}

/* 1 if the From display name names a brand of the rules file
   ("brand" lines) and the From address is not on one of its domains; 2
   if its host also wears one of them before its own. */
static int om_phish_brand_impostor(const struct om_phish *phish, struct om_mime_msg *msg,
				   const char *from_host, const char *from_site)
{
	char *name;
	int impostor, worn;

	if (phish->textrules == NULL || from_host == NULL)
		return 0;
	name = om_mime_from_name(msg);
	impostor = om_textrules_brand_impostor(phish->textrules, name, from_host,
					       from_site, &worn) != NULL;
	free(name);
	return impostor ? 1 + worn : 0;
}

void om_phish_check(const struct om_phish *phish, struct om_mime_msg *msg,
		    const char *recipient_domain, const char *const *correspondents,
		    size_t count, struct om_rules_result *res,
		    struct om_phish_sender *sender)
{
	struct om_phish_pass pass;
	char *from = NULL, *from_host, *reply, *reply_host = NULL, *own_host = NULL;
	char *from_site, *reply_site, *own_site, *tmp = NULL;

	if (sender != NULL)
		memset(sender, 0, sizeof(*sender));
	if (phish == NULL || msg == NULL)
		return;
	memset(&pass, 0, sizeof(pass));
	pass.phish = phish;
	pass.msg = msg;
	from = om_mime_from_address(msg);
	from_host = om_phish_address_domain(from);
	reply = om_mime_header_decoded(msg, "Reply-To");
	reply_host = om_phish_address_domain(reply);
	if (recipient_domain == NULL) {
		/* no mailbox (omamorictl classify): the first To address */
		tmp = om_mime_header_decoded(msg, "To");
		if (tmp != NULL && strchr(tmp, ',') != NULL)
			*strchr(tmp, ',') = '\0';
		own_host = om_phish_address_domain(tmp);
		om_free(&tmp);
	} else if (*recipient_domain != '\0')
		own_host = om_phish_address_domain(strchr(recipient_domain, '@') != NULL ?
			recipient_domain : (tmp = om_asprintf("@%s", recipient_domain)));
	free(tmp);
	from_site = om_phish_site_dup(phish, from_host);
	reply_site = om_phish_site_dup(phish, reply_host);
	own_site = om_phish_site_dup(phish, own_host);
	pass.from_site = from_site;
	pass.own_site = own_site;
	om_mime_foreach_part(msg, om_phish_part, &pass);
	if (pass.text_mismatch)
		om_rules_add(res, "PHISH_LINK_TEXT", OM_PHISH_LINK_TEXT_POINTS);
	/* HTML links only (see om_phish_text_link) */
	if (from_site != NULL && pass.links > 0 && !pass.related)
		om_rules_add(res, "PHISH_FROM_UNRELATED", OM_PHISH_FROM_UNRELATED_POINTS);
	if (own_site != NULL && (pass.lookalike ||
				 om_phish_lookalike(from_site, own_site) ||
				 om_phish_lookalike(reply_site, own_site)))
		om_rules_add(res, "PHISH_LOOKALIKE", OM_PHISH_LOOKALIKE_POINTS);
	else if (om_phish_partner_lookalike(phish, from_site, reply_site, correspondents,
					    count))
		om_rules_add(res, "PHISH_LOOKALIKE_PARTNER", OM_PHISH_LOOKALIKE_PARTNER_POINTS);
	if (pass.domain_in_host || om_phish_domain_in_host(phish, from_host))
		om_rules_add(res, "PHISH_DOMAIN_IN_HOST", OM_PHISH_DOMAIN_IN_HOST_POINTS);
	if (reply_site != NULL && from_site != NULL &&
	    strcasecmp(reply_site, from_site) != 0 &&
	    om_phish_freemail(phish, reply_host) && !om_phish_freemail(phish, from_host))
		om_rules_add(res, "PHISH_FREEMAIL_REPLYTO", OM_PHISH_FREEMAIL_REPLYTO_POINTS);
	switch (om_phish_brand_impostor(phish, msg, from_host, from_site)) {
	case 2:
		om_rules_add(res, "PHISH_BRAND_WORN", OM_PHISH_BRAND_WORN_POINTS);
		/* fall through */
	case 1:
		om_rules_add(res, "PHISH_BRAND_NAME", OM_PHISH_BRAND_NAME_POINTS);
		break;
	default:
		break;
	}
	om_textrules_check(phish->textrules, msg, res);
	if (sender != NULL)
		(void)om_phish_sender_of(phish, from_host, sender);
	free(from);
	free(from_host);
	free(reply);
	free(reply_host);
	free(own_host);
	free(from_site);
	free(reply_site);
	free(own_site);
}
