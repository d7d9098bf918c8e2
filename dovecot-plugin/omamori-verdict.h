/* omamori-verdict.h - the verdict of the delivery in progress, handed from
 * the delivery plugin (lib96_omamori_deliver_plugin.so) to the vnd.omamori
 * Sieve extension that Sieve runs inside that delivery.
 *
 * Both functions are defined by lib95_omamori_plugin.so, which keeps the
 * verdict in the recipient's mail_user module context; the delivery plugin
 * depends on it.  The Sieve extension is also loaded where no delivery
 * runs (sieve-test, managesieve, imapsieve) and the mail plugin may be
 * absent, so it declares them weak (#pragma weak) and asks scand
 * itself when omamori_verdict_get is NULL or has no verdict: a sender's
 * headers are never read for it.
 */
#ifndef OMAMORI_VERDICT_H
#define OMAMORI_VERDICT_H

struct mail_user;

/* Sets the verdict ("clean", "virus", "spam", "unscanned") and spam score
   (scand's text, or NULL when no spam check ran) of the delivery to user
   that is about to run Sieve; verdict NULL clears it once Sieve is done.
   The strings must stay valid until cleared. */
void omamori_verdict_set(struct mail_user *user, const char *verdict,
			 const char *score);

/* 1 with the verdict and score of the delivery to user running now, 0
   when there is none (no delivery, or the mailbox subscribes to no
   check). */
int omamori_verdict_get(struct mail_user *user, const char **verdict_r,
			const char **score_r);

#endif
