/*
 * A one-shot SNTP client (RFC 4330): the wizard's time check.  It only
 * measures the offset; chronyd keeps the clock.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "fb.h"

#define SNTP_PACKET	48
#define SNTP_UNIX_EPOCH	2208988800ULL	/* 1900-01-01 to 1970-01-01 */

static double
sntp_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t
sntp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* An NTP timestamp as Unix seconds; era 1 starts in 2036. */
static double
sntp_ts(const uint8_t *p)
{
	uint64_t	sec = sntp_get32(p);
	double		frac = (double)sntp_get32(p + 4) / 4294967296.0;

	if (sec < 0x80000000ULL)
		sec += 0x100000000ULL;
	return (double)(int64_t)(sec - SNTP_UNIX_EPOCH) + frac;
}

/* Checks one reply against our request's transmit cookie. */
static int
sntp_reply(const uint8_t *r, ssize_t n, const uint8_t *cookie,
    const char *where, double t1, double t4, double *offset, char **cause)
{
	int	mode, li, vn;

	if (n < SNTP_PACKET) {
		set_cause(cause, "%s sent a %zd-byte reply, not an NTP packet: "
		    "check that it is an NTP server.", where, n);
		return -1;
	}
	li = r[0] >> 6;
	vn = (r[0] >> 3) & 7;
	mode = r[0] & 7;
	if (mode != 4 || vn < 1 || vn > 4) {
		set_cause(cause, "%s did not answer as an NTP server (mode %d, "
		    "version %d): check the address and port.", where, mode, vn);
		return -1;
	}
	if (memcmp(r + 24, cookie, 8) != 0) {
		set_cause(cause, "%s answered a different request (origin "
		    "timestamp mismatch): try again.", where);
		return -1;
	}
	if (r[1] == 0) {
		set_cause(cause, "%s refused the request (kiss code %.4s): "
		    "allow this appliance on the server, or use another time "
		    "source.", where, (const char *)r + 12);
		return -1;
	}
	if (li == 3 || r[1] > 15) {
		set_cause(cause, "%s is not synchronised itself (stratum %d): "
		    "use a time source that is.", where, r[1]);
		return -1;
	}
	if (sntp_get32(r + 40) == 0 && sntp_get32(r + 44) == 0) {
		set_cause(cause, "%s sent no transmit time: use another time "
		    "source.", where);
		return -1;
	}
	*offset = ((sntp_ts(r + 32) - t1) + (sntp_ts(r + 40) - t4)) / 2;
	return 0;
}

/* One address: a request, one resend at half time, the first good reply. */
static int
sntp_try(const struct addrinfo *ai, const char *where, int timeout_ms,
    double *offset, char **cause)
{
	uint8_t		 req[SNTP_PACKET], rep[SNTP_PACKET + 64];
	struct pollfd	 pfd;
	uint64_t	 start = now_ms(), el, phase;
	double		 t1, t4;
	ssize_t		 n;
	int		 fd, sent = 0, rc = -1;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1) {
		set_cause(cause, "cannot open a UDP socket for %s: %s", where,
		    strerror(errno));
		return -1;
	}
	/* Connected: the kernel drops datagrams from anyone else and
	 * reports ICMP port-unreachable as ECONNREFUSED. */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		set_cause(cause, "%s cannot be reached: %s. Check the network "
		    "settings (address, gateway).", where, strerror(errno));
		goto out;
	}
	memset(req, 0, sizeof req);
	req[0] = 0 << 6 | 4 << 3 | 3;		/* LI 0, version 4, client */
	/* A random transmit timestamp: the reply must echo it. */
	random_bytes(req + 40, 8);
	t1 = 0;
	for (;;) {
		el = now_ms() - start;
		if (el >= (uint64_t)timeout_ms) {
			set_cause(cause, "No answer from %s within %d s: check "
			    "that the server runs NTP and allows this "
			    "appliance, and that the network settings "
			    "(gateway, DNS) are right.", where,
			    (timeout_ms + 999) / 1000);
			goto out;
		}
		if (sent == 0 || (sent == 1 && el >= (uint64_t)timeout_ms / 2)) {
			t1 = sntp_now();
			if (send(fd, req, sizeof req, 0) == -1 &&
			    errno != ECONNREFUSED) {
				set_cause(cause, "cannot send to %s: %s. Check "
				    "the network settings.", where,
				    strerror(errno));
				goto out;
			}
			sent++;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		el = now_ms() - start;
		phase = sent == 1 ? (uint64_t)timeout_ms / 2 :
		    (uint64_t)timeout_ms;
		if (poll(&pfd, 1, phase > el ? (int)(phase - el) : 0) <= 0)
			continue;
		n = recv(fd, rep, sizeof rep, 0);
		t4 = sntp_now();
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			set_cause(cause, "No NTP server answers at %s (%s): "
			    "check the server's address and port, or change "
			    "the time source.", where, strerror(errno));
			goto out;
		}
		if (sntp_reply(rep, n, req + 40, where, t1, t4, offset,
		    cause) == 0)
			rc = 0;
		goto out;
	}
out:
	close(fd);
	return rc;
}

int
sntp_query(const char *host, int port, int timeout_ms, double *offset,
    char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	char		 serv[16], where[300], *why = NULL;
	int		 e, rc = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(serv, sizeof serv, "%d", port);
	if ((e = getaddrinfo(host, serv, &hints, &res)) != 0) {
		set_cause(cause, "Cannot resolve the time source %s: %s. Check "
		    "the DNS servers in the network settings, or type the "
		    "server's IP address.", host, gai_strerror(e));
		return -1;
	}
	snprintf(where, sizeof where, port == 123 ? "%s" : "%s port %d",
	    host, port);
	for (ai = res; ai != NULL && rc == -1; ai = ai->ai_next)
		rc = sntp_try(ai, where, timeout_ms, offset, &why);
	if (rc == -1)
		set_cause(cause, "%s", why);
	free(why);
	freeaddrinfo(res);
	return rc;
}

/* The host of a source line and its "port N" option, as host[:port]. */
static char *
sntp_with_port(const char *host, size_t n)
{
	const char	*p = host + n, *eol = host + strcspn(host, "\n#");
	char		*h = xstrndup(host, n), *r;
	long		 port;

	while (p < eol) {
		p += strspn(p, " \t");
		if (strncmp(p, "port", 4) == 0 && isblank((unsigned char)p[4])) {
			port = strtol(p + 5, NULL, 10);
			if (port > 0 && port < 65536 && port != 123) {
				r = strchr(h, ':') != NULL ?
				    xasprintf("[%s]:%ld", h, port) :
				    xasprintf("%s:%ld", h, port);
				free(h);
				return r;
			}
		}
		p += strcspn(p, " \t\n");
	}
	return h;
}

char *
sntp_chrony_source(const char *conf)
{
	const char	*line, *p, *end;
	size_t		 n;

	for (line = conf; line != NULL && *line != '\0';
	    line = (end = strchr(line, '\n')) != NULL ? end + 1 : NULL) {
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "server", 6) == 0 && isblank((unsigned char)p[6]))
			p += 6;
		else if (strncmp(p, "pool", 4) == 0 &&
		    isblank((unsigned char)p[4]))
			p += 4;
		else
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t\r\n#");
		if (n == 0)
			continue;
		return sntp_with_port(p, n);
	}
	return NULL;
}

void
sntp_fmt_duration(double secs, char *out, size_t outlen)
{
	long long	s = llround(fabs(secs));

	if (s >= 86400)
		snprintf(out, outlen, "%lld d %lld h %lld min", s / 86400,
		    s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(out, outlen, "%lld h %lld min %lld s", s / 3600,
		    s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(out, outlen, "%lld min %lld s", s / 60, s % 60);
	else
		snprintf(out, outlen, "%.1f s", fabs(secs));
}
