/* cmd-hold.c - omamorictl hold: outbound mail held for its sender's
 * confirmation (outbound-hold, doc/outbound.md), and the cron task that
 * ends holds at their expiry.
 *
 *	hold list [MAILBOX]	held mail (every mailbox's: those waiting,
 *				sending or kept for the administrator), with
 *				why: sender (outbound-hold), spam
 *				(outbound-spam), brake (the brake)
 *	hold show ID		one hold, every field (a spam hold's score
 *				and rules, a brake hold's figures)
 *	hold release ID		send it now (omamori-filter re-injects it)
 *	hold discard ID		discard it
 *
 * Sending and discarding are omamori-filter's (quarantine/hold.h): it
 * alone may re-inject and touch its spool; the store's claim makes a
 * release from here, from omamori-web and from cron at the same moment
 * send the mail once.
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

#define CTL_HOLD_FIELD_MAX 200

/* A line-safe copy of one field (controls become '?'). */
static void ctl_hold_print_field(const char *name, const char *value)
{
	char *clean = om_sanitize(value, CTL_HOLD_FIELD_MAX);

	printf("%s: %s\n", name, clean);
	free(clean);
}

static void ctl_hold_print_lines(const char *name, const char *value)
{
	const char *p = value;
	size_t len;
	char *one;

	while (*p != '\0') {
		len = strcspn(p, "\n");
		one = om_strndup(p, len);
		ctl_hold_print_field(name, one);
		free(one);
		p += len + (p[len] == '\n');
	}
}

/* A time as notices show it ("YYYY/MM/DD HH:MM:SS", local). */
static void ctl_hold_print_time(const char *name, long long when)
{
	char *text = om_notify_time_text((time_t)when);

	ctl_hold_print_field(name, text);
	free(text);
}

/* One line: id, state, why held, mailbox, until (a sender's hold; "-" for
   the administrator's, which never expire), what expiry does, the first
   recipient, the subject. */
static void ctl_hold_row(void *context, const struct om_store_hold *h)
{
	char *subject = om_sanitize(h->subject, 60), *rcpt, *until;
	int admin = strcmp(h->kind, OM_HOLD_KIND_SENDER) != 0;
	size_t n = 0;
	const char *p;

	(void)context;
	for (p = h->recipients; *p != '\0'; p++)
		n += *p == '\n';
	rcpt = om_strndup(h->recipients, strcspn(h->recipients, "\n"));
	until = admin ? om_strdup("-") : om_notify_time_text((time_t)h->expires);
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%s\n", h->id,
	       om_store_hold_state_name(h->state), h->kind, h->mailbox, until,
	       h->expiry, rcpt, n > 1 ? " ..." : "", subject);
	free(until);
	free(rcpt);
	free(subject);
}

static void ctl_hold_show_row(void *context, const struct om_store_hold *h)
{
	char number[32];

	(void)context;
	ctl_hold_print_field("id", h->id);
	ctl_hold_print_field("state", om_store_hold_state_name(h->state));
	ctl_hold_print_field("reason", h->kind);
	if (*h->details != '\0')
		ctl_hold_print_field(strcmp(h->kind, OM_HOLD_KIND_SPAM) == 0 ? "spam-check" :
				     strcmp(h->kind, OM_HOLD_KIND_AUDIT) == 0 ? "audit" :
				     "brake", h->details);
	ctl_hold_print_field("mailbox", h->mailbox);
	ctl_hold_print_field("sender", h->sender);
	ctl_hold_print_lines("held", h->recipients);
	ctl_hold_print_lines("sent-at-once", h->delivered);
	ctl_hold_print_field("subject", h->subject);
	ctl_hold_print_lines("attachment", h->attachments);
	snprintf(number, sizeof(number), "%lld", h->size);
	ctl_hold_print_field("size", number);
	ctl_hold_print_time("created", h->created);
	if (strcmp(h->kind, OM_HOLD_KIND_SENDER) == 0)
		ctl_hold_print_time("expires", h->expires);
	else
		ctl_hold_print_field("expires", "never (the administrator's)");
	ctl_hold_print_field("expiry", h->expiry);
	if (strcmp(h->kind, OM_HOLD_KIND_SENDER) == 0)
		ctl_hold_print_field("notified", h->notified ? "yes" : "no");
	else if (strcmp(h->kind, OM_HOLD_KIND_SPAM) == 0 ||
		 strcmp(h->kind, OM_HOLD_KIND_AUDIT) == 0)
		ctl_hold_print_field("alerted", h->notified ? "yes" : "no");
	if (h->state == OM_HOLD_SENT || h->state == OM_HOLD_DISCARDED)
		ctl_hold_print_time("changed", h->changed);
	ctl_hold_print_field("result", h->result);
}

static int ctl_hold_list(struct ctl *ctl, const char *mailbox)
{
	struct om_store *store = ctl_store(ctl, 0);
	static const enum om_hold_state open[] = { OM_HOLD_HELD, OM_HOLD_SENDING,
						   OM_HOLD_ADMIN, OM_HOLD_RELEASE_ASKED,
						   OM_HOLD_DISCARD_ASKED };
	char *error = NULL;
	size_t i;

	if (mailbox != NULL) {
		if (om_store_hold_list(store, OM_HOLD_BY_MAILBOX, mailbox, 0, ctl_hold_row,
				       NULL, &error) < 0)
			return ctl_fail(error);
		return CTL_EXIT_OK;
	}
	for (i = 0; i < OM_N_ELEMENTS(open); i++) {
		if (om_store_hold_list(store, OM_HOLD_BY_STATE, NULL, open[i], ctl_hold_row,
				       NULL, &error) < 0)
			return ctl_fail(error);
	}
	return CTL_EXIT_OK;
}

/* Asks omamori-filter; prints what happened. */
int ctl_hold_ask(struct ctl *ctl, enum om_hold_op op, const char *id)
{
	enum om_hold_answer answer;
	char *text = NULL, *error = NULL;
	int ret = CTL_EXIT_ERROR;

	if (!om_hold_id_valid(id))
		return ctl_error("hold: '%.80s' is not a hold id", id);
	if (om_hold_request(ctl->config, op, id, &answer, &text, &error) < 0)
		return ctl_fail(error);
	switch (answer) {
	case OM_HOLD_ANSWER_DONE:
		printf("%s: %s\n", id, text);
		ret = CTL_EXIT_OK;
		break;
	case OM_HOLD_ANSWER_ASKED:
		printf("%s: asked of %s, whose spool has it\n", id, text);
		ret = CTL_EXIT_OK;
		break;
	case OM_HOLD_ANSWER_STATE:
		ctl_error("hold %s: not %s: it is %s", id,
			  op == OM_HOLD_OP_RELEASE ? "sent" : "discarded",
			  strcmp(text, "none") == 0 ? "unknown" : text);
		break;
	case OM_HOLD_ANSWER_FAIL:
	case OM_HOLD_ANSWER_NONE:
		ctl_error("hold %s: %s (try again)", id, text != NULL ? text : "?");
		break;
	}
	free(text);
	return ret;
}

int ctl_cmd_hold(struct ctl *ctl, int argc, char **argv)
{
	char *error = NULL;
	int ret;

	if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc <= 2)
		return ctl_hold_list(ctl, argc == 2 ? argv[1] : NULL);
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		ret = om_store_hold_list(ctl_store(ctl, 0), OM_HOLD_BY_ID, argv[1], 0,
					 ctl_hold_show_row, NULL, &error);
		if (ret < 0)
			return ctl_fail(error);
		return ret > 0 ? CTL_EXIT_OK : ctl_error("hold %.80s: unknown", argv[1]);
	}
	if (argc == 2 && strcmp(argv[0], "release") == 0)
		return ctl_hold_ask(ctl, OM_HOLD_OP_RELEASE, argv[1]);
	if (argc == 2 && strcmp(argv[0], "discard") == 0)
		return ctl_hold_ask(ctl, OM_HOLD_OP_DISCARD, argv[1]);
	return ctl_error("usage: hold list [MAILBOX] | show ID | release ID | discard ID");
}

/* ---- expiry (omamorictl cron, every minute) ---- */

struct ctl_hold_due {
	char **ids, **expiry;
	size_t count;
};

static void ctl_hold_due_row(void *context, const struct om_store_hold *h)
{
	struct ctl_hold_due *d = context;

	d->ids = om_realloc(d->ids, (d->count + 1) * sizeof(*d->ids));
	d->expiry = om_realloc(d->expiry, (d->count + 1) * sizeof(*d->expiry));
	d->ids[d->count] = om_strdup(h->id);
	d->expiry[d->count] = om_strdup(h->expiry);
	d->count++;
}

int ctl_hold_cron(struct ctl *ctl, long long now)
{
	struct om_store *store = ctl_store(ctl, 0);
	struct ctl_hold_due due = { NULL, NULL, 0 };
	enum om_hold_answer answer;
	enum om_hold_state state;
	char *error = NULL, *text = NULL;
	int ret = 0, n;
	size_t i;

	if (om_store_hold_list(store, OM_HOLD_DUE, NULL, now, ctl_hold_due_row, &due,
			       &error) < 0) {
		ctl_error("cron: hold-expiry: %s", error);
		free(error);
		return -1;
	}
	for (i = 0; i < due.count; i++) {
		if (strcmp(due.expiry[i], "admin") == 0) {
			n = om_store_hold_claim(store, due.ids[i], OM_HOLD_ADMIN, now,
						&state, &error);
			if (n < 0) {
				ctl_error("cron: hold %s: %s", due.ids[i], error);
				om_free(&error);
				ret = -1;
			} else if (n > 0) {
				printf("hold-expiry: %s kept for the administrator\n", due.ids[i]);
			}
		} else if (om_hold_request(ctl->config, strcmp(due.expiry[i], "discard") == 0 ?
					   OM_HOLD_OP_DISCARD : OM_HOLD_OP_RELEASE,
					   due.ids[i], &answer, &text, &error) < 0) {
			ctl_error("cron: hold %s: %s (tried again next minute)", due.ids[i],
				  error);
			om_free(&error);
			ret = -1;
		} else {
			if (answer == OM_HOLD_ANSWER_DONE)
				printf("hold-expiry: %s %s\n", due.ids[i], text);
			else if (answer == OM_HOLD_ANSWER_ASKED)
				printf("hold-expiry: %s asked of %s\n", due.ids[i], text);
			else if (answer == OM_HOLD_ANSWER_FAIL) {
				ctl_error("cron: hold %s: %s (tried again next minute)",
					  due.ids[i], text);
				ret = -1;
			}
			om_free(&text);
		}
		free(due.ids[i]);
		free(due.expiry[i]);
	}
	free(due.ids);
	free(due.expiry);
	/* sent and discarded holds are forgotten after filter_retention days */
	if (om_store_hold_expire(store, now - ctl->config->filter_retention * 86400LL,
				 &error) < 0) {
		ctl_error("cron: hold-expiry: forgetting old holds: %s", error);
		free(error);
		ret = -1;
	}
	return ret;
}
