/* csv.h - reading CSV as spreadsheets write it (RFC 4180): fields in double
 * quotes may hold commas, line ends and doubled quotes ("a ""b"""); lines
 * end in LF or CRLF; a UTF-8 byte order mark at the start is skipped.
 * Used by `omamorictl list import`.  Writing: om_csv_append_field, for
 * every CSV omamori writes (list exports, billing, the report).
 */
#ifndef OM_CSV_H
#define OM_CSV_H

#include <stddef.h>

struct om_csv {
	char *pos, *end;	/* what is left of the caller's buffer */
	unsigned int line;	/* the line the next record starts on */
};

/* Starts reading data: len bytes and a NUL after them (as om_read_file()
   gives), modified in place (fields are unquoted where they lie); data
   must outlive the reader.  Returns 0, or -1 with *error_r (allocated)
   when data holds a NUL byte, naming its line. */
int om_csv_init(struct om_csv *csv, char *data, size_t len, char **error_r);

/* Reads the next record into fields[0..max-1] (NUL-terminated, pointing
   into the buffer); *count_r is how many fields the record had (may be
   more than max: the rest are not kept) and *line_r the line it started
   on.  An empty line is a record of one empty field.  Returns 1 for a
   record, 0 at the end, -1 with *error_r (allocated, naming the line) for
   a NUL byte, a quote inside an unquoted field, text after a closing
   quote or a quoted field never closed. */
int om_csv_record(struct om_csv *csv, char **fields, size_t max,
		  size_t *count_r, unsigned int *line_r, char **error_r);

struct om_buf;
/* Appends s as one CSV field: in double quotes when it holds a comma, a
   quote or a line end (quotes doubled); and when it begins with = + -, a
   tab, a CR, or @ followed by more than a domain name's characters,
   quoted and prefixed with ', so that a spreadsheet never runs a sender's
   or a user's text as a formula ("@example.jp", a list's domain entry,
   stays as it is).  om_csv_record takes that ' off again (a field "'=..."
   reads back as "=..."). */
void om_csv_append_field(struct om_buf *b, const char *s);

#endif
