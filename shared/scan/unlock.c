/* unlock.c - opens an isolated file with its recipient's password, in
 * memory, and says what is inside (unlock.h).  An archive is read with
 * libarchive and the passphrase; every regular member is scanned by
 * libclamav and analysed as an attachment of its own (attach.h: risky
 * names, disguises, macros, active PDF or HTML, archives inside, opened
 * with the same password), so a member is "clean" on the page only when
 * the mail path would have found nothing in it either.  A PDF is opened
 * by poppler with the password (mail/text.h): its JavaScript and launch
 * actions are looked for in the decrypted document.  Nothing is written
 * to disk; the bytes of the one member asked for are copied out only
 * when it is clean.
 */
#include "scan/unlock.h"
#include "scan/attach.h"
#include "scan/av.h"
#include "mail/text.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#define OM_UNLOCK_MEMBER_MAX (32u * 1024 * 1024)	/* bytes of one member */
#define OM_UNLOCK_WHERE_MAX 300

/* The findings of rep in the isolated_files row's format. */
static char *om_unlock_findings(const struct om_att_report *rep)
{
	struct om_buf b;
	char *where;
	size_t j;

	om_buf_init(&b);
	for (j = 0; j < rep->count; j++) {
		where = om_sanitize(rep->findings[j].where, OM_UNLOCK_WHERE_MAX);
		om_buf_printf(&b, "%s\t%s\t%s\t%s\n", om_att_kind_name(rep->findings[j].kind),
			      where, om_att_kind_reason(rep->findings[j].kind, "ja"),
			      om_att_kind_reason(rep->findings[j].kind, "en"));
		free(where);
	}
	om_buf_append(&b, "", 0);
	return om_buf_steal(&b, NULL);
}

/* Scans and analyses one opened file (a member, or the file itself);
   adds its entry, and hands its bytes to res when want and clean. */
static void om_unlock_entry(const struct om_unlock_env *env, const char *password,
			    const char *name, const char *data, size_t len, int want,
			    struct om_unlock_result *res)
{
	char *const passwords[2] = { (char *)password, NULL };
	struct om_att_report rep;
	enum om_verdict verdict;
	char *virus = NULL, *error = NULL, *findings;
	int ret;

	ret = om_av_scan_buffer(env->av, data, len, 0, &virus, &error);
	memset(&rep, 0, sizeof(rep));
	if (env->rules != NULL)
		om_att_analyze(env->rules, name, NULL, data, len, passwords, env->av,
			       env->ft, &rep);
	if (ret == OM_AV_VIRUS) {
		verdict = OM_VERDICT_VIRUS;
	} else if (rep.virus != NULL) {
		verdict = OM_VERDICT_VIRUS;
		free(virus);
		virus = om_strdup(rep.virus);
	} else {
		verdict = ret == OM_AV_CLEAN ? OM_VERDICT_CLEAN : OM_VERDICT_UNSCANNED;
	}
	findings = om_unlock_findings(&rep);
	om_unlock_result_add(res, name, (long long)len, verdict,
			     verdict == OM_VERDICT_VIRUS ? virus : NULL, findings);
	if (want && verdict == OM_VERDICT_CLEAN && findings[0] == '\0') {
		res->data = om_malloc(len + 1);
		memcpy(res->data, data, len);
		res->data_len = len;
	}
	free(findings);
	free(virus);
	free(error);
	om_att_report_free(&rep);
}

/* Reads the current member whole (up to OM_UNLOCK_MEMBER_MAX): 0, or -1
   (a wrong password, a damaged or too large member). */
static int om_unlock_read(struct archive *a, struct om_buf *out)
{
	char block[16384];
	la_ssize_t n;

	om_buf_reset(out);
	while ((n = archive_read_data(a, block, sizeof(block))) > 0) {
		if (out->len + (size_t)n > OM_UNLOCK_MEMBER_MAX)
			return -1;
		om_buf_append(out, block, (size_t)n);
	}
	return n == 0 ? 0 : -1;
}

static struct archive *om_unlock_archive_open(const char *data, size_t len,
					      const char *password)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	(void)archive_read_support_format_zip(a);
	(void)archive_read_support_format_7zip(a);
	(void)archive_read_support_format_rar(a);
	(void)archive_read_support_format_rar5(a);
	(void)archive_read_support_filter_all(a);
	if (archive_read_add_passphrase(a, password) != ARCHIVE_OK ||
	    archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		(void)archive_read_free(a);
		return NULL;
	}
	return a;
}

/* An archive: every member listed, scanned and analysed.  The password
   is wrong when an encrypted member does not open with it. */
static void om_unlock_archive(const struct om_unlock_env *env,
			      const struct om_unlock_request *req,
			      struct om_unlock_result *res)
{
	struct archive *a = om_unlock_archive_open(req->data, req->data_len, req->password);
	struct archive_entry *entry;
	struct om_buf member;
	const char *mname;
	long index = 0;
	int encrypted, any_encrypted = 0, r = ARCHIVE_OK;

	if (a == NULL) {
		res->status = OM_UNLOCK_UNSUPPORTED;
		return;
	}
	res->status = OM_UNLOCK_OPENED;
	om_buf_init(&member);
	while (index < OM_UNLOCK_MAX_ENTRIES &&
	       (r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
		mname = archive_entry_pathname_utf8(entry);
		if (mname == NULL)
			mname = archive_entry_pathname(entry);
		if (mname == NULL || archive_entry_filetype(entry) != AE_IFREG)
			continue;
		encrypted = archive_entry_is_encrypted(entry);
		any_encrypted |= encrypted;
		if (om_unlock_read(a, &member) < 0) {
			if (encrypted) {
				/* the same password opens every member of
				   the archives people send: one that fails
				   is a wrong password */
				res->status = OM_UNLOCK_WRONG;
				break;
			}
			om_unlock_result_add(res, mname, (long long)archive_entry_size(entry),
					     OM_VERDICT_UNSCANNED, NULL, "");
		} else {
			om_unlock_entry(env, req->password, mname, member.data != NULL ?
					member.data : "", member.len,
					req->member == index, res);
		}
		index++;
	}
	/* a 7z whose names are encrypted too fails before its first header */
	if (res->status == OM_UNLOCK_OPENED && res->entry_count == 0)
		res->status = r != ARCHIVE_OK && r != ARCHIVE_EOF ? OM_UNLOCK_WRONG :
			!any_encrypted ? OM_UNLOCK_UNSUPPORTED : res->status;
	if (res->status != OM_UNLOCK_OPENED) {
		/* nothing of a file that did not open travels back */
		struct om_unlock_result empty;
		enum om_unlock_status status = res->status;
		char *kind = res->kind;

		res->kind = NULL;
		om_unlock_result_free(res);
		memset(&empty, 0, sizeof(empty));
		*res = empty;
		res->status = status;
		res->kind = kind;
	}
	if (member.data != NULL)
		explicit_bzero(member.data, member.len);
	om_buf_free(&member);
	(void)archive_read_free(a);
}

/* A PDF: the password checked by poppler, the decrypted document's
   JavaScript and launch actions looked for; the file (still encrypted:
   its recipient has the password) is its only entry. */
static void om_unlock_pdf(const struct om_unlock_env *env,
			  const struct om_unlock_request *req,
			  struct om_unlock_result *res)
{
	int active = 0, ret;
	char *findings;

	ret = om_mail_pdf_unlock(req->data, req->data_len, req->password, &active);
	if (ret <= 0) {
		res->status = ret == 0 ? OM_UNLOCK_WRONG : OM_UNLOCK_UNSUPPORTED;
		return;
	}
	res->status = OM_UNLOCK_OPENED;
	om_unlock_entry(env, req->password, req->name, req->data, req->data_len,
			req->member == 0 && !active, res);
	if (active && res->entry_count == 1) {
		struct om_unlock_entry *e = &res->entries[0];

		if (strstr(e->findings, "ATT_PDF_JS") == NULL) {
			findings = om_asprintf("%sATT_PDF_JS\t%s\t%s\t%s\n", e->findings,
					       e->name, om_att_kind_reason(OM_ATT_PDF_JS, "ja"),
					       om_att_kind_reason(OM_ATT_PDF_JS, "en"));
			free(e->findings);
			e->findings = findings;
		}
	}
}

void om_unlock_open(const struct om_unlock_env *env,
		    const struct om_unlock_request *req,
		    struct om_unlock_result *res)
{
	const char *type = om_att_true_type(req->data, req->data_len);

	memset(res, 0, sizeof(*res));
	res->kind = om_strdup(type);
	if (strcmp(type, "zip") == 0 || strcmp(type, "7z") == 0 ||
	    strcmp(type, "rar") == 0)
		om_unlock_archive(env, req, res);
	else if (strcmp(type, "pdf") == 0)
		om_unlock_pdf(env, req, res);
	else
		/* an encrypted Office document (OLE EncryptedPackage): no
		   Debian library decrypts it (doc/attachments.md) */
		res->status = OM_UNLOCK_UNSUPPORTED;
}
