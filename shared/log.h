/* log.h - logging for the omamori daemons and tools (stderr or syslog).
 *
 * The Dovecot plugins never use this: inside Dovecot they log through
 * Dovecot's own e_*()/i_*() functions.
 */
#ifndef OM_LOG_H
#define OM_LOG_H

#include "util.h"

/* Opens the log: to syslog (facility mail) when use_syslog, else stderr. */
void om_log_open(const char *ident, int use_syslog);
void om_log_set_verbose(int verbose);
int om_log_verbose(void);
void om_log_info(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_warn(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_error(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
void om_log_debug(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
/* For configuration and start-up errors only: logs and exits 1. */
void om_fatal(const char *fmt, ...) OM_ATTR_FORMAT(1, 2) __attribute__((noreturn));

#endif
