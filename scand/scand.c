/* scand.c - omamori-scand: the scanning daemon.
 *
 * Holds the one expensive thing, the libclamav engine (a full signature set
 * costs about a gigabyte, so it must not live in each Dovecot LMTP process),
 * and serves scan requests on a UNIX socket with a pool of worker threads.
 * Signatures are reloaded on SIGHUP and when their files change, by a thread
 * of their own, without refusing a request.  SIGTERM: stop accepting, finish
 * the requests in flight, save what the classifier learned, exit 0.  The
 * spam classifier's token table lives here too (classifier.c), shared by
 * the workers.
 *
 * SECURITY: scand parses hostile mail (GMime, libclamav).  It starts as root
 * only to create its socket and read the configuration, then drops for good
 * to scand_user before the first request; it opens nothing but its socket,
 * the signature and template files and the store.  Every wire length is
 * checked (proto.c); message text reaches the log only through om_sanitize.
 */
#include "scand.h"
#include "crypto/vault.h"
#include "scan/geo.h"
#include "scan/sandbox.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "mail/mime.h"
#include "notice/notify.h"
#include "lib/util.h"
#include "store/events.h"
#include "store/store.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void scand_isolate_key(struct scand *scand);
static void scand_geo_open(struct scand *scand);

#define SCAND_BACKLOG 256
#define SCAND_SOCKET_MODE 0660

struct scand_reloader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int requested;
	int stopping;
};

struct scand_main {
	struct scand scand;
	struct scand_reloader reloader;
	int listen_fd;
	int signal_fd;
};

static void *scand_reloader_main(void *arg)
{
	struct scand_main *m = arg;
	struct scand_reloader *r = &m->reloader;
	char *error = NULL;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		if (!r->requested) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		r->requested = 0;
		pthread_mutex_unlock(&r->lock);
		if (scand_engines_reload(&m->scand.engines, &error) < 0) {
			om_log_error("reload failed, old signatures and attachment rules kept: %s", error);
			om_free(&error);
		}
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void scand_request_reload(struct scand_main *m)
{
	pthread_mutex_lock(&m->reloader.lock);
	m->reloader.requested = 1;
	pthread_cond_signal(&m->reloader.cond);
	pthread_mutex_unlock(&m->reloader.lock);
}

static int scand_reloader_start(struct scand_main *m, char **error_r)
{
	if (pthread_mutex_init(&m->reloader.lock, NULL) != 0 ||
	    pthread_cond_init(&m->reloader.cond, NULL) != 0 ||
	    pthread_create(&m->reloader.thread, NULL, scand_reloader_main, m) != 0) {
		*error_r = om_strdup("cannot start the reload thread");
		return -1;
	}
	return 0;
}

static void scand_reloader_stop(struct scand_main *m)
{
	pthread_mutex_lock(&m->reloader.lock);
	m->reloader.stopping = 1;
	pthread_cond_signal(&m->reloader.cond);
	pthread_mutex_unlock(&m->reloader.lock);
	(void)pthread_join(m->reloader.thread, NULL);
}


/* Reads pending signals; returns 1 when told to stop. */
static int scand_handle_signals(struct scand_main *m)
{
	struct signalfd_siginfo si;

	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			om_log_info("SIGHUP: reloading signatures");
			scand_request_reload(m);
		} else {
			om_log_info("signal %u: stopping", si.ssi_signo);
			return 1;
		}
	}
	return 0;
}

static void scand_accept_ready(struct scand_main *m)
{
	int fd;

	for (;;) {
		fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				om_log_warn("accept: %s", strerror(errno));
			return;
		}
		scand_workers_push(&m->scand, fd);
	}
}

static void scand_loop(struct scand_main *m)
{
	struct pollfd pfds[2] = {
		{ m->listen_fd, POLLIN, 0 }, { m->signal_fd, POLLIN, 0 }
	};
	long interval = m->scand.config->signature_check_interval;
	uint64_t next_check = om_now_ms() + (uint64_t)interval * 1000;

	while (!m->scand.stopping) {
		if (poll(pfds, 2, 1000) < 0 && errno != EINTR) {
			om_log_error("poll: %s", strerror(errno));
			break;
		}
		if ((pfds[1].revents & POLLIN) != 0 && scand_handle_signals(m))
			m->scand.stopping = 1;
		else if ((pfds[0].revents & POLLIN) != 0)
			scand_accept_ready(m);
		if (interval > 0 && om_now_ms() >= next_check) {
			next_check = om_now_ms() + (uint64_t)interval * 1000;
			if (scand_engines_changed(&m->scand.engines)) {
				om_log_info("signature files changed: reloading");
				scand_request_reload(m);
			}
		}
	}
}

/* The notices scand sends (a virus removed, mail not scanned whole,
   attachments, audit alerts) need every template: a missing one is said
   at the start, not found at the first virus (a mail that needs its
   notice then fails its scan, and waits). */
static void scand_templates_check(const struct om_config *config)
{
	om_notify_templates_warn(config->templates_dir,
				 "mail that needs a notice cannot be delivered");
}

static void scand_usage(void)
{
	fprintf(stderr, "usage: omamori-scand [-c config] [-f] [-v]\n"
		"  -c FILE  configuration (default " OM_DEFAULT_CONFIG_PATH ")\n"
		"  -f       stay in the foreground (log as omamori.conf says)\n"
		"  -v       verbose logging\n");
	exit(2);
}

/* The administrator's phrase rules (spam.rules): a file with an error
   keeps scand from starting, as attachments.rules does. */
static void scand_rules_init(struct scand *s)
{
	char *error = NULL;

	if (om_phish_load_rules(s->phish, s->config->spam_rules, &error) < 0)
		om_fatal("spam_rules: %s", error);
}

/* The phishing-shape rules: without the free-mail list only its rule is
   off, without the Public Suffix List all of them (said in the log). */
static void scand_phish_init(struct scand *s)
{
	char *error = NULL;

	s->phish = om_phish_new(s->config->freemail_domains, &error);
	if (s->phish != NULL) {
		scand_rules_init(s);
		return;
	}
	om_log_warn("freemail_domains: %s: PHISH_FREEMAIL_REPLYTO is off", error);
	om_free(&error);
	s->phish = om_phish_new(NULL, &error);
	if (s->phish == NULL) {
		om_log_error("phishing rules off: %s", error);
		free(error);
		return;
	}
	scand_rules_init(s);
}

/* From here no worker waits on the log: a scan's line goes through the
   log's own thread (log.c), as Postfix's servers log without blocking and
   as policyd does; a syslog or stderr that stalls no longer holds up the
   mail.  Started after the privilege drop, before any other thread. */
static void scand_log_async(void)
{
	char *error = NULL;

	if (om_log_async_start(&error) < 0) {
		om_log_warn("%s: logging synchronously", error);
		free(error);
	}
}

static void scand_start(struct scand_main *m, const char *config_path,
			int foreground __attribute__((unused)))
{
	char *error = NULL;

	if (om_config_load(config_path, &m->scand.config, &error) < 0)
		om_fatal("%s", error);
	om_log_open("omamori-scand",
		    strcmp(m->scand.config->log, "syslog") == 0);
	om_config_log_warnings(m->scand.config);
	m->signal_fd = om_daemon_signalfd(&error);
	if (m->signal_fd < 0)
		om_fatal("%s", error);
	om_mime_global_init();
	if (scand_engines_init(&m->scand.engines, m->scand.config, &error) < 0)
		om_fatal("%s", error);
	/* before the privilege drop; a value that is not loopback stops here */
	scand_metrics_listen(&m->scand);
	/* only root, scand_user and its group may connect (Dovecot's mail
	   processes get the group through mail_access_groups); each request
	   kind is checked against the peer's credentials as well (workers.c) */
	m->listen_fd = om_daemon_listen_unix(m->scand.config->scand_socket,
					     SCAND_SOCKET_MODE, SCAND_BACKLOG, &error);
	if (m->listen_fd < 0 ||
	    om_daemon_give_socket(m->scand.config->scand_socket,
				  m->scand.config->scand_user, &error) < 0)
		om_fatal("%s", error);
	/* the gate's links are signed with omamori-web's key; without it
	   url-rewrite disables links rather than leave them live.  Of it
	   only scand's own signer keys are kept (crypto/token.h): a flaw in
	   the parsing of a hostile mail cannot make a login's token */
	if (om_link_keys_load(m->scand.config->web_key_path,
			      OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_SCAN),
			      &m->scand.link_keys, &error) == 0) {
		m->scand.has_link_keys = 1;
	} else {
		om_log_warn("%s: url-rewrite will disable links instead", error);
		om_free(&error);
	}
	scand_isolate_key(&m->scand);
	scand_geo_open(&m->scand);
	/* libcurl's global state before any worker thread */
	if (m->scand.config->sandbox_url[0] != '\0') {
		if (om_sandbox_url_check(m->scand.config->sandbox_url, &error) < 0)
			om_fatal("%s", error);
		om_sandbox_http_init();
	}
	m->scand.sandbox_gate =
		om_sandbox_gate_new((unsigned int)m->scand.config->sandbox_max_concurrent);
	/* a unit that starts scand as root has systemd make its scratch
	   directory root's: scand's from here */
	if (om_daemon_give_scratch_dir(m->scand.config->scan_temp_dir,
				       m->scand.config->scand_user, &error) < 0 ||
	    om_daemon_drop_privileges(m->scand.config->scand_user, &error) < 0)
		om_fatal("%s", error);
	scand_templates_check(m->scand.config);	/* as scand_user reads them */
	/* libclamav makes a directory per scan there; if it cannot, it scans
	   less and says "clean": refuse to start instead */
	if (om_daemon_check_scratch_dir(m->scand.config->scan_temp_dir, &error) < 0)
		om_fatal("%s", error);
	scand_log_async();
	/* the store is opened as scand_user, so its files stay that user's */
	scand_phish_init(&m->scand);
	if (scand_classifier_init(&m->scand.classifier, m->scand.config, &error) < 0)
		om_fatal("%s", error);
	m->scand.events = om_events_new(OM_EVENTS_BOUND);
	scand_metrics_start(&m->scand);
	if (scand_keeper_start(&m->scand, &error) < 0 ||
	    scand_workers_start(&m->scand, &error) < 0 ||
	    scand_reloader_start(m, &error) < 0)
		om_fatal("%s", error);
}

/* Isolation's public key: the secret half is read here, as root, and
   forgotten at once; the process that parses mail can seal files for
   omamori-web but never open one. */
static void scand_isolate_key(struct scand *scand)
{
	struct om_token_keys keys;
	char *error = NULL;

	if (om_token_keys_load(scand->config->isolate_key_path, &keys, &error) < 0) {
		om_log_warn("%s: attachments to isolate are removed instead", error);
		free(error);
		return;
	}
	if (om_vault_public_key(&keys, scand->isolate_pk) == 0)
		scand->has_isolate_pk = 1;
	explicit_bzero(&keys, sizeof(keys));
}

/* The country database (geoip_database): none there, the Received
   countries are not shown; one that does not open is said so. */
static void scand_geo_open(struct scand *scand)
{
	const char *path = scand->config->geoip_database;
	char *error = NULL;

	if (path[0] == '\0')
		return;
	if (access(path, R_OK) < 0) {
		om_log_info("geoip: no database at %s: the Received countries are not shown",
			    path);
		return;
	}
	if (om_geo_open(path, &scand->geo, &error) < 0) {
		om_log_warn("%s: the Received countries are not shown", error);
		free(error);
	}
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct scand_main m;
	int c, foreground = 0;

	memset(&m, 0, sizeof(m));
	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'v': om_log_set_verbose(1); break;
		default: scand_usage();
		}
	}
	if (optind != argc)
		scand_usage();
	scand_start(&m, config_path, foreground);
	om_log_info("ready: socket=%s workers=%ld", m.scand.config->scand_socket,
		    m.scand.config->scand_workers);
	scand_loop(&m);
	close(m.listen_fd);
	(void)unlink(m.scand.config->scand_socket);
	scand_workers_stop(&m.scand);
	scand_metrics_stop(&m.scand);
	scand_keeper_stop(&m.scand);
	scand_trace_flush(&m.scand);
	om_store_close(&m.scand.trace_store);
	om_events_free(&m.scand.events);
	scand_reloader_stop(&m);
	scand_engines_deinit(&m.scand.engines);
	scand_classifier_deinit(&m.scand.classifier);
	om_phish_free(&m.scand.phish);
	om_geo_close(&m.scand.geo);
	om_sandbox_gate_free(&m.scand.sandbox_gate);
	om_log_info("stopped");
	om_log_async_stop();
	om_config_free(&m.scand.config);
	close(m.signal_fd);
	return 0;
}
