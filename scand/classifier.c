/* classifier.c - omamori-scand's spam classifier: one token table in
 * memory for all workers (read-locked while they score, write-locked to
 * learn), saved to the store every spam_save_interval seconds as deltas,
 * and reloaded when someone else (omamorictl learn) saved.
 *
 * Learning requests come from the Dovecot plugin in imap (a message moved
 * into or out of Quarantine/Junk); they cost a tokenization and a few hash
 * updates, never a database write of their own.
 */
#include "scand.h"
#include "log.h"
#include "spam.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>

int scand_classifier_init(struct scand_classifier *c,
			  const struct om_config *config, char **error_r)
{
	long nspam, nham;

	if (pthread_rwlock_init(&c->lock, NULL) != 0) {
		*error_r = om_strdup("cannot initialise the classifier lock");
		return -1;
	}
	if (om_store_open(config->store_path, 0, config->store_busy_timeout_ms,
			  &c->store, error_r) < 0)
		return -1;
	c->db = om_spam_db_new();
	if (om_spam_db_load(c->db, c->store, error_r) < 0)
		return -1;
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

void scand_classifier_learn(struct scand_classifier *c, const char *msg,
			    size_t len, int is_spam)
{
	pthread_rwlock_wrlock(&c->lock);
	om_spam_learn(c->db, msg, len, is_spam, 0);
	pthread_rwlock_unlock(&c->lock);
}

void scand_classifier_sync(struct scand_classifier *c)
{
	char *error = NULL;
	long nspam, nham;
	int ret;

	pthread_rwlock_wrlock(&c->lock);
	ret = om_spam_db_sync(c->db, c->store, &error);
	om_spam_db_counts(c->db, &nspam, &nham);
	pthread_rwlock_unlock(&c->lock);
	if (ret < 0) {
		om_log_error("classifier: %s", error);
		free(error);
	} else if (ret > 0) {
		om_log_info("classifier reloaded: %ld spam, %ld ham messages learned",
			    nspam, nham);
	}
}

void scand_classifier_deinit(struct scand_classifier *c)
{
	if (c->db != NULL)
		scand_classifier_sync(c);
	om_spam_db_free(&c->db);
	om_store_close(&c->store);
	(void)pthread_rwlock_destroy(&c->lock);
}
