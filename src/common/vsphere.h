/*
 * A vSphere Web Services (SOAP) client for discovery: the virtual
 * machines of a vCenter or ESXi host as jansson objects.  It blocks
 * (libcurl), so it runs in job processes, never on an event loop.
 *
 * The server's certificate is not checked against any CA: vCenter and
 * ESXi usually present self-signed ones.  Instead its SHA-256 thumbprint
 * is pinned: vsphere_thumbprint() fetches it for the operator to accept,
 * and every later connection is refused in the TLS handshake, before a
 * credential is sent, unless the certificate has that thumbprint.
 * docs/discovery.md has the SOAP calls and the simulator's quirks.
 */
#ifndef HAVEN_VSPHERE_H
#define HAVEN_VSPHERE_H

#include <stddef.h>

#include <jansson.h>

/* "AA:BB:…", 32 bytes: 95 characters and the NUL. */
#define VSPHERE_THUMBPRINT_LEN	96

struct vsphere_opts {
	const char	*host;		/* name or address */
	int		 port;		/* 0: 443 */
	const char	*username;
	const char	*password;
	const char	*thumbprint;	/* the accepted one; required */
	long		 connect_timeout_s;	/* 0: 10 */
	long		 timeout_s;	/* each SOAP call; 0: 300 */
	int		 page_size;	/* objects per page; 0: 500 */
};

/*
 * The SHA-256 thumbprint of the certificate host:port presents, as
 * "AA:BB:…" (malloc'd), for the operator to accept.  Sends nothing but
 * a TLS handshake.
 */
int	 vsphere_thumbprint(const char *host, int port, long timeout_s,
	    char **thumbprint, char **cause);
/* Same thumbprint, whatever the case and the colons. */
int	 vsphere_thumbprint_equal(const char *, const char *);

/*
 * Log in and out: checks address, thumbprint and credentials.  *about
 * (may be NULL) gets {"name", "version", "build", "api_type",
 * "api_version", "instance_uuid"} of the server.
 */
int	 vsphere_check(const struct vsphere_opts *, json_t **about,
	    char **cause);

/*
 * The whole inventory:
 *   {"address": "host:port", "thumbprint", "about": {...},
 *    "vms": [{"id" (managed object id), "name", "instance_uuid",
 *      "bios_uuid", "power_state" ("on", "off", "suspended"),
 *      "hypervisor_state", "guest_os", "guest_id", "hostname",
 *      "template", "addresses": [...], "cpus", "memory_mb",
 *      "disks": [{"label", "capacity" (bytes), "file", "datastore",
 *        "controller", "bus", "unit", "backing", "thin", "mode"}],
 *      "nics": [{"label", "type", "mac", "network", "connected",
 *        "addresses": [...]}],
 *      "host", "datastore", "datastores": [...], "folder"}, ...]}
 * sorted by name.  Facts the server does not report are null.
 * Returns -1 with a cause that names the server and the fix.
 */
int	 vsphere_discover(const struct vsphere_opts *, json_t **inventory,
	    char **cause);

/*
 * Parsing, exposed for the unit tests.
 *
 * vsphere_parse_fault: 1 and the fault's type ("InvalidLogin") and
 * message (both malloc'd) if xml is a SOAP fault, 0 if it is another
 * SOAP answer, -1 if it is not SOAP at all.
 */
int	 vsphere_parse_fault(const char *xml, size_t len, char **type,
	    char **message);
/*
 * One RetrievePropertiesEx or ContinueRetrievePropertiesEx answer:
 * appends each VirtualMachine to vms (an array; references to hosts,
 * datastores, folders and networks still unresolved) and puts every
 * other object into entities ({"id": {"type", "name", "parent"}}).
 * *token: the next page's token (malloc'd), or NULL on the last page.
 */
int	 vsphere_parse_result(const char *xml, size_t len, json_t *vms,
	    json_t *entities, char **token, char **cause);
/* Replace the references in vms by the names in entities. */
void	 vsphere_resolve(json_t *vms, json_t *entities);

#endif
