/* mime.h - MIME parsing, part walking and rewriting (GMime 3).
 *
 * The scanner needs three things from a message: its leaf parts decoded
 * (base64, quoted-printable, uuencode) with their decoded file names, a way
 * to remove an attachment while keeping every other part as it was, and a
 * way to put a notice at the top of the readable body.
 */
#ifndef OM_MIME_H
#define OM_MIME_H

#include <stddef.h>

#include "lib/util.h"

struct om_mime_msg;

struct om_mime_leaf {
	char *path;		/* "1", "2.1", ... */
	char *content_type;	/* "text/plain" */
	char *filename;		/* decoded UTF-8, or NULL */
	int is_body;		/* readable text of the top-level message */
	int encoded;		/* base64, quoted-printable or uuencode: its
				   decoded bytes differ from the raw ones */
	int in_attached_message;	/* inside a message/rfc822 part */
	void *object;		/* GMimeObject of the leaf */
	void *unit;		/* what to remove if infected (GMimeObject) */
	void *unit_parent;	/* its multipart, or NULL: the body itself */
};

/* Initialises GMime once per process. */
void om_mime_global_init(void);

/* Parses data (not copied after return).  Returns NULL with *error_r if
   GMime cannot make a message of it at all. */
struct om_mime_msg *om_mime_parse(const char *data, size_t len,
				  char **error_r);
void om_mime_free(struct om_mime_msg **msg);

/* Collects the leaves.  Returns 0, 1 if a limit was exceeded (*reason_r set,
   allocated: "limit: ..."), -1 on error. */
int om_mime_collect(struct om_mime_msg *msg, size_t max_parts,
		    unsigned int max_depth, struct om_mime_leaf **leaves_r,
		    size_t *count_r, char **reason_r);
void om_mime_leaves_free(struct om_mime_leaf **leaves, size_t count);

/* Decodes a leaf's content into out (transfer encoding undone). */
int om_mime_leaf_decode(const struct om_mime_leaf *leaf, struct om_buf *out,
			char **error_r);

/* For a leaf inside an attached message: the attached message's bytes, as
   sent, appended to out, and its file name (allocated: the part's
   filename or name, else "message.eml") in *name_r; *name_r NULL (out
   untouched) for any other leaf. */
void om_mime_unit_message(const struct om_mime_leaf *leaf, struct om_buf *out,
			  char **name_r);
/* Removes leaf's unit (an attachment) from its multipart.  Returns 1 if
   removed, 0 if it was already removed. */
int om_mime_remove_unit(struct om_mime_msg *msg, struct om_mime_leaf *leaf);

/* Puts notice (UTF-8 text) at the top of every readable body part, plain and
   HTML; adds a text/plain part first if the message has none. */
void om_mime_add_notice(struct om_mime_msg *msg, const char *notice);

/* Serialises the (changed) message. */
void om_mime_write(struct om_mime_msg *msg, struct om_buf *out);

/* A top-level header, decoded to UTF-8 (allocated), or NULL. */
char *om_mime_header_decoded(struct om_mime_msg *msg, const char *name);

/* 1 if the message has a top-level header called name (one with a value:
   what om_mime_header_decoded would not give as NULL), else 0. */
int om_mime_has_header(struct om_mime_msg *msg, const char *name);

/* The first top-level header called name, raw (undecoded, folded as
   sent; allocated), or NULL. */
char *om_mime_header_raw(struct om_mime_msg *msg, const char *name);
/* The first From mailbox's address (allocated), or NULL if there is none
   or it has no '@'. */
char *om_mime_from_address(struct om_mime_msg *msg);
/* The first From mailbox's display name, decoded to UTF-8 (allocated), or
   NULL when it has none. */
char *om_mime_from_name(struct om_mime_msg *msg);
/* 1 if the message has a Date header GMime can read. */
int om_mime_date_valid(struct om_mime_msg *msg);
/* Seconds from the time the message reached us (the date of its first,
   topmost Received header) to its Date header: negative when the Date is
   older.  Returns 0, or -1 when either date is missing or unreadable. */
int om_mime_date_skew(struct om_mime_msg *msg, long *seconds_r);
/* Number of addresses in To and Cc. */
unsigned int om_mime_recipient_count(struct om_mime_msg *msg);
/* 1 if the message's body is a single text/html part. */
int om_mime_body_is_html_only(struct om_mime_msg *msg);

/* Calls fn(parent, part, data) for every part of the message (GMime's own
   traversal: an attached message/rfc822 is one part, its own parts are not
   visited). */
void om_mime_foreach_part(struct om_mime_msg *msg,
			  void (*fn)(void *parent, void *part, void *data),
			  void *data);

/* A text part's text in UTF-8 (GMime's g_mime_text_part_get_text: the
   transfer encoding undone, the charset converted), made once per message
   and kept with it, so that the tokenizer, the rules and the link passes
   of one scan share one conversion; NULL when part is no text part or
   GMime gives none.  Owned by msg: valid until it changes or is freed. */
const char *om_mime_part_text(struct om_mime_msg *msg, void *part);
/* The same part's text parsed as HTML (an htmlDocPtr: libxml2's
   htmlReadMemory, UTF-8, recovering, no network), made once per message
   in the same way; NULL if none.  Read it, never change it. */
void *om_mime_part_html(struct om_mime_msg *msg, void *part);
/* What a layer above works out from a text part once per message (the
   links of spam/links.c: the text an HTML part shows, the hosts its text
   links to), kept beside the part's text and freed with it by memo_free:
   NULL until set.  Only a text part has one: setting it on any other
   part returns -1 and keeps nothing (the caller still owns memo). */
void *om_mime_part_memo(struct om_mime_msg *msg, void *part);
int om_mime_part_memo_set(struct om_mime_msg *msg, void *part, void *memo,
			  void (*memo_free)(void *memo));
/* Drops what om_mime_part_text, om_mime_part_html and om_mime_part_memo_set made: for a caller
   about to change the message's parts (the rewriting functions here call
   it themselves). */
void om_mime_changed(struct om_mime_msg *msg);

/* 1 if part (a GMimeObject of om_mime_foreach_part) is readable text:
   text/plain or text/html, not an attachment, without a file name. */
int om_mime_part_readable_text(void *part);

/* Calls fn(context, name, value) for every top-level header, in order; the
   value decoded to UTF-8 (RFC 2047). */
void om_mime_foreach_header(struct om_mime_msg *msg,
			    void (*fn)(void *context, const char *name,
				       const char *value),
			    void *context);

/* The same for the headers called name (case-insensitive) only: the others
   are never decoded (GMime decodes a value at its first reading, and a
   message's Received lines are most of its header). */
void om_mime_foreach_header_named(struct om_mime_msg *msg, const char *name,
				  void (*fn)(void *context, const char *name,
					     const char *value),
				  void *context);

/* An attachment taken out of a message (outbound-zip). */
struct om_mime_attachment {
	char *filename;		/* decoded UTF-8, or NULL */
	char *content_type;	/* "application/pdf"; "message/rfc822" for an
				   attached message, whose name is message.eml */
	struct om_buf data;	/* decoded content */
};

/* Takes every attachment out of msg: each part that is not the readable
   body and is named or marked attachment, an attached message whole; an
   inline image of the HTML (Content-ID in multipart/related) and text or
   calendar parts without a name stay.  A signed or encrypted message
   (multipart/signed, multipart/encrypted) is left as it is: *skip_r
   (static) says why.  Returns 0 with *list_r (allocated, NULL when
   nothing was taken) and *count_r, or -1 with *error_r (a limit of
   max_parts/max_depth, a part that cannot be decoded; msg may then be
   half changed: throw it away). */
int om_mime_take_attachments(struct om_mime_msg *msg, size_t max_parts,
			     unsigned int max_depth,
			     struct om_mime_attachment **list_r, size_t *count_r,
			     const char **skip_r, char **error_r);
void om_mime_attachments_free(struct om_mime_attachment **list, size_t count);

/* Adds an attachment (type/subtype, base64, Content-Disposition
   attachment; a non-ASCII filename RFC 2231-encoded) at the end of msg,
   whose body becomes multipart/mixed if it was not. */
void om_mime_add_attachment(struct om_mime_msg *msg, const char *filename,
			    const char *type, const char *subtype,
			    const void *data, size_t len);

/* Builds a single-part text/plain UTF-8 message. */
void om_mime_build_text_mail(const char *from, const char *to,
			     const char *subject, const char *body,
			     struct om_buf *out);

#endif
