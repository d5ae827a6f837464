/* seal.c: zstd + AES-256-GCM sealing of cache records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "seal.h"
#include "util.h"

#define DISK	42

static uint8_t	key[SEAL_KEYLEN];
static uint8_t	text[256 * 1024];	/* compressible */
static uint8_t	noise[64 * 1024];	/* not */

static int
setup(void **state)
{
	size_t	i;

	(void)state;
	random_bytes(key, sizeof(key));
	random_bytes(noise, sizeof(noise));
	for (i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)("the quick brown fox "[i % 20] + i / 4096);
	return 0;
}

static struct seal *
new_seal(const uint8_t *k, int level)
{
	struct seal	*s;
	char		*cause = NULL;

	if ((s = seal_new(k, level, &cause)) == NULL)
		fail_msg("seal_new: %s", cause);
	return s;
}

static void
data_rec(struct cachelog_rec *r, uint64_t seq, const uint8_t *p, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->type = CL_DATA;
	r->offset = 1ULL << 33;
	r->data = p;
	r->len = (uint32_t)len;
}

static void
roundtrip(struct seal *s, const struct cachelog_rec *r, size_t *sealed)
{
	struct cachelog_rec	 got;
	struct fbuf		 b;
	char			*cause = NULL;

	fbuf_init(&b);
	if (seal_record(s, DISK, r, &b, &cause) == -1)
		fail_msg("seal: %s", cause);
	if (seal_open(s, DISK, b.data, b.len, &got, &cause) == -1)
		fail_msg("open: %s", cause);
	assert_int_equal(got.seq, r->seq);
	assert_int_equal(got.type, r->type);
	assert_int_equal(got.offset, r->offset);
	assert_int_equal(got.aux, r->aux);
	assert_int_equal(got.len, r->len);
	if (r->len > 0)
		assert_memory_equal(got.data, r->data, r->len);
	if (sealed != NULL)
		*sealed = b.len;
	fbuf_free(&b);
}

static void
test_roundtrip(void **state)
{
	struct cachelog_rec	 r;
	struct seal		*s;
	size_t			 n;
	int			 level;

	(void)state;
	for (level = 0; level <= 3; level++) {
		s = new_seal(key, level);
		data_rec(&r, 7, text, sizeof(text));
		roundtrip(s, &r, &n);
		if (level == 0)
			assert_int_equal(n, sizeof(text) + SEAL_OVERHEAD);
		else
			assert_true(n < sizeof(text) / 4);
		data_rec(&r, 8, noise, sizeof(noise));
		roundtrip(s, &r, &n);
		/* Incompressible bytes travel stored, not grown. */
		assert_int_equal(n, sizeof(noise) + SEAL_OVERHEAD);
		data_rec(&r, 9, noise, 1);
		roundtrip(s, &r, NULL);

		memset(&r, 0, sizeof(r));
		r.seq = 10;
		r.type = CL_ZERO;
		r.offset = 4096;
		r.aux = 1ULL << 40;
		roundtrip(s, &r, NULL);

		r.seq = 11;
		r.type = CL_BOOKMARK;
		r.offset = 1234;
		r.aux = 1767225600;
		r.data = (const uint8_t *)"app";
		r.len = 3;
		roundtrip(s, &r, NULL);
		seal_free(s);
	}
}

static void
test_nonce_fresh(void **state)
{
	struct cachelog_rec	 r;
	struct seal		*s = new_seal(key, 1);
	struct fbuf		 a, b;
	char			*cause = NULL;

	(void)state;
	fbuf_init(&a);
	fbuf_init(&b);
	data_rec(&r, 1, text, 4096);
	assert_int_equal(seal_record(s, DISK, &r, &a, &cause), 0);
	assert_int_equal(seal_record(s, DISK, &r, &b, &cause), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.data + 32, b.data + 32, 12);
	assert_memory_not_equal(a.data + SEAL_HDR, b.data + SEAL_HDR, 32);
	fbuf_free(&a);
	fbuf_free(&b);
	seal_free(s);
}

/* Every single flipped bit of a sealed record is refused. */
static void
test_tamper(void **state)
{
	struct cachelog_rec	 r, got;
	struct seal		*s = new_seal(key, 3);
	struct fbuf		 b;
	char			*cause = NULL;
	size_t			 i;

	(void)state;
	fbuf_init(&b);
	data_rec(&r, 77, text, 2000);
	assert_int_equal(seal_record(s, DISK, &r, &b, &cause), 0);
	for (i = 0; i < b.len; i++) {
		b.data[i] ^= 0x01;
		if (seal_open(s, DISK, b.data, b.len, &got, &cause) != -1)
			fail_msg("flipped byte %zu of %zu was accepted", i,
			    b.len);
		b.data[i] ^= 0x01;
	}
	/* Payload and tag flips are authentication failures, named so. */
	b.data[SEAL_HDR + 30] ^= 0x80;
	assert_int_equal(seal_open(s, DISK, b.data, b.len, &got, &cause), -1);
	assert_non_null(strstr(cause, "failed authentication"));
	assert_non_null(strstr(cause, "seq 77"));
	b.data[SEAL_HDR + 30] ^= 0x80;
	/* The seq is bound too: a replay under another seq fails. */
	b.data[23] ^= 0x01;
	assert_int_equal(seal_open(s, DISK, b.data, b.len, &got, &cause), -1);
	assert_non_null(strstr(cause, "failed authentication"));
	b.data[23] ^= 0x01;

	assert_int_equal(seal_open(s, DISK + 1, b.data, b.len, &got, &cause),
	    -1);
	assert_non_null(strstr(cause, "belongs to disk 42"));
	assert_int_equal(seal_open(s, DISK, b.data, b.len - 1, &got, &cause),
	    -1);
	assert_int_equal(seal_open(s, DISK, b.data, 10, &got, &cause), -1);
	assert_non_null(strstr(cause, "too short"));
	assert_int_equal(seal_open(s, DISK, b.data, b.len, &got, &cause), 0);
	free(cause);
	fbuf_free(&b);
	seal_free(s);
}

static void
test_wrong_key(void **state)
{
	struct cachelog_rec	 r, got;
	struct seal		*s = new_seal(key, 1), *other;
	uint8_t			 k2[SEAL_KEYLEN];
	struct fbuf		 b;
	uint64_t		 disk, seq;
	char			*cause = NULL;

	(void)state;
	memcpy(k2, key, sizeof(k2));
	k2[31] ^= 1;
	other = new_seal(k2, 1);
	fbuf_init(&b);
	data_rec(&r, 5, text, 1000);
	assert_int_equal(seal_record(s, DISK, &r, &b, &cause), 0);
	assert_int_equal(seal_peek(b.data, b.len, &disk, &seq, &cause), 0);
	assert_int_equal(disk, DISK);
	assert_int_equal(seq, 5);
	assert_int_equal(seal_open(other, DISK, b.data, b.len, &got, &cause),
	    -1);
	assert_non_null(strstr(cause, "another key"));
	assert_null(seal_new(key, 4, &cause));
	assert_non_null(strstr(cause, "level"));
	free(cause);
	fbuf_free(&b);
	seal_free(s);
	seal_free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_nonce_fresh),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_wrong_key),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
