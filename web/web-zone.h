/* web-zone.h - local time in a named zone without switching TZ per
 * request: a per-thread cache of UTC offsets, one per zone and UTC hour,
 * filled under the server's tz lock (web-zone.c says why it stays exact).
 */
#ifndef WEB_ZONE_H
#define WEB_ZONE_H

#include <pthread.h>
#include <time.h>

/* A zone name as a setting holds it (om_settings_timezone_valid: at most
   64 bytes), with its NUL. */
#define WEB_ZONE_NAME_MAX 65
/* Cached (zone, hour) offsets per thread; a slot is overwritten by the
   next (zone, hour) that hashes to it. */
#define WEB_ZONE_SLOTS 64

struct web_zone_slot {
	char zone[WEB_ZONE_NAME_MAX];	/* "" for an empty slot */
	time_t hour;			/* UTC start of the hour */
	long gmtoff;			/* seconds east of UTC, the whole hour */
	int isdst;
};

/* One thread's cache; used by that thread only, so it has no lock. */
struct web_zone_cache {
	struct web_zone_slot slots[WEB_ZONE_SLOTS];
	unsigned long hits, misses;	/* tests and debugging */
};

/* Empties cache. */
void web_zone_cache_init(struct web_zone_cache *cache);

/* when in zone (a tz name, or "localtime": the process's own zone; a name
   the system does not have is "localtime" too) into *tm_r, as localtime_r
   with TZ=zone would give it except for tm_zone (NULL: no %Z).  tz_lock
   guards TZ, which is process-wide: a miss switches TZ under it, once per
   zone and hour.  0, or -1 (when out of range). */
int web_zone_local(struct web_zone_cache *cache, pthread_mutex_t *tz_lock,
		   const char *zone, time_t when, struct tm *tm_r);

#endif
