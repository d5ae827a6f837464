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

#endif
