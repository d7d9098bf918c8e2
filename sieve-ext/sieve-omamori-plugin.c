/* sieve-omamori-plugin.c - the Pigeonhole plugin that registers the
 * vnd.omamori extension, its tagged arguments, and the per-instance
 * context (omamori.conf and the store).
 *
 * sieve_plugins = sieve_omamori, then sieve_extensions = +vnd.omamori (or
 * sieve_global_extensions).  The configuration file is the plugin setting
 * omamori_config, as for the mail plugins.
 */
#include "lib.h"
#include "sieve-common.h"
#include "sieve-extensions.h"
#include "sieve-commands.h"
#include "sieve-validator.h"
#include "sieve-settings.h"
#include "str-sanitize.h"

#include "ext-omamori.h"
#include "lib/om-config.h"
#include "store/lists.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

const char *sieve_omamori_plugin_version = PIGEONHOLE_ABI_VERSION;

void sieve_omamori_plugin_load(struct sieve_instance *svinst, void **context);
void sieve_omamori_plugin_unload(struct sieve_instance *svinst, void *context);
void sieve_omamori_plugin_init(void);
void sieve_omamori_plugin_deinit(void);

static const struct sieve_operation_def *ext_omamori_operations[] = {
	&omamori_verdict_operation,
	&omamori_score_operation,
	&omamori_listed_operation,
	&omamori_list_operation,
};

/* flag tags: no parameter, their presence is the optional operand */
const struct sieve_argument_def omamori_allow_tag = { .identifier = "allow" };
const struct sieve_argument_def omamori_block_tag = { .identifier = "block" };
const struct sieve_argument_def omamori_add_tag = { .identifier = "add" };
const struct sieve_argument_def omamori_remove_tag = { .identifier = "remove" };

static bool ext_omamori_load(const struct sieve_extension *ext, void **context)
{
	struct ext_omamori_context *ctx = i_new(struct ext_omamori_context, 1);
	const char *path = sieve_setting_get(ext->svinst, "omamori_config");

	ctx->config_path = i_strdup(path != NULL && *path != '\0' ? path :
				    OM_DEFAULT_CONFIG_PATH);
	*context = ctx;
	return TRUE;
}

static void ext_omamori_unload(const struct sieve_extension *ext)
{
	struct ext_omamori_context *ctx = ext->context;

	if (ctx == NULL)
		return;
	omamori_conf_store_close(&ctx->conf_store);
	i_free(ctx->config_path);
	i_free(ctx);
}

static bool ext_omamori_validator_load(const struct sieve_extension *ext,
				       struct sieve_validator *valdtr)
{
	sieve_validator_register_command(valdtr, ext, &omamori_verdict_test);
	sieve_validator_register_command(valdtr, ext, &omamori_score_test);
	sieve_validator_register_command(valdtr, ext, &omamori_listed_test);
	sieve_validator_register_command(valdtr, ext, &omamori_list_command);
	return TRUE;
}

const struct sieve_extension_def omamori_extension = {
	.name = "vnd.omamori",
	.load = ext_omamori_load,
	.unload = ext_omamori_unload,
	.validator_load = ext_omamori_validator_load,
	SIEVE_EXT_DEFINE_OPERATIONS(ext_omamori_operations),
	SIEVE_EXT_DEFINE_NO_OPERANDS,
};

int ext_omamori_context_get(const struct sieve_extension *ext,
			    const struct om_config **config_r,
			    struct om_store **store_r, const char **error_r)
{
	struct ext_omamori_context *ctx = ext->context;

	return omamori_conf_store_get(&ctx->conf_store, ctx->config_path,
				      config_r, store_r, error_r);
}

void ext_omamori_register_kind_tags(struct sieve_validator *valdtr,
				    const struct sieve_extension *ext,
				    struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &omamori_allow_tag,
				     OPT_OMAMORI_ALLOW);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &omamori_block_tag,
				     OPT_OMAMORI_BLOCK);
}

int ext_omamori_one_of(struct sieve_validator *valdtr, struct sieve_command *cmd,
		       const struct sieve_argument_def *first,
		       const struct sieve_argument_def *second)
{
	struct sieve_ast_argument *arg;
	int found = 0, count = 0;

	for (arg = sieve_command_first_argument(cmd); arg != NULL;
	     arg = sieve_ast_argument_next(arg)) {
		if (arg->argument == NULL)
			continue;	/* a positional not activated yet */
		if (sieve_argument_is(arg, *first)) {
			found = 1;
			count++;
		} else if (sieve_argument_is(arg, *second)) {
			found = 2;
			count++;
		}
	}
	if (count != 1) {
		sieve_command_validate_error(valdtr, cmd,
			"the %s %s needs exactly one of :%s and :%s",
			sieve_command_identifier(cmd), sieve_command_type_name(cmd),
			first->identifier, second->identifier);
		return 0;
	}
	return found;
}

static bool ext_omamori_check_address(struct sieve_validator *valdtr,
				      struct sieve_ast_argument *arg,
				      const char *address)
{
	char *entry, *error = NULL;

	entry = om_lists_entry("allow", address, &error);
	if (entry == NULL) {
		/* the error quotes the script's text */
		sieve_argument_validate_error(valdtr, arg,
			"vnd.omamori: %s", str_sanitize(error, 200));
		free(error);
		return FALSE;
	}
	free(entry);
	return TRUE;
}

/* Reports each literal address of arg that is no list entry.  FALSE if
   one is malformed. */
static bool ext_omamori_check_addresses(struct sieve_validator *valdtr,
					struct sieve_ast_argument *arg)
{
	struct sieve_ast_argument *item;
	bool ok = TRUE;

	/* literals are checked now; a string with a variable in it only at
	   run time */
	if (sieve_ast_argument_type(arg) == SAAT_STRING) {
		if (strstr(sieve_ast_argument_strc(arg), "${") == NULL)
			ok = ext_omamori_check_address(valdtr, arg,
						       sieve_ast_argument_strc(arg));
		return ok;
	}
	if (sieve_ast_argument_type(arg) != SAAT_STRING_LIST)
		return TRUE;
	for (item = sieve_ast_strlist_first(arg); item != NULL;
	     item = sieve_ast_strlist_next(item)) {
		if (strstr(sieve_ast_strlist_strc(item), "${") == NULL &&
		    !ext_omamori_check_address(valdtr, item, sieve_ast_strlist_strc(item)))
			ok = FALSE;
	}
	return ok;
}

bool ext_omamori_validate_addresses(struct sieve_validator *valdtr,
				    struct sieve_command *cmd,
				    struct sieve_ast_argument *arg)
{
	if (!sieve_validate_positional_argument(valdtr, cmd, arg, "addresses", 1,
						SAAT_STRING_LIST))
		return FALSE;
	if (!ext_omamori_check_addresses(valdtr, arg))
		return FALSE;
	return sieve_validator_argument_activate(valdtr, cmd, arg, FALSE);
}

void sieve_omamori_plugin_load(struct sieve_instance *svinst, void **context)
{
	*context = (void *)sieve_extension_register(svinst, &omamori_extension, FALSE);
}

void sieve_omamori_plugin_unload(struct sieve_instance *svinst ATTR_UNUSED,
				 void *context)
{
	sieve_extension_unregister(context);
}

void sieve_omamori_plugin_init(void)
{
}

void sieve_omamori_plugin_deinit(void)
{
}
