/*
 * The master target's retention journal for one disk: an undo log in
 * segment files.  Before a region of the replica is overwritten its old
 * bytes are appended here; bookmarks and commit markers share the
 * sequence.  Segments are deleted whole once no retained recovery point
 * needs them.  Format in docs/storage.md; the rules live in replica.c.
 */
#ifndef HAVEN_JOURNAL_H
#define HAVEN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SEGSIZE		(64ULL << 20)
#define JOURNAL_MAXPAYLOAD	(4u << 20)

enum journal_type {
	JR_UNDO = 1,		/* offset, length: old bytes of a region */
	JR_BOOKMARK = 2,	/* point id, time in offset, kind in data */
	JR_COMMIT = 3,		/* the replica holds every seq <= seq */
};

#define JF_ZERO	0x01		/* undo: the old bytes were all zero */

struct journal_rec {
	uint8_t		 type;
	uint8_t		 flags;
	uint64_t	 seq;
	uint64_t	 point;	/* undo: the point the old bytes belong to */
	uint64_t	 offset;
	uint64_t	 length;
	const uint8_t	*data;
	uint32_t	 len;
};

struct journal_pos {
	uint64_t	 segno;
	uint64_t	 off;
};

/* A stretch of the journal that could not be read at open. */
struct journal_damage {
	struct journal_pos pos;		/* where it starts */
	char		*where;		/* "file at offset N (why)" */
	uint64_t	 after;		/* last good seq before it */
	uint64_t	 below;		/* first good seq after; UINT64_MAX */
};

/* Called for every good record, in order; non-zero stops with an error. */
typedef int	(*journal_cb)(const struct journal_rec *,
		    const struct journal_pos *, void *arg);

struct journal;

/*
 * Open (creating) the journal in dir, verifying every record and
 * passing each good one to cb.  A torn tail of the last segment is
 * truncated (see journal_recovered()); a bad stretch elsewhere is
 * skipped, listed by journal_damage() and never handed out.
 */
struct journal	*journal_open(const char *dir, uint64_t segsize, journal_cb,
		    void *arg, char **cause);
void		 journal_close(struct journal *);
const char	*journal_recovered(const struct journal *);
size_t		 journal_damage(const struct journal *,
		    const struct journal_damage **);

/* Buffer a record; journal_sync() writes and fdatasyncs what is buffered. */
int		 journal_append(struct journal *, const struct journal_rec *,
		    char **cause);
int		 journal_sync(struct journal *, char **cause);
int		 journal_pending(const struct journal *);

/*
 * Visit the durable records with seq > after, in order, checking their
 * headers only (journal_read() verifies each one it returns).
 */
int		 journal_scan(struct journal *, uint64_t after, journal_cb,
		    void *arg, char **cause);
/* Read and verify one record; r->data is valid until the next call. */
int		 journal_read(struct journal *, const struct journal_pos *,
		    struct journal_rec *r, char **cause);
/* Drop every durable record (and damage) from pos on, and the buffer. */
int		 journal_truncate(struct journal *, const struct journal_pos *,
		    char **cause);
/* Delete the segments (but the last) holding only seqs <= seq. */
int		 journal_release(struct journal *, uint64_t seq, char **cause);
uint64_t	 journal_bytes(const struct journal *);
size_t		 journal_segments(const struct journal *);

#endif
