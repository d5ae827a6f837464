/*
 * Replication history (docs/replication.md "History"): per-disk byte
 * counts reported by the shards, sampled with each disk's achieved RPO
 * every history_interval seconds into disk_history (sql/005), served as
 * a bucketed series per machine and as /metrics counters.
 */
#ifndef HAVEN_HIST_H
#define HAVEN_HIST_H

#include <stdint.h>

#include <jansson.h>

#include "control.h"
#include "db.h"
#include "util.h"

#define HIST_KEEP_S		(7 * 86400)	/* samples older are pruned */
#define HIST_HOURS_MAX		(HIST_KEEP_S / 3600)
#define HIST_POINTS_MAX		300		/* per answered series */

/* hist.c, in control. */
struct event_base;
/* Arm the sample timer (again after a reload changed the interval). */
void	hist_start(struct event_base *);
void	hist_reload(void);
/* A shard's {"event": "bytes", "disk", "received", "applied"}. */
void	hist_bytes_event(json_t *ev);
/* GET /api/v1/machines/{id}/history?hours=N */
void	api_machine_history(struct api_req *);
/*
 * /metrics lines for hist.disks' answer (NULL: database down), with
 * the counts not yet written to the database added.
 */
void	hist_metrics(struct fbuf *, json_t *disks);

/* db_ops_hist.c, in the db process. */
extern const struct db_op db_ops_hist[];

/*
 * The buckets of a series: span_s seconds up to now, in buckets of at
 * least sample_s seconds, at most max_points of them.  Buckets are
 * aligned to multiples of bucket_s (a round number: 1 s ... 1 h) so a
 * refresh moves the series without reshuffling it.
 */
struct hist_plan {
	int64_t		from;		/* first bucket's start, <= now - span */
	int64_t		to;		/* last bucket's end, > now */
	int64_t		bucket_s;
	int		n;		/* (to - from) / bucket_s <= max_points */
};
int	hist_plan_make(int64_t now, int64_t span_s, int64_t sample_s,
	    int max_points, struct hist_plan *, char **cause);

#endif
