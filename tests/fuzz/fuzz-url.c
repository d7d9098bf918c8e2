/* fuzz-url.c - libFuzzer target over the url layer: the URL parser and
 * normaliser, the host normaliser, entries and the lookup keys, and every
 * feed reader over the same bytes.  Beyond "no crash, no leak, no UB" it
 * checks the normaliser's promise: a key parsed again is the same key (two
 * spellings of one address must meet), the host is at most 253 bytes and
 * the lookup keys are suffixes of the host.  Built with clang when it is
 * installed; run for a short time by `make check` (tests/fuzz/run-fuzz.sh).
 */
#include "url/url.h"
#include "url/feed.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* loaded once: the list is the same for every input */
static struct om_url_psl *fuzz_psl;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *error = NULL;

	(void)argc;
	(void)argv;
	fuzz_psl = om_url_psl_open(&error);
	if (fuzz_psl == NULL)
		abort();
	return 0;
}

/* The normaliser's promises on one parsed URL. */
static void fuzz_url_checks(const struct om_url *url)
{
	struct om_url_keys keys;
	struct om_url again;
	char *error = NULL;
	size_t i, len = strlen(url->key);

	if (strlen(url->host) > OM_URL_HOST_MAX + 2)	/* IPv6 brackets */
		abort();
	if (len <= OM_URL_MAX) {
		if (om_url_parse(url->key, len, &again, &error) < 0)
			abort();	/* a key that does not read back */
		if (strcmp(again.key, url->key) != 0)
			abort();	/* normalising twice changed it */
		om_url_free(&again);
	}
	om_url_keys(fuzz_psl, url, &keys);
	for (i = 0; i < keys.nhosts; i++) {
		if (strstr(url->host, keys.hosts[i]) == NULL)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const enum om_feed_format formats[] = {
		OM_FEED_AUTO, OM_FEED_URLHAUS, OM_FEED_PHISHTANK_CSV,
		OM_FEED_PHISHTANK_JSON, OM_FEED_OPENPHISH, OM_FEED_LIST,
	};
	const char *text = (const char *)data;
	enum om_url_host_type type;
	enum om_url_kind kind;
	struct om_feed_item item;
	struct om_feed *feed;
	struct om_url url;
	char *error = NULL, *out = NULL;
	size_t i;

	if (om_url_parse(text, size, &url, &error) == 0) {
		fuzz_url_checks(&url);
		om_url_free(&url);
	} else {
		om_free(&error);
	}
	if (om_url_host(text, size, &out, &type, &error) == 0)
		om_free(&out);
	else
		om_free(&error);
	if (om_url_entry(fuzz_psl, text, size, &kind, &out, &error) == 0)
		om_free(&out);
	else
		om_free(&error);
	/* the feed readers get the bytes without a NUL after them */
	for (i = 0; i < OM_N_ELEMENTS(formats); i++) {
		feed = om_feed_new(fuzz_psl, text, size, formats[i]);
		while (om_feed_next(feed, &item) == 1) {
			if ((item.key == NULL) == (item.error == NULL))
				abort();	/* an item is an entry or a bad line */
		}
		om_feed_free(&feed);
	}
	return 0;
}
