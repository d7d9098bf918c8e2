/* test-token.c - signed link tokens and their key file (crypto/token.c):
 * what a link may do cannot be changed, outlive its expiry, or be made
 * without the site's key; a rotated-out key still verifies.  And the
 * seal of a kept secret (crypto/seal.c): opens under its key and id only. */
#include "tap.h"
#include "crypto/seal.h"
#include "crypto/token.h"
#include "crypto/vault.h"
#include "lib/util.h"

#include <fcntl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void claims_of(struct om_token_claims *c, const char *mailbox,
		      const char *action, const char *message, time_t expires)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", mailbox);
	snprintf(c->action, sizeof(c->action), "%s", action);
	snprintf(c->message, sizeof(c->message), "%s", message);
	c->expires = expires;
}

static void test_tokens(const struct om_link_keys *keys,
			const struct om_link_keys *other)
{
	struct om_token_claims c, got;
	char *token, *forged, *dot;
	time_t now = 1800000000;

	claims_of(&c, "taro@example.jp", "release", "Quarantine/1234", now + 3600);
	token = om_token_make(keys, &c);
	TAP_OK(token != NULL && strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_.") == strlen(token),
	       "a token is URL-safe text");
	TAP_OK(om_token_check(keys, token, now, &got) == OM_TOKEN_OK &&
	       strcmp(got.mailbox, "taro@example.jp") == 0 &&
	       strcmp(got.action, "release") == 0 &&
	       strcmp(got.message, "Quarantine/1234") == 0 && got.expires == now + 3600,
	       "a fresh token gives back its claims");
	TAP_OK(om_token_check(keys, token, now + 3600, &got) == OM_TOKEN_EXPIRED &&
	       strcmp(got.mailbox, "taro@example.jp") == 0, "at its expiry: expired, claims known");
	TAP_OK(om_token_check(other, token, now, &got) == OM_TOKEN_BAD && got.mailbox[0] == '\0',
	       "another site's key: bad, no claims");

	/* the same MAC on claims for another mailbox */
	claims_of(&c, "hanako@example.jp", "release", "Quarantine/1234", now + 3600);
	forged = om_token_make(other, &c);
	dot = strchr(token, '.');
	memcpy(strchr(forged, '.') + 1, dot + 1, strlen(dot + 1));
	TAP_OK(om_token_check(keys, forged, now, &got) == OM_TOKEN_BAD,
	       "claims changed under the same MAC: bad");
	free(forged);
	forged = om_strdup(token);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
	TAP_OK(om_token_check(keys, forged, now, &got) == OM_TOKEN_BAD, "a changed MAC: bad");
	free(forged);
	forged = om_asprintf("%s.x", token);
	TAP_OK(om_token_check(keys, forged, now, &got) == OM_TOKEN_BAD &&
	       om_token_check(keys, "", now, &got) == OM_TOKEN_BAD &&
	       om_token_check(keys, "abc", now, &got) == OM_TOKEN_BAD &&
	       om_token_check(keys, ".", now, &got) == OM_TOKEN_BAD, "malformed: bad");
	free(forged);
	free(token);

	claims_of(&c, "taro@example.jp\nrelease", "show", "", now + 60);
	TAP_OK(om_token_make(keys, &c) == NULL, "a claim with a line end is not signed");
	claims_of(&c, "taro@example.jp", "show", "", 0);
	TAP_OK(om_token_make(keys, &c) == NULL, "a token without expiry is not made");
}

static void test_key_file(void)
{
	char dir[] = "/tmp/om-test-token-XXXXXX", *path, *error = NULL;
	struct om_token_keys keys, rotated;
	struct om_link_keys link, link_rotated;
	struct om_token_claims c, got;
	struct stat st;
	char *token;

	if (mkdtemp(dir) == NULL)
		abort();
	path = om_asprintf("%s/web.key", dir);
	TAP_OK(om_token_keys_create(path, &error) == 0 && stat(path, &st) == 0 &&
	       (st.st_mode & 0777) == 0600, "key file made with mode 0600");
	om_free(&error);
	TAP_OK(om_token_keys_create(path, &error) < 0 && error != NULL,
	       "an existing key file is never overwritten");
	om_free(&error);
	TAP_OK(om_token_keys_load(path, &keys, &error) == 0 && !keys.has_previous,
	       "loaded: one key");
	claims_of(&c, "taro@example.jp", "show", "", 1800000000 + 60);
	TAP_OK(om_link_keys_load(path, OM_LINK_SIGNERS_ALL, &link, &error) == 0 &&
	       link.signers == OM_LINK_SIGNERS_ALL &&
	       memcmp(link.current[OM_LINK_SIGNER_WEB], keys.current, OM_TOKEN_KEY_LEN) != 0 &&
	       memcmp(link.current[OM_LINK_SIGNER_WEB], link.current[OM_LINK_SIGNER_SCAN],
		      OM_TOKEN_KEY_LEN) != 0,
	       "link keys: derived, one per signer, none the file's own");
	token = om_token_make(&link, &c);
	TAP_OK(om_token_keys_rotate(path, &error) == 0 &&
	       om_token_keys_load(path, &rotated, &error) == 0 && rotated.has_previous &&
	       memcmp(rotated.previous, keys.current, OM_TOKEN_KEY_LEN) == 0,
	       "rotation: a new current key, the old one kept as previous");
	TAP_OK(om_link_keys_load(path, OM_LINK_SIGNERS_ALL, &link_rotated, &error) == 0 &&
	       om_token_check(&link_rotated, token, 1800000000, &got) == OM_TOKEN_OK,
	       "a link signed before the rotation still works");
	free(token);
	token = om_token_make(&link_rotated, &c);
	TAP_OK(om_token_check(&link, token, 1800000000, &got) == OM_TOKEN_BAD,
	       "new links are signed with the new key");
	free(token);
	chmod(path, 0644);
	TAP_OK(om_token_keys_load(path, &keys, &error) < 0 && strstr(error, "0600") != NULL,
	       "a key file others can read is refused (%s)", error ? error : "?");
	om_free(&error);
	unlink(path);
	free(path);
	rmdir(dir);
}

/* The isolation page's unlock ticket seals a password of up to 200 bytes
   (web-isolate.c); the limit is OM_SEAL_SECRET_MAX, one more is refused. */
static void test_seal_lengths(const struct om_token_keys *keys)
{
	char secret[OM_SEAL_SECRET_MAX + 2], *error = NULL, *sealed, *open;

	memset(secret, 'p', sizeof(secret) - 1);
	secret[OM_SEAL_SECRET_MAX] = '\0';
	sealed = om_seal(keys, "unlock-ticket\nid\nalice@example.test\n1", secret, &error);
	open = sealed == NULL ? NULL :
		om_unseal(keys, "unlock-ticket\nid\nalice@example.test\n1", sealed, &error);
	TAP_OK(open != NULL && strcmp(open, secret) == 0,
	       "seal: a secret of OM_SEAL_SECRET_MAX bytes opens whole");
	om_seal_forget(&open);
	free(sealed);
	om_free(&error);
	secret[OM_SEAL_SECRET_MAX] = 'p';
	secret[OM_SEAL_SECRET_MAX + 1] = '\0';
	TAP_OK(om_seal(keys, "x", secret, &error) == NULL && error != NULL,
	       "seal: one byte more is refused");
	om_free(&error);
}

static void test_seal(const struct om_token_keys *keys,
		      const struct om_token_keys *other)
{
	struct om_token_keys rotated = *other;
	char *error = NULL, *sealed, *again, *open;

	sealed = om_seal(keys, "Q1-abc", "ACDEFGHJKLMNPQRT", &error);
	again = om_seal(keys, "Q1-abc", "ACDEFGHJKLMNPQRT", &error);
	TAP_OK(sealed != NULL && again != NULL && strcmp(sealed, again) != 0 &&
	       strstr(sealed, "ACDEF") == NULL, "seal: hex, a fresh nonce each time");
	open = om_unseal(keys, "Q1-abc", sealed, &error);
	TAP_OK(open != NULL && strcmp(open, "ACDEFGHJKLMNPQRT") == 0, "seal: opens");
	om_seal_forget(&open);
	TAP_OK(open == NULL, "seal: forget clears the pointer");
	TAP_OK(om_unseal(keys, "Q2-abc", sealed, &error) == NULL, "seal: not under another id");
	om_free(&error);
	TAP_OK(om_unseal(other, "Q1-abc", sealed, &error) == NULL, "seal: not under another key");
	om_free(&error);
	memcpy(rotated.previous, keys->current, sizeof(rotated.previous));
	rotated.has_previous = 1;
	open = om_unseal(&rotated, "Q1-abc", sealed, &error);
	TAP_OK(open != NULL && strcmp(open, "ACDEFGHJKLMNPQRT") == 0,
	       "seal: the previous key still opens it after a rotation");
	om_seal_forget(&open);
	sealed[10] = sealed[10] == 'a' ? 'b' : 'a';
	TAP_OK(om_unseal(keys, "Q1-abc", sealed, &error) == NULL, "seal: a changed byte fails");
	om_free(&error);
	TAP_OK(om_unseal(keys, "Q1-abc", "zz", &error) == NULL, "seal: garbage fails");
	om_free(&error);
	free(sealed);
	free(again);
	test_seal_lengths(keys);
}

/* A file of len bytes (a marker repeated) written under keys to a temp
   file; its fd (at 0) and sealed key. */
static int vault_file(const struct om_token_keys *keys, const char *id, size_t len,
		      char **sealed_r, char **plain_r)
{
	char path[] = "/tmp/om-test-vault-XXXXXX", *plain = om_malloc(len + 1), *error = NULL;
	unsigned char pk[OM_VAULT_PUBLIC_LEN];
	size_t i;
	int fd = mkstemp(path);

	if (fd < 0 || om_vault_public_key(keys, pk) < 0)
		abort();
	unlink(path);
	for (i = 0; i < len; i++)
		plain[i] = "SECRET-MARKER-"[i % 14];
	if (om_vault_write(fd, pk, id, plain, len, sealed_r, &error) < 0)
		abort();
	*plain_r = plain;
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_vault(const struct om_token_keys *keys, const struct om_token_keys *other)
{
	const char *id = "00112233445566778899aabbccddeeff";
	char *sealed, *plain, *error = NULL, raw[300000], idbuf[OM_VAULT_NEW_ID_LEN + 1];
	struct om_token_keys rotated = *other;
	struct om_buf out;
	ssize_t n;
	int fd;

	om_buf_init(&out);
	TAP_OK(om_vault_new_id(idbuf) == 0 && om_vault_id_valid(idbuf) &&
	       !om_vault_id_valid("../etc/passwd") && !om_vault_id_valid(""),
	       "vault: new ids are valid, paths are not");
	{
		char d1[OM_VAULT_NEW_ID_LEN + 1], d2[OM_VAULT_NEW_ID_LEN + 1];
		char d3[OM_VAULT_NEW_ID_LEN + 1];

		TAP_OK(om_vault_derived_id(idbuf, "unmacro", d1) == 0 &&
		       om_vault_derived_id(idbuf, "unmacro", d2) == 0 &&
		       om_vault_derived_id(idbuf, "other", d3) == 0 &&
		       om_vault_id_valid(d1) && strcmp(d1, d2) == 0 &&
		       strcmp(d1, idbuf) != 0 && strcmp(d1, d3) != 0,
		       "vault: a derived id is valid, the same for the same id and purpose, "
		       "another for another purpose");
	}
	fd = vault_file(keys, id, 200000, &sealed, &plain);
	n = read(fd, raw, sizeof(raw));
	TAP_OK(n > 200000 && memmem(raw, (size_t)n, "SECRET-MARKER-", 14) == NULL,
	       "vault: nothing of the plain text on disk");
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, keys, id, sealed, 1 << 20, &out, &error) == 0 &&
	       out.len == 200000 && memcmp(out.data, plain, 200000) == 0,
	       "vault: read back whole (four chunks)");
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, other, id, sealed, 1 << 20, &out, &error) < 0 &&
	       out.len == 0, "vault: another key does not open it");
	om_free(&error);
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, keys, "ffeeddccbbaa99887766554433221100", sealed, 1 << 20,
			     &out, &error) < 0, "vault: another id does not open it");
	om_free(&error);
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, keys, id, sealed, 1000, &out, &error) < 0,
	       "vault: more than max_size is refused");
	om_free(&error);
	rotated.has_previous = 1;
	memcpy(rotated.previous, keys->current, sizeof(rotated.previous));
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, &rotated, id, sealed, 1 << 20, &out, &error) == 0 &&
	       out.len == 200000, "vault: the previous key of a rotation opens it");
	/* one byte changed in the last chunk; then the file cut */
	raw[n - 5] ^= 1;
	lseek(fd, 0, SEEK_SET);
	TAP_OK(write(fd, raw, (size_t)n) == n, "vault: file rewritten");
	lseek(fd, 0, SEEK_SET);
	TAP_OK(om_vault_read(fd, keys, id, sealed, 1 << 20, &out, &error) < 0 &&
	       out.len == 0, "vault: a changed byte is refused");
	om_free(&error);
	raw[n - 5] ^= 1;
	TAP_OK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 &&
	       write(fd, raw, (size_t)n - 70000) == n - 70000 &&
	       lseek(fd, 0, SEEK_SET) == 0 &&
	       om_vault_read(fd, keys, id, sealed, 1 << 20, &out, &error) < 0,
	       "vault: a file cut at a chunk's end is refused");
	om_free(&error);
	close(fd);
	free(sealed);
	free(plain);
	fd = vault_file(keys, id, 0, &sealed, &plain);
	TAP_OK(om_vault_read(fd, keys, id, sealed, 10, &out, &error) == 0 && out.len == 0,
	       "vault: an empty file round trip");
	close(fd);
	free(sealed);
	free(plain);
	om_buf_free(&out);
}

/* Link tokens: a round trip, a forged one, an expired one, and neither
   kind of token read as the other. */
static void test_url_tokens(const struct om_link_keys *keys,
			    const struct om_link_keys *other)
{
	struct om_token_url link, back;
	struct om_token_claims claims;
	char *token, *forged;

	memset(&link, 0, sizeof(link));
	snprintf(link.mailbox, sizeof(link.mailbox), "taro@example.jp");
	snprintf(link.message, sizeof(link.message), "abc@mail.example");
	snprintf(link.url, sizeof(link.url), "https://shop.example/a?b=1");
	link.expires = 2000;
	token = om_token_url_make(keys, &link);
	TAP_OK(token != NULL, "a link token is made");
	TAP_OK(om_token_url_check(keys, token, 1000, &back) == OM_TOKEN_OK &&
	       strcmp(back.url, link.url) == 0 &&
	       strcmp(back.mailbox, link.mailbox) == 0 &&
	       strcmp(back.message, link.message) == 0 && back.expires == 2000,
	       "a link token reads back as made");
	TAP_OK(om_token_url_check(keys, token, 3000, &back) == OM_TOKEN_EXPIRED,
	       "an expired link token is refused as expired");
	TAP_OK(om_token_url_check(other, token, 1000, &back) != OM_TOKEN_OK,
	       "a link token under another key is refused");
	TAP_OK(om_token_check(keys, token, 1000, &claims) != OM_TOKEN_OK,
	       "a link token is not a page token");
	forged = om_strdup(token);
	forged[0] = forged[0] == 'A' ? 'B' : 'A';
	TAP_OK(om_token_url_check(keys, forged, 1000, &back) != OM_TOKEN_OK,
	       "a changed link token is refused");
	free(forged);
	free(token);
	link.url[0] = '\0';
	TAP_OK(om_token_url_make(keys, &link) == NULL, "a link without a URL gets no token");
}

/* 1 when claims signed with signer's key put in the web's slot of keys
   (what a compromised scand or filter could do) pass all's check. */
static int signed_as_web(const struct om_link_keys *keys, enum om_link_signer signer,
			 const struct om_token_claims *claims, const struct om_link_keys *all)
{
	struct om_link_keys evil = *keys;
	struct om_token_claims got;
	char *token;
	int passed;

	memcpy(evil.current[OM_LINK_SIGNER_WEB], keys->current[signer], OM_TOKEN_KEY_LEN);
	evil.signers |= OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_WEB);
	token = om_token_make(&evil, claims);
	passed = token == NULL || om_token_check(all, token, 1800000000, &got) != OM_TOKEN_BAD;
	free(token);
	return passed;
}

/* Each signer makes its own kinds of token and no other: the keys
   omamori-scand and omamori-filter keep cannot make a login's, an
   administrator's or a digest's token, even put in the web's place. */
static void test_signers(const struct om_token_keys *file)
{
	struct om_link_keys all, scan, outbound, web, evil;
	unsigned char code_key[OM_VAULT_CODE_KEY_LEN], code_key2[OM_VAULT_CODE_KEY_LEN];
	struct om_token_claims c, got;
	struct om_token_url link, back;
	char *token;
	int bad = 0;
	size_t i;
	static const char *const web_only[] = { "session", "admin", "box", "mail", "csrf",
						"portal-open" };

	om_link_keys_derive(file, OM_LINK_SIGNERS_ALL, &all);
	om_link_keys_derive(file, OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_SCAN), &scan);
	om_link_keys_derive(file, OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_OUTBOUND), &outbound);
	om_link_keys_derive(file, OM_LINK_SIGNER_BIT(OM_LINK_SIGNER_WEB), &web);
	TAP_OK(om_link_signer_of("isolated") == OM_LINK_SIGNER_SCAN &&
	       om_link_signer_of("hold") == OM_LINK_SIGNER_OUTBOUND &&
	       om_link_signer_of("holds") == OM_LINK_SIGNER_OUTBOUND &&
	       om_link_signer_of("portal") == OM_LINK_SIGNER_OUTBOUND &&
	       om_link_signer_of("portal-sender") == OM_LINK_SIGNER_OUTBOUND &&
	       om_link_signer_of("zip-password") == OM_LINK_SIGNER_OUTBOUND &&
	       om_link_signer_of("session") == OM_LINK_SIGNER_WEB &&
	       om_link_signer_of("anything else") == OM_LINK_SIGNER_WEB,
	       "signers: each action's");

	claims_of(&c, "taro@example.jp", "isolated", "abc", 1800000000 + 60);
	token = om_token_make(&scan, &c);
	TAP_OK(token != NULL && om_token_check(&all, token, 1800000000, &got) == OM_TOKEN_OK &&
	       om_token_check(&outbound, token, 1800000000, &got) == OM_TOKEN_BAD,
	       "scand's isolated-file token: checked by the web's keys, not by another signer's");
	free(token);
	memset(&link, 0, sizeof(link));
	snprintf(link.mailbox, sizeof(link.mailbox), "taro@example.jp");
	snprintf(link.url, sizeof(link.url), "https://shop.example/");
	link.expires = 2000;
	token = om_token_url_make(&scan, &link);
	TAP_OK(token != NULL && om_token_url_check(&all, token, 1000, &back) == OM_TOKEN_OK &&
	       om_token_url_make(&outbound, &link) == NULL &&
	       om_token_url_make(&web, &link) == NULL,
	       "gate links: scand's alone");
	free(token);

	/* scand's and the outbound daemons' keys, even placed where the
	   web's go, make no token the web's keys accept for its actions */
	for (i = 0; i < OM_N_ELEMENTS(web_only); i++) {
		claims_of(&c, "taro@example.jp", web_only[i], "", 1800000000 + 60);
		if (om_token_make(&scan, &c) != NULL || om_token_make(&outbound, &c) != NULL)
			bad++;
		bad += signed_as_web(&scan, OM_LINK_SIGNER_SCAN, &c, &all);
		bad += signed_as_web(&outbound, OM_LINK_SIGNER_OUTBOUND, &c, &all);
	}
	TAP_OK(bad == 0, "no session, admin, box, mail, csrf or portal-open token from "
	       "scand's or the filter's keys (%d wrong)", bad);
	claims_of(&c, "taro@example.jp", "hold", "h1", 1800000000 + 60);
	token = om_token_make(&outbound, &c);
	TAP_OK(token != NULL && om_token_check(&all, token, 1800000000, &got) == OM_TOKEN_OK &&
	       om_token_make(&scan, &c) == NULL && om_token_make(&web, &c) == NULL,
	       "hold links: the outbound daemons'");
	free(token);
	/* tokens made with the file's own key before signers had keys: a
	   gate link or a hold link still opens on the web's keys, a session
	   never */
	memset(&evil, 0, sizeof(evil));
	for (i = 0; i < OM_LINK_SIGNERS; i++)
		memcpy(evil.current[i], file->current, OM_TOKEN_KEY_LEN);
	evil.signers = OM_LINK_SIGNERS_ALL;
	om_link_keys_derive(file, OM_LINK_SIGNERS_ALL | OM_LINK_LEGACY, &web);
	token = om_token_url_make(&evil, &link);
	TAP_OK(token != NULL && om_token_url_check(&web, token, 1000, &back) == OM_TOKEN_OK &&
	       om_token_url_check(&all, token, 1000, &back) == OM_TOKEN_BAD,
	       "an old gate link (the file's key): good with the legacy keys only");
	free(token);
	claims_of(&c, "taro@example.jp", "hold", "h1", 1800000000 + 60);
	token = om_token_make(&evil, &c);
	TAP_OK(token != NULL && om_token_check(&web, token, 1800000000, &got) == OM_TOKEN_OK,
	       "an old hold link: good with the legacy keys");
	free(token);
	claims_of(&c, "taro@example.jp", "session", "", 1800000000 + 60);
	token = om_token_make(&evil, &c);
	TAP_OK(token != NULL && om_token_check(&web, token, 1800000000, &got) == OM_TOKEN_BAD,
	       "a session token made with the file's key: bad, legacy keys or not");
	free(token);
	TAP_OK(om_vault_code_key(&outbound, code_key) == 0 &&
	       om_vault_code_key(&all, code_key2) == 0 &&
	       memcmp(code_key, code_key2, sizeof(code_key)) == 0 &&
	       om_vault_code_key(&scan, code_key2) < 0,
	       "the portal's code key: the filter's and the web's agree, scand has none");
}

int main(void)
{
	struct om_token_keys keys, other;
	struct om_link_keys link, link_other;

	memset(&keys, 1, sizeof(keys));
	memset(&other, 2, sizeof(other));
	keys.has_previous = other.has_previous = 0;
	om_link_keys_derive(&keys, OM_LINK_SIGNERS_ALL, &link);
	om_link_keys_derive(&other, OM_LINK_SIGNERS_ALL, &link_other);
	test_tokens(&link, &link_other);
	test_key_file();
	test_signers(&keys);
	test_seal(&keys, &other);
	test_vault(&keys, &other);
	test_url_tokens(&link, &link_other);
	return tap_done();
}
