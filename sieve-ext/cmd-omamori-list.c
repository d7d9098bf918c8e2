/* cmd-omamori-list.c - the command of vnd.omamori:
 *
 *   omamori_list :add|:remove :allow|:block <addresses: string-list>
 *
 * Edits the user's own list at once (not at action commit: a user who
 * allow-lists a sender wants it kept even if a later action fails), all
 * addresses or none, with the rules of every writer (shared/lists.c): the
 * per-mailbox limit and the domain switch that forbids user allow lists.
 * A refused change is a runtime error; the script stops and the message
 * goes to the inbox (implicit keep), nothing half-written.  Literal
 * addresses are checked when the script is compiled.
 *
 * The user is always a mailbox scope, with or without a domain in the
 * name.  In an IMAP session (imapsieve: the shipped rescued-sender.sieve
 * runs when a message leaves Quarantine) an allow entry is learned from
 * what the user did, so it also needs the domain's learn-allow-sender;
 * off, :add :allow adds nothing (logged) and the script goes on.  Decided
 * here rather than in the script, so no script can forget it.
 */
#include "lib.h"
#include "array.h"
#include "mail-user.h"
#include "str-sanitize.h"

#include "sieve-common.h"
#include "sieve-code.h"
#include "sieve-commands.h"
#include "sieve-dump.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-stringlist.h"
#include "sieve-validator.h"

#include "ext-omamori.h"
#include "lib/om-config.h"
#include "store/lists.h"
#include "lib/util.h"

#include <stdlib.h>

static bool cmd_omamori_list_registered(struct sieve_validator *valdtr,
					const struct sieve_extension *ext,
					struct sieve_command_registration *cmd_reg)
{
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &omamori_add_tag, OPT_OMAMORI_ADD);
	sieve_validator_register_tag(valdtr, cmd_reg, ext, &omamori_remove_tag,
				     OPT_OMAMORI_REMOVE);
	ext_omamori_register_kind_tags(valdtr, ext, cmd_reg);
	return TRUE;
}

static bool cmd_omamori_list_validate(struct sieve_validator *valdtr,
				      struct sieve_command *cmd)
{
	struct sieve_ast_argument *arg = cmd->first_positional;

	if (ext_omamori_one_of(valdtr, cmd, &omamori_add_tag, &omamori_remove_tag) == 0 ||
	    ext_omamori_one_of(valdtr, cmd, &omamori_allow_tag, &omamori_block_tag) == 0)
		return FALSE;
	return ext_omamori_validate_addresses(valdtr, cmd, arg);
}

static bool cmd_omamori_list_generate(const struct sieve_codegen_env *cgenv,
				      struct sieve_command *cmd)
{
	sieve_operation_emit(cgenv->sblock, cmd->ext, &omamori_list_operation);
	return sieve_generate_arguments(cgenv, cmd, NULL);
}

const struct sieve_command_def omamori_list_command = {
	.identifier = "omamori_list",
	.type = SCT_COMMAND,
	.positional_args = 1,
	.registered = cmd_omamori_list_registered,
	.validate = cmd_omamori_list_validate,
	.generate = cmd_omamori_list_generate,
};

static const char *cmd_omamori_tag_name(int opt_code)
{
	switch (opt_code) {
	case OPT_OMAMORI_ADD: return "add";
	case OPT_OMAMORI_REMOVE: return "remove";
	case OPT_OMAMORI_ALLOW: return "allow";
	default: return "block";
	}
}

static bool cmd_omamori_list_dump(const struct sieve_dumptime_env *denv,
				  sieve_size_t *address)
{
	int opt_code = 0, opt;

	sieve_code_dumpf(denv, "OMAMORI_LIST");
	sieve_code_descend(denv);
	while ((opt = sieve_opr_optional_dump(denv, address, &opt_code)) > 0)
		sieve_code_dumpf(denv, "%s", cmd_omamori_tag_name(opt_code));
	if (opt < 0)
		return FALSE;
	return sieve_opr_stringlist_dump(denv, address, "addresses");
}

/* Reads the tags: add or remove, and the kind.  SIEVE_EXEC_*. */
static int cmd_omamori_read_tags(const struct sieve_runtime_env *renv,
				 sieve_size_t *address, int *add_r,
				 const char **kind_r)
{
	int opt_code = 0, opt;

	*add_r = -1;
	*kind_r = NULL;
	while ((opt = sieve_opr_optional_read(renv, address, &opt_code)) > 0) {
		if (opt_code == OPT_OMAMORI_ADD || opt_code == OPT_OMAMORI_REMOVE)
			*add_r = opt_code == OPT_OMAMORI_ADD;
		else
			*kind_r = cmd_omamori_tag_name(opt_code);
	}
	return opt < 0 || *add_r < 0 || *kind_r == NULL ? SIEVE_EXEC_BIN_CORRUPT :
		SIEVE_EXEC_OK;
}

/* 1 if this run is an IMAP session's (imapsieve), where an allow entry is
   learning from the user's action. */
static int cmd_omamori_in_imap(const struct sieve_runtime_env *renv)
{
	const struct sieve_script_env *senv = renv->exec_env->scriptenv;

	return senv != NULL && senv->user != NULL && senv->user->service != NULL &&
		strcmp(senv->user->service, "imap") == 0;
}

/* An allow entry from IMAP needs learn-allow-sender: 1 go on, 0 skip,
   or SIEVE_EXEC_TEMP_FAILURE (as a negative number) when unknown. */
static int cmd_omamori_learning(const struct sieve_runtime_env *renv,
				struct om_store *store, const char *user)
{
	char *serror = NULL;
	int learning = om_lists_learning_allowed(store, user, &serror);

	if (learning < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", str_sanitize(serror, 300));
		free(serror);
		return -1;
	}
	if (learning == 0) {
		sieve_runtime_log(renv, NULL, "omamori_list :add :allow skipped: "
				  "the domain of %s has learn-allow-sender off",
				  str_sanitize(user, 254));
		sieve_runtime_trace(renv, SIEVE_TRLVL_COMMANDS,
				    "omamori_list :add :allow: learn-allow-sender off");
	}
	return learning;
}

static int cmd_omamori_list_execute(const struct sieve_runtime_env *renv,
				    sieve_size_t *address)
{
	const struct sieve_extension *ext = renv->oprtn->ext;
	struct sieve_stringlist *addresses;
	const struct om_config *config;
	ARRAY_TYPE(const_string) entries;
	struct om_store *store;
	const char *kind, *error, *user;
	string_t *item = NULL;
	char *serror = NULL;
	int add, ret, changed;

	if ((ret = cmd_omamori_read_tags(renv, address, &add, &kind)) != SIEVE_EXEC_OK)
		return ret;
	if ((ret = sieve_opr_stringlist_read(renv, address, "addresses", &addresses)) <= 0)
		return ret;
	t_array_init(&entries, 8);
	while ((ret = sieve_stringlist_next_item(addresses, &item)) > 0)
		array_push_back(&entries, (const char *const[]){ t_strdup(str_c(item)) });
	if (ret < 0)
		return addresses->exec_status;
	if (ext_omamori_context_get(ext, &config, &store, &error) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", error);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	user = ext_omamori_user(renv);
	if (add && strcmp(kind, "allow") == 0 && cmd_omamori_in_imap(renv)) {
		ret = cmd_omamori_learning(renv, store, user);
		if (ret <= 0)
			return ret < 0 ? SIEVE_EXEC_TEMP_FAILURE : SIEVE_EXEC_OK;
	}
	changed = om_lists_change(store, user, OM_KEY_MAILBOX, kind, array_front(&entries),
				  array_count(&entries), add, config->list_max_entries,
				  &serror);
	if (changed < 0) {
		sieve_runtime_error(renv, NULL, "omamori_list :%s :%s refused: %s",
				    add ? "add" : "remove", kind, str_sanitize(serror, 300));
		free(serror);
		return SIEVE_EXEC_FAILURE;
	}
	sieve_runtime_trace(renv, SIEVE_TRLVL_COMMANDS, "omamori_list :%s :%s: %d changed",
			    add ? "add" : "remove", kind, changed);
	return SIEVE_EXEC_OK;
}

const struct sieve_operation_def omamori_list_operation = {
	.mnemonic = "OMAMORI_LIST",
	.ext_def = &omamori_extension,
	.code = EXT_OMAMORI_OPERATION_LIST,
	.dump = cmd_omamori_list_dump,
	.execute = cmd_omamori_list_execute,
};
