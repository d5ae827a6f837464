/*
 * The client side of enrollment by passphrase (docs/enrollment.md),
 * shared by haven-agent enroll and haven-setup's process-server mode:
 * prove the passphrase, make the configuration server prove it too
 * before trusting its CA, then get a client certificate for a new key.
 * Nothing is written except the CA file the request needs to verify
 * the server; the caller keeps the key and certificate where it likes.
 */
#ifndef HAVEN_ENROLLC_H
#define HAVEN_ENROLLC_H

#include <openssl/evp.h>
#include <openssl/x509.h>

struct enrollc {
	/* In: */
	const char	*cs;		/* host:port, for messages */
	const char	*url;		/* https://host:port */
	const char	*role;		/* "agent" or "ps" */
	const char	*hostname;	/* sent as the machine's name */
	const char	*ca_file;	/* where the proven CA is written (0644)
					   before the request that needs it */
	/* Set by enrollc_passphrase(): the id of a one-time token, "" for
	 * the passphrase.  Sent with the challenge (not secret). */
	char		 token_id[17];
	/* Out, on success: */
	char		*machine_id;
	char		*ca_pem;
	X509		*ca;
	X509		*cert;		/* signed by ca, for key */
	EVP_PKEY	*key;
	/* Private: */
	uint8_t		 proof_key[32];
	char		 client_nonce[65];
	char		*server_nonce;
	char		*csr;
};

/*
 * The proof key from a passphrase file (owner-only, one line, not
 * empty); the passphrase itself is wiped at once.  A file holding a
 * one-time enrollment token (token.h) works the same way and sets
 * token_id.
 */
int	enrollc_passphrase(struct enrollc *, const char *passphrase_file,
	    char **cause);
/*
 * The whole exchange after enrollc_passphrase(): challenge, server
 * proof, CA written to ca_file, CSR with proof, certificate checked
 * against the key and the proven CA.  On -1 the cause says whether the
 * passphrase, the network or the server is at fault; ca_file may have
 * been written (the CA was proven by then).
 */
int	enrollc_run(struct enrollc *, char **cause);
/* Wipes the proof key; frees what the run made. */
void	enrollc_free(struct enrollc *);

#endif
