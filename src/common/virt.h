/*
 * libvirt discovery: the domains of a KVM host (qemu:///system,
 * qemu+ssh://user@host/system, test:///default, ...) with the same facts
 * as vsphere_discover() gives for VMware machines.  Blocking: run it in
 * a job process.
 */
#ifndef HAVEN_VIRT_H
#define HAVEN_VIRT_H

#include <jansson.h>

struct virt_opts {
	const char	*uri;
	/*
	 * Answers for libvirt's credential callback (libssh/libssh2
	 * transports, SASL); NULL: none.  An SSH key goes into the URI
	 * (?keyfile=...), as libvirt expects it.
	 */
	const char	*username;
	const char	*password;
};

/*
 * {"uri", "hypervisor": {"type", "version", "libvirt_version",
 *   "hostname"},
 *  "vms": [{"id" (UUID), "name", "instance_uuid", "bios_uuid",
 *    "power_state" ("on", "off", "suspended"), "hypervisor_state",
 *    "guest_os", "guest_id", "hostname", "template" (false),
 *    "addresses": [...], "cpus", "memory_mb",
 *    "disks": [{"label" (target), "capacity" (bytes), "file",
 *      "datastore" (storage pool), "controller" (bus), "bus", "unit",
 *      "backing" (file, block, network, volume), "thin", "mode",
 *      "format", "device"}],
 *    "nics": [{"label", "type" (model), "mac", "network", "connected",
 *      "addresses": [...]}],
 *    "host", "datastore", "datastores": [...], "folder" (null)}, ...]}
 * sorted by name, the keys of vsphere_discover() plus a few.  Addresses
 * come from virDomainInterfaceAddresses (DHCP leases, then ARP) for
 * running domains; where that fails they are just empty.
 */
int	 virt_discover(const struct virt_opts *, json_t **inventory,
	    char **cause);

/*
 * One domain's facts from its XML (exposed for the unit tests);
 * addresses, capacities and pools are left empty.
 */
json_t	*virt_parse_domain(const char *xml, char **cause);

/* Define (persist, not start) a domain from XML: for tests and tools. */
int	 virt_define(const struct virt_opts *, const char *xml,
	    char **cause);

#endif
