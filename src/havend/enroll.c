/*
 * Enrollment by passphrase or one-time token (docs/api.md,
 * docs/enrollment.md).  Neither crosses the wire: each side proves it
 * knows it with an HMAC over fresh nonces.  A token names itself by
 * its id at the challenge (the body's "token_id"), so that the server
 * proves with that token's key; its nonce then carries the key, and the enrollment uses
 * the token up in the transaction that records the machine.  Server
 * nonces are single use and expire; failures are counted per address
 * and answered 429 past the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "control.h"
#include "enroll_token.h"
#include "havend.h"
#include "log.h"
#include "pki.h"
#include "util.h"

#define NONCE_TTL_S	300
#define NONCE_MAX	4096
#define FAIL_WINDOW_S	60

struct nonce {
	char		 hex[65];
	int64_t		 expires;
	char		 token_id[TOKEN_ID_HEX + 1]; /* "": the passphrase */
	uint8_t		 key[32];	/* the token's proof key */
	struct nonce	*next;
};

struct failure {
	char		 addr[64];
	int64_t		 at[64];	/* ring of failure times */
	int		 n;
	struct failure	*next;
};

static struct nonce	*nonces;
static int		 nnonces;
static struct failure	*failures;

static void
nonce_free(struct nonce *n)
{
	OPENSSL_cleanse(n->key, sizeof(n->key));
	free(n);
}

void
enroll_expire(void)
{
	struct nonce	**pp, *n;
	struct failure	**fp, *f;
	int64_t		  now = now_unix();

	for (pp = &nonces; (n = *pp) != NULL;) {
		if (n->expires <= now) {
			*pp = n->next;
			nonce_free(n);
			nnonces--;
		} else
			pp = &n->next;
	}
	for (fp = &failures; (f = *fp) != NULL;) {
		if (f->n == 0 || f->at[(f->n - 1) % 64] < now - FAIL_WINDOW_S) {
			*fp = f->next;
			free(f);
		} else
			fp = &f->next;
	}
}

static int
recent_failures(const char *addr)
{
	struct failure	*f;
	int64_t		 now = now_unix();
	int		 i, c = 0, lim;

	for (f = failures; f != NULL; f = f->next)
		if (strcmp(f->addr, addr) == 0)
			break;
	if (f == NULL)
		return 0;
	lim = f->n < 64 ? f->n : 64;
	for (i = 0; i < lim; i++)
		if (f->at[i] >= now - FAIL_WINDOW_S)
			c++;
	return c;
}

static void
record_failure(const char *addr)
{
	struct failure	*f;

	for (f = failures; f != NULL; f = f->next)
		if (strcmp(f->addr, addr) == 0)
			break;
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		snprintf(f->addr, sizeof(f->addr), "%s", addr);
		f->next = failures;
		failures = f;
	}
	f->at[f->n % 64] = now_unix();
	f->n++;
}

static int
rate_limited(struct api_req *r)
{
	if (recent_failures(r->addr) < hv.conf.enroll_failures)
		return 0;
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Retry-After", "60");
	api_error(r, 429, "too_many_failures", "too many failed enrollments "
	    "from %s in the last minute; wait a minute, and check the "
	    "passphrase with 'havenctl passphrase show' on the configuration "
	    "server", r->addr);
	return 1;
}

/* Take a nonce that was issued and not yet used or expired (the
 * caller frees it with nonce_free), or NULL. */
static struct nonce *
nonce_take(const char *hex)
{
	struct nonce	**pp, *n;

	enroll_expire();
	for (pp = &nonces; (n = *pp) != NULL; pp = &n->next)
		if (strcmp(n->hex, hex) == 0) {
			*pp = n->next;
			nnonces--;
			return n;
		}
	return NULL;
}

static int
is_hex64(const char *s)
{
	return s != NULL && strlen(s) == 64 &&
	    strspn(s, "0123456789abcdef") == 64;
}

/* Issue a nonce and answer the challenge with a proof keyed by key
 * (the passphrase's, or token_id's). */
static void
challenge_answer(struct api_req *r, const uint8_t key[32],
    const char *token_id)
{
	const char	*cn = json_string_value(json_object_get(r->body,
	    "client_nonce"));
	struct nonce	*n;
	uint8_t		 rnd[32];
	char		*capem, proof[PROOF_HEX_LEN + 1];

	enroll_expire();
	if (nnonces >= NONCE_MAX) {
		api_error(r, 503, "busy", "too many enrollments in progress; "
		    "try again in a few minutes");
		return;
	}
	n = xcalloc(1, sizeof(*n));
	random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), n->hex);
	n->expires = now_unix() + NONCE_TTL_S;
	if (token_id != NULL) {
		snprintf(n->token_id, sizeof(n->token_id), "%s", token_id);
		memcpy(n->key, key, sizeof(n->key));
	}
	n->next = nonces;
	nonces = n;
	nnonces++;
	capem = tls_cert_pem(control_ca());
	proof_make(key, "server", n->hex, cn, capem, proof);
	api_reply(r, 200, json_pack("{s:s, s:s, s:s}", "server_nonce", n->hex,
	    "ca_certificate", capem, "server_proof", proof));
	free(capem);
}

/* A token that cannot enroll: the db op's "[NNN] reason". */
static void
token_refused(struct api_req *r, const char *err)
{
	int	status = 503;

	if (err[0] == '[' && strlen(err) > 6 && err[4] == ']') {
		status = atoi(err + 1);
		err += 6;
	}
	if (status == 403 || status == 404) {
		record_failure(r->addr);
		log_info("refused enrollment from %s: %s", r->addr, err);
		api_error(r, 403, "token_refused", "%s", err);
	} else
		api_error(r, 503, "database_unavailable", "the enrollment "
		    "token cannot be checked now (%s): try again in a minute",
		    err);
}

static void
challenge_token(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	const char	*id, *sealed;
	uint8_t		 key[32];
	char		*cause = NULL;

	if (err != NULL) {
		token_refused(r, err);
		return;
	}
	id = json_string_value(json_object_get(res, "id"));
	sealed = json_string_value(json_object_get(res, "key_sealed"));
	if (id == NULL || sealed == NULL || api_token_open(hv.conf.state_dir,
	    id, sealed, key, &cause) == -1) {
		api_error(r, 500, "token_unreadable", "%s", cause ? cause :
		    "the token's row has no key");
		free(cause);
		return;
	}
	challenge_answer(r, key, id);
	OPENSSL_cleanse(key, sizeof(key));
}

/* The token's id, when the client names one: 1 (id set), 0 (none), -1
 * (answered: malformed). */
static int
challenge_token_id(struct api_req *r, char id[TOKEN_ID_HEX + 1])
{
	json_t		*v = json_object_get(r->body, "token_id");

	if (v == NULL)
		return 0;
	if (!token_id_ok(json_string_value(v))) {
		api_error(r, 400, "bad_request", "token_id must be the "
		    "16 hex digits after 'hvt1.' in the token");
		return -1;
	}
	snprintf(id, TOKEN_ID_HEX + 1, "%s", json_string_value(v));
	return 1;
}

void
enroll_challenge(struct api_req *r)
{
	const char	*cn = json_string_value(json_object_get(r->body,
	    "client_nonce"));
	uint8_t		 key[32];
	char		*pass, *cause = NULL, tid[TOKEN_ID_HEX + 1];
	int		 t;

	if (rate_limited(r))
		return;
	if (!is_hex64(cn)) {
		api_error(r, 400, "bad_request", "client_nonce must be 32 "
		    "random bytes as 64 lower-case hex digits");
		return;
	}
	if ((t = challenge_token_id(r, tid)) == -1)
		return;
	if (t == 1) {
		db_call("token.get", json_pack("{s:s}", "id", tid),
		    challenge_token, r);
		return;
	}
	if (pki_passphrase_read(&hv.conf, &pass, &cause) == -1) {
		api_error(r, 500, "passphrase_unreadable", "%s", cause);
		free(cause);
		return;
	}
	proof_key(pass, key);
	OPENSSL_cleanse(pass, strlen(pass));
	free(pass);
	challenge_answer(r, key, NULL);
	OPENSSL_cleanse(key, sizeof(key));
}

struct enroll_ctx {
	struct api_req	*r;
	char		*id;
	char		*certpem;
	char		*hostname;
	char		*role;
	char		 token_id[TOKEN_ID_HEX + 1];
};

static void
enrolled(json_t *res, const char *err, void *arg)
{
	struct enroll_ctx	*ec = arg;
	struct api_req		*r = ec->r;
	char			*capem;

	(void)res;
	if (err != NULL && ec->token_id[0] != '\0' && err[0] == '[') {
		r->actor = xstrdup(ec->hostname);
		audit(r, "machine.enroll.refused", NULL, "token %s: %s",
		    ec->token_id, err + 6);
		token_refused(r, err);
	} else if (err != NULL) {
		api_error(r, 503, "database_unavailable", "the certificate was "
		    "issued but the machine could not be recorded (%s); "
		    "enroll again", err);
	} else {
		log_info("enrolled %s %s (%s) from %s%s%s", ec->role, ec->id,
		    ec->hostname, r->addr, ec->token_id[0] ? " with enrollment "
		    "token " : "", ec->token_id);
		r->actor = xstrdup(ec->hostname);
		audit(r, "machine.enroll", ec->id, "%s %s%s%s", ec->role,
		    ec->hostname, ec->token_id[0] ? ", enrollment token " : "",
		    ec->token_id);
		capem = tls_cert_pem(control_ca());
		api_reply(r, 200, json_pack("{s:s, s:s, s:s, s:I}",
		    "machine_id", ec->id, "certificate", ec->certpem,
		    "ca_certificate", capem, "heartbeat_interval",
		    (json_int_t)hv.conf.heartbeat_interval));
		free(capem);
	}
	free(ec->id);
	free(ec->certpem);
	free(ec->hostname);
	free(ec->role);
	free(ec);
}

static void
uuid_new(char out[37])
{
	uint8_t	b[16];

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
enroll_submit(struct api_req *r)
{
	const char		*sn = json_string_value(json_object_get(r->body,
				    "server_nonce"));
	const char		*cn = json_string_value(json_object_get(r->body,
				    "client_nonce"));
	const char		*csr = json_string_value(json_object_get(r->body,
				    "csr"));
	const char		*host = json_string_value(json_object_get(
				    r->body, "hostname"));
	const char		*role = json_string_value(json_object_get(
				    r->body, "role"));
	const char		*proof = json_string_value(json_object_get(
				    r->body, "proof"));
	struct enroll_ctx	*ec;
	struct tls_certinfo	 ci;
	struct nonce		*n;
	X509			*crt;
	json_t			*args;
	uint8_t			 key[32];
	char			*pass, *cause = NULL, id[37];
	char			 tid[TOKEN_ID_HEX + 1];
	int			 bad;

	if (rate_limited(r))
		return;
	if (role == NULL)
		role = "agent";
	if (!is_hex64(sn) || !is_hex64(cn) || csr == NULL || proof == NULL ||
	    host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    (strcmp(role, "agent") != 0 && strcmp(role, "ps") != 0)) {
		api_error(r, 400, "bad_request", "an enrollment needs "
		    "server_nonce and client_nonce (64 hex digits), csr, "
		    "hostname, proof, and role 'agent' or 'ps'");
		return;
	}
	if ((n = nonce_take(sn)) == NULL) {
		record_failure(r->addr);
		api_error(r, 403, "bad_nonce", "the server nonce is unknown, "
		    "used or expired (they last %d s and work once): start "
		    "the enrollment again", NONCE_TTL_S);
		return;
	}
	snprintf(tid, sizeof(tid), "%s", n->token_id);
	if (tid[0] != '\0') {
		/* The token was live at the challenge; "token.enroll"
		 * checks it again as it uses it up. */
		memcpy(key, n->key, sizeof(key));
		nonce_free(n);
	} else {
		nonce_free(n);
		if (pki_passphrase_read(&hv.conf, &pass, &cause) == -1) {
			api_error(r, 500, "passphrase_unreadable", "%s", cause);
			free(cause);
			return;
		}
		proof_key(pass, key);
		OPENSSL_cleanse(pass, strlen(pass));
		free(pass);
	}
	bad = proof_verify(key, "client", sn, cn, csr, proof);
	OPENSSL_cleanse(key, sizeof(key));
	if (bad && tid[0] != '\0') {
		record_failure(r->addr);
		log_warnx("refused enrollment of %s from %s: wrong proof for "
		    "enrollment token %s", host, r->addr, tid);
		r->actor = xstrdup(host);
		audit(r, "machine.enroll.refused", NULL, "wrong proof for "
		    "enrollment token %s", tid);
		api_error(r, 403, "bad_token", "the proof made with enrollment "
		    "token %s is wrong: the token file was changed or cut; "
		    "use the whole token as issued (it still works once)",
		    tid);
		return;
	}
	if (bad) {
		record_failure(r->addr);
		log_warnx("refused enrollment of %s from %s: wrong passphrase",
		    host, r->addr);
		r->actor = xstrdup(host);
		audit(r, "machine.enroll.refused", NULL, "wrong passphrase");
		api_error(r, 403, "bad_passphrase", "the passphrase is wrong: "
		    "get the current one with 'havenctl passphrase show' on "
		    "the configuration server (it changes when someone runs "
		    "'havenctl passphrase generate')");
		return;
	}
	uuid_new(id);
	crt = tls_csr_sign(control_ca(), control_ca_key(), csr, id,
	    PKI_CLIENT_DAYS, &cause);
	if (crt == NULL) {
		api_error(r, 400, "bad_csr", "the certificate request was "
		    "refused: %s", cause);
		free(cause);
		return;
	}
	tls_cert_info(crt, &ci);
	ec = xcalloc(1, sizeof(*ec));
	ec->r = r;
	ec->id = xstrdup(id);
	ec->certpem = tls_cert_pem(crt);
	ec->hostname = xstrdup(host);
	ec->role = xstrdup(role);
	snprintf(ec->token_id, sizeof(ec->token_id), "%s", tid);
	X509_free(crt);
	args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", id,
	    "hostname", host, "role", role, "address", r->addr, "cert_serial",
	    ci.serial, "cert_fingerprint", ci.fingerprint, "cert_not_after",
	    (json_int_t)ci.not_after);
	if (tid[0] != '\0') {
		/* Uses the token and records the machine in one transaction:
		 * of two racing with one token, one wins. */
		json_object_set_new(args, "token_id", json_string(tid));
		db_call("token.enroll", args, enrolled, ec);
	} else
		db_call("machine.enroll", args, enrolled, ec);
}
