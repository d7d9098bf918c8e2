/* proto.h - the omamori-scand wire protocol (see doc/protocol.md).
 *
 * A frame is a 12-byte header (magic "OMSC", version, type, body length, all
 * big-endian) and a body of fields (tag u16, length u32, bytes).  Decoders
 * check every length, reject unknown tags, repeated singletons, missing
 * required fields and trailing bytes.  Bump OM_PROTO_VERSION on any change.
 *
 * Requests and results carry typed values (lib/values.h), never words: the
 * words are made and read here alone, and a word the decoder does not know
 * (a verdict, action, spam action, direction, checks or learn) refuses the
 * whole frame.
 */
#ifndef OM_PROTO_H
#define OM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "lib/values.h"

#define OM_PROTO_MAGIC "OMSC"
#define OM_PROTO_VERSION 8
#define OM_PROTO_HEADER_SIZE 12
/* Largest body besides the message itself (envelope, parts, texts). */
#define OM_PROTO_OVERHEAD (4 * 1024 * 1024)
#define OM_PROTO_MAX_RCPTS 10000
#define OM_PROTO_MAX_PARTS 100000

enum om_proto_type {
	OM_MSG_SCAN_REQUEST = 1,
	OM_MSG_SCAN_RESULT = 2,
	OM_MSG_ERROR = 3,
	OM_MSG_PING = 4,
	OM_MSG_PONG = 5,
	/* a scan request with a learn field: teach the classifier */
	OM_MSG_LEARN_REQUEST = 6,
	OM_MSG_LEARN_RESULT = 7,
	/* no body: "the token table in the store changed" (omamorictl learn,
	   train, prune); scand saves its own changes, reloads, and answers
	   SYNC_RESULT once the next scan scores with the new table */
	OM_MSG_SYNC_REQUEST = 8,
	OM_MSG_SYNC_RESULT = 9,
	/* omamori-web's "open it with its password" (issue 16, v7): an
	   isolated file's bytes and the password its recipient typed;
	   scand opens, scans and analyses it (doc/attachments.md
	   "Unlocking"), and answers what is inside, or one clean member */
	OM_MSG_UNLOCK_REQUEST = 10,
	OM_MSG_UNLOCK_RESULT = 11,
	/* the delivery plugin while the store cannot be read (issue 21, v8):
	   a mailbox; scand answers the checks its inbound-virus and spam
	   subscriptions ask for, as scand's snapshot resolves them */
	OM_MSG_CHECKS_REQUEST = 12,
	OM_MSG_CHECKS_RESULT = 13,
};

/* what a scan request asks for (its checks field; absent: virus only) */
enum {
	OM_CHECK_VIRUS = 0x01,
	OM_CHECK_SPAM = 0x02,
};
/* Parses "virus", "spam" or "virus,spam": the OM_CHECK_* bits, or -1. */
int om_proto_checks_parse(const char *text);
/* The checks field for OM_CHECK_* bits: static, or NULL for none (0) or a
   bit that is no check. */
const char *om_proto_checks_name(int checks);

struct om_scan_request {
	char *session_id;	/* for log lines; may be NULL */
	char *mailbox;		/* the recipient mailbox the scan is for */
	enum om_direction direction;
	char *mail_from;	/* may be "" (null sender) */
	int checks;		/* OM_CHECK_* bits; 0 (encoder): absent, and a
				   decoded request without the field has
				   OM_CHECK_VIRUS */
	enum om_learn learn;	/* learn requests: spam or ham; else none */
	char **rcpts;
	size_t rcpt_count;
	const char *message;	/* not owned (points into the frame or caller) */
	size_t message_len;
	char *frame;		/* owned frame body after decode, else NULL */
};

struct om_scan_part {
	char *path;		/* "1", "1.2", "2.1.1": MIME part position */
	char *content_type;
	char *filename;		/* decoded, UTF-8; may be NULL */
	enum om_verdict verdict;	/* clean, virus or unscanned */
	char *virus;		/* may be NULL */
};

struct om_scan_result {
	enum om_verdict verdict;	/* never none once decoded */
	enum om_action action;		/* never none once decoded */
	/* the spam check (when asked for): score "%.2f", rules fired
	   ("BAYES_99,MISSING_DATE"), what to do with spam (set only when the
	   verdict is spam, else none), the subject tag, the list that decided
	   ("allow:mailbox", ...) */
	char *spam_score;
	char *spam_rules;
	enum om_spam_action spam_action;
	char *spam_tag;
	char *spam_listed;
	char *spam_subject;	/* tag action: the new raw Subject value */
	/* omamori's own DKIM and DMARC results (issue 15): the value of the
	   Authentication-Results header the delivery adds, or NULL */
	char *auth_results;
	/* the attachment analysis (issue 16, scan/attach.h): the value of
	   the X-Omamori-Attachments header the delivery adds ("ATT_MACRO
	   report.xlsm (remove); ..."), or NULL */
	char *attachments;
	enum om_links_done links;	/* what was done to the links (issue 15) */
	/* why it is spam (issue 19): up to three short reasons in the
	   recipient domain's language, "; "-separated UTF-8, or NULL */
	char *spam_reason;
	char *virus;		/* first virus name, or NULL */
	char *reason;		/* why unscanned, or NULL */
	struct om_scan_part *parts;
	size_t part_count;
	char *message;		/* the message to deliver when changed, else NULL */
	size_t message_len;
	char *admin_address;	/* admin copy of a report: where, or NULL */
	char *admin_message;
	size_t admin_message_len;
	/* for scand's message trace only (doc/trace.md), never on the wire:
	   the Message-ID, the decoded Subject and Postfix's queue id of the
	   topmost Received header Postfix wrote; NULL when unknown */
	char *trace_message_id;
	char *trace_subject;
	char *trace_queue_id;
};

void om_scan_request_free(struct om_scan_request *req);
void om_scan_result_init(struct om_scan_result *res);
void om_scan_result_free(struct om_scan_result *res);
/* Adds a part to res (strings copied; NULL allowed for filename/virus). */
void om_scan_result_add_part(struct om_scan_result *res, const char *path,
			     const char *content_type, const char *filename,
			     enum om_verdict verdict, const char *virus);

/* Frame encoders: append one whole frame to out. */
void om_proto_encode_request(const struct om_scan_request *req,
			     struct om_buf *out);
/* The request frame without the message bytes, which the caller writes
   right after it (the frame's lengths already count them). */
void om_proto_encode_request_head(const struct om_scan_request *req,
				  struct om_buf *out);
void om_proto_encode_result(const struct om_scan_result *res,
			    struct om_buf *out);
void om_proto_encode_error(const char *text, struct om_buf *out);
void om_proto_encode_empty(enum om_proto_type type, struct om_buf *out);

/* Parses a frame header.  Returns 0, or -1 with *error_r (allocated) for a
   bad magic, an unsupported version or a body over max_body. */
int om_proto_parse_header(const unsigned char *hdr, size_t max_body,
			  uint16_t *type_r, uint32_t *body_len_r,
			  char **error_r);

/* Body decoders.  decode_request takes ownership of body (freed with the
   request).  Return 0, or -1 with *error_r (allocated); a word that is no
   value of its field ("action deliver-all is not one of deliver, strip,
   ...") is refused like a malformed field. */
int om_proto_decode_request(char *body, size_t len,
			    struct om_scan_request *req_r, char **error_r);
int om_proto_decode_result(const char *body, size_t len,
			   struct om_scan_result *res_r, char **error_r);
int om_proto_decode_error(const char *body, size_t len, char **text_r,
			  char **error_r);

/* Blocking I/O with a deadline (timeout_ms from the call).  read_frame
   returns 1 with a frame, 0 on a clean EOF before any byte, -1 on error. */
int om_proto_write_all(int fd, const void *data, size_t len, int timeout_ms,
		       char **error_r);
int om_proto_read_frame(int fd, int timeout_ms, size_t max_body,
			uint16_t *type_r, char **body_r, size_t *len_r,
			char **error_r);

/* How a call to scand failed (both are < 0). */
enum om_scand_failure {
	/* scand could not be reached, did not answer in time, closed the
	   connection, or answered an ERROR frame */
	OM_SCAND_UNAVAILABLE = -1,
	/* scand answered, but not what this client can read: another
	   protocol version, a bad frame, an unexpected frame type, a value
	   this client does not know.  Never "unavailable": no setting may
	   let mail through on it. */
	OM_SCAND_BAD_ANSWER = -2,
};

/* Client half: connects to scand's UNIX socket, sends req, waits for the
   result.  Returns 0 with *res_r filled (its verdict and action never
   none), or an om_scand_failure with *error_r (allocated). */
int om_scand_scan(const char *socket_path, int timeout_ms,
		  const struct om_scan_request *req,
		  struct om_scan_result *res_r, char **error_r);
/* Asks scand to learn req->message as req->learn (spam or ham) for
   req->mailbox.  0, or an om_scand_failure with *error_r. */
int om_scand_learn(const char *socket_path, int timeout_ms,
		   const struct om_scan_request *req, char **error_r);

/* ---- unlocking an isolated file (OM_MSG_UNLOCK_*) ---- */

/* How far the password went. */
enum om_unlock_status {
	OM_UNLOCK_NONE = 0,	/* never on the wire */
	OM_UNLOCK_OPENED,	/* "opened": the entries say what is inside */
	OM_UNLOCK_WRONG,	/* "wrong-password" */
	OM_UNLOCK_UNSUPPORTED,	/* "unsupported": not a kind scand can open */
};
const char *om_unlock_status_name(enum om_unlock_status status);

#define OM_UNLOCK_MAX_ENTRIES 2000

struct om_unlock_request {
	char *mailbox;
	char *name;		/* the file's name (decoded UTF-8) */
	char *password;
	long member;		/* -1: list; else the entry whose bytes are wanted */
	const char *data;	/* not owned (frame or caller) */
	size_t data_len;
	char *frame;		/* owned frame body after decode */
};

struct om_unlock_entry {
	char *name;		/* member name ("docs/a.txt"), or the file's own */
	long long size;
	enum om_verdict verdict;	/* clean, virus or unscanned */
	char *virus;		/* may be NULL */
	/* the analysis's findings, one a line: NAME TAB where TAB reason-ja
	   TAB reason-en (the isolated_files row's format); "" none */
	char *findings;
};

struct om_unlock_result {
	enum om_unlock_status status;
	char *kind;		/* "zip", "7z", "pdf", ... (may be NULL) */
	struct om_unlock_entry *entries;
	size_t entry_count;
	char *data;		/* the member asked for, when it is clean */
	size_t data_len;
};

void om_unlock_request_free(struct om_unlock_request *req);
void om_unlock_result_free(struct om_unlock_result *res);
/* Adds an entry (strings copied; virus may be NULL). */
void om_unlock_result_add(struct om_unlock_result *res, const char *name,
			  long long size, enum om_verdict verdict,
			  const char *virus, const char *findings);
void om_proto_encode_unlock_request(const struct om_unlock_request *req,
				    struct om_buf *out);
void om_proto_encode_unlock_result(const struct om_unlock_result *res,
				   struct om_buf *out);
/* decode_unlock_request takes ownership of body. */
int om_proto_decode_unlock_request(char *body, size_t len,
				   struct om_unlock_request *req_r, char **error_r);
int om_proto_decode_unlock_result(const char *body, size_t len,
				  struct om_unlock_result *res_r, char **error_r);
/* Client half: asks scand to open req's file with its password.  0 with
   *res_r filled (its status never none), or an om_scand_failure. */
int om_scand_unlock(const char *socket_path, int timeout_ms,
		    const struct om_unlock_request *req,
		    struct om_unlock_result *res_r, char **error_r);

/* ---- a mailbox's subscribed checks (OM_MSG_CHECKS_*, v8) ---- */

/* The request names a mailbox (non-empty); the result holds the
   OM_CHECK_* bits ("none" on the wire for 0). */
void om_proto_encode_checks_request(const char *mailbox, struct om_buf *out);
void om_proto_encode_checks_result(int checks, struct om_buf *out);
/* *mailbox_r allocated.  0, or -1 with *error_r (allocated). */
int om_proto_decode_checks_request(const char *body, size_t len,
				   char **mailbox_r, char **error_r);
int om_proto_decode_checks_result(const char *body, size_t len,
				  int *checks_r, char **error_r);
/* Client half: the checks scand's settings ask for mailbox.  0 with
   *checks_r (OM_CHECK_* bits, 0 for none), or an om_scand_failure with
   *error_r (allocated). */
int om_scand_checks(const char *socket_path, int timeout_ms,
		    const char *mailbox, int *checks_r, char **error_r);

/* Tells scand that the token table in the store changed and waits until
   it scores with it.  0, or an om_scand_failure with *error_r. */
int om_scand_sync(const char *socket_path, int timeout_ms, char **error_r);

#endif
