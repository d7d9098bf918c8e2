/* omamori-read.c - reading a message whole and bounded, and its From
 * address, for the mail plugins (learning, delivery) and the Sieve
 * extension (its scan outside a delivery, its default sender).
 *
 * A message is read at most up to scan_max_size: what scand would refuse
 * anyway is never held in memory.  The From address goes through Dovecot's
 * own RFC 5322 parser, never a hand-made one.
 */
#include "lib.h"
#include "buffer.h"
#include "istream.h"
#include "mail-storage.h"
#include "message-address.h"

#include "omamori-read.h"

int omamori_read_stream(struct istream *input, size_t max, buffer_t *buf,
			const char **error_r)
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

int omamori_read_message(struct mail *mail, size_t max, buffer_t *buf,
			 const char **error_r)
{
	struct istream *input;
	uoff_t psize;

	buffer_set_used_size(buf, 0);
	if (mail_get_physical_size(mail, &psize) == 0) {
		if (psize > max)
			return 0;
		/* one allocation of the right size, not a doubling buffer */
		buffer_append_zero(buf, (size_t)psize + 1);
		buffer_set_used_size(buf, 0);
	}
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	return omamori_read_stream(input, max, buf, error_r);
}

const char *omamori_read_from(struct mail *mail)
{
	struct message_address *addr;
	const char *value;

	if (mail_get_first_header(mail, "From", &value) <= 0)
		return NULL;
	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)value, strlen(value), 1, 0);
	if (addr == NULL || addr->mailbox == NULL || addr->domain == NULL ||
	    *addr->mailbox == '\0' || *addr->domain == '\0')
		return NULL;
	return t_strdup_printf("%s@%s", addr->mailbox, addr->domain);
}
