/* geo.c - the countries of a mail's Received path (geo.h).
 *
 * The database is opened once (MMDB_MODE_MMAP) and only read afterwards:
 * libmaxminddb's lookups on one MMDB_s are safe from several threads.
 * Addresses are the bracketed ones of each Received header ("from host
 * (rdns [192.0.2.1])", "[IPv6:2001:db8::1]"), public ones only.
 */
#include "scan/geo.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_GEO_HOPS_MAX 32

struct om_geo {
	MMDB_s mmdb;
};

int om_geo_open(const char *path, struct om_geo **geo_r, char **error_r)
{
	struct om_geo *geo = om_calloc(1, sizeof(*geo));
	int ret = MMDB_open(path, MMDB_MODE_MMAP, &geo->mmdb);

	if (ret != MMDB_SUCCESS) {
		*error_r = om_asprintf("geoip: %s: %s", path, MMDB_strerror(ret));
		free(geo);
		return -1;
	}
	*geo_r = geo;
	return 0;
}

void om_geo_close(struct om_geo **geo)
{
	if (*geo == NULL)
		return;
	MMDB_close(&(*geo)->mmdb);
	free(*geo);
	*geo = NULL;
}

int om_geo_country(const struct om_geo *geo, const char *address, char cc[3])
{
	MMDB_lookup_result_s res;
	MMDB_entry_data_s data;
	int gai = 0, err = 0;

	cc[0] = '\0';
	res = MMDB_lookup_string((MMDB_s *)&geo->mmdb, address, &gai, &err);
	if (gai != 0 || err != MMDB_SUCCESS || !res.found_entry)
		return 0;
	if (MMDB_get_value(&res.entry, &data, "country", "iso_code", NULL) != MMDB_SUCCESS ||
	    !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    data.data_size != 2)
		return 0;
	cc[0] = data.utf8_string[0];
	cc[1] = data.utf8_string[1];
	cc[2] = '\0';
	return (cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z');
}

static int om_geo_public4(const unsigned char *a)
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return 0;
	if ((a[0] == 100 && (a[1] & 0xc0) == 64) || (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) ||
	    (a[0] == 198 && (a[1] & 0xfe) == 18) ||
	    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	    (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return 0;
	return 1;
}

int om_geo_public(const char *address)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, address, a) == 1)
		return om_geo_public4(a);
	if (inet_pton(AF_INET6, address, a) != 1)
		return 0;
	/* global unicast 2000::/3, not documentation 2001:db8::/32 */
	if ((a[0] & 0xe0) != 0x20)
		return 0;
	return !(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8);
}

struct om_geo_walk {
	char *values[OM_GEO_HOPS_MAX];
	size_t count;
};

static void om_geo_header(void *context, const char *name, const char *value)
{
	struct om_geo_walk *w = context;

	if (value != NULL && strcasecmp(name, "Received") == 0 && w->count < OM_GEO_HOPS_MAX)
		w->values[w->count++] = om_strdup(value);
}

/* The public addresses of one Received value, in order, looked up;
   appended to out (a country the same as the last one is not repeated). */
static void om_geo_hop(const struct om_geo *geo, const char *value, char *out,
		       char seen[][3], int *distinct)
{
	const char *p = value, *open, *close;
	char addr[64], cc[3];
	size_t len, n;
	int i, known;

	while ((open = strchr(p, '[')) != NULL && (close = strchr(open, ']')) != NULL) {
		p = close + 1;
		open++;
		if (strncasecmp(open, "IPv6:", 5) == 0)
			open += 5;
		len = (size_t)(close - open);
		if (len == 0 || len >= sizeof(addr))
			continue;
		memcpy(addr, open, len);
		addr[len] = '\0';
		if (!om_geo_public(addr) || !om_geo_country(geo, addr, cc))
			continue;
		n = strlen(out);
		if (n >= 2 && strcmp(out + n - 2, cc) == 0)
			continue;
		if (n + 4 > OM_GEO_PATH_MAX)
			return;
		(void)snprintf(out + n, OM_GEO_PATH_MAX - n, "%s%s", n > 0 ? " " : "", cc);
		for (i = 0, known = 0; i < *distinct; i++)
			known |= strcmp(seen[i], cc) == 0;
		if (!known && *distinct < OM_GEO_HOPS_MAX)
			memcpy(seen[(*distinct)++], cc, 3);
	}
}

int om_geo_received_path(const struct om_geo *geo, struct om_mime_msg *msg,
			 char out[OM_GEO_PATH_MAX])
{
	char seen[OM_GEO_HOPS_MAX][3];
	struct om_geo_walk w;
	int distinct = 0;
	size_t i;

	out[0] = '\0';
	if (geo == NULL || msg == NULL)
		return 0;
	memset(&w, 0, sizeof(w));
	om_mime_foreach_header_named(msg, "Received", om_geo_header, &w);
	/* the bottom header is the sender's side: read upwards */
	for (i = w.count; i > 0; i--)
		om_geo_hop(geo, w.values[i - 1], out, seen, &distinct);
	for (i = 0; i < w.count; i++)
		free(w.values[i]);
	return distinct;
}
