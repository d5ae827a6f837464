/*
 * Accounts, hypervisor servers and discovered machines over the API
 * (docs/accounts.md).  An account's secret is sealed here, in control,
 * as soon as it arrives (src/common/secret.c): the db process, the
 * database, the logs and the audit log only ever see the sealed form or
 * nothing, and no answer carries it.  Discovery runs as "discover" jobs
 * (job_discover.c); the hypervisor's row says whether one is running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "api_disc.h"
#include "control.h"
#include "disc.h"
#include "havend.h"
#include "log.h"
#include "secret.h"
#include "util.h"

/* The db ops' "[NNN] " prefix to a status and a code. */
static void
disc_error(struct api_req *r, const char *err)
{
	const char	*code;
	int		 status = 400;

	if (err[0] == '[' && strlen(err) > 6 && err[4] == ']' &&
	    err[5] == ' ') {
		status = atoi(err + 1);
		err += 6;
	} else if (strncmp(err, "database unavailable", 20) == 0)
		status = 503;
	else if (strncmp(err, "database error", 14) == 0)
		status = 500;
	switch (status) {
	case 404:
		code = "not_found";
		break;
	case 409:
		code = "conflict";
		break;
	case 503:
		code = "database_unavailable";
		break;
	case 500:
		code = "database_error";
		break;
	default:
		status = 400;
		code = "bad_request";
		break;
	}
	api_error(r, status, code, "%s", err);
}

static void
reply_disc(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL)
		disc_error(r, err);
	else
		api_reply(r, 200, json_incref(res));
}

/* Refuse a body with keys other than allowed (a typo would otherwise
 * be silently ignored).  Answers and returns -1. */
static int
body_only(struct api_req *r, const char *const *allowed)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	if (r->body == NULL)
		r->body = json_object();
	json_object_foreach(r->body, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			api_error(r, 400, "bad_request", "unknown field '%s'",
			    k);
			return -1;
		}
	}
	return 0;
}

/* The body's keys in args, as they are (the db op checks them). */
static json_t *
body_args(struct api_req *r, const char *const *keys)
{
	json_t	*args = json_object(), *v;
	size_t	 i;

	for (i = 0; keys[i] != NULL; i++)
		if ((v = json_object_get(r->body, keys[i])) != NULL)
			json_object_set(args, keys[i], v);
	return args;
}

static const char *
body_str(struct api_req *r, const char *key)
{
	return json_string_value(json_object_get(r->body, key));
}

/*
 * Take the secret out of the body: a copy (wiped by secret_free) in
 * *out, the body's own bytes wiped.  -1 (answered) when not a string.
 */
static int
take_secret(struct api_req *r, char **out)
{
	json_t	*v = json_object_get(r->body, "secret");

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		api_error(r, 400, "bad_request", "'secret' must be a string");
		return -1;
	}
	if (json_string_length(v) > SECRET_MAX) {
		OPENSSL_cleanse((char *)json_string_value(v),
		    json_string_length(v));
		api_error(r, 400, "bad_request", "'secret' is longer than %d "
		    "bytes", SECRET_MAX);
		return -1;
	}
	*out = xstrdup(json_string_value(v));
	OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	json_object_del(r->body, "secret");
	return 0;
}

/* --- accounts */

static const char *const account_keys[] = { "name", "kind", "username",
	"secret", "auth", "sudo", NULL };

void
api_accounts(struct api_req *r)
{
	db_call("account.list", json_object(), reply_disc, r);
}

static void
account_added(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	audit(r, "account.add", json_string_value(json_object_get(res,
	    "name")), "kind %s, user '%s'%s",
	    json_string_value(json_object_get(res, "kind")),
	    json_string_value(json_object_get(res, "username")),
	    json_is_true(json_object_get(res, "has_secret")) ?
	    ", secret stored encrypted" : "");
	api_reply(r, 201, json_incref(res));
}

void
api_account_add(struct api_req *r)
{
	const char	*name;
	char		*secret, *sealed = NULL, *cause = NULL;
	json_t		*args;
	int		 pem = 0;

	if (body_only(r, account_keys) == -1 || take_secret(r, &secret) == -1)
		return;
	if ((name = body_str(r, "name")) == NULL || *name == '\0') {
		secret_free(secret);
		api_error(r, 400, "bad_request", "'name' is missing");
		return;
	}
	if (secret != NULL && *secret != '\0') {
		pem = strncmp(secret, "-----BEGIN ", 11) == 0;
		sealed = secret_encrypt(hv.conf.state_dir, name, secret,
		    &cause);
		secret_free(secret);
		if (sealed == NULL) {
			api_error(r, 500, "secret_failed", "%s", cause);
			free(cause);
			return;
		}
	} else
		secret_free(secret);
	args = body_args(r, account_keys);
	if (sealed != NULL)
		json_object_set_new(args, "secret", json_string(sealed));
	/* A libvirt secret that is a PEM key is a key, not a password. */
	if (sealed != NULL && pem && json_object_get(args, "auth") == NULL &&
	    strcmp(body_str(r, "kind") ? body_str(r, "kind") : "",
	    "libvirt") == 0)
		json_object_set_new(args, "auth", json_string("ssh-key"));
	free(sealed);
	db_call("account.add", args, account_added, r);
}

struct account_edit {
	struct api_req	*r;
	char		*secret;	/* clear text, until sealed */
};

static void
account_edited(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	const char	*user = body_str(r, "username");
	const char	*auth = body_str(r, "auth");
	json_t		*sudo = json_object_get(r->body, "sudo");
	struct fbuf	 b;
	char		*s;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	fbuf_init(&b);
#define PART(...) do {							\
	s = xasprintf(__VA_ARGS__);					\
	if (b.len > 0)							\
		fbuf_add(&b, ", ", 2);					\
	fbuf_add(&b, s, strlen(s));					\
	free(s);							\
} while (0)
	if (user != NULL)
		PART("user '%s'", user);
	if (auth != NULL)
		PART("auth %s", auth);
	if (json_is_boolean(sudo))
		PART("sudo %s", json_is_true(sudo) ? "on" : "off");
	if (json_is_true(json_object_get(r->body, "secret_replaced")))
		PART("%s", "secret replaced");
#undef PART
	fbuf_add(&b, "", 1);
	audit(r, "account.edit", json_string_value(json_object_get(res,
	    "name")), "%s", (char *)b.data);
	fbuf_free(&b);
	api_reply(r, 200, json_incref(res));
}

static void
account_edit_sealed(json_t *res, const char *err, void *arg)
{
	struct account_edit	*ae = arg;
	struct api_req		*r = ae->r;
	const char		*name;
	char			*sealed, *cause = NULL;
	json_t			*args;

	if (err != NULL) {
		secret_free(ae->secret);
		free(ae);
		disc_error(r, err);
		return;
	}
	name = json_string_value(json_object_get(res, "name"));
	sealed = secret_encrypt(hv.conf.state_dir, name, ae->secret, &cause);
	secret_free(ae->secret);
	free(ae);
	if (sealed == NULL) {
		api_error(r, 500, "secret_failed", "%s", cause);
		free(cause);
		return;
	}
	args = body_args(r, account_keys);
	json_object_set_new(args, "ref", json_string(r->params[0]));
	json_object_set_new(args, "secret", json_string(sealed));
	json_object_set_new(args, "sealed_for", json_string(name));
	json_object_set_new(r->body, "secret_replaced", json_true());
	free(sealed);
	db_call("account.edit", args, account_edited, r);
}

void
api_account_edit(struct api_req *r)
{
	struct account_edit	*ae;
	char			*secret;
	json_t			*args;

	if (body_only(r, account_keys) == -1 || take_secret(r, &secret) == -1)
		return;
	if (secret != NULL && *secret != '\0') {
		/* Sealed to the account's name: find it first. */
		ae = xcalloc(1, sizeof(*ae));
		ae->r = r;
		ae->secret = secret;
		db_call("account.get", json_pack("{s:s}", "ref",
		    r->params[0]), account_edit_sealed, ae);
		return;
	}
	secret_free(secret);
	args = body_args(r, account_keys);
	json_object_set_new(args, "ref", json_string(r->params[0]));
	db_call("account.edit", args, account_edited, r);
}

static void
account_removed(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	audit(r, "account.remove", json_string_value(json_object_get(res,
	    "name")), "%s", "");
	api_reply(r, 200, json_incref(res));
}

void
api_account_remove(struct api_req *r)
{
	db_call("account.remove", json_pack("{s:s}", "ref", r->params[0]),
	    account_removed, r);
}

/* --- discovery jobs */

struct disc_run {
	long long	id;
	long long	run;
};

static void
disc_job_done(uint64_t job, int ok, json_t *result, const char *error,
    void *arg)
{
	struct disc_run	*dr = arg;

	(void)result;
	/* The job records its own outcome; this is for one that could not
	 * (it did not start, or its process died). */
	if (!ok)
		db_call("hypervisor.job_failed", json_pack("{s:I, s:I, s:s}",
		    "id", (json_int_t)dr->id, "run", (json_int_t)dr->run,
		    "error", error != NULL ? error : job == 0 ? "the "
		    "discovery job could not be started" : "the discovery "
		    "job failed"), NULL, NULL);
	free(dr);
}

/* Start the job that a db op flagged ({"hypervisor", "run", "started",
 * "probe"}); nothing when another one is still running. */
static void
disc_start(json_t *res, const char *actor)
{
	struct disc_run	*dr;
	json_t		*h = json_object_get(res, "hypervisor");

	if (!json_is_true(json_object_get(res, "started")))
		return;
	dr = xcalloc(1, sizeof(*dr));
	dr->id = json_integer_value(json_object_get(h, "id"));
	dr->run = json_integer_value(json_object_get(res, "run"));
	json_object_set_new(h, "discovering", json_true());
	control_job("discover", json_pack("{s:I, s:I, s:b}", "hypervisor",
	    (json_int_t)dr->id, "run", (json_int_t)dr->run, "probe",
	    json_is_true(json_object_get(res, "probe"))), actor,
	    disc_job_done, dr);
}

static int due_pending;

static void
due_done(json_t *res, const char *err, void *arg)
{
	json_t	*v;
	size_t	 i;

	(void)arg;
	due_pending = 0;
	if (err != NULL) {
		log_debug("periodic discovery: %s", err);
		return;
	}
	json_array_foreach(json_object_get(res, "runs"), i, v) {
		struct disc_run	*dr = xcalloc(1, sizeof(*dr));

		dr->id = json_integer_value(json_object_get(v, "id"));
		dr->run = json_integer_value(json_object_get(v, "run"));
		control_job("discover", json_pack("{s:I, s:I, s:b}",
		    "hypervisor", (json_int_t)dr->id, "run",
		    (json_int_t)dr->run, "probe", 0),
		    "havend (periodic discovery)", disc_job_done, dr);
	}
}

void
disc_periodic(void)
{
	if (due_pending || !control_db_up())
		return;
	due_pending = 1;
	db_call("hypervisor.due", json_pack("{s:i, s:i}", "interval",
	    DISC_INTERVAL, "max", DISC_MAX_JOBS), due_done, NULL);
}

/* --- hypervisors */

static const char *const hv_add_keys[] = { "name", "kind", "address",
	"port", "uri", "account", "thumbprint", NULL };
static const char *const hv_edit_keys[] = { "address", "port", "uri",
	"account", NULL };
static const char *const hv_accept_keys[] = { "thumbprint", NULL };

void
api_hypervisors(struct api_req *r)
{
	db_call("hypervisor.list", json_object(), reply_disc, r);
}

/* limit and offset of the query string into args (as integers; the
 * db op checks their range). */
static void
query_page(struct api_req *r, json_t *args)
{
	static const char *const keys[] = { "limit", "offset", NULL };
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(r->req);
	const char		*q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char		*v;
	struct evkeyvalq	 kv;
	char			*end;
	long long		 n;
	size_t			 i;

	TAILQ_INIT(&kv);
	if (q == NULL || evhttp_parse_query_str(q, &kv) == -1)
		return;
	for (i = 0; keys[i] != NULL; i++) {
		if ((v = evhttp_find_header(&kv, keys[i])) == NULL)
			continue;
		n = strtoll(v, &end, 10);
		/* Not a number: a string, which the op refuses by name. */
		json_object_set_new(args, keys[i], *v != '\0' && *end ==
		    '\0' ? json_integer(n) : json_string(v));
	}
	evhttp_clear_headers(&kv);
}

/* A query parameter as a boolean: def when absent. */
static int
query_bool(struct api_req *r, const char *key, int def)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(r->req);
	const char		*q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char		*v;
	struct evkeyvalq	 kv;
	int			 out = def;

	TAILQ_INIT(&kv);
	if (q == NULL || evhttp_parse_query_str(q, &kv) == -1)
		return def;
	if ((v = evhttp_find_header(&kv, key)) != NULL)
		out = strcmp(v, "0") != 0 && strcmp(v, "false") != 0 &&
		    strcmp(v, "no") != 0;
	evhttp_clear_headers(&kv);
	return out;
}

void
api_hypervisor_get(struct api_req *r)
{
	json_t	*args = json_pack("{s:s, s:b}", "ref", r->params[0], "vms",
	    query_bool(r, "vms", 1));

	if (args != NULL)
		query_page(r, args);
	db_call("hypervisor.get", args, reply_disc, r);
}

static void
hv_added(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*h = json_object_get(res, "hypervisor");
	const char	*uri = json_string_value(json_object_get(h, "uri"));
	const char	*acct = json_string_value(json_object_get(h,
			    "account"));
	char		*where;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	if (uri != NULL)
		where = xstrdup(uri);
	else
		where = xasprintf("%s:%lld", json_string_value(
		    json_object_get(h, "address")), (long long)
		    json_integer_value(json_object_get(h, "port")));
	audit(r, "hypervisor.add", json_string_value(json_object_get(h,
	    "name")), "%s %s, account %s", json_string_value(
	    json_object_get(h, "kind")), where, acct != NULL ? acct : "none");
	free(where);
	disc_start(res, r->actor);
	api_reply(r, 201, json_incref(h));
}

void
api_hypervisor_add(struct api_req *r)
{
	if (body_only(r, hv_add_keys) == -1)
		return;
	db_call("hypervisor.add", body_args(r, hv_add_keys), hv_added, r);
}

static void
hv_edited(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*h = json_object_get(res, "hypervisor");
	char		*what;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	what = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
	audit(r, "hypervisor.edit", json_string_value(json_object_get(h,
	    "name")), "%s", what != NULL ? what : "");
	free(what);
	disc_start(res, r->actor);
	api_reply(r, 200, json_incref(h));
}

void
api_hypervisor_edit(struct api_req *r)
{
	json_t	*args;

	if (body_only(r, hv_edit_keys) == -1)
		return;
	args = body_args(r, hv_edit_keys);
	json_object_set_new(args, "ref", json_string(r->params[0]));
	db_call("hypervisor.edit", args, hv_edited, r);
}

static void
hv_removed(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	audit(r, "hypervisor.remove", json_string_value(json_object_get(res,
	    "name")), "%lld discovered machines forgotten",
	    (long long)json_integer_value(json_object_get(res, "vms")));
	api_reply(r, 200, json_incref(res));
}

void
api_hypervisor_remove(struct api_req *r)
{
	db_call("hypervisor.remove", json_pack("{s:s}", "ref", r->params[0]),
	    hv_removed, r);
}

static void
hv_accepted(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*h = json_object_get(res, "hypervisor");

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	audit(r, "hypervisor.accept", json_string_value(json_object_get(h,
	    "name")), "SHA-256 thumbprint %s", json_string_value(
	    json_object_get(res, "thumbprint")));
	disc_start(res, r->actor);
	api_reply(r, 200, json_incref(h));
}

void
api_hypervisor_accept(struct api_req *r)
{
	json_t	*args;

	if (body_only(r, hv_accept_keys) == -1)
		return;
	args = body_args(r, hv_accept_keys);
	json_object_set_new(args, "ref", json_string(r->params[0]));
	db_call("hypervisor.accept", args, hv_accepted, r);
}

static void
hv_refreshing(json_t *res, const char *err, void *arg)
{
	struct api_req	*r = arg;
	json_t		*h = json_object_get(res, "hypervisor");
	int		 started = json_is_true(json_object_get(res,
			    "started"));

	if (err != NULL) {
		disc_error(r, err);
		return;
	}
	audit(r, "hypervisor.refresh", json_string_value(json_object_get(h,
	    "name")), "%s", started ? "discovery started" : "a discovery "
	    "was already running");
	disc_start(res, r->actor);
	json_object_set_new(h, "already_running", json_boolean(!started));
	api_reply(r, 202, json_incref(h));
}

void
api_hypervisor_refresh(struct api_req *r)
{
	db_call("hypervisor.begin", json_pack("{s:s}", "ref", r->params[0]),
	    hv_refreshing, r);
}

/* --- discovered machines */

void
api_vms(struct api_req *r)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(r->req);
	const char		*q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char		*hvref;
	struct evkeyvalq	 kv;
	json_t			*args = json_object();

	TAILQ_INIT(&kv);
	if (q != NULL && evhttp_parse_query_str(q, &kv) == -1) {
		json_decref(args);
		api_error(r, 400, "bad_request", "the query string is "
		    "malformed");
		return;
	}
	if ((hvref = evhttp_find_header(&kv, "hypervisor")) != NULL)
		json_object_set_new(args, "hypervisor", json_string(hvref));
	evhttp_clear_headers(&kv);
	json_object_set_new(args, "gone", json_boolean(query_bool(r, "gone",
	    1)));
	query_page(r, args);
	db_call("vm.list", args, reply_disc, r);
}
