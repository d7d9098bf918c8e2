/* recipients.c - counting To/Cc addresses and hiding them (forced Bcc).
 *
 * The header is read as RFC 5322 fields: a line starting with a name and a
 * colon, continued by lines starting with a space or a tab, ended by the
 * first empty line.  An address list is counted with its grammar: commas
 * inside quoted strings, comments and angle brackets separate nothing, a
 * "name:" starts a group whose display name is no address, and ";" ends it.
 */
#include "mail/recipients.h"

#include <string.h>
#include <strings.h>

/* One header field: [start, end) including its line ends, and the value
   after the colon. */
struct om_field {
	const char *start, *end;
	const char *name;
	size_t name_len;
	const char *value;
};

/* The end of the header section (the start of the empty line), or len. */
static size_t om_header_end(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (i == 0 || msg[i - 1] == '\n') {
			if (msg[i] == '\n' ||
			    (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
				return i;
		}
	}
	return len;
}

/* Reads the field at *pos (before end); 1 with f filled, 0 at the end. */
static int om_next_field(const char *msg, size_t end, size_t *pos,
			 struct om_field *f)
{
	const char *p = msg + *pos, *stop = msg + end, *nl, *colon;

	if (p >= stop)
		return 0;
	f->start = p;
	do {
		nl = memchr(p, '\n', (size_t)(stop - p));
		p = nl == NULL ? stop : nl + 1;
	} while (p < stop && (*p == ' ' || *p == '\t'));
	f->end = p;
	colon = memchr(f->start, ':', (size_t)(f->end - f->start));
	f->name = f->start;
	f->name_len = colon != NULL ? (size_t)(colon - f->start) : 0;
	f->value = colon != NULL ? colon + 1 : f->end;
	*pos = (size_t)(f->end - msg);
	return 1;
}

static int om_field_is(const struct om_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static int om_field_is_list(const struct om_field *f)
{
	return om_field_is(f, "To") || om_field_is(f, "Cc");
}

/* Counts the addresses of one address-list value. */
static size_t om_count_list(const char *p, const char *end)
{
	size_t count = 0;
	int depth = 0, quoted = 0, angle = 0, filled = 0;

	for (; p < end; p++) {
		char c = *p;

		if (quoted) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		switch (c) {
		case '"': quoted = 1; filled = 1; break;
		case '(': depth = 1; break;
		case '<': angle = 1; filled = 1; break;
		case '>': angle = 0; break;
		case ':':
			if (!angle)
				filled = 0;	/* a group's display name */
			break;
		case ',':
		case ';':
			if (!angle) {
				count += filled;
				filled = 0;
			}
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			filled = 1;
			break;
		}
	}
	return count + (size_t)filled;
}

size_t om_recipients_visible(const char *msg, size_t len)
{
	size_t end = om_header_end(msg, len), pos = 0, count = 0;
	struct om_field f;

	while (om_next_field(msg, end, &pos, &f)) {
		if (om_field_is_list(&f))
			count += om_count_list(f.value, f.end);
	}
	return count;
}

void om_recipients_hide(const char *msg, size_t len, struct om_buf *out)
{
	size_t end = om_header_end(msg, len), pos = 0;
	const char *nl = memchr(msg, '\n', end);
	const char *eol = nl != NULL && nl > msg && nl[-1] == '\r' ? "\r\n" : "\n";
	struct om_field f;
	int written = 0;

	om_buf_reserve(out, len + 64);
	while (om_next_field(msg, end, &pos, &f)) {
		if (!om_field_is_list(&f)) {
			om_buf_append(out, f.start, (size_t)(f.end - f.start));
			continue;
		}
		if (!written) {
			om_buf_printf(out, "To: undisclosed-recipients:;%s", eol);
			written = 1;
		}
	}
	if (!written) {
		if (out->len > 0 && out->data[out->len - 1] != '\n')
			om_buf_append_str(out, eol);
		om_buf_printf(out, "To: undisclosed-recipients:;%s", eol);
	}
	om_buf_append(out, msg + end, len - end);
}
