/* proto.c - encoder, decoder and blocking I/O of the omamori-scand protocol.
 *
 * Both halves live here (the client used by the Dovecot plugin and
 * omamorictl, the frame reader used by scand) so they cannot drift apart.
 * Every length read from the wire is checked before it is used, and every
 * word of a typed field (lib/values.h) is turned into its value here: one
 * this side does not know refuses the frame.
 */
#include "proto/proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum om_proto_tag {
	/* request */
	OM_TAG_SESSION_ID = 1,
	OM_TAG_MAILBOX = 2,
	OM_TAG_DIRECTION = 3,
	OM_TAG_MAIL_FROM = 4,
	OM_TAG_RCPT = 5,
	OM_TAG_MESSAGE = 6,
	OM_TAG_CHECKS = 7,
	OM_TAG_LEARN = 8,
	/* result */
	OM_TAG_VERDICT = 16,
	OM_TAG_ACTION = 17,
	OM_TAG_VIRUS = 18,
	OM_TAG_REASON = 19,
	OM_TAG_PART = 20,
	OM_TAG_NEW_MESSAGE = 21,
	OM_TAG_ADMIN_ADDRESS = 22,
	OM_TAG_ADMIN_MESSAGE = 23,
	OM_TAG_SPAM_SCORE = 24,
	OM_TAG_SPAM_RULES = 25,
	OM_TAG_SPAM_ACTION = 26,
	OM_TAG_SPAM_TAG = 27,
	OM_TAG_SPAM_LISTED = 28,
	OM_TAG_SPAM_SUBJECT = 29,
	OM_TAG_AUTH_RESULTS = 30,
	OM_TAG_ATTACHMENTS = 31,
	OM_TAG_LINKS = 37,
	OM_TAG_SPAM_REASON = 38,
	/* part (nested in OM_TAG_PART) */
	OM_TAG_PART_PATH = 32,
	OM_TAG_PART_TYPE = 33,
	OM_TAG_PART_FILENAME = 34,
	OM_TAG_PART_VERDICT = 35,
	OM_TAG_PART_VIRUS = 36,
	/* error */
	OM_TAG_ERROR_TEXT = 48,
	/* unlock request (v7) */
	OM_TAG_UNLOCK_NAME = 64,
	OM_TAG_UNLOCK_PASSWORD = 65,
	OM_TAG_UNLOCK_MEMBER = 71,	/* not 66: 66 % 64 is the mailbox's bit of om_field_once */
	OM_TAG_UNLOCK_DATA = 67,
	/* unlock result */
	OM_TAG_UNLOCK_STATUS = 68,
	OM_TAG_UNLOCK_KIND = 69,
	OM_TAG_UNLOCK_ENTRY = 70,
	/* entry (nested in OM_TAG_UNLOCK_ENTRY) */
	OM_TAG_ENTRY_NAME = 72,
	OM_TAG_ENTRY_SIZE = 73,
	OM_TAG_ENTRY_VERDICT = 74,
	OM_TAG_ENTRY_VIRUS = 75,
	OM_TAG_ENTRY_FINDINGS = 76,
	/* checks result (v8) */
	OM_TAG_SUBSCRIBED = 80,
};

#define OM_FIELD_HEADER_SIZE 6

/* ---- encoding ---- */

static void om_put_u16(struct om_buf *out, uint16_t v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	om_buf_append(out, b, 2);
}

static void om_put_u32(struct om_buf *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	om_buf_append(out, b, 4);
}

static void om_put_field(struct om_buf *out, uint16_t tag, const void *data,
			 size_t len)
{
	om_put_u16(out, tag);
	om_put_u32(out, (uint32_t)len);
	om_buf_append(out, data, len);
}

static void om_put_str(struct om_buf *out, uint16_t tag, const char *s)
{
	if (s != NULL)
		om_put_field(out, tag, s, strlen(s));
}

/* Starts a frame; returns the offset of its length field. */
static size_t om_frame_begin(struct om_buf *out, enum om_proto_type type)
{
	size_t at;

	om_buf_append(out, OM_PROTO_MAGIC, 4);
	om_put_u16(out, OM_PROTO_VERSION);
	om_put_u16(out, (uint16_t)type);
	at = out->len;
	om_put_u32(out, 0);
	return at;
}

/* Writes the frame's body length (big-endian) at len_at. */
static void om_frame_set_length(struct om_buf *out, size_t len_at, uint32_t body)
{
	unsigned char *p = (unsigned char *)out->data + len_at;

	p[0] = (unsigned char)(body >> 24);
	p[1] = (unsigned char)(body >> 16);
	p[2] = (unsigned char)(body >> 8);
	p[3] = (unsigned char)body;
}

static void om_frame_end(struct om_buf *out, size_t len_at)
{
	om_frame_set_length(out, len_at, (uint32_t)(out->len - len_at - 4));
}

void om_proto_encode_request_head(const struct om_scan_request *req,
				  struct om_buf *out)
{
	size_t at = om_frame_begin(out, req->learn != OM_LEARN_NONE ?
				   OM_MSG_LEARN_REQUEST : OM_MSG_SCAN_REQUEST), i;

	om_put_str(out, OM_TAG_SESSION_ID, req->session_id);
	om_put_str(out, OM_TAG_CHECKS, om_proto_checks_name(req->checks));
	om_put_str(out, OM_TAG_LEARN, om_learn_name(req->learn));
	om_put_str(out, OM_TAG_MAILBOX, req->mailbox);
	om_put_str(out, OM_TAG_DIRECTION, om_direction_name(req->direction));
	om_put_str(out, OM_TAG_MAIL_FROM, req->mail_from);
	for (i = 0; i < req->rcpt_count; i++)
		om_put_str(out, OM_TAG_RCPT, req->rcpts[i]);
	/* the message field last, its bytes to follow the head */
	om_put_u16(out, OM_TAG_MESSAGE);
	om_put_u32(out, (uint32_t)req->message_len);
	om_frame_set_length(out, at, (uint32_t)(out->len - at - 4 + req->message_len));
}

void om_proto_encode_request(const struct om_scan_request *req,
			     struct om_buf *out)
{
	om_proto_encode_request_head(req, out);
	om_buf_append(out, req->message, req->message_len);
}

void om_proto_encode_result(const struct om_scan_result *res,
			    struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_SCAN_RESULT), i;
	struct om_buf part;

	/* none has no name: the field is left out, and the peer refuses a
	   result without it */
	om_put_str(out, OM_TAG_VERDICT, om_verdict_name(res->verdict));
	om_put_str(out, OM_TAG_ACTION, om_action_name(res->action));
	om_put_str(out, OM_TAG_VIRUS, res->virus);
	om_put_str(out, OM_TAG_REASON, res->reason);
	om_put_str(out, OM_TAG_SPAM_SCORE, res->spam_score);
	om_put_str(out, OM_TAG_SPAM_RULES, res->spam_rules);
	om_put_str(out, OM_TAG_SPAM_ACTION, om_spam_action_name(res->spam_action));
	om_put_str(out, OM_TAG_SPAM_TAG, res->spam_tag);
	om_put_str(out, OM_TAG_SPAM_LISTED, res->spam_listed);
	om_put_str(out, OM_TAG_SPAM_SUBJECT, res->spam_subject);
	om_put_str(out, OM_TAG_AUTH_RESULTS, res->auth_results);
	om_put_str(out, OM_TAG_ATTACHMENTS, res->attachments);
	om_put_str(out, OM_TAG_LINKS, om_links_done_name(res->links));
	om_put_str(out, OM_TAG_SPAM_REASON, res->spam_reason);
	om_buf_init(&part);
	for (i = 0; i < res->part_count; i++) {
		const struct om_scan_part *p = &res->parts[i];

		om_buf_reset(&part);
		om_put_str(&part, OM_TAG_PART_PATH, p->path);
		om_put_str(&part, OM_TAG_PART_TYPE, p->content_type);
		om_put_str(&part, OM_TAG_PART_FILENAME, p->filename);
		om_put_str(&part, OM_TAG_PART_VERDICT, om_verdict_name(p->verdict));
		om_put_str(&part, OM_TAG_PART_VIRUS, p->virus);
		om_put_field(out, OM_TAG_PART, part.data, part.len);
	}
	om_buf_free(&part);
	if (res->message != NULL)
		om_put_field(out, OM_TAG_NEW_MESSAGE, res->message,
			     res->message_len);
	om_put_str(out, OM_TAG_ADMIN_ADDRESS, res->admin_address);
	if (res->admin_message != NULL)
		om_put_field(out, OM_TAG_ADMIN_MESSAGE, res->admin_message,
			     res->admin_message_len);
	om_frame_end(out, at);
}

void om_proto_encode_error(const char *text, struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_ERROR);

	om_put_str(out, OM_TAG_ERROR_TEXT, text);
	om_frame_end(out, at);
}

void om_proto_encode_empty(enum om_proto_type type, struct om_buf *out)
{
	om_frame_end(out, om_frame_begin(out, type));
}

int om_proto_checks_parse(const char *text)
{
	int checks = 0;
	size_t n;

	while (*text != '\0') {
		n = strcspn(text, ",");
		if (n == 5 && strncmp(text, "virus", 5) == 0)
			checks |= OM_CHECK_VIRUS;
		else if (n == 4 && strncmp(text, "spam", 4) == 0)
			checks |= OM_CHECK_SPAM;
		else
			return -1;
		text += n;
		if (*text == ',')
			text++;
	}
	return checks == 0 ? -1 : checks;
}

const char *om_proto_checks_name(int checks)
{
	switch (checks) {
	case OM_CHECK_VIRUS: return "virus";
	case OM_CHECK_SPAM: return "spam";
	case OM_CHECK_VIRUS | OM_CHECK_SPAM: return "virus,spam";
	}
	return NULL;
}

/* ---- decoding ---- */

struct om_field_reader {
	const unsigned char *data;
	size_t len, pos;
	uint64_t seen;
};

/* Reads the next field; 1 got one, 0 at the end, -1 truncated. */
static int om_field_next(struct om_field_reader *r, uint16_t *tag_r,
			 const char **value_r, size_t *len_r, char **error_r)
{
	const unsigned char *p;
	uint32_t flen;

	if (r->pos == r->len)
		return 0;
	if (r->len - r->pos < OM_FIELD_HEADER_SIZE) {
		*error_r = om_strdup("truncated field header");
		return -1;
	}
	p = r->data + r->pos;
	*tag_r = (uint16_t)((p[0] << 8) | p[1]);
	flen = ((uint32_t)p[2] << 24) | ((uint32_t)p[3] << 16) |
		((uint32_t)p[4] << 8) | p[5];
	if (flen > r->len - r->pos - OM_FIELD_HEADER_SIZE) {
		*error_r = om_asprintf("field %u: length %u runs past the frame",
				       *tag_r, flen);
		return -1;
	}
	*value_r = (const char *)p + OM_FIELD_HEADER_SIZE;
	*len_r = flen;
	r->pos += OM_FIELD_HEADER_SIZE + flen;
	return 1;
}

/* Marks a singleton tag as seen; -1 if it was already. */
static int om_field_once(struct om_field_reader *r, uint16_t tag,
			 char **error_r)
{
	uint64_t bit = (uint64_t)1 << (tag % 64);

	if ((r->seen & bit) != 0) {
		*error_r = om_asprintf("field %u repeated", tag);
		return -1;
	}
	r->seen |= bit;
	return 0;
}

/* Copies a text field; -1 if it holds a NUL byte. */
static int om_field_text(uint16_t tag, const char *value, size_t len,
			 char **text_r, char **error_r)
{
	if (memchr(value, '\0', len) != NULL) {
		*error_r = om_asprintf("field %u: NUL byte in text", tag);
		return -1;
	}
	*text_r = om_strndup(value, len);
	return 0;
}

static int om_field_text_once(struct om_field_reader *r, uint16_t tag,
			      const char *value, size_t len, char **text_r,
			      char **error_r)
{
	if (om_field_once(r, tag, error_r) < 0)
		return -1;
	return om_field_text(tag, value, len, text_r, error_r);
}

/* The error for a word that is no value of its field (what): the word
   sanitised, since it came from the peer and goes to a log line. */
static char *om_field_unknown(const char *what, const char *word)
{
	char *clean = om_sanitize(word, 64);
	char *error = om_asprintf("unknown %s '%s'", what, clean);

	free(clean);
	return error;
}

/* Reads a singleton word field into *word_r (allocated; NULL on error). */
static int om_field_word(struct om_field_reader *r, uint16_t tag,
			 const char *value, size_t len, char **word_r,
			 char **error_r)
{
	*word_r = NULL;
	return om_field_text_once(r, tag, value, len, word_r, error_r);
}

static int om_field_direction(struct om_field_reader *r, uint16_t tag,
			      const char *value, size_t len,
			      enum om_direction *direction_r, char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_direction_parse(word, direction_r)) < 0)
		*error_r = om_field_unknown("direction (in or out)", word);
	free(word);
	return ret;
}

static int om_field_checks(struct om_field_reader *r, uint16_t tag,
			   const char *value, size_t len, int *checks_r,
			   char **error_r)
{
	char *word;
	int checks;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((checks = om_proto_checks_parse(word)) < 0)
		*error_r = om_field_unknown("checks (virus and/or spam)", word);
	else
		*checks_r = checks;
	free(word);
	return checks < 0 ? -1 : 0;
}

static int om_field_learn(struct om_field_reader *r, uint16_t tag,
			  const char *value, size_t len, enum om_learn *learn_r,
			  char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_learn_parse(word, learn_r)) < 0)
		*error_r = om_field_unknown("learn (spam or ham)", word);
	free(word);
	return ret;
}

static int om_field_verdict(struct om_field_reader *r, uint16_t tag,
			    const char *value, size_t len,
			    enum om_verdict *verdict_r, char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_verdict_parse(word, verdict_r)) < 0)
		*error_r = om_field_unknown("verdict", word);
	free(word);
	return ret;
}

static int om_field_action(struct om_field_reader *r, uint16_t tag,
			   const char *value, size_t len,
			   enum om_action *action_r, char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_action_parse(word, action_r)) < 0)
		*error_r = om_field_unknown("action", word);
	free(word);
	return ret;
}

static int om_field_spam_action(struct om_field_reader *r, uint16_t tag,
				const char *value, size_t len,
				enum om_spam_action *action_r, char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_spam_action_parse(word, action_r)) < 0)
		*error_r = om_field_unknown("spam action", word);
	free(word);
	return ret;
}

static int om_field_links(struct om_field_reader *r, uint16_t tag,
			  const char *value, size_t len,
			  enum om_links_done *done_r, char **error_r)
{
	char *word;
	int ret;

	if (om_field_word(r, tag, value, len, &word, error_r) < 0)
		return -1;
	if ((ret = om_links_done_parse(word, done_r)) < 0)
		*error_r = om_field_unknown("links", word);
	free(word);
	return ret;
}

static int om_decode_request_field(struct om_field_reader *r,
				   struct om_scan_request *req, uint16_t tag,
				   const char *value, size_t len,
				   char **error_r)
{
	char *text;

	switch (tag) {
	case OM_TAG_SESSION_ID:
		return om_field_text_once(r, tag, value, len, &req->session_id, error_r);
	case OM_TAG_MAILBOX:
		return om_field_text_once(r, tag, value, len, &req->mailbox, error_r);
	case OM_TAG_DIRECTION:
		return om_field_direction(r, tag, value, len, &req->direction, error_r);
	case OM_TAG_MAIL_FROM:
		return om_field_text_once(r, tag, value, len, &req->mail_from, error_r);
	case OM_TAG_CHECKS:
		return om_field_checks(r, tag, value, len, &req->checks, error_r);
	case OM_TAG_LEARN:
		return om_field_learn(r, tag, value, len, &req->learn, error_r);
	case OM_TAG_RCPT:
		if (req->rcpt_count >= OM_PROTO_MAX_RCPTS) {
			*error_r = om_strdup("too many recipients");
			return -1;
		}
		if (om_field_text(tag, value, len, &text, error_r) < 0)
			return -1;
		req->rcpts = om_realloc(req->rcpts, (req->rcpt_count + 1) *
					sizeof(char *));
		req->rcpts[req->rcpt_count++] = text;
		return 0;
	case OM_TAG_MESSAGE:
		if (om_field_once(r, tag, error_r) < 0)
			return -1;
		req->message = value;
		req->message_len = len;
		return 0;
	}
	*error_r = om_asprintf("unknown field %u in scan request", tag);
	return -1;
}

int om_proto_decode_request(char *body, size_t len,
			    struct om_scan_request *req_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	const char *value;
	size_t vlen;
	uint16_t tag;
	int ret;

	memset(req_r, 0, sizeof(*req_r));
	req_r->frame = body;
	while ((ret = om_field_next(&r, &tag, &value, &vlen, error_r)) > 0) {
		if (om_decode_request_field(&r, req_r, tag, value, vlen,
					    error_r) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && (req_r->mailbox == NULL ||
			 req_r->direction == OM_DIRECTION_NONE ||
			 req_r->message == NULL)) {
		*error_r = om_strdup("scan request lacks mailbox, direction or message");
		ret = -1;
	}
	if (ret == 0 && req_r->checks == 0)
		req_r->checks = OM_CHECK_VIRUS;
	if (ret < 0) {
		om_scan_request_free(req_r);
		return -1;
	}
	return 0;
}

static int om_decode_part(const char *value, size_t len,
			  struct om_scan_part *part, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)value, len, 0, 0 };
	const char *v;
	size_t vlen;
	uint16_t tag;
	char **dest;
	int ret;

	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		switch (tag) {
		case OM_TAG_PART_PATH: dest = &part->path; break;
		case OM_TAG_PART_TYPE: dest = &part->content_type; break;
		case OM_TAG_PART_FILENAME: dest = &part->filename; break;
		case OM_TAG_PART_VIRUS: dest = &part->virus; break;
		case OM_TAG_PART_VERDICT:
			if (om_field_verdict(&r, tag, v, vlen, &part->verdict,
					     error_r) < 0)
				return -1;
			continue;
		default:
			*error_r = om_asprintf("unknown field %u in part", tag);
			return -1;
		}
		if (om_field_text_once(&r, tag, v, vlen, dest, error_r) < 0)
			return -1;
	}
	if (ret == 0 && (part->path == NULL || part->verdict == OM_VERDICT_NONE)) {
		*error_r = om_strdup("part lacks path or verdict");
		return -1;
	}
	if (ret == 0 && part->verdict == OM_VERDICT_SPAM) {
		*error_r = om_strdup("part verdict spam (a part is clean, virus or unscanned)");
		return -1;
	}
	return ret;
}

static int om_field_blob_once(struct om_field_reader *r, uint16_t tag,
			      const char *value, size_t len, char **blob_r,
			      size_t *len_r, char **error_r)
{
	if (om_field_once(r, tag, error_r) < 0)
		return -1;
	*blob_r = om_strndup(value, len);
	*len_r = len;
	return 0;
}

static int om_decode_result_field(struct om_field_reader *r,
				  struct om_scan_result *res, uint16_t tag,
				  const char *value, size_t len,
				  char **error_r)
{
	switch (tag) {
	case OM_TAG_VERDICT:
		return om_field_verdict(r, tag, value, len, &res->verdict, error_r);
	case OM_TAG_ACTION:
		return om_field_action(r, tag, value, len, &res->action, error_r);
	case OM_TAG_VIRUS:
		return om_field_text_once(r, tag, value, len, &res->virus, error_r);
	case OM_TAG_REASON:
		return om_field_text_once(r, tag, value, len, &res->reason, error_r);
	case OM_TAG_ADMIN_ADDRESS:
		return om_field_text_once(r, tag, value, len, &res->admin_address, error_r);
	case OM_TAG_SPAM_SCORE:
		return om_field_text_once(r, tag, value, len, &res->spam_score, error_r);
	case OM_TAG_SPAM_RULES:
		return om_field_text_once(r, tag, value, len, &res->spam_rules, error_r);
	case OM_TAG_SPAM_ACTION:
		return om_field_spam_action(r, tag, value, len, &res->spam_action,
					    error_r);
	case OM_TAG_SPAM_TAG:
		return om_field_text_once(r, tag, value, len, &res->spam_tag, error_r);
	case OM_TAG_SPAM_LISTED:
		return om_field_text_once(r, tag, value, len, &res->spam_listed, error_r);
	case OM_TAG_SPAM_SUBJECT:
		return om_field_text_once(r, tag, value, len, &res->spam_subject, error_r);
	case OM_TAG_AUTH_RESULTS:
		return om_field_text_once(r, tag, value, len, &res->auth_results, error_r);
	case OM_TAG_ATTACHMENTS:
		return om_field_text_once(r, tag, value, len, &res->attachments, error_r);
	case OM_TAG_SPAM_REASON:
		return om_field_text_once(r, tag, value, len, &res->spam_reason, error_r);
	case OM_TAG_LINKS:
		return om_field_links(r, tag, value, len, &res->links, error_r);
	case OM_TAG_NEW_MESSAGE:
		return om_field_blob_once(r, tag, value, len, &res->message,
					  &res->message_len, error_r);
	case OM_TAG_ADMIN_MESSAGE:
		return om_field_blob_once(r, tag, value, len, &res->admin_message,
					  &res->admin_message_len, error_r);
	case OM_TAG_PART:
		if (res->part_count >= OM_PROTO_MAX_PARTS) {
			*error_r = om_strdup("too many parts");
			return -1;
		}
		res->parts = om_realloc(res->parts, (res->part_count + 1) *
					sizeof(*res->parts));
		memset(&res->parts[res->part_count], 0, sizeof(*res->parts));
		res->part_count++;
		return om_decode_part(value, len, &res->parts[res->part_count - 1],
				      error_r);
	}
	*error_r = om_asprintf("unknown field %u in scan result", tag);
	return -1;
}

int om_proto_decode_result(const char *body, size_t len,
			   struct om_scan_result *res_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	const char *value;
	size_t vlen;
	uint16_t tag;
	int ret;

	om_scan_result_init(res_r);
	while ((ret = om_field_next(&r, &tag, &value, &vlen, error_r)) > 0) {
		if (om_decode_result_field(&r, res_r, tag, value, vlen,
					   error_r) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && (res_r->verdict == OM_VERDICT_NONE ||
			 res_r->action == OM_ACTION_NONE)) {
		*error_r = om_strdup("scan result lacks verdict or action");
		ret = -1;
	}
	if (ret == 0 && res_r->message == NULL &&
	    (res_r->action == OM_ACTION_STRIP || res_r->action == OM_ACTION_REPLACE)) {
		/* delivering the original instead would deliver the virus */
		*error_r = om_asprintf("action %s without its message",
				       om_action_name(res_r->action));
		ret = -1;
	}
	if (ret < 0) {
		om_scan_result_free(res_r);
		return -1;
	}
	return 0;
}

int om_proto_decode_error(const char *body, size_t len, char **text_r,
			  char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	const char *value;
	size_t vlen;
	uint16_t tag;
	int ret;

	*text_r = NULL;
	while ((ret = om_field_next(&r, &tag, &value, &vlen, error_r)) > 0) {
		if (tag != OM_TAG_ERROR_TEXT) {
			*error_r = om_asprintf("unknown field %u in error", tag);
			ret = -1;
			break;
		}
		if (om_field_text_once(&r, tag, value, vlen, text_r, error_r) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && *text_r == NULL) {
		*error_r = om_strdup("error frame without text");
		ret = -1;
	}
	if (ret < 0)
		om_free(text_r);
	return ret;
}

int om_proto_parse_header(const unsigned char *hdr, size_t max_body,
			  uint16_t *type_r, uint32_t *body_len_r,
			  char **error_r)
{
	uint16_t version;

	if (memcmp(hdr, OM_PROTO_MAGIC, 4) != 0) {
		*error_r = om_strdup("not an omamori-scand frame (bad magic)");
		return -1;
	}
	version = (uint16_t)((hdr[4] << 8) | hdr[5]);
	if (version != OM_PROTO_VERSION) {
		*error_r = om_asprintf("protocol version %u, expected %u",
				       version, OM_PROTO_VERSION);
		return -1;
	}
	*type_r = (uint16_t)((hdr[6] << 8) | hdr[7]);
	*body_len_r = ((uint32_t)hdr[8] << 24) | ((uint32_t)hdr[9] << 16) |
		((uint32_t)hdr[10] << 8) | hdr[11];
	if (*body_len_r > max_body) {
		*error_r = om_asprintf("frame body of %u bytes is over the limit of %zu",
				       *body_len_r, max_body);
		return -1;
	}
	return 0;
}

/* ---- structures ---- */

void om_scan_request_free(struct om_scan_request *req)
{
	size_t i;

	free(req->session_id);
	free(req->mailbox);
	free(req->mail_from);
	for (i = 0; i < req->rcpt_count; i++)
		free(req->rcpts[i]);
	free(req->rcpts);
	free(req->frame);
	memset(req, 0, sizeof(*req));
}

void om_scan_result_init(struct om_scan_result *res)
{
	memset(res, 0, sizeof(*res));
}

void om_scan_result_free(struct om_scan_result *res)
{
	size_t i;

	for (i = 0; i < res->part_count; i++) {
		free(res->parts[i].path);
		free(res->parts[i].content_type);
		free(res->parts[i].filename);
		free(res->parts[i].virus);
	}
	free(res->parts);
	free(res->virus);
	free(res->reason);
	free(res->spam_score);
	free(res->spam_rules);
	free(res->spam_tag);
	free(res->spam_listed);
	free(res->spam_subject);
	free(res->auth_results);
	free(res->attachments);
	free(res->spam_reason);
	free(res->message);
	free(res->admin_address);
	free(res->admin_message);
	free(res->trace_message_id);
	free(res->trace_subject);
	free(res->trace_queue_id);
	om_scan_result_init(res);
}

static char *om_strdup_or_null(const char *s)
{
	return s == NULL ? NULL : om_strdup(s);
}

void om_scan_result_add_part(struct om_scan_result *res, const char *path,
			     const char *content_type, const char *filename,
			     enum om_verdict verdict, const char *virus)
{
	struct om_scan_part *p;

	res->parts = om_realloc(res->parts, (res->part_count + 1) *
				sizeof(*res->parts));
	p = &res->parts[res->part_count++];
	p->path = om_strdup(path);
	p->content_type = om_strdup_or_null(content_type);
	p->filename = om_strdup_or_null(filename);
	p->verdict = verdict;
	p->virus = om_strdup_or_null(virus);
}

/* ---- blocking I/O with a deadline ---- */

static int om_wait_fd(int fd, short events, uint64_t deadline,
		      char **error_r)
{
	struct pollfd pfd = { fd, events, 0 };
	uint64_t now;
	int ret;

	for (;;) {
		now = om_now_ms();
		if (now >= deadline) {
			*error_r = om_strdup("timed out");
			return -1;
		}
		ret = poll(&pfd, 1, (int)(deadline - now));
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR) {
			*error_r = om_asprintf("poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int om_write_until(int fd, const void *data, size_t len,
			  uint64_t deadline, char **error_r)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if (om_wait_fd(fd, POLLOUT, deadline, error_r) < 0)
			return -1;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			*error_r = om_asprintf("write: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int om_proto_write_all(int fd, const void *data, size_t len, int timeout_ms,
		       char **error_r)
{
	return om_write_until(fd, data, len, om_now_ms() + (uint64_t)timeout_ms,
			      error_r);
}

/* Reads exactly len bytes; returns 1, 0 on EOF before the first byte (when
   eof_ok), -1 on error or a short read. */
static int om_read_until(int fd, void *data, size_t len, uint64_t deadline,
			 int eof_ok, char **error_r)
{
	char *p = data;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (om_wait_fd(fd, POLLIN, deadline, error_r) < 0)
			return -1;
		n = recv(fd, p + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			*error_r = om_asprintf("read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (got == 0 && eof_ok)
				return 0;
			*error_r = om_strdup("connection closed in the middle of a frame");
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

/* om_proto_read_frame with a deadline: 1, 0 (EOF first), -1 (I/O: timed
   out, cut off), or -2 (a header this side refuses). */
static int om_read_frame_until(int fd, uint64_t deadline, size_t max_body,
			       uint16_t *type_r, char **body_r, size_t *len_r,
			       char **error_r)
{
	unsigned char hdr[OM_PROTO_HEADER_SIZE];
	uint32_t body_len;
	char *body;
	int ret;

	ret = om_read_until(fd, hdr, sizeof(hdr), deadline, 1, error_r);
	if (ret <= 0)
		return ret;
	if (om_proto_parse_header(hdr, max_body, type_r, &body_len, error_r) < 0)
		return -2;
	body = om_malloc((size_t)body_len + 1);
	if (om_read_until(fd, body, body_len, deadline, 0, error_r) < 0) {
		free(body);
		return -1;
	}
	body[body_len] = '\0';
	*body_r = body;
	*len_r = body_len;
	return 1;
}

int om_proto_read_frame(int fd, int timeout_ms, size_t max_body,
			uint16_t *type_r, char **body_r, size_t *len_r,
			char **error_r)
{
	int ret = om_read_frame_until(fd, om_now_ms() + (uint64_t)timeout_ms,
				      max_body, type_r, body_r, len_r, error_r);

	return ret < 0 ? -1 : ret;
}

/* ---- client half ---- */

static int om_scand_connect(const char *socket_path, char **error_r)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	struct sockaddr_un *sun = &addr.un;
	int fd;

	memset(&addr, 0, sizeof(addr));
	sun->sun_family = AF_UNIX;
	if (om_strlcpy(sun->sun_path, socket_path, sizeof(sun->sun_path)) < 0) {
		*error_r = om_asprintf("socket path too long: %s", socket_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = om_asprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, &addr.sa, sizeof(addr.un)) < 0) {
		*error_r = om_asprintf("connect(%s): %s", socket_path,
				       strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads scand's answer: 0, OM_SCAND_UNAVAILABLE (nothing, or scand's
   ERROR), or OM_SCAND_BAD_ANSWER (a frame this side cannot take). */
static int om_scand_read_result(int fd, uint64_t deadline, uint16_t expect,
				struct om_scan_result *res_r, char **error_r)
{
	char *body = NULL, *text = NULL;
	uint16_t type;
	size_t len;
	int ret;

	ret = om_read_frame_until(fd, deadline, (size_t)1 << 31, &type, &body,
				  &len, error_r);
	if (ret == 0)
		*error_r = om_strdup("scand closed the connection without an answer");
	if (ret <= 0)
		return ret == -2 ? OM_SCAND_BAD_ANSWER : OM_SCAND_UNAVAILABLE;
	if (type == OM_MSG_SCAN_RESULT && res_r != NULL) {
		ret = om_proto_decode_result(body, len, res_r, error_r) < 0 ?
			OM_SCAND_BAD_ANSWER : 0;
	} else if (type == expect && res_r == NULL) {
		ret = len == 0 ? 0 : OM_SCAND_BAD_ANSWER;
		if (ret < 0)
			*error_r = om_strdup("learn or sync result with a body");
	} else if (type == OM_MSG_ERROR) {
		ret = om_proto_decode_error(body, len, &text, error_r) < 0 ?
			OM_SCAND_BAD_ANSWER : OM_SCAND_UNAVAILABLE;
		if (ret == OM_SCAND_UNAVAILABLE)
			*error_r = om_asprintf("scand: %s", text);
		free(text);
	} else {
		*error_r = om_asprintf("unexpected frame type %u", type);
		ret = OM_SCAND_BAD_ANSWER;
	}
	free(body);
	return ret;
}

/* Sends req, reads the answer: a scan result into res_r, or (res_r NULL)
   the acknowledgement of a learn request. */
static int om_scand_call(const char *socket_path, int timeout_ms,
			 const struct om_scan_request *req,
			 struct om_scan_result *res_r, char **error_r)
{
	uint64_t deadline = om_now_ms() + (uint64_t)timeout_ms;
	struct om_buf frame;
	char *error = NULL;
	int fd, ret;

	fd = om_scand_connect(socket_path, error_r);
	if (fd < 0)
		return OM_SCAND_UNAVAILABLE;
	/* the head, then the message straight from the caller's memory: a large
	   message is never copied into a frame buffer */
	om_buf_init(&frame);
	om_proto_encode_request_head(req, &frame);
	ret = om_write_until(fd, frame.data, frame.len, deadline, &error);
	om_buf_free(&frame);
	if (ret == 0)
		ret = om_write_until(fd, req->message, req->message_len, deadline,
				     &error);
	if (ret < 0)
		ret = OM_SCAND_UNAVAILABLE;
	if (ret == 0)
		ret = om_scand_read_result(fd, deadline, res_r != NULL ?
					   OM_MSG_SCAN_RESULT : OM_MSG_LEARN_RESULT,
					   res_r, &error);
	close(fd);
	if (ret < 0) {
		*error_r = om_asprintf("scand %s: %s", socket_path, error);
		free(error);
	}
	return ret;
}

int om_scand_scan(const char *socket_path, int timeout_ms,
		  const struct om_scan_request *req,
		  struct om_scan_result *res_r, char **error_r)
{
	return om_scand_call(socket_path, timeout_ms, req, res_r, error_r);
}

int om_scand_learn(const char *socket_path, int timeout_ms,
		   const struct om_scan_request *req, char **error_r)
{
	if (req->learn == OM_LEARN_NONE) {
		*error_r = om_strdup("learn request without spam or ham");
		return OM_SCAND_UNAVAILABLE;
	}
	return om_scand_call(socket_path, timeout_ms, req, NULL, error_r);
}

int om_scand_sync(const char *socket_path, int timeout_ms, char **error_r)
{
	uint64_t deadline = om_now_ms() + (uint64_t)timeout_ms;
	struct om_buf frame;
	char *error = NULL;
	int fd, ret;

	fd = om_scand_connect(socket_path, error_r);
	if (fd < 0)
		return OM_SCAND_UNAVAILABLE;
	om_buf_init(&frame);
	om_proto_encode_empty(OM_MSG_SYNC_REQUEST, &frame);
	ret = om_write_until(fd, frame.data, frame.len, deadline, &error);
	om_buf_free(&frame);
	if (ret < 0)
		ret = OM_SCAND_UNAVAILABLE;
	else
		ret = om_scand_read_result(fd, deadline, OM_MSG_SYNC_RESULT,
					   NULL, &error);
	close(fd);
	if (ret < 0) {
		*error_r = om_asprintf("scand %s: %s", socket_path, error);
		free(error);
	}
	return ret;
}

/* ---- unlocking an isolated file (v7) ---- */

static const char *const om_unlock_words[] = {
	[OM_UNLOCK_OPENED] = "opened",
	[OM_UNLOCK_WRONG] = "wrong-password",
	[OM_UNLOCK_UNSUPPORTED] = "unsupported",
};

const char *om_unlock_status_name(enum om_unlock_status status)
{
	if (status <= OM_UNLOCK_NONE || status > OM_UNLOCK_UNSUPPORTED)
		return NULL;
	return om_unlock_words[status];
}

static int om_unlock_status_parse(const char *word, enum om_unlock_status *status_r)
{
	int s;

	for (s = OM_UNLOCK_OPENED; s <= OM_UNLOCK_UNSUPPORTED; s++) {
		if (strcmp(word, om_unlock_words[s]) == 0) {
			*status_r = (enum om_unlock_status)s;
			return 0;
		}
	}
	return -1;
}

/* A decimal field (0 .. LLONG_MAX); -1 on anything else. */
static int om_field_number(struct om_field_reader *r, uint16_t tag, const char *value,
			   size_t len, long long *n_r, char **error_r)
{
	long long n = 0;
	size_t i;

	if (om_field_once(r, tag, error_r) < 0)
		return -1;
	if (len == 0 || len > 18) {
		*error_r = om_asprintf("field %u: not a number", tag);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9') {
			*error_r = om_asprintf("field %u: not a number", tag);
			return -1;
		}
		n = n * 10 + (value[i] - '0');
	}
	*n_r = n;
	return 0;
}

static void om_put_number(struct om_buf *out, uint16_t tag, long long n)
{
	char text[24];

	(void)snprintf(text, sizeof(text), "%lld", n);
	om_put_str(out, tag, text);
}

void om_unlock_request_free(struct om_unlock_request *req)
{
	free(req->mailbox);
	free(req->name);
	if (req->password != NULL)
		explicit_bzero(req->password, strlen(req->password));
	free(req->password);
	free(req->frame);
	memset(req, 0, sizeof(*req));
}

void om_unlock_result_free(struct om_unlock_result *res)
{
	size_t i;

	for (i = 0; i < res->entry_count; i++) {
		free(res->entries[i].name);
		free(res->entries[i].virus);
		free(res->entries[i].findings);
	}
	free(res->entries);
	free(res->kind);
	if (res->data != NULL)
		explicit_bzero(res->data, res->data_len);
	free(res->data);
	memset(res, 0, sizeof(*res));
}

void om_unlock_result_add(struct om_unlock_result *res, const char *name,
			  long long size, enum om_verdict verdict,
			  const char *virus, const char *findings)
{
	struct om_unlock_entry *e;

	res->entries = om_realloc(res->entries, (res->entry_count + 1) * sizeof(*e));
	e = &res->entries[res->entry_count++];
	e->name = om_strdup(name);
	e->size = size;
	e->verdict = verdict;
	e->virus = om_strdup_or_null(virus);
	e->findings = om_strdup(findings != NULL ? findings : "");
}

void om_proto_encode_unlock_request(const struct om_unlock_request *req,
				    struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_UNLOCK_REQUEST);

	om_put_str(out, OM_TAG_MAILBOX, req->mailbox);
	om_put_str(out, OM_TAG_UNLOCK_NAME, req->name);
	om_put_str(out, OM_TAG_UNLOCK_PASSWORD, req->password);
	if (req->member >= 0)
		om_put_number(out, OM_TAG_UNLOCK_MEMBER, req->member);
	om_put_field(out, OM_TAG_UNLOCK_DATA, req->data, req->data_len);
	om_frame_end(out, at);
}

void om_proto_encode_unlock_result(const struct om_unlock_result *res,
				   struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_UNLOCK_RESULT), i;
	struct om_buf entry;

	om_put_str(out, OM_TAG_UNLOCK_STATUS, om_unlock_status_name(res->status));
	om_put_str(out, OM_TAG_UNLOCK_KIND, res->kind);
	om_buf_init(&entry);
	for (i = 0; i < res->entry_count; i++) {
		const struct om_unlock_entry *e = &res->entries[i];

		om_buf_reset(&entry);
		om_put_str(&entry, OM_TAG_ENTRY_NAME, e->name);
		om_put_number(&entry, OM_TAG_ENTRY_SIZE, e->size);
		om_put_str(&entry, OM_TAG_ENTRY_VERDICT, om_verdict_name(e->verdict));
		om_put_str(&entry, OM_TAG_ENTRY_VIRUS, e->virus);
		om_put_str(&entry, OM_TAG_ENTRY_FINDINGS, e->findings);
		om_put_field(out, OM_TAG_UNLOCK_ENTRY, entry.data, entry.len);
	}
	om_buf_free(&entry);
	if (res->data != NULL)
		om_put_field(out, OM_TAG_UNLOCK_DATA, res->data, res->data_len);
	om_frame_end(out, at);
}

int om_proto_decode_unlock_request(char *body, size_t len,
				   struct om_unlock_request *req_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	const char *v;
	size_t vlen;
	uint16_t tag;
	long long n;
	int ret, got_data = 0;

	memset(req_r, 0, sizeof(*req_r));
	req_r->frame = body;
	req_r->member = -1;
	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		switch (tag) {
		case OM_TAG_MAILBOX:
			ret = om_field_text_once(&r, tag, v, vlen, &req_r->mailbox, error_r);
			break;
		case OM_TAG_UNLOCK_NAME:
			ret = om_field_text_once(&r, tag, v, vlen, &req_r->name, error_r);
			break;
		case OM_TAG_UNLOCK_PASSWORD:
			ret = om_field_text_once(&r, tag, v, vlen, &req_r->password, error_r);
			break;
		case OM_TAG_UNLOCK_MEMBER:
			ret = om_field_number(&r, tag, v, vlen, &n, error_r);
			if (ret == 0 && n >= OM_UNLOCK_MAX_ENTRIES) {
				*error_r = om_strdup("member index out of range");
				ret = -1;
			}
			if (ret == 0)
				req_r->member = (long)n;
			break;
		case OM_TAG_UNLOCK_DATA:
			ret = om_field_once(&r, tag, error_r);
			req_r->data = v;
			req_r->data_len = vlen;
			got_data = 1;
			break;
		default:
			*error_r = om_asprintf("unknown field %u in unlock request", tag);
			ret = -1;
		}
		if (ret < 0)
			break;
	}
	if (ret == 0 && (req_r->mailbox == NULL || req_r->name == NULL ||
			 req_r->password == NULL || !got_data)) {
		*error_r = om_strdup("unlock request lacks mailbox, name, password or data");
		ret = -1;
	}
	if (ret < 0) {
		om_unlock_request_free(req_r);
		return -1;
	}
	return 0;
}

static int om_decode_unlock_entry(const char *value, size_t len,
				  struct om_unlock_entry *e, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)value, len, 0, 0 };
	const char *v;
	size_t vlen;
	uint16_t tag;
	int ret;

	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		switch (tag) {
		case OM_TAG_ENTRY_NAME:
			ret = om_field_text_once(&r, tag, v, vlen, &e->name, error_r);
			break;
		case OM_TAG_ENTRY_VIRUS:
			ret = om_field_text_once(&r, tag, v, vlen, &e->virus, error_r);
			break;
		case OM_TAG_ENTRY_FINDINGS:
			ret = om_field_text_once(&r, tag, v, vlen, &e->findings, error_r);
			break;
		case OM_TAG_ENTRY_SIZE:
			ret = om_field_number(&r, tag, v, vlen, &e->size, error_r);
			break;
		case OM_TAG_ENTRY_VERDICT:
			ret = om_field_verdict(&r, tag, v, vlen, &e->verdict, error_r);
			break;
		default:
			*error_r = om_asprintf("unknown field %u in unlock entry", tag);
			ret = -1;
		}
		if (ret < 0)
			return -1;
	}
	if (ret == 0 && (e->name == NULL || e->verdict == OM_VERDICT_NONE ||
			 e->verdict == OM_VERDICT_SPAM)) {
		*error_r = om_strdup("unlock entry lacks name or verdict");
		return -1;
	}
	if (ret == 0 && e->findings == NULL)
		e->findings = om_strdup("");
	return ret;
}

int om_proto_decode_unlock_result(const char *body, size_t len,
				  struct om_unlock_result *res_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	struct om_unlock_entry *e;
	char *word = NULL;
	const char *v;
	size_t vlen;
	uint16_t tag;
	int ret;

	memset(res_r, 0, sizeof(*res_r));
	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		switch (tag) {
		case OM_TAG_UNLOCK_STATUS:
			ret = om_field_word(&r, tag, v, vlen, &word, error_r);
			if (ret == 0 && om_unlock_status_parse(word, &res_r->status) < 0) {
				*error_r = om_field_unknown("unlock status", word);
				ret = -1;
			}
			free(word);
			word = NULL;
			break;
		case OM_TAG_UNLOCK_KIND:
			ret = om_field_text_once(&r, tag, v, vlen, &res_r->kind, error_r);
			break;
		case OM_TAG_UNLOCK_ENTRY:
			if (res_r->entry_count >= OM_UNLOCK_MAX_ENTRIES) {
				*error_r = om_strdup("too many unlock entries");
				ret = -1;
				break;
			}
			res_r->entries = om_realloc(res_r->entries,
						    (res_r->entry_count + 1) * sizeof(*e));
			e = &res_r->entries[res_r->entry_count++];
			memset(e, 0, sizeof(*e));
			ret = om_decode_unlock_entry(v, vlen, e, error_r);
			break;
		case OM_TAG_UNLOCK_DATA:
			ret = om_field_blob_once(&r, tag, v, vlen, &res_r->data,
						 &res_r->data_len, error_r);
			break;
		default:
			*error_r = om_asprintf("unknown field %u in unlock result", tag);
			ret = -1;
		}
		if (ret < 0)
			break;
	}
	if (ret == 0 && res_r->status == OM_UNLOCK_NONE) {
		*error_r = om_strdup("unlock result lacks its status");
		ret = -1;
	}
	if (ret < 0) {
		om_unlock_result_free(res_r);
		return -1;
	}
	return 0;
}

/* One request frame (built by the caller, wiped after when secret) to
   scand and its answer: 0 with the body of a frame of type expect (the
   caller decodes and frees it), or an om_scand_failure with *error_r
   ("scand PATH: ..."), scand's ERROR frame read as unavailable. */
static int om_scand_exchange(const char *socket_path, int timeout_ms,
			     struct om_buf *frame, int secret, uint16_t expect,
			     size_t max_body, char **body_r, size_t *len_r,
			     char **error_r)
{
	uint64_t deadline = om_now_ms() + (uint64_t)timeout_ms;
	char *text = NULL, *error = NULL;
	uint16_t type;
	int fd, ret;

	*body_r = NULL;
	*len_r = 0;
	fd = om_scand_connect(socket_path, error_r);
	if (fd < 0)
		return OM_SCAND_UNAVAILABLE;
	ret = om_write_until(fd, frame->data, frame->len, deadline, &error);
	if (secret)
		explicit_bzero(frame->data, frame->len);
	if (ret < 0) {
		ret = OM_SCAND_UNAVAILABLE;
	} else {
		ret = om_read_frame_until(fd, deadline, max_body, &type, body_r,
					  len_r, &error);
		if (ret == 0)
			error = om_strdup("scand closed the connection without an answer");
		if (ret <= 0) {
			ret = ret == -2 ? OM_SCAND_BAD_ANSWER : OM_SCAND_UNAVAILABLE;
		} else if (type == expect) {
			ret = 0;
		} else if (type == OM_MSG_ERROR) {
			ret = om_proto_decode_error(*body_r, *len_r, &text, &error) < 0 ?
				OM_SCAND_BAD_ANSWER : OM_SCAND_UNAVAILABLE;
			if (ret == OM_SCAND_UNAVAILABLE)
				error = om_asprintf("scand: %s", text);
			free(text);
		} else {
			error = om_asprintf("unexpected frame type %u", type);
			ret = OM_SCAND_BAD_ANSWER;
		}
	}
	close(fd);
	if (ret < 0) {
		free(*body_r);
		*body_r = NULL;
		*error_r = om_asprintf("scand %s: %s", socket_path, error);
		free(error);
	}
	return ret;
}

int om_scand_unlock(const char *socket_path, int timeout_ms,
		    const struct om_unlock_request *req,
		    struct om_unlock_result *res_r, char **error_r)
{
	struct om_buf frame;
	char *body, *error = NULL;
	size_t len;
	int ret;

	om_buf_init(&frame);
	om_proto_encode_unlock_request(req, &frame);
	ret = om_scand_exchange(socket_path, timeout_ms, &frame, 1, OM_MSG_UNLOCK_RESULT,
				(size_t)1 << 31, &body, &len, error_r);
	om_buf_free(&frame);
	if (ret < 0)
		return ret;
	if (om_proto_decode_unlock_result(body, len, res_r, &error) < 0) {
		*error_r = om_asprintf("scand %s: %s", socket_path, error);
		free(error);
		ret = OM_SCAND_BAD_ANSWER;
	}
	explicit_bzero(body, len);
	free(body);
	return ret;
}

/* ---- a mailbox's subscribed checks (v8) ---- */

void om_proto_encode_checks_request(const char *mailbox, struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_CHECKS_REQUEST);

	om_put_str(out, OM_TAG_MAILBOX, mailbox);
	om_frame_end(out, at);
}

void om_proto_encode_checks_result(int checks, struct om_buf *out)
{
	size_t at = om_frame_begin(out, OM_MSG_CHECKS_RESULT);
	const char *name = om_proto_checks_name(checks);

	om_put_str(out, OM_TAG_SUBSCRIBED, name != NULL ? name : "none");
	om_frame_end(out, at);
}

int om_proto_decode_checks_request(const char *body, size_t len,
				   char **mailbox_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	const char *v;
	size_t vlen;
	uint16_t tag;
	int ret;

	*mailbox_r = NULL;
	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		if (tag == OM_TAG_MAILBOX) {
			ret = om_field_text_once(&r, tag, v, vlen, mailbox_r, error_r);
		} else {
			*error_r = om_asprintf("unknown field %u in checks request", tag);
			ret = -1;
		}
		if (ret < 0)
			break;
	}
	if (ret == 0 && (*mailbox_r == NULL || **mailbox_r == '\0')) {
		*error_r = om_strdup("checks request lacks its mailbox");
		ret = -1;
	}
	if (ret < 0)
		om_free(mailbox_r);
	return ret;
}

int om_proto_decode_checks_result(const char *body, size_t len,
				  int *checks_r, char **error_r)
{
	struct om_field_reader r = { (const unsigned char *)body, len, 0, 0 };
	char *word = NULL;
	const char *v;
	size_t vlen;
	uint16_t tag;
	int ret, checks = -1;

	while ((ret = om_field_next(&r, &tag, &v, &vlen, error_r)) > 0) {
		if (tag != OM_TAG_SUBSCRIBED) {
			*error_r = om_asprintf("unknown field %u in checks result", tag);
			return -1;
		}
		if (om_field_word(&r, tag, v, vlen, &word, error_r) < 0)
			return -1;
		checks = strcmp(word, "none") == 0 ? 0 : om_proto_checks_parse(word);
		if (checks < 0)
			*error_r = om_field_unknown("checks (none, virus and/or spam)",
						    word);
		free(word);
		if (checks < 0)
			return -1;
	}
	if (ret < 0)
		return -1;
	if (checks < 0) {
		*error_r = om_strdup("checks result lacks its checks");
		return -1;
	}
	*checks_r = checks;
	return 0;
}

int om_scand_checks(const char *socket_path, int timeout_ms,
		    const char *mailbox, int *checks_r, char **error_r)
{
	struct om_buf frame;
	char *body, *error = NULL;
	size_t len;
	int ret;

	om_buf_init(&frame);
	om_proto_encode_checks_request(mailbox, &frame);
	ret = om_scand_exchange(socket_path, timeout_ms, &frame, 0, OM_MSG_CHECKS_RESULT,
				64 * 1024, &body, &len, error_r);
	om_buf_free(&frame);
	if (ret < 0)
		return ret;
	if (om_proto_decode_checks_result(body, len, checks_r, &error) < 0) {
		*error_r = om_asprintf("scand %s: %s", socket_path, error);
		free(error);
		ret = OM_SCAND_BAD_ANSWER;
	}
	free(body);
	return ret;
}
