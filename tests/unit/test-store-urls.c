/* test-store-urls.c - the URL reputation store (store.h): lookups by URL,
 * host and its parents, registrable domain, the verdict that decides,
 * expiry, a feed's atomic replacement, add/del/count/list, and that a
 * lookup reads the primary key's index.
 */
#include "tap.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct found {
	char text[512];
};

static void remember(void *context, const struct om_store_url *u)
{
	struct found *f = context;

	snprintf(f->text, sizeof(f->text), "%s %s %s %s", om_url_kind_name(u->kind),
		 u->key, om_url_verdict_name(u->verdict), u->source);
}

/* The entry that decides for the keys, as "kind key verdict source", or
   "none". */
static const char *lookup(struct om_store *store, const char *url,
			  const char *const *hosts, size_t nhosts, const char *domain,
			  long long now, struct found *f)
{
	struct om_store_url_query q = { url, hosts, nhosts, domain };
	char *error = NULL;
	int ret;

	strcpy(f->text, "none");
	ret = om_store_url_lookup(store, &q, now, remember, f, &error);
	if (ret < 0) {
		snprintf(f->text, sizeof(f->text), "error %s", error);
		free(error);
	}
	return f->text;
}

static int add(struct om_store *store, enum om_url_kind kind, const char *key,
	       enum om_url_verdict verdict, const char *source, long long expires)
{
	struct om_store_url u = { kind, key, verdict, source, 1000, expires };
	char *error = NULL;
	int ret = om_store_url_add(store, &u, &error);

	if (ret < 0) {
		printf("# %s\n", error);
		free(error);
	}
	return ret;
}

static void test_lookups(struct om_store *store)
{
	static const char *const deep[] = { "a.b.evil.example.co.jp", "b.evil.example.co.jp",
					    "evil.example.co.jp", "example.co.jp" };
	static const char *const other[] = { "b.example.jp", "example.jp" };
	static const char *const many[] = { "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.deep.example",
		"l2.l3.l4.l5.l6.l7.l8.l9.l10.deep.example", "l3.l4.l5.l6.l7.l8.l9.l10.deep.example",
		"l4.l5.l6.l7.l8.l9.l10.deep.example", "l5.l6.l7.l8.l9.l10.deep.example",
		"l6.l7.l8.l9.l10.deep.example", "l7.l8.l9.l10.deep.example",
		"l8.l9.l10.deep.example", "l9.l10.deep.example", "l10.deep.example",
		"deep.example" };
	struct found f;

	TAP_OK(strcmp(lookup(store, "http://a.b.evil.example.co.jp/x", deep, 4, "example.co.jp",
			     2000, &f), "none") == 0, "an empty store matches nothing");
	TAP_OK(add(store, OM_URL_KIND_HOST, "evil.example.co.jp", OM_URL_VERDICT_BLOCK, "admin", 0) == 0 &&
	       add(store, OM_URL_KIND_HOST, "a.example.jp", OM_URL_VERDICT_BLOCK, "admin", 0) == 0 &&
	       add(store, OM_URL_KIND_URL, "http://good.example/bad", OM_URL_VERDICT_WARN, "admin", 0) == 0 &&
	       add(store, OM_URL_KIND_DOMAIN, "phish.example", OM_URL_VERDICT_WARN, "feed", 0) == 0 &&
	       add(store, OM_URL_KIND_URL, "http://x.phish.example/login", OM_URL_VERDICT_BLOCK, "feed", 0) == 0 &&
	       add(store, OM_URL_KIND_HOST, "l7.l8.l9.l10.deep.example", OM_URL_VERDICT_BLOCK, "admin", 0) == 0,
	       "entries added");
	TAP_OK(strcmp(lookup(store, "http://a.b.evil.example.co.jp/x", deep, 4, "example.co.jp",
			     2000, &f), "host evil.example.co.jp block admin") == 0,
	       "a host entry blocks the names below it (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://b.example.jp/", other, 2, "example.jp", 2000, &f),
		      "none") == 0, "a host entry does not block its sibling (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://good.example/bad", (const char *const[]){ "good.example" },
			     1, "good.example", 2000, &f), "url http://good.example/bad warn admin") == 0,
	       "an exact URL (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://good.example/fine", (const char *const[]){ "good.example" },
			     1, "good.example", 2000, &f), "none") == 0,
	       "another URL of the same host is not listed (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://y.phish.example/", (const char *const[]){ "y.phish.example",
			     "phish.example" }, 2, "phish.example", 2000, &f),
		      "domain phish.example warn feed") == 0,
	       "a domain entry covers every name in it (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://x.phish.example/login", (const char *const[]){
			     "x.phish.example", "phish.example" }, 2, "phish.example", 2000, &f),
		      "url http://x.phish.example/login block feed") == 0,
	       "block wins over warn (%s)", f.text);
	TAP_OK(strcmp(lookup(store, "http://l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.deep.example/", many, 11,
			     "deep.example", 2000, &f),
		      "host l7.l8.l9.l10.deep.example block admin") == 0,
	       "a host found among more parents than one read takes (%s)", f.text);
	/* two of the same verdict: the more precise decides */
	TAP_OK(add(store, OM_URL_KIND_HOST, "b.evil.example.co.jp", OM_URL_VERDICT_BLOCK, "feed2", 0) == 0 &&
	       strcmp(lookup(store, NULL, deep, 4, NULL, 2000, &f),
		      "host b.evil.example.co.jp block feed2") == 0,
	       "the deepest host decides between equals (%s)", f.text);
	/* expiry */
	TAP_OK(add(store, OM_URL_KIND_HOST, "soon.example", OM_URL_VERDICT_BLOCK, "admin", 3000) == 0 &&
	       strstr(lookup(store, NULL, (const char *const[]){ "soon.example" }, 1, NULL, 2999, &f),
		      "soon.example") != NULL &&
	       strcmp(lookup(store, NULL, (const char *const[]){ "soon.example" }, 1, NULL, 3000, &f),
		      "none") == 0, "an entry counts until it expires");
}

struct feed_rows {
	const char *const *keys;
	size_t n, i;
	int fail_at;	/* 1-based row that fails, 0 none */
};

static int next_row(void *context, struct om_store_url *u, char **error_r)
{
	struct feed_rows *rows = context;

	if (rows->fail_at > 0 && rows->i + 1 == (size_t)rows->fail_at) {
		*error_r = om_strdup("reader failed");
		return -1;
	}
	if (rows->i == rows->n)
		return 0;
	u->kind = strstr(rows->keys[rows->i], "://") != NULL ? OM_URL_KIND_URL : OM_URL_KIND_HOST;
	u->key = rows->keys[rows->i++];
	return 1;
}

static void count_source(void *context, const char *source, long count)
{
	struct om_buf *b = context;

	om_buf_printf(b, "%s=%ld ", source, count);
}

static void count_entry(void *context, const struct om_store_url *u)
{
	(*(long *)context)++;
	(void)u;
}

static void test_import(struct om_store *store)
{
	static const char *const first[] = { "http://f1.example/a", "f2.example", "f3.example" };
	static const char *const second[] = { "f4.example", "http://f1.example/b" };
	struct feed_rows rows = { first, 3, 0, 0 };
	struct found f;
	struct om_buf b;
	char *error = NULL;
	long n, seen = 0;

	TAP_OK(om_store_urls_import(store, "urlhaus", OM_URL_VERDICT_BLOCK, 5000, 0, next_row,
				    &rows, &error) == 3 &&
	       om_store_urls_count(store, "urlhaus", &error) == 3, "a feed imported (3 entries)");
	TAP_OK(strcmp(lookup(store, NULL, (const char *const[]){ "f2.example" }, 1, NULL, 6000, &f),
		      "host f2.example block urlhaus") == 0, "its entries are found");
	rows = (struct feed_rows){ second, 2, 0, 0 };
	TAP_OK(om_store_urls_import(store, "urlhaus", OM_URL_VERDICT_WARN, 6000, 0, next_row,
				    &rows, &error) == 2 &&
	       om_store_urls_count(store, "urlhaus", &error) == 2,
	       "importing the feed again replaces its entries");
	TAP_OK(strcmp(lookup(store, NULL, (const char *const[]){ "f2.example" }, 1, NULL, 7000, &f),
		      "none") == 0 &&
	       strcmp(lookup(store, "http://f1.example/b", NULL, 0, NULL, 7000, &f),
		      "url http://f1.example/b warn urlhaus") == 0,
	       "old entries gone, new ones there with the new verdict");
	n = om_store_urls_count(store, "admin", &error);
	rows = (struct feed_rows){ first, 3, 0, 2 };
	TAP_OK(om_store_urls_import(store, "urlhaus", OM_URL_VERDICT_BLOCK, 8000, 0, next_row,
				    &rows, &error) < 0 && strstr(error, "reader failed") != NULL &&
	       om_store_urls_count(store, "urlhaus", &error) == 2,
	       "an import that fails half way changes nothing");
	om_free(&error);
	rows = (struct feed_rows){ first, 0, 0, 0 };
	TAP_OK(om_store_urls_import(store, "urlhaus", OM_URL_VERDICT_BLOCK, 8000, 0, next_row,
				    &rows, &error) < 0 && strstr(error, "nothing to import") != NULL &&
	       om_store_urls_count(store, "urlhaus", &error) == 2,
	       "an empty import keeps the feed's entries (%s)", error != NULL ? error : "");
	om_free(&error);
	TAP_OK(om_store_urls_count(store, "admin", &error) == n,
	       "another source's entries are untouched by imports");
	om_buf_init(&b);
	TAP_OK(om_store_urls_sources(store, count_source, &b, &error) == 4 &&
	       strcmp(b.data, "admin=5 feed=2 feed2=1 urlhaus=2 ") == 0,
	       "entries counted by source (%s)", b.data);
	om_buf_free(&b);
	TAP_OK(om_store_urls_each(store, "urlhaus", count_entry, &seen, &error) == 2 && seen == 2,
	       "a source's entries listed");
	TAP_OK(om_store_url_del(store, OM_URL_KIND_HOST, "f4.example", NULL, &error) == 1 &&
	       om_store_url_del(store, OM_URL_KIND_HOST, "f4.example", NULL, &error) == 0 &&
	       strcmp(lookup(store, NULL, (const char *const[]){ "f4.example" }, 1, NULL, 9000, &f),
		      "none") == 0, "del removes an entry; again it removes nothing");
	TAP_OK(om_store_url_del(store, OM_URL_KIND_HOST, "evil.example.co.jp", "feed", &error) == 0 &&
	       om_store_url_del(store, OM_URL_KIND_HOST, "evil.example.co.jp", "admin", &error) == 1,
	       "del of one source's entry");
	TAP_OK(om_store_urls_count(store, NULL, &error) == 8, "count of every entry");
}

static void test_refused(struct om_store *store)
{
	struct om_store_url u = { OM_URL_KIND_NONE, "x.example", OM_URL_VERDICT_BLOCK, "admin", 1, 0 };
	char *error = NULL;

	TAP_OK(om_store_url_add(store, &u, &error) < 0 && error != NULL, "no kind: refused");
	om_free(&error);
	u.kind = OM_URL_KIND_HOST;
	u.verdict = OM_URL_VERDICT_NONE;
	TAP_OK(om_store_url_add(store, &u, &error) < 0 && error != NULL, "no verdict: refused");
	om_free(&error);
	u.verdict = OM_URL_VERDICT_WARN;
	u.key = "";
	TAP_OK(om_store_url_add(store, &u, &error) < 0 && error != NULL, "empty key: refused");
	om_free(&error);
}

/* The lookup reads the primary key's index (sqlite3 on the file, as an
   administrator would look). */
static void test_plan(const char *path)
{
	char cmd[1024], line[512];
	FILE *p;
	int index = 0, scan = 0;

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"EXPLAIN QUERY PLAN SELECT kind, key, source, "
		 "verdict, added, expires FROM url_entries WHERE kind = 2 AND key IN ('a', 'b', "
		 "NULL) AND (expires = 0 OR expires > 5) ORDER BY verdict DESC, length(key) DESC "
		 "LIMIT 1\" 2>&1", path);
	p = popen(cmd, "r");
	if (p == NULL) {
		TAP_OK(0, "run sqlite3");
		return;
	}
	while (fgets(line, sizeof(line), p) != NULL) {
		printf("# %s", line);
		index |= strstr(line, "USING PRIMARY KEY") != NULL ||
			strstr(line, "USING INDEX") != NULL;
		scan |= strstr(line, "SCAN url_entries") != NULL;
	}
	TAP_OK(pclose(p) == 0 && index && !scan, "a lookup seeks the index, never scans the table");
}

int main(void)
{
	char dir[] = "/tmp/om-test-store-urls-XXXXXX", *path, *error = NULL;
	struct om_store *store = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/omamori.db", dir);
	TAP_OK(om_store_open(path, OM_STORE_CREATE, 1000, &store, &error) == 0,
	       "create the store");
	test_lookups(store);
	test_import(store);
	test_refused(store);
	om_store_close(&store);
	test_plan(path);
	free(path);
	tap_remove_tree(dir);
	return tap_done();
}
