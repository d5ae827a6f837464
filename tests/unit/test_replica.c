/* replica.c and journal.c: the master target's replica and undo journal. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "journal.h"
#include "replica.h"
#include "util.h"

#define DISK		(1024u * 1024)
#define JSEG		(16u * 1024)
#define NPOINTS		8
#define T0		1767225600	/* 2026-01-01 */

static char	 tdir[64];
static char	 rdir[128];
static uint8_t	 ref[DISK];			/* the disk as written */
static uint8_t	 snaps[NPOINTS + 1][DISK];	/* ref at each bookmark */
static uint8_t	 buf[DISK];
static uint8_t	 data[64 * 1024];

struct gen {
	uint64_t	x;
	uint64_t	seq;
};

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/test_replica.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(rdir, sizeof(rdir), "%s/disk0", tdir);
	memset(ref, 0, sizeof(ref));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static uint64_t
rnd(struct gen *g)
{
	g->x ^= g->x << 13;
	g->x ^= g->x >> 7;
	g->x ^= g->x << 17;
	return g->x;
}

static struct replica *
open_batch(uint64_t batch)
{
	struct replica_conf	 conf = { DISK, JSEG, batch };
	struct replica		*rp;
	char			*cause = NULL;

	if ((rp = replica_open(rdir, &conf, &cause)) == NULL)
		fail_msg("replica_open: %s", cause);
	return rp;
}

static struct replica *
open_replica(void)
{
	return open_batch(64 * 1024);
}

static void
apply_ok(struct replica *rp, const struct cachelog_rec *r)
{
	char	*cause = NULL;
	int	 rc;

	if ((rc = replica_apply(rp, r, &cause)) != 1)
		fail_msg("apply seq %" PRIu64 " returned %d: %s", r->seq, rc,
		    cause != NULL ? cause : "");
}

/*
 * The next workload record: random data at random offsets, overwrites
 * of the same hot area, zero runs and all-zero data.  Updates ref.
 */
static void
next_rec(struct gen *g, struct cachelog_rec *r)
{
	uint64_t	kind = rnd(g) % 10, len, off;
	size_t		i;

	memset(r, 0, sizeof(*r));
	r->seq = ++g->seq;
	len = rnd(g) % sizeof(data) + 1;
	off = kind < 3 ? rnd(g) % 8192 :		/* hot area */
	    rnd(g) % (DISK - len);
	if (off + len > DISK)
		len = DISK - off;
	r->offset = off;
	if (kind == 9) {
		r->type = CL_ZERO;
		r->aux = len;
		memset(ref + off, 0, len);
		return;
	}
	r->type = CL_DATA;
	r->data = data;
	r->len = (uint32_t)len;
	if (kind == 8)
		memset(data, 0, len);
	else
		for (i = 0; i < len; i++)
			data[i] = (uint8_t)(i % 64 < 40 ? rnd(g) : 0);
	memcpy(ref + off, data, len);
}

static void
bookmark(struct gen *g, struct cachelog_rec *r, uint64_t id, int64_t t)
{
	memset(r, 0, sizeof(*r));
	r->seq = ++g->seq;
	r->type = CL_BOOKMARK;
	r->offset = id;
	r->aux = (uint64_t)t;
	r->data = (const uint8_t *)(id % 3 == 0 ? "app" : "crash");
	r->len = (uint32_t)strlen((const char *)r->data);
}

/* Apply `n` records then the bookmark of point id; snapshot ref. */
static void
cycle(struct replica *rp, struct gen *g, int n, uint64_t id, int64_t t)
{
	struct cachelog_rec	 r;
	char			*cause = NULL;
	int			 i;

	for (i = 0; i < n; i++) {
		next_rec(g, &r);
		apply_ok(rp, &r);
		if (i % 9 == 8 && replica_sync(rp, NULL, &cause) == -1)
			fail_msg("sync: %s", cause);
	}
	bookmark(g, &r, id, t);
	apply_ok(rp, &r);
	assert_true(id <= NPOINTS);
	memcpy(snaps[id], ref, DISK);
}

static void
load(const char *path, uint8_t *out)
{
	int	fd = open(path, O_RDONLY);
	ssize_t	n;

	if (fd == -1)
		fail_msg("open %s: %s", path, strerror(errno));
	n = read(fd, out, DISK);
	assert_int_equal(n, DISK);
	assert_int_equal(read(fd, out, 1), 0);
	close(fd);
}

static void
same(const uint8_t *got, const uint8_t *want, const char *what)
{
	size_t	i;

	if (memcmp(got, want, DISK) == 0)
		return;
	for (i = 0; got[i] == want[i]; i++)
		;
	fail_msg("%s differs first at byte %zu (got %02x, want %02x)", what,
	    i, got[i], want[i]);
}

static void
check_point(struct replica *rp, uint64_t id)
{
	char	out[256], *cause = NULL;

	snprintf(out, sizeof(out), "%s/point-%" PRIu64 ".img", tdir, id);
	if (replica_materialize(rp, id, out, &cause) == -1)
		fail_msg("materialize %" PRIu64 ": %s", id, cause);
	load(out, buf);
	snprintf(out, sizeof(out), "point %" PRIu64, id);
	same(buf, snaps[id], out);
	snprintf(out, sizeof(out), "%s/point-%" PRIu64 ".img", tdir, id);
	unlink(out);
}

static void
check_image(const uint8_t *want)
{
	char	img[256];

	snprintf(img, sizeof(img), "%s/replica.img", rdir);
	load(img, buf);
	same(buf, want, "replica image");
}

static void
test_points_materialize(void **state)
{
	struct replica			*rp;
	const struct replica_point	*pts;
	struct cachelog_rec		 r;
	struct gen			 g = { 88172645463325252ULL, 0 };
	uint64_t			 id, applied;
	char				*cause = NULL;

	(void)state;
	rp = open_replica();
	for (id = 1; id <= NPOINTS; id++)
		cycle(rp, &g, 40, id, T0 + (int64_t)id * 600);
	/* Records past the newest point: materializing ignores them. */
	next_rec(&g, &r);
	apply_ok(rp, &r);
	assert_int_equal(replica_sync(rp, &applied, &cause), 0);
	assert_int_equal(applied, g.seq);
	check_image(ref);

	assert_int_equal(replica_points(rp, &pts), NPOINTS);
	assert_int_equal(pts[0].id, 1);
	assert_int_equal(pts[2].time, T0 + 1800);
	assert_string_equal(pts[2].kind, "app");
	for (id = NPOINTS; id >= 1; id--)
		check_point(rp, id);
	/* The replica itself was not touched. */
	check_image(ref);

	replica_close(rp);
	rp = open_replica();
	assert_null(replica_recovered(rp));
	assert_int_equal(replica_applied_seq(rp), g.seq);
	assert_int_equal(replica_points(rp, &pts), NPOINTS);
	check_point(rp, 1);
	check_point(rp, 5);
	assert_int_equal(replica_materialize(rp, 99, "/tmp/x", &cause), -1);
	assert_non_null(strstr(cause, "no recovery point 99"));
	free(cause);
	replica_close(rp);
}

static void
test_idempotent(void **state)
{
	struct replica		*rp;
	struct cachelog_rec	 r;
	struct gen		 g = { 0x1234567, 0 }, again;
	uint64_t		 jb, i, n;
	uint8_t			*saved = xmalloc(DISK);
	char			*cause = NULL;

	(void)state;
	rp = open_replica();
	again = g;
	cycle(rp, &g, 30, 1, T0);
	cycle(rp, &g, 30, 2, T0 + 60);
	n = g.seq;
	assert_int_equal(n, 62);
	jb = replica_journal_bytes(rp);
	memcpy(saved, ref, DISK);

	/* The whole stream again, as after a reconnect: nothing changes. */
	for (i = 0; i < n; i++) {
		if (i == 30 || i == 61)
			bookmark(&again, &r, i == 30 ? 1 : 2, T0);
		else
			next_rec(&again, &r);
		assert_int_equal(replica_apply(rp, &r, &cause), 0);
	}
	assert_int_equal(replica_sync(rp, NULL, &cause), 0);
	assert_int_equal(replica_journal_bytes(rp), jb);
	check_image(saved);
	replica_close(rp);

	/* And after a restart, from the durable last seq. */
	rp = open_replica();
	assert_int_equal(replica_applied_seq(rp), n);
	next_rec(&again, &r);
	r.seq = n;
	assert_int_equal(replica_apply(rp, &r, &cause), 0);
	assert_int_equal(replica_sync(rp, NULL, &cause), 0);
	check_image(saved);
	assert_int_equal(replica_journal_bytes(rp), jb);
	check_point(rp, 1);
	check_point(rp, 2);
	replica_close(rp);
	free(saved);
}

static size_t
count_journal_segments(void)
{
	glob_t	g;
	char	pat[256];
	size_t	n;

	snprintf(pat, sizeof(pat), "%s/journal/*.jrnl", rdir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

static void
test_prune(void **state)
{
	struct replica			*rp;
	const struct replica_point	*pts;
	struct replica_prune		 pr;
	struct gen			 g = { 0xfeedface, 0 };
	uint64_t			 id, jb;
	size_t				 nseg, dropped, n;
	char				*cause = NULL;

	(void)state;
	rp = open_replica();
	/* Points 10 minutes apart. */
	for (id = 1; id <= NPOINTS; id++)
		cycle(rp, &g, 25, id, T0 + (int64_t)id * 600);
	jb = replica_journal_bytes(rp);
	nseg = count_journal_segments();
	assert_true(nseg > 4);

	/* Keep one hour: points 1 to 3 are older. */
	memset(&pr, 0, sizeof(pr));
	pr.now = T0 + 9 * 600 + 1;
	pr.retention = 3600;
	assert_int_equal(replica_prune(rp, &pr, &dropped, &cause), 0);
	assert_int_equal(dropped, 3);
	n = replica_points(rp, &pts);
	assert_int_equal(n, NPOINTS - 3);
	assert_int_equal(pts[0].id, 4);
	assert_true(replica_journal_bytes(rp) < jb);
	assert_true(count_journal_segments() < nseg);
	assert_int_equal(replica_materialize(rp, 2, "/tmp/x", &cause), -1);
	assert_non_null(strstr(cause, "no recovery point 2"));
	for (id = 4; id <= NPOINTS; id++)
		check_point(rp, id);

	/* Thinning: past 30 minutes, one point per hour, app preferred. */
	memset(&pr, 0, sizeof(pr));
	pr.now = T0 + 9 * 600 + 1;
	pr.thin_after = 1800;
	pr.thin_every = 3600;
	assert_int_equal(replica_prune(rp, &pr, &dropped, &cause), 0);
	n = replica_points(rp, &pts);
	/*
	 * Left: 4..8 at T0 + 2400..4800 (T0 is hour-aligned).  Older than
	 * 30 min: 4 and 5 share hour 0, neither is "app": 5, the newer,
	 * stays; 6 is alone in hour 1; 7 and 8 are young.
	 */
	assert_int_equal(dropped, 1);
	assert_int_equal(n, 4);
	assert_int_equal(pts[0].id, 5);
	assert_int_equal(pts[1].id, 6);
	replica_close(rp);

	rp = open_replica();
	n = replica_points(rp, &pts);
	assert_int_equal(n, 4);
	assert_int_equal(pts[0].id, 5);
	for (id = 5; id <= NPOINTS; id++)
		check_point(rp, id);
	/* The newest point is never pruned, however old. */
	pr.now = T0 + 100000;
	pr.retention = 60;
	assert_int_equal(replica_prune(rp, &pr, &dropped, &cause), 0);
	assert_int_equal(replica_points(rp, &pts), 1);
	assert_int_equal(pts[0].id, NPOINTS);
	check_point(rp, NPOINTS);
	replica_close(rp);
	free(cause);
}

/*
 * Flip a byte inside the first undo record with bytes and a seq above
 * min_seq (with any_rec, in the header of the first record of any kind
 * above min_seq); its segment's path and the record's offset come back.
 */
static char *
corrupt_rec(uint64_t min_seq, int any_rec, off_t *at)
{
	glob_t		 g;
	struct stat	 st;
	uint8_t		 h[56], c;
	char		 pat[256], *path = NULL;
	off_t		 pos, flip;
	uint64_t	 seq;
	uint32_t	 plen;
	size_t		 i, k;
	int		 fd;

	snprintf(pat, sizeof(pat), "%s/journal/*.jrnl", rdir);
	assert_int_equal(glob(pat, 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc && path == NULL; i++) {
		fd = open(g.gl_pathv[i], O_RDWR);
		assert_true(fd != -1 && fstat(fd, &st) == 0);
		for (pos = 32; pos < st.st_size; pos += 56 + plen) {
			assert_int_equal(pread(fd, h, sizeof(h), pos), 56);
			plen = (uint32_t)h[40] << 24 | (uint32_t)h[41] << 16 |
			    (uint32_t)h[42] << 8 | h[43];
			for (seq = 0, k = 8; k < 16; k++)
				seq = seq << 8 | h[k];
			if (seq <= min_seq ||
			    (!any_rec && (h[4] != JR_UNDO || plen == 0)))
				continue;
			flip = any_rec ? pos + 30 : pos + 56 + plen / 2;
			assert_int_equal(pread(fd, &c, 1, flip), 1);
			c ^= 0xff;
			assert_int_equal(pwrite(fd, &c, 1, flip), 1);
			path = xstrdup(g.gl_pathv[i]);
			*at = pos;
			break;
		}
		close(fd);
	}
	globfree(&g);
	assert_non_null(path);
	return path;
}

static void
test_corrupt_journal(void **state)
{
	struct replica			*rp;
	const struct replica_point	*pts;
	struct gen			 g = { 0xabcdef12345ULL, 0 };
	struct cachelog_rec		 r;
	struct stat			 st;
	uint64_t			 id;
	size_t				 n, i;
	off_t				 at = 0;
	char				*seg, *cause = NULL;
	char				 out[256], want[512];
	int				 damaged = 0;

	(void)state;
	rp = open_replica();
	for (id = 1; id <= NPOINTS; id++)
		cycle(rp, &g, 25, id, T0 + (int64_t)id * 600);
	assert_true(count_journal_segments() > 4);
	check_point(rp, 1);
	assert_int_equal(replica_points(rp, &pts), NPOINTS);

	/* Live: the damaged record is met while materializing, not applied. */
	seg = corrupt_rec(pts[0].seq, 0, &at);
	snprintf(out, sizeof(out), "%s/p1.img", tdir);
	assert_int_equal(replica_materialize(rp, 1, out, &cause), -1);
	snprintf(want, sizeof(want), "%s is corrupt at offset %jd ", seg,
	    (intmax_t)at);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	assert_non_null(strstr(cause, "not applied"));
	assert_int_equal(stat(out, &st), -1);	/* no half image left */
	replica_close(rp);

	/* After a restart: reported, old points refused, newer ones fine. */
	rp = open_replica();
	assert_non_null(replica_recovered(rp));
	assert_non_null(strstr(replica_recovered(rp), "journal damaged"));
	assert_non_null(strstr(replica_recovered(rp), seg));
	n = replica_points(rp, &pts);
	assert_int_equal(n, NPOINTS);
	for (i = 0; i < n; i++) {
		if (!pts[i].damaged) {
			check_point(rp, pts[i].id);
			continue;
		}
		damaged++;
		assert_int_equal(replica_materialize(rp, pts[i].id, out,
		    &cause), -1);
		assert_non_null(strstr(cause, "cannot be rebuilt"));
		assert_non_null(strstr(cause, seg));
	}
	assert_true(damaged >= 1);
	assert_true(pts[0].damaged);
	assert_false(pts[n - 1].damaged);
	/* Replication goes on. */
	for (i = 0; i < 10; i++) {
		next_rec(&g, &r);
		apply_ok(rp, &r);
	}
	bookmark(&g, &r, 100, T0 + 99999);
	apply_ok(rp, &r);
	check_image(ref);
	replica_close(rp);
	free(seg);
	free(cause);
}

static int	crash_step;

static void
crash_at(int step)
{
	if (step == crash_step)
		_exit(0);
}

/*
 * A child applies point 1, then more records, and dies at a step of
 * the next sync.  The parent reopens: the image is exactly point 1 (the
 * commit never happened) or includes the records (it did).
 */
static void
crash_case(int step)
{
	struct replica		*rp;
	struct cachelog_rec	 r;
	struct gen		 g = { 0x5eed, 0 }, g2;
	uint64_t		 applied;
	off_t			 at;
	char			*cause = NULL;
	pid_t			 pid;
	int			 status, i;

	if ((pid = fork()) == 0) {
		rp = open_batch(8u << 20);
		cycle(rp, &g, 20, 1, T0);
		for (i = 0; i < 15; i++) {
			next_rec(&g, &r);
			if (replica_apply(rp, &r, &cause) != 1)
				_exit(2);
		}
		crash_step = step;
		replica_crash_hook = crash_at;
		replica_sync(rp, NULL, &cause);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	if (step == 1) {
		/*
		 * The crash could also have torn the batch's journal write
		 * anywhere (it is synced before the image is touched): a
		 * bad record right after the last commit is cut off, and
		 * costs no recovery point.
		 */
		free(corrupt_rec(21, 1, &at));
	}

	/*
	 * The last batch was committed at a crash after the commit marker
	 * (step 3), else it is rolled back out of the image.
	 */
	rp = open_replica();
	applied = replica_applied_seq(rp);
	if (step == 3)
		assert_int_equal(applied, 36);
	else {
		assert_int_equal(applied, 21);
		assert_non_null(replica_recovered(rp));
		assert_non_null(strstr(replica_recovered(rp), "rolled back"));
	}
	memset(ref, 0, sizeof(ref));
	g2 = g;
	for (i = 0; i < 20; i++)
		next_rec(&g2, &r);
	bookmark(&g2, &r, 1, T0);
	memcpy(snaps[1], ref, DISK);
	while (g2.seq < applied)
		next_rec(&g2, &r);
	check_image(ref);
	check_point(rp, 1);

	/* The PS re-sends from applied + 1; the result is the same. */
	memset(ref, 0, sizeof(ref));
	g2 = g;
	for (i = 0; i < 20; i++)
		next_rec(&g2, &r);
	bookmark(&g2, &r, 1, T0);
	for (i = 0; i < 15; i++) {
		next_rec(&g2, &r);
		assert_int_equal(replica_apply(rp, &r, &cause),
		    r.seq > applied ? 1 : 0);
	}
	bookmark(&g2, &r, 2, T0 + 60);
	apply_ok(rp, &r);
	memcpy(snaps[2], ref, DISK);
	check_image(ref);
	check_point(rp, 1);
	check_point(rp, 2);
	replica_close(rp);
	free(cause);
}

static void
test_crash_recovery(void **state)
{
	int	step;

	for (step = 1; step <= 3; step++) {
		teardown(state);
		setup(state);
		crash_case(step);
	}
}

static void
test_refusals(void **state)
{
	struct replica		*rp;
	struct replica_conf	 conf = { DISK * 2, JSEG, 0 };
	struct cachelog_rec	 r;
	char			*cause = NULL, img[256];

	(void)state;
	rp = open_replica();
	memset(&r, 0, sizeof(r));
	r.seq = 1;
	r.type = CL_DATA;
	r.offset = DISK - 10;
	r.data = data;
	r.len = 11;
	assert_int_equal(replica_apply(rp, &r, &cause), -1);
	assert_non_null(strstr(cause, "past the disk's end"));
	r.type = CL_BOOKMARK;
	r.offset = 3;
	r.data = (const uint8_t *)"two words";
	r.len = 9;
	assert_int_equal(replica_apply(rp, &r, &cause), -1);
	assert_non_null(strstr(cause, "bad kind"));
	r.data = (const uint8_t *)"crash";
	r.len = 5;
	apply_ok(rp, &r);
	snprintf(img, sizeof(img), "%s/replica.img", rdir);
	assert_int_equal(replica_materialize(rp, 3, img, &cause), -1);
	assert_non_null(strstr(cause, "replica image itself"));
	replica_close(rp);
	assert_null(replica_open(rdir, &conf, &cause));
	assert_non_null(strstr(cause, "does not match"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_points_materialize,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_journal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_recovery, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
