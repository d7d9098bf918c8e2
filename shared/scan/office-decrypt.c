/* office-decrypt.c - an encrypted Office Open XML document opened with its
 * password, in memory (office-decrypt.h), per [MS-OFFCRYPTO] 2.3.4.
 *
 * The compound file is read by libgsf (GsfInfileMSOle over
 * gsf_input_memory_new: no temporary file), Agile encryption's XML
 * descriptor by libxml2 (no network, no entity substitution), the hashes,
 * AES and HMAC are OpenSSL's libcrypto (EVP): scand already carries it
 * through libclamav and libcurl (doc/libraries.md).  Every size read from
 * the file is checked against the bytes there are and the caller's limit
 * before it is used; every secret is wiped before its memory is freed.
 */
#include "scan/office-decrypt.h"

#include <gsf/gsf-infile.h>
#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-input.h>
#include <gsf/gsf-input-memory.h>
#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OM_OFFICE_INFO_MAX (64u * 1024)	/* EncryptionInfo: a few KiB */
#define OM_OFFICE_SEGMENT 4096		/* Agile: the package's segments */
#define OM_OFFICE_B64_MAX 8192		/* one base64 value of the XML */
#define OM_OFFICE_STD_SPIN 50000	/* Standard: fixed iterations */

/* [MS-OFFCRYPTO] 2.3.4.11 and 2.3.4.14: the blockKey constants */
static const unsigned char om_office_bk_vin[8] = { 0xfe, 0xa7, 0xd2, 0x76, 0x3b, 0x4b, 0x9e, 0x79 };
static const unsigned char om_office_bk_vhash[8] = { 0xd7, 0xaa, 0x0f, 0x6d, 0x30, 0x61, 0x34, 0x4e };
static const unsigned char om_office_bk_key[8] = { 0x14, 0x6e, 0x0b, 0xe7, 0xab, 0xac, 0xd0, 0xd6 };
static const unsigned char om_office_bk_hmac_key[8] = { 0x5f, 0xb2, 0xad, 0x01, 0x0c, 0xb9, 0xe1, 0xf6 };
static const unsigned char om_office_bk_hmac_value[8] = { 0xa0, 0x67, 0x7f, 0x02, 0xb2, 0x2c, 0x84, 0x33 };

#define OM_OFFICE_NS_PASSWORD "http://schemas.microsoft.com/office/2006/keyEncryptor/password"

/* bytes decoded from the descriptor, or a secret: wiped on free */
struct om_office_bytes {
	unsigned char *p;
	size_t len;
};

static void om_office_bytes_free(struct om_office_bytes *b)
{
	if (b->p != NULL) {
		explicit_bzero(b->p, b->len);
		g_free(b->p);
	}
	b->p = NULL;
	b->len = 0;
}

/* One key's parameters (keyData, or the password's encryptedKey). */
struct om_office_params {
	const EVP_MD *md;
	size_t hash_len, key_len, block;
	const EVP_CIPHER *cipher;
	struct om_office_bytes salt;
};

struct om_office_agile {
	struct om_office_params data, pass;
	unsigned long spin;
	struct om_office_bytes vin, vhash, key, hmac_key, hmac_value;
	int have_pass;
};

static void om_office_agile_free(struct om_office_agile *a)
{
	om_office_bytes_free(&a->data.salt);
	om_office_bytes_free(&a->pass.salt);
	om_office_bytes_free(&a->vin);
	om_office_bytes_free(&a->vhash);
	om_office_bytes_free(&a->key);
	om_office_bytes_free(&a->hmac_key);
	om_office_bytes_free(&a->hmac_value);
}

const char *om_office_status_name(enum om_office_status status)
{
	switch (status) {
	case OM_OFFICE_DECRYPTED:
		return "decrypted";
	case OM_OFFICE_WRONG:
		return "wrong-password";
	case OM_OFFICE_NOT_OOXML:
		return "not-ooxml";
	case OM_OFFICE_UNSUPPORTED:
		return "unsupported";
	case OM_OFFICE_DAMAGED:
		return "damaged";
	case OM_OFFICE_NONE:
		break;
	}
	return "none";
}

static uint32_t om_office_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static void om_office_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* ---- the compound file ---- */

/* Stream name of ole into out (at most max bytes): 1, 0 absent, -1 too
   large or unreadable. */
static int om_office_stream(GsfInfile *ole, const char *name, size_t max,
			    struct om_buf *out)
{
	GsfInput *in = gsf_infile_child_by_name(ole, name);
	gsf_off_t size;
	size_t done = 0, n;
	int ret = 1;

	if (in == NULL)
		return 0;
	size = gsf_input_size(in);
	if (size < 0 || (guint64)size > max) {
		g_object_unref(in);
		return -1;
	}
	om_buf_reset(out);
	om_buf_reserve(out, (size_t)size + 1);
	while (done < (size_t)size) {
		n = (size_t)size - done > 65536 ? 65536 : (size_t)size - done;
		if (gsf_input_read(in, n, (guint8 *)out->data + done) == NULL) {
			ret = -1;
			break;
		}
		done += n;
	}
	out->len = ret == 1 ? done : 0;
	g_object_unref(in);
	return ret;
}

/* ---- hashes and AES (libcrypto) ---- */

/* out = H(a || b) */
static int om_office_hash2(EVP_MD_CTX *ctx, const EVP_MD *md, const unsigned char *a,
			   size_t alen, const unsigned char *b, size_t blen,
			   unsigned char *out)
{
	unsigned int n;

	return EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
		EVP_DigestUpdate(ctx, a, alen) == 1 &&
		(blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
		EVP_DigestFinal_ex(ctx, out, &n) == 1 ? 0 : -1;
}

/* AES decryption of len bytes (a multiple of the block), no padding;
   iv NULL for ECB. */
static int om_office_aes(const EVP_CIPHER *cipher, const unsigned char *key,
			 const unsigned char *iv, const unsigned char *in, size_t len,
			 unsigned char *out)
{
	EVP_CIPHER_CTX *ctx;
	int n1 = 0, n2 = 0, ok;

	if (len > INT32_MAX || len % 16 != 0)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	ok = EVP_DecryptInit_ex(ctx, cipher, NULL, key, iv) == 1 &&
		EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
		EVP_DecryptUpdate(ctx, out, &n1, in, (int)len) == 1 &&
		EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1 &&
		(size_t)(n1 + n2) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The password as UTF-16LE bytes (allocated), or NULL (not UTF-8, too
   long). */
unsigned char *om_office_password_utf16(const char *password, size_t *len_r)
{
	glong items = 0;
	gunichar2 *u = g_utf8_to_utf16(password, -1, NULL, &items, NULL);
	unsigned char *out;
	glong i;

	if (u == NULL)
		return NULL;
	if (items > OM_OFFICE_PASSWORD_MAX) {
		g_free(u);
		return NULL;
	}
	out = om_malloc((size_t)items * 2 + 1);
	for (i = 0; i < items; i++) {
		out[2 * i] = (unsigned char)(u[i] & 0xff);
		out[2 * i + 1] = (unsigned char)(u[i] >> 8);
	}
	explicit_bzero(u, (size_t)items * sizeof(*u));
	g_free(u);
	*len_r = (size_t)items * 2;
	return out;
}

/* [MS-OFFCRYPTO] 2.3.4.7 / 2.3.4.11: H0 = H(salt + password), then
   spin times H = H(iterator + H); h gets hash_len bytes. */
static int om_office_spin(EVP_MD_CTX *ctx, const EVP_MD *md, size_t hash_len,
			  const unsigned char *salt, size_t salt_len,
			  const unsigned char *pw, size_t pw_len, unsigned long spin,
			  unsigned char *h)
{
	unsigned char it[4];
	unsigned long i;

	if (om_office_hash2(ctx, md, salt, salt_len, pw, pw_len, h) < 0)
		return -1;
	for (i = 0; i < spin; i++) {
		om_office_put_le32(it, (uint32_t)i);
		if (om_office_hash2(ctx, md, it, 4, h, hash_len, h) < 0)
			return -1;
	}
	return 0;
}

/* ---- Agile encryption (2.3.4.10 - 2.3.4.15) ---- */

/* libxml2 is initialised once before any thread parses (scand's workers
   are threads), as mail/text.c and mail/linkrw.c do */
static pthread_once_t om_office_xml_once = PTHREAD_ONCE_INIT;

static void om_office_xml_init(void)
{
	xmlInitParser();
}

static int om_office_attr_num(xmlNode *node, const char *name, unsigned long max,
			      unsigned long *out)
{
	xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
	char *end;
	int ret = -1;

	if (v != NULL && v[0] >= '0' && v[0] <= '9') {
		unsigned long n = strtoul((const char *)v, &end, 10);

		if (*end == '\0' && n <= max) {
			*out = n;
			ret = 0;
		}
	}
	xmlFree(v);
	return ret;
}

static int om_office_attr_b64(xmlNode *node, const char *name, struct om_office_bytes *out)
{
	xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
	size_t n, i;
	gsize len = 0;
	int ret = -1;

	if (v == NULL)
		return -1;
	n = strlen((const char *)v);
	for (i = 0; i < n; i++) {
		if (!g_ascii_isalnum(v[i]) && v[i] != '+' && v[i] != '/' && v[i] != '=')
			break;
	}
	if (n > 0 && n <= OM_OFFICE_B64_MAX && i == n && n % 4 == 0) {
		out->p = g_base64_decode((const gchar *)v, &len);
		out->len = len;
		ret = out->p != NULL && len > 0 ? 0 : -1;
	}
	xmlFree(v);
	return ret;
}

static int om_office_attr_is(xmlNode *node, const char *name, const char *const *values)
{
	xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
	int i, found = -1;

	for (i = 0; v != NULL && values[i] != NULL; i++) {
		if (strcmp((const char *)v, values[i]) == 0) {
			found = i;
			break;
		}
	}
	xmlFree(v);
	return found;
}

/* The attributes keyData and encryptedKey share: 0, -1 damaged, -2 an
   algorithm not done here. */
static int om_office_params_read(xmlNode *node, struct om_office_params *p)
{
	static const char *const hashes[] = { "SHA1", "SHA-1", "SHA256", "SHA384", "SHA512", NULL };
	static const char *const aes[] = { "AES", NULL };
	static const char *const cbc[] = { "ChainingModeCBC", NULL };
	unsigned long salt_size, block, key_bits, hash_size;
	int h;

	if (om_office_attr_num(node, "saltSize", 65536, &salt_size) < 0 ||
	    om_office_attr_num(node, "blockSize", 64, &block) < 0 ||
	    om_office_attr_num(node, "keyBits", 4096, &key_bits) < 0 ||
	    om_office_attr_num(node, "hashSize", 64, &hash_size) < 0 ||
	    om_office_attr_b64(node, "saltValue", &p->salt) < 0 ||
	    p->salt.len != salt_size || salt_size < 1)
		return -1;
	h = om_office_attr_is(node, "hashAlgorithm", hashes);
	if (h < 0 || om_office_attr_is(node, "cipherAlgorithm", aes) < 0 ||
	    om_office_attr_is(node, "cipherChaining", cbc) < 0)
		return -2;
	p->md = h <= 1 ? EVP_sha1() : h == 2 ? EVP_sha256() : h == 3 ? EVP_sha384() :
		EVP_sha512();
	p->hash_len = (size_t)EVP_MD_get_size(p->md);
	p->cipher = key_bits == 128 ? EVP_aes_128_cbc() : key_bits == 192 ?
		EVP_aes_192_cbc() : key_bits == 256 ? EVP_aes_256_cbc() : NULL;
	if (p->cipher == NULL)
		return -2;
	if (block != 16 || hash_size != p->hash_len)
		return -1;
	p->key_len = key_bits / 8;
	p->block = block;
	return 0;
}

static int om_office_is(xmlNode *node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

/* The password's keyEncryptor: 0, -1 damaged, -2 not done here, -3
   a spinCount over OM_OFFICE_SPIN_WORKER_MAX. */
static int om_office_agile_pass(xmlNode *encryptors, struct om_office_agile *a)
{
	static const char *const uri[] = { OM_OFFICE_NS_PASSWORD, NULL };
	xmlNode *k, *e;
	int ret;

	for (k = encryptors->children; k != NULL; k = k->next) {
		if (!om_office_is(k, "keyEncryptor") || om_office_attr_is(k, "uri", uri) < 0)
			continue;
		for (e = k->children; e != NULL; e = e->next) {
			if (!om_office_is(e, "encryptedKey"))
				continue;
			ret = om_office_params_read(e, &a->pass);
			if (ret < 0)
				return ret;
			if (om_office_attr_num(e, "spinCount", OM_OFFICE_SPIN_MAX, &a->spin) < 0 ||
			    om_office_attr_b64(e, "encryptedVerifierHashInput", &a->vin) < 0 ||
			    om_office_attr_b64(e, "encryptedVerifierHashValue", &a->vhash) < 0 ||
			    om_office_attr_b64(e, "encryptedKeyValue", &a->key) < 0)
				return -1;
			a->have_pass = 1;
			return a->spin > OM_OFFICE_SPIN_WORKER_MAX ? -3 : 0;
		}
	}
	/* only a certificate's key encryptor */
	return -2;
}

/* The XML descriptor (after the 8-byte version and reserved field). */
static enum om_office_status om_office_agile_read(const unsigned char *xml, size_t len,
						  struct om_office_agile *a, char **error_r)
{
	xmlDoc *doc;
	xmlNode *root, *n;
	int have_data = 0, ret = -1;

	if (len > INT32_MAX || pthread_once(&om_office_xml_once, om_office_xml_init) != 0) {
		*error_r = om_strdup("the encryption descriptor cannot be read");
		return OM_OFFICE_DAMAGED;
	}
	doc = xmlReadMemory((const char *)xml, (int)len, NULL, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL) {
		*error_r = om_strdup("the encryption descriptor is not XML");
		return OM_OFFICE_DAMAGED;
	}
	root = xmlDocGetRootElement(doc);
	if (root != NULL && om_office_is(root, "encryption")) {
		ret = 0;
		for (n = root->children; n != NULL && ret == 0; n = n->next) {
			if (om_office_is(n, "keyData") && !have_data) {
				ret = om_office_params_read(n, &a->data);
				have_data = ret == 0;
			} else if (om_office_is(n, "dataIntegrity") && a->hmac_key.p == NULL) {
				if (om_office_attr_b64(n, "encryptedHmacKey", &a->hmac_key) < 0 ||
				    om_office_attr_b64(n, "encryptedHmacValue", &a->hmac_value) < 0)
					ret = -1;
			} else if (om_office_is(n, "keyEncryptors") && !a->have_pass) {
				ret = om_office_agile_pass(n, a);
			}
		}
		if (ret == 0 && (!have_data || !a->have_pass))
			ret = a->have_pass ? -1 : -2;
	}
	xmlFreeDoc(doc);
	if (ret == -3) {
		*error_r = om_asprintf("spinCount %lu is over omamori's bound of %u",
				       a->spin, OM_OFFICE_SPIN_WORKER_MAX);
		return OM_OFFICE_UNSUPPORTED;
	}
	if (ret == -2) {
		*error_r = om_strdup("agile encryption with an algorithm or key encryptor "
				     "not supported");
		return OM_OFFICE_UNSUPPORTED;
	}
	if (ret < 0) {
		*error_r = om_strdup("the agile encryption descriptor is malformed");
		return OM_OFFICE_DAMAGED;
	}
	return OM_OFFICE_DECRYPTED;
}

/* The key for blockKey from the spun hash h: H(h + blockKey), cut to
   key_len or padded with 0x36 (2.3.4.11). */
static int om_office_agile_key(EVP_MD_CTX *ctx, const struct om_office_params *p,
			       const unsigned char *h, const unsigned char blockkey[8],
			       unsigned char *key)
{
	unsigned char full[EVP_MAX_MD_SIZE];

	if (om_office_hash2(ctx, p->md, h, p->hash_len, blockkey, 8, full) < 0)
		return -1;
	memset(key, 0x36, p->key_len);
	memcpy(key, full, p->key_len < p->hash_len ? p->key_len : p->hash_len);
	explicit_bzero(full, sizeof(full));
	return 0;
}

/* An IV: H(salt + what) cut to the block or padded with 0x36. */
static int om_office_agile_iv(EVP_MD_CTX *ctx, const struct om_office_params *p,
			      const unsigned char *what, size_t what_len, unsigned char *iv)
{
	unsigned char full[EVP_MAX_MD_SIZE];

	if (om_office_hash2(ctx, p->md, p->salt.p, p->salt.len, what, what_len, full) < 0)
		return -1;
	memset(iv, 0x36, p->block);
	memcpy(iv, full, p->block < p->hash_len ? p->block : p->hash_len);
	return 0;
}

/* Decrypts enc with key and iv into a new buffer of enc's length: 0, -1. */
static int om_office_cbc(const struct om_office_params *p, const unsigned char *key,
			 const unsigned char *iv, const struct om_office_bytes *enc,
			 struct om_office_bytes *out)
{
	if (enc->len % p->block != 0)
		return -1;
	out->p = g_malloc(enc->len);
	out->len = enc->len;
	return om_office_aes(p->cipher, key, iv, enc->p, enc->len, out->p);
}

/* The password against the verifier, then the package's key into
   secret (data.key_len bytes). */
static enum om_office_status om_office_agile_secret(EVP_MD_CTX *ctx, struct om_office_agile *a,
						    const unsigned char *pw, size_t pw_len,
						    struct om_office_bytes *secret,
						    char **error_r)
{
	const struct om_office_params *p = &a->pass;
	unsigned char h[EVP_MAX_MD_SIZE], key[64], iv[16], check[EVP_MAX_MD_SIZE];
	struct om_office_bytes vin = { 0 }, vhash = { 0 }, dkey = { 0 };
	enum om_office_status status = OM_OFFICE_DAMAGED;

	memset(iv, 0x36, sizeof(iv));
	memcpy(iv, p->salt.p, p->salt.len < 16 ? p->salt.len : 16);
	if (p->key_len > sizeof(key) ||
	    om_office_spin(ctx, p->md, p->hash_len, p->salt.p, p->salt.len, pw, pw_len,
			   a->spin, h) < 0 ||
	    om_office_agile_key(ctx, p, h, om_office_bk_vin, key) < 0 ||
	    om_office_cbc(p, key, iv, &a->vin, &vin) < 0 ||
	    vin.len < p->salt.len ||
	    om_office_hash2(ctx, p->md, vin.p, p->salt.len, NULL, 0, check) < 0 ||
	    om_office_agile_key(ctx, p, h, om_office_bk_vhash, key) < 0 ||
	    om_office_cbc(p, key, iv, &a->vhash, &vhash) < 0 || vhash.len < p->hash_len) {
		*error_r = om_strdup("the password verifier could not be read");
		goto done;
	}
	if (CRYPTO_memcmp(check, vhash.p, p->hash_len) != 0) {
		*error_r = om_strdup("wrong password");
		status = OM_OFFICE_WRONG;
		goto done;
	}
	if (om_office_agile_key(ctx, p, h, om_office_bk_key, key) < 0 ||
	    om_office_cbc(p, key, iv, &a->key, &dkey) < 0 || dkey.len < a->data.key_len) {
		*error_r = om_strdup("the package key could not be read");
		goto done;
	}
	secret->p = g_malloc(a->data.key_len);
	secret->len = a->data.key_len;
	memcpy(secret->p, dkey.p, a->data.key_len);
	status = OM_OFFICE_DECRYPTED;
done:
	explicit_bzero(h, sizeof(h));
	explicit_bzero(key, sizeof(key));
	om_office_bytes_free(&vin);
	om_office_bytes_free(&vhash);
	om_office_bytes_free(&dkey);
	return status;
}

/* dataIntegrity (2.3.4.14): the HMAC of the whole EncryptedPackage
   stream, its key and value encrypted with the package's key.  0 it
   matches (or the file has none), -1 not. */
static int om_office_agile_hmac(EVP_MD_CTX *ctx, const struct om_office_agile *a,
				const struct om_office_bytes *secret,
				const struct om_buf *package)
{
	const struct om_office_params *p = &a->data;
	struct om_office_bytes key = { 0 }, value = { 0 };
	unsigned char iv[16], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	int ret = -1;

	if (a->hmac_key.p == NULL)
		return 0;
	if (om_office_agile_iv(ctx, p, om_office_bk_hmac_key, 8, iv) == 0 &&
	    om_office_cbc(p, secret->p, iv, &a->hmac_key, &key) == 0 &&
	    om_office_agile_iv(ctx, p, om_office_bk_hmac_value, 8, iv) == 0 &&
	    om_office_cbc(p, secret->p, iv, &a->hmac_value, &value) == 0 &&
	    key.len >= p->hash_len && value.len >= p->hash_len &&
	    HMAC(p->md, key.p, (int)p->hash_len, (const unsigned char *)package->data,
		 package->len, mac, &mac_len) != NULL &&
	    mac_len == p->hash_len && CRYPTO_memcmp(mac, value.p, p->hash_len) == 0)
		ret = 0;
	om_office_bytes_free(&key);
	om_office_bytes_free(&value);
	return ret;
}

/* The package's StreamSize, checked against the stream and max: 0, -1. */
static int om_office_package_size(const struct om_buf *package, size_t max, size_t *size_r)
{
	const unsigned char *p = (const unsigned char *)package->data;
	uint64_t size;

	if (package->len < 8)
		return -1;
	size = (uint64_t)om_office_le32(p) | (uint64_t)om_office_le32(p + 4) << 32;
	if (size > max || size > package->len - 8)
		return -1;
	*size_r = (size_t)size;
	return 0;
}

static enum om_office_status om_office_agile(EVP_MD_CTX *ctx, const struct om_buf *info,
					     const struct om_buf *package,
					     const unsigned char *pw, size_t pw_len,
					     size_t max, struct om_buf *out, char **error_r)
{
	struct om_office_agile a;
	struct om_office_bytes secret = { 0 };
	const unsigned char *enc = (const unsigned char *)package->data + 8;
	unsigned char iv[16], idx[4];
	enum om_office_status status;
	size_t size, off, chunk, need;
	uint32_t i;

	memset(&a, 0, sizeof(a));
	status = om_office_agile_read((const unsigned char *)info->data + 8, info->len - 8,
				      &a, error_r);
	if (status == OM_OFFICE_DECRYPTED)
		status = om_office_agile_secret(ctx, &a, pw, pw_len, &secret, error_r);
	if (status != OM_OFFICE_DECRYPTED)
		goto done;
	status = OM_OFFICE_DAMAGED;
	if (om_office_package_size(package, max, &size) < 0) {
		*error_r = om_strdup("the encrypted package's size is wrong or over the limit");
		goto done;
	}
	if (om_office_agile_hmac(ctx, &a, &secret, package) < 0) {
		*error_r = om_strdup("the package's integrity check (HMAC) failed");
		goto done;
	}
	om_buf_reset(out);
	om_buf_reserve(out, size + OM_OFFICE_SEGMENT + 1);
	for (off = 0, i = 0; off < size; off += chunk, i++) {
		chunk = size - off < OM_OFFICE_SEGMENT ? size - off : OM_OFFICE_SEGMENT;
		need = (chunk + 15) / 16 * 16;
		om_office_put_le32(idx, i);
		if (off + need > package->len - 8 ||
		    om_office_agile_iv(ctx, &a.data, idx, 4, iv) < 0 ||
		    om_office_aes(a.data.cipher, secret.p, iv, enc + off, need,
				  (unsigned char *)out->data + off) < 0) {
			*error_r = om_strdup("the encrypted package is truncated");
			explicit_bzero(out->data, off);
			goto done;
		}
	}
	out->len = size;
	status = OM_OFFICE_DECRYPTED;
done:
	om_office_bytes_free(&secret);
	om_office_agile_free(&a);
	return status;
}

int om_office_agile_sha512_key(const char *password, const unsigned char salt[16],
			       unsigned long spin, unsigned int key_bits,
			       const unsigned char *encrypted_key, size_t enc_len,
			       unsigned char *key)
{
	struct om_office_agile a;
	struct om_office_bytes dkey = { 0 };
	unsigned char h[EVP_MAX_MD_SIZE], k[64];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *pw;
	size_t pw_len = 0;
	int ret = -1;

	memset(&a, 0, sizeof(a));
	a.pass.md = EVP_sha512();
	a.pass.hash_len = 64;
	a.pass.key_len = key_bits / 8;
	a.pass.block = 16;
	a.pass.cipher = key_bits == 128 ? EVP_aes_128_cbc() : key_bits == 192 ?
		EVP_aes_192_cbc() : key_bits == 256 ? EVP_aes_256_cbc() : NULL;
	a.key.p = g_memdup2(encrypted_key, enc_len);
	a.key.len = enc_len;
	pw = om_office_password_utf16(password, &pw_len);
	if (ctx != NULL && pw != NULL && a.pass.cipher != NULL && spin <= OM_OFFICE_SPIN_MAX &&
	    om_office_spin(ctx, a.pass.md, 64, salt, 16, pw, pw_len, spin, h) == 0 &&
	    om_office_agile_key(ctx, &a.pass, h, om_office_bk_key, k) == 0 &&
	    om_office_cbc(&a.pass, k, salt, &a.key, &dkey) == 0 && dkey.len >= a.pass.key_len) {
		memcpy(key, dkey.p, a.pass.key_len);
		ret = 0;
	}
	explicit_bzero(h, sizeof(h));
	explicit_bzero(k, sizeof(k));
	if (pw != NULL)
		explicit_bzero(pw, pw_len);
	free(pw);
	om_office_bytes_free(&dkey);
	om_office_agile_free(&a);
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* ---- Standard encryption (2.3.4.5 - 2.3.4.9) ---- */

#define OM_OFFICE_FLAG_CRYPTOAPI 0x04u
#define OM_OFFICE_FLAG_EXTERNAL 0x10u
#define OM_OFFICE_FLAG_AES 0x20u

/* The key of 2.3.4.7 (SHA-1, 50,000 rounds, block 0, X1 + X2). */
static int om_office_std_key(EVP_MD_CTX *ctx, const unsigned char *salt,
			     const unsigned char *pw, size_t pw_len, size_t key_len,
			     unsigned char *key)
{
	unsigned char h[20], block[4] = { 0, 0, 0, 0 }, buf[64], x[40];
	int i, ret = -1;

	if (om_office_spin(ctx, EVP_sha1(), 20, salt, 16, pw, pw_len, OM_OFFICE_STD_SPIN, h) < 0 ||
	    om_office_hash2(ctx, EVP_sha1(), h, 20, block, 4, h) < 0)
		goto done;
	memset(buf, 0x36, sizeof(buf));
	for (i = 0; i < 20; i++)
		buf[i] ^= h[i];
	if (om_office_hash2(ctx, EVP_sha1(), buf, 64, NULL, 0, x) < 0)
		goto done;
	memset(buf, 0x5c, sizeof(buf));
	for (i = 0; i < 20; i++)
		buf[i] ^= h[i];
	if (om_office_hash2(ctx, EVP_sha1(), buf, 64, NULL, 0, x + 20) < 0)
		goto done;
	memcpy(key, x, key_len);
	ret = 0;
done:
	explicit_bzero(h, sizeof(h));
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(x, sizeof(x));
	return ret;
}

static enum om_office_status om_office_standard(EVP_MD_CTX *ctx, const struct om_buf *info,
						const struct om_buf *package,
						const unsigned char *pw, size_t pw_len,
						size_t max, struct om_buf *out,
						char **error_r)
{
	const unsigned char *p = (const unsigned char *)info->data;
	const unsigned char *v;
	unsigned char key[32], verifier[16], vhash[32], check[20];
	const EVP_CIPHER *cipher;
	uint32_t flags, header_size, alg, alg_hash, key_bits;
	enum om_office_status status = OM_OFFICE_DAMAGED;
	size_t size, need;

	if (info->len < 12 + 32)
		goto damaged;
	flags = om_office_le32(p + 4);
	header_size = om_office_le32(p + 8);
	if (header_size < 32 || header_size > info->len - 12 ||
	    info->len - 12 - header_size < 4 + 16 + 16 + 4 + 32)
		goto damaged;
	alg = om_office_le32(p + 12 + 8);
	alg_hash = om_office_le32(p + 12 + 12);
	key_bits = om_office_le32(p + 12 + 16);
	if ((flags & OM_OFFICE_FLAG_CRYPTOAPI) == 0 || (flags & OM_OFFICE_FLAG_AES) == 0 ||
	    (flags & OM_OFFICE_FLAG_EXTERNAL) != 0 || (alg_hash != 0 && alg_hash != 0x8004)) {
		*error_r = om_strdup("standard encryption other than AES (RC4 CryptoAPI, "
				     "external) is not supported");
		return OM_OFFICE_UNSUPPORTED;
	}
	cipher = (alg == 0x660e || alg == 0) && key_bits == 128 ? EVP_aes_128_ecb() :
		alg == 0x660f && key_bits == 192 ? EVP_aes_192_ecb() :
		alg == 0x6610 && key_bits == 256 ? EVP_aes_256_ecb() : NULL;
	if (cipher == NULL) {
		*error_r = om_strdup("standard encryption with an unknown AES key size");
		return OM_OFFICE_UNSUPPORTED;
	}
	v = p + 12 + header_size;
	if (om_office_le32(v) != 16 || om_office_le32(v + 36) != 20)
		goto damaged;
	if (om_office_std_key(ctx, v + 4, pw, pw_len, key_bits / 8, key) < 0 ||
	    om_office_aes(cipher, key, NULL, v + 20, 16, verifier) < 0 ||
	    om_office_aes(cipher, key, NULL, v + 40, 32, vhash) < 0 ||
	    om_office_hash2(ctx, EVP_sha1(), verifier, 16, NULL, 0, check) < 0)
		goto damaged;
	if (CRYPTO_memcmp(check, vhash, 20) != 0) {
		*error_r = om_strdup("wrong password");
		status = OM_OFFICE_WRONG;
		goto done;
	}
	if (om_office_package_size(package, max, &size) < 0) {
		*error_r = om_strdup("the encrypted package's size is wrong or over the limit");
		goto done;
	}
	need = (size + 15) / 16 * 16;
	if (need > package->len - 8) {
		*error_r = om_strdup("the encrypted package is truncated");
		goto done;
	}
	om_buf_reset(out);
	om_buf_reserve(out, need + 1);
	if (om_office_aes(cipher, key, NULL, (const unsigned char *)package->data + 8, need,
			  (unsigned char *)out->data) < 0) {
		*error_r = om_strdup("the encrypted package could not be decrypted");
		goto done;
	}
	explicit_bzero(out->data + size, need - size);
	out->len = size;
	status = OM_OFFICE_DECRYPTED;
	goto done;
damaged:
	*error_r = om_strdup("the standard encryption header is malformed");
done:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(verifier, sizeof(verifier));
	explicit_bzero(vhash, sizeof(vhash));
	return status;
}

/* ---- the entry point ---- */

static enum om_office_status om_office_streams(const char *data, size_t len, size_t max,
					       struct om_buf *info, struct om_buf *package,
					       char **error_r)
{
	GsfInput *mem = gsf_input_memory_new((const guint8 *)data, (gsf_off_t)len, FALSE);
	GsfInfile *ole;
	GError *err = NULL;
	int a, b;

	if (mem == NULL) {
		*error_r = om_strdup("out of memory");
		return OM_OFFICE_DAMAGED;
	}
	ole = gsf_infile_msole_new(mem, &err);
	g_object_unref(mem);
	if (ole == NULL) {
		*error_r = om_asprintf("not an OLE compound file: %s",
				       err != NULL ? err->message : "?");
		if (err != NULL)
			g_error_free(err);
		return OM_OFFICE_DAMAGED;
	}
	a = om_office_stream(ole, "EncryptionInfo", OM_OFFICE_INFO_MAX, info);
	b = om_office_stream(ole, "EncryptedPackage", max + 8 + OM_OFFICE_SEGMENT, package);
	g_object_unref(ole);
	if (a == 0 || b == 0) {
		*error_r = om_strdup("no EncryptionInfo and EncryptedPackage streams: "
				     "not an encrypted Office Open XML document");
		return OM_OFFICE_NOT_OOXML;
	}
	if (a < 0 || b < 0) {
		*error_r = om_strdup("an encryption stream is unreadable or over the limit");
		return OM_OFFICE_DAMAGED;
	}
	return OM_OFFICE_DECRYPTED;
}

/* ---- old formats: told apart, not decrypted ---- */

#define OM_OFFICE_FIB_ENCRYPTED 0x0100u	/* [MS-DOC] FibBase.fEncrypted */
#define OM_OFFICE_XLS_FILEPASS 0x002fu	/* [MS-XLS] 2.4.117 FilePass */
#define OM_OFFICE_XLS_RECORDS 16	/* FilePass follows BOF closely */

/* The first len bytes of stream name (at most sizeof-able n): 1, 0. */
static int om_office_head(GsfInfile *ole, const char *name, unsigned char *buf, size_t n,
			  size_t *got_r)
{
	GsfInput *in = gsf_infile_child_by_name(ole, name);
	gsf_off_t size;
	int ret = 0;

	if (in == NULL)
		return 0;
	size = gsf_input_size(in);
	if (size > 0) {
		*got_r = (guint64)size < n ? (size_t)size : n;
		ret = gsf_input_read(in, *got_r, buf) != NULL;
	}
	g_object_unref(in);
	return ret;
}

int om_office_legacy_encrypted(const char *data, size_t len)
{
	GsfInput *mem = gsf_input_memory_new((const guint8 *)data, (gsf_off_t)len, FALSE);
	GsfInfile *ole;
	GsfInput *ppt;
	unsigned char head[4096];
	size_t got = 0, off;
	int found = 0, i;

	if (mem == NULL)
		return 0;
	ole = gsf_infile_msole_new(mem, NULL);
	g_object_unref(mem);
	if (ole == NULL)
		return 0;
	if (om_office_head(ole, "WordDocument", head, 12, &got) && got == 12 &&
	    (om_office_le32(head + 8) >> 16 & OM_OFFICE_FIB_ENCRYPTED) != 0)
		found = 1;
	if (!found && (om_office_head(ole, "Workbook", head, sizeof(head), &got) ||
		       om_office_head(ole, "Book", head, sizeof(head), &got))) {
		for (off = 0, i = 0; i < OM_OFFICE_XLS_RECORDS && off + 4 <= got; i++) {
			unsigned int type = head[off] | (unsigned int)head[off + 1] << 8;
			unsigned int size = head[off + 2] | (unsigned int)head[off + 3] << 8;

			if (type == OM_OFFICE_XLS_FILEPASS) {
				found = 1;
				break;
			}
			off += 4 + size;
		}
	}
	if (!found && (ppt = gsf_infile_child_by_name(ole, "EncryptedSummary")) != NULL) {
		g_object_unref(ppt);
		found = 1;
	}
	g_object_unref(ole);
	return found;
}

enum om_office_status om_office_decrypt(const char *data, size_t len,
					const char *password, size_t max,
					struct om_buf *out, char **error_r)
{
	struct om_buf info, package;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *pw = NULL;
	size_t pw_len = 0;
	enum om_office_status status;
	unsigned int major, minor;

	*error_r = NULL;
	om_buf_reset(out);
	om_buf_init(&info);
	om_buf_init(&package);
	status = om_office_streams(data, len, max, &info, &package, error_r);
	if (status != OM_OFFICE_DECRYPTED)
		goto done;
	pw = om_office_password_utf16(password, &pw_len);
	ctx = EVP_MD_CTX_new();
	if (pw == NULL || ctx == NULL) {
		*error_r = om_strdup(pw == NULL ? "the password is not UTF-8 or too long" :
				     "out of memory");
		status = pw == NULL ? OM_OFFICE_WRONG : OM_OFFICE_DAMAGED;
		goto done;
	}
	if (info.len < 8) {
		*error_r = om_strdup("EncryptionInfo is too short");
		status = OM_OFFICE_DAMAGED;
		goto done;
	}
	major = (unsigned int)((unsigned char)info.data[0] | (unsigned char)info.data[1] << 8);
	minor = (unsigned int)((unsigned char)info.data[2] | (unsigned char)info.data[3] << 8);
	if (major == 4 && minor == 4) {
		status = om_office_agile(ctx, &info, &package, pw, pw_len, max, out, error_r);
	} else if ((major == 2 || major == 3 || major == 4) && minor == 2) {
		status = om_office_standard(ctx, &info, &package, pw, pw_len, max, out, error_r);
	} else {
		*error_r = om_asprintf("encryption version %u.%u is not supported "
				       "(extensible encryption, or not Office's)", major, minor);
		status = OM_OFFICE_UNSUPPORTED;
	}
done:
	if (status != OM_OFFICE_DECRYPTED) {
		if (out->data != NULL)
			explicit_bzero(out->data, out->cap);
		om_buf_reset(out);
	} else if (*error_r != NULL) {
		free(*error_r);
		*error_r = NULL;
	}
	if (pw != NULL)
		explicit_bzero(pw, pw_len);
	free(pw);
	EVP_MD_CTX_free(ctx);
	om_buf_free(&info);
	om_buf_free(&package);
	return status;
}
