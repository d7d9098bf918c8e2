/* web-zone.c - dates in a domain's timezone, for every quarantine page.
 *
 * localtime_r in another zone needs TZ, which is process-wide: switching
 * it (setenv, tzset, and back) under a lock for every date serialised the
 * pool's threads and re-read the zone file each time.  Instead each thread
 * keeps, per zone and UTC hour, the UTC offset of that hour, and a date is
 * gmtime_r(when + offset).  A miss switches TZ under the server's lock, as
 * before, and asks for the offset at the hour's first and last second: the
 * hour is cached only when both agree, so an hour holding a DST change (or
 * any change of offset: zones that move by 30 minutes or at :30 as well)
 * is never cached, and each of its dates is computed with TZ switched.
 * Exact as long as no zone changes its offset twice within one hour, which
 * no zone has done.  A slot is good for its hour, so a zone file updated
 * while we run is read again from the next hour on.
 */
#include "web-zone.h"
#include "lib/util.h"
#include "store/settings.h"

#include <stdlib.h>
#include <string.h>

#define WEB_ZONE_HOUR 3600

void web_zone_cache_init(struct web_zone_cache *cache)
{
	memset(cache, 0, sizeof(*cache));
}

/* The UTC start of when's hour (floor, for times before 1970 too). */
static time_t web_zone_hour(time_t when)
{
	time_t rest = when % WEB_ZONE_HOUR;

	if (rest < 0)
		rest += WEB_ZONE_HOUR;
	return when - rest;
}

static unsigned int web_zone_slot_of(const char *zone, time_t hour)
{
	unsigned long long h = 14695981039346656037ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)zone; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	/* the hour mixed into every bit (splitmix64's finaliser): hours a
	   multiple of the table size apart must not share a slot */
	h ^= (unsigned long long)(hour / WEB_ZONE_HOUR);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (unsigned int)(h % WEB_ZONE_SLOTS);
}

/* when, its hour's first and last second in zone, with TZ switched under
   tz_lock (restored before it is released).  0, or -1. */
static int web_zone_switched(pthread_mutex_t *tz_lock, const char *zone,
			     time_t when, time_t hour, struct tm *tm_r,
			     struct tm *first_r, struct tm *last_r)
{
	time_t last = hour + WEB_ZONE_HOUR - 1;
	const char *old;
	char *saved;
	int ret;

	pthread_mutex_lock(tz_lock);
	old = getenv("TZ");
	saved = old != NULL ? om_strdup(old) : NULL;
	if (strcmp(zone, "localtime") != 0 && om_settings_timezone_valid(zone))
		(void)setenv("TZ", zone, 1);
	tzset();
	ret = localtime_r(&when, tm_r) != NULL &&
		localtime_r(&hour, first_r) != NULL &&
		localtime_r(&last, last_r) != NULL ? 0 : -1;
	if (saved != NULL)
		(void)setenv("TZ", saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	pthread_mutex_unlock(tz_lock);
	free(saved);
	return ret;
}

/* A miss: computes *tm_r with TZ switched, and fills slot when the offset
   holds for the whole hour. */
static int web_zone_miss(struct web_zone_slot *slot, pthread_mutex_t *tz_lock,
			 const char *zone, time_t when, time_t hour,
			 struct tm *tm_r)
{
	struct tm first, last;

	if (web_zone_switched(tz_lock, zone, when, hour, tm_r, &first, &last) < 0)
		return -1;
	tm_r->tm_zone = NULL;
	if (slot == NULL || first.tm_gmtoff != last.tm_gmtoff ||
	    first.tm_isdst != last.tm_isdst || tm_r->tm_gmtoff != first.tm_gmtoff)
		return 0;
	if (om_strlcpy(slot->zone, zone, sizeof(slot->zone)) < 0)
		return 0;
	slot->hour = hour;
	slot->gmtoff = first.tm_gmtoff;
	slot->isdst = first.tm_isdst;
	return 0;
}

int web_zone_local(struct web_zone_cache *cache, pthread_mutex_t *tz_lock,
		   const char *zone, time_t when, struct tm *tm_r)
{
	time_t hour = web_zone_hour(when), shifted;
	struct web_zone_slot *slot = NULL;

	if (strlen(zone) < WEB_ZONE_NAME_MAX)
		slot = &cache->slots[web_zone_slot_of(zone, hour)];
	if (slot != NULL && slot->zone[0] != '\0' && slot->hour == hour &&
	    strcmp(slot->zone, zone) == 0) {
		cache->hits++;
		shifted = when + slot->gmtoff;
		if (gmtime_r(&shifted, tm_r) == NULL)
			return -1;
		tm_r->tm_gmtoff = slot->gmtoff;
		tm_r->tm_isdst = slot->isdst;
		tm_r->tm_zone = NULL;
		return 0;
	}
	cache->misses++;
	return web_zone_miss(slot, tz_lock, zone, when, hour, tm_r);
}
