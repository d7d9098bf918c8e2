/* quarantine.h - a mailbox's quarantined mail, for the person it belongs
 * to and the helpdesk: listed from the store (what the Dovecot plugin
 * recorded when it quarantined each message), released to INBOX or
 * deleted through Dovecot's doveadm - never by touching mail files.  The
 * one code path of omamori-web and `omamorictl quarantine`.
 *
 * A release is a doveadm move from Quarantine to INBOX; Dovecot runs the
 * omamori plugin in doveadm too, so the move is learned as ham exactly as
 * an IMAP user's move is.  "Release and allow" also puts the sender on the
 * mailbox's allow list, with the list limit and the domain's switch.
 */
#ifndef OM_QUARANTINE_H
#define OM_QUARANTINE_H

#include "lib/om-config.h"

struct om_store;

enum om_quarantine_op {
	OM_QUARANTINE_RELEASE,
	OM_QUARANTINE_RELEASE_ALLOW,	/* release, and allow the sender */
	OM_QUARANTINE_DELETE
};

enum om_quarantine_result {
	OM_QUARANTINE_DONE = 0,
	OM_QUARANTINE_GONE,	/* not in Quarantine any more (released,
				   deleted or expired before); row dropped */
	OM_QUARANTINE_NOT_ALLOWED,	/* released; the allow entry refused
					   (list full, or the domain's switch):
					   *message_r says which */
	OM_QUARANTINE_FAILED,	/* nothing done: *message_r says why */
	OM_QUARANTINE_ADMIN_ONLY	/* nothing done: an admin-only message
					   (release or allow asked by its user) */
};

/* Who acts: the mailbox's user (omamori-web, the digest's links) may not
   release or allow an admin-only message, only delete it; the
   administrator (omamorictl quarantine) may do everything. */
enum om_quarantine_actor {
	OM_QUARANTINE_BY_USER = 0,
	OM_QUARANTINE_BY_ADMIN
};

/* One quarantined message, strings allocated (om_quarantine_item_free). */
struct om_quarantine_item {
	char *id, *mailbox, *sender, *from, *from_address, *subject, *score, *reasons;
	char *message_id;	/* "" when the row has none (before v20) */
	long long received, size, digest;
	int admin_only;		/* only the administrator may release it */
};
void om_quarantine_item_free(struct om_quarantine_item *item);
/* Fills item (freed first) with copies of a store row's fields. */
struct om_store_quarantined;
void om_quarantine_item_set(struct om_quarantine_item *item,
			    const struct om_store_quarantined *q);

/* The op names of the web forms and the CLI ("release", "allow",
   "delete"); parse returns 0 or -1. */
const char *om_quarantine_op_name(enum om_quarantine_op op);
int om_quarantine_op_parse(const char *name, enum om_quarantine_op *op_r);

/* 1 if id looks like a quarantine id (32 lower-case hex digits). */
int om_quarantine_id_valid(const char *id);

/* mailbox's message id: 1 (*item_r filled), 0 not recorded, -1 error. */
int om_quarantine_find(struct om_store *store, const char *mailbox,
		       const char *id, struct om_quarantine_item *item_r,
		       char **error_r);

/* Does op on mailbox's message id for its user (om_quarantine_act_as
   with OM_QUARANTINE_BY_USER).  *message_r (allocated, English, for logs
   and the CLI) says what happened or went wrong. */
enum om_quarantine_result
om_quarantine_act(const struct om_config *config, struct om_store *store,
		  const char *mailbox, const char *id, enum om_quarantine_op op,
		  char **message_r);
/* The same, for actor: a user's release or allow of an admin-only
   message is OM_QUARANTINE_ADMIN_ONLY, nothing done; the administrator's
   release of one says so in *message_r ("admin-only"). */
enum om_quarantine_result
om_quarantine_act_as(const struct om_config *config, struct om_store *store,
		     const char *mailbox, const char *id, enum om_quarantine_op op,
		     enum om_quarantine_actor actor, char **message_r);

/* Drops rows of mailbox whose message is no longer in its Quarantine
   folder (the user deleted it over IMAP, or moved it out): one doveadm
   search.  The number dropped, or -1 with *error_r (also when Dovecot knows
   no such user). */
int om_quarantine_reconcile(const struct om_config *config,
			    struct om_store *store, const char *mailbox,
			    char **error_r);

/* 1 if Dovecot's userdb knows mailbox (doveadm user), 0 if not, -1 with
   *error_r when doveadm cannot say. */
int om_quarantine_user_exists(const struct om_config *config,
			      const char *mailbox, char **error_r);

/* Why a message was quarantined, in plain words of lang ("ja" or "en"),
   from its reasons (rule names, "unscanned:WHY") and score: allocated,
   one reason a line. */
char *om_quarantine_reasons_text(const char *reasons, const char *score,
				 const char *lang);

#endif
