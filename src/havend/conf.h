/* havend.conf: the keys are a table in conf.c. */
#ifndef HAVEN_CONF_H
#define HAVEN_CONF_H

#include "config.h"

#define ROLE_CS		0x01
#define ROLE_PS		0x02
#define ROLE_MT		0x04
#define ROLE_VAULT	0x08

#define HAVEN_CONF_DEFAULT	"/etc/haven/havend.conf"

struct haven_conf {
	struct conf_list	 roles;
	unsigned		 role_mask;	/* derived from roles */
	char			*listen_address;
	long long		 control_port;
	long long		 admin_port;
	long long		 data_port;
	char			*mt_address;	/* drain target; NULL: local */
	char			*cs_address;	/* scale-out PS: its CS */
	char			*state_dir;	/* CA, certificates, passphrase */
	char			*cache_dir;
	char			*retention_dir;
	long long		 journal_segment;	/* bytes per segment */
	char			*socket_path;	/* havenctl's unix socket */
	long long		 shards;	/* 0 = one per core */
	struct conf_list	 server_names;	/* DNS names and addresses for
						   the server certificate */
	long long		 cert_days;
	char			*db_host;
	long long		 db_port;
	char			*db_socket;
	char			*db_name;
	char			*db_user;
	char			*db_password_file;
	char			*proxy_url;	/* NULL: direct */
	char			*proxy_user;
	char			*proxy_password_file;	/* sealed (secret.h) */
	char			*log_level;
	long long		 heartbeat_interval;
	long long		 max_connections;
	long long		 max_body;
	long long		 max_header;
	long long		 request_timeout;
	long long		 enroll_failures;	/* per address per minute */
	long long		 enroll_token_ttl;	/* seconds */
	long long		 history_interval;	/* seconds between samples */
};

extern const struct conf_key haven_conf_keys[];

/* Parse path, then check what spans keys (ports, roles). */
int	haven_conf_load(const char *path, struct haven_conf *,
	    struct conf_errors *);
void	haven_conf_free(struct haven_conf *);

#endif
