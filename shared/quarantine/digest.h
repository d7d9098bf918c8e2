/* digest.h - the quarantine digest: each mailbox with quarantined mail it
 * has not been told about gets one message listing it all (since its last
 * digest, not just today), text + HTML in the domain's language, with a
 * signed link per mail (release; release and allow the sender) and one to
 * the mailbox's quarantine page.  When: the digest setting (daily at a
 * time of the domain's timezone, every N hours, off), and at once for mail
 * from senders the mailbox has written to when it asks for that.
 *
 * Sent once: the store claims a mailbox's rows in the same transaction
 * that makes the digest; the digest is saved into INBOX through doveadm
 * with a Message-ID made from its id, then marked sent.  A run that died
 * in between leaves it pending; the next run looks for that Message-ID in
 * INBOX and saves the digest only if it is not there.
 */
#ifndef OM_DIGEST_H
#define OM_DIGEST_H

#include <time.h>

#include "lib/om-config.h"
#include "crypto/token.h"

struct om_store;

struct om_digest_env {
	const struct om_config *config;
	struct om_store *store;
	const struct om_link_keys *keys;	/* omamori-web's signer's */
	time_t now;
	int force;		/* "omamorictl cron --now": every schedule due */
};

/* Is a digest due for mailbox at env->now?  schedule is its digest
   setting's value, last the time of its last digest (0: never), tz its
   domain's timezone setting, known the number of unlisted rows from known
   senders and known_on its digest-known-senders setting.  1 or 0. */
int om_digest_due(const char *schedule, const char *tz, time_t now,
		  time_t last, long known, int known_on, int force);

/* The digest message (RFC 5322, multipart/alternative text + HTML,
   UTF-8) listing digest's rows, for mailbox in lang: allocated, or NULL
   with *error_r.  Links start with config->web_url. */
char *om_digest_render(const struct om_digest_env *env, long long digest,
		       const char *mailbox, const char *lang, char **error_r);

/* One run: finishes pending digests, then sends every digest due.
   *sent_r counts digests sent.  0, or -1 with *error_r (the run goes on
   past one mailbox's failure and reports the first). */
int om_digest_run(const struct om_digest_env *env, long *sent_r,
		  char **error_r);

/* Saves message (RFC 5322) into mailbox's INBOX through doveadm, as a
   digest is delivered; also the monthly report's way (report.h).  0, or
   -1 with *error_r. */
int om_digest_save_inbox(const struct om_config *config, const char *mailbox,
			 const char *message, char **error_r);
/* The digest's encoders, shared with the monthly report's mail: text in
   base64 lines of 76; a header value as RFC 2047 encoded words (plain
   when ASCII). */
/* The From of omamori's mail to mailbox (notice_from, with mailbox's
   domain when it has none): allocated, or NULL with *error_r when either
   could not stand in a header. */
char *om_digest_sender(const struct om_config *config, const char *mailbox,
		       char **error_r);
/* An RFC 5322 date of when in local time (allocated). */
char *om_digest_date_header(time_t when);
struct om_buf;
void om_digest_base64_body(struct om_buf *out, const char *text);
void om_digest_encoded_words(struct om_buf *out, const char *text);

#endif
