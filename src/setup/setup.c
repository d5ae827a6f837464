/*
 * haven-setup: unattended setup of a configuration server (CS mode) or
 * a scale-out process server (PS mode), with the seeds' UnifiedSetup
 * options in their "/Name value" form or as "--name value".  The
 * options are a table; the work is a table of steps per mode
 * (setup_cs.c, setup_ps.c).  docs/setup.md is the manual.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "log.h"
#include "secret.h"
#include "setup.h"
#include "util.h"

enum opt_kind {
	OPT_FLAG,	/* int, no value */
	OPT_STR,	/* char * */
	OPT_PATH,	/* char *, a file or directory */
	OPT_CHOICE,	/* char *, one of choices (any case) */
	OPT_IP,		/* char *, an IPv4 or IPv6 address */
	OPT_PORT,	/* long long, 1..65535 */
};

struct setup_opt {
	const char		*name;	/* UnifiedSetup's spelling */
	enum opt_kind		 kind;
	size_t			 off;
	const char *const	*choices;
	const char		*arg;	/* for the help */
	const char		*help;
};

#define O(f)	offsetof(struct setup_opts, f)

static const char *const modes[] = { "CS", "PS", NULL };
static const char *const env_types[] = { "VMware", "NonVMware", NULL };

static const struct setup_opt setup_opts[] = {
	{ "ServerMode", OPT_CHOICE, O(server_mode), modes, "CS|PS",
	    "CS: a configuration server (with its process server and master "
	    "target); PS: a scale-out process server that enrolls with a CS" },
	{ "InstallLocation", OPT_PATH, O(install_dir), NULL, "DIR",
	    "state directory; cache/ and retention/ are made under it "
	    "(default " SETUP_INSTALL_DEFAULT ")" },
	{ "MySQLCredsFilePath", OPT_PATH, O(mysql_file), NULL, "FILE",
	    "CS: INI file with [MySQLCredentials] (required in CS mode)" },
	{ "VaultCredsFilePath", OPT_PATH, O(vault_file), NULL, "FILE",
	    "vault registration key file; kept for when the vault role "
	    "exists" },
	{ "EnvType", OPT_CHOICE, O(env_type), env_types, "VMware|NonVMware",
	    "accepted for compatibility; changes nothing" },
	{ "PSIP", OPT_IP, O(ps_ip), NULL, "IP",
	    "this appliance's data address: in the server certificate and "
	    "the admin URL" },
	{ "CSIP", OPT_IP, O(cs_ip), NULL, "IP",
	    "PS: the configuration server to enroll with (required in PS "
	    "mode)" },
	{ "PassphraseFilePath", OPT_PATH, O(passphrase_file), NULL, "FILE",
	    "CS: use this passphrase instead of a generated one; PS: the "
	    "CS's passphrase (required in PS mode)" },
	{ "BypassProxy", OPT_FLAG, O(bypass_proxy), NULL, NULL,
	    "connect directly, without a proxy" },
	{ "ProxySettingsFilePath", OPT_PATH, O(proxy_file), NULL, "FILE",
	    "INI file with [ProxySettings]" },
	{ "DataTransferSecurePort", OPT_PORT, O(data_port), NULL, "PORT",
	    "the data port agents replicate to (default 9443; 443 is "
	    "refused)" },
	{ "AdminPasswordFilePath", OPT_PATH, O(admin_pw_file), NULL, "FILE",
	    "CS: creates or updates the admin account with this password" },
	{ "ConfigFile", OPT_PATH, O(config_file), NULL, "PATH",
	    "the havend config to write (default " SETUP_CONF_DEFAULT ")" },
	{ "CSPort", OPT_PORT, O(cs_port), NULL, "PORT",
	    "PS: the control port of the CS (default 443)" },
	{ "NoStart", OPT_FLAG, O(no_start), NULL, NULL,
	    "do not enable, start or restart the havend service" },
	{ "ListenAddress", OPT_IP, O(listen_address), NULL, "IP",
	    "address havend listens on (default 0.0.0.0: all)" },
	{ "ControlPort", OPT_PORT, O(control_port), NULL, "PORT",
	    "control port havend serves agents and process servers on "
	    "(default 443)" },
	{ "AdminPort", OPT_PORT, O(admin_port), NULL, "PORT",
	    "admin web UI and API port (default 44315)" },
	{ "Help", OPT_FLAG, O(help), NULL, NULL, "this help" },
	{ NULL, 0, 0, NULL, NULL, NULL }
};

/* Help text wrapped at 79 columns after a 36-column option name. */
static void
usage_wrap(FILE *f, const char *left, const char *help)
{
	const char	*p = help, *brk;
	int		 col = 36, width = 79 - col, n;

	fprintf(f, "  %-*s", col - 2, left);
	if ((int)strlen(left) > col - 3)
		fprintf(f, "\n%*s", col, "");
	while (*p != '\0') {
		n = (int)strlen(p);
		if (n > width) {
			for (brk = p + width; brk > p && *brk != ' '; brk--)
				;
			n = brk > p ? (int)(brk - p) : width;
		}
		fprintf(f, "%.*s\n", n, p);
		p += n;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			fprintf(f, "%*s", col, "");
	}
}

static void
usage(FILE *f)
{
	const struct setup_opt	*o;
	char			 left[64];

	fprintf(f, "usage: haven-setup /ServerMode CS|PS [/Option value ...]\n"
	    "       (or --option value; names in any case)\n\n");
	for (o = setup_opts; o->name != NULL; o++) {
		snprintf(left, sizeof(left), "/%s%s%s", o->name,
		    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		usage_wrap(f, left, o->help);
	}
	fprintf(f, "\nExit status: 0 done, 1 failed (the message says why and "
	    "what to do), 2 usage.\nManual: docs/setup.md\n");
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "haven-setup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(haven-setup /Help lists the options)\n");
	return SETUP_USAGE;
}

/* "/ServerMode", "--server-mode", "--servermode=CS": the option, or NULL. */
static const struct setup_opt *
opt_find(const char *arg, const char **inline_val)
{
	const struct setup_opt	*o;
	const char		*p, *n, *eq;
	size_t			 len;

	*inline_val = NULL;
	if (arg[0] == '/')
		arg++;
	else if (arg[0] == '-' && arg[1] == '-')
		arg += 2;
	else
		return NULL;
	if ((eq = strchr(arg, '=')) != NULL) {
		*inline_val = eq + 1;
		len = (size_t)(eq - arg);
	} else
		len = strlen(arg);
	for (o = setup_opts; o->name != NULL; o++) {
		for (p = arg, n = o->name; p < arg + len; p++) {
			if (*p == '-' || *p == '_')
				continue;
			if (*n == '\0' || tolower((unsigned char)*p) !=
			    tolower((unsigned char)*n))
				break;
			n++;
		}
		if (p == arg + len && *n == '\0')
			return o;
	}
	return NULL;
}

static int
opt_set(struct setup_opts *so, const struct setup_opt *o, const char *v)
{
	char		*p = (char *)so + o->off, *end;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	size_t		 i;
	long		 n;

	switch (o->kind) {
	case OPT_FLAG:
		*(int *)p = 1;
		return 0;
	case OPT_STR:
	case OPT_PATH:
		if (*v == '\0')
			return usage_error("/%s: the value is empty: give a %s",
			    o->name, o->kind == OPT_PATH ? "path" : "value");
		break;
	case OPT_CHOICE:
		for (i = 0; o->choices[i] != NULL; i++)
			if (strcasecmp(v, o->choices[i]) == 0)
				break;
		if (o->choices[i] == NULL)
			return usage_error("/%s: '%s' is not accepted: give "
			    "%s", o->name, v, o->arg);
		v = o->choices[i];
		break;
	case OPT_IP:
		if (inet_pton(AF_INET, v, &a4) != 1 &&
		    inet_pton(AF_INET6, v, &a6) != 1)
			return usage_error("/%s: '%s' is not an IP address: "
			    "give an IPv4 address like 192.0.2.10 or an IPv6 "
			    "address", o->name, v);
		break;
	case OPT_PORT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || !isdigit((unsigned char)*v) || errno != 0 ||
		    *end != '\0' || n < 1 || n > 65535)
			return usage_error("/%s: '%s' is not a port: give a "
			    "number from 1 to 65535", o->name, v);
		*(long long *)p = n;
		return 0;
	}
	*(char **)p = xstrdup(v);
	return 0;
}

static int
opt_seen(const struct setup_opts *so, const struct setup_opt *o)
{
	const char	*p = (const char *)so + o->off;

	switch (o->kind) {
	case OPT_FLAG:
		return *(const int *)p != 0;
	case OPT_PORT:
		return *(const long long *)p != 0;
	default:
		return *(char *const *)p != NULL;
	}
}

static int
opts_parse(struct setup_opts *so, int argc, char **argv)
{
	const struct setup_opt	*o;
	const char		*v;
	int			 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "/?") == 0 || strcmp(argv[i], "-h") == 0) {
			so->help = 1;
			continue;
		}
		if ((o = opt_find(argv[i], &v)) == NULL)
			return usage_error("unknown option '%s'", argv[i]);
		if (opt_seen(so, o))
			return usage_error("/%s is given twice: give it once",
			    o->name);
		if (o->kind == OPT_FLAG) {
			if (v != NULL)
				return usage_error("/%s takes no value",
				    o->name);
		} else if (v == NULL) {
			if (i + 1 >= argc)
				return usage_error("/%s needs a value: %s",
				    o->name, o->arg);
			v = argv[++i];
		}
		if ((rc = opt_set(so, o, v)) != 0)
			return rc;
	}
	return 0;
}

/* Checks that span options; fills the defaults. */
static int
opts_check(struct setup *s)
{
	struct setup_opts	*o = &s->o;

	if (o->server_mode == NULL)
		return usage_error("/ServerMode is missing: give /ServerMode "
		    "CS (a configuration server) or /ServerMode PS (a "
		    "process server that enrolls with one)");
	s->mode = strcmp(o->server_mode, "CS") == 0 ? MODE_CS : MODE_PS;
	if (o->data_port == 443)
		return usage_error("/DataTransferSecurePort: 443 is refused: "
		    "it is the control port agents reach the configuration "
		    "server on; use 9443 or another free port");
	if (o->bypass_proxy && o->proxy_file != NULL)
		return usage_error("/BypassProxy and /ProxySettingsFilePath "
		    "are both given: choose one");
	if (s->mode == MODE_CS) {
		if (o->mysql_file == NULL)
			return usage_error("/MySQLCredsFilePath is missing: CS "
			    "mode needs the INI file with [MySQLCredentials]");
		if (o->cs_ip != NULL || o->cs_port != 0)
			return usage_error("/CSIP and /CSPort are for PS mode "
			    "(the configuration server to enroll with)");
	} else {
		if (o->cs_ip == NULL)
			return usage_error("/CSIP is missing: PS mode enrolls "
			    "with the configuration server at that address");
		if (o->passphrase_file == NULL)
			return usage_error("/PassphraseFilePath is missing: PS "
			    "mode proves the configuration server's "
			    "passphrase (havenctl passphrase show on the CS)");
		if (o->mysql_file != NULL || o->admin_pw_file != NULL)
			return usage_error("/MySQLCredsFilePath and "
			    "/AdminPasswordFilePath are for CS mode: a process "
			    "server has no database and no accounts");
	}
	if (o->install_dir == NULL)
		o->install_dir = xstrdup(SETUP_INSTALL_DEFAULT);
	if (o->install_dir[0] != '/')
		return usage_error("/InstallLocation: '%s' is not an absolute "
		    "path", o->install_dir);
	if (o->config_file == NULL)
		o->config_file = xstrdup(SETUP_CONF_DEFAULT);
	if (o->config_file[0] != '/')
		return usage_error("/ConfigFile: '%s' is not an absolute path",
		    o->config_file);
	if (o->listen_address == NULL)
		o->listen_address = xstrdup("0.0.0.0");
	if (o->data_port == 0)
		o->data_port = 9443;
	if (o->control_port == 0)
		o->control_port = 443;
	if (o->admin_port == 0)
		o->admin_port = 44315;
	if (o->cs_port == 0)
		o->cs_port = 443;
	if (o->data_port == o->control_port || o->data_port == o->admin_port ||
	    o->control_port == o->admin_port)
		return usage_error("the control (%lld), admin (%lld) and data "
		    "(%lld) ports must differ", o->control_port, o->admin_port,
		    o->data_port);
	return 0;
}

void
setup_note(struct setup *s, const char *fmt, ...)
{
	va_list	ap;

	free(s->note);
	va_start(ap, fmt);
	s->note = xvasprintf(fmt, ap);
	va_end(ap);
}

static int
run_steps(struct setup *s, const struct setup_step *steps, size_t n)
{
	char	*cause = NULL;
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++) {
		printf("[%zu/%zu] %s... ", i + 1, n, steps[i].title);
		fflush(stdout);
		free(s->note);
		s->note = NULL;
		rc = steps[i].fn(s, &cause);
		switch (rc) {
		case STEP_DONE:
			if (s->note != NULL)
				printf("ok (%s)\n", s->note);
			else
				printf("ok\n");
			break;
		case STEP_SAME:
			printf("ok (already configured)\n");
			break;
		case STEP_SKIP:
			printf("ok (skipped: %s)\n", s->note);
			break;
		default:
			printf("failed\n");
			fflush(stdout);
			fprintf(stderr, "haven-setup: %s\n", cause != NULL ?
			    cause : "unknown error");
			free(cause);
			return -1;
		}
		fflush(stdout);
	}
	return 0;
}

static void
setup_free(struct setup *s)
{
	const struct setup_opt	*o;

	for (o = setup_opts; o->name != NULL; o++)
		if (o->kind != OPT_FLAG && o->kind != OPT_PORT)
			free(*(char **)((char *)&s->o + o->off));
	free(s->state_dir);
	free(s->cache_dir);
	free(s->retention_dir);
	free(s->db_pass_file);
	setup_mysql_free(&s->my);
	setup_proxy_free(&s->px);
	secret_free(s->admin_pw);
	secret_free(s->passphrase);
	if (s->conf_loaded)
		haven_conf_free(&s->conf);
	free(s->host);
	free(s->cs_addr);
	free(s->machine_id);
	free(s->note);
}

static int
finish(int rc, char *cause)
{
	if (rc == -1) {
		fprintf(stderr, "haven-setup: %s\n", cause);
		free(cause);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct setup	 s;
	char		*cause = NULL;
	int		 rc;

	memset(&s, 0, sizeof(s));
	/* havend's code logs as it goes; only what goes wrong matters here. */
	log_init("haven-setup", 1, LOG_LVL_WARN);
	if ((rc = opts_parse(&s.o, argc, argv)) != 0)
		goto out;
	if (s.o.help) {
		usage(stdout);
		goto out;
	}
	if ((rc = opts_check(&s)) != 0)
		goto out;
	if (s.mode == MODE_CS)
		rc = run_steps(&s, setup_cs_steps, setup_cs_nsteps) == 0 &&
		    finish(setup_cs_summary(&s, &cause), cause) == 0;
	else
		rc = run_steps(&s, setup_ps_steps, setup_ps_nsteps) == 0 &&
		    finish(setup_ps_summary(&s, &cause), cause) == 0;
	rc = rc ? SETUP_OK : SETUP_FAIL;
out:
	setup_free(&s);
	return rc;
}
