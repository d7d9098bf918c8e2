/* web-rate.h - omamori-web's rate limit: a token bucket per client (an
 * IPv4 address, an IPv6 /64), in memory, web_rate_limit requests a minute.
 */
#ifndef WEB_RATE_H
#define WEB_RATE_H

#include <pthread.h>
#include <stddef.h>

struct om_hash;

/* One client's bucket: it holds up to rate tokens and gains rate a
   minute; a request takes one.  A failed login takes more and may leave
   the bucket in debt (down to -rate), so guessing passwords costs minutes. */
struct web_bucket {
	double tokens;
	double stamp;		/* seconds, monotonic */
};

/* A full bucket at now. */
void web_bucket_init(struct web_bucket *b, double now, long rate);
/* Refills b to now, then takes cost if it has that many tokens: 1 taken,
   0 not (nothing taken). */
int web_bucket_take(struct web_bucket *b, double now, long rate, double cost);
/* Refills b to now, then takes cost whatever it holds (not below -rate). */
void web_bucket_charge(struct web_bucket *b, double now, long rate, double cost);
/* 1 if b is full at now (it may be forgotten). */
int web_bucket_full(const struct web_bucket *b, double now, long rate);

/* Every client's bucket, behind one lock; at most max_clients of them
   (full ones are forgotten when the table fills; a new client beyond that
   is refused, which fails closed). */
struct web_rate {
	pthread_mutex_t lock;
	struct om_hash *buckets;
	long rate;
	size_t max_clients;
};
int web_rate_init(struct web_rate *r, long rate, size_t max_clients);
void web_rate_deinit(struct web_rate *r);
/* Takes one token of key's bucket: 1 allowed, 0 over the limit. */
int web_rate_allow(struct web_rate *r, const char *key, double now);
/* Charges key's bucket cost more tokens (a failed login). */
void web_rate_penalty(struct web_rate *r, const char *key, double now,
		      double cost);

#endif
