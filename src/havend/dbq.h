/*
 * Query helpers for all code that talks to MariaDB: the db process's
 * ops tables (db_ops.c, db_ops_disc.c) and its connection (db.c), and
 * job processes, which block and so may open a connection of their
 * own (dbq_connect).
 * Every value from outside goes through dbq_run(), which escapes it.
 */
#ifndef HAVEN_DBQ_H
#define HAVEN_DBQ_H

#include <jansson.h>
#include <mysql.h>

#include "util.h"

struct haven_conf;

/* A value for one '?' in a query. */
struct dbq_arg {
	char		 kind;	/* 's' string or NULL, 'i' integer,
				   't' unix seconds as a DATETIME */
	const char	*s;
	long long	 i;
};
#define DQS(x)	{ 's', (x), 0 }
#define DQI(x)	{ 'i', NULL, (long long)(x) }
#define DQT(x)	{ 't', NULL, (long long)(x) }

#define DQ(m, res, cause, sql, ...)					\
	dbq_run((m), (res), (cause), (sql),				\
	    (const struct dbq_arg[]){ __VA_ARGS__ },			\
	    sizeof((const struct dbq_arg[]){ __VA_ARGS__ }) /		\
	    sizeof(struct dbq_arg))
#define DQ0(m, res, cause, sql)	dbq_run((m), (res), (cause), (sql), NULL, 0)

/* sql with each '?' replaced by the next argument; res may be NULL. */
int		 dbq_run(MYSQL *, MYSQL_RES **res, char **cause,
		    const char *sql, const struct dbq_arg *, size_t n);
/* The first row, or NULL with *res freed. */
MYSQL_ROW	 dbq_row(MYSQL_RES **res);
/* Append 'escaped s' (or NULL) to b. */
void		 dbq_quote(MYSQL *, struct fbuf *b, const char *s);

/* Columns to JSON: NULL is null; times as ISO 8601 UTC. */
json_t		*dbq_j_str(const char *);
json_t		*dbq_j_time(const char *);
json_t		*dbq_j_int(const char *);
json_t		*dbq_j_bool(const char *);
json_t		*dbq_j_json(const char *);

/* Arguments of an op: a string of at most max characters (0: no
 * limit), NULL in *out when absent and not required; an integer from
 * min to max, def when absent; one of choices. */
int		 dbq_a_str(json_t *args, const char *key, int required,
		    size_t max, const char **out, char **cause);
int		 dbq_a_int(json_t *args, const char *key, int required,
		    long long min, long long max, long long def,
		    long long *out, char **cause);
int		 dbq_a_enum(json_t *args, const char *key, int required,
		    const char *const *choices, const char **out,
		    char **cause);
/* Characters (not bytes) of UTF-8 s; a copy cut to max characters. */
size_t		 dbq_u8_chars(const char *);
char		*dbq_u8_cut(const char *, size_t max);

/* havend.conf's db_host, db_name and db_user, or their defaults. */
const char	*dbq_host(const struct haven_conf *);
const char	*dbq_name(const struct haven_conf *);
const char	*dbq_user(const struct haven_conf *);
/* The password file's first line, or NULL with a cause. */
char		*dbq_read_password(const char *path, char **cause);
/*
 * mysql_init() with havend's client options and these timeouts
 * (seconds), then mysql_real_connect() with conf's settings (db_socket
 * when set, else db_host and db_port).  *m is set either way; on -1
 * mysql_errno(*m) says why and the caller closes it.
 */
int		 dbq_open(const struct haven_conf *, const char *pw,
		    unsigned int connect_timeout, unsigned int io_timeout,
		    MYSQL **m);
/*
 * A blocking connection with havend's database settings (db_host,
 * db_port or db_socket, db_name, db_user, db_password_file) and the
 * session settings of db_ops_session().  For job processes.
 */
MYSQL		*dbq_connect(const struct haven_conf *, char **cause);

#endif
