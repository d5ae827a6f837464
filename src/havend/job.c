/*
 * A job process runs one piece of blocking work (libvirt, vSphere, SSH,
 * certificates), streams its progress to the parent, which relays it to
 * control (which records it in the jobs table), and ends with a result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api_push.h"
#include "disc.h"
#include "havend.h"
#include "ipc.h"
#include "job.h"
#include "log.h"
#include "pki.h"
#include "proto.h"
#include "util.h"

struct job {
	uint64_t		 id;
	struct ipc		*parent;
	struct event_base	*base;
	/* job_ask_parent(): the answer awaited, and what came. */
	int			 wait_type;
	int			 wait_cancel;
	const char		*wait_kind;
	int			 wait_got;	/* 1 the answer, -1 cancel */
};

void
job_progress(struct job *j, int percent, const char *fmt, ...)
{
	struct fbuf	 b;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_info("%d%%: %s", percent, msg);
	fbuf_init(&b);
	frame_begin(&b, IMSG_JOB_PROGRESS);
	frame_put_u64(&b, F_ID, j->id);
	frame_put_u64(&b, F_PERCENT, (uint64_t)(percent < 0 ? 0 :
	    percent > 100 ? 100 : percent));
	frame_put_str(&b, F_MESSAGE, msg);
	frame_end(&b);
	ipc_send(j->parent, &b, -1);
	ipc_flush(j->parent);
	fbuf_free(&b);
	free(msg);
}

static int
job_cert_renew(struct job *j, json_t *args, json_t **result, char **cause)
{
	struct tls_certinfo	ci;

	(void)args;
	job_progress(j, 10, "issuing a new server certificate from the site "
	    "CA");
	if (pki_renew_server(&hv.conf, &ci, cause) == -1)
		return -1;
	job_progress(j, 90, "new certificate %s valid until unix time %lld",
	    ci.serial, (long long)ci.not_after);
	*result = pki_certinfo_json(&ci);
	return 0;
}

static const struct job_kind job_kinds[] = {
	{ "cert.renew", job_cert_renew },
	{ "recover", job_recover },
	{ "prune", job_prune },
	{ "discover", job_discover },
	{ "push", job_push },
	{ NULL, NULL }
};

static void
job_parent_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct job	*j = arg;
	char		*kind;

	(void)c;
	if (fd != -1)
		close(fd);
	if (j->wait_type == 0 || (f->type != j->wait_type &&
	    f->type != j->wait_cancel))
		return;
	kind = frame_str(f, F_KIND);
	if (kind != NULL && strcmp(kind, j->wait_kind) == 0) {
		j->wait_got = f->type == j->wait_type ? 1 : -1;
		event_base_loopbreak(j->base);
	}
	free(kind);
}

static void
job_wait_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*j = arg;

	(void)fd;
	(void)ev;
	event_base_loopbreak(j->base);
}

void
job_tell_parent(struct job *j, const struct fbuf *msg)
{
	ipc_send(j->parent, msg, -1);
	ipc_flush(j->parent);
}

int
job_ask_parent(struct job *j, const struct fbuf *msg, int reply,
    int cancel, const char *kind, int timeout_s, char **cause)
{
	struct event	*t;
	struct timeval	 tv = { timeout_s, 0 };

	j->wait_type = reply;
	j->wait_cancel = cancel;
	j->wait_kind = kind;
	j->wait_got = 0;
	job_tell_parent(j, msg);
	t = evtimer_new(j->base, job_wait_timeout, j);
	evtimer_add(t, &tv);
	event_base_dispatch(j->base);
	event_free(t);
	j->wait_type = j->wait_cancel = 0;
	j->wait_kind = NULL;
	if (j->wait_got == 1)
		return 0;
	if (j->wait_got == -1)
		set_cause(cause, "the parent process withdrew the request");
	else
		set_cause(cause, "no answer from the parent process within "
		    "%d s", timeout_s);
	return -1;
}

static void
job_parent_closed(struct ipc *c, const char *reason, void *arg)
{
	(void)c;
	(void)arg;
	log_warnx("%s; stopping the job", reason);
	exit(1);
}

void
job_main(int parent_fd, uint64_t id, const char *kind, const char *args)
{
	const struct job_kind	*k;
	struct event_base	*b;
	struct job		 j;
	struct fbuf		 fb;
	json_t			*jargs, *result = NULL;
	char			*cause = NULL, *res;
	int			 rc = -1;

	if ((b = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	memset(&j, 0, sizeof(j));
	j.id = id;
	j.base = b;
	j.parent = ipc_new(b, parent_fd, "parent", proto_specs,
	    job_parent_msg, job_parent_closed, &j);
	jargs = json_loads(args, 0, NULL);
	for (k = job_kinds; k->name != NULL; k++)
		if (strcmp(k->name, kind) == 0)
			break;
	if (k->name == NULL)
		cause = xasprintf("unknown job kind '%s'", kind);
	else if (jargs == NULL)
		cause = xasprintf("the job's arguments are not valid JSON");
	else
		rc = k->fn(&j, jargs, &result, &cause);
	fbuf_init(&fb);
	frame_begin(&fb, IMSG_JOB_DONE);
	frame_put_u64(&fb, F_ID, id);
	frame_put_u64(&fb, F_SUCCESS, rc == 0);
	if (rc == 0 && result != NULL) {
		res = json_dumps(result, JSON_COMPACT);
		frame_put_str(&fb, F_JSON, res);
		free(res);
	}
	if (rc != 0)
		frame_put_str(&fb, F_ERROR, cause ? cause : "failed");
	frame_end(&fb);
	ipc_send(j.parent, &fb, -1);
	ipc_flush(j.parent);
	fbuf_free(&fb);
	if (rc != 0)
		log_warnx("job %llu (%s) failed: %s", (unsigned long long)id,
		    kind, cause ? cause : "?");
	json_decref(result);
	json_decref(jargs);
	free(cause);
	exit(rc == 0 ? 0 : 1);
}
