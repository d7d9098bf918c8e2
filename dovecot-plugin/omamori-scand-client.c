/* omamori-scand-client.c - builds a request to omamori-scand from what a
 * Dovecot module knows (session, user, envelope sender, the message) and
 * sends it with proto's client (shared/proto).  The delivery plugin, the
 * learning in imap and the Sieve extension outside a delivery all go
 * through here, so a request carries the same fields whoever sends it.
 */
#include "lib.h"
#include "buffer.h"

#include "lib/om-config.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "omamori-read.h"
#include "omamori-scand-client.h"

#include <stdlib.h>

/* OM_CHECK_VIRUS, OM_CHECK_SPAM, or both (for neither or both). */
static int omamori_scand_client_check_bits(int checks)
{
	switch (checks) {
	case OM_CHECK_VIRUS:
	case OM_CHECK_SPAM:
		return checks;
	default:
		return OM_CHECK_VIRUS | OM_CHECK_SPAM;
	}
}

const char *omamori_scand_client_checks(int checks)
{
	return om_proto_checks_name(omamori_scand_client_check_bits(checks));
}

/* The request for ask and the message (pointers into ask and message:
   the request owns nothing). */
static void omamori_scand_client_request(const struct omamori_scand_ask *ask,
					 const void *message, size_t size,
					 struct om_scan_request *req_r)
{
	i_zero(req_r);
	req_r->session_id = (char *)(ask->session_id != NULL ? ask->session_id : "-");
	req_r->mailbox = (char *)ask->mailbox;
	req_r->direction = OM_DIRECTION_IN;
	req_r->mail_from = (char *)(ask->mail_from != NULL ? ask->mail_from : "");
	req_r->checks = omamori_scand_client_check_bits(ask->checks);
	req_r->message = message;
	req_r->message_len = size;
}

int omamori_scand_client_scan(const struct om_config *config,
			      const struct omamori_scand_ask *ask,
			      const void *message, size_t size,
			      struct om_scan_result *res_r,
			      const char **error_r)
{
	struct om_scan_request req;
	char *error = NULL;
	int ret;

	omamori_scand_client_request(ask, message, size, &req);
	ret = om_scand_scan(config->scand_socket, (int)config->scan_timeout_ms,
			    &req, res_r, &error);
	if (ret < 0) {
		*error_r = t_strdup(error);
		free(error);
	}
	return ret;
}

int omamori_scand_client_subscribed(const struct om_config *config,
				    const char *mailbox, int *checks_r,
				    const char **error_r)
{
	char *error = NULL;
	int ret;

	ret = om_scand_checks(config->scand_socket, (int)config->scan_timeout_ms,
			      mailbox, checks_r, &error);
	if (ret < 0) {
		*error_r = t_strdup(error);
		free(error);
	}
	return ret;
}

int omamori_scand_client_scan_mail(const struct om_config *config,
				   const struct omamori_scand_ask *ask,
				   struct mail *mail, struct om_scan_result *res_r,
				   const char **error_r)
{
	buffer_t *data = t_buffer_create(64 * 1024);
	int ret;

	ret = omamori_read_message(mail, (size_t)config->scan_max_size, data,
				   error_r);
	if (ret <= 0)
		return ret;
	ret = omamori_scand_client_scan(config, ask, data->data, data->used,
					res_r, error_r);
	return ret < 0 ? ret : 1;
}

int omamori_scand_client_learn_mail(const struct om_config *config,
				    const struct omamori_scand_ask *ask,
				    struct mail *mail, bool spam,
				    const char **error_r)
{
	buffer_t *data = t_buffer_create(64 * 1024);
	struct om_scan_request req;
	char *error = NULL;
	int ret;

	ret = omamori_read_message(mail, (size_t)config->scan_max_size, data,
				   error_r);
	if (ret <= 0)
		return ret;
	omamori_scand_client_request(ask, data->data, data->used, &req);
	req.checks = 0;
	req.learn = spam ? OM_LEARN_SPAM : OM_LEARN_HAM;
	if (om_scand_learn(config->scand_socket, (int)config->scan_timeout_ms,
			   &req, &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	return 1;
}
