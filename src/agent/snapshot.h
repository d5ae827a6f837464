/*
 * Point-in-time views of protected disks (snapshot providers) and the
 * quiesce hooks around them.  Which provider does what, and the freeze
 * window of fsfreeze, are in docs/agent.md ("Snapshot providers").
 */
#ifndef HAVEN_SNAPSHOT_H
#define HAVEN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum snap_provider {
	SNAP_NONE,
	SNAP_REFLINK,
	SNAP_LVM,
	SNAP_FSFREEZE,
	SNAP_AUTO,
};

struct snap_conf {
	const char	*state_dir;	/* views and staging files go here */
	const char	*lvm_size;	/* lvcreate -L SIZE or -l N%ORIGIN */
	int		 freeze_timeout; /* seconds a filesystem may stay frozen */
};

/* Which provider a disk gets, and why (also why not the better ones). */
struct snap_choice {
	enum snap_provider	 provider;
	char			*why;
};

/* One disk's view for one recovery point. */
struct snap {
	enum snap_provider	 provider;
	char			*disk;	/* the protected device or file */
	char			*stem;	/* its name in the state dir */
	char			*view;	/* read the point from here */
	char			*lv;	/* lvm: VG/LV of the snapshot */
	int			 consistent; /* a true point in time */
	char			*note;	/* why not, or how it was taken */
	/* fsfreeze: frozen until snap_settle(); changed blocks are copied
	 * to the stage file meanwhile (snap_stage_block). */
	int			 frozen;
	int			 stage_fd;
	char			*stage;
	int			*ffd;	/* frozen mount points */
	char			**fpath;
	size_t			 nf;
	pid_t			 watchdog;
	uint64_t		 freeze_ms;
};

const char	*snap_provider_name(enum snap_provider);
int		 snap_provider_parse(const char *, enum snap_provider *);

/*
 * Choose the provider for disk: the requested one if it works here,
 * otherwise (or for SNAP_AUTO) the best that does, in the order lvm,
 * reflink, fsfreeze, none.  choice->why tells the operator.
 */
void		 snap_choose(const struct snap_conf *, const char *disk,
		    const char *stem, enum snap_provider requested,
		    struct snap_choice *);
void		 snap_choice_free(struct snap_choice *);

/*
 * Take a view of disk with provider p.  On failure the caller may try a
 * weaker provider; SNAP_NONE never fails.  For fsfreeze the filesystem
 * stays frozen (s->frozen) until snap_settle(): hash the live disk and
 * hand every changed block to snap_stage_block() in between.
 */
int		 snap_take(const struct snap_conf *, const char *disk,
		    const char *stem, enum snap_provider p, struct snap *,
		    char **cause);
int		 snap_stage_block(struct snap *, uint64_t off, const void *,
		    size_t, char **cause);
/* Thaw (fsfreeze) and make the staged copy the view; no-op otherwise.
 * A watchdog that had to thaw first makes the view inconsistent. */
int		 snap_settle(struct snap *, char **cause);
/*
 * After a restart: is the view a cycle recorded (provider, view, lv,
 * stage) still there?  0 if so, -1 with the reason if not.
 */
int		 snap_reopen(const struct snap_conf *, struct snap *,
		    char **why);
/* Remove the snapshot (LV, clone, staged copy) and free s. */
void		 snap_release(struct snap *);
void		 snap_free(struct snap *);

/* Quiesce hooks: the executables in a directory, in name order. */
struct snap_hooks {
	char		**path;
	size_t		  n;
	size_t		  started;	/* pre was run for the first ones */
};

/* 0 with the list (possibly empty), -1 if dir cannot be read. */
int		 snap_hooks_list(const char *dir, struct snap_hooks *,
		    char **why);
/*
 * Run every hook with "pre"; stops at the first failure (non-zero exit,
 * killed, or over timeout seconds) and returns -1 with the reason.
 */
int		 snap_hooks_pre(struct snap_hooks *, const char *point,
		    int timeout, char **why);
/* Run "post" for every hook whose pre ran, in reverse order; failures
 * are logged.  Returns the number that failed. */
int		 snap_hooks_post(struct snap_hooks *, const char *point,
		    int timeout);
void		 snap_hooks_free(struct snap_hooks *);

/*
 * Run argv (PATH lookup) with stdin from /dev/null, collecting up to
 * outlen - 1 bytes of its stdout and stderr into out (may be NULL).
 * Returns its exit status (0..255), or -1 with a cause when it could not
 * run, was killed or outlived timeout seconds (then its process group
 * is killed).
 */
int		 snap_run(char *const argv[], int timeout, char *out,
		    size_t outlen, char **cause);

#endif
