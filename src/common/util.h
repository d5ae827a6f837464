/* Small helpers shared by every binary. */
#ifndef HAVEN_UTIL_H
#define HAVEN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Allocation failure is a broken invariant: these never return NULL. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list);

/*
 * Failure reasons travel as malloc'd strings in a "char **cause" out
 * argument. set_cause() frees any earlier reason; cause may be NULL.
 */
void	 set_cause(char **cause, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Growable byte buffer. */
struct fbuf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
};
void	 fbuf_init(struct fbuf *);
void	 fbuf_free(struct fbuf *);
void	 fbuf_reserve(struct fbuf *, size_t);
void	 fbuf_add(struct fbuf *, const void *, size_t);
void	 fbuf_printf(struct fbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fbuf_reset(struct fbuf *);
/* Remove n bytes from the front. */
void	 fbuf_drain(struct fbuf *, size_t);

/* Whole-file helpers. read_file() NUL-terminates (len excludes it). */
char	*read_file(const char *path, size_t *len, char **cause);
/* write + fsync to path.tmp, rename, fsync the directory. */
int	 write_file_atomic(const char *path, const void *, size_t, mode_t,
	    char **cause);
/*
 * The end of such a write for a caller that wrote tmp itself: fsync
 * and close fd, rename tmp to path, fsync the directory.  fd is closed
 * either way; -1 with errno, tmp left for the caller to unlink.
 */
int	 file_commit(int fd, const char *tmp, const char *path);
/* Refuses files readable or writable by group or others, naming the fix. */
int	 check_private_file(const char *path, char **cause);
/* Whole-buffer positional I/O, retrying short transfers and EINTR.  A
 * read that hits the end of the file fails with EIO. */
int	 pread_all(int fd, void *, size_t, uint64_t off);
int	 pwrite_all(int fd, const void *, size_t, uint64_t off);
int	 mkdir_p(const char *path, mode_t mode, char **cause);

/* Cryptographically random bytes (OpenSSL). */
void	 random_bytes(void *, size_t);
/* Lower-case hex; out must hold 2 * len + 1. */
void	 hex_encode(const void *, size_t, char *out);
/* Returns bytes decoded or -1. */
ssize_t	 hex_decode(const char *, void *out, size_t outlen);

uint64_t now_ms(void);		/* CLOCK_MONOTONIC */
int64_t	 now_unix(void);	/* wall clock, seconds */
/* "2026-11-22T04:52:42Z" into out (at least 21 bytes). */
void	 fmt_time(int64_t unix_seconds, char *out, size_t outlen);

/* Append src to dst (size len), truncating; always NUL-terminates. */
void	 strlcat_s(char *dst, const char *src, size_t len);

int	 set_nonblock(int fd);
int	 set_cloexec(int fd);

#endif
