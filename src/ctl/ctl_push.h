/* havenctl push-install, push-uninstall (ctl_push.c, issue 6). */
#ifndef CTL_PUSH_H
#define CTL_PUSH_H

#include "havenctl.h"

#define CTL_PUSH_OPTIONS	"--account [--port] [--host-key] [--cs] [--wait]"
#define CTL_PUSH_USAGE		"MACHINE|ADDRESS --account NAME [--port N] " \
				"[--host-key SHA256:...] [--cs HOST:PORT] " \
				"[--wait SECONDS]"

#define CTL_PUSH_UNINSTALL_USAGE "MACHINE|ADDRESS --account NAME " \
				"[--port N] [--host-key SHA256:...] " \
				"[--keep-enrollment]"

int	ctl_push_install(struct ctl *, int, char **);
int	ctl_push_uninstall(struct ctl *, int, char **);

#endif
