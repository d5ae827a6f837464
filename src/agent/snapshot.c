/*
 * Snapshot providers and quiesce hooks (snapshot.h, docs/agent.md).
 *
 *	lvm	 lvcreate --snapshot of a logical volume, removed after the
 *		 cycle; the view is the snapshot LV
 *	reflink	 FICLONE of a regular file into the state dir (same
 *		 filesystem, one that shares extents: xfs, btrfs, ...)
 *	fsfreeze FIFREEZE of the filesystems on the disk while the agent
 *		 hashes it and copies the changed blocks to a staging file
 *		 in the state dir, then FITHAW; a watchdog process thaws
 *		 after freeze_timeout whatever happens to the agent
 *	none	 the live disk: points are not crash-consistent
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <linux/fs.h>

#include "inventory.h"
#include "log.h"
#include "snapshot.h"
#include "util.h"

#define SNAP_WATCHDOG_THAWED	3	/* the watchdog's exit status */

static const char *const snap_names[] = {
	[SNAP_NONE] = "none",
	[SNAP_REFLINK] = "reflink",
	[SNAP_LVM] = "lvm",
	[SNAP_FSFREEZE] = "fsfreeze",
	[SNAP_AUTO] = "auto",
};

const char *
snap_provider_name(enum snap_provider p)
{
	return (size_t)p < nitems(snap_names) ? snap_names[p] : "?";
}

int
snap_provider_parse(const char *s, enum snap_provider *p)
{
	size_t	i;

	for (i = 0; i < nitems(snap_names); i++)
		if (strcmp(s, snap_names[i]) == 0) {
			*p = (enum snap_provider)i;
			return 0;
		}
	return -1;
}

/* Running commands (lvm tools, hooks). */

static void
snap_keep_tail(char *out, size_t outlen, size_t *used, const char *p,
    size_t n)
{
	size_t	room = outlen - 1, drop;

	if (n >= room) {
		memcpy(out, p + n - room, room);
		*used = room;
	} else {
		if (*used + n > room) {
			drop = *used + n - room;
			memmove(out, out + drop, *used - drop);
			*used -= drop;
		}
		memcpy(out + *used, p, n);
		*used += n;
	}
	out[*used] = '\0';
}

/* One line for a reason: newlines become "; ", trailing space goes. */
static void
snap_oneline(char *s, size_t size)
{
	char	*out, *w, *p;
	size_t	 len;

	out = w = xmalloc(2 * strlen(s) + 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '\n') {
			if (w > out && w[-1] != ' ')
				*w++ = ';';
			*w++ = ' ';
		} else
			*w++ = *p == '\r' || *p == '\t' ? ' ' : *p;
	}
	*w = '\0';
	len = strlen(out);
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == ';'))
		out[--len] = '\0';
	snprintf(s, size, "%s", out);
	free(out);
}

static int
snap_run_env(char *const argv[], const char *const *env, int timeout,
    char *out, size_t outlen, char **cause)
{
	struct pollfd	 pfd;
	char		 buf[4096], tail[1024];
	size_t		 used = 0;
	uint64_t	 deadline;
	ssize_t		 n;
	pid_t		 pid, w;
	int		 p[2], status = 0, timed_out = 0, devnull, rem, i;

	tail[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1) {
		set_cause(cause, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		set_cause(cause, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		(void)setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		for (i = 0; env != NULL && env[i] != NULL; i += 2)
			setenv(env[i], env[i + 1], 1);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s", argv[0],
		    strerror(errno));
		_exit(127);
	}
	(void)setpgid(pid, pid);
	close(p[1]);
	deadline = now_ms() + (uint64_t)timeout * 1000;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		rem = now_ms() >= deadline ? 0 : (int)(deadline - now_ms());
		if (rem == 0) {
			timed_out = 1;
			break;
		}
		if ((n = poll(&pfd, 1, rem)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			continue;
		if ((n = read(p[0], buf, sizeof(buf))) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		if (n == 0)
			break;
		snap_keep_tail(tail, sizeof(tail), &used, buf, (size_t)n);
	}
	close(p[0]);
	/* Output closed; the process may linger: wait out the deadline. */
	for (;;) {
		if ((w = waitpid(pid, &status, WNOHANG)) == pid)
			break;
		if (w == -1 && errno != EINTR) {
			status = 0;
			break;
		}
		if (timed_out || now_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			break;
		}
		usleep(10000);
	}
	snap_oneline(tail, sizeof(tail));
	if (out != NULL && outlen > 0)
		snprintf(out, outlen, "%s", tail);
	if (timed_out) {
		kill(-pid, SIGKILL);
		set_cause(cause, "%s did not finish within %ds and was killed",
		    argv[0], timeout);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		set_cause(cause, "%s was killed by signal %d%s%s", argv[0],
		    WTERMSIG(status), tail[0] ? ": " : "", tail);
		return -1;
	}
	if (WEXITSTATUS(status) == 127 && strncmp(tail, "cannot run ", 11) == 0) {
		set_cause(cause, "%s", tail);
		return -1;
	}
	return WEXITSTATUS(status);
}

int
snap_run(char *const argv[], int timeout, char *out, size_t outlen,
    char **cause)
{
	return snap_run_env(argv, NULL, timeout, out, outlen, cause);
}

/* Mounts (for fsfreeze, and the filesystem type in reasons). */

struct snap_mount {
	dev_t	 dev;
	char	*dir;
	char	*fstype;
};

static void
snap_mounts_free(struct snap_mount *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(m[i].dir);
		free(m[i].fstype);
	}
	free(m);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
snap_unescape(char *s)
{
	char	*w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

/* Every mount, first one per device. */
static size_t
snap_mounts_all(struct snap_mount **out)
{
	struct snap_mount	*m = NULL;
	FILE			*f;
	char			*line = NULL, *fld[16], *p, *dash;
	size_t			 cap = 0, n = 0, i, nf;
	unsigned		 maj, min;
	dev_t			 dev;

	*out = NULL;
	if ((f = fopen("/proc/self/mountinfo", "r")) == NULL)
		return 0;
	while (getline(&line, &cap, f) != -1) {
		if ((dash = strstr(line, " - ")) == NULL)
			continue;
		*dash = '\0';
		for (nf = 0, p = strtok(line, " \n"); p != NULL && nf < 6;
		    p = strtok(NULL, " \n"))
			fld[nf++] = p;
		if (nf < 5 || sscanf(fld[2], "%u:%u", &maj, &min) != 2)
			continue;
		p = strtok(dash + 3, " \n");
		dev = makedev(maj, min);
		for (i = 0; i < n; i++)
			if (m[i].dev == dev)
				break;
		if (i < n)
			continue;
		m = xrealloc(m, (n + 1) * sizeof(*m));
		snap_unescape(fld[4]);
		m[n].dev = dev;
		m[n].dir = xstrdup(fld[4]);
		m[n].fstype = xstrdup(p != NULL ? p : "?");
		n++;
	}
	free(line);
	fclose(f);
	*out = m;
	return n;
}

/* /sys/dev/block/M:m resolved, or NULL. */
static char *
snap_sysblock(dev_t dev)
{
	char	path[64], real[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(dev),
	    minor(dev));
	if (realpath(path, real) == NULL)
		return NULL;
	return xstrdup(real);
}

/*
 * The mounted filesystems that live on disk: for a file, the one that
 * holds it; for a block device, those on it or on its partitions.
 */
static size_t
snap_disk_mounts(const char *disk, const struct stat *st,
    struct snap_mount **out)
{
	struct snap_mount	*all, *m = NULL;
	size_t			 nall, n = 0, i;
	char			*dsys = NULL, *psys, *slash;
	int			 match;

	nall = snap_mounts_all(&all);
	(void)disk;
	if (S_ISBLK(st->st_mode))
		dsys = snap_sysblock(st->st_rdev);
	for (i = 0; i < nall; i++) {
		if (S_ISREG(st->st_mode))
			match = all[i].dev == st->st_dev;
		else if (all[i].dev == st->st_rdev)
			match = 1;
		else if (dsys != NULL && major(all[i].dev) != 0 &&
		    (psys = snap_sysblock(all[i].dev)) != NULL) {
			slash = strrchr(psys, '/');
			match = slash != NULL &&
			    (size_t)(slash - psys) == strlen(dsys) &&
			    strncmp(psys, dsys, strlen(dsys)) == 0;
			free(psys);
		} else
			match = 0;
		if (!match)
			continue;
		m = xrealloc(m, (n + 1) * sizeof(*m));
		m[n].dev = all[i].dev;
		m[n].dir = xstrdup(all[i].dir);
		m[n].fstype = xstrdup(all[i].fstype);
		n++;
	}
	free(dsys);
	snap_mounts_free(all, nall);
	*out = m;
	return n;
}

/* "xfs" for the filesystem holding path (or "unknown"). */
static char *
snap_fstype(const char *path)
{
	struct snap_mount	*m;
	struct stat		 st;
	size_t			 n;
	char			*t;

	if (stat(path, &st) == -1)
		return xstrdup("unknown");
	st.st_mode = S_IFREG;	/* the filesystem holding it */
	n = snap_disk_mounts(path, &st, &m);
	t = xstrdup(n > 0 ? m[0].fstype : "unknown");
	snap_mounts_free(m, n);
	return t;
}

/* Providers. */

static char *
snap_path(const struct snap_conf *c, const char *stem, const char *ext)
{
	return xasprintf("%s/%s.%s", c->state_dir, stem, ext);
}

/* lvs fields for an LV path, or -1 with why. */
static int
snap_lvs(const char *what, const char *fields, char *out, size_t outlen,
    char **why)
{
	char	*argv[] = { "lvs", "--noheadings", "--nosuffix", "--units",
		    "b", "-o", (char *)fields, (char *)what, NULL };
	char	*cause = NULL;
	int	 rc;

	rc = snap_run(argv, 30, out, outlen, &cause);
	if (rc == -1) {
		set_cause(why, "%s", strstr(cause, "cannot run") != NULL ?
		    "the LVM tools (lvs) are not installed" : cause);
		free(cause);
		return -1;
	}
	if (rc != 0) {
		set_cause(why, "lvs %s: %s", what, out);
		return -1;
	}
	/* lvs indents its columns. */
	memmove(out, out + strspn(out, " \t"), strlen(out + strspn(out,
	    " \t")) + 1);
	return 0;
}

static int
snap_lvm_probe(const struct snap_conf *c, const char *disk,
    const struct stat *st, char **why)
{
	char			 out[512], vg[128], lv[128], attr[32];
	unsigned long long	 vfree;

	(void)c;
	if (!S_ISBLK(st->st_mode)) {
		set_cause(why, "%s is a file, not a logical volume", disk);
		return -1;
	}
	if (snap_lvs(disk, "vg_name,lv_name,lv_attr,vg_free", out,
	    sizeof(out), why) == -1) {
		free(*why);
		*why = NULL;
		set_cause(why, "%s is not an LVM logical volume", disk);
		return -1;
	}
	if (sscanf(out, "%127s %127s %31s %llu", vg, lv, attr, &vfree) != 4) {
		set_cause(why, "cannot parse what lvs says of %s: %s", disk,
		    out);
		return -1;
	}
	if (attr[0] == 's' || attr[0] == 'S') {
		set_cause(why, "%s is itself a snapshot", disk);
		return -1;
	}
	if (vfree == 0) {
		set_cause(why, "volume group %s has no free space for a "
		    "snapshot of %s", vg, lv);
		return -1;
	}
	set_cause(why, "%s is logical volume %s/%s; each point is an LVM "
	    "snapshot (%llu MiB free in %s)", disk, vg, lv, vfree >> 20, vg);
	return 0;
}

static char *
snap_lv_name(const char *stem)
{
	char	*n, *p;

	n = xasprintf("haven-%s", stem);
	for (p = n; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '+' || *p == '-'))
			*p = '_';
	return n;
}

static int
snap_lvm_view(struct snap *s, char **why)
{
	char	out[512];

	if (snap_lvs(s->lv, "lv_path", out, sizeof(out), why) == -1)
		return -1;
	if (out[0] == '\0' || access(out, R_OK) == -1) {
		set_cause(why, "the snapshot %s has no readable device (%s)",
		    s->lv, out);
		return -1;
	}
	free(s->view);
	s->view = xstrdup(out);
	return 0;
}

static void
snap_lvm_remove(const char *lv)
{
	char	*argv[] = { "lvremove", "-f", (char *)lv, NULL };
	char	 out[512], *cause = NULL;
	int	 rc;

	if ((rc = snap_run(argv, 120, out, sizeof(out), &cause)) != 0)
		log_warnx("cannot remove the snapshot %s: %s", lv,
		    rc == -1 ? cause : out);
	free(cause);
}

static int
snap_lvm_take(const struct snap_conf *c, struct snap *s, char **cause)
{
	char	 out[512], vg[128], lv[128], *name, *origin, *size, *opt;
	char	*argv[10];
	int	 rc;

	if (snap_lvs(s->disk, "vg_name,lv_name", out, sizeof(out),
	    cause) == -1)
		return -1;
	if (sscanf(out, "%127s %127s", vg, lv) != 2) {
		set_cause(cause, "cannot parse what lvs says of %s: %s",
		    s->disk, out);
		return -1;
	}
	name = snap_lv_name(s->stem);
	origin = xasprintf("%s/%s", vg, lv);
	s->lv = xasprintf("%s/%s", vg, name);
	/* A snapshot left by an abandoned cycle goes first. */
	if (snap_lvs(s->lv, "lv_name", out, sizeof(out), NULL) == 0)
		snap_lvm_remove(s->lv);
	size = xstrdup(c->lvm_size != NULL ? c->lvm_size : "10%ORIGIN");
	opt = strchr(size, '%') != NULL ? "-l" : "-L";
	argv[0] = "lvcreate";
	argv[1] = "--snapshot";
	argv[2] = "-y";
	argv[3] = "-n";
	argv[4] = name;
	argv[5] = opt;
	argv[6] = size;
	argv[7] = origin;
	argv[8] = NULL;
	rc = snap_run(argv, 120, out, sizeof(out), cause);
	if (rc > 0)
		set_cause(cause, "lvcreate --snapshot of %s failed: %s",
		    origin, out);
	free(size);
	free(origin);
	free(name);
	if (rc != 0)
		return -1;
	if (snap_lvm_view(s, cause) == -1) {
		snap_lvm_remove(s->lv);
		return -1;
	}
	s->consistent = 1;
	s->note = xasprintf("LVM snapshot %s", s->lv);
	return 0;
}

static int
snap_clone(const char *src, const char *dst, char **cause)
{
	int	sfd, dfd, rc = -1, saved;

	if ((sfd = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open %s: %s", src, strerror(errno));
		return -1;
	}
	unlink(dst);
	if ((dfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		set_cause(cause, "cannot create %s: %s", dst, strerror(errno));
		close(sfd);
		return -1;
	}
	if (ioctl(dfd, FICLONE, sfd) == -1) {
		saved = errno;
		unlink(dst);
		errno = saved;
		goto out;
	}
	/* Durable, so that a cycle can resume from it after a reboot. */
	if (fsync(dfd) == -1) {
		saved = errno;
		unlink(dst);
		errno = saved;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	close(sfd);
	close(dfd);
	errno = saved;
	return rc;
}

static void
snap_clone_why(const char *disk, const char *dir, int err, char **why)
{
	char	*fs = snap_fstype(disk);

	switch (err) {
	case EXDEV:
		set_cause(why, "the state dir %s is not on the filesystem of "
		    "%s (a clone must stay on one filesystem)", dir, disk);
		break;
	case EOPNOTSUPP:
	case EINVAL:
	case ENOTTY:
	case ENOSYS:
		set_cause(why, "%s is on %s, which does not support reflinks "
		    "(FICLONE: %s)", disk, fs, strerror(err));
		break;
	default:
		set_cause(why, "FICLONE of %s failed: %s", disk, strerror(err));
		break;
	}
	free(fs);
}

static int
snap_reflink_probe(const struct snap_conf *c, const char *disk,
    const struct stat *st, char **why)
{
	char	*probe, *cause = NULL, *fs;
	int	 rc;

	if (!S_ISREG(st->st_mode)) {
		set_cause(why, "%s is a block device (reflinks are for "
		    "files)", disk);
		return -1;
	}
	probe = xasprintf("%s/.reflink-probe.%d", c->state_dir, (int)getpid());
	rc = snap_clone(disk, probe, &cause);
	if (rc == -1 && cause != NULL) {
		set_cause(why, "%s", cause);
	} else if (rc == -1)
		snap_clone_why(disk, c->state_dir, errno, why);
	else {
		unlink(probe);
		fs = snap_fstype(disk);
		set_cause(why, "%s is on %s, which supports reflinks; each "
		    "point is a clone in %s", disk, fs, c->state_dir);
		free(fs);
	}
	free(cause);
	free(probe);
	return rc;
}

static int
snap_reflink_take(const struct snap_conf *c, struct snap *s, char **cause)
{
	free(s->view);
	s->view = snap_path(c, s->stem, "snap");
	if (snap_clone(s->disk, s->view, NULL) == -1) {
		snap_clone_why(s->disk, c->state_dir, errno, cause);
		return -1;
	}
	s->consistent = 1;
	s->note = xasprintf("reflink clone %s", s->view);
	return 0;
}

static int
snap_fsfreeze_probe(const struct snap_conf *c, const char *disk,
    const struct stat *st, char **why)
{
	struct snap_mount	*m;
	struct stat		 sd;
	size_t			 n, i;
	int			 rc = -1;

	if (geteuid() != 0) {
		set_cause(why, "freezing a filesystem needs root");
		return -1;
	}
	if ((n = snap_disk_mounts(disk, st, &m)) == 0) {
		set_cause(why, S_ISBLK(st->st_mode) ? "no filesystem on %s "
		    "is mounted" : "cannot find the filesystem of %s", disk);
		return -1;
	}
	if (stat(c->state_dir, &sd) == -1) {
		set_cause(why, "cannot stat the state dir %s: %s",
		    c->state_dir, strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(m[i].dir, "/") == 0) {
			set_cause(why, "%s is on the root filesystem, which the "
			    "agent does not freeze", disk);
			goto out;
		}
		if (m[i].dev == sd.st_dev) {
			set_cause(why, "the state dir %s is on %s, the "
			    "filesystem it would freeze; move state_dir to "
			    "another filesystem", c->state_dir, m[i].dir);
			goto out;
		}
	}
	set_cause(why, "%s (%s%s) is frozen for at most %ds per point while "
	    "the agent hashes %s and copies its changed blocks to %s", m[0].dir,
	    m[0].fstype, n > 1 ? " and others" : "", c->freeze_timeout, disk,
	    c->state_dir);
	rc = 0;
out:
	snap_mounts_free(m, n);
	return rc;
}

static void
snap_thaw_all(struct snap *s)
{
	size_t	i;

	for (i = 0; i < s->nf; i++) {
		if (s->ffd[i] == -1)
			continue;
		if (ioctl(s->ffd[i], FITHAW, 0) == -1 && errno != EINVAL)
			log_warn("cannot thaw %s", s->fpath[i]);
		close(s->ffd[i]);
		s->ffd[i] = -1;
	}
}

static int
snap_fsfreeze_take(const struct snap_conf *c, struct snap *s, char **cause)
{
	struct snap_mount	*m;
	struct timespec		 ts;
	struct stat		 st;
	uint64_t		 size;
	size_t			 n, i;
	pid_t			 pid;

	if (stat(s->disk, &st) == -1) {
		set_cause(cause, "cannot stat %s: %s", s->disk,
		    strerror(errno));
		return -1;
	}
	if (inventory_disk_size(s->disk, &size, cause) == -1)
		return -1;
	if ((n = snap_disk_mounts(s->disk, &st, &m)) == 0) {
		set_cause(cause, "no mounted filesystem found on %s", s->disk);
		return -1;
	}
	s->stage = snap_path(c, s->stem, "stage");
	unlink(s->stage);
	if ((s->stage_fd = open(s->stage, O_RDWR | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 || ftruncate(s->stage_fd,
	    (off_t)size) == -1) {
		set_cause(cause, "cannot create %s: %s", s->stage,
		    strerror(errno));
		snap_mounts_free(m, n);
		return -1;
	}
	s->ffd = xcalloc(n, sizeof(int));
	s->fpath = xcalloc(n, sizeof(char *));
	s->freeze_ms = now_ms();
	for (i = 0; i < n; i++) {
		s->fpath[i] = xstrdup(m[i].dir);
		s->ffd[i] = -1;
		s->nf = i + 1;
		if ((s->ffd[i] = open(m[i].dir, O_RDONLY | O_CLOEXEC)) == -1 ||
		    ioctl(s->ffd[i], FIFREEZE, 0) == -1) {
			set_cause(cause, "cannot freeze %s (%s): %s", m[i].dir,
			    m[i].fstype, errno == EBUSY ? "it is already "
			    "frozen" : strerror(errno));
			if (s->ffd[i] != -1)
				close(s->ffd[i]);
			s->ffd[i] = -1;
			snap_thaw_all(s);
			snap_mounts_free(m, n);
			return -1;
		}
	}
	snap_mounts_free(m, n);
	s->frozen = 1;
	/*
	 * The watchdog: a process of its own, so that the filesystems thaw
	 * after freeze_timeout even if the agent hangs or is killed.
	 */
	if ((pid = fork()) == 0) {
		ts.tv_sec = c->freeze_timeout;
		ts.tv_nsec = 0;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		for (i = 0; i < s->nf; i++)
			(void)ioctl(s->ffd[i], FITHAW, 0);
		_exit(SNAP_WATCHDOG_THAWED);
	}
	if (pid == -1) {
		set_cause(cause, "cannot start the freeze watchdog: %s",
		    strerror(errno));
		snap_thaw_all(s);
		s->frozen = 0;
		return -1;
	}
	s->watchdog = pid;
	s->consistent = 1;
	free(s->view);
	s->view = xstrdup(s->disk);
	return 0;
}

static int
snap_none_probe(const struct snap_conf *c, const char *disk,
    const struct stat *st, char **why)
{
	(void)c;
	(void)st;
	set_cause(why, "%s is read live; its points are not "
	    "crash-consistent", disk);
	return 0;
}

static int
snap_none_take(const struct snap_conf *c, struct snap *s, char **cause)
{
	(void)c;
	(void)cause;
	free(s->view);
	s->view = xstrdup(s->disk);
	s->consistent = 0;
	s->note = xstrdup("read live (provider none): not crash-consistent");
	return 0;
}

static const struct snap_ops {
	enum snap_provider	 p;
	int			(*probe)(const struct snap_conf *, const char *,
				    const struct stat *, char **);
	int			(*take)(const struct snap_conf *, struct snap *,
				    char **);
} snap_ops[] = {	/* best first */
	{ SNAP_LVM, snap_lvm_probe, snap_lvm_take },
	{ SNAP_REFLINK, snap_reflink_probe, snap_reflink_take },
	{ SNAP_FSFREEZE, snap_fsfreeze_probe, snap_fsfreeze_take },
	{ SNAP_NONE, snap_none_probe, snap_none_take },
};

static const struct snap_ops *
snap_ops_find(enum snap_provider p)
{
	size_t	i;

	for (i = 0; i < nitems(snap_ops); i++)
		if (snap_ops[i].p == p)
			return &snap_ops[i];
	return NULL;
}

void
snap_choose(const struct snap_conf *c, const char *disk, const char *stem,
    enum snap_provider req, struct snap_choice *ch)
{
	const struct snap_ops	*o;
	struct stat		 st;
	struct fbuf		 not;
	char			*why = NULL, *head = NULL;
	size_t			 i;

	(void)stem;
	memset(ch, 0, sizeof(*ch));
	if (stat(disk, &st) == -1) {
		ch->provider = SNAP_NONE;
		ch->why = xasprintf("cannot stat %s: %s", disk,
		    strerror(errno));
		return;
	}
	if (req != SNAP_AUTO && (o = snap_ops_find(req)) != NULL) {
		if (o->probe(c, disk, &st, &why) == 0) {
			ch->provider = req;
			ch->why = xasprintf("%s (as configured): %s",
			    snap_provider_name(req), why);
			free(why);
			return;
		}
		head = xasprintf("%s is configured but unusable: %s; ",
		    snap_provider_name(req), why);
		free(why);
		why = NULL;
	}
	fbuf_init(&not);
	for (i = 0; i < nitems(snap_ops); i++) {
		o = &snap_ops[i];
		if (o->p == req)
			continue;
		if (o->probe(c, disk, &st, &why) == 0)
			break;
		if (not.len > 0)
			fbuf_add(&not, "; ", 2);
		fbuf_add(&not, snap_provider_name(o->p),
		    strlen(snap_provider_name(o->p)));
		fbuf_add(&not, ": ", 2);
		fbuf_add(&not, why, strlen(why));
		free(why);
		why = NULL;
	}
	fbuf_add(&not, "", 1);
	/* none always probes fine, unless it was the one configured. */
	ch->provider = i < nitems(snap_ops) ? snap_ops[i].p : SNAP_NONE;
	if (why == NULL)
		why = xasprintf("%s is read live", disk);
	ch->why = xasprintf("%s%s: %s%s%s%s", head != NULL ? head : "",
	    snap_provider_name(ch->provider), why,
	    not.len > 1 ? " (not " : "", (char *)not.data,
	    not.len > 1 ? ")" : "");
	free(why);
	free(head);
	fbuf_free(&not);
}

void
snap_choice_free(struct snap_choice *ch)
{
	free(ch->why);
	ch->why = NULL;
}

int
snap_take(const struct snap_conf *c, const char *disk, const char *stem,
    enum snap_provider p, struct snap *s, char **cause)
{
	const struct snap_ops	*o;

	memset(s, 0, sizeof(*s));
	s->stage_fd = -1;
	s->provider = p;
	s->disk = xstrdup(disk);
	s->stem = xstrdup(stem);
	if ((o = snap_ops_find(p)) == NULL) {
		set_cause(cause, "no snapshot provider '%s'",
		    snap_provider_name(p));
		return -1;
	}
	if (o->take(c, s, cause) == -1) {
		snap_free(s);
		return -1;
	}
	return 0;
}

int
snap_stage_block(struct snap *s, uint64_t off, const void *data, size_t len,
    char **cause)
{
	const uint8_t	*p = data;
	ssize_t		 n;

	while (len > 0) {
		if ((n = pwrite(s->stage_fd, p, len, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			set_cause(cause, "cannot write %s: %s", s->stage,
			    strerror(errno));
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
snap_settle(struct snap *s, char **cause)
{
	uint64_t	ms;
	int		status = 0, thawed = 0;

	if (!s->frozen)
		return 0;
	if (s->watchdog > 0) {
		kill(s->watchdog, SIGKILL);
		while (waitpid(s->watchdog, &status, 0) == -1 &&
		    errno == EINTR)
			;
		thawed = WIFEXITED(status) &&
		    WEXITSTATUS(status) == SNAP_WATCHDOG_THAWED;
		s->watchdog = 0;
	}
	snap_thaw_all(s);
	s->frozen = 0;
	ms = now_ms() - s->freeze_ms;
	s->freeze_ms = ms;
	free(s->note);
	if (thawed) {
		s->consistent = 0;
		s->note = xasprintf("the filesystem stayed frozen longer than "
		    "the freeze timeout; the watchdog thawed it after %llu ms, "
		    "so the copy is not crash-consistent",
		    (unsigned long long)ms);
	} else
		s->note = xasprintf("fsfreeze: frozen for %llu ms",
		    (unsigned long long)ms);
	if (fsync(s->stage_fd) == -1) {
		set_cause(cause, "cannot sync %s: %s", s->stage,
		    strerror(errno));
		return -1;
	}
	close(s->stage_fd);
	s->stage_fd = -1;
	free(s->view);
	s->view = xstrdup(s->stage);
	return 0;
}

int
snap_reopen(const struct snap_conf *c, struct snap *s, char **why)
{
	struct stat	st;

	(void)c;
	switch (s->provider) {
	case SNAP_NONE:
		free(s->view);
		s->view = xstrdup(s->disk);
		return 0;
	case SNAP_LVM:
		if (s->lv == NULL) {
			set_cause(why, "the cycle names no snapshot volume");
			return -1;
		}
		return snap_lvm_view(s, why);
	case SNAP_REFLINK:
	case SNAP_FSFREEZE:
		if (s->view == NULL || stat(s->view, &st) == -1 ||
		    !S_ISREG(st.st_mode)) {
			set_cause(why, "%s is gone", s->view != NULL ? s->view :
			    "the view");
			return -1;
		}
		return 0;
	default:
		set_cause(why, "unknown provider");
		return -1;
	}
}

void
snap_free(struct snap *s)
{
	size_t	i;

	if (s->frozen) {
		if (s->watchdog > 0) {
			kill(s->watchdog, SIGKILL);
			while (waitpid(s->watchdog, NULL, 0) == -1 &&
			    errno == EINTR)
				;
		}
		snap_thaw_all(s);
	}
	if (s->stage_fd != -1)
		close(s->stage_fd);
	for (i = 0; i < s->nf; i++)
		free(s->fpath[i]);
	free(s->fpath);
	free(s->ffd);
	free(s->disk);
	free(s->stem);
	free(s->view);
	free(s->lv);
	free(s->note);
	free(s->stage);
	memset(s, 0, sizeof(*s));
	s->stage_fd = -1;
}

void
snap_release(struct snap *s)
{
	switch (s->provider) {
	case SNAP_LVM:
		if (s->lv != NULL)
			snap_lvm_remove(s->lv);
		break;
	case SNAP_REFLINK:
		if (s->view != NULL && strcmp(s->view, s->disk) != 0)
			unlink(s->view);
		break;
	case SNAP_FSFREEZE:
		if (s->frozen)
			(void)snap_settle(s, NULL);
		if (s->stage != NULL)
			unlink(s->stage);
		break;
	default:
		break;
	}
	snap_free(s);
}

/* Hooks. */

static int
snap_hook_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int
snap_hooks_list(const char *dir, struct snap_hooks *h, char **why)
{
	struct dirent	**ents;
	struct stat	  st;
	char		 *p;
	int		  n, i;

	memset(h, 0, sizeof(*h));
	if ((n = scandir(dir, &ents, snap_hook_filter, alphasort)) == -1) {
		set_cause(why, "cannot read the quiesce hook dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		p = xasprintf("%s/%s", dir, ents[i]->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(p, X_OK) == 0) {
			h->path = xrealloc(h->path, (h->n + 1) * sizeof(char *));
			h->path[h->n++] = p;
		} else
			free(p);
		free(ents[i]);
	}
	free(ents);
	return 0;
}

static int
snap_hook_run(const char *path, const char *phase, const char *point,
    int timeout, char **why)
{
	const char	*env[] = { "HAVEN_PHASE", phase, "HAVEN_POINT", point,
			    NULL };
	char		*argv[] = { (char *)path, (char *)phase, NULL };
	char		 out[512], *cause = NULL;
	int		 rc;

	rc = snap_run_env(argv, env, timeout, out, sizeof(out), &cause);
	if (rc == 0)
		return 0;
	if (rc == -1)
		set_cause(why, "quiesce hook %s %s: %s", path, phase, cause);
	else
		set_cause(why, "quiesce hook %s %s failed (exit %d)%s%s", path,
		    phase, rc, out[0] ? ": " : "", out);
	free(cause);
	return -1;
}

int
snap_hooks_pre(struct snap_hooks *h, const char *point, int timeout,
    char **why)
{
	for (h->started = 0; h->started < h->n; ) {
		/* Counted before it runs: a failed pre still gets its post. */
		h->started++;
		if (snap_hook_run(h->path[h->started - 1], "pre", point,
		    timeout, why) == -1)
			return -1;
	}
	return 0;
}

int
snap_hooks_post(struct snap_hooks *h, const char *point, int timeout)
{
	char	*why = NULL;
	size_t	 i;
	int	 failed = 0;

	for (i = h->started; i > 0; i--)
		if (snap_hook_run(h->path[i - 1], "post", point, timeout,
		    &why) == -1) {
			log_warnx("%s", why);
			free(why);
			why = NULL;
			failed++;
		}
	h->started = 0;
	return failed;
}

void
snap_hooks_free(struct snap_hooks *h)
{
	size_t	i;

	for (i = 0; i < h->n; i++)
		free(h->path[i]);
	free(h->path);
	memset(h, 0, sizeof(*h));
}
