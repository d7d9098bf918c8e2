/* omamori-deliver-plugin.c - omamori at delivery time (lda and lmtp).
 *
 * A deliver_mail hook numbered above Sieve's (lib90), so it wraps Sieve:
 * for a mailbox subscribed to inbound-virus and/or spam, it sends the
 * message to omamori-scand (once per message and recipient domain; once
 * per recipient when the spam check runs, since lists and thresholds are
 * the mailbox's), then hands Sieve the message to deliver - the original,
 * or the rewritten one scand returned - with incoming X-Omamori-* (and,
 * with the spam check, X-Spam-Flag/-Score) headers removed, so nobody
 * outside can forge a verdict, and our verdict headers added; a tagged
 * subject replaces the original.  Spam to quarantine goes straight into
 * the Quarantine folder (created on demand), never through Sieve, and
 * mail older than the domain's retention is expunged from it then.  If
 * scand cannot answer, the delivery fails temporarily (LMTP 451), Postfix
 * keeps the message and retries: nothing is lost and nothing unscanned
 * slips through, unless the administrator chose scand_failure_action =
 * accept.  The message goes into a mailbox only on an action known to mean
 * that (omamori_action_delivers); an answer this side cannot read - a
 * garbled frame, a word of a newer scand - never decodes, and is a 451
 * whatever scand_failure_action says.
 */
#include "lib.h"
#include "ioloop.h"
#include "array.h"
#include "buffer.h"
#include "hex-binary.h"
#include "istream.h"
#include "istream-concat.h"
#include "istream-header-filter.h"
#include "istream-seekable.h"
#include "message-address.h"
#include "message-header-parser.h"
#include "message-size.h"
#include "mail-storage-private.h"
#include "mail-deliver.h"
#include "mail-namespace.h"
#include "mail-search-build.h"
#include "mail-user.h"
#include "randgen.h"
#include "raw-storage.h"
#include "sha2.h"
#include "smtp-address.h"
#include "smtp-submit.h"
#include "ostream.h"
#include "str.h"
#include "message-header-encode.h"
#include "str-sanitize.h"

#include "lib/om-config.h"
#include "proto/proto.h"
#include "store/settings.h"
#include "store/store.h"
#include "lib/util.h"
#include "notice/notify.h"
#include "notice/wrap.h"
#include "crypto/report.h"
#include "omamori-plugin.h"
#include "omamori-read.h"
#include "omamori-scand-client.h"
#include "omamori-verdict.h"

#include <stdio.h>

#define OMAMORI_HEADER_PREFIX "X-Omamori-"
#define OMAMORI_VERDICT_HEADER "X-Omamori-Virus"
#define OMAMORI_TEMPFAIL_TEXT "Virus scanner unavailable, try again later"
#define OMAMORI_SANDBOX_TEMPFAIL_TEXT "Attachment under analysis, try again later"
#define OMAMORI_LOCAL_TEMPFAIL_TEXT "Local delivery problem, try again later"
/* what the substituted message may hold in memory before it spills to a
   temporary file, as Dovecot's own LMTP does */
#define OMAMORI_MAX_MEMORY_BUFFER (1024 * 1024)
/* bytes of a quarantined message's From, Subject, sender and reasons in
   its store row (what a digest or a web page shows) */
#define OMAMORI_QUARANTINE_TEXT_MAX 300

/* The last scan of this process, reused for the other recipients of the
   same message in the same session (and only for a byte-identical message,
   the same checks and the same recipient domain - or mailbox, with the
   spam check - whose settings shaped the answer). */
struct omamori_scan_cache {
	struct mail_deliver_session *session;
	char *key;
	unsigned char digest[SHA256_RESULTLEN];
	struct om_scan_result result;
	bool valid;
};

/* What the store says of a mailbox for a delivery: the checks its
   subscriptions ask for, and whether scand's answer is the mailbox's own
   (omamori_links_per_mailbox).  Up to fifteen store reads each, so they
   are kept for the next deliveries of this process; when the store's
   "config" revision (subscriptions, settings, lists) moves, the mailboxes
   of the scopes changed since are forgotten (omamori_facts_check).  That
   revision is read only when some connection committed something (SQLite's
   data_version moved, a PostgreSQL notification came), so a delivery costs
   nothing when nothing changed, and an edit is seen by the next delivery
   after it. */
#define OMAMORI_FACTS_MAX 512
/* more scopes changed than this since the cache's revision: it is
   emptied rather than sorted out */
#define OMAMORI_FACTS_SCOPES_MAX 256
/* the store's answer deadline (s) for that check while answers are held */
#define OMAMORI_FACTS_STORE_WAIT 2
struct omamori_facts {
	char *mailbox;		/* NULL: a free slot */
	int checks;		/* OM_CHECK_* */
	int per_mailbox;	/* 1, 0, or -1 not looked up yet */
};

struct omamori_facts_cache {
	unsigned int generation;	/* omamori_context_generation() */
	long long counter;		/* om_store_change_counter() */
	long long revision;		/* the "config" revision */
	bool valid;
	/* the store could not be read at the last check (PostgreSQL away,
	   issue 21): the entries are the last answers it gave, used as they
	   are until it answers again */
	bool unreachable;
	struct omamori_facts entries[OMAMORI_FACTS_MAX];
	unsigned int next;		/* the slot to reuse next */
};

struct omamori_deliver_module {
	deliver_mail_func_t *next_deliver_mail;
	struct omamori_scan_cache cache;
	struct omamori_facts_cache facts;
	/* a mailbox's checks came from scand once (logged once a process) */
	bool checks_from_scand_logged;
};

static struct omamori_deliver_module omamori_deliver;

const char *omamori_deliver_plugin_version = DOVECOT_ABI_VERSION;
const char *omamori_deliver_plugin_dependencies[] = { "omamori", NULL };
const char omamori_deliver_plugin_binary_dependency[] = "lda lmtp";

void omamori_deliver_plugin_init(struct module *module);
void omamori_deliver_plugin_deinit(void);

/* What one delivery does with the message. */
struct omamori_delivery {
	struct mail_deliver_context *ctx;
	const struct om_config *config;
	struct om_store *store;
	const char *mailbox;
	int checks;			/* OM_CHECK_* of this mailbox */
	buffer_t *message;		/* the original, read whole */
	struct omamori_decoration deco;	/* our headers */
	const void *deliver_data;	/* the rewritten message, or NULL to
					   deliver the original */
	size_t deliver_size;
	/* a message over scan_max_size going to Quarantine: the original
	   between this head (header and notice) and tail (wrap.h) */
	struct om_buf wrap_head, wrap_tail;
	bool spam;			/* the verdict is spam */
	bool quarantine;		/* ... and it goes to Quarantine */
	bool admin_only;		/* ... that only the administrator
					   may release (quarantine-admin) */
	bool discard;			/* not delivered at all (discard: an
					   inbound audit rule's delete) */
	/* for the Sieve extension: "clean", "virus", "spam", "unscanned",
	   and the spam score (NULL: not checked) */
	const char *verdict;
	const char *score;
	/* for the store's row of a quarantined message (store.h): why
	   ("BAYES_99 MISSING_DATE", "unscanned:limit"), and the original's
	   From, Subject and size, read before any substitution */
	const char *reasons;
	const char *from, *from_address, *subject;
	const char *message_id;	/* for the message trace (doc/trace.md) */
	uoff_t size;
	char quarantine_id[OM_QUARANTINE_ID_LEN + 1];
};

static void omamori_facts_clear(struct omamori_facts_cache *fc)
{
	unsigned int i;

	for (i = 0; i < OMAMORI_FACTS_MAX; i++)
		om_free(&fc->entries[i].mailbox);
	fc->next = 0;
	fc->valid = FALSE;
}

static void omamori_facts_forget_scope(void *context, const char *scope)
{
	struct omamori_facts_cache *fc = context;
	unsigned int i;

	for (i = 0; i < OMAMORI_FACTS_MAX; i++) {
		if (fc->entries[i].mailbox != NULL &&
		    om_settings_scope_covers(scope, fc->entries[i].mailbox))
			om_free(&fc->entries[i].mailbox);
	}
}

/* Forgets the mailboxes whose settings may have changed since the cache's
   revision (the scopes the store recorded); 0, or -1 when they cannot be
   told (too many, or the store's error): the caller empties the cache. */
static int omamori_facts_forget_changed(struct omamori_facts_cache *fc,
					struct om_store *store)
{
	char *error = NULL;
	int n;

	n = om_store_changes(store, fc->revision, OMAMORI_FACTS_SCOPES_MAX,
			     omamori_facts_forget_scope, fc, &error);
	free(error);
	return n < 0 || n > OMAMORI_FACTS_SCOPES_MAX ? -1 : 0;
}

/* Keeps what the cache knows of mailboxes whose settings did not change
   since it was filled: it is emptied when the store is another one (a
   changed omamori.conf), and otherwise loses only the mailboxes of the
   scopes changed since (a change elsewhere does not cost this process
   its other recipients' answers, which an outage of the store would make
   it defer).  A store that cannot be read keeps
   the cache as it is, marked unreachable: its entries are the last answers
   the store gave, and while it is away nobody can change them (omamorictl
   and the web write to the same store); a mailbox not in it waits for the
   store (the delivery is deferred). */
static void omamori_facts_check_store(struct omamori_facts_cache *fc,
				      struct om_store *store, struct event *event,
				      unsigned int generation)
{
	long long counter = store != NULL ? om_store_change_counter(store) : -1;
	long long revision;
	char *error = NULL;

	if (fc->valid && fc->generation == generation && counter >= 0 &&
	    counter == fc->counter) {
		fc->unreachable = FALSE;
		return;
	}
	/* store NULL: it could not even be opened (a process started while
	   PostgreSQL is away) */
	if (store == NULL)
		error = om_strdup("the store cannot be opened");
	if (store == NULL ||
	    om_store_revision(store, "config", &revision, &error) < 0) {
		if (!fc->valid || fc->generation != generation) {
			/* nothing read from the store yet: the answers scand
			   gives meanwhile are kept here, with no revision (-1),
			   and forgotten when the store answers again */
			omamori_facts_clear(fc);
			fc->generation = generation;
			fc->revision = -1;
			fc->valid = TRUE;
		} else if (!fc->unreachable)
			e_warning(event, "omamori: the store cannot be read (%s): "
				  "using the subscriptions read before",
				  str_sanitize(error, 300));
		free(error);
		fc->unreachable = TRUE;
		fc->counter = -1;
		return;
	}
	fc->unreachable = FALSE;
	if (!fc->valid || fc->generation != generation || counter < 0 ||
	    fc->revision < 0 ||
	    (revision != fc->revision && omamori_facts_forget_changed(fc, store) < 0))
		omamori_facts_clear(fc);
	fc->generation = generation;
	fc->counter = counter;
	fc->revision = revision;
	fc->valid = counter >= 0;
}

/* omamori_facts_check, with the store's answers bounded while the cache
   holds answers from this store: the change counter's occasional round
   trip and the revision are small reads, and a server that hangs then
   costs a delivery OMAMORI_FACTS_STORE_WAIT, not the store's whole
   answer_timeout (30 s by default), which the LMTP client of a single
   delivery process would not wait out for the next message. */
static void omamori_facts_check(struct omamori_facts_cache *fc,
				struct om_store *store, struct event *event)
{
	unsigned int generation = omamori_context_generation();
	int before;

	if (store == NULL || !fc->valid || fc->generation != generation) {
		omamori_facts_check_store(fc, store, event, generation);
		return;
	}
	before = om_store_answer_timeout_at_most(store, OMAMORI_FACTS_STORE_WAIT);
	omamori_facts_check_store(fc, store, event, generation);
	(void)om_store_answer_timeout(store, before);
}

/* The cached facts of mailbox, or NULL. */
static struct omamori_facts *omamori_facts_find(struct omamori_facts_cache *fc,
						const char *mailbox)
{
	unsigned int i;

	if (!fc->valid)
		return NULL;
	for (i = 0; i < OMAMORI_FACTS_MAX; i++) {
		if (fc->entries[i].mailbox != NULL &&
		    strcmp(fc->entries[i].mailbox, mailbox) == 0)
			return &fc->entries[i];
	}
	return NULL;
}

/* Keeps checks for mailbox (the oldest slot makes room). */
static void omamori_facts_add(struct omamori_facts_cache *fc,
			      const char *mailbox, int checks)
{
	struct omamori_facts *f;

	if (!fc->valid)
		return;
	f = &fc->entries[fc->next];
	fc->next = (fc->next + 1) % OMAMORI_FACTS_MAX;
	om_free(&f->mailbox);
	f->mailbox = om_strdup(mailbox);
	f->checks = checks;
	f->per_mailbox = -1;
}

static void omamori_cache_clear(struct omamori_scan_cache *cache)
{
	om_scan_result_free(&cache->result);
	om_free(&cache->key);
	cache->session = NULL;
	cache->valid = FALSE;
}

/* "word (detail)" as one header line: no CR/LF, bounded. */
static const char *omamori_header_value(const char *word, const char *detail)
{
	char *clean = om_sanitize(detail, 200);
	const char *value = t_strdup_printf("%s (%s)", word, clean);

	free(clean);
	return value;
}

static const char *omamori_verdict_text(const struct om_scan_result *res)
{
	switch (res->verdict) {
	case OM_VERDICT_VIRUS:
		return omamori_header_value("infected",
					    res->virus != NULL ? res->virus : "unknown");
	case OM_VERDICT_UNSCANNED:
		return omamori_header_value("unscanned",
					    res->reason != NULL ? res->reason : "error");
	case OM_VERDICT_CLEAN:
	case OM_VERDICT_SPAM:
		return "clean";
	case OM_VERDICT_NONE:
		break;
	}
	return omamori_header_value("unscanned", "no verdict");
}

/* text made safe for a store row: sanitized UTF-8, bounded (data stack) */
static const char *omamori_row_text(const char *text)
{
	char *clean = om_sanitize(text, OMAMORI_QUARANTINE_TEXT_MAX);
	const char *value = t_strdup(clean);

	free(clean);
	return value;
}

static bool omamori_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Why scand's answer quarantines, as the store row's reasons: the rules
   that fired (scand separates them by commas, the row by spaces) and the
   list that decided; or "unscanned:WHY" (the first word of scand's
   reason: "limit", "part", ...) for mail not scanned whole. */
static const char *omamori_reasons_text(const struct om_scan_result *res)
{
	string_t *text = t_str_new(128);
	const char *p;
	int rule;

	if (res->verdict == OM_VERDICT_UNSCANNED) {
		str_append(text, "unscanned:");
		for (p = res->reason != NULL ? res->reason : "error";
		     omamori_word_char(*p); p++)
			str_append_c(text, *p);
		return omamori_row_text(str_c(text));
	}
	for (p = res->spam_rules != NULL ? res->spam_rules : ""; *p != '\0'; p++)
		str_append_c(text, *p == ',' ? ' ' : *p);
	if (res->spam_listed != NULL) {
		if (str_len(text) > 0)
			str_append_c(text, ' ');
		str_printfa(text, "listed:%s", res->spam_listed);
	}
	if (res->attachments != NULL) {
		if (str_len(text) > 0)
			str_append_c(text, ' ');
		str_printfa(text, "attachments:%s", res->attachments);
	}
	/* an inbound audit rule's hold: "audit: rule N" */
	if (res->reason != NULL && sscanf(res->reason, "audit: rule %d", &rule) == 1) {
		if (str_len(text) > 0)
			str_append_c(text, ' ');
		str_printfa(text, "audit:rule-%d", rule);
	}
	return omamori_row_text(str_c(text));
}

/* The tagged subject as we write it: one line (scand unfolded it
   already; a CR, LF or NUL would end the header), within the 998-byte
   line limit.  Other bytes stay, so raw ISO-2022-JP keeps its escapes. */
static const char *omamori_subject_value(const char *subject)
{
	string_t *value = t_str_new(strlen(subject) + 1);
	const char *p;

	for (p = subject; *p != '\0' && str_len(value) < 980; p++) {
		if (*p != '\r' && *p != '\n')
			str_append_c(value, *p);
	}
	return str_c(value);
}

/* Sends the administrator's copy of a report (domain setting
   virus-admin-copy) through Dovecot's submission settings, from the null
   sender, once per scanned message.  A failure is logged: the recipient's
   own delivery goes on. */
static void omamori_send_admin_copy(struct mail_deliver_context *ctx,
				    const struct om_scan_result *res)
{
	struct smtp_submit_input input;
	struct smtp_address *rcpt;
	struct smtp_submit *subm;
	struct ostream *output;
	const char *error;
	int ret;

	if (smtp_address_parse_path(pool_datastack_create(), res->admin_address,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &rcpt, &error) < 0) {
		e_error(ctx->event, "omamori: virus-admin-copy %s: %s",
			str_sanitize(res->admin_address, 200),
			str_sanitize(error, 200));
		return;
	}
	i_zero(&input);
	subm = smtp_submit_init_simple(&input, ctx->smtp_set, NULL);
	smtp_submit_add_rcpt(subm, rcpt);
	output = smtp_submit_send(subm);
	o_stream_nsend(output, res->admin_message, res->admin_message_len);
	ret = smtp_submit_run(subm, &error);
	if (ret <= 0)
		e_error(ctx->event, "omamori: admin copy to %s not sent: %s",
			str_sanitize(res->admin_address, 200),
			str_sanitize(error, 300));
	else
		e_info(ctx->event, "omamori: admin copy of the report sent to %s",
		       str_sanitize(res->admin_address, 200));
	smtp_submit_deinit(&subm);
}

/* TRUE when scand's answer is the mailbox's own even for the virus check
   alone: its domain sends links through the click-time gate, whose links
   name the mailbox (doc/links.md), or analyses attachments (an isolated
   one's link names the mailbox: doc/attachments.md).  A setting that cannot be read counts
   as on (one scan per recipient: slower, never wrong). */
static bool omamori_links_per_mailbox_read(struct omamori_delivery *d)
{
	char *error = NULL;
	char *value = d->store == NULL ? NULL :
		om_settings_domain_value(d->store, d->mailbox, "url-rewrite",
					 "off", &error);
	bool per = value == NULL || strcmp(value, "off") != 0;
	enum om_sub_state state = OM_SUB_OFF;
	const char *source;
	char *key;

	free(value);
	om_free(&error);
	if (per || d->store == NULL)
		return TRUE;
	/* an isolated attachment's page is the recipient's own (its link
	   names the mailbox): the domain's attachment analysis makes the
	   answer the mailbox's too */
	key = om_asprintf("@%s", om_settings_domain_of(d->mailbox));
	per = om_settings_subscription(d->store, key, OM_FEATURE_ATTACHMENTS, &state,
				       &source, &error) < 0 || state == OM_SUB_ON;
	free(key);
	free(error);
	return per;
}

/* omamori_links_per_mailbox_read, kept with the mailbox's checks.  A read
   error is not kept (it counts as on this once). */
static bool omamori_links_per_mailbox(struct omamori_delivery *d)
{
	struct omamori_facts *f =
		omamori_facts_find(&omamori_deliver.facts, d->mailbox);
	bool per;

	if (f != NULL && f->per_mailbox >= 0)
		return f->per_mailbox == 1;
	per = omamori_links_per_mailbox_read(d);
	if (f != NULL)
		f->per_mailbox = per ? 1 : 0;
	return per;
}

/* Asks scand, or takes the cached answer for this message.  0, or an
   om_scand_failure (proto.h). */
static int omamori_scan(struct omamori_delivery *d, const char **error_r)
{
	struct omamori_scan_cache *cache = &omamori_deliver.cache;
	struct mail_deliver_context *ctx = d->ctx;
	const char *key = t_strdup_printf("%s %s",
		omamori_scand_client_checks(d->checks),
		(d->checks & OM_CHECK_SPAM) != 0 || omamori_links_per_mailbox(d) ?
		d->mailbox : om_settings_domain_of(d->mailbox));
	unsigned char digest[SHA256_RESULTLEN];
	struct omamori_scand_ask ask;
	int ret;

	sha256_get_digest(d->message->data, d->message->used, digest);
	if (cache->valid && cache->session == ctx->session &&
	    strcmp(cache->key, key) == 0 &&
	    memcmp(cache->digest, digest, sizeof(digest)) == 0)
		return 0;
	omamori_cache_clear(cache);
	i_zero(&ask);
	ask.session_id = ctx->session_id;
	ask.mailbox = d->mailbox;
	ask.mail_from = ctx->mail_from == NULL ? NULL :
		smtp_address_encode(ctx->mail_from);
	ask.checks = d->checks;
	ret = omamori_scand_client_scan(d->config, &ask, d->message->data,
					d->message->used, &cache->result, error_r);
	if (ret < 0)
		return ret;
	cache->session = ctx->session;
	cache->key = om_strdup(key);
	memcpy(cache->digest, digest, sizeof(digest));
	cache->valid = TRUE;
	if (cache->result.admin_address != NULL && cache->result.admin_message != NULL)
		omamori_send_admin_copy(ctx, &cache->result);
	return 0;
}


/* TRUE for the actions of scand's answer that put the message (or scand's
   rewrite of it) into a mailbox; anything else keeps it in the sender's
   queue (fail closed).  No default: an action added to lib/values.h does
   not compile here until it is decided, and a number that is no action
   never delivers. */
static bool omamori_action_delivers(enum om_action action)
{
	switch (action) {
	case OM_ACTION_DELIVER:
	case OM_ACTION_STRIP:
	case OM_ACTION_REPLACE:
	case OM_ACTION_QUARANTINE:
	case OM_ACTION_QUARANTINE_ADMIN:
	case OM_ACTION_DISCARD:	/* handled as delivered: nothing saved */
		return TRUE;
	case OM_ACTION_TEMPFAIL:
	case OM_ACTION_NONE:
		break;
	}
	return FALSE;
}

static int omamori_tempfail(struct mail_deliver_context *ctx, const char *why)
{
	/* why may quote scand's answer or the message (a reason, an action) */
	e_error(ctx->event, "omamori: %s: message kept for a retry",
		str_sanitize(why, 300));
	ctx->tempfail_error = OMAMORI_TEMPFAIL_TEXT;
	return -1;
}

/* The original between the wrapper's head and tail (takes data's
   reference). */
static struct istream *omamori_wrapped_stream(struct omamori_delivery *d,
					      struct istream *data)
{
	struct istream *parts[4], *wrapped;

	parts[0] = i_stream_create_from_data(d->wrap_head.data, d->wrap_head.len);
	parts[1] = data;
	parts[2] = i_stream_create_from_data(d->wrap_tail.data, d->wrap_tail.len);
	parts[3] = NULL;
	wrapped = i_stream_create_concat(parts);
	i_stream_unref(&parts[0]);
	i_stream_unref(&parts[1]);
	i_stream_unref(&parts[2]);
	return wrapped;
}

/* The message to deliver, headers filtered, seekable (the raw mailbox needs
   that) without holding a large message in memory. */
static struct istream *omamori_source_stream(struct omamori_delivery *d)
{
	struct mail_deliver_context *ctx = d->ctx;
	struct istream *data, *filtered, *inputs[2], *input;
	string_t *temp_prefix = t_str_new(128);

	if (d->deliver_data != NULL) {
		data = i_stream_create_from_data(d->deliver_data, d->deliver_size);
	} else {
		if (mail_get_stream(ctx->src_mail, NULL, NULL, &data) < 0)
			return NULL;
		i_stream_ref(data);
		i_stream_seek(data, 0);
	}
	if (d->wrap_head.len > 0)
		data = omamori_wrapped_stream(d, data);
	filtered = omamori_decorated_stream(data, &d->deco);
	i_stream_unref(&data);
	mail_user_set_get_temp_prefix(temp_prefix, ctx->rcpt_user->set);
	inputs[0] = filtered;
	inputs[1] = NULL;
	input = i_stream_create_seekable_path(inputs, OMAMORI_MAX_MEMORY_BUFFER,
					      str_c(temp_prefix));
	i_stream_unref(&filtered);
	i_stream_set_name(input, "<omamori>");
	return input;
}

/* Sieve (or whatever hook came before us), then the default save if
   nothing saved the message - now, while our message is the source.  The
   vnd.omamori Sieve extension reads this delivery's verdict meanwhile
   (omamori-verdict.h). */
static int omamori_deliver_next(struct omamori_delivery *d,
				struct mail_storage **storage_r)
{
	struct mail_deliver_context *ctx = d->ctx;
	int ret;

	omamori_verdict_set(ctx->rcpt_user, d->verdict, d->score);
	ret = omamori_deliver.next_deliver_mail != NULL ?
		omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
	omamori_verdict_set(ctx->rcpt_user, NULL, NULL);
	if (ret <= 0 && !ctx->tried_default_save) {
		ret = mail_deliver_save(ctx, ctx->rcpt_default_mailbox, 0, NULL,
					storage_r) < 0 ? -1 : 1;
	}
	return ret;
}

/* The raw mail user to open the substituted message with: the one LMTP (or
   LDA) already made for its input, else our own.  Making a raw user is a
   whole mail_user set-up; doing it per delivery halved LMTP's rate. */
static struct mail_user *omamori_raw_user(struct mail_deliver_context *ctx,
					  struct omamori_user *ouser)
{
	struct mail_storage *storage = mailbox_get_storage(ctx->src_mail->box);

	if (strcmp(storage->name, RAW_STORAGE_NAME) == 0)
		return mail_storage_get_user(storage);
	return omamori_user_raw(ouser);
}

typedef int omamori_deliver_step_t(struct omamori_delivery *d,
				   struct omamori_user *ouser,
				   struct mail_storage **storage_r);

/* Runs step with the rewritten (or wrapped) message as the delivery's
   source in place of the original. */
static int omamori_with_substituted(struct omamori_delivery *d,
				    struct omamori_user *ouser,
				    omamori_deliver_step_t *step,
				    struct mail_storage **storage_r)
{
	struct mail_deliver_context *ctx = d->ctx;
	struct mail *orig = ctx->src_mail, *mail;
	struct mailbox_transaction_context *t;
	struct istream *input;
	struct mailbox *box;
	int ret;

	input = omamori_source_stream(d);
	if (input == NULL) {
		return omamori_tempfail(ctx, t_strdup_printf("cannot read the message: %s",
			mailbox_get_last_internal_error(ctx->src_mail->box, NULL)));
	}
	if (raw_mailbox_alloc_stream(omamori_raw_user(ctx, ouser), input, (time_t)-1,
				     ctx->mail_from == NULL ? NULL :
				     smtp_address_encode(ctx->mail_from),
				     &box) < 0) {
		e_error(ctx->event, "omamori: cannot open the rewritten message: %s",
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		i_stream_unref(&input);
		ctx->tempfail_error = OMAMORI_LOCAL_TEMPFAIL_TEXT;
		return -1;
	}
	i_stream_unref(&input);
	t = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	mail_set_seq(mail, 1);
	ctx->src_mail = mail;
	/* later recipients must start from the original, not our copy */
	ctx->save_dest_mail = FALSE;
	ret = step(d, ouser, storage_r);
	ctx->src_mail = orig;
	mail_free(&mail);
	mailbox_transaction_rollback(&t);
	mailbox_free(&box);
	return ret;
}

static int omamori_deliver_next_step(struct omamori_delivery *d,
				     struct omamori_user *ouser ATTR_UNUSED,
				     struct mail_storage **storage_r)
{
	return omamori_deliver_next(d, storage_r);
}

/* Delivers d->deliver_data through Sieve (or the default save) in place of
   the original message. */
static int omamori_deliver_substituted(struct omamori_delivery *d,
				       struct omamori_user *ouser,
				       struct mail_storage **storage_r)
{
	return omamori_with_substituted(d, ouser, omamori_deliver_next_step,
					storage_r);
}

/* The reasons scand gave (UTF-8, "; "-separated) as an RFC 2047 header
   value: encoded words folded by Dovecot's encoder, no control character
   (a CR or LF would end the header), within a bound; NULL for none. */
static const char *omamori_reason_value(const char *reason)
{
	string_t *out;
	char *clean;

	if (reason == NULL || *reason == '\0')
		return NULL;
	clean = om_sanitize(reason, 600);
	out = t_str_new(256);
	message_header_encode(clean, out);
	free(clean);
	return str_c(out);
}

/* Our headers for a spam-checked message, from scand's answer. */
static void omamori_decorate_spam(struct omamori_delivery *d,
				  const struct om_scan_result *res)
{
	char *rules;

	if (res->spam_score == NULL)
		return;		/* not checked: infected or unscanned */
	rules = om_sanitize(res->spam_rules != NULL ? res->spam_rules : "", 300);
	d->deco.spam = t_strdup_printf("%s; score=%s; rules=%s%s%s",
				       res->verdict == OM_VERDICT_SPAM ? "yes" : "no",
				       res->spam_score, rules,
				       res->spam_listed != NULL ? "; listed=" : "",
				       res->spam_listed != NULL ? res->spam_listed : "");
	free(rules);
	if (res->verdict != OM_VERDICT_SPAM)
		return;
	d->spam = TRUE;
	d->deco.spam_reason = omamori_reason_value(res->spam_reason);
	switch (res->spam_action) {
	case OM_SPAM_ACTION_DELIVER:
		return;
	case OM_SPAM_ACTION_QUARANTINE:
		d->quarantine = TRUE;
		break;
	case OM_SPAM_ACTION_TAG:
		if (res->spam_subject != NULL)
			d->deco.subject = omamori_subject_value(res->spam_subject);
		break;
	case OM_SPAM_ACTION_HEADER:
	case OM_SPAM_ACTION_NONE:
		break;
	}
	d->deco.spam_score = t_strdup(res->spam_score);
}

/* The header block of the delivery's message, at most max bytes. */
static int omamori_read_header(struct mail *mail, size_t max, buffer_t *buf,
			       const char **error_r)
{
	struct message_size hdr_size;
	struct istream *input;

	if (mail_get_hdr_stream(mail, &hdr_size, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	return omamori_read_stream(input, max, buf, error_r) < 0 ? -1 : 0;
}

/* A message over scan_max_size, which scand never sees: the limit action.
   Quarantine wraps the original below the notice (templates/<lang>/
   unscanned-notice.txt) as scand would.  0 go on, -1 tempfail. */
static int omamori_over_size(struct omamori_delivery *d)
{
	struct mail_deliver_context *ctx = d->ctx;
	const char *reason = t_strdup_printf("limit: message over scan_max_size %ld",
					     d->config->scan_max_size);
	buffer_t *header = t_buffer_create(8192);
	char *lang, *notice, *serror = NULL;
	struct om_notify_brand brand;
	const char *error;

	if (d->config->scan_limit_action == OM_LIMIT_TEMPFAIL)
		return omamori_tempfail(ctx, "message over scan_max_size");
	d->verdict = "unscanned";
	d->reasons = "unscanned:limit";
	d->deco.virus = omamori_header_value("unscanned", reason);
	if ((d->checks & OM_CHECK_SPAM) != 0)
		d->deco.spam = "unscanned";
	if (d->config->scan_limit_action == OM_LIMIT_DELIVER) {
		e_warning(ctx->event, "omamori: message over scan_max_size (%ld): "
			  "delivered unscanned (scan_limit_action = deliver)",
			  d->config->scan_max_size);
		return 0;
	}
	lang = d->store == NULL ? (serror = om_strdup("the store cannot be opened"), NULL) :
		om_settings_domain_value(d->store, d->mailbox, "language",
					 d->config->default_language, &serror);
	if (lang == NULL || omamori_read_header(ctx->src_mail, 64 * 1024,
						header, &error) < 0) {
		error = lang == NULL ? t_strdup(serror) : error;
		free(serror);
		free(lang);
		return omamori_tempfail(ctx, error);
	}
	brand.name = d->config->brand_name;
	brand.support = d->config->brand_support;
	notice = om_notify_unscanned(d->config->templates_dir, lang, reason,
				     time(NULL), &brand, &serror);
	free(lang);
	if (notice == NULL) {
		error = t_strdup(serror);
		free(serror);
		return omamori_tempfail(ctx, error);
	}
	om_wrap_head_tail(header->data, header->used, notice, &d->wrap_head,
			  &d->wrap_tail);
	free(notice);
	d->quarantine = TRUE;
	e_info(ctx->event, "omamori: verdict=unscanned action=quarantine (%s)", reason);
	return 0;
}

/* The value of the first header called name in the header block of msg
   (one line, no continuation), or NULL. */
static const char *omamori_raw_header(const unsigned char *msg, size_t size,
				      const char *name)
{
	const unsigned char *p = msg, *end = msg + size, *eol;
	size_t nlen = strlen(name);

	while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp((const char *)p, name, nlen) == 0) {
			p += nlen + 1;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			while (eol > p && (eol[-1] == '\r' || eol[-1] == ' '))
				eol--;
			return t_strndup(p, (size_t)(eol - p));
		}
		p = eol + 1;
	}
	return NULL;
}

/* 1 if the message is omamori's own report to this mailbox (an
   administrator's copy), sealed with the site's key (report.h). */
static bool omamori_own_report(struct omamori_delivery *d)
{
	unsigned char key[OM_REPORT_KEY_LEN];
	const char *seal;
	char *error = NULL;
	bool ours;

	seal = omamori_raw_header(d->message->data, d->message->used,
				  OM_REPORT_HEADER);
	if (seal == NULL)
		return FALSE;
	if (d->store == NULL)
		error = om_strdup("the report key cannot be read: the store cannot be opened");
	if (d->store == NULL ||
	    om_store_secret(d->store, OM_REPORT_KEY_NAME, key, sizeof(key),
			    &error) < 0) {
		e_warning(d->ctx->event, "omamori: %s", error);
		free(error);
		return FALSE;
	}
	ours = om_report_verify(key, seal, d->mailbox, time(NULL)) == 1;
	if (!ours)
		e_info(d->ctx->event, "omamori: " OM_REPORT_HEADER
		       " does not verify: checked as any mail");
	return ours;
}

/* Decides what to deliver for a subscribed mailbox.  0 go on, -1 tempfail
   (ctx->tempfail_error set). */
static int omamori_decide(struct omamori_delivery *d)
{
	struct mail_deliver_context *ctx = d->ctx;
	const struct om_scan_result *res = &omamori_deliver.cache.result;
	const char *error, *unscanned = NULL;
	int ret;

	/* no X-Spam-* header of a sender's (or an earlier filter's) reaches
	   a subscribed mailbox: clients act on them */
	d->deco.strip_spam_headers = TRUE;
	ret = omamori_read_message(ctx->src_mail, (size_t)d->config->scan_max_size,
				   d->message, &error);
	if (ret < 0)
		return omamori_tempfail(ctx, error);
	if (ret == 0)
		return omamori_over_size(d);
	if ((d->checks & OM_CHECK_SPAM) != 0 && omamori_own_report(d)) {
		/* our report to this administrator: never tagged as spam */
		d->checks &= ~OM_CHECK_SPAM;
		if (d->checks == 0) {
			d->verdict = "clean";
			return 0;
		}
	}
	ret = omamori_scan(d, &error);
	if (ret < 0) {
		/* accept is for a scanner that is not there, never for an
		   answer this side cannot read */
		if (ret == OM_SCAND_BAD_ANSWER ||
		    d->config->scand_failure_action != OM_FAILURE_ACCEPT)
			return omamori_tempfail(ctx, error);
		e_warning(ctx->event, "omamori: %s: delivered unscanned "
			  "(scand_failure_action = accept)", str_sanitize(error, 300));
		unscanned = "unscanned (scanner unavailable)";
	} else if (res->action == OM_ACTION_TEMPFAIL && res->reason != NULL &&
		   strncmp(res->reason, "sandbox:", 8) == 0) {
		/* the sandbox hook's verdict is pending (doc/attachments.md):
		   expected, not an error */
		e_info(ctx->event, "omamori: %s: message kept for a retry",
		       str_sanitize(res->reason, 300));
		ctx->tempfail_error = OMAMORI_SANDBOX_TEMPFAIL_TEXT;
		return -1;
	} else if (res->action == OM_ACTION_TEMPFAIL) {
		return omamori_tempfail(ctx, t_strdup_printf(
			"scan incomplete (%s)", res->reason != NULL ? res->reason : "?"));
	} else if (!omamori_action_delivers(res->action)) {
		return omamori_tempfail(ctx, "scand's answer has no action to deliver on");
	} else {
		if ((d->checks & OM_CHECK_VIRUS) != 0 ||
		    res->verdict == OM_VERDICT_UNSCANNED)
			d->deco.virus = omamori_verdict_text(res);
		omamori_decorate_spam(d, res);
		if (res->auth_results != NULL)
			d->deco.auth_results = t_strdup(res->auth_results);
		if (res->attachments != NULL)
			d->deco.attachments = t_strdup(res->attachments);
		d->deco.links = om_links_done_name(res->links);
		if (res->message != NULL) {
			d->deliver_data = res->message;
			d->deliver_size = res->message_len;
		}
		if (res->action == OM_ACTION_QUARANTINE ||
		    res->action == OM_ACTION_QUARANTINE_ADMIN)
			d->quarantine = TRUE;
		if (res->action == OM_ACTION_QUARANTINE_ADMIN)
			d->admin_only = TRUE;
		if (res->action == OM_ACTION_DISCARD)
			d->discard = TRUE;
		d->reasons = omamori_reasons_text(res);
		e_info(ctx->event, "omamori: verdict=%s action=%s%s%s%s%s",
		       om_verdict_name(res->verdict), om_action_name(res->action),
		       res->spam_score != NULL ? " spam_score=" : "",
		       res->spam_score != NULL ? res->spam_score : "",
		       res->spam_action != OM_SPAM_ACTION_NONE ? " spam_action=" : "",
		       res->spam_action != OM_SPAM_ACTION_NONE ?
		       om_spam_action_name(res->spam_action) : "");
	}
	/* the Sieve test's word (an edge: Sieve compares strings) */
	d->verdict = unscanned != NULL ? om_verdict_name(OM_VERDICT_UNSCANNED) :
		om_verdict_name(res->verdict);
	d->score = unscanned != NULL || res->spam_score == NULL ? NULL :
		t_strdup(res->spam_score);
	if (unscanned != NULL) {
		d->deco.virus = unscanned;
		if ((d->checks & OM_CHECK_SPAM) != 0)
			d->deco.spam = "unscanned";
	}
	return 0;
}

/* 1 if the header block of msg has a header whose name starts with
   prefix (case-insensitive). */
static bool omamori_has_header_prefix(const unsigned char *msg, size_t size,
				      const char *prefix)
{
	const unsigned char *p = msg, *end = msg + size;
	size_t plen = strlen(prefix);

	while (p < end) {
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return FALSE;	/* end of the header */
		if ((size_t)(end - p) > plen &&
		    strncasecmp((const char *)p, prefix, plen) == 0)
			return TRUE;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p == NULL)
			return FALSE;
		p++;
	}
	return FALSE;
}

/* A sender's X-Omamori-* header. */
static bool omamori_has_own_headers(const unsigned char *msg, size_t size)
{
	return omamori_has_header_prefix(msg, size, OMAMORI_HEADER_PREFIX);
}

/* A sender's (or an earlier filter's) X-Spam-* header. */
static bool omamori_has_spam_headers(const unsigned char *msg, size_t size)
{
	return omamori_has_header_prefix(msg, size, "X-Spam-");
}

/* Delivers the original through Sieve; every save of the recipient adds the
   verdict header as it writes (omamori-plugin.c, save_begin). */
static int omamori_deliver_header_only(struct omamori_delivery *d,
				       struct omamori_user *ouser,
				       struct mail_storage **storage_r)
{
	struct mail_deliver_context *ctx = d->ctx;
	int ret;

	ouser->save_decoration = &d->deco;
	/* later recipients must start from the original, not our copy */
	ctx->save_dest_mail = FALSE;
	ret = omamori_deliver_next(d, storage_r);
	ouser->save_decoration = NULL;
	return ret;
}

/* Creates the Quarantine folder unless it is there (its \Junk special-use
   comes from Dovecot's mailbox settings, conf/dovecot-omamori.conf). */
static int omamori_quarantine_create(struct mail_user *user, const char *name,
				     const char **error_r)
{
	struct mail_namespace *ns = mail_namespace_find(user->namespaces, name);
	struct mailbox *box = mailbox_alloc(ns->list, name, 0);
	enum mail_error error;
	int ret = 0;

	if (mailbox_create(box, NULL, FALSE) < 0) {
		*error_r = mailbox_get_last_error(box, &error);
		if (error != MAIL_ERROR_EXISTS)
			ret = -1;
	}
	mailbox_free(&box);
	return ret;
}

/* A new id for a quarantined message: random, lower-case hex. */
static void omamori_quarantine_id_new(struct omamori_delivery *d)
{
	unsigned char bytes[OM_QUARANTINE_ID_LEN / 2];
	const char *hex;

	random_fill(bytes, sizeof(bytes));
	hex = binary_to_hex(bytes, sizeof(bytes));
	i_assert(strlen(hex) == OM_QUARANTINE_ID_LEN);
	memcpy(d->quarantine_id, hex, OM_QUARANTINE_ID_LEN + 1);
	d->deco.quarantine_id = d->quarantine_id;
}

/* A header of the original decoded to UTF-8 (RFC 2047), made safe for the
   row; "" when missing or unreadable (the row is still worth having). */
static const char *omamori_quarantine_header(struct omamori_delivery *d,
					     struct mail *mail, const char *name)
{
	const char *value;
	int ret;

	ret = mail_get_first_header_utf8(mail, name, &value);
	if (ret < 0) {
		e_warning(d->ctx->event, "omamori: cannot read %s: %s", name,
			  mailbox_get_last_internal_error(mail->box, NULL));
	}
	return ret <= 0 ? "" : omamori_row_text(value);
}

/* The address of the From: header as Dovecot parses it (RFC 5322: the
   first address, comments and display names apart), made safe for the
   row; "" when there is none or it does not parse.  This, not a guess from
   the decoded text, is what "release and allow" puts on the allow list. */
static const char *omamori_quarantine_from_address(struct omamori_delivery *d,
						   struct mail *mail)
{
	struct message_address *addr;
	const char *value;

	if (mail_get_first_header(mail, "From", &value) <= 0)
		return "";
	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)value, strlen(value), 1,
				     0);
	if (addr == NULL || addr->invalid_syntax || addr->mailbox == NULL ||
	    addr->mailbox[0] == '\0' || addr->domain == NULL || addr->domain[0] == '\0') {
		e_debug(d->ctx->event, "omamori: From: has no address to record");
		return "";
	}
	return omamori_row_text(t_strdup_printf("%s@%s", addr->mailbox, addr->domain));
}

/* What the store's row says of the original (mail): From, Subject, size. */
static void omamori_quarantine_describe(struct omamori_delivery *d,
					struct mail *mail)
{
	d->from = omamori_quarantine_header(d, mail, "From");
	d->from_address = omamori_quarantine_from_address(d, mail);
	d->subject = omamori_quarantine_header(d, mail, "Subject");
	d->message_id = omamori_quarantine_header(d, mail, "Message-ID");
	if (mail_get_physical_size(mail, &d->size) < 0) {
		e_warning(d->ctx->event, "omamori: cannot read the message size: %s",
			  mailbox_get_last_internal_error(mail->box, NULL));
		d->size = 0;
	}
}

/* The message trace's step (doc/trace.md): saved into Quarantine, with
   the id a release names.  Written with the quarantine row (this path
   writes the store anyway); a failure is logged only. */
static void omamori_quarantine_trace(struct omamori_delivery *d,
				     const struct om_store_quarantined *q)
{
	struct om_store_event ev;
	char *error = NULL;

	i_zero(&ev);
	ev.at = q->received;
	ev.domain = om_store_event_domain(q->mailbox);
	ev.direction = OM_DIRECTION_IN;
	ev.sender = q->sender;
	ev.recipient = q->mailbox;
	ev.message_id = q->message_id;
	ev.subject = q->subject;
	ev.step = "quarantine";
	ev.result = d->config->quarantine_mailbox;
	ev.detail = t_strdup_printf("id %s", q->id);
	if (om_store_events_add(d->store, &ev, 1, &error) < 0) {
		e_warning(d->ctx->event, "omamori: trace event not recorded: %s",
			  str_sanitize(error, 300));
		free(error);
	}
}

/* Records the message just saved into Quarantine in the store, where
   digests and omamori-web find it without opening the mailbox.  A failure
   is logged only: the mail is safe in Quarantine, and failing the delivery
   now would put it there twice on Postfix's retry. */
static void omamori_quarantine_record(struct omamori_delivery *d)
{
	struct mail_deliver_context *ctx = d->ctx;
	struct om_store_quarantined q;
	char *error = NULL;

	i_zero(&q);
	q.id = d->quarantine_id;
	q.mailbox = d->mailbox;
	q.received = (long long)ioloop_time;
	q.sender = ctx->mail_from == NULL || smtp_address_isnull(ctx->mail_from) ?
		"" : omamori_row_text(smtp_address_encode(ctx->mail_from));
	q.from = d->from != NULL ? d->from : "";
	q.from_address = d->from_address != NULL ? d->from_address : "";
	q.subject = d->subject != NULL ? d->subject : "";
	q.score = d->score != NULL ? d->score : "";
	q.reasons = d->reasons != NULL ? d->reasons : "";
	q.size = (long long)d->size;
	q.digest = 0;
	q.admin_only = d->admin_only ? 1 : 0;
	q.message_id = d->message_id != NULL ? d->message_id : "";
	if (om_store_quarantine_add(d->store, &q, &error) < 0) {
		e_error(ctx->event, "omamori: quarantined message %s not recorded "
			"in the store (digests and omamori-web will not list it): %s",
			d->quarantine_id, str_sanitize(error, 300));
		free(error);
		return;
	}
	e_info(ctx->event, "omamori: quarantined as %s%s", d->quarantine_id,
	       d->admin_only ? " (admin-only)" : "");
	omamori_quarantine_trace(d, &q);
}

/* Saves the delivery's source into the Quarantine folder, past Sieve.  A
   failed save is the mail store's error, which Dovecot reports itself
   (quota, disk full): not a scanner failure. */
static int omamori_save_quarantine(struct omamori_delivery *d,
				   struct omamori_user *ouser,
				   struct mail_storage **storage_r)
{
	struct mail_deliver_context *ctx = d->ctx;
	const char *name = d->config->quarantine_mailbox, *error;
	bool substituted = d->deliver_data != NULL || d->wrap_head.len > 0;
	int ret;

	if (omamori_quarantine_create(ctx->rcpt_user, name, &error) < 0) {
		e_error(ctx->event, "omamori: cannot create %s: %s: message kept "
			"for a retry", name, error);
		ctx->tempfail_error = OMAMORI_LOCAL_TEMPFAIL_TEXT;
		return -1;
	}
	/* a substituted source carries our headers already */
	ouser->save_decoration = substituted ? NULL : &d->deco;
	ctx->save_dest_mail = FALSE;
	ret = mail_deliver_save(ctx, name, 0, NULL, storage_r);
	ouser->save_decoration = NULL;
	if (ret < 0) {
		e_error(ctx->event, "omamori: cannot save into %s: message kept "
			"for a retry", name);
		return -1;
	}
	/* the message is in: it counts as delivered for LMTP */
	ctx->tried_default_save = TRUE;
	omamori_quarantine_record(d);
	omamori_quarantine_expire(ctx->rcpt_user, d->store, d->config);
	return 1;
}

/* Quarantines the original (spam), or the rewritten or wrapped message (a
   message omamori could not scan whole).  Either gets a new
   X-Omamori-Quarantine-Id: the original as it is saved (save_begin), a
   substituted source as it is built (omamori_source_stream), so the id
   goes on after the sender's X-Omamori-* headers are dropped and never
   through a second filter that would drop it. */
static int omamori_deliver_quarantine(struct omamori_delivery *d,
				      struct omamori_user *ouser,
				      struct mail_storage **storage_r)
{
	long long revision;
	char *error = NULL;
	int ret;

	/* the row that digests and omamori-web list it by is written after
	   the save, and a failure then is logged only (a retry would save it
	   twice): a store that cannot be read now (PostgreSQL away) defers
	   the delivery instead, so the retry saves and records it */
	if (d->store == NULL)
		error = om_strdup("the store cannot be opened");
	if (d->store == NULL ||
	    om_store_revision(d->store, "config", &revision, &error) < 0) {
		ret = omamori_tempfail(d->ctx, t_strdup_printf(
			"Quarantine's record cannot be written: %s", error));
		free(error);
		return ret;
	}
	omamori_quarantine_id_new(d);
	omamori_quarantine_describe(d, d->ctx->src_mail);
	if (d->deliver_data != NULL || d->wrap_head.len > 0)
		return omamori_with_substituted(d, ouser, omamori_save_quarantine,
						storage_r);
	return omamori_save_quarantine(d, ouser, storage_r);
}

/* The store cannot be read (*error_r, NULL when the facts cache found it
   away) and mailbox is not in the cache: scand's snapshot of the
   settings answers (issue 21), else the delivery waits for the store.
   0, or -1 with *error_r (allocated). */
static int omamori_checks_from_scand(struct mail_deliver_context *ctx,
				     const struct om_config *config,
				     const char *mailbox, int *checks_r,
				     char **error_r)
{
	const char *error;

	if (omamori_scand_client_subscribed(config, mailbox, checks_r, &error) < 0) {
		if (*error_r == NULL)
			*error_r = om_strdup("the store cannot be read");
		e_warning(ctx->event, "omamori: the store cannot be read and scand "
			  "did not answer the subscriptions of %s: %s",
			  str_sanitize(mailbox, 200), str_sanitize(error, 300));
		return -1;
	}
	if (!omamori_deliver.checks_from_scand_logged) {
		e_warning(ctx->event, "omamori: the store cannot be read: the "
			  "subscriptions of %s from scand",
			  str_sanitize(mailbox, 200));
		omamori_deliver.checks_from_scand_logged = TRUE;
	}
	om_free(error_r);
	return 0;
}

/* The checks the mailbox's subscriptions ask for (0: none), from the
   cache or the store.  0 or -1 (nothing kept). */
static int omamori_checks(struct mail_deliver_context *ctx,
			  const struct om_config *config,
			  struct om_store *store, const char *mailbox,
			  int *checks_r, char **error_r)
{
	struct omamori_facts_cache *fc = &omamori_deliver.facts;
	const struct omamori_facts *f;
	enum om_sub_state virus, spam;
	const char *source;

	omamori_facts_check(fc, store, ctx->event);
	f = omamori_facts_find(fc, mailbox);
	if (f != NULL) {
		*checks_r = f->checks;
		return 0;
	}
	if (!fc->unreachable && store != NULL &&
	    om_settings_subscription(store, mailbox, OM_FEATURE_INBOUND_VIRUS,
				     &virus, &source, error_r) == 0 &&
	    om_settings_subscription(store, mailbox, OM_FEATURE_SPAM,
				     &spam, &source, error_r) == 0) {
		/* off or paused: that check does not run */
		*checks_r = (virus == OM_SUB_ON ? OM_CHECK_VIRUS : 0) |
			(spam == OM_SUB_ON ? OM_CHECK_SPAM : 0);
	} else if (omamori_checks_from_scand(ctx, config, mailbox, checks_r,
					     error_r) < 0)
		return -1;
	omamori_facts_add(fc, mailbox, *checks_r);
	return 0;
}

/* The original goes on with only headers added (no rewritten message, no
   sender's X-Omamori-* header to remove, not spam whose decorations Sieve
   should see): Sieve may see the original as it is. */
static bool omamori_header_only(const struct omamori_delivery *d)
{
	return d->deliver_data == NULL && d->message->used > 0 && !d->spam &&
		!omamori_has_own_headers(d->message->data, d->message->used) &&
		!(d->deco.strip_spam_headers &&
		  omamori_has_spam_headers(d->message->data, d->message->used));
}

static int omamori_deliver_mail(struct mail_deliver_context *ctx,
				struct mail_storage **storage_r)
{
	struct omamori_user *ouser = omamori_user_get(ctx->rcpt_user);
	struct omamori_delivery d;
	const char *error;
	char *serror = NULL;
	bool header_only;
	int ret;

	if (ouser == NULL)
		return omamori_deliver.next_deliver_mail != NULL ?
			omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
	i_zero(&d);
	d.ctx = ctx;
	d.mailbox = ctx->rcpt_user->username;
	if (omamori_context_get(ouser, &d.config, &d.store, &error) < 0) {
		/* the store cannot be opened (a process started while
		   PostgreSQL is away, issue 21): with the configuration alone,
		   omamori_checks asks scand, and whatever needs the store
		   defers the delivery (d.store NULL) */
		const char *cerror;

		if (omamori_context_get(ouser, &d.config, NULL, &cerror) < 0)
			return omamori_tempfail(ctx, error);
		d.store = NULL;
	}
	if (omamori_checks(ctx, d.config, d.store, d.mailbox, &d.checks,
			   &serror) < 0) {
		ret = omamori_tempfail(ctx, t_strdup(serror));
		free(serror);
		return ret;
	}
	if (d.checks == 0) {
		/* nothing subscribed: no scan, the message goes on untouched */
		return omamori_deliver.next_deliver_mail != NULL ?
			omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
	}
	d.message = buffer_create_dynamic(default_pool, 64 * 1024);
	om_buf_init(&d.wrap_head);
	om_buf_init(&d.wrap_tail);
	ret = omamori_decide(&d);
	header_only = omamori_header_only(&d);
	buffer_free(&d.message);
	if (ret == 0 && d.discard) {
		/* an inbound audit rule's delete: nothing saved, LMTP answers
		   250 as for any delivery (the sender learns nothing) */
		e_info(ctx->event, "omamori: not delivered (discarded by scand: %s)",
		       str_sanitize(omamori_deliver.cache.result.reason != NULL ?
				    omamori_deliver.cache.result.reason : "-", 200));
		ctx->tried_default_save = TRUE;
		ret = 1;
	} else if (ret == 0 && d.quarantine)
		ret = omamori_deliver_quarantine(&d, ouser, storage_r);
	else if (ret == 0 && header_only)
		ret = omamori_deliver_header_only(&d, ouser, storage_r);
	else if (ret == 0)
		ret = omamori_deliver_substituted(&d, ouser, storage_r);
	om_buf_free(&d.wrap_head);
	om_buf_free(&d.wrap_tail);
	return ret;
}

void omamori_deliver_plugin_init(struct module *module ATTR_UNUSED)
{
	omamori_deliver.next_deliver_mail =
		mail_deliver_hook_set(omamori_deliver_mail);
}

void omamori_deliver_plugin_deinit(void)
{
	(void)mail_deliver_hook_set(omamori_deliver.next_deliver_mail);
	omamori_cache_clear(&omamori_deliver.cache);
	omamori_facts_clear(&omamori_deliver.facts);
}
