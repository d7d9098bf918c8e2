/* web-link.h - the tokens of omamori-web's URLs and forms: checking the
 * page's token (its action, its expiry), making a fresh one (login), and
 * the CSRF value every form carries and every POST must spend.
 */
#ifndef WEB_LINK_H
#define WEB_LINK_H

#include "crypto/token.h"
#include "web.h"

struct om_store;

/* The actions tokens are made for (agreed with the digest's links). */
#define WEB_ACTION_MAIL "mail"
#define WEB_ACTION_BOX "box"		/* a digest's: the quarantine page */
#define WEB_ACTION_SESSION "session"	/* a login's: the quarantine page and /me */
#define WEB_ACTION_CSRF "csrf"
#define WEB_ACTION_ADMIN "admin"	/* a login's to the admin panel (/a/, an hour) */

/* Checks req->token for action.  1 with *claims_r when it is genuine,
   for action and not expired; else 0 with resp filled (400 not valid,
   410 expired: nothing may act on it). */
int web_link_check(struct web_request *req, const char *action,
		   struct om_token_claims *claims_r, struct web_response *resp);
/* The same for a token of either action (claims_r->action says which). */
int web_link_check_either(struct web_request *req, const char *action,
			  const char *other, struct om_token_claims *claims_r,
			  struct web_response *resp);

/* For an action's POST: checks req->token for action (or other, not
   NULL) as web_link_check_either does, and gives the store and the
   mailbox's language as web_page_store_for does; the store, or NULL with
   resp filled. */
struct om_store *web_link_store_for(struct web_request *req, const char *action,
				    const char *other,
				    struct om_token_claims *claims_r,
				    const char **lang_r, struct web_response *resp);

/* A new token for mailbox, action and message, valid for lifetime
   seconds (allocated), or NULL. */
char *web_link_make(struct web_request *req, const char *mailbox,
		    const char *action, const char *message, time_t lifetime);

/* The forms a CSRF value is for, one per family of pages that spends
   them (a value made on the quarantine page is no good on the admin
   panel's, though both are one mailbox's). */
#define WEB_FORM_LOGIN "login"
#define WEB_FORM_MAIL "mail"		/* /m/, /q/ */
#define WEB_FORM_ME "me"
#define WEB_FORM_HOLD "hold"		/* /h/, /hl/ */
#define WEB_FORM_ZIP "zip"
#define WEB_FORM_ISOLATED "isolated"
#define WEB_FORM_PORTAL "portal"
#define WEB_FORM_PORTAL_SENDER "portal-sender"
#define WEB_FORM_GATE "gate"
#define WEB_FORM_ADMIN "admin"

/* A fresh CSRF value for a form of mailbox's page ("" before login)
   that posts to form's pages (WEB_FORM_*): a token over "FORM:" and a
   random nonce, valid WEB_CSRF_SECONDS.  Allocated, or NULL. */
char *web_link_csrf(struct web_request *req, const char *mailbox, const char *form);

/* Spends the form's csrf field for mailbox and form: 1 when it is
   genuine, for mailbox and form, not expired and used for the first time
   (store); else 0 with resp filled (403; 503 when the store cannot say). */
int web_link_csrf_spend(struct web_request *req, struct om_store *store,
			const char *mailbox, const char *form, const char *lang,
			struct web_response *resp);

#endif
