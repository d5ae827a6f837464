/*
 * haven-agent enroll (docs/api.md "Enrollment"): prove the passphrase,
 * make the configuration server prove it too before trusting its CA,
 * then get a client certificate for this machine.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "log.h"
#include "tls.h"
#include "util.h"

struct enroll {
	const char	*cs;
	const char	*passphrase_file;
	const char	*role;
	int		 force;
	char		*url;
	uint8_t		 key[32];	/* proof key from the passphrase */
	char		 client_nonce[65];
	char		*server_nonce;
	char		*ca_pem;
	char		*ca_file;
	X509		*ca;
	EVP_PKEY	*pkey;
	char		*csr;
	char		 hostname[256];
};

/* The proof key; the passphrase itself is wiped at once. */
static int
enroll_passphrase(struct enroll *en, char **cause)
{
	char	*pass;
	size_t	 len;

	if (check_private_file(en->passphrase_file, cause) == -1)
		return -1;
	if ((pass = read_file(en->passphrase_file, &len, cause)) == NULL)
		return -1;
	while (len > 0 && (pass[len - 1] == '\n' || pass[len - 1] == '\r'))
		pass[--len] = '\0';
	if (len == 0 || strlen(pass) != len) {
		set_cause(cause, "%s does not hold a passphrase%s; put the "
		    "output of 'havenctl passphrase show' (on the "
		    "configuration server) in it", en->passphrase_file,
		    len == 0 ? " (it is empty)" : " (it has a NUL byte)");
		OPENSSL_cleanse(pass, len);
		free(pass);
		return -1;
	}
	proof_key(pass, en->key);
	OPENSSL_cleanse(pass, len);
	free(pass);
	return 0;
}

static const char *
enroll_str(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL && *s != '\0' ? s : NULL;
}

/* Steps 1 and 2: the challenge, and the server's proof of the CA. */
static int
enroll_challenge(struct enroll *en, char **cause)
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
	log_debug("asking %s for an enrollment challenge", en->cs);
	if (httpc_call(&o, "POST", "/api/v1/enroll/challenge", req, NULL, &ans,
	    &why) == -1) {
		set_cause(cause, "enrollment challenge from %s failed: %s",
		    en->cs, why);
		goto out;
	}
	sn = enroll_str(ans, "server_nonce");
	ca = enroll_str(ans, "ca_certificate");
	proof = enroll_str(ans, "server_proof");
	if (sn == NULL || ca == NULL || proof == NULL) {
		set_cause(cause, "%s answered the enrollment challenge without "
		    "server_nonce, ca_certificate or server_proof: is it a "
		    "Haven configuration server's control port?", en->cs);
		goto out;
	}
	if (proof_verify(en->key, "server", sn, en->client_nonce, ca,
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
enroll_request(struct enroll *en, json_t **answer, char **cause)
{
	struct httpc_opts	 o = { NULL, en->url, en->ca_file, NULL, NULL,
				    60 };
	json_t			*req;
	char			 proof[PROOF_HEX_LEN + 1], *why = NULL;
	long			 status;
	int			 rc = -1;

	if ((en->pkey = tls_key_new(cause)) == NULL)
		return -1;
	if ((en->csr = tls_csr_new(en->pkey, en->hostname, cause)) == NULL)
		return -1;
	proof_make(en->key, "client", en->server_nonce, en->client_nonce,
	    en->csr, proof);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "server_nonce", en->server_nonce, "client_nonce", en->client_nonce,
	    "csr", en->csr, "hostname", en->hostname, "role", en->role,
	    "proof", proof);
	if (req == NULL) {
		set_cause(cause, "the host name '%s' is not UTF-8", en->hostname);
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

/* Step 4: keep what the server issued, machine.json last. */
static int
enroll_save(struct agent *a, struct enroll *en, json_t *ans, char **cause)
{
	struct tls_certinfo	 ci;
	const char		*id, *pem, *p;
	X509			*cert = NULL;
	json_t			*m = NULL;
	char			*path = NULL, *text = NULL, day[32];
	int			 rc = -1;

	id = enroll_str(ans, "machine_id");
	pem = enroll_str(ans, "certificate");
	if (id == NULL || pem == NULL) {
		set_cause(cause, "%s answered the enrollment without "
		    "machine_id or certificate", en->cs);
		goto out;
	}
	for (p = id; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-'))
			break;
	if (*p != '\0') {
		set_cause(cause, "%s gave a malformed machine id", en->cs);
		goto out;
	}
	if ((cert = tls_cert_from_pem(pem, cause)) == NULL)
		goto out;
	if (X509_check_private_key(cert, en->pkey) != 1 ||
	    X509_verify(cert, X509_get0_pubkey(en->ca)) != 1) {
		set_cause(cause, "the certificate from %s is not for this "
		    "machine's key or not signed by the site CA it proved; "
		    "refusing it", en->cs);
		goto out;
	}

	path = agent_path(a, AGENT_KEY_FILE);
	if (tls_key_write(path, en->pkey, cause) == -1)
		goto out;
	free(path);
	path = agent_path(a, AGENT_CERT_FILE);
	if (tls_cert_write(path, cert, cause) == -1)
		goto out;
	free(path);
	path = agent_path(a, AGENT_MACHINE_FILE);
	m = json_pack("{s:s, s:s}", "machine_id", id, "cs", en->cs);
	text = json_dumps(m, JSON_INDENT(2));
	if (text == NULL || write_file_atomic(path, text, strlen(text), 0644,
	    cause) == -1)
		goto out;

	tls_cert_info(cert, &ci);
	fmt_time(ci.not_after, day, sizeof(day));
	printf("enrolled as machine %s with the configuration server at %s; "
	    "the certificate is valid until %.10s\n"
	    "start the heartbeat with: systemctl enable --now haven-agent\n",
	    id, en->cs, day);
	log_info("enrolled as machine %s with %s", id, en->cs);
	rc = 0;
out:
	X509_free(cert);
	json_decref(m);
	free(text);
	free(path);
	return rc;
}

static void
enroll_free(struct enroll *en)
{
	OPENSSL_cleanse(en->key, sizeof(en->key));
	free(en->url);
	free(en->server_nonce);
	free(en->ca_pem);
	free(en->ca_file);
	X509_free(en->ca);
	EVP_PKEY_free(en->pkey);
	free(en->csr);
}

static int
enroll_args(struct agent *a, struct enroll *en, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cs",			required_argument, NULL, 'c' },
		{ "passphrase-file",	required_argument, NULL, 'p' },
		{ "role",		required_argument, NULL, 'r' },
		{ "force",		no_argument,	   NULL, 'f' },
		{ NULL,			0,		   NULL, 0 }
	};
	int	ch;

	en->role = "agent";
	en->cs = a->conf.cs;
	optind = 0;	/* glibc: start afresh after main's getopt */
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			en->cs = optarg;
			break;
		case 'p':
			en->passphrase_file = optarg;
			break;
		case 'r':
			en->role = optarg;
			break;
		case 'f':
			en->force = 1;
			break;
		default:
			return agent_usage_error("enroll", "bad option");
		}
	}
	if (optind < argc)
		return agent_usage_error("enroll", "unexpected '%s'",
		    argv[optind]);
	if (en->cs == NULL || *en->cs == '\0')
		return agent_usage_error("enroll", "which configuration "
		    "server? give --cs HOST:PORT");
	if (en->passphrase_file == NULL)
		return agent_usage_error("enroll", "give --passphrase-file "
		    "FILE (the passphrase is never taken on the command line)");
	if (strcmp(en->role, "agent") != 0 && strcmp(en->role, "ps") != 0)
		return agent_usage_error("enroll", "--role is agent or ps, "
		    "not '%s'", en->role);
	return AGENT_OK;
}

int
agent_enroll(struct agent *a, int argc, char **argv)
{
	struct enroll	 en;
	json_t		*ans = NULL;
	char		*cause = NULL, *mpath;
	int		 rc;

	memset(&en, 0, sizeof(en));
	if ((rc = enroll_args(a, &en, argc, argv)) != AGENT_OK)
		return rc;
	rc = AGENT_FAIL;
	if ((en.url = agent_cs_url(en.cs, &cause)) == NULL)
		goto out;
	mpath = agent_path(a, AGENT_MACHINE_FILE);
	if (!en.force && access(mpath, F_OK) == 0) {
		set_cause(&cause, "this machine is already enrolled (%s); "
		    "'haven-agent status' shows with whom. To enroll it anew, "
		    "as a new machine, add --force", mpath);
		free(mpath);
		goto out;
	}
	free(mpath);
	if (enroll_passphrase(&en, &cause) == -1)
		goto out;
	if (gethostname(en.hostname, sizeof(en.hostname)) == -1)
		snprintf(en.hostname, sizeof(en.hostname), "unknown");
	en.hostname[sizeof(en.hostname) - 1] = '\0';
	if (mkdir_p(a->conf.state_dir, 0700, &cause) == -1)
		goto out;

	if (enroll_challenge(&en, &cause) == -1)
		goto out;
	/* Proven: from here on the server is verified against this CA. */
	en.ca_file = agent_path(a, AGENT_CA_FILE);
	if (write_file_atomic(en.ca_file, en.ca_pem, strlen(en.ca_pem), 0644,
	    &cause) == -1)
		goto out;
	if (enroll_request(&en, &ans, &cause) == -1)
		goto out;
	if (enroll_save(a, &en, ans, &cause) == -1)
		goto out;
	rc = AGENT_OK;
out:
	if (cause != NULL) {
		fprintf(stderr, "haven-agent: %s\n", cause);
		free(cause);
	}
	json_decref(ans);
	enroll_free(&en);
	return rc;
}
