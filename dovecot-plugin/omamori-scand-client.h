/* omamori-scand-client.h - the one Dovecot-side way to ask omamori-scand:
 * a delivery's scan, a scan for the Sieve extension outside a delivery,
 * and learning from what IMAP users move.
 */
#ifndef OMAMORI_SCAND_CLIENT_H
#define OMAMORI_SCAND_CLIENT_H

struct mail;
struct om_config;
struct om_scan_result;

/* Who and what a request is about. */
struct omamori_scand_ask {
	const char *session_id;	/* for scand's log lines; NULL: "-" */
	const char *mailbox;	/* the user the answer is for */
	const char *mail_from;	/* the envelope sender; NULL or "": none */
	int checks;		/* OM_CHECK_* (scans only) */
};

/* "virus", "spam" or "virus,spam" for OM_CHECK_* bits (both when neither
   or both). */
const char *omamori_scand_client_checks(int checks);

/* Asks scand (config's socket and timeout) to scan message[0..size) for
   ask.  0 with *res_r filled (the caller frees it with
   om_scan_result_free), or with *error_r (data stack) an
   om_scand_failure (proto.h): OM_SCAND_UNAVAILABLE (-1) for scand
   unreachable, too slow or answering an error, OM_SCAND_BAD_ANSWER (-2)
   for an answer this side cannot read (never to be taken as
   "unavailable"). */
int omamori_scand_client_scan(const struct om_config *config,
			      const struct omamori_scand_ask *ask,
			      const void *message, size_t size,
			      struct om_scan_result *res_r,
			      const char **error_r);

/* Reads mail (up to scan_max_size) and asks scand to scan it.  1 with
   *res_r filled, 0 when the message is over scan_max_size (not sent), < 0
   with *error_r (data stack): -1, or OM_SCAND_BAD_ANSWER as above. */
int omamori_scand_client_scan_mail(const struct om_config *config,
				   const struct omamori_scand_ask *ask,
				   struct mail *mail, struct om_scan_result *res_r,
				   const char **error_r);

/* Asks scand which checks mailbox's subscriptions ask for, as its own
   snapshot of the settings resolves them (the store cannot be read).  0
   with *checks_r (OM_CHECK_* bits, 0 for none), or an om_scand_failure
   with *error_r (data stack). */
int omamori_scand_client_subscribed(const struct om_config *config,
				    const char *mailbox, int *checks_r,
				    const char **error_r);

/* Reads mail (up to scan_max_size) and asks scand to learn it as spam or
   ham for ask->mailbox.  1 learned, 0 over scan_max_size (not sent), -1
   with *error_r (data stack). */
int omamori_scand_client_learn_mail(const struct om_config *config,
				    const struct omamori_scand_ask *ask,
				    struct mail *mail, bool spam,
				    const char **error_r);

#endif
