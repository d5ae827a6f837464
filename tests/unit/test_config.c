/* config.c (the table-driven parser) and havend's conf.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "config.h"
#include "conf.h"
#include "util.h"

struct tconf {
	long long		 count;
	int			 verbose;
	char			*name;
	char			*dir;
	long long		 port;
	long long		 size;
	char			*level;
	struct conf_list	 tags;
	struct conf_list	 colors;
	char			*secret;
};

static const char *const levels[] = { "low", "mid", "high", NULL };
static const char *const colors[] = { "red", "green", "blue", NULL };

#define T(f)	offsetof(struct tconf, f)
static const struct conf_key tkeys[] = {
	{ "count", CONF_INT, "7", 0, 100, 0, NULL, T(count), "A count." },
	{ "verbose", CONF_BOOL, "no", 0, 0, CONF_RELOAD, NULL, T(verbose),
	    "Chatty." },
	{ "name", CONF_STR, "anon", 0, 0, 0, NULL, T(name), "A name." },
	{ "dir", CONF_PATH, "/var/tmp", 0, 0, 0, NULL, T(dir), "A dir." },
	{ "port", CONF_PORT, "8080", 1024, 0, 0, NULL, T(port), "A port." },
	{ "size", CONF_SIZE, "4k", 1024, 64 << 20, CONF_RELOAD, NULL, T(size),
	    "A size." },
	{ "level", CONF_ENUM, "mid", 0, 0, 0, levels, T(level), "A level." },
	{ "tags", CONF_LIST, NULL, 0, 0, 0, NULL, T(tags), "Tags." },
	{ "colors", CONF_LIST, "red", 0, 0, 0, colors, T(colors), "Colors." },
	{ "secret", CONF_PATH, NULL, 0, 0, CONF_SECRET, NULL, T(secret),
	    "A secret file." },
	{ NULL }
};

struct rconf {
	char		*must;
	long long	 n;
};
static const struct conf_key rkeys[] = {
	{ "must", CONF_STR, NULL, 0, 0, CONF_REQUIRED, NULL,
	    offsetof(struct rconf, must), "Must be set." },
	{ "n", CONF_INT, "1", 0, 0, 0, NULL, offsetof(struct rconf, n), "N." },
	{ NULL }
};

/* A file under /tmp with mode; the caller unlinks and frees the path. */
static char *
temp_file(const char *text, mode_t mode)
{
	char	*path = xstrdup("/tmp/haven-test-XXXXXX");
	int	 fd;

	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* The error on line whose message holds want; fails the test if none. */
static const char *
find_error(const struct conf_errors *errs, int line, const char *want)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		if (errs->v[i].line == line &&
		    strstr(errs->v[i].msg, want) != NULL)
			return errs->v[i].msg;
	for (i = 0; i < errs->n; i++)
		print_error("  line %d: %s\n", errs->v[i].line, errs->v[i].msg);
	fail_msg("no error on line %d holding \"%s\"", line, want);
	return NULL;
}

/* Parse text with tkeys expecting exactly one error, on line. */
static void
one_error(const char *text, int line, const char *want)
{
	struct tconf		c;
	struct conf_errors	e = { NULL, 0 };

	assert_int_equal(conf_parse(tkeys, &c, text, "t.conf", &e), 1);
	find_error(&e, line, want);
	conf_errors_free(&e);
	conf_free(tkeys, &c);
}

static void
test_good(void **state)
{
	struct tconf		c;
	struct conf_errors	e = { NULL, 0 };
	const char		*text =
	    "# a comment\n"
	    "\n"
	    "   count   =   42   \n"
	    "verbose = On  # trailing comment\n"
	    "name = \"two # words\"   # quoted keeps '#'\n"
	    "\tdir=/srv/a#b\n"
	    "port = 65535\r\n"
	    "size = 2M\n"
	    "level = HIGH\n"
	    "tags = a, b  c,,d a\n"
	    "colors = blue green";

	(void)state;
	assert_int_equal(conf_parse(tkeys, &c, text, "t.conf", &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(c.count, 42);
	assert_int_equal(c.verbose, 1);
	assert_string_equal(c.name, "two # words");
	assert_string_equal(c.dir, "/srv/a#b");
	assert_int_equal(c.port, 65535);
	assert_int_equal(c.size, 2 << 20);
	assert_string_equal(c.level, "high");	/* the table's spelling */
	assert_int_equal(c.tags.n, 4);		/* "a" only once */
	assert_string_equal(c.tags.v[0], "a");
	assert_string_equal(c.tags.v[3], "d");
	assert_int_equal(c.colors.n, 2);
	assert_true(conf_list_has(&c.colors, "green"));
	assert_false(conf_list_has(&c.colors, "red"));
	assert_null(c.secret);
	conf_free(tkeys, &c);
	assert_null(c.name);
	assert_null(c.tags.v);
	assert_int_equal(c.tags.n, 0);
	assert_int_equal(c.count, 0);
}

static void
test_defaults(void **state)
{
	struct tconf		c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(conf_parse(tkeys, &c, "", "t.conf", &e), 0);
	assert_int_equal(c.count, 7);
	assert_int_equal(c.verbose, 0);
	assert_string_equal(c.name, "anon");
	assert_string_equal(c.dir, "/var/tmp");
	assert_int_equal(c.port, 8080);
	assert_int_equal(c.size, 4096);
	assert_string_equal(c.level, "mid");
	assert_int_equal(c.tags.n, 0);
	assert_int_equal(c.colors.n, 1);
	assert_string_equal(c.colors.v[0], "red");
	conf_free(tkeys, &c);

	/* An empty value unsets a string or a list. */
	assert_int_equal(conf_parse(tkeys, &c, "name =\ncolors = \"\"\n",
	    "t.conf", &e), 0);
	assert_null(c.name);
	assert_int_equal(c.colors.n, 0);
	conf_free(tkeys, &c);
}

static void
test_bool(void **state)
{
	static const struct {
		const char	*text;
		int		 want;
	} cases[] = {
		{ "verbose = yes", 1 }, { "verbose = no", 0 },
		{ "verbose = true", 1 }, { "verbose = FALSE", 0 },
		{ "verbose = on", 1 }, { "verbose = off", 0 },
		{ "verbose = 1", 1 }, { "verbose = 0", 0 },
	};
	struct tconf		c;
	struct conf_errors	e = { NULL, 0 };
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		assert_int_equal(conf_parse(tkeys, &c, cases[i].text, "t",
		    &e), 0);
		assert_int_equal(c.verbose, cases[i].want);
		conf_free(tkeys, &c);
	}
	one_error("verbose = maybe", 1,
	    "verbose: 'maybe' is not one of: yes, no, true, false, on, off");
}

static void
test_unknown_key(void **state)
{
	struct tconf		 c;
	struct conf_errors	 e = { NULL, 0 };
	const char		*msg;

	(void)state;
	one_error("count = 1\ncuont = 2\n", 2,
	    "unknown key 'cuont' (did you mean 'count'?)");
	one_error("\n\n\nverbsoe = yes\n", 4,
	    "unknown key 'verbsoe' (did you mean 'verbose'?)");

	/* Nothing close: no suggestion, but the known keys. */
	assert_int_equal(conf_parse(tkeys, &c, "flamingo = 3", "t", &e), 1);
	msg = find_error(&e, 1, "unknown key 'flamingo'");
	assert_null(strstr(msg, "did you mean"));
	assert_non_null(strstr(msg, "count, verbose, name"));
	conf_errors_free(&e);
	conf_free(tkeys, &c);
}

static void
test_out_of_range(void **state)
{
	(void)state;
	one_error("count = 101", 1, "count: 101 is out of range (0..100)");
	one_error("count = -1", 1, "count: -1 is out of range (0..100)");
	one_error("port = 80", 1, "port: 80 is out of range (1024..65535)");
	one_error("port = 70000", 1,
	    "port: 70000 is out of range (1024..65535)");
	one_error("size = 512", 1, "size: 512 is out of range (1k..64m)");
	one_error("size = 65m", 1, "size: 65m is out of range (1k..64m)");
	one_error("count = 99999999999999999999999", 1,
	    "count: 99999999999999999999999 is out of range (0..100)");
	one_error("size = 9999999999999g", 1, "is out of range (1k..64m)");
}

static void
test_not_a_number(void **state)
{
	(void)state;
	one_error("count = abc", 1, "count: 'abc' is not a whole number");
	one_error("count = 1.5", 1, "count: '1.5' is not a whole number");
	one_error("count = 12abc", 1, "count: '12abc' is not a whole number");
	one_error("count = 0x10", 1, "count: '0x10' is not a whole number");
	one_error("count =", 1, "count: '' is not a whole number");
	one_error("port = http", 1, "port: 'http' is not a whole number");
	one_error("size = 4x", 1, "size: '4x' is not a size");
	one_error("size = -4k", 1, "size: '-4k' is not a size");
	one_error("size = k", 1, "size: 'k' is not a size");
}

static void
test_bad_enum(void **state)
{
	(void)state;
	one_error("level = loud", 1,
	    "level: 'loud' is not one of: low, mid, high");
	one_error("level =", 1, "level: '' is not one of: low, mid, high");
}

static void
test_bad_list_item(void **state)
{
	(void)state;
	one_error("colors = red, mauve blue", 1,
	    "colors: 'mauve' is not one of: red, green, blue");
}

static void
test_duplicate(void **state)
{
	(void)state;
	one_error("port = 2000\n# c\ncount = 3\nport = 3000\n", 4,
	    "port is already set on line 1");
}

static void
test_syntax(void **state)
{
	(void)state;
	one_error("count = 1\nthis line has no equals\n", 2,
	    "missing '=' (expected key = value)");
	one_error("count # = 1\n", 1, "missing '='");
	one_error(" = 5\n", 1, "missing key before '='");
	one_error("name = \"open\n", 1, "name: unterminated quote");
	one_error("name = \"a\" b\n", 1,
	    "name: unexpected text 'b' after the closing quote");
}

static void
test_relative_path(void **state)
{
	(void)state;
	one_error("dir = srv/data", 1,
	    "dir: 'srv/data' is not an absolute path (it must start with '/')");
}

static void
test_required(void **state)
{
	struct rconf		c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(conf_parse(rkeys, &c, "n = 2\n", "r.conf", &e), 1);
	find_error(&e, 0, "missing required key 'must'");
	assert_int_equal(c.n, 2);
	conf_errors_free(&e);
	conf_free(rkeys, &c);

	assert_int_equal(conf_parse(rkeys, &c, "must =\n", "r.conf", &e), 1);
	find_error(&e, 1, "must: a value is required");
	conf_errors_free(&e);
	conf_free(rkeys, &c);

	assert_int_equal(conf_parse(rkeys, &c, "must = x\n", "r.conf", &e), 0);
	assert_string_equal(c.must, "x");
	assert_int_equal(c.n, 1);
	conf_free(rkeys, &c);
}

static void
test_secret(void **state)
{
	struct tconf		 c;
	struct conf_errors	 e = { NULL, 0 };
	char			*open_path, *priv, *text, *missing;
	const char		*msg;

	(void)state;
	open_path = temp_file("pw\n", 0644);
	priv = temp_file("pw\n", 0600);

	text = xasprintf("count = 1\nsecret = %s\n", open_path);
	assert_int_equal(conf_parse(tkeys, &c, text, "t", &e), 1);
	msg = find_error(&e, 2, "secret: ");
	assert_non_null(strstr(msg, open_path));
	assert_non_null(strstr(msg, "chmod 600"));
	conf_errors_free(&e);
	conf_free(tkeys, &c);
	free(text);

	text = xasprintf("secret = %s\n", priv);
	assert_int_equal(conf_parse(tkeys, &c, text, "t", &e), 0);
	assert_string_equal(c.secret, priv);
	conf_free(tkeys, &c);
	free(text);

	missing = xasprintf("%s.gone", priv);
	text = xasprintf("\nsecret = %s\n", missing);
	assert_int_equal(conf_parse(tkeys, &c, text, "t", &e), 1);
	msg = find_error(&e, 2, "does not exist");
	assert_non_null(strstr(msg, missing));
	conf_errors_free(&e);
	conf_free(tkeys, &c);
	free(text);

	/* A refused path is not also checked as a secret. */
	one_error("secret = relative/pw", 1, "not an absolute path");

	unlink(open_path);
	unlink(priv);
	free(open_path);
	free(priv);
	free(missing);
}

static void
test_many_errors(void **state)
{
	struct tconf		 c;
	struct conf_errors	 e = { NULL, 0 };
	const char		*text =
	    "count = 5\n"		/* 1 ok */
	    "port = 1\n"		/* 2 range */
	    "# fine\n"			/* 3 */
	    "levle = high\n"		/* 4 unknown */
	    "size = 10q\n"		/* 5 size */
	    "count = 6\n"		/* 6 duplicate */
	    "oops\n"			/* 7 no '=' */
	    "level = mid\n"		/* 8 ok */
	    "dir = x\n";		/* 9 relative */

	(void)state;
	assert_int_equal(conf_parse(tkeys, &c, text, "t", &e), 6);
	find_error(&e, 2, "port: 1 is out of range");
	find_error(&e, 4, "did you mean 'level'?");
	find_error(&e, 5, "size: '10q' is not a size");
	find_error(&e, 6, "count is already set on line 1");
	find_error(&e, 7, "missing '='");
	find_error(&e, 9, "dir: 'x' is not an absolute path");
	/* Good lines still apply; refused ones keep the default. */
	assert_int_equal(c.count, 5);
	assert_int_equal(c.port, 8080);
	assert_string_equal(c.dir, "/var/tmp");
	conf_free(tkeys, &c);

	/* A second parse appends and counts only its own errors. */
	assert_int_equal(conf_parse(tkeys, &c, "x = 1\n", "t", &e), 1);
	assert_int_equal(e.n, 7);
	conf_errors_free(&e);
	assert_int_equal(e.n, 0);
	assert_null(e.v);
	conf_free(tkeys, &c);
}

static void
test_load(void **state)
{
	struct tconf		 c;
	struct conf_errors	 e = { NULL, 0 };
	char			*path, *gone;

	(void)state;
	path = temp_file("count = 9\nport = 0\n", 0644);
	assert_int_equal(conf_load(tkeys, &c, path, &e), 1);
	find_error(&e, 2, "port: 0 is out of range");
	assert_int_equal(c.count, 9);
	conf_errors_free(&e);
	conf_free(tkeys, &c);

	gone = xasprintf("%s.gone", path);
	assert_int_equal(conf_load(tkeys, &c, gone, &e), 1);
	find_error(&e, 0, gone);
	assert_int_equal(c.count, 7);	/* defaults still applied */
	conf_errors_free(&e);
	conf_free(tkeys, &c);

	unlink(path);
	free(path);
	free(gone);
}

static void
test_differs(void **state)
{
	struct tconf		a, b;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(conf_parse(tkeys, &a, "count = 1\ntags = x y", "a",
	    &e), 0);
	assert_int_equal(conf_parse(tkeys, &b, "count = 1\ntags = x z\n"
	    "name = other", "b", &e), 0);
	assert_false(conf_differs(conf_find(tkeys, "count"), &a, &b));
	assert_true(conf_differs(conf_find(tkeys, "tags"), &a, &b));
	assert_true(conf_differs(conf_find(tkeys, "name"), &a, &b));
	assert_false(conf_differs(conf_find(tkeys, "secret"), &a, &b));
	assert_false(conf_differs(conf_find(tkeys, "level"), &a, &b));
	assert_null(conf_find(tkeys, "nope"));
	conf_free(tkeys, &a);
	conf_free(tkeys, &b);
}

static void
test_print_and_help(void **state)
{
	struct conf_errors	 e = { NULL, 0 };
	char			*out = NULL;
	size_t			 len = 0;
	FILE			*fp;

	(void)state;
	conf_error_add(&e, 7, "data_port: %d is out of range", 70000);
	conf_error_add(&e, 0, "file-wide");
	assert_non_null(fp = open_memstream(&out, &len));
	conf_errors_print(&e, "/etc/haven/havend.conf", fp);
	fclose(fp);
	assert_string_equal(out, "/etc/haven/havend.conf:7: data_port: 70000 "
	    "is out of range\n/etc/haven/havend.conf: file-wide\n");
	free(out);
	conf_errors_free(&e);

	out = NULL;
	assert_non_null(fp = open_memstream(&out, &len));
	conf_help(haven_conf_keys, fp);
	fclose(fp);
	assert_non_null(strstr(out, "data_port = 9443\n\tport 1..65535; "
	    "takes effect on restart\n"));
	assert_non_null(strstr(out, "max_body = 1m\n\tsize 1k..64m"));
	assert_non_null(strstr(out, "log_level = info\n\tone of: error, "
	    "warning, info, debug; reloaded on SIGHUP\n"));
	assert_non_null(strstr(out, "db_socket (not set by default)"));
	assert_non_null(strstr(out, "0 = one per CPU core"));
	free(out);
}

/* havend.conf */

static char *secret_path;

static int
setup_secret(void **state)
{
	(void)state;
	secret_path = temp_file("dbpass\n", 0600);
	return 0;
}

static int
teardown_secret(void **state)
{
	(void)state;
	unlink(secret_path);
	free(secret_path);
	return 0;
}

/* Load extra as a havend.conf whose line 1 names the secret file. */
static int
haven_load_with(const char *secret, const char *extra, struct haven_conf *c,
    struct conf_errors *e)
{
	char	*text, *path;
	int	 n;

	text = xasprintf("db_password_file = %s\n%s", secret, extra);
	path = temp_file(text, 0644);
	n = haven_conf_load(path, c, e);
	unlink(path);
	free(path);
	free(text);
	return n;
}

static int
haven_load(const char *extra, struct haven_conf *c, struct conf_errors *e)
{
	return haven_load_with(secret_path, extra, c, e);
}

static void
test_haven_defaults(void **state)
{
	struct haven_conf	c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(haven_load("", &c, &e), 0);
	assert_int_equal(c.roles.n, 3);
	assert_int_equal(c.role_mask, ROLE_CS | ROLE_PS | ROLE_MT);
	assert_string_equal(c.listen_address, "0.0.0.0");
	assert_int_equal(c.control_port, 443);
	assert_int_equal(c.admin_port, 44315);
	assert_int_equal(c.data_port, 9443);
	assert_string_equal(c.state_dir, "/var/lib/haven");
	assert_string_equal(c.cache_dir, "/var/lib/haven/cache");
	assert_string_equal(c.retention_dir, "/var/lib/haven/retention");
	assert_string_equal(c.socket_path, "/run/haven/havend.sock");
	assert_int_equal(c.shards, 0);
	assert_int_equal(c.server_names.n, 0);
	assert_int_equal(c.cert_days, 1095);
	assert_string_equal(c.db_host, "127.0.0.1");
	assert_int_equal(c.db_port, 3306);
	assert_null(c.db_socket);
	assert_string_equal(c.db_name, "haven");
	assert_string_equal(c.db_user, "haven");
	assert_string_equal(c.db_password_file, secret_path);
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.heartbeat_interval, 30);
	assert_int_equal(c.max_connections, 1024);
	assert_int_equal(c.max_body, 1 << 20);
	assert_int_equal(c.max_header, 16 << 10);
	assert_int_equal(c.request_timeout, 60);
	assert_int_equal(c.enroll_failures, 5);
	haven_conf_free(&c);
	assert_null(c.listen_address);
	assert_int_equal(c.role_mask, 0);
}

static void
test_haven_values(void **state)
{
	struct haven_conf	c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(haven_load("roles = vault\n"
	    "server_names = haven.example.org, 10.0.0.5\n"
	    "control_port = 18443\nadmin_port = 18444\ndata_port = 18445\n"
	    "shards = 4\nlog_level = debug\nmax_body = 8m\n", &c, &e), 0);
	assert_int_equal(c.role_mask, ROLE_VAULT);
	assert_int_equal(c.server_names.n, 2);
	assert_string_equal(c.server_names.v[1], "10.0.0.5");
	assert_int_equal(c.data_port, 18445);
	assert_int_equal(c.shards, 4);
	assert_int_equal(c.max_body, 8 << 20);
	haven_conf_free(&c);

	assert_int_equal(haven_load("roles = ps mt\n", &c, &e), 0);
	assert_int_equal(c.role_mask, ROLE_PS | ROLE_MT);
	haven_conf_free(&c);

	assert_int_equal(haven_load("roles = cs,ps,mt,vault\n", &c, &e), 0);
	assert_int_equal(c.role_mask, ROLE_CS | ROLE_PS | ROLE_MT | ROLE_VAULT);
	haven_conf_free(&c);
}

static void
test_haven_data_port_443(void **state)
{
	struct haven_conf	c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	/* Also equal to control_port, but said once, in the clearer way. */
	assert_int_equal(haven_load("data_port = 443\n", &c, &e), 1);
	find_error(&e, 2, "data_port: 443 is reserved for the control port "
	    "(agents reach the configuration server on it); use 9443");
	conf_errors_free(&e);
	haven_conf_free(&c);

	assert_int_equal(haven_load("control_port = 8443\ndata_port = 443\n",
	    &c, &e), 1);
	find_error(&e, 3, "data_port: 443 is reserved");
	conf_errors_free(&e);
	haven_conf_free(&c);
}

static void
test_haven_port_clash(void **state)
{
	struct haven_conf	c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(haven_load("admin_port = 9443\n", &c, &e), 1);
	find_error(&e, 2, "admin_port and data_port are both 9443");
	conf_errors_free(&e);
	haven_conf_free(&c);

	assert_int_equal(haven_load("control_port = 5000\nadmin_port = 5000\n"
	    "data_port = 5000\n", &c, &e), 3);
	find_error(&e, 3, "control_port and admin_port are both 5000");
	find_error(&e, 4, "control_port and data_port are both 5000");
	find_error(&e, 4, "admin_port and data_port are both 5000");
	conf_errors_free(&e);
	haven_conf_free(&c);
}

static void
test_haven_roles(void **state)
{
	struct haven_conf	c;
	struct conf_errors	e = { NULL, 0 };

	(void)state;
	assert_int_equal(haven_load("roles =\n", &c, &e), 1);
	find_error(&e, 0, "roles: no role is enabled");
	conf_errors_free(&e);
	haven_conf_free(&c);

	assert_int_equal(haven_load("roles = cs agent\n", &c, &e), 1);
	find_error(&e, 2, "roles: 'agent' is not one of: cs, ps, mt, vault");
	conf_errors_free(&e);
	haven_conf_free(&c);
}

static void
test_haven_file_errors(void **state)
{
	struct haven_conf	 c;
	struct conf_errors	 e = { NULL, 0 };
	char			*text, *open_path;

	(void)state;
	/* Line numbers count the db_password_file line haven_load adds. */
	assert_int_equal(haven_load("data_prot = 9000\n"
	    "heartbeat_interval = 0\nlog_level = loud\n", &c, &e), 3);
	find_error(&e, 2, "unknown key 'data_prot' (did you mean "
	    "'data_port'?)");
	find_error(&e, 3, "heartbeat_interval: 0 is out of range (1..3600)");
	find_error(&e, 4, "log_level: 'loud' is not one of: error, warning, "
	    "info, debug");
	conf_errors_free(&e);
	haven_conf_free(&c);

	text = xasprintf("db_password_file = %s\n", secret_path);
	assert_int_equal(haven_load(text, &c, &e), 1);
	find_error(&e, 2, "db_password_file is already set on line 1");
	conf_errors_free(&e);
	haven_conf_free(&c);
	free(text);

	open_path = temp_file("pw\n", 0644);
	assert_int_equal(haven_load_with(open_path, "", &c, &e), 1);
	find_error(&e, 1, "chmod 600");
	conf_errors_free(&e);
	haven_conf_free(&c);
	unlink(open_path);
	free(open_path);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_not_a_number),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_bad_list_item),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_relative_path),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_differs),
		cmocka_unit_test(test_print_and_help),
		cmocka_unit_test(test_haven_defaults),
		cmocka_unit_test(test_haven_values),
		cmocka_unit_test(test_haven_data_port_443),
		cmocka_unit_test(test_haven_port_clash),
		cmocka_unit_test(test_haven_roles),
		cmocka_unit_test(test_haven_file_errors),
	};

	return cmocka_run_group_tests(tests, setup_secret, teardown_secret);
}
