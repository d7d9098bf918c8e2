/* ext-omamori.h - the vnd.omamori Sieve extension (doc/sieve.md): tests of
 * omamori's verdict and score for the message, of the user's allow and
 * block lists, and a command that edits those lists.
 *
 * Built against Pigeonhole 0.5 (Dovecot 2.3) headers; loaded through
 * sieve_plugins = sieve_omamori.
 */
#ifndef EXT_OMAMORI_H
#define EXT_OMAMORI_H

#include "lib.h"
#include "sieve-common.h"
#include "sieve-extensions.h"
#include "sieve-commands.h"
#include "sieve-match.h"

#include "omamori-conf-store.h"

/* ext->context: where omamori.conf is, and it and the store once opened */
struct ext_omamori_context {
	char *config_path;
	struct omamori_conf_store conf_store;
};

extern const struct sieve_extension_def omamori_extension;

extern const struct sieve_command_def omamori_verdict_test;
extern const struct sieve_command_def omamori_score_test;
extern const struct sieve_command_def omamori_listed_test;
extern const struct sieve_command_def omamori_list_command;

extern const struct sieve_operation_def omamori_verdict_operation;
extern const struct sieve_operation_def omamori_score_operation;
extern const struct sieve_operation_def omamori_listed_operation;
extern const struct sieve_operation_def omamori_list_operation;

enum ext_omamori_opcode {
	EXT_OMAMORI_OPERATION_VERDICT,
	EXT_OMAMORI_OPERATION_SCORE,
	EXT_OMAMORI_OPERATION_LISTED,
	EXT_OMAMORI_OPERATION_LIST,
};

/* tagged arguments, after the match type's and comparator's codes */
enum ext_omamori_optional {
	OPT_OMAMORI_ALLOW = SIEVE_MATCH_OPT_LAST,
	OPT_OMAMORI_BLOCK,
	OPT_OMAMORI_ADD,
	OPT_OMAMORI_REMOVE,
};

extern const struct sieve_argument_def omamori_allow_tag;
extern const struct sieve_argument_def omamori_block_tag;
extern const struct sieve_argument_def omamori_add_tag;
extern const struct sieve_argument_def omamori_remove_tag;

/* Registers :allow and :block, which name the list a command or test is
   about. */
void ext_omamori_register_kind_tags(struct sieve_validator *valdtr,
				    const struct sieve_extension *ext,
				    struct sieve_command_registration *cmd_reg);
/* Which of two exclusive tags the command carries: 1 first, 2 second;
   reports a validation error and returns 0 when none or both. */
int ext_omamori_one_of(struct sieve_validator *valdtr, struct sieve_command *cmd,
		       const struct sieve_argument_def *first,
		       const struct sieve_argument_def *second);
/* Validates arg as cmd's positional "addresses" (a string list), reports
   each literal address in it that is no list entry (compile time), and
   activates it.  FALSE if it is no string list or an address is
   malformed. */
bool ext_omamori_validate_addresses(struct sieve_validator *valdtr,
				    struct sieve_command *cmd,
				    struct sieve_ast_argument *arg);

/* The configuration and store.  0, or -1 with *error_r. */
int ext_omamori_context_get(const struct sieve_extension *ext,
			    const struct om_config **config_r,
			    struct om_store **store_r, const char **error_r);
/* The message's verdict ("clean", "spam", "virus", "unscanned") and spam
   score (integer text, or NULL when no spam check ran).  SIEVE_EXEC_*. */
int ext_omamori_verdict(const struct sieve_runtime_env *renv,
			const struct sieve_extension *ext,
			const char **verdict_r, const char **score_r);
/* The address tests and commands use when given none: the envelope
   sender, else the From address (imapsieve has no envelope); NULL if
   neither. */
const char *ext_omamori_sender(const struct sieve_runtime_env *renv);
/* The user whose lists apply. */
const char *ext_omamori_user(const struct sieve_runtime_env *renv);

#endif
