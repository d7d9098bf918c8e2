/* ext-omamori-verdict.c - where vnd.omamori's answers come from.
 *
 * The verdict of a delivery is the one omamori's delivery plugin got from
 * scand for this very delivery, through the interface of
 * dovecot-plugin/omamori-verdict.h (lib95_omamori_plugin.so, loaded in
 * lmtp/lda and imap, not in sieve-test or managesieve: hence the weak
 * reference); headers in the message, which a sender could forge, are
 * never read.  Elsewhere (sieve-test, imapsieve) the message is sent to
 * scand for the user, once per message, by the same client the plugins
 * use (omamori-scand-client.h).
 */
#include "lib.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "smtp-address.h"
#include "str-sanitize.h"

#include "sieve-common.h"
#include "sieve-execute.h"
#include "sieve-interpreter.h"
#include "sieve-message.h"
#include "sieve-runtime.h"

#include "ext-omamori.h"
#include "lib/om-config.h"
#include "proto/proto.h"
#include "store/settings.h"
#include "omamori-read.h"
#include "omamori-scand-client.h"
#include "omamori-verdict.h"

#include <math.h>

/* NULL where lib95_omamori_plugin.so is not loaded */
#pragma weak omamori_verdict_get

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
	pool_t pool = sieve_message_context_pool(renv->msgctx);
	const struct om_config *config;
	struct omamori_scand_ask ask;
	struct om_scan_result res;
	struct om_store *store;
	const char *error;
	int ret;

	if (ext_omamori_context_get(ext, &config, &store, &error) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", error);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	if (mail == NULL) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: cannot read the message");
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	i_zero(&ask);
	ask.session_id = "sieve";
	ask.mailbox = ext_omamori_user(renv);
	ask.mail_from = sender == NULL ? NULL : smtp_address_encode(sender);
	ask.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM;
	ret = omamori_scand_client_scan_mail(config, &ask, mail, &res, &error);
	if (ret < 0) {
		/* scand's error may quote the user or the message */
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s",
				    str_sanitize(error, 300));
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	if (ret == 0) {
		/* over the scan limit: what a delivery would call it */
		msg->verdict = "unscanned";
		msg->score = NULL;
		return SIEVE_EXEC_OK;
	}
	/* the Sieve test's word: an edge, where the verdict becomes text */
	msg->verdict = om_verdict_name(res.verdict);
	msg->score = p_strdup(pool, ext_omamori_score_text(res.spam_score));
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
	struct ext_omamori_message *msg;
	const char *verdict, *score;
	int ret = SIEVE_EXEC_OK;

	if (cached == NULL) {
		msg = p_new(sieve_message_context_pool(renv->msgctx),
			    struct ext_omamori_message, 1);
		if (omamori_verdict_get != NULL && senv != NULL &&
		    senv->user != NULL &&
		    omamori_verdict_get(senv->user, &verdict, &score) > 0) {
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

	if (sender != NULL && sender->localpart != NULL && sender->domain != NULL)
		return smtp_address_encode(sender);
	return mail == NULL ? NULL : omamori_read_from(mail);
}
