/* polload.c - closed-loop load generator for Postfix policy servers.
 *
 *   polload HOST:PORT CONNECTIONS SECONDS
 *
 * CONNECTIONS threads each keep one persistent TCP connection and send
 * realistic RCPT requests one at a time (varied senders, recipients, client
 * addresses and SASL users; about 1% from block-listed senders
 * bad<N>@blocked.example), as Postfix's smtpd does.  Prints:
 *   requests=N seconds=S rate=R p50_ms=.. p99_ms=.. max_ms=.. errors=E
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct pol_thread {
	pthread_t thread;
	const char *host;
	int port;
	unsigned int id;
	double deadline;
	double *lat;
	size_t count, cap;
	long errors;
};

static double pol_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pol_connect(const char *host, int port)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	addr.in.sin_port = htons((uint16_t)port);
	if (fd < 0 || inet_pton(AF_INET, host, &addr.in.sin_addr) != 1 ||
	    connect(fd, &addr.sa, sizeof(addr.in)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

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

static void pol_record(struct pol_thread *t, double ms)
{
	if (t->count == t->cap) {
		t->cap = t->cap == 0 ? 65536 : t->cap * 2;
		t->lat = realloc(t->lat, t->cap * sizeof(double));
		if (t->lat == NULL)
			abort();
	}
	t->lat[t->count++] = ms;
}

static void *pol_main(void *arg)
{
	struct pol_thread *t = arg;
	char req[2048], answer[512];
	unsigned long n = 0;
	double a;
	int fd = pol_connect(t->host, t->port), len;
	ssize_t got;
	size_t have;

	if (fd < 0) {
		t->errors++;
		return NULL;
	}
	while (pol_now() < t->deadline) {
		len = pol_request(req, sizeof(req), t->id, n++);
		a = pol_now();
		if (write(fd, req, (size_t)len) != len) {
			t->errors++;
			break;
		}
		have = 0;
		while (have < 4 || memcmp(answer + have - 2, "\n\n", 2) != 0) {
			got = read(fd, answer + have, sizeof(answer) - 1 - have);
			if (got <= 0)
				break;
			have += (size_t)got;
		}
		if (have < 4 || strncmp(answer, "action=", 7) != 0) {
			t->errors++;
			break;
		}
		pol_record(t, (pol_now() - a) * 1000.0);
	}
	close(fd);
	return NULL;
}

static int pol_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct pol_thread *threads;
	char host[64];
	const char *colon;
	double start, secs, *all;
	size_t total = 0, k = 0;
	long errors = 0;
	int conns, i;

	if (argc != 4 || (colon = strrchr(argv[1], ':')) == NULL ||
	    (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, "usage: polload HOST:PORT CONNECTIONS SECONDS\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	conns = atoi(argv[2]);
	secs = atof(argv[3]);
	if (conns < 1 || conns > 5000 || secs <= 0) {
		fprintf(stderr, "polload: bad connection count or duration\n");
		return 2;
	}
	threads = calloc((size_t)conns, sizeof(*threads));
	if (threads == NULL)
		return 2;
	start = pol_now();
	for (i = 0; i < conns; i++) {
		threads[i].host = host;
		threads[i].port = atoi(colon + 1);
		threads[i].id = (unsigned int)i;
		threads[i].deadline = start + secs;
		if (pthread_create(&threads[i].thread, NULL, pol_main, &threads[i]) != 0)
			return 2;
	}
	for (i = 0; i < conns; i++) {
		pthread_join(threads[i].thread, NULL);
		total += threads[i].count;
		errors += threads[i].errors;
	}
	secs = pol_now() - start;
	all = calloc(total + 1, sizeof(double));
	for (i = 0; i < conns; i++) {
		memcpy(all + k, threads[i].lat, threads[i].count * sizeof(double));
		k += threads[i].count;
	}
	qsort(all, total, sizeof(double), pol_cmp);
	printf("requests=%zu seconds=%.2f rate=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%ld\n",
	       total, secs, (double)total / secs, total ? all[total / 2] : 0,
	       total ? all[(size_t)((double)total * 0.99)] : 0, total ? all[total - 1] : 0,
	       errors);
	return errors > 0 ? 1 : 0;
}
