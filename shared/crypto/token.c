/* token.c - signed, expiring link tokens and their key file (see token.h).
 *
 * The signed text is "1\n<expires>\n<action>\n<mailbox>\n<message>": a
 * version, then each claim on its own line, and claims may hold no control
 * character, so no two different claims sign the same bytes.  MACs are
 * compared by crypto_auth_verify (constant time).  A signer's key is
 * crypto_kdf_derive_from_key(file key, subkey id = signer + 1, context
 * "omamolnk"): one key file to keep and rotate, one key per signer.
 */
#include "crypto/token.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OM_TOKEN_VERSION "1"
#define OM_TOKEN_KEYFILE_MAX 1024
#define OM_TOKEN_TEXT_MAX (3 * OM_TOKEN_FIELD_MAX + 128)
#define OM_LINK_KDF_CONTEXT "omamolnk"	/* crypto_kdf_CONTEXTBYTES, no NUL */

static int om_token_sodium(char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = om_strdup("libsodium could not be initialised");
		return -1;
	}
	return 0;
}

/* ---- the key file ---- */

static void om_token_key_hex(const unsigned char *key, char hex[2 * OM_TOKEN_KEY_LEN + 1])
{
	sodium_bin2hex(hex, 2 * OM_TOKEN_KEY_LEN + 1, key, OM_TOKEN_KEY_LEN);
}

/* Writes the keys (current first) to a new file at path, mode 0600. */
static int om_token_keys_write(const char *path, const unsigned char *current,
			       const unsigned char *previous, char **error_r)
{
	char hex[2 * OM_TOKEN_KEY_LEN + 1], text[2 * sizeof(hex) + 4];
	size_t len;
	int fd;

	om_token_key_hex(current, hex);
	len = (size_t)snprintf(text, sizeof(text), "%s\n", hex);
	if (previous != NULL) {
		om_token_key_hex(previous, hex);
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\n", hex);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = om_asprintf("key file %s: %s", path, strerror(errno));
		sodium_memzero(text, sizeof(text));
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) < 0) {
		*error_r = om_asprintf("key file %s: %s", path, strerror(errno));
		sodium_memzero(text, sizeof(text));
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0) {
		*error_r = om_asprintf("key file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int om_token_keys_create(const char *path, char **error_r)
{
	unsigned char key[OM_TOKEN_KEY_LEN];
	int ret;

	if (om_token_sodium(error_r) < 0)
		return -1;
	crypto_auth_keygen(key);
	ret = om_token_keys_write(path, key, NULL, error_r);
	sodium_memzero(key, sizeof(key));
	return ret;
}

int om_token_keys_rotate(const char *path, char **error_r)
{
	struct om_token_keys keys;
	unsigned char fresh[OM_TOKEN_KEY_LEN];
	char *tmp;
	int ret;

	if (om_token_keys_load(path, &keys, error_r) < 0)
		return -1;
	crypto_auth_keygen(fresh);
	tmp = om_asprintf("%s.new", path);
	ret = om_token_keys_write(tmp, fresh, keys.current, error_r);
	if (ret == 0 && rename(tmp, path) < 0) {
		*error_r = om_asprintf("key file %s: rename: %s", path, strerror(errno));
		(void)unlink(tmp);
		ret = -1;
	}
	free(tmp);
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(fresh, sizeof(fresh));
	return ret;
}

/* One line of 64 hex digits into key.  0 or -1. */
static int om_token_parse_key(const char *line, size_t len, unsigned char *key)
{
	size_t bin_len = 0;

	if (len != 2 * OM_TOKEN_KEY_LEN)
		return -1;
	return sodium_hex2bin(key, OM_TOKEN_KEY_LEN, line, len, NULL, &bin_len,
			      NULL) == 0 && bin_len == OM_TOKEN_KEY_LEN ? 0 : -1;
}

static int om_token_parse_file(const char *path, char *text,
			       struct om_token_keys *keys, char **error_r)
{
	char *second = strchr(text, '\n'), *end;

	if (second == NULL ||
	    om_token_parse_key(text, (size_t)(second - text), keys->current) < 0) {
		*error_r = om_asprintf("key file %s: the first line is not a key "
				       "of 64 hex digits", path);
		return -1;
	}
	second++;
	if (*second == '\0')
		return 0;
	end = strchr(second, '\n');
	if (end == NULL || end[1] != '\0' ||
	    om_token_parse_key(second, (size_t)(end - second), keys->previous) < 0) {
		*error_r = om_asprintf("key file %s: the second line is not a key "
				       "of 64 hex digits (and nothing may follow it)", path);
		return -1;
	}
	keys->has_previous = 1;
	return 0;
}

int om_token_keys_load(const char *path, struct om_token_keys *keys,
		       char **error_r)
{
	char text[OM_TOKEN_KEYFILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, ret;

	memset(keys, 0, sizeof(*keys));
	if (om_token_sodium(error_r) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = om_asprintf("key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		*error_r = om_asprintf("key file %s: must be a regular file of mode "
				       "0600 (chmod 600 %s)", path, path);
		(void)close(fd);
		return -1;
	}
	n = read(fd, text, OM_TOKEN_KEYFILE_MAX);
	(void)close(fd);
	if (n < 0) {
		*error_r = om_asprintf("key file %s: %s", path, strerror(errno));
		return -1;
	}
	text[n] = '\0';
	ret = om_token_parse_file(path, text, keys, error_r);
	sodium_memzero(text, sizeof(text));
	if (ret < 0)
		sodium_memzero(keys, sizeof(*keys));
	return ret;
}

/* ---- the signers' keys ---- */

void om_link_keys_derive(const struct om_token_keys *file, unsigned int signers,
			 struct om_link_keys *keys_r)
{
	unsigned int i;

	memset(keys_r, 0, sizeof(*keys_r));
	keys_r->has_previous = file->has_previous;
	for (i = 0; i < OM_LINK_SIGNERS; i++) {
		if ((signers & OM_LINK_SIGNER_BIT(i)) == 0)
			continue;
		/* cannot fail: both keys are crypto_kdf_KEYBYTES long */
		(void)crypto_kdf_derive_from_key(keys_r->current[i], OM_TOKEN_KEY_LEN,
						 i + 1, OM_LINK_KDF_CONTEXT,
						 file->current);
		if (file->has_previous)
			(void)crypto_kdf_derive_from_key(keys_r->previous[i],
							 OM_TOKEN_KEY_LEN, i + 1,
							 OM_LINK_KDF_CONTEXT,
							 file->previous);
		keys_r->signers |= OM_LINK_SIGNER_BIT(i);
	}
	if ((signers & OM_LINK_LEGACY) != 0) {
		keys_r->legacy = *file;
		keys_r->signers |= OM_LINK_LEGACY;
	}
}

int om_link_keys_load(const char *path, unsigned int signers,
		      struct om_link_keys *keys, char **error_r)
{
	struct om_token_keys file;

	memset(keys, 0, sizeof(*keys));
	if (om_token_keys_load(path, &file, error_r) < 0)
		return -1;
	om_link_keys_derive(&file, signers, keys);
	sodium_memzero(&file, sizeof(file));
	return 0;
}

int om_link_keys_of(const struct om_link_keys *keys, enum om_link_signer signer,
		    struct om_token_keys *keys_r)
{
	memset(keys_r, 0, sizeof(*keys_r));
	if ((keys->signers & OM_LINK_SIGNER_BIT(signer)) == 0)
		return -1;
	memcpy(keys_r->current, keys->current[signer], OM_TOKEN_KEY_LEN);
	memcpy(keys_r->previous, keys->previous[signer], OM_TOKEN_KEY_LEN);
	keys_r->has_previous = keys->has_previous;
	return 0;
}

enum om_link_signer om_link_signer_of(const char *action)
{
	static const struct {
		const char *action;
		enum om_link_signer signer;
	} signers[] = {
		{ "isolated", OM_LINK_SIGNER_SCAN },	/* OM_VAULT_TOKEN_ACTION */
		{ "hold", OM_LINK_SIGNER_OUTBOUND },
		{ "holds", OM_LINK_SIGNER_OUTBOUND },
		{ "portal", OM_LINK_SIGNER_OUTBOUND },
		{ "portal-sender", OM_LINK_SIGNER_OUTBOUND },
		{ "zip-password", OM_LINK_SIGNER_OUTBOUND },	/* OM_ZIP_TOKEN_ACTION */
	};
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(signers); i++) {
		if (strcmp(action, signers[i].action) == 0)
			return signers[i].signer;
	}
	return OM_LINK_SIGNER_WEB;
}

/* ---- tokens ---- */

static int om_token_field_ok(const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	if (len == max)
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

/* The signed text of claims into buf; its length, or 0 if a claim is not
   fit to sign. */
static size_t om_token_text(const struct om_token_claims *c, char *buf, size_t size)
{
	int n;

	if (!om_token_field_ok(c->mailbox, sizeof(c->mailbox)) ||
	    !om_token_field_ok(c->action, sizeof(c->action)) ||
	    !om_token_field_ok(c->message, sizeof(c->message)) || c->expires <= 0)
		return 0;
	n = snprintf(buf, size, OM_TOKEN_VERSION "\n%lld\n%s\n%s\n%s",
		     (long long)c->expires, c->action, c->mailbox, c->message);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* "BASE64(text).BASE64(MAC)" of len bytes of text under signer's current
   key; NULL when len is 0 (the claims were not fit to sign), keys do not
   hold signer, or sodium fails. */
static char *om_token_sign(const struct om_link_keys *keys, enum om_link_signer signer,
			   const char *text, size_t len)
{
	const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	unsigned char mac[crypto_auth_BYTES];
	char b64mac[sodium_base64_ENCODED_LEN(crypto_auth_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	size_t b64len = sodium_base64_ENCODED_LEN(len, variant);
	char *b64text, *token;

	if (len == 0 || (keys->signers & OM_LINK_SIGNER_BIT(signer)) == 0 ||
	    sodium_init() < 0)
		return NULL;
	crypto_auth(mac, (const unsigned char *)text, len, keys->current[signer]);
	b64text = om_malloc(b64len);
	sodium_bin2base64(b64text, b64len, (const unsigned char *)text, len, variant);
	sodium_bin2base64(b64mac, sizeof(b64mac), mac, sizeof(mac), variant);
	token = om_asprintf("%s.%s", b64text, b64mac);
	free(b64text);
	return token;
}

char *om_token_make(const struct om_link_keys *keys,
		    const struct om_token_claims *claims)
{
	char text[OM_TOKEN_TEXT_MAX];

	return om_token_sign(keys, om_link_signer_of(claims->action), text,
			     om_token_text(claims, text, sizeof(text)));
}

/* Reads the signed text back into claims.  0, or -1 when it is not ours. */
static int om_token_parse_text(char *text, struct om_token_claims *c)
{
	char *fields[5], *p = text, *nl;
	long long expires;
	char *end;
	size_t i;

	for (i = 0; i < 5; i++) {
		fields[i] = p;
		nl = strchr(p, '\n');
		if (i < 4 && nl == NULL)
			return -1;
		if (i < 4) {
			*nl = '\0';
			p = nl + 1;
		} else if (nl != NULL) {
			return -1;
		}
	}
	if (strcmp(fields[0], OM_TOKEN_VERSION) != 0)
		return -1;
	errno = 0;
	expires = strtoll(fields[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == fields[1] || expires <= 0 ||
	    om_strlcpy(c->action, fields[2], sizeof(c->action)) < 0 ||
	    om_strlcpy(c->mailbox, fields[3], sizeof(c->mailbox)) < 0 ||
	    om_strlcpy(c->message, fields[4], sizeof(c->message)) < 0)
		return -1;
	c->expires = (time_t)expires;
	return 0;
}

/* A token's two halves, decoded: its signed text (NUL-terminated) and
   MAC, not yet checked. */
struct om_token_parts {
	char *text;
	size_t text_len;
	unsigned char mac[crypto_auth_BYTES];
};

/* Decodes token ("TEXT.MAC", both URL-safe base64) into parts (text:
   size bytes).  0, or -1 when it is malformed. */
static int om_token_decode(const char *token, char *text, size_t size,
			   struct om_token_parts *parts)
{
	const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
	const char *dot = strchr(token, '.'), *end = NULL;
	size_t mac_len = 0;

	parts->text = text;
	parts->text_len = 0;
	if (dot == NULL || sodium_init() < 0 ||
	    sodium_base642bin((unsigned char *)text, size - 1, token,
			      (size_t)(dot - token), NULL, &parts->text_len, &end,
			      variant) != 0 || end != dot ||
	    sodium_base642bin(parts->mac, sizeof(parts->mac), dot + 1, strlen(dot + 1),
			      NULL, &mac_len, &end, variant) != 0 ||
	    *end != '\0' || mac_len != sizeof(parts->mac))
		return -1;
	text[parts->text_len] = '\0';
	return strlen(text) == parts->text_len ? 0 : -1;
}

/* 1 when parts' MAC is made with current or (has_previous) previous. */
static int om_token_mac_ok(const struct om_token_parts *parts, const unsigned char *current,
			   const unsigned char *previous, int has_previous)
{
	const unsigned char *text = (const unsigned char *)parts->text;

	return crypto_auth_verify(parts->mac, text, parts->text_len, current) == 0 ||
		(has_previous &&
		 crypto_auth_verify(parts->mac, text, parts->text_len, previous) == 0);
}

/* 1 when parts' MAC is signer's; or, for a kind not omamori-web's, made
   with the file's keys before signers had their own (OM_LINK_LEGACY). */
static int om_token_genuine(const struct om_link_keys *keys, enum om_link_signer signer,
			    const struct om_token_parts *parts)
{
	if ((keys->signers & OM_LINK_SIGNER_BIT(signer)) != 0 &&
	    om_token_mac_ok(parts, keys->current[signer], keys->previous[signer],
			    keys->has_previous))
		return 1;
	return signer != OM_LINK_SIGNER_WEB && (keys->signers & OM_LINK_LEGACY) != 0 &&
		om_token_mac_ok(parts, keys->legacy.current, keys->legacy.previous,
				keys->legacy.has_previous);
}

enum om_token_result om_token_check(const struct om_link_keys *keys,
				    const char *token, time_t now,
				    struct om_token_claims *claims_r)
{
	char text[OM_TOKEN_TEXT_MAX], claimed[OM_TOKEN_TEXT_MAX];
	struct om_token_parts parts;

	/* the claims say whose key to check the MAC with: read from a copy
	   (parsing cuts the text), believed only once the MAC is right */
	memset(claims_r, 0, sizeof(*claims_r));
	if (om_token_decode(token, text, sizeof(text), &parts) < 0 ||
	    om_strlcpy(claimed, text, sizeof(claimed)) < 0 ||
	    om_token_parse_text(claimed, claims_r) < 0 ||
	    !om_token_genuine(keys, om_link_signer_of(claims_r->action), &parts)) {
		memset(claims_r, 0, sizeof(*claims_r));
		return OM_TOKEN_BAD;
	}
	return claims_r->expires > now ? OM_TOKEN_OK : OM_TOKEN_EXPIRED;
}

/* ---- link tokens ---- */

#define OM_TOKEN_URL_VERSION "U1"
#define OM_TOKEN_URL_TEXT_MAX (OM_TOKEN_FIELD_MAX + OM_TOKEN_URL_MESSAGE_MAX + \
			       OM_TOKEN_URL_MAX + 64)

static size_t om_token_url_text(const struct om_token_url *l, char *buf, size_t size)
{
	int n;

	if (!om_token_field_ok(l->mailbox, sizeof(l->mailbox)) ||
	    !om_token_field_ok(l->message, sizeof(l->message)) ||
	    !om_token_field_ok(l->url, sizeof(l->url)) || l->url[0] == '\0' ||
	    l->expires <= 0)
		return 0;
	n = snprintf(buf, size, OM_TOKEN_URL_VERSION "\n%lld\n%s\n%s\n%s",
		     (long long)l->expires, l->mailbox, l->message, l->url);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

char *om_token_url_make(const struct om_link_keys *keys,
			const struct om_token_url *link)
{
	char text[OM_TOKEN_URL_TEXT_MAX];

	return om_token_sign(keys, OM_LINK_SIGNER_SCAN, text,
			     om_token_url_text(link, text, sizeof(text)));
}

static int om_token_url_parse(char *text, struct om_token_url *l)
{
	char *fields[5], *p = text, *nl, *end;
	long long expires;
	size_t i;

	for (i = 0; i < 5; i++) {
		fields[i] = p;
		nl = i < 4 ? strchr(p, '\n') : NULL;
		if (i < 4 && nl == NULL)
			return -1;
		if (i < 4) {
			*nl = '\0';
			p = nl + 1;
		}
	}
	if (strcmp(fields[0], OM_TOKEN_URL_VERSION) != 0 || strchr(fields[4], '\n') != NULL)
		return -1;
	errno = 0;
	expires = strtoll(fields[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == fields[1] || expires <= 0 ||
	    om_strlcpy(l->mailbox, fields[2], sizeof(l->mailbox)) < 0 ||
	    om_strlcpy(l->message, fields[3], sizeof(l->message)) < 0 ||
	    om_strlcpy(l->url, fields[4], sizeof(l->url)) < 0 || l->url[0] == '\0')
		return -1;
	l->expires = (time_t)expires;
	return 0;
}

enum om_token_result om_token_url_check(const struct om_link_keys *keys,
					const char *token, time_t now,
					struct om_token_url *link_r)
{
	char text[OM_TOKEN_URL_TEXT_MAX];
	struct om_token_parts parts;

	memset(link_r, 0, sizeof(*link_r));
	if (om_token_decode(token, text, sizeof(text), &parts) < 0 ||
	    !om_token_genuine(keys, OM_LINK_SIGNER_SCAN, &parts) ||
	    om_token_url_parse(text, link_r) < 0) {
		memset(link_r, 0, sizeof(*link_r));
		return OM_TOKEN_BAD;
	}
	return link_r->expires > now ? OM_TOKEN_OK : OM_TOKEN_EXPIRED;
}
