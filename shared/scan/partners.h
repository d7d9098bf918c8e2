/* partners.h - the addresses a mailbox has written to (its correspondents,
 * which omamori-policyd notes), as the spam check's PHISH_LOOKALIKE_PARTNER
 * reads them, remembered for a short while by each scand worker: a burst
 * of mail to one mailbox then costs one store read, not one a message.
 * policyd writes what it noted every policyd_save_interval (5 s by
 * default), so remembering for OM_PARTNERS_TTL_MS adds less than the delay
 * already there.
 */
#ifndef OM_SCAN_PARTNERS_H
#define OM_SCAN_PARTNERS_H

#include <stddef.h>
#include <stdint.h>

struct om_store;
struct om_partners;

#define OM_PARTNERS_TTL_MS 2000	/* how long a list read is used */
#define OM_PARTNERS_SLOTS 64	/* mailboxes remembered at once */
#define OM_PARTNERS_MAX 200	/* the most recent addresses, per mailbox */

struct om_partners *om_partners_new(void);
void om_partners_free(struct om_partners **cache);

/* The addresses mailbox has written to, as of now_ms: the list read less
   than OM_PARTNERS_TTL_MS ago, or read from store now (waiting at most
   wait_seconds for it).  *list_r and *count_r stay valid until the next
   call on cache.  0, or -1 with *error_r (nothing is remembered then). */
int om_partners_get(struct om_partners *cache, struct om_store *store,
		    const char *mailbox, uint64_t now_ms, int wait_seconds,
		    const char *const **list_r, size_t *count_r, char **error_r);

#endif
