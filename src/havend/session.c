/*
 * Sign-in for people on the admin port: scrypt password hashes, lock-out
 * with back-off after repeated failures, a session cookie (Secure,
 * HttpOnly, SameSite=Strict) with an idle timeout, and a CSRF token
 * that every change must echo in the X-CSRF-Token header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "control.h"
#include "havend.h"
#include "log.h"
#include "util.h"

#define SCRYPT_N	16384
#define SCRYPT_R	8
#define SCRYPT_P	1
#define SESSION_IDLE_S	1800
#define LOCK_AFTER	5
#define COOKIE		"haven_session"

struct session {
	char		 token[65];
	char		 csrf[65];
	char		*user;
	int64_t		 last_seen;
	struct session	*next;
};

static struct session	*sessions;

int
password_hash(const char *pw, char **out, char **cause)
{
	uint8_t	salt[16], dk[32];
	char	hsalt[33], hdk[65];

	random_bytes(salt, sizeof(salt));
	if (EVP_PBE_scrypt(pw, strlen(pw), salt, sizeof(salt), SCRYPT_N,
	    SCRYPT_R, SCRYPT_P, 64 * 1024 * 1024, dk, sizeof(dk)) != 1) {
		set_cause(cause, "scrypt failed: %s", tls_error());
		return -1;
	}
	hex_encode(salt, sizeof(salt), hsalt);
	hex_encode(dk, sizeof(dk), hdk);
	*out = xasprintf("$scrypt$N=%d,r=%d,p=%d$%s$%s", SCRYPT_N, SCRYPT_R,
	    SCRYPT_P, hsalt, hdk);
	return 0;
}

/* 0 when pw matches hash. */
int
password_verify(const char *pw, const char *hash)
{
	uint8_t		salt[64], want[64], got[64];
	char		hsalt[129], hdk[129];
	unsigned long	N;
	unsigned	r, p;
	ssize_t		nsalt, ndk;

	if (sscanf(hash, "$scrypt$N=%lu,r=%u,p=%u$%128[0-9a-f]$%128[0-9a-f]",
	    &N, &r, &p, hsalt, hdk) != 5)
		return -1;
	if ((nsalt = hex_decode(hsalt, salt, sizeof(salt))) <= 0 ||
	    (ndk = hex_decode(hdk, want, sizeof(want))) <= 0)
		return -1;
	if (EVP_PBE_scrypt(pw, strlen(pw), salt, (size_t)nsalt, N, r, p,
	    256 * 1024 * 1024, got, (size_t)ndk) != 1)
		return -1;
	return CRYPTO_memcmp(got, want, (size_t)ndk) == 0 ? 0 : -1;
}

static const char *
cookie_value(struct evhttp_request *req, const char *name)
{
	static char	 val[128];
	const char	*h, *p;
	size_t		 nlen = strlen(name), n;

	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Cookie");
	for (p = h; p != NULL && *p != '\0';) {
		p += strspn(p, " ;");
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			n = strcspn(p, ";");
			if (n >= sizeof(val))
				return NULL;
			memcpy(val, p, n);
			val[n] = '\0';
			return val;
		}
		p += strcspn(p, ";");
	}
	return NULL;
}

static void
session_drop(struct session *s)
{
	struct session	**pp;

	for (pp = &sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s->user);
	free(s);
}

static struct session *
session_find(struct evhttp_request *req)
{
	struct session	*s, *next;
	const char	*tok = cookie_value(req, COOKIE);
	int64_t		 now = now_unix();

	for (s = sessions; s != NULL; s = next) {
		next = s->next;
		if (now - s->last_seen > SESSION_IDLE_S)
			session_drop(s);
	}
	if (tok == NULL || strlen(tok) != 64)
		return NULL;
	for (s = sessions; s != NULL; s = s->next)
		if (CRYPTO_memcmp(s->token, tok, 64) == 0)
			return s;
	return NULL;
}

int
session_check(struct api_req *r)
{
	struct session	*s = session_find(r->req);
	const char	*csrf;
	int		 method = evhttp_request_get_command(r->req);

	if (s == NULL) {
		api_error(r, 401, "not_signed_in", "sign in first (your "
		    "session may have expired after %d minutes idle)",
		    SESSION_IDLE_S / 60);
		return -1;
	}
	if (method != EVHTTP_REQ_GET) {
		csrf = evhttp_find_header(evhttp_request_get_input_headers(
		    r->req), "X-CSRF-Token");
		if (csrf == NULL || strlen(csrf) != 64 ||
		    CRYPTO_memcmp(csrf, s->csrf, 64) != 0) {
			api_error(r, 403, "csrf", "this change lacks the "
			    "session's CSRF token; reload the page and try "
			    "again");
			return -1;
		}
	}
	s->last_seen = now_unix();
	r->actor = xstrdup(s->user);
	return 0;
}

struct login_ctx {
	struct api_req	*r;
	char		*user;
	char		*password;
	int		 ok;
};

static void
login_ctx_free(struct login_ctx *lc)
{
	if (lc->password != NULL) {
		OPENSSL_cleanse(lc->password, strlen(lc->password));
		free(lc->password);
	}
	free(lc->user);
	free(lc);
}

static void
login_recorded(json_t *res, const char *err, void *arg)
{
	struct login_ctx	*lc = arg;
	struct api_req		*r = lc->r;
	struct session		*s;
	uint8_t			 rnd[32];
	char			*cookie;

	(void)err;
	r->actor = xstrdup(lc->user);
	if (!lc->ok) {
		long long fails = json_integer_value(json_object_get(res,
		    "failures"));

		audit(r, "session.login.failed", lc->user, "%lld failure%s",
		    fails, fails == 1 ? "" : "s");
		api_error(r, 401, "bad_credentials", "wrong user name or "
		    "password%s", fails >= LOCK_AFTER - 1 ? "; the account "
		    "locks for a while after repeated failures" : "");
		login_ctx_free(lc);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), s->token);
	random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), s->csrf);
	s->user = xstrdup(lc->user);
	s->last_seen = now_unix();
	s->next = sessions;
	sessions = s;
	cookie = xasprintf("%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict",
	    COOKIE, s->token);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Set-Cookie", cookie);
	free(cookie);
	audit(r, "session.login", lc->user, "%s", "");
	api_reply(r, 200, json_pack("{s:s, s:s, s:i}", "user", s->user,
	    "csrf_token", s->csrf, "idle_timeout_s", SESSION_IDLE_S));
	login_ctx_free(lc);
}

static void
login_user(json_t *res, const char *err, void *arg)
{
	struct login_ctx	*lc = arg;
	struct api_req		*r = lc->r;
	const char		*hash;
	long long		 locked, fails;
	int			 lock;

	if (err != NULL && strncmp(err, "no such user", 12) != 0) {
		api_error(r, 503, "database_unavailable", "%s", err);
		login_ctx_free(lc);
		return;
	}
	if (err != NULL) {
		/* Same answer and about the same time as a wrong password. */
		char *h = NULL;

		if (password_hash(lc->password, &h, NULL) == 0)
			free(h);
		api_error(r, 401, "bad_credentials", "wrong user name or "
		    "password");
		login_ctx_free(lc);
		return;
	}
	locked = json_integer_value(json_object_get(res, "locked_until"));
	if (locked > now_unix()) {
		api_error(r, 429, "locked", "too many failed sign-ins: this "
		    "account is locked for %lld more second%s", locked -
		    now_unix(), locked - now_unix() == 1 ? "" : "s");
		login_ctx_free(lc);
		return;
	}
	hash = json_string_value(json_object_get(res, "hash"));
	lc->ok = hash != NULL && password_verify(lc->password, hash) == 0;
	fails = json_integer_value(json_object_get(res, "failures")) + 1;
	/* Back-off doubles from 30 s after LOCK_AFTER failures, to 15 min. */
	lock = 0;
	if (!lc->ok && fails >= LOCK_AFTER) {
		long long k = fails - LOCK_AFTER;

		lock = k > 5 ? 900 : 30 << k;
		if (lock > 900)
			lock = 900;
	}
	db_call("user.login_result", json_pack("{s:s, s:b, s:i}", "name",
	    lc->user, "ok", lc->ok, "lock_seconds", lock), login_recorded, lc);
}

void
session_login(struct api_req *r)
{
	const char		*user = json_string_value(json_object_get(
				    r->body, "name"));
	const char		*pw = json_string_value(json_object_get(r->body,
				    "password"));
	struct login_ctx	*lc;

	if (user == NULL || pw == NULL) {
		api_error(r, 400, "bad_request", "sign in with a JSON body "
		    "{\"name\": …, \"password\": …}");
		return;
	}
	lc = xcalloc(1, sizeof(*lc));
	lc->r = r;
	lc->user = xstrdup(user);
	lc->password = xstrdup(pw);
	db_call("user.get", json_pack("{s:s}", "name", user), login_user, lc);
}

void
session_logout(struct api_req *r)
{
	struct session	*s = session_find(r->req);

	if (s != NULL)
		session_drop(s);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Set-Cookie", COOKIE "=; Path=/; Secure; HttpOnly; "
	    "SameSite=Strict; Max-Age=0");
	audit(r, "session.logout", NULL, "%s", "");
	api_reply(r, 200, NULL);
}
