/* web-parse.h - the pure parsers of omamori-web: what comes from the
 * browser or the proxy in front (a urlencoded form body, Accept-Language,
 * X-Forwarded-For, a token in a URL path) and the listen address of
 * omamori.conf.  No I/O, no MHD: unit-tested and fuzzed on their own.
 */
#ifndef WEB_PARSE_H
#define WEB_PARSE_H

#include <stddef.h>
#include <sys/socket.h>

/* A form body has at most this many fields, each name and value at most
   this many bytes once decoded; more is refused, never cut. */
#define WEB_FORM_MAX_FIELDS 16
#define WEB_FORM_MAX_NAME 32
#define WEB_FORM_MAX_VALUE 2048
/* The one field whose value may hold line ends (CR, LF): the admin
   panel's CSV import (web-admin.c); every other value refuses them. */
#define WEB_FORM_LINES_FIELD "csv"

struct web_form_field {
	char *name;
	char *value;
};

struct web_form {
	size_t count;
	struct web_form_field fields[WEB_FORM_MAX_FIELDS];
};

/* Parses an application/x-www-form-urlencoded body of len bytes ("a=b&c=d",
   '+' a space, %XX a byte).  Refused: a bad %-escape, a control character
   or a byte that is not UTF-8 once decoded, a name that is not [a-z0-9_-],
   a field given twice, too many or too long fields.  0 (form_r filled, free
   it with web_form_free), or -1 with *error_r (static text) and nothing
   to free. */
int web_form_parse(const char *body, size_t len, struct web_form *form_r,
		   const char **error_r);
/* The value of field name, or NULL. */
const char *web_form_get(const struct web_form *form, const char *name);
void web_form_free(struct web_form *form);

/* The page language the browser prefers among "ja" and "en" by its
   Accept-Language header (NULL: none): the supported tag of highest q
   ("ja-JP" counts as "ja"; q=0 means never), else def. */
const char *web_parse_language(const char *header, const char *def);

/* The peer of a connection to our UNIX socket, and the word of
   web_trusted_proxies that trusts it. */
#define WEB_PEER_UNIX "unix"

/* The client's address: peer (numeric, as the socket says, or
   WEB_PEER_UNIX for a peer of the UNIX socket) unless peer is one of
   trusted (space-separated numeric addresses, and the word "unix" for
   every peer of the UNIX socket), in which case the last entry of xff
   (the X-Forwarded-For values, joined by ","; NULL: none), which that
   proxy wrote.  An entry that is not an IP address leaves the peer.  The
   address goes to buf (numeric, canonical form, or "unix"); 0, or -1 if
   it does not fit. */
int web_parse_client(const char *peer, const char *trusted, const char *xff,
		     char *buf, size_t size);

/* The key a client is rate-limited under: an IPv4 address itself, an IPv6
   address's /64 (one customer's network).  0, or -1 if it does not fit. */
int web_parse_rate_key(const char *address, char *buf, size_t size);

/* 1 if text can be a token of ours in a URL path (base64url and one '.',
   at most 2048 bytes), 0 if not. */
int web_parse_token_ok(const char *text);

/* 1 if a POST may be carried out as far as the browser's own headers
   say (login CSRF, doc/web.md): refused (0) when Sec-Fetch-Site is given
   and is neither "same-origin" nor "none", or when Origin is given (and
   not "null", which a page of ours sends under Referrer-Policy
   no-referrer) and its host[:port] is neither host (the request's Host
   header) nor that of url (web_url).  NULL: the header is absent. */
int web_parse_post_origin(const char *sec_fetch_site, const char *origin,
			  const char *host, const char *url);

/* Reads web_listen ("127.0.0.1:8741", "[::1]:8741", "localhost:8741",
   or "unix:/run/omamori-web/web.sock") into *addr_r.  Only loopback
   addresses and absolute UNIX socket paths are accepted: the HTTPS proxy
   is in front (doc/web.md).  0, or -1 with *error_r (allocated). */
int web_parse_listen(const char *text, struct sockaddr_storage *addr_r,
		     socklen_t *len_r, char **error_r);

#endif
