/* What every havend process shares: the config and the entry points. */
#ifndef HAVEN_HAVEND_H
#define HAVEN_HAVEND_H

#include <stdint.h>

#include "conf.h"

enum slot_kind { SLOT_CONTROL, SLOT_DB, SLOT_SHARD, SLOT_JOB };

struct havend {
	struct haven_conf	 conf;
	char			*conf_path;
	int			 foreground;
	int64_t			 started_at;
	int			 nshards;
	/* Listening sockets: opened by the parent, inherited by control. */
	int			 control_fd;
	int			 admin_fd;
	int			 unix_fd;
};

extern struct havend hv;

void	control_main(int parent_fd) __attribute__((noreturn));
void	db_main(struct haven_conf *, const char *conf_path, int parent_fd)
	    __attribute__((noreturn));
void	shard_main(int parent_fd, int shard_no) __attribute__((noreturn));
void	job_main(int parent_fd, uint64_t id, const char *kind,
	    const char *args) __attribute__((noreturn));

/* Re-read hv.conf_path into hv.conf: SIGHUP in the parent, IMSG_RELOAD
 * in children.  verbose logs what changed. */
int	havend_reload_conf(int verbose);

#endif
