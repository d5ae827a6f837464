#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "repldir.h"
#include "util.h"

char *
repl_dir_of(const char *base, const char *disk_id)
{
	size_t	 n = strlen(disk_id);
	char	*hex = xmalloc(2 * n + 1), *out;

	/* Hex keeps any disk name (slashes, dots) a single safe name. */
	hex_encode(disk_id, n, hex);
	out = xasprintf("%s/%s", base, hex);
	free(hex);
	return out;
}

char *
repl_disk_dir(const char *base, const char *machine_id, const char *disk)
{
	char	*id = xasprintf("%s:%s", machine_id, disk), *out;

	out = repl_dir_of(base, id);
	free(id);
	return out;
}

uint64_t
repl_disk_number(const char *disk_id)
{
	return XXH64(disk_id, strlen(disk_id), 0);
}
