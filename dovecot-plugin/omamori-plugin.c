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

#include <sys/stat.h>

#include "om-config.h"
#include "store.h"
#include "util.h"
#include "omamori-plugin.h"

#define OMAMORI_USER_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, omamori_user_module)

static MODULE_CONTEXT_DEFINE_INIT(omamori_user_module,
				  &mail_user_module_register);

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

static struct mail_storage_hooks omamori_mail_storage_hooks = {
	.mail_user_created = omamori_mail_user_created,
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
