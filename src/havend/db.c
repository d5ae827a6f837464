/*
 * The db process.  It owns the one MariaDB connection; queries block
 * here, which is the point: control never waits on the database inside
 * a loop that serves people and agents.  When MariaDB is away the
 * process stays, says so in IMSG_DB_STATE, answers every call with the
 * reason and keeps retrying with back-off.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysqld_error.h>
#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "dbq.h"
#include "ipc.h"
#include "log.h"
#include "migrate.h"
#include "proto.h"
#include "sqlfiles.h"
#include "util.h"

#define DB_BACKOFF_MAX		30	/* seconds between connect attempts */
#define DB_ERROR_RETRY		30	/* after a failed migration */
#define DB_IDLE_PING_MS		60000	/* ping first after this long idle */
#define DB_ERROR_MAX		4000	/* F_ERROR holds 4096 */
#define DB_JSON_MAX		(8u * 1024 * 1024)	/* F_JSON's limit */

enum db_state { DB_CONNECTING, DB_UP, DB_DOWN, DB_ERROR };
static const char *const db_state_names[] = {
	"connecting", "up", "down", "error"
};

struct db {
	struct event_base	*base;
	struct haven_conf	*conf;
	const char		*conf_path;
	struct ipc		*parent;
	struct ipc		*ctl;		/* to control, may be NULL */
	MYSQL			*mysql;		/* NULL unless up */
	char			*password;	/* the one we connected with */
	enum db_state		 state;
	char			*error;		/* why not up, or NULL */
	int64_t			 since;
	int			 schema_version;
	struct event		*retry;
	int			 backoff;
	uint64_t		 last_used;
};

static int	db_connect(struct db *);
static void	db_exit(struct db *) __attribute__((noreturn));

/* "127.0.0.1:3306" or the socket path, for messages. */
static char *
db_where(const struct db *db)
{
	if (db->conf->db_socket != NULL && *db->conf->db_socket != '\0')
		return xstrdup(db->conf->db_socket);
	return xasprintf("%s:%lld", dbq_host(db->conf), db->conf->db_port);
}

static void
db_send_state(struct db *db)
{
	struct fbuf	 b;
	json_t		*j;
	char		*text, since[32];

	if (db->ctl == NULL)
		return;
	fmt_time(db->since, since, sizeof(since));
	j = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:i, s:s?, s:s}",
	    "state", db_state_names[db->state], "host", dbq_host(db->conf),
	    "port", (json_int_t)db->conf->db_port,
	    "name", dbq_name(db->conf),
	    "socket", db->conf->db_socket, "schema_version",
	    db->schema_version, "error", db->error, "since", since);
	if (j == NULL)
		fatalx("cannot build the database state");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	fbuf_init(&b);
	frame_begin(&b, IMSG_DB_STATE);
	frame_put_str(&b, F_JSON, text);
	frame_end(&b);
	ipc_send(db->ctl, &b, -1);
	fbuf_free(&b);
	free(text);
}

static void
db_set_state(struct db *db, enum db_state state, const char *error)
{
	int	same;

	same = db->state == state && ((error == NULL && db->error == NULL) ||
	    (error != NULL && db->error != NULL &&
	    strcmp(error, db->error) == 0));
	if (same)
		return;
	if (state == DB_UP)
		log_info("database up: %s on %s, schema version %d",
		    dbq_name(db->conf), db->conf->db_socket != NULL &&
		    *db->conf->db_socket != '\0' ? db->conf->db_socket :
		    dbq_host(db->conf), db->schema_version);
	else if (error != NULL)
		log_warnx("database %s: %s", db_state_names[state], error);
	if (db->state != state)
		db->since = now_unix();
	db->state = state;
	free(db->error);
	db->error = error != NULL ? xstrdup(error) : NULL;
	db_send_state(db);
}

static void
db_close(struct db *db)
{
	if (db->mysql != NULL)
		mysql_close(db->mysql);
	db->mysql = NULL;
}

static void
db_schedule(struct db *db, int seconds)
{
	struct timeval	tv = { seconds, 0 };

	evtimer_add(db->retry, &tv);
}

static void
db_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct db	*db = arg;
	int		 wait;

	(void)fd;
	(void)ev;
	if (db->mysql != NULL)
		return;
	if (db_connect(db) == 0) {
		db->backoff = 1;
		return;
	}
	if (db->state == DB_ERROR)
		wait = DB_ERROR_RETRY;
	else {
		wait = db->backoff;
		db->backoff = db->backoff * 2 > DB_BACKOFF_MAX ?
		    DB_BACKOFF_MAX : db->backoff * 2;
	}
	log_debug("next database connection attempt in %d s", wait);
	db_schedule(db, wait);
}

/* The operator's version of a failed mysql_real_connect(). */
static char *
db_connect_cause(struct db *db, MYSQL *m)
{
	char		*where = db_where(db), *s;
	const char	*user = dbq_user(db->conf), *name = dbq_name(db->conf);
	int		 sock = db->conf->db_socket != NULL &&
			    *db->conf->db_socket != '\0';

	switch (mysql_errno(m)) {
	case ER_ACCESS_DENIED_ERROR:
		s = xasprintf("MariaDB at %s refused user '%s': %s: check "
		    "db_user and the password in %s", where, user,
		    mysql_error(m), db->conf->db_password_file != NULL ?
		    db->conf->db_password_file : "db_password_file");
		break;
	case ER_DBACCESS_DENIED_ERROR:
		s = xasprintf("MariaDB at %s does not let user '%s' use "
		    "database '%s': %s: grant it (GRANT ALL ON %s.* TO "
		    "'%s'@...) or fix db_name in havend.conf", where,
		    user, name, mysql_error(m), name, user);
		break;
	case ER_BAD_DB_ERROR:
		s = xasprintf("database '%s' does not exist on MariaDB at "
		    "%s: create it (CREATE DATABASE %s CHARACTER SET "
		    "utf8mb4) or fix db_name in havend.conf", name,
		    where, name);
		break;
	default:
		s = xasprintf("cannot connect to MariaDB at %s: %s: check "
		    "that MariaDB is running and that %s in havend.conf %s "
		    "right", where, mysql_error(m), sock ? "db_socket" :
		    "db_host/db_port", sock ? "is" : "are");
		break;
	}
	free(where);
	return s;
}

/* One blocking attempt: connect, session settings, migrations. */
static int
db_connect(struct db *db)
{
	MYSQL		*m;
	char		*pw = NULL, *cause = NULL, *why = NULL, *where;
	int		 version;

	db_close(db);
	/* A retry keeps the state and its reason until it works or fails
	 * differently: no flapping, no log line per attempt. */
	if (db->state == DB_UP)
		db_set_state(db, DB_CONNECTING, NULL);
	if (db->conf->db_password_file != NULL &&
	    (pw = dbq_read_password(db->conf->db_password_file,
	    &cause)) == NULL) {
		db_set_state(db, DB_DOWN, cause);
		free(cause);
		return -1;
	}
	if (dbq_open(db->conf, pw, 5, 30, &m) == -1) {
		cause = db_connect_cause(db, m);
		goto down;
	}
	if (db_ops_session(m, &why) == -1) {
		where = db_where(db);
		cause = xasprintf("MariaDB at %s: cannot set up the session: "
		    "%s", where, why);
		free(where);
		goto down;
	}
	if (migrate_apply(m, sql_files, &version, &why) == -1) {
		mysql_close(m);
		free(pw);
		db_set_state(db, DB_ERROR, why);
		free(why);
		return -1;
	}
	free(db->password);
	db->password = pw;
	db->mysql = m;
	db->schema_version = version;
	db->last_used = now_ms();
	db_set_state(db, DB_UP, NULL);
	return 0;

down:
	mysql_close(m);
	free(pw);
	free(why);
	db_set_state(db, DB_DOWN, cause);
	free(cause);
	return -1;
}

/* The connection broke under a call: say so and reconnect soon. */
static void
db_lost(struct db *db, const char *why)
{
	db_close(db);
	db_set_state(db, DB_CONNECTING, why);
	db->backoff = 1;
	event_del(db->retry);
	db_schedule(db, 0);
}

static void
db_reply(struct db *db, uint64_t id, const json_t *result, const char *err)
{
	struct fbuf	 b;
	char		*text = NULL, *e = NULL;
	size_t		 n;

	if (result != NULL) {
		text = json_dumps(result, JSON_COMPACT);
		if (text == NULL || strlen(text) > DB_JSON_MAX) {
			free(text);
			text = NULL;
			err = "the answer is too large to pass to control";
			result = NULL;
		}
	}
	fbuf_init(&b);
	frame_begin(&b, IMSG_DB_REPLY);
	frame_put_u64(&b, F_ID, id);
	frame_put_u64(&b, F_SUCCESS, result != NULL);
	if (text != NULL)
		frame_put_str(&b, F_JSON, text);
	if (result == NULL) {
		/* Cut an over-long reason, never inside a character. */
		e = xstrdup(err != NULL ? err : "unknown error");
		if ((n = strlen(e)) > DB_ERROR_MAX) {
			n = DB_ERROR_MAX;
			while (n > 0 && ((unsigned char)e[n] & 0xc0) == 0x80)
				n--;
			e[n] = '\0';
		}
		frame_put_str(&b, F_ERROR, e);
	}
	frame_end(&b);
	if (db->ctl != NULL)
		ipc_send(db->ctl, &b, -1);
	fbuf_free(&b);
	free(text);
	free(e);
}

/* After a long idle the server may have dropped us (wait_timeout):
 * find out before a call fails over it. */
static void
db_check_idle(struct db *db)
{
	if (db->mysql == NULL || now_ms() - db->last_used < DB_IDLE_PING_MS)
		return;
	if (mysql_ping(db->mysql) == 0)
		return;
	log_info("database connection went away while idle (%s); "
	    "reconnecting", mysql_error(db->mysql));
	db_close(db);
	event_del(db->retry);
	if (db_connect(db) == -1)
		db_schedule(db, db->state == DB_ERROR ? DB_ERROR_RETRY : 1);
}

static void
db_call(struct db *db, const struct frame *f)
{
	const struct db_op	*op;
	json_error_t		 jerr;
	json_t			*args = NULL, *result = NULL;
	uint64_t		 id = frame_u64(f, F_ID, 0);
	char			*name = frame_str(f, F_OP);
	char			*text = frame_str(f, F_JSON);
	char			*cause = NULL, *where;
	int			 lost = 0;

	if ((op = db_ops_find(name)) == NULL) {
		cause = xasprintf("unknown database operation '%s'", name);
		goto reply;
	}
	if (text == NULL || *text == '\0')
		args = json_object();
	else if ((args = json_loads(text, 0, &jerr)) == NULL) {
		cause = xasprintf("%s: the arguments are not JSON: %s", name,
		    jerr.text);
		goto reply;
	}
	db_check_idle(db);
	if (db->state != DB_UP || db->mysql == NULL) {
		where = db_where(db);
		if (db->error != NULL)
			cause = xasprintf("database unavailable: %s",
			    db->error);
		else
			cause = xasprintf("database unavailable: connecting "
			    "to MariaDB at %s", where);
		free(where);
		goto reply;
	}
	log_debug("db call %llu %s", (unsigned long long)id, name);
	if (db_ops_run(db->mysql, op, args, &result, &cause, &lost) == -1 &&
	    lost)
		db_lost(db, cause);
	db->last_used = now_ms();
reply:
	db_reply(db, id, result, cause);
	json_decref(args);
	json_decref(result);
	free(cause);
	free(name);
	free(text);
}

static void
db_ctl_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct db	*db = arg;

	(void)c;
	if (fd != -1)
		close(fd);
	if (f->type == IMSG_DB_CALL)
		db_call(db, f);
	else
		log_debug("control sent unexpected message type %u", f->type);
}

static void
db_ctl_close(struct ipc *c, const char *reason, void *arg)
{
	struct db	*db = arg;

	log_info("control channel closed: %s", reason);
	if (db->ctl == c)
		db->ctl = NULL;
	ipc_free(c);
}

static int
db_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
db_reload(struct db *db)
{
	struct haven_conf	 nc;
	struct conf_errors	 errs;
	char			*pw = NULL, *why = NULL;
	size_t			 i;
	int			 lvl, changed;

	memset(&nc, 0, sizeof(nc));
	memset(&errs, 0, sizeof(errs));
	if (haven_conf_load(db->conf_path, &nc, &errs) != 0 || errs.n > 0) {
		for (i = 0; i < errs.n; i++)
			log_warnx("reload: %s:%d: %s", db->conf_path,
			    errs.v[i].line, errs.v[i].msg);
		log_warnx("reload: keeping the previous configuration");
		conf_errors_free(&errs);
		haven_conf_free(&nc);
		return;
	}
	conf_errors_free(&errs);
	if (nc.log_level != NULL && (lvl = log_level_parse(nc.log_level)) >= 0)
		log_setlevel(lvl);
	changed = db_str_differs(nc.db_host, db->conf->db_host) ||
	    nc.db_port != db->conf->db_port ||
	    db_str_differs(nc.db_socket, db->conf->db_socket) ||
	    db_str_differs(nc.db_name, db->conf->db_name) ||
	    db_str_differs(nc.db_user, db->conf->db_user) ||
	    db_str_differs(nc.db_password_file, db->conf->db_password_file);
	/* Same file, new password: that is a change too. */
	if (!changed && db->mysql != NULL && nc.db_password_file != NULL) {
		if ((pw = dbq_read_password(nc.db_password_file, &why)) != NULL)
			changed = db_str_differs(pw, db->password);
		else
			log_warnx("reload: %s", why);
	}
	free(pw);
	free(why);
	haven_conf_free(db->conf);
	*db->conf = nc;
	if (changed || db->state != DB_UP) {
		if (changed)
			log_info("database settings changed; reconnecting");
		db_close(db);
		db->backoff = 1;
		event_del(db->retry);
		db_schedule(db, 0);
	}
}

static void
db_exit(struct db *db)
{
	db_close(db);
	if (db->ctl != NULL)
		ipc_flush(db->ctl);
	mysql_library_end();
	exit(0);
}

static void
db_parent_msg(struct ipc *c, const struct frame *f, int fd, void *arg)
{
	struct db	*db = arg;

	(void)c;
	switch (f->type) {
	case IMSG_DB_CHANNEL:
		if (fd == -1) {
			log_warnx("the parent sent a database channel without "
			    "a descriptor");
			return;
		}
		if (db->ctl != NULL)
			ipc_free(db->ctl);
		db->ctl = ipc_new(db->base, fd, "control", proto_specs,
		    db_ctl_msg, db_ctl_close, db);
		db_send_state(db);
		return;
	case IMSG_RELOAD:
		db_reload(db);
		break;
	case IMSG_SHUTDOWN:
		log_debug("shutting down");
		db_exit(db);
	default:
		log_debug("parent sent unexpected message type %u", f->type);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
db_parent_close(struct ipc *c, const char *reason, void *arg)
{
	struct db	*db = arg;

	(void)c;
	log_debug("parent gone (%s); exiting", reason);
	db_exit(db);
}

void
db_main(struct haven_conf *conf, const char *conf_path, int parent_fd)
{
	struct db	db;

	log_procname("db");
	/* The parent decides when we stop; a terminal's ^C or a stray
	 * SIGHUP must not take the database away behind its back. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("cannot initialise the MariaDB client library");

	memset(&db, 0, sizeof(db));
	db.conf = conf;
	db.conf_path = conf_path;
	db.state = DB_CONNECTING;
	db.since = now_unix();
	db.backoff = 1;
	if ((db.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	db.retry = evtimer_new(db.base, db_retry_cb, &db);
	db.parent = ipc_new(db.base, parent_fd, "parent", proto_specs,
	    db_parent_msg, db_parent_close, &db);
	/* First attempt from the loop, so the channel is served early. */
	db_schedule(&db, 0);
	event_base_dispatch(db.base);
	fatalx("db event loop ended");
}
