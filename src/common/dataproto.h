/*
 * The replication data channel (data port, mutual TLS): frames as in
 * frame.h.  The format and the rules are in docs/frames.md.
 */
#ifndef HAVEN_DATAPROTO_H
#define HAVEN_DATAPROTO_H

#include "frame.h"

#define DATA_MAXFRAME	(8u * 1024 * 1024)

enum data_type {
	DT_HELLO = 1,	/* agent->ps: D_DISK, D_RESUME, D_SIZE, D_ROLE */
	DT_HELLO_OK,	/* ps->agent: D_SEQ (last durable), D_SHARD */
	DT_DATA,	/* agent->ps: D_SEQ, D_OFFSET, D_BYTES or D_ZERO */
	DT_BOOKMARK,	/* agent->ps: D_SEQ, D_POINT, D_KIND, D_TIME,
			   D_CONSISTENT, D_PROVIDER */
	DT_ACK,		/* ps->agent: D_SEQ (durable up to and including) */
	DT_FLOW,	/* ps->agent: D_WINDOW (bytes the agent may send) */
	DT_ERROR,	/* either way, then close: D_MESSAGE, D_RESYNC */
	DT_SEALED,	/* ps->mt: D_SEQ, D_BYTES (a sealed cache record) */
};

enum data_field {
	D_DISK = 1,
	D_RESUME,
	D_SEQ,
	D_SHARD,
	D_OFFSET,
	D_BYTES,
	D_POINT,
	D_KIND,
	D_TIME,
	D_WINDOW,
	D_MESSAGE,
	D_VERSION,
	D_ROLE,		/* hello: "agent" (default) or "ps" (drain to the MT) */
	D_SIZE,		/* hello: the disk's size in bytes */
	D_ZERO,		/* data without bytes: a run of this many zero bytes */
	D_CONSISTENT,	/* bookmark: 1 = a point-in-time view, 0 = read live */
	D_PROVIDER,	/* bookmark: the agent's snapshot provider */
	D_RESYNC,	/* error: 1 = the agent must resend every block */
};

extern const struct frame_spec data_specs[];

#endif
