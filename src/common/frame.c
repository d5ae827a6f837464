#include <string.h>

#define XXH_STATIC_LINKING_ONLY	/* XXH32_state_t on the stack */
#include <xxhash.h>

#include "endian_be.h"
#include "frame.h"





static uint32_t
frame_sum(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	XXH32_state_t	st;

	XXH32_reset(&st, 0);
	XXH32_update(&st, hdr, 12);
	XXH32_update(&st, payload, len);
	return XXH32_digest(&st);
}

void
frame_begin(struct fbuf *b, uint16_t type)
{
	uint8_t	hdr[FRAME_HDR_LEN];

	memset(hdr, 0, sizeof(hdr));
	put16(hdr, FRAME_MAGIC);
	hdr[2] = FRAME_VERSION;
	put16(hdr + 4, type);
	fbuf_reset(b);
	fbuf_add(b, hdr, sizeof(hdr));
}

static void
frame_put(struct fbuf *b, uint16_t tag, uint8_t kind, const void *v,
    size_t len)
{
	uint8_t	fh[FIELD_HDR_LEN];

	put16(fh, tag);
	fh[2] = kind;
	fh[3] = 0;
	put32(fh + 4, (uint32_t)len);
	fbuf_add(b, fh, sizeof(fh));
	fbuf_add(b, v, len);
}

void
frame_put_u64(struct fbuf *b, uint16_t tag, uint64_t v)
{
	uint8_t	p[8];

	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
	frame_put(b, tag, FK_U64, p, 8);
}

void
frame_put_str(struct fbuf *b, uint16_t tag, const char *s)
{
	frame_put(b, tag, FK_STR, s, strlen(s));
}

void
frame_put_bytes(struct fbuf *b, uint16_t tag, const void *p, size_t len)
{
	frame_put(b, tag, FK_BYTES, p, len);
}

void
frame_end(struct fbuf *b)
{
	size_t	len = b->len - FRAME_HDR_LEN;

	put32(b->data + 8, (uint32_t)len);
	put32(b->data + 12, frame_sum(b->data, b->data + FRAME_HDR_LEN, len));
}

void
frame_set_flags(uint8_t *p, size_t len, uint8_t flags)
{
	p[3] = flags;
	put32(p + 12, frame_sum(p, p + FRAME_HDR_LEN, len - FRAME_HDR_LEN));
}

ssize_t
frame_decode(const void *buf, size_t avail, size_t maxlen, struct frame *f,
    char **cause)
{
	const uint8_t	*p = buf;
	uint32_t	 len, sum;

	if (avail < 2)
		return 0;
	if (get16(p) != FRAME_MAGIC) {
		set_cause(cause, "not a Haven frame (bad magic 0x%04x)",
		    get16(p));
		return -1;
	}
	if (avail < 3)
		return 0;
	if (p[2] != FRAME_VERSION) {
		set_cause(cause, "frame version %u is not supported (this "
		    "build speaks version %u): upgrade the older side", p[2],
		    FRAME_VERSION);
		return -1;
	}
	if (avail < FRAME_HDR_LEN)
		return 0;
	len = get32(p + 8);
	if (len > maxlen) {
		set_cause(cause, "frame of %u bytes exceeds the limit of %zu",
		    len, maxlen);
		return -1;
	}
	if (avail < FRAME_HDR_LEN + (size_t)len)
		return 0;
	sum = frame_sum(p, p + FRAME_HDR_LEN, len);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* Let the fuzzer past the checksum into the field parser. */
	sum = get32(p + 12);
#endif
	if (sum != get32(p + 12)) {
		set_cause(cause, "frame checksum mismatch (type %u, %u bytes):"
		    " corrupt or torn data", get16(p + 4), len);
		return -1;
	}
	f->type = get16(p + 4);
	f->version = p[2];
	f->flags = p[3];
	f->payload = p + FRAME_HDR_LEN;
	f->len = len;
	return (ssize_t)(FRAME_HDR_LEN + len);
}

const struct frame_spec *
frame_spec_find(const struct frame_spec *tab, uint16_t type)
{
	for (; tab->type != 0; tab++)
		if (tab->type == type)
			return tab;
	return NULL;
}

/* Walk fields; returns the field header offset of tag, or -1. */
static const uint8_t *
frame_find(const struct frame *f, uint16_t tag, uint8_t *kind, uint32_t *len)
{
	uint32_t	off = 0, flen;

	while (off + FIELD_HDR_LEN <= f->len) {
		flen = get32(f->payload + off + 4);
		if (flen > f->len - off - FIELD_HDR_LEN)
			return NULL;
		if (get16(f->payload + off) == tag) {
			*kind = f->payload[off + 2];
			*len = flen;
			return f->payload + off + FIELD_HDR_LEN;
		}
		off += FIELD_HDR_LEN + flen;
	}
	return NULL;
}

int
frame_check(const struct frame *f, const struct frame_spec *spec, char **cause)
{
	const struct field_spec	*fs;
	uint32_t		 off = 0, flen;
	uint16_t		 tag;
	uint8_t			 kind;

	while (off < f->len) {
		if (f->len - off < FIELD_HDR_LEN) {
			set_cause(cause, "%s: truncated field header",
			    spec->name);
			return -1;
		}
		tag = get16(f->payload + off);
		kind = f->payload[off + 2];
		flen = get32(f->payload + off + 4);
		if (flen > f->len - off - FIELD_HDR_LEN) {
			set_cause(cause, "%s: field %u claims %u bytes past the "
			    "end of the frame", spec->name, tag, flen);
			return -1;
		}
		for (fs = spec->fields; fs != NULL && fs->tag != 0; fs++)
			if (fs->tag == tag)
				break;
		/* Unknown tags are skipped: newer peers may add fields. */
		if (fs != NULL && fs->tag != 0) {
			if (kind != fs->kind) {
				set_cause(cause, "%s: field %s has kind %u, "
				    "expected %u", spec->name, fs->name, kind,
				    fs->kind);
				return -1;
			}
			if (kind == FK_U64 && flen != 8) {
				set_cause(cause, "%s: field %s is %u bytes, "
				    "expected 8", spec->name, fs->name, flen);
				return -1;
			}
			if (fs->maxlen != 0 && flen > fs->maxlen) {
				set_cause(cause, "%s: field %s is %u bytes, "
				    "over its limit of %u", spec->name,
				    fs->name, flen, fs->maxlen);
				return -1;
			}
			if (kind == FK_STR &&
			    memchr(f->payload + off + FIELD_HDR_LEN, 0, flen)) {
				set_cause(cause, "%s: field %s holds a NUL byte",
				    spec->name, fs->name);
				return -1;
			}
		}
		off += FIELD_HDR_LEN + flen;
	}
	for (fs = spec->fields; fs != NULL && fs->tag != 0; fs++) {
		if (fs->required && !frame_has(f, fs->tag)) {
			set_cause(cause, "%s: required field %s is missing",
			    spec->name, fs->name);
			return -1;
		}
	}
	return 0;
}

int
frame_has(const struct frame *f, uint16_t tag)
{
	uint8_t		kind;
	uint32_t	len;

	return frame_find(f, tag, &kind, &len) != NULL;
}

uint64_t
frame_u64(const struct frame *f, uint16_t tag, uint64_t def)
{
	const uint8_t	*p;
	uint8_t		 kind;
	uint32_t	 len;

	if ((p = frame_find(f, tag, &kind, &len)) == NULL || kind != FK_U64 ||
	    len != 8)
		return def;
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

char *
frame_str(const struct frame *f, uint16_t tag)
{
	const uint8_t	*p;
	uint8_t		 kind;
	uint32_t	 len;

	if ((p = frame_find(f, tag, &kind, &len)) == NULL || kind != FK_STR)
		return NULL;
	return xstrndup((const char *)p, len);
}

const uint8_t *
frame_bytes(const struct frame *f, uint16_t tag, size_t *lenp)
{
	const uint8_t	*p;
	uint8_t		 kind;
	uint32_t	 len;

	if ((p = frame_find(f, tag, &kind, &len)) == NULL ||
	    kind != FK_BYTES)
		return NULL;
	*lenp = len;
	return p;
}
