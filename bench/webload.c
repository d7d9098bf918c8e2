/* webload.c - closed-loop HTTP/1.1 load generator for the web benchmark.
 *
 *   webload [-e STATUS[,STATUS...]] HOST:PORT CONNECTIONS SECONDS PATH...
 *
 * CONNECTIONS persistent (keep-alive) connections, each sending one GET at
 * a time, of the PATHs in turn (round-robin, each connection starting at
 * its own place), as browsers behind a proxy would.  One thread drives
 * every connection through epoll, like bench/polload, so the generator
 * costs little next to the server.  Responses are read whole (status line,
 * headers, Content-Length or chunked body); a server that closes after a
 * response (Connection: close) is connected to again, and counted.
 *
 * Every response is counted by its status.  The rate and the latencies are
 * those of the expected statuses only (-e, 200 by default): a run whose
 * pages turn into 404s or 429s shows as errors, not as speed.  Prints:
 *   requests=N seconds=S rate=R p50_ms=.. p99_ms=.. max_ms=.. errors=E
 *   reconnects=C status_200=N ...
 * and exits 1 when a response had another status or a connection failed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadstat.h"

#define WL_MAX_RESPONSE (4 * 1024 * 1024)
#define WL_MAX_EXPECT 8

struct wl_conn {
	int fd;
	size_t next;		/* index of the next path */
	double sent_at;
	char *buf;
	size_t have, cap;
	size_t header_len;	/* 0: headers not yet whole */
	long long body_len;	/* -1: chunked */
	unsigned int status;
	int close_after;
};

struct wl_run {
	const char *host;
	int port;
	char **requests;	/* one whole GET per path */
	size_t *request_lens;
	size_t npaths;
	unsigned int expect[WL_MAX_EXPECT];
	int nexpect;
	struct loadstat lat;
	long errors, reconnects, unexpected;
	long status_count[600];
};

/* Sends the connection's next GET; -1 on error.  A request is small: one
   write takes it whole on a fresh loopback connection's empty buffer. */
static int wl_send(struct wl_run *run, struct wl_conn *c)
{
	size_t i = c->next++ % run->npaths;

	c->have = 0;
	c->header_len = 0;
	c->body_len = 0;
	c->status = 0;
	c->close_after = 0;
	c->sent_at = loadstat_now();
	return write(c->fd, run->requests[i], run->request_lens[i]) ==
		(ssize_t)run->request_lens[i] ? 0 : -1;
}

/* The value of header name in the head [head, end), or NULL; *len_r its
   length. */
static const char *wl_header(const char *head, const char *end,
			     const char *name, size_t *len_r)
{
	size_t nlen = strlen(name);
	const char *line = memchr(head, '\n', (size_t)(end - head)), *eol, *v;

	while (line != NULL && line + 1 < end) {
		line++;
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			v = line + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len_r = (size_t)(eol - v);
			while (*len_r > 0 && (v[*len_r - 1] == '\r' || v[*len_r - 1] == ' '))
				(*len_r)--;
			return v;
		}
		line = eol < end ? eol : NULL;
	}
	return NULL;
}

/* Parses the status line and headers once they are whole: 0, or -1 when
   they are not HTTP/1.x. */
static int wl_parse_head(struct wl_conn *c)
{
	const char *end = c->buf + c->header_len, *v;
	size_t len;
	char num[32];

	if (c->header_len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 || c->buf[8] != ' ' ||
	    !isdigit((unsigned char)c->buf[9]) || !isdigit((unsigned char)c->buf[10]) ||
	    !isdigit((unsigned char)c->buf[11]))
		return -1;
	c->status = (unsigned int)((c->buf[9] - '0') * 100 + (c->buf[10] - '0') * 10 + (c->buf[11] - '0'));
	if (c->status < 100 || c->status >= 600)
		return -1;
	/* HTTP/1.0 answers close unless they say keep-alive */
	c->close_after = c->buf[7] == '0';
	if ((v = wl_header(c->buf, end, "Connection", &len)) != NULL) {
		if (len == 5 && strncasecmp(v, "close", 5) == 0)
			c->close_after = 1;
		else if (len == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			c->close_after = 0;
	}
	if ((v = wl_header(c->buf, end, "Transfer-Encoding", &len)) != NULL &&
	    len >= 7 && strncasecmp(v + len - 7, "chunked", 7) == 0) {
		c->body_len = -1;
		return 0;
	}
	if ((v = wl_header(c->buf, end, "Content-Length", &len)) != NULL) {
		if (len == 0 || len >= sizeof(num))
			return -1;
		memcpy(num, v, len);
		num[len] = '\0';
		c->body_len = strtoll(num, NULL, 10);
		return c->body_len < 0 ? -1 : 0;
	}
	/* 1xx, 204, 304 have no body; anything else without a length is
	   read until close, which a keep-alive benchmark does not want */
	if (c->status < 200 || c->status == 204 || c->status == 304) {
		c->body_len = 0;
		return 0;
	}
	return -1;
}

/* Whether a chunked body [p, end) is whole (its last chunk and final CRLF
   seen): 1 yes, 0 not yet, -1 malformed. */
static int wl_chunked_done(const char *p, const char *end)
{
	const char *eol;
	char *stop;
	unsigned long long size;

	for (;;) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return 0;
		size = strtoull(p, &stop, 16);
		if (stop == p)
			return -1;
		p = eol + 1;
		if (size == 0) {
			/* trailers until an empty line */
			for (;;) {
				eol = memchr(p, '\n', (size_t)(end - p));
				if (eol == NULL)
					return 0;
				if (eol == p || (eol == p + 1 && *p == '\r'))
					return eol + 1 == end ? 1 : -1;
				p = eol + 1;
			}
		}
		if ((unsigned long long)(end - p) < size + 2)
			return 0;
		p += size + 2;
	}
}

/* Reads what the server sent; 1 when the response is whole, 0 when more
   is to come, -1 on error. */
static int wl_receive(struct wl_conn *c)
{
	ssize_t got;
	const char *h;
	int done;

	if (c->cap - c->have < 16384) {
		if (c->cap >= WL_MAX_RESPONSE)
			return -1;
		c->cap = c->cap == 0 ? 65536 : c->cap * 2;
		c->buf = realloc(c->buf, c->cap);
		if (c->buf == NULL)
			abort();
	}
	got = read(c->fd, c->buf + c->have, c->cap - c->have - 1);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (got <= 0)
		return -1;
	c->have += (size_t)got;
	c->buf[c->have] = '\0';
	if (c->header_len == 0) {
		h = memmem(c->buf, c->have, "\r\n\r\n", 4);
		if (h == NULL)
			return 0;
		c->header_len = (size_t)(h + 4 - c->buf);
		if (wl_parse_head(c) < 0)
			return -1;
	}
	if (c->body_len >= 0) {
		if (c->have < c->header_len + (size_t)c->body_len)
			return 0;
		/* one request in flight: nothing may follow its response */
		return c->have == c->header_len + (size_t)c->body_len ? 1 : -1;
	}
	done = wl_chunked_done(c->buf + c->header_len, c->buf + c->have);
	return done;
}

static int wl_expected(const struct wl_run *run, unsigned int status)
{
	int i;

	for (i = 0; i < run->nexpect; i++) {
		if (run->expect[i] == status)
			return 1;
	}
	return 0;
}

/* Connects c again (after a Connection: close) and adds it to epfd. */
static int wl_reconnect(struct wl_run *run, int epfd, struct wl_conn *c)
{
	struct epoll_event ev;

	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = loadstat_connect(run->host, run->port);
	if (c->fd < 0)
		return -1;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	run->reconnects++;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Drives every connection until the deadline; the connections that fail
   count as errors and are dropped. */
static void wl_drive(struct wl_run *run, struct wl_conn *conns, int nconns,
		     double deadline)
{
	struct epoll_event ev, events[256];
	int epfd = epoll_create1(0), i, n, live = 0, ret;
	struct wl_conn *c;

	if (epfd < 0)
		abort();
	for (i = 0; i < nconns; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0 ||
		    wl_send(run, &conns[i]) < 0) {
			run->errors++;
			continue;
		}
		live++;
	}
	while (live > 0 && loadstat_now() < deadline) {
		n = epoll_wait(epfd, events, 256, 100);
		for (i = 0; i < n; i++) {
			c = events[i].data.ptr;
			ret = wl_receive(c);
			if (ret == 1) {
				run->status_count[c->status]++;
				if (wl_expected(run, c->status))
					loadstat_record(&run->lat, (loadstat_now() - c->sent_at) * 1000.0);
				else
					run->unexpected++;
				if (c->close_after && wl_reconnect(run, epfd, c) < 0)
					ret = -1;
				else
					ret = wl_send(run, c) < 0 ? -1 : 1;
			}
			if (ret < 0) {
				run->errors++;
				if (c->fd >= 0)
					(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				live--;
			}
		}
	}
	close(epfd);
}

static int wl_parse_expect(struct wl_run *run, const char *list)
{
	const char *p = list;
	char *end;
	long v;

	run->nexpect = 0;
	while (*p != '\0') {
		v = strtol(p, &end, 10);
		if (end == p || v < 100 || v > 599 || run->nexpect == WL_MAX_EXPECT)
			return -1;
		run->expect[run->nexpect++] = (unsigned int)v;
		p = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return -1;
	}
	return run->nexpect > 0 ? 0 : -1;
}

static void wl_usage(void)
{
	fprintf(stderr, "usage: webload [-e STATUS[,STATUS...]] HOST:PORT CONNECTIONS SECONDS PATH...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct wl_run run;
	struct wl_conn *conns;
	char host[64];
	const char *colon;
	double start, secs;
	int nconns, i, arg = 1, len;
	size_t p;

	run.expect[0] = 200;
	run.nexpect = 1;
	if (argc > 2 && strcmp(argv[1], "-e") == 0) {
		if (wl_parse_expect(&run, argv[2]) < 0)
			wl_usage();
		arg = 3;
	}
	if (argc - arg < 4 || (colon = strrchr(argv[arg], ':')) == NULL ||
	    (size_t)(colon - argv[arg]) >= sizeof(host))
		wl_usage();
	memcpy(host, argv[arg], (size_t)(colon - argv[arg]));
	host[colon - argv[arg]] = '\0';
	run.host = host;
	run.port = atoi(colon + 1);
	nconns = atoi(argv[arg + 1]);
	secs = atof(argv[arg + 2]);
	if (nconns < 1 || nconns > 5000 || secs <= 0 || run.port <= 0 || run.port > 65535) {
		fprintf(stderr, "webload: bad port, connection count or duration\n");
		return 2;
	}
	run.npaths = (size_t)(argc - arg - 3);
	run.requests = calloc(run.npaths, sizeof(char *));
	run.request_lens = calloc(run.npaths, sizeof(size_t));
	if (run.requests == NULL || run.request_lens == NULL)
		return 2;
	for (p = 0; p < run.npaths; p++) {
		const char *path = argv[arg + 3 + (int)p];

		if (path[0] != '/' || strpbrk(path, " \r\n") != NULL) {
			fprintf(stderr, "webload: a path starts with / and has no spaces\n");
			return 2;
		}
		len = snprintf(NULL, 0, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: omamori-webload\r\n"
			       "Accept: text/html\r\nAccept-Language: en\r\n\r\n", path, argv[arg]);
		run.requests[p] = malloc((size_t)len + 1);
		if (run.requests[p] == NULL)
			return 2;
		snprintf(run.requests[p], (size_t)len + 1,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: omamori-webload\r\n"
			 "Accept: text/html\r\nAccept-Language: en\r\n\r\n", path, argv[arg]);
		run.request_lens[p] = (size_t)len;
	}
	conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL)
		return 2;
	for (i = 0; i < nconns; i++) {
		conns[i].next = (size_t)i;
		conns[i].fd = loadstat_connect(host, run.port);
		if (conns[i].fd < 0) {
			fprintf(stderr, "webload: cannot connect to %s\n", argv[arg]);
			return 1;
		}
	}
	start = loadstat_now();
	wl_drive(&run, conns, nconns, start + secs);
	secs = loadstat_now() - start;
	loadstat_print(&run.lat, secs);
	printf(" errors=%ld reconnects=%ld", run.errors + run.unexpected,
	       run.reconnects);
	for (i = 100; i < 600; i++) {
		if (run.status_count[i] > 0)
			printf(" status_%d=%ld", i, run.status_count[i]);
	}
	printf("\n");
	return run.errors > 0 || run.unexpected > 0 ? 1 : 0;
}
