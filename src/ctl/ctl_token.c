/*
 * havenctl token issue|list|revoke: one-time enrollment tokens for
 * manual installs (install.sh --token-file FILE).  `issue` prints the
 * token alone on stdout (so `havenctl token issue > FILE` works) or,
 * with --out, writes it to a new private file; what it is for goes to
 * stderr.  The configuration server never shows a token again.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ctl_token.h"
#include "ctlfmt.h"
#include "util.h"

/* "90", "90s", "15m", "1h", "2d": seconds, or -1. */
static long long
token_seconds(const char *s)
{
	long long	 n;
	char		*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n > 1000000000LL)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return n;
	if (strcmp(end, "m") == 0)
		return n * 60;
	if (strcmp(end, "h") == 0)
		return n * 3600;
	if (strcmp(end, "d") == 0)
		return n * 86400;
	return -1;
}

/* Write the token to a new file, mode 0600 from the start. */
static int
token_write(const char *path, const char *token)
{
	size_t	len = strlen(token);
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "havenctl: cannot create %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ? " (a token is never "
		    "written over a file: remove it or choose another name)" :
		    "");
		return -1;
	}
	if (write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1) {
		fprintf(stderr, "havenctl: cannot write %s: %s\n", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

int
ctl_token_issue(struct ctl *ctl, int argc, char **argv)
{
	const char	*valid = ctl_opt(ctl, "--valid");
	const char	*note = ctl_opt(ctl, "--note");
	const char	*out = ctl_opt(ctl, "--out");
	const char	*token, *id;
	json_t		*body, *a;
	char		*exp, dur[32];
	long long	 s;
	int		 rc;

	(void)argc;
	(void)argv;
	body = json_object();
	if (valid != NULL) {
		if ((s = token_seconds(valid)) < 1 || s > 7 * 86400) {
			fprintf(stderr, "havenctl: --valid is a time from 1s "
			    "to 7d (90, 90s, 15m, 1h, 2d), not '%s'\n", valid);
			json_decref(body);
			return CTL_USAGE;
		}
		json_object_set_new(body, "valid_s", json_integer(s));
	}
	if (note != NULL)
		json_object_set_new(body, "note", json_string(note));
	a = ctl_call(ctl, "POST", "/api/v1/tokens", body, &rc);
	json_decref(body);
	if (a == NULL)
		return rc;
	token = json_string_value(json_object_get(a, "token"));
	id = json_string_value(json_object_get(a, "id"));
	if (token == NULL || id == NULL) {
		fprintf(stderr, "havenctl: havend answered without a token\n");
		json_decref(a);
		return CTL_FAIL;
	}
	if (ctl->json && out == NULL) {
		ctl_print_json(a);
		json_decref(a);
		return CTL_OK;
	}
	exp = ctlfmt_value(json_object_get(a, "expires_at"));
	ctlfmt_duration_short(json_integer_value(json_object_get(a,
	    "valid_s")), dur, sizeof(dur));
	if (out != NULL) {
		if (token_write(out, token) == -1) {
			fprintf(stderr, "havenctl: revoke the unused token "
			    "with 'havenctl token revoke %s'\n", id);
			rc = CTL_FAIL;
		} else
			printf("enrollment token %s written to %s (mode 0600): "
			    "valid until %s (%s), for one enrollment.\n"
			    "On the machine: sh install.sh --cs HOST:PORT "
			    "--token-file %s\n", id, out, exp, dur, out);
	} else {
		printf("%s\n", token);
		fprintf(stderr, "enrollment token %s: valid until %s (%s), for "
		    "one enrollment. Put it in a file (mode 0600) on the "
		    "machine and run: sh install.sh --cs HOST:PORT "
		    "--token-file FILE\n", id, exp, dur);
	}
	OPENSSL_cleanse((char *)token, strlen(token));
	free(exp);
	json_decref(a);
	return rc;
}

int
ctl_token_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "ID", "STATE", "PURPOSE",
		"TARGET", "JOB", "CREATED", "EXPIRES", "USED BY", "NOTE" };
	struct ctlfmt_table	 t;
	json_t			*a, *tok;
	char			**c, *m, *h;
	size_t			 i;
	int			 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_request(ctl, "GET", "/api/v1/tokens", NULL, &rc)) == NULL)
		return rc;
	ctlfmt_table_init(&t, 9, head);
	json_array_foreach(json_object_get(a, "tokens"), i, tok) {
		c = xcalloc(9, sizeof(*c));
		c[0] = ctlfmt_value(json_object_get(tok, "id"));
		c[1] = ctlfmt_value(json_object_get(tok, "state"));
		c[2] = ctlfmt_value(json_object_get(tok, "purpose"));
		c[3] = ctlfmt_value(json_object_get(tok, "target"));
		c[4] = ctlfmt_value(json_object_get(tok, "job"));
		c[5] = ctlfmt_value(json_object_get(tok, "created_at"));
		c[6] = ctlfmt_value(json_object_get(tok, "expires_at"));
		h = ctlfmt_value(json_object_get(tok, "used_by"));
		m = ctlfmt_value(json_object_get(tok, "machine_id"));
		c[7] = strcmp(h, "-") == 0 ? xstrdup("-") :
		    xasprintf("%s (%s)", h, m);
		free(h);
		free(m);
		c[8] = ctlfmt_value(json_object_get(tok, "note"));
		ctlfmt_table_row(&t, c);
		free(c);
	}
	if (t.nrow <= 1)
		printf("no enrollment tokens ('havenctl token issue' makes "
		    "one)\n");
	else
		ctlfmt_table_print(stdout, &t, "", "");
	ctlfmt_table_free(&t);
	json_decref(a);
	return rc;
}

int
ctl_token_revoke(struct ctl *ctl, int argc, char **argv)
{
	const char	*reason = ctl_opt(ctl, "--reason");
	json_t		*a, *body;
	char		*path, *when;
	int		 rc;

	(void)argc;
	if (ctl_check_id("token", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/tokens/%s/revoke", argv[0]);
	body = json_object();
	if (reason != NULL)
		json_object_set_new(body, "reason", json_string(reason));
	a = ctl_request(ctl, "POST", path, body, &rc);
	if (a != NULL) {
		when = ctlfmt_value(json_object_get(a, "revoked_at"));
		printf("enrollment token %s revoked at %s: it can no longer "
		    "enroll a machine\n", argv[0], when);
		free(when);
	}
	json_decref(a);
	json_decref(body);
	free(path);
	return rc;
}
