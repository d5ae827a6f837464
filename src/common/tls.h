/*
 * TLS and the site PKI, on OpenSSL 3.  Keys are EC P-256.  The site CA
 * signs the server certificate and every enrolled machine's client
 * certificate; a CRL lists revoked machines.
 */
#ifndef HAVEN_TLS_H
#define HAVEN_TLS_H

#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

enum tls_cert_kind { TLS_CERT_SERVER, TLS_CERT_CLIENT };
enum tls_verify { TLS_VERIFY_NONE, TLS_VERIFY_OPTIONAL, TLS_VERIFY_REQUIRED };

struct tls_certinfo {
	char	subject_cn[256];
	char	serial[80];		/* lower-case hex */
	char	fingerprint[65];	/* SHA-256 of the DER, lower-case hex */
	int64_t	not_before;		/* unix seconds */
	int64_t	not_after;
};

EVP_PKEY	*tls_key_new(char **cause);
/* Self-signed CA, days long. */
X509		*tls_ca_new(EVP_PKEY *key, const char *cn, int days,
		    char **cause);
/*
 * Issue a certificate for pub signed by ca/cakey.  sans: NULL-terminated
 * list of DNS names and IP addresses (each is put in as IP if it parses
 * as one), may be NULL.  Random 128-bit serial.
 */
X509		*tls_cert_issue(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *pub,
		    const char *cn, const char *const *sans, int days,
		    enum tls_cert_kind, char **cause);
/* PEM CSR for key (CN is advisory: the CA sets the subject). */
char		*tls_csr_new(EVP_PKEY *key, const char *cn, char **cause);
/* Verify the CSR's self-signature and issue a client certificate. */
X509		*tls_csr_sign(X509 *ca, EVP_PKEY *cakey, const char *csr_pem,
		    const char *cn, int days, char **cause);

/* PEM files.  Keys are written 0600, atomically. */
int		 tls_key_write(const char *path, EVP_PKEY *, char **cause);
int		 tls_cert_write(const char *path, X509 *, char **cause);
EVP_PKEY	*tls_key_read(const char *path, char **cause);
X509		*tls_cert_read(const char *path, char **cause);
char		*tls_cert_pem(X509 *);			/* malloc'd */
X509		*tls_cert_from_pem(const char *pem, char **cause);
int		 tls_cert_info(X509 *, struct tls_certinfo *);
/* Same for a certificate file. */
int		 tls_cert_file_info(const char *path, struct tls_certinfo *,
		    char **cause);

/* Write a CRL signed by the CA revoking the given hex serials. */
int		 tls_crl_write(const char *path, X509 *ca, EVP_PKEY *cakey,
		    const char *const *serials, size_t n, char **cause);

/*
 * Contexts, TLS 1.2 minimum.  Server: cert chain and key; with verify
 * OPTIONAL or REQUIRED, client certificates must chain to ca_file and
 * not be on crl_file (which may be NULL or missing).
 */
SSL_CTX		*tls_server_ctx(const char *cert_file, const char *key_file,
		    const char *ca_file, const char *crl_file,
		    enum tls_verify, char **cause);
/* Client: verifies the server against ca_file (NULL: no verification),
 * presents cert/key when given. */
SSL_CTX		*tls_client_ctx(const char *ca_file, const char *cert_file,
		    const char *key_file, char **cause);
/* After a handshake: the verified peer certificate's CN and SHA-256
 * fingerprint (malloc'd), or -1 if the peer sent none. */
int		 tls_peer_identity(SSL *, char **cn, char **fingerprint);
/* The last OpenSSL error queue as one line (static buffer). */
const char	*tls_error(void);

/*
 * Enrollment proof (docs/enrollment.md).  K = SHA-256("haven-enroll-v1"
 * || passphrase).  The client proves knowledge of the passphrase with
 * HMAC-SHA256(K, "client" || server_nonce || client_nonce ||
 * SHA-256(csr)); the server proves it with HMAC-SHA256(K, "server" ||
 * server_nonce || client_nonce || SHA-256(ca_pem)).  Nonces and proofs
 * travel as lower-case hex.
 */
#define PROOF_HEX_LEN	64
void		 proof_key(const char *passphrase, uint8_t key[32]);
void		 proof_make(const uint8_t key[32], const char *label,
		    const char *server_nonce, const char *client_nonce,
		    const char *doc, char out[PROOF_HEX_LEN + 1]);
/* Constant-time; 0 when it matches. */
int		 proof_verify(const uint8_t key[32], const char *label,
		    const char *server_nonce, const char *client_nonce,
		    const char *doc, const char *proof_hex);

#endif
