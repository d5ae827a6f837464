#include "proto.h"

#define JSON_MAX	(8u * 1024 * 1024)

static const struct field_spec f_hello[] = {
	{ F_SLOT, FK_U64, 1, 0, "slot" },
	{ F_PID, FK_U64, 1, 0, "pid" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_addr[] = {
	{ F_ADDR, FK_STR, 0, 256, "addr" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_db_call[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ F_OP, FK_STR, 1, 64, "op" },
	{ F_JSON, FK_STR, 0, JSON_MAX, "args" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_result[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ F_SUCCESS, FK_U64, 1, 0, "ok" },
	{ F_JSON, FK_STR, 0, JSON_MAX, "result" },
	{ F_ERROR, FK_STR, 0, 4096, "error" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_json[] = {
	{ F_JSON, FK_STR, 1, JSON_MAX, "json" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_id[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_id_json[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ F_JSON, FK_STR, 1, JSON_MAX, "json" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_job_start[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ F_KIND, FK_STR, 1, 64, "kind" },
	{ F_JSON, FK_STR, 0, JSON_MAX, "args" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_job_progress[] = {
	{ F_ID, FK_U64, 1, 0, "id" },
	{ F_PERCENT, FK_U64, 1, 0, "percent" },
	{ F_MESSAGE, FK_STR, 0, 4096, "message" },
	{ 0, 0, 0, 0, NULL }
};

static const struct field_spec f_key[] = {
	{ F_KIND, FK_STR, 1, 512, "key" },
	{ 0, 0, 0, 0, NULL }
};

const struct frame_spec proto_specs[] = {
	{ IMSG_HELLO, "hello", f_hello },
	{ IMSG_RELOAD, "reload", NULL },
	{ IMSG_SHUTDOWN, "shutdown", NULL },
	{ IMSG_DATA_CONN, "data-conn", f_addr },
	{ IMSG_DB_CHANNEL, "db-channel", NULL },
	{ IMSG_DB_CALL, "db-call", f_db_call },
	{ IMSG_DB_REPLY, "db-reply", f_result },
	{ IMSG_DB_STATE, "db-state", f_json },
	{ IMSG_STATUS_REQ, "status-req", f_id },
	{ IMSG_STATUS, "status", f_id_json },
	{ IMSG_JOB_START, "job-start", f_job_start },
	{ IMSG_JOB_PROGRESS, "job-progress", f_job_progress },
	{ IMSG_JOB_DONE, "job-done", f_result },
	{ IMSG_TLS_RELOAD, "tls-reload", NULL },
	{ IMSG_SHARD_EVENT, "shard-event", f_json },
	{ IMSG_DISK_CLAIM, "disk-claim", f_key },
	{ IMSG_DISK_GRANTED, "disk-granted", f_key },
	{ IMSG_DISK_RELEASE, "disk-release", f_key },
	{ IMSG_DISK_RELEASED, "disk-released", f_key },
	{ 0, NULL, NULL }
};
