/* av.h - the libclamav engine: load signatures, scan buffers, watch for
 * changed signature files.
 *
 * One engine per process (in omamori-scand), shared read-only by all worker
 * threads once compiled; a reload builds a new engine beside the old one.
 */
#ifndef OM_AV_H
#define OM_AV_H

#include <stddef.h>

struct om_av_engine;
struct om_av_watch;

struct om_av_limits {
	unsigned long long max_scan_size;	/* bytes scanned per buffer */
	unsigned long long max_file_size;	/* one file inside an archive */
	unsigned int max_recursion;
	unsigned int max_files;
	const char *temp_dir;	/* where libclamav unpacks; NULL = its default */
};

/* Initialises libclamav once per process; 0 or -1 with *error_r. */
int om_av_global_init(char **error_r);
/* Loads every database in the space-separated dirs (or files) and compiles
   the engine.  An empty directory is skipped with a warning; no signature
   at all is an error (an engine without signatures finds nothing).  Returns 0 with *sigs_r signatures, or -1 with *error_r. */
int om_av_engine_load(const char *dirs, const struct om_av_limits *limits,
		      struct om_av_engine **engine_r, unsigned int *sigs_r,
		      char **error_r);
void om_av_engine_free(struct om_av_engine **engine);
/* When the loaded signatures were built (unix time): libclamav's database
   time (the newest .cvd/.cld header), or, for databases without one (plain
   .ndb/.hdb files), the newest file's modification time; 0 if unknown. */
long long om_av_engine_db_time(const struct om_av_engine *engine);

enum om_av_result {
	OM_AV_ERROR = -1,	/* could not scan (*error_r) */
	OM_AV_CLEAN = 0,
	OM_AV_VIRUS = 1,	/* *virus_r: the virus name */
	OM_AV_LIMIT = 2		/* not scanned whole: *virus_r says which limit */
};

/* Scans a buffer.  mail: also parse it as a whole RFC 5322 message.
   Returns an om_av_result; *virus_r or *error_r allocated as it says.
   Never OM_AV_CLEAN unless everything was scanned. */
int om_av_scan_buffer(const struct om_av_engine *engine, const void *data,
		      size_t len, int mail, char **virus_r, char **error_r);

/* Change detection over the same dirs.  changed: 1 if any database file was
   added, removed or modified since init (or the last reset), else 0. */
int om_av_watch_init(const char *dirs, struct om_av_watch **watch_r,
		     char **error_r);
int om_av_watch_changed(struct om_av_watch *watch);
void om_av_watch_free(struct om_av_watch **watch);

#endif
