/* web-parse.c - omamori-web's parsers of untrusted text: form bodies,
 * Accept-Language, X-Forwarded-For, where a POST comes from (Origin,
 * Sec-Fetch-Site), tokens in paths, and the listen address.
 *
 * Everything here reads bytes a browser or a proxy chose, so each parser
 * has a bound and refuses what it does not expect (never cuts it); none
 * does I/O, so tests/unit/test-web.c and tests/fuzz/fuzz-web.c drive them
 * directly.
 */
#include "web-parse.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stddef.h>
#include <sys/un.h>

#define WEB_TOKEN_MAX 2048
#define WEB_LANG_TAG_MAX 32

/* ---- forms ---- */

/* 1 if s (len bytes) is UTF-8 without control characters (lines: CR and
   LF allowed, for the one multi-line field, WEB_FORM_LINES_FIELD). */
static int web_text_ok(const unsigned char *s, size_t len, int lines)
{
	size_t i = 0, n, k;
	unsigned int cp;

	while (i < len) {
		if (s[i] < 0x80) {
			if ((s[i] < 0x20 && !(lines && (s[i] == '\r' || s[i] == '\n'))) ||
			    s[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) { n = 1; cp = s[i] & 0x1f; }
		else if ((s[i] & 0xf0) == 0xe0) { n = 2; cp = s[i] & 0x0f; }
		else if ((s[i] & 0xf8) == 0xf0) { n = 3; cp = s[i] & 0x07; }
		else return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Decodes one urlencoded part (len bytes) into an allocated string of at
   most max bytes; NULL when it is malformed or too long. */
static char *web_form_decode(const char *s, size_t len, size_t max, int lines)
{
	char *out = om_malloc(len + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			if (len - i < 3 || (hi = om_hex_digit(s[i + 1])) < 0 ||
			    (lo = om_hex_digit(s[i + 2])) < 0)
				goto bad;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (o > max || !web_text_ok((const unsigned char *)out, o, lines))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

static int web_form_name_ok(const char *name)
{
	return *name != '\0' &&
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(name);
}

/* Adds the field "name=value" (part, len bytes) to form. */
static int web_form_add(struct web_form *form, const char *part, size_t len,
			const char **error_r)
{
	const char *eq = memchr(part, '=', len);
	char *name, *value;

	if (eq == NULL) {
		*error_r = "a form field without '='";
		return -1;
	}
	if (form->count == WEB_FORM_MAX_FIELDS) {
		*error_r = "too many form fields";
		return -1;
	}
	name = web_form_decode(part, (size_t)(eq - part), WEB_FORM_MAX_NAME, 0);
	if (name == NULL || !web_form_name_ok(name)) {
		free(name);
		*error_r = "a bad form field name";
		return -1;
	}
	if (web_form_get(form, name) != NULL) {
		free(name);
		*error_r = "a form field given twice";
		return -1;
	}
	value = web_form_decode(eq + 1, len - (size_t)(eq + 1 - part), WEB_FORM_MAX_VALUE,
				strcmp(name, WEB_FORM_LINES_FIELD) == 0);
	if (value == NULL) {
		free(name);
		*error_r = "a bad or too long form value";
		return -1;
	}
	form->fields[form->count].name = name;
	form->fields[form->count].value = value;
	form->count++;
	return 0;
}

int web_form_parse(const char *body, size_t len, struct web_form *form_r,
		   const char **error_r)
{
	const char *p = body, *end = body + len, *amp;

	memset(form_r, 0, sizeof(*form_r));
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {
			*error_r = "an empty form field";
			web_form_free(form_r);
			return -1;
		}
		if (web_form_add(form_r, p, (size_t)(amp - p), error_r) < 0) {
			web_form_free(form_r);
			return -1;
		}
		p = amp + 1;
		if (amp + 1 == end) {
			*error_r = "an empty form field";
			web_form_free(form_r);
			return -1;
		}
	}
	return 0;
}

const char *web_form_get(const struct web_form *form, const char *name)
{
	size_t i;

	for (i = 0; i < form->count; i++) {
		if (strcmp(form->fields[i].name, name) == 0)
			return form->fields[i].value;
	}
	return NULL;
}

void web_form_free(struct web_form *form)
{
	size_t i;

	for (i = 0; i < form->count; i++) {
		free(form->fields[i].name);
		free(form->fields[i].value);
	}
	memset(form, 0, sizeof(*form));
}

/* ---- Accept-Language ---- */

/* q of one item's parameters (";q=0.8"): 0..1000, or -1 if malformed. */
static int web_lang_q(const char *params)
{
	const char *p = params;
	int q = 1000, scale = 100;

	while (*p == ' ' || *p == ';')
		p++;
	if (*p == '\0')
		return q;
	if ((p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return -1;
	p += 2;
	if (*p == '1') {
		p++;
		if (*p == '.')
			for (p++; *p == '0'; p++) {}
		return *p == '\0' || *p == ' ' ? 1000 : -1;
	}
	if (*p != '0')
		return -1;
	q = 0;
	if (*++p == '.') {
		for (p++; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
			q += (*p - '0') * scale;
	}
	while (*p == ' ')
		p++;
	return *p == '\0' ? q : -1;
}

/* The supported language of a tag ("ja", "ja-JP", "EN-us"), or NULL. */
static const char *web_lang_of(const char *tag, size_t len)
{
	static const char *const langs[] = { "ja", "en" };
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(langs); i++) {
		if (len >= 2 && strncasecmp(tag, langs[i], 2) == 0 &&
		    (len == 2 || tag[2] == '-'))
			return langs[i];
	}
	return NULL;
}

const char *web_parse_language(const char *header, const char *def)
{
	const char *p = header, *best = def, *lang, *semi, *comma;
	char item[WEB_LANG_TAG_MAX + 32];
	int best_q = 0, q, items = 0;
	size_t len, tag_len;

	while (p != NULL && *p != '\0' && items++ < 32) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		if (len > 0 && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			semi = strchr(item, ';');
			tag_len = semi != NULL ? (size_t)(semi - item) : len;
			while (tag_len > 0 && item[tag_len - 1] == ' ')
				tag_len--;
			q = web_lang_q(semi != NULL ? semi : "");
			lang = web_lang_of(item, tag_len);
			if (lang != NULL && q > best_q) {
				best = lang;
				best_q = q;
			}
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	return best;
}

/* ---- the client's address ---- */

/* The canonical text of a numeric address (len bytes of s), or -1. */
static int web_addr_canon(const char *s, size_t len, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	int family;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(family, text, bin) != 1 ||
	    inet_ntop(family, bin, buf, (socklen_t)size) == NULL)
		return -1;
	return 0;
}

/* 1 if the canonical address addr is one of trusted (space-separated). */
static int web_addr_listed(const char *addr, const char *trusted)
{
	char canon[INET6_ADDRSTRLEN];
	const char *p = trusted, *end;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		if (end > p && web_addr_canon(p, (size_t)(end - p), canon, sizeof(canon)) == 0 &&
		    strcmp(canon, addr) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* 1 if word is one of list's space-separated words. */
static int web_word_listed(const char *word, const char *list)
{
	size_t len = strlen(word), n;
	const char *p = list;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == len && strncmp(p, word, len) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* The last entry of an X-Forwarded-For (the one our proxy wrote),
   canonical, into fwd; -1 if it is not an address. */
static int web_xff_last(const char *xff, char *fwd, size_t size)
{
	const char *last = strrchr(xff, ',');

	last = last != NULL ? last + 1 : xff;
	return web_addr_canon(last, strlen(last), fwd, size);
}

int web_parse_client(const char *peer, const char *trusted, const char *xff,
		     char *buf, size_t size)
{
	char canon[INET6_ADDRSTRLEN], fwd[INET6_ADDRSTRLEN];

	if (strcmp(peer, WEB_PEER_UNIX) == 0) {
		/* anybody who may connect to the socket: believed only when
		   the administrator said so ("unix" in web_trusted_proxies) */
		if (xff != NULL && trusted != NULL &&
		    web_word_listed(WEB_PEER_UNIX, trusted) &&
		    web_xff_last(xff, fwd, sizeof(fwd)) == 0)
			return om_strlcpy(buf, fwd, size);
		return om_strlcpy(buf, WEB_PEER_UNIX, size);
	}
	if (web_addr_canon(peer, strlen(peer), canon, sizeof(canon)) < 0)
		return om_strlcpy(buf, peer, size);
	if (xff != NULL && trusted != NULL && web_addr_listed(canon, trusted) &&
	    web_xff_last(xff, fwd, sizeof(fwd)) == 0)
		return om_strlcpy(buf, fwd, size);
	return om_strlcpy(buf, canon, size);
}

int web_parse_rate_key(const char *address, char *buf, size_t size)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (strchr(address, ':') == NULL || inet_pton(AF_INET6, address, &a6) != 1)
		return om_strlcpy(buf, address, size);
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) == NULL)
		return -1;
	if ((size_t)snprintf(buf, size, "%s/64", text) >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- where a POST comes from ---- */

/* The host[:port] of an origin or URL ("https://h:p/x"), into buf; -1 if
   it has none or it does not fit. */
static int web_authority(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL)
		return -1;
	p += 3;
	n = strcspn(p, "/?#");
	if (n == 0 || n >= size)
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

int web_parse_post_origin(const char *sec_fetch_site, const char *origin,
			  const char *host, const char *url)
{
	char from[256], ours[256];

	if (sec_fetch_site != NULL && strcmp(sec_fetch_site, "same-origin") != 0 &&
	    strcmp(sec_fetch_site, "none") != 0)
		return 0;
	if (origin == NULL || strcmp(origin, "null") == 0)
		return 1;
	if (web_authority(origin, from, sizeof(from)) < 0)
		return 0;
	if (host != NULL && strcasecmp(from, host) == 0)
		return 1;
	return url != NULL && web_authority(url, ours, sizeof(ours)) == 0 &&
		strcasecmp(from, ours) == 0;
}

/* ---- tokens and the listen address ---- */

int web_parse_token_ok(const char *text)
{
	size_t len = strnlen(text, WEB_TOKEN_MAX + 1);
	const char *dot = strchr(text, '.');

	return len > 0 && len <= WEB_TOKEN_MAX && dot != NULL && dot != text &&
		dot[1] != '\0' && strchr(dot + 1, '.') == NULL &&
		strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789-_.") == len;
}

/* The host and port parts of "HOST:PORT" or "[HOST]:PORT". */
static int web_listen_split(const char *text, char *host, size_t size,
			    unsigned long *port_r)
{
	const char *colon, *start = text, *end;

	if (*text == '[') {
		start = text + 1;
		end = strchr(start, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -1;
		end = colon;
	}
	if ((size_t)(end - start) >= size || end == start)
		return -1;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	return om_parse_ulong(colon + 1, 1, 65535, port_r);
}

/* A UNIX socket's absolute path into a struct sockaddr_un. */
static int web_listen_unix(const char *path, struct sockaddr_storage *addr_r,
			   socklen_t *len_r, char **error_r)
{
	struct sockaddr_un *un = (struct sockaddr_un *)addr_r;

	if (path[0] != '/' || strstr(path, "/../") != NULL) {
		*error_r = om_asprintf("web_listen: unix:%s is not an absolute path", path);
		return -1;
	}
	if (om_strlcpy(un->sun_path, path, sizeof(un->sun_path)) < 0) {
		*error_r = om_asprintf("web_listen: unix:%s: the path is too long "
				       "(at most %zu bytes)", path, sizeof(un->sun_path) - 1);
		return -1;
	}
	un->sun_family = AF_UNIX;
	*len_r = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return 0;
}

int web_parse_listen(const char *text, struct sockaddr_storage *addr_r,
		     socklen_t *len_r, char **error_r)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)addr_r;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr_r;
	char host[INET6_ADDRSTRLEN];
	unsigned long port;

	memset(addr_r, 0, sizeof(*addr_r));
	if (strncmp(text, "unix:", 5) == 0)
		return web_listen_unix(text + 5, addr_r, len_r, error_r);
	if (web_listen_split(text, host, sizeof(host), &port) < 0) {
		*error_r = om_asprintf("web_listen: '%s' is not ADDRESS:PORT", text);
		return -1;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
			goto not_loopback;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)port);
		*len_r = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			goto not_loopback;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*len_r = sizeof(*in6);
		return 0;
	}
	*error_r = om_asprintf("web_listen: '%s' is not a numeric address", host);
	return -1;
not_loopback:
	*error_r = om_asprintf("web_listen: %s is not a loopback address: omamori-web "
			       "listens on loopback only, behind an HTTPS proxy "
			       "(doc/web.md)", host);
	return -1;
}
