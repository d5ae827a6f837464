/*
 * libvirt discovery.  Everything about a domain but its state,
 * addresses, disk capacities and storage pools comes from its XML, read
 * with libxml2; the rest are calls whose failure only leaves a fact
 * empty, because a domain on a half-broken host is still worth listing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "log.h"
#include "util.h"
#include "virt.h"

#define LIBOSINFO_NS	"http://libosinfo.org/xmlns/libvirt/domain/1.0"
#define VIRT_URI_HELP	"use qemu:///system, qemu+ssh://user@host/system " \
			"or test:///default"

#define VIRT_KEEPALIVE_S	5
#define VIRT_KEEPALIVE_COUNT	3

/* Drivers discovery knows; libvirt would hand any other to libvirtd. */
static const char *const virt_drivers[] = { "qemu", "test" };

static const struct virt_unit {
	const char		*name;
	unsigned long long	 bytes;
} virt_units[] = {
	{ "b", 1ULL }, { "bytes", 1ULL },
	{ "KB", 1000ULL }, { "k", 1ULL << 10 }, { "KiB", 1ULL << 10 },
	{ "MB", 1000000ULL }, { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
	{ "GB", 1000000000ULL }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
	{ "TB", 1000000000000ULL }, { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
};

static const struct virt_state {
	int		 state;
	const char	*name;		/* hypervisor_state */
	const char	*power;		/* power_state */
} virt_states[] = {
	{ VIR_DOMAIN_NOSTATE,		"nostate",	"unknown" },
	{ VIR_DOMAIN_RUNNING,		"running",	"on" },
	{ VIR_DOMAIN_BLOCKED,		"blocked",	"on" },
	{ VIR_DOMAIN_PAUSED,		"paused",	"suspended" },
	{ VIR_DOMAIN_SHUTDOWN,		"shutdown",	"on" },
	{ VIR_DOMAIN_SHUTOFF,		"shutoff",	"off" },
	{ VIR_DOMAIN_CRASHED,		"crashed",	"off" },
	{ VIR_DOMAIN_PMSUSPENDED,	"pmsuspended",	"suspended" },
};

/* What to tell the operator after libvirt's own message. */
static const struct virt_hint {
	int		 code;
	const char	*hint;
} virt_hints[] = {
	{ VIR_ERR_NO_CONNECT, VIRT_URI_HELP },
	{ VIR_ERR_INVALID_ARG, VIRT_URI_HELP },
	{ VIR_ERR_AUTH_FAILED, "check the account's username, password or "
	    "SSH key" },
	{ VIR_ERR_AUTH_CANCELLED, "check the account's username, password or "
	    "SSH key" },
	{ VIR_ERR_AUTH_UNAVAILABLE, "the account has no credential this "
	    "host accepts" },
	{ VIR_ERR_SYSTEM_ERROR, "is libvirtd (or virtqemud) running there, "
	    "and reachable from this appliance?" },
	{ VIR_ERR_RPC, "is libvirtd (or virtqemud) running there, and "
	    "reachable from this appliance?" },
	{ VIR_ERR_NO_SUPPORT, "this hypervisor driver cannot list domains" },
};

static void
virt_silent(void *arg, virErrorPtr e)
{
	(void)arg;
	(void)e;	/* errors are read with virGetLastError() */
}

static void
virt_global_init(void)
{
	static int	done;

	if (done)
		return;
	if (virInitialize() < 0)
		fatalx("virInitialize failed");
	virSetErrorFunc(NULL, virt_silent);
	xmlInitParser();
	done = 1;
}

static void
virt_cause(char **cause, const char *uri, const char *what)
{
	virErrorPtr	 e = virGetLastError();
	const char	*msg = e != NULL && e->message != NULL ? e->message :
			    "unknown error";
	const char	*hint = NULL;
	size_t		 i;

	for (i = 0; e != NULL && i < nitems(virt_hints); i++)
		if (virt_hints[i].code == e->code)
			hint = virt_hints[i].hint;
	if (hint != NULL)
		set_cause(cause, "%s libvirt at %s: %s (%s)", what, uri, msg,
		    hint);
	else
		set_cause(cause, "%s libvirt at %s: %s", what, uri, msg);
	virResetLastError();
}

static int
virt_auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *arg)
{
	const struct virt_opts	*o = arg;
	const char		*v;
	unsigned int		 i;

	for (i = 0; i < ncred; i++) {
		switch (cred[i].type) {
		case VIR_CRED_AUTHNAME:
		case VIR_CRED_USERNAME:
			v = o->username;
			break;
		case VIR_CRED_PASSPHRASE:
		case VIR_CRED_NOECHOPROMPT:
			v = o->password;
			break;
		default:
			v = NULL;
			break;
		}
		if (v == NULL)
			return -1;	/* libvirt says which is missing */
		cred[i].result = xstrdup(v);
		cred[i].resultlen = (unsigned int)strlen(v);
	}
	return 0;
}

static int
virt_check_uri(const char *uri, char **cause)
{
	const char	*end = strstr(uri, "://");
	size_t		 len, i;

	if (end == NULL) {
		set_cause(cause, "'%s' is not a libvirt URI (" VIRT_URI_HELP
		    ")", uri);
		return -1;
	}
	len = strcspn(uri, "+:");
	for (i = 0; i < nitems(virt_drivers); i++)
		if (strlen(virt_drivers[i]) == len &&
		    strncmp(virt_drivers[i], uri, len) == 0)
			return 0;
	set_cause(cause, "libvirt URI %s: the driver '%.*s' is not one "
	    "discovery supports (" VIRT_URI_HELP ")", uri, (int)len, uri);
	return -1;
}

static virConnectPtr
virt_open(const struct virt_opts *o, char **cause)
{
	int		credtype[] = { VIR_CRED_AUTHNAME, VIR_CRED_USERNAME,
			    VIR_CRED_PASSPHRASE, VIR_CRED_NOECHOPROMPT };
	virConnectAuth	auth = { credtype, nitems(credtype), virt_auth_cb,
			    (void *)(uintptr_t)o };
	virConnectPtr	conn;

	virt_global_init();
	if (o->uri == NULL || o->uri[0] == '\0') {
		/* libvirt would guess one; an operator should say it. */
		set_cause(cause, "no libvirt URI given (e.g. qemu:///system or "
		    "qemu+ssh://root@host/system)");
		return NULL;
	}
	if (virt_check_uri(o->uri, cause) == -1)
		return NULL;
	if ((conn = virConnectOpenAuth(o->uri, &auth, 0)) == NULL) {
		virt_cause(cause, o->uri, "cannot connect to");
		return NULL;
	}
	/* A remote host that stops answering fails a call in about 20 s
	 * instead of hanging the job; local drivers have no keepalive. */
	if (virConnectSetKeepAlive(conn, VIRT_KEEPALIVE_S,
	    VIRT_KEEPALIVE_COUNT) < 0)
		virResetLastError();
	return conn;
}

/* XML helpers: libvirt's domain XML has no namespace. */

static xmlNodePtr
virt_child(xmlNodePtr n, const char *name)
{
	for (n = n != NULL ? n->children : NULL; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns == NULL &&
		    strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

static xmlNodePtr
virt_next(xmlNodePtr n, const char *name)
{
	for (n = n->next; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE && n->ns == NULL &&
		    strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

/* Attribute or text as JSON (null when absent). */
static json_t *
virt_jattr(xmlNodePtr n, const char *attr)
{
	xmlChar	*v;
	json_t	*j;

	if (n == NULL)
		return json_null();
	v = attr != NULL ? xmlGetNoNsProp(n, (const xmlChar *)attr) :
	    xmlNodeGetContent(n);
	if (v == NULL)
		return json_null();
	j = json_string((const char *)v);
	xmlFree(v);
	return j != NULL ? j : json_null();
}

static int
virt_attr_ll(xmlNodePtr n, const char *attr, long long *out)
{
	xmlChar	*v;
	char	*end;
	int	 ret = -1;

	if (n == NULL)
		return -1;
	v = attr != NULL ? xmlGetNoNsProp(n, (const xmlChar *)attr) :
	    xmlNodeGetContent(n);
	if (v != NULL && v[0] != '\0') {
		*out = strtoll((const char *)v, &end, 10);
		ret = *end == '\0' ? 0 : -1;
	}
	xmlFree(v);
	return ret;
}

static json_t *
virt_jint(xmlNodePtr n, const char *attr)
{
	long long	v;

	return virt_attr_ll(n, attr, &v) == 0 ? json_integer(v) : json_null();
}

/* <memory unit='KiB'>1048576</memory> in MiB, or null. */
static json_t *
virt_memory_mb(xmlNodePtr n)
{
	unsigned long long	 mult = 1024;
	long long		 v;
	xmlChar			*unit;
	size_t			 i;

	if (virt_attr_ll(n, NULL, &v) == -1 || v < 0)
		return json_null();
	if ((unit = xmlGetNoNsProp(n, (const xmlChar *)"unit")) != NULL) {
		for (i = 0; i < nitems(virt_units); i++)
			if (strcmp(virt_units[i].name, (const char *)unit) == 0)
				mult = virt_units[i].bytes;
		xmlFree(unit);
	}
	return json_integer((json_int_t)((unsigned long long)v * mult /
	    (1ULL << 20)));
}

/* The disk's source as one string: a path, a device, pool/volume, or
 * protocol://host/name. */
static json_t *
virt_source(xmlNodePtr src, json_t **pool)
{
	static const char *const attrs[] = { "file", "dev", "dir" };
	xmlChar		*v, *p, *h;
	xmlNodePtr	 host;
	json_t		*j = NULL;
	size_t		 i;

	*pool = NULL;
	if (src == NULL)
		return json_null();
	for (i = 0; i < nitems(attrs) && j == NULL; i++)
		if ((v = xmlGetNoNsProp(src, (const xmlChar *)attrs[i])) !=
		    NULL) {
			j = json_string((const char *)v);
			xmlFree(v);
		}
	if (j != NULL)
		return j;
	if ((p = xmlGetNoNsProp(src, (const xmlChar *)"pool")) != NULL) {
		v = xmlGetNoNsProp(src, (const xmlChar *)"volume");
		*pool = json_string((const char *)p);
		j = json_sprintf("%s/%s", p, v != NULL ? (char *)v : "");
		xmlFree(p);
		xmlFree(v);
		return j != NULL ? j : json_null();
	}
	if ((v = xmlGetNoNsProp(src, (const xmlChar *)"name")) != NULL) {
		p = xmlGetNoNsProp(src, (const xmlChar *)"protocol");
		host = virt_child(src, "host");
		h = host != NULL ? xmlGetNoNsProp(host,
		    (const xmlChar *)"name") : NULL;
		j = json_sprintf("%s://%s/%s", p != NULL ? (char *)p : "",
		    h != NULL ? (char *)h : "", v);
		xmlFree(v);
		xmlFree(p);
		xmlFree(h);
	}
	return j != NULL ? j : json_null();
}

static void
virt_disk(json_t *disks, xmlNodePtr d)
{
	json_t		*j, *pool, *fmt;
	xmlNodePtr	 target = virt_child(d, "target");
	xmlNodePtr	 addr = virt_child(d, "address");
	xmlChar		*dev;
	const char	*mode = "persistent";
	int		 drive = 0;

	dev = xmlGetNoNsProp(d, (const xmlChar *)"device");
	if (dev != NULL && strcmp((const char *)dev, "disk") != 0 &&
	    strcmp((const char *)dev, "lun") != 0) {
		xmlFree(dev);		/* cdrom, floppy: nothing to protect */
		return;
	}
	xmlFree(dev);
	j = json_object();
	json_object_set_new(j, "label", virt_jattr(target, "dev"));
	json_object_set_new(j, "capacity", json_null());
	json_object_set_new(j, "file", virt_source(virt_child(d, "source"),
	    &pool));
	json_object_set_new(j, "datastore", pool != NULL ? pool :
	    json_null());
	json_object_set_new(j, "controller", virt_jattr(target, "bus"));
	if (addr != NULL) {
		dev = xmlGetNoNsProp(addr, (const xmlChar *)"type");
		drive = dev != NULL && strcmp((const char *)dev, "drive") == 0;
		xmlFree(dev);
	}
	json_object_set_new(j, "bus", drive ? virt_jint(addr, "controller") :
	    json_null());
	json_object_set_new(j, "unit", drive ? virt_jint(addr, "unit") :
	    json_null());
	json_object_set_new(j, "backing", virt_jattr(d, "type"));
	fmt = virt_jattr(virt_child(d, "driver"), "type");
	json_object_set_new(j, "thin", json_is_string(fmt) &&
	    strcmp(json_string_value(fmt), "qcow2") == 0 ? json_true() :
	    json_null());
	json_object_set_new(j, "format", fmt);
	if (virt_child(d, "readonly") != NULL)
		mode = "readonly";
	else if (virt_child(d, "shareable") != NULL)
		mode = "shareable";
	else if (virt_child(d, "transient") != NULL)
		mode = "transient";
	json_object_set_new(j, "mode", json_string(mode));
	json_object_set_new(j, "device", virt_jattr(d, "device"));
	json_array_append_new(disks, j);
}

static void
virt_nic(json_t *nics, xmlNodePtr n, size_t idx)
{
	static const char *const srcs[] = { "network", "bridge", "dev" };
	json_t		*j = json_object(), *v;
	xmlNodePtr	 src = virt_child(n, "source"), link;
	xmlChar		*s;
	size_t		 i;

	v = virt_jattr(virt_child(n, "target"), "dev");
	if (json_is_null(v))
		v = json_sprintf("net%zu", idx);
	json_object_set_new(j, "label", v);
	v = virt_jattr(virt_child(n, "model"), "type");
	json_object_set_new(j, "type", json_is_null(v) ? virt_jattr(n,
	    "type") : v);
	json_object_set_new(j, "mac", virt_jattr(virt_child(n, "mac"),
	    "address"));
	v = json_null();
	for (i = 0; i < nitems(srcs) && json_is_null(v); i++)
		v = virt_jattr(src, srcs[i]);
	json_object_set_new(j, "network", v);
	link = virt_child(n, "link");
	s = link != NULL ? xmlGetNoNsProp(link, (const xmlChar *)"state") :
	    NULL;
	json_object_set_new(j, "connected", json_boolean(s == NULL ||
	    strcmp((const char *)s, "down") != 0));
	xmlFree(s);
	json_object_set_new(j, "addresses", json_array());
	json_array_append_new(nics, j);
}

/* SMBIOS UUID when sysinfo overrides it, else the domain's. */
static json_t *
virt_bios_uuid(xmlNodePtr dom)
{
	xmlNodePtr	 si = virt_child(dom, "sysinfo"), sys, e;
	xmlChar		*name;
	json_t		*j = NULL;

	sys = virt_child(si, "system");
	for (e = virt_child(sys, "entry"); e != NULL && j == NULL;
	    e = virt_next(e, "entry")) {
		name = xmlGetNoNsProp(e, (const xmlChar *)"name");
		if (name != NULL && strcmp((const char *)name, "uuid") == 0)
			j = virt_jattr(e, NULL);
		xmlFree(name);
	}
	return j != NULL ? j : virt_jattr(virt_child(dom, "uuid"), NULL);
}

/* <libosinfo:os id="http://debian.org/debian/12"/> as virt-install
 * writes it. */
static json_t *
virt_osinfo(xmlNodePtr dom)
{
	xmlNodePtr	n, m;

	m = virt_child(dom, "metadata");
	for (n = m != NULL ? m->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || n->ns == NULL ||
		    strcmp((const char *)n->ns->href, LIBOSINFO_NS) != 0)
			continue;
		for (m = n->children; m != NULL; m = m->next)
			if (m->type == XML_ELEMENT_NODE && m->ns != NULL &&
			    strcmp((const char *)m->name, "os") == 0)
				return virt_jattr(m, "id");
	}
	return json_null();
}

json_t *
virt_parse_domain(const char *xml, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 dom, devs, n, vcpu;
	json_t		*j, *disks, *nics;
	long long	 v;
	size_t		 idx = 0;

	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || (dom = xmlDocGetRootElement(doc)) == NULL ||
	    strcmp((const char *)dom->name, "domain") != 0) {
		set_cause(cause, "not a libvirt domain XML");
		xmlFreeDoc(doc);
		return NULL;
	}
	j = json_object();
	json_object_set_new(j, "id", virt_jattr(virt_child(dom, "uuid"),
	    NULL));
	json_object_set_new(j, "name", virt_jattr(virt_child(dom, "name"),
	    NULL));
	json_object_set_new(j, "instance_uuid", virt_jattr(virt_child(dom,
	    "uuid"), NULL));
	json_object_set_new(j, "bios_uuid", virt_bios_uuid(dom));
	json_object_set_new(j, "power_state", json_null());
	json_object_set_new(j, "hypervisor_state", json_null());
	json_object_set_new(j, "guest_id", virt_osinfo(dom));
	json_object_set_new(j, "guest_os", json_incref(json_object_get(j,
	    "guest_id")));
	json_object_set_new(j, "hostname", json_null());
	json_object_set_new(j, "template", json_false());
	json_object_set_new(j, "addresses", json_array());
	vcpu = virt_child(dom, "vcpu");
	if (virt_attr_ll(vcpu, "current", &v) == 0 ||
	    virt_attr_ll(vcpu, NULL, &v) == 0)
		json_object_set_new(j, "cpus", json_integer(v));
	else
		json_object_set_new(j, "cpus", json_null());
	n = virt_child(dom, "currentMemory");
	json_object_set_new(j, "memory_mb", virt_memory_mb(n != NULL ? n :
	    virt_child(dom, "memory")));
	disks = json_array();
	nics = json_array();
	devs = virt_child(dom, "devices");
	for (n = virt_child(devs, "disk"); n != NULL; n = virt_next(n, "disk"))
		virt_disk(disks, n);
	for (n = virt_child(devs, "interface"); n != NULL;
	    n = virt_next(n, "interface"))
		virt_nic(nics, n, idx++);
	json_object_set_new(j, "disks", disks);
	json_object_set_new(j, "nics", nics);
	json_object_set_new(j, "host", json_null());
	json_object_set_new(j, "datastore", json_null());
	json_object_set_new(j, "datastores", json_array());
	json_object_set_new(j, "folder", json_null());
	xmlFreeDoc(doc);
	return j;
}

static void
virt_add_unique(json_t *a, json_t *v)
{
	json_t	*x;
	size_t	 i;

	if (!json_is_string(v))
		return;
	json_array_foreach(a, i, x)
		if (json_equal(x, v))
			return;
	json_array_append(a, v);
}

/* Addresses by DHCP lease, then by ARP; neither may be available. */
static void
virt_addresses(virDomainPtr dom, json_t *vm)
{
	static const unsigned int sources[] = {
		VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
		VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
	};
	virDomainInterfacePtr	*ifs = NULL;
	json_t			*nic, *ip, *mac;
	size_t			 s, k;
	int			 n, i;
	unsigned int		 a;

	for (s = 0; s < nitems(sources); s++) {
		n = virDomainInterfaceAddresses(dom, &ifs, sources[s], 0);
		if (n > 0)
			break;
		if (n == 0)
			free(ifs);
		ifs = NULL;
		virResetLastError();
	}
	if (ifs == NULL)
		return;
	for (i = 0; i < n; i++) {
		json_array_foreach(json_object_get(vm, "nics"), k, nic) {
			mac = json_object_get(nic, "mac");
			if (ifs[i]->hwaddr == NULL || !json_is_string(mac) ||
			    strcasecmp(json_string_value(mac),
			    ifs[i]->hwaddr) != 0)
				continue;
			for (a = 0; a < ifs[i]->naddrs; a++) {
				ip = json_string(ifs[i]->addrs[a].addr);
				virt_add_unique(json_object_get(nic,
				    "addresses"), ip);
				json_decref(ip);
			}
		}
		for (a = 0; a < ifs[i]->naddrs; a++) {
			ip = json_string(ifs[i]->addrs[a].addr);
			virt_add_unique(json_object_get(vm, "addresses"), ip);
			json_decref(ip);
		}
		virDomainInterfaceFree(ifs[i]);
	}
	free(ifs);
}

/* Capacity and storage pool of each disk; failures leave them null. */
static void
virt_disk_facts(virConnectPtr conn, virDomainPtr dom, json_t *vm,
    int active)
{
	virDomainBlockInfo	 info;
	virStorageVolPtr	 vol;
	virStoragePoolPtr	 pool;
	json_t			*d, *label, *file;
	size_t			 i;

	json_array_foreach(json_object_get(vm, "disks"), i, d) {
		label = json_object_get(d, "label");
		/* Of a shut-off domain libvirt would open network storage
		 * itself (Ceph, Gluster), which can take long. */
		if (!active && json_is_string(json_object_get(d, "backing")) &&
		    strcmp(json_string_value(json_object_get(d, "backing")),
		    "network") == 0)
			label = NULL;
		if (json_is_string(label) && virDomainGetBlockInfo(dom,
		    json_string_value(label), &info, 0) == 0)
			json_object_set_new(d, "capacity",
			    json_integer((json_int_t)info.capacity));
		file = json_object_get(d, "file");
		if (json_is_null(json_object_get(d, "datastore")) &&
		    json_is_string(file) && (vol = virStorageVolLookupByPath(
		    conn, json_string_value(file))) != NULL) {
			if ((pool = virStoragePoolLookupByVolume(vol)) != NULL) {
				json_object_set_new(d, "datastore", json_string(
				    virStoragePoolGetName(pool)));
				virStoragePoolFree(pool);
			}
			virStorageVolFree(vol);
		}
		virResetLastError();
		virt_add_unique(json_object_get(vm, "datastores"),
		    json_object_get(d, "datastore"));
	}
	json_object_set(vm, "datastore", json_array_size(json_object_get(vm,
	    "datastores")) > 0 ? json_array_get(json_object_get(vm,
	    "datastores"), 0) : json_null());
}

static json_t *
virt_domain(virConnectPtr conn, virDomainPtr dom, const char *host,
    char **cause)
{
	json_t		*vm;
	char		*xml;
	int		 state = VIR_DOMAIN_NOSTATE, reason, active;
	size_t		 i;

	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
		set_cause(cause, "cannot read the XML of domain %s: %s",
		    virDomainGetName(dom), virGetLastErrorMessage());
		return NULL;
	}
	vm = virt_parse_domain(xml, cause);
	free(xml);
	if (vm == NULL)
		return NULL;
	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		virResetLastError();
	for (i = 0; i < nitems(virt_states); i++)
		if (virt_states[i].state == state)
			break;
	json_object_set_new(vm, "power_state", json_string(i <
	    nitems(virt_states) ? virt_states[i].power : "unknown"));
	json_object_set_new(vm, "hypervisor_state", json_string(i <
	    nitems(virt_states) ? virt_states[i].name : "unknown"));
	if (host != NULL)
		json_object_set_new(vm, "host", json_string(host));
	active = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ||
	    state == VIR_DOMAIN_PAUSED;
	virt_disk_facts(conn, dom, vm, active);
	if (active)
		virt_addresses(dom, vm);
	return vm;
}

static int
virt_cmp_dom(const void *a, const void *b)
{
	const char	*x = virDomainGetName(*(virDomainPtr const *)a);
	const char	*y = virDomainGetName(*(virDomainPtr const *)b);

	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

static json_t *
virt_about(virConnectPtr conn, const char *host)
{
	json_t		*j = json_object();
	unsigned long	 v;
	const char	*type;

	type = virConnectGetType(conn);
	json_object_set_new(j, "type", type != NULL ? json_string(type) :
	    json_null());
	if (virConnectGetVersion(conn, &v) == 0)
		json_object_set_new(j, "version", json_sprintf("%lu.%lu.%lu",
		    v / 1000000, v / 1000 % 1000, v % 1000));
	else
		json_object_set_new(j, "version", json_null());
	if (virConnectGetLibVersion(conn, &v) == 0)
		json_object_set_new(j, "libvirt_version", json_sprintf(
		    "%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000));
	else
		json_object_set_new(j, "libvirt_version", json_null());
	json_object_set_new(j, "hostname", host != NULL ? json_string(host) :
	    json_null());
	virResetLastError();
	return j;
}

int
virt_discover(const struct virt_opts *o, json_t **inventory, char **cause)
{
	virConnectPtr	 conn;
	virDomainPtr	*doms = NULL;
	json_t		*vms, *vm;
	char		*host, *why = NULL;
	int		 n = 0, i, ret = -1;

	*inventory = NULL;
	if ((conn = virt_open(o, cause)) == NULL)
		return -1;
	if ((host = virConnectGetHostname(conn)) == NULL)
		virResetLastError();
	if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
		virt_cause(cause, o->uri, "cannot list the domains of");
		goto out;
	}
	qsort(doms, (size_t)n, sizeof(*doms), virt_cmp_dom);
	vms = json_array();
	for (i = 0; i < n; i++) {
		/* A domain undefined meanwhile is simply not there. */
		if ((vm = virt_domain(conn, doms[i], host, &why)) == NULL) {
			log_debug("virt: %s", why);
			virResetLastError();
			continue;
		}
		json_array_append_new(vms, vm);
	}
	*inventory = json_pack("{s:s, s:o, s:o}", "uri", o->uri,
	    "hypervisor", virt_about(conn, host), "vms", vms);
	if (*inventory == NULL)
		fatalx("json_pack failed");
	ret = 0;
out:
	for (i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	free(host);
	free(why);
	virConnectClose(conn);
	return ret;
}

int
virt_define(const struct virt_opts *o, const char *xml, char **cause)
{
	virConnectPtr	conn;
	virDomainPtr	dom;

	if ((conn = virt_open(o, cause)) == NULL)
		return -1;
	if ((dom = virDomainDefineXML(conn, xml)) == NULL) {
		virt_cause(cause, o->uri, "cannot define a domain on");
		virConnectClose(conn);
		return -1;
	}
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}
