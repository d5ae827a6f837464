/*
 * One-time enrollment tokens on the configuration server
 * (docs/enrollment.md): the db ops (db_ops_token.c), the API
 * (api_token.c), and what the push job (job_push.c) shares with them.
 */
#ifndef HAVEN_ENROLL_TOKEN_H
#define HAVEN_ENROLL_TOKEN_H

#include <jansson.h>
#include <mysql.h>

#include "control.h"
#include "db.h"
#include "token.h"

#define TOKEN_VALID_MIN		1		/* seconds */
#define TOKEN_VALID_MAX		(7 * 86400)

/* db_ops_token.c: looked up by db_ops_find() after the others. */
extern const struct db_op db_ops_token[];

struct db_ops_token_new {
	const char	*id;
	const char	*key_sealed;	/* token_seal_key() */
	long long	 valid_s;
	const char	*purpose;	/* "push" or "manual" */
	const char	*target;	/* the push's address, or NULL */
	long long	 job_id;	/* 0: none */
	const char	*note;
	const char	*created_by;
};

/* For job processes with their own connection (job_push.c). */
int	 db_ops_token_insert(MYSQL *, const struct db_ops_token_new *,
	    char **cause);
/* Revoke id unless it was used or revoked already (0 either way). */
int	 db_ops_token_revoke(MYSQL *, const char *id, const char *by,
	    const char *reason, char **cause);
/* The token's row as the API shows it (never the key). */
json_t	*db_ops_token_get(MYSQL *, const char *id, char **cause);

/*
 * api_token.c.  A new token: its text in token (wipe it after use), its
 * id, and its proof key sealed for the database (malloc'd), or NULL
 * with a cause.
 */
char	*api_token_make(const char *state_dir, char id[TOKEN_ID_HEX + 1],
	    char token[TOKEN_LEN + 1], char **cause);
/* The proof key of a token row's sealed key; -1 with a cause. */
int	 api_token_open(const char *state_dir, const char *id,
	    const char *sealed, uint8_t key[32], char **cause);

void	 api_token_issue(struct api_req *);
void	 api_token_list(struct api_req *);
void	 api_token_revoke(struct api_req *);

#endif
