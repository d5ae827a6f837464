/*
 * One-time enrollment tokens' text form (src/common/token.c): what is
 * made parses back, anything else is refused, the id travels in an
 * HTTP Basic header, and the proof key is the passphrase's derivation
 * of the whole token (docs/enrollment.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "enrollc.h"
#include "tls.h"
#include "token.h"
#include "util.h"

static void
test_generate_parse(void **state)
{
	char	 id[TOKEN_ID_HEX + 1], tok[TOKEN_LEN + 1];
	char	 id2[TOKEN_ID_HEX + 1], tok2[TOKEN_LEN + 1];
	char	 got[TOKEN_ID_HEX + 1], buf[TOKEN_LEN + 8];

	(void)state;
	token_generate(id, tok);
	assert_int_equal(strlen(tok), TOKEN_LEN);
	assert_int_equal(strlen(id), TOKEN_ID_HEX);
	assert_true(strncmp(tok, "hvt1.", 5) == 0);
	assert_memory_equal(tok + 5, id, TOKEN_ID_HEX);
	assert_true(token_id_ok(id));
	assert_int_equal(token_parse(tok, strlen(tok), got), 0);
	assert_string_equal(got, id);
	/* A file's trailing newline (or CRLF) is not part of it. */
	snprintf(buf, sizeof(buf), "%s\r\n", tok);
	assert_int_equal(token_parse(buf, strlen(buf), got), 0);
	assert_string_equal(got, id);
	/* Two tokens differ in id and secret. */
	token_generate(id2, tok2);
	assert_string_not_equal(id, id2);
	assert_true(memcmp(tok + 22, tok2 + 22, TOKEN_SECRET_HEX) != 0);
}

static void
test_parse_refuses(void **state)
{
	char		 id[TOKEN_ID_HEX + 1], tok[TOKEN_LEN + 1];
	char		 bad[TOKEN_LEN + 8];
	const char	*pass = "ABCD-EFGH-JKLM-NPQR-STUV";

	(void)state;
	token_generate(id, tok);
	assert_int_equal(token_parse(pass, strlen(pass), id), -1);
	assert_int_equal(token_parse("", 0, id), -1);
	/* Cut by one character, one too many, an upper-case digit, a
	 * wrong prefix, a missing dot. */
	assert_int_equal(token_parse(tok, TOKEN_LEN - 1, id), -1);
	snprintf(bad, sizeof(bad), "%s0", tok);
	assert_int_equal(token_parse(bad, strlen(bad), id), -1);
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[30] = 'A';
	assert_int_equal(token_parse(bad, strlen(bad), id), -1);
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[3] = '2';
	assert_int_equal(token_parse(bad, strlen(bad), id), -1);
	snprintf(bad, sizeof(bad), "%s", tok);
	bad[21] = '-';
	assert_int_equal(token_parse(bad, strlen(bad), id), -1);
	assert_false(token_id_ok("0123456789abcde"));
	assert_false(token_id_ok("0123456789abcdeF"));
	assert_false(token_id_ok(NULL));
	assert_true(token_id_ok("0123456789abcdef"));
}

/* base64 by OpenSSL, as a client would send it. */
/* A token file is read like a passphrase file, and names its token. */
static void
test_file(void **state)
{
	char		 path[] = "/tmp/test_token.XXXXXX", id[TOKEN_ID_HEX + 1];
	char		 tok[TOKEN_LEN + 1], *cause = NULL;
	struct enrollc	 en;
	int		 fd;

	(void)state;
	memset(&en, 0, sizeof(en));
	token_generate(id, tok);
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, tok, strlen(tok)), (ssize_t)strlen(tok));
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
	assert_int_equal(enrollc_passphrase(&en, path, &cause), 0);
	assert_string_equal(en.token_id, id);
	/* Not a token: a passphrase, no id. */
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(enrollc_passphrase(&en, path, &cause), 0);
	assert_string_equal(en.token_id, "");
	unlink(path);
	assert_int_equal(enrollc_passphrase(&en, path, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	free(cause);
	enrollc_free(&en);
}

/* The proof key of a token is the passphrase's derivation of its text:
 * SHA-256("haven-enroll-v1" || token). */
static void
test_key(void **state)
{
	const char	*tok = "hvt1.0123456789abcdef.00112233445566778899"
			    "aabbccddeeff00112233445566778899aabbccddeeff";
	uint8_t		 k[32], want[32];
	char		*in;
	unsigned int	 len;

	(void)state;
	proof_key(tok, k);
	in = xasprintf("haven-enroll-v1%s", tok);
	assert_int_equal(EVP_Digest(in, strlen(in), want, &len, EVP_sha256(),
	    NULL), 1);
	assert_memory_equal(k, want, 32);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
