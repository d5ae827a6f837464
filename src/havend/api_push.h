/*
 * Push install of the agent over SSH (issue 6): the API
 * route (api_push.c) and the job (job_push.c).
 */
#ifndef HAVEN_API_PUSH_H
#define HAVEN_API_PUSH_H

#include <jansson.h>

#include "control.h"

struct job;

/* Host keys pinned on first use, one "HOST:PORT SHA256:..." a line. */
#define PUSH_KNOWN_HOSTS	"push_known_hosts"
/* Agent packages: STATE_DIR/repository/haven-agent-VERSION.tar.gz. */
#define PUSH_REPOSITORY		"repository"

/* POST /api/v1/push-install {"address" | "machine", "account", "port",
 * "host_key", "cs", "wait_s", "action": "install" | "uninstall",
 * "keep_enrollment"} → 202 {"job": id}. */
void	api_push_install(struct api_req *);

/* The job kind "push": same arguments. */
int	job_push(struct job *, json_t *args, json_t **result, char **cause);

#endif
