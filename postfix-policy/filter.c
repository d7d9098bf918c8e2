/* filter.c - omamori-filter: the outbound filter of authenticated
 * senders' mail, in Postfix's after-queue content-filter pattern.
 *
 * omamori-policyd answers FILTER omamori-out:unix:omamori/filter for a
 * subscribed sender; Postfix's lmtp client then delivers the queued
 * message to this daemon's UNIX socket in Postfix's spool, and the daemon
 * re-injects it (changed or not) through a Postfix smtpd of its own
 * (omamori-reinject, a socket in public/) whose restrictions are empty, so
 * that the policy is not asked again and the message is not filtered
 * twice.  LMTP gives one reply per recipient, after the re-injection: a
 * 250 only once Postfix has the message again, a 4xx on any internal
 * error (Postfix keeps it and retries), a 5xx only when the message is
 * refused (virus, block).  doc/outbound.md has the whole design.
 *
 * One process, filter_max_connections worker threads each accepting on the
 * socket and serving one connection at a time with its own store handle;
 * the main thread waits for signals and forgets old exactly-once records
 * (the milter's marks, refusals) once an hour.  SIGTERM: the socket is closed,
 * idle connections are dropped, a message in progress is finished, and the
 * socket file removed.
 *
 * A second socket, filter_brake_listen, takes a braked login's mail (policyd
 * answers FILTER brake_filter for it): served by FILTER_BRAKE_WORKERS
 * threads of their own, every message there is held for the administrator
 * (filter-brake.c).
 *
 * SECURITY: starts as root to make its socket in Postfix's spool (owned by
 * filter_user, group filter_socket_group, mode 0660), then drops to
 * filter_user with filter_group (postdrop: public/, where the re-injection
 * socket is) as its only other group.  Only filter_peer_user (Postfix's
 * mail_owner) may deliver: the peer's credentials are checked on every
 * connection.  The messages come from SMTP clients: see filter-lmtp.c.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/om-config.h"
#include "lib/util.h"
#include "notice/notify.h"
#include "store/store.h"

/* Threads serving the brake socket (filter_brake_listen): a braked login's
   mail, held at once; Postfix queues more connections in the backlog. */
#define FILTER_BRAKE_WORKERS 4
#define FILTER_EXPIRE_INTERVAL_MS (3600 * 1000ULL)

/* 1 if Postfix (filter_peer_user) or root is at the other end. */
static int filter_peer_ok(struct filter_daemon *d, int fd)
{
	struct om_daemon_peer peer;
	char *error = NULL;

	if (om_daemon_peer(fd, &peer, &error) < 0) {
		om_log_warn("peer credentials: %s", error);
		free(error);
		return 0;
	}
	if (peer.uid == d->peer_uid || peer.uid == 0)
		return 1;
	om_log_warn("refused a connection from uid %lu pid %ld: only %s may deliver",
		    (unsigned long)peer.uid, (long)peer.pid, d->config->filter_peer_user);
	return 0;
}

static void *filter_worker_run(void *arg)
{
	struct filter_worker *w = arg;
	struct filter_daemon *d = w->daemon;
	int fd;

	while (!d->stopping) {
		fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (!d->stopping)
				om_log_error("accept: %s", strerror(errno));
			break;
		}
		if (filter_peer_ok(d, fd))
			filter_lmtp_session(w, fd);
		close(fd);
	}
	filter_smtp_conn_close(&w->reinject);
	filter_audit_cache_free(&w->audit_cache);
	om_store_close(&w->store);
	return NULL;
}

/* The uid of filter_peer_user; 0 or -1 with *error_r. */
static int filter_peer_uid(struct filter_daemon *d, char **error_r)
{
	struct passwd *pw = getpwnam(d->config->filter_peer_user);

	if (pw == NULL) {
		*error_r = om_asprintf("filter_peer_user: unknown user '%s'",
				       d->config->filter_peer_user);
		return -1;
	}
	d->peer_uid = pw->pw_uid;
	return 0;
}

/* One LMTP socket in Postfix's spool (0660 filter_user:filter_socket_group),
   blocking: the workers wait in accept(), each in its own thread. */
static int filter_listen_one(struct filter_daemon *d, const char *path, int backlog,
			     char **error_r)
{
	const struct om_config *c = d->config;
	int fd, flags;

	fd = om_daemon_listen_unix(path, 0660, backlog, error_r);
	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		*error_r = om_asprintf("%s: fcntl: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (om_daemon_give_socket_group(path, c->filter_user, c->filter_socket_group,
					error_r) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The privileged part: the sockets in Postfix's spool - the filter's, and
   the brake's (filter_brake_listen: every message there is held for the
   administrator; the same peer check on both). */
static int filter_listen(struct filter_daemon *d, char **error_r)
{
	const struct om_config *c = d->config;

	d->brake_fd = -1;
	d->listen_fd = filter_listen_one(d, c->filter_listen,
					 (int)c->filter_max_connections, error_r);
	if (d->listen_fd < 0)
		return -1;
	if (*c->filter_brake_listen != '\0') {
		d->brake_fd = filter_listen_one(d, c->filter_brake_listen,
						FILTER_BRAKE_WORKERS * 4, error_r);
		if (d->brake_fd < 0)
			return -1;
	}
	return 0;
}

/* After the drop: omamori's own spool must be ours to write. */
static int filter_open_spool(struct filter_daemon *d, char **error_r)
{
	const char *dir = d->config->filter_spool;
	struct stat st;

	d->spool_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->spool_fd < 0) {
		*error_r = om_asprintf("filter_spool %s: %s (create it, owned by %s, "
				       "mode 0700)", dir, strerror(errno),
				       d->config->filter_user);
		return -1;
	}
	if (fstat(d->spool_fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		*error_r = om_asprintf("filter_spool %s: must be owned by %s and "
				       "mode 0700 (mail is kept there)", dir,
				       d->config->filter_user);
		return -1;
	}
	return 0;
}

/* The notices omamori-filter sends (holds, ZIP passwords, the portal,
   alerts) need every template: a missing one is said at the start, not
   found at the first hold. */
static void filter_templates_check(const struct om_config *config)
{
	om_notify_templates_warn(config->templates_dir, "notices cannot be sent");
}

static void filter_setup(struct filter_daemon *d, const char *config_path,
			 struct om_config **config_r, int *signal_fd_r)
{
	char *error = NULL;
	struct om_store *store = NULL;

	if (om_config_load(config_path, config_r, &error) < 0)
		om_fatal("%s", error);
	d->config = *config_r;
	om_log_open("omamori-filter", strcmp(d->config->log, "syslog") == 0);
	om_config_log_warnings(d->config);
	if ((*signal_fd_r = om_daemon_signalfd(&error)) < 0 ||
	    filter_peer_uid(d, &error) < 0 ||
	    filter_listen(d, &error) < 0 ||
	    filter_hold_setup(d, &error) < 0 ||
	    filter_zip_setup(d, &error) < 0 ||
	    filter_portal_setup(d, &error) < 0 ||
	    om_daemon_drop_privileges_groups(d->config->filter_user,
					     d->config->filter_group, &error) < 0 ||
	    filter_open_spool(d, &error) < 0 ||
	    /* the store must be there now, not at the first message */
	    om_store_open(d->config->store_path, 0, d->config->store_busy_timeout_ms,
			  &store, &error) < 0)
		om_fatal("%s", error);
	om_store_close(&store);
	filter_templates_check(d->config);	/* as filter_user reads them */
}

/* Waits for SIGTERM or SIGINT (SIGHUP: nothing to reload but the log);
   meanwhile, once an hour, forgets the exactly-once records that have
   served their time. */
static void filter_wait_signal(struct filter_daemon *d, int signal_fd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = { signal_fd, POLLIN, 0 };
	uint64_t next_expire = 0;

	for (;;) {
		if (om_now_ms() >= next_expire) {
			filter_spool_expire(d);
			next_expire = om_now_ms() + FILTER_EXPIRE_INTERVAL_MS;
		}
		if (poll(&pfd, 1, 60000) < 0 && errno != EINTR)
			om_fatal("poll: %s", strerror(errno));
		while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				om_log_info("signal %u: stopping", si.ssi_signo);
				return;
			}
			om_log_info("SIGHUP: omamori-filter reads its settings from "
				    "the store for every message; nothing to reload");
		}
	}
}

/* Removes a socket file if it is still the one we bound. */
static void filter_remove_socket(const char *path, const struct stat *bound)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == bound->st_ino && st.st_dev == bound->st_dev &&
	    unlink(path) < 0)
		om_log_warn("removing %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct filter_daemon d;
	struct filter_worker *workers;
	struct om_config *config = NULL;
	pthread_t *threads;
	struct stat bound, brake_bound;
	int c, signal_fd = -1;
	long i, started = 0, nworkers;

	memset(&d, 0, sizeof(d));
	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': break;	/* always in the foreground (systemd) */
		case 'v': om_log_set_verbose(1); break;
		default:
			fprintf(stderr, "usage: omamori-filter [-c config] [-f] [-v]\n");
			return 2;
		}
	}
	filter_setup(&d, config_path, &config, &signal_fd);
	if (stat(config->filter_listen, &bound) < 0)
		om_fatal("%s: %s", config->filter_listen, strerror(errno));
	if (d.brake_fd >= 0 && stat(config->filter_brake_listen, &brake_bound) < 0)
		om_fatal("%s: %s", config->filter_brake_listen, strerror(errno));
	/* the brake socket's workers after the filter's */
	nworkers = config->filter_max_connections + (d.brake_fd >= 0 ? FILTER_BRAKE_WORKERS : 0);
	workers = om_calloc((size_t)nworkers, sizeof(*workers));
	threads = om_calloc((size_t)nworkers, sizeof(*threads));
	for (i = 0; i < nworkers; i++) {
		workers[i].daemon = &d;
		workers[i].id = (unsigned int)i;
		workers[i].brake = i >= config->filter_max_connections;
		workers[i].listen_fd = workers[i].brake ? d.brake_fd : d.listen_fd;
		if (pthread_create(&threads[i], NULL, filter_worker_run, &workers[i]) != 0)
			om_fatal("pthread_create failed");
		started++;
	}
	filter_hold_start(&d);
	om_log_info("ready: listen=%s brake=%s reinject=%s spool=%s workers=%ld",
		    config->filter_listen, d.brake_fd >= 0 ? config->filter_brake_listen :
		    "(none)", config->filter_reinject, config->filter_spool, started);
	filter_wait_signal(&d, signal_fd);
	d.stopping = 1;
	/* wakes the workers blocked in accept(); those in a session finish
	   their message and close */
	if (shutdown(d.listen_fd, SHUT_RDWR) < 0)
		om_log_warn("shutdown: %s", strerror(errno));
	filter_remove_socket(config->filter_listen, &bound);
	if (d.brake_fd >= 0) {
		if (shutdown(d.brake_fd, SHUT_RDWR) < 0)
			om_log_warn("shutdown: %s", strerror(errno));
		filter_remove_socket(config->filter_brake_listen, &brake_bound);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	filter_hold_stop(&d);
	close(d.listen_fd);
	if (d.brake_fd >= 0)
		close(d.brake_fd);
	close(d.spool_fd);
	close(signal_fd);
	free(threads);
	free(workers);
	om_log_info("stopped");
	om_config_free(&config);
	return 0;
}
