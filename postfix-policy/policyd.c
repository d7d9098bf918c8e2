/* policyd.c - omamori-policyd: Postfix SMTP access policy delegation server.
 *
 * One event loop (epoll, non-blocking sockets) serving many persistent
 * Postfix connections, one request at a time per connection, answered from
 * memory by policy.c.  The store is checked every policyd_refresh_interval
 * seconds and the snapshot rebuilt only when it changed; rate counters are
 * saved every policyd_save_interval seconds and at exit, never per request.
 * A malformed request (no request=, a line without '=', a NUL byte, more
 * than policyd_max_request bytes) is logged and its connection closed with
 * no reply, so Postfix retries and then applies its default action.
 * SIGHUP reloads the snapshot; SIGTERM stops accepting, saves, exits.
 *
 * SECURITY: the input is Postfix's, but relayed from SMTP clients; every
 * buffer is bounded and attribute values reach logs only sanitised.  Starts
 * as root to bind its sockets (a UNIX socket inside Postfix's spool), then
 * drops to policyd_user for good.
 */
#include "daemon.h"
#include "log.h"
#include "om-config.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POLICYD_MAX_LISTENERS 4
#define POLICYD_EVENTS 256
/* A connection's first buffer: Postfix's requests are about 1 KB. */
#define POLICYD_BUF_START 4096

struct policyd_conn {
	int fd;
	char *buf;
	size_t len, cap;	/* cap grows up to max as requests need */
	size_t max;		/* policyd_max_request when it connected */
	size_t scanned;		/* of the request in buf, already looked at */
	struct om_buf out;	/* answers not yet written */
	int watching_out;	/* EPOLLOUT is in its epoll events */
};

struct policyd {
	struct om_config *config;
	const char *config_path;
	struct om_policy *policy;
	struct om_store *store;
	long long store_counter;
	int epoll_fd;
	int signal_fd;
	int listen_fds[POLICYD_MAX_LISTENERS];
	size_t listen_count;
	long connections;
	int stopping;
	time_t next_refresh, next_save;
	unsigned long long requests;
};

/* ---- listeners ---- */

static int policyd_listen_inet(const char *spec, char **error_r)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	char host[64];
	const char *colon = strrchr(spec, ':');
	int fd, one = 1;

	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
		*error_r = om_asprintf("policyd_listen: '%s' is not inet:ADDRESS:PORT", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	addr.in.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.in.sin_addr) != 1 || addr.in.sin_port == 0) {
		*error_r = om_asprintf("policyd_listen: bad address '%s'", spec);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &addr.sa, sizeof(addr.in)) < 0 || listen(fd, 1024) < 0) {
		*error_r = om_asprintf("listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int policyd_listen_all(struct policyd *d, char **error_r)
{
	char *copy = om_strdup(d->config->policyd_listen), *save = NULL, *tok;
	int fd;

	for (tok = strtok_r(copy, " ,", &save); tok != NULL;
	     tok = strtok_r(NULL, " ,", &save)) {
		if (d->listen_count == POLICYD_MAX_LISTENERS) {
			*error_r = om_strdup("policyd_listen: too many listeners");
			break;
		}
		if (strncmp(tok, "unix:", 5) == 0)
			fd = om_daemon_listen_unix(tok + 5, 0666, 1024, error_r);
		else if (strncmp(tok, "inet:", 5) == 0)
			fd = policyd_listen_inet(tok + 5, error_r);
		else {
			*error_r = om_asprintf("policyd_listen: '%s' is neither unix:PATH "
					       "nor inet:ADDRESS:PORT", tok);
			fd = -1;
		}
		if (fd < 0)
			break;
		d->listen_fds[d->listen_count++] = fd;
	}
	free(copy);
	if (tok == NULL && d->listen_count == 0)
		*error_r = om_strdup("policyd_listen is empty");
	return tok == NULL && d->listen_count > 0 ? 0 : -1;
}

/* ---- connections ---- */

static void policyd_close(struct policyd *d, struct policyd_conn *c)
{
	(void)epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	om_buf_free(&c->out);
	free(c);
	d->connections--;
}

static void policyd_accept(struct policyd *d, int lfd)
{
	struct epoll_event ev;
	struct policyd_conn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (d->connections >= d->config->policyd_max_connections) {
			om_log_warn("connection limit %ld reached: closing a new one",
				    d->config->policyd_max_connections);
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = om_calloc(1, sizeof(*c));
		c->fd = fd;
		c->max = (size_t)d->config->policyd_max_request;
		c->cap = c->max < POLICYD_BUF_START ? c->max : POLICYD_BUF_START;
		c->buf = om_malloc(c->cap + 1);
		om_buf_init(&c->out);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			om_log_error("epoll_ctl: %s", strerror(errno));
			close(fd);
			free(c->buf);
			free(c);
			continue;
		}
		d->connections++;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		om_log_warn("accept: %s", strerror(errno));
}

static void policyd_log_request(const struct om_policy_request *req,
				const struct om_policy_decision *dec)
{
	char *sender, *rcpt, *user;

	/* refusals and deferrals are logged with their reason; DUNNO and
	   FILTER (routing, which Postfix logs itself) only with -v */
	if (!om_log_verbose() && (strcmp(dec->action, "DUNNO") == 0 ||
				  strncmp(dec->action, "FILTER ", 7) == 0))
		return;
	sender = om_sanitize(req->sender, 128);
	rcpt = om_sanitize(req->recipient, 128);
	user = om_sanitize(req->sasl_username, 128);
	om_log_info("%s state=%s sender=<%s> recipient=<%s> sasl_username=%s "
		    "action=\"%s\" reason=\"%s\"", *req->instance ? req->instance : "-",
		    req->protocol_state, sender, rcpt, *user ? user : "-",
		    dec->action, dec->reason);
	free(sender);
	free(rcpt);
	free(user);
}

/* Answers every complete request in the buffer; -1 to close. */
static int policyd_handle_input(struct policyd *d, struct policyd_conn *c)
{
	struct om_policy_request req;
	struct om_policy_decision dec;
	const char *error;
	size_t used;
	int ret;

	for (;;) {
		ret = om_policy_parse(c->buf, c->len, c->max, &c->scanned, &req, &used,
				      &error);
		if (ret == 0)
			return 0;
		if (ret < 0) {
			om_log_warn("malformed policy request (%s): closing the "
				    "connection without an answer", error);
			return -1;
		}
		om_policy_decide(d->policy, &req, time(NULL), &dec);
		policyd_log_request(&req, &dec);
		om_buf_append_str(&c->out, "action=");
		om_buf_append_str(&c->out, dec.action);
		om_buf_append(&c->out, "\n\n", 2);
		d->requests++;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

/* Asks epoll for EPOLLOUT or stops asking; a system call only when that
   changes, so a request answered at once costs none. */
static int policyd_watch_out(struct policyd *d, struct policyd_conn *c, int want)
{
	struct epoll_event ev;

	if (c->watching_out == want)
		return 0;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -1;
	c->watching_out = want;
	return 0;
}

/* Writes what is pending; -1 on error. */
static int policyd_flush(struct policyd *d, struct policyd_conn *c)
{
	ssize_t n;

	while (c->out.len > 0) {
		n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return policyd_watch_out(d, c, 1);
		if (n < 0)
			return -1;
		memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
		c->out.len -= (size_t)n;
	}
	return policyd_watch_out(d, c, 0);
}

static void policyd_readable(struct policyd *d, struct policyd_conn *c)
{
	size_t room;
	ssize_t n;

	if (c->len == c->cap && c->cap < c->max) {
		c->cap = c->cap * 2 < c->max ? c->cap * 2 : c->max;
		c->buf = om_realloc(c->buf, c->cap + 1);
	}
	room = c->cap - c->len;
	if (room == 0) {
		om_log_warn("policy request over %zu bytes: closing the connection",
			    c->max);
		policyd_close(d, c);
		return;
	}
	n = recv(c->fd, c->buf + c->len, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->len > 0)
			om_log_warn("connection closed in the middle of a request");
		policyd_close(d, c);
		return;
	}
	c->len += (size_t)n;
	if (policyd_handle_input(d, c) < 0 || policyd_flush(d, c) < 0)
		policyd_close(d, c);
}

/* ---- timers and signals ---- */

static void policyd_refresh(struct policyd *d, int force)
{
	long long counter = om_store_change_counter(d->store);
	char *error = NULL;
	int ret;

	/* data_version is free to read; the revision query only runs when
	   somebody committed something */
	if (!force && counter == d->store_counter)
		return;
	ret = force ? om_policy_load(d->policy, d->store, &error) :
		om_policy_refresh(d->policy, d->store, &error);
	if (ret < 0) {
		om_log_error("reloading lists and settings: %s (keeping the old ones)", error);
		free(error);
		return;
	}
	d->store_counter = counter;
	if (force || (ret > 0 && om_log_verbose())) {
		size_t entries, instances, users;

		om_policy_stats(d->policy, &entries, &instances, &users);
		om_log_info("lists and settings loaded: %zu list entries", entries);
	}
}

static void policyd_save(struct policyd *d)
{
	char *error = NULL;

	if (om_policy_save_rates(d->policy, d->store, time(NULL), &error) < 0) {
		om_log_error("saving rate counters: %s", error);
		free(error);
	}
	/* our own write moved the counter: do not reload for it */
	d->store_counter = om_store_change_counter(d->store);
}

static void policyd_timers(struct policyd *d)
{
	time_t now = time(NULL);

	if (now >= d->next_refresh) {
		policyd_refresh(d, 0);
		d->next_refresh = now + d->config->policyd_refresh_interval;
	}
	if (now >= d->next_save) {
		policyd_save(d);
		om_policy_expire(d->policy, now);
		d->next_save = now + d->config->policyd_save_interval;
	}
}


/* SIGHUP: the configuration again (all but the listeners, which need a
   restart), then the lists and settings.  A bad file keeps the old one. */
static void policyd_reload_config(struct policyd *d)
{
	struct om_config *fresh = NULL;
	char *error = NULL;

	if (om_config_load(d->config_path, &fresh, &error) < 0) {
		om_log_error("SIGHUP: %s (keeping the running configuration)", error);
		free(error);
		return;
	}
	if (strcmp(fresh->policyd_listen, d->config->policyd_listen) != 0)
		om_log_warn("SIGHUP: policyd_listen changed; it takes effect at the next start");
	free(fresh->policyd_listen);
	fresh->policyd_listen = om_strdup(d->config->policyd_listen);
	om_config_free(&d->config);
	d->config = fresh;
	om_log_info("SIGHUP: configuration reloaded (max_request=%ld)",
		    d->config->policyd_max_request);
}

static void policyd_signal(struct policyd *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			policyd_reload_config(d);
			policyd_refresh(d, 1);
		} else {
			om_log_info("signal %u: stopping", si.ssi_signo);
			d->stopping = 1;
		}
	}
}

#define POLICYD_TAG_SIGNAL ((void *)1)

static int policyd_is_listener(const struct policyd *d, void *ptr, int *fd_r)
{
	size_t i;

	for (i = 0; i < d->listen_count; i++) {
		if (ptr == (void *)&d->listen_fds[i]) {
			*fd_r = d->listen_fds[i];
			return 1;
		}
	}
	return 0;
}

static void policyd_loop(struct policyd *d)
{
	struct epoll_event events[POLICYD_EVENTS];
	int n, i, lfd;

	while (!d->stopping) {
		n = epoll_wait(d->epoll_fd, events, POLICYD_EVENTS, 250);
		if (n < 0 && errno != EINTR) {
			om_log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (events[i].data.ptr == POLICYD_TAG_SIGNAL)
				policyd_signal(d);
			else if (policyd_is_listener(d, events[i].data.ptr, &lfd))
				policyd_accept(d, lfd);
			else if ((events[i].events & EPOLLOUT) != 0 &&
				 policyd_flush(d, events[i].data.ptr) < 0)
				policyd_close(d, events[i].data.ptr);
			else if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0)
				policyd_readable(d, events[i].data.ptr);
		}
		policyd_timers(d);
	}
}

static void policyd_setup(struct policyd *d, const char *config_path, int foreground __attribute__((unused)))
{
	struct epoll_event ev;
	char *error = NULL;
	size_t i;

	d->config_path = config_path;
	if (om_config_load(config_path, &d->config, &error) < 0)
		om_fatal("%s", error);
	om_log_open("omamori-policyd", strcmp(d->config->log, "syslog") == 0);
	if ((d->signal_fd = om_daemon_signalfd(&error)) < 0 ||
	    policyd_listen_all(d, &error) < 0 ||
	    om_daemon_drop_privileges(d->config->policyd_user, &error) < 0 ||
	    om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
			  &d->store, &error) < 0)
		om_fatal("%s", error);
	d->policy = om_policy_new();
	if (om_policy_load_rates(d->policy, d->store, &error) < 0)
		om_fatal("%s", error);
	policyd_refresh(d, 1);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epoll_fd < 0)
		om_fatal("epoll_create1: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.ptr = POLICYD_TAG_SIGNAL;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->signal_fd, &ev) < 0)
		om_fatal("epoll_ctl: %s", strerror(errno));
	for (i = 0; i < d->listen_count; i++) {
		ev.data.ptr = &d->listen_fds[i];
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->listen_fds[i], &ev) < 0)
			om_fatal("epoll_ctl: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct policyd d;
	int c, foreground = 0;
	size_t i;

	memset(&d, 0, sizeof(d));
	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'v': om_log_set_verbose(1); break;
		default:
			fprintf(stderr, "usage: omamori-policyd [-c config] [-f] [-v]\n");
			return 2;
		}
	}
	policyd_setup(&d, config_path, foreground);
	om_log_info("ready: listen=%s", d.config->policyd_listen);
	policyd_loop(&d);
	for (i = 0; i < d.listen_count; i++)
		close(d.listen_fds[i]);
	policyd_save(&d);
	om_log_info("stopped after %llu requests; rate counters saved", d.requests);
	om_policy_free(&d.policy);
	om_store_close(&d.store);
	om_config_free(&d.config);
	return 0;
}
