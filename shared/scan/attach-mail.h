/* attach-mail.h - the attachment analysis (attach.h) over one message in
 * scan.c's flow: which parts are attachments (seed 004's exceptions), the
 * passwords of the body, and what the recipient's domain wants done with
 * the findings: warn (a notice at the top), remove (the attachment taken
 * out, as a virus is), quarantine (the whole mail into Quarantine).
 */
#ifndef OM_SCAN_ATTACH_MAIL_H
#define OM_SCAN_ATTACH_MAIL_H

#include <stddef.h>

struct om_mime_msg;
struct om_mime_leaf;
struct om_scan_settings;
struct om_scan_request;
struct om_scan_result;
struct om_att_mail;

/* 1 when the analysis runs for this request: rules loaded, incoming mail,
   the recipient's domain subscribed to "attachments". */
int om_att_mail_enabled(const struct om_scan_settings *set,
			const struct om_scan_request *req);

/* The analysis of a message's leaves (free with om_att_mail_free). */
struct om_att_mail *om_att_mail_new(struct om_mime_leaf *leaves, size_t count);
/* Analyses leaf i from its decoded bytes (the virus scan's, so they are
   decoded once) unless it is no attachment.  A virus found inside an
   encrypted archive opened with the body's password is put into *virus_r
   (allocated) when it is NULL, so the virus path handles it. */
void om_att_mail_leaf(struct om_att_mail *am, const struct om_scan_settings *set,
		      size_t i, const char *data, size_t len, char **virus_r);

/* For a message about to be delivered as is (res->action deliver): the
   findings' action for the recipient's domain, the notice or the
   quarantine wrapper in res->message, res->attachments for the
   X-Omamori-Attachments header.  0, or -1 with *error_r (a template
   missing, a setting unreadable: the caller tempfails). */
int om_att_mail_apply(struct om_att_mail *am, const struct om_scan_settings *set,
		      const struct om_scan_request *req, struct om_mime_msg *msg,
		      struct om_scan_result *res, char **error_r);

void om_att_mail_free(struct om_att_mail **am);

#endif
