/* seal.h - a short secret kept at rest, sealed: outbound-zip's archive
 * passwords, kept zip-password-days in the store for the sender's "send
 * the password to the recipients" button (doc/outbound.md).
 *
 * The store is read by every Dovecot delivery process (mail_access_groups
 * = omamori), by scand and by omamori-web; a password in a plain column
 * would be theirs.  Sealed with XChaCha20-Poly1305 (libsodium's
 * crypto_aead_xchacha20poly1305_ietf) under a key only root can read
 * (zip_key_path, read by omamori-filter before it drops privileges; the
 * same file format as the web key, token.h), with the row's id as
 * associated data so a sealed value means nothing under another id.  The
 * text form is hex: nonce, ciphertext, tag.
 */
#ifndef OM_SEAL_H
#define OM_SEAL_H

#include <stddef.h>

#include "crypto/token.h"

#define OM_SEAL_SECRET_MAX 256

/* secret (at most OM_SEAL_SECRET_MAX bytes) sealed for id under keys'
   current key: hex text (allocated), or NULL with *error_r. */
char *om_seal(const struct om_token_keys *keys, const char *id,
	      const char *secret, char **error_r);
/* The secret sealed for id (allocated; wipe it with om_seal_forget),
   opened with the current key, then the previous one; NULL with *error_r
   when neither opens it (another key, another id, changed bytes). */
char *om_unseal(const struct om_token_keys *keys, const char *id,
		const char *sealed, char **error_r);
/* Wipes and frees *secret, and sets it to NULL. */
void om_seal_forget(char **secret);

#endif
