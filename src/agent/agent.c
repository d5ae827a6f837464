/*
 * haven-agent [-c CONFIG] [-d] COMMAND: configuration, the command
 * table, the enrollment state in state_dir and the status command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "log.h"
#include "replicate.h"
#include "tls.h"
#include "util.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

#define K(f)	offsetof(struct agent_conf, f)

static const char *const agent_log_levels[] = {
	"error", "warning", "info", "debug", NULL
};

static const char *const agent_snapshots[] = {
	"auto", "lvm", "reflink", "fsfreeze", "none", NULL
};

static const struct conf_key agent_conf_keys[] = {
	{ "state_dir", CONF_PATH, "/var/lib/haven-agent", 0, 0, 0, NULL,
	    K(state_dir),
	    "Enrollment state: the site CA, this machine's key and "
	    "certificate, its machine id and configuration server." },
	{ "cs", CONF_STR, NULL, 0, 0, 0, NULL, K(cs),
	    "Configuration server as host:port. Enrollment records the one "
	    "given to 'enroll --cs'; set this only if it has moved." },
	{ "disks", CONF_LIST, NULL, 0, 0, 0, NULL, K(disks),
	    "Block devices (or image files) to protect, e.g. /dev/sda "
	    "/dev/sdb. Reported with their sizes in every heartbeat." },
	{ "log_level", CONF_ENUM, "info", 0, 0, 0, agent_log_levels,
	    K(log_level), "How much to log." },
	{ "ps", CONF_STR, NULL, 0, 0, 0, NULL, K(ps),
	    "Process server's data port as host:port, for 'replicate' (the "
	    "configuration server will hand this out; until then set it)." },
	{ "block_size", CONF_SIZE, "64k", 4096, 4 << 20, 0, NULL,
	    K(block_size),
	    "Unit of change tracking: a power of two. Changing it forces a "
	    "full resync." },
	{ "interval", CONF_INT, "300", 10, 86400, 0, NULL, K(interval),
	    "Seconds between the starts of two crash-consistent points." },
	{ "throttle", CONF_STR, "0", 0, 0, 0, NULL, K(throttle),
	    "Bytes/s to the process server (k, m, g; 0 = unlimited), or a "
	    "schedule like 08:00-18:00=10m,*=0 (local time, first match)." },
	{ "snapshot", CONF_ENUM, "auto", 0, 0, 0, agent_snapshots,
	    K(snapshot),
	    "Point-in-time views: lvm, reflink, fsfreeze, none (points not "
	    "crash-consistent), or auto (the best that works; 'haven-agent "
	    "status' says which and why)." },
	{ "quiesce_dir", CONF_PATH, "/etc/haven/quiesce.d", 0, 0, 0, NULL,
	    K(quiesce_dir),
	    "Executables run with 'pre' before and 'post' after the views of "
	    "an app-consistent point are taken." },
	{ "app_consistent_interval", CONF_INT, "3600", 0, 604800, 0, NULL,
	    K(app_consistent_interval),
	    "Seconds between app-consistent points; 0 = none." },
	{ "quiesce_timeout", CONF_INT, "60", 1, 3600, 0, NULL,
	    K(quiesce_timeout),
	    "Seconds a quiesce hook may run; past that it is killed and the "
	    "point is crash-consistent." },
	{ "freeze_timeout", CONF_INT, "30", 1, 600, 0, NULL,
	    K(freeze_timeout),
	    "fsfreeze: seconds a filesystem may stay frozen; a watchdog "
	    "thaws it then and the point is not crash-consistent." },
	{ "lvm_snapshot_size", CONF_STR, "10%ORIGIN", 0, 0, 0, NULL,
	    K(lvm_snapshot_size),
	    "lvm: room for changes during a cycle, as lvcreate -L SIZE or "
	    "N%ORIGIN." },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL }
};

static int	agent_status(struct agent *, int, char **);
static int	agent_help(struct agent *, int, char **);

static const struct agent_cmd agent_cmds[] = {
	{ "enroll", agent_enroll,
	  "--cs HOST:PORT --passphrase-file FILE|--token-file FILE "
	  "[--role agent|ps] [--force]",
	  "prove the passphrase (or a one-time enrollment token) to the "
	  "configuration server and get this machine's certificate" },
	{ "heartbeat", agent_heartbeat, "[--once]",
	  "report this machine's inventory to the configuration server, "
	  "every heartbeat interval until SIGTERM" },
	{ "replicate", agent_replicate, "[--once]",
	  "stream consistent points of the disks to the process server, "
	  "one every interval until SIGTERM (--once: one, then exit)" },
	{ "status", agent_status, "",
	  "this machine's enrollment (machine id, configuration server, "
	  "certificate expiry) and replication" },
	{ "help", agent_help, "", "list the commands and configuration keys" },
};

char *
agent_path(const struct agent *a, const char *file)
{
	return xasprintf("%s/%s", a->conf.state_dir, file);
}

char *
agent_cs_url(const char *cs, char **cause)
{
	const char	*colon, *host_end;
	char		*end;
	long		 port;

	if (cs[0] == '[') {
		host_end = strchr(cs, ']');
		colon = host_end != NULL && host_end[1] == ':' ?
		    host_end + 1 : NULL;
	} else {
		colon = strrchr(cs, ':');
		host_end = colon;
		if (colon != NULL && memchr(cs, ':', (size_t)(colon - cs)))
			colon = NULL;	/* a bare IPv6 address */
	}
	if (colon == NULL || host_end == cs || colon[1] == '\0')
		goto bad;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	if (strpbrk(cs, "/?#@ \t") != NULL)
		goto bad;
	return xasprintf("https://%s", cs);
bad:
	set_cause(cause, "'%s' is not HOST:PORT (e.g. cs.example.com:443, "
	    "192.0.2.10:443 or [2001:db8::10]:443)", cs);
	return NULL;
}

void
agent_enrolled_free(struct agent_enrolled *e)
{
	free(e->machine_id);
	free(e->cs);
	free(e->url);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	memset(e, 0, sizeof(*e));
}

int
agent_load_enrolled(const struct agent *a, struct agent_enrolled *e,
    char **cause)
{
	json_error_t	 jerr;
	json_t		*m = NULL;
	const char	*id, *cs;
	char		*path;
	int		 rc = -1;

	memset(e, 0, sizeof(*e));
	path = agent_path(a, AGENT_MACHINE_FILE);
	if (access(path, F_OK) == -1 && errno == ENOENT) {
		set_cause(cause, "this machine is not enrolled (no %s); enroll "
		    "it with 'haven-agent enroll --cs HOST:PORT "
		    "--passphrase-file FILE'", path);
		goto out;
	}
	if ((m = json_load_file(path, 0, &jerr)) == NULL) {
		set_cause(cause, "cannot read %s: %s (enroll again with "
		    "'haven-agent enroll --force ...')", path, jerr.text);
		goto out;
	}
	id = json_string_value(json_object_get(m, "machine_id"));
	cs = json_string_value(json_object_get(m, "cs"));
	if (id == NULL || cs == NULL) {
		set_cause(cause, "%s lacks machine_id or cs (enroll again "
		    "with 'haven-agent enroll --force ...')", path);
		goto out;
	}
	if (a->conf.cs != NULL && *a->conf.cs != '\0')
		cs = a->conf.cs;
	if ((e->url = agent_cs_url(cs, cause)) == NULL)
		goto out;
	e->machine_id = xstrdup(id);
	e->cs = xstrdup(cs);
	e->ca_file = agent_path(a, AGENT_CA_FILE);
	e->cert_file = agent_path(a, AGENT_CERT_FILE);
	e->key_file = agent_path(a, AGENT_KEY_FILE);
	if (access(e->ca_file, R_OK) == -1 || access(e->cert_file, R_OK) == -1) {
		set_cause(cause, "cannot read %s or %s: %s (enroll again with "
		    "'haven-agent enroll --force ...')", e->ca_file,
		    e->cert_file, strerror(errno));
		goto out;
	}
	if (check_private_file(e->key_file, cause) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		agent_enrolled_free(e);
	json_decref(m);
	free(path);
	return rc;
}

int
agent_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list	ap;
	size_t	i;

	fprintf(stderr, "haven-agent %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	for (i = 0; i < nitems(agent_cmds); i++)
		if (strcmp(agent_cmds[i].name, cmd) == 0)
			fprintf(stderr, "\nusage: haven-agent [-c CONFIG] [-d] "
			    "%s%s%s", cmd, agent_cmds[i].usage[0] ? " " : "",
			    agent_cmds[i].usage);
	fputc('\n', stderr);
	return AGENT_USAGE;
}

static void
agent_print_cert(const char *label, const char *path)
{
	struct tls_certinfo	 ci;
	char			*cause = NULL, day[32];

	if (tls_cert_file_info(path, &ci, &cause) == -1) {
		printf("%-22s %s\n", label, cause);
		free(cause);
		return;
	}
	fmt_time(ci.not_after, day, sizeof(day));
	printf("%-22s %s, expires %.10s (%lld days)%s\n", label, ci.subject_cn,
	    day, (long long)((ci.not_after - now_unix()) / 86400),
	    ci.not_after < now_unix() ? "  EXPIRED: enroll again" : "");
}

static int
agent_status(struct agent *a, int argc, char **argv)
{
	struct agent_enrolled	 e;
	char			*cause = NULL;

	if (argc > 1)
		return agent_usage_error("status", "unexpected '%s'",
		    argv[1]);
	if (agent_load_enrolled(a, &e, &cause) == -1) {
		fprintf(stderr, "haven-agent: %s\n", cause);
		free(cause);
		return AGENT_FAIL;
	}
	printf("%-22s %s\n", "machine id", e.machine_id);
	printf("%-22s %s\n", "configuration server", e.cs);
	agent_print_cert("certificate", e.cert_file);
	agent_print_cert("site CA", e.ca_file);
	printf("%-22s %s\n", "state directory", a->conf.state_dir);
	replicate_status_print(a, stdout);
	agent_enrolled_free(&e);
	return AGENT_OK;
}

static void
agent_usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: haven-agent [-c CONFIG] [-d] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (i = 0; i < nitems(agent_cmds); i++)
		fprintf(f, "  %s%s%s\n\t%s\n", agent_cmds[i].name,
		    agent_cmds[i].usage[0] ? " " : "", agent_cmds[i].usage,
		    agent_cmds[i].help);
	fprintf(f, "\noptions:\n"
	    "  -c CONFIG  configuration file (default %s; may be absent)\n"
	    "  -d         debug: log everything to stderr\n",
	    AGENT_CONF_DEFAULT);
}

static int
agent_help(struct agent *a, int argc, char **argv)
{
	(void)a;
	(void)argc;
	(void)argv;
	agent_usage(stdout);
	printf("\nconfiguration keys:\n");
	conf_help(agent_conf_keys, stdout);
	return AGENT_OK;
}

static int
agent_conf_read(struct agent *a)
{
	struct conf_errors	errs = { NULL, 0 };
	const char		*path = a->conf_path;
	int			n;

	/* Without -c, a machine with no config file runs on defaults. */
	if (path == NULL) {
		path = AGENT_CONF_DEFAULT;
		if (access(path, F_OK) == -1 && errno == ENOENT)
			n = conf_parse(agent_conf_keys, &a->conf, "", path,
			    &errs);
		else
			n = conf_load(agent_conf_keys, &a->conf, path, &errs);
	} else
		n = conf_load(agent_conf_keys, &a->conf, path, &errs);
	if (n > 0) {
		conf_errors_print(&errs, path, stderr);
		conf_errors_free(&errs);
		conf_free(agent_conf_keys, &a->conf);
		return -1;
	}
	conf_errors_free(&errs);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct agent	 a;
	size_t		 i;
	int		 ch, rc;

	memset(&a, 0, sizeof(a));
	log_init("haven-agent", 1, LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "+c:dhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a.conf_path = optarg;
			break;
		case 'd':
			a.debug = 1;
			break;
		case 'h':
			agent_usage(stdout);
			return AGENT_OK;
		case 'V':
			printf("haven-agent %s\n", HAVEN_VERSION);
			return AGENT_OK;
		default:
			agent_usage(stderr);
			return AGENT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		agent_usage(stderr);
		return AGENT_USAGE;
	}
	for (i = 0; i < nitems(agent_cmds); i++)
		if (strcmp(argv[0], agent_cmds[i].name) == 0)
			break;
	if (i == nitems(agent_cmds)) {
		fprintf(stderr, "haven-agent: unknown command '%s'; "
		    "'haven-agent help' lists them\n", argv[0]);
		return AGENT_USAGE;
	}
	if (agent_conf_read(&a) == -1)
		return AGENT_FAIL;
	a.level = a.debug ? LOG_LVL_DEBUG : log_level_parse(a.conf.log_level);
	if (a.level < 0)
		a.level = LOG_LVL_INFO;
	log_setlevel(a.level);

	/* Handlers see argv[0] = command, for getopt. */
	rc = agent_cmds[i].fn(&a, argc, argv);
	conf_free(agent_conf_keys, &a.conf);
	return rc;
}

void
agent_settings_save(const struct agent *a, json_t *settings)
{
	char	*path = agent_path(a, AGENT_SETTINGS_FILE), *text, *cause = NULL;

	text = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
	if (text != NULL && write_file_atomic(path, text, strlen(text), 0600,
	    &cause) == -1) {
		log_warnx("cannot keep the configuration server's settings: "
		    "%s", cause);
		free(cause);
	}
	free(text);
	free(path);
}

json_t *
agent_settings_load(const struct agent *a)
{
	char	*path = agent_path(a, AGENT_SETTINGS_FILE);
	json_t	*j = json_load_file(path, 0, NULL);

	free(path);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}
