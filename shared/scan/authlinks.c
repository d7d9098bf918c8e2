/* authlinks.c - sender authentication, the banner and the links of an
 * inbound message at the end of its scan (see authlinks.h).
 *
 * Seed 004: when SPF, DKIM or DMARC fails, a warning at the top of the body
 * and every link disabled - except when DMARC alone fails and the sender's
 * policy is p=none; a domain may disable every link always.  Seeds 001 and
 * 003: links through omamori-web's gate (/u/<token>), checked when clicked.
 * The parsing is mail's (authres.c, linkrw.c); here is what the recipient's
 * settings make of it, the gate's signed links, and the A-R headers that are
 * not ours taken out of what is delivered.
 */
#include "scan/authlinks.h"
#include "scan/scan.h"
#include "crypto/token.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "store/settings.h"
#include "store/snapshot.h"
#include "url/url.h"

#include <stdlib.h>
#include <string.h>

void om_authlinks_plan(const struct om_authres *auth, const char *auth_warning,
		       const char *link_disable, const char *url_rewrite,
		       int can_rewrite, struct om_authlinks_plan *plan_r)
{
	int warn = strcmp(auth_warning, "off") != 0;
	int dmarc_none_only;

	memset(plan_r, 0, sizeof(*plan_r));
	plan_r->failed = om_authres_failed(auth);
	/* only DMARC failed, and the sender's domain said p=none: seed 004
	   keeps the links (an unknown policy is not none) */
	dmarc_none_only = plan_r->failed == OM_AUTHRES_DMARC &&
		auth->dmarc_policy == OM_DMARC_POLICY_NONE;
	if (warn && plan_r->failed != 0) {
		plan_r->banner = dmarc_none_only ? OM_BANNER_FAIL_KEPT : OM_BANNER_FAIL;
		if (!dmarc_none_only)
			plan_r->mode = OM_LINKS_DISABLE;
	} else if (strcmp(auth_warning, "always") == 0 && !om_authres_any_pass(auth)) {
		plan_r->banner = OM_BANNER_UNVERIFIED;
	}
	if (strcmp(link_disable, "on") == 0) {
		plan_r->mode = OM_LINKS_DISABLE;
		if (plan_r->banner == OM_BANNER_NONE || plan_r->banner == OM_BANNER_UNVERIFIED)
			plan_r->banner = OM_BANNER_POLICY;
		else if (plan_r->banner == OM_BANNER_FAIL_KEPT)
			plan_r->banner = OM_BANNER_FAIL;
	}
	if (plan_r->mode == OM_LINKS_KEEP && strcmp(url_rewrite, "on") == 0)
		plan_r->mode = can_rewrite ? OM_LINKS_REWRITE : OM_LINKS_DISABLE;
}

/* The failed checks in plain words, joined. */
static char *om_authlinks_failed_words(unsigned int failed, int ja)
{
	static const struct {
		unsigned int bit;
		const char *ja, *en;
	} words[] = {
		{ OM_AUTHRES_SPF, "送信元サーバーの確認 (SPF)",
		  "the sending server is not allowed to send for the sender's domain (SPF)" },
		{ OM_AUTHRES_DKIM, "電子署名の確認 (DKIM)",
		  "the message's digital signature did not verify (DKIM)" },
		{ OM_AUTHRES_DMARC, "送信元ドメインのポリシー確認 (DMARC)",
		  "the sender's domain policy check failed (DMARC)" },
	};
	struct om_buf b;
	size_t i;

	om_buf_init(&b);
	for (i = 0; i < OM_N_ELEMENTS(words); i++) {
		if ((failed & words[i].bit) == 0)
			continue;
		if (b.len > 0)
			om_buf_append_str(&b, ja ? "、" : "; ");
		om_buf_append_str(&b, ja ? words[i].ja : words[i].en);
	}
	return om_buf_steal(&b, NULL);
}

char *om_authlinks_banner_text(const struct om_authlinks_plan *plan,
			       const char *lang, const char *brand)
{
	int ja = strcmp(lang, "en") != 0;
	const char *b = brand != NULL && *brand != '\0' ? brand : "omamori";
	char *words, *text;

	switch (plan->banner) {
	case OM_BANNER_NONE:
		return NULL;
	case OM_BANNER_POLICY:
		return ja ? om_asprintf("<%s> このメールのリンクは、管理者の設定により無効化されています。"
					"URL は文字として表示しています。", b) :
			om_asprintf("<%s> The links in this message were disabled by your "
				    "administrator. URLs are shown as text.", b);
	case OM_BANNER_UNVERIFIED:
		return ja ? om_asprintf("<%s> 注意：このメールの送信元は送信ドメイン認証で確認できませんでした"
					"（SPF・DKIM・DMARC のいずれも成功していません）。", b) :
			om_asprintf("<%s> Caution: the sender of this message could not be "
				    "verified (no SPF, DKIM or DMARC check passed).", b);
	case OM_BANNER_FAIL:
	case OM_BANNER_FAIL_KEPT:
		break;
	}
	words = om_authlinks_failed_words(plan->failed, ja);
	if (ja)
		text = om_asprintf("<%s> 注意！なりすましメールの可能性があります。\n"
				   "送信ドメイン認証に失敗しました：%s。\n%s", b, words,
				   plan->banner == OM_BANNER_FAIL ?
				   "このメールのリンクは無効化されています（URL は文字として表示しています）。" :
				   "送信元ドメインが認証に失敗したメールも受け取るよう指定しているため"
				   "（DMARC p=none）、リンクは有効のままです。開く前に送信元をご確認ください。");
	else
		text = om_asprintf("<%s> Warning: this message may be spoofed.\n"
				   "Sender authentication failed: %s.\n%s", b, words,
				   plan->banner == OM_BANNER_FAIL ?
				   "The links in this message have been disabled (URLs are shown as text)." :
				   "The sender's domain asks for such mail to be delivered anyway "
				   "(DMARC p=none), so the links still work. Check the sender "
				   "before opening one.");
	free(words);
	return text;
}

/* ---- the gate's links ---- */

struct om_authlinks_gate {
	const struct om_scan_settings *set;
	const char *mailbox;
	char message[OM_TOKEN_URL_MESSAGE_MAX + 1];
};

/* The Message-ID without its brackets, one line, bounded. */
static void om_authlinks_message_id(struct om_mime_msg *msg, char *out, size_t size)
{
	char *raw = msg != NULL ? om_mime_header_raw(msg, "Message-ID") : NULL;
	char *clean;
	size_t o = 0;
	const char *p;

	out[0] = '\0';
	if (raw == NULL)
		return;
	clean = om_sanitize(raw, size - 1);
	for (p = clean; *p != '\0' && o + 1 < size; p++) {
		if (*p != '<' && *p != '>' && *p != ' ' && *p != '\t')
			out[o++] = *p;
	}
	out[o] = '\0';
	free(clean);
	free(raw);
}

/* linkrw's gate: web_url "u/" token, the URL in its normalised form (the
   url layer's: what the gate looks up and redirects to); NULL for a URL
   the url layer refuses or one too long for a token: that link is
   disabled. */
static char *om_authlinks_gate_url(void *context, const char *url)
{
	struct om_authlinks_gate *g = context;
	const struct om_scan_settings *set = g->set;
	struct om_token_url link;
	struct om_url parsed;
	char *error = NULL, *token, *gate;
	size_t len = strlen(set->web_url);

	if (om_url_parse(url, strlen(url), &parsed, &error) < 0) {
		free(error);
		return NULL;
	}
	memset(&link, 0, sizeof(link));
	if ((strcmp(parsed.scheme, "http") != 0 && strcmp(parsed.scheme, "https") != 0) ||
	    om_strlcpy(link.url, parsed.key, sizeof(link.url)) < 0 ||
	    om_strlcpy(link.mailbox, g->mailbox, sizeof(link.mailbox)) < 0) {
		om_url_free(&parsed);
		return NULL;
	}
	om_url_free(&parsed);
	memcpy(link.message, g->message, sizeof(link.message));
	link.expires = set->now + set->link_lifetime;
	token = om_token_url_make(set->link_keys, &link);
	if (token == NULL)
		return NULL;
	gate = om_asprintf("%s%su/%s", set->web_url,
			   len > 0 && set->web_url[len - 1] == '/' ? "" : "/", token);
	free(token);
	return gate;
}

/* ---- the step ---- */

/* The three domain settings; 0 or -1. */
static int om_authlinks_settings(const struct om_scan_settings *set,
				 const char *mailbox, char *values[3],
				 char **error_r)
{
	static const char *const names[3] = { "auth-warning", "link-disable", "url-rewrite" };
	static const char *const defaults[3] = { "fail", "off", "off" };
	const struct om_settings_source *src = om_snapshot_source(set->snap);
	size_t i;

	for (i = 0; i < 3; i++) {
		values[i] = om_settings_domain_value_from(src, mailbox, names[i],
							  defaults[i], error_r);
		if (values[i] == NULL) {
			while (i > 0)
				free(values[--i]);
			return -1;
		}
	}
	return 0;
}

/* Rewrites msg's readable parts for plan; the new message into res. */
static void om_authlinks_rewrite(const struct om_scan_settings *set,
				 const struct om_scan_request *req,
				 struct om_mime_msg *msg,
				 const struct om_authlinks_plan *plan,
				 struct om_scan_result *res)
{
	struct om_authlinks_gate gate;
	struct om_linkrw rw;
	struct om_buf out;
	char *banner = om_authlinks_banner_text(plan, set->language, set->brand.name);

	memset(&gate, 0, sizeof(gate));
	gate.set = set;
	gate.mailbox = req->mailbox;
	om_authlinks_message_id(msg, gate.message, sizeof(gate.message));
	memset(&rw, 0, sizeof(rw));
	rw.mode = plan->mode;
	rw.banner = banner;
	rw.gate = om_authlinks_gate_url;
	rw.context = &gate;
	(void)om_linkrw_message(msg, &rw);
	free(banner);
	om_buf_init(&out);
	om_mime_write(msg, &out);
	free(res->message);
	res->message = om_buf_steal(&out, &res->message_len);
	res->links = plan->mode == OM_LINKS_DISABLE ? OM_LINKS_DONE_DISABLED :
		plan->mode == OM_LINKS_REWRITE ? OM_LINKS_DONE_REWRITTEN :
		OM_LINKS_DONE_NONE;
}

int om_authlinks_run(const struct om_scan_settings *set,
		     const struct om_scan_request *req, struct om_mime_msg *msg,
		     struct om_scan_result *res, char **error_r)
{
	struct om_authres_trust trust = { set->trusted_authserv_id, set->authserv_hops };
	struct om_authlinks_plan plan;
	struct om_authres auth, again;
	struct om_buf cleaned;
	char *values[3];

	if (trust.hops == 0)
		trust.hops = 1;
	(void)om_authres_check(req->message, req->message_len, &trust, &auth, NULL);
	/* omamori's own DKIM and DMARC of this delivery (scan.c, auth-check
	   on): not in the message yet - the delivery plugin adds the header -
	   but as much ours as an MTA's, so the banner sees them too */
	if (res->auth_results != NULL && *res->auth_results != '\0' &&
	    om_authres_read_value(res->auth_results, &auth) == 0)
		auth.trusted++;
	if (om_authlinks_settings(set, req->mailbox, values, error_r) < 0)
		return -1;
	om_authlinks_plan(&auth, values[0], values[1], values[2],
			  set->link_keys != NULL && set->web_url != NULL, &plan);
	free(values[0]);
	free(values[1]);
	free(values[2]);
	if (plan.mode != OM_LINKS_KEEP || plan.banner != OM_BANNER_NONE) {
		if (msg != NULL)
			om_authlinks_rewrite(set, req, msg, &plan, res);
		else
			om_log_warn("mailbox=%s: links not rewritten: the message "
				    "could not be parsed", req->mailbox);
	}
	/* no A-R header that is not ours goes out, rewritten or not */
	om_buf_init(&cleaned);
	if (res->message != NULL) {
		if (om_authres_check(res->message, res->message_len, &trust, &again,
				     &cleaned) > 0) {
			free(res->message);
			res->message = om_buf_steal(&cleaned, &res->message_len);
		}
	} else if (om_authres_check(req->message, req->message_len, &trust, &again,
				    &cleaned) > 0) {
		res->message = om_buf_steal(&cleaned, &res->message_len);
	}
	om_buf_free(&cleaned);
	return 0;
}
