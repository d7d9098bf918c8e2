/* filter-lmtp.c - one LMTP session of omamori-filter with Postfix's lmtp
 * client (RFC 2033): LHLO, XFORWARD, MAIL, RCPT, DATA with a reply per
 * recipient, RSET, NOOP, QUIT.  Pipelined commands are read from one
 * buffer and the replies written before the next wait.
 *
 * SECURITY: the peer is Postfix (its credentials were checked before this
 * runs), but the message and the envelope come from SMTP clients: every
 * line has a limit, the message has scan_max_size, every wait a deadline
 * (filter_timeout), and client text reaches the logs only sanitised.
 */
#include "filter.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define FILTER_LINE_MAX 4096		/* a command line (RFC 5321: 512) */
#define FILTER_XFORWARD_MAX 2048	/* the XFORWARD attributes kept */
#define FILTER_RCPT_MAX 10000		/* recipients of one transaction */
#define FILTER_READ_CHUNK 65536

struct filter_conn {
	struct filter_worker *w;
	int fd;
	struct om_buf in;
	size_t in_pos;		/* consumed bytes of in */
	struct om_buf out;
	int broken;
};

void filter_reply_set(struct filter_reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	free(r->text);
	r->code = code;
	va_start(ap, fmt);
	r->text = om_vasprintf(fmt, ap);
	va_end(ap);
}

void filter_envelope_reset(struct filter_envelope *env)
{
	size_t i;

	om_free(&env->queue_id);
	om_free(&env->xforward);
	om_free(&env->sender);
	for (i = 0; i < env->rcpt_count; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

static void filter_conn_reply(struct filter_conn *c, const char *fmt, ...)
	OM_ATTR_FORMAT(2, 3);
static void filter_conn_reply(struct filter_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = om_vasprintf(fmt, ap);
	va_end(ap);
	om_buf_append_str(&c->out, text);
	om_buf_append_str(&c->out, "\r\n");
	free(text);
}

static int filter_conn_flush(struct filter_conn *c)
{
	size_t done = 0;
	ssize_t n;
	struct pollfd pfd;

	while (done < c->out.len) {
		n = send(c->fd, c->out.data + done, c->out.len - done,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			pfd.fd = c->fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, (int)c->w->daemon->config->filter_timeout * 1000) > 0)
				continue;
		}
		c->broken = 1;
		return -1;
	}
	om_buf_reset(&c->out);
	return 0;
}

/* Waits for input (flushing replies first).  idle: between transactions,
   where a stopping daemon may close.  1 readable, 0 stop, -1 error. */
static int filter_conn_wait(struct filter_conn *c, int idle)
{
	struct pollfd pfd;
	long waited = 0, limit = c->w->daemon->config->filter_timeout * 1000;
	int ret;

	if (filter_conn_flush(c) < 0)
		return -1;
	while (waited < limit) {
		if (idle && c->w->daemon->stopping)
			return 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		ret = poll(&pfd, 1, 500);
		if (ret > 0)
			return 1;
		if (ret < 0 && errno != EINTR)
			return -1;
		waited += 500;
	}
	return -1;
}

/* Reads more bytes into c->in; 1 read, 0 EOF or stop, -1 error. */
static int filter_conn_fill(struct filter_conn *c, int idle)
{
	char buf[FILTER_READ_CHUNK];
	ssize_t n;
	int ret;

	if (c->in_pos > 0 && c->in_pos == c->in.len) {
		om_buf_reset(&c->in);
		c->in_pos = 0;
	}
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			om_buf_append(&c->in, buf, (size_t)n);
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		ret = filter_conn_wait(c, idle);
		if (ret <= 0)
			return ret;
	}
}

/* The next line (CRLF or LF stripped), NUL-terminated in c->in, or NULL
   at EOF, on error or for a line over max (c->broken then). */
static char *filter_conn_line(struct filter_conn *c, size_t max, int idle,
			      size_t *len_r)
{
	char *start, *nl;
	size_t len;

	for (;;) {
		start = c->in.data + c->in_pos;
		nl = memchr(start, '\n', c->in.len - c->in_pos);
		if (nl != NULL)
			break;
		if (c->in.len - c->in_pos > max) {
			c->broken = 1;
			return NULL;
		}
		if (c->in_pos > 0) {
			memmove(c->in.data, start, c->in.len - c->in_pos);
			c->in.len -= c->in_pos;
			c->in.data[c->in.len] = '\0';
			c->in_pos = 0;
		}
		if (filter_conn_fill(c, idle) <= 0)
			return NULL;
	}
	len = (size_t)(nl - start);
	c->in_pos += len + 1;
	if (len > 0 && start[len - 1] == '\r')
		len--;
	start[len] = '\0';
	*len_r = len;
	return start;
}

/* The address of "FROM:<addr> params" / "TO:<addr> params": *addr_r
   allocated, *params_r points after it.  0 or -1. */
static int filter_parse_path(const char *arg, const char *prefix,
			     char **addr_r, const char **params_r)
{
	const char *p, *end;
	size_t n = strlen(prefix);

	if (!om_has_prefix_ci(arg, prefix))
		return -1;
	p = arg + n;
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return -1;
	if ((size_t)(end - p - 1) > 512)
		return -1;
	*addr_r = om_strndup(p + 1, (size_t)(end - p - 1));
	*params_r = end + 1;
	return 0;
}

static int filter_has_param(const char *params, const char *name)
{
	const char *p = params;
	size_t n = strlen(name);

	while ((p = strchr(p, ' ')) != NULL) {
		p++;
		if (om_has_prefix_ci(p, name) && (p[n] == '\0' || p[n] == ' ' || p[n] == '='))
			return 1;
	}
	return 0;
}

/* XFORWARD: keeps the attributes (as Postfix encoded them) and IDENT. */
static void filter_cmd_xforward(struct filter_conn *c, struct filter_envelope *env,
				const char *arg)
{
	struct om_buf b;
	const char *p = arg, *v;
	size_t n;

	om_buf_init(&b);
	if (env->xforward != NULL)
		om_buf_append_str(&b, env->xforward);
	while (*p != '\0') {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (om_has_prefix_ci(p, "IDENT=")) {
			v = p + 6;
			om_free(&env->queue_id);
			if (strncmp(v, "[UNAVAILABLE]", (size_t)(p + n - v)) != 0 &&
			    p + n - v <= 64)
				env->queue_id = om_strndup(v, (size_t)(p + n - v));
		}
		if (b.len + n + 1 <= FILTER_XFORWARD_MAX) {
			if (b.len > 0)
				om_buf_append_str(&b, " ");
			om_buf_append(&b, p, n);
		}
		p += n;
	}
	om_free(&env->xforward);
	env->xforward = om_buf_steal(&b, NULL);
	filter_conn_reply(c, "250 2.0.0 Ok");
}

static void filter_cmd_mail(struct filter_conn *c, struct filter_envelope *env,
			    const char *arg)
{
	const char *params;
	char *addr;

	if (env->sender != NULL) {
		filter_conn_reply(c, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (filter_parse_path(arg, "FROM:", &addr, &params) < 0) {
		filter_conn_reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	env->sender = addr;
	env->body_8bit = filter_has_param(params, "BODY=8BITMIME");
	env->smtputf8 = filter_has_param(params, "SMTPUTF8");
	filter_conn_reply(c, "250 2.1.0 Ok");
}

static void filter_cmd_rcpt(struct filter_conn *c, struct filter_envelope *env,
			    const char *arg)
{
	const char *params = NULL;
	char *addr = NULL;

	if (env->sender == NULL) {
		filter_conn_reply(c, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (env->rcpt_count >= FILTER_RCPT_MAX) {
		filter_conn_reply(c, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (filter_parse_path(arg, "TO:", &addr, &params) < 0 || *addr == '\0') {
		om_free(&addr);
		filter_conn_reply(c, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (env->rcpt_count == env->rcpt_alloc) {
		env->rcpt_alloc = env->rcpt_alloc == 0 ? 16 : env->rcpt_alloc * 2;
		env->rcpts = om_realloc(env->rcpts, env->rcpt_alloc * sizeof(char *));
	}
	env->rcpts[env->rcpt_count++] = addr;
	filter_conn_reply(c, "250 2.1.5 Ok");
}

/* Reads the message after 354 into msg (dot-unstuffed, LF line ends).
   0 read, 1 read but over max (discarded), -1 connection lost. */
static int filter_read_data(struct filter_conn *c, size_t max, struct om_buf *msg)
{
	char *line;
	size_t len;
	int over = 0;

	for (;;) {
		line = filter_conn_line(c, max + FILTER_LINE_MAX, 0, &len);
		if (line == NULL)
			return -1;
		if (len == 1 && line[0] == '.')
			return over;
		if (line[0] == '.') {
			line++;
			len--;
		}
		if (msg->len + len + 1 > max) {
			over = 1;
			om_buf_reset(msg);
			continue;
		}
		if (!over) {
			om_buf_append(msg, line, len);
			om_buf_append(msg, "\n", 1);
		}
	}
}

static void filter_cmd_data(struct filter_conn *c, struct filter_envelope *env)
{
	const struct om_config *config = c->w->daemon->config;
	struct filter_reply *replies;
	struct om_buf msg;
	size_t i;
	int ret;

	if (env->sender == NULL || env->rcpt_count == 0) {
		filter_conn_reply(c, "503 5.5.1 Error: need RCPT command");
		return;
	}
	filter_conn_reply(c, "354 End data with <CR><LF>.<CR><LF>");
	if (filter_conn_flush(c) < 0)
		return;
	om_buf_init(&msg);
	ret = filter_read_data(c, (size_t)config->scan_max_size, &msg);
	if (ret < 0) {
		c->broken = 1;
		om_buf_free(&msg);
		return;
	}
	replies = om_calloc(env->rcpt_count, sizeof(*replies));
	if (ret > 0) {
		for (i = 0; i < env->rcpt_count; i++)
			filter_reply_set(&replies[i], 552, "5.3.4 Message too big for "
					 "the outbound filter (over %ld bytes)",
					 config->scan_max_size);
	} else {
		filter_deliver(c->w, env, msg.data, msg.len, replies);
	}
	for (i = 0; i < env->rcpt_count; i++) {
		if (replies[i].text == NULL)
			filter_reply_set(&replies[i], 451, "4.3.0 internal error");
		filter_conn_reply(c, "%d %s", replies[i].code, replies[i].text);
		free(replies[i].text);
	}
	free(replies);
	om_buf_free(&msg);
	filter_envelope_reset(env);
}

/* One command; 0 to go on, -1 to end the session. */
static int filter_command(struct filter_conn *c, struct filter_envelope *env,
			  char *line)
{
	char *arg = strchr(line, ' ');

	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	if (strcasecmp(line, "LHLO") == 0) {
		filter_envelope_reset(env);
		filter_conn_reply(c, "250-omamori-filter\r\n250-PIPELINING\r\n"
				  "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
				  "250-SMTPUTF8\r\n"
				  "250 XFORWARD NAME ADDR PROTO HELO IDENT SOURCE PORT");
	} else if (strcasecmp(line, "XFORWARD") == 0) {
		filter_cmd_xforward(c, env, arg);
	} else if (strcasecmp(line, "MAIL") == 0) {
		filter_cmd_mail(c, env, arg);
	} else if (strcasecmp(line, "RCPT") == 0) {
		filter_cmd_rcpt(c, env, arg);
	} else if (strcasecmp(line, "DATA") == 0) {
		filter_cmd_data(c, env);
	} else if (strcasecmp(line, "RSET") == 0) {
		filter_envelope_reset(env);
		filter_conn_reply(c, "250 2.0.0 Ok");
	} else if (strcasecmp(line, "NOOP") == 0) {
		filter_conn_reply(c, "250 2.0.0 Ok");
	} else if (strcasecmp(line, "QUIT") == 0) {
		filter_conn_reply(c, "221 2.0.0 Bye");
		return -1;
	} else {
		filter_conn_reply(c, "502 5.5.2 Error: command not recognized");
	}
	return c->broken ? -1 : 0;
}

void filter_lmtp_session(struct filter_worker *w, int fd)
{
	struct filter_envelope env;
	struct filter_conn c;
	size_t len;
	char *line;

	memset(&env, 0, sizeof(env));
	memset(&c, 0, sizeof(c));
	c.w = w;
	c.fd = fd;
	om_buf_init(&c.in);
	om_buf_init(&c.out);
	om_buf_reserve(&c.in, FILTER_READ_CHUNK);
	filter_conn_reply(&c, "220 omamori-filter LMTP ready");
	for (;;) {
		line = filter_conn_line(&c, FILTER_LINE_MAX, env.sender == NULL, &len);
		if (line == NULL) {
			if (c.broken)
				filter_conn_reply(&c, "500 5.5.0 Error: line too long");
			break;
		}
		if (strlen(line) != len) {
			filter_conn_reply(&c, "500 5.5.2 Error: NUL in command");
			break;
		}
		if (filter_command(&c, &env, line) < 0)
			break;
	}
	(void)filter_conn_flush(&c);
	filter_envelope_reset(&env);
	om_buf_free(&c.in);
	om_buf_free(&c.out);
}
