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
 *
 * A daemon with an event loop (policyd) calls om_log_async_start: lines
 * are then queued in memory and a thread of the log's own writes them,
 * so a logged refusal costs the request no write to syslog's socket or
 * to stderr, which may block (a busy syslog daemon, a slow disk); this is
 * what Postfix's servers get from their non-blocking logging.  The queue
 * is bounded: past OM_LOG_QUEUE_MAX lines, lines are dropped and the next
 * line written says how many.  om_fatal and om_log_async_stop write what
 * waits before they return.
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

/* Lines queued for the writer thread, at most this many. */
#define OM_LOG_QUEUE_MAX 4096

/* A line waiting for the writer. */
struct om_log_line {
	int priority;
	const char *level;	/* static */
	time_t at;
	char *msg;		/* sanitised */
};

struct om_log_context {
	const char *ident;
	int use_syslog;
	int verbose;
	pthread_mutex_t lock;
	/* the asynchronous path: all under lock but async, which only the
	   thread that starts and stops it changes */
	int async;
	pthread_t writer;
	pthread_cond_t wake;
	struct om_log_line *queue;	/* OM_LOG_QUEUE_MAX, a ring */
	size_t head, count;
	unsigned long dropped;
	int stop;
};

static struct om_log_context om_log_ctx = {
	"omamori", 0, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0,
	PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0
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

/* Appends one line as it goes to stderr. */
static void om_log_format(struct om_buf *out, const char *level, time_t at,
			  const char *msg)
{
	char stamp[32];
	struct tm tm;

	if (localtime_r(&at, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	om_buf_printf(out, "%s %s: %s%s\n", stamp, om_log_ctx.ident, level, msg);
}

/* Writes one line to the log's target now, or (stderr, out not NULL)
   adds it to out for one write of many lines.  stderr: the caller holds
   the lock, or is the only writer. */
static void om_log_emit(int priority, const char *level, time_t at,
			const char *msg, struct om_buf *out)
{
	struct om_buf line;

	if (om_log_ctx.use_syslog) {
		syslog(priority, "%s%s", level, msg);
		return;
	}
	if (out != NULL) {
		om_log_format(out, level, at, msg);
		return;
	}
	om_buf_init(&line);
	om_log_format(&line, level, at, msg);
	(void)fwrite(line.data, 1, line.len, stderr);
	om_buf_free(&line);
}

/* Queues a line for the writer (msg is taken); 0, or -1 when the
   asynchronous path is off (msg left to the caller). */
static int om_log_enqueue(int priority, const char *level, time_t at, char *msg)
{
	struct om_log_context *ctx = &om_log_ctx;
	struct om_log_line *line;

	pthread_mutex_lock(&ctx->lock);
	if (!ctx->async || ctx->stop) {
		pthread_mutex_unlock(&ctx->lock);
		return -1;
	}
	if (ctx->count == OM_LOG_QUEUE_MAX) {
		ctx->dropped++;
		pthread_mutex_unlock(&ctx->lock);
		free(msg);
		return 0;
	}
	line = &ctx->queue[(ctx->head + ctx->count) % OM_LOG_QUEUE_MAX];
	line->priority = priority;
	line->level = level;
	line->at = at;
	line->msg = msg;
	/* the writer sleeps only on an empty queue */
	if (ctx->count++ == 0)
		pthread_cond_signal(&ctx->wake);
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

static void om_log_write(int priority, const char *level, const char *fmt,
			 va_list ap)
{
	char *raw = om_vasprintf(fmt, ap);
	char *msg;
	time_t now = time(NULL);

	/* the usual line is printable ASCII that om_sanitize would copy
	   byte for byte (each byte through om_buf_append): checked in one
	   pass and kept as it is, else the sanitised copy */
	if (om_sanitize_unchanged(raw, OM_LOG_LINE_MAX) != (size_t)-1)
		msg = raw;
	else {
		msg = om_sanitize(raw, OM_LOG_LINE_MAX);
		free(raw);
	}
	if (om_log_enqueue(priority, level, now, msg) == 0)
		return;
	pthread_mutex_lock(&om_log_ctx.lock);
	om_log_emit(priority, level, now, msg, NULL);
	if (!om_log_ctx.use_syslog)
		fflush(stderr);
	pthread_mutex_unlock(&om_log_ctx.lock);
	free(msg);
}

/* Writes the lines taken from the queue, then the count of those that
   did not fit; to stderr in one write for all. */
static void om_log_emit_batch(struct om_log_line *lines, size_t count,
			      unsigned long dropped)
{
	struct om_buf out;
	size_t i;

	om_buf_init(&out);
	for (i = 0; i < count; i++) {
		om_log_emit(lines[i].priority, lines[i].level, lines[i].at,
			    lines[i].msg, &out);
		free(lines[i].msg);
	}
	if (dropped > 0) {
		char *msg = om_asprintf("%lu log lines dropped (the log could not "
					"keep up)", dropped);

		om_log_emit(LOG_WARNING, "warning: ", time(NULL), msg, &out);
		free(msg);
	}
	/* formatted without the lock; written under it, so that a
	   synchronous writer cannot interleave mid-line, and the loop
	   waits at most for one write, never for the formatting */
	if (out.len > 0) {
		pthread_mutex_lock(&om_log_ctx.lock);
		(void)fwrite(out.data, 1, out.len, stderr);
		fflush(stderr);
		pthread_mutex_unlock(&om_log_ctx.lock);
	}
	om_buf_free(&out);
}

/* Takes what waits (up to max lines) into lines; returns the count and
   the drop count via *dropped_r.  Called with the lock held. */
static size_t om_log_take(struct om_log_line *lines, size_t max,
			  unsigned long *dropped_r)
{
	struct om_log_context *ctx = &om_log_ctx;
	size_t n = 0;

	while (ctx->count > 0 && n < max) {
		lines[n++] = ctx->queue[ctx->head];
		ctx->head = (ctx->head + 1) % OM_LOG_QUEUE_MAX;
		ctx->count--;
	}
	*dropped_r = ctx->dropped;
	ctx->dropped = 0;
	return n;
}

#define OM_LOG_BATCH 256
/* How long the writer waits for more lines after the first (ms). */
#define OM_LOG_GATHER_MS 10

static void om_log_gather_pause(void)
{
	struct timespec ts = { 0, OM_LOG_GATHER_MS * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *om_log_writer_main(void *arg)
{
	struct om_log_context *ctx = &om_log_ctx;
	struct om_log_line lines[OM_LOG_BATCH];
	unsigned long dropped;
	size_t n;

	(void)arg;
	pthread_mutex_lock(&ctx->lock);
	for (;;) {
		while (ctx->count == 0 && ctx->dropped == 0 && !ctx->stop)
			pthread_cond_wait(&ctx->wake, &ctx->lock);
		if (ctx->count == 0 && ctx->dropped == 0 && ctx->stop)
			break;
		/* woken by a first line: let the lines of the next moments
		   join it, so a burst of refusals costs one wake-up and one
		   write per OM_LOG_GATHER_MS, not one per line */
		if (!ctx->stop && ctx->count < OM_LOG_BATCH) {
			pthread_mutex_unlock(&ctx->lock);
			om_log_gather_pause();
			pthread_mutex_lock(&ctx->lock);
		}
		n = om_log_take(lines, OM_LOG_BATCH, &dropped);
		/* the batch goes out without the lock (the stderr write
		   takes it back: om_log_emit_batch) */
		pthread_mutex_unlock(&ctx->lock);
		om_log_emit_batch(lines, n, dropped);
		pthread_mutex_lock(&ctx->lock);
	}
	pthread_mutex_unlock(&ctx->lock);
	return NULL;
}

int om_log_async_start(char **error_r)
{
	struct om_log_context *ctx = &om_log_ctx;
	int err;

	if (ctx->async)
		return 0;
	ctx->queue = om_calloc(OM_LOG_QUEUE_MAX, sizeof(*ctx->queue));
	ctx->head = ctx->count = 0;
	ctx->dropped = 0;
	ctx->stop = 0;
	pthread_mutex_lock(&ctx->lock);
	ctx->async = 1;
	pthread_mutex_unlock(&ctx->lock);
	err = pthread_create(&ctx->writer, NULL, om_log_writer_main, NULL);
	if (err != 0) {
		pthread_mutex_lock(&ctx->lock);
		ctx->async = 0;
		pthread_mutex_unlock(&ctx->lock);
		free(ctx->queue);
		ctx->queue = NULL;
		*error_r = om_asprintf("log writer thread: %s", strerror(err));
		return -1;
	}
	return 0;
}

void om_log_async_stop(void)
{
	struct om_log_context *ctx = &om_log_ctx;

	if (!ctx->async)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stop = 1;
	pthread_cond_signal(&ctx->wake);
	pthread_mutex_unlock(&ctx->lock);
	(void)pthread_join(ctx->writer, NULL);
	pthread_mutex_lock(&ctx->lock);
	ctx->async = 0;
	ctx->stop = 0;
	pthread_mutex_unlock(&ctx->lock);
	free(ctx->queue);
	ctx->queue = NULL;
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

	/* what waits first, then this line, written before exit */
	if (!pthread_equal(pthread_self(), om_log_ctx.writer) || !om_log_ctx.async)
		om_log_async_stop();
	va_start(ap, fmt);
	om_log_write(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}
