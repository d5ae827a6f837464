/*
 * haven-setup: unattended installation and registration, the
 * UnifiedSetup equivalent (docs/setup.md).  It runs a table of steps;
 * each prints "[k/N] title... " and then "ok", "ok (already
 * configured)", "ok (skipped: why)" or "failed: cause".
 */
#ifndef HAVEN_SETUP_H
#define HAVEN_SETUP_H

#include "conf.h"

#define SETUP_OK	0
#define SETUP_FAIL	1
#define SETUP_USAGE	2

#define SETUP_CONF_DEFAULT	HAVEN_CONF_DEFAULT
#define SETUP_INSTALL_DEFAULT	"/var/lib/haven"

/* Files haven-setup keeps in state_dir. */
#define SETUP_VAULT_KEY		"vault.key"
#define SETUP_PROXY_PASS	"proxy.pass"	/* sealed, secret.h */
#define SETUP_PROXY_AAD		"proxy"
#define SETUP_PS_ENROLLED	"ps-enrolled.json"

enum setup_mode { MODE_NONE, MODE_CS, MODE_PS };

/* The command line (setup.c's option table fills it). */
struct setup_opts {
	char		*server_mode;
	char		*install_dir;
	char		*mysql_file;
	char		*vault_file;
	char		*env_type;
	char		*ps_ip;
	char		*cs_ip;
	char		*passphrase_file;
	int		 bypass_proxy;
	char		*proxy_file;
	long long	 data_port;
	char		*admin_pw_file;
	char		*config_file;
	long long	 cs_port;
	int		 no_start;
	char		*listen_address;
	long long	 control_port;
	long long	 admin_port;
	int		 help;
};

/* [MySQLCredentials] */
struct setup_mysql {
	char		*root_pw;	/* may be empty: unix-socket auth */
	char		*user_pw;
	char		*host;		/* NULL: localhost over the socket */
	long long	 port;		/* 0: 3306 */
	char		*socket;	/* NULL: the client's default */
};

/* [ProxySettings] */
struct setup_proxy {
	int		 set;		/* a proxy is to be used */
	int		 auth;
	char		*url;		/* http://host:port */
	long long	 port;
	char		*user;
	char		*password;
};

struct setup {
	struct setup_opts	 o;
	enum setup_mode		 mode;
	char			*state_dir;
	char			*cache_dir;
	char			*retention_dir;
	char			*db_pass_file;	/* next to the config */
	struct setup_mysql	 my;
	struct setup_proxy	 px;
	char			*admin_pw;
	char			*passphrase;	/* from /PassphraseFilePath */
	struct haven_conf	 conf;		/* as written, once loaded */
	int			 conf_loaded;
	char			*host;		/* for the admin URL */
	/* PS mode */
	char			*cs_addr;	/* host:port of the CS */
	char			*machine_id;
	long long		 mt_port;	/* the CS's data port */
	/* What the running step says beside "ok"; NULL: nothing. */
	char			*note;
};

/* A step returns -1 (cause set), or one of these. */
#define STEP_DONE	0	/* "ok" */
#define STEP_SAME	1	/* "ok (already configured)" */
#define STEP_SKIP	2	/* "ok (skipped: note)" */

struct setup_step {
	const char	*title;
	int		(*fn)(struct setup *, char **cause);
};

void	setup_note(struct setup *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* setup_ini.c: the seeds' INI files, every error as "file:line: what". */
int	setup_ini_mysql(const char *path, struct setup_mysql *, char **cause);
int	setup_ini_proxy(const char *path, struct setup_proxy *, char **cause);
void	setup_mysql_free(struct setup_mysql *);
void	setup_proxy_free(struct setup_proxy *);

/* setup_files.c: steps both modes share. */
int	setup_secret_file(const char *path, const char *what, int minlen,
	    char **out, char **cause);
int	setup_step_inputs(struct setup *, char **cause);
int	setup_step_dirs(struct setup *, char **cause);
int	setup_step_proxy(struct setup *, char **cause);
int	setup_step_conf(struct setup *, char **cause);
int	setup_step_vault(struct setup *, char **cause);
int	setup_step_start(struct setup *, char **cause);
/* Write path (mode) unless it already holds exactly data: STEP_SAME. */
int	setup_put_file(const char *path, const void *, size_t, mode_t,
	    char **cause);

/* setup_cs.c */
extern const struct setup_step setup_cs_steps[];
extern const size_t setup_cs_nsteps;
/* The last two lines: "Admin URL: ..." and "Passphrase: ...". */
int	setup_cs_summary(struct setup *, char **cause);

/* setup_ps.c */
extern const struct setup_step setup_ps_steps[];
extern const size_t setup_ps_nsteps;
int	setup_ps_summary(struct setup *, char **cause);

#endif
