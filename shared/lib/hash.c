/* hash.c - string-keyed open-addressing hash map with linear probing and
 * tombstones; grows at 70% load.  Small and allocation-light on lookups,
 * which is what a policy server answering tens of thousands of requests a
 * second from memory needs.
 *
 * Beside the slots, one tag byte per slot (empty, deleted, or 8 bits of the
 * key's hash) is probed first, as Abseil's Swiss tables and Folly's F14 do:
 * a lookup that misses - most block-list lookups - reads only tags, 64 per
 * cache line, and a slot and its key are touched only when the tag matches. */
#include "lib/hash.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

struct om_hash_slot {
	char *key;		/* NULL unless the slot's tag is live */
	void *value;
	unsigned int hash;
};

struct om_hash {
	struct om_hash_slot *slots;
	unsigned char *tags;	/* one per slot, see om_hash_tag */
	size_t size;		/* power of two */
	size_t used;		/* live + tombstones */
	size_t count;		/* live */
};

#define OM_HASH_TAG_EMPTY 0
#define OM_HASH_TAG_DELETED 1
#define OM_HASH_TAG_IS_LIVE(tag) ((tag) > OM_HASH_TAG_DELETED)

/* A live slot's tag: 2..255 from the top bits of its hash. */
static unsigned char om_hash_tag(unsigned int h)
{
	return (unsigned char)(2 + (h >> 24) % 254);
}

/* FNV-1a over a, then (if b) a tab and b. */
static unsigned int om_hash_key(const char *a, const char *b)
{
	unsigned int h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)a; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	if (b != NULL) {
		h = (h ^ '\t') * 16777619u;
		for (p = (const unsigned char *)b; *p != '\0'; p++)
			h = (h ^ *p) * 16777619u;
	}
	return h;
}

unsigned int om_hash_string(const char *s)
{
	return om_hash_key(s, NULL);
}

static int om_hash_key_eq(const char *key, const char *a, const char *b)
{
	size_t alen;

	if (b == NULL)
		return strcmp(key, a) == 0;
	alen = strlen(a);
	return strncmp(key, a, alen) == 0 && key[alen] == '\t' &&
		strcmp(key + alen + 1, b) == 0;
}

struct om_hash *om_hash_new(size_t expected)
{
	struct om_hash *hash = om_calloc(1, sizeof(*hash));

	hash->size = 16;
	while (hash->size * 7 / 10 < expected)
		hash->size *= 2;
	hash->slots = om_calloc(hash->size, sizeof(*hash->slots));
	hash->tags = om_calloc(hash->size, 1);
	return hash;
}

void om_hash_free(struct om_hash **hashp, void (*free_value)(void *))
{
	struct om_hash *hash = *hashp;
	size_t i;

	if (hash == NULL)
		return;
	for (i = 0; i < hash->size; i++) {
		if (OM_HASH_TAG_IS_LIVE(hash->tags[i])) {
			free(hash->slots[i].key);
			if (free_value != NULL)
				free_value(hash->slots[i].value);
		}
	}
	free(hash->slots);
	free(hash->tags);
	free(hash);
	*hashp = NULL;
}

static struct om_hash_slot *om_hash_find(const struct om_hash *hash,
					 const char *a, const char *b,
					 unsigned int h)
{
	size_t mask = hash->size - 1, i = h & mask;
	unsigned char want = om_hash_tag(h), tag;
	struct om_hash_slot *slot;

	for (;;) {
		tag = hash->tags[i];
		if (tag == OM_HASH_TAG_EMPTY)
			return NULL;
		if (tag == want) {
			slot = &hash->slots[i];
			if (slot->hash == h && om_hash_key_eq(slot->key, a, b))
				return slot;
		}
		i = (i + 1) & mask;
	}
}

/* The first slot from h's home that holds nothing live. */
static size_t om_hash_free_slot(const struct om_hash *hash, unsigned int h)
{
	size_t mask = hash->size - 1, i;

	for (i = h & mask; OM_HASH_TAG_IS_LIVE(hash->tags[i]); i = (i + 1) & mask)
		;
	return i;
}

static void om_hash_grow(struct om_hash *hash)
{
	struct om_hash_slot *old = hash->slots;
	unsigned char *old_tags = hash->tags;
	size_t old_size = hash->size, i, j;

	if (hash->count * 2 >= hash->size)
		hash->size *= 2;
	hash->slots = om_calloc(hash->size, sizeof(*hash->slots));
	hash->tags = om_calloc(hash->size, 1);
	hash->used = hash->count;
	for (i = 0; i < old_size; i++) {
		if (!OM_HASH_TAG_IS_LIVE(old_tags[i]))
			continue;
		j = om_hash_free_slot(hash, old[i].hash);
		hash->slots[j] = old[i];
		hash->tags[j] = old_tags[i];
	}
	free(old);
	free(old_tags);
}

void *om_hash_set(struct om_hash *hash, const char *key, void *value)
{
	unsigned int h = om_hash_key(key, NULL);
	struct om_hash_slot *slot = om_hash_find(hash, key, NULL, h);
	size_t i;
	void *previous;

	if (slot != NULL) {
		previous = slot->value;
		slot->value = value;
		return previous;
	}
	if ((hash->used + 1) * 10 > hash->size * 7)
		om_hash_grow(hash);
	i = om_hash_free_slot(hash, h);
	if (hash->tags[i] == OM_HASH_TAG_EMPTY)
		hash->used++;
	hash->tags[i] = om_hash_tag(h);
	hash->slots[i].key = om_strdup(key);
	hash->slots[i].value = value;
	hash->slots[i].hash = h;
	hash->count++;
	return NULL;
}

void *om_hash_get(const struct om_hash *hash, const char *key)
{
	struct om_hash_slot *slot = om_hash_find(hash, key, NULL, om_hash_key(key, NULL));

	return slot != NULL ? slot->value : NULL;
}

void *om_hash_get2(const struct om_hash *hash, const char *a, const char *b)
{
	struct om_hash_slot *slot = om_hash_find(hash, a, b, om_hash_key(a, b));

	return slot != NULL ? slot->value : NULL;
}

void *om_hash_delete(struct om_hash *hash, const char *key)
{
	struct om_hash_slot *slot = om_hash_find(hash, key, NULL, om_hash_key(key, NULL));
	void *value;

	if (slot == NULL)
		return NULL;
	value = slot->value;
	free(slot->key);
	slot->key = NULL;
	slot->value = NULL;
	hash->tags[slot - hash->slots] = OM_HASH_TAG_DELETED;
	hash->count--;
	return value;
}

size_t om_hash_count(const struct om_hash *hash)
{
	return hash->count;
}

void om_hash_each(const struct om_hash *hash,
		  void (*cb)(void *context, const char *key, void *value),
		  void *context)
{
	size_t i;

	for (i = 0; i < hash->size; i++) {
		if (OM_HASH_TAG_IS_LIVE(hash->tags[i]))
			cb(context, hash->slots[i].key, hash->slots[i].value);
	}
}
