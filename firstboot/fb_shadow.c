/*
 * The console root login.  The image ships with root locked; setup makes
 * the admin password root's too, so an operator can sign in on the
 * console and read the logs when something is wrong.  sshd keeps
 * Debian's PermitRootLogin prohibit-password: SSH stays key-only.
 *
 * root's second field in /etc/shadow becomes a SHA-512 crypt(3) hash;
 * every other byte of the file is kept.  The new file is written beside
 * the old one with its owner and mode (0640 root:shadow on Debian) and
 * renamed over it, under the lock shadow-utils take (.pwd.lock), so a
 * crash leaves the old file or the new one, never half of either.
 */
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "fb.h"

#define FB_SALT_LEN		16	/* the most SHA-crypt uses */
#define FB_LOCK_WAIT_MS		15000	/* as lckpwdf(3) */

static const char fb_shadow_b64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int
fb_shadow_hash(const char *pw, char *out, size_t outlen, char **cause)
{
	struct crypt_data	*cd;
	unsigned char		 raw[FB_SALT_LEN];
	char			 setting[3 + FB_SALT_LEN + 2];
	const char		*h;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd, rc = -1;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open /dev/urandom for a salt: %s",
		    strerror(errno));
		return -1;
	}
	while (got < sizeof raw) {
		if ((n = read(fd, raw + got, sizeof raw - got)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			set_cause(cause, "cannot read /dev/urandom for a salt: "
			    "%s", n == 0 ? "end of file" : strerror(errno));
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	/* 64 symbols: the low 6 bits of a random byte are unbiased. */
	memcpy(setting, "$6$", 3);
	for (size_t i = 0; i < sizeof raw; i++)
		setting[3 + i] = fb_shadow_b64[raw[i] & 63];
	setting[3 + FB_SALT_LEN] = '$';
	setting[3 + FB_SALT_LEN + 1] = '\0';

	cd = xcalloc(1, sizeof *cd);
	h = crypt_r(pw, setting, cd);
	if (h == NULL || strncmp(h, setting, sizeof setting - 1) != 0 ||
	    strpbrk(h, ":\n") != NULL) {
		set_cause(cause, "crypt(3) cannot make a SHA-512 hash (%s): "
		    "the appliance's libcrypt is broken; reinstall it",
		    h == NULL ? strerror(errno) : "unexpected result");
	} else if (strlen(h) >= outlen) {
		set_cause(cause, "the password hash is longer than %zu bytes",
		    outlen - 1);
	} else {
		memcpy(out, h, strlen(h) + 1);
		rc = 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	explicit_bzero(raw, sizeof raw);
	return rc;
}

int
fb_shadow_edit(const char *path, const char *text, size_t len,
    const char *hash, char **out, size_t *outlen, char **cause)
{
	const char	*line, *eol, *field, *end;
	size_t		 hlen = strlen(hash), newlen;
	char		*r;

	if (*hash == '\0' || strpbrk(hash, ":\n") != NULL) {
		set_cause(cause, "a password hash cannot be empty or hold ':' "
		    "or a newline");
		return -1;
	}
	/* getspnam(3) takes the first root line: so does this. */
	for (line = text; line < text + len; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(text + len - line));
		if (eol == NULL)
			eol = text + len;
		if ((size_t)(eol - line) >= 5 && memcmp(line, "root:", 5) == 0)
			break;
	}
	if (line >= text + len) {
		set_cause(cause, "%s has no line for root: the appliance's "
		    "account files are damaged. Restore it from its backup "
		    "%s- in a rescue shell, or redeploy the appliance; then "
		    "choose Retry.", path, path);
		return -1;
	}
	field = line + 5;
	if ((end = memchr(field, ':', (size_t)(eol - field))) == NULL) {
		set_cause(cause, "root's line in %s has no password field "
		    "(root:PASSWORD:...): the file is damaged. Restore it from "
		    "its backup %s- in a rescue shell, or redeploy the "
		    "appliance; then choose Retry.", path, path);
		return -1;
	}
	newlen = len - (size_t)(end - field) + hlen;
	r = xmalloc(newlen + 1);
	memcpy(r, text, (size_t)(field - text));
	memcpy(r + (field - text), hash, hlen);
	memcpy(r + (field - text) + hlen, end, (size_t)(text + len - end));
	r[newlen] = '\0';
	*out = r;
	*outlen = newlen;
	return 0;
}

/* What to do about a failed write, by errno. */
static const struct {
	int		 err;
	const char	*fix;
} fb_shadow_fixes[] = {
	{ EROFS,	"The root filesystem is read-only (mounted so after a "
			"disk error): restart the appliance so fsck repairs "
			"it" },
	{ EPERM,	"The file or its directory is immutable: clear the "
			"flag (lsattr -d DIR FILE shows 'i'; chattr -i) from "
			"a rescue shell" },
	{ EACCES,	"Make the file and its directory writable by root" },
	{ ENOSPC,	"The disk is full: free space on it" },
	{ EDQUOT,	"The disk quota is exhausted: free space on it" },
};

static void
fb_shadow_write_error(const char *path, const char *what, int err,
    char **cause)
{
	const char	*fix = "Fix that";

	for (size_t i = 0; i < nitems(fb_shadow_fixes); i++)
		if (fb_shadow_fixes[i].err == err)
			fix = fb_shadow_fixes[i].fix;
	set_cause(cause, "cannot %s %s: %s. %s, then choose Retry.", what,
	    path, strerror(err), fix);
}

/* The lock of shadow-utils (lckpwdf(3)): passwd, useradd and friends
 * never write the file at the same time.  The fd, or -1. */
static int
fb_shadow_lock(const char *path, char **cause)
{
	struct flock	 fl;
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	char		*copy, *lock;
	int		 fd, waited = 0;

	copy = xstrdup(path);
	lock = xasprintf("%s/.pwd.lock", dirname(copy));
	free(copy);
	if ((fd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fb_shadow_write_error(lock, "create the lock", errno, cause);
		free(lock);
		return -1;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if ((errno != EACCES && errno != EAGAIN && errno != EINTR) ||
		    waited >= FB_LOCK_WAIT_MS) {
			set_cause(cause, "cannot lock %s: %s. Another program "
			    "(passwd, useradd...) is changing the accounts: "
			    "wait for it, then choose Retry.", lock,
			    strerror(errno));
			close(fd);
			free(lock);
			return -1;
		}
		nanosleep(&ts, NULL);
		waited += 100;
	}
	free(lock);
	return fd;
}

/* The file is there and a regular file; *st its owner and mode. */
static int
fb_shadow_check(const char *path, struct stat *st, char **cause)
{
	if (lstat(path, st) == -1) {
		set_cause(cause, "%s cannot be used: %s. The appliance's "
		    "account files are damaged: restore it from its backup "
		    "%s- in a rescue shell, or redeploy the appliance; then "
		    "choose Retry.", path, strerror(errno), path);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		set_cause(cause, "%s is not a regular file: the appliance's "
		    "account files are damaged. Restore it from its backup "
		    "%s- in a rescue shell, or redeploy the appliance; then "
		    "choose Retry.", path, path);
		return -1;
	}
	return 0;
}

int
fb_shadow_set_root(const char *path, const char *pw, char **cause)
{
	struct stat	 st;
	char		 hash[128], *text = NULL, *edited = NULL, *tmp, *why = NULL;
	size_t		 len = 0, elen = 0;
	int		 lockfd, fd, rc = -1, err;

	if (fb_shadow_check(path, &st, cause) == -1 ||
	    (lockfd = fb_shadow_lock(path, cause)) == -1)
		return -1;
	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	/* Again under the lock: another writer may have replaced it. */
	if (fb_shadow_check(path, &st, cause) == -1)
		goto out;
	if ((text = read_file(path, &len, &why)) == NULL) {
		set_cause(cause, "%s. Make it readable by root, then choose "
		    "Retry.", why);
		goto out;
	}
	if (fb_shadow_hash(pw, hash, sizeof hash, cause) == -1 ||
	    fb_shadow_edit(path, text, len, hash, &edited, &elen, cause) == -1)
		goto out;

	/* Created private; owner and mode follow before a byte is in it.
	 * Under the lock, a file of that name is a crash's leftover. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		fb_shadow_write_error(tmp, "create", errno, cause);
		goto out;
	}
	if (fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, st.st_mode & 07777) == -1 ||
	    pwrite_all(fd, edited, elen, 0) == -1) {
		err = errno;
		close(fd);
		unlink(tmp);
		fb_shadow_write_error(tmp, "write", err, cause);
		goto out;
	}
	if (file_commit(fd, tmp, path) == -1) {
		err = errno;
		unlink(tmp);
		fb_shadow_write_error(path, "replace", err, cause);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(hash, sizeof hash);
	if (text != NULL)
		explicit_bzero(text, len);
	if (edited != NULL)
		explicit_bzero(edited, elen);
	free(text);
	free(edited);
	free(why);
	free(tmp);
	close(lockfd);
	return rc;
}
