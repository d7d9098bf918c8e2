/* milter-listen.h - the listening socket of omamori's two milters
 * (omamori-submit, omamori-dedup): libmilter makes it, as root, and it
 * becomes root's, group filter_socket_group, mode 0660, so that only
 * Postfix (in that group) may connect.  One function, not one per milter.
 */
#ifndef OM_MILTER_LISTEN_H
#define OM_MILTER_LISTEN_H

/* Opens the UNIX socket path for libmilter (smfi_setconn + opensocket)
   and gives it to group.  param names the omamori.conf parameter in
   errors.  0, or -1 with *error_r. */
int om_milter_listen(const char *param, const char *path, const char *group,
		     char **error_r);

#endif
