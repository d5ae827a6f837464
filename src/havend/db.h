/*
 * The db process: the only one that talks to MariaDB.  Control sends
 * IMSG_DB_CALL {id, op, args} over the channel the parent hands out
 * (IMSG_DB_CHANNEL) and gets IMSG_DB_REPLY {id, ok, result, error};
 * IMSG_DB_STATE tells it whether the database is usable and why not.
 * Queries block here, never in a process that serves connections.
 */
#ifndef HAVEN_DB_H
#define HAVEN_DB_H

#include <jansson.h>
#include <mysql.h>

struct haven_conf;

/* In a forked child; never returns. */
void	db_main(struct haven_conf *conf, const char *conf_path,
	    int parent_fd) __attribute__((noreturn));

/* One operation (db_ops.c): args is a JSON object; on success *result
 * is a new object, on failure cause says why for the operator. */
struct db_op {
	const char	*name;
	int		(*fn)(MYSQL *, json_t *args, json_t **result,
			    char **cause);
};

const struct db_op *db_ops_find(const char *name);
/* fn inside a transaction; *lost is set when the connection broke
 * (the caller must reconnect). */
int	db_ops_run(MYSQL *, const struct db_op *, json_t *args,
	    json_t **result, char **cause, int *lost);
/* Session settings every connection needs before anything else:
 * UTC times, strict SQL mode. */
int	db_ops_session(MYSQL *, char **cause);
/* 1 if a client error number means the connection is gone. */
int	db_ops_conn_error(unsigned int);

#endif
