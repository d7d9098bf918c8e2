/* route.h - which path an authenticated sender's outbound mail takes
 * (doc/outbound.md "The two paths").
 *
 * One decision, asked by omamori-policyd at RCPT (QUEUE: FILTER to
 * omamori-filter, the after-queue path) and by omamori-submit, the
 * submission smtpd's milter (INLINE: it checks the message before Postfix
 * queues it), from the same settings: a message is checked by exactly one
 * of them.  Pure over a settings source (the store, or policyd's
 * snapshot of it).
 */
#ifndef OM_ROUTE_H
#define OM_ROUTE_H

#include "store/settings.h"

enum om_route {
	OM_ROUTE_NONE,		/* no outbound feature: nothing to check */
	OM_ROUTE_INLINE,	/* outbound-virus, -bcc, -zip only: before queue */
	OM_ROUTE_QUEUE,		/* a hold may be met, outbound-spam, or the
				   outbound-path setting says queue: FILTER */
};

/* The path of the message of login (the SASL login; "" none) with
   envelope sender from, for recipient rcpt.  NONE when login subscribes
   to no outbound feature (as policyd routes: on the login).  QUEUE when,
   for the login or the envelope sender, a hold's conditions may be met
   for rcpt (hold-when external and rcpt outside; attachment, any or
   hold-min-recipients cannot be known at RCPT: QUEUE), outbound-spam is
   on, or outbound-path is queue.  *why_r (static) says why.  A settings
   read error is QUEUE (the after-queue path tempfails and retries).  The
   decision of a message is QUEUE if any of its recipients' is. */
/* 1 if rcpt is inside for mailbox: a recipient without a domain, one of
   mailbox's domain (case-insensitive) or of its internal-domains (its
   policy group's, else its domain's); what outbound-hold's "external"
   and internal-only (omamori-policyd) call outside is the rest. */
int om_route_inside(const struct om_settings_source *src, const char *mailbox,
		    const char *rcpt);

enum om_route om_route_rcpt(const struct om_settings_source *src, const char *login,
			    const char *from, const char *rcpt, const char **why_r);
/* As om_route_rcpt, with omamori.conf's outbound_inline: 0 makes every
   INLINE a QUEUE (no submission milter: all through the filter). */
enum om_route om_route_rcpt_conf(const struct om_settings_source *src, int inline_on,
				 const char *login, const char *from, const char *rcpt,
				 const char **why_r);

#endif
