/* url.h - the one place omamori reads a URL: parsed, normalised, and the
 * keys it is looked up by in the URL reputation store (doc/links.md).
 *
 * Two spellings of the same address must give the same key, or a block on
 * one is walked around with the other: scheme and host in lower case, an
 * IDN host (UTF-8) as punycode (libidn2: IDNA2008 with UTS #46
 * non-transitional processing, as browsers do), %XX of unreserved
 * characters decoded and every other escape in upper case, default ports
 * and trailing dots removed, an empty path "/", "." and ".." segments
 * resolved, user information dropped (but noted: it hides the real host
 * from a reader), IPv4 in decimal, hex or octal forms as a dotted quad,
 * IPv6 compressed in brackets.  The registrable domain is the Public
 * Suffix List's (libpsl with the system's list, Debian's publicsuffix).
 *
 * Hosts are read leniently where browsers are lenient (an underscore is a
 * host character): a host that a browser would follow must never escape
 * the lookup for being unusual.  Everything is bounded: a URL over
 * OM_URL_MAX bytes or a host over OM_URL_HOST_MAX is an error that says so.
 */
#ifndef OM_URL_H
#define OM_URL_H

#include <stddef.h>

#include "lib/values.h"

#define OM_URL_MAX 8192		/* bytes of a URL as written */
#define OM_URL_HOST_MAX 253	/* DNS's limit on a name */
/* A host of 253 bytes has at most 127 labels: the host itself and each
   name above it. */
#define OM_URL_HOSTS_MAX 127

enum om_url_host_type {
	OM_URL_HOST_NONE = 0,
	OM_URL_HOST_NAME,
	OM_URL_HOST_IPV4,
	OM_URL_HOST_IPV6,
};

/* A parsed, normalised URL; every string allocated. */
struct om_url {
	char *scheme;		/* lower case */
	char *host;		/* normalised; IPv6 in brackets */
	enum om_url_host_type host_type;
	unsigned int port;	/* 0: the scheme's default (none written) */
	char *path;		/* "/" at least */
	char *query;		/* without '?'; NULL: none (or empty) */
	int userinfo;		/* the URL had user@ before its host */
	char *key;		/* scheme://host[:port]path[?query], no
				   fragment: what the store matches */
};

/* Parses the URL text[0..len) (it needs scheme://host; for http, https,
   ftp, ws and wss the slashes may be missing or backslashes, as browsers
   read them).  0 with *url_r filled (free with om_url_free), or -1 with
   *error_r (allocated) saying what is wrong. */
int om_url_parse(const char *text, size_t len, struct om_url *url_r,
		 char **error_r);
void om_url_free(struct om_url *url);

/* Normalises one host as written in a URL (%XX allowed, any case, UTF-8,
   trailing dots, "[v6]"): 0 with *host_r (allocated) and *type_r, or -1
   with *error_r. */
int om_url_host(const char *text, size_t len, char **host_r,
		enum om_url_host_type *type_r, char **error_r);

/* A normalised host name as a reader sees it: its punycode labels
   decoded to UTF-8 (libidn2), allocated; a copy of host when it has none
   or one does not decode.  For comparing what names look like (the
   lookalike rule, spam/phish.c), never for a lookup. */
char *om_url_host_unicode(const char *host);

/* The Public Suffix List, loaded once by whoever looks domains up. */
struct om_url_psl;

/* Loads the newest of the system's list (/usr/share/publicsuffix, through
   psl_latest) and libpsl's built-in one.  NULL with *error_r when there is
   neither. */
struct om_url_psl *om_url_psl_open(char **error_r);
void om_url_psl_close(struct om_url_psl **psl);
/* Where the list came from ("/usr/share/...dafsa" or "built-in"). */
const char *om_url_psl_source(const struct om_url_psl *psl);

/* The registrable domain of a normalised host name (example.co.jp for
   a.b.example.co.jp): a pointer into host, or NULL when there is none (an
   IP address, a public suffix itself, a single label). */
const char *om_url_registrable_domain(const struct om_url_psl *psl,
				      const char *host, enum om_url_host_type type);

/* 1 if the last label of a normalised host name is a top-level domain the
   list knows ("jp", "com"; not "js" of "Node.js"), else 0. */
int om_url_suffix_listed(const struct om_url_psl *psl, const char *host);

/* What one URL is looked up by: three point reads of the store. */
struct om_url_keys {
	const char *url;		/* the URL's key */
	const char *hosts[OM_URL_HOSTS_MAX];	/* the host, then each name
						   above it down to the
						   registrable domain */
	size_t nhosts;
	const char *domain;		/* the registrable domain, or NULL */
};
/* Fills keys from url (pointers into url: they live as long as it). */
void om_url_keys(const struct om_url_psl *psl, const struct om_url *url,
		 struct om_url_keys *keys_r);

/* An entry for the store, from a feed line or an administrator: a URL
   (text with "scheme://") is a url entry; a host name is a host entry, or
   a domain entry when it is its own registrable domain; an IP address a
   host entry.  A public suffix (co.jp, blogspot.com) is refused: the
   names under it belong to different owners.  0 with kind_r and *key_r
   (allocated), or -1 with *error_r. */
int om_url_entry(const struct om_url_psl *psl, const char *text, size_t len,
		 enum om_url_kind *kind_r, char **key_r, char **error_r);

#endif
