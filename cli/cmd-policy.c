/* cmd-policy.c - omamorictl policy test and list add|del|show.
 *
 * `policy test` reads one Postfix policy request on stdin and prints the
 * action omamori-policyd would answer and why, with the daemon's own code
 * (policy.c) over a snapshot of the store - like postfwd -f.  It changes no
 * rate counter.  `list` edits the allow/block lists policyd and the
 * scanner use.  A SCOPE word is read by om_settings_key_parse(): "*",
 * a domain (with a dot, or domain:NAME), a mailbox (local@domain, a user
 * name without a domain, or user:NAME); a mailbox's list has the
 * per-mailbox limit, also in an import.
 */
#include "omamorictl.h"
#include "lib/csv.h"
#include "store/admins.h"
#include "store/lists.h"
#include "decide/policy.h"
#include "store/settings.h"
#include "lib/util.h"
#include "url/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ctl_policy_test(struct ctl *ctl)
{
	struct om_policy_request req;
	struct om_policy_decision dec;
	struct om_policy *policy;
	struct om_buf action;
	const char *perror;
	char *data, *error = NULL;
	size_t len, used, scanned = 0;
	int ret;

	if (om_read_file("-", (size_t)ctl->config->policyd_max_request, &data, &len,
			 &error) < 0) {
		return ctl_fail(error);
	}
	/* a request typed by hand may lack the final empty line */
	data = om_realloc(data, len + 3);
	if (len == 0 || data[len - 1] != '\n')
		data[len++] = '\n';
	data[len++] = '\n';
	data[len] = '\0';
	ret = om_policy_parse(data, len, (size_t)ctl->config->policyd_max_request + 2,
			      &scanned, &req, &used, &perror);
	if (ret <= 0) {
		free(data);
		return ctl_error("malformed request: %s (the daemon would close the "
				 "connection without an answer)",
				 ret < 0 ? perror : "incomplete");
	}
	policy = om_policy_new();
	om_policy_set_outbound_filter(policy, ctl->config->outbound_filter);
	if (om_policy_load(policy, ctl_store(ctl, 0), &error) < 0 ||
	    om_policy_load_rates(policy, ctl_store(ctl, 0), &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
		om_policy_free(&policy);
		free(data);
		return ret;
	}
	om_policy_decide(policy, &req, time(NULL), &dec);
	om_buf_init(&action);
	om_policy_action_text(&dec, &action);
	printf("action=%s\nreason: %s\n", action.data, dec.reason);
	om_buf_free(&action);
	om_policy_free(&policy);
	free(data);
	return CTL_EXIT_OK;
}

int ctl_cmd_policy(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "test") == 0)
		return ctl_policy_test(ctl);
	return ctl_error("usage: policy test < request");
}

static void ctl_print_list_row(void *context, const char *scope,
			       const char *kind, const char *entry)
{
	(void)context;
	printf("%s\t%s\t%s\n", scope, kind, entry);
}

/* One CSV field, quoted when it holds a comma or a quote (RFC 4180). */
static void ctl_print_csv_field(const char *field, const char *after)
{
	struct om_buf b;

	om_buf_init(&b);
	om_csv_append_field(&b, field);
	om_buf_append_str(&b, after);
	fwrite(b.data, 1, b.len, stdout);
	om_buf_free(&b);
}

static void ctl_print_csv_row(void *context, const char *scope,
			      const char *kind, const char *entry)
{
	(void)context;
	ctl_print_csv_field(scope, ",");
	ctl_print_csv_field(kind, ",");
	ctl_print_csv_field(entry, "\n");
}

/* The scope an administrator named, and what it is.  0 or exit status. */
static int ctl_list_scope(char *word, const char **scope_r,
			  enum om_settings_key *type_r)
{
	char *error = NULL;

	if (om_settings_key_parse(word, type_r, scope_r, &error) < 0)
		return ctl_fail(error);
	return 0;
}

/* A url-block entry in the url layer's normal form (an IDN host as
   punycode, as link hosts are read: spam/links.c), else as given: the
   list's own check then says what is wrong.  Allocated. */
static char *ctl_list_entry_text(const char *kind, const char *entry)
{
	enum om_url_host_type type;
	char *host = NULL, *error = NULL;

	if (strcmp(kind, "url-block") != 0 ||
	    om_url_host(entry, strlen(entry), &host, &type, &error) < 0 ||
	    type == OM_URL_HOST_IPV6) {
		free(error);
		free(host);
		return om_strdup(entry);
	}
	return host;
}

static char *ctl_list_entry(const char *kind, const char *entry, char **error_r)
{
	char *text = ctl_list_entry_text(kind, entry), *norm;

	norm = om_lists_entry(kind, text, error_r);
	free(text);
	return norm;
}

static int ctl_list_change(struct ctl *ctl, int add, char *word,
			   const char *kind, const char *entry_in)
{
	enum om_settings_key type;
	const char *scope;
	char *entry, *error = NULL;
	int ret;

	if ((ret = ctl_list_scope(word, &scope, &type)) != 0)
		return ret;
	entry = ctl_list_entry(kind, entry_in, &error);
	if (entry == NULL) {
		return ctl_fail(error);
	}
	/* the per-mailbox limit and the user allow-list switch; domain and
	   global lists are the admin's */
	if (type != OM_KEY_MAILBOX) {
		/* a domain's or the global list: recorded in the change log,
		   on the path omamori-web's admin pages take */
		const char *entries[1] = { entry };
		char who[64];

		ctl_who(who, sizeof(who));
		ret = om_admins_lists_change(ctl_store(ctl, 0), who, scope, type, kind,
					     entries, 1, add, 0, &error);
		if (ret == 0 && add)
			ret = 1;
	} else {
		ret = add ? om_lists_add(ctl_store(ctl, 0), scope, type, kind, entry,
					 ctl->config->list_max_entries, &error) :
			om_store_list_delete(ctl_store(ctl, 0), scope, kind, entry, &error);
	}
	if (ret < 0) {
		ret = ctl_error("%s", error);
		free(error);
	} else {
		if (!add && ret == 0)
			printf("%s %s %s: not on the list\n", scope, kind, entry);
		else
			printf("%s %s %s %s\n", scope, kind, add ? "+" : "-", entry);
		ret = CTL_EXIT_OK;
	}
	free(entry);
	return ret;
}

/* The rows of an import, and the line each came from. */
struct ctl_import {
	struct om_store_list_row *rows;
	char **owned;
	unsigned int *lines;
	size_t count, cap;
};

static void ctl_import_push(struct ctl_import *imp, const char *scope, int limited,
			    const char *kind, char *entry, unsigned int line)
{
	if (imp->count == imp->cap) {
		imp->cap = imp->cap == 0 ? 1024 : imp->cap * 2;
		imp->rows = om_realloc(imp->rows, imp->cap * sizeof(*imp->rows));
		imp->owned = om_realloc(imp->owned, imp->cap * sizeof(char *));
		imp->lines = om_realloc(imp->lines, imp->cap * sizeof(unsigned int));
	}
	imp->rows[imp->count].scope = scope;
	imp->rows[imp->count].kind = kind;
	imp->rows[imp->count].entry = entry;
	imp->rows[imp->count].limited = limited;
	imp->lines[imp->count] = line;
	imp->owned[imp->count++] = entry;
}

/* One record: SCOPE,KIND,ENTRY.  0 or exit status. */
static int ctl_import_record(struct ctl_import *imp, char **fields, size_t n,
			     unsigned int line)
{
	enum om_settings_key type;
	const char *scope;
	char *norm, *error = NULL;
	int ret;

	if (n != 3)
		return ctl_error("line %u: expected SCOPE,KIND,ENTRY (3 fields, "
				 "found %zu)", line, n);
	if (om_settings_key_parse(fields[0], &type, &scope, &error) < 0 ||
	    (norm = ctl_list_entry(fields[1], fields[2], &error)) == NULL) {
		ret = ctl_error("line %u: %s", line, error);
		free(error);
		return ret;
	}
	ctl_import_push(imp, scope, type == OM_KEY_MAILBOX, fields[1], norm, line);
	return 0;
}

/* Reads the CSV into imp; 0 or exit status. */
static int ctl_import_read(struct ctl_import *imp, char *data, size_t len)
{
	struct om_csv csv;
	char *fields[3], *error = NULL;
	unsigned int line;
	size_t n;
	int ret;

	if (om_csv_init(&csv, data, len, &error) < 0)
		return ctl_fail(error);
	while ((ret = om_csv_record(&csv, fields, 3, &n, &line, &error)) > 0) {
		/* blank lines, comments and the header export writes */
		if ((n == 1 && *fields[0] == '\0') || *fields[0] == '#' ||
		    (n == 3 && strcmp(fields[0], "scope") == 0 &&
		     strcmp(fields[1], "kind") == 0 && strcmp(fields[2], "entry") == 0))
			continue;
		if ((ret = ctl_import_record(imp, fields, n, line)) != 0)
			return ret;
	}
	return ret < 0 ? ctl_fail(error) : 0;
}

static void ctl_import_free(struct ctl_import *imp)
{
	size_t i;

	for (i = 0; i < imp->count; i++)
		free(imp->owned[i]);
	free(imp->owned);
	free(imp->rows);
	free(imp->lines);
}

/* list import FILE: CSV "scope,kind,entry" records (migration from a
   previous service, or a spreadsheet); all or nothing, in one
   transaction.  A mailbox's list keeps its limit (list_max_entries). */
static int ctl_list_import(struct ctl *ctl, const char *path)
{
	struct ctl_import imp = { NULL, NULL, NULL, 0, 0 };
	char *data, *error = NULL;
	size_t len, failed, i;
	int ret;

	if (om_read_file(path, 1024u * 1024 * 1024, &data, &len, &error) < 0) {
		return ctl_fail(error);
	}
	ret = ctl_import_read(&imp, data, len);
	/* a mailbox's allow entries need its domain's consent, as list add */
	for (i = 0; ret == 0 && i < imp.count; i++) {
		if (imp.rows[i].limited &&
		    om_lists_allowed(ctl_store(ctl, 0), imp.rows[i].scope, OM_KEY_MAILBOX,
				     imp.rows[i].kind, &error) < 0) {
			ret = ctl_error("line %u: %s; nothing imported", imp.lines[i], error);
			om_free(&error);
		}
	}
	if (ret == 0 && om_store_list_import(ctl_store(ctl, 0), imp.rows, imp.count,
					     ctl->config->list_max_entries, &failed,
					     &error) < 0) {
		if (failed < imp.count)
			ret = ctl_error("line %u: %s; nothing imported", imp.lines[failed],
					error);
		else
			ret = ctl_error("%s; nothing imported", error);
		free(error);
	}
	if (ret == 0)
		printf("imported %zu entries\n", imp.count);
	ctl_import_free(&imp);
	free(data);
	return ret;
}

int ctl_cmd_list(struct ctl *ctl, int argc, char **argv)
{
	char *error = NULL;

	if (argc == 2 && strcmp(argv[0], "import") == 0)
		return ctl_list_import(ctl, argv[1]);
	if (argc == 4 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0))
		return ctl_list_change(ctl, strcmp(argv[0], "add") == 0, argv[1],
				       argv[2], argv[3]);
	if ((argc == 1 || argc == 2) &&
	    (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "export") == 0)) {
		/* export: the CSV import reads, header line included */
		int csv = strcmp(argv[0], "export") == 0, ret;
		enum om_settings_key type;
		const char *scope = NULL;

		if (argc == 2 && (ret = ctl_list_scope(argv[1], &scope, &type)) != 0)
			return ret;
		if (csv)
			printf("scope,kind,entry\n");
		if (om_store_list_each(ctl_store(ctl, 0), scope, csv ? ctl_print_csv_row :
				       ctl_print_list_row, NULL, &error) < 0) {
			return ctl_fail(error);
		}
		return CTL_EXIT_OK;
	}
	return ctl_error("usage: list add|del SCOPE allow|block|url-block ENTRY | "
			 "list show [SCOPE] | list export [SCOPE] | list import FILE "
			 "(CSV scope,kind,entry)  (SCOPE: \"*\", a domain (example.jp, "
			 "domain:NAME), a mailbox (taro@example.jp, a user name without "
			 "a domain, user:NAME); ENTRY: an address or @domain, a host name "
			 "for url-block)");
}
