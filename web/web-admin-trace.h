/* web-admin-trace.h - the admin panel's message trace section
 * (web-admin-trace.c), shown by web-admin.c once it has checked the
 * admin's trace right in the domain.
 */
#ifndef WEB_ADMIN_TRACE_H
#define WEB_ADMIN_TRACE_H

#include "web.h"
#include "web-page.h"

struct om_store;

/* Appends the search form of domain and, for req's query_trace fields,
   the messages found (om_store_trace_search of domain only), times in
   zone.  The page's status: 200, 400 (a field over its bound, a date
   that is not YYYY-MM-DD, since after until) or 503 (the store). */
int web_admin_trace(struct web_page *p, const struct web_request *req,
		    struct om_store *store, const char *zone, const char *domain);

#endif
