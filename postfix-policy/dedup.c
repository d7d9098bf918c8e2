/* dedup.c - omamori-dedup: the milter of Postfix's re-injection smtpd
 * (master.cf omamori-reinject, only there) that makes omamori-filter's
 * hand-off idempotent.
 *
 * omamori-filter puts "X-Omamori-Out-Id: KEY ATTEMPT" on each copy it
 * re-injects (KEY: the message's exactly-once key, dedup-mark.h).  At the
 * end of the message, while Postfix's cleanup holds the copy and before it
 * commits the queue file, this milter makes the key's mark in the filter's
 * spool (atomic, fsync'd) and removes the header: the copy goes on.  A copy
 * whose key is marked already - the filter was killed after Postfix had
 * queued its first copy and before it could say so, and Postfix delivered
 * the original again - is discarded (Postfix answers 250 and drops it) and
 * logged "duplicate of KEY discarded".  Mail without the header (the
 * filter's notices and alerts) passes untouched.  If the mark cannot be
 * written, the copy is tempfailed: the filter answers Postfix 4xx and the
 * original waits.  doc/outbound.md states every crash point.
 *
 * A program of its own, not a thread of omamori-filter: libmilter's
 * smfi_main() owns the process's signals (a thread of its own sigwaits for
 * SIGTERM/SIGHUP/SIGINT) and starts a thread per connection; the filter
 * has its own signalfd and worker threads.  Separate, each keeps its model,
 * and a kill -9 of the filter (the very case this guards) leaves the
 * milter answering.  If omamori-dedup is down, milter_default_action =
 * tempfail on omamori-reinject makes the filter's copies wait: fail closed.
 *
 * SECURITY: starts as root to make its socket (dedup_listen, in Postfix's
 * spool) and gives it to root, group filter_socket_group (postfix), mode
 * 0660: only root and Postfix's processes can connect - not filter_user
 * itself, so omamori-scand (same user, parses senders' mail) cannot mark
 * keys and make copies vanish.  libmilter has no hook for SO_PEERCRED on
 * the sockets it accepts; the socket file's owner and mode are the peer
 * check.  Then it drops to filter_user (no extra group): it writes only
 * marks in filter_spool.  It reads one header's value, bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter-listen.h"
#include "dedup-mark.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/om-config.h"
#include "lib/util.h"

#define DEDUP_HEADERS_MAX 20	/* X-Omamori-Out-Id fields removed per copy */
#define DEDUP_VALUE_MAX 200

/* The module's context: set before smfi_main, read-only after. */
struct dedup_daemon {
	const struct om_config *config;
	int spool_fd;
};
static struct dedup_daemon dedup;

/* One copy being received on a connection (smfi_setpriv). */
struct dedup_msg {
	unsigned int count;	/* X-Omamori-Out-Id fields seen */
	int malformed;
	char value[DEDUP_VALUE_MAX + 1];	/* the first one's value */
};

static struct dedup_msg *dedup_msg(SMFICTX *ctx)
{
	struct dedup_msg *m = smfi_getpriv(ctx);

	if (m == NULL) {
		m = calloc(1, sizeof(*m));
		if (m != NULL && smfi_setpriv(ctx, m) != MI_SUCCESS) {
			free(m);
			m = NULL;
		}
	}
	return m;
}

static void dedup_msg_reset(SMFICTX *ctx)
{
	struct dedup_msg *m = smfi_getpriv(ctx);

	if (m != NULL)
		memset(m, 0, sizeof(*m));
}

/* Asks Postfix for nothing but the headers and the end of the message,
   and for no reply to each header (fewer round trips per copy). */
static sfsistat dedup_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
				unsigned long f2, unsigned long f3,
				unsigned long *pf0, unsigned long *pf1,
				unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL |
		SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN |
		SMFIP_NODATA | SMFIP_NR_HDR;

	(void)ctx;
	(void)f2;
	(void)f3;
	if ((f0 & SMFIF_CHGHDRS) == 0) {
		om_log_error("the MTA does not offer header changes: copies tempfailed");
		return SMFIS_REJECT;
	}
	*pf0 = SMFIF_CHGHDRS;
	*pf1 = want & f1;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat dedup_header(SMFICTX *ctx, char *name, char *value)
{
	struct dedup_msg *m;

	if (strcasecmp(name, OM_DEDUP_HEADER) != 0)
		return SMFIS_CONTINUE;
	m = dedup_msg(ctx);
	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->count == 0) {
		if (strlen(value) > DEDUP_VALUE_MAX)
			m->malformed = 1;
		else
			snprintf(m->value, sizeof(m->value), "%s", value);
	}
	m->count++;
	return SMFIS_CONTINUE;
}

/* Removes every X-Omamori-Out-Id field from the copy (the last first). */
static int dedup_remove_headers(SMFICTX *ctx, unsigned int count)
{
	unsigned int i = count > DEDUP_HEADERS_MAX ? DEDUP_HEADERS_MAX : count;

	for (; i > 0; i--) {
		if (smfi_chgheader(ctx, OM_DEDUP_HEADER, (int)i, NULL) != MI_SUCCESS)
			return -1;
	}
	return 0;
}

static sfsistat dedup_eom_keyed(SMFICTX *ctx, struct dedup_msg *m)
{
	char key[OM_DEDUP_KEY_MAX + 1], attempt[OM_DEDUP_ATTEMPT_LEN + 1];
	char *qid_sym = smfi_getsymval(ctx, "i"), *clean;
	const char *qid = qid_sym != NULL && om_dedup_key_ok(qid_sym) ? qid_sym : "-";
	struct om_dedup_mark existing;
	int ret;

	if (m->malformed || om_dedup_parse(m->value, key, attempt) < 0) {
		/* not the filter's (it strips the sender's): passes, unmarked */
		clean = om_sanitize(m->value, 120);
		om_log_warn("%s: malformed %s \"%s\" removed", qid, OM_DEDUP_HEADER, clean);
		free(clean);
		return dedup_remove_headers(ctx, m->count) < 0 ? SMFIS_TEMPFAIL :
			SMFIS_CONTINUE;
	}
	if (m->count > 1)
		om_log_warn("%s: %u %s fields, the first one counts", qid, m->count,
			    OM_DEDUP_HEADER);
	if (dedup_remove_headers(ctx, m->count) < 0) {
		om_log_error("%s: removing %s failed: copy tempfailed", qid, OM_DEDUP_HEADER);
		return SMFIS_TEMPFAIL;
	}
	ret = om_dedup_mark_make(dedup.spool_fd, key, attempt, qid,
				 dedup.config->dedup_fsync != 0, &existing);
	if (ret < 0) {
		om_log_error("%s: marking %s in %s: %s: copy tempfailed", qid, key,
			     dedup.config->filter_spool, strerror(errno));
		return SMFIS_TEMPFAIL;
	}
	if (ret == 0) {
		om_log_info("%s: duplicate of %s discarded (queued before as %s, "
			    "attempt %s; this attempt %s)", qid, key,
			    existing.queue_id[0] != '\0' ? existing.queue_id : "?",
			    existing.attempt[0] != '\0' ? existing.attempt : "?", attempt);
		return SMFIS_DISCARD;
	}
	om_log_debug("%s: %s marked (attempt %s)", qid, key, attempt);
	return SMFIS_CONTINUE;
}

static sfsistat dedup_eom(SMFICTX *ctx)
{
	struct dedup_msg *m = smfi_getpriv(ctx);
	sfsistat ret = SMFIS_CONTINUE;

	if (m != NULL && m->count > 0)
		ret = dedup_eom_keyed(ctx, m);
	dedup_msg_reset(ctx);
	return ret;
}

static sfsistat dedup_abort(SMFICTX *ctx)
{
	dedup_msg_reset(ctx);
	return SMFIS_CONTINUE;
}

static sfsistat dedup_close(SMFICTX *ctx)
{
	struct dedup_msg *m = smfi_getpriv(ctx);

	free(m);
	(void)smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc dedup_desc = {
	.xxfi_name = "omamori-dedup",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_CHGHDRS,
	.xxfi_header = dedup_header,
	.xxfi_eom = dedup_eom,
	.xxfi_abort = dedup_abort,
	.xxfi_close = dedup_close,
	.xxfi_negotiate = dedup_negotiate,
};

/* After the drop: the filter's spool, ours to write. */
static int dedup_open_spool(const struct om_config *c, char **error_r)
{
	struct stat st;

	dedup.spool_fd = open(c->filter_spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dedup.spool_fd < 0) {
		*error_r = om_asprintf("filter_spool %s: %s", c->filter_spool,
				       strerror(errno));
		return -1;
	}
	if (fstat(dedup.spool_fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		*error_r = om_asprintf("filter_spool %s: must be owned by %s and "
				       "mode 0700", c->filter_spool, c->filter_user);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = OM_DEFAULT_CONFIG_PATH;
	struct om_config *config = NULL;
	char *error = NULL;
	int c, ret;

	while ((c = getopt(argc, argv, "c:fv")) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'f': break;	/* always in the foreground (systemd) */
		case 'v': om_log_set_verbose(1); break;
		default:
			fprintf(stderr, "usage: omamori-dedup [-c config] [-f] [-v]\n");
			return 2;
		}
	}
	if (om_config_load(config_path, &config, &error) < 0)
		om_fatal("%s", error);
	dedup.config = config;
	dedup.spool_fd = -1;
	om_log_open("omamori-dedup", strcmp(config->log, "syslog") == 0);
	om_config_log_warnings(config);
	if (smfi_register(dedup_desc) != MI_SUCCESS)
		om_fatal("smfi_register failed");
	if (om_milter_listen("dedup_listen", config->dedup_listen,
			     config->filter_socket_group, &error) < 0 ||
	    om_daemon_drop_privileges(config->filter_user, &error) < 0 ||
	    dedup_open_spool(config, &error) < 0)
		om_fatal("%s", error);
	om_log_info("ready: listen=%s spool=%s", config->dedup_listen,
		    config->filter_spool);
	/* libmilter's own threads and signal thread from here: SIGTERM or
	   SIGINT ends smfi_main, which removes the socket */
	ret = smfi_main();
	om_log_info("stopped");
	close(dedup.spool_fd);
	om_config_free(&config);
	return ret == MI_SUCCESS ? 0 : 1;
}
