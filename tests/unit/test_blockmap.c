/*
 * blockmap.c: map files (write, reload, corrupt ones detected with the
 * reason and turned into a full resync), changed lists with zero
 * blocks, "unknown" marks, hashing a view.  The agent's sources are not
 * in a library: the file is compiled in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/agent/blockmap.c"

#define BS	4096u

static char	tmpdir[] = "/tmp/test_blockmap.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void
fill_block(uint8_t *b, size_t len, unsigned seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + 1);
}

static void
test_hash_reserved(void **state)
{
	uint8_t		buf[BS];
	uint64_t	h;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_true(blockmap_hash(buf, sizeof(buf)) == BM_ZERO);
	assert_true(blockmap_hash(buf, 1) == BM_ZERO);
	buf[BS - 1] = 1;	/* one non-zero byte at the very end */
	h = blockmap_hash(buf, sizeof(buf));
	assert_true(h != BM_ZERO && h != BM_UNKNOWN);
	buf[0] = 1;
	assert_true(blockmap_hash(buf, sizeof(buf)) != h);
}

static void
test_save_load(void **state)
{
	struct blockmap	*m, *l = NULL;
	char		*p = tpath("a.map"), *why = NULL;
	uint64_t	 size = 10 * BS + 100, i;	/* short last block */

	(void)state;
	m = blockmap_new(size, BS, BM_ZERO);
	assert_int_equal(m->nblocks, 11);
	assert_int_equal(blockmap_block_len(m, 10), 100);
	for (i = 0; i < m->nblocks; i += 2)
		m->h[i] = 0x1234567890abcdefULL + i;
	m->h[3] = BM_UNKNOWN;
	m->point = 77;
	m->seq = 1234;
	m->app_time = 1700000000;
	assert_int_equal(blockmap_save(m, p, &why), 0);
	assert_int_equal(blockmap_load(p, size, BS, &l, &why), BM_LOADED);
	assert_null(why);
	assert_int_equal(l->point, 77);
	assert_int_equal(l->seq, 1234);
	assert_int_equal(l->app_time, 1700000000);
	assert_int_equal(l->nblocks, m->nblocks);
	assert_memory_equal(l->h, m->h, m->nblocks * 8);
	blockmap_free(l);
	blockmap_free(m);
	free(p);
}

static void
test_missing(void **state)
{
	struct blockmap	*l;
	char		*p = tpath("none.map"), *why = NULL;
	uint64_t	 i;

	(void)state;
	assert_int_equal(blockmap_load(p, 8 * BS, BS, &l, &why), BM_MISSING);
	assert_null(why);
	/* A new disk's replica is all zero: only non-zero blocks go. */
	for (i = 0; i < l->nblocks; i++)
		assert_true(l->h[i] == BM_ZERO);
	assert_int_equal(l->point, 0);
	blockmap_free(l);
	free(p);
}

/* Damage a saved map with f, expect a resync whose reason has want. */
static void
expect_resync(void (*damage)(const char *), uint64_t size, uint32_t bs,
    const char *want)
{
	struct blockmap	*m, *l;
	char		*p = tpath("bad.map"), *why = NULL;
	uint64_t	 i;

	m = blockmap_new(16 * BS, BS, BM_ZERO);
	m->h[5] = 99;
	assert_int_equal(blockmap_save(m, p, NULL), 0);
	if (damage != NULL)
		damage(p);
	assert_int_equal(blockmap_load(p, size, bs, &l, &why), BM_RESYNC);
	assert_non_null(why);
	if (strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
	/* Nothing is known: every block must be resent. */
	for (i = 0; i < l->nblocks; i++)
		assert_true(l->h[i] == BM_UNKNOWN);
	blockmap_free(l);
	blockmap_free(m);
	free(why);
	free(p);
}

static void
flip_byte(const char *p)
{
	uint8_t	b;
	int	fd = open(p, O_RDWR);

	assert_true(fd != -1);
	assert_int_equal(pread(fd, &b, 1, BM_HDR_LEN + 5 * 8 + 2), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, BM_HDR_LEN + 5 * 8 + 2), 1);
	close(fd);
}

static void
truncate_it(const char *p)
{
	assert_int_equal(truncate(p, BM_HDR_LEN + 3 * 8), 0);
}

static void
clobber_magic(const char *p)
{
	int	fd = open(p, O_RDWR);

	assert_int_equal(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
}

static void
test_corrupt(void **state)
{
	(void)state;
	expect_resync(flip_byte, 16 * BS, BS, "checksum");
	expect_resync(truncate_it, 16 * BS, BS, "truncated");
	expect_resync(clobber_magic, 16 * BS, BS, "not a block map");
	expect_resync(NULL, 16 * BS, BS * 2, "block size changed");
	expect_resync(NULL, 20 * BS, BS, "disk size changed");
}

/*
 * Committed: blocks 0..15 with data d(i), 12..15 zero.  View: 2 and 3
 * changed, 5 zeroed, 12 gets data, 7..10 changed (a run), 15 unchanged
 * zero.
 */
static void
make_maps(struct blockmap **cp, struct blockmap **vp)
{
	struct blockmap	*c, *v;
	uint8_t		 b[BS];
	uint64_t	 i;

	c = blockmap_new(16 * BS, BS, BM_ZERO);
	for (i = 0; i < 12; i++) {
		fill_block(b, BS, (unsigned)i);
		c->h[i] = blockmap_hash(b, BS);
	}
	v = blockmap_dup(c);
	fill_block(b, BS, 100);
	v->h[2] = blockmap_hash(b, BS);
	fill_block(b, BS, 101);
	v->h[3] = blockmap_hash(b, BS);
	v->h[5] = BM_ZERO;
	for (i = 7; i <= 10; i++) {
		fill_block(b, BS, (unsigned)(200 + i));
		v->h[i] = blockmap_hash(b, BS);
	}
	fill_block(b, BS, 300);
	v->h[12] = blockmap_hash(b, BS);
	*cp = c;
	*vp = v;
}

static void
test_changed(void **state)
{
	struct blockmap		*c, *v;
	struct bm_extent	*e;
	uint64_t		 bytes;
	size_t			 n;

	(void)state;
	make_maps(&c, &v);
	assert_int_equal(blockmap_changed(c, v, &bytes), 8);
	assert_int_equal(bytes, 7 * BS);	/* the zeroed block is a hole */
	n = blockmap_extents(c, v, 3, 100, &e);
	/* [2-3] data, [5] zero, [7-9] data (max 3), [10] data, [12] data */
	assert_int_equal(n, 5);
	assert_int_equal(e[0].block, 2);
	assert_int_equal(e[0].count, 2);
	assert_false(e[0].zero);
	assert_int_equal(e[1].block, 5);
	assert_int_equal(e[1].count, 1);
	assert_true(e[1].zero);
	assert_int_equal(e[2].block, 7);
	assert_int_equal(e[2].count, 3);
	assert_int_equal(e[3].block, 10);
	assert_int_equal(e[3].count, 1);
	assert_int_equal(e[4].block, 12);
	free(e);
	/* Nothing changed: no extents. */
	assert_int_equal(blockmap_extents(c, c, 3, 100, &e), 0);
	free(e);
	blockmap_free(c);
	blockmap_free(v);
}

static void
test_zero_runs(void **state)
{
	struct blockmap		*c, *v;
	struct bm_extent	*e;
	size_t			 n;
	uint64_t		 i;

	(void)state;
	/* Initial sync of a disk with data, then a long zero stretch. */
	c = blockmap_new(40 * BS, BS, BM_UNKNOWN);	/* after a resync */
	v = blockmap_new(40 * BS, BS, BM_ZERO);
	v->h[0] = 42;
	v->h[39] = 43;
	n = blockmap_extents(c, v, 16, 10, &e);
	/* data [0], zero [1-10], [11-20], [21-30], [31-38], data [39] */
	assert_int_equal(n, 6);
	assert_true(e[1].zero && e[1].count == 10);
	assert_true(e[4].zero && e[4].block == 31 && e[4].count == 8);
	assert_true(!e[5].zero && e[5].block == 39);
	free(e);
	/* Against a new disk's map, zero blocks are not sent at all. */
	blockmap_free(c);
	c = blockmap_new(40 * BS, BS, BM_ZERO);
	n = blockmap_extents(c, v, 16, 10, &e);
	assert_int_equal(n, 2);
	free(e);
	for (i = 0; i < 40; i++)
		assert_true(c->h[i] == BM_ZERO);
	blockmap_free(c);
	blockmap_free(v);
}

static void
test_unknown_marks(void **state)
{
	struct blockmap		*c, *v, *reload;
	struct bm_extent	*e1, *e2, *e3;
	char			*p = tpath("marks.map"), *why = NULL;
	size_t			 n1, n2, n3;
	uint64_t		 i;

	(void)state;
	make_maps(&c, &v);
	n1 = blockmap_extents(c, v, 3, 100, &e1);
	assert_int_equal(blockmap_mark_unknown(c, v), 8);
	assert_true(c->h[2] == BM_UNKNOWN && c->h[5] == BM_UNKNOWN &&
	    c->h[12] == BM_UNKNOWN);
	assert_true(c->h[0] != BM_UNKNOWN && c->h[15] == BM_ZERO);
	/* Marking changes nothing in what is sent: resume needs that. */
	n2 = blockmap_extents(c, v, 3, 100, &e2);
	assert_int_equal(n1, n2);
	for (i = 0; i < n1; i++)
		assert_true(e1[i].block == e2[i].block &&
		    e1[i].count == e2[i].count && e1[i].zero == e2[i].zero);
	assert_true(blockmap_extents_digest(e1, n1) ==
	    blockmap_extents_digest(e2, n2));
	/* Durable, as the agent writes it before sending anything. */
	assert_int_equal(blockmap_save(c, p, NULL), 0);
	assert_int_equal(blockmap_load(p, c->disk_size, BS, &reload, &why),
	    BM_LOADED);
	/*
	 * A crash mid-cycle, and block 2 changes back to what it was: the
	 * next view equals the old committed hash, yet block 2 is still
	 * sent because the map says unknown.
	 */
	blockmap_free(c);
	blockmap_free(v);
	make_maps(&c, &v);
	v->h[2] = c->h[2];	/* changed back before the next view */
	assert_true(reload->h[2] == BM_UNKNOWN);
	n3 = blockmap_extents(reload, v, 3, 100, &e3);
	assert_true(n3 >= 1);
	assert_int_equal(e3[0].block, 2);
	free(e3);
	for (i = 0; i < 16; i++)
		if (reload->h[i] == BM_UNKNOWN)
			assert_true(reload->h[i] != v->h[i]);
	/* The digest tells extent lists apart. */
	e2[0].count++;
	assert_true(blockmap_extents_digest(e1, n1) !=
	    blockmap_extents_digest(e2, n2));
	free(e1);
	free(e2);
	blockmap_free(reload);
	blockmap_free(c);
	blockmap_free(v);
	free(p);
}

struct cbstate {
	uint64_t	calls;
	uint64_t	last;
	size_t		lastlen;
};

static int
count_cb(void *arg, uint64_t b, const uint8_t *data, size_t len,
    uint64_t h, char **cause)
{
	struct cbstate	*s = arg;

	(void)cause;
	assert_true(blockmap_hash(data, len) == h);
	s->calls++;
	s->last = b;
	s->lastlen = len;
	return 0;
}

static void
test_hash_fd(void **state)
{
	struct blockmap	*m;
	struct cbstate	 cs = { 0, 0, 0 };
	uint8_t		 b[BS];
	char		*p = tpath("disk.img"), *cause = NULL;
	uint64_t	 size = 5 * BS + 512, i;
	int		 fd;

	(void)state;
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	fill_block(b, BS, 1);
	assert_int_equal(pwrite(fd, b, BS, 0), BS);
	assert_int_equal(pwrite(fd, b, 512, 5 * BS), 512);
	m = blockmap_new(size, BS, BM_UNKNOWN);
	assert_int_equal(blockmap_hash_fd(m, fd, p, count_cb, &cs, &cause), 0);
	assert_int_equal(cs.calls, 6);
	assert_int_equal(cs.last, 5);
	assert_int_equal(cs.lastlen, 512);
	assert_true(m->h[0] == blockmap_hash(b, BS));
	for (i = 1; i < 5; i++)
		assert_true(m->h[i] == BM_ZERO);
	assert_true(m->h[5] == blockmap_hash(b, 512));
	/* A view shorter than the disk is an error, not zeros. */
	assert_int_equal(ftruncate(fd, 2 * BS), 0);
	assert_int_equal(blockmap_hash_fd(m, fd, p, NULL, NULL, &cause), -1);
	assert_non_null(strstr(cause, "ends at"));
	free(cause);
	close(fd);
	blockmap_free(m);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_reserved),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_zero_runs),
		cmocka_unit_test(test_unknown_marks),
		cmocka_unit_test(test_hash_fd),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
