/* cmd-setup.c - omamorictl setup --print [main|master|dovecot]: the lines
 * an administrator adds to Postfix's main.cf and master.cf and to Dovecot
 * for this system, with its paths.
 *
 * The packages never edit main.cf or dovecot.conf (issue 20): the
 * administrator adds these lines.  They are made from omamori.conf's values
 * (the socket paths, relative to Postfix's queue_directory as Postfix wants
 * them; the configuration file's own path; web_user; quarantine_mailbox)
 * and from `postconf -h queue_directory`, so they fit the running system
 * rather than the shipped defaults.  Each main.cf line is one
 * "name = value" line, so that `postconf -e "$line"` takes it as it is.
 * conf/main.cf-omamori, master.cf-omamori and dovecot-omamori.conf are the same lines with the reasons written out.
 */
#include "omamorictl.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CTL_POSTCONF_PATH "/usr/sbin/postconf"
#define CTL_QUEUE_DIRECTORY_DEFAULT "/var/spool/postfix"
#define CTL_POSTCONF_OUTPUT_MAX 4096

/* The first line `postconf -h queue_directory` prints (allocated), or
   NULL when postconf cannot be run or says nothing. */
static char *ctl_setup_queue_directory(void)
{
	char *argv[] = { (char *)CTL_POSTCONF_PATH, (char *)"-h",
			 (char *)"queue_directory", NULL };
	char buf[CTL_POSTCONF_OUTPUT_MAX];
	posix_spawn_file_actions_t actions;
	size_t len = 0;
	ssize_t n;
	int pipefd[2], status;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return NULL;
	if (posix_spawn_file_actions_init(&actions) != 0)
		abort();
	(void)posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
	if (posix_spawn(&pid, argv[0], &actions, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&actions);
		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&actions);
	(void)close(pipefd[1]);
	while (len < sizeof(buf) - 1 &&
	       ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
		(n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	(void)close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || buf[0] != '/')
		return NULL;
	return om_strdup(buf);
}

/* A socket path as Postfix names it: relative to queue_directory when it
   is inside it ("omamori/policy"), else as it is (allocated). */
static char *ctl_setup_postfix_path(const char *queue_dir, const char *path)
{
	size_t len = strlen(queue_dir);

	while (len > 1 && queue_dir[len - 1] == '/')
		len--;
	if (strncmp(path, queue_dir, len) == 0 && path[len] == '/' && path[len + 1] != '\0')
		return om_strdup(path + len + 1);
	return om_strdup(path);
}

/* policyd's listener for Postfix: its unix: one (relative to the queue
   directory), else its first inet: one (allocated). */
static char *ctl_setup_policy_service(const struct om_config *c, const char *queue_dir)
{
	char *copy = om_strdup(c->policyd_listen), *save = NULL, *word, *rel, *ret = NULL;

	for (word = strtok_r(copy, " \t,", &save); word != NULL && ret == NULL;
	     word = strtok_r(NULL, " \t,", &save)) {
		if (strncmp(word, "unix:", 5) == 0) {
			rel = ctl_setup_postfix_path(queue_dir, word + 5);
			ret = om_asprintf("unix:%s", rel);
			free(rel);
		}
	}
	free(copy);
	if (ret == NULL) {
		copy = om_strdup(c->policyd_listen);
		word = strtok_r(copy, " \t,", &save);
		ret = om_strdup(word != NULL ? word : "inet:127.0.0.1:10040");
		free(copy);
	}
	return ret;
}

static void ctl_setup_main(const struct om_config *c, const char *queue_dir)
{
	char *policy = ctl_setup_policy_service(c, queue_dir);
	char *service = om_asprintf("check_policy_service { %s, timeout=10s, max_idle=300s, "
				    "default_action=DEFER_IF_PERMIT }", policy);

	printf("# ---- /etc/postfix/main.cf: merge into your lists (each line works with "
	       "postconf -e \"LINE\"); conf/main.cf-omamori says why ----\n");
	printf("smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
	       "reject_unauth_destination\n");
	printf("smtpd_recipient_restrictions = reject_unlisted_recipient, %s\n", service);
	printf("smtpd_data_restrictions = permit_mynetworks, permit_sasl_authenticated, %s\n",
	       service);
	printf("smtpd_end_of_data_restrictions = %s\n", service);
	if (c->outbound_filter[0] != '\0')
		printf("%.*s_destination_recipient_limit = 1000\n",
		       (int)strcspn(c->outbound_filter, ":"), c->outbound_filter);
	else
		printf("# outbound_filter is empty in omamori.conf: no outbound path "
		       "(doc/outbound.md)\n");
	free(service);
	free(policy);
}

static void ctl_setup_master(const struct om_config *c, const char *queue_dir)
{
	char *filter = ctl_setup_postfix_path(queue_dir, c->filter_listen);
	char *dedup = ctl_setup_postfix_path(queue_dir, c->dedup_listen);
	char *submit = ctl_setup_postfix_path(queue_dir, c->submit_listen);
	char *reinject = ctl_setup_postfix_path(queue_dir, c->filter_reinject);
	const char *slash = strrchr(reinject, '/');

	printf("# ---- /etc/postfix/master.cf: add as they are; conf/master.cf-omamori "
	       "says why ----\n");
	if (c->outbound_filter[0] == '\0')
		printf("# (outbound_filter is empty: these services are needed only once it "
		       "is set)\n");
	printf("omamori-out unix  -       -       n       -       20      lmtp\n"
	       "  -o lmtp_send_xforward_command=yes\n"
	       "  -o disable_mime_output_conversion=yes\n"
	       "  -o lmtp_connection_cache_destinations=%s\n", filter);
	printf("%s unix n       -       n       -       -       smtpd\n"
	       "  -o content_filter=\n"
	       "  -o receive_override_options=no_unknown_recipient_checks,"
	       "no_header_body_checks,no_address_mappings\n"
	       "  -o smtpd_milters=unix:%s\n", slash != NULL ? slash + 1 : reinject, dedup);
	printf("# and on every smtpd where customers authenticate (submission, "
	       "submissions)%s:\n"
	       "#  -o smtpd_milters=unix:%s\n"
	       "#  -o milter_default_action=tempfail\n",
	       c->outbound_inline ? "" : ", once outbound_inline = 1", submit);
	free(filter);
	free(dedup);
	free(submit);
	free(reinject);
}

static void ctl_setup_dovecot(const struct ctl *ctl)
{
	const struct om_config *c = ctl->config;

	printf("# ---- /etc/dovecot/conf.d/90-omamori.conf; conf/dovecot-omamori.conf "
	       "says why ----\n");
	printf("mail_access_groups = %s\n", c->scand_user);
	printf("protocol lmtp {\n  mail_plugins = $mail_plugins sieve omamori omamori_deliver\n}\n"
	       "protocol imap {\n  mail_plugins = $mail_plugins omamori\n}\n"
	       "protocol doveadm {\n  mail_plugins = $mail_plugins omamori\n}\n");
	printf("service doveadm {\n  unix_listener doveadm-server {\n    user = %s\n"
	       "    mode = 0600\n  }\n}\n", c->web_user);
	printf("service auth {\n  unix_listener %s {\n    user = %s\n    mode = 0600\n  }\n}\n",
	       strrchr(c->dovecot_auth_socket, '/') != NULL ?
	       strrchr(c->dovecot_auth_socket, '/') + 1 : c->dovecot_auth_socket, c->web_user);
	printf("namespace inbox {\n  mailbox %s {\n    special_use = \\Junk\n  }\n"
	       "  mailbox Junk {\n    special_use =\n  }\n}\n", c->quarantine_mailbox);
	printf("plugin {\n  omamori_config = %s\n  quota_rule2 = %s:ignore\n"
	       "  sieve_plugins = sieve_omamori\n  sieve_extensions = +vnd.omamori\n}\n",
	       ctl->config_path, c->quarantine_mailbox);
}

int ctl_cmd_setup(struct ctl *ctl, int argc, char **argv)
{
	const char *part = argc == 2 ? argv[1] : "all";
	char *queue_dir;

	if (argc < 1 || argc > 2 || strcmp(argv[0], "--print") != 0 ||
	    (strcmp(part, "all") != 0 && strcmp(part, "main") != 0 &&
	     strcmp(part, "master") != 0 && strcmp(part, "dovecot") != 0))
		return ctl_error("usage: omamorictl setup --print [main|master|dovecot]");
	if ((queue_dir = ctl_setup_queue_directory()) == NULL) {
		fprintf(stderr, "omamorictl: %s -h queue_directory failed: assuming %s\n",
			CTL_POSTCONF_PATH, CTL_QUEUE_DIRECTORY_DEFAULT);
		queue_dir = om_strdup(CTL_QUEUE_DIRECTORY_DEFAULT);
	}
	if (strcmp(part, "all") == 0)
		printf("# omamori for this system: configuration %s, Postfix queue_directory "
		       "%s\n", ctl->config_path, queue_dir);
	if (strcmp(part, "all") == 0 || strcmp(part, "main") == 0)
		ctl_setup_main(ctl->config, queue_dir);
	if (strcmp(part, "all") == 0 || strcmp(part, "master") == 0)
		ctl_setup_master(ctl->config, queue_dir);
	if (strcmp(part, "all") == 0 || strcmp(part, "dovecot") == 0)
		ctl_setup_dovecot(ctl);
	free(queue_dir);
	return CTL_EXIT_OK;
}
