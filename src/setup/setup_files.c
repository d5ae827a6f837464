/*
 * Steps both modes share: the input files, the directories, the proxy,
 * the config file, the vault key and the service.  Every step compares
 * before it writes, so that a second identical run changes nothing.
 */
#include <errno.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/crypto.h>

#include "httpc.h"
#include "secret.h"
#include "setup.h"
#include "util.h"

extern char	**environ;

/* Keys haven-setup owns in havend.conf: rewritten on every run. */
static const char *const setup_managed[] = {
	"roles", "listen_address", "control_port", "admin_port", "data_port",
	"mt_address", "cs_address", "state_dir", "cache_dir", "retention_dir",
	"server_names", "db_host", "db_port", "db_socket", "db_name",
	"db_user", "db_password_file", "proxy_url", "proxy_user",
	"proxy_password_file", NULL
};

#define SETUP_MARK	"# --- your settings: haven-setup keeps the lines below"

int
setup_put_file(const char *path, const void *data, size_t len, mode_t mode,
    char **cause)
{
	struct stat	 st;
	char		*old;
	size_t		 olen;
	int		 same = 0;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 07777) == mode &&
	    (old = read_file(path, &olen, NULL)) != NULL) {
		same = olen == len && memcmp(old, data, len) == 0;
		OPENSSL_cleanse(old, olen);
		free(old);
	}
	if (same)
		return STEP_SAME;
	if (write_file_atomic(path, data, len, mode, cause) == -1)
		return -1;
	return STEP_DONE;
}

/*
 * A one-line secret from an owner-only file: trailing CR/LF dropped,
 * nothing after the first line, at least minlen characters.
 */
int
setup_secret_file(const char *path, const char *what, int minlen,
    char **out, char **cause)
{
	char	*s, *why = NULL;
	size_t	 len, n;

	*out = NULL;
	if (check_private_file(path, &why) == -1 ||
	    (s = read_file(path, &len, &why)) == NULL) {
		set_cause(cause, "%s: %s", what, why);
		free(why);
		return -1;
	}
	n = strcspn(s, "\r\n");
	if (strlen(s) != len || s[n + strspn(s + n, "\r\n")] != '\0') {
		set_cause(cause, "%s: %s must hold one line (the secret) and "
		    "nothing else", what, path);
		goto bad;
	}
	s[n] = '\0';
	if ((int)n < minlen) {
		set_cause(cause, "%s: %s holds %s; it must have at least %d "
		    "characters", what, path, n == 0 ? "nothing" :
		    "too short a secret", minlen);
		goto bad;
	}
	*out = s;
	return 0;
bad:
	OPENSSL_cleanse(s, len);
	free(s);
	return -1;
}

/* Step: read and check every input file before anything is changed. */
int
setup_step_inputs(struct setup *s, char **cause)
{
	struct setup_opts	*o = &s->o;
	char			*dir, *why = NULL, *pp, host[256];
	size_t			 len;

	s->state_dir = xstrdup(o->install_dir);
	s->cache_dir = xasprintf("%s/cache", o->install_dir);
	s->retention_dir = xasprintf("%s/retention", o->install_dir);
	dir = xstrdup(o->config_file);
	s->db_pass_file = xasprintf("%s/db.pass", dirname(dir));
	free(dir);
	if (o->ps_ip != NULL)
		s->host = xstrdup(o->ps_ip);
	else if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0') {
		host[sizeof(host) - 1] = '\0';
		s->host = xstrdup(host);
	} else
		s->host = xstrdup("localhost");

	if (o->mysql_file != NULL &&
	    setup_ini_mysql(o->mysql_file, &s->my, cause) == -1)
		return -1;
	if (o->proxy_file != NULL &&
	    setup_ini_proxy(o->proxy_file, &s->px, cause) == -1)
		return -1;
	if (o->admin_pw_file != NULL && setup_secret_file(o->admin_pw_file,
	    "/AdminPasswordFilePath", 8, &s->admin_pw, cause) == -1)
		return -1;
	if (o->passphrase_file != NULL) {
		/* A chosen passphrase must resist offline guessing. */
		if (setup_secret_file(o->passphrase_file,
		    "/PassphraseFilePath", s->mode == MODE_CS ? 16 : 1,
		    &pp, cause) == -1)
			return -1;
		if (s->mode == MODE_CS)
			s->passphrase = pp;
		else
			secret_free(pp);
	}
	if (o->vault_file != NULL) {
		if (check_private_file(o->vault_file, &why) == -1 ||
		    (pp = read_file(o->vault_file, &len, &why)) == NULL) {
			set_cause(cause, "/VaultCredsFilePath: %s", why);
			free(why);
			return -1;
		}
		OPENSSL_cleanse(pp, len);
		free(pp);
		if (len == 0) {
			set_cause(cause, "/VaultCredsFilePath: %s is empty: "
			    "download the vault registration key again",
			    o->vault_file);
			return -1;
		}
	}
	return STEP_DONE;
}

/* Step: state_dir, cache and retention directories, owner-only. */
int
setup_step_dirs(struct setup *s, char **cause)
{
	const char	*dirs[3] = { s->state_dir, s->cache_dir,
			    s->retention_dir };
	struct stat	 st;
	size_t		 i;
	int		 made = 0;

	for (i = 0; i < nitems(dirs); i++) {
		if (stat(dirs[i], &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				set_cause(cause, "%s exists and is not a "
				    "directory: move it away or choose another "
				    "/InstallLocation", dirs[i]);
				return -1;
			}
			if ((st.st_mode & 077) == 0)
				continue;
			if (chmod(dirs[i], 0700) == -1) {
				set_cause(cause, "cannot make %s private "
				    "(chmod 700): %s", dirs[i],
				    strerror(errno));
				return -1;
			}
			made = 1;
			continue;
		}
		if (mkdir_p(dirs[i], 0700, cause) == -1)
			return -1;
		made = 1;
	}
	setup_note(s, "%s", s->state_dir);
	return made ? STEP_DONE : STEP_SAME;
}

/*
 * Step: the proxy password sealed like stored account secrets
 * (secret.c, state_dir/secrets.key), in state_dir/proxy.pass; the rest
 * goes into havend.conf.  No proxy: the sealed file goes.
 */
int
setup_step_proxy(struct setup *s, char **cause)
{
	char	*path = xasprintf("%s/%s", s->state_dir, SETUP_PROXY_PASS);
	char	*old, *sealed = NULL, *clear;
	int	 rc = STEP_SAME;

	if (!s->px.set || s->px.password == NULL) {
		if (unlink(path) == 0)
			rc = STEP_DONE;
		else if (errno != ENOENT) {
			set_cause(cause, "cannot remove the old proxy password "
			    "%s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
		if (rc == -1 || s->px.set)
			return rc;
		setup_note(s, "no proxy: direct connections");
		return rc == STEP_SAME ? STEP_SKIP : rc;
	}
	/* The same password already sealed: leave the file alone. */
	if ((old = read_file(path, NULL, NULL)) != NULL) {
		old[strcspn(old, "\n")] = '\0';
		clear = secret_decrypt(s->state_dir, SETUP_PROXY_AAD, old,
		    NULL);
		free(old);
		if (clear != NULL && strcmp(clear, s->px.password) == 0 &&
		    check_private_file(path, NULL) == 0) {
			secret_free(clear);
			free(path);
			return STEP_SAME;
		}
		secret_free(clear);
	}
	if ((sealed = secret_encrypt(s->state_dir, SETUP_PROXY_AAD,
	    s->px.password, cause)) == NULL) {
		free(path);
		return -1;
	}
	old = xasprintf("%s\n", sealed);
	rc = write_file_atomic(path, old, strlen(old), 0600, cause) == -1 ?
	    -1 : STEP_DONE;
	free(old);
	free(sealed);
	free(path);
	return rc;
}

/* 1 if line sets one of the keys haven-setup owns. */
static int
setup_line_managed(const char *line)
{
	const char	*p = line + strspn(line, " \t");
	size_t		 n = strcspn(p, " \t=");
	size_t		 i;

	if (*p == '#' || *p == '\0')
		return 0;
	for (i = 0; setup_managed[i] != NULL; i++)
		if (strlen(setup_managed[i]) == n &&
		    strncmp(p, setup_managed[i], n) == 0)
			return 1;
	return 0;
}

/* The lines of the old config that are the operator's, not ours. */
static void
setup_conf_kept(const char *path, struct fbuf *b)
{
	char	*text, *p, *eol, *start;

	if ((text = read_file(path, NULL, NULL)) == NULL)
		return;
	start = strstr(text, SETUP_MARK "\n");
	start = start != NULL ? start + strlen(SETUP_MARK) + 1 : text;
	for (p = start; *p != '\0'; p = eol) {
		if ((eol = strchr(p, '\n')) != NULL)
			*eol++ = '\0';
		else
			eol = p + strlen(p);
		/* Our own header, from a file without the mark. */
		if (start == text && strncmp(p, "# havend.conf written by "
		    "haven-setup", 33) == 0)
			continue;
		if (setup_line_managed(p))
			continue;
		fbuf_add(b, p, strlen(p));
		fbuf_add(b, "\n", 1);
	}
	free(text);
}

static void
setup_conf_text(struct setup *s, struct fbuf *b)
{
	struct setup_opts	*o = &s->o;

	fbuf_printf(b, "# havend.conf written by haven-setup (docs/setup.md); "
	    "`havend -k` lists\n# every key.  haven-setup rewrites the keys "
	    "above the mark on each run.\n");
	fbuf_printf(b, "roles = %s\n", s->mode == MODE_CS ? "cs ps mt" : "ps");
	fbuf_printf(b, "listen_address = %s\n", o->listen_address);
	fbuf_printf(b, "control_port = %lld\n", o->control_port);
	fbuf_printf(b, "admin_port = %lld\n", o->admin_port);
	fbuf_printf(b, "data_port = %lld\n", o->data_port);
	fbuf_printf(b, "state_dir = %s\n", s->state_dir);
	fbuf_printf(b, "cache_dir = %s\n", s->cache_dir);
	fbuf_printf(b, "retention_dir = %s\n", s->retention_dir);
	if (o->ps_ip != NULL)
		fbuf_printf(b, "server_names = %s\n", o->ps_ip);
	if (s->mode == MODE_PS) {
		fbuf_printf(b, "cs_address = %s\n", s->cs_addr);
		if (strchr(o->cs_ip, ':') != NULL)
			fbuf_printf(b, "mt_address = [%s]:%lld\n", o->cs_ip,
			    s->mt_port);
		else
			fbuf_printf(b, "mt_address = %s:%lld\n", o->cs_ip,
			    s->mt_port);
	} else {
		if (s->my.socket != NULL)
			fbuf_printf(b, "db_socket = %s\n", s->my.socket);
		else {
			fbuf_printf(b, "db_host = %s\n", s->my.host != NULL ?
			    s->my.host : "localhost");
			fbuf_printf(b, "db_port = %lld\n", s->my.port != 0 ?
			    s->my.port : 3306);
		}
		fbuf_printf(b, "db_name = haven\ndb_user = haven\n");
		fbuf_printf(b, "db_password_file = %s\n", s->db_pass_file);
	}
	if (s->px.set) {
		fbuf_printf(b, "proxy_url = %s\n", s->px.url);
		if (s->px.user != NULL) {
			fbuf_printf(b, "proxy_user = %s\n", s->px.user);
			fbuf_printf(b, "proxy_password_file = %s/%s\n", s->state_dir,
			    SETUP_PROXY_PASS);
		}
	}
	fbuf_printf(b, "%s\n", SETUP_MARK);
}

/* havend's own parser judges the text before it replaces the file. */
static int
setup_conf_check(struct setup *s, const void *text, size_t len,
    char **cause)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct haven_conf	 c;
	struct fbuf		 msg;
	char			*tmp;
	size_t			 i;
	int			 n = 0;

	tmp = xasprintf("%s.check.%d", s->o.config_file, (int)getpid());
	if (write_file_atomic(tmp, text, len, 0600, cause) == -1) {
		free(tmp);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	haven_conf_load(tmp, &c, &errs);
	unlink(tmp);
	free(tmp);
	haven_conf_free(&c);
	fbuf_init(&msg);
	for (i = 0; i < errs.n; i++) {
		/* A process server has no database (docs/setup.md). */
		if (s->mode == MODE_PS &&
		    strncmp(errs.v[i].msg, "db_password_file:", 17) == 0)
			continue;
		fbuf_printf(&msg, "%sline %d: %s", n++ ? "; " : "", errs.v[i].line,
		    errs.v[i].msg);
	}
	conf_errors_free(&errs);
	if (n > 0) {
		fbuf_add(&msg, "", 1);
		set_cause(cause, "havend would refuse the configuration "
		    "haven-setup made for %s: %s", s->o.config_file,
		    (char *)msg.data);
	}
	fbuf_free(&msg);
	return n > 0 ? -1 : 0;
}

/* Step: havend.conf, written atomically, the operator's lines kept. */
int
setup_step_conf(struct setup *s, char **cause)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct fbuf		 b;
	char			*dir;
	int			 rc = -1;

	fbuf_init(&b);
	setup_conf_text(s, &b);
	setup_conf_kept(s->o.config_file, &b);
	dir = xstrdup(s->o.config_file);
	if (mkdir_p(dirname(dir), 0755, cause) == -1 ||
	    setup_conf_check(s, b.data, b.len, cause) == -1)
		goto out;
	if ((rc = setup_put_file(s->o.config_file, b.data, b.len, 0644,
	    cause)) == -1)
		goto out;
	memset(&s->conf, 0, sizeof(s->conf));
	haven_conf_load(s->o.config_file, &s->conf, &errs);
	conf_errors_free(&errs);	/* checked above */
	s->conf_loaded = 1;
	if (rc == STEP_DONE)
		setup_note(s, "%s", s->o.config_file);
out:
	free(dir);
	fbuf_free(&b);
	return rc;
}

/*
 * Step: the vault registration key, kept owner-only in state_dir until
 * the vault role exists to use it.
 */
int
setup_step_vault(struct setup *s, char **cause)
{
	char	*data, *path;
	size_t	 len;
	int	 rc;

	if (s->o.vault_file == NULL) {
		setup_note(s, "no /VaultCredsFilePath");
		return STEP_SKIP;
	}
	if ((data = read_file(s->o.vault_file, &len, cause)) == NULL)
		return -1;
	path = xasprintf("%s/%s", s->state_dir, SETUP_VAULT_KEY);
	rc = setup_put_file(path, data, len, 0600, cause);
	OPENSSL_cleanse(data, len);
	free(data);
	if (rc == STEP_DONE)
		setup_note(s, "kept in %s; it will be used to register with "
		    "the vault once Haven's vault role exists", path);
	free(path);
	return rc;
}

/* Run a command, its output to our stderr; its exit status or -1. */
static int
setup_run(char *const argv[], char **cause)
{
	pid_t	pid;
	int	status, err;

	if ((err = posix_spawnp(&pid, argv[0], NULL, NULL, argv,
	    environ)) != 0) {
		set_cause(cause, "cannot run %s: %s", argv[0], strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			set_cause(cause, "waitpid: %s", strerror(errno));
			return -1;
		}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int
setup_answers(const char *sock)
{
	struct httpc_opts	 o = { sock, NULL, NULL, NULL, NULL, 5 };
	json_t			*ans = NULL;
	long			 status = 0;

	if (httpc_json(&o, "GET", "/api/v1/status", NULL, &status, &ans,
	    NULL) == -1)
		return 0;
	json_decref(ans);
	return 1;
}

/*
 * Step: enable and (re)start havend under systemd and wait until it
 * answers on its unix socket.  Without systemd, or with /NoStart, the
 * operator starts it.
 */
int
setup_step_start(struct setup *s, char **cause)
{
	char *const	 enable[] = { "systemctl", "enable", "--quiet", "havend",
			    NULL };
	char *const	 restart[] = { "systemctl", "restart", "havend", NULL };
	int		 i, rc;

	if (s->o.no_start) {
		setup_note(s, "/NoStart: start it with 'havend -f %s'",
		    s->o.config_file);
		return STEP_SKIP;
	}
	if (access("/run/systemd/system", F_OK) != 0) {
		setup_note(s, "systemd is not running here: start havend with "
		    "'havend -f %s'", s->o.config_file);
		return STEP_SKIP;
	}
	if (strcmp(s->o.config_file, SETUP_CONF_DEFAULT) != 0) {
		setup_note(s, "the havend service reads %s, not %s: start "
		    "havend with 'havend -f %s'", SETUP_CONF_DEFAULT,
		    s->o.config_file, s->o.config_file);
		return STEP_SKIP;
	}
	if ((rc = setup_run(enable, cause)) != 0 ||
	    (rc = setup_run(restart, cause)) != 0) {
		if (rc > 0)
			set_cause(cause, "systemctl could not start havend "
			    "(exit %d): see 'journalctl -u havend' for why, "
			    "fix it and run haven-setup again", rc);
		return -1;
	}
	for (i = 0; i < 600; i++) {
		if (setup_answers(s->conf.socket_path))
			return STEP_DONE;
		usleep(100 * 1000);
	}
	set_cause(cause, "havend was started but does not answer on %s after "
	    "60 s: see 'journalctl -u havend' for why", s->conf.socket_path);
	return -1;
}
