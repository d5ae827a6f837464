/* The control process: the JSON API, the scheduler, the db client. */
#ifndef HAVEN_CONTROL_H
#define HAVEN_CONTROL_H

#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "tls.h"

#define LST_CONTROL	0x01	/* agents and scale-out PSs: TLS, client certs */
#define LST_ADMIN	0x02	/* people: TLS, session */
#define LST_UNIX	0x04	/* havenctl on the box: the socket's mode */

struct api_req {
	struct evhttp_request	*req;
	int			 listener;
	char			 addr[64];	/* the peer, for logs and audit */
	json_t			*body;		/* parsed JSON body, or NULL */
	const char		*params[2];	/* {id} parts of the path */
	char			*param_buf;
	char			*machine_id;	/* CN of a verified client cert */
	char			*machine_fp;	/* its SHA-256 fingerprint */
	char			*actor;		/* who, for the audit log */
};

/* Both end the request and free r; the body is stolen. */
void	api_reply(struct api_req *, int status, json_t *);
void	api_error(struct api_req *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct api_route {
	int		  method;	/* EVHTTP_REQ_GET, ... */
	const char	 *path;		/* "/api/v1/machines/{}/revoke" */
	int		  listeners;	/* LST_* mask */
	int		  auth;		/* AUTH_* */
	void		(*fn)(struct api_req *);
};
#define AUTH_NONE	0	/* enrollment */
#define AUTH_MACHINE	1	/* a verified client certificate */
#define AUTH_ADMIN	2	/* the unix socket or a signed-in person */

extern const struct api_route api_routes[];

/* Database helper: answers come back through cb (result or error). */
typedef void	(*db_cb)(json_t *result, const char *error, void *arg);
void	 db_call(const char *op, json_t *args, db_cb, void *arg);
/* {"state","error",...} as the db process last reported it. */
json_t	*control_db_state(void);
int	 control_db_up(void);

/* Ask the parent for its worker slots. */
typedef void	(*workers_cb)(json_t *workers, void *arg);
void	 control_workers(workers_cb, void *arg);

/* Run a job process; done is called once with its outcome. */
typedef void	(*job_cb)(uint64_t id, int ok, json_t *result,
		    const char *error, void *arg);
void	 control_job(const char *kind, json_t *args, const char *actor,
	    job_cb done, void *arg);

/* TLS material changed on disk: reload here and in every shard. */
void	 control_tls_reload(int tell_parent);
/* The CA, for signing enrollment requests (loaded at start). */
X509	*control_ca(void);
EVP_PKEY *control_ca_key(void);

/* The audit log: who did what, from where. */
void	 audit(struct api_req *, const char *action, const char *target,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* events.c: what the shards report. */
void	 control_shard_event(json_t *);

/* enroll.c */
void	 enroll_challenge(struct api_req *);
void	 enroll_submit(struct api_req *);
void	 enroll_expire(void);

/* session.c */
int	 session_check(struct api_req *);
void	 session_login(struct api_req *);
void	 session_logout(struct api_req *);
int	 password_hash(const char *password, char **out, char **cause);
int	 password_verify(const char *password, const char *hash);

#endif
