/* web.h - what omamori-web's modules share: the server's context, one
 * request as a handler sees it (already parsed, rate-limited, its form
 * read), and the response it fills.  Only web-http.c speaks MHD; the
 * handlers (web-mail.c, web-me.c, web-login.c) build pages and never
 * touch a socket.
 */
#ifndef WEB_H
#define WEB_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "lib/om-config.h"
#include "lib/util.h"
#include "lib/values.h"
#include "crypto/token.h"
#include "web-lockout.h"
#include "web-parse.h"
#include "web-rate.h"
#include "web-settings.h"
#include "web-zone.h"

struct om_store;
struct om_url_psl;

/* How long what we sign lives. */
#define WEB_CSRF_SECONDS (30 * 60)	/* a form, from page to submit */
#define WEB_SESSION_SECONDS (60 * 60)	/* a "session" token made at login */
/* A request body (POST form) is at most this big. */
#define WEB_MAX_BODY (16 * 1024)
/* What a failed login costs in rate tokens (one request costs 1). */
#define WEB_LOGIN_FAILURE_COST 20.0

/* The gate's clicks on their way to the store (web-clicks.c): a bounded
   queue and the one thread that writes it in batches. */
struct web_clicks {
	const struct om_config *config;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct web_click *items;
	size_t count, alloc, dropped;
	int stopping, started;
	pthread_t thread;
	struct om_store *store;		/* the writer's own handle */
};

/* The Prometheus metrics (web-metrics.c, doc/metrics.md). */
struct om_metrics;
struct om_metric;
struct om_metrics_server;
struct om_store;
struct web_metrics {
	const struct om_config *config;
	struct om_metrics *registry;
	struct om_metric *clicks;	/* {verdict} */
	struct om_metrics_server *server;
	int listen_fd;			/* until served, or -1 */
	/* read at scrape by the endpoint's one thread, cached */
	struct om_store *store;
	time_t read_at;
	int have;
	double holds, digests;
};
/* The registry and its listener, before the privilege drop: -1 with
   *error_r for a value refused (not loopback: fatal); an address in use
   is logged and the web runs without metrics. */
int web_metrics_listen(struct web_metrics *m, const struct om_config *config,
		       char **error_r);
/* Serves it (after daemon(): the thread must be this process's). */
void web_metrics_start(struct web_metrics *m);
void web_metrics_click(struct web_metrics *m, enum om_url_verdict verdict);
void web_metrics_stop(struct web_metrics *m);

struct web_server {
	struct om_config *config;
	/* the token keys: replaced on SIGHUP (rotation), read by every
	   request; a handler copies them under the read lock */
	pthread_rwlock_t keys_lock;
	struct om_link_keys keys;	/* every signer's (crypto/token.h) */
	/* the isolation key (isolate_key_path: crypto/vault.h), read at
	   start and on SIGHUP, under keys_lock; has_isolate_keys 0 without
	   it (no file opens) */
	struct om_token_keys isolate_keys;
	int has_isolate_keys;
	/* each thread of the pool has its own struct web_thread: a store
	   handle (a handle is used by one thread at a time: store.h) and
	   the caches that go with it */
	pthread_key_t thread_key;
	struct web_rate rate;
	/* failed logins per account (web-lockout.h) */
	struct web_lockout logins;
	/* localtime_r in a domain's zone needs TZ, which is process-wide */
	pthread_mutex_t tz_lock;
	/* the brand logo, read once after dropping privileges */
	char *logo;
	size_t logo_len;
	const char *logo_type;
	/* the Public Suffix List, for the gate's lookups (read-only) */
	struct om_url_psl *psl;
	/* the gate's clicks, recorded in batches (web-clicks.c) */
	struct web_clicks clicks;
	struct web_metrics metrics;
	int stopping;
};

/* What one thread of the pool keeps between requests (web-main.c). */
struct web_thread {
	struct om_store *store;		/* NULL until opened */
	struct web_settings_cache settings;	/* of store's configuration */
	struct web_zone_cache zones;
};

enum web_method { WEB_GET, WEB_HEAD, WEB_POST, WEB_OTHER };

/* The admin panel's trace search (/a/?page=trace, web-admin-trace.c): the
   query's fields, NULL when absent. */
struct web_trace_fields {
	const char *sender, *recipient, *subject, *message_id, *since, *until;
};

struct web_request {
	struct web_server *server;
	enum web_method method;
	const char *token;		/* the path's token ("" for none) */
	const char *query_op;		/* ?op= (NULL: none) */
	const char *query_done;		/* ?done= (NULL: none) */
	const char *query_domain;	/* ?domain= (NULL: none; /a/) */
	const char *query_page;		/* ?page= (NULL: none; /a/) */
	const char *query_month;	/* ?month= (NULL: none; /a/ report) */
	struct web_trace_fields query_trace;	/* ?sender= ... (/a/) */
	const char *accept_language;	/* NULL: none */
	/* what the click-time gate asks of a request (web-gate.c): its
	   User-Agent and the headers that mark a prefetch or a preview */
	const char *user_agent, *purpose, *sec_purpose, *x_purpose, *x_moz;
	const char *root;		/* relative path to "/": "" or "../" */
	char client[64];		/* the rate-limit key of the client */
	char address[64];		/* the client's address (logs, auth) */
	struct web_form form;		/* POST: the form read */
	time_t now;
};

struct web_response {
	unsigned int status;
	char *body;			/* allocated, or static when not owned */
	size_t len;
	int body_static;
	const char *content_type;	/* static */
	char *location;			/* 303: a relative path (allocated) */
	char *disposition;		/* Content-Disposition (allocated), or NULL */
	const char *allow;		/* 405 */
	int cacheable;			/* the same for everyone (the style
					   sheet, the logo): browsers may keep it */
	const char *csp;		/* static: a Content-Security-Policy of
					   its own, or NULL for the default */
};

typedef void web_handler(struct web_request *req, struct web_response *resp);

/* web-http.c */
/* Starts the HTTP server on the listening socket fd (already bound), with
   web_threads threads.  Returns an opaque handle or NULL with *error_r. */
void *web_http_start(struct web_server *server, int fd, char **error_r);
/* Stops it: the requests in flight finish, the threads end. */
void web_http_stop(struct web_server *server, void **http);
/* A Content-Disposition value for a download named name: attachment, an
   ASCII fallback name and the UTF-8 one percent-encoded (RFC 6266, RFC
   8187); allocated. */
char *web_attachment_disposition(const char *name);

/* web-main.c */
/* The calling thread's store handle (opened on its first use), or NULL
   with the reason logged. */
struct om_store *web_store(struct web_server *server);
/* The calling thread's own state (made on its first use, its store not
   opened yet); NULL if it cannot be kept (logged). */
struct web_thread *web_thread(struct web_server *server);
/* A copy of the link keys (wipe it with web_keys_forget). */
void web_keys_get(struct web_server *server, struct om_link_keys *keys_r);
void web_keys_forget(struct om_link_keys *keys);
/* Wipes a copy of a key file's keys (the isolation key, a signer's). */
void web_key_file_forget(struct om_token_keys *keys);
/* A copy of omamori-web's own signer keys in a key file's form (what it
   seals its unlock tickets with); 0, or -1 (none).  Wipe it with
   web_key_file_forget. */
int web_own_keys_get(struct web_server *server, struct om_token_keys *keys_r);
/* A copy of the isolation key and whether there is one (wipe it). */
void web_isolate_keys_get(struct web_server *server, struct om_token_keys *keys_r,
			  int *has_r);
/* dir/id, a file encrypted with crypto/vault.h under the key sealed to
   the isolation key (an isolated attachment, a portal message), at most
   max bytes, into out.  0, or -1 (logged as what=id). */
int web_vault_file_read(struct web_server *server, const char *dir, const char *what,
			const char *id, const char *sealed, size_t max, struct om_buf *out);

/* web-mail.c: /m/<token> (one mail) and /q/<token> (the mailbox's list) */
void web_mail_show(struct web_request *req, struct web_response *resp);
void web_mail_act(struct web_request *req, struct web_response *resp);
void web_box_show(struct web_request *req, struct web_response *resp);
void web_box_act(struct web_request *req, struct web_response *resp);
/* web-hold.c: /h/<token> (one held outbound mail) and /hl/<token> (the
   sender's held mail) */
void web_hold_show(struct web_request *req, struct web_response *resp);
void web_hold_act(struct web_request *req, struct web_response *resp);
void web_holds_show(struct web_request *req, struct web_response *resp);
void web_holds_act(struct web_request *req, struct web_response *resp);
/* web-zip.c: /z/<token> (outbound-zip: an archive's recipients, and the
   button that mails them its password) */
void web_zip_show(struct web_request *req, struct web_response *resp);
void web_zip_act(struct web_request *req, struct web_response *resp);
/* web-gate.c: /u/<token>, the click-time gate (issue 15) */
/* The click recorder (web-clicks.c): started before the HTTP server,
   stopped after it (writes what waits); add never waits on the store. */
int web_clicks_start(struct web_clicks *c, const struct om_config *config, char **error_r);
void web_clicks_add(struct web_clicks *c, const char *mailbox, const char *host,
		    enum om_url_verdict verdict, long long at);
void web_clicks_stop(struct web_clicks *c);

void web_gate_show(struct web_request *req, struct web_response *resp);
void web_gate_act(struct web_request *req, struct web_response *resp);
/* web-isolate.c: /f/<token>, an isolated attachment (issue 16): the page
   (GET) and its download (POST, CSRF) */
void web_isolate_show(struct web_request *req, struct web_response *resp);
void web_isolate_get(struct web_request *req, struct web_response *resp);
/* web-portal.c: /p/<token>, the encrypted delivery portal (issue 17):
   the page (GET); a one-time code, opening, a download (POST, CSRF) */
void web_portal_show(struct web_request *req, struct web_response *resp);
void web_portal_act(struct web_request *req, struct web_response *resp);
/* /ps/<token>: the sender's portal mail, views, revoke, expiry */
void web_portal_sender_show(struct web_request *req, struct web_response *resp);
void web_portal_sender_act(struct web_request *req, struct web_response *resp);
/* web-me.c: /me/<token>, the user's own settings */
void web_me_show(struct web_request *req, struct web_response *resp);
void web_me_change(struct web_request *req, struct web_response *resp);
/* web-admin.c: /a/<token>, a domain's admin panel (issue 18) */
void web_admin_show(struct web_request *req, struct web_response *resp);
void web_admin_change(struct web_request *req, struct web_response *resp);
/* web-admin-report.c: the monthly report section of the admin panel
   (issue 20), for a domain whose rights web-admin.c has checked; month
   "YYYY-MM" (NULL or bad: last month) */
struct web_page;
struct om_store;
void web_admin_report(struct web_page *p, struct om_store *store, const char *token,
		      const char *domain, const char *lang, const char *month);
/* web-login.c: /login, and /logo */
void web_login_show(struct web_request *req, struct web_response *resp);
void web_login_post(struct web_request *req, struct web_response *resp);
void web_logo(struct web_request *req, struct web_response *resp);
/* web-page.c: the pages' style sheet (/style.css) */
void web_style(struct web_request *req, struct web_response *resp);

#endif
