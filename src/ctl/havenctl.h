/* havenctl: the operator CLI over havend's unix socket (docs/api.md). */
#ifndef HAVENCTL_H
#define HAVENCTL_H

#include <jansson.h>

#include "httpc.h"

#define CTL_SOCKET_DEFAULT	"/run/haven/havend.sock"

/* Exit codes. */
#define CTL_OK		0
#define CTL_FAIL	1	/* havend refused, or could not be reached */
#define CTL_USAGE	2

#define CTL_OPTS_MAX	8

struct ctl {
	struct httpc_opts	 http;
	int			 json;		/* --json: print raw answers */
	const char		*optval;	/* the command's first option */
	const char		*optv[CTL_OPTS_MAX]; /* each, in order */
	const struct ctl_cmd	*cmd;
};

struct ctl_cmd {
	const char	*name;		/* words: "machine revoke" */
	int		 minargs;	/* positional arguments after name */
	int		 maxargs;
	/*
	 * Its "--opt VALUE" options, or NULL: "--a --b" are required,
	 * "[--c]" optional.  Values in optv by position; ctl_opt() finds
	 * one by name.
	 */
	const char	*option;
	int		(*fn)(struct ctl *, int argc, char **argv);
	const char	*usage;		/* arguments, for usage lines */
	const char	*help;
};

/* The value given for the current command's option name, or NULL. */
const char *ctl_opt(struct ctl *, const char *name);

/*
 * ctl_cmds.c: one request; the answer (caller frees), or NULL when it
 * was printed (--json) or failed (printed, *rc set).
 */
json_t	*ctl_request(struct ctl *, const char *method, const char *path,
	    json_t *body, int *rc);
/* The same, but the answer is returned even with --json. */
json_t	*ctl_call(struct ctl *, const char *method, const char *path,
	    json_t *body, int *rc);
/* An answer as indented JSON on stdout, as --json prints it. */
void	ctl_print_json(json_t *);
/*
 * A secret from path or stdin ("-"), malloc'd, or NULL with a cause.  A
 * regular file must be private.  One trailing newline is dropped.  With
 * pem, messages call it a secret and a PEM key is kept as it is;
 * without, it is a password.
 */
char	*ctl_read_secret(const char *path, int pem, char **cause);
/* 0 if id is safe in a URL path, else -1 with a message. */
int	ctl_check_id(const char *what, const char *id);

/* ctl_cmds.c: the handlers. Each returns an exit code. */
int	ctl_status(struct ctl *, int, char **);
int	ctl_passphrase_show(struct ctl *, int, char **);
int	ctl_passphrase_generate(struct ctl *, int, char **);
int	ctl_cert_show(struct ctl *, int, char **);
int	ctl_cert_renew(struct ctl *, int, char **);
int	ctl_machine_list(struct ctl *, int, char **);
int	ctl_machine_revoke(struct ctl *, int, char **);
int	ctl_user_add(struct ctl *, int, char **);
int	ctl_job_list(struct ctl *, int, char **);
int	ctl_job_show(struct ctl *, int, char **);

/* ctl_repl.c */
int	ctl_policy_create(struct ctl *, int, char **);
int	ctl_policy_set(struct ctl *, int, char **);
int	ctl_policy_list(struct ctl *, int, char **);
int	ctl_policy_show(struct ctl *, int, char **);
int	ctl_policy_delete(struct ctl *, int, char **);
int	ctl_policy_assign(struct ctl *, int, char **);
int	ctl_points_list(struct ctl *, int, char **);
int	ctl_prune(struct ctl *, int, char **);
int	ctl_policy_throttle(struct ctl *, int, char **);
int	ctl_recover(struct ctl *, int, char **);

#endif
