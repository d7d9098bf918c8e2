/* office-rc4.c - an old-format Office document (.doc, .xls) encrypted with
 * its own RC4 encryption, opened with its password in memory
 * (office-decrypt.h om_office_legacy_decrypt; doc/attachments.md
 * "Unlocking"), per [MS-OFFCRYPTO] 2.3.6 (RC4: a 40-bit MD5 key base,
 * 128-bit block keys) and 2.3.5 (RC4 CryptoAPI: SHA-1, 40 to 128-bit
 * keys), with [MS-DOC] 2.2.6.1 and [MS-XLS] 2.2.10 saying what of each
 * stream is encrypted.
 *
 * RC4 lives in OpenSSL 3's legacy provider: each call builds its own
 * library context (OSSL_LIB_CTX_new, "legacy" and "default" loaded into
 * it) and fetches RC4, MD5 and SHA-1 from there, so the process's global
 * context never offers RC4 to anybody else.  The password is checked with
 * the verifier first; a wrong one decrypts nothing.  The result is a plain
 * compound file written by libgsf (GsfOutfileMSOle into memory): every
 * stream and storage copied, the encrypted streams replaced by their
 * plain text, Word's fEncrypted and lKey cleared, Excel's FILEPASS record
 * removed (the stream positions BoundSheet8, INDEX and ExtSST hold moved
 * with it), PowerPoint's persist objects decrypted each with the key of
 * its persistId ([MS-PPT] 2.3.7), the Current User token set to plain,
 * the UserEditAtoms without their crypt session reference and the
 * EncryptedSummary stream left out (the Pictures stream stays as it is).
 */
#include "scan/office-decrypt.h"

#include <gsf/gsf-infile.h>
#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-input.h>
#include <gsf/gsf-input-memory.h>
#include <gsf/gsf-output.h>
#include <gsf/gsf-output-memory.h>
#include <gsf/gsf-outfile.h>
#include <gsf/gsf-outfile-msole.h>
#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OM_RC4_WORD_BLOCK 512		/* [MS-OFFCRYPTO] 2.3.6.4: Word */
#define OM_RC4_XLS_BLOCK 1024		/* [MS-XLS] 2.2.10: Excel */
#define OM_RC4_FIB_PLAIN 0x44		/* FIB bytes left unencrypted */
#define OM_RC4_FIB_ENCRYPTED 0x0100u
#define OM_RC4_FIB_WHICH_TABLE 0x0200u
#define OM_RC4_FIB_OBFUSCATED 0x8000u
#define OM_RC4_DEPTH_MAX 8		/* storages inside storages */
#define OM_RC4_CHILDREN_MAX 4096	/* streams and storages copied */

#define OM_XLS_BOF 0x0809u
#define OM_XLS_FILEPASS 0x002fu
#define OM_XLS_BOUNDSHEET 0x0085u
#define OM_XLS_INDEX 0x020bu
#define OM_XLS_EXTSST 0x00ffu

/* The key of one document: the verifier's parameters and the crypto of
   its own library context. */
struct om_rc4 {
	OSSL_LIB_CTX *lib;
	OSSL_PROVIDER *legacy, *deflt;
	EVP_CIPHER *rc4;
	EVP_MD *md5, *sha1;
	EVP_MD_CTX *md;
	EVP_CIPHER_CTX *cipher;
	int cryptoapi;
	size_t key_len;			/* CryptoAPI: bytes of the key */
	unsigned char base[20];		/* RC4: 5 bytes; CryptoAPI: H0 */
	unsigned char salt[16], verifier[16], verifier_hash[20];
	size_t hash_len;		/* 16 (MD5) or 20 (SHA-1) */
};

static uint32_t om_rc4_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static unsigned int om_rc4_le16(const unsigned char *p)
{
	return (unsigned int)p[0] | (unsigned int)p[1] << 8;
}

static void om_rc4_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void om_rc4_free(struct om_rc4 *k)
{
	EVP_CIPHER_CTX_free(k->cipher);
	EVP_MD_CTX_free(k->md);
	EVP_MD_free(k->md5);
	EVP_MD_free(k->sha1);
	EVP_CIPHER_free(k->rc4);
	if (k->legacy != NULL)
		(void)OSSL_PROVIDER_unload(k->legacy);
	if (k->deflt != NULL)
		(void)OSSL_PROVIDER_unload(k->deflt);
	OSSL_LIB_CTX_free(k->lib);
	explicit_bzero(k, sizeof(*k));
}

/* The module's own library context with RC4, MD5, SHA-1: 0, -1. */
static int om_rc4_init(struct om_rc4 *k)
{
	memset(k, 0, sizeof(*k));
	k->lib = OSSL_LIB_CTX_new();
	if (k->lib == NULL)
		return -1;
	k->legacy = OSSL_PROVIDER_load(k->lib, "legacy");
	k->deflt = OSSL_PROVIDER_load(k->lib, "default");
	if (k->legacy == NULL || k->deflt == NULL)
		return -1;
	k->rc4 = EVP_CIPHER_fetch(k->lib, "RC4", NULL);
	k->md5 = EVP_MD_fetch(k->lib, "MD5", NULL);
	k->sha1 = EVP_MD_fetch(k->lib, "SHA1", NULL);
	k->md = EVP_MD_CTX_new();
	k->cipher = EVP_CIPHER_CTX_new();
	return k->rc4 != NULL && k->md5 != NULL && k->sha1 != NULL && k->md != NULL &&
		k->cipher != NULL ? 0 : -1;
}

static int om_rc4_hash(struct om_rc4 *k, const EVP_MD *md, const unsigned char *a,
		       size_t alen, const unsigned char *b, size_t blen, unsigned char *out)
{
	unsigned int n;

	return EVP_DigestInit_ex2(k->md, md, NULL) == 1 &&
		EVP_DigestUpdate(k->md, a, alen) == 1 &&
		(blen == 0 || EVP_DigestUpdate(k->md, b, blen) == 1) &&
		EVP_DigestFinal_ex(k->md, out, &n) == 1 ? 0 : -1;
}

/* [MS-OFFCRYPTO] 2.3.6.2 / 2.3.5.2: the part of the key every block
   shares, from the password (UTF-16LE). */
static int om_rc4_base(struct om_rc4 *k, const unsigned char *pw, size_t pw_len)
{
	unsigned char h[16], buf[16 * 21];
	int i, ret;

	if (k->cryptoapi)
		return om_rc4_hash(k, k->sha1, k->salt, 16, pw, pw_len, k->base);
	if (om_rc4_hash(k, k->md5, pw, pw_len, NULL, 0, h) < 0)
		return -1;
	for (i = 0; i < 16; i++) {
		memcpy(buf + 21 * i, h, 5);
		memcpy(buf + 21 * i + 5, k->salt, 16);
	}
	ret = om_rc4_hash(k, k->md5, buf, sizeof(buf), NULL, 0, h);
	memcpy(k->base, h, 5);
	explicit_bzero(h, sizeof(h));
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/* The RC4 state of block number block: 0, -1. */
static int om_rc4_block(struct om_rc4 *k, uint32_t block)
{
	unsigned char b[4], h[20], key[16];
	size_t key_len = 16;
	int ok;

	om_rc4_put_le32(b, block);
	if (om_rc4_hash(k, k->cryptoapi ? k->sha1 : k->md5, k->base,
			k->cryptoapi ? 20 : 5, b, 4, h) < 0)
		return -1;
	memset(key, 0, sizeof(key));
	if (k->cryptoapi) {
		/* a 40-bit key is padded with zeros to 128 bits */
		memcpy(key, h, k->key_len);
		key_len = k->key_len == 5 ? 16 : k->key_len;
	} else {
		memcpy(key, h, 16);
	}
	ok = EVP_CipherInit_ex2(k->cipher, k->rc4, NULL, NULL, 1, NULL) == 1 &&
		EVP_CIPHER_CTX_set_key_length(k->cipher, (int)key_len) == 1 &&
		EVP_CipherInit_ex2(k->cipher, NULL, key, NULL, 1, NULL) == 1;
	explicit_bzero(h, sizeof(h));
	explicit_bzero(key, sizeof(key));
	return ok ? 0 : -1;
}

static int om_rc4_xor(struct om_rc4 *k, const unsigned char *in, size_t len,
		      unsigned char *out)
{
	int n = 0;

	return len <= INT32_MAX && EVP_CipherUpdate(k->cipher, out, &n, in, (int)len) == 1 &&
		(size_t)n == len ? 0 : -1;
}

/* The keystream of a whole stream of len bytes, block by block. */
static int om_rc4_keystream(struct om_rc4 *k, size_t block_size, unsigned char *ks,
			    size_t len)
{
	size_t off, n;

	memset(ks, 0, len);
	for (off = 0; off < len; off += n) {
		n = len - off < block_size ? len - off : block_size;
		if (off / block_size > UINT32_MAX ||
		    om_rc4_block(k, (uint32_t)(off / block_size)) < 0 ||
		    om_rc4_xor(k, ks + off, n, ks + off) < 0)
			return -1;
	}
	return 0;
}

/* An EncryptionHeader ([MS-OFFCRYPTO] 2.3.6.1 RC4, 2.3.5.1 CryptoAPI)
   at p (len bytes): 0, -1 damaged, -2 not an RC4 this file does. */
static int om_rc4_header(struct om_rc4 *k, const unsigned char *p, size_t len)
{
	unsigned int major, minor;
	uint32_t header_size, alg, alg_hash, key_bits;
	const unsigned char *v;

	if (len < 4)
		return -1;
	major = om_rc4_le16(p);
	minor = om_rc4_le16(p + 2);
	if (major == 1 && minor == 1) {
		if (len < 4 + 48)
			return -1;
		memcpy(k->salt, p + 4, 16);
		memcpy(k->verifier, p + 20, 16);
		memcpy(k->verifier_hash, p + 36, 16);
		k->hash_len = 16;
		return 0;
	}
	if ((major != 2 && major != 3 && major != 4) || minor != 2)
		return -2;
	if (len < 12)
		return -1;
	header_size = om_rc4_le32(p + 8);
	if (header_size < 32 || header_size > len - 12 || len - 12 - header_size < 4 + 16 + 16 + 4 + 20)
		return -1;
	alg = om_rc4_le32(p + 12 + 8);
	alg_hash = om_rc4_le32(p + 12 + 12);
	key_bits = om_rc4_le32(p + 12 + 16);
	if (key_bits == 0)
		key_bits = 40;
	if (alg != 0x6801 || (alg_hash != 0 && alg_hash != 0x8004) || key_bits < 40 ||
	    key_bits > 128 || key_bits % 8 != 0)
		return -2;
	v = p + 12 + header_size;
	if (om_rc4_le32(v) != 16 || om_rc4_le32(v + 36) != 20)
		return -1;
	memcpy(k->salt, v + 4, 16);
	memcpy(k->verifier, v + 20, 16);
	memcpy(k->verifier_hash, v + 40, 20);
	k->hash_len = 20;
	k->cryptoapi = 1;
	k->key_len = key_bits / 8;
	return 0;
}

/* The verifier ([MS-OFFCRYPTO] 2.3.6.4, 2.3.5.6): block 0's key
   decrypts the verifier and its hash as one run; 0 right, -1 wrong, -2
   could not compute. */
static int om_rc4_verify(struct om_rc4 *k, const unsigned char *pw, size_t pw_len)
{
	unsigned char buf[36], check[20];
	int ret = -2;

	memcpy(buf, k->verifier, 16);
	memcpy(buf + 16, k->verifier_hash, k->hash_len);
	if (om_rc4_base(k, pw, pw_len) == 0 && om_rc4_block(k, 0) == 0 &&
	    om_rc4_xor(k, buf, 16 + k->hash_len, buf) == 0 &&
	    om_rc4_hash(k, k->cryptoapi ? k->sha1 : k->md5, buf, 16, NULL, 0, check) == 0)
		ret = CRYPTO_memcmp(check, buf + 16, k->hash_len) == 0 ? 0 : -1;
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(check, sizeof(check));
	return ret;
}

/* ---- the compound file, read and written by libgsf ---- */

/* One stream's new text, by its name at the root. */
struct om_rc4_stream {
	const char *name;
	struct om_buf data;
};

#define OM_RC4_STREAMS 3

struct om_rc4_doc {
	GsfInfile *ole;
	struct om_rc4_stream plain[OM_RC4_STREAMS];
	const char *skip;		/* a root stream left out, or NULL */
	size_t max, total;
};

/* Stream name of ole whole into out (at most max bytes): 1, 0 absent,
   -1 too large or unreadable. */
static int om_rc4_read(GsfInfile *ole, const char *name, size_t max, struct om_buf *out)
{
	GsfInput *in = gsf_infile_child_by_name(ole, name);
	gsf_off_t size;
	int ret = 1;

	if (in == NULL)
		return 0;
	size = gsf_input_size(in);
	om_buf_reset(out);
	if (size < 0 || (guint64)size > max) {
		ret = -1;
	} else {
		om_buf_reserve(out, (size_t)size + 1);
		if (size > 0 && gsf_input_read(in, (size_t)size, (guint8 *)out->data) == NULL)
			ret = -1;
		else
			out->len = (size_t)size;
	}
	g_object_unref(in);
	return ret;
}

static int om_rc4_copy(struct om_rc4_doc *d, GsfInfile *in, GsfOutfile *out, int depth);

/* One child of in copied to out: its new text when it is a replaced
   root stream.  0, -1. */
static int om_rc4_copy_child(struct om_rc4_doc *d, GsfInfile *in, GsfOutfile *out,
			     int i, int depth)
{
	GsfInput *child = gsf_infile_child_by_index(in, i);
	const char *name = gsf_infile_name_by_index(in, i);
	const struct om_buf *repl = NULL;
	GsfOutput *o = NULL;
	guint8 buf[16384], clsid[16];
	gsf_off_t left;
	size_t n, j;
	int ret = -1, dir;

	if (child == NULL || name == NULL)
		goto done;
	if (depth == 0 && d->skip != NULL && strcmp(name, d->skip) == 0) {
		ret = 0;
		goto done;
	}
	dir = GSF_IS_INFILE(child) && gsf_infile_num_children(GSF_INFILE(child)) >= 0;
	o = gsf_outfile_new_child(out, name, dir);
	if (o == NULL)
		goto done;
	if (dir) {
		if (gsf_infile_msole_get_class_id(GSF_INFILE_MSOLE(child), clsid))
			(void)gsf_outfile_msole_set_class_id(GSF_OUTFILE_MSOLE(o), clsid);
		ret = om_rc4_copy(d, GSF_INFILE(child), GSF_OUTFILE(o), depth + 1);
		goto done;
	}
	for (j = 0; depth == 0 && j < OM_RC4_STREAMS; j++) {
		if (d->plain[j].name != NULL && strcmp(d->plain[j].name, name) == 0)
			repl = &d->plain[j].data;
	}
	if (repl != NULL) {
		ret = repl->len == 0 || gsf_output_write(o, repl->len,
							 (const guint8 *)repl->data) ? 0 : -1;
		goto done;
	}
	left = gsf_input_size(child);
	if (left < 0 || (guint64)left > d->max - d->total)
		goto done;
	d->total += (size_t)left;
	while (left > 0) {
		n = left > (gsf_off_t)sizeof(buf) ? sizeof(buf) : (size_t)left;
		if (gsf_input_read(child, n, buf) == NULL || !gsf_output_write(o, n, buf))
			goto done;
		left -= (gsf_off_t)n;
	}
	ret = 0;
done:
	if (o != NULL) {
		if (!gsf_output_close(o))
			ret = -1;
		g_object_unref(o);
	}
	if (child != NULL)
		g_object_unref(child);
	return ret;
}

static int om_rc4_copy(struct om_rc4_doc *d, GsfInfile *in, GsfOutfile *out, int depth)
{
	int i, n = gsf_infile_num_children(in);

	if (depth > OM_RC4_DEPTH_MAX || n > OM_RC4_CHILDREN_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (om_rc4_copy_child(d, in, out, i, depth) < 0)
			return -1;
	}
	return 0;
}

/* The whole compound file again, with d's new streams, into out. */
static int om_rc4_write(struct om_rc4_doc *d, struct om_buf *out)
{
	GsfOutput *sink = gsf_output_memory_new();
	GsfOutfile *ole;
	guint8 clsid[16];
	const guint8 *bytes;
	gsf_off_t size;
	int ret;

	if (sink == NULL)
		return -1;
	ole = gsf_outfile_msole_new(sink);
	if (ole == NULL) {
		g_object_unref(sink);
		return -1;
	}
	if (gsf_infile_msole_get_class_id(GSF_INFILE_MSOLE(d->ole), clsid))
		(void)gsf_outfile_msole_set_class_id(GSF_OUTFILE_MSOLE(ole), clsid);
	ret = om_rc4_copy(d, d->ole, ole, 0);
	if (!gsf_output_close(GSF_OUTPUT(ole)))
		ret = -1;
	g_object_unref(ole);
	bytes = gsf_output_memory_get_bytes(GSF_OUTPUT_MEMORY(sink));
	size = gsf_output_size(sink);
	if (ret == 0 && bytes != NULL && size > 0) {
		om_buf_reset(out);
		om_buf_append(out, bytes, (size_t)size);
	} else {
		ret = -1;
	}
	/* closing the compound file closed its sink already */
	if (!gsf_output_is_closed(sink))
		(void)gsf_output_close(sink);
	g_object_unref(sink);
	return ret;
}

/* ---- Word ([MS-DOC] 2.2.6.1) ---- */

/* Decrypts in place from position from: the stream's keystream XORed. */
static int om_rc4_stream_decrypt(struct om_rc4 *k, size_t block, struct om_buf *s,
				 size_t from)
{
	unsigned char *ks;
	size_t i;
	int ret;

	if (s->len == 0)
		return 0;
	ks = om_malloc(s->len);
	ret = om_rc4_keystream(k, block, ks, s->len);
	for (i = from; ret == 0 && i < s->len; i++)
		s->data[i] ^= (char)ks[i];
	explicit_bzero(ks, s->len);
	free(ks);
	return ret;
}

static enum om_office_status om_rc4_word(struct om_rc4_doc *d, struct om_rc4 *k,
					 const unsigned char *pw, size_t pw_len,
					 char **error_r)
{
	struct om_buf *word = &d->plain[0].data, *table = &d->plain[1].data;
	struct om_buf *data = &d->plain[2].data;
	unsigned char *fib;
	unsigned int flags;
	uint32_t lkey;
	int ret;

	d->plain[0].name = "WordDocument";
	if (om_rc4_read(d->ole, "WordDocument", d->max, word) != 1 ||
	    word->len < OM_RC4_FIB_PLAIN) {
		*error_r = om_strdup("the WordDocument stream is unreadable or too large");
		return OM_OFFICE_DAMAGED;
	}
	fib = (unsigned char *)word->data;
	flags = om_rc4_le16(fib + 0x0a);
	lkey = om_rc4_le32(fib + 0x0e);
	if ((flags & OM_RC4_FIB_ENCRYPTED) == 0) {
		*error_r = om_strdup("the Word document is not encrypted");
		return OM_OFFICE_NOT_OOXML;
	}
	if ((flags & OM_RC4_FIB_OBFUSCATED) != 0) {
		*error_r = om_strdup("XOR obfuscation (Word 95's) is not supported");
		return OM_OFFICE_UNSUPPORTED;
	}
	d->plain[1].name = (flags & OM_RC4_FIB_WHICH_TABLE) != 0 ? "1Table" : "0Table";
	ret = om_rc4_read(d->ole, d->plain[1].name, d->max - word->len, table);
	if (ret != 1 || lkey > table->len) {
		*error_r = om_strdup("the table stream is missing, unreadable or too short");
		return OM_OFFICE_DAMAGED;
	}
	ret = om_rc4_header(k, (const unsigned char *)table->data, lkey);
	if (ret < 0) {
		*error_r = om_strdup(ret == -1 ? "the Word encryption header is malformed" :
				     "this Word encryption is not RC4 or RC4 CryptoAPI");
		return ret == -1 ? OM_OFFICE_DAMAGED : OM_OFFICE_UNSUPPORTED;
	}
	ret = om_rc4_verify(k, pw, pw_len);
	if (ret < 0) {
		*error_r = om_strdup(ret == -1 ? "wrong password" : "the verifier could not be computed");
		return ret == -1 ? OM_OFFICE_WRONG : OM_OFFICE_DAMAGED;
	}
	d->plain[2].name = "Data";
	ret = om_rc4_read(d->ole, "Data", d->max - word->len - table->len, data);
	if (ret < 0 ||
	    om_rc4_stream_decrypt(k, OM_RC4_WORD_BLOCK, word, OM_RC4_FIB_PLAIN) < 0 ||
	    om_rc4_stream_decrypt(k, OM_RC4_WORD_BLOCK, table, lkey) < 0 ||
	    om_rc4_stream_decrypt(k, OM_RC4_WORD_BLOCK, data, 0) < 0) {
		*error_r = om_strdup("a Word stream could not be decrypted");
		return OM_OFFICE_DAMAGED;
	}
	if (ret == 0)
		d->plain[2].name = NULL;
	/* the document says it is not encrypted any more */
	flags &= ~(OM_RC4_FIB_ENCRYPTED | OM_RC4_FIB_OBFUSCATED);
	fib[0x0a] = (unsigned char)flags;
	fib[0x0b] = (unsigned char)(flags >> 8);
	om_rc4_put_le32(fib + 0x0e, 0);
	d->total = word->len + table->len + data->len;
	return OM_OFFICE_DECRYPTED;
}

/* ---- Excel ([MS-XLS] 2.2.10) ---- */

/* 1 for the records whose data is never encrypted */
static int om_rc4_xls_plain(unsigned int type)
{
	return type == OM_XLS_BOF || type == OM_XLS_FILEPASS || type == 0x0194 ||
		type == 0x0195 || type == 0x00e1 || type == 0x0196 || type == 0x0138;
}

/* A stream position p held at q, moved back by shift when past cut */
static void om_rc4_xls_move(unsigned char *q, size_t cut, size_t shift)
{
	uint32_t p = om_rc4_le32(q);

	if (p > cut)
		om_rc4_put_le32(q, (uint32_t)(p - shift));
}

/* The Workbook stream decrypted record by record, FILEPASS (at cut,
   shift bytes long) taken out, the positions after it moved: 0, -1. */
static int om_rc4_xls_records(struct om_rc4 *k, struct om_buf *s, size_t cut, size_t shift)
{
	unsigned char *p = (unsigned char *)s->data, *ks;
	unsigned int type, size, i, n;
	size_t off, j;
	int ret;

	ks = om_malloc(s->len + 1);
	ret = om_rc4_keystream(k, OM_RC4_XLS_BLOCK, ks, s->len);
	for (off = 0; ret == 0 && off + 4 <= s->len; off += 4 + size) {
		type = om_rc4_le16(p + off);
		size = om_rc4_le16(p + off + 2);
		if (size > s->len - off - 4) {
			ret = -1;
			break;
		}
		if (om_rc4_xls_plain(type))
			continue;
		/* BoundSheet8's lbPlyPos stays plain */
		j = type == OM_XLS_BOUNDSHEET ? 4 : 0;
		for (; j < size; j++)
			p[off + 4 + j] ^= ks[off + 4 + j];
		if (type == OM_XLS_BOUNDSHEET && size >= 4) {
			om_rc4_xls_move(p + off + 4, cut, shift);
		} else if (type == OM_XLS_INDEX && size >= 16) {
			/* ibXF and rgibRw: positions of DefColWidth, DBCELLs */
			for (i = 12; i + 4 <= size; i += 4)
				om_rc4_xls_move(p + off + 4 + i, cut, shift);
		} else if (type == OM_XLS_EXTSST && size >= 2) {
			n = (size - 2) / 8;
			for (i = 0; i < n; i++)
				om_rc4_xls_move(p + off + 4 + 2 + 8 * i, cut, shift);
		}
	}
	explicit_bzero(ks, s->len);
	free(ks);
	if (ret == 0) {
		memmove(p + cut, p + cut + shift, s->len - cut - shift);
		s->len -= shift;
	}
	return ret;
}

static enum om_office_status om_rc4_excel(struct om_rc4_doc *d, struct om_rc4 *k,
					  const char *name, const unsigned char *pw,
					  size_t pw_len, char **error_r)
{
	struct om_buf *s = &d->plain[0].data;
	const unsigned char *p;
	unsigned int type = 0, size = 0;
	size_t off;
	int i, ret;

	d->plain[0].name = name;
	if (om_rc4_read(d->ole, name, d->max, s) != 1) {
		*error_r = om_strdup("the Workbook stream is unreadable or too large");
		return OM_OFFICE_DAMAGED;
	}
	p = (const unsigned char *)s->data;
	for (off = 0, i = 0; i < 16 && off + 4 <= s->len; i++, off += 4 + size) {
		type = om_rc4_le16(p + off);
		size = om_rc4_le16(p + off + 2);
		if (type == OM_XLS_FILEPASS)
			break;
	}
	if (type != OM_XLS_FILEPASS || off + 4 > s->len) {
		*error_r = om_strdup("the workbook is not encrypted");
		return OM_OFFICE_NOT_OOXML;
	}
	if (size > s->len - off - 4 || size < 2) {
		*error_r = om_strdup("the FILEPASS record is malformed");
		return OM_OFFICE_DAMAGED;
	}
	if (om_rc4_le16(p + off + 4) != 1) {
		*error_r = om_strdup("XOR obfuscation of a workbook is not supported");
		return OM_OFFICE_UNSUPPORTED;
	}
	ret = om_rc4_header(k, p + off + 6, size - 2);
	if (ret < 0) {
		*error_r = om_strdup(ret == -1 ? "the workbook's encryption header is malformed" :
				     "this workbook encryption is not RC4 or RC4 CryptoAPI");
		return ret == -1 ? OM_OFFICE_DAMAGED : OM_OFFICE_UNSUPPORTED;
	}
	ret = om_rc4_verify(k, pw, pw_len);
	if (ret < 0) {
		*error_r = om_strdup(ret == -1 ? "wrong password" : "the verifier could not be computed");
		return ret == -1 ? OM_OFFICE_WRONG : OM_OFFICE_DAMAGED;
	}
	if (om_rc4_xls_records(k, s, off, 4 + (size_t)size) < 0) {
		*error_r = om_strdup("the workbook's records are malformed");
		return OM_OFFICE_DAMAGED;
	}
	d->total = s->len;
	return OM_OFFICE_DECRYPTED;
}

/* ---- PowerPoint ([MS-PPT] 2.3.7, [MS-OFFCRYPTO] 2.3.5) ---- */

#define OM_PPT_TOKEN_PLAIN 0xe391c05fu
#define OM_PPT_TOKEN_ENCRYPTED 0xf3d1c4dfu
#define OM_PPT_USER_EDIT 0x0ff5u
#define OM_PPT_PERSIST_DIR 0x1772u
#define OM_PPT_CRYPT_SESSION 0x2f14u
#define OM_PPT_EDITS_MAX 256		/* UserEditAtoms followed back */
#define OM_PPT_OBJECTS_MAX 65536	/* persist objects decrypted */

/* A record header at off of s (recType, recLen; the record inside s):
   0, -1. */
static int om_ppt_record(const struct om_buf *s, size_t off, unsigned int *type,
			 uint32_t *len)
{
	const unsigned char *p = (const unsigned char *)s->data;

	if (off > s->len || s->len - off < 8)
		return -1;
	*type = om_rc4_le16(p + off + 2);
	*len = om_rc4_le32(p + off + 4);
	return *len <= s->len - off - 8 ? 0 : -1;
}

/* The live persist directory: every UserEditAtom from the current one
   back, the newest offset of each persistId kept (ids: persistId ->
   offset + 1).  Also the crypt session's persistId: 0, -1. */
static int om_ppt_directory(const struct om_buf *s, uint32_t edit, GHashTable *ids,
			    uint32_t *session_r, GArray *edits)
{
	const unsigned char *p = (const unsigned char *)s->data;
	unsigned int type, i;
	uint32_t len, dlen, dir, entry, id, n, j;
	size_t off;

	*session_r = 0;
	for (i = 0; i < OM_PPT_EDITS_MAX; i++) {
		if (om_ppt_record(s, edit, &type, &len) < 0 || type != OM_PPT_USER_EDIT ||
		    len < 0x1c)
			return -1;
		g_array_append_val(edits, edit);
		if (i == 0 && len >= 0x20)
			*session_r = om_rc4_le32(p + edit + 8 + 28);
		dir = om_rc4_le32(p + edit + 8 + 12);
		if (om_ppt_record(s, dir, &type, &dlen) < 0 || type != OM_PPT_PERSIST_DIR)
			return -1;
		for (off = 0; off + 4 <= dlen;) {
			entry = om_rc4_le32(p + dir + 8 + off);
			id = entry & 0xfffffu;
			n = entry >> 20;
			off += 4;
			if ((size_t)n * 4 > dlen - off)
				return -1;
			for (j = 0; j < n; j++, off += 4) {
				if (g_hash_table_size(ids) >= OM_PPT_OBJECTS_MAX)
					return -1;
				if (!g_hash_table_contains(ids, GUINT_TO_POINTER(id + j)))
					g_hash_table_insert(ids, GUINT_TO_POINTER(id + j),
							    GUINT_TO_POINTER(om_rc4_le32(p + dir + 8 + off) + 1));
			}
		}
		edit = om_rc4_le32(p + edit + 8 + 8);
		if (edit == 0)
			return 0;
	}
	return -1;
}

/* Every persist object but the crypt session decrypted in place, each
   from the start of the keystream of its persistId: 0, -1. */
static int om_ppt_objects(struct om_rc4 *k, struct om_buf *s, GHashTable *ids,
			  uint32_t session)
{
	GHashTableIter it;
	gpointer key, value;
	unsigned char head[8];
	unsigned char *p = (unsigned char *)s->data;
	size_t off;
	uint32_t len;

	g_hash_table_iter_init(&it, ids);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		off = (size_t)GPOINTER_TO_UINT(value) - 1;
		if (GPOINTER_TO_UINT(key) == session)
			continue;
		if (off > s->len || s->len - off < 8 ||
		    om_rc4_block(k, GPOINTER_TO_UINT(key)) < 0 ||
		    om_rc4_xor(k, p + off, 8, head) < 0)
			return -1;
		len = om_rc4_le32(head + 4);
		if (len > s->len - off - 8 || om_rc4_block(k, GPOINTER_TO_UINT(key)) < 0 ||
		    om_rc4_xor(k, p + off, 8 + (size_t)len, p + off) < 0)
			return -1;
	}
	return 0;
}

static enum om_office_status om_rc4_ppt(struct om_rc4_doc *d, struct om_rc4 *k,
					const unsigned char *pw, size_t pw_len,
					char **error_r)
{
	struct om_buf *doc = &d->plain[0].data, *cu = &d->plain[1].data;
	GHashTable *ids = g_hash_table_new(g_direct_hash, g_direct_equal);
	GArray *edits = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	enum om_office_status status = OM_OFFICE_DAMAGED;
	unsigned char *p;
	unsigned int type;
	uint32_t session = 0, len, off, at;
	gpointer value;
	guint i;
	int ret;

	d->plain[0].name = "PowerPoint Document";
	d->plain[1].name = "Current User";
	if (om_rc4_read(d->ole, "PowerPoint Document", d->max, doc) != 1 ||
	    om_rc4_read(d->ole, "Current User", 4096, cu) != 1 || cu->len < 20) {
		*error_r = om_strdup("the presentation's streams are unreadable or too large");
		goto done;
	}
	p = (unsigned char *)cu->data;
	if (om_rc4_le32(p + 12) != OM_PPT_TOKEN_ENCRYPTED) {
		*error_r = om_strdup("the presentation is not encrypted");
		status = OM_OFFICE_NOT_OOXML;
		goto done;
	}
	if (om_ppt_directory(doc, om_rc4_le32(p + 16), ids, &session, edits) < 0 ||
	    session == 0 || !g_hash_table_contains(ids, GUINT_TO_POINTER(session))) {
		*error_r = om_strdup("the presentation's edits or persist directory are malformed");
		goto done;
	}
	value = g_hash_table_lookup(ids, GUINT_TO_POINTER(session));
	off = GPOINTER_TO_UINT(value) - 1;
	if (om_ppt_record(doc, off, &type, &len) < 0 || type != OM_PPT_CRYPT_SESSION) {
		*error_r = om_strdup("the presentation's CryptSession10Container is missing");
		goto done;
	}
	ret = om_rc4_header(k, (const unsigned char *)doc->data + off + 8, len);
	if (ret < 0 || !k->cryptoapi) {
		*error_r = om_strdup(ret == -1 ? "the presentation's encryption header is malformed" :
				     "this presentation's encryption is not RC4 CryptoAPI");
		status = ret == -1 ? OM_OFFICE_DAMAGED : OM_OFFICE_UNSUPPORTED;
		goto done;
	}
	ret = om_rc4_verify(k, pw, pw_len);
	if (ret < 0) {
		*error_r = om_strdup(ret == -1 ? "wrong password" : "the verifier could not be computed");
		status = ret == -1 ? OM_OFFICE_WRONG : OM_OFFICE_DAMAGED;
		goto done;
	}
	if (om_ppt_objects(k, doc, ids, session) < 0) {
		*error_r = om_strdup("a persist object of the presentation is malformed");
		goto done;
	}
	/* not encrypted any more: the plain token, each UserEditAtom without
	   its encryptSessionPersistIdRef (recLen 0x1c, the field zeroed);
	   the EncryptedSummary stream left out.  The Pictures stream is
	   copied as it is (its pictures stay encrypted). */
	om_rc4_put_le32(p + 12, OM_PPT_TOKEN_PLAIN);
	for (i = 0; i < edits->len; i++) {
		unsigned char *e;

		at = g_array_index(edits, uint32_t, i);
		if (at > doc->len || doc->len - at < 8 + 0x20)
			continue;
		e = (unsigned char *)doc->data + at;
		if (om_rc4_le32(e + 4) >= 0x20) {
			om_rc4_put_le32(e + 4, 0x1c);
			om_rc4_put_le32(e + 8 + 28, 0);
		}
	}
	d->skip = "EncryptedSummary";
	d->total = doc->len + cu->len;
	status = OM_OFFICE_DECRYPTED;
done:
	g_hash_table_destroy(ids);
	g_array_free(edits, TRUE);
	return status;
}

/* ---- the entry point ---- */

enum om_office_status om_office_legacy_decrypt(const char *data, size_t len,
					       const char *password, size_t max,
					       struct om_buf *out, char **error_r)
{
	GsfInput *mem;
	GsfInput *probe;
	struct om_rc4_doc d;
	struct om_rc4 k;
	unsigned char *pw;
	size_t pw_len = 0, i;
	enum om_office_status status = OM_OFFICE_DAMAGED;

	*error_r = NULL;
	om_buf_reset(out);
	memset(&d, 0, sizeof(d));
	for (i = 0; i < OM_RC4_STREAMS; i++)
		om_buf_init(&d.plain[i].data);
	d.max = max;
	pw = om_office_password_utf16(password, &pw_len);
	if (pw == NULL) {
		*error_r = om_strdup("the password is not UTF-8 or too long");
		return OM_OFFICE_WRONG;
	}
	if (om_rc4_init(&k) < 0) {
		*error_r = om_strdup("OpenSSL's legacy provider (RC4) is not available");
		om_rc4_free(&k);
		explicit_bzero(pw, pw_len);
		free(pw);
		return OM_OFFICE_UNSUPPORTED;
	}
	mem = gsf_input_memory_new((const guint8 *)data, (gsf_off_t)len, FALSE);
	d.ole = mem != NULL ? gsf_infile_msole_new(mem, NULL) : NULL;
	if (mem != NULL)
		g_object_unref(mem);
	if (d.ole == NULL) {
		*error_r = om_strdup("not an OLE compound file");
		goto done;
	}
	if ((probe = gsf_infile_child_by_name(d.ole, "WordDocument")) != NULL) {
		g_object_unref(probe);
		status = om_rc4_word(&d, &k, pw, pw_len, error_r);
	} else if ((probe = gsf_infile_child_by_name(d.ole, "Workbook")) != NULL) {
		g_object_unref(probe);
		status = om_rc4_excel(&d, &k, "Workbook", pw, pw_len, error_r);
	} else if ((probe = gsf_infile_child_by_name(d.ole, "PowerPoint Document")) != NULL) {
		g_object_unref(probe);
		status = om_rc4_ppt(&d, &k, pw, pw_len, error_r);
	} else {
		*error_r = om_strdup("not an encrypted Word or Excel 97-2003 document");
		status = OM_OFFICE_NOT_OOXML;
	}
	if (status == OM_OFFICE_DECRYPTED && om_rc4_write(&d, out) < 0) {
		*error_r = om_strdup("the decrypted document could not be written (over the "
				     "limit, or a damaged compound file)");
		status = OM_OFFICE_DAMAGED;
	}
done:
	if (status != OM_OFFICE_DECRYPTED) {
		if (out->data != NULL)
			explicit_bzero(out->data, out->cap);
		om_buf_reset(out);
	} else {
		free(*error_r);
		*error_r = NULL;
	}
	if (*error_r == NULL && status != OM_OFFICE_DECRYPTED)
		*error_r = om_strdup("the document could not be read");
	for (i = 0; i < OM_RC4_STREAMS; i++) {
		if (d.plain[i].data.data != NULL)
			explicit_bzero(d.plain[i].data.data, d.plain[i].data.cap);
		om_buf_free(&d.plain[i].data);
	}
	if (d.ole != NULL)
		g_object_unref(d.ole);
	om_rc4_free(&k);
	explicit_bzero(pw, pw_len);
	free(pw);
	return status;
}
