/*
 * Sealing a cache record for the trip to the master target: zstd, then
 * AES-256-GCM with a random 96-bit nonce.  The clear header (disk, seq,
 * lengths, nonce) is the AAD, so a record cannot be replayed onto
 * another disk or sequence number unnoticed.  Format in docs/storage.md.
 */
#ifndef HAVEN_SEAL_H
#define HAVEN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "cachelog.h"
#include "util.h"

#define SEAL_KEYLEN	32
#define SEAL_HDR	44
#define SEAL_TAGLEN	16
#define SEAL_OVERHEAD	(SEAL_HDR + 24 + SEAL_TAGLEN)

struct seal;

/* level: 1..3 compresses with zstd at that level, 0 stores. */
struct seal	*seal_new(const uint8_t key[SEAL_KEYLEN], int level,
		    char **cause);
void		 seal_free(struct seal *);

/* Append the sealed form of r (a record of disk) to out. */
int		 seal_record(struct seal *, uint64_t disk,
		    const struct cachelog_rec *r, struct fbuf *out,
		    char **cause);
/*
 * Authenticate, decrypt and decompress a sealed record of disk.  r->data
 * points into the seal and stays valid until its next use.  Fails with
 * a reason for a tampered or foreign record.
 */
int		 seal_open(struct seal *, uint64_t disk, const void *buf,
		    size_t len, struct cachelog_rec *r, char **cause);
/* The clear header's disk and seq (not authenticated). */
int		 seal_peek(const void *buf, size_t len, uint64_t *disk,
		    uint64_t *seq, char **cause);

#endif
