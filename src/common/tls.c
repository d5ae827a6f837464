/*
 * TLS and the site PKI on OpenSSL 3.  Every failure carries a cause that
 * reaches the operator verbatim, so causes name the file and what is wrong
 * with it, and OpenSSL's own words follow in parentheses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"
#include "util.h"

#define SKEW_SECONDS	300	/* not_before is back-dated for clock skew */
#define CRL_DAYS	3650	/* the CS rewrites the CRL on every revoke */
#define MAX_DAYS	36500

static const char	*proof_prefix = "haven-enroll-v1";

/* Never prompt on a terminal for a passphrase: a daemon has none. */
static int
tls_no_passwd(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

const char *
tls_error(void)
{
	static char	 buf[1024];
	const char	*data, *lib, *reason;
	unsigned long	 e;
	size_t		 off = 0;
	int		 flags, n;
	char		 one[256];

	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		lib = ERR_lib_error_string(e);
		reason = ERR_reason_error_string(e);
		if (reason == NULL) {
			ERR_error_string_n(e, one, sizeof(one));
			reason = one;
		}
		if (off >= sizeof(buf) - 1)
			continue;	/* drain the rest of the queue */
		n = snprintf(buf + off, sizeof(buf) - off, "%s%s%s%s%s%s%s",
		    off != 0 ? "; " : "",
		    lib != NULL ? lib : "", lib != NULL ? ": " : "", reason,
		    (flags & ERR_TXT_STRING) && data != NULL && *data != '\0' ?
		    " (" : "",
		    (flags & ERR_TXT_STRING) && data != NULL ? data : "",
		    (flags & ERR_TXT_STRING) && data != NULL && *data != '\0' ?
		    ")" : "");
		if (n < 0)
			break;
		off += (size_t)n;
		if (off > sizeof(buf) - 1)
			off = sizeof(buf) - 1;
	}
	if (off == 0)
		snprintf(buf, sizeof(buf), "no detail from OpenSSL");
	return buf;
}

EVP_PKEY *
tls_key_new(char **cause)
{
	EVP_PKEY	*key;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		set_cause(cause, "cannot generate a P-256 key: %s",
		    tls_error());
	return key;
}

static int
tls_check_days(int days, char **cause)
{
	if (days <= 0 || days > MAX_DAYS) {
		set_cause(cause, "certificate lifetime of %d days is out of "
		    "range (1 to %d)", days, MAX_DAYS);
		return -1;
	}
	return 0;
}

static int
tls_set_cn(X509_NAME *name, const char *cn, char **cause)
{
	if (cn == NULL || *cn == '\0') {
		set_cause(cause, "the certificate common name is empty");
		return -1;
	}
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		set_cause(cause, "bad certificate common name '%s' (at most "
		    "64 characters of UTF-8): %s", cn, tls_error());
		return -1;
	}
	return 0;
}

/* Positive 128-bit random serial: top bit clear so DER needs no sign byte. */
static int
tls_set_serial(X509 *x)
{
	static const uint8_t	 zero[16];
	uint8_t			 b[16];
	BIGNUM			*bn;
	ASN1_INTEGER		*ai = NULL;
	int			 rc = -1;

	do {
		random_bytes(b, sizeof(b));
		b[0] &= 0x7f;
	} while (memcmp(b, zero, sizeof(b)) == 0);
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return -1;
	if ((ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

/*
 * The fields every certificate shares.  issuer NULL: self-signed.  The
 * caller adds extensions and signs.
 */
static X509 *
tls_cert_base(X509 *issuer, EVP_PKEY *pub, const char *cn, int days,
    char **cause)
{
	X509		*x;
	time_t		 now = time(NULL);

	if (tls_check_days(days, cause) == -1)
		return NULL;
	if ((x = X509_new()) == NULL) {
		set_cause(cause, "cannot allocate a certificate: %s",
		    tls_error());
		return NULL;
	}
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    tls_set_serial(x) == -1 ||
	    ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -SKEW_SECONDS) ==
	    NULL ||
	    ASN1_TIME_adj(X509_getm_notAfter(x), now, days, 0) == NULL) {
		set_cause(cause, "cannot set certificate fields: %s",
		    tls_error());
		goto fail;
	}
	if (X509_set_pubkey(x, pub) != 1) {
		set_cause(cause, "cannot put the public key in the "
		    "certificate: %s", tls_error());
		goto fail;
	}
	if (tls_set_cn(X509_get_subject_name(x), cn, cause) == -1)
		goto fail;
	if (X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : X509_get_subject_name(x)) != 1) {
		set_cause(cause, "cannot set the certificate issuer: %s",
		    tls_error());
		goto fail;
	}
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int
tls_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value,
    char **cause)
{
	X509_EXTENSION	*ext;
	int		 rc;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL) {
		set_cause(cause, "cannot make the %s extension \"%s\": %s",
		    OBJ_nid2sn(nid), value, tls_error());
		return -1;
	}
	rc = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (rc != 1) {
		set_cause(cause, "cannot add the %s extension: %s",
		    OBJ_nid2sn(nid), tls_error());
		return -1;
	}
	return 0;
}

static int
tls_sign(X509 *x, EVP_PKEY *key, char **cause)
{
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		set_cause(cause, "cannot sign the certificate: %s",
		    tls_error());
		return -1;
	}
	return 0;
}

X509 *
tls_ca_new(EVP_PKEY *key, const char *cn, int days, char **cause)
{
	X509		*x;
	X509V3_CTX	 ctx;

	if ((x = tls_cert_base(NULL, key, cn, days, cause)) == NULL)
		return NULL;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (tls_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE",
	    cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign",
	    cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_subject_key_identifier, "hash",
	    cause) == -1 ||
	    tls_sign(x, key, cause) == -1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A DNS name as a certificate may carry it: letters, digits, '-', '.',
 * '_' and a leading wildcard label. */
static int
tls_dns_ok(const char *s)
{
	const char	*p;

	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_')
			continue;
		if (*p == '*' && p == s && p[1] == '.')
			continue;
		return 0;
	}
	return 1;
}

static GENERAL_NAME *
tls_san_entry(const char *s, char **cause)
{
	GENERAL_NAME		*gn;
	ASN1_OCTET_STRING	*os;
	ASN1_IA5STRING		*ia5;
	uint8_t			 addr[16];
	int			 alen = 0;

	if (inet_pton(AF_INET, s, addr) == 1)
		alen = 4;
	else if (inet_pton(AF_INET6, s, addr) == 1)
		alen = 16;
	else if (!tls_dns_ok(s)) {
		set_cause(cause, "subject alternative name \"%s\" is neither "
		    "an IP address nor a DNS name", s);
		return NULL;
	}
	if ((gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	if (alen != 0) {
		if ((os = ASN1_OCTET_STRING_new()) == NULL)
			goto fail;
		if (ASN1_OCTET_STRING_set(os, addr, alen) != 1) {
			ASN1_OCTET_STRING_free(os);
			goto fail;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
	} else {
		if ((ia5 = ASN1_IA5STRING_new()) == NULL)
			goto fail;
		if (ASN1_STRING_set(ia5, s, -1) != 1) {
			ASN1_IA5STRING_free(ia5);
			goto fail;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	}
	return gn;
fail:
	GENERAL_NAME_free(gn);
	set_cause(cause, "cannot make subject alternative name \"%s\": %s",
	    s, tls_error());
	return NULL;
}

/* Built by hand rather than from a "DNS:a,IP:b" string so that no name
 * can smuggle in a comma and a second entry. */
static int
tls_add_sans(X509 *x, const char *const *sans, char **cause)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*gn;
	int		 rc = -1;

	if (sans == NULL || sans[0] == NULL)
		return 0;
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		set_cause(cause, "cannot allocate names: %s", tls_error());
		return -1;
	}
	for (; *sans != NULL; sans++) {
		if ((gn = tls_san_entry(*sans, cause)) == NULL)
			goto out;
		if (sk_GENERAL_NAME_push(gens, gn) == 0) {
			GENERAL_NAME_free(gn);
			set_cause(cause, "cannot allocate names: %s",
			    tls_error());
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) != 1) {
		set_cause(cause, "cannot add subject alternative names: %s",
		    tls_error());
		goto out;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int
tls_check_ca(X509 *ca, EVP_PKEY *cakey, char **cause)
{
	if (ca == NULL || cakey == NULL) {
		set_cause(cause, "no CA certificate or CA key to sign with");
		return -1;
	}
	if (X509_check_private_key(ca, cakey) != 1) {
		ERR_clear_error();
		set_cause(cause, "the CA key does not match the CA "
		    "certificate");
		return -1;
	}
	return 0;
}

X509 *
tls_cert_issue(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *pub, const char *cn,
    const char *const *sans, int days, enum tls_cert_kind kind, char **cause)
{
	X509		*x;
	X509V3_CTX	 ctx;
	const char	*eku;

	if (tls_check_ca(ca, cakey, cause) == -1)
		return NULL;
	if ((x = tls_cert_base(ca, pub, cn, days, cause)) == NULL)
		return NULL;
	eku = kind == TLS_CERT_SERVER ? "serverAuth" : "clientAuth";
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (tls_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE",
	    cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment", cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_ext_key_usage, eku, cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_subject_key_identifier, "hash",
	    cause) == -1 ||
	    tls_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always",
	    cause) == -1 ||
	    tls_add_sans(x, sans, cause) == -1 ||
	    tls_sign(x, cakey, cause) == -1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The contents of a memory BIO as a malloc'd string. */
static char *
tls_bio_string(BIO *bio)
{
	char	*data, *s;
	long	 len;

	if ((len = BIO_get_mem_data(bio, &data)) < 0)
		return NULL;
	s = xmalloc((size_t)len + 1);
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	return s;
}

char *
tls_csr_new(EVP_PKEY *key, const char *cn, char **cause)
{
	X509_REQ	*req;
	BIO		*bio = NULL;
	char		*pem = NULL;

	if ((req = X509_REQ_new()) == NULL) {
		set_cause(cause, "cannot allocate a CSR: %s", tls_error());
		return NULL;
	}
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1) {
		set_cause(cause, "cannot make the CSR: %s", tls_error());
		goto out;
	}
	if (tls_set_cn(X509_REQ_get_subject_name(req), cn, cause) == -1)
		goto out;
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		set_cause(cause, "cannot sign the CSR: %s", tls_error());
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    (pem = tls_bio_string(bio)) == NULL)
		set_cause(cause, "cannot encode the CSR: %s", tls_error());
out:
	BIO_free(bio);
	X509_REQ_free(req);
	return pem;
}

X509 *
tls_csr_sign(X509 *ca, EVP_PKEY *cakey, const char *csr_pem, const char *cn,
    int days, char **cause)
{
	X509_REQ	*req = NULL;
	EVP_PKEY	*pub;
	BIO		*bio;
	X509		*x = NULL;

	if (csr_pem == NULL || *csr_pem == '\0') {
		set_cause(cause, "the certificate request is empty");
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(csr_pem, -1)) == NULL) {
		set_cause(cause, "cannot read the certificate request: %s",
		    tls_error());
		return NULL;
	}
	req = PEM_read_bio_X509_REQ(bio, NULL, tls_no_passwd, NULL);
	BIO_free(bio);
	if (req == NULL) {
		set_cause(cause, "the certificate request is not a valid PEM "
		    "CSR (%s)", tls_error());
		return NULL;
	}
	if ((pub = X509_REQ_get0_pubkey(req)) == NULL) {
		set_cause(cause, "the certificate request carries no usable "
		    "public key (%s)", tls_error());
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		set_cause(cause, "the certificate request's signature does not "
		    "verify: it was altered or not made with its key (%s)",
		    tls_error());
		goto out;
	}
	if (EVP_PKEY_get_security_bits(pub) < 112) {
		set_cause(cause, "the certificate request's key is too weak "
		    "(%d-bit security; at least 112 needed, e.g. EC P-256)",
		    EVP_PKEY_get_security_bits(pub));
		goto out;
	}
	x = tls_cert_issue(ca, cakey, pub, cn, NULL, days, TLS_CERT_CLIENT,
	    cause);
out:
	X509_REQ_free(req);
	return x;
}

int
tls_key_write(const char *path, EVP_PKEY *key, char **cause)
{
	BIO	*bio;
	char	*data;
	long	 len;
	int	 rc = -1;

	/* Secure memory BIO: the key is cleansed from the heap on free. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1 || (len = BIO_get_mem_data(bio, &data)) <= 0) {
		set_cause(cause, "cannot encode the private key for %s: %s",
		    path, tls_error());
		goto out;
	}
	rc = write_file_atomic(path, data, (size_t)len, 0600, cause);
out:
	BIO_free(bio);
	return rc;
}

int
tls_cert_write(const char *path, X509 *x, char **cause)
{
	char	*pem;
	int	 rc;

	if ((pem = tls_cert_pem(x)) == NULL) {
		set_cause(cause, "cannot encode the certificate for %s: %s",
		    path, tls_error());
		return -1;
	}
	rc = write_file_atomic(path, pem, strlen(pem), 0644, cause);
	free(pem);
	return rc;
}

EVP_PKEY *
tls_key_read(const char *path, char **cause)
{
	EVP_PKEY	*key = NULL;
	BIO		*bio;
	char		*data;
	size_t		 len;

	if ((data = read_file(path, &len, cause)) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passwd, NULL);
	if (key == NULL)
		set_cause(cause, "%s is not a PEM private key, or it is "
		    "encrypted (%s)", path, tls_error());
	BIO_free(bio);
	OPENSSL_cleanse(data, len);
	free(data);
	return key;
}

static X509 *
tls_cert_parse(const char *pem, size_t len, const char *what, char **cause)
{
	X509	*x = NULL;
	BIO	*bio;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, tls_no_passwd, NULL);
	if (x == NULL)
		set_cause(cause, "%s is not a PEM certificate (%s)", what,
		    tls_error());
	BIO_free(bio);
	return x;
}

X509 *
tls_cert_read(const char *path, char **cause)
{
	X509	*x;
	char	*data;
	size_t	 len;

	if ((data = read_file(path, &len, cause)) == NULL)
		return NULL;
	x = tls_cert_parse(data, len, path, cause);
	free(data);
	return x;
}

X509 *
tls_cert_from_pem(const char *pem, char **cause)
{
	if (pem == NULL) {
		set_cause(cause, "no certificate given");
		return NULL;
	}
	return tls_cert_parse(pem, strlen(pem), "the text given", cause);
}

char *
tls_cert_pem(X509 *x)
{
	BIO	*bio;
	char	*pem = NULL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, x) == 1)
		pem = tls_bio_string(bio);
	BIO_free(bio);
	return pem;
}

static int
tls_asn1_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm	tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int
tls_cert_info(X509 *x, struct tls_certinfo *ci)
{
	X509_NAME	*name;
	X509_NAME_ENTRY	*ent;
	BIGNUM		*bn;
	unsigned char	*utf8 = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	char		*hex, *p;
	int		 i, n;

	memset(ci, 0, sizeof(*ci));
	name = X509_get_subject_name(x);
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) >= 0 &&
	    (ent = X509_NAME_get_entry(name, i)) != NULL &&
	    (n = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(ent))) >= 0) {
		if ((size_t)n >= sizeof(ci->subject_cn))
			n = sizeof(ci->subject_cn) - 1;
		memcpy(ci->subject_cn, utf8, (size_t)n);
		OPENSSL_free(utf8);
	}

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	    NULL)
		return -1;
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (hex == NULL)
		return -1;
	for (p = hex; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	snprintf(ci->serial, sizeof(ci->serial), "%s", hex);
	OPENSSL_free(hex);

	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	hex_encode(md, mdlen, ci->fingerprint);

	if (tls_asn1_unix(X509_get0_notBefore(x), &ci->not_before) == -1 ||
	    tls_asn1_unix(X509_get0_notAfter(x), &ci->not_after) == -1)
		return -1;
	return 0;
}

int
tls_cert_file_info(const char *path, struct tls_certinfo *ci, char **cause)
{
	X509	*x;
	int	 rc;

	if ((x = tls_cert_read(path, cause)) == NULL)
		return -1;
	if ((rc = tls_cert_info(x, ci)) == -1)
		set_cause(cause, "cannot read the fields of the certificate "
		    "in %s: %s", path, tls_error());
	X509_free(x);
	return rc;
}

static int
tls_crl_add(X509_CRL *crl, const char *serial, const ASN1_TIME *when,
    char **cause)
{
	X509_REVOKED	*rev = NULL;
	ASN1_INTEGER	*ai = NULL;
	BIGNUM		*bn = NULL;
	size_t		 len = strlen(serial);
	int		 rc = -1;

	/* 20 octets is the most RFC 5280 allows. */
	if (len == 0 || len > 40 || strspn(serial, "0123456789abcdefABCDEF") !=
	    len) {
		set_cause(cause, "\"%s\" is not a certificate serial number "
		    "(1 to 40 hex digits)", serial);
		return -1;
	}
	if (BN_hex2bn(&bn, serial) == 0 ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (rev = X509_REVOKED_new()) == NULL ||
	    X509_REVOKED_set_serialNumber(rev, ai) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, (ASN1_TIME *)when) != 1 ||
	    X509_CRL_add0_revoked(crl, rev) != 1) {
		set_cause(cause, "cannot add serial %s to the CRL: %s", serial,
		    tls_error());
		X509_REVOKED_free(rev);
		goto out;
	}
	rc = 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

int
tls_crl_write(const char *path, X509 *ca, EVP_PKEY *cakey,
    const char *const *serials, size_t n, char **cause)
{
	X509_CRL	*crl;
	ASN1_TIME	*last = NULL, *next = NULL;
	ASN1_INTEGER	*number = NULL;
	X509_EXTENSION	*akid = NULL;
	X509V3_CTX	 ctx;
	BIO		*bio = NULL;
	char		*pem = NULL;
	time_t		 now = time(NULL);
	size_t		 i;
	int		 rc = -1;

	if (tls_check_ca(ca, cakey, cause) == -1)
		return -1;
	if ((crl = X509_CRL_new()) == NULL) {
		set_cause(cause, "cannot allocate a CRL: %s", tls_error());
		return -1;
	}
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    (last = ASN1_TIME_adj(NULL, now, 0, 0)) == NULL ||
	    (next = ASN1_TIME_adj(NULL, now, CRL_DAYS, 0)) == NULL ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next) != 1) {
		set_cause(cause, "cannot set CRL fields: %s", tls_error());
		goto out;
	}
	for (i = 0; i < n; i++)
		if (tls_crl_add(crl, serials[i], last, cause) == -1)
			goto out;

	/* A CRL number that only grows: the time of writing. */
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	if ((number = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set_int64(number, (int64_t)now) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0,
	    X509V3_ADD_DEFAULT) != 1 ||
	    (akid = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_authority_key_identifier, "keyid:always")) == NULL ||
	    X509_CRL_add_ext(crl, akid, -1) != 1) {
		set_cause(cause, "cannot add CRL extensions: %s", tls_error());
		goto out;
	}
	if (X509_CRL_sort(crl) != 1 ||
	    X509_CRL_sign(crl, cakey, EVP_sha256()) <= 0) {
		set_cause(cause, "cannot sign the CRL: %s", tls_error());
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_CRL(bio, crl) != 1 ||
	    (pem = tls_bio_string(bio)) == NULL) {
		set_cause(cause, "cannot encode the CRL for %s: %s", path,
		    tls_error());
		goto out;
	}
	rc = write_file_atomic(path, pem, strlen(pem), 0644, cause);
out:
	free(pem);
	BIO_free(bio);
	X509_EXTENSION_free(akid);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(next);
	ASN1_TIME_free(last);
	X509_CRL_free(crl);
	return rc;
}

/* A readable file, or a cause naming it (OpenSSL's own words for a
 * missing file are "system library: No such file"). */
static int
tls_readable(const char *path, const char *what, char **cause)
{
	if (path == NULL || *path == '\0') {
		set_cause(cause, "no %s file given", what);
		return -1;
	}
	if (access(path, R_OK) == -1) {
		set_cause(cause, "cannot read %s file %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
tls_ctx_load_pair(SSL_CTX *ctx, const char *cert_file, const char *key_file,
    char **cause)
{
	EVP_PKEY	*key;
	int		 rc;

	if (tls_readable(cert_file, "certificate", cause) == -1)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		set_cause(cause, "cannot load the certificate chain from %s "
		    "(%s)", cert_file, tls_error());
		return -1;
	}
	if ((key = tls_key_read(key_file, cause)) == NULL)
		return -1;
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
		ERR_clear_error();
		set_cause(cause, "the private key in %s does not match the "
		    "certificate in %s", key_file, cert_file);
		rc = -1;
	} else if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		set_cause(cause, "cannot use the private key in %s (%s)",
		    key_file, tls_error());
		rc = -1;
	} else
		rc = 0;
	EVP_PKEY_free(key);
	return rc;
}

static SSL_CTX *
tls_ctx_new(const SSL_METHOD *method, char **cause)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL) {
		set_cause(cause, "cannot create a TLS context: %s",
		    tls_error());
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		set_cause(cause, "cannot require TLS 1.2: %s", tls_error());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passwd);
	return ctx;
}

static int
tls_ctx_load_crl(SSL_CTX *ctx, const char *crl_file, char **cause)
{
	X509_STORE	*store = SSL_CTX_get_cert_store(ctx);
	X509_CRL	*crl = NULL;
	BIO		*bio;
	char		*data;
	size_t		 len;
	int		 rc = -1;

	if (access(crl_file, F_OK) == -1 && errno == ENOENT)
		return 0;	/* nothing revoked yet */
	if ((data = read_file(crl_file, &len, cause)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL)
		crl = PEM_read_bio_X509_CRL(bio, NULL, tls_no_passwd, NULL);
	BIO_free(bio);
	free(data);
	if (crl == NULL) {
		set_cause(cause, "%s is not a PEM certificate revocation list "
		    "(%s)", crl_file, tls_error());
		return -1;
	}
	if (X509_STORE_add_crl(store, crl) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1)
		set_cause(cause, "cannot use the revocation list %s (%s)",
		    crl_file, tls_error());
	else
		rc = 0;
	X509_CRL_free(crl);
	return rc;
}

/*
 * Optional client certificates (the control port): a revoked one still
 * completes the handshake, so that the API can answer "revoked" in
 * words instead of a TLS alert the client may never see.
 * SSL_get_verify_result() still reports X509_V_ERR_CERT_REVOKED and
 * tls_peer_identity() refuses it.
 */
static int
tls_verify_optional(int ok, X509_STORE_CTX *sctx)
{
	if (!ok && X509_STORE_CTX_get_error(sctx) == X509_V_ERR_CERT_REVOKED)
		return 1;
	return ok;
}

SSL_CTX *
tls_server_ctx(const char *cert_file, const char *key_file,
    const char *ca_file, const char *crl_file, enum tls_verify verify,
    char **cause)
{
	static const unsigned char	 sid[] = "havend";
	STACK_OF(X509_NAME)		*names;
	SSL_CTX				*ctx;
	int				 mode;

	if ((ctx = tls_ctx_new(TLS_server_method(), cause)) == NULL)
		return NULL;
	if (tls_ctx_load_pair(ctx, cert_file, key_file, cause) == -1)
		goto fail;
	if (SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
		set_cause(cause, "cannot set the session id context: %s",
		    tls_error());
		goto fail;
	}
	if (verify == TLS_VERIFY_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}

	if (tls_readable(ca_file, "CA certificate", cause) == -1)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		set_cause(cause, "cannot load CA certificates from %s (%s)",
		    ca_file, tls_error());
		goto fail;
	}
	if ((names = SSL_load_client_CA_file(ca_file)) == NULL) {
		set_cause(cause, "cannot read CA names from %s (%s)", ca_file,
		    tls_error());
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (crl_file != NULL && tls_ctx_load_crl(ctx, crl_file, cause) == -1)
		goto fail;

	mode = SSL_VERIFY_PEER;
	if (verify == TLS_VERIFY_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, verify == TLS_VERIFY_OPTIONAL ?
	    tls_verify_optional : NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx(const char *ca_file, const char *cert_file,
    const char *key_file, char **cause)
{
	SSL_CTX	*ctx;

	if ((cert_file == NULL) != (key_file == NULL)) {
		set_cause(cause, "a client certificate needs both a "
		    "certificate file and a key file");
		return NULL;
	}
	if ((ctx = tls_ctx_new(TLS_client_method(), cause)) == NULL)
		return NULL;
	if (ca_file != NULL) {
		if (tls_readable(ca_file, "CA certificate", cause) == -1)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			set_cause(cause, "cannot load CA certificates from %s "
			    "(%s)", ca_file, tls_error());
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (cert_file != NULL &&
	    tls_ctx_load_pair(ctx, cert_file, key_file, cause) == -1)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_peer_identity(SSL *ssl, char **cn, char **fingerprint)
{
	struct tls_certinfo	 ci;
	X509			*x;

	if ((x = SSL_get0_peer_certificate(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK ||
	    tls_cert_info(x, &ci) == -1)
		return -1;
	if (cn != NULL)
		*cn = xstrdup(ci.subject_cn);
	if (fingerprint != NULL)
		*fingerprint = xstrdup(ci.fingerprint);
	return 0;
}

void
proof_key(const char *passphrase, uint8_t key[32])
{
	EVP_MD_CTX	*md;
	unsigned int	 len;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, proof_prefix, strlen(proof_prefix)) != 1 ||
	    EVP_DigestUpdate(md, passphrase, strlen(passphrase)) != 1 ||
	    EVP_DigestFinal_ex(md, key, &len) != 1 || len != 32)
		fatalx("SHA-256 failed: %s", tls_error());
	EVP_MD_CTX_free(md);
}

static void
proof_mac(const uint8_t key[32], const char *label, const char *server_nonce,
    const char *client_nonce, const char *doc, uint8_t mac[32])
{
	EVP_MAC		*hmac;
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	uint8_t		 dh[32];
	size_t		 len;

	if (doc == NULL)
		doc = "";
	if (EVP_Digest(doc, strlen(doc), dh, NULL, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 failed: %s", tls_error());
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(hmac)) == NULL ||
	    EVP_MAC_init(ctx, key, 32, params) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label)) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)server_nonce,
	    strlen(server_nonce)) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)client_nonce,
	    strlen(client_nonce)) != 1 ||
	    EVP_MAC_update(ctx, dh, sizeof(dh)) != 1 ||
	    EVP_MAC_final(ctx, mac, &len, 32) != 1 || len != 32)
		fatalx("HMAC-SHA256 failed: %s", tls_error());
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
}

void
proof_make(const uint8_t key[32], const char *label, const char *server_nonce,
    const char *client_nonce, const char *doc, char out[PROOF_HEX_LEN + 1])
{
	uint8_t	mac[32];

	proof_mac(key, label, server_nonce, client_nonce, doc, mac);
	hex_encode(mac, sizeof(mac), out);
}

int
proof_verify(const uint8_t key[32], const char *label,
    const char *server_nonce, const char *client_nonce, const char *doc,
    const char *proof_hex)
{
	uint8_t	mac[32], got[32];
	int	rc;

	if (proof_hex == NULL || strlen(proof_hex) != PROOF_HEX_LEN ||
	    hex_decode(proof_hex, got, sizeof(got)) != (ssize_t)sizeof(got))
		return -1;
	proof_mac(key, label, server_nonce, client_nonce, doc, mac);
	rc = CRYPTO_memcmp(mac, got, sizeof(mac)) == 0 ? 0 : -1;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}
