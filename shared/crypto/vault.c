/* vault.c - isolated attachments encrypted at rest (see vault.h).
 *
 * File format: "OMV1", the secretstream header, then chunks, each a
 * 4-byte big-endian length and that many bytes of ciphertext (at most
 * OM_VAULT_CHUNK plain bytes each); the last chunk is tagged final.
 */
#include "crypto/vault.h"

#include <sodium.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OM_VAULT_MAGIC "OMV1"
#define OM_VAULT_CHUNK (64u * 1024)
#define OM_VAULT_KEY crypto_secretstream_xchacha20poly1305_KEYBYTES
#define OM_VAULT_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define OM_VAULT_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define OM_VAULT_PLAIN_MAX (OM_VAULT_KEY + OM_VAULT_ID_MAX)
#define OM_VAULT_SEALED_MAX (OM_VAULT_PLAIN_MAX + crypto_box_SEALBYTES)

static int om_vault_fail(char **error_r, const char *what)
{
	*error_r = om_strdup(what);
	return -1;
}

int om_vault_new_id(char id_r[OM_VAULT_NEW_ID_LEN + 1])
{
	unsigned char bin[OM_VAULT_NEW_ID_LEN / 2];

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(bin, sizeof(bin));
	sodium_bin2hex(id_r, OM_VAULT_NEW_ID_LEN + 1, bin, sizeof(bin));
	return 0;
}

int om_vault_derived_id(const char *id, const char *purpose,
			char id_r[OM_VAULT_NEW_ID_LEN + 1])
{
	unsigned char bin[OM_VAULT_NEW_ID_LEN / 2];
	crypto_generichash_state st;

	if (sodium_init() < 0 ||
	    crypto_generichash_init(&st, NULL, 0, sizeof(bin)) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)purpose,
				      strlen(purpose) + 1) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)id, strlen(id)) != 0 ||
	    crypto_generichash_final(&st, bin, sizeof(bin)) != 0)
		return -1;
	sodium_bin2hex(id_r, OM_VAULT_NEW_ID_LEN + 1, bin, sizeof(bin));
	return 0;
}

int om_vault_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return i == OM_VAULT_NEW_ID_LEN;
}

int om_vault_public_key(const struct om_token_keys *keys,
			unsigned char pk_r[OM_VAULT_PUBLIC_LEN])
{
	if (sodium_init() < 0)
		return -1;
	return crypto_scalarmult_base(pk_r, keys->current) == 0 ? 0 : -1;
}

/* key || id sealed to pk, as hex. */
static char *om_vault_seal_key(const unsigned char pk[OM_VAULT_PUBLIC_LEN],
			       const char *id, const unsigned char *key)
{
	unsigned char plain[OM_VAULT_PLAIN_MAX], sealed[OM_VAULT_SEALED_MAX];
	size_t idlen = strlen(id), plen = OM_VAULT_KEY + idlen;
	char *hex;

	memcpy(plain, key, OM_VAULT_KEY);
	memcpy(plain + OM_VAULT_KEY, id, idlen);
	if (crypto_box_seal(sealed, plain, plen, pk) != 0) {
		sodium_memzero(plain, sizeof(plain));
		return NULL;
	}
	sodium_memzero(plain, sizeof(plain));
	hex = om_malloc(2 * (plen + crypto_box_SEALBYTES) + 1);
	sodium_bin2hex(hex, 2 * (plen + crypto_box_SEALBYTES) + 1, sealed,
		       plen + crypto_box_SEALBYTES);
	return hex;
}

static int om_vault_put_chunk(int fd, crypto_secretstream_xchacha20poly1305_state *st,
			      const char *id, const unsigned char *p, size_t n,
			      unsigned char tag, unsigned char *cipher)
{
	unsigned long long clen = 0;
	unsigned char len4[4];

	if (crypto_secretstream_xchacha20poly1305_push(st, cipher, &clen, p, n,
						       (const unsigned char *)id,
						       strlen(id), tag) != 0)
		return -1;
	len4[0] = (unsigned char)(clen >> 24);
	len4[1] = (unsigned char)(clen >> 16);
	len4[2] = (unsigned char)(clen >> 8);
	len4[3] = (unsigned char)clen;
	if (om_write_all(fd, len4, 4) < 0 || om_write_all(fd, cipher, (size_t)clen) < 0)
		return -1;
	return 0;
}

int om_vault_write(int fd, const unsigned char pk[OM_VAULT_PUBLIC_LEN],
		   const char *id, const void *data, size_t len,
		   char **sealed_r, char **error_r)
{
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char key[OM_VAULT_KEY], header[OM_VAULT_HEADER];
	const unsigned char *p = data;
	unsigned char *cipher;
	size_t off = 0, n;
	int ret = 0;

	*sealed_r = NULL;
	if (sodium_init() < 0)
		return om_vault_fail(error_r, "libsodium could not be initialised");
	if (strlen(id) == 0 || strlen(id) > OM_VAULT_ID_MAX)
		return om_vault_fail(error_r, "vault: bad id");
	crypto_secretstream_xchacha20poly1305_keygen(key);
	if (crypto_secretstream_xchacha20poly1305_init_push(&st, header, key) != 0 ||
	    om_write_all(fd, OM_VAULT_MAGIC, 4) < 0 ||
	    om_write_all(fd, header, sizeof(header)) < 0) {
		sodium_memzero(key, sizeof(key));
		return om_vault_fail(error_r, "vault: the file could not be written");
	}
	cipher = om_malloc(OM_VAULT_CHUNK + OM_VAULT_ABYTES);
	do {
		n = len - off > OM_VAULT_CHUNK ? OM_VAULT_CHUNK : len - off;
		if (om_vault_put_chunk(fd, &st, id, p + off, n, off + n == len ?
				       crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0,
				       cipher) < 0) {
			ret = -1;
			break;
		}
		off += n;
	} while (off < len);
	free(cipher);
	sodium_memzero(&st, sizeof(st));
	if (ret == 0 && fsync(fd) < 0)
		ret = -1;
	if (ret == 0)
		*sealed_r = om_vault_seal_key(pk, id, key);
	sodium_memzero(key, sizeof(key));
	if (ret < 0 || *sealed_r == NULL)
		return om_vault_fail(error_r, "vault: the file could not be written");
	return 0;
}

/* Opens sealed with the secret key sk; the file key into key_r when the id
   inside is id.  0 or -1. */
static int om_vault_open_with(const unsigned char *sk, const char *id,
			      const unsigned char *sealed, size_t slen,
			      unsigned char *key_r)
{
	unsigned char pk[OM_VAULT_PUBLIC_LEN], plain[OM_VAULT_PLAIN_MAX];
	size_t plen;
	int ok;

	if (slen < crypto_box_SEALBYTES + OM_VAULT_KEY || slen > OM_VAULT_SEALED_MAX ||
	    crypto_scalarmult_base(pk, sk) != 0)
		return -1;
	plen = slen - crypto_box_SEALBYTES;
	if (crypto_box_seal_open(plain, sealed, slen, pk, sk) != 0)
		return -1;
	ok = plen - OM_VAULT_KEY == strlen(id) &&
		memcmp(plain + OM_VAULT_KEY, id, plen - OM_VAULT_KEY) == 0;
	if (ok)
		memcpy(key_r, plain, OM_VAULT_KEY);
	sodium_memzero(plain, sizeof(plain));
	return ok ? 0 : -1;
}

static int om_vault_open_key(const struct om_token_keys *keys, const char *id,
			     const char *sealed_hex, unsigned char *key_r)
{
	unsigned char sealed[OM_VAULT_SEALED_MAX];
	size_t slen = 0;

	if (strlen(sealed_hex) > 2 * sizeof(sealed) ||
	    sodium_hex2bin(sealed, sizeof(sealed), sealed_hex, strlen(sealed_hex),
			   NULL, &slen, NULL) != 0)
		return -1;
	if (om_vault_open_with(keys->current, id, sealed, slen, key_r) == 0)
		return 0;
	return keys->has_previous ?
		om_vault_open_with(keys->previous, id, sealed, slen, key_r) : -1;
}

/* Reads exactly n bytes; 1 read, 0 end of file before any byte, -1 error
   or a short read. */
static int om_vault_read_exact(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

/* The chunks after the header; 0 when the final chunk ended the file. */
static int om_vault_pull(int fd, crypto_secretstream_xchacha20poly1305_state *st,
			 const char *id, size_t max_size, struct om_buf *out)
{
	unsigned char len4[4], tag = 0, *cipher, *plain;
	unsigned long long plen;
	size_t clen;
	int ret = -1, r;

	cipher = om_malloc(OM_VAULT_CHUNK + OM_VAULT_ABYTES);
	plain = om_malloc(OM_VAULT_CHUNK);
	for (;;) {
		r = om_vault_read_exact(fd, len4, 4);
		if (r <= 0)
			break;		/* the end before the final chunk: cut */
		clen = ((size_t)len4[0] << 24) | ((size_t)len4[1] << 16) |
			((size_t)len4[2] << 8) | len4[3];
		if (clen < OM_VAULT_ABYTES || clen > OM_VAULT_CHUNK + OM_VAULT_ABYTES ||
		    om_vault_read_exact(fd, cipher, clen) != 1 ||
		    crypto_secretstream_xchacha20poly1305_pull(
			    st, plain, &plen, &tag, cipher, clen,
			    (const unsigned char *)id, strlen(id)) != 0 ||
		    out->len + (size_t)plen > max_size)
			break;
		om_buf_append(out, plain, (size_t)plen);
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
			/* nothing may follow the final chunk */
			ret = om_vault_read_exact(fd, len4, 1) == 0 ? 0 : -1;
			break;
		}
	}
	sodium_memzero(plain, OM_VAULT_CHUNK);
	free(plain);
	free(cipher);
	return ret;
}

int om_vault_read(int fd, const struct om_token_keys *keys, const char *id,
		  const char *sealed, size_t max_size, struct om_buf *out,
		  char **error_r)
{
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char key[OM_VAULT_KEY], head[4 + OM_VAULT_HEADER];
	int ret;

	om_buf_reset(out);
	if (sodium_init() < 0)
		return om_vault_fail(error_r, "libsodium could not be initialised");
	if (om_vault_open_key(keys, id, sealed, key) < 0)
		return om_vault_fail(error_r, "vault: the key does not open this file's seal");
	if (om_vault_read_exact(fd, head, sizeof(head)) != 1 ||
	    memcmp(head, OM_VAULT_MAGIC, 4) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&st, head + 4, key) != 0) {
		sodium_memzero(key, sizeof(key));
		return om_vault_fail(error_r, "vault: not an isolated file");
	}
	sodium_memzero(key, sizeof(key));
	ret = om_vault_pull(fd, &st, id, max_size, out);
	sodium_memzero(&st, sizeof(st));
	if (ret < 0) {
		if (out->data != NULL)
			sodium_memzero(out->data, out->len);
		om_buf_reset(out);
		return om_vault_fail(error_r, "vault: the file is changed, cut or too large");
	}
	return 0;
}

int om_vault_code_key(const struct om_link_keys *keys,
		      unsigned char key_r[OM_VAULT_CODE_KEY_LEN])
{
	static const char label[] = "omamori-portal-code-key";
	const enum om_link_signer signer = OM_LINK_SIGNER_OUTBOUND;

	if ((keys->signers & OM_LINK_SIGNER_BIT(signer)) == 0)
		return -1;
	/* a key of its own (BLAKE2b keyed with the link key over a label):
	   a code hash never helps forge a link, nor the other way */
	crypto_generichash(key_r, OM_VAULT_CODE_KEY_LEN, (const unsigned char *)label,
			   sizeof(label) - 1, keys->current[signer], OM_TOKEN_KEY_LEN);
	return 0;
}

void om_vault_code_hash(const unsigned char key[OM_VAULT_CODE_KEY_LEN],
			const char *id, const char *recipient, const char *code,
			char hex_r[OM_VAULT_CODE_HASH_LEN + 1])
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, key, OM_VAULT_CODE_KEY_LEN, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"omamori-portal-code\n", 20);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id) + 1);
	crypto_generichash_update(&st, (const unsigned char *)recipient, strlen(recipient) + 1);
	crypto_generichash_update(&st, (const unsigned char *)code, strlen(code));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex_r, OM_VAULT_CODE_HASH_LEN + 1, h, sizeof(h));
}

void om_vault_code_new(char code_r[7])
{
	snprintf(code_r, 7, "%06u", (unsigned int)randombytes_uniform(1000000));
}
