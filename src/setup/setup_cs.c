/*
 * CS mode: the database and its user, the config, then havend's own
 * code for the rest (migrate.c for the schema, pki.c for the CA, the
 * certificates and the passphrase, db_ops.c and session.c for the admin
 * account), so that an appliance set up here is exactly what havend
 * would have made itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "control.h"
#include "db.h"
#include "dbq.h"
#include "migrate.h"
#include "pki.h"
#include "secret.h"
#include "setup.h"
#include "sqlfiles.h"
#include "util.h"

#define CS_ADMIN	"admin"

/* Where [MySQLCredentials] points, for messages. */
static char *
cs_db_where(const struct setup *s)
{
	if (s->my.socket != NULL)
		return xstrdup(s->my.socket);
	if (s->my.host != NULL)
		return xasprintf("%s:%lld", s->my.host,
		    s->my.port != 0 ? s->my.port : 3306);
	return xstrdup("localhost (the server's unix socket)");
}

/* root, with the root password, or unix-socket authentication. */
static MYSQL *
cs_db_root(struct setup *s, char **cause)
{
	MYSQL		*m;
	unsigned int	 ct = 10, io = 60;
	const char	*pw = *s->my.root_pw != '\0' ? s->my.root_pw : NULL;
	char		*where;

	if ((m = mysql_init(NULL)) == NULL) {
		set_cause(cause, "mysql_init: out of memory");
		return NULL;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(m, s->my.host != NULL ? s->my.host :
	    "localhost", "root", pw, NULL, s->my.host != NULL ?
	    (unsigned int)(s->my.port != 0 ? s->my.port : 3306) : 0,
	    s->my.socket, 0) != NULL)
		return m;
	where = cs_db_where(s);
	if (mysql_errno(m) == ER_ACCESS_DENIED_ERROR)
		set_cause(cause, "MariaDB at %s refused root: %s: check "
		    "MySQLRootPassword in %s (empty: unix-socket "
		    "authentication, which works only as the system's root)",
		    where, mysql_error(m), s->o.mysql_file);
	else
		set_cause(cause, "cannot connect to MariaDB at %s: %s: check "
		    "that MariaDB is running there and that MySQLHost and "
		    "MySQLPort (or MySQLSocket) in %s are right", where,
		    mysql_error(m), s->o.mysql_file);
	free(where);
	mysql_close(m);
	return NULL;
}

static long long
cs_count(MYSQL *m, const char *sql, const char *arg, char **cause)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 r;
	long long	 n;
	int		 rc;

	if (arg != NULL)
		rc = DQ(m, &res, cause, sql, DQS(arg));
	else
		rc = DQ0(m, &res, cause, sql);
	if (rc == -1)
		return -1;
	r = dbq_row(&res);
	n = r != NULL && r[0] != NULL ? atoll(r[0]) : 0;
	if (res != NULL)
		mysql_free_result(res);
	return n;
}

/* The database, both accounts with the password, and their grants. */
static int
cs_db_ready(MYSQL *m, const char *pw, char **cause)
{
	long long	n;

	if ((n = cs_count(m, "SELECT COUNT(*) FROM information_schema."
	    "SCHEMATA WHERE SCHEMA_NAME = 'haven'", NULL, cause)) != 1)
		return n == -1 ? -1 : 0;
	if ((n = cs_count(m, "SELECT COUNT(*) FROM mysql.user WHERE User = "
	    "'haven' AND Host IN ('localhost', '127.0.0.1') AND "
	    "authentication_string = PASSWORD(?)", pw, cause)) != 2)
		return n == -1 ? -1 : 0;
	if ((n = cs_count(m, "SELECT COUNT(*) FROM mysql.db WHERE User = "
	    "'haven' AND Db = 'haven' AND Host IN ('localhost', "
	    "'127.0.0.1') AND Select_priv = 'Y' AND Insert_priv = 'Y' AND "
	    "Update_priv = 'Y' AND Delete_priv = 'Y' AND Create_priv = 'Y' "
	    "AND Drop_priv = 'Y' AND Alter_priv = 'Y' AND Index_priv = 'Y' "
	    "AND References_priv = 'Y'", NULL, cause)) != 2)
		return n == -1 ? -1 : 0;
	return 1;
}

/*
 * Step: database `haven`, user `haven`@localhost and @127.0.0.1 with
 * MySQLUserPassword (a new password replaces the old; nothing is ever
 * dropped), and the password file havend reads.
 */
static int
cs_step_db(struct setup *s, char **cause)
{
	static const char *const hosts[] = { "localhost", "127.0.0.1" };
	MYSQL		*m;
	char		*line, *why = NULL;
	size_t		 i;
	int		 ready, rc = -1, frc;

	if ((m = cs_db_root(s, cause)) == NULL)
		return -1;
	if ((ready = cs_db_ready(m, s->my.user_pw, &why)) == -1)
		goto fail;
	if (!ready) {
		if (DQ0(m, NULL, &why, "CREATE DATABASE IF NOT EXISTS haven "
		    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci") == -1)
			goto fail;
		for (i = 0; i < nitems(hosts); i++) {
			if (DQ(m, NULL, &why, "CREATE USER IF NOT EXISTS "
			    "'haven'@? IDENTIFIED BY ?", DQS(hosts[i]),
			    DQS(s->my.user_pw)) == -1 ||
			    DQ(m, NULL, &why, "ALTER USER 'haven'@? "
			    "IDENTIFIED BY ?", DQS(hosts[i]),
			    DQS(s->my.user_pw)) == -1 ||
			    DQ(m, NULL, &why, "GRANT ALL ON haven.* TO "
			    "'haven'@?", DQS(hosts[i])) == -1)
				goto fail;
		}
	}
	mysql_close(m);
	m = NULL;
	line = xasprintf("%s\n", s->my.user_pw);
	frc = setup_put_file(s->db_pass_file, line, strlen(line), 0600, cause);
	OPENSSL_cleanse(line, strlen(line));
	free(line);
	if (frc == -1)
		return -1;
	return ready && frc == STEP_SAME ? STEP_SAME : STEP_DONE;
fail:
	line = cs_db_where(s);
	set_cause(cause, "MariaDB at %s: cannot set up database 'haven' and "
	    "user 'haven' as root: %s", line, why);
	free(line);
	free(why);
	if (m != NULL)
		mysql_close(m);
	return rc;
}

/* Step: the schema, by havend's migrations. */
static int
cs_step_migrate(struct setup *s, char **cause)
{
	MYSQL		*m;
	char		*why = NULL;
	long long	 before;
	int		 version;

	if ((m = dbq_connect(&s->conf, &why)) == NULL) {
		set_cause(cause, "as user 'haven': %s", why);
		free(why);
		return -1;
	}
	before = cs_count(m, "SELECT COUNT(*) FROM schema_version WHERE "
	    "state = 'applied'", NULL, NULL);
	if (migrate_apply(m, sql_files, &version, cause) == -1) {
		mysql_close(m);
		return -1;
	}
	if (before == cs_count(m, "SELECT COUNT(*) FROM schema_version WHERE "
	    "state = 'applied'", NULL, NULL)) {
		mysql_close(m);
		return STEP_SAME;
	}
	mysql_close(m);
	setup_note(s, "schema version %d", version);
	return STEP_DONE;
}

static int
cs_exists(const struct setup *s, const char *name)
{
	char	*p = pki_path(&s->conf, name);
	int	 rc = access(p, F_OK) == 0;

	free(p);
	return rc;
}

/* 1 if the server certificate names ip (or there is no ip to name). */
static int
cs_cert_names(const struct setup *s, const char *ip)
{
	X509	*crt;
	char	*p;
	int	 ok;

	if (ip == NULL)
		return 1;
	p = pki_path(&s->conf, "server.crt");
	crt = tls_cert_read(p, NULL);
	free(p);
	if (crt == NULL)
		return 1;	/* pki_ensure just judged it */
	ok = X509_check_ip_asc(crt, ip, 0) == 1;
	X509_free(crt);
	return ok;
}

/*
 * Step: site CA, server certificate (names: the host name and /PSIP),
 * CRL, master key and passphrase, by pki_ensure() as havend does at
 * its first start.  A /PassphraseFilePath passphrase is put in place
 * first, so pki_ensure() keeps it.
 */
static int
cs_step_pki(struct setup *s, char **cause)
{
	static const char *const files[] = { "ca.crt", "ca.key", "server.crt",
	    "server.key", "crl.pem", "master.key", "ps.crt", "ps.key",
	    "passphrase" };
	char	*old = NULL, *line, *path;
	size_t	 i;
	int	 changed = 0, rc;

	for (i = 0; i < nitems(files); i++)
		if (!cs_exists(s, files[i]))
			changed = 1;
	if (s->passphrase != NULL && (!cs_exists(s, "passphrase") ||
	    pki_passphrase_read(&s->conf, &old, NULL) == -1 ||
	    strcmp(old, s->passphrase) != 0)) {
		path = pki_path(&s->conf, "passphrase");
		line = xasprintf("%s\n", s->passphrase);
		rc = write_file_atomic(path, line, strlen(line), 0600, cause);
		OPENSSL_cleanse(line, strlen(line));
		free(line);
		free(path);
		if (rc == -1) {
			secret_free(old);
			return -1;
		}
		changed = 1;
		setup_note(s, "passphrase from /PassphraseFilePath");
	}
	secret_free(old);
	if (pki_ensure(&s->conf, cause) == -1)
		return -1;
	if (!cs_cert_names(s, s->o.ps_ip)) {
		if (pki_renew_server(&s->conf, NULL, cause) == -1)
			return -1;
		setup_note(s, "server certificate issued anew for %s",
		    s->o.ps_ip);
		changed = 1;
	}
	return changed ? STEP_DONE : STEP_SAME;
}

/* One db op as havend's db process runs it. */
static int
cs_op(MYSQL *m, const char *name, json_t *args, json_t **res, char **cause)
{
	const struct db_op	*op = db_ops_find(name);
	int			 lost, rc;

	if (op == NULL) {
		json_decref(args);
		set_cause(cause, "no database operation %s", name);
		return -1;
	}
	rc = db_ops_run(m, op, args, res, cause, &lost);
	json_decref(args);
	return rc;
}

/* Step: the admin account, by havend's own hash and user.set. */
static int
cs_step_admin(struct setup *s, char **cause)
{
	MYSQL		*m;
	json_t		*res = NULL;
	const char	*hash;
	char		*why = NULL, *nh = NULL;
	int		 rc = -1;

	if ((m = dbq_connect(&s->conf, cause)) == NULL)
		return -1;
	if (s->admin_pw == NULL) {
		if (cs_op(m, "user.count", json_object(), &res, cause) == -1)
			goto out;
		setup_note(s, "no /AdminPasswordFilePath%s",
		    json_integer_value(json_object_get(res, "count")) == 0 ?
		    "; there is no account yet: add one with 'havenctl user "
		    "add admin' before signing in" : "");
		rc = STEP_SKIP;
		goto out;
	}
	if (cs_op(m, "user.get", json_pack("{s:s}", "name", CS_ADMIN), &res,
	    &why) == 0 && (hash = json_string_value(json_object_get(res,
	    "hash"))) != NULL && password_verify(s->admin_pw, hash) == 0) {
		rc = STEP_SAME;
		goto out;
	}
	json_decref(res);
	res = NULL;
	if (password_hash(s->admin_pw, &nh, cause) == -1 ||
	    cs_op(m, "user.set", json_pack("{s:s, s:s}", "name", CS_ADMIN,
	    "hash", nh), &res, cause) == -1)
		goto out;
	setup_note(s, "user '%s'", CS_ADMIN);
	rc = STEP_DONE;
out:
	free(why);
	free(nh);
	json_decref(res);
	mysql_close(m);
	return rc;
}

const struct setup_step setup_cs_steps[] = {
	{ "Checking the input files", setup_step_inputs },
	{ "Creating the directories", setup_step_dirs },
	{ "Creating the database and its user", cs_step_db },
	{ "Storing the proxy settings", setup_step_proxy },
	{ "Writing the havend configuration", setup_step_conf },
	{ "Applying the database schema", cs_step_migrate },
	{ "Creating the site CA, certificates and passphrase", cs_step_pki },
	{ "Creating the admin account", cs_step_admin },
	{ "Storing the vault registration key", setup_step_vault },
	{ "Starting havend", setup_step_start },
};
const size_t setup_cs_nsteps = nitems(setup_cs_steps);

int
setup_cs_summary(struct setup *s, char **cause)
{
	char	*pass;
	int	 v6 = strchr(s->host, ':') != NULL;

	if (pki_passphrase_read(&s->conf, &pass, cause) == -1)
		return -1;
	printf("Admin URL: https://%s%s%s:%lld/\n", v6 ? "[" : "", s->host,
	    v6 ? "]" : "", s->o.admin_port);
	printf("Passphrase: %s\n", pass);
	fflush(stdout);
	secret_free(pass);
	return 0;
}
