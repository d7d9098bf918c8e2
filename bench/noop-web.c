/* noop-web.c - the ceiling of this machine for the web benchmark: a
 * libmicrohttpd server run the way omamori-web runs it (web/web-http.c:
 * the same daemon flags and options, a thread pool of the same size, a
 * listening socket bound beforehand), answering every request with one fixed small
 * HTML page carrying the same response headers, without looking at the
 * path.  Not a web server.
 *
 *   noop-web PORT [THREADS]      (listens on 127.0.0.1; THREADS 4 = the
 *                                 web_threads default)
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

/* What omamori-web's web_http_start gives MHD_start_daemon (keep in step). */
#define NOOP_WEB_FLAGS (MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG)

static const char noop_page[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	"<title>omamori</title><style>body{font-family:sans-serif;margin:0}"
	"main{padding:1em;max-width:40em}</style></head><body><header>"
	"<span>omamori</span></header><main><h1>No-op</h1>"
	"<p>The same page for every request.</p></main></body></html>\n";

static struct MHD_Response *noop_response;

static MHD_RESULT noop_answer(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	(void)cls; (void)url; (void)method; (void)version; (void)upload_data;
	(void)upload_data_size;
	/* the first call only sees the headers: MHD 0.9.75 closes the
	   connection after a response queued then ("early", before the
	   request is read whole), so keep-alive needs the answer on the
	   second call, as every MHD server that keeps connections does */
	if (*con_cls == NULL) {
		*con_cls = noop_response;
		return MHD_YES;
	}
	return MHD_queue_response(conn, MHD_HTTP_OK, noop_response);
}

/* The headers omamori-web puts on every page (web-http.c, web_http_send). */
static void noop_headers(struct MHD_Response *r)
{
	static const char *const headers[][2] = {
		{ MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8" },
		{ MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, "default-src 'none'; "
		  "style-src 'self' 'unsafe-inline'; img-src 'self'; "
		  "form-action 'self'; frame-ancestors 'none'" },
		{ MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY" },
		{ "Referrer-Policy", "no-referrer" },
		{ MHD_HTTP_HEADER_CACHE_CONTROL, "no-store" },
		{ MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff" },
	};
	size_t i;

	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		if (MHD_add_response_header(r, headers[i][0], headers[i][1]) != MHD_YES)
			abort();
	}
}

int main(int argc, char **argv)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	struct MHD_Daemon *d;
	unsigned int threads = 4;
	int fd, one = 1, sig;
	sigset_t set;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: noop-web PORT [THREADS]\n");
		return 2;
	}
	if (argc == 3)
		threads = (unsigned int)atoi(argv[2]);
	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	addr.in.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &addr.sa, sizeof(addr.in)) < 0 || listen(fd, 1024) < 0) {
		perror("noop-web: listen");
		return 1;
	}
	noop_response = MHD_create_response_from_buffer(sizeof(noop_page) - 1,
							(void *)noop_page,
							MHD_RESPMEM_PERSISTENT);
	if (noop_response == NULL)
		return 1;
	noop_headers(noop_response);
	/* SIGPIPE: MHD sends with MSG_NOSIGNAL where it can; block it anyway,
	   and wait for SIGTERM/SIGINT in the main thread */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(NOOP_WEB_FLAGS, 0, NULL, NULL, noop_answer, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_THREAD_POOL_SIZE, threads,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
			     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "noop-web: MHD_start_daemon failed\n");
		return 1;
	}
	sigdelset(&set, SIGPIPE);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(noop_response);
	return 0;
}
