/* test-proto.c - unit tests of the scand wire protocol: round trips, every
 * malformed case the decoder must refuse, and reads fed a byte at a time. */
#include "tap.h"
#include "proto/proto.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put_field(struct om_buf *b, uint16_t tag, const void *v, uint32_t len)
{
	unsigned char h[6] = { (unsigned char)(tag >> 8), (unsigned char)tag,
			       (unsigned char)(len >> 24), (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8), (unsigned char)len };

	om_buf_append(b, h, 6);
	om_buf_append(b, v, len);
}

static void test_request_round_trip(void)
{
	char *rcpts[] = { (char *)"a@example.jp", (char *)"b@example.jp" };
	struct om_scan_request req = {
		.session_id = (char *)"sid", .mailbox = (char *)"a@example.jp",
		.direction = (char *)"in", .mail_from = (char *)"s@remote.test",
		.checks = (char *)"virus,spam", .rcpts = rcpts, .rcpt_count = 2,
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
	       memcmp(got.message, "msg\0body", 8) == 0 && strcmp(got.checks, "virus,spam") == 0 &&
	       got.learn == NULL, "request fields survive (binary message)");
	om_scan_request_free(&got);
	/* a learn request is the same frame with its own type */
	req.learn = (char *)"ham";
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_parse_header((unsigned char *)b.data, 1 << 20, &type, &len, &error) == 0 &&
	       type == OM_MSG_LEARN_REQUEST &&
	       om_proto_decode_request(body, len, &got, &error) == 0 &&
	       strcmp(got.learn, "ham") == 0, "learn request round trip");
	om_scan_request_free(&got);
	req.learn = (char *)"maybe";
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_request(body, b.len - OM_PROTO_HEADER_SIZE, &got, &error) < 0 &&
	       strstr(error, "learn") != NULL, "learn must be spam or ham");
	om_free(&error);
	req.learn = NULL;
	req.checks = (char *)"virus,eggs";
	om_buf_reset(&b);
	om_proto_encode_request(&req, &b);
	body = om_strndup(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE);
	TAP_OK(om_proto_decode_request(body, b.len - OM_PROTO_HEADER_SIZE, &got, &error) < 0 &&
	       strstr(error, "checks") != NULL, "unknown check refused");
	om_free(&error);
	om_buf_free(&b);
}

static void test_result_round_trip(void)
{
	struct om_scan_result res, got;
	struct om_buf b;
	char *error = NULL;

	om_scan_result_init(&res);
	res.verdict = om_strdup("virus");
	res.action = om_strdup("strip");
	res.virus = om_strdup("Eicar");
	res.message = om_strdup("new");
	res.message_len = 3;
	res.spam_score = om_strdup("7.25");
	res.spam_rules = om_strdup("BAYES_99,MISSING_DATE");
	res.spam_subject = om_strdup("[SPAM] x");
	om_scan_result_add_part(&res, "2", "application/zip", "a.zip", "virus", "Eicar");
	om_scan_result_add_part(&res, "1", "text/plain", NULL, "clean", NULL);
	om_buf_init(&b);
	om_proto_encode_result(&res, &b);
	TAP_OK(om_proto_decode_result(b.data + OM_PROTO_HEADER_SIZE, b.len - OM_PROTO_HEADER_SIZE,
				      &got, &error) == 0, "result decodes");
	TAP_OK(got.part_count == 2 && strcmp(got.parts[0].filename, "a.zip") == 0 &&
	       got.parts[1].filename == NULL && got.message_len == 3 &&
	       strcmp(got.action, "strip") == 0 && strcmp(got.spam_score, "7.25") == 0 &&
	       strcmp(got.spam_rules, "BAYES_99,MISSING_DATE") == 0 &&
	       strcmp(got.spam_subject, "[SPAM] x") == 0 && got.spam_action == NULL,
	       "result fields survive");
	om_scan_result_free(&got);
	om_scan_result_free(&res);
	om_buf_free(&b);
}

struct bad_case {
	const char *label;
	void (*build)(struct om_buf *b);
	const char *error_part;
};

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

static const struct bad_case bad_cases[] = {
	{ "truncated field header", bad_truncated_header, "truncated field header" },
	{ "length past the frame", bad_length_past_end, "runs past the frame" },
	{ "unknown tag", bad_unknown_tag, "unknown field 999" },
	{ "repeated singleton", bad_repeated, "repeated" },
	{ "NUL in a text field", bad_nul_in_text, "NUL byte" },
	{ "missing required field", bad_missing_message, "lacks" },
	{ "bad direction", bad_direction, "direction" },
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
	TAP_OK(om_proto_parse_header((const unsigned char *)"OMSC\x00\x07\x00\x01\x00\x00\x00\x00",
				     100, &type, &len, &error) < 0 && strstr(error, "version 7"),
	       "other version refused");
	om_free(&error);
	TAP_OK(om_proto_parse_header((const unsigned char *)"OMSC\x00\x03\x00\x01\x00\x10\x00\x00",
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
	if (write(sv[1], "OMSC\x00\x03\x00\x04\x00\x00\x00\x09" "abc", 15) != 15)
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

int main(void)
{
	test_request_round_trip();
	test_result_round_trip();
	test_bad_requests();
	test_bad_headers();
	test_fragmented_and_pipelined();
	return tap_done();
}
