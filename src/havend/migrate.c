/*
 * Schema migrations.  See migrate.h for why 'applying' rows exist.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "migrate.h"
#include "util.h"

#define MIGRATE_LOCK_WAIT	60	/* seconds for another havend */

static const char schema_version_ddl[] =
	"CREATE TABLE IF NOT EXISTS schema_version ("
	" version INT NOT NULL,"
	" name VARCHAR(255) NOT NULL,"
	" checksum CHAR(64) NOT NULL,"
	" state ENUM('applying','applied') NOT NULL,"
	" applied_at DATETIME NULL,"
	" PRIMARY KEY (version)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/* NNN_name.sql: returns NNN, or -1. */
static int
migrate_parse_name(const char *name)
{
	const char	*p = name;
	size_t		 len;
	int		 v = 0, digits = 0;

	for (; isdigit((unsigned char)*p); p++) {
		if (++digits > 6)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (digits == 0 || *p++ != '_')
		return -1;
	len = strlen(p);
	if (len <= 4 || strcmp(p + len - 4, ".sql") != 0)
		return -1;
	for (; len > 4; p++, len--)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return -1;
	return v;
}

static int
migrate_cmp(const void *a, const void *b)
{
	const struct migration	*x = a, *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->file->name, y->file->name);
}

int
migrate_plan(const struct sql_file *files, struct migration **out,
    size_t *n, char **cause)
{
	struct migration	*m;
	size_t			 count = 0, i;
	int			 v;

	*out = NULL;
	*n = 0;
	while (files[count].name != NULL)
		count++;
	m = xcalloc(count + 1, sizeof(*m));
	for (i = 0; i < count; i++) {
		v = migrate_parse_name(files[i].name);
		if (v <= 0) {
			set_cause(cause, "bad migration file name '%s': "
			    "expected NNN_name.sql (a number from 1, '_', "
			    "then letters, digits, '_' or '-')",
			    files[i].name);
			free(m);
			return -1;
		}
		m[i].version = v;
		m[i].file = &files[i];
	}
	qsort(m, count, sizeof(*m), migrate_cmp);
	for (i = 1; i < count; i++) {
		if (m[i].version != m[i - 1].version)
			continue;
		set_cause(cause, "migrations %s and %s have the same number "
		    "%d: renumber one of them", m[i - 1].file->name,
		    m[i].file->name, m[i].version);
		free(m);
		return -1;
	}
	*out = m;
	*n = count;
	return 0;
}

void
migrate_free_stmts(char **v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
migrate_push(struct fbuf *cur, int *content, char ***v, size_t *n)
{
	size_t	len = cur->len;
	size_t	start = 0;

	if (*content) {
		while (start < len && isspace(cur->data[start]))
			start++;
		while (len > start && isspace(cur->data[len - 1]))
			len--;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = xstrndup((char *)cur->data + start,
		    len - start);
	}
	fbuf_reset(cur);
	*content = 0;
}

int
migrate_split(const char *sql, char ***stmts, size_t *n, char **cause)
{
	struct fbuf	 cur;
	const char	*p = sql;
	const char	*what = NULL;
	char		 q;
	char		**v = NULL;
	size_t		 nv = 0;
	int		 line = 1, start_line = 0, content = 0;

	*stmts = NULL;
	*n = 0;
	fbuf_init(&cur);
	while (*p != '\0') {
		if (*p == '\'' || *p == '"' || *p == '`') {
			q = *p;
			start_line = line;
			fbuf_add(&cur, p++, 1);
			content = 1;
			for (;;) {
				if (*p == '\0') {
					what = "quoted string";
					goto unterminated;
				}
				if (*p == '\n')
					line++;
				if (*p == '\\' && q != '`' && p[1] != '\0') {
					if (p[1] == '\n')
						line++;
					fbuf_add(&cur, p, 2);
					p += 2;
					continue;
				}
				fbuf_add(&cur, p, 1);
				if (*p++ != q)
					continue;
				if (*p != q)	/* a doubled quote stays inside */
					break;
				fbuf_add(&cur, p++, 1);
			}
		} else if (*p == '#' || (p[0] == '-' && p[1] == '-' &&
		    (p[2] == '\0' || isspace((unsigned char)p[2]) ||
		    iscntrl((unsigned char)p[2])))) {
			/* MariaDB needs a space after "--": 1--1 is 2. */
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*' && p[2] != '!' &&
		    !(p[2] == 'M' && p[3] == '!')) {
			start_line = line;
			for (p += 2; !(p[0] == '*' && p[1] == '/'); p++) {
				if (*p == '\0') {
					what = "comment";
					goto unterminated;
				}
				if (*p == '\n')
					line++;
			}
			p += 2;
			fbuf_add(&cur, " ", 1);
		} else if (*p == ';') {
			migrate_push(&cur, &content, &v, &nv);
			p++;
		} else {
			/* Executable comments (slash-star-bang) pass through
			 * to the server as text. */
			if (*p == '\n')
				line++;
			if (!isspace((unsigned char)*p))
				content = 1;
			fbuf_add(&cur, p++, 1);
		}
	}
	migrate_push(&cur, &content, &v, &nv);
	fbuf_free(&cur);
	*stmts = v;
	*n = nv;
	return 0;

unterminated:
	set_cause(cause, "unterminated %s starting on line %d", what,
	    start_line);
	fbuf_free(&cur);
	migrate_free_stmts(v, nv);
	return -1;
}

static void
migrate_checksum(const struct sql_file *f, char out[65])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (!EVP_Digest(f->text, f->len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		fatalx("SHA-256 failed");
	hex_encode(md, 32, out);
}

/* Run one statement and drop whatever it returns. */
static int
migrate_exec(MYSQL *m, const char *sql)
{
	MYSQL_RES	*res;

	if (mysql_real_query(m, sql, strlen(sql)) != 0)
		return -1;
	do {
		if ((res = mysql_store_result(m)) != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(m) != 0)
			return -1;
	} while (mysql_next_result(m) == 0);
	return mysql_errno(m) != 0 ? -1 : 0;
}

static void
migrate_db_cause(MYSQL *m, char **cause, const char *what)
{
	set_cause(cause, "%s: %s (MariaDB error %u)", what, mysql_error(m),
	    mysql_errno(m));
}

/* A short one-line excerpt of a statement for messages. */
static char *
migrate_excerpt(const char *s)
{
	char	buf[72];
	size_t	i = 0;
	int	space = 0;

	for (; *s != '\0' && i < sizeof(buf) - 4; s++) {
		if (isspace((unsigned char)*s)) {
			space = 1;
			continue;
		}
		if (space && i > 0)
			buf[i++] = ' ';
		space = 0;
		buf[i++] = *s;
	}
	if (*s != '\0')
		memcpy(buf + i, "...", 3), i += 3;
	buf[i] = '\0';
	return xstrdup(buf);
}

static int
migrate_run_one(MYSQL *m, const struct migration *mg, const char *sum,
    char **cause)
{
	const char	*name = mg->file->name;
	char		**stmts = NULL, *sql, *ex, *why = NULL;
	size_t		  n = 0, i;
	int		  rc = -1;

	if (migrate_split(mg->file->text, &stmts, &n, &why) == -1) {
		set_cause(cause, "migration %s cannot be read: %s", name, why);
		free(why);
		return -1;
	}
	log_info("applying migration %s (%zu statements)", name, n);
	/* Names are checked by migrate_plan() and the checksum is hex, so
	 * they can go into the SQL as they are. */
	sql = xasprintf("INSERT INTO schema_version (version, name, checksum,"
	    " state, applied_at) VALUES (%d, '%s', '%s', 'applying',"
	    " UTC_TIMESTAMP())", mg->version, name, sum);
	if (migrate_exec(m, sql) == -1) {
		free(sql);
		sql = xasprintf("cannot record migration %s in "
		    "schema_version", name);
		migrate_db_cause(m, cause, sql);
		goto out;
	}
	free(sql);
	sql = NULL;
	for (i = 0; i < n; i++) {
		if (migrate_exec(m, stmts[i]) == 0)
			continue;
		ex = migrate_excerpt(stmts[i]);
		set_cause(cause, "migration %s failed at statement %zu of %zu "
		    "(%s): %s (MariaDB error %u); schema_version keeps it as "
		    "'applying' because what ran before it is already "
		    "committed: fix the cause, undo or finish the migration "
		    "by hand, delete that row (DELETE FROM schema_version "
		    "WHERE version = %d) and restart havend", name, i + 1, n,
		    ex, mysql_error(m), mysql_errno(m), mg->version);
		free(ex);
		goto out;
	}
	sql = xasprintf("UPDATE schema_version SET state = 'applied', "
	    "applied_at = UTC_TIMESTAMP() WHERE version = %d", mg->version);
	if (migrate_exec(m, sql) == -1) {
		free(sql);
		sql = xasprintf("migration %s ran but cannot be marked "
		    "applied", name);
		migrate_db_cause(m, cause, sql);
		goto out;
	}
	rc = 0;
out:
	free(sql);
	migrate_free_stmts(stmts, n);
	return rc;
}

/* The applied versions; fails on an 'applying' row or a schema newer
 * than the files. */
static int
migrate_check(MYSQL *m, const struct migration *plan, size_t np,
    int *done, int *version, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 sum[65];
	size_t		 i;
	int		 v, rc = 0, newest = np > 0 ? plan[np - 1].version : 0;

	if (mysql_query(m, "SELECT version, name, checksum, state FROM "
	    "schema_version ORDER BY version") != 0 ||
	    (res = mysql_store_result(m)) == NULL) {
		migrate_db_cause(m, cause, "cannot read schema_version");
		return -1;
	}
	*version = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		v = atoi(row[0]);
		if (strcmp(row[3], "applied") != 0) {
			set_cause(cause, "migration %s was interrupted half-way "
			    "(schema_version says '%s'): the schema may be "
			    "half-applied; restore the database from a "
			    "backup, or finish or undo it by hand and delete "
			    "that row (DELETE FROM schema_version WHERE "
			    "version = %d), then restart havend", row[1],
			    row[3], v);
			rc = -1;
			break;
		}
		if (v > newest) {
			set_cause(cause, "the database schema is at version %d "
			    "(%s), newer than this havend knows (%d): run the "
			    "havend that upgraded it, or restore the database "
			    "from a backup", v, row[1], newest);
			rc = -1;
			break;
		}
		*version = v;
		for (i = 0; i < np && plan[i].version != v; i++)
			;
		if (i == np) {
			log_warnx("schema_version lists migration %s, which "
			    "this havend does not have", row[1]);
			continue;
		}
		done[i] = 1;
		migrate_checksum(plan[i].file, sum);
		if (strcmp(sum, row[2]) != 0)
			log_warnx("migration %s changed after it was applied "
			    "(checksum %.12s... in the database, %.12s... now); "
			    "the database keeps the old version", row[1],
			    row[2], sum);
	}
	mysql_free_result(res);
	return rc;
}

int
migrate_apply(MYSQL *m, const struct sql_file *files, int *version,
    char **cause)
{
	struct migration	*plan = NULL;
	MYSQL_RES		*res;
	MYSQL_ROW		 row;
	char			 sum[65], *sql;
	size_t			 np = 0, i;
	int			*done = NULL, rc = -1, locked = 0;

	*version = 0;
	if (migrate_plan(files, &plan, &np, cause) == -1)
		return -1;
	if (migrate_exec(m, schema_version_ddl) == -1) {
		migrate_db_cause(m, cause, "cannot create schema_version");
		goto out;
	}
	/* Two havends on one database must not migrate at once. */
	sql = xasprintf("SELECT GET_LOCK(CONCAT('haven.migrate.', "
	    "DATABASE()), %d)", MIGRATE_LOCK_WAIT);
	if (mysql_query(m, sql) != 0 ||
	    (res = mysql_store_result(m)) == NULL) {
		free(sql);
		migrate_db_cause(m, cause, "cannot take the migration lock");
		goto out;
	}
	free(sql);
	row = mysql_fetch_row(res);
	locked = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
	mysql_free_result(res);
	if (!locked) {
		set_cause(cause, "another havend has been migrating this "
		    "database for %d s; stop it, or wait and restart",
		    MIGRATE_LOCK_WAIT);
		goto out;
	}
	done = xcalloc(np + 1, sizeof(*done));
	if (migrate_check(m, plan, np, done, version, cause) == -1)
		goto out;
	for (i = 0; i < np; i++) {
		if (done[i])
			continue;
		migrate_checksum(plan[i].file, sum);
		if (migrate_run_one(m, &plan[i], sum, cause) == -1)
			goto out;
		if (plan[i].version > *version)
			*version = plan[i].version;
		log_info("database schema is now at version %d", *version);
	}
	rc = 0;
out:
	if (locked)
		(void)migrate_exec(m, "DO RELEASE_LOCK(CONCAT('haven.migrate.',"
		    " DATABASE()))");
	free(done);
	free(plan);
	return rc;
}
