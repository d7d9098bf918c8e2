/* av.c - libclamav wrapper: engine load/compile, buffer scans, change watch.
 *
 * libclamav is the field's engine: it unpacks archives (zip, 7z, rar, cab,
 * tnef...), parses mail and office formats, and reads ClamAV databases; an
 * engine is thread-safe for scanning once compiled, which is what lets
 * omamori-scand share one across its worker pool.
 *
 * A scan that did not see everything is never "clean" (doc/security.md):
 * - libclamav's own limit alerts (CL_SCAN_HEURISTIC_EXCEEDS_MAX:
 *   Heuristics.Limits.Exceeded.*) are a limit, not a virus;
 * - libclamav skips, without an alert, an archive member whose declared size
 *   is over the file-size limit: every archive layer libclamav unpacks is
 *   listed with libarchive first (a file inspection callback), and a member
 *   over the limit, or more members than the file limit, is a limit too;
 * - libclamav answers CL_CLEAN when it could not create its scratch
 *   directory, and only says so in an error message: every libclamav error
 *   message during a scan fails that scan (the caller tempfails the mail).
 * libclamav's message callback is process-wide and gets no scan context
 * for such messages, so the scan running on a thread is found through a
 * thread-local pointer: the one piece of per-thread state of this module.
 */
#include "scan/av.h"
#include "lib/log.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <clamav.h>
#include <dirent.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define OM_AV_LIMIT_PREFIX "Heuristics.Limits.Exceeded."

struct om_av_engine {
	struct cl_engine *engine;
	unsigned long long max_file_size;
	unsigned long long max_scan_size;
	unsigned int max_files;
	long long db_time;	/* om_av_engine_db_time */
};

/* What one scan met besides its verdict. */
struct om_av_scan_state {
	const struct om_av_engine *av;
	char *error;		/* first libclamav error message */
	char *limit;		/* first limit met */
};

static __thread struct om_av_scan_state *om_av_current_scan;

static cl_error_t om_av_inspect(int fd, const char *type,
				const char **ancestors, size_t parent_size,
				const char *file_name, size_t file_size,
				const char *file_buffer, uint32_t recursion_level,
				uint32_t layer_attributes, void *context);

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

/* libclamav's messages: an error during a scan fails that scan; outside a
   scan, errors and warnings go to our log (verbose ones only with -v). */
static void om_av_message(enum cl_msg severity, const char *fullmsg,
			  const char *msg, void *context)
{
	struct om_av_scan_state *scan = om_av_current_scan;
	char *clean;

	(void)fullmsg;
	(void)context;
	if (severity == CL_MSG_INFO_VERBOSE && !om_log_verbose())
		return;
	clean = om_sanitize(msg, 300);
	if (severity == CL_MSG_ERROR && scan != NULL && scan->error == NULL)
		scan->error = om_strdup(clean);
	if (severity == CL_MSG_ERROR)
		om_log_error("libclamav: %s", clean);
	else if (severity == CL_MSG_WARN)
		om_log_warn("libclamav: %s", clean);
	else
		om_log_debug("libclamav: %s", clean);
	free(clean);
}

static void om_av_do_init(void)
{
	cl_set_clcb_msg(om_av_message);
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

/* 1 if path is a directory with nothing in it (a signature directory
   freshclam has not filled yet). */
static int om_av_dir_empty(const char *path)
{
	struct dirent *de;
	DIR *dir = opendir(path);
	int empty = 1;

	if (dir == NULL)
		return 0;	/* a file, or missing: cl_load says why */
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	(void)closedir(dir);
	return empty;
}

/* The newest modification time of path, or of the files in it. */
static long long om_av_newest_mtime(const char *path)
{
	struct dirent *de;
	struct stat st;
	long long newest = 0;
	char *file;
	DIR *dir;

	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (long long)st.st_mtime;
	dir = opendir(path);
	if (dir == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		file = om_asprintf("%s/%s", path, de->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
		    (long long)st.st_mtime > newest)
			newest = (long long)st.st_mtime;
		free(file);
	}
	(void)closedir(dir);
	return newest;
}

/* libclamav's database time, else the newest signature file's. */
static long long om_av_db_time(struct cl_engine *engine, char *const *entries,
			       size_t n)
{
	long long t, m;
	int err = 0;
	size_t i;

	t = cl_engine_get_num(engine, CL_ENGINE_DB_TIME, &err);
	if (err == CL_SUCCESS && t > 0)
		return t;
	t = 0;
	for (i = 0; i < n; i++) {
		m = om_av_newest_mtime(entries[i]);
		if (m > t)
			t = m;
	}
	return t;
}

long long om_av_engine_db_time(const struct om_av_engine *engine)
{
	return engine->db_time;
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
		if (om_av_dir_empty(entries[i])) {
			om_log_warn("signature_dirs: %s has no signature files "
				    "yet (skipped)", entries[i]);
			continue;
		}
		ret = cl_load(entries[i], av->engine, &sigs, CL_DB_STDOPT);
		if (ret != CL_SUCCESS) {
			*error_r = om_asprintf("cl_load(%s): %s", entries[i],
					       cl_strerror(ret));
			goto fail;
		}
	}
	if (sigs == 0) {
		*error_r = om_asprintf("no ClamAV signatures in signature_dirs (%s): "
				       "run freshclam (or install signatures) first",
				       dirs);
		goto fail;
	}
	if (om_av_set_limits(av->engine, limits, error_r) < 0)
		goto fail;
	av->max_file_size = limits->max_file_size;
	av->max_scan_size = limits->max_scan_size;
	av->max_files = limits->max_files;
	cl_engine_set_clcb_file_inspection(av->engine, om_av_inspect);
	ret = cl_engine_compile(av->engine);
	if (ret != CL_SUCCESS) {
		*error_r = om_asprintf("cl_engine_compile: %s", cl_strerror(ret));
		goto fail;
	}
	av->db_time = om_av_db_time(av->engine, entries, n);
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

/* A virus found is a virus; else an error met fails the scan; else a
   limit met makes it a limit; else clean. */
static int om_av_scan_outcome(cl_error_t ret, const char *virname,
			      struct om_av_scan_state *scan, char **virus_r,
			      char **error_r)
{
	int result;

	if (ret == CL_VIRUS && virname != NULL &&
	    strncmp(virname, OM_AV_LIMIT_PREFIX, strlen(OM_AV_LIMIT_PREFIX)) == 0) {
		/* libclamav's own alert: a limit, unless we know better */
		if (scan->limit == NULL)
			scan->limit = om_strdup(virname);
		ret = CL_CLEAN;
	}
	if (ret == CL_VIRUS) {
		*virus_r = om_strdup(virname != NULL ? virname : "unknown");
		result = OM_AV_VIRUS;
	} else if (ret != CL_CLEAN) {
		*error_r = om_asprintf("libclamav: %s", cl_strerror(ret));
		result = OM_AV_ERROR;
	} else if (scan->error != NULL) {
		*error_r = om_asprintf("libclamav: %s", scan->error);
		result = OM_AV_ERROR;
	} else if (scan->limit != NULL) {
		*virus_r = scan->limit;
		scan->limit = NULL;
		result = OM_AV_LIMIT;
	} else {
		result = OM_AV_CLEAN;
	}
	free(scan->error);
	free(scan->limit);
	return result;
}

/* Archive types whose members libarchive can list from their headers. */
static int om_av_listable_archive(const char *type)
{
	static const char *const types[] = {
		"CL_TYPE_ZIP", "CL_TYPE_ZIPSFX", "CL_TYPE_7Z", "CL_TYPE_7ZSFX",
		"CL_TYPE_RAR", "CL_TYPE_RARSFX", "CL_TYPE_POSIX_TAR",
		"CL_TYPE_OLD_TAR", "CL_TYPE_CPIO_OLD", "CL_TYPE_CPIO_ODC",
		"CL_TYPE_CPIO_NEWC", "CL_TYPE_CPIO_CRC", "CL_TYPE_ISO9660",
		"CL_TYPE_CAB", "CL_TYPE_XAR", NULL
	};
	size_t i;

	for (i = 0; types[i] != NULL; i++) {
		if (strcmp(type, types[i]) == 0)
			return 1;
	}
	return 0;
}

/* Lists an archive's members from their headers: the first one whose
   declared size is over the file-size limit, a member count over the file
   limit, or declared sizes adding up past the scan-size limit, is returned
   as a limit text (allocated), else NULL.  An archive libarchive cannot
   read is left to libclamav.  The sum also bounds the work: a format that
   must decompress to skip a member (solid 7z) never inflates more than the
   scan-size limit here. */
static char *om_av_archive_limit(const struct om_av_engine *av,
				 const char *data, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	unsigned long long total = 0;
	unsigned int members = 0;
	char *limit = NULL, *name;

	if (a == NULL)
		return NULL;
	(void)archive_read_support_format_all(a);
	(void)archive_read_support_filter_all(a);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		(void)archive_read_free(a);
		return NULL;
	}
	while (limit == NULL && archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0)
			total += (unsigned long long)archive_entry_size(entry);
		if (++members > av->max_files) {
			limit = om_asprintf("archive of more than %u files",
					    av->max_files);
		} else if (archive_entry_size_is_set(entry) &&
			   archive_entry_size(entry) > 0 &&
			   (unsigned long long)archive_entry_size(entry) >
			   av->max_file_size) {
			name = om_sanitize(archive_entry_pathname(entry) != NULL ?
					   archive_entry_pathname(entry) : "?", 120);
			limit = om_asprintf("archive member %s of %lld bytes is "
					    "over the file-size limit of %llu",
					    name, (long long)archive_entry_size(entry),
					    av->max_file_size);
			free(name);
		} else if (total > av->max_scan_size) {
			limit = om_asprintf("archive members of more than %llu bytes "
					    "in all", av->max_scan_size);
		}
	}
	(void)archive_read_free(a);
	return limit;
}

/* libclamav calls this for every file it is about to scan, the outer one
   and each it unpacked. */
static cl_error_t om_av_inspect(int fd, const char *type,
				const char **ancestors, size_t parent_size,
				const char *file_name, size_t file_size,
				const char *file_buffer, uint32_t recursion_level,
				uint32_t layer_attributes, void *context)
{
	struct om_av_scan_state *scan = context;

	(void)fd;
	(void)ancestors;
	(void)parent_size;
	(void)file_name;
	(void)recursion_level;
	(void)layer_attributes;
	if (scan == NULL || scan->limit != NULL || file_buffer == NULL ||
	    type == NULL || !om_av_listable_archive(type))
		return CL_CLEAN;
	scan->limit = om_av_archive_limit(scan->av, file_buffer, file_size);
	return CL_CLEAN;
}

int om_av_scan_buffer(const struct om_av_engine *av, const void *data,
		      size_t len, int mail, char **virus_r, char **error_r)
{
	struct om_av_scan_state scan;
	struct cl_scan_options opts;
	const char *virname = NULL;
	unsigned long scanned = 0;
	cl_fmap_t *map;
	cl_error_t ret;

	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0U;
	if (!mail)
		opts.parse &= ~(unsigned int)CL_SCAN_PARSE_MAIL;
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	map = cl_fmap_open_memory(len == 0 ? "" : data, len);
	if (map == NULL) {
		*error_r = om_strdup("cl_fmap_open_memory failed");
		return OM_AV_ERROR;
	}
	memset(&scan, 0, sizeof(scan));
	scan.av = av;
	om_av_current_scan = &scan;
	ret = cl_scanmap_callback(map, NULL, &virname, &scanned, av->engine,
				  &opts, &scan);
	om_av_current_scan = NULL;
	cl_fmap_close(map);
	return om_av_scan_outcome(ret, virname, &scan, virus_r, error_r);
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
