/* subject.c - the spam tag put in front of a Subject (see subject.h).
 *
 * Raw header bytes in, raw header bytes out: the original subject keeps
 * its encoded words (or raw ISO-2022-JP escapes) untouched; a non-ASCII tag
 * becomes an encoded word of its own (GLib's base64, from GMime's stack).
 */
#include "mail/subject.h"
#include "lib/util.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

static int om_subject_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return 0;
	}
	return 1;
}

char *om_subject_tag(const char *raw_subject, const char *tag)
{
	const char *subject = raw_subject != NULL ? raw_subject : "";
	gchar *encoded;
	char *out;

	char *unfolded, *u;
	const char *p;

	while (*subject == ' ' || *subject == '\t')
		subject++;
	/* one line: folding (CR LF before white space) removed, as a reader
	   would unfold it; a trailing line end dropped */
	u = unfolded = om_malloc(strlen(subject) + 1);
	for (p = subject; *p != '\0'; p++) {
		if (*p != '\r' && *p != '\n')
			*u++ = *p;
	}
	*u = '\0';
	subject = unfolded;
	if (*tag == '\0' || strncmp(subject, tag, strlen(tag)) == 0) {
		free(unfolded);
		return NULL;
	}
	if (om_subject_ascii(tag)) {
		/* "[SPAM] =?ISO-2022-JP?B?...?=": plain text before an encoded
		   word, separated by the tag's own space - both stay intact */
		out = om_asprintf("%s%s", tag, subject);
		free(unfolded);
		return out;
	}
	/* a non-ASCII tag is an encoded word of its own; its trailing space
	   is inside it, since space between two encoded words is dropped */
	encoded = g_base64_encode((const guchar *)tag, strlen(tag));
	out = om_asprintf("=?UTF-8?B?%s?=%s%s", encoded,
			  *subject != '\0' && strncmp(subject, "=?", 2) != 0 ? " " : "",
			  subject);
	g_free(encoded);
	free(unfolded);
	return out;
}
