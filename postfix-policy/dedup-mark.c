/* dedup-mark.c - the exactly-once key's mark in omamori's outbound spool
 * (dedup-mark.h): a symbolic link KEY.queued -> "ATTEMPT NEWQID".
 *
 * Why a symbolic link: symlinkat() creates name and content in one atomic
 * step that fails with EEXIST when the key is marked already (two
 * re-injections of one key racing: exactly one wins), and the content
 * lives in the inode, so one fsync of the directory makes the mark durable
 * (a regular file would need its own fsync too).
 */
#include "dedup-mark.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int om_dedup_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[len] == '\0';
}

int om_dedup_key_ok(const char *key)
{
	size_t n = 0;

	for (; key[n] != '\0'; n++) {
		char c = key[n];

		if (n >= OM_DEDUP_KEY_MAX ||
		    !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || c == '-'))
			return 0;
	}
	return n > 0;
}

int om_dedup_parse(const char *value, char *key, char *attempt)
{
	const char *p = value;
	size_t n;

	p += strspn(p, " \t\r\n");
	n = strcspn(p, " \t\r\n");
	if (n == 0 || n > OM_DEDUP_KEY_MAX)
		return -1;
	memcpy(key, p, n);
	key[n] = '\0';
	p += n;
	p += strspn(p, " \t\r\n");
	n = strcspn(p, " \t\r\n");
	if (n != OM_DEDUP_ATTEMPT_LEN)
		return -1;
	memcpy(attempt, p, n);
	attempt[n] = '\0';
	p += n;
	p += strspn(p, " \t\r\n");
	if (*p != '\0' || !om_dedup_key_ok(key) ||
	    !om_dedup_hex(attempt, OM_DEDUP_ATTEMPT_LEN))
		return -1;
	return 0;
}

static int om_dedup_mark_name(const char *key, char *name, size_t size)
{
	if (!om_dedup_key_ok(key)) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(name, size, "%s%s", key, OM_DEDUP_MARK_SUFFIX) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int om_dedup_mark_read(int dir_fd, const char *key, struct om_dedup_mark *mark)
{
	char name[OM_DEDUP_KEY_MAX + 16];
	char target[OM_DEDUP_ATTEMPT_LEN + OM_DEDUP_QID_MAX + 4];
	ssize_t n;
	size_t a;

	if (om_dedup_mark_name(key, name, sizeof(name)) < 0)
		return -1;
	n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	target[n] = '\0';
	a = strcspn(target, " ");
	memset(mark, 0, sizeof(*mark));
	if (a == OM_DEDUP_ATTEMPT_LEN)
		memcpy(mark->attempt, target, a);
	snprintf(mark->queue_id, sizeof(mark->queue_id), "%s",
		 target[a] == ' ' ? target + a + 1 : "-");
	return 1;
}

int om_dedup_mark_make(int dir_fd, const char *key, const char *attempt,
		       const char *queue_id, int sync, struct om_dedup_mark *existing)
{
	char name[OM_DEDUP_KEY_MAX + 16];
	char target[OM_DEDUP_ATTEMPT_LEN + OM_DEDUP_QID_MAX + 4];
	int saved;

	memset(existing, 0, sizeof(*existing));
	if (om_dedup_mark_name(key, name, sizeof(name)) < 0)
		return -1;
	if (strlen(attempt) != OM_DEDUP_ATTEMPT_LEN || strlen(queue_id) > OM_DEDUP_QID_MAX ||
	    strchr(queue_id, ' ') != NULL) {
		errno = EINVAL;
		return -1;
	}
	snprintf(target, sizeof(target), "%s %s", attempt, *queue_id != '\0' ? queue_id : "-");
	if (symlinkat(target, dir_fd, name) < 0) {
		if (errno != EEXIST)
			return -1;
		if (om_dedup_mark_read(dir_fd, key, existing) < 0)
			memset(existing, 0, sizeof(*existing));
		return 0;
	}
	if (sync && fsync(dir_fd) < 0) {
		saved = errno;
		(void)unlinkat(dir_fd, name, 0);
		errno = saved;
		return -1;
	}
	return 1;
}

int om_dedup_mark_clear(int dir_fd, const char *key, const char *attempt)
{
	char name[OM_DEDUP_KEY_MAX + 16];
	struct om_dedup_mark mark;
	int ret = om_dedup_mark_read(dir_fd, key, &mark);

	if (ret <= 0)
		return ret;
	if (strcmp(mark.attempt, attempt) != 0)
		return 0;
	if (om_dedup_mark_name(key, name, sizeof(name)) < 0 ||
	    unlinkat(dir_fd, name, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	/* durable too: a mark back after a power loss would discard the
	   retry of a copy Postfix never queued */
	return fsync(dir_fd) < 0 ? -1 : 1;
}
