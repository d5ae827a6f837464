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

struct ctl {
	struct httpc_opts	 http;
	int			 json;		/* --json: print raw answers */
	const char		*optval;	/* the command's option value */
};

struct ctl_cmd {
	const char	*name;		/* words: "machine revoke" */
	int		 minargs;	/* positional arguments after name */
	int		 maxargs;
	const char	*option;	/* a required "--opt VALUE", or NULL */
	int		(*fn)(struct ctl *, int argc, char **argv);
	const char	*usage;		/* arguments, for usage lines */
	const char	*help;
};

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

#endif
