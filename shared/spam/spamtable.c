/* spamtable.c - token counts keyed by a 64-bit hash (see spamtable.h).
 *
 * Linear probing over a power-of-two array, grown to twice its size at 70%
 * load; key 0 marks an empty slot (a token hashing to 0 is stored as 1).
 * Nothing is ever deleted: a token whose counts fall to zero keeps its slot
 * until the next load from the store.
 */
#include "spam/spamtable.h"
#include "lib/log.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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
	table->slots = om_calloc(table->capacity, sizeof(*table->slots));
	crypto_shorthash_keygen(table->hash_key);
	return table;
}

void om_spam_table_free(struct om_spam_table **tablep)
{
	if (*tablep == NULL)
		return;
	free((*tablep)->slots);
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
	struct om_spam_slot *slots = om_calloc(capacity, sizeof(*slots));

	for (i = 0; i < table->capacity; i++) {
		if (table->slots[i].key != 0)
			*om_spam_table_find(slots, capacity, table->slots[i].key) = table->slots[i];
	}
	free(table->slots);
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
