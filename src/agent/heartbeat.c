/*
 * haven-agent heartbeat: POST the inventory over mutual TLS, then wait
 * the interval the server asks for.  A failed heartbeat is logged and
 * retried, never fatal: the configuration server may be down for a while.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "inventory.h"
#include "log.h"
#include "replicate.h"
#include "util.h"

#define HB_DEFAULT	30
#define HB_MIN		1
#define HB_MAX		3600
#define HB_RETRY_MAX	30	/* after a failure, retry at least this often */

static int
heartbeat_once(struct agent *a, const struct agent_enrolled *e,
    const struct httpc_opts *o, long *interval, char **cause)
{
	json_t		*inv, *body, *ans = NULL, *iv, *rep;
	const char	*id;

	inv = inventory_gather((const char *const *)a->conf.disks.v,
	    a->conf.disks.n);
	body = json_pack("{s:o}", "inventory", inv);
	/* Per-disk replication state, once 'replicate' has run. */
	if ((rep = replicate_report(a)) != NULL)
		json_object_set_new(body, "replication", rep);
	if (httpc_call(o, "POST", "/api/v1/heartbeat", body, NULL, &ans,
	    cause) == -1) {
		json_decref(body);
		return -1;
	}
	iv = json_object_get(ans, "heartbeat_interval");
	*interval = json_is_integer(iv) ? (long)json_integer_value(iv) :
	    HB_DEFAULT;
	if (*interval < HB_MIN)
		*interval = HB_MIN;
	if (*interval > HB_MAX)
		*interval = HB_MAX;
	/* What the CS's policy says: replicate applies it each cycle. */
	if (json_is_object(json_object_get(ans, "replication")))
		agent_settings_save(a, json_object_get(ans, "replication"));
	id = json_string_value(json_object_get(ans, "machine_id"));
	if (id != NULL && strcmp(id, e->machine_id) != 0)
		log_warnx("%s knows this machine as %s, not %s as in %s/%s",
		    e->cs, id, e->machine_id, a->conf.state_dir,
		    AGENT_MACHINE_FILE);
	json_decref(ans);
	json_decref(body);
	return 0;
}

int
agent_heartbeat(struct agent *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once",	no_argument,	NULL, 'o' },
		{ NULL,		0,		NULL, 0 }
	};
	struct agent_enrolled	 e;
	struct httpc_opts	 o;
	struct timespec		 ts;
	sigset_t		 stop;
	char			*cause = NULL;
	long			 interval = HB_DEFAULT, wait;
	int			 ch, once = 0, failing = 0, sig;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (ch != 'o')
			return agent_usage_error("heartbeat", "bad option");
		once = 1;
	}
	if (optind < argc)
		return agent_usage_error("heartbeat", "unexpected '%s'",
		    argv[optind]);
	if (agent_load_enrolled(a, &e, &cause) == -1) {
		fprintf(stderr, "haven-agent: %s\n", cause);
		free(cause);
		return AGENT_FAIL;
	}
	memset(&o, 0, sizeof(o));
	o.base_url = e.url;
	o.ca_file = e.ca_file;
	o.cert_file = e.cert_file;
	o.key_file = e.key_file;
	o.timeout_s = 30;

	if (once) {
		if (heartbeat_once(a, &e, &o, &interval, &cause) == -1) {
			fprintf(stderr, "haven-agent: heartbeat to %s failed: "
			    "%s\n", e.cs, cause);
			free(cause);
			agent_enrolled_free(&e);
			return AGENT_FAIL;
		}
		printf("heartbeat to %s accepted (next in %lds)\n", e.cs,
		    interval);
		agent_enrolled_free(&e);
		return AGENT_OK;
	}

	/* As a service: syslog unless someone is watching. */
	log_init("haven-agent", a->debug || isatty(STDERR_FILENO), a->level);
	/*
	 * Blocked, SIGTERM stays pending through a transfer and ends the
	 * wait below at once; no window where it is lost.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	log_info("machine %s: heartbeats to %s", e.machine_id, e.cs);
	for (;;) {
		if (heartbeat_once(a, &e, &o, &interval, &cause) == -1) {
			wait = interval < HB_RETRY_MAX ? interval :
			    HB_RETRY_MAX;
			log_warnx("heartbeat to %s failed: %s; retrying in "
			    "%lds", e.cs, cause, wait);
			free(cause);
			cause = NULL;
			failing = 1;
		} else {
			wait = interval;
			if (failing)
				log_info("heartbeat to %s works again", e.cs);
			else
				log_debug("heartbeat to %s accepted; next in "
				    "%lds", e.cs, wait);
			failing = 0;
		}
		ts.tv_sec = wait;
		ts.tv_nsec = 0;
		do
			sig = sigtimedwait(&stop, NULL, &ts);
		while (sig == -1 && errno == EINTR);
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	agent_enrolled_free(&e);
	return AGENT_OK;
}
