/* test-route.c - the outbound route (shared/decide/route.c), the one
 * decision policyd and omamori-submit both ask: none for a login without
 * an outbound feature, before the queue for outbound-virus/-bcc/-zip
 * only, after it for outbound-spam, outbound-path queue, a hold that may
 * be met for this recipient (hold-when external and an outside one;
 * attachment or any always), the envelope sender's features too, and
 * outbound_inline = 0.  Over a table of settings (a pure function). */
#include "tap.h"

#include <string.h>

#include "decide/route.h"
#include "lib/util.h"

struct row {
	const char *key, *name, *value;
};

/* The settings of one case: subscriptions and domain settings alike,
   keyed by mailbox, domain or "*". */
static const struct row *rows;

static int fake_get(void *context, const char *key, const char *name, char **value_r,
		    char **error_r)
{
	size_t i;

	(void)context;
	(void)error_r;
	for (i = 0; rows[i].key != NULL; i++) {
		if (strcmp(rows[i].key, key) == 0 && strcmp(rows[i].name, name) == 0) {
			*value_r = om_strdup(rows[i].value);
			return 1;
		}
	}
	return 0;
}

static const struct om_settings_source src = { NULL, fake_get, fake_get };

static enum om_route route(const struct row *r, const char *login, const char *from,
			   const char *rcpt, int inline_on)
{
	const char *why;

	rows = r;
	return om_route_rcpt_conf(&src, inline_on, login, from, rcpt, &why);
}

int main(void)
{
	static const struct row none[] = { { NULL, NULL, NULL } };
	static const struct row zip[] = {
		{ "carol@example.jp", "outbound-zip", "on" },
		{ "carol@example.jp", "outbound-bcc", "on" }, { NULL, NULL, NULL } };
	static const struct row spam[] = {
		{ "carol@example.jp", "outbound-zip", "on" },
		{ "carol@example.jp", "outbound-spam", "on" }, { NULL, NULL, NULL } };
	static const struct row path[] = {
		{ "carol@example.jp", "outbound-virus", "on" },
		{ "example.jp", "outbound-path", "queue" }, { NULL, NULL, NULL } };
	static const struct row hold[] = {
		{ "example.jp", "outbound-hold", "on" },
		{ "example.jp", "internal-domains", "group.example" }, { NULL, NULL, NULL } };
	static const struct row hold_att[] = {
		{ "example.jp", "outbound-hold", "on" },
		{ "example.jp", "hold-when", "external attachment" }, { NULL, NULL, NULL } };
	static const struct row hold_any[] = {
		{ "example.jp", "outbound-hold", "on" },
		{ "example.jp", "hold-when", "attachment" }, { NULL, NULL, NULL } };
	static const struct row hold_none[] = {
		{ "example.jp", "outbound-hold", "on" },
		{ "example.jp", "hold-when", "none" }, { NULL, NULL, NULL } };
	static const struct row audit[] = {
		{ "example.jp", "outbound-audit", "on" }, { NULL, NULL, NULL } };
	static const struct row audit_off[] = {
		{ "example.jp", "outbound-audit", "on" },
		{ "carol@example.jp", "outbound-audit", "off" }, { NULL, NULL, NULL } };
	static const struct row all_on[] = {
		{ "example.jp", "default", "all-on" }, { NULL, NULL, NULL } };
	static const struct row other_sender[] = {
		{ "carol@example.jp", "outbound-zip", "on" },
		{ "dave@example.jp", "outbound-spam", "on" }, { NULL, NULL, NULL } };

	TAP_OK(route(none, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_NONE, "no outbound feature: none");
	TAP_OK(route(zip, "", "carol@example.jp", "x@far.example", 1) == OM_ROUTE_NONE,
	       "no login: none");
	TAP_OK(route(zip, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_INLINE, "zip and bcc: before the queue");
	TAP_OK(route(zip, "carol@example.jp", "carol@example.jp", "x@far.example", 0) ==
	       OM_ROUTE_QUEUE, "outbound_inline = 0: after the queue");
	TAP_OK(route(spam, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "outbound-spam: after the queue");
	TAP_OK(route(path, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "outbound-path queue: after the queue");
	TAP_OK(route(hold, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "hold-when external (default), outside: after the queue");
	TAP_OK(route(hold, "carol@example.jp", "carol@example.jp", "bob@EXAMPLE.jp", 1) ==
	       OM_ROUTE_INLINE, "hold-when external, the sender's domain: before");
	TAP_OK(route(hold, "carol@example.jp", "carol@example.jp", "a@group.example", 1) ==
	       OM_ROUTE_INLINE, "hold-when external, internal-domains: before");
	TAP_OK(route(hold_att, "carol@example.jp", "carol@example.jp", "bob@example.jp", 1) ==
	       OM_ROUTE_INLINE, "external attachment, inside: never held, before");
	TAP_OK(route(hold_att, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "external attachment, outside: attachment unknown, after");
	TAP_OK(route(hold_any, "carol@example.jp", "carol@example.jp", "bob@example.jp", 1) ==
	       OM_ROUTE_QUEUE, "attachment alone: unknown at RCPT, after");
	TAP_OK(route(hold_none, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_INLINE, "hold-when none: before");
	TAP_OK(route(other_sender, "carol@example.jp", "dave@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "the envelope sender's outbound-spam counts too");
	TAP_OK(route(other_sender, "dave@example.jp", "dave@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_QUEUE, "a login with outbound-spam alone: after");
	TAP_OK(route(audit, "carol@example.jp", "carol@example.jp", "bob@example.jp", 1) ==
	       OM_ROUTE_QUEUE, "outbound-audit (the domain's rules): after the queue");
	TAP_OK(route(audit_off, "carol@example.jp", "carol@example.jp", "x@far.example", 1) ==
	       OM_ROUTE_NONE, "outbound-audit off for the mailbox: none");
	rows = all_on;
	{
		enum om_sub_state state;
		const char *source;
		char *error = NULL;

		TAP_OK(om_settings_subscription_from(&src, "carol@example.jp", "outbound-audit",
						     &state, &source, &error) == 0 &&
		       state == OM_SUB_OFF,
		       "default all-on does not turn outbound-audit on (only audit add does)");
		free(error);
		error = NULL;
		TAP_OK(om_settings_subscription_from(&src, "carol@example.jp", "outbound-portal",
						     &state, &source, &error) == 0 &&
		       state == OM_SUB_OFF &&
		       om_settings_subscription_from(&src, "carol@example.jp", "outbound-zip",
						     &state, &source, &error) == 0 &&
		       state == OM_SUB_ON,
		       "default all-on turns outbound-zip on, not its alternative outbound-portal");
		free(error);
	}
	return tap_done();
}
