/* test-proto.c - unit tests of the scand wire protocol: round trips, every
 * malformed case the decoder must refuse (unknown words of typed fields
 * among them), reads fed a byte at a time, and the client's answer to a
 * scand that answers what it cannot read. */
#include "tap.h"
#include "proto/proto.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void put_field(struct om_buf *b, uint16_t tag, const void *v, uint32_t len)
{
	unsigned char h[6] = { (unsigned char)(tag >> 8), (unsigned char)tag,
			       (unsigned char)(len >> 24), (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8), (unsigned char)len };

	om_buf_append(b, h, 6);
	om_buf_append(b, v, len);
}

struct bad_case {
	const char *label;
	void (*build)(struct om_buf *b);
	const char *error_part;
};

static void test_request_round_trip(void)
{
	char *rcpts[] = { (char *)"a@example.jp", (char *)"b@example.jp" };
	struct om_scan_request req = {
		.session_id = (char *)"sid", .mailbox = (char *)"a@example.jp",
		.direction = OM_DIRECTION_IN, .mail_from = (char *)"s@remote.test",
		.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM, .rcpts = rcpts, .rcpt_count = 2,
		.message = "msg\0body", .message_len = 8,
	};
	struct om_scan_request got;
	struct om_buf b;
	uint16_t type;
	uint32_t len;
	char *error = NULL, *body;

	om_buf_init(&b);
	om_proto_encode_request(&req, &b);
	TAP_OK(om_proto_parse_header((unsigned char *)b.data, 1 << 20, &type, &len, &error) == 0 &&
	       type == OM_MSG_SCAN_REQUEST && len == b.len - OM_PROTO_HEADER_SIZE,
	       "request header parses");
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, len);
	TAP_OK(om_proto_decode_request(body, len, &got, &error) == 0, "request decodes");
	TAP_OK(strcmp(got.mailbox, "a@example.jp") == 0 && got.rcpt_count == 2 &&
	       strcmp(got.rcpts[1], "b@example.jp") == 0 && got.message_len == 8 &&
	       memcmp(got.message, "msg\0body", 8) == 0 &&
	       got.checks == (OM_CHECK_VIRUS | OM_CHECK_SPAM) &&
	       got.direction == OM_DIRECTION_IN && got.learn == OM_LEARN_NONE,
	       "request fields survive (binary message)");
	om_scan_request_free(&got);
	/* without checks: the virus check, as doc/protocol.md says */
	req.checks = 0;
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_request(body, b.len - OM_PROTO_HEADER_SIZE, &got, &error) == 0 &&
	       got.checks == OM_CHECK_VIRUS, "no checks field: virus");
	om_scan_request_free(&got);
	req.checks = OM_CHECK_VIRUS | OM_CHECK_SPAM;
	/* a learn request is the same frame with its own type */
	req.learn = OM_LEARN_HAM;
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_parse_header((unsigned char *)b.data, 1 << 20, &type, &len, &error) == 0 &&
	       type == OM_MSG_LEARN_REQUEST &&
	       om_proto_decode_request(body, len, &got, &error) == 0 &&
	       got.learn == OM_LEARN_HAM, "learn request round trip");
	om_scan_request_free(&got);
	/* none has no name: the encoder leaves the field out, and the
	   decoder refuses a request without a direction */
	req.learn = OM_LEARN_NONE;
	req.direction = OM_DIRECTION_NONE;
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_request(body, b.len - OM_PROTO_HEADER_SIZE, &got, &error) < 0 &&
	       strstr(error, "lacks") != NULL, "a request without a direction is refused");
	om_free(&error);
	om_buf_free(&b);
}

static void test_result_round_trip(void)
{
	struct om_scan_result res, got;
	struct om_buf b;
	char *error = NULL;

	om_scan_result_init(&res);
	res.verdict = OM_VERDICT_VIRUS;
	res.action = OM_ACTION_STRIP;
	res.virus = om_strdup("Eicar");
	res.message = om_strdup("new");
	res.message_len = 3;
	res.spam_score = om_strdup("7.25");
	res.spam_rules = om_strdup("BAYES_99,MISSING_DATE");
	res.spam_subject = om_strdup("[SPAM] x");
	om_scan_result_add_part(&res, "2", "application/zip", "a.zip", OM_VERDICT_VIRUS,
				"Eicar");
	om_scan_result_add_part(&res, "1", "text/plain", NULL, OM_VERDICT_CLEAN, NULL);
	om_buf_init(&b);
	om_proto_encode_result(&res, &b);
	TAP_OK(om_proto_decode_result(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE,
				      &got, &error) == 0, "result decodes");
	TAP_OK(got.part_count == 2 && strcmp(got.parts[0].filename, "a.zip") == 0 &&
	       got.parts[1].filename == NULL && got.message_len == 3 &&
	       got.parts[0].verdict == OM_VERDICT_VIRUS &&
	       got.parts[1].verdict == OM_VERDICT_CLEAN &&
	       got.verdict == OM_VERDICT_VIRUS &&
	       got.action == OM_ACTION_STRIP && strcmp(got.spam_score, "7.25") == 0 &&
	       strcmp(got.spam_rules, "BAYES_99,MISSING_DATE") == 0 &&
	       strcmp(got.spam_subject, "[SPAM] x") == 0 &&
	       got.spam_action == OM_SPAM_ACTION_NONE,
	       "result fields survive");
	om_scan_result_free(&got);
	/* a spam action survives too */
	om_free(&res.message);
	res.verdict = OM_VERDICT_SPAM;
	res.action = OM_ACTION_DELIVER;
	res.spam_action = OM_SPAM_ACTION_QUARANTINE;
	res.spam_reason = om_strdup("リンクの表示と、実際のリンク先のサイトが違います; x");
	om_buf_reset(&b);
	om_proto_encode_result(&res, &b);
	TAP_OK(om_proto_decode_result(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE,
				      &got, &error) == 0 && got.verdict == OM_VERDICT_SPAM &&
	       got.action == OM_ACTION_DELIVER &&
	       got.spam_action == OM_SPAM_ACTION_QUARANTINE &&
	       got.spam_reason != NULL && strcmp(got.spam_reason, res.spam_reason) == 0,
	       "spam result round trip, its reasons (tag 38) included");
	om_scan_result_free(&got);
	/* an action nobody set is left out, and the result refused */
	res.action = OM_ACTION_NONE;
	om_buf_reset(&b);
	om_proto_encode_result(&res, &b);
	TAP_OK(om_proto_decode_result(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE,
				      &got, &error) < 0 && strstr(error, "lacks") != NULL,
	       "a result without an action is refused");
	om_free(&error);
	om_scan_result_free(&res);
	om_buf_free(&b);
}

/* ---- results the client must refuse ---- */

static void res_unknown_action(struct om_buf *b)
{
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "deliver-all", 11);
}
static void res_unknown_verdict(struct om_buf *b)
{
	put_field(b, 16, "harmless", 8);
	put_field(b, 17, "deliver", 7);
}
static void res_case_matters(struct om_buf *b)
{
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "DELIVER", 7);
}
static void res_empty_action(struct om_buf *b)
{
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "", 0);
}
static void res_unknown_spam_action(struct om_buf *b)
{
	put_field(b, 16, "spam", 4);
	put_field(b, 17, "deliver", 7);
	put_field(b, 26, "forward", 7);
}
static void res_part_spam(struct om_buf *b)
{
	struct om_buf part;

	om_buf_init(&part);
	put_field(&part, 32, "1", 1);
	put_field(&part, 35, "spam", 4);
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "deliver", 7);
	put_field(b, 20, part.data, (uint32_t)part.len);
	om_buf_free(&part);
}
static void res_part_unknown_verdict(struct om_buf *b)
{
	struct om_buf part;

	om_buf_init(&part);
	put_field(&part, 32, "1", 1);
	put_field(&part, 35, "fine", 4);
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "deliver", 7);
	put_field(b, 20, part.data, (uint32_t)part.len);
	om_buf_free(&part);
}
static void res_strip_without_message(struct om_buf *b)
{
	put_field(b, 16, "virus", 5);
	put_field(b, 17, "strip", 5);
}
static void res_control_bytes(struct om_buf *b)
{
	put_field(b, 16, "clean", 5);
	put_field(b, 17, "x\n\x1b[31m", 7);
}

static const struct bad_case bad_results[] = {
	{ "unknown action", res_unknown_action, "unknown action 'deliver-all'" },
	{ "unknown verdict", res_unknown_verdict, "unknown verdict 'harmless'" },
	{ "action in capitals", res_case_matters, "unknown action 'DELIVER'" },
	{ "empty action", res_empty_action, "unknown action ''" },
	{ "unknown spam action", res_unknown_spam_action, "unknown spam action 'forward'" },
	{ "a part that is spam", res_part_spam, "part verdict spam" },
	{ "unknown part verdict", res_part_unknown_verdict, "unknown verdict 'fine'" },
	{ "strip without the message", res_strip_without_message, "strip without its message" },
	{ "control bytes in a word", res_control_bytes, "unknown action 'x" },
};

static void test_bad_results(void)
{
	struct om_scan_result res;
	struct om_buf b;
	char *error;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(bad_results); i++) {
		om_buf_init(&b);
		bad_results[i].build(&b);
		error = NULL;
		ret = om_proto_decode_result(b.data != NULL ? b.data : "", b.len, &res, &error);
		TAP_OK(ret < 0 && error != NULL &&
		       strstr(error, bad_results[i].error_part) != NULL &&
		       strchr(error, '\n') == NULL && strchr(error, '\x1b') == NULL &&
		       res.verdict == OM_VERDICT_NONE && res.action == OM_ACTION_NONE,
		       "result refused: %s (%s)", bad_results[i].label,
		       error ? error : "accepted!");
		free(error);
		om_buf_free(&b);
	}
}

static void bad_truncated_header(struct om_buf *b) { om_buf_append(b, "\x00\x02\x00", 3); }
static void bad_length_past_end(struct om_buf *b)
{
	om_buf_append(b, "\x00\x02\x00\x00\x00\x10" "ab", 8);
}
static void bad_unknown_tag(struct om_buf *b) { put_field(b, 999, "x", 1); }
static void bad_repeated(struct om_buf *b)
{
	put_field(b, 2, "a@x", 3);
	put_field(b, 2, "b@x", 3);
}
static void bad_nul_in_text(struct om_buf *b) { put_field(b, 2, "a\0b", 3); }
static void bad_missing_message(struct om_buf *b)
{
	put_field(b, 2, "a@x", 3);
	put_field(b, 3, "in", 2);
}
static void bad_direction(struct om_buf *b)
{
	put_field(b, 2, "a@x", 3);
	put_field(b, 3, "sideways", 8);
	put_field(b, 6, "m", 1);
}
static void bad_checks(struct om_buf *b)
{
	put_field(b, 2, "a@x", 3);
	put_field(b, 3, "in", 2);
	put_field(b, 7, "virus,eggs", 10);
	put_field(b, 6, "m", 1);
}
static void bad_learn(struct om_buf *b)
{
	put_field(b, 2, "a@x", 3);
	put_field(b, 3, "in", 2);
	put_field(b, 8, "maybe", 5);
	put_field(b, 6, "m", 1);
}

static const struct bad_case bad_cases[] = {
	{ "truncated field header", bad_truncated_header, "truncated field header" },
	{ "length past the frame", bad_length_past_end, "runs past the frame" },
	{ "unknown tag", bad_unknown_tag, "unknown field 999" },
	{ "repeated singleton", bad_repeated, "repeated" },
	{ "NUL in a text field", bad_nul_in_text, "NUL byte" },
	{ "missing required field", bad_missing_message, "lacks" },
	{ "bad direction", bad_direction, "unknown direction (in or out) 'sideways'" },
	{ "unknown check", bad_checks, "unknown checks (virus and/or spam) 'virus,eggs'" },
	{ "learn neither spam nor ham", bad_learn, "unknown learn (spam or ham) 'maybe'" },
};

static void test_bad_requests(void)
{
	struct om_scan_request req;
	struct om_buf b;
	char *error, *body;
	size_t i, len;

	for (i = 0; i < OM_N_ELEMENTS(bad_cases); i++) {
		om_buf_init(&b);
		bad_cases[i].build(&b);
		body = om_buf_steal(&b, &len);
		error = NULL;
		TAP_OK(om_proto_decode_request(body, len, &req, &error) < 0 &&
		       error != NULL && strstr(error, bad_cases[i].error_part) != NULL,
		       "refused: %s (%s)", bad_cases[i].label, error ? error : "accepted!");
		free(error);
	}
}

static void test_bad_headers(void)
{
	uint16_t type;
	uint32_t len;
	char *error = NULL;

	TAP_OK(om_proto_parse_header((const unsigned char *)"HTTP\x00\x01\x00\x01\x00\x00\x00\x00",
				     100, &type, &len, &error) < 0 && strstr(error, "magic"),
	       "bad magic refused");
	om_free(&error);
	TAP_OK(om_proto_parse_header((const unsigned char *)"OMSC\x00\x09\x00\x01\x00\x00\x00\x00",
				     100, &type, &len, &error) < 0 && strstr(error, "version 9"),
	       "other version refused");
	om_free(&error);
	TAP_OK(om_proto_parse_header((const unsigned char *)"OMSC\x00\x08\x00\x01\x00\x10\x00\x00",
				     100, &type, &len, &error) < 0 && strstr(error, "over the limit"),
	       "oversized body refused");
	om_free(&error);
}

struct dribble {
	int fd;
	struct om_buf data;
};

/* Writes two frames a byte at a time. */
static void *dribble_main(void *arg)
{
	struct dribble *d = arg;
	size_t i;

	for (i = 0; i < d->data.len; i++) {
		if (write(d->fd, d->data.data + i, 1) != 1)
			break;
		if (i % 7 == 0)
			usleep(100);
	}
	close(d->fd);
	return NULL;
}

static void test_fragmented_and_pipelined(void)
{
	struct dribble d;
	pthread_t thread;
	uint16_t type;
	char *body = NULL, *error = NULL;
	size_t len;
	int sv[2], ret1, ret2, ret3;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	om_buf_init(&d.data);
	om_proto_encode_error("first", &d.data);
	om_proto_encode_empty(OM_MSG_PING, &d.data);
	d.fd = sv[1];
	pthread_create(&thread, NULL, dribble_main, &d);
	ret1 = om_proto_read_frame(sv[0], 5000, 1024, &type, &body, &len, &error);
	TAP_OK(ret1 == 1 && type == OM_MSG_ERROR, "frame read a byte at a time");
	free(body);
	ret2 = om_proto_read_frame(sv[0], 5000, 1024, &type, &body, &len, &error);
	TAP_OK(ret2 == 1 && type == OM_MSG_PING && len == 0, "second pipelined frame");
	free(body);
	ret3 = om_proto_read_frame(sv[0], 5000, 1024, &type, &body, &len, &error);
	TAP_OK(ret3 == 0, "clean EOF after the last frame");
	pthread_join(thread, NULL);
	close(sv[0]);
	om_buf_free(&d.data);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	if (write(sv[1], "OMSC\x00\x08\x00\x04\x00\x00\x00\x09" "abc", 15) != 15)
		abort();
	close(sv[1]);
	TAP_OK(om_proto_read_frame(sv[0], 5000, 1024, &type, &body, &len, &error) < 0 &&
	       strstr(error, "middle of a frame"), "connection cut mid-frame is an error");
	om_free(&error);
	close(sv[0]);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	TAP_OK(om_proto_read_frame(sv[0], 200, 1024, &type, &body, &len, &error) < 0 &&
	       strstr(error, "timed out"), "silent peer times out");
	om_free(&error);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the client against a scand stand-in ---- */

struct stand_in {
	int listen_fd;
	const char *answer;	/* bytes to answer a request with */
	size_t answer_len;
};

/* Accepts one connection, reads the request frame, answers, closes. */
static void *stand_in_main(void *arg)
{
	struct stand_in *s = arg;
	uint16_t type;
	char *body = NULL, *error = NULL;
	size_t len;
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (om_proto_read_frame(fd, 5000, 1 << 20, &type, &body, &len, &error) == 1 &&
	    om_proto_write_all(fd, s->answer, s->answer_len, 5000, &error) == 0)
		(void)shutdown(fd, SHUT_WR);
	free(body);
	free(error);
	close(fd);
	return NULL;
}

/* om_scand_scan against a stand-in answering answer; its return. */
static int scan_against(const char *path, const void *answer, size_t answer_len,
			struct om_scan_result *res, char **error_r)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	struct stand_in s = { -1, answer, answer_len };
	struct om_scan_request req = {
		.mailbox = (char *)"a@example.jp", .direction = OM_DIRECTION_IN,
		.message = "Subject: x\n\nhi\n", .message_len = 15,
	};
	pthread_t thread;
	int ret;

	memset(&addr, 0, sizeof(addr));
	addr.un.sun_family = AF_UNIX;
	if (om_strlcpy(addr.un.sun_path, path, sizeof(addr.un.sun_path)) < 0)
		abort();
	(void)unlink(path);
	s.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s.listen_fd < 0 || bind(s.listen_fd, &addr.sa, sizeof(addr.un)) < 0 ||
	    listen(s.listen_fd, 1) < 0)
		abort();
	pthread_create(&thread, NULL, stand_in_main, &s);
	ret = om_scand_scan(path, 5000, &req, res, error_r);
	pthread_join(thread, NULL);
	close(s.listen_fd);
	(void)unlink(path);
	return ret;
}

static void test_client_answers(void)
{
	char dir[] = "/tmp/om-test-proto-XXXXXX", *path, *error = NULL;
	struct om_scan_result res;
	struct om_buf b, body;
	int ret;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/scand.sock", dir);
	/* a well-formed answer whose action this client does not know */
	om_buf_init(&body);
	res_unknown_action(&body);
	om_buf_init(&b);
	om_buf_append(&b, "OMSC\x00\x08\x00\x02", 8);
	om_buf_append(&b, (const char[]){ 0, 0, 0, (char)body.len }, 4);
	om_buf_append(&b, body.data, body.len);
	ret = scan_against(path, b.data, b.len, &res, &error);
	TAP_OK(ret == OM_SCAND_BAD_ANSWER && error != NULL &&
	       strstr(error, "unknown action 'deliver-all'") != NULL,
	       "an unknown action is a bad answer, never a result (%s)", error);
	om_free(&error);
	/* garbage */
	ret = scan_against(path, "HTTP/1.0 200 OK\r\n\r\n", 19, &res, &error);
	TAP_OK(ret == OM_SCAND_BAD_ANSWER && strstr(error, "magic") != NULL,
	       "a garbled frame is a bad answer (%s)", error);
	om_free(&error);
	/* another version */
	ret = scan_against(path, "OMSC\x00\x09\x00\x02\x00\x00\x00\x00", 12, &res, &error);
	TAP_OK(ret == OM_SCAND_BAD_ANSWER && strstr(error, "version 9") != NULL,
	       "another protocol version is a bad answer (%s)", error);
	om_free(&error);
	/* a frame type that is no answer to a scan */
	ret = scan_against(path, "OMSC\x00\x08\x00\x05\x00\x00\x00\x00", 12, &res, &error);
	TAP_OK(ret == OM_SCAND_BAD_ANSWER && strstr(error, "unexpected frame type 5") != NULL,
	       "a PONG to a scan is a bad answer (%s)", error);
	om_free(&error);
	/* scand's own error, and a scand that closes without a word: unavailable */
	om_buf_reset(&b);
	om_proto_encode_error("template missing", &b);
	ret = scan_against(path, b.data, b.len, &res, &error);
	TAP_OK(ret == OM_SCAND_UNAVAILABLE && strstr(error, "scand: template missing") != NULL,
	       "scand's ERROR: unavailable (%s)", error);
	om_free(&error);
	ret = scan_against(path, "", 0, &res, &error);
	TAP_OK(ret == OM_SCAND_UNAVAILABLE && strstr(error, "without an answer") != NULL,
	       "closed without an answer: unavailable (%s)", error);
	om_free(&error);
	ret = om_scand_scan(path, 1000, &(struct om_scan_request){ .mailbox = (char *)"",
			    .direction = OM_DIRECTION_IN, .message = "", .message_len = 0 },
			    &res, &error);
	TAP_OK(ret == OM_SCAND_UNAVAILABLE && strstr(error, "connect") != NULL,
	       "no scand: unavailable (%s)", error);
	om_free(&error);
	/* and a good answer is a result */
	om_buf_reset(&body);
	put_field(&body, 16, "clean", 5);
	put_field(&body, 17, "deliver", 7);
	om_buf_reset(&b);
	om_buf_append(&b, "OMSC\x00\x08\x00\x02", 8);
	om_buf_append(&b, (const char[]){ 0, 0, 0, (char)body.len }, 4);
	om_buf_append(&b, body.data, body.len);
	ret = scan_against(path, b.data, b.len, &res, &error);
	TAP_OK(ret == 0 && res.verdict == OM_VERDICT_CLEAN && res.action == OM_ACTION_DELIVER,
	       "a known answer is a result");
	if (ret == 0)
		om_scan_result_free(&res);
	om_buf_free(&b);
	om_buf_free(&body);
	free(path);
	tap_remove_tree(dir);
}

/* The unlock frames (v7): a request with every field and a member, a
   result with entries and a member's bytes, both back as they went. */
static void test_unlock_round_trip(void)
{
	struct om_unlock_request req, got;
	struct om_unlock_result res, back;
	struct om_buf b;
	char *error = NULL, *body;
	static const char data[] = "PK\003\004\0binary\0";

	memset(&req, 0, sizeof(req));
	req.mailbox = "alice@example.test";
	req.name = "docs.zip";
	req.password = "k8Pw-2026x";
	req.member = 1;
	req.data = data;
	req.data_len = sizeof(data) - 1;
	om_buf_init(&b);
	om_proto_encode_unlock_request(&req, &b);
	body = om_malloc(b.len - OM_PROTO_HEADER_SIZE + 1);
	memcpy(body, b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_unlock_request(body, b.len - OM_PROTO_HEADER_SIZE, &got,
					      &error) == 0 &&
	       strcmp(got.mailbox, req.mailbox) == 0 && strcmp(got.name, "docs.zip") == 0 &&
	       strcmp(got.password, "k8Pw-2026x") == 0 && got.member == 1 &&
	       got.data_len == req.data_len && memcmp(got.data, data, got.data_len) == 0,
	       "unlock request round trip (%s)", error != NULL ? error : "ok");
	om_free(&error);
	om_unlock_request_free(&got);

	/* without a member: a list request */
	req.member = -1;
	om_buf_reset(&b);
	om_proto_encode_unlock_request(&req, &b);
	body = om_malloc(b.len - OM_PROTO_HEADER_SIZE + 1);
	memcpy(body, b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_unlock_request(body, b.len - OM_PROTO_HEADER_SIZE, &got,
					      &error) == 0 && got.member == -1,
	       "unlock request without a member lists");
	om_free(&error);
	om_unlock_request_free(&got);

	memset(&res, 0, sizeof(res));
	res.status = OM_UNLOCK_OPENED;
	res.kind = om_strdup("zip");
	om_unlock_result_add(&res, "eicar.txt", 68, OM_VERDICT_VIRUS, "Eicar-Test", "");
	om_unlock_result_add(&res, "report.txt", 1530, OM_VERDICT_CLEAN, NULL, "");
	res.data = om_strdup("bytes");
	res.data_len = 5;
	om_buf_reset(&b);
	om_proto_encode_unlock_result(&res, &b);
	TAP_OK(om_proto_decode_unlock_result(b.data + OM_PROTO_HEADER_SIZE,
					     b.len - OM_PROTO_HEADER_SIZE, &back, &error) == 0 &&
	       back.status == OM_UNLOCK_OPENED && strcmp(back.kind, "zip") == 0 &&
	       back.entry_count == 2 && back.entries[0].verdict == OM_VERDICT_VIRUS &&
	       strcmp(back.entries[0].virus, "Eicar-Test") == 0 &&
	       back.entries[1].size == 1530 && back.entries[1].virus == NULL &&
	       back.data_len == 5 && memcmp(back.data, "bytes", 5) == 0,
	       "unlock result round trip (%s)", error != NULL ? error : "ok");
	om_free(&error);
	om_unlock_result_free(&back);
	om_unlock_result_free(&res);

	/* a result without its status is refused */
	om_buf_reset(&b);
	TAP_OK(om_proto_decode_unlock_result("", 0, &back, &error) < 0 &&
	       strstr(error, "status") != NULL, "an unlock result without status is refused");
	om_free(&error);
	om_buf_free(&b);
}

/* The checks frames (v8): every OM_CHECK_* combination back as it went,
   "none" for 0, and a frame a client or scand must not take refused. */
static void test_checks_frames(void)
{
	static const int all[] = { 0, OM_CHECK_VIRUS, OM_CHECK_SPAM,
				   OM_CHECK_VIRUS | OM_CHECK_SPAM };
	struct om_buf b, body;
	char *error = NULL, *mailbox = NULL;
	size_t i;
	int checks, ok = 1;

	om_buf_init(&b);
	om_buf_init(&body);
	om_proto_encode_checks_request("alice@example.test", &b);
	TAP_OK(b.data[7] == OM_MSG_CHECKS_REQUEST &&
	       om_proto_decode_checks_request(b.data + OM_PROTO_HEADER_SIZE,
					      b.len - OM_PROTO_HEADER_SIZE,
					      &mailbox, &error) == 0 &&
	       strcmp(mailbox, "alice@example.test") == 0,
	       "checks request round trip (%s)", error != NULL ? error : "ok");
	om_free(&mailbox);
	om_free(&error);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		om_buf_reset(&b);
		om_proto_encode_checks_result(all[i], &b);
		checks = -1;
		if (b.data[7] != OM_MSG_CHECKS_RESULT ||
		    om_proto_decode_checks_result(b.data + OM_PROTO_HEADER_SIZE,
						  b.len - OM_PROTO_HEADER_SIZE,
						  &checks, &error) < 0 ||
		    checks != all[i])
			ok = 0;
		om_free(&error);
	}
	TAP_OK(ok, "checks result round trip: none, virus, spam, both");
	om_buf_reset(&b);
	om_proto_encode_checks_result(0, &b);
	TAP_OK(b.len == OM_PROTO_HEADER_SIZE + 6 + 4 &&
	       memcmp(b.data + OM_PROTO_HEADER_SIZE + 6, "none", 4) == 0,
	       "no check is the word none");

	/* a request without its mailbox, with an empty one, with another field */
	TAP_OK(om_proto_decode_checks_request("", 0, &mailbox, &error) < 0 &&
	       mailbox == NULL && strstr(error, "mailbox") != NULL,
	       "a checks request without a mailbox is refused (%s)", error);
	om_free(&error);
	put_field(&body, 2, "", 0);
	TAP_OK(om_proto_decode_checks_request(body.data, body.len, &mailbox, &error) < 0 &&
	       mailbox == NULL, "a checks request with an empty mailbox is refused");
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 2, "a@example.jp", 12);
	put_field(&body, 2, "b@example.jp", 12);
	TAP_OK(om_proto_decode_checks_request(body.data, body.len, &mailbox, &error) < 0 &&
	       mailbox == NULL && strstr(error, "repeated") != NULL,
	       "a checks request with two mailboxes is refused (%s)", error);
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 2, "a@example.jp", 12);
	put_field(&body, 6, "x", 1);
	TAP_OK(om_proto_decode_checks_request(body.data, body.len, &mailbox, &error) < 0 &&
	       mailbox == NULL && strstr(error, "unknown field 6") != NULL,
	       "a checks request with a message is refused (%s)", error);
	om_free(&error);

	/* a result: missing, an unknown word, "none" mixed, repeated, a stray field */
	TAP_OK(om_proto_decode_checks_result("", 0, &checks, &error) < 0 &&
	       strstr(error, "lacks") != NULL, "an empty checks result is refused (%s)", error);
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 80, "virus,archive", 13);
	TAP_OK(om_proto_decode_checks_result(body.data, body.len, &checks, &error) < 0 &&
	       strstr(error, "unknown checks") != NULL,
	       "an unknown check is refused (%s)", error);
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 80, "none,spam", 9);
	TAP_OK(om_proto_decode_checks_result(body.data, body.len, &checks, &error) < 0,
	       "none with a check is refused");
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 80, "spam", 4);
	put_field(&body, 80, "none", 4);
	TAP_OK(om_proto_decode_checks_result(body.data, body.len, &checks, &error) < 0 &&
	       strstr(error, "repeated") != NULL, "a repeated checks field is refused (%s)", error);
	om_free(&error);
	om_buf_reset(&body);
	put_field(&body, 80, "spam", 4);
	put_field(&body, 16, "clean", 5);
	TAP_OK(om_proto_decode_checks_result(body.data, body.len, &checks, &error) < 0 &&
	       strstr(error, "unknown field 16") != NULL,
	       "a checks result with a verdict is refused (%s)", error);
	om_free(&error);
	om_buf_free(&body);
	om_buf_free(&b);
}

int main(void)
{
	test_checks_frames();
	test_unlock_round_trip();
	test_request_round_trip();
	test_result_round_trip();
	test_bad_results();
	test_client_answers();
	test_bad_requests();
	test_bad_headers();
	test_fragmented_and_pipelined();
	return tap_done();
}
