/*
 * The process server's side of a disk, inside the shard that owns it
 * (docs/replication.md): frames from the agent go into the disk's cache
 * log, one group commit per read batch, and only then is the sequence
 * acknowledged.  A full cache stops reading (the agent is held by TCP)
 * and raises an alert; nothing is dropped.  The drain ships durable
 * records, compressed and sealed, to the master target and releases
 * what the MT has applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "cachelog.h"
#include "dataproto.h"
#include "havend.h"
#include "log.h"
#include "pki.h"
#include "repldir.h"
#include "seal.h"
#include "shard.h"
#include "util.h"

#define DRAIN_OUTQ	(4u << 20)	/* sealed bytes in flight to the MT */
#define UNBLOCK_S	1

enum drain_state { DR_IDLE, DR_CONNECTING, DR_HELLO, DR_STREAMING, DR_NOADDR,
    DR_STOPPED };

struct drain {
	struct sdisk		*d;
	struct bufferevent	*bev;
	enum drain_state	 state;
	struct cachelog_iter	*it;
	struct seal		*seal;
	uint64_t		 disknum;
	uint64_t		 mt_acked;
	struct event		*retry;
	int			 backoff;
	struct fbuf		 sealed;
	struct fbuf		 out;
};

static SSL_CTX	*drain_ctx;

static void	drain_pump(struct drain *);
static void	drain_connect(struct drain *);

static void
send_u64(struct dconn *c, uint16_t type, uint16_t tag, uint64_t v)
{
	struct fbuf	b;

	fbuf_init(&b);
	frame_begin(&b, type);
	frame_put_u64(&b, tag, v);
	frame_end(&b);
	dconn_send(c, &b);
	fbuf_free(&b);
}

static void
disk_event(struct sdisk *d, const char *event, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	shard_event(json_pack("{s:s, s:s, s:s}", "event", event, "disk", d->id,
	    "message", msg));
	free(msg);
}

/* The machine id half of "<machine id>:<disk name>". */
static int
disk_owned_by(const char *disk, const char *machine)
{
	size_t	n = strlen(machine);

	return strncmp(disk, machine, n) == 0 && disk[n] == ':' &&
	    disk[n + 1] != '\0';
}

int
ingest_hello(struct dconn *c, const struct frame *f)
{
	struct sdisk	*d;
	char		*disk = frame_str(f, D_DISK);
	uint64_t	 size = frame_u64(f, D_SIZE, 0);

	if (!disk_owned_by(disk, c->machine)) {
		dconn_refuse(c, "disk '%s' is not this machine's: a disk id is "
		    "'<machine id>:<disk name>' with the machine id of the "
		    "client certificate (%s)", disk, c->machine);
		free(disk);
		return -1;
	}
	if (size == 0) {
		dconn_refuse(c, "hello for %s without the disk's size: upgrade "
		    "the agent", disk);
		free(disk);
		return -1;
	}
	d = sdisk_get(SD_INGEST, disk);
	free(disk);
	if (d->size != 0 && d->size != size) {
		dconn_refuse(c, "%s was %llu bytes and is now %llu: a resized "
		    "disk needs a new replication (resync)", d->id,
		    (unsigned long long)d->size, (unsigned long long)size);
		return -1;
	}
	sdisk_attach(d, c);
	d->size = size;
	c->resume = frame_u64(f, D_RESUME, 0);
	if (d->granted)
		ingest_granted(d);
	return 1;
}

static int
ingest_open(struct sdisk *d, char **cause)
{
	struct cachelog_conf	 cc = { 0, 0, 0 };
	char			*dir, *path, *txt;

	dir = repl_dir_of(hv.conf.cache_dir, d->id);
	if (mkdir_p(dir, 0700, cause) == -1) {
		free(dir);
		return -1;
	}
	d->log = cachelog_open(dir, &cc, cause);
	if (d->log != NULL && cachelog_recovered(d->log) != NULL) {
		log_warnx("cache of %s: %s", d->id, cachelog_recovered(d->log));
		disk_event(d, "cache_recovered", "%s",
		    cachelog_recovered(d->log));
	}
	/* The drain tells the MT the size; keep it beside the log. */
	path = xasprintf("%s/size", dir);
	txt = xasprintf("%llu\n", (unsigned long long)d->size);
	if (d->log != NULL && d->size != 0 &&
	    write_file_atomic(path, txt, strlen(txt), 0600, cause) == -1) {
		cachelog_close(d->log);
		d->log = NULL;
	} else if (d->size == 0) {
		free(txt);
		if ((txt = read_file(path, NULL, NULL)) != NULL)
			d->size = strtoull(txt, NULL, 10);
	}
	free(txt);
	free(path);
	free(dir);
	return d->log == NULL ? -1 : 0;
}

void
ingest_granted(struct sdisk *d)
{
	struct dconn	*c = d->conn;
	struct fbuf	 b;
	char		*cause = NULL;
	uint64_t	 durable;

	if (d->log == NULL && ingest_open(d, &cause) == -1) {
		if (c != NULL)
			dconn_refuse(c, "the process server cannot open the "
			    "cache for %s: %s", d->id, cause);
		disk_event(d, "cache_error", "%s", cause);
		free(cause);
		return;
	}
	durable = cachelog_durable_seq(d->log);
	if (c != NULL) {
		if (c->resume > durable) {
			dconn_refuse(c, "the agent saw seq %llu acknowledged but "
			    "the cache holds only up to %llu: the cache was "
			    "lost or replaced; this disk needs a resync",
			    (unsigned long long)c->resume,
			    (unsigned long long)durable);
			disk_event(d, "cache_lost", "cache of %s is behind its "
			    "acknowledgements", d->id);
			return;
		}
		d->acked = durable;
		fbuf_init(&b);
		frame_begin(&b, DT_HELLO_OK);
		frame_put_u64(&b, D_SEQ, durable);
		frame_put_u64(&b, D_SHARD, (uint64_t)shard_no);
		frame_end(&b);
		dconn_send(c, &b);
		fbuf_free(&b);
		log_info("stream of %s from %s resumes after seq %llu", d->id,
		    c->addr, (unsigned long long)durable);
		dconn_pause(c, 0);
	}
	if (d->drain == NULL) {
		d->drain = xcalloc(1, sizeof(*d->drain));
		d->drain->d = d;
		d->drain->disknum = repl_disk_number(d->id);
		fbuf_init(&d->drain->sealed);
		fbuf_init(&d->drain->out);
		drain_connect(d->drain);
	}
}

static void
unblock_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sdisk	*d = arg;

	(void)fd;
	(void)ev;
	/* Try the frame that did not fit again. */
	if (d->blocked && d->conn != NULL)
		dconn_pause(d->conn, 0);
}

static void
cache_full(struct sdisk *d, const char *cause)
{
	struct timeval	tv = { UNBLOCK_S, 0 };

	if (!d->blocked) {
		d->blocked = 1;
		log_warnx("cache for %s is full (%s): holding the agent until "
		    "the drain frees space", d->id, cause);
		disk_event(d, "cache_full", "the cache for %s is full (%s): "
		    "the agent is slowed down until space is freed; nothing "
		    "is lost", d->id, cause);
		send_u64(d->conn, DT_FLOW, D_WINDOW, 0);
	}
	dconn_pause(d->conn, 1);
	if (d->unblock_ev == NULL)
		d->unblock_ev = evtimer_new(shard_base, unblock_cb, d);
	evtimer_add(d->unblock_ev, &tv);
}

int
ingest_frame(struct dconn *c, const struct frame *f)
{
	struct sdisk		*d = c->disk;
	struct cachelog_rec	 r;
	char			*cause = NULL, *kind = NULL;
	size_t			 len = 0;
	int			 rc;

	memset(&r, 0, sizeof(r));
	r.seq = frame_u64(f, D_SEQ, 0);
	switch (f->type) {
	case DT_DATA:
		r.offset = frame_u64(f, D_OFFSET, 0);
		if ((r.data = frame_bytes(f, D_BYTES, &len)) != NULL) {
			r.type = CL_DATA;
			r.len = (uint32_t)len;
		} else if (frame_has(f, D_ZERO)) {
			r.type = CL_ZERO;
			r.aux = frame_u64(f, D_ZERO, 0);
		} else {
			dconn_refuse(c, "data frame seq %llu has neither bytes "
			    "nor a zero run", (unsigned long long)r.seq);
			return -1;
		}
		break;
	case DT_BOOKMARK:
		r.type = CL_BOOKMARK;
		r.offset = frame_u64(f, D_POINT, 0);
		r.aux = frame_u64(f, D_TIME, 0);
		kind = frame_str(f, D_KIND);
		/*
		 * The cache keeps a bookmark's kind as text; a point read
		 * live (no point-in-time view) is marked there, so the MT
		 * can say the point is not crash-consistent.
		 */
		if (frame_u64(f, D_CONSISTENT, 1) == 0) {
			char *live = xasprintf("%s:live", kind);

			free(kind);
			kind = live;
		}
		r.data = (const uint8_t *)kind;
		r.len = (uint32_t)strlen(kind);
		break;
	default:
		dconn_refuse(c, "unexpected %s frame on an agent stream",
		    frame_spec_find(data_specs, f->type)->name);
		return -1;
	}
	/* Already here (a resend after a reconnect): never twice. */
	if (r.seq <= cachelog_appended_seq(d->log)) {
		free(kind);
		return 1;
	}
	rc = cachelog_append(d->log, &r, &cause);
	free(kind);
	if (rc == -1 && errno == ENOSPC) {
		cache_full(d, cause);
		free(cause);
		return 0;
	}
	if (rc == -1) {
		dconn_refuse(c, "cannot store seq %llu for %s: %s",
		    (unsigned long long)r.seq, d->id, cause);
		free(cause);
		return -1;
	}
	d->rx_bytes += len;
	if (d->blocked) {
		d->blocked = 0;
		log_info("cache for %s has room again; the agent may send",
		    d->id);
		disk_event(d, "cache_ok", "the cache for %s has room again",
		    d->id);
		send_u64(c, DT_FLOW, D_WINDOW, UINT64_MAX);
	}
	return 1;
}

void
ingest_batch_end(struct sdisk *d)
{
	char		*cause = NULL;
	uint64_t	 durable;

	if (d->log == NULL ||
	    cachelog_appended_seq(d->log) == cachelog_durable_seq(d->log))
		goto pump;
	if (cachelog_commit(d->log, &durable, &cause) == -1) {
		/*
		 * Nothing of this batch was acknowledged: the agent resends
		 * it after reconnecting, so closing loses nothing.
		 */
		if (d->conn != NULL)
			dconn_refuse(d->conn, "cannot make the cache durable "
			    "for %s: %s", d->id, cause);
		if (errno == ENOSPC)
			disk_event(d, "cache_full", "%s", cause);
		free(cause);
		goto pump;
	}
	d->rx_durable = d->rx_bytes;
	if (durable > d->acked && d->conn != NULL) {
		send_u64(d->conn, DT_ACK, D_SEQ, durable);
		d->acked = durable;
	}
pump:
	if (d->drain != NULL)
		drain_pump(d->drain);
}

void
ingest_conn_gone(struct sdisk *d)
{
	/* The cache and its drain go on: the agent will be back. */
	if (d->unblock_ev != NULL)
		evtimer_del(d->unblock_ev);
}

/* The drain: PS -> MT. */

static SSL_CTX *
drain_tls(char **cause)
{
	char	*ca, *crt, *key;

	if (drain_ctx != NULL)
		return drain_ctx;
	ca = pki_path(&hv.conf, "ca.crt");
	crt = pki_path(&hv.conf, "ps.crt");
	key = pki_path(&hv.conf, "ps.key");
	drain_ctx = tls_client_ctx(ca, crt, key, cause);
	free(ca);
	free(crt);
	free(key);
	return drain_ctx;
}

static void
drain_close(struct drain *dr)
{
	if (dr->bev != NULL) {
		bufferevent_free(dr->bev);
		dr->bev = NULL;
	}
	if (dr->it != NULL) {
		cachelog_iter_free(dr->it);
		dr->it = NULL;
	}
	fbuf_reset(&dr->out);
}

static void
drain_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	drain_connect(arg);
}

static void
drain_later(struct drain *dr, const char *why)
{
	struct timeval	tv;

	drain_close(dr);
	if (dr->state == DR_STOPPED)
		return;
	dr->backoff = dr->backoff == 0 ? 1 : dr->backoff >= 30 ? 30 :
	    dr->backoff * 2;
	log_warnx("drain of %s to the master target: %s; retrying in %d s",
	    dr->d->id, why, dr->backoff);
	dr->state = DR_IDLE;
	if (dr->retry == NULL)
		dr->retry = evtimer_new(shard_base, drain_retry_cb, dr);
	tv.tv_sec = dr->backoff;
	tv.tv_usec = 0;
	evtimer_add(dr->retry, &tv);
}

static void
drain_send(struct drain *dr, const struct fbuf *b)
{
	bufferevent_write(dr->bev, b->data, b->len);
}

static void
drain_pump(struct drain *dr)
{
	struct cachelog_rec	 r;
	char			*cause = NULL;
	int			 rc;

	if (dr->state != DR_STREAMING)
		return;
	while (evbuffer_get_length(bufferevent_get_output(dr->bev)) <
	    DRAIN_OUTQ) {
		rc = cachelog_next(dr->it, &r, &cause);
		if (rc == 0)
			return;
		if (rc == -1) {
			/* Never skip: the replica would silently diverge. */
			log_warnx("drain of %s stopped: %s", dr->d->id, cause);
			disk_event(dr->d, "cache_corrupt", "a cache record of %s "
			    "is corrupt (%s); it was not applied and draining "
			    "stopped: resync the disk", dr->d->id, cause);
			free(cause);
			dr->state = DR_STOPPED;
			drain_close(dr);
			return;
		}
		fbuf_reset(&dr->sealed);
		if (seal_record(dr->seal, dr->disknum, &r, &dr->sealed,
		    &cause) == -1) {
			drain_later(dr, cause);
			free(cause);
			return;
		}
		frame_begin(&dr->out, DT_SEALED);
		frame_put_u64(&dr->out, D_SEQ, r.seq);
		frame_put_bytes(&dr->out, D_BYTES, dr->sealed.data,
		    dr->sealed.len);
		frame_end(&dr->out);
		drain_send(dr, &dr->out);
	}
}

static void
drain_read(struct bufferevent *bev, void *arg)
{
	struct drain		*dr = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const struct frame_spec	*spec;
	struct frame		 f;
	char			*cause = NULL, *msg;
	size_t			 avail;
	ssize_t			 used;
	uint64_t		 seq;

	while ((avail = evbuffer_get_length(in)) > 0) {
		used = frame_decode(evbuffer_pullup(in, (ssize_t)avail), avail,
		    DATA_MAXFRAME, &f, &cause);
		if (used == 0)
			return;
		if (used < 0 ||
		    (spec = frame_spec_find(data_specs, f.type)) == NULL ||
		    frame_check(&f, spec, &cause) == -1) {
			drain_later(dr, cause ? cause : "bad frame");
			free(cause);
			return;
		}
		switch (f.type) {
		case DT_HELLO_OK:
		case DT_ACK:
			seq = frame_u64(&f, D_SEQ, 0);
			if (seq > dr->mt_acked || f.type == DT_HELLO_OK)
				dr->mt_acked = seq;
			if (cachelog_release(dr->d->log, dr->mt_acked,
			    &cause) == -1) {
				log_warnx("cache of %s: %s", dr->d->id, cause);
				free(cause);
				cause = NULL;
			}
			if (f.type == DT_HELLO_OK) {
				uint64_t from = dr->mt_acked + 1;

				if (from < cachelog_first_seq(dr->d->log))
					from = cachelog_first_seq(dr->d->log);
				dr->it = cachelog_read_from(dr->d->log, from,
				    &cause);
				if (dr->it == NULL) {
					drain_later(dr, cause);
					free(cause);
					return;
				}
				dr->state = DR_STREAMING;
				dr->backoff = 0;
				log_info("draining %s to the master target from "
				    "seq %llu", dr->d->id,
				    (unsigned long long)from);
			}
			/* Room freed: a held agent may go on. */
			if (dr->d->blocked && dr->d->conn != NULL)
				dconn_pause(dr->d->conn, 0);
			break;
		case DT_ERROR:
			msg = frame_str(&f, D_MESSAGE);
			drain_later(dr, msg);
			free(msg);
			return;
		default:
			break;
		}
		evbuffer_drain(in, (size_t)used);
	}
	drain_pump(dr);
}

static void
drain_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	drain_pump(arg);
}

static void
drain_event(struct bufferevent *bev, short what, void *arg)
{
	struct drain	*dr = arg;
	struct fbuf	 b;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		dr->state = DR_HELLO;
		fbuf_init(&b);
		frame_begin(&b, DT_HELLO);
		frame_put_str(&b, D_DISK, dr->d->id);
		frame_put_str(&b, D_ROLE, "ps");
		frame_put_u64(&b, D_SIZE, dr->d->size);
		frame_put_str(&b, D_VERSION, HAVEN_VERSION);
		frame_end(&b);
		drain_send(dr, &b);
		fbuf_free(&b);
		return;
	}
	drain_later(dr, what & BEV_EVENT_EOF ? "the master target closed the "
	    "connection" : "cannot reach the master target (is it running? "
	    "check mt_address)");
}

/*
 * No mt_address: the master target is this havend's own data port, on
 * the address it listens on (the loopback of the same family when that
 * is a wildcard, since one cannot connect to 0.0.0.0).
 */
static int
drain_local_mt(struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	const char		*a = hv.conf.listen_address;

	memset(ss, 0, sizeof(*ss));
	if (a != NULL && inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)hv.conf.data_port);
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			sin6->sin6_addr = in6addr_loopback;
		*sslen = sizeof(*sin6);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)hv.conf.data_port);
	if (a == NULL)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, a, &sin->sin_addr) != 1)
		return -1;
	else if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*sslen = sizeof(*sin);
	return 0;
}

static void
drain_connect(struct drain *dr)
{
	struct sockaddr_storage	 ss;
	int			 sslen;
	SSL			*ssl;
	uint8_t			 key[32];
	char			*cause = NULL;

	if (dr->seal == NULL) {
		if (pki_disk_key(&hv.conf, dr->d->id, key, &cause) == -1 ||
		    (dr->seal = seal_new(key, 1, &cause)) == NULL) {
			OPENSSL_cleanse(key, sizeof(key));
			drain_later(dr, cause);
			free(cause);
			return;
		}
		OPENSSL_cleanse(key, sizeof(key));
	}
	if (drain_tls(&cause) == NULL) {
		drain_later(dr, cause);
		free(cause);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	sslen = sizeof(ss);
	if (hv.conf.mt_address != NULL) {
		/* A literal address: no DNS lookup may block this loop. */
		if (evutil_parse_sockaddr_port(hv.conf.mt_address,
		    (struct sockaddr *)&ss, &sslen) == -1) {
			dr->state = DR_NOADDR;
			log_warnx("mt_address '%s' is not IP:port; the drain "
			    "of %s is stopped until it is fixed",
			    hv.conf.mt_address, dr->d->id);
			return;
		}
	} else if (drain_local_mt(&ss, &sslen) == -1) {
		dr->state = DR_NOADDR;
		log_warnx("listen_address '%s' is not an IP address; set "
		    "mt_address for the drain of %s", hv.conf.listen_address,
		    dr->d->id);
		return;
	}
	ssl = SSL_new(drain_ctx);
	dr->bev = bufferevent_openssl_socket_new(shard_base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(dr->bev, drain_read, drain_write, drain_event, dr);
	bufferevent_setwatermark(dr->bev, EV_WRITE, DRAIN_OUTQ / 4, 0);
	bufferevent_enable(dr->bev, EV_READ | EV_WRITE);
	dr->state = DR_CONNECTING;
	if (bufferevent_socket_connect(dr->bev, (struct sockaddr *)&ss,
	    sslen) == -1)
		drain_later(dr, "connect failed");
}

/*
 * mt_address changed (SIGHUP): a drain connected to the old master
 * target would keep shipping there, and one waiting for its retry would
 * wait out its back-off; reconnect every drain now.  One stopped on a
 * corrupt record stays stopped.
 */
void
ingest_mt_changed(struct sdisk *d)
{
	struct drain	*dr = d->drain;

	if (dr == NULL || dr->state == DR_STOPPED)
		return;
	if (dr->retry != NULL)
		evtimer_del(dr->retry);
	drain_close(dr);
	dr->backoff = 0;
	dr->state = DR_IDLE;
	log_info("drain of %s: mt_address changed; reconnecting", d->id);
	drain_connect(dr);
}

void
ingest_close(struct sdisk *d)
{
	struct drain	*dr = d->drain;

	if (dr != NULL) {
		dr->state = DR_STOPPED;
		drain_close(dr);
		if (dr->retry != NULL)
			event_free(dr->retry);
		seal_free(dr->seal);
		fbuf_free(&dr->sealed);
		fbuf_free(&dr->out);
		free(dr);
		d->drain = NULL;
	}
	if (d->unblock_ev != NULL) {
		event_free(d->unblock_ev);
		d->unblock_ev = NULL;
	}
	if (d->log != NULL) {
		cachelog_close(d->log);
		d->log = NULL;
	}
}
