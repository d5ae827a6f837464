/*
 * havend: the parent process.  It reads the config, opens the listening
 * sockets, forks the role processes (control, db, N shards, jobs),
 * restarts a dead one into the same slot, reloads on SIGHUP and stops
 * everything on SIGTERM.  It does no blocking work: it accepts data
 * connections and hands them to shards, and relays a few messages.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "havend.h"
#include "ipc.h"
#include "log.h"
#include "pki.h"
#include "proto.h"
#include "util.h"

struct slot {
	enum slot_kind	 kind;
	int		 index;		/* shard number */
	pid_t		 pid;
	struct ipc	*ipc;
	int		 restarts;
	int		 quick_deaths;	/* consecutive deaths soon after start */
	int64_t		 started_at;
	uint64_t	 started_ms;
	char		 last_exit[160];
	struct event	*restart_ev;
	/* jobs only */
	uint64_t	 job_id;
	int		 job_done;
	struct slot	*next;
};

static struct event_base	*base;
static struct slot		*slot_control, *slot_db;
static struct slot		**slot_shards;
static struct slot		*jobs;		/* running job processes */
static struct evconnlistener	*data_listener;
static int			 next_shard;
static int			 stopping;
static struct event		*stop_timer;

static void	parent_msg(struct ipc *, const struct frame *, int, void *);
static void	parent_ipc_closed(struct ipc *, const char *, void *);
static void	slot_start(struct slot *);
static void	claims_forget(struct slot *);

static const char *
slot_name(const struct slot *s, char *buf, size_t len)
{
	switch (s->kind) {
	case SLOT_CONTROL:
		return "control";
	case SLOT_DB:
		return "db";
	case SLOT_SHARD:
		snprintf(buf, len, "shard %d", s->index);
		return buf;
	case SLOT_JOB:
		snprintf(buf, len, "job %llu", (unsigned long long)s->job_id);
		return buf;
	}
	return "?";
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: havend [-dnv] [-f config]\n"
	    "  -f config  configuration file (default %s)\n"
	    "  -d         stay in the foreground and log to stderr\n"
	    "  -n         check the configuration and exit\n"
	    "  -k         list every configuration key with its default\n"
	    "  -v         print the version\n", HAVEN_CONF_DEFAULT);
	exit(2);
}

/* Listening sockets. */

static int
listen_tcp(const char *addr, long long port, const char *what)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen;
	int			 fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*sin6);
	} else
		fatalx("listen_address '%s' is not an IPv4 or IPv6 address: "
		    "set it in %s", addr, hv.conf_path);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket for the %s port", what);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1) {
		if (errno == EACCES)
			fatalx("cannot listen on %s:%lld for the %s port: "
			    "permission denied (ports below 1024 need root or "
			    "CAP_NET_BIND_SERVICE); or set %s_port in %s",
			    addr, port, what, what, hv.conf_path);
		if (errno == EADDRINUSE)
			fatalx("cannot listen on %s:%lld for the %s port: the "
			    "port is in use by another program (is havend "
			    "already running? see 'ss -ltnp'); or set "
			    "%s_port in %s", addr, port, what, what,
			    hv.conf_path);
		fatal("cannot listen on %s:%lld for the %s port", addr, port,
		    what);
	}
	if (listen(fd, 512) == -1)
		fatal("listen on %s:%lld", addr, port);
	set_nonblock(fd);
	return fd;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un	 sun;
	char			*dir, *slash, *cause = NULL;
	int			 fd;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755, &cause) == -1)
			fatalx("%s", cause);
	}
	free(dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("socket_path %s is too long (at most %zu bytes)", path,
		    sizeof(sun.sun_path) - 1);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	/* A stale socket from a crash: only if nobody answers on it. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("another havend is answering on %s: stop it first",
		    path);
	close(fd);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	mode_t old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("cannot create the control socket %s", path);
	umask(old);
	chmod(path, 0600);
	if (listen(fd, 64) == -1)
		fatal("listen on %s", path);
	set_nonblock(fd);
	return fd;
}

/* Children. */

static void
slot_exec(struct slot *s, int fd)
{
	char	 buf[32];

	/* In the child: a fresh start, nothing of the parent's loop. */
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	log_procname(slot_name(s, buf, sizeof(buf)));
	if (data_listener != NULL)
		close(evconnlistener_get_fd(data_listener));
	if (s->kind != SLOT_CONTROL) {
		close(hv.control_fd);
		close(hv.admin_fd);
		close(hv.unix_fd);
	}
	switch (s->kind) {
	case SLOT_CONTROL:
		control_main(fd);
	case SLOT_DB:
		db_main(&hv.conf, hv.conf_path, fd);
	case SLOT_SHARD:
		shard_main(fd, s->index);
	case SLOT_JOB:
		break;
	}
	fatalx("slot_exec: bad slot kind");
}

/* Close in the child every descriptor the parent holds for others. */
static void
close_inherited(struct slot *self)
{
	struct slot	*j;
	int		 i;

	if (slot_control != NULL && slot_control != self &&
	    slot_control->ipc != NULL)
		ipc_close_fd_in_child(slot_control->ipc);
	if (slot_db != NULL && slot_db != self && slot_db->ipc != NULL)
		ipc_close_fd_in_child(slot_db->ipc);
	for (i = 0; i < hv.nshards; i++)
		if (slot_shards[i] != NULL && slot_shards[i] != self &&
		    slot_shards[i]->ipc != NULL)
			ipc_close_fd_in_child(slot_shards[i]->ipc);
	for (j = jobs; j != NULL; j = j->next)
		if (j != self && j->ipc != NULL)
			ipc_close_fd_in_child(j->ipc);
}

static pid_t
slot_fork(struct slot *s, int *parent_end)
{
	int	sp[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return -1;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		close(sp[0]);
		close_inherited(s);
		if (s->kind != SLOT_JOB)
			slot_exec(s, sp[1]);
		*parent_end = sp[1];
		return 0;
	}
	close(sp[1]);
	*parent_end = sp[0];
	return pid;
}

/* A socketpair between control and db, one end to each. */
static void
db_channel_send(void)
{
	struct fbuf	b;
	int		sp[2];

	if (slot_control->ipc == NULL || slot_db->ipc == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair for the db channel");
		return;
	}
	fbuf_init(&b);
	frame_begin(&b, IMSG_DB_CHANNEL);
	frame_end(&b);
	ipc_send(slot_db->ipc, &b, sp[0]);
	ipc_send(slot_control->ipc, &b, sp[1]);
	fbuf_free(&b);
}

static void
slot_start(struct slot *s)
{
	char	 buf[32];
	int	 fd;
	pid_t	 pid;

	if (stopping)
		return;
	if ((pid = slot_fork(s, &fd)) == -1) {
		/* Try again shortly; fork failing is usually transient. */
		struct timeval tv = { 1, 0 };
		evtimer_add(s->restart_ev, &tv);
		return;
	}
	s->pid = pid;
	s->started_at = now_unix();
	s->started_ms = now_ms();
	s->ipc = ipc_new(base, fd, slot_name(s, buf, sizeof(buf)),
	    proto_specs, parent_msg, parent_ipc_closed, s);
	log_debug("started %s, pid %d", slot_name(s, buf, sizeof(buf)),
	    (int)pid);
	if (s->kind == SLOT_CONTROL || s->kind == SLOT_DB)
		db_channel_send();
}

static void
slot_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	slot_start(arg);
}

static struct slot *
slot_new(enum slot_kind kind, int index)
{
	struct slot	*s = xcalloc(1, sizeof(*s));

	s->kind = kind;
	s->index = index;
	s->pid = -1;
	strcpy(s->last_exit, "-");
	s->restart_ev = evtimer_new(base, slot_restart_cb, s);
	return s;
}

static struct slot *
slot_by_pid(pid_t pid)
{
	struct slot	*j;
	int		 i;

	if (slot_control->pid == pid)
		return slot_control;
	if (slot_db->pid == pid)
		return slot_db;
	for (i = 0; i < hv.nshards; i++)
		if (slot_shards[i]->pid == pid)
			return slot_shards[i];
	for (j = jobs; j != NULL; j = j->next)
		if (j->pid == pid)
			return j;
	return NULL;
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "stopped (status 0x%x)", status);
}

static void
job_finish(struct slot *j, int ok, const char *result, const char *error)
{
	struct fbuf	b;

	if (j->job_done)
		return;
	j->job_done = 1;
	if (slot_control->ipc == NULL)
		return;
	fbuf_init(&b);
	frame_begin(&b, IMSG_JOB_DONE);
	frame_put_u64(&b, F_ID, j->job_id);
	frame_put_u64(&b, F_SUCCESS, (uint64_t)ok);
	if (result != NULL)
		frame_put_str(&b, F_JSON, result);
	if (error != NULL)
		frame_put_str(&b, F_ERROR, error);
	frame_end(&b);
	ipc_send(slot_control->ipc, &b, -1);
	fbuf_free(&b);
}

static void
job_reap(struct slot *j, const char *how)
{
	struct slot	**pp;
	char		  err[256];

	if (!j->job_done) {
		snprintf(err, sizeof(err), "the job process %s before it "
		    "reported a result; see the log for what it was doing",
		    how);
		job_finish(j, 0, NULL, err);
	}
	for (pp = &jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	ipc_free(j->ipc);
	event_free(j->restart_ev);
	free(j);
}

static void
children_reap(void)
{
	struct slot	*s;
	struct timeval	 tv;
	char		 how[128], buf[32];
	int		 status;
	pid_t		 pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((s = slot_by_pid(pid)) == NULL)
			continue;
		describe_exit(status, how, sizeof(how));
		claims_forget(s);
		if (s->kind == SLOT_JOB) {
			log_debug("job %llu process %d %s",
			    (unsigned long long)s->job_id, (int)pid, how);
			job_reap(s, how);
			continue;
		}
		s->pid = -1;
		if (s->ipc != NULL) {
			ipc_free(s->ipc);
			s->ipc = NULL;
		}
		snprintf(s->last_exit, sizeof(s->last_exit), "%s", how);
		if (stopping)
			continue;
		log_warnx("%s (pid %d) %s; restarting it",
		    slot_name(s, buf, sizeof(buf)), (int)pid, how);
		s->restarts++;
		/*
		 * Restart at once; a process that keeps dying right after
		 * start backs off, so a crash loop cannot eat the machine.
		 */
		if (now_ms() - s->started_ms < 2000)
			s->quick_deaths++;
		else
			s->quick_deaths = 0;
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		if (s->quick_deaths > 3) {
			tv.tv_sec = s->quick_deaths > 10 ? 10 :
			    s->quick_deaths - 2;
			log_warnx("%s keeps dying right after start; next "
			    "try in %ld s", slot_name(s, buf, sizeof(buf)),
			    (long)tv.tv_sec);
		}
		evtimer_add(s->restart_ev, &tv);
	}
}

/* Status of the workers, for control's /api/v1/status. */
static json_t *
workers_json(void)
{
	json_t		*a = json_array();
	struct slot	*all[3 + 256];
	char		 ts[32];
	size_t		 n = 0, i;
	int		 k;

	all[n++] = slot_control;
	all[n++] = slot_db;
	for (k = 0; k < hv.nshards && n < nitems(all); k++)
		all[n++] = slot_shards[k];
	for (i = 0; i < n; i++) {
		struct slot	*s = all[i];
		static const char *const kinds[] = { "control", "db", "shard",
		    "job" };

		fmt_time(s->started_at, ts, sizeof(ts));
		json_array_append_new(a, json_pack("{s:i, s:s, s:i, s:i, "
		    "s:s, s:s, s:s}", "slot", (int)i, "kind", kinds[s->kind],
		    "pid", (int)s->pid, "restarts", s->restarts, "state",
		    s->pid > 0 ? "running" : "restarting", "last_exit",
		    s->last_exit, "started_at", ts));
	}
	return a;
}

static void
job_spawn(uint64_t id, const char *kind, const char *args)
{
	struct slot	*j = slot_new(SLOT_JOB, 0);
	char		 buf[32];
	int		 fd;
	pid_t		 pid;

	j->job_id = id;
	if ((pid = slot_fork(j, &fd)) == -1) {
		j->next = jobs;
		jobs = j;
		job_reap(j, "could not be started (fork failed)");
		return;
	}
	if (pid == 0) {
		log_procname(slot_name(j, buf, sizeof(buf)));
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		if (data_listener != NULL)
			close(evconnlistener_get_fd(data_listener));
		close(hv.control_fd);
		close(hv.admin_fd);
		close(hv.unix_fd);
		/* The parent's bookkeeping of this job is not the job's. */
		event_free(j->restart_ev);
		free(j);
		job_main(fd, id, kind, args);
	}
	j->pid = pid;
	j->started_at = now_unix();
	j->started_ms = now_ms();
	j->ipc = ipc_new(base, fd, slot_name(j, buf, sizeof(buf)), proto_specs,
	    parent_msg, parent_ipc_closed, j);
	j->next = jobs;
	jobs = j;
	log_info("job %llu (%s) started, pid %d", (unsigned long long)id,
	    kind, (int)pid);
}

/*
 * Disk ownership: one holder per key ("ingest:<disk>", "apply:<disk>").
 * A claim by another process asks the holder to release first, so two
 * shards never write the same disk's stream (docs/replication.md).
 */
struct claim {
	char		*key;
	struct slot	*holder;
	struct slot	*waiter;
	struct claim	*next;
};

static struct claim	*claims;

static void
claim_send(struct slot *s, uint16_t type, const char *key)
{
	struct fbuf	b;

	if (s == NULL || s->ipc == NULL)
		return;
	fbuf_init(&b);
	frame_begin(&b, type);
	frame_put_str(&b, F_KIND, key);
	frame_end(&b);
	ipc_send(s->ipc, &b, -1);
	fbuf_free(&b);
}

static void
claim_drop(struct claim *c)
{
	struct claim	**pp;

	for (pp = &claims; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c->key);
	free(c);
}

/* The holder let go (or died): the waiter, if any, gets the disk. */
static void
claim_pass(struct claim *c)
{
	if (c->waiter == NULL) {
		claim_drop(c);
		return;
	}
	c->holder = c->waiter;
	c->waiter = NULL;
	claim_send(c->holder, IMSG_DISK_GRANTED, c->key);
}

static void
claim_request(struct slot *s, const char *key)
{
	struct claim	*c;

	for (c = claims; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			break;
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->key = xstrdup(key);
		c->next = claims;
		claims = c;
	}
	if (c->holder == NULL || c->holder == s || c->holder->pid <= 0 ||
	    c->holder->ipc == NULL) {
		c->holder = s;
		claim_send(s, IMSG_DISK_GRANTED, key);
		return;
	}
	/* A newer claimant replaces an older waiting one. */
	if (c->waiter != NULL && c->waiter != s)
		claim_send(c->waiter, IMSG_DISK_RELEASE, key);
	c->waiter = s;
	claim_send(c->holder, IMSG_DISK_RELEASE, key);
}

static void
claim_released(struct slot *s, const char *key)
{
	struct claim	*c;

	for (c = claims; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			break;
	if (c == NULL)
		return;
	if (c->holder == s)
		claim_pass(c);
	else if (c->waiter == s)
		c->waiter = NULL;
}

/* A process died: what it held passes on, what it waited for is gone. */
static void
claims_forget(struct slot *s)
{
	struct claim	*c, *next;

	for (c = claims; c != NULL; c = next) {
		next = c->next;
		if (c->waiter == s)
			c->waiter = NULL;
		if (c->holder == s)
			claim_pass(c);
	}
}

static void
relay(struct ipc *to, const struct frame *f)
{
	struct fbuf	b;

	if (to == NULL)
		return;
	/* Re-encode rather than forward bytes: the frame was checked. */
	fbuf_init(&b);
	fbuf_add(&b, f->payload - FRAME_HDR_LEN, FRAME_HDR_LEN + f->len);
	ipc_send(to, &b, -1);
	fbuf_free(&b);
}

static void
parent_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct slot	*s = arg;
	struct fbuf	 b;
	json_t		*w;
	char		*str, *kind, *args, *res, *err;
	int		 i;

	(void)c;
	switch (f->type) {
	case IMSG_HELLO:
		break;
	case IMSG_STATUS_REQ:
		w = workers_json();
		str = json_dumps(w, JSON_COMPACT);
		fbuf_init(&b);
		frame_begin(&b, IMSG_STATUS);
		frame_put_u64(&b, F_ID, frame_u64(f, F_ID, 0));
		frame_put_str(&b, F_JSON, str);
		frame_end(&b);
		ipc_send(s->ipc, &b, -1);
		fbuf_free(&b);
		free(str);
		json_decref(w);
		break;
	case IMSG_JOB_START:
		if (s->kind != SLOT_CONTROL)
			break;
		kind = frame_str(f, F_KIND);
		args = frame_str(f, F_JSON);
		job_spawn(frame_u64(f, F_ID, 0), kind, args ? args : "{}");
		free(kind);
		free(args);
		break;
	case IMSG_JOB_PROGRESS:
		if (s->kind == SLOT_JOB)
			relay(slot_control->ipc, f);
		break;
	case IMSG_JOB_DONE:
		if (s->kind != SLOT_JOB)
			break;
		res = frame_str(f, F_JSON);
		err = frame_str(f, F_ERROR);
		job_finish(s, (int)frame_u64(f, F_SUCCESS, 0), res, err);
		free(res);
		free(err);
		break;
	case IMSG_TLS_RELOAD:
		for (i = 0; i < hv.nshards; i++)
			if (slot_shards[i]->ipc != NULL)
				ipc_send_empty(slot_shards[i]->ipc,
				    IMSG_TLS_RELOAD);
		break;
	case IMSG_SHARD_EVENT:
		if (s->kind == SLOT_SHARD)
			relay(slot_control->ipc, f);
		break;
	case IMSG_DISK_CLAIM:
	case IMSG_DISK_RELEASED:
		if (s->kind != SLOT_SHARD && s->kind != SLOT_JOB)
			break;
		kind = frame_str(f, F_KIND);
		if (f->type == IMSG_DISK_CLAIM)
			claim_request(s, kind);
		else
			claim_released(s, kind);
		free(kind);
		break;
	default:
		log_debug("unexpected message %u from %s", f->type,
		    ipc_peer(s->ipc));
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
parent_ipc_closed(struct ipc *c, const char *reason, void *arg)
{
	(void)c;
	(void)arg;
	/* The exit status from waitpid says more; this is for debugging. */
	log_debug("%s", reason);
}

/* Data connections: hand each to a shard, round robin. */
static void
data_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fbuf	 b;
	char		 host[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN + 8];
	int		 i, port = 0;

	(void)l;
	(void)salen;
	(void)arg;
	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
	}
	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	for (i = 0; i < hv.nshards; i++) {
		struct slot *s = slot_shards[(next_shard + i) % hv.nshards];

		if (s->ipc == NULL)
			continue;
		next_shard = (next_shard + i + 1) % hv.nshards;
		fbuf_init(&b);
		frame_begin(&b, IMSG_DATA_CONN);
		frame_put_str(&b, F_ADDR, addr);
		frame_end(&b);
		ipc_send(s->ipc, &b, fd);
		fbuf_free(&b);
		return;
	}
	log_warnx("data connection from %s dropped: no shard is running",
	    addr);
	close(fd);
}

/* Signals. */

static void
broadcast(uint16_t type)
{
	struct slot	*j;
	int		 i;

	if (slot_control->ipc != NULL)
		ipc_send_empty(slot_control->ipc, type);
	if (slot_db->ipc != NULL)
		ipc_send_empty(slot_db->ipc, type);
	for (i = 0; i < hv.nshards; i++)
		if (slot_shards[i]->ipc != NULL)
			ipc_send_empty(slot_shards[i]->ipc, type);
	if (type == IMSG_SHUTDOWN)
		for (j = jobs; j != NULL; j = j->next)
			if (j->pid > 0)
				kill(j->pid, SIGTERM);
}

static int
children_alive(void)
{
	int	i;

	if (slot_control->pid > 0 || slot_db->pid > 0 || jobs != NULL)
		return 1;
	for (i = 0; i < hv.nshards; i++)
		if (slot_shards[i]->pid > 0)
			return 1;
	return 0;
}

static void
kill_all(int sig)
{
	struct slot	*j;
	int		 i;

	if (slot_control->pid > 0)
		kill(slot_control->pid, sig);
	if (slot_db->pid > 0)
		kill(slot_db->pid, sig);
	for (i = 0; i < hv.nshards; i++)
		if (slot_shards[i]->pid > 0)
			kill(slot_shards[i]->pid, sig);
	for (j = jobs; j != NULL; j = j->next)
		if (j->pid > 0)
			kill(j->pid, sig);
}

static void
stop_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (children_alive()) {
		log_warnx("workers still running after 4 s; killing them");
		kill_all(SIGKILL);
	}
	event_base_loopexit(base, NULL);
}

static void
reload(void)
{
	log_info("SIGHUP: re-reading %s", hv.conf_path);
	if (havend_reload_conf(1) == 0)
		broadcast(IMSG_RELOAD);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGHUP:
		if (!stopping)
			reload();
		break;
	case SIGTERM:
	case SIGINT:
		if (stopping)
			break;
		stopping = 1;
		log_info("stopping (signal %d)", (int)sig);
		if (data_listener != NULL)
			evconnlistener_disable(data_listener);
		broadcast(IMSG_SHUTDOWN);
		{
			struct timeval tv = { 4, 0 };

			stop_timer = evtimer_new(base, stop_timeout, NULL);
			evtimer_add(stop_timer, &tv);
		}
		break;
	case SIGCHLD:
		children_reap();
		if (stopping && !children_alive())
			event_base_loopexit(base, NULL);
		break;
	}
}

static int
check_config(const char *path, int print_ok)
{
	struct conf_errors	errs = { NULL, 0 };
	int			n;

	n = haven_conf_load(path, &hv.conf, &errs);
	if (n != 0) {
		conf_errors_print(&errs, path, stderr);
		fprintf(stderr, "%s: %d error%s\n", path, n, n == 1 ? "" : "s");
		conf_errors_free(&errs);
		return -1;
	}
	if (print_ok)
		printf("configuration OK\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct event	*sigs[4];
	static const int signums[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };
	char		*cause = NULL;
	int		 ch, check = 0, i;

	hv.conf_path = xstrdup(HAVEN_CONF_DEFAULT);
	while ((ch = getopt(argc, argv, "df:hknv")) != -1) {
		switch (ch) {
		case 'd':
			hv.foreground = 1;
			break;
		case 'f':
			free(hv.conf_path);
			hv.conf_path = xstrdup(optarg);
			break;
		case 'k':
			conf_help(haven_conf_keys, stdout);
			return 0;
		case 'n':
			check = 1;
			break;
		case 'v':
			printf("havend %s\n", HAVEN_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	log_init("havend", 1, LOG_LVL_INFO);
	if (check_config(hv.conf_path, check) == -1)
		return 1;
	if (check)
		return 0;
	log_init("havend", hv.foreground, log_level_parse(hv.conf.log_level));
	log_procname("parent");
	hv.started_at = now_unix();
	hv.nshards = (int)hv.conf.shards;
	if (hv.nshards == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		hv.nshards = n > 0 ? (int)n : 1;
	}
	if (hv.nshards > 256)
		hv.nshards = 256;

	if (mkdir_p(hv.conf.state_dir, 0700, &cause) == -1)
		fatalx("%s", cause);
	if (pki_ensure(&hv.conf, &cause) == -1)
		fatalx("site certificates: %s", cause);

	hv.control_fd = listen_tcp(hv.conf.listen_address,
	    hv.conf.control_port, "control");
	hv.admin_fd = listen_tcp(hv.conf.listen_address, hv.conf.admin_port,
	    "admin");
	hv.unix_fd = listen_unix(hv.conf.socket_path);
	int data_fd = listen_tcp(hv.conf.listen_address, hv.conf.data_port,
	    "data");

	if (!hv.foreground && daemon(1, 0) == -1)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	data_listener = evconnlistener_new(base, data_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, data_fd);
	if (data_listener == NULL)
		fatalx("cannot watch the data port");
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], signal_cb, NULL);
		evsignal_add(sigs[i], NULL);
	}

	slot_control = slot_new(SLOT_CONTROL, 0);
	slot_db = slot_new(SLOT_DB, 0);
	slot_shards = xcalloc((size_t)hv.nshards, sizeof(*slot_shards));
	for (i = 0; i < hv.nshards; i++)
		slot_shards[i] = slot_new(SLOT_SHARD, i);
	slot_start(slot_db);
	slot_start(slot_control);
	for (i = 0; i < hv.nshards; i++)
		slot_start(slot_shards[i]);
	char roles[64] = "";
	for (size_t r = 0; r < hv.conf.roles.n; r++) {
		strlcat_s(roles, hv.conf.roles.v[r], sizeof(roles));
		if (r + 1 < hv.conf.roles.n)
			strlcat_s(roles, " ", sizeof(roles));
	}
	log_info("havend %s started: roles %s, control %s:%lld, admin "
	    "%s:%lld, data %s:%lld, %d shard%s", HAVEN_VERSION, roles,
	    hv.conf.listen_address, hv.conf.control_port,
	    hv.conf.listen_address, hv.conf.admin_port,
	    hv.conf.listen_address, hv.conf.data_port, hv.nshards,
	    hv.nshards == 1 ? "" : "s");

	event_base_dispatch(base);

	children_reap();
	unlink(hv.conf.socket_path);
	log_info("stopped");
	return 0;
}
