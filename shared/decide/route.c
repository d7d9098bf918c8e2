/* route.c - the path of an authenticated sender's outbound mail: none,
 * the submission milter before the queue (omamori-submit), or the
 * after-queue filter (FILTER to omamori-filter).  route.h says the rule;
 * doc/outbound.md "The two paths" says why.
 */
#include "decide/route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* 1 when mailbox's feature is on (a read error counts as on: the safe
   side is the after-queue path, which tempfails). */
static int om_route_on(const struct om_settings_source *src, const char *mailbox,
		       const char *feature)
{
	enum om_sub_state state;
	const char *source;
	char *error = NULL;

	if (om_settings_subscription_from(src, mailbox, feature, &state, &source,
					  &error) < 0) {
		free(error);
		return 1;
	}
	return state == OM_SUB_ON;
}

static int om_route_subscribed(const struct om_settings_source *src, const char *mailbox)
{
	const char *feature;
	unsigned int i;

	if (*mailbox == '\0')
		return 0;
	for (i = 0; (feature = om_settings_feature_nth(i)) != NULL; i++) {
		if (om_settings_feature_outbound(feature) && om_route_on(src, mailbox, feature))
			return 1;
	}
	return 0;
}

/* A setting's value (def when unset, on_error when it cannot be read:
   the caller says what is safe), allocated. */
static char *om_route_value(const struct om_settings_source *src, const char *mailbox,
			    const char *name, const char *def, const char *on_error)
{
	char *error = NULL, *value;

	value = om_settings_domain_value_from(src, mailbox, name, def, &error);
	if (value == NULL) {
		free(error);
		value = om_strdup(on_error);
	}
	return value;
}

/* 1 if rcpt is inside for mailbox: its domain or internal-domains (as
   filter-hold.c decides). */
int om_route_inside(const struct om_settings_source *src, const char *mailbox,
			   const char *rcpt)
{
	const char *domain = om_settings_domain_of(rcpt);
	char *internal;
	int inside;

	if (*domain == '\0')
		return 1;	/* a local name: never leaves */
	if (strcasecmp(domain, om_settings_domain_of(mailbox)) == 0)
		return 1;
	internal = om_route_value(src, mailbox, OM_SETTING_INTERNAL_DOMAINS, "none",
				  "none");
	inside = om_settings_domain_in(internal, domain);
	free(internal);
	return inside;
}

/* 1 if mailbox's outbound-hold may hold the message for rcpt. */
static int om_route_hold_may(const struct om_settings_source *src, const char *mailbox,
			     const char *rcpt)
{
	char *when, *word, *save = NULL;
	int external = 0;

	if (!om_route_on(src, mailbox, OM_FEATURE_OUTBOUND_HOLD))
		return 0;
	/* a read error: "any", the safe side */
	when = om_route_value(src, mailbox, OM_SETTING_HOLD_WHEN, OM_DEFAULT_HOLD_WHEN,
			      "any");
	if (strcmp(when, "none") == 0) {
		free(when);
		return 0;
	}
	for (word = strtok_r(when, " ", &save); word != NULL;
	     word = strtok_r(NULL, " ", &save)) {
		if (strcmp(word, "external") == 0)
			external = 1;
	}
	free(when);
	/* every word must hold, and attachment, any and hold-min-recipients
	   cannot be known at RCPT: with "external" an inside recipient is
	   never held, without it every recipient may be */
	return !external || !om_route_inside(src, mailbox, rcpt);
}

/* The after-queue path's reasons for mailbox, or NULL. */
static const char *om_route_queue_why(const struct om_settings_source *src,
				      const char *mailbox, const char *rcpt)
{
	char *path;
	int queue;

	path = om_route_value(src, mailbox, OM_SETTING_OUTBOUND_PATH,
			      OM_DEFAULT_OUTBOUND_PATH, "queue");
	queue = strcmp(path, "queue") == 0;
	free(path);
	if (queue)
		return "outbound-path queue";
	if (om_route_on(src, mailbox, OM_FEATURE_OUTBOUND_SPAM))
		return "outbound-spam: content decides, spam is held";
	if (om_route_on(src, mailbox, OM_FEATURE_OUTBOUND_AUDIT))
		return "outbound-audit: the domain's audit rules may hold it";
	if (om_route_hold_may(src, mailbox, rcpt))
		return "outbound-hold: its conditions may be met";
	/* the portal takes external recipients out of the envelope: the
	   milter does not (doc/portal.md) */
	if (om_route_on(src, mailbox, OM_FEATURE_OUTBOUND_PORTAL) &&
	    !om_route_inside(src, mailbox, rcpt))
		return "outbound-portal: an external recipient";
	return NULL;
}

enum om_route om_route_rcpt(const struct om_settings_source *src, const char *login,
			    const char *from, const char *rcpt, const char **why_r)
{
	const char *why;

	*why_r = "no outbound feature";
	if (!om_route_subscribed(src, login))
		return OM_ROUTE_NONE;
	why = om_route_queue_why(src, login, rcpt);
	if (why == NULL && *from != '\0' && strcasecmp(from, login) != 0 &&
	    om_route_subscribed(src, from))
		why = om_route_queue_why(src, from, rcpt);
	if (why != NULL) {
		*why_r = why;
		return OM_ROUTE_QUEUE;
	}
	*why_r = "outbound-virus, -bcc, -zip: checked before the queue";
	return OM_ROUTE_INLINE;
}

enum om_route om_route_rcpt_conf(const struct om_settings_source *src, int inline_on,
				 const char *login, const char *from, const char *rcpt,
				 const char **why_r)
{
	enum om_route route = om_route_rcpt(src, login, from, rcpt, why_r);

	if (route == OM_ROUTE_INLINE && !inline_on) {
		*why_r = "outbound_inline = 0: every outbound subscriber's mail "
			"through the filter";
		return OM_ROUTE_QUEUE;
	}
	return route;
}
