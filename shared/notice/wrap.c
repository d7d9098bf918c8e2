/* wrap.c - a message below a notice, as an attachment (see wrap.h).
 *
 * The boundary carries 128 random bits, so no original can hold it by
 * chance (nor on purpose: the sender cannot know it).  Copied header
 * fields are bounded (OM_WRAP_MAX_HEADER) and keep their raw bytes, so
 * encoded words and raw ISO-2022-JP stay readable as the sender wrote them.
 */
#include "notice/wrap.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define OM_WRAP_MAX_HEADER (16 * 1024)

static const char *const om_wrap_copied[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", NULL
};

static int om_wrap_is_copied(const char *line, size_t len)
{
	size_t i, n;

	for (i = 0; om_wrap_copied[i] != NULL; i++) {
		n = strlen(om_wrap_copied[i]);
		if (len > n && line[n] == ':' &&
		    strncasecmp(line, om_wrap_copied[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Appends one line of the original without its CR, ending in LF. */
static void om_wrap_copy_line(struct om_buf *out, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	om_buf_append(out, line, len);
	om_buf_append(out, "\n", 1);
}

/* Copies the chosen fields (with their continuation lines) of the header
   block; stops at its end or at the bound. */
static void om_wrap_copy_header(struct om_buf *out, const char *p, size_t len)
{
	const char *end = p + len, *eol;
	size_t copied = 0, n;
	int copying = 0;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = eol != NULL ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		if (n == 1 || (n == 2 && p[0] == '\r'))
			break;		/* the empty line: end of the header */
		if (p[0] != ' ' && p[0] != '\t')
			copying = om_wrap_is_copied(p, n);
		if (copying && copied + n <= OM_WRAP_MAX_HEADER) {
			om_wrap_copy_line(out, p, n);
			copied += n;
		}
		p += n;
	}
}

static void om_wrap_boundary(char *buf, size_t size)
{
	unsigned char r[16];
	size_t i, pos;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* no entropy source: time and address still differ per call */
		unsigned long long t = (unsigned long long)time(NULL) ^
			(unsigned long long)(uintptr_t)buf;

		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
	}
	pos = (size_t)snprintf(buf, size, "omamori-wrap-");
	for (i = 0; i < sizeof(r) && pos + 2 < size; i++, pos += 2)
		(void)snprintf(buf + pos, size - pos, "%02x", r[i]);
}

void om_wrap_head_tail(const char *header, size_t header_len,
		       const char *notice, struct om_buf *head,
		       struct om_buf *tail)
{
	char boundary[64];

	om_wrap_boundary(boundary, sizeof(boundary));
	om_wrap_copy_header(head, header, header_len);
	om_buf_printf(head, "MIME-Version: 1.0\n"
		      "Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
		      "--%s\n"
		      "Content-Type: text/plain; charset=UTF-8\n"
		      "Content-Transfer-Encoding: 8bit\n\n", boundary, boundary);
	om_buf_append_str(head, notice);
	if (head->len > 0 && head->data[head->len - 1] != '\n')
		om_buf_append(head, "\n", 1);
	om_buf_printf(head, "\n--%s\n"
		      "Content-Type: message/rfc822\n"
		      "Content-Disposition: attachment; filename=\"original.eml\"\n\n",
		      boundary);
	om_buf_printf(tail, "\n--%s--\n", boundary);
}

void om_wrap_message(const char *message, size_t len, const char *notice,
		     struct om_buf *out)
{
	struct om_buf tail;

	om_buf_init(&tail);
	om_wrap_head_tail(message, len, notice, out, &tail);
	om_buf_append(out, message, len);
	om_buf_append(out, tail.data, tail.len);
	om_buf_free(&tail);
}
