/* feed.c - readers of the public URL feeds (see feed.h).
 *
 * The line formats are read a line at a time (a CSV line through lib's
 * RFC 4180 reader, on a copy of that line alone), so one broken line is
 * one bad item and the next line is read as if nothing happened.
 * PhishTank's JSON is read by a small bounded JSON scanner: only the
 * top-level array's objects and their "url" member matter, every other
 * value is skipped (nested at most OM_FEED_JSON_DEPTH deep).
 */
#include "url/feed.h"
#include "lib/csv.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_FEED_CSV_FIELDS 32		/* columns kept of a CSV line */
#define OM_FEED_JSON_DEPTH 64
#define OM_FEED_LINE_MAX (OM_URL_MAX + 4096)	/* a line longer is bad */

static const char *const om_feed_names[] = {
	[OM_FEED_URLHAUS] = "urlhaus",
	[OM_FEED_PHISHTANK_CSV] = "phishtank-csv",
	[OM_FEED_PHISHTANK_JSON] = "phishtank-json",
	[OM_FEED_OPENPHISH] = "openphish",
	[OM_FEED_LIST] = "list",
};

struct om_feed {
	const struct om_url_psl *psl;
	enum om_feed_format format;
	const char *pos, *end;		/* what is left to read */
	unsigned int line;		/* the line at pos */
	size_t url_column;		/* CSV formats: the url's column */
	int header_seen;		/* phishtank-csv: its first line read */
	int json_state;			/* 0 before '[', 1 in the array, 2 done */
	char *key, *error;		/* the last item's strings */
};

const char *om_feed_format_name(enum om_feed_format format)
{
	if ((size_t)format >= OM_N_ELEMENTS(om_feed_names))
		return NULL;
	return om_feed_names[format];
}

int om_feed_format_parse(const char *name, enum om_feed_format *format_r)
{
	size_t i;

	for (i = 1; i < OM_N_ELEMENTS(om_feed_names); i++) {
		if (strcmp(om_feed_names[i], name) == 0) {
			*format_r = (enum om_feed_format)i;
			return 0;
		}
	}
	return -1;
}

/* The line at *pp (without its line end), moving *pp past it. */
static size_t om_feed_line(const char **pp, const char *end, const char **line_r)
{
	const char *p = *pp, *nl = memchr(p, '\n', (size_t)(end - p));
	size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

	*line_r = p;
	*pp = nl != NULL ? nl + 1 : end;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

static const char *om_feed_skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* A line (after leading blanks) starting with '#'. */
static int om_feed_is_comment(const char *line, size_t len)
{
	const char *end = line + len, *p = om_feed_skip_space(line, end);

	return p < end && *p == '#';
}

static int om_feed_is_blank(const char *line, size_t len)
{
	return om_feed_skip_space(line, line + len) == line + len;
}

/* "1234","... : URLhaus's quoted id column. */
static int om_feed_urlhaus_data(const char *line, size_t len)
{
	size_t i = 1;

	if (len < 4 || line[0] != '"')
		return 0;
	while (i < len && line[i] >= '0' && line[i] <= '9')
		i++;
	return i > 1 && i + 1 < len && line[i] == '"' && line[i + 1] == ',';
}

enum om_feed_format om_feed_detect(const char *data, size_t len)
{
	const char *p = data, *end = data + len, *line;
	size_t n;
	int urls = 0, others = 0, comments = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	p = om_feed_skip_space(p, end);
	if (p < end && *p == '[')
		return OM_FEED_PHISHTANK_JSON;
	while (p < end) {
		n = om_feed_line(&p, end, &line);
		if (om_feed_is_blank(line, n))
			continue;
		if (urls + others == 0 && n >= 9 && memcmp(line, "phish_id,", 9) == 0)
			return OM_FEED_PHISHTANK_CSV;
		if (om_feed_is_comment(line, n)) {
			if (urls + others == 0 &&
			    (memmem(line, n, "URLhaus", 7) != NULL ||
			     memmem(line, n, "id,dateadded,url", 16) != NULL))
				return OM_FEED_URLHAUS;
			comments++;
			continue;
		}
		if (urls + others == 0 && om_feed_urlhaus_data(line, n))
			return OM_FEED_URLHAUS;
		if (memmem(line, n, "://", 3) != NULL)
			urls++;
		else
			others++;
	}
	return urls > 0 && others == 0 && comments == 0 ? OM_FEED_OPENPHISH : OM_FEED_LIST;
}

struct om_feed *om_feed_new(const struct om_url_psl *psl, const char *data,
			    size_t len, enum om_feed_format format)
{
	struct om_feed *feed = om_calloc(1, sizeof(*feed));

	feed->psl = psl;
	feed->format = format != OM_FEED_AUTO ? format : om_feed_detect(data, len);
	feed->pos = data;
	feed->end = data + len;
	feed->line = 1;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		feed->pos += 3;
	feed->url_column = feed->format == OM_FEED_URLHAUS ? 2 : 1;
	return feed;
}

void om_feed_free(struct om_feed **feedp)
{
	struct om_feed *feed = *feedp;

	if (feed == NULL)
		return;
	*feedp = NULL;
	free(feed->key);
	free(feed->error);
	free(feed);
}

enum om_feed_format om_feed_get_format(const struct om_feed *feed)
{
	return feed->format;
}

/* Fills item with a bad line (error allocated, taken over). */
static int om_feed_bad(struct om_feed *feed, struct om_feed_item *item,
		       unsigned int line, char *error)
{
	feed->error = error;
	item->line = line;
	item->error = error;
	return 1;
}

/* Fills item with the entry text[0..len) (must be a URL when url_only). */
static int om_feed_entry(struct om_feed *feed, struct om_feed_item *item,
			 unsigned int line, const char *text, size_t len, int url_only)
{
	char *error = NULL;

	if (url_only && memmem(text, len, "://", 3) == NULL)
		return om_feed_bad(feed, item, line,
				   om_strdup("not a URL (scheme://host...)"));
	if (om_url_entry(feed->psl, text, len, &item->kind, &feed->key, &error) < 0)
		return om_feed_bad(feed, item, line, error);
	item->line = line;
	item->key = feed->key;
	return 1;
}

/* The column named "url" in a header's names (comma separated, maybe
   quoted), or keep when there is none. */
static size_t om_feed_url_column(const char *names, size_t len, size_t keep)
{
	const char *p = names, *end = names + len, *comma;
	size_t column = 0, n;

	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		n = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);
		while (n > 0 && (*p == ' ' || *p == '"')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '"'))
			n--;
		if (n == 3 && memcmp(p, "url", 3) == 0)
			return column;
		column++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return keep;
}

/* One CSV line: the url column's entry. */
static int om_feed_csv_line(struct om_feed *feed, struct om_feed_item *item,
			    unsigned int line, const char *text, size_t len)
{
	char *copy = om_strndup(text, len), *fields[OM_FEED_CSV_FIELDS], *error = NULL;
	struct om_csv csv;
	unsigned int at;
	size_t count = 0;
	int ret = 0;

	/* (a line of a byte order mark alone is a record of no field) */
	if (om_csv_init(&csv, copy, len, &error) < 0 ||
	    (ret = om_csv_record(&csv, fields, OM_FEED_CSV_FIELDS, &count, &at,
				 &error)) < 0) {
		free(copy);
		/* the reader counts from the line it was given */
		ret = om_feed_bad(feed, item, line, om_asprintf("CSV: %s", error));
		free(error);
		return ret;
	}
	if (ret == 0 || count <= feed->url_column ||
	    feed->url_column >= OM_FEED_CSV_FIELDS) {
		free(copy);
		return om_feed_bad(feed, item, line,
				   om_asprintf("%zu fields, the url is field %zu", count,
					       feed->url_column + 1));
	}
	ret = om_feed_entry(feed, item, line, fields[feed->url_column],
			    strlen(fields[feed->url_column]), 1);
	free(copy);
	return ret;
}

/* A hosts file's "0.0.0.0 host" (or 127.0.0.1, ::): the host. */
static void om_feed_hosts_line(const char **text, size_t *len)
{
	static const char *const sinks[] = { "0.0.0.0", "127.0.0.1", "::" };
	const char *p = om_feed_skip_space(*text, *text + *len), *end = *text + *len;
	size_t i, n, k;

	for (i = 0; i < OM_N_ELEMENTS(sinks); i++) {
		n = strlen(sinks[i]);
		if ((size_t)(end - p) > n + 1 && memcmp(p, sinks[i], n) == 0 &&
		    (p[n] == ' ' || p[n] == '\t')) {
			p = om_feed_skip_space(p + n, end);
			for (k = 0; p + k < end && p[k] != ' ' && p[k] != '\t' &&
				     p[k] != '#'; k++)
				;
			*text = p;
			*len = k;
			return;
		}
	}
}

/* The line formats: the next item, or 0 at the end. */
static int om_feed_next_line(struct om_feed *feed, struct om_feed_item *item)
{
	const char *text;
	unsigned int line;
	size_t len;

	while (feed->pos < feed->end) {
		line = feed->line++;
		len = om_feed_line(&feed->pos, feed->end, &text);
		if (om_feed_is_blank(text, len))
			continue;
		if (len > OM_FEED_LINE_MAX)
			return om_feed_bad(feed, item, line,
					   om_asprintf("line longer than %d bytes",
						       OM_FEED_LINE_MAX));
		if (om_feed_is_comment(text, len)) {
			const char *h = om_feed_skip_space(text + 1, text + len);

			/* URLhaus names its columns in its last comment */
			if (feed->format == OM_FEED_URLHAUS &&
			    (size_t)(text + len - h) > 3 && memcmp(h, "id,", 3) == 0)
				feed->url_column = om_feed_url_column(h, (size_t)(text + len - h),
								      feed->url_column);
			if (feed->format != OM_FEED_PHISHTANK_CSV)
				continue;
		}
		switch (feed->format) {
		case OM_FEED_URLHAUS:
			return om_feed_csv_line(feed, item, line, text, len);
		case OM_FEED_PHISHTANK_CSV:
			if (!feed->header_seen) {
				feed->header_seen = 1;
				if (len >= 9 && memcmp(text, "phish_id,", 9) == 0) {
					feed->url_column = om_feed_url_column(text, len, 1);
					continue;
				}
			}
			return om_feed_csv_line(feed, item, line, text, len);
		case OM_FEED_OPENPHISH:
			return om_feed_entry(feed, item, line, text, len, 1);
		default:
			om_feed_hosts_line(&text, &len);
			return om_feed_entry(feed, item, line, text, len, 0);
		}
	}
	return 0;
}

/* ---- PhishTank's JSON ---- */

struct om_json {
	const char *p, *end;
	unsigned int *line;
	char *error;
};

static void om_json_space(struct om_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' ||
				 *j->p == '\n')) {
		if (*j->p == '\n')
			(*j->line)++;
		j->p++;
	}
}

static int om_json_fail(struct om_json *j, const char *what)
{
	if (j->error == NULL)
		j->error = om_asprintf("JSON: %s", what);
	return -1;
}

static int om_json_hex4(const char *p, unsigned int *value_r)
{
	unsigned int v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' :
			p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 :
			p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + (unsigned int)d;
	}
	*value_r = v;
	return 0;
}

static void om_json_utf8(struct om_buf *out, unsigned int c)
{
	unsigned char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	om_buf_append(out, b, n);
}

/* \uXXXX at j->p (after the backslash and 'u'), a surrogate pair
   joined.  0 or -1. */
static int om_json_unicode(struct om_json *j, struct om_buf *out)
{
	unsigned int c, lo;

	if (j->end - j->p < 4 || om_json_hex4(j->p, &c) < 0)
		return om_json_fail(j, "bad \\u escape");
	j->p += 4;
	if (c >= 0xd800 && c < 0xdc00) {
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    om_json_hex4(j->p + 2, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000)
			return om_json_fail(j, "lone surrogate in \\u escape");
		j->p += 6;
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
	} else if (c >= 0xdc00 && c < 0xe000) {
		return om_json_fail(j, "lone surrogate in \\u escape");
	}
	if (c == 0)
		return om_json_fail(j, "NUL in a string");
	om_json_utf8(out, c);
	return 0;
}

/* A string at j->p (its opening quote), decoded into out (NULL: skip). */
static int om_json_string(struct om_json *j, struct om_buf *out)
{
	struct om_buf skip;
	const char *esc;
	int ret = 0;

	om_buf_init(&skip);
	if (out == NULL)
		out = &skip;
	j->p++;
	for (;;) {
		if (j->p >= j->end) {
			ret = om_json_fail(j, "a string is never closed");
			break;
		}
		if (*j->p == '"') {
			j->p++;
			break;
		}
		if ((unsigned char)*j->p < 0x20) {
			ret = om_json_fail(j, "a control character in a string");
			break;
		}
		if (*j->p != '\\') {
			om_buf_append(out, j->p++, 1);
			continue;
		}
		if (++j->p >= j->end) {
			ret = om_json_fail(j, "a string is never closed");
			break;
		}
		esc = strchr("\"\\/bfnrt", *j->p);
		if (*j->p == 'u') {
			j->p++;
			if ((ret = om_json_unicode(j, out)) < 0)
				break;
		} else if (esc != NULL && *j->p != '\0') {
			om_buf_append(out, &"\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"], 1);
			j->p++;
		} else {
			ret = om_json_fail(j, "bad escape in a string");
			break;
		}
	}
	om_buf_free(&skip);
	return ret;
}

static int om_json_value(struct om_json *j, unsigned int depth, struct om_buf *str,
			 int *is_string_r);

/* An array or object at j->p; members skipped. */
static int om_json_container(struct om_json *j, unsigned int depth)
{
	char close = *j->p == '[' ? ']' : '}';
	int first = 1, is_string;

	if (depth >= OM_FEED_JSON_DEPTH)
		return om_json_fail(j, "nested too deep");
	j->p++;
	for (;;) {
		om_json_space(j);
		if (j->p < j->end && *j->p == close && first) {
			j->p++;
			return 0;
		}
		if (close == '}') {
			if (j->p >= j->end || *j->p != '"' || om_json_string(j, NULL) < 0)
				return om_json_fail(j, "a member without a name");
			om_json_space(j);
			if (j->p >= j->end || *j->p != ':')
				return om_json_fail(j, "':' missing");
			j->p++;
		}
		if (om_json_value(j, depth + 1, NULL, &is_string) < 0)
			return -1;
		om_json_space(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			first = 0;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		return om_json_fail(j, "',' or the end of a list missing");
	}
}

/* Any value at j->p (a string decoded into str when str is not NULL). */
static int om_json_value(struct om_json *j, unsigned int depth, struct om_buf *str,
			 int *is_string_r)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i, n;

	*is_string_r = 0;
	om_json_space(j);
	if (j->p >= j->end)
		return om_json_fail(j, "a value missing");
	if (*j->p == '"') {
		*is_string_r = 1;
		return om_json_string(j, str);
	}
	if (*j->p == '[' || *j->p == '{')
		return om_json_container(j, depth);
	for (i = 0; i < OM_N_ELEMENTS(words); i++) {
		n = strlen(words[i]);
		if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
			j->p += n;
			return 0;
		}
	}
	for (n = 0; j->p + n < j->end && j->p[n] != '\0' &&
		    strchr("-+0123456789.eE", j->p[n]) != NULL; n++)
		;
	if (n == 0)
		return om_json_fail(j, "not a value");
	j->p += n;
	return 0;
}

/* One object of the top-level array at j->p: its "url" into url (set
   *found_r), other members skipped. */
static int om_json_object(struct om_json *j, struct om_buf *url, int *found_r)
{
	struct om_buf name;
	int is_string, ret = 0;

	*found_r = 0;
	if (j->p >= j->end || *j->p != '{')
		return om_json_fail(j, "the array holds something else than objects");
	j->p++;
	om_buf_init(&name);
	om_json_space(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		om_json_space(j);
		om_buf_reset(&name);
		if (j->p >= j->end || *j->p != '"' || om_json_string(j, &name) < 0) {
			ret = om_json_fail(j, "a member without a name");
			break;
		}
		om_json_space(j);
		if (j->p >= j->end || *j->p != ':') {
			ret = om_json_fail(j, "':' missing");
			break;
		}
		j->p++;
		if (name.data != NULL && strcmp(name.data, "url") == 0 && !*found_r) {
			om_buf_reset(url);
			if ((ret = om_json_value(j, 2, url, &is_string)) < 0)
				break;
			*found_r = is_string ? 1 : -1;
		} else if ((ret = om_json_value(j, 2, NULL, &is_string)) < 0) {
			break;
		}
		om_json_space(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		ret = om_json_fail(j, "',' or '}' missing");
		break;
	}
	om_buf_free(&name);
	return ret;
}

static int om_feed_next_json(struct om_feed *feed, struct om_feed_item *item)
{
	struct om_json j = { feed->pos, feed->end, &feed->line, NULL };
	struct om_buf url;
	unsigned int line;
	int found, ret;

	if (feed->json_state == 2)
		return 0;
	om_json_space(&j);
	if (feed->json_state == 0) {
		if (j.p >= j.end || *j.p != '[') {
			feed->json_state = 2;
			return om_feed_bad(feed, item, feed->line,
					   om_strdup("JSON: not an array of objects"));
		}
		j.p++;
		feed->json_state = 1;
		om_json_space(&j);
		if (j.p < j.end && *j.p == ']') {
			feed->json_state = 2;
			return 0;
		}
	} else {
		/* after an object: ',' and the next, or the end */
		if (j.p < j.end && *j.p == ']') {
			feed->json_state = 2;
			j.p++;
			om_json_space(&j);
			if (j.p < j.end)
				return om_feed_bad(feed, item, feed->line,
						   om_strdup("JSON: text after the array"));
			return 0;
		}
		if (j.p >= j.end || *j.p != ',') {
			feed->json_state = 2;
			return om_feed_bad(feed, item, feed->line,
					   om_strdup("JSON: ',' or ']' missing"));
		}
		j.p++;
		om_json_space(&j);
	}
	line = feed->line;
	om_buf_init(&url);
	ret = om_json_object(&j, &url, &found);
	feed->pos = j.p;
	if (ret < 0) {
		feed->json_state = 2;
		om_buf_free(&url);
		/* where the structure broke: nothing after it can be read */
		return om_feed_bad(feed, item, feed->line, j.error);
	}
	if (found != 1) {
		om_buf_free(&url);
		return om_feed_bad(feed, item, line, om_strdup(found == 0 ?
			"an object without \"url\"" : "\"url\" is not a string"));
	}
	ret = om_feed_entry(feed, item, line, url.data, url.len, 1);
	om_buf_free(&url);
	return ret;
}

int om_feed_next(struct om_feed *feed, struct om_feed_item *item_r)
{
	memset(item_r, 0, sizeof(*item_r));
	om_free(&feed->key);
	om_free(&feed->error);
	if (feed->format == OM_FEED_PHISHTANK_JSON)
		return om_feed_next_json(feed, item_r);
	return om_feed_next_line(feed, item_r);
}
