/*
 * Enrollment, the client side (enrollc.h, docs/enrollment.md).  Moved
 * out of haven-agent so that a scale-out process server enrolls with
 * exactly the same code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "enrollc.h"
#include "httpc.h"
#include "log.h"
#include "tls.h"
#include "token.h"
#include "util.h"

int
enrollc_passphrase(struct enrollc *en, const char *passphrase_file,
    char **cause)
{
	char	*pass;
	size_t	 len;

	if (check_private_file(passphrase_file, cause) == -1)
		return -1;
	if ((pass = read_file(passphrase_file, &len, cause)) == NULL)
		return -1;
	while (len > 0 && (pass[len - 1] == '\n' || pass[len - 1] == '\r'))
		pass[--len] = '\0';
	if (len == 0 || strlen(pass) != len) {
		set_cause(cause, "%s does not hold a passphrase%s; put the "
		    "output of 'havenctl passphrase show' (on the "
		    "configuration server) in it", passphrase_file,
		    len == 0 ? " (it is empty)" : " (it has a NUL byte)");
		OPENSSL_cleanse(pass, len);
		free(pass);
		return -1;
	}
	if (token_parse(pass, len, en->token_id) == -1)
		en->token_id[0] = '\0';
	proof_key(pass, en->proof_key);
	OPENSSL_cleanse(pass, len);
	free(pass);
	return 0;
}

static const char *
enrollc_str(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL && *s != '\0' ? s : NULL;
}

/* Steps 1 and 2: the challenge, and the server's proof of the CA. */
static int
enrollc_challenge(struct enrollc *en, char **cause)
{
	struct httpc_opts	 o = { NULL, en->url, NULL, NULL, NULL, 30 };
	json_t			*req, *ans = NULL;
	const char		*sn, *ca, *proof;
	char			*why = NULL;
	uint8_t			 cn[32];
	int			 rc = -1;

	random_bytes(cn, sizeof(cn));
	hex_encode(cn, sizeof(cn), en->client_nonce);
	req = json_pack("{s:s}", "client_nonce", en->client_nonce);
	if (en->token_id[0] != '\0')
		json_object_set_new(req, "token_id",
		    json_string(en->token_id));
	log_debug("asking %s for an enrollment challenge", en->cs);
	if (httpc_call(&o, "POST", "/api/v1/enroll/challenge", req, NULL, &ans,
	    &why) == -1) {
		set_cause(cause, "enrollment challenge from %s failed: %s",
		    en->cs, why);
		goto out;
	}
	sn = enrollc_str(ans, "server_nonce");
	ca = enrollc_str(ans, "ca_certificate");
	proof = enrollc_str(ans, "server_proof");
	if (sn == NULL || ca == NULL || proof == NULL) {
		set_cause(cause, "%s answered the enrollment challenge without "
		    "server_nonce, ca_certificate or server_proof: is it a "
		    "Haven configuration server's control port?", en->cs);
		goto out;
	}
	if (proof_verify(en->proof_key, "server", sn, en->client_nonce, ca,
	    proof) != 0) {
		set_cause(cause, "the configuration server at %s could not "
		    "prove it knows the passphrase: either the passphrase "
		    "file is wrong or something is intercepting the "
		    "connection; check with 'havenctl passphrase show' on "
		    "the configuration server", en->cs);
		goto out;
	}
	if ((en->ca = tls_cert_from_pem(ca, &why)) == NULL) {
		set_cause(cause, "the site CA certificate from %s is not "
		    "usable: %s", en->cs, why);
		goto out;
	}
	en->server_nonce = xstrdup(sn);
	en->ca_pem = xstrdup(ca);
	rc = 0;
out:
	free(why);
	json_decref(req);
	json_decref(ans);
	return rc;
}

/* Step 3: key, CSR, proof; the request already verifies the server. */
static int
enrollc_request(struct enrollc *en, json_t **answer, char **cause)
{
	struct httpc_opts	 o = { NULL, en->url, en->ca_file, NULL, NULL,
				    60 };
	json_t			*req;
	char			 proof[PROOF_HEX_LEN + 1], *why = NULL;
	long			 status;
	int			 rc = -1;

	if ((en->key = tls_key_new(cause)) == NULL)
		return -1;
	if ((en->csr = tls_csr_new(en->key, en->hostname, cause)) == NULL)
		return -1;
	proof_make(en->proof_key, "client", en->server_nonce,
	    en->client_nonce, en->csr, proof);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "server_nonce", en->server_nonce, "client_nonce", en->client_nonce,
	    "csr", en->csr, "hostname", en->hostname, "role", en->role,
	    "proof", proof);
	if (req == NULL) {
		set_cause(cause, "the host name '%s' is not UTF-8",
		    en->hostname);
		return -1;
	}
	log_debug("sending the CSR and proof to %s", en->cs);
	if (httpc_call(&o, "POST", "/api/v1/enroll", req, &status, answer,
	    &why) == -1) {
		if (status == 403)
			set_cause(cause, "%s refused the enrollment: %s",
			    en->cs, why);
		else
			set_cause(cause, "enrollment with %s failed: %s",
			    en->cs, why);
	} else
		rc = 0;
	free(why);
	json_decref(req);
	return rc;
}

/* Step 4: what the server issued must be for our key, from its CA. */
static int
enrollc_check(struct enrollc *en, json_t *ans, char **cause)
{
	const char	*id, *pem, *p;

	id = enrollc_str(ans, "machine_id");
	pem = enrollc_str(ans, "certificate");
	if (id == NULL || pem == NULL) {
		set_cause(cause, "%s answered the enrollment without "
		    "machine_id or certificate", en->cs);
		return -1;
	}
	for (p = id; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-'))
			break;
	if (*p != '\0') {
		set_cause(cause, "%s gave a malformed machine id", en->cs);
		return -1;
	}
	if ((en->cert = tls_cert_from_pem(pem, cause)) == NULL)
		return -1;
	if (X509_check_private_key(en->cert, en->key) != 1 ||
	    X509_verify(en->cert, X509_get0_pubkey(en->ca)) != 1) {
		set_cause(cause, "the certificate from %s is not for this "
		    "machine's key or not signed by the site CA it proved; "
		    "refusing it", en->cs);
		return -1;
	}
	en->machine_id = xstrdup(id);
	return 0;
}

int
enrollc_run(struct enrollc *en, char **cause)
{
	json_t	*ans = NULL;
	int	 rc = -1;

	if (enrollc_challenge(en, cause) == -1)
		return -1;
	/* Proven: from here on the server is verified against this CA. */
	if (write_file_atomic(en->ca_file, en->ca_pem, strlen(en->ca_pem),
	    0644, cause) == -1)
		return -1;
	if (enrollc_request(en, &ans, cause) == 0 &&
	    enrollc_check(en, ans, cause) == 0)
		rc = 0;
	json_decref(ans);
	return rc;
}

void
enrollc_free(struct enrollc *en)
{
	OPENSSL_cleanse(en->proof_key, sizeof(en->proof_key));
	free(en->machine_id);
	free(en->server_nonce);
	free(en->ca_pem);
	free(en->csr);
	X509_free(en->ca);
	X509_free(en->cert);
	EVP_PKEY_free(en->key);
	en->machine_id = en->server_nonce = en->ca_pem = en->csr = NULL;
	en->ca = en->cert = NULL;
	en->key = NULL;
}
