/* web-lockout.c - failed logins per account for omamori-web.
 *
 * A fixed window per account: it opens with the account's first failure
 * and lasts WEB_LOCKOUT_SECONDS; max_failures failures in it block the
 * account's logins until it closes, whatever the password.  The key is the
 * name as the form gave it, lower-cased and cut to WEB_LOCKOUT_KEY_MAX
 * (the form allows 254 bytes): it is never shown, only compared.  Bounded
 * like web-rate.c, so many made-up names cannot exhaust memory; a restart
 * forgets the counts.
 */
#include "web-lockout.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct web_lockout_entry {
	unsigned int failures;
	double start;		/* the window's first failure */
};

int web_lockout_init(struct web_lockout *l, unsigned int max_failures,
		     double window, size_t max_accounts)
{
	if (pthread_mutex_init(&l->lock, NULL) != 0)
		return -1;
	l->accounts = om_hash_new(256);
	l->max_failures = max_failures;
	l->window = window;
	l->max_accounts = max_accounts;
	return 0;
}

void web_lockout_deinit(struct web_lockout *l)
{
	om_hash_free(&l->accounts, free);
	(void)pthread_mutex_destroy(&l->lock);
}

/* account's key: lower-cased, at most WEB_LOCKOUT_KEY_MAX bytes. */
static void web_lockout_key(const char *account, char *key)
{
	size_t i;

	for (i = 0; account[i] != '\0' && i < WEB_LOCKOUT_KEY_MAX; i++)
		key[i] = (char)tolower((unsigned char)account[i]);
	key[i] = '\0';
}

static int web_lockout_expired(const struct web_lockout *l,
			       const struct web_lockout_entry *e, double now)
{
	return now - e->start >= l->window || now < e->start;
}

struct web_lockout_sweep {
	const struct web_lockout *l;
	char **old;
	size_t count;
	double now;
};

static void web_lockout_sweep_cb(void *context, const char *key, void *value)
{
	struct web_lockout_sweep *s = context;

	if (web_lockout_expired(s->l, value, s->now))
		s->old[s->count++] = om_strdup(key);
}

/* Forgets the accounts whose window has passed; lock held. */
static void web_lockout_sweep(struct web_lockout *l, double now)
{
	struct web_lockout_sweep s = { l, NULL, 0, now };
	size_t i;

	s.old = om_calloc(om_hash_count(l->accounts) + 1, sizeof(*s.old));
	om_hash_each(l->accounts, web_lockout_sweep_cb, &s);
	for (i = 0; i < s.count; i++) {
		free(om_hash_delete(l->accounts, s.old[i]));
		free(s.old[i]);
	}
	free(s.old);
}

int web_lockout_blocked(struct web_lockout *l, const char *account, double now)
{
	char key[WEB_LOCKOUT_KEY_MAX + 1];
	struct web_lockout_entry *e;
	int blocked;

	web_lockout_key(account, key);
	pthread_mutex_lock(&l->lock);
	e = om_hash_get(l->accounts, key);
	blocked = e != NULL && !web_lockout_expired(l, e, now) &&
		e->failures >= l->max_failures;
	pthread_mutex_unlock(&l->lock);
	return blocked;
}

unsigned int web_lockout_fail(struct web_lockout *l, const char *account,
			      double now)
{
	char key[WEB_LOCKOUT_KEY_MAX + 1];
	struct web_lockout_entry *e;
	unsigned int failures = 0;

	web_lockout_key(account, key);
	pthread_mutex_lock(&l->lock);
	e = om_hash_get(l->accounts, key);
	if (e == NULL && om_hash_count(l->accounts) >= l->max_accounts)
		web_lockout_sweep(l, now);
	if (e == NULL && om_hash_count(l->accounts) < l->max_accounts) {
		e = om_calloc(1, sizeof(*e));
		e->start = now;
		(void)om_hash_set(l->accounts, key, e);
	}
	if (e != NULL) {
		if (web_lockout_expired(l, e, now)) {
			e->failures = 0;
			e->start = now;
		}
		failures = ++e->failures;
	}
	pthread_mutex_unlock(&l->lock);
	if (failures == 0)
		om_log_warn("login brake: %zu accounts tracked, a failure not counted",
			    l->max_accounts);
	return failures;
}

void web_lockout_clear(struct web_lockout *l, const char *account)
{
	char key[WEB_LOCKOUT_KEY_MAX + 1];

	web_lockout_key(account, key);
	pthread_mutex_lock(&l->lock);
	free(om_hash_delete(l->accounts, key));
	pthread_mutex_unlock(&l->lock);
}
