/*
 * Human renderings of API answers (docs/api.md) for havenctl.  In
 * src/common so that unit tests can call them.  Every field may be
 * missing or null: the daemon is a separate program and may be older or
 * newer, so absent values print as "-" rather than failing.
 */
#ifndef HAVEN_CTLFMT_H
#define HAVEN_CTLFMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Column-aligned table; cells are malloc'd and owned by the table. */
struct ctlfmt_table {
	size_t	  ncol;
	size_t	  nrow;
	char	**cell;
};

/* The header row, copied. */
void	ctlfmt_table_init(struct ctlfmt_table *, size_t ncol,
	    const char *const *head);
/* ncol malloc'd cells, which the table now owns. */
void	ctlfmt_table_row(struct ctlfmt_table *, char **cells);
/* first prefixes the header line, indent every other line. */
void	ctlfmt_table_print(FILE *, struct ctlfmt_table *, const char *first,
	    const char *indent);
void	ctlfmt_table_free(struct ctlfmt_table *);

/* "45s", "5m 12s", "2h 3m", "3d 4h". */
void	ctlfmt_duration(int64_t seconds, char *out, size_t len);
/* The same without zero parts: "15m", "1h", "3m 12s", "0s". */
void	ctlfmt_duration_short(int64_t seconds, char *out, size_t len);
/* Any JSON scalar as text (malloc'd); null, missing or "" give "-". */
char	*ctlfmt_value(json_t *);

/* GET /api/v1/status. */
void	ctlfmt_status(FILE *, json_t *status);
/* GET /api/v1/cert and POST /api/v1/cert/renew. */
void	ctlfmt_cert(FILE *, json_t *answer);
/* {"machines": [...]} as a table; now (unix seconds) dates heartbeats. */
void	ctlfmt_machines(FILE *, json_t *answer, int64_t now);
/* {"jobs": [...]} as a table, and one job as "key  value" lines. */
void	ctlfmt_jobs(FILE *, json_t *answer);
void	ctlfmt_job(FILE *, json_t *job);
/* {"policies": [...]} as a table; one policy as "key  value" lines. */
void	ctlfmt_policies(FILE *, json_t *answer);
void	ctlfmt_policy(FILE *, json_t *policy);
/* GET /api/v1/machines/{id}/points: the points, then the achieved RPO. */
void	ctlfmt_points(FILE *, json_t *answer);

#endif
