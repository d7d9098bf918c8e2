/* omamori-read.h - reading a message as omamori's Dovecot modules need it:
 * whole and bounded (to send it to scand), and its From address.  One copy
 * for the mail plugins and the Sieve extension (dovecot-plugin/Makefile
 * rules: libomdovecot.la).
 */
#ifndef OMAMORI_READ_H
#define OMAMORI_READ_H

#include "buffer.h"

struct istream;
struct mail;

/* Reads input from its start into buf, up to max bytes.  1 read, 0 too
   large (buf holds what was read so far), -1 error (*error_r, data
   stack). */
int omamori_read_stream(struct istream *input, size_t max, buffer_t *buf,
			const char **error_r);

/* Reads the whole message of mail into buf (emptied first), up to max
   bytes.  1 read, 0 too large, -1 error (*error_r, data stack). */
int omamori_read_message(struct mail *mail, size_t max, buffer_t *buf,
			 const char **error_r);

/* The address of the message's first From mailbox ("local@domain", as
   written, data stack), or NULL when there is none or it has no local part
   or no domain. */
const char *omamori_read_from(struct mail *mail);

#endif
