/*
 * A small blocking JSON-over-HTTP client on libcurl, for havenctl (over
 * havend's unix socket) and haven-agent (HTTPS to the configuration
 * server).  Not for havend's own event loops: it blocks.
 */
#ifndef HAVEN_HTTPC_H
#define HAVEN_HTTPC_H

#include <jansson.h>

struct httpc_opts {
	const char	*unix_socket;	/* set: talk HTTP over this socket */
	const char	*base_url;	/* "https://host:port" otherwise */
	const char	*ca_file;	/* NULL: do not verify the server (only
					   for enrollment's first contact, whose
					   proof authenticates the server) */
	const char	*cert_file;	/* client certificate, or NULL */
	const char	*key_file;
	long		 timeout_s;	/* whole request; 0 = 30 */
};

/*
 * Send body (NULL: none) and parse the JSON answer whatever its status.
 * Returns 0 with *status and *answer set (the caller frees it), or -1
 * with a cause that names the address and the fix when there was no
 * JSON answer.
 */
int		 httpc_json(const struct httpc_opts *, const char *method,
		    const char *path, json_t *body, long *status,
		    json_t **answer, char **cause);

/*
 * Same, but an answer that is not 2xx is also -1, with the server's
 * error message as cause.  status may be NULL.
 */
int		 httpc_call(const struct httpc_opts *, const char *method,
		    const char *path, json_t *body, long *status,
		    json_t **answer, char **cause);

/* error.message of an API error answer, or NULL. */
const char	*httpc_error_message(json_t *answer);

#endif
