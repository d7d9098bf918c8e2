/* tap.h - a minimal TAP producer for omamori's C unit tests.
 *
 * Each check prints "ok N - name" or "not ok N - name" (with file:line), and
 * tap_done() prints the plan and returns the exit status, so automake's TAP
 * driver counts every case, not every program.
 */
#ifndef OM_TAP_H
#define OM_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct tap_state {
	int count;
	int failed;
};

static struct tap_state tap_state;

static void tap_ok_at(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void tap_ok_at(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_state.count++;
	printf("%sok %d - ", ok ? "" : "not ", tap_state.count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		tap_state.failed++;
		printf("# failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

#define TAP_OK(cond, ...) tap_ok_at((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* Removes a test's temporary directory (and counts a failure if it cannot). */
static __attribute__((unused)) void tap_remove_tree(const char *dir)
{
	char cmd[512];

	if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= sizeof(cmd) ||
	    system(cmd) != 0)
		tap_ok_at(0, __FILE__, __LINE__, "remove %s", dir);
}

static int tap_done(void)
{
	printf("1..%d\n", tap_state.count);
	return tap_state.failed == 0 ? 0 : 1;
}

#endif
