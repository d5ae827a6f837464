/*
 * Messages between havend's processes.  Every message is a frame
 * (src/common/frame.h) whose fields are listed in proto.c's spec table;
 * ipc.c refuses a message that does not match it.
 *
 *	parent  <-> control, db, shard N, job   (one socketpair each)
 *	control <-> db                          (a socketpair the parent
 *	                                         hands to both, IMSG_DB_CHANNEL)
 */
#ifndef HAVEN_PROTO_H
#define HAVEN_PROTO_H

#include "frame.h"

enum imsg_type {
	IMSG_HELLO = 1,		/* child->parent: F_SLOT, F_PID */
	IMSG_RELOAD,		/* parent->child: config re-read, apply it */
	IMSG_SHUTDOWN,		/* parent->child: stop now */
	IMSG_DATA_CONN,		/* parent->shard: fd, F_ADDR */
	IMSG_DB_CHANNEL,	/* parent->control and parent->db: fd */
	IMSG_DB_CALL,		/* control->db: F_ID, F_OP, F_JSON (args) */
	IMSG_DB_REPLY,		/* db->control: F_ID, F_SUCCESS, F_JSON, F_ERROR */
	IMSG_DB_STATE,		/* db->control: F_JSON {state,error,...} */
	IMSG_STATUS_REQ,	/* control->parent: F_ID */
	IMSG_STATUS,		/* parent->control: F_ID, F_JSON (workers) */
	IMSG_JOB_START,		/* control->parent: F_ID, F_KIND, F_JSON */
	IMSG_JOB_PROGRESS,	/* job->parent->control: F_ID, F_PERCENT, F_MESSAGE */
	IMSG_JOB_DONE,		/* job->parent->control: F_ID, F_SUCCESS, F_JSON, F_ERROR */
	IMSG_TLS_RELOAD,	/* control->parent->everyone: certs or CRL changed */
	IMSG_SHARD_EVENT,	/* shard->parent->control: F_JSON (what happened) */
	/*
	 * Disk ownership (docs/replication.md): F_KIND is the key,
	 * "ingest:<disk id>" or "apply:<disk id>".  A shard or job asks
	 * with CLAIM; the parent answers GRANTED, first asking the current
	 * holder to RELEASE (it answers RELEASED).  A holder may also send
	 * RELEASED on its own when done.
	 */
	IMSG_DISK_CLAIM,
	IMSG_DISK_GRANTED,
	IMSG_DISK_RELEASE,
	IMSG_DISK_RELEASED,
	IMSG_MAX
};

enum imsg_field {
	F_ID = 1,
	F_SLOT,
	F_PID,
	F_OP,
	F_JSON,
	F_SUCCESS,
	F_ERROR,
	F_ADDR,
	F_KIND,
	F_PERCENT,
	F_MESSAGE,
};

extern const struct frame_spec proto_specs[];

#endif
