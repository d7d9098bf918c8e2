/* feed.h - the public URL feeds an administrator imports into the URL
 * reputation store (omamorictl urls import, doc/links.md), read as their
 * publishers write them:
 *
 *	urlhaus		abuse.ch URLhaus CSV: '#' comment lines (the last
 *			one names the columns: id,dateadded,url,url_status,
 *			last_online,threat,tags,urlhaus_link,reporter),
 *			every field in double quotes
 *	phishtank-csv	PhishTank CSV: a header line phish_id,url,
 *			phish_detail_url,submission_time,verified,
 *			verification_time,online,target
 *	phishtank-json	PhishTank JSON: an array of objects with "url"
 *	openphish	OpenPhish: one URL a line
 *	list		a plain list: URLs or host names (or a hosts file's
 *			"0.0.0.0 host" lines), '#' comment lines
 *
 * A reader walks the file item by item; a bad line is an item with its
 * line number and the reason, never the end of the import (except a JSON
 * file broken in its structure: nothing after the break can be read).
 * Nothing here touches the store or a file: pure functions over a buffer.
 */
#ifndef OM_FEED_H
#define OM_FEED_H

#include <stddef.h>

#include "lib/values.h"
#include "url/url.h"

enum om_feed_format {
	OM_FEED_AUTO = 0,	/* detect it (om_feed_detect) */
	OM_FEED_URLHAUS,
	OM_FEED_PHISHTANK_CSV,
	OM_FEED_PHISHTANK_JSON,
	OM_FEED_OPENPHISH,
	OM_FEED_LIST,
};

/* "urlhaus", "phishtank-csv", "phishtank-json", "openphish", "list"; NULL
   for auto and unknown values. */
const char *om_feed_format_name(enum om_feed_format format);
/* 0 with *format_r, or -1 for a name of no format. */
int om_feed_format_parse(const char *name, enum om_feed_format *format_r);
/* The format data[0..len) is in, by its first lines (a JSON array,
   PhishTank's header, URLhaus's comment block or quoted id column, every
   line a URL); a plain list when nothing else fits. */
enum om_feed_format om_feed_detect(const char *data, size_t len);

/* One item of a feed: an entry (key not NULL) or a bad line (error). */
struct om_feed_item {
	unsigned int line;
	enum om_url_kind kind;
	const char *key;	/* the normalised entry, or NULL */
	const char *error;	/* why the line is bad, or NULL */
};

struct om_feed;

/* A reader of data[0..len) (which must outlive it) in format (AUTO:
   detected); psl decides host and domain entries. */
struct om_feed *om_feed_new(const struct om_url_psl *psl, const char *data,
			    size_t len, enum om_feed_format format);
void om_feed_free(struct om_feed **feed);
enum om_feed_format om_feed_get_format(const struct om_feed *feed);
/* The next item: 1 (its strings live until the next call), 0 at the end. */
int om_feed_next(struct om_feed *feed, struct om_feed_item *item_r);

#endif
