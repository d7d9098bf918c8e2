/* tst-omamori.c - the tests of vnd.omamori:
 *
 *   omamori_verdict [COMPARATOR] [MATCH-TYPE] <verdicts: string-list>
 *   omamori_score [COMPARATOR] [MATCH-TYPE] <values: string-list>
 *   omamori_listed :allow|:block [<addresses: string-list>]
 *
 * The verdict is "clean", "spam", "virus" or "unscanned"; the score an
 * integer (rounded down, 0 below zero) for RFC 5231 comparisons with
 * :comparator "i;ascii-numeric".  omamori_listed looks the addresses (by
 * default the envelope sender, or From without an envelope) up on the
 * user's own list, whole or by @domain.  A list that cannot be read (the
 * store away) fails the script for now: the delivery is deferred (LMTP
 * 4xx) and tried again, never filed as if the sender were on no list.
 */
#include "lib.h"
#include "str-sanitize.h"

#include "sieve-common.h"
#include "sieve-code.h"
#include "sieve-commands.h"
#include "sieve-comparators.h"
#include "sieve-dump.h"
#include "sieve-generator.h"
#include "sieve-interpreter.h"
#include "sieve-match-types.h"
#include "sieve-match.h"
#include "sieve-stringlist.h"
#include "sieve-validator.h"

#include "ext-omamori.h"
#include "store/lists.h"
#include "lib/util.h"

#include <stdlib.h>

/* ---- omamori_verdict and omamori_score ---- */

static bool tst_omamori_match_registered(struct sieve_validator *valdtr,
					 const struct sieve_extension *ext ATTR_UNUSED,
					 struct sieve_command_registration *cmd_reg)
{
	sieve_comparators_link_tag(valdtr, cmd_reg, SIEVE_MATCH_OPT_COMPARATOR);
	sieve_match_types_link_tags(valdtr, cmd_reg, SIEVE_MATCH_OPT_MATCH_TYPE);
	return TRUE;
}

static bool tst_omamori_match_validate(struct sieve_validator *valdtr,
				       struct sieve_command *tst)
{
	struct sieve_ast_argument *arg = tst->first_positional;
	const struct sieve_match_type mcht_default = SIEVE_MATCH_TYPE_DEFAULT(is_match_type);
	const struct sieve_comparator cmp_default =
		SIEVE_COMPARATOR_DEFAULT(i_ascii_casemap_comparator);

	if (!sieve_validate_positional_argument(valdtr, tst, arg, "keys", 1,
						SAAT_STRING_LIST))
		return FALSE;
	if (!sieve_validator_argument_activate(valdtr, tst, arg, FALSE))
		return FALSE;
	return sieve_match_type_validate(valdtr, tst, arg, &mcht_default, &cmp_default);
}

static bool tst_omamori_match_generate(const struct sieve_codegen_env *cgenv,
				       struct sieve_command *tst)
{
	if (sieve_command_is(tst, omamori_verdict_test))
		sieve_operation_emit(cgenv->sblock, tst->ext, &omamori_verdict_operation);
	else
		sieve_operation_emit(cgenv->sblock, tst->ext, &omamori_score_operation);
	return sieve_generate_arguments(cgenv, tst, NULL);
}

const struct sieve_command_def omamori_verdict_test = {
	.identifier = "omamori_verdict",
	.type = SCT_TEST,
	.positional_args = 1,
	.registered = tst_omamori_match_registered,
	.validate = tst_omamori_match_validate,
	.generate = tst_omamori_match_generate,
};

const struct sieve_command_def omamori_score_test = {
	.identifier = "omamori_score",
	.type = SCT_TEST,
	.positional_args = 1,
	.registered = tst_omamori_match_registered,
	.validate = tst_omamori_match_validate,
	.generate = tst_omamori_match_generate,
};

static bool tst_omamori_match_dump(const struct sieve_dumptime_env *denv,
				   sieve_size_t *address)
{
	int opt_code = 0, opt;

	sieve_code_dumpf(denv, "%s", sieve_operation_mnemonic(denv->oprtn));
	sieve_code_descend(denv);
	while ((opt = sieve_match_opr_optional_dump(denv, address, &opt_code)) > 0)
		;
	if (opt < 0)
		return FALSE;
	return sieve_opr_stringlist_dump(denv, address, "keys");
}

static int tst_omamori_match_execute(const struct sieve_runtime_env *renv,
				     sieve_size_t *address)
{
	const struct sieve_operation *op = renv->oprtn;
	struct sieve_match_type mcht = SIEVE_MATCH_TYPE_DEFAULT(is_match_type);
	struct sieve_comparator cmp = SIEVE_COMPARATOR_DEFAULT(i_ascii_casemap_comparator);
	struct sieve_stringlist *keys, *values;
	const char *verdict, *score, *value;
	int opt_code = 0, opt, ret = SIEVE_EXEC_OK, match;

	while ((opt = sieve_match_opr_optional_read(renv, address, &opt_code, &ret,
						    &cmp, &mcht)) > 0)
		;
	if (opt < 0)
		return ret;
	if ((ret = sieve_opr_stringlist_read(renv, address, "keys", &keys)) <= 0)
		return ret;
	if ((ret = ext_omamori_verdict(renv, op->ext, &verdict, &score)) != SIEVE_EXEC_OK)
		return ret;
	value = sieve_operation_is(op, omamori_verdict_operation) ? verdict : score;
	sieve_runtime_trace(renv, SIEVE_TRLVL_TESTS, "%s test: value %s",
			    sieve_operation_mnemonic(op), value != NULL ? value : "(none)");
	if (value == NULL) {
		/* no spam check ran: there is no score to compare */
		sieve_interpreter_set_test_result(renv->interp, FALSE);
		return SIEVE_EXEC_OK;
	}
	values = sieve_single_stringlist_create_cstr(renv, value, TRUE);
	if ((match = sieve_match(renv, &mcht, &cmp, values, keys, &ret)) < 0)
		return ret;
	sieve_interpreter_set_test_result(renv->interp, match > 0);
	return SIEVE_EXEC_OK;
}

const struct sieve_operation_def omamori_verdict_operation = {
	.mnemonic = "OMAMORI_VERDICT",
	.ext_def = &omamori_extension,
	.code = EXT_OMAMORI_OPERATION_VERDICT,
	.dump = tst_omamori_match_dump,
	.execute = tst_omamori_match_execute,
};

const struct sieve_operation_def omamori_score_operation = {
	.mnemonic = "OMAMORI_SCORE",
	.ext_def = &omamori_extension,
	.code = EXT_OMAMORI_OPERATION_SCORE,
	.dump = tst_omamori_match_dump,
	.execute = tst_omamori_match_execute,
};

/* ---- omamori_listed ---- */

static bool tst_omamori_listed_registered(struct sieve_validator *valdtr,
					  const struct sieve_extension *ext,
					  struct sieve_command_registration *cmd_reg)
{
	ext_omamori_register_kind_tags(valdtr, ext, cmd_reg);
	return TRUE;
}

static bool tst_omamori_listed_validate(struct sieve_validator *valdtr,
					struct sieve_command *tst)
{
	struct sieve_ast_argument *arg = tst->first_positional;

	if (ext_omamori_one_of(valdtr, tst, &omamori_allow_tag, &omamori_block_tag) == 0)
		return FALSE;
	if (arg == NULL)
		return TRUE;
	if (sieve_ast_argument_next(arg) != NULL) {
		sieve_command_validate_error(valdtr, tst,
			"omamori_listed takes at most one list of addresses");
		return FALSE;
	}
	return ext_omamori_validate_addresses(valdtr, tst, arg);
}

static bool tst_omamori_listed_generate(const struct sieve_codegen_env *cgenv,
					struct sieve_command *tst)
{
	sieve_operation_emit(cgenv->sblock, tst->ext, &omamori_listed_operation);
	if (!sieve_generate_arguments(cgenv, tst, NULL))
		return FALSE;
	if (tst->first_positional == NULL)
		sieve_opr_omitted_emit(cgenv->sblock);
	return TRUE;
}

const struct sieve_command_def omamori_listed_test = {
	.identifier = "omamori_listed",
	.type = SCT_TEST,
	.positional_args = -1,
	.registered = tst_omamori_listed_registered,
	.validate = tst_omamori_listed_validate,
	.generate = tst_omamori_listed_generate,
};

/* Reads the :allow/:block optional operand; the kind, or NULL. */
static const char *tst_omamori_read_kind(const struct sieve_runtime_env *renv,
					 sieve_size_t *address, int *ret_r)
{
	const char *kind = NULL;
	int opt_code = 0, opt;

	while ((opt = sieve_opr_optional_read(renv, address, &opt_code)) > 0) {
		if (opt_code == OPT_OMAMORI_ALLOW)
			kind = "allow";
		else if (opt_code == OPT_OMAMORI_BLOCK)
			kind = "block";
	}
	*ret_r = opt < 0 || kind == NULL ? SIEVE_EXEC_BIN_CORRUPT : SIEVE_EXEC_OK;
	return kind;
}

/* 1 if address is on the user's kind list, 0 if not (a malformed address
   is simply on no list), -1 when the list cannot be read: the caller
   fails the script for now (SIEVE_EXEC_TEMP_FAILURE, so the delivery is
   deferred) rather than file the mail as if the sender were on no list. */
static int tst_omamori_lookup(const struct sieve_runtime_env *renv,
			      struct om_store *store, const char *user,
			      const char *kind, const char *address)
{
	char *error = NULL;
	int ret = om_lists_listed(store, user, kind, address, &error);

	if (ret < 0) {
		/* the store's error may quote the address */
		sieve_runtime_error(renv, NULL, "omamori_listed :%s: the list cannot be "
				    "read now: %s", kind, str_sanitize(error, 200));
		free(error);
	}
	return ret;
}

static bool tst_omamori_listed_dump(const struct sieve_dumptime_env *denv,
				    sieve_size_t *address)
{
	int opt_code = 0, opt;

	sieve_code_dumpf(denv, "OMAMORI_LISTED");
	sieve_code_descend(denv);
	while ((opt = sieve_opr_optional_dump(denv, address, &opt_code)) > 0)
		sieve_code_dumpf(denv, "%s", opt_code == OPT_OMAMORI_ALLOW ? "allow" : "block");
	if (opt < 0)
		return FALSE;
	return sieve_opr_stringlist_dump_ex(denv, address, "addresses", "(the sender)");
}

static int tst_omamori_listed_execute(const struct sieve_runtime_env *renv,
				      sieve_size_t *address)
{
	const struct sieve_extension *ext = renv->oprtn->ext;
	struct sieve_stringlist *addresses = NULL;
	const struct om_config *config;
	struct om_store *store;
	const char *kind, *user, *error, *sender;
	string_t *item = NULL;
	int ret, listed = 0;

	kind = tst_omamori_read_kind(renv, address, &ret);
	if (kind == NULL)
		return ret;
	if ((ret = sieve_opr_stringlist_read_ex(renv, address, "addresses", TRUE,
						&addresses)) <= 0)
		return ret;
	if (ext_omamori_context_get(ext, &config, &store, &error) < 0) {
		sieve_runtime_error(renv, NULL, "vnd.omamori: %s", error);
		return SIEVE_EXEC_TEMP_FAILURE;
	}
	user = ext_omamori_user(renv);
	if (addresses == NULL) {
		sender = ext_omamori_sender(renv);
		if (sender != NULL)
			listed = tst_omamori_lookup(renv, store, user, kind, sender);
	} else {
		while (listed == 0 &&
		       (ret = sieve_stringlist_next_item(addresses, &item)) > 0)
			listed = tst_omamori_lookup(renv, store, user, kind, str_c(item));
		if (ret < 0)
			return addresses->exec_status;
	}
	if (listed < 0)
		return SIEVE_EXEC_TEMP_FAILURE;
	sieve_runtime_trace(renv, SIEVE_TRLVL_TESTS, "omamori_listed :%s: %s", kind,
			    listed ? "listed" : "not listed");
	sieve_interpreter_set_test_result(renv->interp, listed > 0);
	return SIEVE_EXEC_OK;
}

const struct sieve_operation_def omamori_listed_operation = {
	.mnemonic = "OMAMORI_LISTED",
	.ext_def = &omamori_extension,
	.code = EXT_OMAMORI_OPERATION_LISTED,
	.dump = tst_omamori_listed_dump,
	.execute = tst_omamori_listed_execute,
};
