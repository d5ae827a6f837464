#include "dataproto.h"

static const struct field_spec f_hello[] = {
	{ D_DISK, FK_STR, 1, 128, "disk" },
	{ D_RESUME, FK_U64, 0, 0, "resume" },
	{ D_VERSION, FK_STR, 0, 64, "version" },
	{ D_ROLE, FK_STR, 0, 16, "role" },
	{ D_SIZE, FK_U64, 0, 0, "size" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_hello_ok[] = {
	{ D_SEQ, FK_U64, 1, 0, "seq" },
	{ D_SHARD, FK_U64, 0, 0, "shard" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_data[] = {
	{ D_SEQ, FK_U64, 1, 0, "seq" },
	{ D_OFFSET, FK_U64, 1, 0, "offset" },
	{ D_BYTES, FK_BYTES, 0, DATA_MAXFRAME - 64, "bytes" },
	{ D_ZERO, FK_U64, 0, 0, "zero" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_sealed[] = {
	{ D_SEQ, FK_U64, 1, 0, "seq" },
	{ D_BYTES, FK_BYTES, 1, DATA_MAXFRAME - 64, "bytes" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_bookmark[] = {
	{ D_SEQ, FK_U64, 1, 0, "seq" },
	{ D_POINT, FK_U64, 1, 0, "point" },
	{ D_KIND, FK_STR, 1, 32, "kind" },
	{ D_TIME, FK_U64, 1, 0, "time" },
	{ D_CONSISTENT, FK_U64, 0, 0, "consistent" },
	{ D_PROVIDER, FK_STR, 0, 32, "provider" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_seq[] = {
	{ D_SEQ, FK_U64, 1, 0, "seq" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_flow[] = {
	{ D_WINDOW, FK_U64, 1, 0, "window" },
	{ 0, 0, 0, 0, NULL }
};
static const struct field_spec f_error[] = {
	{ D_MESSAGE, FK_STR, 1, 4096, "message" },
	{ D_RESYNC, FK_U64, 0, 0, "resync" },
	{ 0, 0, 0, 0, NULL }
};

const struct frame_spec data_specs[] = {
	{ DT_HELLO, "hello", f_hello },
	{ DT_HELLO_OK, "hello-ok", f_hello_ok },
	{ DT_DATA, "data", f_data },
	{ DT_BOOKMARK, "bookmark", f_bookmark },
	{ DT_ACK, "ack", f_seq },
	{ DT_FLOW, "flow", f_flow },
	{ DT_ERROR, "error", f_error },
	{ DT_SEALED, "sealed", f_sealed },
	{ 0, NULL, NULL }
};
