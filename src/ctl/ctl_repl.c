/* havenctl's replication commands: policies, recovery points, recover. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ctlfmt.h"
#include "havenctl.h"
#include "util.h"

#define POLL_MS		300

/*
 * "90", "90s", "15m", "2h", "1d", "1h30m" as seconds; "none" and
 * "off" are 0.  -1 if it is none of those.
 */
static long long
ctl_seconds(const char *s)
{
	long long	 total = 0, n, unit;
	char		*end;

	if (strcasecmp(s, "none") == 0 || strcasecmp(s, "off") == 0)
		return 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || n > 100LL * 365 * 86400)
			return -1;
		switch (*end) {
		case '\0':
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return -1;
		}
		total += n * unit;
		s = *end == '\0' ? end : end + 1;
	}
	return total;
}

/* The policy settings given as options, into body; -1 on a bad value. */
static int
ctl_policy_opts(struct ctl *ctl, json_t *body)
{
	static const struct { const char *opt, *key; } opts[] = {
		{ "--rpo", "rpo_threshold_s" },
		{ "--retention", "retention_s" },
		{ "--app-interval", "app_consistent_s" },
		{ "--interval", "crash_interval_s" },
	};
	const char	*v;
	long long	 s;
	size_t		 i;

	for (i = 0; i < nitems(opts); i++) {
		if ((v = ctl_opt(ctl, opts[i].opt)) == NULL)
			continue;
		if ((s = ctl_seconds(v)) < 0) {
			fprintf(stderr, "havenctl: %s '%s': give seconds, or a "
			    "number with s, m, h or d (90, 15m, 2h, 1d)\n",
			    opts[i].opt, v);
			return -1;
		}
		json_object_set_new(body, opts[i].key, json_integer(s));
	}
	return 0;
}

/* A policy's name or id goes into a URL path: only what names allow. */
static int
ctl_check_policy(const char *p)
{
	size_t	len = strlen(p);

	if (len > 0 && len <= 64 && p[0] != '.' && strspn(p,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == len)
		return 0;
	fprintf(stderr, "havenctl: '%s' is not a policy name or id (see "
	    "'havenctl policy list')\n", p);
	return -1;
}

static void
ctl_policy_line(FILE *f, json_t *p)
{
	static const char *const keys[] = { "rpo_threshold_s", "retention_s",
	    "crash_interval_s", "app_consistent_s" };
	char	v[4][32];
	size_t	i;

	for (i = 0; i < nitems(keys); i++)
		ctlfmt_duration_short((int64_t)json_integer_value(
		    json_object_get(p, keys[i])), v[i], sizeof(v[i]));
	fprintf(f, "RPO threshold %s, retention %s, crash-consistent every "
	    "%s, app-consistent %s%s\n", v[0], v[1], v[2],
	    json_integer_value(json_object_get(p, keys[3])) ? "every " : "",
	    json_integer_value(json_object_get(p, keys[3])) ? v[3] : "never");
}

int
ctl_policy_create(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body;
	int	 rc;

	(void)argc;
	body = json_pack("{s:s}", "name", argv[0]);
	if (body == NULL || ctl_policy_opts(ctl, body) == -1) {
		json_decref(body);
		return CTL_USAGE;
	}
	a = ctl_request(ctl, "POST", "/api/v1/policies", body, &rc);
	if (a != NULL) {
		printf("created policy %s (id %lld) and its failback twin %s "
		    "(id %lld): ", argv[0], (long long)json_integer_value(
		    json_object_get(a, "id")), json_string_value(
		    json_object_get(json_object_get(a, "failback"), "name")),
		    (long long)json_integer_value(json_object_get(a,
		    "failback_id")));
		ctl_policy_line(stdout, json_object_get(a, "policy"));
	}
	json_decref(a);
	json_decref(body);
	return rc;
}

int
ctl_policy_set(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body = json_object();
	char	*path;
	int	 rc;

	(void)argc;
	if (ctl_check_policy(argv[0]) == -1 ||
	    ctl_policy_opts(ctl, body) == -1) {
		json_decref(body);
		return CTL_USAGE;
	}
	if (json_object_size(body) == 0) {
		fprintf(stderr, "havenctl: nothing to change: give --rpo, "
		    "--retention, --app-interval or --interval\n");
		json_decref(body);
		return CTL_USAGE;
	}
	path = xasprintf("/api/v1/policies/%s", argv[0]);
	if ((a = ctl_request(ctl, "PUT", path, body, &rc)) != NULL) {
		printf("policy %s: ", argv[0]);
		ctl_policy_line(stdout, a);
	}
	json_decref(a);
	json_decref(body);
	free(path);
	return rc;
}

int
ctl_policy_list(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/policies", NULL, &rc)) !=
	    NULL)
		ctlfmt_policies(stdout, a);
	json_decref(a);
	return rc;
}

int
ctl_policy_show(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	char	*path;
	int	 rc;

	(void)argc;
	if (ctl_check_policy(argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/policies/%s", argv[0]);
	if ((a = ctl_request(ctl, "GET", path, NULL, &rc)) != NULL)
		ctlfmt_policy(stdout, a);
	json_decref(a);
	free(path);
	return rc;
}

int
ctl_policy_delete(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *d;
	char	*path;
	size_t	 i;
	int	 rc;

	(void)argc;
	if (ctl_check_policy(argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/policies/%s", argv[0]);
	if ((a = ctl_request(ctl, "DELETE", path, NULL, &rc)) != NULL) {
		printf("deleted policy");
		json_array_foreach(json_object_get(a, "deleted"), i, d)
			printf("%s %s", i ? " and" : "", json_string_value(d));
		printf("\n");
	}
	json_decref(a);
	free(path);
	return rc;
}

static int
ctl_is_uuid(const char *s)
{
	size_t	i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * A machine id from an id or a hostname (malloc'd), or NULL with the
 * reason printed and *rc set.
 */
static char *
ctl_machine(struct ctl *ctl, const char *arg, int *rc)
{
	json_t		*a, *m, *hit = NULL;
	const char	*h;
	char		*id = NULL;
	size_t		 i;
	int		 n = 0;

	*rc = CTL_OK;
	if (ctl_is_uuid(arg))
		return xstrdup(arg);
	if ((a = ctl_call(ctl, "GET", "/api/v1/machines", NULL, rc)) == NULL)
		return NULL;
	json_array_foreach(json_object_get(a, "machines"), i, m) {
		h = json_string_value(json_object_get(m, "hostname"));
		if (h == NULL || strcasecmp(h, arg) != 0 ||
		    strcmp(json_string_value(json_object_get(m, "status")) ?
		    json_string_value(json_object_get(m, "status")) : "",
		    "revoked") == 0)
			continue;
		hit = m;
		n++;
	}
	if (n == 1)
		id = xstrdup(json_string_value(json_object_get(hit, "id")));
	else {
		fprintf(stderr, "havenctl: %s '%s'%s; 'havenctl machine "
		    "list' shows the machines and their ids\n", n == 0 ?
		    "no enrolled machine has the id or hostname" :
		    "more than one machine has the hostname", arg, n == 0 ?
		    "" : ": give its id");
		*rc = CTL_FAIL;
	}
	json_decref(a);
	return id;
}

int
ctl_policy_assign(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body;
	char	*id, *path;
	int	 rc;

	(void)argc;
	if ((id = ctl_machine(ctl, argv[0], &rc)) == NULL)
		return rc;
	path = xasprintf("/api/v1/machines/%s/policy", id);
	body = json_pack("{s:s}", "policy", argv[1]);
	if ((a = ctl_request(ctl, "POST", path, body, &rc)) != NULL)
		printf("%s (%s) now follows policy %s\n", json_string_value(
		    json_object_get(a, "hostname")), id, json_string_value(
		    json_object_get(json_object_get(a, "policy"), "name")));
	json_decref(a);
	json_decref(body);
	free(path);
	free(id);
	return rc;
}

int
ctl_points_list(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	char	*id, *path;
	int	 rc;

	(void)argc;
	if ((id = ctl_machine(ctl, argv[0], &rc)) == NULL)
		return rc;
	path = xasprintf("/api/v1/machines/%s/points", id);
	if ((a = ctl_request(ctl, "GET", path, NULL, &rc)) != NULL)
		ctlfmt_points(stdout, a);
	json_decref(a);
	free(path);
	free(id);
	return rc;
}

static void
ctl_sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Follow job id until it ends; its final row, or NULL (printed). */
static json_t *
ctl_follow_job(struct ctl *ctl, long long id, int *rc)
{
	json_t		*j = NULL;
	const char	*state, *msg;
	char		*path, *cause = NULL, *last = NULL;

	path = xasprintf("/api/v1/jobs/%lld", id);
	for (;;) {
		json_decref(j);
		j = NULL;
		if (httpc_call(&ctl->http, "GET", path, NULL, NULL, &j,
		    &cause) == -1) {
			fprintf(stderr, "havenctl: following job %lld: %s\n",
			    id, cause);
			free(cause);
			*rc = CTL_FAIL;
			break;
		}
		state = json_string_value(json_object_get(j, "state"));
		msg = json_string_value(json_object_get(j, "message"));
		if (!ctl->json && msg != NULL && (last == NULL ||
		    strcmp(last, msg) != 0)) {
			printf("%3lld%%  %s\n", (long long)json_integer_value(
			    json_object_get(j, "percent")), msg);
			fflush(stdout);
			free(last);
			last = xstrdup(msg);
		}
		if (state != NULL && (strcmp(state, "succeeded") == 0 ||
		    strcmp(state, "failed") == 0))
			break;
		ctl_sleep_ms(POLL_MS);
	}
	free(last);
	free(path);
	return *rc == CTL_OK ? j : (json_decref(j), NULL);
}

int
ctl_recover(struct ctl *ctl, int argc, char **argv)
{
	json_t		*a = NULL, *body, *j, *f;
	const char	*point = ctl_opt(ctl, "--point");
	const char	*out = ctl_opt(ctl, "--out");
	char		*id, *path, *dir, *cause = NULL, cwd[4096];
	char		 size[32];
	long long	 job;
	size_t		 i;
	int		 rc;

	(void)argc;
	if ((id = ctl_machine(ctl, argv[0], &rc)) == NULL)
		return rc;
	/* havend runs elsewhere: a relative directory means ours. */
	if (out[0] == '/')
		dir = xstrdup(out);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		dir = xasprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd,
		    out);
	else {
		fprintf(stderr, "havenctl: cannot tell the current directory "
		    "(%s): give --out as an absolute path\n", strerror(errno));
		free(id);
		return CTL_FAIL;
	}
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	path = xasprintf("/api/v1/machines/%s/recover", id);
	body = json_pack("{s:s, s:s}", "point", point, "out", dir);
	rc = CTL_OK;
	if (body == NULL || httpc_call(&ctl->http, "POST", path, body, NULL,
	    &a, &cause) == -1) {
		fprintf(stderr, "havenctl: %s\n", cause ? cause :
		    "the directory name is not UTF-8");
		free(cause);
		rc = CTL_FAIL;
		goto out;
	}
	job = json_integer_value(json_object_get(a, "job"));
	if (!ctl->json)
		printf("recovering %s at point %lld into %s (job %lld)\n",
		    argv[0], (long long)json_integer_value(json_object_get(a,
		    "point_id")), dir, job);
	if ((j = ctl_follow_job(ctl, job, &rc)) == NULL)
		goto out;
	if (ctl->json)
		ctl_print_json(j);
	if (strcmp(json_string_value(json_object_get(j, "state")),
	    "succeeded") != 0) {
		fprintf(stderr, "havenctl: recover failed: %s\n",
		    json_string_value(json_object_get(j, "error")) ?
		    json_string_value(json_object_get(j, "error")) :
		    "no reason given (see 'havenctl job show')");
		rc = CTL_FAIL;
	} else if (!ctl->json)
		json_array_foreach(json_object_get(json_object_get(j,
		    "result"), "files"), i, f) {
			snprintf(size, sizeof(size), "%.1f GiB",
			    (double)json_integer_value(json_object_get(f,
			    "size")) / (1 << 30));
			printf("%s  %s  (disk %s)\n", json_string_value(
			    json_object_get(f, "path")), size,
			    json_string_value(json_object_get(f, "disk")));
		}
	json_decref(j);
out:
	json_decref(a);
	json_decref(body);
	free(path);
	free(dir);
	free(id);
	return rc;
}

/* havenctl prune: apply every policy's retention now. */
int
ctl_prune(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *e;
	size_t	 i;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "POST", "/api/v1/prune", NULL, &rc)) == NULL)
		return rc;
	/* With --json, ctl_request printed the answer and returned NULL. */
	if (json_array_size(json_object_get(a, "pruned")) == 0)
		printf("nothing to prune: every point is within its policy's "
		    "retention\n");
	else
		json_array_foreach(json_object_get(a, "pruned"), i, e)
			printf("%s %s: dropped %zu point%s, freed %lld bytes\n",
			    json_string_value(json_object_get(e, "machine_id")),
			    json_string_value(json_object_get(e, "disk")),
			    json_array_size(json_object_get(e, "points")),
			    json_array_size(json_object_get(e, "points")) == 1 ?
			    "" : "s", json_integer_value(json_object_get(e,
			    "freed_bytes")));
	json_decref(a);
	return 0;
}

/* havenctl policy throttle POLICY RATE|SCHEDULE */
int
ctl_policy_throttle(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body;
	char	*path;
	int	 rc;

	(void)argc;
	if (ctl_check_id("policy", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/policies/%s/throttle", argv[0]);
	body = json_pack("{s:s}", "throttle", argv[1]);
	a = ctl_request(ctl, "POST", path, body, &rc);
	json_decref(body);
	free(path);
	if (a != NULL)
		printf("policy %s: throttle %s (agents apply it at their next "
		    "cycle)\n", argv[0], argv[1]);
	json_decref(a);
	return rc;
}
