/* daemon.c - listening sockets and privilege drop for the omamori daemons.
 *
 * Kept in one place so each daemon follows the same order: configuration,
 * privileged opens, then an irrevocable drop to its own user (and a check
 * that the drop really happened).
 */
#include "lib/daemon.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int om_daemon_listen_unix(const char *path, mode_t mode, int backlog,
			  char **error_r)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	struct sockaddr_un *sun = &addr.un;
	struct stat st;
	int fd;

	memset(&addr, 0, sizeof(addr));
	sun->sun_family = AF_UNIX;
	if (om_strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) < 0) {
		*error_r = om_asprintf("socket path too long: %s", path);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = om_asprintf("%s exists and is not a socket", path);
			return -1;
		}
		if (unlink(path) < 0) {
			*error_r = om_asprintf("unlink(%s): %s", path, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*error_r = om_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, &addr.sa, sizeof(addr.un)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
		*error_r = om_asprintf("listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int om_daemon_give_socket(const char *path, const char *user, char **error_r)
{
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = om_asprintf("unknown user '%s'", user);
		return -1;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		*error_r = om_asprintf("chown(%s): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

#define OM_DAEMON_MAX_PEER_GROUPS 1024

/* 1 if gid is among the peer's supplementary groups (SO_PEERGROUPS; a
   peer with more than the bound has ERANGE: not found).  The list is on
   the stack: scand asks at every connection, one per Dovecot delivery, and
   a zeroed 4 kB allocation each time showed in its profile (issue 22). */
static int om_daemon_peer_has_group(int fd, gid_t gid)
{
	gid_t groups[OM_DAEMON_MAX_PEER_GROUPS];
	socklen_t len = sizeof(groups);
	size_t i, n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0;
	n = len / sizeof(gid_t);
	for (i = 0; i < n && i < OM_DAEMON_MAX_PEER_GROUPS; i++) {
		if (groups[i] == gid)
			return 1;
	}
	return 0;
}

int om_daemon_peer(int fd, struct om_daemon_peer *peer, char **error_r)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(peer, 0, sizeof(*peer));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		*error_r = om_asprintf("SO_PEERCRED: %s", strerror(errno));
		return -1;
	}
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->in_group = cred.uid == 0 || cred.uid == geteuid() ||
		cred.gid == getegid() || om_daemon_peer_has_group(fd, getegid());
	return 0;
}

int om_daemon_give_scratch_dir(const char *dir, const char *user, char **error_r)
{
	struct passwd *pw;
	struct stat st;
	int fd;

	if (geteuid() != 0 || dir == NULL || *dir == '\0' || user == NULL ||
	    *user == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = om_asprintf("unknown user '%s'", user);
		return -1;
	}
	/* the directory itself, never a link put in its place: what is
	   checked is what is changed */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* not there: check_scratch_dir says so */
	/* only a directory made for user: root's, in user's group, written by
	   nobody else (never /tmp, /run or a directory of someone else's) */
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || st.st_gid != pw->pw_gid ||
	    (st.st_mode & S_IWOTH) != 0) {
		(void)close(fd);
		return 0;	/* not ours to give: check_scratch_dir says why */
	}
	if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0 || fchmod(fd, 0750) < 0) {
		*error_r = om_asprintf("scan_temp_dir %s: cannot give it to %s: %s", dir,
				       user, strerror(errno));
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}

int om_daemon_check_scratch_dir(const char *dir, char **error_r)
{
	char path[4096];

	if (dir == NULL || *dir == '\0') {
		dir = getenv("TMPDIR");
		if (dir == NULL || *dir == '\0')
			dir = "/tmp";
	}
	if (snprintf(path, sizeof(path), "%s/omamori-check-XXXXXX", dir) >=
	    (int)sizeof(path)) {
		*error_r = om_asprintf("scan_temp_dir too long: %s", dir);
		return -1;
	}
	if (mkdtemp(path) == NULL) {
		*error_r = om_asprintf("scan_temp_dir %s: cannot create a directory "
				       "there as uid %ld: %s", dir, (long)geteuid(),
				       strerror(errno));
		return -1;
	}
	if (rmdir(path) < 0) {
		*error_r = om_asprintf("scan_temp_dir %s: cannot remove %s: %s",
				       dir, path, strerror(errno));
		return -1;
	}
	return 0;
}

int om_daemon_drop_privileges(const char *user, char **error_r)
{
	return om_daemon_drop_privileges_groups(user, NULL, error_r);
}

/* The gid of group name; 0 or -1 with *error_r. */
static int om_daemon_group(const char *name, gid_t *gid_r, char **error_r)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(name);
	if (gr == NULL) {
		*error_r = om_asprintf("unknown group '%s'%s%s", name,
				       errno != 0 ? ": " : "",
				       errno != 0 ? strerror(errno) : "");
		return -1;
	}
	*gid_r = gr->gr_gid;
	return 0;
}

int om_daemon_drop_privileges_groups(const char *user, const char *extra_group,
				     char **error_r)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;
	gid_t groups[2];
	size_t ngroups = 1;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = om_asprintf("unknown user '%s'%s%s", user,
				       errno != 0 ? ": " : "",
				       errno != 0 ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		*error_r = om_asprintf("user '%s' has uid 0; refusing to run as root",
				       user);
		return -1;
	}
	groups[0] = pw->pw_gid;
	if (extra_group != NULL && *extra_group != '\0') {
		if (om_daemon_group(extra_group, &groups[1], error_r) < 0)
			return -1;
		if (groups[1] == 0) {
			*error_r = om_asprintf("group '%s' has gid 0; refusing it",
					       extra_group);
			return -1;
		}
		ngroups = 2;
	}
	if (setgroups(ngroups, groups) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		*error_r = om_asprintf("dropping privileges to %s: %s", user,
				       strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) < 0 || ruid == 0 || euid == 0 ||
	    suid == 0) {
		*error_r = om_strdup("privileges were not dropped");
		return -1;
	}
	return 0;
}

int om_daemon_give_socket_group(const char *path, const char *user,
				const char *group, char **error_r)
{
	struct passwd *pw;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = om_asprintf("unknown user '%s'", user);
		return -1;
	}
	if (om_daemon_group(group, &gid, error_r) < 0)
		return -1;
	if (chown(path, pw->pw_uid, gid) < 0) {
		*error_r = om_asprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int om_daemon_signalfd(char **error_r)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		*error_r = om_strdup("pthread_sigmask failed");
		return -1;
	}
	sigdelset(&set, SIGPIPE);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		*error_r = om_asprintf("signalfd: %s", strerror(errno));
	return fd;
}
