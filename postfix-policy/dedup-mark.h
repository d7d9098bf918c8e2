/* dedup-mark.h - the exactly-once key of a re-injected message and its
 * mark in omamori's outbound spool, shared by omamori-filter (which puts
 * the key on the copy it re-injects and reads the mark) and omamori-dedup
 * (the re-injection smtpd's milter, which writes the mark when Postfix
 * queues the copy and discards a copy whose key is already marked).
 *
 * The header:  X-Omamori-Out-Id: KEY ATTEMPT
 *   KEY      QID-HASH, the filter's spool name of the message (Postfix's
 *            original queue id and a hash of envelope and content)
 *   ATTEMPT  16 hex digits, new for each re-injection
 * The mark:    filter_spool/KEY.queued, a symbolic link whose target is
 *            "ATTEMPT NEWQID": made in one atomic symlinkat() (EEXIST: the
 *            key is marked already) and durable with one fsync of the
 *            directory, no file data to flush.  doc/outbound.md.
 */
#ifndef OM_DEDUP_MARK_H
#define OM_DEDUP_MARK_H

#include <stddef.h>

#define OM_DEDUP_HEADER "X-Omamori-Out-Id"
#define OM_DEDUP_MARK_SUFFIX ".queued"
#define OM_DEDUP_KEY_MAX 100		/* QID (<= 32) "-" 32 hex digits */
#define OM_DEDUP_ATTEMPT_LEN 16
#define OM_DEDUP_QID_MAX 64

struct om_dedup_mark {
	char attempt[OM_DEDUP_ATTEMPT_LEN + 1];
	char queue_id[OM_DEDUP_QID_MAX + 1];	/* the copy's, "-" if unknown */
};

/* 1 if key may name a mark: [0-9A-Za-z-], 1..OM_DEDUP_KEY_MAX. */
int om_dedup_key_ok(const char *key);

/* Splits a header value "KEY ATTEMPT" (blanks around allowed) into key
   (OM_DEDUP_KEY_MAX + 1 bytes) and attempt.  0, or -1 if malformed. */
int om_dedup_parse(const char *value, char *key, char *attempt);

/* Writes the mark of key in the directory dir_fd: 1 made (and, with
   sync, durable: the directory fsync'd), 0 the key was marked already
   (*existing filled when readable), -1 error (errno; nothing left
   behind). */
int om_dedup_mark_make(int dir_fd, const char *key, const char *attempt,
		       const char *queue_id, int sync, struct om_dedup_mark *existing);

/* Reads the mark of key: 1 found (*mark filled), 0 none, -1 error. */
int om_dedup_mark_read(int dir_fd, const char *key, struct om_dedup_mark *mark);

/* Removes the mark of key if attempt made it (a copy Postfix refused):
   1 removed, 0 not ours or none, -1 error (errno). */
int om_dedup_mark_clear(int dir_fd, const char *key, const char *attempt);

#endif
