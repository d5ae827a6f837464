/*
 * Query helpers (dbq.h): escaping, rows to JSON and argument checks
 * for every ops table and for job processes, plus the connection code
 * the db process and job processes share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "conf.h"
#include "db.h"
#include "dbq.h"
#include "log.h"
#include "util.h"

void
dbq_quote(MYSQL *m, struct fbuf *b, const char *s)
{
	size_t		len;
	char		*e;
	unsigned long	n;

	if (s == NULL) {
		fbuf_add(b, "NULL", 4);
		return;
	}
	len = strlen(s);
	e = xmalloc(2 * len + 1);
	n = mysql_real_escape_string(m, e, s, (unsigned long)len);
	if (n == (unsigned long)-1)
		fatalx("mysql_real_escape_string failed");
	fbuf_add(b, "'", 1);
	fbuf_add(b, e, n);
	fbuf_add(b, "'", 1);
	free(e);
}

int
dbq_run(MYSQL *m, MYSQL_RES **res, char **cause, const char *sql,
    const struct dbq_arg *a, size_t n)
{
	struct fbuf	 b;
	const char	*p;
	char		 tmp[32];
	size_t		 k = 0;
	time_t		 t;
	struct tm	 tm;
	MYSQL_RES	*r;

	if (res != NULL)
		*res = NULL;
	fbuf_init(&b);
	for (p = sql; *p != '\0'; p++) {
		if (*p != '?') {
			fbuf_add(&b, p, 1);
			continue;
		}
		if (k == n)
			fatalx("query has more '?' than arguments: %s", sql);
		switch (a[k].kind) {
		case 's':
			dbq_quote(m, &b, a[k].s);
			break;
		case 'i':
			snprintf(tmp, sizeof(tmp), "%lld", a[k].i);
			fbuf_add(&b, tmp, strlen(tmp));
			break;
		case 't':
			t = (time_t)a[k].i;
			if (gmtime_r(&t, &tm) == NULL ||
			    strftime(tmp, sizeof(tmp), "'%Y-%m-%d %H:%M:%S'",
			    &tm) == 0)
				snprintf(tmp, sizeof(tmp), "NULL");
			fbuf_add(&b, tmp, strlen(tmp));
			break;
		}
		k++;
	}
	if (k != n)
		fatalx("query has fewer '?' than arguments: %s", sql);
	if (mysql_real_query(m, (char *)b.data, b.len) != 0) {
		set_cause(cause, "database error: %s (MariaDB error %u)",
		    mysql_error(m), mysql_errno(m));
		fbuf_free(&b);
		return -1;
	}
	fbuf_free(&b);
	r = mysql_store_result(m);
	if (r == NULL && mysql_field_count(m) != 0) {
		set_cause(cause, "database error: %s (MariaDB error %u)",
		    mysql_error(m), mysql_errno(m));
		return -1;
	}
	if (res != NULL)
		*res = r;
	else if (r != NULL)
		mysql_free_result(r);
	return 0;
}

MYSQL_ROW
dbq_row(MYSQL_RES **res)
{
	MYSQL_ROW	row;

	if (*res == NULL)
		return NULL;
	if ((row = mysql_fetch_row(*res)) == NULL) {
		mysql_free_result(*res);
		*res = NULL;
	}
	return row;
}

json_t *
dbq_j_str(const char *s)
{
	json_t	*j;

	if (s == NULL)
		return json_null();
	/* utf8mb4 columns hold valid UTF-8, but never answer NULL. */
	if ((j = json_string(s)) == NULL)
		j = json_string("(not valid UTF-8)");
	return j;
}

/* "2026-11-22 04:52:42[.123]" (UTC) -> "2026-11-22T04:52:42Z". */
json_t *
dbq_j_time(const char *s)
{
	char	buf[21];

	if (s == NULL || strlen(s) < 19)
		return json_null();
	memcpy(buf, s, 19);
	buf[10] = 'T';
	buf[19] = 'Z';
	buf[20] = '\0';
	return json_string(buf);
}

json_t *
dbq_j_int(const char *s)
{
	return s == NULL ? json_null() : json_integer(strtoll(s, NULL, 10));
}

json_t *
dbq_j_bool(const char *s)
{
	return s == NULL ? json_null() : json_boolean(strtoll(s, NULL, 10));
}

json_t *
dbq_j_json(const char *s)
{
	json_t	*j;

	if (s == NULL || (j = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
		return json_null();
	return j;
}

size_t
dbq_u8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

char *
dbq_u8_cut(const char *s, size_t max)
{
	const char	*p = s;
	size_t		 n = 0;

	for (; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && n++ == max)
			break;
	}
	return xstrndup(s, (size_t)(p - s));
}

int
dbq_a_str(json_t *args, const char *key, int required, size_t max,
    const char **out, char **cause)
{
	json_t	*v = json_object_get(args, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		set_cause(cause, "'%s' is missing", key);
		return -1;
	}
	if (!json_is_string(v) || (required && json_string_length(v) == 0)) {
		set_cause(cause, "'%s' must be a non-empty string", key);
		return -1;
	}
	if (max > 0 && dbq_u8_chars(json_string_value(v)) > max) {
		set_cause(cause, "'%s' is longer than %zu characters", key,
		    max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
dbq_a_int(json_t *args, const char *key, int required, long long min,
    long long max, long long def, long long *out, char **cause)
{
	json_t	*v = json_object_get(args, key);

	*out = def;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		set_cause(cause, "'%s' is missing", key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		set_cause(cause, "'%s' must be an integer from %lld to %lld",
		    key, min, max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
dbq_a_enum(json_t *args, const char *key, int required,
    const char *const *choices, const char **out, char **cause)
{
	struct fbuf	b;
	size_t		i;

	if (dbq_a_str(args, key, required, 0, out, cause) == -1)
		return -1;
	if (*out == NULL)
		return 0;
	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(*out, choices[i]) == 0)
			return 0;
	fbuf_init(&b);
	for (i = 0; choices[i] != NULL; i++) {
		if (i > 0)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, choices[i], strlen(choices[i]));
	}
	fbuf_add(&b, "", 1);
	set_cause(cause, "'%s' must be one of: %s", key, (char *)b.data);
	fbuf_free(&b);
	return -1;
}

const char *
dbq_host(const struct haven_conf *conf)
{
	return conf->db_host != NULL ? conf->db_host : "127.0.0.1";
}

const char *
dbq_name(const struct haven_conf *conf)
{
	return conf->db_name != NULL ? conf->db_name : "haven";
}

const char *
dbq_user(const struct haven_conf *conf)
{
	return conf->db_user != NULL ? conf->db_user : "haven";
}

char *
dbq_read_password(const char *path, char **cause)
{
	char	*why = NULL, *pw;

	if (check_private_file(path, &why) == -1 ||
	    (pw = read_file(path, NULL, &why)) == NULL) {
		set_cause(cause, "cannot use the database password file: %s",
		    why);
		free(why);
		return NULL;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	return pw;
}

int
dbq_open(const struct haven_conf *conf, const char *pw,
    unsigned int connect_timeout, unsigned int io_timeout, MYSQL **mp)
{
	MYSQL		*m;
	unsigned int	 zero = 0;
	my_bool		 reconnect = 0;
	const char	*sock = conf->db_socket;

	if ((m = mysql_init(NULL)) == NULL)
		fatalx("mysql_init: out of memory");
	*mp = m;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
	mysql_options(m, MYSQL_OPT_RECONNECT, &reconnect);
	mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &zero);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (sock != NULL && *sock == '\0')
		sock = NULL;
	if (mysql_real_connect(m, sock != NULL ? "localhost" : dbq_host(conf),
	    dbq_user(conf), pw, dbq_name(conf), sock != NULL ? 0 :
	    (unsigned int)conf->db_port, sock, 0) == NULL)
		return -1;
	return 0;
}

MYSQL *
dbq_connect(const struct haven_conf *conf, char **cause)
{
	MYSQL		*m;
	const char	*sock = conf->db_socket;
	char		*pw = NULL, *why = NULL;

	if (conf->db_password_file != NULL &&
	    (pw = dbq_read_password(conf->db_password_file, cause)) == NULL)
		return NULL;
	if (dbq_open(conf, pw, 10, 300, &m) == -1) {
		if (sock != NULL && *sock != '\0')
			set_cause(cause, "cannot connect to MariaDB at %s: %s",
			    sock, mysql_error(m));
		else
			set_cause(cause, "cannot connect to MariaDB at "
			    "%s:%lld: %s", dbq_host(conf), conf->db_port,
			    mysql_error(m));
		goto fail;
	}
	if (db_ops_session(m, &why) == -1) {
		set_cause(cause, "cannot set up the database session: %s",
		    why);
		free(why);
		goto fail;
	}
	if (pw != NULL)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	return m;
fail:
	mysql_close(m);
	if (pw != NULL)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	return NULL;
}
