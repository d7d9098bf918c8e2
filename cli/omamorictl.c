/* omamorictl.c - omamori's administration tool: store set-up, subscriptions,
 * domain settings, and test scans through omamori-scand.
 *
 * Every command validates its arguments before touching the store, so a bad
 * line in a provisioning script fails with a message and exit status 2 and
 * writes nothing.
 */
#include "omamorictl.h"
#include "settings.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("omamorictl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_ERROR;
}

int ctl_fail(char *error)
{
	int ret = ctl_error("%s", error);

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

static void ctl_usage(void)
{
	fprintf(stderr,
		"usage: omamorictl [-c config] COMMAND ...\n"
		"  init                                  create or upgrade the store\n"
		"  config                                print the effective configuration\n"
		"  sub set MAILBOX FEATURE on|paused|off subscribe a mailbox\n"
		"  sub get MAILBOX [FEATURE]             effective state and where it comes from\n"
		"  sub del MAILBOX FEATURE               back to the domain default\n"
		"  sub list [MAILBOX]                    mailbox-level subscriptions\n"
		"  domain set DOMAIN NAME VALUE          a domain setting (\"*\" = global)\n"
		"  domain get DOMAIN [NAME]              effective domain settings\n"
		"  domain unset DOMAIN NAME\n"
		"  domain list [DOMAIN]\n"
		"  mailbox set|get|unset MAILBOX NAME [VALUE]  a mailbox's own spam settings\n"
		"  scan [--mailbox ADDR] [--sender ADDR] [--direction in|out] [--text] [-o OUT] FILE|-\n"
		"  list add|del SCOPE allow|block|url-block ENTRY   SCOPE: mailbox, domain, *\n"
		"  list show [SCOPE]\n"
		"  list export [SCOPE] > FILE            CSV scope,kind,entry\n"
		"  list import FILE                      the same CSV (all or nothing)\n"
		"  policy test < REQUEST                 what omamori-policyd would answer\n"
		"  learn spam|ham [--unlearn] FILE|DIR|MBOX...   teach the spam classifier\n"
		"  classify [--rules] FILE|DIR|MBOX...   spam probability (--rules: score and rules)\n"
		"  train [--rounds N] SPAM HAM           learn both, then again what is still unsure\n"
		"  prune [--max-count N]                 forget tokens seen in at most N messages (1)\n"
		"  cron [--now | --at HH:MM]             periodic tasks due now (a timer runs it each minute)\n"
		"features: %s\n", om_settings_feature_names());
}

static int ctl_cmd_init(struct ctl *ctl)
{
	struct om_store *store = ctl_store(ctl, 1);

	printf("store %s ready (schema version %d)\n", ctl->config->store_path,
	       om_store_schema_version(store));
	return CTL_EXIT_OK;
}

static int ctl_cmd_config(struct ctl *ctl)
{
	char *dump = om_config_dump(ctl->config);

	fputs(dump, stdout);
	free(dump);
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl ctl;
	char *error = NULL;
	int c, ret;

	memset(&ctl, 0, sizeof(ctl));
	ctl.config_path = OM_DEFAULT_CONFIG_PATH;
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c': ctl.config_path = optarg; break;
		default: ctl_usage(); return CTL_EXIT_ERROR;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		ctl_usage();
		return CTL_EXIT_ERROR;
	}
	if (om_config_load(ctl.config_path, &ctl.config, &error) < 0) {
		return ctl_fail(error);
	}
	if (strcmp(argv[0], "init") == 0 && argc == 1)
		ret = ctl_cmd_init(&ctl);
	else if (strcmp(argv[0], "config") == 0 && argc == 1)
		ret = ctl_cmd_config(&ctl);
	else if (strcmp(argv[0], "sub") == 0)
		ret = ctl_cmd_sub(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "domain") == 0)
		ret = ctl_cmd_domain(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "mailbox") == 0)
		ret = ctl_cmd_mailbox(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "scan") == 0)
		ret = ctl_cmd_scan(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "policy") == 0)
		ret = ctl_cmd_policy(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "list") == 0)
		ret = ctl_cmd_list(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "learn") == 0)
		ret = ctl_cmd_learn(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "train") == 0)
		ret = ctl_cmd_train(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "classify") == 0)
		ret = ctl_cmd_classify(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "prune") == 0)
		ret = ctl_cmd_prune(&ctl, argc - 1, argv + 1);
	else if (strcmp(argv[0], "cron") == 0)
		ret = ctl_cmd_cron(&ctl, argc - 1, argv + 1);
	else {
		ctl_usage();
		ret = CTL_EXIT_ERROR;
	}
	om_store_close(&ctl.store);
	om_config_free(&ctl.config);
	return ret;
}
