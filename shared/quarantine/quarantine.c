/* quarantine.c - release, delete and list a mailbox's quarantined mail
 * (quarantine.h): the store says what is there, doveadm does the moving.
 *
 * A message is found in the Quarantine folder by the id header the Dovecot
 * plugin put on it (a doveadm search for that header gives its UID), then
 * moved or expunged by UID; a message no longer there is "gone" and its
 * row forgotten.  Only after Dovecot did its part is the row dropped, so
 * a failure leaves everything as it was and the user may try again.
 */
#include "quarantine/quarantine.h"
#include "quarantine/doveadm.h"
#include "notice/reasons.h"
#include "store/lists.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OM_QUARANTINE_ID_HEADER "X-Omamori-Quarantine-Id"
#define OM_QUARANTINE_SEARCH_MAX (64 * 1024)
/* one "hdr.x-omamori-quarantine-id: ID" line a message, and then some */
#define OM_QUARANTINE_FETCH_MAX (16 * 1024 * 1024)

static const char *const om_quarantine_ops[] = {
	[OM_QUARANTINE_RELEASE] = "release",
	[OM_QUARANTINE_RELEASE_ALLOW] = "allow",
	[OM_QUARANTINE_DELETE] = "delete",
};

const char *om_quarantine_op_name(enum om_quarantine_op op)
{
	return (size_t)op < OM_N_ELEMENTS(om_quarantine_ops) ?
		om_quarantine_ops[op] : "?";
}

int om_quarantine_op_parse(const char *name, enum om_quarantine_op *op_r)
{
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(om_quarantine_ops); i++) {
		if (strcmp(name, om_quarantine_ops[i]) == 0) {
			*op_r = (enum om_quarantine_op)i;
			return 0;
		}
	}
	return -1;
}

int om_quarantine_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return i == OM_QUARANTINE_ID_LEN;
}

void om_quarantine_item_free(struct om_quarantine_item *item)
{
	free(item->id);
	free(item->mailbox);
	free(item->sender);
	free(item->from);
	free(item->from_address);
	free(item->subject);
	free(item->score);
	free(item->reasons);
	free(item->message_id);
	memset(item, 0, sizeof(*item));
}

void om_quarantine_item_set(struct om_quarantine_item *item,
			    const struct om_store_quarantined *q)
{
	om_quarantine_item_free(item);
	item->id = om_strdup(q->id);
	item->mailbox = om_strdup(q->mailbox);
	item->sender = om_strdup(q->sender);
	item->from = om_strdup(q->from);
	item->from_address = om_strdup(q->from_address);
	item->subject = om_strdup(q->subject);
	item->score = om_strdup(q->score);
	item->reasons = om_strdup(q->reasons);
	item->message_id = om_strdup(q->message_id != NULL ? q->message_id : "");
	item->received = q->received;
	item->size = q->size;
	item->digest = q->digest;
	item->admin_only = q->admin_only;
}

static void om_quarantine_item_copy(void *context,
				    const struct om_store_quarantined *q)
{
	om_quarantine_item_set(context, q);
}

int om_quarantine_find(struct om_store *store, const char *mailbox,
		       const char *id, struct om_quarantine_item *item_r,
		       char **error_r)
{
	memset(item_r, 0, sizeof(*item_r));
	if (!om_quarantine_id_valid(id))
		return 0;
	return om_store_quarantine_get(store, mailbox, id, om_quarantine_item_copy,
				       item_r, error_r);
}

/* ---- through doveadm ---- */

/* The UID of the message with id in mailbox's Quarantine: 1 (*uid_r,
   digits), 0 not there, -1 error. */
static int om_quarantine_uid(const struct om_config *config, const char *mailbox,
			     const char *id, char *uid_r, size_t size,
			     char **error_r)
{
	const char *args[] = {
		"search", "-u", mailbox, "mailbox", config->quarantine_mailbox,
		"header", OM_QUARANTINE_ID_HEADER, id, NULL
	};
	char *output = NULL, *space;
	size_t len;
	int status;

	status = om_doveadm_run(config, 1, args, NULL, 0, &output,
				OM_QUARANTINE_SEARCH_MAX, error_r);
	if (status < 0)
		return -1;
	if (status != 0) {
		/* 68: no such mailbox - nothing is in a Quarantine never made */
		if (status == 68 && strstr(*error_r, "doesn't exist") != NULL) {
			om_free(error_r);
			return 0;
		}
		return -1;
	}
	/* "MAILBOX-GUID UID\n" lines; the first one */
	space = strchr(output, ' ');
	if (space == NULL) {
		free(output);
		return 0;
	}
	len = strspn(space + 1, "0123456789");
	if (len == 0 || len >= size) {
		*error_r = om_asprintf("doveadm search printed '%.80s'", output);
		free(output);
		return -1;
	}
	memcpy(uid_r, space + 1, len);
	uid_r[len] = '\0';
	free(output);
	return 1;
}

/* Moves (release) or expunges (delete) UID uid of mailbox's Quarantine. */
static int om_quarantine_doveadm_op(const struct om_config *config,
				    const char *mailbox, const char *uid,
				    enum om_quarantine_op op, char **error_r)
{
	const char *move[] = {
		"move", "-u", mailbox, "INBOX", "mailbox",
		config->quarantine_mailbox, "uid", uid, NULL
	};
	const char *expunge[] = {
		"expunge", "-u", mailbox, "mailbox", config->quarantine_mailbox,
		"uid", uid, NULL
	};

	return om_doveadm_run(config, 1, op == OM_QUARANTINE_DELETE ? expunge : move,
			      NULL, 0, NULL, 0, error_r) == 0 ? 0 : -1;
}

/* The address to allow for a quarantined message: its From: address as
   Dovecot parsed it at delivery, which the user saw in the digest and
   means (the envelope sender of a mailing service is often a bounce
   address shared by all its customers), else its envelope sender.
   Allocated, or NULL. */
static char *om_quarantine_sender_address(const struct om_quarantine_item *item)
{
	if (item->from_address[0] != '\0')
		return om_strdup(item->from_address);
	return item->sender[0] != '\0' ? om_strdup(item->sender) : NULL;
}

/* Puts the sender on mailbox's allow list (the limit and the domain's
   switch hold); 0, or -1 with *message_r saying why not. */
static int om_quarantine_allow(const struct om_config *config,
			       struct om_store *store,
			       const struct om_quarantine_item *item,
			       char **message_r)
{
	char *address = om_quarantine_sender_address(item), *entry, *error = NULL;
	int ret;

	if (address == NULL) {
		*message_r = om_strdup("the message has no sender address to allow");
		return -1;
	}
	entry = om_lists_entry("allow", address, &error);
	free(address);
	if (entry == NULL) {
		*message_r = error;
		return -1;
	}
	ret = om_lists_add(store, item->mailbox, OM_KEY_MAILBOX, "allow", entry,
			   config->list_max_entries, &error);
	/* allowing overrules the user's own block of the same address */
	if (ret == 0 && om_store_list_delete(store, item->mailbox, "block", entry,
					     &error) < 0) {
		*message_r = error;
		free(entry);
		return -1;
	}
	free(entry);
	if (ret < 0)
		*message_r = error;
	return ret;
}

/* The message trace's step (doc/trace.md): released or deleted, by the
   web or omamorictl; a failed write is logged, the act stands. */
static void om_quarantine_trace(struct om_store *store,
				const struct om_quarantine_item *item,
				enum om_quarantine_op op, int allowed)
{
	struct om_store_event ev;
	char *detail, *error = NULL;

	memset(&ev, 0, sizeof(ev));
	ev.at = (long long)time(NULL);
	ev.domain = om_store_event_domain(item->mailbox);
	ev.direction = OM_DIRECTION_IN;
	ev.sender = item->sender;
	ev.recipient = item->mailbox;
	ev.message_id = item->message_id;
	ev.subject = item->subject;
	ev.step = op == OM_QUARANTINE_DELETE ? "delete" : "release";
	ev.result = op == OM_QUARANTINE_DELETE ? "deleted" : "INBOX";
	detail = om_asprintf("id %s%s", item->id, allowed ? "; sender allowed" : "");
	ev.detail = detail;
	if (om_store_events_add(store, &ev, 1, &error) < 0) {
		om_log_warn("trace: %s of %s not recorded: %s", ev.step, item->id, error);
		free(error);
	}
	free(detail);
}

enum om_quarantine_result
om_quarantine_act(const struct om_config *config, struct om_store *store,
		  const char *mailbox, const char *id, enum om_quarantine_op op,
		  char **message_r)
{
	return om_quarantine_act_as(config, store, mailbox, id, op,
				    OM_QUARANTINE_BY_USER, message_r);
}

enum om_quarantine_result
om_quarantine_act_as(const struct om_config *config, struct om_store *store,
		     const char *mailbox, const char *id, enum om_quarantine_op op,
		     enum om_quarantine_actor actor, char **message_r)
{
	struct om_quarantine_item item;
	char uid[24], *error = NULL, *done;
	int ret;

	ret = om_quarantine_find(store, mailbox, id, &item, &error);
	if (ret <= 0) {
		*message_r = ret < 0 ? error :
			om_strdup("no such message in this quarantine");
		return ret < 0 ? OM_QUARANTINE_FAILED : OM_QUARANTINE_GONE;
	}
	/* checked before doveadm is asked anything: fail closed */
	if (item.admin_only && actor != OM_QUARANTINE_BY_ADMIN &&
	    op != OM_QUARANTINE_DELETE) {
		om_quarantine_item_free(&item);
		*message_r = om_strdup("only the administrator may release this message");
		return OM_QUARANTINE_ADMIN_ONLY;
	}
	ret = om_quarantine_uid(config, mailbox, id, uid, sizeof(uid), &error);
	if (ret == 0) {
		(void)om_store_quarantine_delete(store, mailbox, id, &error);
		om_free(&error);
		om_quarantine_item_free(&item);
		*message_r = om_strdup("the message is no longer in the quarantine");
		return OM_QUARANTINE_GONE;
	}
	if (ret < 0 || om_quarantine_doveadm_op(config, mailbox, uid, op, &error) < 0) {
		om_quarantine_item_free(&item);
		*message_r = error;
		return OM_QUARANTINE_FAILED;
	}
	if (om_store_quarantine_delete(store, mailbox, id, &error) < 0)
		om_free(&error);	/* reconcile drops it later */
	*message_r = om_asprintf("%s: %s", om_quarantine_op_name(op),
				 op == OM_QUARANTINE_DELETE ? "deleted" :
				 "moved to INBOX");
	if (op == OM_QUARANTINE_RELEASE_ALLOW &&
	    om_quarantine_allow(config, store, &item, &error) < 0) {
		om_quarantine_trace(store, &item, op, 0);
		free(*message_r);
		*message_r = om_asprintf("released; the sender was not allowed: %s",
					 error);
		free(error);
		om_quarantine_item_free(&item);
		return OM_QUARANTINE_NOT_ALLOWED;
	}
	if (op == OM_QUARANTINE_RELEASE_ALLOW) {
		free(*message_r);
		*message_r = om_asprintf("released; its sender allowed");
	}
	if (item.admin_only) {
		done = *message_r;
		*message_r = om_asprintf("%s (admin-only: by the administrator)", done);
		free(done);
	}
	om_quarantine_trace(store, &item, op, op == OM_QUARANTINE_RELEASE_ALLOW);
	om_quarantine_item_free(&item);
	return OM_QUARANTINE_DONE;
}

int om_quarantine_user_exists(const struct om_config *config,
			      const char *mailbox, char **error_r)
{
	const char *args[] = { "user", mailbox, NULL };
	int status = om_doveadm_run(config, 0, args, NULL, 0, NULL, 0, error_r);

	if (status == OM_DOVEADM_NO_USER) {
		om_free(error_r);
		return 0;
	}
	return status == 0 ? 1 : -1;
}

/* ---- reconcile ---- */

struct om_reconcile {
	struct om_hash *present;
	char **stale;
	size_t count, size;
};

static void om_reconcile_row(void *context, const struct om_store_quarantined *q)
{
	struct om_reconcile *r = context;

	if (om_hash_get(r->present, q->id) != NULL)
		return;
	if (r->count == r->size) {
		r->size = r->size == 0 ? 16 : r->size * 2;
		r->stale = om_realloc(r->stale, r->size * sizeof(*r->stale));
	}
	r->stale[r->count++] = om_strdup(q->id);
}

/* Reads "hdr.x-omamori-quarantine-id: ID" lines into present. */
static void om_reconcile_parse(char *output, struct om_hash *present)
{
	static const char prefix[] = "hdr.x-omamori-quarantine-id: ";
	char *line, *next;

	for (line = output; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncasecmp(line, prefix, sizeof(prefix) - 1) == 0 &&
		    om_quarantine_id_valid(line + sizeof(prefix) - 1))
			(void)om_hash_set(present, line + sizeof(prefix) - 1, "");
	}
}

int om_quarantine_reconcile(const struct om_config *config,
			    struct om_store *store, const char *mailbox,
			    char **error_r)
{
	const char *args[] = {
		"fetch", "-u", mailbox, "hdr.x-omamori-quarantine-id", "mailbox",
		config->quarantine_mailbox, "all", NULL
	};
	struct om_reconcile r = { NULL, NULL, 0, 0 };
	char *output = NULL;
	int status, dropped = 0;
	size_t i;

	status = om_doveadm_run(config, 1, args, NULL, 0, &output,
				OM_QUARANTINE_FETCH_MAX, error_r);
	if (status == 68 && strstr(*error_r, "doesn't exist") != NULL) {
		om_free(error_r);	/* no Quarantine: nothing is in it */
		output = om_strdup("");
	} else if (status == OM_DOVEADM_NO_USER) {
		om_free(error_r);
		*error_r = om_asprintf("Dovecot knows no user '%s'", mailbox);
		return -1;
	} else if (status != 0) {
		return -1;
	}
	r.present = om_hash_new(64);
	om_reconcile_parse(output, r.present);
	free(output);
	if (om_store_quarantine_each(store, mailbox, om_reconcile_row, &r, error_r) < 0)
		dropped = -1;
	for (i = 0; i < r.count; i++) {
		if (dropped >= 0 &&
		    om_store_quarantine_delete(store, mailbox, r.stale[i], error_r) < 0)
			dropped = -1;
		else if (dropped >= 0)
			dropped++;
		free(r.stale[i]);
	}
	free(r.stale);
	om_hash_free(&r.present, NULL);
	return dropped;
}

/* ---- plain-language reasons ---- */

/* text with line appended (text reallocated). */
static char *om_reasons_append(char *text, const char *line)
{
	size_t len = strlen(text), add = strlen(line);

	text = om_realloc(text, len + add + 1);
	memcpy(text + len, line, add + 1);
	return text;
}

/* What the digest and the pages say their own way: the classifier, the
   phrase rules as one line, the lists, attachments, audit rules, what
   could not be checked; every other rule's sentence is the one the
   X-Omamori-Spam-Reason header gives (notice/reasons.c). */
static const struct om_rule_reason om_reasons[] = {
	{ "BAYES", "これまでに学習した迷惑メールと文面がよく似ています",
	  "Its wording is much like spam learned before" },
	/* the phrase rules of spam.rules (spam/textrules.c) as shipped; each
	   has its own reason in the header, this is the digest's line */
	{ "JA_", "文面とリンクに、迷惑メールによく見られる組み合わせがあります",
	  "Its wording and links match a pattern common in spam" },
	{ "listed:block", "差出人が受信拒否リストに登録されています",
	  "Its sender is on a block list" },
	{ "listed:url-block", "危険と登録されたサイトへのリンクを含みます",
	  "It links to a site on a block list" },
	{ "attachments:", "添付ファイルに危険な特徴があります",
	  "An attachment has dangerous features" },
	{ "audit:", "管理者が設定した監査ルールに合致しました",
	  "It matched an audit rule your administrator set" },
	{ "unscanned:", "大きすぎる・複雑すぎるため、中身を最後まで検査できませんでした",
	  "It was too large or too complex to check completely" },
};

/* the most different reasons one text lists */
#define OM_QUARANTINE_REASONS_MAX 32

/* Ours first (what the digest says its own way), then the shared table. */
static const struct om_rule_reason *om_reason_find(const char *rule)
{
	const struct om_rule_reason *r =
		om_rule_reason_find_in(om_reasons, OM_N_ELEMENTS(om_reasons), rule);

	return r != NULL ? r : om_rule_reason_find(rule);
}

char *om_quarantine_reasons_text(const char *reasons, const char *score,
				 const char *lang)
{
	const struct om_rule_reason *seen[OM_QUARANTINE_REASONS_MAX], *r;
	int ja = lang != NULL && strcmp(lang, "ja") == 0;
	size_t nseen = 0, i, len;
	char rule[64], *text = om_strdup("");
	const char *p = reasons;

	while (*p != '\0') {
		len = strcspn(p, " ");
		if (len > 0 && len < sizeof(rule)) {
			memcpy(rule, p, len);
			rule[len] = '\0';
			r = om_reason_find(rule);
			for (i = 0; r != NULL && i < nseen; i++) {
				if (seen[i] == r)
					r = NULL;
			}
			if (r != NULL && nseen < OM_QUARANTINE_REASONS_MAX) {
				seen[nseen++] = r;
				text = om_reasons_append(text, ja ? r->ja : r->en);
				text = om_reasons_append(text, "\n");
			}
		}
		p += len;
		p += strspn(p, " ");
	}
	if (nseen == 0)
		text = om_reasons_append(text, ja ? "迷惑メールの特徴が多く見られます\n" :
				    "It has many marks of spam\n");
	/* a score says something only when the spam check put the mail here
	   (a block-listed sender's mail may score 0.00) */
	if (score != NULL && score[0] != '\0' && strtod(score, NULL) > 0) {
		char *line = om_asprintf(ja ? "迷惑メールスコア: %s\n" : "Spam score: %s\n",
					 score);

		text = om_reasons_append(text, line);
		free(line);
	}
	return text;
}
