/*
 * Accounts, hypervisor servers and discovery (issue 5, docs/accounts.md):
 * what the db ops (db_ops_disc.c), the API handlers (api_disc.c) and the
 * discovery job (job_discover.c) share.
 */
#ifndef HAVEN_DISC_H
#define HAVEN_DISC_H

#include <jansson.h>

#include "db.h"

struct job;

/* Every 15 minutes per hypervisor, at most this many jobs at once. */
#define DISC_INTERVAL		900
#define DISC_MAX_JOBS		4
/* A discovery flagged as running for longer than this is taken as dead
 * (its job process crashed while control was restarting). */
#define DISC_STALE		3600
/* Protectable: 1..16 disks of at most 4 TiB each. */
#define DISC_MAX_DISKS		16
#define DISC_MAX_DISK_BYTES	(4ULL << 40)

/*
 * The discovery ops' causes may start with "[NNN] ", the HTTP status
 * that fits (400, 404, 409); api_disc.c strips it.  Without one, a
 * cause is a bad argument (400) unless it is the database's own.
 */

/* db_ops_disc.c: looked up after db_ops.c's own table. */
extern const struct db_op db_ops_disc[];

/*
 * job_discover.c.  The job kind "discover", args {"hypervisor": id,
 * "run": discovery_run, "probe": bool}: reads the hypervisor and its
 * account (the secret decrypted here, in the job) from the database,
 * discovers, and writes the machines and the hypervisor's status.
 * probe: a vSphere server without an accepted thumbprint only has it
 * fetched, to be accepted.
 */
int	 job_discover(struct job *, json_t *args, json_t **result,
	    char **cause);
/* 1 if a discovered machine (docs/discovery.md's shape) can be
 * protected; else 0 and *reason (malloc'd) says why. */
int	 job_discover_protectable(json_t *vm, char **reason);
/* The discovered machines into the database for hypervisor id. */
struct job_discover_counts {
	long long	vms, added, returned, gone, protectable;
};
int	 job_discover_save(MYSQL *, long long id, long long run,
	    json_t *vms, struct job_discover_counts *, char **cause);

#endif
