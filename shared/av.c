/* av.c - libclamav wrapper: engine load/compile, buffer scans, change watch.
 *
 * libclamav is the field's engine: it unpacks archives (zip, 7z, rar, cab,
 * tnef...), parses mail and office formats, and reads ClamAV databases; an
 * engine is thread-safe for scanning once compiled, which is what lets
 * omamori-scand share one across its worker pool.
 */
#include "av.h"
#include "util.h"

#include <clamav.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct om_av_engine {
	struct cl_engine *engine;
};

#define OM_AV_MAX_DIRS 16

struct om_av_watch {
	struct cl_stat stats[OM_AV_MAX_DIRS];
	size_t count;
};

struct om_av_init_state {
	pthread_once_t once;
	cl_error_t result;
};

static struct om_av_init_state om_av_init = { PTHREAD_ONCE_INIT, CL_SUCCESS };

static void om_av_do_init(void)
{
	om_av_init.result = cl_init(CL_INIT_DEFAULT);
}

int om_av_global_init(char **error_r)
{
	if (pthread_once(&om_av_init.once, om_av_do_init) != 0 ||
	    om_av_init.result != CL_SUCCESS) {
		*error_r = om_asprintf("cl_init: %s",
				       cl_strerror(om_av_init.result));
		return -1;
	}
	return 0;
}

/* Splits space-separated dirs into at most max entries (allocated copy in
   *copy_r whose pieces the entries point into). */
static size_t om_av_split_dirs(const char *dirs, char **copy_r,
			       char **entries, size_t max)
{
	char *copy = om_strdup(dirs), *save = NULL, *tok;
	size_t n = 0;

	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL && n < max;
	     tok = strtok_r(NULL, " ,\t", &save))
		entries[n++] = tok;
	*copy_r = copy;
	return n;
}

static int om_av_set_limits(struct cl_engine *engine,
			    const struct om_av_limits *limits, char **error_r)
{
	cl_error_t ret;

	ret = cl_engine_set_num(engine, CL_ENGINE_MAX_SCANSIZE,
				(long long)limits->max_scan_size);
	if (ret == CL_SUCCESS)
		ret = cl_engine_set_num(engine, CL_ENGINE_MAX_FILESIZE,
					(long long)limits->max_file_size);
	if (ret == CL_SUCCESS)
		ret = cl_engine_set_num(engine, CL_ENGINE_MAX_RECURSION,
					limits->max_recursion);
	if (ret == CL_SUCCESS)
		ret = cl_engine_set_num(engine, CL_ENGINE_MAX_FILES,
					limits->max_files);
	if (ret != CL_SUCCESS) {
		*error_r = om_asprintf("cl_engine_set_num: %s", cl_strerror(ret));
		return -1;
	}
	/* libclamav makes and removes a directory per scan: on a tmpfs that
	   costs far less than on a disk file system */
	if (limits->temp_dir != NULL && limits->temp_dir[0] != '\0') {
		ret = cl_engine_set_str(engine, CL_ENGINE_TMPDIR, limits->temp_dir);
		if (ret != CL_SUCCESS) {
			*error_r = om_asprintf("scan_temp_dir %s: %s", limits->temp_dir,
					       cl_strerror(ret));
			return -1;
		}
	}
	return 0;
}

int om_av_engine_load(const char *dirs, const struct om_av_limits *limits,
		      struct om_av_engine **engine_r, unsigned int *sigs_r,
		      char **error_r)
{
	char *entries[OM_AV_MAX_DIRS], *copy;
	struct om_av_engine *av;
	unsigned int sigs = 0;
	size_t i, n;
	cl_error_t ret;

	if (om_av_global_init(error_r) < 0)
		return -1;
	av = om_calloc(1, sizeof(*av));
	av->engine = cl_engine_new();
	if (av->engine == NULL) {
		*error_r = om_strdup("cl_engine_new failed");
		free(av);
		return -1;
	}
	n = om_av_split_dirs(dirs, &copy, entries, OM_AV_MAX_DIRS);
	if (n == 0) {
		*error_r = om_strdup("signature_dirs is empty");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		ret = cl_load(entries[i], av->engine, &sigs, CL_DB_STDOPT);
		if (ret != CL_SUCCESS) {
			*error_r = om_asprintf("cl_load(%s): %s", entries[i],
					       cl_strerror(ret));
			goto fail;
		}
	}
	if (om_av_set_limits(av->engine, limits, error_r) < 0)
		goto fail;
	ret = cl_engine_compile(av->engine);
	if (ret != CL_SUCCESS) {
		*error_r = om_asprintf("cl_engine_compile: %s", cl_strerror(ret));
		goto fail;
	}
	free(copy);
	*sigs_r = sigs;
	*engine_r = av;
	return 0;
fail:
	free(copy);
	om_av_engine_free(&av);
	return -1;
}

void om_av_engine_free(struct om_av_engine **enginep)
{
	struct om_av_engine *av = *enginep;

	if (av == NULL)
		return;
	if (av->engine != NULL)
		(void)cl_engine_free(av->engine);
	free(av);
	*enginep = NULL;
}

int om_av_scan_buffer(const struct om_av_engine *av, const void *data,
		      size_t len, int mail, char **virus_r, char **error_r)
{
	struct cl_scan_options opts;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0U;
	if (!mail)
		opts.parse &= ~(unsigned int)CL_SCAN_PARSE_MAIL;
	map = cl_fmap_open_memory(len == 0 ? "" : data, len);
	if (map == NULL) {
		*error_r = om_strdup("cl_fmap_open_memory failed");
		return -1;
	}
	ret = cl_scanmap_callback(map, NULL, &virname, &scanned, av->engine,
				  &opts, NULL);
	cl_fmap_close(map);
	if (ret == CL_VIRUS) {
		*virus_r = om_strdup(virname != NULL ? virname : "unknown");
		return 1;
	}
	if (ret == CL_CLEAN)
		return 0;
	*error_r = om_asprintf("libclamav: %s", cl_strerror(ret));
	return -1;
}

int om_av_watch_init(const char *dirs, struct om_av_watch **watch_r,
		     char **error_r)
{
	struct om_av_watch *watch = om_calloc(1, sizeof(*watch));
	char *entries[OM_AV_MAX_DIRS], *copy;
	size_t i, n;
	cl_error_t ret;

	n = om_av_split_dirs(dirs, &copy, entries, OM_AV_MAX_DIRS);
	for (i = 0; i < n; i++) {
		ret = cl_statinidir(entries[i], &watch->stats[i]);
		if (ret != CL_SUCCESS) {
			*error_r = om_asprintf("cl_statinidir(%s): %s",
					       entries[i], cl_strerror(ret));
			watch->count = i;
			free(copy);
			om_av_watch_free(&watch);
			return -1;
		}
	}
	watch->count = n;
	free(copy);
	*watch_r = watch;
	return 0;
}

int om_av_watch_changed(struct om_av_watch *watch)
{
	size_t i;

	for (i = 0; i < watch->count; i++) {
		if (cl_statchkdir(&watch->stats[i]) == 1)
			return 1;
	}
	return 0;
}

void om_av_watch_free(struct om_av_watch **watchp)
{
	struct om_av_watch *watch = *watchp;
	size_t i;

	if (watch == NULL)
		return;
	for (i = 0; i < watch->count; i++)
		(void)cl_statfree(&watch->stats[i]);
	free(watch);
	*watchp = NULL;
}
