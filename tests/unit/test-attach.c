/* test-attach.c - the attachment analysis (scan/attach.h) on files built
 * here at run time: zips written with libarchive (plain and encrypted),
 * a program's header bytes, PDF and HTML text.  No file a scanner would
 * flag is committed: EICAR is put together in memory, as test-scan does.
 */
#include "tap.h"
#include "scan/attach.h"
#include "scan/av.h"
#include "scan/filetype.h"
#include "scan/unmacro.h"
#include "lib/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char eicar[] =
	"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static const char rules_text[] =
	"# test rules\n"
	"risky-extensions exe scr js vbs ps1 lnk hta bat cmd\n"
	"exempt-extensions atc\n"
	"archive-depth 4\n";

struct member { const char *name; const char *data; size_t len; };

/* A zip of members; encrypted with password (ZipCrypto) when not NULL. */
static void make_zip(const struct member *m, size_t n, const char *password,
		     struct om_buf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	size_t used = 0, cap = 1024 * 1024, i;
	char *mem = om_calloc(1, cap);

	archive_write_set_format_zip(a);
	if (password != NULL) {
		if (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
		    archive_write_set_passphrase(a, password) != ARCHIVE_OK)
			fprintf(stderr, "# no zip encryption: %s\n", archive_error_string(a));
	}
	archive_write_open_memory(a, mem, cap, &used);
	for (i = 0; i < n; i++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_size(e, (la_int64_t)m[i].len);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_write_header(a, e);
		archive_write_data(a, m[i].data, m[i].len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	om_buf_init(out);
	om_buf_append(out, mem, used);
	free(mem);
}

/* "MZ", a DOS header whose e_lfanew points at "PE\0\0". */
static void make_exe(char *buf, size_t size)
{
	memset(buf, 0, size);
	buf[0] = 'M';
	buf[1] = 'Z';
	buf[60] = (char)0x80;
	memcpy(buf + 0x80, "PE\0\0", 4);
}

static int has(const struct om_att_report *rep, enum om_att_kind kind)
{
	size_t i;

	for (i = 0; i < rep->count; i++) {
		if (rep->findings[i].kind == kind)
			return 1;
	}
	return 0;
}

static struct om_av_engine *make_engine(char *dir)
{
	struct om_av_limits limits = { 64 * 1024 * 1024, 32 * 1024 * 1024, 16, 1000, "/tmp" };
	struct om_av_engine *engine = NULL;
	unsigned int sigs = 0;
	char *path, *error = NULL;
	FILE *f;
	size_t i;

	if (mkdtemp(dir) == NULL)
		return NULL;
	path = om_asprintf("%s/test.ndb", dir);
	f = fopen(path, "w");
	if (f == NULL) {
		free(path);
		return NULL;
	}
	fprintf(f, "Omamori.Test.EICAR-1:0:*:");
	for (i = 0; i < strlen(eicar); i++)
		fprintf(f, "%02x", (unsigned char)eicar[i]);
	fprintf(f, "\n");
	fclose(f);
	free(path);
	if (om_av_engine_load(dir, &limits, &engine, &sigs, &error) < 0) {
		printf("# engine: %s\n", error);
		free(error);
		return NULL;
	}
	return engine;
}

static void test_rules(void)
{
	struct om_att_rules *r = NULL;
	char *error = NULL;

	TAP_OK(om_att_rules_parse("risky-extensions exe\nfrobnicate 1\n", "t.rules",
				  &r, &error) < 0 && error != NULL &&
	       strstr(error, "t.rules:2: unknown keyword 'frobnicate'") != NULL,
	       "rules: an unknown keyword is refused with file and line");
	free(error);
	error = NULL;
	TAP_OK(om_att_rules_parse("archive-depth lots\nrisky-extensions exe\n", "t.rules",
				  &r, &error) < 0 && strstr(error, "t.rules:1:") != NULL,
	       "rules: a bad number is refused");
	free(error);
	error = NULL;
	TAP_OK(om_att_rules_parse("# nothing\n", "t.rules", &r, &error) < 0,
	       "rules: a file without risky-extensions is refused");
	free(error);
}

static void analyze(const struct om_att_rules *rules, const char *name,
		    const char *type, const char *data, size_t len,
		    char *const *pw, const struct om_av_engine *av,
		    struct om_att_report *rep)
{
	om_att_analyze(rules, name, type, data, len, pw, av, NULL, rep);
}

/* A Windows shortcut's header (MS-SHLLINK: size 0x4C, the LinkCLSID),
   which the analysis's table does not know and libmagic does. */
static void make_lnk(char *lnk, size_t size)
{
	static const unsigned char head[20] = {
		0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0,
		0, 0, 0, 0x46
	};

	memset(lnk, 0, size);
	memcpy(lnk, head, sizeof(head));
}


/* libmagic (filetype.h) behind the table: the true type of what the table
   does not know, and the MIME type the isolation page shows. */
static void test_filetype(const struct om_att_rules *rules)
{
	struct om_filetype *ft = NULL;
	struct om_att_report rep;
	char *error = NULL, exe[256], lnk[96], mime[OM_FILETYPE_MIME_MAX + 1];
	const char *text = "Meeting notes\nThe plan for Tuesday.\n";
	struct member m[1];
	struct om_buf zip;

	TAP_OK(om_filetype_new(&ft, &error) == 0, "libmagic's database loads");
	if (ft == NULL) {
		printf("# %s\n", error);
		free(error);
		return;
	}
	make_exe(exe, sizeof(exe));
	make_lnk(lnk, sizeof(lnk));
	om_filetype_mime(ft, exe, sizeof(exe), mime);
	TAP_OK(om_filetype_is_program(mime), "libmagic: a program's header is a program");
	om_filetype_mime(ft, text, strlen(text), mime);
	TAP_OK(strcmp(mime, "text/plain") == 0, "libmagic: text is text/plain");
	om_att_analyze(rules, "売上.xlsx", NULL, exe, sizeof(exe), NULL, NULL, ft, &rep);
	TAP_OK(has(&rep, OM_ATT_EXT_MISMATCH), "a program named .xlsx: ATT_EXT_MISMATCH");
	om_att_report_free(&rep);
	om_att_analyze(rules, "notes.txt", NULL, text, strlen(text), NULL, NULL, ft, &rep);
	TAP_OK(rep.count == 0, "a text file named .txt: nothing found");
	om_att_report_free(&rep);
	om_att_analyze(rules, "invoice.pdf", NULL, lnk, sizeof(lnk), NULL, NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "a shortcut named .pdf: the table alone does not see it");
	om_att_report_free(&rep);
	om_att_analyze(rules, "invoice.pdf", NULL, lnk, sizeof(lnk), NULL, NULL, ft, &rep);
	TAP_OK(has(&rep, OM_ATT_EXT_MISMATCH), "a shortcut named .pdf: libmagic sees it");
	om_att_report_free(&rep);
	m[0] = (struct member){ "docs/invoice.pdf", lnk, sizeof(lnk) };
	make_zip(m, 1, NULL, &zip);
	om_att_analyze(rules, "docs.zip", NULL, zip.data, zip.len, NULL, NULL, ft, &rep);
	TAP_OK(has(&rep, OM_ATT_EXT_MISMATCH), "a shortcut named .pdf inside a zip: found");
	om_att_report_free(&rep);
	om_buf_free(&zip);
	om_filetype_free(&ft);
	TAP_OK(ft == NULL, "the handle is freed");
}

static void test_names(const struct om_att_rules *rules)
{
	struct om_att_report rep;
	char exe[256];

	make_exe(exe, sizeof(exe));
	analyze(rules, "請求書.pdf", "application/pdf", exe, sizeof(exe), NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_EXT_MISMATCH) && !has(&rep, OM_ATT_RISKY_EXT),
	       "a program named .pdf (Japanese name): ATT_EXT_MISMATCH");
	om_att_report_free(&rep);
	analyze(rules, "tool.exe", "application/octet-stream", exe, sizeof(exe), NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_RISKY_EXT) && !has(&rep, OM_ATT_EXT_MISMATCH),
	       "a program named .exe: ATT_RISKY_EXT, no mismatch");
	om_att_report_free(&rep);
	/* "invoice<U+202E>fdp.exe" shows as "invoiceexe.pdf" */
	analyze(rules, "invoice\xe2\x80\xae" "fdp.exe", NULL, "hello", 5, NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_RTLO) && has(&rep, OM_ATT_RISKY_EXT),
	       "a right-to-left override name: ATT_RTLO and ATT_RISKY_EXT");
	om_att_report_free(&rep);
	analyze(rules, "setup.exe. . .", NULL, "hello", 5, NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_HIDDEN_EXT) && has(&rep, OM_ATT_RISKY_EXT),
	       "trailing dots and spaces: ATT_HIDDEN_EXT and ATT_RISKY_EXT");
	om_att_report_free(&rep);
	analyze(rules, "README", NULL, "hello", 5, NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_NO_EXT) && rep.count == 1, "no extension: ATT_NO_EXT");
	om_att_report_free(&rep);
	analyze(rules, "secret.atc", NULL, exe, sizeof(exe), NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "an encryption tool's own extension is exempt");
	om_att_report_free(&rep);
	analyze(rules, "notes.txt", "text/plain", "just text\n", 10, NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "a text file: nothing");
	om_att_report_free(&rep);
}

static void test_archives(const struct om_att_rules *rules)
{
	struct om_att_report rep;
	struct om_buf inner, outer, doc;
	char exe[256];
	struct member m1[1], m2[1], x[3];

	make_exe(exe, sizeof(exe));
	m1[0] = (struct member){ "payload.exe", exe, sizeof(exe) };
	make_zip(m1, 1, NULL, &inner);
	m2[0] = (struct member){ "inner.zip", inner.data, inner.len };
	make_zip(m2, 1, NULL, &outer);
	analyze(rules, "docs.zip", "application/zip", outer.data, outer.len, NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_RISKY_EXT) && rep.count >= 1 &&
	       strcmp(rep.findings[0].where, "docs.zip/inner.zip/payload.exe") == 0,
	       "an exe in a zip in a zip: ATT_RISKY_EXT at docs.zip/inner.zip/payload.exe (%s)",
	       rep.count > 0 ? rep.findings[0].where : "-");
	om_att_report_free(&rep);
	om_buf_free(&inner);
	om_buf_free(&outer);

	x[0] = (struct member){ "[Content_Types].xml", "<Types/>", 8 };
	x[1] = (struct member){ "xl/workbook.xml", "<workbook/>", 11 };
	x[2] = (struct member){ "xl/vbaProject.bin", "\xd0\xcf\x11\xe0", 4 };
	make_zip(x, 3, NULL, &doc);
	analyze(rules, "report.xlsm", NULL, doc.data, doc.len, NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_MACRO) && !has(&rep, OM_ATT_EXT_MISMATCH),
	       "a macro .xlsm (xl/vbaProject.bin): ATT_MACRO");
	om_att_report_free(&rep);
	om_buf_free(&doc);
	make_zip(x, 2, NULL, &doc);
	analyze(rules, "report.xlsx", NULL, doc.data, doc.len, NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "a clean .xlsx: nothing (%zu findings)", rep.count);
	om_att_report_free(&rep);
	om_buf_free(&doc);
}

static void test_encrypted(const struct om_att_rules *rules,
			   const struct om_av_engine *av)
{
	static const char body_ja[] =
		"お世話になっております。\n資料を送ります。\n"
		"パスワードは 7xQ2pw です。\nよろしくお願いします。\n";
	static const char body_none[] = "資料を送ります。パスワードは別途お送りします。\n";
	struct om_att_report rep;
	struct om_buf zip;
	struct member m[1] = { { "見積書.txt", eicar, sizeof(eicar) - 1 } };
	char **pw;
	size_t n;

	make_zip(m, 1, "7xQ2pw", &zip);
	pw = om_att_passwords(body_ja, strlen(body_ja), 8, &n);
	TAP_OK(n >= 1 && strcmp(pw[0], "7xQ2pw") == 0,
	       "password from 「パスワードは 7xQ2pw です」 (%s)", n > 0 ? pw[0] : "-");
	analyze(rules, "見積書.zip", "application/zip", zip.data, zip.len, pw, av, &rep);
	TAP_OK(rep.virus != NULL && strstr(rep.virus, "EICAR") != NULL &&
	       !has(&rep, OM_ATT_ENCRYPTED),
	       "an encrypted zip opened with the body's password: EICAR found (%s)",
	       rep.virus != NULL ? rep.virus : "none");
	om_att_report_free(&rep);
	om_att_passwords_free(pw);
	pw = om_att_passwords(body_none, strlen(body_none), 8, &n);
	analyze(rules, "見積書.zip", "application/zip", zip.data, zip.len, pw, av, &rep);
	TAP_OK(rep.virus == NULL && has(&rep, OM_ATT_ENCRYPTED),
	       "no password in the body: ATT_ENCRYPTED, no virus claimed");
	om_att_report_free(&rep);
	om_att_passwords_free(pw);
	om_buf_free(&zip);
}

static void test_passwords(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "パスワード：abcd\n", "abcd" },
		{ "Password: s3cret.\n", "s3cret" },
		{ "PW: Zz-99 \n", "Zz-99" },
		{ "解凍パスワードは「k8k8」です", "k8k8" },
		{ "the password is hunter2\n", "hunter2" },
	};
	char **pw;
	size_t i, j, n;
	int found;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pw = om_att_passwords(cases[i].text, strlen(cases[i].text), 8, &n);
		found = 0;
		for (j = 0; j < n; j++)
			found |= strcmp(pw[j], cases[i].want) == 0;
		TAP_OK(found, "password %s found (case %zu)", cases[i].want, i + 1);
		om_att_passwords_free(pw);
	}
}

static void test_active(const struct om_att_rules *rules)
{
	static const char pdf[] = "%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript "
		"/JS (app.alert(1)) >> >> endobj\n%%EOF\n";
	static const char pdf_hex[] = "%PDF-1.4\n1 0 obj << /S /J#61vaScript >> endobj\n";
	static const char pdf_clean[] = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n";
	static const char html[] = "<html><body><FORM action=\"https://x.test/\">"
		"<input type=password></form></body></html>";
	struct om_att_report rep;

	analyze(rules, "a.pdf", "application/pdf", pdf, strlen(pdf), NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_PDF_JS), "a PDF with /JavaScript: ATT_PDF_JS");
	om_att_report_free(&rep);
	analyze(rules, "b.pdf", "application/pdf", pdf_hex, strlen(pdf_hex), NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_PDF_JS), "a PDF with /J#61vaScript: ATT_PDF_JS");
	om_att_report_free(&rep);
	analyze(rules, "c.pdf", "application/pdf", pdf_clean, strlen(pdf_clean), NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "a plain PDF: nothing");
	om_att_report_free(&rep);
	{
		static const char pdf_enc[] = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
			"trailer << /Root 1 0 R /Encrypt 2 0 R >>\n%%EOF\n";
		char ole[1024];
		static const char pkg[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";

		analyze(rules, "d.pdf", "application/pdf", pdf_enc, strlen(pdf_enc), NULL, NULL, &rep);
		TAP_OK(rep.count == 1 && has(&rep, OM_ATT_ENCRYPTED),
		       "an encrypted PDF (/Encrypt): ATT_ENCRYPTED alone");
		om_att_report_free(&rep);
		memset(ole, 0, sizeof(ole));
		memcpy(ole, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
		memcpy(ole + 512, pkg, sizeof(pkg) - 1);
		analyze(rules, "e.xls", "application/vnd.ms-excel", ole, sizeof(ole), NULL, NULL, &rep);
		TAP_OK(has(&rep, OM_ATT_ENCRYPTED) && !has(&rep, OM_ATT_MACRO),
		       "an encrypted Office document (EncryptedPackage): ATT_ENCRYPTED");
		om_att_report_free(&rep);
	}
	analyze(rules, "login.html", "text/html", html, strlen(html), NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_HTML_FORM) && !has(&rep, OM_ATT_HTML_SCRIPT),
	       "an HTML file with a form: ATT_HTML_FORM");
	om_att_report_free(&rep);
	{
		/* an OLE compound file: its signature, and a directory entry
		   named _VBA_PROJECT (UTF-16LE) for the macro one */
		char ole[1024];
		static const char vba[] = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";

		memset(ole, 0, sizeof(ole));
		memcpy(ole, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
		analyze(rules, "old.xls", NULL, ole, sizeof(ole), NULL, NULL, &rep);
		TAP_OK(rep.count == 0, "an OLE .xls without macros: nothing");
		om_att_report_free(&rep);
		memcpy(ole + 512, vba, sizeof(vba) - 1);
		analyze(rules, "old.xls", NULL, ole, sizeof(ole), NULL, NULL, &rep);
		TAP_OK(has(&rep, OM_ATT_MACRO), "an OLE .xls with a _VBA_PROJECT stream: ATT_MACRO");
		om_att_report_free(&rep);
		analyze(rules, "old.pdf", NULL, ole, sizeof(ole), NULL, NULL, &rep);
		TAP_OK(has(&rep, OM_ATT_EXT_MISMATCH), "an OLE file named .pdf: ATT_EXT_MISMATCH");
		om_att_report_free(&rep);
	}
	analyze(rules, "page.htm", "application/octet-stream", "<p><SCRIPT>x()</script>", 23,
		NULL, NULL, &rep);
	TAP_OK(has(&rep, OM_ATT_HTML_SCRIPT) && !has(&rep, OM_ATT_HTML_FORM),
	       "an .htm with a script: ATT_HTML_SCRIPT");
	om_att_report_free(&rep);
	TAP_OK(strcmp(om_att_kind_name(OM_ATT_MACRO), "ATT_MACRO") == 0 &&
	       strcmp(om_att_kind_class(OM_ATT_RTLO), "disguise") == 0 &&
	       strstr(om_att_kind_reason(OM_ATT_ENCRYPTED, "en"), "encrypted") != NULL &&
	       strstr(om_att_kind_reason(OM_ATT_ENCRYPTED, "ja"), "暗号化") != NULL,
	       "names, classes and ja/en reasons");
}

/* The text of member path of zip (allocated), or NULL. */
static char *zip_member(const struct om_buf *zip, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct om_buf m;
	char block[4096];
	la_ssize_t n;
	char *found = NULL;

	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, zip->data, zip->len) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	om_buf_init(&m);
	while (found == NULL && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), path) != 0)
			continue;
		while ((n = archive_read_data(a, block, sizeof(block))) > 0)
			om_buf_append(&m, block, (size_t)n);
		om_buf_append(&m, "", 1);
		found = om_strdup(m.data);
	}
	om_buf_free(&m);
	archive_read_free(a);
	return found;
}

/* unmacro.h: an .xlsm built here loses vbaProject.bin, its relationship
   and content type; a clean .xlsx, an add-in and a non-zip give no copy. */
static void test_unmacro(const struct om_att_rules *rules)
{
	static const char types[] =
		"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
		"<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/>"
		"<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
		"<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.ms-excel.sheet.macroEnabled.main+xml\"/>"
		"</Types>";
	static const char wbrels[] =
		"<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
		"<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
		"<Relationship Id=\"rId9\" Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/>"
		"</Relationships>";
	static const char addin[] =
		"<Types><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.ms-excel.addin.macroEnabled.main+xml\"/></Types>";
	struct member m[4] = {
		{ "[Content_Types].xml", types, sizeof(types) - 1 },
		{ "xl/workbook.xml", "<workbook/>", 11 },
		{ "xl/_rels/workbook.xml.rels", wbrels, sizeof(wbrels) - 1 },
		{ "xl/vbaProject.bin", "\xd0\xcf\x11\xe0 macro", 10 },
	};
	struct om_buf zip, copy;
	struct om_att_report rep;
	char *name = NULL, *error = NULL, *t, *r, *v;

	om_buf_init(&copy);
	make_zip(m, 4, NULL, &zip);
	TAP_OK(om_unmacro_ooxml("売上.xlsm", zip.data, zip.len, &copy, &name, &error) == 1 &&
	       name != NULL && strcmp(name, "売上.xlsx") == 0,
	       "unmacro: an .xlsm gives a copy named .xlsx");
	t = zip_member(&copy, "[Content_Types].xml");
	r = zip_member(&copy, "xl/_rels/workbook.xml.rels");
	v = zip_member(&copy, "xl/vbaProject.bin");
	TAP_OK(v == NULL && t != NULL && r != NULL, "unmacro: no vbaProject.bin in the copy");
	TAP_OK(t != NULL && strstr(t, "vbaProject") == NULL && strstr(t, "macroEnabled") == NULL &&
	       strstr(t, "spreadsheetml.sheet.main+xml") != NULL &&
	       strstr(t, "Extension=\"xml\"") != NULL,
	       "unmacro: content types without the VBA part, the workbook's type plain");
	TAP_OK(r != NULL && strstr(r, "vbaProject") == NULL && strstr(r, "sheet1.xml") != NULL,
	       "unmacro: the relationship to vbaProject.bin is gone, the others stay");
	om_att_analyze(rules, name, NULL, copy.data, copy.len, NULL, NULL, NULL, &rep);
	TAP_OK(rep.count == 0, "unmacro: the copy has no finding");
	om_att_report_free(&rep);
	free(t);
	free(r);
	free(v);
	free(name);
	name = NULL;
	om_buf_free(&zip);
	make_zip(m, 3, NULL, &zip);
	TAP_OK(om_unmacro_ooxml("clean.xlsx", zip.data, zip.len, &copy, &name, &error) == 0 &&
	       name == NULL, "unmacro: a document without macros gives no copy");
	om_buf_free(&zip);
	m[0] = (struct member){ "[Content_Types].xml", addin, sizeof(addin) - 1 };
	make_zip(m, 4, NULL, &zip);
	TAP_OK(om_unmacro_ooxml("tool.xlam", zip.data, zip.len, &copy, &name, &error) == 0,
	       "unmacro: an add-in gives no copy");
	om_buf_free(&zip);
	TAP_OK(om_unmacro_ooxml("x.xlsm", "not a zip", 9, &copy, &name, &error) == 0,
	       "unmacro: not a zip gives no copy");
	om_buf_free(&copy);
	free(error);
}

int main(void)
{
	struct om_att_rules *rules = NULL;
	struct om_av_engine *av;
	char dir[] = "/tmp/om-test-attach-XXXXXX", *error = NULL, *cmd;

	TAP_OK(om_att_rules_parse(rules_text, "test", &rules, &error) == 0,
	       "the test rules parse");
	if (rules == NULL)
		return tap_done();
	test_rules();
	test_names(rules);
	test_filetype(rules);
	test_unmacro(rules);
	test_archives(rules);
	test_passwords();
	test_active(rules);
	av = make_engine(dir);
	TAP_OK(av != NULL, "test engine");
	if (av != NULL) {
		test_encrypted(rules, av);
		om_av_engine_free(&av);
	}
	cmd = om_asprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	om_att_rules_free(&rules);
	return tap_done();
}
