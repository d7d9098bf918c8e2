/* omamorictl.h - the parts of omamorictl its command files share. */
#ifndef OMAMORICTL_H
#define OMAMORICTL_H

#include <stdarg.h>
#include <stddef.h>

#include "lib/om-config.h"
#include "quarantine/hold.h"
#include "store/store.h"

/* omamorictl's exit status, and nothing else: main() turns any other
   number a command might return into CTL_EXIT_ERROR, so a script never
   reads a stray value as "clean" or "not clean". */
enum ctl_exit {
	CTL_EXIT_OK = 0,	/* done; scan: clean */
	CTL_EXIT_NOT_CLEAN = 1,	/* scan: virus, spam or unscanned;
				   selftest: a step failed */
	CTL_EXIT_ERROR = 2,	/* usage, bad input or error */
};

struct ctl {
	const char *config_path;
	struct om_config *config;
	struct om_store *store;
};

/* Opens the store named by the configuration (exits 2 on failure). */
struct om_store *ctl_store(struct ctl *ctl, int create);
/* Prints "omamorictl: ..." and a line end to stderr. */
void ctl_vwarn(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* The same, and returns CTL_EXIT_ERROR. */
enum ctl_exit ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints error (allocated), frees it, returns CTL_EXIT_ERROR. */
enum ctl_exit ctl_fail(char *error);

int ctl_cmd_sub(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_domain(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_mailbox(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_scan(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_policy(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_list(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_learn(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_classify(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_prune(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_train(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_prior(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_cron(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_webkey(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_isolatekey(struct ctl *ctl, int argc, char **argv);
/* Gives the web key file to web_user when run as root (omamori-web reads
   it as that user).  CTL_EXIT_OK or an exit status. */
/* Gives the key file at path to web_user (when run as root). */
int ctl_key_own(struct ctl *ctl, const char *path);
int ctl_webkey_own(struct ctl *ctl);
int ctl_cmd_quarantine(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_hold(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_urls(struct ctl *ctl, int argc, char **argv);
/* cron's hold-expiry: holds expired by now are sent, discarded or kept for
   the administrator, as each one's hold-expiry says.  0 or -1. */
int ctl_hold_cron(struct ctl *ctl, long long now);
/* Asks omamori-filter to release or discard hold id; prints what
   happened.  CTL_EXIT_OK when done by this request. */
int ctl_hold_ask(struct ctl *ctl, enum om_hold_op op, const char *id);
int ctl_cmd_brake(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_audit(struct ctl *ctl, int argc, char **argv);
/* omamorictl selftest (cmd-selftest.c): CTL_EXIT_NOT_CLEAN when a step
   failed. */
int ctl_cmd_selftest(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_group(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_billing(struct ctl *ctl, int argc, char **argv);
/* omamorictl setup --print (cmd-setup.c) */
int ctl_cmd_setup(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_admin(struct ctl *ctl, int argc, char **argv);
/* "omamorictl (uid N)": who made a change, for the change log. */
void ctl_who(char *buf, size_t size);
int ctl_cmd_trace(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_report(struct ctl *ctl, int argc, char **argv);
/* omamorictl cron's monthly-report task (cmd-report.c): on the 1st of
   now's local month, last month's reports not sent yet.  0 or -1. */
int ctl_report_cron(struct ctl *ctl, long long now);

#endif
