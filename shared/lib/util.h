/* util.h - memory, growable buffers and text sanitising for libomamori.
 *
 * Allocators never return NULL: on exhaustion they abort, as Postfix's mymalloc
 * does, so no caller tests for it.  om_buf is a bounded, growable byte buffer.
 */
#ifndef OM_UTIL_H
#define OM_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

#define OM_ATTR_FORMAT(f, a) __attribute__((format(printf, f, a)))
#define OM_N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

void *om_malloc(size_t size);
void *om_calloc(size_t n, size_t size);
void *om_realloc(void *p, size_t size);
char *om_strdup(const char *s);
char *om_strndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *om_asprintf(const char *fmt, ...) OM_ATTR_FORMAT(1, 2);
char *om_vasprintf(const char *fmt, va_list ap) OM_ATTR_FORMAT(1, 0);
/* Frees *p and sets it to NULL. */
void om_free(void *pp);
/* Frees the count strings of an array, then the array. */
void om_free_strings(char **strings, size_t count);

/* A growable byte buffer, always NUL-terminated (the NUL is not counted). */
struct om_buf {
	char *data;
	size_t len;
	size_t cap;
};
void om_buf_init(struct om_buf *b);
void om_buf_reset(struct om_buf *b);
void om_buf_free(struct om_buf *b);
/* Makes room for extra more bytes (and the NUL) so that appends up to
   that size do not reallocate; for a caller that knows the size it will
   build. */
void om_buf_reserve(struct om_buf *b, size_t extra);
void om_buf_append(struct om_buf *b, const void *data, size_t len);
void om_buf_append_str(struct om_buf *b, const char *s);
void om_buf_printf(struct om_buf *b, const char *fmt, ...) OM_ATTR_FORMAT(2, 3);
/* Appends s as a JSON string literal (quotes included); NULL gives null. */
void om_buf_append_json_str(struct om_buf *b, const char *s);
/* Hands the data over to the caller (who frees it) and empties b. */
char *om_buf_steal(struct om_buf *b, size_t *len_r);

/* 1 if s[0..len) is well-formed UTF-8 as RFC 3629 has it (no overlong
   form, no surrogate, nothing past U+10FFFF), else 0. */
int om_utf8_valid(const char *s, size_t len);

/* Returns a copy of s (UTF-8) of at most maxbytes bytes in which control
   characters become '?' and an invalid UTF-8 byte becomes '?'.  Text from a
   message or a client goes through this before it reaches a log line, a
   notice or a reply.  A cut string ends in "...". */
char *om_sanitize(const char *s, size_t maxbytes);

/* The length of s when om_sanitize(s, maxbytes) would return it as it is
   (valid UTF-8 without controls or bidi controls, short enough not to be
   cut), else (size_t)-1: a caller can then use s without the copy. */
size_t om_sanitize_unchanged(const char *s, size_t maxbytes);

/* The same, but newlines are kept (multi-line notice text). */
char *om_sanitize_text(const char *s, size_t maxbytes);

/* A copy of s (allocated) in which the URLs a sender wrote no longer read
   as links: "http" becomes "hxxp" and the dots of the host after "://" or
   of a "www." name become "[.]" ("https://evil.example/x" ->
   "hxxps://evil[.]example/x"), as security notices write them.  For a
   sender's words that omamori repeats in its own mail (the digest's
   subjects and From names), where a mail program would make them links
   beside omamori's own. */
char *om_text_defang(const char *s);

/* The value of the hexadecimal digit c (0-9, a-f, A-F), or -1. */
int om_hex_digit(char c);

/* Splits "a\nb\n" into an array of its non-empty lines: pointers into
   text, which is changed (each '\n' becomes a NUL); the array allocated,
   NULL when there is none; *count_r lines. */
char **om_split_lines(char *text, size_t *count_r);

/* strlcpy with a truncation check: returns 0, or -1 if src did not fit
   (dst is then the empty string: never cut silently). */
int om_strlcpy(char *dst, const char *src, size_t size);

/* Writes all of data to fd (retrying short writes and EINTR); 0, or -1
   with errno set. */
int om_write_all(int fd, const void *data, size_t len);

/* Checked number parsers, for every number that comes as text from the
   wire, the store, a message or a user (never atoi/atol/sscanf, nor strtol
   without its checks).  The text is decimal digits and nothing else: no
   space, no '+', nothing after; om_parse_long also takes one leading '-'.
   A value that overflows, or lies outside min..max, is refused.  0 with
   *value_r set, or -1 with *value_r untouched (NULL text is -1). */
int om_parse_ulong(const char *text, unsigned long min, unsigned long max,
		   unsigned long *value_r);
int om_parse_long(const char *text, long min, long max, long *value_r);
/* A decimal number with an optional '-' and an optional fraction
   ("-1.25", "5", "0.5": no exponent, no "inf" or "nan", at most 64
   characters).  0 with *value_r, or -1. */
int om_parse_decimal(const char *text, double *value_r);

/* Case-insensitive ASCII prefix test. */
int om_has_prefix_ci(const char *s, const char *prefix);

/* An address or a domain as omamori looks it up (subscriptions, settings,
   lists, rate limits): ASCII letters in lower case and no trailing dot,
   the form omamorictl and the web store keys in ("Alice@Example.TEST." ->
   "alice@example.test"), so that a sender cannot step around a setting by
   spelling its address otherwise.  Never applied to what is sent on. */
#define OM_ADDRESS_KEY_MAX 512
/* In place. */
void om_address_key_fold(char *s);
/* Into buf (size bytes).  0, or -1 (buf "") when it does not fit. */
int om_address_key(const char *in, char *buf, size_t size);

/* Reads a whole file (or stdin for "-") up to max_size bytes.  Returns 0 and
   the data (NUL-terminated) or -1 with *error_r set (allocated). */
int om_read_file(const char *path, size_t max_size, char **data_r,
		 size_t *len_r, char **error_r);

/* Monotonic clock in milliseconds. */
uint64_t om_now_ms(void);

struct timespec;
/* The wall-clock time ms milliseconds from now in *ts, the deadline
   pthread_cond_timedwait takes (its default clock). */
void om_deadline_after_ms(struct timespec *ts, long ms);

#endif
