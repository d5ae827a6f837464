/*
 * Cache log: see cachelog.h and docs/storage.md.
 *
 * Segment "<first seq, 16 hex>.clog": a 32-byte header (magic, version,
 * base = the seq just before its first record, checksum) and records,
 * each a 48-byte header and payload with an XXH64 over both.  Segments
 * are created whole (write, fsync, rename) so a header is never torn;
 * records are only ever appended, so a crash tears at most the tail of
 * the last segment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH64_state_t on the stack */
#include <xxhash.h>

#include "endian_be.h"
#include "segfile.h"
#include "cachelog.h"
#include "util.h"

#define SEG_MAGIC	0x48564353u	/* "HVCS" */
#define REC_MAGIC	0x48564352u	/* "HVCR" */
#define SEG_VERSION	1
#define SEG_HDR		32
#define REC_HDR		48
#define FS_SLACK	(64u * 1024)	/* block rounding, a new segment */
#define SEG_MIN		(1u << 20)	/* smallest automatic segment size */

struct seg {
	uint64_t	 base;		/* seq just before its first record */
	uint64_t	 last;		/* its last seq, or base when empty */
	uint64_t	 size;		/* durable bytes */
};

struct cachelog {
	char		*dir;
	int		 dfd;
	int		 fd;		/* the last segment, read-write */
	struct seg	*segs;
	size_t		 nsegs;
	uint64_t	 segsize;
	uint64_t	 capacity;
	uint64_t	 durable;
	uint64_t	 appended;
	uint64_t	 disk_bytes;
	struct fbuf	 pend;
	uint64_t	 fs_free;
	int		 fs_checked;
	char		*note;
	char		*broken;
};

struct cachelog_iter {
	struct cachelog	*cl;
	uint64_t	 from;
	uint64_t	 base;		/* segment being read */
	int		 fd;
	uint64_t	 pos;
	struct fbuf	 buf;
};







static char *
seg_path(const struct cachelog *cl, uint64_t base)
{
	return xasprintf("%s/%016" PRIx64 ".clog", cl->dir, base + 1);
}

const char *
cachelog_rec_invalid(const struct cachelog_rec *r)
{
	if (r->len > CACHELOG_MAXPAYLOAD)
		return "payload over the 16 MiB limit";
	switch (r->type) {
	case CL_DATA:
		if (r->len == 0)
			return "data record without bytes";
		if (r->offset + r->len < r->offset)
			return "data record past the end of the address space";
		return NULL;
	case CL_ZERO:
		if (r->len != 0 || r->aux == 0)
			return "zero run without a length";
		if (r->offset + r->aux < r->offset)
			return "zero run past the end of the address space";
		return NULL;
	case CL_BOOKMARK:
		if (r->len > CACHELOG_MAXKIND)
			return "bookmark kind too long";
		return NULL;
	default:
		return "unknown record type";
	}
}

static uint64_t
rec_sum(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	XXH64_state_t	st;

	XXH64_reset(&st, 0);
	XXH64_update(&st, hdr, 40);
	if (len > 0)
		XXH64_update(&st, payload, len);
	return XXH64_digest(&st);
}

static void
rec_encode(uint8_t *h, const struct cachelog_rec *r)
{
	memset(h, 0, REC_HDR);
	put32(h, REC_MAGIC);
	h[4] = r->type;
	put64(h + 8, r->seq);
	put64(h + 16, r->offset);
	put64(h + 24, r->aux);
	put32(h + 32, r->len);
	put64(h + 40, rec_sum(h, r->data, r->len));
}

/* Header fields into r (data unset); a reason when they are not sane. */
static const char *
rec_decode_hdr(const uint8_t *h, struct cachelog_rec *r)
{
	if (get32(h) != REC_MAGIC)
		return "bad record magic";
	if (h[5] != 0 || h[6] != 0 || h[7] != 0 || get32(h + 36) != 0)
		return "reserved bytes set";
	memset(r, 0, sizeof(*r));
	r->type = h[4];
	r->seq = get64(h + 8);
	r->offset = get64(h + 16);
	r->aux = get64(h + 24);
	r->len = get32(h + 32);
	return cachelog_rec_invalid(r);
}

static void
seg_hdr_encode(uint8_t *h, uint64_t base)
{
	memset(h, 0, SEG_HDR);
	put32(h, SEG_MAGIC);
	h[5] = SEG_VERSION;
	put64(h + 8, base);
	put64(h + 24, XXH64(h, 24, 0));
}

static const char *
seg_hdr_check(const uint8_t *h, uint64_t base)
{
	if (get32(h) != SEG_MAGIC)
		return "not a cache log segment (bad magic)";
	if (XXH64(h, 24, 0) != get64(h + 24))
		return "segment header checksum mismatch";
	if (h[4] != 0 || h[5] != SEG_VERSION)
		return "unsupported segment version";
	if (get64(h + 8) != base)
		return "segment header does not match its file name";
	return NULL;
}

/* Create a segment whole: header to a temporary, fsync, rename. */
static int
seg_create(struct cachelog *cl, uint64_t base, int *fdp, char **cause)
{
	uint8_t	 h[SEG_HDR];
	char	*path = seg_path(cl, base);
	int	 err;

	seg_hdr_encode(h, base);
	if (segfile_create(cl->dfd, path, h, sizeof(h), fdp) == -1) {
		err = errno;
		set_cause(cause, "cannot create cache log segment %s: %s",
		    path, strerror(err));
		free(path);
		errno = err;
		return -1;
	}
	free(path);
	return 0;
}

static void
seg_push(struct cachelog *cl, uint64_t base, uint64_t last, uint64_t size)
{
	cl->segs = xrealloc(cl->segs, (cl->nsegs + 1) * sizeof(*cl->segs));
	cl->segs[cl->nsegs].base = base;
	cl->segs[cl->nsegs].last = last;
	cl->segs[cl->nsegs].size = size;
	cl->nsegs++;
}


/* The segments' bases (from their names), sorted; stale temporaries go. */
/* The segments' bases (their names are the first seq), sorted. */
static int
list_segments(struct cachelog *cl, uint64_t **basep, size_t *np,
    char **cause)
{
	uint64_t	*v;
	size_t		 n, i, k = 0;

	if (segfile_list(cl->dir, ".clog", &v, &n) == -1) {
		set_cause(cause, "cannot read cache log directory %s: %s",
		    cl->dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (v[i] != 0)
			v[k++] = v[i] - 1;
	*basep = v;
	*np = k;
	return 0;
}

/*
 * Scan one segment, verifying every record.  In the last segment a bad
 * record is a torn tail: truncate there and leave a note.  Elsewhere it
 * is damage to acknowledged data: fail, naming file and offset.
 */
static int
scan_segment(struct cachelog *cl, uint64_t base, int last, char **cause)
{
	struct cachelog_rec	 r;
	struct stat		 st;
	struct fbuf		 pay;
	uint8_t			 h[REC_HDR];
	const char		*why = NULL;
	char			*path;
	uint64_t		 pos, prev = base, end;
	int			 fd, rc = -1;

	path = seg_path(cl, base);
	fbuf_init(&pay);
	if ((fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		set_cause(cause, "cannot open cache log segment %s: %s", path,
		    strerror(errno));
		goto out;
	}
	end = (uint64_t)st.st_size;
	if (end < SEG_HDR)
		why = "segment header missing";
	else if (pread_all(fd, h, SEG_HDR, 0) == -1) {
		set_cause(cause, "cannot read %s: %s", path, strerror(errno));
		goto out;
	} else
		why = seg_hdr_check(h, base);
	if (why != NULL) {
		if (!last) {
			set_cause(cause, "cache log segment %s is corrupt at "
			    "offset 0 (%s): acknowledged changes are lost; "
			    "move %s aside and resynchronise the disk", path,
			    why, cl->dir);
			goto out;
		}
		seg_hdr_encode(h, base);
		if (ftruncate(fd, 0) == -1 ||
		    pwrite_all(fd, h, SEG_HDR, 0) == -1 ||
		    fdatasync(fd) == -1) {
			set_cause(cause, "cannot repair cache log segment %s: "
			    "%s", path, strerror(errno));
			goto out;
		}
		cl->note = xasprintf("cache log segment %s had a damaged "
		    "header (%s): rewritten empty, %" PRIu64 " bytes "
		    "discarded; the log ends at seq %" PRIu64, path, why,
		    end, base);
		end = SEG_HDR;
	}
	for (pos = SEG_HDR; pos < end; pos += REC_HDR + r.len) {
		why = NULL;
		if (end - pos < REC_HDR)
			why = "record header cut short";
		else if (pread_all(fd, h, REC_HDR, pos) == -1) {
			set_cause(cause, "cannot read %s at offset %" PRIu64
			    ": %s", path, pos, strerror(errno));
			goto out;
		} else if ((why = rec_decode_hdr(h, &r)) != NULL)
			;
		else if (r.seq <= prev)
			why = "sequence number out of order";
		else if (end - pos - REC_HDR < r.len)
			why = "record payload cut short";
		else {
			fbuf_reset(&pay);
			fbuf_reserve(&pay, r.len);
			if (pread_all(fd, pay.data, r.len, pos + REC_HDR)
			    == -1) {
				set_cause(cause, "cannot read %s at offset %"
				    PRIu64 ": %s", path, pos, strerror(errno));
				goto out;
			}
			if (rec_sum(h, pay.data, r.len) != get64(h + 40))
				why = "checksum mismatch";
		}
		if (why == NULL) {
			prev = r.seq;
			continue;
		}
		if (!last) {
			set_cause(cause, "cache log segment %s is corrupt at "
			    "offset %" PRIu64 " (%s) after seq %" PRIu64
			    ": acknowledged changes are lost; move %s aside "
			    "and resynchronise the disk", path, pos, why, prev,
			    cl->dir);
			goto out;
		}
		if (ftruncate(fd, (off_t)pos) == -1 || fdatasync(fd) == -1) {
			set_cause(cause, "cannot truncate the torn tail of %s "
			    "at offset %" PRIu64 ": %s", path, pos,
			    strerror(errno));
			goto out;
		}
		free(cl->note);
		cl->note = xasprintf("cache log segment %s: torn or corrupt "
		    "record at offset %" PRIu64 " (%s) truncated, %" PRIu64
		    " bytes discarded; the log ends at seq %" PRIu64, path,
		    pos, why, end - pos, prev);
		end = pos;
		break;
	}
	seg_push(cl, base, prev, end);
	cl->disk_bytes += end;
	if (last) {
		cl->fd = fd;
		fd = -1;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	fbuf_free(&pay);
	free(path);
	return rc;
}

struct cachelog *
cachelog_open(const char *dir, const struct cachelog_conf *conf,
    char **cause)
{
	struct cachelog	*cl;
	struct statvfs	 sv;
	uint64_t	*bases = NULL;
	size_t		 n = 0, i;

	cl = xcalloc(1, sizeof(*cl));
	cl->dir = xstrdup(dir);
	cl->fd = cl->dfd = -1;
	cl->segsize = conf->segsize ? conf->segsize : CACHELOG_SEGSIZE;
	cl->capacity = conf->capacity;
	fbuf_init(&cl->pend);
	if (mkdir_p(dir, 0700, cause) == -1)
		goto fail;
	if ((cl->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open cache log directory %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	if (flock(cl->dfd, LOCK_EX | LOCK_NB) == -1) {
		set_cause(cause, "cache log %s is in use by another process "
		    "(%s)", dir, strerror(errno));
		goto fail;
	}
	/*
	 * Drained segments are released whole and the last one is always
	 * kept: a segment as large as the filesystem would never be freed,
	 * and a full cache would stay full.  Keep segments to an eighth of
	 * a small cache filesystem.
	 */
	if (conf->segsize == 0 && fstatvfs(cl->dfd, &sv) == 0) {
		uint64_t fs = (uint64_t)sv.f_blocks * sv.f_frsize / 8;

		if (fs < SEG_MIN)
			fs = SEG_MIN;
		if (fs < cl->segsize)
			cl->segsize = fs;
	}
	if (list_segments(cl, &bases, &n, cause) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (i > 0 && bases[i] != cl->segs[i - 1].last) {
			set_cause(cause, "cache log %s: segment %016" PRIx64
			    ".clog follows seq %" PRIu64 " but the segment "
			    "before it ends at seq %" PRIu64 ": a segment is "
			    "missing; move %s aside and resynchronise the "
			    "disk", dir, bases[i] + 1, bases[i],
			    cl->segs[i - 1].last, dir);
			goto fail;
		}
		if (scan_segment(cl, bases[i], i == n - 1, cause) == -1)
			goto fail;
	}
	if (n == 0) {
		if (seg_create(cl, conf->base_seq, &cl->fd, cause) == -1)
			goto fail;
		seg_push(cl, conf->base_seq, conf->base_seq, SEG_HDR);
		cl->disk_bytes = SEG_HDR;
	}
	cl->durable = cl->appended = cl->segs[cl->nsegs - 1].last;
	free(bases);
	return cl;
fail:
	free(bases);
	cachelog_close(cl);
	return NULL;
}

void
cachelog_close(struct cachelog *cl)
{
	if (cl == NULL)
		return;
	if (cl->fd != -1)
		close(cl->fd);
	if (cl->dfd != -1)
		close(cl->dfd);
	fbuf_free(&cl->pend);
	free(cl->segs);
	free(cl->note);
	free(cl->broken);
	free(cl->dir);
	free(cl);
}

const char *
cachelog_recovered(const struct cachelog *cl)
{
	return cl->note;
}

int
cachelog_append(struct cachelog *cl, const struct cachelog_rec *r,
    char **cause)
{
	struct statvfs	 sv;
	const char	*why;
	uint8_t		 h[REC_HDR];
	uint64_t	 need = REC_HDR + (uint64_t)r->len;

	if (cl->broken != NULL) {
		set_cause(cause, "%s", cl->broken);
		errno = EIO;
		return -1;
	}
	if ((why = cachelog_rec_invalid(r)) != NULL || r->seq <= cl->appended) {
		set_cause(cause, "cache log %s: refused record seq %" PRIu64
		    ": %s", cl->dir, r->seq, why != NULL ? why :
		    "sequence number not above the last one appended");
		errno = EINVAL;
		return -1;
	}
	if (cl->capacity != 0 &&
	    cl->disk_bytes + cl->pend.len + need > cl->capacity) {
		set_cause(cause, "cache log %s is full (%" PRIu64 " of %"
		    PRIu64 " bytes in use): agents are slowed down until the "
		    "drain ships records to the master target; check that it "
		    "is reachable, or raise the cache capacity", cl->dir,
		    cl->disk_bytes + cl->pend.len, cl->capacity);
		errno = ENOSPC;
		return -1;
	}
	if (!cl->fs_checked) {
		if (fstatvfs(cl->dfd, &sv) == -1) {
			set_cause(cause, "cannot query the filesystem of %s: "
			    "%s", cl->dir, strerror(errno));
			return -1;
		}
		cl->fs_free = (uint64_t)sv.f_bavail * sv.f_frsize;
		cl->fs_checked = 1;
	}
	if (cl->pend.len + need + FS_SLACK > cl->fs_free) {
		set_cause(cause, "the filesystem holding cache log %s is full "
		    "(%" PRIu64 " bytes free): agents are slowed down until "
		    "the drain frees space; free space on the cache disk or "
		    "check that the master target is reachable", cl->dir,
		    cl->fs_free);
		errno = ENOSPC;
		return -1;
	}
	rec_encode(h, r);
	fbuf_add(&cl->pend, h, REC_HDR);
	fbuf_add(&cl->pend, r->data, r->len);
	cl->appended = r->seq;
	return 0;
}

void
cachelog_discard(struct cachelog *cl)
{
	fbuf_reset(&cl->pend);
	cl->appended = cl->durable;
	cl->fs_checked = 0;
}

struct touched {
	int		 fd;
	int		 created;
	uint64_t	 base;
	uint64_t	 last;
	uint64_t	 oldsize;
	uint64_t	 size;
};

/* Undo a failed commit: every segment back to its durable length. */
static void
commit_rollback(struct cachelog *cl, struct touched *t, size_t nt,
    const char *why)
{
	char	*path;
	size_t	 i;
	int	 ok = 1;

	for (i = nt; i-- > 0; ) {
		path = t[i].created ? seg_path(cl, t[i].base) : NULL;
		if (segfile_undo(t[i].fd, path, t[i].oldsize) == -1)
			ok = 0;
		free(path);
	}
	if (fsync(cl->dfd) == -1)
		ok = 0;
	if (!ok)
		cl->broken = xasprintf("cache log %s could not be restored "
		    "after a failed write (%s): restart the process server "
		    "so that it recovers the log", cl->dir, why);
}

int
cachelog_commit(struct cachelog *cl, uint64_t *durable, char **cause)
{
	struct touched	*t, *cur;
	struct seg	*last = &cl->segs[cl->nsegs - 1];
	const uint8_t	*p = cl->pend.data, *rec;
	size_t		 nt = 1, pos, start, i;
	uint64_t	 rl, before, seq;
	int		 err;

	if (cl->broken != NULL) {
		set_cause(cause, "%s", cl->broken);
		errno = EIO;
		return -1;
	}
	if (cl->pend.len == 0) {
		if (durable != NULL)
			*durable = cl->durable;
		return 0;
	}
	t = xcalloc(1, sizeof(*t));
	t[0].fd = cl->fd;
	t[0].base = last->base;
	t[0].last = last->last;
	t[0].oldsize = t[0].size = last->size;
	for (pos = start = 0; pos < cl->pend.len; pos += rl) {
		rec = p + pos;
		rl = REC_HDR + get32(rec + 32);
		seq = get64(rec + 8);
		cur = &t[nt - 1];
		if (cur->size + rl > cl->segsize && cur->size > SEG_HDR) {
			/* Full: write what it gets, go on in a new one. */
			if (pwrite_all(cur->fd, p + start, pos - start,
			    cur->oldsize) == -1)
				goto fail;
			before = cur->last;
			t = xrealloc(t, (nt + 1) * sizeof(*t));
			cur = &t[nt];
			memset(cur, 0, sizeof(*cur));
			if (seg_create(cl, before, &cur->fd, cause) == -1)
				goto fail;
			nt++;
			cur->created = 1;
			cur->base = cur->last = before;
			cur->oldsize = cur->size = SEG_HDR;
			start = pos;
		}
		cur->size += rl;
		cur->last = seq;
	}
	cur = &t[nt - 1];
	if (pwrite_all(cur->fd, p + start, pos - start, cur->oldsize) == -1)
		goto fail;
	for (i = 0; i < nt; i++)
		if (fdatasync(t[i].fd) == -1)
			goto fail;

	last->size = t[0].size;
	last->last = t[0].last;
	for (i = 1; i < nt; i++) {
		close(cl->fd);
		cl->fd = t[i].fd;
		seg_push(cl, t[i].base, t[i].last, t[i].size);
	}
	for (i = 0; i < nt; i++)
		cl->disk_bytes += t[i].size - t[i].oldsize +
		    (t[i].created ? SEG_HDR : 0);
	cl->durable = cl->appended;
	fbuf_reset(&cl->pend);
	cl->fs_checked = 0;
	free(t);
	if (durable != NULL)
		*durable = cl->durable;
	return 0;

fail:
	err = errno;
	set_cause(cause, "cannot write cache log %s: %s; nothing from seq %"
	    PRIu64 " on was acknowledged%s", cl->dir, strerror(err),
	    cl->durable + 1, err == ENOSPC ? ": the cache disk is full, "
	    "free space on it or check that the drain reaches the master "
	    "target" : "");
	commit_rollback(cl, t, nt, strerror(err));
	errno = err;
	cl->fs_checked = 0;
	free(t);
	return -1;
}

uint64_t
cachelog_durable_seq(const struct cachelog *cl)
{
	return cl->durable;
}

uint64_t
cachelog_appended_seq(const struct cachelog *cl)
{
	return cl->appended;
}

uint64_t
cachelog_first_seq(const struct cachelog *cl)
{
	return cl->segs[0].base + 1;
}

uint64_t
cachelog_used(const struct cachelog *cl)
{
	return cl->disk_bytes + cl->pend.len;
}

uint64_t
cachelog_capacity(const struct cachelog *cl)
{
	return cl->capacity;
}

int
cachelog_release(struct cachelog *cl, uint64_t seq, char **cause)
{
	char	*path;
	size_t	 n = 0;
	int	 rc = 0;

	while (n + 1 < cl->nsegs && cl->segs[n].last <= seq) {
		path = seg_path(cl, cl->segs[n].base);
		if (unlink(path) == -1 && errno != ENOENT) {
			set_cause(cause, "cannot delete drained cache log "
			    "segment %s: %s", path, strerror(errno));
			free(path);
			rc = -1;
			break;
		}
		free(path);
		cl->disk_bytes -= cl->segs[n].size;
		n++;
	}
	if (n > 0) {
		memmove(cl->segs, cl->segs + n,
		    (cl->nsegs - n) * sizeof(*cl->segs));
		cl->nsegs -= n;
		cl->fs_checked = 0;
		(void)fsync(cl->dfd);
	}
	return rc;
}

struct cachelog_iter *
cachelog_read_from(struct cachelog *cl, uint64_t from, char **cause)
{
	struct cachelog_iter	*it;
	size_t			 i = 0;

	if (from != 0 && from <= cl->segs[0].base) {
		set_cause(cause, "cache log %s: records up to seq %" PRIu64
		    " were already released, cannot read from seq %" PRIu64,
		    cl->dir, cl->segs[0].base, from);
		return NULL;
	}
	while (i + 1 < cl->nsegs && cl->segs[i + 1].base < from)
		i++;
	it = xcalloc(1, sizeof(*it));
	it->cl = cl;
	it->from = from;
	it->base = cl->segs[i].base;
	it->fd = -1;
	it->pos = SEG_HDR;
	fbuf_init(&it->buf);
	return it;
}

/* Read the record at it->pos of segment sg into r; a reason if bad. */
static int
iter_read(struct cachelog_iter *it, const struct seg *sg,
    struct cachelog_rec *r, const char **why)
{
	uint8_t	h[REC_HDR];

	*why = NULL;
	if (sg->size - it->pos < REC_HDR) {
		*why = "record header cut short";
		return 0;
	}
	if (pread_all(it->fd, h, REC_HDR, it->pos) == -1)
		return -1;
	if ((*why = rec_decode_hdr(h, r)) != NULL)
		return 0;
	if (sg->size - it->pos - REC_HDR < r->len) {
		*why = "record payload cut short";
		return 0;
	}
	fbuf_reset(&it->buf);
	fbuf_reserve(&it->buf, r->len);
	if (pread_all(it->fd, it->buf.data, r->len, it->pos + REC_HDR) == -1)
		return -1;
	if (rec_sum(h, it->buf.data, r->len) != get64(h + 40))
		*why = "checksum mismatch";
	r->data = r->len > 0 ? it->buf.data : NULL;
	return 0;
}

int
cachelog_next(struct cachelog_iter *it, struct cachelog_rec *r, char **cause)
{
	struct cachelog	*cl = it->cl;
	const char	*why;
	char		*path;
	size_t		 i;

	for (;;) {
		for (i = 0; i < cl->nsegs; i++)
			if (cl->segs[i].base == it->base)
				break;
		if (i == cl->nsegs) {
			set_cause(cause, "cache log %s: the segment after seq %"
			    PRIu64 " was released while being read", cl->dir,
			    it->base);
			return -1;
		}
		if (it->pos >= cl->segs[i].size) {
			if (i + 1 == cl->nsegs)
				return 0;
			if (it->fd != -1)
				close(it->fd);
			it->fd = -1;
			it->base = cl->segs[i + 1].base;
			it->pos = SEG_HDR;
			continue;
		}
		path = NULL;
		if (it->fd == -1) {
			path = seg_path(cl, it->base);
			if ((it->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
				set_cause(cause, "cannot open cache log "
				    "segment %s: %s", path, strerror(errno));
				free(path);
				return -1;
			}
		}
		if (iter_read(it, &cl->segs[i], r, &why) == -1 || why != NULL) {
			if (path == NULL)
				path = seg_path(cl, it->base);
			if (why == NULL)
				set_cause(cause, "cannot read cache log "
				    "segment %s at offset %" PRIu64 ": %s",
				    path, it->pos, strerror(errno));
			else
				set_cause(cause, "cache log segment %s is "
				    "corrupt at offset %" PRIu64 " (%s): the "
				    "record was not shipped; move %s aside and "
				    "resynchronise the disk", path, it->pos,
				    why, cl->dir);
			free(path);
			return -1;
		}
		free(path);
		it->pos += REC_HDR + r->len;
		if (r->seq >= it->from)
			return 1;
	}
}

void
cachelog_iter_free(struct cachelog_iter *it)
{
	if (it == NULL)
		return;
	if (it->fd != -1)
		close(it->fd);
	fbuf_free(&it->buf);
	free(it);
}
