/*
 * secret.c (account secrets at rest) and the discovery job's
 * protectable rules (job_discover.c).
 */
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

#include "disc.h"
#include "havend.h"
#include "secret.h"
#include "util.h"

/* job_discover.c reads the config of the process it runs in. */

static char	dir[] = "/tmp/haven-test-disc.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char	*cmd = xasprintf("rm -rf '%s'", dir);

	(void)state;
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	return 0;
}

static void
test_key_file(void **state)
{
	uint8_t		 k1[SECRET_KEYLEN], k2[SECRET_KEYLEN];
	struct stat	 st;
	char		*sd = xasprintf("%s/state", dir), *path, *cause = NULL;

	(void)state;
	assert_int_equal(secret_key_load(sd, 0, k1, &cause), -1);
	assert_non_null(strstr(cause, "is missing"));
	assert_int_equal(secret_key_load(sd, 1, k1, &cause), 0);
	path = xasprintf("%s/%s", sd, SECRET_KEYFILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SECRET_KEYLEN);
	/* Made once: a second load reads the same key. */
	assert_int_equal(secret_key_load(sd, 1, k2, &cause), 0);
	assert_memory_equal(k1, k2, SECRET_KEYLEN);
	/* A key others can read is refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(secret_key_load(sd, 0, k2, &cause), -1);
	assert_non_null(strstr(cause, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	free(cause);
	free(path);
	free(sd);
}

static void
test_roundtrip(void **state)
{
	uint8_t		 key[SECRET_KEYLEN];
	const char	*pw = "p@ss w0rd, with ünïcode";
	char		*a, *b, *plain, *cause = NULL;
	size_t		 len;

	(void)state;
	random_bytes(key, sizeof(key));
	assert_non_null(a = secret_seal(key, "vc", pw, strlen(pw), &cause));
	assert_non_null(b = secret_seal(key, "vc", pw, strlen(pw), &cause));
	assert_int_equal(strncmp(a, "hv1:", 4), 0);
	/* A fresh nonce each time, and no clear text in the sealed form. */
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "w0rd"));
	assert_non_null(plain = secret_open(key, "vc", a, &len, &cause));
	assert_string_equal(plain, pw);
	assert_int_equal(len, strlen(pw));
	secret_free(plain);
	free(a);
	free(b);
}

static void
test_refusals(void **state)
{
	uint8_t	 key[SECRET_KEYLEN], other[SECRET_KEYLEN];
	char	*s, *cause = NULL;
	size_t	 i;

	(void)state;
	random_bytes(key, sizeof(key));
	random_bytes(other, sizeof(other));
	assert_non_null(s = secret_seal(key, "vc", "secret", 6, &cause));
	/* Another account's name, another key. */
	assert_null(secret_open(key, "vc2", s, NULL, &cause));
	assert_non_null(strstr(cause, "does not decrypt"));
	assert_null(secret_open(other, "vc", s, NULL, &cause));
	/* Any changed character (of the whole groups of four: the last
	 * one's spare bits decode to the same bytes). */
	for (i = 4; i + 4 < strlen(s); i++) {
		char	c = s[i];

		s[i] = c == 'A' ? 'B' : 'A';
		assert_null(secret_open(key, "vc", s, NULL, &cause));
		s[i] = c;
	}
	assert_null(secret_open(key, "vc", "plain text", NULL, &cause));
	assert_null(secret_open(key, "vc", "hv1:AAAA", NULL, &cause));
	assert_null(secret_open(key, "vc", "hv1:!!!!", NULL, &cause));
	free(s);
	free(cause);
}

static void
test_encrypt_decrypt(void **state)
{
	char	*sd = xasprintf("%s/state2", dir), *s, *p, *cause = NULL;

	(void)state;
	assert_null(secret_decrypt(sd, "a", "hv1:AAAA", &cause));
	assert_non_null(s = secret_encrypt(sd, "a", "-----BEGIN KEY-----\n",
	    &cause));
	assert_non_null(p = secret_decrypt(sd, "a", s, &cause));
	assert_string_equal(p, "-----BEGIN KEY-----\n");
	secret_free(p);
	free(s);
	free(sd);
	free(cause);
}

/* protectable(VM JSON) -> NULL (yes) or a part of the reason. */
static void
check(const char *vm, const char *want)
{
	json_t	*j = json_loads(vm, 0, NULL);
	char	*why = NULL;
	int	 ok;

	assert_non_null(j);
	ok = job_discover_protectable(j, &why);
	if (want == NULL) {
		if (!ok)
			fail_msg("%s: not protectable: %s", vm, why);
	} else {
		if (ok)
			fail_msg("%s: protectable, wanted '%s'", vm, want);
		if (strstr(why, want) == NULL)
			fail_msg("%s: reason '%s', wanted '%s'", vm, why, want);
	}
	free(why);
	json_decref(j);
}

static void
test_protectable(void **state)
{
	(void)state;
	check("{\"power_state\": \"on\", \"guest_os\": \"Ubuntu Linux "
	    "(64-bit)\", \"disks\": [{\"capacity\": 10737418240}]}", NULL);
	check("{\"power_state\": \"on\", \"guest_id\": "
	    "\"http://debian.org/debian/12\", \"disks\": [{}]}", NULL);
	check("{\"power_state\": \"on\", \"guest_id\": \"rhel8_64Guest\", "
	    "\"guest_os\": null, \"disks\": [{\"capacity\": 4398046511104}]}",
	    NULL);
	check("{\"power_state\": \"off\", \"guest_os\": \"CentOS 7\", "
	    "\"disks\": [{}]}", "it is powered off");
	check("{\"power_state\": \"suspended\", \"guest_os\": \"CentOS 7\", "
	    "\"disks\": [{}]}", "it is suspended");
	check("{\"power_state\": \"on\", \"guest_os\": \"Microsoft Windows "
	    "Server 2022 (64-bit)\", \"disks\": [{}]}",
	    "its guest OS (Microsoft Windows Server 2022 (64-bit)) is not "
	    "Linux");
	check("{\"power_state\": \"on\", \"disks\": [{}]}",
	    "its guest OS is not known");
	check("{\"power_state\": \"on\", \"guest_os\": \"SUSE\", "
	    "\"disks\": []}", "it has no disks");
	check("{\"power_state\": \"on\", \"guest_os\": \"SUSE\", \"disks\": "
	    "[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]}",
	    "it has 17 disks, more than 16");
	check("{\"power_state\": \"on\", \"guest_os\": \"SUSE\", \"disks\": "
	    "[{\"label\": \"sdb\", \"capacity\": 5497558138880}]}",
	    "disk sdb is 5.0 TiB, over 4 TiB");
	check("{\"power_state\": \"on\", \"guest_os\": \"Debian\", "
	    "\"template\": true, \"disks\": [{}]}", "it is a template");
	/* Every reason, in one sentence. */
	check("{\"power_state\": \"off\", \"guest_os\": \"otherGuest\", "
	    "\"disks\": [{}]}",
	    "it is powered off; its guest OS (otherGuest) is not Linux");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_encrypt_decrypt),
		cmocka_unit_test(test_protectable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
