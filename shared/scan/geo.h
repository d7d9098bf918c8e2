/* geo.h - the countries a mail passed (issue 16 item 5, seed 004's 受信経路を
 * 国旗で表示 / 複数の国を経由 = 不審メール): the public addresses of its
 * Received headers looked up in a MaxMind DB country database
 * (libmaxminddb; GeoLite2-Country or DB-IP's country lite, as geoipupdate
 * or an administrator puts it there).  Without the database nothing is
 * shown and no rule fires.
 */
#ifndef OM_SCAN_GEO_H
#define OM_SCAN_GEO_H

#include <stddef.h>

struct om_geo;
struct om_mime_msg;

#define OM_GEO_PATH_MAX 64	/* "US DE JP ..." */
/* the rule a path through several countries fires, and its points */
#define OM_GEO_RULE "RECEIVED_COUNTRIES"
#define OM_GEO_RULE_MIN 3	/* distinct countries */
#define OM_GEO_RULE_POINTS 1.5

/* Opens the database at path: 0, or -1 with *error_r. */
int om_geo_open(const char *path, struct om_geo **geo_r, char **error_r);
void om_geo_close(struct om_geo **geo);

/* The ISO code of address (text, v4 or v6) into cc: 1, 0 when unknown. */
int om_geo_country(const struct om_geo *geo, const char *address, char cc[3]);

/* 1 for an address of the public Internet (not private, loopback,
   link-local, shared, documentation, multicast...); 0 otherwise or not an
   address. */
int om_geo_public(const char *address);

/* The countries of the public Received hops, the sender's first ("CN US
   JP"; a country repeated in a row once) into out; the number of distinct
   countries. */
int om_geo_received_path(const struct om_geo *geo, struct om_mime_msg *msg,
			 char out[OM_GEO_PATH_MAX]);

#endif
