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
 *
 * The file's keys sign nothing themselves: each signer (enum
 * om_link_signer) signs with keys of its own derived from them
 * (crypto_kdf), and a token is checked with the keys of the signer its
 * kind belongs to.  omamori-scand and omamori-filter, which parse hostile
 * mail, keep only their own keys after reading the file as root, so a
 * flaw in either cannot make a login's, an administrator's or a digest's
 * token (doc/security.md, "Keys").
 */
#ifndef OM_TOKEN_H
#define OM_TOKEN_H

#include <stddef.h>
#include <time.h>

#define OM_TOKEN_KEY_LEN 32
#define OM_TOKEN_FIELD_MAX 320

/* A key file's keys (also the ZIP and isolation keys' files). */
struct om_token_keys {
	unsigned char current[OM_TOKEN_KEY_LEN];
	unsigned char previous[OM_TOKEN_KEY_LEN];
	int has_previous;
};

/* Who makes a kind of token. */
enum om_link_signer {
	OM_LINK_SIGNER_WEB,	/* omamori-web, omamorictl: digests, logins, forms */
	OM_LINK_SIGNER_SCAN,	/* omamori-scand: the click-time gate, isolated files */
	OM_LINK_SIGNER_OUTBOUND,	/* omamori-filter and -submit: holds, portal, ZIP */
	OM_LINK_SIGNERS
};
#define OM_LINK_SIGNER_BIT(signer) (1u << (signer))
#define OM_LINK_SIGNERS_ALL ((1u << OM_LINK_SIGNERS) - 1)
/* Also keep the file's own keys, to check the tokens of omamori-scand's
   and the outbound daemons' kinds made before signers had keys of their
   own (links in mail already delivered; omamori-web alone).  Never for
   omamori-web's kinds: a login's or an administrator's token made with
   the file's key is refused. */
#define OM_LINK_LEGACY (1u << OM_LINK_SIGNERS)

/* The link keys of the signers a process may act for, derived from
   web_key_path's keys (current and, during a rotation, previous). */
struct om_link_keys {
	unsigned char current[OM_LINK_SIGNERS][OM_TOKEN_KEY_LEN];
	unsigned char previous[OM_LINK_SIGNERS][OM_TOKEN_KEY_LEN];
	int has_previous;
	unsigned int signers;	/* OM_LINK_SIGNER_BIT of each signer held,
				   OM_LINK_LEGACY: the file's keys too */
	struct om_token_keys legacy;
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

/* Reads the key file at path (as om_token_keys_load) and keeps only the
   keys of signers (OM_LINK_SIGNER_BITs) derived from it; the file's own
   keys are wiped (kept with OM_LINK_LEGACY).  0, or -1 with *error_r. */
int om_link_keys_load(const char *path, unsigned int signers,
		      struct om_link_keys *keys, char **error_r);
/* The same from a file's keys already read. */
void om_link_keys_derive(const struct om_token_keys *file, unsigned int signers,
			 struct om_link_keys *keys_r);
/* signer's keys in a key file's form, for what else that signer keys with
   them (the portal's code hashes, omamori-web's unlock tickets); 0, or -1
   when keys do not hold signer.  Wipe *keys_r after use. */
int om_link_keys_of(const struct om_link_keys *keys, enum om_link_signer signer,
		    struct om_token_keys *keys_r);
/* The signer whose tokens of action these are: "isolated" omamori-scand's;
   "hold", "holds", "portal", "portal-sender" and "zip-password" the
   outbound daemons'; every other action omamori-web's. */
enum om_link_signer om_link_signer_of(const char *action);

/* The token for claims (allocated), or NULL when a field is too long or
   holds a control character, or keys do not hold its action's signer. */
char *om_token_make(const struct om_link_keys *keys,
		    const struct om_token_claims *claims);
/* Checks token against the keys of its action's signer (current, then
   previous) and now; fills *claims_r when genuine (also when expired, so
   a page can say what expired).  A token whose signer keys do not hold
   is OM_TOKEN_BAD. */
enum om_token_result om_token_check(const struct om_link_keys *keys,
				    const char *token, time_t now,
				    struct om_token_claims *claims_r);

/* ---- links through the click-time gate (issue 15, doc/links.md) ----
   A token of its own kind: its signed text starts "U1", a claims token's
   "1", so neither is ever read as the other.  It carries the URL itself
   (the gate redirects to nothing else), the mailbox and the message.
   omamori-scand signs them (OM_LINK_SIGNER_SCAN). */
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
char *om_token_url_make(const struct om_link_keys *keys,
			const struct om_token_url *link);
/* Checks a link token like om_token_check; fills *link_r when genuine. */
enum om_token_result om_token_url_check(const struct om_link_keys *keys,
					const char *token, time_t now,
					struct om_token_url *link_r);

#endif
