/* test-dedup.c - the exactly-once key's header value and its mark in a
 * spool directory (postfix-policy/dedup-mark.c), as omamori-filter and
 * omamori-dedup use them: parse, make (once: the second is refused),
 * read, clear only by the attempt that made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../postfix-policy/dedup-mark.h"
#include "tap.h"

#define KEY "4jfShq2k6Cz1bbBB-0e980564c570b340f0cb4923aec69cb0"

static void test_parse(void)
{
	char key[OM_DEDUP_KEY_MAX + 1], attempt[OM_DEDUP_ATTEMPT_LEN + 1];
	char longkey[OM_DEDUP_KEY_MAX + 40];

	TAP_OK(om_dedup_parse(" " KEY " 00000000000000a1 ", key, attempt) == 0 &&
	       strcmp(key, KEY) == 0 && strcmp(attempt, "00000000000000a1") == 0,
	       "parse: key and attempt");
	TAP_OK(om_dedup_parse(KEY, key, attempt) < 0, "parse: no attempt refused");
	TAP_OK(om_dedup_parse(KEY " 00000000000000A1", key, attempt) < 0,
	       "parse: upper-case attempt refused");
	TAP_OK(om_dedup_parse(KEY " 00000000000000a1 x", key, attempt) < 0,
	       "parse: trailing word refused");
	TAP_OK(om_dedup_parse("../etc/x 00000000000000a1", key, attempt) < 0,
	       "parse: a path is no key");
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	TAP_OK(!om_dedup_key_ok(longkey) && !om_dedup_key_ok("") &&
	       om_dedup_key_ok("noqid-00ff"), "key_ok: length and charset");
}

static void test_marks(void)
{
	char dir[] = "/tmp/om-test-dedup-XXXXXX";
	struct om_dedup_mark mark;
	int fd;

	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	TAP_OK(om_dedup_mark_read(fd, KEY, &mark) == 0, "mark: none at first");
	TAP_OK(om_dedup_mark_make(fd, KEY, "00000000000000a1", "4jfQID1", 1, &mark) == 1,
	       "mark: made (fsync'd)");
	TAP_OK(om_dedup_mark_make(fd, KEY, "00000000000000b2", "4jfQID2", 0, &mark) == 0 &&
	       strcmp(mark.attempt, "00000000000000a1") == 0 &&
	       strcmp(mark.queue_id, "4jfQID1") == 0,
	       "mark: a second attempt finds the first's");
	TAP_OK(om_dedup_mark_read(fd, KEY, &mark) == 1 &&
	       strcmp(mark.queue_id, "4jfQID1") == 0, "mark: read back");
	TAP_OK(om_dedup_mark_clear(fd, KEY, "00000000000000b2") == 0 &&
	       om_dedup_mark_read(fd, KEY, &mark) == 1,
	       "mark: another attempt cannot clear it");
	TAP_OK(om_dedup_mark_clear(fd, KEY, "00000000000000a1") == 1 &&
	       om_dedup_mark_read(fd, KEY, &mark) == 0,
	       "mark: its own attempt clears it");
	TAP_OK(om_dedup_mark_make(fd, KEY, "00000000000000c3", "", 0, &mark) == 1 &&
	       om_dedup_mark_read(fd, KEY, &mark) == 1 && strcmp(mark.queue_id, "-") == 0,
	       "mark: an unknown queue id is \"-\"");
	TAP_OK(om_dedup_mark_make(fd, "../x", "00000000000000c3", "Q", 0, &mark) < 0 &&
	       errno == EINVAL, "mark: a bad key is refused");
	(void)om_dedup_mark_clear(fd, KEY, "00000000000000c3");
	close(fd);
	TAP_OK(rmdir(dir) == 0, "mark: nothing else left in the directory");
}

int main(void)
{
	test_parse();
	test_marks();
	return tap_done();
}
