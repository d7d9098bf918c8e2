/* policyd.c - omamori-policyd: Postfix SMTP access policy delegation server.
 *
 * One event loop (epoll, non-blocking sockets) serving many persistent
 * Postfix connections, one request at a time per connection, answered from
 * memory by policy.c.  The store is checked every policyd_refresh_interval
 * seconds, and at once when a change is notified (PostgreSQL), and the
 * snapshot updated only when it changed; rate counters are
 * merged into the store (every host's add up) every policyd_save_interval
 * seconds and at exit, never per request.  After start-up every store
 * call is the store thread's (policyd-store.c): the loop hands it typed
 * jobs and applies their results in memory, so a store that hangs never
 * holds up an answer.
 * A malformed request (no request=, a line without '=', a NUL byte, more
 * than policyd_max_request bytes) is logged and its connection closed with
 * no reply, so Postfix retries and then applies its default action.
 * SIGHUP reloads the snapshot; SIGTERM stops accepting, saves, removes the
 * UNIX sockets it bound (if they are still its own) and exits.
 *
 * Connections are limited per listener, as Postfix limits each master.cf
 * service: policyd_unix_max_connections for each unix: listener (Postfix's
 * own socket), policyd_inet_max_connections for each inet: one, so clients
 * of one listener can never take the slots of another.  A connection that
 * has not sent a request for policyd_idle_timeout seconds is closed (longer
 * than Postfix's smtpd_policy_service_max_idle, so Postfix normally closes
 * its cached connections first; one we close costs Postfix a reconnect and
 * a retry).  A listener at its cap closes its longest-silent connection for
 * a new one rather than refusing it, so clients holding idle connections
 * cannot lock real ones out.  The caps must fit in the open file limit,
 * whose soft value is raised to the hard one at start.
 *
 * omamori's own SPF check (issue 15, doc/auth.md) runs at DATA (policy.c
 * says when): libspf2 through omamori's resolver (auth/spf.c, dns/dns.c),
 * each lookup bounded by dns_timeout_ms, and its results cached per
 * (client address, MAIL FROM domain, HELO) for POLICYD_SPF_TTL seconds, so
 * a client sending many messages costs one evaluation.  A temperror is
 * never cached.  The evaluation blocks the event loop for the time its
 * lookups take (a few milliseconds against a nearby recursive resolver,
 * at worst some dns_timeout_ms): a known limit, see doc/auth.md.
 *
 * SECURITY: the input is Postfix's, but relayed from SMTP clients; every
 * buffer is bounded and attribute values reach logs only sanitised.  Starts
 * as root to bind its sockets (a UNIX socket inside Postfix's spool), then
 * drops to policyd_user for good.
 */
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/om-config.h"
#include "auth/spf.h"
#include "decide/brake.h"
#include "decide/policy.h"
#include "dns/dns.h"
#include "lib/hash.h"
#include "metrics/metrics.h"
#include "metrics/metrics-http.h"
#include "policyd-store.h"
#include "policyd-trace.h"
#include "store/events.h"
#include "store/store.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLICYD_MAX_LISTENERS 4
#define POLICYD_EVENTS 256
/* A connection's first buffer: Postfix's requests are about 1 KB. */
#define POLICYD_BUF_START 4096
/* Open files kept for all but connections: stdio, epoll, signalfd, the
   listeners, the store's SQLite files, syslog. */
#define POLICYD_RESERVED_FDS 64
/* A listener at its cap closes its longest-silent connection for a new one
   only if that one has been silent this long (seconds); otherwise the new
   one is refused, so a burst of connects cannot cut off connections in
   the middle of their requests. */
#define POLICYD_EVICT_MIN_IDLE 1
/* SPF results kept this long (seconds), and at most this many. */
#define POLICYD_SPF_TTL 300
#define POLICYD_SPF_CACHE_MAX 20000

/* At exit, the final save waits at most this long for the store (ms). */
#define POLICYD_EXIT_WAIT_MS 10000

/* Seconds between two "at its cap" warnings of one listener. */
#define POLICYD_FULL_LOG_INTERVAL 60

struct policyd_conn;

struct policyd_listener {
	int fd;
	int is_unix;
	char *spec;		/* its word of policyd_listen, for logs */
	dev_t dev;		/* unix: the socket file it bound */
	ino_t ino;
	long connections;
	/* its connections, by the time of their last request (or accept) */
	struct policyd_conn *oldest, *newest;
	time_t full_logged;	/* last "at its cap" warning */
	unsigned long evicted, refused;	/* since that warning */
};

struct policyd_conn {
	int fd;			/* -1 once closed, freed after the event batch */
	struct policyd_listener *listener;
	struct policyd_conn *older, *newer;
	time_t active;		/* monotonic: accepted, or last request answered */
	char *buf;
	size_t len, cap;	/* cap grows up to max as requests need */
	size_t max;		/* policyd_max_request when it connected */
	size_t scanned;		/* of the request in buf, already looked at */
	struct om_buf out;	/* answers not yet written */
	int watching_out;	/* EPOLLOUT is in its epoll events */
};

struct policyd_spf_entry {
	enum om_ar_result result;
	time_t expires;		/* monotonic */
};

/* omamori's SPF check: the resolver, libspf2, the results of late */
struct policyd_spf {
	struct om_dns *dns;
	struct om_spf *spf;
	struct om_hash *cache;	/* "ip\tdomain\thelo" -> policyd_spf_entry */
	unsigned long long evaluated, cached;
	struct om_metric *m_spf;	/* the same for the metrics */
};

struct policyd {
	struct om_config *config;
	struct policyd_spf spf;
	const char *config_path;
	struct om_policy *policy;
	struct om_store *store;	/* start-up's (and the trace's fallback) */
	/* the store thread: every other store call (policyd-store.c) */
	struct policyd_store *st;
	int st_done_fd;
	int in_flight[POLICYD_JOB_KINDS];	/* one job of each kind at most */
	int refresh_wanted, refresh_force;	/* asked while one ran */
	int epoll_fd;
	int signal_fd;
	struct policyd_listener listeners[POLICYD_MAX_LISTENERS];
	size_t listen_count;
	struct policyd_conn *closed;	/* to free once the event batch is done */
	rlim_t open_files;		/* the soft RLIMIT_NOFILE */
	int stopping;
	time_t next_refresh, next_save;
	unsigned long long requests;
	/* the answers for the message trace, written in batches */
	struct policyd_trace *trace;
	uint64_t next_trace;	/* monotonic ms */
	/* Prometheus metrics (doc/metrics.md): the loop adds to atomics, the
	   endpoint's thread reads them */
	struct om_metrics *metrics;
	struct om_metric *m_requests;	/* {action} */
	struct om_metrics_server *metrics_server;
	const char *kinds[OM_POLICY_KIND_COUNT];
	struct om_buf scratch;	/* an answer's text for its log line */
};

/* ---- listeners ---- */

static int policyd_listen_inet(const char *spec, char **error_r)
{
	union { struct sockaddr sa; struct sockaddr_in in; } addr;
	char host[64];
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	int fd, one = 1;

	memset(&addr, 0, sizeof(addr));
	addr.in.sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
		*error_r = om_asprintf("policyd_listen: '%s' is not inet:ADDRESS:PORT", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (om_parse_ulong(colon + 1, 1, 65535, &port) < 0 ||
	    inet_pton(AF_INET, host, &addr.in.sin_addr) != 1) {
		*error_r = om_asprintf("policyd_listen: bad address '%s'", spec);
		return -1;
	}
	addr.in.sin_port = htons((uint16_t)port);
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

/* A unix: listener remembers the file it bound, so that at exit it removes
   that file and not a newer daemon's socket at the same path. */
static int policyd_listen_unix(struct policyd_listener *l, const char *path,
			       char **error_r)
{
	struct stat st;

	l->fd = om_daemon_listen_unix(path, 0666, 1024, error_r);
	if (l->fd < 0)
		return -1;
	if (stat(path, &st) < 0) {
		*error_r = om_asprintf("stat(%s): %s", path, strerror(errno));
		close(l->fd);
		return -1;
	}
	l->is_unix = 1;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
}

static int policyd_listen_all(struct policyd *d, char **error_r)
{
	char *copy = om_strdup(d->config->policyd_listen), *save = NULL, *tok;
	struct policyd_listener *l;
	int ret;

	for (tok = strtok_r(copy, " ,", &save); tok != NULL;
	     tok = strtok_r(NULL, " ,", &save)) {
		if (d->listen_count == POLICYD_MAX_LISTENERS) {
			*error_r = om_strdup("policyd_listen: too many listeners");
			break;
		}
		l = &d->listeners[d->listen_count];
		memset(l, 0, sizeof(*l));
		if (strncmp(tok, "unix:", 5) == 0)
			ret = policyd_listen_unix(l, tok + 5, error_r);
		else if (strncmp(tok, "inet:", 5) == 0)
			ret = (l->fd = policyd_listen_inet(tok + 5, error_r)) < 0 ? -1 : 0;
		else {
			*error_r = om_asprintf("policyd_listen: '%s' is neither unix:PATH "
					       "nor inet:ADDRESS:PORT", tok);
			ret = -1;
		}
		if (ret < 0)
			break;
		l->spec = om_strdup(tok);
		d->listen_count++;
	}
	free(copy);
	if (tok == NULL && d->listen_count == 0)
		*error_r = om_strdup("policyd_listen is empty");
	return tok == NULL && d->listen_count > 0 ? 0 : -1;
}

static void policyd_socket_stays(const struct policyd *d, const char *path)
{
	om_log_info("%s stays: user %s may not remove it (%s); the next start "
		    "replaces it", path, d->config->policyd_user, strerror(errno));
}

/* Removes the UNIX sockets this daemon bound, each only if the path still
   names the file it bound (a daemon started since has its own there).  In
   a directory policyd_user may not search or write (Debian's private/ is
   postfix's, mode 0700) the file stays; the next start replaces it. */
static void policyd_remove_sockets(struct policyd *d)
{
	struct policyd_listener *l;
	const char *path;
	struct stat st;
	size_t i;

	for (i = 0; i < d->listen_count; i++) {
		l = &d->listeners[i];
		path = l->spec + 5;
		if (!l->is_unix)
			continue;
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				policyd_socket_stays(d, path);
			continue;
		}
		if (!S_ISSOCK(st.st_mode) || st.st_dev != l->dev || st.st_ino != l->ino) {
			om_log_info("%s is no longer the socket this daemon bound: left alone",
				    path);
			continue;
		}
		if (unlink(path) == 0)
			continue;
		if (errno == EACCES || errno == EPERM)
			policyd_socket_stays(d, path);
		else if (errno != ENOENT)
			om_log_warn("unlink(%s): %s", path, strerror(errno));
	}
}

/* Monotonic seconds, for idle times that a clock change must not move. */
static time_t policyd_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return time(NULL);
	return ts.tv_sec;
}

static long policyd_cap(const struct policyd *d, const struct policyd_listener *l)
{
	return l->is_unix ? d->config->policyd_unix_max_connections :
		d->config->policyd_inet_max_connections;
}

/* The listener's list of its connections, newest last. */
static void policyd_conn_link(struct policyd_conn *c, time_t now)
{
	struct policyd_listener *l = c->listener;

	c->active = now;
	c->older = l->newest;
	c->newer = NULL;
	if (l->newest != NULL)
		l->newest->newer = c;
	else
		l->oldest = c;
	l->newest = c;
}

static void policyd_conn_unlink(struct policyd_conn *c)
{
	struct policyd_listener *l = c->listener;

	if (c->older != NULL)
		c->older->newer = c->newer;
	else
		l->oldest = c->newer;
	if (c->newer != NULL)
		c->newer->older = c->older;
	else
		l->newest = c->older;
	c->older = c->newer = NULL;
}

/* A request answered: the connection is the listener's newest. */
static void policyd_conn_touch(struct policyd_conn *c, time_t now)
{
	if (c->listener->newest == c) {
		c->active = now;
		return;
	}
	policyd_conn_unlink(c);
	policyd_conn_link(c, now);
}

/* Closes at once; the memory waits for the end of the event batch, which
   may still hold an event of this connection. */
static void policyd_close(struct policyd *d, struct policyd_conn *c)
{
	if (c->fd < 0)
		return;
	(void)epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	policyd_conn_unlink(c);
	c->listener->connections--;
	c->newer = d->closed;
	d->closed = c;
}

static void policyd_free_closed(struct policyd *d)
{
	struct policyd_conn *c;

	while ((c = d->closed) != NULL) {
		d->closed = c->newer;
		free(c->buf);
		om_buf_free(&c->out);
		free(c);
	}
}

/* At most one warning a minute per listener, with what it did since. */
static void policyd_log_full(struct policyd *d, struct policyd_listener *l,
			     time_t now)
{
	if (l->full_logged != 0 && now - l->full_logged < POLICYD_FULL_LOG_INTERVAL)
		return;
	om_log_warn("listener %s at its cap of %ld connections: closed %lu "
		    "longest-idle connections, refused %lu new ones", l->spec,
		    policyd_cap(d, l), l->evicted, l->refused);
	l->full_logged = now;
	l->evicted = l->refused = 0;
}

/* Room for one more connection on l: its longest-silent connections are
   closed while it is at its cap.  0 when even the longest-silent one
   answered a request within POLICYD_EVICT_MIN_IDLE: refuse the new one. */
static int policyd_make_room(struct policyd *d, struct policyd_listener *l,
			     time_t now)
{
	long cap = policyd_cap(d, l);

	while (l->connections >= cap) {
		if (l->oldest == NULL || now - l->oldest->active < POLICYD_EVICT_MIN_IDLE) {
			l->refused++;
			policyd_log_full(d, l, now);
			return 0;
		}
		policyd_close(d, l->oldest);
		l->evicted++;
		policyd_log_full(d, l, now);
	}
	return 1;
}

static void policyd_add_conn(struct policyd *d, struct policyd_listener *l,
			     int fd, time_t now)
{
	struct epoll_event ev;
	struct policyd_conn *c;
	int one = 1;

	if (!l->is_unix)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = om_calloc(1, sizeof(*c));
	c->fd = fd;
	c->listener = l;
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
		return;
	}
	l->connections++;
	policyd_conn_link(c, now);
}

static void policyd_accept(struct policyd *d, struct policyd_listener *l)
{
	time_t now = policyd_now();
	int fd;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			break;
		if (!policyd_make_room(d, l, now)) {
			close(fd);
			continue;
		}
		policyd_add_conn(d, l, fd, now);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return;
	om_log_warn("accept on %s: %s", l->spec, strerror(errno));
	/* out of files although the caps fit the limit: something else holds
	   them; free one, or the listener stays readable and we spin */
	if ((errno == EMFILE || errno == ENFILE) && l->oldest != NULL)
		policyd_close(d, l->oldest);
}

/* Closes the connections silent for policyd_idle_timeout seconds: the
   oldest of each listener first, so this costs nothing when none is. */
static void policyd_close_idle(struct policyd *d, time_t now)
{
	struct policyd_listener *l;
	unsigned long closed = 0;
	size_t i;

	for (i = 0; i < d->listen_count; i++) {
		l = &d->listeners[i];
		while (l->oldest != NULL &&
		       now - l->oldest->active >= d->config->policyd_idle_timeout) {
			policyd_close(d, l->oldest);
			closed++;
		}
	}
	if (closed > 0 && om_log_verbose())
		om_log_info("closed %lu connections idle for %lds", closed,
			    d->config->policyd_idle_timeout);
}

/* The open file limit: soft raised to hard, so that the caps are reachable;
   the caps of config's listeners must fit in it.  0, or -1 with *error_r. */
static int policyd_fit_open_files(struct policyd *d, const struct om_config *config,
				  int raise, char **error_r)
{
	unsigned long long need = POLICYD_RESERVED_FDS;
	struct rlimit rl;
	size_t i;

	for (i = 0; i < d->listen_count; i++)
		need += (unsigned long long)(d->listeners[i].is_unix ?
					     config->policyd_unix_max_connections :
					     config->policyd_inet_max_connections);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		*error_r = om_asprintf("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return -1;
	}
	if (raise && rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			om_log_warn("raising the open file limit from %llu to %llu: %s",
				    (unsigned long long)soft,
				    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = soft;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && need > (unsigned long long)rl.rlim_cur) {
		*error_r = om_asprintf("%s: the connection caps need %llu open files "
				       "(policyd_unix_max_connections = %ld per unix: "
				       "listener, policyd_inet_max_connections = %ld per "
				       "inet: listener, %d more for the rest), but the "
				       "open file limit is %llu: lower the caps or raise "
				       "the limit (LimitNOFILE= in the systemd unit)",
				       config->path, need, config->policyd_unix_max_connections,
				       config->policyd_inet_max_connections,
				       POLICYD_RESERVED_FDS, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	d->open_files = rl.rlim_cur;
	return 0;
}

/* ---- omamori's SPF check ---- */

static time_t policyd_now(void);

/* The cache key: the client, the MAIL FROM domain (the HELO name for the
   null sender) and the HELO name, lower case. */
static int policyd_spf_key(char *key, size_t size, const char *ip,
			   const char *helo, const char *sender)
{
	const char *at = strrchr(sender, '@');
	char *p;
	int n;

	n = snprintf(key, size, "%s\t%s\t%s", ip, at != NULL ? at + 1 : sender, helo);
	if (n < 0 || (size_t)n >= size)
		return -1;
	for (p = key; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return 0;
}

static enum om_ar_result policyd_spf_check(void *context, const char *ip,
					   const char *helo, const char *sender,
					   char *why, size_t why_size)
{
	struct policyd_spf *ps = context;
	struct policyd_spf_entry *entry;
	enum om_ar_result result;
	time_t now = policyd_now();
	char key[800];
	int keyed;

	keyed = policyd_spf_key(key, sizeof(key), ip, helo, sender) == 0;
	entry = keyed ? om_hash_get(ps->cache, key) : NULL;
	if (entry != NULL && entry->expires > now) {
		ps->cached++;
		om_metric_add(ps->m_spf, 1, 0, 1);
		snprintf(why, why_size, "cached");
		return entry->result;
	}
	result = om_spf_check(ps->spf, ip, helo, sender, why, why_size);
	ps->evaluated++;
	om_metric_add(ps->m_spf, 0, 0, 1);
	if (!keyed || result == OM_AR_TEMPERROR)
		return result;
	if (om_hash_count(ps->cache) >= POLICYD_SPF_CACHE_MAX) {
		om_hash_free(&ps->cache, free);
		ps->cache = om_hash_new(1024);
	}
	entry = om_calloc(1, sizeof(*entry));
	entry->result = result;
	entry->expires = now + POLICYD_SPF_TTL;
	free(om_hash_set(ps->cache, key, entry));
	return result;
}

static void policyd_spf_close(struct policyd_spf *ps)
{
	om_spf_free(&ps->spf);
	om_dns_free(&ps->dns);
	om_hash_free(&ps->cache, free);
}

/* The resolver and libspf2 for config; the policy asks them at DATA.
   Without trusted_authserv_id there is no header to write: no check. */
static int policyd_spf_open(struct policyd *d, const struct om_config *config,
			    char **error_r)
{
	struct policyd_spf fresh;

	memset(&fresh, 0, sizeof(fresh));
	if (*config->trusted_authserv_id != '\0' &&
	    (om_dns_new(config->dns_resolver, config->dns_timeout_ms, &fresh.dns,
			error_r) < 0 ||
	     om_spf_new(fresh.dns, config->own_authserv_id, &fresh.spf,
			error_r) < 0)) {
		policyd_spf_close(&fresh);
		return -1;
	}
	fresh.cache = om_hash_new(1024);
	fresh.m_spf = d->spf.m_spf;	/* the metrics outlive a reload */
	policyd_spf_close(&d->spf);
	d->spf = fresh;
	if (d->spf.spf != NULL)
		om_policy_set_spf(d->policy, config->trusted_authserv_id,
				  policyd_spf_check, &d->spf);
	else
		om_policy_set_spf(d->policy, "", NULL, NULL);
	return 0;
}

/* s as a log line may show it: s itself when om_sanitize would leave it as
   it is (the usual case, no copy), else a sanitised copy left in *copy_r
   for the caller to free. */
static const char *policyd_clean(const char *s, size_t maxbytes, char **copy_r)
{
	if (om_sanitize_unchanged(s, maxbytes) != (size_t)-1)
		return s;
	*copy_r = om_sanitize(s, maxbytes);
	return *copy_r;
}

static void policyd_log_request(struct om_buf *action,
				const struct om_policy_request *req,
				const struct om_policy_decision *dec)
{
	char *copies[5] = { NULL, NULL, NULL, NULL, NULL };
	const char *instance, *state, *sender, *rcpt, *user;
	size_t i;

	/* refusals and deferrals are logged with their reason; DUNNO and
	   FILTER (routing, which Postfix logs itself) only with -v */
	if (!om_log_verbose() && (dec->kind == OM_POLICY_DUNNO ||
				  dec->kind == OM_POLICY_FILTER))
		return;
	om_buf_reset(action);
	om_policy_action_text(dec, action);
	/* every attribute is the client's text; the reason quotes it
	   sanitised already (policy.c) */
	instance = policyd_clean(*req->instance ? req->instance : "-", 64, &copies[0]);
	state = policyd_clean(req->protocol_state, 32, &copies[1]);
	sender = policyd_clean(req->sender, 128, &copies[2]);
	rcpt = policyd_clean(req->recipient, 128, &copies[3]);
	user = policyd_clean(req->sasl_username, 128, &copies[4]);
	om_log_info("%s state=%s sender=<%s> recipient=<%s> sasl_username=%s "
		    "action=\"%s\" reason=\"%s\"", instance, state, sender, rcpt,
		    *user ? user : "-", action->data, dec->reason);
	for (i = 0; i < OM_N_ELEMENTS(copies); i++)
		free(copies[i]);
}

static void policyd_trip_saved(void *context, const struct om_store_brake *trip)
{
	char *login = om_sanitize(trip->login, 128);

	(void)context;
	om_log_warn("brake: %s braked: %lld messages, %lld distinct recipients in "
		    "the last hour (limits %lld, %lld); its mail is held for the "
		    "administrator until: omamorictl brake lift %s", login,
		    trip->messages, trip->recipients, trip->limit_messages,
		    trip->limit_recipients, login);
	free(login);
}

/* A trip is written at once (once per trip, not per request), by the
   store thread: the filter finds the brake row when the first held
   message arrives, and a lift has something to lift.  A trip while one
   is being written waits for its return. */
static void policyd_save_trips(struct policyd *d)
{
	struct policyd_job *job;
	struct om_brake_trips_job *trips;

	if (d->in_flight[POLICYD_JOB_TRIPS] ||
	    !om_brake_trips_pending(om_policy_brake(d->policy)))
		return;
	trips = om_brake_take_trips(om_policy_brake(d->policy));
	if (trips == NULL)
		return;
	job = om_calloc(1, sizeof(*job));
	job->kind = POLICYD_JOB_TRIPS;
	job->trips = trips;
	d->in_flight[POLICYD_JOB_TRIPS] = 1;
	policyd_store_post(d->st, job);
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
		policyd_log_request(&d->scratch, &req, &dec);
		policyd_trace_answer(d->trace, &req, &dec, time(NULL));
		if (dec.tripped)
			policyd_save_trips(d);
		om_buf_append_str(&c->out, "action=");
		om_policy_action_text(&dec, &c->out);
		om_buf_append(&c->out, "\n\n", 2);
		d->requests++;
		om_metric_add(d->m_requests, (size_t)dec.kind, 0, 1);
		policyd_conn_touch(c, policyd_now());
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

#define POLICYD_TAG_STORE ((void *)2)

static void policyd_log_loaded(struct policyd *d, int force, int changed)
{
	size_t entries, instances, users;

	if (!force && !(changed && om_log_verbose()))
		return;
	om_policy_stats(d->policy, &entries, &instances, &users);
	om_log_info("lists and settings loaded: %zu list entries", entries);
}

/* Start-up only: the first lists, read on the loop before the first
   request is answered. */
static void policyd_load(struct policyd *d)
{
	char *error = NULL;

	if (om_policy_load(d->policy, d->store, &error) < 0)
		om_fatal("reading lists and settings: %s", error);
	policyd_log_loaded(d, 1, 1);
}

/* Asks the store thread what changed since the revisions applied last
   (force: everything, SIGHUP); one refresh at a time, one asked
   meanwhile is remembered. */
static void policyd_refresh(struct policyd *d, int force)
{
	struct policyd_job *job;

	if (d->in_flight[POLICYD_JOB_REFRESH]) {
		d->refresh_wanted = 1;
		d->refresh_force |= force;
		return;
	}
	job = om_calloc(1, sizeof(*job));
	job->kind = POLICYD_JOB_REFRESH;
	job->force = force;
	job->config_since = om_policy_revision(d->policy);
	job->brake_since = om_brake_revision(om_policy_brake(d->policy));
	d->in_flight[POLICYD_JOB_REFRESH] = 1;
	d->refresh_wanted = d->refresh_force = 0;
	policyd_store_post(d->st, job);
}

static void policyd_refresh_done(struct policyd *d, struct policyd_job *job)
{
	int ret = 0;

	if (!job->changed)
		return;
	if (job->brake_error != NULL)
		om_log_error("reading brakes: %s", job->brake_error);
	else if (job->brake != NULL)
		om_brake_apply_changes(om_policy_brake(d->policy), job->brake);
	if (job->snap_error != NULL) {
		om_log_error("reloading lists and settings: %s (keeping the old ones)",
			     job->snap_error);
		return;
	}
	if (job->snap != NULL) {
		ret = om_policy_apply_changes(d->policy, job->snap);
		if (ret == 0) {
			/* read from a revision since gone: everything again */
			d->refresh_wanted = 1;
			d->refresh_force = 1;
		}
	}
	policyd_log_loaded(d, job->force, ret > 0);
}

/* Hands the store thread what was counted since the last save (brake
   history, rate increments, correspondents): taken out of memory into
   the job, given back if the write fails.  One save at a time. */
static void policyd_save(struct policyd *d, int final)
{
	struct policyd_job *job;
	time_t now = time(NULL);

	policyd_save_trips(d);
	if (d->in_flight[POLICYD_JOB_SAVE])
		return;
	job = om_calloc(1, sizeof(*job));
	job->kind = POLICYD_JOB_SAVE;
	job->batch = om_brake_take_batch(om_policy_brake(d->policy), now, final);
	job->save = om_policy_take_save(d->policy, now);
	d->in_flight[POLICYD_JOB_SAVE] = 1;
	policyd_store_post(d->st, job);
}

static void policyd_save_done(struct policyd *d, struct policyd_job *job)
{
	if (job->batch_error != NULL)
		om_log_error("saving sender history: %s", job->batch_error);
	if (job->rates_error != NULL)
		om_log_error("saving rate counters: %s (merged at the next save)",
			     job->rates_error);
	if (job->correspondents_error != NULL)
		om_log_error("saving correspondents: %s", job->correspondents_error);
	om_brake_batch_done(om_policy_brake(d->policy), &job->batch);
	om_policy_save_done(d->policy, &job->save);
}

static void policyd_trips_done(struct policyd *d, struct policyd_job *job)
{
	if (job->trips_error != NULL)
		om_log_error("saving a brake: %s (tried again; the login is braked "
			     "all the same)", job->trips_error);
	om_brake_trips_done(om_policy_brake(d->policy), &job->trips,
			    policyd_trip_saved, NULL);
}

/* The store thread's results, applied in memory. */
static void policyd_jobs_done(struct policyd *d)
{
	struct policyd_job *jobs = policyd_store_done(d->st), *job;

	while ((job = jobs) != NULL) {
		jobs = job->next;
		switch (job->kind) {
		case POLICYD_JOB_REFRESH:
			policyd_refresh_done(d, job);
			break;
		case POLICYD_JOB_SAVE:
			policyd_save_done(d, job);
			break;
		case POLICYD_JOB_TRIPS:
			policyd_trips_done(d, job);
			break;
		case POLICYD_JOB_NOTIFY:
			d->refresh_wanted = 1;
			break;
		default:
			break;
		}
		if (job->kind != POLICYD_JOB_NOTIFY)
			d->in_flight[job->kind] = 0;
		policyd_job_free(&job);
	}
	if (d->refresh_wanted && !d->stopping)
		policyd_refresh(d, d->refresh_force);
	if (!d->stopping)
		policyd_save_trips(d);
}

static void policyd_timers(struct policyd *d)
{
	time_t now = time(NULL);

	policyd_close_idle(d, policyd_now());
	/* the trace's batch: every OM_EVENTS_FLUSH_MS, or sooner when
	   OM_EVENTS_FLUSH_COUNT answers wait.  With the writer thread the
	   loop only wakes it, and moves the answers that waited long enough
	   for their queue id once a flush interval */
	if (policyd_trace_threaded(d->trace)) {
		if (policyd_trace_due(d->trace))
			policyd_trace_kick(d->trace);
		if (om_now_ms() >= d->next_trace) {
			policyd_trace_expire(d->trace, now);
			d->next_trace = om_now_ms() + OM_EVENTS_FLUSH_MS;
		}
	} else if (om_now_ms() >= d->next_trace || policyd_trace_due(d->trace)) {
		/* the counter moves with our own write: the next refresh reads
		   the config revision once and finds nothing changed (not set
		   here: another's commit in the meantime would be missed) */
		policyd_trace_flush(d->trace, d->store, now, 0);
		d->next_trace = om_now_ms() + OM_EVENTS_FLUSH_MS;
	}
	if (now >= d->next_refresh) {
		policyd_refresh(d, 0);
		d->next_refresh = now + d->config->policyd_refresh_interval;
	}
	if (now >= d->next_save) {
		policyd_save(d, 0);
		om_policy_expire(d->policy, now);
		d->next_save = now + d->config->policyd_save_interval;
	}
}


/* SIGHUP: the configuration again (all but the listeners, which need a
   restart), then the lists and settings.  A bad file, or caps that do not
   fit the open file limit, keep the old one.  New caps apply to the next
   connection accepted, a new idle timeout at once. */
static void policyd_reload_config(struct policyd *d)
{
	struct om_config *fresh = NULL;
	char *error = NULL;

	if (om_config_load(d->config_path, &fresh, &error) < 0 ||
	    policyd_fit_open_files(d, fresh, 0, &error) < 0) {
		om_log_error("SIGHUP: %s (keeping the running configuration)", error);
		free(error);
		om_config_free(&fresh);
		return;
	}
	om_config_log_warnings(fresh);
	if (strcmp(fresh->policyd_listen, d->config->policyd_listen) != 0)
		om_log_warn("SIGHUP: policyd_listen changed; it takes effect at the next start");
	free(fresh->policyd_listen);
	fresh->policyd_listen = om_strdup(d->config->policyd_listen);
	om_config_free(&d->config);
	d->config = fresh;
	om_policy_set_outbound_filter(d->policy, d->config->outbound_filter);
	om_policy_set_outbound_inline(d->policy, d->config->outbound_inline != 0);
	om_policy_set_brake(d->policy, d->config->brake_filter,
			    d->config->brake_history_days);
	if (policyd_spf_open(d, d->config, &error) < 0) {
		om_log_error("SIGHUP: %s (SPF checks off until it is fixed)", error);
		om_free(&error);
		om_policy_set_spf(d->policy, "", NULL, NULL);
	}
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

static struct policyd_listener *policyd_listener_of(struct policyd *d, void *ptr)
{
	size_t i;

	for (i = 0; i < d->listen_count; i++) {
		if (ptr == (void *)&d->listeners[i])
			return &d->listeners[i];
	}
	return NULL;
}

static void policyd_event(struct policyd *d, const struct epoll_event *ev)
{
	struct policyd_listener *l;
	struct policyd_conn *c;

	if (ev->data.ptr == POLICYD_TAG_SIGNAL) {
		policyd_signal(d);
		return;
	}
	if (ev->data.ptr == POLICYD_TAG_STORE) {
		policyd_jobs_done(d);
		return;
	}
	if ((l = policyd_listener_of(d, ev->data.ptr)) != NULL) {
		policyd_accept(d, l);
		return;
	}
	c = ev->data.ptr;
	if (c->fd < 0)
		return;		/* closed earlier in this batch */
	if ((ev->events & EPOLLOUT) != 0 && policyd_flush(d, c) < 0)
		policyd_close(d, c);
	else if ((ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0)
		policyd_readable(d, c);
}

static void policyd_loop(struct policyd *d)
{
	struct epoll_event events[POLICYD_EVENTS];
	int n, i;

	while (!d->stopping) {
		n = epoll_wait(d->epoll_fd, events, POLICYD_EVENTS, 250);
		if (n < 0 && errno != EINTR) {
			om_log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			policyd_event(d, &events[i]);
		policyd_timers(d);
		policyd_free_closed(d);
	}
}

/* Waits (at most until deadline, monotonic ms) for the store thread's
   jobs in flight, applying their results.  1 when none is left. */
static int policyd_wait_jobs(struct policyd *d, uint64_t deadline)
{
	struct pollfd pfd = { .fd = d->st_done_fd, .events = POLLIN };
	uint64_t now;
	size_t i;

	for (;;) {
		for (i = 0; i < POLICYD_JOB_KINDS && !d->in_flight[i]; i++)
			;
		if (i == POLICYD_JOB_KINDS)
			return 1;
		now = om_now_ms();
		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			policyd_jobs_done(d);
	}
}

/* At exit: what is in flight comes back, then the final save (the
   current hours too) goes, all within POLICYD_EXIT_WAIT_MS.  0, or -1
   when the store did not answer by then: what this host counted since
   the last merge is lost, and the log says so. */
static int policyd_final_save(struct policyd *d)
{
	uint64_t deadline = om_now_ms() + POLICYD_EXIT_WAIT_MS;

	if (policyd_wait_jobs(d, deadline)) {
		policyd_save(d, 1);
		if (policyd_wait_jobs(d, deadline)) {
			if (policyd_store_stop(&d->st, 1000) < 0)
				om_log_warn("store thread still busy at exit");
			return 0;
		}
	}
	om_log_error("the store did not answer within %d s: rate counters, sender "
		     "history and correspondents counted since the last save are "
		     "not saved", POLICYD_EXIT_WAIT_MS / 1000);
	return -1;
}

static int policyd_gauge_trace(void *context, double *value_r)
{
	struct policyd *d = context;
	size_t n = policyd_trace_pending(d->trace);

	*value_r = (double)n;
	return 0;
}

/* The registry; its endpoint is started by policyd_setup. */
static void policyd_metrics_register(struct policyd *d)
{
	static const char *const spf_sources[] = { "evaluated", "cached" };
	size_t i;

	for (i = 0; i < OM_POLICY_KIND_COUNT; i++)
		d->kinds[i] = om_policy_kind_name((enum om_policy_kind)i);
	d->metrics = om_metrics_new();
	d->m_requests = om_metrics_counter(d->metrics, "omamori_policyd_requests_total",
		"Policy requests answered, by the action answered.",
		"action", d->kinds, OM_POLICY_KIND_COUNT, NULL, NULL, 0);
	d->spf.m_spf = om_metrics_counter(d->metrics, "omamori_policyd_spf_checks_total",
		"SPF results given at DATA: evaluated now, or from the cache.",
		"source", spf_sources, OM_N_ELEMENTS(spf_sources), NULL, NULL, 0);
	(void)om_metrics_gauge(d->metrics, "omamori_policyd_trace_queue_depth",
		"Message-trace events waiting for their batch write.",
		policyd_gauge_trace, d);
}

/* Serves the registry on fd (om_metrics_listen's ret: -2 could not bind,
   error says why and is freed here). */
static void policyd_metrics_start(struct policyd *d, int ret, int fd, char *error)
{
	policyd_metrics_register(d);
	if (ret == -2) {
		om_log_error("policyd_metrics_listen: %s: running without metrics", error);
		free(error);
		return;
	}
	if (fd < 0)
		return;
	if (om_metrics_serve(d->metrics, fd, &d->metrics_server, &error) < 0) {
		om_log_error("policyd_metrics_listen: %s: running without metrics", error);
		free(error);
	}
}

static void policyd_setup(struct policyd *d, const char *config_path, int foreground __attribute__((unused)))
{
	struct epoll_event ev;
	char *error = NULL;
	int metrics_fd = -1, metrics_ret = 0;
	size_t i;

	d->config_path = config_path;
	if (om_config_load(config_path, &d->config, &error) < 0)
		om_fatal("%s", error);
	om_log_open("omamori-policyd", strcmp(d->config->log, "syslog") == 0);
	om_config_log_warnings(d->config);
	if ((d->signal_fd = om_daemon_signalfd(&error)) < 0 ||
	    policyd_listen_all(d, &error) < 0 ||
	    (metrics_ret = om_metrics_listen(d->config->policyd_metrics_listen,
					     d->config->metrics_allow_remote,
					     &metrics_fd, &error)) == -1 ||
	    policyd_fit_open_files(d, d->config, 1, &error) < 0 ||
	    om_daemon_drop_privileges(d->config->policyd_user, &error) < 0 ||
	    om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
			  &d->store, &error) < 0)
		om_fatal("%s", error);
	d->policy = om_policy_new();
	d->trace = policyd_trace_new();
	policyd_metrics_start(d, metrics_ret, metrics_fd, error);
	error = NULL;
	om_policy_set_outbound_filter(d->policy, d->config->outbound_filter);
	om_policy_set_outbound_inline(d->policy, d->config->outbound_inline != 0);
	om_policy_set_brake(d->policy, d->config->brake_filter,
			    d->config->brake_history_days);
	if (policyd_spf_open(d, d->config, &error) < 0)
		om_fatal("%s", error);
	if (om_policy_load_rates(d->policy, d->store, &error) < 0 ||
	    om_brake_load(om_policy_brake(d->policy), d->store, time(NULL), &error) < 0)
		om_fatal("%s", error);
	policyd_load(d);
	if (policyd_store_start(d->config->store_path, d->config->store_busy_timeout_ms,
				&d->st, &d->st_done_fd, &error) < 0)
		om_fatal("%s", error);
	if (policyd_trace_start(d->trace, d->config->store_path,
				d->config->store_busy_timeout_ms, &error) < 0) {
		om_log_warn("%s: the trace is written from the event loop", error);
		om_free(&error);
	}
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epoll_fd < 0)
		om_fatal("epoll_create1: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.ptr = POLICYD_TAG_SIGNAL;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->signal_fd, &ev) < 0)
		om_fatal("epoll_ctl: %s", strerror(errno));
	for (i = 0; i < d->listen_count; i++) {
		ev.data.ptr = &d->listeners[i];
		if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->listeners[i].fd, &ev) < 0)
			om_fatal("epoll_ctl: %s", strerror(errno));
	}
	ev.data.ptr = POLICYD_TAG_STORE;
	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->st_done_fd, &ev) < 0)
		om_fatal("epoll_ctl: %s", strerror(errno));
}

/* From here the event loop never waits on the log: lines go through the
   log's own thread (log.c), as Postfix's servers log without blocking. */
static void policyd_log_async(void)
{
	char *error = NULL;

	if (om_log_async_start(&error) < 0) {
		om_log_warn("%s: logging synchronously", error);
		free(error);
	}
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct policyd d;
	int c, foreground = 0;
	size_t i;

	memset(&d, 0, sizeof(d));
	om_buf_init(&d.scratch);
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
	policyd_log_async();
	om_log_info("ready: listen=%s unix_max_connections=%ld inet_max_connections=%ld "
		    "idle_timeout=%lds open_files=%llu outbound_filter=%s brake_filter=%s "
		    "spf=%s",
		    d.config->policyd_listen, d.config->policyd_unix_max_connections,
		    d.config->policyd_inet_max_connections, d.config->policyd_idle_timeout,
		    (unsigned long long)d.open_files,
		    *d.config->outbound_filter != '\0' ? d.config->outbound_filter : "(none)",
		    *d.config->brake_filter != '\0' ? d.config->brake_filter :
		    "(none: braked mail deferred)",
		    d.spf.dns != NULL ? om_dns_describe(d.spf.dns) :
		    "(off: no trusted_authserv_id)");
	policyd_loop(&d);
	for (i = 0; i < d.listen_count; i++)
		close(d.listeners[i].fd);
	policyd_remove_sockets(&d);
	for (i = 0; i < d.listen_count; i++)
		free(d.listeners[i].spec);
	om_metrics_server_stop(&d.metrics_server);
	if (policyd_final_save(&d) < 0) {
		/* the store hangs: the trace writer is as stuck in it as the
		   store thread, and waiting for either is waiting for ever */
		om_log_error("stopped after %llu requests without the final save "
			     "(the store does not answer); the trace's last events "
			     "are not written", d.requests);
		om_log_async_stop();
		_exit(1);
	}
	policyd_trace_stop(d.trace);
	policyd_trace_flush(d.trace, d.store, time(NULL), 1);
	policyd_trace_free(&d.trace);
	om_log_info("stopped after %llu requests (%llu SPF evaluations, %llu from "
		    "the cache); rate counters saved", d.requests, d.spf.evaluated,
		    d.spf.cached);
	om_policy_free(&d.policy);
	om_metrics_free(&d.metrics);
	policyd_spf_close(&d.spf);
	om_store_close(&d.store);
	om_log_async_stop();
	om_buf_free(&d.scratch);
	om_config_free(&d.config);
	return 0;
}
