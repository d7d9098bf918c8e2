/* cmd-admin.c - omamorictl admin ...: who administers which domain on
 * omamori-web (issue 18, doc/admin.md), and the change log.
 *
 * Thin: the words are checked and the change recorded by
 * shared/store/admins.c, the one path omamori-web's pages take too.
 */
#include "omamorictl.h"
#include "store/admins.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ctl_who(char *buf, size_t size)
{
	(void)snprintf(buf, size, "omamorictl (uid %lu)", (unsigned long)getuid());
}

static int ctl_admin_add(struct ctl *ctl, int argc, char **argv)
{
	const char *role = "admin", *rights = NULL;
	char *error = NULL, who[64];
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--rights") == 0 && i + 1 < argc)
			rights = argv[++i];
		else if (strncmp(argv[i], "--rights=", 9) == 0)
			rights = argv[i] + 9;
		else if (i == 2)
			role = argv[i];
		else
			return ctl_error("admin add: unexpected '%s'", argv[i]);
	}
	if (strcmp(role, "deputy") == 0 && rights == NULL)
		rights = "";
	ctl_who(who, sizeof(who));
	if (om_admins_add(ctl_store(ctl, 0), who, argv[0], argv[1], role, rights,
			  &error) < 0)
		return ctl_fail(error);
	printf("%s %s %s%s%s\n", argv[0], argv[1], role, rights != NULL && *rights != '\0' ?
	       " " : "", rights != NULL ? rights : "");
	return CTL_EXIT_OK;
}

static int ctl_admin_del(struct ctl *ctl, const char *domain, const char *address)
{
	char *error = NULL, who[64];
	int ret;

	ctl_who(who, sizeof(who));
	ret = om_admins_del(ctl_store(ctl, 0), who, domain, address, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("%s is no admin of %s", address, domain);
	return CTL_EXIT_OK;
}

static void ctl_admin_row(void *context, const struct om_store_admin *a)
{
	(void)context;
	printf("%s\t%s\t%s\t%s\n", a->domain, a->address, a->role,
	       *a->rights != '\0' ? a->rights : "-");
}

static int ctl_admin_list(struct ctl *ctl, const char *domain)
{
	char *error = NULL;

	if (om_store_admin_list(ctl_store(ctl, 0), domain, ctl_admin_row, NULL,
				&error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

static void ctl_change_row(void *context, const struct om_store_change *c)
{
	char when[32];
	time_t t = (time_t)c->at;
	struct tm tm;

	(void)context;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(when, sizeof(when), "%lld", c->at);
	printf("%s\t%s\t%s\t%s\t%s -> %s\n", when, c->who, c->domain, c->what,
	       *c->old_value != '\0' ? c->old_value : "(none)",
	       *c->new_value != '\0' ? c->new_value : "(none)");
}

static int ctl_admin_log(struct ctl *ctl, const char *domain, const char *count)
{
	unsigned long n = 100;
	char *error = NULL;

	if (count != NULL && om_parse_ulong(count, 1, 100000, &n) < 0)
		return ctl_error("admin log: '%s' is not a count (1..100000)", count);
	if (om_store_change_list(ctl_store(ctl, 0), domain, (long)n, ctl_change_row,
				 NULL, &error) < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

int ctl_cmd_admin(struct ctl *ctl, int argc, char **argv)
{
	if (argc >= 3 && argc <= 6 && strcmp(argv[0], "add") == 0)
		return ctl_admin_add(ctl, argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[0], "del") == 0)
		return ctl_admin_del(ctl, argv[1], argv[2]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return ctl_admin_list(ctl, argc == 2 ? argv[1] : NULL);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "log") == 0)
		return ctl_admin_log(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	return ctl_error("usage: admin add DOMAIN ADDRESS [admin|deputy|operator] "
			 "[--rights settings,lists,holds,trace] | admin del DOMAIN ADDRESS | "
			 "admin list [DOMAIN] | admin log DOMAIN [N]");
}
