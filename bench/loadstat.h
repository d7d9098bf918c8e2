/* loadstat.h - what the closed-loop load generators (polload, webload)
 * share: the clock, a loopback TCP connection, and the latencies of one
 * run with their summary line.  One copy, so that two benchmarks that are
 * compared with each other measure and print alike.
 */
#ifndef OM_BENCH_LOADSTAT_H
#define OM_BENCH_LOADSTAT_H

#include <stddef.h>

/* Latencies in milliseconds, one per answered request. */
struct loadstat {
	double *ms;
	size_t count, cap;
};

/* Seconds on the monotonic clock. */
double loadstat_now(void);
/* A TCP connection to host (dotted quad) : port, TCP_NODELAY, non-blocking;
   -1 when it cannot be made. */
int loadstat_connect(const char *host, int port);
/* Adds one latency (aborts when memory runs out: a benchmark, not a server). */
void loadstat_record(struct loadstat *stat, double ms);
/* Sorts the latencies and prints "requests=N seconds=S rate=R p50_ms=..
   p99_ms=.. max_ms=.." without a line end, so that the caller adds its
   own counters. */
void loadstat_print(struct loadstat *stat, double seconds);

#endif
