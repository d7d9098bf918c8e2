/* vault.h - isolated attachments encrypted at rest (issue 16,
 * doc/attachments.md "Isolation").
 *
 * Each file gets its own random key and is written with libsodium's
 * secretstream (XChaCha20-Poly1305, chunks of 64 KiB, the last one tagged
 * final, the file's id as associated data of every chunk): a changed,
 * swapped or cut file does not open.  The file key is sealed with
 * crypto_box_seal to the site's isolation key, an X25519 key pair whose
 * secret half is isolate_key_path (the web key's file format, token.h):
 * omamori-scand reads that file as root, keeps only the public half and
 * forgets the secret, so the process that parses hostile mail can write
 * isolated files but never read one back; omamori-web, which shows and
 * serves them, keeps the secret half.  The sealed key (with the id inside,
 * checked on opening) is hex text in the store row.
 */
#ifndef OM_VAULT_H
#define OM_VAULT_H

#include <stddef.h>

#include "crypto/token.h"
#include "lib/util.h"

#define OM_VAULT_PUBLIC_LEN 32
/* the action of the page's link tokens (token.h): /f/<token> */
#define OM_VAULT_TOKEN_ACTION "isolated"
#define OM_VAULT_ID_MAX 64

#define OM_VAULT_NEW_ID_LEN 32

/* A new random id: OM_VAULT_NEW_ID_LEN hex digits and a NUL into id_r.
   0, or -1 (libsodium failed). */
int om_vault_new_id(char id_r[OM_VAULT_NEW_ID_LEN + 1]);
/* The id of a file made from the file of id for purpose ("unmacro": its
   macro-free copy): BLAKE2b of both, OM_VAULT_NEW_ID_LEN hex digits, so
   the page finds the copy from the original's id without a column that
   names it.  0, or -1 (libsodium failed). */
int om_vault_derived_id(const char *id, const char *purpose,
			char id_r[OM_VAULT_NEW_ID_LEN + 1]);
/* 1 if id is such an id (what a file of isolate_dir may be called). */
int om_vault_id_valid(const char *id);

/* The public half of keys' current key.  0, or -1 (libsodium failed). */
int om_vault_public_key(const struct om_token_keys *keys,
			unsigned char pk_r[OM_VAULT_PUBLIC_LEN]);

/* Writes data (len bytes) encrypted under a new random key to fd, which
   must be empty; *sealed_r (allocated hex) is the key sealed to pk for
   id (at most OM_VAULT_ID_MAX bytes).  0, or -1 with *error_r. */
int om_vault_write(int fd, const unsigned char pk[OM_VAULT_PUBLIC_LEN],
		   const char *id, const void *data, size_t len,
		   char **sealed_r, char **error_r);

/* Reads the file of id from fd (at most max_size plain bytes) into out,
   its key opened from sealed with keys (current, then previous).  A file
   that is changed, cut, another id's, or a key that does not open: -1
   with *error_r, out emptied.  0 on success. */
int om_vault_read(int fd, const struct om_token_keys *keys, const char *id,
		  const char *sealed, size_t max_size, struct om_buf *out,
		  char **error_r);

/* The portal's one-time codes (doc/portal.md): the store keeps this
   keyed hash (BLAKE2b-256 keyed with a key derived from omamori-web's
   link key - a file, not the store - over id, recipient and code: 64 hex
   digits and a NUL into hex_r), never the code, so that someone holding
   the database alone cannot try the million codes offline. */
#define OM_VAULT_CODE_HASH_LEN 64
#define OM_VAULT_CODE_KEY_LEN 32
/* A new random 6-digit code and its NUL into code_r. */
void om_vault_code_new(char code_r[7]);
/* The code key from the outbound daemons' current link key (web_key_path:
   omamori-filter makes the codes, omamori-web checks them).  0, or -1
   when keys do not hold that signer's. */
int om_vault_code_key(const struct om_link_keys *keys,
		      unsigned char key_r[OM_VAULT_CODE_KEY_LEN]);
void om_vault_code_hash(const unsigned char key[OM_VAULT_CODE_KEY_LEN],
			const char *id, const char *recipient, const char *code,
			char hex_r[OM_VAULT_CODE_HASH_LEN + 1]);

#endif
