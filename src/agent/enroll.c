/*
 * haven-agent enroll (docs/api.md "Enrollment"): the exchange is
 * src/common/enrollc.c (shared with haven-setup's process-server mode);
 * here are the command's arguments and where the agent keeps the result.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "enrollc.h"
#include "log.h"
#include "tls.h"
#include "util.h"

struct enroll {
	const char	*cs;
	const char	*passphrase_file;
	const char	*role;
	int		 force;
	int		 token_only;	/* --token-file: must be a token */
	char		*url;
	char		*ca_file;
	char		 hostname[256];
	struct enrollc	 c;		/* the exchange (src/common/enrollc.c) */
};

/* Keep what the server issued, machine.json last. */
static int
enroll_save(struct agent *a, struct enroll *en, char **cause)
{
	struct tls_certinfo	 ci;
	json_t			*m = NULL;
	char			*path = NULL, *text = NULL, day[32];
	int			 rc = -1;

	path = agent_path(a, AGENT_KEY_FILE);
	if (tls_key_write(path, en->c.key, cause) == -1)
		goto out;
	free(path);
	path = agent_path(a, AGENT_CERT_FILE);
	if (tls_cert_write(path, en->c.cert, cause) == -1)
		goto out;
	free(path);
	path = agent_path(a, AGENT_MACHINE_FILE);
	m = json_pack("{s:s, s:s}", "machine_id", en->c.machine_id, "cs",
	    en->cs);
	text = json_dumps(m, JSON_INDENT(2));
	if (text == NULL || write_file_atomic(path, text, strlen(text), 0644,
	    cause) == -1)
		goto out;

	tls_cert_info(en->c.cert, &ci);
	fmt_time(ci.not_after, day, sizeof(day));
	printf("enrolled as machine %s with the configuration server at %s; "
	    "the certificate is valid until %.10s\n"
	    "start the heartbeat with: systemctl enable --now haven-agent\n",
	    en->c.machine_id, en->cs, day);
	log_info("enrolled as machine %s with %s", en->c.machine_id, en->cs);
	rc = 0;
out:
	json_decref(m);
	free(text);
	free(path);
	return rc;
}

static void
enroll_free(struct enroll *en)
{
	enrollc_free(&en->c);
	free(en->url);
	free(en->ca_file);
}

static int
enroll_args(struct agent *a, struct enroll *en, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cs",			required_argument, NULL, 'c' },
		{ "passphrase-file",	required_argument, NULL, 'p' },
		{ "token-file",		required_argument, NULL, 't' },
		{ "role",		required_argument, NULL, 'r' },
		{ "force",		no_argument,	   NULL, 'f' },
		{ NULL,			0,		   NULL, 0 }
	};
	int	ch;

	en->role = "agent";
	en->cs = a->conf.cs;
	optind = 0;	/* glibc: start afresh after main's getopt */
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			en->cs = optarg;
			break;
		case 't':
			en->token_only = 1;
			/* FALLTHROUGH */
		case 'p':
			en->passphrase_file = optarg;
			break;
		case 'r':
			en->role = optarg;
			break;
		case 'f':
			en->force = 1;
			break;
		default:
			return agent_usage_error("enroll", "bad option");
		}
	}
	if (optind < argc)
		return agent_usage_error("enroll", "unexpected '%s'",
		    argv[optind]);
	if (en->cs == NULL || *en->cs == '\0')
		return agent_usage_error("enroll", "which configuration "
		    "server? give --cs HOST:PORT");
	if (en->passphrase_file == NULL)
		return agent_usage_error("enroll", "give --passphrase-file "
		    "FILE or --token-file FILE (the secret is never taken on "
		    "the command line)");
	if (strcmp(en->role, "agent") != 0 && strcmp(en->role, "ps") != 0)
		return agent_usage_error("enroll", "--role is agent or ps, "
		    "not '%s'", en->role);
	return AGENT_OK;
}

int
agent_enroll(struct agent *a, int argc, char **argv)
{
	struct enroll	 en;
	char		*cause = NULL, *mpath;
	int		 rc;

	memset(&en, 0, sizeof(en));
	if ((rc = enroll_args(a, &en, argc, argv)) != AGENT_OK)
		return rc;
	rc = AGENT_FAIL;
	if ((en.url = agent_cs_url(en.cs, &cause)) == NULL)
		goto out;
	mpath = agent_path(a, AGENT_MACHINE_FILE);
	if (!en.force && access(mpath, F_OK) == 0) {
		set_cause(&cause, "this machine is already enrolled (%s); "
		    "'haven-agent status' shows with whom. To enroll it anew, "
		    "as a new machine, add --force", mpath);
		free(mpath);
		goto out;
	}
	free(mpath);
	if (enrollc_passphrase(&en.c, en.passphrase_file, &cause) == -1)
		goto out;
	if (en.token_only && en.c.token_id[0] == '\0') {
		set_cause(&cause, "%s does not hold an enrollment token "
		    "(hvt1.<16 hex>.<64 hex>): put the output of 'havenctl "
		    "token issue' in it, or give a passphrase file with "
		    "--passphrase-file", en.passphrase_file);
		goto out;
	}
	if (gethostname(en.hostname, sizeof(en.hostname)) == -1)
		snprintf(en.hostname, sizeof(en.hostname), "unknown");
	en.hostname[sizeof(en.hostname) - 1] = '\0';
	if (mkdir_p(a->conf.state_dir, 0700, &cause) == -1)
		goto out;

	en.ca_file = agent_path(a, AGENT_CA_FILE);
	en.c.cs = en.cs;
	en.c.url = en.url;
	en.c.role = en.role;
	en.c.hostname = en.hostname;
	en.c.ca_file = en.ca_file;
	if (enrollc_run(&en.c, &cause) == -1)
		goto out;
	if (enroll_save(a, &en, &cause) == -1)
		goto out;
	rc = AGENT_OK;
out:
	if (cause != NULL) {
		fprintf(stderr, "haven-agent: %s\n", cause);
		free(cause);
	}
	enroll_free(&en);
	return rc;
}
