/* audit.h - audit rules (issue 17, seed 003 メール監査): a domain's
 * administrator's ordered rules over outgoing (and later incoming) mail,
 * each "CONDITION => ACTION[, ACTION...]", e.g.
 *
 *     direction out and body contains "関係者外秘" => hold
 *     size > 10M => notify
 *     attachment-name matches "\.(exe|js)$" => delete
 *
 * doc/audit.md has the grammar.  The parser and the evaluator are pure
 * (no store, no I/O): a rule is parsed from its text, a message is read
 * once into an om_audit_msg (its texts NFKC-normalised, so that full-width
 * and half-width forms match each other), and the rules are run over it in
 * order: the first that matches decides, unless it says "continue".
 */
#ifndef OM_AUDIT_H
#define OM_AUDIT_H

#include <stddef.h>

#include "lib/util.h"

/* At most this many bytes of a rule's text. */
#define OM_AUDIT_RULE_MAX 4096
/* What a message is read for: parts, and bytes of text per part. */
#define OM_AUDIT_MAX_PARTS 200
#define OM_AUDIT_TEXT_MAX (1024u * 1024)

enum om_audit_direction {
	OM_AUDIT_DIR_NONE = 0,
	OM_AUDIT_DIR_IN,
	OM_AUDIT_DIR_OUT,
};

/* What a rule's match does to the message (the deciding rule's). */
enum om_audit_verdict {
	OM_AUDIT_SEND = 0,	/* goes on as usual (no rule, or "send") */
	OM_AUDIT_HOLD,		/* held for the administrator */
	OM_AUDIT_DELETE,	/* dropped: the sender hears "sent" */
};

struct om_audit_rule;

/* Parses text as one rule.  NULL with *error_r (allocated) saying where
   and what: "at character N (near "...") expected ...". */
struct om_audit_rule *om_audit_parse(const char *text, char **error_r);
void om_audit_rule_free(struct om_audit_rule **rule);
/* The rule's text as given. */
const char *om_audit_rule_text(const struct om_audit_rule *rule);

/* One attachment (or body part) of a message. */
struct om_audit_part {
	const char *filename;	/* UTF-8 or NULL */
	const char *type;	/* "text/plain" */
	long long size;		/* decoded bytes */
	int is_body;		/* readable body text, not an attachment */
	const char *text;	/* UTF-8 text, or NULL when not read */
};

struct om_audit_header {
	const char *name;
	const char *value;	/* decoded UTF-8 */
};

/* What the rules are asked about (every string UTF-8, not yet
   normalised; nothing kept after om_audit_msg_new). */
struct om_audit_facts {
	enum om_audit_direction direction;
	const char *domain;	/* the rules' domain: "recipient external" */
	const char *internal;	/* more inside domains, space-separated (the
				   domain's internal-domains), or NULL */
	const char *sender;	/* envelope sender, "" for <> */
	char *const *rcpts;
	size_t rcpt_count;
	long long size;		/* the message's bytes */
	const char *subject;
	const struct om_audit_part *parts;
	size_t part_count;
	const struct om_audit_header *headers;
	size_t header_count;
};

/* A message read for the rules: its texts NFKC-normalised, line breaks
   inside Japanese text joined (a keyword wrapped over two lines still
   matches). */
struct om_audit_msg;
struct om_audit_msg *om_audit_msg_new(const struct om_audit_facts *facts);
void om_audit_msg_free(struct om_audit_msg **msg);

/* Reads msg (len bytes, a whole message) with mail/text.h into an
   om_audit_msg: NULL with *error_r when it cannot be read at all. */
struct om_audit_msg *om_audit_msg_read(const char *msg, size_t len,
				       enum om_audit_direction direction,
				       const char *domain, const char *internal,
				       const char *sender,
				       char *const *rcpts, size_t rcpt_count,
				       char **error_r);

/* The outcome of a list of rules. */
struct om_audit_result {
	enum om_audit_verdict verdict;
	int fired;		/* 1-based number of the deciding rule, 0 none */
	int notify;		/* a matching rule said notify */
	char **headers;		/* add-header fields ("Name: value") */
	size_t header_count;
	struct om_buf why;	/* one line per rule tried: matched or not,
				   and for a match what was found where */
	char *summary;		/* one line for logs and alerts */
};

/* Runs rules (count, in order) over msg.  Never fails. */
void om_audit_run(struct om_audit_rule *const *rules, size_t count,
		  const struct om_audit_msg *msg, struct om_audit_result *res);
void om_audit_result_free(struct om_audit_result *res);

const char *om_audit_verdict_name(enum om_audit_verdict verdict);
/* NFKC of s (allocated): what the rules compare. */
char *om_audit_normalize(const char *s);

#endif
