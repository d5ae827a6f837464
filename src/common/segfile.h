/*
 * Segment files, as the cache log and the retention journal keep them:
 * "<16 hex digits><suffix>" in one directory, each created whole (its
 * header written to a temporary, synced, renamed, the directory synced)
 * so that a crash leaves a segment either absent or with its header.
 */
#ifndef HAVEN_SEGFILE_H
#define HAVEN_SEGFILE_H

#include <stddef.h>
#include <stdint.h>

/* Create path with hdr as its first bytes; *fdp open read-write.
 * -1 with errno (the caller words the cause). */
int	segfile_create(int dirfd, const char *path, const void *hdr,
	    size_t hdrlen, int *fdp);
/* The numbers of the segments in dir with this suffix (".clog"),
 * sorted; leftover "<number><suffix>.tmp" files are removed.  -1 with
 * errno when dir cannot be read. */
int	segfile_list(const char *dir, const char *suffix, uint64_t **v,
	    size_t *n);
/* Undo one segment's part of a failed write: a segment the write
 * created (path given) is closed and removed, an existing one (path
 * NULL) is cut back to oldsize and synced.  -1 when that fails. */
int	segfile_undo(int fd, const char *path, uint64_t oldsize);

#endif
