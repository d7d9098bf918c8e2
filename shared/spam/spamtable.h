/* spamtable.h - the classifier's token counts in memory.
 *
 * A token is kept as a 64-bit keyed hash (SipHash-2-4 from libsodium, a
 * random key per table), not as its text: 16 bytes a slot, open addressing.
 * The store keeps the text (it is what an administrator can read and what
 * survives a restart); in memory the text would cost eight times as much,
 * and with word pairs among the tokens a table trained on the SpamAssassin
 * corpus holds 590 000 of them.  Two tokens sharing a hash would share
 * their counts: with a random 64-bit key, about one chance in 10^8 for a
 * table of that size, and no sender can aim for it.
 */
#ifndef OM_SPAMTABLE_H
#define OM_SPAMTABLE_H

#include <stddef.h>
#include <stdint.h>

struct om_spam_table;

struct om_spam_counts {
	uint32_t spam, ham;	/* messages of each kind that had the token */
};

struct om_spam_table *om_spam_table_new(size_t expected);
void om_spam_table_free(struct om_spam_table **table);

/* The token's key in this table. */
uint64_t om_spam_table_key(const struct om_spam_table *table, const char *token);
/* Asks the CPU to bring key's first slot into its cache: a lookup made a
   few tokens later then finds it there (the table is larger than the
   caches; spam.c looks its tokens up a few behind). */
void om_spam_table_prefetch(const struct om_spam_table *table, uint64_t key);
/* The counts under key, or NULL if the table has never had it. */
const struct om_spam_counts *om_spam_table_get(const struct om_spam_table *table,
					       uint64_t key);
/* Adds the deltas to key's counts (created at zero; a count never goes
   below zero nor above UINT32_MAX). */
void om_spam_table_add(struct om_spam_table *table, uint64_t key, long dspam, long dham);
/* Number of keys. */
size_t om_spam_table_count(const struct om_spam_table *table);

#endif
