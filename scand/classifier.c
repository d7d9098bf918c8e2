/* classifier.c - omamori-scand's spam classifier: one token table in
 * memory for all workers (read-locked while they score, write-locked to
 * learn), saved to the store every spam_save_interval seconds as deltas,
 * and reloaded when someone else (omamorictl learn, another host) saved:
 * found at the save timer, or within a second on a store that notifies
 * its changes (PostgreSQL: scand_classifier_watch).
 *
 * Learning requests come from the Dovecot plugin in imap (a message moved
 * into or out of Quarantine/Junk); they cost a tokenization and a few hash
 * updates, never a database write of their own.
 *
 * omamorictl learn, train and prune write the store themselves and then
 * send a SYNC request: scand saves its own changes and reloads at once,
 * answering when the next scan scores with the new table (the timer's
 * sync remains for a learner that could not reach scand).  A mutex of its
 * own keeps the timer's sync and a SYNC request from running together.
 *
 * The lock is never held over the store: the unsaved changes are taken
 * out under it and written without it, and a reload builds a fresh table
 * without it and swaps it in (carrying over what was learned meanwhile),
 * so scans never wait for SQLite, however large the table.
 */
#include "scand.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "spam/spam.h"
#include "store/store.h"
#include "lib/util.h"

#include <stdlib.h>

int scand_classifier_init(struct scand_classifier *c,
			  const struct om_config *config, char **error_r)
{
	long nspam, nham;

	c->learned = om_hash_new(64);
	if (pthread_rwlock_init(&c->lock, NULL) != 0 ||
	    pthread_mutex_init(&c->sync_lock, NULL) != 0 ||
	    pthread_mutex_init(&c->learned_lock, NULL) != 0) {
		*error_r = om_strdup("cannot initialise the classifier lock");
		return -1;
	}
	if (om_store_open(config->store_path, 0, config->store_busy_timeout_ms,
			  &c->store, error_r) < 0)
		return -1;
	c->db = om_spam_db_new();
	if (om_spam_db_load(c->db, c->store, error_r) < 0)
		return -1;
	/* on PostgreSQL this first read listens for the notifications */
	c->watched = om_store_change_counter(c->store);
	om_spam_db_counts(c->db, &nspam, &nham);
	om_log_info("classifier loaded: %ld spam, %ld ham messages learned",
		    nspam, nham);
	return 0;
}

const struct om_spam_db *scand_classifier_read(struct scand_classifier *c)
{
	pthread_rwlock_rdlock(&c->lock);
	return c->db;
}

void scand_classifier_done(struct scand_classifier *c)
{
	pthread_rwlock_unlock(&c->lock);
}

enum om_spam_lesson_outcome
scand_classifier_learn(struct scand_classifier *c, const struct om_phish *phish,
		       const char *mailbox, const char *msg, size_t len, int is_spam)
{
	/* the message read (parse, tokens) before the write lock: under it
	   only the counting, so scans of other mailboxes wait for that
	   alone, not for a large message's reading */
	struct om_spam_lesson *lesson = om_spam_lesson_read(phish, msg, len);
	enum om_spam_lesson_outcome outcome;

	om_spam_lesson_for(lesson, mailbox);	/* the message's digest, unlocked */
	pthread_rwlock_wrlock(&c->lock);
	outcome = om_spam_lesson_learn_once(c->db, lesson, mailbox, is_spam);
	pthread_rwlock_unlock(&c->lock);
	om_spam_lesson_free(&lesson);
	return outcome;
}

/* Writes the unsaved changes; 1 if somebody else saved in between (so
   a reload is due), 0, or -1 (the changes are kept for the next time). */
static int scand_classifier_save(struct scand_classifier *c, char **error_r)
{
	struct om_spam_changes *changes;
	long long before, after;
	int ret;

	pthread_rwlock_wrlock(&c->lock);
	changes = om_spam_db_take_changes(c->db);
	pthread_rwlock_unlock(&c->lock);
	if (changes == NULL)
		return om_spam_db_stale(c->db, c->store, error_r);
	ret = om_spam_changes_save(changes, c->store, &before, &after, error_r);
	pthread_rwlock_wrlock(&c->lock);
	if (ret < 0)
		om_spam_db_return_changes(c->db, changes);
	else
		ret = om_spam_db_saved(c->db, before, after);
	pthread_rwlock_unlock(&c->lock);
	om_spam_changes_free(&changes);
	return ret;
}

/* A fresh table from the store, swapped in. */
static int scand_classifier_reload(struct scand_classifier *c, char **error_r)
{
	struct om_spam_db *fresh = om_spam_db_load_new(c->store, error_r), *old;
	long nspam, nham;

	if (fresh == NULL)
		return -1;
	pthread_rwlock_wrlock(&c->lock);
	om_spam_db_carry_changes(fresh, c->db);
	old = c->db;
	c->db = fresh;
	om_spam_db_counts(c->db, &nspam, &nham);
	pthread_rwlock_unlock(&c->lock);
	om_spam_db_free(&old);
	om_log_info("classifier reloaded: %ld spam, %ld ham messages learned",
		    nspam, nham);
	return 0;
}

/* Under sync_lock, so c->db's revision, which only a sync changes, is
   read without the rwlock. */
int scand_classifier_sync_now(struct scand_classifier *c, char **error_r)
{
	int ret;

	pthread_mutex_lock(&c->sync_lock);
	ret = scand_classifier_save(c, error_r);
	if (ret > 0)
		ret = scand_classifier_reload(c, error_r);
	pthread_mutex_unlock(&c->sync_lock);
	return ret < 0 ? -1 : 0;
}

void scand_classifier_sync(struct scand_classifier *c)
{
	char *error = NULL;

	if (scand_classifier_sync_now(c, &error) < 0) {
		om_log_error("classifier: %s", error);
		free(error);
	}
}

void scand_classifier_watch(struct scand_classifier *c)
{
	long long counter = -1;
	int moved;

	/* the store handle is the sync's: read under its lock.  Only a
	   store with a notification channel (change_fd) is watched: SQLite's
	   counter moves with every write of every process, which would turn
	   the save timer into a sync a second */
	pthread_mutex_lock(&c->sync_lock);
	if (c->store != NULL && om_store_change_fd(c->store) >= 0)
		counter = om_store_change_counter(c->store);
	moved = counter >= 0 && counter != c->watched;
	if (counter >= 0)
		c->watched = counter;
	pthread_mutex_unlock(&c->sync_lock);
	if (moved)
		scand_classifier_sync(c);
}

void scand_classifier_deinit(struct scand_classifier *c)
{
	if (c->db != NULL)
		scand_classifier_sync(c);
	om_spam_db_free(&c->db);
	om_store_close(&c->store);
	om_hash_free(&c->learned, free);
	(void)pthread_rwlock_destroy(&c->lock);
	(void)pthread_mutex_destroy(&c->sync_lock);
	(void)pthread_mutex_destroy(&c->learned_lock);
}

int scand_classifier_may_learn(struct scand_classifier *c, const char *mailbox,
			       long max_per_hour, time_t now, long *count_r)
{
	long long hour = (long long)now / 3600;
	long *count;
	int may;

	*count_r = 0;
	if (max_per_hour <= 0 || *mailbox == '\0')
		return 1;
	pthread_mutex_lock(&c->learned_lock);
	if (hour != c->learned_hour) {
		/* a new hour: every count starts again, and the table holds
		   only the mailboxes that learned in it */
		om_hash_free(&c->learned, free);
		c->learned = om_hash_new(64);
		c->learned_hour = hour;
	}
	count = om_hash_get(c->learned, mailbox);
	if (count == NULL) {
		count = om_calloc(1, sizeof(*count));
		(void)om_hash_set(c->learned, mailbox, count);
	}
	/* refusals counted too: the first is max_per_hour + 1 */
	may = ++*count <= max_per_hour;
	*count_r = *count;
	pthread_mutex_unlock(&c->learned_lock);
	return may;
}
