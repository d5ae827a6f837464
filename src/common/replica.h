/*
 * The master target's replica of one disk: a sparse image, the
 * retention journal (undo log, journal.h) and the catalog of recovery
 * points, all in one directory:
 *
 *	replica.img	the disk as of the last applied seq
 *	journal/	old bytes of every overwritten region
 *	state		catalog and checkpoint (text, checksummed)
 *
 * Records are applied in seq order; a seq at or below the last applied
 * one is ignored, so a re-sent stream does no harm.  A recovery point
 * exists once its bookmark is applied and synced.  Format and crash
 * rules in docs/storage.md.
 */
#ifndef HAVEN_REPLICA_H
#define HAVEN_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "cachelog.h"

struct replica_conf {
	uint64_t	 disk_size;	/* bytes; must match an existing one */
	uint64_t	 journal_segsize; /* 0: JOURNAL_SEGSIZE */
	uint64_t	 batch;		/* held before a sync; 0: 32 MiB */
};

struct replica_point {
	uint64_t	 id;
	uint64_t	 seq;		/* its bookmark's seq */
	int64_t		 time;		/* unix seconds, from the agent */
	char		 kind[CACHELOG_MAXKIND + 1];
	int		 damaged;	/* journal damage: cannot be rebuilt */
};

/* Pruning: all in seconds; 0 turns a rule off. */
struct replica_prune {
	int64_t		 now;
	int64_t		 retention;	/* drop points older than this */
	int64_t		 thin_after;	/* past this age keep one ... */
	int64_t		 thin_every;	/* ... per this interval */
};

struct replica;

/*
 * Open (creating) the replica in dir.  Records applied but not committed
 * when the process died are rolled back out of the image; what the open
 * repaired or found damaged is in replica_recovered().
 */
struct replica	*replica_open(const char *dir, const struct replica_conf *,
		    char **cause);
/* Does not sync: call replica_sync() first to keep buffered records. */
void		 replica_close(struct replica *);
const char	*replica_recovered(const struct replica *);

/*
 * Apply one record (data, zero run, bookmark).  Returns 1 when taken, 0
 * when its seq was already applied, -1 on error.  Data is durable after
 * replica_sync(); a bookmark syncs, and its point is then listed.
 */
int		 replica_apply(struct replica *, const struct cachelog_rec *,
		    char **cause);
/* Make everything applied durable; *applied is the last durable seq. */
int		 replica_sync(struct replica *, uint64_t *applied,
		    char **cause);
uint64_t	 replica_applied_seq(const struct replica *);
uint64_t	 replica_disk_size(const struct replica *);

/* Recovery points, oldest first. */
size_t		 replica_points(const struct replica *,
		    const struct replica_point **);
/*
 * Write a raw image of the disk as it was at point to out_path (created,
 * sparse), leaving the replica as it is.
 */
int		 replica_materialize(struct replica *, uint64_t point,
		    const char *out_path, char **cause);
/* Drop points by the rules, then free the journal they alone needed. */
int		 replica_prune(struct replica *, const struct replica_prune *,
		    size_t *dropped, char **cause);
uint64_t	 replica_journal_bytes(const struct replica *);

/* Tests only: called at each step of a sync; may _exit() to "crash". */
extern void	(*replica_crash_hook)(int step);

#endif
