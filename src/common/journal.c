/*
 * Retention journal: see journal.h and docs/storage.md.
 *
 * Segment "<segno, 16 hex>.jrnl": a 32-byte header (magic, version,
 * segno, checksum), then records: a 56-byte header and a payload, with
 * an XXH64 over both.  Segments are created whole (write, fsync,
 * rename); records are only appended, so a crash can tear only the tail
 * of the last segment.  Anything else that fails its checksum is damage:
 * it is skipped up to the next good record, reported, never handed out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH64_state_t on the stack */
#include <xxhash.h>

#include "endian_be.h"
#include "segfile.h"
#include "journal.h"
#include "util.h"

#define SEG_MAGIC	0x48564a53u	/* "HVJS" */
#define REC_MAGIC	0x48564a52u	/* "HVJR" */
#define SEG_VERSION	1
#define SEG_HDR		32
#define REC_HDR		56

struct jseg {
	uint64_t	 segno;
	uint64_t	 size;		/* durable bytes */
	uint64_t	 maxseq;
};

/* A damaged stretch [off, resume) of a segment, skipped when scanning. */
struct jskip {
	uint64_t	 segno;
	uint64_t	 off;
	uint64_t	 resume;
};

struct journal {
	char			*dir;
	int			 dfd;
	int			 fd;		/* last segment, read-write */
	struct jseg		*segs;
	size_t			 nsegs;
	uint64_t		 segsize;
	uint64_t		 bytes;
	uint64_t		 lastseq;
	struct fbuf		 pend;
	int			 rfd;		/* reader's segment */
	uint64_t		 rsegno;
	struct fbuf		 rbuf;
	char			*note;
	char			*broken;
	struct journal_damage	*dmg;
	struct jskip		*skip;
	size_t			 ndmg;
};







static char *
seg_path(const struct journal *j, uint64_t segno)
{
	return xasprintf("%s/%016" PRIx64 ".jrnl", j->dir, segno);
}

static const char *
rec_invalid(const struct journal_rec *r)
{
	switch (r->type) {
	case JR_UNDO:
		if (r->length == 0 || r->offset + r->length < r->offset)
			return "undo record with a bad region";
		if (r->flags & ~JF_ZERO)
			return "unknown flags";
		if (r->flags & JF_ZERO)
			return r->len == 0 ? NULL : "zero undo with bytes";
		if (r->length > JOURNAL_MAXPAYLOAD || r->len != r->length)
			return "undo length does not match its bytes";
		return NULL;
	case JR_BOOKMARK:
		return r->flags == 0 && r->len <= 32 ? NULL :
		    "malformed bookmark";
	case JR_COMMIT:
		return r->flags == 0 && r->len == 0 ? NULL :
		    "malformed commit marker";
	default:
		return "unknown record type";
	}
}

static uint64_t
rec_sum(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	XXH64_state_t	st;

	XXH64_reset(&st, 0);
	XXH64_update(&st, hdr, 48);
	if (len > 0)
		XXH64_update(&st, payload, len);
	return XXH64_digest(&st);
}

static const char *
rec_decode_hdr(const uint8_t *h, struct journal_rec *r)
{
	if (get32(h) != REC_MAGIC)
		return "bad record magic";
	if (h[6] != 0 || h[7] != 0 || get32(h + 44) != 0)
		return "reserved bytes set";
	memset(r, 0, sizeof(*r));
	r->type = h[4];
	r->flags = h[5];
	r->seq = get64(h + 8);
	r->point = get64(h + 16);
	r->offset = get64(h + 24);
	r->length = get64(h + 32);
	r->len = get32(h + 40);
	return rec_invalid(r);
}

static void
seg_hdr_encode(uint8_t *h, uint64_t segno)
{
	memset(h, 0, SEG_HDR);
	put32(h, SEG_MAGIC);
	h[5] = SEG_VERSION;
	put64(h + 8, segno);
	put64(h + 24, XXH64(h, 24, 0));
}

static int
seg_create(struct journal *j, uint64_t segno, int *fdp, char **cause)
{
	uint8_t	 h[SEG_HDR];
	char	*path = seg_path(j, segno);
	int	 err;

	seg_hdr_encode(h, segno);
	if (segfile_create(j->dfd, path, h, sizeof(h), fdp) == -1) {
		err = errno;
		set_cause(cause, "cannot create journal segment %s: %s", path,
		    strerror(err));
		free(path);
		errno = err;
		return -1;
	}
	free(path);
	return 0;
}

static void
seg_push(struct journal *j, uint64_t segno, uint64_t size, uint64_t maxseq)
{
	j->segs = xrealloc(j->segs, (j->nsegs + 1) * sizeof(*j->segs));
	j->segs[j->nsegs].segno = segno;
	j->segs[j->nsegs].size = size;
	j->segs[j->nsegs].maxseq = maxseq;
	j->nsegs++;
}


static int
list_segments(struct journal *j, uint64_t **vp, size_t *np, char **cause)
{
	if (segfile_list(j->dir, ".jrnl", vp, np) == -1) {
		set_cause(cause, "cannot read journal directory %s: %s",
		    j->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Read header and payload at pos, verify; *why says what is wrong. */
static int
read_rec(int fd, uint64_t pos, uint64_t end, struct fbuf *buf,
    struct journal_rec *r, const char **why)
{
	uint8_t	h[REC_HDR];

	*why = NULL;
	if (end - pos < REC_HDR) {
		*why = "record header cut short";
		return 0;
	}
	if (pread_all(fd, h, REC_HDR, pos) == -1)
		return -1;
	if ((*why = rec_decode_hdr(h, r)) != NULL)
		return 0;
	if (end - pos - REC_HDR < r->len) {
		*why = "record payload cut short";
		return 0;
	}
	fbuf_reset(buf);
	fbuf_reserve(buf, r->len);
	if (r->len > 0 && pread_all(fd, buf->data, r->len, pos + REC_HDR) == -1)
		return -1;
	if (rec_sum(h, buf->data, r->len) != get64(h + 48))
		*why = "checksum mismatch";
	r->data = r->len > 0 ? buf->data : NULL;
	return 0;
}

/* The offset of the next good record in (from, end), or end if none. */
static int
find_next(int fd, uint64_t from, uint64_t end, uint64_t *next)
{
	static const uint8_t	 magic[4] = { 'H', 'V', 'J', 'R' };
	struct journal_rec	 r;
	struct fbuf		 tail, tmp;
	const uint8_t		*p, *q;
	const char		*why;
	uint64_t		 at;
	int			 rc = 0;

	*next = end;
	if (end - from <= REC_HDR)
		return 0;
	fbuf_init(&tail);
	fbuf_init(&tmp);
	fbuf_reserve(&tail, end - from);
	if (pread_all(fd, tail.data, end - from, from) == -1) {
		fbuf_free(&tail);
		return -1;
	}
	p = tail.data + 1;
	while ((q = memmem(p, (size_t)(tail.data + (end - from) - p), magic,
	    sizeof(magic))) != NULL) {
		at = from + (uint64_t)(q - tail.data);
		if ((rc = read_rec(fd, at, end, &tmp, &r, &why)) == -1)
			break;
		if (why == NULL) {
			*next = at;
			break;
		}
		p = q + 1;
	}
	fbuf_free(&tail);
	fbuf_free(&tmp);
	return rc;
}

static void
add_damage(struct journal *j, uint64_t segno, uint64_t off, uint64_t resume,
    const char *why, uint64_t after)
{
	struct journal_damage	*d;
	char			*path = seg_path(j, segno);

	j->dmg = xrealloc(j->dmg, (j->ndmg + 1) * sizeof(*j->dmg));
	j->skip = xrealloc(j->skip, (j->ndmg + 1) * sizeof(*j->skip));
	d = &j->dmg[j->ndmg];
	d->pos.segno = segno;
	d->pos.off = off;
	d->where = xasprintf("%s at offset %" PRIu64 " (%s, %" PRIu64
	    " bytes unreadable)", path, off, why, resume - off);
	d->after = after;
	d->below = UINT64_MAX;
	j->skip[j->ndmg].segno = segno;
	j->skip[j->ndmg].off = off;
	j->skip[j->ndmg].resume = resume;
	j->ndmg++;
	free(path);
}

struct scanstate {
	journal_cb	 cb;
	void		*arg;
	uint64_t	 prev;		/* last good seq */
	size_t		 open_dmg;	/* damage entries still lacking below */
};

static int
scan_segment(struct journal *j, uint64_t segno, int last,
    struct scanstate *ss, char **cause)
{
	struct journal_rec	 r;
	struct journal_pos	 jp;
	struct stat		 st;
	struct fbuf		 buf;
	uint8_t			 h[SEG_HDR];
	const char		*why;
	char			*path;
	uint64_t		 pos, end, next, maxseq = 0;
	size_t			 i;
	int			 fd, rc = -1;

	path = seg_path(j, segno);
	fbuf_init(&buf);
	if ((fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		set_cause(cause, "cannot open journal segment %s: %s", path,
		    strerror(errno));
		goto out;
	}
	end = (uint64_t)st.st_size;
	why = NULL;
	if (end < SEG_HDR)
		why = "segment header missing";
	else if (pread_all(fd, h, SEG_HDR, 0) == -1) {
		set_cause(cause, "cannot read %s: %s", path, strerror(errno));
		goto out;
	} else if (get32(h) != SEG_MAGIC || XXH64(h, 24, 0) != get64(h + 24))
		why = "bad segment header";
	else if (h[5] != SEG_VERSION)
		why = "unsupported segment version";
	else if (get64(h + 8) != segno)
		why = "segment header does not match its file name";
	if (why != NULL) {
		/* Nothing in it can be trusted to be in this journal. */
		add_damage(j, segno, 0, end, why, ss->prev);
		ss->open_dmg++;
		maxseq = UINT64_MAX;
		if (last) {
			seg_hdr_encode(h, segno);
			if (ftruncate(fd, 0) == -1 ||
			    pwrite_all(fd, h, SEG_HDR, 0) == -1 ||
			    fdatasync(fd) == -1) {
				set_cause(cause, "cannot repair journal "
				    "segment %s: %s", path, strerror(errno));
				goto out;
			}
			end = SEG_HDR;
		}
		goto done;
	}
	for (pos = SEG_HDR; pos < end; ) {
		if (read_rec(fd, pos, end, &buf, &r, &why) == -1) {
			set_cause(cause, "cannot read journal segment %s at "
			    "offset %" PRIu64 ": %s", path, pos,
			    strerror(errno));
			goto out;
		}
		if (why == NULL && r.seq < ss->prev)
			why = "sequence number out of order";
		if (why == NULL) {
			for (i = j->ndmg - ss->open_dmg; i < j->ndmg; i++)
				j->dmg[i].below = r.seq;
			ss->open_dmg = 0;
			ss->prev = r.seq;
			if (r.seq > maxseq)
				maxseq = r.seq;
			jp.segno = segno;
			jp.off = pos;
			if (ss->cb != NULL && ss->cb(&r, &jp, ss->arg) != 0) {
				set_cause(cause, "journal %s: record at %s "
				    "offset %" PRIu64 " refused", j->dir, path,
				    pos);
				goto out;
			}
			pos += REC_HDR + r.len;
			continue;
		}
		if (find_next(fd, pos, end, &next) == -1) {
			set_cause(cause, "cannot read journal segment %s: %s",
			    path, strerror(errno));
			goto out;
		}
		if (next == end && last) {
			/* A torn tail: never committed, safe to cut. */
			if (ftruncate(fd, (off_t)pos) == -1 ||
			    fdatasync(fd) == -1) {
				set_cause(cause, "cannot truncate the torn "
				    "tail of %s at offset %" PRIu64 ": %s",
				    path, pos, strerror(errno));
				goto out;
			}
			free(j->note);
			j->note = xasprintf("journal segment %s: torn record "
			    "at offset %" PRIu64 " (%s) truncated, %" PRIu64
			    " bytes discarded", path, pos, why, end - pos);
			end = pos;
			break;
		}
		add_damage(j, segno, pos, next, why, ss->prev);
		ss->open_dmg++;
		pos = next;
	}
done:
	seg_push(j, segno, end, maxseq);
	j->bytes += end;
	if (last) {
		j->fd = fd;
		fd = -1;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	fbuf_free(&buf);
	free(path);
	return rc;
}

struct journal *
journal_open(const char *dir, uint64_t segsize, journal_cb cb, void *arg,
    char **cause)
{
	struct journal		*j;
	struct scanstate	 ss;
	uint64_t		*v = NULL, below, lost;
	size_t			 n = 0, i, k;

	j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(dir);
	j->fd = j->dfd = j->rfd = -1;
	j->segsize = segsize ? segsize : JOURNAL_SEGSIZE;
	fbuf_init(&j->pend);
	fbuf_init(&j->rbuf);
	if (mkdir_p(dir, 0700, cause) == -1)
		goto fail;
	if ((j->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open journal directory %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (list_segments(j, &v, &n, cause) == -1)
		goto fail;
	memset(&ss, 0, sizeof(ss));
	ss.cb = cb;
	ss.arg = arg;
	for (i = 0; i < n; i++) {
		if (i > 0 && v[i] != v[i - 1] + 1) {
			set_cause(cause, "journal %s: segments %016" PRIx64
			    " to %016" PRIx64 " are missing; recovery points "
			    "older than the newest segment cannot be rebuilt: "
			    "move %s aside and resynchronise the disk", dir,
			    v[i - 1] + 1, v[i] - 1, dir);
			goto fail;
		}
		if (scan_segment(j, v[i], i == n - 1, &ss, cause) == -1)
			goto fail;
	}
	/* A damaged stretch could hold any seq up to the next good one. */
	for (k = 0; k < j->ndmg; k++) {
		below = j->dmg[k].below;
		lost = below == UINT64_MAX ? UINT64_MAX : below - 1;
		for (i = 0; i < j->nsegs; i++)
			if (j->segs[i].segno == j->skip[k].segno &&
			    j->segs[i].maxseq < lost)
				j->segs[i].maxseq = lost;
	}
	if (n == 0) {
		if (seg_create(j, 0, &j->fd, cause) == -1)
			goto fail;
		seg_push(j, 0, SEG_HDR, 0);
		j->bytes = SEG_HDR;
	}
	j->lastseq = ss.prev;
	free(v);
	return j;
fail:
	free(v);
	journal_close(j);
	return NULL;
}

void
journal_close(struct journal *j)
{
	size_t	i;

	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	if (j->rfd != -1)
		close(j->rfd);
	if (j->dfd != -1)
		close(j->dfd);
	for (i = 0; i < j->ndmg; i++)
		free(j->dmg[i].where);
	free(j->dmg);
	free(j->skip);
	fbuf_free(&j->pend);
	fbuf_free(&j->rbuf);
	free(j->segs);
	free(j->note);
	free(j->broken);
	free(j->dir);
	free(j);
}

const char *
journal_recovered(const struct journal *j)
{
	return j->note;
}

size_t
journal_damage(const struct journal *j, const struct journal_damage **dp)
{
	*dp = j->dmg;
	return j->ndmg;
}

int
journal_append(struct journal *j, const struct journal_rec *r, char **cause)
{
	const char	*why;
	uint8_t		 h[REC_HDR];

	if ((why = rec_invalid(r)) != NULL || r->seq < j->lastseq) {
		set_cause(cause, "journal %s: refused record seq %" PRIu64
		    ": %s", j->dir, r->seq, why != NULL ? why :
		    "sequence number goes backwards");
		return -1;
	}
	memset(h, 0, sizeof(h));
	put32(h, REC_MAGIC);
	h[4] = r->type;
	h[5] = r->flags;
	put64(h + 8, r->seq);
	put64(h + 16, r->point);
	put64(h + 24, r->offset);
	put64(h + 32, r->length);
	put32(h + 40, r->len);
	put64(h + 48, rec_sum(h, r->data, r->len));
	fbuf_add(&j->pend, h, REC_HDR);
	fbuf_add(&j->pend, r->data, r->len);
	j->lastseq = r->seq;
	return 0;
}

int
journal_pending(const struct journal *j)
{
	return j->pend.len > 0;
}

struct jtouch {
	int		 fd;
	int		 created;
	uint64_t	 segno;
	uint64_t	 oldsize;
	uint64_t	 size;
	uint64_t	 maxseq;
};

static void
sync_rollback(struct journal *j, struct jtouch *t, size_t nt, const char *why)
{
	char	*path;
	size_t	 i;
	int	 ok = 1;

	for (i = nt; i-- > 0; ) {
		path = t[i].created ? seg_path(j, t[i].segno) : NULL;
		if (segfile_undo(t[i].fd, path, t[i].oldsize) == -1)
			ok = 0;
		free(path);
	}
	if (fsync(j->dfd) == -1)
		ok = 0;
	if (!ok)
		j->broken = xasprintf("journal %s could not be restored after "
		    "a failed write (%s): restart the master target so that "
		    "it recovers the journal", j->dir, why);
}

int
journal_sync(struct journal *j, char **cause)
{
	struct jtouch	*t, *cur;
	struct jseg	*last = &j->segs[j->nsegs - 1];
	const uint8_t	*p = j->pend.data;
	size_t		 nt = 1, pos, start, i;
	uint64_t	 rl, seq;
	int		 err;

	if (j->broken != NULL) {
		set_cause(cause, "%s", j->broken);
		return -1;
	}
	if (j->pend.len == 0)
		return 0;
	t = xcalloc(1, sizeof(*t));
	t[0].fd = j->fd;
	t[0].segno = last->segno;
	t[0].oldsize = t[0].size = last->size;
	t[0].maxseq = last->maxseq;
	for (pos = start = 0; pos < j->pend.len; pos += rl) {
		rl = REC_HDR + get32(p + pos + 40);
		seq = get64(p + pos + 8);
		cur = &t[nt - 1];
		if (cur->size + rl > j->segsize && cur->size > SEG_HDR) {
			if (pwrite_all(cur->fd, p + start, pos - start,
			    cur->oldsize) == -1)
				goto fail;
			t = xrealloc(t, (nt + 1) * sizeof(*t));
			cur = &t[nt];
			memset(cur, 0, sizeof(*cur));
			cur->segno = t[nt - 1].segno + 1;
			if (seg_create(j, cur->segno, &cur->fd, cause) == -1)
				goto fail;
			nt++;
			cur->created = 1;
			cur->oldsize = cur->size = SEG_HDR;
			start = pos;
		}
		cur->size += rl;
		if (seq > cur->maxseq)
			cur->maxseq = seq;
	}
	cur = &t[nt - 1];
	if (pwrite_all(cur->fd, p + start, pos - start, cur->oldsize) == -1)
		goto fail;
	for (i = 0; i < nt; i++)
		if (fdatasync(t[i].fd) == -1)
			goto fail;

	last->size = t[0].size;
	last->maxseq = t[0].maxseq;
	j->bytes += t[0].size - t[0].oldsize;
	for (i = 1; i < nt; i++) {
		close(j->fd);
		j->fd = t[i].fd;
		seg_push(j, t[i].segno, t[i].size, t[i].maxseq);
		j->bytes += t[i].size;
	}
	fbuf_reset(&j->pend);
	free(t);
	return 0;
fail:
	err = errno;
	set_cause(cause, "cannot write journal %s: %s%s", j->dir,
	    strerror(err), err == ENOSPC ? ": the retention volume is full; "
	    "shorten the retention window or add space" : "");
	sync_rollback(j, t, nt, strerror(err));
	free(t);
	errno = err;
	return -1;
}

static struct jseg *
seg_find(struct journal *j, uint64_t segno)
{
	size_t	i;

	for (i = 0; i < j->nsegs; i++)
		if (j->segs[i].segno == segno)
			return &j->segs[i];
	return NULL;
}

static int
reader_open(struct journal *j, uint64_t segno, char **cause)
{
	char	*path;

	if (j->rfd != -1 && j->rsegno == segno)
		return 0;
	if (j->rfd != -1)
		close(j->rfd);
	path = seg_path(j, segno);
	if ((j->rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open journal segment %s: %s", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	j->rsegno = segno;
	return 0;
}

int
journal_scan(struct journal *j, uint64_t after, journal_cb cb, void *arg,
    char **cause)
{
	struct journal_rec	 r;
	struct journal_pos	 jp;
	struct jseg		 sg;
	uint8_t			 h[REC_HDR];
	const char		*why;
	char			*path;
	uint64_t		 pos;
	size_t			 i, k;

	for (i = 0; i < j->nsegs; i++) {
		sg = j->segs[i];
		if (sg.maxseq <= after && i + 1 < j->nsegs)
			continue;
		if (reader_open(j, sg.segno, cause) == -1)
			return -1;
		for (pos = SEG_HDR; pos < sg.size; pos += REC_HDR + r.len) {
			for (k = 0; k < j->ndmg; k++)
				if (j->skip[k].segno == sg.segno &&
				    j->skip[k].off == pos)
					pos = j->skip[k].resume;
			if (pos >= sg.size)
				break;
			why = NULL;
			if (sg.size - pos < REC_HDR)
				why = "record header cut short";
			else if (pread_all(j->rfd, h, REC_HDR, pos) == -1)
				why = strerror(errno);
			else if ((why = rec_decode_hdr(h, &r)) == NULL &&
			    sg.size - pos - REC_HDR < r.len)
				why = "record payload cut short";
			if (why != NULL) {
				path = seg_path(j, sg.segno);
				set_cause(cause, "journal segment %s is "
				    "corrupt at offset %" PRIu64 " (%s): "
				    "nothing past it was applied", path, pos,
				    why);
				free(path);
				return -1;
			}
			if (r.seq <= after)
				continue;
			jp.segno = sg.segno;
			jp.off = pos;
			if (cb(&r, &jp, arg) != 0)
				return -1;
		}
	}
	return 0;
}

int
journal_read(struct journal *j, const struct journal_pos *jp,
    struct journal_rec *r, char **cause)
{
	struct jseg	*sg;
	const char	*why;
	char		*path;

	if ((sg = seg_find(j, jp->segno)) == NULL || jp->off >= sg->size) {
		set_cause(cause, "journal %s: no record at segment %016"
		    PRIx64 " offset %" PRIu64 " (pruned?)", j->dir, jp->segno,
		    jp->off);
		return -1;
	}
	if (reader_open(j, jp->segno, cause) == -1)
		return -1;
	if (read_rec(j->rfd, jp->off, sg->size, &j->rbuf, r, &why) == -1 ||
	    why != NULL) {
		path = seg_path(j, jp->segno);
		set_cause(cause, "journal segment %s is corrupt at offset %"
		    PRIu64 " (%s): the record was not applied", path, jp->off,
		    why != NULL ? why : strerror(errno));
		free(path);
		return -1;
	}
	return 0;
}

/* Highest seq in the first size bytes of a segment, by header hops. */
static uint64_t
seg_maxseq(int fd, uint64_t size)
{
	struct journal_rec	r;
	uint8_t			h[REC_HDR];
	uint64_t		pos, max = 0;

	for (pos = SEG_HDR; pos + REC_HDR <= size; pos += REC_HDR + r.len) {
		if (pread_all(fd, h, REC_HDR, pos) == -1 ||
		    rec_decode_hdr(h, &r) != NULL)
			return UINT64_MAX;
		if (r.seq > max)
			max = r.seq;
	}
	return max;
}

int
journal_truncate(struct journal *j, const struct journal_pos *jp,
    char **cause)
{
	struct jseg	*sg;
	char		*path;
	size_t		 k, w;

	if ((sg = seg_find(j, jp->segno)) == NULL || jp->off < SEG_HDR ||
	    jp->off > sg->size) {
		set_cause(cause, "journal %s: cannot truncate at segment %016"
		    PRIx64 " offset %" PRIu64, j->dir, jp->segno, jp->off);
		return -1;
	}
	if (j->rfd != -1)
		close(j->rfd);
	j->rfd = -1;
	while (j->segs[j->nsegs - 1].segno > jp->segno) {
		path = seg_path(j, j->segs[j->nsegs - 1].segno);
		if (unlink(path) == -1) {
			set_cause(cause, "cannot delete journal segment %s: %s",
			    path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		j->bytes -= j->segs[j->nsegs - 1].size;
		j->nsegs--;
		if (j->fd != -1)
			close(j->fd);
		j->fd = -1;
	}
	sg = &j->segs[j->nsegs - 1];
	path = seg_path(j, sg->segno);
	if ((j->fd == -1 &&
	    (j->fd = open(path, O_RDWR | O_CLOEXEC)) == -1) ||
	    ftruncate(j->fd, (off_t)jp->off) == -1 || fdatasync(j->fd) == -1 ||
	    fsync(j->dfd) == -1) {
		set_cause(cause, "cannot truncate journal segment %s at "
		    "offset %" PRIu64 ": %s", path, jp->off, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	for (k = w = 0; k < j->ndmg; k++) {
		if (j->skip[k].segno > jp->segno ||
		    (j->skip[k].segno == jp->segno &&
		    j->skip[k].off >= jp->off)) {
			free(j->dmg[k].where);
			continue;
		}
		j->dmg[w] = j->dmg[k];
		j->skip[w++] = j->skip[k];
	}
	j->ndmg = w;
	j->bytes -= sg->size - jp->off;
	sg->size = jp->off;
	sg->maxseq = seg_maxseq(j->fd, sg->size);
	fbuf_reset(&j->pend);
	j->lastseq = sg->maxseq == UINT64_MAX ? 0 : sg->maxseq;
	return 0;
}

int
journal_release(struct journal *j, uint64_t seq, char **cause)
{
	char	*path;
	size_t	 n = 0, k, w;
	int	 rc = 0;

	while (n + 1 < j->nsegs && j->segs[n].maxseq <= seq) {
		path = seg_path(j, j->segs[n].segno);
		if (unlink(path) == -1 && errno != ENOENT) {
			set_cause(cause, "cannot delete journal segment %s: %s",
			    path, strerror(errno));
			free(path);
			rc = -1;
			break;
		}
		free(path);
		if (j->rfd != -1 && j->rsegno == j->segs[n].segno) {
			close(j->rfd);
			j->rfd = -1;
		}
		j->bytes -= j->segs[n].size;
		n++;
	}
	if (n == 0)
		return rc;
	for (k = w = 0; k < j->ndmg; k++) {
		if (j->skip[k].segno < j->segs[n].segno) {
			free(j->dmg[k].where);
			continue;
		}
		j->dmg[w] = j->dmg[k];
		j->skip[w++] = j->skip[k];
	}
	j->ndmg = w;
	memmove(j->segs, j->segs + n, (j->nsegs - n) * sizeof(*j->segs));
	j->nsegs -= n;
	(void)fsync(j->dfd);
	return rc;
}

uint64_t
journal_bytes(const struct journal *j)
{
	return j->bytes + j->pend.len;
}

size_t
journal_segments(const struct journal *j)
{
	return j->nsegs;
}
