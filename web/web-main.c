/* web-main.c - omamori-web: the pages a mailbox's owner reaches from a
 * quarantine digest or a login - one quarantined mail, the mailbox's
 * quarantine, the user's own lists and settings (doc/web.md).
 *
 * Start-up, in the order of every omamori daemon: the configuration, the
 * listening socket (a UNIX socket, mode 0660 in web_socket_group, the
 * proxy's group; or TCP on loopback: the ISP's HTTPS proxy is in front),
 * the irrevocable drop to web_user, then what that user reads - the token key
 * file, the brand logo, the store - and the HTTP server's threads.
 * SIGHUP reloads the key file (a rotation by `omamorictl web-key rotate`),
 * SIGTERM stops after the requests in flight.
 *
 * SECURITY: omamori-web talks HTTP with anybody the proxy lets through.
 * It trusts nothing in a request but a token our key signed, and a form
 * only with an unused CSRF value; it runs as web_user (never root), holds
 * the link-signing key, reads and writes the store, and acts on mail only
 * through Dovecot (doveadm, a doveadm server socket when configured) and
 * checks passwords only through Dovecot's auth service.
 */
#include "web.h"
#include "url/url.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"
#include "crypto/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WEB_BACKLOG 128
#define WEB_LOGO_MAX (1024 * 1024)

/* ---- shared with the handlers ---- */

static void web_thread_free_cb(void *value)
{
	struct web_thread *thread = value;

	if (thread->store != NULL)
		om_store_close(&thread->store);
	free(thread);
}

struct web_thread *web_thread(struct web_server *server)
{
	struct web_thread *thread = pthread_getspecific(server->thread_key);

	if (thread != NULL)
		return thread;
	thread = om_calloc(1, sizeof(*thread));
	web_settings_cache_init(&thread->settings);
	thread->settings.recheck_ms = WEB_SETTINGS_RECHECK_MS;
	web_zone_cache_init(&thread->zones);
	if (pthread_setspecific(server->thread_key, thread) != 0) {
		free(thread);
		om_log_error("cannot keep the thread's state");
		return NULL;
	}
	return thread;
}

struct om_store *web_store(struct web_server *server)
{
	struct web_thread *thread = web_thread(server);
	char *error = NULL;

	if (thread == NULL)
		return NULL;
	if (thread->store != NULL)
		return thread->store;
	if (om_store_open(server->config->store_path, 0,
			  server->config->store_busy_timeout_ms, &thread->store,
			  &error) < 0) {
		om_log_error("store: %s", error);
		free(error);
		thread->store = NULL;
		return NULL;
	}
	return thread->store;
}

void web_keys_get(struct web_server *server, struct om_link_keys *keys_r)
{
	pthread_rwlock_rdlock(&server->keys_lock);
	*keys_r = server->keys;
	pthread_rwlock_unlock(&server->keys_lock);
}

void web_keys_forget(struct om_link_keys *keys)
{
	explicit_bzero(keys, sizeof(*keys));
}

void web_key_file_forget(struct om_token_keys *keys)
{
	explicit_bzero(keys, sizeof(*keys));
}

int web_own_keys_get(struct web_server *server, struct om_token_keys *keys_r)
{
	struct om_link_keys all;
	int ret;

	web_keys_get(server, &all);
	ret = om_link_keys_of(&all, OM_LINK_SIGNER_WEB, keys_r);
	web_keys_forget(&all);
	return ret;
}

/* ---- start-up ---- */

/* The owner (web_user, when we are root) and group (web_socket_group,
   else web_user's) the UNIX socket is given; -1 leaves one as it is. */
static int web_main_socket_owner(const struct om_config *config, uid_t *uid_r,
				 gid_t *gid_r, char **error_r)
{
	struct passwd *pw = getpwnam(config->web_user);
	struct group *gr;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (pw != NULL && geteuid() == 0) {
		*uid_r = pw->pw_uid;
		*gid_r = pw->pw_gid;
	}
	if (config->web_socket_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(config->web_socket_group)) == NULL) {
		*error_r = om_asprintf("web_socket_group '%s': unknown group",
				       config->web_socket_group);
		return -1;
	}
	*gid_r = gr->gr_gid;
	return 0;
}

/* Clears the way for a UNIX socket at path: a socket left by an earlier
   run is removed; one somebody answers on, or a file that is not a
   socket, is an error. */
static int web_main_unlink_stale(const struct sockaddr_un *un, socklen_t len,
				 char **error_r)
{
	struct stat st;
	int fd, live;

	if (lstat(un->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = om_asprintf("web_listen unix:%s: %s", un->sun_path,
				       strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = om_asprintf("web_listen unix:%s: exists and is not a socket",
				       un->sun_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	live = fd >= 0 && connect(fd, (const struct sockaddr *)un, len) == 0;
	if (fd >= 0)
		close(fd);
	if (live) {
		*error_r = om_asprintf("web_listen unix:%s: another program listens there",
				       un->sun_path);
		return -1;
	}
	if (unlink(un->sun_path) < 0) {
		*error_r = om_asprintf("web_listen unix:%s: removing the old socket: %s",
				       un->sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Binds web_listen's UNIX socket: mode 0660 from the start (umask), then
   given to web_user and web_socket_group, the proxy's group. */
static int web_main_listen_unix(const struct om_config *config,
				const struct sockaddr_un *un, socklen_t len,
				char **error_r)
{
	uid_t uid;
	gid_t gid;
	mode_t mask;
	int fd, ret;

	if (web_main_socket_owner(config, &uid, &gid, error_r) < 0 ||
	    web_main_unlink_stale(un, len, error_r) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = om_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	mask = umask(0117);
	ret = bind(fd, (const struct sockaddr *)un, len);
	(void)umask(mask);
	if (ret < 0 || chown(un->sun_path, uid, gid) < 0 ||
	    chmod(un->sun_path, 0660) < 0 || listen(fd, WEB_BACKLOG) < 0) {
		*error_r = om_asprintf("web_listen %s: %s", config->web_listen,
				       strerror(errno));
		if (ret == 0)
			(void)unlink(un->sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Binds web_listen: a UNIX socket, or a loopback address and a port
   nobody holds. */
static int web_main_listen(const struct om_config *config, char **error_r)
{
	union {
		struct sockaddr_storage ss;
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	socklen_t len;
	int fd, one = 1;

	if (web_parse_listen(config->web_listen, &addr.ss, &len, error_r) < 0)
		return -1;
	if (addr.ss.ss_family == AF_UNIX)
		return web_main_listen_unix(config, &addr.un, len, error_r);
	fd = socket(addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = om_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* SO_REUSEADDR lets a restart bind past TIME_WAIT; on Linux it never
	   lets two listeners share a port, so a port in use still fails */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &addr.sa, len) < 0 ||
	    listen(fd, WEB_BACKLOG) < 0) {
		*error_r = om_asprintf("web_listen %s: %s%s", config->web_listen,
				       strerror(errno), errno == EADDRINUSE ?
				       " (another program holds the port)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

/* As root: initgroups, setresgid and setresuid to user, irrevocably (the
   supplementary groups are kept: they may be what reaches Dovecot's auth
   and doveadm sockets).  Then refuses to go on as root either way. */
static int web_main_drop(const char *user, char **error_r)
{
	struct passwd *pw;
	uid_t r, e, s;

	if (geteuid() == 0) {
		errno = 0;
		pw = getpwnam(user);
		if (pw == NULL || pw->pw_uid == 0) {
			*error_r = om_asprintf("web_user '%s': %s", user,
					       pw != NULL ? "has uid 0" : "unknown user");
			return -1;
		}
		if (initgroups(user, pw->pw_gid) < 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
			*error_r = om_asprintf("dropping privileges to %s: %s", user,
					       strerror(errno));
			return -1;
		}
	}
	if (getresuid(&r, &e, &s) < 0 || r == 0 || e == 0 || s == 0) {
		*error_r = om_strdup("refusing to run as root");
		return -1;
	}
	return 0;
}

static int web_main_keys(struct web_server *server, char **error_r)
{
	struct om_link_keys keys;

	/* every signer's: omamori-web checks them all (and makes its own,
	   and the outbound daemons' "holds" list from a hold's page); and
	   the file's, for links in mail delivered before signers had keys */
	if (om_link_keys_load(server->config->web_key_path,
			      OM_LINK_SIGNERS_ALL | OM_LINK_LEGACY, &keys, error_r) < 0)
		return -1;
	pthread_rwlock_wrlock(&server->keys_lock);
	server->keys = keys;
	pthread_rwlock_unlock(&server->keys_lock);
	web_keys_forget(&keys);
	return 0;
}

/* The isolation key, read as web_user (omamorictl init gives it to
   web_user): without it isolated files cannot be opened, their pages
   still show what is known. */
static void web_main_isolate_key(struct web_server *server)
{
	struct om_token_keys keys;
	char *error = NULL;

	if (om_token_keys_load(server->config->isolate_key_path, &keys, &error) < 0) {
		om_log_warn("%s: isolated attachments cannot be downloaded", error);
		free(error);
		return;
	}
	pthread_rwlock_wrlock(&server->keys_lock);
	server->isolate_keys = keys;
	server->has_isolate_keys = 1;
	pthread_rwlock_unlock(&server->keys_lock);
	web_key_file_forget(&keys);
}

void web_isolate_keys_get(struct web_server *server, struct om_token_keys *keys_r,
			  int *has_r)
{
	pthread_rwlock_rdlock(&server->keys_lock);
	*keys_r = server->isolate_keys;
	*has_r = server->has_isolate_keys;
	pthread_rwlock_unlock(&server->keys_lock);
}

int web_vault_file_read(struct web_server *server, const char *dir, const char *what,
			const char *id, const char *sealed, size_t max, struct om_buf *out)
{
	char *path = om_asprintf("%s/%s", dir, id), *error = NULL;
	struct om_token_keys keys;
	int fd, ret, has;

	web_isolate_keys_get(server, &keys, &has);
	if (!has) {
		om_log_error("%s=%s: no isolation key (isolate_key_path)", what, id);
		web_key_file_forget(&keys);
		free(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		om_log_error("%s=%s: %s: %s", what, id, path, strerror(errno));
		web_key_file_forget(&keys);
		free(path);
		return -1;
	}
	ret = om_vault_read(fd, &keys, id, sealed, max, out, &error);
	web_key_file_forget(&keys);
	close(fd);
	if (ret < 0) {
		om_log_error("%s=%s: %s: %s", what, id, path, error);
		free(error);
	}
	free(path);
	return ret;
}

/* The brand logo, read as web_user (so it cannot serve a file only root
   reads); PNG or SVG by its name.  A logo that cannot be read is logged
   and left out: pages work without it. */
static void web_main_logo(struct web_server *server)
{
	const char *path = server->config->brand_logo;
	size_t len = strlen(path);
	char *error = NULL;

	if (len == 0)
		return;
	if (len > 4 && strcasecmp(path + len - 4, ".png") == 0)
		server->logo_type = "image/png";
	else if (len > 4 && strcasecmp(path + len - 4, ".svg") == 0)
		server->logo_type = "image/svg+xml; charset=utf-8";
	else {
		om_log_warn("brand_logo %s: not .png or .svg; no logo", path);
		return;
	}
	if (om_read_file(path, WEB_LOGO_MAX, &server->logo, &server->logo_len,
			 &error) < 0) {
		om_log_warn("brand_logo: %s; no logo", error);
		free(error);
		server->logo = NULL;
	}
}

/* The store must open as web_user now, or no page would work. */
static int web_main_check_store(struct web_server *server, char **error_r)
{
	struct om_store *store;

	if (om_store_open(server->config->store_path, 0,
			  server->config->store_busy_timeout_ms, &store, error_r) < 0)
		return -1;
	om_store_close(&store);
	return 0;
}

static int web_main_init_locks(struct web_server *server)
{
	return pthread_rwlock_init(&server->keys_lock, NULL) != 0 ||
		pthread_mutex_init(&server->tz_lock, NULL) != 0 ||
		pthread_key_create(&server->thread_key, web_thread_free_cb) != 0 ? -1 : 0;
}

static void web_main_usage(void)
{
	fprintf(stderr, "usage: omamori-web [-c config] [-f] [-v]\n"
		"  -c FILE  configuration (default " OM_DEFAULT_CONFIG_PATH ")\n"
		"  -f       stay in the foreground\n"
		"  -v       verbose logging\n");
	exit(2);
}

/* Reads signals until told to stop; SIGHUP reloads the keys. */
static void web_main_loop(struct web_server *server, int signal_fd)
{
	struct pollfd pfd = { signal_fd, POLLIN, 0 };
	struct signalfd_siginfo si;
	char *error = NULL;

	while (!server->stopping) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			om_log_error("poll: %s", strerror(errno));
			break;
		}
		while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				om_log_info("signal %u: stopping", si.ssi_signo);
				server->stopping = 1;
				break;
			}
			if (web_main_keys(server, &error) < 0) {
				om_log_error("SIGHUP: keys kept: %s", error);
				om_free(&error);
			} else {
				om_log_info("SIGHUP: token keys reloaded");
			}
			web_main_isolate_key(server);
		}
	}
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct web_server server;
	void *http;
	char *error = NULL;
	int c, foreground = 0, listen_fd, signal_fd;

	memset(&server, 0, sizeof(server));
	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'v': om_log_set_verbose(1); break;
		default: web_main_usage();
		}
	}
	if (optind != argc)
		web_main_usage();
	if (om_config_load(config_path, &server.config, &error) < 0)
		om_fatal("%s", error);
	om_log_open("omamori-web", strcmp(server.config->log, "syslog") == 0);
	om_config_log_warnings(server.config);
	if ((signal_fd = om_daemon_signalfd(&error)) < 0 ||
	    (listen_fd = web_main_listen(server.config, &error)) < 0 ||
	    web_metrics_listen(&server.metrics, server.config, &error) < 0 ||
	    web_main_drop(server.config->web_user, &error) < 0 ||
	    web_main_init_locks(&server) < 0 ||
	    web_main_keys(&server, &error) < 0 ||
	    web_main_check_store(&server, &error) < 0)
		om_fatal("%s", error != NULL ? error : "cannot make the server's locks");
	web_main_logo(&server);
	web_main_isolate_key(&server);
	/* the gate's lookups: registrable domains from the system's list */
	if ((server.psl = om_url_psl_open(&error)) == NULL)
		om_fatal("%s", error);
	if (!foreground && daemon(0, 0) < 0)
		om_fatal("daemon: %s", strerror(errno));
	/* after daemon(): its thread must be this process's */
	if (web_clicks_start(&server.clicks, server.config, &error) < 0 ||
	    (http = web_http_start(&server, listen_fd, &error)) == NULL)
		om_fatal("%s", error);
	web_metrics_start(&server.metrics);
	om_log_info("ready: listen=%s threads=%ld rate=%ld/min url=%s",
		    server.config->web_listen, server.config->web_threads,
		    server.config->web_rate_limit, server.config->web_url);
	web_main_loop(&server, signal_fd);
	web_http_stop(&server, &http);
	web_metrics_stop(&server.metrics);
	web_clicks_stop(&server.clicks);
	web_keys_forget(&server.keys);
	web_key_file_forget(&server.isolate_keys);
	free(server.logo);
	om_url_psl_close(&server.psl);
	(void)pthread_key_delete(server.thread_key);
	om_log_info("stopped");
	om_config_free(&server.config);
	close(signal_fd);
	return 0;
}
