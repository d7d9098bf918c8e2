/* log.c - logging for the omamori daemons and tools (stderr or syslog).
 *
 * One process-wide log target, set once at start-up before any thread runs;
 * afterwards it is only read, so the worker threads can log freely.  When
 * syslog is asked for but its socket cannot be reached (no /dev/log in a
 * container or a minimal system), syslog(3) would drop every line in
 * silence: the log goes to stderr instead, with a warning saying why.
 *
 * Every field that came from a client or a message is sanitised (and
 * bounded) by its caller with om_sanitize; the whole line goes through it
 * once more here, so that a field a caller missed still cannot start a
 * forged line or hide behind terminal or bidi controls.
 */
#include "lib/log.h"

#include <errno.h>
#include <paths.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct om_log_context {
	const char *ident;
	int use_syslog;
	int verbose;
	pthread_mutex_t lock;
};

static struct om_log_context om_log_ctx = {
	"omamori", 0, 0, PTHREAD_MUTEX_INITIALIZER
};

/* 0 if a datagram or stream socket connects to path (as syslog(3) tries
   both), else -1 with errno set. */
static int om_log_try_connect(const char *path)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	size_t i;
	int fd, err = ENOENT;

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.un.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.un.sun_path, path);
	for (i = 0; i < OM_N_ELEMENTS(types); i++) {
		fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, &addr.sa, sizeof(addr.un)) == 0) {
			close(fd);
			return 0;
		}
		err = errno;
		close(fd);
	}
	errno = err;
	return -1;
}

int om_log_open_at(const char *ident, int use_syslog, const char *syslog_path)
{
	om_log_ctx.ident = ident;
	om_log_ctx.use_syslog = 0;
	if (!use_syslog)
		return 0;
	if (om_log_try_connect(syslog_path) < 0) {
		om_log_warn("syslog unreachable (%s: %s): logging to stderr",
			    syslog_path, strerror(errno));
		return -1;
	}
	om_log_ctx.use_syslog = 1;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	return 0;
}

void om_log_open(const char *ident, int use_syslog)
{
	(void)om_log_open_at(ident, use_syslog, _PATH_LOG);
}

int om_log_to_syslog(void)
{
	return om_log_ctx.use_syslog;
}

void om_log_set_verbose(int verbose)
{
	om_log_ctx.verbose = verbose;
}

int om_log_verbose(void)
{
	return om_log_ctx.verbose;
}

static void om_log_write(int priority, const char *level, const char *fmt,
			 va_list ap) OM_ATTR_FORMAT(3, 0);

/* The longest line logged (syslog's own limit is near there). */
#define OM_LOG_LINE_MAX 4096

static void om_log_write(int priority, const char *level, const char *fmt,
			 va_list ap)
{
	char *raw = om_vasprintf(fmt, ap);
	char *msg = om_sanitize(raw, OM_LOG_LINE_MAX);
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	if (om_log_ctx.use_syslog) {
		syslog(priority, "%s%s", level, msg);
	} else {
		if (localtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
			stamp[0] = '\0';
		pthread_mutex_lock(&om_log_ctx.lock);
		fprintf(stderr, "%s %s: %s%s\n", stamp, om_log_ctx.ident,
			level, msg);
		fflush(stderr);
		pthread_mutex_unlock(&om_log_ctx.lock);
	}
	free(msg);
	free(raw);
}

#define OM_LOG_FN(name, prio, level) \
void name(const char *fmt, ...) \
{ \
	va_list ap; \
	va_start(ap, fmt); \
	om_log_write(prio, level, fmt, ap); \
	va_end(ap); \
}

OM_LOG_FN(om_log_info, LOG_INFO, "")
OM_LOG_FN(om_log_warn, LOG_WARNING, "warning: ")
OM_LOG_FN(om_log_error, LOG_ERR, "error: ")

void om_log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!om_log_ctx.verbose)
		return;
	va_start(ap, fmt);
	om_log_write(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void om_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	om_log_write(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
