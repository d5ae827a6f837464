/*
 * havenctl account|hypervisor|vm (docs/accounts.md).  A secret is read
 * from a file (mode 0600) or stdin, sent once over the unix socket and
 * wiped; havend never sends one back.  Commands that start a discovery
 * wait for it by watching the hypervisor's "discovering" flag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_disc.h"
#include "ctlfmt.h"
#include "util.h"

#define WAIT_MAX_S	3600	/* for a discovery */

/* --- options */

struct opt {
	const char	*name;		/* "--kind" */
	int		 has_arg;
	const char	*val;		/* the value, or "" for a flag */
};

/*
 * Sort argv into positionals and opts; --json and --help anywhere.
 * Returns -1 on bad usage (said), 1 when help was printed, else 0.
 */
static int
opts_parse(struct ctl *ctl, const char *cmd, const char *usage, int argc,
    char **argv, struct opt *opts, const char **pos, int minpos, int maxpos)
{
	struct opt	*o;
	size_t		 len;
	int		 i, npos = 0;
	const char	*why = NULL, *what = NULL;

	for (i = 0; i < argc && why == NULL; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			ctl->json = 1;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: havenctl %s %s\n", cmd, usage);
			return 1;
		}
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc && npos <= maxpos)
				pos[npos++] = argv[i];
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0') {
			if (npos > maxpos)
				break;
			pos[npos++] = argv[i];
			continue;
		}
		for (o = opts; o->name != NULL; o++) {
			len = strlen(o->name);
			if (strncmp(argv[i], o->name, len) != 0)
				continue;
			if (argv[i][len] == '\0')
				break;
			if (argv[i][len] == '=' && o->has_arg)
				break;
		}
		if (o->name == NULL) {
			why = "unknown option";
			what = argv[i];
		} else if (!o->has_arg)
			o->val = "";
		else if (argv[i][strlen(o->name)] == '=')
			o->val = argv[i] + strlen(o->name) + 1;
		else if (i + 1 < argc)
			o->val = argv[++i];
		else {
			why = "missing value for";
			what = o->name;
		}
	}
	if (why == NULL && npos < minpos)
		why = "missing argument";
	else if (why == NULL && npos > maxpos)
		why = "too many arguments";
	if (why == NULL)
		return 0;
	fprintf(stderr, "havenctl %s: %s%s%s\nusage: havenctl %s %s\n", cmd,
	    why, what ? " " : "", what ? what : "", cmd, usage);
	return -1;
}

static const char *
opt(struct opt *opts, const char *name)
{
	for (; opts->name != NULL; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts->val;
	return NULL;
}

/* --- talking to havend */

/* Names go into URL paths: letters, digits, '.', '_', '-' only. */
static int
check_name(const char *what, const char *name)
{
	size_t	len = strlen(name);

	if (len > 0 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len &&
	    name[0] != '.')
		return 0;
	fprintf(stderr, "havenctl: '%s' is not %s name (see 'havenctl %s "
	    "list')\n", name, strcmp(what, "account") == 0 ? "an account" :
	    "a hypervisor", what);
	return -1;
}

static void
wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* --- fields */

static char *
field(json_t *o, const char *k)
{
	return ctlfmt_value(json_object_get(o, k));
}

static const char *
sfield(json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

/* --- accounts */

static int
account_send(struct ctl *ctl, const char *method, const char *path,
    json_t *body, const char *secret_file, const char *verb,
    const char *name)
{
	json_t	*a;
	char	*secret = NULL, *cause = NULL;
	int	 rc;

	if (secret_file != NULL) {
		if ((secret = ctl_read_secret(secret_file, 1,
		    &cause)) == NULL) {
			fprintf(stderr, "havenctl: %s\n", cause);
			free(cause);
			json_decref(body);
			return CTL_FAIL;
		}
		json_object_set_new(body, "secret", json_string(secret));
		wipe(secret);
		if (json_object_get(body, "secret") == NULL) {
			fprintf(stderr, "havenctl: the secret must be UTF-8 "
			    "text\n");
			json_decref(body);
			return CTL_FAIL;
		}
	}
	a = ctl_call(ctl, method, path, body, &rc);
	/* The request is sent: wipe the body's copy of the secret. */
	if (json_is_string(json_object_get(body, "secret")))
		explicit_bzero((char *)json_string_value(json_object_get(body,
		    "secret")), json_string_length(json_object_get(body,
		    "secret")));
	json_decref(body);
	if (a == NULL)
		return rc;
	if (ctl->json)
		ctl_print_json(a);
	else
		printf("%s account %s %s%s\n", sfield(a, "kind"), name, verb,
		    secret_file != NULL ? "; its secret is stored encrypted "
		    "and is never shown" : "");
	json_decref(a);
	return rc;
}

int
ctl_account_add(struct ctl *ctl, int argc, char **argv)
{
	struct opt	 opts[] = { { "--kind", 1, NULL }, { "--user", 1, NULL },
			    { "--secret-file", 1, NULL }, { "--auth", 1, NULL },
			    { "--sudo", 0, NULL }, { NULL, 0, NULL } };
	const char	*pos[2];
	json_t		*body;
	int		 r;

	if ((r = opts_parse(ctl, "account add", CTL_ACCOUNT_ADD_USAGE, argc,
	    argv, opts, pos, 1, 1)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (opt(opts, "--kind") == NULL) {
		fprintf(stderr, "havenctl account add: missing --kind\nusage: "
		    "havenctl account add %s\n", CTL_ACCOUNT_ADD_USAGE);
		return CTL_USAGE;
	}
	body = json_pack("{s:s, s:s, s:s?, s:s?}", "name", pos[0], "kind",
	    opt(opts, "--kind"), "username", opt(opts, "--user"), "auth",
	    opt(opts, "--auth"));
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	if (opt(opts, "--sudo") != NULL)
		json_object_set_new(body, "sudo", json_true());
	return account_send(ctl, "POST", "/api/v1/accounts", body,
	    opt(opts, "--secret-file"), "added", pos[0]);
}

int
ctl_account_edit(struct ctl *ctl, int argc, char **argv)
{
	struct opt	 opts[] = { { "--user", 1, NULL },
			    { "--secret-file", 1, NULL }, { "--auth", 1, NULL },
			    { "--sudo", 0, NULL }, { "--no-sudo", 0, NULL },
			    { NULL, 0, NULL } };
	const char	*pos[2];
	json_t		*body;
	char		*path;
	int		 r;

	if ((r = opts_parse(ctl, "account edit", CTL_ACCOUNT_EDIT_USAGE, argc,
	    argv, opts, pos, 1, 1)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (check_name("account", pos[0]) == -1)
		return CTL_USAGE;
	body = json_pack("{s:s?, s:s?}", "username", opt(opts, "--user"),
	    "auth", opt(opts, "--auth"));
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	if (opt(opts, "--sudo") != NULL || opt(opts, "--no-sudo") != NULL)
		json_object_set_new(body, "sudo", json_boolean(
		    opt(opts, "--sudo") != NULL));
	if (json_object_size(body) == 0 && opt(opts, "--secret-file") ==
	    NULL) {
		json_decref(body);
		fprintf(stderr, "havenctl account edit: nothing to change\n"
		    "usage: havenctl account edit %s\n",
		    CTL_ACCOUNT_EDIT_USAGE);
		return CTL_USAGE;
	}
	path = xasprintf("/api/v1/accounts/%s", pos[0]);
	r = account_send(ctl, "PUT", path, body, opt(opts, "--secret-file"),
	    "changed", pos[0]);
	free(path);
	return r;
}

int
ctl_account_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "NAME", "KIND", "USER", "AUTH",
	    "SUDO", "SECRET", "USED BY" };
	struct ctlfmt_table	 t;
	json_t			*a, *list, *acc;
	char			*row[nitems(head)];
	size_t			 i;
	int			 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_call(ctl, "GET", "/api/v1/accounts", NULL, &rc)) == NULL)
		return rc;
	list = json_object_get(a, "accounts");
	if (ctl->json)
		ctl_print_json(a);
	else if (json_array_size(list) == 0)
		printf("no accounts (add one with 'havenctl account add')\n");
	else {
		ctlfmt_table_init(&t, nitems(head), head);
		json_array_foreach(list, i, acc) {
			row[0] = field(acc, "name");
			row[1] = field(acc, "kind");
			row[2] = field(acc, "username");
			row[3] = field(acc, "auth");
			row[4] = strcmp(sfield(acc, "kind"), "push") == 0 ?
			    field(acc, "sudo") : xstrdup("-");
			row[5] = xstrdup(json_is_true(json_object_get(acc,
			    "has_secret")) ? "stored" : "none");
			row[6] = json_array_size(json_object_get(acc,
			    "used_by")) == 0 ? xstrdup("-") :
			    field(acc, "used_by");
			ctlfmt_table_row(&t, row);
		}
		ctlfmt_table_print(stdout, &t, "", "");
		ctlfmt_table_free(&t);
	}
	json_decref(a);
	return rc;
}

int
ctl_account_remove(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	char	*path;
	int	 rc;

	(void)argc;
	if (check_name("account", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/accounts/%s", argv[0]);
	if ((a = ctl_call(ctl, "DELETE", path, NULL, &rc)) != NULL) {
		if (ctl->json)
			ctl_print_json(a);
		else
			printf("account %s removed\n", argv[0]);
	}
	json_decref(a);
	free(path);
	return rc;
}

/* --- hypervisors */

/* The hypervisor without its machines, or NULL (said). */
static json_t *
hv_fetch(struct ctl *ctl, const char *name, int *rc)
{
	char	*path = xasprintf("/api/v1/hypervisors/%s?vms=0", name);
	json_t	*a = ctl_call(ctl, "GET", path, NULL, rc);

	free(path);
	return a;
}

/* Poll until no discovery of name runs; the hypervisor then. */
static json_t *
hv_wait(struct ctl *ctl, const char *name, int *rc)
{
	struct timespec	 ts = { 0, 200 * 1000 * 1000 };
	json_t		*h;
	time_t		 end = time(NULL) + WAIT_MAX_S;

	for (;;) {
		if ((h = hv_fetch(ctl, name, rc)) == NULL)
			return NULL;
		if (!json_is_true(json_object_get(h, "discovering")))
			return h;
		if (time(NULL) > end) {
			fprintf(stderr, "havenctl: the discovery of %s is "
			    "still running after %d s; see 'havenctl job "
			    "list'\n", name, WAIT_MAX_S);
			json_decref(h);
			*rc = CTL_FAIL;
			return NULL;
		}
		json_decref(h);
		nanosleep(&ts, NULL);
	}
}

/*
 * What a discovery came to: the machine count, or the error.  After an
 * add, a vSphere server waiting for its thumbprint to be accepted is
 * what is expected (pending_ok); after a refresh it is an error.
 */
static int
hv_outcome(struct ctl *ctl, json_t *h, int pending_ok)
{
	const char	*st = sfield(h, "status");
	const char	*name = sfield(h, "name");
	long long	 n;

	if (ctl->json) {
		ctl_print_json(h);
		return strcmp(st, "connected") == 0 || (pending_ok &&
		    strcmp(st, "pending") == 0) ? CTL_OK : CTL_FAIL;
	}
	if (strcmp(st, "connected") == 0) {
		n = (long long)json_integer_value(json_object_get(h,
		    "vm_count"));
		printf("%s: %lld machine%s (%lld protectable", name, n,
		    n == 1 ? "" : "s", (long long)json_integer_value(
		    json_object_get(h, "protectable_count")));
		if (json_integer_value(json_object_get(h, "gone_count")) > 0)
			printf(", %lld gone", (long long)json_integer_value(
			    json_object_get(h, "gone_count")));
		printf("), discovered at %s\n", sfield(h, "last_discovery"));
		return CTL_OK;
	}
	if (pending_ok && strcmp(st, "pending") == 0 &&
	    json_is_string(json_object_get(h, "pending_thumbprint"))) {
		printf("%s presents a certificate with the SHA-256 "
		    "thumbprint\n  %s\ncheck it on the server's console, "
		    "then accept it:\n  havenctl hypervisor accept %s\n", name,
		    sfield(h, "pending_thumbprint"), name);
		return CTL_OK;
	}
	fprintf(stderr, "havenctl: %s: %s\n", name, sfield(h, "error"));
	if (json_is_string(json_object_get(h, "pending_thumbprint")) &&
	    strcmp(st, "pending") != 0)
		fprintf(stderr, "if the new thumbprint %s is expected, accept "
		    "it: havenctl hypervisor accept %s\n",
		    sfield(h, "pending_thumbprint"), name);
	return CTL_FAIL;
}

/* Send, then wait for the discovery it started and say how it went. */
static int
hv_send_wait(struct ctl *ctl, const char *method, const char *path,
    json_t *body, const char *name, const char *done, int pending_ok)
{
	json_t	*a, *h;
	int	 rc, json = ctl->json;

	a = ctl_call(ctl, method, path, body, &rc);
	json_decref(body);
	if (a == NULL)
		return rc;
	if (done != NULL && !json)
		printf("%s %s\n", name, done);
	if (!json_is_true(json_object_get(a, "discovering"))) {
		rc = hv_outcome(ctl, a, pending_ok);
		json_decref(a);
		return rc;
	}
	json_decref(a);
	if ((h = hv_wait(ctl, name, &rc)) == NULL)
		return rc;
	rc = hv_outcome(ctl, h, pending_ok);
	json_decref(h);
	return rc;
}

/* --port's value p, if given, into body; -1 when it is no port (said). */
static int
hv_port(json_t *body, const char *p)
{
	char	*end;
	long	 port;

	if (p == NULL)
		return 0;
	port = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "havenctl: '%s' is not a port (1-65535)\n", p);
		return -1;
	}
	json_object_set_new(body, "port", json_integer(port));
	return 0;
}

int
ctl_hypervisor_add(struct ctl *ctl, int argc, char **argv)
{
	struct opt	 opts[] = { { "--kind", 1, NULL },
			    { "--address", 1, NULL }, { "--port", 1, NULL },
			    { "--uri", 1, NULL }, { "--account", 1, NULL },
			    { "--thumbprint", 1, NULL }, { NULL, 0, NULL } };
	const char	*pos[2];
	json_t		*body;
	int		 r;

	if ((r = opts_parse(ctl, "hypervisor add", CTL_HV_ADD_USAGE, argc,
	    argv, opts, pos, 1, 1)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (check_name("hypervisor", pos[0]) == -1)
		return CTL_USAGE;
	if (opt(opts, "--kind") == NULL) {
		fprintf(stderr, "havenctl hypervisor add: missing --kind\n"
		    "usage: havenctl hypervisor add %s\n", CTL_HV_ADD_USAGE);
		return CTL_USAGE;
	}
	body = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "name", pos[0],
	    "kind", opt(opts, "--kind"), "address", opt(opts, "--address"),
	    "uri", opt(opts, "--uri"), "account", opt(opts, "--account"),
	    "thumbprint", opt(opts, "--thumbprint"));
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	if (hv_port(body, opt(opts, "--port")) == -1) {
		json_decref(body);
		return CTL_USAGE;
	}
	return hv_send_wait(ctl, "POST", "/api/v1/hypervisors", body, pos[0],
	    "added", 1);
}

int
ctl_hypervisor_edit(struct ctl *ctl, int argc, char **argv)
{
	struct opt	 opts[] = { { "--address", 1, NULL },
			    { "--port", 1, NULL }, { "--uri", 1, NULL },
			    { "--account", 1, NULL }, { NULL, 0, NULL } };
	const char	*pos[2];
	json_t		*body;
	char		*path;
	int		 r;

	if ((r = opts_parse(ctl, "hypervisor edit", CTL_HV_EDIT_USAGE, argc,
	    argv, opts, pos, 1, 1)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (check_name("hypervisor", pos[0]) == -1)
		return CTL_USAGE;
	body = json_pack("{s:s?, s:s?, s:s?}", "address", opt(opts,
	    "--address"), "uri", opt(opts, "--uri"), "account", opt(opts,
	    "--account"));
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	if (hv_port(body, opt(opts, "--port")) == -1) {
		json_decref(body);
		return CTL_USAGE;
	}
	if (json_object_size(body) == 0) {
		json_decref(body);
		fprintf(stderr, "havenctl hypervisor edit: nothing to change\n"
		    "usage: havenctl hypervisor edit %s\n", CTL_HV_EDIT_USAGE);
		return CTL_USAGE;
	}
	path = xasprintf("/api/v1/hypervisors/%s", pos[0]);
	r = hv_send_wait(ctl, "PUT", path, body, pos[0],
	    "changed", 1);
	free(path);
	return r;
}

int
ctl_hypervisor_accept(struct ctl *ctl, int argc, char **argv)
{
	struct opt	 opts[] = { { "--thumbprint", 1, NULL },
			    { NULL, 0, NULL } };
	const char	*pos[2];
	json_t		*body;
	char		*path;
	int		 r;

	if ((r = opts_parse(ctl, "hypervisor accept", CTL_HV_ACCEPT_USAGE,
	    argc, argv, opts, pos, 1, 1)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (check_name("hypervisor", pos[0]) == -1)
		return CTL_USAGE;
	body = json_pack("{s:s?}", "thumbprint", opt(opts, "--thumbprint"));
	if (body == NULL) {
		fprintf(stderr, "havenctl: arguments must be UTF-8 text\n");
		return CTL_FAIL;
	}
	path = xasprintf("/api/v1/hypervisors/%s/accept", pos[0]);
	r = hv_send_wait(ctl, "POST", path, body, pos[0],
	    "accepted (its certificate thumbprint is pinned); discovering", 0);
	free(path);
	return r;
}

int
ctl_hypervisor_refresh(struct ctl *ctl, int argc, char **argv)
{
	char	*path;
	int	 r;

	(void)argc;
	if (check_name("hypervisor", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/hypervisors/%s/refresh", argv[0]);
	r = hv_send_wait(ctl, "POST", path, json_object(), argv[0], NULL, 0);
	free(path);
	return r;
}

int
ctl_hypervisor_remove(struct ctl *ctl, int argc, char **argv)
{
	json_t	*a;
	char	*path;
	int	 rc;

	(void)argc;
	if (check_name("hypervisor", argv[0]) == -1)
		return CTL_USAGE;
	path = xasprintf("/api/v1/hypervisors/%s", argv[0]);
	if ((a = ctl_call(ctl, "DELETE", path, NULL, &rc)) != NULL) {
		if (ctl->json)
			ctl_print_json(a);
		else
			printf("hypervisor %s removed, with the %lld "
			    "machine%s discovered on it\n", argv[0],
			    (long long)json_integer_value(json_object_get(a,
			    "vms")), json_integer_value(json_object_get(a,
			    "vms")) == 1 ? "" : "s");
	}
	json_decref(a);
	free(path);
	return rc;
}

static char *
hv_where(json_t *h)
{
	if (json_is_string(json_object_get(h, "uri")))
		return field(h, "uri");
	return xasprintf("%s:%lld", sfield(h, "address"),
	    (long long)json_integer_value(json_object_get(h, "port")));
}

static char *
hv_status_word(json_t *h)
{
	const char	*st = sfield(h, "status");
	const char	*w = strcmp(st, "connected") == 0 ? "Connected" :
			    strcmp(st, "pending") == 0 ? "Not accepted" :
			    strcmp(st, "error") == 0 ? "Error" :
			    strcmp(st, "new") == 0 ? "New" : st;

	return xasprintf("%s%s", w, json_is_true(json_object_get(h,
	    "discovering")) ? " (discovering)" : "");
}

int
ctl_hypervisor_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "NAME", "KIND", "ADDRESS",
	    "ACCOUNT", "STATUS", "VMS", "LAST DISCOVERY" };
	struct ctlfmt_table	 t;
	json_t			*a, *list, *h;
	char			*row[nitems(head)];
	size_t			 i;
	int			 rc;

	(void)argc;
	(void)argv;
	if ((a = ctl_call(ctl, "GET", "/api/v1/hypervisors", NULL, &rc)) ==
	    NULL)
		return rc;
	list = json_object_get(a, "hypervisors");
	if (ctl->json)
		ctl_print_json(a);
	else if (json_array_size(list) == 0)
		printf("no hypervisors (add one with 'havenctl hypervisor "
		    "add')\n");
	else {
		ctlfmt_table_init(&t, nitems(head), head);
		json_array_foreach(list, i, h) {
			row[0] = field(h, "name");
			row[1] = field(h, "kind");
			row[2] = hv_where(h);
			row[3] = field(h, "account");
			row[4] = hv_status_word(h);
			row[5] = field(h, "vm_count");
			row[6] = field(h, "last_discovery");
			ctlfmt_table_row(&t, row);
		}
		ctlfmt_table_print(stdout, &t, "", "");
		ctlfmt_table_free(&t);
		json_array_foreach(list, i, h) {
			if (json_is_string(json_object_get(h, "error")))
				printf("%s: %s\n", sfield(h, "name"),
				    sfield(h, "error"));
			if (json_is_string(json_object_get(h,
			    "pending_thumbprint")))
				printf("%s: presents the SHA-256 thumbprint "
				    "%s (not accepted): havenctl hypervisor "
				    "accept %s\n", sfield(h, "name"),
				    sfield(h, "pending_thumbprint"),
				    sfield(h, "name"));
		}
	}
	json_decref(a);
	return rc;
}

int
ctl_hypervisor_show(struct ctl *ctl, int argc, char **argv)
{
	static const char *const keys[] = { "name", "kind", "address", "port",
	    "uri", "account", "status", "error", "thumbprint",
	    "pending_thumbprint", "discovering", "last_discovery",
	    "last_attempt", "vm_count", "protectable_count", "gone_count",
	    NULL };
	json_t	*h;
	char	*v;
	size_t	 i;
	int	 rc;

	(void)argc;
	if (check_name("hypervisor", argv[0]) == -1)
		return CTL_USAGE;
	if ((h = hv_fetch(ctl, argv[0], &rc)) == NULL)
		return rc;
	if (ctl->json)
		ctl_print_json(h);
	else
		for (i = 0; keys[i] != NULL; i++) {
			v = field(h, keys[i]);
			printf("%-18s  %s\n", keys[i], v);
			free(v);
		}
	json_decref(h);
	return rc;
}

/* --- machines */

static char *
vm_disks(json_t *vm)
{
	json_t		*d;
	size_t		 i;
	long long	 total = 0;

	json_array_foreach(json_object_get(vm, "disks"), i, d)
		total += json_integer_value(json_object_get(d, "capacity"));
	return xasprintf("%zu (%.1f GiB)", json_array_size(json_object_get(vm,
	    "disks")), (double)total / (double)(1 << 30));
}

static char *
vm_addresses(json_t *vm)
{
	struct fbuf	 b;
	json_t		*a;
	size_t		 i;

	fbuf_init(&b);
	json_array_foreach(json_object_get(vm, "addresses"), i, a) {
		if (!json_is_string(a))
			continue;
		if (b.len > 0)
			fbuf_add(&b, ",", 1);
		fbuf_add(&b, json_string_value(a), json_string_length(a));
	}
	if (b.len == 0)
		fbuf_add(&b, "-", 1);
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

int
ctl_vm_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "HYPERVISOR", "NAME", "POWER",
	    "GUEST", "ADDRESSES", "CPUS", "MEMORY", "DISKS", "PROTECTABLE" };
	struct opt		 opts[] = { { "--hypervisor", 1, NULL },
				    { "--present", 0, NULL },
				    { NULL, 0, NULL } };
	struct ctlfmt_table	 t;
	const char		*pos[1];
	json_t			*a, *list, *vm, *page;
	json_int_t		 total;
	char			*row[nitems(head)], *path;
	size_t			 i, n;
	int			 rc, r;

	if ((r = opts_parse(ctl, "vm list", CTL_VM_LIST_USAGE, argc, argv,
	    opts, pos, 0, 0)) != 0)
		return r == 1 ? CTL_OK : CTL_USAGE;
	if (opt(opts, "--hypervisor") != NULL &&
	    check_name("hypervisor", opt(opts, "--hypervisor")) == -1)
		return CTL_USAGE;
	/* Page by page: havend answers a few hundred at a time. */
	a = json_pack("{s:[]}", "vms");
	list = json_object_get(a, "vms");
	for (;;) {
		path = xasprintf("/api/v1/vms?gone=%d&offset=%zu%s%s",
		    opt(opts, "--present") == NULL, json_array_size(list),
		    opt(opts, "--hypervisor") ? "&hypervisor=" : "",
		    opt(opts, "--hypervisor") ? opt(opts, "--hypervisor") : "");
		page = ctl_call(ctl, "GET", path, NULL, &rc);
		free(path);
		if (page == NULL) {
			json_decref(a);
			return rc;
		}
		n = json_array_size(json_object_get(page, "vms"));
		json_array_extend(list, json_object_get(page, "vms"));
		total = json_integer_value(json_object_get(page, "total"));
		json_decref(page);
		if (n == 0 || (json_int_t)json_array_size(list) >= total)
			break;
	}
	json_object_set_new(a, "total", json_integer((json_int_t)
	    json_array_size(list)));
	if (ctl->json)
		ctl_print_json(a);
	else if (json_array_size(list) == 0)
		printf("no machines discovered%s\n", opt(opts,
		    "--hypervisor") ? " on this hypervisor" : "");
	else {
		ctlfmt_table_init(&t, nitems(head), head);
		json_array_foreach(list, i, vm) {
			row[0] = field(vm, "hypervisor");
			row[1] = field(vm, "name");
			row[2] = json_is_string(json_object_get(vm,
			    "gone_at")) ? xasprintf("gone since %s",
			    sfield(vm, "gone_at")) : field(vm, "power_state");
			row[3] = field(vm, "guest_os");
			row[4] = vm_addresses(vm);
			row[5] = field(vm, "cpus");
			row[6] = json_is_integer(json_object_get(vm,
			    "memory_mb")) ? xasprintf("%lld MiB", (long long)
			    json_integer_value(json_object_get(vm,
			    "memory_mb"))) : xstrdup("-");
			row[7] = vm_disks(vm);
			row[8] = json_is_true(json_object_get(vm,
			    "protectable")) ? xstrdup("yes") :
			    xasprintf("no: %s", sfield(vm,
			    "not_protectable_reason"));
			ctlfmt_table_row(&t, row);
		}
		ctlfmt_table_print(stdout, &t, "", "");
		ctlfmt_table_free(&t);
	}
	json_decref(a);
	return rc;
}
