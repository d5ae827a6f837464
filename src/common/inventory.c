#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "inventory.h"
#include "log.h"
#include "util.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

/* An os-release value: quoted with " or ' (with \ escapes) or bare. */
static char *
inventory_unquote(const char *v)
{
	size_t	 len = strlen(v), i, o = 0;
	char	*out, q;

	while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r' ||
	    v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	out = xmalloc(len + 1);
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		q = v[0];
		for (i = 1; i < len - 1; i++) {
			if (q == '"' && v[i] == '\\' && i + 1 < len - 1)
				i++;
			out[o++] = v[i];
		}
	} else {
		memcpy(out, v, len);
		o = len;
	}
	out[o] = '\0';
	return out;
}

char *
inventory_os(const char *path)
{
	FILE	*f;
	char	*line = NULL, *pretty = NULL, *name = NULL, *version = NULL;
	char	*out, **dst;
	size_t	 cap = 0;

	if ((f = fopen(path, "r")) != NULL) {
		while (getline(&line, &cap, f) != -1) {
			if (strncmp(line, "PRETTY_NAME=", 12) == 0)
				dst = &pretty;
			else if (strncmp(line, "NAME=", 5) == 0)
				dst = &name;
			else if (strncmp(line, "VERSION=", 8) == 0)
				dst = &version;
			else
				continue;
			free(*dst);
			*dst = inventory_unquote(strchr(line, '=') + 1);
		}
		fclose(f);
	}
	free(line);
	if (pretty != NULL && *pretty != '\0')
		out = xstrdup(pretty);
	else if (name != NULL && *name != '\0')
		out = version != NULL && *version != '\0' ?
		    xasprintf("%s %s", name, version) : xstrdup(name);
	else
		out = xstrdup("Linux");
	free(pretty);
	free(name);
	free(version);
	return out;
}

static int
inventory_has(json_t *a, const char *s)
{
	size_t	 i;
	json_t	*v;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

json_t *
inventory_addresses(void)
{
	struct ifaddrs	*ifa, *p;
	json_t		*out, *loop;
	char		 host[NI_MAXHOST];
	socklen_t	 len;
	int		 lo;

	out = json_array();
	loop = json_array();
	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs");
		json_decref(loop);
		return out;
	}
	for (p = ifa; p != NULL; p = p->ifa_next) {
		if (p->ifa_addr == NULL || !(p->ifa_flags & IFF_UP))
			continue;
		if (p->ifa_addr->sa_family == AF_INET)
			len = sizeof(struct sockaddr_in);
		else if (p->ifa_addr->sa_family == AF_INET6) {
			/* Link-local addresses cannot reach the PS. */
			if (IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)
			    (void *)p->ifa_addr)->sin6_addr))
				continue;
			len = sizeof(struct sockaddr_in6);
		} else
			continue;
		if (getnameinfo(p->ifa_addr, len, host, sizeof(host), NULL, 0,
		    NI_NUMERICHOST) != 0)
			continue;
		lo = (p->ifa_flags & IFF_LOOPBACK) != 0;
		if (!inventory_has(lo ? loop : out, host))
			json_array_append_new(lo ? loop : out,
			    json_string(host));
	}
	freeifaddrs(ifa);
	if (json_array_size(out) == 0) {
		json_decref(out);
		return loop;
	}
	json_decref(loop);
	return out;
}

int
inventory_disk_size(const char *path, uint64_t *size, char **cause)
{
	struct stat	st;
	uint64_t	bytes;
	int		fd;

	if (stat(path, &st) == -1) {
		set_cause(cause, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode)) {
		set_cause(cause, "%s is neither a block device nor a regular "
		    "file", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(fd, BLKGETSIZE64, &bytes) == -1) {
		set_cause(cause, "cannot read the size of %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	*size = bytes;
	return 0;
}

json_t *
inventory_gather(const char *const *disks, size_t ndisks)
{
	struct utsname	 u;
	json_t		*inv, *dl, *d;
	char		 host[256];
	char		*os, *cause = NULL;
	uint64_t	 size;
	size_t		 i;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	os = inventory_os("/etc/os-release");
	inv = json_object();
	json_object_set_new(inv, "hostname", json_string(host));
	json_object_set_new(inv, "os", json_string(os));
	json_object_set_new(inv, "kernel",
	    json_string(uname(&u) == 0 ? u.release : "unknown"));
	json_object_set_new(inv, "agent_version", json_string(HAVEN_VERSION));
	json_object_set_new(inv, "addresses", inventory_addresses());
	free(os);

	dl = json_array();
	for (i = 0; i < ndisks; i++) {
		d = json_object();
		json_object_set_new(d, "name", json_string(disks[i]));
		if (inventory_disk_size(disks[i], &size, &cause) == 0)
			json_object_set_new(d, "size",
			    json_integer((json_int_t)size));
		else {
			json_object_set_new(d, "size", json_null());
			json_object_set_new(d, "error", json_string(cause));
		}
		json_array_append_new(dl, d);
	}
	free(cause);
	json_object_set_new(inv, "disks", dl);
	return inv;
}
