/*
 * The "push" job: install (or upgrade, or repair, or remove) haven-agent
 * on a Linux machine over SSH with a push account (issue 6).
 *
 *  1. connect; the host key's SHA-256 fingerprint is pinned on first use
 *     in STATE_DIR/push_known_hosts and must match afterwards, checked
 *     before any credential is sent;
 *  2. log in with the account's password or key (sudo -S when the user
 *     is not root and the account says sudo);
 *  3. refuse anything but Linux on x86_64, with what it is;
 *  4. make a one-time enrollment token for this job and target
 *     (enroll_tokens, valid enroll_token_ttl seconds), SFTP the package
 *     and the token (0600) to a private temporary directory, run
 *     install.sh --token-file (install.sh deletes the token after
 *     enrolling; the directory goes too);
 *  5. wait until the machine heartbeats to this CS; a token the install
 *     did not use (the machine was enrolled already, or the job failed)
 *     is revoked.
 *
 * The token crosses the SSH channel only, never a command line, a log
 * or the job's row (which name its id, not secret); the passphrase is
 * not sent at all.
 */
/*
 * With {"action": "uninstall"} (havenctl push-uninstall), steps 1-3 are
 * the same; then the job runs the uninstaller the install left
 * (PREFIX/usr/local/sbin/haven-agent-install --uninstall; none and no
 * agent files: "nothing to remove", a success), checks that the files,
 * service and state directory install.sh --uninstall removes are gone,
 * and revokes the machine on this CS (row and CRL, as 'havenctl machine
 * revoke') unless "keep_enrollment".
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api_push.h"
#include "db.h"
#include "dbq.h"
#include "enroll_token.h"
#include "havend.h"
#include "job.h"
#include "log.h"
#include "pki.h"
#include "secret.h"
#include "sshc.h"
#include "util.h"

#define PUSH_TIMEOUT		30	/* connect, each short command */
#define PUSH_INSTALL_TIMEOUT	300
#define PUSH_WAIT_DEFAULT	120

struct push {
	struct job	*j;
	MYSQL		*m;
	char		*address;
	int		 port;
	char		*account;
	char		*user;
	char		*secret;	/* clear: wiped by secret_free */
	int		 sudo;
	int		 is_key;
	const char	*sudo_pfx;	/* "", "sudo -n" or "sudo -S -p ''" */
	char		*sudo_in;	/* sudo -S's password line, or NULL */
	json_t		*steps;
	long long	 job_id;
	char		 token_id[TOKEN_ID_HEX + 1]; /* "": none made */
};

static void
step(struct push *p, int percent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
step(struct push *p, int percent, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	job_progress(p->j, percent, "%s", msg);
	json_array_append_new(p->steps, json_string(msg));
	free(msg);
}

/* The account, which must be a push account, and its secret. */
static int
push_account(struct push *p, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	char		*sealed;

	if (DQ(p->m, &res, cause, "SELECT kind, username, secret, sudo FROM "
	    "accounts WHERE name = ? OR id = ?", DQS(p->account),
	    DQS(p->account)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "there is no account '%s'", p->account);
		return -1;
	}
	if (strcmp(r[0], "push") != 0) {
		set_cause(cause, "account '%s' is a %s account, not a push "
		    "account", p->account, r[0]);
		mysql_free_result(res);
		return -1;
	}
	p->user = xstrdup(r[1]);
	p->sudo = r[3] != NULL && atoi(r[3]) != 0;
	sealed = r[2] != NULL ? xstrdup(r[2]) : NULL;
	mysql_free_result(res);
	if (sealed == NULL || *p->user == '\0') {
		set_cause(cause, "account '%s' has no %s", p->account,
		    sealed == NULL ? "secret" : "username");
		free(sealed);
		return -1;
	}
	p->secret = secret_decrypt(hv.conf.state_dir, p->account, sealed,
	    cause);
	free(sealed);
	if (p->secret == NULL)
		return -1;
	p->is_key = strstr(p->secret, "-----BEGIN ") != NULL &&
	    strstr(p->secret, "PRIVATE KEY-----") != NULL;
	return 0;
}

/* A machine's address: an enrolled machine's, else a discovered VM's. */
static int
push_resolve(struct push *p, const char *machine, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	if (DQ(p->m, &res, cause, "SELECT address FROM machines WHERE "
	    "(hostname = ? OR id = ?) AND address <> '' AND status <> "
	    "'revoked' LIMIT 1", DQS(machine), DQS(machine)) == -1)
		return -1;
	if ((r = dbq_row(&res)) != NULL) {
		p->address = xstrdup(r[0]);
		mysql_free_result(res);
		return 0;
	}
	if (DQ(p->m, &res, cause, "SELECT JSON_UNQUOTE(JSON_EXTRACT("
	    "addresses, '$[0]')) FROM vms WHERE (name = ? OR hostname = ?) "
	    "AND gone_at IS NULL AND JSON_LENGTH(addresses) > 0 LIMIT 1",
	    DQS(machine), DQS(machine)) == -1)
		return -1;
	if ((r = dbq_row(&res)) != NULL && r[0] != NULL) {
		p->address = xstrdup(r[0]);
		mysql_free_result(res);
		return 0;
	}
	if (res != NULL)
		mysql_free_result(res);
	set_cause(cause, "no address known for machine '%s': neither an "
	    "enrolled machine nor a discovered VM with an address has that "
	    "name; give its address", machine);
	return -1;
}

/*
 * The pinned fingerprint of key ("HOST:PORT"), NULL when none.  The file
 * is small: one line per machine ever pushed to.
 */
static char *
pin_get(const char *path, const char *key)
{
	FILE	*f;
	char	 line[512], *sp, *fp = NULL;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		if (strcmp(line, key) == 0) {
			free(fp);
			fp = xstrdup(sp + 1);
		}
	}
	fclose(f);
	return fp;
}

static int
pin_set(const char *path, const char *key, const char *fp, char **cause)
{
	struct fbuf	 b;
	FILE		*f;
	char		 line[512], *sp;
	int		 rc;

	fbuf_init(&b);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if ((sp = strchr(line, ' ')) != NULL &&
			    (size_t)(sp - line) == strlen(key) &&
			    strncmp(line, key, strlen(key)) == 0)
				continue;
			if (*line != '\0') {
				fbuf_add(&b, line, strlen(line));
				fbuf_add(&b, "\n", 1);
			}
		}
		fclose(f);
	}
	fbuf_add(&b, key, strlen(key));
	fbuf_add(&b, " ", 1);
	fbuf_add(&b, fp, strlen(fp));
	fbuf_add(&b, "\n", 1);
	rc = write_file_atomic(path, b.data, b.len, 0600, cause);
	fbuf_free(&b);
	return rc;
}

/* The package: args' "package", else the newest in the repository. */
static char *
push_package(json_t *args, char **cause)
{
	const char	*given = json_string_value(json_object_get(args,
			    "package"));
	char		*dir, *best = NULL, *path;
	struct dirent	*de;
	struct stat	 st;
	time_t		 best_t = 0;
	DIR		*d;

	if (given != NULL)
		return xstrdup(given);
	dir = xasprintf("%s/%s", hv.conf.state_dir, PUSH_REPOSITORY);
	path = xasprintf("%s/haven-agent-%s.tar.gz", dir, HAVEN_VERSION);
	if (access(path, R_OK) == 0) {
		free(dir);
		return path;
	}
	free(path);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "haven-agent-", 12) != 0 ||
			    strstr(de->d_name, ".tar.gz") == NULL)
				continue;
			path = xasprintf("%s/%s", dir, de->d_name);
			if (stat(path, &st) == 0 && st.st_mtime >= best_t) {
				best_t = st.st_mtime;
				free(best);
				best = path;
			} else
				free(path);
		}
		closedir(d);
	}
	if (best == NULL)
		set_cause(cause, "no agent package in %s: copy "
		    "build/agent/haven-agent-VERSION.tar.gz ('make "
		    "agent-package') there", dir);
	free(dir);
	return best;
}

/* Run cmd (through sudo when needed); *out is the output. */
static int
push_run(struct push *p, struct sshc *c, const char *cmd, int as_root,
    int timeout, char **out, int *status, char **cause)
{
	char	*full;
	int	 rc;

	if (as_root && *p->sudo_pfx != '\0') {
		full = xasprintf("%s sh -c '%s'", p->sudo_pfx, cmd);
		rc = sshc_exec(c, full, p->sudo_in, timeout, out, status,
		    cause);
		free(full);
		return rc;
	}
	return sshc_exec(c, cmd, NULL, timeout, out, status, cause);
}

static char *
os_field(const char *osr, const char *key)
{
	const char	*s = osr;
	size_t		 kl = strlen(key), n;
	char		*v;

	while (s != NULL && *s != '\0') {
		if (strncmp(s, key, kl) == 0 && s[kl] == '=') {
			s += kl + 1;
			n = strcspn(s, "\n");
			v = xstrndup(s, n);
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				memmove(v, v + 1, n - 2);
				v[n - 2] = '\0';
			}
			return v;
		}
		s = strchr(s, '\n');
		if (s != NULL)
			s++;
	}
	return NULL;
}

/* The line "key=value" of install.sh's output. */
static char *
out_value(const char *out, const char *key)
{
	char	*pat = xasprintf("%s=", key), *v = NULL;
	const char *s = out;

	while ((s = strstr(s, pat)) != NULL) {
		if (s == out || s[-1] == '\n') {
			free(v);
			v = xstrndup(s + strlen(pat),
			    strcspn(s + strlen(pat), "\r\n"));
		}
		s++;
	}
	free(pat);
	return v;
}

/* The last lines of a command's output, for a cause. */
static const char *
tail(const char *out, int lines)
{
	const char	*s = out + strlen(out);

	while (s > out && (s[-1] == '\n' || s[-1] == ' '))
		s--;
	while (s > out && lines > 0)
		if (*--s == '\n')
			lines--;
	return s > out ? s + 1 : out;
}

/*
 * A one-time token for this push, bound to the job and the target, in
 * token (wiped by the caller).  The job's id and who started it are
 * found by the request nonce api_push.c put in the arguments.
 */
static int
push_token(struct push *p, json_t *args, char token[TOKEN_LEN + 1],
    char **cause)
{
	struct db_ops_token_new	 t;
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	const char		*req = json_string_value(json_object_get(args,
				    "request"));
	char			*by = NULL, *sealed, id[TOKEN_ID_HEX + 1];
	int			 rc;

	if (req != NULL) {
		if (DQ(p->m, &res, cause, "SELECT id, created_by FROM jobs "
		    "WHERE kind = 'push' AND JSON_VALUE(args, '$.request') = ? "
		    "ORDER BY id DESC LIMIT 1", DQS(req)) == -1)
			return -1;
		if ((r = dbq_row(&res)) != NULL) {
			p->job_id = strtoll(r[0], NULL, 10);
			by = xasprintf("%s (push job %s)", r[1], r[0]);
			mysql_free_result(res);
		}
	}
	if ((sealed = api_token_make(hv.conf.state_dir, id, token,
	    cause)) == NULL) {
		free(by);
		return -1;
	}
	memset(&t, 0, sizeof(t));
	t.id = id;
	t.key_sealed = sealed;
	t.valid_s = hv.conf.enroll_token_ttl;
	t.purpose = "push";
	t.target = p->address;
	t.job_id = p->job_id;
	t.created_by = by != NULL ? by : "push job";
	rc = db_ops_token_insert(p->m, &t, cause);
	free(sealed);
	free(by);
	if (rc == 0)
		snprintf(p->token_id, sizeof(p->token_id), "%s", id);
	return rc;
}

/* After the install: which machine used the token, or revoke it. */
static void
push_token_done(struct push *p, const char *mid)
{
	json_t		*t;
	const char	*state, *used_by;
	char		*cause = NULL;

	if ((t = db_ops_token_get(p->m, p->token_id, &cause)) == NULL) {
		log_warnx("push job: enrollment token %s: %s", p->token_id,
		    cause);
		free(cause);
		return;
	}
	state = json_string_value(json_object_get(t, "state"));
	used_by = json_string_value(json_object_get(t, "machine_id"));
	if (state != NULL && strcmp(state, "used") == 0)
		step(p, 78, "enrollment token %s used by machine %s",
		    p->token_id, used_by ? used_by : "?");
	else if (db_ops_token_revoke(p->m, p->token_id, "push job",
	    "not needed: the machine was enrolled already", &cause) == 0)
		step(p, 78, "machine %s was enrolled already: enrollment token "
		    "%s revoked unused", mid, p->token_id);
	else {
		log_warnx("push job: cannot revoke enrollment token %s: %s",
		    p->token_id, cause);
		free(cause);
	}
	json_decref(t);
}

static int
push_wait(struct push *p, const char *mid, const char *since, int wait_s,
    char **status, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	time_t		 end = time(NULL) + wait_s;

	for (;;) {
		if (DQ(p->m, &res, cause, "SELECT status, last_heartbeat >= ?, "
		    "hostname FROM machines WHERE id = ?", DQS(since),
		    DQS(mid)) == -1)
			return -1;
		if ((r = dbq_row(&res)) != NULL) {
			if (r[1] != NULL && atoi(r[1]) == 1 &&
			    strcmp(r[0], "revoked") != 0) {
				*status = xstrdup(r[0]);
				mysql_free_result(res);
				return 0;
			}
			mysql_free_result(res);
		}
		if (time(NULL) >= end)
			break;
		sleep(1);
	}
	set_cause(cause, "the agent was installed as machine %s but did not "
	    "heartbeat within %d s: check that the machine reaches this "
	    "server's control port and 'haven-agent status' on it", mid,
	    wait_s);
	return -1;
}

/* --- uninstall ---------------------------------------------------------- */

/*
 * What of the agent is on the machine: install.sh's paths under the
 * prefix ($1, as for the install), one "key=value" a line: installer=
 * (the installed install.sh, haven-agent-install), present= (a file or
 * directory install.sh --uninstall promises to remove), pid= (the init
 * script's service, while it runs), active= and enabled= (systemd
 * units, on a real install).  $2, when given: a pid that must be gone.
 * No single quote inside: it runs as sh -c '...'.
 */
static const char push_probe[] =
    "p=${1%/}; i=$p/usr/local/sbin/haven-agent-install; "
    "[ -f \"$i\" ] && echo installer=$i; "
    "for f in usr/local/sbin/haven-agent usr/local/sbin/haven-agent-install "
    "usr/local/lib/haven-agent etc/haven/agent.conf var/lib/haven-agent "
    "etc/init.d/haven-agent etc/systemd/system/haven-agent.service "
    "etc/systemd/system/haven-agent-replicate.service run/haven-agent.pid "
    "var/log/haven-agent.log; do "
    "if [ -e \"$p/$f\" ] || [ -L \"$p/$f\" ]; then echo present=$p/$f; fi; "
    "done; "
    "if [ -f \"$p/run/haven-agent.pid\" ]; then "
    "n=$(cat \"$p/run/haven-agent.pid\"); "
    "kill -0 \"$n\" 2>/dev/null && echo pid=$n; fi; "
    "[ -n \"${2:-}\" ] && kill -0 \"$2\" 2>/dev/null && echo pid=$2; "
    "if [ -z \"$p\" ] && [ -d /run/systemd/system ] && "
    "command -v systemctl >/dev/null 2>&1; then "
    "for u in haven-agent haven-agent-replicate; do "
    "systemctl is-active --quiet $u.service && echo active=$u.service; "
    "systemctl is-enabled --quiet $u.service 2>/dev/null && "
    "echo enabled=$u.service; done; fi; exit 0";

/* Run script as root with the prefix as $1 (and arg as $2). */
static int
push_root_sh(struct push *p, struct sshc *c, const char *script,
    const char *arg, int timeout, char **out, int *status, char **cause)
{
	char	*cmd;
	int	 rc;

	/* The prefix (tests) is expanded by the login shell, since sudo
	 * resets the environment. */
	cmd = xasprintf("%s sh -c '%s' sh \"${HAVEN_AGENT_PREFIX:-/}\" %s",
	    p->sudo_pfx, script, arg != NULL ? arg : "");
	rc = sshc_exec(c, cmd, p->sudo_in, timeout, out, status, cause);
	free(cmd);
	return rc;
}

/* The values of key in a probe's output, ", "-separated; NULL: none. */
static char *
probe_list(const char *out, const char *key)
{
	struct fbuf	 b;
	size_t		 kl = strlen(key), n;
	const char	*s = out;
	char		*v;

	fbuf_init(&b);
	while (s != NULL && *s != '\0') {
		n = strcspn(s, "\r\n");
		if (n > kl && strncmp(s, key, kl) == 0 && s[kl] == '=') {
			if (b.len > 0)
				fbuf_add(&b, ", ", 2);
			fbuf_add(&b, s + kl + 1, n - kl - 1);
		}
		s += n;
		s += strspn(s, "\r\n");
	}
	if (b.len == 0) {
		fbuf_free(&b);
		return NULL;
	}
	v = xstrndup((const char *)b.data, b.len);
	fbuf_free(&b);
	return v;
}

/*
 * Revoke machine mid on this CS as 'havenctl machine revoke' does: the
 * row (machine.revoke, with its event) and the CRL, signed with the site
 * CA; control reloads it when the job ends (api_push.c).  0 with
 * *revoked 0 when this CS does not know the machine.
 */
static int
push_revoke(struct push *p, const char *mid, int *revoked, char **cause)
{
	const struct db_op	*op = db_ops_find("machine.revoke");
	MYSQL_RES		*res;
	MYSQL_ROW		 r;
	json_t			*args, *out = NULL, *v;
	X509			*ca = NULL;
	EVP_PKEY		*cakey = NULL;
	const char		**list = NULL;
	char			*path = NULL, *was = NULL, *host = NULL;
	size_t			 i, n;
	int			 lost, rc = -1;

	*revoked = 0;
	if (DQ(p->m, &res, cause, "SELECT status, hostname FROM machines "
	    "WHERE id = ?", DQS(mid)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		step(p, 95, "machine %s is not enrolled with this configuration "
		    "server: nothing to revoke", mid);
		return 0;
	}
	was = xstrdup(r[0]);
	host = xstrdup(r[1]);
	mysql_free_result(res);
	if (op == NULL) {
		set_cause(cause, "no machine.revoke operation (a build error)");
		goto out;
	}
	args = json_pack("{s:s}", "id", mid);
	rc = db_ops_run(p->m, op, args, &out, cause, &lost);
	json_decref(args);
	if (rc == -1)
		goto out;
	rc = -1;
	n = json_array_size(json_object_get(out, "serials"));
	list = xcalloc(n + 1, sizeof(*list));
	json_array_foreach(json_object_get(out, "serials"), i, v)
		list[i] = json_string_value(v);
	path = pki_path(&hv.conf, "ca.key");
	cakey = tls_key_read(path, cause);
	free(path);
	path = pki_path(&hv.conf, "ca.crt");
	if (cakey != NULL)
		ca = tls_cert_read(path, cause);
	free(path);
	path = pki_path(&hv.conf, "crl.pem");
	if (ca == NULL || tls_crl_write(path, ca, cakey, list, n,
	    cause) == -1) {
		char *why = *cause;

		*cause = NULL;
		set_cause(cause, "machine %s is marked revoked but the CRL "
		    "could not be written: %s; 'havenctl machine revoke %s' "
		    "writes it again", mid, why ? why : "?", mid);
		free(why);
		goto out;
	}
	*revoked = 1;
	step(p, 95, "%s the certificate of machine %s (%s): on the CRL, %zu "
	    "certificate%s revoked in all", strcmp(was, "revoked") == 0 ?
	    "already revoked:" : "revoked", mid, host, n, n == 1 ? "" : "s");
	rc = 0;
out:
	if (ca != NULL)
		X509_free(ca);
	EVP_PKEY_free(cakey);
	json_decref(out);
	free(list);
	free(path);
	free(was);
	free(host);
	return rc;
}

/*
 * Remove the agent with the uninstaller it installed, check that
 * nothing it promised to remove is left, then revoke the machine unless
 * args say "keep_enrollment".  Logged in already (job_push).
 */
static int
push_uninstall(struct push *p, struct sshc *c, json_t *args, json_t **result,
    char **cause)
{
	json_t		*mj = NULL;
	const char	*s;
	char		*out = NULL, *installer = NULL, *present = NULL;
	char		*pid = NULL, *mid = NULL, *left = NULL, *units = NULL;
	int		 status, keep, revoked = 0, rc = -1;

	keep = json_is_true(json_object_get(args, "keep_enrollment"));
	if (push_root_sh(p, c, push_probe, NULL, PUSH_TIMEOUT, &out, &status,
	    cause) == -1)
		goto out;
	if (status != 0) {
		set_cause(cause, "cannot look for the agent on %s (exit %d): %s",
		    p->address, status, tail(out, 3));
		goto out;
	}
	installer = probe_list(out, "installer");
	present = probe_list(out, "present");
	pid = probe_list(out, "pid");
	free(out);
	out = NULL;
	if (installer == NULL && present == NULL) {
		step(p, 100, "haven-agent is not installed on %s: nothing to "
		    "remove", p->address);
		*result = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:b, s:O}",
		    "action", "uninstall", "port", p->port, "address",
		    p->address, "account", p->account, "host_key",
		    sshc_fingerprint(c), "removed", 0, "revoked", 0, "steps",
		    p->steps);
		rc = 0;
		goto out;
	}
	if (installer == NULL) {
		set_cause(cause, "haven-agent is on %s (%s) but its uninstaller, "
		    "haven-agent-install, is missing: push install again to "
		    "repair it, then uninstall. Nothing was removed", p->address,
		    present);
		goto out;
	}
	/* Which machine it is, before its state directory goes. */
	if (push_root_sh(p, c, "cat \"${1%/}/var/lib/haven-agent/"
	    "machine.json\" 2>/dev/null; exit 0", NULL, PUSH_TIMEOUT, &out,
	    &status, cause) == -1)
		goto out;
	if ((mj = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL)) != NULL &&
	    (s = json_string_value(json_object_get(mj, "machine_id"))) != NULL &&
	    s[strspn(s, "0123456789abcdef-")] == '\0')
		mid = xstrdup(s);
	free(out);
	out = NULL;
	step(p, 40, "found haven-agent on %s%s%s%s: %s", p->address,
	    mid ? " (machine " : " (not enrolled", mid ? mid : "", ")",
	    pid ? "its service is running" : "its service is not running");

	/* The uninstaller install.sh left there (it takes its own copy
	 * away too: sh has read it by then). */
	step(p, 50, "running %s --uninstall%s", installer, *p->sudo_pfx ?
	    " with sudo" : "");
	if (push_root_sh(p, c, "sh \"${1%/}/usr/local/sbin/"
	    "haven-agent-install\" --uninstall --prefix \"$1\"", NULL,
	    PUSH_INSTALL_TIMEOUT, &out, &status, cause) == -1)
		goto out;
	if (status != 0) {
		set_cause(cause, "the uninstaller failed on %s (exit %d): %s",
		    p->address, status, tail(out, 4));
		goto out;
	}
	for (s = out; *s != '\0'; s += strspn(s, "\r\n")) {
		size_t n = strcspn(s, "\r\n");

		/* Its advice to revoke by hand is this job's next step. */
		if (n > 12 && strncmp(s, "install.sh: ", 12) == 0 &&
		    strncmp(s + 12, "removed; revoke", 15) != 0)
			step(p, 70, "%.*s", (int)(n - 12), s + 12);
		else if (n > 12 && strncmp(s, "install.sh: ", 12) == 0)
			step(p, 70, "the uninstaller finished");
		s += n;
	}
	free(out);
	out = NULL;

	/* What install.sh --uninstall promises: check, do not trust. */
	if (push_root_sh(p, c, push_probe, pid ? pid : "", PUSH_TIMEOUT, &out,
	    &status, cause) == -1)
		goto out;
	free(present);
	free(pid);
	present = probe_list(out, "present");
	pid = probe_list(out, "pid");
	units = probe_list(out, "active");
	if (present != NULL || pid != NULL || units != NULL ||
	    (units = probe_list(out, "enabled")) != NULL) {
		left = xasprintf("%s%s%s%s%s%s", present ? "files: " : "",
		    present ? present : "", pid ? (present ? "; " : "") : "",
		    pid ? "still running: pid " : "", pid ? pid : "",
		    units ? "; systemd units still active or enabled" : "");
		set_cause(cause, "the uninstaller on %s exited 0 but left %s: "
		    "remove them by hand (or push install again and "
		    "uninstall again)%s", p->address, left,
		    mid && !keep ? "; the machine was not revoked" : "");
		goto out;
	}
	step(p, 85, "checked on %s: no agent files, service or state "
	    "directory left", p->address);

	/* 4. On this CS. */
	if (mid == NULL)
		step(p, 95, "the agent on %s had not enrolled: nothing to "
		    "revoke", p->address);
	else if (keep)
		step(p, 95, "machine %s keeps its enrollment (keep_enrollment): "
		    "revoke it later with 'havenctl machine revoke %s'", mid,
		    mid);
	else if (push_revoke(p, mid, &revoked, cause) == -1)
		goto out;
	step(p, 100, "haven-agent removed from %s", p->address);
	*result = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:s?, s:b, s:b, "
	    "s:O}", "action", "uninstall", "port", p->port, "address",
	    p->address, "account", p->account, "host_key",
	    sshc_fingerprint(c), "removed", 1, "machine_id", mid, "revoked",
	    revoked, "keep_enrollment", keep, "steps", p->steps);
	rc = 0;
out:
	json_decref(mj);
	free(out);
	free(installer);
	free(present);
	free(pid);
	free(mid);
	free(left);
	free(units);
	return rc;
}

int
job_push(struct job *j, json_t *args, json_t **result, char **cause)
{
	struct push	 p;
	struct sshc	*c = NULL;
	const char	*machine, *want;
	char		*pkg = NULL, *pkgdata = NULL, *known;
	char		 token[TOKEN_LEN + 1];
	char		*key = NULL, *pinned = NULL, *out = NULL, *cmd = NULL;
	char		*sysname = NULL, *os = NULL, *tmp = NULL, *cs = NULL;
	char		*local = NULL, *mid = NULL, *mstatus = NULL, *since = NULL;
	size_t		 pkglen = 0;
	long long	 port, wait_s;
	int		 status, first = 0, uninstall = 0, rc = -1;
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	memset(&p, 0, sizeof(p));
	memset(token, 0, sizeof(token));
	p.j = j;
	p.steps = json_array();
	p.sudo_pfx = "";
	machine = json_string_value(json_object_get(args, "machine"));
	p.account = (char *)json_string_value(json_object_get(args,
	    "account"));
	want = json_string_value(json_object_get(args, "host_key"));
	port = json_integer_value(json_object_get(args, "port"));
	p.port = port > 0 && port < 65536 ? (int)port : 22;
	wait_s = json_integer_value(json_object_get(args, "wait_s"));
	if (wait_s <= 0)
		wait_s = PUSH_WAIT_DEFAULT;
	if (p.account == NULL) {
		set_cause(cause, "a push job needs {\"account\": name}");
		goto out0;
	}
	if ((p.m = dbq_connect(&hv.conf, cause)) == NULL)
		goto out0;
	if (DQ0(p.m, &res, cause, "SELECT UTC_TIMESTAMP()") == -1 ||
	    (r = dbq_row(&res)) == NULL)
		goto out;
	since = xstrdup(r[0]);
	mysql_free_result(res);
	if (json_is_string(json_object_get(args, "address")))
		p.address = xstrdup(json_string_value(json_object_get(args,
		    "address")));
	else if (machine == NULL) {
		set_cause(cause, "give an address or a machine");
		goto out;
	} else if (push_resolve(&p, machine, cause) == -1) {
		/* Not a machine we know: a host name, then. */
		free(*cause);
		*cause = NULL;
		p.address = xstrdup(machine);
	}
	if (push_account(&p, cause) == -1)
		goto out;
	uninstall = json_is_string(json_object_get(args, "action")) &&
	    strcmp(json_string_value(json_object_get(args, "action")),
	    "uninstall") == 0;
	if (!uninstall && (pkg = push_package(args, cause)) == NULL)
		goto out;
	if (!uninstall && (pkgdata = read_file(pkg, &pkglen, cause)) == NULL)
		goto out;

	/* 1. The host key, before any credential leaves. */
	step(&p, 5, "connecting to %s port %d", p.address, p.port);
	if ((c = sshc_connect(p.address, p.port, PUSH_TIMEOUT, cause)) == NULL)
		goto out;
	known = xasprintf("%s/%s", hv.conf.state_dir, PUSH_KNOWN_HOSTS);
	key = xasprintf("%s:%d", p.address, p.port);
	pinned = pin_get(known, key);
	if (pinned != NULL && strcmp(pinned, sshc_fingerprint(c)) != 0 &&
	    (want == NULL || strcmp(want, sshc_fingerprint(c)) != 0)) {
		set_cause(cause, "the host key of %s changed: was %s, now %s "
		    "(%s). Nothing was sent. If the machine was reinstalled, "
		    "check the new key on its console (ssh-keygen -lf "
		    "/etc/ssh/ssh_host_*_key.pub) and push again with "
		    "--host-key %s", key, pinned, sshc_fingerprint(c),
		    sshc_keytype(c), sshc_fingerprint(c));
		free(known);
		goto out;
	}
	if (want != NULL && strcmp(want, sshc_fingerprint(c)) != 0) {
		set_cause(cause, "%s presents the host key %s, not the %s "
		    "given. Nothing was sent", key, sshc_fingerprint(c), want);
		free(known);
		goto out;
	}
	if (pinned == NULL || strcmp(pinned, sshc_fingerprint(c)) != 0) {
		first = pinned == NULL;
		if (pin_set(known, key, sshc_fingerprint(c), cause) == -1) {
			free(known);
			goto out;
		}
		step(&p, 10, "%s host key of %s: %s (%s)", first ? "first "
		    "connection: recorded the" : "accepted the new", key,
		    sshc_fingerprint(c), sshc_keytype(c));
	} else
		step(&p, 10, "host key of %s matches the pinned %s", key,
		    pinned);
	free(known);

	/* 2. Log in. */
	if (p.is_key ? sshc_auth_key(c, p.user, p.secret, NULL, cause) :
	    sshc_auth_password(c, p.user, p.secret, cause))
		goto out;
	step(&p, 20, "logged in as %s with a %s", p.user, p.is_key ? "key" :
	    "password");

	/* 3. What it is. */
	if (sshc_exec(c, "uname -sm; id -u; echo ---; cat /etc/os-release "
	    "2>/dev/null", NULL, PUSH_TIMEOUT, &out, &status, cause) == -1)
		goto out;
	sysname = xstrndup(out, strcspn(out, "\n"));
	if (strstr(out, "---\n") != NULL)
		os = os_field(strstr(out, "---\n") + 4, "PRETTY_NAME");
	if (os == NULL)
		os = xstrdup(sysname);
	if (strcmp(sysname, "Linux x86_64") != 0) {
		set_cause(cause, "%s is not supported: it runs %s (uname: "
		    "%s); the agent supports Linux on x86_64 only", p.address,
		    os, *sysname != '\0' ? sysname : "nothing");
		goto out;
	}
	if (strncmp(out + strlen(sysname) + 1, "0\n", 2) != 0) {
		if (!p.sudo) {
			set_cause(cause, "user %s on %s is not root and account "
			    "'%s' does not use sudo: set it with 'havenctl "
			    "account edit %s --sudo'", p.user, p.address,
			    p.account, p.account);
			goto out;
		}
		p.sudo_pfx = p.is_key ? "sudo -n" : "sudo -S -p ''";
		if (!p.is_key)
			p.sudo_in = xasprintf("%s\n", p.secret);
		free(out);
		out = NULL;
		if (push_run(&p, c, "id -u", 1, PUSH_TIMEOUT, &out, &status,
		    cause) == -1)
			goto out;
		if (status != 0 || strncmp(tail(out, 1), "0", 1) != 0) {
			set_cause(cause, "user %s cannot use sudo on %s: %s",
			    p.user, p.address, *out ? tail(out, 3) :
			    "sudo failed");
			goto out;
		}
	}
	step(&p, 30, "%s runs %s (%s)%s", p.address, os, sysname,
	    *p.sudo_pfx ? "; sudo works" : "");
	free(out);
	out = NULL;
	if (uninstall) {
		rc = push_uninstall(&p, c, args, result, cause);
		goto out;
	}

	/* 4. Upload and install. */
	if (sshc_exec(c, "mktemp -d /tmp/haven-push.XXXXXX", NULL,
	    PUSH_TIMEOUT, &out, &status, cause) == -1)
		goto out;
	if (status != 0 || out[0] != '/') {
		set_cause(cause, "cannot make a temporary directory on %s: %s",
		    p.address, tail(out, 3));
		goto out;
	}
	tmp = xstrndup(out, strcspn(out, "\r\n"));
	free(out);
	out = NULL;
	cmd = xasprintf("%s/haven-agent.tar.gz", tmp);
	if (sshc_upload(c, pkgdata, pkglen, cmd, 0600, cause) == -1)
		goto out;
	free(cmd);
	step(&p, 45, "uploaded %s (%zu bytes) to %s over SFTP", pkg, pkglen,
	    tmp);
	if (push_token(&p, args, token, cause) == -1)
		goto out;
	cmd = xasprintf("%s/token", tmp);
	rc = sshc_upload(c, token, strlen(token), cmd, 0600, cause);
	OPENSSL_cleanse(token, sizeof(token));
	free(cmd);
	cmd = NULL;
	if (rc == -1)
		goto out;
	rc = -1;
	step(&p, 50, "uploaded the one-time enrollment token %s (mode 0600, "
	    "valid %lld s)", p.token_id, hv.conf.enroll_token_ttl);
	if (json_is_string(json_object_get(args, "cs")))
		cs = xstrdup(json_string_value(json_object_get(args, "cs")));
	else {
		local = sshc_local_address(c);
		cs = xasprintf("%s:%lld", local ? local : "127.0.0.1",
		    hv.conf.control_port);
	}
	if (cs[strspn(cs, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.:[]-")] != '\0') {
		set_cause(cause, "'%s' is not a HOST:PORT", cs);
		goto out;
	}
	/* One sudo for all of it, reading the password once; the prefix
	 * (tests) is expanded by the login shell, since sudo resets the
	 * environment. */
	cmd = xasprintf("%s sh -c 'cd %s && tar xzf haven-agent.tar.gz && "
	    "sh haven-agent-*/install.sh --cs %s --token-file %s/token "
	    "--prefix \"$1\"; rc=$?; cd / && rm -rf %s; exit $rc' sh "
	    "\"${HAVEN_AGENT_PREFIX:-/}\"", p.sudo_pfx, tmp, cs, tmp, tmp);
	step(&p, 55, "running install.sh --cs %s%s", cs, *p.sudo_pfx ?
	    " with sudo" : "");
	rc = sshc_exec(c, cmd, p.sudo_in, PUSH_INSTALL_TIMEOUT, &out, &status, cause);
	if (rc == -1)
		goto out;
	rc = -1;
	if (status != 0) {
		set_cause(cause, "install.sh failed on %s (exit %d): %s",
		    p.address, status, tail(out, 4));
		goto out;
	}
	if ((mid = out_value(out, "machine_id")) == NULL || *mid == '\0') {
		set_cause(cause, "install.sh on %s did not say the machine id: "
		    "%s", p.address, tail(out, 4));
		goto out;
	}
	{
		const char *last = tail(out, 1);

		step(&p, 75, "installed: %.*s", (int)strcspn(last, "\r\n"),
		    last);
	}
	push_token_done(&p, mid);

	/* 5. Enrolled and heartbeating. */
	step(&p, 80, "waiting up to %lld s for machine %s to heartbeat",
	    wait_s, mid);
	if (push_wait(&p, mid, since, (int)wait_s, &mstatus, cause) == -1)
		goto out;
	step(&p, 100, "machine %s (%s) is %s and heartbeating", mid,
	    p.address, mstatus);
	*result = json_pack("{s:s, s:i, s:s, s:s, s:b, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:O}", "address", p.address, "port", p.port, "account",
	    p.account, "host_key", sshc_fingerprint(c), "host_key_new", first,
	    "os", os, "uname", sysname, "machine_id", mid, "status", mstatus,
	    "cs", cs, "token_id", p.token_id, "steps", p.steps);
	rc = 0;
out:
	if (rc == -1 && first && *cause != NULL) {
		/* The operator is shown the key recorded on first use even
		 * when a later step failed. */
		char *c2 = xasprintf("%s (first connection: recorded the host "
		    "key of %s: %s)", *cause, key, sshc_fingerprint(c));

		free(*cause);
		*cause = c2;
	}
	if (rc == -1 && p.token_id[0] != '\0' && p.m != NULL) {
		/* Whatever the install did, the token dies with the job. */
		char *why = NULL, *by = xasprintf("push job %lld", p.job_id);

		if (db_ops_token_revoke(p.m, p.token_id, by, "the push install "
		    "failed", &why) == -1) {
			log_warnx("push job: cannot revoke enrollment token "
			    "%s: %s", p.token_id, why);
			free(why);
		}
		free(by);
	}
	mysql_close(p.m);
out0:
	if (rc == -1 && *cause != NULL && p.steps != NULL)
		log_info("push to %s: %s", p.address ? p.address : "?", *cause);
	sshc_close(c);
	secret_free(p.secret);
	secret_free(p.sudo_in);
	OPENSSL_cleanse(token, sizeof(token));
	free(pkgdata);
	free(pkg);
	free(key);
	free(pinned);
	free(out);
	free(cmd);
	free(sysname);
	free(os);
	free(tmp);
	free(cs);
	free(local);
	free(mid);
	free(mstatus);
	free(since);
	free(p.address);
	free(p.user);
	json_decref(p.steps);
	return rc;
}
