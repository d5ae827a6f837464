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
#include "ipc.h"
#include "log.h"
#include "pki.h"
#include "proto.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_S	15
#define IDLE_TIMEOUT_S		300

struct dconn {
	struct bufferevent	*bev;
	char			 addr[64];
	char			*machine;	/* client certificate CN */
	char			*disk;
	int			 verified;
	int			 closing;
	struct dconn		*next;
};

static struct event_base	*base;
static struct ipc		*parent;
static SSL_CTX			*ctx;
static struct dconn		*conns;
static int			 shard_no;

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
	bufferevent_free(c->bev);
	free(c->machine);
	free(c->disk);
	free(c);
}

static void
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

static void
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

static void
handle_frame(struct dconn *c, const struct frame *f)
{
	struct fbuf	b;

	switch (f->type) {
	case DT_HELLO:
		free(c->disk);
		c->disk = frame_str(f, D_DISK);
		log_info("data stream from machine %s (%s), disk %s",
		    c->machine, c->addr, c->disk);
		fbuf_init(&b);
		frame_begin(&b, DT_HELLO_OK);
		frame_put_u64(&b, D_SEQ, 0);
		frame_put_u64(&b, D_SHARD, (uint64_t)shard_no);
		frame_end(&b);
		dconn_send(c, &b);
		fbuf_free(&b);
		break;
	default:
		dconn_refuse(c, "unexpected %s frame before the stream "
		    "started", frame_spec_find(data_specs, f->type)->name);
		break;
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
		handle_frame(c, &f);
		/* handle_frame may have started closing c. */
		if (c->closing)
			return;
		evbuffer_drain(in, (size_t)used);
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
	c->bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, dconn_read, NULL, dconn_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = conns;
	conns = c;
}

static void
parent_msg(struct ipc *ic, const struct frame *f, int fd, void *arg)
{
	char	*addr;

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
	case IMSG_TLS_RELOAD:
		if (shard_tls_load() == 0)
			log_debug("reloaded the TLS certificates and CRL");
		break;
	case IMSG_RELOAD:
		havend_reload_conf(0);
		break;
	case IMSG_SHUTDOWN:
		event_base_loopexit(base, NULL);
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
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (shard_tls_load() == -1)
		fatalx("shard cannot start without its certificates");
	parent = ipc_new(base, parent_fd, "parent", proto_specs, parent_msg,
	    parent_closed, NULL);
	event_base_dispatch(base);
	while (conns != NULL)
		dconn_free(conns);
	exit(0);
}
