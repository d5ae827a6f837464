/*
 * Control's side of replication (api_repl.c): policies, recovery points,
 * the recover job, and what control does with the events the data path
 * reports (docs/replication.md).
 */
#ifndef HAVEN_REPL_H
#define HAVEN_REPL_H

#include <jansson.h>

#include "control.h"

/*
 * A shard applied a point's bookmark: ev is {"event": "point",
 * "machine_id", "disk", "point_id", "seq", "kind", "crash_consistent",
 * "taken_at"} (unix seconds).  Records it, then raises or clears the
 * machine's RPO alert ("rpo:<machine id>").  ev stays the caller's.
 */
void	repl_point_event(json_t *ev);
/* Every protected machine's RPO against its threshold; for a timer. */
void	repl_rpo_check(void);
/*
 * The per-disk replication state an agent reports in its heartbeat:
 * [{"name" (or "disk"), "state", "percent", "eta_s", "bytes_sent",
 * "error"}].  disks stays the caller's.
 */
void	repl_disk_report(const char *machine_id, json_t *disks);

/* Routes (api.c's table). */
void	api_policies(struct api_req *);
void	api_policy_create(struct api_req *);
void	api_policy_throttle(struct api_req *);
void	api_policy_get(struct api_req *);
void	api_policy_update(struct api_req *);
void	api_policy_delete(struct api_req *);
void	api_machine_policy(struct api_req *);
void	api_machine_points(struct api_req *);
void	api_machine_replication(struct api_req *);
void	api_machine_recover(struct api_req *);

/* prune.c: retention, periodically and on demand. */
void	prune_tick(void);
void	api_prune(struct api_req *);

#endif
