/*
 * snapshot.c: the provider choice and its reasons, none, reflink (on a
 * loop-mounted xfs when this machine allows: root, mkfs.xfs and loop
 * devices; skipped otherwise), fsfreeze on a loop-mounted ext4 (the
 * freeze window, the watchdog), and the quiesce hooks (order, failure,
 * timeout).  The agent's sources are not in a library: the file is
 * compiled in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/agent/snapshot.c"

static char	tmpdir[] = "/tmp/test_snapshot.XXXXXX";
static char	*state;		/* a state dir on tmpdir's filesystem */

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	int	 rc;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return rc;
}

static int
setup(void **st)
{
	(void)st;
	log_init("test_snapshot", 1, LOG_LVL_ERROR);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	state = xasprintf("%s/state", tmpdir);
	return mkdir(state, 0700);
}

static int
teardown(void **st)
{
	(void)st;
	sh("for m in %s/mnt-*; do umount \"$m\" 2>/dev/null; done; "
	    "for l in $(losetup -n -O NAME -j %s/lv.img 2>/dev/null); do "
	    "losetup -d $l; done; rm -rf %s", tmpdir, tmpdir, tmpdir);
	free(state);
	return 0;
}

static char *
write_disk(const char *dir, const char *name, size_t size, unsigned seed)
{
	char	*p = xasprintf("%s/%s", dir, name);
	uint8_t	*buf = xmalloc(size);
	size_t	 i;
	int	 fd;

	for (i = 0; i < size; i++)
		buf[i] = (uint8_t)(seed + i * 13 + (i >> 9));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	free(buf);
	return p;
}

static int
same_file(const char *a, const char *b)
{
	return sh("cmp -s '%s' '%s'", a, b) == 0;
}

/* Mount a fresh loop filesystem at tmpdir/mnt-NAME, or NULL (skip). */
static char *
loop_mount(const char *name, const char *mkfs, const char *size)
{
	char	*mnt = xasprintf("%s/mnt-%s", tmpdir, name);

	if (geteuid() != 0 || sh("command -v %s >/dev/null 2>&1", mkfs) != 0 ||
	    sh("truncate -s %s %s/%s.img && %s -q %s/%s.img >/dev/null 2>&1 "
	    "&& mkdir -p %s && mount -o loop %s/%s.img %s 2>/dev/null",
	    size, tmpdir, name, mkfs, tmpdir, name, mnt, tmpdir, name,
	    mnt) != 0) {
		free(mnt);
		return NULL;
	}
	return mnt;
}

static void
test_names(void **st)
{
	enum snap_provider	p;

	(void)st;
	assert_int_equal(snap_provider_parse("reflink", &p), 0);
	assert_int_equal(p, SNAP_REFLINK);
	assert_int_equal(snap_provider_parse("auto", &p), 0);
	assert_int_equal(p, SNAP_AUTO);
	assert_int_equal(snap_provider_parse("zfs", &p), -1);
	assert_string_equal(snap_provider_name(SNAP_FSFREEZE), "fsfreeze");
}

static void
test_none(void **st)
{
	struct snap_conf	c = { state, NULL, 5 };
	struct snap		s;
	char			*disk, *why = NULL;

	(void)st;
	disk = write_disk(tmpdir, "live.img", 65536, 1);
	assert_int_equal(snap_take(&c, disk, "live", SNAP_NONE, &s, &why), 0);
	assert_string_equal(s.view, disk);
	assert_int_equal(s.consistent, 0);
	assert_non_null(strstr(s.note, "not crash-consistent"));
	assert_int_equal(snap_settle(&s, &why), 0);
	/* The live disk is always there to resume from. */
	assert_int_equal(snap_reopen(&c, &s, &why), 0);
	snap_release(&s);
	assert_int_equal(access(disk, F_OK), 0);
	free(disk);
}

/* The choice on tmpdir, whatever filesystem it is on. */
static void
test_choose_here(void **st)
{
	struct snap_conf	c = { state, NULL, 5 };
	struct snap_choice	ch;
	char			*disk, *fs;

	(void)st;
	disk = write_disk(tmpdir, "here.img", 65536, 2);
	snap_choose(&c, disk, "here", SNAP_AUTO, &ch);
	assert_non_null(ch.why);
	/* Never lvm for a file; the reasons name what was not taken. */
	assert_true(ch.provider != SNAP_LVM);
	assert_non_null(strstr(ch.why, "not a logical volume"));
	if (ch.provider == SNAP_NONE) {
		assert_non_null(strstr(ch.why, "reflink: "));
		assert_non_null(strstr(ch.why, "fsfreeze: "));
		assert_non_null(strstr(ch.why, "not crash-consistent"));
	}
	fs = snap_fstype(disk);
	print_message("# here (%s): %s\n", fs, ch.why);
	free(fs);
	snap_choice_free(&ch);
	/* Configured but unusable: said so, then the best that works. */
	snap_choose(&c, disk, "here", SNAP_LVM, &ch);
	assert_non_null(strstr(ch.why, "lvm is configured but unusable"));
	assert_true(ch.provider != SNAP_LVM);
	snap_choice_free(&ch);
	/* A disk that is not there. */
	snap_choose(&c, "/nonexistent/disk", "x", SNAP_AUTO, &ch);
	assert_int_equal(ch.provider, SNAP_NONE);
	assert_non_null(strstr(ch.why, "cannot stat"));
	snap_choice_free(&ch);
	free(disk);
}

static void
test_reflink_xfs(void **st)
{
	struct snap_conf	 c;
	struct snap_choice	 ch;
	struct snap		 s;
	char			*mnt, *disk, *copy, *sd, *why = NULL;
	int			 fd;

	(void)st;
	if ((mnt = loop_mount("xfs", "mkfs.xfs", "320M")) == NULL) {
		print_message("# no loop-mounted xfs here (needs root, "
		    "mkfs.xfs, loop devices): skipped\n");
		skip();
	}
	sd = xasprintf("%s/state", mnt);
	assert_int_equal(mkdir(sd, 0700), 0);
	c.state_dir = sd;
	c.lvm_size = NULL;
	c.freeze_timeout = 5;
	disk = write_disk(mnt, "vm.img", 1 << 20, 3);
	copy = write_disk(tmpdir, "vm.copy", 1 << 20, 3);

	snap_choose(&c, disk, "vm", SNAP_AUTO, &ch);
	assert_int_equal(ch.provider, SNAP_REFLINK);
	assert_non_null(strstr(ch.why, "supports reflinks"));
	snap_choice_free(&ch);

	assert_int_equal(snap_take(&c, disk, "vm", SNAP_REFLINK, &s, &why), 0);
	assert_int_equal(s.consistent, 1);
	assert_true(same_file(s.view, disk));
	/* The disk changes; the view does not. */
	fd = open(disk, O_WRONLY);
	assert_int_equal(pwrite(fd, "changed!", 8, 4096), 8);
	close(fd);
	assert_false(same_file(s.view, disk));
	assert_true(same_file(s.view, copy));
	/* After a restart the clone is found again. */
	assert_int_equal(snap_reopen(&c, &s, &why), 0);
	copy = (free(copy), xstrdup(s.view));
	snap_release(&s);
	assert_int_equal(access(copy, F_OK), -1);

	/* A state dir elsewhere: a clone cannot cross filesystems. */
	c.state_dir = state;
	snap_choose(&c, disk, "vm", SNAP_REFLINK, &ch);
	assert_int_not_equal(ch.provider, SNAP_REFLINK);
	assert_non_null(strstr(ch.why, "not on the filesystem"));
	snap_choice_free(&ch);
	free(copy);
	free(disk);
	free(sd);
	sh("umount %s", mnt);
	free(mnt);
}

/* Can a file be created in dir within 5 s (i.e. it is not frozen)? */
static int
writable(const char *dir)
{
	pid_t	pid;
	int	status;

	if ((pid = fork()) == 0) {
		char	*p = xasprintf("%s/probe", dir);
		int	 fd;

		alarm(5);
		fd = open(p, O_WRONLY | O_CREAT, 0600);
		_exit(fd != -1 && write(fd, "x", 1) == 1 && fsync(fd) == 0 ?
		    0 : 1);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void
test_fsfreeze(void **st)
{
	struct snap_conf	 c = { state, NULL, 10 };
	struct snap_choice	 ch;
	struct snap		 s;
	char			*mnt, *disk, *why = NULL, *sd;
	uint8_t			 blk[4096], back[4096];
	int			 fd;

	(void)st;
	if ((mnt = loop_mount("ext4", "mkfs.ext4", "64M")) == NULL) {
		print_message("# no loop-mounted ext4 here: skipped\n");
		skip();
	}
	disk = write_disk(mnt, "db.img", 1 << 20, 4);

	snap_choose(&c, disk, "db", SNAP_FSFREEZE, &ch);
	assert_int_equal(ch.provider, SNAP_FSFREEZE);
	assert_non_null(strstr(ch.why, "frozen for at most 10s"));
	snap_choice_free(&ch);
	/* The state dir must not be on the filesystem it freezes. */
	sd = xasprintf("%s/state", mnt);
	assert_int_equal(mkdir(sd, 0700), 0);
	c.state_dir = sd;
	snap_choose(&c, disk, "db", SNAP_FSFREEZE, &ch);
	assert_int_not_equal(ch.provider, SNAP_FSFREEZE);
	assert_non_null(strstr(ch.why, "the filesystem it would freeze"));
	snap_choice_free(&ch);
	c.state_dir = state;

	/* Frozen while the changed blocks are staged, then thawed. */
	assert_int_equal(snap_take(&c, disk, "db", SNAP_FSFREEZE, &s, &why),
	    0);
	assert_true(s.frozen);
	assert_string_equal(s.view, disk);
	fd = open(disk, O_RDONLY);
	assert_int_equal(pread(fd, blk, sizeof(blk), 8192), sizeof(blk));
	close(fd);
	assert_int_equal(snap_stage_block(&s, 8192, blk, sizeof(blk), &why),
	    0);
	assert_int_equal(snap_settle(&s, &why), 0);
	assert_false(s.frozen);
	assert_int_equal(s.consistent, 1);
	assert_non_null(strstr(s.note, "frozen for"));
	assert_non_null(strstr(s.view, ".stage"));
	fd = open(s.view, O_RDONLY);
	assert_int_equal(pread(fd, back, sizeof(back), 8192), sizeof(back));
	close(fd);
	assert_memory_equal(blk, back, sizeof(blk));
	assert_true(writable(mnt));
	assert_int_equal(snap_reopen(&c, &s, &why), 0);
	snap_release(&s);

	/* Over the timeout the watchdog thaws: not crash-consistent. */
	c.freeze_timeout = 1;
	assert_int_equal(snap_take(&c, disk, "db", SNAP_FSFREEZE, &s, &why),
	    0);
	sleep(2);
	assert_true(writable(mnt));	/* thawed without us */
	assert_int_equal(snap_settle(&s, &why), 0);
	assert_int_equal(s.consistent, 0);
	assert_non_null(strstr(s.note, "watchdog"));
	snap_release(&s);
	free(sd);
	free(disk);
	sh("umount %s", mnt);
	free(mnt);
}

static char *
hook(const char *dir, const char *name, const char *body, mode_t mode);
static char *slurp(const char *);

static char *
hook(const char *dir, const char *name, const char *body, mode_t mode)
{
	char	*p = xasprintf("%s/%s", dir, name);
	FILE	*f = fopen(p, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(p, mode);
	return p;
}

static char *
slurp(const char *p)
{
	char	*s = read_file(p, NULL, NULL);

	return s != NULL ? s : xstrdup("");
}

static void
test_hooks(void **st)
{
	struct snap_hooks	 h;
	char			*dir, *log, *body, *why = NULL, *s;
	uint64_t		 t0;

	(void)st;
	dir = xasprintf("%s/quiesce.d", tmpdir);
	log = xasprintf("%s/hooks.log", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	body = xasprintf("echo \"$(basename $0) $1 $HAVEN_POINT\" >> %s", log);
	free(hook(dir, "10-db", body, 0755));
	free(hook(dir, "20-app", body, 0755));
	free(hook(dir, "30-notexec", body, 0644));
	free(hook(dir, ".hidden", body, 0755));

	assert_int_equal(snap_hooks_list(dir, &h, &why), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(snap_hooks_pre(&h, "42", 5, &why), 0);
	assert_int_equal(snap_hooks_post(&h, "42", 5), 0);
	s = slurp(log);
	/* pre in name order, post in reverse. */
	assert_string_equal(s, "10-db pre 42\n20-app pre 42\n"
	    "20-app post 42\n10-db post 42\n");
	free(s);
	snap_hooks_free(&h);

	/* A failing pre: the reason, and post only for those that ran. */
	unlink(log);
	free(hook(dir, "15-fail", "echo 'database refuses to quiesce' >&2; "
	    "exit 3", 0755));
	assert_int_equal(snap_hooks_list(dir, &h, &why), 0);
	assert_int_equal(h.n, 3);
	assert_int_equal(snap_hooks_pre(&h, "43", 5, &why), -1);
	assert_non_null(strstr(why, "15-fail pre failed (exit 3)"));
	assert_non_null(strstr(why, "database refuses to quiesce"));
	free(why);
	why = NULL;
	assert_int_equal(h.started, 2);
	assert_int_equal(snap_hooks_post(&h, "43", 5), 1);	/* 15 fails */
	s = slurp(log);
	assert_string_equal(s, "10-db pre 43\n10-db post 43\n");
	free(s);
	snap_hooks_free(&h);

	/* A hook that hangs is killed at the timeout. */
	sh("rm -f %s/15-fail", dir);
	free(hook(dir, "12-hang", "sleep 30", 0755));
	assert_int_equal(snap_hooks_list(dir, &h, &why), 0);
	t0 = now_ms();
	assert_int_equal(snap_hooks_pre(&h, "44", 1, &why), -1);
	assert_true(now_ms() - t0 < 5000);
	assert_non_null(strstr(why, "did not finish within 1s"));
	free(why);
	why = NULL;
	snap_hooks_post(&h, "44", 1);
	snap_hooks_free(&h);

	/* No directory at all. */
	assert_int_equal(snap_hooks_list("/nonexistent/quiesce.d", &h, &why),
	    -1);
	assert_non_null(strstr(why, "cannot read the quiesce hook dir"));
	free(why);
	free(body);
	free(log);
	free(dir);
}

/*
 * lvm, with stand-ins for lvs, lvcreate and lvremove first in PATH (no
 * device-mapper here): the disk is a loop device that "is" vg0/data and
 * the "snapshot" a copy.  Checks the commands and the lifecycle.
 */
static const char fake_lvs[] =
    "echo \"lvs $*\" >>\"$FAKE_LOG\"\n"
    "for last; do :; done\n"
    "case \"$*\" in\n"
    "*vg_name,lv_name,lv_attr,vg_free*) [ \"$last\" = \"$FAKE_DISK\" ] || "
    "exit 5; echo \"  vg0 data -wi-a----- ${FAKE_FREE:-1073741824}\";;\n"
    "*vg_name,lv_name*) [ \"$last\" = \"$FAKE_DISK\" ] || exit 5; "
    "echo '  vg0 data';;\n"
    "*lv_name*) [ -e \"$FAKE_SNAP\" ] || exit 5; echo \"  ${last#*/}\";;\n"
    "*lv_path*) [ -e \"$FAKE_SNAP\" ] || { echo \"  Failed to find "
    "logical volume $last\" >&2; exit 5; }; echo \"  $FAKE_SNAP\";;\n"
    "esac";

static void
test_lvm_fake(void **st)
{
	struct snap_conf	 c = { state, NULL, 5 };
	struct snap_choice	 ch;
	struct snap		 s;
	char			*bin, *img, *snapf, *logf, *path, *why = NULL;
	char			*text, *cmd, dev[64];
	FILE			*f;
	int			 got;

	(void)st;
	if (geteuid() != 0 || sh("command -v losetup >/dev/null") != 0) {
		print_message("# no loop devices here: skipped\n");
		skip();
	}
	img = write_disk(tmpdir, "lv.img", 1 << 20, 5);
	cmd = xasprintf("losetup -f --show %s 2>/dev/null", img);
	f = popen(cmd, "r");
	free(cmd);
	got = f != NULL && fgets(dev, sizeof(dev), f) != NULL;
	if (f != NULL)
		pclose(f);
	if (!got || strncmp(dev, "/dev/", 5) != 0) {
		free(img);
		print_message("# no free loop device: skipped\n");
		skip();
	}
	dev[strcspn(dev, "\n")] = '\0';
	bin = xasprintf("%s/fakebin", tmpdir);
	snapf = xasprintf("%s/lvsnap", tmpdir);
	logf = xasprintf("%s/lvm.log", tmpdir);
	assert_int_equal(mkdir(bin, 0755), 0);
	free(hook(bin, "lvs", fake_lvs, 0755));
	free(hook(bin, "lvcreate", "echo \"lvcreate $*\" >>\"$FAKE_LOG\"; "
	    "cp \"$FAKE_DISK\" \"$FAKE_SNAP\"", 0755));
	free(hook(bin, "lvremove", "echo \"lvremove $*\" >>\"$FAKE_LOG\"; "
	    "rm -f \"$FAKE_SNAP\"", 0755));
	path = xasprintf("%s:%s", bin, getenv("PATH"));
	setenv("FAKE_DISK", dev, 1);
	setenv("FAKE_SNAP", snapf, 1);
	setenv("FAKE_LOG", logf, 1);
	setenv("PATH", path, 1);

	snap_choose(&c, dev, "lv", SNAP_AUTO, &ch);
	assert_int_equal(ch.provider, SNAP_LVM);
	assert_non_null(strstr(ch.why, "is logical volume vg0/data"));
	snap_choice_free(&ch);
	assert_int_equal(snap_take(&c, dev, "lv", SNAP_LVM, &s, &why), 0);
	assert_string_equal(s.view, snapf);
	assert_string_equal(s.lv, "vg0/haven-lv");
	assert_int_equal(s.consistent, 1);
	assert_true(same_file(s.view, img));
	assert_int_equal(snap_reopen(&c, &s, &why), 0);
	snap_release(&s);
	assert_int_equal(access(snapf, F_OK), -1);
	text = slurp(logf);
	assert_non_null(strstr(text, "lvcreate --snapshot -y -n haven-lv -l "
	    "10%ORIGIN vg0/data"));
	assert_non_null(strstr(text, "lvremove -f vg0/haven-lv"));
	free(text);
	/* After a restart, a snapshot that is gone is said to be. */
	memset(&s, 0, sizeof(s));
	s.stage_fd = -1;
	s.provider = SNAP_LVM;
	s.lv = xstrdup("vg0/haven-lv");
	assert_int_equal(snap_reopen(&c, &s, &why), -1);
	assert_non_null(strstr(why, "Failed to find"));
	free(why);
	why = NULL;
	snap_free(&s);
	/* A full volume group: not chosen, and why. */
	setenv("FAKE_FREE", "0", 1);
	snap_choose(&c, dev, "lv", SNAP_AUTO, &ch);
	assert_int_not_equal(ch.provider, SNAP_LVM);
	assert_non_null(strstr(ch.why, "no free space for a snapshot"));
	snap_choice_free(&ch);

	unsetenv("FAKE_FREE");
	setenv("PATH", path + strlen(bin) + 1, 1);
	sh("losetup -d %s", dev);
	free(path);
	free(logf);
	free(snapf);
	free(bin);
	free(img);
}

static void
test_run(void **st)
{
	char	*argv[] = { "sh", "-c", "echo one; echo two >&2; exit 7", NULL };
	char	*missing[] = { "/nonexistent/lvcreate", NULL };
	char	 out[64], *cause = NULL;

	(void)st;
	assert_int_equal(snap_run(argv, 5, out, sizeof(out), &cause), 7);
	assert_string_equal(out, "one; two");
	assert_int_equal(snap_run(missing, 5, out, sizeof(out), &cause), -1);
	assert_non_null(strstr(cause, "cannot run /nonexistent/lvcreate"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_choose_here),
		cmocka_unit_test(test_reflink_xfs),
		cmocka_unit_test(test_fsfreeze),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_lvm_fake),
		cmocka_unit_test(test_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
