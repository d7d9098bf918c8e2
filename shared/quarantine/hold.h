/* hold.h - asking omamori-filter to send or discard outbound mail held for
 * its sender's confirmation (outbound-hold, doc/outbound.md).
 *
 * Only omamori-filter re-injects mail (it alone is in group postdrop) and
 * only it touches its spool; omamori-web (a click), omamorictl hold and
 * omamorictl cron (expiry) ask it over filter_control, a UNIX socket that
 * root and web_user may use.  One request per connection, one line each
 * way:
 *
 *	C: RELEASE <id>			C: DISCARD <id>
 *	C: ZIPPASS <id>			(outbound-zip: mail the archive's
 *					kept password to its recipients)
 *	C: PORTALCODE <id> <recipient>	(outbound-portal: a new one-time
 *					code mailed to that recipient)
 *	C: ADMIN-RELEASE <id> <admin>	a domain administrator's send or
 *	C: ADMIN-DISCARD <id> <admin>	discard of a hold kept for the
 *					administrator (issue 18)
 *	S: OK <text>			the hold was sent (text: "sent as QID")
 *					or discarded, now, by this request
 *	S: ASKED <text>			not done here: the hold's copy is in
 *					another node's spool; the release or discard
 *					is asked of that node through the store,
 *					which does it within seconds
 *					(doc/scaling.md)
 *	S: STATE <state>		not done: the hold is sent, discarded,
 *					sending (another request has it) or
 *					none (unknown); a kept password is
 *					sent, sending, expired or none
 *	S: FAIL <text>			not done, try again (store, Postfix)
 *
 * The exactly-once claim is the store's (om_store_hold_claim), so two
 * requests for one hold at the same moment send it once.
 */
#ifndef OM_HOLD_H
#define OM_HOLD_H

#include "lib/om-config.h"

#define OM_HOLD_LINE_MAX 512
#define OM_HOLD_ID_MAX 63
#define OM_HOLD_TIMEOUT_MS 150000	/* the re-injection's own is 120 s */

enum om_hold_op {
	OM_HOLD_OP_RELEASE = 1,
	OM_HOLD_OP_DISCARD,
	OM_HOLD_OP_ZIP_PASSWORD,	/* the id of a kept zip password */
};

/* The token action of omamori-web's /z/ page (the password notice's
   link): a kept password's id, the sender's mailbox. */
#define OM_ZIP_TOKEN_ACTION "zip-password"

enum om_hold_answer {
	OM_HOLD_ANSWER_NONE = 0,
	OM_HOLD_ANSWER_DONE,	/* sent or discarded by this request */
	OM_HOLD_ANSWER_STATE,	/* not done: *text_r is the hold's state */
	OM_HOLD_ANSWER_FAIL,	/* not done, temporary: *text_r says why */
	OM_HOLD_ANSWER_ASKED,	/* asked of the node holding its copy */
};

/* 1 if id is a hold id as omamori-filter makes them ([0-9A-Za-z-], 1 to
   OM_HOLD_ID_MAX bytes). */
int om_hold_id_valid(const char *id);

/* Asks omamori-filter (config->filter_control) to do op on hold id.
   Returns the answer with *text_r (allocated), or -1 with *error_r when
   the filter could not be asked (not running, no answer in time). */
int om_hold_request(const struct om_config *config, enum om_hold_op op,
		    const char *id, enum om_hold_answer *answer_r,
		    char **text_r, char **error_r);

/* ADMIN-RELEASE / ADMIN-DISCARD <id> <admin>: a domain administrator's
   send or discard of a hold kept for the administrator (omamori-web's
   admin panel, issue 18).  omamori-filter acts for web_user only when the
   store says admin holds the holds right in the hold's sender's domain
   and the hold is kept for the administrator.  As om_hold_request. */
int om_hold_admin_request(const struct om_config *config, int release, const char *id,
			  const char *admin, enum om_hold_answer *answer_r,
			  char **text_r, char **error_r);

/* PORTALCODE: asks omamori-filter to mail recipient of portal message id
   a new one-time code (filter-portal.c).  As om_hold_request. */
int om_hold_portal_code(const struct om_config *config, const char *id,
			const char *recipient, enum om_hold_answer *answer_r,
			char **text_r, char **error_r);

/* Whether a kept zip password may be mailed to the recipients, given the
   outbound-hold of the same message (a kept password and its message's
   hold share the id): NULL yes (no hold, or the hold was sent), else the
   reason as a control-protocol state - "held" (the archive has not gone
   out yet: still held, being sent or kept for the administrator) or
   "cancelled" (discarded: the archive never went out).  -1 with *error_r
   when the store cannot say, else 0. */
struct om_store;
int om_hold_zip_gate(struct om_store *store, const char *id, const char **why_r,
		     char **error_r);

#endif
