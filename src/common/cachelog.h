/*
 * The process server's cache log for one protected disk: a directory of
 * segment files holding the disk's records in sequence order, durable
 * before they are acknowledged.  Format and crash rules in
 * docs/storage.md.
 *
 * Appends are buffered; cachelog_commit() writes everything appended and
 * fdatasyncs once (group commit).  Only what a commit returned as
 * durable may be acknowledged to the agent.
 *
 * The record model (struct cachelog_rec) is shared by seal.h (shipping
 * to the master target) and replica.h (applying).
 */
#ifndef HAVEN_CACHELOG_H
#define HAVEN_CACHELOG_H

#include <stddef.h>
#include <stdint.h>

#define CACHELOG_SEGSIZE	(64ULL << 20)
#define CACHELOG_MAXPAYLOAD	(16u << 20)
#define CACHELOG_MAXKIND	32	/* bookmark kind string */

enum cachelog_type {
	CL_DATA = 1,		/* offset: disk offset; data: the bytes */
	CL_BOOKMARK = 2,	/* offset: point id; aux: unix time;
				   data: kind ("crash", "app", ...) */
	CL_ZERO = 3,		/* offset: disk offset; aux: run length */
};

struct cachelog_rec {
	uint64_t	 seq;
	uint8_t		 type;
	uint64_t	 offset;
	uint64_t	 aux;
	const uint8_t	*data;
	uint32_t	 len;
};

/* Why r is not a well-formed record, or NULL. */
const char	*cachelog_rec_invalid(const struct cachelog_rec *r);

struct cachelog_conf {
	uint64_t	 segsize;	/* 0: CACHELOG_SEGSIZE, or an eighth
					   of a smaller filesystem */
	uint64_t	 capacity;	/* bytes on disk; 0: the fs limit */
	uint64_t	 base_seq;	/* a new log's last seq (usually 0) */
};

struct cachelog;
struct cachelog_iter;

/*
 * Open (creating if needed) the log in dir, scanning every segment.  A
 * torn or corrupt record in the last segment is truncated away and
 * described by cachelog_recovered(); anywhere else it fails the open
 * with the file and offset.
 */
struct cachelog	*cachelog_open(const char *dir, const struct cachelog_conf *,
		    char **cause);
void		 cachelog_close(struct cachelog *);
/* What the open repaired (a torn tail), or NULL when the log was clean. */
const char	*cachelog_recovered(const struct cachelog *);

/*
 * Buffer a record.  Its seq must exceed every seq appended before.
 * Returns -1 with errno ENOSPC when the configured capacity or the
 * filesystem has no room for it; EINVAL for a malformed record.
 */
int		 cachelog_append(struct cachelog *, const struct cachelog_rec *,
		    char **cause);
/*
 * Write and fdatasync everything appended; *durable is then the highest
 * durable seq.  On failure (ENOSPC, EIO) the segments are truncated back
 * to their last durable state, the appended records stay buffered for a
 * later commit (or cachelog_discard()), and -1 is returned.
 */
int		 cachelog_commit(struct cachelog *, uint64_t *durable,
		    char **cause);
/* Forget records appended but not committed. */
void		 cachelog_discard(struct cachelog *);

uint64_t	 cachelog_durable_seq(const struct cachelog *);
uint64_t	 cachelog_appended_seq(const struct cachelog *);
/* Lowest seq still held, or durable + 1 when empty. */
uint64_t	 cachelog_first_seq(const struct cachelog *);
/* Bytes in segment files plus bytes appended and not yet committed. */
uint64_t	 cachelog_used(const struct cachelog *);
uint64_t	 cachelog_capacity(const struct cachelog *);

/*
 * Everything up to and including seq has been drained: delete the
 * segments holding only such records.  The last segment is kept.
 */
int		 cachelog_release(struct cachelog *, uint64_t seq,
		    char **cause);

/*
 * Drain reader: records with seq >= from, durable ones only.  It follows
 * the log as it grows: cachelog_next() returns 1 with a record (data
 * valid until the next call), 0 when it has caught up, -1 on corruption
 * or a read error, naming the file and offset.
 */
struct cachelog_iter *cachelog_read_from(struct cachelog *, uint64_t from,
		    char **cause);
int		 cachelog_next(struct cachelog_iter *, struct cachelog_rec *,
		    char **cause);
void		 cachelog_iter_free(struct cachelog_iter *);

#endif
