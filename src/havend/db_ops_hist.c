/*
 * The history ops (docs/replication.md "History"), looked up after
 * db_ops.c's own table: a sample of every replicated disk, a machine's
 * series in buckets, and each disk's totals for /metrics.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dbq.h"
#include "hist.h"
#include "util.h"

#define HIST_DISK_MAX	255	/* as disk_state.disk */
#define HIST_PRUNE_MAX	20000	/* rows deleted per sample, at most */

/* Round numbers a chart's buckets may have, in seconds. */
static const int64_t hist_nice[] = { 1, 2, 5, 10, 15, 20, 30, 60, 120, 300,
	600, 900, 1200, 1800, 3600 };

int
hist_plan_make(int64_t now, int64_t span_s, int64_t sample_s, int max_points,
    struct hist_plan *p, char **cause)
{
	int64_t	need;
	size_t	i;

	if (now < 0 || span_s < 1 || sample_s < 1 || max_points < 2) {
		set_cause(cause, "a history series needs a span and a sample "
		    "interval of at least 1 s and at least 2 points");
		return -1;
	}
	/*
	 * The window is widened to whole buckets at both ends, which
	 * costs one bucket: plan for max_points - 1 over the span.
	 */
	need = (span_s + max_points - 2) / (max_points - 1);
	if (need < sample_s)
		need = sample_s;
	p->bucket_s = 0;
	for (i = 0; i < nitems(hist_nice); i++)
		if (hist_nice[i] >= need) {
			p->bucket_s = hist_nice[i];
			break;
		}
	if (p->bucket_s == 0)
		p->bucket_s = (need + 3599) / 3600 * 3600;
	p->from = (now - span_s) / p->bucket_s * p->bucket_s;
	if (now - span_s < 0 && (now - span_s) % p->bucket_s != 0)
		p->from -= p->bucket_s;
	p->to = now / p->bucket_s * p->bucket_s + p->bucket_s;
	p->n = (int)((p->to - p->from) / p->bucket_s);
	return 0;
}

/* Strings of a disks[] entry, checked. */
static int
hist_a_disk(json_t *d, const char **mid, const char **disk,
    long long *in, long long *ap, char **cause)
{
	if (!json_is_object(d)) {
		set_cause(cause, "each of 'disks' must be an object");
		return -1;
	}
	if (dbq_a_str(d, "machine_id", 1, 36, mid, cause) == -1 ||
	    dbq_a_str(d, "disk", 1, HIST_DISK_MAX, disk, cause) == -1 ||
	    dbq_a_int(d, "bytes_in", 0, 0, INT64_MAX, 0, in, cause) == -1 ||
	    dbq_a_int(d, "bytes_applied", 0, 0, INT64_MAX, 0, ap,
	    cause) == -1)
		return -1;
	return 0;
}

/*
 * {"at", "interval_s", "disks": [{machine_id, disk, bytes_in,
 * bytes_applied}]}: add the bytes to each disk's totals (disk_state),
 * write a row for every replicated disk of a machine not revoked, and
 * drop rows older than HIST_KEEP_S.
 */
static int
op_hist_sample(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	json_t		*disks = json_object_get(args, "disks"), *d;
	const char	*mid, *disk;
	long long	 at, interval, in, ap;
	long long	 rows, pruned;
	size_t		 i;

	if (dbq_a_int(args, "at", 1, 0, 253402300799LL, 0, &at, cause) == -1 ||
	    dbq_a_int(args, "interval_s", 1, 1, 86400, 0, &interval,
	    cause) == -1)
		return -1;
	if (disks != NULL && !json_is_array(disks)) {
		set_cause(cause, "'disks' must be an array");
		return -1;
	}
	json_array_foreach(disks, i, d) {
		if (hist_a_disk(d, &mid, &disk, &in, &ap, cause) == -1)
			return -1;
		if (in == 0 && ap == 0)
			continue;
		/* A disk seen by the data path before the agent reported it. */
		if (DQ(m, NULL, cause, "INSERT INTO disk_state (machine_id, "
		    "disk, bytes_received, bytes_applied, updated_at) SELECT "
		    "id, ?, ?, ?, UTC_TIMESTAMP(3) FROM machines WHERE id = ? "
		    "ON DUPLICATE KEY UPDATE bytes_received = bytes_received + "
		    "VALUES(bytes_received), bytes_applied = bytes_applied + "
		    "VALUES(bytes_applied)", DQS(disk), DQI(in), DQI(ap),
		    DQS(mid)) == -1)
			return -1;
	}
	if (DQ(m, NULL, cause, "INSERT INTO disk_history (machine_id, disk, "
	    "at, interval_s, rpo_s) SELECT ds.machine_id, ds.disk, ?, ?, "
	    "(SELECT GREATEST(0, TIMESTAMPDIFF(SECOND, MAX(rp.taken_at), ?)) "
	    "FROM recovery_points rp WHERE rp.machine_id = ds.machine_id AND "
	    "rp.disk = ds.disk) FROM disk_state ds JOIN machines mc ON "
	    "mc.id = ds.machine_id WHERE mc.status <> 'revoked' "
	    "ON DUPLICATE KEY UPDATE rpo_s = VALUES(rpo_s)", DQT(at),
	    DQI(interval), DQT(at)) == -1)
		return -1;
	rows = (long long)mysql_affected_rows(m);
	json_array_foreach(disks, i, d) {
		if (hist_a_disk(d, &mid, &disk, &in, &ap, cause) == -1)
			return -1;
		if ((in != 0 || ap != 0) && DQ(m, NULL, cause, "UPDATE "
		    "disk_history SET bytes_in = bytes_in + ?, bytes_applied = "
		    "bytes_applied + ? WHERE machine_id = ? AND at = ? AND "
		    "disk = ?", DQI(in), DQI(ap), DQS(mid), DQT(at),
		    DQS(disk)) == -1)
			return -1;
	}
	/* Bounded: a long outage's backlog goes over a few samples. */
	if (DQ(m, NULL, cause, "DELETE FROM disk_history WHERE at < ? LIMIT ?",
	    DQT(at - HIST_KEEP_S), DQI(HIST_PRUNE_MAX)) == -1)
		return -1;
	pruned = (long long)mysql_affected_rows(m);
	*result = json_pack("{s:I, s:I}", "rows", (json_int_t)rows, "pruned",
	    (json_int_t)pruned);
	return 0;
}

/*
 * {"machine_id", "hours", "sample_s"}: the machine's series over the
 * last hours, at most HIST_POINTS_MAX buckets, each {t (bucket start,
 * unix seconds), rpo_s (worst of its disks and samples; null before a
 * point), bytes_in, bytes_applied (sums), samples}.  Buckets without a
 * sample are left out.
 */
static int
op_hist_series(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	struct hist_plan p;
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*out, *pts, *disks;
	const char	*mid;
	long long	 hours, sample;
	int64_t		 now = (int64_t)time(NULL);

	if (dbq_a_str(args, "machine_id", 1, 36, &mid, cause) == -1 ||
	    dbq_a_int(args, "hours", 0, 1, HIST_HOURS_MAX, 24, &hours,
	    cause) == -1 ||
	    dbq_a_int(args, "sample_s", 0, 1, 86400, 60, &sample, cause) == -1)
		return -1;
	if (hist_plan_make(now, hours * 3600, sample, HIST_POINTS_MAX, &p,
	    cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT mc.hostname, p.name, p.rpo_threshold_s "
	    "FROM machines mc LEFT JOIN policies p ON p.id = mc.policy_id "
	    "WHERE mc.id = ?", DQS(mid)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "no machine %s: 'havenctl machine list' shows "
		    "the enrolled machines and their ids", mid);
		return -1;
	}
	out = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "machine_id", mid, "hostname", dbq_j_str(r[0]), "policy",
	    dbq_j_str(r[1]), "rpo_threshold_s", dbq_j_int(r[2]), "hours",
	    (json_int_t)hours, "from", (json_int_t)p.from, "to",
	    (json_int_t)p.to, "now", (json_int_t)now, "bucket_s",
	    (json_int_t)p.bucket_s, "sample_s", (json_int_t)sample);
	mysql_free_result(res);
	if (DQ(m, &res, cause, "SELECT FLOOR((UNIX_TIMESTAMP(at) - ?) / ?), "
	    "MAX(rpo_s), SUM(bytes_in), SUM(bytes_applied), COUNT(DISTINCT at) "
	    "FROM disk_history WHERE machine_id = ? AND at >= ? AND at < ? "
	    "GROUP BY 1 ORDER BY 1", DQI(p.from), DQI(p.bucket_s), DQS(mid),
	    DQT(p.from), DQT(p.to)) == -1)
		goto fail;
	pts = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(pts, json_pack("{s:I, s:o, s:o, s:o, "
		    "s:o}", "t", (json_int_t)(p.from + strtoll(r[0], NULL, 10) *
		    p.bucket_s), "rpo_s", dbq_j_int(r[1]), "bytes_in",
		    dbq_j_int(r[2]), "bytes_applied", dbq_j_int(r[3]),
		    "samples", dbq_j_int(r[4])));
	mysql_free_result(res);
	json_object_set_new(out, "points", pts);
	if (DQ(m, &res, cause, "SELECT DISTINCT disk FROM disk_history WHERE "
	    "machine_id = ? AND at >= ? ORDER BY disk", DQS(mid),
	    DQT(p.from)) == -1)
		goto fail;
	disks = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(disks, dbq_j_str(r[0]));
	mysql_free_result(res);
	json_object_set_new(out, "disks", disks);
	*result = out;
	return 0;
fail:
	json_decref(out);
	return -1;
}

/* Every replicated disk's totals and achieved RPO, for /metrics. */
static int
op_hist_disks(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;

	(void)args;
	if (DQ0(m, &res, cause, "SELECT ds.machine_id, mc.hostname, ds.disk, "
	    "ds.bytes_received, ds.bytes_applied, "
	    "(SELECT GREATEST(0, TIMESTAMPDIFF(SECOND, MAX(rp.taken_at), "
	    "UTC_TIMESTAMP(3))) FROM recovery_points rp WHERE "
	    "rp.machine_id = ds.machine_id AND rp.disk = ds.disk) "
	    "FROM disk_state ds JOIN machines mc ON mc.id = ds.machine_id "
	    "WHERE mc.status <> 'revoked' ORDER BY ds.machine_id, "
	    "ds.disk") == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, json_pack("{s:o, s:o, s:o, s:o, s:o, "
		    "s:o}", "machine_id", dbq_j_str(r[0]), "hostname",
		    dbq_j_str(r[1]), "disk", dbq_j_str(r[2]), "bytes_received",
		    dbq_j_int(r[3]), "bytes_applied", dbq_j_int(r[4]), "rpo_s",
		    dbq_j_int(r[5])));
	mysql_free_result(res);
	*result = json_pack("{s:o}", "disks", a);
	return 0;
}

const struct db_op db_ops_hist[] = {
	{ "hist.sample",		op_hist_sample },
	{ "hist.series",		op_hist_series },
	{ "hist.disks",			op_hist_disks },
	{ NULL, NULL }
};
