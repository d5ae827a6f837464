/* cachelog.c: the process server's durable cache log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cachelog.h"
#include "util.h"

#define SEGSIZE	(64u * 1024)

static char	 tdir[64];
static char	 ldir[256];
static uint8_t	 pbuf[4096];

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void
rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/test_cachelog.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(ldir, sizeof(ldir), "%s/disk0", tdir);
	return 0;
}

static int
teardown(void **state)
{
	char	mnt[128];

	(void)state;
	snprintf(mnt, sizeof(mnt), "%s/mnt", tdir);
	(void)umount2(mnt, MNT_DETACH);
	rm_rf(tdir);
	return 0;
}

/* The record for seq: a deterministic mix of data, zero runs, bookmarks. */
static void
make_rec(uint64_t seq, struct cachelog_rec *r)
{
	uint64_t	x = seq * 0x9e3779b97f4a7c15ULL + 1;
	size_t		i;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	if (seq % 17 == 0) {
		r->type = CL_BOOKMARK;
		r->offset = seq / 17;
		r->aux = 1700000000 + seq;
		r->data = (const uint8_t *)(seq % 2 ? "crash" : "app");
		r->len = (uint32_t)strlen((const char *)r->data);
		return;
	}
	if (seq % 13 == 0) {
		r->type = CL_ZERO;
		r->offset = seq * 4096;
		r->aux = 65536;
		return;
	}
	r->type = CL_DATA;
	r->offset = seq * 512;
	r->len = (uint32_t)(seq * 7919 % 3000 + 1);
	for (i = 0; i < r->len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pbuf[i] = (uint8_t)x;
	}
	r->data = pbuf;
}

static void
check_rec(const struct cachelog_rec *got, uint64_t seq)
{
	struct cachelog_rec	want;

	make_rec(seq, &want);
	assert_int_equal(got->seq, seq);
	assert_int_equal(got->type, want.type);
	assert_int_equal(got->offset, want.offset);
	assert_int_equal(got->aux, want.aux);
	assert_int_equal(got->len, want.len);
	if (want.len > 0)
		assert_memory_equal(got->data, want.data, want.len);
}

static struct cachelog *
open_log(uint64_t capacity)
{
	struct cachelog_conf	 conf = { SEGSIZE, capacity, 0 };
	struct cachelog		*cl;
	char			*cause = NULL;

	cl = cachelog_open(ldir, &conf, &cause);
	if (cl == NULL)
		fail_msg("cachelog_open: %s", cause);
	return cl;
}

/* Append seqs [from, to], committing every `every`; returns durable. */
static uint64_t
fill(struct cachelog *cl, uint64_t from, uint64_t to, int every)
{
	struct cachelog_rec	 r;
	uint64_t		 seq, durable = 0;
	char			*cause = NULL;

	for (seq = from; seq <= to; seq++) {
		make_rec(seq, &r);
		if (cachelog_append(cl, &r, &cause) == -1)
			fail_msg("append %" PRIu64 ": %s", seq, cause);
		if ((seq - from + 1) % (uint64_t)every == 0 || seq == to) {
			if (cachelog_commit(cl, &durable, &cause) == -1)
				fail_msg("commit: %s", cause);
			assert_int_equal(durable, seq);
		}
	}
	return durable;
}

/* Read every record from `from` on; they must be exactly from..to. */
static void
read_all(struct cachelog *cl, uint64_t from, uint64_t to)
{
	struct cachelog_iter	*it;
	struct cachelog_rec	 r;
	uint64_t		 seq = from;
	char			*cause = NULL;
	int			 rc;

	it = cachelog_read_from(cl, from, &cause);
	if (it == NULL)
		fail_msg("read_from: %s", cause);
	while ((rc = cachelog_next(it, &r, &cause)) == 1)
		check_rec(&r, seq++);
	if (rc == -1)
		fail_msg("next: %s", cause);
	assert_int_equal(seq, to + 1);
	cachelog_iter_free(it);
}

static size_t
count_segments(void)
{
	glob_t	g;
	char	pat[512];
	size_t	n;

	snprintf(pat, sizeof(pat), "%s/*.clog", ldir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* The n-th segment file's path (sorted), malloc'd. */
static char *
segment(size_t n)
{
	glob_t	 g;
	char	 pat[512], *p;

	snprintf(pat, sizeof(pat), "%s/*.clog", ldir);
	assert_int_equal(glob(pat, 0, NULL, &g), 0);
	assert_true(n < g.gl_pathc);
	p = xstrdup(g.gl_pathv[n]);
	globfree(&g);
	return p;
}

static off_t
file_size(const char *p)
{
	struct stat	st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_size;
}

static void
flip_byte(const char *p, off_t off)
{
	uint8_t	c;
	int	fd = open(p, O_RDWR);

	assert_true(fd != -1);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void
test_append_commit_reopen(void **state)
{
	struct cachelog		*cl;
	struct cachelog_iter	*it;
	struct cachelog_rec	 r;
	char			*cause = NULL;

	(void)state;
	cl = open_log(0);
	assert_int_equal(cachelog_durable_seq(cl), 0);
	assert_int_equal(fill(cl, 1, 200, 7), 200);
	assert_true(count_segments() > 3);
	read_all(cl, 1, 200);
	read_all(cl, 150, 200);

	/* The reader follows the log as it grows. */
	it = cachelog_read_from(cl, 201, &cause);
	assert_non_null(it);
	assert_int_equal(cachelog_next(it, &r, &cause), 0);
	fill(cl, 201, 210, 100);
	assert_int_equal(cachelog_next(it, &r, &cause), 1);
	check_rec(&r, 201);
	cachelog_iter_free(it);

	/* Appended but never committed: not there after a restart. */
	make_rec(211, &r);
	assert_int_equal(cachelog_append(cl, &r, &cause), 0);
	assert_int_equal(cachelog_appended_seq(cl), 211);
	cachelog_close(cl);

	cl = open_log(0);
	assert_null(cachelog_recovered(cl));
	assert_int_equal(cachelog_durable_seq(cl), 210);
	read_all(cl, 1, 210);
	cachelog_close(cl);
}

static void
test_refuses_bad_records(void **state)
{
	struct cachelog		*cl, *cl2;
	struct cachelog_conf	 conf = { SEGSIZE, 0, 0 };
	struct cachelog_rec	 r;
	char			*cause = NULL;

	(void)state;
	cl = open_log(0);
	fill(cl, 1, 5, 5);
	make_rec(5, &r);
	assert_int_equal(cachelog_append(cl, &r, &cause), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(cause, "sequence"));
	make_rec(7, &r);
	r.type = 9;
	assert_int_equal(cachelog_append(cl, &r, &cause), -1);
	assert_non_null(strstr(cause, "unknown record type"));

	/* One writer per log. */
	cl2 = cachelog_open(ldir, &conf, &cause);
	assert_null(cl2);
	assert_non_null(strstr(cause, "in use"));
	free(cause);
	cachelog_close(cl);
}

static void
test_torn_tail_truncated(void **state)
{
	struct cachelog		*cl;
	char			*last, *cause = NULL;
	const char		*note;
	off_t			 before, sz;
	int			 fd;

	(void)state;
	cl = open_log(0);
	fill(cl, 1, 40, 40);
	cachelog_close(cl);
	last = segment(count_segments() - 1);
	sz = file_size(last);

	/* Cut into the last record as a crash mid-write would. */
	assert_int_equal(truncate(last, sz - 10), 0);
	cl = open_log(0);
	note = cachelog_recovered(cl);
	assert_non_null(note);
	assert_non_null(strstr(note, "torn"));
	assert_non_null(strstr(note, last));
	assert_int_equal(cachelog_durable_seq(cl), 39);
	read_all(cl, 1, 39);
	before = file_size(last);
	assert_true(before < sz - 10);
	/* The cut record can be written again. */
	assert_int_equal(fill(cl, 40, 45, 3), 45);
	cachelog_close(cl);

	/* Garbage after the last record: cut too. */
	sz = file_size(last);
	fd = open(last, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "HVCRgarbage-garbage-garbage-garbage-"
	    "garbage-garbage", 51), 51);
	close(fd);
	cl = open_log(0);
	assert_non_null(cachelog_recovered(cl));
	assert_int_equal(cachelog_durable_seq(cl), 45);
	assert_int_equal(file_size(last), sz);
	read_all(cl, 1, 45);
	cachelog_close(cl);
	(void)cause;
	free(last);
}

static void
test_corruption_reported(void **state)
{
	struct cachelog		*cl;
	struct cachelog_conf	 conf = { SEGSIZE, 0, 0 };
	struct cachelog_iter	*it;
	struct cachelog_rec	 r;
	char			*first, *cause = NULL, want[64];
	int			 rc;

	(void)state;
	cl = open_log(0);
	fill(cl, 1, 120, 10);
	assert_true(count_segments() >= 3);
	first = segment(0);

	/* A live reader meets a flipped payload byte: named, not shipped. */
	flip_byte(first, 32 + 48 + 100);	/* inside record 1's payload */
	it = cachelog_read_from(cl, 1, &cause);
	assert_non_null(it);
	rc = cachelog_next(it, &r, &cause);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(cause, first));
	assert_non_null(strstr(cause, "offset 32 "));
	assert_non_null(strstr(cause, "checksum"));
	cachelog_iter_free(it);
	cachelog_close(cl);

	/* On reopen, damage outside the last segment fails the open. */
	assert_null(cachelog_open(ldir, &conf, &cause));
	assert_non_null(strstr(cause, first));
	snprintf(want, sizeof(want), "offset %d ", 32);
	assert_non_null(strstr(cause, want));
	assert_non_null(strstr(cause, "resynchronise"));
	free(cause);
	free(first);
}

static void
test_release(void **state)
{
	struct cachelog	*cl;
	uint64_t	 used, first;
	size_t		 nseg;
	char		*cause = NULL;

	(void)state;
	cl = open_log(0);
	fill(cl, 1, 200, 20);
	nseg = count_segments();
	used = cachelog_used(cl);
	assert_int_equal(cachelog_release(cl, 100, &cause), 0);
	assert_true(count_segments() < nseg);
	assert_true(cachelog_used(cl) < used);
	first = cachelog_first_seq(cl);
	assert_true(first > 1 && first <= 101);
	assert_null(cachelog_read_from(cl, first - 1, &cause));
	assert_non_null(strstr(cause, "released"));
	read_all(cl, 101, 200);
	read_all(cl, first, 200);

	/* Everything drained: only the last segment is kept. */
	assert_int_equal(cachelog_release(cl, 200, &cause), 0);
	assert_int_equal(count_segments(), 1);
	cachelog_close(cl);

	cl = open_log(0);
	assert_int_equal(cachelog_durable_seq(cl), 200);
	fill(cl, 201, 220, 5);
	read_all(cl, 201, 220);
	cachelog_close(cl);
	free(cause);
}

static void
test_capacity_full(void **state)
{
	struct cachelog		*cl;
	struct cachelog_rec	 r;
	uint64_t		 seq, durable = 0;
	char			*cause = NULL;
	int			 rc = 0;

	(void)state;
	cl = open_log(3 * SEGSIZE);
	for (seq = 1; ; seq++) {
		make_rec(seq, &r);
		if ((rc = cachelog_append(cl, &r, &cause)) == -1)
			break;
		if (seq % 8 == 0)
			assert_int_equal(cachelog_commit(cl, &durable, &cause),
			    0);
	}
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(cause, "full"));
	assert_true(cachelog_used(cl) <= 3 * SEGSIZE);
	/* What was appended before the refusal still commits. */
	assert_int_equal(cachelog_commit(cl, &durable, &cause), 0);
	assert_int_equal(durable, seq - 1);
	assert_int_equal(cachelog_append(cl, &r, &cause), -1);

	/* The drain frees space: appends go on. */
	assert_int_equal(cachelog_release(cl, seq - 1, &cause), 0);
	assert_int_equal(cachelog_append(cl, &r, &cause), 0);
	assert_int_equal(cachelog_commit(cl, &durable, &cause), 0);
	assert_int_equal(durable, seq);
	cachelog_close(cl);

	cl = open_log(3 * SEGSIZE);
	assert_null(cachelog_recovered(cl));
	assert_int_equal(cachelog_durable_seq(cl), seq);
	read_all(cl, cachelog_first_seq(cl), seq);
	cachelog_close(cl);
	free(cause);
}

/*
 * A real full filesystem: a 1 MiB tmpfs.  Needs root (mount); skipped
 * with a message elsewhere.
 */
static void
test_filesystem_full(void **state)
{
	struct cachelog		*cl;
	struct cachelog_rec	 r;
	char			 mnt[128], filler[256], *cause = NULL, *last;
	uint64_t		 seq, durable = 0, committed;
	off_t			 before;
	ssize_t			 n;
	int			 fd;

	(void)state;
	snprintf(mnt, sizeof(mnt), "%s/mnt", tdir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == -1) {
		print_message("# skipped: cannot mount a tmpfs (%s); run as "
		    "root for the real full-disk test\n", strerror(errno));
		skip();
	}
	snprintf(ldir, sizeof(ldir), "%s/disk0", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	cl = open_log(0);

	/* Fill through the log: append refuses before the disk is full. */
	for (seq = 1; ; seq++) {
		make_rec(seq, &r);
		if (cachelog_append(cl, &r, &cause) == -1)
			break;
		if (cachelog_commit(cl, &durable, &cause) == -1)
			fail_msg("commit %" PRIu64 ": %s", seq, cause);
	}
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(cause, "filesystem"));
	committed = durable;
	cachelog_release(cl, committed, &cause);

	/* Now something else fills the disk between append and commit. */
	make_rec(committed + 1, &r);
	assert_int_equal(cachelog_append(cl, &r, &cause), 0);
	make_rec(committed + 2, &r);
	assert_int_equal(cachelog_append(cl, &r, &cause), 0);
	last = segment(count_segments() - 1);
	before = file_size(last);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	memset(pbuf, 0xa5, sizeof(pbuf));
	while ((n = write(fd, pbuf, sizeof(pbuf))) > 0)
		;
	while (write(fd, pbuf, 1) == 1)
		;
	close(fd);
	assert_int_equal(cachelog_commit(cl, &durable, &cause), -1);
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(cause, "full"));
	/* Nothing partial is left behind, nothing acknowledged is lost. */
	assert_int_equal(file_size(last), before);
	assert_int_equal(cachelog_durable_seq(cl), committed);

	/* Space comes back: the same records commit. */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(cachelog_commit(cl, &durable, &cause), 0);
	assert_int_equal(durable, committed + 2);
	cachelog_close(cl);
	cl = open_log(0);
	assert_null(cachelog_recovered(cl));
	assert_int_equal(cachelog_durable_seq(cl), committed + 2);
	read_all(cl, cachelog_first_seq(cl), committed + 2);
	cachelog_close(cl);
	free(last);
	free(cause);
	assert_int_equal(umount(mnt), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_commit_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_records,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_truncated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_reported,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_filesystem_full, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
