/*
 * Enrollment by passphrase (docs/api.md, docs/enrollment.md).  The
 * passphrase never crosses the wire: each side proves it knows it with
 * an HMAC over fresh nonces.  Server nonces are single use and expire;
 * failures are counted per address and answered 429 past the limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "control.h"
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

void
enroll_expire(void)
{
	struct nonce	**pp, *n;
	struct failure	**fp, *f;
	int64_t		  now = now_unix();

	for (pp = &nonces; (n = *pp) != NULL;) {
		if (n->expires <= now) {
			*pp = n->next;
			free(n);
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

/* Consume a nonce: 0 if it was issued and not yet used or expired. */
static int
nonce_take(const char *hex)
{
	struct nonce	**pp, *n;

	enroll_expire();
	for (pp = &nonces; (n = *pp) != NULL; pp = &n->next)
		if (strcmp(n->hex, hex) == 0) {
			*pp = n->next;
			free(n);
			nnonces--;
			return 0;
		}
	return -1;
}

static int
is_hex64(const char *s)
{
	return s != NULL && strlen(s) == 64 &&
	    strspn(s, "0123456789abcdef") == 64;
}

void
enroll_challenge(struct api_req *r)
{
	const char	*cn = json_string_value(json_object_get(r->body,
	    "client_nonce"));
	struct nonce	*n;
	uint8_t		 rnd[32], key[32];
	char		*pass, *capem, *cause = NULL, proof[PROOF_HEX_LEN + 1];

	if (rate_limited(r))
		return;
	if (!is_hex64(cn)) {
		api_error(r, 400, "bad_request", "client_nonce must be 32 "
		    "random bytes as 64 lower-case hex digits");
		return;
	}
	if (pki_passphrase_read(&hv.conf, &pass, &cause) == -1) {
		api_error(r, 500, "passphrase_unreadable", "%s", cause);
		free(cause);
		return;
	}
	enroll_expire();
	if (nnonces >= NONCE_MAX) {
		free(pass);
		api_error(r, 503, "busy", "too many enrollments in progress; "
		    "try again in a few minutes");
		return;
	}
	n = xcalloc(1, sizeof(*n));
	random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), n->hex);
	n->expires = now_unix() + NONCE_TTL_S;
	n->next = nonces;
	nonces = n;
	nnonces++;
	capem = tls_cert_pem(control_ca());
	proof_key(pass, key);
	proof_make(key, "server", n->hex, cn, capem, proof);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pass, strlen(pass));
	free(pass);
	api_reply(r, 200, json_pack("{s:s, s:s, s:s}", "server_nonce", n->hex,
	    "ca_certificate", capem, "server_proof", proof));
	free(capem);
}

struct enroll_ctx {
	struct api_req	*r;
	char		*id;
	char		*certpem;
	char		*hostname;
	char		*role;
};

static void
enrolled(json_t *res, const char *err, void *arg)
{
	struct enroll_ctx	*ec = arg;
	struct api_req		*r = ec->r;
	char			*capem;

	(void)res;
	if (err != NULL) {
		api_error(r, 503, "database_unavailable", "the certificate was "
		    "issued but the machine could not be recorded (%s); "
		    "enroll again", err);
	} else {
		log_info("enrolled %s %s (%s) from %s", ec->role, ec->id,
		    ec->hostname, r->addr);
		r->actor = xstrdup(ec->hostname);
		audit(r, "machine.enroll", ec->id, "%s %s", ec->role,
		    ec->hostname);
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
	X509			*crt;
	uint8_t			 key[32];
	char			*pass, *cause = NULL, id[37];
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
	if (nonce_take(sn) == -1) {
		record_failure(r->addr);
		api_error(r, 403, "bad_nonce", "the server nonce is unknown, "
		    "used or expired (they last %d s and work once): start "
		    "the enrollment again", NONCE_TTL_S);
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
	bad = proof_verify(key, "client", sn, cn, csr, proof);
	OPENSSL_cleanse(key, sizeof(key));
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
	X509_free(crt);
	db_call("machine.enroll", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:I}", "id", id, "hostname", host, "role", role, "address",
	    r->addr, "cert_serial", ci.serial, "cert_fingerprint",
	    ci.fingerprint, "cert_not_after", (json_int_t)ci.not_after),
	    enrolled, ec);
}
