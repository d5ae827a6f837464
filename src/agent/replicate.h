/*
 * haven-agent replicate: cycles of point-in-time views, changed blocks
 * and bookmarks streamed to the process server's data port.  The design
 * (cycle files, resume rules, flow control, throttle) is in
 * docs/agent.md.
 */
#ifndef HAVEN_REPLICATE_H
#define HAVEN_REPLICATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "agent.h"

#define REPL_STATUS_FILE	"replication.json"

/* One rule of a throttle schedule: minutes of the day [from, to), or
 * any time (from = -1); rate in bytes/s, 0 = unlimited. */
struct repl_rule {
	int		 from;
	int		 to;
	uint64_t	 rate;
};

/*
 * "10m", or "08:00-18:00=10m,*=0": the first rule that matches the
 * local time wins; none matching means unlimited.  Sizes take k, m, g
 * (1024-based).
 */
int		 repl_throttle_parse(const char *, struct repl_rule **,
		    size_t *, char **cause);
uint64_t	 repl_throttle_rate(const struct repl_rule *, size_t,
		    int minute_of_day);

int		 agent_replicate(struct agent *, int, char **);
/* The last status a replicate process wrote, for 'haven-agent status'. */
void		 replicate_status_print(const struct agent *, FILE *);
/* The same as the heartbeat's per-disk replication state, or NULL. */
json_t		*replicate_report(const struct agent *);

#endif
