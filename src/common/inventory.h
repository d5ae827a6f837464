/*
 * What haven-agent tells the configuration server about its machine in
 * every heartbeat (docs/api.md "inventory").
 */
#ifndef HAVEN_INVENTORY_H
#define HAVEN_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * {"hostname", "os", "kernel", "agent_version", "addresses": [...],
 *  "disks": [{"name", "size"}]}.  A disk whose size cannot be read is
 * listed with size null and an "error" sentence, so the operator sees it.
 */
json_t	*inventory_gather(const char *const *disks, size_t ndisks);

/* PRETTY_NAME from an os-release file (malloc'd), falling back to NAME
 * VERSION, then "Linux". */
char	*inventory_os(const char *os_release_path);
/* Non-loopback, non-link-local addresses of interfaces that are up;
 * loopback only when there is nothing else. */
json_t	*inventory_addresses(void);
/* Size in bytes of a block device or regular file. */
int	 inventory_disk_size(const char *path, uint64_t *size, char **cause);

#endif
