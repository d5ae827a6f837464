/*
 * havenctl push-install: start a push job, print each step as the job
 * reports it, then the outcome.  Exit 1 when the job fails, with its
 * reason (a changed host key, a refused password, an unsupported OS).
 * havenctl push-uninstall: the same job with "action": "uninstall".
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_push.h"
#include "util.h"

#define PUSH_POLL_MS	500

static void
push_sleep(void)
{
	struct timespec	ts = { 0, PUSH_POLL_MS * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int	push_follow(struct ctl *, const char *, json_t *);

static int
is_address(const char *s)
{
	unsigned char	buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

int
ctl_push_install(struct ctl *ctl, int argc, char **argv)
{
	const char	*port = ctl_opt(ctl, "--port");
	const char	*hk = ctl_opt(ctl, "--host-key");
	const char	*cs = ctl_opt(ctl, "--cs");
	const char	*wait = ctl_opt(ctl, "--wait");
	json_t		*body;
	char		*end;

	(void)argc;
	body = json_pack("{s:s}", "account", ctl_opt(ctl, "--account"));
	json_object_set_new(body, is_address(argv[0]) ? "address" : "machine",
	    json_string(argv[0]));
	if (port != NULL) {
		long long n = strtoll(port, &end, 10);

		if (*end != '\0' || n < 1 || n > 65535) {
			fprintf(stderr, "havenctl: --port is 1 to 65535\n");
			json_decref(body);
			return CTL_USAGE;
		}
		json_object_set_new(body, "port", json_integer(n));
	}
	if (wait != NULL) {
		long long n = strtoll(wait, &end, 10);

		if (*end != '\0' || n < 1 || n > 65535) {
			fprintf(stderr, "havenctl: --wait is 1 to 65535\n");
			json_decref(body);
			return CTL_USAGE;
		}
		json_object_set_new(body, "wait_s", json_integer(n));
	}
	if (hk != NULL)
		json_object_set_new(body, "host_key", json_string(hk));
	if (cs != NULL)
		json_object_set_new(body, "cs", json_string(cs));
	return push_follow(ctl, argv[0], body);
}

/* POST body (taken), then follow the job to its end. */
static int
push_follow(struct ctl *ctl, const char *target, json_t *body)
{
	const char	*state = NULL, *msg, *verb;
	json_t		*a, *j = NULL, *res;
	char		*path = NULL, *last = NULL, *cause = NULL;
	long long	 id;
	int		 rc, un;

	un = json_is_string(json_object_get(body, "action")) &&
	    strcmp(json_string_value(json_object_get(body, "action")),
	    "uninstall") == 0;
	verb = un ? "push uninstall" : "push install";
	/* httpc_call, not ctl_request: the job id is needed with --json too. */
	rc = httpc_call(&ctl->http, "POST", "/api/v1/push-install", body, NULL,
	    &a, &cause);
	json_decref(body);
	if (rc == -1) {
		fprintf(stderr, "havenctl: %s\n", cause);
		free(cause);
		return CTL_FAIL;
	}
	rc = CTL_OK;
	id = json_integer_value(json_object_get(a, "job"));
	json_decref(a);
	if (!ctl->json)
		printf("%s %s %s: job %lld\n", verb, un ? "from" : "to", target,
		    id);
	path = xasprintf("/api/v1/jobs/%lld", id);
	for (;;) {
		json_decref(j);
		j = NULL;
		if (httpc_call(&ctl->http, "GET", path, NULL, NULL, &j,
		    &cause) == -1) {
			fprintf(stderr, "havenctl: following job %lld: %s\n",
			    id, cause);
			free(cause);
			rc = CTL_FAIL;
			goto out;
		}
		state = json_string_value(json_object_get(j, "state"));
		msg = json_string_value(json_object_get(j, "message"));
		if (!ctl->json && msg != NULL && (last == NULL ||
		    strcmp(last, msg) != 0) && (state == NULL ||
		    strcmp(state, "failed") != 0)) {
			printf("%3lld%%  %s\n", (long long)json_integer_value(
			    json_object_get(j, "percent")), msg);
			fflush(stdout);
			free(last);
			last = xstrdup(msg);
		}
		if (state != NULL && (strcmp(state, "succeeded") == 0 ||
		    strcmp(state, "failed") == 0))
			break;
		push_sleep();
	}
	res = json_object_get(j, "result");
	/* Every step, from the job's own list: polling misses quick ones. */
	if (!ctl->json && json_array_size(json_object_get(res, "steps")) > 0) {
		json_t		*st;
		size_t		 i;

		printf("steps:\n");
		json_array_foreach(json_object_get(res, "steps"), i, st)
			printf("  %zu. %s\n", i + 1, json_string_value(st));
	}
	if (ctl->json) {
		char *t = json_dumps(j, JSON_INDENT(2));

		printf("%s\n", t);
		free(t);
	}
	else if (strcmp(state, "failed") == 0)
		fprintf(stderr, "havenctl: %s %s %s failed: %s\n", verb,
		    un ? "from" : "to", target,
		    json_string_value(json_object_get(j, "error")) ?
		    json_string_value(json_object_get(j, "error")) : "?");
	else if (un && !json_is_true(json_object_get(res, "removed")))
		printf("haven-agent is not installed on %s: nothing to "
		    "remove\n", target);
	else if (un)
		printf("haven-agent removed from %s%s%s%s\n", target,
		    json_is_true(json_object_get(res, "revoked")) ?
		    "; machine " : "", json_is_true(json_object_get(res,
		    "revoked")) ? json_string_value(json_object_get(res,
		    "machine_id")) : "", json_is_true(json_object_get(res,
		    "revoked")) ? " revoked" : "");
	else
		printf("machine %s enrolled and heartbeating (host key %s%s)\n",
		    json_string_value(json_object_get(res, "machine_id")),
		    json_string_value(json_object_get(res, "host_key")),
		    json_is_true(json_object_get(res, "host_key_new")) ?
		    ", recorded on first use: compare it with the machine's" :
		    "");
	if (strcmp(state, "failed") == 0)
		rc = CTL_FAIL;
out:
	json_decref(j);
	free(last);
	free(path);
	return rc;
}

/* Its own options: --keep-enrollment is a flag, which the command
 * table's options (each with a value) cannot say. */
int
ctl_push_uninstall(struct ctl *ctl, int argc, char **argv)
{
	const char	*names[] = { "--account", "--port", "--host-key", NULL };
	const char	*val[3] = { NULL, NULL, NULL }, *target = NULL;
	json_t		*body;
	char		*end;
	size_t		 len;
	int		 i, k, keep = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			ctl->json = 1;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: havenctl push-uninstall %s\n",
			    CTL_PUSH_UNINSTALL_USAGE);
			return CTL_OK;
		}
		if (strcmp(argv[i], "--keep-enrollment") == 0) {
			keep = 1;
			continue;
		}
		if (argv[i][0] != '-' && target == NULL) {
			target = argv[i];
			continue;
		}
		for (k = 0; names[k] != NULL; k++) {
			len = strlen(names[k]);
			if (strncmp(argv[i], names[k], len) == 0 &&
			    (argv[i][len] == '\0' || argv[i][len] == '='))
				break;
		}
		if (names[k] == NULL) {
			fprintf(stderr, "havenctl push-uninstall: %s %s\n"
			    "usage: havenctl push-uninstall %s\n", argv[i][0] ==
			    '-' ? "unknown option" : "too many arguments:",
			    argv[i], CTL_PUSH_UNINSTALL_USAGE);
			return CTL_USAGE;
		}
		if (argv[i][len] == '=')
			val[k] = argv[i] + len + 1;
		else if (i + 1 < argc)
			val[k] = argv[++i];
		else {
			fprintf(stderr, "havenctl push-uninstall: missing value "
			    "for %s\n", names[k]);
			return CTL_USAGE;
		}
	}
	if (target == NULL || val[0] == NULL) {
		fprintf(stderr, "havenctl push-uninstall: missing %s\nusage: "
		    "havenctl push-uninstall %s\n", target == NULL ?
		    "MACHINE|ADDRESS" : "--account", CTL_PUSH_UNINSTALL_USAGE);
		return CTL_USAGE;
	}
	body = json_pack("{s:s, s:s, s:b}", "account", val[0], "action",
	    "uninstall", "keep_enrollment", keep);
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	json_object_set_new(body, is_address(target) ? "address" : "machine",
	    json_string(target));
	if (val[1] != NULL) {
		long long n = strtoll(val[1], &end, 10);

		if (*end != '\0' || n < 1 || n > 65535) {
			fprintf(stderr, "havenctl: --port is 1 to 65535\n");
			json_decref(body);
			return CTL_USAGE;
		}
		json_object_set_new(body, "port", json_integer(n));
	}
	if (val[2] != NULL)
		json_object_set_new(body, "host_key", json_string(val[2]));
	return push_follow(ctl, target, body);
}
