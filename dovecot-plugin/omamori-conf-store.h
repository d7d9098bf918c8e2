/* omamori-conf-store.h - omamori.conf and the store, opened on first use
 * and kept, for the mail plugins and the Sieve extension alike.
 */
#ifndef OMAMORI_CONF_STORE_H
#define OMAMORI_CONF_STORE_H

#include <time.h>

struct om_config;
struct om_store;

/* What one holder (a process's mail plugin, a Sieve instance) has open.
   Zero it before the first use; omamori_conf_store_close() frees it. */
struct omamori_conf_store {
	char *config_path;		/* the file config was loaded from */
	struct om_config *config;
	struct om_store *store;
	time_t config_mtime;
	/* moves each time the configuration is loaded anew (a cache of
	   what the store said is then out of date: it may be another
	   store) */
	unsigned int generation;
};

/* The configuration at path and an open store: loaded on first use, and
   loaded again (the store reopened) when path names another file or the
   file has changed since.  0, or -1 with *error_r (data stack): the file
   unreadable or invalid, the store not there.  store_r NULL: the
   configuration alone (what needs no store, such as learning through
   scand, works while the store cannot be reached). */
int omamori_conf_store_get(struct omamori_conf_store *cs, const char *path,
			   const struct om_config **config_r,
			   struct om_store **store_r, const char **error_r);

/* Closes the store and frees the configuration (cs may be used again). */
void omamori_conf_store_close(struct omamori_conf_store *cs);

#endif
