/* fuzz-web.c - libFuzzer target over what omamori-web reads from the
 * network before anything else: the urlencoded form parser, the
 * Accept-Language and X-Forwarded-For pickers, the token text check and
 * the token parser itself (om_token_check with a fixed key, also on a
 * genuine token with bytes of the input spliced in).  Built with clang
 * when it is installed; run for a short time by `make check`
 * (tests/fuzz/run-fuzz.sh). */
#include "web-parse.h"
#include "crypto/token.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct om_token_keys file;
	struct om_link_keys keys;
	struct om_token_claims claims;
	struct web_form form;
	const char *error;
	char *text = om_malloc(size + 1), *genuine, *spliced, buf[64];
	size_t i;

	memcpy(text, data, size);
	text[size] = '\0';
	/* a copy without its NUL: the parser must read len bytes only */
	if (web_form_parse((const char *)data, size, &form, &error) == 0) {
		for (i = 0; i < form.count; i++)
			if (strlen(form.fields[i].value) > WEB_FORM_MAX_VALUE)
				abort();
		web_form_free(&form);
	}
	(void)web_parse_language(text, "ja");
	(void)web_parse_client("127.0.0.1", "127.0.0.1 ::1", text, buf, sizeof(buf));
	(void)web_parse_client("unix", "unix", text, buf, sizeof(buf));
	(void)web_parse_post_origin(text, NULL, "h", "https://h/");
	(void)web_parse_post_origin(NULL, text, text, "https://h/");
	(void)web_parse_rate_key(text, buf, sizeof(buf));
	(void)web_parse_token_ok(text);

	memset(&file, 0x5a, sizeof(file));
	file.has_previous = 1;
	om_link_keys_derive(&file, OM_LINK_SIGNERS_ALL, &keys);
	if (om_token_check(&keys, text, 1800000000, &claims) == OM_TOKEN_OK)
		abort();	/* nobody forges a MAC by chance */
	memset(&claims, 0, sizeof(claims));
	strcpy(claims.mailbox, "taro@example.jp");
	strcpy(claims.action, "mail");
	strcpy(claims.message, "0123456789abcdef0123456789abcdef");
	claims.expires = 1900000000;
	genuine = om_token_make(&keys, &claims);
	if (genuine == NULL)
		abort();
	spliced = om_asprintf("%.*s%s", (int)(strlen(genuine) / 2), genuine, text);
	(void)om_token_check(&keys, spliced, 1800000000, &claims);
	free(spliced);
	free(genuine);
	free(text);
	return 0;
}
