/* haven-agent: enrollment, heartbeat and replication (the Mobility service). */
#ifndef HAVEN_AGENT_H
#define HAVEN_AGENT_H

#include "config.h"
#include "httpc.h"

#define AGENT_CONF_DEFAULT	"/etc/haven/agent.conf"

/* Files in state_dir. */
#define AGENT_CA_FILE		"ca.crt"
#define AGENT_KEY_FILE		"agent.key"
#define AGENT_CERT_FILE		"agent.crt"
#define AGENT_MACHINE_FILE	"machine.json"

#define AGENT_OK	0
#define AGENT_FAIL	1
#define AGENT_USAGE	2

struct agent_conf {
	char			*state_dir;
	char			*cs;		/* host:port; overrides machine.json */
	struct conf_list	 disks;
	char			*log_level;
	/* replicate.c (docs/agent.md) */
	char			*ps;		/* host:port of the data port */
	long long		 block_size;
	long long		 interval;	/* seconds between points */
	char			*throttle;	/* rate or schedule */
	char			*snapshot;	/* auto|lvm|reflink|fsfreeze|none */
	char			*quiesce_dir;
	long long		 app_consistent_interval;
	long long		 quiesce_timeout;
	long long		 freeze_timeout;
	char			*lvm_snapshot_size;
};

struct agent {
	const char		*conf_path;
	struct agent_conf	 conf;
	int			 debug;		/* -d */
	int			 level;		/* log level in effect */
};

/* What enrollment left in state_dir. */
struct agent_enrolled {
	char	*machine_id;
	char	*cs;		/* host:port in effect (config wins) */
	char	*url;		/* https://cs */
	char	*ca_file;
	char	*cert_file;
	char	*key_file;
};

struct agent_cmd {
	const char	*name;
	int		(*fn)(struct agent *, int argc, char **argv);
	const char	*usage;
	const char	*help;
};

/* agent.c */
char	*agent_path(const struct agent *, const char *file);

/*
 * Settings from the configuration server (the machine's policy), saved
 * by each heartbeat: {"policy", "interval", "app_interval",
 * "data_port"}.  Load returns NULL when there are none yet.
 */
#define AGENT_SETTINGS_FILE	"cs-settings.json"
void	 agent_settings_save(const struct agent *, json_t *);
json_t	*agent_settings_load(const struct agent *);
/* "host:port" to "https://host:port", refusing what is not one. */
char	*agent_cs_url(const char *cs, char **cause);
/* Returns 0, or -1 with a cause that says how to enroll. */
int	 agent_load_enrolled(const struct agent *, struct agent_enrolled *,
	    char **cause);
void	 agent_enrolled_free(struct agent_enrolled *);
/* Prints "haven-agent CMD: why" and CMD's usage; returns AGENT_USAGE. */
int	 agent_usage_error(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* enroll.c, heartbeat.c */
int	 agent_enroll(struct agent *, int, char **);
int	 agent_heartbeat(struct agent *, int, char **);

#endif
