/*
 * Database operations for one-time enrollment tokens (sql/006,
 * docs/enrollment.md).  The token itself never reaches this process:
 * control (or the push job) seals its proof key before the insert, and
 * only enroll.c's "token.get" gets the sealed key back.  A token is used
 * by "token.enroll", which marks it used and records the machine in one
 * transaction: of two enrollments racing with one token, the UPDATE of
 * exactly one finds it still live.
 *
 * Causes start with "[NNN] " when an HTTP status fits: 403 for a token
 * that can no longer be used, 404 for none, 409 for a revoke too late.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "db.h"
#include "dbq.h"
#include "enroll_token.h"
#include "log.h"
#include "token.h"
#include "util.h"

#define TOKEN_LIST_MAX	500

static const char *const purposes[] = { "push", "manual", NULL };

struct tcol {
	const char	*sql;
	const char	*key;
	json_t		*(*conv)(const char *);
};

#define TOKEN_STATE_SQL "CASE WHEN t.used_at IS NOT NULL THEN 'used' " \
	"WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= " \
	"UTC_TIMESTAMP() THEN 'expired' ELSE 'live' END"

/* What the API shows: everything but the sealed key. */
static const struct tcol token_cols[] = {
	{ "t.id", "id", dbq_j_str },
	{ TOKEN_STATE_SQL, "state", dbq_j_str },
	{ "t.purpose", "purpose", dbq_j_str },
	{ "t.target", "target", dbq_j_str },
	{ "t.job_id", "job", dbq_j_int },
	{ "t.note", "note", dbq_j_str },
	{ "t.created_by", "created_by", dbq_j_str },
	{ "t.created_at", "created_at", dbq_j_time },
	{ "t.expires_at", "expires_at", dbq_j_time },
	{ "TIMESTAMPDIFF(SECOND, t.created_at, t.expires_at)", "valid_s",
	    dbq_j_int },
	{ "t.used_at", "used_at", dbq_j_time },
	{ "t.used_by", "used_by", dbq_j_str },
	{ "t.used_address", "used_address", dbq_j_str },
	{ "t.machine_id", "machine_id", dbq_j_str },
	{ "t.revoked_at", "revoked_at", dbq_j_time },
	{ "t.revoked_by", "revoked_by", dbq_j_str },
	{ "t.revoke_reason", "revoke_reason", dbq_j_str },
};
#define NCOLS	(sizeof(token_cols) / sizeof(token_cols[0]))
/* Extra columns after token_cols, for the refusal messages and the key. */
#define TOKEN_EXTRA ", t.used_at, t.expires_at, t.revoked_at, t.key_sealed"
#define TOKEN_FROM " FROM enroll_tokens t"

static char *
token_select(void)
{
	struct fbuf	b;
	size_t		i;

	fbuf_init(&b);
	fbuf_add(&b, "SELECT ", 7);
	for (i = 0; i < NCOLS; i++) {
		if (i > 0)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, token_cols[i].sql, strlen(token_cols[i].sql));
	}
	fbuf_add(&b, TOKEN_EXTRA TOKEN_FROM, strlen(TOKEN_EXTRA TOKEN_FROM));
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

static json_t *
token_json(MYSQL_ROW r)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < NCOLS; i++)
		json_object_set_new(o, token_cols[i].key,
		    token_cols[i].conv(r[i]));
	return o;
}

/* Why a token that is not live cannot enroll, naming the way out. */
static char *
token_refusal(MYSQL_ROW r)
{
	const char	*state = r[1], *purpose = r[2];
	const char	*used_at = r[NCOLS], *expires = r[NCOLS + 1];
	const char	*revoked_at = r[NCOLS + 2];
	const char	*fix = strcmp(purpose, "push") == 0 ? "start the "
			    "push install again" : "issue a new one with "
			    "'havenctl token issue' on the configuration server";

	if (strcmp(state, "used") == 0)
		return xasprintf("[403] this enrollment token was already used "
		    "at %s UTC by %s (%s, machine %s): %s", used_at,
		    r[11] ? r[11] : "?", r[12] ? r[12] : "?",
		    r[13] ? r[13] : "?", fix);
	if (strcmp(state, "revoked") == 0)
		return xasprintf("[403] this enrollment token was revoked at "
		    "%s UTC by %s%s%s%s: %s", revoked_at, r[15] ? r[15] : "?",
		    r[16] && *r[16] ? " (" : "", r[16] && *r[16] ? r[16] : "",
		    r[16] && *r[16] ? ")" : "", fix);
	if (strcmp(state, "expired") == 0)
		return xasprintf("[403] this enrollment token expired at %s "
		    "UTC (it was valid for %s s): %s", expires, r[9] ? r[9] : "?",
		    fix);
	return NULL;
}

/* The row of token id (FOR UPDATE when lock), or NULL with a cause. */
static MYSQL_RES *
token_row(MYSQL *m, const char *id, int lock, MYSQL_ROW *row, char **cause)
{
	MYSQL_RES	*res;
	char		*sql = token_select(), *q;

	q = xasprintf("%s WHERE t.id = ?%s", sql, lock ? " FOR UPDATE" : "");
	free(sql);
	if (DQ(m, &res, cause, q, DQS(id)) == -1) {
		free(q);
		return NULL;
	}
	free(q);
	if ((*row = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] there is no enrollment token %s on "
		    "this configuration server: check the --cs address, and "
		    "issue a new token (or start the push install again)", id);
		return NULL;
	}
	return res;
}

int
db_ops_token_insert(MYSQL *m, const struct db_ops_token_new *t,
    char **cause)
{
	if (!token_id_ok(t->id) || t->key_sealed == NULL ||
	    strncmp(t->key_sealed, "hv1:", 4) != 0) {
		set_cause(cause, "a token needs an id (16 hex digits) and a "
		    "sealed key");
		return -1;
	}
	if (t->valid_s < TOKEN_VALID_MIN || t->valid_s > TOKEN_VALID_MAX) {
		set_cause(cause, "[400] a token's validity is %d to %d "
		    "seconds, not %lld", TOKEN_VALID_MIN, TOKEN_VALID_MAX, t->valid_s);
		return -1;
	}
	if (DQ(m, NULL, cause, "INSERT INTO enroll_tokens (id, key_sealed, "
	    "purpose, target, job_id, note, created_by, created_at, "
	    "expires_at) VALUES (?, ?, ?, ?, IF(? > 0, ?, NULL), ?, ?, "
	    "UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL ? SECOND)",
	    DQS(t->id), DQS(t->key_sealed), DQS(t->purpose),
	    DQS(t->target ? t->target : ""), DQI(t->job_id), DQI(t->job_id),
	    DQS(t->note ? t->note : ""), DQS(t->created_by ? t->created_by :
	    ""), DQI(t->valid_s)) == -1) {
		if (mysql_errno(m) == ER_DUP_ENTRY)
			set_cause(cause, "[409] an enrollment token with id %s "
			    "exists already: issue another", t->id);
		return -1;
	}
	return 0;
}

int
db_ops_token_revoke(MYSQL *m, const char *id, const char *by,
    const char *reason, char **cause)
{
	return DQ(m, NULL, cause, "UPDATE enroll_tokens SET revoked_at = "
	    "UTC_TIMESTAMP(), revoked_by = ?, revoke_reason = ? WHERE id = ? "
	    "AND used_at IS NULL AND revoked_at IS NULL", DQS(by),
	    DQS(reason ? reason : ""), DQS(id));
}

json_t *
db_ops_token_get(MYSQL *m, const char *id, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*o;

	if ((res = token_row(m, id, 0, &r, cause)) == NULL)
		return NULL;
	o = token_json(r);
	mysql_free_result(res);
	return o;
}

static int
op_token_issue(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct db_ops_token_new	 t;
	long long		 valid, job;

	memset(&t, 0, sizeof(t));
	if (dbq_a_str(args, "id", 1, TOKEN_ID_HEX, &t.id, cause) == -1 ||
	    dbq_a_str(args, "key_sealed", 1, 255, &t.key_sealed, cause) == -1 ||
	    dbq_a_int(args, "valid_s", 1, TOKEN_VALID_MIN, TOKEN_VALID_MAX, 0,
	    &valid, cause) == -1 ||
	    dbq_a_enum(args, "purpose", 1, purposes, &t.purpose, cause) == -1 ||
	    dbq_a_str(args, "target", 0, 255, &t.target, cause) == -1 ||
	    dbq_a_str(args, "note", 0, 255, &t.note, cause) == -1 ||
	    dbq_a_str(args, "created_by", 0, 190, &t.created_by, cause) == -1 ||
	    dbq_a_int(args, "job", 0, 0, 1LL << 62, 0, &job, cause) == -1)
		return -1;
	t.valid_s = valid;
	t.job_id = job;
	if (db_ops_token_insert(m, &t, cause) == -1)
		return -1;
	*result = db_ops_token_get(m, t.id, cause);
	return *result == NULL ? -1 : 0;
}

static int
op_token_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	char		*sql = token_select(), *q;
	long long	 limit;

	if (dbq_a_int(args, "limit", 0, 1, TOKEN_LIST_MAX, 100, &limit,
	    cause) == -1) {
		free(sql);
		return -1;
	}
	q = xasprintf("%s ORDER BY t.created_at DESC, t.id LIMIT %lld", sql,
	    limit);
	free(sql);
	if (DQ0(m, &res, cause, q) == -1) {
		free(q);
		return -1;
	}
	free(q);
	a = json_array();
	while (res != NULL && (r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, token_json(r));
	if (res != NULL)
		mysql_free_result(res);
	*result = json_pack("{s:o}", "tokens", a);
	return 0;
}

/*
 * For enroll.c's challenge: the token with its sealed key when it is
 * live, else the refusal (a cause starting "[403] ").
 */
static int
op_token_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*id;
	char		*why;

	if (dbq_a_str(args, "id", 1, TOKEN_ID_HEX, &id, cause) == -1)
		return -1;
	if ((res = token_row(m, id, 0, &r, cause)) == NULL)
		return -1;
	if ((why = token_refusal(r)) != NULL) {
		set_cause(cause, "%s", why);
		free(why);
		mysql_free_result(res);
		return -1;
	}
	*result = token_json(r);
	json_object_set_new(*result, "key_sealed", json_string(r[NCOLS + 3]));
	mysql_free_result(res);
	return 0;
}

static int
op_token_revoke(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*id, *by, *reason;
	char		*why;

	if (dbq_a_str(args, "id", 1, 64, &id, cause) == -1 ||
	    dbq_a_str(args, "by", 0, 190, &by, cause) == -1 ||
	    dbq_a_str(args, "reason", 0, 255, &reason, cause) == -1)
		return -1;
	if ((res = token_row(m, id, 1, &r, cause)) == NULL)
		return -1;
	if (strcmp(r[1], "used") == 0 || strcmp(r[1], "revoked") == 0) {
		why = token_refusal(r);
		set_cause(cause, "[409] %s", why + 6);
		free(why);
		mysql_free_result(res);
		return -1;
	}
	mysql_free_result(res);
	if (db_ops_token_revoke(m, id, by ? by : "", reason, cause) == -1)
		return -1;
	*result = db_ops_token_get(m, id, cause);
	return *result == NULL ? -1 : 0;
}

/*
 * Use a token and record the machine (machine.enroll's arguments and
 * "token_id"), in one transaction: the UPDATE takes the token only
 * while it is live; when it finds none, the row says why.
 */
static int
op_token_enroll(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const struct db_op	*enroll = db_ops_find("machine.enroll");
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	const char		*id, *host, *addr, *mid;
	char			*why;

	if (dbq_a_str(args, "token_id", 1, TOKEN_ID_HEX, &id, cause) == -1 ||
	    dbq_a_str(args, "hostname", 1, 255, &host, cause) == -1 ||
	    dbq_a_str(args, "address", 0, 255, &addr, cause) == -1 ||
	    dbq_a_str(args, "id", 1, 36, &mid, cause) == -1)
		return -1;
	if (DQ(m, NULL, cause, "UPDATE enroll_tokens SET used_at = "
	    "UTC_TIMESTAMP(), used_by = ?, used_address = ?, machine_id = ? "
	    "WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND "
	    "expires_at > UTC_TIMESTAMP()", DQS(host), DQS(addr ? addr : ""),
	    DQS(mid), DQS(id)) == -1)
		return -1;
	if (mysql_affected_rows(m) != 1) {
		if ((res = token_row(m, id, 0, &r, cause)) == NULL)
			return -1;
		why = token_refusal(r);
		set_cause(cause, "%s", why ? why : "[403] this enrollment "
		    "token could not be used: try again");
		free(why);
		mysql_free_result(res);
		return -1;
	}
	if (enroll == NULL) {
		set_cause(cause, "machine.enroll is missing");
		return -1;
	}
	return enroll->fn(m, args, result, cause);
}

const struct db_op db_ops_token[] = {
	{ "token.issue",	op_token_issue },
	{ "token.list",		op_token_list },
	{ "token.get",		op_token_get },
	{ "token.revoke",	op_token_revoke },
	{ "token.enroll",	op_token_enroll },
	{ NULL, NULL }
};
