/* daemon.h - start-up steps every omamori daemon shares: listening sockets
 * and the irrevocable drop to the unprivileged user.
 */
#ifndef OM_DAEMON_H
#define OM_DAEMON_H

#include <sys/types.h>

/* Creates a listening UNIX stream socket at path (a stale socket file is
   replaced; a non-socket file there is an error), mode applied.  Returns the
   fd, or -1 with *error_r. */
int om_daemon_listen_unix(const char *path, mode_t mode, int backlog,
			  char **error_r);

/* When running as root and user is not empty: setgroups, setresgid and
   setresuid to user, irrevocably.  Not root: nothing to do.  Returns 0, or
   -1 with *error_r (unknown user, a uid 0 user, a failed call). */
int om_daemon_drop_privileges(const char *user, char **error_r);

/* The same, with extra_group (a group name; NULL or "": none) as the only
   supplementary group besides user's own, whatever /etc/group says: a
   daemon gets exactly the access it needs (omamori-filter: postdrop, for
   Postfix's public/ directory), never the user's other groups. */
int om_daemon_drop_privileges_groups(const char *user, const char *extra_group,
				     char **error_r);

/* When running as root: gives the socket file at path to user and group
   (omamori-filter's socket: omamori, group postfix, so that Postfix's lmtp
   client may connect).  0, or -1 with *error_r. */
int om_daemon_give_socket_group(const char *path, const char *user,
				const char *group, char **error_r);

/* When running as root and user is not empty: gives the socket file at
   path to user and user's group (its mode then decides who may connect).
   Returns 0, or -1 with *error_r. */
int om_daemon_give_socket(const char *path, const char *user, char **error_r);

/* Who is at the other end of a UNIX socket, as the kernel says (never what
   the peer claims). */
struct om_daemon_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int in_group;	/* root, our own user, or a member of our group */
};
/* Fills peer for the connected socket fd.  0, or -1 with *error_r. */
int om_daemon_peer(int fd, struct om_daemon_peer *peer, char **error_r);

/* When running as root: gives the scratch directory dir to user and its
   group, mode 0750, if it is root's in user's group and not writable by
   everybody (a RuntimeDirectory systemd made for a unit that starts as
   root with Group=; never /tmp, /run or anybody else's).  0 (also when nothing was to be done), or -1 with
   *error_r. */
int om_daemon_give_scratch_dir(const char *dir, const char *user, char **error_r);

/* Checks that the running user can create (and remove) a directory in
   dir, as libclamav does for each scan.  0, or -1 with *error_r. */
int om_daemon_check_scratch_dir(const char *dir, char **error_r);

/* Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE (call before starting threads,
   which inherit the mask) and returns a non-blocking signalfd delivering
   the first three; SIGPIPE stays blocked.  -1 with *error_r on failure. */
int om_daemon_signalfd(char **error_r);

#endif
