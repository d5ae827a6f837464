/*
 * The control process: serves the JSON API on the control port (agents),
 * the admin port (people) and the unix socket (havenctl); runs the
 * periodic work; reaches the database only through the db process, so
 * no query ever blocks this loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "api_disc.h"
#include "api_ui.h"
#include "control.h"
#include "havend.h"
#include "hist.h"
#include "ipc.h"
#include "log.h"
#include "pki.h"
#include "proto.h"
#include "repl.h"
#include "util.h"
#include "www.h"

struct lst {
	int			 kind;
	const char		*name;
	struct evhttp		*http;
	struct evconnlistener	*l;
	int			 nconn;
	int			 paused;
};

struct db_wait {
	uint64_t	 id;
	db_cb		 cb;
	void		*arg;
	struct db_wait	*next;
};

struct parent_wait {
	uint64_t		 id;
	workers_cb		 cb;
	void			*arg;
	struct parent_wait	*next;
};

struct job_wait {
	uint64_t	 id;
	char		*kind;
	job_cb		 cb;
	void		*arg;
	struct job_wait	*next;
};

static struct event_base	*base;
static struct ipc		*parent, *dbc;
static struct lst		 lsts[3];
static SSL_CTX			*ctx_control, *ctx_admin;
static int			 ssl_idx = -1;
static X509			*ca;
static EVP_PKEY			*cakey;
static json_t			*db_state;
static struct db_wait		*db_waits;
static struct parent_wait	*parent_waits;
static struct job_wait		*job_waits;
static uint64_t			 next_id = 1;
static struct event		*sweep_ev;

/* TLS. */

static void
ssl_conn_gone(void *parent_obj, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct lst	*l = ptr;

	(void)parent_obj;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (l == NULL)
		return;
	l->nconn--;
	if (l->paused && l->nconn < hv.conf.max_connections) {
		l->paused = 0;
		evconnlistener_enable(l->l);
	}
}

static struct bufferevent *
tls_bevcb(struct event_base *b, void *arg)
{
	struct lst	*l = arg;
	SSL		*ssl;

	ssl = SSL_new(l->kind == LST_CONTROL ? ctx_control : ctx_admin);
	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, ssl_idx, l);
	/*
	 * Past the limit, stop accepting: new clients wait in the kernel's
	 * backlog instead of costing memory here.
	 */
	if (++l->nconn >= hv.conf.max_connections && !l->paused) {
		l->paused = 1;
		evconnlistener_disable(l->l);
		log_warnx("%s port: %d connections, the max_connections "
		    "limit; new ones wait until others close", l->name,
		    l->nconn);
	}
	return bufferevent_openssl_socket_new(b, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static int
tls_load(void)
{
	SSL_CTX	*c, *a;
	char	*crt = pki_path(&hv.conf, "server.crt");
	char	*key = pki_path(&hv.conf, "server.key");
	char	*cafile = pki_path(&hv.conf, "ca.crt");
	char	*crl = pki_path(&hv.conf, "crl.pem");
	char	*cakeyf = pki_path(&hv.conf, "ca.key");
	char	*cause = NULL;
	X509	*nca;
	EVP_PKEY *nkey;
	int	 rc = -1;

	c = tls_server_ctx(crt, key, cafile, crl, TLS_VERIFY_OPTIONAL, &cause);
	if (c == NULL)
		goto out;
	a = tls_server_ctx(crt, key, cafile, NULL, TLS_VERIFY_NONE, &cause);
	if (a == NULL) {
		SSL_CTX_free(c);
		goto out;
	}
	if ((nca = tls_cert_read(cafile, &cause)) == NULL ||
	    (nkey = tls_key_read(cakeyf, &cause)) == NULL) {
		X509_free(nca);
		SSL_CTX_free(c);
		SSL_CTX_free(a);
		goto out;
	}
	/* Connections already open keep their context (refcounted). */
	SSL_CTX_free(ctx_control);
	SSL_CTX_free(ctx_admin);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	ctx_control = c;
	ctx_admin = a;
	ca = nca;
	cakey = nkey;
	rc = 0;
out:
	if (rc == -1) {
		log_warnx("cannot load the TLS certificates: %s", cause);
		free(cause);
	}
	free(crt);
	free(key);
	free(cafile);
	free(crl);
	free(cakeyf);
	return rc;
}

void
control_tls_reload(int tell_parent)
{
	if (tls_load() == 0)
		log_info("reloaded the TLS certificates and CRL");
	if (tell_parent)
		ipc_send_empty(parent, IMSG_TLS_RELOAD);
}

X509 *
control_ca(void)
{
	return ca;
}

EVP_PKEY *
control_ca_key(void)
{
	return cakey;
}

/* Requests. */

static void
api_req_free(struct api_req *r)
{
	json_decref(r->body);
	free(r->param_buf);
	free(r->machine_id);
	free(r->machine_fp);
	free(r->actor);
	free(r);
}

void
api_reply(struct api_req *r, int status, json_t *body)
{
	struct evbuffer	*out;
	char		*s;

	if (body == NULL)
		body = json_object();
	s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	out = evbuffer_new();
	evbuffer_add(out, s, strlen(s));
	evbuffer_add(out, "\n", 1);
	free(s);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Cache-Control", "no-store");
	/* Safe even if the client is gone: evhttp frees a detached request. */
	evhttp_send_reply(r->req, status, NULL, out);
	evbuffer_free(out);
	api_req_free(r);
}

/* Not JSON (/metrics): text as is, with its content type. */
void
api_reply_text(struct api_req *r, int status, const char *type,
    const char *text)
{
	struct evbuffer	*out = evbuffer_new();

	evbuffer_add(out, text, strlen(text));
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Cache-Control", "no-store");
	evhttp_send_reply(r->req, status, NULL, out);
	evbuffer_free(out);
	api_req_free(r);
}

void
api_error(struct api_req *r, int status, const char *code, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (status >= 500)
		log_warnx("%s %s from %s: %s", code,
		    evhttp_request_get_uri(r->req), r->addr, msg);
	else
		log_debug("%s %s from %s: %s", code,
		    evhttp_request_get_uri(r->req), r->addr, msg);
	api_reply(r, status, json_pack("{s:{s:s, s:s}}", "error", "code",
	    code, "message", msg));
	free(msg);
}

void
audit(struct api_req *r, const char *action, const char *target,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*detail;

	va_start(ap, fmt);
	detail = xvasprintf(fmt, ap);
	va_end(ap);
	log_info("audit: %s from %s: %s %s%s%s", r->actor ? r->actor : "-",
	    r->addr, action, target ? target : "", detail[0] ? ": " : "",
	    detail);
	db_call("audit.add", json_pack("{s:s, s:s, s:s, s:s?, s:s}", "actor",
	    r->actor ? r->actor : "-", "address", r->addr, "action", action,
	    "target", target, "detail", detail), NULL, NULL);
	free(detail);
}

/* "/api/v1/machines/{}/revoke" against a path; fills params. */
static int
route_match(const char *pat, const char *path, struct api_req *r)
{
	char	*buf, *p;
	int	 np = 0;

	free(r->param_buf);
	r->param_buf = buf = xstrdup(path);
	r->params[0] = r->params[1] = NULL;
	p = buf;
	while (*pat != '\0') {
		if (pat[0] == '{' && pat[1] == '}') {
			size_t n = strcspn(p, "/");

			if (n == 0 || np == 2)
				return 0;
			r->params[np++] = p;
			p += n;
			if (*p == '/') {
				*p = '\0';
				p++;
				pat += 2;
				if (*pat != '/')
					return 0;
				pat++;
				continue;
			}
			pat += 2;
			continue;
		}
		if (*pat != *p)
			return 0;
		pat++;
		p++;
	}
	return *p == '\0';
}

static void
peer_addr(struct evhttp_request *req, struct lst *l, char *buf, size_t len)
{
	struct evhttp_connection	*evcon;
	const char			*host = NULL;
	uint16_t			 port = 0;

	if (l->kind == LST_UNIX) {
		snprintf(buf, len, "unix");
		return;
	}
	if ((evcon = evhttp_request_get_connection(req)) != NULL)
		evhttp_connection_get_peer(evcon, (char **)&host, &port);
	snprintf(buf, len, "%s", host ? host : "?");
}

/* 1 if the client presented a certificate that is on the CRL. */
static int
peer_cert(struct api_req *r)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	SSL				*ssl;

	if ((evcon = evhttp_request_get_connection(r->req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return 0;
	if (SSL_get0_peer_certificate(ssl) != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_ERR_CERT_REVOKED)
		return 1;
	if (tls_peer_identity(ssl, &r->machine_id, &r->machine_fp) == -1) {
		r->machine_id = NULL;
		r->machine_fp = NULL;
	}
	return 0;
}

static void www_serve(struct evhttp_request *, struct lst *);

static void
dispatch(struct evhttp_request *req, void *arg)
{
	struct lst		*l = arg;
	const struct api_route	*rt;
	struct api_req		*r;
	struct evbuffer		*in;
	const char		*uri = evhttp_request_get_uri(req);
	struct evhttp_uri	*pu;
	const char		*path;
	json_error_t		 jerr;
	size_t			 len;
	int			 method = evhttp_request_get_command(req);
	int			 path_known = 0;

	if ((pu = evhttp_uri_parse(uri)) == NULL) {
		evhttp_send_error(req, 400, "malformed request URI");
		return;
	}
	path = evhttp_uri_get_path(pu);
	if (path == NULL || (strncmp(path, "/api/", 5) != 0 &&
	    strcmp(path, "/metrics") != 0)) {
		evhttp_uri_free(pu);
		if (l->kind == LST_ADMIN)
			www_serve(req, l);
		else
			evhttp_send_error(req, 404, "not found");
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->req = req;
	r->listener = l->kind;
	peer_addr(req, l, r->addr, sizeof(r->addr));
	for (rt = api_routes; rt->path != NULL; rt++) {
		if (!route_match(rt->path, path, r))
			continue;
		path_known = 1;
		if (rt->method == method && (rt->listeners & l->kind))
			break;
	}
	evhttp_uri_free(pu);
	if (rt->path == NULL) {
		if (path_known)
			api_error(r, 405, "method_not_allowed", "%s does not "
			    "accept this method on the %s listener", uri,
			    l->name);
		else
			api_error(r, 404, "not_found", "no API route %s", uri);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	if ((len = evbuffer_get_length(in)) > 0) {
		r->body = json_loadb((const char *)evbuffer_pullup(in, -1), len,
		    JSON_REJECT_DUPLICATES, &jerr);
		if (r->body == NULL) {
			api_error(r, 400, "bad_json", "the request body is not "
			    "valid JSON: %s (line %d, column %d)", jerr.text,
			    jerr.line, jerr.column);
			return;
		}
		if (!json_is_object(r->body)) {
			api_error(r, 400, "bad_json", "the request body must "
			    "be a JSON object");
			return;
		}
	}
	switch (rt->auth) {
	case AUTH_NONE:
		break;
	case AUTH_MACHINE:
		if (peer_cert(r)) {
			api_error(r, 403, "revoked", "this machine's "
			    "certificate was revoked on the configuration "
			    "server; enroll it again to protect it");
			return;
		}
		if (r->machine_id == NULL) {
			api_error(r, 401, "no_certificate", "this call needs "
			    "the client certificate from enrollment: enroll "
			    "first (haven-agent enroll)");
			return;
		}
		r->actor = xasprintf("machine %s", r->machine_id);
		break;
	case AUTH_ADMIN:
		if (l->kind == LST_UNIX) {
			r->actor = xstrdup("root (havenctl)");
			break;
		}
		if (session_check(r) == -1)
			return;		/* answered */
		break;
	}
	rt->fn(r);
}

/* Accept-Encoding lists gzip (or *), and not with q=0. */
static int
accepts_gzip(const char *ae)
{
	const char	*p = ae, *q;
	size_t		 n;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t;,");
		if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (n == 1 && *p == '*')) {
			q = p + n + strspn(p + n, " \t");
			if (strncmp(q, ";q=", 3) != 0 &&
			    strncmp(q, "; q=", 4) != 0)
				return 1;
			q = strchr(q, '=') + 1;
			return strtod(q, NULL) > 0;
		}
		p += strcspn(p, ",");
	}
	return 0;
}

static void
www_serve(struct evhttp_request *req, struct lst *l)
{
	const struct www_file	*f;
	const char		*uri = evhttp_request_get_uri(req);
	struct evbuffer		*out;
	struct evkeyvalq	*hdrs;
	const char		*ae;
	char			 name[128];
	size_t			 n;

	(void)l;
	if (strcmp(uri, "/") == 0 || strncmp(uri, "/?", 2) == 0)
		snprintf(name, sizeof(name), "index.html");
	else {
		n = strcspn(uri + 1, "?#");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, uri + 1, n);
		name[n] = '\0';
	}
	for (f = www_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			break;
	if (f->name == NULL) {
		evhttp_send_error(req, 404, "not found");
		return;
	}
	out = evbuffer_new();
	hdrs = evhttp_request_get_output_headers(req);
	ae = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept-Encoding");
	if (ae != NULL && accepts_gzip(ae) && f->gzlen < f->len) {
		evbuffer_add_reference(out, f->gz, f->gzlen, NULL, NULL);
		evhttp_add_header(hdrs, "Content-Encoding", "gzip");
	} else
		evbuffer_add_reference(out, f->data, f->len, NULL, NULL);
	evhttp_add_header(hdrs, "Vary", "Accept-Encoding");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", f->type);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "X-Content-Type-Options", "nosniff");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Security-Policy", "default-src 'self'; "
	    "frame-ancestors 'none'");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
http_limits(struct lst *l)
{
	evhttp_set_max_body_size(l->http, hv.conf.max_body);
	evhttp_set_max_headers_size(l->http, hv.conf.max_header);
	evhttp_set_timeout(l->http, (int)hv.conf.request_timeout);
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
}

static void
lst_open(struct lst *l, int kind, const char *name, int fd)
{
	l->kind = kind;
	l->name = name;
	l->http = evhttp_new(base);
	http_limits(l);
	if (kind != LST_UNIX)
		evhttp_set_bevcb(l->http, tls_bevcb, l);
	evhttp_set_gencb(l->http, dispatch, l);
	l->l = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->l == NULL)
		fatalx("cannot watch the %s listener", name);
	if (evhttp_bind_listener(l->http, l->l) == NULL)
		fatalx("evhttp_bind_listener for the %s listener", name);
}

/* The db process. */

static void
db_state_set(json_t *st)
{
	const char	*old = db_state ?
	    json_string_value(json_object_get(db_state, "state")) : NULL;
	const char	*now = json_string_value(json_object_get(st, "state"));

	if (old == NULL || now == NULL || strcmp(old, now) != 0)
		log_info("database is %s%s%s", now ? now : "?",
		    json_string_value(json_object_get(st, "error")) ? ": " : "",
		    json_string_value(json_object_get(st, "error")) ?
		    json_string_value(json_object_get(st, "error")) : "");
	json_decref(db_state);
	db_state = st;
}

json_t *
control_db_state(void)
{
	if (db_state == NULL)
		return json_pack("{s:s, s:s}", "state", "connecting", "error",
		    "the database helper has not reported yet");
	return json_incref(db_state);
}

int
control_db_up(void)
{
	const char *s = db_state ?
	    json_string_value(json_object_get(db_state, "state")) : NULL;

	return s != NULL && strcmp(s, "up") == 0;
}

static void
db_fail_all(const char *why)
{
	struct db_wait	*w;

	while ((w = db_waits) != NULL) {
		db_waits = w->next;
		if (w->cb != NULL)
			w->cb(NULL, why, w->arg);
		free(w);
	}
}

void
db_call(const char *op, json_t *args, db_cb cb, void *arg)
{
	struct db_wait	*w;
	struct fbuf	 b;
	char		*s;

	if (dbc == NULL) {
		json_decref(args);
		if (cb != NULL)
			cb(NULL, "database unavailable: the database helper "
			    "process is restarting; try again", arg);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->id = next_id++;
	w->cb = cb;
	w->arg = arg;
	w->next = db_waits;
	db_waits = w;
	if (args == NULL)
		args = json_object();
	s = json_dumps(args, JSON_COMPACT);
	json_decref(args);
	fbuf_init(&b);
	frame_begin(&b, IMSG_DB_CALL);
	frame_put_u64(&b, F_ID, w->id);
	frame_put_str(&b, F_OP, op);
	frame_put_str(&b, F_JSON, s);
	frame_end(&b);
	ipc_send(dbc, &b, -1);
	fbuf_free(&b);
	free(s);
}

static void
db_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct db_wait	**pp, *w;
	json_t		 *res = NULL;
	char		 *s, *err;
	uint64_t	  id;

	(void)c;
	(void)arg;
	if (fd != -1)
		close(fd);
	switch (f->type) {
	case IMSG_DB_STATE:
		s = frame_str(f, F_JSON);
		if ((res = json_loads(s, 0, NULL)) != NULL)
			db_state_set(res);
		free(s);
		break;
	case IMSG_DB_REPLY:
		id = frame_u64(f, F_ID, 0);
		for (pp = &db_waits; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->id == id)
				break;
		if ((w = *pp) == NULL)
			break;
		*pp = w->next;
		err = frame_str(f, F_ERROR);
		if (frame_u64(f, F_SUCCESS, 0)) {
			s = frame_str(f, F_JSON);
			res = s ? json_loads(s, 0, NULL) : json_object();
			free(s);
			if (res == NULL) {
				free(err);
				err = xstrdup("the database helper sent a "
				    "malformed answer");
			}
		} else if (err == NULL)
			err = xstrdup("the database operation failed");
		if (w->cb != NULL)
			w->cb(res, err, w->arg);
		json_decref(res);
		free(err);
		free(w);
		break;
	}
}

static void
db_closed(struct ipc *c, const char *reason, void *arg)
{
	(void)arg;
	log_debug("db channel: %s", reason);
	if (c == dbc) {
		ipc_free(dbc);
		dbc = NULL;
	} else
		ipc_free(c);
	db_state_set(json_pack("{s:s, s:s}", "state", "connecting", "error",
	    "the database helper process is restarting"));
	db_fail_all("database unavailable: the database helper process "
	    "restarted during the call; try again");
}

/* The parent. */

void
control_workers(workers_cb cb, void *arg)
{
	struct parent_wait	*w = xcalloc(1, sizeof(*w));
	struct fbuf		 b;

	w->id = next_id++;
	w->cb = cb;
	w->arg = arg;
	w->next = parent_waits;
	parent_waits = w;
	fbuf_init(&b);
	frame_begin(&b, IMSG_STATUS_REQ);
	frame_put_u64(&b, F_ID, w->id);
	frame_end(&b);
	ipc_send(parent, &b, -1);
	fbuf_free(&b);
}

struct job_start {
	char		*kind;
	char		*args;
	job_cb		 cb;
	void		*arg;
};

static void
job_created(json_t *res, const char *err, void *arg)
{
	struct job_start	*js = arg;
	struct job_wait		*w;
	struct fbuf		 b;
	uint64_t		 id;

	if (err != NULL) {
		if (js->cb != NULL)
			js->cb(0, 0, NULL, err, js->arg);
		goto out;
	}
	id = (uint64_t)json_integer_value(json_object_get(res, "id"));
	w = xcalloc(1, sizeof(*w));
	w->id = id;
	w->kind = xstrdup(js->kind);
	w->cb = js->cb;
	w->arg = js->arg;
	w->next = job_waits;
	job_waits = w;
	db_call("job.update", json_pack("{s:I, s:s}", "id", (json_int_t)id,
	    "state", "running"), NULL, NULL);
	fbuf_init(&b);
	frame_begin(&b, IMSG_JOB_START);
	frame_put_u64(&b, F_ID, id);
	frame_put_str(&b, F_KIND, js->kind);
	frame_put_str(&b, F_JSON, js->args);
	frame_end(&b);
	ipc_send(parent, &b, -1);
	fbuf_free(&b);
out:
	free(js->kind);
	free(js->args);
	free(js);
}

void
control_job(const char *kind, json_t *args, const char *actor, job_cb done,
    void *arg)
{
	struct job_start	*js = xcalloc(1, sizeof(*js));

	js->kind = xstrdup(kind);
	js->args = json_dumps(args ? args : json_object(), JSON_COMPACT);
	js->cb = done;
	js->arg = arg;
	db_call("job.create", json_pack("{s:s, s:O, s:s}", "kind", kind,
	    "args", args ? args : json_object(), "created_by", actor),
	    job_created, js);
	json_decref(args);
}

static void
job_done_msg(const struct frame *f)
{
	struct job_wait	**pp, *w;
	uint64_t	  id = frame_u64(f, F_ID, 0);
	int		  ok = (int)frame_u64(f, F_SUCCESS, 0);
	char		 *res = frame_str(f, F_JSON), *err = frame_str(f, F_ERROR);
	json_t		 *jres = res ? json_loads(res, 0, NULL) : NULL;

	db_call("job.update", json_pack("{s:I, s:s, s:i, s:O?, s:s?}", "id",
	    (json_int_t)id, "state", ok ? "succeeded" : "failed", "percent",
	    100, "result", jres, "error", err), NULL, NULL);
	log_info("job %llu %s%s%s", (unsigned long long)id,
	    ok ? "succeeded" : "failed", err ? ": " : "", err ? err : "");
	for (pp = &job_waits; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id)
			break;
	if ((w = *pp) != NULL) {
		*pp = w->next;
		if (w->cb != NULL)
			w->cb(id, ok, jres, err, w->arg);
		free(w->kind);
		free(w);
	}
	json_decref(jres);
	free(res);
	free(err);
}

static void
parent_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct parent_wait	**pp, *w;
	json_t			 *j;
	char			 *s;
	uint64_t		  id;

	(void)c;
	(void)arg;
	switch (f->type) {
	case IMSG_DB_CHANNEL:
		if (fd == -1)
			break;
		if (dbc != NULL) {
			ipc_free(dbc);
			dbc = NULL;
			db_fail_all("database unavailable: the database helper "
			    "was replaced during the call; try again");
		}
		dbc = ipc_new(base, fd, "db", proto_specs, db_msg, db_closed,
		    NULL);
		fd = -1;
		break;
	case IMSG_STATUS:
		id = frame_u64(f, F_ID, 0);
		for (pp = &parent_waits; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->id == id)
				break;
		if ((w = *pp) == NULL)
			break;
		*pp = w->next;
		s = frame_str(f, F_JSON);
		j = json_loads(s, 0, NULL);
		w->cb(j ? j : json_array(), w->arg);
		json_decref(j);
		free(s);
		free(w);
		break;
	case IMSG_JOB_PROGRESS:
		s = frame_str(f, F_MESSAGE);
		db_call("job.update", json_pack("{s:I, s:i, s:s?}", "id",
		    (json_int_t)frame_u64(f, F_ID, 0), "percent",
		    (int)frame_u64(f, F_PERCENT, 0), "message", s), NULL, NULL);
		free(s);
		break;
	case IMSG_JOB_DONE:
		job_done_msg(f);
		break;
	case IMSG_SHARD_EVENT:
		s = frame_str(f, F_JSON);
		if ((j = json_loads(s, 0, NULL)) != NULL) {
			control_shard_event(j);
			json_decref(j);
		}
		free(s);
		break;
	case IMSG_RELOAD:
		if (havend_reload_conf(0) == 0) {
			int i;

			for (i = 0; i < 3; i++)
				if (lsts[i].http != NULL)
					http_limits(&lsts[i]);
			evtimer_del(sweep_ev);
			struct timeval tv = { hv.conf.heartbeat_interval, 0 };
			evtimer_add(sweep_ev, &tv);
			hist_reload();
		}
		break;
	case IMSG_SHUTDOWN:
		event_base_loopexit(base, NULL);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
parent_closed(struct ipc *c, const char *reason, void *arg)
{
	(void)c;
	(void)arg;
	log_debug("%s; exiting", reason);
	exit(0);
}

/* Periodic work. */

static void
sweep_done(json_t *res, const char *err, void *arg)
{
	json_t	*v;
	size_t	 i;

	(void)arg;
	if (err != NULL) {
		log_debug("heartbeat sweep: %s", err);
		return;
	}
	json_array_foreach(json_object_get(res, "disconnected"), i, v)
		log_warnx("machine %s is disconnected: no heartbeat for %lld "
		    "s (three intervals)", json_string_value(v),
		    3 * hv.conf.heartbeat_interval);
}

static void
sweep_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	tv = { hv.conf.heartbeat_interval, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	enroll_expire();
	if (control_db_up()) {
		db_call("machine.sweep", json_pack("{s:I}", "interval",
		    (json_int_t)hv.conf.heartbeat_interval), sweep_done, NULL);
		/* An agent gone quiet sends no points: check RPO anyway. */
		repl_rpo_check();
		prune_tick();
		disc_periodic();
	}
	evtimer_add(sweep_ev, &tv);
}

void
control_main(int parent_fd)
{
	struct timeval	tv;

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_conn_gone);
	if (tls_load() == -1)
		fatalx("control cannot start without its certificates");
	parent = ipc_new(base, parent_fd, "parent", proto_specs, parent_msg,
	    parent_closed, NULL);
	lst_open(&lsts[0], LST_CONTROL, "control", hv.control_fd);
	lst_open(&lsts[1], LST_ADMIN, "admin", hv.admin_fd);
	lst_open(&lsts[2], LST_UNIX, "unix socket", hv.unix_fd);
	sweep_ev = evtimer_new(base, sweep_cb, NULL);
	tv.tv_sec = hv.conf.heartbeat_interval;
	tv.tv_usec = 0;
	evtimer_add(sweep_ev, &tv);
	hist_start(base);
	log_debug("serving");
	event_base_dispatch(base);
	ipc_flush(parent);
	exit(0);
}
