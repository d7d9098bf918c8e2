/* web-link.c - what a URL of omamori-web may do, and proof that a form was
 * sent from our own page.
 *
 * Every page is reached by a signed token (crypto/token.h): no cookies, no
 * sessions on the server.  A token is checked for its action ("mail" for
 * one message, "box" for a digest's quarantine page, "session" for a
 * login's quarantine and settings pages) so a link made for one thing
 * never does another: a forwarded digest opens its quarantine list, never
 * the mailbox's settings.  Forms carry a second token, action "csrf", over a
 * random nonce, which the store lets be used once (om_store_nonce_use): a
 * form replayed, or posted from another site without our page, is refused
 * before anything acts.
 */
#include "web-link.h"
#include "web-page.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define WEB_NONCE_BYTES 16

int web_link_check(struct web_request *req, const char *action,
		   struct om_token_claims *claims_r, struct web_response *resp)
{
	return web_link_check_either(req, action, NULL, claims_r, resp);
}

int web_link_check_either(struct web_request *req, const char *action,
			  const char *other, struct om_token_claims *claims_r,
			  struct web_response *resp)
{
	struct om_link_keys keys;
	enum om_token_result result = OM_TOKEN_BAD;

	if (web_parse_token_ok(req->token)) {
		web_keys_get(req->server, &keys);
		result = om_token_check(&keys, req->token, req->now, claims_r);
		web_keys_forget(&keys);
	}
	if (result != OM_TOKEN_BAD && strcmp(claims_r->action, action) != 0 &&
	    (other == NULL || strcmp(claims_r->action, other) != 0))
		result = OM_TOKEN_BAD;
	switch (result) {
	case OM_TOKEN_OK:
		return 1;
	case OM_TOKEN_EXPIRED:
		web_page_message(req, resp, 410,
				 web_page_lang_mailbox(req, web_store(req->server),
						       claims_r->mailbox),
				 WT_EXPIRED_TITLE, WT_EXPIRED_BODY, 1);
		return 0;
	case OM_TOKEN_BAD:
		break;
	}
	om_log_info("client=%s bad token on a %s page", req->address, action);
	web_page_message(req, resp, 400, web_page_lang_browser(req),
			 WT_BAD_LINK_TITLE, WT_BAD_LINK_BODY, 1);
	return 0;
}

struct om_store *web_link_store_for(struct web_request *req, const char *action,
				    const char *other,
				    struct om_token_claims *claims_r,
				    const char **lang_r, struct web_response *resp)
{
	if (!web_link_check_either(req, action, other, claims_r, resp))
		return NULL;
	return web_page_store_for(req, resp, claims_r->mailbox, lang_r);
}

char *web_link_make(struct web_request *req, const char *mailbox,
		    const char *action, const char *message, time_t lifetime)
{
	struct om_token_claims claims;
	struct om_link_keys keys;
	char *token;

	memset(&claims, 0, sizeof(claims));
	if (om_strlcpy(claims.mailbox, mailbox, sizeof(claims.mailbox)) < 0 ||
	    om_strlcpy(claims.action, action, sizeof(claims.action)) < 0 ||
	    om_strlcpy(claims.message, message, sizeof(claims.message)) < 0)
		return NULL;
	claims.expires = req->now + lifetime;
	web_keys_get(req->server, &keys);
	token = om_token_make(&keys, &claims);
	web_keys_forget(&keys);
	return token;
}

char *web_link_csrf(struct web_request *req, const char *mailbox, const char *form)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char nonce[WEB_NONCE_BYTES];
	char hex[WEB_NONCE_BYTES * 2 + 1], *message, *csrf;
	size_t i;

	/* the kernel's CSPRNG, which libsodium's randombytes also reads on
	   Linux (sodium.h belongs to the crypto layer) */
	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
		om_log_error("getrandom failed");
		return NULL;
	}
	for (i = 0; i < sizeof(nonce); i++) {
		hex[2 * i] = digits[nonce[i] >> 4];
		hex[2 * i + 1] = digits[nonce[i] & 0x0f];
	}
	hex[sizeof(hex) - 1] = '\0';
	message = om_asprintf("%s:%s", form, hex);
	csrf = web_link_make(req, mailbox, WEB_ACTION_CSRF, message, WEB_CSRF_SECONDS);
	free(message);
	return csrf;
}

/* 1 if a csrf value's message is form's: "FORM:" and the nonce */
static int web_link_csrf_form_is(const char *message, const char *form)
{
	size_t n = strlen(form);

	return strncmp(message, form, n) == 0 && message[n] == ':' &&
		strlen(message + n + 1) == WEB_NONCE_BYTES * 2;
}

int web_link_csrf_spend(struct web_request *req, struct om_store *store,
			const char *mailbox, const char *form, const char *lang,
			struct web_response *resp)
{
	const char *csrf = web_form_get(&req->form, "csrf");
	struct om_token_claims claims;
	struct om_link_keys keys;
	enum om_token_result result = OM_TOKEN_BAD;
	char *error = NULL;
	int ret;

	if (csrf != NULL && web_parse_token_ok(csrf)) {
		web_keys_get(req->server, &keys);
		result = om_token_check(&keys, csrf, req->now, &claims);
		web_keys_forget(&keys);
	}
	if (result != OM_TOKEN_OK || strcmp(claims.action, WEB_ACTION_CSRF) != 0 ||
	    strcmp(claims.mailbox, mailbox) != 0 ||
	    !web_link_csrf_form_is(claims.message, form)) {
		om_log_info("client=%s form refused: %s csrf value", req->address,
			    csrf == NULL ? "no" : result == OM_TOKEN_EXPIRED ?
			    "an expired" : "a bad");
		web_page_message(req, resp, 403, lang, WT_CSRF_TITLE, WT_CSRF_BODY, 0);
		return 0;
	}
	ret = om_store_nonce_use(store, claims.message, (long long)claims.expires,
				 (long long)req->now, &error);
	if (ret < 0) {
		om_log_error("client=%s store: %s", req->address, error);
		free(error);
		web_page_message(req, resp, 503, lang, WT_ERROR_TITLE, WT_ERROR_BODY, 0);
		return 0;
	}
	if (ret == 0) {
		om_log_info("client=%s form refused: csrf value used before",
			    req->address);
		web_page_message(req, resp, 403, lang, WT_CSRF_TITLE, WT_CSRF_BODY, 0);
		return 0;
	}
	return 1;
}
