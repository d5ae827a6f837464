/* Unit tests for src/common/tls.c: the site PKI, enrollment proofs and
 * real handshakes over a socketpair. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "util.h"

#define DAYS	1095

static struct {
	char		 dir[64];
	EVP_PKEY	*cakey;
	X509		*ca;
	char		*ca_file;
	char		*srv_cert;
	char		*srv_key;
} pki;

static char *
path(const char *name)
{
	return xasprintf("%s/%s", pki.dir, name);
}

static void
rm_dir(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	char		*p;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
group_setup(void **state)
{
	const char *const	 sans[] = { "localhost", "127.0.0.1", NULL };
	EVP_PKEY		*key;
	X509			*x;
	char			*cause = NULL;

	(void)state;
	snprintf(pki.dir, sizeof(pki.dir), "/tmp/test_tls.XXXXXX");
	if (mkdtemp(pki.dir) == NULL)
		return -1;
	pki.ca_file = path("ca.pem");
	pki.srv_cert = path("server.pem");
	pki.srv_key = path("server.key");
	if ((pki.cakey = tls_key_new(&cause)) == NULL ||
	    (pki.ca = tls_ca_new(pki.cakey, "Haven test CA", 3650,
	    &cause)) == NULL ||
	    tls_cert_write(pki.ca_file, pki.ca, &cause) == -1)
		goto fail;
	if ((key = tls_key_new(&cause)) == NULL)
		goto fail;
	x = tls_cert_issue(pki.ca, pki.cakey, key, "cs.example", sans, DAYS,
	    TLS_CERT_SERVER, &cause);
	if (x == NULL || tls_cert_write(pki.srv_cert, x, &cause) == -1 ||
	    tls_key_write(pki.srv_key, key, &cause) == -1) {
		X509_free(x);
		EVP_PKEY_free(key);
		goto fail;
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", cause != NULL ? cause : "?");
	free(cause);
	return -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	rm_dir(pki.dir);
	X509_free(pki.ca);
	EVP_PKEY_free(pki.cakey);
	free(pki.ca_file);
	free(pki.srv_cert);
	free(pki.srv_key);
	return 0;
}

static int
has_san(X509 *x, int type, const void *val, size_t len)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*gn;
	int		 i, found = 0, t;
	ASN1_STRING	*s;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		s = GENERAL_NAME_get0_value(gn, &t);
		if (t == type && (size_t)ASN1_STRING_length(s) == len &&
		    memcmp(ASN1_STRING_get0_data(s), val, len) == 0)
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static void
test_ca(void **state)
{
	struct tls_certinfo	ci;
	int64_t			now = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(X509_check_ca(pki.ca), 1);
	assert_int_equal(X509_verify(pki.ca, pki.cakey), 1);
	assert_true(X509_get_key_usage(pki.ca) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(pki.ca) & KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(pki.ca));
	assert_int_equal(tls_cert_info(pki.ca, &ci), 0);
	assert_string_equal(ci.subject_cn, "Haven test CA");
	assert_true(ci.not_before <= now - 295 && ci.not_before >= now - 310);
	assert_true(ci.not_after - now >= 3650 * 86400LL - 10 &&
	    ci.not_after - now <= 3650 * 86400LL + 10);
}

static void
test_server_cert(void **state)
{
	const char *const	 sans[] = { "cs.example", "10.1.2.3", "fd00::7",
	    "backup.cs.example", NULL };
	struct tls_certinfo	 ci, ci2;
	EVP_PKEY		*key;
	X509			*x, *y;
	uint8_t			 ip4[4], ip6[16], md[32];
	unsigned int		 mdlen;
	char			 fp[65], *cause = NULL;
	int64_t			 now = (int64_t)time(NULL);

	(void)state;
	key = tls_key_new(&cause);
	assert_non_null(key);
	x = tls_cert_issue(pki.ca, pki.cakey, key, "cs.example", sans, DAYS,
	    TLS_CERT_SERVER, &cause);
	assert_non_null(x);
	assert_null(cause);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(pki.ca)), 1);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_check_issued(pki.ca, x), X509_V_OK);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	inet_pton(AF_INET, "10.1.2.3", ip4);
	inet_pton(AF_INET6, "fd00::7", ip6);
	assert_true(has_san(x, GEN_DNS, "cs.example", 10));
	assert_true(has_san(x, GEN_DNS, "backup.cs.example", 17));
	assert_true(has_san(x, GEN_IPADD, ip4, 4));
	assert_true(has_san(x, GEN_IPADD, ip6, 16));
	assert_false(has_san(x, GEN_DNS, "10.1.2.3", 8));
	assert_int_equal(X509_check_host(x, "cs.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);

	assert_int_equal(tls_cert_info(x, &ci), 0);
	assert_string_equal(ci.subject_cn, "cs.example");
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
	hex_encode(md, mdlen, fp);
	assert_string_equal(ci.fingerprint, fp);
	assert_true(ci.not_after - now >= DAYS * 86400LL - 10 &&
	    ci.not_after - now <= DAYS * 86400LL + 10);
	assert_true(ci.not_before <= now - 295 && ci.not_before >= now - 310);
	assert_true(strlen(ci.serial) > 16 && strlen(ci.serial) <= 32);
	assert_int_equal(strspn(ci.serial, "0123456789abcdef"),
	    strlen(ci.serial));

	/* A second certificate gets another serial. */
	y = tls_cert_issue(pki.ca, pki.cakey, key, "cs.example", NULL, DAYS,
	    TLS_CERT_SERVER, &cause);
	assert_non_null(y);
	assert_int_equal(tls_cert_info(y, &ci2), 0);
	assert_string_not_equal(ci.serial, ci2.serial);
	X509_free(y);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
test_bad_inputs(void **state)
{
	const char *const	 bad[] = { "evil.example,DNS:bank.example",
	    NULL };
	EVP_PKEY		*key, *other;
	char			*cause = NULL;

	(void)state;
	key = tls_key_new(&cause);
	other = tls_key_new(&cause);
	assert_null(tls_cert_issue(pki.ca, pki.cakey, key, "x", bad, DAYS,
	    TLS_CERT_SERVER, &cause));
	assert_non_null(strstr(cause, "evil.example,DNS:bank.example"));
	assert_null(tls_cert_issue(pki.ca, pki.cakey, key, "", NULL, DAYS,
	    TLS_CERT_SERVER, &cause));
	assert_non_null(strstr(cause, "common name"));
	assert_null(tls_cert_issue(pki.ca, pki.cakey, key, "x", NULL, 0,
	    TLS_CERT_SERVER, &cause));
	assert_non_null(strstr(cause, "days"));
	assert_null(tls_cert_issue(pki.ca, other, key, "x", NULL, DAYS,
	    TLS_CERT_SERVER, &cause));
	assert_non_null(strstr(cause, "does not match"));
	free(cause);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_csr_roundtrip(void **state)
{
	struct tls_certinfo	 ci;
	EVP_PKEY		*key;
	X509			*x;
	char			*csr, *cause = NULL;

	(void)state;
	key = tls_key_new(&cause);
	assert_non_null(key);
	csr = tls_csr_new(key, "agent-says-so", &cause);
	assert_non_null(csr);
	assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
	x = tls_csr_sign(pki.ca, pki.cakey, csr,
	    "6f1c1a52-3c55-4c1e-9e4f-0a8c2a1d9b10", 365, &cause);
	assert_non_null(x);
	assert_null(cause);
	assert_int_equal(tls_cert_info(x, &ci), 0);
	assert_string_equal(ci.subject_cn,
	    "6f1c1a52-3c55-4c1e-9e4f-0a8c2a1d9b10");
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(pki.ca)), 1);
	assert_true(EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1);
	X509_free(x);
	free(csr);
	EVP_PKEY_free(key);
}

/* Re-encode pem with one byte of the DER inside needle changed. */
static char *
tamper_der(const char *pem, const char *needle)
{
	BIO		*in, *out;
	char		*name = NULL, *header = NULL, *res, *data;
	unsigned char	*der = NULL, *hit;
	long		 len;

	in = BIO_new_mem_buf(pem, -1);
	assert_int_equal(PEM_read_bio(in, &name, &header, &der, &len), 1);
	hit = memmem(der, (size_t)len, needle, strlen(needle));
	assert_non_null(hit);
	hit[0] ^= 0x01;
	out = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio(out, name, header, der, len) > 0);
	len = BIO_get_mem_data(out, &data);
	res = xstrndup(data, (size_t)len);
	BIO_free(in);
	BIO_free(out);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return res;
}

static void
test_csr_tampered(void **state)
{
	EVP_PKEY	*key;
	char		*csr, *cause = NULL, *body, *end, *p;
	int		 i, refused = 0, tries = 0;

	(void)state;
	key = tls_key_new(&cause);
	csr = tls_csr_new(key, "m", &cause);
	assert_non_null(csr);
	body = strchr(csr, '\n') + 1;
	end = strstr(csr, "-----END");
	/* Flip base64 characters at several places in the middle. */
	for (i = -3; i <= 3; i++) {
		char	*copy = xstrdup(csr), c;

		p = copy + (body - csr) + (end - body) / 2 + i * 7;
		if (*p == '\n')
			p++;
		c = *p;
		*p = c == 'A' ? 'B' : 'A';
		tries++;
		if (tls_csr_sign(pki.ca, pki.cakey, copy, "m", 30,
		    &cause) == NULL) {
			refused++;
			assert_non_null(cause);
			assert_non_null(strstr(cause, "certificate request"));
		}
		free(copy);
	}
	assert_int_equal(refused, tries);
	free(csr);

	/* A well-formed CSR whose subject was changed after signing. */
	csr = tls_csr_new(key, "tamper-target", &cause);
	assert_non_null(csr);
	p = tamper_der(csr, "tamper-target");
	assert_null(tls_csr_sign(pki.ca, pki.cakey, p, "m", 30, &cause));
	assert_non_null(strstr(cause, "signature does not verify"));
	free(p);

	assert_null(tls_csr_sign(pki.ca, pki.cakey, "hello", "m", 30,
	    &cause));
	assert_non_null(strstr(cause, "not a valid PEM CSR"));
	assert_null(tls_csr_sign(pki.ca, pki.cakey, "", "m", 30, &cause));
	free(cause);
	free(csr);
	EVP_PKEY_free(key);
}

static void
test_files(void **state)
{
	struct tls_certinfo	 a, b;
	struct stat		 st;
	EVP_PKEY		*key, *back;
	X509			*x, *y;
	char			*kp, *cp, *bad, *pem, *cause = NULL;

	(void)state;
	kp = path("m.key");
	cp = path("m.pem");
	bad = path("junk.txt");
	key = tls_key_new(&cause);
	x = tls_cert_issue(pki.ca, pki.cakey, key, "m", NULL, 30,
	    TLS_CERT_CLIENT, &cause);
	assert_non_null(x);
	assert_int_equal(tls_key_write(kp, key, &cause), 0);
	assert_int_equal(tls_cert_write(cp, x, &cause), 0);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(cp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	back = tls_key_read(kp, &cause);
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, key), 1);
	assert_int_equal(tls_cert_file_info(cp, &a, &cause), 0);
	assert_int_equal(tls_cert_info(x, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	pem = tls_cert_pem(x);
	assert_non_null(pem);
	assert_int_equal(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27), 0);
	y = tls_cert_from_pem(pem, &cause);
	assert_non_null(y);
	assert_int_equal(X509_cmp(x, y), 0);
	X509_free(y);
	assert_null(tls_cert_from_pem("nope", &cause));
	assert_non_null(strstr(cause, "not a PEM certificate"));

	assert_int_equal(write_file_atomic(bad, "not a key\n", 10, 0600,
	    &cause), 0);
	assert_null(tls_key_read(bad, &cause));
	assert_non_null(strstr(cause, bad));
	assert_non_null(strstr(cause, "is not a PEM private key"));
	assert_null(tls_cert_read(bad, &cause));
	assert_non_null(strstr(cause, bad));
	assert_non_null(strstr(cause, "is not a PEM certificate"));
	/* A certificate is not a key. */
	assert_null(tls_key_read(cp, &cause));
	assert_non_null(strstr(cause, cp));
	unlink(bad);
	assert_null(tls_key_read(bad, &cause));
	assert_non_null(strstr(cause, bad));
	assert_int_equal(tls_cert_file_info(bad, &a, &cause), -1);
	assert_non_null(strstr(cause, bad));

	unlink(kp);
	unlink(cp);
	free(cause);
	free(pem);
	free(kp);
	free(cp);
	free(bad);
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(back);
}

static void
test_proof(void **state)
{
	const char	*sn = "5d1f0a3c9b7e44f2a1c0d9e8b7a6f5e45d1f0a3c9b7e44f2a1c0d9e8b7a6f5e4";
	const char	*cn = "0011223344556677889900112233445566778899001122334455667788990011";
	const char	*csr = "-----BEGIN CERTIFICATE REQUEST-----\nabc\n";
	uint8_t		 k[32], wrong[32], k2[32];
	char		 proof[PROOF_HEX_LEN + 1], upper[PROOF_HEX_LEN + 1];
	char		 longer[PROOF_HEX_LEN + 3];
	size_t		 i;

	(void)state;
	proof_key("correct horse battery staple", k);
	proof_key("correct horse battery staple", k2);
	assert_memory_equal(k, k2, 32);
	proof_key("correct horse battery stapler", wrong);
	assert_memory_not_equal(k, wrong, 32);

	proof_make(k, "client", sn, cn, csr, proof);
	assert_int_equal(strlen(proof), PROOF_HEX_LEN);
	assert_int_equal(strspn(proof, "0123456789abcdef"), PROOF_HEX_LEN);
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, proof), 0);
	for (i = 0; i <= PROOF_HEX_LEN; i++)
		upper[i] = (char)((proof[i] >= 'a' && proof[i] <= 'f') ?
		    proof[i] - 'a' + 'A' : proof[i]);
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, upper), 0);

	assert_int_equal(proof_verify(wrong, "client", sn, cn, csr, proof), -1);
	assert_int_equal(proof_verify(k, "server", sn, cn, csr, proof), -1);
	assert_int_equal(proof_verify(k, "client", cn, cn, csr, proof), -1);
	assert_int_equal(proof_verify(k, "client", sn, sn, csr, proof), -1);
	assert_int_equal(proof_verify(k, "client", sn, cn,
	    "-----BEGIN CERTIFICATE REQUEST-----\nabd\n", proof), -1);
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, ""), -1);
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, NULL), -1);
	proof[PROOF_HEX_LEN - 1] = '\0';
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, proof), -1);
	proof_make(k, "client", sn, cn, csr, proof);
	snprintf(longer, sizeof(longer), "%s00", proof);
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, longer), -1);
	proof[0] = 'z';		/* right length, not hex */
	assert_int_equal(proof_verify(k, "client", sn, cn, csr, proof), -1);

	/* The server proof binds the CA certificate. */
	proof_make(k, "server", sn, cn, "CA PEM", proof);
	assert_int_equal(proof_verify(k, "server", sn, cn, "CA PEM", proof),
	    0);
	assert_int_equal(proof_verify(k, "server", sn, cn, "other CA", proof),
	    -1);
}

/* A client certificate from ca/cakey in dir, through a CSR. */
static void
make_client(X509 *ca, EVP_PKEY *cakey, const char *name, char **certp,
    char **keyp, char serial[80])
{
	struct tls_certinfo	 ci;
	EVP_PKEY		*key;
	X509			*x;
	char			*csr, *cause = NULL, *n;

	key = tls_key_new(&cause);
	assert_non_null(key);
	csr = tls_csr_new(key, name, &cause);
	assert_non_null(csr);
	x = tls_csr_sign(ca, cakey, csr, name, 30, &cause);
	assert_non_null(x);
	n = xasprintf("%s.pem", name);
	*certp = path(n);
	free(n);
	n = xasprintf("%s.key", name);
	*keyp = path(n);
	free(n);
	assert_int_equal(tls_cert_write(*certp, x, &cause), 0);
	assert_int_equal(tls_key_write(*keyp, key, &cause), 0);
	assert_int_equal(tls_cert_info(x, &ci), 0);
	if (serial != NULL)
		memcpy(serial, ci.serial, sizeof(ci.serial));
	X509_free(x);
	free(csr);
	EVP_PKEY_free(key);
}

static int
step(SSL *ssl, int server, int *done)
{
	int	r, e;

	r = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r == 1) {
		*done = 1;
		return 0;
	}
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return -1;
}

/*
 * Handshake over a socketpair, both ends nonblocking in one thread.
 * 0 when both ends complete; the server's view of the peer in *cn.
 */
static int
handshake(SSL_CTX *sctx, SSL_CTX *cctx, int maxver, char **cn, char **fp)
{
	SSL	*s, *c;
	int	 sv[2], sdone = 0, cdone = 0, fail = 0, i, rc = -1;
	char	 byte = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(set_nonblock(sv[0]), 0);
	assert_int_equal(set_nonblock(sv[1]), 0);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_non_null(s);
	assert_non_null(c);
	if (maxver != 0)
		assert_int_equal(SSL_set_max_proto_version(c, maxver), 1);
	SSL_set_fd(s, sv[0]);
	SSL_set_fd(c, sv[1]);
	for (i = 0; i < 200 && !fail && !(sdone && cdone); i++) {
		if (!cdone && step(c, 0, &cdone) == -1)
			fail = 1;
		if (!sdone && step(s, 1, &sdone) == -1)
			fail = 1;
	}
	if (!fail && sdone && cdone) {
		/* Data flows both ways. */
		assert_int_equal(SSL_write(c, "x", 1), 1);
		assert_int_equal(SSL_read(s, &byte, 1), 1);
		assert_int_equal(byte, 'x');
		assert_int_equal(SSL_write(s, "y", 1), 1);
		assert_int_equal(SSL_read(c, &byte, 1), 1);
		assert_int_equal(byte, 'y');
		if (cn != NULL) {
			*cn = NULL;
			(void)tls_peer_identity(s, cn, fp);
		}
		rc = 0;
	}
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static SSL_CTX *
server_ctx(const char *crl, enum tls_verify v)
{
	SSL_CTX	*ctx;
	char	*cause = NULL;

	ctx = tls_server_ctx(pki.srv_cert, pki.srv_key, pki.ca_file, crl, v,
	    &cause);
	if (ctx == NULL)
		fail_msg("tls_server_ctx: %s", cause);
	return ctx;
}

static SSL_CTX *
client_ctx(const char *cert, const char *key)
{
	SSL_CTX	*ctx;
	char	*cause = NULL;

	ctx = tls_client_ctx(pki.ca_file, cert, key, &cause);
	if (ctx == NULL)
		fail_msg("tls_client_ctx: %s", cause);
	return ctx;
}

static const int versions[] = { 0, TLS1_2_VERSION };

static void
test_handshake_ok(void **state)
{
	struct tls_certinfo	 ci;
	SSL_CTX			*sctx, *cctx;
	char			*cert, *key, *cn, *fp;
	size_t			 i;

	(void)state;
	make_client(pki.ca, pki.cakey, "agent-ok", &cert, &key, NULL);
	assert_int_equal(tls_cert_file_info(cert, &ci, NULL), 0);
	sctx = server_ctx(NULL, TLS_VERIFY_REQUIRED);
	cctx = client_ctx(cert, key);
	for (i = 0; i < nitems(versions); i++) {
		cn = fp = NULL;
		assert_int_equal(handshake(sctx, cctx, versions[i], &cn, &fp),
		    0);
		assert_non_null(cn);
		assert_string_equal(cn, "agent-ok");
		assert_string_equal(fp, ci.fingerprint);
		free(cn);
		free(fp);
	}
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	free(cert);
	free(key);
}

static void
test_handshake_no_cert(void **state)
{
	SSL_CTX	*sctx, *cctx;
	char	*cn;
	size_t	 i;

	(void)state;
	cctx = client_ctx(NULL, NULL);
	sctx = server_ctx(NULL, TLS_VERIFY_REQUIRED);
	for (i = 0; i < nitems(versions); i++)
		assert_int_equal(handshake(sctx, cctx, versions[i], NULL,
		    NULL), -1);
	SSL_CTX_free(sctx);

	/* OPTIONAL lets it in, but there is no identity. */
	sctx = server_ctx(NULL, TLS_VERIFY_OPTIONAL);
	cn = NULL;
	assert_int_equal(handshake(sctx, cctx, 0, &cn, NULL), 0);
	assert_null(cn);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_handshake_revoked(void **state)
{
	const char	*list[2];
	SSL_CTX		*sctx, *cctx;
	char		*cert, *key, *other_cert, *other_key, *crl, *cn;
	char		 serial[80], other[80], *cause = NULL;
	struct stat	 st;
	size_t		 i;

	(void)state;
	make_client(pki.ca, pki.cakey, "agent-rev", &cert, &key, serial);
	make_client(pki.ca, pki.cakey, "agent-good", &other_cert, &other_key,
	    other);
	crl = path("crl.pem");
	cctx = client_ctx(cert, key);

	/* No CRL file yet: no check. */
	sctx = server_ctx(crl, TLS_VERIFY_REQUIRED);
	assert_int_equal(handshake(sctx, cctx, 0, NULL, NULL), 0);
	SSL_CTX_free(sctx);

	/* An empty CRL: still fine. */
	assert_int_equal(tls_crl_write(crl, pki.ca, pki.cakey, NULL, 0,
	    &cause), 0);
	assert_int_equal(stat(crl, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	sctx = server_ctx(crl, TLS_VERIFY_REQUIRED);
	assert_int_equal(handshake(sctx, cctx, 0, NULL, NULL), 0);
	SSL_CTX_free(sctx);

	/* Revoked: refused; the other machine still gets in. */
	list[0] = "0badc0de";
	list[1] = serial;
	assert_int_equal(tls_crl_write(crl, pki.ca, pki.cakey, list, 2,
	    &cause), 0);
	sctx = server_ctx(crl, TLS_VERIFY_REQUIRED);
	for (i = 0; i < nitems(versions); i++)
		assert_int_equal(handshake(sctx, cctx, versions[i], NULL,
		    NULL), -1);
	SSL_CTX_free(cctx);
	cctx = client_ctx(other_cert, other_key);
	cn = NULL;
	assert_int_equal(handshake(sctx, cctx, 0, &cn, NULL), 0);
	assert_string_equal(cn, "agent-good");
	free(cn);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);

	/* Bad input. */
	list[0] = "xyz";
	assert_int_equal(tls_crl_write(crl, pki.ca, pki.cakey, list, 1,
	    &cause), -1);
	assert_non_null(strstr(cause, "xyz"));
	assert_int_equal(write_file_atomic(crl, "junk", 4, 0644, &cause), 0);
	assert_null(tls_server_ctx(pki.srv_cert, pki.srv_key, pki.ca_file,
	    crl, TLS_VERIFY_REQUIRED, &cause));
	assert_non_null(strstr(cause, crl));

	unlink(crl);
	free(cause);
	free(crl);
	free(cert);
	free(key);
	free(other_cert);
	free(other_key);
}

static void
test_handshake_other_ca(void **state)
{
	EVP_PKEY	*k2;
	X509		*ca2;
	SSL_CTX		*sctx, *cctx;
	char		*cert, *key, *cause = NULL;
	size_t		 i;

	(void)state;
	k2 = tls_key_new(&cause);
	ca2 = tls_ca_new(k2, "Haven test CA", 30, &cause);
	assert_non_null(ca2);
	make_client(ca2, k2, "agent-foreign", &cert, &key, NULL);
	sctx = server_ctx(NULL, TLS_VERIFY_REQUIRED);
	cctx = client_ctx(cert, key);
	for (i = 0; i < nitems(versions); i++)
		assert_int_equal(handshake(sctx, cctx, versions[i], NULL,
		    NULL), -1);
	SSL_CTX_free(sctx);
	/* OPTIONAL still refuses a certificate that does not verify. */
	sctx = server_ctx(NULL, TLS_VERIFY_OPTIONAL);
	assert_int_equal(handshake(sctx, cctx, 0, NULL, NULL), -1);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	free(cert);
	free(key);
	X509_free(ca2);
	EVP_PKEY_free(k2);
}

static void
test_ctx_errors(void **state)
{
	char	*cert, *key, *missing, *cause = NULL;
	SSL_CTX	*cctx, *sctx;

	(void)state;
	make_client(pki.ca, pki.cakey, "agent-mix", &cert, &key, NULL);
	missing = path("missing.pem");
	assert_null(tls_server_ctx(missing, pki.srv_key, pki.ca_file, NULL,
	    TLS_VERIFY_REQUIRED, &cause));
	assert_non_null(strstr(cause, missing));
	assert_null(tls_server_ctx(pki.srv_cert, key, pki.ca_file, NULL,
	    TLS_VERIFY_REQUIRED, &cause));
	assert_non_null(strstr(cause, "does not match"));
	assert_null(tls_server_ctx(pki.srv_cert, pki.srv_key, missing, NULL,
	    TLS_VERIFY_REQUIRED, &cause));
	assert_non_null(strstr(cause, missing));
	assert_null(tls_client_ctx(pki.ca_file, cert, NULL, &cause));
	assert_null(tls_client_ctx(missing, NULL, NULL, &cause));
	assert_non_null(strstr(cause, missing));

	/* Verify NONE needs no CA; the client without a CA skips checks. */
	sctx = tls_server_ctx(pki.srv_cert, pki.srv_key, NULL, NULL,
	    TLS_VERIFY_NONE, &cause);
	assert_non_null(sctx);
	cctx = tls_client_ctx(NULL, NULL, NULL, &cause);
	assert_non_null(cctx);
	assert_int_equal(handshake(sctx, cctx, 0, NULL, NULL), 0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);

	free(cause);
	free(missing);
	free(cert);
	free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_server_cert),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_csr_roundtrip),
		cmocka_unit_test(test_csr_tampered),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_proof),
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_handshake_no_cert),
		cmocka_unit_test(test_handshake_revoked),
		cmocka_unit_test(test_handshake_other_ca),
		cmocka_unit_test(test_ctx_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
