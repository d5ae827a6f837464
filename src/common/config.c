/*
 * Table-driven configuration files.  Every key is a row of a struct
 * conf_key table and every value type is a row of conf_types below, so
 * a new key is a new row, never new parsing code.
 *
 * The caller's struct is written through key->off.  conf_parse() and
 * conf_load() overwrite every field in the table without freeing it
 * (the struct may be uninitialised): release an earlier load with
 * conf_free() first.  After a load, with or without errors, the struct
 * holds defaults and every value that parsed, and needs conf_free().
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define CONF_SUGGEST_MAX	3	/* edit distance for "did you mean" */
#define CONF_HELP_WIDTH		76

struct conf_type_ops {
	const char	*name;		/* for conf_help() */
	size_t		 size;		/* of the field in the target struct */
	/* Store value, or return -1 with why (key name not included). */
	int		(*set)(const struct conf_key *, void *field,
			    const char *value, char **why);
	void		(*clear)(void *field);
	int		(*differs)(const void *, const void *);
};

/* Where each key was set while parsing one file. */
struct conf_seen {
	int	line;		/* 0 = not in the file */
	int	bad;		/* its value was refused */
};

static const struct {
	const char	*word;
	int		 value;
} conf_bools[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 },
};

static void *
conf_field(const struct conf_key *key, void *dst)
{
	return (char *)dst + key->off;
}

static const void *
conf_cfield(const struct conf_key *key, const void *dst)
{
	return (const char *)dst + key->off;
}

static size_t
conf_count(const struct conf_key *keys)
{
	size_t	n = 0;

	while (keys[n].name != NULL)
		n++;
	return n;
}

/* "a, b, c" from a NULL-terminated array. */
static char *
conf_join(const char *const *v)
{
	struct fbuf	b;

	fbuf_init(&b);
	for (; *v != NULL; v++) {
		if (b.len > 0)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, *v, strlen(*v));
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

/* Sizes are shown as written: 1048576 reads better as 1m. */
static void
conf_fmt_size(long long v, char *buf, size_t len)
{
	static const struct {
		char		suffix;
		long long	mult;
	} units[] = { { 'g', 1LL << 30 }, { 'm', 1LL << 20 }, { 'k', 1LL << 10 } };
	size_t	i;

	for (i = 0; i < nitems(units); i++) {
		if (v != 0 && v % units[i].mult == 0) {
			snprintf(buf, len, "%lld%c", v / units[i].mult,
			    units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%lld", v);
}

/*
 * The allowed range of a numeric key.  min == max == 0 means no limit
 * (sizes are never negative); a port is always inside 1..65535.
 */
static void
conf_range(const struct conf_key *key, long long *lo, long long *hi)
{
	int	unlimited = key->min == 0 && key->max == 0;

	switch (key->type) {
	case CONF_PORT:
		*lo = key->min < 1 ? 1 : key->min;
		*hi = key->max < 1 || key->max > 65535 ? 65535 : key->max;
		break;
	case CONF_SIZE:
		*lo = unlimited ? 0 : key->min;
		*hi = unlimited ? LLONG_MAX : key->max;
		break;
	default:
		*lo = unlimited ? LLONG_MIN : key->min;
		*hi = unlimited ? LLONG_MAX : key->max;
		break;
	}
}

/* "1..65535", "1k..64m"; empty when there is no limit to tell. */
static void
conf_fmt_range(const struct conf_key *key, char *buf, size_t len)
{
	long long	lo, hi;
	char		a[32], b[32];

	conf_range(key, &lo, &hi);
	if (hi == LLONG_MAX && (lo == LLONG_MIN || lo == 0)) {
		buf[0] = '\0';
		return;
	}
	if (key->type == CONF_SIZE) {
		conf_fmt_size(lo, a, sizeof(a));
		conf_fmt_size(hi, b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%lld", lo);
		snprintf(b, sizeof(b), "%lld", hi);
	}
	snprintf(buf, len, "%s..%s", a, b);
}

static int
conf_check_range(const struct conf_key *key, long long v, const char *value,
    char **why)
{
	long long	lo, hi;
	char		range[80];

	conf_range(key, &lo, &hi);
	if (v >= lo && v <= hi)
		return 0;
	conf_fmt_range(key, range, sizeof(range));
	set_cause(why, "%s is out of range (%s)", value, range);
	return -1;
}

/* 0, -1 if not a number, -2 if it does not fit. */
static int
conf_strtoll(const char *s, long long *v, char **end)
{
	const char	*p = s;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*v = strtoll(s, end, 10);
	return errno == ERANGE ? -2 : 0;
}

static int
conf_set_int(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	long long	 v;
	char		*end, range[80];
	int		 rc;

	rc = conf_strtoll(value, &v, &end);
	if (rc == 0 && *end != '\0')
		rc = -1;
	if (rc == -1) {
		set_cause(why, "'%s' is not a whole number", value);
		return -1;
	}
	if (rc == -2) {
		conf_fmt_range(key, range, sizeof(range));
		set_cause(why, "%s is out of range (%s)", value,
		    range[0] != '\0' ? range : "too large");
		return -1;
	}
	if (conf_check_range(key, v, value, why) == -1)
		return -1;
	*(long long *)field = v;
	return 0;
}

static int
conf_set_size(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	long long	 v, mult = 1;
	char		*end, range[80];
	int		 rc;

	rc = conf_strtoll(value, &v, &end);
	if (rc == 0) {
		switch (tolower((unsigned char)*end)) {
		case 'k':
			mult = 1LL << 10;
			break;
		case 'm':
			mult = 1LL << 20;
			break;
		case 'g':
			mult = 1LL << 30;
			break;
		}
		if (mult != 1)
			end++;
		if (*end != '\0' || v < 0)
			rc = -1;
		else if (v > LLONG_MAX / mult)
			rc = -2;
	}
	if (rc == -1) {
		set_cause(why, "'%s' is not a size (a whole number of bytes, "
		    "optionally followed by k, m or g)", value);
		return -1;
	}
	if (rc == -2) {
		conf_fmt_range(key, range, sizeof(range));
		set_cause(why, "%s is out of range (%s)", value,
		    range[0] != '\0' ? range : "too large");
		return -1;
	}
	v *= mult;
	if (conf_check_range(key, v, value, why) == -1)
		return -1;
	*(long long *)field = v;
	return 0;
}

static int
conf_set_bool(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	size_t	i;

	(void)key;
	for (i = 0; i < nitems(conf_bools); i++) {
		if (strcasecmp(value, conf_bools[i].word) == 0) {
			*(int *)field = conf_bools[i].value;
			return 0;
		}
	}
	set_cause(why, "'%s' is not one of: yes, no, true, false, on, off, "
	    "1, 0", value);
	return -1;
}

static void
conf_clear_num(void *field)
{
	*(long long *)field = 0;
}

static void
conf_clear_bool(void *field)
{
	*(int *)field = 0;
}

static void
conf_clear_str(void *field)
{
	char	**p = field;

	free(*p);
	*p = NULL;
}

static void
conf_clear_list(void *field)
{
	struct conf_list	*l = field;
	size_t			 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* An empty value leaves a string, path or list unset. */
static void
conf_store_str(void *field, const char *value)
{
	char	**p = field;

	free(*p);
	*p = value[0] != '\0' ? xstrdup(value) : NULL;
}

static int
conf_set_str(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	(void)key;
	(void)why;
	conf_store_str(field, value);
	return 0;
}

static int
conf_set_path(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	(void)key;
	/* Daemons chdir("/"): a relative path would silently move. */
	if (value[0] != '\0' && value[0] != '/') {
		set_cause(why, "'%s' is not an absolute path (it must start "
		    "with '/')", value);
		return -1;
	}
	conf_store_str(field, value);
	return 0;
}

/* The table's spelling of value (so callers may strcmp), or NULL. */
static const char *
conf_choice(const struct conf_key *key, const char *value)
{
	const char *const	*c;

	for (c = key->choices; c != NULL && *c != NULL; c++)
		if (strcasecmp(*c, value) == 0)
			return *c;
	return NULL;
}

static void
conf_not_choice(const struct conf_key *key, const char *value, char **why)
{
	char	*all = conf_join(key->choices);

	set_cause(why, "'%s' is not one of: %s", value, all);
	free(all);
}

static int
conf_set_enum(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	const char	*choice;

	if ((choice = conf_choice(key, value)) == NULL) {
		conf_not_choice(key, value, why);
		return -1;
	}
	conf_store_str(field, choice);
	return 0;
}

static int
conf_set_list(const struct conf_key *key, void *field, const char *value,
    char **why)
{
	static const char	 seps[] = ", \t";
	struct conf_list	 l = { NULL, 0 };
	const char		*p, *item;
	char			*s;
	size_t			 len;

	for (p = value; *p != '\0'; p += len) {
		p += strspn(p, seps);
		if ((len = strcspn(p, seps)) == 0)
			continue;
		s = xstrndup(p, len);
		item = s;
		if (key->choices != NULL &&
		    (item = conf_choice(key, s)) == NULL) {
			conf_not_choice(key, s, why);
			free(s);
			conf_clear_list(&l);
			return -1;
		}
		if (!conf_list_has(&l, item)) {
			l.v = xrealloc(l.v, (l.n + 1) * sizeof(*l.v));
			l.v[l.n++] = xstrdup(item);
		}
		free(s);
	}
	conf_clear_list(field);
	*(struct conf_list *)field = l;
	return 0;
}

static int
conf_differs_num(const void *a, const void *b)
{
	return *(const long long *)a != *(const long long *)b;
}

static int
conf_differs_bool(const void *a, const void *b)
{
	return *(const int *)a != *(const int *)b;
}

static int
conf_differs_str(const void *a, const void *b)
{
	const char	*sa = *(char *const *)a, *sb = *(char *const *)b;

	if (sa == NULL || sb == NULL)
		return sa != sb;
	return strcmp(sa, sb) != 0;
}

static int
conf_differs_list(const void *a, const void *b)
{
	const struct conf_list	*la = a, *lb = b;
	size_t			 i;

	if (la->n != lb->n)
		return 1;
	for (i = 0; i < la->n; i++)
		if (strcmp(la->v[i], lb->v[i]) != 0)
			return 1;
	return 0;
}

static const struct conf_type_ops conf_types[] = {
	[CONF_INT] = { "whole number", sizeof(long long), conf_set_int,
	    conf_clear_num, conf_differs_num },
	[CONF_BOOL] = { "yes or no", sizeof(int), conf_set_bool,
	    conf_clear_bool, conf_differs_bool },
	[CONF_STR] = { "string", sizeof(char *), conf_set_str,
	    conf_clear_str, conf_differs_str },
	[CONF_PATH] = { "absolute path", sizeof(char *), conf_set_path,
	    conf_clear_str, conf_differs_str },
	[CONF_PORT] = { "port", sizeof(long long), conf_set_int,
	    conf_clear_num, conf_differs_num },
	[CONF_SIZE] = { "size", sizeof(long long),
	    conf_set_size, conf_clear_num, conf_differs_num },
	[CONF_ENUM] = { "one of", sizeof(char *), conf_set_enum,
	    conf_clear_str, conf_differs_str },
	[CONF_LIST] = { "list", sizeof(struct conf_list), conf_set_list,
	    conf_clear_list, conf_differs_list },
};

static const struct conf_type_ops *
conf_ops(const struct conf_key *key)
{
	if ((size_t)key->type >= nitems(conf_types) ||
	    conf_types[key->type].set == NULL)
		fatalx("config key %s has unknown type %d", key->name,
		    (int)key->type);
	return &conf_types[key->type];
}

static int
conf_set(const struct conf_key *key, void *dst, const char *value,
    char **why)
{
	if (value[0] == '\0' && (key->flags & CONF_REQUIRED)) {
		set_cause(why, "a value is required (%s)", conf_ops(key)->name);
		return -1;
	}
	return conf_ops(key)->set(key, conf_field(key, dst), value, why);
}

/* Zero every field: the struct may hold garbage, so nothing is freed. */
static void
conf_reset(const struct conf_key *keys, void *dst)
{
	for (; keys->name != NULL; keys++)
		memset(conf_field(keys, dst), 0, conf_ops(keys)->size);
}

static void
conf_defaults(const struct conf_key *keys, void *dst,
    struct conf_errors *errs)
{
	char	*why = NULL;

	for (; keys->name != NULL; keys++) {
		if (keys->def == NULL)
			continue;
		if (conf_set(keys, dst, keys->def, &why) == -1)
			conf_error_add(errs, 0, "%s: built-in default is "
			    "invalid: %s", keys->name, why);
	}
	free(why);
}

/* Levenshtein distance, or SIZE_MAX when it is surely too far. */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, diag, up, d;
	size_t	*row;

	if ((la > lb ? la - lb : lb - la) > CONF_SUGGEST_MAX)
		return SIZE_MAX;
	row = xcalloc(lb + 1, sizeof(*row));
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			d = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < d)
				d = up + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			diag = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

static void
conf_unknown(const struct conf_key *keys, const char *name, int line,
    struct conf_errors *errs)
{
	const struct conf_key	*k, *best = NULL;
	struct fbuf		 b;
	size_t			 d, bestd = SIZE_MAX;

	for (k = keys; k->name != NULL; k++) {
		d = conf_distance(name, k->name);
		/* "ab" is 2 edits from "db", but that is no hint. */
		if (d < bestd && d <= CONF_SUGGEST_MAX && d < strlen(k->name)) {
			best = k;
			bestd = d;
		}
	}
	if (best != NULL) {
		conf_error_add(errs, line, "unknown key '%s' (did you mean "
		    "'%s'?)", name, best->name);
		return;
	}
	fbuf_init(&b);
	for (k = keys; k->name != NULL; k++) {
		if (b.len > 0)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, k->name, strlen(k->name));
	}
	fbuf_add(&b, "", 1);
	conf_error_add(errs, line, "unknown key '%s' (known keys: %s)", name,
	    (char *)b.data);
	fbuf_free(&b);
}

static char *
conf_skip_space(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static void
conf_rtrim(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* Unquote "..." in place; \" and \\ are the only escapes. */
static int
conf_unquote(char *v, const char *key, char **why)
{
	char	*in = v + 1, *out = v, *rest;

	for (;;) {
		if (*in == '\0') {
			set_cause(why, "%s: unterminated quote (a value that "
			    "starts with '\"' must end with one)", key);
			return -1;
		}
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\')) {
			*out++ = in[1];
			in += 2;
		} else if (*in == '"')
			break;
		else
			*out++ = *in++;
	}
	rest = conf_skip_space(in + 1);
	*out = '\0';
	if (*rest != '\0' && *rest != '#') {
		set_cause(why, "%s: unexpected text '%s' after the closing "
		    "quote (quote the whole value)", key, rest);
		return -1;
	}
	return 0;
}

/*
 * Split line (modified) into key and value.  Returns 0 for a blank or
 * comment line, 1 with *keyp and *valp pointing into line, or -1 with
 * why.  '#' starts a comment at the start of a line or value, or after
 * whitespace, so "a#b" stays a value; quote a value to hold " #".
 */
static int
conf_split(char *line, char **keyp, char **valp, char **why)
{
	char	*s, *p, *v;

	s = conf_skip_space(line);
	if (*s == '\0' || *s == '#')
		return 0;
	for (p = s; *p != '\0' && *p != '='; p++)
		if (*p == '#' && isspace((unsigned char)p[-1]))
			break;
	if (*p != '=') {
		set_cause(why, "missing '=' (expected key = value)");
		return -1;
	}
	*p = '\0';
	conf_rtrim(s);
	if (*s == '\0') {
		set_cause(why, "missing key before '=' (expected key = value)");
		return -1;
	}
	v = conf_skip_space(p + 1);
	if (*v == '"') {
		if (conf_unquote(v, s, why) == -1)
			return -1;
	} else {
		for (p = v; *p != '\0'; p++)
			if (*p == '#' &&
			    (p == v || isspace((unsigned char)p[-1])))
				break;
		*p = '\0';
		conf_rtrim(v);
	}
	*keyp = s;
	*valp = v;
	return 1;
}

static void
conf_line(const struct conf_key *keys, void *dst, struct conf_seen *seen,
    char *line, int lineno, struct conf_errors *errs)
{
	const struct conf_key	*key;
	struct conf_seen	*ks;
	char			*name, *value, *why = NULL;
	int			 rc;

	if ((rc = conf_split(line, &name, &value, &why)) <= 0) {
		if (rc == -1)
			conf_error_add(errs, lineno, "%s", why);
		free(why);
		return;
	}
	if ((key = conf_find(keys, name)) == NULL) {
		conf_unknown(keys, name, lineno, errs);
		return;
	}
	ks = &seen[key - keys];
	if (ks->line != 0) {
		conf_error_add(errs, lineno, "%s is already set on line %d",
		    key->name, ks->line);
		return;
	}
	ks->line = lineno;
	if (conf_set(key, dst, value, &why) == -1) {
		ks->bad = 1;
		conf_error_add(errs, lineno, "%s: %s", key->name, why);
	}
	free(why);
}

static void
conf_check_secret(const struct conf_key *key, const void *dst,
    const struct conf_seen *ks, struct conf_errors *errs)
{
	const char	*path;
	struct stat	 st;
	char		*cause = NULL;

	if (key->type != CONF_PATH && key->type != CONF_STR)
		return;
	if (ks->bad || (path = *(char *const *)conf_cfield(key, dst)) == NULL)
		return;
	if (stat(path, &st) == -1 && errno == ENOENT) {
		conf_error_add(errs, ks->line, "%s: secret file %s does not "
		    "exist; create it readable only by its owner (chmod 600 "
		    "%s) or point %s at the right file", key->name, path, path,
		    key->name);
		return;
	}
	if (check_private_file(path, &cause) == -1)
		conf_error_add(errs, ks->line, "%s: %s", key->name, cause);
	free(cause);
}

/* What only the whole file can tell: required keys, secret files. */
static void
conf_finish(const struct conf_key *keys, const void *dst,
    const struct conf_seen *seen, const char *name, struct conf_errors *errs)
{
	const struct conf_key	*key;

	for (key = keys; key->name != NULL; key++) {
		if ((key->flags & CONF_REQUIRED) && seen[key - keys].line == 0)
			conf_error_add(errs, 0, "missing required key '%s' "
			    "(add a line '%s = <%s>' to %s)", key->name,
			    key->name, conf_ops(key)->name, name);
		if (key->flags & CONF_SECRET)
			conf_check_secret(key, dst, &seen[key - keys], errs);
	}
}

int
conf_parse(const struct conf_key *keys, void *dst, const char *text,
    const char *name, struct conf_errors *errs)
{
	struct conf_seen	*seen;
	const char		*p, *eol;
	char			*line;
	size_t			 before = errs->n, len;
	int			 lineno = 0;

	if (name == NULL)
		name = "the configuration";
	seen = xcalloc(conf_count(keys) + 1, sizeof(*seen));
	conf_reset(keys, dst);
	conf_defaults(keys, dst, errs);
	for (p = text; *p != '\0'; p += len + (eol != NULL)) {
		lineno++;
		eol = strchr(p, '\n');
		len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		line = xstrndup(p, len);
		conf_line(keys, dst, seen, line, lineno, errs);
		free(line);
	}
	conf_finish(keys, dst, seen, name, errs);
	free(seen);
	return (int)(errs->n - before);
}

int
conf_load(const struct conf_key *keys, void *dst, const char *path,
    struct conf_errors *errs)
{
	char	*text, *cause = NULL;
	size_t	 before = errs->n, len, nul, i;
	int	 line = 1;

	if ((text = read_file(path, &len, &cause)) == NULL) {
		/* Leave defaults behind so the struct is safe to use/free. */
		conf_reset(keys, dst);
		conf_defaults(keys, dst, errs);
		conf_error_add(errs, 0, "%s", cause);
		free(cause);
		return (int)(errs->n - before);
	}
	conf_parse(keys, dst, text, path, errs);
	if ((nul = strlen(text)) != len) {
		for (i = 0; i < nul; i++)
			line += text[i] == '\n';
		conf_error_add(errs, line, "NUL byte in the file (is it a "
		    "text file?); the rest of the file was ignored");
	}
	free(text);
	return (int)(errs->n - before);
}

void
conf_free(const struct conf_key *keys, void *dst)
{
	for (; keys->name != NULL; keys++)
		conf_ops(keys)->clear(conf_field(keys, dst));
}

void
conf_error_add(struct conf_errors *errs, int line, const char *fmt, ...)
{
	va_list	ap;

	errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
	errs->v[errs->n].line = line;
	va_start(ap, fmt);
	errs->v[errs->n].msg = xvasprintf(fmt, ap);
	va_end(ap);
	errs->n++;
}

void
conf_errors_free(struct conf_errors *errs)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i].msg);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

void
conf_errors_print(const struct conf_errors *errs, const char *name, FILE *fp)
{
	size_t	i;

	if (name == NULL)
		name = "config";
	for (i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			fprintf(fp, "%s:%d: %s\n", name, errs->v[i].line,
			    errs->v[i].msg);
		else
			fprintf(fp, "%s: %s\n", name, errs->v[i].msg);
	}
}

/* Help text, word-wrapped and indented by one tab. */
static void
conf_help_wrap(const char *text, FILE *fp)
{
	const char	*p = text;
	size_t		 col = 8, wl;

	fputc('\t', fp);
	while (*p != '\0') {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '\n') {
			fputs("\n\t", fp);
			col = 8;
			p++;
			continue;
		}
		wl = strcspn(p, " \n");
		if (col > 8 && col + 1 + wl > CONF_HELP_WIDTH) {
			fputs("\n\t", fp);
			col = 8;
		} else if (col > 8) {
			fputc(' ', fp);
			col++;
		}
		fwrite(p, 1, wl, fp);
		col += wl;
		p += wl;
	}
	fputc('\n', fp);
}

void
conf_help(const struct conf_key *keys, FILE *fp)
{
	const struct conf_key	*k;
	char			 range[80], *all;

	for (k = keys; k->name != NULL; k++) {
		if (k->flags & CONF_REQUIRED)
			fprintf(fp, "%s (required)\n", k->name);
		else if (k->def == NULL || k->def[0] == '\0')
			fprintf(fp, "%s (not set by default)\n", k->name);
		else
			fprintf(fp, "%s = %s\n", k->name, k->def);

		fprintf(fp, "\t%s", conf_ops(k)->name);
		switch (k->type) {
		case CONF_INT:
		case CONF_PORT:
		case CONF_SIZE:
			conf_fmt_range(k, range, sizeof(range));
			if (range[0] != '\0')
				fprintf(fp, " %s", range);
			if (k->type == CONF_SIZE)
				fputs(" (bytes; suffix k, m or g)", fp);
			break;
		case CONF_ENUM:
		case CONF_LIST:
			if (k->choices == NULL)
				break;
			all = conf_join(k->choices);
			fprintf(fp, "%s %s", k->type == CONF_LIST ? " of:" : ":",
			    all);
			free(all);
			break;
		default:
			break;
		}
		if (k->flags & CONF_SECRET)
			fputs("; a secret file, must be mode 600", fp);
		fprintf(fp, "; %s\n", (k->flags & CONF_RELOAD) ?
		    "reloaded on SIGHUP" : "takes effect on restart");
		if (k->help != NULL)
			conf_help_wrap(k->help, fp);
		if (k[1].name != NULL)
			fputc('\n', fp);
	}
}

const struct conf_key *
conf_find(const struct conf_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

int
conf_differs(const struct conf_key *key, const void *a, const void *b)
{
	return conf_ops(key)->differs(conf_cfield(key, a),
	    conf_cfield(key, b));
}

int
conf_list_has(const struct conf_list *l, const char *s)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

void
conf_swap_key(const struct conf_key *key, void *a, void *b)
{
	const struct conf_type_ops	*ops = conf_ops(key);
	unsigned char			 tmp[64];
	void				*fa = conf_field(key, a);
	void				*fb = conf_field(key, b);

	if (ops->size > sizeof(tmp))
		fatalx("conf_swap_key: field of %zu bytes", ops->size);
	memcpy(tmp, fa, ops->size);
	memcpy(fa, fb, ops->size);
	memcpy(fb, tmp, ops->size);
}
