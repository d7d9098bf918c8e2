/* hash.h - a string-keyed hash map (open addressing), for the in-memory
 * snapshots the policy daemon answers from.  Keys are copied; values are
 * opaque pointers owned by the caller. */
#ifndef OM_HASH_H
#define OM_HASH_H

#include <stddef.h>

struct om_hash;

struct om_hash *om_hash_new(size_t expected);
/* Frees the map; free_value (may be NULL) is called for each value. */
void om_hash_free(struct om_hash **hash, void (*free_value)(void *));
/* Sets key to value, replacing (and returning) an older value, else NULL. */
void *om_hash_set(struct om_hash *hash, const char *key, void *value);
/* The value of key, or NULL. */
void *om_hash_get(const struct om_hash *hash, const char *key);
/* The same for a key given as two parts joined by a tab ("a\tb"), without
   building the joined string. */
void *om_hash_get2(const struct om_hash *hash, const char *a, const char *b);
/* Removes key; returns its value or NULL. */
void *om_hash_delete(struct om_hash *hash, const char *key);
size_t om_hash_count(const struct om_hash *hash);
/* The map's own hash of a string (FNV-1a), for a caller's small table. */
unsigned int om_hash_string(const char *s);
/* Calls cb for every entry (do not change the map meanwhile). */
void om_hash_each(const struct om_hash *hash,
		  void (*cb)(void *context, const char *key, void *value),
		  void *context);

#endif
