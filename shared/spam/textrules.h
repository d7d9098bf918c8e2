/* textrules.h - phrase rules that need no training (issue 19, fifth
 * round): SpamAssassin-like rules over a message's words and the shape of
 * its links, read from a file an administrator can change
 * (/etc/omamori/spam.rules, conf/spam.rules).  A rule fires only for a
 * combination - every one of its phrase groups AND its link condition -
 * because each phrase alone is also in real notices (password resets,
 * card statements, shipping notices).  Each rule carries its points and a
 * reason in Japanese and in English (spam/reasons.h).
 */
#ifndef OM_TEXTRULES_H
#define OM_TEXTRULES_H

#include <stddef.h>

struct om_mime_msg;
struct om_rules_result;

/* The longest rules file read. */
#define OM_TEXTRULES_FILE_MAX (1024 * 1024)

struct om_textrules;

/* Parses a rules file's text; NULL with *error_r ("line N: ...") on the
   first error. */
struct om_textrules *om_textrules_parse(const char *data, char **error_r);
/* Reads and parses path; NULL with *error_r. */
struct om_textrules *om_textrules_load(const char *path, char **error_r);
void om_textrules_free(struct om_textrules **rules);
/* The number of rules. */
size_t om_textrules_count(const struct om_textrules *rules);

/* What the rules read of a message (the pure part, for the unit tests). */
struct om_textrules_facts {
	const char *text;	/* Subject and every readable text, UTF-8 */
	size_t links;		/* http(s) links (distinct hosts) */
	int link_ip;		/* a link's host is an IP address */
	int link_shortener;	/* ... a URL shortener of the file's list */
	int link_free_hosting;	/* ... under a free-hosting domain of the list */
};

/* Normalises text for matching (allocated): ASCII in lower case,
   full-width ASCII as ASCII, every white space (also U+3000) left out. */
char *om_textrules_normalise(const char *text);

/* Adds the rules that fire for facts to res (with their reasons). */
void om_textrules_match(const struct om_textrules *rules,
			const struct om_textrules_facts *facts,
			struct om_rules_result *res);

/* Reads msg's Subject, text parts (HTML as its text) and link hosts, and
   adds the rules that fire. */
void om_textrules_check(const struct om_textrules *rules, struct om_mime_msg *msg,
			struct om_rules_result *res);

/* The brand (its first name in the file) that display_name, a From
   address's display name, names while host, that address's normalised
   domain, is none of the brand's domains nor under one of them; NULL
   when it names none or is the brand's.  A display name with the word
   "via" ("Name via List": a mailing list rewrote From) names none.
   *worn_r (may be NULL) is 1 when host, not the brand's, wears one of
   the brand's domains as whole labels before site (host's registrable
   domain, its last labels; NULL: none known): 楽天カード from
   rakuten-card.co.jp.verify.example; else 0. */
const char *om_textrules_brand_impostor(const struct om_textrules *rules,
					const char *display_name, const char *host,
					const char *site, int *worn_r);

/* The registrable domain of host (normalised) when it lies under a name
   of a "site-suffixes" line (an ISP's or hosting company's customer
   sub-domains, each a site of its own, which the Public Suffix List does
   not know): the label before the longest such name and the name, as a
   pointer into host; NULL when it lies under none (the Public Suffix List
   then decides). */
const char *om_textrules_site(const struct om_textrules *rules, const char *host);

/* 1 if host (normalised, as spam/links.h reports it) is a shortener or
   free-hosting host of the list: kind 's' or 'f'. */
int om_textrules_host_is(const struct om_textrules *rules, const char *host, char kind);

#endif
