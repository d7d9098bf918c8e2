/* fuzz-scan.c - libFuzzer target over the whole scan path: MIME parse, leaf
 * decoding, libclamav scans, decision and rewrite (scan.c), the spam check
 * (rules, tokenizer in every charset, classifier, subject tagging), plus
 * the wire decoder on the same bytes.  Built with clang when it is installed; run for
 * a short time by `make check` (tests/fuzz/run-fuzz.sh). */
#include "scan/av.h"
#include "mail/mime.h"
#include "proto/proto.h"
#include "scan/scan.h"
#include "store/snapshot.h"
#include "spam/spam.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TEMPLATES_DIR
#define TEMPLATES_DIR "templates"
#endif

struct fuzz_context {
	struct om_av_engine *engine;
	struct om_spam_db *spam;
	struct om_snapshot *snap;
};

static struct fuzz_context fuzz;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char eicar[] =
		"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	struct om_av_limits limits = { 1 << 24, 1 << 24, 8, 200, NULL };
	char dir[] = "/tmp/om-fuzz-sigs-XXXXXX", *path, *error = NULL;
	unsigned int sigs;
	FILE *f;
	size_t i;

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/fuzz.ndb", dir);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fprintf(f, "Omamori.Test.EICAR-1:0:*:");
	for (i = 0; i < strlen(eicar); i++)
		fprintf(f, "%02x", (unsigned char)eicar[i]);
	fprintf(f, "\n");
	fclose(f);
	om_mime_global_init();
	if (om_av_engine_load(dir, &limits, &fuzz.engine, &sigs, &error) < 0) {
		fprintf(stderr, "fuzz: %s\n", error);
		abort();
	}
	unlink(path);
	rmdir(dir);
	free(path);
	/* a classifier that knows a little, so tokens get looked up */
	fuzz.spam = om_spam_db_new();
	om_spam_learn(fuzz.spam, "Subject: cheap pills\n\nbuy now http://x.example/\n", 44, 1, 0);
	om_spam_learn(fuzz.spam, "Subject: meeting\n\nagenda attached\n", 35, 0, 0);
	fuzz.snap = om_snapshot_new();
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct om_scan_settings set = {
		.engine = fuzz.engine, .max_size = 1 << 22, .max_parts = 200,
		.max_depth = 20, .limit_action = OM_LIMIT_DELIVER,
		.templates_dir = TEMPLATES_DIR, .language = "ja",
		.notice_from = "postmaster@example.jp", .admin_copy = "admin@example.jp",
		.spam_db = fuzz.spam, .snap = fuzz.snap,
		.trusted_authserv_id = "mx.example.jp",
	};
	struct om_scan_request req, decoded;
	struct om_scan_result res;
	char *error = NULL, *copy;

	memset(&req, 0, sizeof(req));
	req.mailbox = (char *)"taro@example.jp";
	req.direction = OM_DIRECTION_IN;
	req.mail_from = (char *)"";
	req.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM;
	req.message = (const char *)data;
	req.message_len = size;
	om_scan_result_init(&res);
	if (om_scan_message(&set, &req, &res, &error) < 0)
		abort();	/* only a missing template may fail: a bug here */
	om_scan_result_free(&res);
	copy = om_malloc(size + 1);
	memcpy(copy, data, size);
	if (om_proto_decode_request(copy, size, &decoded, &error) == 0)
		om_scan_request_free(&decoded);
	else
		free(error);
	return 0;
}
