/*
 * A shard: the hot data path.  The parent accepts a data connection and
 * passes the descriptor here; the shard does TLS, refuses any client
 * without a certificate from the site CA (or one on the CRL), and then
 * speaks the frame protocol of docs/frames.md.  A bad frame closes that
 * connection with a reason, never the shard.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "dataproto.h"
#include "havend.h"
#include "shard.h"
#include "ipc.h"
#include "log.h"
#include "pki.h"
#include "proto.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_S	15
#define IDLE_TIMEOUT_S		300
/* How often byte counts go to control (docs/replication.md "History"). */
#define BYTES_REPORT_S		1


struct event_base		*shard_base;
int				 shard_no;
static struct ipc		*parent;
static SSL_CTX			*ctx;
static struct dconn		*conns;
static struct sdisk		*disks;
static struct event		*bytes_ev;

static int
shard_tls_load(void)
{
	char	*crt = pki_path(&hv.conf, "server.crt");
	char	*key = pki_path(&hv.conf, "server.key");
	char	*ca = pki_path(&hv.conf, "ca.crt");
	char	*crl = pki_path(&hv.conf, "crl.pem");
	char	*cause = NULL;
	SSL_CTX	*n;

	n = tls_server_ctx(crt, key, ca, crl, TLS_VERIFY_REQUIRED, &cause);
	free(crt);
	free(key);
	free(ca);
	free(crl);
	if (n == NULL) {
		log_warnx("cannot load the TLS certificates: %s", cause);
		free(cause);
		return -1;
	}
	SSL_CTX_free(ctx);
	ctx = n;
	return 0;
}

static void
dconn_free(struct dconn *c)
{
	struct dconn	**pp;

	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->disk != NULL && c->disk->conn == c) {
		c->disk->conn = NULL;
		if (c->disk->kind == SD_APPLY)
			apply_conn_gone(c->disk);
		else
			ingest_conn_gone(c->disk);
	}
	bufferevent_free(c->bev);
	free(c->machine);
	free(c);
}

void
dconn_send(struct dconn *c, const struct fbuf *b)
{
	bufferevent_write(c->bev, b->data, b->len);
}

/* Tell the peer why, then close once the reason is written. */
static void
dconn_close_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	dconn_free(arg);
}

void
dconn_refuse(struct dconn *c, const char *fmt, ...)
{
	struct fbuf	 b;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_warnx("data connection from %s%s%s closed: %s", c->addr,
	    c->machine ? ", machine " : "", c->machine ? c->machine : "",
	    msg);
	if (!c->verified) {
		free(msg);
		dconn_free(c);
		return;
	}
	fbuf_init(&b);
	frame_begin(&b, DT_ERROR);
	frame_put_str(&b, D_MESSAGE, msg);
	frame_end(&b);
	dconn_send(c, &b);
	fbuf_free(&b);
	free(msg);
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, dconn_close_cb, NULL, c);
}

/* Returns what the role's handler returns (see shard.h). */
static int
handle_frame(struct dconn *c, const struct frame *f)
{
	char	*role;

	if (f->type == DT_HELLO) {
		if (c->role != DC_NONE) {
			char	*disk = frame_str(f, D_DISK);
			int	 same = c->disk != NULL &&
				    strcmp(disk, c->disk->id) == 0;

			free(disk);
			if (!same) {
				dconn_refuse(c, "one connection carries one "
				    "disk's stream");
				return -1;
			}
			/* Same disk again: say where the stream stands. */
			if (c->disk->granted) {
				if (c->role == DC_AGENT)
					ingest_granted(c->disk);
				else
					apply_granted(c->disk);
			}
			return 1;
		}
		role = frame_str(f, D_ROLE);
		c->role = role == NULL || strcmp(role, "agent") == 0 ?
		    DC_AGENT : strcmp(role, "ps") == 0 ? DC_PS : DC_NONE;
		free(role);
		if (c->role == DC_NONE) {
			dconn_refuse(c, "unknown role in hello: 'agent' or "
			    "'ps' expected");
			return -1;
		}
		return c->role == DC_AGENT ? ingest_hello(c, f) :
		    apply_hello(c, f);
	}
	if (c->disk == NULL || !c->disk->granted) {
		dconn_refuse(c, "unexpected %s frame before the stream "
		    "started", frame_spec_find(data_specs, f->type)->name);
		return -1;
	}
	return c->role == DC_AGENT ? ingest_frame(c, f) : apply_frame(c, f);
}

void
dconn_pause(struct dconn *c, int paused)
{
	if (c == NULL || c->closing)
		return;
	if (paused)
		bufferevent_disable(c->bev, EV_READ);
	else {
		bufferevent_enable(c->bev, EV_READ);
		/*
		 * Frames may be waiting in the buffer already.  Deferred:
		 * we may be inside the read callback for one of them.
		 */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			bufferevent_trigger(c->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS |
			    BEV_TRIG_DEFER_CALLBACKS);
	}
}

static void
dconn_read(struct bufferevent *bev, void *arg)
{
	struct dconn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const struct frame_spec	*spec;
	struct frame		 f;
	char			*cause = NULL;
	ssize_t			 used;
	size_t			 avail;
	int			 rc;

	if (c->disk != NULL && !c->disk->granted)
		return;		/* waiting for the parent to grant the disk */
	while ((avail = evbuffer_get_length(in)) > 0) {
		/* Contiguous: at most one frame's worth is pulled up. */
		if (avail > FRAME_HDR_LEN + DATA_MAXFRAME)
			avail = FRAME_HDR_LEN + DATA_MAXFRAME;
		used = frame_decode(evbuffer_pullup(in, (ssize_t)avail), avail,
		    DATA_MAXFRAME, &f, &cause);
		if (used == 0)
			return;
		if (used < 0) {
			dconn_refuse(c, "%s", cause);
			free(cause);
			return;
		}
		if ((spec = frame_spec_find(data_specs, f.type)) == NULL) {
			dconn_refuse(c, "unknown frame type %u", f.type);
			return;
		}
		if (frame_check(&f, spec, &cause) == -1) {
			dconn_refuse(c, "%s", cause);
			free(cause);
			return;
		}
		rc = handle_frame(c, &f);
		if (rc == -1)
			return;		/* c may be gone */
		if (rc == 0)
			break;		/* keep the frame; reading paused */
		evbuffer_drain(in, (size_t)used);
		if (c->closing)
			return;
	}
	/* One batch read: one group commit and one ack (or apply sync). */
	if (c->disk != NULL && c->disk->granted) {
		if (c->disk->kind == SD_INGEST)
			ingest_batch_end(c->disk);
		else
			apply_batch_end(c->disk);
	}
}

/* Why a TLS connection failed, in words an operator can act on. */
static void
tls_failure(struct bufferevent *bev, char *buf, size_t len)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long	 e, last = 0;
	long		 vr;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			last = e;
	vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (vr != X509_V_OK)
		snprintf(buf, len, "client certificate: %s",
		    X509_verify_cert_error_string(vr));
	else if (last != 0)
		ERR_error_string_n(last, buf, len);
	else if (ssl != NULL && SSL_get0_peer_certificate(ssl) == NULL &&
	    SSL_is_init_finished(ssl) == 0)
		snprintf(buf, len, "no TLS handshake: the peer sent no "
		    "certificate, or is not speaking TLS");
	else
		snprintf(buf, len, "connection reset by the peer");
}

static void
dconn_event(struct bufferevent *bev, short what, void *arg)
{
	struct dconn	*c = arg;
	char		 reason[256];
	SSL		*ssl;

	if (what & BEV_EVENT_CONNECTED) {
		ssl = bufferevent_openssl_get_ssl(bev);
		if (tls_peer_identity(ssl, &c->machine, NULL) == -1) {
			dconn_refuse(c, "no valid client certificate");
			return;
		}
		c->verified = 1;
		struct timeval tv = { IDLE_TIMEOUT_S, 0 };
		bufferevent_set_timeouts(bev, &tv, NULL);
		log_debug("data connection from %s: machine %s", c->addr,
		    c->machine);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		dconn_refuse(c, c->verified ? "idle for %d s" :
		    "no TLS handshake within %d s", c->verified ?
		    IDLE_TIMEOUT_S : HANDSHAKE_TIMEOUT_S);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_failure(bev, reason, sizeof(reason));
		if (!c->verified)
			log_warnx("refused data connection from %s: TLS "
			    "handshake failed (%s): the client must present "
			    "the certificate it got at enrollment", c->addr,
			    reason);
		else
			log_info("data connection from %s (machine %s) "
			    "failed: %s", c->addr, c->machine, reason);
		dconn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		log_debug("data connection from %s closed by the peer",
		    c->addr);
		dconn_free(c);
	}
}

static void
dconn_new(int fd, const char *addr)
{
	struct dconn	*c;
	struct timeval	 tv = { HANDSHAKE_TIMEOUT_S, 0 };
	SSL		*ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL) {
		log_warnx("data connection from %s dropped: no TLS context",
		    addr);
		close(fd);
		return;
	}
	set_nonblock(fd);
	c = xcalloc(1, sizeof(*c));
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->bev = bufferevent_openssl_socket_new(shard_base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, dconn_read, NULL, dconn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = conns;
	conns = c;
}

void
shard_event(json_t *ev)
{
	struct fbuf	 b;
	char		*s = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	fbuf_init(&b);
	frame_begin(&b, IMSG_SHARD_EVENT);
	frame_put_str(&b, F_JSON, s);
	frame_end(&b);
	ipc_send(parent, &b, -1);
	fbuf_free(&b);
	free(s);
}

/*
 * Deltas, not totals: a restarted shard starts from zero and control
 * keeps adding, so its counters never go back.
 */
void
shard_bytes_report(struct sdisk *d)
{
	uint64_t	rx = d->rx_durable - d->rx_reported;
	uint64_t	ap = d->applied_synced - d->applied_reported;

	if (rx == 0 && ap == 0)
		return;
	d->rx_reported = d->rx_durable;
	d->applied_reported = d->applied_synced;
	shard_event(json_pack("{s:s, s:s, s:I, s:I}", "event", "bytes", "disk",
	    d->id, "received", (json_int_t)rx, "applied", (json_int_t)ap));
}

static void
bytes_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	 tv = { BYTES_REPORT_S, 0 };
	struct sdisk	*d;

	(void)fd;
	(void)ev;
	(void)arg;
	for (d = disks; d != NULL; d = d->next)
		shard_bytes_report(d);
	evtimer_add(bytes_ev, &tv);
}

static void
shard_key_msg(uint16_t type, const char *key)
{
	struct fbuf	b;

	fbuf_init(&b);
	frame_begin(&b, type);
	frame_put_str(&b, F_KIND, key);
	frame_end(&b);
	ipc_send(parent, &b, -1);
	fbuf_free(&b);
}

void
shard_claim(struct sdisk *d)
{
	shard_key_msg(IMSG_DISK_CLAIM, d->key);
}

void
shard_released(struct sdisk *d)
{
	shard_key_msg(IMSG_DISK_RELEASED, d->key);
}

/* The disk entry for a key, made (and claimed) if new. */
struct sdisk *
sdisk_get(enum sdisk_kind kind, const char *id)
{
	struct sdisk	*d;
	char		*key = xasprintf("%s:%s", kind == SD_INGEST ? "ingest" :
			    "apply", id);

	for (d = disks; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0) {
			free(key);
			return d;
		}
	d = xcalloc(1, sizeof(*d));
	d->key = key;
	d->id = xstrdup(id);
	d->kind = kind;
	d->next = disks;
	disks = d;
	shard_claim(d);
	return d;
}

void
sdisk_attach(struct sdisk *d, struct dconn *c)
{
	struct dconn	*old = d->conn;

	if (old != NULL && old != c) {
		old->disk = NULL;
		d->conn = NULL;
		dconn_refuse(old, "replaced by a newer connection for the "
		    "same disk");
	}
	d->conn = c;
	c->disk = d;
}

void
sdisk_free(struct sdisk *d)
{
	struct sdisk	**pp;
	struct dconn	 *c = d->conn;

	shard_bytes_report(d);
	for (pp = &disks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->conn = NULL;
	if (c != NULL) {
		c->disk = NULL;
		dconn_refuse(c, "the disk's stream moved to another "
		    "connection or process; reconnect");
	}
	if (d->kind == SD_INGEST)
		ingest_close(d);
	else
		apply_close(d);
	free(d->key);
	free(d->id);
	free(d);
}

static void
parent_msg(struct ipc *ic, const struct frame *f, int fd, void *arg)
{
	struct sdisk	*d;
	char		*addr, *key;

	(void)ic;
	(void)arg;
	switch (f->type) {
	case IMSG_DATA_CONN:
		if (fd == -1)
			break;
		addr = frame_str(f, F_ADDR);
		dconn_new(fd, addr ? addr : "?");
		free(addr);
		fd = -1;
		break;
	case IMSG_DISK_GRANTED:
	case IMSG_DISK_RELEASE:
		key = frame_str(f, F_KIND);
		for (d = disks; d != NULL; d = d->next)
			if (strcmp(d->key, key) == 0)
				break;
		if (d == NULL) {
			/* Nothing here (any more): say so, so nobody waits. */
			if (f->type == IMSG_DISK_GRANTED) {
				struct sdisk tmp = { .key = key };
				shard_released(&tmp);
			}
		} else if (f->type == IMSG_DISK_GRANTED) {
			d->granted = 1;
			if (d->kind == SD_INGEST)
				ingest_granted(d);
			else
				apply_granted(d);
		} else {
			log_info("%s moves to another process; letting go",
			    d->key);
			sdisk_free(d);
			{
				struct sdisk tmp = { .key = key };
				shard_released(&tmp);
			}
		}
		free(key);
		break;
	case IMSG_TLS_RELOAD:
		if (shard_tls_load() == 0)
			log_debug("reloaded the TLS certificates and CRL");
		break;
	case IMSG_RELOAD:
		/* The drains connect to mt_address: follow a change now. */
		addr = xstrdup(hv.conf.mt_address ? hv.conf.mt_address : "");
		if (havend_reload_conf(0) == 0 && strcmp(addr,
		    hv.conf.mt_address ? hv.conf.mt_address : "") != 0)
			for (d = disks; d != NULL; d = d->next)
				if (d->kind == SD_INGEST)
					ingest_mt_changed(d);
		free(addr);
		break;
	case IMSG_SHUTDOWN:
		event_base_loopexit(shard_base, NULL);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
parent_closed(struct ipc *ic, const char *reason, void *arg)
{
	(void)ic;
	(void)arg;
	log_debug("%s; exiting", reason);
	exit(0);
}

void
shard_main(int parent_fd, int no)
{
	shard_no = no;
	if ((shard_base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (shard_tls_load() == -1)
		fatalx("shard cannot start without its certificates");
	parent = ipc_new(shard_base, parent_fd, "parent", proto_specs, parent_msg,
	    parent_closed, NULL);
	bytes_ev = evtimer_new(shard_base, bytes_cb, NULL);
	bytes_cb(-1, 0, NULL);
	event_base_dispatch(shard_base);
	while (conns != NULL)
		dconn_free(conns);
	while (disks != NULL)
		sdisk_free(disks);
	ipc_flush(parent);
	exit(0);
}
