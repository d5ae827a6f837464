/* Job processes: slow or risky work, forked by the parent on request. */
#ifndef HAVEN_JOB_H
#define HAVEN_JOB_H

#include <stdint.h>

#include <jansson.h>

struct job;

struct job_kind {
	const char	*name;
	/* Returns 0 with *result set, or -1 with a cause for the operator. */
	int		(*fn)(struct job *, json_t *args, json_t **result,
			    char **cause);
};

/* Report progress (0..100) and what is happening now. */
void	job_progress(struct job *, int percent, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

struct fbuf;
/* Send a built frame to the parent. */
void	job_tell_parent(struct job *, const struct fbuf *msg);
/*
 * Send msg, then wait (running the job's loop) up to timeout_s for a
 * message of type reply whose F_KIND is kind.  0 when it came, -1 with
 * a cause when it did not or when a message of type cancel (0: none)
 * with that F_KIND came first.
 */
int	job_ask_parent(struct job *, const struct fbuf *msg, int reply,
	    int cancel, const char *kind, int timeout_s, char **cause);

/* job_recover.c: borrow a replica from the shard applying it ("apply:ID"),
 * and give it back. */
int	recover_claim(struct job *, const char *key, char **cause);
void	recover_release(struct job *, const char *key);

/* job_prune.c */
int	job_prune(struct job *, json_t *args, json_t **result, char **cause);

/* job_recover.c */
int	job_recover(struct job *, json_t *args, json_t **result,
	    char **cause);

#endif
