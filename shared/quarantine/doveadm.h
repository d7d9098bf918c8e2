/* doveadm.h - running Dovecot's doveadm (fork + execv, never a shell) for
 * what omamori does to mail: moving, expunging, searching, saving.
 *
 * doveadm_path and "-c dovecot_config" come from omamori.conf; with
 * doveadm_socket set, mail commands go to that doveadm server ("-S"), so a
 * caller that is not root (omamori-web) acts through Dovecot's own
 * privileged process.
 */
#ifndef OM_DOVEADM_H
#define OM_DOVEADM_H

#include <stddef.h>

#include "lib/om-config.h"

#define OM_DOVEADM_MAX_ARGS 24
/* doveadm's exit status for a user its userdb does not know (EX_NOUSER) */
#define OM_DOVEADM_NO_USER 67

/* Runs doveadm with args (NULL-terminated; args[0] is the command, e.g.
   "move"); a mail command (mail_command) gets "-S socket" when one is
   configured.  input (input_len bytes, may be NULL) goes to its stdin;
   its stdout is collected into *output_r (allocated, NUL-terminated, at
   most max_output bytes; NULL output_r discards it).  Returns doveadm's
   exit status (0 ok, 68 "no such user/mailbox"...), or -1 with *error_r
   when it could not run or died; a non-zero status also sets *error_r
   with the last line doveadm printed on stderr. */
int om_doveadm_run(const struct om_config *config, int mail_command,
		   const char *const *args, const char *input, size_t input_len,
		   char **output_r, size_t max_output, char **error_r);

#endif
