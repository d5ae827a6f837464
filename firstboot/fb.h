/* haven-firstboot: what the wizard's files share. */
#ifndef HAVEN_FB_H
#define HAVEN_FB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define FB_TITLE	"Haven appliance setup"

#define FB_DATA_PORT_DEFAULT	9443
#define FB_ADMIN_PORT		44315	/* DESIGN.md "Ports" */
#define FB_SKEW_MAX		(15 * 60)	/* seconds */
#define FB_PASSWORD_MIN		8
#define FB_PASSWORD_MAX		128

enum fb_step { FB_BACK = -1, FB_NEXT = 1 };

/* Everything the operator chose; strings are malloc'd. */
struct fb {
	const char	*root;		/* HAVEN_ROOT, no trailing slash */
	int		 live;		/* root is "/": apply to this system */
	const char	*tty;
	int		 lockfd;	/* held while this console runs setup */

	char		*hostname;
	char		*ifname;	/* management NIC */
	int		 dhcp;
	char		*cidr;		/* static: "a.b.c.d/len" */
	uint32_t	 addr;
	int		 prefix;
	char		*gateway;
	char		*dns;		/* space-separated */

	char		*admin_pw;

	char		*ntp;		/* "host" or "host:port" */
	char		*ntp_default;
	double		 skew;

	int		 db_generated;
	char		*db_root_pw;
	char		*db_user_pw;

	char		*vault_key;	/* "" = none */

	char		*data_if;
	char		*data_ip;
	int		 data_port;

	int		 proxy;
	char		*proxy_url;
	int		 proxy_port;
	char		*proxy_user;
	char		*proxy_pw;

	char		*admin_url;
	char		*passphrase;
};

/*
 * fb_check.c: the validators.  Each returns 0, or -1 with a cause that
 * says what is wrong and what to type instead.  No system calls beyond
 * reading a named file: they are unit-tested (tests/unit/test_firstboot.c).
 */
int	 fb_check_hostname(const char *, char **cause);
/* "a.b.c.d/len": the address and prefix, host order. */
int	 fb_check_cidr(const char *, uint32_t *addr, int *prefix, char **cause);
int	 fb_check_gateway(const char *, uint32_t addr, int prefix,
	    uint32_t *gw, char **cause);
/* Up to 3 IPv4/IPv6 servers separated by spaces or commas; *out is
 * them space-separated (malloc'd). */
int	 fb_check_dns(const char *, char **out, char **cause);
int	 fb_check_password(const char *, const char *again, char **cause);
int	 fb_check_data_port(const char *, int *port, char **cause);
int	 fb_check_port(const char *what, const char *, int *port, char **cause);
/* "http://host" or "https://host": no port, path or credentials. */
int	 fb_check_proxy_url(const char *, char **cause);
/* Optional file: empty is fine; otherwise exists, regular, readable and
 * not empty. */
int	 fb_check_key_file(const char *, char **cause);
/* A value for an INI line in double quotes: printable, no '"'. */
int	 fb_check_ini_value(const char *what, const char *, int required,
	    char **cause);
int	 fb_check_ipv4(const char *what, const char *, uint32_t *, char **cause);
/* "host" or "host:port" or "[v6]:port" into host and port (default 123). */
int	 fb_parse_time_source(const char *, char **host, int *port,
	    char **cause);

/*
 * sntp.c: one SNTP (RFC 4330) query.  *offset is the server's clock
 * minus ours in seconds (positive: our clock is behind).
 */
int	 sntp_query(const char *host, int port, int timeout_ms, double *offset,
	    char **cause);
/* The first "server" or "pool" host of a chrony.conf text, or NULL. */
char	*sntp_chrony_source(const char *conf);
/* "1 h 2 min 3 s" for a number of seconds (sign dropped). */
void	 sntp_fmt_duration(double secs, char *out, size_t outlen);

/*
 * fb_shadow.c: root's console password.  fb_shadow_hash makes a SHA-512
 * crypt(3) hash with a random salt into out; fb_shadow_edit replaces
 * root's second field of a shadow text (malloc'd *out), nothing else;
 * fb_shadow_set_root does both to the file at path, atomically, keeping
 * its owner and mode.  Causes name the file and the fix.
 */
int	 fb_shadow_hash(const char *pw, char *out, size_t outlen,
	    char **cause);
int	 fb_shadow_edit(const char *path, const char *text, size_t len,
	    const char *hash, char **out, size_t *outlen, char **cause);
int	 fb_shadow_set_root(const char *path, const char *pw, char **cause);

/* fb_sys.c: everything that touches the system, under fb->root. */
char	*fb_path(const struct fb *, const char *abs);
/* Real NICs (not lo, not virtual), sorted; NULL-terminated. */
char	**fb_nics(void);
void	 fb_strv_free(char **);
/* The first IPv4 address of a NIC, or NULL. */
char	*fb_nic_ipv4(const char *ifname);
char	*fb_current_hostname(const struct fb *);
char	*fb_default_time_source(const struct fb *);
int	 fb_apply_hostname(const struct fb *, char **cause);
int	 fb_apply_network(const struct fb *, char **cause);
int	 fb_apply_time_source(const struct fb *, char **cause);
/* The admin password becomes root's in /etc/shadow (console login). */
int	 fb_apply_root_password(const struct fb *, char **cause);
int	 fb_done_exists(const struct fb *);
int	 fb_write_done(const struct fb *, char **cause);
/* 0 and the lock held, 1 when another console holds it (*holder names
 * it), -1 on error. */
int	 fb_lock(struct fb *, char **holder, char **cause);
void	 fb_random_password(char *out, size_t len);

/* The run of haven-setup. */
struct fb_run {
	char	*dir;			/* private temp dir of the INI files */
	char	*files[5];
	int	 nfiles;
	char	**argv;
	int	 fd;			/* its stdout and stderr */
	pid_t	 pid;
	struct fbuf out;		/* partial line */
	char	*tail[12];		/* its last lines */
	int	 ntail;
	int	 step, nsteps;
	char	*step_text;
	char	*admin_url;
	char	*passphrase;
};
int	 fb_run_start(const struct fb *, struct fb_run *, char **cause);
/* Reads what is there; 1 at end of output, 0 for more, -1 error. */
int	 fb_run_read(struct fb_run *);
/* Waits for the exit; 0 on success, else -1 with a cause. */
int	 fb_run_finish(struct fb_run *, char **cause);
/* Removes the secrets' files and their directory; again is harmless. */
void	 fb_run_cleanup(struct fb_run *);
void	 fb_run_free(struct fb_run *);
/* The command line without secrets, for the summary. */
char	*fb_run_cmdline(const struct fb_run *);

#endif
