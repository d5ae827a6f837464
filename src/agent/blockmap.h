/*
 * Block maps: one 64-bit hash per block of a protected disk (XXH3-64),
 * the agent's memory of what the replica holds.  The committed map of a
 * disk lives in the agent's state dir; a cycle compares the hashes of a
 * point-in-time view with it to find the blocks to send.  Format and
 * rules in docs/agent.md ("Block maps").
 */
#ifndef HAVEN_BLOCKMAP_H
#define HAVEN_BLOCKMAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reserved hash values.  A real block's hash that happens to be one of
 * them is remapped (blockmap_hash), so they mean only this.
 */
#define BM_UNKNOWN	0ULL	/* must be resent: equals no block's hash */
#define BM_ZERO		1ULL	/* all zero bytes: travels as a hole */

#define BM_MAGIC	"HVBMAP\0\1"
#define BM_HDR_LEN	64
#define BM_VERSION	1

struct blockmap {
	uint64_t	 disk_size;
	uint32_t	 block_size;
	uint64_t	 nblocks;
	uint64_t	 point;		/* last committed recovery point (0: none) */
	uint64_t	 seq;		/* its bookmark's seq */
	int64_t		 app_time;	/* unix time of the last app point */
	uint64_t	*h;		/* nblocks hashes */
};

/* A run of consecutive changed blocks, sent as one frame. */
struct bm_extent {
	uint64_t	 block;
	uint32_t	 count;
	uint8_t		 zero;		/* every block is BM_ZERO: a hole */
};

enum bm_load {
	BM_LOADED,	/* the map as saved */
	BM_MISSING,	/* no map: a new disk, every block BM_ZERO */
	BM_RESYNC,	/* unusable map: every block BM_UNKNOWN, *why says */
};

uint64_t	 blockmap_nblocks(uint64_t disk_size, uint32_t block_size);
/* Bytes in block b (the last one may be short). */
uint64_t	 blockmap_block_len(const struct blockmap *, uint64_t b);
struct blockmap	*blockmap_new(uint64_t disk_size, uint32_t block_size,
		    uint64_t fill);
struct blockmap	*blockmap_dup(const struct blockmap *);
void		 blockmap_free(struct blockmap *);

/* BM_ZERO for an all-zero buffer, otherwise XXH3-64 kept off the
 * reserved values. */
uint64_t	 blockmap_hash(const void *, size_t);

/*
 * Load path for a disk of disk_size bytes in block_size blocks.  Never
 * fails: a missing map is BM_MISSING, anything wrong with it (unreadable,
 * torn, corrupt, another disk or block size) is BM_RESYNC with the
 * reason in *why; *map is always set.
 */
enum bm_load	 blockmap_load(const char *path, uint64_t disk_size,
		    uint32_t block_size, struct blockmap **map, char **why);
/* Write atomically: temporary file, fsync, rename, fsync the dir. */
int		 blockmap_save(const struct blockmap *, const char *path,
		    char **cause);

/*
 * Hash a view read from fd into map->h, block by block in order.  cb, if
 * not NULL, sees every block (index, bytes, hash) and may fail the
 * whole pass by returning -1 with a cause.
 */
typedef int	(*bm_block_cb)(void *arg, uint64_t block, const uint8_t *data,
		    size_t len, uint64_t hash, char **cause);
int		 blockmap_hash_fd(struct blockmap *map, int fd, const char *name,
		    bm_block_cb cb, void *arg, char **cause);

/* Blocks whose hashes differ; *bytes (may be NULL) is what non-zero
 * ones hold. */
uint64_t	 blockmap_changed(const struct blockmap *committed,
		    const struct blockmap *view, uint64_t *bytes);
/* Mark in committed every block that differs in view BM_UNKNOWN. */
uint64_t	 blockmap_mark_unknown(struct blockmap *committed,
		    const struct blockmap *view);
/*
 * The changed blocks as extents in block order: runs of data blocks (at
 * most max_data blocks each) and runs of zero blocks (at most max_zero).
 * Deterministic: the same maps give the same extents, so a resumed
 * cycle gives every extent the seq it had.
 */
size_t		 blockmap_extents(const struct blockmap *committed,
		    const struct blockmap *view, uint32_t max_data,
		    uint32_t max_zero, struct bm_extent **out);
/* A digest of an extent list, kept in the cycle file to check that. */
uint64_t	 blockmap_extents_digest(const struct bm_extent *, size_t);

#endif
