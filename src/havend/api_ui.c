/*
 * Routes the admin UI needs beyond havenctl's: re-entering the password
 * to see the passphrase, changing the password, open alerts, cache and
 * retention disk usage, and /metrics for Prometheus.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "api_ui.h"
#include "control.h"
#include "havend.h"
#include "hist.h"
#include "log.h"
#include "pki.h"
#include "util.h"

/* As session.c: lock after this many failures, back-off from 30 s. */
#define UI_LOCK_AFTER	5
#define PW_MIN		8
#define PW_MAX		1024

static void
ui_db_error(struct api_req *r, const char *err)
{
	if (strncmp(err, "database unavailable", 20) == 0)
		api_error(r, 503, "database_unavailable", "%s", err);
	else
		api_error(r, 500, "database_error", "%s", err);
}

static void
ui_reply_db(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL)
		ui_db_error(r, err);
	else
		api_reply(r, 200, json_incref(res));
}

/*
 * Re-entering the password.  A wrong one counts towards the lock-out
 * exactly like a failed sign-in, or this would be a way around it.
 */

struct pwcheck {
	struct api_req	*r;
	char		*password;
	char		*newpw;		/* password change only */
	const char	*action;	/* audit action */
	void		(*granted)(struct pwcheck *);
};

static void
pwcheck_free(struct pwcheck *pc)
{
	if (pc->password != NULL) {
		OPENSSL_cleanse(pc->password, strlen(pc->password));
		free(pc->password);
	}
	if (pc->newpw != NULL) {
		OPENSSL_cleanse(pc->newpw, strlen(pc->newpw));
		free(pc->newpw);
	}
	free(pc);
}

static void
pwcheck_failed(json_t *res, const char *err, void *arg)
{
	struct pwcheck	*pc = arg;
	struct api_req	*r = pc->r;
	long long	 fails = 0;
	char		 action[64];

	if (err == NULL)
		fails = json_integer_value(json_object_get(res, "failures"));
	snprintf(action, sizeof(action), "%s.failed", pc->action);
	audit(r, action, r->actor, "wrong password (%lld failure%s)", fails,
	    fails == 1 ? "" : "s");
	api_error(r, 403, "bad_password", "the password is wrong: enter the "
	    "password you signed in with%s", fails >= UI_LOCK_AFTER - 1 ?
	    "; the account locks for a while after repeated failures" : "");
	pwcheck_free(pc);
}

static void
pwcheck_user(json_t *res, const char *err, void *arg)
{
	struct pwcheck	*pc = arg;
	struct api_req	*r = pc->r;
	const char	*hash;
	long long	 locked, fails, k;
	int		 lock = 0;

	if (err != NULL) {
		if (strncmp(err, "no such user", 12) == 0)
			api_error(r, 403, "no_account", "the account %s no "
			    "longer exists: sign in with another one",
			    r->actor);
		else
			ui_db_error(r, err);
		pwcheck_free(pc);
		return;
	}
	locked = json_integer_value(json_object_get(res, "locked_until"));
	if (locked > now_unix()) {
		api_error(r, 429, "locked", "too many wrong passwords: this "
		    "account is locked for %lld more second%s; try again then",
		    locked - now_unix(), locked - now_unix() == 1 ? "" : "s");
		pwcheck_free(pc);
		return;
	}
	hash = json_string_value(json_object_get(res, "hash"));
	if (hash == NULL || password_verify(pc->password, hash) != 0) {
		fails = json_integer_value(json_object_get(res, "failures")) +
		    1;
		if (fails >= UI_LOCK_AFTER) {
			k = fails - UI_LOCK_AFTER;
			lock = k > 4 ? 900 : 30 << k;
			if (lock > 900)
				lock = 900;
		}
		db_call("user.login_result", json_pack("{s:s, s:b, s:i}",
		    "name", r->actor, "ok", 0, "lock_seconds", lock),
		    pwcheck_failed, pc);
		return;
	}
	if (json_integer_value(json_object_get(res, "failures")) > 0)
		db_call("user.login_result", json_pack("{s:s, s:b}", "name",
		    r->actor, "ok", 1), NULL, NULL);
	pc->granted(pc);
}

static void
pwcheck_start(struct api_req *r, const char *action, const char *pwkey,
    void (*granted)(struct pwcheck *))
{
	const char	*pw = json_string_value(json_object_get(r->body, pwkey));
	struct pwcheck	*pc;

	if (pw == NULL || pw[0] == '\0') {
		api_error(r, 400, "bad_request", "send your password as "
		    "{\"%s\": \"...\"}", pwkey);
		return;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->r = r;
	pc->password = xstrdup(pw);
	pc->action = action;
	pc->granted = granted;
	db_call("user.get", json_pack("{s:s}", "name", r->actor),
	    pwcheck_user, pc);
}

static int
pwcheck_admin_only(struct api_req *r)
{
	if (r->listener == LST_ADMIN)
		return 0;
	api_error(r, 403, "admin_port_only", "this needs a signed-in person "
	    "on the admin port; on the appliance use havenctl");
	return -1;
}

/* POST /api/v1/passphrase/reveal {"password"} */

static void
reveal_granted(struct pwcheck *pc)
{
	struct api_req	*r = pc->r;
	char		*p, *cause = NULL;

	if (pki_passphrase_read(&hv.conf, &p, &cause) == -1) {
		api_error(r, 500, "passphrase_unreadable", "%s", cause);
		free(cause);
	} else {
		audit(r, "passphrase.reveal", NULL, "%s", "");
		api_reply(r, 200, json_pack("{s:s}", "passphrase", p));
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
	pwcheck_free(pc);
}

void
api_passphrase_reveal(struct api_req *r)
{
	if (pwcheck_admin_only(r) == -1)
		return;
	pwcheck_start(r, "passphrase.reveal", "password", reveal_granted);
}

/* POST /api/v1/password {"current", "new"} */

static void
password_set(json_t *res, const char *err, void *arg)
{
	struct pwcheck	*pc = arg;
	struct api_req	*r = pc->r;

	(void)res;
	if (err != NULL)
		ui_db_error(r, err);
	else {
		audit(r, "password.change", r->actor, "%s", "");
		api_reply(r, 200, json_pack("{s:s, s:b}", "name", r->actor,
		    "changed", 1));
	}
	pwcheck_free(pc);
}

static void
password_granted(struct pwcheck *pc)
{
	struct api_req	*r = pc->r;
	char		*hash, *cause = NULL;

	if (password_hash(pc->newpw, &hash, &cause) == -1) {
		api_error(r, 500, "hash_failed", "%s", cause);
		free(cause);
		pwcheck_free(pc);
		return;
	}
	db_call("user.set", json_pack("{s:s, s:s}", "name", r->actor, "hash",
	    hash), password_set, pc);
	free(hash);
}

void
api_password_change(struct api_req *r)
{
	const char	*cur = json_string_value(json_object_get(r->body,
			    "current"));
	const char	*nw = json_string_value(json_object_get(r->body,
			    "new"));
	struct pwcheck	*pc;

	if (pwcheck_admin_only(r) == -1)
		return;
	if (nw == NULL || strlen(nw) < PW_MIN || strlen(nw) > PW_MAX) {
		api_error(r, 400, "weak_password", "the new password must have "
		    "%d to %d characters", PW_MIN, PW_MAX);
		return;
	}
	if (cur != NULL && strcmp(cur, nw) == 0) {
		api_error(r, 400, "same_password", "the new password is the "
		    "same as the current one: choose another");
		return;
	}
	/* pwcheck_start answers a missing "current" itself. */
	if (cur == NULL || cur[0] == '\0') {
		api_error(r, 400, "bad_request", "send {\"current\": ..., "
		    "\"new\": ...}: the current password is missing");
		return;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->r = r;
	pc->password = xstrdup(cur);
	pc->newpw = xstrdup(nw);
	pc->action = "password.change";
	pc->granted = password_granted;
	db_call("user.get", json_pack("{s:s}", "name", r->actor),
	    pwcheck_user, pc);
}

/* GET /api/v1/alerts */

void
api_alerts(struct api_req *r)
{
	db_call("alert.list", NULL, ui_reply_db, r);
}

/* GET /api/v1/storage: the cache and retention file systems. */

/*
 * statvfs of the directory's file system.  A directory not made yet
 * (nothing cached or retained so far) reports the one it will be on.
 */
static int
storage_stat(const char *path, struct statvfs *sv, int *exists)
{
	char	*p = xstrdup(path), *slash;
	int	 rc;

	*exists = 1;
	while ((rc = statvfs(p, sv)) == -1 && errno == ENOENT &&
	    (slash = strrchr(p, '/')) != NULL && slash != p) {
		*slash = '\0';
		*exists = 0;
	}
	free(p);
	return rc;
}

static json_t *
storage_dir(const char *path)
{
	struct statvfs		 sv;
	unsigned long long	 size, avail, bfree;
	int			 exists;

	if (path == NULL)
		return json_pack("{s:s}", "error", "not configured");
	if (storage_stat(path, &sv, &exists) == -1)
		return json_pack("{s:s, s:s}", "path", path, "error",
		    strerror(errno));
	size = (unsigned long long)sv.f_blocks * sv.f_frsize;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	bfree = (unsigned long long)sv.f_bfree * sv.f_frsize;
	return json_pack("{s:s, s:b, s:I, s:I, s:I}", "path", path, "exists",
	    exists, "size_bytes", (json_int_t)size, "free_bytes",
	    (json_int_t)avail, "used_bytes", (json_int_t)(size - bfree));
}

void
api_storage(struct api_req *r)
{
	api_reply(r, 200, json_pack("{s:o, s:o}", "cache",
	    storage_dir(hv.conf.cache_dir), "retention",
	    storage_dir(hv.conf.retention_dir)));
}

/*
 * GET /metrics: Prometheus text format, for a signed-in session or a
 * bearer token kept in state_dir/metrics.token (mode 0600).
 */

struct metrics_ctx {
	struct api_req	*r;
	json_t		*workers;
	json_t		*db;		/* the status op's answer */
	json_t		*alerts;
	json_t		*disks;		/* hist.disks' answer */
	int		 pending;
};

static void
m_head(struct fbuf *b, const char *name, const char *type, const char *help)
{
	fbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
m_cert(struct fbuf *b, const char *file, const char *label, int days)
{
	struct tls_certinfo	 ci;
	char			*path = pki_path(&hv.conf, file);

	if (tls_cert_file_info(path, &ci, NULL) == 0) {
		if (days)
			fbuf_printf(b, "haven_certificate_days_left{cert=\"%s\"} "
			    "%lld\n", label, (long long)((ci.not_after -
			    now_unix()) / 86400));
		else
			fbuf_printf(b, "haven_certificate_expiry_timestamp_seconds"
			    "{cert=\"%s\"} %lld\n", label,
			    (long long)ci.not_after);
	}
	free(path);
}

static void
m_storage(struct fbuf *b, int free_bytes)
{
	const char	*label[] = { "cache", "retention" };
	const char	*path[] = { hv.conf.cache_dir, hv.conf.retention_dir };
	struct statvfs	 sv;
	size_t		 i;
	int		 exists;

	if (free_bytes)
		m_head(b, "haven_storage_free_bytes", "gauge", "Bytes free "
		    "for havend on the file system holding the directory.");
	else
		m_head(b, "haven_storage_size_bytes", "gauge", "Size of the "
		    "file system holding the directory.");
	for (i = 0; i < 2; i++) {
		if (path[i] == NULL || storage_stat(path[i], &sv,
		    &exists) == -1)
			continue;
		fbuf_printf(b, "haven_storage_%s_bytes{dir=\"%s\"} %llu\n",
		    free_bytes ? "free" : "size", label[i],
		    (unsigned long long)(free_bytes ? sv.f_bavail :
		    sv.f_blocks) * sv.f_frsize);
	}
}

static void
metrics_finish(struct metrics_ctx *mc)
{
	static const char *const statuses[] = { "connected", "disconnected",
	    "revoked", NULL };
	static const char *const sevs[] = { "critical", "warning", "info",
	    NULL };
	struct fbuf	 b;
	json_t		*m, *w, *a;
	size_t		 i, j;
	long long	 total, rest, n;

	if (--mc->pending > 0)
		return;
	fbuf_init(&b);
	m_head(&b, "haven_build_info", "gauge", "The version of this havend.");
	fbuf_printf(&b, "haven_build_info{version=\"%s\"} 1\n", HAVEN_VERSION);
	m_head(&b, "haven_uptime_seconds", "gauge", "Seconds since havend "
	    "started.");
	fbuf_printf(&b, "haven_uptime_seconds %lld\n",
	    (long long)(now_unix() - hv.started_at));
	m_head(&b, "haven_database_up", "gauge", "1 when the database is "
	    "reachable and migrated.");
	fbuf_printf(&b, "haven_database_up %d\n", control_db_up());

	m = json_object_get(mc->db, "machines");
	if (json_is_object(m)) {
		m_head(&b, "haven_agents_connected", "gauge", "Enrolled "
		    "machines whose heartbeats arrive.");
		fbuf_printf(&b, "haven_agents_connected %lld\n",
		    json_integer_value(json_object_get(m, "connected")));
		m_head(&b, "haven_machines", "gauge", "Enrolled machines by "
		    "status.");
		total = json_integer_value(json_object_get(m, "total"));
		rest = total;
		for (i = 0; statuses[i] != NULL; i++) {
			n = json_integer_value(json_object_get(m,
			    statuses[i]));
			rest -= n;
			fbuf_printf(&b, "haven_machines{status=\"%s\"} %lld\n",
			    statuses[i], n);
		}
		fbuf_printf(&b, "haven_machines{status=\"enrolled\"} %lld\n",
		    rest > 0 ? rest : 0);
	}

	m_head(&b, "haven_worker_restarts_total", "counter", "Restarts of "
	    "each worker slot since havend started.");
	json_array_foreach(mc->workers, i, w)
		fbuf_printf(&b, "haven_worker_restarts_total{slot=\"%lld\","
		    "kind=\"%s\"} %lld\n",
		    json_integer_value(json_object_get(w, "slot")),
		    json_string_value(json_object_get(w, "kind")) ?
		    json_string_value(json_object_get(w, "kind")) : "?",
		    json_integer_value(json_object_get(w, "restarts")));
	m_head(&b, "haven_worker_up", "gauge", "1 while the worker slot has "
	    "a running process.");
	json_array_foreach(mc->workers, i, w)
		fbuf_printf(&b, "haven_worker_up{slot=\"%lld\",kind=\"%s\"} %d\n",
		    json_integer_value(json_object_get(w, "slot")),
		    json_string_value(json_object_get(w, "kind")) ?
		    json_string_value(json_object_get(w, "kind")) : "?",
		    json_integer_value(json_object_get(w, "pid")) > 0);

	m_head(&b, "haven_certificate_days_left", "gauge", "Whole days "
	    "until the certificate expires (negative: expired).");
	m_cert(&b, "server.crt", "server", 1);
	m_cert(&b, "ca.crt", "ca", 1);
	m_head(&b, "haven_certificate_expiry_timestamp_seconds", "gauge",
	    "When the certificate expires, unix seconds.");
	m_cert(&b, "server.crt", "server", 0);
	m_cert(&b, "ca.crt", "ca", 0);

	if (json_is_array(json_object_get(mc->alerts, "alerts"))) {
		m_head(&b, "haven_alerts_open", "gauge", "Open alerts by "
		    "severity.");
		for (j = 0; sevs[j] != NULL; j++) {
			n = 0;
			json_array_foreach(json_object_get(mc->alerts,
			    "alerts"), i, a)
				if (json_string_value(json_object_get(a,
				    "severity")) != NULL && strcmp(sevs[j],
				    json_string_value(json_object_get(a,
				    "severity"))) == 0)
					n++;
			fbuf_printf(&b, "haven_alerts_open{severity=\"%s\"} %lld\n",
			    sevs[j], n);
		}
	}

	m_storage(&b, 0);
	m_storage(&b, 1);
	hist_metrics(&b, mc->disks);
	fbuf_add(&b, "", 1);
	api_reply_text(mc->r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    (const char *)b.data);
	fbuf_free(&b);
	json_decref(mc->workers);
	json_decref(mc->db);
	json_decref(mc->alerts);
	json_decref(mc->disks);
	free(mc);
}

static void
metrics_workers(json_t *workers, void *arg)
{
	struct metrics_ctx	*mc = arg;

	mc->workers = json_incref(workers);
	metrics_finish(mc);
}

static void
metrics_db(json_t *res, const char *err, void *arg)
{
	struct metrics_ctx	*mc = arg;

	if (err == NULL)
		mc->db = json_incref(res);
	metrics_finish(mc);
}

static void
metrics_disks(json_t *res, const char *err, void *arg)
{
	struct metrics_ctx	*mc = arg;

	if (err == NULL)
		mc->disks = json_incref(res);
	metrics_finish(mc);
}

static void
metrics_alerts(json_t *res, const char *err, void *arg)
{
	struct metrics_ctx	*mc = arg;

	if (err == NULL)
		mc->alerts = json_incref(res);
	metrics_finish(mc);
}

/* 1: the request carries the right bearer token; 0: none; -1: answered. */
static int
metrics_token(struct api_req *r)
{
	const char	*h = evhttp_find_header(evhttp_request_get_input_headers(
			    r->req), "Authorization");
	char		*path, *tok, *cause = NULL;
	size_t		 len;
	int		 ok = 0;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	path = pki_path(&hv.conf, "metrics.token");
	if (access(path, F_OK) == -1) {
		free(path);
		api_error(r, 401, "no_token", "no metrics token is set up: "
		    "put one (16 or more characters) in state_dir/"
		    "metrics.token, mode 0600, or sign in");
		return -1;
	}
	if (check_private_file(path, &cause) == -1 ||
	    (tok = read_file(path, &len, &cause)) == NULL) {
		log_warnx("metrics token: %s", cause);
		free(cause);
		free(path);
		api_error(r, 401, "bad_token", "the metrics token file cannot "
		    "be used; the appliance's log says why");
		return -1;
	}
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' ||
	    tok[len - 1] == ' '))
		tok[--len] = '\0';
	ok = len >= 16 && strlen(h) == len && CRYPTO_memcmp(h, tok, len) == 0;
	OPENSSL_cleanse(tok, len);
	free(tok);
	free(path);
	if (!ok) {
		api_error(r, 401, "bad_token", "this bearer token is not the "
		    "one in state_dir/metrics.token (at least 16 characters)");
		return -1;
	}
	r->actor = xstrdup("metrics token");
	return 1;
}

void
api_metrics(struct api_req *r)
{
	struct metrics_ctx	*mc;
	int			 t;

	if ((t = metrics_token(r)) == -1)
		return;
	if (t == 0 && session_check(r) == -1)
		return;		/* answered: not signed in */
	mc = xcalloc(1, sizeof(*mc));
	mc->r = r;
	mc->pending = 1;
	if (control_db_up()) {
		mc->pending += 3;
		db_call("status", NULL, metrics_db, mc);
		db_call("alert.list", NULL, metrics_alerts, mc);
		db_call("hist.disks", NULL, metrics_disks, mc);
	}
	control_workers(metrics_workers, mc);
}
