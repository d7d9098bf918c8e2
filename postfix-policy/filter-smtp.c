/* filter-smtp.c - omamori-filter's re-injection: an SMTP client to the
 * Postfix smtpd service omamori-reinject, a UNIX socket in Postfix's
 * public/ directory (group postdrop), so that only Postfix and omamori can
 * reach it: no TCP port that every local user could relay through.
 *
 * EHLO once per connection, then per message XFORWARD (the original
 * client, so the logs and the Received header keep it), MAIL, RCPT for each
 * recipient, DATA.  A worker keeps its connection for the next message
 * (filter_smtp_send_cached): Postfix's smtpd takes any number of
 * transactions per session, and a new session per message cost a connect,
 * smtpd's greeting, EHLO and milter connect.  A cached connection that
 * smtpd closed while idle (smtpd_timeout: its "421" or EOF is waiting to be
 * read) is noticed before use and replaced; one that fails on its first
 * reply is replaced once, nothing having been sent yet; one whose message
 * was not taken is closed (a session whose milter was lost keeps
 * refusing).  Every read has a
 * deadline and a line limit; a reply that is not complete is an error, so
 * the caller answers Postfix 4xx and nothing is lost.
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
#define FILTER_SMTP_MAX_USES 1000	/* transactions per connection */

struct filter_smtp {
	int fd;
	uint64_t deadline;
	struct om_buf in;	/* bytes read, not yet consumed */
	struct om_buf out;	/* bytes to write */
	char *error;
};

/* A connection kept between messages: after EHLO, between transactions. */
struct filter_smtp_conn {
	struct filter_smtp c;
	int xforward;		/* smtpd offered XFORWARD */
	int pipelining;		/* and PIPELINING (Postfix always does) */
	unsigned int uses;
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

/* Appends msg dot-stuffed with CRLF line ends, and (last) the final dot. */
static void filter_smtp_data(struct om_buf *out, const char *msg, size_t len,
			     int last)
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
	if (last)
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

/* Greeting and EHLO on a new connection; 0 or -1 with c->error. */
static int filter_smtp_hello(struct filter_smtp_conn *conn)
{
	struct filter_smtp *c = &conn->c;
	struct filter_reply r = { 0, NULL };
	struct om_buf ehlo;
	int ok = -1;

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
	conn->xforward = strstr(ehlo.data, " XFORWARD ") != NULL;
	conn->pipelining = strstr(ehlo.data, " PIPELINING ") != NULL;
	ok = 0;
out:
	free(r.text);
	om_buf_free(&ehlo);
	return ok;
}

/* Ends a transaction that did not reach the end of DATA, so that the
   connection can carry the next one. */
static int filter_smtp_rset(struct filter_smtp *c)
{
	struct filter_reply r = { 0, NULL };
	int ret;

	om_buf_append_str(&c->out, "RSET\r\n");
	ret = filter_smtp_reply(c, &r, NULL) < 0 || r.code != 250 ? -1 : 0;
	free(r.text);
	return ret;
}

/* One transaction on an open connection, one command at a time (an smtpd
   without PIPELINING).  0 with *res filled, -1 with c->error; *first tells
   whether the failure came at the very first reply (nothing of the
   message reached smtpd). */
static int filter_smtp_transaction_serial(struct filter_smtp_conn *conn,
				   const struct filter_smtp_msg *m,
				   struct filter_reply *rcpt_replies,
				   struct filter_smtp_result *res, int *first)
{
	struct filter_smtp *c = &conn->c;
	struct filter_reply r = { 0, NULL };
	int xf = 0, i, ok = -1;
	size_t k;

	*first = 1;
	if (conn->xforward && m->xforward != NULL && *m->xforward != '\0')
		xf = filter_smtp_xforward(c, m->xforward);
	for (i = 0; i < xf; i++) {
		if (filter_smtp_reply(c, &r, NULL) < 0)
			goto out;
		*first = 0;
		if (r.code != 250) {
			filter_smtp_fail(c, "re-injection: XFORWARD: %s", r.text);
			goto out;
		}
	}
	om_buf_printf(&c->out, "MAIL FROM:<%s>%s%s\r\n", m->sender,
		      m->body_8bit ? " BODY=8BITMIME" : "", m->smtputf8 ? " SMTPUTF8" : "");
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	*first = 0;
	if (r.code != 250) {
		/* the whole message: every recipient gets the sender's reply */
		for (k = 0; k < m->rcpt_count; k++)
			filter_reply_set(&rcpt_replies[k], r.code, "%s", r.text);
		ok = filter_smtp_rset(c);
		goto out;
	}
	for (k = 0; k < m->rcpt_count; k++)
		om_buf_printf(&c->out, "RCPT TO:<%s>\r\n", m->rcpts[k]);
	for (k = 0; k < m->rcpt_count; k++) {
		if (filter_smtp_reply(c, &rcpt_replies[k], NULL) < 0)
			goto out;
		if (rcpt_replies[k].code == 250)
			res->rcpt_codes_ok++;
	}
	if (res->rcpt_codes_ok == 0) {
		ok = filter_smtp_rset(c);
		goto out;
	}
	om_buf_append_str(&c->out, "DATA\r\n");
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	if (r.code != 354) {
		res->final_code = r.code;
		res->final_text = om_strdup(r.text);
		ok = filter_smtp_rset(c);
		goto out;
	}
	if (m->header != NULL)
		filter_smtp_data(&c->out, m->header, strlen(m->header), 0);
	filter_smtp_data(&c->out, m->msg, m->len, 1);
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	res->final_code = r.code;
	res->final_text = om_strdup(r.text);
	res->queue_id = filter_smtp_queued_as(r.text);
	ok = 0;
out:
	free(r.text);
	if (ok < 0 && c->error == NULL)
		c->error = om_strdup("re-injection: RSET refused");
	return ok;
}

/* The same with PIPELINING (RFC 2920): XFORWARD, MAIL, every RCPT and
   DATA in one write, then their replies in order - one round trip for the
   envelope instead of four.  After a refusal the replies still pending are
   not read: the caller closes the connection (final_code != 250). */
static int filter_smtp_transaction(struct filter_smtp_conn *conn,
				   const struct filter_smtp_msg *m,
				   struct filter_reply *rcpt_replies,
				   struct filter_smtp_result *res, int *first)
{
	struct filter_smtp *c = &conn->c;
	struct filter_reply r = { 0, NULL };
	int xf = 0, i, ok = -1;
	size_t k;

	if (!conn->pipelining)
		return filter_smtp_transaction_serial(conn, m, rcpt_replies, res, first);
	*first = 1;
	if (conn->xforward && m->xforward != NULL && *m->xforward != '\0')
		xf = filter_smtp_xforward(c, m->xforward);
	om_buf_printf(&c->out, "MAIL FROM:<%s>%s%s\r\n", m->sender,
		      m->body_8bit ? " BODY=8BITMIME" : "", m->smtputf8 ? " SMTPUTF8" : "");
	for (k = 0; k < m->rcpt_count; k++)
		om_buf_printf(&c->out, "RCPT TO:<%s>\r\n", m->rcpts[k]);
	om_buf_append_str(&c->out, "DATA\r\n");
	for (i = 0; i < xf; i++) {
		if (filter_smtp_reply(c, &r, NULL) < 0)
			goto out;
		*first = 0;
		if (r.code != 250) {
			filter_smtp_fail(c, "re-injection: XFORWARD: %s", r.text);
			goto out;
		}
	}
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	*first = 0;
	if (r.code != 250) {
		/* the whole message: every recipient gets the sender's reply */
		for (k = 0; k < m->rcpt_count; k++)
			filter_reply_set(&rcpt_replies[k], r.code, "%s", r.text);
		ok = 0;
		goto out;
	}
	for (k = 0; k < m->rcpt_count; k++) {
		if (filter_smtp_reply(c, &rcpt_replies[k], NULL) < 0)
			goto out;
		if (rcpt_replies[k].code == 250)
			res->rcpt_codes_ok++;
	}
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	if (r.code != 354) {
		/* no recipient taken (smtpd's 554 "no valid recipients"): each
		   recipient has its own refusal */
		if (res->rcpt_codes_ok > 0) {
			res->final_code = r.code;
			res->final_text = om_strdup(r.text);
		}
		ok = 0;
		goto out;
	}
	if (res->rcpt_codes_ok == 0) {
		filter_smtp_fail(c, "re-injection: %s", "354 without a recipient");
		goto out;
	}
	if (m->header != NULL)
		filter_smtp_data(&c->out, m->header, strlen(m->header), 0);
	filter_smtp_data(&c->out, m->msg, m->len, 1);
	if (filter_smtp_reply(c, &r, NULL) < 0)
		goto out;
	res->final_code = r.code;
	res->final_text = om_strdup(r.text);
	res->queue_id = filter_smtp_queued_as(r.text);
	ok = 0;
out:
	free(r.text);
	return ok;
}

static void filter_smtp_free(struct filter_smtp *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	om_buf_free(&c->in);
	om_buf_free(&c->out);
	om_free(&c->error);
}

void filter_smtp_conn_close(struct filter_smtp_conn **connp)
{
	struct filter_smtp_conn *conn = *connp;

	if (conn == NULL)
		return;
	*connp = NULL;
	if (conn->c.fd >= 0 && conn->c.error == NULL) {
		conn->c.deadline = om_now_ms() + 1000;
		om_buf_append_str(&conn->c.out, "QUIT\r\n");
		(void)filter_smtp_flush(&conn->c);
	}
	filter_smtp_free(&conn->c);
	free(conn);
}

/* 1 if a kept connection is still good to use: nothing to read (an idle
   smtpd that timed out has sent 421 or closed). */
static int filter_smtp_conn_idle_ok(struct filter_smtp_conn *conn)
{
	struct pollfd pfd = { conn->c.fd, POLLIN, 0 };

	if (conn->uses >= FILTER_SMTP_MAX_USES || conn->c.in.len > 0)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

static struct filter_smtp_conn *filter_smtp_conn_open(const char *path,
						      uint64_t deadline,
						      char **error_r)
{
	struct filter_smtp_conn *conn = om_calloc(1, sizeof(*conn));

	conn->c.fd = -1;
	conn->c.deadline = deadline;
	om_buf_init(&conn->c.in);
	om_buf_init(&conn->c.out);
	om_buf_reserve(&conn->c.in, 4096);
	if (filter_smtp_connect(&conn->c, path) < 0 || filter_smtp_hello(conn) < 0) {
		*error_r = conn->c.error != NULL ? conn->c.error :
			om_strdup("re-injection failed");
		conn->c.error = NULL;
		filter_smtp_free(&conn->c);
		free(conn);
		return NULL;
	}
	return conn;
}

int filter_smtp_send_cached(struct filter_smtp_conn **connp, const char *socket_path,
			    int timeout_ms, const struct filter_smtp_msg *m,
			    struct filter_reply *rcpt_replies,
			    struct filter_smtp_result *res, char **error_r)
{
	uint64_t deadline = om_now_ms() + (uint64_t)timeout_ms;
	int reused, first, ret;

	memset(res, 0, sizeof(*res));
	if (*connp != NULL && !filter_smtp_conn_idle_ok(*connp))
		filter_smtp_conn_close(connp);
	for (;;) {
		reused = *connp != NULL;
		if (!reused && (*connp = filter_smtp_conn_open(socket_path, deadline,
							       error_r)) == NULL)
			return -1;
		(*connp)->c.deadline = deadline;
		(*connp)->uses++;
		ret = filter_smtp_transaction(*connp, m, rcpt_replies, res, &first);
		if (ret == 0) {
			/* kept only after a success: after a refusal (a milter
			   smtpd lost, a resource short) a new session is
			   cleaner than a session that may refuse again */
			if (res->final_code != 250)
				filter_smtp_conn_close(connp);
			return 0;
		}
		filter_smtp_result_free(res);
		if (!(reused && first)) {
			*error_r = (*connp)->c.error;
			(*connp)->c.error = NULL;
			filter_smtp_free(&(*connp)->c);
			om_free(connp);
			return -1;
		}
		/* a kept connection that smtpd had closed: a new one, once */
		filter_smtp_free(&(*connp)->c);
		om_free(connp);
	}
}

int filter_smtp_send(const char *socket_path, int timeout_ms,
		     const char *sender, char *const *rcpts, size_t rcpt_count,
		     const char *xforward, int body_8bit, int smtputf8,
		     const char *msg, size_t len,
		     struct filter_reply *rcpt_replies,
		     struct filter_smtp_result *res, char **error_r)
{
	struct filter_smtp_conn *conn = NULL;
	struct filter_smtp_msg m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.sender = sender;
	m.rcpts = rcpts;
	m.rcpt_count = rcpt_count;
	m.xforward = xforward;
	m.body_8bit = body_8bit;
	m.smtputf8 = smtputf8;
	m.msg = msg;
	m.len = len;
	ret = filter_smtp_send_cached(&conn, socket_path, timeout_ms, &m,
				      rcpt_replies, res, error_r);
	filter_smtp_conn_close(&conn);
	return ret;
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
