/*
 * The database operations and migrations against a real MariaDB.
 * Needs HAVEN_TEST_DB_SOCKET and HAVEN_TEST_DB_PASSWORD_FILE (user and
 * database "haven" unless HAVEN_TEST_DB_USER / HAVEN_TEST_DB_NAME say
 * otherwise); tests/integration/db.t starts a private server and runs
 * this.  Ids are random, so it can run again on the same database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

static MYSQL	*db;

static void
sql(const char *q)
{
	MYSQL_RES	*res;

	if (mysql_query(db, q) != 0)
		fail_msg("%s: %s", q, mysql_error(db));
	if ((res = mysql_store_result(db)) != NULL)
		mysql_free_result(res);
}

static long long
sql_int(const char *q)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	long long	 v;

	if (mysql_query(db, q) != 0 || (res = mysql_store_result(db)) == NULL)
		fail_msg("%s: %s", q, mysql_error(db));
	row = mysql_fetch_row(res);
	assert_non_null(row);
	v = row[0] != NULL ? strtoll(row[0], NULL, 10) : -1;
	mysql_free_result(res);
	return v;
}

/* Run op; args is stolen.  Fails the test on error. */
static json_t *
call_ok(const char *op, json_t *args)
{
	const struct db_op	*o = db_ops_find(op);
	json_t			*result = NULL;
	char			*cause = NULL;
	int			 lost;

	if (o == NULL)
		fail_msg("no op %s", op);
	if (args == NULL)
		args = json_object();
	if (db_ops_run(db, o, args, &result, &cause, &lost) != 0)
		fail_msg("%s failed: %s", op, cause);
	json_decref(args);
	assert_false(lost);
	assert_true(json_is_object(result));
	return result;
}

/* Run op expecting failure; the cause must contain want. */
static void
call_err(const char *op, json_t *args, const char *want)
{
	const struct db_op	*o = db_ops_find(op);
	json_t			*result = NULL;
	char			*cause = NULL;
	int			 lost;

	assert_non_null(o);
	if (db_ops_run(db, o, args, &result, &cause, &lost) == 0)
		fail_msg("%s succeeded, wanted an error with '%s'", op, want);
	json_decref(args);
	assert_null(result);
	assert_false(lost);
	if (cause == NULL || strstr(cause, want) == NULL)
		fail_msg("%s: cause '%s', wanted '%s'", op, cause, want);
	free(cause);
}

static const char *
str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("'%s' is not a string", key);
	return json_string_value(v);
}

static long long
num(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("'%s' is not an integer", key);
	return json_integer_value(v);
}

/* "2026-11-22T04:52:42Z" */
static void
assert_iso(const char *s)
{
	assert_non_null(s);
	if (strlen(s) != 20 || s[4] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[19] != 'Z')
		fail_msg("'%s' is not an ISO 8601 UTC time", s);
}

static int
array_has(json_t *a, const char *key, const char *value)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(a, i, v) {
		if (key != NULL)
			v = json_object_get(v, key);
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), value) == 0)
			return 1;
	}
	return 0;
}

static void
new_uuid(char out[37])
{
	unsigned char	b[16];
	char		h[33];

	random_bytes(b, sizeof(b));
	hex_encode(b, sizeof(b), h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
}

static void
new_hex(char *out, size_t bytes)
{
	unsigned char	b[32];

	random_bytes(b, bytes);
	hex_encode(b, bytes, out);
}

static int
newest_version(void)
{
	struct migration	*m;
	size_t			 n;
	char			*cause = NULL;
	int			 v;

	assert_int_equal(migrate_plan(sql_files, &m, &n, &cause), 0);
	assert_true(n > 0);
	v = m[n - 1].version;
	free(m);
	return v;
}

static void
test_migrate_twice(void **state)
{
	char		*cause = NULL;
	int		 v = -1;
	long long	 rows;

	(void)state;
	if (migrate_apply(db, sql_files, &v, &cause) != 0)
		fail_msg("migrate_apply: %s", cause);
	assert_int_equal(v, newest_version());
	rows = sql_int("SELECT COUNT(*) FROM schema_version");
	v = -1;
	if (migrate_apply(db, sql_files, &v, &cause) != 0)
		fail_msg("second migrate_apply: %s", cause);
	assert_int_equal(v, newest_version());
	assert_int_equal(sql_int("SELECT COUNT(*) FROM schema_version"), rows);
	assert_int_equal(sql_int("SELECT COUNT(*) FROM schema_version WHERE "
	    "state <> 'applied'"), 0);
}

static void
test_migrate_interrupted(void **state)
{
	char	*cause = NULL;
	int	 v;

	(void)state;
	sql("INSERT INTO schema_version VALUES (9999, '9999_broken.sql', "
	    "REPEAT('0', 64), 'applying', UTC_TIMESTAMP())");
	assert_int_equal(migrate_apply(db, sql_files, &v, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, "migration 9999_broken.sql was interrupted "
	    "half-way (schema_version says 'applying')") == NULL ||
	    strstr(cause, "restore the database from a backup") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
	cause = NULL;
	sql("DELETE FROM schema_version WHERE version = 9999");
	if (migrate_apply(db, sql_files, &v, &cause) != 0)
		fail_msg("after the fix: %s", cause);
}

static void
test_migrate_failing_statement(void **state)
{
	static const char bad[] = "CREATE TABLE test_partial (x INT);\n"
	    "-- the typo below is the point\n"
	    "CREATE TABLEX test_never (y INT);\n";
	struct sql_file	 files[3];
	char		*cause = NULL;
	int		 v;

	(void)state;
	sql("DROP TABLE IF EXISTS test_partial");
	files[0] = sql_files[0];
	files[1] = (struct sql_file){ "900_broken.sql", bad, sizeof(bad) - 1 };
	files[2] = (struct sql_file){ NULL, NULL, 0 };
	/* 900 must sort after every real migration for this to mean
	 * anything; the real ones are applied already. */
	assert_true(newest_version() < 900);
	assert_int_equal(migrate_apply(db, files, &v, &cause), -1);
	if (cause == NULL || strstr(cause, "900_broken.sql") == NULL ||
	    strstr(cause, "statement 2 of 2") == NULL ||
	    strstr(cause, "MariaDB error 1064") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
	cause = NULL;
	assert_int_equal(sql_int("SELECT COUNT(*) FROM schema_version WHERE "
	    "version = 900 AND state = 'applying'"), 1);
	/* The next start refuses instead of running on a half schema. */
	assert_int_equal(migrate_apply(db, files, &v, &cause), -1);
	assert_non_null(strstr(cause, "was interrupted half-way"));
	free(cause);
	sql("DELETE FROM schema_version WHERE version = 900");
	sql("DROP TABLE test_partial");
}

static void
test_status(void **state)
{
	json_t	*r = call_ok("status", NULL);
	json_t	*m = json_object_get(r, "machines");

	(void)state;
	assert_int_equal(num(r, "schema_version"), newest_version());
	assert_true(json_is_object(m));
	assert_true(num(m, "total") >= num(m, "connected") +
	    num(m, "disconnected") + num(m, "revoked"));
	json_decref(r);
}

static void
enroll(const char *id, const char *host, const char *serial,
    const char *fp)
{
	json_decref(call_ok("machine.enroll", json_pack("{s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:I}", "id", id, "hostname", host, "role", "agent",
	    "address", "192.0.2.10", "cert_serial", serial,
	    "cert_fingerprint", fp, "cert_not_after",
	    (json_int_t)4102444800LL)));	/* 2100-01-01 */
}

static void
test_machines(void **state)
{
	char	 id[37], serial[41], fp[65], q[256];
	json_t	*r, *m, *before;
	char	*at;

	(void)state;
	new_uuid(id);
	new_hex(serial, 20);
	new_hex(fp, 32);
	before = call_ok("status", NULL);
	enroll(id, "web01", serial, fp);
	r = call_ok("status", NULL);
	assert_int_equal(num(json_object_get(r, "machines"), "total"),
	    num(json_object_get(before, "machines"), "total") + 1);
	json_decref(r);
	json_decref(before);

	/* The same certificate twice is refused. */
	call_err("machine.enroll", json_pack("{s:s, s:s, s:s, s:s, s:s, "
	    "s:I}", "id", id, "hostname", "web01", "role", "agent",
	    "cert_serial", serial, "cert_fingerprint", fp, "cert_not_after",
	    (json_int_t)4102444800LL), "already enrolled");
	call_err("machine.enroll", json_pack("{s:s, s:s, s:s}", "id", "x",
	    "hostname", "h", "role", "mainframe"), "'role' must be one of");

	m = call_ok("machine.get", json_pack("{s:s}", "id", id));
	assert_string_equal(str(m, "status"), "enrolled");
	assert_string_equal(str(m, "hostname"), "web01");
	assert_string_equal(str(m, "cert_serial"), serial);
	assert_string_equal(str(m, "cert_not_after"), "2100-01-01T00:00:00Z");
	assert_iso(str(m, "enrolled_at"));
	assert_true(json_is_null(json_object_get(m, "last_heartbeat")));
	json_decref(m);

	call_err("machine.heartbeat", json_pack("{s:s}", "fingerprint",
	    "00ff"), "no enrolled machine has this certificate");
	r = call_ok("machine.heartbeat", json_pack("{s:s, s:s, s:{s:s, s:s, "
	    "s:s, s:s, s:[{s:s, s:I}]}}", "fingerprint", fp, "address",
	    "192.0.2.11", "inventory", "hostname", "web01.example.org",
	    "os", "Debian GNU/Linux 12", "kernel", "6.1.0-18-amd64",
	    "agent_version", "0.1.0", "disks", "name", "sda", "size",
	    (json_int_t)10737418240LL));
	assert_string_equal(str(r, "id"), id);
	assert_string_equal(str(r, "was"), "enrolled");
	assert_string_equal(str(r, "hostname"), "web01.example.org");
	assert_true(json_is_false(json_object_get(r, "revoked")));
	json_decref(r);
	r = call_ok("machine.heartbeat", json_pack("{s:s, s:s}",
	    "fingerprint", fp, "address", "192.0.2.11"));
	assert_string_equal(str(r, "was"), "connected");
	json_decref(r);

	m = call_ok("machine.get", json_pack("{s:s}", "id", id));
	assert_string_equal(str(m, "status"), "connected");
	assert_string_equal(str(m, "address"), "192.0.2.11");
	assert_iso(str(m, "last_heartbeat"));
	assert_string_equal(str(json_object_get(m, "inventory"), "os"),
	    "Debian GNU/Linux 12");
	json_decref(m);
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM machines WHERE id = '%s' "
	    "AND kernel = '6.1.0-18-amd64' AND agent_version = '0.1.0'", id);
	assert_int_equal(sql_int(q), 1);

	r = call_ok("machine.list", NULL);
	assert_true(array_has(json_object_get(r, "machines"), "id", id));
	json_decref(r);

	/* One event for enrolling, one for connecting, none for the
	 * second heartbeat. */
	r = call_ok("event.list", json_pack("{s:s, s:i}", "machine_id", id,
	    "limit", 10));
	assert_int_equal(json_array_size(json_object_get(r, "events")), 2);
	assert_string_equal(str(json_array_get(json_object_get(r, "events"),
	    0), "kind"), "connected");
	assert_string_equal(str(json_array_get(json_object_get(r, "events"),
	    1), "kind"), "enrolled");
	assert_iso(str(json_array_get(json_object_get(r, "events"), 0), "at"));
	json_decref(r);

	/* A fresh heartbeat survives a sweep; an old one does not. */
	r = call_ok("machine.sweep", json_pack("{s:i}", "interval", 60));
	assert_false(array_has(json_object_get(r, "disconnected"), NULL, id));
	json_decref(r);
	snprintf(q, sizeof(q), "UPDATE machines SET last_heartbeat = "
	    "UTC_TIMESTAMP() - INTERVAL 10 SECOND WHERE id = '%s'", id);
	sql(q);
	r = call_ok("machine.sweep", json_pack("{s:i}", "interval", 1));
	assert_true(array_has(json_object_get(r, "disconnected"), NULL, id));
	json_decref(r);
	m = call_ok("machine.get", json_pack("{s:s}", "id", id));
	assert_string_equal(str(m, "status"), "disconnected");
	json_decref(m);
	r = call_ok("machine.heartbeat", json_pack("{s:s}", "fingerprint",
	    fp));
	assert_string_equal(str(r, "was"), "disconnected");
	json_decref(r);

	r = call_ok("machine.revoke", json_pack("{s:s}", "id", id));
	assert_string_equal(str(r, "id"), id);
	assert_iso(str(r, "revoked_at"));
	at = xstrdup(str(r, "revoked_at"));
	assert_true(array_has(json_object_get(r, "serials"), NULL, serial));
	json_decref(r);
	r = call_ok("machine.revoke", json_pack("{s:s}", "id", id));
	assert_string_equal(str(r, "revoked_at"), at);
	json_decref(r);
	free(at);
	r = call_ok("machine.heartbeat", json_pack("{s:s}", "fingerprint",
	    fp));
	assert_true(json_is_true(json_object_get(r, "revoked")));
	json_decref(r);
	m = call_ok("machine.get", json_pack("{s:s}", "id", id));
	assert_string_equal(str(m, "status"), "revoked");
	json_decref(m);
	r = call_ok("machine.revoked_serials", NULL);
	assert_true(array_has(json_object_get(r, "serials"), NULL, serial));
	json_decref(r);
	r = call_ok("event.list", json_pack("{s:s}", "machine_id", id));
	assert_string_equal(str(json_array_get(json_object_get(r, "events"),
	    0), "kind"), "revoked");
	json_decref(r);

	call_err("machine.revoke", json_pack("{s:s}", "id", "nope"),
	    "no machine with id nope");
	call_err("machine.get", json_pack("{s:s}", "id", "nope"),
	    "no machine with id nope");
}

static void
test_injection(void **state)
{
	static const char evil[] = "x'); DROP TABLE machines; -- \\' \" ` "
	    "%s ? \xc3\xa9";
	char	 id[37], serial[41], fp[65];
	json_t	*m, *r;

	(void)state;
	new_uuid(id);
	new_hex(serial, 20);
	new_hex(fp, 32);
	enroll(id, evil, serial, fp);
	m = call_ok("machine.get", json_pack("{s:s}", "id", id));
	assert_string_equal(str(m, "hostname"), evil);
	json_decref(m);
	/* And as a lookup key it matches nothing rather than everything. */
	call_err("machine.get", json_pack("{s:s}", "id", "' OR '1'='1"),
	    "no machine with id");
	r = call_ok("audit.add", json_pack("{s:s, s:s, s:s}", "actor", evil,
	    "action", "test", "detail", evil));
	json_decref(r);
	r = call_ok("audit.list", json_pack("{s:i}", "limit", 1));
	assert_string_equal(str(json_array_get(json_object_get(r, "entries"),
	    0), "actor"), evil);
	json_decref(r);
	assert_true(sql_int("SELECT COUNT(*) FROM machines") >= 1);
}

static void
test_users(void **state)
{
	char		 name[20], hash[] = "$6$salt$abc";
	json_t		*r;
	long long	 now = now_unix(), count;

	(void)state;
	snprintf(name, sizeof(name), "admin%u", (unsigned)rand() % 100000);
	r = call_ok("user.count", NULL);
	count = num(r, "count");
	json_decref(r);
	call_err("user.get", json_pack("{s:s}", "name", name), "no such user");
	json_decref(call_ok("user.set", json_pack("{s:s, s:s}", "name", name,
	    "hash", hash)));
	r = call_ok("user.count", NULL);
	assert_int_equal(num(r, "count"), count + 1);
	json_decref(r);
	r = call_ok("user.get", json_pack("{s:s}", "name", name));
	assert_string_equal(str(r, "name"), name);
	assert_string_equal(str(r, "hash"), hash);
	assert_int_equal(num(r, "failures"), 0);
	assert_int_equal(num(r, "locked_until"), 0);
	json_decref(r);

	r = call_ok("user.login_result", json_pack("{s:s, s:b, s:i}", "name",
	    name, "ok", 0, "lock_seconds", 0));
	assert_int_equal(num(r, "failures"), 1);
	assert_int_equal(num(r, "locked_until"), 0);
	json_decref(r);
	r = call_ok("user.login_result", json_pack("{s:s, s:b, s:i}", "name",
	    name, "ok", 0, "lock_seconds", 300));
	assert_int_equal(num(r, "failures"), 2);
	assert_in_range(num(r, "locked_until"), now + 295, now + 310);
	json_decref(r);
	r = call_ok("user.get", json_pack("{s:s}", "name", name));
	assert_int_equal(num(r, "failures"), 2);
	assert_in_range(num(r, "locked_until"), now + 295, now + 310);
	json_decref(r);
	r = call_ok("user.login_result", json_pack("{s:s, s:b}", "name",
	    name, "ok", 1));
	assert_int_equal(num(r, "failures"), 0);
	assert_int_equal(num(r, "locked_until"), 0);
	json_decref(r);

	/* A new password clears a lock-out. */
	json_decref(call_ok("user.login_result", json_pack("{s:s, s:b, s:i}",
	    "name", name, "ok", 0, "lock_seconds", 60)));
	json_decref(call_ok("user.set", json_pack("{s:s, s:s}", "name", name,
	    "hash", "$6$new$def")));
	r = call_ok("user.get", json_pack("{s:s}", "name", name));
	assert_string_equal(str(r, "hash"), "$6$new$def");
	assert_int_equal(num(r, "failures"), 0);
	assert_int_equal(num(r, "locked_until"), 0);
	json_decref(r);
	call_err("user.login_result", json_pack("{s:s, s:b}", "name",
	    "nobody-here", "ok", 1), "no such user");
	call_err("user.login_result", json_pack("{s:s}", "name", name),
	    "'ok' must be true or false");
}

static void
test_jobs(void **state)
{
	json_t		*r, *j;
	long long	 id;

	(void)state;
	r = call_ok("job.create", json_pack("{s:s, s:{s:s}, s:s}", "kind",
	    "failover", "args", "machine", "web01", "created_by", "admin"));
	id = num(r, "id");
	json_decref(r);
	j = call_ok("job.get", json_pack("{s:I}", "id", (json_int_t)id));
	assert_string_equal(str(j, "state"), "queued");
	assert_string_equal(str(j, "kind"), "failover");
	assert_string_equal(str(json_object_get(j, "args"), "machine"),
	    "web01");
	assert_iso(str(j, "created_at"));
	assert_true(json_is_null(json_object_get(j, "started_at")));
	json_decref(j);

	json_decref(call_ok("job.update", json_pack("{s:I, s:s, s:i, s:s}",
	    "id", (json_int_t)id, "state", "running", "percent", 10,
	    "message", "copying")));
	j = call_ok("job.get", json_pack("{s:I}", "id", (json_int_t)id));
	assert_string_equal(str(j, "state"), "running");
	assert_int_equal(num(j, "percent"), 10);
	assert_string_equal(str(j, "message"), "copying");
	assert_iso(str(j, "started_at"));
	assert_true(json_is_null(json_object_get(j, "finished_at")));
	json_decref(j);

	json_decref(call_ok("job.update", json_pack("{s:I, s:s, s:i, "
	    "s:{s:b}}", "id", (json_int_t)id, "state", "succeeded",
	    "percent", 100, "result", "booted", 1)));
	j = call_ok("job.get", json_pack("{s:I}", "id", (json_int_t)id));
	assert_string_equal(str(j, "state"), "succeeded");
	assert_iso(str(j, "finished_at"));
	assert_true(json_is_true(json_object_get(json_object_get(j,
	    "result"), "booted")));
	json_decref(j);

	r = call_ok("job.list", json_pack("{s:i}", "limit", 5));
	assert_int_equal(num(json_array_get(json_object_get(r, "jobs"), 0),
	    "id"), id);
	json_decref(r);
	call_err("job.update", json_pack("{s:I, s:s}", "id",
	    (json_int_t)id + 1000000, "state", "failed"), "no job with id");
	call_err("job.update", json_pack("{s:I, s:s}", "id", (json_int_t)id,
	    "state", "exploded"), "'state' must be one of: queued, running, "
	    "succeeded, failed");
	call_err("job.get", json_pack("{s:s}", "id", "1"),
	    "'id' must be an integer");
}

static void
test_alerts(void **state)
{
	char	 key[40], q[200];
	json_t	*r, *a;
	size_t	 i;

	(void)state;
	snprintf(key, sizeof(key), "test.cache-full.%u", (unsigned)rand());
	json_decref(call_ok("alert.raise", json_pack("{s:s, s:s, s:s}", "key",
	    key, "severity", "warning", "message", "cache 90% full")));
	/* Pretend it was raised long ago: raising it again keeps that. */
	snprintf(q, sizeof(q), "UPDATE alerts SET raised_at = "
	    "'2000-01-01 00:00:00' WHERE alert_key = '%s'", key);
	sql(q);
	json_decref(call_ok("alert.raise", json_pack("{s:s, s:s, s:s}", "key",
	    key, "severity", "critical", "message", "cache 99% full")));
	r = call_ok("alert.list", NULL);
	assert_true(array_has(json_object_get(r, "alerts"), "key", key));
	json_array_foreach(json_object_get(r, "alerts"), i, a) {
		if (strcmp(str(a, "key"), key) != 0)
			continue;
		assert_string_equal(str(a, "severity"), "critical");
		assert_string_equal(str(a, "message"), "cache 99% full");
		assert_string_equal(str(a, "raised_at"),
		    "2000-01-01T00:00:00Z");
	}
	json_decref(r);
	json_decref(call_ok("alert.clear", json_pack("{s:s}", "key", key)));
	json_decref(call_ok("alert.clear", json_pack("{s:s}", "key", key)));
	r = call_ok("alert.list", NULL);
	assert_false(array_has(json_object_get(r, "alerts"), "key", key));
	json_decref(r);
	/* Raised again after clearing: a new raised_at. */
	json_decref(call_ok("alert.raise", json_pack("{s:s, s:s, s:s}", "key",
	    key, "severity", "info", "message", "again")));
	r = call_ok("alert.list", NULL);
	json_array_foreach(json_object_get(r, "alerts"), i, a) {
		if (strcmp(str(a, "key"), key) == 0)
			assert_string_not_equal(str(a, "raised_at"),
			    "2000-01-01T00:00:00Z");
	}
	json_decref(r);
	json_decref(call_ok("alert.clear", json_pack("{s:s}", "key", key)));
	call_err("alert.raise", json_pack("{s:s, s:s, s:s}", "key", key,
	    "severity", "meh", "message", "x"), "'severity' must be one of");
}

static void
test_audit(void **state)
{
	json_t		*r, *e;
	long long	 id1, id2;

	(void)state;
	r = call_ok("audit.add", json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "actor", "admin", "address", "198.51.100.7", "action",
	    "machine.revoke", "target", "web01", "detail", "first"));
	id1 = num(r, "id");
	json_decref(r);
	r = call_ok("audit.add", json_pack("{s:s, s:s, s:{s:i}}", "actor",
	    "admin", "action", "passphrase.regenerate", "detail", "n", 1));
	id2 = num(r, "id");
	json_decref(r);
	assert_true(id2 > id1);
	r = call_ok("audit.list", json_pack("{s:i}", "limit", 2));
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 2);
	e = json_array_get(json_object_get(r, "entries"), 0);
	assert_int_equal(num(e, "id"), id2);
	assert_string_equal(str(e, "detail"), "{\"n\":1}");
	assert_iso(str(e, "at"));
	e = json_array_get(json_object_get(r, "entries"), 1);
	assert_int_equal(num(e, "id"), id1);
	assert_string_equal(str(e, "address"), "198.51.100.7");
	json_decref(r);
	call_err("audit.list", json_pack("{s:i}", "limit", 0),
	    "'limit' must be an integer from 1 to 1000");
}

static void
test_ops_table(void **state)
{
	static const char *const names[] = { "status", "machine.enroll",
	    "machine.heartbeat", "machine.sweep", "machine.list",
	    "machine.get", "machine.revoke", "machine.revoked_serials",
	    "user.set", "user.get", "user.login_result", "user.count",
	    "audit.add", "audit.list", "job.create", "job.update", "job.get",
	    "job.list", "alert.raise", "alert.clear", "alert.list",
	    "event.list", NULL };
	const struct db_op	*op;
	json_t			*result = (void *)1, *notobj;
	char			*cause = NULL;
	int			 lost, i;

	(void)state;
	for (i = 0; names[i] != NULL; i++)
		if (db_ops_find(names[i]) == NULL)
			fail_msg("op %s is missing", names[i]);
	assert_null(db_ops_find("machine.drop"));
	op = db_ops_find("status");
	notobj = json_array();
	assert_int_equal(db_ops_run(db, op, notobj, &result, &cause, &lost),
	    -1);
	json_decref(notobj);
	assert_non_null(strstr(cause, "must be a JSON object"));
	assert_null(result);
	free(cause);
}

static int
setup(void **state)
{
	const char	*sock = getenv("HAVEN_TEST_DB_SOCKET");
	const char	*pwfile = getenv("HAVEN_TEST_DB_PASSWORD_FILE");
	const char	*user = getenv("HAVEN_TEST_DB_USER");
	const char	*name = getenv("HAVEN_TEST_DB_NAME");
	char		*pw, *cause = NULL;

	(void)state;
	if ((pw = read_file(pwfile, NULL, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	db = mysql_init(NULL);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(db, "localhost", user ? user : "haven", pw,
	    name ? name : "haven", 0, sock, 0) == NULL) {
		fprintf(stderr, "cannot connect over %s: %s\n", sock,
		    mysql_error(db));
		free(pw);
		return -1;
	}
	free(pw);
	if (db_ops_session(db, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mysql_close(db);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* Migrations first: the ops need the schema. */
		cmocka_unit_test(test_migrate_twice),
		cmocka_unit_test(test_migrate_interrupted),
		cmocka_unit_test(test_migrate_failing_statement),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_machines),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_ops_table),
	};

	if (getenv("HAVEN_TEST_DB_SOCKET") == NULL ||
	    getenv("HAVEN_TEST_DB_PASSWORD_FILE") == NULL) {
		fprintf(stderr, "test_db_ops needs a MariaDB server: run "
		    "tests/integration/db.t (prove -v tests/integration/db.t), "
		    "which starts a private one, or start one yourself:\n"
		    "  tests/lib/mariadb.sh start /tmp/hdb\n"
		    "  HAVEN_TEST_DB_SOCKET=/tmp/hdb/mysql.sock "
		    "HAVEN_TEST_DB_PASSWORD_FILE=/tmp/hdb/db.pass %s\n",
		    "build/tests/test_db_ops");
		return 1;
	}
	log_init("test_db_ops", 1, LOG_LVL_ERROR);
	srand((unsigned)now_unix() ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, setup, teardown);
}
