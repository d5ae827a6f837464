/*
 * Table-driven configuration files: "key = value" lines, '#' comments.
 * Each key has a type, a default, a range and help text; the parser
 * reports every error with its line number, not just the first.
 */
#ifndef HAVEN_CONFIG_H
#define HAVEN_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum conf_type {
	CONF_INT,	/* long long, min..max */
	CONF_BOOL,	/* int: yes/no, true/false, on/off, 1/0 */
	CONF_STR,	/* char * */
	CONF_PATH,	/* char *, must be absolute */
	CONF_PORT,	/* long long, 1..65535 (min/max narrow it) */
	CONF_SIZE,	/* long long bytes; suffixes k, m, g (1024-based) */
	CONF_ENUM,	/* char *, one of choices */
	CONF_LIST,	/* struct conf_list: comma or space separated;
			   with choices, every item must be one of them */
};

#define CONF_RELOAD	0x01	/* SIGHUP applies it; otherwise restart */
#define CONF_SECRET	0x02	/* PATH of a secret file: refused when
				   readable by group or others */
#define CONF_REQUIRED	0x04	/* no default: must be set */

struct conf_list {
	char	**v;
	size_t	  n;
};

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	const char		*def;	/* default, as it would be written;
					   NULL = unset (NULL / 0 / empty) */
	long long		 min, max;	/* INT, PORT, SIZE */
	int			 flags;
	const char *const	*choices;	/* ENUM, LIST; NULL-terminated */
	size_t			 off;	/* offsetof() into the target struct */
	const char		*help;
};

struct conf_error {
	int	 line;		/* 0 = not tied to a line */
	char	*msg;
};

struct conf_errors {
	struct conf_error	*v;
	size_t			 n;
};

/*
 * Apply defaults, then parse text (name is used in messages).  Returns
 * the number of errors appended to errs (0 = OK).  Unknown keys, bad
 * values, duplicates and missing required keys are errors; an unknown
 * key suggests the closest known one.
 */
int	conf_parse(const struct conf_key *, void *dst, const char *text,
	    const char *name, struct conf_errors *);
/* Same, reading path. A missing file is one error. */
int	conf_load(const struct conf_key *, void *dst, const char *path,
	    struct conf_errors *);
void	conf_free(const struct conf_key *, void *dst);
void	conf_error_add(struct conf_errors *, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	conf_errors_free(struct conf_errors *);
/* "path:line: message" per error. */
void	conf_errors_print(const struct conf_errors *, const char *name,
	    FILE *);
/* Every key with its type, default, range and help. */
void	conf_help(const struct conf_key *, FILE *);
/* The key's entry, or NULL. */
const struct conf_key *conf_find(const struct conf_key *, const char *name);
/* 1 if key's value differs between a and b. */
int	conf_differs(const struct conf_key *, const void *a, const void *b);
/* Exchange one key's value between two structs (ownership moves too). */
void	conf_swap_key(const struct conf_key *, void *a, void *b);
int	conf_list_has(const struct conf_list *, const char *);

#endif
