/* spamtable.c - token counts keyed by a 64-bit hash (see spamtable.h).
 *
 * Linear probing over a power-of-two array, grown to twice its size at 70%
 * load; key 0 marks an empty slot (a token hashing to 0 is stored as 1).
 * Nothing is ever deleted: a token whose counts fall to zero keeps its slot
 * until the next load from the store.
 *
 * A trained table is tens of megabytes read at random, a token at a time:
 * with 4 kB pages nearly every lookup also missed the TLB.  A table of
 * OM_SPAM_HUGE_BYTES or more is therefore mapped on its own, aligned to
 * and advised for the kernel's 2 MB pages (transparent huge pages, where
 * the kernel offers them; elsewhere the advice is ignored).
 */
#include "spam/spamtable.h"
#include "lib/log.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct om_spam_slot {
	uint64_t key;
	struct om_spam_counts counts;
};

struct om_spam_table {
	struct om_spam_slot *slots;
	size_t capacity;	/* a power of two */
	size_t count;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

#define OM_SPAM_HUGE_BYTES ((size_t)2 << 20)

static size_t om_spam_slots_bytes(size_t capacity)
{
	return capacity * sizeof(struct om_spam_slot);
}

/* Zeroed slots for capacity: calloc'd, or for a large table an anonymous
   mapping aligned to OM_SPAM_HUGE_BYTES; out of memory is fatal, as in
   om_calloc. */
static struct om_spam_slot *om_spam_slots_new(size_t capacity)
{
	size_t bytes = om_spam_slots_bytes(capacity), head, tail;
	uintptr_t start, aligned;
	void *map;

	if (bytes < OM_SPAM_HUGE_BYTES)
		return om_calloc(capacity, sizeof(struct om_spam_slot));
	/* bytes is a multiple of 2 MB (a power of two of 16-byte slots) */
	map = mmap(NULL, bytes + OM_SPAM_HUGE_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		om_fatal("out of memory: a token table of %zu bytes", bytes);
	start = (uintptr_t)map;
	aligned = (start + OM_SPAM_HUGE_BYTES - 1) & ~(uintptr_t)(OM_SPAM_HUGE_BYTES - 1);
	head = (size_t)(aligned - start);
	tail = OM_SPAM_HUGE_BYTES - head;
	if (head > 0)
		(void)munmap(map, head);
	if (tail > 0)
		(void)munmap((void *)(aligned + bytes), tail);
#ifdef MADV_HUGEPAGE
	(void)madvise((void *)aligned, bytes, MADV_HUGEPAGE);
#endif
	return (struct om_spam_slot *)aligned;
}

static void om_spam_slots_free(struct om_spam_slot *slots, size_t capacity)
{
	size_t bytes = om_spam_slots_bytes(capacity);

	if (slots == NULL)
		return;
	if (bytes < OM_SPAM_HUGE_BYTES)
		free(slots);
	else
		(void)munmap(slots, bytes);
}

static size_t om_spam_table_capacity_for(size_t expected)
{
	size_t capacity = 1024;

	while (capacity / 10 * 7 < expected)
		capacity *= 2;
	return capacity;
}

struct om_spam_table *om_spam_table_new(size_t expected)
{
	struct om_spam_table *table = om_calloc(1, sizeof(*table));

	if (sodium_init() < 0)
		om_fatal("libsodium cannot be initialised");
	table->capacity = om_spam_table_capacity_for(expected);
	table->slots = om_spam_slots_new(table->capacity);
	crypto_shorthash_keygen(table->hash_key);
	return table;
}

void om_spam_table_free(struct om_spam_table **tablep)
{
	if (*tablep == NULL)
		return;
	om_spam_slots_free((*tablep)->slots, (*tablep)->capacity);
	free(*tablep);
	*tablep = NULL;
}

uint64_t om_spam_table_key(const struct om_spam_table *table, const char *token)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t key;

	(void)crypto_shorthash(out, (const unsigned char *)token, strlen(token),
			       table->hash_key);
	memcpy(&key, out, sizeof(key));
	return key != 0 ? key : 1;
}

/* The slot holding key, or the empty slot where it would go. */
static struct om_spam_slot *om_spam_table_find(const struct om_spam_slot *slots,
					       size_t capacity, uint64_t key)
{
	size_t mask = capacity - 1, i = (size_t)key & mask;

	while (slots[i].key != 0 && slots[i].key != key)
		i = (i + 1) & mask;
	return (struct om_spam_slot *)&slots[i];
}

void om_spam_table_prefetch(const struct om_spam_table *table, uint64_t key)
{
	__builtin_prefetch(&table->slots[(size_t)key & (table->capacity - 1)]);
}

const struct om_spam_counts *om_spam_table_get(const struct om_spam_table *table,
					       uint64_t key)
{
	const struct om_spam_slot *slot = om_spam_table_find(table->slots, table->capacity, key);

	return slot->key != 0 ? &slot->counts : NULL;
}

static void om_spam_table_grow(struct om_spam_table *table)
{
	size_t capacity = table->capacity * 2, i;
	struct om_spam_slot *slots = om_spam_slots_new(capacity);

	for (i = 0; i < table->capacity; i++) {
		if (table->slots[i].key != 0)
			*om_spam_table_find(slots, capacity, table->slots[i].key) = table->slots[i];
	}
	om_spam_slots_free(table->slots, table->capacity);
	table->slots = slots;
	table->capacity = capacity;
}

static uint32_t om_spam_count_add(uint32_t count, long delta)
{
	long long sum = (long long)count + delta;

	return sum < 0 ? 0 : sum > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

void om_spam_table_add(struct om_spam_table *table, uint64_t key, long dspam, long dham)
{
	struct om_spam_slot *slot;

	if ((table->count + 1) * 10 > table->capacity * 7)
		om_spam_table_grow(table);
	slot = om_spam_table_find(table->slots, table->capacity, key);
	if (slot->key == 0) {
		slot->key = key;
		table->count++;
	}
	slot->counts.spam = om_spam_count_add(slot->counts.spam, dspam);
	slot->counts.ham = om_spam_count_add(slot->counts.ham, dham);
}

size_t om_spam_table_count(const struct om_spam_table *table)
{
	return table->count;
}
