/* selftest-smtp.c - omamorictl selftest's SMTP client and its look into
 * Postfix's queue (see selftest-smtp.h).
 *
 * The self-test must go the way mail from the Internet goes, so it speaks
 * SMTP to Postfix's smtpd rather than handing the mail to sendmail(1)
 * (pickup skips smtpd's restrictions and omamori-policyd).  One message per
 * connection, no pipelining: four messages do not need speed, and a reply
 * read after each command tells exactly which step refused.  Every read and
 * write has a deadline and a line limit.
 */
#include "selftest-smtp.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CTL_SMTP_LINE_MAX 2048
#define CTL_SMTP_REPLY_MAX 400		/* bytes of a reply kept for the report */
#define CTL_POSTQUEUE_PATH "/usr/sbin/postqueue"
#define CTL_POSTQUEUE_LINE_MAX (4 * 1024 * 1024)

extern char **environ;

struct ctl_smtp {
	int fd;
	int timeout_ms;
	struct om_buf in;	/* read, not yet consumed */
	const char *address;
	char *error;
};

void ctl_smtp_result_free(struct ctl_smtp_result *res)
{
	om_free(&res->reply);
	om_free(&res->queue_id);
}

static int ctl_smtp_fail(struct ctl_smtp *c, const char *fmt, ...) OM_ATTR_FORMAT(2, 3);
static int ctl_smtp_fail(struct ctl_smtp *c, const char *fmt, ...)
{
	va_list ap;
	char *what;

	if (c->error == NULL) {
		va_start(ap, fmt);
		what = om_vasprintf(fmt, ap);
		va_end(ap);
		c->error = om_asprintf("SMTP server %s: %s", c->address, what);
		free(what);
	}
	return -1;
}

/* Waits until fd is ready for events; 0, or -1 (timed out, said). */
static int ctl_smtp_wait(struct ctl_smtp *c, short events)
{
	struct pollfd pfd = { c->fd, events, 0 };
	int ret;

	do {
		ret = poll(&pfd, 1, c->timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return ctl_smtp_fail(c, "poll: %s", strerror(errno));
	if (ret == 0)
		return ctl_smtp_fail(c, "no answer within %d s", c->timeout_ms / 1000);
	return 0;
}

union ctl_smtp_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* "ADDRESS:PORT" or "[V6]:PORT" (checked by config.c) into a. */
static int ctl_smtp_sockaddr(const char *address, union ctl_smtp_addr *a,
			     socklen_t *len_r)
{
	const char *colon = strrchr(address, ':');
	char host[64];
	size_t hlen;
	long port;

	if (colon == NULL || om_parse_long(colon + 1, 1, 65535, &port) < 0)
		return -1;
	hlen = (size_t)(colon - address);
	if (hlen >= 2 && address[0] == '[' && address[hlen - 1] == ']') {
		address++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, address, hlen);
	host[hlen] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons((unsigned short)port);
		*len_r = sizeof(a->in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((unsigned short)port);
		*len_r = sizeof(a->in6);
		return 0;
	}
	return -1;
}

static int ctl_smtp_connect(struct ctl_smtp *c)
{
	union ctl_smtp_addr a;
	socklen_t len, elen = sizeof(int);
	int err = 0;

	if (ctl_smtp_sockaddr(c->address, &a, &len) < 0)
		return ctl_smtp_fail(c, "not ADDRESS:PORT");
	c->fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return ctl_smtp_fail(c, "socket: %s", strerror(errno));
	if (connect(c->fd, &a.sa, len) < 0) {
		if (errno != EINPROGRESS)
			return ctl_smtp_fail(c, "cannot connect: %s", strerror(errno));
		if (ctl_smtp_wait(c, POLLOUT) < 0)
			return -1;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0)
			return ctl_smtp_fail(c, "cannot connect: %s", strerror(err));
	}
	return 0;
}

static int ctl_smtp_write(struct ctl_smtp *c, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (ctl_smtp_wait(c, POLLOUT) < 0)
				return -1;
		} else {
			return ctl_smtp_fail(c, "write: %s", strerror(errno));
		}
	}
	return 0;
}

/* One reply line (without CRLF) into line; 0 or -1. */
static int ctl_smtp_line(struct ctl_smtp *c, char *line, size_t size)
{
	char buf[4096], *nl;
	size_t len;
	ssize_t n;

	for (;;) {
		nl = c->in.len > 0 ? memchr(c->in.data, '\n', c->in.len) : NULL;
		if (nl != NULL) {
			len = (size_t)(nl - c->in.data);
			if (len > 0 && c->in.data[len - 1] == '\r')
				len--;
			if (len >= size)
				return ctl_smtp_fail(c, "reply line too long");
			memcpy(line, c->in.data, len);
			line[len] = '\0';
			len = (size_t)(nl + 1 - c->in.data);
			memmove(c->in.data, c->in.data + len, c->in.len - len);
			c->in.len -= len;
			return 0;
		}
		if (c->in.len > CTL_SMTP_LINE_MAX)
			return ctl_smtp_fail(c, "reply line too long");
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			om_buf_append(&c->in, buf, (size_t)n);
		} else if (n == 0) {
			return ctl_smtp_fail(c, "closed the connection");
		} else if (errno == EAGAIN || errno == EINTR) {
			if (ctl_smtp_wait(c, POLLIN) < 0)
				return -1;
		} else {
			return ctl_smtp_fail(c, "read: %s", strerror(errno));
		}
	}
}

/* Reads one (multi-line) reply into res: its code and last line's text. */
static int ctl_smtp_reply(struct ctl_smtp *c, struct ctl_smtp_result *res)
{
	char line[CTL_SMTP_LINE_MAX + 1], digits[4];
	long code;

	for (;;) {
		if (ctl_smtp_line(c, line, sizeof(line)) < 0)
			return -1;
		memcpy(digits, line, 3);
		digits[3] = '\0';
		if (strlen(line) < 3 || om_parse_long(digits, 200, 599, &code) < 0 ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return ctl_smtp_fail(c, "malformed reply");
		if (line[3] != '-')
			break;
	}
	res->code = (int)code;
	free(res->reply);
	res->reply = om_sanitize(line, CTL_SMTP_REPLY_MAX);
	return 0;
}

/* Sends a command line and reads its reply: 1 accepted (2xx, or 3xx when
   want3 is set), 0 refused, -1 broken off. */
static int ctl_smtp_command(struct ctl_smtp *c, struct ctl_smtp_result *res,
			    const char *stage, const char *line, int want3)
{
	res->stage = stage;
	if (line != NULL && (ctl_smtp_write(c, line, strlen(line)) < 0 ||
			     ctl_smtp_write(c, "\r\n", 2) < 0))
		return -1;
	if (ctl_smtp_reply(c, res) < 0)
		return -1;
	return res->code / 100 == (want3 ? 3 : 2);
}

/* msg with CRLF line ends, lines starting with a dot doubled, and the
   final dot line. */
static void ctl_smtp_data(const char *msg, size_t len, struct om_buf *out)
{
	size_t i;
	int bol = 1;

	for (i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			om_buf_append(out, ".", 1);
		bol = msg[i] == '\n';
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			om_buf_append(out, "\r", 1);
		om_buf_append(out, &msg[i], 1);
	}
	if (!bol)
		om_buf_append(out, "\r\n", 2);
	om_buf_append(out, ".\r\n", 3);
}

/* Postfix: "2.0.0 Ok: queued as 4Xyz..." */
static char *ctl_smtp_queued_as(const char *text)
{
	const char *p = strstr(text, "queued as ");
	size_t n;

	if (p == NULL)
		return NULL;
	p += strlen("queued as ");
	n = strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	return n > 0 && n < 64 ? om_strndup(p, n) : NULL;
}

static int ctl_smtp_transaction(struct ctl_smtp *c, const char *helo, const char *sender,
				const char *rcpt, const char *msg, size_t len,
				struct ctl_smtp_result *res)
{
	struct om_buf data;
	char *line;
	int ret;

	if ((ret = ctl_smtp_command(c, res, "greeting", NULL, 0)) <= 0)
		return ret;
	line = om_asprintf("EHLO %s", helo);
	ret = ctl_smtp_command(c, res, "EHLO", line, 0);
	free(line);
	if (ret <= 0)
		return ret;
	line = om_asprintf("MAIL FROM:<%s>", sender);
	ret = ctl_smtp_command(c, res, "MAIL", line, 0);
	free(line);
	if (ret <= 0)
		return ret;
	line = om_asprintf("RCPT TO:<%s>", rcpt);
	ret = ctl_smtp_command(c, res, "RCPT", line, 0);
	free(line);
	if (ret <= 0)
		return ret;
	if ((ret = ctl_smtp_command(c, res, "DATA", "DATA", 1)) <= 0)
		return ret;
	om_buf_init(&data);
	ctl_smtp_data(msg, len, &data);
	ret = ctl_smtp_write(c, data.data, data.len);
	om_buf_free(&data);
	if (ret < 0)
		return -1;
	if ((ret = ctl_smtp_command(c, res, "end of data", NULL, 0)) <= 0)
		return ret;
	res->queue_id = ctl_smtp_queued_as(res->reply);
	(void)ctl_smtp_write(c, "QUIT\r\n", 6);
	return 1;
}

int ctl_smtp_send(const char *address, const char *helo, const char *sender,
		  const char *rcpt, const char *msg, size_t len, int timeout_ms,
		  struct ctl_smtp_result *res, char **error_r)
{
	struct ctl_smtp c;
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.timeout_ms = timeout_ms;
	c.address = address;
	om_buf_init(&c.in);
	ret = ctl_smtp_connect(&c);
	if (ret == 0)
		ret = ctl_smtp_transaction(&c, helo, sender, rcpt, msg, len, res);
	if (c.fd >= 0)
		(void)close(c.fd);
	om_buf_free(&c.in);
	if (ret < 0)
		*error_r = c.error != NULL ? c.error : om_strdup("SMTP: failed");
	else
		free(c.error);
	return ret;
}

/* ---- Postfix's queue ---- */

/* The JSON string value of "key" in one line of postqueue -j (allocated,
   escapes other than \" and \\ kept as written), or NULL. */
static char *ctl_json_string(const char *line, const char *key)
{
	char *pattern = om_asprintf("\"%s\":", key);
	const char *p = strstr(line, pattern);
	struct om_buf out;

	free(pattern);
	if (p == NULL)
		return NULL;
	p += strlen(key) + 3;
	p += strspn(p, " ");
	if (*p != '"')
		return NULL;
	om_buf_init(&out);
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		om_buf_append(&out, p, 1);
	}
	om_buf_append(&out, "", 0);
	return om_buf_steal(&out, NULL);
}

/* One line of postqueue -j: 1 if it is queue_id's (results set). */
static int ctl_postqueue_line(const char *line, const char *queue_id,
			      char **queue_r, char **reason_r)
{
	char *id = ctl_json_string(line, "queue_id"), *reason;
	int mine = id != NULL && strcmp(id, queue_id) == 0;

	free(id);
	if (!mine)
		return 0;
	*queue_r = ctl_json_string(line, "queue_name");
	if (*queue_r == NULL)
		*queue_r = om_strdup("?");
	reason = ctl_json_string(line, "delay_reason");
	*reason_r = om_sanitize(reason != NULL ? reason : "", CTL_SMTP_REPLY_MAX);
	free(reason);
	return 1;
}

/* Reads postqueue's output from fd to its end, looking for queue_id. */
static int ctl_postqueue_read(int fd, const char *queue_id, char **queue_r,
			      char **reason_r)
{
	struct om_buf in;
	char buf[8192], *nl;
	int found = 0;
	ssize_t n;
	size_t len;

	om_buf_init(&in);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		om_buf_append(&in, buf, (size_t)n);
		while (!found && (nl = memchr(in.data, '\n', in.len)) != NULL) {
			*nl = '\0';
			found = ctl_postqueue_line(in.data, queue_id, queue_r, reason_r);
			len = (size_t)(nl + 1 - in.data);
			memmove(in.data, in.data + len, in.len - len);
			in.len -= len;
		}
		if (found || in.len > CTL_POSTQUEUE_LINE_MAX)
			om_buf_reset(&in);	/* drained, not parsed */
	}
	om_buf_free(&in);
	return found;
}

int ctl_postqueue_find(const char *postfix_config, const char *queue_id,
		       char **queue_r, char **reason_r, char **error_r)
{
	char *argv[] = { (char *)CTL_POSTQUEUE_PATH, (char *)"-j", NULL, NULL, NULL };
	posix_spawn_file_actions_t actions;
	int pipefd[2], status, found, err;
	pid_t pid;

	if (*postfix_config != '\0') {
		argv[2] = (char *)"-c";
		argv[3] = (char *)postfix_config;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*error_r = om_asprintf("pipe: %s", strerror(errno));
		return -1;
	}
	if (posix_spawn_file_actions_init(&actions) != 0)
		abort();
	(void)posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
	err = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	(void)close(pipefd[1]);
	if (err != 0) {
		(void)close(pipefd[0]);
		*error_r = om_asprintf("%s: %s", argv[0], strerror(err));
		return -1;
	}
	found = ctl_postqueue_read(pipefd[0], queue_id, queue_r, reason_r);
	(void)close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!found && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		*error_r = om_asprintf("%s -j failed (status %d)", argv[0],
				       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return found;
}
