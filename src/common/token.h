/*
 * One-time enrollment tokens (docs/enrollment.md, "Enrollment tokens").
 *
 *	hvt1.<id: 16 hex>.<secret: 64 hex>
 *
 * The id names the token and is not secret: the agent sends it so that
 * the configuration server knows which key to prove with.  The secret
 * (256 bits) never travels: the proof key is proof_key() of the whole
 * token text, exactly as of a passphrase, so the agent's enrollment code
 * treats a token file like a passphrase file.
 */
#ifndef HAVEN_TOKEN_H
#define HAVEN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX		"hvt1."
#define TOKEN_ID_HEX		16
#define TOKEN_SECRET_HEX	64
#define TOKEN_LEN		(5 + TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX)
/* The AAD of a token's sealed proof key (src/common/secret.c). */
#define TOKEN_AAD_FMT		"enroll-token:%s"

/* A new token and its id. */
void	token_generate(char id[TOKEN_ID_HEX + 1],
	    char token[TOKEN_LEN + 1]);
/*
 * 0 when text (len bytes; trailing CR/LF ignored, as a passphrase
 * file's) is a token, with its id in id; -1 when it is not.
 */
int	token_parse(const char *text, size_t len, char id[TOKEN_ID_HEX + 1]);
/* 1 when id is 16 lower-case hex digits. */
int	token_id_ok(const char *id);
#endif
