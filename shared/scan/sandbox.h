/* sandbox.h - the sandbox hook (issue 16 item 4, seeds 000, 003): one file
 * of a mail already suspicious after the static checks is handed to an
 * outside analyser, which answers clean, malicious, or pending (it has not
 * finished: the mail waits, LMTP 451, and asks again on the next try).
 *
 * The analyser is a command (omamori.conf sandbox_command): argv split on
 * blanks, run without a shell, the file on its standard input and as a
 * path in a private directory (OMAMORI_SANDBOX_FILE), its name and SHA-256
 * in the environment; the first word it prints is the verdict.  A command
 * that fails, prints something else or outlives sandbox_timeout gives
 * "failed", which the caller treats as pending.
 */
#ifndef OM_SCAN_SANDBOX_H
#define OM_SCAN_SANDBOX_H

#include <stddef.h>

enum om_sandbox_verdict {
	OM_SANDBOX_PENDING = 0,
	OM_SANDBOX_CLEAN,
	OM_SANDBOX_MALICIOUS,
	OM_SANDBOX_UNKNOWN,	/* the analyser cannot tell */
	OM_SANDBOX_FAILED	/* the command failed: not cached */
};

#define OM_SANDBOX_HASH_LEN 64	/* SHA-256 in hex */

/* The SHA-256 of data, in hex, into hex (OM_SANDBOX_HASH_LEN + 1). */
void om_sandbox_hash(const char *data, size_t len, char hex[OM_SANDBOX_HASH_LEN + 1]);

/* "pending", "clean", "malicious", "unknown", "failed" (static). */
const char *om_sandbox_verdict_word(enum om_sandbox_verdict v);
/* The verdict a word names (the store's, or the command's first word,
   any case); failed when none. */
enum om_sandbox_verdict om_sandbox_verdict_parse(const char *word, size_t len);

/* Runs command on one file (name: its decoded name, for the analyser's
   log; may be NULL) in a private directory under temp_dir (NULL: $TMPDIR
   or /tmp), at most timeout seconds.  The verdict, or failed with
   *error_r (allocated) saying why. */
enum om_sandbox_verdict om_sandbox_run(const char *command, const char *name,
				       const char *hash, const char *data, size_t len,
				       long timeout, const char *temp_dir,
				       char **error_r);

/* The same through an HTTP endpoint on this machine (sandbox_url): the
   file POSTed as the body (application/octet-stream), its name and hash
   in X-Omamori-Name and X-Omamori-SHA256; a 200 answer's first word is
   the verdict.  No redirects, no proxy.  om_sandbox_http_init once,
   before threads. */
void om_sandbox_http_init(void);
/* 0 when url is http(s) to 127.0.0.1, [::1] or localhost; -1 with
   *error_r. */
int om_sandbox_url_check(const char *url, char **error_r);
enum om_sandbox_verdict om_sandbox_post(const char *url, const char *name,
					const char *hash, const char *data, size_t len,
					long timeout, char **error_r);

/* The cap on sandbox runs going on at once (sandbox_max_concurrent): one
   gate in scand, shared by its workers.  A file that finds every slot
   taken is not sent now: the caller treats it as pending (the mail is
   deferred, LMTP 451, and the next try asks again), never as a verdict. */
struct om_sandbox_gate;

/* A gate for at most max runs at once (1..). */
struct om_sandbox_gate *om_sandbox_gate_new(unsigned int max);
void om_sandbox_gate_free(struct om_sandbox_gate **gate);
/* Takes a slot: 1, or 0 when max runs go on already (nothing taken). */
int om_sandbox_gate_enter(struct om_sandbox_gate *gate);
/* Gives back a slot om_sandbox_gate_enter took. */
void om_sandbox_gate_leave(struct om_sandbox_gate *gate);

#endif
