/* omamori-deliver-plugin.c - omamori at delivery time (lda and lmtp).
 *
 * A deliver_mail hook numbered above Sieve's (lib90), so it wraps Sieve:
 * for a mailbox whose inbound-virus subscription is on, it sends the message
 * to omamori-scand once per message (not once per recipient), then hands
 * Sieve the message to deliver - the original, or the rewritten one scand
 * returned - with incoming X-Omamori-* headers removed (nobody outside can
 * forge a verdict) and X-Omamori-Virus added.  If scand cannot answer, the
 * delivery fails temporarily (LMTP 451), Postfix keeps the message and
 * retries: nothing is lost and nothing unscanned slips through, unless the
 * administrator chose scand_failure_action = accept.
 */
#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "istream.h"
#include "istream-header-filter.h"
#include "istream-seekable.h"
#include "message-header-parser.h"
#include "mail-storage-private.h"
#include "mail-deliver.h"
#include "mail-user.h"
#include "raw-storage.h"
#include "sha2.h"
#include "smtp-address.h"
#include "smtp-submit.h"
#include "ostream.h"
#include "str.h"

#include "om-config.h"
#include "proto.h"
#include "settings.h"
#include "store.h"
#include "util.h"
#include "omamori-plugin.h"

#define OMAMORI_HEADER_PREFIX "X-Omamori-"
#define OMAMORI_VERDICT_HEADER "X-Omamori-Virus"
#define OMAMORI_TEMPFAIL_TEXT "Virus scanner unavailable, try again later"
/* what the substituted message may hold in memory before it spills to a
   temporary file, as Dovecot's own LMTP does */
#define OMAMORI_MAX_MEMORY_BUFFER (1024 * 1024)

/* The last scan of this process, reused for the other recipients of the
   same message in the same session (and only for a byte-identical message
   and the same recipient domain, whose settings shaped the answer). */
struct omamori_scan_cache {
	struct mail_deliver_session *session;
	char *domain;
	unsigned char digest[SHA256_RESULTLEN];
	struct om_scan_result result;
	bool valid;
};

struct omamori_deliver_module {
	deliver_mail_func_t *next_deliver_mail;
	struct omamori_scan_cache cache;
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
	const char *mailbox;
	buffer_t *message;		/* the original, read whole */
	const char *verdict_header;	/* value of X-Omamori-Virus */
	const void *deliver_data;	/* the rewritten message, or NULL to
					   deliver the original */
	size_t deliver_size;
	/* the original goes on, only the verdict header added: no sender
	   header to remove, so Sieve may see the original as it is */
	bool header_only;
};

static void omamori_cache_clear(struct omamori_scan_cache *cache)
{
	om_scan_result_free(&cache->result);
	om_free(&cache->domain);
	cache->session = NULL;
	cache->valid = FALSE;
}

/* Reads the whole message, up to max bytes.  1 read, 0 too large, -1 error. */
static int omamori_read_message(struct mail *mail, size_t max,
				buffer_t *buf, const char **error_r)
{
	struct istream *input;
	const unsigned char *data;
	uoff_t psize;
	size_t size;
	int ret;

	if (mail_get_physical_size(mail, &psize) == 0) {
		if (psize > max)
			return 0;
		/* one allocation of the right size, not a doubling buffer */
		buffer_set_used_size(buf, 0);
		buffer_append_zero(buf, (size_t)psize + 1);
		buffer_set_used_size(buf, 0);
	}
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	i_stream_seek(input, 0);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (buf->used + size > max)
			return 0;
		buffer_append(buf, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 1;
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
	if (strcmp(res->verdict, "virus") == 0)
		return omamori_header_value("infected",
					    res->virus != NULL ? res->virus : "unknown");
	if (strcmp(res->verdict, "unscanned") == 0)
		return omamori_header_value("unscanned",
					    res->reason != NULL ? res->reason : "error");
	return "clean";
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
			res->admin_address, error);
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
			res->admin_address, error);
	else
		e_info(ctx->event, "omamori: admin copy of the report sent to %s",
		       res->admin_address);
	smtp_submit_deinit(&subm);
}

/* Asks scand, or takes the cached answer for this message.  0 or -1. */
static int omamori_scan(struct omamori_delivery *d, const char **error_r)
{
	struct omamori_scan_cache *cache = &omamori_deliver.cache;
	struct mail_deliver_context *ctx = d->ctx;
	const char *domain = om_settings_domain_of(d->mailbox);
	unsigned char digest[SHA256_RESULTLEN];
	struct om_scan_request req;
	char *error = NULL;

	sha256_get_digest(d->message->data, d->message->used, digest);
	if (cache->valid && cache->session == ctx->session &&
	    strcmp(cache->domain, domain) == 0 &&
	    memcmp(cache->digest, digest, sizeof(digest)) == 0)
		return 0;
	omamori_cache_clear(cache);
	i_zero(&req);
	req.session_id = (char *)(ctx->session_id != NULL ? ctx->session_id : "-");
	req.mailbox = (char *)d->mailbox;
	req.direction = (char *)"in";
	req.mail_from = (char *)(ctx->mail_from == NULL ? "" :
				 smtp_address_encode(ctx->mail_from));
	req.message = d->message->data;
	req.message_len = d->message->used;
	if (om_scand_scan(d->config->scand_socket, (int)d->config->scan_timeout_ms,
			  &req, &cache->result, &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	cache->session = ctx->session;
	cache->domain = om_strdup(domain);
	memcpy(cache->digest, digest, sizeof(digest));
	cache->valid = TRUE;
	if (cache->result.admin_address != NULL && cache->result.admin_message != NULL)
		omamori_send_admin_copy(ctx, &cache->result);
	return 0;
}


static int omamori_tempfail(struct mail_deliver_context *ctx, const char *why)
{
	e_error(ctx->event, "omamori: %s: message kept for a retry", why);
	ctx->tempfail_error = OMAMORI_TEMPFAIL_TEXT;
	return -1;
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
	filtered = omamori_verdict_stream(data, d->verdict_header);
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
   nothing saved the message - now, while our message is the source. */
static int omamori_deliver_next(struct mail_deliver_context *ctx,
				struct mail_storage **storage_r)
{
	int ret;

	ret = omamori_deliver.next_deliver_mail != NULL ?
		omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
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

/* Delivers d->deliver_data through Sieve (or the default save) in place of
   the original message. */
static int omamori_deliver_substituted(struct omamori_delivery *d,
				       struct omamori_user *ouser,
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
		ctx->tempfail_error = OMAMORI_TEMPFAIL_TEXT;
		return -1;
	}
	i_stream_unref(&input);
	t = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	mail_set_seq(mail, 1);
	ctx->src_mail = mail;
	/* later recipients must start from the original, not our copy */
	ctx->save_dest_mail = FALSE;
	ret = omamori_deliver_next(ctx, storage_r);
	ctx->src_mail = orig;
	mail_free(&mail);
	mailbox_transaction_rollback(&t);
	mailbox_free(&box);
	return ret;
}


/* Decides what to deliver for a subscribed mailbox.  0 go on, -1 tempfail
   (ctx->tempfail_error set). */
static int omamori_decide(struct omamori_delivery *d)
{
	struct mail_deliver_context *ctx = d->ctx;
	const struct om_scan_result *res = &omamori_deliver.cache.result;
	const char *error;
	int ret;

	ret = omamori_read_message(ctx->src_mail, (size_t)d->config->scan_max_size,
				   d->message, &error);
	if (ret < 0)
		return omamori_tempfail(ctx, error);
	if (ret == 0) {
		if (d->config->scan_limit_action == OM_LIMIT_TEMPFAIL)
			return omamori_tempfail(ctx, "message over scan_max_size");
		e_warning(ctx->event, "omamori: message over scan_max_size (%ld): "
			  "delivered unscanned", d->config->scan_max_size);
		d->verdict_header = "unscanned (limit: message size)";
	} else if (omamori_scan(d, &error) < 0) {
		if (d->config->scand_failure_action != OM_FAILURE_ACCEPT)
			return omamori_tempfail(ctx, error);
		e_warning(ctx->event, "omamori: %s: delivered unscanned "
			  "(scand_failure_action = accept)", error);
		d->verdict_header = "unscanned (scanner unavailable)";
	} else if (strcmp(res->action, "tempfail") == 0) {
		return omamori_tempfail(ctx, t_strdup_printf(
			"scan limit (%s)", res->reason != NULL ? res->reason : "?"));
	} else {
		d->verdict_header = omamori_verdict_text(res);
		if (res->message != NULL) {
			d->deliver_data = res->message;
			d->deliver_size = res->message_len;
		}
		e_info(ctx->event, "omamori: verdict=%s action=%s",
		       res->verdict, res->action);
	}
	return 0;
}

/* 1 if the header block of msg has an X-Omamori-* header (a sender's). */
static bool omamori_has_own_headers(const unsigned char *msg, size_t size)
{
	const unsigned char *p = msg, *end = msg + size;
	size_t plen = strlen(OMAMORI_HEADER_PREFIX);

	while (p < end) {
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return FALSE;	/* end of the header */
		if ((size_t)(end - p) > plen &&
		    strncasecmp((const char *)p, OMAMORI_HEADER_PREFIX, plen) == 0)
			return TRUE;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p == NULL)
			return FALSE;
		p++;
	}
	return FALSE;
}

/* Delivers the original through Sieve; every save of the recipient adds the
   verdict header as it writes (omamori-plugin.c, save_begin). */
static int omamori_deliver_header_only(struct omamori_delivery *d,
				       struct omamori_user *ouser,
				       struct mail_storage **storage_r)
{
	struct mail_deliver_context *ctx = d->ctx;
	int ret;

	ouser->save_verdict = d->verdict_header;
	/* later recipients must start from the original, not our copy */
	ctx->save_dest_mail = FALSE;
	ret = omamori_deliver_next(ctx, storage_r);
	ouser->save_verdict = NULL;
	return ret;
}

static int omamori_deliver_mail(struct mail_deliver_context *ctx,
				struct mail_storage **storage_r)
{
	struct omamori_user *ouser = omamori_user_get(ctx->rcpt_user);
	struct omamori_delivery d;
	enum om_sub_state state;
	const char *error, *source;
	struct om_store *store;
	char *serror = NULL;
	int ret;

	if (ouser == NULL)
		return omamori_deliver.next_deliver_mail != NULL ?
			omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
	i_zero(&d);
	d.ctx = ctx;
	d.mailbox = ctx->rcpt_user->username;
	if (omamori_context_get(ouser, &d.config, &store, &error) < 0)
		return omamori_tempfail(ctx, error);
	if (om_settings_subscription(store, d.mailbox, OM_FEATURE_INBOUND_VIRUS,
				     &state, &source, &serror) < 0) {
		ret = omamori_tempfail(ctx, t_strdup(serror));
		free(serror);
		return ret;
	}
	if (state != OM_SUB_ON) {
		/* off or paused: no scan, the message goes on untouched */
		return omamori_deliver.next_deliver_mail != NULL ?
			omamori_deliver.next_deliver_mail(ctx, storage_r) : 0;
	}
	d.message = buffer_create_dynamic(default_pool, 64 * 1024);
	ret = omamori_decide(&d);
	d.header_only = ret == 0 && d.deliver_data == NULL && d.message->used > 0 &&
		!omamori_has_own_headers(d.message->data, d.message->used);
	buffer_free(&d.message);
	if (ret == 0 && d.header_only)
		ret = omamori_deliver_header_only(&d, ouser, storage_r);
	else if (ret == 0)
		ret = omamori_deliver_substituted(&d, ouser, storage_r);
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
}
