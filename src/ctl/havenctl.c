/*
 * havenctl [-s SOCKET] [--json] COMMAND ...
 *
 * Commands are the table below; this file finds the command, sorts its
 * arguments into positionals and options and checks their number, so
 * that the handlers in ctl_cmds.c only talk to havend.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_disc.h"
#include "ctl_push.h"
#include "ctl_token.h"
#include "havenctl.h"
#include "log.h"
#include "util.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

static int	ctl_help(struct ctl *, int, char **);
static int	ctl_version(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", 0, 0, NULL, ctl_status, "",
	  "roles, ports, certificate, database, machines and workers" },
	{ "passphrase show", 0, 0, NULL, ctl_passphrase_show, "",
	  "print the enrollment passphrase" },
	{ "passphrase generate", 0, 0, NULL, ctl_passphrase_generate, "",
	  "replace the passphrase (enrolled machines keep working)" },
	{ "cert show", 0, 0, NULL, ctl_cert_show, "",
	  "the server certificate and the site CA" },
	{ "cert renew", 0, 0, NULL, ctl_cert_renew, "",
	  "issue a new server certificate (before or after expiry)" },
	{ "machine list", 0, 0, NULL, ctl_machine_list, "",
	  "enrolled machines and their last heartbeat" },
	{ "machine revoke", 1, 1, NULL, ctl_machine_revoke, "ID",
	  "revoke a machine's certificate: it can no longer connect" },
	{ "user add", 1, 1, "--password-file", ctl_user_add,
	  "NAME --password-file FILE",
	  "create a web UI account or reset its password (FILE '-' is "
	  "stdin)" },
	{ "account add", 1, 1, CTL_OWN_OPTIONS, ctl_account_add,
	  CTL_ACCOUNT_ADD_USAGE, "add a vSphere, libvirt or push-install "
	  "account (FILE '-' is stdin; the secret is stored encrypted)" },
	{ "account edit", 1, 1, CTL_OWN_OPTIONS, ctl_account_edit,
	  CTL_ACCOUNT_EDIT_USAGE, "change an account's user, secret, auth "
	  "or sudo (the secret is replaced, never shown)" },
	{ "account list", 0, 0, NULL, ctl_account_list, "",
	  "accounts and the hypervisors that use them" },
	{ "account remove", 1, 1, NULL, ctl_account_remove, "NAME",
	  "remove an account no hypervisor uses" },
	{ "hypervisor add", 1, 1, CTL_OWN_OPTIONS, ctl_hypervisor_add,
	  CTL_HV_ADD_USAGE, "add a vCenter/ESXi server (prints the "
	  "thumbprint to accept) or a KVM host (discovers it)" },
	{ "hypervisor edit", 1, 1, CTL_OWN_OPTIONS, ctl_hypervisor_edit,
	  CTL_HV_EDIT_USAGE, "change a hypervisor's address, URI or "
	  "account" },
	{ "hypervisor accept", 1, 1, CTL_OWN_OPTIONS, ctl_hypervisor_accept,
	  CTL_HV_ACCEPT_USAGE, "accept a vSphere server's certificate "
	  "thumbprint, then discover it" },
	{ "hypervisor list", 0, 0, NULL, ctl_hypervisor_list, "",
	  "hypervisors, their status and machine counts" },
	{ "hypervisor show", 1, 1, NULL, ctl_hypervisor_show, "NAME",
	  "one hypervisor in full" },
	{ "push-install", 1, 1, CTL_PUSH_OPTIONS, ctl_push_install,
	  CTL_PUSH_USAGE, "install (or upgrade, repair) the agent on a "
	  "Linux machine over SSH and wait until it heartbeats" },
	{ "push-uninstall", 1, 1, CTL_OWN_OPTIONS, ctl_push_uninstall,
	  CTL_PUSH_UNINSTALL_USAGE, "remove the agent from a machine over "
	  "SSH (as push-install connects), check it is gone, and revoke the "
	  "machine unless --keep-enrollment" },
	{ "token issue", 0, 0, CTL_TOKEN_ISSUE_OPTIONS, ctl_token_issue,
	  CTL_TOKEN_ISSUE_USAGE, "a one-time enrollment token for a manual "
	  "install (install.sh --token-file FILE); T: 90, 15m, 1h (the "
	  "default, enroll_token_ttl), up to 7d" },
	{ "token list", 0, 0, NULL, ctl_token_list, "",
	  "enrollment tokens: live, used (by which machine), expired, "
	  "revoked" },
	{ "token revoke", 1, 1, "[--reason]", ctl_token_revoke,
	  "ID [--reason TEXT]", "make an unused enrollment token unusable" },
	{ "hypervisor refresh", 1, 1, NULL, ctl_hypervisor_refresh, "NAME",
	  "discover a hypervisor now and wait for it" },
	{ "hypervisor remove", 1, 1, NULL, ctl_hypervisor_remove, "NAME",
	  "remove a hypervisor (refused while machines on it are "
	  "protected)" },
	{ "vm list", 0, 0, CTL_OWN_OPTIONS, ctl_vm_list, CTL_VM_LIST_USAGE,
	  "discovered machines and whether they can be protected" },
	{ "job list", 0, 0, NULL, ctl_job_list, "", "recent jobs" },
	{ "job show", 1, 1, NULL, ctl_job_show, "ID", "one job in full" },
	{ "policy list", 0, 0, NULL, ctl_policy_list, "",
	  "replication policies (each with its -failback twin)" },
	{ "policy show", 1, 1, NULL, ctl_policy_show, "POLICY",
	  "one policy and the machines that follow it" },
	{ "policy create", 1, 1, "[--rpo] [--retention] [--app-interval] "
	  "[--interval]", ctl_policy_create, "NAME [--rpo T] [--retention T] "
	  "[--app-interval T] [--interval T]",
	  "create a policy and its NAME-failback twin (T: 90, 15m, 2h, 1d; "
	  "defaults 15m, 1d, 4h, 5m; --app-interval 0: none)" },
	{ "policy set", 1, 1, "[--rpo] [--retention] [--app-interval] "
	  "[--interval]", ctl_policy_set, "POLICY [--rpo T] [--retention T] "
	  "[--app-interval T] [--interval T]", "change a policy's settings" },
	{ "policy delete", 1, 1, NULL, ctl_policy_delete, "POLICY",
	  "delete a policy and its failback twin (no machine may use them)" },
	{ "policy throttle", 2, 2, NULL, ctl_policy_throttle,
	    "POLICY RATE|SCHEDULE", "limit its agents' bandwidth: bytes/s "
	    "(10m; 0 = none) or a schedule (08:00-18:00=10m,*=0)" },
	{ "policy assign", 2, 2, NULL, ctl_policy_assign, "MACHINE POLICY",
	  "protect a machine (id or hostname) with a policy" },
	{ "points list", 1, 1, NULL, ctl_points_list, "MACHINE",
	  "a machine's recovery points and its achieved RPO" },
	{ "prune", 0, 0, NULL, ctl_prune, "",
	    "drop recovery points past their policy's retention now (also "
	    "done every 10 minutes)" },
	{ "recover", 1, 1, "--point --out", ctl_recover,
	  "MACHINE --point latest|latest-app|ID --out DIR",
	  "write each disk at that point to DIR/<disk>.img" },
	{ "help", 0, 2, NULL, ctl_help, "[COMMAND]",
	  "list the commands, or describe one" },
	{ "version", 0, 0, NULL, ctl_version, "", "havenctl's version" },
};

/* Number of words of name that argv starts with, or 0 if not all. */
static int
ctl_match(const char *name, int argc, char **argv)
{
	const char	*p = name, *sp;
	size_t		 len;
	int		 n = 0;

	for (;;) {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (n >= argc || strlen(argv[n]) != len ||
		    strncmp(argv[n], p, len) != 0)
			return 0;
		n++;
		if (sp == NULL)
			return n;
		p = sp + 1;
	}
}

static void
ctl_usage_line(FILE *f, const struct ctl_cmd *c)
{
	fprintf(f, "havenctl %s%s%s\n", c->name, c->usage[0] ? " " : "",
	    c->usage);
}

static void
ctl_usage(FILE *f)
{
	const struct ctl_cmd	*c;
	char			 buf[80];
	size_t			 i;

	fprintf(f, "usage: havenctl [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (i = 0; i < nitems(ctl_cmds); i++) {
		c = &ctl_cmds[i];
		snprintf(buf, sizeof(buf), "%s%s%s", c->name,
		    c->usage[0] ? " " : "", c->usage);
		fprintf(f, "  %-35s %s\n", buf, c->help);
	}
	fprintf(f, "\noptions:\n"
	    "  -s SOCKET   havend's unix socket (default: $HAVEN_SOCKET, "
	    "else %s)\n"
	    "  --json      print havend's answer as JSON\n", CTL_SOCKET_DEFAULT);
}

/* Usage lines of every command whose name starts with word. */
static int
ctl_group_usage(FILE *f, const char *word)
{
	size_t	i, len = strlen(word);
	int	n = 0;

	for (i = 0; i < nitems(ctl_cmds); i++)
		if (strncmp(ctl_cmds[i].name, word, len) == 0 &&
		    ctl_cmds[i].name[len] == ' ') {
			fputs(n++ ? "       " : "usage: ", f);
			ctl_usage_line(f, &ctl_cmds[i]);
		}
	return n;
}

static int
ctl_help(struct ctl *ctl, int argc, char **argv)
{
	size_t	i;

	(void)ctl;
	if (argc == 0) {
		ctl_usage(stdout);
		return CTL_OK;
	}
	for (i = 0; i < nitems(ctl_cmds); i++)
		if (ctl_match(ctl_cmds[i].name, argc, argv) == argc) {
			fputs("usage: ", stdout);
			ctl_usage_line(stdout, &ctl_cmds[i]);
			printf("%s\n", ctl_cmds[i].help);
			return CTL_OK;
		}
	if (argc == 1 && ctl_group_usage(stdout, argv[0]) > 0)
		return CTL_OK;
	fprintf(stderr, "havenctl: no command '%s%s%s'; 'havenctl help' lists "
	    "them\n", argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	return CTL_USAGE;
}

static int
ctl_version(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	printf("havenctl %s\n", HAVEN_VERSION);
	return CTL_OK;
}

static int
ctl_bad_usage(const struct ctl_cmd *c, const char *why, const char *arg)
{
	fprintf(stderr, "havenctl %s: %s%s%s\nusage: ", c->name, why,
	    arg ? " " : "", arg ? arg : "");
	ctl_usage_line(stderr, c);
	return CTL_USAGE;
}

/* The option names of c ("--point"), their number, which are required. */
static int
ctl_opt_names(const struct ctl_cmd *c, char names[][32], int *required)
{
	const char	*p = c->option;
	size_t		 len;
	int		 n = 0, opt;

	while (p != NULL && *p != '\0' && n < CTL_OPTS_MAX) {
		p += strspn(p, " ");
		if ((len = strcspn(p, " ")) == 0)
			break;
		opt = *p == '[';
		snprintf(names[n], 32, "%.*s", (int)(len - 2 * opt), p + opt);
		required[n++] = !opt;
		p += len;
	}
	return n;
}

const char *
ctl_opt(struct ctl *ctl, const char *name)
{
	char	names[CTL_OPTS_MAX][32];
	int	req[CTL_OPTS_MAX], i, n;

	if (ctl->cmd == NULL)
		return NULL;
	n = ctl_opt_names(ctl->cmd, names, req);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return ctl->optv[i];
	return NULL;
}

/*
 * Sort args into positionals (kept in args, in order) and options:
 * --json anywhere, and the command's own options.  Then check counts.
 */
static int
ctl_run(struct ctl *ctl, const struct ctl_cmd *c, int argc, char **argv)
{
	char	**pos, names[CTL_OPTS_MAX][32];
	size_t	  olen = 0;
	int	  i, k, npos = 0, nopt, req[CTL_OPTS_MAX], rc;

	if (c->option != NULL && strcmp(c->option, CTL_OWN_OPTIONS) == 0)
		return c->fn(ctl, argc, argv);	/* it parses its options */
	nopt = ctl_opt_names(c, names, req);
	ctl->cmd = c;
	pos = xcalloc((size_t)argc + 1, sizeof(char *));
	for (i = 0; i < argc; i++) {
		for (k = 0; k < nopt; k++) {
			olen = strlen(names[k]);
			if (strncmp(argv[i], names[k], olen) == 0 &&
			    (argv[i][olen] == '\0' || argv[i][olen] == '='))
				break;
		}
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs("usage: ", stdout);
			ctl_usage_line(stdout, c);
			printf("%s\n", c->help);
			free(pos);
			return CTL_OK;
		} else if (k < nopt && argv[i][olen] == '\0') {
			if (i + 1 >= argc) {
				free(pos);
				return ctl_bad_usage(c, "missing value for",
				    names[k]);
			}
			ctl->optv[k] = argv[++i];
		} else if (k < nopt)
			ctl->optv[k] = argv[i] + olen + 1;
		else if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				pos[npos++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			free(pos);
			return ctl_bad_usage(c, "unknown option", argv[i]);
		} else
			pos[npos++] = argv[i];
	}
	ctl->optval = ctl->optv[0];
	for (k = 0; k < nopt; k++)
		if (req[k] && ctl->optv[k] == NULL)
			break;
	if (npos < c->minargs || npos > c->maxargs)
		rc = ctl_bad_usage(c, npos < c->minargs ?
		    "missing argument" : "too many arguments", NULL);
	else if (k < nopt)
		rc = ctl_bad_usage(c, "missing", names[k]);
	else
		rc = c->fn(ctl, npos, pos);
	free(pos);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct ctl		 ctl;
	const struct ctl_cmd	*best = NULL;
	const char		*env;
	size_t			 i;
	int			 ch, n, bestn = 0;

	log_init("havenctl", 1, LOG_LVL_WARN);
	memset(&ctl, 0, sizeof(ctl));
	env = getenv("HAVEN_SOCKET");
	ctl.http.unix_socket = env && *env ? env : CTL_SOCKET_DEFAULT;
	ctl.http.timeout_s = 60;

	while ((ch = getopt_long(argc, argv, "+s:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctl.http.unix_socket = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'h':
			ctl_usage(stdout);
			return CTL_OK;
		case 'V':
			return ctl_version(&ctl, 0, NULL);
		default:
			ctl_usage(stderr);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		ctl_usage(stderr);
		return CTL_USAGE;
	}

	for (i = 0; i < nitems(ctl_cmds); i++)
		if ((n = ctl_match(ctl_cmds[i].name, argc, argv)) > bestn) {
			best = &ctl_cmds[i];
			bestn = n;
		}
	if (best == NULL) {
		for (i = 0; i < nitems(ctl_cmds); i++)
			if (strncmp(ctl_cmds[i].name, argv[0],
			    strlen(argv[0])) == 0 &&
			    ctl_cmds[i].name[strlen(argv[0])] == ' ')
				break;
		if (i < nitems(ctl_cmds)) {
			if (argc > 1)
				fprintf(stderr, "havenctl: no command '%s %s'"
				    "\n", argv[0], argv[1]);
			else
				fprintf(stderr, "havenctl: '%s' needs a "
				    "subcommand\n", argv[0]);
			ctl_group_usage(stderr, argv[0]);
		} else
			fprintf(stderr, "havenctl: unknown command '%s'; "
			    "'havenctl help' lists the commands\n", argv[0]);
		return CTL_USAGE;
	}
	return ctl_run(&ctl, best, argc - bestn, argv + bestn);
}
