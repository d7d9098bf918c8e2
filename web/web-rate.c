/* web-rate.c - per-client token buckets for omamori-web.
 *
 * The web server faces the Internet through the proxy: without a limit a
 * client could guess passwords at /login or tokens at /m/ as fast as the
 * machine answers.  A bucket per client, in memory (a restart forgets the
 * counts, which costs an attacker nothing more than a minute's limit); the
 * table is bounded so that many addresses cannot exhaust memory.
 */
#include "web-rate.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdlib.h>

static void web_bucket_refill(struct web_bucket *b, double now, long rate)
{
	double gained;

	if (now > b->stamp) {
		gained = (now - b->stamp) * (double)rate / 60.0;
		b->tokens += gained;
		if (b->tokens > (double)rate)
			b->tokens = (double)rate;
	}
	b->stamp = now;
}

void web_bucket_init(struct web_bucket *b, double now, long rate)
{
	b->tokens = (double)rate;
	b->stamp = now;
}

int web_bucket_take(struct web_bucket *b, double now, long rate, double cost)
{
	web_bucket_refill(b, now, rate);
	if (b->tokens < cost)
		return 0;
	b->tokens -= cost;
	return 1;
}

void web_bucket_charge(struct web_bucket *b, double now, long rate, double cost)
{
	web_bucket_refill(b, now, rate);
	b->tokens -= cost;
	if (b->tokens < -(double)rate)
		b->tokens = -(double)rate;
}

int web_bucket_full(const struct web_bucket *b, double now, long rate)
{
	double tokens = b->tokens + (now - b->stamp) * (double)rate / 60.0;

	return tokens >= (double)rate;
}

int web_rate_init(struct web_rate *r, long rate, size_t max_clients)
{
	if (pthread_mutex_init(&r->lock, NULL) != 0)
		return -1;
	r->buckets = om_hash_new(1024);
	r->rate = rate;
	r->max_clients = max_clients;
	return 0;
}

void web_rate_deinit(struct web_rate *r)
{
	om_hash_free(&r->buckets, free);
	(void)pthread_mutex_destroy(&r->lock);
}

struct web_rate_sweep {
	const char **full;
	size_t count;
	double now;
	long rate;
};

static void web_rate_sweep_cb(void *context, const char *key, void *value)
{
	struct web_rate_sweep *s = context;

	if (web_bucket_full(value, s->now, s->rate))
		s->full[s->count++] = key;
}

/* Forgets the buckets that are full again (they say nothing a new one
   would not); called with the lock held when the table is full. */
static void web_rate_sweep(struct web_rate *r, double now)
{
	struct web_rate_sweep s = { NULL, 0, now, r->rate };
	char **keys;
	size_t i;

	s.full = om_calloc(om_hash_count(r->buckets) + 1, sizeof(*s.full));
	om_hash_each(r->buckets, web_rate_sweep_cb, &s);
	/* the keys belong to the map: copy them before deleting */
	keys = om_calloc(s.count + 1, sizeof(*keys));
	for (i = 0; i < s.count; i++)
		keys[i] = om_strdup(s.full[i]);
	for (i = 0; i < s.count; i++) {
		free(om_hash_delete(r->buckets, keys[i]));
		free(keys[i]);
	}
	free(keys);
	free(s.full);
}

/* key's bucket, made when new; NULL when the table is full.  Lock held. */
static struct web_bucket *web_rate_bucket(struct web_rate *r, const char *key,
					  double now)
{
	struct web_bucket *b = om_hash_get(r->buckets, key);

	if (b != NULL)
		return b;
	if (om_hash_count(r->buckets) >= r->max_clients) {
		web_rate_sweep(r, now);
		if (om_hash_count(r->buckets) >= r->max_clients)
			return NULL;
	}
	b = om_malloc(sizeof(*b));
	web_bucket_init(b, now, r->rate);
	(void)om_hash_set(r->buckets, key, b);
	return b;
}

int web_rate_allow(struct web_rate *r, const char *key, double now)
{
	struct web_bucket *b;
	int ok;

	pthread_mutex_lock(&r->lock);
	b = web_rate_bucket(r, key, now);
	ok = b != NULL && web_bucket_take(b, now, r->rate, 1.0);
	pthread_mutex_unlock(&r->lock);
	if (b == NULL)
		om_log_warn("rate: %zu clients tracked, refusing new ones", r->max_clients);
	return ok;
}

void web_rate_penalty(struct web_rate *r, const char *key, double now,
		      double cost)
{
	struct web_bucket *b;

	pthread_mutex_lock(&r->lock);
	b = web_rate_bucket(r, key, now);
	if (b != NULL)
		web_bucket_charge(b, now, r->rate, cost);
	pthread_mutex_unlock(&r->lock);
}
