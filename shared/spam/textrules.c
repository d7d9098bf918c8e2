/* textrules.c - phrase rules over a message's words and link shapes,
 * read from the administrator's rules file (see textrules.h).
 *
 * The file is line based, like attachments.rules:
 *   shorteners HOST ...        URL shorteners ("link shortener")
 *   free-hosting DOMAIN ...    free web hosting ("link free-hosting")
 *   site-suffixes NAME ...     each label under NAME is a site of its own
 *   brand NAME|NAME... DOMAIN ...
 *                              a well-known sender and its own domains: a
 *                              display name that names it from any other
 *                              domain is PHISH_BRAND_NAME (spam/phish.c)
 *   rule NAME POINTS           starts a rule; the lines below belong to it
 *   text PHRASE|PHRASE|...     a group: one of its phrases must occur
 *   link any|odd|ip|shortener|free-hosting
 *   reason-ja TEXT / reason-en TEXT
 * A rule fires when every one of its groups has a phrase in the message
 * and its link condition holds ("odd": an IP, shortener or free-hosting
 * host).  Phrases and text are compared normalised (lower case, full-width
 * ASCII as ASCII, no white space), so that a phrase wrapped over two
 * lines or written in full-width digits still matches.
 */
#include "spam/textrules.h"
#include "spam/links.h"
#include "spam/rules.h"
#include "mail/mime.h"
#include "lib/hash.h"
#include "lib/util.h"

#include <gmime/gmime.h>
#include <ctype.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define OM_TEXTRULES_GROUPS_MAX 4
#define OM_TEXTRULES_BRANDS_MAX 1024
#define OM_TEXTRULES_BRAND_WORDS_MAX 16	/* names, domains of one brand */
#define OM_TEXTRULES_PHRASES_MAX 64
#define OM_TEXTRULES_RULES_MAX 256
#define OM_TEXTRULES_TEXT_MAX (512 * 1024)	/* bytes of text read */

enum om_textrules_link {
	OM_TEXTRULES_LINK_NONE = 0,	/* no condition */
	OM_TEXTRULES_LINK_ANY,
	OM_TEXTRULES_LINK_ODD,
	OM_TEXTRULES_LINK_IP,
	OM_TEXTRULES_LINK_SHORTENER,
	OM_TEXTRULES_LINK_FREE_HOSTING,
};

struct om_textrules_group {
	char *phrases[OM_TEXTRULES_PHRASES_MAX];
	size_t count;
};

struct om_textrule {
	char name[OM_RULE_NAME_MAX];
	double points;
	struct om_textrules_group groups[OM_TEXTRULES_GROUPS_MAX];
	size_t group_count;
	enum om_textrules_link link;
	char *reason_ja, *reason_en;
};

/* A well-known sender: the names its mail shows, the domains it is sent
   from.  A name of ASCII letters and digits only is matched as the first
   words of the display name ("Apple Support"; not "pineapple", nor
   "Lockergnome Apple Core", a newsletter about the brand), any other as a
   part of the display name normalised (楽天カード in 【楽天カード】). */
struct om_textrules_brand {
	char *label;		/* the first name as the file writes it */
	char *names[OM_TEXTRULES_BRAND_WORDS_MAX];
	int name_is_words[OM_TEXTRULES_BRAND_WORDS_MAX];
	size_t name_count;
	char *domains[OM_TEXTRULES_BRAND_WORDS_MAX];
	size_t domain_count;
};

struct om_textrules {
	struct om_textrule *rules;
	size_t count;
	struct om_textrules_brand *brands;
	size_t brand_count;
	struct om_hash *shorteners, *free_hosting;
	/* names under which each label is a site of its own (site-suffixes) */
	struct om_hash *site_suffixes;
};

/* ---- normalising ---- */

static size_t om_textrules_utf8(const unsigned char *p, unsigned int *cp_r)
{
	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
		*cp_r = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
		return 2;
	}
	if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
		*cp_r = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
		return 3;
	}
	*cp_r = 0xfffd;		/* other bytes are copied as they are */
	return 0;
}

char *om_textrules_normalise(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text), n;
	char *out = om_malloc(len + 1), *o = out;
	unsigned int cp;

	while (*p != '\0') {
		/* ASCII, most of most mail, without the decoding (issue 22):
		   the same result as below, where isspace() and tolower()
		   of an ASCII character are these in every locale */
		if (*p < 0x80) {
			if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
				p++;
			else if (*p >= 'A' && *p <= 'Z')
				*o++ = (char)(*p++ + ('a' - 'A'));
			else
				*o++ = (char)*p++;
			continue;
		}
		n = om_textrules_utf8(p, &cp);
		if (n == 0) {
			*o++ = (char)*p++;
			continue;
		}
		if (cp >= 0xff01 && cp <= 0xff5e)	/* full-width ASCII */
			cp -= 0xfee0;
		if (cp == 0x3000 || (cp < 0x80 && isspace((int)cp))) {
			p += n;
			continue;
		}
		if (cp < 0x80) {
			*o++ = (char)tolower((int)cp);
			p += n;
			continue;
		}
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	return out;
}

/* text as its ASCII words, each between single spaces (" amazon co jp "):
   letters and digits (full-width ones as ASCII) in lower case, every
   other character a separator (allocated). */
static char *om_textrules_words(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	char *out = om_malloc(strlen(text) + 3), *o = out;
	unsigned int cp;
	size_t n;

	*o++ = ' ';
	while (*p != '\0') {
		n = om_textrules_utf8(p, &cp);
		if (n == 0)
			n = 1;
		if (cp >= 0xff01 && cp <= 0xff5e)
			cp -= 0xfee0;
		if (cp < 0x80 && isalnum((int)cp))
			*o++ = (char)tolower((int)cp);
		else if (o[-1] != ' ')
			*o++ = ' ';
		p += n;
	}
	if (o[-1] != ' ')
		*o++ = ' ';
	*o = '\0';
	return out;
}

static int om_textrules_ascii_words(const char *name)
{
	for (; *name != '\0'; name++) {
		if ((unsigned char)*name >= 0x80)
			return 0;
	}
	return 1;
}

/* ---- the file ---- */

static void om_textrule_free(struct om_textrule *rule)
{
	size_t g, i;

	for (g = 0; g < rule->group_count; g++) {
		for (i = 0; i < rule->groups[g].count; i++)
			free(rule->groups[g].phrases[i]);
	}
	free(rule->reason_ja);
	free(rule->reason_en);
}

static void om_textrules_brand_free(struct om_textrules_brand *brand)
{
	size_t i;

	free(brand->label);
	for (i = 0; i < brand->name_count; i++)
		free(brand->names[i]);
	for (i = 0; i < brand->domain_count; i++)
		free(brand->domains[i]);
}

void om_textrules_free(struct om_textrules **rulesp)
{
	struct om_textrules *rules = *rulesp;
	size_t i;

	if (rules == NULL)
		return;
	for (i = 0; i < rules->count; i++)
		om_textrule_free(&rules->rules[i]);
	free(rules->rules);
	for (i = 0; i < rules->brand_count; i++)
		om_textrules_brand_free(&rules->brands[i]);
	free(rules->brands);
	om_hash_free(&rules->shorteners, NULL);
	om_hash_free(&rules->free_hosting, NULL);
	om_hash_free(&rules->site_suffixes, NULL);
	free(rules);
	*rulesp = NULL;
}

size_t om_textrules_count(const struct om_textrules *rules)
{
	return rules == NULL ? 0 : rules->count;
}

static int om_textrules_hosts(struct om_hash *hash, char *args)
{
	char *save = NULL, *word, *p;

	for (word = strtok_r(args, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		for (p = word; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		(void)om_hash_set(hash, word, (void *)1);
	}
	return 0;
}

static int om_textrules_group(struct om_textrule *rule, const char *args,
			      const char **error_r)
{
	struct om_textrules_group *group;
	const char *p = args, *bar;
	char *one;

	if (rule->group_count >= OM_TEXTRULES_GROUPS_MAX) {
		*error_r = "too many text lines in one rule";
		return -1;
	}
	group = &rule->groups[rule->group_count++];
	while (*p != '\0') {
		bar = strchr(p, '|');
		one = om_strndup(p, bar != NULL ? (size_t)(bar - p) : strlen(p));
		group->phrases[group->count] = om_textrules_normalise(one);
		free(one);
		if (group->phrases[group->count][0] == '\0')
			free(group->phrases[group->count]);
		else if (group->count + 1 >= OM_TEXTRULES_PHRASES_MAX) {
			*error_r = "too many phrases in one text line";
			group->count++;
			return -1;
		} else
			group->count++;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	if (group->count == 0) {
		*error_r = "a text line without a phrase";
		return -1;
	}
	return 0;
}

static int om_textrules_link_kind(const char *arg, enum om_textrules_link *kind_r)
{
	static const struct { const char *name; enum om_textrules_link kind; } kinds[] = {
		{ "any", OM_TEXTRULES_LINK_ANY }, { "odd", OM_TEXTRULES_LINK_ODD },
		{ "ip", OM_TEXTRULES_LINK_IP }, { "shortener", OM_TEXTRULES_LINK_SHORTENER },
		{ "free-hosting", OM_TEXTRULES_LINK_FREE_HOSTING },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(kinds); i++) {
		if (strcmp(arg, kinds[i].name) == 0) {
			*kind_r = kinds[i].kind;
			return 0;
		}
	}
	return -1;
}

/* A brand from "NAME|NAME... DOMAIN ...". */
static int om_textrules_brand(struct om_textrules *rules, char *args, const char **error_r)
{
	struct om_textrules_brand *brand;
	char *save = NULL, *names, *domain, *name, *bar, *p;

	names = strtok_r(args, " \t", &save);
	if (names == NULL || rules->brand_count >= OM_TEXTRULES_BRANDS_MAX) {
		*error_r = names == NULL ? "brand wants NAME|NAME... and DOMAIN ..." :
			"too many brands";
		return -1;
	}
	rules->brands = om_realloc(rules->brands, (rules->brand_count + 1) * sizeof(*brand));
	brand = &rules->brands[rules->brand_count++];
	memset(brand, 0, sizeof(*brand));
	/* a name of several words is written with '_' for its spaces */
	for (p = names; *p != '\0'; p++) {
		if (*p == '_')
			*p = ' ';
	}
	bar = strchr(names, '|');
	brand->label = om_strndup(names, bar != NULL ? (size_t)(bar - names) : strlen(names));
	for (name = names; name != NULL; name = bar != NULL ? bar + 1 : NULL) {
		bar = strchr(name, '|');
		if (bar != NULL)
			*bar = '\0';
		if (*name == '\0')
			continue;
		if (brand->name_count >= OM_TEXTRULES_BRAND_WORDS_MAX) {
			*error_r = "too many names in one brand";
			return -1;
		}
		brand->name_is_words[brand->name_count] = om_textrules_ascii_words(name);
		brand->names[brand->name_count] = brand->name_is_words[brand->name_count] ?
			om_textrules_words(name) : om_textrules_normalise(name);
		brand->name_count++;
	}
	while ((domain = strtok_r(NULL, " \t", &save)) != NULL) {
		if (brand->domain_count >= OM_TEXTRULES_BRAND_WORDS_MAX) {
			*error_r = "too many domains in one brand";
			return -1;
		}
		for (p = domain; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		brand->domains[brand->domain_count++] = om_strdup(domain);
	}
	if (brand->name_count == 0 || brand->domain_count == 0) {
		*error_r = "brand wants NAME|NAME... and DOMAIN ...";
		return -1;
	}
	return 0;
}

/* A new rule from "NAME POINTS". */
static int om_textrules_start(struct om_textrules *rules, char *args,
			      const char **error_r)
{
	struct om_textrule *rule;
	char *save = NULL, *name, *points, *end;
	size_t i;

	name = strtok_r(args, " \t", &save);
	points = strtok_r(NULL, " \t", &save);
	if (name == NULL || points == NULL || strtok_r(NULL, " \t", &save) != NULL) {
		*error_r = "rule wants a NAME and POINTS";
		return -1;
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (!isupper((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_') {
			*error_r = "a rule's name is A-Z, 0-9 and _";
			return -1;
		}
	}
	if (i == 0 || i >= OM_RULE_NAME_MAX || strncmp(name, "BAYES", 5) == 0) {
		*error_r = "a rule's name is 1 to 31 characters, not BAYES...";
		return -1;
	}
	if (rules->count >= OM_TEXTRULES_RULES_MAX) {
		*error_r = "too many rules";
		return -1;
	}
	rules->rules = om_realloc(rules->rules, (rules->count + 1) * sizeof(*rule));
	rule = &rules->rules[rules->count++];
	memset(rule, 0, sizeof(*rule));
	(void)om_strlcpy(rule->name, name, sizeof(rule->name));
	rule->points = strtod(points, &end);
	if (*end != '\0' || rule->points < -100.0 || rule->points > 100.0) {
		*error_r = "a rule's POINTS is a number from -100 to 100";
		return -1;
	}
	return 0;
}

/* The rule before the next one is complete. */
static int om_textrules_finish(const struct om_textrules *rules, const char **error_r)
{
	const struct om_textrule *rule;

	if (rules->count == 0)
		return 0;
	rule = &rules->rules[rules->count - 1];
	if (rule->group_count == 0 && rule->link == OM_TEXTRULES_LINK_NONE) {
		*error_r = "a rule without a text or link line";
		return -1;
	}
	if (rule->reason_ja == NULL || rule->reason_en == NULL) {
		*error_r = "a rule without reason-ja and reason-en";
		return -1;
	}
	return 0;
}

static int om_textrules_line(struct om_textrules *rules, char *line,
			     const char **error_r)
{
	struct om_textrule *rule = rules->count > 0 ? &rules->rules[rules->count - 1] : NULL;
	char *args = line + strcspn(line, " \t");

	if (*args != '\0')
		*args++ = '\0';
	args += strspn(args, " \t");
	if (strcmp(line, "shorteners") == 0)
		return om_textrules_hosts(rules->shorteners, args);
	if (strcmp(line, "free-hosting") == 0)
		return om_textrules_hosts(rules->free_hosting, args);
	if (strcmp(line, "site-suffixes") == 0)
		return om_textrules_hosts(rules->site_suffixes, args);
	if (strcmp(line, "brand") == 0)
		return om_textrules_brand(rules, args, error_r);
	if (strcmp(line, "rule") == 0) {
		if (om_textrules_finish(rules, error_r) < 0)
			return -1;
		return om_textrules_start(rules, args, error_r);
	}
	if (rule == NULL) {
		*error_r = "a rule's line before any rule";
		return -1;
	}
	if (strcmp(line, "text") == 0)
		return om_textrules_group(rule, args, error_r);
	if (strcmp(line, "link") == 0) {
		if (om_textrules_link_kind(args, &rule->link) == 0)
			return 0;
		*error_r = "link is any, odd, ip, shortener or free-hosting";
		return -1;
	}
	if (strcmp(line, "reason-ja") == 0 && *args != '\0' && rule->reason_ja == NULL) {
		rule->reason_ja = om_strdup(args);
		return 0;
	}
	if (strcmp(line, "reason-en") == 0 && *args != '\0' && rule->reason_en == NULL) {
		rule->reason_en = om_strdup(args);
		return 0;
	}
	*error_r = "unknown or repeated line";
	return -1;
}

struct om_textrules *om_textrules_parse(const char *data, char **error_r)
{
	struct om_textrules *rules = om_malloc(sizeof(*rules));
	const char *p = data, *eol, *error = NULL;
	unsigned int lineno = 0;
	char *line;
	size_t n;
	int ret = 0;

	memset(rules, 0, sizeof(*rules));
	rules->shorteners = om_hash_new(32);
	rules->free_hosting = om_hash_new(32);
	rules->site_suffixes = om_hash_new(8);
	while (*p != '\0' && ret == 0) {
		lineno++;
		eol = strchr(p, '\n');
		n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		line = om_strndup(p, n);
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		n = strspn(line, " \t");
		if (line[n] != '\0' && line[n] != '#')
			ret = om_textrules_line(rules, line + n, &error);
		free(line);
		p = eol != NULL ? eol + 1 : p + strlen(p);
	}
	if (ret == 0 && om_textrules_finish(rules, &error) < 0)
		ret = -1;
	if (ret < 0) {
		*error_r = om_asprintf("line %u: %s", lineno, error);
		om_textrules_free(&rules);
		return NULL;
	}
	return rules;
}

struct om_textrules *om_textrules_load(const char *path, char **error_r)
{
	struct om_textrules *rules;
	char *data = NULL, *error = NULL;
	size_t len;

	if (om_read_file(path, OM_TEXTRULES_FILE_MAX, &data, &len, error_r) < 0)
		return NULL;
	rules = om_textrules_parse(data, &error);
	free(data);
	if (rules == NULL) {
		*error_r = om_asprintf("%s: %s", path, error);
		free(error);
	}
	return rules;
}

/* ---- matching ---- */

int om_textrules_host_is(const struct om_textrules *rules, const char *host, char kind)
{
	const struct om_hash *hash = kind == 's' ? rules->shorteners : rules->free_hosting;
	const char *p = host;

	while (p != NULL && *p != '\0') {
		if (om_hash_get(hash, p) != NULL)
			return 1;
		if (kind == 's')
			return 0;	/* a shortener is its own host */
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return 0;
}

const char *om_textrules_site(const struct om_textrules *rules, const char *host)
{
	const char *label = host, *p = strchr(host, '.');

	if (rules == NULL || om_hash_count(rules->site_suffixes) == 0)
		return NULL;
	/* the longest listed name the host lies under, with the label before it */
	for (; p != NULL; label = p + 1, p = strchr(label, '.')) {
		if (p[1] != '\0' && om_hash_get(rules->site_suffixes, p + 1) != NULL)
			return label;
	}
	return NULL;
}

/* 1 if host is domain or lies under it. */
static int om_textrules_host_under(const char *host, const char *domain)
{
	size_t hlen = strlen(host), dlen = strlen(domain);

	if (hlen == dlen)
		return strcasecmp(host, domain) == 0;
	return hlen > dlen && host[hlen - dlen - 1] == '.' &&
		strcasecmp(host + hlen - dlen, domain) == 0;
}

/* 1 if host carries domain as whole labels before its site, the last
   site_len bytes of host ("rakuten-card.co.jp.verify.example" carries
   "rakuten-card.co.jp" before "verify.example"; "amazon.com.au", a site
   of its own, carries nothing) */
static int om_textrules_host_wears(const char *host, size_t site_len, const char *domain)
{
	size_t dlen = strlen(domain), hlen = strlen(host);
	const char *label, *site = host + (site_len < hlen ? hlen - site_len : 0);

	for (label = host; label != NULL && label < site; label = strchr(label, '.')) {
		if (*label == '.')
			label++;
		if (label + dlen < site && strncasecmp(label, domain, dlen) == 0 &&
		    label[dlen] == '.')
			return 1;
	}
	return 0;
}

static int om_textrules_brand_named(const struct om_textrules_brand *brand,
				    const char *words, const char *flat)
{
	size_t i;

	for (i = 0; i < brand->name_count; i++) {
		if (brand->name_is_words[i] ?
		    strncmp(words, brand->names[i], strlen(brand->names[i])) == 0 :
		    strstr(flat, brand->names[i]) != NULL)
			return 1;
	}
	return 0;
}

const char *om_textrules_brand_impostor(const struct om_textrules *rules,
					const char *display_name, const char *host,
					const char *site, int *worn_r)
{
	const struct om_textrules_brand *brand;
	const char *found = NULL;
	char *words, *flat;
	size_t b, d;

	if (worn_r != NULL)
		*worn_r = 0;
	if (rules == NULL || display_name == NULL || host == NULL || *host == '\0')
		return NULL;
	words = om_textrules_words(display_name);
	if (strstr(words, " via ") != NULL) {
		free(words);	/* "Name via List": a mailing list rewrote From */
		return NULL;
	}
	flat = om_textrules_normalise(display_name);
	for (b = 0; b < rules->brand_count; b++) {
		brand = &rules->brands[b];
		if (!om_textrules_brand_named(brand, words, flat))
			continue;
		for (d = 0; d < brand->domain_count; d++) {
			if (om_textrules_host_under(host, brand->domains[d]))
				break;
		}
		if (d == brand->domain_count) {
			found = brand->label;
			for (d = 0; worn_r != NULL && site != NULL && d < brand->domain_count; d++)
				*worn_r |= om_textrules_host_wears(host, strlen(site),
								   brand->domains[d]);
			break;
		}
	}
	free(words);
	free(flat);
	return found;
}

static int om_textrules_link_ok(enum om_textrules_link link,
				const struct om_textrules_facts *facts)
{
	switch (link) {
	case OM_TEXTRULES_LINK_NONE:
		return 1;
	case OM_TEXTRULES_LINK_ANY:
		return facts->links > 0;
	case OM_TEXTRULES_LINK_ODD:
		return facts->link_ip || facts->link_shortener || facts->link_free_hosting;
	case OM_TEXTRULES_LINK_IP:
		return facts->link_ip;
	case OM_TEXTRULES_LINK_SHORTENER:
		return facts->link_shortener;
	case OM_TEXTRULES_LINK_FREE_HOSTING:
		return facts->link_free_hosting;
	}
	return 0;
}

/* The text's three-byte sequences, hashed into a bitmap, so that a phrase
   whose first three bytes do not occur in the text is passed over without
   a search of its own (issue 22: strstr over the whole text for each of
   some 500 phrases was 3 % of scand's time on spam + virus).  A phrase is
   still searched for whenever its bit is set, so what matches is exactly
   what strstr finds. */
#define OM_TEXTRULES_TRIGRAM_BITS 16
struct om_textrules_trigrams {
	uint64_t bits[(1u << OM_TEXTRULES_TRIGRAM_BITS) / 64];
};

static unsigned int om_textrules_trigram(const char *p)
{
	uint32_t v = ((uint32_t)(unsigned char)p[0] << 16) |
		((uint32_t)(unsigned char)p[1] << 8) | (unsigned char)p[2];

	return (unsigned int)((v * 2654435761u) >> (32 - OM_TEXTRULES_TRIGRAM_BITS));
}

static void om_textrules_trigrams_fill(struct om_textrules_trigrams *tg, const char *text)
{
	size_t i, len = strlen(text);
	unsigned int h;

	memset(tg->bits, 0, sizeof(tg->bits));
	for (i = 0; i + 3 <= len; i++) {
		h = om_textrules_trigram(text + i);
		tg->bits[h / 64] |= (uint64_t)1 << (h % 64);
	}
}

/* 0 when phrase cannot be in the text; 1 when it may be. */
static int om_textrules_trigrams_may(const struct om_textrules_trigrams *tg,
				     const char *phrase)
{
	unsigned int h;

	if (phrase[0] == '\0' || phrase[1] == '\0' || phrase[2] == '\0')
		return 1;
	h = om_textrules_trigram(phrase);
	return (tg->bits[h / 64] >> (h % 64)) & 1;
}

static int om_textrules_group_in(const struct om_textrules_group *group, const char *text,
				 const struct om_textrules_trigrams *tg)
{
	size_t i;

	for (i = 0; i < group->count; i++) {
		if (om_textrules_trigrams_may(tg, group->phrases[i]) &&
		    strstr(text, group->phrases[i]) != NULL)
			return 1;
	}
	return 0;
}

void om_textrules_match(const struct om_textrules *rules,
			const struct om_textrules_facts *facts,
			struct om_rules_result *res)
{
	const struct om_textrule *rule;
	struct om_textrules_trigrams *tg;
	char *text;
	size_t i, g;

	if (rules == NULL || rules->count == 0)
		return;
	text = om_textrules_normalise(facts->text != NULL ? facts->text : "");
	tg = om_malloc(sizeof(*tg));
	om_textrules_trigrams_fill(tg, text);
	for (i = 0; i < rules->count; i++) {
		rule = &rules->rules[i];
		if (!om_textrules_link_ok(rule->link, facts))
			continue;
		for (g = 0; g < rule->group_count; g++) {
			if (!om_textrules_group_in(&rule->groups[g], text, tg))
				break;
		}
		if (g == rule->group_count)
			om_rules_add_reason(res, rule->name, rule->points,
					    rule->reason_ja, rule->reason_en);
	}
	free(tg);
	free(text);
}

struct om_textrules_pass {
	const struct om_textrules *rules;
	struct om_mime_msg *msg;
	struct om_buf text;
	struct om_textrules_facts facts;
};

static void om_textrules_part(void *parent, void *part, void *data)
{
	struct om_textrules_pass *pass = data;
	GMimeObject *obj = part;
	const char *text;
	size_t links = 0;

	(void)parent;
	if (pass->text.len >= OM_TEXTRULES_TEXT_MAX ||
	    !GMIME_IS_TEXT_PART(obj) || !om_mime_part_readable_text(obj))
		return;
	om_buf_append_str(&pass->text, "\n");
	if (g_mime_content_type_is_type(g_mime_object_get_content_type(obj),
					"text", "html")) {
		om_links_html_part_text(pass->msg, obj, &pass->text, &links);
		return;
	}
	text = om_mime_part_text(pass->msg, obj);
	if (text != NULL)
		om_buf_append_str(&pass->text, text);
}

static int om_textrules_host(void *context, const char *host)
{
	struct om_textrules_pass *pass = context;
	const char *p;

	pass->facts.links++;
	if (host[0] == '[')
		pass->facts.link_ip = 1;
	for (p = host; *p != '\0' && (isdigit((unsigned char)*p) || *p == '.'); p++)
		;
	if (*p == '\0' && p != host)
		pass->facts.link_ip = 1;
	if (om_textrules_host_is(pass->rules, host, 's'))
		pass->facts.link_shortener = 1;
	if (om_textrules_host_is(pass->rules, host, 'f'))
		pass->facts.link_free_hosting = 1;
	return 0;
}

void om_textrules_check(const struct om_textrules *rules, struct om_mime_msg *msg,
			struct om_rules_result *res)
{
	struct om_textrules_pass pass;
	char *subject;

	if (rules == NULL || rules->count == 0 || msg == NULL)
		return;
	memset(&pass, 0, sizeof(pass));
	pass.rules = rules;
	pass.msg = msg;
	om_buf_init(&pass.text);
	subject = om_mime_header_decoded(msg, "Subject");
	if (subject != NULL)
		om_buf_append_str(&pass.text, subject);
	free(subject);
	om_mime_foreach_part(msg, om_textrules_part, &pass);
	(void)om_links_each(msg, NULL, 0, om_textrules_host, &pass);
	pass.facts.text = pass.text.data != NULL ? pass.text.data : "";
	om_textrules_match(rules, &pass.facts, res);
	om_buf_free(&pass.text);
}
