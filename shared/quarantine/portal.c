/* portal.c - the portal message's pack (portal.h): written by
 * omamori-filter, read by omamori-web.
 */
#include "quarantine/portal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OM_PORTAL_HEADER_MAX 64

void om_portal_pack(struct om_buf *out, char kind, const char *name, const void *data,
		    size_t len)
{
	om_buf_printf(out, "%c %zu %zu\n", kind, strlen(name), len);
	om_buf_append(out, name, strlen(name));
	om_buf_append(out, data, len);
}

/* A decimal at *p up to end, ended by stop; *p past stop.  0 or -1. */
static int om_portal_number(const char **p, const char *end, char stop, size_t *n_r)
{
	size_t n = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (n > ((size_t)-1 - 9) / 10)
			return -1;
		n = n * 10 + (size_t)(*s - '0');
	}
	if (s >= end || *s != stop)
		return -1;
	*p = s + 1;
	*n_r = n;
	return 0;
}

int om_portal_next(const char *buf, size_t len, size_t *pos, struct om_portal_part *part)
{
	const char *p = buf + *pos, *end = buf + len;
	size_t name_len, data_len;

	if (*pos >= len)
		return 0;
	if (end - p < 2 || (p[0] != OM_PORTAL_TEXT && p[0] != OM_PORTAL_HTML &&
			    p[0] != OM_PORTAL_HTML_IMAGES && p[0] != OM_PORTAL_FILE) ||
	    p[1] != ' ')
		return -1;
	part->kind = p[0];
	p += 2;
	if (om_portal_number(&p, end, ' ', &name_len) < 0 ||
	    om_portal_number(&p, end, '\n', &data_len) < 0)
		return -1;
	if ((size_t)(end - p) < name_len || (size_t)(end - p) - name_len < data_len)
		return -1;
	part->name = p;
	part->name_len = name_len;
	part->data = p + name_len;
	part->len = data_len;
	*pos = (size_t)(part->data + data_len - buf);
	return 1;
}
