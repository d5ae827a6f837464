/*
 * The "recover" job: every disk of a machine at one recovery point, as
 * raw images in a directory (havenctl recover, docs/replication.md).
 * Control resolved the point and the disks before starting us; here
 * each replica is borrowed from the shard that applies it, rolled back
 * into a copy and handed back.  The replica itself is never changed.
 *
 * args: {"machine_id", "point_id", "out", "disks": [name, ...]}
 * result: {"machine_id", "point_id", "out", "files": [{"disk", "path",
 * "size"}]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "havend.h"
#include "job.h"
#include "log.h"
#include "proto.h"
#include "repldir.h"
#include "replica.h"
#include "util.h"

#define CLAIM_TIMEOUT	300	/* s: a shard lets go after its batch */
#define CLAIM_TRIES	5

struct recover_disk {
	const char	*name;
	char		*dir;		/* the replica */
	char		*key;		/* "apply:<disk id>" */
	char		*path;		/* the image we write */
	int		 written;
};

/*
 * "<disk>.img" with the name made one path component: "sda" gives
 * sda.img, "/dev/vdb" dev_vdb.img.
 */
static char *
recover_file(const char *out, const char *disk)
{
	char	*name, *p, *path;

	while (*disk == '/')
		disk++;
	name = xstrdup(disk);
	for (p = name; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	path = xasprintf("%s/%s.img", out, name);
	free(name);
	return path;
}

void
recover_release(struct job *j, const char *key)
{
	struct fbuf	b;

	fbuf_init(&b);
	frame_begin(&b, IMSG_DISK_RELEASED);
	frame_put_str(&b, F_KIND, key);
	frame_end(&b);
	job_tell_parent(j, &b);
	fbuf_free(&b);
}

/*
 * Borrow the disk from the shard applying it (the parent arbitrates).
 * A newer claim by a shard while we wait withdraws ours: ask again.
 */
int
recover_claim(struct job *j, const char *key, char **cause)
{
	struct fbuf	 b;
	char		*why = NULL;
	int		 rc, tries = 0;

	fbuf_init(&b);
	frame_begin(&b, IMSG_DISK_CLAIM);
	frame_put_str(&b, F_KIND, key);
	frame_end(&b);
	do {
		rc = job_ask_parent(j, &b, IMSG_DISK_GRANTED,
		    IMSG_DISK_RELEASE, key, CLAIM_TIMEOUT, &why);
	} while (rc == -1 && ++tries < CLAIM_TRIES &&
	    strstr(why, "withdrew") != NULL);
	fbuf_free(&b);
	if (rc == -1) {
		/* Should the grant come after all, it is not kept. */
		recover_release(j, key);
		set_cause(cause, "the replica of %s stayed busy: %s", key + 6,
		    why);
		free(why);
	}
	return rc;
}

static int
recover_one(struct job *j, uint64_t point, struct recover_disk *d,
    char **cause)
{
	struct replica_conf	 rc;
	struct replica		*r;
	const char		*note;
	int			 ok;

	if (recover_claim(j, d->key, cause) == -1)
		return -1;
	memset(&rc, 0, sizeof(rc));
	rc.journal_segsize = (uint64_t)hv.conf.journal_segment;
	if ((r = replica_open(d->dir, &rc, cause)) == NULL) {
		recover_release(j, d->key);
		return -1;
	}
	if ((note = replica_recovered(r)) != NULL)
		log_warnx("replica %s: %s", d->dir, note);
	d->written = 1;
	ok = replica_materialize(r, point, d->path, cause);
	replica_close(r);
	recover_release(j, d->key);
	return ok;
}

int
job_recover(struct job *j, json_t *args, json_t **result, char **cause)
{
	struct recover_disk	*ds = NULL;
	struct stat		 st;
	json_t			*disks = json_object_get(args, "disks"), *v;
	json_t			*files;
	const char		*mid, *out;
	char			*state, *id;
	uint64_t		 point;
	size_t			 i, k, n;
	int			 rc = -1;

	mid = json_string_value(json_object_get(args, "machine_id"));
	out = json_string_value(json_object_get(args, "out"));
	v = json_object_get(args, "point_id");
	n = json_array_size(disks);
	if (mid == NULL || out == NULL || out[0] != '/' ||
	    !json_is_integer(v) || json_integer_value(v) < 0 || n == 0) {
		set_cause(cause, "a recover job needs machine_id, point_id, "
		    "an absolute out directory and the disks");
		return -1;
	}
	point = (uint64_t)json_integer_value(v);
	if (hv.conf.retention_dir == NULL) {
		set_cause(cause, "this appliance has no retention_dir: it "
		    "holds no replicas");
		return -1;
	}

	/* Everything checked before anything is written. */
	ds = xcalloc(n, sizeof(*ds));
	json_array_foreach(disks, i, v) {
		if ((ds[i].name = json_string_value(v)) == NULL ||
		    *ds[i].name == '\0') {
			set_cause(cause, "disk names must be strings");
			goto out;
		}
		ds[i].dir = repl_disk_dir(hv.conf.retention_dir, mid,
		    ds[i].name);
		id = xasprintf("%s:%s", mid, ds[i].name);
		ds[i].key = xasprintf("apply:%s", id);
		free(id);
		ds[i].path = recover_file(out, ds[i].name);
		for (k = 0; k < i; k++)
			if (strcmp(ds[k].path, ds[i].path) == 0) {
				set_cause(cause, "disks %s and %s would both be "
				    "written to %s", ds[k].name, ds[i].name,
				    ds[i].path);
				goto out;
			}
		state = xasprintf("%s/state", ds[i].dir);
		k = stat(state, &st) == 0;
		free(state);
		if (!k) {
			set_cause(cause, "disk %s has no replica on this "
			    "master target (%s): it has not been replicated "
			    "here", ds[i].name, ds[i].dir);
			goto out;
		}
	}
	if (mkdir_p(out, 0750, cause) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (lstat(ds[i].path, &st) == 0) {
			set_cause(cause, "%s already exists: recovery never "
			    "overwrites a file; remove it or choose another "
			    "directory", ds[i].path);
			goto out;
		}

	files = json_array();
	for (i = 0; i < n; i++) {
		job_progress(j, (int)(100 * i / n), "disk %s: writing point "
		    "%llu to %s", ds[i].name, (unsigned long long)point,
		    ds[i].path);
		if (recover_one(j, point, &ds[i], cause) == -1) {
			json_decref(files);
			goto out;
		}
		if (stat(ds[i].path, &st) == -1) {
			set_cause(cause, "%s: %s", ds[i].path, strerror(errno));
			json_decref(files);
			goto out;
		}
		json_array_append_new(files, json_pack("{s:s, s:s, s:I}",
		    "disk", ds[i].name, "path", ds[i].path, "size",
		    (json_int_t)st.st_size));
	}
	job_progress(j, 100, "%zu disk%s at point %llu in %s", n,
	    n == 1 ? "" : "s", (unsigned long long)point, out);
	*result = json_pack("{s:s, s:I, s:s, s:o}", "machine_id", mid,
	    "point_id", (json_int_t)point, "out", out, "files", files);
	rc = 0;
out:
	for (i = 0; i < n && ds != NULL; i++) {
		/* Half a recovery is no recovery. */
		if (rc == -1 && ds[i].written)
			unlink(ds[i].path);
		free(ds[i].dir);
		free(ds[i].key);
		free(ds[i].path);
	}
	free(ds);
	return rc;
}
