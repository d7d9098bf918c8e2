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
 * when it is clean.  An encrypted Office Open XML document (an OLE file
 * with an EncryptedPackage) is decrypted with the password
 * (office-decrypt.h) and the document analysed as the attachment it is:
 * its entry is the decrypted document, followed, when it has macros, by
 * the macro-free copy the isolation path would make (unmacro.h), each
 * with its own scan and findings.  An old-format .doc / .xls / .ppt with RC4
 * encryption is decrypted into a plain compound file (office-rc4.c) and
 * analysed the same way.
 */
#include "scan/unlock.h"
#include "scan/attach.h"
#include "scan/av.h"
#include "scan/office-decrypt.h"
#include "scan/unmacro.h"
#include "mail/text.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* qpdf (Debian's qpdf) decrypts a PDF: poppler-glib gives no decrypted
   bytes, and Debian 12's poppler crashes on a wrong AES password */
#define OM_UNLOCK_QPDF "/usr/bin/qpdf"
#define OM_UNLOCK_QPDF_MS 20000

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

/* ---- PDF: qpdf as a bounded external command ---- */

static long long om_unlock_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs qpdf with args on data (a memfd as fd 3, /dev/fd/3) and the
   password on its stdin (never in argv); its stdout (at most max bytes)
   into out.  The exit status, or -1 (could not run, timed out, too much
   output: the process group killed). */
static int om_unlock_qpdf(char *const args[], const char *data, size_t len,
			  const char *password, size_t max, struct om_buf *out)
{
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, mem = -1, status = -1, ret = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	long long deadline = om_unlock_now_ms() + OM_UNLOCK_QPDF_MS;
	char block[16384];
	sigset_t none, def;
	pid_t pid = -1;
	ssize_t n;

	mem = memfd_create("omamori-unlock", MFD_CLOEXEC);
	if (mem < 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
		goto done;
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = write(mem, data + off, len - off);
		if (n <= 0)
			goto done;
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto done;
	if (posix_spawnattr_init(&attr) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		goto done;
	}
	(void)sigemptyset(&none);
	(void)sigfillset(&def);
	if (posix_spawn_file_actions_adddup2(&fa, in[0], 0) == 0 &&
	    posix_spawn_file_actions_adddup2(&fa, outp[1], 1) == 0 &&
	    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) == 0 &&
	    posix_spawn_file_actions_adddup2(&fa, mem, 3) == 0 &&
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				     POSIX_SPAWN_SETSIGDEF) == 0 &&
	    posix_spawnattr_setpgroup(&attr, 0) == 0 &&
	    posix_spawnattr_setsigmask(&attr, &none) == 0 &&
	    posix_spawnattr_setsigdefault(&attr, &def) == 0 &&
	    posix_spawn(&pid, OM_UNLOCK_QPDF, &fa, &attr, args, environ) != 0)
		pid = -1;
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (pid < 0)
		goto done;
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	/* the password and a newline: far below a pipe's buffer */
	if (write(in[1], password, strlen(password)) < 0 || write(in[1], "\n", 1) < 0)
		goto kill;
	close(in[1]);
	in[1] = -1;
	om_buf_reset(out);
	for (;;) {
		struct pollfd pfd = { outp[0], POLLIN, 0 };
		long long left = deadline - om_unlock_now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			goto kill;
		n = read(outp[0], block, sizeof(block));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || out->len + (size_t)(n > 0 ? n : 0) > max)
			goto kill;
		if (n == 0)
			break;
		om_buf_append(out, block, (size_t)n);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	goto done;
kill:
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
done:
	if (mem >= 0)
		close(mem);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	return ret;
}

/* A PDF: qpdf checks the password (--requires-password: 3 it opens, 0
   it does not) and decrypts it in memory; the decrypted document is
   scanned by libclamav and analysed (its JavaScript and launch names no
   longer hidden in encrypted or compressed objects), poppler looks for
   JavaScript and launch links in it too.  The download is the file as
   isolated (still encrypted: its recipient has the password). */
static void om_unlock_pdf(const struct om_unlock_env *env,
			  const struct om_unlock_request *req,
			  struct om_unlock_result *res)
{
	char *check[] = { "qpdf", "--password-file=-", "--requires-password", "/dev/fd/3", NULL };
	char *decrypt[] = { "qpdf", "--password-file=-", "--decrypt", "--object-streams=disable",
			    "--stream-data=uncompress", "/dev/fd/3", "-", NULL };
	struct om_buf plain;
	int active = 0, ret, clean;
	char *findings;

	om_buf_init(&plain);
	ret = om_unlock_qpdf(check, req->data, req->data_len, req->password, 4096, &plain);
	if (ret != 3) {
		res->status = ret == 0 ? OM_UNLOCK_WRONG : OM_UNLOCK_UNSUPPORTED;
		om_buf_free(&plain);
		return;
	}
	ret = om_unlock_qpdf(decrypt, req->data, req->data_len, req->password,
			     OM_UNLOCK_MEMBER_MAX, &plain);
	if ((ret != 0 && ret != 3) || plain.len == 0) {
		res->status = OM_UNLOCK_UNSUPPORTED;
		om_buf_free(&plain);
		return;
	}
	res->status = OM_UNLOCK_OPENED;
	if (om_mail_pdf_unlock(plain.data, plain.len, NULL, &active) < 0)
		active = 0;
	om_unlock_entry(env, req->password, req->name, plain.data, plain.len, 0, res);
	if (res->entry_count == 1) {
		struct om_unlock_entry *e = &res->entries[0];

		e->size = (long long)req->data_len;
		if (active && strstr(e->findings, "ATT_PDF_JS") == NULL) {
			findings = om_asprintf("%sATT_PDF_JS\t%s\t%s\t%s\n", e->findings,
					       e->name, om_att_kind_reason(OM_ATT_PDF_JS, "ja"),
					       om_att_kind_reason(OM_ATT_PDF_JS, "en"));
			free(e->findings);
			e->findings = findings;
		}
		clean = e->verdict == OM_VERDICT_CLEAN && e->findings[0] == '\0';
		if (req->member == 0 && clean) {
			res->data = om_malloc(req->data_len + 1);
			memcpy(res->data, req->data, req->data_len);
			res->data_len = req->data_len;
		}
	}
	explicit_bzero(plain.data, plain.len);
	om_buf_free(&plain);
}

/* ---- Office: decrypted in memory (office-decrypt.h) ---- */

/* An encrypted OOXML document: entry 0 the decrypted document, entry 1
   its macro-free copy when it has macros and no virus; res->kind
   "office".  An OLE document with no EncryptedPackage is an old-format
   one: a .doc / .xls / .ppt with RC4 encryption is decrypted into a
   plain compound file (entry 0, analysed the same way, no macro-free
   copy: unmacro.h rewrites OOXML only), res->kind "office-legacy"; one
   this code cannot open (XOR obfuscation, damaged) is "ole-legacy". */
static void om_unlock_office(const struct om_unlock_env *env,
			     const struct om_unlock_request *req,
			     struct om_unlock_result *res)
{
	struct om_buf plain, copy;
	char *error = NULL, *copy_name = NULL;
	enum om_office_status status;
	int ret;

	om_buf_init(&plain);
	om_buf_init(&copy);
	status = om_office_decrypt(req->data, req->data_len, req->password,
				   OM_UNLOCK_MEMBER_MAX, &plain, &error);
	free(res->kind);
	res->kind = om_strdup("office");
	if (status == OM_OFFICE_NOT_OOXML) {
		/* an old-format .doc / .xls / .ppt: RC4 (office-rc4.c) */
		free(error);
		status = om_office_legacy_decrypt(req->data, req->data_len, req->password,
						  OM_UNLOCK_MEMBER_MAX, &plain, &error);
		free(res->kind);
		res->kind = om_strdup(status == OM_OFFICE_DECRYPTED || status == OM_OFFICE_WRONG ?
				      "office-legacy" : "ole-legacy");
	}
	if (status != OM_OFFICE_DECRYPTED) {
		res->status = status == OM_OFFICE_WRONG ? OM_UNLOCK_WRONG : OM_UNLOCK_UNSUPPORTED;
		free(error);
		om_buf_free(&plain);
		return;
	}
	res->status = OM_UNLOCK_OPENED;
	om_unlock_entry(env, req->password, req->name, plain.data, plain.len,
			req->member == 0, res);
	if (res->entry_count == 1 && res->entries[0].verdict != OM_VERDICT_VIRUS &&
	    strstr(res->entries[0].findings, "ATT_MACRO") != NULL) {
		ret = om_unmacro_ooxml(req->name, plain.data, plain.len, &copy, &copy_name,
				       &error);
		if (ret == 1)
			om_unlock_entry(env, req->password, copy_name, copy.data, copy.len,
					req->member == 1, res);
		free(error);
		free(copy_name);
	}
	if (copy.data != NULL)
		explicit_bzero(copy.data, copy.len);
	explicit_bzero(plain.data, plain.len);
	om_buf_free(&copy);
	om_buf_free(&plain);
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
	else if (strcmp(type, "ole") == 0)
		om_unlock_office(env, req, res);
	else
		res->status = OM_UNLOCK_UNSUPPORTED;
}
