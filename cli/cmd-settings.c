/* cmd-settings.c - omamorictl sub ... and domain ...: provisioning.
 *
 * Thin: each command checks its words with settings.c and then makes one
 * store call; the lookup order lives in settings.c, not here.
 */
#include "omamorictl.h"
#include "settings.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ctl_print_row(void *context, const char *key, const char *name,
			  const char *value)
{
	(void)context;
	printf("%s\t%s\t%s\n", key, name, value);
}

static int ctl_check_mailbox(const char *mailbox)
{
	char *error = NULL;

	if (om_settings_mailbox_check(mailbox, &error) < 0) {
		return ctl_fail(error);
	}
	return 0;
}

static int ctl_check_mailbox_feature(const char *mailbox, const char *feature)
{
	int ret = ctl_check_mailbox(mailbox);

	if (ret != 0)
		return ret;
	if (!om_settings_feature_valid(feature))
		return ctl_error("unknown feature '%s' (known: %s)", feature,
				 om_settings_feature_names());
	return 0;
}

/* An outbound feature switched on (a subscription, a domain's feature or
   "default all-on") does nothing until omamori.conf names the filter that
   policyd routes such mail to: say so, the change itself stands. */
static void ctl_warn_outbound(const struct ctl *ctl, const char *key,
			      const char *name, const char *value)
{
	int outbound_on = strcmp(name, OM_FEATURE_OUTBOUND_VIRUS) == 0 ?
		strcmp(value, "on") == 0 :
		strcmp(name, "default") == 0 && strcmp(value, "all-on") == 0;

	if (outbound_on && *ctl->config->outbound_filter == '\0')
		fprintf(stderr, "omamorictl: warning: %s: %s is on, but %s sets no "
			"outbound_filter: omamori-policyd routes no mail to a filter "
			"until it does\n", key, OM_FEATURE_OUTBOUND_VIRUS,
			ctl->config->path);
}

static int ctl_sub_set(struct ctl *ctl, const char *mailbox,
		       const char *feature, const char *state)
{
	char *error = NULL;
	int ret;

	if ((ret = ctl_check_mailbox_feature(mailbox, feature)) != 0)
		return ret;
	if (om_settings_state_parse(state) < 0)
		return ctl_error("state must be on, paused or off, not '%s'", state);
	if (om_store_subscription_set(ctl_store(ctl, 0), mailbox, feature,
				      state, &error) < 0) {
		return ctl_fail(error);
	}
	printf("%s %s %s\n", mailbox, feature, state);
	ctl_warn_outbound(ctl, mailbox, feature, state);
	return CTL_EXIT_OK;
}

static int ctl_sub_get_one(struct ctl *ctl, const char *mailbox,
			   const char *feature)
{
	enum om_sub_state state;
	const char *source;
	char *error = NULL;

	if (om_settings_subscription(ctl_store(ctl, 0), mailbox, feature,
				     &state, &source, &error) < 0) {
		return ctl_fail(error);
	}
	printf("%s\t%s\t%s\t(%s)\n", mailbox, feature,
	       om_settings_state_name(state), source);
	return CTL_EXIT_OK;
}

static int ctl_sub_get(struct ctl *ctl, const char *mailbox,
		       const char *feature)
{
	char *error = NULL;

	if (feature != NULL)
		return ctl_check_mailbox_feature(mailbox, feature) != 0 ?
			CTL_EXIT_ERROR : ctl_sub_get_one(ctl, mailbox, feature);
	if (om_settings_mailbox_check(mailbox, &error) < 0) {
		return ctl_fail(error);
	}
	return ctl_sub_get_one(ctl, mailbox, OM_FEATURE_INBOUND_VIRUS);
}

static int ctl_sub_del(struct ctl *ctl, const char *mailbox,
		       const char *feature)
{
	char *error = NULL;
	int ret;

	if ((ret = ctl_check_mailbox_feature(mailbox, feature)) != 0)
		return ret;
	if (om_store_subscription_delete(ctl_store(ctl, 0), mailbox, feature,
					 &error) < 0) {
		return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

static int ctl_list(struct ctl *ctl, int domains, const char *key)
{
	char *error = NULL;
	int ret;

	ret = domains ?
		om_store_domain_list(ctl_store(ctl, 0), key, ctl_print_row,
				     NULL, &error) :
		om_store_subscription_list(ctl_store(ctl, 0), key,
					   ctl_print_row, NULL, &error);
	if (ret < 0) {
		return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

int ctl_cmd_sub(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[0], "set") == 0)
		return ctl_sub_set(ctl, argv[1], argv[2], argv[3]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "get") == 0)
		return ctl_sub_get(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	if (argc == 3 && strcmp(argv[0], "del") == 0)
		return ctl_sub_del(ctl, argv[1], argv[2]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return ctl_list(ctl, 0, argc == 2 ? argv[1] : NULL);
	return ctl_error("usage: sub set MAILBOX FEATURE on|paused|off | "
			 "sub get MAILBOX [FEATURE] | sub del MAILBOX FEATURE | "
			 "sub list [MAILBOX]");
}

static int ctl_check_domain(const char *domain)
{
	const unsigned char *p;

	if (strcmp(domain, OM_GLOBAL_DOMAIN) == 0)
		return 0;
	if (*domain == '\0' || strlen(domain) > 253 || strchr(domain, '@') != NULL)
		return ctl_error("'%s' is not a domain name", domain);
	for (p = (const unsigned char *)domain; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return ctl_error("domain contains a space or control character");
	}
	return 0;
}

/* A mailbox's own value of a setting it may refine. */
static int ctl_check_mailbox_setting(const char *mailbox, const char *name)
{
	int ret = ctl_check_mailbox(mailbox);

	if (ret != 0)
		return ret;
	if (name != NULL && !om_settings_per_mailbox(name))
		return ctl_error("'%s' cannot be set per mailbox (these can: "
				 "language spam-action spam-threshold "
				 "spam-quarantine-threshold spam-tag)", name);
	return 0;
}

/* Domain settings, and (key an address) a mailbox's refinements, which
   live in the same table under the address. */
static int ctl_domain_set(struct ctl *ctl, const char *domain,
			  const char *name, const char *value)
{
	char *error = NULL;
	int ret;

	ret = strchr(domain, '@') != NULL ? ctl_check_mailbox_setting(domain, name) :
		ctl_check_domain(domain);
	if (ret != 0)
		return ret;
	if (om_settings_domain_check(name, value, &error) < 0 ||
	    om_store_domain_set(ctl_store(ctl, 0), domain, name, value,
				&error) < 0) {
		return ctl_fail(error);
	}
	printf("%s %s %s\n", domain, name, value);
	ctl_warn_outbound(ctl, domain, name, value);
	return CTL_EXIT_OK;
}

static int ctl_domain_unset(struct ctl *ctl, const char *domain,
			    const char *name)
{
	char *error = NULL;
	int ret;

	ret = strchr(domain, '@') != NULL ? ctl_check_mailbox_setting(domain, name) :
		ctl_check_domain(domain);
	if (ret != 0)
		return ret;
	if (om_store_domain_delete(ctl_store(ctl, 0), domain, name, &error) < 0) {
		return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

/* Effective values (its own, else its domain's, else global) of one or
   every setting, for a domain or (key an address) a mailbox. */
static int ctl_domain_get(struct ctl *ctl, const char *key, const char *name)
{
	int mailbox = strchr(key, '@') != NULL;
	char *probe = mailbox ? om_strdup(key) : om_asprintf("postmaster@%s", key);
	char *names = om_strdup(om_settings_domain_names()), *p, *next, *value;
	char *error = NULL;
	int ret = CTL_EXIT_OK;

	for (p = names; p != NULL && *p != '\0'; p = next) {
		next = strchr(p, ' ');
		if (next != NULL)
			*next++ = '\0';
		if ((name != NULL && strcmp(name, p) != 0) ||
		    (mailbox && !om_settings_per_mailbox(p)))
			continue;
		value = om_settings_domain_value(ctl_store(ctl, 0), probe, p,
						 "(unset)", &error);
		if (value == NULL) {
			ret = ctl_error("%s", error);
			free(error);
			break;
		}
		printf("%s\t%s\t%s\n", key, p, value);
		free(value);
	}
	free(names);
	free(probe);
	return ret;
}

int ctl_cmd_domain(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[0], "set") == 0)
		return ctl_domain_set(ctl, argv[1], argv[2], argv[3]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "get") == 0)
		return ctl_check_domain(argv[1]) != 0 ? CTL_EXIT_ERROR :
			ctl_domain_get(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	if (argc == 3 && strcmp(argv[0], "unset") == 0)
		return ctl_domain_unset(ctl, argv[1], argv[2]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return ctl_list(ctl, 1, argc == 2 ? argv[1] : NULL);
	return ctl_error("usage: domain set DOMAIN NAME VALUE | domain get DOMAIN "
			 "[NAME] | domain unset DOMAIN NAME | domain list [DOMAIN]");
}

int ctl_cmd_mailbox(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[0], "set") == 0)
		return ctl_domain_set(ctl, argv[1], argv[2], argv[3]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "get") == 0)
		return ctl_check_mailbox_setting(argv[1], argc == 3 ? argv[2] : NULL) != 0 ?
			CTL_EXIT_ERROR :
			ctl_domain_get(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	if (argc == 3 && strcmp(argv[0], "unset") == 0)
		return ctl_domain_unset(ctl, argv[1], argv[2]);
	return ctl_error("usage: mailbox set MAILBOX NAME VALUE | mailbox get MAILBOX "
			 "[NAME] | mailbox unset MAILBOX NAME  (NAME: language spam-action "
			 "spam-threshold spam-quarantine-threshold spam-tag)");
}
