/* web-auth.c - checks a mailbox's password with Dovecot's auth service.
 *
 * The Dovecot authentication protocol (v1, doc/web.md): over the
 * client UNIX socket (dovecot_auth_socket) we send "VERSION\t1\t2" and "CPID\t<pid>", read
 * the server's handshake up to "DONE", then one
 * "AUTH\t1\tPLAIN\tservice=omamori-web\tsecured\tno-penalty\tresp=<base64>"
 * and read "OK\t1\tuser=..." or "FAIL\t1...".  One connection per login:
 * logins are rare, and nothing is kept open between them.  Every read has
 * a deadline and a line limit; the password is wiped after use.
 *
 * No rip= and no-penalty: every client comes through the one proxy, so
 * Dovecot's per-address auth penalty (up to 15 s a login, and without rip
 * every request shares one empty address) would delay every user's login
 * and hold a pool thread while it waits; omamori-web logs the client
 * itself and brakes guessing per account (web-lockout.c) and per client
 * (web-rate.c).  Dovecot's auth_failure_delay (2 s) still applies to a
 * wrong password.
 */
#include "web-auth.h"
#include "lib/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define WEB_AUTH_TIMEOUT_MS 10000
#define WEB_AUTH_LINE_MAX 16384
#define WEB_AUTH_HANDSHAKE_MAX 64	/* lines */
#define WEB_AUTH_FIELD_MAX 1024		/* user, password */

struct web_auth_conn {
	int fd;
	uint64_t deadline;
	char buf[WEB_AUTH_LINE_MAX];
	size_t len;
};

static int web_auth_connect(const char *path, char **error_r)
{
	union {
		struct sockaddr_un un;
		struct sockaddr sa;
	} addr;
	int fd;

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (om_strlcpy(addr.un.sun_path, path, sizeof(addr.un.sun_path)) < 0) {
		*error_r = om_asprintf("dovecot_auth_socket %s: path too long", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, &addr.sa, sizeof(addr.un)) < 0) {
		*error_r = om_asprintf("dovecot auth %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int web_auth_write(struct web_auth_conn *c, const char *data, size_t len,
			  char **error_r)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = om_asprintf("dovecot auth: write: %s", strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The next line (without its LF) in *line_r, pointing into c->buf until
   the next call.  0, or -1 with *error_r. */
static int web_auth_read_line(struct web_auth_conn *c, char **line_r,
			      char **error_r)
{
	static const char lf = '\n';
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	char *nl;
	ssize_t n;
	uint64_t now;

	for (;;) {
		nl = memchr(c->buf, lf, c->len);
		if (nl != NULL) {
			*nl = '\0';
			*line_r = c->buf;
			return 0;
		}
		if (c->len == sizeof(c->buf)) {
			*error_r = om_strdup("dovecot auth: a line too long");
			return -1;
		}
		now = om_now_ms();
		if (now >= c->deadline ||
		    poll(&pfd, 1, (int)(c->deadline - now)) == 0) {
			*error_r = om_strdup("dovecot auth: no answer in time");
			return -1;
		}
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = om_asprintf("dovecot auth: %s",
					       n == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		c->len += (size_t)n;
	}
}

/* Drops the line just read from the buffer. */
static void web_auth_consume(struct web_auth_conn *c, const char *line)
{
	size_t used = strlen(line) + 1;

	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
}

/* Reads the server's handshake up to DONE; checks its major version. */
static int web_auth_handshake(struct web_auth_conn *c, char **error_r)
{
	char *line;
	int i, version_ok = 0;

	for (i = 0; i < WEB_AUTH_HANDSHAKE_MAX; i++) {
		if (web_auth_read_line(c, &line, error_r) < 0)
			return -1;
		if (strncmp(line, "VERSION\t1\t", 10) == 0)
			version_ok = 1;
		else if (strncmp(line, "VERSION\t", 8) == 0) {
			*error_r = om_strdup("dovecot auth: another protocol version");
			return -1;
		}
		if (strcmp(line, "DONE") == 0) {
			web_auth_consume(c, line);
			if (!version_ok) {
				*error_r = om_strdup("dovecot auth: no VERSION line");
				return -1;
			}
			return 0;
		}
		web_auth_consume(c, line);
	}
	*error_r = om_strdup("dovecot auth: handshake too long");
	return -1;
}

static void web_auth_base64(const unsigned char *in, size_t len, struct om_buf *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char quad[4];
	size_t i;
	unsigned int v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned int)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		quad[0] = abc[(v >> 18) & 63];
		quad[1] = abc[(v >> 12) & 63];
		quad[2] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? abc[v & 63] : '=';
		om_buf_append(out, quad, 4);
	}
}

/* The AUTH line for user and password (wiped by the caller). */
static void web_auth_request(struct om_buf *req, const char *user,
			     const char *password)
{
	size_t ulen = strlen(user), plen = strlen(password);
	unsigned char *plain = om_malloc(ulen + plen + 2);

	/* PLAIN: authzid (empty) NUL authcid NUL password */
	plain[0] = '\0';
	memcpy(plain + 1, user, ulen);
	plain[ulen + 1] = '\0';
	memcpy(plain + ulen + 2, password, plen);
	om_buf_append_str(req, "AUTH\t1\tPLAIN\tservice=omamori-web\tsecured\tno-penalty\tresp=");
	web_auth_base64(plain, ulen + plen + 2, req);
	om_buf_append_str(req, "\n");
	explicit_bzero(plain, ulen + plen + 2);
	free(plain);
}

/* The user= parameter of an OK line (allocated), or the name asked for. */
static char *web_auth_user_of(char *line, const char *asked)
{
	char *save = NULL, *field;

	for (field = strtok_r(line, "\t", &save); field != NULL;
	     field = strtok_r(NULL, "\t", &save)) {
		/* a value with Dovecot's \001 escapes is not a name we use */
		if (strncmp(field, "user=", 5) == 0 && field[5] != '\0' &&
		    strchr(field, '\001') == NULL)
			return om_strdup(field + 5);
	}
	return om_strdup(asked);
}

/* Reads the answer to request 1. */
static int web_auth_answer(struct web_auth_conn *c, const char *user,
			   char **user_r, char **error_r)
{
	char *line;

	if (web_auth_read_line(c, &line, error_r) < 0)
		return -1;
	if (strncmp(line, "OK\t1", 4) == 0 && (line[4] == '\0' || line[4] == '\t')) {
		*user_r = web_auth_user_of(line + 4, user);
		return 1;
	}
	if (strncmp(line, "FAIL\t1", 6) == 0 && (line[6] == '\0' || line[6] == '\t'))
		return 0;
	if (strncmp(line, "CONT\t1", 6) == 0)
		return 0;	/* PLAIN with its response needs no more */
	*error_r = om_strdup("dovecot auth: an answer we do not understand");
	return -1;
}

int web_auth_check(const char *socket_path, const char *user,
		   const char *password, char **user_r, char **error_r)
{
	struct web_auth_conn *c;
	struct om_buf req;
	char hello[64];
	int ret = -1;

	*user_r = NULL;
	if (strlen(user) > WEB_AUTH_FIELD_MAX || strlen(password) > WEB_AUTH_FIELD_MAX ||
	    strpbrk(user, "\t\n") != NULL)
		return 0;	/* no mailbox has such a name or password */
	c = om_calloc(1, sizeof(*c));
	c->deadline = om_now_ms() + WEB_AUTH_TIMEOUT_MS;
	if ((c->fd = web_auth_connect(socket_path, error_r)) < 0) {
		free(c);
		return -1;
	}
	om_buf_init(&req);
	snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
	if (web_auth_write(c, hello, strlen(hello), error_r) == 0 &&
	    web_auth_handshake(c, error_r) == 0) {
		web_auth_request(&req, user, password);
		if (web_auth_write(c, req.data, req.len, error_r) == 0)
			ret = web_auth_answer(c, user, user_r, error_r);
	}
	if (req.data != NULL)
		explicit_bzero(req.data, req.len);
	om_buf_free(&req);
	close(c->fd);
	free(c);
	return ret;
}
