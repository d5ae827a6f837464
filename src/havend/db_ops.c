/*
 * The database operations control may ask for, one function each, in a
 * table.  Every value from outside goes through dbq_run(), which escapes
 * it; SQL text here is constant.  Times are stored as UTC DATETIME and
 * answered as ISO 8601 strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "dbq.h"
#include "disc.h"
#include "enroll_token.h"
#include "hist.h"
#include "log.h"
#include "util.h"

#define TEXT_MAX	16000	/* characters: a TEXT column holds 64 KB */
#define LIMIT_DEF	100
#define LIMIT_MAX	1000

/*
 * The query, column and argument helpers are dbq.c's; these are the
 * short names this file has always used for the common ones.
 */
#define Q(...)		DQ(__VA_ARGS__)
#define Q0(...)		DQ0(__VA_ARGS__)
#define QS(x)		DQS(x)
#define QI(x)		DQI(x)
#define QT(x)		DQT(x)
#define q_row(res)	dbq_row(res)
#define j_str(s)	dbq_j_str(s)
#define j_time(s)	dbq_j_time(s)
#define j_int(s)	dbq_j_int(s)
#define a_str(...)	dbq_a_str(__VA_ARGS__)
#define a_int(...)	dbq_a_int(__VA_ARGS__)

static int
a_limit(json_t *args, long long *limit, char **cause)
{
	return a_int(args, "limit", 0, 1, LIMIT_MAX, LIMIT_DEF, limit, cause);
}

/* Any JSON value as text for a LONGTEXT column, NULL when absent. */
static char *
a_dump(json_t *args, const char *key)
{
	json_t	*v = json_object_get(args, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static const char *const roles[] = { "agent", "ps", NULL };
static const char *const job_states[] = { "queued", "running", "succeeded",
	"failed", NULL };
static const char *const severities[] = { "info", "warning", "critical",
	NULL };

/* --- machines */

#define MACHINE_COLS	"id, hostname, role, status, enrolled_at, " \
	"last_heartbeat, address, cert_serial, cert_not_after, inventory, " \
	"revoked_at"

static json_t *
machine_json(MYSQL_ROW r)
{
	json_t	*inv = dbq_j_json(r[9]);

	if (!json_is_object(inv)) {
		json_decref(inv);
		inv = json_object();
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}",
	    "id", j_str(r[0]), "hostname", j_str(r[1]), "role", j_str(r[2]),
	    "status", j_str(r[3]), "enrolled_at", j_time(r[4]),
	    "last_heartbeat", j_time(r[5]), "address", j_str(r[6]),
	    "cert_serial", j_str(r[7]), "cert_not_after", j_time(r[8]),
	    "inventory", inv, "revoked_at", j_time(r[10]));
}

static int
event_add(MYSQL *m, const char *machine_id, const char *kind,
    const char *message, char **cause)
{
	return Q(m, NULL, cause, "INSERT INTO events (at, machine_id, kind, "
	    "message) VALUES (UTC_TIMESTAMP(3), ?, ?, ?)", QS(machine_id),
	    QS(kind), QS(message));
}

static json_t *
revoked_serials(MYSQL *m, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	if (Q0(m, &res, cause, "SELECT cert_serial FROM machines WHERE "
	    "status = 'revoked' ORDER BY revoked_at, cert_serial") == -1)
		return NULL;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, j_str(r[0]));
	mysql_free_result(res);
	return a;
}

static int
op_status(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	long long	 version;

	(void)args;
	if (Q0(m, &res, cause, "SELECT COALESCE(MAX(version), 0) FROM "
	    "schema_version WHERE state = 'applied'") == -1)
		return -1;
	r = q_row(&res);
	version = r != NULL ? strtoll(r[0], NULL, 10) : 0;
	if (res != NULL)
		mysql_free_result(res);
	if (Q0(m, &res, cause, "SELECT COUNT(*), "
	    "COALESCE(SUM(status = 'connected'), 0), "
	    "COALESCE(SUM(status = 'disconnected'), 0), "
	    "COALESCE(SUM(status = 'revoked'), 0) FROM machines") == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "counting machines returned nothing");
		return -1;
	}
	*result = json_pack("{s:I, s:{s:o, s:o, s:o, s:o}}",
	    "schema_version", (json_int_t)version, "machines",
	    "total", j_int(r[0]), "connected", j_int(r[1]),
	    "disconnected", j_int(r[2]), "revoked", j_int(r[3]));
	mysql_free_result(res);
	return 0;
}

static int
op_machine_enroll(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*id, *host, *role, *addr, *serial, *fp;
	char		*msg;
	long long	 not_after;
	int		 rc;

	if (a_str(args, "id", 1, 36, &id, cause) == -1 ||
	    a_str(args, "hostname", 1, 255, &host, cause) == -1 ||
	    dbq_a_enum(args, "role", 1, roles, &role, cause) == -1 ||
	    a_str(args, "address", 0, 255, &addr, cause) == -1 ||
	    a_str(args, "cert_serial", 1, 80, &serial, cause) == -1 ||
	    a_str(args, "cert_fingerprint", 1, 64, &fp, cause) == -1 ||
	    a_int(args, "cert_not_after", 1, 0, 253402300799LL, 0,
	    &not_after, cause) == -1)
		return -1;
	if (addr == NULL)
		addr = "";
	if (Q(m, NULL, cause, "INSERT INTO machines (id, hostname, role, "
	    "status, address, cert_serial, cert_fingerprint, cert_not_after, "
	    "enrolled_at) VALUES (?, ?, ?, 'enrolled', ?, ?, ?, ?, "
	    "UTC_TIMESTAMP())", QS(id), QS(host), QS(role), QS(addr),
	    QS(serial), QS(fp), QT(not_after)) == -1) {
		if (mysql_errno(m) == ER_DUP_ENTRY)
			set_cause(cause, "a machine with id %s, certificate "
			    "serial %s or this certificate fingerprint is "
			    "already enrolled", id, serial);
		return -1;
	}
	msg = xasprintf("%s %s enrolled from %s", role, host,
	    *addr != '\0' ? addr : "an unknown address");
	rc = event_add(m, id, "enrolled", msg, cause);
	free(msg);
	if (rc == 0)
		*result = json_object();
	return rc;
}

static int
op_machine_heartbeat(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*inv;
	const char	*fp, *addr;
	char		*id = NULL, *host = NULL, *was = NULL, *msg;
	char		*inv_text = NULL, *ihost = NULL, *os = NULL;
	char		*kernel = NULL, *ver = NULL, *old_addr = NULL;
	int		 rc = -1;

	if (a_str(args, "fingerprint", 1, 64, &fp, cause) == -1 ||
	    a_str(args, "address", 0, 255, &addr, cause) == -1)
		return -1;
	inv = json_object_get(args, "inventory");
	if (inv != NULL && !json_is_null(inv) && !json_is_object(inv)) {
		set_cause(cause, "'inventory' must be an object");
		return -1;
	}
	if (Q(m, &res, cause, "SELECT id, hostname, status, address FROM "
	    "machines WHERE cert_fingerprint = ? FOR UPDATE", QS(fp)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no enrolled machine has this certificate");
		return -1;
	}
	id = xstrdup(r[0]);
	host = xstrdup(r[1]);
	was = xstrdup(r[2]);
	old_addr = xstrdup(r[3]);
	mysql_free_result(res);
	if (strcmp(was, "revoked") == 0) {
		*result = json_pack("{s:s, s:s, s:b, s:s}", "id", id,
		    "hostname", host, "revoked", 1, "was", was);
		rc = 0;
		goto out;
	}
	if (json_is_object(inv)) {
		/* The agent's word for these; cut to the columns' sizes
		 * rather than refuse a heartbeat over a long kernel name. */
#define INV(key, max) (json_is_string(json_object_get(inv, key)) &&	\
	    json_string_length(json_object_get(inv, key)) > 0 ?		\
	    dbq_u8_cut(json_string_value(json_object_get(inv, key)),	\
	    max) : NULL)
		ihost = INV("hostname", 255);
		os = INV("os", 255);
		kernel = INV("kernel", 255);
		ver = INV("agent_version", 64);
#undef INV
		inv_text = json_dumps(inv, JSON_COMPACT | JSON_SORT_KEYS);
	}
	if (Q(m, NULL, cause, "UPDATE machines SET status = 'connected', "
	    "last_heartbeat = UTC_TIMESTAMP(), "
	    "address = COALESCE(?, address), "
	    "hostname = COALESCE(?, hostname), "
	    "inventory = COALESCE(?, inventory), "
	    "os = COALESCE(?, os), kernel = COALESCE(?, kernel), "
	    "agent_version = COALESCE(?, agent_version) WHERE id = ?",
	    QS(addr), QS(ihost), QS(inv_text), QS(os), QS(kernel), QS(ver),
	    QS(id)) == -1)
		goto out;
	if (ihost != NULL) {
		free(host);
		host = xstrdup(ihost);
	}
	if (strcmp(was, "connected") != 0) {
		if (addr == NULL)
			addr = old_addr;
		msg = xasprintf("%s connected from %s", host,
		    *addr != '\0' ? addr : "an unknown address");
		rc = event_add(m, id, "connected", msg, cause);
		free(msg);
		if (rc == -1)
			goto out;
	}
	*result = json_pack("{s:s, s:s, s:b, s:s}", "id", id, "hostname",
	    host, "revoked", 0, "was", was);
	rc = 0;
out:
	free(id);
	free(host);
	free(was);
	free(old_addr);
	free(inv_text);
	free(ihost);
	free(os);
	free(kernel);
	free(ver);
	return rc;
}

static int
op_machine_sweep(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*gone;
	char		*msg;
	long long	 interval;
	int		 rc = 0;

	if (a_int(args, "interval", 1, 1, 30 * 86400, 0, &interval,
	    cause) == -1)
		return -1;
	/* Three missed heartbeats, so one slow one does not flap. */
	if (Q(m, &res, cause, "SELECT id, hostname, last_heartbeat FROM "
	    "machines WHERE status = 'connected' AND last_heartbeat < "
	    "UTC_TIMESTAMP() - INTERVAL ? SECOND ORDER BY id FOR UPDATE",
	    QI(3 * interval)) == -1)
		return -1;
	gone = json_array();
	while (rc == 0 && (r = mysql_fetch_row(res)) != NULL) {
		if ((rc = Q(m, NULL, cause, "UPDATE machines SET status = "
		    "'disconnected' WHERE id = ?", QS(r[0]))) == -1)
			break;
		msg = xasprintf("%s stopped sending heartbeats (last one at "
		    "%s UTC)", r[1], r[2]);
		rc = event_add(m, r[0], "disconnected", msg, cause);
		free(msg);
		json_array_append_new(gone, j_str(r[0]));
	}
	mysql_free_result(res);
	if (rc == -1) {
		json_decref(gone);
		return -1;
	}
	*result = json_pack("{s:o}", "disconnected", gone);
	return 0;
}

static int
op_machine_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	(void)args;
	if (Q0(m, &res, cause, "SELECT " MACHINE_COLS " FROM machines "
	    "ORDER BY hostname, id") == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, machine_json(r));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "machines", a);
	return 0;
}

static int
op_machine_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*id;

	if (a_str(args, "id", 1, 0, &id, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT " MACHINE_COLS " FROM machines "
	    "WHERE id = ?", QS(id)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no machine with id %s", id);
		return -1;
	}
	*result = machine_json(r);
	mysql_free_result(res);
	return 0;
}

static int
op_machine_revoke(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*serials, *at;
	const char	*id;
	char		*msg;
	int		 rc;

	if (a_str(args, "id", 1, 0, &id, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT status, hostname FROM machines "
	    "WHERE id = ? FOR UPDATE", QS(id)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no machine with id %s", id);
		return -1;
	}
	if (strcmp(r[0], "revoked") != 0) {
		msg = xasprintf("%s's certificate was revoked", r[1]);
		rc = Q(m, NULL, cause, "UPDATE machines SET status = "
		    "'revoked', revoked_at = UTC_TIMESTAMP() WHERE id = ?",
		    QS(id));
		if (rc == 0)
			rc = event_add(m, id, "revoked", msg, cause);
		free(msg);
		if (rc == -1) {
			mysql_free_result(res);
			return -1;
		}
	}
	mysql_free_result(res);
	if (Q(m, &res, cause, "SELECT revoked_at FROM machines WHERE id = ?",
	    QS(id)) == -1)
		return -1;
	r = q_row(&res);
	at = j_time(r != NULL ? r[0] : NULL);
	if (res != NULL)
		mysql_free_result(res);
	if ((serials = revoked_serials(m, cause)) == NULL) {
		json_decref(at);
		return -1;
	}
	*result = json_pack("{s:s, s:o, s:o}", "id", id, "revoked_at", at,
	    "serials", serials);
	return 0;
}

static int
op_machine_revoked_serials(MYSQL *m, json_t *args, json_t **result,
    char **cause)
{
	json_t	*serials;

	(void)args;
	if ((serials = revoked_serials(m, cause)) == NULL)
		return -1;
	*result = json_pack("{s:o}", "serials", serials);
	return 0;
}

/* --- users */

static int
op_user_set(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*name, *hash;

	if (a_str(args, "name", 1, 64, &name, cause) == -1 ||
	    a_str(args, "hash", 1, 255, &hash, cause) == -1)
		return -1;
	if (Q(m, NULL, cause, "INSERT INTO users (name, password_hash, "
	    "failures, locked_until, created_at, password_changed_at) "
	    "VALUES (?, ?, 0, NULL, UTC_TIMESTAMP(), UTC_TIMESTAMP()) "
	    "ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), "
	    "failures = 0, locked_until = NULL, "
	    "password_changed_at = VALUES(password_changed_at)",
	    QS(name), QS(hash)) == -1)
		return -1;
	*result = json_object();
	return 0;
}

static int
op_user_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*name;

	if (a_str(args, "name", 1, 0, &name, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT name, password_hash, failures, "
	    "COALESCE(UNIX_TIMESTAMP(locked_until), 0) FROM users "
	    "WHERE name = ?", QS(name)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no such user");
		return -1;
	}
	*result = json_pack("{s:o, s:o, s:o, s:o}", "name", j_str(r[0]),
	    "hash", j_str(r[1]), "failures", j_int(r[2]),
	    "locked_until", j_int(r[3]));
	mysql_free_result(res);
	return 0;
}

static int
op_user_login_result(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*ok;
	const char	*name;
	long long	 lock;

	if (a_str(args, "name", 1, 0, &name, cause) == -1 ||
	    a_int(args, "lock_seconds", 0, 0, 86400 * 365, 0, &lock,
	    cause) == -1)
		return -1;
	ok = json_object_get(args, "ok");
	if (!json_is_boolean(ok)) {
		set_cause(cause, "'ok' must be true or false");
		return -1;
	}
	if (Q(m, &res, cause, "SELECT name FROM users WHERE name = ? "
	    "FOR UPDATE", QS(name)) == -1)
		return -1;
	if (q_row(&res) == NULL) {
		set_cause(cause, "no such user");
		return -1;
	}
	mysql_free_result(res);
	if (json_is_true(ok)) {
		if (Q(m, NULL, cause, "UPDATE users SET failures = 0, "
		    "locked_until = NULL WHERE name = ?", QS(name)) == -1)
			return -1;
	} else if (Q(m, NULL, cause, "UPDATE users SET failures = "
	    "failures + 1, locked_until = IF(? > 0, UTC_TIMESTAMP() + "
	    "INTERVAL ? SECOND, locked_until) WHERE name = ?", QI(lock),
	    QI(lock), QS(name)) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT failures, "
	    "COALESCE(UNIX_TIMESTAMP(locked_until), 0) FROM users "
	    "WHERE name = ?", QS(name)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no such user");
		return -1;
	}
	*result = json_pack("{s:o, s:o}", "failures", j_int(r[0]),
	    "locked_until", j_int(r[1]));
	mysql_free_result(res);
	return 0;
}

static int
op_user_count(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	(void)args;
	if (Q0(m, &res, cause, "SELECT COUNT(*) FROM users") == -1)
		return -1;
	r = q_row(&res);
	*result = json_pack("{s:o}", "count", j_int(r != NULL ? r[0] : "0"));
	if (res != NULL)
		mysql_free_result(res);
	return 0;
}

/* --- audit log */

static int
op_audit_add(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*actor, *addr, *action, *target, *detail;
	char		*dumped = NULL;
	json_t		*d = json_object_get(args, "detail");
	int		 rc;

	if (a_str(args, "actor", 1, 190, &actor, cause) == -1 ||
	    a_str(args, "address", 0, 255, &addr, cause) == -1 ||
	    a_str(args, "action", 1, 64, &action, cause) == -1 ||
	    a_str(args, "target", 0, 255, &target, cause) == -1)
		return -1;
	if (d != NULL && !json_is_null(d) && !json_is_string(d)) {
		dumped = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
		detail = dumped;
	} else if (a_str(args, "detail", 0, 0, &detail, cause) == -1)
		return -1;
	if (detail != NULL && dbq_u8_chars(detail) > TEXT_MAX) {
		set_cause(cause, "'detail' is longer than %d characters",
		    TEXT_MAX);
		free(dumped);
		return -1;
	}
	rc = Q(m, NULL, cause, "INSERT INTO audit_log (at, actor, address, "
	    "action, target, detail) VALUES (UTC_TIMESTAMP(3), ?, ?, ?, ?, "
	    "?)", QS(actor), QS(addr != NULL ? addr : ""), QS(action),
	    QS(target != NULL ? target : ""), QS(detail));
	free(dumped);
	if (rc == -1)
		return -1;
	*result = json_pack("{s:I}", "id", (json_int_t)mysql_insert_id(m));
	return 0;
}

static int
op_audit_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	long long	 limit;

	if (a_limit(args, &limit, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT id, at, actor, address, action, "
	    "target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
	    QI(limit)) == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, "
		    "s:o, s:o, s:o}", "id", j_int(r[0]), "at", j_time(r[1]),
		    "actor", j_str(r[2]), "address", j_str(r[3]),
		    "action", j_str(r[4]), "target", j_str(r[5]),
		    "detail", j_str(r[6])));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "entries", a);
	return 0;
}

/* --- jobs */

#define JOB_COLS	"id, kind, state, percent, message, args, result, " \
	"error, created_by, created_at, started_at, finished_at"

static json_t *
job_json(MYSQL_ROW r)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s:o}",
	    "id", j_int(r[0]), "kind", j_str(r[1]), "state", j_str(r[2]),
	    "percent", j_int(r[3]), "message", j_str(r[4]),
	    "args", dbq_j_json(r[5]), "result", dbq_j_json(r[6]),
	    "error", j_str(r[7]), "created_by", j_str(r[8]),
	    "created_at", j_time(r[9]), "started_at", j_time(r[10]),
	    "finished_at", j_time(r[11]));
}

static int
op_job_create(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*kind, *by;
	char		*jargs;
	int		 rc;

	if (a_str(args, "kind", 1, 64, &kind, cause) == -1 ||
	    a_str(args, "created_by", 0, 190, &by, cause) == -1)
		return -1;
	if ((jargs = a_dump(args, "args")) == NULL)
		jargs = xstrdup("{}");
	rc = Q(m, NULL, cause, "INSERT INTO jobs (kind, state, percent, "
	    "args, created_by, created_at) VALUES (?, 'queued', 0, ?, ?, "
	    "UTC_TIMESTAMP())", QS(kind), QS(jargs),
	    QS(by != NULL ? by : ""));
	free(jargs);
	if (rc == -1)
		return -1;
	*result = json_pack("{s:I}", "id", (json_int_t)mysql_insert_id(m));
	return 0;
}

static int
op_job_update(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	struct dbq_arg	 qa[8];
	struct fbuf	 sql;
	const char	*state, *msg, *err;
	char		*res_text = NULL;
	long long	 id, pct;
	size_t		 n = 0;
	int		 rc = -1;

	if (a_int(args, "id", 1, 1, INT64_MAX, 0, &id, cause) == -1 ||
	    dbq_a_enum(args, "state", 0, job_states, &state, cause) == -1 ||
	    a_int(args, "percent", 0, 0, 100, -1, &pct, cause) == -1 ||
	    a_str(args, "message", 0, TEXT_MAX, &msg, cause) == -1 ||
	    a_str(args, "error", 0, TEXT_MAX, &err, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT id FROM jobs WHERE id = ? FOR UPDATE",
	    QI(id)) == -1)
		return -1;
	if (q_row(&res) == NULL) {
		set_cause(cause, "no job with id %lld", id);
		return -1;
	}
	mysql_free_result(res);
	fbuf_init(&sql);
#define ADD(text)	fbuf_add(&sql, text, strlen(text))
#define SET(text, arg) do {						\
	ADD(n == 0 ? "UPDATE jobs SET " : ", ");			\
	ADD(text);							\
	qa[n++] = (struct dbq_arg)arg;					\
} while (0)
	if (state != NULL) {
		SET("state = ?", QS(state));
		if (strcmp(state, "running") == 0)
			ADD(", started_at = COALESCE(started_at, "
			    "UTC_TIMESTAMP())");
		else if (strcmp(state, "succeeded") == 0 ||
		    strcmp(state, "failed") == 0)
			ADD(", finished_at = UTC_TIMESTAMP()");
	}
	if (pct >= 0)
		SET("percent = ?", QI(pct));
	if (msg != NULL)
		SET("message = ?", QS(msg));
	if (json_object_get(args, "result") != NULL) {
		res_text = a_dump(args, "result");
		SET("result = ?", QS(res_text));
	}
	if (err != NULL)
		SET("error = ?", QS(err));
	if (n > 0) {
		ADD(" WHERE id = ?");
		fbuf_add(&sql, "", 1);
		qa[n++] = (struct dbq_arg)QI(id);
		if (dbq_run(m, NULL, cause, (char *)sql.data, qa, n) == -1)
			goto out;
	}
#undef SET
#undef ADD
	*result = json_object();
	rc = 0;
out:
	fbuf_free(&sql);
	free(res_text);
	return rc;
}

static int
op_job_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	long long	 id;

	if (a_int(args, "id", 1, 1, INT64_MAX, 0, &id, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT " JOB_COLS " FROM jobs WHERE id = ?",
	    QI(id)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no job with id %lld", id);
		return -1;
	}
	*result = job_json(r);
	mysql_free_result(res);
	return 0;
}

static int
op_job_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	long long	 limit;

	if (a_limit(args, &limit, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT " JOB_COLS " FROM jobs ORDER BY id "
	    "DESC LIMIT ?", QI(limit)) == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, job_json(r));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "jobs", a);
	return 0;
}

/* --- alerts */

static int
op_alert_raise(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*key, *sev, *msg;

	if (a_str(args, "key", 1, 190, &key, cause) == -1 ||
	    dbq_a_enum(args, "severity", 1, severities, &sev, cause) == -1 ||
	    a_str(args, "message", 1, TEXT_MAX, &msg, cause) == -1)
		return -1;
	/* raised_at is assigned before cleared_at: MariaDB evaluates
	 * these left to right, so it still sees whether it was active. */
	if (Q(m, NULL, cause, "INSERT INTO alerts (alert_key, severity, "
	    "message, raised_at, cleared_at) VALUES (?, ?, ?, "
	    "UTC_TIMESTAMP(), NULL) ON DUPLICATE KEY UPDATE "
	    "raised_at = IF(cleared_at IS NULL, raised_at, "
	    "VALUES(raised_at)), severity = VALUES(severity), "
	    "message = VALUES(message), cleared_at = NULL",
	    QS(key), QS(sev), QS(msg)) == -1)
		return -1;
	*result = json_object();
	return 0;
}

static int
op_alert_clear(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*key;

	if (a_str(args, "key", 1, 190, &key, cause) == -1)
		return -1;
	if (Q(m, NULL, cause, "UPDATE alerts SET cleared_at = "
	    "UTC_TIMESTAMP() WHERE alert_key = ? AND cleared_at IS NULL",
	    QS(key)) == -1)
		return -1;
	*result = json_object();
	return 0;
}

static int
op_alert_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	(void)args;
	if (Q0(m, &res, cause, "SELECT alert_key, severity, message, "
	    "raised_at FROM alerts WHERE cleared_at IS NULL ORDER BY "
	    "FIELD(severity, 'critical', 'warning', 'info'), raised_at, "
	    "alert_key") == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o}",
		    "key", j_str(r[0]), "severity", j_str(r[1]),
		    "message", j_str(r[2]), "raised_at", j_time(r[3])));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "alerts", a);
	return 0;
}

/* --- machine events */

static int
op_event_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	const char	*mid;
	long long	 limit;
	int		 rc;

	if (a_str(args, "machine_id", 0, 36, &mid, cause) == -1 ||
	    a_limit(args, &limit, cause) == -1)
		return -1;
	if (mid != NULL)
		rc = Q(m, &res, cause, "SELECT id, at, machine_id, kind, "
		    "message FROM events WHERE machine_id = ? ORDER BY id "
		    "DESC LIMIT ?", QS(mid), QI(limit));
	else
		rc = Q(m, &res, cause, "SELECT id, at, machine_id, kind, "
		    "message FROM events ORDER BY id DESC LIMIT ?",
		    QI(limit));
	if (rc == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, "
		    "s:o}", "id", j_int(r[0]), "at", j_time(r[1]),
		    "machine_id", j_str(r[2]), "kind", j_str(r[3]),
		    "message", j_str(r[4])));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "events", a);
	return 0;
}

/* --- replication: policies, recovery points, disk state (002) */

#define DISKS_MAX	64	/* per machine, for the complete-point query */
#define DISK_NAME_MAX	255

/* "10 s", "5 min", "1 day": for refusals. */
static void
dur_text(long long s, char *buf, size_t len)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(buf, len, "%lld day%s", s / 86400,
		    s == 86400 ? "" : "s");
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, len, "%lld h", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, len, "%lld min", s / 60);
	else
		snprintf(buf, len, "%lld s", s);
}

/* The tunable numbers of a policy, in column order. */
enum { PF_RPO, PF_RETENTION, PF_APP, PF_CRASH, PF_THIN_AFTER, PF_THIN_EVERY,
	PF_N };
static const struct policy_field {
	const char	*key;
	const char	*what;
	long long	 min, max, def;
	int		 zero_off;	/* 0 is allowed and means "none" */
} policy_fields[PF_N] = {
	{ "rpo_threshold_s", "the RPO threshold", 10, 7 * 86400, 900, 0 },
	{ "retention_s", "the retention window", 10, 30 * 86400, 86400, 0 },
	{ "app_consistent_s", "the app-consistent interval", 60, 86400,
	    14400, 1 },
	{ "crash_interval_s", "the crash-consistent interval", 10, 86400,
	    300, 0 },
	{ "thin_after_s", "the age past which points are thinned", 60,
	    30 * 86400, 7200, 1 },
	{ "thin_every_s", "the thinning interval", 60, 86400, 3600, 0 },
};

/* Values present in args over v (defaults or the current row). */
static int
policy_values(json_t *args, long long *v, char **cause)
{
	const struct policy_field	*f;
	json_t				*j;
	char				 lo[32], hi[32];
	long long			 x;
	size_t				 i;

	for (i = 0; i < PF_N; i++) {
		f = &policy_fields[i];
		j = json_object_get(args, f->key);
		if (j == NULL || json_is_null(j))
			continue;
		dur_text(f->min, lo, sizeof(lo));
		dur_text(f->max, hi, sizeof(hi));
		if (!json_is_integer(j)) {
			set_cause(cause, "%s ('%s') must be a whole number of "
			    "seconds", f->what, f->key);
			return -1;
		}
		x = json_integer_value(j);
		if ((x != 0 || !f->zero_off) && (x < f->min || x > f->max)) {
			set_cause(cause, "%s ('%s') must be %sfrom %s to %s, "
			    "not %lld s", f->what, f->key, f->zero_off ?
			    "0 (none) or " : "", lo, hi, x);
			return -1;
		}
		v[i] = x;
	}
	/* Points come once per crash interval: anything finer is moot. */
#define AT_LEAST(a, why) do {						\
	if (v[a] != 0 && v[a] < v[PF_CRASH]) {				\
		dur_text(v[a], lo, sizeof(lo));				\
		dur_text(v[PF_CRASH], hi, sizeof(hi));			\
		set_cause(cause, "%s (%s) must be at least the "	\
		    "crash-consistent interval (%s)%s",			\
		    policy_fields[a].what, lo, hi, why);		\
		return -1;						\
	}								\
} while (0)
	AT_LEAST(PF_RPO, ": no RPO shorter than the interval between "
	    "points can be met");
	AT_LEAST(PF_RETENTION, "");
	AT_LEAST(PF_APP, ": app-consistent points are taken in the place "
	    "of crash-consistent ones");
#undef AT_LEAST
	return 0;
}

static int
policy_name_ok(const char *name, char **cause)
{
	size_t	len = strlen(name);

	if (len == 0 || len > 55 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len ||
	    strchr("._-", name[0]) != NULL) {
		set_cause(cause, "a policy name is 1 to 55 letters, digits, "
		    "'.', '_' or '-', starting with a letter or digit; '%s' "
		    "is not", name);
		return -1;
	}
	if (strspn(name, "0123456789") == len) {
		set_cause(cause, "a policy name must not be only digits: it "
		    "would read as a policy id");
		return -1;
	}
	if (len >= 9 && strcasecmp(name + len - 9, "-failback") == 0) {
		set_cause(cause, "names ending in -failback are for the "
		    "failback twin that creating a policy makes; create "
		    "'%.*s' instead", (int)(len - 9), name);
		return -1;
	}
	return 0;
}

#define POLICY_COLS	"p.id, p.name, p.rpo_threshold_s, p.retention_s, " \
	"p.app_consistent_s, p.crash_interval_s, p.thin_after_s, " \
	"p.thin_every_s, p.is_failback, p.twin_id, t.name, p.created_at, " \
	"p.updated_at, (SELECT COUNT(*) FROM machines m WHERE " \
	"m.policy_id = p.id AND m.status <> 'revoked'), p.throttle"
#define POLICY_FROM	" FROM policies p LEFT JOIN policies t ON " \
	"t.id = p.twin_id "

static json_t *
policy_json(MYSQL_ROW r)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, "
	    "s:o, s:o, s:o, s:o, s:o, s:o}",
	    "id", j_int(r[0]), "name", j_str(r[1]),
	    "rpo_threshold_s", j_int(r[2]), "retention_s", j_int(r[3]),
	    "app_consistent_s", j_int(r[4]), "crash_interval_s", j_int(r[5]),
	    "thin_after_s", j_int(r[6]), "thin_every_s", j_int(r[7]),
	    "is_failback", r[8] != NULL && strcmp(r[8], "0") != 0,
	    "twin_id", j_int(r[9]), "twin", j_str(r[10]),
	    "created_at", j_time(r[11]), "updated_at", j_time(r[12]),
	    "machines", j_int(r[13]), "throttle", j_str(r[14]));
}

/* One policy by id, as JSON; NULL with a cause when there is none. */
static json_t *
policy_by_id(MYSQL *m, long long id, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*p;

	if (Q(m, &res, cause, "SELECT " POLICY_COLS POLICY_FROM
	    "WHERE p.id = ?", QI(id)) == -1)
		return NULL;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no policy with id %lld", id);
		return NULL;
	}
	p = policy_json(r);
	mysql_free_result(res);
	return p;
}

struct policy_ref {
	long long	 id;
	long long	 twin_id;	/* 0: none */
	int		 is_failback;
	char		*name;
	long long	 v[PF_N];
};

/*
 * The policy args[key] names: its id (a number, or digits) or its name.
 * Locks the row.  ref->name is malloc'd.
 */
static int
policy_find(MYSQL *m, json_t *args, const char *key, struct policy_ref *ref,
    char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*v = json_object_get(args, key);
	const char	*s = json_string_value(v);
	long long	 id = -1;
	size_t		 i;
	int		 rc;

	memset(ref, 0, sizeof(*ref));
	if (json_is_integer(v))
		id = json_integer_value(v);
	else if (s != NULL && *s != '\0' && strlen(s) < 19 &&
	    strspn(s, "0123456789") == strlen(s))
		id = strtoll(s, NULL, 10);
	else if (s == NULL || *s == '\0') {
		set_cause(cause, "'%s' must name a policy (its name or id)",
		    key);
		return -1;
	}
#define COLS	"SELECT id, name, is_failback, COALESCE(twin_id, 0), " \
	"rpo_threshold_s, retention_s, app_consistent_s, crash_interval_s, " \
	"thin_after_s, thin_every_s FROM policies "
	if (id >= 0)
		rc = Q(m, &res, cause, COLS "WHERE id = ? FOR UPDATE", QI(id));
	else
		rc = Q(m, &res, cause, COLS "WHERE name = ? FOR UPDATE",
		    QS(s));
#undef COLS
	if (rc == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		if (id >= 0)
			set_cause(cause, "no policy with id %lld", id);
		else
			set_cause(cause, "no policy named '%s' ('havenctl "
			    "policy list' shows them)", s);
		return -1;
	}
	ref->id = strtoll(r[0], NULL, 10);
	ref->name = xstrdup(r[1]);
	ref->is_failback = strcmp(r[2], "0") != 0;
	ref->twin_id = strtoll(r[3], NULL, 10);
	for (i = 0; i < PF_N; i++)
		ref->v[i] = strtoll(r[4 + i], NULL, 10);
	mysql_free_result(res);
	return 0;
}

static int
policy_insert(MYSQL *m, const char *name, const long long *v,
    int failback, long long twin, long long *id, char **cause)
{
	if (Q(m, NULL, cause, "INSERT INTO policies (name, rpo_threshold_s, "
	    "retention_s, app_consistent_s, crash_interval_s, thin_after_s, "
	    "thin_every_s, is_failback, twin_id, created_at) VALUES (?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())", QS(name), QI(v[PF_RPO]),
	    QI(v[PF_RETENTION]), QI(v[PF_APP]), QI(v[PF_CRASH]),
	    QI(v[PF_THIN_AFTER]), QI(v[PF_THIN_EVERY]), QI(failback),
	    QI(twin)) == -1) {
		if (mysql_errno(m) == ER_DUP_ENTRY)
			set_cause(cause, "a policy named '%s' already exists",
			    name);
		return -1;
	}
	*id = (long long)mysql_insert_id(m);
	return 0;
}

static int
op_policy_create(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*p, *f;
	const char	*name;
	char		*twin = NULL;
	long long	 v[PF_N], id, fid;
	size_t		 i;
	int		 rc = -1;

	for (i = 0; i < PF_N; i++)
		v[i] = policy_fields[i].def;
	if (a_str(args, "name", 1, 0, &name, cause) == -1 ||
	    policy_name_ok(name, cause) == -1 ||
	    policy_values(args, v, cause) == -1)
		return -1;
	twin = xasprintf("%s-failback", name);
	/* Say which of the two names is taken, and why it matters. */
	if (Q(m, &res, cause, "SELECT name, is_failback FROM policies WHERE "
	    "name IN (?, ?) ORDER BY is_failback", QS(name), QS(twin)) == -1)
		goto out;
	if ((r = q_row(&res)) != NULL) {
		if (strcmp(r[1], "0") == 0)
			set_cause(cause, "a policy named '%s' already exists",
			    r[0]);
		else
			set_cause(cause, "a policy named '%s' already exists, "
			    "and it would be the failback twin of '%s'",
			    r[0], name);
		mysql_free_result(res);
		goto out;
	}
	if (policy_insert(m, name, v, 0, 0, &id, cause) == -1 ||
	    policy_insert(m, twin, v, 1, id, &fid, cause) == -1 ||
	    Q(m, NULL, cause, "UPDATE policies SET twin_id = ? WHERE id = ?",
	    QI(fid), QI(id)) == -1)
		goto out;
	if ((p = policy_by_id(m, id, cause)) == NULL)
		goto out;
	if ((f = policy_by_id(m, fid, cause)) == NULL) {
		json_decref(p);
		goto out;
	}
	*result = json_pack("{s:I, s:I, s:o, s:o}", "id", (json_int_t)id,
	    "failback_id", (json_int_t)fid, "policy", p, "failback", f);
	rc = 0;
out:
	free(twin);
	return rc;
}

static int
op_policy_update(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct policy_ref	 ref;
	const char		*k;
	json_t			*v;
	size_t			 i;
	int			 rc = -1;

	json_object_foreach(args, k, v) {
		for (i = 0; i < PF_N; i++)
			if (strcmp(k, policy_fields[i].key) == 0)
				break;
		if (i < PF_N || strcmp(k, "policy") == 0)
			continue;
		if (strcmp(k, "name") == 0)
			set_cause(cause, "a policy keeps its name (its "
			    "failback twin is named after it): create a new "
			    "policy and assign the machines to it");
		else
			set_cause(cause, "unknown policy setting '%s'", k);
		return -1;
	}
	if (policy_find(m, args, "policy", &ref, cause) == -1)
		return -1;
	if (policy_values(args, ref.v, cause) == -1)
		goto out;
	if (Q(m, NULL, cause, "UPDATE policies SET rpo_threshold_s = ?, "
	    "retention_s = ?, app_consistent_s = ?, crash_interval_s = ?, "
	    "thin_after_s = ?, thin_every_s = ?, updated_at = "
	    "UTC_TIMESTAMP() WHERE id = ?", QI(ref.v[PF_RPO]),
	    QI(ref.v[PF_RETENTION]), QI(ref.v[PF_APP]), QI(ref.v[PF_CRASH]),
	    QI(ref.v[PF_THIN_AFTER]), QI(ref.v[PF_THIN_EVERY]),
	    QI(ref.id)) == -1)
		goto out;
	if ((*result = policy_by_id(m, ref.id, cause)) != NULL)
		rc = 0;
out:
	free(ref.name);
	return rc;
}

static int
op_policy_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	(void)args;
	/* Each policy followed by its failback twin. */
	if (Q0(m, &res, cause, "SELECT " POLICY_COLS POLICY_FROM
	    "ORDER BY IF(p.is_failback, t.name, p.name), p.is_failback") == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, policy_json(r));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "policies", a);
	return 0;
}

static int
op_policy_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct policy_ref	 ref;
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	json_t			*p, *ms;

	if (policy_find(m, args, "policy", &ref, cause) == -1)
		return -1;
	free(ref.name);
	if ((p = policy_by_id(m, ref.id, cause)) == NULL)
		return -1;
	if (Q(m, &res, cause, "SELECT id, hostname, status FROM machines "
	    "WHERE policy_id = ? ORDER BY hostname, id", QI(ref.id)) == -1) {
		json_decref(p);
		return -1;
	}
	ms = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(ms, json_pack("{s:o, s:o, s:o}", "id",
		    j_str(r[0]), "hostname", j_str(r[1]), "status",
		    j_str(r[2])));
	mysql_free_result(res);
	json_object_set_new(p, "machine_list", ms);
	*result = p;
	return 0;
}

static int
op_policy_delete(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct policy_ref	 ref;
	struct fbuf		 who;
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	char			*twin = NULL, *s;
	my_ulonglong		 n;
	int			 rc = -1, shown = 0;

	if (policy_find(m, args, "policy", &ref, cause) == -1)
		return -1;
	fbuf_init(&who);
	if (ref.is_failback) {
		set_cause(cause, "policy '%s' is a failback twin: delete the "
		    "policy it belongs to, which deletes both", ref.name);
		goto out;
	}
	if (Q(m, &res, cause, "SELECT hostname, id FROM machines WHERE "
	    "policy_id IN (?, ?) AND status <> 'revoked' ORDER BY hostname, "
	    "id", QI(ref.id), QI(ref.twin_id)) == -1)
		goto out;
	n = mysql_num_rows(res);
	while ((r = mysql_fetch_row(res)) != NULL && shown < 10) {
		s = xasprintf("%s%s (%s)", shown++ ? ", " : "", r[0], r[1]);
		fbuf_add(&who, s, strlen(s));
		free(s);
	}
	mysql_free_result(res);
	if (n > 0) {
		fbuf_add(&who, "", 1);
		set_cause(cause, "policy '%s' is in use by %llu machine%s: "
		    "%s%s; assign %s another policy first (havenctl policy "
		    "assign MACHINE POLICY)", ref.name, (unsigned long long)n,
		    n == 1 ? "" : "s", (char *)who.data, n > 10 ? ", ..." : "",
		    n == 1 ? "it" : "them");
		goto out;
	}
	/* Revoked machines keep their rows, not their policy. */
	if (Q(m, NULL, cause, "UPDATE machines SET policy_id = NULL WHERE "
	    "policy_id IN (?, ?)", QI(ref.id), QI(ref.twin_id)) == -1 ||
	    Q(m, NULL, cause, "UPDATE policies SET twin_id = NULL WHERE "
	    "id IN (?, ?)", QI(ref.id), QI(ref.twin_id)) == -1)
		goto out;
	if (ref.twin_id != 0) {
		if (Q(m, &res, cause, "SELECT name FROM policies WHERE id = ?",
		    QI(ref.twin_id)) == -1)
			goto out;
		if ((r = q_row(&res)) != NULL) {
			twin = xstrdup(r[0]);
			mysql_free_result(res);
		}
	}
	if (Q(m, NULL, cause, "DELETE FROM policies WHERE id IN (?, ?)",
	    QI(ref.id), QI(ref.twin_id)) == -1)
		goto out;
	*result = json_pack("{s:[s]}", "deleted", ref.name);
	if (twin != NULL)
		json_array_append_new(json_object_get(*result, "deleted"),
		    json_string(twin));
	rc = 0;
out:
	fbuf_free(&who);
	free(twin);
	free(ref.name);
	return rc;
}

/* The machine row, locked; refuses revoked machines and PSs when
 * protect is set.  *host is malloc'd. */
static int
repl_machine(MYSQL *m, const char *id, int protect, char **host,
    long long *policy_id, char **inventory, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	int		 rc = -1;

	if (Q(m, &res, cause, "SELECT hostname, role, status, "
	    "COALESCE(policy_id, 0), inventory FROM machines WHERE id = ? "
	    "FOR UPDATE", QS(id)) == -1)
		return -1;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "no machine with id %s", id);
		return -1;
	}
	if (protect && strcmp(r[2], "revoked") == 0)
		set_cause(cause, "machine %s (%s) is revoked: enroll it again "
		    "to protect it", r[0], id);
	else if (protect && strcmp(r[1], "agent") != 0)
		set_cause(cause, "%s (%s) is a %s, not a protected machine",
		    r[0], id, strcmp(r[1], "ps") == 0 ? "process server" :
		    r[1]);
	else {
		if (host != NULL)
			*host = xstrdup(r[0]);
		if (policy_id != NULL)
			*policy_id = strtoll(r[3], NULL, 10);
		if (inventory != NULL)
			*inventory = r[4] != NULL ? xstrdup(r[4]) : NULL;
		rc = 0;
	}
	mysql_free_result(res);
	return rc;
}

static int
op_policy_assign(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct policy_ref	 ref;
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	json_t			*p;
	const char		*mid;
	char			*host = NULL, *was = NULL, *msg;
	long long		 old;
	int			 rc = -1;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1)
		return -1;
	if (repl_machine(m, mid, 1, &host, &old, NULL, cause) == -1)
		return -1;
	memset(&ref, 0, sizeof(ref));
	if (policy_find(m, args, "policy", &ref, cause) == -1)
		goto out;
	if (old != 0 && old != ref.id) {
		if (Q(m, &res, cause, "SELECT name FROM policies WHERE id = ?",
		    QI(old)) == -1)
			goto out;
		if ((r = q_row(&res)) != NULL) {
			was = xstrdup(r[0]);
			mysql_free_result(res);
		}
	}
	if (old != ref.id) {
		if (Q(m, NULL, cause, "UPDATE machines SET policy_id = ? "
		    "WHERE id = ?", QI(ref.id), QS(mid)) == -1)
			goto out;
		msg = was != NULL ? xasprintf("%s now follows policy %s "
		    "(was %s)", host, ref.name, was) : xasprintf("%s now "
		    "follows policy %s", host, ref.name);
		rc = event_add(m, mid, "policy", msg, cause);
		free(msg);
		if (rc == -1)
			goto out;
		rc = -1;
	}
	if ((p = policy_by_id(m, ref.id, cause)) == NULL)
		goto out;
	*result = json_pack("{s:s, s:s, s:o, s:s?}", "machine_id", mid,
	    "hostname", host, "policy", p, "was", was);
	rc = 0;
out:
	free(ref.name);
	free(host);
	free(was);
	return rc;
}

/* --- recovery points */

struct disk_set {
	char		**v;
	size_t		  n;
	const char	 *source;
};

static void
disk_set_add(struct disk_set *d, const char *name)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i], name) == 0)
			return;
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = xstrdup(name);
}

static void
disk_set_free(struct disk_set *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int
disk_set_query(MYSQL *m, struct disk_set *d, const char *sql,
    const char *mid, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	if (Q(m, &res, cause, sql, QS(mid)) == -1)
		return -1;
	while ((r = mysql_fetch_row(res)) != NULL)
		disk_set_add(d, r[0]);
	mysql_free_result(res);
	return 0;
}

/*
 * The disks a complete point of machine mid must cover: those with a
 * replication state, else the inventory's, else those with points.
 */
static int
machine_disks(MYSQL *m, const char *mid, const char *inventory,
    struct disk_set *d, char **cause)
{
	json_t	*inv, *v;
	size_t	 i;

	memset(d, 0, sizeof(*d));
	if (disk_set_query(m, d, "SELECT disk FROM disk_state WHERE "
	    "machine_id = ? ORDER BY disk", mid, cause) == -1)
		return -1;
	if (d->n > 0) {
		d->source = "replication state";
		return 0;
	}
	inv = inventory ? json_loads(inventory, 0, NULL) : NULL;
	json_array_foreach(json_object_get(inv, "disks"), i, v) {
		const char *name = json_string_value(json_object_get(v,
		    "name"));

		if (name != NULL && *name != '\0' &&
		    strlen(name) <= DISK_NAME_MAX)
			disk_set_add(d, name);
	}
	json_decref(inv);
	if (d->n > 0) {
		d->source = "inventory";
		return 0;
	}
	d->source = "recovery points";
	return disk_set_query(m, d, "SELECT DISTINCT disk FROM "
	    "recovery_points WHERE machine_id = ? ORDER BY disk", mid, cause);
}

/*
 * The complete points of a machine, newest first (limit 0: all; point
 * >= 0: only that one), each {point_id, taken_at, kind,
 * crash_consistent, age_s}.
 */
static json_t *
complete_points(MYSQL *m, const char *mid, const struct disk_set *d,
    long long limit, long long point, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	struct dbq_arg	*qa;
	struct fbuf	 sql;
	json_t		*a;
	size_t		 i, n = 0;
	int		 rc;

	if (d->n == 0)
		return json_array();
	if (d->n > DISKS_MAX) {
		set_cause(cause, "machine %s has %zu disks; at most %d are "
		    "supported", mid, d->n, DISKS_MAX);
		return NULL;
	}
	qa = xcalloc(d->n + 5, sizeof(*qa));
	fbuf_init(&sql);
#define ADD(text)	fbuf_add(&sql, text, strlen(text))
	ADD("SELECT point_id, MAX(taken_at), SUM(kind = 'app') = COUNT(*), "
	    "MIN(crash_consistent), GREATEST(0, TIMESTAMPDIFF(SECOND, "
	    "MAX(taken_at), UTC_TIMESTAMP(3))) FROM recovery_points WHERE "
	    "machine_id = ? AND disk IN (");
	qa[n++] = (struct dbq_arg)QS(mid);
	for (i = 0; i < d->n; i++) {
		ADD(i == 0 ? "?" : ", ?");
		qa[n++] = (struct dbq_arg)QS(d->v[i]);
	}
	ADD(")");
	if (point >= 0) {
		ADD(" AND point_id = ?");
		qa[n++] = (struct dbq_arg)QI(point);
	}
	ADD(" GROUP BY point_id HAVING COUNT(*) = ? ORDER BY point_id DESC");
	qa[n++] = (struct dbq_arg)QI(d->n);
	if (limit > 0) {
		ADD(" LIMIT ?");
		qa[n++] = (struct dbq_arg)QI(limit);
	}
#undef ADD
	fbuf_add(&sql, "", 1);
	rc = dbq_run(m, &res, cause, (char *)sql.data, qa, n);
	fbuf_free(&sql);
	free(qa);
	if (rc == -1)
		return NULL;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:o, s:o, s:s, s:b, s:o}",
		    "point_id", j_int(r[0]), "taken_at", j_time(r[1]),
		    "kind", strcmp(r[2], "1") == 0 ? "app" : "crash",
		    "crash_consistent", strcmp(r[3], "1") == 0,
		    "age_s", j_int(r[4])));
	mysql_free_result(res);
	return a;
}

/*
 * What every answer about a machine's points shares: hostname, policy,
 * disks, latest points and the achieved RPO (null before the first
 * complete point) against the threshold (null without a policy).
 * With limit < 0 the list of points is left out; with point >= 0,
 * "complete" says whether every disk has that point.
 */
static json_t *
machine_points(MYSQL *m, const char *mid, long long limit, long long point,
    char **cause)
{
	struct disk_set	 d;
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*out = NULL, *pts, *disks, *p, *latest = NULL;
	json_t		*latest_app = NULL, *pol = NULL;
	char		*host = NULL, *inv = NULL;
	long long	 pid;
	size_t		 i;
	int		 complete = 0;

	if (repl_machine(m, mid, 0, &host, &pid, &inv, cause) == -1)
		return NULL;
	if (machine_disks(m, mid, inv, &d, cause) == -1)
		goto out;
	if (point >= 0) {
		if ((pts = complete_points(m, mid, &d, 0, point,
		    cause)) == NULL)
			goto out;
		complete = json_array_size(pts) > 0;
		json_decref(pts);
	}
	if ((pts = complete_points(m, mid, &d, limit < 0 ? 0 : limit, -1,
	    cause)) == NULL)
		goto out;
	json_array_foreach(pts, i, p) {
		if (latest == NULL)
			latest = p;
		if (latest_app == NULL && strcmp(json_string_value(
		    json_object_get(p, "kind")), "app") == 0)
			latest_app = p;
	}
	if (pid != 0) {
		if (Q(m, &res, cause, "SELECT name, rpo_threshold_s FROM "
		    "policies WHERE id = ?", QI(pid)) == -1) {
			json_decref(pts);
			goto out;
		}
		if ((r = q_row(&res)) != NULL) {
			pol = json_pack("{s:o, s:o}", "name", j_str(r[0]),
			    "rpo_threshold_s", j_int(r[1]));
			mysql_free_result(res);
		}
	}
	disks = json_array();
	for (i = 0; i < d.n; i++)
		json_array_append_new(disks, j_str(d.v[i]));
	out = json_pack("{s:s, s:s, s:o, s:s, s:O?, s:O?, s:O?, s:O?, s:O?}",
	    "machine_id", mid, "hostname", host, "disks", disks,
	    "disks_from", d.source,
	    "policy", pol ? json_object_get(pol, "name") : NULL,
	    "rpo_threshold_s", pol ? json_object_get(pol,
	    "rpo_threshold_s") : NULL,
	    "rpo_s", latest ? json_object_get(latest, "age_s") : NULL,
	    "latest", latest, "latest_app", latest_app);
	if (limit >= 0)
		json_object_set(out, "points", pts);
	if (point >= 0)
		json_object_set_new(out, "complete", json_boolean(complete));
	json_decref(pts);
	json_decref(pol);
out:
	disk_set_free(&d);
	free(host);
	free(inv);
	return out;
}

static const char *const point_kinds[] = { "crash", "app", NULL };

static int
op_point_add(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	json_t		*cc = json_object_get(args, "crash_consistent");
	json_t		*sum;
	const char	*mid, *disk, *kind;
	long long	 point, seq, taken;
	int		 added;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1 ||
	    a_str(args, "disk", 1, DISK_NAME_MAX, &disk, cause) == -1 ||
	    a_int(args, "point_id", 1, 0, INT64_MAX, 0, &point, cause) == -1 ||
	    a_int(args, "seq", 1, 0, INT64_MAX, 0, &seq, cause) == -1 ||
	    dbq_a_enum(args, "kind", 1, point_kinds, &kind, cause) == -1 ||
	    a_int(args, "taken_at", 1, 0, 253402300799LL, 0, &taken,
	    cause) == -1)
		return -1;
	if (cc != NULL && !json_is_null(cc) && !json_is_boolean(cc)) {
		set_cause(cause, "'crash_consistent' must be true or false");
		return -1;
	}
	if (repl_machine(m, mid, 0, NULL, NULL, NULL, cause) == -1)
		return -1;
	/* A bookmark applied twice (a resent stream) is one point. */
	if (Q(m, NULL, cause, "INSERT INTO recovery_points (machine_id, disk, "
	    "point_id, seq, kind, crash_consistent, taken_at, applied_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3)) ON DUPLICATE KEY "
	    "UPDATE point_id = point_id", QS(mid), QS(disk), QI(point),
	    QI(seq), QS(kind), QI(!json_is_false(cc)), QT(taken)) == -1)
		return -1;
	added = mysql_affected_rows(m) == 1;
	if ((sum = machine_points(m, mid, -1, point, cause)) == NULL)
		return -1;
	json_object_set_new(sum, "added", json_boolean(added));
	*result = sum;
	return 0;
}

static int
op_point_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*mid;
	long long	 limit;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1 ||
	    a_int(args, "limit", 0, 1, 1000000, 0, &limit, cause) == -1)
		return -1;
	*result = machine_points(m, mid, limit, -1, cause);
	return *result != NULL ? 0 : -1;
}

static int
op_point_prune(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	json_t		*list = json_object_get(args, "points"), *v;
	const char	*mid, *disk;
	long long	 before;
	my_ulonglong	 n = 0;
	size_t		 i;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1 ||
	    a_str(args, "disk", 1, DISK_NAME_MAX, &disk, cause) == -1 ||
	    a_int(args, "before_point", 0, 0, INT64_MAX, -1, &before,
	    cause) == -1)
		return -1;
	if (list != NULL && !json_is_array(list)) {
		set_cause(cause, "'points' must be an array of point ids");
		return -1;
	}
	if (before < 0 && json_array_size(list) == 0) {
		set_cause(cause, "give 'before_point' or 'points' (the "
		    "points the master target dropped)");
		return -1;
	}
	if (before >= 0) {
		if (Q(m, NULL, cause, "DELETE FROM recovery_points WHERE "
		    "machine_id = ? AND disk = ? AND point_id < ?", QS(mid),
		    QS(disk), QI(before)) == -1)
			return -1;
		n += mysql_affected_rows(m);
	}
	json_array_foreach(list, i, v) {
		if (!json_is_integer(v)) {
			set_cause(cause, "'points' must be an array of point "
			    "ids");
			return -1;
		}
		if (Q(m, NULL, cause, "DELETE FROM recovery_points WHERE "
		    "machine_id = ? AND disk = ? AND point_id = ?", QS(mid),
		    QS(disk), QI(json_integer_value(v))) == -1)
			return -1;
		n += mysql_affected_rows(m);
	}
	*result = json_pack("{s:I}", "deleted", (json_int_t)n);
	return 0;
}

/* --- replication state per disk */

static const char *const disk_states[] = { "initial-sync", "protected",
	"resyncing", "paused", "error", NULL };

#define DISK_COLS	"disk, state, percent, eta_s, bytes_sent, " \
	"bytes_received, bytes_applied, error, updated_at"

static json_t *
disk_json(MYSQL_ROW r)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "disk", j_str(r[0]), "state", j_str(r[1]), "percent", j_int(r[2]),
	    "eta_s", j_int(r[3]), "bytes_sent", j_int(r[4]),
	    "bytes_received", j_int(r[5]), "bytes_applied", j_int(r[6]),
	    "error", j_str(r[7]), "updated_at", j_time(r[8]));
}

static int
op_disk_state(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*mid, *disk, *state, *err;
	char		*host = NULL, *was = NULL, *msg;
	long long	 pct, eta, sent, recv, applied;
	int		 rc = -1;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1 ||
	    a_str(args, "disk", 1, DISK_NAME_MAX, &disk, cause) == -1 ||
	    dbq_a_enum(args, "state", 0, disk_states, &state, cause) == -1 ||
	    a_int(args, "percent", 0, 0, 100, -1, &pct, cause) == -1 ||
	    a_int(args, "eta_s", 0, 0, INT64_MAX, -1, &eta, cause) == -1 ||
	    a_int(args, "bytes_sent", 0, 0, INT64_MAX, -1, &sent,
	    cause) == -1 ||
	    a_int(args, "bytes_received", 0, 0, INT64_MAX, -1, &recv,
	    cause) == -1 ||
	    a_int(args, "bytes_applied", 0, 0, INT64_MAX, -1, &applied,
	    cause) == -1 ||
	    a_str(args, "error", 0, TEXT_MAX, &err, cause) == -1)
		return -1;
	if (repl_machine(m, mid, 0, &host, NULL, NULL, cause) == -1)
		return -1;
	if (Q(m, &res, cause, "SELECT state FROM disk_state WHERE "
	    "machine_id = ? AND disk = ? FOR UPDATE", QS(mid), QS(disk)) == -1)
		goto out;
	if ((r = q_row(&res)) != NULL) {
		was = xstrdup(r[0]);
		mysql_free_result(res);
	}
	/*
	 * A report with a state describes it whole (progress and error
	 * belong to it); one without only moves the counters.
	 */
#define OPT(x)	((x) < 0 ? (struct dbq_arg)QS(NULL) :			\
	    (struct dbq_arg)QI(x))
	if (Q(m, NULL, cause, "INSERT INTO disk_state (machine_id, disk, "
	    "state, percent, eta_s, bytes_sent, bytes_received, bytes_applied, "
	    "error, updated_at) VALUES (?, ?, COALESCE(?, 'initial-sync'), ?, "
	    "?, COALESCE(?, 0), COALESCE(?, 0), COALESCE(?, 0), ?, "
	    "UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE "
	    "percent = IF(? IS NULL, COALESCE(VALUES(percent), percent), "
	    "VALUES(percent)), "
	    "eta_s = IF(? IS NULL, COALESCE(VALUES(eta_s), eta_s), "
	    "VALUES(eta_s)), "
	    "error = IF(? IS NULL, COALESCE(VALUES(error), error), "
	    "VALUES(error)), "
	    "state = COALESCE(?, state), "
	    "bytes_sent = COALESCE(?, bytes_sent), "
	    "bytes_received = COALESCE(?, bytes_received), "
	    "bytes_applied = COALESCE(?, bytes_applied), "
	    "updated_at = VALUES(updated_at)",
	    QS(mid), QS(disk), QS(state), OPT(pct), OPT(eta), OPT(sent),
	    OPT(recv), OPT(applied), QS(err), QS(state), QS(state), QS(state),
	    QS(state), OPT(sent), OPT(recv), OPT(applied)) == -1)
		goto out;
#undef OPT
	if (state != NULL && (was == NULL || strcmp(was, state) != 0)) {
		if (strcmp(state, "error") == 0)
			msg = xasprintf("%s: disk %s: replication error: %s",
			    host, disk, err != NULL ? err : "no reason given");
		else if (was != NULL)
			msg = xasprintf("%s: disk %s is %s (was %s)", host,
			    disk, state, was);
		else
			msg = xasprintf("%s: disk %s is %s", host, disk, state);
		rc = event_add(m, mid, "disk", msg, cause);
		free(msg);
		if (rc == -1)
			goto out;
	}
	if (Q(m, &res, cause, "SELECT " DISK_COLS " FROM disk_state WHERE "
	    "machine_id = ? AND disk = ?", QS(mid), QS(disk)) == -1)
		goto out;
	if ((r = q_row(&res)) == NULL) {
		set_cause(cause, "the disk state vanished while it was written");
		rc = -1;
		goto out;
	}
	*result = disk_json(r);
	mysql_free_result(res);
	json_object_set_new(*result, "was", j_str(was));
	rc = 0;
out:
	free(host);
	free(was);
	return rc;
}

static int
op_machine_replication(MYSQL *m, json_t *args, json_t **result,
    char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*out, *disks;
	const char	*mid;
	long long	 pid = 0;

	if (a_str(args, "machine_id", 1, 36, &mid, cause) == -1)
		return -1;
	if ((out = machine_points(m, mid, -1, -1, cause)) == NULL)
		return -1;
	if (Q(m, &res, cause, "SELECT COALESCE(policy_id, 0) FROM machines "
	    "WHERE id = ?", QS(mid)) == -1)
		goto fail;
	if ((r = q_row(&res)) != NULL) {
		pid = strtoll(r[0], NULL, 10);
		mysql_free_result(res);
	}
	if (pid != 0) {
		json_t *p = policy_by_id(m, pid, cause);

		if (p == NULL)
			goto fail;
		json_object_set_new(out, "policy", p);
	} else
		json_object_set_new(out, "policy", json_null());
	if (Q(m, &res, cause, "SELECT " DISK_COLS " FROM disk_state WHERE "
	    "machine_id = ? ORDER BY disk", QS(mid)) == -1)
		goto fail;
	disks = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(disks, disk_json(r));
	mysql_free_result(res);
	json_object_set_new(out, "disk_state", disks);
	*result = out;
	return 0;
fail:
	json_decref(out);
	return -1;
}

/* Every protected machine's achieved RPO, for the periodic check. */
static int
op_rpo_check(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a, *s;
	char		**ids = NULL;
	size_t		 i, n = 0;
	int		 rc = 0;

	(void)args;
	if (Q0(m, &res, cause, "SELECT id FROM machines WHERE policy_id IS "
	    "NOT NULL AND status <> 'revoked' ORDER BY id") == -1)
		return -1;
	while ((r = mysql_fetch_row(res)) != NULL) {
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(r[0]);
	}
	mysql_free_result(res);
	a = json_array();
	for (i = 0; i < n; i++) {
		if (rc == 0 && (s = machine_points(m, ids[i], -1, -1,
		    cause)) == NULL)
			rc = -1;
		else if (rc == 0) {
			json_object_del(s, "latest_app");
			json_array_append_new(a, s);
		}
		free(ids[i]);
	}
	free(ids);
	if (rc == -1) {
		json_decref(a);
		return -1;
	}
	*result = json_pack("{s:o}", "machines", a);
	return 0;
}

/*
 * Every replicated disk of a machine with a policy, with the policy's
 * retention: what the periodic prune job works through.
 */
static int
op_prune_plan(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	(void)args;
	if (Q0(m, &res, cause, "SELECT DISTINCT rp.machine_id, rp.disk, "
	    "p.retention_s, p.thin_after_s FROM recovery_points rp "
	    "JOIN machines mc ON mc.id = rp.machine_id "
	    "JOIN policies p ON p.id = mc.policy_id "
	    "ORDER BY rp.machine_id, rp.disk") == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}",
		    "machine_id", r[0], "disk", r[1], "retention_s",
		    (json_int_t)strtoll(r[2], NULL, 10), "thin_after_s",
		    (json_int_t)strtoll(r[3], NULL, 10)));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "disks", a);
	return 0;
}

/*
 * A policy's throttle: a rate ("10m", "0") or a schedule
 * ("08:00-18:00=10m,*=0").  The agent parses it fully; here only its
 * alphabet and length are checked, so a typo is refused with the form.
 */
static int
op_policy_throttle(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*pol, *t;
	long long	 id;
	char		*end;

	if (a_str(args, "policy", 1, 64, &pol, cause) == -1 ||
	    a_str(args, "throttle", 1, 255, &t, cause) == -1)
		return -1;
	if (strspn(t, "0123456789kmgKMG:*=,- ") != strlen(t)) {
		set_cause(cause, "throttle '%s' is not a rate such as 10m (bytes "
		    "per second; 0 = no limit) or a schedule such as "
		    "08:00-18:00=10m,*=0", t);
		return -1;
	}
	id = strtoll(pol, &end, 10);
	if (*end != '\0' || id <= 0)
		id = 0;
	if (Q(m, NULL, cause, "UPDATE policies SET throttle = ? WHERE id = ? "
	    "OR name = ?", QS(t), QI(id), QS(pol)) == -1)
		return -1;
	/* 0 rows changed: unknown, or already that value. */
	if (mysql_affected_rows(m) == 0) {
		MYSQL_RES	*res;

		if (Q(m, &res, cause, "SELECT id FROM policies WHERE id = ? OR "
		    "name = ?", QI(id), QS(pol)) == -1)
			return -1;
		if (q_row(&res) == NULL) {
			set_cause(cause, "no policy '%s'", pol);
			return -1;
		}
		mysql_free_result(res);
	}
	*result = json_pack("{s:s, s:s}", "policy", pol, "throttle", t);
	return 0;
}

static const struct db_op db_ops[] = {
	{ "policy.throttle",		op_policy_throttle },
	{ "prune.plan",			op_prune_plan },
	{ "status",			op_status },
	{ "machine.enroll",		op_machine_enroll },
	{ "machine.heartbeat",		op_machine_heartbeat },
	{ "machine.sweep",		op_machine_sweep },
	{ "machine.list",		op_machine_list },
	{ "machine.get",		op_machine_get },
	{ "machine.revoke",		op_machine_revoke },
	{ "machine.revoked_serials",	op_machine_revoked_serials },
	{ "user.set",			op_user_set },
	{ "user.get",			op_user_get },
	{ "user.login_result",		op_user_login_result },
	{ "user.count",			op_user_count },
	{ "audit.add",			op_audit_add },
	{ "audit.list",			op_audit_list },
	{ "job.create",			op_job_create },
	{ "job.update",			op_job_update },
	{ "job.get",			op_job_get },
	{ "job.list",			op_job_list },
	{ "alert.raise",		op_alert_raise },
	{ "alert.clear",		op_alert_clear },
	{ "alert.list",			op_alert_list },
	{ "event.list",			op_event_list },
	{ "policy.create",		op_policy_create },
	{ "policy.update",		op_policy_update },
	{ "policy.list",		op_policy_list },
	{ "policy.get",			op_policy_get },
	{ "policy.delete",		op_policy_delete },
	{ "policy.assign",		op_policy_assign },
	{ "point.add",			op_point_add },
	{ "point.list",			op_point_list },
	{ "point.prune",		op_point_prune },
	{ "disk.state",			op_disk_state },
	{ "machine.replication",	op_machine_replication },
	{ "rpo.check",			op_rpo_check },
	{ NULL, NULL }
};

const struct db_op *
db_ops_find(const char *name)
{
	const struct db_op	*op;

	for (op = db_ops; op->name != NULL; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	for (op = db_ops_disc; op->name != NULL; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	for (op = db_ops_token; op->name != NULL; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	for (op = db_ops_hist; op->name != NULL; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	return NULL;
}

int
db_ops_conn_error(unsigned int e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_COMMANDS_OUT_OF_SYNC:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
		return 1;
	}
	return 0;
}

int
db_ops_run(MYSQL *m, const struct db_op *op, json_t *args, json_t **result,
    char **cause, int *lost)
{
	char	*why = NULL;

	*result = NULL;
	*lost = 0;
	if (!json_is_object(args)) {
		set_cause(cause, "%s: the arguments must be a JSON object",
		    op->name);
		return -1;
	}
	if (Q0(m, NULL, &why, "START TRANSACTION") == -1)
		goto fail;
	if (op->fn(m, args, result, &why) == -1 || *result == NULL) {
		if (why == NULL)
			why = xstrdup("the operation returned nothing");
		*lost = db_ops_conn_error(mysql_errno(m));
		if (!*lost)
			(void)Q0(m, NULL, NULL, "ROLLBACK");
		goto fail;
	}
	if (Q0(m, NULL, &why, "COMMIT") == -1)
		goto fail;
	return 0;
fail:
	if (!*lost)
		*lost = db_ops_conn_error(mysql_errno(m));
	json_decref(*result);
	*result = NULL;
	set_cause(cause, "%s", why);
	free(why);
	return -1;
}

int
db_ops_session(MYSQL *m, char **cause)
{
	/* Strict mode refuses what would otherwise be silently cut or
	 * zeroed, whatever the server's global default. */
	if (Q0(m, NULL, cause, "SET time_zone = '+00:00', sql_mode = "
	    "'STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,"
	    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
	    "NO_ENGINE_SUBSTITUTION'") == -1)
		return -1;
	return 0;
}
