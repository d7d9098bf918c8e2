/* cmd-settings.c - omamorictl sub ... and domain ...: provisioning.
 *
 * Thin: each command checks its words with settings.c and then makes one
 * store call; the lookup order lives in settings.c, not here.
 */
#include "omamorictl.h"
#include "store/admins.h"
#include "store/settings.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ctl_print_row(void *context, const char *key, const char *name,
			  const char *value)
{
	(void)context;
	printf("%s\t%s\t%s\n", key, name, value);
}

/* The key an administrator named, which must be a mailbox (local@domain, a
   user name without a domain, or user:NAME).  0 or exit status. */
static int ctl_mailbox_key(char *word, const char **key_r)
{
	enum om_settings_key type;
	char *error = NULL;

	if (om_settings_key_parse(word, &type, key_r, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_MAILBOX)
		return ctl_error("'%s' is not a mailbox: write local@domain, a user "
				 "name without a domain, or user:NAME", word);
	return 0;
}

/* A domain command's key: a domain ("*", a name with a dot, domain:NAME),
   or a mailbox (its refinements).  0 or exit status. */
static int ctl_any_key(char *word, enum om_settings_key *type_r,
		       const char **key_r)
{
	char *error = NULL;

	if (om_settings_key_parse(word, type_r, key_r, &error) < 0)
		return ctl_fail(error);
	return 0;
}

/* "(mailbox)", "(group B)", "(domain example.jp)", "(global)",
   "(default)". */
static const char *ctl_source_text(struct ctl *ctl, const char *source,
				   enum om_settings_key type, const char *key,
				   char *buf, size_t size)
{
	const char *domain = type == OM_KEY_MAILBOX ? om_settings_domain_of(key) : key;
	struct om_settings_source src;
	char *group, *error = NULL;

	if (strcmp(source, "domain") == 0) {
		(void)snprintf(buf, size, "(domain %s)", domain);
	} else if (strcmp(source, "group") == 0) {
		om_settings_store_source(ctl_store(ctl, 0), &src);
		group = om_settings_group_of(&src, key, &error);
		(void)snprintf(buf, size, "(group %s)", group != NULL ? group : "?");
		free(group);
		free(error);
	} else {
		(void)snprintf(buf, size, "(%s)", source);
	}
	return buf;
}

static int ctl_check_feature(const char *feature)
{
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

/* outbound-zip and outbound-portal exclude each other (seed 001: 併用で
   きません): turning one on where the other is in effect on is refused.
   type/key: the mailbox, or a domain (its "postmaster@" stands for the
   domain's own value). */
static int ctl_check_exclusive(struct ctl *ctl, enum om_settings_key type,
			       const char *key, const char *name, const char *value)
{
	const char *other = strcmp(name, OM_FEATURE_OUTBOUND_ZIP) == 0 ?
		OM_FEATURE_OUTBOUND_PORTAL : strcmp(name, OM_FEATURE_OUTBOUND_PORTAL) == 0 ?
		OM_FEATURE_OUTBOUND_ZIP : NULL;
	enum om_sub_state state;
	const char *source;
	char *mailbox, *error = NULL;
	int ret;

	if (other == NULL || strcmp(value, "on") != 0 || type == OM_KEY_GLOBAL)
		return 0;
	mailbox = type == OM_KEY_MAILBOX ? om_strdup(key) : om_asprintf("postmaster@%s", key);
	ret = om_settings_subscription(ctl_store(ctl, 0), mailbox, other, &state, &source,
				       &error);
	free(mailbox);
	if (ret < 0)
		return ctl_fail(error);
	if (state == OM_SUB_ON)
		return ctl_error("%s: %s is on (%s); %s and %s cannot both be on: turn "
				 "it off first", key, other, source, OM_FEATURE_OUTBOUND_ZIP,
				 OM_FEATURE_OUTBOUND_PORTAL);
	return 0;
}

static int ctl_sub_set(struct ctl *ctl, char *word, const char *feature,
		       const char *state)
{
	const char *mailbox;
	char *error = NULL;
	int ret;

	if ((ret = ctl_mailbox_key(word, &mailbox)) != 0 ||
	    (ret = ctl_check_feature(feature)) != 0)
		return ret;
	if (om_settings_state_parse(state) < 0)
		return ctl_error("state must be on, paused or off, not '%s'", state);
	if ((ret = ctl_check_exclusive(ctl, OM_KEY_MAILBOX, mailbox, feature, state)) != 0)
		return ret;
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
	char *error = NULL, buf[300];

	if (om_settings_subscription(ctl_store(ctl, 0), mailbox, feature,
				     &state, &source, &error) < 0) {
		return ctl_fail(error);
	}
	printf("%s\t%s\t%s\t%s\n", mailbox, feature, om_settings_state_name(state),
	       ctl_source_text(ctl, source, OM_KEY_MAILBOX, mailbox, buf, sizeof(buf)));
	return CTL_EXIT_OK;
}

/* One feature, or every feature, with its state and where it comes from. */
static int ctl_sub_get(struct ctl *ctl, char *word, const char *feature)
{
	static const char *const features[] = {
		OM_FEATURE_INBOUND_VIRUS, OM_FEATURE_OUTBOUND_VIRUS, OM_FEATURE_SPAM
	};
	const char *mailbox;
	size_t i;
	int ret;

	if ((ret = ctl_mailbox_key(word, &mailbox)) != 0)
		return ret;
	if (feature != NULL)
		return ctl_check_feature(feature) != 0 ? CTL_EXIT_ERROR :
			ctl_sub_get_one(ctl, mailbox, feature);
	for (i = 0; i < OM_N_ELEMENTS(features); i++) {
		if ((ret = ctl_sub_get_one(ctl, mailbox, features[i])) != CTL_EXIT_OK)
			return ret;
	}
	return CTL_EXIT_OK;
}

static int ctl_sub_del(struct ctl *ctl, char *word, const char *feature)
{
	const char *mailbox;
	char *error = NULL;
	int ret;

	if ((ret = ctl_mailbox_key(word, &mailbox)) != 0 ||
	    (ret = ctl_check_feature(feature)) != 0)
		return ret;
	if (om_store_subscription_delete(ctl_store(ctl, 0), mailbox, feature,
					 &error) < 0) {
		return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

static int ctl_list(struct ctl *ctl, int domains, char *word)
{
	enum om_settings_key type;
	const char *key = NULL;
	char *error = NULL;
	int ret;

	if (word != NULL && (ret = ctl_any_key(word, &type, &key)) != 0)
		return ret;
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

/* A mailbox's own value of a setting it may refine. */
static int ctl_check_mailbox_setting(const char *word, const char *name)
{
	if (name == NULL || om_settings_per_mailbox(name))
		return 0;
	return ctl_error("'%s' cannot be set per mailbox (these can: group language "
			 "spam-action spam-threshold spam-quarantine-threshold "
			 "spam-tag ...; a policy group carries outbound settings: "
			 "omamorictl group set)%s", name,
			 strchr(word, '@') == NULL && strchr(word, ':') == NULL ?
			 "; a domain without a dot is written domain:NAME" : "");
}

/* mailbox set MAILBOX group NAME|none: the group must be one of the
   mailbox's domain (omamorictl group set makes it); none leaves it. */
static int ctl_mailbox_group(struct ctl *ctl, enum om_settings_key type,
			     const char *key, const char *value)
{
	const char *domain = om_settings_domain_of(key);
	char *error = NULL, who[64];
	int ret;

	ctl_who(who, sizeof(who));
	if (type != OM_KEY_MAILBOX)
		return ctl_error("group is a mailbox's setting: omamorictl mailbox set "
				 "MAILBOX group NAME (a domain's groups: omamorictl group)");
	if (om_settings_domain_check(OM_SETTING_GROUP, value, &error) < 0)
		return ctl_fail(error);
	if (strcmp(value, "none") == 0) {
		if (om_admins_group_member(ctl_store(ctl, 0), who, key, NULL, &error) < 0)
			return ctl_fail(error);
		printf("%s group none\n", key);
		return CTL_EXIT_OK;
	}
	ret = *domain == '\0' ? 0 :
		om_store_group_exists(ctl_store(ctl, 0), domain, value, &error);
	if (ret < 0)
		return ctl_fail(error);
	if (ret == 0)
		return ctl_error("%s has no policy group '%s' (make it with: omamorictl "
				 "group set %s %s SETTING VALUE; see omamorictl group list "
				 "%s)", *domain != '\0' ? domain : key, value,
				 *domain != '\0' ? domain : "DOMAIN", value,
				 *domain != '\0' ? domain : "");
	if (om_admins_group_member(ctl_store(ctl, 0), who, key, value, &error) < 0)
		return ctl_fail(error);
	printf("%s group %s\n", key, value);
	return CTL_EXIT_OK;
}

/* Domain settings, and (key a mailbox) a mailbox's refinements, which
   live in the same table under the mailbox's name. */
static int ctl_domain_set(struct ctl *ctl, enum om_settings_key type,
			  const char *word, const char *key, const char *name,
			  const char *value)
{
	char *error = NULL, who[64];
	int ret;

	if (strcmp(name, OM_SETTING_GROUP) == 0)
		return ctl_mailbox_group(ctl, type, key, value);
	if (type == OM_KEY_MAILBOX && (ret = ctl_check_mailbox_setting(word, name)) != 0)
		return ret;
	if ((ret = ctl_check_exclusive(ctl, type, key, name, value)) != 0)
		return ret;
	/* checked and recorded in the change log on the one path the web's
	   admin pages take too */
	ctl_who(who, sizeof(who));
	if (om_settings_domain_change(ctl_store(ctl, 0), who, type, key, name, value,
				      &error) < 0) {
		return ctl_fail(error);
	}
	printf("%s %s %s\n", key, name, value);
	ctl_warn_outbound(ctl, key, name, value);
	return CTL_EXIT_OK;
}

static int ctl_domain_unset(struct ctl *ctl, enum om_settings_key type,
			    const char *word, const char *key, const char *name)
{
	char *error = NULL, who[64];
	int ret;

	if (type == OM_KEY_MAILBOX && (ret = ctl_check_mailbox_setting(word, name)) != 0)
		return ret;
	if (!om_settings_domain_valid(name))
		return ctl_error("unknown domain setting '%s' (known: %s)", name,
				 om_settings_domain_names());
	ctl_who(who, sizeof(who));
	if (om_settings_domain_change(ctl_store(ctl, 0), who, type, key, name, NULL,
				      &error) < 0) {
		return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

/* What mailbox get shows: the settings a mailbox may refine, and those its
   policy group may carry (features are sub get's: a mailbox's own
   subscription row comes first there). */
static int ctl_mailbox_shows(const char *name)
{
	return om_settings_per_mailbox(name) ||
		(om_settings_per_group(name) && !om_settings_feature_valid(name));
}

/* One setting's value in effect for key, and where it comes from. */
static int ctl_domain_get_one(struct ctl *ctl, enum om_settings_key type,
			      const char *key, const char *name)
{
	const char *def = strcmp(name, "language") == 0 ?
		ctl->config->default_language : om_settings_default(name);
	const char *source;
	char *value = NULL, *error = NULL, buf[300];

	if (om_settings_effective(ctl_store(ctl, 0), type, key, name, def, &value,
				  &source, &error) < 0) {
		return ctl_fail(error);
	}
	printf("%s\t%s\t%s\t%s\n", key, name, value != NULL ? value : "",
	       ctl_source_text(ctl, source, type, key, buf, sizeof(buf)));
	free(value);
	return CTL_EXIT_OK;
}

/* Effective values (its own, else its domain's, else global, else the
   default) of one or every setting, for a domain, "*" or (key a mailbox)
   a mailbox's refinable settings. */
static int ctl_domain_get(struct ctl *ctl, enum om_settings_key type,
			  const char *key, const char *name)
{
	char *names, *p, *next;
	int ret = CTL_EXIT_OK;

	if (name != NULL) {
		if (!om_settings_domain_valid(name))
			return ctl_error("unknown domain setting '%s' (known: %s)", name,
					 om_settings_domain_names());
		return ctl_domain_get_one(ctl, type, key, name);
	}
	names = om_strdup(om_settings_domain_names());
	for (p = names; p != NULL && *p != '\0' && ret == CTL_EXIT_OK; p = next) {
		next = strchr(p, ' ');
		if (next != NULL)
			*next++ = '\0';
		if (type == OM_KEY_MAILBOX ? ctl_mailbox_shows(p) :
		    strcmp(p, OM_SETTING_GROUP) != 0)
			ret = ctl_domain_get_one(ctl, type, key, p);
	}
	free(names);
	return ret;
}

/* domain and mailbox commands: the same table, keyed by a domain or a
   mailbox. */
static int ctl_settings_cmd(struct ctl *ctl, int argc, char **argv,
			    enum om_settings_key type, const char *key)
{
	if (argc == 4 && strcmp(argv[0], "set") == 0)
		return ctl_domain_set(ctl, type, argv[1], key, argv[2], argv[3]);
	if (argc == 2 || argc == 3) {
		/* "show": the same as get (what issue 18 calls it) */
		if (strcmp(argv[0], "get") == 0 || strcmp(argv[0], "show") == 0) {
			if (type == OM_KEY_MAILBOX && argc == 3 &&
			    !ctl_mailbox_shows(argv[2]) &&
			    ctl_check_mailbox_setting(argv[1], argv[2]) != 0)
				return CTL_EXIT_ERROR;
			return ctl_domain_get(ctl, type, key, argc == 3 ? argv[2] : NULL);
		}
		if (argc == 3 && strcmp(argv[0], "unset") == 0)
			return ctl_domain_unset(ctl, type, argv[1], key, argv[2]);
	}
	return -1;
}

int ctl_cmd_domain(struct ctl *ctl, int argc, char **argv)
{
	enum om_settings_key type;
	const char *key;
	int ret;

	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return ctl_list(ctl, 1, argc == 2 ? argv[1] : NULL);
	if (argc >= 2 && argc <= 4) {
		if ((ret = ctl_any_key(argv[1], &type, &key)) != 0)
			return ret;
		if ((ret = ctl_settings_cmd(ctl, argc, argv, type, key)) >= 0)
			return ret;
	}
	return ctl_error("usage: domain set DOMAIN NAME VALUE | domain get|show DOMAIN "
			 "[NAME] | domain unset DOMAIN NAME | domain list [DOMAIN]  "
			 "(DOMAIN: a name with a dot, domain:NAME, or \"*\" = global)");
}

int ctl_cmd_mailbox(struct ctl *ctl, int argc, char **argv)
{
	const char *key;
	int ret;

	if (argc >= 2 && argc <= 4) {
		if ((ret = ctl_mailbox_key(argv[1], &key)) != 0)
			return ret;
		if ((ret = ctl_settings_cmd(ctl, argc, argv, OM_KEY_MAILBOX, key)) >= 0)
			return ret;
	}
	return ctl_error("usage: mailbox set MAILBOX NAME VALUE | mailbox get|show MAILBOX "
			 "[NAME] | mailbox unset MAILBOX NAME  (NAME: language spam-action "
			 "spam-threshold spam-quarantine-threshold spam-tag; MAILBOX: "
			 "local@domain, a user name without a domain, or user:NAME)");
}
