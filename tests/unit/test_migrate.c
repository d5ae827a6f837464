/* migrate_plan() and migrate_split(): no database needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "migrate.h"

#define F(name)	{ name, "SELECT 1;", 9 }

static void
test_plan_sorts(void **state)
{
	const struct sql_file files[] = {
		F("010_ten.sql"), F("002_two.sql"), F("001_init.sql"),
		F("003_three-ish.sql"), { NULL, NULL, 0 }
	};
	struct migration	*m;
	size_t			 n;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(migrate_plan(files, &m, &n, &cause), 0);
	assert_null(cause);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].version, 1);
	assert_string_equal(m[0].file->name, "001_init.sql");
	assert_int_equal(m[1].version, 2);
	assert_int_equal(m[2].version, 3);
	assert_string_equal(m[2].file->name, "003_three-ish.sql");
	assert_int_equal(m[3].version, 10);
	assert_string_equal(m[3].file->name, "010_ten.sql");
	free(m);
}

static void
test_plan_empty(void **state)
{
	const struct sql_file	 files[] = { { NULL, NULL, 0 } };
	struct migration	*m;
	size_t			 n = 99;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(migrate_plan(files, &m, &n, &cause), 0);
	assert_int_equal(n, 0);
	free(m);
}

static void
refused(const char *bad, const char *expect)
{
	const struct sql_file files[] = {
		F("001_init.sql"), { bad, "SELECT 1;", 9 }, { NULL, NULL, 0 }
	};
	struct migration	*m = (void *)1;
	size_t			 n = 99;
	char			*cause = NULL;

	assert_int_equal(migrate_plan(files, &m, &n, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, expect) == NULL)
		fail_msg("cause for '%s' is '%s', wanted '%s'", bad, cause,
		    expect);
	assert_null(m);
	assert_int_equal(n, 0);
	free(cause);
}

static void
test_plan_bad_names(void **state)
{
	(void)state;
	refused("init.sql", "bad migration file name 'init.sql'");
	refused("002init.sql", "bad migration file name");
	refused("002_.sql", "bad migration file name");
	refused("002_x.txt", "bad migration file name");
	refused("002_x y.sql", "bad migration file name");
	refused("000_zero.sql", "bad migration file name");
	refused("_x.sql", "bad migration file name");
}

static void
test_plan_duplicate(void **state)
{
	(void)state;
	refused("001_again.sql", "same number 1");
	refused("1_short.sql", "same number 1");
}

static char **
split_ok(const char *sql, size_t want)
{
	char	**v = NULL, *cause = NULL;
	size_t	  n = 0;

	if (migrate_split(sql, &v, &n, &cause) != 0)
		fail_msg("split failed: %s", cause);
	assert_int_equal(n, want);
	return v;
}

static void
test_split_basic(void **state)
{
	char	**v;

	(void)state;
	v = split_ok("CREATE TABLE a (x INT);\n\n  CREATE TABLE b (y INT)\n",
	    2);
	assert_string_equal(v[0], "CREATE TABLE a (x INT)");
	assert_string_equal(v[1], "CREATE TABLE b (y INT)");
	migrate_free_stmts(v, 2);
}

static void
test_split_quotes(void **state)
{
	char	**v;

	(void)state;
	v = split_ok("INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);"
	    "INSERT INTO t VALUES ('it''s; ok', 'back\\'slash;');"
	    "SELECT '-- not a comment', '# nor this', '/* nor */'", 3);
	assert_string_equal(v[0],
	    "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)");
	assert_string_equal(v[1],
	    "INSERT INTO t VALUES ('it''s; ok', 'back\\'slash;')");
	assert_string_equal(v[2],
	    "SELECT '-- not a comment', '# nor this', '/* nor */'");
	migrate_free_stmts(v, 3);
}

static void
test_split_comments(void **state)
{
	char	**v;

	(void)state;
	v = split_ok("-- header; with a semicolon\n"
	    "# another; one\n"
	    "/* block ; comment\n over lines; */\n"
	    "CREATE TABLE a (x INT); -- trailing;\n"
	    "SELECT 1--1;\n"
	    "SELECT /* inline; */ 2;\n"
	    "-- last line without newline;", 3);
	assert_string_equal(v[0], "CREATE TABLE a (x INT)");
	assert_string_equal(v[1], "SELECT 1--1");
	assert_string_equal(v[2], "SELECT   2");
	migrate_free_stmts(v, 3);
}

static void
test_split_empty(void **state)
{
	char	**v;

	(void)state;
	v = split_ok(";;  ;\n-- only comments\n/* here */ ;\n", 0);
	migrate_free_stmts(v, 0);
	v = split_ok("", 0);
	migrate_free_stmts(v, 0);
	v = split_ok("SELECT 1;;;SELECT 2;", 2);
	assert_string_equal(v[1], "SELECT 2");
	migrate_free_stmts(v, 2);
}

static void
test_split_unterminated(void **state)
{
	char	**v = NULL, *cause = NULL;
	size_t	  n = 0;

	(void)state;
	assert_int_equal(migrate_split("SELECT 1;\nSELECT 'oops;\n", &v, &n,
	    &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "unterminated quoted string"));
	assert_non_null(strstr(cause, "line 2"));
	assert_null(v);
	free(cause);
	cause = NULL;
	assert_int_equal(migrate_split("SELECT 1; /* never closed", &v, &n,
	    &cause), -1);
	assert_non_null(strstr(cause, "unterminated comment"));
	free(cause);
}

/* The real schema must split cleanly, and into what we expect. */
static void
test_split_schema(void **state)
{
	char	**v = NULL, *cause = NULL;
	size_t	  n = 0, i;

	(void)state;
	assert_non_null(sql_files[0].name);
	for (i = 0; sql_files[i].name != NULL; i++) {
		if (migrate_split(sql_files[i].text, &v, &n, &cause) != 0)
			fail_msg("%s: %s", sql_files[i].name, cause);
		assert_true(n > 0);
		migrate_free_stmts(v, n);
	}
	assert_string_equal(sql_files[0].name, "001_init.sql");
	assert_int_equal(migrate_split(sql_files[0].text, &v, &n, &cause), 0);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++)
		assert_memory_equal(v[i], "CREATE TABLE", 12);
	migrate_free_stmts(v, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_sorts),
		cmocka_unit_test(test_plan_empty),
		cmocka_unit_test(test_plan_bad_names),
		cmocka_unit_test(test_plan_duplicate),
		cmocka_unit_test(test_split_basic),
		cmocka_unit_test(test_split_quotes),
		cmocka_unit_test(test_split_comments),
		cmocka_unit_test(test_split_empty),
		cmocka_unit_test(test_split_unterminated),
		cmocka_unit_test(test_split_schema),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
