/* cmd-brake.c - omamorictl brake: the compromised-account brake (issue 14
 * item 7, doc/outbound.md).  A SASL login whose sending jumped far above
 * its own history is braked by omamori-policyd: its mail is held for the
 * administrator (holds of kind brake) until lifted here.
 *
 *	brake list			the logins braked now
 *	brake show LOGIN		its brake, its history's peak hour and the
 *					mail held for it
 *	brake lift LOGIN [--release|--discard]
 *					lifts the brake (policyd learns it from
 *					the store within its refresh interval),
 *					then sends or discards the held mail
 *					(omamori-filter, exactly once each);
 *					without either, the held mail stays for
 *					`omamorictl hold release|discard`
 */
#include "omamorictl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "notice/notify.h"
#include "quarantine/hold.h"
#include "store/store.h"

static void ctl_brake_row(void *context, const struct om_store_brake *b)
{
	char *login = om_sanitize(b->login, 200), *since = om_notify_time_text((time_t)b->since);

	(void)context;
	printf("%s\t%s\t%s\t%lld messages\t%lld recipients\tlimits %lld/%lld\t"
	       "peak %lld/%lld\n", login, b->state == OM_BRAKE_ON ? "braked" :
	       b->state == OM_BRAKE_LIFTED ? "lifted" : "?", since, b->messages,
	       b->recipients, b->limit_messages, b->limit_recipients,
	       b->peak_messages, b->peak_recipients);
	free(since);
	free(login);
}

struct ctl_brake_peak {
	long long messages, recipients, hours;
};

static void ctl_brake_history(void *context, const struct om_store_history *h)
{
	struct ctl_brake_peak *p = context;

	if (h->messages > p->messages)
		p->messages = h->messages;
	if (h->recipients > p->recipients)
		p->recipients = h->recipients;
	p->hours++;
}

struct ctl_brake_holds {
	char **ids;
	size_t count;
};

static void ctl_brake_hold(void *context, const struct om_store_hold *h)
{
	struct ctl_brake_holds *held = context;

	held->ids = om_realloc(held->ids, (held->count + 1) * sizeof(*held->ids));
	held->ids[held->count++] = om_strdup(h->id);
}

static void ctl_brake_holds_free(struct ctl_brake_holds *held)
{
	size_t i;

	for (i = 0; i < held->count; i++)
		free(held->ids[i]);
	free(held->ids);
}

static int ctl_brake_show(struct ctl *ctl, const char *login)
{
	struct om_store *store = ctl_store(ctl, 0);
	struct ctl_brake_peak peak = { 0, 0, 0 };
	struct ctl_brake_holds held = { NULL, 0 };
	long long now = (long long)time(NULL);
	char *error = NULL;
	size_t i;
	int n;

	n = om_store_brake_list(store, login, ctl_brake_row, NULL, &error);
	if (n < 0)
		return ctl_fail(error);
	if (n == 0)
		printf("%s: never braked\n", login);
	if (om_store_history_rows(store, login, now - now % 3600 -
				  ctl->config->brake_history_days * 86400LL,
				  ctl_brake_history, &peak, &error) < 0 ||
	    om_store_hold_list(store, OM_HOLD_BRAKED, login, 0, ctl_brake_hold, &held,
			       &error) < 0) {
		ctl_brake_holds_free(&held);
		return ctl_fail(error);
	}
	printf("history: %lld hours with mail in the last %ld days; busiest hour "
	       "%lld messages, %lld distinct recipients\n", peak.hours,
	       ctl->config->brake_history_days, peak.messages, peak.recipients);
	printf("held for the administrator: %zu\n", held.count);
	for (i = 0; i < held.count; i++)
		printf("held: %s\n", held.ids[i]);
	ctl_brake_holds_free(&held);
	return CTL_EXIT_OK;
}

static int ctl_brake_lift(struct ctl *ctl, const char *login, const char *flag)
{
	struct om_store *store = ctl_store(ctl, 0);
	struct ctl_brake_holds held = { NULL, 0 };
	char *error = NULL;
	size_t i;
	int n, ret = CTL_EXIT_OK;

	if (flag != NULL && strcmp(flag, "--release") != 0 && strcmp(flag, "--discard") != 0)
		return ctl_error("usage: brake lift LOGIN [--release|--discard]");
	n = om_store_brake_lift(store, login, (long long)time(NULL), &error);
	if (n < 0)
		return ctl_fail(error);
	if (n > 0)
		printf("%s: brake lifted (omamori-policyd learns it within "
		       "policyd_refresh_interval)\n", login);
	else
		printf("%s: not braked\n", login);
	if (om_store_hold_list(store, OM_HOLD_BRAKED, login, 0, ctl_brake_hold, &held,
			       &error) < 0)
		return ctl_fail(error);
	if (flag == NULL) {
		if (held.count > 0)
			printf("%s: %zu held mail stay held (omamorictl hold list; "
			       "hold release|discard ID)\n", login, held.count);
	} else {
		for (i = 0; i < held.count; i++) {
			if (ctl_hold_ask(ctl, strcmp(flag, "--release") == 0 ?
					 OM_HOLD_OP_RELEASE : OM_HOLD_OP_DISCARD,
					 held.ids[i]) != CTL_EXIT_OK)
				ret = CTL_EXIT_ERROR;
		}
	}
	ctl_brake_holds_free(&held);
	if (n == 0 && held.count == 0)
		return CTL_EXIT_ERROR;
	return ret;
}

int ctl_cmd_brake(struct ctl *ctl, int argc, char **argv)
{
	char *error = NULL;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if (om_store_brake_list(ctl_store(ctl, 0), NULL, ctl_brake_row, NULL,
					&error) < 0)
			return ctl_fail(error);
		return CTL_EXIT_OK;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return ctl_brake_show(ctl, argv[1]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "lift") == 0)
		return ctl_brake_lift(ctl, argv[1], argc == 3 ? argv[2] : NULL);
	return ctl_error("usage: brake list | show LOGIN | lift LOGIN [--release|--discard]");
}
