/* milter-listen.c - the listening socket of omamori's milters: made by
 * libmilter as root, then root's, group filter_socket_group, 0660.
 * Shared by omamori-submit and omamori-dedup (milter-listen.h).
 */
#include "milter-listen.h"
#include "lib/util.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

int om_milter_listen(const char *param, const char *path, const char *group,
		     char **error_r)
{
	struct group *gr = getgrnam(group);
	char *conn = om_asprintf("unix:%s", path);
	int ret = -1;

	if (gr == NULL) {
		*error_r = om_asprintf("filter_socket_group: unknown group '%s'", group);
	} else if (smfi_setconn(conn) != MI_SUCCESS ||
		   smfi_opensocket(1) != MI_SUCCESS) {
		*error_r = om_asprintf("%s %s: cannot listen (is the directory "
				       "there?)", param, path);
	} else if (geteuid() == 0 && chown(path, 0, gr->gr_gid) < 0) {
		*error_r = om_asprintf("%s %s: chown: %s", param, path, strerror(errno));
	} else if (chmod(path, 0660) < 0) {
		*error_r = om_asprintf("%s %s: chmod: %s", param, path, strerror(errno));
	} else {
		ret = 0;
	}
	free(conn);
	return ret;
}
