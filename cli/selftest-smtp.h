/* selftest-smtp.h - the few outside tools omamorictl selftest talks to:
 * one SMTP transaction with Postfix's smtpd (its test mail goes the way
 * the Internet's does), and Postfix's queue (postqueue -j) to say why a
 * mail did not arrive.
 */
#ifndef CTL_SELFTEST_SMTP_H
#define CTL_SELFTEST_SMTP_H

#include <stddef.h>

/* What the server answered to one message. */
struct ctl_smtp_result {
	int code;		/* the last reply's code (250 when queued) */
	char *reply;		/* its text, sanitised ("" when none) */
	const char *stage;	/* "MAIL", "RCPT", "DATA", "end of data" */
	char *queue_id;		/* Postfix's "queued as ID", or NULL */
};
void ctl_smtp_result_free(struct ctl_smtp_result *res);

/* Sends msg (len bytes, LF or CRLF line ends) from sender to rcpt through
   the SMTP server at address ("ADDRESS:PORT", "[V6]:PORT"), saying helo,
   every read and write bounded by timeout_ms.  Returns 1 queued (res
   filled), 0 refused (res says at which stage and why), -1 when the
   server could not be reached or broke off (*error_r allocated). */
int ctl_smtp_send(const char *address, const char *helo, const char *sender,
		  const char *rcpt, const char *msg, size_t len, int timeout_ms,
		  struct ctl_smtp_result *res, char **error_r);

/* What Postfix's queue says of queue_id (postqueue -j, with -c
   postfix_config unless it is ""): 1 found, *queue_r ("deferred",
   "active", "hold", "incoming") and *reason_r (the first recipient's
   delay_reason, "" when none) allocated; 0 not in the queue; -1 with
   *error_r when postqueue could not be run. */
int ctl_postqueue_find(const char *postfix_config, const char *queue_id,
		       char **queue_r, char **reason_r, char **error_r);

#endif
