/* scan.h - the scan of one message: parse, scan every part with libclamav,
 * decide, and rewrite.
 *
 * Pure with respect to the outside world: it reads only its inputs and the
 * template files, so omamori-scand, omamorictl and the fuzz target all run
 * exactly the same code.
 */
#ifndef OM_SCAN_H
#define OM_SCAN_H

#include <stddef.h>
#include <time.h>

#include "lib/om-config.h"
#include "notice/notify.h"
#include "proto/proto.h"

struct om_auth;
struct om_geo;
struct om_att_rules;
struct om_filetype;
struct om_sandbox_gate;
struct om_av_engine;
struct om_snapshot;
struct om_spam_db;
struct om_store;
struct om_link_keys;

struct om_phish;

struct om_partners;

struct om_scan_settings {
	const struct om_av_engine *engine;
	size_t max_size;
	size_t max_parts;
	unsigned int max_depth;
	enum om_limit_action limit_action;
	const char *templates_dir;
	const char *language;		/* "ja" or "en" */
	const char *notice_from;	/* full address */
	const char *admin_copy;		/* address, or NULL */
	struct om_notify_brand brand;	/* the ISP below every notice */
	/* seals administrators' copies (report.h); NULL: unsealed */
	const unsigned char *report_key;
	time_t now;
	/* the spam check: without a classifier or snapshot it is skipped */
	const struct om_spam_db *spam_db;
	const struct om_snapshot *snap;
	/* issue 15 (authlinks.h): our MTA's A-R headers, and the gate's
	   links - signed with link_keys (NULL: none can be made, url-rewrite
	   disables links instead), under web_url, living link_lifetime */
	const char *trusted_authserv_id;
	const char *own_authserv_id;	/* the id omamori's own checks write */
	/* omamori's own DKIM and DMARC (auth/auth.h), for incoming mail to
	   a mailbox whose domain has auth-check on; NULL: not checked */
	struct om_auth *auth;
	/* the attachment analysis (attach.h), for incoming mail to a mailbox
	   subscribed to "attachments"; NULL: off */
	const struct om_att_rules *attachment_rules;
	/* libmagic (filetype.h), the worker's own handle: true types where
	   the analysis's table knows nothing, and on the isolation page;
	   NULL: the table alone */
	struct om_filetype *filetype;
	unsigned int authserv_hops;
	const struct om_link_keys *link_keys;
	const char *web_url;
	time_t link_lifetime;
	/* isolation (attach-mail.h, crypto/vault.h): files written to
	   isolate_dir sealed to isolate_pk, their rows into store, the page's
	   link signed with link_keys under web_url.  Any of them NULL:
	   isolation is not possible, "isolate" removes instead */
	const unsigned char *isolate_pk;
	const char *isolate_dir;
	struct om_store *store;
	/* the phishing-shape spam rules (spam/phish.h); NULL: off */
	const struct om_phish *phish;
	/* the sandbox hook (sandbox.h): the command ("" or NULL: none), the
	   longest wait for a verdict and one run's timeout (seconds), its
	   scratch directory (NULL: $TMPDIR or /tmp); verdicts cached in
	   store (NULL: no sandbox) */
	const char *sandbox_command;
	const char *sandbox_url;	/* used when set, instead of the command */
	long sandbox_max_wait;
	long sandbox_timeout;
	const char *sandbox_temp_dir;
	/* the cap on runs at once (sandbox_max_concurrent); NULL: none */
	struct om_sandbox_gate *sandbox_gate;
	/* the Received path's countries (geo.h), for the spam rule and the
	   attachment notices; NULL: not shown */
	const struct om_geo *geo;
	/* the worker's memory of recipients' correspondents (partners.h);
	   NULL: read from store for each scan */
	struct om_partners *partners;
};

/* Scans req->message and fills res (verdict, action, virus, parts, and the
   message to deliver when it changed).  Returns 0, or -1 with *error_r
   (allocated) when the scan itself could not be done (a template missing):
   the caller must then tempfail, never deliver. */
int om_scan_message(const struct om_scan_settings *set,
		    const struct om_scan_request *req,
		    struct om_scan_result *res, char **error_r);

/* The notice sender for a recipient: notice_from, with "@domain" of the
   recipient added when it has no domain.  Allocated. */
char *om_scan_notice_from(const char *notice_from, const char *recipient);

#endif
