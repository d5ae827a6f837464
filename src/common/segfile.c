#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segfile.h"
#include "util.h"

int
segfile_create(int dirfd, const char *path, const void *hdr, size_t hdrlen,
    int *fdp)
{
	char	*tmp = xasprintf("%s.tmp", path);
	int	 fd, err;

	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || pwrite_all(fd, hdr, hdrlen, 0) == -1 ||
	    fdatasync(fd) == -1 || rename(tmp, path) == -1 ||
	    fsync(dirfd) == -1) {
		err = errno;
		if (fd != -1)
			close(fd);
		unlink(tmp);
		free(tmp);
		errno = err;
		return -1;
	}
	free(tmp);
	*fdp = fd;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
segfile_list(const char *dir, const char *suffix, uint64_t **vp, size_t *np)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	*v = NULL, num;
	size_t		 n = 0, len, slen = strlen(suffix);
	char		*end, *p;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len == 16 + slen + 4 &&
		    strncmp(de->d_name + 16, suffix, slen) == 0 &&
		    strcmp(de->d_name + 16 + slen, ".tmp") == 0) {
			p = xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
			continue;
		}
		if (len != 16 + slen || strcmp(de->d_name + 16, suffix) != 0)
			continue;
		errno = 0;
		num = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16 || errno != 0)
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = num;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_u64);
	*vp = v;
	*np = n;
	return 0;
}

int
segfile_undo(int fd, const char *path, uint64_t oldsize)
{
	if (path != NULL) {
		close(fd);
		return unlink(path);
	}
	if (ftruncate(fd, (off_t)oldsize) == -1 || fdatasync(fd) == -1)
		return -1;
	return 0;
}
