/*
 * Replica: see replica.h and docs/storage.md.
 *
 * Write-ahead rule of an undo log: the old bytes of a region are durable
 * in the journal before the new bytes can reach the image.  So records
 * are taken in batches: their old bytes go to the journal at once, their
 * new bytes wait in memory; replica_sync() then (1) syncs the journal,
 * (2) writes and syncs the image, (3) appends and syncs a commit marker.
 * A crash anywhere leaves journal records past the last commit; the
 * open undoes them from the image, newest first, and cuts them off.
 *
 * The old bytes of a record are read from the committed image, not
 * through the writes still waiting in the batch.  That is right because
 * a batch is undone whole or not at all: a bookmark ends its batch, so
 * no recovery point falls inside one, and undoing a batch newest first
 * leaves the oldest undo of each byte, i.e. the committed image.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "endian_be.h"
#include "journal.h"
#include "replica.h"
#include "util.h"

#define STATE_MAGIC	"haven-replica 1"
#define BATCH_DEFAULT	(32u << 20)
#define MAX_BATCH_RECS	4096
#define ZERO_CHUNK	(1u << 20)

void	(*replica_crash_hook)(int);

struct pwrite {
	uint64_t	 off;
	uint64_t	 len;
	size_t		 at;	/* into pdata; SIZE_MAX: zeros */
};

struct replica {
	char			*dir;
	char			*img;
	int			 dfd;
	int			 fd;
	uint64_t		 size;
	struct journal		*j;
	uint64_t		 batch;
	uint64_t		 applied;	/* durable */
	uint64_t		 last;		/* taken, maybe not durable */
	uint64_t		 last_point;
	struct pwrite		*pw;
	size_t			 npw;
	struct fbuf		 pdata;
	struct fbuf		 old;
	struct replica_point	*pts;
	size_t			 npts;
	struct replica_point	 newpt;		/* bookmark awaiting its sync */
	int			 has_newpt;
	char			*note;
	char			*broken;
};

/* Like pread_all(), but past the end of the image reads as zeros. */
static int
pread_zero(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void
hook(int step)
{
	if (replica_crash_hook != NULL)
		replica_crash_hook(step);
}

static void
add_note(struct replica *rp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_note(struct replica *rp, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, *t;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	if (rp->note == NULL) {
		rp->note = s;
		return;
	}
	t = xasprintf("%s; %s", rp->note, s);
	free(rp->note);
	free(s);
	rp->note = t;
}



static int
is_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Zeros over [off, off+len): a hole where the filesystem can. */
static int
write_zeros(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t	zeros[ZERO_CHUNK];
	uint64_t		n;

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	for (; len > 0; off += n, len -= n) {
		n = len < sizeof(zeros) ? len : sizeof(zeros);
		if (pwrite_all(fd, zeros, n, off) == -1)
			return -1;
	}
	return 0;
}

/* --- the state file ------------------------------------------------- */

static int
state_write(struct replica *rp, char **cause)
{
	struct fbuf	 b;
	char		*s, *path, hex[17];
	size_t		 i;
	int		 rc;

	fbuf_init(&b);
	s = xasprintf("%s\ndisk-size %" PRIu64 "\napplied %" PRIu64 "\n",
	    STATE_MAGIC, rp->size, rp->applied);
	fbuf_add(&b, s, strlen(s));
	free(s);
	for (i = 0; i < rp->npts; i++) {
		s = xasprintf("point %" PRIu64 " %" PRIu64 " %" PRId64 " %s\n",
		    rp->pts[i].id, rp->pts[i].seq, rp->pts[i].time,
		    rp->pts[i].kind);
		fbuf_add(&b, s, strlen(s));
		free(s);
	}
	snprintf(hex, sizeof(hex), "%016" PRIx64, XXH64(b.data, b.len, 0));
	s = xasprintf("sum %s\n", hex);
	fbuf_add(&b, s, strlen(s));
	free(s);
	path = xasprintf("%s/state", rp->dir);
	rc = write_file_atomic(path, b.data, b.len, 0600, cause);
	free(path);
	fbuf_free(&b);
	return rc;
}

/* A kind travels in the state file as one word. */
static int
kind_ok(const char *k, size_t len)
{
	size_t	i;

	if (len == 0 || len > CACHELOG_MAXKIND)
		return 0;
	for (i = 0; i < len; i++)
		if (k[i] <= ' ' || k[i] > '~')
			return 0;
	return 1;
}

static int
state_read(struct replica *rp, const char *path, uint64_t *size,
    uint64_t *applied, char **cause)
{
	struct replica_point	 pt;
	char			*buf, *line, *next, *sum, kind[64];
	size_t			 len;
	int			 n, lineno = 0;

	if ((buf = read_file(path, &len, cause)) == NULL)
		return -1;
	sum = strstr(buf, "\nsum ");
	if (sum == NULL || strlen(sum) != 22 || sum[21] != '\n' ||
	    strtoull(sum + 5, NULL, 16) !=
	    XXH64(buf, (size_t)(sum + 1 - buf), 0)) {
		set_cause(cause, "replica state %s is corrupt (checksum): "
		    "restore it from a backup, or resynchronise the disk into "
		    "a new replica directory", path);
		free(buf);
		return -1;
	}
	sum[1] = '\0';
	for (line = buf; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, STATE_MAGIC) != 0)
				goto bad;
		} else if (sscanf(line, "disk-size %" SCNu64 "%n", size, &n)
		    == 1 && line[n] == '\0')
			;
		else if (sscanf(line, "applied %" SCNu64 "%n", applied, &n)
		    == 1 && line[n] == '\0')
			;
		else if (sscanf(line, "point %" SCNu64 " %" SCNu64 " %" SCNd64
		    " %63s%n", &pt.id, &pt.seq, &pt.time, kind, &n) == 4 &&
		    line[n] == '\0' && kind_ok(kind, strlen(kind))) {
			memcpy(pt.kind, kind, strlen(kind) + 1);
			pt.damaged = 0;
			rp->pts = xrealloc(rp->pts,
			    (rp->npts + 1) * sizeof(*rp->pts));
			rp->pts[rp->npts++] = pt;
		} else
			goto bad;
	}
	free(buf);
	return 0;
bad:
	set_cause(cause, "replica state %s: line %d is not understood "
	    "(written by a newer Haven?)", path, lineno);
	free(buf);
	return -1;
}

/* --- open and crash recovery ------------------------------------------ */

struct seen {
	uint64_t		 seq;
	uint8_t			 type;
	struct journal_pos	 pos;
};

struct openscan {
	uint64_t		 checkpoint;	/* applied, from the state */
	uint64_t		 commit;
	int			 has_commit;
	struct journal_pos	 commit_pos;	/* the last commit marker */
	struct seen		*v;		/* records past checkpoint */
	size_t			 n;
	struct replica_point	*bm;		/* bookmarks past it */
	size_t			 nbm;
};

static int
open_cb(const struct journal_rec *r, const struct journal_pos *jp, void *arg)
{
	struct openscan		*os = arg;
	struct replica_point	*pt;

	if (r->type == JR_COMMIT) {
		if (r->seq > os->commit)
			os->commit = r->seq;
		os->has_commit = 1;
		os->commit_pos = *jp;
	}
	if (r->seq <= os->checkpoint)
		return 0;
	os->v = xrealloc(os->v, (os->n + 1) * sizeof(*os->v));
	os->v[os->n].seq = r->seq;
	os->v[os->n].type = r->type;
	os->v[os->n].pos = *jp;
	os->n++;
	if (r->type == JR_BOOKMARK && kind_ok((const char *)r->data, r->len)) {
		os->bm = xrealloc(os->bm, (os->nbm + 1) * sizeof(*os->bm));
		pt = &os->bm[os->nbm++];
		memset(pt, 0, sizeof(*pt));
		pt->id = r->point;
		pt->seq = r->seq;
		pt->time = (int64_t)r->offset;
		memcpy(pt->kind, r->data, r->len);
	}
	return 0;
}

static int
pos_before(const struct journal_pos *a, const struct journal_pos *b)
{
	return a->segno < b->segno || (a->segno == b->segno && a->off < b->off);
}

/*
 * Undo the records past the last commit, newest first, then cut the
 * journal at *cut: the first of them, or a torn stretch before it.
 */
static int
rollback(struct replica *rp, struct openscan *os, uint64_t commit,
    const struct journal_pos *cut, char **cause)
{
	struct journal_rec	 r;
	size_t			 i, first = os->n, undone = 0;

	for (i = 0; i < os->n; i++)
		if (os->v[i].seq > commit) {
			first = i;
			break;
		}
	for (i = os->n; i-- > first; ) {
		if (os->v[i].type != JR_UNDO)
			continue;
		if (journal_read(rp->j, &os->v[i].pos, &r, cause) == -1)
			return -1;
		if (((r.flags & JF_ZERO) ?
		    write_zeros(rp->fd, r.offset, r.length) :
		    pwrite_all(rp->fd, r.data, r.len, r.offset)) == -1) {
			set_cause(cause, "cannot roll back replica image %s: "
			    "%s", rp->img, strerror(errno));
			return -1;
		}
		undone++;
	}
	if (first < os->n && fdatasync(rp->fd) == -1) {
		set_cause(cause, "cannot sync replica image %s: %s", rp->img,
		    strerror(errno));
		return -1;
	}
	if (first < os->n &&
	    (cut == NULL || pos_before(&os->v[first].pos, cut)))
		cut = &os->v[first].pos;
	if (cut == NULL)
		return 0;
	if (journal_truncate(rp->j, cut, cause) == -1)
		return -1;
	if (first < os->n)
		add_note(rp, "rolled back %zu uncommitted journal records (seq "
		    "%" PRIu64 " to %" PRIu64 ") out of the image", undone,
		    os->v[first].seq, os->v[os->n - 1].seq);
	return 0;
}

static int
open_image(struct replica *rp, int fresh, char **cause)
{
	struct stat	st;

	rp->fd = open(rp->img, O_RDWR | O_CLOEXEC | (fresh ? O_CREAT : 0),
	    0600);
	if (rp->fd == -1 || fstat(rp->fd, &st) == -1) {
		set_cause(cause, "cannot open replica image %s: %s", rp->img,
		    strerror(errno));
		return -1;
	}
	if (fresh && (ftruncate(rp->fd, (off_t)rp->size) == -1 ||
	    fsync(rp->fd) == -1 || fsync(rp->dfd) == -1)) {
		set_cause(cause, "cannot create replica image %s of %" PRIu64
		    " bytes: %s", rp->img, rp->size, strerror(errno));
		return -1;
	}
	if (!fresh && (uint64_t)st.st_size != rp->size) {
		set_cause(cause, "replica image %s is %jd bytes, its state "
		    "says %" PRIu64 ": resynchronise the disk into a new "
		    "replica directory", rp->img, (intmax_t)st.st_size,
		    rp->size);
		return -1;
	}
	return 0;
}

struct replica *
replica_open(const char *dir, const struct replica_conf *conf, char **cause)
{
	struct replica			*rp;
	struct openscan			 os;
	const struct journal_damage	*dmg;
	const struct journal_pos	*cut = NULL;
	struct journal_pos		 cutpos;
	char				*path = NULL, *jdir = NULL;
	uint64_t			 size = 0, commit;
	size_t				 i, k, nd;
	int				 fresh, dirty = 0;

	memset(&os, 0, sizeof(os));
	rp = xcalloc(1, sizeof(*rp));
	rp->dir = xstrdup(dir);
	rp->img = xasprintf("%s/replica.img", dir);
	rp->dfd = rp->fd = -1;
	rp->batch = conf->batch ? conf->batch : BATCH_DEFAULT;
	fbuf_init(&rp->pdata);
	fbuf_init(&rp->old);
	if (mkdir_p(dir, 0700, cause) == -1)
		goto fail;
	if ((rp->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open replica directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (flock(rp->dfd, LOCK_EX | LOCK_NB) == -1) {
		set_cause(cause, "replica %s is in use by another process "
		    "(%s)", dir, strerror(errno));
		goto fail;
	}
	path = xasprintf("%s/state", dir);
	fresh = access(path, F_OK) == -1 && errno == ENOENT;
	if (!fresh &&
	    state_read(rp, path, &size, &rp->applied, cause) == -1)
		goto fail;
	if (fresh)
		size = conf->disk_size;
	if (size == 0 || (conf->disk_size != 0 && conf->disk_size != size)) {
		set_cause(cause, "replica %s: disk size %" PRIu64 " does not "
		    "match %" PRIu64 " (resizing a protected disk needs a "
		    "resynchronisation into a new replica directory)", dir,
		    conf->disk_size, size);
		goto fail;
	}
	rp->size = size;
	if (open_image(rp, fresh, cause) == -1)
		goto fail;
	if (fresh && state_write(rp, cause) == -1)
		goto fail;

	os.checkpoint = rp->applied;
	jdir = xasprintf("%s/journal", dir);
	if ((rp->j = journal_open(jdir, conf->journal_segsize, open_cb, &os,
	    cause)) == NULL)
		goto fail;
	if (journal_recovered(rp->j) != NULL)
		add_note(rp, "%s", journal_recovered(rp->j));
	commit = os.commit > rp->applied ? os.commit : rp->applied;
	/*
	 * Past the last commit marker the image was not yet written when
	 * the journal tore (it is synced first), so damage there is a torn
	 * write: cut.  Before it, damage costs the points that needed it.
	 */
	nd = journal_damage(rp->j, &dmg);
	for (k = 0; k < nd; k++) {
		if (os.has_commit && pos_before(&dmg[k].pos, &os.commit_pos))
			continue;
		if (cut == NULL || pos_before(&dmg[k].pos, cut))
			cut = &dmg[k].pos;
		add_note(rp, "torn journal write after the last commit cut "
		    "off: %s", dmg[k].where);
	}
	if (cut != NULL)
		cutpos = *cut;
	if (rollback(rp, &os, commit, cut != NULL ? &cutpos : NULL, cause)
	    == -1)
		goto fail;
	nd = journal_damage(rp->j, &dmg);
	for (k = 0; k < nd; k++)
		add_note(rp, "journal damaged: %s", dmg[k].where);
	for (i = 0; i < os.nbm; i++) {
		if (os.bm[i].seq > commit)
			break;
		rp->pts = xrealloc(rp->pts, (rp->npts + 1) * sizeof(*rp->pts));
		rp->pts[rp->npts++] = os.bm[i];
		dirty = 1;
	}
	for (i = 0; i < rp->npts; i++)
		for (k = 0; k < nd; k++)
			if (rp->pts[i].seq < dmg[k].below)
				rp->pts[i].damaged = 1;
	if (commit != rp->applied)
		dirty = 1;
	rp->applied = rp->last = commit;
	if (rp->npts > 0)
		rp->last_point = rp->pts[rp->npts - 1].id;
	if (dirty && state_write(rp, cause) == -1)
		goto fail;
	free(os.v);
	free(os.bm);
	free(path);
	free(jdir);
	return rp;
fail:
	free(os.v);
	free(os.bm);
	free(path);
	free(jdir);
	replica_close(rp);
	return NULL;
}

void
replica_close(struct replica *rp)
{
	if (rp == NULL)
		return;
	journal_close(rp->j);
	if (rp->fd != -1)
		close(rp->fd);
	if (rp->dfd != -1)
		close(rp->dfd);
	fbuf_free(&rp->pdata);
	fbuf_free(&rp->old);
	free(rp->pw);
	free(rp->pts);
	free(rp->note);
	free(rp->broken);
	free(rp->img);
	free(rp->dir);
	free(rp);
}

const char *
replica_recovered(const struct replica *rp)
{
	return rp->note;
}

uint64_t
replica_applied_seq(const struct replica *rp)
{
	return rp->applied;
}

uint64_t
replica_disk_size(const struct replica *rp)
{
	return rp->size;
}

uint64_t
replica_journal_bytes(const struct replica *rp)
{
	return journal_bytes(rp->j);
}

size_t
replica_points(const struct replica *rp, const struct replica_point **pp)
{
	*pp = rp->pts;
	return rp->npts;
}

/* --- applying --------------------------------------------------------- */

static int
undo_append(struct replica *rp, uint64_t seq, uint64_t off, uint64_t len,
    const uint8_t *old, char **cause)
{
	struct journal_rec	jr;

	memset(&jr, 0, sizeof(jr));
	jr.type = JR_UNDO;
	jr.seq = seq;
	jr.point = rp->last_point;
	jr.offset = off;
	jr.length = len;
	if (old == NULL)
		jr.flags = JF_ZERO;
	else {
		jr.data = old;
		jr.len = (uint32_t)len;
	}
	return journal_append(rp->j, &jr, cause);
}

/*
 * Journal the old bytes of [off, off+len).  Holes and zero chunks go
 * as zero-undo records without bytes; when the new bytes are zeros too
 * such chunks need no undo at all.
 */
static int
undo_region(struct replica *rp, uint64_t seq, uint64_t off, uint64_t len,
    int zero_write, char **cause)
{
	uint64_t	pos = off, end = off + len, d, h, n;
	off_t		o;

	while (pos < end) {
		if ((o = lseek(rp->fd, (off_t)pos, SEEK_DATA)) == -1) {
			if (errno != ENXIO)
				goto ioerr;
			d = end;
		} else
			d = (uint64_t)o < end ? (uint64_t)o : end;
		if (d > pos) {
			if (!zero_write && undo_append(rp, seq, pos, d - pos,
			    NULL, cause) == -1)
				return -1;
			pos = d;
			continue;
		}
		if ((o = lseek(rp->fd, (off_t)pos, SEEK_HOLE)) == -1)
			goto ioerr;
		h = (uint64_t)o < end ? (uint64_t)o : end;
		n = h - pos < JOURNAL_MAXPAYLOAD ? h - pos : JOURNAL_MAXPAYLOAD;
		fbuf_reset(&rp->old);
		fbuf_reserve(&rp->old, n);
		if (pread_zero(rp->fd, rp->old.data, n, pos) == -1)
			goto ioerr;
		if (is_zero(rp->old.data, n)) {
			if (!zero_write &&
			    undo_append(rp, seq, pos, n, NULL, cause) == -1)
				return -1;
		} else if (undo_append(rp, seq, pos, n, rp->old.data, cause)
		    == -1)
			return -1;
		pos += n;
	}
	return 0;
ioerr:
	set_cause(cause, "cannot read replica image %s at offset %" PRIu64
	    ": %s", rp->img, pos, strerror(errno));
	return -1;
}

static int
apply_bookmark(struct replica *rp, const struct cachelog_rec *r,
    char **cause)
{
	struct journal_rec	 jr;
	struct replica_point	*pt;
	size_t			 i;

	if (!kind_ok((const char *)r->data, r->len)) {
		set_cause(cause, "replica %s: bookmark seq %" PRIu64 " has a "
		    "bad kind (1 to %d printable characters, no spaces)",
		    rp->dir, r->seq, CACHELOG_MAXKIND);
		return -1;
	}
	for (i = 0; i < rp->npts; i++)
		if (rp->pts[i].id == r->offset) {
			set_cause(cause, "replica %s: bookmark seq %" PRIu64
			    " repeats recovery point %" PRIu64 " (seq %" PRIu64
			    ")", rp->dir, r->seq, r->offset, rp->pts[i].seq);
			return -1;
		}
	memset(&jr, 0, sizeof(jr));
	jr.type = JR_BOOKMARK;
	jr.seq = r->seq;
	jr.point = r->offset;
	jr.offset = r->aux;
	jr.data = r->data;
	jr.len = r->len;
	if (journal_append(rp->j, &jr, cause) == -1)
		return -1;
	rp->last = r->seq;
	pt = &rp->newpt;
	memset(pt, 0, sizeof(*pt));
	pt->id = r->offset;
	pt->seq = r->seq;
	pt->time = (int64_t)r->aux;
	memcpy(pt->kind, r->data, r->len);
	rp->has_newpt = 1;
	/* Taken even if this sync fails: the next successful one lists it. */
	return replica_sync(rp, NULL, cause) == -1 ? -1 : 1;
}

int
replica_apply(struct replica *rp, const struct cachelog_rec *r,
    char **cause)
{
	struct pwrite	*pw;
	const char	*why;
	uint64_t	 len;
	int		 zero;

	if (rp->broken != NULL) {
		set_cause(cause, "%s", rp->broken);
		return -1;
	}
	if ((why = cachelog_rec_invalid(r)) != NULL) {
		set_cause(cause, "replica %s: record seq %" PRIu64 " refused: "
		    "%s", rp->dir, r->seq, why);
		return -1;
	}
	if (r->seq <= rp->last)
		return 0;
	/* At most one point awaits a sync: finish it before going on. */
	if (rp->has_newpt && replica_sync(rp, NULL, cause) == -1)
		return -1;
	if (r->type == CL_BOOKMARK)
		return apply_bookmark(rp, r, cause);
	len = r->type == CL_DATA ? r->len : r->aux;
	if (r->offset > rp->size || len > rp->size - r->offset) {
		set_cause(cause, "replica %s: record seq %" PRIu64 " writes "
		    "bytes %" PRIu64 "..%" PRIu64 " past the disk's end (%"
		    PRIu64 " bytes): the agent and the replica disagree on "
		    "the disk size", rp->dir, r->seq, r->offset,
		    r->offset + len, rp->size);
		return -1;
	}
	if (rp->npw > 0 && (rp->pdata.len + r->len > rp->batch ||
	    rp->npw >= MAX_BATCH_RECS) && replica_sync(rp, NULL, cause) == -1)
		return -1;
	zero = r->type == CL_ZERO || is_zero(r->data, r->len);
	if (undo_region(rp, r->seq, r->offset, len, zero, cause) == -1)
		return -1;
	rp->pw = xrealloc(rp->pw, (rp->npw + 1) * sizeof(*rp->pw));
	pw = &rp->pw[rp->npw++];
	pw->off = r->offset;
	pw->len = len;
	pw->at = SIZE_MAX;
	if (!zero) {
		pw->at = rp->pdata.len;
		fbuf_add(&rp->pdata, r->data, r->len);
	}
	rp->last = r->seq;
	return 1;
}

int
replica_sync(struct replica *rp, uint64_t *applied, char **cause)
{
	struct journal_rec	 jr;
	struct pwrite		*pw;
	size_t			 i;
	int			 rc;

	if (rp->broken != NULL) {
		set_cause(cause, "%s", rp->broken);
		return -1;
	}
	if (rp->last == rp->applied) {
		if (applied != NULL)
			*applied = rp->applied;
		return 0;
	}
	if (journal_sync(rp->j, cause) == -1)
		return -1;
	hook(1);
	for (i = 0; i < rp->npw; i++) {
		pw = &rp->pw[i];
		if (pw->at == SIZE_MAX)
			rc = write_zeros(rp->fd, pw->off, pw->len);
		else
			rc = pwrite_all(rp->fd, rp->pdata.data + pw->at,
			    pw->len, pw->off);
		if (rc == -1)
			goto broken;
	}
	if (fdatasync(rp->fd) == -1)
		goto broken;
	hook(2);
	memset(&jr, 0, sizeof(jr));
	jr.type = JR_COMMIT;
	jr.seq = rp->last;
	if (journal_append(rp->j, &jr, cause) == -1 ||
	    journal_sync(rp->j, cause) == -1) {
		rp->broken = xasprintf("replica %s: cannot record a commit "
		    "(%s): restart the master target, it will roll the image "
		    "back to seq %" PRIu64, rp->dir,
		    cause != NULL && *cause != NULL ? *cause : "?",
		    rp->applied);
		return -1;
	}
	hook(3);
	rp->applied = rp->last;
	rp->npw = 0;
	fbuf_reset(&rp->pdata);
	if (applied != NULL)
		*applied = rp->applied;
	if (rp->has_newpt) {
		rp->pts = xrealloc(rp->pts, (rp->npts + 1) * sizeof(*rp->pts));
		rp->pts[rp->npts++] = rp->newpt;
		rp->last_point = rp->newpt.id;
		rp->has_newpt = 0;
		/* On failure the journal still lists it for the next open. */
		if (state_write(rp, cause) == -1)
			return -1;
	}
	return 0;
broken:
	rp->broken = xasprintf("replica %s: cannot write image %s (%s): "
	    "restart the master target, it will roll the image back to seq %"
	    PRIu64, rp->dir, rp->img, strerror(errno), rp->applied);
	set_cause(cause, "%s", rp->broken);
	return -1;
}

/* --- recovery --------------------------------------------------------- */

/* A sparse copy of the image: clone where the filesystem can. */
static int
copy_image(struct replica *rp, int out, char **cause)
{
	uint64_t	pos = 0, d, h, n;
	off_t		o, in_off, out_off;
	ssize_t		k;

	if (ioctl(out, FICLONE, rp->fd) == 0)
		return 0;
	if (ftruncate(out, (off_t)rp->size) == -1)
		goto err;
	while (pos < rp->size) {
		if ((o = lseek(rp->fd, (off_t)pos, SEEK_DATA)) == -1) {
			if (errno == ENXIO)
				break;
			goto err;
		}
		d = (uint64_t)o;
		if ((o = lseek(rp->fd, (off_t)d, SEEK_HOLE)) == -1)
			goto err;
		h = (uint64_t)o < rp->size ? (uint64_t)o : rp->size;
		for (pos = d; pos < h; pos += (uint64_t)k) {
			n = h - pos;
			in_off = out_off = (off_t)pos;
			k = copy_file_range(rp->fd, &in_off, out, &out_off,
			    (size_t)n, 0);
			if (k == -1 && (errno == EXDEV || errno == ENOSYS ||
			    errno == EINVAL || errno == EOPNOTSUPP)) {
				n = n < JOURNAL_MAXPAYLOAD ? n :
				    JOURNAL_MAXPAYLOAD;
				fbuf_reset(&rp->old);
				fbuf_reserve(&rp->old, n);
				if (pread_zero(rp->fd, rp->old.data, n, pos)
				    == -1 || pwrite_all(out, rp->old.data, n,
				    pos) == -1)
					goto err;
				k = (ssize_t)n;
			} else if (k <= 0)
				goto err;
		}
	}
	return 0;
err:
	set_cause(cause, "cannot copy replica image %s: %s", rp->img,
	    strerror(errno ? errno : EIO));
	return -1;
}

struct undolist {
	struct journal_pos	*v;
	size_t			 n;
};

static int
undo_cb(const struct journal_rec *r, const struct journal_pos *jp, void *arg)
{
	struct undolist	*ul = arg;

	if (r->type != JR_UNDO)
		return 0;
	ul->v = xrealloc(ul->v, (ul->n + 1) * sizeof(*ul->v));
	ul->v[ul->n++] = *jp;
	return 0;
}

int
replica_materialize(struct replica *rp, uint64_t id, const char *out_path,
    char **cause)
{
	const struct journal_damage	*dmg;
	struct replica_point		*pt = NULL;
	struct journal_rec		 r;
	struct undolist			 ul;
	struct stat			 a, b;
	size_t				 i, k, nd;
	int				 out = -1;

	for (i = 0; i < rp->npts; i++)
		if (rp->pts[i].id == id)
			pt = &rp->pts[i];
	if (pt == NULL) {
		set_cause(cause, "replica %s has no recovery point %" PRIu64
		    " (pruned, or its bookmark never arrived)", rp->dir, id);
		return -1;
	}
	if (pt->damaged) {
		nd = journal_damage(rp->j, &dmg);
		for (k = 0; k < nd && pt->seq >= dmg[k].below; k++)
			;
		set_cause(cause, "recovery point %" PRIu64 " of replica %s "
		    "cannot be rebuilt: the journal is damaged (%s); choose a "
		    "newer point", id, rp->dir, k < nd ? dmg[k].where : "?");
		return -1;
	}
	if (replica_sync(rp, NULL, cause) == -1)
		return -1;
	if (stat(out_path, &b) == 0 && fstat(rp->fd, &a) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		set_cause(cause, "refusing to materialize onto the replica "
		    "image itself (%s)", out_path);
		return -1;
	}
	memset(&ul, 0, sizeof(ul));
	if ((out = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		set_cause(cause, "cannot create %s: %s", out_path,
		    strerror(errno));
		return -1;
	}
	if (copy_image(rp, out, cause) == -1)
		goto fail;
	if (journal_scan(rp->j, pt->seq, undo_cb, &ul, cause) == -1)
		goto fail;
	for (i = ul.n; i-- > 0; ) {
		if (journal_read(rp->j, &ul.v[i], &r, cause) == -1)
			goto fail;
		if ((r.flags & JF_ZERO) ?
		    write_zeros(out, r.offset, r.length) == -1 :
		    pwrite_all(out, r.data, r.len, r.offset) == -1) {
			set_cause(cause, "cannot write %s: %s", out_path,
			    strerror(errno));
			goto fail;
		}
	}
	if (fsync(out) == -1) {
		set_cause(cause, "cannot sync %s: %s", out_path,
		    strerror(errno));
		goto fail;
	}
	close(out);
	free(ul.v);
	return 0;
fail:
	close(out);
	unlink(out_path);
	free(ul.v);
	return -1;
}

/* Within a thinning interval keep an app-consistent point, else the newest. */
static int
better(const struct replica_point *a, const struct replica_point *b)
{
	int	aa = strcmp(a->kind, "app") == 0;
	int	ba = strcmp(b->kind, "app") == 0;

	if (aa != ba)
		return aa;
	return a->seq > b->seq;
}

#define THIN_OLD(i)	(pr->now - rp->pts[(i)].time > pr->thin_after)

int
replica_prune(struct replica *rp, const struct replica_prune *pr,
    size_t *dropped, char **cause)
{
	uint8_t				*keep;
	size_t				 i, k, m, n = rp->npts, w, keeper;
	int64_t				 age, bucket;

	if (dropped != NULL)
		*dropped = 0;
	if (n == 0)
		return state_write(rp, cause) == -1 ? -1 :
		    journal_release(rp->j, rp->applied, cause);
	keep = xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		age = pr->now - rp->pts[i].time;
		keep[i] = i == n - 1 || pr->retention <= 0 ||
		    age <= pr->retention;
	}
	if (pr->thin_every > 0 && pr->thin_after > 0) {
		/* Groups of one interval each; the newest point stays out. */
		for (i = 0; i + 1 < n; i = k) {
			bucket = rp->pts[i].time / pr->thin_every;
			for (k = i; k + 1 < n &&
			    rp->pts[k].time / pr->thin_every == bucket; k++)
				;
			keeper = SIZE_MAX;
			for (m = i; m < k; m++)
				if (keep[m] && THIN_OLD(m) && (keeper ==
				    SIZE_MAX || better(&rp->pts[m],
				    &rp->pts[keeper])))
					keeper = m;
			for (m = i; m < k; m++)
				if (THIN_OLD(m) && m != keeper)
					keep[m] = 0;
		}
	}
	for (i = w = 0; i < n; i++)
		if (keep[i])
			rp->pts[w++] = rp->pts[i];
	free(keep);
	rp->npts = w;
	if (dropped != NULL)
		*dropped = n - w;
	/* Before any commit marker goes: the state must say what it did. */
	if (state_write(rp, cause) == -1)
		return -1;
	/* Records up to the oldest point's bookmark undo nothing it needs. */
	return journal_release(rp->j, rp->pts[0].seq, cause);
}
