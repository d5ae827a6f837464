/*
 * One-time enrollment tokens over the API (docs/api.md, "Enrollment
 * tokens"): issue (for a manual install: install.sh --token-file),
 * list, revoke.  The token's text is made here and appears once, in
 * the answer to the person who issued it; what is stored is its proof
 * key, sealed (secret.c) before it goes to the db process.  Nothing
 * here logs or audits more than the token's id, which is not secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf.h"
#include "control.h"
#include "enroll_token.h"
#include "havend.h"
#include "log.h"
#include "secret.h"
#include "util.h"

char *
api_token_make(const char *state_dir, char id[TOKEN_ID_HEX + 1],
    char token[TOKEN_LEN + 1], char **cause)
{
	uint8_t	 key[32];
	char	 hex[65], aad[64], *sealed;

	token_generate(id, token);
	proof_key(token, key);
	hex_encode(key, sizeof(key), hex);
	snprintf(aad, sizeof(aad), TOKEN_AAD_FMT, id);
	sealed = secret_encrypt(state_dir, aad, hex, cause);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	return sealed;
}

int
api_token_open(const char *state_dir, const char *id, const char *sealed,
    uint8_t key[32], char **cause)
{
	char	 aad[64], *hex;
	int	 rc = 0;

	snprintf(aad, sizeof(aad), TOKEN_AAD_FMT, id);
	if ((hex = secret_decrypt(state_dir, aad, sealed, cause)) == NULL)
		return -1;
	if (strlen(hex) != 64 || hex_decode(hex, key, 32) != 32) {
		set_cause(cause, "the stored key of enrollment token %s is "
		    "malformed: revoke it and issue a new one", id);
		rc = -1;
	}
	secret_free(hex);
	return rc;
}

/* The db ops' "[NNN] " prefix to a status and a code. */
static void
token_error(struct api_req *r, const char *err)
{
	int	status = 500;

	if (err[0] == '[' && strlen(err) > 6 && err[4] == ']') {
		status = atoi(err + 1);
		err += 6;
	} else if (strncmp(err, "database unavailable", 20) == 0)
		status = 503;
	api_error(r, status, status == 404 ? "not_found" : status == 409 ?
	    "conflict" : status == 403 ? "token_refused" : status == 503 ?
	    "database_unavailable" : status == 400 ? "bad_request" :
	    "database_error", "%s", err);
}

static void
token_issued(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	const char	*id;

	/* The body holds the token's text (see api_token_issue). */
	if (err != NULL) {
		token_error(r, err);
		return;
	}
	id = json_string_value(json_object_get(res, "id"));
	audit(r, "token.issue", id, "manual install, valid %lld s",
	    (long long)json_integer_value(json_object_get(res, "valid_s")));
	res = json_deep_copy(res);
	json_object_set_new(res, "token", json_string(json_string_value(
	    json_object_get(r->body, "token"))));
	OPENSSL_cleanse((char *)json_string_value(json_object_get(r->body,
	    "token")), TOKEN_LEN);
	json_object_del(r->body, "token");
	api_reply(r, 201, res);
}

void
api_token_issue(struct api_req *r)
{
	const char	*k, *note = NULL;
	char		 id[TOKEN_ID_HEX + 1], token[TOKEN_LEN + 1];
	char		*sealed, *cause = NULL;
	long long	 valid = hv.conf.enroll_token_ttl;
	json_t		*v;

	if (r->body == NULL)
		r->body = json_object();
	if (!json_is_object(r->body)) {
		api_error(r, 400, "bad_request", "send a JSON object: "
		    "{\"valid_s\": seconds, \"note\": text}, both optional");
		return;
	}
	json_object_foreach(r->body, k, v) {
		if (strcmp(k, "valid_s") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <
			    TOKEN_VALID_MIN || json_integer_value(v) >
			    TOKEN_VALID_MAX) {
				api_error(r, 400, "bad_request", "'valid_s' is "
				    "a number of seconds from %d to %d",
				    TOKEN_VALID_MIN, TOKEN_VALID_MAX);
				return;
			}
			valid = json_integer_value(v);
		} else if (strcmp(k, "note") == 0) {
			if (!json_is_string(v) || json_string_length(v) > 255) {
				api_error(r, 400, "bad_request", "'note' is "
				    "text of at most 255 characters");
				return;
			}
			note = json_string_value(v);
		} else {
			api_error(r, 400, "bad_request", "unknown field '%s' "
			    "(a token takes 'valid_s' and 'note')", k);
			return;
		}
	}
	if ((sealed = api_token_make(hv.conf.state_dir, id, token,
	    &cause)) == NULL) {
		api_error(r, 500, "secret_failed", "%s", cause);
		free(cause);
		OPENSSL_cleanse(token, sizeof(token));
		return;
	}
	/* Kept in the request until the row exists, then answered once. */
	json_object_set_new(r->body, "token", json_string(token));
	OPENSSL_cleanse(token, sizeof(token));
	db_call("token.issue", json_pack("{s:s, s:s, s:I, s:s, s:s?, s:s}",
	    "id", id, "key_sealed", sealed, "valid_s", (json_int_t)valid,
	    "purpose", "manual", "note", note, "created_by", r->actor ?
	    r->actor : "-"), token_issued, r);
	free(sealed);
}

static void
token_reply(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL)
		token_error(r, err);
	else
		api_reply(r, 200, json_incref(res));
}

void
api_token_list(struct api_req *r)
{
	db_call("token.list", json_object(), token_reply, r);
}

static void
token_revoked(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		token_error(r, err);
		return;
	}
	audit(r, "token.revoke", json_string_value(json_object_get(res,
	    "id")), "%s", json_string_value(json_object_get(res, "purpose")));
	api_reply(r, 200, json_incref(res));
}

void
api_token_revoke(struct api_req *r)
{
	const char	*reason = json_string_value(json_object_get(r->body,
			    "reason"));

	if (!token_id_ok(r->params[0])) {
		api_error(r, 400, "bad_request", "'%s' is not a token id (16 "
		    "hex digits, as 'havenctl token list' shows)",
		    r->params[0]);
		return;
	}
	db_call("token.revoke", json_pack("{s:s, s:s, s:s?}", "id",
	    r->params[0], "by", r->actor ? r->actor : "-", "reason", reason),
	    token_revoked, r);
}
