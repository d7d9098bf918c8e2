/* noop-policy.c - the ceiling of this machine for the policy benchmark: an
 * epoll responder that answers "action=DUNNO" to every request without
 * parsing it (it only counts empty lines).  Not a policy server.
 *
 *   noop-policy PORT      (listens on 127.0.0.1)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct noop_conn {
	int fd;
	char last;	/* last byte of the previous read */
};

static void noop_serve(int epfd, struct noop_conn *c)
{
	static const char answer[] = "action=DUNNO\n\n";
	char buf[65536];
	ssize_t n, i;
	int answers = 0;

	n = read(c->fd, buf, sizeof(buf));
	if (n <= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		free(c);
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' && (i > 0 ? buf[i - 1] : c->last) == '\n')
			answers++;
	}
	c->last = buf[n - 1];
	while (answers-- > 0) {
		if (write(c->fd, answer, sizeof(answer) - 1) < 0)
			break;
	}
}

int main(int argc, char **argv)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	struct epoll_event ev, events[256];
	struct noop_conn *c;
	int lfd, epfd, one = 1, n, i, fd;

	if (argc != 2)
		return 2;
	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	addr.in.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, &addr.sa, sizeof(addr.in)) < 0 || listen(lfd, 1024) < 0) {
		perror("noop-policy: listen");
		return 1;
	}
	epfd = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(epfd, events, 256, -1);
		for (i = 0; i < n; i++) {
			if (events[i].data.ptr != NULL) {
				noop_serve(epfd, events[i].data.ptr);
				continue;
			}
			fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				continue;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			c = calloc(1, sizeof(*c));
			if (c == NULL) {
				close(fd);
				continue;
			}
			c->fd = fd;
			ev.data.ptr = c;
			epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
		}
	}
}
