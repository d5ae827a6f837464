/*
 * Block maps (blockmap.h).  On disk, little-endian:
 *
 *	0   8	magic "HVBMAP\0\1"
 *	8   4	version (1)
 *	12  4	block size
 *	16  8	disk size
 *	24  8	number of blocks
 *	32  8	last committed point
 *	40  8	its bookmark's seq
 *	48  8	time of the last app-consistent point
 *	56  8	reserved, zero
 *	64  8n	the hashes
 *	end 8	XXH3-64 of everything before
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH3_state_t on the stack */
#include <xxhash.h>

#include "blockmap.h"
#include "util.h"

#define BM_IO_CHUNK	(8u << 20)	/* bytes per read while hashing */

uint64_t
blockmap_nblocks(uint64_t disk_size, uint32_t block_size)
{
	return (disk_size + block_size - 1) / block_size;
}

uint64_t
blockmap_block_len(const struct blockmap *m, uint64_t b)
{
	uint64_t	off = b * m->block_size;

	if (off >= m->disk_size)
		return 0;
	return m->disk_size - off < m->block_size ? m->disk_size - off :
	    m->block_size;
}

struct blockmap *
blockmap_new(uint64_t disk_size, uint32_t block_size, uint64_t fill)
{
	struct blockmap	*m;
	uint64_t	 i;

	m = xcalloc(1, sizeof(*m));
	m->disk_size = disk_size;
	m->block_size = block_size;
	m->nblocks = blockmap_nblocks(disk_size, block_size);
	m->h = xcalloc(m->nblocks ? m->nblocks : 1, sizeof(uint64_t));
	if (fill != 0)
		for (i = 0; i < m->nblocks; i++)
			m->h[i] = fill;
	return m;
}

struct blockmap *
blockmap_dup(const struct blockmap *src)
{
	struct blockmap	*m;

	m = xmalloc(sizeof(*m));
	*m = *src;
	m->h = xcalloc(m->nblocks ? m->nblocks : 1, sizeof(uint64_t));
	memcpy(m->h, src->h, m->nblocks * sizeof(uint64_t));
	return m;
}

void
blockmap_free(struct blockmap *m)
{
	if (m == NULL)
		return;
	free(m->h);
	free(m);
}

static int
is_zero(const uint8_t *p, size_t len)
{
	/* p[0] == 0 and every byte equals its successor. */
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

uint64_t
blockmap_hash(const void *buf, size_t len)
{
	uint64_t	h;

	if (is_zero(buf, len))
		return BM_ZERO;
	h = XXH3_64bits(buf, len);
	/* A real hash never reads as a reserved value. */
	if (h == BM_UNKNOWN || h == BM_ZERO)
		h = 2;
	return h;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t
get_le32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void
bm_header(const struct blockmap *m, uint8_t hdr[BM_HDR_LEN])
{
	memset(hdr, 0, BM_HDR_LEN);
	memcpy(hdr, BM_MAGIC, 8);
	put_le32(hdr + 8, BM_VERSION);
	put_le32(hdr + 12, m->block_size);
	put_le64(hdr + 16, m->disk_size);
	put_le64(hdr + 24, m->nblocks);
	put_le64(hdr + 32, m->point);
	put_le64(hdr + 40, m->seq);
	put_le64(hdr + 48, (uint64_t)m->app_time);
}

int
blockmap_save(const struct blockmap *m, const char *path, char **cause)
{
	XXH3_state_t	 st;
	uint8_t		 hdr[BM_HDR_LEN], *chunk, sum[8];
	uint64_t	 i, j, n, off;
	char		*tmp;
	int		 fd, rc = -1;
	const size_t	 per = 8192;	/* hashes per write */

	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		set_cause(cause, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	chunk = xmalloc(per * 8);
	XXH3_64bits_reset(&st);
	bm_header(m, hdr);
	XXH3_64bits_update(&st, hdr, sizeof(hdr));
	if (pwrite_all(fd, hdr, sizeof(hdr), 0) == -1)
		goto fail;
	off = sizeof(hdr);
	for (i = 0; i < m->nblocks; i += n) {
		n = m->nblocks - i < per ? m->nblocks - i : per;
		for (j = 0; j < n; j++)
			put_le64(chunk + j * 8, m->h[i + j]);
		XXH3_64bits_update(&st, chunk, n * 8);
		if (pwrite_all(fd, chunk, n * 8, off) == -1)
			goto fail;
		off += n * 8;
	}
	put_le64(sum, XXH3_64bits_digest(&st));
	if (pwrite_all(fd, sum, sizeof(sum), off) == -1)
		goto fail;
	rc = file_commit(fd, tmp, path);
	fd = -1;
	if (rc == 0)
		goto out;
fail:
	set_cause(cause, "cannot write the block map %s: %s", path,
	    strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(chunk);
	free(tmp);
	return rc;
}

enum bm_load
blockmap_load(const char *path, uint64_t disk_size, uint32_t block_size,
    struct blockmap **mapp, char **why)
{
	struct blockmap	*m = NULL;
	uint8_t		*buf = NULL;
	uint64_t	 n, i, fsz, bs, dsz;
	size_t		 len;
	char		*err = NULL;

	*mapp = NULL;
	if (access(path, F_OK) == -1 && errno == ENOENT) {
		*mapp = blockmap_new(disk_size, block_size, BM_ZERO);
		return BM_MISSING;
	}
	if ((buf = (uint8_t *)read_file(path, &len, &err)) == NULL) {
		set_cause(why, "the block map is unreadable (%s)", err);
		goto resync;
	}
	if (len < BM_HDR_LEN + 8 || memcmp(buf, BM_MAGIC, 8) != 0) {
		set_cause(why, "%s is not a block map (torn or overwritten)",
		    path);
		goto resync;
	}
	if (get_le32(buf + 8) != BM_VERSION) {
		set_cause(why, "%s has block map version %u, this agent "
		    "reads %u", path, get_le32(buf + 8), BM_VERSION);
		goto resync;
	}
	n = get_le64(buf + 24);
	fsz = BM_HDR_LEN + 8;
	if (n > (SIZE_MAX - fsz) / 8 || len != fsz + n * 8) {
		set_cause(why, "%s is %zu bytes, its header says %llu blocks "
		    "(truncated or torn)", path, len, (unsigned long long)n);
		goto resync;
	}
	if (XXH3_64bits(buf, len - 8) != get_le64(buf + len - 8)) {
		set_cause(why, "%s fails its checksum (corrupt)", path);
		goto resync;
	}
	bs = get_le32(buf + 12);
	dsz = get_le64(buf + 16);
	if (bs != block_size) {
		set_cause(why, "the block size changed from %llu to %u bytes",
		    (unsigned long long)bs, block_size);
		goto resync;
	}
	if (dsz != disk_size || n != blockmap_nblocks(disk_size, block_size)) {
		set_cause(why, "the disk size changed from %llu to %llu bytes",
		    (unsigned long long)dsz, (unsigned long long)disk_size);
		goto resync;
	}
	m = blockmap_new(disk_size, block_size, 0);
	m->point = get_le64(buf + 32);
	m->seq = get_le64(buf + 40);
	m->app_time = (int64_t)get_le64(buf + 48);
	for (i = 0; i < n; i++)
		m->h[i] = get_le64(buf + BM_HDR_LEN + i * 8);
	free(buf);
	*mapp = m;
	return BM_LOADED;
resync:
	free(err);
	free(buf);
	/* Nothing is known of the replica: every block is resent. */
	*mapp = blockmap_new(disk_size, block_size, BM_UNKNOWN);
	return BM_RESYNC;
}

int
blockmap_hash_fd(struct blockmap *m, int fd, const char *name,
    bm_block_cb cb, void *arg, char **cause)
{
	uint8_t		*buf;
	uint64_t	 off = 0, b = 0, want, hlen, h;
	size_t		 got, p;
	ssize_t		 n;
	int		 rc = -1;

	/* Whole blocks per read; BM_IO_CHUNK is a multiple of any size. */
	want = m->block_size > BM_IO_CHUNK ? m->block_size : BM_IO_CHUNK;
	want -= want % m->block_size;
	buf = xmalloc(want);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (off < m->disk_size) {
		hlen = m->disk_size - off < want ? m->disk_size - off : want;
		for (got = 0; got < hlen; got += (size_t)n) {
			n = pread(fd, buf + got, hlen - got, (off_t)(off + got));
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n == -1) {
				set_cause(cause, "cannot read %s at %llu: %s",
				    name, (unsigned long long)(off + got),
				    strerror(errno));
				goto out;
			}
			if (n == 0) {
				set_cause(cause, "%s ends at %llu, before its "
				    "size %llu (shrunk while read?)", name,
				    (unsigned long long)(off + got),
				    (unsigned long long)m->disk_size);
				goto out;
			}
		}
		for (p = 0; p < hlen; p += m->block_size, b++) {
			size_t	blen = hlen - p < m->block_size ? hlen - p :
			    m->block_size;

			h = blockmap_hash(buf + p, blen);
			m->h[b] = h;
			if (cb != NULL && cb(arg, b, buf + p, blen, h,
			    cause) == -1)
				goto out;
		}
		off += hlen;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

uint64_t
blockmap_changed(const struct blockmap *c, const struct blockmap *v,
    uint64_t *bytes)
{
	uint64_t	i, n = 0, by = 0;

	for (i = 0; i < v->nblocks; i++)
		if (c->h[i] != v->h[i]) {
			n++;
			if (v->h[i] != BM_ZERO)
				by += blockmap_block_len(v, i);
		}
	if (bytes != NULL)
		*bytes = by;
	return n;
}

uint64_t
blockmap_mark_unknown(struct blockmap *c, const struct blockmap *v)
{
	uint64_t	i, n = 0;

	for (i = 0; i < v->nblocks; i++)
		if (c->h[i] != v->h[i]) {
			c->h[i] = BM_UNKNOWN;
			n++;
		}
	return n;
}

size_t
blockmap_extents(const struct blockmap *c, const struct blockmap *v,
    uint32_t max_data, uint32_t max_zero, struct bm_extent **out)
{
	struct bm_extent	*e = NULL, *cur = NULL;
	size_t			 n = 0, cap = 0;
	uint64_t		 i;
	uint8_t			 zero;

	for (i = 0; i < v->nblocks; i++) {
		if (c->h[i] == v->h[i]) {
			cur = NULL;
			continue;
		}
		zero = v->h[i] == BM_ZERO;
		if (cur != NULL && cur->zero == zero &&
		    cur->count < (zero ? max_zero : max_data)) {
			cur->count++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			e = xrealloc(e, cap * sizeof(*e));
		}
		cur = &e[n++];
		cur->block = i;
		cur->count = 1;
		cur->zero = zero;
	}
	*out = e;
	return n;
}

uint64_t
blockmap_extents_digest(const struct bm_extent *e, size_t n)
{
	XXH3_state_t	st;
	uint8_t		rec[13];
	size_t		i;

	XXH3_64bits_reset(&st);
	for (i = 0; i < n; i++) {
		put_le64(rec, e[i].block);
		put_le32(rec + 8, e[i].count);
		rec[12] = e[i].zero;
		XXH3_64bits_update(&st, rec, sizeof(rec));
	}
	return XXH3_64bits_digest(&st);
}
