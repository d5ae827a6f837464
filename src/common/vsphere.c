/*
 * vSphere discovery over the Web Services (SOAP) API.  One session:
 * RetrieveServiceContent, Login, two ContainerViews (the virtual
 * machines; the folders, datacenters, hosts, datastores and networks
 * that name what the machines refer to), RetrievePropertiesEx paged by
 * ContinueRetrievePropertiesEx, DestroyView, Logout.
 *
 * Answers are parsed namespace-aware: elements are matched by namespace
 * and local name, xsi:type by the XML Schema instance namespace whatever
 * its prefix (govmomi's simulator writes "XMLSchema-instance:type"), and
 * the type's own prefix ("xsd:string") is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "util.h"
#include "vsphere.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

#define VIM_NS		"urn:vim25"
#define XSI_NS		"http://www.w3.org/2001/XMLSchema-instance"
#define SOAPENV_NS	"http://schemas.xmlsoap.org/soap/envelope/"

#define VS_PORT		443
#define VS_CONNECT_TIMEOUT 10L
#define VS_TIMEOUT	300L
#define VS_PAGE		500
#define VS_MAX_ANSWER	(256 * 1024 * 1024)
#define VS_MAX_DEPTH	64	/* folder nesting followed for "folder" */

static const char vs_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<soapenv:Envelope"
    " xmlns:soapenv=\"" SOAPENV_NS "\""
    " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
    " xmlns:xsi=\"" XSI_NS "\"><soapenv:Body>";
static const char vs_tail[] = "</soapenv:Body></soapenv:Envelope>";

struct vs_pin {
	const char	*want;		/* NULL: only record what is seen */
	char		 seen[VSPHERE_THUMBPRINT_LEN];
	int		 checked;
	int		 mismatch;
};

struct vs_conn {
	const struct vsphere_opts *o;
	CURL			*curl;
	struct curl_slist	*hdrs;
	char			 addr[300];	/* host:port, for messages */
	char			*url;
	char			 errbuf[CURL_ERROR_SIZE];
	struct fbuf		 answer;
	int			 too_big;
	struct vs_pin		 pin;
	long			 timeout;
	/* From the service content. */
	char			*pc;		/* PropertyCollector */
	char			*views;		/* ViewManager */
	char			*sessions;	/* SessionManager */
	char			*root;		/* root Folder */
	json_t			*about;
	int			 logged_in;
};

/* The properties asked for each virtual machine, and where they go. */
enum vs_kind { VK_STR, VK_INT, VK_BOOL, VK_REF, VK_REFS, VK_POWER,
    VK_DEVICES, VK_GUESTNET };
static const struct vs_prop {
	const char	*path;
	enum vs_kind	 kind;
	const char	*key;	/* "_x": only until vsphere_resolve() */
} vs_vm_props[] = {
	{ "name",			VK_STR,		"name" },
	{ "config.instanceUuid",	VK_STR,		"instance_uuid" },
	{ "config.uuid",		VK_STR,		"bios_uuid" },
	{ "config.guestFullName",	VK_STR,		"guest_os" },
	{ "config.guestId",		VK_STR,		"guest_id" },
	{ "config.template",		VK_BOOL,	"template" },
	{ "config.hardware.numCPU",	VK_INT,		"cpus" },
	{ "config.hardware.memoryMB",	VK_INT,		"memory_mb" },
	{ "config.hardware.device",	VK_DEVICES,	NULL },
	{ "config.files.vmPathName",	VK_STR,		"_vmx" },
	{ "runtime.powerState",		VK_POWER,	"power_state" },
	{ "runtime.host",		VK_REF,		"_host" },
	{ "guest.guestFullName",	VK_STR,		"_guest_os" },
	{ "guest.hostName",		VK_STR,		"hostname" },
	{ "guest.ipAddress",		VK_STR,		"_ip" },
	{ "guest.net",			VK_GUESTNET,	NULL },
	{ "datastore",			VK_REFS,	"_datastores" },
	{ "parent",			VK_REF,		"_parent" },
};

/* Keys every VM has, null until reported. */
static const char *const vs_vm_keys[] = {
	"name", "instance_uuid", "bios_uuid", "power_state",
	"hypervisor_state", "guest_os", "guest_id", "hostname", "template",
	"cpus", "memory_mb", "host", "datastore", "folder"
};

/* Keys only vsphere_resolve() reads. */
static const char *const vs_tmp_keys[] = {
	"_vmx", "_host", "_guest_os", "_ip", "_guestnet", "_datastores",
	"_parent"
};

/* Types whose names the machines refer to. */
static const char *const vs_entity_types[] = {
	"Folder", "Datacenter", "HostSystem", "Datastore", "Network"
};

static const struct vs_name {
	const char	*vim;
	const char	*short_name;
} vs_controllers[] = {
	{ "ParaVirtualSCSIController",		"pvscsi" },
	{ "VirtualLsiLogicController",		"lsilogic" },
	{ "VirtualLsiLogicSASController",	"lsilogic-sas" },
	{ "VirtualBusLogicController",		"buslogic" },
	{ "VirtualIDEController",		"ide" },
	{ "VirtualAHCIController",		"sata" },
	{ "VirtualSATAController",		"sata" },
	{ "VirtualNVMEController",		"nvme" },
}, vs_nics[] = {
	{ "VirtualE1000",			"e1000" },
	{ "VirtualE1000e",			"e1000e" },
	{ "VirtualPCNet32",			"pcnet32" },
	{ "VirtualVmxnet",			"vmxnet" },
	{ "VirtualVmxnet2",			"vmxnet2" },
	{ "VirtualVmxnet3",			"vmxnet3" },
	{ "VirtualVmxnet3Vrdma",		"vmxnet3-vrdma" },
	{ "VirtualSriovEthernetCard",		"sriov" },
}, vs_backings[] = {
	{ "VirtualDiskFlatVer2BackingInfo",	"flat" },
	{ "VirtualDiskFlatVer1BackingInfo",	"flat" },
	{ "VirtualDiskRawDiskMappingVer1BackingInfo", "rdm" },
	{ "VirtualDiskSparseVer2BackingInfo",	"sparse" },
	{ "VirtualDiskSeSparseBackingInfo",	"sesparse" },
	{ "VirtualDiskRawDiskVer2BackingInfo",	"raw" },
	{ "VirtualDiskPartitionedRawDiskVer2BackingInfo", "raw" },
	{ "VirtualDiskLocalPMemBackingInfo",	"pmem" },
}, vs_power[] = {
	{ "poweredOn",				"on" },
	{ "poweredOff",				"off" },
	{ "suspended",				"suspended" },
};

/*
 * Faults whose cause can say more than the server's message:
 * "vSphere at ADDR <verb> 'USER': <reason or message> (<fix>)".
 */
static const struct vs_fault {
	const char	*type;
	const char	*verb;
	const char	*reason;	/* NULL: the server's message */
	const char	*fix;
} vs_faults[] = {
	{ "InvalidLogin", "refused the login of",
	    "wrong username or password", "edit the account's credentials" },
	{ "NoPermission", "denied an operation to", NULL,
	    "give the account at least the Read-only role on the whole "
	    "inventory, propagated to children" },
	{ "NotAuthenticated", "ended the session of", NULL,
	    "an administrator may have terminated it; try again" },
	{ "RestrictedVersion", "refuses API access to", NULL,
	    "free ESXi licences do not allow API access" },
};

static const char *
vs_short(const struct vs_name *t, size_t n, const char *vim)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].vim, vim) == 0)
			return t[i].short_name;
	return NULL;
}

/* XML helpers.  Nodes are matched by namespace and local name. */

static int
vs_is(xmlNodePtr n, const char *ns, const char *name)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE ||
	    strcmp((const char *)n->name, name) != 0)
		return 0;
	if (ns == NULL)
		return n->ns == NULL;
	return n->ns != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static xmlNodePtr
vs_child(xmlNodePtr n, const char *ns, const char *name)
{
	for (n = n != NULL ? n->children : NULL; n != NULL; n = n->next)
		if (vs_is(n, ns, name))
			return n;
	return NULL;
}

static xmlNodePtr
vs_next(xmlNodePtr n, const char *ns, const char *name)
{
	for (n = n->next; n != NULL; n = n->next)
		if (vs_is(n, ns, name))
			return n;
	return NULL;
}

/* "backing/fileName": a path of urn:vim25 children. */
static xmlNodePtr
vs_find(xmlNodePtr n, const char *path)
{
	char		 name[64];
	const char	*p;
	size_t		 len;

	while (n != NULL && *path != '\0') {
		p = strchr(path, '/');
		len = p != NULL ? (size_t)(p - path) : strlen(path);
		if (len >= sizeof(name))
			return NULL;
		memcpy(name, path, len);
		name[len] = '\0';
		n = vs_child(n, VIM_NS, name);
		path += len + (p != NULL);
	}
	return n;
}

/* Text of an element into buf (truncated); "" if none. */
static const char *
vs_text(xmlNodePtr n, char *buf, size_t len)
{
	xmlChar	*s;

	buf[0] = '\0';
	if (n == NULL)
		return buf;
	if (n->children == NULL)
		return buf;
	if (n->children->type == XML_TEXT_NODE && n->children->next == NULL)
		strlcat_s(buf, (const char *)n->children->content, len);
	else if ((s = xmlNodeGetContent(n)) != NULL) {
		strlcat_s(buf, (const char *)s, len);
		xmlFree(s);
	}
	return buf;
}

static json_t *
vs_jstr(xmlNodePtr n)
{
	xmlChar	*s;
	json_t	*j;

	if (n == NULL)
		return json_null();
	if (n->children != NULL && n->children->type == XML_TEXT_NODE &&
	    n->children->next == NULL)
		j = json_string((const char *)n->children->content);
	else {
		s = xmlNodeGetContent(n);
		j = json_string(s != NULL ? (const char *)s : "");
		xmlFree(s);
	}
	return j != NULL ? j : json_null();
}

static int
vs_ll(xmlNodePtr n, long long *v)
{
	char	 buf[32], *end;

	if (n == NULL || *vs_text(n, buf, sizeof(buf)) == '\0')
		return -1;
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static json_t *
vs_jint(xmlNodePtr n)
{
	long long	v;

	return vs_ll(n, &v) == 0 ? json_integer(v) : json_null();
}

static json_t *
vs_jbool(xmlNodePtr n)
{
	char	buf[8];

	if (n == NULL)
		return json_null();
	return json_boolean(strcmp(vs_text(n, buf, sizeof(buf)), "true") == 0);
}

/* xsi:type without its prefix ("xsd:string" is "string"), or "". */
static const char *
vs_type(xmlNodePtr n)
{
	xmlAttrPtr	 a;
	const char	*v, *p;

	for (a = n->properties; a != NULL; a = a->next) {
		if (a->ns == NULL || strcmp((const char *)a->name, "type") ||
		    strcmp((const char *)a->ns->href, XSI_NS) ||
		    a->children == NULL)
			continue;
		v = (const char *)a->children->content;
		return (p = strchr(v, ':')) != NULL ? p + 1 : v;
	}
	return "";
}

/* Escaped for XML text and attributes (malloc'd). */
static char *
vs_esc(const char *s)
{
	struct fbuf	 b;
	const char	*r;

	fbuf_init(&b);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '"': r = "&quot;"; break;
		case '\'': r = "&apos;"; break;
		default: fbuf_add(&b, s, 1); continue;
		}
		fbuf_add(&b, r, strlen(r));
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

static xmlDocPtr
vs_read(const char *xml, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	return xmlReadMemory(xml, (int)len, "vsphere.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_HUGE);
}

static xmlNodePtr
vs_body(xmlDocPtr doc)
{
	xmlNodePtr	env = xmlDocGetRootElement(doc);

	if (!vs_is(env, SOAPENV_NS, "Envelope"))
		return NULL;
	return vs_child(env, SOAPENV_NS, "Body");
}

/* Fault type and message from a soapenv:Fault (both malloc'd). */
static void
vs_fault_of(xmlNodePtr f, char **type, char **message)
{
	xmlNodePtr	 d, n;
	const char	*t;
	char		 buf[1024];
	size_t		 len;

	*message = xstrdup(vs_text(vs_child(f, NULL, "faultstring"), buf,
	    sizeof(buf)));
	*type = NULL;
	d = vs_child(f, NULL, "detail");
	for (n = d != NULL ? d->children : NULL; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (*(t = vs_type(n)) != '\0')
			*type = xstrdup(t);
		else {
			/* <InvalidLoginFault> without xsi:type. */
			t = (const char *)n->name;
			len = strlen(t);
			if (len > 5 && strcmp(t + len - 5, "Fault") == 0)
				len -= 5;
			*type = xstrndup(t, len);
		}
		break;
	}
	if (*type == NULL)
		*type = xstrdup("SystemError");
}

int
vsphere_parse_fault(const char *xml, size_t len, char **type, char **message)
{
	xmlDocPtr	doc;
	xmlNodePtr	body, f;
	int		ret;

	*type = *message = NULL;
	if ((doc = vs_read(xml, len)) == NULL)
		return -1;
	if ((body = vs_body(doc)) == NULL)
		ret = -1;
	else if ((f = vs_child(body, SOAPENV_NS, "Fault")) == NULL)
		ret = 0;
	else {
		vs_fault_of(f, type, message);
		ret = 1;
	}
	xmlFreeDoc(doc);
	return ret;
}

/* Thumbprints. */

static void
vs_thumb_fmt(const unsigned char *md, unsigned int n, char *out, size_t len)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			i, o = 0;

	for (i = 0; i < n && o + 3 <= len; i++) {
		if (i > 0)
			out[o++] = ':';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o < len ? o : len - 1] = '\0';
}

int
vsphere_thumbprint_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == ':' || *a == ' ')
			a++;
		while (*b == ':' || *b == ' ')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if ((*a | 0x20) != (*b | 0x20))
			return 0;
		a++;
		b++;
	}
}

/*
 * Replaces OpenSSL's chain verification for the whole handshake: the
 * only thing checked is the leaf's thumbprint, and a mismatch aborts the
 * handshake before curl sends a byte of the request.
 */
static int
vs_verify_cert(X509_STORE_CTX *store, void *arg)
{
	struct vs_pin	*p = arg;
	X509		*cert = X509_STORE_CTX_get0_cert(store);
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n;

	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	vs_thumb_fmt(md, n, p->seen, sizeof(p->seen));
	p->checked = 1;
	if (p->want == NULL || vsphere_thumbprint_equal(p->want, p->seen))
		return 1;
	p->mismatch = 1;
	X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
	return 0;
}

static CURLcode
vs_sslctx(CURL *curl, void *sslctx, void *arg)
{
	(void)curl;
	SSL_CTX_set_cert_verify_callback(sslctx, vs_verify_cert, arg);
	/* With SSL_VERIFY_NONE a failed callback would be ignored. */
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, NULL);
	return CURLE_OK;
}

/* Transport. */

static void
vs_global_init(void)
{
	static int	done;

	if (done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	xmlInitParser();
	done = 1;
}

static size_t
vs_write(char *p, size_t size, size_t n, void *arg)
{
	struct vs_conn	*c = arg;
	size_t		 len = size * n;

	if (c->answer.len + len > VS_MAX_ANSWER) {
		c->too_big = 1;
		return 0;
	}
	fbuf_add(&c->answer, p, len);
	return len;
}

/* SOAPAction "urn:vim25/VERSION", or plain "urn:vim25" for NULL. */
static void
vs_set_version(struct vs_conn *c, const char *version)
{
	char	*h;

	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	c->hdrs = curl_slist_append(c->hdrs,
	    "Content-Type: text/xml; charset=utf-8");
	c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	h = xasprintf("SOAPAction: \"urn:vim25%s%s\"", version ? "/" : "",
	    version ? version : "");
	c->hdrs = curl_slist_append(c->hdrs, h);
	free(h);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdrs);
}

static int
vs_open(struct vs_conn *c, const struct vsphere_opts *o, const char *pin,
    char **cause)
{
	int	 port = o->port > 0 ? o->port : VS_PORT;
	int	 v6 = strchr(o->host, ':') != NULL && o->host[0] != '[';
	long	 ctimeout;

	vs_global_init();
	memset(c, 0, sizeof(*c));
	c->o = o;
	fbuf_init(&c->answer);
	c->pin.want = pin;
	snprintf(c->addr, sizeof(c->addr), "%s%s%s:%d", v6 ? "[" : "",
	    o->host, v6 ? "]" : "", port);
	c->url = xasprintf("https://%s/sdk", c->addr);
	c->timeout = o->timeout_s > 0 ? o->timeout_s : VS_TIMEOUT;
	ctimeout = o->connect_timeout_s > 0 ? o->connect_timeout_s :
	    VS_CONNECT_TIMEOUT;
	if ((c->curl = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, ctimeout);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "haven/" HAVEN_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, vs_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");	/* the session */
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	/* The thumbprint is the trust; names and CAs are not checked. */
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	if (curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_FUNCTION,
	    vs_sslctx) != CURLE_OK) {
		set_cause(cause, "this libcurl is not built with OpenSSL, so "
		    "it cannot pin the certificate of %s (install the "
		    "OpenSSL flavour of libcurl)", c->addr);
		return -1;
	}
	curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_DATA, &c->pin);
	/* Until the server says which API version it speaks. */
	vs_set_version(c, NULL);
	return 0;
}

static void
vs_close(struct vs_conn *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->hdrs);
	fbuf_free(&c->answer);
	free(c->url);
	free(c->pc);
	free(c->views);
	free(c->sessions);
	free(c->root);
	json_decref(c->about);
}

static void
vs_pin_cause(const char *addr, const struct vs_pin *p, char **cause)
{
	set_cause(cause, "the certificate of %s changed: was %s, now %s; if "
	    "this is expected (the certificate was renewed or the server "
	    "reinstalled), accept the new thumbprint; otherwise something "
	    "is impersonating the server", addr, p->want, p->seen);
}

static void
vs_transport_cause(struct vs_conn *c, CURLcode rc, const char *what,
    char **cause)
{
	const char	*detail = c->errbuf[0] ? c->errbuf :
			    curl_easy_strerror(rc);
	long		 oserr = 0;

	if (c->pin.mismatch) {
		vs_pin_cause(c->addr, &c->pin, cause);
		return;
	}
	if (c->too_big) {
		set_cause(cause, "%s answered %s with more than %d bytes; "
		    "refusing it (lower the page size)", c->addr, what,
		    VS_MAX_ANSWER);
		return;
	}
	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		set_cause(cause, "cannot resolve the name of %s: %s (check the "
		    "name and DNS, or use the IP address)", c->addr, detail);
		break;
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			set_cause(cause, "cannot connect to %s: connection "
			    "refused (nothing listens on that port: check "
			    "the address and port of the vCenter or ESXi "
			    "host)", c->addr);
		else
			set_cause(cause, "cannot connect to %s: %s (the host "
			    "is unreachable from this appliance: check the "
			    "address, routing and firewalls)", c->addr,
			    oserr != 0 ? strerror((int)oserr) : detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		set_cause(cause, "no answer from %s to %s in time: %s (the "
		    "host is down, or a firewall drops the traffic)", c->addr,
		    what, detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_USE_SSL_FAILED:
		set_cause(cause, "the TLS handshake with %s failed: %s (is "
		    "this the HTTPS port of a vCenter or ESXi host?)",
		    c->addr, detail);
		break;
	default:
		set_cause(cause, "%s to %s failed: %s", what, c->addr, detail);
		break;
	}
}

/*
 * One SOAP call.  Returns the parsed answer with *resp at the
 * <methodResponse> element, or NULL with a cause; the caller frees the
 * document.
 */
static xmlDocPtr
vs_call(struct vs_conn *c, const char *method, const char *args,
    xmlNodePtr *resp, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 body, f;
	CURLcode	 rc;
	long		 code = 0;
	char		*req, *ftype, *fmsg, name[128];
	size_t		 i;
	const char	*user = c->o->username != NULL ? c->o->username : "";

	req = xasprintf("%s<%s xmlns=\"" VIM_NS "\">%s</%s>%s", vs_head,
	    method, args, method, vs_tail);
	fbuf_reset(&c->answer);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(req));
	rc = curl_easy_perform(c->curl);
	explicit_bzero(req, strlen(req));	/* Login's has the password */
	free(req);
	if (rc != CURLE_OK) {
		vs_transport_cause(c, rc, method, cause);
		return NULL;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	doc = vs_read((const char *)c->answer.data, c->answer.len);
	if (doc == NULL || (body = vs_body(doc)) == NULL) {
		set_cause(cause, "%s answered %s with HTTP %ld and no SOAP "
		    "(is it a vCenter or ESXi host? the API is at "
		    "https://%s/sdk)", c->addr, method, code, c->addr);
		xmlFreeDoc(doc);
		return NULL;
	}
	if ((f = vs_child(body, SOAPENV_NS, "Fault")) != NULL) {
		vs_fault_of(f, &ftype, &fmsg);
		for (i = 0; i < nitems(vs_faults); i++)
			if (strcmp(vs_faults[i].type, ftype) == 0)
				break;
		if (i < nitems(vs_faults))
			set_cause(cause, "vSphere at %s %s '%s': %s (%s)",
			    c->addr, vs_faults[i].verb, user,
			    vs_faults[i].reason != NULL ? vs_faults[i].reason :
			    fmsg, vs_faults[i].fix);
		else
			set_cause(cause, "vSphere at %s: %s failed: %s (%s)",
			    c->addr, method, fmsg[0] ? fmsg : "no message",
			    ftype);
		free(ftype);
		free(fmsg);
		xmlFreeDoc(doc);
		return NULL;
	}
	snprintf(name, sizeof(name), "%sResponse", method);
	if ((*resp = vs_child(body, VIM_NS, name)) == NULL) {
		set_cause(cause, "%s answered %s with HTTP %ld but no %s (is "
		    "it a vCenter or ESXi host?)", c->addr, method, code,
		    name);
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* A managed object reference as "<_this type=..>..</_this>"-ready text. */
static char *
vs_ref(xmlNodePtr n)
{
	char	buf[512];

	return n != NULL ? vs_esc(vs_text(n, buf, sizeof(buf))) : NULL;
}

static int
vs_service_content(struct vs_conn *c, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp, sc, ab;
	char		 buf[64];
	static const struct { const char *vim, *key; } about[] = {
		{ "fullName", "name" }, { "version", "version" },
		{ "build", "build" }, { "apiType", "api_type" },
		{ "apiVersion", "api_version" },
		{ "instanceUuid", "instance_uuid" },
	};
	size_t		 i;

	doc = vs_call(c, "RetrieveServiceContent",
	    "<_this type=\"ServiceInstance\">ServiceInstance</_this>", &resp,
	    cause);
	if (doc == NULL)
		return -1;
	sc = vs_child(resp, VIM_NS, "returnval");
	c->pc = vs_ref(vs_child(sc, VIM_NS, "propertyCollector"));
	c->views = vs_ref(vs_child(sc, VIM_NS, "viewManager"));
	c->sessions = vs_ref(vs_child(sc, VIM_NS, "sessionManager"));
	c->root = vs_ref(vs_child(sc, VIM_NS, "rootFolder"));
	ab = vs_child(sc, VIM_NS, "about");
	c->about = json_object();
	for (i = 0; i < nitems(about); i++)
		json_object_set_new(c->about, about[i].key,
		    vs_jstr(vs_child(ab, VIM_NS, about[i].vim)));
	vs_text(vs_child(ab, VIM_NS, "apiVersion"), buf, sizeof(buf));
	xmlFreeDoc(doc);
	if (c->pc == NULL || c->views == NULL || c->sessions == NULL ||
	    c->root == NULL) {
		set_cause(cause, "%s has no property collector, view manager "
		    "or session manager in its service content (is it a "
		    "vCenter or ESXi host?)", c->addr);
		return -1;
	}
	if (buf[0] != '\0' && strspn(buf, "0123456789.") == strlen(buf))
		vs_set_version(c, buf);
	return 0;
}

static int
vs_login(struct vs_conn *c, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp;
	char		*u, *p, *args;

	u = vs_esc(c->o->username != NULL ? c->o->username : "");
	p = vs_esc(c->o->password != NULL ? c->o->password : "");
	args = xasprintf("<_this type=\"SessionManager\">%s</_this>"
	    "<userName>%s</userName><password>%s</password>", c->sessions,
	    u, p);
	explicit_bzero(p, strlen(p));
	free(u);
	free(p);
	doc = vs_call(c, "Login", args, &resp, cause);
	explicit_bzero(args, strlen(args));
	free(args);
	if (doc == NULL)
		return -1;
	xmlFreeDoc(doc);
	c->logged_in = 1;
	return 0;
}

/* Best effort: the session dies with its timeout anyway. */
static void
vs_logout(struct vs_conn *c)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp;
	char		*args, *cause = NULL;

	if (!c->logged_in)
		return;
	args = xasprintf("<_this type=\"SessionManager\">%s</_this>",
	    c->sessions);
	if ((doc = vs_call(c, "Logout", args, &resp, &cause)) == NULL)
		log_debug("vsphere: %s", cause);
	xmlFreeDoc(doc);
	free(cause);
	free(args);
	c->logged_in = 0;
}

static char *
vs_view(struct vs_conn *c, const char *const *types, size_t n, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp;
	struct fbuf	 b;
	size_t		 i;
	char		*view;

	fbuf_init(&b);
	for (i = 0; i < n; i++) {
		fbuf_add(&b, "<type>", 6);
		fbuf_add(&b, types[i], strlen(types[i]));
		fbuf_add(&b, "</type>", 7);
	}
	fbuf_add(&b, "", 1);
	view = xasprintf("<_this type=\"ViewManager\">%s</_this>"
	    "<container type=\"Folder\">%s</container>%s"
	    "<recursive>true</recursive>", c->views, c->root,
	    (char *)b.data);
	fbuf_free(&b);
	doc = vs_call(c, "CreateContainerView", view, &resp, cause);
	free(view);
	if (doc == NULL)
		return NULL;
	view = vs_ref(vs_child(resp, VIM_NS, "returnval"));
	xmlFreeDoc(doc);
	if (view == NULL)
		set_cause(cause, "%s returned no container view", c->addr);
	return view;
}

static void
vs_destroy_view(struct vs_conn *c, const char *view)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp;
	char		*args, *cause = NULL;

	args = xasprintf("<_this type=\"ContainerView\">%s</_this>", view);
	if ((doc = vs_call(c, "DestroyView", args, &resp, &cause)) == NULL)
		log_debug("vsphere: %s", cause);
	xmlFreeDoc(doc);
	free(cause);
	free(args);
}

/* Parsing of RetrievePropertiesEx answers. */

/* Controllers of one VM, to name a disk's. */
struct vs_ctrl {
	long long	 key;
	long long	 bus;
	const char	*name;
};

static void
vs_disk(json_t *disks, xmlNodePtr d, const struct vs_ctrl *ctl, size_t nctl)
{
	json_t		*j = json_object(), *ds = json_null();
	xmlNodePtr	 b = vs_child(d, VIM_NS, "backing");
	long long	 v, ckey = -1;
	const char	*bt, *s;
	char		 file[1024], *e;
	size_t		 i;

	json_object_set_new(j, "label", vs_jstr(vs_find(d, "deviceInfo/label")));
	if (vs_ll(vs_child(d, VIM_NS, "capacityInBytes"), &v) == 0)
		json_object_set_new(j, "capacity", json_integer(v));
	else if (vs_ll(vs_child(d, VIM_NS, "capacityInKB"), &v) == 0)
		json_object_set_new(j, "capacity", json_integer(v * 1024));
	else
		json_object_set_new(j, "capacity", json_null());
	vs_text(vs_child(b, VIM_NS, "fileName"), file, sizeof(file));
	json_object_set_new(j, "file", file[0] ? json_string(file) :
	    json_null());
	/* "[LocalDS_0] vm/disk.vmdk": the datastore by name. */
	if (file[0] == '[' && (e = strchr(file, ']')) != NULL)
		ds = json_stringn(file + 1, (size_t)(e - file - 1));
	else if (vs_child(b, VIM_NS, "datastore") != NULL) {
		json_object_set_new(j, "_ds",
		    vs_jstr(vs_child(b, VIM_NS, "datastore")));
	}
	json_object_set_new(j, "datastore", ds != NULL ? ds : json_null());
	vs_ll(vs_child(d, VIM_NS, "controllerKey"), &ckey);
	for (i = 0; i < nctl; i++)
		if (ctl[i].key == ckey)
			break;
	json_object_set_new(j, "controller", i < nctl ?
	    json_string(ctl[i].name) : json_null());
	json_object_set_new(j, "bus", i < nctl ? json_integer(ctl[i].bus) :
	    json_null());
	json_object_set_new(j, "unit",
	    vs_jint(vs_child(d, VIM_NS, "unitNumber")));
	bt = b != NULL ? vs_type(b) : "";
	s = vs_short(vs_backings, nitems(vs_backings), bt);
	json_object_set_new(j, "backing", s != NULL ? json_string(s) :
	    bt[0] ? json_string(bt) : json_null());
	json_object_set_new(j, "thin",
	    vs_jbool(vs_child(b, VIM_NS, "thinProvisioned")));
	json_object_set_new(j, "mode", vs_jstr(vs_child(b, VIM_NS,
	    "diskMode")));
	json_array_append_new(disks, j);
}

static void
vs_nic(json_t *nics, xmlNodePtr d, const char *type)
{
	json_t		*j = json_object();
	xmlNodePtr	 b = vs_child(d, VIM_NS, "backing");
	const char	*bt = b != NULL ? vs_type(b) : "";
	const char	*s;
	char		 buf[128];
	size_t		 i;

	json_object_set_new(j, "label", vs_jstr(vs_find(d, "deviceInfo/label")));
	if ((s = vs_short(vs_nics, nitems(vs_nics), type)) != NULL)
		json_object_set_new(j, "type", json_string(s));
	else {
		/* "VirtualFoo" is "foo". */
		snprintf(buf, sizeof(buf), "%s", strncmp(type, "Virtual", 7) ?
		    type : type + 7);
		for (i = 0; buf[i] != '\0'; i++)
			buf[i] = (char)(buf[i] | 0x20);
		json_object_set_new(j, "type", json_string(buf));
	}
	json_object_set_new(j, "mac", vs_jstr(vs_child(d, VIM_NS,
	    "macAddress")));
	if (strcmp(bt, "VirtualEthernetCardDistributedVirtualPortBackingInfo")
	    == 0) {
		json_object_set_new(j, "network", json_null());
		json_object_set_new(j, "_pg",
		    vs_jstr(vs_find(b, "port/portgroupKey")));
	} else if (strcmp(bt, "VirtualEthernetCardOpaqueNetworkBackingInfo")
	    == 0)
		json_object_set_new(j, "network",
		    vs_jstr(vs_child(b, VIM_NS, "opaqueNetworkId")));
	else
		json_object_set_new(j, "network",
		    vs_jstr(vs_child(b, VIM_NS, "deviceName")));
	json_object_set_new(j, "connected",
	    vs_jbool(vs_find(d, "connectable/connected")));
	json_object_set_new(j, "addresses", json_array());
	json_object_set_new(j, "_key", vs_jint(vs_child(d, VIM_NS, "key")));
	json_array_append_new(nics, j);
}

static void
vs_devices(json_t *vm, xmlNodePtr val)
{
	json_t		*disks = json_object_get(vm, "disks");
	json_t		*nics = json_object_get(vm, "nics");
	struct vs_ctrl	*ctl = NULL;
	size_t		 nctl = 0;
	xmlNodePtr	 d;
	const char	*t, *s;

	/* Controllers may follow the disks on them. */
	for (d = val->children; d != NULL; d = d->next) {
		if (d->type != XML_ELEMENT_NODE)
			continue;
		t = vs_type(d);
		if ((s = vs_short(vs_controllers, nitems(vs_controllers),
		    t)) == NULL)
			continue;
		ctl = xrealloc(ctl, (nctl + 1) * sizeof(*ctl));
		ctl[nctl].name = s;
		ctl[nctl].key = ctl[nctl].bus = -1;
		vs_ll(vs_child(d, VIM_NS, "key"), &ctl[nctl].key);
		vs_ll(vs_child(d, VIM_NS, "busNumber"), &ctl[nctl].bus);
		nctl++;
	}
	for (d = val->children; d != NULL; d = d->next) {
		if (d->type != XML_ELEMENT_NODE)
			continue;
		t = vs_type(d);
		if (strcmp(t, "VirtualDisk") == 0)
			vs_disk(disks, d, ctl, nctl);
		else if (vs_short(vs_nics, nitems(vs_nics), t) != NULL ||
		    vs_child(d, VIM_NS, "macAddress") != NULL)
			vs_nic(nics, d, t);
	}
	free(ctl);
}

/* guest.net: addresses per NIC (by device key), kept for resolve. */
static void
vs_guestnet(json_t *vm, xmlNodePtr val)
{
	json_t		*gn = json_array(), *e, *ips;
	xmlNodePtr	 g, ip;

	for (g = val->children; g != NULL; g = g->next) {
		if (g->type != XML_ELEMENT_NODE)
			continue;
		e = json_object();
		ips = json_array();
		for (ip = vs_child(g, VIM_NS, "ipAddress"); ip != NULL;
		    ip = vs_next(ip, VIM_NS, "ipAddress"))
			json_array_append_new(ips, vs_jstr(ip));
		json_object_set_new(e, "key",
		    vs_jint(vs_child(g, VIM_NS, "deviceConfigId")));
		json_object_set_new(e, "ips", ips);
		json_array_append_new(gn, e);
	}
	json_object_set_new(vm, "_guestnet", gn);
}

static void
vs_vm_prop(json_t *vm, const char *name, xmlNodePtr val)
{
	const struct vs_prop	*p = NULL;
	json_t			*a;
	xmlNodePtr		 r;
	const char		*s;
	char			 buf[64];
	size_t			 i;

	for (i = 0; i < nitems(vs_vm_props); i++)
		if (strcmp(vs_vm_props[i].path, name) == 0)
			p = &vs_vm_props[i];
	if (p == NULL)
		return;
	switch (p->kind) {
	case VK_STR:
	case VK_REF:
		json_object_set_new(vm, p->key, vs_jstr(val));
		break;
	case VK_INT:
		json_object_set_new(vm, p->key, vs_jint(val));
		break;
	case VK_BOOL:
		json_object_set_new(vm, p->key, vs_jbool(val));
		break;
	case VK_REFS:
		a = json_array();
		for (r = val->children; r != NULL; r = r->next)
			if (r->type == XML_ELEMENT_NODE)
				json_array_append_new(a, vs_jstr(r));
		json_object_set_new(vm, p->key, a);
		break;
	case VK_POWER:
		vs_text(val, buf, sizeof(buf));
		s = vs_short(vs_power, nitems(vs_power), buf);
		json_object_set_new(vm, p->key, json_string(s != NULL ? s :
		    "unknown"));
		json_object_set_new(vm, "hypervisor_state", json_string(buf));
		break;
	case VK_DEVICES:
		vs_devices(vm, val);
		break;
	case VK_GUESTNET:
		vs_guestnet(vm, val);
		break;
	}
}

static json_t *
vs_new_vm(xmlNodePtr obj)
{
	json_t	*vm = json_object();
	size_t	 i;

	json_object_set_new(vm, "id", vs_jstr(obj));
	for (i = 0; i < nitems(vs_vm_keys); i++)
		json_object_set_new(vm, vs_vm_keys[i], json_null());
	json_object_set_new(vm, "addresses", json_array());
	json_object_set_new(vm, "disks", json_array());
	json_object_set_new(vm, "nics", json_array());
	json_object_set_new(vm, "datastores", json_array());
	return vm;
}

static void
vs_object(xmlNodePtr oc, json_t *vms, json_t *entities)
{
	xmlNodePtr	 obj = vs_child(oc, VIM_NS, "obj"), ps, val;
	xmlChar		*type;
	json_t		*vm = NULL, *ent = NULL;
	char		 name[128], id[512];

	if (obj == NULL)
		return;
	type = xmlGetNoNsProp(obj, (const xmlChar *)"type");
	if (type != NULL && strcmp((const char *)type, "VirtualMachine") == 0)
		vm = vs_new_vm(obj);
	else {
		ent = json_object();
		json_object_set_new(ent, "type", json_string(type != NULL ?
		    (const char *)type : ""));
		json_object_set_new(ent, "name", json_null());
		json_object_set_new(ent, "parent", json_null());
	}
	xmlFree(type);
	for (ps = vs_child(oc, VIM_NS, "propSet"); ps != NULL;
	    ps = vs_next(ps, VIM_NS, "propSet")) {
		vs_text(vs_child(ps, VIM_NS, "name"), name, sizeof(name));
		if ((val = vs_child(ps, VIM_NS, "val")) == NULL)
			continue;
		if (vm != NULL)
			vs_vm_prop(vm, name, val);
		else if (strcmp(name, "name") == 0 ||
		    strcmp(name, "parent") == 0)
			json_object_set_new(ent, name, vs_jstr(val));
	}
	if (vm != NULL)
		json_array_append_new(vms, vm);
	else
		json_object_set_new(entities, vs_text(obj, id, sizeof(id)),
		    ent);
}

/* resp: a RetrievePropertiesEx or ContinueRetrievePropertiesEx answer. */
static void
vs_result(xmlNodePtr resp, json_t *vms, json_t *entities, char **token)
{
	xmlNodePtr	rv = vs_child(resp, VIM_NS, "returnval"), oc, t;
	char		buf[512];

	*token = NULL;
	if (rv == NULL)		/* nothing matched */
		return;
	for (oc = vs_child(rv, VIM_NS, "objects"); oc != NULL;
	    oc = vs_next(oc, VIM_NS, "objects"))
		vs_object(oc, vms, entities);
	if ((t = vs_child(rv, VIM_NS, "token")) != NULL &&
	    *vs_text(t, buf, sizeof(buf)) != '\0')
		*token = xstrdup(buf);
}

int
vsphere_parse_result(const char *xml, size_t len, json_t *vms,
    json_t *entities, char **token, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 body, resp;
	char		*ftype, *fmsg;

	*token = NULL;
	if ((doc = vs_read(xml, len)) == NULL || (body = vs_body(doc)) ==
	    NULL) {
		set_cause(cause, "not a SOAP answer");
		xmlFreeDoc(doc);
		return -1;
	}
	if ((resp = vs_child(body, SOAPENV_NS, "Fault")) != NULL) {
		vs_fault_of(resp, &ftype, &fmsg);
		set_cause(cause, "SOAP fault %s: %s", ftype, fmsg);
		free(ftype);
		free(fmsg);
		xmlFreeDoc(doc);
		return -1;
	}
	if ((resp = vs_child(body, VIM_NS, "RetrievePropertiesExResponse")) ==
	    NULL && (resp = vs_child(body, VIM_NS,
	    "ContinueRetrievePropertiesExResponse")) == NULL) {
		set_cause(cause, "not a RetrievePropertiesEx answer");
		xmlFreeDoc(doc);
		return -1;
	}
	vs_result(resp, vms, entities, token);
	xmlFreeDoc(doc);
	return 0;
}

/* Resolving references to names. */

static json_t *
vs_name_of(json_t *entities, json_t *ref)
{
	json_t	*n;

	if (!json_is_string(ref))
		return json_null();
	n = json_object_get(json_object_get(entities, json_string_value(ref)),
	    "name");
	return json_is_string(n) ? json_incref(n) : json_null();
}

/* "/DC0/vm/team": names up the parent chain, root folder excluded. */
static json_t *
vs_folder_path(json_t *entities, json_t *ref)
{
	const char	*names[VS_MAX_DEPTH];
	json_t		*e;
	struct fbuf	 b;
	size_t		 n = 0;
	json_t		*j;

	while (json_is_string(ref) && n < VS_MAX_DEPTH) {
		e = json_object_get(entities, json_string_value(ref));
		if (!json_is_string(json_object_get(e, "name")))
			break;
		names[n++] = json_string_value(json_object_get(e, "name"));
		ref = json_object_get(e, "parent");
	}
	if (n == 0)
		return json_null();
	fbuf_init(&b);
	while (n-- > 0) {
		fbuf_add(&b, "/", 1);
		fbuf_add(&b, names[n], strlen(names[n]));
	}
	j = json_stringn((const char *)b.data, b.len);
	fbuf_free(&b);
	return j != NULL ? j : json_null();
}

static void
vs_add_address(json_t *a, json_t *ip)
{
	size_t	 i;
	json_t	*v;

	if (!json_is_string(ip) || json_string_length(ip) == 0)
		return;
	json_array_foreach(a, i, v)
		if (json_equal(v, ip))
			return;
	json_array_append(a, ip);
}

static void
vs_resolve_vm(json_t *vm, json_t *entities)
{
	json_t		*v, *a, *nic, *disk, *g, *ip, *ds;
	size_t		 i, j, k;
	const char	*s, *e;

	json_object_set_new(vm, "host", vs_name_of(entities,
	    json_object_get(vm, "_host")));
	json_object_set_new(vm, "folder", vs_folder_path(entities,
	    json_object_get(vm, "_parent")));
	if (json_is_string(v = json_object_get(vm, "_guest_os")) &&
	    json_string_length(v) > 0)
		json_object_set(vm, "guest_os", v);

	ds = json_object_get(vm, "datastores");
	json_array_foreach(json_object_get(vm, "_datastores"), i, v)
		json_array_append_new(ds, vs_name_of(entities, v));
	/* The datastore of the .vmx, "[name] dir/vm.vmx". */
	v = json_object_get(vm, "_vmx");
	if (json_is_string(v) && *(s = json_string_value(v)) == '[' &&
	    (e = strchr(s, ']')) != NULL)
		json_object_set_new(vm, "datastore",
		    json_stringn(s + 1, (size_t)(e - s - 1)));
	else if (json_array_size(ds) > 0)
		json_object_set(vm, "datastore", json_array_get(ds, 0));

	json_array_foreach(json_object_get(vm, "disks"), i, disk) {
		if ((v = json_object_get(disk, "_ds")) != NULL) {
			json_object_set_new(disk, "datastore",
			    vs_name_of(entities, v));
			json_object_del(disk, "_ds");
		}
	}

	a = json_object_get(vm, "addresses");
	vs_add_address(a, json_object_get(vm, "_ip"));
	json_array_foreach(json_object_get(vm, "_guestnet"), i, g)
		json_array_foreach(json_object_get(g, "ips"), j, ip)
			vs_add_address(a, ip);
	json_array_foreach(json_object_get(vm, "nics"), i, nic) {
		if ((v = json_object_get(nic, "_pg")) != NULL) {
			json_object_set_new(nic, "network",
			    vs_name_of(entities, v));
			json_object_del(nic, "_pg");
		}
		v = json_object_get(nic, "_key");
		json_array_foreach(json_object_get(vm, "_guestnet"), j, g) {
			if (!json_equal(json_object_get(g, "key"), v))
				continue;
			json_array_foreach(json_object_get(g, "ips"), k, ip)
				vs_add_address(json_object_get(nic,
				    "addresses"), ip);
		}
		json_object_del(nic, "_key");
	}
	for (i = 0; i < nitems(vs_tmp_keys); i++)
		json_object_del(vm, vs_tmp_keys[i]);
}

void
vsphere_resolve(json_t *vms, json_t *entities)
{
	json_t	*vm;
	size_t	 i;

	json_array_foreach(vms, i, vm)
		vs_resolve_vm(vm, entities);
}

static int
vs_cmp_name(const void *a, const void *b)
{
	const char	*x, *y;

	x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
	if (x == NULL || y == NULL)
		return (x == NULL) - (y == NULL);
	return strcmp(x, y);
}

static json_t *
vs_sorted(json_t *vms)
{
	json_t	**v, *out = json_array();
	size_t	  i, n = json_array_size(vms);

	v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = json_array_get(vms, i);
	qsort(v, n, sizeof(*v), vs_cmp_name);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* The property spec of one view: "<propSet>…</propSet><objectSet>…". */
static char *
vs_spec(const char *view, const char *type, const char *const *paths,
    size_t n)
{
	struct fbuf	 b;
	char		*s;
	size_t		 i;

	fbuf_init(&b);
	s = xasprintf("<specSet><propSet><type>%s</type>", type);
	fbuf_add(&b, s, strlen(s));
	free(s);
	for (i = 0; i < n; i++) {
		s = xasprintf("<pathSet>%s</pathSet>", paths[i]);
		fbuf_add(&b, s, strlen(s));
		free(s);
	}
	s = xasprintf("</propSet><objectSet><obj type=\"ContainerView\">%s"
	    "</obj><skip>true</skip><selectSet xsi:type=\"TraversalSpec\">"
	    "<name>view</name><type>ContainerView</type><path>view</path>"
	    "<skip>false</skip></selectSet></objectSet></specSet>", view);
	fbuf_add(&b, s, strlen(s));
	free(s);
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

/* RetrievePropertiesEx, then ContinueRetrievePropertiesEx while a token
 * comes back. */
static int
vs_retrieve(struct vs_conn *c, const char *spec, json_t *vms,
    json_t *entities, char **cause)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 resp;
	char		*args, *token = NULL, *t;
	int		 page = c->o->page_size > 0 ? c->o->page_size : VS_PAGE;

	args = xasprintf("<_this type=\"PropertyCollector\">%s</_this>%s"
	    "<options><maxObjects>%d</maxObjects></options>", c->pc, spec,
	    page);
	doc = vs_call(c, "RetrievePropertiesEx", args, &resp, cause);
	free(args);
	while (doc != NULL) {
		vs_result(resp, vms, entities, &token);
		xmlFreeDoc(doc);
		if (token == NULL)
			return 0;
		t = vs_esc(token);
		args = xasprintf("<_this type=\"PropertyCollector\">%s</_this>"
		    "<token>%s</token>", c->pc, t);
		free(t);
		free(token);
		token = NULL;
		doc = vs_call(c, "ContinueRetrievePropertiesEx", args, &resp,
		    cause);
		free(args);
	}
	return -1;
}

/* Connect, check the pin, read the service content and log in. */
static int
vs_session(struct vs_conn *c, const struct vsphere_opts *o, char **cause)
{
	char	*seen = NULL, *why = NULL;

	if (o->host == NULL || o->host[0] == '\0') {
		set_cause(cause, "no vSphere host given");
		return -1;
	}
	if (o->thumbprint == NULL || o->thumbprint[0] == '\0') {
		/* Never send a password to a server nobody accepted. */
		if (vsphere_thumbprint(o->host, o->port, o->connect_timeout_s,
		    &seen, &why) == -1) {
			set_cause(cause, "%s", why);
			free(why);
			return -1;
		}
		set_cause(cause, "the certificate of %s:%d is not accepted "
		    "yet: its SHA-256 thumbprint is %s; check it on the "
		    "server's console and accept it", o->host,
		    o->port > 0 ? o->port : VS_PORT, seen);
		free(seen);
		return -1;
	}
	if (vs_open(c, o, o->thumbprint, cause) == -1)
		return -1;
	if (vs_service_content(c, cause) == -1)
		return -1;
	return vs_login(c, cause);
}

int
vsphere_check(const struct vsphere_opts *o, json_t **about, char **cause)
{
	struct vs_conn	c;
	int		ret = -1;

	memset(&c, 0, sizeof(c));
	if (about != NULL)
		*about = NULL;
	if (vs_session(&c, o, cause) == 0) {
		if (about != NULL)
			*about = json_incref(c.about);
		ret = 0;
	}
	vs_logout(&c);
	vs_close(&c);
	return ret;
}

int
vsphere_discover(const struct vsphere_opts *o, json_t **inventory,
    char **cause)
{
	static const char *const entity_paths[] = { "name", "parent" };
	const char	*vm_paths[nitems(vs_vm_props)];
	struct vs_conn	 c;
	json_t		*vms = json_array(), *entities = json_object();
	char		*vmview = NULL, *entview = NULL, *spec;
	size_t		 i;
	int		 ret = -1;

	*inventory = NULL;
	memset(&c, 0, sizeof(c));
	if (vs_session(&c, o, cause) == -1)
		goto out;
	if ((entview = vs_view(&c, vs_entity_types, nitems(vs_entity_types),
	    cause)) == NULL)
		goto out;
	spec = vs_spec(entview, "ManagedEntity", entity_paths,
	    nitems(entity_paths));
	ret = vs_retrieve(&c, spec, vms, entities, cause);
	free(spec);
	if (ret == -1)
		goto out;
	ret = -1;
	if ((vmview = vs_view(&c, (const char *const[]){ "VirtualMachine" },
	    1, cause)) == NULL)
		goto out;
	for (i = 0; i < nitems(vs_vm_props); i++)
		vm_paths[i] = vs_vm_props[i].path;
	spec = vs_spec(vmview, "VirtualMachine", vm_paths, nitems(vm_paths));
	ret = vs_retrieve(&c, spec, vms, entities, cause);
	free(spec);
	if (ret == -1)
		goto out;
	vsphere_resolve(vms, entities);
	*inventory = json_pack("{s:s, s:s, s:O, s:o}", "address", c.addr,
	    "thumbprint", c.pin.seen, "about", c.about, "vms", vs_sorted(vms));
	if (*inventory == NULL)
		fatalx("json_pack failed");
out:
	if (c.curl != NULL) {
		if (vmview != NULL)
			vs_destroy_view(&c, vmview);
		if (entview != NULL)
			vs_destroy_view(&c, entview);
		vs_logout(&c);
	}
	vs_close(&c);
	free(vmview);
	free(entview);
	json_decref(vms);
	json_decref(entities);
	return ret;
}

int
vsphere_thumbprint(const char *host, int port, long timeout_s,
    char **thumbprint, char **cause)
{
	struct vsphere_opts	o;
	struct vs_conn		c;
	CURLcode		rc;
	int			ret = -1;

	*thumbprint = NULL;
	memset(&o, 0, sizeof(o));
	o.host = host;
	o.port = port;
	o.connect_timeout_s = timeout_s;
	o.timeout_s = timeout_s > 0 ? timeout_s : VS_CONNECT_TIMEOUT;
	if (host == NULL || host[0] == '\0') {
		set_cause(cause, "no vSphere host given");
		return -1;
	}
	if (vs_open(&c, &o, NULL, cause) == 0) {
		/* The TLS handshake and nothing else. */
		curl_easy_setopt(c.curl, CURLOPT_CONNECT_ONLY, 1L);
		rc = curl_easy_perform(c.curl);
		if (c.pin.checked) {
			*thumbprint = xstrdup(c.pin.seen);
			ret = 0;
		} else if (rc != CURLE_OK)
			vs_transport_cause(&c, rc, "the TLS handshake", cause);
		else
			set_cause(cause, "%s presented no certificate",
			    c.addr);
	}
	vs_close(&c);
	return ret;
}
