/* libFuzzer: the havend.conf parser and its cross-key checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct haven_conf	 hc;
	struct conf_errors	 errs = { NULL, 0 };
	char			*text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	memset(&hc, 0, sizeof(hc));
	conf_parse(haven_conf_keys, &hc, text, "fuzz", &errs);
	conf_free(haven_conf_keys, &hc);
	conf_errors_free(&errs);
	free(text);
	return 0;
}
