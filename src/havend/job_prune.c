/*
 * Retention: drop recovery points older than each disk's policy allows
 * (thinning to one an hour past thin_after), freeing their journal
 * space.  The job borrows each replica from the shard applying it, as a
 * recovery does, and reports the points it dropped so that control
 * deletes their rows: a point is either wholly present or absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "havend.h"
#include "job.h"
#include "log.h"
#include "replica.h"
#include "repldir.h"
#include "util.h"

#define THIN_EVERY_S	3600

static json_t *
point_ids(struct replica *r)
{
	const struct replica_point	*pts;
	json_t				*a = json_array();
	size_t				 n, i;

	n = replica_points(r, &pts);
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)pts[i].id));
	return a;
}

static int
prune_one(struct job *j, json_t *d, json_t *out, char **cause)
{
	struct replica_conf	 rc;
	struct replica_prune	 rp;
	struct replica		*r;
	const char		*mid = json_string_value(json_object_get(d,
				    "machine_id"));
	const char		*disk = json_string_value(json_object_get(d,
				    "disk"));
	json_t			*before, *after, *gone, *v;
	char			*dir, *key;
	size_t			 i, k, dropped;
	uint64_t		 bytes;
	int			 rc_ = -1, keep;

	if (mid == NULL || disk == NULL) {
		set_cause(cause, "a prune entry needs machine_id and disk");
		return -1;
	}
	dir = repl_disk_dir(hv.conf.retention_dir, mid, disk);
	if (access(dir, F_OK) != 0) {
		free(dir);
		return 0;	/* nothing replicated here (yet) */
	}
	key = xasprintf("apply:%s:%s", mid, disk);
	if (recover_claim(j, key, cause) == -1) {
		free(key);
		free(dir);
		return -1;
	}
	memset(&rc, 0, sizeof(rc));
	rc.journal_segsize = (uint64_t)hv.conf.journal_segment;
	if ((r = replica_open(dir, &rc, cause)) == NULL)
		goto out;
	before = point_ids(r);
	bytes = replica_journal_bytes(r);
	memset(&rp, 0, sizeof(rp));
	rp.now = now_unix();
	rp.retention = json_integer_value(json_object_get(d, "retention_s"));
	rp.thin_after = json_integer_value(json_object_get(d, "thin_after_s"));
	rp.thin_every = rp.thin_after > 0 ? THIN_EVERY_S : 0;
	if (replica_prune(r, &rp, &dropped, cause) == 0) {
		after = point_ids(r);
		gone = json_array();
		json_array_foreach(before, i, v) {
			keep = 0;
			for (k = 0; k < json_array_size(after); k++)
				if (json_integer_value(json_array_get(after,
				    k)) == json_integer_value(v))
					keep = 1;
			if (!keep)
				json_array_append(gone, v);
		}
		if (json_array_size(gone) > 0)
			json_array_append_new(out, json_pack("{s:s, s:s, s:o, "
			    "s:I}", "machine_id", mid, "disk", disk, "points",
			    gone, "freed_bytes", (json_int_t)(bytes -
			    replica_journal_bytes(r))));
		else
			json_decref(gone);
		json_decref(after);
		rc_ = 0;
	}
	json_decref(before);
	replica_close(r);
out:
	recover_release(j, key);
	free(key);
	free(dir);
	return rc_;
}

int
job_prune(struct job *j, json_t *args, json_t **result, char **cause)
{
	json_t	*disks = json_object_get(args, "disks"), *d, *out;
	size_t	 i, n = json_array_size(disks);
	char	*why = NULL;
	int	 failed = 0;

	out = json_array();
	json_array_foreach(disks, i, d) {
		job_progress(j, (int)(i * 100 / (n ? n : 1)), "pruning %s:%s",
		    json_string_value(json_object_get(d, "machine_id")),
		    json_string_value(json_object_get(d, "disk")));
		if (prune_one(j, d, out, &why) == -1) {
			/* One busy or damaged replica must not stop the rest. */
			log_warnx("prune: %s", why);
			free(why);
			why = NULL;
			failed++;
		}
	}
	*result = json_pack("{s:o, s:i}", "pruned", out, "failed", failed);
	if (failed > 0 && (size_t)failed == n) {
		set_cause(cause, "no replica could be pruned; see the log");
		json_decref(*result);
		*result = NULL;
		return -1;
	}
	return 0;
}
