/* The schema migrations sql/NNN_name.sql, compiled in by
 * tests/lib/embed-sql.sh (sorted by name). */
#ifndef HAVEN_SQLFILES_H
#define HAVEN_SQLFILES_H
#include <stddef.h>
struct sql_file {
	const char	*name;	/* "001_init.sql" */
	const char	*text;	/* NUL-terminated */
	size_t		 len;	/* excluding the NUL */
};
/* Ends with { NULL, NULL, 0 }. */
extern const struct sql_file sql_files[];
#endif
