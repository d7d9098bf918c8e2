/* cmd-urls.c - omamorictl urls: the URL reputation store (doc/links.md).
 *
 *	urls import FILE [--format F] [--source NAME] [--verdict block|warn]
 *	                 [--expires DAYS]
 *	urls add URL|HOST [--verdict block|warn] [--expires DAYS]
 *	urls del URL|HOST [--source NAME]
 *	urls check URL|HOST
 *	urls list [--source NAME]
 *	urls count [--source NAME]
 *
 * Every entry goes through the url layer's normaliser first, so what is
 * stored is what a lookup asks for.  An import replaces the feed's
 * previous entries in one transaction; its bad lines are reported with
 * their numbers and skipped, and only a file with nothing valid fails.
 */
#include "omamorictl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "lib/values.h"
#include "store/store.h"
#include "url/feed.h"
#include "url/url.h"

#define CTL_URLS_FILE_MAX (1024UL * 1024 * 1024)	/* a feed file, bytes */
#define CTL_URLS_BAD_SHOWN 20	/* bad lines printed, the rest counted */
#define CTL_URLS_DAYS_MAX 36500

/* The options of a urls command. */
struct ctl_urls_opts {
	const char *format, *source, *verdict, *expires;
	const char *arg;	/* the one word that is not an option */
};

/* Reads "--name VALUE" options and one argument.  0, or -1 (said). */
static int ctl_urls_options(int argc, char **argv, const char *allowed,
			    struct ctl_urls_opts *o)
{
	const char **slot;
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (o->arg != NULL) {
				ctl_error("urls: one argument only ('%.80s' is a second)",
					  argv[i]);
				return -1;
			}
			o->arg = argv[i];
			continue;
		}
		slot = strcmp(argv[i], "--format") == 0 ? &o->format :
			strcmp(argv[i], "--source") == 0 ? &o->source :
			strcmp(argv[i], "--verdict") == 0 ? &o->verdict :
			strcmp(argv[i], "--expires") == 0 ? &o->expires : NULL;
		if (slot == NULL || strstr(allowed, argv[i]) == NULL) {
			ctl_error("urls: unknown option '%.40s' here", argv[i]);
			return -1;
		}
		if (i + 1 == argc) {
			ctl_error("urls: %s needs a value", argv[i]);
			return -1;
		}
		*slot = argv[++i];
	}
	return 0;
}

/* --verdict and --expires as values (block and never by default). */
static int ctl_urls_verdict_expiry(const struct ctl_urls_opts *o, long long now,
				   enum om_url_verdict *verdict_r,
				   long long *expires_r)
{
	unsigned long days;

	*verdict_r = OM_URL_VERDICT_BLOCK;
	*expires_r = 0;
	if (o->verdict != NULL && om_url_verdict_parse(o->verdict, verdict_r) < 0) {
		ctl_error("urls: --verdict is block or warn, not '%.40s'", o->verdict);
		return -1;
	}
	if (o->expires != NULL) {
		if (om_parse_ulong(o->expires, 1, CTL_URLS_DAYS_MAX, &days) < 0) {
			ctl_error("urls: --expires is a number of days (1-%d), not '%.40s'",
				  CTL_URLS_DAYS_MAX, o->expires);
			return -1;
		}
		*expires_r = now + (long long)days * 86400;
	}
	return 0;
}

static struct om_url_psl *ctl_urls_psl(void)
{
	struct om_url_psl *psl;
	char *error = NULL;

	psl = om_url_psl_open(&error);
	if (psl == NULL)
		(void)ctl_fail(error);
	return psl;
}

/* ---- import ---- */

struct ctl_urls_import {
	const char *path;
	struct om_feed *feed;
	unsigned long bad;
};

/* om_store_urls_import's reader: the feed's entries, bad lines said. */
static int ctl_urls_next(void *context, struct om_store_url *u, char **error_r)
{
	struct ctl_urls_import *imp = context;
	struct om_feed_item item;
	char *clean;

	(void)error_r;
	while (om_feed_next(imp->feed, &item) == 1) {
		if (item.key != NULL) {
			u->kind = item.kind;
			u->key = item.key;
			return 1;
		}
		if (++imp->bad <= CTL_URLS_BAD_SHOWN) {
			clean = om_sanitize(item.error, 200);
			fprintf(stderr, "omamorictl: %s:%u: %s (line skipped)\n", imp->path,
				item.line, clean);
			free(clean);
		}
	}
	return 0;
}

static int ctl_urls_import(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	struct ctl_urls_import imp = { o->arg, NULL, 0 };
	enum om_feed_format format = OM_FEED_AUTO;
	enum om_url_verdict verdict;
	struct om_url_psl *psl;
	const char *source, *format_name;
	long long now = (long long)time(NULL), expires;
	char *data = NULL, *error = NULL;
	size_t len;
	long count;

	if (o->arg == NULL)
		return ctl_error("usage: urls import FILE [--format F] [--source NAME] "
				 "[--verdict block|warn] [--expires DAYS]");
	if (o->format != NULL && om_feed_format_parse(o->format, &format) < 0)
		return ctl_error("urls import: --format is urlhaus, phishtank-csv, "
				 "phishtank-json, openphish or list, not '%.40s'", o->format);
	if (ctl_urls_verdict_expiry(o, now, &verdict, &expires) < 0)
		return CTL_EXIT_ERROR;
	if (o->source != NULL && strcmp(o->source, OM_STORE_URL_ADMIN) == 0)
		return ctl_error("urls import: the source 'admin' holds the entries of "
				 "urls add; import under the feed's own name");
	if (o->source != NULL && (o->source[0] == '\0' || strlen(o->source) > 64 ||
				  om_sanitize_unchanged(o->source, 64) == (size_t)-1 ||
				  strpbrk(o->source, " \t") != NULL))
		return ctl_error("urls import: --source is a name of 1-64 printable "
				 "characters without spaces");
	if (om_read_file(o->arg, CTL_URLS_FILE_MAX, &data, &len, &error) < 0)
		return ctl_fail(error);
	if ((psl = ctl_urls_psl()) == NULL) {
		free(data);
		return CTL_EXIT_ERROR;
	}
	imp.feed = om_feed_new(psl, data, len, format);
	format_name = om_feed_format_name(om_feed_get_format(imp.feed));
	source = o->source != NULL ? o->source : format_name;
	count = om_store_urls_import(ctl_store(ctl, 0), source, verdict, now, expires,
				     ctl_urls_next, &imp, &error);
	om_feed_free(&imp.feed);
	om_url_psl_close(&psl);
	free(data);
	if (imp.bad > CTL_URLS_BAD_SHOWN)
		fprintf(stderr, "omamorictl: %s: %lu more bad lines not shown\n", o->arg,
			imp.bad - CTL_URLS_BAD_SHOWN);
	if (count < 0) {
		if (imp.bad > 0)
			ctl_error("%s: no valid entry (%lu bad lines)", o->arg, imp.bad);
		return ctl_fail(error);
	}
	printf("imported %ld entries from %s (format %s, source %s, verdict %s); "
	       "%lu bad lines skipped; the source's previous entries replaced\n",
	       count, o->arg, format_name, source, om_url_verdict_name(verdict), imp.bad);
	return CTL_EXIT_OK;
}

/* ---- add, del ---- */

/* The entry of text (a URL or a host), normalised.  0 or -1 (said). */
static int ctl_urls_entry(const char *text, enum om_url_kind *kind_r, char **key_r)
{
	struct om_url_psl *psl = ctl_urls_psl();
	char *error = NULL;
	int ret;

	if (psl == NULL)
		return -1;
	ret = om_url_entry(psl, text, strlen(text), kind_r, key_r, &error);
	om_url_psl_close(&psl);
	if (ret < 0) {
		(void)ctl_error("'%.200s': %s", text, error);
		free(error);
	}
	return ret;
}

static int ctl_urls_add(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	struct om_store_url u;
	char *key = NULL, *error = NULL;
	long long now = (long long)time(NULL);
	enum om_url_kind kind;

	if (o->arg == NULL)
		return ctl_error("usage: urls add URL|HOST [--verdict block|warn] "
				 "[--expires DAYS]");
	memset(&u, 0, sizeof(u));
	if (ctl_urls_verdict_expiry(o, now, &u.verdict, &u.expires) < 0 ||
	    ctl_urls_entry(o->arg, &kind, &key) < 0)
		return CTL_EXIT_ERROR;
	u.kind = kind;
	u.key = key;
	u.source = OM_STORE_URL_ADMIN;
	u.added = now;
	if (om_store_url_add(ctl_store(ctl, 0), &u, &error) < 0) {
		free(key);
		return ctl_fail(error);
	}
	printf("added %s %s (%s)\n", om_url_kind_name(kind), key,
	       om_url_verdict_name(u.verdict));
	free(key);
	return CTL_EXIT_OK;
}

static int ctl_urls_del(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	enum om_url_kind kind;
	char *key = NULL, *error = NULL;
	int removed;

	if (o->arg == NULL)
		return ctl_error("usage: urls del URL|HOST [--source NAME]");
	if (ctl_urls_entry(o->arg, &kind, &key) < 0)
		return CTL_EXIT_ERROR;
	removed = om_store_url_del(ctl_store(ctl, 0), kind, key, o->source, &error);
	if (removed < 0) {
		free(key);
		return ctl_fail(error);
	}
	if (removed == 0) {
		ctl_error("%s %s is not listed%s%s", om_url_kind_name(kind), key,
			  o->source != NULL ? " by source " : "",
			  o->source != NULL ? o->source : "");
		free(key);
		return CTL_EXIT_ERROR;
	}
	printf("removed %s %s (%d entr%s)\n", om_url_kind_name(kind), key, removed,
	       removed == 1 ? "y" : "ies");
	free(key);
	return CTL_EXIT_OK;
}

/* ---- check ---- */

static void ctl_urls_found(void *context, const struct om_store_url *u)
{
	char expires[32];

	(void)context;
	if (u->expires != 0)
		snprintf(expires, sizeof(expires), "%lld", u->expires);
	else
		strcpy(expires, "never");
	printf("verdict: %s\nmatched: %s %s (source %s, added %lld, expires %s)\n",
	       om_url_verdict_name(u->verdict), om_url_kind_name(u->kind), u->key,
	       u->source, u->added, expires);
}

static int ctl_urls_check(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	struct om_store_url_query q;
	struct om_url_keys keys;
	struct om_url_psl *psl;
	struct om_url url;
	char *text, *error = NULL;
	int ret;

	if (o->arg == NULL)
		return ctl_error("usage: urls check URL|HOST");
	/* a host alone is checked as its web address */
	text = strstr(o->arg, "://") != NULL ? om_strdup(o->arg) :
		om_asprintf("http://%s/", o->arg);
	ret = om_url_parse(text, strlen(text), &url, &error);
	free(text);
	if (ret < 0) {
		ctl_error("'%.200s': %s", o->arg, error);
		free(error);
		return CTL_EXIT_ERROR;
	}
	if ((psl = ctl_urls_psl()) == NULL) {
		om_url_free(&url);
		return CTL_EXIT_ERROR;
	}
	om_url_keys(psl, &url, &keys);
	printf("url: %s\nhost: %s\ndomain: %s\n", url.key, url.host,
	       keys.domain != NULL ? keys.domain : "(none)");
	if (url.userinfo)
		printf("userinfo: yes (the link hides its host behind user@)\n");
	q.url = keys.url;
	q.hosts = keys.hosts;
	q.nhosts = keys.nhosts;
	q.domain = keys.domain;
	ret = om_store_url_lookup(ctl_store(ctl, 0), &q, (long long)time(NULL),
				  ctl_urls_found, NULL, &error);
	om_url_psl_close(&psl);
	om_url_free(&url);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		printf("verdict: none\n");
	return CTL_EXIT_OK;
}

/* ---- list, count ---- */

static void ctl_urls_row(void *context, const struct om_store_url *u)
{
	(void)context;
	printf("%s\t%s\t%s\t%s\t%lld\t%lld\n", u->source, om_url_kind_name(u->kind),
	       u->key, om_url_verdict_name(u->verdict), u->added, u->expires);
}

static int ctl_urls_list(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	char *error = NULL;

	if (o->arg != NULL)
		return ctl_error("usage: urls list [--source NAME]");
	if (om_store_urls_each(ctl_store(ctl, 0), o->source, ctl_urls_row, NULL,
			       &error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

static void ctl_urls_source_row(void *context, const char *source, long count)
{
	(void)context;
	printf("%s\t%ld\n", source, count);
}

static int ctl_urls_count(struct ctl *ctl, const struct ctl_urls_opts *o)
{
	struct om_store *store;
	char *error = NULL;
	long total;

	if (o->arg != NULL)
		return ctl_error("usage: urls count [--source NAME]");
	store = ctl_store(ctl, 0);
	if (o->source == NULL &&
	    om_store_urls_sources(store, ctl_urls_source_row, NULL, &error) < 0)
		return ctl_fail(error);
	total = om_store_urls_count(store, o->source, &error);
	if (total < 0)
		return ctl_fail(error);
	printf("%s\t%ld\n", o->source != NULL ? o->source : "total", total);
	return CTL_EXIT_OK;
}

int ctl_cmd_urls(struct ctl *ctl, int argc, char **argv)
{
	static const struct {
		const char *name, *options;
		int (*run)(struct ctl *ctl, const struct ctl_urls_opts *o);
	} subs[] = {
		{ "import", "--format --source --verdict --expires", ctl_urls_import },
		{ "add", "--verdict --expires", ctl_urls_add },
		{ "del", "--source", ctl_urls_del },
		{ "check", "", ctl_urls_check },
		{ "list", "--source", ctl_urls_list },
		{ "count", "--source", ctl_urls_count },
	};
	struct ctl_urls_opts o;
	size_t i;

	if (argc < 1)
		return ctl_error("usage: urls import|add|del|check|list|count ... "
				 "(omamorictl --help)");
	for (i = 0; i < OM_N_ELEMENTS(subs); i++) {
		if (strcmp(argv[0], subs[i].name) != 0)
			continue;
		if (ctl_urls_options(argc - 1, argv + 1, subs[i].options, &o) < 0)
			return CTL_EXIT_ERROR;
		return subs[i].run(ctl, &o);
	}
	return ctl_error("urls: unknown command '%.40s' (import, add, del, check, list, "
			 "count)", argv[0]);
}
