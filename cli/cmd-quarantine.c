/* cmd-quarantine.c - omamorictl quarantine: a mailbox's quarantined mail
 * for the helpdesk, through the same code omamori-web uses (quarantine.h):
 * list it, release a message to INBOX (with --allow, its sender onto the
 * mailbox's allow list), or delete it.  Messages are named by the id the
 * Dovecot plugin gave them (X-Omamori-Quarantine-Id), as `list` shows.
 */
#include "omamorictl.h"
#include "crypto/token.h"
#include "quarantine/quarantine.h"
#include "store/settings.h"
#include "lib/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int quarantine_usage(void)
{
	return ctl_error("usage: quarantine list MAILBOX | "
			 "quarantine release [--allow] MAILBOX ID | "
			 "quarantine delete MAILBOX ID | "
			 "quarantine link MAILBOX [HOURS] (0..336, default 24; 0 "
			 "makes a link already at its end)");
}

/* A field for a tab-separated line: tabs and controls become spaces. */
static void quarantine_print_field(const char *text, int last)
{
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p != '\0'; p++)
		putchar(*p < 0x20 || *p == 0x7f ? ' ' : *p);
	putchar(last ? '\n' : '\t');
}

static void quarantine_print_row(void *context, const struct om_store_quarantined *q)
{
	char when[32], *why;
	time_t t = (time_t)q->received;
	struct tm tm;

	(void)context;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
		(void)snprintf(when, sizeof(when), "%lld", q->received);
	why = om_quarantine_reasons_text(q->reasons, "", "en");
	why[strcspn(why, "\n")] = '\0';
	if (q->admin_only) {
		char *plain = why;

		why = om_asprintf("admin-only: %s", plain);
		free(plain);
	}
	quarantine_print_field(q->id, 0);
	quarantine_print_field(when, 0);
	quarantine_print_field(q->sender[0] != '\0' ? q->sender : "<>", 0);
	quarantine_print_field(q->subject, 0);
	quarantine_print_field(q->score[0] != '\0' ? q->score : "-", 0);
	quarantine_print_field(why, 1);
	free(why);
}

/* Checks MAILBOX as the key of a mailbox; 0 or an exit status. */
static int quarantine_mailbox(char *word, const char **mailbox_r)
{
	enum om_settings_key type;
	char *error = NULL;

	if (om_settings_key_parse(word, &type, mailbox_r, &error) < 0)
		return ctl_fail(error);
	if (type != OM_KEY_MAILBOX)
		return ctl_error("quarantine: '%s' is not a mailbox", word);
	/* doveadm -u takes wildcards: a helpdesk acts on one mailbox */
	if (strpbrk(*mailbox_r, "*?%") != NULL || (*mailbox_r)[0] == '-')
		return ctl_error("quarantine: '%s': a mailbox name, not a pattern",
				 word);
	return 0;
}

static int quarantine_list(struct ctl *ctl, char *word)
{
	struct om_store *store = ctl_store(ctl, 0);
	const char *mailbox;
	char *error = NULL;
	int n;

	if (quarantine_mailbox(word, &mailbox) != 0)
		return CTL_EXIT_ERROR;
	/* what the user removed over IMAP is not listed */
	if (om_quarantine_reconcile(ctl->config, store, mailbox, &error) < 0) {
		if (strstr(error, "knows no user") != NULL) {
			ctl_error("quarantine: %s", error);
			free(error);
			return CTL_EXIT_ERROR;
		}
		ctl_error("quarantine: cannot check %s's %s folder (listing what "
			  "the store has): %s", mailbox,
			  ctl->config->quarantine_mailbox, error);
		om_free(&error);
	}
	printf("id\treceived\tsender\tsubject\tscore\twhy\n");
	n = om_store_quarantine_each(store, mailbox, quarantine_print_row, NULL, &error);
	if (n < 0)
		return ctl_fail(error);
	return CTL_EXIT_OK;
}

static int quarantine_act(struct ctl *ctl, enum om_quarantine_op op,
			  char *word, const char *id)
{
	struct om_store *store = ctl_store(ctl, 0);
	enum om_quarantine_result result;
	const char *mailbox;
	char *message = NULL;

	if (quarantine_mailbox(word, &mailbox) != 0)
		return CTL_EXIT_ERROR;
	if (!om_quarantine_id_valid(id))
		return ctl_error("quarantine: '%s' is not a quarantine id (32 hex "
				 "digits, as `quarantine list` shows)", id);
	(void)signal(SIGPIPE, SIG_IGN);
	/* the administrator's tool: admin-only mail too (the message says) */
	result = om_quarantine_act_as(ctl->config, store, mailbox, id, op,
				      OM_QUARANTINE_BY_ADMIN, &message);
	switch (result) {
	case OM_QUARANTINE_DONE:
		printf("%s %s: %s\n", mailbox, id, message);
		free(message);
		return CTL_EXIT_OK;
	case OM_QUARANTINE_NOT_ALLOWED:
		printf("%s %s: %s\n", mailbox, id, message);
		free(message);
		return CTL_EXIT_ERROR;
	case OM_QUARANTINE_GONE:
		ctl_error("quarantine: %s %s: %s", mailbox, id, message);
		free(message);
		return CTL_EXIT_ERROR;
	case OM_QUARANTINE_FAILED:
	case OM_QUARANTINE_ADMIN_ONLY:
		break;
	}
	ctl_error("quarantine: %s %s: nothing done: %s", mailbox, id, message);
	free(message);
	return CTL_EXIT_ERROR;
}

/* The signed link to mailbox's quarantine page (omamori-web), valid for
   hours (0: already at its end, for tests of expiry): what a helpdesk
   sends a user whose digest is gone. */
static int quarantine_link(struct ctl *ctl, char *word, const char *hours)
{
	struct om_token_claims claims;
	struct om_link_keys keys;
	const char *mailbox;
	unsigned long h = 24;
	char *error = NULL, *token;

	if (quarantine_mailbox(word, &mailbox) != 0)
		return CTL_EXIT_ERROR;
	if (hours != NULL && om_parse_ulong(hours, 0, 24 * 14, &h) < 0)
		return ctl_error("quarantine link: HOURS '%s': expected 0..336", hours);
	switch (om_quarantine_user_exists(ctl->config, mailbox, &error)) {
	case 1:
		break;
	case 0:
		return ctl_error("quarantine link: Dovecot knows no user '%s'", mailbox);
	default:
		return ctl_fail(error);
	}
	if (om_link_keys_load(ctl->config->web_key_path,
			      OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_WEB), &keys, &error) < 0)
		return ctl_fail(error);
	memset(&claims, 0, sizeof(claims));
	if (om_strlcpy(claims.mailbox, mailbox, sizeof(claims.mailbox)) < 0)
		return ctl_error("quarantine link: mailbox name too long");
	(void)om_strlcpy(claims.action, "box", sizeof(claims.action));
	claims.expires = time(NULL) + (time_t)h * 3600;
	token = om_token_make(&keys, &claims);
	memset(&keys, 0, sizeof(keys));
	if (token == NULL)
		return ctl_error("quarantine link: cannot make a token for '%s'", mailbox);
	/* one "/" between web_url and the path, as every link builder puts it */
	printf("%s%sq/%s\n", ctl->config->web_url,
	       *ctl->config->web_url != '\0' &&
	       ctl->config->web_url[strlen(ctl->config->web_url) - 1] == '/' ? "" : "/", token);
	free(token);
	return CTL_EXIT_OK;
}

int ctl_cmd_quarantine(struct ctl *ctl, int argc, char **argv)
{
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "link") == 0)
		return quarantine_link(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	if (argc == 2 && strcmp(argv[0], "list") == 0)
		return quarantine_list(ctl, argv[1]);
	if (argc == 3 && strcmp(argv[0], "release") == 0)
		return quarantine_act(ctl, OM_QUARANTINE_RELEASE, argv[1], argv[2]);
	if (argc == 4 && strcmp(argv[0], "release") == 0 &&
	    strcmp(argv[1], "--allow") == 0)
		return quarantine_act(ctl, OM_QUARANTINE_RELEASE_ALLOW, argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[0], "delete") == 0)
		return quarantine_act(ctl, OM_QUARANTINE_DELETE, argv[1], argv[2]);
	return quarantine_usage();
}
