/* config-doc.c - what each omamori.conf parameter means, in words, for
 * omamori.conf(5).
 *
 * The parameters themselves (name, type, default, bounds) are config.c's
 * table, the one the parser uses; this file only adds the sentence an
 * administrator reads.  om_config_man() renders the page from both and
 * refuses a parameter without its sentence (and test-config fails), so a
 * parameter cannot be added without its documentation, nor can the page
 * list one the parser does not know.
 */
#include "lib/om-config.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *name;
	const char *text;
} om_param_docs[] = {
	{ "store_path", "The store: a path (SQLite), or BACKEND:WHERE (sqlite:/path, postgresql:host=... dbname=...; doc/store.md)." },
	{ "scand_socket",
	  "Scand's UNIX socket: mode 0660, owned by scand_user and its group; "
	  "scand also checks each request's peer (SO_PEERCRED): scans and "
	  "learning only for root, scand_user or a member of its group (Dovecot's"
	  " mail processes get the group through mail_access_groups)." },
	{ "scand_user", "Scand drops to this user after creating its socket (\"\" = stay)." },
	{ "signature_dirs", "Space-separated ClamAV database directories." },
	{ "templates_dir", "Notice templates (ja/, en/)." },
	{ "attachment_rules",
	  "The attachment analysis's rules (doc/attachments.md): risky "
	  "extensions, exempt ones, archive depth, passwords tried; read at "
	  "scand's start and reload, an error stops the start (a reload keeps the"
	  " old rules); \"\" turns the analysis off." },
	{ "isolate_dir",
	  "Isolated attachments (doc/attachments.md), one encrypted file each: "
	  "scand_user's directory, group omamori, 2750 (omamori-web reads through"
	  " the group; cron, as root, removes). scand writes files 0640." },
	{ "portal_dir",
	  "The encrypted delivery portal's messages (doc/portal.md), one "
	  "encrypted file each, sealed to isolate_key_path's public half: "
	  "filter_user's directory, group omamori, 2750 (omamori-filter writes "
	  "0640, omamori-web reads, cron removes at expiry)." },
	{ "isolate_key_path",
	  "Isolation's X25519 key pair (the secret half; the web key's file "
	  "format). Made by omamorictl init, 0600, given to web_user (omamori-web"
	  " opens isolated files with it after dropping privileges); "
	  "omamori-scand reads it as root, keeps only the public half. Without it"
	  " scand removes what it would isolate, and omamori-web cannot give "
	  "files out. omamorictl isolate-key rotate, then restart scand and "
	  "reload omamori-web (doc/attachments.md)." },
	{ "geoip_database",
	  "A MaxMind DB country database (libmaxminddb: GeoLite2-Country via "
	  "geoipupdate, or DB-IP's country lite file): the countries of a mail's "
	  "public Received hops on the attachment notices and the isolation page,"
	  " and the spam rule RECEIVED_COUNTRIES. No file there (Debian 12 "
	  "packages none): not shown, logged once at scand's start. Read at "
	  "start: restart scand after an update." },
	{ "sandbox_command",
	  "The sandbox hook (doc/attachments.md \"Sandbox\"): an absolute path "
	  "and its arguments, split on blanks, run without a shell by "
	  "omamori-scand (scand_user) for each file with a finding; the file on "
	  "stdin and as $OMAMORI_SANDBOX_FILE in a private directory under "
	  "scan_temp_dir; its first word on stdout is the verdict (clean, "
	  "malicious, unknown, pending). \"\" = no sandbox." },
	{ "sandbox_url",
	  "The sandbox hook over HTTP, used instead of sandbox_command when set: "
	  "http(s):// to 127.0.0.1, [::1] or localhost only (scand does not start"
	  " otherwise); the file POSTed as the body with X-Omamori-Name and "
	  "X-Omamori-SHA256 headers; the first word of a 200 answer is the "
	  "verdict." },
	{ "sandbox_max_wait",
	  "How long mail waits (LMTP 451, Postfix retries) for a pending verdict,"
	  " counted from the first time the file was sent; then it is delivered "
	  "with ATT_SANDBOX_UNKNOWN (a warning). Seed 000: 概ね数分～最大30分. Keep below"
	  " Postfix's maximal_queue_lifetime." },
	{ "sandbox_timeout",
	  "One run of sandbox_command; longer counts as pending. Keep it well "
	  "below scan_timeout_ms and the delivery plugin's wait for scand." },
	{ "scan_temp_dir",
	  "Libclamav makes and removes a scratch directory per scan: put it on a "
	  "tmpfs (/run/omamori/tmp, made by the shipped unit for omamori); on "
	  "ext4 the directory churn cost more CPU than the scanning itself "
	  "(measured, see bench/scan). scand checks at start, as its own user, "
	  "that it can make a directory there." },
	{ "default_language", "When the domain sets none." },
	{ "notice_from", "Sender of reports; @recipient-domain is added if it has no domain." },
	{ "log",
	  "Where syslog's socket (/dev/log) cannot be reached, the programs log "
	  "to stderr and say so at start (under systemd that is the journal). -f "
	  "of omamori-scand and omamori-policyd only keeps them in the "
	  "foreground; it does not change where they log." },
	{ "scand_workers", "omamori-scand's worker threads (one per core is right); they share one ClamAV engine." },
	{ "signature_check_interval",
	  "How often scand checks those files for changes (0: only SIGHUP)." },
	{ "scan_timeout_ms",
	  "Milliseconds one scan may take before it is abandoned (the delivery is"
	  " tempfailed)." },
	{ "scan_max_size", "Larger messages are not scanned (limit action)." },
	{ "scan_max_parts", "MIME parts a message may have to be scanned." },
	{ "scan_max_depth", "MIME nesting." },
	{ "store_busy_timeout_ms",
	  "Milliseconds a store access waits for another writer before it fails." },
	{ "policyd_listen",
	  "omamori-policyd's unix:PATH and inet:127.0.0.1:PORT listeners "
	  "(doc/policyd.md)." },
	{ "policyd_user", "Policyd drops to this user after binding." },
	{ "policyd_max_request", "Larger policy requests close the connection." },
	{ "policyd_refresh_interval", "How often policyd looks for store changes." },
	{ "policyd_save_interval", "How often policyd merges its rate counters into the store (where the counts of every host sharing it add up) and saves its other counts." },
	{ "policyd_unix_max_connections", "Connections per unix: listener (Postfix's socket)." },
	{ "policyd_inet_max_connections",
	  "Connections per inet: listener; at the cap the longest-idle one is "
	  "closed for a new one." },
	{ "policyd_idle_timeout",
	  "A connection without a request this long is closed; keep it above "
	  "Postfix's smtpd_policy_service_max_idle (300 s)." },
	{ "outbound_filter",
	  "Where policyd sends outbound subscribers' mail (FILTER); \"\" sends "
	  "none, and omamorictl warns when an outbound feature is switched on "
	  "without it." },
	{ "filter_listen",
	  "omamori-filter's LMTP socket (omamori, group filter_socket_group, "
	  "0660); outbound_filter = omamori-out:unix:omamori/filter points "
	  "Postfix's omamori-out lmtp service there (doc/outbound.md)." },
	{ "filter_user", "The user omamori-filter drops to after making its socket." },
	{ "filter_group", "Its one extra group: Postfix's public/, where the re-injection socket is." },
	{ "filter_socket_group", "The group of its socket (Postfix's lmtp client connects)." },
	{ "filter_peer_user", "The only user (besides root) that may deliver to it (SO_PEERCRED)." },
	{ "filter_reinject", "The smtpd service of conf/master.cf-omamori it re-injects through." },
	{ "node_name",
	  "This host's name among several on one store (empty: the hostname): a "
	  "hold records it, and a release asked on another host is done here "
	  "(doc/scaling.md); unique per host." },
	{ "filter_spool",
	  "omamori's own spool of outbound mail (owned by filter_user, 0700): the"
	  " exactly-once records (KEY.queued, omamori-dedup's marks; "
	  "KEY.refused), held mail, ZIP passwords awaiting a retry." },
	{ "filter_max_connections",
	  "Worker threads, one Postfix connection each (keep it above "
	  "omamori-out's process limit, 20)." },
	{ "filter_timeout", "A Postfix connection silent this long is closed." },
	{ "filter_retention",
	  "How long the record of a sent or refused message is kept (retries "
	  "within it are never sent twice; keep it at least Postfix's "
	  "maximal_queue_lifetime, 5 days by default); sent and discarded holds "
	  "too." },
	{ "filter_control",
	  "Outbound-hold: the UNIX socket (filter_user's, 0660) where "
	  "omamori-web, omamorictl hold and omamorictl cron ask omamori-filter to"
	  " send or discard held mail (and, outbound-zip, to mail an archive's "
	  "password to its recipients); only root and web_user may use it, and "
	  "web_user only for a sender's own hold still waiting (never the "
	  "administrator's: spam, brake, or kept at expiry)." },
	{ "zip_key_path",
	  "Outbound-zip: the key the archive passwords kept for the recipients' "
	  "button are sealed with (XChaCha20-Poly1305; doc/outbound.md). Made by "
	  "omamorictl init (root's, 0600, never web_user's); omamori-filter reads"
	  " it as root before dropping privileges. Without it the ZIP still goes "
	  "out and the sender's notice has no link (-)." },
	{ "brake_filter",
	  "The compromised-account brake: policyd answers FILTER this for every "
	  "recipient of a braked login; empty = outbound_filter with its last "
	  "path component brake (omamori-out:unix:omamori/brake); no "
	  "outbound_filter either: a braked login's mail is deferred (450 4.7.1)." },
	{ "filter_brake_listen",
	  "omamori-filter's second LMTP socket (same owner, mode and peer check "
	  "as filter_listen): every message arriving there is held for the "
	  "administrator; empty = none." },
	{ "brake_history_days",
	  "How many days of hourly sending history policyd keeps (store table "
	  "sender_history) and takes each login's peak hour from." },
	{ "dedup_listen",
	  "omamori-dedup's milter socket (root, group filter_socket_group, 0660: "
	  "only root and Postfix connect); master.cf's omamori-reinject has "
	  "smtpd_milters=unix:omamori/dedup (doc/outbound.md \"Exactly once\")." },
	{ "dedup_fsync",
	  "1: omamori-dedup fsyncs the spool directory after each mark, before "
	  "Postfix commits the copy (one more fsync per outbound message, "
	  "measured in doc/outbound.md \"Throughput\"). It guards only against a "
	  "power loss or kernel crash, after which Postfix itself may deliver "
	  "mail of the last seconds twice (it does not fsync its delivery "
	  "records); a process crash or kill -9 never loses a mark either way. A "
	  "mark taken back after a refused copy is always fsync'd (a mark that "
	  "came back would lose the retry)." },
	{ "outbound_inline",
	  "1: the before-queue path (doc/outbound.md \"The two paths\", \"One "
	  "decider\"): omamori-submit, the submission smtpd's milter, checks "
	  "every subscriber's mail (outbound-virus, -bcc, -zip) before Postfix "
	  "queues it and seals it; policyd FILTERs to omamori-filter only mail "
	  "that may need the after-queue path (outbound-hold whose conditions may"
	  " be met, outbound-spam, outbound-path queue), which skips what the "
	  "seal names. Needs smtpd_milters=unix:omamori/submit and "
	  "milter_default_action=tempfail on every smtpd where customers "
	  "authenticate (conf/master.cf-omamori). 0: every outbound subscriber's "
	  "mail through omamori-filter, omamori-submit passes everything. Turning"
	  " it on: omamori-submit and the milter first, then reload policyd; off:"
	  " policyd first." },
	{ "submit_listen",
	  "omamori-submit's milter socket (root, group filter_socket_group, 0660:"
	  " only root and Postfix connect)." },
	{ "quarantine_mailbox",
	  "The spam folder; give it special_use = \\Junk in Dovecot "
	  "(conf/dovecot-omamori.conf)." },
	{ "trusted_authserv_id",
	  "The authserv-ids of your MTA's Authentication-Results headers "
	  "(OpenDKIM, OpenDMARC, policyd-spf, omamori's own checks); \"\" trusts "
	  "none. Only these, above the sender's headers, count, for the spam "
	  "rules and the banner alike; every other A-R header is removed at "
	  "delivery (doc/links.md)." },
	{ "dns_resolver",
	  "The DNS servers omamori's own checks ask (one port for all); \"\" uses"
	  " /etc/resolv.conf's. A recursive resolver near the MX (unbound on the "
	  "host)." },
	{ "dns_timeout_ms",
	  "The most one server may take for one lookup (one retry); a lookup that"
	  " times out is a temperror, never a pass." },
	{ "trusted_authserv_hops",
	  "How many Received headers your own MTAs write above the sender's "
	  "headers (Dovecot's with LMTP one not counted): an A-R header counts "
	  "only above the last of them. 1 for an MX that delivers to Dovecot; add"
	  " one per internal relay or re-injecting content filter between them "
	  "(doc/links.md)." },
	{ "url_token_days",
	  "How long a link through the click-time gate (url-rewrite) lives; "
	  "rotating the web key twice (omamorictl webkey rotate) also ends old "
	  "links." },
	{ "url_clicks_days",
	  "How long the gate's clicks are kept for reports; omamorictl cron "
	  "(url-clicks-expiry) forgets older ones." },
	{ "trace_keep_days",
	  "How long the message trace's events (senders, recipients, subjects, "
	  "what omamori did) are kept; omamorictl cron (events-expiry) forgets "
	  "older ones. The default, 396 (13 months), keeps a year of monthly "
	  "reports and the month before; a site's privacy rules may want less "
	  "(reports of months older than that are then empty; below 62 even "
	  "last month's report misses its first days)." },
	{ "freemail_domains",
	  "The free-mail providers of the rule PHISH_FREEMAIL_REPLYTO "
	  "(doc/spam.md); without the file only that rule is off." },
	{ "spam_rules",
	  "The spam rules an administrator can change: phrases with a link's "
	  "shape, their points and reasons (doc/spam.md); a file with an error "
	  "keeps scand from starting, an empty value turns them off." },
	{ "spam_save_interval",
	  "How often scand saves what it learned from IMAP (omamorictl learn, "
	  "train and prune tell scand themselves: doc/spam.md)." },
	{ "learn_max_per_hour",
	  "How many messages one mailbox may teach the classifier in an hour by "
	  "moving them into or out of Junk (the classifier is every customer's: "
	  "this bounds what one mailbox can do to it); further moves still move "
	  "the mail, unlearned, and scand logs the mailbox once; 0: no bound." },
	{ "doveadm_path", "What omamorictl cron runs. Empty on a host without "
	  "Dovecot (one that runs only omamori-policyd or the filter): cron then "
	  "skips the mailbox tasks, as it does when the default is not there." },
	{ "dovecot_config", "Given to doveadm as -c by omamorictl cron." },
	{ "doveadm_socket",
	  "Dovecot's doveadm server socket omamori-web moves mail through (it is "
	  "not root); empty: doveadm_path is run." },
	{ "scand_metrics_listen",
	  "Where omamori-scand serves its Prometheus metrics (GET /metrics; "
	  "doc/metrics.md): IPV4:PORT or [IPV6]:PORT, loopback unless "
	  "metrics_allow_remote; \"\" or off for none.  An address in use is "
	  "logged and scand runs on without metrics." },
	{ "policyd_metrics_listen",
	  "Where omamori-policyd serves its Prometheus metrics, as "
	  "scand_metrics_listen." },
	{ "web_metrics_listen",
	  "Where omamori-web serves its Prometheus metrics, as "
	  "scand_metrics_listen (a port of its own: web_listen is the proxy's)." },
	{ "metrics_allow_remote",
	  "yes lets a *_metrics_listen address be other than loopback (the "
	  "metrics carry no address, but counts are still the site's own: "
	  "firewall them); no refuses to start with one." },
	{ "web_listen",
	  "Where omamori-web listens: 127.0.0.1:PORT or, better, unix:PATH only "
	  "the HTTPS proxy's group may use." },
	{ "web_user", "The user omamori-web runs as." },
	{ "web_url",
	  "The public address the HTTPS proxy serves omamori-web at; every link "
	  "in digests and notices starts with it." },
	{ "web_key_path",
	  "The key links and forms are signed with (0600, web_user's; omamorictl "
	  "init makes it, omamorictl web-key rotate changes it)." },
	{ "web_trusted_proxies",
	  "The proxies whose X-Forwarded-For names the client: addresses, and "
	  "unix for the peers of a unix: web_listen." },
	{ "web_socket_group",
	  "The group of a unix: web_listen socket (mode 0660): the proxy's. "
	  "Empty: web_user's group." },
	{ "web_rate_limit", "Requests per minute one client may make to omamori-web." },
	{ "web_threads", "omamori-web's worker threads." },
	{ "dovecot_auth_socket",
	  "Dovecot's auth client socket omamori-web checks mail passwords on "
	  "(conf/dovecot-omamori.conf makes it)." },
	{ "brand_name", "The ISP's name on every page and notice." },
	{ "brand_logo", "A PNG or SVG file shown on the pages; empty: none." },
	{ "brand_support", "The support contact printed on pages and notices." },
	{ "list_max_entries", "Allow/block entries per mailbox and kind (seed 003)." },
	{ "scand_failure_action",
	  "What the delivery plugin does when omamori-scand cannot answer: "
	  "tempfail (LMTP 451, Postfix retries) or accept (deliver with "
	  "X-Omamori-Virus: unscanned)." },
	{ "scan_limit_action",
	  "A message not scanned whole: Quarantine below a notice (default), kept"
	  " in Postfix's queue, or delivered as it is (a risk, see above)." },
	{ "sandbox_max_concurrent",
	  "Sandbox runs (command or HTTP) going on at once in omamori-scand; each holds a "
	  "worker for up to sandbox_timeout. A file that finds every slot taken is not sent: "
	  "its mail is deferred as pending (LMTP 451, logged sandbox busy) and asks again on "
	  "Postfix's retry; sandbox_max_wait counts from then. Keep it below scand_workers." },
	{ "selftest_smtp",
	  "The Postfix smtpd omamorictl selftest sends its test mail to, as ADDRESS:PORT "
	  "(an IPv4 address, or an IPv6 one in brackets: no name is looked up): the one "
	  "the Internet's mail comes in through, so that omamori-policyd and every "
	  "restriction see it." },
	{ "selftest_timeout", "How long omamorictl selftest waits for its mails to arrive (--timeout overrides)." },
	{ "selftest_postfix_config",
	  "The Postfix configuration directory whose queue omamorictl selftest reads "
	  "(postqueue -c DIR -j) to say why a mail did not arrive; empty: Postfix's default." },
};

const char *om_config_param_doc(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(om_param_docs) / sizeof(om_param_docs[0]); i++) {
		if (strcmp(om_param_docs[i].name, name) == 0)
			return om_param_docs[i].text;
	}
	return NULL;
}

const char *om_config_param_doc_nth(size_t i)
{
	return i < sizeof(om_param_docs) / sizeof(om_param_docs[0]) ?
		om_param_docs[i].name : NULL;
}
