/* phish.h - phishing-shape rules that need no training (issue 19, issue
 * 15 item 5): a link whose text shows one site while its href goes to
 * another, a From domain unrelated to every link's domain, a sender or
 * link domain that looks like the recipient's own, and a Reply-To on a
 * free-mail domain when From is a company's.  Hosts and registrable
 * domains come from the url layer (url/url.h), so they are read as the
 * url-block lists and the reputation store read them.
 */
#ifndef OM_PHISH_H
#define OM_PHISH_H

#include <stddef.h>

struct om_mime_msg;
struct om_rules_result;
struct om_url_psl;

/* Points (SpamAssassin's scale): none reaches the threshold of 5 alone. */
#define OM_PHISH_LINK_TEXT_POINTS 2.5
#define OM_PHISH_FROM_UNRELATED_POINTS 0.5
#define OM_PHISH_LOOKALIKE_POINTS 4.0
/* a lookalike of a domain the recipient has written to (BEC) */
#define OM_PHISH_LOOKALIKE_PARTNER_POINTS 4.0
#define OM_PHISH_FREEMAIL_REPLYTO_POINTS 2.5
/* a From or link host wearing another domain before its own
   (paypal.com.login.example, bank.co.jp.verify.example) */
#define OM_PHISH_DOMAIN_IN_HOST_POINTS 2.5
/* a From domain that looks like one of the sites ham came from, as the
   classifier's memory of senders keeps them (spam.h), without being it */
#define OM_PHISH_LOOKALIKE_KNOWN_POINTS 4.0
/* BEC's signature: a lookalike (of the recipient's domain, a partner's, a
   known site's) asking for replies on free mail.  With its two rules'
   points 10 in all, the weight of a block-listed link: the classifier,
   which reads a copied business thread as the real one, alone no longer
   lets it through. */
#define OM_PHISH_BEC_SHAPE_POINTS 3.5
/* a From display name naming a well-known brand (spam.rules "brand"
   lines) on an address outside the brand's domains */
#define OM_PHISH_BRAND_NAME_POINTS 4.0
/* ... and its From host wears one of the brand's own domains before a
   stranger's (楽天カード from rakuten-card.co.jp.verify.example): no
   brand's real mail does that; with the two rules above 10.5 */
#define OM_PHISH_BRAND_WORN_POINTS 4.0

/* The Public Suffix List and the free-mail domains: loaded once per
   process, read-only afterwards (shared by scand's workers). */
struct om_phish;

/* Loads the Public Suffix List and the free-mail list at freemail_path
   (one domain a line, '#' comments; NULL or "": none).  NULL with
   *error_r. */
struct om_phish *om_phish_new(const char *freemail_path, char **error_r);
void om_phish_free(struct om_phish **phish);
/* Loads the administrator's phrase rules (spam/textrules.h) from path
   (NULL or "": none), replacing those loaded before; -1 with *error_r
   (the rules before are kept). */
int om_phish_load_rules(struct om_phish *phish, const char *path, char **error_r);

/* Adds the rules that fire for a parsed message.  recipient_domain (the
   mailbox's address or domain; NULL: the first To address's) is what
   lookalikes are compared with; correspondents (count addresses the
   recipient has written to, may be NULL) too: a From or Reply-To domain
   that looks like one of theirs without being it is PHISH_LOOKALIKE_PARTNER
   (a thread copied from a lookalike domain: BEC).  sender (NULL: not wanted) gets the From as om_phish_sender_read reads
   it, from the address parsed once for both (free with
   om_phish_sender_free). */
struct om_phish_sender;
void om_phish_check(const struct om_phish *phish, struct om_mime_msg *msg,
		    const char *recipient_domain, const char *const *correspondents,
		    size_t count, struct om_rules_result *res,
		    struct om_phish_sender *sender);

/* Who a message says it is from, as the classifier's memory of the sites
   ham came from keeps it (spam.h, PHISH_LOOKALIKE_KNOWN). */
struct om_phish_sender {
	/* the From address's registrable domain (or its site under a
	   site-suffixes name), as it is: "aoba-shoji.co.jp" */
	char *site;
	/* the site without its public suffix as a reader sees it
	   (om_phish_lookalike's folding: 0 as o, i as l, rn as m, Cyrillic
	   а as a ...), "aoba-shojl"; NULL when shorter than 5 or of letters
	   drawn like no Latin one */
	char *name;
	/* the host's labels before its site, as they are: "towa-sys.co.jp"
	   of towa-sys.co.jp.mail-gw.example; NULL: none */
	char *worn;
};

/* Reads msg's From into sender (allocated members; free with
   om_phish_sender_free): 1, or 0 with every member NULL when there is no
   From domain or it is an IP address or a single label. */
int om_phish_sender_read(const struct om_phish *phish, struct om_mime_msg *msg,
			 struct om_phish_sender *sender);
void om_phish_sender_free(struct om_phish_sender *sender);

/* ---- pure functions, for the unit tests ---- */

/* 1 if candidate (a registrable domain, ASCII or punycode) is not own but
   looks like it: one edit (insert, delete, change, swap of neighbours) in
   a name of 5 or more letters, digits for letters (0/o, 1/l/i, 3/e, 5/s,
   rn/m, vv/w), or, once decoded from punycode by libidn2, letters of
   other scripts that look Latin (Cyrillic а, о, е, р, с ...). */
int om_phish_lookalike(const char *candidate, const char *own);

/* 1 if a normalised host name carries, left of its own public suffix, a
   name ending in a top-level domain with a label before it: a domain worn
   as a sub-domain ("rakuten-card.co.jp.example", "paypal.com.login.test")
   so that the reader sees the brand's address; else 0. */
int om_phish_domain_in_host(const struct om_phish *phish, const char *host);

/* The host a link's visible text shows ("https://www.bank.example/...",
   "www.bank.example", "bank.example/login"), normalised; allocated, or
   NULL when the text shows none. */
char *om_phish_text_host(const char *text);

/* 1 if the link text shows a host whose registrable domain is not the
   href's; 0 otherwise (no host shown, same site, unreadable href).  A
   bare name in the text ("Walmart.com", no scheme, no "www.") linking to
   from_site (the sender's registrable domain, may be NULL) is a name, not
   a claim about where the link goes: 0. */
int om_phish_text_mismatch(const struct om_phish *phish, const char *text,
			   const char *href, const char *from_site);

/* 1 if domain (or a domain it lies under) is on the free-mail list. */
int om_phish_freemail(const struct om_phish *phish, const char *domain);

#endif
