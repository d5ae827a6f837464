/*
 * Frames: the one binary envelope for messages between havend's
 * processes and for the replication data channel.  Format in
 * docs/frames.md.  Header (16 bytes, big-endian):
 *
 *	u16 magic "HV"  u8 version  u8 flags  u16 type  u16 reserved
 *	u32 payload length  u32 checksum (XXH32 of header[0..12) + payload)
 *
 * The payload is a sequence of typed fields: u16 tag, u8 kind, u8 zero,
 * u32 length, value.  Each message type has a spec listing its fields;
 * frame_check() validates a received frame against it before anyone
 * reads a field.
 */
#ifndef HAVEN_FRAME_H
#define HAVEN_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define FRAME_MAGIC	0x4856
#define FRAME_VERSION	1
#define FRAME_HDR_LEN	16
#define FIELD_HDR_LEN	8

enum field_kind { FK_U64 = 1, FK_STR = 2, FK_BYTES = 3 };

struct field_spec {
	uint16_t	 tag;
	uint8_t		 kind;
	uint8_t		 required;
	uint32_t	 maxlen;	/* STR/BYTES; 0 means no limit */
	const char	*name;
};

struct frame_spec {
	uint16_t			 type;
	const char			*name;
	const struct field_spec		*fields;	/* ends with tag 0 */
};

struct frame {
	uint16_t	 type;
	uint8_t		 version;
	uint8_t		 flags;
	const uint8_t	*payload;	/* points into the caller's buffer */
	uint32_t	 len;
};

/* Building: begin, put fields, end (fills length and checksum). */
void	frame_begin(struct fbuf *, uint16_t type);
void	frame_put_u64(struct fbuf *, uint16_t tag, uint64_t);
void	frame_put_str(struct fbuf *, uint16_t tag, const char *);
void	frame_put_bytes(struct fbuf *, uint16_t tag, const void *, size_t);
void	frame_end(struct fbuf *);
/* Set the header flags of an encoded frame and re-seal its checksum. */
void	frame_set_flags(uint8_t *frame, size_t len, uint8_t flags);

/*
 * Decoding: returns the whole frame's size (> 0) when buf holds a
 * complete valid frame, 0 when more bytes are needed, -1 with a reason
 * for a bad magic, unsupported version, a payload over maxlen or a
 * checksum mismatch.
 */
ssize_t	frame_decode(const void *buf, size_t avail, size_t maxlen,
	    struct frame *, char **cause);

/* The spec for f's type from a table ending with type 0, or NULL. */
const struct frame_spec *frame_spec_find(const struct frame_spec *,
	    uint16_t type);
/* Fields well-formed, known kinds and sizes, required ones present. */
int	frame_check(const struct frame *, const struct frame_spec *,
	    char **cause);

/* Accessors: the first field with tag; call after frame_check(). */
int	 frame_has(const struct frame *, uint16_t tag);
uint64_t frame_u64(const struct frame *, uint16_t tag, uint64_t def);
/* malloc'd copy, NUL-terminated, or NULL if absent. */
char	*frame_str(const struct frame *, uint16_t tag);
/* Pointer into the payload, or NULL if absent. */
const uint8_t *frame_bytes(const struct frame *, uint16_t tag, size_t *len);

#endif
