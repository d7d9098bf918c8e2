/* engine.c - omamori-scand's engine holder: one compiled libclamav engine,
 * reference-counted, replaced whole by a reload.
 *
 * A reload compiles the new engine beside the old one and swaps a pointer, so
 * no scan waits for it and none is refused; the old engine is freed when its
 * last scan ends.
 */
#include "scand.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdlib.h>

static void scand_limits_from_config(struct om_av_limits *limits,
				     const struct om_config *config)
{
	limits->max_scan_size = (unsigned long long)config->scan_max_size * 2;
	limits->max_file_size = (unsigned long long)config->scan_max_size;
	limits->max_recursion = 16;
	limits->max_files = 10000;
	limits->temp_dir = config->scan_temp_dir;
}

static struct scand_engine_ref *scand_engine_load(struct scand_engines *engines,
						  unsigned int generation,
						  char **error_r)
{
	struct scand_engine_ref *ref;
	struct om_av_engine *engine;
	unsigned int sigs = 0;

	struct om_att_rules *rules = NULL;

	/* the attachment rules first: a file with an error keeps scand from
	   starting, and a reload from replacing what is in use */
	if (engines->rules_path[0] != '\0' &&
	    om_att_rules_load(engines->rules_path, &rules, error_r) < 0)
		return NULL;
	if (om_av_engine_load(engines->dirs, &engines->limits, &engine, &sigs,
			      error_r) < 0) {
		om_att_rules_free(&rules);
		return NULL;
	}
	ref = om_calloc(1, sizeof(*ref));
	ref->rules = rules;
	ref->engine = engine;
	ref->refs = 1;		/* held by engines->current */
	ref->generation = generation;
	ref->signatures = sigs;
	return ref;
}

int scand_engines_init(struct scand_engines *engines,
		       const struct om_config *config, char **error_r)
{
	if (pthread_mutex_init(&engines->lock, NULL) != 0) {
		*error_r = om_strdup("pthread_mutex_init failed");
		return -1;
	}
	engines->dirs = om_strdup(config->signature_dirs);
	engines->rules_path = om_strdup(config->attachment_rules);
	scand_limits_from_config(&engines->limits, config);
	if (om_av_watch_init(engines->dirs, &engines->watch, error_r) < 0)
		return -1;
	engines->current = scand_engine_load(engines, 1, error_r);
	if (engines->current == NULL)
		return -1;
	om_log_info("signatures loaded: %u from %s",
		    engines->current->signatures, engines->dirs);
	return 0;
}

int scand_engines_changed(struct scand_engines *engines)
{
	return om_av_watch_changed(engines->watch);
}

static void scand_engine_unref_locked(struct scand_engine_ref *ref)
{
	if (--ref->refs == 0) {
		om_av_engine_free(&ref->engine);
		om_att_rules_free(&ref->rules);
		free(ref);
	}
}

int scand_engines_reload(struct scand_engines *engines, char **error_r)
{
	struct scand_engine_ref *fresh, *old;
	struct om_av_watch *watch;

	/* take the new snapshot first: a change during the load triggers
	   another reload rather than being missed */
	if (om_av_watch_init(engines->dirs, &watch, error_r) < 0)
		return -1;
	fresh = scand_engine_load(engines, engines->current->generation + 1,
				  error_r);
	if (fresh == NULL) {
		om_av_watch_free(&watch);
		return -1;
	}
	pthread_mutex_lock(&engines->lock);
	old = engines->current;
	engines->current = fresh;
	scand_engine_unref_locked(old);
	pthread_mutex_unlock(&engines->lock);
	om_av_watch_free(&engines->watch);
	engines->watch = watch;
	om_log_info("signatures reloaded: %u from %s (generation %u)",
		    fresh->signatures, engines->dirs, fresh->generation);
	return 0;
}

struct scand_engine_ref *scand_engines_acquire(struct scand_engines *engines)
{
	struct scand_engine_ref *ref;

	pthread_mutex_lock(&engines->lock);
	ref = engines->current;
	ref->refs++;
	pthread_mutex_unlock(&engines->lock);
	return ref;
}

void scand_engines_release(struct scand_engines *engines,
			   struct scand_engine_ref **refp)
{
	pthread_mutex_lock(&engines->lock);
	scand_engine_unref_locked(*refp);
	pthread_mutex_unlock(&engines->lock);
	*refp = NULL;
}

void scand_engines_deinit(struct scand_engines *engines)
{
	if (engines->current != NULL) {
		pthread_mutex_lock(&engines->lock);
		scand_engine_unref_locked(engines->current);
		engines->current = NULL;
		pthread_mutex_unlock(&engines->lock);
	}
	om_av_watch_free(&engines->watch);
	free(engines->dirs);
	engines->dirs = NULL;
	free(engines->rules_path);
	engines->rules_path = NULL;
	pthread_mutex_destroy(&engines->lock);
}
