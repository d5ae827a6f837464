/* frame.c: the binary envelope between processes and on the data channel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"

#define T_PING		7
#define TAG_SEQ		1
#define TAG_NAME	2
#define TAG_BLOB	3
#define TAG_UNKNOWN	99

static const struct field_spec ping_fields[] = {
	{ TAG_SEQ, FK_U64, 1, 0, "seq" },
	{ TAG_NAME, FK_STR, 0, 16, "name" },
	{ TAG_BLOB, FK_BYTES, 0, 64, "blob" },
	{ 0, 0, 0, 0, NULL }
};

static const struct frame_spec specs[] = {
	{ T_PING, "ping", ping_fields },
	{ 0, NULL, NULL }
};

#define MAXLEN	4096

/* Offsets inside an encoded frame. */
#define OFF_VERSION	2
#define OFF_TYPE	4
#define OFF_LEN		8

static void
build_ping(struct fbuf *b)
{
	static const uint8_t	blob[] = { 0, 1, 2, 0xff };

	frame_begin(b, T_PING);
	frame_put_u64(b, TAG_SEQ, 0x0102030405060708ULL);
	frame_put_str(b, TAG_NAME, "disk-0");
	frame_put_bytes(b, TAG_BLOB, blob, sizeof(blob));
	frame_end(b);
}

/* Decode b expecting success; f points into b. */
static void
decode_ok(const struct fbuf *b, struct frame *f)
{
	char	*cause = NULL;

	assert_int_equal(frame_decode(b->data, b->len, MAXLEN, f, &cause),
	    (ssize_t)b->len);
	assert_null(cause);
}

/* Decode b expecting -1 with a cause holding want. */
static void
decode_fails(const struct fbuf *b, size_t maxlen, const char *want)
{
	struct frame	 f;
	char		*cause = NULL;

	assert_int_equal(frame_decode(b->data, b->len, maxlen, &f, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	free(cause);
}

/* frame_check b against the ping spec expecting a cause holding want. */
static void
check_fails(const struct fbuf *b, const char *want)
{
	struct frame	 f;
	char		*cause = NULL;

	decode_ok(b, &f);
	assert_int_equal(frame_check(&f, frame_spec_find(specs, f.type),
	    &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	free(cause);
}

static void
test_round_trip(void **state)
{
	struct fbuf	 b;
	struct frame	 f;
	const uint8_t	*p;
	char		*s, *cause = NULL;
	size_t		 len = 0;

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	assert_int_equal(b.len, FRAME_HDR_LEN + 3 * FIELD_HDR_LEN + 8 + 6 + 4);
	decode_ok(&b, &f);
	assert_int_equal(f.type, T_PING);
	assert_int_equal(f.version, FRAME_VERSION);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.len, b.len - FRAME_HDR_LEN);
	assert_ptr_equal(frame_spec_find(specs, T_PING), &specs[0]);
	assert_null(frame_spec_find(specs, 8));
	assert_int_equal(frame_check(&f, &specs[0], &cause), 0);
	assert_null(cause);

	assert_true(frame_has(&f, TAG_SEQ));
	assert_false(frame_has(&f, TAG_UNKNOWN));
	assert_true(frame_u64(&f, TAG_SEQ, 0) == 0x0102030405060708ULL);
	assert_true(frame_u64(&f, TAG_UNKNOWN, 42) == 42);
	/* The wrong accessor for a field's kind gets nothing. */
	assert_true(frame_u64(&f, TAG_NAME, 42) == 42);
	assert_null(frame_str(&f, TAG_SEQ));
	assert_null(frame_bytes(&f, TAG_NAME, &len));

	s = frame_str(&f, TAG_NAME);
	assert_string_equal(s, "disk-0");
	free(s);
	assert_null(frame_str(&f, TAG_UNKNOWN));
	p = frame_bytes(&f, TAG_BLOB, &len);
	assert_non_null(p);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "\0\1\2\377", 4);

	/* Flags survive and the checksum is re-sealed. */
	frame_set_flags(b.data, b.len, 0x5a);
	decode_ok(&b, &f);
	assert_int_equal(f.flags, 0x5a);
	fbuf_free(&b);
}

static void
test_empty_and_edge_values(void **state)
{
	struct fbuf	 b;
	struct frame	 f;
	char		*s;
	size_t		 len = 99;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, UINT64_MAX);
	frame_put_str(&b, TAG_NAME, "");
	frame_put_bytes(&b, TAG_BLOB, NULL, 0);
	frame_end(&b);
	decode_ok(&b, &f);
	assert_int_equal(frame_check(&f, &specs[0], NULL), 0);
	assert_true(frame_u64(&f, TAG_SEQ, 0) == UINT64_MAX);
	s = frame_str(&f, TAG_NAME);
	assert_string_equal(s, "");
	free(s);
	assert_non_null(frame_bytes(&f, TAG_BLOB, &len));
	assert_int_equal(len, 0);

	/* No fields at all: a payload of 0 bytes. */
	frame_begin(&b, 9);
	frame_end(&b);
	decode_ok(&b, &f);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.type, 9);
	fbuf_free(&b);
}

static void
test_truncated(void **state)
{
	struct fbuf	 b;
	struct frame	 f;
	char		*cause = NULL;
	size_t		 n;

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	for (n = 0; n < b.len; n++) {
		assert_int_equal(frame_decode(b.data, n, MAXLEN, &f, &cause), 0);
		assert_null(cause);
	}
	/* Trailing bytes belong to the next frame. */
	fbuf_add(&b, "HV", 2);
	assert_int_equal(frame_decode(b.data, b.len, MAXLEN, &f, &cause),
	    (ssize_t)b.len - 2);
	fbuf_free(&b);
}

static void
test_oversized(void **state)
{
	struct fbuf	b;
	char		want[64];

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	snprintf(want, sizeof(want), "frame of %zu bytes exceeds the limit "
	    "of 16", b.len - FRAME_HDR_LEN);
	decode_fails(&b, 16, want);

	/* Refused from the header alone, before the payload arrives. */
	b.len = FRAME_HDR_LEN;
	decode_fails(&b, 16, "exceeds the limit");
	fbuf_free(&b);
}

static void
test_bad_version(void **state)
{
	struct fbuf	b;

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	b.data[OFF_VERSION] = 2;
	decode_fails(&b, MAXLEN, "frame version 2 is not supported");
	/* Known from the third byte on. */
	b.len = 3;
	decode_fails(&b, MAXLEN, "version 2");
	fbuf_free(&b);
}

static void
test_bad_magic(void **state)
{
	struct fbuf	b;

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	memcpy(b.data, "GE", 2);	/* someone speaking HTTP */
	decode_fails(&b, MAXLEN, "bad magic 0x4745");
	b.len = 2;
	decode_fails(&b, MAXLEN, "not a Haven frame");
	fbuf_free(&b);
}

static void
test_checksum(void **state)
{
	struct fbuf	b;
	size_t		i;

	(void)state;
	fbuf_init(&b);
	build_ping(&b);
	for (i = FRAME_HDR_LEN; i < b.len; i++) {
		b.data[i] ^= 0x10;
		decode_fails(&b, MAXLEN, "checksum mismatch");
		b.data[i] ^= 0x10;
	}
	/* The type is covered too. */
	b.data[OFF_TYPE + 1] ^= 1;
	decode_fails(&b, MAXLEN, "checksum mismatch");
	fbuf_free(&b);
}

static void
test_check_missing_required(void **state)
{
	struct fbuf	b;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_str(&b, TAG_NAME, "x");
	frame_end(&b);
	check_fails(&b, "ping: required field seq is missing");
	fbuf_free(&b);
}

static void
test_check_wrong_kind(void **state)
{
	struct fbuf	b;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_str(&b, TAG_SEQ, "12345678");
	frame_end(&b);
	check_fails(&b, "ping: field seq has kind 2, expected 1");
	fbuf_free(&b);
}

static void
test_check_u64_size(void **state)
{
	struct fbuf	b;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_bytes(&b, TAG_SEQ, "\0\0\0\1", 4);
	b.data[FRAME_HDR_LEN + 2] = FK_U64;	/* a u64 of 4 bytes */
	frame_end(&b);
	check_fails(&b, "ping: field seq is 4 bytes, expected 8");
	fbuf_free(&b);
}

static void
test_check_string_limits(void **state)
{
	struct fbuf	b;
	struct frame	f;
	uint8_t		big[65];

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	frame_put_str(&b, TAG_NAME, "seventeen-chars!!");
	frame_end(&b);
	check_fails(&b, "ping: field name is 17 bytes, over its limit of 16");

	/* Exactly at the limit is fine. */
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	frame_put_str(&b, TAG_NAME, "sixteen-chars!!!");
	frame_end(&b);
	decode_ok(&b, &f);
	assert_int_equal(frame_check(&f, &specs[0], NULL), 0);

	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	frame_put_bytes(&b, TAG_NAME, "ab\0cd", 5);
	b.data[b.len - 5 - FIELD_HDR_LEN + 2] = FK_STR;
	frame_end(&b);
	check_fails(&b, "ping: field name holds a NUL byte");

	memset(big, 'x', sizeof(big));
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	frame_put_bytes(&b, TAG_BLOB, big, sizeof(big));
	frame_end(&b);
	check_fails(&b, "ping: field blob is 65 bytes, over its limit of 64");
	fbuf_free(&b);
}

static void
test_check_past_end(void **state)
{
	struct fbuf	 b;
	struct frame	 f;
	size_t		 off;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	off = b.len;
	frame_put_str(&b, TAG_NAME, "abc");
	b.data[off + 7] = 4;			/* claims 4, holds 3 */
	frame_end(&b);
	check_fails(&b, "ping: field 2 claims 4 bytes past the end of the "
	    "frame");

	/* A huge length must not wrap around the bounds check. */
	memset(b.data + off + 4, 0xff, 4);
	frame_end(&b);
	check_fails(&b, "past the end of the frame");
	/* The accessors stop there too. */
	decode_ok(&b, &f);
	assert_null(frame_str(&f, TAG_NAME));
	assert_true(frame_u64(&f, TAG_SEQ, 0) == 1);

	/* Half a field header at the end. */
	frame_begin(&b, T_PING);
	frame_put_u64(&b, TAG_SEQ, 1);
	fbuf_add(&b, "\0\2\2", 3);
	frame_end(&b);
	check_fails(&b, "ping: truncated field header");
	fbuf_free(&b);
}

static void
test_check_unknown_tags(void **state)
{
	struct fbuf	 b;
	struct frame	 f;
	char		*cause = NULL, *s;

	(void)state;
	fbuf_init(&b);
	frame_begin(&b, T_PING);
	frame_put_bytes(&b, TAG_UNKNOWN, "\0\0\0", 3);
	frame_put_str(&b, TAG_UNKNOWN + 1, "from a newer peer");
	frame_put_u64(&b, TAG_SEQ, 77);
	frame_put_str(&b, TAG_NAME, "n");
	frame_end(&b);
	decode_ok(&b, &f);
	assert_int_equal(frame_check(&f, &specs[0], &cause), 0);
	assert_null(cause);
	assert_true(frame_u64(&f, TAG_SEQ, 0) == 77);
	s = frame_str(&f, TAG_NAME);
	assert_string_equal(s, "n");
	free(s);
	fbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_and_edge_values),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_check_missing_required),
		cmocka_unit_test(test_check_wrong_kind),
		cmocka_unit_test(test_check_u64_size),
		cmocka_unit_test(test_check_string_limits),
		cmocka_unit_test(test_check_past_end),
		cmocka_unit_test(test_check_unknown_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
