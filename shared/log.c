/* log.c - logging for the omamori daemons and tools (stderr or syslog).
 *
 * One process-wide log target, set once at start-up before any thread runs;
 * afterwards it is only read, so the worker threads can log freely.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

struct om_log_context {
	const char *ident;
	int use_syslog;
	int verbose;
	pthread_mutex_t lock;
};

static struct om_log_context om_log_ctx = {
	"omamori", 0, 0, PTHREAD_MUTEX_INITIALIZER
};

void om_log_open(const char *ident, int use_syslog)
{
	om_log_ctx.ident = ident;
	om_log_ctx.use_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
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

static void om_log_write(int priority, const char *level, const char *fmt,
			 va_list ap)
{
	char *msg = om_vasprintf(fmt, ap);
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
