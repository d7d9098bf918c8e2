/* partners.c - the correspondents of recently scanned mailboxes, kept per
 * worker for OM_PARTNERS_TTL_MS (partners.h says why that is safe).
 *
 * A small direct-mapped table: a mailbox's slot is its name's hash; a
 * mailbox that lands on a taken slot takes it over.  No locking: each
 * worker owns its own cache, as it owns its store handle.
 */
#include "scan/partners.h"
#include "lib/hash.h"
#include "lib/util.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

struct om_partners_slot {
	char *mailbox;		/* NULL: empty */
	uint64_t read_ms;	/* when the list was read */
	char **list;
	size_t count;
};

struct om_partners {
	struct om_partners_slot slots[OM_PARTNERS_SLOTS];
};

struct om_partners *om_partners_new(void)
{
	return om_calloc(1, sizeof(struct om_partners));
}

static void om_partners_slot_clear(struct om_partners_slot *slot)
{
	size_t i;

	for (i = 0; i < slot->count; i++)
		free(slot->list[i]);
	free(slot->list);
	free(slot->mailbox);
	memset(slot, 0, sizeof(*slot));
}

void om_partners_free(struct om_partners **cachep)
{
	struct om_partners *cache = *cachep;
	size_t i;

	if (cache == NULL)
		return;
	for (i = 0; i < OM_PARTNERS_SLOTS; i++)
		om_partners_slot_clear(&cache->slots[i]);
	free(cache);
	*cachep = NULL;
}

static void om_partners_add(void *context, const char *address)
{
	struct om_partners_slot *slot = context;

	slot->list = om_realloc(slot->list, (slot->count + 1) * sizeof(*slot->list));
	slot->list[slot->count++] = om_strdup(address);
}

static int om_partners_fresh(const struct om_partners_slot *slot,
			     const char *mailbox, uint64_t now_ms)
{
	return slot->mailbox != NULL && strcmp(slot->mailbox, mailbox) == 0 &&
		now_ms >= slot->read_ms && now_ms - slot->read_ms < OM_PARTNERS_TTL_MS;
}

/* Reads mailbox's list from store into slot (emptied first). */
static int om_partners_read(struct om_partners_slot *slot, struct om_store *store,
			    const char *mailbox, uint64_t now_ms, int wait_seconds,
			    char **error_r)
{
	long ret;
	int before;

	om_partners_slot_clear(slot);
	/* a scan does without them rather than wait for a database that
	   hangs (the delivery waits on the scan) */
	before = om_store_answer_timeout_at_most(store, wait_seconds);
	ret = om_store_correspondents_list(store, mailbox, OM_PARTNERS_MAX,
					   om_partners_add, slot, error_r);
	(void)om_store_answer_timeout(store, before);
	if (ret < 0) {
		om_partners_slot_clear(slot);
		return -1;
	}
	slot->mailbox = om_strdup(mailbox);
	slot->read_ms = now_ms;
	return 0;
}

int om_partners_get(struct om_partners *cache, struct om_store *store,
		    const char *mailbox, uint64_t now_ms, int wait_seconds,
		    const char *const **list_r, size_t *count_r, char **error_r)
{
	struct om_partners_slot *slot =
		&cache->slots[om_hash_string(mailbox) % OM_PARTNERS_SLOTS];

	*list_r = NULL;
	*count_r = 0;
	if (!om_partners_fresh(slot, mailbox, now_ms) &&
	    om_partners_read(slot, store, mailbox, now_ms, wait_seconds, error_r) < 0)
		return -1;
	*list_r = (const char *const *)slot->list;
	*count_r = slot->count;
	return 0;
}
