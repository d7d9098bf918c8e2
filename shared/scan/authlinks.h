/* authlinks.h - the last step of an inbound scan (issue 15, doc/links.md):
 * sender authentication read from our MTA's Authentication-Results, the
 * banner and the links as the recipient's domain settings want them
 * (auth-warning, link-disable, url-rewrite), and every A-R header that is
 * not ours removed from what is delivered.
 */
#ifndef OM_AUTHLINKS_H
#define OM_AUTHLINKS_H

#include "mail/authres.h"
#include "mail/linkrw.h"

struct om_scan_settings;
struct om_scan_request;
struct om_scan_result;
struct om_mime_msg;

/* What the settings and the results ask for: the links' mode and which
   banner (pure: unit-tested). */
enum om_authlinks_banner {
	OM_BANNER_NONE = 0,
	OM_BANNER_FAIL,		/* authentication failed, links disabled */
	OM_BANNER_FAIL_KEPT,	/* failed, links kept (DMARC alone, p=none) */
	OM_BANNER_UNVERIFIED,	/* auth-warning always: nothing passed */
	OM_BANNER_POLICY,	/* link-disable on */
};

struct om_authlinks_plan {
	enum om_links_mode mode;
	enum om_authlinks_banner banner;
	unsigned int failed;	/* OM_AUTHRES_* bits */
};

/* auth_warning "off", "fail" or "always"; link_disable and url_rewrite
   "on" or "off"; can_rewrite 0 when there is no key to sign the gate's
   links with (url-rewrite then disables links: never left live). */
void om_authlinks_plan(const struct om_authres *auth, const char *auth_warning,
		       const char *link_disable, const char *url_rewrite,
		       int can_rewrite, struct om_authlinks_plan *plan_r);

/* The banner's text in lang ("ja" or "en") for plan, naming brand
   (allocated), or NULL for none. */
char *om_authlinks_banner_text(const struct om_authlinks_plan *plan,
			       const char *lang, const char *brand);

/* Runs the step on a scan whose action delivers (deliver or strip) an
   inbound message: msg is the parsed message (already changed by the
   strip, or NULL when GMime could not read it); res->message is replaced
   when something changed and res->links says what was done to the links.
   0, or -1 with *error_r (a domain setting could not be read). */
int om_authlinks_run(const struct om_scan_settings *set,
		     const struct om_scan_request *req, struct om_mime_msg *msg,
		     struct om_scan_result *res, char **error_r);

#endif
