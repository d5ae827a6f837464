/*
 * What havenctl prints (ctlfmt.c) and what haven-agent reports
 * (inventory.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <cmocka.h>

#include <jansson.h>

#include "ctlfmt.h"
#include "inventory.h"
#include "util.h"

/* Run a formatter into a string. */
#define CAPTURE(out, call) do {						\
	char	*buf_ = NULL;						\
	size_t	 len_ = 0;						\
	FILE	*f = open_memstream(&buf_, &len_);			\
	assert_non_null(f);						\
	call;								\
	fclose(f);							\
	(out) = buf_;							\
} while (0)

static json_t *
load(const char *text)
{
	json_error_t	 e;
	json_t		*j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("fixture: %s", e.text);
	return j;
}

static const char status_fixture[] =
    "{\"version\": \"0.1.0\", \"roles\": [\"cs\", \"ps\", \"mt\"],"
    " \"started_at\": \"2026-11-22T04:52:42Z\", \"uptime_s\": 7380,"
    " \"listen_address\": \"127.0.0.1\","
    " \"ports\": {\"control\": 443, \"admin\": 44315, \"data\": 9443},"
    " \"certificate\": {\"subject\": \"CN=haven.example\","
    "   \"not_after\": \"2029-11-21T04:52:42Z\", \"days_left\": 1095,"
    "   \"warning\": null},"
    " \"ca\": {\"subject\": \"Haven site CA\","
    "   \"not_after\": \"2027-01-01T00:00:00Z\", \"days_left\": 40,"
    "   \"warning\": \"the site CA expires in 40 days\"},"
    " \"database\": {\"state\": \"up\", \"host\": \"127.0.0.1\","
    "   \"port\": 3306, \"name\": \"haven\", \"schema_version\": 1,"
    "   \"error\": null, \"since\": \"2026-11-22T04:52:43Z\"},"
    " \"workers\": [{\"slot\": 0, \"kind\": \"control\", \"pid\": 1234,"
    "   \"restarts\": 0, \"state\": \"running\", \"last_exit\": null},"
    "  {\"slot\": 1, \"kind\": \"shard\", \"pid\": 1240, \"restarts\": 2,"
    "   \"state\": \"running\", \"last_exit\": \"signal 9\"}],"
    " \"machines\": {\"total\": 3, \"connected\": 2, \"disconnected\": 1,"
    "   \"revoked\": 0}}";

static void
test_status(void **state)
{
	json_t	*st = load(status_fixture);
	char	*out;

	(void)state;
	CAPTURE(out, ctlfmt_status(f, st));
	assert_string_equal(out,
	    "Haven 0.1.0  roles: cs ps mt   up 2h 3m "
	    "(since 2026-11-22T04:52:42Z)\n"
	    "listening 127.0.0.1  control 443  admin 44315  data 9443\n"
	    "certificate  haven.example  expires 2029-11-21 (1095 days)\n"
	    "ca           Haven site CA  expires 2027-01-01 (40 days)"
	    "   WARNING: the site CA expires in 40 days\n"
	    "database     up  127.0.0.1:3306/haven  schema 1\n"
	    "machines     3 total: 2 connected, 1 disconnected, 0 revoked\n"
	    "workers      SLOT  KIND     PID   STATE    RESTARTS  LAST EXIT\n"
	    "             0     control  1234  running  0         -\n"
	    "             1     shard    1240  running  2         signal 9\n");
	free(out);
	json_decref(st);
}

static void
test_status_database_down(void **state)
{
	json_t	*st = load("{\"database\": {\"state\": \"down\","
	    " \"host\": \"db\", \"port\": 3306, \"name\": \"haven\","
	    " \"schema_version\": null, \"since\": \"2026-11-22T05:00:00Z\","
	    " \"error\": \"Can't connect to server on 'db' (111)\"},"
	    " \"certificate\": {\"subject\": \"CN=x\", \"days_left\": -3,"
	    " \"not_after\": 1700000000}}");
	char	*out;

	(void)state;
	CAPTURE(out, ctlfmt_status(f, st));
	assert_non_null(strstr(out, "database     down  db:3306/haven  "
	    "schema -  since 2026-11-22T05:00:00Z\n"
	    "             error: Can't connect to server on 'db' (111)\n"));
	assert_non_null(strstr(out, "certificate  x  EXPIRED 2023-11-14 "
	    "(3 days ago)\n"));
	free(out);
	json_decref(st);
}

/* An older or newer daemon: nothing missing may crash or vanish. */
static void
test_status_empty(void **state)
{
	json_t	*st = json_object();
	char	*out;

	(void)state;
	CAPTURE(out, ctlfmt_status(f, st));
	assert_string_equal(out,
	    "Haven -  roles: -   since -\n"
	    "listening -  control -  admin -  data -\n"
	    "certificate  -\n"
	    "ca           -\n"
	    "database     -\n"
	    "machines     -\n"
	    "workers      none\n");
	free(out);
	json_decref(st);
}

static void
test_machines(void **state)
{
	json_t	*m = load("{\"machines\": ["
	    "{\"id\": \"0b7f\", \"hostname\": \"db1.example\", \"role\": "
	    "\"agent\", \"status\": \"connected\", \"last_heartbeat\": "
	    "\"2026-11-22T05:00:00Z\", \"address\": \"192.0.2.7\"},"
	    "{\"id\": \"91aa\", \"hostname\": \"web\", \"role\": \"agent\","
	    " \"status\": \"enrolled\", \"last_heartbeat\": null,"
	    " \"address\": null}]}");
	char	*out;
	int64_t	 now = 1795323675;	/* 2026-11-22T05:01:15Z */

	(void)state;
	CAPTURE(out, ctlfmt_machines(f, m, now));
	assert_string_equal(out,
	    "ID    HOSTNAME     ROLE   STATUS     LAST-HEARTBEAT  ADDRESS\n"
	    "0b7f  db1.example  agent  connected  1m 15s ago      192.0.2.7\n"
	    "91aa  web          agent  enrolled   -               -\n");
	free(out);
	json_decref(m);
}

static void
test_duration(void **state)
{
	static const struct {
		int64_t		 s;
		const char	*want;
	} cases[] = {
		{ -5, "0s" }, { 0, "0s" }, { 59, "59s" }, { 60, "1m 0s" },
		{ 3599, "59m 59s" }, { 3600, "1h 0m" }, { 7380, "2h 3m" },
		{ 86400, "1d 0h" }, { 90061, "1d 1h" },
	};
	char	buf[32];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		ctlfmt_duration(cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static char *
write_tmp(const char *text)
{
	char	*path = xstrdup("/tmp/test_ctl.XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_inventory_os(void **state)
{
	static const struct {
		const char	*file;
		const char	*want;
	} cases[] = {
		{ "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux "
		  "12 (bookworm)\"\nID=debian\n",
		  "Debian GNU/Linux 12 (bookworm)" },
		{ "PRETTY_NAME='Alpine Linux v3.19'\n", "Alpine Linux v3.19" },
		{ "PRETTY_NAME=Gentoo\n", "Gentoo" },
		{ "PRETTY_NAME=\"say \\\"hi\\\"\"\n", "say \"hi\"" },
		{ "NAME=Fedora\nVERSION=\"39 (Server Edition)\"\n",
		  "Fedora 39 (Server Edition)" },
		{ "ID=none\n", "Linux" },
	};
	char	*path, *os;
	size_t	 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		path = write_tmp(cases[i].file);
		os = inventory_os(path);
		assert_string_equal(os, cases[i].want);
		free(os);
		unlink(path);
		free(path);
	}
	os = inventory_os("/nonexistent/os-release");
	assert_string_equal(os, "Linux");
	free(os);
}

static void
test_inventory_gather(void **state)
{
	struct utsname	 u;
	json_t		*inv, *disks, *d;
	const char	*names[3];
	char		 host[256], *img;
	int		 fd;

	(void)state;
	img = xstrdup("/tmp/test_ctl_disk.XXXXXX");
	assert_true((fd = mkstemp(img)) != -1);
	assert_int_equal(ftruncate(fd, 12345), 0);
	close(fd);
	names[0] = img;
	names[1] = "/nonexistent/disk";
	names[2] = "/dev/null";

	inv = inventory_gather(names, 3);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(json_string_value(json_object_get(inv,
	    "hostname")), host);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(json_string_value(json_object_get(inv,
	    "kernel")), u.release);
	assert_string_equal(json_string_value(json_object_get(inv,
	    "agent_version")), HAVEN_VERSION);
	assert_non_null(json_string_value(json_object_get(inv, "os")));
	/* Loopback at least, when there is nothing else. */
	assert_true(json_array_size(json_object_get(inv, "addresses")) >= 1);
	assert_true(json_is_string(json_array_get(json_object_get(inv,
	    "addresses"), 0)));

	disks = json_object_get(inv, "disks");
	assert_int_equal(json_array_size(disks), 3);
	d = json_array_get(disks, 0);
	assert_string_equal(json_string_value(json_object_get(d, "name")),
	    img);
	assert_int_equal(json_integer_value(json_object_get(d, "size")),
	    12345);
	d = json_array_get(disks, 1);
	assert_true(json_is_null(json_object_get(d, "size")));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")),
	    "/nonexistent/disk"));
	d = json_array_get(disks, 2);
	assert_true(json_is_null(json_object_get(d, "size")));
	assert_non_null(strstr(json_string_value(json_object_get(d, "error")),
	    "neither a block device nor a regular file"));
	json_decref(inv);
	unlink(img);
	free(img);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_database_down),
		cmocka_unit_test(test_status_empty),
		cmocka_unit_test(test_machines),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_inventory_os),
		cmocka_unit_test(test_inventory_gather),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
