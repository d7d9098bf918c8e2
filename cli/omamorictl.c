/* omamorictl.c - omamori's administration tool: store set-up, subscriptions,
 * domain settings, and test scans through omamori-scand.
 *
 * Every command validates its arguments before touching the store, so a bad
 * line in a provisioning script fails with a message and exit status 2 and
 * writes nothing.
 */
#include "omamorictl.h"
#include "crypto/token.h"
#include "store/settings.h"
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ctl_vwarn(const char *fmt, va_list ap)
{
	fputs("omamorictl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

enum ctl_exit ctl_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vwarn(fmt, ap);
	va_end(ap);
	return CTL_EXIT_ERROR;
}

enum ctl_exit ctl_fail(char *error)
{
	enum ctl_exit ret = ctl_error("%s", error);

	free(error);
	return ret;
}

struct om_store *ctl_store(struct ctl *ctl, int create)
{
	char *error = NULL;

	if (ctl->store != NULL)
		return ctl->store;
	if (om_store_open(ctl->config->store_path, create ? OM_STORE_CREATE : 0,
			  ctl->config->store_busy_timeout_ms, &ctl->store,
			  &error) < 0) {
		ctl_error("%s", error);
		free(error);
		exit(CTL_EXIT_ERROR);
	}
	return ctl->store;
}

static void ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: omamorictl [-c config] COMMAND ...\n"
		"       omamorictl --help | -h | help    this text (exit 0)\n"
		"  init                                  create or upgrade the store\n"
		"  config [man]                          print the effective configuration (man:\n"
		"                                        omamori.conf(5) from the same table)\n"
		"  setup --print [main|master|dovecot]   the lines to add to Postfix and Dovecot,\n"
		"                                        with this system's paths\n"
		"  sub set MAILBOX FEATURE on|paused|off subscribe a mailbox\n"
		"  sub get MAILBOX [FEATURE]             each feature's state and where it comes from\n"
		"  sub del MAILBOX FEATURE               back to the domain default\n"
		"  sub list [MAILBOX]                    mailbox-level subscriptions\n"
		"  domain set DOMAIN NAME VALUE          a domain setting (\"*\" = global)\n"
		"  domain get DOMAIN [NAME]              values in effect and where they come from\n"
		"  domain unset DOMAIN NAME\n"
		"  domain list [DOMAIN]\n"
		"  mailbox set|get|unset MAILBOX NAME [VALUE]  a mailbox's own spam settings\n"
		"  scan [--mailbox ADDR] [--sender ADDR] [--direction in|out] [--text] [-o OUT] FILE|-\n"
		"  list add|del SCOPE allow|block|url-block ENTRY   SCOPE: mailbox, domain, *\n"
		"  list show [SCOPE]\n"
		"  list export [SCOPE] > FILE            CSV scope,kind,entry\n"
		"  list import FILE                      the same CSV (all or nothing; mailbox limit)\n"
		"  policy test < REQUEST                 what omamori-policyd would answer\n"
		"  learn spam|ham [--unlearn] FILE|DIR|MBOX...   teach the spam classifier\n"
		"  classify [--rules] FILE|DIR|MBOX...   spam probability (--rules: score and rules)\n"
		"  train [--rounds N] SPAM HAM           learn both, then again what is still unsure\n"
		"  prior [--unlearn] [DIR]               learn the words of DIR/spam, DIR/ham (default:\n"
		"                                        the shipped Japanese set) - once, after init\n"
		"  prune [--max-count N]                 forget tokens seen in at most N messages (1)\n"
		"  cron [--now | --at HH:MM]             periodic tasks due now (a timer runs it each minute)\n"
		"  web-key rotate                        a new key for omamori-web's links (the old one\n"
		"                                        still verifies); then reload omamori-web\n"
		"  isolate-key rotate                    a new key pair for isolated attachments (files\n"
		"                                        before still open); restart scand, reload web\n"
		"  quarantine list MAILBOX               a mailbox's quarantined mail (id, received, sender, ...)\n"
		"  quarantine release [--allow] MAILBOX ID   to INBOX (--allow: and allow its sender)\n"
		"  quarantine delete MAILBOX ID          expunge it\n"
		"  quarantine link MAILBOX [HOURS]       a signed link to its quarantine page (24 h)\n"
		"  hold list [MAILBOX]                   held outbound mail (id, state, reason, mailbox, until, ...)\n"
		"  hold show ID | release ID | discard ID   one hold; send it now; discard it\n"
		"  brake list | show LOGIN               logins braked for sudden mass sending\n"
		"  trace DOMAIN [--sender A] [--recipient A] [--subject S] [--message-id ID]\n"
		"        [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--max N]\n"
		"                                        what omamori did with the domain's mail, step by step\n"
		"  report DOMAIN --month YYYY-MM [--format text|csv|json|html] [--lang ja|en]\n"
		"                                        the domain's monthly report (doc/report.md)\n"
		"  brake lift LOGIN [--release|--discard]   lift it; send or drop its held mail\n"
		"  audit add DOMAIN [--at N] 'RULE'      a domain's audit rule (doc/audit.md)\n"
		"  audit del DOMAIN N | show [DOMAIN]    remove one; list them in order\n"
		"  admin add DOMAIN ADDRESS [admin|deputy|operator] [--rights R,...]\n"
		"                                        a domain's admin (operator: DOMAIN \"*\")\n"
		"  admin del DOMAIN ADDRESS | list [DOMAIN]  remove one; list them\n"
		"  admin log DOMAIN [N]                  the domain's change log, newest first\n"
		"  audit test RULES MESSAGE [--in] [--from A] [--to A]...\n"
		"                                        which rule fires and why (RULES: a\n"
		"                                        domain, or a file of rules)\n"
		"  group set DOMAIN NAME SETTING VALUE   a policy group (at most 4 a domain) and its\n"
		"                                        setting: internal-only, outbound ones (doc/admin.md)\n"
		"  group unset DOMAIN NAME SETTING | show DOMAIN [NAME] | list [DOMAIN] | del DOMAIN NAME\n"
		"  mailbox set MAILBOX group NAME|none   put a mailbox in a group (or in none)\n"
		"  billing --month YYYY-MM [--format csv|json] [--domain DOMAIN]\n"
		"                                        mailboxes on, paused, off per domain and\n"
		"                                        feature, and the days each was on\n"
		"  urls import FILE [--format F] [--source NAME] [--verdict block|warn] [--expires DAYS]\n"
		"                                        a feed (urlhaus, phishtank-csv, phishtank-json,\n"
		"                                        openphish, list; detected), replacing its entries\n"
		"  urls add URL|HOST [--verdict block|warn] [--expires DAYS]   the administrator's entry\n"
		"  urls del URL|HOST [--source NAME]     remove an entry\n"
		"  urls check URL|HOST                   normalised form, registrable domain, verdict\n"
		"  urls list|count [--source NAME]       the URL reputation store's entries\n"
		"  selftest DOMAIN --mailbox ADDRESS [--timeout SECONDS] [--keep] [--dmarc-domain D]\n"
		"                                        test mail through Postfix: clean, EICAR,\n"
		"                                        GTUBE, DMARC fail; each checked against\n"
		"                                        the mailbox's settings (exit 1: a step failed)\n"
		"MAILBOX: local@domain, or a user name without a domain (user:NAME if it\n"
		"  has a dot); DOMAIN: a name with a dot, or domain:NAME; \"*\": global\n"
		"features: %s\n"
		"exit status: 0 done, 1 (scan) not clean, (selftest) a step failed, 2 usage,\n"
		"  bad input or error\n",
		om_settings_feature_names());
}

/* "--help", "-h" or "help" anywhere a command may start. */
static int ctl_wants_help(const char *word)
{
	return strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 ||
		strcmp(word, "help") == 0;
}

/* The key omamori-web's links (digests) are signed with: made once, kept
   when it exists (omamorictl init is run again on every upgrade). */
static int ctl_init_web_key(struct ctl *ctl)
{
	const char *path = ctl->config->web_key_path;
	char *error = NULL;
	struct stat st;

	char *dir;

	if (stat(path, &st) == 0)
		return CTL_EXIT_OK;
	if (errno != ENOENT)
		return ctl_error("%s: %s", path, strerror(errno));
	/* a site without omamori's configuration directory (a scratch store
	   for a benchmark, a test) has no use for the key: said, not failed */
	dir = om_strdup(path);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	if (dir[0] != '\0' && stat(dir, &st) < 0 && errno == ENOENT) {
		printf("web key %s not made: %s does not exist (digests and "
		       "omamori-web need the key: make the directory, then run "
		       "omamorictl init again)\n", path, dir);
		free(dir);
		return CTL_EXIT_OK;
	}
	free(dir);
	if (om_token_keys_create(path, &error) < 0)
		return ctl_fail(error);
	printf("web key %s made\n", path);
	return ctl_webkey_own(ctl);
}

/* A key file made once by init (crypto/token.h's format): nothing when it
   exists; said, not failed, when its directory is missing (what needs
   it: for_what). 1 made, 0 not, -1 error (said). */
static int ctl_init_key_file(const char *path, const char *name, const char *for_what)
{
	char *error = NULL, *dir;
	struct stat st;

	if (stat(path, &st) == 0)
		return 0;
	if (errno != ENOENT) {
		(void)ctl_error("%s: %s", path, strerror(errno));
		return -1;
	}
	dir = om_strdup(path);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	if (dir[0] != '\0' && stat(dir, &st) < 0 && errno == ENOENT) {
		printf("%s %s not made: %s does not exist (%s)\n", name, path, dir, for_what);
		free(dir);
		return 0;
	}
	free(dir);
	if (om_token_keys_create(path, &error) < 0) {
		(void)ctl_fail(error);
		return -1;
	}
	printf("%s %s made\n", name, path);
	return 1;
}

/* The key outbound-zip's kept passwords are sealed with (crypto/seal.h):
   root's alone (omamori-filter reads it before dropping privileges). */
static int ctl_init_zip_key(struct ctl *ctl)
{
	return ctl_init_key_file(ctl->config->zip_key_path, "zip key",
				 "outbound-zip's \"send the password\" button needs it") < 0 ?
		CTL_EXIT_ERROR : CTL_EXIT_OK;
}

/* The isolation key pair's secret half (crypto/vault.h), root's alone:
   scand and omamori-web read it before dropping privileges. */
static int ctl_init_isolate_key(struct ctl *ctl)
{
	const char *path = ctl->config->isolate_key_path;
	int made = ctl_init_key_file(path, "isolation key", "attachment isolation needs it");

	if (made <= 0)
		return made < 0 ? CTL_EXIT_ERROR : CTL_EXIT_OK;
	/* omamori-web opens isolated files with it after dropping privileges;
	   scand reads it as root and keeps only its public half */
	return ctl_key_own(ctl, path);
}

static int ctl_cmd_init(struct ctl *ctl, int argc, char **argv)
{
	struct om_store *store;
	int ret;

	(void)argv;
	if (argc != 0)
		return ctl_error("usage: omamorictl init (no arguments)");
	store = ctl_store(ctl, 1);
	printf("store %s ready (schema version %d)\n", ctl->config->store_path,
	       om_store_schema_version(store));
	ret = ctl_init_web_key(ctl);
	if (ret == CTL_EXIT_OK)
		ret = ctl_init_zip_key(ctl);
	return ret != CTL_EXIT_OK ? ret : ctl_init_isolate_key(ctl);
}

/* omamorictl config: every parameter with the value in effect, as
   postconf prints Postfix's; config man: omamori.conf(5) from the same
   table (the build makes the installed page with it). */
/* What the file does that may not be meant, on stderr: config is the
   command an administrator checks the file with (as postconf warns). */
static void ctl_config_warnings(const struct om_config *config)
{
	const char *line, *end;

	for (line = config->warnings; (end = strchr(line, '\n')) != NULL;
	     line = end + 1)
		fprintf(stderr, "omamorictl: warning: %.*s\n", (int)(end - line), line);
}

static int ctl_cmd_config(struct ctl *ctl, int argc, char **argv)
{
	char *text, *error = NULL;

	if (argc == 1 && strcmp(argv[0], "man") == 0) {
		if ((text = om_config_man(OM_VERSION, &error)) == NULL)
			return ctl_fail(error);
	} else if (argc == 0) {
		ctl_config_warnings(ctl->config);
		text = om_config_dump(ctl->config);
	} else {
		return ctl_error("usage: omamorictl config [man]");
	}
	fputs(text, stdout);
	free(text);
	return CTL_EXIT_OK;
}

typedef int ctl_command_fn(struct ctl *ctl, int argc, char **argv);

static const struct ctl_command {
	const char *name;
	ctl_command_fn *run;	/* gets the words after the name */
} ctl_commands[] = {
	{ "init", ctl_cmd_init },
	{ "config", ctl_cmd_config },
	{ "sub", ctl_cmd_sub },
	{ "domain", ctl_cmd_domain },
	{ "mailbox", ctl_cmd_mailbox },
	{ "scan", ctl_cmd_scan },
	{ "policy", ctl_cmd_policy },
	{ "list", ctl_cmd_list },
	{ "learn", ctl_cmd_learn },
	{ "train", ctl_cmd_train },
	{ "prior", ctl_cmd_prior },
	{ "classify", ctl_cmd_classify },
	{ "prune", ctl_cmd_prune },
	{ "cron", ctl_cmd_cron },
	{ "web-key", ctl_cmd_webkey },
	{ "isolate-key", ctl_cmd_isolatekey },
	{ "quarantine", ctl_cmd_quarantine },
	{ "hold", ctl_cmd_hold },
	{ "brake", ctl_cmd_brake },
	{ "urls", ctl_cmd_urls },
	{ "audit", ctl_cmd_audit },
	{ "selftest", ctl_cmd_selftest },
	{ "group", ctl_cmd_group },
	{ "billing", ctl_cmd_billing },
	{ "setup", ctl_cmd_setup },
	{ "admin", ctl_cmd_admin },
	{ "trace", ctl_cmd_trace },
	{ "report", ctl_cmd_report },
};

static const struct ctl_command *ctl_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(ctl_commands); i++) {
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	}
	return NULL;
}

/* A command's return as an exit status: one of enum ctl_exit (not clean
   only from scan, the command that gives verdicts), else - a slip such as
   -1 or 1 from a helper - an error, never a status a script would read as
   a verdict. */
static enum ctl_exit ctl_exit_status(const struct ctl_command *cmd, int ret)
{
	switch ((enum ctl_exit)ret) {
	case CTL_EXIT_OK:
	case CTL_EXIT_ERROR:
		return (enum ctl_exit)ret;
	case CTL_EXIT_NOT_CLEAN:
		if (cmd->run == ctl_cmd_scan || cmd->run == ctl_cmd_selftest)
			return CTL_EXIT_NOT_CLEAN;
		break;
	}
	ctl_error("internal error: command %s returned %d", cmd->name, ret);
	return CTL_EXIT_ERROR;
}

int main(int argc, char **argv)
{
	const struct ctl_command *cmd;
	struct ctl ctl;
	char *error = NULL;
	int c, ret;

	memset(&ctl, 0, sizeof(ctl));
	ctl.config_path = OM_DEFAULT_CONFIG_PATH;
	if (argc >= 2 && ctl_wants_help(argv[1])) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c': ctl.config_path = optarg; break;
		case 'h': ctl_usage(stdout); return CTL_EXIT_OK;
		default: ctl_usage(stderr); return CTL_EXIT_ERROR;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		ctl_usage(stderr);
		return CTL_EXIT_ERROR;
	}
	if (ctl_wants_help(argv[0])) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	/* the command is named before the configuration is read, so a typo
	   is reported as such even without a configuration */
	if ((cmd = ctl_command_find(argv[0])) == NULL)
		return ctl_error("unknown command '%s' (omamorictl --help lists them)",
				 argv[0]);
	if (om_config_load(ctl.config_path, &ctl.config, &error) < 0) {
		return ctl_fail(error);
	}
	ret = ctl_exit_status(cmd, cmd->run(&ctl, argc - 1, argv + 1));
	om_store_close(&ctl.store);
	om_config_free(&ctl.config);
	return ret;
}
