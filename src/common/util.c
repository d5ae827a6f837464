#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/rand.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc %zu", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		fatal("calloc %zu", n * sz);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	*q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("realloc %zu", n);
	return q;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		fatal("strndup");
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) == -1)
		fatal("vasprintf");
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
set_cause(char **cause, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL)
		return;
	free(*cause);
	va_start(ap, fmt);
	*cause = xvasprintf(fmt, ap);
	va_end(ap);
}

void
fbuf_init(struct fbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
fbuf_free(struct fbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
fbuf_reserve(struct fbuf *b, size_t extra)
{
	size_t	want = b->len + extra;

	if (want <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < want)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
fbuf_add(struct fbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	fbuf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
fbuf_printf(struct fbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	fbuf_add(b, s, strlen(s));
	free(s);
}

void
fbuf_reset(struct fbuf *b)
{
	b->len = 0;
}

void
fbuf_drain(struct fbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

char *
read_file(const char *path, size_t *lenp, char **cause)
{
	struct fbuf	b;
	char		tmp[8192];
	ssize_t		n;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	fbuf_init(&b);
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			set_cause(cause, "cannot read %s: %s", path,
			    strerror(errno));
			close(fd);
			fbuf_free(&b);
			return NULL;
		}
		fbuf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	fbuf_add(&b, "", 1);
	if (lenp != NULL)
		*lenp = b.len - 1;
	return (char *)b.data;
}

int
file_commit(int fd, const char *tmp, const char *path)
{
	char	*dcopy;
	int	 dfd, err;

	if (fsync(fd) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1)
		return -1;
	dcopy = xstrdup(path);
	if ((dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dcopy);
	return 0;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    char **cause)
{
	char	*tmp;
	int	 fd;

	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1) {
		set_cause(cause, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1 || pwrite_all(fd, data, len, 0) == -1)
		goto fail;
	if (file_commit(fd, tmp, path) == 0) {
		free(tmp);
		return 0;
	}
	fd = -1;
fail:
	set_cause(cause, "cannot write %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int
check_private_file(const char *path, char **cause)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		set_cause(cause, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_cause(cause, "%s is not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		set_cause(cause, "%s holds a secret but is readable by group "
		    "or others (mode %04o); fix it with: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int
mkdir_p(const char *path, mode_t mode, char **cause)
{
	char	*p, *s;

	p = xstrdup(path);
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST) {
			set_cause(cause, "cannot create directory %s: %s", p,
			    strerror(errno));
			free(p);
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;
}

void
random_bytes(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		fatalx("RAND_bytes failed: the system random generator is "
		    "unavailable");
}

void
hex_encode(const void *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	const uint8_t		*b = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t
hex_decode(const char *s, void *out, size_t outlen)
{
	uint8_t	*o = out;
	size_t	 n = strlen(s), i;
	int	 hi, lo;

	if (n % 2 != 0 || n / 2 > outlen)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_nibble(s[2 * i])) < 0 ||
		    (lo = hex_nibble(s[2 * i + 1])) < 0)
			return -1;
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)(n / 2);
}

uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
now_unix(void)
{
	return (int64_t)time(NULL);
}

void
fmt_time(int64_t t, char *out, size_t outlen)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int	fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void
strlcat_s(char *dst, const char *src, size_t len)
{
	size_t	n = strlen(dst);

	if (n + 1 >= len)
		return;
	snprintf(dst + n, len - n, "%s", src);
}

int
pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;	/* shorter than it should be */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}
