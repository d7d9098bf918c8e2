/* web-html.c - HTML-escaping for omamori-web's pages.
 *
 * Every value from a request or the store, and our own texts too, goes
 * through here on its way into a page: om_sanitize's rules first (what a
 * screen or a log may show), then the five characters HTML gives a meaning
 * to as entities.  Pages are made of many short values, so this is on the
 * path of every request: text that om_sanitize would copy unchanged
 * (om_sanitize_unchanged: nearly all of it) is escaped where it is,
 * without the copy, and the runs between characters that need an entity
 * are appended whole, not a byte at a time.
 */
#include "web-html.h"

#include <stdlib.h>
#include <string.h>

/* The entity of a character HTML gives a meaning to, or NULL. */
static const char *web_html_entity(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

/* Appends s (len bytes, NUL-terminated, already sanitized) escaped. */
static void web_html_esc_clean(struct om_buf *b, const char *s, size_t len)
{
	const char *entity;
	size_t span;

	om_buf_reserve(b, len);
	for (;;) {
		span = strcspn(s, "&<>\"'");
		if (span > 0)
			om_buf_append(b, s, span);
		s += span;
		if (*s == '\0')
			return;
		entity = web_html_entity(*s);
		om_buf_append_str(b, entity != NULL ? entity : "?");
		s++;
	}
}

void web_html_esc(struct om_buf *b, const char *text, size_t max)
{
	size_t len;
	char *clean;

	if (text == NULL)
		text = "";
	len = om_sanitize_unchanged(text, max);
	if (len != (size_t)-1) {
		web_html_esc_clean(b, text, len);
		return;
	}
	clean = om_sanitize(text, max);
	web_html_esc_clean(b, clean, strlen(clean));
	free(clean);
}
