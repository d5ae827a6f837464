/*
 * Schema migrations: sql/NNN_name.sql, compiled in (sqlfiles.h), applied
 * in order and recorded in schema_version.  MariaDB commits DDL as it
 * goes, so a migration cannot be rolled back: a row left in state
 * 'applying' is how the next start knows one was cut off half-way.
 */
#ifndef HAVEN_MIGRATE_H
#define HAVEN_MIGRATE_H

#include <stddef.h>
#include <mysql.h>

#include "sqlfiles.h"

struct migration {
	int			 version;	/* NNN */
	const struct sql_file	*file;
};

/* The files as migrations sorted by version; refuses a name that is not
 * NNN_name.sql and two files with one number.  *out is malloc'd. */
int	migrate_plan(const struct sql_file *, struct migration **out,
	    size_t *n, char **cause);

/* Split a file into statements on ';' outside quotes and comments;
 * comments are dropped, empty statements skipped.  Free with
 * migrate_free_stmts(). */
int	migrate_split(const char *sql, char ***stmts, size_t *n,
	    char **cause);
void	migrate_free_stmts(char **, size_t);

/* Bring the connected database up to the newest file; *version is the
 * resulting schema version. */
int	migrate_apply(MYSQL *, const struct sql_file *, int *version,
	    char **cause);

#endif
