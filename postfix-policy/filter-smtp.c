/* filter-smtp.c - omamori-filter's re-injection: an SMTP client to the
 * Postfix smtpd service omamori-reinject, a UNIX socket in Postfix's
 * public/ directory (group postdrop), so that only Postfix and omamori can
 * reach it: no TCP port that every local user could relay through.
 *
 * One connection per message: EHLO, XFORWARD (the original client, so the
 * logs and the Received header keep it), MAIL, RCPT for each recipient,
 * DATA.  Every read has a deadline and a line limit; a reply that is not
 * complete is an error, so the caller answers Postfix 4xx and nothing is
 * lost.
 */
#include "filter.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"

#define FILTER_SMTP_LINE_MAX 2048
#define FILTER_SMTP_XFORWARD_LINE 480

struct filter_smtp {
	int fd;
	uint64_t deadline;
	struct om_buf in;	/* bytes read, not yet consumed */
	struct om_buf out;	/* bytes to write */
	char *error;
};

static int filter_smtp_fail(struct filter_smtp *c, const char *fmt, ...)
	OM_ATTR_FORMAT(2, 3);
static int filter_smtp_fail(struct filter_smtp *c, const char *fmt, ...)
{
	va_list ap;

	if (c->error == NULL) {
		va_start(ap, fmt);
		c->error = om_vasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int filter_smtp_wait(struct filter_smtp *c, short events)
{
	struct pollfd pfd = { c->fd, events, 0 };
	uint64_t now = om_now_ms();
	int ret;

	if (now >= c->deadline)
		return filter_smtp_fail(c, "re-injection: %s", "timed out");
	ret = poll(&pfd, 1, (int)(c->deadline - now));
	if (ret < 0 && errno != EINTR)
		return filter_smtp_fail(c, "re-injection: poll: %s", strerror(errno));
	return 0;
}

static int filter_smtp_flush(struct filter_smtp *c)
{
	size_t done = 0;
	ssize_t n;

	while (done < c->out.len) {
		n = send(c->fd, c->out.data + done, c->out.len - done,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (filter_smtp_wait(c, POLLOUT) < 0)
				return -1;
			continue;
		}
		return filter_smtp_fail(c, "re-injection: write: %s", strerror(errno));
	}
	om_buf_reset(&c->out);
	return 0;
}

/* One reply line into line (without CRLF); 0 or -1. */
static int filter_smtp_line(struct filter_smtp *c, char *line, size_t size)
{
	char buf[4096], *nl;
	ssize_t n;
	size_t len;

	for (;;) {
		nl = memchr(c->in.data, '\n', c->in.len);
		if (nl != NULL) {
			len = (size_t)(nl - c->in.data);
			if (len > 0 && c->in.data[len - 1] == '\r')
				len--;
			if (len >= size)
				return filter_smtp_fail(c, "re-injection: %s", "reply line too long");
			memcpy(line, c->in.data, len);
			line[len] = '\0';
			len = (size_t)(nl + 1 - c->in.data);
			memmove(c->in.data, c->in.data + len, c->in.len - len);
			c->in.len -= len;
			c->in.data[c->in.len] = '\0';
			return 0;
		}
		if (c->in.len > FILTER_SMTP_LINE_MAX)
			return filter_smtp_fail(c, "re-injection: %s", "reply line too long");
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			om_buf_append(&c->in, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return filter_smtp_fail(c, "re-injection: %s", "connection closed");
		if (errno != EAGAIN && errno != EINTR)
			return filter_smtp_fail(c, "re-injection: read: %s", strerror(errno));
		if (filter_smtp_wait(c, POLLIN) < 0)
			return -1;
	}
}

/* Writes what is queued and reads one (multi-line) reply: its code, the
   text of its last line, and (ehlo not NULL) its lines' keywords. */
static int filter_smtp_reply(struct filter_smtp *c, struct filter_reply *r,
			     struct om_buf *ehlo)
{
	char line[FILTER_SMTP_LINE_MAX + 1];
	long code;
	char digits[4];

	if (filter_smtp_flush(c) < 0)
		return -1;
	for (;;) {
		if (filter_smtp_line(c, line, sizeof(line)) < 0)
			return -1;
		if (strlen(line) < 3)
			return filter_smtp_fail(c, "re-injection: %s", "short reply");
		memcpy(digits, line, 3);
		digits[3] = '\0';
		if (om_parse_long(digits, 200, 599, &code) < 0 ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
			return filter_smtp_fail(c, "re-injection: %s", "malformed reply");
		if (ehlo != NULL)
			om_buf_printf(ehlo, " %s ", line + (line[3] != '\0' ? 4 : 3));
		if (line[3] != '-')
			break;
	}
	filter_reply_set(r, (int)code, "%s", line[3] != '\0' ? line + 4 : "");
	return 0;
}

static int filter_smtp_connect(struct filter_smtp *c, const char *path)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (om_strlcpy(addr.un.sun_path, path, sizeof(addr.un.sun_path)) < 0)
		return filter_smtp_fail(c, "re-injection socket %s: path too long", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return filter_smtp_fail(c, "re-injection: socket: %s", strerror(errno));
	if (connect(c->fd, &addr.sa, sizeof(addr.un)) < 0) {
		c->error = om_asprintf("re-injection: connect %s: %s", path,
				       strerror(errno));
		return -1;
	}
	return 0;
}

/* Appends the XFORWARD commands for attrs ("NAME=x ADDR=y ..."), in lines
   of a few hundred bytes as Postfix's own client does; the count. */
static int filter_smtp_xforward(struct filter_smtp *c, const char *attrs)
{
	const char *p = attrs;
	size_t n, line = 0;
	int commands = 0;

	while (*p != '\0') {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (line > 0 && line + n + 1 > FILTER_SMTP_XFORWARD_LINE) {
			om_buf_append_str(&c->out, "\r\n");
			line = 0;
		}
		if (line == 0) {
			om_buf_append_str(&c->out, "XFORWARD");
			line = 8;
			commands++;
		}
		om_buf_append_str(&c->out, " ");
		om_buf_append(&c->out, p, n);
		line += n + 1;
		p += n;
	}
	if (line > 0)
		om_buf_append_str(&c->out, "\r\n");
	return commands;
}

/* Appends msg dot-stuffed with CRLF line ends, and the final dot. */
static void filter_smtp_data(struct om_buf *out, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len, *nl;
	size_t n;

	om_buf_reserve(out, len + len / 32 + 8);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (*p == '.')
			om_buf_append(out, ".", 1);
		om_buf_append(out, p, n);
		om_buf_append(out, "\r\n", 2);
		p = nl != NULL ? nl + 1 : end;
	}
	om_buf_append(out, ".\r\n", 3);
}

/* "250 2.0.0 Ok: queued as ABC" -> "ABC" */
static char *filter_smtp_queued_as(const char *text)
{
	const char *p = strstr(text, "queued as ");

	if (p == NULL)
		return NULL;
	p += 10;
	return om_strndup(p, strcspn(p, " \t"));
}

/* The session after the connect; 0 or -1 with c->error. */
static int filter_smtp_session(struct filter_smtp *c, const char *sender,
			       char *const *rcpts, size_t rcpt_count,
			       const char *xforward, int body_8bit, int smtputf8,
			       const char *msg, size_t len,
			       struct filter_reply *rcpt_replies,
			       struct filter_smtp_result *res)
{
	struct filter_reply r = { 0, NULL };
	struct om_buf ehlo;
	int xf = 0, i, ok = -1;
	size_t k;

	om_buf_init(&ehlo);
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	if (r.code != 220) {
		filter_smtp_fail(c, "re-injection: greeting: %s", r.text);
		goto out;
	}
	om_buf_append_str(&c->out, "EHLO omamori-filter\r\n");
	if (filter_smtp_reply(c, &r, &ehlo) < 0)
		goto out;
	if (r.code != 250) {
		filter_smtp_fail(c, "re-injection: EHLO: %s", r.text);
		goto out;
	}
	if (xforward != NULL && *xforward != '\0' && strstr(ehlo.data, " XFORWARD ") != NULL)
		xf = filter_smtp_xforward(c, xforward);
	for (i = 0; i < xf; i++) {
		if (filter_smtp_reply(c, &r, NULL) < 0)
			goto out;
		if (r.code != 250) {
			filter_smtp_fail(c, "re-injection: XFORWARD: %s", r.text);
			goto out;
		}
	}
	om_buf_printf(&c->out, "MAIL FROM:<%s>%s%s\r\n", sender,
		      body_8bit ? " BODY=8BITMIME" : "", smtputf8 ? " SMTPUTF8" : "");
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	if (r.code != 250) {
		/* the whole message: every recipient gets the sender's reply */
		for (k = 0; k < rcpt_count; k++)
			filter_reply_set(&rcpt_replies[k], r.code, "%s", r.text);
		ok = 0;
		goto out;
	}
	for (k = 0; k < rcpt_count; k++)
		om_buf_printf(&c->out, "RCPT TO:<%s>\r\n", rcpts[k]);
	for (k = 0; k < rcpt_count; k++) {
		if (filter_smtp_reply(c, &rcpt_replies[k], NULL) < 0)
			goto out;
		if (rcpt_replies[k].code == 250)
			res->rcpt_codes_ok++;
	}
	if (res->rcpt_codes_ok == 0) {
		om_buf_append_str(&c->out, "QUIT\r\n");
		(void)filter_smtp_flush(c);
		ok = 0;
		goto out;
	}
	om_buf_append_str(&c->out, "DATA\r\n");
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	if (r.code != 354) {
		res->final_code = r.code;
		res->final_text = om_strdup(r.text);
		ok = 0;
		goto out;
	}
	filter_smtp_data(&c->out, msg, len);
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	res->final_code = r.code;
	res->final_text = om_strdup(r.text);
	res->queue_id = filter_smtp_queued_as(r.text);
	om_buf_append_str(&c->out, "QUIT\r\n");
	(void)filter_smtp_flush(c);	/* the message is Postfix's already */
	ok = 0;
out:
	free(r.text);
	om_buf_free(&ehlo);
	return ok;
}

int filter_smtp_send(const char *socket_path, int timeout_ms,
		     const char *sender, char *const *rcpts, size_t rcpt_count,
		     const char *xforward, int body_8bit, int smtputf8,
		     const char *msg, size_t len,
		     struct filter_reply *rcpt_replies,
		     struct filter_smtp_result *res, char **error_r)
{
	struct filter_smtp c;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.deadline = om_now_ms() + (uint64_t)timeout_ms;
	om_buf_init(&c.in);
	om_buf_init(&c.out);
	om_buf_reserve(&c.in, 4096);
	if (filter_smtp_connect(&c, socket_path) == 0)
		ret = filter_smtp_session(&c, sender, rcpts, rcpt_count, xforward,
					  body_8bit, smtputf8, msg, len,
					  rcpt_replies, res);
	if (c.fd >= 0)
		close(c.fd);
	om_buf_free(&c.in);
	om_buf_free(&c.out);
	if (ret < 0) {
		filter_smtp_result_free(res);
		*error_r = c.error != NULL ? c.error : om_strdup("re-injection failed");
		return -1;
	}
	free(c.error);
	return 0;
}

void filter_smtp_result_free(struct filter_smtp_result *res)
{
	om_free(&res->final_text);
	om_free(&res->queue_id);
	res->final_code = 0;
	res->rcpt_codes_ok = 0;
}

int filter_smtp_notice(const char *socket_path, int timeout_ms, const char *rcpt,
		       const struct om_buf *mail, char **queue_id_r,
		       char **error_r)
{
	struct filter_reply reply = { 0, NULL };
	struct filter_smtp_result res;
	char *to = (char *)rcpt;
	int ret;

	if (filter_smtp_send(socket_path, timeout_ms, "", &to, 1, NULL, 1, 0,
			     mail->data, mail->len, &reply, &res, error_r) < 0) {
		free(reply.text);
		return -1;
	}
	if (res.final_code == 250) {
		if (queue_id_r != NULL)
			*queue_id_r = om_strdup(res.queue_id != NULL ? res.queue_id : "?");
		ret = 1;
	} else {
		*error_r = om_asprintf("%d %s", res.final_code != 0 ? res.final_code :
				       reply.code, res.final_text != NULL ? res.final_text :
				       reply.text != NULL ? reply.text : "");
		ret = 0;
	}
	filter_smtp_result_free(&res);
	free(reply.text);
	return ret;
}
