/* audit-bench.c - what audit rules cost omamori-filter per message (issue
 * 17's benchmark row, in process: no Postfix), not a tool for admins.
 *
 *   audit-bench RULES-FILE MESSAGE-FILE N
 *
 * Prints the time to parse the rules (as the filter does per message),
 * to read the message for them (mail/text.c: MIME, charsets, NFKC) and to
 * run them, each per message over N rounds, and messages/s for the whole
 * step.  An empty RULES-FILE is "no rules" (the filter then reads nothing).
 */
#include "audit/audit.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct om_audit_rule *rules[1000];
	struct om_audit_result res;
	struct om_audit_msg *m;
	char *rtext, *msg, *error = NULL, *line, *save = NULL;
	char *rcpts[] = { "yamada@partner.example" };
	size_t rlen, mlen, count = 0, i;
	uint64_t t0, parse = 0, read = 0, run = 0;
	unsigned long n, r;

	if (argc != 4 || om_parse_ulong(argv[3], 1, 10000000, &n) < 0 ||
	    om_read_file(argv[1], 4 << 20, &rtext, &rlen, &error) < 0 ||
	    om_read_file(argv[2], 64 << 20, &msg, &mlen, &error) < 0) {
		fprintf(stderr, "usage: audit-bench RULES-FILE MESSAGE-FILE N%s%s\n",
			error != NULL ? ": " : "", error != NULL ? error : "");
		return 2;
	}
	for (r = 0; r < n; r++) {
		char *copy = om_strdup(rtext);

		t0 = om_now_ms();
		count = 0;
		for (line = strtok_r(copy, "\n", &save); line != NULL && count < 1000;
		     line = strtok_r(NULL, "\n", &save)) {
			rules[count] = om_audit_parse(line, &error);
			if (rules[count] == NULL) {
				fprintf(stderr, "%s: %s\n", line, error);
				return 2;
			}
			count++;
		}
		parse += om_now_ms() - t0;
		free(copy);
		if (count == 0)
			continue;	/* the filter reads nothing without rules */
		t0 = om_now_ms();
		m = om_audit_msg_read(msg, mlen, OM_AUDIT_DIR_OUT, "example.jp", "",
				      "taro@example.jp", rcpts, 1, &error);
		if (m == NULL) {
			fprintf(stderr, "message: %s\n", error);
			return 2;
		}
		read += om_now_ms() - t0;
		t0 = om_now_ms();
		om_audit_run(rules, count, m, &res);
		run += om_now_ms() - t0;
		om_audit_result_free(&res);
		om_audit_msg_free(&m);
		for (i = 0; i < count; i++)
			om_audit_rule_free(&rules[i]);
	}
	printf("rules=%zu rounds=%lu parse=%.3fms read=%.3fms run=%.3fms per message; "
	       "%.0f messages/s\n", count, n, (double)parse / n, (double)read / n,
	       (double)run / n, parse + read + run > 0 ?
	       1000.0 * n / (double)(parse + read + run) : 0.0);
	free(rtext);
	free(msg);
	return 0;
}
