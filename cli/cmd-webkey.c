/* cmd-webkey.c - omamorictl web-key: the key omamori-web's links and forms
 * are signed with (crypto/token.h).
 *
 * "web-key rotate" puts a new current key in web_key_path; the old one
 * stays as the previous key, which still verifies (links already mailed in
 * digests keep working until they expire) but never signs.  The file is
 * replaced, so run as root it is given back to web_user (omamori-web reads
 * it as that user, and refuses a file others may read); then
 * `systemctl reload omamori-web` (SIGHUP) makes the server read it.
 */
#include "omamorictl.h"
#include "crypto/token.h"
#include "lib/util.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_webkey_own(struct ctl *ctl)
{
	return ctl_key_own(ctl, ctl->config->web_key_path);
}

int ctl_key_own(struct ctl *ctl, const char *path)
{
	const char *user = ctl->config->web_user;
	struct passwd *pw;

	if (geteuid() != 0 || *user == '\0')
		return CTL_EXIT_OK;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return ctl_error("web_user '%s': unknown user; %s stays root's", user, path);
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0)
		return ctl_error("chown %s: %s", path, strerror(errno));
	return CTL_EXIT_OK;
}

int ctl_cmd_webkey(struct ctl *ctl, int argc, char **argv)
{
	char *error = NULL;
	int ret;

	if (argc != 1 || strcmp(argv[0], "rotate") != 0)
		return ctl_error("usage: omamorictl web-key rotate");
	if (om_token_keys_rotate(ctl->config->web_key_path, &error) < 0)
		return ctl_fail(error);
	if ((ret = ctl_webkey_own(ctl)) != CTL_EXIT_OK)
		return ret;
	/* each reads the key at its start (its own signer's keys only) */
	printf("web key %s rotated: new links use the new key, the old one still "
	       "verifies; reload omamori-web (SIGHUP) and restart omamori-scand, "
	       "omamori-filter and omamori-submit\n", ctl->config->web_key_path);
	return CTL_EXIT_OK;
}

/* "isolate-key rotate": a new isolation key pair; files already isolated
   stay readable through the previous key (one rotation back), so rotate
   at most once per attachment-isolate-days. */
int ctl_cmd_isolatekey(struct ctl *ctl, int argc, char **argv)
{
	char *error = NULL;
	int ret;

	if (argc != 1 || strcmp(argv[0], "rotate") != 0)
		return ctl_error("usage: omamorictl isolate-key rotate");
	if (om_token_keys_rotate(ctl->config->isolate_key_path, &error) < 0)
		return ctl_fail(error);
	if ((ret = ctl_key_own(ctl, ctl->config->isolate_key_path)) != CTL_EXIT_OK)
		return ret;
	printf("isolation key %s rotated: files isolated before still open with the "
	       "previous key (one rotation back: rotate at most once per "
	       "attachment-isolate-days); restart omamori-scand and reload omamori-web "
	       "(SIGHUP)\n", ctl->config->isolate_key_path);
	return CTL_EXIT_OK;
}
