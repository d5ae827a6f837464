/*
 * Replication routes (docs/api.md): policies, a machine's policy, its
 * recovery points and replication state, recovery; and what control
 * does with recovery points the master target reports (repl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "ctlfmt.h"
#include "havend.h"
#include "log.h"
#include "repl.h"
#include "util.h"

/*
 * A db failure as an HTTP answer.  The replication ops fail with either
 * a database error or a refusal worded for the operator, so anything
 * that is not the former is the caller's to fix.
 */
static void
repl_error(struct api_req *r, const char *err)
{
	if (strncmp(err, "no ", 3) == 0)
		api_error(r, 404, "not_found", "%s", err);
	else if (strncmp(err, "database unavailable", 20) == 0)
		api_error(r, 503, "database_unavailable", "%s", err);
	else if (strncmp(err, "database error", 14) == 0 ||
	    strncmp(err, "the database", 12) == 0 ||
	    strncmp(err, "the operation", 13) == 0)
		api_error(r, 500, "database_error", "%s", err);
	else if (strstr(err, " in use ") != NULL ||
	    strstr(err, "already exists") != NULL)
		api_error(r, 409, "conflict", "%s", err);
	else
		api_error(r, 400, "refused", "%s", err);
}

static void
repl_reply(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL)
		repl_error(r, err);
	else
		api_reply(r, 200, json_incref(res));
}

static const char *const policy_keys[] = { "rpo_threshold_s", "retention_s",
	"app_consistent_s", "crash_interval_s", "thin_after_s", "thin_every_s",
	NULL };

/* A copy of the body's policy settings; NULL (answered) on a typo. */
static json_t *
policy_body(struct api_req *r, int with_name)
{
	const char	*k;
	json_t		*v, *args = json_object();
	size_t		 i;

	json_object_foreach(r->body, k, v) {
		for (i = 0; policy_keys[i] != NULL; i++)
			if (strcmp(k, policy_keys[i]) == 0)
				break;
		if (policy_keys[i] == NULL && !(with_name &&
		    strcmp(k, "name") == 0)) {
			json_decref(args);
			api_error(r, 400, "refused", "unknown policy setting "
			    "'%s'; the settings are %srpo_threshold_s, "
			    "retention_s, app_consistent_s, crash_interval_s, "
			    "thin_after_s and thin_every_s (seconds)", k,
			    with_name ? "name, " : "");
			return NULL;
		}
		json_object_set(args, k, v);
	}
	return args;
}

/* "RPO threshold 15m, retention 1d, ..." for the audit log. */
static char *
policy_text(json_t *p)
{
	char	v[4][32];
	size_t	i;
	static const char *const keys[] = { "rpo_threshold_s", "retention_s",
	    "crash_interval_s", "app_consistent_s" };

	for (i = 0; i < 4; i++)
		ctlfmt_duration_short((int64_t)json_integer_value(
		    json_object_get(p, keys[i])), v[i], sizeof(v[i]));
	return xasprintf("RPO threshold %s, retention %s, crash-consistent "
	    "every %s, app-consistent %s%s", v[0], v[1], v[2],
	    json_integer_value(json_object_get(p, keys[3])) ? "every " : "",
	    json_integer_value(json_object_get(p, keys[3])) ? v[3] : "never");
}

void
api_policies(struct api_req *r)
{
	db_call("policy.list", json_object(), repl_reply, r);
}

static void
policy_created(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*p = json_object_get(res, "policy");
	char		*text;

	if (err != NULL) {
		repl_error(r, err);
		return;
	}
	text = policy_text(p);
	audit(r, "policy.create", json_string_value(json_object_get(p,
	    "name")), "%s; failback twin %s", text, json_string_value(
	    json_object_get(json_object_get(res, "failback"), "name")));
	free(text);
	api_reply(r, 200, json_incref(res));
}

void
api_policy_create(struct api_req *r)
{
	json_t	*args;

	if (!json_is_string(json_object_get(r->body, "name"))) {
		api_error(r, 400, "refused", "send {\"name\": ...} and any of "
		    "rpo_threshold_s, retention_s, app_consistent_s, "
		    "crash_interval_s (seconds)");
		return;
	}
	if ((args = policy_body(r, 1)) != NULL)
		db_call("policy.create", args, policy_created, r);
}

void
api_policy_get(struct api_req *r)
{
	db_call("policy.get", json_pack("{s:s}", "policy", r->params[0]),
	    repl_reply, r);
}

static void
policy_updated(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	char		*text;

	if (err != NULL) {
		repl_error(r, err);
		return;
	}
	text = policy_text(res);
	audit(r, "policy.update", json_string_value(json_object_get(res,
	    "name")), "%s", text);
	free(text);
	api_reply(r, 200, json_incref(res));
}

void
api_policy_update(struct api_req *r)
{
	json_t	*args;

	if (json_object_get(r->body, "name") != NULL) {
		api_error(r, 400, "refused", "a policy keeps its name (its "
		    "failback twin is named after it): create a new policy "
		    "and assign the machines to it");
		return;
	}
	if ((args = policy_body(r, 0)) == NULL)
		return;
	if (json_object_size(args) == 0) {
		json_decref(args);
		api_error(r, 400, "refused", "nothing to change: send any of "
		    "rpo_threshold_s, retention_s, app_consistent_s, "
		    "crash_interval_s, thin_after_s, thin_every_s");
		return;
	}
	json_object_set_new(args, "policy", json_string(r->params[0]));
	db_call("policy.update", args, policy_updated, r);
}

static void
policy_deleted(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*d = json_object_get(res, "deleted");

	if (err != NULL) {
		repl_error(r, err);
		return;
	}
	audit(r, "policy.delete", json_string_value(json_array_get(d, 0)),
	    "with its failback twin %s", json_array_size(d) > 1 ?
	    json_string_value(json_array_get(d, 1)) : "(none)");
	api_reply(r, 200, json_incref(res));
}

void
api_policy_delete(struct api_req *r)
{
	db_call("policy.delete", json_pack("{s:s}", "policy", r->params[0]),
	    policy_deleted, r);
}

static void
machine_policy_set(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	const char	*was;

	if (err != NULL) {
		repl_error(r, err);
		return;
	}
	was = json_string_value(json_object_get(res, "was"));
	audit(r, "machine.policy", r->params[0], "%s now follows policy %s%s%s%s",
	    json_string_value(json_object_get(res, "hostname")),
	    json_string_value(json_object_get(json_object_get(res, "policy"),
	    "name")), was ? " (was " : "", was ? was : "", was ? ")" : "");
	api_reply(r, 200, json_incref(res));
}

void
api_machine_policy(struct api_req *r)
{
	json_t	*p = json_object_get(r->body, "policy");

	if (!json_is_string(p) && !json_is_integer(p)) {
		api_error(r, 400, "refused", "send {\"policy\": NAME or ID}");
		return;
	}
	db_call("policy.assign", json_pack("{s:s, s:O}", "machine_id",
	    r->params[0], "policy", p), machine_policy_set, r);
}

void
api_machine_points(struct api_req *r)
{
	db_call("point.list", json_pack("{s:s}", "machine_id", r->params[0]),
	    repl_reply, r);
}

void
api_machine_replication(struct api_req *r)
{
	db_call("machine.replication", json_pack("{s:s}", "machine_id",
	    r->params[0]), repl_reply, r);
}

/* POST /api/v1/machines/{id}/recover {"point", "out"} */

struct recover_ctx {
	struct api_req	*r;		/* NULL once answered */
	json_t		*args;		/* the job's */
	char		 nonce[33];
	int		 pending;	/* callbacks still to come */
};

static void
recover_ctx_drop(struct recover_ctx *rc)
{
	if (--rc->pending > 0)
		return;
	json_decref(rc->args);
	free(rc);
}

/* Is path dir or inside it? */
static int
path_within(const char *path, const char *dir)
{
	size_t	n;

	if (dir == NULL || *dir == '\0')
		return 0;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/');
}

/* NULL when out is a directory recovery may write to, else why not. */
static const char *
recover_out_bad(const char *out)
{
	const char	*p;

	if (out == NULL || out[0] != '/')
		return "'out' must be an absolute directory path";
	if (strlen(out) > 3000)
		return "'out' is too long";
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			return "'out' must not contain control characters";
	for (p = out; (p = strchr(p, '/')) != NULL; p++)
		if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0 ||
		    strncmp(p, "/./", 3) == 0 || strcmp(p, "/.") == 0)
			return "'out' must not contain '.' or '..' parts";
	if (path_within(out, hv.conf.retention_dir) ||
	    path_within(out, hv.conf.cache_dir) ||
	    path_within(out, hv.conf.state_dir))
		return "'out' must not be inside havend's state, cache or "
		    "retention directory";
	return NULL;
}

static void
recover_done(uint64_t id, int ok, json_t *result, const char *error,
    void *arg)
{
	struct recover_ctx	*rc = arg;

	(void)result;
	/* Only a job that never started gets here first. */
	if (rc->r != NULL && !ok) {
		api_error(rc->r, strncmp(error ? error : "", "database "
		    "unavailable", 20) == 0 ? 503 : 500, "job_failed",
		    "the recovery job %s: %s", id ? "failed" : "did not start",
		    error ? error : "no reason given");
		rc->r = NULL;
	}
	recover_ctx_drop(rc);
}

/*
 * control_job() answers only when the job ends; the job's row is
 * created by the db call queued just before this one, and the db
 * process answers in order, so the newest jobs include it: found by the
 * nonce in its arguments.
 */
static void
recover_started(json_t *res, const char *err, void *arg)
{
	struct recover_ctx	*rc = arg;
	struct api_req		*r = rc->r;
	json_t			*j, *a;
	size_t			 i;
	long long		 id = 0;

	if (r == NULL) {
		recover_ctx_drop(rc);
		return;
	}
	json_array_foreach(err ? NULL : json_object_get(res, "jobs"), i, j) {
		a = json_object_get(j, "args");
		if (json_is_string(json_object_get(a, "request")) &&
		    strcmp(json_string_value(json_object_get(a, "request")),
		    rc->nonce) == 0)
			id = json_integer_value(json_object_get(j, "id"));
	}
	rc->r = NULL;
	if (id == 0) {
		api_error(r, 500, "job_unknown", "the recovery job was started "
		    "but its id could not be read back%s%s; 'havenctl job "
		    "list' shows it", err ? ": " : "", err ? err : "");
		recover_ctx_drop(rc);
		return;
	}
	audit(r, "machine.recover", json_string_value(json_object_get(
	    rc->args, "machine_id")), "point %lld into %s (job %lld)",
	    (long long)json_integer_value(json_object_get(rc->args,
	    "point_id")), json_string_value(json_object_get(rc->args, "out")),
	    id);
	api_reply(r, 202, json_pack("{s:I, s:O, s:O, s:O, s:O}", "job",
	    (json_int_t)id, "machine_id", json_object_get(rc->args,
	    "machine_id"), "point_id", json_object_get(rc->args, "point_id"),
	    "out", json_object_get(rc->args, "out"), "disks",
	    json_object_get(rc->args, "disks")));
	recover_ctx_drop(rc);
}

static void
recover_points(json_t *res, const char *err, void *arg)
{
	struct recover_ctx	*rc = arg;
	struct api_req		*r = rc->r;
	json_t			*want = json_object_get(rc->args, "point");
	json_t			*pt = NULL, *p;
	const char		*host, *w = json_string_value(want);
	unsigned char		 b[16];
	long long		 id = -1;
	size_t			 i;

	if (err != NULL) {
		repl_error(r, err);
		goto drop;
	}
	host = json_string_value(json_object_get(res, "hostname"));
	if (json_is_integer(want))
		id = json_integer_value(want);
	else if (strcmp(w, "latest") == 0)
		pt = json_object_get(res, "latest");
	else if (strcmp(w, "latest-app") == 0)
		pt = json_object_get(res, "latest_app");
	else
		id = strtoll(w, NULL, 10);
	json_array_foreach(json_object_get(res, "points"), i, p)
		if (json_integer_value(json_object_get(p, "point_id")) == id)
			pt = p;
	if (!json_is_object(pt)) {
		if (json_array_size(json_object_get(res, "points")) == 0)
			api_error(r, 409, "no_recovery_point", "%s (%s) has no "
			    "recovery points yet: a point exists once every "
			    "disk has replicated it ('havenctl points list "
			    "%s')", host, r->params[0], r->params[0]);
		else if (id < 0)
			api_error(r, 409, "no_recovery_point", "%s (%s) has no "
			    "app-consistent recovery point; use --point latest "
			    "or a point id from 'havenctl points list %s'",
			    host, r->params[0], r->params[0]);
		else
			api_error(r, 404, "no_recovery_point", "%s (%s) has no "
			    "complete recovery point %lld (pruned, or not "
			    "every disk has it); 'havenctl points list %s' "
			    "shows those it has", host, r->params[0], id,
			    r->params[0]);
		goto drop;
	}
	json_object_set(rc->args, "point_id", json_object_get(pt,
	    "point_id"));
	json_object_set(rc->args, "taken_at", json_object_get(pt,
	    "taken_at"));
	json_object_set(rc->args, "disks", json_object_get(res, "disks"));
	json_object_set_new(rc->args, "hostname", json_string(host));
	random_bytes(b, sizeof(b));
	hex_encode(b, sizeof(b), rc->nonce);
	json_object_set_new(rc->args, "request", json_string(rc->nonce));
	rc->pending = 2;
	control_job("recover", json_incref(rc->args), r->actor, recover_done,
	    rc);
	db_call("job.list", json_pack("{s:i}", "limit", 20), recover_started,
	    rc);
	return;
drop:
	rc->r = NULL;
	recover_ctx_drop(rc);
}

void
api_machine_recover(struct api_req *r)
{
	struct recover_ctx	*rc;
	json_t			*point = json_object_get(r->body, "point");
	const char		*out = json_string_value(json_object_get(r->body,
				    "out"));
	const char		*s = json_string_value(point), *why;

	if (!(json_is_integer(point) && json_integer_value(point) >= 0) &&
	    !(s != NULL && (strcmp(s, "latest") == 0 ||
	    strcmp(s, "latest-app") == 0 || (*s != '\0' && strlen(s) < 19 &&
	    strspn(s, "0123456789") == strlen(s))))) {
		api_error(r, 400, "refused", "'point' must be \"latest\", "
		    "\"latest-app\" or a point id");
		return;
	}
	if ((why = recover_out_bad(out)) != NULL) {
		api_error(r, 400, "refused", "%s", why);
		return;
	}
	rc = xcalloc(1, sizeof(*rc));
	rc->r = r;
	rc->pending = 1;
	rc->args = json_pack("{s:s, s:O, s:s}", "machine_id", r->params[0],
	    "point", point, "out", out);
	db_call("point.list", json_pack("{s:s}", "machine_id", r->params[0]),
	    recover_points, rc);
}

/* Events from the data path. */

/* Raise or clear the machine's RPO alert from a point.list-like answer. */
static void
rpo_judge(json_t *m)
{
	json_t		*rpo = json_object_get(m, "rpo_s");
	json_t		*thr = json_object_get(m, "rpo_threshold_s");
	const char	*id = json_string_value(json_object_get(m,
			    "machine_id"));
	const char	*host = json_string_value(json_object_get(m,
			    "hostname"));
	const char	*pol = json_string_value(json_object_get(m, "policy"));
	json_t		*latest = json_object_get(m, "latest");
	char		*key, *msg, a[32], b[32];

	if (id == NULL)
		return;
	key = xasprintf("rpo:%s", id);
	/* Before the first point there is no RPO to speak of. */
	if (json_is_integer(rpo) && json_is_integer(thr) &&
	    json_integer_value(rpo) > json_integer_value(thr)) {
		ctlfmt_duration_short((int64_t)json_integer_value(rpo), a,
		    sizeof(a));
		ctlfmt_duration_short((int64_t)json_integer_value(thr), b,
		    sizeof(b));
		msg = xasprintf("%s (%s): achieved RPO %s is above the %s "
		    "threshold of policy %s; its newest recovery point is "
		    "%lld from %s", host ? host : "?", id, a, b,
		    pol ? pol : "?", (long long)json_integer_value(
		    json_object_get(latest, "point_id")), json_string_value(
		    json_object_get(latest, "taken_at")) ? json_string_value(
		    json_object_get(latest, "taken_at")) : "?");
		db_call("alert.raise", json_pack("{s:s, s:s, s:s}", "key",
		    key, "severity", "warning", "message", msg), NULL, NULL);
		free(msg);
	} else if (json_is_integer(rpo) || !json_is_integer(thr))
		db_call("alert.clear", json_pack("{s:s}", "key", key), NULL,
		    NULL);
	free(key);
}

static void
point_added(json_t *res, const char *err, void *arg)
{
	char	*what = arg;

	if (err != NULL)
		log_warnx("recovery point %s was not recorded: %s", what, err);
	else {
		if (json_is_true(json_object_get(res, "complete")) &&
		    json_is_true(json_object_get(res, "added")))
			log_info("recovery point %s: complete on every disk",
			    what);
		rpo_judge(res);
	}
	free(what);
}

void
repl_point_event(json_t *ev)
{
	const char	*mid = json_string_value(json_object_get(ev,
			    "machine_id"));
	const char	*disk = json_string_value(json_object_get(ev, "disk"));
	json_t		*cc = json_object_get(ev, "crash_consistent");

	if (mid == NULL || disk == NULL) {
		log_warnx("a point event without machine_id or disk");
		return;
	}
	db_call("point.add", json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:b, "
	    "s:O?}", "machine_id", mid, "disk", disk, "point_id",
	    json_object_get(ev, "point_id"), "seq", json_object_get(ev, "seq"),
	    "kind", json_object_get(ev, "kind"), "crash_consistent",
	    !json_is_false(cc), "taken_at", json_object_get(ev, "taken_at")),
	    point_added, xasprintf("%lld of %s:%s", (long long)
	    json_integer_value(json_object_get(ev, "point_id")), mid, disk));
}

static void
rpo_checked(json_t *res, const char *err, void *arg)
{
	json_t	*m;
	size_t	 i;

	(void)arg;
	if (err != NULL) {
		log_debug("RPO check: %s", err);
		return;
	}
	json_array_foreach(json_object_get(res, "machines"), i, m)
		rpo_judge(m);
}

void
repl_rpo_check(void)
{
	if (control_db_up())
		db_call("rpo.check", json_object(), rpo_checked, NULL);
}

static void
disk_reported(json_t *res, const char *err, void *arg)
{
	char	*what = arg;

	(void)res;
	if (err != NULL)
		log_warnx("replication state of %s not recorded: %s", what,
		    err);
	free(what);
}

void
repl_disk_report(const char *machine_id, json_t *disks)
{
	/* Bytes received and applied are counted by the servers (hist.c). */
	static const char *const keys[] = { "state", "percent", "eta_s",
	    "bytes_sent", "error", NULL };
	json_t		*d, *args, *v;
	const char	*name;
	size_t		 i, k;

	json_array_foreach(disks, i, d) {
		name = json_string_value(json_object_get(d, "name"));
		if (name == NULL)
			name = json_string_value(json_object_get(d, "disk"));
		if (name == NULL)
			continue;
		args = json_pack("{s:s, s:s}", "machine_id", machine_id,
		    "disk", name);
		for (k = 0; keys[k] != NULL; k++)
			if ((v = json_object_get(d, keys[k])) != NULL)
				json_object_set(args, keys[k], v);
		db_call("disk.state", args, disk_reported,
		    xasprintf("%s:%s", machine_id, name));
	}
}

static void
policy_throttled(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		repl_error(r, err);
		return;
	}
	audit(r, "policy.throttle", r->params[0], "throttle %s",
	    json_string_value(json_object_get(res, "throttle")));
	api_reply(r, 200, json_incref(res));
}

/* POST /api/v1/policies/{id}/throttle {"throttle": "10m" | schedule} */
void
api_policy_throttle(struct api_req *r)
{
	const char	*t = json_string_value(json_object_get(r->body,
			    "throttle"));

	if (t == NULL) {
		api_error(r, 400, "refused", "send {\"throttle\": RATE} with a "
		    "rate such as 10m (bytes per second; 0 = no limit) or a "
		    "schedule such as 08:00-18:00=10m,*=0");
		return;
	}
	db_call("policy.throttle", json_pack("{s:s, s:s}", "policy",
	    r->params[0], "throttle", t), policy_throttled, r);
}
