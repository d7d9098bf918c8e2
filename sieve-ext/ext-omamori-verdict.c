/* ext-omamori-verdict.c - where vnd.omamori's answers come from.
 *
 * The verdict of a delivery is the one omamori's delivery plugin got from
 * scand for this very delivery (found with dlsym: the plugin is loaded in
 * lmtp/lda, not in sieve-test or imap); headers in the message, which a
 * sender could forge, are never read.  Elsewhere (sieve-test, imapsieve)
 * the message is sent to scand for the user, once per message.
 */
#include "lib.h"
#include "buffer.h"
#include "istream.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "message-address.h"
#include "smtp-address.h"

#include "sieve-common.h"
#include "sieve-execute.h"
#include "sieve-interpreter.h"
#include "sieve-message.h"
#include "sieve-runtime.h"

#include "ext-omamori.h"
#include "lib/om-config.h"
#include "omamori-stream.h"
#include "proto/proto.h"
#include "store/settings.h"
#include "lib/util.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>

typedef int omamori_deliver_current_fn(struct mail_user *user,
				       const char **verdict_r,
				       const char **score_r);

struct ext_omamori_message {
	const char *verdict;
	const char *score;	/* integer text, or NULL */
};

const char *ext_omamori_user(const struct sieve_runtime_env *renv)
{
	const struct sieve_script_env *senv = renv->exec_env->scriptenv;

	return senv != NULL && senv->user != NULL ? senv->user->username : "";
}

/* The score as Sieve compares it (i;ascii-numeric knows no sign or
   decimals): rounded down, and 0 below zero. */
static const char *ext_omamori_score_text(const char *score)
{
	double d, whole;

	if (score == NULL || om_settings_decimal(score, &d) < 0)
		return NULL;
	whole = floor(d);
	return t_strdup_printf("%ld", d < 0 ? 0L : (long)whole);
}

/* Asks scand about the message for the user. */
static int ext_omamori_scan(const struct sieve_runtime_env *renv,
			    const struct sieve_extension *ext,
			    struct ext_omamori_message *msg)
{
	const struct smtp_address *sender = sieve_message_get_sender(renv->msgctx);
	struct mail *mail = sieve_message_get_mail(renv->msgctx);
	const struct om_config *config;
	struct om_scan_request req;
	struct om_scan_result res;
	struct om_store *store;
	struct istream *input;
	const char *error;
	buffer_t *data;
	char *serror = NULL;
	int ret;

	if (ext_omamori_context_get(ext, &config, &store, &error) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", error);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	if (mail == NULL || mail_get_stream(mail, NULL, NULL, &input) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: cannot read the message");
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	data = t_buffer_create(64 * 1024);
	ret = omamori_read_stream(input, (size_t)config->scan_max_size, data, &error);
	if (ret <= 0) {
		/* over the scan limit: what a delivery would call it */
		msg->verdict = "unscanned";
		msg->score = NULL;
		return ret < 0 ? SIEVE_EXEC_TEMP_FAILURE : SIEVE_EXEC_OK;
	}
	i_zero(&req);
	req.session_id = (char *)"sieve";
	req.mailbox = (char *)ext_omamori_user(renv);
	req.direction = OM_DIRECTION_IN;
	req.mail_from = (char *)(sender == NULL ? "" : smtp_address_encode(sender));
	req.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM;
	req.message = data->data;
	req.message_len = data->used;
	if (om_scand_scan(config->scand_socket, (int)config->scan_timeout_ms, &req,
			  &res, &serror) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", serror);
		free(serror);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	/* the Sieve test's word: an edge, where the verdict becomes text */
	msg->verdict = om_verdict_name(res.verdict);
	msg->score = p_strdup(sieve_message_context_pool(renv->msgctx),
			      ext_omamori_score_text(res.spam_score));
	om_scan_result_free(&res);
	return SIEVE_EXEC_OK;
}

int ext_omamori_verdict(const struct sieve_runtime_env *renv,
			const struct sieve_extension *ext,
			const char **verdict_r, const char **score_r)
{
	const struct ext_omamori_message *cached =
		sieve_message_context_extension_get(renv->msgctx, ext);
	const struct sieve_script_env *senv = renv->exec_env->scriptenv;
	omamori_deliver_current_fn *current;
	struct ext_omamori_message *msg;
	const char *verdict, *score;
	int ret = SIEVE_EXEC_OK;

	if (cached == NULL) {
		msg = p_new(sieve_message_context_pool(renv->msgctx),
			    struct ext_omamori_message, 1);
		current = (omamori_deliver_current_fn *)dlsym(RTLD_DEFAULT,
							      "omamori_deliver_current");
		if (current != NULL && senv != NULL && senv->user != NULL &&
		    current(senv->user, &verdict, &score) > 0) {
			msg->verdict = p_strdup(sieve_message_context_pool(renv->msgctx),
						verdict);
			msg->score = p_strdup(sieve_message_context_pool(renv->msgctx),
					      ext_omamori_score_text(score));
		} else {
			ret = ext_omamori_scan(renv, ext, msg);
		}
		if (ret != SIEVE_EXEC_OK)
			return ret;
		sieve_message_context_extension_set(renv->msgctx, ext, msg);
		cached = msg;
	}
	*verdict_r = cached->verdict;
	*score_r = cached->score;
	return SIEVE_EXEC_OK;
}

const char *ext_omamori_sender(const struct sieve_runtime_env *renv)
{
	const struct smtp_address *sender = sieve_message_get_sender(renv->msgctx);
	struct mail *mail = sieve_message_get_mail(renv->msgctx);
	struct message_address *addr;
	const char *from;

	if (sender != NULL && sender->localpart != NULL && sender->domain != NULL)
		return smtp_address_encode(sender);
	if (mail == NULL || mail_get_first_header(mail, "From", &from) <= 0)
		return NULL;
	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)from, strlen(from), 1, 0);
	if (addr == NULL || addr->mailbox == NULL || addr->domain == NULL ||
	    *addr->mailbox == '\0' || *addr->domain == '\0')
		return NULL;
	return t_strdup_printf("%s@%s", addr->mailbox, addr->domain);
}
