/*
 * The wizard's validators.  Messages are shown verbatim under the field:
 * they name what is wrong and what would be accepted.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "fb.h"

static int
fb_all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int
fb_check_hostname(const char *name, char **cause)
{
	const char	*label, *p;
	size_t		 len;
	struct in_addr	 ia;

	if (*name == '\0') {
		set_cause(cause, "The host name is empty: type a name such as "
		    "haven-cs1 or haven-cs1.example.com.");
		return -1;
	}
	if (strlen(name) > 253) {
		set_cause(cause, "The host name has %zu characters; at most 253 "
		    "are allowed (RFC 1123).", strlen(name));
		return -1;
	}
	if (inet_pton(AF_INET, name, &ia) == 1) {
		set_cause(cause, "'%s' is an address, not a host name: type a "
		    "name such as haven-cs1.", name);
		return -1;
	}
	for (label = name;; label = p + 1) {
		p = strchr(label, '.');
		len = p != NULL ? (size_t)(p - label) : strlen(label);
		if (len == 0) {
			set_cause(cause, "'%s' has an empty label (two dots in a "
			    "row, or a dot at the start or end): remove the "
			    "extra dot.", name);
			return -1;
		}
		if (len > 63) {
			set_cause(cause, "A label of '%s' has %zu characters; "
			    "each dot-separated part may have at most 63 "
			    "(RFC 1123).", name, len);
			return -1;
		}
		if (label[0] == '-' || label[len - 1] == '-') {
			set_cause(cause, "'%.*s' starts or ends with a hyphen: "
			    "RFC 1123 labels begin and end with a letter or "
			    "digit.", (int)len, label);
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)label[i];
			if (!isalnum(c) || c > 127) {
				if (c == '-')
					continue;
				set_cause(cause, "The host name contains '%c': "
				    "use only letters a-z, digits 0-9, hyphens "
				    "and dots (RFC 1123).", isprint(c) ? c : '?');
				return -1;
			}
		}
		if (p == NULL)
			break;
	}
	/* The top-level label of a name is never all digits (RFC 1123 2.1). */
	label = strrchr(name, '.');
	if (label != NULL && fb_all_digits(label + 1)) {
		set_cause(cause, "'%s' ends in a numeric label: the last part of "
		    "a host name must contain a letter.", name);
		return -1;
	}
	return 0;
}

int
fb_check_ipv4(const char *what, const char *s, uint32_t *out, char **cause)
{
	struct in_addr	ia;

	if (*s == '\0') {
		set_cause(cause, "The %s is empty: type an IPv4 address such "
		    "as 192.168.10.20.", what);
		return -1;
	}
	if (inet_pton(AF_INET, s, &ia) != 1) {
		set_cause(cause, "'%s' is not an IPv4 address: the %s is four "
		    "numbers 0-255 separated by dots, such as 192.168.10.20.",
		    s, what);
		return -1;
	}
	*out = ntohl(ia.s_addr);
	return 0;
}

static uint32_t
fb_mask(int prefix)
{
	return prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);
}

int
fb_check_cidr(const char *s, uint32_t *addr, int *prefix, char **cause)
{
	char		*copy, *slash, *end;
	long		 len;
	uint32_t	 a, m;
	int		 rc = -1;

	copy = xstrdup(s);
	if ((slash = strchr(copy, '/')) == NULL) {
		set_cause(cause, "'%s' has no prefix length: type the address "
		    "and prefix as 192.168.10.20/24.", s);
		goto out;
	}
	*slash = '\0';
	if (fb_check_ipv4("address", copy, &a, cause) == -1)
		goto out;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || errno != 0 || len < 1 ||
	    len > 32) {
		set_cause(cause, "'/%s' is not a prefix length: use 1 to 32 "
		    "(24 for a 255.255.255.0 netmask).", slash + 1);
		goto out;
	}
	m = fb_mask((int)len);
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
		set_cause(cause, "%s cannot be this appliance's address "
		    "(0.x, 127.x, multicast and reserved ranges are not "
		    "host addresses).", copy);
		goto out;
	}
	if (len <= 30 && (a & ~m) == 0) {
		set_cause(cause, "%s is the network address of %s/%ld, not a "
		    "host address: pick an address inside the network.",
		    copy, copy, len);
		goto out;
	}
	if (len <= 30 && (a & ~m) == ~m) {
		set_cause(cause, "%s is the broadcast address of its /%ld "
		    "network: pick another address.", copy, len);
		goto out;
	}
	*addr = a;
	*prefix = (int)len;
	rc = 0;
out:
	free(copy);
	return rc;
}

static void
fb_fmt_ipv4(uint32_t a, char *out, size_t outlen)
{
	struct in_addr	ia;

	ia.s_addr = htonl(a);
	inet_ntop(AF_INET, &ia, out, outlen);
}

int
fb_check_gateway(const char *s, uint32_t addr, int prefix, uint32_t *gw,
    char **cause)
{
	uint32_t	g, m = fb_mask(prefix);
	char		net[INET_ADDRSTRLEN], first[INET_ADDRSTRLEN];
	char		last[INET_ADDRSTRLEN];

	if (fb_check_ipv4("gateway", s, &g, cause) == -1)
		return -1;
	fb_fmt_ipv4(addr & m, net, sizeof net);
	if ((g & m) != (addr & m)) {
		if (prefix <= 30) {
			fb_fmt_ipv4((addr & m) + 1, first, sizeof first);
			fb_fmt_ipv4((addr | ~m) - 1, last, sizeof last);
		} else {
			fb_fmt_ipv4(addr & m, first, sizeof first);
			fb_fmt_ipv4(addr | ~m, last, sizeof last);
		}
		set_cause(cause, "The gateway %s is outside the network %s/%d: "
		    "it must be in %s - %s, or change the prefix length.",
		    s, net, prefix, first, last);
		return -1;
	}
	if (g == addr) {
		set_cause(cause, "The gateway %s is this appliance's own "
		    "address: type the router's address.", s);
		return -1;
	}
	if (prefix <= 30 && ((g & ~m) == 0 || (g & ~m) == ~m)) {
		set_cause(cause, "The gateway %s is the network or broadcast "
		    "address of %s/%d: type the router's address.", s, net,
		    prefix);
		return -1;
	}
	*gw = g;
	return 0;
}

int
fb_check_dns(const char *s, char **out, char **cause)
{
	char		*copy, *tok, *save = NULL;
	struct in6_addr	 a6;
	struct fbuf	 fb;
	int		 n = 0, rc = -1;

	copy = xstrdup(s);
	fbuf_init(&fb);
	for (tok = strtok_r(copy, " ,;\t", &save); tok != NULL;
	    tok = strtok_r(NULL, " ,;\t", &save)) {
		if (inet_pton(AF_INET, tok, &a6) != 1 &&
		    inet_pton(AF_INET6, tok, &a6) != 1) {
			set_cause(cause, "'%s' is not an IP address: list DNS "
			    "servers by address, such as 192.168.10.2 "
			    "192.168.10.3.", tok);
			goto out;
		}
		if (++n > 3) {
			set_cause(cause, "At most 3 DNS servers can be used "
			    "(the resolver ignores more): remove %d.", n - 3);
			goto out;
		}
		if (fb.len > 0)
			fbuf_add(&fb, " ", 1);
		fbuf_add(&fb, tok, strlen(tok));
	}
	if (n == 0) {
		set_cause(cause, "No DNS server given: type at least one "
		    "address, such as 192.168.10.2 (separate several with "
		    "spaces).");
		goto out;
	}
	fbuf_add(&fb, "", 1);
	*out = (char *)fb.data;
	fb.data = NULL;
	rc = 0;
out:
	fbuf_free(&fb);
	free(copy);
	return rc;
}

int
fb_check_password(const char *pw, const char *again, char **cause)
{
	size_t		 len = strlen(pw);
	int		 lower = 0, upper = 0, digit = 0, other = 0;
	char		 missing[128] = "";

	if (len < FB_PASSWORD_MIN) {
		set_cause(cause, "The password has %zu characters: it needs at "
		    "least %d.", len, FB_PASSWORD_MIN);
		return -1;
	}
	if (len > FB_PASSWORD_MAX) {
		set_cause(cause, "The password has %zu characters: at most %d "
		    "are allowed.", len, FB_PASSWORD_MAX);
		return -1;
	}
	for (const char *p = pw; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f) {
			set_cause(cause, "The password contains a control "
			    "character: use printable characters only.");
			return -1;
		}
		if (islower(c))
			lower = 1;
		else if (isupper(c))
			upper = 1;
		else if (isdigit(c))
			digit = 1;
		else
			other = 1;
	}
	if (!lower)
		strlcat_s(missing, ", a lower-case letter", sizeof missing);
	if (!upper)
		strlcat_s(missing, ", an upper-case letter", sizeof missing);
	if (!digit)
		strlcat_s(missing, ", a digit", sizeof missing);
	if (!other)
		strlcat_s(missing, ", a symbol such as ! or #", sizeof missing);
	if (missing[0] != '\0') {
		set_cause(cause, "The password is too weak: it needs%s. Use at "
		    "least %d characters mixing upper- and lower-case letters, "
		    "digits and symbols.", missing + 1, FB_PASSWORD_MIN);
		return -1;
	}
	if (strcmp(pw, again) != 0) {
		set_cause(cause, "The two passwords do not match: type the "
		    "same password in both fields.");
		return -1;
	}
	return 0;
}

int
fb_check_port(const char *what, const char *s, int *port, char **cause)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isdigit((unsigned char)*s)) {
		set_cause(cause, "'%s' is not a port number: the %s is a "
		    "number from 1 to 65535.", s, what);
		return -1;
	}
	if (v < 1 || v > 65535) {
		set_cause(cause, "%s is out of range: the %s is a number from "
		    "1 to 65535.", s, what);
		return -1;
	}
	*port = (int)v;
	return 0;
}

/*
 * Ports the appliance itself listens on (DESIGN.md "Ports", Debian's sshd
 * and MariaDB): havend could not bind a data port there, or would take
 * it from its owner.
 */
static const struct {
	int		 port;
	const char	*what;
} fb_taken_ports[] = {
	{ 22,		"SSH (the appliance's sshd listens there)" },
	{ 443,		"the control port (agents and process servers enroll "
			"there)" },
	{ 3306,		"MariaDB (the appliance's database listens there)" },
	{ FB_ADMIN_PORT, "the admin port (web UI)" },
};

int
fb_check_data_port(const char *s, int *port, char **cause)
{
	int	p;

	if (fb_check_port("data port", s, &p, cause) == -1)
		return -1;
	for (size_t i = 0; i < nitems(fb_taken_ports); i++) {
		if (p != fb_taken_ports[i].port)
			continue;
		set_cause(cause, "Port %d is %s and is refused for data: use "
		    "%d or another free port.", p, fb_taken_ports[i].what,
		    FB_DATA_PORT_DEFAULT);
		return -1;
	}
	*port = p;
	return 0;
}

int
fb_check_proxy_url(const char *s, char **cause)
{
	const char	*host;
	char		*h;
	int		 rc;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else {
		set_cause(cause, "'%s' is not a proxy URL: it starts with "
		    "http:// or https://, such as http://proxy.example.com.",
		    s);
		return -1;
	}
	if (strchr(host, '@') != NULL) {
		set_cause(cause, "Put the proxy user name and password in their "
		    "own fields, not in the URL.");
		return -1;
	}
	h = xstrndup(host, strcspn(host, ":/"));
	if (host[strlen(h)] == ':') {
		set_cause(cause, "Put the proxy port in the Port field, not in "
		    "the URL: type http://%s.", h);
		rc = -1;
	} else if (host[strlen(h)] == '/' && host[strlen(h) + 1] != '\0') {
		set_cause(cause, "A proxy URL has no path: type http://%s.", h);
		rc = -1;
	} else if (*h == '\0') {
		set_cause(cause, "'%s' has no host: type the proxy's name or "
		    "address after http://.", s);
		rc = -1;
	} else {
		struct in_addr ia;
		char *why = NULL;

		rc = 0;
		if (inet_pton(AF_INET, h, &ia) != 1 &&
		    fb_check_hostname(h, &why) == -1) {
			set_cause(cause, "The proxy host '%s' is neither an "
			    "IPv4 address nor a host name: %s", h, why);
			rc = -1;
		}
		free(why);
	}
	free(h);
	return rc;
}

int
fb_check_key_file(const char *path, char **cause)
{
	struct stat	 st;
	int		 fd;

	if (*path == '\0')
		return 0;
	if (path[0] != '/') {
		set_cause(cause, "'%s' is not an absolute path: type the full "
		    "path of the registration key file, such as "
		    "/root/vault.key, or leave it empty.", path);
		return -1;
	}
	if (stat(path, &st) == -1) {
		set_cause(cause, "The registration key file %s cannot be "
		    "used: %s. Copy the key downloaded from the vault there, "
		    "or leave the field empty to register later.", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_cause(cause, "%s is not a regular file: type the path of "
		    "the registration key file itself.", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "The registration key file %s is not "
		    "readable: %s. Fix its permissions or copy it elsewhere.",
		    path, strerror(errno));
		return -1;
	}
	close(fd);
	if (st.st_size == 0) {
		set_cause(cause, "The registration key file %s is empty: "
		    "download the key from the vault again (keys are valid "
		    "for 5 days).", path);
		return -1;
	}
	return 0;
}

int
fb_check_ini_value(const char *what, const char *s, int required,
    char **cause)
{
	if (*s == '\0' && required) {
		set_cause(cause, "The %s is empty: type a value.", what);
		return -1;
	}
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c < 0x20 || c == 0x7f) {
			set_cause(cause, "The %s contains %s: the setup files "
			    "cannot carry it; remove it.", what,
			    c == '"' ? "a double quote (\")" :
			    "a control character");
			return -1;
		}
	}
	return 0;
}

int
fb_parse_time_source(const char *s, char **host, int *port, char **cause)
{
	const char	*colon, *end;
	char		*h, *why = NULL;
	struct in6_addr	 a6;
	int		 p = 123;

	if (*s == '\0') {
		set_cause(cause, "The time source is empty: type an NTP "
		    "server name or address, such as pool.ntp.org or "
		    "192.168.10.2.");
		return -1;
	}
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			set_cause(cause, "'%s' lacks the closing ']' of the IPv6 "
			    "address.", s);
			return -1;
		}
		h = xstrndup(s + 1, (size_t)(end - s - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL) {
			set_cause(cause, "'%s': after ']' only ':port' may "
			    "follow.", s);
			free(h);
			return -1;
		}
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL) {
		/* A bare IPv6 address. */
		h = xstrdup(s);
		colon = NULL;
	} else
		h = xstrndup(s, colon != NULL ? (size_t)(colon - s) : strlen(s));
	if (colon != NULL &&
	    fb_check_port("NTP port", colon + 1, &p, cause) == -1) {
		free(h);
		return -1;
	}
	if (inet_pton(AF_INET6, h, &a6) != 1 &&
	    fb_check_hostname(h, &why) == -1 &&
	    inet_pton(AF_INET, h, &a6) != 1) {
		set_cause(cause, "The time source '%s' is not a host name or "
		    "address: %s", h, why);
		free(why);
		free(h);
		return -1;
	}
	free(why);
	*host = h;
	*port = p;
	return 0;
}
