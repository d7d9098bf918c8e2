/* attach.h - static analysis of one attachment for targeted attacks
 * (issue 16, seed 004): risky extensions (also inside archives), names that
 * hide their extension (right-to-left override, trailing dots or spaces),
 * an extension that lies about the content, encrypted archives (opened
 * with passwords written in the mail's body, then scanned with libclamav),
 * Office macros, PDF JavaScript or launch actions, HTML with forms or
 * scripts.
 *
 * The lists come from a rules file an administrator can change
 * (attachments.rules, conf/ has the default); the analysis is pure with
 * respect to the outside world, so tests run it on files built in memory.
 */
#ifndef OM_SCAN_ATTACH_H
#define OM_SCAN_ATTACH_H

#include <stddef.h>

struct om_av_engine;
struct om_filetype;

enum om_att_kind {
	OM_ATT_RISKY_EXT = 0,	/* class extension */
	OM_ATT_NO_EXT,		/* class extension */
	OM_ATT_EXT_MISMATCH,	/* class disguise */
	OM_ATT_RTLO,		/* class disguise */
	OM_ATT_HIDDEN_EXT,	/* class disguise: trailing dots/spaces */
	OM_ATT_ENCRYPTED,	/* class encrypted: no password worked */
	OM_ATT_MACRO,		/* class macro */
	OM_ATT_PDF_JS,		/* class active */
	OM_ATT_HTML_FORM,	/* class active */
	OM_ATT_HTML_SCRIPT,	/* class active */
	OM_ATT_SANDBOX,		/* class sandbox: the sandbox said malicious */
	OM_ATT_SANDBOX_UNKNOWN,	/* the sandbox said nothing in time: warn */
	OM_ATT_KIND_COUNT
};

struct om_att_finding {
	enum om_att_kind kind;
	char *where;		/* "a.zip/b.zip/c.exe": the file or member */
};

/* What one attachment gave: findings, and a virus libclamav found inside
   an encrypted archive opened with a password from the body. */
struct om_att_report {
	struct om_att_finding *findings;
	size_t count;
	char *virus;		/* allocated, or NULL */
	char *virus_member;	/* the member it was in */
};

struct om_att_rules;

/* Reads a rules file; 0, or -1 with *error_r ("file:line: why"). */
int om_att_rules_load(const char *path, struct om_att_rules **rules_r,
		      char **error_r);
/* Parses rules text (name is used in errors only). */
int om_att_rules_parse(const char *text, const char *name,
		       struct om_att_rules **rules_r, char **error_r);
void om_att_rules_free(struct om_att_rules **rules);

/* The passwords a body text offers ("パスワードは 1234 です",
   "パスワード：abcd", "password: x", "PW: y"): up to max, allocated,
   NULL-terminated; the count in *count_r. */
char **om_att_passwords(const char *text, size_t len, size_t max,
			size_t *count_r);
void om_att_passwords_free(char **list);

/* Analyses one attachment: its decoded file name (UTF-8, or NULL), its
   MIME type, its bytes.  passwords may be NULL; av may be NULL (an opened
   encrypted member is then not scanned, and counts as unscannable); ft
   may be NULL (the true type from the table of signatures alone).
   Fills rep (om_att_report_free it). */
void om_att_analyze(const struct om_att_rules *rules, const char *filename,
		    const char *content_type, const char *data, size_t len,
		    char *const *passwords, const struct om_av_engine *av,
		    struct om_filetype *ft, struct om_att_report *rep);
void om_att_report_free(struct om_att_report *rep);
/* Adds a finding (once per kind and where). */
void om_att_report_add(struct om_att_report *rep, enum om_att_kind kind,
		       const char *where);
/* 1 if rep has a finding of kind. */
int om_att_report_has(const struct om_att_report *rep, enum om_att_kind kind);

/* What the content is, from its first bytes (the table of signatures
   the analysis uses): "program", "zip", "ole", "pdf", "rar", "7z", "gzip",
   "png", "jpeg", "gif", "text", "empty" or "unknown" (static). */
const char *om_att_true_type(const char *data, size_t len);

/* "ATT_RISKY_EXT", ... */
const char *om_att_kind_name(enum om_att_kind kind);
/* "extension", "disguise", "encrypted", "macro", "active": the
   attachment-action-<class> setting of the kind */
const char *om_att_kind_class(enum om_att_kind kind);
/* A plain-language reason, language "ja" or "en". */
const char *om_att_kind_reason(enum om_att_kind kind, const char *language);

#endif
