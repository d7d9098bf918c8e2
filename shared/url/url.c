/* url.c - URL parsing and normalisation, registrable domains and the
 * store's lookup keys (see url.h for the rules and why).
 *
 * The parser follows what browsers do with a link (the WHATWG URL
 * standard) where a difference would let a link reach a host the lookup
 * did not see: tabs and line ends inside are dropped, the authority ends
 * at '/', '\', '?' or '#', user information ends at the last '@', a host
 * ending in a number is an IPv4 address in any of its old forms.  Every
 * buffer is bounded by the URL's length, itself at most OM_URL_MAX.
 */
#include "url/url.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct om_url_psl {
	psl_ctx_t *ctx;		/* from the system's file */
	const psl_ctx_t *use;	/* ctx, or libpsl's built-in list */
	const char *source;
};

/* The schemes browsers read leniently, and their default ports. */
static const struct om_url_special {
	const char *scheme;
	unsigned int port;
} om_url_specials[] = {
	{ "http", 80 }, { "https", 443 }, { "ws", 80 }, { "wss", 443 },
	{ "ftp", 21 },
};

static const struct om_url_special *om_url_special(const char *scheme)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_url_specials); i++) {
		if (strcmp(om_url_specials[i].scheme, scheme) == 0)
			return &om_url_specials[i];
	}
	return NULL;
}

static int om_url_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int om_url_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char om_url_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* RFC 3986's unreserved characters: an escape of one is decoded. */
static int om_url_unreserved(unsigned char c)
{
	return om_url_is_alpha((char)c) || om_url_is_digit((char)c) ||
		c == '-' || c == '.' || c == '_' || c == '~';
}

/* Characters a path (or, with '?', a query) keeps as they are. */
static int om_url_keeps(unsigned char c, int query)
{
	return om_url_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@/", c) != NULL) ||
		(query && c == '?');
}

/* ---- hosts ---- */

/* Bytes no host may hold (after %XX decoding), as browsers refuse them. */
static int om_url_host_forbidden(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || (c != '\0' && strchr("#%/:<>?@[\\]^|", c) != NULL);
}

/* One part of an IPv4 address: decimal, 0x hex or 0 octal.  0 or -1. */
static int om_url_ipv4_part(const char *p, size_t len, uint64_t *value_r)
{
	unsigned int base = 10;
	uint64_t v = 0;
	int d;

	if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		len -= 2;
	} else if (len >= 2 && p[0] == '0') {
		base = 8;
		p++;
		len--;
	}
	if (len == 0 && base != 16)
		return -1;
	for (; len > 0; p++, len--) {
		d = om_hex_digit(*p);
		if (d < 0 || (unsigned int)d >= base)
			return -1;
		v = v * base + (unsigned int)d;
		if (v > 0xffffffffULL)
			return -1;
	}
	*value_r = v;
	return 0;
}

/* A host whose last label is a number is an IPv4 address (browsers read
   it so: http://0x7f.1/ is 127.0.0.1). */
static int om_url_ends_in_number(const char *host)
{
	const char *last = strrchr(host, '.');

	last = last != NULL ? last + 1 : host;
	if (*last == '\0')
		return 0;
	if (last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
		for (last += 2; *last != '\0'; last++) {
			if (om_hex_digit(*last) < 0)
				return 0;
		}
		return 1;
	}
	for (; *last != '\0'; last++) {
		if (!om_url_is_digit(*last))
			return 0;
	}
	return 1;
}

/* host (trailing dots gone) as a dotted quad into out.  0 or -1. */
static int om_url_ipv4(const char *host, char out[16])
{
	uint64_t parts[4], v;
	const char *p = host, *dot;
	size_t n = 0, i;

	for (;;) {
		dot = strchr(p, '.');
		if (n == 4 ||
		    om_url_ipv4_part(p, dot != NULL ? (size_t)(dot - p) : strlen(p),
				     &parts[n]) < 0)
			return -1;
		n++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	/* each part a byte, the last one filling what is left */
	for (i = 0; i + 1 < n; i++) {
		if (parts[i] > 255)
			return -1;
	}
	if (parts[n - 1] >= (1ULL << (8 * (5 - n))))
		return -1;
	v = parts[n - 1];
	for (i = 0; i + 1 < n; i++)
		v += parts[i] << (8 * (3 - i));
	snprintf(out, 16, "%u.%u.%u.%u", (unsigned int)(v >> 24) & 255,
		 (unsigned int)(v >> 16) & 255, (unsigned int)(v >> 8) & 255,
		 (unsigned int)v & 255);
	return 0;
}

/* "[v6]": compressed by inet_ntop, in brackets.  0 or -1. */
static int om_url_ipv6(const char *text, size_t len, char **host_r, char **error_r)
{
	char in[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN];
	struct in6_addr addr;

	if (len < 2 || text[len - 1] != ']' || len - 2 > INET6_ADDRSTRLEN) {
		*error_r = om_strdup("invalid IPv6 address in host");
		return -1;
	}
	memcpy(in, text + 1, len - 2);
	in[len - 2] = '\0';
	if (inet_pton(AF_INET6, in, &addr) != 1 ||
	    inet_ntop(AF_INET6, &addr, out, sizeof(out)) == NULL) {
		*error_r = om_strdup("invalid IPv6 address in host");
		return -1;
	}
	*host_r = om_asprintf("[%s]", out);
	return 0;
}

/* %XX decoded into a new string; NULL with *error_r for a NUL byte. */
static char *om_url_host_decode(const char *text, size_t len, int *ascii_r,
				char **error_r)
{
	char *out = om_malloc(len + 1);
	size_t i, n = 0;
	int hi, lo;
	char c;

	*ascii_r = 1;
	for (i = 0; i < len; i++) {
		c = text[i];
		if (c == '%' && i + 2 < len && (hi = om_hex_digit(text[i + 1])) >= 0 &&
		    (lo = om_hex_digit(text[i + 2])) >= 0) {
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0') {
			*error_r = om_strdup("NUL byte in host");
			free(out);
			return NULL;
		}
		if ((unsigned char)c >= 0x80)
			*ascii_r = 0;
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

/* Trailing dots removed in place; the new length. */
static size_t om_url_strip_dots(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	return n;
}

/* A decoded name (no IPv6) as its ASCII form: punycode for IDN, lower
   case.  Allocated, or NULL with *error_r. */
static char *om_url_host_ascii(char *name, int ascii, char **error_r)
{
	char *out = NULL, *copy;
	size_t i;
	int rc;

	if (ascii) {
		for (i = 0; name[i] != '\0'; i++)
			name[i] = om_url_lower(name[i]);
		return om_strdup(name);
	}
	rc = idn2_to_ascii_8z(name, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc == IDN2_TOO_BIG_DOMAIN) {
		*error_r = om_asprintf("host longer than %d bytes", OM_URL_HOST_MAX);
		return NULL;
	}
	if (rc != IDN2_OK) {
		*error_r = om_asprintf("host is no valid internationalised name (%s)",
				       idn2_strerror(rc));
		return NULL;
	}
	copy = om_strdup(out);
	idn2_free(out);
	for (i = 0; copy[i] != '\0'; i++)
		copy[i] = om_url_lower(copy[i]);
	return copy;
}

/* The checks every normalised name passes: characters, length. */
static int om_url_name_check(const char *host, char **error_r)
{
	const unsigned char *p;

	if (*host == '\0') {
		*error_r = om_strdup("empty host");
		return -1;
	}
	for (p = (const unsigned char *)host; *p != '\0'; p++) {
		if (om_url_host_forbidden(*p)) {
			if (*p > 0x20 && *p < 0x7f)
				*error_r = om_asprintf("character '%c' in host", *p);
			else
				*error_r = om_asprintf("byte 0x%02x in host", *p);
			return -1;
		}
	}
	if (strlen(host) > OM_URL_HOST_MAX) {
		*error_r = om_asprintf("host longer than %d bytes", OM_URL_HOST_MAX);
		return -1;
	}
	return 0;
}

char *om_url_host_unicode(const char *host)
{
	char *unicode = NULL, *copy;

	if (strstr(host, "xn--") == NULL ||
	    idn2_to_unicode_8z8z(host, &unicode, 0) != IDN2_OK || unicode == NULL) {
		idn2_free(unicode);
		return om_strdup(host);
	}
	copy = om_strdup(unicode);
	idn2_free(unicode);
	return copy;
}

int om_url_host(const char *text, size_t len, char **host_r,
		enum om_url_host_type *type_r, char **error_r)
{
	char *decoded, *name, quad[16];
	int ascii;

	*host_r = NULL;
	*type_r = OM_URL_HOST_NONE;
	if (len > 0 && text[0] == '[') {
		if (om_url_ipv6(text, len, host_r, error_r) < 0)
			return -1;
		*type_r = OM_URL_HOST_IPV6;
		return 0;
	}
	if (len > 4 * OM_URL_HOST_MAX) {
		/* even %XX-encoded, no name can be longer */
		*error_r = om_asprintf("host longer than %d bytes", OM_URL_HOST_MAX);
		return -1;
	}
	decoded = om_url_host_decode(text, len, &ascii, error_r);
	if (decoded == NULL)
		return -1;
	(void)om_url_strip_dots(decoded);
	if (*decoded == '\0') {
		free(decoded);
		*error_r = om_strdup("empty host");
		return -1;
	}
	name = om_url_host_ascii(decoded, ascii, error_r);
	free(decoded);
	if (name == NULL)
		return -1;
	(void)om_url_strip_dots(name);	/* an ideographic full stop at the end */
	if (om_url_name_check(name, error_r) < 0) {
		free(name);
		return -1;
	}
	if (om_url_ends_in_number(name)) {
		if (om_url_ipv4(name, quad) < 0) {
			*error_r = om_asprintf("host ends in a number but is no IPv4 address");
			free(name);
			return -1;
		}
		free(name);
		*host_r = om_strdup(quad);
		*type_r = OM_URL_HOST_IPV4;
		return 0;
	}
	*host_r = name;
	*type_r = OM_URL_HOST_NAME;
	return 0;
}

/* ---- paths and queries ---- */

/* text[0..len) with its escapes normalised into out (which has room for
   3 * len + 1 bytes): unreserved escapes decoded, other escapes in upper
   case, a lone '%' and every character a URL must not hold literally
   escaped.  In a path of a special scheme '\' is '/'. */
static void om_url_escapes(const char *text, size_t len, int query, int special,
			   struct om_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (c == '%' && i + 2 < len && (hi = om_hex_digit(text[i + 1])) >= 0 &&
		    (lo = om_hex_digit(text[i + 2])) >= 0) {
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (om_url_unreserved(c)) {
				om_buf_append(out, &c, 1);
				continue;
			}
		} else if (c == '\\' && special && !query) {
			om_buf_append(out, "/", 1);
			continue;
		} else if (om_url_keeps(c, query)) {
			om_buf_append(out, &c, 1);
			continue;
		}
		om_buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

/* RFC 3986's remove_dot_segments on an absolute path, into out. */
static void om_url_dot_segments(const char *path, struct om_buf *out)
{
	const char *seg = path + 1, *end;
	size_t len;
	int last;
	char *slash;

	om_buf_reset(out);
	for (;;) {
		end = strchr(seg, '/');
		len = end != NULL ? (size_t)(end - seg) : strlen(seg);
		last = end == NULL;
		if (len == 1 && seg[0] == '.') {
			if (last)
				om_buf_append(out, "/", 1);
		} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			if (out->len > 0) {
				slash = strrchr(out->data, '/');
				out->len = (size_t)(slash - out->data);
				out->data[out->len] = '\0';
			}
			if (last)
				om_buf_append(out, "/", 1);
		} else {
			om_buf_append(out, "/", 1);
			om_buf_append(out, seg, len);
		}
		if (last)
			break;
		seg = end + 1;
	}
	if (out->len == 0)
		om_buf_append(out, "/", 1);
}

/* ---- the whole URL ---- */

/* A copy of text without tabs and line ends and without the spaces and
   control characters around it; NULL with *error_r for a NUL byte. */
static char *om_url_clean(const char *text, size_t len, char **error_r)
{
	char *out;
	size_t i, n = 0;

	while (len > 0 && (unsigned char)text[0] <= 0x20 && text[0] != '\0') {
		text++;
		len--;
	}
	while (len > 0 && (unsigned char)text[len - 1] <= 0x20 && text[len - 1] != '\0')
		len--;
	out = om_malloc(len + 1);
	for (i = 0; i < len; i++) {
		if (text[i] == '\0') {
			*error_r = om_strdup("NUL byte in URL");
			free(out);
			return NULL;
		}
		if (text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
			out[n++] = text[i];
	}
	out[n] = '\0';
	return out;
}

/* The scheme at the start of s, lower case; *rest_r after its ':'.
   NULL with *error_r when there is none. */
static char *om_url_scheme(const char *s, const char **rest_r, char **error_r)
{
	size_t n = 0, i;
	char *scheme;

	if (om_url_is_alpha(s[0])) {
		n = 1;
		while (om_url_is_alpha(s[n]) || om_url_is_digit(s[n]) ||
		       s[n] == '+' || s[n] == '-' || s[n] == '.')
			n++;
	}
	if (n == 0 || s[n] != ':' || n > 32) {
		*error_r = om_strdup("no scheme (a URL starts with http:// or https://)");
		return NULL;
	}
	scheme = om_strndup(s, n);
	for (i = 0; i < n; i++)
		scheme[i] = om_url_lower(scheme[i]);
	*rest_r = s + n + 1;
	return scheme;
}

/* The port text[0..len) (empty: none): 0 with *port_r, or -1. */
static int om_url_port(const char *text, size_t len, unsigned int *port_r,
		       char **error_r)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!om_url_is_digit(text[i])) {
			*error_r = om_strdup("port is not a number");
			return -1;
		}
		v = v * 10 + (unsigned long)(text[i] - '0');
		if (v > 65535) {
			*error_r = om_strdup("port over 65535");
			return -1;
		}
	}
	*port_r = (unsigned int)v;
	return 0;
}

/* The authority a[0..len): user information noted and dropped, host and
   port normalised into url.  0 or -1. */
static int om_url_authority(const char *a, size_t len, struct om_url *url,
			    char **error_r)
{
	const char *at = NULL, *p, *colon = NULL, *host;
	size_t hlen;

	for (p = a; p < a + len; p++) {
		if (*p == '@')
			at = p;
	}
	if (at != NULL) {
		url->userinfo = 1;
		len -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	host = a;
	if (len > 0 && a[0] == '[') {
		p = memchr(a, ']', len);
		if (p == NULL) {
			*error_r = om_strdup("invalid IPv6 address in host");
			return -1;
		}
		hlen = (size_t)(p + 1 - a);
		if (hlen < len && a[hlen] != ':') {
			*error_r = om_strdup("text after an IPv6 address");
			return -1;
		}
		colon = hlen < len ? a + hlen : NULL;
	} else {
		/* the first ':' ends the host (in "a:b:80" the port is no
		   number) */
		colon = memchr(a, ':', len);
		hlen = colon != NULL ? (size_t)(colon - a) : len;
	}
	if (hlen == 0) {
		*error_r = om_strdup("empty host");
		return -1;
	}
	if (colon != NULL &&
	    om_url_port(colon + 1, (size_t)(a + len - colon - 1), &url->port, error_r) < 0)
		return -1;
	return om_url_host(host, hlen, &url->host, &url->host_type, error_r);
}

/* After "scheme:": the authority's start, or NULL with *error_r. */
static const char *om_url_after_scheme(const char *rest, int special,
				       char **error_r)
{
	if (special) {
		while (*rest == '/' || *rest == '\\')
			rest++;
		return rest;
	}
	if (rest[0] != '/' || rest[1] != '/') {
		*error_r = om_strdup("no host (only scheme://host... URLs are looked up)");
		return NULL;
	}
	return rest + 2;
}

/* Path (from p, up to '?' or '#') and query, normalised into url. */
static void om_url_path_query(const char *p, int special, struct om_url *url)
{
	struct om_buf raw, path;
	size_t plen = strcspn(p, "?#"), qlen, slash;

	om_buf_init(&raw);
	om_buf_init(&path);
	/* the path always starts with '/' (the authority ended at it) */
	slash = plen > 0 && (p[0] == '/' || (special && p[0] == '\\'));
	om_buf_append(&raw, "/", 1);
	om_url_escapes(p + slash, plen - slash, 0, special, &raw);
	om_url_dot_segments(raw.data, &path);
	url->path = om_buf_steal(&path, NULL);
	om_buf_free(&raw);
	if (p[plen] == '?') {
		p += plen + 1;
		qlen = strcspn(p, "#");
		if (qlen > 0) {
			om_url_escapes(p, qlen, 1, special, &raw);
			url->query = om_buf_steal(&raw, NULL);
		}
	}
	om_buf_free(&raw);
}

static void om_url_make_key(struct om_url *url)
{
	struct om_buf key;

	om_buf_init(&key);
	om_buf_printf(&key, "%s://%s", url->scheme, url->host);
	if (url->port != 0)
		om_buf_printf(&key, ":%u", url->port);
	om_buf_append_str(&key, url->path);
	if (url->query != NULL)
		om_buf_printf(&key, "?%s", url->query);
	url->key = om_buf_steal(&key, NULL);
}

int om_url_parse(const char *text, size_t len, struct om_url *url_r,
		 char **error_r)
{
	const struct om_url_special *special;
	const char *rest, *auth;
	char *clean;
	size_t alen;

	memset(url_r, 0, sizeof(*url_r));
	if (len > OM_URL_MAX) {
		*error_r = om_asprintf("URL longer than %d bytes", OM_URL_MAX);
		return -1;
	}
	if ((clean = om_url_clean(text, len, error_r)) == NULL)
		return -1;
	if ((url_r->scheme = om_url_scheme(clean, &rest, error_r)) == NULL)
		goto fail;
	special = om_url_special(url_r->scheme);
	if ((auth = om_url_after_scheme(rest, special != NULL, error_r)) == NULL)
		goto fail;
	alen = strcspn(auth, special != NULL ? "/\\?#" : "/?#");
	if (om_url_authority(auth, alen, url_r, error_r) < 0)
		goto fail;
	if (special != NULL && url_r->port == special->port)
		url_r->port = 0;
	om_url_path_query(auth + alen, special != NULL, url_r);
	om_url_make_key(url_r);
	free(clean);
	return 0;
fail:
	free(clean);
	om_url_free(url_r);
	return -1;
}

void om_url_free(struct om_url *url)
{
	om_free(&url->scheme);
	om_free(&url->host);
	om_free(&url->path);
	om_free(&url->query);
	om_free(&url->key);
}

/* ---- the Public Suffix List ---- */

struct om_url_psl *om_url_psl_open(char **error_r)
{
	struct om_url_psl *psl = om_calloc(1, sizeof(*psl));

	psl->ctx = psl_latest(NULL);
	if (psl->ctx != NULL) {
		psl->use = psl->ctx;
		psl->source = psl_dist_filename();
		return psl;
	}
	psl->use = psl_builtin();
	if (psl->use != NULL) {
		psl->source = "built-in";
		return psl;
	}
	free(psl);
	*error_r = om_asprintf("no Public Suffix List: neither %s (apt-get install "
			       "publicsuffix) nor libpsl's built-in one",
			       psl_dist_filename());
	return NULL;
}

void om_url_psl_close(struct om_url_psl **pslp)
{
	struct om_url_psl *psl = *pslp;

	if (psl == NULL)
		return;
	*pslp = NULL;
	psl_free(psl->ctx);
	free(psl);
}

const char *om_url_psl_source(const struct om_url_psl *psl)
{
	return psl->source;
}

const char *om_url_registrable_domain(const struct om_url_psl *psl,
				      const char *host, enum om_url_host_type type)
{
	if (type != OM_URL_HOST_NAME)
		return NULL;
	return psl_registrable_domain(psl->use, host);
}

int om_url_suffix_listed(const struct om_url_psl *psl, const char *host)
{
	const char *tld = strrchr(host, '.');

	tld = tld != NULL ? tld + 1 : host;
	return *tld != '\0' &&
		psl_is_public_suffix2(psl->use, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
}

void om_url_keys(const struct om_url_psl *psl, const struct om_url *url,
		 struct om_url_keys *keys_r)
{
	const char *p = url->host;
	size_t dlen;

	memset(keys_r, 0, sizeof(*keys_r));
	keys_r->url = url->key;
	keys_r->domain = om_url_registrable_domain(psl, url->host, url->host_type);
	keys_r->hosts[keys_r->nhosts++] = url->host;
	if (keys_r->domain == NULL)
		return;
	/* each name above the host, down to the registrable domain */
	dlen = strlen(keys_r->domain);
	while (strlen(p) > dlen && (p = strchr(p, '.')) != NULL &&
	       keys_r->nhosts < OM_URL_HOSTS_MAX) {
		p++;
		if (strlen(p) < dlen)
			break;
		keys_r->hosts[keys_r->nhosts++] = p;
	}
}

/* ---- entries ---- */

int om_url_entry(const struct om_url_psl *psl, const char *text, size_t len,
		 enum om_url_kind *kind_r, char **key_r, char **error_r)
{
	enum om_url_host_type type;
	struct om_url url;
	const char *domain;
	char *host;

	*key_r = NULL;
	*kind_r = OM_URL_KIND_NONE;
	while (len > 0 && (text[0] == ' ' || text[0] == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
			   text[len - 1] == '\r' || text[len - 1] == '\n'))
		len--;
	if (len == 0) {
		*error_r = om_strdup("empty entry");
		return -1;
	}
	if (memmem(text, len, "://", 3) != NULL) {
		if (om_url_parse(text, len, &url, error_r) < 0)
			return -1;
		*kind_r = OM_URL_KIND_URL;
		*key_r = url.key;
		url.key = NULL;
		om_url_free(&url);
		return 0;
	}
	if (memchr(text, '/', len) != NULL || memchr(text, ':', len) != NULL ||
	    memchr(text, '@', len) != NULL) {
		*error_r = om_strdup("neither a URL (scheme://...) nor a host name");
		return -1;
	}
	if (memchr(text, '*', len) != NULL) {
		*error_r = om_asprintf("no wildcards: a registrable domain (%.*s) "
				       "covers every host under it, a host name "
				       "only itself",
				       (int)(len > 2 && text[0] == '*' && text[1] == '.' ?
					     (len - 2 > 200 ? 200 : len - 2) : 11),
				       len > 2 && text[0] == '*' && text[1] == '.' ?
				       text + 2 : "example.com");
		return -1;
	}
	if (om_url_host(text, len, &host, &type, error_r) < 0)
		return -1;
	*kind_r = OM_URL_KIND_HOST;
	if (type == OM_URL_HOST_NAME) {
		domain = om_url_registrable_domain(psl, host, type);
		if (domain == NULL && strchr(host, '.') == NULL) {
			*error_r = om_asprintf("%s has no dot: no host name of the "
					       "Internet", host);
			free(host);
			return -1;
		}
		if (domain == NULL) {
			*error_r = om_asprintf("%s is a public suffix (the names under it "
					       "belong to different owners): list the "
					       "hosts themselves", host);
			free(host);
			return -1;
		}
		if (strcmp(domain, host) == 0)
			*kind_r = OM_URL_KIND_DOMAIN;
	}
	*key_r = host;
	return 0;
}
