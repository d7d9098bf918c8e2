/* values.h - the typed values omamori's processes exchange: the verdict and
 * action of a scan, the spam action, the direction of a message, and what a
 * learn request teaches.
 *
 * Inside and between processes these are enums; text exists only at the
 * edges: the scand protocol (proto.c encodes and decodes, and refuses a word
 * it does not know), the spam-action setting, log lines, omamorictl's JSON
 * and the Sieve test.  The value 0 of every enum is "none", which has no
 * name: a structure nobody filled in never reads as clean or deliver, and
 * the encoder leaves such a field out, so the peer refuses the frame.  The
 * names are in one table each (values.c); a new value is a new protocol
 * version (doc/protocol.md).
 *
 * Here, in lib, because both sides use them: decide (the spam action from
 * the settings) and proto (the wire) may not include each other.
 */
#ifndef OM_VALUES_H
#define OM_VALUES_H

/* What omamori found in a message (or, for a part: clean, virus or
   unscanned). */
enum om_verdict {
	OM_VERDICT_NONE = 0,
	OM_VERDICT_CLEAN,
	OM_VERDICT_VIRUS,
	OM_VERDICT_SPAM,
	OM_VERDICT_UNSCANNED,
};

/* What the delivery does with the message.  DELIVER, STRIP, REPLACE,
   QUARANTINE and QUARANTINE_ADMIN put it (or scand's rewrite of it) in a
   mailbox; DISCARD drops it as delivered; TEMPFAIL and anything else keep
   it in the sender's queue. */
enum om_action {
	OM_ACTION_NONE = 0,
	OM_ACTION_DELIVER,	/* the original */
	OM_ACTION_STRIP,	/* scand's rewrite: infected attachments removed */
	OM_ACTION_REPLACE,	/* scand's rewrite: the report in its place */
	OM_ACTION_QUARANTINE,	/* to the Quarantine folder, below a notice */
	OM_ACTION_TEMPFAIL,	/* not now: the sender retries */
	/* version 6 (issues 16, 17): to Quarantine, but only the
	   administrator may release it (the row's admin-only flag) */
	OM_ACTION_QUARANTINE_ADMIN,
	OM_ACTION_DISCARD,	/* not delivered at all: an inbound audit
				   rule's delete (answered as delivered) */
};

/* What the mailbox's settings do with spam. */
enum om_spam_action {
	OM_SPAM_ACTION_NONE = 0,
	OM_SPAM_ACTION_DELIVER,
	OM_SPAM_ACTION_TAG,
	OM_SPAM_ACTION_HEADER,
	OM_SPAM_ACTION_QUARANTINE,
};

enum om_direction {
	OM_DIRECTION_NONE = 0,
	OM_DIRECTION_IN,
	OM_DIRECTION_OUT,
};

/* What a learn request teaches the classifier. */
enum om_learn {
	OM_LEARN_NONE = 0,
	OM_LEARN_SPAM,
	OM_LEARN_HAM,
};

/* What an entry of the URL reputation store names (doc/links.md): one URL
   exactly, a host and every name below it, or a registrable domain (the
   Public Suffix List's: example.co.jp) and every name in it. */
enum om_url_kind {
	OM_URL_KIND_NONE = 0,
	OM_URL_KIND_URL,
	OM_URL_KIND_HOST,
	OM_URL_KIND_DOMAIN,
};

/* What the store says of a URL that matches an entry. */
enum om_url_verdict {
	OM_URL_VERDICT_NONE = 0,
	OM_URL_VERDICT_WARN,
	OM_URL_VERDICT_BLOCK,	/* the strongest: it wins over warn */
};

/* A result of SPF, DKIM or DMARC as an Authentication-Results header
   writes it (RFC 8601 2.7, RFC 7489 11.2): policyd's SPF and scand's DKIM
   and DMARC (issue 15).  None is "not checked"; OM_AR_NONE is the
   checked result "none" (no record, no signature). */
enum om_ar_result {
	OM_AR_RESULT_NONE = 0,
	OM_AR_PASS,
	OM_AR_FAIL,
	OM_AR_SOFTFAIL,
	OM_AR_NEUTRAL,
	OM_AR_NONE,
	OM_AR_TEMPERROR,
	OM_AR_PERMERROR,
	OM_AR_POLICY,
};

/* What scand did to the links of a delivered message (issue 15): the
   X-Omamori-Links header's word. */
enum om_links_done {
	OM_LINKS_DONE_NONE = 0,
	OM_LINKS_DONE_DISABLED,
	OM_LINKS_DONE_REWRITTEN,
};

/* The name of a value as the protocol, the settings and the logs write it
   ("clean", "deliver", "tag", "in", "spam"): static, or NULL for the
   value none and for a number that is no value of the enum. */
const char *om_verdict_name(enum om_verdict verdict);
const char *om_action_name(enum om_action action);
const char *om_spam_action_name(enum om_spam_action action);
const char *om_direction_name(enum om_direction direction);
const char *om_learn_name(enum om_learn learn);
const char *om_url_kind_name(enum om_url_kind kind);
const char *om_url_verdict_name(enum om_url_verdict verdict);
const char *om_ar_result_name(enum om_ar_result result);
const char *om_links_done_name(enum om_links_done done);

/* The value of a name (exact, case-sensitive).  0, or -1 for a name of no
   value ("none" and "" included), *value_r unchanged. */
int om_verdict_parse(const char *name, enum om_verdict *verdict_r);
int om_action_parse(const char *name, enum om_action *action_r);
int om_spam_action_parse(const char *name, enum om_spam_action *action_r);
int om_direction_parse(const char *name, enum om_direction *direction_r);
int om_learn_parse(const char *name, enum om_learn *learn_r);
int om_url_kind_parse(const char *name, enum om_url_kind *kind_r);
int om_url_verdict_parse(const char *name, enum om_url_verdict *verdict_r);
int om_ar_result_parse(const char *name, enum om_ar_result *result_r);
int om_links_done_parse(const char *name, enum om_links_done *done_r);

#endif
