/* web-lockout.h - omamori-web's brake on password guessing per account:
 * at most WEB_LOCKOUT_FAILURES failed logins of one account in
 * WEB_LOCKOUT_SECONDS, counted in memory, whoever tries.  The per-client
 * rate limit (web-rate.h) slows one guesser; this stops many guessers
 * sharing one account, without asking Dovecot (whose own per-address
 * penalty would hit every user behind the proxy).
 */
#ifndef WEB_LOCKOUT_H
#define WEB_LOCKOUT_H

#include <pthread.h>
#include <stddef.h>

struct om_hash;

#define WEB_LOCKOUT_FAILURES 5
#define WEB_LOCKOUT_SECONDS (15 * 60)
/* accounts with failures remembered at once (a table entry is small) */
#define WEB_LOCKOUT_ACCOUNTS 65536
/* an account's key is its name as typed, lower-cased, at most this long */
#define WEB_LOCKOUT_KEY_MAX 320

/* The failures of every account that has some, behind one lock.  At most
   max_accounts of them: when the table is full, accounts whose window has
   passed are forgotten; if it is still full, a failure of a new account
   is not counted (logged) - the per-client rate limit still holds. */
struct web_lockout {
	pthread_mutex_t lock;
	struct om_hash *accounts;
	unsigned int max_failures;
	double window;		/* seconds */
	size_t max_accounts;
};

/* 0, or -1 if the lock cannot be made. */
int web_lockout_init(struct web_lockout *l, unsigned int max_failures,
		     double window, size_t max_accounts);
void web_lockout_deinit(struct web_lockout *l);
/* 1 if account has had max_failures failed logins in the window that
   began with its first failure, at now (seconds, monotonic); 0 if it may
   try. */
int web_lockout_blocked(struct web_lockout *l, const char *account, double now);
/* Counts a failed login of account at now; returns the failures of its
   window so far (0: not counted, the table is full). */
unsigned int web_lockout_fail(struct web_lockout *l, const char *account,
			      double now);
/* Forgets account's failures (a login that succeeded). */
void web_lockout_clear(struct web_lockout *l, const char *account);

#endif
