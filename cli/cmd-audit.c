/* cmd-audit.c - omamorictl audit: a domain's audit rules (issue 17, seed
 * 003 メール監査, doc/audit.md), for the domain's administrator.
 *
 *	audit add DOMAIN [--at N] RULE	checks RULE (a clear error with its
 *					position if it does not parse) and
 *					stores it last, or at N; the first
 *					rule turns the domain's outbound-audit
 *					on (unless it was set before)
 *	audit del DOMAIN N		removes rule N (the later ones move up)
 *	audit show [DOMAIN]		the rules, numbered, in order
 *	audit test RULES MESSAGE [--in] [--from ADDR] [--to ADDR]...
 *					which rule fires for MESSAGE (a file,
 *					or - for stdin) and why, as `policy
 *					test` does for omamori-policyd: RULES is
 *					a domain (its stored rules) or a file
 *					(one rule a line, # comments)
 */
#include "omamorictl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "store/admins.h"
#include "store/settings.h"
#include "store/store.h"

#define CTL_AUDIT_MESSAGE_MAX (64L * 1024 * 1024)
#define CTL_AUDIT_FILE_MAX (4L * 1024 * 1024)
#define CTL_AUDIT_RULES_MAX 1000
#define CTL_AUDIT_RCPTS_MAX 1000

/* The domain an administrator named (a name with a dot, or domain:NAME).
   0 or exit status. */
static int ctl_audit_domain(char *word, const char **domain_r)
{
	enum om_settings_key type;
	char *error = NULL;

	if (om_settings_key_parse(word, &type, domain_r, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("'%s' is not a domain: audit rules are a domain's "
				 "(example.jp, or domain:NAME)", word);
	return 0;
}

static int ctl_audit_add(struct ctl *ctl, int argc, char **argv)
{
	struct om_audit_rule *rule;
	struct om_store *store;
	const char *domain, *text;
	char *error = NULL, *value = NULL;
	long long at = 0, pos;
	long n;
	int ret;

	if (argc == 4 && strcmp(argv[1], "--at") == 0) {
		if (om_parse_long(argv[2], 1, CTL_AUDIT_RULES_MAX, &n) < 0)
			return ctl_error("--at takes a rule number, 1 to %d",
					 CTL_AUDIT_RULES_MAX);
		at = n;
		text = argv[3];
	} else if (argc == 2) {
		text = argv[1];
	} else {
		return ctl_error("usage: audit add DOMAIN [--at N] 'RULE'");
	}
	if ((ret = ctl_audit_domain(argv[0], &domain)) != 0)
		return ret;
	rule = om_audit_parse(text, &error);
	if (rule == NULL) {
		ctl_error("rule refused: %s", error);
		free(error);
		return CTL_EXIT_ERROR;
	}
	om_audit_rule_free(&rule);
	store = ctl_store(ctl, 0);
	pos = om_store_audit_add(store, domain, at, text, (long long)time(NULL), &error);
	if (pos < 0)
		return ctl_fail(error);
	printf("%s: rule %lld added\n", domain, pos);
	/* the first rule switches the domain's feature on, unless the
	   administrator has set it (off or paused stays) */
	ret = om_store_domain_get(store, domain, OM_FEATURE_OUTBOUND_AUDIT, &value, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0) {
		char who[64];

		/* recorded in the domain's change log, as domain set is */
		ctl_who(who, sizeof(who));
		if (om_settings_domain_change(store, who, OM_KEY_DOMAIN, domain,
					      OM_FEATURE_OUTBOUND_AUDIT, "on", &error) < 0)
			return ctl_fail(error);
		printf("%s: %s on\n", domain, OM_FEATURE_OUTBOUND_AUDIT);
	} else if (strcmp(value, "on") != 0) {
		printf("%s: note: %s is %s: the rules are not applied\n", domain,
		       OM_FEATURE_OUTBOUND_AUDIT, value);
	}
	free(value);
	if (*ctl->config->outbound_filter == '\0')
		fprintf(stderr, "omamorictl: warning: %s sets no outbound_filter: "
			"omamori-policyd routes no mail to omamori-filter until it does\n",
			ctl->config->path);
	return CTL_EXIT_OK;
}

static int ctl_audit_del(struct ctl *ctl, int argc, char **argv)
{
	const char *domain;
	char *error = NULL;
	long n;
	int ret;

	if (argc != 2)
		return ctl_error("usage: audit del DOMAIN N");
	if ((ret = ctl_audit_domain(argv[0], &domain)) != 0)
		return ret;
	if (om_parse_long(argv[1], 1, CTL_AUDIT_RULES_MAX, &n) < 0)
		return ctl_error("a rule number, 1 to %d (audit show lists them)",
				 CTL_AUDIT_RULES_MAX);
	ret = om_store_audit_del(ctl_store(ctl, 0), domain, n, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("%s has no rule %ld", domain, n);
	printf("%s: rule %ld removed\n", domain, n);
	return CTL_EXIT_OK;
}

static void ctl_audit_show_row(void *context, const struct om_store_audit_rule *r)
{
	const int *all = context;

	if (*all)
		printf("%s\t", r->domain);
	printf("%lld\t%s\n", r->position, r->rule);
}

static int ctl_audit_show(struct ctl *ctl, int argc, char **argv)
{
	const char *domain = NULL;
	char *error = NULL;
	int all = argc == 0, ret;

	if (argc > 1)
		return ctl_error("usage: audit show [DOMAIN]");
	if (argc == 1 && (ret = ctl_audit_domain(argv[0], &domain)) != 0)
		return ret;
	if (om_store_audit_list(ctl_store(ctl, 0), domain, ctl_audit_show_row, &all,
				&error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

/* ---- test ---- */

struct ctl_audit_set {
	struct om_audit_rule **rules;
	size_t count;
	char *error;
};

static void ctl_audit_set_add(struct ctl_audit_set *set, const char *text, const char *where)
{
	char *error = NULL;
	struct om_audit_rule *rule;

	if (set->error != NULL)
		return;
	if (set->count == CTL_AUDIT_RULES_MAX) {
		set->error = om_asprintf("more than %d rules", CTL_AUDIT_RULES_MAX);
		return;
	}
	rule = om_audit_parse(text, &error);
	if (rule == NULL) {
		set->error = om_asprintf("%s: %s", where, error);
		free(error);
		return;
	}
	set->rules = om_realloc(set->rules, (set->count + 1) * sizeof(*set->rules));
	set->rules[set->count++] = rule;
}

static void ctl_audit_store_row(void *context, const struct om_store_audit_rule *r)
{
	char where[64];

	snprintf(where, sizeof(where), "rule %lld", r->position);
	ctl_audit_set_add(context, r->rule, where);
}

static void ctl_audit_set_free(struct ctl_audit_set *set)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		om_audit_rule_free(&set->rules[i]);
	free(set->rules);
	free(set->error);
}

/* Rules from a file: one a line, blank lines and # comments skipped. */
static int ctl_audit_file(const char *path, struct ctl_audit_set *set)
{
	char *data = NULL, *error = NULL, *line, *save = NULL, where[64];
	size_t len, no = 0;

	if (om_read_file(path, CTL_AUDIT_FILE_MAX, &data, &len, &error) < 0)
		return ctl_fail(error);
	for (line = data; line != NULL; line = save) {
		char *nl = strchr(line, '\n'), *p = line;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		no++;
		if (nl != NULL && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		snprintf(where, sizeof(where), "%s line %zu", path, no);
		ctl_audit_set_add(set, p, where);
	}
	free(data);
	if (set->error != NULL) {
		ctl_error("%s", set->error);
		return CTL_EXIT_ERROR;
	}
	return 0;
}

static int ctl_audit_read_message(const char *path, char **data_r, size_t *len_r)
{
	char *error = NULL;
	struct om_buf b;
	char chunk[65536];
	size_t n;

	if (strcmp(path, "-") != 0) {
		if (om_read_file(path, CTL_AUDIT_MESSAGE_MAX, data_r, len_r, &error) < 0)
			return ctl_fail(error);
		return 0;
	}
	om_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (b.len + n > (size_t)CTL_AUDIT_MESSAGE_MAX) {
			om_buf_free(&b);
			return ctl_error("the message is over %ld bytes", CTL_AUDIT_MESSAGE_MAX);
		}
		om_buf_append(&b, chunk, n);
	}
	*data_r = om_buf_steal(&b, len_r);
	return 0;
}

/* The options after RULES MESSAGE. */
struct ctl_audit_opts {
	enum om_audit_direction direction;
	const char *from;
	char *rcpts[CTL_AUDIT_RCPTS_MAX];
	size_t rcpt_count;
};

static int ctl_audit_opts(int argc, char **argv, struct ctl_audit_opts *o)
{
	int i;

	o->direction = OM_AUDIT_DIR_OUT;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--in") == 0) {
			o->direction = OM_AUDIT_DIR_IN;
		} else if (strcmp(argv[i], "--out") == 0) {
			o->direction = OM_AUDIT_DIR_OUT;
		} else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			o->from = argv[++i];
		} else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc &&
			   o->rcpt_count < CTL_AUDIT_RCPTS_MAX) {
			o->rcpts[o->rcpt_count++] = argv[++i];
		} else {
			return ctl_error("usage: audit test RULES MESSAGE [--in|--out] "
					 "[--from ADDR] [--to ADDR]...");
		}
	}
	return 0;
}

/* The domain's internal-domains ("" when none or unreadable). */
static char *ctl_audit_internal(struct ctl *ctl, const char *domain)
{
	char *error = NULL, *value, *anyone;

	if (*domain == '\0')
		return om_strdup("");
	/* a setting of the domain alone: asked for a mailbox of it */
	anyone = om_asprintf("postmaster@%s", domain);
	value = om_settings_domain_value(ctl_store(ctl, 0), anyone,
					 OM_SETTING_INTERNAL_DOMAINS, "none", &error);
	free(anyone);
	free(error);
	if (value == NULL || strcmp(value, "none") == 0) {
		free(value);
		return om_strdup("");
	}
	return value;
}

static int ctl_audit_test(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_audit_set set = { NULL, 0, NULL };
	struct ctl_audit_opts opts;
	struct om_audit_result res;
	struct om_audit_msg *m;
	const char *domain = NULL, *sender;
	char *data = NULL, *error = NULL, *from_header = NULL, *internal;
	size_t len = 0, i;
	int ret;

	if (argc < 2)
		return ctl_error("usage: audit test RULES MESSAGE [--in|--out] "
				 "[--from ADDR] [--to ADDR]...");
	memset(&opts, 0, sizeof(opts));
	if ((ret = ctl_audit_opts(argc - 2, argv + 2, &opts)) != 0)
		return ret;
	if (strchr(argv[0], '/') != NULL || access(argv[0], F_OK) == 0) {
		if ((ret = ctl_audit_file(argv[0], &set)) != 0) {
			ctl_audit_set_free(&set);
			return ret;
		}
	} else {
		if ((ret = ctl_audit_domain(argv[0], &domain)) != 0)
			return ret;
		if (om_store_audit_list(ctl_store(ctl, 0), domain, ctl_audit_store_row, &set,
					&error) < 0)
			return ctl_fail(error);
		if (set.error != NULL) {
			ctl_error("%s: %s", domain, set.error);
			ctl_audit_set_free(&set);
			return CTL_EXIT_ERROR;
		}
	}
	if ((ret = ctl_audit_read_message(argv[1], &data, &len)) != 0) {
		ctl_audit_set_free(&set);
		return ret;
	}
	/* the envelope sender: --from, else the message's From */
	sender = opts.from;
	if (sender == NULL) {
		struct om_mime_msg *mm;

		om_mime_global_init();
		mm = om_mime_parse(data, len, &error);
		if (mm != NULL) {
			from_header = om_mime_from_address(mm);
			om_mime_free(&mm);
		}
		om_free(&error);
		sender = from_header != NULL ? from_header : "";
	}
	/* incoming mail is audited by its recipient's domain (scand),
	   outgoing by its sender's */
	if (domain == NULL && opts.direction == OM_AUDIT_DIR_IN && opts.rcpt_count > 0)
		domain = om_settings_domain_of(opts.rcpts[0]);
	if (domain == NULL)
		domain = om_settings_domain_of(sender);
	/* inside besides the domain: its internal-domains, when there is
	   a store to ask (none: only the domain itself) */
	internal = ctl_audit_internal(ctl, domain);
	m = om_audit_msg_read(data, len, opts.direction, domain, internal, sender, opts.rcpts,
			      opts.rcpt_count, &error);
	free(internal);
	if (m == NULL) {
		free(data);
		free(from_header);
		ctl_audit_set_free(&set);
		return ctl_fail(error);
	}
	printf("domain: %s\nsender: %s\ndirection: %s\nrecipients: %zu\n", domain, sender,
	       opts.direction == OM_AUDIT_DIR_IN ? "in" : "out", opts.rcpt_count);
	printf("rules:%s\n", set.count == 0 ? " none" : "");
	for (i = 0; i < set.count; i++)
		printf("  %zu  %s\n", i + 1, om_audit_rule_text(set.rules[i]));
	om_audit_run(set.rules, set.count, m, &res);
	fputs(res.why.data != NULL ? res.why.data : "", stdout);
	printf("action=%s\n", om_audit_verdict_name(res.verdict));
	if (res.fired > 0)
		printf("fired: rule %d\n", res.fired);
	else
		printf("fired: none\n");
	printf("notify: %s\n", res.notify ? "yes" : "no");
	/* what omamori-scand's delivery answer would be (scand/audit-in.c) */
	if (opts.direction == OM_AUDIT_DIR_IN)
		printf("incoming: %s\n", res.verdict == OM_AUDIT_HOLD ?
		       "quarantine-admin (Quarantine, only the administrator may release it)" :
		       res.verdict == OM_AUDIT_DELETE ?
		       "discard (not delivered; LMTP answers 250)" : "deliver");
	for (i = 0; i < res.header_count; i++)
		printf("add-header: %s\n", res.headers[i]);
	om_audit_result_free(&res);
	om_audit_msg_free(&m);
	ctl_audit_set_free(&set);
	free(from_header);
	free(data);
	return CTL_EXIT_OK;
}

int ctl_cmd_audit(struct ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return ctl_audit_add(ctl, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "del") == 0)
		return ctl_audit_del(ctl, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "show") == 0)
		return ctl_audit_show(ctl, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "test") == 0)
		return ctl_audit_test(ctl, argc - 1, argv + 1);
	return ctl_error("usage: audit add DOMAIN [--at N] 'RULE' | del DOMAIN N | "
			 "show [DOMAIN] | test RULES MESSAGE [--in] [--from ADDR] "
			 "[--to ADDR]...");
}
