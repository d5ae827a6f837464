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


/* --- replication (002) */

static void
new_name(char *out, size_t len, const char *prefix)
{
	snprintf(out, len, "%s%u", prefix, (unsigned)rand() % 1000000);
}

/* A machine with disks sda and sdb in its inventory; id into out. */
static void
protected_machine(char out[37], const char *host)
{
	char	serial[41], fp[65];

	new_uuid(out);
	new_hex(serial, 20);
	new_hex(fp, 32);
	enroll(out, host, serial, fp);
	json_decref(call_ok("machine.heartbeat", json_pack("{s:s, s:{s:s, "
	    "s:[{s:s, s:I}, {s:s, s:I}]}}", "fingerprint", fp, "inventory",
	    "hostname", host, "disks", "name", "sda", "size",
	    (json_int_t)1 << 30, "name", "sdb", "size", (json_int_t)1 << 30)));
}

static json_t *
policy_of(json_t *list, const char *name)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(json_object_get(list, "policies"), i, p)
		if (strcmp(str(p, "name"), name) == 0)
			return p;
	return NULL;
}

static void
test_policies(void **state)
{
	char		 name[32], twin[48], other[32], id[37], q[256];
	json_t		*r, *p, *f, *l, *v;
	const char	*k;
	long long	 pid, fid;
	size_t		 i;

	(void)state;
	new_name(name, sizeof(name), "gold");
	snprintf(twin, sizeof(twin), "%s-failback", name);
	r = call_ok("policy.create", json_pack("{s:s, s:i}", "name", name,
	    "rpo_threshold_s", 1800));
	pid = num(r, "id");
	fid = num(r, "failback_id");
	assert_true(fid > pid);
	p = json_object_get(r, "policy");
	f = json_object_get(r, "failback");
	assert_string_equal(str(p, "name"), name);
	assert_string_equal(str(f, "name"), twin);
	assert_int_equal(num(p, "rpo_threshold_s"), 1800);
	assert_int_equal(num(p, "crash_interval_s"), 300);
	assert_int_equal(num(p, "retention_s"), 86400);
	assert_int_equal(num(p, "app_consistent_s"), 14400);
	assert_true(json_is_false(json_object_get(p, "is_failback")));
	assert_true(json_is_true(json_object_get(f, "is_failback")));
	assert_int_equal(num(p, "twin_id"), fid);
	assert_int_equal(num(f, "twin_id"), pid);
	assert_string_equal(str(p, "twin"), twin);
	assert_string_equal(str(f, "twin"), name);
	/* Same values, all of them. */
	json_object_foreach(p, k, v)
		if (strstr(k, "_s") != NULL)
			assert_true(json_equal(v, json_object_get(f, k)));
	assert_iso(str(p, "created_at"));
	json_decref(r);

	/* The seed policy and its twin are there. */
	l = call_ok("policy.list", NULL);
	assert_non_null(policy_of(l, "default"));
	assert_non_null(policy_of(l, "default-failback"));
	assert_int_equal(num(policy_of(l, "default"), "crash_interval_s"),
	    300);
	/* Each policy is followed by its twin. */
	json_array_foreach(json_object_get(l, "policies"), i, p)
		if (strcmp(str(p, "name"), name) == 0)
			assert_string_equal(str(json_array_get(
			    json_object_get(l, "policies"), i + 1), "name"),
			    twin);
	json_decref(l);

	call_err("policy.create", json_pack("{s:s}", "name", name),
	    "already exists");
	call_err("policy.create", json_pack("{s:s}", "name", "x-failback"),
	    "names ending in -failback are for the failback twin");
	call_err("policy.create", json_pack("{s:s}", "name", "a b"),
	    "a policy name is 1 to 55 letters");
	call_err("policy.create", json_pack("{s:s}", "name", "2024"),
	    "must not be only digits");
	call_err("policy.create", json_pack("{s:s}", "name", ""),
	    "'name' must be a non-empty string");
	new_name(other, sizeof(other), "silver");
	call_err("policy.create", json_pack("{s:s, s:i}", "name", other,
	    "crash_interval_s", 5), "the crash-consistent interval "
	    "('crash_interval_s') must be from 10 s to 1 day, not 5 s");
	call_err("policy.create", json_pack("{s:s, s:i}", "name", other,
	    "crash_interval_s", 86401), "must be from 10 s to 1 day");
	call_err("policy.create", json_pack("{s:s, s:s}", "name", other,
	    "rpo_threshold_s", "15m"), "must be a whole number of seconds");
	call_err("policy.create", json_pack("{s:s, s:i, s:i}", "name", other,
	    "crash_interval_s", 600, "rpo_threshold_s", 300),
	    "the RPO threshold (5 min) must be at least the crash-consistent "
	    "interval (10 min)");
	call_err("policy.create", json_pack("{s:s, s:i}", "name", other,
	    "app_consistent_s", 30), "0 (none) or from 1 min to 1 day");
	call_err("policy.create", json_pack("{s:s, s:i}", "name", other,
	    "retention_s", 40 * 86400), "from 10 s to 30 days");
	/* Nothing half-made by the refusals. */
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM policies WHERE name "
	    "LIKE '%s%%'", other);
	assert_int_equal(sql_int(q), 0);
	/* The smallest interval and no app-consistent points are fine. */
	r = call_ok("policy.create", json_pack("{s:s, s:i, s:i, s:i}", "name",
	    other, "crash_interval_s", 10, "rpo_threshold_s", 10,
	    "app_consistent_s", 0));
	assert_int_equal(num(json_object_get(r, "policy"),
	    "app_consistent_s"), 0);
	json_decref(r);

	/* By name, by id, as a string or a number. */
	r = call_ok("policy.get", json_pack("{s:s}", "policy", name));
	assert_int_equal(num(r, "id"), pid);
	assert_int_equal(json_array_size(json_object_get(r, "machine_list")),
	    0);
	json_decref(r);
	snprintf(q, sizeof(q), "%lld", fid);
	r = call_ok("policy.get", json_pack("{s:s}", "policy", q));
	assert_string_equal(str(r, "name"), twin);
	json_decref(r);
	r = call_ok("policy.get", json_pack("{s:I}", "policy",
	    (json_int_t)pid));
	assert_string_equal(str(r, "name"), name);
	json_decref(r);
	call_err("policy.get", json_pack("{s:s}", "policy", "nosuchpolicy"),
	    "no policy named 'nosuchpolicy'");
	call_err("policy.get", json_pack("{s:i}", "policy", 999999999),
	    "no policy with id 999999999");

	r = call_ok("policy.update", json_pack("{s:s, s:i, s:i}", "policy",
	    name, "rpo_threshold_s", 3600, "retention_s", 7200));
	assert_int_equal(num(r, "rpo_threshold_s"), 3600);
	assert_int_equal(num(r, "retention_s"), 7200);
	assert_int_equal(num(r, "crash_interval_s"), 300);
	assert_iso(str(r, "updated_at"));
	json_decref(r);
	call_err("policy.update", json_pack("{s:s, s:s}", "policy", name,
	    "name", "other"), "a policy keeps its name");
	call_err("policy.update", json_pack("{s:s, s:i}", "policy", name,
	    "rpo", 60), "unknown policy setting 'rpo'");
	call_err("policy.update", json_pack("{s:s, s:i}", "policy", name,
	    "crash_interval_s", 7200), "the RPO threshold (1 h) must be at "
	    "least the crash-consistent interval (2 h)");

	/* Assigning, and deleting while in use. */
	protected_machine(id, "assign-web");
	r = call_ok("policy.assign", json_pack("{s:s, s:s}", "machine_id", id,
	    "policy", name));
	assert_string_equal(str(r, "hostname"), "assign-web");
	assert_string_equal(str(json_object_get(r, "policy"), "name"), name);
	assert_true(json_is_null(json_object_get(r, "was")) ||
	    json_object_get(r, "was") == NULL);
	json_decref(r);
	r = call_ok("event.list", json_pack("{s:s, s:i}", "machine_id", id,
	    "limit", 1));
	p = json_array_get(json_object_get(r, "events"), 0);
	assert_string_equal(str(p, "kind"), "policy");
	assert_non_null(strstr(str(p, "message"), name));
	json_decref(r);
	r = call_ok("policy.get", json_pack("{s:s}", "policy", name));
	assert_int_equal(num(r, "machines"), 1);
	assert_true(array_has(json_object_get(r, "machine_list"), "id", id));
	json_decref(r);
	call_err("policy.assign", json_pack("{s:s, s:s}", "machine_id",
	    "00000000-0000-0000-0000-000000000000", "policy", name),
	    "no machine with id");
	call_err("policy.assign", json_pack("{s:s, s:s}", "machine_id", id,
	    "policy", "nosuchpolicy"), "no policy named 'nosuchpolicy'");
	call_err("policy.delete", json_pack("{s:s}", "policy", name),
	    "is in use by 1 machine: assign-web");
	call_err("policy.delete", json_pack("{s:s}", "policy", twin),
	    "is a failback twin");
	r = call_ok("policy.assign", json_pack("{s:s, s:s}", "machine_id", id,
	    "policy", other));
	assert_string_equal(str(r, "was"), name);
	json_decref(r);
	r = call_ok("policy.delete", json_pack("{s:s}", "policy", name));
	assert_int_equal(json_array_size(json_object_get(r, "deleted")), 2);
	assert_true(array_has(json_object_get(r, "deleted"), NULL, twin));
	json_decref(r);
	call_err("policy.get", json_pack("{s:s}", "policy", twin),
	    "no policy named");
	/* A revoked machine is no obstacle, and cannot be protected. */
	json_decref(call_ok("machine.revoke", json_pack("{s:s}", "id", id)));
	call_err("policy.assign", json_pack("{s:s, s:s}", "machine_id", id,
	    "policy", other), "is revoked");
	r = call_ok("policy.delete", json_pack("{s:s}", "policy", other));
	json_decref(r);
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM machines WHERE id = '%s' "
	    "AND policy_id IS NULL", id);
	assert_int_equal(sql_int(q), 1);
}

static json_t *
add_point(const char *id, const char *disk, long long point,
    const char *kind, int consistent, long long taken)
{
	return call_ok("point.add", json_pack("{s:s, s:s, s:I, s:I, s:s, s:b, "
	    "s:I}", "machine_id", id, "disk", disk, "point_id",
	    (json_int_t)point, "seq", (json_int_t)(point * 10), "kind", kind,
	    "crash_consistent", consistent, "taken_at", (json_int_t)taken));
}

static void
test_points(void **state)
{
	char		 id[37], name[32];
	json_t		*r, *p;
	long long	 now = now_unix();

	(void)state;
	protected_machine(id, "points-db");
	r = call_ok("point.list", json_pack("{s:s}", "machine_id", id));
	assert_int_equal(json_array_size(json_object_get(r, "points")), 0);
	assert_true(json_is_null(json_object_get(r, "rpo_s")));
	assert_true(json_is_null(json_object_get(r, "rpo_threshold_s")));
	assert_true(json_is_null(json_object_get(r, "latest")));
	assert_string_equal(str(r, "disks_from"), "inventory");
	assert_int_equal(json_array_size(json_object_get(r, "disks")), 2);
	json_decref(r);

	/* A point is listed once every disk has it. */
	r = add_point(id, "sda", 1, "crash", 1, now - 600);
	assert_true(json_is_true(json_object_get(r, "added")));
	assert_true(json_is_false(json_object_get(r, "complete")));
	assert_true(json_is_null(json_object_get(r, "rpo_s")));
	json_decref(r);
	r = add_point(id, "sdb", 1, "crash", 1, now - 600);
	assert_true(json_is_true(json_object_get(r, "complete")));
	assert_in_range(num(r, "rpo_s"), 595, 660);
	json_decref(r);
	/* Twice is once. */
	r = add_point(id, "sdb", 1, "crash", 1, now - 600);
	assert_true(json_is_false(json_object_get(r, "added")));
	assert_true(json_is_true(json_object_get(r, "complete")));
	json_decref(r);

	json_decref(add_point(id, "sda", 2, "app", 1, now - 300));
	json_decref(add_point(id, "sdb", 2, "app", 1, now - 300));
	json_decref(add_point(id, "sda", 3, "crash", 0, now - 60));
	r = add_point(id, "sdb", 3, "crash", 1, now - 60);
	assert_in_range(num(r, "rpo_s"), 55, 120);
	json_decref(r);
	json_decref(add_point(id, "sda", 4, "crash", 1, now - 1));

	r = call_ok("point.list", json_pack("{s:s}", "machine_id", id));
	assert_int_equal(json_array_size(json_object_get(r, "points")), 3);
	p = json_array_get(json_object_get(r, "points"), 0);
	assert_int_equal(num(p, "point_id"), 3);
	assert_string_equal(str(p, "kind"), "crash");
	assert_true(json_is_false(json_object_get(p, "crash_consistent")));
	assert_iso(str(p, "taken_at"));
	p = json_array_get(json_object_get(r, "points"), 1);
	assert_int_equal(num(p, "point_id"), 2);
	assert_string_equal(str(p, "kind"), "app");
	assert_true(json_is_true(json_object_get(p, "crash_consistent")));
	assert_int_equal(num(json_object_get(r, "latest"), "point_id"), 3);
	assert_int_equal(num(json_object_get(r, "latest_app"), "point_id"), 2);
	assert_in_range(num(r, "rpo_s"), 55, 120);
	json_decref(r);

	/* The threshold comes with a policy. */
	new_name(name, sizeof(name), "pts");
	json_decref(call_ok("policy.create", json_pack("{s:s, s:i, s:i}",
	    "name", name, "rpo_threshold_s", 30, "crash_interval_s", 10)));
	json_decref(call_ok("policy.assign", json_pack("{s:s, s:s}",
	    "machine_id", id, "policy", name)));
	r = call_ok("point.list", json_pack("{s:s, s:i}", "machine_id", id,
	    "limit", 1));
	assert_int_equal(num(r, "rpo_threshold_s"), 30);
	assert_string_equal(str(r, "policy"), name);
	assert_int_equal(json_array_size(json_object_get(r, "points")), 1);
	json_decref(r);
	r = call_ok("rpo.check", NULL);
	{
		json_t	*m;
		size_t	 i;
		int	 seen = 0;

		json_array_foreach(json_object_get(r, "machines"), i, m)
			if (strcmp(str(m, "machine_id"), id) == 0) {
				seen = 1;
				assert_true(num(m, "rpo_s") >
				    num(m, "rpo_threshold_s"));
			}
		assert_true(seen);
	}
	json_decref(r);

	/* Pruning one disk's point makes the machine's point go. */
	r = call_ok("point.prune", json_pack("{s:s, s:s, s:i}", "machine_id",
	    id, "disk", "sda", "before_point", 2));
	assert_int_equal(num(r, "deleted"), 1);
	json_decref(r);
	r = call_ok("point.prune", json_pack("{s:s, s:s, s:[i]}",
	    "machine_id", id, "disk", "sdb", "points", 1));
	assert_int_equal(num(r, "deleted"), 1);
	json_decref(r);
	r = call_ok("point.list", json_pack("{s:s}", "machine_id", id));
	assert_int_equal(json_array_size(json_object_get(r, "points")), 2);
	json_decref(r);
	call_err("point.prune", json_pack("{s:s, s:s}", "machine_id", id,
	    "disk", "sda"), "give 'before_point' or 'points'");

	/* With replication state, its disks are the machine's. */
	json_decref(call_ok("disk.state", json_pack("{s:s, s:s, s:s}",
	    "machine_id", id, "disk", "sda", "state", "protected")));
	r = call_ok("point.list", json_pack("{s:s}", "machine_id", id));
	assert_string_equal(str(r, "disks_from"), "replication state");
	assert_int_equal(json_array_size(json_object_get(r, "disks")), 1);
	assert_int_equal(num(json_object_get(r, "latest"), "point_id"), 4);
	json_decref(r);

	call_err("point.add", json_pack("{s:s, s:s, s:i, s:i, s:s, s:i}",
	    "machine_id", id, "disk", "sda", "point_id", 5, "seq", 50, "kind",
	    "weird", "taken_at", 1), "'kind' must be one of: crash, app");
	call_err("point.add", json_pack("{s:s, s:s, s:i, s:i, s:s, s:i}",
	    "machine_id", "00000000-0000-0000-0000-000000000000", "disk",
	    "sda", "point_id", 5, "seq", 50, "kind", "app", "taken_at", 1),
	    "no machine with id");
	call_err("point.list", json_pack("{s:s}", "machine_id", "nope"),
	    "no machine with id nope");
	json_decref(call_ok("machine.revoke", json_pack("{s:s}", "id", id)));
	json_decref(call_ok("policy.delete", json_pack("{s:s}", "policy",
	    name)));
}

static void
test_disk_state(void **state)
{
	char	 id[37];
	json_t	*r, *e;

	(void)state;
	protected_machine(id, "state-db");
	r = call_ok("disk.state", json_pack("{s:s, s:s, s:i, s:i, s:I}",
	    "machine_id", id, "disk", "/dev/vda", "percent", 40, "eta_s", 90,
	    "bytes_sent", (json_int_t)5000000000LL));
	assert_string_equal(str(r, "state"), "initial-sync");
	assert_int_equal(num(r, "percent"), 40);
	assert_int_equal(num(r, "eta_s"), 90);
	assert_int_equal(num(r, "bytes_sent"), 5000000000LL);
	assert_true(json_is_null(json_object_get(r, "was")));
	json_decref(r);
	/* Counters alone keep the state and its progress. */
	r = call_ok("disk.state", json_pack("{s:s, s:s, s:i}", "machine_id",
	    id, "disk", "/dev/vda", "bytes_received", 4000));
	assert_string_equal(str(r, "state"), "initial-sync");
	assert_int_equal(num(r, "percent"), 40);
	assert_int_equal(num(r, "bytes_received"), 4000);
	assert_int_equal(num(r, "bytes_sent"), 5000000000LL);
	json_decref(r);
	r = call_ok("disk.state", json_pack("{s:s, s:s, s:s}", "machine_id",
	    id, "disk", "/dev/vda", "state", "protected"));
	assert_string_equal(str(r, "state"), "protected");
	assert_string_equal(str(r, "was"), "initial-sync");
	assert_true(json_is_null(json_object_get(r, "percent")));
	json_decref(r);
	r = call_ok("disk.state", json_pack("{s:s, s:s, s:s, s:s}",
	    "machine_id", id, "disk", "/dev/vda", "state", "error", "error",
	    "cannot read /dev/vda: Input/output error"));
	assert_string_equal(str(r, "error"), "cannot read /dev/vda: "
	    "Input/output error");
	json_decref(r);
	r = call_ok("event.list", json_pack("{s:s, s:i}", "machine_id", id,
	    "limit", 1));
	e = json_array_get(json_object_get(r, "events"), 0);
	assert_string_equal(str(e, "kind"), "disk");
	assert_non_null(strstr(str(e, "message"), "Input/output error"));
	json_decref(r);
	r = call_ok("disk.state", json_pack("{s:s, s:s, s:s}", "machine_id",
	    id, "disk", "/dev/vda", "state", "resyncing"));
	assert_true(json_is_null(json_object_get(r, "error")));
	json_decref(r);

	r = call_ok("machine.replication", json_pack("{s:s}", "machine_id",
	    id));
	assert_string_equal(str(r, "hostname"), "state-db");
	assert_true(json_is_null(json_object_get(r, "policy")));
	assert_int_equal(json_array_size(json_object_get(r, "disk_state")), 1);
	assert_string_equal(str(json_array_get(json_object_get(r,
	    "disk_state"), 0), "state"), "resyncing");
	json_decref(r);
	json_decref(call_ok("policy.assign", json_pack("{s:s, s:s}",
	    "machine_id", id, "policy", "default")));
	r = call_ok("machine.replication", json_pack("{s:s}", "machine_id",
	    id));
	assert_int_equal(num(json_object_get(r, "policy"),
	    "crash_interval_s"), 300);
	json_decref(r);

	call_err("disk.state", json_pack("{s:s, s:s, s:s}", "machine_id", id,
	    "disk", "/dev/vda", "state", "sleeping"), "'state' must be one "
	    "of: initial-sync, protected, resyncing, paused, error");
	call_err("disk.state", json_pack("{s:s, s:s, s:i}", "machine_id", id,
	    "disk", "/dev/vda", "percent", 101), "'percent' must be an "
	    "integer from 0 to 100");
	call_err("disk.state", json_pack("{s:s, s:s}", "machine_id", "nope",
	    "disk", "sda"), "no machine with id nope");
	json_decref(call_ok("machine.revoke", json_pack("{s:s}", "id", id)));
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
	    "event.list", "policy.create", "policy.update", "policy.list",
	    "policy.get", "policy.delete", "policy.assign", "point.add",
	    "point.list", "point.prune", "disk.state", "machine.replication",
	    "rpo.check", NULL };
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
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_disk_state),
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
