/*
 * Database operations for accounts, hypervisor servers and discovered
 * machines (docs/accounts.md).  An account's secret arrives here only
 * sealed (src/common/secret.c, done by control) and never leaves: no
 * answer carries it.  {ref} arguments name a row by id (all digits) or
 * by name, as the API paths do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "db.h"
#include "dbq.h"
#include "disc.h"
#include "log.h"
#include "util.h"

#define NAME_MAX_CHARS	64
/* Machines per answer: a few KB each, the db answer holds 8 MB. */
#define VM_PAGE_DEF	500
#define VM_PAGE_MAX	1000

static const char *const account_kinds[] = { "vsphere", "libvirt", "push",
	NULL };
static const char *const hv_kinds[] = { "vsphere", "libvirt", NULL };
static const char *const auths[] = { "ssh-key", "password", "none", NULL };

/* --- rows to JSON, one table per kind of row */

struct col {
	const char	*sql;
	const char	*key;
	json_t		*(*conv)(const char *);
};

static json_t *
j_list(const char *s)
{
	json_t		*a = json_array();
	const char	*p = s, *e;

	if (s == NULL || *s == '\0')
		return a;
	for (;;) {
		e = strchr(p, ',');
		json_array_append_new(a, json_stringn(p, e ? (size_t)(e - p) :
		    strlen(p)));
		if (e == NULL)
			break;
		p = e + 1;
	}
	return a;
}

static json_t *
row_json(MYSQL_ROW r, const struct col *c, size_t n)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, c[i].key, c[i].conv(r[i]));
	return o;
}

/* "SELECT a, b, c" of a column table. */
static char *
cols_sql(const struct col *c, size_t n)
{
	struct fbuf	b;
	size_t		i;

	fbuf_init(&b);
	fbuf_add(&b, "SELECT ", 7);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, c[i].sql, strlen(c[i].sql));
	}
	fbuf_add(&b, "", 1);
	return (char *)b.data;
}

static const struct col account_cols[] = {
	{ "a.id", "id", dbq_j_int },
	{ "a.name", "name", dbq_j_str },
	{ "a.kind", "kind", dbq_j_str },
	{ "a.username", "username", dbq_j_str },
	{ "a.auth", "auth", dbq_j_str },
	{ "a.sudo", "sudo", dbq_j_bool },
	{ "a.secret IS NOT NULL", "has_secret", dbq_j_bool },
	{ "a.created_at", "created_at", dbq_j_time },
	{ "a.updated_at", "updated_at", dbq_j_time },
	{ "a.secret_changed_at", "secret_changed_at", dbq_j_time },
	{ "(SELECT GROUP_CONCAT(h.name ORDER BY h.name SEPARATOR ',') FROM "
	    "hypervisors h WHERE h.account_id = a.id)", "used_by", j_list },
};
#define ACCOUNT_FROM	" FROM accounts a"

static const struct col hv_cols[] = {
	{ "h.id", "id", dbq_j_int },
	{ "h.name", "name", dbq_j_str },
	{ "h.kind", "kind", dbq_j_str },
	{ "h.address", "address", dbq_j_str },
	{ "h.port", "port", dbq_j_int },
	{ "h.uri", "uri", dbq_j_str },
	{ "a.name", "account", dbq_j_str },
	{ "h.thumbprint", "thumbprint", dbq_j_str },
	{ "h.pending_thumbprint", "pending_thumbprint", dbq_j_str },
	{ "h.status", "status", dbq_j_str },
	{ "h.error", "error", dbq_j_str },
	{ "h.about", "about", dbq_j_json },
	{ "h.last_discovery", "last_discovery", dbq_j_time },
	{ "h.last_attempt", "last_attempt", dbq_j_time },
	{ "h.discovering", "discovering", dbq_j_bool },
	{ "h.discovery_run", "discovery_run", dbq_j_int },
	{ "(SELECT COUNT(*) FROM vms v WHERE v.hypervisor_id = h.id AND "
	    "v.gone_at IS NULL)", "vm_count", dbq_j_int },
	{ "(SELECT COUNT(*) FROM vms v WHERE v.hypervisor_id = h.id AND "
	    "v.gone_at IS NOT NULL)", "gone_count", dbq_j_int },
	{ "(SELECT COUNT(*) FROM vms v WHERE v.hypervisor_id = h.id AND "
	    "v.gone_at IS NULL AND v.protectable = 1)", "protectable_count",
	    dbq_j_int },
	{ "h.created_at", "created_at", dbq_j_time },
	{ "h.updated_at", "updated_at", dbq_j_time },
};
#define HV_FROM	" FROM hypervisors h LEFT JOIN accounts a ON " \
	"a.id = h.account_id"

static const struct col vm_cols[] = {
	{ "v.id", "id", dbq_j_int },
	{ "v.hypervisor_id", "hypervisor_id", dbq_j_int },
	{ "h.name", "hypervisor", dbq_j_str },
	{ "v.name", "name", dbq_j_str },
	{ "v.instance_uuid", "instance_uuid", dbq_j_str },
	{ "v.moref", "moref", dbq_j_str },
	{ "v.bios_uuid", "bios_uuid", dbq_j_str },
	{ "v.power_state", "power_state", dbq_j_str },
	{ "v.guest_os", "guest_os", dbq_j_str },
	{ "v.guest_id", "guest_id", dbq_j_str },
	{ "v.hostname", "hostname", dbq_j_str },
	{ "v.template", "template", dbq_j_bool },
	{ "v.addresses", "addresses", dbq_j_json },
	{ "v.cpus", "cpus", dbq_j_int },
	{ "v.memory_mb", "memory_mb", dbq_j_int },
	{ "v.disks", "disks", dbq_j_json },
	{ "v.nics", "nics", dbq_j_json },
	{ "v.host", "host", dbq_j_str },
	{ "v.datastore", "datastore", dbq_j_str },
	{ "v.folder", "folder", dbq_j_str },
	{ "v.first_seen", "first_seen", dbq_j_time },
	{ "v.last_seen", "last_seen", dbq_j_time },
	{ "v.gone_at", "gone_at", dbq_j_time },
	{ "v.protectable", "protectable", dbq_j_bool },
	{ "v.not_protectable_reason", "not_protectable_reason", dbq_j_str },
};
#define VM_FROM	" FROM vms v JOIN hypervisors h ON h.id = v.hypervisor_id"

/* One row of cols FROM from WHERE where (one '?': ref's id). */
static json_t *
get_one(MYSQL *m, const struct col *c, size_t n, const char *from,
    long long id, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*o;
	char		*sql, *sel = cols_sql(c, n);
	int		 rc;

	sql = xasprintf("%s%s WHERE %s.id = ?", sel, from,
	    c == account_cols ? "a" : "h");
	rc = DQ(m, &res, cause, sql, DQI(id));
	free(sql);
	free(sel);
	if (rc == -1)
		return NULL;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no such row (id %lld)", id);
		return NULL;
	}
	o = row_json(r, c, n);
	mysql_free_result(res);
	return o;
}

/* Every row of cols FROM from (with its ORDER BY) as {key: [...]}. */
static int
get_all(MYSQL *m, const struct col *c, size_t n, const char *from,
    const char *key, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	char		*sql, *sel = cols_sql(c, n);
	int		 rc;

	sql = xasprintf("%s%s", sel, from);
	rc = DQ0(m, &res, cause, sql);
	free(sql);
	free(sel);
	if (rc == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, row_json(r, c, n));
	mysql_free_result(res);
	*result = json_pack("{s:o}", key, a);
	return 0;
}

/* --- arguments */

/* 1..64 letters, digits, '.', '_', '-', starting with a letter or a
 * digit, not all digits (that would read as an id). */
static int
name_ok(const char *what, const char *s, char **cause)
{
	size_t	len = strlen(s);

	if (len == 0 || len > NAME_MAX_CHARS || strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != len || s[0] == '.' || s[0] == '_' ||
	    s[0] == '-' || strspn(s, "0123456789") == len) {
		set_cause(cause, "[400] '%s' is not a valid %s name: use 1 to "
		    "%d letters, digits, '.', '_' or '-', starting with a "
		    "letter or digit, not only digits", s, what,
		    NAME_MAX_CHARS);
		return -1;
	}
	return 0;
}

static int
is_id(const char *ref)
{
	return *ref != '\0' && strspn(ref, "0123456789") == strlen(ref) &&
	    strlen(ref) < 19;
}

/*
 * The id of the row of table ("accounts", "hypervisors") that ref
 * names; with lock, the row is locked for update.
 */
static int
lookup(MYSQL *m, const char *table, const char *what, const char *ref,
    int lock, long long *id, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	char		*sql;
	int		 rc;

	sql = xasprintf("SELECT id FROM %s WHERE %s = ?%s", table,
	    is_id(ref) ? "id" : "name", lock ? " FOR UPDATE" : "");
	if (is_id(ref))
		rc = DQ(m, &res, cause, sql, DQI(strtoll(ref, NULL, 10)));
	else
		rc = DQ(m, &res, cause, sql, DQS(ref));
	free(sql);
	if (rc == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no %s '%s' (see '%s list')", what, ref,
		    what);
		return -1;
	}
	*id = strtoll(r[0], NULL, 10);
	mysql_free_result(res);
	return 0;
}

static int
a_ref(json_t *args, const char *key, const char **ref, char **cause)
{
	if (dbq_a_str(args, key, 1, 64, ref, cause) == -1) {
		free(*cause);
		*cause = xasprintf("[400] '%s' must name a row by id or by "
		    "name", key);
		return -1;
	}
	return 0;
}

/* A boolean argument: -1 absent, else 0 or 1. */
static int
a_bool(json_t *args, const char *key, int *out, char **cause)
{
	json_t	*v = json_object_get(args, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		set_cause(cause, "'%s' must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/*
 * "AA:BB:..." from a SHA-256 thumbprint in any case, with or without
 * colons or spaces (out: 96 bytes).
 */
static int
thumbprint_norm(const char *in, char *out, char **cause)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			 digits[65];
	size_t			 n = 0, i;
	const char		*p;
	int			 c;

	for (p = in; *p != '\0'; p++) {
		if (*p == ':' || *p == ' ')
			continue;
		c = *p >= 'a' && *p <= 'f' ? *p - 32 : *p;
		if (strchr(hex, c) == NULL || c == '\0' || n == 64) {
			set_cause(cause, "[400] '%s' is not a SHA-256 "
			    "thumbprint (32 bytes in hex, AA:BB:...)", in);
			return -1;
		}
		digits[n++] = (char)c;
	}
	if (n != 64) {
		set_cause(cause, "[400] '%s' is not a SHA-256 thumbprint (32 "
		    "bytes in hex, AA:BB:...)", in);
		return -1;
	}
	for (i = 0; i < 32; i++) {
		out[3 * i] = digits[2 * i];
		out[3 * i + 1] = digits[2 * i + 1];
		out[3 * i + 2] = i == 31 ? '\0' : ':';
	}
	return 0;
}

/* --- accounts */

static int
op_account_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	(void)args;
	return get_all(m, account_cols, nitems(account_cols),
	    ACCOUNT_FROM " ORDER BY a.name", "accounts", result, cause);
}

static int
op_account_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*ref;
	long long	 id;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    lookup(m, "accounts", "account", ref, 0, &id, cause) == -1)
		return -1;
	*result = get_one(m, account_cols, nitems(account_cols),
	    ACCOUNT_FROM, id, cause);
	return *result == NULL ? -1 : 0;
}

/*
 * What an account of kind needs: vSphere a user and a password; push a
 * user and a password or key; libvirt whatever its auth says.
 */
static int
account_check(const char *name, const char *kind, const char *user,
    int has_secret, const char *auth, char **cause)
{
	if (strcmp(kind, "libvirt") != 0 && auth != NULL) {
		set_cause(cause, "[400] 'auth' is for libvirt accounts only");
		return -1;
	}
	if (strcmp(kind, "libvirt") == 0) {
		if (auth == NULL)
			auth = "none";
		if (strcmp(auth, "none") != 0 && !has_secret) {
			set_cause(cause, "[400] libvirt account %s with auth "
			    "%s needs a secret (the %s)", name, auth,
			    strcmp(auth, "ssh-key") == 0 ? "private key, PEM" :
			    "password");
			return -1;
		}
		if (strcmp(auth, "none") != 0 && (user == NULL ||
		    *user == '\0')) {
			set_cause(cause, "[400] libvirt account %s with auth "
			    "%s needs a username", name, auth);
			return -1;
		}
		return 0;
	}
	if (user == NULL || *user == '\0') {
		set_cause(cause, "[400] %s account %s needs a username", kind,
		    name);
		return -1;
	}
	if (!has_secret) {
		set_cause(cause, "[400] %s account %s needs a secret (%s)",
		    kind, name, strcmp(kind, "push") == 0 ? "a password or a "
		    "private key in PEM" : "the password");
		return -1;
	}
	return 0;
}

static int
op_account_add(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*name, *kind, *user, *secret, *auth;
	int		 sudo;
	long long	 id;

	if (dbq_a_str(args, "name", 1, NAME_MAX_CHARS, &name, cause) == -1 ||
	    name_ok("account", name, cause) == -1 ||
	    dbq_a_enum(args, "kind", 1, account_kinds, &kind, cause) == -1 ||
	    dbq_a_str(args, "username", 0, 255, &user, cause) == -1 ||
	    dbq_a_str(args, "secret", 0, 0, &secret, cause) == -1 ||
	    dbq_a_enum(args, "auth", 0, auths, &auth, cause) == -1 ||
	    a_bool(args, "sudo", &sudo, cause) == -1)
		return -1;
	if (secret != NULL && *secret == '\0')
		secret = NULL;
	if (strcmp(kind, "libvirt") == 0 && auth == NULL)
		auth = secret == NULL ? "none" : "password";
	if (sudo != -1 && strcmp(kind, "push") != 0) {
		set_cause(cause, "[400] 'sudo' is for push accounts only");
		return -1;
	}
	if (account_check(name, kind, user, secret != NULL, auth,
	    cause) == -1)
		return -1;
	if (DQ(m, NULL, cause, "INSERT INTO accounts (name, kind, username, "
	    "secret, auth, sudo, created_at, updated_at, secret_changed_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), "
	    "IF(? IS NULL, NULL, UTC_TIMESTAMP()))", DQS(name), DQS(kind),
	    DQS(user != NULL ? user : ""), DQS(secret), DQS(auth),
	    DQI(sudo == 1), DQS(secret)) == -1) {
		if (mysql_errno(m) == ER_DUP_ENTRY)
			set_cause(cause, "[409] an account named %s already "
			    "exists: edit it (havenctl account edit %s) or "
			    "choose another name", name, name);
		return -1;
	}
	id = (long long)mysql_insert_id(m);
	*result = get_one(m, account_cols, nitems(account_cols),
	    ACCOUNT_FROM, id, cause);
	return *result == NULL ? -1 : 0;
}

static int
op_account_edit(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*ref, *user, *secret, *auth;
	char		*name = NULL, *kind = NULL, *cur_user = NULL;
	char		*cur_auth = NULL;
	long long	 id;
	int		 sudo, has_secret, rc = -1;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    dbq_a_str(args, "username", 0, 255, &user, cause) == -1 ||
	    dbq_a_str(args, "secret", 0, 0, &secret, cause) == -1 ||
	    dbq_a_enum(args, "auth", 0, auths, &auth, cause) == -1 ||
	    a_bool(args, "sudo", &sudo, cause) == -1)
		return -1;
	if (json_object_get(args, "name") != NULL ||
	    json_object_get(args, "kind") != NULL) {
		set_cause(cause, "[400] an account's name and kind cannot "
		    "change (its secret is sealed to its name): add a new "
		    "account and move the hypervisors to it");
		return -1;
	}
	if (secret != NULL && *secret == '\0')
		secret = NULL;
	if (lookup(m, "accounts", "account", ref, 1, &id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT name, kind, username, auth, "
	    "secret IS NOT NULL FROM accounts WHERE id = ?", DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no account '%s'", ref);
		return -1;
	}
	name = xstrdup(r[0]);
	kind = xstrdup(r[1]);
	cur_user = xstrdup(r[2]);
	cur_auth = r[3] != NULL ? xstrdup(r[3]) : NULL;
	has_secret = strcmp(r[4], "1") == 0;
	mysql_free_result(res);
	if (sudo != -1 && strcmp(kind, "push") != 0) {
		set_cause(cause, "[400] 'sudo' is for push accounts only");
		goto out;
	}
	/* A sealed secret opens only under the name it was sealed to. */
	if (secret != NULL && strcmp(json_string_value(json_object_get(args,
	    "sealed_for")) ? json_string_value(json_object_get(args,
	    "sealed_for")) : "", name) != 0) {
		set_cause(cause, "the secret was sealed for another account "
		    "than %s; try again", name);
		goto out;
	}
	if (account_check(name, kind, user != NULL ? user : cur_user,
	    secret != NULL || (has_secret && (auth == NULL ||
	    strcmp(auth, "none") != 0)), auth != NULL ? auth : cur_auth,
	    cause) == -1)
		goto out;
	if (DQ(m, NULL, cause, "UPDATE accounts SET "
	    "username = COALESCE(?, username), "
	    "auth = COALESCE(?, auth), "
	    "sudo = IF(? < 0, sudo, ?), "
	    "secret = IF(? = 'none', NULL, COALESCE(?, secret)), "
	    "secret_changed_at = IF(? IS NULL, secret_changed_at, "
	    "UTC_TIMESTAMP()), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ?",
	    DQS(user), DQS(auth), DQI(sudo), DQI(sudo == 1),
	    DQS(auth != NULL ? auth : ""), DQS(secret), DQS(secret),
	    DQI(id)) == -1)
		goto out;
	*result = get_one(m, account_cols, nitems(account_cols),
	    ACCOUNT_FROM, id, cause);
	rc = *result == NULL ? -1 : 0;
out:
	free(name);
	free(kind);
	free(cur_user);
	free(cur_auth);
	return rc;
}

static int
op_account_remove(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*ref;
	char		*name;
	long long	 id;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    lookup(m, "accounts", "account", ref, 1, &id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT a.name, (SELECT GROUP_CONCAT(h.name "
	    "ORDER BY h.name SEPARATOR ', ') FROM hypervisors h WHERE "
	    "h.account_id = a.id) FROM accounts a WHERE a.id = ?",
	    DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no account '%s'", ref);
		return -1;
	}
	if (r[1] != NULL) {
		set_cause(cause, "[409] account %s is used by hypervisor %s: "
		    "remove %s or give %s another account first (havenctl "
		    "hypervisor edit NAME --account OTHER)", r[0], r[1],
		    strchr(r[1], ',') ? "them" : "it",
		    strchr(r[1], ',') ? "them" : "it");
		mysql_free_result(res);
		return -1;
	}
	name = xstrdup(r[0]);
	mysql_free_result(res);
	if (DQ(m, NULL, cause, "DELETE FROM accounts WHERE id = ?",
	    DQI(id)) == -1) {
		free(name);
		return -1;
	}
	*result = json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name);
	free(name);
	return 0;
}

/* --- hypervisors */

static int
hv_get(MYSQL *m, long long id, json_t **out, char **cause)
{
	*out = get_one(m, hv_cols, nitems(hv_cols), HV_FROM, id, cause);
	return *out == NULL ? -1 : 0;
}

/*
 * Flag a discovery of id as running, unless one already is: *run is
 * the new run number, *started 0 when another run is still going.
 */
static int
hv_begin(MYSQL *m, long long id, long long *run, int *started, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;

	if (DQ(m, NULL, cause, "UPDATE hypervisors SET discovering = 1, "
	    "last_attempt = UTC_TIMESTAMP(), "
	    "discovery_run = discovery_run + 1 WHERE id = ? AND "
	    "(discovering = 0 OR last_attempt < UTC_TIMESTAMP() - "
	    "INTERVAL ? SECOND)", DQI(id), DQI(DISC_STALE)) == -1)
		return -1;
	*started = mysql_affected_rows(m) == 1;
	if (DQ(m, &res, cause, "SELECT discovery_run FROM hypervisors WHERE "
	    "id = ?", DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no hypervisor with id %lld", id);
		return -1;
	}
	*run = strtoll(r[0], NULL, 10);
	mysql_free_result(res);
	return 0;
}

/*
 * {"hypervisor": row, "run", "started", "probe"}: what the API needs
 * to start the discovery job that hv_begin() flagged.
 */
static int
hv_begin_result(MYSQL *m, long long id, int probe_ok, json_t **result,
    char **cause)
{
	json_t		*h;
	long long	 run = 0;
	int		 started = 0, probe;

	if (hv_begin(m, id, &run, &started, cause) == -1)
		return -1;
	if (hv_get(m, id, &h, cause) == -1)
		return -1;
	/* Adding (or moving) a server only fetches the thumbprint to
	 * accept; a refresh before that fails, saying so. */
	probe = probe_ok && strcmp(json_string_value(json_object_get(h,
	    "kind")), "vsphere") == 0 && json_is_null(json_object_get(h,
	    "thumbprint"));
	*result = json_pack("{s:o, s:I, s:b, s:b}", "hypervisor", h, "run",
	    (json_int_t)run, "started", started, "probe", probe);
	return 0;
}

/* The account ref for a hypervisor of kind, or NULL for none. */
static int
hv_account(MYSQL *m, const char *kind, const char *ref, long long *id,
    char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	int		 rc = 0;

	*id = 0;
	if (ref == NULL || *ref == '\0') {
		if (strcmp(kind, "vsphere") == 0) {
			set_cause(cause, "[400] a vSphere server needs an "
			    "account (a vsphere account: havenctl account add "
			    "NAME --kind vsphere ...)");
			return -1;
		}
		return 0;
	}
	if (lookup(m, "accounts", "account", ref, 0, id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT name, kind FROM accounts WHERE id = ?",
	    DQI(*id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no account '%s'", ref);
		return -1;
	}
	if (strcmp(r[1], kind) != 0) {
		set_cause(cause, "[400] account %s is a %s account; a %s "
		    "server needs a %s account", r[0], r[1], kind, kind);
		rc = -1;
	}
	mysql_free_result(res);
	return rc;
}

/* A host name or address for a vSphere server: no scheme, path or port. */
static int
address_ok(const char *a, char **cause)
{
	size_t	len = strlen(a);

	if (len == 0 || len > 253 || strspn(a, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != len) {
		set_cause(cause, "[400] '%s' is not a host name or address "
		    "(give the port apart, as 'port')", a);
		return -1;
	}
	return 0;
}

static int
uri_ok(const char *u, char **cause)
{
	const char	*p;

	if ((p = strstr(u, "://")) == NULL || p == u) {
		set_cause(cause, "[400] '%s' is not a libvirt URI (such as "
		    "qemu:///system or qemu+ssh://root@host/system)", u);
		return -1;
	}
	for (p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '\'' || *p == '"') {
			set_cause(cause, "[400] the libvirt URI '%s' has "
			    "spaces or quotes in it", u);
			return -1;
		}
	return 0;
}

/* address, port, uri by kind: what is missing or does not belong. */
static int
hv_where_ok(const char *kind, const char *address, long long port,
    const char *uri, char **cause)
{
	if (strcmp(kind, "vsphere") == 0) {
		if (uri != NULL) {
			set_cause(cause, "[400] a vSphere server has an "
			    "address and a port, not a URI");
			return -1;
		}
		if (address == NULL) {
			set_cause(cause, "[400] a vSphere server needs an "
			    "address (vCenter or ESXi host name or IP)");
			return -1;
		}
		return address_ok(address, cause);
	}
	if (address != NULL || port > 0) {
		set_cause(cause, "[400] a libvirt host is reached by its URI "
		    "(qemu+ssh://user@host/system), not by address and "
		    "port");
		return -1;
	}
	if (uri == NULL) {
		set_cause(cause, "[400] a libvirt host needs a URI (such as "
		    "qemu:///system or qemu+ssh://root@host/system)");
		return -1;
	}
	return uri_ok(uri, cause);
}

static int
op_hypervisor_add(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*name, *kind, *address, *uri, *acct, *thumb;
	char		 tp[96];
	long long	 port, aid, id;

	if (dbq_a_str(args, "name", 1, NAME_MAX_CHARS, &name, cause) == -1 ||
	    name_ok("hypervisor", name, cause) == -1 ||
	    dbq_a_enum(args, "kind", 1, hv_kinds, &kind, cause) == -1 ||
	    dbq_a_str(args, "address", 0, 253, &address, cause) == -1 ||
	    dbq_a_int(args, "port", 0, 1, 65535, 0, &port, cause) == -1 ||
	    dbq_a_str(args, "uri", 0, 1024, &uri, cause) == -1 ||
	    dbq_a_str(args, "account", 0, 64, &acct, cause) == -1 ||
	    dbq_a_str(args, "thumbprint", 0, 200, &thumb, cause) == -1)
		return -1;
	if (hv_where_ok(kind, address, port, uri, cause) == -1)
		return -1;
	if (thumb != NULL && (strcmp(kind, "vsphere") != 0 ||
	    thumbprint_norm(thumb, tp, cause) == -1)) {
		if (strcmp(kind, "vsphere") != 0)
			set_cause(cause, "[400] only vSphere servers have a "
			    "thumbprint");
		return -1;
	}
	if (strcmp(kind, "vsphere") == 0 && port == 0)
		port = 443;
	if (hv_account(m, kind, acct, &aid, cause) == -1)
		return -1;
	if (DQ(m, NULL, cause, "INSERT INTO hypervisors (name, kind, address, "
	    "port, uri, account_id, thumbprint, status, created_at, "
	    "updated_at) VALUES (?, ?, ?, IF(? = 0, NULL, ?), ?, "
	    "IF(? = 0, NULL, ?), ?, 'new', UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP())", DQS(name), DQS(kind), DQS(address), DQI(port),
	    DQI(port), DQS(uri), DQI(aid), DQI(aid),
	    DQS(thumb != NULL ? tp : NULL)) == -1) {
		if (mysql_errno(m) == ER_DUP_ENTRY)
			set_cause(cause, "[409] a hypervisor named %s already "
			    "exists: choose another name, or remove that one "
			    "first", name);
		return -1;
	}
	id = (long long)mysql_insert_id(m);
	return hv_begin_result(m, id, 1, result, cause);
}

static int
op_hypervisor_edit(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*ref, *address, *uri, *acct;
	char		*kind = NULL, *cur_addr = NULL, *cur_uri = NULL;
	long long	 port, cur_port, id, aid = -1;
	int		 moved, rc = -1;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    dbq_a_str(args, "address", 0, 253, &address, cause) == -1 ||
	    dbq_a_int(args, "port", 0, 1, 65535, 0, &port, cause) == -1 ||
	    dbq_a_str(args, "uri", 0, 1024, &uri, cause) == -1 ||
	    dbq_a_str(args, "account", 0, 64, &acct, cause) == -1)
		return -1;
	if (json_object_get(args, "name") != NULL ||
	    json_object_get(args, "kind") != NULL) {
		set_cause(cause, "[400] a hypervisor's name and kind cannot "
		    "change: remove it and add it anew");
		return -1;
	}
	if (lookup(m, "hypervisors", "hypervisor", ref, 1, &id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT kind, address, port, uri FROM "
	    "hypervisors WHERE id = ?", DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no hypervisor '%s'", ref);
		return -1;
	}
	kind = xstrdup(r[0]);
	cur_addr = r[1] != NULL ? xstrdup(r[1]) : NULL;
	cur_port = r[2] != NULL ? strtoll(r[2], NULL, 10) : 0;
	cur_uri = r[3] != NULL ? xstrdup(r[3]) : NULL;
	mysql_free_result(res);
	if (hv_where_ok(kind, address != NULL ? address : cur_addr,
	    strcmp(kind, "vsphere") == 0 ? 0 : port,
	    uri != NULL ? uri : cur_uri, cause) == -1)
		goto out;
	if (strcmp(kind, "libvirt") == 0 && port > 0) {
		set_cause(cause, "[400] a libvirt host has a URI, not a port");
		goto out;
	}
	if (acct != NULL && hv_account(m, kind, acct, &aid, cause) == -1)
		goto out;
	if (acct != NULL && *acct == '\0')
		aid = 0;
	/* Another address is another certificate: accept it anew. */
	moved = strcmp(kind, "vsphere") == 0 && ((address != NULL &&
	    strcmp(address, cur_addr) != 0) || (port > 0 &&
	    port != cur_port));
	if (DQ(m, NULL, cause, "UPDATE hypervisors SET "
	    "address = COALESCE(?, address), "
	    "port = IF(? = 0, port, ?), "
	    "uri = COALESCE(?, uri), "
	    "account_id = IF(? < 0, account_id, IF(? = 0, NULL, ?)), "
	    "thumbprint = IF(?, NULL, thumbprint), "
	    "pending_thumbprint = IF(?, NULL, pending_thumbprint), "
	    "status = IF(?, 'new', status), error = IF(?, NULL, error), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ?",
	    DQS(address), DQI(port), DQI(port), DQS(uri), DQI(aid), DQI(aid),
	    DQI(aid), DQI(moved), DQI(moved), DQI(moved), DQI(moved),
	    DQI(id)) == -1)
		goto out;
	rc = hv_begin_result(m, id, 1, result, cause);
out:
	free(kind);
	free(cur_addr);
	free(cur_uri);
	return rc;
}

static int
op_hypervisor_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	(void)args;
	return get_all(m, hv_cols, nitems(hv_cols), HV_FROM " ORDER BY h.name",
	    "hypervisors", result, cause);
}

/*
 * Machines of hypervisor hv (0: all) as {"vms", "total", "offset",
 * "limit"} into out: a page, since a vCenter's thousands of machines
 * with their disks and NICs would not fit in one answer.
 */
static int
vm_list(MYSQL *m, long long hv, int with_gone, json_t *args, json_t *out,
    char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a;
	long long	 limit, offset, total;
	char		*sql, *sel = cols_sql(vm_cols, nitems(vm_cols));
	int		 rc;

	if (dbq_a_int(args, "limit", 0, 1, VM_PAGE_MAX, VM_PAGE_DEF, &limit,
	    cause) == -1 ||
	    dbq_a_int(args, "offset", 0, 0, INT32_MAX, 0, &offset,
	    cause) == -1) {
		free(sel);
		return -1;
	}
	if (DQ(m, &res, cause, "SELECT COUNT(*) FROM vms v WHERE (? = 0 OR "
	    "v.hypervisor_id = ?) AND (? OR v.gone_at IS NULL)", DQI(hv),
	    DQI(hv), DQI(with_gone)) == -1) {
		free(sel);
		return -1;
	}
	r = dbq_row(&res);
	total = r != NULL ? strtoll(r[0], NULL, 10) : 0;
	if (res != NULL)
		mysql_free_result(res);
	sql = xasprintf("%s" VM_FROM " WHERE (? = 0 OR v.hypervisor_id = ?) "
	    "AND (? OR v.gone_at IS NULL) ORDER BY h.name, v.name, v.id "
	    "LIMIT ? OFFSET ?", sel);
	rc = DQ(m, &res, cause, sql, DQI(hv), DQI(hv), DQI(with_gone),
	    DQI(limit), DQI(offset));
	free(sql);
	free(sel);
	if (rc == -1)
		return -1;
	a = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(a, row_json(r, vm_cols,
		    nitems(vm_cols)));
	mysql_free_result(res);
	json_object_set_new(out, "vms", a);
	json_object_set_new(out, "total", json_integer(total));
	json_object_set_new(out, "offset", json_integer(offset));
	json_object_set_new(out, "limit", json_integer(limit));
	return 0;
}

static int
op_hypervisor_get(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*ref;
	json_t		*h, *page;
	long long	 id;
	int		 with_vms;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    a_bool(args, "vms", &with_vms, cause) == -1 ||
	    lookup(m, "hypervisors", "hypervisor", ref, 0, &id, cause) == -1 ||
	    hv_get(m, id, &h, cause) == -1)
		return -1;
	if (with_vms == 1) {
		page = json_object();
		if (vm_list(m, id, 1, args, page, cause) == -1) {
			json_decref(page);
			json_decref(h);
			return -1;
		}
		json_object_set(h, "vms", json_object_get(page, "vms"));
		json_object_set(h, "vms_total", json_object_get(page, "total"));
		json_object_set(h, "vms_offset", json_object_get(page,
		    "offset"));
		json_decref(page);
	}
	*result = h;
	return 0;
}

/*
 * Machines under hypervisor id that are protected: a machine with a
 * policy (machines.policy_id, once policies exist) that is one of its
 * VMs by host name, VM name or address.  NULL when there are none.
 */
static int
hv_protected(MYSQL *m, long long id, char **names, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	struct fbuf	 b;
	int		 n = 0;

	*names = NULL;
	if (DQ0(m, &res, cause, "SELECT COUNT(*) FROM information_schema."
	    "COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "
	    "'machines' AND COLUMN_NAME = 'policy_id'") == -1)
		return -1;
	r = dbq_row(&res);
	if (r == NULL || strcmp(r[0], "0") == 0) {
		if (res != NULL)
			mysql_free_result(res);
		return 0;
	}
	mysql_free_result(res);
	if (DQ(m, &res, cause, "SELECT DISTINCT v.name, m.hostname FROM vms v "
	    "JOIN machines m ON m.policy_id IS NOT NULL AND "
	    "m.status <> 'revoked' AND (LOWER(m.hostname) = LOWER(v.name) OR "
	    "LOWER(m.hostname) = LOWER(v.hostname) OR "
	    "LOWER(SUBSTRING_INDEX(m.hostname, '.', 1)) = LOWER(v.name) OR "
	    "(m.address <> '' AND v.addresses IS NOT NULL AND "
	    "JSON_CONTAINS(v.addresses, JSON_QUOTE(m.address)))) "
	    "WHERE v.hypervisor_id = ? ORDER BY v.name LIMIT 21",
	    DQI(id)) == -1)
		return -1;
	fbuf_init(&b);
	while ((r = mysql_fetch_row(res)) != NULL) {
		if (n++ == 20) {
			fbuf_add(&b, ", ...", 5);
			break;
		}
		if (n > 1)
			fbuf_add(&b, ", ", 2);
		fbuf_add(&b, r[0], strlen(r[0]));
		if (strcmp(r[0], r[1]) != 0) {
			fbuf_add(&b, " (", 2);
			fbuf_add(&b, r[1], strlen(r[1]));
			fbuf_add(&b, ")", 1);
		}
	}
	mysql_free_result(res);
	if (n > 0) {
		fbuf_add(&b, "", 1);
		*names = (char *)b.data;
	} else
		fbuf_free(&b);
	return 0;
}

static int
op_hypervisor_remove(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*ref;
	char		*name, *prot;
	long long	 id, vms;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    lookup(m, "hypervisors", "hypervisor", ref, 1, &id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT h.name, (SELECT COUNT(*) FROM vms v "
	    "WHERE v.hypervisor_id = h.id) FROM hypervisors h WHERE h.id = ?",
	    DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no hypervisor '%s'", ref);
		return -1;
	}
	name = xstrdup(r[0]);
	vms = strtoll(r[1], NULL, 10);
	mysql_free_result(res);
	if (hv_protected(m, id, &prot, cause) == -1) {
		free(name);
		return -1;
	}
	if (prot != NULL) {
		set_cause(cause, "[409] hypervisor %s has protected machines: "
		    "%s; stop protecting them first", name, prot);
		free(prot);
		free(name);
		return -1;
	}
	if (DQ(m, NULL, cause, "DELETE FROM hypervisors WHERE id = ?",
	    DQI(id)) == -1) {
		free(name);
		return -1;
	}
	*result = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)id, "name",
	    name, "vms", (json_int_t)vms);
	free(name);
	return 0;
}

static int
op_hypervisor_accept(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	const char	*ref, *thumb;
	char		 tp[96], *name = NULL;
	long long	 id;
	int		 rc = -1;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    dbq_a_str(args, "thumbprint", 0, 200, &thumb, cause) == -1 ||
	    (thumb != NULL && thumbprint_norm(thumb, tp, cause) == -1) ||
	    lookup(m, "hypervisors", "hypervisor", ref, 1, &id, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT name, kind, pending_thumbprint, "
	    "thumbprint FROM hypervisors WHERE id = ?", DQI(id)) == -1)
		return -1;
	if ((r = dbq_row(&res)) == NULL) {
		set_cause(cause, "[404] no hypervisor '%s'", ref);
		return -1;
	}
	name = xstrdup(r[0]);
	if (strcmp(r[1], "vsphere") != 0) {
		set_cause(cause, "[400] %s is a libvirt host: only vSphere "
		    "servers have a certificate thumbprint to accept", name);
		goto out;
	}
	if (thumb == NULL) {
		if (r[2] == NULL) {
			set_cause(cause, "[409] there is no new thumbprint of "
			    "%s to accept%s: refresh it (havenctl hypervisor "
			    "refresh %s) to fetch the one it presents, or "
			    "give the thumbprint", name, r[3] != NULL ?
			    " (the accepted one is still current)" : "", name);
			goto out;
		}
		snprintf(tp, sizeof(tp), "%s", r[2]);
	}
	mysql_free_result(res);
	res = NULL;
	if (DQ(m, NULL, cause, "UPDATE hypervisors SET thumbprint = ?, "
	    "pending_thumbprint = NULL, status = IF(status = 'pending', 'new', "
	    "status), error = IF(status = 'new', NULL, error), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ?", DQS(tp),
	    DQI(id)) == -1)
		goto out;
	rc = hv_begin_result(m, id, 0, result, cause);
	if (rc == 0)
		json_object_set_new(*result, "thumbprint", json_string(tp));
out:
	if (res != NULL)
		mysql_free_result(res);
	free(name);
	return rc;
}

static int
op_hypervisor_begin(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*ref;
	long long	 id;

	if (a_ref(args, "ref", &ref, cause) == -1 ||
	    lookup(m, "hypervisors", "hypervisor", ref, 1, &id, cause) == -1)
		return -1;
	return hv_begin_result(m, id, 0, result, cause);
}

/* The job of run ended without recording its outcome (it failed to
 * start, or its process died). */
static int
op_hypervisor_job_failed(MYSQL *m, json_t *args, json_t **result,
    char **cause)
{
	const char	*err;
	long long	 id, run;

	if (dbq_a_int(args, "id", 1, 1, INT64_MAX, 0, &id, cause) == -1 ||
	    dbq_a_int(args, "run", 1, 0, INT32_MAX, 0, &run, cause) == -1 ||
	    dbq_a_str(args, "error", 1, 0, &err, cause) == -1)
		return -1;
	if (DQ(m, NULL, cause, "UPDATE hypervisors SET discovering = 0, "
	    "status = 'error', error = ? WHERE id = ? AND discovery_run = ? "
	    "AND discovering = 1", DQS(err), DQI(id), DQI(run)) == -1)
		return -1;
	*result = json_pack("{s:b}", "recorded", mysql_affected_rows(m) == 1);
	return 0;
}

/*
 * Hypervisors whose last attempt is older than interval seconds (and
 * that can be discovered: libvirt, or vSphere with an accepted
 * thumbprint), flagged as running, at most max running at once.
 */
static int
op_hypervisor_due(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	json_t		*a, *ids;
	size_t		 i;
	long long	 interval, max, running, run, id;
	int		 started;

	if (dbq_a_int(args, "interval", 1, 1, 86400 * 365, 0, &interval,
	    cause) == -1 ||
	    dbq_a_int(args, "max", 1, 1, 1000, 0, &max, cause) == -1)
		return -1;
	if (DQ(m, &res, cause, "SELECT COUNT(*) FROM hypervisors WHERE "
	    "discovering = 1 AND last_attempt >= UTC_TIMESTAMP() - "
	    "INTERVAL ? SECOND", DQI(DISC_STALE)) == -1)
		return -1;
	r = dbq_row(&res);
	running = r != NULL ? strtoll(r[0], NULL, 10) : 0;
	if (res != NULL)
		mysql_free_result(res);
	a = json_array();
	if (running >= max) {
		*result = json_pack("{s:o}", "runs", a);
		return 0;
	}
	if (DQ(m, &res, cause, "SELECT id FROM hypervisors WHERE "
	    "(kind = 'libvirt' OR thumbprint IS NOT NULL) AND "
	    "(discovering = 0 OR last_attempt < UTC_TIMESTAMP() - "
	    "INTERVAL ? SECOND) AND (last_attempt IS NULL OR last_attempt < "
	    "UTC_TIMESTAMP() - INTERVAL ? SECOND) ORDER BY last_attempt "
	    "IS NOT NULL, last_attempt, id LIMIT ? FOR UPDATE",
	    DQI(DISC_STALE), DQI(interval), DQI(max - running)) == -1) {
		json_decref(a);
		return -1;
	}
	ids = json_array();
	while ((r = mysql_fetch_row(res)) != NULL)
		json_array_append_new(ids, json_integer(strtoll(r[0], NULL,
		    10)));
	mysql_free_result(res);
	for (i = 0; i < json_array_size(ids); i++) {
		id = json_integer_value(json_array_get(ids, i));
		if (hv_begin(m, id, &run, &started, cause) == -1) {
			json_decref(ids);
			json_decref(a);
			return -1;
		}
		if (started)
			json_array_append_new(a, json_pack("{s:I, s:I}", "id",
			    (json_int_t)id, "run", (json_int_t)run));
	}
	json_decref(ids);
	*result = json_pack("{s:o}", "runs", a);
	return 0;
}

/* --- discovered machines */

static int
op_vm_list(MYSQL *m, json_t *args, json_t **result, char **cause)
{
	const char	*ref;
	long long	 id = 0;
	int		 gone;

	if (dbq_a_str(args, "hypervisor", 0, 64, &ref, cause) == -1 ||
	    a_bool(args, "gone", &gone, cause) == -1)
		return -1;
	if (ref != NULL && lookup(m, "hypervisors", "hypervisor", ref, 0, &id,
	    cause) == -1)
		return -1;
	*result = json_object();
	if (vm_list(m, id, gone != 0, args, *result, cause) == -1) {
		json_decref(*result);
		*result = NULL;
		return -1;
	}
	return 0;
}

const struct db_op db_ops_disc[] = {
	{ "account.list",		op_account_list },
	{ "account.get",		op_account_get },
	{ "account.add",		op_account_add },
	{ "account.edit",		op_account_edit },
	{ "account.remove",		op_account_remove },
	{ "hypervisor.list",		op_hypervisor_list },
	{ "hypervisor.get",		op_hypervisor_get },
	{ "hypervisor.add",		op_hypervisor_add },
	{ "hypervisor.edit",		op_hypervisor_edit },
	{ "hypervisor.remove",		op_hypervisor_remove },
	{ "hypervisor.accept",		op_hypervisor_accept },
	{ "hypervisor.begin",		op_hypervisor_begin },
	{ "hypervisor.job_failed",	op_hypervisor_job_failed },
	{ "hypervisor.due",		op_hypervisor_due },
	{ "vm.list",			op_vm_list },
	{ NULL, NULL }
};
