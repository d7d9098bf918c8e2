/* test-pg-freeze.c - one store handle kept open while tests/unit/store-pg.py
 * freezes, stops and starts its PostgreSQL server (issue 21: a server that
 * hangs or vanishes stalls a call for a bounded time only).  Opens argv[1]
 * (a store_path), then for each line "read" on stdin reads the "config"
 * revision through the same handle ("list": every list entry) and prints
 * "ok MS N" (N: the call's return, a list's rows) or "error MS MESSAGE"
 * (MS: the call's milliseconds), so the driver times each call as a daemon
 * would live it.  Not a TAP test of its own. */
#include "store/store.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_row(void *context, const char *key, const char *name,
		      const char *value)
{
	(void)key;
	(void)name;
	(void)value;
	(*(long *)context)++;
}

int main(int argc, char **argv)
{
	struct om_store *store = NULL;
	char line[64], *error = NULL, *p;
	long long revision, started;
	long rows = 0;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: test-pg-freeze STORE_PATH\n");
		return 2;
	}
	if (om_store_open(argv[1], OM_STORE_CREATE, 5000, &store, &error) < 0) {
		printf("error 0 %s\n", error);
		free(error);
		return 1;
	}
	printf("open\n");
	(void)fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		started = now_ms();
		if (strcmp(line, "list\n") == 0)
			ret = om_store_list_each(store, NULL, count_row, &rows, &error);
		else if (strcmp(line, "read\n") == 0)
			ret = om_store_revision(store, "config", &revision, &error);
		else
			continue;
		if (ret < 0) {
			/* libpq's messages may have several lines: one here */
			for (p = error; *p != '\0'; p++) {
				if (*p == '\n' || *p == '\t')
					*p = ' ';
			}
			printf("error %lld %s\n", now_ms() - started, error);
			free(error);
			error = NULL;
		} else {
			printf("ok %lld %d\n", now_ms() - started, ret);
		}
		(void)fflush(stdout);
	}
	om_store_close(&store);
	return 0;
}
