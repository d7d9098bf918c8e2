/* unlock.h - opening an isolated file with the password its recipient
 * typed on omamori-web's page (issue 16 items 3 and 4; doc/attachments.md
 * "Unlocking"): an encrypted zip / 7z / RAR is listed and each member
 * scanned (libclamav) and analysed (attach.h) as the mail path would; an
 * encrypted PDF's password is checked and its JavaScript and launch
 * actions looked for in the decrypted document (mail/text.h, poppler);
 * an encrypted Office Open XML document is decrypted (office-decrypt.h)
 * and analysed as an attachment, its macro-free copy (unmacro.h) offered
 * as a second entry when it has macros.
 * Everything stays in memory: the file came over scand's socket and
 * leaves it the same way (proto.h OM_MSG_UNLOCK_*).
 */
#ifndef OM_SCAN_UNLOCK_H
#define OM_SCAN_UNLOCK_H

#include "proto/proto.h"

struct om_av_engine;
struct om_att_rules;
struct om_filetype;

struct om_unlock_env {
	const struct om_av_engine *av;		/* never NULL */
	const struct om_att_rules *rules;	/* NULL: no analysis (scand's is off) */
	struct om_filetype *ft;			/* may be NULL */
};

/* Opens req's file with req->password and fills res: status, kind and
   one entry per member (an archive) or one for the file (a PDF); with
   req->member >= 0, also res->data: that entry's bytes, only when it has
   neither a virus nor a finding and was scanned whole. */
void om_unlock_open(const struct om_unlock_env *env,
		    const struct om_unlock_request *req,
		    struct om_unlock_result *res);

#endif
