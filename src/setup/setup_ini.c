/*
 * The INI files of the seeds' UnifiedSetup, read strictly: every error
 * is "file:line: what is wrong", a secret value never appears in one.
 *
 *	[MySQLCredentials]
 *	MySQLRootPassword = "..."
 *	MySQLUserPassword = "..."
 *
 *	[ProxySettings]
 *	ProxyAuthentication = "Yes"
 *	ProxyIP = "http://proxy.example.com"
 *	ProxyPort = "3128"
 *	ProxyUserName = "..."
 *	ProxyPassword = "..."
 *
 * Names are matched without regard to case, spaces or '_' ("Proxy IP"
 * is ProxyIP); values may be quoted; ';' and '#' start comment lines;
 * CRLF line ends are fine.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secret.h"
#include "setup.h"
#include "util.h"

enum ini_kind {
	INI_SECRET,	/* any text without a quote; never echoed */
	INI_TEXT,	/* printable, no spaces inside */
	INI_PORT,	/* 1..65535 */
	INI_YESNO,
	INI_PATH,	/* absolute */
};

struct ini_key {
	const char	*name;		/* as the seeds spell it */
	const char	*alias;		/* another accepted spelling */
	enum ini_kind	 kind;
	int		 required;
	size_t		 off;		/* char * or long long in the target */
};

struct ini_spec {
	const char		*section;
	const struct ini_key	*keys;
};

#define MY(f)	offsetof(struct setup_mysql, f)
#define PX(f)	offsetof(struct setup_proxy, f)

static const struct ini_key ini_mysql_keys[] = {
	{ "MySQLRootPassword", NULL, INI_SECRET, 1, MY(root_pw) },
	{ "MySQLUserPassword", NULL, INI_SECRET, 1, MY(user_pw) },
	{ "MySQLHost", NULL, INI_TEXT, 0, MY(host) },
	{ "MySQLPort", NULL, INI_PORT, 0, MY(port) },
	{ "MySQLSocket", NULL, INI_PATH, 0, MY(socket) },
	{ NULL, NULL, 0, 0, 0 }
};

static const struct ini_key ini_proxy_keys[] = {
	{ "ProxyAuthentication", NULL, INI_YESNO, 1, PX(auth) },
	{ "ProxyIP", "ProxyAddress", INI_TEXT, 1, PX(url) },
	{ "ProxyPort", NULL, INI_PORT, 1, PX(port) },
	{ "ProxyUserName", NULL, INI_TEXT, 0, PX(user) },
	{ "ProxyPassword", NULL, INI_SECRET, 0, PX(password) },
	{ NULL, NULL, 0, 0, 0 }
};

static const struct ini_spec ini_mysql = { "MySQLCredentials", ini_mysql_keys };
static const struct ini_spec ini_proxy = { "ProxySettings", ini_proxy_keys };

/* One value as read, before its key's checks. */
struct ini_val {
	char	*value;
	int	 line;
};

struct ini_errs {
	struct fbuf	 b;
	int		 n;
};

static void __attribute__((format(printf, 4, 5)))
ini_err(struct ini_errs *e, const char *path, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *where;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (e->n++ > 0)
		fbuf_add(&e->b, "\n", 1);
	/* No line: the error is about the whole file. */
	where = line > 0 ? xasprintf("%s:%d: ", path, line) :
	    xasprintf("%s: ", path);
	fbuf_add(&e->b, where, strlen(where));
	fbuf_add(&e->b, msg, strlen(msg));
	free(where);
	free(msg);
}

/* "Proxy IP", "proxy_ip" and "ProxyIP" are one name. */
static int
ini_name_eq(const char *a, size_t alen, const char *b)
{
	size_t	i = 0;

	for (;;) {
		while (i < alen && (a[i] == ' ' || a[i] == '_' || a[i] == '\t'))
			i++;
		while (*b == ' ' || *b == '_')
			b++;
		if (i == alen || *b == '\0')
			return i == alen && *b == '\0';
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)*b))
			return 0;
		i++;
		b++;
	}
}

static char *
ini_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/*
 * The value after '=': quoted ("..." with nothing but a comment after
 * it) or bare.  A quote inside cannot be written: refused.  NULL with
 * an error added.
 */
static char *
ini_value(char *v, const char *path, int line, const char *key,
    struct ini_errs *e)
{
	char	*end, *rest;

	v = ini_trim(v);
	if (*v == '"') {
		if ((end = strchr(v + 1, '"')) == NULL) {
			ini_err(e, path, line, "%s: the value's closing quote "
			    "(\") is missing", key);
			return NULL;
		}
		rest = ini_trim(end + 1);
		if (*rest != '\0' && *rest != ';' && *rest != '#') {
			ini_err(e, path, line, "%s: the value holds a quote "
			    "character (\"), which this file cannot carry: "
			    "choose a value without one", key);
			return NULL;
		}
		*end = '\0';
		return v + 1;
	}
	if (strchr(v, '"') != NULL) {
		ini_err(e, path, line, "%s: the value holds a quote character "
		    "(\"), which this file cannot carry: choose a value "
		    "without one", key);
		return NULL;
	}
	return v;
}

static const char *
ini_key_names(const struct ini_key *keys, struct fbuf *b)
{
	const struct ini_key	*k;

	fbuf_reset(b);
	for (k = keys; k->name != NULL; k++) {
		if (k != keys)
			fbuf_add(b, ", ", 2);
		fbuf_add(b, k->name, strlen(k->name));
	}
	fbuf_add(b, "", 1);
	return (const char *)b->data;
}

/* Read the file into vals[] (one per key of spec), checking syntax. */
static void
ini_read(const char *path, char *text, const struct ini_spec *spec,
    struct ini_val *vals, struct ini_errs *e)
{
	const struct ini_key	*k;
	struct fbuf		 names;
	char			*p, *eol, *line, *eq, *name, *close;
	int			 lno = 0, in_section = 0, seen_section = 0;
	size_t			 i;

	fbuf_init(&names);
	for (p = text; *p != '\0'; p = eol) {
		lno++;
		if ((eol = strchr(p, '\n')) != NULL)
			*eol++ = '\0';
		else
			eol = p + strlen(p);
		if (eol - p > 0 && p[strlen(p) - 1] == '\r')
			p[strlen(p) - 1] = '\0';
		line = ini_trim(p);
		/* A UTF-8 byte order mark, as Windows editors write it. */
		if (lno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
			line = ini_trim(line + 3);
		if (*line == '\0' || *line == ';' || *line == '#')
			continue;
		if (*line == '[') {
			if ((close = strchr(line, ']')) == NULL ||
			    *ini_trim(close + 1) != '\0') {
				ini_err(e, path, lno, "a section header is "
				    "[Name] alone on its line");
				in_section = 0;
				continue;
			}
			name = ini_trim(line + 1);
			*strchr(name, ']') = '\0';
			name = ini_trim(name);
			in_section = ini_name_eq(name, strlen(name),
			    spec->section);
			if (!in_section)
				ini_err(e, path, lno, "[%s] is not a section "
				    "of this file: it holds [%s] only", name,
				    spec->section);
			else if (seen_section)
				ini_err(e, path, lno, "[%s] appears twice: "
				    "give it once", spec->section);
			seen_section |= in_section;
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			/* Not echoed: it may be a secret on a line of its own. */
			ini_err(e, path, lno, "this line is neither a comment "
			    "(; or #), a [Section] nor a Key = \"value\" line");
			continue;
		}
		*eq = '\0';
		name = ini_trim(line);
		if (!seen_section) {
			ini_err(e, path, lno, "'%s' comes before the [%s] "
			    "section header: put [%s] first", name,
			    spec->section, spec->section);
			continue;
		}
		if (!in_section)
			continue;	/* already reported with its section */
		for (i = 0, k = spec->keys; k->name != NULL; k++, i++)
			if (ini_name_eq(name, strlen(name), k->name) ||
			    (k->alias != NULL &&
			    ini_name_eq(name, strlen(name), k->alias)))
				break;
		if (k->name == NULL) {
			ini_err(e, path, lno, "unknown key '%s' in [%s]; the "
			    "keys are %s", name, spec->section,
			    ini_key_names(spec->keys, &names));
			continue;
		}
		if (vals[i].line != 0) {
			ini_err(e, path, lno, "%s is given twice (first on "
			    "line %d): keep one", k->name, vals[i].line);
			continue;
		}
		vals[i].line = lno;
		vals[i].value = ini_value(eq + 1, path, lno, k->name, e);
	}
	if (!seen_section)
		ini_err(e, path, 0, "the [%s] section is missing: the file "
		    "must start with [%s] and then Key = \"value\" lines",
		    spec->section, spec->section);
	fbuf_free(&names);
}

static int
ini_port(const char *v, long long *out)
{
	char	*end;
	long	 n;

	if (*v == '\0' || !isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 65535)
		return -1;
	*out = n;
	return 0;
}

/* Per-key checks, storing into dst. */
static void
ini_store(const char *path, const struct ini_spec *spec,
    const struct ini_val *vals, void *dst, struct ini_errs *e)
{
	const struct ini_key	*k;
	const char		*v, *s;
	size_t			 i;
	int			 line;

	for (i = 0, k = spec->keys; k->name != NULL; k++, i++) {
		v = vals[i].value;
		line = vals[i].line;
		if (line == 0) {
			if (k->required)
				ini_err(e, path, 0, "%s is missing from [%s]: "
				    "add a line %s = \"...\"", k->name,
				    spec->section, k->name);
			continue;
		}
		if (v == NULL)
			continue;	/* its syntax error is reported */
		switch (k->kind) {
		case INI_SECRET:
			for (s = v; *s != '\0'; s++)
				if ((unsigned char)*s < 0x20)
					break;
			if (*s != '\0') {
				ini_err(e, path, line, "%s: the value holds a "
				    "control character", k->name);
				continue;
			}
			*(char **)((char *)dst + k->off) = xstrdup(v);
			break;
		case INI_TEXT:
			for (s = v; *s != '\0'; s++)
				if ((unsigned char)*s <= 0x20 ||
				    (unsigned char)*s == 0x7f)
					break;
			if (*v == '\0' || *s != '\0') {
				ini_err(e, path, line, "%s: '%s' is not "
				    "usable: give a value without spaces",
				    k->name, v);
				continue;
			}
			*(char **)((char *)dst + k->off) = xstrdup(v);
			break;
		case INI_PATH:
			if (*v != '/') {
				ini_err(e, path, line, "%s: '%s' is not an "
				    "absolute path", k->name, v);
				continue;
			}
			*(char **)((char *)dst + k->off) = xstrdup(v);
			break;
		case INI_PORT:
			if (ini_port(v, (long long *)((char *)dst +
			    k->off)) == -1)
				ini_err(e, path, line, "%s: '%s' is not a port "
				    "number: give a number from 1 to 65535",
				    k->name, v);
			break;
		case INI_YESNO:
			if (strcasecmp(v, "yes") == 0)
				*(int *)((char *)dst + k->off) = 1;
			else if (strcasecmp(v, "no") == 0)
				*(int *)((char *)dst + k->off) = 0;
			else
				ini_err(e, path, line, "%s: '%s' is neither "
				    "\"Yes\" nor \"No\"", k->name, v);
			break;
		}
	}
}

/* Read and check path against spec; the file must be owner-only. */
static int
ini_load(const char *path, const struct ini_spec *spec, void *dst,
    char **cause)
{
	struct ini_val	 vals[8];
	struct ini_errs	 e;
	char		*text;
	size_t		 len, i;

	if (check_private_file(path, cause) == -1 ||
	    (text = read_file(path, &len, cause)) == NULL)
		return -1;
	if (strlen(text) != len) {
		set_cause(cause, "%s holds a NUL byte: it is not an INI text "
		    "file", path);
		free(text);
		return -1;
	}
	memset(vals, 0, sizeof(vals));
	fbuf_init(&e.b);
	e.n = 0;
	ini_read(path, text, spec, vals, &e);
	if (e.n == 0)
		ini_store(path, spec, vals, dst, &e);
	OPENSSL_cleanse(text, len);
	free(text);
	for (i = 0; i < nitems(vals); i++)
		vals[i].value = NULL;	/* pointed into text */
	if (e.n == 0) {
		fbuf_free(&e.b);
		return 0;
	}
	fbuf_add(&e.b, "", 1);
	set_cause(cause, "%s", (char *)e.b.data);
	fbuf_free(&e.b);
	return -1;
}

int
setup_ini_mysql(const char *path, struct setup_mysql *my, char **cause)
{
	if (ini_load(path, &ini_mysql, my, cause) == -1)
		return -1;
	if (*my->user_pw == '\0') {
		set_cause(cause, "%s: MySQLUserPassword is empty: give the "
		    "password for the database user 'haven'", path);
		return -1;
	}
	if (my->socket != NULL && (my->host != NULL || my->port != 0)) {
		set_cause(cause, "%s: MySQLSocket and MySQLHost or MySQLPort "
		    "are set: give either the socket (a local server) or the "
		    "host and port (TCP)", path);
		return -1;
	}
	/* A port alone means TCP to this machine. */
	if (my->port != 0 && my->host == NULL)
		my->host = xstrdup("127.0.0.1");
	return 0;
}

/* "http://host", "host" or "https://host/" to "http://host:port". */
static int
ini_proxy_url(const char *path, struct setup_proxy *px, char **cause)
{
	const char	*h = px->url, *scheme = "http://";
	char		*host;
	size_t		 n;

	if (strncasecmp(h, "http://", 7) == 0)
		h += 7;
	else if (strncasecmp(h, "https://", 8) == 0) {
		h += 8;
		scheme = "https://";
	} else if (strstr(h, "://") != NULL) {
		set_cause(cause, "%s: ProxyIP '%s': only http:// and https:// "
		    "proxies are supported", path, px->url);
		return -1;
	}
	n = strlen(h);
	if (n > 0 && h[n - 1] == '/')
		n--;
	host = xstrndup(h, n);
	if (*host == '\0' || strpbrk(host, "/@?#") != NULL ||
	    (strchr(host, ':') != NULL && host[0] != '[')) {
		set_cause(cause, "%s: ProxyIP '%s' is not a host name or "
		    "address (like http://proxy.example.com or 192.0.2.1; "
		    "the port goes in ProxyPort)", path, px->url);
		free(host);
		return -1;
	}
	free(px->url);
	px->url = xasprintf("%s%s:%lld", scheme, host, px->port);
	free(host);
	return 0;
}

int
setup_ini_proxy(const char *path, struct setup_proxy *px, char **cause)
{
	if (ini_load(path, &ini_proxy, px, cause) == -1)
		return -1;
	if (px->auth && (px->user == NULL || px->password == NULL ||
	    *px->password == '\0')) {
		set_cause(cause, "%s: ProxyAuthentication is \"Yes\" but "
		    "ProxyUserName or ProxyPassword is missing: give both, or "
		    "set ProxyAuthentication = \"No\"", path);
		return -1;
	}
	if (!px->auth) {
		free(px->user);
		secret_free(px->password);
		px->user = px->password = NULL;
	}
	px->set = 1;
	return ini_proxy_url(path, px, cause);
}

void
setup_mysql_free(struct setup_mysql *my)
{
	secret_free(my->root_pw);
	secret_free(my->user_pw);
	free(my->host);
	free(my->socket);
	memset(my, 0, sizeof(*my));
}

void
setup_proxy_free(struct setup_proxy *px)
{
	free(px->url);
	free(px->user);
	secret_free(px->password);
	memset(px, 0, sizeof(*px));
}
