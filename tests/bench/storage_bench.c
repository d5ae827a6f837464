/*
 * storage_bench DIR: throughput of the storage engines on DIR's
 * filesystem.  Printed figures, not a timed test (tests/bench/storage.sh).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cachelog.h"
#include "replica.h"
#include "seal.h"
#include "util.h"

#define MiB	(1024u * 1024)

static uint8_t	*blob;
static size_t	 bloblen = 64 * MiB;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Disk-like data: each 4 KiB block half random, half text and zeros. */
static void
make_blob(void)
{
	size_t	i;

	blob = xmalloc(bloblen);
	random_bytes(blob, bloblen);
	for (i = 0; i < bloblen; i += 4096) {
		memset(blob + i + 2048, 0, 1024);
		memset(blob + i + 3072, 'a' + (int)(i / 4096 % 26), 1024);
	}
}

static void
die(const char *what, const char *cause)
{
	fprintf(stderr, "storage_bench: %s: %s\n", what, cause);
	exit(1);
}

static void
bench_cachelog(const char *dir, uint32_t reclen, int group, uint64_t total)
{
	struct cachelog_conf	 conf = { 0, 0, 0 };
	struct cachelog_rec	 r;
	struct cachelog		*cl;
	char			*path, *cause = NULL;
	uint64_t		 seq, n = total / reclen, durable;
	double			 t;

	path = xasprintf("%s/cachelog-%u", dir, reclen);
	if ((cl = cachelog_open(path, &conf, &cause)) == NULL)
		die("cachelog_open", cause);
	memset(&r, 0, sizeof(r));
	r.type = CL_DATA;
	r.len = reclen;
	t = now();
	for (seq = 1; seq <= n; seq++) {
		r.seq = seq;
		r.offset = seq * reclen;
		r.data = blob + (seq * reclen) % (bloblen - reclen);
		if (cachelog_append(cl, &r, &cause) == -1)
			die("cachelog_append", cause);
		if (seq % (uint64_t)group == 0 || seq == n)
			if (cachelog_commit(cl, &durable, &cause) == -1)
				die("cachelog_commit", cause);
	}
	t = now() - t;
	printf("cache log append+commit  %7.0f MB/s  (%u KiB records, "
	    "fdatasync every %d, %" PRIu64 " MiB)\n", total / t / 1e6,
	    reclen / 1024, group, total / MiB);
	cachelog_release(cl, n, &cause);
	cachelog_close(cl);
	free(path);
}

static void
bench_seal(int level, uint64_t total)
{
	uint8_t			 key[SEAL_KEYLEN];
	struct cachelog_rec	 r, got;
	struct seal		*s;
	struct fbuf		 out;
	char			*cause = NULL;
	uint64_t		 i, n = total / MiB, sealed = 0;
	double			 t, to;

	random_bytes(key, sizeof(key));
	if ((s = seal_new(key, level, &cause)) == NULL)
		die("seal_new", cause);
	fbuf_init(&out);
	memset(&r, 0, sizeof(r));
	r.type = CL_DATA;
	r.len = MiB;
	t = now();
	for (i = 0; i < n; i++) {
		r.seq = i + 1;
		r.data = blob + (i * MiB) % (bloblen - MiB);
		fbuf_reset(&out);
		if (seal_record(s, 1, &r, &out, &cause) == -1)
			die("seal_record", cause);
		sealed += out.len;
	}
	t = now() - t;
	to = now();
	for (i = 0; i < n; i++)
		if (seal_open(s, 1, out.data, out.len, &got, &cause) == -1)
			die("seal_open", cause);
	to = now() - to;
	printf("seal zstd-%d+aes-256-gcm   %7.0f MB/s  (open %.0f MB/s, "
	    "ratio %.2f, 1 MiB records)\n", level, total / t / 1e6,
	    total / to / 1e6, (double)total / sealed);
	fbuf_free(&out);
	seal_free(s);
}

static void
bench_replica(const char *dir, uint64_t total)
{
	struct replica_conf	 conf = { 1024ULL * MiB, 0, 0 };
	struct cachelog_rec	 r;
	struct replica		*rp;
	char			*path, *cause = NULL;
	uint64_t		 i, n = total / MiB, x = 88172645463325252ULL;
	double			 t;

	path = xasprintf("%s/replica", dir);
	if ((rp = replica_open(path, &conf, &cause)) == NULL)
		die("replica_open", cause);
	memset(&r, 0, sizeof(r));
	r.type = CL_DATA;
	r.len = MiB;
	t = now();
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r.seq = i + 1;
		r.offset = (x % 1024) * MiB;
		r.data = blob + (i * MiB) % (bloblen - MiB);
		if (replica_apply(rp, &r, &cause) == -1)
			die("replica_apply", cause);
	}
	if (replica_sync(rp, NULL, &cause) == -1)
		die("replica_sync", cause);
	t = now() - t;
	printf("replica apply+journal    %7.0f MB/s  (1 MiB writes at "
	    "random offsets of a 1 GiB disk, %" PRIu64 " MiB)\n",
	    total / t / 1e6, total / MiB);
	replica_close(rp);
	free(path);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: storage_bench DIR\n");
		return 2;
	}
	make_blob();
	bench_cachelog(argv[1], MiB, 8, 512ULL * MiB);
	bench_cachelog(argv[1], 64 * 1024, 64, 256ULL * MiB);
	bench_cachelog(argv[1], 4096, 256, 64ULL * MiB);
	bench_seal(1, 512ULL * MiB);
	bench_seal(3, 256ULL * MiB);
	bench_replica(argv[1], 1024ULL * MiB);
	free(blob);
	return 0;
}
