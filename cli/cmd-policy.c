/* cmd-policy.c - omamorictl policy test and list add|del|show.
 *
 * `policy test` reads one Postfix policy request on stdin and prints the
 * action omamori-policyd would answer and why, with the daemon's own code
 * (policy.c) over a snapshot of the store - like postfwd -f.  It changes no
 * rate counter.  `list` edits the allow/block lists policyd and the
 * scanner use.
 */
#include "omamorictl.h"
#include "lists.h"
#include "policy.h"
#include "settings.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ctl_policy_test(struct ctl *ctl)
{
	struct om_policy_request req;
	struct om_policy_decision dec;
	struct om_policy *policy;
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
	printf("action=%s\nreason: %s\n", dec.action, dec.reason);
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
	const char *separator = context;

	printf("%s%s%s%s%s\n", scope, separator, kind, separator, entry);
}

static int ctl_list_change(struct ctl *ctl, int add, const char *scope,
			   const char *kind, const char *entry_in)
{
	char *entry, *error = NULL;
	int ret;

	entry = om_lists_entry(kind, entry_in, &error);
	if (entry == NULL) {
		return ctl_fail(error);
	}
	/* the per-mailbox limit and the user allow-list switch; domain and
	   global lists are the admin's */
	ret = add ? om_lists_add(ctl_store(ctl, 0), scope, kind, entry,
				 ctl->config->list_max_entries, &error) :
		om_store_list_delete(ctl_store(ctl, 0), scope, kind, entry, &error);
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

/* Counts entries per "scope\tkind" of the file, for the limit check. */
struct ctl_import {
	struct om_store_list_row *rows;
	char **owned;
	size_t count, cap;
};

static int ctl_import_line(struct ctl_import *imp, char *line, unsigned int lineno)
{
	char *scope = line, *kind, *entry, *norm, *error = NULL;
	int ret;

	kind = strchr(scope, ',');
	entry = kind != NULL ? strchr(kind + 1, ',') : NULL;
	if (kind == NULL || entry == NULL)
		return ctl_error("line %u: expected SCOPE,KIND,ENTRY", lineno);
	*kind++ = '\0';
	*entry++ = '\0';
	norm = om_lists_entry(kind, entry, &error);
	if (norm == NULL) {
		ret = ctl_error("line %u: %s", lineno, error);
		free(error);
		return ret;
	}
	if (imp->count == imp->cap) {
		imp->cap = imp->cap == 0 ? 1024 : imp->cap * 2;
		imp->rows = om_realloc(imp->rows, imp->cap * sizeof(*imp->rows));
		imp->owned = om_realloc(imp->owned, imp->cap * sizeof(char *));
	}
	imp->rows[imp->count].scope = scope;
	imp->rows[imp->count].kind = kind;
	imp->rows[imp->count].entry = norm;
	imp->owned[imp->count++] = norm;
	return 0;
}

/* list import FILE: CSV "scope,kind,entry" lines (migration from a previous
   service); all or nothing.  The per-mailbox limit is checked by
   `list add`; an import is the administrator's. */
static int ctl_list_import(struct ctl *ctl, const char *path)
{
	struct ctl_import imp = { NULL, NULL, 0, 0 };
	char *data, *line, *next, *error = NULL;
	unsigned int lineno = 0;
	size_t len, i;
	int ret = 0;

	if (om_read_file(path, 1024u * 1024 * 1024, &data, &len, &error) < 0) {
		return ctl_fail(error);
	}
	for (line = data; ret == 0 && line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (next != NULL && next - 2 >= line && next[-2] == '\r')
			next[-2] = '\0';	/* CSV from Windows */
		if (*line == '\0' || *line == '#' || strcmp(line, "scope,kind,entry") == 0)
			continue;
		ret = ctl_import_line(&imp, line, lineno);
	}
	if (ret == 0 && om_store_list_import(ctl_store(ctl, 0), imp.rows, imp.count,
					     &error) < 0) {
		ret = ctl_error("%s", error);
		free(error);
	}
	if (ret == 0)
		printf("imported %zu entries\n", imp.count);
	for (i = 0; i < imp.count; i++)
		free(imp.owned[i]);
	free(imp.owned);
	free(imp.rows);
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
		int csv = strcmp(argv[0], "export") == 0;

		if (csv)
			printf("scope,kind,entry\n");
		if (om_store_list_each(ctl_store(ctl, 0), argc == 2 ? argv[1] : NULL,
				       ctl_print_list_row, csv ? "," : "\t", &error) < 0) {
			return ctl_fail(error);
		}
		return CTL_EXIT_OK;
	}
	return ctl_error("usage: list add|del SCOPE allow|block|url-block ENTRY | "
			 "list show [SCOPE] | list export [SCOPE] | list import FILE "
			 "(CSV scope,kind,entry)  (SCOPE: a mailbox, a domain or \"*\"; "
			 "ENTRY: an address or @domain, a host name for url-block)");
}
