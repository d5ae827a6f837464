/*
 * haven-agent replicate [--once]: the Mobility service's data path.
 *
 * A cycle takes a point-in-time view of every disk (snapshot.c), hashes
 * it against the committed block map (blockmap.c), durably marks the
 * changed blocks unknown, persists the cycle, then streams the changed
 * blocks and a bookmark to the process server.  When the PS acknowledges
 * the bookmark the view's hashes become the committed map.  After any
 * break the agent resumes after the PS's last durable seq, regenerating
 * frames from the same view.  Rules and file formats: docs/agent.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <xxhash.h>

#include "agent.h"
#include "blockmap.h"
#include "dataproto.h"
#include "frame.h"
#include "inventory.h"
#include "log.h"
#include "replicate.h"
#include "snapshot.h"
#include "tls.h"
#include "util.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

#define REPL_FRAME_DATA		(1u << 20)	/* data bytes per DATA frame */
#define REPL_ZERO_BLOCKS	16384		/* blocks per ZERO frame */
#define REPL_WINDOW_DEFAULT	(64ull << 20)	/* until the PS sends FLOW */
#define REPL_OUTBUF		(2u << 20)	/* frames queued for TLS */
#define REPL_CONNECT_S		10
#define REPL_HELLO_S		30
#define REPL_ACK_S		120	/* unacknowledged data this long: dead */
#define REPL_BACKOFF_MAX_S	30
#define REPL_ONCE_GIVEUP_S	60	/* --once: no progress this long */
#define REPL_LOG_EVERY_MS	10000
#define REPL_STATUS_EVERY_MS	1000

enum repl_rc { RR_OK, RR_FAIL, RR_STOP, RR_RESYNC };

struct counters {
	uint64_t	 connections;
	uint64_t	 frames;
	uint64_t	 frame_bytes;	/* frames written into TLS */
	uint64_t	 data_bytes;	/* DATA payload */
	uint64_t	 zero_bytes;	/* described by ZERO runs */
	uint64_t	 tls_bytes;	/* bytes the socket carried out */
};

struct cycle {
	uint64_t		 point;
	char			 kind[8];	/* "crash" or "app" */
	int64_t			 time;
	int			 consistent;
	char			*note;
	int			 initial;	/* against a missing map */
	struct snap		 snap;
	struct blockmap		*view;		/* the view's hashes */
	struct bm_extent	*ext;
	size_t			 n;		/* extents; the bookmark is n */
	uint64_t		 first;		/* seq of extent 0; 0 = unset */
	uint64_t		 digest;
	uint64_t		 total;		/* data bytes in the cycle */
	uint64_t		 done;		/* data bytes acknowledged */
	uint64_t		 mismatches;
	int			 fd;		/* the view, open */
	struct counters		 sent;
};

struct rdisk {
	char			*path;		/* as configured */
	char			*id;		/* machine:path */
	char			*stem;
	char			*map_path;
	char			*pending_path;
	char			*cycle_path;
	char			*unknown_path;
	uint64_t		 size;
	struct snap_choice	 choice;
	struct blockmap		*map;		/* committed, unknown marks */
	enum bm_load		 map_state;
	char			*resync;	/* why a full resync */
	struct cycle		*cy;
	char			*error;
	const char		*state;
	uint64_t		 acked;
	uint64_t		 rate;		/* bytes/s acknowledged */
	struct counters		 run, total;
	char			 last_kind[8];
	int64_t			 last_time;
	int			 last_consistent;
};

struct repl {
	struct agent		*a;
	struct agent_enrolled	 e;
	SSL_CTX			*ctx;
	char			*host;
	char			*port;
	struct snap_conf	 sc;
	enum snap_provider	 req;
	struct repl_rule	*rules;
	size_t			 nrules;
	struct rdisk		*d;
	size_t			 nd;
	uint32_t		 bs;
	int			 once;
	const char		*state;
	int64_t			 next_point;
	uint64_t		 status_ms;
	char			*status_path;
};

static volatile sig_atomic_t	repl_stop;

static void
repl_sig(int sig)
{
	(void)sig;
	repl_stop = 1;
}

static void	repl_status_write(struct repl *);

/* Throttle schedules. */

static int
repl_rate_parse(const char *s, uint64_t *rate)
{
	unsigned long long	 v;
	char			*end;
	uint64_t		 mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'm': case 'M':
		mult = 1ull << 20;
		end++;
		break;
	case 'g': case 'G':
		mult = 1ull << 30;
		end++;
		break;
	}
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -1;
	*rate = v * mult;
	return 0;
}

static int
repl_hhmm(const char *s, int *min)
{
	int	h, m, n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || s[n] != '\0' ||
	    h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

int
repl_throttle_parse(const char *spec, struct repl_rule **out, size_t *nout,
    char **cause)
{
	struct repl_rule	*r = NULL;
	char			*copy, *item, *save = NULL, *eq, *dash;
	size_t			 n = 0;
	int			 rc = -1;

	*out = NULL;
	*nout = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	copy = xstrdup(spec);
	for (item = strtok_r(copy, ", ", &save); item != NULL;
	    item = strtok_r(NULL, ", ", &save)) {
		r = xrealloc(r, (n + 1) * sizeof(*r));
		r[n].from = -1;
		r[n].to = -1;
		if ((eq = strchr(item, '=')) == NULL) {
			/* A bare rate: all day. */
			if (repl_rate_parse(item, &r[n].rate) == -1)
				goto bad;
			n++;
			continue;
		}
		*eq = '\0';
		if (repl_rate_parse(eq + 1, &r[n].rate) == -1)
			goto bad;
		if (strcmp(item, "*") != 0) {
			if ((dash = strchr(item, '-')) == NULL)
				goto bad;
			*dash = '\0';
			if (repl_hhmm(item, &r[n].from) == -1 ||
			    repl_hhmm(dash + 1, &r[n].to) == -1)
				goto bad;
		}
		n++;
	}
	*out = r;
	*nout = n;
	r = NULL;
	rc = 0;
	goto done;
bad:
	set_cause(cause, "throttle '%s' is not a rate (10m) or a schedule "
	    "like '08:00-18:00=10m,*=0' (rates in bytes/s with k, m or g; "
	    "0 = unlimited)", spec);
done:
	free(r);
	free(copy);
	return rc;
}

uint64_t
repl_throttle_rate(const struct repl_rule *r, size_t n, int minute)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (r[i].from == -1)
			return r[i].rate;
		if (r[i].from <= r[i].to ? (minute >= r[i].from &&
		    minute < r[i].to) : (minute >= r[i].from ||
		    minute < r[i].to))
			return r[i].rate;
	}
	return 0;
}

static uint64_t
repl_rate_now(const struct repl *r)
{
	struct tm	tm;
	time_t		t = time(NULL);

	if (r->nrules == 0)
		return 0;
	localtime_r(&t, &tm);
	return repl_throttle_rate(r->rules, r->nrules,
	    tm.tm_hour * 60 + tm.tm_min);
}

static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Human sizes for the log. */
static const char *
repl_bytes(uint64_t v, char *buf, size_t len)
{
	if (v >= 1ull << 30)
		snprintf(buf, len, "%.1f GiB", (double)v / (1ull << 30));
	else if (v >= 1ull << 20)
		snprintf(buf, len, "%.1f MiB", (double)v / (1ull << 20));
	else if (v >= 1ull << 10)
		snprintf(buf, len, "%.1f KiB", (double)v / (1ull << 10));
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	return buf;
}

/* Disks and their files. */

static char *
repl_stem(const char *path)
{
	const char	*base = strrchr(path, '/');
	char		*s, *p;

	base = base != NULL && base[1] != '\0' ? base + 1 : path;
	s = xasprintf("%.64s-%08x", base,
	    (unsigned)XXH32(path, strlen(path), 0));
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			*p = '_';
	return s;
}

static char *
repl_file(const struct repl *r, const struct rdisk *d, const char *ext)
{
	return xasprintf("%s/%s.%s", r->a->conf.state_dir, d->stem, ext);
}

static void
repl_cycle_free(struct cycle *cy)
{
	if (cy == NULL)
		return;
	if (cy->fd != -1)
		close(cy->fd);
	snap_free(&cy->snap);
	blockmap_free(cy->view);
	free(cy->ext);
	free(cy->note);
	free(cy);
}

static struct cycle *
repl_cycle_new(void)
{
	struct cycle	*cy = xcalloc(1, sizeof(*cy));

	cy->fd = -1;
	cy->snap.stage_fd = -1;
	return cy;
}

/* What an unreadable cycle file may have left (LVs aside). */
static void
repl_unlink_views(const struct rdisk *d)
{
	static const char *const ext[] = { "snap", "stage" };
	size_t	 i, base = strlen(d->map_path) - strlen("map");
	char	*p;

	for (i = 0; i < nitems(ext); i++) {
		p = xasprintf("%.*s%s", (int)base, d->map_path, ext[i]);
		unlink(p);
		free(p);
	}
}

/* Forget the cycle: files, snapshot and all. */
static void
repl_cycle_drop(struct rdisk *d)
{
	if (d->cy != NULL) {
		if (d->cy->fd != -1) {
			close(d->cy->fd);
			d->cy->fd = -1;
		}
		if (d->cy->snap.disk != NULL)
			snap_release(&d->cy->snap);
	}
	if (d->cy != NULL && d->cy->snap.disk == NULL)
		repl_unlink_views(d);
	unlink(d->cycle_path);
	unlink(d->pending_path);
	unlink(d->unknown_path);
	repl_cycle_free(d->cy);
	d->cy = NULL;
}

static void
repl_set_error(struct rdisk *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
repl_set_error(struct rdisk *d, const char *fmt, ...)
{
	va_list	ap;

	free(d->error);
	d->error = NULL;
	if (fmt == NULL)
		return;
	va_start(ap, fmt);
	d->error = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Load (or reload) the committed map; a resync is logged with why. */
static void
repl_map_load(struct repl *r, struct rdisk *d)
{
	char	*why = NULL;

	blockmap_free(d->map);
	d->map_state = blockmap_load(d->map_path, d->size, r->bs, &d->map,
	    &why);
	if (d->map_state == BM_RESYNC) {
		free(d->resync);
		d->resync = xasprintf("%s: full resync", why);
		log_warnx("disk %s: %s", d->path, d->resync);
	}
	free(why);
	d->acked = d->map->seq;
}

/* Cycle files: a small JSON document; the hashes are in .pending. */

static int
repl_cycle_save(struct repl *r, struct rdisk *d, char **cause)
{
	struct cycle	*cy = d->cy;
	json_t		*j;
	char		*text, digest[17];
	int		 rc;

	(void)r;
	snprintf(digest, sizeof(digest), "%016llx",
	    (unsigned long long)cy->digest);
	j = json_pack("{s:i, s:s, s:I, s:s, s:I, s:b, s:s?, s:b, s:I, s:I, "
	    "s:s, s:I, s:{s:s, s:s?, s:s?, s:s?}}",
	    "version", 1, "disk", d->path, "point", (json_int_t)cy->point,
	    "kind", cy->kind, "time", (json_int_t)cy->time,
	    "consistent", cy->consistent, "note", cy->note,
	    "initial", cy->initial, "first_seq", (json_int_t)cy->first,
	    "extents", (json_int_t)cy->n, "digest", digest,
	    "total", (json_int_t)cy->total,
	    "snapshot", "provider", snap_provider_name(cy->snap.provider),
	    "view", cy->snap.view, "lv", cy->snap.lv,
	    "stage", cy->snap.stage);
	if (j == NULL) {
		set_cause(cause, "cannot describe the cycle of %s", d->path);
		return -1;
	}
	text = json_dumps(j, JSON_INDENT(2));
	rc = write_file_atomic(d->cycle_path, text, strlen(text), 0600, cause);
	free(text);
	json_decref(j);
	return rc;
}

static const char *
repl_jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static uint64_t
repl_jint(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* A block found changed while it was sent: resent next cycle. */
static void
repl_mark_mismatch(struct rdisk *d, uint64_t b)
{
	uint8_t	rec[8];
	int	fd, i;

	for (i = 0; i < 8; i++)
		rec[i] = (uint8_t)(b >> (8 * i));
	d->cy->view->h[b] = BM_UNKNOWN;
	d->cy->mismatches++;
	/* Durable before the frame leaves: a restart must know it too. */
	if ((fd = open(d->unknown_path, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600)) == -1 || write(fd, rec, 8) != 8 ||
	    fdatasync(fd) == -1)
		log_warn("disk %s: cannot record block %llu in %s", d->path,
		    (unsigned long long)b, d->unknown_path);
	if (fd != -1)
		close(fd);
}

static void
repl_apply_mismatches(struct rdisk *d)
{
	uint8_t		*buf;
	uint64_t	 b;
	size_t		 len, i;
	int		 k;

	if ((buf = (uint8_t *)read_file(d->unknown_path, &len, NULL)) == NULL)
		return;
	for (i = 0; i + 8 <= len; i += 8) {
		for (b = 0, k = 7; k >= 0; k--)
			b = b << 8 | buf[i + (size_t)k];
		if (b < d->cy->view->nblocks) {
			d->cy->view->h[b] = BM_UNKNOWN;
			d->cy->mismatches++;
		}
	}
	free(buf);
}

static void
repl_cycle_extents(struct repl *r, struct rdisk *d)
{
	struct cycle	*cy = d->cy;
	uint32_t	 maxd;
	size_t		 i;

	maxd = REPL_FRAME_DATA / r->bs ? REPL_FRAME_DATA / r->bs : 1;
	free(cy->ext);
	cy->n = blockmap_extents(d->map, cy->view, maxd, REPL_ZERO_BLOCKS,
	    &cy->ext);
	cy->digest = blockmap_extents_digest(cy->ext, cy->n);
	cy->total = 0;
	for (i = 0; i < cy->n; i++)
		if (!cy->ext[i].zero)
			cy->total += (uint64_t)cy->ext[i].count * r->bs;
	/* The last block may be short. */
	if (cy->n > 0 && !cy->ext[cy->n - 1].zero &&
	    cy->ext[cy->n - 1].block + cy->ext[cy->n - 1].count ==
	    cy->view->nblocks)
		cy->total -= r->bs - blockmap_block_len(cy->view,
		    cy->view->nblocks - 1);
}

/*
 * A cycle persisted by an earlier run: resume it if its view is still
 * there and gives the same extents; otherwise drop it (its changed
 * blocks are marked unknown in the committed map, so the next point
 * resends them).
 */
static void
repl_cycle_load(struct repl *r, struct rdisk *d)
{
	struct cycle	*cy;
	struct blockmap	*pm = NULL;
	json_t		*j, *s;
	json_error_t	 jerr;
	const char	*v;
	char		*why = NULL;
	uint64_t	 digest;
	enum snap_provider p;

	if (access(d->cycle_path, F_OK) == -1)
		return;
	d->cy = cy = repl_cycle_new();
	if ((j = json_load_file(d->cycle_path, 0, &jerr)) == NULL) {
		why = xasprintf("%s is unreadable: %s", d->cycle_path,
		    jerr.text);
		goto drop;
	}
	cy->point = repl_jint(j, "point");
	snprintf(cy->kind, sizeof(cy->kind), "%s", repl_jstr(j, "kind") ?
	    repl_jstr(j, "kind") : "crash");
	cy->time = (int64_t)repl_jint(j, "time");
	cy->consistent = json_is_true(json_object_get(j, "consistent"));
	cy->initial = json_is_true(json_object_get(j, "initial"));
	cy->first = repl_jint(j, "first_seq");
	if ((v = repl_jstr(j, "note")) != NULL)
		cy->note = xstrdup(v);
	digest = strtoull(repl_jstr(j, "digest") ? repl_jstr(j, "digest") :
	    "0", NULL, 16);
	s = json_object_get(j, "snapshot");
	if (snap_provider_parse(repl_jstr(s, "provider") ?
	    repl_jstr(s, "provider") : "?", &p) == -1 || p == SNAP_AUTO) {
		why = xstrdup("it names no snapshot provider");
		json_decref(j);
		goto drop;
	}
	cy->snap.provider = p;
	cy->snap.disk = xstrdup(d->path);
	cy->snap.stem = xstrdup(d->stem);
	if ((v = repl_jstr(s, "view")) != NULL)
		cy->snap.view = xstrdup(v);
	if ((v = repl_jstr(s, "lv")) != NULL)
		cy->snap.lv = xstrdup(v);
	if ((v = repl_jstr(s, "stage")) != NULL)
		cy->snap.stage = xstrdup(v);
	json_decref(j);

	if (d->map_state == BM_LOADED && d->map->point == cy->point &&
	    cy->point != 0) {
		/* Committed just before the last run ended. */
		log_info("disk %s: point %llu was committed; cleaning up",
		    d->path, (unsigned long long)cy->point);
		repl_cycle_drop(d);
		return;
	}
	if (d->map_state != BM_LOADED) {
		why = xstrdup("the committed block map is gone");
		goto drop;
	}
	if (blockmap_load(d->pending_path, d->size, r->bs, &pm, &why) !=
	    BM_LOADED || pm->point != cy->point) {
		if (why == NULL)
			why = xasprintf("%s is missing or not of point %llu",
			    d->pending_path, (unsigned long long)cy->point);
		blockmap_free(pm);
		goto drop;
	}
	cy->view = pm;
	repl_apply_mismatches(d);
	if (snap_reopen(&r->sc, &cy->snap, &why) == -1)
		goto drop;
	repl_cycle_extents(r, d);
	if (cy->digest != digest) {
		why = xstrdup("its changed blocks no longer match the block "
		    "maps");
		goto drop;
	}
	if ((cy->fd = open(cy->snap.view, O_RDONLY | O_CLOEXEC)) == -1) {
		why = xasprintf("cannot open %s: %s", cy->snap.view,
		    strerror(errno));
		goto drop;
	}
	d->state = "queued";
	log_info("disk %s: resuming point %llu (%s, %zu extents, %s)",
	    d->path, (unsigned long long)cy->point, cy->kind, cy->n,
	    snap_provider_name(p));
	return;
drop:
	log_warnx("disk %s: cannot resume point %llu (%s); a new point "
	    "follows and resends what that one changed", d->path,
	    (unsigned long long)cy->point, why);
	free(why);
	repl_cycle_drop(d);
}

/* Hashing a view; fsfreeze copies changed blocks while frozen. */

struct repl_hashing {
	struct rdisk	*d;
	uint64_t	 last_ms;
	uint64_t	 bytes;
};

static int
repl_hash_cb(void *arg, uint64_t b, const uint8_t *data, size_t len,
    uint64_t h, char **cause)
{
	struct repl_hashing	*hs = arg;
	struct rdisk		*d = hs->d;
	struct snap		*s = &d->cy->snap;

	hs->bytes += len;
	if (repl_stop) {
		set_cause(cause, "stopping");
		return -1;
	}
	if (now_ms() - hs->last_ms >= REPL_LOG_EVERY_MS) {
		hs->last_ms = now_ms();
		log_info("disk %s: hashing, %llu%%", d->path,
		    (unsigned long long)(hs->bytes * 100 / (d->size ? d->size :
		    1)));
	}
	if (s->frozen && h != d->map->h[b] && h != BM_ZERO)
		return snap_stage_block(s, b * d->map->block_size, data, len,
		    cause);
	return 0;
}

static int
repl_hash_view(struct repl *r, struct rdisk *d, char **cause)
{
	struct cycle		*cy = d->cy;
	struct repl_hashing	 hs = { d, now_ms(), 0 };
	uint64_t		 t0 = now_ms();
	int			 fd;

	(void)r;
	if ((fd = open(cy->snap.view, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open %s: %s", cy->snap.view,
		    strerror(errno));
		return -1;
	}
	cy->view = blockmap_new(d->size, d->map->block_size, BM_UNKNOWN);
	if (blockmap_hash_fd(cy->view, fd, cy->snap.view, repl_hash_cb, &hs,
	    cause) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	log_debug("disk %s: hashed %llu blocks in %llu ms", d->path,
	    (unsigned long long)cy->view->nblocks,
	    (unsigned long long)(now_ms() - t0));
	return 0;
}

/* Begin a disk's cycle: mark, persist, then (only then) send. */
static int
repl_cycle_begin(struct repl *r, struct rdisk *d, char **cause)
{
	struct cycle	*cy = d->cy;
	uint64_t	 marked, bytes;

	repl_cycle_extents(r, d);
	(void)blockmap_changed(d->map, cy->view, &bytes);
	marked = blockmap_mark_unknown(d->map, cy->view);
	if (marked > 0 && blockmap_save(d->map, d->map_path, cause) == -1)
		return -1;
	cy->view->point = cy->point;
	cy->view->seq = 0;
	cy->view->app_time = d->map->app_time;
	unlink(d->unknown_path);
	if (blockmap_save(cy->view, d->pending_path, cause) == -1)
		return -1;
	if (repl_cycle_save(r, d, cause) == -1)
		return -1;
	if ((cy->fd = open(cy->snap.view, O_RDONLY | O_CLOEXEC)) == -1) {
		set_cause(cause, "cannot open %s: %s", cy->snap.view,
		    strerror(errno));
		return -1;
	}
	d->state = "queued";
	log_info("disk %s: point %llu (%s%s, %s): %llu changed blocks, %s "
	    "to send in %zu frames", d->path, (unsigned long long)cy->point,
	    cy->kind, cy->consistent ? "" : ", NOT crash-consistent",
	    snap_provider_name(cy->snap.provider), (unsigned long long)marked,
	    repl_bytes(cy->total, (char[32]){ 0 }, 32), cy->n + 1);
	return 0;
}

/* A new recovery point of every disk without a pending cycle. */
static void
repl_point(struct repl *r)
{
	struct snap_hooks	 hooks;
	struct rdisk		*d;
	struct cycle		*cy;
	char			*why = NULL, *note = NULL, pt[32];
	uint64_t		 point = 0;
	int64_t			 now = now_unix(), app_time = 0;
	size_t			 i;
	int			 app = 0, hooked = 0, ok;
	enum snap_provider	 p;

	for (i = 0; i < r->nd; i++) {
		if (r->d[i].map->point > point)
			point = r->d[i].map->point;
		if (r->d[i].map->app_time > app_time)
			app_time = r->d[i].map->app_time;
	}
	/* Unique even if the maps were lost: never below the clock. */
	point = point + 1 > (uint64_t)now ? point + 1 : (uint64_t)now;
	snprintf(pt, sizeof(pt), "%llu", (unsigned long long)point);

	memset(&hooks, 0, sizeof(hooks));
	if (r->a->conf.app_consistent_interval > 0 &&
	    now - app_time >= r->a->conf.app_consistent_interval) {
		if (snap_hooks_list(r->a->conf.quiesce_dir, &hooks, &why) ==
		    -1)
			note = xasprintf("no app-consistent point: %s", why);
		else if (hooks.n == 0)
			note = xasprintf("no app-consistent point: no "
			    "executable quiesce hooks in %s",
			    r->a->conf.quiesce_dir);
		else if (snap_hooks_pre(&hooks, pt,
		    (int)r->a->conf.quiesce_timeout, &why) == -1) {
			note = xasprintf("no app-consistent point: %s", why);
			hooked = 1;
		} else
			app = hooked = 1;
		free(why);
		why = NULL;
		if (note != NULL && hooked)
			log_warnx("point %llu: %s", (unsigned long long)point,
			    note);
		else if (note != NULL)
			log_info("point %llu: %s", (unsigned long long)point,
			    note);
	}

	for (i = 0; i < r->nd; i++) {
		d = &r->d[i];
		if (d->cy != NULL || d->map == NULL)
			continue;
		d->cy = cy = repl_cycle_new();
		cy->point = point;
		cy->time = now;
		cy->initial = d->map_state == BM_MISSING;
		p = d->choice.provider;
		if (snap_take(&r->sc, d->path, d->stem, p, &cy->snap,
		    &why) == -1) {
			log_warnx("disk %s: %s snapshot failed: %s; reading "
			    "it live for this point", d->path,
			    snap_provider_name(p), why);
			free(why);
			why = NULL;
			(void)snap_take(&r->sc, d->path, d->stem, SNAP_NONE,
			    &cy->snap, NULL);
		}
		if (cy->snap.frozen) {
			/* The freeze window: hash and copy, then thaw. */
			ok = repl_hash_view(r, d, &why) == 0;
			if (snap_settle(&cy->snap, ok ? &why : NULL) == -1)
				ok = 0;
			if (!ok) {
				repl_set_error(d, "cannot take point %llu: %s",
				    (unsigned long long)point, why);
				log_warnx("disk %s: %s", d->path, d->error);
				free(why);
				why = NULL;
				repl_cycle_drop(d);
				continue;
			}
			log_info("disk %s: %s", d->path, cy->snap.note);
		}
	}
	for (i = 0; app && i < r->nd; i++) {
		d = &r->d[i];
		if (d->cy != NULL && d->cy->first == 0 && d->cy->fd == -1 &&
		    !d->cy->snap.consistent) {
			app = 0;
			note = xasprintf("no app-consistent point: the view of "
			    "%s is not a point in time", d->path);
			log_warnx("point %llu: %s", (unsigned long long)point,
			    note);
		}
	}
	if (hooked && snap_hooks_post(&hooks, pt,
	    (int)r->a->conf.quiesce_timeout) > 0)
		log_warnx("point %llu: a quiesce hook failed its post step "
		    "(see above); the point itself stays app-consistent",
		    (unsigned long long)point);
	snap_hooks_free(&hooks);

	for (i = 0; i < r->nd; i++) {
		d = &r->d[i];
		if ((cy = d->cy) == NULL || cy->first != 0 || cy->fd != -1)
			continue;
		ok = cy->view != NULL || repl_hash_view(r, d, &why) == 0;
		if (ok) {
			cy->consistent = cy->snap.consistent;
			snprintf(cy->kind, sizeof(cy->kind), "%s",
			    app ? "app" : "crash");
			if (cy->snap.note != NULL || note != NULL)
				cy->note = xasprintf("%s%s%s", cy->snap.note ?
				    cy->snap.note : "", cy->snap.note && note ?
				    "; " : "", note ? note : "");
			ok = repl_cycle_begin(r, d, &why) == 0;
		}
		if (!ok) {
			repl_set_error(d, "cannot take point %llu: %s",
			    (unsigned long long)point, why);
			log_warnx("disk %s: %s", d->path, d->error);
			free(why);
			why = NULL;
			repl_cycle_drop(d);
			/* The marks stay; reload to undo a half-marked map. */
			repl_map_load(r, d);
		}
	}
	free(note);
}

/* The connection. */

struct conn {
	int		 fd;
	SSL		*ssl;
	struct fbuf	 in;
	struct fbuf	 out;
	size_t		 wlen;	/* an SSL_write to repeat with this length */
	uint64_t	 tls0;
	char		*end;	/* how the stream ended, once it has */
};

/* Count what the socket took since the last call. */
static void
conn_account(struct conn *c, struct counters *run, struct counters *total,
    struct counters *cyc)
{
	uint64_t	now, tls;

	if (c->ssl == NULL)
		return;
	now = BIO_number_written(SSL_get_wbio(c->ssl));
	tls = now - c->tls0;
	c->tls0 = now;
	run->tls_bytes += tls;
	total->tls_bytes += tls;
	cyc->tls_bytes += tls;
}

static void
conn_close(struct conn *c, struct counters *run, struct counters *total,
    struct counters *cyc)
{
	conn_account(c, run, total, cyc);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);
	free(c->end);
	fbuf_free(&c->in);
	fbuf_free(&c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
conn_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	int		n, ms;

	for (;;) {
		if (repl_stop)
			return -1;
		ms = now_ms() >= deadline ? 0 : (int)(deadline - now_ms());
		if (ms == 0)
			return 0;
		if ((n = poll(&pfd, 1, ms > 500 ? 500 : ms)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n > 0)
			return 1;
	}
}

static const char *
conn_ssl_why(SSL *ssl, int ret, char *buf, size_t len)
{
	unsigned long	e, last = 0;
	int		err = SSL_get_error(ssl, ret), saved = errno;
	long		vr;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "the process server's certificate is not "
		    "trusted: %s", X509_verify_cert_error_string(vr));
		return buf;
	}
	if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && last == 0 && (ret == 0 || saved == 0)))
		snprintf(buf, len, "the process server closed the connection");
	else if (err == SSL_ERROR_SYSCALL && last == 0)
		snprintf(buf, len, "%s", strerror(saved));
	else if (last != 0)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "TLS error %d", err);
	return buf;
}

static int
conn_open(struct repl *r, struct conn *c, char **cause)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	socklen_t	 sl;
	uint64_t	 deadline;
	char		 why[256];
	int		 rc, err = 0, one = 1, ret, w;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(r->host, r->port, &hints, &res)) != 0) {
		set_cause(cause, "cannot resolve %s: %s", r->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol)) == -1) {
			err = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			deadline = now_ms() + REPL_CONNECT_S * 1000;
			sl = sizeof(err);
			if (conn_wait(c->fd, POLLOUT, deadline) == 1 &&
			    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
			    &sl) == 0 && err == 0)
				break;
			if (err == 0)
				err = ETIMEDOUT;
		} else
			err = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd == -1) {
		set_cause(cause, "cannot connect to the process server at "
		    "%s:%s: %s", r->host, r->port, strerror(err));
		return -1;
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	if ((c->ssl = SSL_new(r->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		set_cause(cause, "TLS: %s", tls_error());
		return -1;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The PS must hold a certificate for the name or address we used. */
	if (inet_pton(AF_INET, r->host, &a4) == 1 ||
	    inet_pton(AF_INET6, r->host, &a6) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->host);
	else {
		SSL_set_tlsext_host_name(c->ssl, r->host);
		SSL_set1_host(c->ssl, r->host);
	}
	deadline = now_ms() + REPL_HELLO_S * 1000;
	while ((ret = SSL_connect(c->ssl)) != 1) {
		w = SSL_get_error(c->ssl, ret);
		if ((w != SSL_ERROR_WANT_READ && w != SSL_ERROR_WANT_WRITE) ||
		    conn_wait(c->fd, w == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline) != 1) {
			if (w == SSL_ERROR_WANT_READ ||
			    w == SSL_ERROR_WANT_WRITE)
				snprintf(why, sizeof(why), "%s",
				    repl_stop ? "stopping" : "timed out");
			else
				conn_ssl_why(c->ssl, ret, why, sizeof(why));
			set_cause(cause, "TLS with %s:%s failed: %s", r->host,
			    r->port, why);
			return -1;
		}
	}
	/* tls0 stays 0: the handshake is on the wire too. */
	return 0;
}

/* Write what is queued, as far as the socket takes it. */
static int
conn_flush(struct conn *c, char **cause)
{
	char	why[256];
	size_t	len;
	int	n, err;

	while (c->out.len > 0) {
		len = c->wlen != 0 ? c->wlen : (c->out.len > 65536 ? 65536 :
		    c->out.len);
		if ((n = SSL_write(c->ssl, c->out.data, (int)len)) > 0) {
			fbuf_drain(&c->out, (size_t)n);
			c->wlen = 0;
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			c->wlen = len;
			return 0;
		}
		set_cause(cause, "sending to the process server: %s",
		    conn_ssl_why(c->ssl, n, why, sizeof(why)));
		return -1;
	}
	return 0;
}

/*
 * Read what is there; -1 on EOF or error.  The end of the stream is
 * reported only once what came before it is taken (a PS's last words are
 * an error frame, then it closes).
 */
static int
conn_fill(struct conn *c, char **cause)
{
	uint8_t	buf[16384];
	char	why[256];
	size_t	got = 0;
	int	n, err;

	if (c->end != NULL) {
		set_cause(cause, "%s", c->end);
		return -1;
	}
	for (;;) {
		if ((n = SSL_read(c->ssl, buf, sizeof(buf))) > 0) {
			fbuf_add(&c->in, buf, (size_t)n);
			got += (size_t)n;
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return 0;
		c->end = xasprintf("reading from the process server: %s",
		    conn_ssl_why(c->ssl, n, why, sizeof(why)));
		if (got > 0)
			return 0;
		set_cause(cause, "%s", c->end);
		return -1;
	}
}

/* Next complete frame in c->in: its size, 0 for none yet, -1. */
static ssize_t
conn_frame(struct conn *c, struct frame *f, char **cause)
{
	const struct frame_spec	*spec;
	char			*why = NULL;
	ssize_t			 used;

	used = frame_decode(c->in.data, c->in.len, DATA_MAXFRAME, f, &why);
	if (used <= 0) {
		if (used < 0)
			set_cause(cause, "bad frame from the process server: %s",
			    why);
		free(why);
		return used;
	}
	if ((spec = frame_spec_find(data_specs, f->type)) == NULL) {
		set_cause(cause, "the process server sent an unknown frame "
		    "type %u", f->type);
		return -1;
	}
	if (frame_check(f, spec, &why) == -1) {
		set_cause(cause, "bad %s frame from the process server: %s",
		    spec->name, why);
		free(why);
		return -1;
	}
	return used;
}

static void
conn_queue(struct conn *c, const struct fbuf *frame)
{
	fbuf_add(&c->out, frame->data, frame->len);
}

/* Streaming one cycle. */

struct stream {
	struct repl	*r;
	struct rdisk	*d;
	struct cycle	*cy;
	struct conn	 c;
	struct fbuf	 fb;
	uint8_t		*buf;
	uint32_t	*fsize;		/* frame bytes per index */
	size_t		 next;		/* index of the next frame to send */
	size_t		 acked;		/* frames below this are acked */
	uint64_t	 inflight;
	uint64_t	 window;
	uint64_t	 last_ack_ms;
	uint64_t	 send_at_us;	/* throttle: not before */
	uint64_t	 log_ms;
	uint64_t	 rate_ms;
	uint64_t	 rate_done;
	int		 progress;	/* something was acked */
	int		 resync;	/* the PS asked for a full resync */
};

static uint64_t
repl_bm_seq(const struct cycle *cy)
{
	return cy->first + cy->n;
}

static void
repl_count(struct stream *st, size_t frame, uint64_t data, uint64_t zero)
{
	struct counters	*cs[] = { &st->d->run, &st->d->total, &st->cy->sent };
	size_t		 i;

	for (i = 0; i < nitems(cs); i++) {
		cs[i]->frames++;
		cs[i]->frame_bytes += frame;
		cs[i]->data_bytes += data;
		cs[i]->zero_bytes += zero;
	}
}

/* Build frame idx (an extent, or the bookmark at n) into st->fb. */
static int
repl_frame(struct stream *st, size_t idx, char **cause)
{
	struct cycle		*cy = st->cy;
	struct rdisk		*d = st->d;
	const struct bm_extent	*e;
	uint64_t		 off, len, b, got;
	ssize_t			 n;
	size_t			 p;

	if (idx == cy->n) {
		frame_begin(&st->fb, DT_BOOKMARK);
		frame_put_u64(&st->fb, D_SEQ, repl_bm_seq(cy));
		frame_put_u64(&st->fb, D_POINT, cy->point);
		frame_put_str(&st->fb, D_KIND, cy->kind);
		frame_put_u64(&st->fb, D_TIME, (uint64_t)cy->time);
		frame_put_u64(&st->fb, D_CONSISTENT, (uint64_t)cy->consistent);
		frame_put_str(&st->fb, D_PROVIDER,
		    snap_provider_name(cy->snap.provider));
		frame_end(&st->fb);
		repl_count(st, st->fb.len, 0, 0);
		return 0;
	}
	e = &cy->ext[idx];
	off = e->block * d->map->block_size;
	len = (uint64_t)e->count * d->map->block_size;
	if (off + len > d->size)
		len = d->size - off;
	if (e->zero) {
		/* A hole: a data frame with a zero run instead of bytes. */
		frame_begin(&st->fb, DT_DATA);
		frame_put_u64(&st->fb, D_SEQ, cy->first + idx);
		frame_put_u64(&st->fb, D_OFFSET, off);
		frame_put_u64(&st->fb, D_ZERO, len);
		frame_end(&st->fb);
		repl_count(st, st->fb.len, 0, len);
		return 0;
	}
	for (got = 0; got < len; got += (uint64_t)n) {
		n = pread(cy->fd, st->buf + got, len - got, (off_t)(off + got));
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			set_cause(cause, "cannot read %s at %llu: %s",
			    cy->snap.view, (unsigned long long)(off + got),
			    n == 0 ? "end of file" : strerror(errno));
			return -1;
		}
	}
	/* What is sent must be what the map will say: check each block. */
	for (p = 0, b = e->block; p < len; p += d->map->block_size, b++)
		if (cy->view->h[b] != BM_UNKNOWN && blockmap_hash(st->buf + p,
		    len - p < d->map->block_size ? len - p :
		    d->map->block_size) != cy->view->h[b])
			repl_mark_mismatch(d, b);
	frame_begin(&st->fb, DT_DATA);
	frame_put_u64(&st->fb, D_SEQ, cy->first + idx);
	frame_put_u64(&st->fb, D_OFFSET, off);
	frame_put_bytes(&st->fb, D_BYTES, st->buf, len);
	frame_end(&st->fb);
	repl_count(st, st->fb.len, len, 0);
	return 0;
}

static uint64_t
repl_frame_estimate(const struct stream *st, size_t idx)
{
	const struct bm_extent	*e;

	if (idx >= st->cy->n)
		return 128;
	e = &st->cy->ext[idx];
	return e->zero ? 64 : 64 + (uint64_t)e->count *
	    st->d->map->block_size;
}

static int
repl_commit(struct repl *r, struct rdisk *d, char **cause)
{
	struct cycle	*cy = d->cy;
	char		 b1[32], b2[32], b3[32];

	(void)r;
	cy->view->point = cy->point;
	cy->view->seq = repl_bm_seq(cy);
	cy->view->app_time = strcmp(cy->kind, "app") == 0 ? cy->time :
	    d->map->app_time;
	if (blockmap_save(cy->view, d->map_path, cause) == -1)
		return -1;
	blockmap_free(d->map);
	d->map = cy->view;
	d->map_state = BM_LOADED;
	cy->view = NULL;
	d->acked = d->map->seq;
	snprintf(d->last_kind, sizeof(d->last_kind), "%s", cy->kind);
	d->last_time = cy->time;
	d->last_consistent = cy->consistent;
	if (cy->mismatches > 0)
		log_warnx("disk %s: %llu blocks changed while they were read; "
		    "they are resent with the next point", d->path,
		    (unsigned long long)cy->mismatches);
	log_info("disk %s: point %llu committed at seq %llu (%s%s): sent "
	    "%llu frames, %s of frames (%s data, %s of zero runs), %s on the "
	    "wire", d->path, (unsigned long long)cy->point,
	    (unsigned long long)d->map->seq, cy->kind,
	    cy->consistent ? "" : ", not crash-consistent",
	    (unsigned long long)cy->sent.frames,
	    repl_bytes(cy->sent.frame_bytes, b1, sizeof(b1)),
	    repl_bytes(cy->sent.data_bytes, b2, sizeof(b2)),
	    repl_bytes(cy->sent.zero_bytes, b3, sizeof(b3)),
	    repl_bytes(cy->sent.tls_bytes, (char[32]){ 0 }, 32));
	free(d->resync);
	d->resync = NULL;
	repl_cycle_drop(d);
	return 0;
}

/* The PS has lost what it acknowledged, or never had it: resend all. */
static void
repl_resync(struct repl *r, struct rdisk *d, const char *why)
{
	char	*cause = NULL;
	uint64_t i;

	free(d->resync);
	d->resync = xasprintf("%s: full resync", why);
	log_warnx("disk %s: %s", d->path, d->resync);
	repl_cycle_drop(d);
	for (i = 0; i < d->map->nblocks; i++)
		d->map->h[i] = BM_UNKNOWN;
	d->map->seq = 0;
	d->acked = 0;
	d->map_state = BM_LOADED;
	if (blockmap_save(d->map, d->map_path, &cause) == -1) {
		log_warnx("disk %s: %s", d->path, cause);
		free(cause);
	}
	(void)r;
}

static void
repl_progress(struct stream *st, int force)
{
	struct cycle	*cy = st->cy;
	struct rdisk	*d = st->d;
	uint64_t	 now = now_ms(), pct, eta;
	char		 b1[32], b2[32], b3[32];

	if (now - st->rate_ms >= 2000) {
		d->rate = (cy->done - st->rate_done) * 1000 /
		    (now - st->rate_ms);
		st->rate_ms = now;
		st->rate_done = cy->done;
	}
	conn_account(&st->c, &d->run, &d->total, &cy->sent);
	if (now - st->r->status_ms >= REPL_STATUS_EVERY_MS || force)
		repl_status_write(st->r);
	if (!force && now - st->log_ms < REPL_LOG_EVERY_MS)
		return;
	st->log_ms = now;
	pct = cy->total ? cy->done * 100 / cy->total : 100;
	eta = d->rate ? (cy->total - cy->done) / d->rate : 0;
	log_info("disk %s: %s %llu%% (%s of %s), %s/s, ETA %llus", d->path,
	    d->state, (unsigned long long)pct,
	    repl_bytes(cy->done, b1, sizeof(b1)),
	    repl_bytes(cy->total, b2, sizeof(b2)),
	    repl_bytes(d->rate, b3, sizeof(b3)), (unsigned long long)eta);
}

/*
 * Does this error ask for a full resync?  The resync field says so; a
 * PS that predates it says "needs a resync" in words.
 */
static int
repl_wants_resync(const struct frame *f, const char *msg)
{
	return frame_u64(f, D_RESYNC, 0) == 1 ||
	    (msg != NULL && strstr(msg, "needs a resync") != NULL);
}

static int
repl_handle(struct stream *st, const struct frame *f, int *done,
    char **cause)
{
	struct cycle	*cy = st->cy;
	uint64_t	 seq, sent_top;
	char		*msg;
	size_t		 k;

	switch (f->type) {
	case DT_ACK:
		seq = frame_u64(f, D_SEQ, 0);
		sent_top = cy->first + st->next - 1;
		if (seq > sent_top) {
			set_cause(cause, "the process server acknowledged seq "
			    "%llu, beyond the last one sent (%llu)",
			    (unsigned long long)seq,
			    (unsigned long long)sent_top);
			return -1;
		}
		for (k = st->acked; cy->first + k <= seq; k++) {
			st->inflight -= st->fsize[k];
			if (k < cy->n && !cy->ext[k].zero)
				cy->done += repl_frame_estimate(st, k) - 64;
		}
		if (cy->done > cy->total)
			cy->done = cy->total;
		if (k > st->acked) {
			st->acked = k;
			st->last_ack_ms = now_ms();
			st->progress = 1;
		}
		if (seq > st->d->acked)
			st->d->acked = seq;
		if (seq >= repl_bm_seq(cy))
			*done = 1;
		return 0;
	case DT_FLOW:
		st->window = frame_u64(f, D_WINDOW, REPL_WINDOW_DEFAULT);
		log_debug("disk %s: window %llu bytes", st->d->path,
		    (unsigned long long)st->window);
		return 0;
	case DT_ERROR:
		msg = frame_str(f, D_MESSAGE);
		set_cause(cause, "the process server ended the stream: %s",
		    msg);
		if (repl_wants_resync(f, msg))
			st->resync = 1;
		free(msg);
		return -1;
	default:
		set_cause(cause, "unexpected %s frame from the process server",
		    frame_spec_find(data_specs, f->type)->name);
		return -1;
	}
}

/* HELLO, HELLO_OK, and where to start. */
static enum repl_rc
repl_hello(struct stream *st, char **cause)
{
	struct repl	*r = st->r;
	struct rdisk	*d = st->d;
	struct cycle	*cy = st->cy;
	struct frame	 f;
	uint64_t	 deadline, ps;
	ssize_t		 used;
	char		*msg, *why;

	frame_begin(&st->fb, DT_HELLO);
	frame_put_str(&st->fb, D_DISK, d->id);
	frame_put_u64(&st->fb, D_RESUME, d->acked);
	frame_put_str(&st->fb, D_VERSION, "haven-agent/" HAVEN_VERSION);
	frame_put_u64(&st->fb, D_SIZE, d->size);
	frame_end(&st->fb);
	conn_queue(&st->c, &st->fb);
	deadline = now_ms() + REPL_HELLO_S * 1000;
	for (;;) {
		if (conn_flush(&st->c, cause) == -1)
			return RR_FAIL;
		if ((used = conn_frame(&st->c, &f, cause)) < 0)
			return RR_FAIL;
		if (used > 0 && f.type == DT_FLOW) {
			/* A window may come first; it holds from the start. */
			st->window = frame_u64(&f, D_WINDOW,
			    REPL_WINDOW_DEFAULT);
			fbuf_drain(&st->c.in, (size_t)used);
			continue;
		}
		if (used > 0)
			break;
		if (conn_wait(st->c.fd, POLLIN | (st->c.out.len ? POLLOUT : 0),
		    deadline) != 1) {
			set_cause(cause, repl_stop ? "stopping" : "no answer "
			    "to hello from the process server in %ds",
			    REPL_HELLO_S);
			return repl_stop ? RR_STOP : RR_FAIL;
		}
		if (conn_fill(&st->c, cause) == -1)
			return RR_FAIL;
	}
	if (f.type == DT_ERROR) {
		msg = frame_str(&f, D_MESSAGE);
		set_cause(cause, "the process server refused the stream: %s",
		    msg);
		if (repl_wants_resync(&f, msg)) {
			repl_resync(r, d, *cause);
			free(msg);
			return RR_RESYNC;
		}
		free(msg);
		return RR_FAIL;
	}
	if (f.type != DT_HELLO_OK) {
		set_cause(cause, "the process server answered hello with %s",
		    frame_spec_find(data_specs, f.type)->name);
		return RR_FAIL;
	}
	ps = frame_u64(&f, D_SEQ, 0);
	log_debug("disk %s: hello-ok seq %llu shard %llu", d->path,
	    (unsigned long long)ps,
	    (unsigned long long)frame_u64(&f, D_SHARD, 0));
	fbuf_drain(&st->c.in, (size_t)used);

	if (cy->first == 0) {
		if (ps < d->map->seq) {
			why = xasprintf("the process server has up to seq %llu "
			    "but acknowledged %llu before (its cache was lost, "
			    "or the disk moved to another process server)",
			    (unsigned long long)ps,
			    (unsigned long long)d->map->seq);
			repl_resync(r, d, why);
			free(why);
			return RR_RESYNC;
		}
		if (cy->initial && ps > 0) {
			why = xasprintf("the process server already holds seq "
			    "%llu of this disk, which the agent has no map of",
			    (unsigned long long)ps);
			repl_resync(r, d, why);
			free(why);
			return RR_RESYNC;
		}
		cy->first = ps + 1;
		/* Durable before any frame carries these seqs. */
		if (repl_cycle_save(r, d, cause) == -1)
			return RR_FAIL;
	} else if (ps + 1 < cy->first) {
		why = xasprintf("the process server has up to seq %llu but "
		    "acknowledged %llu before (its cache was lost, or the disk "
		    "moved to another process server)", (unsigned long long)ps,
		    (unsigned long long)(cy->first - 1));
		repl_resync(r, d, why);
		free(why);
		return RR_RESYNC;
	} else if (ps > repl_bm_seq(cy))
		log_warnx("disk %s: the process server has seq %llu, past this "
		    "point's bookmark %llu", d->path, (unsigned long long)ps,
		    (unsigned long long)repl_bm_seq(cy));
	st->next = st->acked = ps >= repl_bm_seq(cy) ? cy->n + 1 :
	    (size_t)(ps + 1 - cy->first);
	if (ps > d->acked)
		d->acked = ps;
	return RR_OK;
}

static enum repl_rc
repl_stream(struct repl *r, struct rdisk *d, int *progress, char **cause)
{
	struct stream	 st;
	struct counters	 gone;
	struct frame	 f;
	struct pollfd	 pfd;
	uint64_t	 rate, now, est, waitus;
	ssize_t		 used;
	size_t		 k;
	int		 done = 0, timeout, n;
	enum repl_rc	 rc = RR_FAIL;

	*progress = 0;
	memset(&st, 0, sizeof(st));
	st.r = r;
	st.d = d;
	st.cy = d->cy;
	st.window = REPL_WINDOW_DEFAULT;
	fbuf_init(&st.fb);
	d->state = d->cy->initial ? "initial sync" : d->resync != NULL ?
	    "resync" : "sending changes";
	if (conn_open(r, &st.c, cause) == -1) {
		conn_close(&st.c, &d->run, &d->total, &d->cy->sent);
		fbuf_free(&st.fb);
		return repl_stop ? RR_STOP : RR_FAIL;
	}
	d->run.connections++;
	d->total.connections++;
	if ((rc = repl_hello(&st, cause)) != RR_OK)
		goto out;
	rc = RR_FAIL;
	st.cy->done = 0;
	for (k = 0; k < st.acked && k < st.cy->n; k++)
		if (!st.cy->ext[k].zero)
			st.cy->done += repl_frame_estimate(&st, k) - 64;
	if (st.cy->done > st.cy->total)
		st.cy->done = st.cy->total;
	if (st.acked > st.cy->n) {
		log_info("disk %s: the process server has all of point %llu",
		    d->path, (unsigned long long)st.cy->point);
		done = 1;
	} else if (st.acked > 0)
		log_info("disk %s: resuming point %llu at seq %llu (%zu of %zu "
		    "frames already durable at the process server)", d->path,
		    (unsigned long long)st.cy->point,
		    (unsigned long long)(st.cy->first + st.acked), st.acked,
		    st.cy->n + 1);
	st.fsize = xcalloc(st.cy->n + 1, sizeof(uint32_t));
	st.buf = xmalloc(REPL_FRAME_DATA > r->bs ? REPL_FRAME_DATA : r->bs);
	st.last_ack_ms = st.rate_ms = st.log_ms = now_ms();
	st.rate_done = st.cy->done;
	st.send_at_us = now_us();

	while (!done) {
		if (repl_stop) {
			set_cause(cause, "stopping");
			rc = RR_STOP;
			goto out;
		}
		now = now_us();
		waitus = 0;
		/* Queue frames while the window, the throttle and the
		 * buffer allow. */
		while (st.next <= st.cy->n && st.c.out.len < REPL_OUTBUF) {
			est = repl_frame_estimate(&st, st.next);
			if (st.inflight > 0 && st.inflight + est > st.window)
				break;
			if (st.window == 0)
				break;
			rate = repl_rate_now(r);
			if (rate > 0 && now < st.send_at_us) {
				waitus = st.send_at_us - now;
				break;
			}
			if (repl_frame(&st, st.next, cause) == -1)
				goto out;
			st.fsize[st.next] = (uint32_t)st.fb.len;
			st.inflight += st.fb.len;
			conn_queue(&st.c, &st.fb);
			st.next++;
			if (rate > 0)
				st.send_at_us = (st.send_at_us > now ?
				    st.send_at_us : now) +
				    (uint64_t)st.fb.len * 1000000 / rate;
		}
		if (conn_flush(&st.c, cause) == -1)
			goto out;
		pfd.fd = st.c.fd;
		pfd.events = POLLIN | (st.c.out.len > 0 ? POLLOUT : 0);
		timeout = 1000;
		if (waitus > 0 && waitus / 1000 < (uint64_t)timeout)
			timeout = (int)(waitus / 1000) + 1;
		/* TLS may hold decrypted bytes the socket no longer shows. */
		if (SSL_pending(st.c.ssl) > 0)
			timeout = 0;
		if ((n = poll(&pfd, 1, timeout)) == -1 && errno != EINTR) {
			set_cause(cause, "poll: %s", strerror(errno));
			goto out;
		}
		if ((n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) ||
		    SSL_pending(st.c.ssl) > 0) {
			if (conn_fill(&st.c, cause) == -1)
				goto out;
		}
		while (!done && (used = conn_frame(&st.c, &f, cause)) != 0) {
			if (used < 0 || repl_handle(&st, &f, &done, cause) == -1)
				goto out;
			fbuf_drain(&st.c.in, (size_t)used);
		}
		/* A window of 0 is the PS holding us (a full cache): wait. */
		if (st.window == 0)
			st.last_ack_ms = now_ms();
		if (st.inflight > 0 &&
		    now_ms() - st.last_ack_ms > REPL_ACK_S * 1000) {
			set_cause(cause, "the process server acknowledged "
			    "nothing for %ds", REPL_ACK_S);
			goto out;
		}
		repl_progress(&st, 0);
	}
	conn_close(&st.c, &d->run, &d->total, &d->cy->sent);
	if (repl_commit(r, d, cause) == -1)
		goto out;
	rc = RR_OK;
out:
	if (rc == RR_FAIL && st.resync) {
		repl_resync(r, d, *cause);
		rc = RR_RESYNC;
	}
	*progress = st.progress;
	memset(&gone, 0, sizeof(gone));
	conn_close(&st.c, &d->run, &d->total, d->cy != NULL ? &d->cy->sent :
	    &gone);
	fbuf_free(&st.fb);
	free(st.fsize);
	free(st.buf);
	if (d->cy != NULL && rc != RR_RESYNC)
		d->rate = 0;
	return rc;
}

static int
repl_sleep(struct repl *r, uint64_t ms)
{
	uint64_t	end = now_ms() + ms;

	while (!repl_stop && now_ms() < end) {
		poll(NULL, 0, end - now_ms() > 500 ? 500 :
		    (int)(end - now_ms()));
		if (now_ms() - r->status_ms >= 5000)
			repl_status_write(r);
	}
	return repl_stop ? -1 : 0;
}

/* Stream d's cycle to the end, reconnecting with backoff. */
static enum repl_rc
repl_disk_run(struct repl *r, struct rdisk *d)
{
	char		*cause = NULL;
	uint64_t	 backoff = 1, stuck_since = now_ms();
	int		 progress;
	enum repl_rc	 rc;

	for (;;) {
		r->state = "replicating";
		rc = repl_stream(r, d, &progress, &cause);
		if (rc == RR_OK || rc == RR_RESYNC || rc == RR_STOP) {
			if (rc == RR_OK)
				repl_set_error(d, NULL);
			d->state = "idle";
			free(cause);
			repl_status_write(r);
			return rc;
		}
		if (progress) {
			backoff = 1;
			stuck_since = now_ms();
		}
		repl_set_error(d, "%s", cause);
		if (r->once && now_ms() - stuck_since >
		    REPL_ONCE_GIVEUP_S * 1000) {
			log_warnx("disk %s: %s; no progress for %ds, giving up "
			    "(the point resumes on the next start)", d->path,
			    cause, REPL_ONCE_GIVEUP_S);
			free(cause);
			d->state = "failed";
			repl_status_write(r);
			return RR_FAIL;
		}
		d->state = "waiting to reconnect";
		log_warnx("disk %s: %s; reconnecting in %llus", d->path, cause,
		    (unsigned long long)backoff);
		free(cause);
		cause = NULL;
		repl_status_write(r);
		if (repl_sleep(r, backoff * 1000) == -1)
			return RR_STOP;
		backoff = backoff * 2 > REPL_BACKOFF_MAX_S ?
		    REPL_BACKOFF_MAX_S : backoff * 2;
	}
}

/* Status file. */

static json_t *
repl_counters_json(const struct counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "connections", (json_int_t)c->connections,
	    "frames", (json_int_t)c->frames,
	    "frame_bytes", (json_int_t)c->frame_bytes,
	    "data_bytes", (json_int_t)c->data_bytes,
	    "zero_bytes", (json_int_t)c->zero_bytes,
	    "tls_bytes", (json_int_t)c->tls_bytes);
}

static void
repl_counters_load(json_t *o, struct counters *c)
{
	c->connections = repl_jint(o, "connections");
	c->frames = repl_jint(o, "frames");
	c->frame_bytes = repl_jint(o, "frame_bytes");
	c->data_bytes = repl_jint(o, "data_bytes");
	c->zero_bytes = repl_jint(o, "zero_bytes");
	c->tls_bytes = repl_jint(o, "tls_bytes");
}

static void
repl_status_write(struct repl *r)
{
	struct rdisk	*d;
	struct cycle	*cy;
	json_t		*j, *disks, *o, *c;
	char		*text, *cause = NULL;
	size_t		 i;

	r->status_ms = now_ms();
	disks = json_array();
	for (i = 0; i < r->nd; i++) {
		d = &r->d[i];
		o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s?, s:s?, "
		    "s:I, s:I, s:I, s:o, s:o}",
		    "path", d->path, "id", d->id, "size", (json_int_t)d->size,
		    "provider", snap_provider_name(d->choice.provider),
		    "provider_why", d->choice.why ? d->choice.why : "",
		    "state", d->state ? d->state : "idle",
		    "error", d->error, "resync", d->resync,
		    "acked_seq", (json_int_t)d->acked,
		    "rate", (json_int_t)d->rate,
		    "block_size", (json_int_t)r->bs,
		    "run", repl_counters_json(&d->run),
		    "total", repl_counters_json(&d->total));
		if (d->map != NULL && d->map->point != 0)
			json_object_set_new(o, "last_point", json_pack(
			    "{s:I, s:I, s:I, s:s, s:b}",
			    "id", (json_int_t)d->map->point,
			    "seq", (json_int_t)d->map->seq,
			    "time", (json_int_t)d->last_time,
			    "kind", d->last_kind[0] ? d->last_kind : "?",
			    "consistent", d->last_consistent));
		if ((cy = d->cy) != NULL) {
			c = json_pack("{s:I, s:s, s:b, s:s?, s:s, s:I, s:I, "
			    "s:I, s:I, s:o}",
			    "point", (json_int_t)cy->point, "kind", cy->kind,
			    "consistent", cy->consistent, "note", cy->note,
			    "provider", snap_provider_name(cy->snap.provider),
			    "first_seq", (json_int_t)cy->first,
			    "frames", (json_int_t)(cy->n + 1),
			    "total_bytes", (json_int_t)cy->total,
			    "done_bytes", (json_int_t)cy->done,
			    "sent", repl_counters_json(&cy->sent));
			if (d->rate > 0)
				json_object_set_new(c, "eta", json_integer(
				    (json_int_t)((cy->total - cy->done) /
				    d->rate)));
			json_object_set_new(o, "cycle", c);
		}
		json_array_append_new(disks, o);
	}
	j = json_pack("{s:i, s:I, s:s, s:s, s:s, s:I, s:o}",
	    "pid", (int)getpid(), "updated", (json_int_t)now_unix(),
	    "ps", r->a->conf.ps, "state", r->state ? r->state : "starting",
	    "machine_id", r->e.machine_id,
	    "next_point", (json_int_t)r->next_point, "disks", disks);
	text = json_dumps(j, JSON_INDENT(2));
	if (write_file_atomic(r->status_path, text, strlen(text), 0644,
	    &cause) == -1) {
		log_debug("%s", cause);
		free(cause);
	}
	free(text);
	json_decref(j);
}

/* Carry the all-time counters and the last point's facts over runs. */
static void
repl_status_load(struct repl *r)
{
	json_t		*j, *a, *o, *lp;
	const char	*k;
	size_t		 i, n;

	if ((j = json_load_file(r->status_path, 0, NULL)) == NULL)
		return;
	a = json_object_get(j, "disks");
	json_array_foreach(a, i, o) {
		for (n = 0; n < r->nd; n++)
			if (repl_jstr(o, "path") != NULL &&
			    strcmp(repl_jstr(o, "path"), r->d[n].path) == 0)
				break;
		if (n == r->nd)
			continue;
		repl_counters_load(json_object_get(o, "total"),
		    &r->d[n].total);
		lp = json_object_get(o, "last_point");
		if (lp != NULL && repl_jint(lp, "id") == r->d[n].map->point) {
			k = repl_jstr(lp, "kind");
			snprintf(r->d[n].last_kind, sizeof(r->d[n].last_kind),
			    "%s", k ? k : "");
			r->d[n].last_time = (int64_t)repl_jint(lp, "time");
			r->d[n].last_consistent = json_is_true(
			    json_object_get(lp, "consistent"));
		}
	}
	json_decref(j);
}

/* Setting up. */

static int
repl_split_hostport(const char *hp, char **host, char **port)
{
	const char	*colon, *end;

	if (hp[0] == '[') {
		if ((end = strchr(hp, ']')) == NULL || end[1] != ':')
			return -1;
		*host = xstrndup(hp + 1, (size_t)(end - hp - 1));
		colon = end + 1;
	} else {
		if ((colon = strrchr(hp, ':')) == NULL || colon == hp ||
		    memchr(hp, ':', (size_t)(colon - hp)) != NULL)
			return -1;
		*host = xstrndup(hp, (size_t)(colon - hp));
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535) {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

/*
 * No ps configured: the configuration server's host with the data port
 * its heartbeat answer named (the CS runs a process server).
 */
static int
repl_ps_from_cs(struct agent *a)
{
	struct agent_enrolled	 e;
	json_t			*s = agent_settings_load(a);
	char			*host = NULL, *port = NULL, *why = NULL;
	long long		 dp;
	int			 rc = -1;

	memset(&e, 0, sizeof(e));
	dp = s ? json_integer_value(json_object_get(s, "data_port")) : 0;
	if (dp > 0 && agent_load_enrolled(a, &e, &why) == 0 &&
	    repl_split_hostport(e.cs, &host, &port) == 0) {
		free(a->conf.ps);
		a->conf.ps = strchr(host, ':') != NULL ?
		    xasprintf("[%s]:%lld", host, dp) :
		    xasprintf("%s:%lld", host, dp);
		log_info("process server %s: the configuration server's data "
		    "port", a->conf.ps);
		rc = 0;
	}
	free(host);
	free(port);
	free(why);
	agent_enrolled_free(&e);
	json_decref(s);
	return rc;
}

/*
 * The CS's settings for this machine win over the local defaults, so a
 * policy changed centrally reaches the agent at its next cycle.
 */
static void
repl_cs_settings(struct repl *r)
{
	json_t		*s = agent_settings_load(r->a);
	struct repl_rule *rules = NULL;
	size_t		 nrules = 0;
	const char	*t;
	char		*why = NULL;
	long long	 v;

	if (s == NULL)
		return;
	v = json_integer_value(json_object_get(s, "interval"));
	if (v >= 10 && v != r->a->conf.interval) {
		log_info("policy %s: a point every %lld s",
		    json_string_value(json_object_get(s, "policy")), v);
		r->a->conf.interval = v;
	}
	v = json_integer_value(json_object_get(s, "app_interval"));
	if (v > 0 && v != r->a->conf.app_consistent_interval)
		r->a->conf.app_consistent_interval = v;
	t = json_string_value(json_object_get(s, "throttle"));
	if (t != NULL && (r->a->conf.throttle == NULL ||
	    strcmp(t, r->a->conf.throttle) != 0)) {
		if (repl_throttle_parse(t, &rules, &nrules, &why) == -1) {
			log_warnx("the configuration server's throttle: %s; "
			    "keeping %s", why, r->a->conf.throttle ?
			    r->a->conf.throttle : "none");
			free(why);
		} else {
			log_info("policy %s: throttle %s",
			    json_string_value(json_object_get(s, "policy")), t);
			free(r->rules);
			r->rules = rules;
			r->nrules = nrules;
			free(r->a->conf.throttle);
			r->a->conf.throttle = xstrdup(t);
		}
	}
	json_decref(s);
}

static int
repl_setup(struct repl *r, char **cause)
{
	struct agent_conf	*c = &r->a->conf;
	struct rdisk		*d;
	size_t			 i, j;

	if ((c->ps == NULL || *c->ps == '\0') &&
	    repl_ps_from_cs(r->a) == -1) {
		set_cause(cause, "which process server? set ps = HOST:PORT "
		    "(its data port, e.g. 192.0.2.10:9443) in %s",
		    r->a->conf_path ? r->a->conf_path : AGENT_CONF_DEFAULT);
		return -1;
	}
	if (repl_split_hostport(c->ps, &r->host, &r->port) == -1) {
		set_cause(cause, "ps = '%s' is not HOST:PORT (e.g. "
		    "ps.example.com:9443, 192.0.2.10:9443 or "
		    "[2001:db8::10]:9443)", c->ps);
		return -1;
	}
	if (c->disks.n == 0) {
		set_cause(cause, "no disks to protect: set disks = /dev/sdb "
		    "... (block devices or image files) in %s",
		    r->a->conf_path ? r->a->conf_path : AGENT_CONF_DEFAULT);
		return -1;
	}
	if (c->block_size < 4096 || c->block_size > (4 << 20) ||
	    (c->block_size & (c->block_size - 1)) != 0) {
		set_cause(cause, "block_size = %lld is not a power of two "
		    "between 4k and 4m", c->block_size);
		return -1;
	}
	r->bs = (uint32_t)c->block_size;
	if (snap_provider_parse(c->snapshot, &r->req) == -1) {
		set_cause(cause, "snapshot = '%s' is not one of auto, lvm, "
		    "reflink, fsfreeze, none", c->snapshot);
		return -1;
	}
	if (repl_throttle_parse(c->throttle, &r->rules, &r->nrules,
	    cause) == -1)
		return -1;
	if (agent_load_enrolled(r->a, &r->e, cause) == -1)
		return -1;
	if ((r->ctx = tls_client_ctx(r->e.ca_file, r->e.cert_file,
	    r->e.key_file, cause)) == NULL)
		return -1;
	r->sc.state_dir = c->state_dir;
	r->sc.lvm_size = c->lvm_snapshot_size;
	r->sc.freeze_timeout = (int)c->freeze_timeout;
	r->status_path = agent_path(r->a, REPL_STATUS_FILE);

	r->d = xcalloc(c->disks.n, sizeof(*r->d));
	for (i = 0; i < c->disks.n; i++) {
		d = &r->d[r->nd];
		d->path = xstrdup(c->disks.v[i]);
		r->nd++;
		for (j = 0; j + 1 < r->nd; j++)
			if (strcmp(r->d[j].path, d->path) == 0) {
				set_cause(cause, "disk %s is listed twice",
				    d->path);
				return -1;
			}
		d->id = xasprintf("%s:%s", r->e.machine_id, d->path);
		if (strlen(d->id) > 128) {
			set_cause(cause, "disk id '%s' is longer than 128 "
			    "bytes; use a shorter path (a symlink)", d->id);
			return -1;
		}
		d->stem = repl_stem(d->path);
		d->map_path = repl_file(r, d, "map");
		d->pending_path = repl_file(r, d, "pending");
		d->cycle_path = repl_file(r, d, "cycle");
		d->unknown_path = repl_file(r, d, "unknown");
		d->state = "idle";
		if (inventory_disk_size(d->path, &d->size, cause) == -1)
			return -1;
		if (d->size == 0) {
			set_cause(cause, "disk %s is empty", d->path);
			return -1;
		}
		snap_choose(&r->sc, d->path, d->stem, r->req, &d->choice);
		log_info("disk %s (%s): snapshot provider %s", d->path,
		    repl_bytes(d->size, (char[32]){ 0 }, 32), d->choice.why);
		repl_map_load(r, d);
		repl_cycle_load(r, d);
	}
	repl_status_load(r);
	return 0;
}

static void
repl_free(struct repl *r)
{
	struct rdisk	*d;
	size_t		 i;

	for (i = 0; i < r->nd; i++) {
		d = &r->d[i];
		repl_cycle_free(d->cy);
		blockmap_free(d->map);
		snap_choice_free(&d->choice);
		free(d->path);
		free(d->id);
		free(d->stem);
		free(d->map_path);
		free(d->pending_path);
		free(d->cycle_path);
		free(d->unknown_path);
		free(d->resync);
		free(d->error);
	}
	free(r->d);
	free(r->rules);
	free(r->host);
	free(r->port);
	free(r->status_path);
	if (r->ctx != NULL)
		SSL_CTX_free(r->ctx);
	agent_enrolled_free(&r->e);
}

static int
repl_pending(const struct repl *r)
{
	size_t	i;

	for (i = 0; i < r->nd; i++)
		if (r->d[i].cy != NULL)
			return 1;
	return 0;
}

int
agent_replicate(struct agent *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once",	no_argument,	NULL, 'o' },
		{ NULL,		0,		NULL, 0 }
	};
	struct sigaction	 sa;
	struct repl		 r;
	char			*cause = NULL, b[32];
	size_t			 i;
	int			 ch, rc = AGENT_FAIL, cycles = 0, failed;
	int			 resynced;
	int64_t			 start;
	enum repl_rc		 drc;

	memset(&r, 0, sizeof(r));
	r.a = a;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (ch != 'o')
			return agent_usage_error("replicate", "bad option");
		r.once = 1;
	}
	if (optind < argc)
		return agent_usage_error("replicate", "unexpected '%s'",
		    argv[optind]);
	/* A service logs to syslog unless someone is watching. */
	log_init("haven-agent", r.once || a->debug || isatty(STDERR_FILENO),
	    a->level);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = repl_sig;	/* no SA_RESTART: waits end at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (repl_setup(&r, &cause) == -1) {
		fprintf(stderr, "haven-agent: %s\n", cause);
		free(cause);
		repl_free(&r);
		return AGENT_FAIL;
	}
	log_info("machine %s: replicating %zu disk%s to %s (block size %s, "
	    "point every %llds, throttle %s)", r.e.machine_id, r.nd,
	    r.nd == 1 ? "" : "s", a->conf.ps, repl_bytes(r.bs, b, sizeof(b)),
	    a->conf.interval, r.nrules > 0 && !(r.nrules == 1 &&
	    r.rules[0].rate == 0) ? a->conf.throttle : "none");
	r.state = "starting";
	r.next_point = now_unix();
	repl_status_write(&r);

	while (!repl_stop) {
		if (!repl_pending(&r)) {
			if (r.once && cycles > 0) {
				rc = AGENT_OK;
				break;
			}
			r.state = "idle";
			if (now_unix() < r.next_point) {
				repl_status_write(&r);
				if (repl_sleep(&r, (uint64_t)(r.next_point -
				    now_unix()) * 1000) == -1)
					break;
			}
			repl_cs_settings(&r);
			start = now_unix();
			r.state = "taking a point";
			repl_point(&r);
			r.next_point = start + a->conf.interval;
			if (!repl_pending(&r)) {
				/* Every disk failed; errors are logged. */
				if (r.once)
					break;
				continue;
			}
		}
		failed = resynced = 0;
		for (i = 0; i < r.nd && !repl_stop; i++) {
			if (r.d[i].cy == NULL)
				continue;
			drc = repl_disk_run(&r, &r.d[i]);
			if (drc == RR_RESYNC) {
				r.next_point = now_unix();
				resynced = 1;
			} else if (drc == RR_FAIL)
				failed = 1;
		}
		if (failed && r.once)
			break;
		if (!resynced && !repl_pending(&r))
			cycles++;
	}
	/* --once: every disk must have made its point. */
	for (i = 0; rc == AGENT_OK && i < r.nd; i++)
		if (r.d[i].error != NULL)
			rc = AGENT_FAIL;
	r.state = repl_stop ? "stopped" : rc == AGENT_OK ? "done" : "failed";
	for (i = 0; i < r.nd; i++)
		log_info("disk %s: sent this run %llu frames, %llu frame bytes "
		    "(%llu data), %llu bytes on the wire", r.d[i].path,
		    (unsigned long long)r.d[i].run.frames,
		    (unsigned long long)r.d[i].run.frame_bytes,
		    (unsigned long long)r.d[i].run.data_bytes,
		    (unsigned long long)r.d[i].run.tls_bytes);
	repl_status_write(&r);
	if (repl_stop) {
		log_info("stopping%s", repl_pending(&r) ? "; the unfinished "
		    "point resumes on the next start" : "");
		rc = AGENT_OK;
	}
	repl_free(&r);
	return rc;
}

/*
 * The heartbeat's per-disk replication state (docs/api.md "diskstate"),
 * from the last status a replicate process wrote; NULL if none ran.
 */
json_t *
replicate_report(const struct agent *a)
{
	json_t		*j, *o, *c, *arr, *d;
	const char	*state, *err, *st;
	char		*path;
	uint64_t	 tot, done;
	size_t		 i;

	path = agent_path(a, REPL_STATUS_FILE);
	j = json_load_file(path, 0, NULL);
	free(path);
	if (j == NULL)
		return NULL;
	arr = json_array();
	json_array_foreach(json_object_get(j, "disks"), i, o) {
		c = json_object_get(o, "cycle");
		st = repl_jstr(o, "state");
		err = repl_jstr(o, "error");
		if (err != NULL)
			state = "error";
		else if (repl_jstr(o, "resync") != NULL)
			state = "resyncing";
		else if (json_object_get(o, "last_point") == NULL ||
		    (st != NULL && strcmp(st, "initial sync") == 0))
			state = "initial-sync";
		else
			state = "protected";
		d = json_pack("{s:s, s:s, s:I}", "disk", repl_jstr(o, "path"),
		    "state", state, "bytes_sent", (json_int_t)repl_jint(
		    json_object_get(o, "total"), "frame_bytes"));
		if (c != NULL) {
			tot = repl_jint(c, "total_bytes");
			done = repl_jint(c, "done_bytes");
			json_object_set_new(d, "percent", json_integer(
			    (json_int_t)(tot ? done * 100 / tot : 100)));
			if (json_object_get(c, "eta") != NULL)
				json_object_set_new(d, "eta_s", json_integer(
				    (json_int_t)repl_jint(c, "eta")));
		} else
			json_object_set_new(d, "percent", json_integer(100));
		if (err != NULL)
			json_object_set_new(d, "error", json_string(err));
		json_array_append_new(arr, d);
	}
	json_decref(j);
	return arr;
}

/* haven-agent status. */

static void
repl_print_counters(FILE *f, const char *label, json_t *c)
{
	char	b1[32], b2[32], b3[32], b4[32];

	fprintf(f, "  %-20s %llu frames, %s of frames (%s data, %s as zero "
	    "runs), %s on the wire, %llu connections\n", label,
	    (unsigned long long)repl_jint(c, "frames"),
	    repl_bytes(repl_jint(c, "frame_bytes"), b1, sizeof(b1)),
	    repl_bytes(repl_jint(c, "data_bytes"), b2, sizeof(b2)),
	    repl_bytes(repl_jint(c, "zero_bytes"), b3, sizeof(b3)),
	    repl_bytes(repl_jint(c, "tls_bytes"), b4, sizeof(b4)),
	    (unsigned long long)repl_jint(c, "connections"));
}

void
replicate_status_print(const struct agent *a, FILE *f)
{
	json_t		*j, *o, *c, *lp;
	char		*path, day[32], b1[32], b2[32], b3[32];
	const char	*s;
	uint64_t	 tot, done;
	size_t		 i;
	pid_t		 pid;
	int		 alive;

	path = agent_path(a, REPL_STATUS_FILE);
	if ((j = json_load_file(path, 0, NULL)) == NULL) {
		fprintf(f, "%-22s never ran (start it with 'haven-agent "
		    "replicate')\n", "replication");
		free(path);
		return;
	}
	free(path);
	pid = (pid_t)repl_jint(j, "pid");
	alive = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
	fmt_time((int64_t)repl_jint(j, "updated"), day, sizeof(day));
	s = repl_jstr(j, "state");
	if (alive && s != NULL && (strcmp(s, "done") == 0 ||
	    strcmp(s, "stopped") == 0 || strcmp(s, "failed") == 0))
		alive = 0;	/* the pid was reused */
	if (alive)
		fprintf(f, "%-22s running (pid %d): %s; process server %s "
		    "(updated %s)\n", "replication", (int)pid, s ? s : "?",
		    repl_jstr(j, "ps") ? repl_jstr(j, "ps") : "?", day);
	else
		fprintf(f, "%-22s not running (last run: %s); process server "
		    "%s (updated %s)\n", "replication", s ? s : "?",
		    repl_jstr(j, "ps") ? repl_jstr(j, "ps") : "?", day);
	json_array_foreach(json_object_get(j, "disks"), i, o) {
		fprintf(f, "disk %s (%s)\n", repl_jstr(o, "path"),
		    repl_bytes(repl_jint(o, "size"), b1, sizeof(b1)));
		fprintf(f, "  %-20s %s\n", "stream id", repl_jstr(o, "id"));
		fprintf(f, "  %-20s %s\n", "snapshot provider",
		    repl_jstr(o, "provider_why"));
		c = json_object_get(o, "cycle");
		if (c != NULL) {
			tot = repl_jint(c, "total_bytes");
			done = repl_jint(c, "done_bytes");
			fprintf(f, "  %-20s %s of point %llu: %llu%% (%s of %s)"
			    ", %s/s", "state", alive ? repl_jstr(o, "state") :
			    "interrupted", (unsigned long long)repl_jint(c,
			    "point"), (unsigned long long)(tot ? done * 100 /
			    tot : 100), repl_bytes(done, b1, sizeof(b1)),
			    repl_bytes(tot, b2, sizeof(b2)),
			    repl_bytes(alive ? repl_jint(o, "rate") : 0, b3,
			    sizeof(b3)));
			if (alive && json_object_get(c, "eta") != NULL)
				fprintf(f, ", ETA %llus",
				    (unsigned long long)repl_jint(c, "eta"));
			fputc('\n', f);
			if (repl_jstr(c, "note") != NULL)
				fprintf(f, "  %-20s %s\n", "point note",
				    repl_jstr(c, "note"));
		} else
			fprintf(f, "  %-20s %s\n", "state", alive ?
			    repl_jstr(o, "state") : "idle");
		if ((lp = json_object_get(o, "last_point")) != NULL) {
			fmt_time((int64_t)repl_jint(lp, "time"), day,
			    sizeof(day));
			fprintf(f, "  %-20s %llu at %s, %s, %s, seq %llu\n",
			    "last point", (unsigned long long)repl_jint(lp,
			    "id"), day, repl_jstr(lp, "kind"),
			    json_is_true(json_object_get(lp, "consistent")) ?
			    "crash-consistent" : "NOT crash-consistent",
			    (unsigned long long)repl_jint(lp, "seq"));
		} else
			fprintf(f, "  %-20s none yet\n", "last point");
		if (repl_jstr(o, "resync") != NULL)
			fprintf(f, "  %-20s %s\n", "resync",
			    repl_jstr(o, "resync"));
		if (repl_jstr(o, "error") != NULL)
			fprintf(f, "  %-20s %s\n", "error", repl_jstr(o,
			    "error"));
		repl_print_counters(f, "sent (last run)",
		    json_object_get(o, "run"));
		repl_print_counters(f, "sent (all runs)",
		    json_object_get(o, "total"));
	}
	json_decref(j);
}
