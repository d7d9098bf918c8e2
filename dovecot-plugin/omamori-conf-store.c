/* omamori-conf-store.c - the one opener of omamori.conf and the store
 * inside Dovecot's processes (the mail plugins, the Sieve extension).
 *
 * A long-lived imap or lmtp process sees a changed omamori.conf at its next
 * use: the file's mtime is checked each time, and a change loads it anew
 * and reopens the store (whose path may have changed with it).
 */
#include "lib.h"

#include "lib/om-config.h"
#include "lib/util.h"
#include "store/store.h"
#include "omamori-conf-store.h"

#include <stdlib.h>
#include <sys/stat.h>

void omamori_conf_store_close(struct omamori_conf_store *cs)
{
	om_store_close(&cs->store);
	om_config_free(&cs->config);
	om_free(&cs->config_path);
	cs->config_mtime = 0;
}

/* Loads the configuration at path unless it is the one held.  0 or -1. */
static int omamori_conf_store_load(struct omamori_conf_store *cs,
				   const char *path, const char **error_r)
{
	char *error = NULL;
	struct stat st;

	if (stat(path, &st) < 0) {
		*error_r = t_strdup_printf("stat(%s) failed: %m", path);
		return -1;
	}
	if (cs->config != NULL && strcmp(cs->config_path, path) == 0 &&
	    cs->config_mtime == st.st_mtime)
		return 0;
	omamori_conf_store_close(cs);
	if (om_config_load(path, &cs->config, &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	cs->config_path = om_strdup(path);
	cs->config_mtime = st.st_mtime;
	cs->generation++;
	return 0;
}

int omamori_conf_store_get(struct omamori_conf_store *cs, const char *path,
			   const struct om_config **config_r,
			   struct om_store **store_r, const char **error_r)
{
	char *error = NULL;

	if (omamori_conf_store_load(cs, path, error_r) < 0)
		return -1;
	if (store_r != NULL && cs->store == NULL &&
	    om_store_open(cs->config->store_path, 0,
			  cs->config->store_busy_timeout_ms, &cs->store,
			  &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	*config_r = cs->config;
	if (store_r != NULL)
		*store_r = cs->store;
	return 0;
}
