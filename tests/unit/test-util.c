/* test-util.c - unit tests of util.c, hash.c and log.c: sanitising, JSON
 * strings, bounded copies, the checked number parsers, the hash map,
 * syslog's fallback to stderr. */
#include "tap.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"
#include "crypto/report.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct sanitize_case {
	const char *label, *in;
	size_t max;
	const char *want;
};

static const struct sanitize_case sanitize_cases[] = {
	{ "plain ascii kept", "hello", 80, "hello" },
	{ "controls become ?", "a\r\nb\tc\x01", 80, "a??b?c?" },
	{ "utf-8 kept", "\xe3\x81\x82\xe3\x81\x84", 80, "\xe3\x81\x82\xe3\x81\x84" },
	{ "invalid utf-8 byte becomes ?", "a\xff" "b", 80, "a?b" },
	{ "truncated utf-8 sequence becomes ?", "a\xe3\x81", 80, "a??" },
	{ "long text is cut with ...", "abcdefghijklmnop", 10, "abcdefg..." },
	{ "cut never splits a character", "\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82", 8,
	  "\xe3\x81\x82..." },
	{ "NULL is empty", NULL, 10, "" },
	{ "right-to-left override shown", "invoice\xe2\x80\xae" "gpj.exe", 80,
	  "invoice[U+202E]gpj.exe" },
	{ "isolates and marks shown", "a\xe2\x81\xa6" "b\xe2\x80\x8f" "c\xd8\x9c", 80,
	  "a[U+2066]b[U+200F]c[U+061C]" },
	{ "C1 controls become ?", "a\xc2\x85" "b", 80, "a?b" },
	{ "a marker that does not fit is cut", "abc\xe2\x80\xae", 8, "abc..." },
	{ "text of max - 3 bytes is not cut", "abcdefg", 10, "abcdefg" },
	{ "utf-8 of max - 3 bytes is not cut", "a\xe3\x81\x82", 7, "a\xe3\x81\x82" },
	{ "a small max is 4", "ab", 1, "a..." },
	{ "DEL becomes ?", "a\x7f", 80, "a?" },
};

static void test_sanitize(void)
{
	size_t i;
	char *out;

	for (i = 0; i < OM_N_ELEMENTS(sanitize_cases); i++) {
		const struct sanitize_case *c = &sanitize_cases[i];

		out = om_sanitize(c->in, c->max);
		TAP_OK(strcmp(out, c->want) == 0, "sanitize: %s", c->label);
		/* unchanged says so exactly when the copy equals the input */
		if (c->in != NULL)
			TAP_OK(om_sanitize_unchanged(c->in, c->max) ==
			       (strcmp(out, c->in) == 0 ? strlen(c->in) : (size_t)-1),
			       "sanitize_unchanged: %s", c->label);
		free(out);
	}
	out = om_sanitize_text("line1\nline2\x01", 80);
	TAP_OK(strcmp(out, "line1\nline2?") == 0, "sanitize_text keeps newlines only");
	free(out);
}

struct parse_case {
	const char *label, *in;
	long min, max;
	int want_ret;
	long want;
};

static const struct parse_case parse_long_cases[] = {
	{ "plain number", "42", 0, 100, 0, 42 },
	{ "zero", "0", 0, 100, 0, 0 },
	{ "leading zeros", "007", 0, 100, 0, 7 },
	{ "negative", "-5", -10, 10, 0, -5 },
	{ "minimum itself", "-10", -10, 10, 0, -10 },
	{ "maximum itself", "10", -10, 10, 0, 10 },
	{ "below the minimum", "-11", -10, 10, -1, 0 },
	{ "above the maximum", "11", -10, 10, -1, 0 },
	{ "empty", "", 0, 100, -1, 0 },
	{ "a lone sign", "-", -10, 10, -1, 0 },
	{ "plus sign", "+5", 0, 100, -1, 0 },
	{ "leading space", " 5", 0, 100, -1, 0 },
	{ "trailing space", "5 ", 0, 100, -1, 0 },
	{ "trailing junk", "12abc", 0, 100, -1, 0 },
	{ "letters", "abc", 0, 100, -1, 0 },
	{ "hex", "0x10", 0, 100, -1, 0 },
	{ "two signs", "--5", -10, 10, -1, 0 },
	{ "LONG_MAX overflowed by one", "9223372036854775808", LONG_MIN, LONG_MAX, -1, 0 },
	{ "far overflow", "99999999999999999999999999", LONG_MIN, LONG_MAX, -1, 0 },
	{ "LONG_MIN", "-9223372036854775808", LONG_MIN, LONG_MAX, 0, LONG_MIN },
	{ "below LONG_MIN", "-9223372036854775809", LONG_MIN, LONG_MAX, -1, 0 },
};

static void test_parse(void)
{
	unsigned long u = 77;
	char text[80];
	double d = 0;
	size_t i;
	long n;

	for (i = 0; i < OM_N_ELEMENTS(parse_long_cases); i++) {
		const struct parse_case *c = &parse_long_cases[i];
		int ret;

		n = 12345;
		ret = om_parse_long(c->in, c->min, c->max, &n);
		TAP_OK(ret == c->want_ret && n == (ret == 0 ? c->want : 12345),
		       "parse_long: %s", c->label);
	}
	TAP_OK(om_parse_long(NULL, 0, 10, &n) < 0, "parse_long: NULL");
	TAP_OK(om_parse_ulong("65535", 1, 65535, &u) == 0 && u == 65535,
	       "parse_ulong: a port");
	TAP_OK(om_parse_ulong("0", 1, 65535, &u) < 0 && u == 65535,
	       "parse_ulong: port 0 refused, value untouched");
	TAP_OK(om_parse_ulong("65536", 1, 65535, &u) < 0, "parse_ulong: port too large");
	TAP_OK(om_parse_ulong("-1", 0, ULONG_MAX, &u) < 0, "parse_ulong: no sign");
	(void)snprintf(text, sizeof(text), "%lu", ULONG_MAX);
	TAP_OK(om_parse_ulong(text, 0, ULONG_MAX, &u) == 0 && u == ULONG_MAX,
	       "parse_ulong: ULONG_MAX");
	(void)snprintf(text, sizeof(text), "%lu0", ULONG_MAX);
	TAP_OK(om_parse_ulong(text, 0, ULONG_MAX, &u) < 0, "parse_ulong: ULONG_MAX * 10");
	TAP_OK(om_parse_ulong("18446744073709551616", 0, ULONG_MAX, &u) < 0,
	       "parse_ulong: ULONG_MAX + 1");
	TAP_OK(om_parse_decimal("-1.25", &d) == 0 && d == -1.25, "parse_decimal: -1.25");
	TAP_OK(om_parse_decimal("5", &d) == 0 && d == 5.0, "parse_decimal: 5");
	TAP_OK(om_parse_decimal("0.50", &d) == 0 && d == 0.5, "parse_decimal: 0.50");
	TAP_OK(om_parse_decimal("inf", &d) < 0 && om_parse_decimal("nan", &d) < 0,
	       "parse_decimal: inf and nan refused");
	TAP_OK(om_parse_decimal("1e5", &d) < 0 && om_parse_decimal("0x1p3", &d) < 0,
	       "parse_decimal: exponents and hex refused");
	TAP_OK(om_parse_decimal(" 1", &d) < 0 && om_parse_decimal("1.", &d) < 0 &&
	       om_parse_decimal(".5", &d) < 0 && om_parse_decimal("", &d) < 0 &&
	       om_parse_decimal("-", &d) < 0 && om_parse_decimal("1.2.3", &d) < 0,
	       "parse_decimal: malformed refused");
	memset(text, '9', sizeof(text));
	text[64] = '\0';
	TAP_OK(om_parse_decimal(text, &d) == 0, "parse_decimal: 64 characters");
	text[64] = '9';
	text[65] = '\0';
	TAP_OK(om_parse_decimal(text, &d) < 0, "parse_decimal: 65 characters refused");
}

static void test_json(void)
{
	struct om_buf b;

	om_buf_init(&b);
	om_buf_append_json_str(&b, "a\"b\\c\n\x01");
	TAP_OK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\"") == 0, "json string escaping");
	om_buf_reset(&b);
	om_buf_append_json_str(&b, NULL);
	TAP_OK(strcmp(b.data, "null") == 0, "json NULL is null");
	om_buf_reset(&b);
	om_buf_append_json_str(&b, "\xe5\xb1\xb1 a\xff b\xe5\xb1 c\xc0\xaf");
	TAP_OK(strcmp(b.data, "\"\xe5\xb1\xb1 a\\ufffd b\\ufffd\\ufffd c\\ufffd\\ufffd\"") == 0,
	       "json: UTF-8 kept, bytes that are not UTF-8 become U+FFFD (%s)", b.data);
	om_buf_reset(&b);
	om_buf_append_json_str(&b, "\xe5\xb1");
	TAP_OK(strcmp(b.data, "\"\\ufffd\\ufffd\"") == 0, "json: a cut sequence at the end");
	om_buf_free(&b);
}

static void test_strlcpy(void)
{
	char small[4];

	TAP_OK(om_strlcpy(small, "abc", sizeof(small)) == 0 && strcmp(small, "abc") == 0,
	       "strlcpy: fits");
	TAP_OK(om_strlcpy(small, "abcd", sizeof(small)) == -1 && small[0] == '\0',
	       "strlcpy: too long fails and leaves nothing cut");
}

static void test_address_key(void)
{
	char buf[32], in_place[] = "Alice@Example.TEST.";

	TAP_OK(om_address_key("Alice@Example.TEST", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "alice@example.test") == 0, "address key: lower case");
	TAP_OK(om_address_key("bob@example.test..", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "bob@example.test") == 0, "address key: no trailing dots");
	TAP_OK(om_address_key("first.last@x.test", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "first.last@x.test") == 0, "address key: inner dots kept");
	TAP_OK(om_address_key("Example.JP.", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "example.jp") == 0, "address key: a domain alone");
	TAP_OK(om_address_key("\xe5\xb1\xb1\xe7\x94\xb0@X.jp", buf, sizeof(buf)) == 0 &&
	       strcmp(buf, "\xe5\xb1\xb1\xe7\x94\xb0@x.jp") == 0,
	       "address key: UTF-8 bytes untouched");
	TAP_OK(om_address_key("a-very-long-local-part@example.test", buf, sizeof(buf)) == -1 &&
	       buf[0] == '\0', "address key: too long for the buffer is -1, nothing cut");
	om_address_key_fold(in_place);
	TAP_OK(strcmp(in_place, "alice@example.test") == 0, "address key: folded in place");
}

static void test_defang(void)
{
	static const char *const cases[][2] = {
		{ "Release here: https://evil.example/r", "Release here: hxxps://evil[.]example/r" },
		{ "HTTP://Evil.Example:8080/x?y", "HxxP://Evil[.]Example:8080/x?y" },
		{ "see www.evil.example now", "see www[.]evil[.]example now" },
		{ "请 http://a.b 和 www.c.d", "请 hxxp://a[.]b 和 www[.]c[.]d" },
		{ "no link, just v1.2 and a@b.example", "no link, just v1.2 and a@b.example" },
		{ "httpx://a.b", "httpx://a.b" },
		{ "", "" },
	};
	char *got;
	size_t i;
	int ok = 1;

	for (i = 0; i < OM_N_ELEMENTS(cases); i++) {
		got = om_text_defang(cases[i][0]);
		if (strcmp(got, cases[i][1]) != 0) {
			printf("# defang %s: got %s\n", cases[i][0], got);
			ok = 0;
		}
		free(got);
	}
	TAP_OK(ok, "defang: URLs and www. names no longer read as links, the rest kept");
}

static void test_hex_and_lines(void)
{
	char text[] = "a@x.test\n\nb@y.test\nc@z.test";
	char empty[] = "\n\n";
	char **lines;
	size_t n;

	TAP_OK(om_hex_digit('0') == 0 && om_hex_digit('9') == 9 &&
	       om_hex_digit('a') == 10 && om_hex_digit('F') == 15,
	       "om_hex_digit: digits and both cases");
	TAP_OK(om_hex_digit('g') == -1 && om_hex_digit('%') == -1 &&
	       om_hex_digit('\0') == -1, "om_hex_digit: -1 for others");
	lines = om_split_lines(text, &n);
	TAP_OK(n == 3 && strcmp(lines[0], "a@x.test") == 0 &&
	       strcmp(lines[1], "b@y.test") == 0 && strcmp(lines[2], "c@z.test") == 0,
	       "om_split_lines: non-empty lines, the last without a newline");
	free(lines);
	lines = om_split_lines(empty, &n);
	TAP_OK(n == 0 && lines == NULL, "om_split_lines: none in empty lines");
}

static void test_buf(void)
{
	struct om_buf b;
	size_t len, i;
	char *p;

	om_buf_init(&b);
	for (i = 0; i < 10000; i++)
		om_buf_append(&b, "xy", 2);
	p = om_buf_steal(&b, &len);
	TAP_OK(len == 20000 && strlen(p) == 20000 && b.data == NULL,
	       "buffer grows and hands over its data");
	free(p);
}

static void count_each(void *context, const char *key, void *value)
{
	(void)key;
	(void)value;
	(*(size_t *)context)++;
}

/* The map through growth, deletions (tombstones reused) and two-part
   keys: every key found, every deleted key gone, nothing else found. */
static void test_hash(void)
{
	struct om_hash *hash = om_hash_new(4);
	char key[32];
	size_t i, found = 0, gone = 0, seen = 0;
	int ok = 1;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		if (om_hash_set(hash, key, (void *)(i + 1)) != NULL)
			ok = 0;
	}
	TAP_OK(ok && om_hash_count(hash) == 20000, "20 000 keys set through growth");
	for (i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "key%zu", i);
		if (om_hash_delete(hash, key) != (void *)(i + 1))
			ok = 0;
	}
	TAP_OK(ok && om_hash_count(hash) == 10000, "every other key deleted");
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "key%zu", i);
		if (om_hash_get(hash, key) == (i % 2 == 0 ? NULL : (void *)(i + 1)))
			i % 2 == 0 ? gone++ : found++;
	}
	TAP_OK(found == 10000 && gone == 10000, "the rest found, the deleted gone");
	for (i = 0; i < 30000; i++) {	/* reuses the tombstones, grows again */
		snprintf(key, sizeof(key), "new%zu", i);
		om_hash_set(hash, key, (void *)1);
		snprintf(key, sizeof(key), "new%zu", i);
		if (i % 3 == 0 && om_hash_delete(hash, key) != (void *)1)
			ok = 0;
	}
	om_hash_each(hash, count_each, &seen);
	TAP_OK(ok && om_hash_count(hash) == 30000 && seen == 30000,
	       "insertions over tombstones: count and iteration agree");
	TAP_OK(om_hash_get(hash, "missing") == NULL && om_hash_get(hash, "") == NULL,
	       "absent keys are absent");
	om_hash_set(hash, "alice@example.jp\t@spam.example", (void *)7);
	TAP_OK(om_hash_get2(hash, "alice@example.jp", "@spam.example") == (void *)7 &&
	       om_hash_get2(hash, "alice@example.jp", "@spam.exampl") == NULL &&
	       om_hash_get2(hash, "alice@example.j", "p\t@spam.example") == NULL,
	       "two-part keys match whole parts only");
	TAP_OK(om_hash_set(hash, "key1", (void *)9) == (void *)2 && om_hash_get(hash, "key1") == (void *)9,
	       "set on an existing key returns the old value");
	om_hash_free(&hash, NULL);
	TAP_OK(hash == NULL, "free sets the pointer to NULL");
}

/* syslog asked for, its socket missing: stderr, not silence */
static void test_log_fallback(void)
{
	char dir[] = "/tmp/om-test-log.XXXXXX", path[64];
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	int fd;

	TAP_OK(om_log_open_at("test-util", 1, "/nonexistent/omamori-log") < 0 &&
	       !om_log_to_syslog(), "syslog unreachable: falls back to stderr");
	TAP_OK(om_log_open_at("test-util", 0, "/nonexistent/omamori-log") == 0 &&
	       !om_log_to_syslog(), "log = stderr: stderr");
	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/log", dir);
	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	strcpy(addr.un.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	TAP_OK(fd >= 0 && bind(fd, &addr.sa, sizeof(addr.un)) == 0 &&
	       om_log_open_at("test-util", 1, path) == 0 && om_log_to_syslog(),
	       "syslog reachable: syslog");
	(void)om_log_open_at("test-util", 0, path);
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(dir);
}

/* A field a caller forgot to sanitise still makes one line, controls shown
   as '?', a bidi control named; a clean line (Japanese included) is written
   as it is (the log is on stderr after test_log_fallback). */
static void test_log_line(void)
{
	char path[] = "/tmp/om-test-logline.XXXXXX", got[1024];
	const char *p;
	int lines = 0;
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n = -1;

	if (fd < 0 || saved < 0 || dup2(fd, 2) < 0) {
		TAP_OK(0, "redirecting stderr");
		return;
	}
	om_log_info("user=%s done", "eve\nerror: forged\r\x1b[2J");
	om_log_info("subject=%s", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab");
	om_log_info("name=%s", "a\xe2\x80\xae" "b");
	(void)dup2(saved, 2);
	close(saved);
	if (lseek(fd, 0, SEEK_SET) == 0)
		n = read(fd, got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	for (p = got; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	TAP_OK(n > 0 && strstr(got, "user=eve?error: forged??[2J done\n") != NULL &&
	       lines == 3 && got[n - 1] == '\n', "a log line stays one line");
	TAP_OK(strstr(got, "subject=\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae"
			  "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\n") != NULL,
	       "a clean UTF-8 line is written as it is");
	TAP_OK(strstr(got, "name=a[U+202E]b\n") != NULL, "a bidi control is named, not written");
	close(fd);
	unlink(path);
}

/* Through the log's writer thread (om_log_async_start): every line written
   by om_log_async_stop, in order, each still one sanitised line; after
   the stop, lines are written at once again. */
static void test_log_async(void)
{
	char path[] = "/tmp/om-test-logasync.XXXXXX", *got, *p, *error = NULL;
	int fd = mkstemp(path), saved = dup(2), i, in_order = 1;
	size_t cap = 1 << 20;
	ssize_t n = -1;
	char want[64];

	if (fd < 0 || saved < 0 || dup2(fd, 2) < 0) {
		TAP_OK(0, "redirecting stderr");
		return;
	}
	TAP_OK(om_log_async_start(&error) == 0, "the log's writer thread starts");
	for (i = 0; i < 1000; i++)
		om_log_info("async line %d", i);
	om_log_info("user=%s done", "eve\nerror: forged");
	om_log_async_stop();
	om_log_info("after the stop");
	(void)dup2(saved, 2);
	close(saved);
	got = om_malloc(cap);
	if (lseek(fd, 0, SEEK_SET) == 0)
		n = read(fd, got, cap - 1);
	got[n > 0 ? n : 0] = '\0';
	p = got;
	for (i = 0; i < 1000 && in_order; i++) {
		snprintf(want, sizeof(want), "async line %d\n", i);
		p = strstr(p, want);
		in_order = p != NULL;
	}
	TAP_OK(in_order, "all 1000 queued lines written, in order");
	TAP_OK(p != NULL && strstr(p, "user=eve?error: forged done\n") != NULL,
	       "a queued line is sanitised and stays one line");
	TAP_OK(strstr(got, "after the stop\n") != NULL &&
	       strstr(got, "dropped") == NULL, "written at once after the stop; none dropped");
	free(got);
	free(error);
	close(fd);
	unlink(path);
}

/* Seals of omamori's own reports: only the key's holder makes one, for
   one mailbox, for a while. */
static void test_report_seal(void)
{
	unsigned char key[OM_REPORT_KEY_LEN], other[OM_REPORT_KEY_LEN];
	time_t now = 1800000000;
	char *seal, *bad;

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	seal = om_report_seal(key, "Admin@Example.JP", now);
	TAP_OK(om_report_verify(key, seal, "admin@example.jp", now + 10) == 1,
	       "a seal verifies for its mailbox (any case)");
	TAP_OK(om_report_verify(key, seal, "taro@example.jp", now) == 0,
	       "not for another mailbox");
	TAP_OK(om_report_verify(other, seal, "admin@example.jp", now) == 0,
	       "not with another site's key");
	TAP_OK(om_report_verify(key, seal, "admin@example.jp",
				now + OM_REPORT_MAX_AGE) == 0, "not once stale");
	TAP_OK(om_report_verify(key, seal, "admin@example.jp", now - 3600) == 0,
	       "not from the future");
	bad = om_strdup(seal);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	TAP_OK(om_report_verify(key, bad, "admin@example.jp", now) == 0,
	       "not when the MAC is changed");
	free(bad);
	bad = om_asprintf("%s extra", seal);
	TAP_OK(om_report_verify(key, bad, "admin@example.jp", now) == 0 &&
	       om_report_verify(key, "", "admin@example.jp", now) == 0 &&
	       om_report_verify(key, "1 x y", "admin@example.jp", now) == 0,
	       "not when malformed");
	free(bad);
	bad = om_asprintf("1 99999999999999999999999 %s", strrchr(seal, ' ') + 1);
	TAP_OK(om_report_verify(key, bad, "admin@example.jp", now) == 0,
	       "not when the time overflows");
	free(bad);
	bad = om_asprintf("1 -%s", strchr(seal, ' ') + 1);
	TAP_OK(om_report_verify(key, bad, "admin@example.jp", now) == 0,
	       "not with a signed time");
	free(bad);
	free(seal);
}

int main(void)
{
	test_log_fallback();
	test_log_line();
	test_log_async();
	test_sanitize();
	test_parse();
	test_report_seal();
	test_json();
	test_strlcpy();
	test_address_key();
	test_defang();
	test_hex_and_lines();
	test_buf();
	test_hash();
	return tap_done();
}
