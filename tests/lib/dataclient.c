/*
 * dataclient: a test client for havend's data port (docs/frames.md).
 *
 *	dataclient --connect HOST:PORT --ca CA.crt [--cert C --key K]
 *	    [--disk NAME] [--hold SECONDS] [--garbage BYTES] [--timeout S]
 *
 * Connects with TLS (blocking OpenSSL), sends a DT_HELLO and prints what
 * came back, one line per event:
 *
 *	hello-ok seq=0 shard=1		the server accepted the stream
 *	error: MESSAGE			a DT_ERROR frame (the server's reason)
 *	closed: REASON			the connection ended (EOF, reset,
 *					a TLS alert such as "certificate
 *					required" or "unknown ca")
 *	connect: / tls: REASON		no connection / no handshake
 *
 * Exit status: 0 on hello-ok, 1 otherwise.  With --hold N the connection
 * stays open N seconds after the first hello-ok, then a second HELLO must
 * get a second hello-ok (the connection survived whatever happened
 * meanwhile).  With --garbage N, N random bytes follow the first
 * hello-ok; the exit status is then 0 only when the server answered them
 * with a DT_ERROR frame (a reason) and closed the connection.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dataproto.h"
#include "frame.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define VERSION_STR	"dataclient/1"

enum got { GOT_HELLO_OK, GOT_ERROR, GOT_CLOSED, GOT_OTHER };

static struct fbuf	inbuf;

static void
usage(void)
{
	fprintf(stderr, "usage: dataclient --connect HOST:PORT --ca CA.crt "
	    "[--cert CERT --key KEY] [--disk NAME] [--hold SECONDS] "
	    "[--garbage BYTES] [--timeout SECONDS]\n");
	exit(2);
}

/* The last OpenSSL error as words, or what errno says. */
static const char *
ssl_reason(SSL *ssl, int ret, char *buf, size_t len)
{
	unsigned long	e, last = 0;
	int		err = SSL_get_error(ssl, ret), saved = errno;

	while ((e = ERR_get_error()) != 0)
		last = e;
	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		snprintf(buf, len, "the server closed the connection "
		    "(TLS close_notify)");
		break;
	case SSL_ERROR_SYSCALL:
		if (last != 0)
			ERR_error_string_n(last, buf, len);
		else if (ret == 0 || saved == 0)
			snprintf(buf, len, "the server closed the connection "
			    "(EOF without close_notify)");
		else if (saved == EAGAIN || saved == EWOULDBLOCK)
			snprintf(buf, len, "timed out waiting for the server");
		else
			snprintf(buf, len, "%s", strerror(saved));
		break;
	case SSL_ERROR_SSL:
		if (last != 0)
			ERR_error_string_n(last, buf, len);
		else
			snprintf(buf, len, "TLS protocol error");
		break;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		snprintf(buf, len, "timed out waiting for the server");
		break;
	default:
		snprintf(buf, len, "TLS error %d", err);
		break;
	}
	return buf;
}

static int
tcp_connect(const char *hostport, int timeout, char *host, size_t hostlen)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { timeout, 0 };
	const char	*colon;
	char		 port[16];
	int		 fd = -1, rc, saved = 0;

	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(end - hostport - 1),
		    hostport + 1);
		colon = end + 1;
	} else {
		if ((colon = strrchr(hostport, ':')) == NULL)
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(colon - hostport),
		    hostport);
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		printf("connect: %s: %s\n", hostport, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		printf("connect: %s: %s\n", hostport, strerror(saved));
	return fd;
}

static int
send_hello(SSL *ssl, const char *disk)
{
	struct fbuf	b;
	char		why[256];
	int		n;

	fbuf_init(&b);
	frame_begin(&b, DT_HELLO);
	frame_put_str(&b, D_DISK, disk);
	frame_put_u64(&b, D_RESUME, 0);
	frame_put_u64(&b, D_SIZE, 1 << 20);
	frame_put_str(&b, D_VERSION, VERSION_STR);
	frame_end(&b);
	n = SSL_write(ssl, b.data, (int)b.len);
	fbuf_free(&b);
	if (n <= 0) {
		printf("closed: sending hello: %s\n",
		    ssl_reason(ssl, n, why, sizeof(why)));
		/*
		 * In TLS 1.3 the server judges our certificate after our
		 * handshake is done: its alert may be waiting to be read.
		 */
		ERR_clear_error();
		if ((n = SSL_read(ssl, why, 1)) <= 0 &&
		    SSL_get_error(ssl, n) == SSL_ERROR_SSL)
			printf("closed: %s\n", ssl_reason(ssl, n, why,
			    sizeof(why)));
		return -1;
	}
	return 0;
}

/* Read one frame and print it. */
static enum got
read_frame(SSL *ssl)
{
	const struct frame_spec	*spec;
	struct frame		 f;
	uint8_t			 buf[16384];
	char			 why[256], *cause = NULL, *msg;
	ssize_t			 used;
	int			 n;
	enum got		 got;

	for (;;) {
		used = frame_decode(inbuf.data, inbuf.len, DATA_MAXFRAME, &f,
		    &cause);
		if (used < 0) {
			printf("closed: the server sent a bad frame: %s\n",
			    cause);
			free(cause);
			return GOT_OTHER;
		}
		if (used > 0)
			break;
		n = SSL_read(ssl, buf, sizeof(buf));
		if (n <= 0) {
			printf("closed: %s\n", ssl_reason(ssl, n, why,
			    sizeof(why)));
			return GOT_CLOSED;
		}
		fbuf_add(&inbuf, buf, (size_t)n);
	}
	if ((spec = frame_spec_find(data_specs, f.type)) == NULL) {
		printf("frame: unknown type %u\n", f.type);
		got = GOT_OTHER;
	} else if (frame_check(&f, spec, &cause) == -1) {
		printf("frame: bad %s frame: %s\n", spec->name, cause);
		free(cause);
		got = GOT_OTHER;
	} else if (f.type == DT_HELLO_OK) {
		printf("hello-ok seq=%llu shard=%llu\n",
		    (unsigned long long)frame_u64(&f, D_SEQ, 0),
		    (unsigned long long)frame_u64(&f, D_SHARD, 0));
		got = GOT_HELLO_OK;
	} else if (f.type == DT_ERROR) {
		msg = frame_str(&f, D_MESSAGE);
		printf("error: %s\n", msg);
		free(msg);
		got = GOT_ERROR;
	} else {
		printf("frame: %s\n", spec->name);
		got = GOT_OTHER;
	}
	fflush(stdout);
	fbuf_drain(&inbuf, (size_t)used);
	return got;
}

/* Random bytes that do not start like a frame. */
static int
send_garbage(SSL *ssl, size_t len)
{
	uint8_t	*g = xmalloc(len > 0 ? len : 1);
	char	 why[256];
	size_t	 off = 0;
	int	 n;

	random_bytes(g, len);
	if (len > 0 && g[0] == (FRAME_MAGIC >> 8))
		g[0] ^= 0xff;
	while (off < len) {
		n = SSL_write(ssl, g + off, (int)(len - off > 16384 ? 16384 :
		    len - off));
		if (n <= 0) {
			/* The server may close before it read it all. */
			printf("garbage: %zu of %zu bytes sent: %s\n", off, len,
			    ssl_reason(ssl, n, why, sizeof(why)));
			break;
		}
		off += (size_t)n;
	}
	if (off == len)
		printf("garbage: %zu bytes sent\n", len);
	fflush(stdout);
	free(g);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "disk", required_argument, NULL, 'd' },
		{ "hold", required_argument, NULL, 'h' },
		{ "garbage", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*hostport = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	const char	*disk = "sda";
	char		*diskbuf = NULL;
	char		 host[256], why[256], *cause = NULL;
	long		 hold = -1, garbage = -1, timeout = 10;
	SSL_CTX		*ctx;
	SSL		*ssl;
	enum got	 got;
	int		 ch, fd, n, rc = 1;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': hostport = optarg; break;
		case 'a': ca = optarg; break;
		case 'C': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'd': disk = optarg; break;
		case 'h': hold = strtol(optarg, NULL, 10); break;
		case 'g': garbage = strtol(optarg, NULL, 10); break;
		case 't': timeout = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc || hostport == NULL || ca == NULL ||
	    (cert == NULL) != (key == NULL) || timeout <= 0 ||
	    (hold >= 0 && garbage >= 0))
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init("dataclient", 1, LOG_LVL_WARN);
	/*
	 * A disk id is "<machine id>:<disk>"; a bare name gets the machine
	 * id of our certificate, as the agent does.
	 */
	if (strchr(disk, ':') == NULL && cert != NULL) {
		struct tls_certinfo	ci;

		if (tls_cert_file_info(cert, &ci, &cause) == 0)
			disk = diskbuf = xasprintf("%s:%s", ci.subject_cn,
			    disk);
	}
	fbuf_init(&inbuf);

	if ((ctx = tls_client_ctx(ca, cert, key, &cause)) == NULL) {
		printf("tls: %s\n", cause);
		return 1;
	}
	if ((fd = tcp_connect(hostport, (int)timeout, host, sizeof(host))) ==
	    -1) {
		SSL_CTX_free(ctx);
		return 1;
	}
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		printf("tls: %s\n", tls_error());
		SSL_free(ssl);
		close(fd);
		SSL_CTX_free(ctx);
		return 1;
	}
	/* The server certificate must name the address we dialled. */
	{
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		struct in6_addr	   a6;
		struct in_addr	   a4;

		if (inet_pton(AF_INET, host, &a4) == 1 ||
		    inet_pton(AF_INET6, host, &a6) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else {
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
			SSL_set_tlsext_host_name(ssl, host);
		}
	}
	if ((n = SSL_connect(ssl)) != 1) {
		printf("tls: handshake failed: %s\n", ssl_reason(ssl, n, why,
		    sizeof(why)));
		goto out;
	}
	if (send_hello(ssl, disk) == -1)
		goto out;
	if ((got = read_frame(ssl)) != GOT_HELLO_OK)
		goto out;

	if (hold >= 0) {
		sleep((unsigned)hold);
		if (send_hello(ssl, disk) == -1)
			goto out;
		if (read_frame(ssl) == GOT_HELLO_OK)
			rc = 0;
	} else if (garbage >= 0) {
		send_garbage(ssl, (size_t)garbage);
		/* A reason, then the end of the connection. */
		got = read_frame(ssl);
		if (got == GOT_ERROR) {
			if (read_frame(ssl) == GOT_CLOSED)
				rc = 0;
		} else if (got == GOT_CLOSED)
			printf("garbage: the server closed without a "
			    "reason\n");
	} else
		rc = 0;
out:
	if (rc == 0 && garbage < 0)
		SSL_shutdown(ssl);	/* a clean goodbye, not an error */
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	fbuf_free(&inbuf);
	free(diskbuf);
	return rc;
}
