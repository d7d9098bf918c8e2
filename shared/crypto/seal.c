/* seal.c - sealing a short secret at rest (see seal.h): XChaCha20-Poly1305
 * with the record's id as associated data, as hex text.
 */
#include "crypto/seal.h"
#include "lib/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define OM_SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define OM_SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define OM_SEAL_BIN_MAX (OM_SEAL_NONCE + OM_SEAL_SECRET_MAX + OM_SEAL_TAG)

char *om_seal(const struct om_token_keys *keys, const char *id,
	      const char *secret, char **error_r)
{
	unsigned char bin[OM_SEAL_BIN_MAX];
	unsigned long long clen = 0;
	size_t len = strlen(secret);
	char *hex;

	if (sodium_init() < 0) {
		*error_r = om_strdup("libsodium could not be initialised");
		return NULL;
	}
	if (len == 0 || len > OM_SEAL_SECRET_MAX) {
		*error_r = om_strdup("seal: the secret is empty or too long");
		return NULL;
	}
	randombytes_buf(bin, OM_SEAL_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    bin + OM_SEAL_NONCE, &clen, (const unsigned char *)secret, len,
		    (const unsigned char *)id, strlen(id), NULL, bin,
		    keys->current) != 0) {
		*error_r = om_strdup("seal: encryption failed");
		return NULL;
	}
	hex = om_malloc(2 * (OM_SEAL_NONCE + (size_t)clen) + 1);
	sodium_bin2hex(hex, 2 * (OM_SEAL_NONCE + (size_t)clen) + 1, bin,
		       OM_SEAL_NONCE + (size_t)clen);
	sodium_memzero(bin, sizeof(bin));
	return hex;
}

/* Opens bin (nonce, ciphertext, tag) with key into a new string, or NULL. */
static char *om_unseal_with(const unsigned char *key, const char *id,
			    const unsigned char *bin, size_t len)
{
	unsigned char plain[OM_SEAL_SECRET_MAX + 1];
	unsigned long long plen = 0;
	char *out;

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    plain, &plen, NULL, bin + OM_SEAL_NONCE, len - OM_SEAL_NONCE,
		    (const unsigned char *)id, strlen(id), bin, key) != 0)
		return NULL;
	plain[plen] = '\0';
	out = om_strndup((const char *)plain, (size_t)plen);
	sodium_memzero(plain, sizeof(plain));
	if (strlen(out) != (size_t)plen) {
		om_seal_forget(&out);	/* a NUL inside: not what we sealed */
		return NULL;
	}
	return out;
}

char *om_unseal(const struct om_token_keys *keys, const char *id,
		const char *sealed, char **error_r)
{
	unsigned char bin[OM_SEAL_BIN_MAX];
	size_t len = 0;
	char *out = NULL;

	if (sodium_init() < 0) {
		*error_r = om_strdup("libsodium could not be initialised");
		return NULL;
	}
	if (strlen(sealed) > 2 * sizeof(bin) ||
	    sodium_hex2bin(bin, sizeof(bin), sealed, strlen(sealed), NULL, &len,
			   NULL) != 0 || len < OM_SEAL_NONCE + OM_SEAL_TAG + 1) {
		*error_r = om_strdup("unseal: not a sealed value");
		return NULL;
	}
	out = om_unseal_with(keys->current, id, bin, len);
	if (out == NULL && keys->has_previous)
		out = om_unseal_with(keys->previous, id, bin, len);
	sodium_memzero(bin, sizeof(bin));
	if (out == NULL)
		*error_r = om_strdup("unseal: the key or the id does not open it");
	return out;
}

void om_seal_forget(char **secret)
{
	if (*secret == NULL)
		return;
	sodium_memzero(*secret, strlen(*secret));
	free(*secret);
	*secret = NULL;
}
