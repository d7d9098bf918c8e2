/* omamori-plugin.c - the omamori Dovecot mail plugin (imap and lmtp).
 *
 * Holds what every omamori feature inside Dovecot needs: the per-user
 * settings (plugin { omamori_config = ... }, or a userdb field of that
 * name), the process's omamori.conf and store handle, and the raw mail user
 * through which the delivery plugin hands Sieve a rewritten message.  It is
 * written against Dovecot 2.3.19's headers.
 */
#include "lib.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"
#include "mail-storage-private.h"
#include "raw-storage.h"
#include "module-context.h"
#include "istream.h"
#include "istream-header-filter.h"
#include "message-header-parser.h"

#include <sys/stat.h>

#include "om-config.h"
#include "store.h"
#include "util.h"
#include "omamori-plugin.h"

#define OMAMORI_USER_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, omamori_user_module)

#define OMAMORI_MAILBOX_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, omamori_storage_module)
#define OMAMORI_HEADER_PREFIX "X-Omamori-"

static MODULE_CONTEXT_DEFINE_INIT(omamori_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(omamori_storage_module,
				  &mail_storage_module_register);

/* Process-wide: one configuration and one store handle for all the users a
   delivery or IMAP process serves. */
struct omamori_process {
	char *config_path;
	struct om_config *config;
	struct om_store *store;
	time_t config_mtime;
};

static struct omamori_process omamori_process;

const char *omamori_plugin_version = DOVECOT_ABI_VERSION;

static void omamori_process_reset(void)
{
	om_store_close(&omamori_process.store);
	om_config_free(&omamori_process.config);
	om_free(&omamori_process.config_path);
	omamori_process.config_mtime = 0;
}

static int omamori_process_load(const char *path, const char **error_r)
{
	char *error = NULL;
	struct stat st;

	if (stat(path, &st) < 0) {
		*error_r = t_strdup_printf("stat(%s) failed: %m", path);
		return -1;
	}
	if (omamori_process.config != NULL &&
	    strcmp(omamori_process.config_path, path) == 0 &&
	    omamori_process.config_mtime == st.st_mtime)
		return 0;
	omamori_process_reset();
	if (om_config_load(path, &omamori_process.config, &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	omamori_process.config_path = om_strdup(path);
	omamori_process.config_mtime = st.st_mtime;
	return 0;
}

int omamori_context_get(struct omamori_user *ouser,
			const struct om_config **config_r,
			struct om_store **store_r, const char **error_r)
{
	const struct om_config *config;
	char *error = NULL;

	if (omamori_process_load(ouser->config_path, error_r) < 0)
		return -1;
	config = omamori_process.config;
	if (omamori_process.store == NULL &&
	    om_store_open(config->store_path, 0, config->store_busy_timeout_ms,
			  &omamori_process.store, &error) < 0) {
		*error_r = t_strdup(error);
		free(error);
		return -1;
	}
	*config_r = config;
	*store_r = omamori_process.store;
	return 0;
}

struct omamori_user *omamori_user_get(struct mail_user *user)
{
	return MODULE_CONTEXT(user, omamori_user_module);
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

static void omamori_verdict_filter(struct header_filter_istream *input,
				   struct message_header_line *hdr,
				   bool *matched, char *verdict)
{
	const char *line;

	if (hdr == NULL)
		return;
	if (hdr->eoh) {
		line = t_strdup_printf("X-Omamori-Virus: %s\n", verdict);
		i_stream_header_filter_add(input, line, strlen(line));
		return;
	}
	if (strncasecmp(hdr->name, OMAMORI_HEADER_PREFIX,
			strlen(OMAMORI_HEADER_PREFIX)) == 0)
		*matched = TRUE;
}

struct istream *omamori_verdict_stream(struct istream *input,
				       const char *verdict)
{
	return i_stream_create_header_filter(input, HEADER_FILTER_EXCLUDE |
					     HEADER_FILTER_NO_CR |
					     HEADER_FILTER_ADD_MISSING_EOH,
					     NULL, 0, omamori_verdict_filter,
					     (char *)verdict);
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

	if (ouser == NULL || ouser->save_verdict == NULL)
		return mbox->super.save_begin(ctx, input);
	wrapped = omamori_verdict_stream(input, ouser->save_verdict);
	ret = mbox->super.save_begin(ctx, wrapped);
	i_stream_unref(&wrapped);
	return ret;
}

static void omamori_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	union mailbox_module_context *mbox;

	mbox = p_new(box->pool, union mailbox_module_context, 1);
	mbox->super = *v;
	box->vlast = &mbox->super;
	v->save_begin = omamori_save_begin;
	MODULE_CONTEXT_SET_SELF(box, omamori_storage_module, mbox);
}

static struct mail_storage_hooks omamori_mail_storage_hooks = {
	.mail_user_created = omamori_mail_user_created,
	.mailbox_allocated = omamori_mailbox_allocated,
};

void omamori_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &omamori_mail_storage_hooks);
}

void omamori_plugin_deinit(void)
{
	mail_storage_hooks_remove(&omamori_mail_storage_hooks);
	omamori_process_reset();
}
