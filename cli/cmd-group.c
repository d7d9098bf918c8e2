/* cmd-group.c - omamorictl group ...: a domain's policy groups (issue 18,
 * doc/admin.md "Policy groups").
 *
 * Thin: a group is a row of the store (om_store_group_*), its settings are
 * domain settings under the group's scope (settings.h), checked by
 * settings.c as every setting is; the lookup order mailbox -> group ->
 * domain lives in settings.c, not here.
 */
#include "omamorictl.h"
#include "store/admins.h"
#include "store/settings.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The domain an administrator named: a name with a dot or domain:NAME.
   0 or exit status. */
static int ctl_group_domain(char *word, const char **domain_r)
{
	enum om_settings_key type;
	char *error = NULL;

	if (om_settings_key_parse(word, &type, domain_r, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_DOMAIN)
		return ctl_error("'%s' is not a domain: write a name with a dot or "
				 "domain:NAME", word);
	return 0;
}

static int ctl_group_name(const char *name)
{
	if (!om_settings_group_name_valid(name))
		return ctl_error("'%s' is not a group name: 1 to %d letters, digits, "
				 "'-' or '_' (and not \"none\")", name, OM_GROUP_NAME_MAX);
	return 0;
}

/* The scope of an existing group; 0 or exit status. */
static int ctl_group_scope(struct ctl *ctl, const char *domain, const char *name,
			   char *scope, size_t size)
{
	char *error = NULL;
	int ret;

	if ((ret = ctl_group_name(name)) != 0)
		return ret;
	ret = om_store_group_exists(ctl_store(ctl, 0), domain, name, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("%s has no policy group '%s' (omamorictl group list %s)",
				 domain, name, domain);
	if (om_settings_group_scope(domain, name, scope, size) < 0)
		return ctl_error("domain name too long: %s", domain);
	return 0;
}

static int ctl_group_check_setting(const char *name)
{
	if (!om_settings_domain_valid(name))
		return ctl_error("unknown setting '%s'; a group may carry: internal-only, "
				 "internal-domains, the outbound features (outbound-*) and "
				 "their conditions (bcc-*, hold-*, zip-*, portal-*)", name);
	if (!om_settings_per_group(name))
		return ctl_error("'%s' is not a setting a policy group may carry (these "
				 "may: internal-only, internal-domains, outbound-*, bcc-*, "
				 "hold-*, zip-*, portal-*); set it on the domain or the "
				 "mailbox", name);
	return 0;
}

/* outbound-zip and outbound-portal exclude each other (seed 001), for a
   group as for a domain: one turned on where the other is on for the
   group (its own value, else its domain's) is refused. */
static int ctl_group_check_exclusive(struct ctl *ctl, const char *domain,
				     const char *scope, const char *setting,
				     const char *value)
{
	const char *other = strcmp(setting, OM_FEATURE_OUTBOUND_ZIP) == 0 ?
		OM_FEATURE_OUTBOUND_PORTAL : strcmp(setting, OM_FEATURE_OUTBOUND_PORTAL) == 0 ?
		OM_FEATURE_OUTBOUND_ZIP : NULL;
	const char *source = "group";
	char *state = NULL, *error = NULL;
	int ret, on;

	if (other == NULL || strcmp(value, "on") != 0)
		return 0;
	ret = om_store_domain_get(ctl_store(ctl, 0), scope, other, &state, &error);
	if (ret == 0)
		ret = om_settings_effective(ctl_store(ctl, 0), OM_KEY_DOMAIN, domain, other,
					    "off", &state, &source, &error) < 0 ? -1 : 1;
	if (ret < 0)
		return ctl_fail(error);
	on = state != NULL && strcmp(state, "on") == 0;
	free(state);
	if (on)
		return ctl_error("%s is on (%s); %s and %s cannot both be on: turn it "
				 "off first", other, source, OM_FEATURE_OUTBOUND_ZIP,
				 OM_FEATURE_OUTBOUND_PORTAL);
	return 0;
}

/* group set DOMAIN NAME SETTING VALUE: makes the group if it is new. */
static int ctl_group_set(struct ctl *ctl, char *word, const char *name,
			 const char *setting, const char *value)
{
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL, who[64];
	const char *domain;
	int ret;

	if ((ret = ctl_group_domain(word, &domain)) != 0 ||
	    (ret = ctl_group_name(name)) != 0 ||
	    (ret = ctl_group_check_setting(setting)) != 0)
		return ret;
	if (om_settings_domain_check(setting, value, &error) < 0)
		return ctl_fail(error);
	if (om_settings_group_scope(domain, name, scope, sizeof(scope)) < 0)
		return ctl_error("domain name too long: %s", domain);
	if ((ret = ctl_group_check_exclusive(ctl, domain, scope, setting, value)) != 0)
		return ret;
	/* recorded in the change log (admin log, the billing export) */
	ctl_who(who, sizeof(who));
	if (om_store_group_add(ctl_store(ctl, 0), domain, name, &error) < 0 ||
	    om_admins_group_setting(ctl_store(ctl, 0), who, domain, name, setting, value,
				    &error) < 0)
		return ctl_fail(error);
	printf("%s group %s %s %s\n", domain, name, setting, value);
	return CTL_EXIT_OK;
}

static int ctl_group_unset(struct ctl *ctl, char *word, const char *name,
			   const char *setting)
{
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL, who[64];
	const char *domain;
	int ret;

	if ((ret = ctl_group_domain(word, &domain)) != 0 ||
	    (ret = ctl_group_scope(ctl, domain, name, scope, sizeof(scope))) != 0 ||
	    (ret = ctl_group_check_setting(setting)) != 0)
		return ret;
	ctl_who(who, sizeof(who));
	if (om_admins_group_setting(ctl_store(ctl, 0), who, domain, name, setting, NULL,
				    &error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

struct ctl_group_show {
	const char *domain, *name;
};

static void ctl_group_print_setting(void *context, const char *key, const char *name,
				    const char *value)
{
	const struct ctl_group_show *g = context;

	(void)key;
	printf("%s\t%s\tsetting\t%s\t%s\n", g->domain, g->name, name, value);
}

static void ctl_group_print_member(void *context, const char *mailbox, const char *name)
{
	const struct ctl_group_show *g = context;

	printf("%s\t%s\tmailbox\t%s\n", g->domain, name, mailbox);
}

/* group show DOMAIN NAME: its settings, then its mailboxes, a line each. */
static int ctl_group_show(struct ctl *ctl, char *word, const char *name)
{
	char scope[OM_GROUP_SCOPE_MAX], *error = NULL;
	struct ctl_group_show g;
	const char *domain;
	int ret;

	if ((ret = ctl_group_domain(word, &domain)) != 0 ||
	    (ret = ctl_group_scope(ctl, domain, name, scope, sizeof(scope))) != 0)
		return ret;
	g.domain = domain;
	g.name = name;
	if (om_store_domain_list(ctl_store(ctl, 0), scope, ctl_group_print_setting, &g,
				 &error) < 0 ||
	    om_store_group_members(ctl_store(ctl, 0), domain, name,
				   ctl_group_print_member, &g, &error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

static void ctl_group_count_member(void *context, const char *mailbox, const char *name)
{
	(void)mailbox;
	(void)name;
	(*(long *)context)++;
}

/* The groups listed, gathered first: showing one reads the store again,
   which must not happen while the list's own statement is being read
   (SQLite would reset it under the loop). */
struct ctl_group_list {
	char **domains, **names;
	size_t count;
};

static void ctl_group_gather(void *context, const char *domain, const char *name)
{
	struct ctl_group_list *l = context;

	l->domains = om_realloc(l->domains, (l->count + 1) * sizeof(char *));
	l->names = om_realloc(l->names, (l->count + 1) * sizeof(char *));
	l->domains[l->count] = om_strdup(domain);
	l->names[l->count++] = om_strdup(name);
}

static int ctl_group_show(struct ctl *ctl, char *word, const char *name);

/* One group of the list: its count of mailboxes, or (show) all of it.
   0 or 1 (failed). */
static int ctl_group_print(struct ctl *ctl, char *domain, const char *name, int show)
{
	char *error = NULL;
	long members = 0;

	if (show)
		return ctl_group_show(ctl, domain, name) != CTL_EXIT_OK;
	if (om_store_group_members(ctl_store(ctl, 0), domain, name,
				   ctl_group_count_member, &members, &error) < 0) {
		(void)ctl_fail(error);
		return 1;
	}
	printf("%s\t%s\t%ld mailbox%s\n", domain, name, members, members == 1 ? "" : "es");
	return 0;
}

/* group list [DOMAIN]: the groups and how many mailboxes each has;
   group show DOMAIN: each group's settings and mailboxes. */
static int ctl_group_list(struct ctl *ctl, char *word, int show)
{
	struct ctl_group_list l = { NULL, NULL, 0 };
	const char *domain = NULL;
	char *error = NULL;
	size_t i;
	int ret, failed = 0;

	if (word != NULL && (ret = ctl_group_domain(word, &domain)) != 0)
		return ret;
	if (om_store_group_list(ctl_store(ctl, 0), domain, ctl_group_gather, &l, &error) < 0)
		failed = -1;
	for (i = 0; i < l.count; i++) {
		if (ctl_group_print(ctl, l.domains[i], l.names[i], show) != 0 && failed == 0)
			failed = 1;
		free(l.domains[i]);
		free(l.names[i]);
	}
	free(l.domains);
	free(l.names);
	if (failed < 0)
		return ctl_fail(error);
	return failed ? CTL_EXIT_ERROR : CTL_EXIT_OK;
}

/* group del DOMAIN NAME: refused while mailboxes are in it. */
static int ctl_group_del(struct ctl *ctl, char *word, const char *name)
{
	const char *domain;
	char *error = NULL, who[64];
	int ret;

	if ((ret = ctl_group_domain(word, &domain)) != 0 ||
	    (ret = ctl_group_name(name)) != 0)
		return ret;
	ctl_who(who, sizeof(who));
	ret = om_admins_group_delete(ctl_store(ctl, 0), who, domain, name, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("%s has no policy group '%s'", domain, name);
	printf("%s group %s deleted\n", domain, name);
	return CTL_EXIT_OK;
}

int ctl_cmd_group(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[0], "set") == 0)
		return ctl_group_set(ctl, argv[1], argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[0], "unset") == 0)
		return ctl_group_unset(ctl, argv[1], argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[0], "show") == 0)
		return ctl_group_show(ctl, argv[1], argv[2]);
	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return ctl_group_list(ctl, argv[1], 1);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return ctl_group_list(ctl, argc == 2 ? argv[1] : NULL, 0);
	if (argc == 3 && strcmp(argv[0], "del") == 0)
		return ctl_group_del(ctl, argv[1], argv[2]);
	return ctl_error("usage: group set DOMAIN NAME SETTING VALUE | group unset "
			 "DOMAIN NAME SETTING | group show DOMAIN [NAME] | group list "
			 "[DOMAIN] | group del DOMAIN NAME  (at most %d groups a domain; "
			 "a mailbox joins with: mailbox set MAILBOX group NAME)",
			 OM_GROUPS_MAX);
}
