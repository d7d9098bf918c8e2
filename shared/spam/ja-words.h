/* ja-words.h - Japanese text cut into words by MeCab (IPA dictionary).
 *
 * The classifier's tokens for a run of Japanese text (tokenize.c).  MeCab's
 * model is loaded once per process and shared (it is read-only); a tagger
 * is not thread-safe, so each thread gets its own, created on first use and
 * freed when the thread ends.  Without MeCab's dictionary the caller keeps
 * to character bigrams.
 */
#ifndef OM_JA_WORDS_H
#define OM_JA_WORDS_H

#include <stddef.h>

typedef void om_ja_word_cb(void *context, const char *word, size_t len);

/* Calls cb for each word of the UTF-8 text (a run of CJK characters), in
   order; punctuation and symbols are left out.  Returns 0, or -1 when MeCab
   cannot be used (no dictionary, out of memory): nothing was reported. */
int om_ja_words(const char *text, size_t len, om_ja_word_cb *cb, void *context);

#endif
