/*
 * The "discover" job: one hypervisor's machines into the database.
 * It runs in a job process, so it blocks: its own MariaDB connection,
 * vsphere_discover() or virt_discover(), then one transaction that
 * upserts every machine, marks the missing ones gone and records the
 * hypervisor's status.  The account's secret is decrypted here and
 * nowhere else, and wiped once the client library has it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbq.h"
#include "disc.h"
#include "havend.h"
#include "job.h"
#include "log.h"
#include "secret.h"
#include "util.h"
#include "virt.h"
#include "vsphere.h"

#define SAVE_BATCH	200	/* rows per INSERT */
#define EVENTS_MAX	50	/* per-VM events per run, then a summary */

/* --- protectable */

/* Words that name a Linux guest in vSphere guest ids and names and in
 * libosinfo ids (http://debian.org/debian/12). */
static const char *const linux_words[] = {
	"linux", "ubuntu", "debian", "rhel", "red hat", "redhat", "centos",
	"suse", "sles", "fedora", "rocky", "alma", "oracle.com/ol", "amazon",
	"photon", "coreos", "mint", "kali", "gentoo", "mageia", "mandriva",
	"asianux", "slackware", "alpine", "openeuler", "archlinux", NULL
};

static int
is_linux(const char *s)
{
	char	*low;
	size_t	 i;
	int	 found = 0;

	if (s == NULL || *s == '\0')
		return 0;
	low = xstrdup(s);
	for (i = 0; low[i] != '\0'; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] = (char)(low[i] + 32);
	for (i = 0; linux_words[i] != NULL && !found; i++)
		found = strstr(low, linux_words[i]) != NULL;
	free(low);
	return found;
}

static void
reason_add(struct fbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	if (b->len > 0)
		fbuf_add(b, "; ", 2);
	fbuf_add(b, s, strlen(s));
	free(s);
}

int
job_discover_protectable(json_t *vm, char **reason)
{
	struct fbuf	 b;
	json_t		*disks = json_object_get(vm, "disks"), *d, *cap;
	const char	*power = json_string_value(json_object_get(vm,
			    "power_state"));
	const char	*os = json_string_value(json_object_get(vm,
			    "guest_os"));
	const char	*gid = json_string_value(json_object_get(vm,
			    "guest_id"));
	const char	*label;
	size_t		 i, n = json_array_size(disks);

	*reason = NULL;
	fbuf_init(&b);
	if (json_is_true(json_object_get(vm, "template")))
		reason_add(&b, "it is a template");
	if (power == NULL || strcmp(power, "on") != 0)
		reason_add(&b, power != NULL && strcmp(power, "off") == 0 ?
		    "it is powered off" : power != NULL && strcmp(power,
		    "suspended") == 0 ? "it is suspended" : "its power state "
		    "is unknown");
	if ((os == NULL || *os == '\0') && (gid == NULL || *gid == '\0'))
		reason_add(&b, "its guest OS is not known (VMware Tools, or "
		    "libosinfo metadata in the domain XML, report it)");
	else if (!is_linux(os) && !is_linux(gid))
		reason_add(&b, "its guest OS (%s) is not Linux", os != NULL &&
		    *os != '\0' ? os : gid);
	if (n == 0)
		reason_add(&b, "it has no disks");
	else if (n > DISC_MAX_DISKS)
		reason_add(&b, "it has %zu disks, more than %d", n,
		    DISC_MAX_DISKS);
	json_array_foreach(disks, i, d) {
		cap = json_object_get(d, "capacity");
		if (!json_is_integer(cap) || (unsigned long long)
		    json_integer_value(cap) <= DISC_MAX_DISK_BYTES)
			continue;
		label = json_string_value(json_object_get(d, "label"));
		reason_add(&b, "disk %s is %.1f TiB, over 4 TiB", label ?
		    label : "?", (double)json_integer_value(cap) /
		    (double)(1ULL << 40));
	}
	if (b.len == 0) {
		fbuf_free(&b);
		return 1;
	}
	fbuf_add(&b, "", 1);
	*reason = (char *)b.data;
	return 0;
}

/* --- saving */

static void
add_str(MYSQL *m, struct fbuf *b, json_t *v, size_t max)
{
	char	*s;

	if (!json_is_string(v) || json_string_length(v) == 0) {
		fbuf_add(b, "NULL", 4);
		return;
	}
	s = dbq_u8_cut(json_string_value(v), max);
	dbq_quote(m, b, s);
	free(s);
}

static void
add_int(struct fbuf *b, json_t *v)
{
	char	tmp[32];

	if (!json_is_integer(v)) {
		fbuf_add(b, "NULL", 4);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
	fbuf_add(b, tmp, strlen(tmp));
}

static void
add_json(MYSQL *m, struct fbuf *b, json_t *v)
{
	char	*s;

	if (v == NULL || json_is_null(v)) {
		fbuf_add(b, "NULL", 4);
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	dbq_quote(m, b, s);
	free(s);
}

/* The key that survives a rename: the instance UUID, else the id. */
static char *
vm_key(json_t *vm)
{
	const char	*u = json_string_value(json_object_get(vm,
			    "instance_uuid"));
	const char	*id = json_string_value(json_object_get(vm, "id"));

	if (u != NULL && *u != '\0')
		return dbq_u8_cut(u, 64);
	return xasprintf("id:%.60s", id != NULL ? id : "?");
}

#define VM_INSERT	"INSERT INTO vms (hypervisor_id, instance_uuid, " \
	"moref, name, bios_uuid, power_state, guest_os, guest_id, hostname, " \
	"template, addresses, cpus, memory_mb, disks, nics, host, datastore, " \
	"folder, first_seen, last_seen, gone_at, seen_run, protectable, " \
	"not_protectable_reason) VALUES "
#define VM_UPDATE	" ON DUPLICATE KEY UPDATE moref = VALUES(moref), " \
	"name = VALUES(name), bios_uuid = VALUES(bios_uuid), " \
	"power_state = VALUES(power_state), guest_os = VALUES(guest_os), " \
	"guest_id = VALUES(guest_id), hostname = VALUES(hostname), " \
	"template = VALUES(template), addresses = VALUES(addresses), " \
	"cpus = VALUES(cpus), memory_mb = VALUES(memory_mb), " \
	"disks = VALUES(disks), nics = VALUES(nics), host = VALUES(host), " \
	"datastore = VALUES(datastore), folder = VALUES(folder), " \
	"last_seen = VALUES(last_seen), gone_at = NULL, " \
	"seen_run = VALUES(seen_run), protectable = VALUES(protectable), " \
	"not_protectable_reason = VALUES(not_protectable_reason)"

static void
vm_row(MYSQL *m, struct fbuf *b, long long hid, long long run,
    const char *key, json_t *vm, int *protectable)
{
	char	 tmp[64], *reason;
	json_t	*v;

	*protectable = job_discover_protectable(vm, &reason);
	snprintf(tmp, sizeof(tmp), "(%lld, ", hid);
	fbuf_add(b, tmp, strlen(tmp));
	dbq_quote(m, b, key);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "id"), 64);
	fbuf_add(b, ", ", 2);
	v = json_object_get(vm, "name");
	if (json_is_string(v) && json_string_length(v) > 0)
		add_str(m, b, v, 255);
	else
		dbq_quote(m, b, key);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "bios_uuid"), 64);
	fbuf_add(b, ", ", 2);
	v = json_object_get(vm, "power_state");
	dbq_quote(m, b, json_is_string(v) && json_string_length(v) <= 16 ?
	    json_string_value(v) : "unknown");
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "guest_os"), 255);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "guest_id"), 255);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "hostname"), 255);
	fbuf_add(b, json_is_true(json_object_get(vm, "template")) ? ", 1, " :
	    ", 0, ", 5);
	add_json(m, b, json_object_get(vm, "addresses"));
	fbuf_add(b, ", ", 2);
	add_int(b, json_object_get(vm, "cpus"));
	fbuf_add(b, ", ", 2);
	add_int(b, json_object_get(vm, "memory_mb"));
	fbuf_add(b, ", ", 2);
	add_json(m, b, json_object_get(vm, "disks"));
	fbuf_add(b, ", ", 2);
	add_json(m, b, json_object_get(vm, "nics"));
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "host"), 255);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "datastore"), 255);
	fbuf_add(b, ", ", 2);
	add_str(m, b, json_object_get(vm, "folder"), 16000);
	snprintf(tmp, sizeof(tmp), ", UTC_TIMESTAMP(), UTC_TIMESTAMP(), NULL, "
	    "%lld, %d, ", run, *protectable);
	fbuf_add(b, tmp, strlen(tmp));
	dbq_quote(m, b, reason);
	fbuf_add(b, ")", 1);
	free(reason);
}

static int
save_batch(MYSQL *m, struct fbuf *b, char **cause)
{
	fbuf_add(b, VM_UPDATE, strlen(VM_UPDATE));
	if (mysql_real_query(m, (char *)b->data, b->len) != 0) {
		set_cause(cause, "cannot save the discovered machines: %s "
		    "(MariaDB error %u)", mysql_error(m), mysql_errno(m));
		return -1;
	}
	fbuf_reset(b);
	return 0;
}

static int
event(MYSQL *m, const char *kind, const char *msg, char **cause)
{
	return DQ(m, NULL, cause, "INSERT INTO events (at, machine_id, kind, "
	    "message) VALUES (UTC_TIMESTAMP(3), NULL, ?, ?)", DQS(kind),
	    DQS(msg));
}

/* Inside the caller's transaction. */
static int
save(MYSQL *m, long long id, long long run, json_t *vms,
    struct job_discover_counts *c, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	struct fbuf	 b;
	json_t		*known, *seen, *vm, *was;
	char		*key, *hname, *msg;
	size_t		 i, inrow = 0;
	int		 prot, nev = 0, rc = -1;

	memset(c, 0, sizeof(*c));
	if (DQ(m, &res, cause, "SELECT name FROM hypervisors WHERE id = ? "
	    "FOR UPDATE", DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "the hypervisor (id %lld) was removed during "
		    "discovery", id);
		return -1;
	}
	hname = xstrdup(r[0]);
	mysql_free_result(res);
	if (DQ(m, &res, cause, "SELECT instance_uuid, gone_at IS NOT NULL, "
	    "name FROM vms WHERE hypervisor_id = ?", DQI(id)) == -1) {
		free(hname);
		return -1;
	}
	known = json_object();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_object_set_new(known, r[0], json_pack("{s:b, s:s}",
		    "gone", strcmp(r[1], "1") == 0, "name", r[2]));
	mysql_free_result(res);

	seen = json_object();
	fbuf_init(&b);
	json_array_foreach(vms, i, vm) {
		key = vm_key(vm);
		/* The same key twice (a clone with a copied instance UUID):
		 * the first one wins, rather than the two flapping. */
		if (json_object_get(seen, key) != NULL) {
			free(key);
			continue;
		}
		json_object_set_new(seen, key, json_true());
		if ((was = json_object_get(known, key)) == NULL)
			c->added++;
		else if (json_is_true(json_object_get(was, "gone"))) {
			c->returned++;
			if (nev++ < EVENTS_MAX) {
				msg = xasprintf("VM %s on hypervisor %s is "
				    "back", json_string_value(json_object_get(
				    was, "name")), hname);
				rc = event(m, "vm.back", msg, cause);
				free(msg);
				if (rc == -1)
					goto out;
				rc = -1;
			}
		}
		if (inrow == 0)
			fbuf_add(&b, VM_INSERT, strlen(VM_INSERT));
		else
			fbuf_add(&b, ", ", 2);
		vm_row(m, &b, id, run, key, vm, &prot);
		free(key);
		c->vms++;
		c->protectable += prot;
		if (++inrow == SAVE_BATCH) {
			if (save_batch(m, &b, cause) == -1)
				goto out;
			inrow = 0;
		}
	}
	if (inrow > 0 && save_batch(m, &b, cause) == -1)
		goto out;

	/* What was there before and is not now has gone. */
	if (DQ(m, &res, cause, "SELECT name FROM vms WHERE hypervisor_id = ? "
	    "AND seen_run <> ? AND gone_at IS NULL ORDER BY name", DQI(id),
	    DQI(run)) == -1)
		goto out;
	while ((r = mysql_fetch_row(res)) != NULL) {
		c->gone++;
		if (nev++ >= EVENTS_MAX)
			continue;
		msg = xasprintf("VM %s on hypervisor %s is gone: discovery "
		    "no longer finds it", r[0], hname);
		rc = event(m, "vm.gone", msg, cause);
		free(msg);
		if (rc == -1) {
			mysql_free_result(res);
			goto out;
		}
		rc = -1;
	}
	mysql_free_result(res);
	if (nev > EVENTS_MAX) {
		msg = xasprintf("hypervisor %s: %lld VMs gone and %lld back in "
		    "one discovery (only the first %d have events)", hname,
		    c->gone, c->returned, EVENTS_MAX);
		rc = event(m, "vm.gone", msg, cause);
		free(msg);
		if (rc == -1)
			goto out;
		rc = -1;
	}
	if (c->gone > 0 && DQ(m, NULL, cause, "UPDATE vms SET gone_at = "
	    "UTC_TIMESTAMP() WHERE hypervisor_id = ? AND seen_run <> ? AND "
	    "gone_at IS NULL", DQI(id), DQI(run)) == -1)
		goto out;
	rc = 0;
out:
	fbuf_free(&b);
	json_decref(known);
	json_decref(seen);
	free(hname);
	return rc;
}

int
job_discover_save(MYSQL *m, long long id, long long run, json_t *vms,
    struct job_discover_counts *c, char **cause)
{
	if (DQ0(m, NULL, cause, "START TRANSACTION") == -1)
		return -1;
	if (save(m, id, run, vms, c, cause) == -1) {
		(void)DQ0(m, NULL, NULL, "ROLLBACK");
		return -1;
	}
	return DQ0(m, NULL, cause, "COMMIT");
}

/* --- the job */

struct hv {
	long long	 id;
	long long	 run;
	char		*name;
	char		*kind;
	char		*address;
	int		 port;
	char		*uri;
	char		*thumbprint;
	char		*account;	/* NULL: none */
	char		*username;
	char		*sealed;
	char		*auth;
};

static void
hv_free(struct hv *h)
{
	free(h->name);
	free(h->kind);
	free(h->address);
	free(h->uri);
	free(h->thumbprint);
	free(h->account);
	free(h->username);
	free(h->sealed);
	free(h->auth);
}

static char *
dup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int
hv_load(MYSQL *m, struct hv *h, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	if (DQ(m, &res, cause, "SELECT h.name, h.kind, h.address, h.port, "
	    "h.uri, h.thumbprint, a.name, a.username, a.secret, a.auth FROM "
	    "hypervisors h LEFT JOIN accounts a ON a.id = h.account_id WHERE "
	    "h.id = ?", DQI(h->id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "there is no hypervisor with id %lld (it was "
		    "removed)", h->id);
		return -1;
	}
	h->name = xstrdup(r[0]);
	h->kind = xstrdup(r[1]);
	h->address = dup0(r[2]);
	h->port = r[3] != NULL ? atoi(r[3]) : 0;
	h->uri = dup0(r[4]);
	h->thumbprint = dup0(r[5]);
	h->account = dup0(r[6]);
	h->username = dup0(r[7]);
	h->sealed = dup0(r[8]);
	h->auth = dup0(r[9]);
	mysql_free_result(res);
	return 0;
}

/*
 * The outcome into the hypervisor's row.  pending: the thumbprint it
 * presented when that is not the accepted one (NULL: clear it).
 */
static void
hv_status(MYSQL *m, struct hv *h, const char *status, const char *error,
    const char *pending, json_t *about)
{
	char	*why = NULL, *ab = NULL, *err = NULL;

	if (about != NULL)
		ab = json_dumps(about, JSON_COMPACT);
	if (error != NULL)
		err = dbq_u8_cut(error, 16000);
	if (DQ(m, NULL, &why, "UPDATE hypervisors SET status = ?, error = ?, "
	    "pending_thumbprint = ?, about = COALESCE(?, about), "
	    "last_discovery = IF(? = 'connected', UTC_TIMESTAMP(), "
	    "last_discovery), discovering = IF(discovery_run = ?, 0, "
	    "discovering) WHERE id = ?", DQS(status), DQS(err), DQS(pending),
	    DQS(ab), DQS(status), DQI(h->run), DQI(h->id)) == -1) {
		log_warnx("hypervisor %s: cannot record its status: %s",
		    h->name, why);
		free(why);
	}
	free(ab);
	free(err);
}

/* The account's secret, decrypted (NULL and no cause when none). */
static int
hv_secret(struct hv *h, char **secret, char **cause)
{
	*secret = NULL;
	if (h->account == NULL || h->sealed == NULL)
		return 0;
	*secret = secret_decrypt(hv.conf.state_dir, h->account, h->sealed,
	    cause);
	return *secret == NULL ? -1 : 0;
}

static int
disc_vsphere(struct job *j, struct hv *h, int probe, json_t **inv,
    char **pending, int *waiting, char **cause)
{
	struct vsphere_opts	 o;
	char			*seen = NULL, *pw = NULL;
	int			 rc;

	*pending = NULL;
	*waiting = 0;
	job_progress(j, 5, "connecting to vSphere at %s:%d", h->address,
	    h->port);
	if (vsphere_thumbprint(h->address, h->port, 10, &seen, cause) == -1)
		return -1;
	memset(&o, 0, sizeof(o));
	o.host = h->address;
	o.port = h->port;
	o.thumbprint = h->thumbprint;
	o.connect_timeout_s = 10;
	if (h->thumbprint == NULL) {
		*pending = seen;
		*waiting = 1;
		if (probe)
			return 0;
		/* vsphere.c's own words for it (one more handshake). */
		if (vsphere_discover(&o, inv, cause) == 0) {
			json_decref(*inv);
			*inv = NULL;
			set_cause(cause, "the certificate of %s:%d is not "
			    "accepted yet", h->address, h->port);
		}
		return -1;
	}
	if (!vsphere_thumbprint_equal(seen, h->thumbprint))
		*pending = seen;
	else
		free(seen);
	if (h->account == NULL) {
		set_cause(cause, "hypervisor %s has no account: give it a "
		    "vsphere account (havenctl hypervisor edit %s --account "
		    "NAME)", h->name, h->name);
		return -1;
	}
	if (hv_secret(h, &pw, cause) == -1)
		return -1;
	o.username = h->username;
	o.password = pw != NULL ? pw : "";
	job_progress(j, 10, "discovering the machines of %s:%d as %s",
	    h->address, h->port, h->username);
	rc = vsphere_discover(&o, inv, cause);
	secret_free(pw);
	return rc;
}

/* "qemu+ssh://host/system" with "user@" put in when it has none. */
static char *
uri_with_user(const char *uri, const char *user)
{
	const char	*p = strstr(uri, "://"), *auth, *end;

	if (p == NULL || user == NULL || *user == '\0')
		return xstrdup(uri);
	auth = p + 3;
	end = auth + strcspn(auth, "/?");
	if (end == auth || memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return xstrdup(uri);
	return xasprintf("%.*s%s@%s", (int)(auth - uri), uri, user, auth);
}

static int
disc_libvirt(struct job *j, struct hv *h, json_t **inv, char **cause)
{
	struct virt_opts	 o;
	char			*secret = NULL, *uri, *keyfile = NULL, *full;
	int			 fd, rc = -1;
	size_t			 len;

	memset(&o, 0, sizeof(o));
	if (hv_secret(h, &secret, cause) == -1)
		return -1;
	uri = h->auth != NULL && strcmp(h->auth, "none") != 0 ?
	    uri_with_user(h->uri, h->username) : xstrdup(h->uri);
	if (h->auth != NULL && strcmp(h->auth, "ssh-key") == 0 &&
	    secret != NULL) {
		/* libvirt takes a key only as a file (?keyfile=): a private
		 * one in the state directory, for the job's lifetime. */
		keyfile = xasprintf("%s/.discover-key.XXXXXX",
		    hv.conf.state_dir);
		if ((fd = mkstemp(keyfile)) == -1) {
			set_cause(cause, "cannot write the SSH key for "
			    "libvirt: %s: %s", keyfile, strerror(errno));
			free(keyfile);
			keyfile = NULL;
			goto out;
		}
		len = strlen(secret);
		if (write(fd, secret, len) != (ssize_t)len) {
			set_cause(cause, "cannot write the SSH key for "
			    "libvirt: %s: %s", keyfile, strerror(errno));
			close(fd);
			goto out;
		}
		close(fd);
		full = xasprintf("%s%skeyfile=%s", uri, strchr(uri, '?') ?
		    "&" : "?", keyfile);
		free(uri);
		uri = full;
	} else if (h->auth != NULL && strcmp(h->auth, "password") == 0) {
		o.username = h->username;
		o.password = secret;
	}
	o.uri = uri;
	job_progress(j, 10, "discovering the domains of %s", h->uri);
	rc = virt_discover(&o, inv, cause);
out:
	if (keyfile != NULL) {
		(void)unlink(keyfile);
		free(keyfile);
	}
	secret_free(secret);
	free(uri);
	return rc;
}

int
job_discover(struct job *j, json_t *args, json_t **result, char **cause)
{
	struct job_discover_counts	 c;
	struct hv			 h;
	MYSQL				*m;
	json_t				*inv = NULL, *vms, *about;
	char				*pending = NULL;
	uint64_t			 t0 = now_ms(), t1;
	int				 probe, waiting = 0, rc = -1;

	memset(&h, 0, sizeof(h));
	h.id = json_integer_value(json_object_get(args, "hypervisor"));
	h.run = json_integer_value(json_object_get(args, "run"));
	probe = json_is_true(json_object_get(args, "probe"));
	if (h.id <= 0) {
		set_cause(cause, "a discover job needs {\"hypervisor\": id}");
		return -1;
	}
	if ((m = dbq_connect(&hv.conf, cause)) == NULL)
		return -1;
	if (hv_load(m, &h, cause) == -1)
		goto out;
	if (strcmp(h.kind, "vsphere") == 0)
		rc = disc_vsphere(j, &h, probe, &inv, &pending, &waiting,
		    cause);
	else
		rc = disc_libvirt(j, &h, &inv, cause);
	if (waiting) {
		/* Nothing was sent but a handshake: the operator checks the
		 * thumbprint and accepts it. */
		hv_status(m, &h, "pending", rc == 0 ? "waiting for its "
		    "certificate's thumbprint to be accepted" : *cause,
		    pending, NULL);
		if (rc == 0) {
			job_progress(j, 100, "%s presents the SHA-256 "
			    "thumbprint %s: accept it to discover", h.name,
			    pending);
			*result = json_pack("{s:s, s:s, s:s}", "hypervisor",
			    h.name, "status", "pending", "pending_thumbprint",
			    pending);
		}
		goto out;
	}
	if (rc == -1) {
		hv_status(m, &h, "error", *cause, pending, NULL);
		goto out;
	}
	rc = -1;
	vms = json_object_get(inv, "vms");
	t1 = now_ms();
	job_progress(j, 60, "found %zu machine%s on %s in %.1f s; saving",
	    json_array_size(vms), json_array_size(vms) == 1 ? "" : "s",
	    h.name, (double)(t1 - t0) / 1000.0);
	if (job_discover_save(m, h.id, h.run, vms, &c, cause) == -1) {
		hv_status(m, &h, "error", *cause, NULL, NULL);
		goto out;
	}
	about = json_object_get(inv, "about");
	if (about == NULL)
		about = json_object_get(inv, "hypervisor");
	hv_status(m, &h, "connected", NULL, NULL, about);
	job_progress(j, 100, "%lld machine%s on %s (%lld new, %lld gone, "
	    "%lld back), %lld protectable", c.vms, c.vms == 1 ? "" : "s",
	    h.name, c.added, c.gone, c.returned, c.protectable);
	*result = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
	    "hypervisor", h.name, "vms", (json_int_t)c.vms, "added",
	    (json_int_t)c.added, "gone", (json_int_t)c.gone, "returned",
	    (json_int_t)c.returned, "protectable", (json_int_t)c.protectable,
	    "discovery_s", (double)(t1 - t0) / 1000.0, "total_s",
	    (double)(now_ms() - t0) / 1000.0);
	rc = 0;
out:
	json_decref(inv);
	free(pending);
	hv_free(&h);
	mysql_close(m);
	return rc;
}
