/* log.h - logging for the omamori daemons and tools (stderr or syslog).
 *
 * The Dovecot plugins never use this: inside Dovecot they log through
 * Dovecot's own e_*()/i_*() functions.
 */
#ifndef OM_LOG_H
#define OM_LOG_H

#include "lib/util.h"

/* Opens the log: to syslog (facility mail) when use_syslog, else stderr.
   When syslog's socket cannot be reached, logs to stderr and says so. */
void om_log_open(const char *ident, int use_syslog);
/* The same with syslog's socket named (for tests); returns 0, or -1 when
   syslog was asked for and the log fell back to stderr. */
int om_log_open_at(const char *ident, int use_syslog, const char *syslog_path);
/* 1 if lines go to syslog, 0 if to stderr. */
int om_log_to_syslog(void);
void om_log_set_verbose(int verbose);
int om_log_verbose(void);
void om_log_info(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_warn(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_error(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_debug(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
/* From now on lines are queued and a thread writes them (for a daemon
   whose event loop must never wait on the log; log.c).  0, or -1 with
   *error_r (allocated; lines are then written at once, as before). */
int om_log_async_start(char **error_r);
/* Writes what waits and stops the thread (nothing if none runs). */
void om_log_async_stop(void);
/* For configuration and start-up errors only: logs and exits 1. */
void om_fatal(const char *fmt, ...) OM_ATTR_FORMAT(1, 2) __attribute__((noreturn));

#endif
