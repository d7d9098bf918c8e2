/* tokenize.h - the tokens a message offers the spam classifier.
 *
 * Headers and text parts decoded by GMime (RFC 2047/2231, any charset to
 * UTF-8: ISO-2022-JP, Shift_JIS, EUC-JP...), HTML turned into text and links
 * by libxml2.  Latin-script words (lower-cased, 3..40 bytes) and, in the
 * body, pairs of neighbouring words; overlapping character bigrams for
 * Japanese and Chinese (Han, Hiragana, Katakana; full-width ASCII folded to
 * ASCII first); URL hosts and their parent domains ("url:host"); header
 * words by header ("subj:", "from:", "received:"...), presence tokens
 * ("hdr:"), the networks in Received headers ("ip:"), and tokens of the
 * message's form ("meta:": Date against arrival, Date and Message-ID
 * shapes, Message-ID host, recipient count).  Each distinct token is
 * reported once per message.
 */
#ifndef OM_TOKENIZE_H
#define OM_TOKENIZE_H

#include <stddef.h>

typedef void om_token_cb(void *context, const char *token);

/* Tokenizes a raw RFC 5322 message.  Never fails: a message GMime cannot
   read is tokenized as plain text. */
void om_tokenize_message(const char *data, size_t len, om_token_cb *cb,
			 void *context);
/* The same for a message already parsed (msg NULL: data is tokenized as
   plain text). */
struct om_mime_msg;
void om_tokenize_parsed(struct om_mime_msg *msg, const char *data, size_t len,
			om_token_cb *cb, void *context);
/* Tokenizes UTF-8 text (invalid bytes skipped) with an optional prefix. */
void om_tokenize_text(const char *text, size_t len, const char *prefix,
		      om_token_cb *cb, void *context);
/* Emitted once by every message that has a CJK bigram anywhere (body or
   header): its counts are the numbers of spam and ham that could hold CJK
   tokens, by which the classifier weighs them (spam.c). */
#define OM_TOKEN_CJK_MESSAGE "meta:cjk"
/* 1 if token holds CJK text (a bigram, prefixed or not). */
int om_token_is_cjk(const char *token);
/* 1 if token came from a header ("subj:", "received:", "hdr:"...), 0 if
   from the body (words, bigrams, "url:", "html:", "part:"). */
int om_token_is_header(const char *token);

#endif
