/* notify.c - renders the notice templates in templates/<lang>/.
 *
 * Wording lives in files an ISP can edit (and translate) without rebuilding;
 * this module only finds the file, substitutes {{placeholders}} and splits a
 * mail template into subject and body.
 */
#include "notice/notify.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define OM_TEMPLATE_MAX_SIZE (64 * 1024)
#define OM_TEMPLATE_VALUE_MAX 4096

static const char *om_notify_lookup(const struct om_notify_var *vars,
				    const char *name, size_t len)
{
	for (; vars->name != NULL; vars++) {
		if (strlen(vars->name) == len &&
		    strncmp(vars->name, name, len) == 0)
			return vars->value != NULL ? vars->value : "";
	}
	return NULL;
}

char *om_notify_expand(const char *tmpl, const struct om_notify_var *vars)
{
	const char *p = tmpl, *open, *close, *value;
	struct om_buf b;
	char *clean;

	om_buf_init(&b);
	while ((open = strstr(p, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL)
			break;
		om_buf_append(&b, p, (size_t)(open - p));
		value = om_notify_lookup(vars, open + 2, (size_t)(close - open - 2));
		if (value == NULL) {
			om_buf_append(&b, open, (size_t)(close + 2 - open));
		} else {
			clean = om_sanitize_text(value, OM_TEMPLATE_VALUE_MAX);
			om_buf_append_str(&b, clean);
			free(clean);
		}
		p = close + 2;
	}
	om_buf_append_str(&b, p);
	return om_buf_steal(&b, NULL);
}

static int om_notify_lang_ok(const char *lang)
{
	return strcmp(lang, "ja") == 0 || strcmp(lang, "en") == 0;
}

char *om_notify_render(const char *dir, const char *lang, const char *name,
		       const struct om_notify_var *vars, char **error_r)
{
	char *path, *data, *result;
	size_t len;

	if (lang == NULL || !om_notify_lang_ok(lang))
		lang = "ja";
	path = om_asprintf("%s/%s/%s.txt", dir, lang, name);
	if (om_read_file(path, OM_TEMPLATE_MAX_SIZE, &data, &len, error_r) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	result = om_notify_expand(data, vars);
	free(data);
	return result;
}

int om_notify_templates_check(const char *dir, char **error_r)
{
	/* every name passed to om_notify_render*, and the branding's footer */
	static const char *const names[] = {
		"attachment-isolate", "attachment-notice",
		"attachment-quarantine-admin", "attachment-quarantine",
		"audit-alert", "audit-delete-alert", "audit-hold-alert",
		"audit-in-alert", "bcc-notice", "brake-alert", "brand-footer",
		"hold-notice", "outbound-spam-alert", "outbound-virus-alert",
		"portal-code", "portal-notice", "portal-sender",
		"unscanned-notice", "virus-notice", "virus-report",
		"zip-password-recipient", "zip-password",
	};
	static const char *const langs[] = { "ja", "en" };
	char *path, *data, *error = NULL;
	size_t i, j, len;

	for (i = 0; i < OM_N_ELEMENTS(langs); i++) {
		for (j = 0; j < OM_N_ELEMENTS(names); j++) {
			path = om_asprintf("%s/%s/%s.txt", dir, langs[i], names[j]);
			if (om_read_file(path, OM_TEMPLATE_MAX_SIZE, &data, &len,
					 &error) < 0) {
				*error_r = om_asprintf("templates_dir: %s", error);
				free(error);
				free(path);
				return -1;
			}
			free(data);
			free(path);
		}
	}
	return 0;
}

void om_notify_templates_warn(const char *dir, const char *consequence)
{
	char *error = NULL;

	if (om_notify_templates_check(dir, &error) < 0) {
		om_log_warn("%s: %s", error, consequence);
		free(error);
	}
}

int om_notify_split_mail(char *text, const char **subject_r,
			 const char **body_r)
{
	char *eol;

	if (strncmp(text, "Subject:", 8) != 0)
		return -1;
	eol = strchr(text, '\n');
	if (eol == NULL)
		return -1;
	*eol = '\0';
	*subject_r = text + 8 + strspn(text + 8, " ");
	eol++;
	if (*eol == '\n')
		eol++;
	*body_r = eol;
	return 0;
}

char *om_notify_time_text(time_t when)
{
	char text[32];
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y/%m/%d %H:%M:%S", &tm) == 0)
		return om_strdup("?");
	return om_strdup(text);
}

/* What a limit means, in words a mailbox owner reads (the technical
   reason follows in brackets). */
static const char *om_notify_limit_words(const char *lang, const char *reason)
{
	static const struct {
		const char *key, *ja, *en;
	} words[] = {
		{ "MaxRecursion", "圧縮ファイルの入れ子が深すぎます", "archives nested too deep" },
		{ "MaxFileSize", "添付ファイルの中身が大きすぎます", "a file inside is too large" },
		{ "file-size limit", "添付ファイルの中身が大きすぎます", "a file inside is too large" },
		{ "MaxScanSize", "検査する量が多すぎます", "too much to check" },
		{ "bytes in all", "検査する量が多すぎます", "too much to check" },
		{ "MaxFiles", "圧縮ファイルの中のファイルが多すぎます", "too many files in an archive" },
		{ "files", "圧縮ファイルの中のファイルが多すぎます", "too many files in an archive" },
		{ "MIME parts", "メールの部品が多すぎます", "too many parts in the message" },
		{ "MIME nesting", "メールの構造の入れ子が深すぎます", "the message is nested too deep" },
		{ "scan_max_size", "メールが大きすぎます", "the message is too large" },
		{ "message of", "メールが大きすぎます", "the message is too large" },
	};
	int ja = lang == NULL || strcmp(lang, "en") != 0;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(words); i++) {
		if (strstr(reason, words[i].key) != NULL)
			return ja ? words[i].ja : words[i].en;
	}
	return ja ? "検査の上限を超えました" : "over a limit of the check";
}

char *om_notify_render_branded(const char *dir, const char *lang,
			       const char *name,
			       const struct om_notify_var *vars,
			       const struct om_notify_brand *brand,
			       char **error_r)
{
	char *text = om_notify_render(dir, lang, name, vars, error_r), *footer, *out;
	char *brand_name, *brand_support;

	if (text == NULL || brand == NULL || brand->name == NULL ||
	    brand->name[0] == '\0')
		return text;
	brand_name = om_sanitize(brand->name, 200);
	brand_support = om_sanitize(brand->support != NULL ? brand->support : "", 400);
	if (brand_support[0] == '\0') {
		/* no support contact: the name alone */
		footer = om_asprintf("\n%s\n", brand_name);
	} else {
		struct om_notify_var fvars[] = {
			{ "brand_name", brand_name }, { "brand_support", brand_support },
			{ NULL, NULL }
		};

		footer = om_notify_render(dir, lang, "brand-footer", fvars, error_r);
	}
	free(brand_name);
	free(brand_support);
	if (footer == NULL) {
		free(text);
		return NULL;
	}
	out = om_asprintf("%s%s%s", text,
			  text[0] != '\0' && text[strlen(text) - 1] != '\n' ? "\n" : "",
			  footer);
	free(text);
	free(footer);
	return out;
}

char *om_notify_unscanned(const char *dir, const char *lang,
			  const char *reason, time_t now,
			  const struct om_notify_brand *brand, char **error_r)
{
	char *when = om_notify_time_text(now);
	char *why = om_sanitize(reason, 300);
	struct om_notify_var vars[] = {
		{ "detected_at", when }, { "reason", why },
		{ "reason_words", om_notify_limit_words(lang, reason) }, { NULL, NULL }
	};
	char *notice;

	notice = om_notify_render_branded(dir, lang, "unscanned-notice", vars,
					  brand, error_r);
	free(when);
	free(why);
	return notice;
}

const char *om_notify_hold_expiry_text(const char *expiry, const char *lang)
{
	static const struct {
		const char *value, *ja, *en;
	} texts[] = {
		{ "send", "そのまま送信されます", "it is sent" },
		{ "discard", "送信されずに破棄されます", "it is discarded without being sent" },
		{ "admin", "管理者が確認するまで保留されます", "it waits for your administrator" },
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(texts); i++) {
		if (strcmp(expiry, texts[i].value) == 0)
			return lang != NULL && strcmp(lang, "ja") == 0 ?
				texts[i].ja : texts[i].en;
	}
	return expiry;
}
