/*
 * Sealed record (big-endian):
 *
 *	u32 magic "HVSL"  u8 version  u8 flags (1 = zstd)  u16 zero
 *	u64 disk  u64 seq  u32 payload length  u32 body length
 *	12-byte nonce
 *	body: AES-256-GCM of { u8 type, 7 zero, u64 offset, u64 aux,
 *	      payload (zstd frame when flags & 1) }
 *	16-byte tag
 *
 * The 44 header bytes are the AAD.  Nonces are random, not counters: a
 * counter would restart with the process and repeat under the same key.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zstd.h>

#include "endian_be.h"
#include "seal.h"

#define SEAL_MAGIC	0x4856534cu	/* "HVSL" */
#define SEAL_VERSION	1
#define SF_ZSTD		0x01
#define INNER_HDR	24
#define NONCE_LEN	12
#define MIN_COMPRESS	128	/* smaller payloads are stored */

struct seal {
	EVP_CIPHER	*cipher;
	EVP_CIPHER_CTX	*enc;
	EVP_CIPHER_CTX	*dec;
	ZSTD_CCtx	*zc;
	ZSTD_DCtx	*zd;
	int		 level;
	struct fbuf	 z;	/* compressed payload, or decrypted body */
	struct fbuf	 plain;	/* decompressed payload */
};





static const char *
ossl_err(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

struct seal *
seal_new(const uint8_t key[SEAL_KEYLEN], int level, char **cause)
{
	struct seal	*s;

	if (level < 0 || level > 3) {
		set_cause(cause, "compression level %d is out of range "
		    "(0 stores, 1..3 compress)", level);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->level = level;
	fbuf_init(&s->z);
	fbuf_init(&s->plain);
	if ((s->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (s->enc = EVP_CIPHER_CTX_new()) == NULL ||
	    (s->dec = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex2(s->enc, s->cipher, key, NULL, NULL) ||
	    !EVP_DecryptInit_ex2(s->dec, s->cipher, key, NULL, NULL)) {
		set_cause(cause, "cannot set up AES-256-GCM: %s", ossl_err());
		seal_free(s);
		return NULL;
	}
	if ((s->zc = ZSTD_createCCtx()) == NULL ||
	    (s->zd = ZSTD_createDCtx()) == NULL) {
		set_cause(cause, "cannot set up zstd: out of memory");
		seal_free(s);
		return NULL;
	}
	return s;
}

void
seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	EVP_CIPHER_free(s->cipher);
	ZSTD_freeCCtx(s->zc);
	ZSTD_freeDCtx(s->zd);
	if (s->plain.data != NULL)
		OPENSSL_cleanse(s->plain.data, s->plain.cap);
	if (s->z.data != NULL)
		OPENSSL_cleanse(s->z.data, s->z.cap);
	fbuf_free(&s->z);
	fbuf_free(&s->plain);
	free(s);
}

int
seal_record(struct seal *s, uint64_t disk, const struct cachelog_rec *r,
    struct fbuf *out, char **cause)
{
	const uint8_t	*body = r->data;
	const char	*why;
	uint8_t		*h, inner[INNER_HDR];
	size_t		 blen = r->len, bound, zn, start = out->len;
	int		 n, flags = 0;

	if ((why = cachelog_rec_invalid(r)) != NULL) {
		set_cause(cause, "cannot seal record seq %" PRIu64 ": %s",
		    r->seq, why);
		return -1;
	}
	if (s->level > 0 && r->len >= MIN_COMPRESS) {
		bound = ZSTD_compressBound(r->len);
		fbuf_reset(&s->z);
		fbuf_reserve(&s->z, bound);
		zn = ZSTD_compressCCtx(s->zc, s->z.data, bound, r->data, r->len,
		    s->level);
		if (ZSTD_isError(zn)) {
			set_cause(cause, "cannot compress record seq %" PRIu64
			    ": %s", r->seq, ZSTD_getErrorName(zn));
			return -1;
		}
		if (zn < r->len) {
			body = s->z.data;
			blen = zn;
			flags = SF_ZSTD;
		}
	}

	fbuf_reserve(out, SEAL_HDR + INNER_HDR + blen + SEAL_TAGLEN);
	h = out->data + start;
	memset(h, 0, SEAL_HDR);
	put32(h, SEAL_MAGIC);
	h[4] = SEAL_VERSION;
	h[5] = (uint8_t)flags;
	put64(h + 8, disk);
	put64(h + 16, r->seq);
	put32(h + 24, r->len);
	put32(h + 28, (uint32_t)(INNER_HDR + blen));
	if (RAND_bytes(h + 32, NONCE_LEN) != 1) {
		set_cause(cause, "cannot draw a nonce: %s", ossl_err());
		return -1;
	}
	memset(inner, 0, sizeof(inner));
	inner[0] = r->type;
	put64(inner + 8, r->offset);
	put64(inner + 16, r->aux);

	if (!EVP_EncryptInit_ex2(s->enc, NULL, NULL, h + 32, NULL) ||
	    !EVP_EncryptUpdate(s->enc, NULL, &n, h, SEAL_HDR) ||
	    !EVP_EncryptUpdate(s->enc, h + SEAL_HDR, &n, inner, INNER_HDR) ||
	    (blen > 0 && !EVP_EncryptUpdate(s->enc, h + SEAL_HDR + INNER_HDR,
	    &n, body, (int)blen)) ||
	    !EVP_EncryptFinal_ex(s->enc, h + SEAL_HDR + INNER_HDR + blen, &n) ||
	    !EVP_CIPHER_CTX_ctrl(s->enc, EVP_CTRL_GCM_GET_TAG, SEAL_TAGLEN,
	    h + SEAL_HDR + INNER_HDR + blen)) {
		set_cause(cause, "cannot encrypt record seq %" PRIu64 ": %s",
		    r->seq, ossl_err());
		return -1;
	}
	out->len = start + SEAL_HDR + INNER_HDR + blen + SEAL_TAGLEN;
	return 0;
}

int
seal_peek(const void *buf, size_t len, uint64_t *disk, uint64_t *seq,
    char **cause)
{
	const uint8_t	*h = buf;

	if (len < SEAL_HDR + INNER_HDR + SEAL_TAGLEN) {
		set_cause(cause, "sealed record of %zu bytes is too short "
		    "(truncated in transit?)", len);
		return -1;
	}
	if (get32(h) != SEAL_MAGIC) {
		set_cause(cause, "not a sealed Haven record (bad magic)");
		return -1;
	}
	if (h[4] != SEAL_VERSION) {
		set_cause(cause, "sealed record version %u is not supported "
		    "(this build reads version %u): upgrade the master target",
		    h[4], SEAL_VERSION);
		return -1;
	}
	*disk = get64(h + 8);
	*seq = get64(h + 16);
	return 0;
}

int
seal_open(struct seal *s, uint64_t disk, const void *buf, size_t len,
    struct cachelog_rec *r, char **cause)
{
	const uint8_t	*h = buf, *body, *payload;
	const char	*why;
	uint64_t	 rdisk, seq;
	uint32_t	 plen, blen;
	size_t		 zn;
	int		 n;

	if (seal_peek(buf, len, &rdisk, &seq, cause) == -1)
		return -1;
	if (rdisk != disk) {
		set_cause(cause, "sealed record seq %" PRIu64 " belongs to "
		    "disk %" PRIu64 ", not disk %" PRIu64 ": refused", seq,
		    rdisk, disk);
		return -1;
	}
	plen = get32(h + 24);
	blen = get32(h + 28);
	if ((h[5] & ~SF_ZSTD) != 0 || h[6] != 0 || h[7] != 0 ||
	    blen < INNER_HDR || (size_t)blen + SEAL_HDR + SEAL_TAGLEN != len ||
	    plen > CACHELOG_MAXPAYLOAD ||
	    (!(h[5] & SF_ZSTD) && blen - INNER_HDR != plen)) {
		set_cause(cause, "sealed record seq %" PRIu64 " of disk %"
		    PRIu64 " has an inconsistent header: corrupt or truncated "
		    "in transit", seq, disk);
		return -1;
	}
	body = h + SEAL_HDR;
	fbuf_reset(&s->z);
	fbuf_reserve(&s->z, blen);
	if (!EVP_DecryptInit_ex2(s->dec, NULL, NULL, h + 32, NULL) ||
	    !EVP_DecryptUpdate(s->dec, NULL, &n, h, SEAL_HDR) ||
	    !EVP_DecryptUpdate(s->dec, s->z.data, &n, body, (int)blen) ||
	    !EVP_CIPHER_CTX_ctrl(s->dec, EVP_CTRL_GCM_SET_TAG, SEAL_TAGLEN,
	    (void *)(body + blen)) ||
	    EVP_DecryptFinal_ex(s->dec, s->z.data + blen, &n) != 1) {
		ERR_clear_error();
		set_cause(cause, "sealed record seq %" PRIu64 " of disk %"
		    PRIu64 " failed authentication: it was altered in transit "
		    "or on disk, or sealed with another key (check that both "
		    "sides hold the disk's current key); not applied", seq,
		    disk);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->type = s->z.data[0];
	r->offset = get64(s->z.data + 8);
	r->aux = get64(s->z.data + 16);
	r->len = plen;
	payload = s->z.data + INNER_HDR;
	if (h[5] & SF_ZSTD) {
		fbuf_reset(&s->plain);
		fbuf_reserve(&s->plain, plen ? plen : 1);
		zn = ZSTD_decompressDCtx(s->zd, s->plain.data, plen, payload,
		    blen - INNER_HDR);
		if (ZSTD_isError(zn) || zn != plen) {
			set_cause(cause, "sealed record seq %" PRIu64 " of "
			    "disk %" PRIu64 " does not decompress to its "
			    "stated %u bytes (%s)", seq, disk, plen,
			    ZSTD_isError(zn) ? ZSTD_getErrorName(zn) :
			    "wrong length");
			return -1;
		}
		payload = s->plain.data;
	}
	r->data = plen > 0 ? payload : NULL;
	if ((why = cachelog_rec_invalid(r)) != NULL) {
		set_cause(cause, "sealed record seq %" PRIu64 " of disk %"
		    PRIu64 " is malformed: %s", seq, disk, why);
		return -1;
	}
	return 0;
}
