/*
 * havend.conf: the key table, and the checks that span several keys.
 * `havend -h` style help is conf_help(haven_conf_keys), so the help text
 * here is what operators read.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

#define K(f)	offsetof(struct haven_conf, f)

static const char *const haven_role_names[] = {
	"cs", "ps", "mt", "vault", NULL
};

static const struct {
	const char	*name;
	unsigned	 bit;
} haven_roles[] = {
	{ "cs", ROLE_CS }, { "ps", ROLE_PS }, { "mt", ROLE_MT },
	{ "vault", ROLE_VAULT },
};

static const char *const haven_log_levels[] = {
	"error", "warning", "info", "debug", NULL
};

const struct conf_key haven_conf_keys[] = {
	{ "roles", CONF_LIST, "cs ps mt", 0, 0, 0, haven_role_names, K(roles),
	    "Roles this appliance runs: cs (configuration server), ps "
	    "(process server), mt (master target), vault (recovery site)." },
	{ "listen_address", CONF_STR, "0.0.0.0", 0, 0, 0, NULL,
	    K(listen_address),
	    "Address the control, admin and data ports listen on." },
	{ "control_port", CONF_PORT, "443", 0, 0, 0, NULL, K(control_port),
	    "HTTPS JSON API for agents, scale-out process servers and the "
	    "vault." },
	{ "admin_port", CONF_PORT, "44315", 0, 0, 0, NULL, K(admin_port),
	    "HTTPS web UI and JSON API for people." },
	{ "data_port", CONF_PORT, "9443", 0, 0, 0, NULL, K(data_port),
	    "TLS replication stream from agents. 443 is refused: it belongs "
	    "to the control port." },
	{ "mt_address", CONF_STR, NULL, 0, 0, CONF_RELOAD, NULL,
	    K(mt_address),
	    "Where this process server's drain sends replication data: "
	    "IP:port of the master target's data port. Unset: the master "
	    "target on this appliance (127.0.0.1 and data_port)." },
	{ "cs_address", CONF_STR, NULL, 0, 0, CONF_RELOAD, NULL,
	    K(cs_address),
	    "On a scale-out process server: host:port of the control port "
	    "of the configuration server it enrolled with (haven-setup "
	    "/ServerMode PS writes it). Unset on the configuration server." },
	{ "state_dir", CONF_PATH, "/var/lib/haven", 0, 0, 0, NULL,
	    K(state_dir),
	    "Site CA, certificates, passphrase and other state." },
	{ "cache_dir", CONF_PATH, "/var/lib/haven/cache", 0, 0, 0, NULL,
	    K(cache_dir),
	    "Process server cache log: replication data acknowledged to "
	    "agents and not yet shipped. Put it on the cache disk." },
	{ "retention_dir", CONF_PATH, "/var/lib/haven/retention", 0, 0, 0,
	    NULL, K(retention_dir),
	    "Master target retention journal (recovery points). Put it on "
	    "the retention disk." },
	{ "journal_segment", CONF_SIZE, "64m", 1024 * 1024,
	    1024LL * 1024 * 1024, CONF_RELOAD, NULL, K(journal_segment),
	    "Size of a retention journal segment file. Pruning frees journal "
	    "space a whole segment at a time, so smaller segments give space "
	    "back sooner at the cost of more files." },
	{ "socket_path", CONF_PATH, "/run/haven/havend.sock", 0, 0, 0, NULL,
	    K(socket_path),
	    "Unix socket havenctl talks to." },
	{ "shards", CONF_INT, "0", 0, 64, 0, NULL, K(shards),
	    "Data path processes; 0 = one per CPU core." },
	{ "server_names", CONF_LIST, NULL, 0, 0, 0, NULL, K(server_names),
	    "Extra DNS names and IP addresses for the server certificate's "
	    "subjectAltName, separated by spaces or commas." },
	{ "cert_days", CONF_INT, "1095", 1, 3650, 0, NULL, K(cert_days),
	    "Validity in days of server certificates this site issues." },
	{ "db_host", CONF_STR, "127.0.0.1", 0, 0, CONF_RELOAD, NULL, K(db_host),
	    "MariaDB host (ignored when db_socket is set)." },
	{ "db_port", CONF_PORT, "3306", 0, 0, CONF_RELOAD, NULL, K(db_port),
	    "MariaDB TCP port." },
	{ "db_socket", CONF_PATH, NULL, 0, 0, CONF_RELOAD, NULL, K(db_socket),
	    "MariaDB unix socket; when set, used instead of db_host and "
	    "db_port." },
	{ "db_name", CONF_STR, "haven", 0, 0, CONF_RELOAD, NULL, K(db_name),
	    "MariaDB database." },
	{ "db_user", CONF_STR, "haven", 0, 0, CONF_RELOAD, NULL, K(db_user),
	    "MariaDB user." },
	{ "db_password_file", CONF_PATH, "/etc/haven/db.pass", 0, 0,
	    CONF_SECRET | CONF_RELOAD, NULL, K(db_password_file),
	    "File holding the MariaDB password; must be readable by its "
	    "owner only (chmod 600)." },
	{ "proxy_url", CONF_STR, NULL, 0, 0, CONF_RELOAD, NULL, K(proxy_url),
	    "HTTP proxy for connections this appliance makes to the "
	    "internet (the vault), as http://host:port. Unset: connect "
	    "directly. haven-setup writes it from /ProxySettingsFilePath." },
	{ "proxy_user", CONF_STR, NULL, 0, 0, CONF_RELOAD, NULL,
	    K(proxy_user),
	    "User name for the proxy; unset: the proxy needs no "
	    "authentication." },
	{ "proxy_password_file", CONF_PATH, NULL, 0, 0,
	    CONF_SECRET | CONF_RELOAD, NULL, K(proxy_password_file),
	    "File holding the proxy password sealed with the secrets key "
	    "(state_dir/secrets.key, as stored account secrets are), never "
	    "in clear; must be readable by its owner only (chmod 600)." },
	{ "log_level", CONF_ENUM, "info", 0, 0, CONF_RELOAD, haven_log_levels,
	    K(log_level),
	    "Least severe message that is logged." },
	{ "heartbeat_interval", CONF_INT, "30", 1, 3600, CONF_RELOAD, NULL,
	    K(heartbeat_interval),
	    "Seconds between agent and process server heartbeats." },
	{ "max_connections", CONF_INT, "1024", 1, 100000, CONF_RELOAD, NULL,
	    K(max_connections),
	    "Open connections allowed; more are refused until some close." },
	{ "max_body", CONF_SIZE, "1m", 1024, 64 * 1024 * 1024, CONF_RELOAD,
	    NULL, K(max_body),
	    "Largest API request body accepted (413 beyond it)." },
	{ "max_header", CONF_SIZE, "16k", 1024, 1024 * 1024, CONF_RELOAD,
	    NULL, K(max_header),
	    "Largest HTTP request header accepted (refused with 400 beyond it)." },
	{ "request_timeout", CONF_INT, "60", 1, 3600, CONF_RELOAD, NULL,
	    K(request_timeout),
	    "Seconds an API client may take to send a request." },
	{ "enroll_failures", CONF_INT, "5", 1, 1000, CONF_RELOAD, NULL,
	    K(enroll_failures),
	    "Failed enrollments allowed per address per minute before 429." },
	{ "enroll_token_ttl", CONF_INT, "3600", 1, 604800, CONF_RELOAD, NULL,
	    K(enroll_token_ttl),
	    "Seconds a one-time enrollment token stays valid (push installs "
	    "and 'havenctl token issue' without --valid)." },
	{ "history_interval", CONF_INT, "60", 1, 3600, CONF_RELOAD, NULL,
	    K(history_interval),
	    "Seconds between samples of each disk's achieved RPO and bytes "
	    "received and applied (the 24 h chart, kept 7 days)." },
	{ NULL }
};

/* Ports that must differ; havend binds all three on one address. */
static const struct {
	const char	*name;
	size_t		 off;
} haven_ports[] = {
	{ "control_port", K(control_port) },
	{ "admin_port", K(admin_port) },
	{ "data_port", K(data_port) },
};

static long long
haven_port(const struct haven_conf *c, size_t i)
{
	return *(const long long *)((const char *)c + haven_ports[i].off);
}

/*
 * The line of path that sets key, or 0 (a default): errors that span
 * keys still point at a line the operator can fix.
 */
static int
haven_key_line(const char *path, const char *key)
{
	char		*text, *p, *eol;
	size_t		 klen = strlen(key);
	int		 line = 0, found = 0;

	if (path == NULL || (text = read_file(path, NULL, NULL)) == NULL)
		return 0;
	for (p = text; *p != '\0'; p = eol) {
		line++;
		if ((eol = strchr(p, '\n')) != NULL)
			*eol++ = '\0';
		else
			eol = p + strlen(p);
		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, key, klen) != 0)
			continue;
		p += klen;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=')
			found = line;	/* the last one is the one that counts */
	}
	free(text);
	return found;
}

static void
haven_conf_check(struct haven_conf *c, const char *path,
    struct conf_errors *errs)
{
	size_t	i, j;
	int	line;

	/* Agents find the configuration server on 443; never mix the two. */
	if (c->data_port == 443)
		conf_error_add(errs, haven_key_line(path, "data_port"),
		    "data_port: 443 is reserved for the "
		    "control port (agents reach the configuration server on "
		    "it); use 9443");
	for (i = 0; i < nitems(haven_ports); i++) {
		for (j = i + 1; j < nitems(haven_ports); j++) {
			if (haven_port(c, i) != haven_port(c, j))
				continue;
			/* data_port = 443 is already reported above. */
			if (haven_ports[j].off == K(data_port) &&
			    c->data_port == 443)
				continue;
			if ((line = haven_key_line(path,
			    haven_ports[j].name)) == 0)
				line = haven_key_line(path,
				    haven_ports[i].name);
			conf_error_add(errs, line, "%s and %s are both %lld; each "
			    "of control_port, admin_port and data_port needs "
			    "its own port", haven_ports[i].name,
			    haven_ports[j].name, haven_port(c, i));
		}
	}

	c->role_mask = 0;
	for (i = 0; i < c->roles.n; i++)
		for (j = 0; j < nitems(haven_roles); j++)
			if (strcmp(c->roles.v[i], haven_roles[j].name) == 0)
				c->role_mask |= haven_roles[j].bit;
	if (c->role_mask == 0)
		conf_error_add(errs, 0, "roles: no role is enabled; list at "
		    "least one of: cs, ps, mt, vault");
}

int
haven_conf_load(const char *path, struct haven_conf *c,
    struct conf_errors *errs)
{
	size_t	before = errs->n;

	c->role_mask = 0;
	conf_load(haven_conf_keys, c, path, errs);
	haven_conf_check(c, path, errs);
	return (int)(errs->n - before);
}

void
haven_conf_free(struct haven_conf *c)
{
	conf_free(haven_conf_keys, c);
	c->role_mask = 0;
}
