/* report.h - omamori's own reports recognised when they come back.
 *
 * An administrator's copy of a virus report travels through Postfix like
 * any mail and arrives at the administrator's mailbox, where the spam check
 * would tag or quarantine it.  scand seals each copy with a header
 * X-Omamori-Report: "1 <unix time> <HMAC-SHA256 hex>" over the version,
 * the time and the recipient, keyed with the site's report-key (store.h
 * om_store_secret), and the delivery plugin skips the spam check for a
 * copy whose seal it can verify: fresh (OM_REPORT_MAX_AGE), for this very
 * mailbox.  A sender cannot make one without the key.
 */
#ifndef OM_REPORT_H
#define OM_REPORT_H

#include <stddef.h>
#include <time.h>

#define OM_REPORT_HEADER "X-Omamori-Report"
#define OM_REPORT_KEY_NAME "report-key"
#define OM_REPORT_KEY_LEN 32
#define OM_REPORT_MAX_AGE (2 * 24 * 3600)

/* The header value sealing a report to rcpt made at now (allocated). */
char *om_report_seal(const unsigned char key[OM_REPORT_KEY_LEN],
		     const char *rcpt, time_t now);

/* 1 if value is a seal of a report to rcpt (case-insensitive) made less
   than OM_REPORT_MAX_AGE before now (and not in the future by more than a
   minute), else 0. */
int om_report_verify(const unsigned char key[OM_REPORT_KEY_LEN],
		     const char *value, const char *rcpt, time_t now);

#endif
