/* loadstat.c - the clock, the connection and the latency summary of the
 * load generators (loadstat.h).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadstat.h"

double loadstat_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int loadstat_connect(const char *host, int port)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, flags;

	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	addr.in.sin_port = htons((uint16_t)port);
	if (fd < 0 || inet_pton(AF_INET, host, &addr.in.sin_addr) != 1 ||
	    connect(fd, &addr.sa, sizeof(addr.in)) < 0 ||
	    (flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

void loadstat_record(struct loadstat *stat, double ms)
{
	if (stat->count == stat->cap) {
		stat->cap = stat->cap == 0 ? 1 << 20 : stat->cap * 2;
		stat->ms = realloc(stat->ms, stat->cap * sizeof(double));
		if (stat->ms == NULL)
			abort();
	}
	stat->ms[stat->count++] = ms;
}

static int loadstat_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void loadstat_print(struct loadstat *stat, double seconds)
{
	size_t n = stat->count;

	if (n > 0)
		qsort(stat->ms, n, sizeof(double), loadstat_cmp);
	printf("requests=%zu seconds=%.2f rate=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f",
	       n, seconds, (double)n / seconds, n ? stat->ms[n / 2] : 0,
	       n ? stat->ms[(size_t)((double)n * 0.99)] : 0, n ? stat->ms[n - 1] : 0);
}
