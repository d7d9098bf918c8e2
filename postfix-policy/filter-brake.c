/* filter-brake.c - the compromised-account brake in omamori-filter (issue 14
 * item 7, doc/outbound.md).
 *
 * omamori-policyd routes every recipient of a braked SASL login to
 * brake_filter, Postfix delivers those messages to the filter's second
 * socket (filter_brake_listen), and every message arriving there is held
 * for the administrator (kind brake): the socket says what XFORWARD
 * cannot (the login).  Only a brake lifted since policyd routed the
 * message (the brake row says lifted) lets it through as usual; no row at
 * all (policyd could not write it yet) holds it, failing closed.
 *
 * The administrator's alert goes with the first message held after a
 * trip: the brake row's alert is claimed in one write (claimed once,
 * however many workers hold mail at that moment) and given back when the
 * alert could not be sent, so that the next message tries again.
 */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "notice/notify.h"
#include "store/store.h"

struct filter_brake_row {
	int found;
	struct om_store_brake b;
};

static void filter_brake_row_cb(void *context, const struct om_store_brake *b)
{
	struct filter_brake_row *row = context;

	row->found = 1;
	row->b = *b;
	row->b.login = NULL;	/* not kept past the callback */
}

static char *filter_brake_figures(const struct om_store_brake *b)
{
	return om_asprintf("messages=%lld recipients=%lld limits=%lld,%lld "
			   "peak=%lld,%lld since=%lld", b->messages, b->recipients,
			   b->limit_messages, b->limit_recipients, b->peak_messages,
			   b->peak_recipients, b->since);
}

int filter_brake_holds(struct filter_worker *w, const char *sender, char **details_r,
		       char **error_r)
{
	struct filter_brake_row row;

	*details_r = NULL;
	memset(&row, 0, sizeof(row));
	if (*sender != '\0' &&
	    om_store_brake_list(w->store, sender, filter_brake_row_cb, &row, error_r) < 0)
		return -1;
	if (row.found && row.b.state == OM_BRAKE_LIFTED)
		return 0;
	*details_r = row.found ? filter_brake_figures(&row.b) :
		om_strdup("no brake row for this sender (held all the same)");
	return 1;
}

void filter_brake_alert(struct filter_worker *w, const struct filter_envelope *env,
			const char *id)
{
	struct filter_brake_row row;
	char *error = NULL, *tag, *login, *since = NULL, *messages = NULL,
		*recipients = NULL, *limits = NULL, *peak = NULL;
	int claimed;

	if (*env->sender == '\0')
		return;
	claimed = om_store_brake_alert(w->store, env->sender, 1, &error);
	if (claimed <= 0) {
		if (claimed < 0) {
			om_log_error("hold %s: brake alert: %s", id, error);
			free(error);
		}
		return;	/* told already, or no row to tell of */
	}
	memset(&row, 0, sizeof(row));
	if (om_store_brake_list(w->store, env->sender, filter_brake_row_cb, &row,
				&error) < 0) {
		om_log_error("hold %s: brake alert: %s", id, error);
		om_free(&error);
	}
	login = om_sanitize(env->sender, 300);
	tag = om_asprintf("brake %s", login);
	since = om_notify_time_text((time_t)row.b.since);
	messages = om_asprintf("%lld", row.b.messages);
	recipients = om_asprintf("%lld", row.b.recipients);
	limits = om_asprintf("%lld / %lld", row.b.limit_messages, row.b.limit_recipients);
	peak = om_asprintf("%lld / %lld", row.b.peak_messages, row.b.peak_recipients);
	{
		struct om_notify_var vars[] = {
			{ "login", login },
			{ "since", since },
			{ "messages", messages },
			{ "recipients", recipients },
			{ "limits", limits },
			{ "peak", peak },
			{ "hold_id", id },
			{ NULL, NULL }
		};

		if (filter_hold_alert(w, env->sender, "brake-alert", vars, tag) < 0 &&
		    om_store_brake_alert(w->store, env->sender, 0, &error) < 0) {
			om_log_error("%s: giving the alert back: %s", tag, error);
			om_free(&error);
		}
	}
	free(tag);
	free(login);
	free(since);
	free(messages);
	free(recipients);
	free(limits);
	free(peak);
}
