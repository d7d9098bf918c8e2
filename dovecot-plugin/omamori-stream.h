/* omamori-stream.h - reading a message stream whole, bounded, for the
 * Dovecot mail plugins and the Sieve extension alike (they are separate
 * modules, so this is an inline function rather than a shared symbol).
 */
#ifndef OMAMORI_STREAM_H
#define OMAMORI_STREAM_H

#include "lib.h"
#include "buffer.h"
#include "istream.h"

/* Reads input from its start into buf, up to max bytes.  1 read, 0 too
   large, -1 error (*error_r, data stack). */
static inline int omamori_read_stream(struct istream *input, size_t max,
				      buffer_t *buf, const char **error_r)
{
	const unsigned char *data;
	size_t size;

	i_stream_seek(input, 0);
	while (i_stream_read_more(input, &data, &size) > 0) {
		if (buf->used + size > max)
			return 0;
		buffer_append(buf, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 1;
}

#endif
