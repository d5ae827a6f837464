/* libFuzzer: frame_decode + frame_check + accessors on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "dataproto.h"
#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct frame_spec	*spec;
	struct frame		 f;
	char			*cause = NULL, *s;
	const uint8_t		*b;
	size_t			 off = 0, len;
	ssize_t			 n;

	while (off < size) {
		n = frame_decode(data + off, size - off, 1 << 20, &f, &cause);
		if (n <= 0)
			break;
		off += (size_t)n;
		if ((spec = frame_spec_find(data_specs, f.type)) == NULL)
			continue;
		if (frame_check(&f, spec, &cause) == -1)
			continue;
		(void)frame_u64(&f, D_SEQ, 0);
		s = frame_str(&f, D_DISK);
		free(s);
		b = frame_bytes(&f, D_BYTES, &len);
		if (b != NULL && len > 0 && b[len - 1] == 0xff)
			(void)b[0];
	}
	free(cause);
	return 0;
}
