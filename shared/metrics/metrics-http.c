/* metrics-http.c - a daemon's /metrics endpoint over libmicrohttpd.
 *
 * The socket is made here (so that a value that is not loopback is refused
 * before anything listens, and a daemon can bind before it drops its
 * privileges) and handed to libmicrohttpd, whose one internal thread
 * answers scrapes: the mail path never runs on it.  Only GET (and HEAD) of
 * /metrics answers; a scrape carries no data of a mailbox (no label holds
 * an address), so it needs no authentication beyond loopback.
 */
#include "metrics/metrics-http.h"
#include "metrics/metrics.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OM_METRICS_BACKLOG 16
#define OM_METRICS_CONNECTIONS 16
#define OM_METRICS_TIMEOUT 10	/* seconds */
#define OM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct om_metrics_server {
	struct om_metrics *metrics;
	struct MHD_Daemon *daemon;
};

union metrics_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* "IPV4:PORT" or "[IPV6]:PORT" into addr; 0 or -1. */
static int metrics_parse(const char *spec, union metrics_addr *addr,
			 socklen_t *len_r)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	unsigned long port;
	size_t hlen;

	if (colon == NULL || om_parse_ulong(colon + 1, 1, 65535, &port) < 0)
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		if (hlen - 2 >= sizeof(host))
			return -1;
		memcpy(host, spec + 1, hlen - 2);
		host[hlen - 2] = '\0';
		memset(addr, 0, sizeof(*addr));
		addr->in6.sin6_family = AF_INET6;
		addr->in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &addr->in6.sin6_addr) != 1)
			return -1;
		*len_r = sizeof(addr->in6);
		return 0;
	}
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(addr, 0, sizeof(*addr));
	addr->in4.sin_family = AF_INET;
	addr->in4.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr->in4.sin_addr) != 1)
		return -1;
	*len_r = sizeof(addr->in4);
	return 0;
}

static int metrics_loopback(const union metrics_addr *addr)
{
	if (addr->sa.sa_family == AF_INET)
		return (ntohl(addr->in4.sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&addr->in6.sin6_addr);
}

int om_metrics_listen(const char *spec, int allow_remote, int *fd_r,
		      char **error_r)
{
	union metrics_addr addr;
	socklen_t len;
	int fd, one = 1;

	*fd_r = -1;
	if (spec[0] == '\0' || strcmp(spec, "off") == 0)
		return 0;
	if (metrics_parse(spec, &addr, &len) < 0) {
		*error_r = om_asprintf("metrics listen %s: not IPV4:PORT or [IPV6]:PORT",
				       spec);
		return -1;
	}
	if (!allow_remote && !metrics_loopback(&addr)) {
		*error_r = om_asprintf("metrics listen %s: not a loopback address "
				       "(metrics_allow_remote = yes to allow it)", spec);
		return -1;
	}
	fd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = om_asprintf("metrics listen %s: socket: %s", spec,
				       strerror(errno));
		return -2;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &addr.sa, len) < 0 || listen(fd, OM_METRICS_BACKLOG) < 0) {
		*error_r = om_asprintf("metrics listen %s: %s", spec, strerror(errno));
		close(fd);
		return -2;
	}
	*fd_r = fd;
	return 0;
}

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *conn,
				      const char *url, const char *method,
				      const char *version __attribute__((unused)),
				      const char *upload_data __attribute__((unused)),
				      size_t *upload_size __attribute__((unused)),
				      void **con_cls __attribute__((unused)))
{
	struct om_metrics_server *server = cls;
	struct MHD_Response *resp;
	struct om_buf out;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;
	char *data;
	size_t len;

	om_buf_init(&out);
	if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		om_buf_append_str(&out, "not found\n");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		om_buf_append_str(&out, "only GET\n");
	} else {
		om_metrics_render(server->metrics, &out);
	}
	data = om_buf_steal(&out, &len);
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    status == MHD_HTTP_OK ? OM_METRICS_CONTENT_TYPE :
				    "text/plain; charset=utf-8") == MHD_NO ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_NO)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void metrics_log(void *cls __attribute__((unused)), const char *fmt, va_list ap)
{
	char *text = om_vasprintf(fmt, ap);

	om_log_warn("metrics: %s", text);
	free(text);
}

int om_metrics_serve(struct om_metrics *m, int fd,
		     struct om_metrics_server **server_r, char **error_r)
{
	struct om_metrics_server *server = om_calloc(1, sizeof(*server));

	server->metrics = m;
	server->daemon = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
					  MHD_USE_ERROR_LOG, 0, NULL, NULL,
					  metrics_answer, server,
					  MHD_OPTION_EXTERNAL_LOGGER, metrics_log, server,
					  MHD_OPTION_LISTEN_SOCKET, fd,
					  MHD_OPTION_CONNECTION_LIMIT,
					  (unsigned int)OM_METRICS_CONNECTIONS,
					  MHD_OPTION_CONNECTION_TIMEOUT,
					  (unsigned int)OM_METRICS_TIMEOUT,
					  MHD_OPTION_END);
	if (server->daemon == NULL) {
		close(fd);
		free(server);
		*error_r = om_strdup("metrics: libmicrohttpd did not start");
		return -1;
	}
	*server_r = server;
	return 0;
}

void om_metrics_server_stop(struct om_metrics_server **server)
{
	if (*server == NULL)
		return;
	/* MHD_stop_daemon closes the listening socket it was given */
	MHD_stop_daemon((*server)->daemon);
	om_free(server);
}

int om_metrics_start(struct om_metrics *m, const char *what,
		     const char *spec, int allow_remote,
		     struct om_metrics_server **server_r, char **error_r)
{
	int fd, ret;

	*server_r = NULL;
	ret = om_metrics_listen(spec, allow_remote, &fd, error_r);
	if (ret == -1)
		return -1;
	if (ret == -2) {
		om_log_error("%s: %s: running without metrics", what, *error_r);
		om_free(error_r);
		return 0;
	}
	if (fd < 0)
		return 0;
	if (om_metrics_serve(m, fd, server_r, error_r) < 0) {
		om_log_error("%s: %s: running without metrics", what, *error_r);
		om_free(error_r);
	}
	return 0;
}
