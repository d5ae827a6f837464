/*
 * haven-firstboot's validators (firstboot/fb_check.c) and its SNTP client
 * (firstboot/sntp.c).  The SNTP tests answer from a UDP socket in a
 * thread here with hand-made replies, to reach the cases a real server
 * does not produce (kiss-o'-death, forged origin, short packets, known
 * offsets); tests/integration/firstboot.t queries a real chronyd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <math.h>
#include <cmocka.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "util.h"
#include "../../firstboot/fb.h"

/* Each check: value, expected result, a word the message must contain. */
struct vcase {
	const char	*in;
	int		 ok;
	const char	*word;
};

/* rc first: the call sets cause, so it cannot be an argument beside it. */
#define CHECK(call, c) do { int rc_ = (call); expect_cause(rc_, cause, (c)); \
	} while (0)

static void
expect_cause(int rc, char *cause, const struct vcase *c)
{
	if (rc != (c->ok ? 0 : -1))
		fail_msg("'%s': rc %d, cause %s", c->in, rc,
		    cause != NULL ? cause : "(none)");
	if (!c->ok && (cause == NULL || strstr(cause, c->word) == NULL))
		fail_msg("'%s': cause '%s' lacks '%s'", c->in,
		    cause != NULL ? cause : "(none)", c->word);
}

static void
test_hostname(void **state)
{
	static const struct vcase cases[] = {
		{ "haven", 1, NULL },
		{ "haven-cs1.example.com", 1, NULL },
		{ "a", 1, NULL },
		{ "9lives", 1, NULL },
		{ "", 0, "empty" },
		{ "bad_host", 0, "'_'" },
		{ "-lead", 0, "hyphen" },
		{ "trail-", 0, "hyphen" },
		{ "a..b", 0, "empty label" },
		{ ".a", 0, "empty label" },
		{ "host.", 0, "empty label" },
		{ "10.0.0.1", 0, "address" },
		{ "host.123", 0, "numeric" },
		{ "h\xc3\xa9", 0, "letters" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    0, "63" },
	};
	char	*cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		free(cause);
		cause = NULL;
		CHECK(fb_check_hostname(cases[i].in, &cause), &cases[i]);
	}
	free(cause);
}

static void
test_cidr_gateway(void **state)
{
	static const struct vcase cidrs[] = {
		{ "192.168.10.20/24", 1, NULL },
		{ "10.1.2.3/8", 1, NULL },
		{ "10.0.0.1/32", 1, NULL },
		{ "192.168.10.20", 0, "prefix" },
		{ "192.168.10.256/24", 0, "not an IPv4" },
		{ "192.168.10/24", 0, "not an IPv4" },
		{ "192.168.10.20/33", 0, "prefix length" },
		{ "192.168.10.20/0", 0, "prefix length" },
		{ "192.168.10.20/x", 0, "prefix length" },
		{ "192.168.10.0/24", 0, "network address" },
		{ "192.168.10.255/24", 0, "broadcast" },
		{ "127.0.0.5/8", 0, "cannot be" },
		{ "224.0.0.1/4", 0, "cannot be" },
	};
	static const struct vcase gws[] = {
		{ "192.168.10.1", 1, NULL },
		{ "192.168.10.254", 1, NULL },
		{ "192.168.11.1", 0, "outside the network 192.168.10.0/24" },
		{ "192.168.10.20", 0, "own address" },
		{ "192.168.10.255", 0, "broadcast" },
		{ "192.168.10.0", 0, "network" },
		{ "gateway", 0, "not an IPv4" },
		{ "", 0, "empty" },
	};
	char		*cause = NULL;
	uint32_t	 a, gw;
	int		 p;

	(void)state;
	for (size_t i = 0; i < nitems(cidrs); i++) {
		free(cause);
		cause = NULL;
		CHECK(fb_check_cidr(cidrs[i].in, &a, &p, &cause), &cidrs[i]);
	}
	assert_int_equal(fb_check_cidr("192.168.10.20/24", &a, &p, &cause), 0);
	assert_int_equal(a, 0xc0a80a14);
	assert_int_equal(p, 24);
	for (size_t i = 0; i < nitems(gws); i++) {
		free(cause);
		cause = NULL;
		CHECK(fb_check_gateway(gws[i].in, a, p, &gw, &cause), &gws[i]);
	}
	/* The range is in the message. */
	assert_int_equal(fb_check_gateway("10.0.0.1", a, p, &gw, &cause), -1);
	assert_non_null(strstr(cause, "192.168.10.1 - 192.168.10.254"));
	free(cause);
}

static void
test_dns(void **state)
{
	char	*out = NULL, *cause = NULL;

	(void)state;
	assert_int_equal(fb_check_dns("192.168.10.2, 192.168.10.3", &out,
	    &cause), 0);
	assert_string_equal(out, "192.168.10.2 192.168.10.3");
	free(out);
	assert_int_equal(fb_check_dns("2001:db8::53", &out, &cause), 0);
	free(out);
	assert_int_equal(fb_check_dns("", &out, &cause), -1);
	assert_non_null(strstr(cause, "No DNS server"));
	assert_int_equal(fb_check_dns("1.1.1.1 dns.example", &out, &cause), -1);
	assert_non_null(strstr(cause, "'dns.example' is not an IP address"));
	assert_int_equal(fb_check_dns("1.1.1.1 1.0.0.1 8.8.8.8 8.8.4.4", &out,
	    &cause), -1);
	assert_non_null(strstr(cause, "At most 3"));
	free(cause);
}

static void
test_password(void **state)
{
	static const struct {
		const char *pw, *again, *word;
	} cases[] = {
		{ "Str0ng!pass", "Str0ng!pass", NULL },
		{ "Sh0rt!", "Sh0rt!", "at least 8" },
		{ "alllowercase1!", "alllowercase1!", "an upper-case letter" },
		{ "NoDigitsHere!", "NoDigitsHere!", "a digit" },
		{ "NoSymbols123", "NoSymbols123", "a symbol" },
		{ "Str0ng!pass", "Str0ng!pasS", "do not match" },
	};
	char	*cause = NULL;
	int	 rc;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		free(cause);
		cause = NULL;
		rc = fb_check_password(cases[i].pw, cases[i].again, &cause);
		if (cases[i].word == NULL)
			assert_int_equal(rc, 0);
		else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(cause, cases[i].word));
		}
	}
	free(cause);
}

static void
test_ports(void **state)
{
	static const struct vcase cases[] = {
		{ "9443", 1, NULL },
		{ "1", 1, NULL },
		{ "65535", 1, NULL },
		{ "443", 0, "Port 443 is the control port (agents and process "
		    "servers enroll there) and is refused for data: use 9443" },
		{ "44315", 0, "Port 44315 is the admin port (web UI)" },
		{ "22", 0, "Port 22 is SSH (the appliance's sshd" },
		{ "3306", 0, "Port 3306 is MariaDB (the appliance's database" },
		{ "21", 1, NULL },
		{ "3307", 1, NULL },
		{ "0", 0, "1 to 65535" },
		{ "70000", 0, "1 to 65535" },
		{ "", 0, "not a port" },
		{ "94a3", 0, "not a port" },
		{ "-5", 0, "not a port" },
	};
	char	*cause = NULL;
	int	 port;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		free(cause);
		cause = NULL;
		CHECK(fb_check_data_port(cases[i].in, &port, &cause), &cases[i]);
	}
	assert_int_equal(fb_check_data_port("9443", &port, &cause), 0);
	assert_int_equal(port, 9443);
	free(cause);
}

static void
test_proxy_url(void **state)
{
	static const struct vcase cases[] = {
		{ "http://proxy.example.com", 1, NULL },
		{ "https://10.0.0.8", 1, NULL },
		{ "http://proxy/", 1, NULL },
		{ "proxy.example.com", 0, "http://" },
		{ "ftp://proxy", 0, "http://" },
		{ "http://", 0, "no host" },
		{ "http://proxy:3128", 0, "Port field" },
		{ "http://u:p@proxy", 0, "own fields" },
		{ "http://proxy/path", 0, "no path" },
		{ "http://bad_host", 0, "neither" },
	};
	char	*cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		free(cause);
		cause = NULL;
		CHECK(fb_check_proxy_url(cases[i].in, &cause), &cases[i]);
	}
	free(cause);
}

static void
test_key_file(void **state)
{
	char	 dir[] = "/tmp/test_firstboot.XXXXXX", *p, *cause = NULL;
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(fb_check_key_file("", &cause), 0);
	assert_int_equal(fb_check_key_file("relative.key", &cause), -1);
	assert_non_null(strstr(cause, "absolute"));
	p = xasprintf("%s/vault.key", dir);
	assert_int_equal(fb_check_key_file(p, &cause), -1);
	assert_non_null(strstr(cause, "No such file"));
	f = fopen(p, "w");
	fclose(f);
	assert_int_equal(fb_check_key_file(p, &cause), -1);
	assert_non_null(strstr(cause, "empty"));
	f = fopen(p, "w");
	fputs("key\n", f);
	fclose(f);
	assert_int_equal(fb_check_key_file(p, &cause), 0);
	assert_int_equal(fb_check_key_file(dir, &cause), -1);
	assert_non_null(strstr(cause, "not a regular file"));
	unlink(p);
	rmdir(dir);
	free(p);
	free(cause);
}

static void
test_ini_value(void **state)
{
	char	*cause = NULL;

	(void)state;
	assert_int_equal(fb_check_ini_value("x", "plain text", 1, &cause), 0);
	assert_int_equal(fb_check_ini_value("x", "", 0, &cause), 0);
	assert_int_equal(fb_check_ini_value("x", "", 1, &cause), -1);
	assert_int_equal(fb_check_ini_value("x", "a\"b", 1, &cause), -1);
	assert_non_null(strstr(cause, "double quote"));
	free(cause);
}

static void
test_time_source(void **state)
{
	char	*host = NULL, *cause = NULL;
	int	 port;

	(void)state;
	assert_int_equal(fb_parse_time_source("pool.ntp.org", &host, &port,
	    &cause), 0);
	assert_string_equal(host, "pool.ntp.org");
	assert_int_equal(port, 123);
	free(host);
	assert_int_equal(fb_parse_time_source("127.0.0.1:1234", &host, &port,
	    &cause), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 1234);
	free(host);
	assert_int_equal(fb_parse_time_source("[::1]:1234", &host, &port,
	    &cause), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 1234);
	free(host);
	assert_int_equal(fb_parse_time_source("2001:db8::1", &host, &port,
	    &cause), 0);
	assert_int_equal(port, 123);
	free(host);
	assert_int_equal(fb_parse_time_source("ntp:0", &host, &port, &cause),
	    -1);
	assert_int_equal(fb_parse_time_source("bad_name", &host, &port,
	    &cause), -1);
	assert_int_equal(fb_parse_time_source("", &host, &port, &cause), -1);
	free(cause);
}

static void
test_chrony_source(void **state)
{
	char	*s;

	(void)state;
	s = sntp_chrony_source("# comment\nconfdir /etc/chrony/conf.d\n"
	    "pool 2.debian.pool.ntp.org iburst\nserver other\n");
	assert_string_equal(s, "2.debian.pool.ntp.org");
	free(s);
	s = sntp_chrony_source("  server 10.0.0.5 port 1123 iburst\n");
	assert_string_equal(s, "10.0.0.5:1123");
	free(s);
	s = sntp_chrony_source("server ntp.example.com port 123\n");
	assert_string_equal(s, "ntp.example.com");
	free(s);
	assert_null(sntp_chrony_source("serverless yes\n#server x\n"));
	assert_null(sntp_chrony_source(""));
}

static void
test_duration(void **state)
{
	char	b[64];

	(void)state;
	sntp_fmt_duration(3600, b, sizeof b);
	assert_string_equal(b, "1 h 0 min 0 s");
	sntp_fmt_duration(-1200, b, sizeof b);
	assert_string_equal(b, "20 min 0 s");
	sntp_fmt_duration(0.25, b, sizeof b);
	assert_string_equal(b, "0.2 s");
	sntp_fmt_duration(2 * 86400 + 7200, b, sizeof b);
	assert_string_equal(b, "2 d 2 h 0 min");
}

/* The answering side of the SNTP tests. */
enum reply_kind { R_GOOD, R_KOD, R_FORGED, R_SHORT, R_MODE, R_SILENT,
    R_UNSYNC };

struct responder {
	int		 fd;
	int		 port;
	enum reply_kind	 kind;
	double		 shift;		/* seconds added to our clock */
	pthread_t	 th;
};

static void
put_ts(uint8_t *p, double t)
{
	uint64_t	sec = (uint64_t)floor(t) + 2208988800ULL;
	uint32_t	frac = (uint32_t)((t - floor(t)) * 4294967296.0);

	p[0] = sec >> 24; p[1] = sec >> 16; p[2] = sec >> 8; p[3] = sec;
	p[4] = frac >> 24; p[5] = frac >> 16; p[6] = frac >> 8; p[7] = frac;
}

static double
now_real(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
responder_main(void *arg)
{
	struct responder	*r = arg;
	struct sockaddr_in	 from;
	socklen_t		 fl = sizeof from;
	uint8_t			 q[48], a[48];
	ssize_t			 n;

	n = recvfrom(r->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
	if (n != 48 || r->kind == R_SILENT)
		return NULL;
	memset(a, 0, sizeof a);
	a[0] = 0 << 6 | 4 << 3 | 4;
	a[1] = 2;
	memcpy(a + 24, q + 40, 8);
	put_ts(a + 32, now_real() + r->shift);
	put_ts(a + 40, now_real() + r->shift);
	switch (r->kind) {
	case R_KOD:
		a[1] = 0;
		memcpy(a + 12, "DENY", 4);
		break;
	case R_FORGED:
		a[24] ^= 0xff;
		break;
	case R_MODE:
		a[0] = 4 << 3 | 3;
		break;
	case R_UNSYNC:
		a[0] |= 3 << 6;
		break;
	default:
		break;
	}
	sendto(r->fd, a, r->kind == R_SHORT ? 20 : 48, 0,
	    (struct sockaddr *)&from, fl);
	return NULL;
}

static void
responder_start(struct responder *r, enum reply_kind kind, double shift)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof sin;

	r->kind = kind;
	r->shift = shift;
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(r->fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sin, &sl), 0);
	r->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&r->th, NULL, responder_main, r), 0);
}

static void
responder_stop(struct responder *r)
{
	pthread_join(r->th, NULL);
	close(r->fd);
}

static void
test_sntp_offsets(void **state)
{
	static const double shifts[] = { 0, 3600, -1200, 0.5, 86400 * 400.0 };
	struct responder	r;
	double			off;
	char			*cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(shifts); i++) {
		responder_start(&r, R_GOOD, shifts[i]);
		assert_int_equal(sntp_query("127.0.0.1", r.port, 2000, &off,
		    &cause), 0);
		responder_stop(&r);
		if (fabs(off - shifts[i]) > 0.2)
			fail_msg("shift %f measured as %f", shifts[i], off);
	}
	free(cause);
}

static void
test_sntp_bad_replies(void **state)
{
	static const struct {
		enum reply_kind	 kind;
		const char	*word;
	} cases[] = {
		{ R_KOD, "kiss code DENY" },
		{ R_FORGED, "origin timestamp" },
		{ R_SHORT, "20-byte reply" },
		{ R_MODE, "did not answer as an NTP server" },
		{ R_UNSYNC, "not synchronised" },
		{ R_SILENT, "No answer from 127.0.0.1 port" },
	};
	struct responder	r;
	double			off;
	char			*cause = NULL;
	uint64_t		t0;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		responder_start(&r, cases[i].kind, 0);
		t0 = now_ms();
		assert_int_equal(sntp_query("127.0.0.1", r.port, 600, &off,
		    &cause), -1);
		/* The timeout holds, with a resend at half time. */
		assert_true(now_ms() - t0 < 1500);
		responder_stop(&r);
		if (strstr(cause, cases[i].word) == NULL)
			fail_msg("kind %d: '%s' lacks '%s'", cases[i].kind,
			    cause, cases[i].word);
	}
	free(cause);
}

static void
test_sntp_refused(void **state)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof sin;
	double			off;
	char			*cause = NULL;
	int			port, fd;

	(void)state;
	/* A port that was just bound and closed: the kernel answers
	 * port-unreachable. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	assert_int_equal(sntp_query("127.0.0.1", port, 1000, &off, &cause), -1);
	assert_non_null(strstr(cause, "Connection refused"));
	assert_int_equal(sntp_query("nosuch.invalid", 123, 1000, &off, &cause),
	    -1);
	assert_non_null(strstr(cause, "Cannot resolve"));
	free(cause);
}

/* The hash verifies with crypt(3) against pw. */
static int
shadow_verifies(const char *hash, const char *pw)
{
	struct crypt_data	*cd = calloc(1, sizeof *cd);
	const char		*h = crypt_r(pw, hash, cd);
	int			 r = h != NULL && strcmp(h, hash) == 0;

	free(cd);
	return r;
}

static void
test_shadow_hash(void **state)
{
	static const char b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz";
	char	 a[128], b[128], *cause = NULL;

	(void)state;
	assert_int_equal(fb_shadow_hash("Adm1n!pass", a, sizeof a, &cause), 0);
	assert_int_equal(fb_shadow_hash("Adm1n!pass", b, sizeof b, &cause), 0);
	/* $6$ + 16 salt characters + $ + 86 of hash. */
	assert_int_equal(strlen(a), 3 + 16 + 1 + 86);
	assert_memory_equal(a, "$6$", 3);
	assert_int_equal(strspn(a + 3, b64), 16);
	assert_int_equal(a[19], '$');
	assert_null(strpbrk(a, ":\n"));
	/* A fresh salt each time, from /dev/urandom. */
	assert_memory_not_equal(a + 3, b + 3, 16);
	assert_true(shadow_verifies(a, "Adm1n!pass"));
	assert_true(shadow_verifies(b, "Adm1n!pass"));
	assert_false(shadow_verifies(a, "Adm1n!pasS"));
	assert_int_equal(fb_shadow_hash("x", a, 50, &cause), -1);
	assert_non_null(strstr(cause, "longer than"));
	free(cause);
}

static void
test_shadow_edit(void **state)
{
	static const struct {
		const char	*in, *out, *word;
	} cases[] = {
		{ "root:*:20228:0:99999:7:::\nbin:*:20228:0:99999:7:::\n",
		  "root:H:20228:0:99999:7:::\nbin:*:20228:0:99999:7:::\n", NULL },
		{ "root:!*:20228:0:99999:7:::\n", "root:H:20228:0:99999:7:::\n", NULL },
		{ "root::1::::::", "root:H:1::::::", NULL },
		/* Not the first line, no final newline, CRs kept. */
		{ "daemon:*:1:0:99999:7:::\r\nroot:!:1:0:99999:7:::\r\nx:!:1::",
		  "daemon:*:1:0:99999:7:::\r\nroot:H:1:0:99999:7:::\r\nx:!:1::", NULL },
		/* Only the first root line, as getspnam(3); "rootx" is not root. */
		{ "rootx:!:1::\nroot:$6$old$h:1::\nroot:*:2::\n",
		  "rootx:!:1::\nroot:H:1::\nroot:*:2::\n", NULL },
		{ "bin:*:1::\nrootx:!:1::\n", NULL, "has no line for root" },
		{ "", NULL, "has no line for root" },
		{ "root\n", NULL, "has no line for root" },
		{ "root:nofield\nbin:*:1::\n", NULL, "has no password field" },
	};
	char	*out = NULL, *cause = NULL;
	size_t	 len;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		int rc = fb_shadow_edit("/x/etc/shadow", cases[i].in,
		    strlen(cases[i].in), "H", &out, &len, &cause);
		if (cases[i].out != NULL) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, cause);
			assert_string_equal(out, cases[i].out);
			assert_int_equal(len, strlen(cases[i].out));
			free(out);
		} else {
			assert_int_equal(rc, -1);
			if (strstr(cause, cases[i].word) == NULL ||
			    strstr(cause, "/x/etc/shadow-") == NULL)
				fail_msg("case %zu: cause '%s'", i, cause);
		}
	}
	assert_int_equal(fb_shadow_edit("/x", "root:*:1::", 10, "a:b", &out,
	    &len, &cause), -1);
	free(cause);
}

static char *
shadow_slurp(const char *path)
{
	char	*s = read_file(path, NULL, NULL);

	assert_non_null(s);
	return s;
}

static void
test_shadow_file(void **state)
{
	static const char head[] =
	    "daemon:*:20228:0:99999:7:::\n"
	    "root:", tail[] =
	    ":20228:0:99999:7:::\n"
	    "bin:*:20228:0:99999:7:::\n"
	    "mysql:!:20779::::::\n"
	    "ops:$y$j9T$Lq0mbLIgRs2qYtYyTAaO61$0A8N1bYh5b4b6JzXo9R1l8tB6vU1p"
	    "9b5q3L0mLQ0W/A:20500:0:99999:7:::\n";
	char		 dir[] = "/tmp/test_firstboot.XXXXXX", *p, *s, *cause = NULL;
	char		*end, *hash, *orig;
	struct stat	 st;
	struct group	*gr;
	gid_t		 gid;
	DIR		*d;
	struct dirent	*de;
	int		 fd, n, flags;

	(void)state;
	assert_non_null(mkdtemp(dir));
	p = xasprintf("%s/shadow", dir);

	/* Missing: names the file and the fix. */
	assert_int_equal(fb_shadow_set_root(p, "Adm1n!pass", &cause), -1);
	assert_non_null(strstr(cause, p));
	assert_non_null(strstr(cause, "No such file"));
	assert_non_null(strstr(cause, "restore it from its backup"));
	/* A directory is not the file. */
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(fb_shadow_set_root(p, "Adm1n!pass", &cause), -1);
	assert_non_null(strstr(cause, "not a regular file"));
	rmdir(p);

	/* Debian's: 0640 root:shadow (or our group where there is none). */
	orig = xasprintf("%s!*%s", head, tail);
	assert_int_equal(write_file_atomic(p, orig, strlen(orig), 0640,
	    &cause), 0);
	gid = (gr = getgrnam("shadow")) != NULL ? gr->gr_gid : getgid();
	assert_int_equal(chown(p, getuid(), gid), 0);
	assert_int_equal(fb_shadow_set_root(p, "Adm1n!pass", &cause), 0);
	s = shadow_slurp(p);
	assert_memory_equal(s, head, strlen(head));
	hash = s + strlen(head);
	assert_non_null(end = strchr(hash, ':'));
	assert_string_equal(end, tail);
	*end = '\0';
	assert_memory_equal(hash, "$6$", 3);
	assert_true(shadow_verifies(hash, "Adm1n!pass"));
	assert_false(shadow_verifies(hash, "Adm1n!pas"));
	free(s);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_gid, gid);
	/* Again (Back and Retry): a new hash, the rest still the same. */
	assert_int_equal(fb_shadow_set_root(p, "0ther!Pass", &cause), 0);
	s = shadow_slurp(p);
	assert_memory_equal(s, head, strlen(head));
	assert_non_null(end = strchr(s + strlen(head), ':'));
	assert_string_equal(end, tail);
	*end = '\0';
	assert_true(shadow_verifies(s + strlen(head), "0ther!Pass"));
	free(s);
	/* Nothing left beside it but the lock of shadow-utils. */
	assert_non_null(d = opendir(dir));
	n = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".pwd.lock") == 0)
			n++;
	closedir(d);
	assert_int_equal(n, 2);

	/* Unwritable (immutable): the file stays as it was. */
	s = shadow_slurp(p);
	fd = open(p, O_RDONLY);
	assert_true(fd != -1);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags |= FS_IMMUTABLE_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0)) {
		assert_int_equal(fb_shadow_set_root(p, "Adm1n!pass", &cause),
		    -1);
		assert_non_null(strstr(cause, p));
		assert_non_null(strstr(cause, "immutable"));
		assert_non_null(strstr(cause, "Retry"));
		flags &= ~FS_IMMUTABLE_FL;
		assert_int_equal(ioctl(fd, FS_IOC_SETFLAGS, &flags), 0);
		char *after = shadow_slurp(p);
		assert_string_equal(after, s);
		free(after);
	} else
		print_message("# skipped the immutable file: chattr is not "
		    "allowed here (%s)\n", strerror(errno));
	close(fd);
	free(s);

	unlink(p);
	s = xasprintf("%s/.pwd.lock", dir);
	unlink(s);
	free(s);
	assert_int_equal(rmdir(dir), 0);
	free(orig);
	free(p);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_cidr_gateway),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_shadow_hash),
		cmocka_unit_test(test_shadow_edit),
		cmocka_unit_test(test_shadow_file),
		cmocka_unit_test(test_proxy_url),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_ini_value),
		cmocka_unit_test(test_time_source),
		cmocka_unit_test(test_chrony_source),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_sntp_offsets),
		cmocka_unit_test(test_sntp_bad_replies),
		cmocka_unit_test(test_sntp_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
