/* web-page.h - building omamori-web's HTML: one layout (the ISP's brand in
 * the header, its support contact in the footer, a phone-sized viewport,
 * inline CSS, no JavaScript), HTML-escaping of every text that is not
 * ours, and the short pages that only say one thing (errors, results).
 */
#ifndef WEB_PAGE_H
#define WEB_PAGE_H

#include <time.h>

#include "lib/util.h"
#include "web.h"
#include "web-text.h"

struct om_store;

struct web_page {
	struct om_buf buf;
	const char *lang;
};

/* Starts a page in lang titled by text id: doctype, head, the brand. */
void web_page_begin(struct web_page *p, const struct web_request *req,
		    const char *lang, enum web_text title);
/* Appends text (ours or not) HTML-escaped; control characters and bytes
   that are not UTF-8 become '?', and more than max bytes are cut with
   "..." (0: no limit beyond 4096). */
void web_page_esc(struct web_page *p, const char *text, size_t max);
/* Appends the text id of the page's language, escaped. */
void web_page_t(struct web_page *p, enum web_text id);
/* Appends markup of ours (never anything from a request or the store). */
void web_page_raw(struct web_page *p, const char *html);
/* Appends <input type=hidden name=csrf value=...>. */
void web_page_csrf(struct web_page *p, const char *csrf);
/* Closes the page (the footer) and hands it to resp with status. */
void web_page_finish(struct web_page *p, const struct web_request *req,
		     struct web_response *resp, unsigned int status);

/* A page that says title and body (text ids), with a link to the login
   page when login_link; status as given. */
void web_page_message(const struct web_request *req, struct web_response *resp,
		      unsigned int status, const char *lang,
		      enum web_text title, enum web_text body, int login_link);

/* The page for a failure of the store or of what a page needs (503). */
void web_page_unavailable(const struct web_request *req,
			  struct web_response *resp, const char *lang);
/* After looking up a page's row (found: 1, 0 none or another mailbox's,
   -1 the store failed): 1 go on, else 0 after answering 503 (failed) or
   410 with gone_body (none). */
int web_page_found(const struct web_request *req, struct web_response *resp,
		   const char *lang, int found, enum web_text gone_body);
/* Starts a page titled title with its intro paragraph (text ids). */
void web_page_begin_intro(struct web_page *p, const struct web_request *req,
			  const char *lang, enum web_text title,
			  enum web_text intro);
/* Starts the page after a button: titled title, and body in a paragraph
   id="result", a note for status 200, else a warning, left open. */
void web_page_begin_result(struct web_page *p, const struct web_request *req,
			   const char *lang, enum web_text title,
			   unsigned int status, enum web_text body);
/* A definition list's <dt>label</dt><dd>; the caller closes the dd. */
void web_page_dt(struct web_page *p, enum web_text label);
/* A definition list's item: label, and value (escaped, at most 998
   bytes) or if_empty when value is NULL or "". */
void web_page_field(struct web_page *p, enum web_text label,
		    const char *value, enum web_text if_empty);
/* A paragraph with a link to prefix (ours) and href (escaped), saying
   label. */
void web_page_link(struct web_page *p, const char *prefix, const char *href,
		   enum web_text label);

/* The language of pages for mailbox (its domain's "language" setting),
   and for a browser not yet known (Accept-Language). */
/* The calling thread's store and mailbox's language for an action's POST:
   the store, or NULL after answering 503 (the store cannot be opened; in
   the language web_page_lang_mailbox gives). */
struct om_store *web_page_store_for(const struct web_request *req,
				    struct web_response *resp,
				    const char *mailbox, const char **lang_r);
const char *web_page_lang_mailbox(const struct web_request *req,
				  struct om_store *store, const char *mailbox);
const char *web_page_lang_browser(const struct web_request *req);
/* Both settings a quarantine page needs for mailbox, from one look at the
   store (web-settings.c): the language as web_page_lang_mailbox gives it,
   and the timezone ("localtime" when the store cannot say). */
void web_page_mailbox(const struct web_request *req, struct om_store *store,
		      const char *mailbox, struct web_settings *values_r);
/* For a page's GET: the calling thread's store and mailbox's settings
   (web_page_mailbox): the store, or NULL after answering 503. */
struct om_store *web_page_store_settings(const struct web_request *req,
					 struct web_response *resp,
					 const char *mailbox,
					 struct web_settings *settings_r);

/* Shared by the outbound pages (web-hold.c, web-zip.c): each recipient
   of list (one a line) as an <li>, marked inside (the sender's domain or
   one of internal) or outside, with the state text; and mailbox's
   internal-domains setting (allocated; "none" when the store cannot
   say). */
void web_hold_recipients(struct web_page *p, const char *list,
			 const char *sender, const char *internal,
			 enum web_text state);
char *web_hold_internal(struct om_store *store, const char *mailbox);

/* when in zone (a timezone setting's value), as lang writes dates, into
   buf. */
void web_page_date(const struct web_request *req, const char *zone,
		   time_t when, const char *lang, char *buf, size_t size);

#endif
