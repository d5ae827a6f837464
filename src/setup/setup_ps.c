/*
 * PS mode: a scale-out process server enrolls with its configuration
 * server by passphrase proof (src/common/enrollc.c, the agent's code),
 * keeps the site CA and its certificate in state_dir, asks the CS by a
 * mutual-TLS heartbeat where the master target's data port is, and
 * writes a havend.conf with roles = ps.  Nothing is kept from a failed
 * enrollment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "enrollc.h"
#include "httpc.h"
#include "inventory.h"
#include "setup.h"
#include "tls.h"
#include "util.h"

static char *
ps_path(const struct setup *s, const char *name)
{
	return xasprintf("%s/%s", s->state_dir, name);
}

static char *
ps_url(const struct setup *s)
{
	return xasprintf("https://%s", s->cs_addr);
}

/* The enrollment this state_dir holds, if it is complete. */
static json_t *
ps_enrolled(const struct setup *s)
{
	static const char *const files[] = { "ca.crt", "ps.crt", "ps.key" };
	json_t	*j;
	char	*p;
	size_t	 i;

	p = ps_path(s, SETUP_PS_ENROLLED);
	j = json_load_file(p, 0, NULL);
	free(p);
	if (!json_is_object(j) ||
	    json_string_value(json_object_get(j, "machine_id")) == NULL ||
	    json_string_value(json_object_get(j, "cs")) == NULL) {
		json_decref(j);
		return NULL;
	}
	for (i = 0; i < nitems(files); i++) {
		p = ps_path(s, files[i]);
		if (access(p, R_OK) == -1) {
			free(p);
			json_decref(j);
			return NULL;
		}
		free(p);
	}
	return j;
}

/* Key and certificate, then the CA, then the record of it all. */
static int
ps_save(struct setup *s, struct enrollc *en, const char *ca_tmp,
    char **cause)
{
	json_t	*j;
	char	*p, *ca, *text;
	int	 rc;

	p = ps_path(s, "ps.key");
	rc = tls_key_write(p, en->key, cause);
	free(p);
	if (rc == -1)
		return -1;
	p = ps_path(s, "ps.crt");
	rc = tls_cert_write(p, en->cert, cause);
	free(p);
	if (rc == -1)
		return -1;
	ca = ps_path(s, "ca.crt");
	if (rename(ca_tmp, ca) == -1) {
		set_cause(cause, "cannot rename %s to %s: %s", ca_tmp, ca,
		    strerror(errno));
		free(ca);
		return -1;
	}
	free(ca);
	j = json_pack("{s:s, s:s}", "machine_id", en->machine_id, "cs",
	    s->cs_addr);
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	p = ps_path(s, SETUP_PS_ENROLLED);
	rc = write_file_atomic(p, text, strlen(text), 0644, cause);
	free(p);
	free(text);
	return rc;
}

/*
 * Step: enroll as role "ps", unless this state_dir is enrolled with
 * this CS already.
 */
static int
ps_step_enroll(struct setup *s, char **cause)
{
	struct enrollc	 en;
	json_t		*j;
	const char	*cs;
	char		 host[256], *ca_tmp, *url;
	int		 rc = -1;

	s->cs_addr = strchr(s->o.cs_ip, ':') != NULL ?
	    xasprintf("[%s]:%lld", s->o.cs_ip, s->o.cs_port) :
	    xasprintf("%s:%lld", s->o.cs_ip, s->o.cs_port);
	if ((j = ps_enrolled(s)) != NULL) {
		cs = json_string_value(json_object_get(j, "cs"));
		if (strcmp(cs, s->cs_addr) != 0) {
			set_cause(cause, "this process server is enrolled with "
			    "the configuration server at %s (%s/%s); to enroll "
			    "it with %s instead, remove that file and run "
			    "haven-setup again", cs, s->state_dir,
			    SETUP_PS_ENROLLED, s->cs_addr);
			json_decref(j);
			return -1;
		}
		s->machine_id = xstrdup(json_string_value(json_object_get(j,
		    "machine_id")));
		json_decref(j);
		return STEP_SAME;
	}

	memset(&en, 0, sizeof(en));
	if (enrollc_passphrase(&en, s->o.passphrase_file, cause) == -1)
		return -1;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	url = ps_url(s);
	ca_tmp = ps_path(s, "ca.crt.enroll");
	en.cs = s->cs_addr;
	en.url = url;
	en.role = "ps";
	en.hostname = host;
	en.ca_file = ca_tmp;
	if (enrollc_run(&en, cause) == 0 && ps_save(s, &en, ca_tmp,
	    cause) == 0) {
		s->machine_id = xstrdup(en.machine_id);
		setup_note(s, "process server %s", en.machine_id);
		rc = STEP_DONE;
	}
	(void)unlink(ca_tmp);
	free(ca_tmp);
	free(url);
	enrollc_free(&en);
	return rc;
}

/* The mt_address the config holds now, or NULL. */
static char *
ps_conf_mt(const struct setup *s)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct haven_conf	 c;
	char			*mt = NULL;

	if (access(s->o.config_file, F_OK) == -1)
		return NULL;
	memset(&c, 0, sizeof(c));
	haven_conf_load(s->o.config_file, &c, &errs);
	if (c.mt_address != NULL)
		mt = xstrdup(c.mt_address);
	conf_errors_free(&errs);
	haven_conf_free(&c);
	return mt;
}

/*
 * Step: a heartbeat over mutual TLS, which proves the certificate works
 * and tells where the master target (on the CS) takes data.
 */
static int
ps_step_heartbeat(struct setup *s, char **cause)
{
	struct httpc_opts	 o;
	json_t			*body, *ans = NULL;
	char			*url, *ca, *crt, *key, *why = NULL, *mt, *now;
	json_int_t		 port;
	int			 rc = -1;

	url = ps_url(s);
	ca = ps_path(s, "ca.crt");
	crt = ps_path(s, "ps.crt");
	key = ps_path(s, "ps.key");
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.ca_file = ca;
	o.cert_file = crt;
	o.key_file = key;
	o.timeout_s = 30;
	body = json_pack("{s:o}", "inventory", inventory_gather(NULL, 0));
	if (httpc_call(&o, "POST", "/api/v1/heartbeat", body, NULL, &ans,
	    &why) == -1) {
		set_cause(cause, "heartbeat to the configuration server at %s "
		    "failed: %s", s->cs_addr, why);
		goto out;
	}
	port = json_integer_value(json_object_get(json_object_get(ans,
	    "replication"), "data_port"));
	if (port < 1 || port > 65535) {
		set_cause(cause, "the configuration server at %s did not say "
		    "which data port its master target uses", s->cs_addr);
		goto out;
	}
	s->mt_port = port;
	mt = ps_conf_mt(s);
	now = strchr(s->o.cs_ip, ':') != NULL ?
	    xasprintf("[%s]:%lld", s->o.cs_ip, s->mt_port) :
	    xasprintf("%s:%lld", s->o.cs_ip, s->mt_port);
	rc = mt != NULL && strcmp(mt, now) == 0 ? STEP_SAME : STEP_DONE;
	if (rc == STEP_DONE)
		setup_note(s, "master target at %s", now);
	free(mt);
	free(now);
out:
	free(why);
	json_decref(body);
	json_decref(ans);
	free(url);
	free(ca);
	free(crt);
	free(key);
	return rc;
}

/*
 * Step: havend as a process server only is not ready (docs/setup.md,
 * "PS mode"); say so rather than start something that cannot serve.
 */
static int
ps_step_start(struct setup *s, char **cause)
{
	(void)cause;
	setup_note(s, "havend cannot run as a process server only yet "
	    "(docs/setup.md, \"PS mode\"); the enrollment and %s are ready "
	    "for it", s->o.config_file);
	return STEP_SKIP;
}

const struct setup_step setup_ps_steps[] = {
	{ "Checking the input files", setup_step_inputs },
	{ "Creating the directories", setup_step_dirs },
	{ "Enrolling with the configuration server", ps_step_enroll },
	{ "Asking the configuration server for the master target",
	    ps_step_heartbeat },
	{ "Storing the proxy settings", setup_step_proxy },
	{ "Writing the havend configuration", setup_step_conf },
	{ "Storing the vault registration key", setup_step_vault },
	{ "Starting havend", ps_step_start },
};
const size_t setup_ps_nsteps = nitems(setup_ps_steps);

int
setup_ps_summary(struct setup *s, char **cause)
{
	(void)cause;
	printf("Process server: %s\n", s->machine_id);
	printf("Configuration server: https://%s/\n", s->cs_addr);
	fflush(stdout);
	return 0;
}
