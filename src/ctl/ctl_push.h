/* havenctl push-install (ctl_push.c, issue 6). */
#ifndef CTL_PUSH_H
#define CTL_PUSH_H

#include "havenctl.h"

#define CTL_PUSH_OPTIONS	"--account [--port] [--host-key] [--cs] [--wait]"
#define CTL_PUSH_USAGE		"MACHINE|ADDRESS --account NAME [--port N] " \
				"[--host-key SHA256:...] [--cs HOST:PORT] " \
				"[--wait SECONDS]"

int	ctl_push_install(struct ctl *, int, char **);

#endif
