/* polload.c - closed-loop load generator for Postfix policy servers.
 *
 *   polload HOST:PORT CONNECTIONS SECONDS
 *
 * CONNECTIONS persistent TCP connections, each sending realistic RCPT
 * requests one at a time (varied senders, recipients, client addresses and
 * SASL users; about 1% from block-listed senders bad<N>@blocked.example), as
 * Postfix's smtpd does.  One thread drives every connection through epoll,
 * so the generator costs little next to the server it measures (a thread
 * per connection spent more CPU switching threads than the fastest servers
 * spend answering).  Prints:
 *   requests=N seconds=S rate=R p50_ms=.. p99_ms=.. max_ms=.. errors=E
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadstat.h"

struct pol_conn {
	int fd;
	unsigned int id;
	unsigned long n;	/* requests sent on it */
	double sent_at;
	char answer[512];
	size_t have;
};

struct pol_run {
	struct loadstat lat;
	long errors;
};

static int pol_request(char *buf, size_t size, unsigned int id, unsigned long n)
{
	unsigned long r = n * 2654435761u + id * 40503u;
	int blocked = r % 100 == 0, authed = r % 5 == 0;

	return snprintf(buf, size,
		"request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
		"helo_name=mail%lu.example.net\nqueue_id=\nsender=%s%lu@%s\n"
		"recipient=user%lu@example.test\nrecipient_count=0\n"
		"client_address=10.%lu.%lu.%lu\nclient_name=host%lu.example.net\n"
		"reverse_client_name=host%lu.example.net\ninstance=%x.%lx.0\n"
		"sasl_method=%s\nsasl_username=%s%s\nsasl_sender=\nsize=%lu\n"
		"ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		"encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n"
		"encryption_keysize=256\netrn_domain=\nstress=\n\n",
		r % 1000, blocked ? "bad" : "sender", r % 5000,
		blocked ? "blocked.example" : "remote.example", r % 20000,
		(r >> 8) % 256, (r >> 16) % 256, r % 256, r % 997, r % 997, id, n,
		authed ? "PLAIN" : "", authed ? "submitter" : "",
		authed ? (r % 10 == 0 ? "7@example.test" : "3@example.test") : "",
		1000 + r % 50000);
}

/* Sends the connection's next request; -1 on error. */
static int pol_send(struct pol_conn *c)
{
	char req[2048];
	int len = pol_request(req, sizeof(req), c->id, c->n++);

	c->have = 0;
	c->sent_at = loadstat_now();
	return write(c->fd, req, (size_t)len) == len ? 0 : -1;
}

/* Reads what the server answered; 1 when the answer is whole, 0 when more
   is to come, -1 on error. */
static int pol_receive(struct pol_conn *c)
{
	ssize_t got = read(c->fd, c->answer + c->have, sizeof(c->answer) - 1 - c->have);

	if (got < 0 && errno == EAGAIN)
		return 0;
	if (got <= 0)
		return -1;
	c->have += (size_t)got;
	if (c->have < 4 || memcmp(c->answer + c->have - 2, "\n\n", 2) != 0)
		return c->have < sizeof(c->answer) - 1 ? 0 : -1;
	return strncmp(c->answer, "action=", 7) == 0 ? 1 : -1;
}

/* Drives every connection until the deadline; the connections that fail
   count as errors and are dropped. */
static void pol_drive(struct pol_conn *conns, int nconns, double deadline,
		      struct pol_run *run)
{
	struct epoll_event ev, events[256];
	int epfd = epoll_create1(0), i, n, live = 0, ret;
	struct pol_conn *c;

	if (epfd < 0)
		abort();
	for (i = 0; i < nconns; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0 ||
		    pol_send(&conns[i]) < 0) {
			run->errors++;
			continue;
		}
		live++;
	}
	while (live > 0 && loadstat_now() < deadline) {
		n = epoll_wait(epfd, events, 256, 100);
		for (i = 0; i < n; i++) {
			c = events[i].data.ptr;
			ret = pol_receive(c);
			if (ret == 1) {
				loadstat_record(&run->lat, (loadstat_now() - c->sent_at) * 1000.0);
				ret = pol_send(c) < 0 ? -1 : 1;
			}
			if (ret < 0) {
				run->errors++;
				(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				live--;
			}
		}
	}
	close(epfd);
}

int main(int argc, char **argv)
{
	struct pol_conn *conns;
	struct pol_run run = { { NULL, 0, 0 }, 0 };
	char host[64];
	const char *colon;
	double start, secs;
	int nconns, i;

	if (argc != 4 || (colon = strrchr(argv[1], ':')) == NULL ||
	    (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, "usage: polload HOST:PORT CONNECTIONS SECONDS\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	nconns = atoi(argv[2]);
	secs = atof(argv[3]);
	if (nconns < 1 || nconns > 5000 || secs <= 0) {
		fprintf(stderr, "polload: bad connection count or duration\n");
		return 2;
	}
	conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL)
		return 2;
	for (i = 0; i < nconns; i++) {
		conns[i].id = (unsigned int)i;
		conns[i].fd = loadstat_connect(host, atoi(colon + 1));
		if (conns[i].fd < 0) {
			fprintf(stderr, "polload: cannot connect to %s\n", argv[1]);
			return 1;
		}
	}
	start = loadstat_now();
	pol_drive(conns, nconns, start + secs, &run);
	secs = loadstat_now() - start;
	loadstat_print(&run.lat, secs);
	printf(" errors=%ld\n", run.errors);
	return run.errors > 0 ? 1 : 0;
}
