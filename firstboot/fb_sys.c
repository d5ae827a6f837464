/*
 * What the wizard does to the system.  Every path is under fb->root
 * (HAVEN_ROOT) so the tests run it against a scratch tree; only a root
 * of "/" also applies the change (sethostname, ifup, chronyc, systemctl).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "fb.h"

#define FB_SETUP_DEFAULT	"/usr/sbin/haven-setup"
#define FB_INSTALL_LOCATION	"/var/lib/haven"
#define FB_IFUPDOWN_FILE	"/etc/network/interfaces.d/haven"

char *
fb_path(const struct fb *fb, const char *abs)
{
	return xasprintf("%s%s", fb->root, abs);
}

static int
fb_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
fb_nics(void)
{
	DIR		 *d;
	struct dirent	 *de;
	char		**v = NULL, link[PATH_MAX], *p;
	size_t		  n = 0;
	ssize_t		  len;

	if ((d = opendir("/sys/class/net")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    strcmp(de->d_name, "lo") == 0)
				continue;
			p = xasprintf("/sys/class/net/%s", de->d_name);
			len = readlink(p, link, sizeof link - 1);
			free(p);
			if (len <= 0)
				continue;
			link[len] = '\0';
			/* Bridges, veths, bonds, tunnels: not a NIC. */
			if (strstr(link, "/virtual/") != NULL)
				continue;
			v = xrealloc(v, (n + 2) * sizeof *v);
			v[n++] = xstrdup(de->d_name);
		}
		closedir(d);
	}
	if (v == NULL)
		v = xcalloc(1, sizeof *v);
	else
		qsort(v, n, sizeof *v, fb_strcmp);
	v[n] = NULL;
	return v;
}

void
fb_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

char *
fb_nic_ipv4(const char *ifname)
{
	struct ifaddrs	*ifa, *i;
	char		 buf[INET_ADDRSTRLEN], *r = NULL;

	if (getifaddrs(&ifa) == -1)
		return NULL;
	for (i = ifa; i != NULL && r == NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ifname) != 0)
			continue;
		if (inet_ntop(AF_INET,
		    &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
		    buf, sizeof buf) != NULL)
			r = xstrdup(buf);
	}
	freeifaddrs(ifa);
	return r;
}

static char *
fb_read_root_file(const struct fb *fb, const char *abs)
{
	char	*p, *s;

	p = fb_path(fb, abs);
	s = read_file(p, NULL, NULL);
	free(p);
	return s;
}

char *
fb_current_hostname(const struct fb *fb)
{
	char	*s, *r;

	if ((s = fb_read_root_file(fb, "/etc/hostname")) == NULL)
		return xstrdup("haven");
	r = xstrndup(s, strcspn(s, " \t\r\n"));
	free(s);
	if (*r == '\0' || strcmp(r, "localhost") == 0) {
		free(r);
		r = xstrdup("haven");
	}
	return r;
}

char *
fb_default_time_source(const struct fb *fb)
{
	const char	*env = getenv("HAVEN_FIRSTBOOT_NTP");
	char		*conf, *src;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if ((conf = fb_read_root_file(fb, "/etc/chrony/chrony.conf")) != NULL) {
		src = sntp_chrony_source(conf);
		free(conf);
		if (src != NULL)
			return src;
	}
	return xstrdup("pool.ntp.org");
}

static int
fb_write_root_file(const struct fb *fb, const char *abs, const char *text,
    mode_t mode, char **cause)
{
	char	*p, *dir;
	int	 rc;

	p = fb_path(fb, abs);
	dir = xstrndup(p, (size_t)(strrchr(p, '/') - p));
	rc = mkdir_p(dir, 0755, cause);
	if (rc == 0)
		rc = write_file_atomic(p, text, strlen(text), mode, cause);
	free(dir);
	free(p);
	return rc;
}

/* Runs a command, output discarded; 0 if it exited 0. */
static int
fb_system(char *const argv[], char **cause)
{
	pid_t	pid;
	int	status, fd;

	if ((pid = fork()) == -1) {
		set_cause(cause, "cannot run %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			break;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	set_cause(cause, "%s %s failed (exit %d): see its messages with "
	    "journalctl, fix, and try again.", argv[0],
	    argv[1] != NULL ? argv[1] : "",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}

int
fb_apply_hostname(const struct fb *fb, char **cause)
{
	struct fbuf	 b;
	char		*hosts, *line, *next, *text, *shortname;
	int		 rc, found = 0;

	shortname = xstrndup(fb->hostname, strcspn(fb->hostname, "."));
	text = xasprintf("%s\n", shortname);
	rc = fb_write_root_file(fb, "/etc/hostname", text, 0644, cause);
	free(text);
	if (rc == -1)
		goto out;

	/* Debian's convention: the host's own name on 127.0.1.1. */
	fbuf_init(&b);
	hosts = fb_read_root_file(fb, "/etc/hosts");
	if (hosts == NULL)
		hosts = xstrdup("127.0.0.1\tlocalhost\n");
	for (line = hosts; *line != '\0'; line = next) {
		next = line + strcspn(line, "\n");
		if (*next == '\n')
			next++;
		if (strncmp(line, "127.0.1.1", 9) == 0 &&
		    (line[9] == ' ' || line[9] == '\t')) {
			if (found++)
				continue;
			text = strcmp(shortname, fb->hostname) != 0 ?
			    xasprintf("127.0.1.1\t%s %s\n", fb->hostname,
			    shortname) : xasprintf("127.0.1.1\t%s\n", shortname);
			fbuf_add(&b, text, strlen(text));
			free(text);
			continue;
		}
		fbuf_add(&b, line, (size_t)(next - line));
		if (next[-1] != '\n')
			fbuf_add(&b, "\n", 1);
	}
	if (!found) {
		text = strcmp(shortname, fb->hostname) != 0 ?
		    xasprintf("127.0.1.1\t%s %s\n", fb->hostname, shortname) :
		    xasprintf("127.0.1.1\t%s\n", shortname);
		fbuf_add(&b, text, strlen(text));
		free(text);
	}
	fbuf_add(&b, "", 1);
	rc = fb_write_root_file(fb, "/etc/hosts", (char *)b.data, 0644, cause);
	fbuf_free(&b);
	free(hosts);
	if (rc == 0 && fb->live && sethostname(shortname, strlen(shortname))
	    == -1) {
		set_cause(cause, "cannot set the host name: %s (the name is "
		    "saved and applies at the next boot)", strerror(errno));
		rc = -1;
	}
out:
	free(shortname);
	return rc;
}

int
fb_apply_network(const struct fb *fb, char **cause)
{
	char		 date[32];
	char		*text, *resolv, *ns, *tok, *save = NULL;
	int		 rc;

	fmt_time(now_unix(), date, sizeof date);
	if (fb->dhcp)
		text = xasprintf("# Written by haven-firstboot, %s.\n"
		    "auto %s\niface %s inet dhcp\n", date, fb->ifname,
		    fb->ifname);
	else
		/* dns-nameservers is for resolvconf, if installed. */
		text = xasprintf("# Written by haven-firstboot, %s.\n"
		    "auto %s\niface %s inet static\n"
		    "\taddress %s\n\tgateway %s\n\tdns-nameservers %s\n",
		    date, fb->ifname, fb->ifname, fb->cidr,
		    fb->gateway, fb->dns);
	rc = fb_write_root_file(fb, FB_IFUPDOWN_FILE, text, 0644, cause);
	free(text);
	if (rc == -1)
		return -1;
	if (!fb->dhcp) {
		/* Without resolvconf, ifupdown ignores dns-nameservers. */
		struct fbuf b;

		fbuf_init(&b);
		text = xasprintf("# Written by haven-firstboot, %s.\n", date);
		fbuf_add(&b, text, strlen(text));
		free(text);
		ns = xstrdup(fb->dns);
		for (tok = strtok_r(ns, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save)) {
			text = xasprintf("nameserver %s\n", tok);
			fbuf_add(&b, text, strlen(text));
			free(text);
		}
		free(ns);
		fbuf_add(&b, "", 1);
		resolv = (char *)b.data;
		rc = fb_write_root_file(fb, "/etc/resolv.conf", resolv, 0644,
		    cause);
		fbuf_free(&b);
		if (rc == -1)
			return -1;
	}
	if (fb->live) {
		char *down[] = { "/sbin/ifdown", "--force", fb->ifname, NULL };
		char *up[] = { "/sbin/ifup", fb->ifname, NULL };

		(void)fb_system(down, NULL);
		if (fb_system(up, cause) == -1)
			return -1;
	}
	return 0;
}

int
fb_apply_time_source(const struct fb *fb, char **cause)
{
	char	*host = NULL, *text;
	int	 port, rc;

	if (fb->ntp_default != NULL && strcmp(fb->ntp, fb->ntp_default) == 0)
		return 0;
	if (fb_parse_time_source(fb->ntp, &host, &port, cause) == -1)
		return -1;
	/* Debian's chrony.conf reads sources.d: chronyd then uses this
	 * server beside its pool. */
	text = port == 123 ?
	    xasprintf("# Chosen in haven-firstboot.\nserver %s iburst\n", host) :
	    xasprintf("# Chosen in haven-firstboot.\nserver %s port %d "
	    "iburst\n", host, port);
	rc = fb_write_root_file(fb, "/etc/chrony/sources.d/haven.sources",
	    text, 0644, cause);
	free(text);
	free(host);
	if (rc == 0 && fb->live) {
		char *argv[] = { "/usr/bin/chronyc", "reload", "sources", NULL };

		(void)fb_system(argv, NULL);
	}
	return rc;
}

int
fb_apply_root_password(const struct fb *fb, char **cause)
{
	char	*p, *why = NULL;
	int	 rc;

	p = fb_path(fb, "/etc/shadow");
	if ((rc = fb_shadow_set_root(p, fb->admin_pw, &why)) == -1)
		set_cause(cause, "Cannot set the console password of root: %s",
		    why);
	free(why);
	free(p);
	return rc;
}

int
fb_done_exists(const struct fb *fb)
{
	char	*p = fb_path(fb, "/var/lib/haven/firstboot.done");
	int	 r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* The wizard's instances (firstboot/ *.service). */
static const char *const fb_units[] = {
	"haven-firstboot@tty1.service",
	"haven-firstboot-serial@ttyS0.service",
	"haven-firstboot@ttyS0.service",
};

int
fb_write_done(const struct fb *fb, char **cause)
{
	char	 date[32], *text;
	int	 rc;

	fmt_time(now_unix(), date, sizeof date);
	text = xasprintf("%s set up on %s\n", date, fb->tty);
	rc = fb_write_root_file(fb, "/var/lib/haven/firstboot.done", text,
	    0644, cause);
	free(text);
	/* Both consoles' getty come back, now and at every boot; one call
	 * each, as systemctl gives up on a list with an unknown unit. */
	for (size_t i = 0; rc == 0 && fb->live && i < nitems(fb_units); i++) {
		char *argv[] = { "/bin/systemctl", "--no-reload", "disable",
		    (char *)fb_units[i], NULL };

		(void)fb_system(argv, NULL);
	}
	return rc;
}

int
fb_lock(struct fb *fb, char **holder, char **cause)
{
	char	*dir, *p, buf[128];
	ssize_t	 n;
	int	 fd;

	if (fb->lockfd != -1)
		return 0;
	dir = fb_path(fb, "/run");
	if (mkdir_p(dir, 0755, cause) == -1) {
		free(dir);
		return -1;
	}
	p = xasprintf("%s/haven-firstboot.lock", dir);
	free(dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		set_cause(cause, "cannot open %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			set_cause(cause, "cannot lock the setup: %s",
			    strerror(errno));
			close(fd);
			return -1;
		}
		n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		*holder = xstrdup(buf[0] != '\0' ? buf : "another console");
		close(fd);
		return 1;
	}
	if (ftruncate(fd, 0) == 0) {
		p = xasprintf("%s\n", fb->tty);
		/* Only the other console's message needs it. */
		(void)!pwrite(fd, p, strlen(p), 0);
		free(p);
	}
	fb->lockfd = fd;
	return 0;
}

void
fb_random_password(char *out, size_t len)
{
	static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	    "abcdefghijkmnopqrstuvwxyz23456789";
	uint8_t		  c;
	size_t		  i = 0;

	while (i + 1 < len) {
		random_bytes(&c, 1);
		/* No modulo bias: 58 * 4 = 232. */
		if (c >= (sizeof set - 1) * 4)
			continue;
		out[i++] = set[c % (sizeof set - 1)];
	}
	out[i] = '\0';
}

/* The run of haven-setup. */

static char *
fb_run_file(struct fb_run *r, const char *name, const char *text,
    char **cause)
{
	char	*p;
	int	 fd;
	size_t	 len = strlen(text);

	p = xasprintf("%s/%s", r->dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len) {
		set_cause(cause, "cannot write %s: %s", p, strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(p);
		free(p);
		return NULL;
	}
	close(fd);
	r->files[r->nfiles++] = p;
	return p;
}

static void
fb_argv_add(char ***argv, int *argc, const char *s)
{
	*argv = xrealloc(*argv, (size_t)(*argc + 2) * sizeof **argv);
	(*argv)[(*argc)++] = xstrdup(s);
	(*argv)[*argc] = NULL;
}

/* HAVEN_SETUP_ARGS options replace ours of the same name. */
static int
fb_extra_has(char **extra, const char *opt)
{
	for (; extra != NULL && *extra != NULL; extra++)
		if (strcasecmp(*extra, opt) == 0)
			return 1;
	return 0;
}

static void
fb_argv_opt(char ***argv, int *argc, char **extra, const char *opt,
    const char *val)
{
	if (fb_extra_has(extra, opt))
		return;
	fb_argv_add(argv, argc, opt);
	if (val != NULL)
		fb_argv_add(argv, argc, val);
}

static char **
fb_split(const char *s)
{
	char	**v = NULL, *copy, *tok, *save = NULL;
	int	  n = 0;

	if (s == NULL)
		return NULL;
	copy = xstrdup(s);
	for (tok = strtok_r(copy, " \t\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\n", &save))
		fb_argv_add(&v, &n, tok);
	free(copy);
	return v;
}

int
fb_run_start(const struct fb *fb, struct fb_run *r, char **cause)
{
	const char	*setup, *tmp, *dbhost, *dbport;
	char		**extra, *text, *mysql, *admin, *proxy = NULL;
	char		 *vault = NULL, port[16];
	int		  argc = 0, pfd[2], nul;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->pid = -1;
	fbuf_init(&r->out);
	if ((setup = getenv("HAVEN_SETUP")) == NULL || *setup == '\0')
		setup = FB_SETUP_DEFAULT;
	if (access(setup, X_OK) == -1) {
		set_cause(cause, "%s cannot be run: %s. The appliance image is "
		    "incomplete: reinstall it.", setup, strerror(errno));
		return -1;
	}
	/* The secrets stay in RAM on the appliance (/run is a tmpfs). */
	tmp = fb->live ? "/run" : getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	r->dir = xasprintf("%s/haven-firstboot.XXXXXX", tmp);
	if (mkdtemp(r->dir) == NULL) {
		set_cause(cause, "cannot create a private directory in %s: %s",
		    tmp, strerror(errno));
		free(r->dir);
		r->dir = NULL;
		return -1;
	}

	dbhost = getenv("HAVEN_FIRSTBOOT_DBHOST");
	dbport = getenv("HAVEN_FIRSTBOOT_DBPORT");
	text = xasprintf("[MySQLCredentials]\n"
	    "MySQLRootPassword = \"%s\"\nMySQLUserPassword = \"%s\"\n%s%s%s%s%s%s",
	    fb->db_root_pw, fb->db_user_pw,
	    dbhost != NULL ? "MySQLHost = \"" : "", dbhost != NULL ? dbhost : "",
	    dbhost != NULL ? "\"\n" : "",
	    dbport != NULL ? "MySQLPort = \"" : "", dbport != NULL ? dbport : "",
	    dbport != NULL ? "\"\n" : "");
	mysql = fb_run_file(r, "mysql.ini", text, cause);
	free(text);
	if (mysql == NULL)
		return -1;
	if (fb->proxy) {
		/* haven-setup refuses empty values: no user, no lines. */
		if (*fb->proxy_user != '\0')
			text = xasprintf("[ProxySettings]\n"
			    "ProxyAuthentication = \"Yes\"\n"
			    "ProxyIP = \"%s\"\nProxyPort = \"%d\"\n"
			    "ProxyUserName = \"%s\"\nProxyPassword = \"%s\"\n",
			    fb->proxy_url, fb->proxy_port, fb->proxy_user,
			    fb->proxy_pw);
		else
			text = xasprintf("[ProxySettings]\n"
			    "ProxyAuthentication = \"No\"\n"
			    "ProxyIP = \"%s\"\nProxyPort = \"%d\"\n",
			    fb->proxy_url, fb->proxy_port);
		proxy = fb_run_file(r, "proxy.ini", text, cause);
		free(text);
		if (proxy == NULL)
			return -1;
	}
	if ((admin = fb_run_file(r, "admin.pass", fb->admin_pw, cause)) == NULL)
		return -1;
	/* haven-setup wants the key private (0600); the operator's copy
	 * may come from anywhere, so it gets a private copy. */
	if (*fb->vault_key != '\0') {
		if ((text = read_file(fb->vault_key, NULL, cause)) == NULL)
			return -1;
		vault = fb_run_file(r, "vault.key", text, cause);
		explicit_bzero(text, strlen(text));
		free(text);
		if (vault == NULL)
			return -1;
	}

	extra = fb_split(getenv("HAVEN_SETUP_ARGS"));
	fb_argv_add(&r->argv, &argc, setup);
	fb_argv_opt(&r->argv, &argc, extra, "/ServerMode", "CS");
	fb_argv_opt(&r->argv, &argc, extra, "/InstallLocation",
	    FB_INSTALL_LOCATION);
	fb_argv_opt(&r->argv, &argc, extra, "/MySQLCredsFilePath", mysql);
	if (vault != NULL)
		fb_argv_opt(&r->argv, &argc, extra, "/VaultCredsFilePath",
		    vault);
	fb_argv_opt(&r->argv, &argc, extra, "/EnvType", "VMware");
	fb_argv_opt(&r->argv, &argc, extra, "/PSIP", fb->data_ip);
	snprintf(port, sizeof port, "%d", fb->data_port);
	fb_argv_opt(&r->argv, &argc, extra, "/DataTransferSecurePort", port);
	if (proxy != NULL)
		fb_argv_opt(&r->argv, &argc, extra, "/ProxySettingsFilePath",
		    proxy);
	else
		fb_argv_opt(&r->argv, &argc, extra, "/BypassProxy", NULL);
	fb_argv_opt(&r->argv, &argc, extra, "/AdminPasswordFilePath", admin);
	for (char **e = extra; e != NULL && *e != NULL; e++)
		fb_argv_add(&r->argv, &argc, *e);
	fb_strv_free(extra);

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		set_cause(cause, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	if ((r->pid = fork()) == -1) {
		set_cause(cause, "cannot run %s: %s", setup, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (r->pid == 0) {
		if ((nul = open("/dev/null", O_RDONLY)) != -1)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execv(setup, r->argv);
		fprintf(stderr, "cannot run %s: %s\n", setup, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	r->fd = pfd[0];
	return 0;
}

/* "[k/N] title..." sets the current step; 1 if the line is one. */
static int
fb_run_step(struct fb_run *r, const char *line)
{
	int	k, n, off = 0;

	if (sscanf(line, "[%d/%d]%n", &k, &n, &off) != 2 || off == 0 ||
	    n <= 0 || k < 0 || k > n)
		return 0;
	r->step = k;
	r->nsteps = n;
	free(r->step_text);
	r->step_text = xstrdup(line + off + strspn(line + off, " "));
	return 1;
}

static void
fb_run_line(struct fb_run *r, char *line)
{
	line[strcspn(line, "\r")] = '\0';
	if (fb_run_step(r, line)) {
		/* A step line also goes to the tail, below. */
	} else if (strncmp(line, "Admin URL:", 10) == 0) {
		free(r->admin_url);
		r->admin_url = xstrdup(line + 10 + strspn(line + 10, " "));
	} else if (strncmp(line, "Passphrase:", 11) == 0) {
		free(r->passphrase);
		r->passphrase = xstrdup(line + 11 + strspn(line + 11, " "));
		/* Shown once on the last screen, never in the log tail. */
		return;
	}
	if (*line == '\0')
		return;
	if (r->ntail == (int)nitems(r->tail)) {
		free(r->tail[0]);
		memmove(r->tail, r->tail + 1, sizeof r->tail - sizeof *r->tail);
		r->ntail--;
	}
	r->tail[r->ntail++] = xstrdup(line);
}

int
fb_run_read(struct fb_run *r)
{
	char	 buf[4096], *nl;
	ssize_t	 n;
	size_t	 len;

	n = read(r->fd, buf, sizeof buf);
	if (n == -1)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n > 0)
		fbuf_add(&r->out, buf, (size_t)n);
	while ((nl = memchr(r->out.data, '\n', r->out.len)) != NULL ||
	    (n == 0 && r->out.len > 0)) {
		len = nl != NULL ? (size_t)(nl - (char *)r->out.data) :
		    r->out.len;
		char *line = xstrndup((char *)r->out.data, len);
		fb_run_line(r, line);
		free(line);
		fbuf_drain(&r->out, nl != NULL ? len + 1 : len);
	}
	/* haven-setup prints "[k/N] title... " before the step runs and
	 * its result after: show the running step at once. */
	if (r->out.len > 0) {
		char *part = xstrndup((char *)r->out.data, r->out.len);
		(void)fb_run_step(r, part);
		free(part);
	}
	return n == 0 ? 1 : 0;
}

int
fb_run_finish(struct fb_run *r, char **cause)
{
	int	status = 0;

	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	while (r->pid > 0 && waitpid(r->pid, &status, 0) == -1)
		if (errno != EINTR)
			break;
	r->pid = -1;
	if (WIFSIGNALED(status)) {
		set_cause(cause, "haven-setup was killed by signal %d.",
		    WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		set_cause(cause, "haven-setup failed (exit %d).",
		    WEXITSTATUS(status));
		return -1;
	}
	if (r->admin_url == NULL || r->passphrase == NULL) {
		set_cause(cause, "haven-setup ended without printing the admin "
		    "URL and the passphrase.");
		return -1;
	}
	return 0;
}

void
fb_run_cleanup(struct fb_run *r)
{
	for (int i = 0; i < r->nfiles; i++)
		unlink(r->files[i]);
	if (r->dir != NULL)
		rmdir(r->dir);
}

void
fb_run_free(struct fb_run *r)
{
	if (r->fd != -1)
		close(r->fd);
	fb_run_cleanup(r);
	for (int i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	free(r->dir);
	fb_strv_free(r->argv);
	fbuf_free(&r->out);
	for (int i = 0; i < r->ntail; i++)
		free(r->tail[i]);
	free(r->step_text);
	free(r->admin_url);
	if (r->passphrase != NULL)
		explicit_bzero(r->passphrase, strlen(r->passphrase));
	free(r->passphrase);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

char *
fb_run_cmdline(const struct fb_run *r)
{
	struct fbuf	b;

	fbuf_init(&b);
	for (char **a = r->argv; a != NULL && *a != NULL; a++) {
		if (b.len > 0)
			fbuf_add(&b, " ", 1);
		fbuf_add(&b, *a, strlen(*a));
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}
