/*
 * The JSON API: the route table and the handlers (docs/api.md).
 * Handlers that need the database answer from the db callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api_disc.h"
#include "api_push.h"
#include "api_ui.h"
#include "enroll_token.h"
#include "control.h"
#include "havend.h"
#include "hist.h"
#include "log.h"
#include "pki.h"
#include "repl.h"
#include "util.h"

/* A db answer that goes straight back to the client. */
static void
reply_db(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		if (strncmp(err, "no ", 3) == 0)
			api_error(r, 404, "not_found", "%s", err);
		else if (strncmp(err, "database unavailable", 20) == 0)
			api_error(r, 503, "database_unavailable", "%s", err);
		else
			api_error(r, 500, "database_error", "%s", err);
		return;
	}
	api_reply(r, 200, json_incref(res));
}

static const char *
body_str(struct api_req *r, const char *key)
{
	return json_string_value(json_object_get(r->body, key));
}

/* GET /api/v1/status */

struct status_ctx {
	struct api_req	*r;
	json_t		*out;
	int		 pending;
};

static void
status_finish(struct status_ctx *sc)
{
	if (--sc->pending > 0)
		return;
	api_reply(sc->r, 200, sc->out);
	free(sc);
}

static void
status_workers(json_t *workers, void *arg)
{
	struct status_ctx	*sc = arg;

	json_object_set(sc->out, "workers", workers);
	status_finish(sc);
}

static void
status_db(json_t *res, const char *err, void *arg)
{
	struct status_ctx	*sc = arg;
	json_t			*db = json_object_get(sc->out, "database");

	if (err == NULL) {
		json_object_set(sc->out, "machines",
		    json_object_get(res, "machines"));
		json_object_set(db, "schema_version",
		    json_object_get(res, "schema_version"));
	}
	status_finish(sc);
}

static json_t *
certinfo_file(const char *name)
{
	struct tls_certinfo	 ci;
	char			*path = pki_path(&hv.conf, name), *cause = NULL;
	json_t			*o;

	if (tls_cert_file_info(path, &ci, &cause) == -1) {
		o = json_pack("{s:s}", "error", cause);
		free(cause);
	} else
		o = pki_certinfo_json(&ci);
	free(path);
	return o;
}

static void
api_status(struct api_req *r)
{
	struct status_ctx	*sc = xcalloc(1, sizeof(*sc));
	json_t			*roles = json_array(), *db;
	char			 ts[32];
	size_t			 i;

	for (i = 0; i < hv.conf.roles.n; i++)
		json_array_append_new(roles, json_string(hv.conf.roles.v[i]));
	fmt_time(hv.started_at, ts, sizeof(ts));
	db = control_db_state();
	json_object_set_new(db, "host", json_string(hv.conf.db_socket ?
	    hv.conf.db_socket : hv.conf.db_host));
	json_object_set_new(db, "port", json_integer(hv.conf.db_port));
	json_object_set_new(db, "name", json_string(hv.conf.db_name));
	sc->r = r;
	sc->out = json_pack("{s:s, s:o, s:s, s:I, s:s, s:{s:I, s:I, s:I}, "
	    "s:o, s:o, s:o, s:n}", "version", HAVEN_VERSION, "roles", roles,
	    "started_at", ts, "uptime_s", (json_int_t)(now_unix() -
	    hv.started_at), "listen_address", hv.conf.listen_address, "ports",
	    "control", (json_int_t)hv.conf.control_port, "admin",
	    (json_int_t)hv.conf.admin_port, "data",
	    (json_int_t)hv.conf.data_port, "certificate",
	    certinfo_file("server.crt"), "ca", certinfo_file("ca.crt"),
	    "database", db, "machines");
	sc->pending = 2;
	control_workers(status_workers, sc);
	if (control_db_up())
		db_call("status", NULL, status_db, sc);
	else
		status_finish(sc);
}

/* Passphrase. */

static void
api_passphrase_get(struct api_req *r)
{
	char	*p, *cause = NULL;

	if (pki_passphrase_read(&hv.conf, &p, &cause) == -1) {
		api_error(r, 500, "passphrase_unreadable", "%s", cause);
		free(cause);
		return;
	}
	audit(r, "passphrase.show", NULL, "%s", "");
	api_reply(r, 200, json_pack("{s:s}", "passphrase", p));
	free(p);
}

static void
api_passphrase_generate(struct api_req *r)
{
	char	*p, *cause = NULL;

	if (pki_passphrase_generate(&hv.conf, &p, &cause) == -1) {
		api_error(r, 500, "passphrase_unwritable", "%s", cause);
		free(cause);
		return;
	}
	audit(r, "passphrase.generate", NULL, "%s", "enrolled machines keep "
	    "their certificates");
	api_reply(r, 200, json_pack("{s:s}", "passphrase", p));
	free(p);
}

/* Certificates. */

static void
api_cert_get(struct api_req *r)
{
	api_reply(r, 200, json_pack("{s:o, s:o}", "server",
	    certinfo_file("server.crt"), "ca", certinfo_file("ca.crt")));
}

static void
cert_renewed(uint64_t id, int ok, json_t *result, const char *error,
    void *arg)
{
	struct api_req	*r = arg;

	if (!ok) {
		api_error(r, 500, "renew_failed", "certificate renewal (job "
		    "%llu) failed: %s", (unsigned long long)id,
		    error ? error : "no reason given");
		return;
	}
	control_tls_reload(1);
	audit(r, "cert.renew", NULL, "job %llu", (unsigned long long)id);
	api_reply(r, 200, json_pack("{s:I, s:o, s:O?}", "job", (json_int_t)id,
	    "server", certinfo_file("server.crt"), "result", result));
}

static void
api_cert_renew(struct api_req *r)
{
	/* A job: it writes keys, and jobs are where risky work runs. */
	control_job("cert.renew", NULL, r->actor, cert_renewed, r);
}

/* Machines. */

static void
api_machines(struct api_req *r)
{
	db_call("machine.list", NULL, reply_db, r);
}

static void
revoked(json_t *res, const char *err, void *arg)
{
	struct api_req	 *r = arg;
	json_t		 *serials, *v;
	const char	**list;
	char		 *crl, *cause = NULL;
	size_t		  i, n;

	if (err != NULL) {
		reply_db(res, err, r);
		return;
	}
	serials = json_object_get(res, "serials");
	n = json_array_size(serials);
	list = xcalloc(n + 1, sizeof(*list));
	json_array_foreach(serials, i, v)
		list[i] = json_string_value(v);
	crl = pki_path(&hv.conf, "crl.pem");
	if (tls_crl_write(crl, control_ca(), control_ca_key(), list, n,
	    &cause) == -1) {
		api_error(r, 500, "crl_failed", "the machine is marked revoked "
		    "but the CRL could not be written: %s", cause);
		free(cause);
	} else {
		control_tls_reload(1);
		audit(r, "machine.revoke", r->params[0], "%zu certificate%s "
		    "revoked in all", n, n == 1 ? "" : "s");
		api_reply(r, 200, json_pack("{s:s, s:O}", "id", r->params[0],
		    "revoked_at", json_object_get(res, "revoked_at")));
	}
	free(crl);
	free(list);
}

static void
api_machine_revoke(struct api_req *r)
{
	db_call("machine.revoke", json_pack("{s:s}", "id", r->params[0]),
	    revoked, r);
}

/* POST /api/v1/heartbeat (mutual TLS) */

/*
 * The heartbeat answer: settings the agent applies from its next cycle,
 * so that a policy changed on the CS reaches every machine following it.
 */
static void
heartbeat_settings(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*pol = res ? json_object_get(res, "policy") : NULL;
	json_t		*rep;
	char		 ts[32];

	rep = json_pack("{s:I}", "data_port", (json_int_t)hv.conf.data_port);
	if (err == NULL && json_is_object(pol)) {
		json_object_set(rep, "policy", json_object_get(pol, "name"));
		json_object_set(rep, "interval", json_object_get(pol,
		    "crash_interval_s"));
		json_object_set(rep, "app_interval", json_object_get(pol,
		    "app_consistent_s"));
		json_object_set(rep, "throttle", json_object_get(pol,
		    "throttle"));
	}
	fmt_time(now_unix(), ts, sizeof(ts));
	api_reply(r, 200, json_pack("{s:s, s:I, s:s, s:o}", "machine_id",
	    r->machine_id, "heartbeat_interval",
	    (json_int_t)hv.conf.heartbeat_interval, "server_time", ts,
	    "replication", rep));
}

static void
heartbeat_done(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	const char	*was;

	if (err != NULL) {
		if (strncmp(err, "no enrolled machine", 19) == 0)
			api_error(r, 403, "unknown_machine", "%s: enroll "
			    "again with 'haven-agent enroll'", err);
		else
			reply_db(NULL, err, r);
		return;
	}
	if (json_is_true(json_object_get(res, "revoked"))) {
		api_error(r, 403, "revoked", "this machine's certificate was "
		    "revoked on the configuration server; enroll it again to "
		    "protect it");
		return;
	}
	was = json_string_value(json_object_get(res, "was"));
	if (was != NULL && strcmp(was, "connected") != 0)
		log_info("machine %s (%s) is connected", r->machine_id,
		    json_string_value(json_object_get(res, "hostname")));
	/* Then what the machine's policy says its agent should do. */
	db_call("machine.replication", json_pack("{s:s}", "machine_id",
	    r->machine_id), heartbeat_settings, r);
}

static void
api_heartbeat(struct api_req *r)
{
	json_t	*inv = json_object_get(r->body, "inventory");

	if (!json_is_object(inv)) {
		api_error(r, 400, "bad_request", "a heartbeat carries an "
		    "\"inventory\" object");
		return;
	}
	db_call("machine.heartbeat", json_pack("{s:s, s:s, s:O}",
	    "fingerprint", r->machine_fp, "address", r->addr, "inventory",
	    inv), heartbeat_done, r);
	/* The agent's per-disk replication state, for status and the UI. */
	if (json_is_array(json_object_get(r->body, "replication")))
		repl_disk_report(r->machine_id,
		    json_object_get(r->body, "replication"));
}

/* Users (sign-in accounts). */

static void
user_set(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	(void)res;
	if (err != NULL) {
		reply_db(NULL, err, r);
		return;
	}
	audit(r, "user.set", body_str(r, "name"), "%s", "password set");
	api_reply(r, 200, json_pack("{s:s}", "name", body_str(r, "name")));
}

static void
api_user_set(struct api_req *r)
{
	const char	*name = body_str(r, "name");
	const char	*pw = body_str(r, "password");
	char		*hash, *cause = NULL;

	if (name == NULL || name[0] == '\0' || strlen(name) > 64 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name)) {
		api_error(r, 400, "bad_name", "a user name is 1 to 64 letters, "
		    "digits, '.', '_' or '-'");
		return;
	}
	if (pw == NULL || strlen(pw) < 8) {
		api_error(r, 400, "weak_password", "the password must have at "
		    "least 8 characters");
		return;
	}
	if (password_hash(pw, &hash, &cause) == -1) {
		api_error(r, 500, "hash_failed", "%s", cause);
		free(cause);
		return;
	}
	db_call("user.set", json_pack("{s:s, s:s}", "name", name, "hash",
	    hash), user_set, r);
	free(hash);
}

/* Jobs. */

static void
api_jobs(struct api_req *r)
{
	db_call("job.list", json_pack("{s:i}", "limit", 200), reply_db, r);
}

static void
api_job(struct api_req *r)
{
	char	*end;
	long long id = strtoll(r->params[0], &end, 10);

	if (*end != '\0' || id <= 0) {
		api_error(r, 400, "bad_id", "job ids are positive numbers");
		return;
	}
	db_call("job.get", json_pack("{s:I}", "id", (json_int_t)id), reply_db,
	    r);
}

/* The audit log. */

static void
api_audit(struct api_req *r)
{
	db_call("audit.list", json_pack("{s:i}", "limit", 500), reply_db, r);
}

const struct api_route api_routes[] = {
	{ EVHTTP_REQ_GET, "/api/v1/status", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_status },
	{ EVHTTP_REQ_GET, "/api/v1/passphrase", LST_UNIX, AUTH_ADMIN,
	    api_passphrase_get },
	{ EVHTTP_REQ_POST, "/api/v1/passphrase", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_passphrase_generate },
	{ EVHTTP_REQ_GET, "/api/v1/cert", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_cert_get },
	{ EVHTTP_REQ_POST, "/api/v1/cert/renew", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_cert_renew },
	{ EVHTTP_REQ_GET, "/api/v1/machines", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machines },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{}/revoke", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machine_revoke },
	{ EVHTTP_REQ_POST, "/api/v1/users", LST_UNIX, AUTH_ADMIN,
	    api_user_set },
	{ EVHTTP_REQ_GET, "/api/v1/policies", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_policies },
	{ EVHTTP_REQ_POST, "/api/v1/policies", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_policy_create },
	{ EVHTTP_REQ_GET, "/api/v1/policies/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_policy_get },
	{ EVHTTP_REQ_POST, "/api/v1/policies/{}/throttle",
	    LST_UNIX | LST_ADMIN, AUTH_ADMIN, api_policy_throttle },
	{ EVHTTP_REQ_PUT, "/api/v1/policies/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_policy_update },
	{ EVHTTP_REQ_DELETE, "/api/v1/policies/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_policy_delete },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{}/policy", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machine_policy },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{}/points", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machine_points },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{}/replication",
	    LST_UNIX | LST_ADMIN, AUTH_ADMIN, api_machine_replication },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{}/recover", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machine_recover },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{}/history", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_machine_history },
	{ EVHTTP_REQ_GET, "/api/v1/jobs", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_jobs },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/{}", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_job },
	{ EVHTTP_REQ_GET, "/api/v1/audit", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_audit },
	{ EVHTTP_REQ_POST, "/api/v1/passphrase/reveal", LST_ADMIN,
	    AUTH_ADMIN, api_passphrase_reveal },
	{ EVHTTP_REQ_POST, "/api/v1/password", LST_ADMIN, AUTH_ADMIN,
	    api_password_change },
	{ EVHTTP_REQ_GET, "/api/v1/alerts", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_alerts },
	{ EVHTTP_REQ_GET, "/api/v1/storage", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_storage },
	{ EVHTTP_REQ_GET, "/api/v1/accounts", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_accounts },
	{ EVHTTP_REQ_POST, "/api/v1/accounts", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_account_add },
	{ EVHTTP_REQ_PUT, "/api/v1/accounts/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_account_edit },
	{ EVHTTP_REQ_DELETE, "/api/v1/accounts/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_account_remove },
	{ EVHTTP_REQ_GET, "/api/v1/hypervisors", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_hypervisors },
	{ EVHTTP_REQ_POST, "/api/v1/hypervisors", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_hypervisor_add },
	{ EVHTTP_REQ_GET, "/api/v1/hypervisors/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_hypervisor_get },
	{ EVHTTP_REQ_PUT, "/api/v1/hypervisors/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_hypervisor_edit },
	{ EVHTTP_REQ_DELETE, "/api/v1/hypervisors/{}", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_hypervisor_remove },
	{ EVHTTP_REQ_POST, "/api/v1/hypervisors/{}/accept",
	    LST_UNIX | LST_ADMIN, AUTH_ADMIN, api_hypervisor_accept },
	{ EVHTTP_REQ_POST, "/api/v1/push-install", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_push_install },
	{ EVHTTP_REQ_GET, "/api/v1/tokens", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_token_list },
	{ EVHTTP_REQ_POST, "/api/v1/tokens", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_token_issue },
	{ EVHTTP_REQ_POST, "/api/v1/tokens/{}/revoke", LST_UNIX | LST_ADMIN,
	    AUTH_ADMIN, api_token_revoke },
	{ EVHTTP_REQ_POST, "/api/v1/hypervisors/{}/refresh",
	    LST_UNIX | LST_ADMIN, AUTH_ADMIN, api_hypervisor_refresh },
	{ EVHTTP_REQ_GET, "/api/v1/vms", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_vms },
	{ EVHTTP_REQ_GET, "/metrics", LST_ADMIN, AUTH_NONE, api_metrics },
	{ EVHTTP_REQ_POST, "/api/v1/prune", LST_UNIX | LST_ADMIN, AUTH_ADMIN,
	    api_prune },
	{ EVHTTP_REQ_POST, "/api/v1/session", LST_ADMIN, AUTH_NONE,
	    session_login },
	{ EVHTTP_REQ_DELETE, "/api/v1/session", LST_ADMIN, AUTH_ADMIN,
	    session_logout },
	{ EVHTTP_REQ_POST, "/api/v1/enroll/challenge", LST_CONTROL, AUTH_NONE,
	    enroll_challenge },
	{ EVHTTP_REQ_POST, "/api/v1/enroll", LST_CONTROL, AUTH_NONE,
	    enroll_submit },
	{ EVHTTP_REQ_POST, "/api/v1/heartbeat", LST_CONTROL, AUTH_MACHINE,
	    api_heartbeat },
	{ 0, NULL, 0, 0, NULL }
};
