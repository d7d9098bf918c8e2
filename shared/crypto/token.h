/* token.h - signed, expiring tokens for the links omamori-web serves
 * (issue 13: digests, release pages, the user's own page).
 *
 * A token says what it may be used for - the mailbox, the action, the
 * message, until when - and carries a MAC (libsodium crypto_auth,
 * HMAC-SHA-512-256) over exactly that, so a link cannot be changed to act
 * on another mailbox or message, nor outlive its expiry.  The keys live in
 * one file (mode 0600, never group or world readable): the current key,
 * and during a rotation the previous one, which still verifies but never
 * signs.  Text form: base64url(claims) "." base64url(mac), no padding, safe
 * in a URL path or query without escaping.
 */
#ifndef OM_TOKEN_H
#define OM_TOKEN_H

#include <stddef.h>
#include <time.h>

#define OM_TOKEN_KEY_LEN 32
#define OM_TOKEN_FIELD_MAX 320

struct om_token_keys {
	unsigned char current[OM_TOKEN_KEY_LEN];
	unsigned char previous[OM_TOKEN_KEY_LEN];
	int has_previous;
};

/* What a token allows.  Fields are text without control characters. */
struct om_token_claims {
	char mailbox[OM_TOKEN_FIELD_MAX];
	char action[64];		/* "show", "release", "allow", ... */
	char message[OM_TOKEN_FIELD_MAX];	/* "" when none */
	time_t expires;
};

enum om_token_result {
	OM_TOKEN_OK = 0,
	OM_TOKEN_BAD,		/* malformed, or not made with our keys */
	OM_TOKEN_EXPIRED	/* genuine, but past its expiry */
};

/* Makes a new key file at path (mode 0600, refused if it exists) with one
   random key.  0, or -1 with *error_r. */
int om_token_keys_create(const char *path, char **error_r);
/* Puts a new current key in the file, the old current one becoming the
   previous (verifying only); the file is replaced atomically.  0 or -1. */
int om_token_keys_rotate(const char *path, char **error_r);
/* Reads the key file: one or two lines of 64 hex digits.  A file group or
   world readable or writable is refused.  0, or -1 with *error_r. */
int om_token_keys_load(const char *path, struct om_token_keys *keys,
		       char **error_r);

/* The token for claims (allocated), or NULL when a field is too long or
   holds a control character. */
char *om_token_make(const struct om_token_keys *keys,
		    const struct om_token_claims *claims);
/* Checks token against the keys (current, then previous) and now; fills
   *claims_r when genuine (also when expired, so a page can say what
   expired). */
enum om_token_result om_token_check(const struct om_token_keys *keys,
				    const char *token, time_t now,
				    struct om_token_claims *claims_r);

/* ---- links through the click-time gate (issue 15, doc/links.md) ----
   A token of its own kind: its signed text starts "U1", a claims token's
   "1", so neither is ever read as the other.  It carries the URL itself
   (the gate redirects to nothing else), the mailbox and the message. */
#define OM_TOKEN_URL_MAX 2048
#define OM_TOKEN_URL_MESSAGE_MAX 128

struct om_token_url {
	char mailbox[OM_TOKEN_FIELD_MAX];
	char message[OM_TOKEN_URL_MESSAGE_MAX + 1];	/* Message-ID, or "" */
	char url[OM_TOKEN_URL_MAX + 1];
	time_t expires;
};

/* The token for link (allocated), or NULL when a field is too long or
   holds a control character. */
char *om_token_url_make(const struct om_token_keys *keys,
			const struct om_token_url *link);
/* Checks a link token like om_token_check; fills *link_r when genuine. */
enum om_token_result om_token_url_check(const struct om_token_keys *keys,
					const char *token, time_t now,
					struct om_token_url *link_r);

#endif
