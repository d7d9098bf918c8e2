/* util.c - memory, growable buffers and text sanitising for libomamori.
 *
 * Everything here is pure and small; the buffer type is the one container the
 * rest of the library builds strings and wire frames with.
 */
#include "lib/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static void om_out_of_memory(size_t size)
{
	fprintf(stderr, "omamori: fatal: out of memory allocating %zu bytes\n",
		size);
	abort();
}

void *om_malloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		om_out_of_memory(size);
	return p;
}

void *om_calloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		om_out_of_memory(n * size);
	return p;
}

void *om_realloc(void *p, size_t size)
{
	void *q = realloc(p, size == 0 ? 1 : size);

	if (q == NULL)
		om_out_of_memory(size);
	return q;
}

char *om_strdup(const char *s)
{
	return om_strndup(s, strlen(s));
}

char *om_strndup(const char *s, size_t n)
{
	char *p = om_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *om_vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return om_strdup("(format error)");
	p = om_malloc((size_t)n + 1);
	if (vsnprintf(p, (size_t)n + 1, fmt, ap) < 0)
		p[0] = '\0';
	return p;
}

char *om_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = om_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void om_free(void *pp)
{
	void **p = pp;

	free(*p);
	*p = NULL;
}

void om_free_strings(char **strings, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(strings[i]);
	free(strings);
}

void om_buf_init(struct om_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void om_buf_reset(struct om_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void om_buf_free(struct om_buf *b)
{
	free(b->data);
	om_buf_init(b);
}

void om_buf_reserve(struct om_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need < b->len)
		om_out_of_memory(SIZE_MAX);
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap * 2 < b->cap ? need : b->cap * 2;
	b->data = om_realloc(b->data, b->cap);
}

void om_buf_append(struct om_buf *b, const void *data, size_t len)
{
	om_buf_reserve(b, len);
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void om_buf_append_str(struct om_buf *b, const char *s)
{
	om_buf_append(b, s, strlen(s));
}

void om_buf_printf(struct om_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = om_vasprintf(fmt, ap);
	va_end(ap);
	om_buf_append_str(b, s);
	free(s);
}

/* The length of the well-formed UTF-8 sequence at p (2..4), or 0. */
static size_t om_json_utf8_len(const unsigned char *p)
{
	size_t n = *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3 :
		*p >= 0xf0 && *p <= 0xf4 ? 4 : 0, i;

	/* a NUL is no continuation byte: nothing is read past the string */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n > 0 && om_utf8_valid((const char *)p, n) ? n : 0;
}

void om_buf_append_json_str(struct om_buf *b, const char *s)
{
	size_t n;

	const unsigned char *p;

	if (s == NULL) {
		om_buf_append_str(b, "null");
		return;
	}
	om_buf_append(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"': om_buf_append_str(b, "\\\""); break;
		case '\\': om_buf_append_str(b, "\\\\"); break;
		case '\n': om_buf_append_str(b, "\\n"); break;
		case '\r': om_buf_append_str(b, "\\r"); break;
		case '\t': om_buf_append_str(b, "\\t"); break;
		default:
			if (*p < 0x20) {
				om_buf_printf(b, "\\u%04x", *p);
			} else if (*p < 0x80) {
				om_buf_append(b, p, 1);
			} else if ((n = om_json_utf8_len(p)) > 0) {
				om_buf_append(b, p, n);
				p += n - 1;
			} else {
				/* not UTF-8: JSON must be, so the byte is U+FFFD */
				om_buf_append_str(b, "\\ufffd");
			}
		}
	}
	om_buf_append(b, "\"", 1);
}

char *om_buf_steal(struct om_buf *b, size_t *len_r)
{
	char *p;

	if (b->data == NULL)
		om_buf_append(b, "", 0);
	p = b->data;
	if (len_r != NULL)
		*len_r = b->len;
	om_buf_init(b);
	return p;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629's table:
   the second byte's range depends on the first), or 0. */
static size_t om_utf8_strict_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

int om_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, seq;

	while (i < len) {
		if ((seq = om_utf8_strict_len(p + i, len - i)) == 0)
			return 0;
		i += seq;
	}
	return 1;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t om_utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0 && p[0] >= 0xc2)
		len = 2;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((p[0] & 0xf8) == 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

/* The code point of a valid UTF-8 sequence of seq bytes. */
static unsigned int om_utf8_code_point(const unsigned char *p, size_t seq)
{
	switch (seq) {
	case 2: return ((p[0] & 0x1fU) << 6) | (p[1] & 0x3fU);
	case 3: return ((p[0] & 0x0fU) << 12) | ((p[1] & 0x3fU) << 6) | (p[2] & 0x3fU);
	case 4: return ((p[0] & 0x07U) << 18) | ((p[1] & 0x3fU) << 12) |
		((p[2] & 0x3fU) << 6) | (p[3] & 0x3fU);
	default: return p[0];
	}
}

/* Bidirectional controls: they reorder what follows them on screen, so
   "invoice<U+202E>gpj.exe" reads as "invoiceexe.jpg".  Shown as
   "[U+202E]" wherever we write text, never passed on. */
static int om_is_bidi_control(unsigned int cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
		(cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static char *om_sanitize_full(const char *s, size_t maxbytes, int keep_newlines)
{
	const unsigned char *p = (const unsigned char *)(s == NULL ? "" : s);
	size_t n = strlen((const char *)p), i = 0, seq;
	unsigned int cp;
	struct om_buf b;

	om_buf_init(&b);
	if (maxbytes < 4)
		maxbytes = 4;
	while (i < n) {
		seq = om_utf8_seq_len(p + i, n - i);
		if (b.len + (seq == 0 ? 1 : seq) > maxbytes - 3) {
			om_buf_append_str(&b, "...");
			break;
		}
		cp = seq == 0 ? 0 : om_utf8_code_point(p + i, seq);
		if (seq == 0 || (seq == 1 && (p[i] < 0x20 || p[i] == 0x7f) &&
				  !(keep_newlines && p[i] == '\n'))) {
			om_buf_append(&b, "?", 1);
			i++;
		} else if (cp >= 0x80 && cp <= 0x9f) {
			om_buf_append(&b, "?", 1);	/* C1 controls */
			i += seq;
		} else if (om_is_bidi_control(cp)) {
			if (b.len + 8 > maxbytes - 3) {
				om_buf_append_str(&b, "...");
				break;
			}
			om_buf_printf(&b, "[U+%04X]", cp);
			i += seq;
		} else {
			om_buf_append(&b, p + i, seq);
			i += seq;
		}
	}
	return om_buf_steal(&b, NULL);
}

size_t om_sanitize_unchanged(const char *s, size_t maxbytes)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, seq;
	unsigned int cp;

	/* om_sanitize_full's tests, for text it would copy byte for byte */
	if (maxbytes < 4)
		maxbytes = 4;
	while (i < n) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			seq = 1;	/* printable ASCII: the usual case */
		else if ((seq = om_utf8_seq_len(p + i, n - i)) <= 1)
			return (size_t)-1;	/* not UTF-8, or a control */
		if (i + seq > maxbytes - 3)
			return (size_t)-1;	/* would be cut */
		if (seq > 1) {
			cp = om_utf8_code_point(p + i, seq);
			if ((cp >= 0x80 && cp <= 0x9f) || om_is_bidi_control(cp))
				return (size_t)-1;
		}
		i += seq;
	}
	return n;
}

char *om_sanitize(const char *s, size_t maxbytes)
{
	return om_sanitize_full(s, maxbytes, 0);
}

char *om_sanitize_text(const char *s, size_t maxbytes)
{
	return om_sanitize_full(s, maxbytes, 1);
}

/* Appends the host name at *pp to b, each dot as "[.]"; moves *pp past it. */
static void om_defang_host(struct om_buf *b, const char **pp)
{
	const char *p = *pp;

	for (; *p != '\0' && strchr("/?#<>\"' \t\r\n", *p) == NULL; p++) {
		if (*p == '.')
			om_buf_append_str(b, "[.]");
		else
			om_buf_append(b, p, 1);
	}
	*pp = p;
}

char *om_text_defang(const char *s)
{
	const char *p = s, *sep;
	struct om_buf b;

	om_buf_init(&b);
	while (*p != '\0') {
		if (strncasecmp(p, "http", 4) == 0 &&
		    (sep = strstr(p, "://")) != NULL &&
		    (sep == p + 4 || (sep == p + 5 && (p[4] == 's' || p[4] == 'S')))) {
			om_buf_append(&b, p, 1);
			om_buf_append_str(&b, "xx");
			om_buf_append(&b, p + 3, (size_t)(sep + 3 - (p + 3)));
			p = sep + 3;
			om_defang_host(&b, &p);
		} else if (strncasecmp(p, "www.", 4) == 0 &&
			   (p == s || !isalnum((unsigned char)p[-1]))) {
			om_defang_host(&b, &p);
		} else {
			om_buf_append(&b, p, 1);
			p++;
		}
	}
	om_buf_append(&b, "", 1);
	b.len--;
	return om_buf_steal(&b, NULL);
}

int om_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char **om_split_lines(char *text, size_t *count_r)
{
	char **out = NULL, *p = text, *nl;
	size_t n = 0;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (*p != '\0') {
			out = om_realloc(out, (n + 1) * sizeof(*out));
			out[n++] = p;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	*count_r = n;
	return out;
}

int om_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* The digits at text (at least one, nothing else) as a number; -1 on
   anything else or on overflow. */
static int om_parse_digits(const char *text, unsigned long *value_r)
{
	unsigned long n = 0, digit;
	const char *p;

	if (text == NULL || *text == '\0')
		return -1;
	for (p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		digit = (unsigned long)(*p - '0');
		if (n > (ULONG_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	*value_r = n;
	return 0;
}

int om_parse_ulong(const char *text, unsigned long min, unsigned long max,
		   unsigned long *value_r)
{
	unsigned long n;

	if (om_parse_digits(text, &n) < 0 || n < min || n > max)
		return -1;
	*value_r = n;
	return 0;
}

int om_parse_long(const char *text, long min, long max, long *value_r)
{
	int negative = text != NULL && *text == '-';
	unsigned long magnitude;
	long n;

	if (om_parse_digits(negative ? text + 1 : text, &magnitude) < 0)
		return -1;
	if (!negative && magnitude > (unsigned long)LONG_MAX)
		return -1;
	if (negative && magnitude > (unsigned long)LONG_MAX + 1)
		return -1;
	if (!negative)
		n = (long)magnitude;
	else if (magnitude == (unsigned long)LONG_MAX + 1)
		n = LONG_MIN;
	else
		n = -(long)magnitude;
	if (n < min || n > max)
		return -1;
	*value_r = n;
	return 0;
}

int om_parse_decimal(const char *text, double *value_r)
{
	const char *p = text;
	size_t digits = 0;
	char *end;
	double d;

	if (text == NULL || strlen(text) > 64)
		return -1;
	if (*p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (digits == 0)
		return -1;
	if (*p == '.') {
		for (digits = 0, p++; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits == 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	d = strtod(text, &end);
	if (*end != '\0' || !isfinite(d))
		return -1;
	*value_r = d;
	return 0;
}

int om_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void om_address_key_fold(char *s)
{
	char *p, *end = s;

	for (p = s; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		if (*p != '.')
			end = p + 1;
	}
	*end = '\0';
}

int om_address_key(const char *in, char *buf, size_t size)
{
	if (om_strlcpy(buf, in, size) < 0)
		return -1;
	om_address_key_fold(buf);
	return 0;
}

int om_read_file(const char *path, size_t max_size, char **data_r,
		 size_t *len_r, char **error_r)
{
	struct om_buf b;
	char chunk[65536];
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = om_asprintf("open(%s): %s", path, strerror(errno));
		return -1;
	}
	om_buf_init(&b);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = om_asprintf("read(%s): %s", path,
					       strerror(errno));
			break;
		}
		if (n == 0) {
			if (fd != STDIN_FILENO)
				close(fd);
			*data_r = om_buf_steal(&b, len_r);
			return 0;
		}
		if (b.len + (size_t)n > max_size) {
			*error_r = om_asprintf("%s: larger than the limit of %zu bytes",
					       path, max_size);
			break;
		}
		om_buf_append(&b, chunk, (size_t)n);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	om_buf_free(&b);
	return -1;
}

uint64_t om_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void om_deadline_after_ms(struct timespec *ts, long ms)
{
	if (clock_gettime(CLOCK_REALTIME, ts) < 0) {
		ts->tv_sec = time(NULL);
		ts->tv_nsec = 0;
	}
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int om_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
