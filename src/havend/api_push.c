/*
 * POST /api/v1/push-install: start a "push" job (job_push.c) and answer
 * 202 with its id at once; the job's row (GET /api/v1/jobs/{id}) has
 * each step's progress and, at the end, the result or the reason.
 * {"action": "uninstall"} removes the agent instead, and revokes the
 * machine unless {"keep_enrollment": true}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_push.h"
#include "control.h"
#include "havend.h"
#include "log.h"
#include "util.h"

static const char *const push_keys[] = { "address", "machine", "account",
	"port", "host_key", "cs", "wait_s", "action", "keep_enrollment", NULL };

struct push_req {
	struct api_req	*r;
	char		 nonce[33];
	char		*target;
	char		*account;
	int		 uninstall;
};

/* control_job() answers only when the job ends: the job's row was made
 * by the db call queued just before job.list, so it is among the
 * newest, found by the nonce in its arguments (as api_repl.c does). */
static void
push_started(json_t *res, const char *err, void *arg)
{
	struct push_req	*pr = arg;
	struct api_req	*r = pr->r;
	json_t		*j, *a;
	const char	*n;
	long long	 id = 0;
	size_t		 i;

	json_array_foreach(err ? NULL : json_object_get(res, "jobs"), i, j) {
		a = json_object_get(j, "args");
		n = json_string_value(json_object_get(a, "request"));
		if (n != NULL && strcmp(n, pr->nonce) == 0)
			id = json_integer_value(json_object_get(j, "id"));
	}
	if (id == 0)
		api_error(r, 500, "job_not_found", "the push job was started "
		    "but its id could not be found%s%s", err ? ": " : "",
		    err ? err : "");
	else {
		audit(r, pr->uninstall ? "push.uninstall" : "push.install",
		    pr->target, "account %s, job %lld", pr->account, id);
		api_reply(r, 202, json_pack("{s:I, s:s, s:s, s:s}", "job",
		    (json_int_t)id, "target", pr->target, "account",
		    pr->account, "action", pr->uninstall ? "uninstall" :
		    "install"));
	}
	free(pr->target);
	free(pr->account);
	free(pr);
}

/* An uninstall that revoked a machine wrote the CRL: load it here and in
 * the shards, as api.c's revoke does. */
static void
push_done(uint64_t id, int ok, json_t *result, const char *error, void *arg)
{
	(void)arg;
	(void)error;
	if (ok && json_is_true(json_object_get(result, "revoked"))) {
		log_info("push job %llu revoked machine %s: reloading the CRL",
		    (unsigned long long)id, json_string_value(json_object_get(
		    result, "machine_id")));
		control_tls_reload(1);
	}
}

void
api_push_install(struct api_req *r)
{
	struct push_req	*pr;
	const char	*k, *addr, *machine, *account;
	unsigned char	 b[16];
	json_t		*v, *args;
	int		 uninstall;

	if (!json_is_object(r->body)) {
		api_error(r, 400, "bad_request", "send a JSON object: "
		    "{\"address\" or \"machine\", \"account\"}");
		return;
	}
	json_object_foreach(r->body, k, v) {
		size_t i;

		for (i = 0; push_keys[i] != NULL; i++)
			if (strcmp(push_keys[i], k) == 0)
				break;
		if (push_keys[i] == NULL) {
			api_error(r, 400, "bad_request", "unknown field '%s'",
			    k);
			return;
		}
		if (strcmp(k, "keep_enrollment") == 0) {
			if (!json_is_boolean(v)) {
				api_error(r, 400, "bad_request", "'%s' must be "
				    "true or false", k);
				return;
			}
		} else if (strcmp(k, "action") == 0) {
			if (!json_is_string(v) || (strcmp(json_string_value(v),
			    "install") != 0 && strcmp(json_string_value(v),
			    "uninstall") != 0)) {
				api_error(r, 400, "bad_request", "'action' must "
				    "be \"install\" or \"uninstall\"");
				return;
			}
		} else if (strcmp(k, "port") == 0 || strcmp(k, "wait_s") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65535) {
				api_error(r, 400, "bad_request", "'%s' must be "
				    "a number from 1 to 65535", k);
				return;
			}
		} else if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 255) {
			api_error(r, 400, "bad_request", "'%s' must be a "
			    "string of 1 to 255 characters", k);
			return;
		}
	}
	addr = json_string_value(json_object_get(r->body, "address"));
	machine = json_string_value(json_object_get(r->body, "machine"));
	account = json_string_value(json_object_get(r->body, "account"));
	if ((addr == NULL) == (machine == NULL) || account == NULL) {
		api_error(r, 400, "bad_request", "give \"account\" and one of "
		    "\"address\" or \"machine\"");
		return;
	}
	if (addr != NULL && (strchr(addr, ' ') != NULL || *addr == '-')) {
		api_error(r, 400, "bad_request", "'%s' is not an address",
		    addr);
		return;
	}
	uninstall = json_is_string(json_object_get(r->body, "action")) &&
	    strcmp(json_string_value(json_object_get(r->body, "action")),
	    "uninstall") == 0;
	if (!uninstall && json_object_get(r->body, "keep_enrollment")) {
		api_error(r, 400, "bad_request", "'keep_enrollment' goes with "
		    "\"action\": \"uninstall\" only");
		return;
	}
	pr = xcalloc(1, sizeof(*pr));
	pr->r = r;
	pr->target = xstrdup(addr ? addr : machine);
	pr->account = xstrdup(account);
	pr->uninstall = uninstall;
	random_bytes(b, sizeof(b));
	hex_encode(b, sizeof(b), pr->nonce);
	args = json_deep_copy(r->body);
	json_object_set_new(args, "request", json_string(pr->nonce));
	control_job("push", args, r->actor, push_done, NULL);
	db_call("job.list", json_pack("{s:i}", "limit", 20), push_started, pr);
}
