/*
 * The master target's side of a disk, inside the shard that owns its
 * apply stream (docs/replication.md): sealed records from a process
 * server's drain are opened (a tampered or corrupt one is refused and
 * reported, never applied), applied to the replica with the old bytes
 * kept in the retention journal, and acknowledged once synced.  A
 * bookmark that is synced completes a recovery point, which the parent
 * relays to control.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cachelog.h"
#include "dataproto.h"
#include "havend.h"
#include "log.h"
#include "pki.h"
#include "replica.h"
#include "repldir.h"
#include "seal.h"
#include "shard.h"
#include "util.h"

int
apply_hello(struct dconn *c, const struct frame *f)
{
	struct sdisk	*d;
	char		*disk = frame_str(f, D_DISK);
	uint64_t	 size = frame_u64(f, D_SIZE, 0);

	if (strncmp(c->machine, PKI_PS_PREFIX, strlen(PKI_PS_PREFIX)) != 0) {
		dconn_refuse(c, "only a process server may send to the master "
		    "target (certificate %s is not one)", c->machine);
		free(disk);
		return -1;
	}
	if (size == 0 || strchr(disk, ':') == NULL) {
		dconn_refuse(c, "an apply stream needs a disk id "
		    "'<machine>:<disk>' and its size");
		free(disk);
		return -1;
	}
	d = sdisk_get(SD_APPLY, disk);
	free(disk);
	sdisk_attach(d, c);
	d->size = size;
	if (d->granted)
		apply_granted(d);
	return 1;
}

void
apply_granted(struct sdisk *d)
{
	struct replica_conf	 rc = { 0, 0, 0 };
	struct dconn		*c = d->conn;
	struct fbuf		 b;
	uint8_t			 key[32];
	char			*dir, *cause = NULL;

	if (c == NULL)
		return;
	if (d->rep == NULL) {
		dir = repl_dir_of(hv.conf.retention_dir, d->id);
		rc.disk_size = d->size;
		rc.journal_segsize = (uint64_t)hv.conf.journal_segment;
		if (mkdir_p(dir, 0700, &cause) == 0)
			d->rep = replica_open(dir, &rc, &cause);
		free(dir);
		if (d->rep == NULL) {
			dconn_refuse(c, "the master target cannot open the "
			    "replica of %s: %s", d->id, cause);
			free(cause);
			return;
		}
		if (replica_recovered(d->rep) != NULL)
			log_warnx("replica of %s: %s", d->id,
			    replica_recovered(d->rep));
	}
	if (d->seal == NULL) {
		if (pki_disk_key(&hv.conf, d->id, key, &cause) == -1 ||
		    (d->seal = seal_new(key, 1, &cause)) == NULL) {
			OPENSSL_cleanse(key, sizeof(key));
			dconn_refuse(c, "no key for %s: %s", d->id, cause);
			free(cause);
			return;
		}
		OPENSSL_cleanse(key, sizeof(key));
		d->disknum = repl_disk_number(d->id);
	}
	if (d->points == NULL)
		d->points = json_array();
	fbuf_init(&b);
	frame_begin(&b, DT_HELLO_OK);
	frame_put_u64(&b, D_SEQ, replica_applied_seq(d->rep));
	frame_put_u64(&b, D_SHARD, (uint64_t)shard_no);
	frame_end(&b);
	dconn_send(c, &b);
	fbuf_free(&b);
	log_info("applying %s from seq %llu", d->id,
	    (unsigned long long)replica_applied_seq(d->rep) + 1);
	dconn_pause(c, 0);
}

int
apply_frame(struct dconn *c, const struct frame *f)
{
	struct sdisk		*d = c->disk;
	struct cachelog_rec	 r;
	const uint8_t		*p;
	char			*cause = NULL;
	size_t			 len;
	uint64_t		 seq = frame_u64(f, D_SEQ, 0);

	if (f->type != DT_SEALED) {
		dconn_refuse(c, "unexpected %s frame on an apply stream",
		    frame_spec_find(data_specs, f->type)->name);
		return -1;
	}
	p = frame_bytes(f, D_BYTES, &len);
	if (seal_open(d->seal, d->disknum, p, len, &r, &cause) == -1 ||
	    r.seq != seq) {
		log_warnx("refused record seq %llu of %s: %s", (unsigned long
		    long)seq, d->id, cause ? cause : "sequence mismatch");
		shard_event(json_pack("{s:s, s:s, s:s}", "event",
		    "record_corrupt", "disk", d->id, "message", cause ? cause :
		    "a sealed record's sequence does not match its frame"));
		dconn_refuse(c, "record seq %llu failed its integrity check "
		    "(%s); it was not applied", (unsigned long long)seq,
		    cause ? cause : "sequence mismatch");
		free(cause);
		return -1;
	}
	if (replica_apply(d->rep, &r, &cause) == -1) {
		dconn_refuse(c, "cannot apply seq %llu to %s: %s",
		    (unsigned long long)seq, d->id, cause);
		free(cause);
		return -1;
	}
	if (r.type == CL_BOOKMARK) {
		char	*kind = xstrndup((const char *)r.data, r.len);

		json_array_append_new(d->points, json_pack("{s:I, s:I, s:I, "
		    "s:s}", "point_id", (json_int_t)r.offset, "seq",
		    (json_int_t)r.seq, "taken_at", (json_int_t)r.aux, "kind",
		    kind));
		free(kind);
	} else if (r.type == CL_DATA)
		d->applied_bytes += r.len;
	return 1;
}

void
apply_batch_end(struct sdisk *d)
{
	struct fbuf	 b;
	json_t		*pt, *keep;
	char		*cause = NULL, *colon;
	const char	*kind;
	size_t		 i;
	uint64_t	 applied;
	int		 live;

	if (d->rep == NULL || d->conn == NULL)
		return;
	if (replica_sync(d->rep, &applied, &cause) == -1) {
		dconn_refuse(d->conn, "cannot sync the replica of %s: %s",
		    d->id, cause);
		free(cause);
		return;
	}
	d->applied_synced = d->applied_bytes;
	fbuf_init(&b);
	frame_begin(&b, DT_ACK);
	frame_put_u64(&b, D_SEQ, applied);
	frame_end(&b);
	dconn_send(d->conn, &b);
	fbuf_free(&b);
	/* Points whose bookmark is now durable on the replica. */
	keep = json_array();
	colon = strchr(d->id, ':');
	json_array_foreach(d->points, i, pt) {
		if ((uint64_t)json_integer_value(json_object_get(pt, "seq")) >
		    applied) {
			json_array_append(keep, pt);
			continue;
		}
		kind = json_string_value(json_object_get(pt, "kind"));
		live = strstr(kind, ":live") != NULL ||
		    strcmp(kind, "none") == 0;
		if (strchr(kind, ':') != NULL)
			json_object_set_new(pt, "kind", json_stringn(kind,
			    (size_t)(strchr(kind, ':') - kind)));
		kind = json_string_value(json_object_get(pt, "kind"));
		json_object_set_new(pt, "event", json_string("point"));
		json_object_set_new(pt, "machine_id",
		    json_stringn(d->id, (size_t)(colon - d->id)));
		json_object_set_new(pt, "disk", json_string(colon + 1));
		/* Read live, without a point-in-time view: not consistent. */
		json_object_set_new(pt, "crash_consistent", json_boolean(!live));
		json_object_set_new(pt, "applied_bytes",
		    json_integer((json_int_t)d->applied_bytes));
		log_info("recovery point %lld of %s is complete (%s)",
		    json_integer_value(json_object_get(pt, "point_id")),
		    d->id, kind);
		shard_event(json_incref(pt));
	}
	json_decref(d->points);
	d->points = keep;
}

void
apply_conn_gone(struct sdisk *d)
{
	/* Let go of the replica: a recovery job may want it now. */
	d->granted = 0;
	apply_close(d);
	shard_released(d);
	sdisk_free(d);
}

void
apply_close(struct sdisk *d)
{
	if (d->rep != NULL) {
		replica_close(d->rep);
		d->rep = NULL;
	}
	seal_free(d->seal);
	d->seal = NULL;
	json_decref(d->points);
	d->points = NULL;
}
