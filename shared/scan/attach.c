/* attach.c - static analysis of one attachment (attach.h): its name, its
 * true type from its first bytes, its members when it is an archive
 * (libarchive, nested archives to rules' archive-depth), macros, PDF
 * actions and HTML forms and scripts.
 *
 * The true type comes first from a small table of signatures (MZ/PE, ELF,
 * Mach-O, ZIP, OLE, PDF, RAR, 7z, gzip, images): it answers most files at
 * the cost of a few comparisons.  Where it knows nothing, libmagic
 * (filetype.h, the worker's handle) is asked - for the attachment itself,
 * and for an archive member whose name has no extension or one that
 * promises a type - so that a Windows shortcut or another program the
 * table does not know is still caught under a document's name.
 */
#include "scan/attach.h"
#include "scan/av.h"
#include "scan/filetype.h"
#include "scan/office-decrypt.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OM_ATT_NAME_MAX 255
#define OM_ATT_WHERE_MAX 400
#define OM_ATT_MEMBER_MAX (32u * 1024 * 1024)	/* bytes read of one member */
#define OM_ATT_MEMBERS_MAX 2000

struct om_att_rules {
	char **risky;		/* lower-case extensions */
	size_t risky_count;
	char **exempt;		/* encryption tools' own extensions */
	size_t exempt_count;
	unsigned int archive_depth;
	unsigned int max_passwords;
};

/* The run over one attachment. */
struct om_att_run {
	const struct om_att_rules *rules;
	char *const *passwords;
	const struct om_av_engine *av;
	struct om_filetype *ft;		/* NULL: the table alone */
	struct om_att_report *rep;
	size_t members;
};

enum om_att_type {
	OM_TYPE_UNKNOWN = 0, OM_TYPE_EXE, OM_TYPE_ZIP, OM_TYPE_OLE,
	OM_TYPE_PDF, OM_TYPE_RAR, OM_TYPE_7Z, OM_TYPE_GZIP, OM_TYPE_PNG,
	OM_TYPE_JPEG, OM_TYPE_GIF
};

static const struct {
	enum om_att_kind kind;
	const char *name, *class, *ja, *en;
} om_att_kinds[OM_ATT_KIND_COUNT] = {
	{ OM_ATT_RISKY_EXT, "ATT_RISKY_EXT", "extension",
	  "実行されると危険な種類のファイル（プログラムやスクリプトなど）です",
	  "a kind of file that runs when opened (a program or a script)" },
	{ OM_ATT_NO_EXT, "ATT_NO_EXT", "extension",
	  "拡張子がなく、どんなファイルか名前から分かりません",
	  "the file name has no extension, so its kind cannot be seen" },
	{ OM_ATT_EXT_MISMATCH, "ATT_EXT_MISMATCH", "disguise",
	  "拡張子と中身の種類が一致しません（偽装されたファイルの疑い）",
	  "the extension does not match what the file really is (a disguised file)" },
	{ OM_ATT_RTLO, "ATT_RTLO", "disguise",
	  "ファイル名に文字の向きを変える制御文字があり、本当の拡張子が隠されています",
	  "the file name has a right-to-left control character hiding its real extension" },
	{ OM_ATT_HIDDEN_EXT, "ATT_HIDDEN_EXT", "disguise",
	  "ファイル名の末尾の点や空白で本当の拡張子が隠されています",
	  "dots or spaces at the end of the file name hide its real extension" },
	{ OM_ATT_ENCRYPTED, "ATT_ENCRYPTED", "encrypted",
	  "パスワードで暗号化されていて中身を検査できません",
	  "encrypted with a password, so its contents could not be checked" },
	{ OM_ATT_MACRO, "ATT_MACRO", "macro",
	  "マクロ（プログラム）を含む Office 文書です",
	  "an Office document with macros (programs) in it" },
	{ OM_ATT_PDF_JS, "ATT_PDF_JS", "active",
	  "開くと動く JavaScript や起動の指示を含む PDF です",
	  "a PDF with JavaScript or an action that starts something when opened" },
	{ OM_ATT_HTML_FORM, "ATT_HTML_FORM", "active",
	  "入力フォームを含む HTML ファイルです（パスワードなどを盗む偽画面の疑い）",
	  "an HTML file with a form (it may be a fake page asking for a password)" },
	{ OM_ATT_HTML_SCRIPT, "ATT_HTML_SCRIPT", "active",
	  "スクリプトを含む HTML ファイルです",
	  "an HTML file with scripts in it" },
	{ OM_ATT_SANDBOX, "ATT_SANDBOX", "sandbox",
	  "サンドボックス（隔離された環境での実行検査）で危険と判定されました",
	  "the sandbox (a run in an isolated machine) found it malicious" },
	{ OM_ATT_SANDBOX_UNKNOWN, "ATT_SANDBOX_UNKNOWN", "sandbox",
	  "サンドボックスでの検査が時間内に終わらず、安全を確認できませんでした",
	  "the sandbox gave no verdict in time, so it could not be confirmed safe" },
};

const char *om_att_kind_name(enum om_att_kind kind)
{
	return kind < OM_ATT_KIND_COUNT ? om_att_kinds[kind].name : "ATT_UNKNOWN";
}

const char *om_att_kind_class(enum om_att_kind kind)
{
	return kind < OM_ATT_KIND_COUNT ? om_att_kinds[kind].class : "extension";
}

const char *om_att_kind_reason(enum om_att_kind kind, const char *language)
{
	int en = language != NULL && strcmp(language, "en") == 0;

	if (kind >= OM_ATT_KIND_COUNT)
		return "?";
	return en ? om_att_kinds[kind].en : om_att_kinds[kind].ja;
}

/* ---- rules ---- */

static void om_att_list_add_words(char ***list, size_t *count, char *words)
{
	char *save = NULL, *w, *p;

	for (w = strtok_r(words, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		if (*w == '.')
			w++;
		for (p = w; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (*w == '\0')
			continue;
		*list = realloc(*list, (*count + 1) * sizeof(char *));
		if (*list == NULL)
			abort();
		(*list)[(*count)++] = om_strdup(w);
	}
}

static int om_att_rules_line(struct om_att_rules *r, char *line,
			     const char *name, unsigned int lineno,
			     char **error_r)
{
	char *rest = line + strcspn(line, " \t");
	unsigned long n;

	if (*rest != '\0')
		*rest++ = '\0';
	rest += strspn(rest, " \t");
	if (strcmp(line, "risky-extensions") == 0) {
		om_att_list_add_words(&r->risky, &r->risky_count, rest);
	} else if (strcmp(line, "exempt-extensions") == 0) {
		om_att_list_add_words(&r->exempt, &r->exempt_count, rest);
	} else if (strcmp(line, "archive-depth") == 0 ||
		   strcmp(line, "max-passwords") == 0) {
		if (om_parse_ulong(rest, 0, 16, &n) < 0) {
			*error_r = om_asprintf("%s:%u: %s needs a number 0..16, not '%s'",
					       name, lineno, line, rest);
			return -1;
		}
		if (line[0] == 'a')
			r->archive_depth = (unsigned int)n;
		else
			r->max_passwords = (unsigned int)n;
	} else {
		*error_r = om_asprintf("%s:%u: unknown keyword '%s' (risky-extensions, "
				       "exempt-extensions, archive-depth, max-passwords)",
				       name, lineno, line);
		return -1;
	}
	return 0;
}

int om_att_rules_parse(const char *text, const char *name,
		       struct om_att_rules **rules_r, char **error_r)
{
	struct om_att_rules *r = om_calloc(1, sizeof(*r));
	char *copy = om_strdup(text), *line, *next, *end;
	unsigned int lineno = 0;
	int ret = 0;

	r->archive_depth = 3;
	r->max_passwords = 8;
	for (line = copy; ret == 0 && line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (strchr(line, '#') != NULL)
			*strchr(line, '#') = '\0';
		line += strspn(line, " \t\r");
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line != '\0')
			ret = om_att_rules_line(r, line, name, lineno, error_r);
	}
	free(copy);
	if (ret == 0 && r->risky_count == 0) {
		*error_r = om_asprintf("%s: no risky-extensions line", name);
		ret = -1;
	}
	if (ret < 0) {
		om_att_rules_free(&r);
		return -1;
	}
	*rules_r = r;
	return 0;
}

int om_att_rules_load(const char *path, struct om_att_rules **rules_r,
		      char **error_r)
{
	char *data, *error = NULL;
	size_t len;
	int ret;

	if (om_read_file(path, 1024 * 1024, &data, &len, &error) < 0) {
		*error_r = om_asprintf("attachment rules %s: %s", path, error);
		free(error);
		return -1;
	}
	ret = om_att_rules_parse(data, path, rules_r, error_r);
	free(data);
	return ret;
}

void om_att_rules_free(struct om_att_rules **rules)
{
	if (*rules == NULL)
		return;
	om_free_strings((*rules)->risky, (*rules)->risky_count);
	om_free_strings((*rules)->exempt, (*rules)->exempt_count);
	free(*rules);
	*rules = NULL;
}

static int om_att_list_has(char *const *list, size_t count, const char *ext)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcasecmp(list[i], ext) == 0)
			return 1;
	}
	return 0;
}

/* ---- report ---- */

static void om_att_add(struct om_att_run *run, enum om_att_kind kind,
		       const char *where)
{
	om_att_report_add(run->rep, kind, where);
}

void om_att_report_add(struct om_att_report *rep, enum om_att_kind kind,
		       const char *where)
{
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if (rep->findings[i].kind == kind &&
		    strcmp(rep->findings[i].where, where) == 0)
			return;
	}
	rep->findings = realloc(rep->findings, (rep->count + 1) * sizeof(*rep->findings));
	if (rep->findings == NULL)
		abort();
	rep->findings[rep->count].kind = kind;
	rep->findings[rep->count].where = om_sanitize(where, OM_ATT_WHERE_MAX);
	rep->count++;
}

int om_att_report_has(const struct om_att_report *rep, enum om_att_kind kind)
{
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if (rep->findings[i].kind == kind)
			return 1;
	}
	return 0;
}

void om_att_report_free(struct om_att_report *rep)
{
	size_t i;

	for (i = 0; i < rep->count; i++)
		free(rep->findings[i].where);
	free(rep->findings);
	free(rep->virus);
	free(rep->virus_member);
	memset(rep, 0, sizeof(*rep));
}

/* ---- names ---- */

/* 1 if the UTF-8 sequence at p is a bidirectional override or isolate
   (U+202A..U+202E, U+2066..U+2069), with its length in *len_r. */
static int om_att_is_bidi(const unsigned char *p, size_t left, size_t *len_r)
{
	if (left < 3 || p[0] != 0xE2)
		return 0;
	*len_r = 3;
	return (p[1] == 0x80 && p[2] >= 0xAA && p[2] <= 0xAE) ||
		(p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9);
}

/* The name's real extension (lower case, in ext[]), after bidi controls
   are taken out and trailing dots and spaces are cut; "" when it has none.
   Findings for what hid it. */
static void om_att_real_ext(struct om_att_run *run, const char *name,
			    const char *where, char *ext, size_t ext_size)
{
	char clean[OM_ATT_NAME_MAX + 1];
	const unsigned char *p = (const unsigned char *)name;
	size_t n = 0, left = strlen(name), blen, cut;
	const char *dot;
	int bidi = 0;

	while (left > 0 && n < sizeof(clean) - 1) {
		if (om_att_is_bidi(p, left, &blen)) {
			bidi = 1;
			p += blen;
			left -= blen;
			continue;
		}
		clean[n++] = (char)*p++;
		left--;
	}
	clean[n] = '\0';
	cut = n;
	while (cut > 0 && (clean[cut - 1] == '.' || clean[cut - 1] == ' '))
		cut--;
	if (bidi)
		om_att_add(run, OM_ATT_RTLO, where);
	if (cut < n && cut > 0)
		om_att_add(run, OM_ATT_HIDDEN_EXT, where);
	clean[cut] = '\0';
	ext[0] = '\0';
	dot = strrchr(clean, '.');
	if (dot == NULL || dot[1] == '\0' || strchr(dot, '/') != NULL)
		return;
	(void)om_strlcpy(ext, dot + 1, ext_size);
	for (n = 0; ext[n] != '\0'; n++)
		ext[n] = (char)tolower((unsigned char)ext[n]);
}

/* ---- true types ---- */

/* A DOS/Windows program: "MZ", and a 64-byte header (with or without the
   PE signature its e_lfanew points at: a DOS program runs as well). */
static int om_att_is_pe(const unsigned char *d, size_t len)
{
	return len >= 64 && d[0] == 'M' && d[1] == 'Z';
}

static enum om_att_type om_att_sniff(const char *data, size_t len)
{
	const unsigned char *d = (const unsigned char *)data;

	if (om_att_is_pe(d, len))
		return OM_TYPE_EXE;
	if (len >= 4 && (memcmp(d, "\x7f" "ELF", 4) == 0 ||
			 memcmp(d, "\xcf\xfa\xed\xfe", 4) == 0 ||
			 memcmp(d, "\xce\xfa\xed\xfe", 4) == 0))
		return OM_TYPE_EXE;
	if (len >= 4 && memcmp(d, "PK\x03\x04", 4) == 0)
		return OM_TYPE_ZIP;
	if (len >= 8 && memcmp(d, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
		return OM_TYPE_OLE;
	if (len >= 5 && memmem(d, len < 1024 ? len : 1024, "%PDF-", 5) != NULL)
		return OM_TYPE_PDF;
	if (len >= 6 && memcmp(d, "Rar!\x1a\x07", 6) == 0)
		return OM_TYPE_RAR;
	if (len >= 6 && memcmp(d, "7z\xbc\xaf\x27\x1c", 6) == 0)
		return OM_TYPE_7Z;
	if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return OM_TYPE_GZIP;
	if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return OM_TYPE_PNG;
	if (len >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0)
		return OM_TYPE_JPEG;
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return OM_TYPE_GIF;
	return OM_TYPE_UNKNOWN;
}

const char *om_att_true_type(const char *data, size_t len)
{
	static const char *const names[] = {
		[OM_TYPE_UNKNOWN] = "unknown", [OM_TYPE_EXE] = "program",
		[OM_TYPE_ZIP] = "zip", [OM_TYPE_OLE] = "ole", [OM_TYPE_PDF] = "pdf",
		[OM_TYPE_RAR] = "rar", [OM_TYPE_7Z] = "7z", [OM_TYPE_GZIP] = "gzip",
		[OM_TYPE_PNG] = "png", [OM_TYPE_JPEG] = "jpeg", [OM_TYPE_GIF] = "gif",
	};
	enum om_att_type t = om_att_sniff(data, len);
	size_t i, n = len < 4096 ? len : 4096;

	if (t != OM_TYPE_UNKNOWN)
		return names[t];
	if (len == 0)
		return "empty";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0x1b)
			return "unknown";
	}
	return "text";
}

/* The type an extension promises, or unknown when it promises none we
   can check. */
static enum om_att_type om_att_ext_type(const char *ext)
{
	static const struct { const char *exts; enum om_att_type type; } map[] = {
		{ " pdf ", OM_TYPE_PDF },
		{ " zip docx docm dotx dotm xlsx xlsm xltx xltm xlsb xlam pptx pptm "
		  "ppsx ppsm potx potm ppam odt ods odp jar apk epub ", OM_TYPE_ZIP },
		{ " doc dot xls xlt ppt pps pot msg ", OM_TYPE_OLE },
		{ " rar ", OM_TYPE_RAR }, { " 7z ", OM_TYPE_7Z },
		{ " gz tgz ", OM_TYPE_GZIP }, { " png ", OM_TYPE_PNG },
		{ " jpg jpeg jpe ", OM_TYPE_JPEG }, { " gif ", OM_TYPE_GIF },
		{ " txt csv htm html xml json rtf ", OM_TYPE_UNKNOWN },
	};
	char key[40];
	size_t i;

	if (strlen(ext) > 30)
		return OM_TYPE_UNKNOWN;
	(void)snprintf(key, sizeof(key), " %s ", ext);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strstr(map[i].exts, key) != NULL)
			return map[i].type;
	}
	return OM_TYPE_UNKNOWN;
}

/* The type libmagic sees in data, as the analysis compares types. */
static enum om_att_type om_att_magic_type(struct om_filetype *ft,
					  const char *data, size_t len)
{
	static const struct { const char *mime; enum om_att_type type; } map[] = {
		{ "application/pdf", OM_TYPE_PDF }, { "application/zip", OM_TYPE_ZIP },
		{ "application/x-rar", OM_TYPE_RAR }, { "application/vnd.rar", OM_TYPE_RAR },
		{ "application/x-7z-compressed", OM_TYPE_7Z },
		{ "application/gzip", OM_TYPE_GZIP }, { "image/png", OM_TYPE_PNG },
		{ "image/jpeg", OM_TYPE_JPEG }, { "image/gif", OM_TYPE_GIF },
		{ "application/x-ole-storage", OM_TYPE_OLE },
		{ "application/cdfv2", OM_TYPE_OLE },
	};
	char mime[OM_FILETYPE_MIME_MAX + 1];
	size_t i;

	om_filetype_mime(ft, data, len, mime);
	if (om_filetype_is_program(mime))
		return OM_TYPE_EXE;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(mime, map[i].mime) == 0)
			return map[i].type;
	}
	return OM_TYPE_UNKNOWN;
}

/* 1 for an extension of a program the true type "exe" may carry. */
static int om_att_ext_is_program(const struct om_att_rules *rules, const char *ext)
{
	return om_att_list_has(rules->risky, rules->risky_count, ext);
}

/* 1 when the content is not what the extension says: a program under any
   other name, or a known type under the extension of another. */
static int om_att_mismatch(const struct om_att_rules *rules, const char *ext,
			   enum om_att_type real)
{
	enum om_att_type promised;

	if (real == OM_TYPE_UNKNOWN)
		return 0;
	if (real == OM_TYPE_EXE)
		return !om_att_ext_is_program(rules, ext);
	promised = om_att_ext_type(ext);
	if (promised == OM_TYPE_UNKNOWN)
		return 0;
	/* a zip named .jar/.apk is a program's archive: the risky list says */
	return promised != real;
}

/* ---- content checks ---- */

static int om_att_has_ci(const char *data, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	if (len < n)
		return 0;
	for (i = 0; i + n <= len; i++) {
		if (strncasecmp(data + i, needle, n) == 0)
			return 1;
	}
	return 0;
}

#define OM_ATT_PDF_ACTIVE 1	/* /JavaScript, /JS, /Launch */
#define OM_ATT_PDF_ENCRYPTED 2	/* /Encrypt: strings and streams unreadable */

/* The OM_ATT_PDF_* bits of the names a PDF has (#xx escapes in names
   undone), in one pass over it.  Names inside compressed object streams
   are not seen. */
static int om_att_pdf_names(const char *data, size_t len)
{
	static const struct { const char *name; int bit; } names[] = {
		{ "JavaScript", OM_ATT_PDF_ACTIVE }, { "JS", OM_ATT_PDF_ACTIVE },
		{ "Launch", OM_ATT_PDF_ACTIVE }, { "Encrypt", OM_ATT_PDF_ENCRYPTED },
	};
	char name[32];
	size_t i, n, k;
	int hi, lo, found = 0;

	for (i = 0; i < len; i++) {
		if (data[i] != '/')
			continue;
		n = 0;
		for (i++; i < len && n < sizeof(name) - 1; i++) {
			unsigned char c = (unsigned char)data[i];

			if (c == '#' && i + 2 < len &&
			    (hi = om_hex_digit(data[i + 1])) >= 0 &&
			    (lo = om_hex_digit(data[i + 2])) >= 0) {
				name[n++] = (char)(hi * 16 + lo);
				i += 2;
			} else if (isalnum(c)) {
				name[n++] = (char)c;
			} else {
				break;
			}
		}
		name[n] = '\0';
		i--;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (strcmp(name, names[k].name) == 0)
				found |= names[k].bit;
		}
		if (found == (OM_ATT_PDF_ACTIVE | OM_ATT_PDF_ENCRYPTED))
			break;
	}
	return found;
}

/* An encrypted Office document (OOXML inside an OLE file, ECMA-376
   "Agile" or "Standard" encryption) has an EncryptedPackage stream. */
static const char om_att_encpkg_utf16[] =
	"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";

static const char om_att_vba_utf16[] =
	"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";

static void om_att_content(struct om_att_run *run, const char *where,
			   const char *ext, const char *content_type,
			   enum om_att_type real, const char *data, size_t len)
{
	int html = strcmp(ext, "htm") == 0 || strcmp(ext, "html") == 0 ||
		strcmp(ext, "xhtml") == 0 || strcmp(ext, "shtml") == 0 ||
		(content_type != NULL && strcasecmp(content_type, "text/html") == 0);

	if (real == OM_TYPE_OLE &&
	    memmem(data, len, om_att_vba_utf16, sizeof(om_att_vba_utf16) - 1) != NULL)
		om_att_add(run, OM_ATT_MACRO, where);
	/* ... or an old-format document with its own encryption on (RC4:
	   not scannable, not opened on the page either: doc/attachments.md) */
	if (real == OM_TYPE_OLE &&
	    (memmem(data, len, om_att_encpkg_utf16, sizeof(om_att_encpkg_utf16) - 1) != NULL ||
	     om_office_legacy_encrypted(data, len)))
		om_att_add(run, OM_ATT_ENCRYPTED, where);
	if (real == OM_TYPE_PDF) {
		int pdf = om_att_pdf_names(data, len);

		if ((pdf & OM_ATT_PDF_ACTIVE) != 0)
			om_att_add(run, OM_ATT_PDF_JS, where);
		if ((pdf & OM_ATT_PDF_ENCRYPTED) != 0)
			om_att_add(run, OM_ATT_ENCRYPTED, where);
	}
	if (html && real == OM_TYPE_UNKNOWN) {
		if (om_att_has_ci(data, len, "<form"))
			om_att_add(run, OM_ATT_HTML_FORM, where);
		if (om_att_has_ci(data, len, "<script"))
			om_att_add(run, OM_ATT_HTML_SCRIPT, where);
	}
}

/* ---- archives ---- */

static void om_att_file(struct om_att_run *run, const char *name,
			const char *where, const char *content_type,
			const char *data, size_t len, unsigned int depth);

static int om_att_is_archive(enum om_att_type real, const char *ext)
{
	static const char *const exts[] = {
		"zip", "7z", "rar", "tar", "gz", "tgz", "bz2", "xz", "lzh", "lha",
		"cab", "z", "wim", "iso", NULL
	};
	size_t i;

	if (real == OM_TYPE_ZIP || real == OM_TYPE_RAR || real == OM_TYPE_7Z ||
	    real == OM_TYPE_GZIP)
		return 1;
	for (i = 0; exts[i] != NULL; i++) {
		if (strcmp(ext, exts[i]) == 0)
			return 1;
	}
	return 0;
}

static struct archive *om_att_archive_open(const char *data, size_t len,
					   const char *password)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	/* a zip (most archives and every OOXML document) needs only its own
	   reader: registering every format costs more than listing a small
	   zip */
	if (om_att_sniff(data, len) == OM_TYPE_ZIP) {
		(void)archive_read_support_format_zip(a);
	} else {
		(void)archive_read_support_format_all(a);
		(void)archive_read_support_filter_all(a);
	}
	if (password != NULL)
		(void)archive_read_add_passphrase(a, password);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		(void)archive_read_free(a);
		return NULL;
	}
	return a;
}

/* 1 when a member's whole content is needed, judging by its first bytes
   and name: archives (listed in turn), documents and HTML (searched);
   for anything else its first block serves the true type. */
static int om_att_member_needs_all(const char *head, size_t len, const char *name)
{
	enum om_att_type real = om_att_sniff(head, len);
	const char *dot = strrchr(name, '.');
	char ext[16];
	size_t i;

	if (real == OM_TYPE_ZIP || real == OM_TYPE_RAR || real == OM_TYPE_7Z ||
	    real == OM_TYPE_GZIP || real == OM_TYPE_OLE || real == OM_TYPE_PDF)
		return 1;
	if (dot == NULL || strlen(dot + 1) >= sizeof(ext))
		return 0;
	for (i = 0; dot[1 + i] != '\0'; i++)
		ext[i] = (char)tolower((unsigned char)dot[1 + i]);
	ext[i] = '\0';
	return om_att_is_archive(OM_TYPE_UNKNOWN, ext) || strcmp(ext, "htm") == 0 ||
		strcmp(ext, "html") == 0 || strcmp(ext, "xhtml") == 0 ||
		strcmp(ext, "shtml") == 0;
}

/* Reads the current member (up to OM_ATT_MEMBER_MAX): whole, or its first
   block alone when that is all the analysis needs (whole: always, for a
   member opened with a password, which libclamav scans); 0 or -1. */
static int om_att_read_member(struct archive *a, const char *name, int whole,
			      struct om_buf *out)
{
	char block[16384];
	la_ssize_t n;

	om_buf_reset(out);
	n = archive_read_data(a, block, sizeof(block));
	if (n > 0) {
		om_buf_append(out, block, (size_t)n);
		if (!whole && !om_att_member_needs_all(block, (size_t)n, name))
			return 0;
	}
	while (n > 0 && (n = archive_read_data(a, block, sizeof(block))) > 0) {
		if (out->len + (size_t)n > OM_ATT_MEMBER_MAX)
			return -1;
		om_buf_append(out, block, (size_t)n);
	}
	return n == 0 ? 0 : -1;
}

/* An encrypted member opened with password: libclamav scans it. */
static void om_att_scan_opened(struct om_att_run *run, const char *where,
			       const struct om_buf *data)
{
	char *virus = NULL, *error = NULL;
	int ret;

	if (run->av == NULL) {
		om_att_add(run, OM_ATT_ENCRYPTED, where);
		return;
	}
	ret = om_av_scan_buffer(run->av, data->data, data->len, 0, &virus, &error);
	if (ret == OM_AV_VIRUS && run->rep->virus == NULL) {
		run->rep->virus = virus;
		run->rep->virus_member = om_sanitize(where, OM_ATT_WHERE_MAX);
		virus = NULL;
	} else if (ret != OM_AV_VIRUS && ret != OM_AV_CLEAN) {
		om_att_add(run, OM_ATT_ENCRYPTED, where);
	}
	free(virus);
	free(error);
}

/* One pass over an archive with password (NULL: none).  Returns the
   number of encrypted members it could not read. */
static unsigned int om_att_archive_pass(struct om_att_run *run,
					const char *where, const char *data,
					size_t len, const char *password,
					unsigned int depth)
{
	struct archive *a = om_att_archive_open(data, len, password);
	struct archive_entry *entry;
	struct om_buf member;
	unsigned int locked = 0;
	const char *mname;
	char *mwhere;
	int encrypted;

	if (a == NULL)
		return 0;
	om_buf_init(&member);
	while (run->members < OM_ATT_MEMBERS_MAX &&
	       archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		run->members++;
		mname = archive_entry_pathname(entry);
		if (mname == NULL || archive_entry_filetype(entry) != AE_IFREG)
			continue;
		mwhere = om_asprintf("%s/%s", where, mname);
		encrypted = archive_entry_is_encrypted(entry);
		if (password == NULL) {
			om_att_file(run, mname, mwhere, NULL, NULL, 0, depth + 1);
			if (!encrypted && om_att_read_member(a, mname, 0, &member) == 0)
				om_att_file(run, mname, mwhere, NULL, member.data,
					    member.len, depth + 1);
			else if (encrypted)
				locked++;
		} else if (encrypted) {
			if (om_att_read_member(a, mname, 1, &member) == 0) {
				om_att_scan_opened(run, mwhere, &member);
				om_att_file(run, mname, mwhere, NULL, member.data,
					    member.len, depth + 1);
			} else {
				locked++;
			}
		}
		free(mwhere);
	}
	om_buf_free(&member);
	(void)archive_read_free(a);
	return locked;
}

/* An archive's members: names, contents (nested archives to the rules'
   depth); encrypted members opened with the body's passwords. */
static void om_att_archive(struct om_att_run *run, const char *where,
			   const char *data, size_t len, unsigned int depth)
{
	size_t i;

	if (depth >= run->rules->archive_depth)
		return;
	if (om_att_archive_pass(run, where, data, len, NULL, depth) == 0)
		return;
	for (i = 0; run->passwords != NULL && run->passwords[i] != NULL &&
		     i < run->rules->max_passwords; i++) {
		if (om_att_archive_pass(run, where, data, len, run->passwords[i],
					depth) == 0)
			return;
	}
	om_att_add(run, OM_ATT_ENCRYPTED, where);
}

/* One file: its name (data NULL: the name alone, as an archive lists it)
   and, with data, its content. */
static void om_att_file(struct om_att_run *run, const char *name,
			const char *where, const char *content_type,
			const char *data, size_t len, unsigned int depth)
{
	const struct om_att_rules *rules = run->rules;
	char ext[32];
	enum om_att_type real;
	const char *base = name != NULL ? strrchr(name, '/') : NULL;

	base = base != NULL ? base + 1 : name;
	ext[0] = '\0';
	if (base != NULL)
		om_att_real_ext(run, base, where, ext, sizeof(ext));
	if (ext[0] != '\0' && om_att_list_has(rules->exempt, rules->exempt_count, ext))
		return;
	if (data == NULL) {
		/* an OOXML document's macros are its vbaProject.bin member */
		if (depth > 0 && base != NULL && strcasecmp(base, "vbaProject.bin") == 0)
			om_att_add(run, OM_ATT_MACRO, where);
		if (ext[0] != '\0' && om_att_list_has(rules->risky, rules->risky_count, ext))
			om_att_add(run, OM_ATT_RISKY_EXT, where);
		else if (depth == 0 && base != NULL && ext[0] == '\0')
			om_att_add(run, OM_ATT_NO_EXT, where);
		return;
	}
	if (depth == 0)
		om_att_file(run, name, where, content_type, NULL, 0, depth);
	real = om_att_sniff(data, len);
	if (real == OM_TYPE_UNKNOWN && run->ft != NULL && len > 0 &&
	    (depth == 0 || ext[0] == '\0' || om_att_ext_type(ext) != OM_TYPE_UNKNOWN))
		real = om_att_magic_type(run->ft, data, len);
	if (base != NULL && ext[0] != '\0' && om_att_mismatch(rules, ext, real))
		om_att_add(run, OM_ATT_EXT_MISMATCH, where);
	om_att_content(run, where, ext, content_type, real, data, len);
	if (om_att_is_archive(real, ext) || real == OM_TYPE_ZIP)
		om_att_archive(run, where, data, len, depth);
}

void om_att_analyze(const struct om_att_rules *rules, const char *filename,
		    const char *content_type, const char *data, size_t len,
		    char *const *passwords, const struct om_av_engine *av,
		    struct om_filetype *ft, struct om_att_report *rep)
{
	struct om_att_run run;

	memset(rep, 0, sizeof(*rep));
	memset(&run, 0, sizeof(run));
	run.rules = rules;
	run.passwords = passwords;
	run.av = av;
	run.ft = ft;
	run.rep = rep;
	om_att_file(&run, filename, filename != NULL ? filename : "(no name)",
		    content_type, data, len, 0);
}

/* ---- passwords ---- */

static const char *const om_att_pw_words[] = {
	"パスワード", "password", "passwd", "pass", "pw", "暗証番号", "解凍キー",
	"パス", NULL
};

/* Skips what stands between the word and the password: spaces (also
   U+3000), は, が, ：, :, =, 「, 『, 【, "is". */
static const char *om_att_pw_skip(const char *p, const char *end)
{
	static const char *const seps[] = {
		"\xe3\x80\x80", "\xe3\x81\xaf", "\xe3\x81\x8c", "\xef\xbc\x9a",
		"\xe3\x80\x8c", "\xe3\x80\x8e", "\xe3\x80\x90", ":", "=", " ",
		"\t", "is ", "IS ", "Is ", NULL
	};
	size_t i, n;
	int moved = 1;

	while (moved && p < end) {
		moved = 0;
		for (i = 0; seps[i] != NULL; i++) {
			n = strlen(seps[i]);
			if ((size_t)(end - p) >= n && memcmp(p, seps[i], n) == 0) {
				p += n;
				moved = 1;
				break;
			}
		}
	}
	return p;
}

static void om_att_pw_add(char ***list, size_t *count, size_t max,
			  const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > 64 || *count >= max)
		return;
	for (i = 0; i < *count; i++) {
		if (strlen((*list)[i]) == n && memcmp((*list)[i], p, n) == 0)
			return;
	}
	(*list)[(*count)++] = om_strndup(p, n);
}

char **om_att_passwords(const char *text, size_t len, size_t max,
			size_t *count_r)
{
	char **list = om_calloc(max + 1, sizeof(char *));
	const char *end = text + len, *p, *q;
	size_t count = 0, i, wlen, n;

	for (p = text; p < end && count < max; p++) {
		for (i = 0; om_att_pw_words[i] != NULL; i++) {
			wlen = strlen(om_att_pw_words[i]);
			if ((size_t)(end - p) >= wlen &&
			    strncasecmp(p, om_att_pw_words[i], wlen) == 0)
				break;
		}
		if (om_att_pw_words[i] == NULL)
			continue;
		/* an ASCII word must stand alone: "PW" not in "PWD1" */
		if (isalpha((unsigned char)om_att_pw_words[i][0]) &&
		    p > text && isalnum((unsigned char)p[-1]))
			continue;
		q = om_att_pw_skip(p + wlen, end);
		if (q == p + wlen)
			continue;	/* "password" with nothing after it */
		for (n = 0; q + n < end && (unsigned char)q[n] > ' ' &&
			     (unsigned char)q[n] < 0x7f; n++)
			;
		om_att_pw_add(&list, &count, max, q, n);
		/* "1234." at a sentence's end: also without the dot */
		while (n > 1 && strchr(".,;)]'\"", q[n - 1]) != NULL)
			n--;
		om_att_pw_add(&list, &count, max, q, n);
		p += wlen - 1;
	}
	*count_r = count;
	return list;
}

void om_att_passwords_free(char **list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}
