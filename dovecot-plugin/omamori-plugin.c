/* omamori-plugin.c - the omamori Dovecot mail plugin (imap, lmtp, doveadm).
 *
 * Holds what every omamori feature inside Dovecot needs: the per-user
 * settings (plugin { omamori_config = ... }, or a userdb field of that
 * name), the process's omamori.conf and store handle, and the raw mail user
 * through which the delivery plugin hands Sieve a rewritten message.  It is
 * written against Dovecot 2.3.19's headers.
 *
 * In imap it keeps the Quarantine folder to its retention at every login;
 * in imap and doveadm (omamori-web releases mail with doveadm move) it
 * learns from what users do: a message copied or moved
 * into the Quarantine or Junk folder is learned as spam, one moved out of
 * them (not to Trash) as ham, and then (domain setting learn-allow-sender)
 * its sender goes on the user's allow list.  No imapsieve set-up needed.
 */
#include "lib.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"
#include "mail-storage-private.h"
#include "mail-namespace.h"
#include "mail-search-build.h"
#include "seq-range-array.h"
#include "ioloop.h"
#include "raw-storage.h"
#include "module-context.h"
#include "istream.h"
#include "str.h"
#include "istream-header-filter.h"
#include "message-header-parser.h"
#include "str-sanitize.h"

#include "lib/om-config.h"
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"
#include "omamori-conf-store.h"
#include "omamori-plugin.h"
#include "omamori-read.h"
#include "omamori-scand-client.h"
#include "omamori-verdict.h"

#define OMAMORI_USER_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, omamori_user_module)

#define OMAMORI_MAILBOX_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, omamori_storage_module)
#define OMAMORI_TRANSACTION_CONTEXT(obj) \
	MODULE_CONTEXT(obj, omamori_storage_module)
#define OMAMORI_HEADER_PREFIX "X-Omamori-"
#define OMAMORI_QUARANTINE_ID_HEADER "X-Omamori-Quarantine-Id"

static MODULE_CONTEXT_DEFINE_INIT(omamori_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(omamori_storage_module,
				  &mail_storage_module_register);

/* Process-wide: one configuration and one store handle for all the users a
   delivery or IMAP process serves. */
static struct omamori_conf_store omamori_process;

const char *omamori_plugin_version = DOVECOT_ABI_VERSION;

int omamori_context_get(struct omamori_user *ouser,
			const struct om_config **config_r,
			struct om_store **store_r, const char **error_r)
{
	return omamori_conf_store_get(&omamori_process, ouser->config_path,
				      config_r, store_r, error_r);
}

unsigned int omamori_context_generation(void)
{
	return omamori_process.generation;
}

struct omamori_user *omamori_user_get(struct mail_user *user)
{
	return MODULE_CONTEXT(user, omamori_user_module);
}

void omamori_verdict_set(struct mail_user *user, const char *verdict,
			 const char *score)
{
	struct omamori_user *ouser = omamori_user_get(user);

	if (ouser == NULL)
		return;
	ouser->delivery_verdict = verdict;
	ouser->delivery_score = verdict != NULL ? score : NULL;
}

int omamori_verdict_get(struct mail_user *user, const char **verdict_r,
			const char **score_r)
{
	struct omamori_user *ouser = omamori_user_get(user);

	if (ouser == NULL || ouser->delivery_verdict == NULL)
		return 0;
	*verdict_r = ouser->delivery_verdict;
	*score_r = ouser->delivery_score;
	return 1;
}

struct mail_user *omamori_user_raw(struct omamori_user *ouser)
{
	struct mail_user *user = ouser->user;

	if (ouser->raw_user == NULL)
		ouser->raw_user = raw_storage_create_from_set(user->set_info,
							      user->unexpanded_set);
	return ouser->raw_user;
}

static void omamori_user_deinit(struct mail_user *user)
{
	struct omamori_user *ouser = OMAMORI_USER_CONTEXT(user);

	if (ouser->raw_user != NULL)
		mail_user_unref(&ouser->raw_user);
	ouser->module_ctx.super.deinit(user);
}

static void omamori_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct omamori_user *ouser;
	const char *path;

	path = mail_user_plugin_getenv(user, "omamori_config");
	if (path == NULL || *path == '\0')
		path = OM_DEFAULT_CONFIG_PATH;
	ouser = p_new(user->pool, struct omamori_user, 1);
	ouser->config_path = p_strdup(user->pool, path);
	ouser->user = user;
	ouser->module_ctx.super = *v;
	user->vlast = &ouser->module_ctx.super;
	v->deinit = omamori_user_deinit;
	MODULE_CONTEXT_SET(user, omamori_user_module, ouser);
}

static bool omamori_header_is(const char *name, const char *wanted)
{
	return strcasecmp(name, wanted) == 0;
}

static void omamori_add_line(struct header_filter_istream *input,
			     const char *name, const char *value)
{
	const char *line = t_strdup_printf("%s: %s\n", name, value);

	i_stream_header_filter_add(input, line, strlen(line));
}

/* Header filter callback: drops what must not pass, replaces the Subject
   in place, adds our headers at the end of the header block. */
static void omamori_decoration_filter(struct header_filter_istream *input,
				      struct message_header_line *hdr,
				      bool *matched,
				      struct omamori_decoration *deco)
{
	if (hdr == NULL)
		return;
	/* the stream may be parsed again from its start (a seekable copy read
	   twice: Sieve, then the save): each pass adds the header once */
	if (hdr->name_offset == 0) {
		deco->auth_results_added = FALSE;
		deco->subject_replaced = FALSE;
	}
	if (!hdr->continued)
		deco->subject_dropping = FALSE;
	if (deco->auth_results != NULL && !deco->auth_results_added &&
	    (hdr->eoh || (!omamori_header_is(hdr->name, "Return-Path") &&
			  !omamori_header_is(hdr->name, "Delivered-To")))) {
		deco->auth_results_added = TRUE;
		omamori_add_line(input, "Authentication-Results", deco->auth_results);
	}
	if (hdr->eoh) {
		if (deco->subject != NULL && deco->subject_missing)
			omamori_add_line(input, "Subject", deco->subject);
		if (deco->virus != NULL)
			omamori_add_line(input, "X-Omamori-Virus", deco->virus);
		if (deco->spam != NULL)
			omamori_add_line(input, "X-Omamori-Spam", deco->spam);
		if (deco->attachments != NULL)
			omamori_add_line(input, "X-Omamori-Attachments", deco->attachments);
		if (deco->spam_reason != NULL)
			omamori_add_line(input, "X-Omamori-Spam-Reason", deco->spam_reason);
		if (deco->links != NULL)
			omamori_add_line(input, "X-Omamori-Links", deco->links);
		if (deco->spam_score != NULL) {
			omamori_add_line(input, "X-Spam-Flag", "YES");
			omamori_add_line(input, "X-Spam-Score", deco->spam_score);
		}
		if (deco->quarantine_id != NULL)
			omamori_add_line(input, OMAMORI_QUARANTINE_ID_HEADER,
					 deco->quarantine_id);
		return;
	}
	if (strncasecmp(hdr->name, OMAMORI_HEADER_PREFIX,
			strlen(OMAMORI_HEADER_PREFIX)) == 0) {
		*matched = TRUE;
	} else if (deco->strip_spam_headers &&
		   strncasecmp(hdr->name, "X-Spam-", 7) == 0) {
		/* X-Spam-Status, -Level, -Flag...: mail clients act on them */
		*matched = TRUE;
	} else if (deco->subject != NULL && omamori_header_is(hdr->name, "Subject") &&
		   (hdr->continued ? deco->subject_dropping : !deco->subject_replaced)) {
		*matched = TRUE;
		if (!hdr->continued) {
			deco->subject_replaced = TRUE;
			deco->subject_dropping = TRUE;
			omamori_add_line(input, "Subject", deco->subject);
		}
	}
}

struct istream *omamori_decorated_stream(struct istream *input,
					 const struct omamori_decoration *deco)
{
	/* each stream (each save of the delivery) adds the header once */
	((struct omamori_decoration *)deco)->auth_results_added = FALSE;
	((struct omamori_decoration *)deco)->subject_replaced = FALSE;
	((struct omamori_decoration *)deco)->subject_dropping = FALSE;
	return i_stream_create_header_filter(input, HEADER_FILTER_EXCLUDE |
					     HEADER_FILTER_NO_CR |
					     HEADER_FILTER_ADD_MISSING_EOH,
					     NULL, 0, omamori_decoration_filter,
					     (struct omamori_decoration *)deco);
}

/* A delivery saved unchanged but for the verdict header: the header is added
   as the message is written, instead of building a second raw mail for it
   (that cost a third of LMTP's rate).  The copy loop of mail_storage_copy()
   reads the original stream to its end; o_stream_send_istream() in the
   save drains this wrapper completely before that, for file-backed
   mailboxes. */
static int omamori_save_begin(struct mail_save_context *ctx,
			      struct istream *input)
{
	struct mailbox *box = ctx->transaction->box;
	union mailbox_module_context *mbox = OMAMORI_MAILBOX_CONTEXT(box);
	struct omamori_user *ouser = omamori_user_get(box->storage->user);
	struct istream *wrapped;
	int ret;

	if (ouser == NULL || ouser->save_decoration == NULL)
		return mbox->super.save_begin(ctx, input);
	wrapped = omamori_decorated_stream(input, ouser->save_decoration);
	ret = mbox->super.save_begin(ctx, wrapped);
	i_stream_unref(&wrapped);
	return ret;
}

/* ---- quarantine retention ---- */

/* Expunges from name what arrived before limit; the number expunged, or
   -1 (the folder missing is 0). */
static int omamori_expunge_before(struct mail_user *user, const char *name,
				  time_t limit)
{
	struct mail_namespace *ns = mail_namespace_find(user->namespaces, name);
	struct mailbox *box = mailbox_alloc(ns->list, name, 0);
	struct mailbox_transaction_context *t;
	struct mail_search_context *search;
	struct mail_search_args *args;
	struct mail_search_arg *arg;
	enum mail_error error;
	struct mail *mail;
	int expunged = 0;

	if (mailbox_sync(box, 0) < 0) {
		(void)mailbox_get_last_error(box, &error);
		if (error != MAIL_ERROR_NOTFOUND)
			e_error(user->event, "omamori: %s: %s", name,
				mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return error == MAIL_ERROR_NOTFOUND ? 0 : -1;
	}
	t = mailbox_transaction_begin(box, 0, __func__);
	args = mail_search_build_init();
	arg = mail_search_build_add(args, SEARCH_BEFORE);
	arg->value.date_type = MAIL_SEARCH_DATE_TYPE_RECEIVED;
	arg->value.search_flags = MAIL_SEARCH_ARG_FLAG_UTC_TIMES;
	arg->value.time = limit;
	search = mailbox_search_init(t, args, NULL, 0, NULL);
	mail_search_args_unref(&args);
	while (mailbox_search_next(search, &mail)) {
		mail_expunge(mail);
		expunged++;
	}
	if (mailbox_search_deinit(&search) < 0 || mailbox_transaction_commit(&t) < 0) {
		e_error(user->event, "omamori: expunging old mail from %s: %s", name,
			mailbox_get_last_internal_error(box, NULL));
		expunged = -1;
	}
	mailbox_free(&box);
	return expunged;
}

void omamori_quarantine_expire(struct mail_user *user, struct om_store *store,
			       const struct om_config *config)
{
	char *days, *error = NULL;
	long n;
	int expunged;

	days = om_settings_domain_value(store, user->username,
					OM_SETTING_QUARANTINE_RETENTION,
					t_strdup_printf("%d", OM_DEFAULT_QUARANTINE_RETENTION),
					&error);
	if (days == NULL) {
		e_error(user->event, "omamori: %s", error);
		free(error);
		return;
	}
	n = om_settings_number(days, OM_DEFAULT_QUARANTINE_RETENTION);
	free(days);
	expunged = omamori_expunge_before(user, config->quarantine_mailbox,
					  ioloop_time - (time_t)n * 86400);
	if (expunged > 0)
		e_info(user->event, "omamori: %d messages older than %ld days "
		       "expunged from %s", expunged, n, config->quarantine_mailbox);
}

/* An IMAP session starts: the user's quarantine is kept to its retention
   even when no new spam arrives to trigger it at delivery. */
static void omamori_mail_namespaces_created(struct mail_namespace *namespaces)
{
	struct mail_user *user = namespaces->user;
	struct omamori_user *ouser = omamori_user_get(user);
	const struct om_config *config;
	struct om_store *store;
	const char *error;

	if (ouser == NULL || user->service == NULL || strcmp(user->service, "imap") != 0)
		return;
	if (omamori_context_get(ouser, &config, &store, &error) < 0) {
		e_error(user->event, "omamori: %s", error);
		return;
	}
	T_BEGIN {
		omamori_quarantine_expire(user, store, config);
	} T_END;
}

/* ---- learning from IMAP (and doveadm) moves ---- */

static bool omamori_box_special(struct mailbox *box, const char *use)
{
	const char *special = box->set != NULL ? box->set->special_use : NULL;

	return special != NULL && strstr(special, use) != NULL;
}

/* The Quarantine folder, a Junk folder, or any folder marked \Junk. */
static bool omamori_box_is_junk(struct mailbox *box, const struct om_config *config)
{
	const char *name = mailbox_get_vname(box);

	return strcmp(name, config->quarantine_mailbox) == 0 ||
		strcasecmp(name, "Junk") == 0 || omamori_box_special(box, "\\Junk");
}

static bool omamori_box_is_trash(struct mailbox *box)
{
	return strcasecmp(mailbox_get_vname(box), "Trash") == 0 ||
		omamori_box_special(box, "\\Trash");
}

/* Puts the sender of a message the user rescued on the user's allow list,
   if the domain wants that (learn-allow-sender, default on). */
static void omamori_allow_sender(struct mail *mail, struct om_store *store,
				 const struct om_config *config, const char *user)
{
	const char *from = omamori_read_from(mail);
	const char *user_text = str_sanitize(user, 128);
	char *entry = NULL, *error = NULL;
	int learning;

	if (from == NULL)
		return;
	learning = om_lists_learning_allowed(store, user, &error);
	if (learning <= 0) {
		if (learning < 0)
			i_error("omamori: %s: sender not allow-listed: %s",
				user_text, str_sanitize(error, 300));
		free(error);
		return;
	}
	/* the user name, with or without a domain, is a mailbox scope; the
	   address (and an error quoting it) comes from the message */
	entry = om_lists_entry("allow", from, &error);
	if (entry == NULL || om_lists_add(store, user, OM_KEY_MAILBOX, "allow", entry,
					  config->list_max_entries, &error) < 0)
		i_warning("omamori: %s: sender not allow-listed: %s", user_text,
			  str_sanitize(error, 300));
	else
		i_info("omamori: %s: %s added to the allow list", user_text,
		       str_sanitize(entry, 200));
	free(entry);
	free(error);
}

/* Sends the message to scand to learn as spam or ham. */
static void omamori_learn(struct mail *mail, struct omamori_user *ouser, bool spam)
{
	struct mail_user *user = ouser->user;
	struct omamori_scand_ask ask;
	const struct om_config *config;
	struct om_store *store;
	const char *error;
	int ret;

	/* scand learns (and keeps what it learned until its store takes
	   it): only the configuration is needed here, not the store */
	if (omamori_context_get(ouser, &config, NULL, &error) < 0) {
		i_error("omamori: cannot learn: %s", str_sanitize(error, 300));
		return;
	}
	i_zero(&ask);
	ask.session_id = user->session_id != NULL ? user->session_id : "imap";
	ask.mailbox = user->username;
	ret = omamori_scand_client_learn_mail(config, &ask, mail, spam, &error);
	if (ret <= 0) {
		if (ret < 0)
			i_error("omamori: cannot learn: %s", str_sanitize(error, 300));
		else
			i_warning("omamori: message not learned (over scan_max_size)");
		return;
	}
	i_info("omamori: %s: message learned as %s", str_sanitize(user->username, 128),
	       spam ? "spam" : "ham");
	/* a move the user made in their mail client allow-lists the sender
	   (learn-allow-sender); a release through doveadm (omamori-web,
	   omamorictl quarantine) does only what its button said: "release"
	   learns, "release and allow" also allows, in the quarantine layer */
	if (!spam && strcmp(user->service, "imap") == 0) {
		if (omamori_context_get(ouser, &config, &store, &error) < 0)
			i_error("omamori: sender not allow-listed: %s",
				str_sanitize(error, 300));
		else
			omamori_allow_sender(mail, store, config, user->username);
	}
}

/* What a transaction that copies into or out of Quarantine/Junk will
   teach the classifier once it has committed. */
enum omamori_learning { OMAMORI_LEARN_NONE, OMAMORI_LEARN_SPAM, OMAMORI_LEARN_HAM };

struct omamori_transaction {
	union mailbox_transaction_module_context module_ctx;
	enum omamori_learning learning;
};

static enum omamori_learning omamori_learning_of(struct mailbox *src,
						 struct mailbox *dest,
						 const struct om_config *config)
{
	bool to_junk = omamori_box_is_junk(dest, config);
	bool from_junk = omamori_box_is_junk(src, config);

	if (to_junk && !from_junk)
		return OMAMORI_LEARN_SPAM;
	if (from_junk && !to_junk && !omamori_box_is_trash(dest))
		return OMAMORI_LEARN_HAM;
	return OMAMORI_LEARN_NONE;
}

/* A copy (or the copy half of a move) only notes what to learn; the
   learning happens after the transaction commits, from the saved copies,
   so a COPY that fails teaches nothing. */
static int omamori_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct mailbox_transaction_context *t = ctx->transaction;
	union mailbox_module_context *mbox = OMAMORI_MAILBOX_CONTEXT(t->box);
	struct omamori_user *ouser = omamori_user_get(t->box->storage->user);
	struct omamori_transaction *ot = OMAMORI_TRANSACTION_CONTEXT(t);
	const struct om_config *config;
	const char *error;

	if (mbox->super.copy(ctx, mail) < 0)
		return -1;
	if (ot == NULL || ot->learning != OMAMORI_LEARN_NONE || ouser == NULL ||
	    omamori_context_get(ouser, &config, NULL, &error) < 0)
		return 0;
	ot->learning = omamori_learning_of(mail->box, t->box, config);
	return 0;
}

static struct mailbox_transaction_context *
omamori_transaction_begin(struct mailbox *box, enum mailbox_transaction_flags flags,
			  const char *reason)
{
	union mailbox_module_context *mbox = OMAMORI_MAILBOX_CONTEXT(box);
	struct mailbox_transaction_context *t;
	struct omamori_transaction *ot;

	t = mbox->super.transaction_begin(box, flags, reason);
	ot = i_new(struct omamori_transaction, 1);
	MODULE_CONTEXT_SET(t, omamori_storage_module, ot);
	return t;
}

/* Learns every message the committed transaction saved into dest, read
   through a mailbox of its own (the committing one has not synced them). */
static void omamori_learn_saved(struct mailbox *dest, struct omamori_user *ouser,
				const struct mail_transaction_commit_changes *changes,
				bool spam)
{
	struct mailbox *box = mailbox_alloc(dest->list, mailbox_get_vname(dest), 0);
	struct mailbox_transaction_context *t;
	struct seq_range_iter iter;
	struct mail *mail;
	unsigned int n = 0;
	uint32_t uid;

	if (mailbox_sync(box, 0) < 0) {
		e_error(ouser->user->event, "omamori: cannot learn from %s: %s",
			str_sanitize(mailbox_get_vname(dest), 128),
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return;
	}
	t = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	seq_range_array_iter_init(&iter, &changes->saved_uids);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (!mail_set_uid(mail, uid) || mail->expunged)
			continue;
		T_BEGIN {
			omamori_learn(mail, ouser, spam);
		} T_END;
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	mailbox_free(&box);
}

static int omamori_transaction_commit(struct mailbox_transaction_context *t,
				      struct mail_transaction_commit_changes *changes_r)
{
	struct mailbox *box = t->box;
	union mailbox_module_context *mbox = OMAMORI_MAILBOX_CONTEXT(box);
	struct omamori_transaction *ot = OMAMORI_TRANSACTION_CONTEXT(t);
	struct omamori_user *ouser = omamori_user_get(box->storage->user);
	int ret = mbox->super.transaction_commit(t, changes_r);

	if (ret == 0 && ot != NULL && ot->learning != OMAMORI_LEARN_NONE && ouser != NULL)
		omamori_learn_saved(box, ouser, changes_r, ot->learning == OMAMORI_LEARN_SPAM);
	i_free(ot);
	return ret;
}

static void omamori_transaction_rollback(struct mailbox_transaction_context *t)
{
	union mailbox_module_context *mbox = OMAMORI_MAILBOX_CONTEXT(t->box);
	struct omamori_transaction *ot = OMAMORI_TRANSACTION_CONTEXT(t);

	mbox->super.transaction_rollback(t);
	i_free(ot);
}

/* Learning is what users do: over IMAP, or through doveadm on their
   behalf (omamori-web releases mail with doveadm move).  Deliveries copy
   from a raw mailbox and must not count, nor must dsync, which replays on
   one replica what the user did on the other. */
static bool omamori_user_learns(struct mail_user *user)
{
	if (user->service == NULL)
		return FALSE;
	if (strcmp(user->service, "imap") == 0)
		return TRUE;
	return strcmp(user->service, "doveadm") == 0 && !user->dsyncing;
}

static void omamori_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	union mailbox_module_context *mbox;
	struct mail_user *user = box->storage->user;

	mbox = p_new(box->pool, union mailbox_module_context, 1);
	mbox->super = *v;
	box->vlast = &mbox->super;
	v->save_begin = omamori_save_begin;
	if (omamori_user_learns(user)) {
		v->copy = omamori_copy;
		v->transaction_begin = omamori_transaction_begin;
		v->transaction_commit = omamori_transaction_commit;
		v->transaction_rollback = omamori_transaction_rollback;
	}
	MODULE_CONTEXT_SET_SELF(box, omamori_storage_module, mbox);
}

static struct mail_storage_hooks omamori_mail_storage_hooks = {
	.mail_user_created = omamori_mail_user_created,
	.mail_namespaces_created = omamori_mail_namespaces_created,
	.mailbox_allocated = omamori_mailbox_allocated,
};

void omamori_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &omamori_mail_storage_hooks);
}

void omamori_plugin_deinit(void)
{
	mail_storage_hooks_remove(&omamori_mail_storage_hooks);
	omamori_conf_store_close(&omamori_process);
}
