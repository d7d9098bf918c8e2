/* config.c - parser for omamori.conf ("name = value" lines, # comments).
 *
 * One table defines every parameter once, with its default and bounds, in the
 * manner of Postfix's mail_params.c; an unknown name, a value out of range or
 * a malformed line stops the load with the file and line at fault.  Values
 * with a syntax of their own (outbound_filter) are checked once the whole
 * file is read.
 */
#include "lib/om-config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum om_param_type { OM_PARAM_STR, OM_PARAM_LONG, OM_PARAM_ENUM };

struct om_param {
	const char *name;
	enum om_param_type type;
	size_t offset;
	const char *def;
	long min, max;			/* OM_PARAM_LONG */
	const char *const *choices;	/* OM_PARAM_ENUM, NULL-terminated */
};

static const char *const om_failure_choices[] = { "tempfail", "accept", NULL };
static const char *const om_limit_choices[] = { "deliver", "tempfail",
						      "quarantine", NULL };
static const char *const om_log_choices[] = { "stderr", "syslog", NULL };
static const char *const om_lang_choices[] = { "ja", "en", NULL };
static const char *const om_yesno_choices[] = { "no", "yes", NULL };

#define OFF(f) offsetof(struct om_config, f)
static const struct om_param om_params[] = {
	{ "store_path", OM_PARAM_STR, OFF(store_path), "/var/lib/omamori/omamori.db", 0, 0, NULL },
	{ "scand_socket", OM_PARAM_STR, OFF(scand_socket), "/run/omamori/scand.sock", 0, 0, NULL },
	{ "scand_user", OM_PARAM_STR, OFF(scand_user), "omamori", 0, 0, NULL },
	{ "signature_dirs", OM_PARAM_STR, OFF(signature_dirs), "/var/lib/clamav", 0, 0, NULL },
	{ "templates_dir", OM_PARAM_STR, OFF(templates_dir), "/usr/share/omamori/templates", 0, 0, NULL },
	{ "attachment_rules", OM_PARAM_STR, OFF(attachment_rules), "/etc/omamori/attachments.rules", 0, 0, NULL },
	{ "isolate_dir", OM_PARAM_STR, OFF(isolate_dir), "/var/lib/omamori/isolated", 0, 0, NULL },
	{ "portal_dir", OM_PARAM_STR, OFF(portal_dir), "/var/lib/omamori/portal", 0, 0, NULL },
	{ "isolate_key_path", OM_PARAM_STR, OFF(isolate_key_path), "/etc/omamori/isolate.key", 0, 0, NULL },
	{ "geoip_database", OM_PARAM_STR, OFF(geoip_database), "/var/lib/GeoIP/GeoLite2-Country.mmdb", 0, 0, NULL },
	{ "sandbox_command", OM_PARAM_STR, OFF(sandbox_command), "", 0, 0, NULL },
	{ "sandbox_url", OM_PARAM_STR, OFF(sandbox_url), "", 0, 0, NULL },
	{ "sandbox_max_wait", OM_PARAM_LONG, OFF(sandbox_max_wait), "1800", 0, 86400, NULL },
	{ "sandbox_timeout", OM_PARAM_LONG, OFF(sandbox_timeout), "20", 1, 300, NULL },
	{ "sandbox_max_concurrent", OM_PARAM_LONG, OFF(sandbox_max_concurrent), "2", 1, 64, NULL },
	{ "scan_temp_dir", OM_PARAM_STR, OFF(scan_temp_dir), "", 0, 0, NULL },
	{ "default_language", OM_PARAM_STR, OFF(default_language), "ja", 0, 0, om_lang_choices },
	{ "notice_from", OM_PARAM_STR, OFF(notice_from), "postmaster", 0, 0, NULL },
	{ "log", OM_PARAM_STR, OFF(log), "syslog", 0, 0, om_log_choices },
	{ "scand_workers", OM_PARAM_LONG, OFF(scand_workers), "4", 1, 256, NULL },
	{ "signature_check_interval", OM_PARAM_LONG, OFF(signature_check_interval), "60", 0, 86400, NULL },
	{ "scan_timeout_ms", OM_PARAM_LONG, OFF(scan_timeout_ms), "60000", 100, 600000, NULL },
	{ "scan_max_size", OM_PARAM_LONG, OFF(scan_max_size), "67108864", 1024, 1073741824L, NULL },
	{ "scan_max_parts", OM_PARAM_LONG, OFF(scan_max_parts), "1000", 1, 1000000, NULL },
	{ "scan_max_depth", OM_PARAM_LONG, OFF(scan_max_depth), "30", 1, 1000, NULL },
	{ "store_busy_timeout_ms", OM_PARAM_LONG, OFF(store_busy_timeout_ms), "5000", 0, 600000, NULL },
	{ "policyd_listen", OM_PARAM_STR, OFF(policyd_listen), "unix:/var/spool/postfix/omamori/policy", 0, 0, NULL },
	{ "policyd_user", OM_PARAM_STR, OFF(policyd_user), "omamori", 0, 0, NULL },
	{ "policyd_max_request", OM_PARAM_LONG, OFF(policyd_max_request), "65536", 1024, 1048576, NULL },
	{ "policyd_refresh_interval", OM_PARAM_LONG, OFF(policyd_refresh_interval), "1", 1, 3600, NULL },
	{ "policyd_save_interval", OM_PARAM_LONG, OFF(policyd_save_interval), "5", 1, 3600, NULL },
	{ "policyd_unix_max_connections", OM_PARAM_LONG, OFF(policyd_unix_max_connections), "4096", 1, 1000000, NULL },
	{ "policyd_inet_max_connections", OM_PARAM_LONG, OFF(policyd_inet_max_connections), "1024", 1, 1000000, NULL },
	{ "policyd_idle_timeout", OM_PARAM_LONG, OFF(policyd_idle_timeout), "900", 1, 86400, NULL },
	{ "outbound_filter", OM_PARAM_STR, OFF(outbound_filter), "", 0, 0, NULL },
	{ "filter_listen", OM_PARAM_STR, OFF(filter_listen), "/var/spool/postfix/omamori/filter", 0, 0, NULL },
	{ "filter_user", OM_PARAM_STR, OFF(filter_user), "omamori", 0, 0, NULL },
	{ "filter_group", OM_PARAM_STR, OFF(filter_group), "postdrop", 0, 0, NULL },
	{ "filter_socket_group", OM_PARAM_STR, OFF(filter_socket_group), "postfix", 0, 0, NULL },
	{ "filter_peer_user", OM_PARAM_STR, OFF(filter_peer_user), "postfix", 0, 0, NULL },
	{ "filter_reinject", OM_PARAM_STR, OFF(filter_reinject), "/var/spool/postfix/public/omamori-reinject", 0, 0, NULL },
	{ "node_name", OM_PARAM_STR, OFF(node_name), "", 0, 0, NULL },
	{ "filter_spool", OM_PARAM_STR, OFF(filter_spool), "/var/spool/omamori/outbound", 0, 0, NULL },
	{ "filter_max_connections", OM_PARAM_LONG, OFF(filter_max_connections), "40", 1, 1000, NULL },
	{ "filter_timeout", OM_PARAM_LONG, OFF(filter_timeout), "300", 5, 3600, NULL },
	{ "filter_retention", OM_PARAM_LONG, OFF(filter_retention), "7", 1, 365, NULL },
	{ "filter_control", OM_PARAM_STR, OFF(filter_control), "/run/omamori-filter/control", 0, 0, NULL },
	{ "zip_key_path", OM_PARAM_STR, OFF(zip_key_path), "/etc/omamori/zip.key", 0, 0, NULL },
	{ "brake_filter", OM_PARAM_STR, OFF(brake_filter), "", 0, 0, NULL },
	{ "filter_brake_listen", OM_PARAM_STR, OFF(filter_brake_listen), "/var/spool/postfix/omamori/brake", 0, 0, NULL },
	{ "brake_history_days", OM_PARAM_LONG, OFF(brake_history_days), "14", 1, 90, NULL },
	{ "dedup_listen", OM_PARAM_STR, OFF(dedup_listen), "/var/spool/postfix/omamori/dedup", 0, 0, NULL },
	{ "dedup_fsync", OM_PARAM_LONG, OFF(dedup_fsync), "0", 0, 1, NULL },
	{ "outbound_inline", OM_PARAM_LONG, OFF(outbound_inline), "0", 0, 1, NULL },
	{ "submit_listen", OM_PARAM_STR, OFF(submit_listen), "/var/spool/postfix/omamori/submit", 0, 0, NULL },
	{ "quarantine_mailbox", OM_PARAM_STR, OFF(quarantine_mailbox), "Quarantine", 0, 0, NULL },
	{ "trusted_authserv_id", OM_PARAM_STR, OFF(trusted_authserv_id), "", 0, 0, NULL },
	{ "dns_resolver", OM_PARAM_STR, OFF(dns_resolver), "", 0, 0, NULL },
	{ "dns_timeout_ms", OM_PARAM_LONG, OFF(dns_timeout_ms), "2000", 100, 30000, NULL },
	{ "trusted_authserv_hops", OM_PARAM_LONG, OFF(trusted_authserv_hops), "1", 1, 20, NULL },
	{ "url_token_days", OM_PARAM_LONG, OFF(url_token_days), "3650", 1, 36500, NULL },
	{ "url_clicks_days", OM_PARAM_LONG, OFF(url_clicks_days), "90", 1, 3650, NULL },
	{ "trace_keep_days", OM_PARAM_LONG, OFF(trace_keep_days), "396", 1, 3650, NULL },
	{ "freemail_domains", OM_PARAM_STR, OFF(freemail_domains), "/etc/omamori/freemail-domains", 0, 0, NULL },
	{ "spam_rules", OM_PARAM_STR, OFF(spam_rules), "/etc/omamori/spam.rules", 0, 0, NULL },
	{ "spam_save_interval", OM_PARAM_LONG, OFF(spam_save_interval), "10", 1, 3600, NULL },
	{ "learn_max_per_hour", OM_PARAM_LONG, OFF(learn_max_per_hour), "200", 0, 1000000, NULL },
	{ "doveadm_path", OM_PARAM_STR, OFF(doveadm_path), OM_DOVEADM_PATH_DEFAULT, 0, 0, NULL },
	{ "dovecot_config", OM_PARAM_STR, OFF(dovecot_config), "", 0, 0, NULL },
	{ "doveadm_socket", OM_PARAM_STR, OFF(doveadm_socket), "", 0, 0, NULL },
	{ "web_listen", OM_PARAM_STR, OFF(web_listen), "127.0.0.1:8741", 0, 0, NULL },
	{ "web_user", OM_PARAM_STR, OFF(web_user), "omamori-web", 0, 0, NULL },
	{ "web_url", OM_PARAM_STR, OFF(web_url), "http://127.0.0.1:8741/", 0, 0, NULL },
	{ "web_key_path", OM_PARAM_STR, OFF(web_key_path), "/etc/omamori/web.key", 0, 0, NULL },
	{ "web_trusted_proxies", OM_PARAM_STR, OFF(web_trusted_proxies), "", 0, 0, NULL },
	{ "web_socket_group", OM_PARAM_STR, OFF(web_socket_group), "", 0, 0, NULL },
	{ "web_rate_limit", OM_PARAM_LONG, OFF(web_rate_limit), "120", 1, 1000000, NULL },
	{ "web_threads", OM_PARAM_LONG, OFF(web_threads), "4", 1, 256, NULL },
	{ "dovecot_auth_socket", OM_PARAM_STR, OFF(dovecot_auth_socket), "/run/dovecot/omamori-auth", 0, 0, NULL },
	{ "brand_name", OM_PARAM_STR, OFF(brand_name), "omamori", 0, 0, NULL },
	{ "brand_logo", OM_PARAM_STR, OFF(brand_logo), "", 0, 0, NULL },
	{ "brand_support", OM_PARAM_STR, OFF(brand_support), "", 0, 0, NULL },
	{ "selftest_smtp", OM_PARAM_STR, OFF(selftest_smtp), "127.0.0.1:25", 0, 0, NULL },
	{ "selftest_timeout", OM_PARAM_LONG, OFF(selftest_timeout), "60", 5, 3600, NULL },
	{ "selftest_postfix_config", OM_PARAM_STR, OFF(selftest_postfix_config), "", 0, 0, NULL },
	{ "list_max_entries", OM_PARAM_LONG, OFF(list_max_entries), "300", 1, 100000, NULL },
	{ "scand_metrics_listen", OM_PARAM_STR, OFF(scand_metrics_listen), "127.0.0.1:9741", 0, 0, NULL },
	{ "policyd_metrics_listen", OM_PARAM_STR, OFF(policyd_metrics_listen), "127.0.0.1:9742", 0, 0, NULL },
	{ "web_metrics_listen", OM_PARAM_STR, OFF(web_metrics_listen), "127.0.0.1:9743", 0, 0, NULL },
	{ "metrics_allow_remote", OM_PARAM_ENUM, OFF(metrics_allow_remote), "no", 0, 0, om_yesno_choices },
	{ "scand_failure_action", OM_PARAM_ENUM, OFF(scand_failure_action), "tempfail", 0, 0, om_failure_choices },
	{ "scan_limit_action", OM_PARAM_ENUM, OFF(scan_limit_action), "quarantine", 0, 0, om_limit_choices },
};
#undef OFF

static int om_choice_index(const char *const *choices, const char *value)
{
	int i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(choices[i], value) == 0)
			return i;
	}
	return -1;
}

static char *om_choice_list(const char *const *choices)
{
	struct om_buf b;
	int i;

	om_buf_init(&b);
	for (i = 0; choices[i] != NULL; i++)
		om_buf_printf(&b, "%s%s", i == 0 ? "" : ", ", choices[i]);
	return om_buf_steal(&b, NULL);
}

/* Sets one parameter from text; returns 0 or -1 with *error_r. */
static int om_param_set(struct om_config *config, const struct om_param *p,
			const char *value, char **error_r)
{
	char *field = (char *)config + p->offset;
	char *list;
	long n;
	int idx;

	switch (p->type) {
	case OM_PARAM_STR:
		if (p->choices != NULL &&
		    om_choice_index(p->choices, value) < 0)
			break;
		free(*(char **)field);
		*(char **)field = om_strdup(value);
		return 0;
	case OM_PARAM_LONG:
		if (om_parse_long(value, LONG_MIN, LONG_MAX, &n) < 0) {
			*error_r = om_asprintf("parameter %s: '%s' is not a number",
					       p->name, value);
			return -1;
		}
		if (n < p->min || n > p->max) {
			*error_r = om_asprintf("parameter %s: %ld is outside %ld..%ld",
					       p->name, n, p->min, p->max);
			return -1;
		}
		*(long *)field = n;
		return 0;
	case OM_PARAM_ENUM:
		idx = om_choice_index(p->choices, value);
		if (idx < 0)
			break;
		*(int *)field = idx;
		return 0;
	}
	list = om_choice_list(p->choices);
	*error_r = om_asprintf("parameter %s: '%s' is not one of: %s",
			       p->name, value, list);
	free(list);
	return -1;
}

static const struct om_param *om_param_find(const char *name)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
		if (strcmp(om_params[i].name, name) == 0)
			return &om_params[i];
	}
	return NULL;
}

struct om_config *om_config_defaults(void)
{
	struct om_config *config = om_calloc(1, sizeof(*config));
	char *error = NULL;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
		if (om_param_set(config, &om_params[i], om_params[i].def,
				 &error) < 0)
			abort();	/* a default out of its own bounds */
	}
	config->path = om_strdup("(defaults)");
	config->warnings = om_strdup("");
	return config;
}

static char *om_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Notes a parameter set again (set_at: the line each parameter was set
   on, by its index in om_params; 0 for not yet). */
static void om_config_note_again(struct om_config *config, const struct om_param *p,
				 unsigned int *set_at, unsigned int lineno)
{
	size_t i = (size_t)(p - om_params);
	char *more;

	if (set_at[i] != 0) {
		more = om_asprintf("%s%s line %u: %s is set again (first on line %u); "
				   "the last line counts\n", config->warnings,
				   config->path, lineno, p->name, set_at[i]);
		free(config->warnings);
		config->warnings = more;
	}
	set_at[i] = lineno;
}

/* Parameters an earlier version had: a kept omamori.conf (a conffile an
   upgrade leaves as the administrator wrote it) still names them, and an
   upgrade must not stop every program for that.  Each is ignored with a
   warning saying what replaced it. */
static const struct {
	const char *name, *instead;
} om_retired_params[] = {
	{ "policyd_max_connections",
	  "policyd_unix_max_connections and policyd_inet_max_connections" },
};

/* 1 (and a warning) if name is a retired parameter. */
static int om_config_retired(struct om_config *config, const char *name,
			     unsigned int lineno)
{
	char *more;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_retired_params); i++) {
		if (strcmp(om_retired_params[i].name, name) != 0)
			continue;
		more = om_asprintf("%s%s line %u: %s is no longer used (see %s): "
				   "ignored\n", config->warnings, config->path, lineno,
				   name, om_retired_params[i].instead);
		free(config->warnings);
		config->warnings = more;
		return 1;
	}
	return 0;
}

/* Parses one line; returns 0 or -1 with *error_r (without file/line). */
static int om_config_parse_line(struct om_config *config, char *line,
				unsigned int *set_at, unsigned int lineno,
				char **error_r)
{
	const struct om_param *p;
	char *eq, *name, *value;

	line = om_trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		*error_r = om_asprintf("expected 'name = value', got '%.60s'", line);
		return -1;
	}
	*eq = '\0';
	name = om_trim(line);
	value = om_trim(eq + 1);
	p = om_param_find(name);
	if (p == NULL && om_config_retired(config, name, lineno))
		return 0;
	if (p == NULL) {
		*error_r = om_asprintf("unknown parameter '%.60s'", name);
		return -1;
	}
	om_config_note_again(config, p, set_at, lineno);
	return om_param_set(config, p, value, error_r);
}

/* outbound_filter, brake_filter: "" or Postfix's "transport:nexthop" (a
   master.cf service name, then a nexthop without spaces, possibly
   empty). */
static int om_config_check_filter(const char *name, const char *filter,
				  char **error_r)
{
	const char *colon = strchr(filter, ':'), *p;

	if (*filter == '\0')
		return 0;
	if (strlen(filter) > OM_OUTBOUND_FILTER_MAX) {
		*error_r = om_asprintf("parameter %s: longer than %d bytes", name,
				       OM_OUTBOUND_FILTER_MAX);
		return -1;
	}
	for (p = filter; colon != NULL && p < colon; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			break;
	}
	if (colon == NULL || colon == filter || p < colon) {
		*error_r = om_asprintf("parameter %s: '%.60s' is not "
				       "TRANSPORT:NEXTHOP (a master.cf service name, "
				       "e.g. omamori-out:dummy)", name, filter);
		return -1;
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			*error_r = om_asprintf("parameter %s: the nexthop "
					       "contains a space or a non-ASCII byte", name);
			return -1;
		}
	}
	return 0;
}

/* trusted_authserv_id: "" or authserv-ids (RFC 8601: letters, digits,
   '.', '-', '_') separated by spaces or commas; the first is omamori's own,
   which its checks write into the headers they add (own_authserv_id). */
static int om_config_check_authserv_id(struct om_config *config, char **error_r)
{
	const char *id = config->trusted_authserv_id, *p;
	size_t first;

	if (strlen(id) > 1000) {
		*error_r = om_strdup("parameter trusted_authserv_id: longer than 1000 bytes");
		return -1;
	}
	for (p = id; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.' &&
		    *p != ' ' && *p != ',') {
			*error_r = om_strdup("parameter trusted_authserv_id: host names (letters, "
					     "digits, '.', '-' and '_') separated by spaces or commas");
			return -1;
		}
	}
	id += strspn(id, " ,");
	first = strcspn(id, " ,");
	if (first > 253) {
		*error_r = om_strdup("parameter trusted_authserv_id: an id longer than 253 bytes");
		return -1;
	}
	config->own_authserv_id = om_strndup(id, first);
	return 0;
}

/* selftest_smtp: "ADDRESS:PORT", the address an IPv4 one or an IPv6 one
   in brackets (omamorictl selftest connects there, no name is looked
   up), the port 1..65535. */
static int om_config_check_smtp_address(const char *value, char **error_r)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *colon = strrchr(value, ':');
	char host[64];
	size_t len;
	long port;
	int v6;

	if (colon == NULL || om_parse_long(colon + 1, 1, 65535, &port) < 0)
		goto bad;
	len = (size_t)(colon - value);
	v6 = len >= 2 && value[0] == '[' && value[len - 1] == ']';
	if (v6) {
		value++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(host))
		goto bad;
	memcpy(host, value, len);
	host[len] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1)
		return 0;
bad:
	*error_r = om_strdup("parameter selftest_smtp: not ADDRESS:PORT (127.0.0.1:25, "
			     "[::1]:25: an address, not a name)");
	return -1;
}

/* brake_filter unset: outbound_filter's destination with its last path
   component "brake" (omamori-out:unix:omamori/filter ->
   omamori-out:unix:omamori/brake), the second socket omamori-filter
   listens on; nothing when outbound_filter has no path. */
static void om_config_derive_brake_filter(struct om_config *config)
{
	const char *slash = strrchr(config->outbound_filter, '/');

	if (*config->brake_filter != '\0' || slash == NULL)
		return;
	free(config->brake_filter);
	config->brake_filter = om_asprintf("%.*sbrake",
					   (int)(slash + 1 - config->outbound_filter),
					   config->outbound_filter);
}

int om_config_load(const char *path, struct om_config **config_r,
		   char **error_r)
{
	struct om_config *config;
	char *data, *line, *next, *error;
	unsigned int set_at[OM_N_ELEMENTS(om_params)] = { 0 };
	size_t len;
	unsigned int lineno = 0;

	if (om_read_file(path, 1024 * 1024, &data, &len, error_r) < 0)
		return -1;
	if (strlen(data) != len) {
		*error_r = om_asprintf("%s: contains a NUL byte", path);
		free(data);
		return -1;
	}
	config = om_config_defaults();
	free(config->path);
	config->path = om_strdup(path);
	for (line = data; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (om_config_parse_line(config, line, set_at, lineno, &error) < 0) {
			*error_r = om_asprintf("%s line %u: %s", path, lineno, error);
			free(error);
			free(data);
			om_config_free(&config);
			return -1;
		}
	}
	free(data);
	om_config_derive_brake_filter(config);
	if (om_config_check_filter("outbound_filter", config->outbound_filter, &error) < 0 ||
	    om_config_check_filter("brake_filter", config->brake_filter, &error) < 0 ||
	    om_config_check_authserv_id(config, &error) < 0 ||
	    om_config_check_smtp_address(config->selftest_smtp, &error) < 0) {
		*error_r = om_asprintf("%s: %s", path, error);
		free(error);
		om_config_free(&config);
		return -1;
	}
	*config_r = config;
	return 0;
}

void om_config_log_warnings(const struct om_config *config)
{
	const char *line, *end;

	for (line = config->warnings; (end = strchr(line, '\n')) != NULL;
	     line = end + 1)
		om_log_warn("%.*s", (int)(end - line), line);
}

void om_config_free(struct om_config **configp)
{
	struct om_config *config = *configp;
	size_t i;

	if (config == NULL)
		return;
	for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
		if (om_params[i].type == OM_PARAM_STR)
			free(*(char **)((char *)config + om_params[i].offset));
	}
	free(config->own_authserv_id);
	free(config->warnings);
	free(config->path);
	free(config);
	*configp = NULL;
}

char *om_config_dump(const struct om_config *config)
{
	const char *cfield;
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
		const struct om_param *p = &om_params[i];

		cfield = (const char *)config + p->offset;
		switch (p->type) {
		case OM_PARAM_STR:
			om_buf_printf(&b, "%s = %s\n", p->name,
				      *(char *const *)cfield);
			break;
		case OM_PARAM_LONG:
			om_buf_printf(&b, "%s = %ld\n", p->name,
				      *(const long *)cfield);
			break;
		case OM_PARAM_ENUM:
			om_buf_printf(&b, "%s = %s\n", p->name,
				      p->choices[*(const int *)cfield]);
			break;
		}
	}
	return om_buf_steal(&b, NULL);
}

/* ---- omamori.conf(5) ---- */

/* Appends text for troff: backslashes doubled as \e, a leading dot or
   quote guarded, hyphens as \- (they are minus signs in names). */
static void om_man_text(struct om_buf *b, const char *text)
{
	const char *p;

	if (*text == '.' || *text == '\'')
		om_buf_printf(b, "\\&");
	for (p = text; *p != '\0'; p++) {
		if (*p == '\\')
			om_buf_printf(b, "\\e");
		else if (*p == '-')
			om_buf_printf(b, "\\-");
		else
			om_buf_printf(b, "%c", *p);
	}
}

static void om_man_param(struct om_buf *b, const struct om_param *p,
			 const char *doc)
{
	char *choices;

	om_buf_printf(b, ".TP\n.B ");
	om_man_text(b, p->name);
	om_buf_printf(b, "\n");
	om_man_text(b, doc);
	om_buf_printf(b, "\n.br\nDefault: ");
	om_man_text(b, p->def[0] != '\0' ? p->def : "(empty)");
	om_buf_printf(b, ".");
	if (p->type == OM_PARAM_LONG) {
		om_buf_printf(b, " From %ld to %ld.", p->min, p->max);
	} else if (p->choices != NULL) {
		choices = om_choice_list(p->choices);
		om_buf_printf(b, " One of: ");
		om_man_text(b, choices);
		om_buf_printf(b, ".");
		free(choices);
	}
	om_buf_printf(b, "\n");
}

/* The first parameter without a sentence, or sentence without a
   parameter; NULL when both lists agree. */
static const char *om_man_mismatch(void)
{
	const char *name;
	size_t i, j;

	for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
		if (om_config_param_doc(om_params[i].name) == NULL)
			return om_params[i].name;
	}
	for (j = 0; (name = om_config_param_doc_nth(j)) != NULL; j++) {
		for (i = 0; i < OM_N_ELEMENTS(om_params); i++) {
			if (strcmp(om_params[i].name, name) == 0)
				break;
		}
		if (i == OM_N_ELEMENTS(om_params))
			return name;
	}
	return NULL;
}

char *om_config_man(const char *version, char **error_r)
{
	const char *bad = om_man_mismatch();
	struct om_buf b;
	size_t i;

	if (bad != NULL) {
		*error_r = om_asprintf("omamori.conf(5): parameter %s is in the parser's "
				       "table or in config-doc.c, not in both", bad);
		return NULL;
	}
	om_buf_init(&b);
	om_buf_printf(&b, ".\\\" omamori.conf(5), made by omamorictl config man from the "
		      "parser's own table: do not edit\n");
	om_buf_printf(&b, ".TH OMAMORI.CONF 5 \"\" \"omamori %s\" \"omamori\"\n", version);
	om_buf_printf(&b, ".SH NAME\nomamori.conf \\- omamori's configuration file\n"
		      ".SH SYNOPSIS\n/etc/omamori/omamori.conf\n"
		      ".SH DESCRIPTION\n"
		      "Paths, sockets, users and global defaults of omamori's programs, one\n"
		      ".I name\n= \n.I value\nper line; a line starting with # is a comment.\n"
		      "An unknown name, a number out of its bounds or a malformed line stops the\n"
		      "program that reads the file, naming the file, the line and the parameter.\n"
		      "Per\\-domain and per\\-mailbox settings are not here: they live in the store\n"
		      "and are changed with\n.BR omamorictl (8).\n"
		      "After a change, restart or reload (SIGHUP) the daemons that read it.\n"
		      ".B omamorictl config\nprints every parameter with the value in effect.\n"
		      ".SH PARAMETERS\n");
	for (i = 0; i < OM_N_ELEMENTS(om_params); i++)
		om_man_param(&b, &om_params[i], om_config_param_doc(om_params[i].name));
	om_buf_printf(&b, ".SH FILES\n.TP\n/etc/omamori/omamori.conf\nthis file\n"
		      ".SH SEE ALSO\n.BR omamorictl (8),\n.BR omamori\\-scand (8),\n"
		      ".BR omamori\\-policyd (8),\n.BR omamori\\-filter (8),\n"
		      ".BR omamori\\-web (8)\n");
	return om_buf_steal(&b, NULL);
}
