/* daemon.c - listening sockets and privilege drop for the omamori daemons.
 *
 * Kept in one place so each daemon follows the same order: configuration,
 * privileged opens, then an irrevocable drop to its own user (and a check
 * that the drop really happened).
 */
#include "daemon.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <pthread.h>
#include <signal.h>
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

int om_daemon_drop_privileges(const char *user, char **error_r)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;

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
	if (setgroups(1, &pw->pw_gid) < 0 ||
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
