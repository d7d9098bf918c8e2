/* config.h - omamori.conf: paths, sockets and global defaults.
 *
 * Per-domain and per-mailbox settings live in the store, not here.  Every
 * parameter has one definition (name, default, minimum, maximum) in config.c.
 */
#ifndef OM_CONFIG_H
#define OM_CONFIG_H

#include <stddef.h>

#ifdef OM_DEFAULT_CONFIG_PATH_OVERRIDE
#define OM_DEFAULT_CONFIG_PATH OM_DEFAULT_CONFIG_PATH_OVERRIDE
#else
#define OM_DEFAULT_CONFIG_PATH "/etc/omamori/omamori.conf"
#endif

enum om_failure_action {
	OM_FAILURE_TEMPFAIL = 0,	/* LMTP 451: Postfix keeps and retries */
	OM_FAILURE_ACCEPT		/* deliver with X-Omamori-Virus: unscanned */
};

enum om_limit_action {
	OM_LIMIT_DELIVER = 0,		/* deliver, X-Omamori-Virus: unscanned (limit):
					   an explicit choice, a risk */
	OM_LIMIT_TEMPFAIL,		/* keep it in Postfix's queue */
	OM_LIMIT_QUARANTINE		/* Quarantine, below a notice (default) */
};

struct om_config {
	char *path;
	char *store_path;
	char *scand_socket;
	char *scand_user;
	char *signature_dirs;	/* space-separated */
	char *templates_dir;
	/* scand's attachment analysis (scan/attach.h): its rules file; ""
	   turns the analysis off for every domain */
	char *attachment_rules;
	/* isolation (crypto/vault.h): the directory of isolated files
	   (scand_user's, group-readable by omamori-web), and the key pair's
	   secret half (root's, 0600: scand keeps only its public half) */
	char *isolate_dir;
	char *isolate_key_path;
	/* the sandbox hook (scan/sandbox.h): its command (argv split on
	   blanks, no shell; "" none), how long mail may wait for a verdict
	   and one run of the command may take (seconds) */
	char *sandbox_command;
	char *sandbox_url;	/* or an HTTP endpoint on this machine */
	/* a MaxMind DB country database (scan/geo.h): the Received path's
	   countries; "" or no file there: not shown */
	char *geoip_database;
	long sandbox_max_wait;
	long sandbox_timeout;
	long sandbox_max_concurrent;	/* runs at once; more wait (451) */
	/* the encrypted delivery portal (doc/portal.md): the messages kept
	   encrypted under a key sealed to isolate_key_path's public half
	   (omamori-filter writes, omamori-web reads: group omamori) */
	char *portal_dir;
	char *scan_temp_dir;	/* libclamav's scratch space ("" = its default) */
	char *default_language;
	char *notice_from;
	char *log;		/* "stderr" or "syslog" */
	long scand_workers;
	long signature_check_interval;	/* seconds; 0 = only on SIGHUP */
	long scan_timeout_ms;
	long scan_max_size;
	long scan_max_parts;
	long scan_max_depth;
	long store_busy_timeout_ms;
	char *policyd_listen;	/* "unix:PATH" and/or "inet:127.0.0.1:PORT" */
	char *policyd_user;
	long policyd_max_request;
	long policyd_refresh_interval;	/* seconds between store checks */
	long policyd_save_interval;	/* seconds between rate counter saves */
	long policyd_unix_max_connections;	/* per unix: listener */
	long policyd_inet_max_connections;	/* per inet: listener */
	long policyd_idle_timeout;	/* seconds without a request */
	char *outbound_filter;	/* "transport:nexthop" for FILTER, "" = none */
	/* omamori-filter (issue 14): its LMTP socket (in Postfix's spool),
	   the user it runs as and its one extra group (postdrop: Postfix's
	   public/ directory), the socket's group and the only user that may
	   deliver to it (Postfix's mail_owner), the re-injection smtpd's
	   socket, omamori's own spool of outbound mail, how many deliveries
	   at once, the idle/read timeout (seconds), and how long a sent
	   message's record is kept (days) */
	char *filter_listen;
	char *filter_user;
	char *filter_group;
	char *filter_socket_group;
	char *filter_peer_user;
	char *filter_reinject;
	char *filter_spool;
	char *node_name;	/* this host among several ("": its hostname) */
	long filter_max_connections;
	long filter_timeout;
	long filter_retention;
	/* the control socket: release or discard held mail (hold.h) */
	char *filter_control;
	/* outbound-zip: the key the kept archive passwords are sealed with
	   (crypto/seal.h); root's, 0600, read by omamori-filter as root */
	char *zip_key_path;
	/* the compromised-account brake (doc/outbound.md): the FILTER
	   destination of a braked login's mail ("" in the file: outbound_filter
	   with its last path component "brake"), the filter's socket behind
	   it, and how many days of hourly history policyd keeps and compares */
	char *brake_filter;
	char *filter_brake_listen;
	long brake_history_days;
	/* omamori-dedup: the milter socket of the re-injection smtpd (in
	   Postfix's spool; root, group filter_socket_group, 0660) */
	char *dedup_listen;
	long dedup_fsync;	/* 1: each mark fsync'd before the copy goes on */
	/* the before-queue path (decide/route.h): 1 when the submission
	   smtpd has omamori-submit as its milter, so that policyd FILTERs
	   only the mail that needs the after-queue filter; 0 (default) every
	   outbound subscriber's mail is FILTERed and omamori-submit passes
	   all.  submit_listen: omamori-submit's milter socket (in Postfix's
	   spool; root, group filter_socket_group, 0660) */
	long outbound_inline;
	char *submit_listen;
	long list_max_entries;	/* per mailbox and kind */
	/* the authserv-ids of our own MTA's Authentication-Results headers,
	   space-separated ("" = trust none), and how many Received headers
	   our MTAs write above the sender's (mail/authres.h) */
	char *trusted_authserv_id;
	/* the first of them: the id omamori's own checks write (derived) */
	char *own_authserv_id;
	long trusted_authserv_hops;
	/* issue 15's gate: how long a link through it lives, how long a
	   click is kept */
	long url_token_days;
	long url_clicks_days;
	/* the message trace's events (senders, recipients, subjects): kept
	   this many days, then omamorictl cron forgets them */
	long trace_keep_days;
	/* omamori's own SPF, DKIM and DMARC checks (issue 15): the DNS
	   servers asked ("ADDRESS[@PORT] ...", "" = /etc/resolv.conf) and
	   the most one server may take for one lookup */
	char *dns_resolver;
	long dns_timeout_ms;
	char *quarantine_mailbox;	/* where spam to quarantine goes */
	char *freemail_domains;		/* the free-mail list (PHISH_FREEMAIL_REPLYTO) */
	char *spam_rules;		/* the phrase rules file (spam/textrules.h) */
	long spam_save_interval;	/* seconds between classifier saves */
	long learn_max_per_hour;	/* IMAP moves one mailbox teaches, 0: any */
	char *doveadm_path;	/* what omamorictl cron runs (absolute) */
	char *dovecot_config;	/* doveadm -c ("" = doveadm's default) */
	/* doveadm -S: a doveadm server socket, for callers that are not root
	   (omamori-web); "" runs doveadm's commands in-process */
	char *doveadm_socket;
	/* omamori-web (issue 13): where it listens (loopback "ADDR:PORT" or
	   "unix:PATH"),
	   the user it runs as, the public URL links in notices start with
	   (the ISP's HTTPS proxy), its token key file, the proxies whose
	   X-Forwarded-For is believed, requests a minute per client, threads;
	   Dovecot's auth-client socket for mailbox logins */
	char *web_listen;
	char *web_user;
	char *web_url;
	char *web_key_path;
	char *web_trusted_proxies;	/* space-separated addresses, "unix" */
	char *web_socket_group;	/* web_listen unix:'s group ("" = web_user's) */
	long web_rate_limit;
	long web_threads;
	char *dovecot_auth_socket;
	/* the ISP on every page and notice: its name, a logo file (PNG or
	   SVG, served by omamori-web at /logo) and how to reach support */
	char *brand_name;
	char *brand_logo;
	char *brand_support;
	/* omamorictl selftest (doc/admin.md): the SMTP service its test mail
	   goes to (Postfix's smtpd, "ADDRESS:PORT"), how long it waits for
	   the mail to arrive (seconds; --timeout), and the Postfix
	   configuration directory whose queue it reads when one does not
	   ("" = Postfix's default) */
	char *selftest_smtp;
	long selftest_timeout;
	char *selftest_postfix_config;
	/* the Prometheus endpoints (doc/metrics.md): "IPV4:PORT",
	   "[IPV6]:PORT", or "" / "off"; loopback only unless
	   metrics_allow_remote (an int of the yes/no choices: 1 yes) */
	char *scand_metrics_listen;
	char *policyd_metrics_listen;
	char *web_metrics_listen;
	int metrics_allow_remote;
	enum om_failure_action scand_failure_action;
	enum om_limit_action scan_limit_action;
	/* what the file does that a reader may not mean (a parameter set
	   twice: the last line counts, as in Postfix's main.cf), a line
	   each, "" if nothing; see om_config_log_warnings */
	char *warnings;
};

/* doveadm_path's default; "" says this host has no Dovecot */
#define OM_DOVEADM_PATH_DEFAULT "/usr/bin/doveadm"

/* The longest outbound_filter ("transport:nexthop"): it must fit in a
   policy answer with "FILTER " before it. */
#define OM_OUTBOUND_FILTER_MAX 200

/* Loads path.  Returns 0, or -1 with *error_r (allocated) naming the file,
   line and parameter at fault.  A missing file is an error. */
int om_config_load(const char *path, struct om_config **config_r,
		   char **error_r);
/* Logs config->warnings with om_log_warn, a line each (a daemon, once
   its log is open). */
void om_config_log_warnings(const struct om_config *config);
/* A configuration holding only the defaults. */
struct om_config *om_config_defaults(void);
void om_config_free(struct om_config **config);
/* Writes every parameter with its value as "name = value" lines. */
char *om_config_dump(const struct om_config *config);

/* The sentence omamori.conf(5) gives a parameter (config-doc.c), or NULL;
   the nth documented name, or NULL past the last. */
const char *om_config_param_doc(const char *name);
const char *om_config_param_doc_nth(size_t i);
/* omamori.conf(5) as troff, from the parser's table and config-doc.c:
   every parameter with its meaning, default and bounds.  NULL with
   *error_r when a parameter has no sentence or a sentence no parameter. */
char *om_config_man(const char *version, char **error_r);

#endif
