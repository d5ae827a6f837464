/* havenctl's command handlers: one API call each, then print. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctlfmt.h"
#include "havenctl.h"
#include "util.h"

json_t *
ctl_call(struct ctl *ctl, const char *method, const char *path, json_t *body,
    int *rc)
{
	json_t	*answer = NULL;
	char	*cause = NULL;

	if (httpc_call(&ctl->http, method, path, body, NULL, &answer,
	    &cause) == -1) {
		fprintf(stderr, "havenctl: %s\n", cause);
		free(cause);
		*rc = CTL_FAIL;
		return NULL;
	}
	*rc = CTL_OK;
	return answer;
}

void
ctl_print_json(json_t *j)
{
	char	*text;

	if ((text = json_dumps(j, JSON_INDENT(2))) != NULL) {
		printf("%s\n", text);
		free(text);
	}
}

json_t *
ctl_request(struct ctl *ctl, const char *method, const char *path,
    json_t *body, int *rc)
{
	json_t	*answer;

	if ((answer = ctl_call(ctl, method, path, body, rc)) == NULL ||
	    !ctl->json)
		return answer;
	ctl_print_json(answer);
	json_decref(answer);
	return NULL;
}

/* IDs go into URL paths: refuse anything that could change the path. */
int
ctl_check_id(const char *what, const char *id)
{
	const char	*p;

	for (p = id; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
			break;
	if (*id != '\0' && *p == '\0')
		return 0;
	fprintf(stderr, "havenctl: '%s' is not a %s id (see the ID column "
	    "of 'havenctl %s list')\n", id, what, what);
	return -1;
}

int
ctl_status(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/status", NULL, &rc)) != NULL)
		ctlfmt_status(stdout, a);
	json_decref(a);
	return rc;
}

static int
ctl_passphrase(struct ctl *ctl, const char *method)
{
	json_t		*a, *body = NULL;
	const char	*p;
	int		 rc;

	if (strcmp(method, "POST") == 0)
		body = json_object();
	a = ctl_request(ctl, method, "/api/v1/passphrase", body, &rc);
	json_decref(body);
	if (a == NULL)
		return rc;
	if ((p = json_string_value(json_object_get(a, "passphrase"))) ==
	    NULL) {
		fprintf(stderr, "havenctl: havend's answer has no passphrase\n");
		rc = CTL_FAIL;
	} else {
		/* Alone on stdout, so scripts can capture it. */
		printf("%s\n", p);
		if (body != NULL)
			fprintf(stderr, "a new passphrase is in effect: "
			    "machines already enrolled keep working, new ones "
			    "must enroll with this one\n");
	}
	json_decref(a);
	return rc;
}

int
ctl_passphrase_show(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_passphrase(ctl, "GET");
}

int
ctl_passphrase_generate(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_passphrase(ctl, "POST");
}

int
ctl_cert_show(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/cert", NULL, &rc)) != NULL)
		ctlfmt_cert(stdout, a);
	json_decref(a);
	return rc;
}

int
ctl_cert_renew(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body = json_object();
	int	 rc;

	(void)argc;
	(void)argv;
	a = ctl_request(ctl, "POST", "/api/v1/cert/renew", body, &rc);
	if (a != NULL) {
		printf("renewed; havend now presents:\n");
		ctlfmt_cert(stdout, a);
	}
	json_decref(a);
	json_decref(body);
	return rc;
}

int
ctl_machine_list(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/machines", NULL, &rc)) !=
	    NULL)
		ctlfmt_machines(stdout, a, now_unix());
	json_decref(a);
	return rc;
}

int
ctl_machine_revoke(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body;
	char	*path, *when;
	int	 rc;

	(void)argc;
	if (ctl_check_id("machine", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/machines/%s/revoke", argv[0]);
	body = json_object();
	a = ctl_request(ctl, "POST", path, body, &rc);
	if (a != NULL) {
		when = ctlfmt_value(json_object_get(a, "revoked_at"));
		printf("machine %s revoked at %s: its certificate no longer "
		    "connects; to protect it again, enroll it anew\n", argv[0],
		    when);
		free(when);
	}
	json_decref(a);
	json_decref(body);
	free(path);
	return rc;
}

char *
ctl_read_secret(const char *path, int pem, char **cause)
{
	struct stat	 st;
	struct fbuf	 b;
	const char	*what = pem ? "secret" : "password";
	char		 tmp[4096], *s;
	size_t		 len;
	ssize_t		 n;

	if (strcmp(path, "-") == 0) {
		fbuf_init(&b);
		while ((n = read(STDIN_FILENO, tmp, sizeof(tmp))) != 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				set_cause(cause, "cannot read the %s from "
				    "stdin: %s", what, strerror(errno));
				explicit_bzero(b.data, b.cap);
				fbuf_free(&b);
				return NULL;
			}
			fbuf_add(&b, tmp, (size_t)n);
		}
		explicit_bzero(tmp, sizeof(tmp));
		fbuf_add(&b, "", 1);
		s = (char *)b.data;
		len = b.len - 1;
	} else {
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    check_private_file(path, cause) == -1)
			return NULL;
		if ((s = read_file(path, &len, cause)) == NULL)
			return NULL;
	}
	if (!pem || strncmp(s, "-----BEGIN ", 11) != 0) {
		if (len > 0 && s[len - 1] == '\n')
			s[--len] = '\0';
		if (len > 0 && s[len - 1] == '\r')
			s[--len] = '\0';
	}
	if (len == 0 || strlen(s) != len) {
		set_cause(cause, "the %s in %s %s%s", what,
		    strcmp(path, "-") == 0 ? "stdin" : path, len == 0 ?
		    "is empty" : "contains a NUL byte", len == 0 && !pem ?
		    "; write the password into it" : "");
		explicit_bzero(s, len);
		free(s);
		return NULL;
	}
	return s;
}

int
ctl_user_add(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a, *body;
	char	*pw, *cause = NULL;
	int	 rc;

	(void)argc;
	if ((pw = ctl_read_secret(ctl->optval, 0, &cause)) == NULL) {
		fprintf(stderr, "havenctl: %s\n", cause);
		free(cause);
		return CTL_FAIL;
	}
	body = json_pack("{s:s, s:s}", "name", argv[0], "password", pw);
	explicit_bzero(pw, strlen(pw));
	free(pw);
	if (body == NULL) {
		fprintf(stderr, "havenctl: the name and password must be "
		    "UTF-8 text\n");
		return CTL_FAIL;
	}
	a = ctl_request(ctl, "POST", "/api/v1/users", body, &rc);
	if (a != NULL)
		printf("account %s can sign in to the web UI\n", argv[0]);
	json_decref(a);
	json_decref(body);
	return rc;
}

int
ctl_job_list(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	int	 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/jobs", NULL, &rc)) != NULL)
		ctlfmt_jobs(stdout, a);
	json_decref(a);
	return rc;
}

int
ctl_job_show(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	char	*path;
	int	 rc;

	(void)argc;
	if (ctl_check_id("job", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/jobs/%s", argv[0]);
	if ((a = ctl_request(ctl, "GET", path, NULL, &rc)) != NULL)
		ctlfmt_job(stdout, a);
	json_decref(a);
	free(path);
	return rc;
}
