/* web-http.c - omamori-web's HTTP side: libmicrohttpd, the routes, and
 * what every response carries.
 *
 * The only file that speaks MHD.  A request is read here - its client
 * address (the peer, or the last X-Forwarded-For entry when the peer is a
 * trusted proxy), its rate-limit token, its method and path, its form body
 * (urlencoded only, at most WEB_MAX_BODY bytes) - and handed to a handler
 * as a struct web_request; the handler's struct web_response becomes the
 * MHD response with the security headers below.  Unknown paths are 404,
 * wrong methods 405, every page has Cache-Control: no-store and
 * Referrer-Policy: no-referrer (tokens are in the URLs).  A POST the
 * browser says comes from another site (Sec-Fetch-Site, Origin) is 403
 * before any handler sees it (login CSRF).
 *
 * The listening socket is TCP on loopback or, better, a UNIX socket only
 * the proxy's group may use; its peers are "unix", believed to forward a
 * client's address only when web_trusted_proxies says "unix".  Slow
 * clients: an idle connection is closed after WEB_HTTP_TIMEOUT seconds
 * (MHD has no deadline for a whole request's headers: the proxy in front
 * must buffer requests, as nginx does); a TCP listener without a trusted
 * proxy (clients straight on loopback) also limits connections per
 * address.
 *
 * Threads: MHD's internal thread pool of web_threads threads, each with
 * its own store handle (web-main.c) - a bounded number of SQLite
 * connections, where a thread per connection would open one per client.
 * A release waits for doveadm (a second or so), holding its thread: a
 * pool of 4 serves a mailbox provider's web traffic, and web_threads
 * raises it.
 */
#include "web.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define WEB_HTTP_CONNECTIONS 512	/* open connections, all threads */
#define WEB_HTTP_TIMEOUT 10		/* seconds a connection may idle */
#define WEB_HTTP_PER_IP 64		/* connections per address, TCP without a proxy */
#define WEB_HTTP_MEMORY (32 * 1024)	/* per connection: headers and URL (MHD's default) */
#define WEB_RATE_CLIENTS 65536

static const char web_csp[] =
	"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
	"form-action 'self'; frame-ancestors 'none'";

/* Monotonic seconds, for the rate buckets. */
static double web_http_seconds(void)
{
	uint64_t ms = om_now_ms();

	return (double)ms / 1000.0;
}

/* One request between MHD's calls of the access handler. */
struct web_http_call {
	struct om_buf body;
	int too_large;
	/* the client, found once with the headers (web_http_client) */
	char client[sizeof(((struct web_request *)0)->client)];
	char address[sizeof(((struct web_request *)0)->address)];
};

struct web_route {
	const char *path;	/* exact, or a prefix ending in '/' + token */
	int token;
	web_handler *get;
	web_handler *post;
};

static const struct web_route web_routes[] = {
	{ "/m/", 1, web_mail_show, web_mail_act },
	{ "/q/", 1, web_box_show, web_box_act },
	{ "/h/", 1, web_hold_show, web_hold_act },
	{ "/hl/", 1, web_holds_show, web_holds_act },
	{ "/z/", 1, web_zip_show, web_zip_act },
	{ "/u/", 1, web_gate_show, web_gate_act },
	{ "/f/", 1, web_isolate_show, web_isolate_get },
	{ "/p/", 1, web_portal_show, web_portal_act },
	{ "/ps/", 1, web_portal_sender_show, web_portal_sender_act },
	{ "/me/", 1, web_me_show, web_me_change },
	{ "/a/", 1, web_admin_show, web_admin_change },
	{ "/login", 0, web_login_show, web_login_post },
	{ "/logo", 0, web_logo, NULL },
	{ "/style.css", 0, web_style, NULL },
};

/* ---- the response ---- */

static enum MHD_Result web_http_send(struct MHD_Connection *conn,
				     struct web_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	int hand_over = !resp->body_static && resp->len > 0;

	/* an allocated body is handed over (MHD frees it), not copied */
	r = MHD_create_response_from_buffer(resp->len, resp->body,
					    resp->body_static ? MHD_RESPMEM_PERSISTENT :
					    hand_over ? MHD_RESPMEM_MUST_FREE :
					    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (hand_over)
		resp->body = NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				    resp->content_type != NULL ? resp->content_type :
				    "text/plain; charset=utf-8") == MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
				    resp->csp != NULL ? resp->csp : web_csp) == MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY") == MHD_NO ||
	    MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_NO ||
	    MHD_add_response_header(r, "X-Robots-Tag", "noindex, nofollow") == MHD_NO ||
	    (resp->disposition != NULL &&
	     MHD_add_response_header(r, "Content-Disposition", resp->disposition) == MHD_NO) ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				    resp->cacheable ? "public, max-age=86400" :
				    "no-store") == MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS,
				    "nosniff") == MHD_NO ||
	    (resp->location != NULL &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location) == MHD_NO) ||
	    (resp->allow != NULL &&
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow) == MHD_NO)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Content-Disposition for name: attachment, an ASCII fallback name and
   the UTF-8 one percent-encoded (RFC 6266, RFC 8187). */
char *web_attachment_disposition(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	struct om_buf b;
	const unsigned char *s;

	om_buf_init(&b);
	om_buf_append_str(&b, "attachment; filename=\"");
	for (s = (const unsigned char *)name; *s != '\0'; s++)
		om_buf_append(&b, *s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\' &&
			      *s != '%' && *s != ';' ? (const char *)s : "_", 1);
	om_buf_append_str(&b, "\"; filename*=UTF-8''");
	for (s = (const unsigned char *)name; *s != '\0'; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL) {
			om_buf_append(&b, (const char *)s, 1);
		} else {
			char esc[3] = { '%', hex[*s >> 4], hex[*s & 15] };

			om_buf_append(&b, esc, 3);
		}
	}
	return om_buf_steal(&b, NULL);
}

static void web_response_free(struct web_response *resp)
{
	if (!resp->body_static)
		free(resp->body);
	free(resp->location);
	free(resp->disposition);
	memset(resp, 0, sizeof(*resp));
}

/* ---- the request ---- */

struct web_http_xff {
	const char *last;
};

static enum MHD_Result web_http_xff_cb(void *context, enum MHD_ValueKind kind,
				       const char *key, const char *value)
{
	struct web_http_xff *x = context;

	(void)kind;
	if (key != NULL && value != NULL && strcasecmp(key, "X-Forwarded-For") == 0)
		x->last = value;
	return MHD_YES;
}

/* The client's address (req->address) and its rate-limit key. */
static void web_http_client(struct web_server *server, struct MHD_Connection *conn,
			    struct web_request *req)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct web_http_xff xff = { NULL };
	char peer[INET6_ADDRSTRLEN] = "unknown";
	const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;

	if (sa != NULL && sa->sa_family == AF_UNIX)
		(void)om_strlcpy(peer, WEB_PEER_UNIX, sizeof(peer));
	else if (sa != NULL && sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				peer, sizeof(peer));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				peer, sizeof(peer));
	(void)MHD_get_connection_values(conn, MHD_HEADER_KIND, web_http_xff_cb, &xff);
	if (web_parse_client(peer, server->config->web_trusted_proxies, xff.last,
			     req->address, sizeof(req->address)) < 0 ||
	    web_parse_rate_key(req->address, req->client, sizeof(req->client)) < 0)
		(void)om_strlcpy(req->client, "unknown", sizeof(req->client));
}

static enum web_method web_http_method(const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
		return WEB_GET;
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return WEB_HEAD;
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return WEB_POST;
	return WEB_OTHER;
}

/* The route of url, with req->token set; NULL if none. */
static const struct web_route *web_http_route(const char *url, struct web_request *req)
{
	size_t i, len;

	for (i = 0; i < OM_N_ELEMENTS(web_routes); i++) {
		len = strlen(web_routes[i].path);
		if (web_routes[i].token && strncmp(url, web_routes[i].path, len) == 0 &&
		    url[len] != '\0' && strchr(url + len, '/') == NULL) {
			req->token = url + len;
			req->root = "../";
			return &web_routes[i];
		}
		if (!web_routes[i].token && strcmp(url, web_routes[i].path) == 0) {
			req->token = "";
			req->root = "";
			return &web_routes[i];
		}
	}
	req->root = "";
	return NULL;
}

/* 1 if the request's body is a form we read. */
static int web_http_form_type(struct MHD_Connection *conn)
{
	const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	static const char form[] = "application/x-www-form-urlencoded";

	return type != NULL && strncasecmp(type, form, sizeof(form) - 1) == 0 &&
		(type[sizeof(form) - 1] == '\0' || type[sizeof(form) - 1] == ';');
}

/* 1 if a POST may go on as far as the browser's Sec-Fetch-Site and
   Origin headers say (web_parse_post_origin); else 0, logged. */
static int web_http_same_origin(const struct web_request *req,
				struct MHD_Connection *conn)
{
	const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       "Sec-Fetch-Site");
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ORIGIN);
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	char *clean;

	if (web_parse_post_origin(site, origin, host, req->server->config->web_url))
		return 1;
	clean = om_sanitize(origin != NULL ? origin : site != NULL ? site : "", 200);
	om_log_info("client=%s form refused: sent from another site (%s)",
		    req->address, clean);
	free(clean);
	return 0;
}

/* Runs the route's handler for a complete request into resp. */
static void web_http_dispatch(struct web_request *req, const struct web_route *route,
			      struct MHD_Connection *conn, struct web_http_call *call,
			      struct web_response *resp)
{
	const char *error;
	web_handler *handler = NULL;

	if (route == NULL) {
		web_page_message(req, resp, 404, web_page_lang_browser(req),
				 WT_NOT_FOUND_TITLE, WT_NOT_FOUND_BODY, 0);
		return;
	}
	if (req->method == WEB_GET || req->method == WEB_HEAD)
		handler = route->get;
	else if (req->method == WEB_POST)
		handler = route->post;
	if (handler == NULL) {
		web_page_message(req, resp, 405, web_page_lang_browser(req),
				 WT_METHOD_TITLE, WT_BAD_REQUEST_BODY, 0);
		resp->allow = route->post != NULL ? "GET, HEAD, POST" : "GET, HEAD";
		return;
	}
	if (req->method == WEB_POST && !web_http_same_origin(req, conn)) {
		web_page_message(req, resp, 403, web_page_lang_browser(req),
				 WT_CSRF_TITLE, WT_CSRF_BODY, 0);
		return;
	}
	if (req->method == WEB_POST) {
		if (call->too_large || !web_http_form_type(conn) ||
		    web_form_parse(call->body.data != NULL ? call->body.data : "",
				   call->body.len, &req->form, &error) < 0) {
			web_page_message(req, resp, call->too_large ? 413 :
					 !web_http_form_type(conn) ? 415 : 400,
					 web_page_lang_browser(req), WT_BAD_REQUEST_TITLE,
					 WT_BAD_REQUEST_BODY, 0);
			return;
		}
	}
	handler(req, resp);
	if (resp->status == 0) {
		web_response_free(resp);
		web_page_message(req, resp, 500, web_page_lang_browser(req),
				 WT_ERROR_TITLE, WT_ERROR_BODY, 0);
	}
}

/* The admin panel's trace search fields (web-admin-trace.c checks them). */
static void web_http_trace_fields(struct MHD_Connection *conn,
				  struct web_trace_fields *f)
{
	f->sender = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sender");
	f->recipient = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "recipient");
	f->subject = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "subject");
	f->message_id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "mid");
	f->since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	f->until = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "until");
}

/* Fills the request from MHD's view of it; the client from call when
   its headers were seen already (the same request), else into call. */
static void web_http_request(struct web_server *server, struct MHD_Connection *conn,
			     const char *method, struct web_http_call *call,
			     struct web_request *req)
{
	memset(req, 0, sizeof(*req));
	req->server = server;
	req->now = time(NULL);
	req->method = web_http_method(method);
	req->accept_language = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
	req->user_agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_USER_AGENT);
	req->purpose = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Purpose");
	req->sec_purpose = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Purpose");
	req->x_purpose = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Purpose");
	req->x_moz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Moz");
	req->query_op = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "op");
	req->query_done = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "done");
	req->query_domain = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "domain");
	req->query_page = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "page");
	req->query_month = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "month");
	web_http_trace_fields(conn, &req->query_trace);
	if (call->client[0] != '\0') {
		memcpy(req->client, call->client, sizeof(req->client));
		memcpy(req->address, call->address, sizeof(req->address));
		return;
	}
	web_http_client(server, conn, req);
	memcpy(call->client, req->client, sizeof(call->client));
	memcpy(call->address, req->address, sizeof(call->address));
}

static enum MHD_Result web_http_access(void *cls, struct MHD_Connection *conn,
				       const char *url, const char *method,
				       const char *version, const char *upload_data,
				       size_t *upload_data_size, void **con_cls)
{
	struct web_server *server = cls;
	struct web_http_call *call = *con_cls;
	struct web_request req;
	struct web_response resp;
	const struct web_route *route;
	enum MHD_Result ret;

	(void)version;
	if (call == NULL) {
		/* headers read: the rate limit first, before any work */
		call = om_calloc(1, sizeof(*call));
		om_buf_init(&call->body);
		*con_cls = call;
		web_http_request(server, conn, method, call, &req);
		if (web_rate_allow(&server->rate, req.client,
				   web_http_seconds()))
			return MHD_YES;
		om_log_info("client=%s rate limit: %s %s refused", req.address,
			    method, "(429)");
		memset(&resp, 0, sizeof(resp));
		(void)web_http_route(url, &req);
		web_page_message(&req, &resp, 429, web_page_lang_browser(&req),
				 WT_RATE_TITLE, WT_RATE_BODY, 0);
		ret = web_http_send(conn, &resp);
		web_response_free(&resp);
		return ret;
	}
	if (*upload_data_size != 0) {
		if (call->body.len + *upload_data_size > WEB_MAX_BODY)
			call->too_large = 1;
		else
			om_buf_append(&call->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	web_http_request(server, conn, method, call, &req);
	memset(&resp, 0, sizeof(resp));
	route = web_http_route(url, &req);
	web_http_dispatch(&req, route, conn, call, &resp);
	if (om_log_verbose())
		om_log_debug("client=%s %s %s status=%u", req.address, method,
			     route != NULL ? route->path : "?", resp.status);
	ret = web_http_send(conn, &resp);
	web_response_free(&resp);
	web_form_free(&req.form);
	return ret;
}

static void web_http_completed(void *cls, struct MHD_Connection *conn,
			       void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct web_http_call *call = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (call == NULL)
		return;
	om_buf_free(&call->body);
	free(call);
	*con_cls = NULL;
}

static void web_http_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void web_http_log(void *cls, const char *fmt, va_list ap)
{
	char *text = om_vasprintf(fmt, ap);
	size_t len = strlen(text);

	(void)cls;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	om_log_warn("libmicrohttpd: %s", text);
	free(text);
}

/* Connections per address: none (0) behind a proxy, which is one
   address for all, or on a UNIX socket. */
static unsigned int web_http_per_ip(const struct web_server *server, int fd)
{
	union {
		struct sockaddr_storage ss;
		struct sockaddr sa;
	} addr;
	socklen_t len = sizeof(addr);

	if (getsockname(fd, &addr.sa, &len) < 0 || addr.sa.sa_family == AF_UNIX ||
	    server->config->web_trusted_proxies[0] != '\0')
		return 0;
	return WEB_HTTP_PER_IP;
}

void *web_http_start(struct web_server *server, int fd, char **error_r)
{
	struct MHD_Daemon *d;

	if (web_rate_init(&server->rate, server->config->web_rate_limit,
			  WEB_RATE_CLIENTS) < 0) {
		*error_r = om_strdup("cannot make the rate table's lock");
		return NULL;
	}
	if (web_lockout_init(&server->logins, WEB_LOCKOUT_FAILURES,
			     WEB_LOCKOUT_SECONDS, WEB_LOCKOUT_ACCOUNTS) < 0) {
		web_rate_deinit(&server->rate);
		*error_r = om_strdup("cannot make the login table's lock");
		return NULL;
	}
	d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     web_http_access, server,
			     /* first, or MHD logs the options' errors itself */
			     MHD_OPTION_EXTERNAL_LOGGER, web_http_log, server,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_THREAD_POOL_SIZE,
			     (unsigned int)server->config->web_threads,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEB_HTTP_CONNECTIONS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_HTTP_TIMEOUT,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, web_http_per_ip(server, fd),
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_HTTP_MEMORY,
			     MHD_OPTION_NOTIFY_COMPLETED, web_http_completed, server,
			     MHD_OPTION_END);
	if (d == NULL) {
		web_lockout_deinit(&server->logins);
		web_rate_deinit(&server->rate);
		*error_r = om_strdup("libmicrohttpd did not start (see the lines above)");
		return NULL;
	}
	return d;
}

void web_http_stop(struct web_server *server, void **http)
{
	if (*http == NULL)
		return;
	/* finishes the requests in flight, joins the pool, closes fd */
	MHD_stop_daemon(*http);
	*http = NULL;
	web_lockout_deinit(&server->logins);
	web_rate_deinit(&server->rate);
}
