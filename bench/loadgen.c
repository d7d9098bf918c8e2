/* loadgen.c - closed-loop load generator for the scan benchmarks.
 *
 *   loadgen scand  SOCKET CLIENTS SECONDS FILE...   omamori-scand protocol
 *   loadgen scand-spam SOCKET CLIENTS SECONDS FILE... the same, virus and spam checks
 *   loadgen clamd  SOCKET CLIENTS SECONDS FILE...   clamd zINSTREAM
 *   loadgen rspamd HOST:PORT CLIENTS SECONDS FILE... rspamd HTTP /checkv2
 *   loadgen lmtp   HOST:PORT RCPT CLIENTS COUNT FILE...   LMTP deliveries
 *
 * CLIENTS threads each keep one connection (scand, lmtp) or reconnect per
 * request as clamd requires, send the files round-robin from a different
 * start, and record each request's latency.  Prints one line:
 *   requests=N seconds=S rate=R p50_ms=.. p99_ms=.. max_ms=.. errors=E
 * With LOADGEN_MARK set (scand only), also marked=M: the answers whose
 * result holds that text (a header scand adds), so a run shows that it
 * ran with the settings it is named for.
 * The same program drives every side, so the figures are comparable.
 */
#include "proto/proto.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum load_kind { LOAD_SCAND, LOAD_SCAND_SPAM, LOAD_CLAMD, LOAD_RSPAMD, LOAD_LMTP };

struct load_file {
	char *data;
	size_t len;
};

struct load_run {
	enum load_kind kind;
	const char *target;
	const char *rcpt;
	struct load_file *files;
	size_t file_count;
	uint64_t deadline_ms;	/* time-bounded runs */
	long count_each;	/* count-bounded runs (lmtp), 0 = by time */
	const char *mark;	/* LOADGEN_MARK, or NULL */
	long marked;		/* answers holding it (atomic) */
};

struct load_thread {
	struct load_run *run;
	pthread_t thread;
	unsigned int id;
	double *lat;
	size_t lat_count, lat_cap;
	long errors;
};

static int connect_unix(const char *path)
{
	union { struct sockaddr sa; struct sockaddr_un un; } addr;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (fd < 0 || om_strlcpy(addr.un.sun_path, path, sizeof(addr.un.sun_path)) < 0 ||
	    connect(fd, &addr.sa, sizeof(addr.un)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int connect_tcp(const char *hostport)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	char host[64];
	const char *colon = strrchr(hostport, ':');
	int fd;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	addr.in.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.in.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, &addr.sa, sizeof(addr.in)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
	char *error = NULL;
	int ret = om_proto_write_all(fd, data, len, 60000, &error);

	free(error);
	return ret;
}

/* Reads until the buffer ends with one of the terminators; 0 or -1. */
static int read_until(int fd, char *buf, size_t size, const char *term)
{
	size_t got = 0;
	ssize_t n;

	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, term) != NULL)
			return 0;
	}
	return -1;
}

static int one_scand(int *fd, struct load_run *run, const struct load_file *f)
{
	struct om_scan_request req;
	struct om_buf frame;
	uint16_t type;
	char *body = NULL, *error = NULL;
	size_t len;
	int ret;

	if (*fd < 0 && (*fd = connect_unix(run->target)) < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.mailbox = (char *)"alice@example.test";
	req.direction = OM_DIRECTION_IN;
	req.mail_from = (char *)"";
	req.checks = run->kind == LOAD_SCAND_SPAM ? OM_CHECK_VIRUS | OM_CHECK_SPAM :
		OM_CHECK_VIRUS;
	req.message = f->data;
	req.message_len = f->len;
	om_buf_init(&frame);
	om_proto_encode_request(&req, &frame);
	ret = write_all(*fd, frame.data, frame.len);
	om_buf_free(&frame);
	if (ret == 0)
		ret = om_proto_read_frame(*fd, 60000, (size_t)1 << 30, &type, &body,
					  &len, &error) == 1 &&
			type == OM_MSG_SCAN_RESULT ? 0 : -1;
	if (ret == 0 && run->mark != NULL &&
	    memmem(body, len, run->mark, strlen(run->mark)) != NULL)
		__atomic_add_fetch(&run->marked, 1, __ATOMIC_RELAXED);
	free(body);
	free(error);
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static int one_clamd(struct load_run *run, const struct load_file *f)
{
	unsigned char hdr[4];
	uint32_t n = htonl((uint32_t)f->len), zero = 0;
	char answer[512];
	int fd = connect_unix(run->target), ret;

	(void)hdr;
	if (fd < 0)
		return -1;
	ret = write_all(fd, "zINSTREAM", 10) == 0 && write_all(fd, &n, 4) == 0 &&
		write_all(fd, f->data, f->len) == 0 && write_all(fd, &zero, 4) == 0 &&
		read_until(fd, answer, sizeof(answer), "\0") == 0 ? 0 : -1;
	if (ret == 0 && strstr(answer, "OK") == NULL && strstr(answer, "FOUND") == NULL)
		ret = -1;
	close(fd);
	return ret;
}

/* Reads one HTTP response (headers, then Content-Length bytes); 0 if it
   is a 200 with a body, -1 otherwise.  *close_r: the server closes. */
static int http_response(int fd, int *close_r)
{
	char head[8192], *end, *cl, body[65536];
	size_t got = 0, have, want;
	ssize_t n;

	for (;;) {
		if (got >= sizeof(head) - 1)
			return -1;
		n = read(fd, head + got, sizeof(head) - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		head[got] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL)
			break;
	}
	cl = strcasestr(head, "\r\nContent-Length:");
	*close_r = strcasestr(head, "\r\nConnection: close") != NULL;
	if (strncmp(head, "HTTP/1.", 7) != 0 || strncmp(head + 8, " 200", 4) != 0 || cl == NULL)
		return -1;
	want = (size_t)strtoul(cl + 17, NULL, 10);
	have = got - (size_t)(end + 4 - head);
	while (have < want) {
		n = read(fd, body, sizeof(body) < want - have ? sizeof(body) : want - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return 0;
}

static int one_rspamd(int *fd, struct load_run *run, const struct load_file *f)
{
	char head[256];
	int closing = 0, ret;

	if (*fd < 0 && (*fd = connect_tcp(run->target)) < 0)
		return -1;
	snprintf(head, sizeof(head), "POST /checkv2 HTTP/1.1\r\nHost: localhost\r\n"
		 "Connection: keep-alive\r\nContent-Length: %zu\r\n\r\n", f->len);
	ret = write_all(*fd, head, strlen(head)) == 0 && write_all(*fd, f->data, f->len) == 0 &&
		http_response(*fd, &closing) == 0 ? 0 : -1;
	if (ret < 0 || closing) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static int lmtp_cmd(int fd, const char *cmd, const char *want)
{
	char buf[4096];

	if (cmd != NULL && write_all(fd, cmd, strlen(cmd)) < 0)
		return -1;
	if (read_until(fd, buf, sizeof(buf), "\r\n") < 0)
		return -1;
	return strncmp(buf, want, strlen(want)) == 0 ? 0 : -1;
}

/* The message dot-stuffed with CRLF line ends. */
static char *lmtp_data(const struct load_file *f, size_t *len_r)
{
	struct om_buf b;
	size_t i;
	int bol = 1;

	om_buf_init(&b);
	for (i = 0; i < f->len; i++) {
		if (bol && f->data[i] == '.')
			om_buf_append(&b, ".", 1);
		if (f->data[i] == '\n') {
			om_buf_append(&b, "\r\n", 2);
			bol = 1;
			continue;
		}
		if (f->data[i] != '\r')
			om_buf_append(&b, &f->data[i], 1);
		bol = 0;
	}
	if (!bol)
		om_buf_append(&b, "\r\n", 2);
	om_buf_append(&b, ".\r\n", 3);
	return om_buf_steal(&b, len_r);
}

static int one_lmtp(int *fd, struct load_run *run, const struct load_file *f)
{
	char rcpt[300];
	int ret;

	if (*fd < 0) {
		if ((*fd = connect_tcp(run->target)) < 0 || lmtp_cmd(*fd, NULL, "220") < 0 ||
		    write_all(*fd, "LHLO bench\r\n", 12) < 0)
			return -1;
		{
			char buf[4096];
			if (read_until(*fd, buf, sizeof(buf), "250 ") < 0)
				return -1;
		}
	}
	snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s>\r\n", run->rcpt);
	ret = lmtp_cmd(*fd, "MAIL FROM:<bench@remote.test>\r\n", "250") == 0 &&
		lmtp_cmd(*fd, rcpt, "250") == 0 && lmtp_cmd(*fd, "DATA\r\n", "354") == 0 &&
		write_all(*fd, f->data, f->len) == 0 && lmtp_cmd(*fd, NULL, "250") == 0 ? 0 : -1;
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

static void record(struct load_thread *t, double ms)
{
	if (t->lat_count == t->lat_cap) {
		t->lat_cap = t->lat_cap == 0 ? 4096 : t->lat_cap * 2;
		t->lat = om_realloc(t->lat, t->lat_cap * sizeof(double));
	}
	t->lat[t->lat_count++] = ms;
}

static void *load_main(void *arg)
{
	struct load_thread *t = arg;
	struct load_run *run = t->run;
	size_t i = (t->id * 7919u) % run->file_count;
	struct timespec a, b;
	long done = 0;
	int fd = -1, ret;

	for (;;) {
		if (run->count_each > 0 ? done >= run->count_each :
		    om_now_ms() >= run->deadline_ms)
			break;
		clock_gettime(CLOCK_MONOTONIC, &a);
		switch (run->kind) {
		case LOAD_SCAND:
		case LOAD_SCAND_SPAM: ret = one_scand(&fd, run, &run->files[i]); break;
		case LOAD_CLAMD: ret = one_clamd(run, &run->files[i]); break;
		case LOAD_RSPAMD: ret = one_rspamd(&fd, run, &run->files[i]); break;
		default: ret = one_lmtp(&fd, run, &run->files[i]); break;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (ret < 0)
			t->errors++;
		else
			record(t, (double)(b.tv_sec - a.tv_sec) * 1e3 +
			       (double)(b.tv_nsec - a.tv_nsec) / 1e6);
		done++;
		i = (i + 1) % run->file_count;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void load_files(struct load_run *run, int argc, char **argv, int lmtp)
{
	char *data, *error = NULL;
	size_t len;
	int i;

	run->files = om_calloc((size_t)argc, sizeof(*run->files));
	for (i = 0; i < argc; i++) {
		if (om_read_file(argv[i], 64u << 20, &data, &len, &error) < 0) {
			fprintf(stderr, "loadgen: %s\n", error);
			exit(2);
		}
		if (lmtp) {
			struct load_file raw = { data, len };
			run->files[run->file_count].data = lmtp_data(&raw, &run->files[run->file_count].len);
			free(data);
		} else {
			run->files[run->file_count].data = data;
			run->files[run->file_count].len = len;
		}
		run->file_count++;
	}
}

int main(int argc, char **argv)
{
	struct load_run run;
	struct load_thread *threads;
	uint64_t start, end;
	size_t total = 0, k = 0, i;
	long errors = 0, clients;
	double *all;
	int first;

	memset(&run, 0, sizeof(run));
	if (argc >= 6 && strcmp(argv[1], "lmtp") == 0) {
		run.kind = LOAD_LMTP;
		run.target = argv[2];
		run.rcpt = argv[3];
		clients = atol(argv[4]);
		run.count_each = atol(argv[5]) / (clients > 0 ? clients : 1);
		first = 6;
	} else if (argc >= 6 && (strcmp(argv[1], "scand") == 0 || strcmp(argv[1], "clamd") == 0 ||
				 strcmp(argv[1], "scand-spam") == 0 ||
				 strcmp(argv[1], "rspamd") == 0)) {
		run.kind = strcmp(argv[1], "scand") == 0 ? LOAD_SCAND :
			strcmp(argv[1], "scand-spam") == 0 ? LOAD_SCAND_SPAM :
			strcmp(argv[1], "rspamd") == 0 ? LOAD_RSPAMD : LOAD_CLAMD;
		run.target = argv[2];
		clients = atol(argv[3]);
		first = 5;
	} else {
		fprintf(stderr, "usage: loadgen scand|scand-spam|clamd SOCKET CLIENTS SECONDS FILE...\n"
			"       loadgen rspamd HOST:PORT CLIENTS SECONDS FILE...\n"
			"       loadgen lmtp HOST:PORT RCPT CLIENTS COUNT FILE...\n");
		return 2;
	}
	if (clients < 1 || clients > 1000 || argc <= first) {
		fprintf(stderr, "loadgen: bad client count or no files\n");
		return 2;
	}
	run.mark = run.kind == LOAD_SCAND || run.kind == LOAD_SCAND_SPAM ?
		getenv("LOADGEN_MARK") : NULL;
	load_files(&run, argc - first, argv + first, run.kind == LOAD_LMTP);
	threads = om_calloc((size_t)clients, sizeof(*threads));
	start = om_now_ms();
	if (run.kind != LOAD_LMTP)
		run.deadline_ms = start + (uint64_t)atol(argv[4]) * 1000;
	for (i = 0; i < (size_t)clients; i++) {
		threads[i].run = &run;
		threads[i].id = (unsigned int)i;
		pthread_create(&threads[i].thread, NULL, load_main, &threads[i]);
	}
	for (i = 0; i < (size_t)clients; i++) {
		pthread_join(threads[i].thread, NULL);
		total += threads[i].lat_count;
		errors += threads[i].errors;
	}
	end = om_now_ms();
	all = om_calloc(total + 1, sizeof(double));
	for (i = 0; i < (size_t)clients; i++) {
		memcpy(all + k, threads[i].lat, threads[i].lat_count * sizeof(double));
		k += threads[i].lat_count;
	}
	qsort(all, total, sizeof(double), cmp_double);
	printf("requests=%zu seconds=%.2f rate=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%ld",
	       total, (double)(end - start) / 1000.0,
	       (double)total * 1000.0 / (double)(end - start > 0 ? end - start : 1),
	       total ? all[total / 2] : 0.0, total ? all[(size_t)((double)total * 0.99)] : 0.0,
	       total ? all[total - 1] : 0.0, errors);
	if (run.mark != NULL)
		printf(" marked=%ld", run.marked);
	printf("\n");
	return errors > 0 ? 1 : 0;
}
