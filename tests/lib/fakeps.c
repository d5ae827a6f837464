/*
 * fakeps: a minimal process-server peer for the agent's tests (not the
 * real PS: no cache log, no shards).  It speaks the data channel
 * (docs/frames.md) over mutual TLS and keeps, per disk, a plain image.
 *
 *	fakeps --dir DIR [--listen HOST:PORT] [--window BYTES]
 *	    [--drop-after N]
 *
 * DIR holds server.crt, server.key and ca.crt (client certificates must
 * chain to it).  Once listening it writes the port to DIR/fakeps.port.
 * Per disk, named after the disk id with every byte outside
 * [A-Za-z0-9._-] as '_':
 *
 *	NAME.img	data frames' bytes at their offsets, their zero
 *			runs as holes, sized by the hello's size
 *	NAME.seq	the last durable seq (decimal), written after the
 *			image is fdatasync'ed; HELLO_OK answers with it
 *	NAME.points	"seq point kind time consistent provider", one line
 *			per durable bookmark
 *
 * Frames are applied as they arrive; after each batch (what one read
 * burst brought) the image is synced, the seq file written and an ACK
 * sent: a group commit.  A frame whose seq is at or below the durable
 * seq is counted as a duplicate and ignored.  With --window it sends
 * DT_FLOW and counts the bytes received beyond its last
 * ACK that exceed the window (flow_violations).  The FLOW goes before
 * HELLO_OK so that it binds from the first frame.  --drop-after N closes
 * the first connection abruptly after its Nth data frame, before
 * that batch is durable, so the agent must resend the batch.
 *
 * DIR/stats.json holds counters over every run of fakeps in DIR:
 * connections, frames, frame_bytes, data_bytes, zero_bytes, dup_frames,
 * dup_bytes, gaps, flow_violations, drops, bookmarks, resyncs.
 *
 * A hello whose resume is beyond the durable seq (its files were removed:
 * a lost cache) is refused as the PS does, with resync = 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dataproto.h"
#include "frame.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define BATCH_MAX	(16u << 20)

struct stats {
	uint64_t	connections, frames, frame_bytes, data_bytes, zero_bytes;
	uint64_t	dup_frames, dup_bytes, gaps, flow_violations, drops;
	uint64_t	bookmarks, resyncs;
};

static const char	*dir;
static uint64_t		 window;
static uint64_t		 drop_after;
static int		 dropped;
static uint64_t		 data_frames;
static struct stats	 st;

struct disk {
	char		*name;
	int		 fd;
	uint64_t	 durable;	/* persisted in NAME.seq */
	uint64_t	 last;		/* last applied */
	struct fbuf	 points;	/* bookmark lines not yet durable */
};

static void
usage(void)
{
	fprintf(stderr, "usage: fakeps --dir DIR [--listen HOST:PORT] "
	    "[--window BYTES] [--drop-after N]\n");
	exit(2);
}

static char *
dpath(const char *name, const char *ext)
{
	return xasprintf("%s/%s%s", dir, name, ext);
}

static uint64_t
jint(json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void
stats_load(void)
{
	json_t	*j;
	char	*p = dpath("stats", ".json");

	if ((j = json_load_file(p, 0, NULL)) != NULL) {
		st.connections = jint(j, "connections");
		st.frames = jint(j, "frames");
		st.frame_bytes = jint(j, "frame_bytes");
		st.data_bytes = jint(j, "data_bytes");
		st.zero_bytes = jint(j, "zero_bytes");
		st.dup_frames = jint(j, "dup_frames");
		st.dup_bytes = jint(j, "dup_bytes");
		st.gaps = jint(j, "gaps");
		st.flow_violations = jint(j, "flow_violations");
		st.drops = jint(j, "drops");
		st.bookmarks = jint(j, "bookmarks");
		st.resyncs = jint(j, "resyncs");
		json_decref(j);
	}
	free(p);
}

static void
stats_save(void)
{
	json_t	*j;
	char	*p = dpath("stats", ".json"), *tmp, *text;
	FILE	*f;

	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I}",
	    "connections", (json_int_t)st.connections,
	    "frames", (json_int_t)st.frames,
	    "frame_bytes", (json_int_t)st.frame_bytes,
	    "data_bytes", (json_int_t)st.data_bytes,
	    "zero_bytes", (json_int_t)st.zero_bytes,
	    "dup_frames", (json_int_t)st.dup_frames,
	    "dup_bytes", (json_int_t)st.dup_bytes,
	    "gaps", (json_int_t)st.gaps,
	    "flow_violations", (json_int_t)st.flow_violations,
	    "drops", (json_int_t)st.drops,
	    "bookmarks", (json_int_t)st.bookmarks,
	    "resyncs", (json_int_t)st.resyncs);
	text = json_dumps(j, JSON_INDENT(2));
	tmp = xasprintf("%s.tmp", p);
	if ((f = fopen(tmp, "w")) != NULL) {
		fputs(text, f);
		fputc('\n', f);
		if (fclose(f) == 0)
			rename(tmp, p);
	}
	free(tmp);
	free(text);
	free(p);
	json_decref(j);
}

static void
disk_close(struct disk *d)
{
	if (d->fd != -1)
		close(d->fd);
	free(d->name);
	fbuf_free(&d->points);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

static int
disk_open(struct disk *d, const char *id, uint64_t size, char **cause)
{
	struct stat	 sb;
	char		*p, *text;
	size_t		 i;

	d->name = xstrdup(id);
	for (i = 0; d->name[i] != '\0'; i++) {
		char	c = d->name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			d->name[i] = '_';
	}
	p = dpath(d->name, ".img");
	d->fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->fd == -1 || fstat(d->fd, &sb) == -1) {
		set_cause(cause, "cannot open %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	if (size > 0 && (uint64_t)sb.st_size < size &&
	    ftruncate(d->fd, (off_t)size) == -1) {
		set_cause(cause, "cannot size the image: %s", strerror(errno));
		return -1;
	}
	p = dpath(d->name, ".seq");
	if ((text = read_file(p, NULL, NULL)) != NULL) {
		d->durable = strtoull(text, NULL, 10);
		free(text);
	}
	free(p);
	d->last = d->durable;
	fbuf_init(&d->points);
	return 0;
}

/* The group commit: image, then the seq that vouches for it. */
static int
disk_commit(struct disk *d, char **cause)
{
	char	*p, num[32];
	int	 fd;

	if (d->last == d->durable)
		return 0;
	if (fdatasync(d->fd) == -1) {
		set_cause(cause, "fdatasync: %s", strerror(errno));
		return -1;
	}
	if (d->points.len > 0) {
		p = dpath(d->name, ".points");
		fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		free(p);
		if (fd == -1 || write(fd, d->points.data, d->points.len) !=
		    (ssize_t)d->points.len || fsync(fd) == -1) {
			set_cause(cause, "cannot write points: %s",
			    strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
		fbuf_reset(&d->points);
	}
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)d->last);
	p = dpath(d->name, ".seq");
	if (write_file_atomic(p, num, strlen(num), 0600, cause) == -1) {
		free(p);
		return -1;
	}
	free(p);
	d->durable = d->last;
	return 0;
}

static int
ssl_send(SSL *ssl, const struct fbuf *b)
{
	return SSL_write(ssl, b->data, (int)b->len) == (int)b->len ? 0 : -1;
}

static void
send_error(SSL *ssl, const char *msg)
{
	struct fbuf	b;

	fbuf_init(&b);
	frame_begin(&b, DT_ERROR);
	frame_put_str(&b, D_MESSAGE, msg);
	frame_end(&b);
	(void)ssl_send(ssl, &b);
	fbuf_free(&b);
	fprintf(stderr, "fakeps: error: %s\n", msg);
}

/* Apply one frame; 1 = drop the connection now, 2 = close it (refused),
 * -1 = error. */
static int
handle(SSL *ssl, const char *cn, struct disk *d, const struct frame *f,
    size_t flen, char **cause)
{
	struct fbuf	 b;
	const uint8_t	*bytes;
	uint64_t	 seq, off, len, size;
	char		*id, *kind, *prov;
	size_t		 blen;
	ssize_t		 n;
	static uint8_t	 zeros[65536];

	if (f->type == DT_HELLO) {
		id = frame_str(f, D_DISK);
		if (cn == NULL || strncmp(id, cn, strlen(cn)) != 0 ||
		    id[strlen(cn)] != ':') {
			set_cause(cause, "disk %s is not of machine %s", id,
			    cn ? cn : "?");
			free(id);
			return -1;
		}
		size = frame_u64(f, D_SIZE, 0);
		if (d->fd != -1)
			disk_close(d);
		if (disk_open(d, id, size, cause) == -1) {
			free(id);
			return -1;
		}
		fprintf(stderr, "fakeps: hello %s resume %llu size %llu: "
		    "durable %llu\n", id,
		    (unsigned long long)frame_u64(f, D_RESUME, 0),
		    (unsigned long long)size, (unsigned long long)d->durable);
		free(id);
		fbuf_init(&b);
		if (frame_u64(f, D_RESUME, 0) > d->durable) {
			/* As the PS does when its cache was lost. */
			frame_begin(&b, DT_ERROR);
			frame_put_str(&b, D_MESSAGE, "the agent saw more "
			    "acknowledged than this cache holds: the cache was "
			    "lost; this disk needs a resync");
			frame_put_u64(&b, D_RESYNC, 1);
			frame_end(&b);
			(void)ssl_send(ssl, &b);
			fbuf_free(&b);
			st.resyncs++;
			return 2;
		}
		/* Before HELLO_OK, so that it holds from the first frame. */
		if (window > 0) {
			frame_begin(&b, DT_FLOW);
			frame_put_u64(&b, D_WINDOW, window);
			frame_end(&b);
			(void)ssl_send(ssl, &b);
		}
		frame_begin(&b, DT_HELLO_OK);
		frame_put_u64(&b, D_SEQ, d->durable);
		frame_put_u64(&b, D_SHARD, 0);
		frame_end(&b);
		(void)ssl_send(ssl, &b);
		fbuf_free(&b);
		return 0;
	}
	if (d->fd == -1) {
		set_cause(cause, "frame before hello");
		return -1;
	}
	seq = frame_u64(f, D_SEQ, 0);
	st.frames++;
	st.frame_bytes += flen;
	if (seq <= d->last) {
		st.dup_frames++;
		st.dup_bytes += flen;
		return 0;
	}
	if (seq != d->last + 1) {
		st.gaps++;
		fprintf(stderr, "fakeps: gap: seq %llu after %llu\n",
		    (unsigned long long)seq, (unsigned long long)d->last);
	}
	switch (f->type) {
	case DT_DATA:
		off = frame_u64(f, D_OFFSET, 0);
		data_frames++;
		if ((bytes = frame_bytes(f, D_BYTES, &blen)) != NULL) {
			if (pwrite(d->fd, bytes, blen, (off_t)off) !=
			    (ssize_t)blen) {
				set_cause(cause, "pwrite: %s", strerror(errno));
				return -1;
			}
			st.data_bytes += blen;
			break;
		}
		if (!frame_has(f, D_ZERO)) {
			set_cause(cause, "data frame seq %llu has neither bytes "
			    "nor a zero run", (unsigned long long)seq);
			return -1;
		}
		/* A zero run: a hole. */
		len = frame_u64(f, D_ZERO, 0);
		st.zero_bytes += len;
		if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    (off_t)off, (off_t)len) == -1) {
			while (len > 0) {
				blen = len < sizeof(zeros) ? len : sizeof(zeros);
				n = pwrite(d->fd, zeros, blen, (off_t)off);
				if (n <= 0) {
					set_cause(cause, "pwrite: %s",
					    strerror(errno));
					return -1;
				}
				off += (uint64_t)n;
				len -= (uint64_t)n;
			}
		}
		break;
	case DT_BOOKMARK:
		kind = frame_str(f, D_KIND);
		prov = frame_str(f, D_PROVIDER);
		id = xasprintf("%llu %llu %s %llu %llu %s\n",
		    (unsigned long long)seq,
		    (unsigned long long)frame_u64(f, D_POINT, 0), kind,
		    (unsigned long long)frame_u64(f, D_TIME, 0),
		    (unsigned long long)frame_u64(f, D_CONSISTENT, 1),
		    prov ? prov : "-");
		fbuf_add(&d->points, id, strlen(id));
		free(id);
		free(kind);
		free(prov);
		st.bookmarks++;
		break;
	default:
		set_cause(cause, "unexpected %s frame",
		    frame_spec_find(data_specs, f->type)->name);
		return -1;
	}
	d->last = seq;
	if (drop_after > 0 && !dropped && data_frames >= drop_after) {
		dropped = 1;
		st.drops++;
		return 1;
	}
	return 0;
}

static void
serve(SSL_CTX *ctx, int fd)
{
	struct disk	 d;
	struct fbuf	 in, ack;
	struct frame	 f;
	struct pollfd	 pfd;
	struct timeval	 tv = { 60, 0 };
	const struct frame_spec *spec;
	uint8_t		 buf[65536];
	char		*cause = NULL, *cn = NULL;
	uint64_t	 unacked = 0, batch;
	ssize_t		 used;
	int		 n, rc = 0;
	SSL		*ssl;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	fbuf_init(&in);
	fbuf_init(&ack);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1) {
		fprintf(stderr, "fakeps: TLS handshake failed: %s\n",
		    tls_error());
		goto out;
	}
	if (tls_peer_identity(ssl, &cn, NULL) == -1) {
		fprintf(stderr, "fakeps: no verified client certificate\n");
		goto out;
	}
	st.connections++;
	for (;;) {
		/* One burst: block for the first read, then take what is
		 * there without waiting. */
		batch = 0;
		do {
			if ((n = SSL_read(ssl, buf, sizeof(buf))) <= 0)
				goto eof;
			fbuf_add(&in, buf, (size_t)n);
			batch += (uint64_t)n;
			pfd.fd = fd;
			pfd.events = POLLIN;
		} while (batch < BATCH_MAX && (SSL_pending(ssl) > 0 ||
		    poll(&pfd, 1, 0) == 1));
		while ((used = frame_decode(in.data, in.len, DATA_MAXFRAME, &f,
		    &cause)) != 0) {
			if (used < 0 ||
			    (spec = frame_spec_find(data_specs, f.type)) ==
			    NULL || frame_check(&f, spec, &cause) == -1) {
				send_error(ssl, cause ? cause : "unknown frame");
				goto out;
			}
			if (f.type != DT_HELLO) {
				unacked += (uint64_t)used;
				if (window > 0 && unacked > window &&
				    unacked > (uint64_t)used)
					st.flow_violations++;
			}
			rc = handle(ssl, cn, &d, &f, (size_t)used, &cause);
			fbuf_drain(&in, (size_t)used);
			if (rc == -1) {
				send_error(ssl, cause);
				goto out;
			}
			if (rc == 2)
				goto out;
			if (rc == 1) {
				fprintf(stderr, "fakeps: dropping the "
				    "connection after %llu data frames\n",
				    (unsigned long long)data_frames);
				goto drop;
			}
		}
		if (d.fd != -1 && d.last != d.durable) {
			if (disk_commit(&d, &cause) == -1) {
				send_error(ssl, cause);
				goto out;
			}
			frame_begin(&ack, DT_ACK);
			frame_put_u64(&ack, D_SEQ, d.durable);
			frame_end(&ack);
			if (ssl_send(ssl, &ack) == -1)
				goto out;
			unacked = 0;
			stats_save();
		}
	}
eof:
	/* What arrived before the end is kept, as a PS would. */
	if (d.fd != -1 && disk_commit(&d, &cause) == -1)
		fprintf(stderr, "fakeps: %s\n", cause);
	goto out;
drop:
	/* Abrupt: no close_notify, the batch is not made durable. */
	SSL_free(ssl);
	ssl = NULL;
out:
	stats_save();
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	disk_close(&d);
	fbuf_free(&in);
	fbuf_free(&ack);
	free(cause);
	free(cn);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir",	required_argument, NULL, 'd' },
		{ "listen",	required_argument, NULL, 'l' },
		{ "window",	required_argument, NULL, 'w' },
		{ "drop-after",	required_argument, NULL, 'D' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct sockaddr_storage	 ss;
	struct addrinfo		 hints, *res;
	socklen_t		 sl = sizeof(ss);
	SSL_CTX			*ctx;
	const char		*listen_on = "127.0.0.1:0";
	char			*host, *port, *cert, *key, *ca, *cause = NULL;
	char			*colon, num[16], *pf;
	int			 ch, lfd, cfd, one = 1;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			listen_on = optarg;
			break;
		case 'w':
			window = strtoull(optarg, NULL, 10);
			break;
		case 'D':
			drop_after = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || optind != argc)
		usage();
	log_init("fakeps", 1, LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	cert = xasprintf("%s/server.crt", dir);
	key = xasprintf("%s/server.key", dir);
	ca = xasprintf("%s/ca.crt", dir);
	if ((ctx = tls_server_ctx(cert, key, ca, NULL, TLS_VERIFY_REQUIRED,
	    &cause)) == NULL) {
		fprintf(stderr, "fakeps: %s\n", cause);
		return 1;
	}
	host = xstrdup(listen_on);
	if ((colon = strrchr(host, ':')) == NULL)
		usage();
	*colon = '\0';
	port = colon + 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		usage();
	lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd == -1 || bind(lfd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(lfd, 8) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) == -1) {
		fprintf(stderr, "fakeps: cannot listen on %s: %s\n", listen_on,
		    strerror(errno));
		return 1;
	}
	freeaddrinfo(res);
	snprintf(num, sizeof(num), "%u\n", ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port));
	stats_load();
	stats_save();
	pf = xasprintf("%s/fakeps.port", dir);
	if (write_file_atomic(pf, num, strlen(num), 0644, &cause) == -1) {
		fprintf(stderr, "fakeps: %s\n", cause);
		return 1;
	}
	fprintf(stderr, "fakeps: listening on %s:%s", host, num);
	for (;;) {
		if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fakeps: accept: %s\n",
			    strerror(errno));
			return 1;
		}
		serve(ctx, cfd);
	}
}
